// Staff mode on the kiosk: what branch staff standing by a kiosk need, out of residents' reach.
//
// The way in is a long press (LONG_PRESS_MS) on an invisible spot in the top right corner of
// the start screen, then the kiosk's PIN (set with `madoguchi admin kiosk pin`, checked by the
// server: kiosk_pin in docs/protocol.md). A tap or a short press there does nothing, and
// nothing shows that the spot exists. Staff mode offers the camera, microphone and speaker
// (switched without renegotiating: RTCRtpSender.replaceTrack for the sent tracks, setSinkId
// for what plays), the volume of the clerk's voice, a test sound, the server's self-test in
// plain words, and the way back to the menu, which is also taken by itself after IDLE_MS.
// The choices are kept in localStorage and applied again whenever the page starts.

import { setBilingual } from '../lib/i18n.js'
import { $ } from '../lib/page.js'
import { healthLines, renderHealth, requestSelftest } from './check.js'

export const LONG_PRESS_MS = 3000
const IDLE_MS = 120000 // staff mode closes by itself after this long untouched
const PIN_IDLE_MS = 30000 // ... and the PIN pad (perhaps opened by a resident's long touch)
const PIN_MAX = 8
const SETTINGS_KEY = 'madoguchi.kiosk.staff'
const TEST_TONE_HZ = 660
const TEST_TONE_S = 1.2

// The saved settings: {camera, mic, speaker (device ids), volume (0..1)}.
export function loadSettings() {
	try {
		const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}')
		return typeof s === 'object' && s !== null ? s : {}
	} catch {
		return {}
	}
}

function saveSettings(s) {
	localStorage.setItem(SETTINGS_KEY, JSON.stringify(s))
}

// A short sine beep as a WAV file, so that it plays through an <audio> element whose output
// device (setSinkId) and volume are those of the clerk's voice.
function testToneUrl() {
	const rate = 24000
	const n = Math.round(rate * TEST_TONE_S)
	const buf = new ArrayBuffer(44 + n * 2)
	const v = new DataView(buf)
	const text = (at, s) => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)))
	text(0, 'RIFF')
	v.setUint32(4, 36 + n * 2, true)
	text(8, 'WAVEfmt ')
	v.setUint32(16, 16, true)
	v.setUint16(20, 1, true) // PCM
	v.setUint16(22, 1, true) // mono
	v.setUint32(24, rate, true)
	v.setUint32(28, rate * 2, true)
	v.setUint16(32, 2, true)
	v.setUint16(34, 16, true)
	text(36, 'data')
	v.setUint32(40, n * 2, true)
	for (let i = 0; i < n; i++) {
		const fade = Math.min(1, i / 800, (n - i) / 800)
		v.setInt16(44 + i * 2, Math.round(Math.sin((2 * Math.PI * TEST_TONE_HZ * i) / rate) * 12000 * fade), true)
	}
	return URL.createObjectURL(new Blob([buf], { type: 'audio/wav' }))
}

export class KioskStaff {
	#opts
	#ui
	#pin = ''
	#pressTimer = null
	#idleTimer = null
	#settings = loadSettings()
	#toneUrl = null
	#busy = false
	// For tests (window.madoguchi.staff): what staff mode did last.
	info = { opened: 0, pinRefused: 0, lastPinError: null, testSounds: 0, switched: [], selftest: null }

	// opts:
	//   session(): the page's Session (client, pc, mids, stream)
	//   show(screen): the page's screen switch ('pin', 'staff')
	//   canOpen(): whether the long press may open the PIN pad now (the start screen)
	//   close(): back to the menu
	//   audio: the <audio> elements that play received audio (their volume and output)
	//   clerkVolume(): the clerk's own volume request (control), multiplied with staff's
	constructor(opts) {
		this.#opts = opts
		this.#ui = {
			corner: $('#staff-corner'),
			pinDots: $('#pin-dots'),
			pinMessage: $('#pin-message'),
			pinPad: $('#pin-pad'),
			camera: $('#staff-camera'),
			mic: $('#staff-mic'),
			speaker: $('#staff-speaker'),
			volume: $('#staff-volume'),
			volumeValue: $('#staff-volume-value'),
			message: $('#staff-message'),
			health: $('#staff-health'),
			healthNote: $('#staff-health-note'),
			tone: $('#test-sound'),
		}
		this.#bindCorner()
		this.#bindPin()
		this.#bindPanel()
	}

	get volume() {
		const v = Number(this.#settings.volume)
		return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 1
	}

	// The volume every received audio element plays at: staff's setting times the clerk's.
	applyVolume() {
		const v = this.volume * (this.#opts.clerkVolume?.() ?? 1)
		for (const el of this.#opts.audio) el.volume = v
		this.#ui.tone.volume = this.volume
	}

	// Applies the saved devices and speaker to a fresh session (after its negotiation).
	async applySaved() {
		this.applyVolume()
		if (this.#settings.speaker) await this.#setSpeaker(this.#settings.speaker).catch(() => {})
		for (const kind of ['mic', 'camera']) {
			const id = this.#settings[kind]
			if (id && id !== this.#currentDevice(kind)) await this.#switchDevice(kind, id).catch(() => {})
		}
	}

	// ---- the way in -------------------------------------------------------------------

	#bindCorner() {
		const corner = this.#ui.corner
		const cancel = () => {
			clearTimeout(this.#pressTimer)
			this.#pressTimer = null
		}
		corner.addEventListener('pointerdown', (ev) => {
			cancel()
			if (!this.#opts.canOpen()) return
			corner.setPointerCapture?.(ev.pointerId)
			this.#pressTimer = setTimeout(() => {
				this.#pressTimer = null
				if (this.#opts.canOpen()) this.#openPin()
			}, LONG_PRESS_MS)
		})
		for (const type of ['pointerup', 'pointercancel', 'pointerleave', 'lostpointercapture']) {
			corner.addEventListener(type, cancel)
		}
		corner.addEventListener('contextmenu', (ev) => ev.preventDefault())
	}

	#openPin() {
		this.#pin = ''
		this.#renderPin()
		this.#ui.pinMessage.replaceChildren()
		this.#opts.show('pin')
		this.#touch(PIN_IDLE_MS)
	}

	// ---- the PIN pad -------------------------------------------------------------------

	#bindPin() {
		this.#ui.pinPad.addEventListener('click', (ev) => {
			const b = ev.target.closest('button')
			if (!b || b.disabled) return
			this.#touch(PIN_IDLE_MS)
			if (b.dataset.digit !== undefined) {
				if (this.#pin.length < PIN_MAX) this.#pin += b.dataset.digit
				this.#renderPin()
			} else if (b.dataset.pin === 'clear') {
				this.#pin = ''
				this.#renderPin()
			} else if (b.dataset.pin === 'ok') {
				this.#submitPin()
			}
		})
		$('#screen-pin button[data-pin="cancel"]').addEventListener('click', () => this.close())
	}

	#renderPin() {
		this.#ui.pinDots.textContent = '●'.repeat(this.#pin.length) || '\u00a0'
		this.#ui.pinDots.dataset.length = String(this.#pin.length)
	}

	async #submitPin() {
		if (this.#busy || this.#pin.length === 0) return
		const pin = this.#pin
		this.#pin = ''
		this.#renderPin()
		this.#busy = true
		try {
			await this.#opts.session().client.request('kiosk_pin', { pin })
			this.info.opened++
			this.info.lastPinError = null
			await this.#openPanel()
		} catch (err) {
			this.info.pinRefused++
			this.info.lastPinError = err.code ?? 'error'
			if (err.code === 'forbidden') setBilingual(this.#ui.pinMessage, 'kiosk.pin.wrong')
			else if (err.code === 'too_many') setBilingual(this.#ui.pinMessage, 'kiosk.pin.too_many')
			else setBilingual(this.#ui.pinMessage, 'kiosk.pin.failed', { detail: err.code ?? err.message })
		} finally {
			this.#busy = false
		}
	}

	// ---- the panel ---------------------------------------------------------------------

	#bindPanel() {
		const panel = $('#screen-staff')
		for (const type of ['pointerdown', 'input', 'change', 'keydown']) {
			panel.addEventListener(type, () => this.#touch())
		}
		this.#ui.camera.addEventListener('change', () => this.#pick('camera', this.#ui.camera.value))
		this.#ui.mic.addEventListener('change', () => this.#pick('mic', this.#ui.mic.value))
		this.#ui.speaker.addEventListener('change', () => this.#pick('speaker', this.#ui.speaker.value))
		this.#ui.volume.addEventListener('input', () => {
			this.#settings.volume = Number(this.#ui.volume.value) / 100
			saveSettings(this.#settings)
			this.#ui.volumeValue.textContent = `${this.#ui.volume.value}`
			this.applyVolume()
		})
		panel.querySelector('[data-staff="test-sound"]').addEventListener('click', () => this.playTestSound())
		panel.querySelector('[data-staff="selftest"]').addEventListener('click', () => this.runSelftest())
		panel.querySelector('[data-staff="close"]').addEventListener('click', () => this.close())
	}

	async #openPanel() {
		this.#ui.message.replaceChildren()
		this.#ui.health.replaceChildren()
		this.#ui.healthNote.replaceChildren()
		this.#ui.volume.value = String(Math.round(this.volume * 100))
		this.#ui.volumeValue.textContent = this.#ui.volume.value
		this.#opts.show('staff')
		await this.#fillDevices()
		this.#touch()
	}

	async #fillDevices() {
		let devices = []
		try {
			devices = await navigator.mediaDevices.enumerateDevices()
		} catch {
			// Without the list the selects stay empty; nothing else depends on it.
		}
		const fill = (select, kind, current, defaultKey) => {
			const options = devices
				.filter((d) => d.kind === kind)
				.map((d, i) => {
					const o = document.createElement('option')
					o.value = d.deviceId
					o.textContent = d.label || `${kind} ${i + 1}`
					return o
				})
			if (defaultKey) {
				const o = document.createElement('option')
				o.value = ''
				o.textContent = this.#defaultLabel(defaultKey)
				options.unshift(o)
			}
			select.replaceChildren(...options)
			if (current !== undefined && [...select.options].some((o) => o.value === current)) select.value = current
		}
		fill(this.#ui.camera, 'videoinput', this.#currentDevice('camera'))
		fill(this.#ui.mic, 'audioinput', this.#currentDevice('mic'))
		fill(this.#ui.speaker, 'audiooutput', this.#settings.speaker ?? '', 'kiosk.staff.speaker_default')
		this.#ui.speaker.disabled = typeof HTMLMediaElement.prototype.setSinkId !== 'function'
	}

	#defaultLabel(key) {
		const el = document.createElement('span')
		setBilingual(el, key)
		return el.querySelector('.ja').textContent
	}

	#currentDevice(kind) {
		const stream = this.#opts.session()?.stream
		const track = kind === 'camera' ? stream?.getVideoTracks()[0] : stream?.getAudioTracks()[0]
		return track?.getSettings?.().deviceId
	}

	async #pick(kind, id) {
		this.#ui.message.replaceChildren()
		try {
			if (kind === 'speaker') await this.#setSpeaker(id)
			else await this.#switchDevice(kind, id)
			this.#settings[kind] = id
			saveSettings(this.#settings)
			this.info.switched.push({ kind, id })
		} catch (err) {
			setBilingual(this.#ui.message, 'kiosk.staff.switch_failed', { detail: err.name || err.message })
		}
	}

	async #setSpeaker(id) {
		const els = [...this.#opts.audio, this.#ui.tone]
		if (typeof els[0].setSinkId !== 'function') throw new Error('setSinkId unsupported')
		await Promise.all(els.map((el) => el.setSinkId(id)))
	}

	// Opens the chosen device and puts its track on the negotiated sender in place of the
	// old one: the server sees the same SSRC go on, nothing is renegotiated.
	async #switchDevice(kind, id) {
		const session = this.#opts.session()
		const stream = session?.stream
		const mid = kind === 'camera' ? session?.mids?.camera : session?.mids?.mic
		const pc = session?.pc
		const transceiver = pc?.getTransceivers().find((t) => t.mid === mid)
		if (!stream || !transceiver) throw new Error('no connection')
		const constraints =
			kind === 'camera'
				? { video: { deviceId: { exact: id }, width: 640, height: 480 } }
				: { audio: { deviceId: { exact: id } } }
		const fresh = await navigator.mediaDevices.getUserMedia(constraints)
		const track = kind === 'camera' ? fresh.getVideoTracks()[0] : fresh.getAudioTracks()[0]
		const old = kind === 'camera' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0]
		if (old) track.enabled = old.enabled // a microphone muted by the clerk stays muted
		await transceiver.sender.replaceTrack(track)
		if (old) {
			stream.removeTrack(old)
			old.stop()
		}
		stream.addTrack(track)
		this.#opts.onStreamChanged?.()
	}

	async playTestSound() {
		this.#toneUrl ??= testToneUrl()
		const el = this.#ui.tone
		el.src = this.#toneUrl
		el.volume = this.volume
		el.currentTime = 0
		try {
			await el.play()
			this.info.testSounds++
		} catch (err) {
			setBilingual(this.#ui.message, 'kiosk.staff.switch_failed', { detail: err.name || err.message })
		}
	}

	async runSelftest() {
		const button = $('[data-staff="selftest"]')
		button.disabled = true
		this.#ui.health.replaceChildren()
		setBilingual(this.#ui.healthNote, 'kiosk.staff.selftest_running')
		const session = this.#opts.session()
		const r = await requestSelftest(session.client, 8000)
		button.disabled = false
		this.info.selftest = r
		this.#opts.onSelftest?.(r)
		if (r.status === 'done') {
			this.#ui.healthNote.replaceChildren()
			renderHealth(this.#ui.health, healthLines(r.health, session.pc?.connectionState))
		} else if (r.status === 'unsupported') {
			setBilingual(this.#ui.healthNote, 'kiosk.check.unsupported')
		} else {
			setBilingual(this.#ui.healthNote, 'kiosk.pin.failed', { detail: r.code })
		}
		this.#touch()
	}

	// ---- leaving -----------------------------------------------------------------------

	// Any use of the pad or the panel keeps it open for another ms.
	#touch(ms = IDLE_MS) {
		clearTimeout(this.#idleTimer)
		this.#idleTimer = setTimeout(() => this.close(), ms)
	}

	close() {
		clearTimeout(this.#idleTimer)
		this.#idleTimer = null
		this.#pin = ''
		this.#ui.tone.pause()
		this.#opts.close()
	}

	// Whether the PIN pad or the panel is up (the page's state says which).
	cancelTimers() {
		clearTimeout(this.#idleTimer)
		clearTimeout(this.#pressTimer)
		this.#idleTimer = this.#pressTimer = null
	}
}
