// The life of one page's connection: connect, hello, open the camera and microphone once,
// negotiate media once, and when the socket or the media path dies, start over with backoff.
// Without `resume` (a later protocol feature) a reconnect is a new session: the page resets.

import { MadoguchiClient } from './client.js'
import { getLocalMedia, negotiate } from './media.js'

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000]

// Errors from hello or offer that another attempt may cure; anything else is reported to
// the page as fatal and stops the session.
const TRANSIENT = new Set(['disconnected', 'timeout', 'internal'])

export class Session {
	#opts
	#client = null
	#pc = null
	#stream = null
	#generation = 0 // bumps on every attempt, so stale callbacks of an old attempt do nothing
	#failures = 0
	#timer = null
	#stopped = false

	// opts:
	//   hello(): the fields of the hello request (without type and id)
	//   onClient(client): register event handlers before connecting (events may follow hello
	//     at once, before the media negotiation is over)
	//   onTrack(role, track, mid): a received track (see media.js negotiate)
	//   onReady({client, pc, mids, reply}): hello and negotiation done; reply is hello's reply
	//   onLost({delayMs}): the connection failed or dropped; another attempt follows in delayMs
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

	get stream() {
		return this.#stream
	}

	start() {
		this.#stopped = false
		this.#attempt()
	}

	stop() {
		this.#stopped = true
		this.#generation++
		clearTimeout(this.#timer)
		this.#teardown()
	}

	async #attempt() {
		const gen = ++this.#generation
		const client = new MadoguchiClient()
		this.#client = client
		this.#opts.onClient?.(client)
		client.on('close', () => {
			if (gen === this.#generation) this.#lost()
		})
		try {
			await client.connect()
			const reply = await client.request('hello', this.#opts.hello())
			if (!this.#stream) this.#stream = await openMedia()
			if (gen !== this.#generation) return
			const { pc, mids } = await negotiate(client, this.#stream, (...a) => {
				if (gen === this.#generation) this.#opts.onTrack?.(...a)
			})
			if (gen !== this.#generation) {
				pc.close()
				return
			}
			this.#pc = pc
			pc.addEventListener('connectionstatechange', () => {
				if (pc.connectionState === 'failed' && gen === this.#generation) this.#lost()
			})
			this.#failures = 0
			this.#opts.onReady?.({ client, pc, mids, reply })
		} catch (err) {
			if (gen !== this.#generation) return
			if (TRANSIENT.has(err.code)) {
				this.#lost()
				return
			}
			this.#generation++
			this.#teardown()
			this.#opts.onFatal?.(err)
		}
	}

	#lost() {
		if (this.#stopped) return
		this.#generation++
		this.#teardown()
		const base = BACKOFF_MS[Math.min(this.#failures, BACKOFF_MS.length - 1)]
		this.#failures++
		// Jitter spreads the reconnects of many kiosks after a server restart.
		const delayMs = Math.round(base * (0.8 + Math.random() * 0.4))
		this.#opts.onLost?.({ delayMs })
		clearTimeout(this.#timer)
		this.#timer = setTimeout(() => this.#attempt(), delayMs)
	}

	#teardown() {
		this.#pc?.close()
		this.#pc = null
		this.#client?.close()
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
