// Local devices, the one-time negotiation, and where received tracks are shown.
//
// Every session negotiates exactly once, right after hello, with five transceivers in a fixed
// order; calls and transfers never renegotiate: the server only rewires what feeds each one.
// The one later offer a PeerConnection makes is an ICE restart (restartIce below), which
// changes only the ICE credentials and keeps the m-lines, DTLS and everything above it.

export async function getLocalMedia() {
	if (!navigator.mediaDevices?.getUserMedia) {
		throw new Error('getUserMedia unavailable (the page needs https or localhost)')
	}
	return navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } })
}

// PeerConnections negotiated with simulcast (the server's hello reply said so).
const simulcastPcs = new WeakSet()

// Simulcast layers of the camera, smallest first (docs/architecture.md, "Simulcast").
// Chromium sends at most two layers below 960x540 (its simulcast table: a 640x480 camera gets
// two) and silently leaves the rest unsent, so a small camera offers two layers, half and full
// size, and a camera of 960x540 or more offers three. The small layers are what narrow branch
// lines get, two or three of them at once in a three-way call with an interpreter: they are
// capped below Chromium's defaults (about 200-270 kbit/s for 320x240) so that two of them and
// their audio fit a 600 kbit/s line.
function cameraLayers(track) {
	const { width = 0, height = 0 } = track?.getSettings?.() ?? {}
	if (width * height >= 960 * 540) {
		return [
			{ rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 120_000 },
			{ rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 400_000 },
			{ rid: 'f', scaleResolutionDownBy: 1 },
		]
	}
	return [
		{ rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 150_000 },
		{ rid: 'f', scaleResolutionDownBy: 1 },
	]
}

// Creates the PeerConnection, sends the offer with the mid -> role map and applies the answer.
// onTrack(role, track, mid) is called for each received track; role is 'mic', 'camera',
// 'document' or 'slot'. Resolves with {pc, mids, tracks} where mids names the mid of each
// transceiver and tracks is the mid -> role map the offer carried (an ICE restart sends it
// again). simulcast: the server's hello reply said `simulcast: true`; otherwise the camera
// is one plain stream.
export async function negotiate(client, stream, onTrack, { simulcast: useSimulcast = false } = {}) {
	const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' })
	if (useSimulcast) simulcastPcs.add(pc)
	try {
		const mic = stream.getAudioTracks()[0] ?? 'audio'
		const cam = stream.getVideoTracks()[0] ?? 'video'
		const send = { direction: 'sendrecv', streams: [stream] }
		// The camera in two or three simulcast layers: the server forwards each receiver the
		// one its link and its tile size allow. The document transceiver sends one full-size
		// stream.
		const simulcast = { ...send, sendEncodings: cameraLayers(typeof cam === 'string' ? null : cam) }
		const transceivers = [
			[pc.addTransceiver(mic, send), 'mic', 'mic'],
			[pc.addTransceiver(cam, useSimulcast ? simulcast : send), 'camera', 'camera'],
			[pc.addTransceiver('video', { direction: 'sendrecv' }), 'document', 'document'],
			[pc.addTransceiver('audio', { direction: 'recvonly' }), 'slot', 'slotAudio'],
			[pc.addTransceiver('video', { direction: 'recvonly' }), 'slot', 'slotVideo'],
		]
		const roleByMid = {}
		pc.ontrack = (ev) => {
			const mid = ev.transceiver.mid
			if (mid in roleByMid) onTrack(roleByMid[mid], ev.track, mid)
		}
		await pc.setLocalDescription(await pc.createOffer())

		// mids exist only once the local description is set.
		const tracks = {}
		const mids = {}
		for (const [tr, role, name] of transceivers) {
			tracks[tr.mid] = role
			roleByMid[tr.mid] = role
			mids[name] = tr.mid
		}
		const reply = await client.request('offer', { sdp: pc.localDescription.sdp, tracks })
		await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp })
		return { pc, mids, tracks }
	} catch (err) {
		pc.close()
		throw err
	}
}

// An ICE restart on the same PeerConnection (RFC 8445 section 9): new ICE credentials in a
// new offer, with the same transceivers, certificate and tracks map as the first negotiation,
// so that the server recognises its own PeerConnection and keeps the DTLS session, the SRTP
// keys and the wiring. Media goes on over the old path, if it still works, until the checks
// with the new credentials have selected a new one. Resolves once the answer is applied; the
// caller watches connectionState for the outcome. Throws (leaving pc open) when the offer is
// refused or the socket fails.
export async function restartIce(client, pc, tracks) {
	// restartIce() alone would only mark the connection as needing negotiation; the explicit
	// iceRestart option makes this very offer carry the new credentials.
	pc.restartIce()
	await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }))
	const reply = await client.request('offer', { sdp: pc.localDescription.sdp, tracks })
	await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp })
}

// Puts track (or null to stop) on the document transceiver. The transceiver was negotiated
// sendrecv from the start, so this is replaceTrack only: no renegotiation. The server
// forwards it once the page also sends `share {active:true}`.
export async function setDocumentTrack(pc, mids, track) {
	const tr = pc?.getTransceivers().find((t) => t.mid === mids?.document)
	if (!tr) throw new Error('no document transceiver (media not negotiated yet)')
	// A document must stay legible: the encoder keeps its resolution and gives up frame
	// rate instead (with simulcast, whose layer choice would otherwise favour frame rate).
	if (track && simulcastPcs.has(pc) && 'contentHint' in track) track.contentHint = 'detail'
	await tr.sender.replaceTrack(track)
}

// A stand-in document camera: a canvas drawn with a page of text and a clock, as a 640x480
// video track. Used when the desk has no second camera and the browser cannot capture the
// screen (kiosk-mode or headless browsers); title is drawn at the top.
export function canvasDocumentTrack(title, fps = 10) {
	const canvas = document.createElement('canvas')
	canvas.width = 640
	canvas.height = 480
	const ctx = canvas.getContext('2d')
	const draw = () => {
		ctx.fillStyle = '#ffffff'
		ctx.fillRect(0, 0, canvas.width, canvas.height)
		ctx.fillStyle = '#0a4fa6'
		ctx.fillRect(0, 0, canvas.width, 64)
		ctx.fillStyle = '#ffffff'
		ctx.font = 'bold 32px sans-serif'
		ctx.fillText(title, 24, 44)
		ctx.fillStyle = '#333333'
		ctx.font = '22px sans-serif'
		for (let i = 0; i < 10; i++) ctx.fillRect(24, 100 + i * 34, 400 + ((i * 97) % 170), 12)
		ctx.fillText(new Date().toLocaleTimeString('ja-JP'), 24, 460)
	}
	draw()
	const timer = setInterval(draw, 1000 / fps)
	const track = canvas.captureStream(fps).getVideoTracks()[0]
	track.addEventListener('ended', () => clearInterval(timer))
	const stop = track.stop.bind(track)
	track.stop = () => {
		clearInterval(timer)
		stop()
	}
	return track
}

// Plays a track in a media element; autoplay refusals are expected before a user gesture
// and are retried by the next call to play().
export function playTrack(el, track) {
	el.srcObject = new MediaStream([track])
	resumePlayback(el)
}

export function resumePlayback(el) {
	if (!el.srcObject) return
	const p = el.play()
	if (p) p.catch(() => {})
}

// Routes received tracks to the page's elements and shows or hides the secondary tiles as
// the server's `slots` events say. elements: {mainVideo, mainAudio, docVideo, docTile,
// docLabel, slotAudio, slotVideo, slotTile, slotLabel, root}; all but mainVideo and mainAudio
// may be absent. root gets data-sharing="true" while someone's document is shown, so a page's
// CSS can make the document large.
export class RemoteMedia {
	#el
	#mids = {}
	#feeds = new Map() // mid -> party id or null
	#parties = new Map() // party id -> party
	#client = null
	#sentView = ''
	#viewTimer = null

	constructor(elements) {
		this.#el = elements
		this.#render()
		// A click on the slot tile enlarges it to the whole video area and back (a second
		// clerk or an interpreter the clerk wants to see as large as the resident); pages
		// style [data-large].
		elements.slotTile?.addEventListener('click', () => {
			const t = elements.slotTile
			if (t.dataset.large) delete t.dataset.large
			else t.dataset.large = 'true'
		})
		if (typeof ResizeObserver === 'function') {
			const ro = new ResizeObserver(() => this.#scheduleView())
			for (const v of [elements.mainVideo, elements.docVideo, elements.slotVideo]) if (v) ro.observe(v)
		}
	}

	// Called once negotiate() has resolved and the mids are known.
	setMids(mids) {
		this.#mids = mids
		this.#render()
	}

	// Sends the server the size each received video is shown at (`view`), now and after
	// every layout change, on this client (a new one after a reconnect).
	reportViewTo(client) {
		this.#client = client
		this.#sentView = ''
		this.#scheduleView()
	}

	// Device pixels of each video slot; a hidden video counts as 1x1 (the smallest layer).
	viewSizes() {
		const dpr = window.devicePixelRatio || 1
		const size = (el) => ({
			width: Math.max(1, Math.min(16384, Math.round((el?.clientWidth ?? 0) * dpr))),
			height: Math.max(1, Math.min(16384, Math.round((el?.clientHeight ?? 0) * dpr))),
		})
		const slots = {}
		const el = this.#el
		if (this.#mids.camera && el.mainVideo) slots[this.#mids.camera] = size(el.mainVideo)
		if (this.#mids.document && el.docVideo) slots[this.#mids.document] = size(el.docVideo)
		if (this.#mids.slotVideo && el.slotVideo) slots[this.#mids.slotVideo] = size(el.slotVideo)
		return slots
	}

	#scheduleView() {
		clearTimeout(this.#viewTimer)
		this.#viewTimer = setTimeout(() => this.#sendView(), 200)
	}

	#sendView() {
		const slots = this.viewSizes()
		const key = JSON.stringify(slots)
		if (!this.#client || !Object.keys(slots).length || key === this.#sentView) return
		this.#sentView = key
		this.#client.request('view', { slots }).catch(() => (this.#sentView = ''))
	}

	attach(role, track) {
		const el = this.#el
		if (role === 'mic') playTrack(el.mainAudio, track)
		else if (role === 'camera') playTrack(el.mainVideo, track)
		else if (role === 'document' && el.docVideo) playTrack(el.docVideo, track)
		else if (role === 'slot' && track.kind === 'audio' && el.slotAudio) playTrack(el.slotAudio, track)
		else if (role === 'slot' && track.kind === 'video' && el.slotVideo) playTrack(el.slotVideo, track)
	}

	setSlots(slots) {
		for (const s of slots ?? []) this.#feeds.set(String(s.mid), s.party ?? null)
		this.#render()
	}

	setParties(parties) {
		this.#parties = new Map((parties ?? []).map((p) => [p.id, p]))
		this.#render()
	}

	// The party the server says feeds the camera slot (the primary party), if it said so.
	primaryParty() {
		const id = this.#feeds.get(this.#mids.camera)
		return id ? (this.#parties.get(id) ?? null) : null
	}

	// Who is on screen now: {camera, document, slot}, each a party (or a bare {id} when the
	// party is not known yet) or null. For labels and for tests.
	onScreen() {
		return {
			camera: this.#partyOn(this.#mids.camera),
			document: this.#partyOn(this.#mids.document),
			slot: this.#partyOn(this.#mids.slotVideo),
		}
	}

	#partyOn(mid) {
		const id = mid === undefined ? null : (this.#feeds.get(mid) ?? null)
		return id ? (this.#parties.get(id) ?? { id }) : null
	}

	// Forgets who feeds what, at the end of a call.
	reset() {
		this.#feeds.clear()
		this.#parties.clear()
		this.#render()
	}

	// Retries playback after a user gesture (browsers may refuse unmuted autoplay before one).
	resume() {
		for (const el of Object.values(this.#el)) {
			if (el instanceof HTMLMediaElement) resumePlayback(el)
		}
	}

	#render() {
		const el = this.#el
		const docParty = this.#feeds.get(this.#mids.document) ?? null
		if (el.docTile) el.docTile.hidden = docParty === null
		if (el.docLabel) el.docLabel.textContent = docParty ? partyLabel(this.#parties.get(docParty)) : ''
		if (el.root) el.root.dataset.sharing = String(docParty !== null)
		const slotParty = this.#feeds.get(this.#mids.slotVideo) ?? null
		if (el.slotTile) el.slotTile.hidden = slotParty === null
		this.#scheduleView()
		if (el.slotLabel) el.slotLabel.textContent = slotParty ? partyLabel(this.#parties.get(slotParty)) : ''
	}
}

// A short human label for a party: 「保険年金課 佐藤」 for staff, 「山田出張所 1番」 for a kiosk.
export function partyLabel(party) {
	if (!party) return ''
	if (party.role === 'staff') return [party.department?.name, party.name].filter(Boolean).join(' ')
	return party.name ?? party.branch?.name ?? ''
}
