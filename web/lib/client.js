// The signalling client: one WebSocket to /ws, JSON requests with ids, events without.
// See shared/PROTOCOL.md (later docs/protocol.md) for the messages themselves.

const REQUEST_TIMEOUT_MS = 15000

// The error a request rejects with: .code is the protocol's error code ('unauthorized',
// 'conflict', ...) or one of our own: 'disconnected' (the socket is not open or closed
// before the reply came) and 'timeout' (no reply in time).
export class ProtocolError extends Error {
	constructor(code, message) {
		super(message || code)
		this.name = 'ProtocolError'
		this.code = code
	}
}

export function defaultUrl() {
	const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
	return `${scheme}://${location.host}/ws`
}

export class MadoguchiClient {
	#url
	#ws = null
	#nextId = 0
	#pending = new Map() // id -> {resolve, reject, timer}
	#handlers = new Map() // event type -> Set of handlers
	#sent = new Map() // request type -> how many were sent, for tests and diagnostics

	constructor(url = defaultUrl()) {
		this.#url = url
	}

	get isOpen() {
		return this.#ws !== null && this.#ws.readyState === WebSocket.OPEN
	}

	// Opens the socket. Resolves once it is open; rejects with a ProtocolError
	// ('disconnected') if it closes first. Afterwards a close is reported as the
	// synthetic event 'close' {code, reason}.
	connect() {
		return new Promise((resolve, reject) => {
			let opened = false
			const ws = new WebSocket(this.#url)
			this.#ws = ws
			ws.onopen = () => {
				opened = true
				resolve()
			}
			ws.onmessage = (ev) => this.#receive(ev.data)
			ws.onclose = (ev) => {
				if (this.#ws === ws) this.#ws = null
				this.#failPending()
				if (!opened) {
					reject(new ProtocolError('disconnected', 'could not connect'))
					return
				}
				this.#emit('close', { type: 'close', code: ev.code, reason: ev.reason })
			}
			// A failed socket always fires close right after error; close does the work.
			ws.onerror = () => {}
		})
	}

	// Sends a request and resolves with the whole ok reply, or rejects with a ProtocolError.
	request(type, fields = {}) {
		if (!this.isOpen) return Promise.reject(new ProtocolError('disconnected', 'not connected'))
		const id = ++this.#nextId
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id)
				reject(new ProtocolError('timeout', `no reply to ${type}`))
			}, REQUEST_TIMEOUT_MS)
			this.#pending.set(id, { resolve, reject, timer })
			this.#sent.set(type, (this.#sent.get(type) ?? 0) + 1)
			this.#ws.send(JSON.stringify({ ...fields, type, id }))
		})
	}

	// Registers handler for events of the given type ('*' receives every event).
	// Returns a function that unregisters it.
	on(type, handler) {
		if (!this.#handlers.has(type)) this.#handlers.set(type, new Set())
		this.#handlers.get(type).add(handler)
		return () => this.#handlers.get(type)?.delete(handler)
	}

	// How many requests of this type this client has sent.
	sentCount(type) {
		return this.#sent.get(type) ?? 0
	}

	close() {
		if (this.#ws) this.#ws.close(1000, 'bye')
	}

	// Closes the socket as a network fault would end it, without saying goodbye: the session
	// treats it as a drop and resumes. Used by tests (window.madoguchi.dropSocket()).
	drop() {
		if (this.#ws) this.#ws.close(4000, 'dropped')
	}

	#receive(data) {
		let msg
		try {
			msg = JSON.parse(data)
		} catch {
			console.warn('madoguchi: ignoring a frame that is not JSON')
			return
		}
		if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') return
		if ((msg.type === 'ok' || msg.type === 'error') && this.#pending.has(msg.id)) {
			const { resolve, reject, timer } = this.#pending.get(msg.id)
			this.#pending.delete(msg.id)
			clearTimeout(timer)
			if (msg.type === 'ok') resolve(msg)
			else reject(new ProtocolError(msg.code || 'internal', msg.message))
			return
		}
		this.#emit(msg.type, msg)
	}

	#emit(type, msg) {
		for (const key of [type, '*']) {
			for (const handler of this.#handlers.get(key) ?? []) {
				try {
					handler(msg)
				} catch (err) {
					console.error(`madoguchi: handler for ${type} failed`, err)
				}
			}
		}
	}

	#failPending() {
		for (const { reject, timer } of this.#pending.values()) {
			clearTimeout(timer)
			reject(new ProtocolError('disconnected', 'connection closed'))
		}
		this.#pending.clear()
	}
}
