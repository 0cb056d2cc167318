// The life of one page's connection: connect, hello, open the camera and microphone once,
// negotiate media once. When the socket drops, reconnect and say hello {resume} first: the
// server keeps the session, its visit, its queue place and its media wiring for 30 s, and the
// media never went through the socket, so a PeerConnection that is still connected is kept
// as it is (no new offer). Only when resuming fails (too late, server restarted) does the
// page get a new session, with a new PeerConnection.

import { MadoguchiClient } from './client.js'
import { getLocalMedia, negotiate } from './media.js'

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000]
// Resuming is worth trying quickly and often: the server forgets the session after 30 s.
const RESUME_DELAYS_MS = [200, 1000, 2000, 3000, 5000]
const RESUME_WINDOW_MS = 28000

// Errors from hello or offer that another attempt may cure; anything else is reported to
// the page as fatal and stops the session.
const TRANSIENT = new Set(['disconnected', 'timeout', 'internal'])

export class Session {
	#opts
	#client = null
	#pc = null
	#mids = null
	#stream = null
	#generation = 0 // bumps on every attempt, so stale callbacks of an old attempt do nothing
	#failures = 0
	#timer = null
	#stopped = false
	#resumeToken = null // from the last hello reply
	#droppedAt = null // performance.now() of the drop we are resuming from, else null
	// Counters the tests read through window.madoguchi.stats: offers sent, negotiationneeded
	// events after the first negotiation, resumed and fresh sessions, PeerConnections made.
	#stats = { offersSent: 0, negotiationNeeded: 0, resumes: 0, sessions: 0, pcs: 0 }

	// opts:
	//   hello(): the fields of a fresh hello request (without type and id)
	//   onClient(client): register event handlers before connecting (events may follow hello
	//     at once, before the media negotiation is over)
	//   onTrack(role, track, mid): a received track (see media.js negotiate)
	//   onReady({client, pc, mids, reply, resumed}): hello (and, unless a resumed session
	//     kept its PeerConnection, negotiation) done. resumed is true when the server kept
	//     the session: the page keeps its state. Otherwise the page starts afresh.
	//   onMedia({pc, mids}): a new PeerConnection replaced a failed one in the same session
	//   onLost({delayMs, resuming}): the connection dropped; another attempt follows in
	//     delayMs. While resuming the page may keep showing what it showed.
	//   onFatal(err): no retry; err.code is the protocol code, or 'media' when the camera or
	//     microphone could not be opened
	constructor(opts) {
		this.#opts = opts
	}

	get client() {
		return this.#client
	}

	get pc() {
		return this.#pc
	}

	get mids() {
		return this.#mids
	}

	get stream() {
		return this.#stream
	}

	get stats() {
		return { ...this.#stats }
	}

	start() {
		this.#stopped = false
		this.#attempt()
	}

	stop() {
		this.#stopped = true
		this.#generation++
		clearTimeout(this.#timer)
		this.#closePc()
		this.#client?.close()
	}

	// Ends the socket as a network fault would; the session resumes. For tests.
	dropSocket() {
		this.#client?.drop()
	}

	#resuming() {
		return (
			this.#resumeToken !== null &&
			this.#droppedAt !== null &&
			performance.now() - this.#droppedAt < RESUME_WINDOW_MS
		)
	}

	async #attempt() {
		const gen = ++this.#generation
		const client = new MadoguchiClient()
		this.#client = client
		this.#opts.onClient?.(client)
		client.on('close', () => {
			if (gen === this.#generation) this.#dropped()
		})
		try {
			await client.connect()
			let reply = null
			if (this.#resuming()) reply = await this.#tryResume(client, gen)
			if (gen !== this.#generation) return
			const resumed = reply !== null
			if (!resumed) reply = await client.request('hello', this.#opts.hello())
			if (gen !== this.#generation) return
			this.#resumeToken = reply.resume ?? null
			this.#droppedAt = null
			if (!this.#stream) this.#stream = await openMedia()
			if (gen !== this.#generation) return
			const usable = this.#pc && !['failed', 'closed'].includes(this.#pc.connectionState)
			if (!resumed || !usable) await this.#negotiate(client, gen)
			if (gen !== this.#generation) return
			this.#failures = 0
			this.#stats[resumed ? 'resumes' : 'sessions']++
			this.#opts.onReady?.({ client, pc: this.#pc, mids: this.#mids, reply, resumed })
		} catch (err) {
			if (gen !== this.#generation) return
			if (TRANSIENT.has(err.code)) {
				this.#dropped()
				return
			}
			this.#generation++
			this.#closePc()
			client.close()
			this.#opts.onFatal?.(err)
		}
	}

	// Resolves hello's reply when the server kept the session, or null when it did not: then
	// this socket is closed (a second hello on one connection is refused) and the session
	// starts afresh on a new one, which is what a stale PeerConnection must not outlive.
	async #tryResume(client, gen) {
		try {
			return await client.request('hello', { resume: this.#resumeToken })
		} catch (err) {
			if (TRANSIENT.has(err.code)) throw err
			if (gen !== this.#generation) return null
			this.#resumeToken = null
			this.#droppedAt = null
			this.#closePc()
			this.#generation++
			client.close()
			this.#opts.onLost?.({ delayMs: 0, resuming: false })
			this.#attempt()
			return null
		}
	}

	async #negotiate(client, gen) {
		const before = client.sentCount('offer')
		let result
		try {
			result = await negotiate(client, this.#stream, (...a) => {
				if (gen === this.#generation) this.#opts.onTrack?.(...a)
			})
		} finally {
			this.#stats.offersSent += client.sentCount('offer') - before
		}
		const { pc, mids } = result
		if (gen !== this.#generation) {
			pc.close()
			return
		}
		this.#closePc()
		this.#pc = pc
		this.#mids = mids
		this.#stats.pcs++
		// Every later need to negotiate would be a bug: calls never renegotiate.
		pc.addEventListener('negotiationneeded', () => this.#stats.negotiationNeeded++)
		pc.addEventListener('connectionstatechange', () => {
			if (pc === this.#pc && pc.connectionState === 'failed') this.#mediaFailed(pc)
		})
	}

	// The media path died while the socket may still be fine: a new PeerConnection and a new
	// offer in the same session (the server keeps the wiring). If the socket is down too, the
	// drop handling does this after resuming.
	async #mediaFailed(pc) {
		const client = this.#client
		if (!client?.isOpen || this.#droppedAt !== null) return
		const gen = this.#generation
		try {
			await this.#negotiate(client, gen)
			if (gen === this.#generation && this.#pc !== pc) this.#opts.onMedia?.({ pc: this.#pc, mids: this.#mids })
		} catch {
			if (gen === this.#generation) client.drop()
		}
	}

	#dropped() {
		if (this.#stopped) return
		this.#generation++
		this.#client?.close()
		if (this.#resumeToken !== null && this.#droppedAt === null) this.#droppedAt = performance.now()
		const resuming = this.#resuming()
		let delayMs
		if (resuming) {
			delayMs = RESUME_DELAYS_MS[Math.min(this.#failures, RESUME_DELAYS_MS.length - 1)]
		} else {
			// Too late to resume: whatever the PeerConnection carries belongs to a dead session.
			this.#droppedAt = null
			this.#resumeToken = null
			this.#closePc()
			const base = BACKOFF_MS[Math.min(this.#failures, BACKOFF_MS.length - 1)]
			// Jitter spreads the reconnects of many kiosks after a server restart.
			delayMs = Math.round(base * (0.8 + Math.random() * 0.4))
		}
		this.#failures++
		this.#opts.onLost?.({ delayMs, resuming })
		clearTimeout(this.#timer)
		this.#timer = setTimeout(() => this.#attempt(), delayMs)
	}

	#closePc() {
		this.#pc?.close()
		this.#pc = null
	}
}

async function openMedia() {
	try {
		return await getLocalMedia()
	} catch (err) {
		const e = new Error(`${err.name || 'Error'}: ${err.message}`)
		e.code = 'media'
		throw e
	}
}
