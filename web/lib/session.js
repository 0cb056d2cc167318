// The life of one page's connection: connect, hello, open the camera and microphone once,
// negotiate media once. When the socket drops, reconnect and say hello {resume} first: the
// server keeps the session, its visit, its queue place and its media wiring for 30 s, and the
// media never went through the socket, so a PeerConnection that is still connected is kept
// as it is (no new offer). Only when resuming fails (too late, server restarted) does the
// page get a new session, with a new PeerConnection.
//
// When the media path dies while the socket is fine (the PeerConnection fails, or stays
// disconnected), the page first tries an ICE restart on the same PeerConnection: the server
// recognises it (same certificate, same m-lines) and keeps DTLS, SRTP and the wiring, so only
// the ICE checks start over. A new PeerConnection, which costs a DTLS handshake and a
// keyframe, is the fallback when the restart does not bring the connection back.

import { MadoguchiClient } from './client.js'
import { getLocalMedia, negotiate, restartIce } from './media.js'

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000]
// Resuming is worth trying quickly and often: the server forgets the session after 30 s.
const RESUME_DELAYS_MS = [200, 1000, 2000, 3000, 5000]
const RESUME_WINDOW_MS = 28000

// Errors from hello or offer that another attempt may cure; anything else is reported to
// the page as fatal and stops the session.
const TRANSIENT = new Set(['disconnected', 'timeout', 'internal'])
// WebSocket close codes after which the session must not come back (PROTOCOL.md, limits).
const FINAL_CLOSE = { 4001: 'replaced', 4003: 'revoked' }

// Chromium reports 'disconnected' a few seconds after packets stop coming and 'failed' only
// much later: a connection that stays disconnected this long gets an ICE restart, while a
// shorter blip heals by itself (the old path's checks resume when packets do).
const DISCONNECTED_RESTART_MS = 8000
// An ICE restart that has not brought the connection back by then gives way to a new
// PeerConnection.
const RESTART_CONNECT_MS = 10000
// While the socket is down a recovery waits for the resume; this is how often it looks again.
const RECHECK_MS = 1000

export class Session {
	#opts
	#client = null
	#pc = null
	#mids = null
	#tracks = null // the mid -> role map of the negotiation, sent again with an ICE restart
	#stream = null
	#generation = 0 // bumps on every attempt, so stale callbacks of an old attempt do nothing
	#failures = 0
	#timer = null
	#stopped = false
	#resumeToken = null // from the last hello reply
	#simulcast = false // the last hello reply said simulcast: true (camera in layers)
	#droppedAt = null // performance.now() of the drop we are resuming from, else null
	#recovery = null // the running media recovery (a promise): only one runs at a time
	#disconnectTimer = null
	// Counters the tests read through window.madoguchi.stats: offers sent (ICE restarts
	// included), negotiationneeded events after the first negotiation that were not caused by
	// our own ICE restart, resumed and fresh sessions, PeerConnections made, ICE restarts
	// attempted.
	#stats = { offersSent: 0, negotiationNeeded: 0, resumes: 0, sessions: 0, pcs: 0, iceRestarts: 0 }

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
	//   media: 'now' (default): open the camera and microphone before negotiating; 'later':
	//     negotiate with nothing to send (the transceivers are there) and open them only when
	//     the page calls openDevices(), so a page that mostly watches works on a PC without
	//     them; 'none': no PeerConnection at all (the status board)
	//   sendSimulcast: false to send the camera as one stream even when the server does
	//     simulcast (the kiosk); received layers are unaffected
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

	// media 'later': opens the camera and microphone now and puts them on the negotiated
	// transceivers (replaceTrack: no new offer). Resolves the stream; rejects with code
	// 'media' when there are none or they are refused (the session goes on receiving). A
	// second call after success resolves the same stream.
	async openDevices() {
		if (this.#stream?.getTracks().length) return this.#stream
		const opened = await openMedia()
		this.#stream ??= new MediaStream()
		for (const track of opened.getTracks()) this.#stream.addTrack(track)
		const pc = this.#pc
		const byMid = (mid) => pc?.getTransceivers().find((t) => t.mid === mid)
		if (pc && this.#mids) {
			await byMid(this.#mids.mic)?.sender.replaceTrack(opened.getAudioTracks()[0] ?? null)
			await byMid(this.#mids.camera)?.sender.replaceTrack(opened.getVideoTracks()[0] ?? null)
		}
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
		this.#cancelDisconnectTimer()
		this.#closePc()
		this.#client?.close()
	}

	// Ends the socket as a network fault would; the session resumes. For tests.
	dropSocket() {
		this.#client?.drop()
	}

	// Runs the media recovery now, as a failed connection would (an ICE restart first, a new
	// PeerConnection if that does not work). Resolves when it is over with {outcome, ms}:
	// outcome is 'restarted', 'replaced', 'failed' (the socket was dropped to resume), or
	// 'skipped' (no PeerConnection, or the socket is down). For tests.
	restartIce() {
		if (!this.#pc) return Promise.resolve({ outcome: 'skipped', ms: 0 })
		return this.#recoverMedia(this.#pc)
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
		client.on('close', (ev) => {
			if (gen !== this.#generation) return
			// The server ended this session for good: another page took over this kiosk
			// (4001), or the kiosk or clerk was revoked (4003). Reconnecting would only
			// fight the newer page or be refused, so the page stops and says why.
			const final = FINAL_CLOSE[ev.code]
			if (final) {
				this.stop()
				this.#opts.onFatal?.(Object.assign(new Error(ev.reason || final), { code: final }))
				return
			}
			this.#dropped()
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
			this.#simulcast = reply.simulcast === true && this.#opts.sendSimulcast !== false
			this.#droppedAt = null
			const media = this.#opts.media ?? 'now'
			if (!this.#stream) this.#stream = media === 'now' ? await openMedia() : new MediaStream()
			if (gen !== this.#generation) return
			const usable = this.#pc && !['failed', 'closed'].includes(this.#pc.connectionState)
			if (media !== 'none' && (!resumed || !usable)) await this.#negotiate(client, gen)
			if (gen !== this.#generation) return
			this.#failures = 0
			this.#stats[resumed ? 'resumes' : 'sessions']++
			this.#opts.onReady?.({ client, pc: this.#pc, mids: this.#mids, reply, resumed })
			// A kept PeerConnection that went down while the socket was away is recovered now.
			if (resumed && this.#pc) this.#watchMedia(this.#pc)
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
			result = await negotiate(
				client,
				this.#stream,
				(...a) => {
					if (gen === this.#generation) this.#opts.onTrack?.(...a)
				},
				{ simulcast: this.#simulcast },
			)
		} finally {
			this.#stats.offersSent += client.sentCount('offer') - before
		}
		const { pc, mids, tracks } = result
		if (gen !== this.#generation) {
			pc.close()
			return
		}
		this.#closePc()
		this.#pc = pc
		this.#mids = mids
		this.#tracks = tracks
		this.#stats.pcs++
		// Every later need to negotiate would be a bug: calls never renegotiate. Our own ICE
		// restart is the exception: restartIce() marks the connection as needing negotiation.
		pc.addEventListener('negotiationneeded', () => {
			if (this.#recovery === null) this.#stats.negotiationNeeded++
		})
		pc.addEventListener('connectionstatechange', () => this.#watchMedia(pc))
	}

	// What the PeerConnection's state asks for: 'failed' is recovered at once, 'disconnected'
	// once it has lasted DISCONNECTED_RESTART_MS, and any other state cancels that wait.
	#watchMedia(pc) {
		if (pc !== this.#pc) return
		const state = pc.connectionState
		if (state === 'failed') {
			this.#cancelDisconnectTimer()
			this.#recoverMedia(pc)
		} else if (state === 'disconnected') {
			if (this.#disconnectTimer === null) this.#armDisconnectTimer(pc, DISCONNECTED_RESTART_MS)
		} else {
			this.#cancelDisconnectTimer()
		}
	}

	#armDisconnectTimer(pc, ms) {
		this.#cancelDisconnectTimer()
		this.#disconnectTimer = setTimeout(() => {
			this.#disconnectTimer = null
			if (pc !== this.#pc || pc.connectionState !== 'disconnected') return
			// While the socket is down the resume comes first; look again afterwards.
			if (this.#socketUp()) this.#recoverMedia(pc)
			else this.#armDisconnectTimer(pc, RECHECK_MS)
		}, ms)
	}

	#cancelDisconnectTimer() {
		clearTimeout(this.#disconnectTimer)
		this.#disconnectTimer = null
	}

	#socketUp() {
		return Boolean(this.#client?.isOpen) && this.#droppedAt === null
	}

	// Starts a recovery of pc's media unless one is running, and returns the running one.
	#recoverMedia(pc) {
		if (this.#recovery) return this.#recovery
		const started = performance.now()
		this.#recovery = this.#recover(pc)
			.catch((err) => {
				console.error('madoguchi: media recovery failed', err)
				return { outcome: 'failed' }
			})
			.then((r) => {
				this.#recovery = null
				// Still disconnected (the socket failed meanwhile, say): try again later.
				if (pc === this.#pc && pc.connectionState === 'disconnected') {
					this.#armDisconnectTimer(pc, RECHECK_MS)
				}
				return { ...r, ms: Math.round(performance.now() - started) }
			})
		return this.#recovery
	}

	// The media path died (or a test asks): an ICE restart on the same PeerConnection first;
	// if the server refuses it or the connection is not back within RESTART_CONNECT_MS, a new
	// PeerConnection and a new offer in the same session (the server keeps the wiring either
	// way). If the socket is down, nothing: resuming renegotiates a failed PeerConnection and
	// looks again at a disconnected one.
	async #recover(pc) {
		const client = this.#client
		if (!this.#socketUp() || pc !== this.#pc) return { outcome: 'skipped' }
		const gen = this.#generation
		this.#stats.iceRestarts++
		const before = client.sentCount('offer')
		try {
			await restartIce(client, pc, this.#tracks)
			await connectedWithin(pc, RESTART_CONNECT_MS)
			return { outcome: 'restarted' }
		} catch (err) {
			if (gen !== this.#generation || pc !== this.#pc) return { outcome: 'skipped' }
			// No answer over a socket that looks open: the socket is the problem, and the
			// resume path (which knows what to do with this PeerConnection) takes over.
			if (err.code === 'disconnected' || err.code === 'timeout') {
				client.drop()
				return { outcome: 'failed' }
			}
			console.warn(`madoguchi: ICE restart did not work (${err.message}); new PeerConnection`)
		} finally {
			this.#stats.offersSent += client.sentCount('offer') - before
		}
		try {
			await this.#negotiate(client, gen)
			if (gen === this.#generation && this.#pc !== pc) this.#opts.onMedia?.({ pc: this.#pc, mids: this.#mids })
			return { outcome: 'replaced' }
		} catch {
			if (gen === this.#generation) client.drop()
			return { outcome: 'failed' }
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
		this.#cancelDisconnectTimer()
		this.#pc?.close()
		this.#pc = null
	}
}

// Resolves once pc is connected with the credentials of its current local description, that
// is once an ICE restart has taken effect and not merely left the old path running; rejects
// when pc closes or ms pass first. The selected pair's local candidate names its ufrag where
// the browser's getStats says so (Chromium and Firefox 153 do); elsewhere 'connected' has to
// do.
async function connectedWithin(pc, ms) {
	const ufrag = /^a=ice-ufrag:(\S+)/m.exec(pc.localDescription?.sdp ?? '')?.[1] ?? null
	const deadline = performance.now() + ms
	for (;;) {
		if (pc.connectionState === 'closed') throw new Error('the PeerConnection closed')
		if (pc.connectionState === 'connected') {
			const used = await selectedLocalUfrag(pc)
			if (used === null || ufrag === null || used === ufrag) return
		}
		if (performance.now() > deadline) throw new Error(`not connected within ${ms} ms`)
		await new Promise((resolve) => setTimeout(resolve, 100))
	}
}

// The ufrag of the selected candidate pair's local candidate, or null when unknown. The
// transport stats name the selected pair (selectedCandidatePairId); Firefox also marks the
// pair itself with a non-standard `selected`, used when no transport names one.
async function selectedLocalUfrag(pc) {
	const report = await pc.getStats()
	let pair = null
	for (const s of report.values()) {
		if (s.type === 'transport' && s.selectedCandidatePairId) {
			pair = report.get(s.selectedCandidatePairId) ?? null
			break
		}
		if (s.type === 'candidate-pair' && s.selected === true) pair = s
	}
	return report.get(pair?.localCandidateId)?.usernameFragment ?? null
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
