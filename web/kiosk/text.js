// 筆談 on the kiosk (docs/protocol.md, "Text in the call"): the clerk's latest text, large and
// white on black over the picture until the next one, announced by a soft chime; and three
// canned replies as large buttons, which appear with the first text of a call (a resident
// who can hear never needs them, and they would only cover the picture).
//
// Also the clerk's marks over the shared document (web/lib/marks.js): the kiosk only shows
// them.

import { MarkLayer } from '../lib/marks.js'

// Rising, quieter and shorter than the desk's ring: "something to read", not "answer me".
const NOTES_HZ = [660, 880]
const NOTE_S = 0.3
const VOLUME = 0.06

export class KioskText {
	#client
	#ui
	#ctx = null
	#visit = null
	#marks
	info = { received: 0, sent: 0, chimes: 0, lastError: null }

	// ui: {screen (the call screen), area (holds panel and replies), panel, latest, from,
	// replies (container of button[data-reply]), docVideo, docTile}. client() returns the
	// current protocol client.
	constructor({ client, ui }) {
		this.#client = client
		this.#ui = ui
		this.#marks = new MarkLayer(ui.docVideo, ui.docTile, { className: 'marks' })
		// A shared document must not disappear under the text: the call screen learns how
		// tall the text area is (--text-area-h), and its CSS lifts the document above it.
		new ResizeObserver(() => {
			const h = ui.area.getBoundingClientRect().height
			ui.screen.style.setProperty('--text-area-h', `${h > 0 ? Math.ceil(h) + 12 : 0}px`)
		}).observe(ui.area)
		for (const b of ui.replies.querySelectorAll('button[data-reply]')) {
			b.addEventListener('click', () => this.reply(b.dataset.reply, b))
		}
		this.reset()
	}

	get marks() {
		return this.#marks
	}

	// From a user gesture (the tap that places the call): WebAudio may start after one only.
	unlock() {
		if (!this.#ctx && window.AudioContext) this.#ctx = new AudioContext()
		if (this.#ctx?.state === 'suspended') this.#ctx.resume().catch(() => {})
	}

	// A new call or the end of one: nothing of the last resident's conversation stays.
	reset(visit = null) {
		this.#visit = visit
		this.#ui.latest.textContent = ''
		this.#ui.from.textContent = ''
		this.#ui.panel.hidden = true
		this.#ui.replies.hidden = true
		this.#marks.shapes = []
	}

	// The `text` event: shows it in place of the previous one.
	onText(ev, { selfId, label }) {
		if (!ev || typeof ev.text !== 'string') return
		if (this.#visit && ev.visit !== this.#visit) return
		this.#visit = ev.visit
		this.info.received++
		const mine = ev.from?.id === selfId
		this.#ui.panel.dataset.from = mine ? 'self' : 'clerk'
		this.#ui.from.textContent = mine ? 'あなた / You' : label(ev.from)
		this.#ui.latest.textContent = ev.text
		this.#ui.panel.hidden = false
		this.#ui.replies.hidden = false
		if (!mine) this.#chime()
	}

	// The `annotate` event: the complete set of marks now.
	onAnnotate(ev) {
		if (!ev || !Array.isArray(ev.shapes)) return
		if (this.#visit && ev.visit !== this.#visit) return
		this.#marks.shapes = ev.shapes
	}

	async reply(text, button) {
		if (!this.#visit) return
		button.disabled = true
		try {
			await this.#client().request('text', { visit: this.#visit, text })
			this.info.sent++
		} catch (err) {
			this.info.lastError = err.code ?? String(err)
		} finally {
			// A short pause against double taps.
			setTimeout(() => (button.disabled = false), 600)
		}
	}

	#chime() {
		const ctx = this.#ctx
		if (!ctx || ctx.state !== 'running') return
		this.info.chimes++
		NOTES_HZ.forEach((hz, i) => {
			const start = ctx.currentTime + i * NOTE_S * 0.8
			const osc = ctx.createOscillator()
			const gain = ctx.createGain()
			osc.type = 'sine'
			osc.frequency.value = hz
			gain.gain.setValueAtTime(0.0001, start)
			gain.gain.exponentialRampToValueAtTime(VOLUME, start + 0.03)
			gain.gain.exponentialRampToValueAtTime(0.0001, start + NOTE_S)
			osc.connect(gain).connect(ctx.destination)
			osc.start(start)
			osc.stop(start + NOTE_S + 0.05)
		})
	}
}
