// The clerk's desk: log in, say whether calls may ring here, accept a ringing visit, talk,
// and end the leg with an outcome and a procedure code.

import { applyI18n, setBilingual, t } from '../lib/i18n.js'
import { RemoteMedia, partyLabel, resumePlayback } from '../lib/media.js'
import { Session } from '../lib/session.js'
import { Chime } from './chime.js'

const NOTICE_MS = 6000

const $ = (sel) => document.querySelector(sel)

const ui = {
	me: $('#me'),
	presence: $('#presence'),
	available: $('button[data-action="available"]'),
	away: $('button[data-action="away"]'),
	logout: $('#logout'),
	loginForm: $('#login-form'),
	username: $('#username'),
	password: $('#password'),
	login: $('#login'),
	loginError: $('#login-error'),
	connectingText: $('#connecting-text'),
	errorTitle: $('#error-title'),
	errorDetail: $('#error-detail'),
	errorRetry: $('#error-retry'),
	waitingView: $('#waiting-view'),
	presenceStatus: $('#presence-status'),
	notice: $('#notice'),
	callView: $('#call-view'),
	callLabel: $('#call-label'),
	outcome: $('#outcome'),
	procedure: $('#procedure'),
	end: $('button[data-action="end"]'),
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
	noticeTimer: null,
}

const remote = new RemoteMedia({
	mainVideo: $('#remote-video'),
	mainAudio: $('#remote-audio'),
	docVideo: $('#doc-video'),
	docTile: $('#doc-tile'),
	slotAudio: $('#slot-audio'),
	slotVideo: $('#slot-video'),
	slotTile: $('#slot-tile'),
	slotLabel: $('#slot-label'),
})

const chime = new Chime()
let session = null

window.madoguchi = {
	get client() {
		return session?.client ?? null
	},
	get pc() {
		return session?.pc ?? null
	},
	get state() {
		return page.state
	},
}

function show(screen, state) {
	for (const name of SCREENS) $(`#screen-${name}`).hidden = name !== screen
	const loggedIn = screen === 'desk'
	ui.presence.hidden = !loggedIn
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
	for (const b of ui.ringingList.querySelectorAll('button[data-action="accept"]')) {
		b.disabled = page.call !== null || page.accepting !== null
	}
	if (page.call) setState('in_call')
	else setState(page.ringing.size > 0 ? 'ringing' : 'idle')
}

function notice(key, params = {}) {
	setBilingual(ui.notice, key, params)
	ui.notice.hidden = false
	clearTimeout(page.noticeTimer)
	page.noticeTimer = setTimeout(() => (ui.notice.hidden = true), NOTICE_MS)
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

function el(tag, className, text) {
	const e = document.createElement(tag)
	if (className) e.className = className
	if (text !== undefined) e.textContent = text
	return e
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

function renderQueue() {
	const items = []
	for (const [deptId, visits] of page.queues) {
		for (const v of visits) items.push(visitEntry(v, deptId))
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
	ui.end.disabled = false
	refreshDeskState()
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
	remote.reset()
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
	page.call = null
	page.ringing.clear()
	page.queues.clear()
	remote.reset()
	renderRinging()
	renderQueue()
}

function login(ev) {
	ev.preventDefault()
	const username = ui.username.value.trim()
	const password = ui.password.value
	if (!username || !password) {
		loginError('desk.login_required')
		return
	}
	chime.unlock() // the click is the user gesture WebAudio needs
	remote.resume()
	ui.loginError.hidden = true
	ui.login.disabled = true
	setBilingual(ui.connectingText, 'conn.connecting')
	show('connecting', 'connecting')
	resetDesk()
	session?.stop()
	session = new Session({
		hello: () => ({ role: 'staff', username, password }),
		onClient: bindEvents,
		onTrack: (role, track) => remote.attach(role, track),
		onReady,
		onLost,
		onFatal,
	})
	session.start()
}

function loginError(key) {
	setBilingual(ui.loginError, key)
	ui.loginError.hidden = false
	ui.login.disabled = false
	show('login', 'login')
}

async function onReady({ client, mids, reply }) {
	page.self = reply.self ?? null
	page.departments = reply.departments ?? []
	ui.password.value = ''
	ui.me.textContent = partyLabel(page.self)
	remote.setMids(mids)
	for (const v of [$('#self-video'), $('#preview-big')]) {
		v.srcObject = session.stream
		resumePlayback(v)
	}
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
}

function onLost() {
	resetDesk()
	setBilingual(ui.connectingText, 'conn.lost')
	show('connecting', 'lost')
}

function onFatal(err) {
	resetDesk()
	if (err.code === 'unauthorized') loginError('desk.login_failed')
	else if (err.code === 'too_many') loginError('desk.too_many')
	else {
		const media = err.code === 'media'
		setBilingual(ui.errorTitle, media ? 'media.failed' : 'error.generic')
		setBilingual(ui.errorDetail, media ? 'media.failed_detail' : 'error.detail', {
			detail: err.message || err.code,
		})
		show('error', 'error')
	}
}

function bindEvents(client) {
	client.on('departments', (ev) => (page.departments = ev.departments ?? page.departments))
	client.on('ringing', onRinging)
	client.on('ring_cancelled', onRingCancelled)
	client.on('queue', onQueue)
	client.on('connected', onConnected)
	client.on('ended', onEnded)
	client.on('slots', (ev) => {
		remote.setSlots(ev.slots)
		updateCallLabel()
	})
}

function main() {
	applyI18n()
	ui.loginForm.addEventListener('submit', login)
	ui.available.addEventListener('click', () => setPresence('available'))
	ui.away.addEventListener('click', () => setPresence('away'))
	ui.end.addEventListener('click', endCall)
	ui.logout.addEventListener('click', () => location.reload())
	ui.errorRetry.addEventListener('click', () => {
		show('connecting', 'connecting')
		session?.start()
	})
	ui.procedure.replaceChildren(el('option', '', t('desk.procedure_none')))
	renderRinging()
	renderQueue()
	setInterval(tick, 1000)
	show('login', 'login')
	ui.username.focus()
}

main()
