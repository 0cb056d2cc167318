// 筆談 on the desk (docs/protocol.md, "Text in the call"): a text box (Enter sends, Shift+Enter
// starts a new line; Enter that confirms an IME conversion does not send) and the history of
// the leg, the clerk's own texts included as the server echoes them. The history lives in the
// page only and is cleared when the leg ends: nothing of it is stored anywhere.

import { setBilingual } from '../lib/i18n.js'
import { el } from '../lib/page.js'

const MAX_CHARS = 500 // Unicode characters, as the server counts them
const HISTORY_MAX = 50

export class DeskText {
	#client
	#ui
	#visit = null
	#selfId
	#label
	info = { sent: 0, received: 0, lastError: null }

	// ui: {section, history (ol), form, input (textarea), error, count}. client() returns the
	// protocol client, selfId() this desk's party id, label(party) a party's name.
	constructor({ client, selfId, label, ui }) {
		this.#client = client
		this.#selfId = selfId
		this.#label = label
		this.#ui = ui
		ui.form.addEventListener('submit', (ev) => {
			ev.preventDefault()
			this.send()
		})
		ui.input.addEventListener('keydown', (ev) => {
			// keyCode 229: a key pressed while an IME composes (Chromium on some platforms).
			if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return
			ev.preventDefault()
			this.send()
		})
		ui.input.addEventListener('input', () => this.#renderCount())
		this.stop()
	}

	// A leg starts (accept): an empty history.
	start(visit) {
		if (this.#visit === visit) return
		this.#visit = visit
		this.#ui.history.replaceChildren()
		this.#ui.input.value = ''
		this.#ui.error.hidden = true
		this.#ui.section.hidden = false
		this.#renderCount()
	}

	// The leg ended: the history goes.
	stop() {
		this.#visit = null
		this.#ui.history.replaceChildren()
		this.#ui.input.value = ''
		this.#ui.error.hidden = true
		this.#ui.section.hidden = true
	}

	onText(ev) {
		if (!ev || ev.visit !== this.#visit || typeof ev.text !== 'string') return
		this.info.received++
		const mine = ev.from?.id === this.#selfId()
		const li = el('li', 'text-entry')
		li.dataset.from = mine ? 'self' : ev.from?.role ?? 'other'
		const head = el('div', 'text-head')
		head.append(el('span', 'text-who', mine ? '自分' : this.#label(ev.from)))
		const at = new Date(ev.at)
		const time = el('time', 'text-time', Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString('ja-JP', { hour: '2-digit', minute: '2-digit' }))
		if (!Number.isNaN(at.getTime())) time.dateTime = ev.at
		head.append(time)
		li.append(head, el('p', 'text-body', ev.text))
		const list = this.#ui.history
		list.append(li)
		while (list.children.length > HISTORY_MAX) list.firstElementChild.remove()
		list.scrollTop = list.scrollHeight
	}

	async send() {
		const text = this.#ui.input.value
		if (!this.#visit || text.trim() === '') return
		if ([...text].length > MAX_CHARS) {
			this.#error('desk.text.too_long', { n: MAX_CHARS })
			return
		}
		const input = this.#ui.input
		input.readOnly = true
		try {
			await this.#client().request('text', { visit: this.#visit, text })
			this.info.sent++
			this.#ui.error.hidden = true
			input.value = ''
			this.#renderCount()
		} catch (err) {
			this.info.lastError = err.code ?? String(err)
			if (err.code === 'too_many') this.#error('desk.text.too_many')
			else this.#error('desk.text.failed', { detail: err.code || err.message })
		} finally {
			input.readOnly = false
			input.focus()
		}
	}

	#error(key, params) {
		setBilingual(this.#ui.error, key, params)
		this.#ui.error.hidden = false
	}

	#renderCount() {
		const n = [...this.#ui.input.value].length
		this.#ui.count.textContent = `${n} / ${MAX_CHARS}`
		this.#ui.count.dataset.over = String(n > MAX_CHARS)
	}
}
