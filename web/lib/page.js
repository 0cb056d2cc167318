// What the kiosk, the desk and the coordinator pages share around their own logic: the
// screen switch (one <section id="screen-NAME"> shown at a time, the state published on
// <body data-state> for CSS and tests), the passing notice line, the error and "connection
// lost" screens, starting a Session that feeds received tracks to a RemoteMedia, and the
// window.madoguchi hooks the browser tests read.

import { setBilingual } from './i18n.js'
import { RemoteMedia } from './media.js'
import { Session } from './session.js'

const NOTICE_MS = 6000

export const $ = (sel) => document.querySelector(sel)

export function el(tag, className, text) {
	const e = document.createElement(tag)
	if (className) e.className = className
	if (text !== undefined) e.textContent = text
	return e
}

// Shows #screen-<screen> and hides the other screens named in `screens`.
export function showScreen(screens, screen, state) {
	for (const name of screens) $(`#screen-${name}`).hidden = name !== screen
	document.body.dataset.state = state
}

// The error screen: a title and a detail line, both bilingual. `show` is the page's own
// screen switch, which knows what else changes with the screen.
export function showError(show, titleKey, detailKey, params = {}) {
	setBilingual($('#error-title'), titleKey)
	setBilingual($('#error-detail'), detailKey, params)
	show('error')
}

// The connecting screen, saying the connection was lost and is being made again.
export function showLost(show) {
	setBilingual($('#connecting-text'), 'conn.lost')
	show('connecting', 'lost')
}

// One line of passing news that hides itself again; a newer notice replaces an older one.
export class Notice {
	#el
	#timer = null

	constructor(element) {
		this.#el = element
	}

	show(key, params = {}) {
		setBilingual(this.#el, key, params)
		this.#el.hidden = false
		clearTimeout(this.#timer)
		this.#timer = setTimeout(() => (this.#el.hidden = true), NOTICE_MS)
	}
}

// The received media in the elements every page names alike (#remote-video, #remote-audio,
// the document and slot tiles); `extra` adds page-specific RemoteMedia elements.
export function pageRemoteMedia(extra = {}) {
	return new RemoteMedia({
		mainVideo: $('#remote-video'),
		mainAudio: $('#remote-audio'),
		docVideo: $('#doc-video'),
		docTile: $('#doc-tile'),
		docLabel: $('#doc-label'),
		slotAudio: $('#slot-audio'),
		slotVideo: $('#slot-video'),
		slotTile: $('#slot-tile'),
		slotLabel: $('#slot-label'),
		...extra,
	})
}

// A Session (not started yet) whose received tracks go to `remote`; the other options are
// Session's.
// The page's display sizes go to the server (`view`) once the media is negotiated, when the
// server does simulcast (its hello reply says so).
export function newSession({ remote, ...opts }) {
	return new Session({
		...opts,
		onTrack: (role, track) => remote.attach(role, track),
		onReady: (ready) => {
			const result = opts.onReady?.(ready)
			if (ready.reply?.simulcast === true) remote?.reportViewTo?.(ready.client)
			return result
		},
	})
}

// Publishes window.madoguchi for the browser tests: what every page has (its session's
// client and PeerConnection, the page state and self, who is on screen), plus the page's own
// getters in `extra`. `session()` returns the page's current session, which changes.
export function exposeTestHooks({ session, page, remote }, extra = {}) {
	const hooks = {
		get client() {
			return session()?.client ?? null
		},
		get pc() {
			return session()?.pc ?? null
		},
		get state() {
			return page.state
		},
		get self() {
			return page.self
		},
		get mids() {
			return session()?.mids ?? null
		},
		// Counters for tests: offersSent, negotiationNeeded, resumes, sessions, pcs.
		get stats() {
			return session()?.stats ?? null
		},
		// Who feeds each received video now, as the server's slots events say.
		onScreen() {
			return remote.onScreen()
		},
		dropSocket() {
			session()?.dropSocket()
		},
		// Runs the session's media recovery (an ICE restart first); resolves {outcome, ms}.
		restartIce() {
			return session()?.restartIce() ?? Promise.resolve({ outcome: 'skipped', ms: 0 })
		},
	}
	Object.defineProperties(hooks, Object.getOwnPropertyDescriptors(extra))
	window.madoguchi = hooks
}
