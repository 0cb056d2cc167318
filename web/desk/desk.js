// The clerk's desk: log in, say whether calls may ring here, accept a ringing visit or take
// any waiting one from the department's queue, talk, share a document, set how loud the
// kiosk plays, transfer the resident or invite another department (three-way), and end the
// leg with an outcome and a procedure code. The camera goes out with its background blurred
// unless the clerk switches that off (blur.js); the shared document is never blurred.

import { applyI18n, setBilingual, t } from '../lib/i18n.js'
import { canvasDocumentTrack, partyLabel, resumePlayback, setDocumentTrack } from '../lib/media.js'
import { $, Notice, el, exposeTestHooks, pageRemoteMedia, showLost, showScreen } from '../lib/page.js'
import { StaffLogin } from '../lib/staff_login.js'
import { CameraBlur } from './blur.js'
import { DeskCalendar } from './bookings.js'
import { Chime } from './chime.js'
import { DeskMarks } from './draw.js'
import { DeskGuest } from './guest.js'
import { DeskText } from './text.js'

const ui = {
	me: $('#me'),
	presence: $('#presence'),
	available: $('button[data-action="available"]'),
	away: $('button[data-action="away"]'),
	logout: $('#logout'),
	errorRetry: $('#error-retry'),
	waitingView: $('#waiting-view'),
	presenceStatus: $('#presence-status'),
	callView: $('#call-view'),
	callLabel: $('#call-label'),
	outcome: $('#outcome'),
	procedure: $('#procedure'),
	end: $('button[data-action="end"]'),
	volume: $('#kiosk-volume'),
	kioskMic: $('#kiosk-mic'),
	shareSource: $('#share-source'),
	share: $('button[data-action="share"]'),
	routeDept: $('#route-dept'),
	transfer: $('button[data-action="transfer"]'),
	invite: $('button[data-action="invite"]'),
	ringingList: $('#ringing-list'),
	ringingEmpty: $('#ringing-empty'),
	queueList: $('#queue-list'),
	queueEmpty: $('#queue-empty'),
}

const SCREENS = ['login', 'connecting', 'error', 'desk']

const page = {
	state: 'login',
	self: null,
	departments: [],
	presence: 'away', // what this desk last told the server; re-sent after a reconnect
	ringing: new Map(), // visit -> ringing event, plus receivedAt for the waiting clock
	queues: new Map(), // department -> queued visits, each with receivedAt
	call: null, // {visit, department, primary} while in a call
	accepting: null, // the visit whose accept is in flight
	shareTrack: null, // the document track this desk sends while sharing
}

const remote = pageRemoteMedia()
const calendar = new DeskCalendar({
	client: () => session?.client ?? null,
	departments: () => page.departments,
	preferred: () => page.self?.department?.id ?? null,
})

// 筆談 (text.js) and marks on the shared document (draw.js).
const deskText = new DeskText({
	client: () => session?.client,
	selfId: () => page.self?.id,
	label: partyLabel,
	ui: {
		section: $('#text-chat'),
		history: $('#text-history'),
		form: $('#text-form'),
		input: $('#text-input'),
		error: $('#text-error'),
		count: $('#text-count'),
	},
})
const deskGuest = new DeskGuest({
	client: () => session?.client,
	ui: {
		section: $('#guest-panel'),
		invite: $('#guest-invite'),
		link: $('#guest-link'),
		qr: $('#guest-qr'),
		layout: $('#guest-layout'),
		error: $('#guest-error'),
	},
})
const marks = new DeskMarks({
	client: () => session?.client,
	visit: () => page.call?.visit ?? null,
	selfId: () => page.self?.id,
	ui: {
		toolbar: $('#mark-tools'),
		tools: [...document.querySelectorAll('#mark-tools button[data-tool]')],
		color: $('#mark-color'),
		undo: $('#mark-tools button[data-mark="undo"]'),
		clear: $('#mark-tools button[data-mark="clear"]'),
		error: $('#mark-error'),
		views: [
			{ video: $('#doc-video'), tile: $('#doc-tile') },
			{ video: $('#own-doc-video'), tile: $('#own-doc-tile') },
		],
	},
})

const chime = new Chime()
const blur = new CameraBlur({ onChange: () => applyCamera() })
// /desk/?blur=off starts with the blur switched off (nothing loaded, the notice shown): for a
// PC whose city decided so, and for the tests of everything but the blur, on machines whose
// WebGL runs in software.
if (new URLSearchParams(location.search).get('blur') === 'off') blur.setEnabled(false)
let session = null
const notices = new Notice($('#notice'))
const notice = (key, params) => notices.show(key, params)

exposeTestHooks({ session: () => session, page, remote }, {
	get visit() {
		return page.call?.visit ?? null
	},
	get sharing() {
		return page.shareTrack !== null
	},
	// 筆談 counters {sent, received, lastError} and the marks now on the document.
	get guest() {
		return deskGuest.info
	},
	get text() {
		return deskText.info
	},
	get marks() {
		return { ...marks.info, shapes: marks.shapes, tool: marks.tool }
	},
	// The background blur: its counters, and the module itself (setTestMask, resetStats).
	get blur() {
		return blur.info
	},
	get blurModule() {
		return blur
	},
})

function show(screen, state = screen) {
	showScreen(SCREENS, screen, state)
	const loggedIn = screen === 'desk'
	ui.presence.hidden = !loggedIn
	$('#blur-switch').hidden = !loggedIn
	ui.logout.hidden = screen === 'login'
	setState(state)
}

function setState(state) {
	page.state = state
	document.body.dataset.state = state
	if (state === 'ringing') chime.start()
	else chime.stop()
}

// On the desk screen the state follows from the data: in a call, ringing, or idle.
function refreshDeskState() {
	if (!['idle', 'ringing', 'in_call'].includes(page.state)) return
	ui.callView.hidden = page.call === null
	ui.waitingView.hidden = page.call !== null
	for (const b of document.querySelectorAll('button[data-action="accept"], button[data-action="take"]')) {
		b.disabled = page.call !== null || page.accepting !== null
	}
	if (page.call) setState('in_call')
	else setState(page.ringing.size > 0 ? 'ringing' : 'idle')
}

function requestFailed(err) {
	notice('desk.request_failed', { detail: err.code || err.message })
}

// --- Lookups and formatting ---------------------------------------------------------------

function department(id) {
	return page.departments.find((d) => d.id === id) ?? null
}

function procedureName(deptId, procId) {
	if (!procId) return ''
	return department(deptId)?.procedures?.find((p) => p.id === procId)?.name ?? String(procId)
}

function elapsed(receivedAt) {
	const s = Math.max(0, Math.floor((performance.now() - receivedAt) / 1000))
	return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

// --- Presence -----------------------------------------------------------------------------

function renderPresence() {
	ui.available.setAttribute('aria-pressed', String(page.presence === 'available'))
	ui.away.setAttribute('aria-pressed', String(page.presence === 'away'))
	ui.presenceStatus.dataset.status = page.presence
	setBilingual(ui.presenceStatus, `desk.status.${page.presence}`)
}

async function setPresence(status) {
	try {
		await session.client.request('presence', { status })
		page.presence = status
		renderPresence()
	} catch (err) {
		requestFailed(err)
	}
}

// --- Ringing and queue --------------------------------------------------------------------

function visitEntry(item, deptId) {
	const li = el('li', 'entry')
	const who = el('div', 'who', partyLabel(item.kiosk))
	const branch = item.kiosk?.branch?.name
	const meta = el('div', 'meta')
	meta.append(el('span', 'dept', department(deptId)?.name ?? deptId ?? ''))
	if (branch && !partyLabel(item.kiosk).includes(branch)) meta.append(el('span', 'branch', branch))
	const waited = el('span', 'waited')
	waited.dataset.since = String(item.receivedAt)
	waited.textContent = t('desk.waited', { time: elapsed(item.receivedAt) })
	meta.append(waited)
	li.append(who, meta)
	const proc = procedureName(deptId, item.procedure)
	if (proc) li.append(el('div', 'proc', `${t('desk.procedure')}: ${proc}`))
	if (item.onestop) li.append(el('span', 'badge', t('desk.onestop')))
	return li
}

function renderRinging() {
	const items = [...page.ringing.values()].map((ev) => {
		const li = visitEntry(ev, ev.department)
		const accept = el('button', 'accept', t('desk.accept'))
		accept.type = 'button'
		accept.dataset.action = 'accept'
		accept.dataset.visit = ev.visit
		accept.addEventListener('click', () => acceptVisit(ev, accept))
		li.append(accept)
		return li
	})
	ui.ringingList.replaceChildren(...items)
	ui.ringingEmpty.hidden = items.length > 0
	refreshDeskState()
}

// Every waiting visit of the desk's departments, oldest first per department; any of them
// may be taken, not only the one at the head.
function renderQueue() {
	const items = []
	for (const [deptId, visits] of page.queues) {
		for (const v of visits) {
			const li = visitEntry(v, deptId)
			const take = el('button', 'take secondary', t('desk.take'))
			take.type = 'button'
			take.dataset.action = 'take'
			take.dataset.visit = v.visit
			take.disabled = page.call !== null || page.accepting !== null
			take.addEventListener('click', () => acceptVisit({ ...v, department: deptId }, take))
			li.append(take)
			items.push(li)
		}
	}
	ui.queueList.replaceChildren(...items)
	ui.queueEmpty.hidden = items.length > 0
}

// Keeps the "waited" clocks moving between events.
function tick() {
	for (const span of document.querySelectorAll('.waited[data-since]')) {
		span.textContent = t('desk.waited', { time: elapsed(Number(span.dataset.since)) })
	}
}

function onRinging(ev) {
	if (!ev.visit) return
	const receivedAt = performance.now() - (Number(ev.waited_s) || 0) * 1000
	page.ringing.set(ev.visit, { ...ev, receivedAt })
	renderRinging()
}

function onRingCancelled(ev) {
	if (!page.ringing.delete(ev.visit)) return
	// The desk that won the visit may hear 'taken' before its own accept is answered.
	const ours = page.call?.visit === ev.visit || page.accepting === ev.visit
	if (!ours) notice(ev.reason === 'taken' ? 'desk.taken' : 'desk.ring_cancelled')
	renderRinging()
}

function onQueue(ev) {
	const now = performance.now()
	const visits = (ev.visits ?? []).map((v) => ({ ...v, receivedAt: now - (Number(v.waited_s) || 0) * 1000 }))
	page.queues.set(ev.department, visits)
	renderQueue()
}

// --- The call -----------------------------------------------------------------------------

async function acceptVisit(ev, button) {
	if (page.call || page.accepting) return
	button.disabled = true
	page.accepting = ev.visit
	remote.resume()
	try {
		await session.client.request('accept', { visit: ev.visit })
		page.ringing.delete(ev.visit)
		startCall(ev.visit, ev.department, ev.procedure)
		renderRinging()
	} catch (err) {
		if (err.code === 'conflict' || err.code === 'not_found') {
			page.ringing.delete(ev.visit)
			notice('desk.taken')
			renderRinging()
		} else {
			requestFailed(err)
		}
	} finally {
		page.accepting = null
		refreshDeskState()
	}
}

function startCall(visit, deptId, procedure) {
	if (page.call?.visit === visit) return
	page.call = { visit, department: deptId ?? page.self?.department?.id ?? null, primary: null }
	ui.outcome.value = 'completed'
	fillProcedures(page.call.department, procedure)
	fillRouteDepartments()
	ui.end.disabled = false
	ui.volume.value = '100'
	ui.kioskMic.checked = true
	deskText.start(visit)
	deskGuest.start(visit)
	marks.reset()
	renderShare()
	refreshDeskState()
}

// The departments a resident can be sent to or invited from: every other open one.
function fillRouteDepartments() {
	const options = page.departments
		.filter((d) => d.id !== page.call?.department && d.open !== false)
		.map((d) => {
			const o = el('option', '', d.name)
			o.value = d.id
			return o
		})
	ui.routeDept.replaceChildren(...options)
	ui.transfer.disabled = options.length === 0
	ui.invite.disabled = options.length === 0
}

async function route(kind) {
	const call = page.call
	const dept = ui.routeDept.value
	if (!call || !dept) return
	ui.transfer.disabled = ui.invite.disabled = true
	try {
		await session.client.request(kind, { visit: call.visit, department: dept })
		const name = department(dept)?.name ?? dept
		if (kind === 'transfer') {
			finishCall(call.visit)
			notice('desk.transferred', { dept: name })
		} else {
			notice('desk.invited', { dept: name })
		}
	} catch (err) {
		requestFailed(err)
	} finally {
		ui.transfer.disabled = ui.invite.disabled = ui.routeDept.options.length === 0
	}
}

// Volume and microphone of the kiosk, relayed by the server as a control event.
async function control(fields) {
	const target = page.call?.primary?.id
	if (!page.call || !target) return
	try {
		await session.client.request('control', { visit: page.call.visit, target, ...fields })
	} catch (err) {
		requestFailed(err)
	}
}

// --- Document sharing ---------------------------------------------------------------------

// The document goes out on the document transceiver negotiated at the start (replaceTrack,
// no renegotiation); `share` tells the server to forward it.
async function documentTrack(source) {
	if (source === 'screen') {
		const s = await navigator.mediaDevices.getDisplayMedia({ video: { width: 1280, height: 720 } })
		return s.getVideoTracks()[0]
	}
	if (source === 'camera') {
		// A second camera when there is one; the first otherwise (a fake device in tests).
		const devices = await navigator.mediaDevices.enumerateDevices()
		const cams = devices.filter((d) => d.kind === 'videoinput')
		const used = session.stream?.getVideoTracks()[0]?.getSettings().deviceId
		const other = cams.find((d) => d.deviceId && d.deviceId !== used)
		const video = other ? { deviceId: { exact: other.deviceId } } : { width: 640, height: 480 }
		const s = await navigator.mediaDevices.getUserMedia({ video })
		return s.getVideoTracks()[0]
	}
	return canvasDocumentTrack(`${t('desk.document')} ${partyLabel(page.self)}`)
}

async function toggleShare() {
	if (page.shareTrack) {
		await stopShare()
		return
	}
	if (!page.call) return
	ui.share.disabled = true
	let track = null
	try {
		track = await documentTrack(ui.shareSource.value)
		await setDocumentTrack(session.pc, session.mids, track)
		page.shareTrack = track
		// The browser's own "stop sharing" bar ends the track: stop forwarding too.
		track.addEventListener('ended', () => {
			if (page.shareTrack === track) stopShare()
		})
		await session.client.request('share', { active: true })
	} catch (err) {
		if (page.shareTrack === track) await stopShare({ tell: false })
		else track?.stop()
		requestFailed({ code: err.code ?? err.name, message: err.message })
	} finally {
		ui.share.disabled = false
		renderShare()
	}
}

async function stopShare({ tell = true } = {}) {
	const track = page.shareTrack
	page.shareTrack = null
	renderShare()
	if (tell && session?.client?.isOpen) {
		try {
			await session.client.request('share', { active: false })
		} catch {
			// The call may be over already; the server stops forwarding with it.
		}
	}
	if (session?.pc) await setDocumentTrack(session.pc, session.mids, null).catch(() => {})
	track?.stop()
}

function renderShare() {
	const on = page.shareTrack !== null
	ui.share.setAttribute('aria-pressed', String(on))
	ui.share.textContent = t(on ? 'desk.share_stop' : 'desk.share')
	ui.shareSource.disabled = on
	// What this desk shares, shown to itself: the view it marks (draw.js).
	const own = $('#own-doc-video')
	if (on && own.srcObject?.getVideoTracks()[0] !== page.shareTrack) {
		own.srcObject = new MediaStream([page.shareTrack])
		resumePlayback(own)
	} else if (!on) {
		own.srcObject = null
	}
	$('#own-doc-tile').hidden = !on
}

// --- Background blur ----------------------------------------------------------------------

// Puts what the blur says should be sent on the camera transceiver (replaceTrack: no new
// offer), shows the same picture in the self-views, and says when the background is visible.
async function applyCamera() {
	const track = blur.track
	renderBlur()
	if (!track) return
	for (const v of [$('#self-video'), $('#preview-big')]) {
		if (v.srcObject?.getVideoTracks()[0] !== track) {
			v.srcObject = new MediaStream([track])
			resumePlayback(v)
		}
	}
	const pc = session?.pc
	const tr = pc?.getTransceivers().find((x) => x.mid === session.mids?.camera)
	if (!tr || tr.sender.track === track) return
	try {
		await tr.sender.replaceTrack(track)
	} catch (err) {
		console.error('madoguchi: cannot switch the camera track', err)
	}
}

function renderBlur() {
	const box = $('#blur')
	const failed = blur.state === 'failed'
	box.checked = blur.enabled && !failed
	box.disabled = failed
	const n = $('#blur-notice')
	n.hidden = false
	n.dataset.level = 'warn'
	if (failed) setBilingual(n, 'desk.blur.failed', { detail: blur.error ?? '' })
	else if (!blur.enabled) setBilingual(n, 'desk.blur.off')
	else if (blur.state === 'loading') {
		n.dataset.level = 'info'
		setBilingual(n, 'desk.blur.loading')
	} else n.hidden = true
}

function fillProcedures(deptId, selected) {
	const none = el('option', '', t('desk.procedure_none'))
	none.value = ''
	const options = (department(deptId)?.procedures ?? []).map((p) => {
		const o = el('option', '', p.name)
		o.value = p.id
		return o
	})
	ui.procedure.replaceChildren(none, ...options)
	ui.procedure.value = options.some((o) => o.value === selected) ? selected : ''
}

function onConnected(ev) {
	if (!ev.visit) return
	if (!page.call) startCall(ev.visit, page.ringing.get(ev.visit)?.department, page.ringing.get(ev.visit)?.procedure)
	if (page.call.visit !== ev.visit) return
	page.ringing.delete(ev.visit)
	const others = (ev.parties ?? []).filter((p) => p.id !== page.self?.id)
	page.call.primary = others.find((p) => p.role === 'kiosk') ?? others[0] ?? null
	remote.setParties(others)
	updateCallLabel()
	remote.resume()
	renderRinging()
	marks.resend() // whoever joined has not seen them
}

// Names the resident's kiosk over the big video: whoever the server says feeds the camera
// slot, else the kiosk among the parties.
function updateCallLabel() {
	ui.callLabel.textContent = partyLabel(remote.primaryParty() ?? page.call?.primary)
}

async function endCall() {
	if (!page.call) return
	const fields = { visit: page.call.visit, outcome: ui.outcome.value || 'completed' }
	if (ui.procedure.value) fields.procedure = ui.procedure.value
	ui.end.disabled = true
	try {
		await session.client.request('end', fields)
		finishCall(fields.visit)
	} catch (err) {
		ui.end.disabled = false
		requestFailed(err)
	}
}

function finishCall(visit) {
	if (page.call?.visit !== visit) return
	page.call = null
	if (page.shareTrack) stopShare({ tell: false })
	remote.reset()
	deskText.stop()
	deskGuest.stop()
	marks.reset()
	ui.callLabel.textContent = ''
	notice('desk.call_ended')
	refreshDeskState()
}

function onEnded(ev) {
	if (page.ringing.delete(ev.visit)) renderRinging()
	finishCall(ev.visit)
}

// --- Login and session --------------------------------------------------------------------

function resetDesk() {
	if (page.shareTrack) stopShare({ tell: false })
	page.call = null
	page.ringing.clear()
	page.queues.clear()
	remote.reset()
	deskText.stop()
	deskGuest.stop()
	marks.reset()
	renderRinging()
	renderQueue()
}

const staff = new StaffLogin({
	show,
	remote,
	onSubmit: () => {
		chime.unlock() // the click is the user gesture WebAudio needs
		resetDesk()
	},
	onSession: (s) => (session = s),
	onClient: bindEvents,
	onReady,
	onLost,
	onMedia: () => applyCamera(), // a new PeerConnection was negotiated with the raw camera
	onFatal: resetDesk,
})

async function onReady({ client, mids, reply, resumed }) {
	page.departments = reply.departments ?? page.departments
	// A resumed session kept its call, rings and queue; only a fresh one starts over.
	if (resumed && ['idle', 'ringing', 'in_call'].includes(page.state)) return
	page.self = reply.self ?? null
	staff.clearPassword()
	ui.me.textContent = partyLabel(page.self)
	remote.setMids(mids)
	for (const v of [$('#self-video'), $('#preview-big')]) {
		v.srcObject = session.stream
		resumePlayback(v)
	}
	// The model loads in the background; the raw camera goes out until it runs.
	blur.start(session.stream.getVideoTracks()[0])
	applyCamera()
	// Tell the server where this desk stands, so the buttons and the server agree.
	try {
		await client.request('presence', { status: page.presence })
	} catch (err) {
		if (client !== session?.client) return
		requestFailed(err)
	}
	if (client !== session?.client) return
	renderPresence()
	show('desk', 'idle')
	refreshDeskState()
	calendar.ready()
}

function onLost({ resuming }) {
	if (resuming && page.state !== 'connecting' && page.state !== 'lost') return
	resetDesk()
	showLost(show)
}

function bindEvents(client) {
	client.on('departments', (ev) => (page.departments = ev.departments ?? page.departments))
	client.on('ringing', onRinging)
	client.on('ring_cancelled', onRingCancelled)
	client.on('queue', onQueue)
	client.on('connected', onConnected)
	client.on('ended', onEnded)
	client.on('text', (ev) => deskText.onText(ev))
	client.on('annotate', (ev) => marks.onAnnotate(ev))
	client.on('slots', (ev) => {
		remote.setSlots(ev.slots)
		updateCallLabel()
	})
}

function main() {
	applyI18n()
	ui.available.addEventListener('click', () => setPresence('available'))
	ui.away.addEventListener('click', () => setPresence('away'))
	ui.end.addEventListener('click', endCall)
	ui.transfer.addEventListener('click', () => route('transfer'))
	ui.invite.addEventListener('click', () => route('invite'))
	ui.volume.addEventListener('change', () => control({ volume: Number(ui.volume.value) / 100 }))
	ui.kioskMic.addEventListener('change', () => control({ mic: ui.kioskMic.checked }))
	ui.share.addEventListener('click', toggleShare)
	$('#blur').addEventListener('change', (ev) => blur.setEnabled(ev.target.checked))
	ui.logout.addEventListener('click', () => location.reload())
	ui.errorRetry.addEventListener('click', () => {
		show('connecting')
		session?.start()
	})
	ui.procedure.replaceChildren(el('option', '', t('desk.procedure_none')))
	renderRinging()
	renderQueue()
	setInterval(tick, 1000)
	show('login')
	staff.focus()
}

main()
