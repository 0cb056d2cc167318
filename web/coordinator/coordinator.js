// The coordinator's board: every one-stop visit in progress with its itinerary (which
// department is done, serving, waiting, still to come), and the moves a coordinator makes:
// move the resident on now (patch), skip or reorder the departments still to come, join the
// room with camera and microphone or leave it, and finish the whole visit.
//
// Watching needs no camera or microphone: the session negotiates with nothing to send and the
// devices are opened only when the coordinator joins a room. Without them the coordinator
// still joins (seeing and hearing the room) and is told plainly that nothing is sent.

import { applyI18n, setBilingual, t } from '../lib/i18n.js'
import { MarkLayer } from '../lib/marks.js'
import { partyLabel, resumePlayback } from '../lib/media.js'
import { $, Notice, el, exposeTestHooks, pageRemoteMedia, showLost, showScreen } from '../lib/page.js'
import { StaffLogin } from '../lib/staff_login.js'

const ui = {
	me: $('#me'),
	logout: $('#logout'),
	errorRetry: $('#error-retry'),
	board: $('#board'),
	boardEmpty: $('#board-empty'),
	room: $('#room'),
	callLabel: $('#call-label'),
	mediaNote: $('#media-note'),
}

const SCREENS = ['login', 'connecting', 'error', 'board']

const page = {
	state: 'login',
	self: null,
	departments: [],
	menus: [], // one-stop menus from hello, to name each visit's menu
	visits: new Map(), // visit id -> VISIT (shared/PROTOCOL.md), in the order first seen
	room: null, // the visit whose room this coordinator is in
	devices: 'unasked', // camera and microphone: 'unasked', 'ok' or 'none' (asked at join)
}

const remote = pageRemoteMedia()
// The clerks' marks on the shared document, shown over it (docs/protocol.md, annotate).
const marks = new MarkLayer($('#doc-video'), $('#doc-tile'))

let session = null
const notices = new Notice($('#notice'))
const notice = (key, params) => notices.show(key, params)

exposeTestHooks({ session: () => session, page, remote }, {
	get room() {
		return page.room
	},
	get visits() {
		return [...page.visits.values()]
	},
	get devices() {
		return page.devices
	},
})

function show(screen, state = screen) {
	showScreen(SCREENS, screen, state)
	ui.logout.hidden = screen === 'login'
	page.state = state
}

function button(key, action, onClick, className = 'secondary') {
	const b = el('button', className, t(key))
	b.type = 'button'
	b.dataset.action = action
	b.addEventListener('click', async () => {
		b.disabled = true
		try {
			await onClick()
		} catch (err) {
			notice('desk.request_failed', { detail: err.code || err.message })
		} finally {
			b.disabled = false
		}
	})
	return b
}

function deptName(id) {
	return page.departments.find((d) => d.id === id)?.name ?? id
}

function request(type, fields) {
	return session.client.request(type, fields)
}

// --- The board ----------------------------------------------------------------------------

// The departments still to come, in order: what `onestop` replaces.
function pending(v) {
	return (v.itinerary ?? []).filter((s) => s.state === 'pending').map((s) => s.department)
}

function setRemaining(v, itinerary) {
	return request('onestop', { visit: v.visit, itinerary })
}

function stepEntry(v, step) {
	const li = el('li', 'step')
	li.dataset.state = step.state
	li.dataset.department = step.department
	li.append(el('span', 'name', deptName(step.department)))
	const state = el('span', 'state', t(`coord.state.${step.state}`))
	if (step.desk) state.textContent += ` ${partyLabel(step.desk)}`
	li.append(state)
	if (step.state === 'pending') {
		const rest = pending(v)
		const i = rest.indexOf(step.department)
		const actions = el('div', 'step-actions')
		actions.append(button('coord.patch_here', 'patch-here', () => request('patch', { visit: v.visit, department: step.department })))
		actions.append(button('coord.skip', 'skip', () => setRemaining(v, rest.filter((d) => d !== step.department))))
		if (i > 0) {
			actions.append(button('coord.earlier', 'earlier', () => setRemaining(v, swap(rest, i, i - 1))))
		}
		if (i < rest.length - 1) {
			actions.append(button('coord.later', 'later', () => setRemaining(v, swap(rest, i, i + 1))))
		}
		li.append(actions)
	}
	return li
}

function swap(list, i, j) {
	const out = [...list]
	;[out[i], out[j]] = [out[j], out[i]]
	return out
}

function started(v) {
	const d = new Date(v.started_at)
	if (Number.isNaN(d.getTime())) return ''
	return t('coord.started', { time: d.toLocaleTimeString('ja-JP', { hour: '2-digit', minute: '2-digit' }) })
}

function card(v) {
	const li = el('li', 'card')
	li.dataset.visit = v.visit
	li.dataset.inRoom = String(page.room === v.visit)
	const head = el('div', 'card-head')
	const menu = page.menus.find((m) => m.id === v.menu)?.name ?? v.menu ?? ''
	head.append(el('span', 'who', partyLabel(v.kiosk)), el('span', 'menu-name', menu),
		el('span', 'started', started(v)))
	const others = (v.coordinators ?? []).filter((p) => p.id !== page.self?.id)
	if (others.length) head.append(el('span', 'started', `${t('coord.in_room')}: ${others.map(partyLabel).join('、')}`))
	const actions = el('div', 'actions')
	if (pending(v).length > 0) actions.append(button('coord.patch', 'patch', () => request('patch', { visit: v.visit })))
	if (page.room === v.visit) actions.append(button('coord.leave', 'leave', () => leave(v.visit)))
	else actions.append(button('coord.join', 'join', () => join(v.visit), page.room ? 'secondary' : ''))
	actions.append(button('coord.finish', 'finish', () => request('finish', { visit: v.visit }), 'danger'))
	head.append(actions)
	const steps = el('ol', 'steps')
	steps.append(...(v.itinerary ?? []).map((s) => stepEntry(v, s)))
	li.append(head, steps)
	return li
}

function renderBoard() {
	ui.board.replaceChildren(...[...page.visits.values()].map(card))
	ui.boardEmpty.hidden = page.visits.size > 0
	ui.room.hidden = page.room === null
}

// A `visit` event carries the VISIT itself, or {visit: VISIT}; one that says the visit ended
// (or whose every step is over) takes it off the board.
function onVisit(ev) {
	const v = typeof ev.visit === 'object' && ev.visit !== null ? ev.visit : ev
	if (typeof v.visit !== 'string') return
	const over = (v.itinerary ?? []).length > 0 && v.itinerary.every((s) => s.state === 'done' || s.state === 'skipped')
	if (ev.ended || v.ended || v.ended_at || v.state === 'ended' || over) {
		forget(v.visit)
		return
	}
	page.visits.set(v.visit, v)
	// The server's list of coordinators in the room is the truth (e.g. after a resume).
	const inRoom = (v.coordinators ?? []).some((p) => p.id === page.self?.id)
	if (inRoom && page.room === null) page.room = v.visit
	else if (!inRoom && page.room === v.visit && v.coordinators) leftRoom()
	renderBoard()
}

function forget(visit) {
	page.visits.delete(visit)
	if (page.room === visit) leftRoom()
	renderBoard()
}

// --- The room -----------------------------------------------------------------------------

// Opens the camera and microphone on the first join. Without them, a message that stays
// while the coordinator is in the room; the join goes ahead.
async function openDevices() {
	try {
		const stream = await session.openDevices()
		ui.mediaNote.hidden = true
		const self = $('#self-video')
		if (self.srcObject !== stream) self.srcObject = stream
		resumePlayback(self)
		page.devices = 'ok'
	} catch (err) {
		page.devices = 'none'
		setBilingual(ui.mediaNote, 'coord.no_devices', { detail: err.message || err.code })
		ui.mediaNote.hidden = false
	}
}

async function join(visit) {
	if (page.room && page.room !== visit) await leave(page.room)
	remote.resume()
	await openDevices()
	await request('join', { visit })
	page.room = visit
	renderBoard()
}

async function leave(visit) {
	await request('leave', { visit })
	if (page.room === visit) leftRoom()
	renderBoard()
}

function leftRoom() {
	page.room = null
	remote.reset()
	marks.shapes = []
	ui.callLabel.textContent = ''
}

function onConnected(ev) {
	if (!ev.visit || ev.visit !== page.room) return
	const others = (ev.parties ?? []).filter((p) => p.id !== page.self?.id)
	remote.setParties(others)
	ui.callLabel.textContent = partyLabel(remote.primaryParty() ?? others.find((p) => p.role === 'kiosk'))
	remote.resume()
}

// --- Login and session --------------------------------------------------------------------

const staff = new StaffLogin({
	show,
	remote,
	media: 'later',
	onSession: (s) => (session = s),
	onClient: bindEvents,
	onReady,
	onLost,
})

async function onReady({ client, mids, reply, resumed }) {
	page.departments = reply.departments ?? page.departments
	page.menus = reply.onestop ?? page.menus
	if (!resumed) {
		page.self = reply.self ?? null
		if (!(reply.flags ?? []).includes('coordinator')) {
			session.stop()
			staff.refuse('coord.not_coordinator')
			return
		}
		staff.clearPassword()
		ui.me.textContent = partyLabel(page.self)
		remote.setMids(mids)
		const self = $('#self-video')
		self.srcObject = session.stream
		resumePlayback(self)
		page.room = null
	}
	// Watching again after a resume is harmless and brings the board up to date.
	try {
		const r = await client.request('watch')
		if (client !== session?.client) return
		page.visits.clear()
		for (const v of r.visits ?? []) page.visits.set(v.visit, v)
	} catch (err) {
		if (client !== session?.client) return
		notice('desk.request_failed', { detail: err.code || err.message })
	}
	show('board')
	renderBoard()
}

function onLost({ resuming }) {
	if (resuming && page.state === 'board') return
	page.visits.clear()
	leftRoom()
	showLost(show)
}

function bindEvents(client) {
	client.on('departments', (ev) => {
		page.departments = ev.departments ?? page.departments
		if (Array.isArray(ev.onestop)) page.menus = ev.onestop
		renderBoard()
	})
	client.on('visit', onVisit)
	client.on('connected', onConnected)
	client.on('ended', (ev) => forget(ev.visit))
	client.on('slots', (ev) => remote.setSlots(ev.slots))
	client.on('annotate', (ev) => {
		if (ev.visit === page.room) marks.shapes = ev.shapes
	})
}

function main() {
	applyI18n()
	ui.logout.addEventListener('click', () => location.reload())
	ui.errorRetry.addEventListener('click', () => location.reload())
	show('login')
	staff.focus()
}

main()
