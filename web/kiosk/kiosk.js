// The resident's kiosk: one tap per department (or per one-stop menu), a waiting screen with
// the queue position, the clerk full screen (a document large when someone shares one, a
// second clerk in a tile during a three-way call), a 1-5 rating, and back to the start. The
// resident never operates anything during the call; clerks and coordinators move the visit.
// A department whose desks are all busy can still be chosen (the button shows the wait); only
// one that is closed or has nobody logged in is greyed. At start-up the page shows the
// server's check of its camera, microphone and connection (check.js); branch staff have a
// hidden staff mode for devices and volume (staff.js).

import { applyI18n, setBilingual } from '../lib/i18n.js'
import { partyLabel, resumePlayback } from '../lib/media.js'
import {
	$,
	exposeTestHooks,
	newSession,
	pageRemoteMedia,
	showError as showErrorScreen,
	showLost,
	showScreen,
} from '../lib/page.js'
import { startupCheck } from './check.js'
import { KioskStaff } from './staff.js'
import { KioskBookings } from './bookings.js'
import { KioskText } from './text.js'
import { speak, voiceLog } from './voice.js'

const TOKEN_KEY = 'madoguchi.kiosk.token'
const ENDED_SCREEN_MS = 8000
const RATED_SCREEN_MS = 3000

const ui = {
	departments: $('#departments'),
	noDepartments: $('#no-departments'),
	onestop: $('#onestop'),
	menus: $('#onestop-menus'),
	itinerary: $('#itinerary'),
	reconnecting: $('#reconnecting'),
	kioskName: $('#kiosk-name'),
	queuedDept: $('#queued-dept'),
	queuedStatus: $('#queued-status'),
	queuedPosition: $('#queued-position'),
	queuedWait: $('#queued-wait'),
	hangup: $('button[data-action="hangup"]'),
	callLabel: $('#call-label'),
	selfVideo: $('#self-video'),
	remoteAudio: $('#remote-audio'),
	endedTitle: $('#ended-title'),
	endedDetail: $('#ended-detail'),
	rating: $('#rating'),
	errorRetry: $('#error-retry'),
	checkList: $('#check-list'),
	staffWarning: $('#staff-warning'),
	slotAudio: $('#slot-audio'),
}

// Screen names and the state string each one publishes on window.madoguchi.state.
const SCREENS = {
	connecting: 'connecting',
	error: 'error',
	idle: 'idle',
	queued: 'queued',
	call: 'in_call',
	ended: 'ended',
	check: 'checking', // the start-up check of camera, microphone and connection
	pin: 'staff_pin', // staff mode's PIN pad
	staff: 'staff', // staff mode
}

const page = {
	state: 'connecting',
	self: null,
	departments: [],
	menus: [], // one-stop menus from hello
	menu: null, // the one-stop menu of the current visit, if any
	queuedDept: null, // the department the last queued event named
	staffInRoom: false, // whether the last connected event had a clerk in the room
	lastQueued: null,
	visit: null, // the current visit id, from call's reply or the first event naming it
	connected: false, // whether the current visit reached a clerk (decides the survey)
	primary: null, // the clerk named over the big video when no slots event says otherwise
	endedTimer: null,
	clerkVolume: 1, // the clerk's volume request (control), times staff mode's volume
	checkedAtStart: false, // the start-up check runs once per page load
	check: null, // the start-up check's result: {status, health, code, shown, ms}
	health: null, // the latest self-test result (start-up or staff mode), for the warning
}

const remote = pageRemoteMedia({ root: $('#screen-call') })

// 筆談 text and the clerk's marks on the document (text.js).
const text = new KioskText({
	client: () => session?.client,
	ui: {
		screen: $('#screen-call'),
		area: $('#text-area'),
		panel: $('#text-panel'),
		latest: $('#text-latest'),
		from: $('#text-from'),
		replies: $('#text-replies'),
		docVideo: $('#doc-video'),
		docTile: $('#doc-tile'),
	},
})

let session = null

exposeTestHooks({ session: () => session, page, remote }, {
	// The spoken prompts asked for and played (voice.js).
	get voice() {
		return voiceLog
	},
	// The last queued event, for tests: {visit, department, position, estimated_wait_s}.
	get lastQueued() {
		return page.lastQueued
	},
	get visit() {
		return page.visit
	},
	// The start-up check: {status: 'running'|'done'|'unsupported'|'failed'|'timeout', health,
	// code, shown (whether the check screen appeared), ms}.
	get check() {
		return page.check
	},
	// Staff mode's counters: {opened, pinRefused, lastPinError, testSounds, switched, selftest}.
	get staff() {
		return staff.info
	},
	// 筆談 and marks: {received, sent, chimes, lastError, shapes}.
	get text() {
		return { ...text.info, shapes: text.marks.shapes }
	},
})

const staff = new KioskStaff({
	session: () => session,
	show: (screen) => show(screen),
	canOpen: () => page.state === 'idle',
	close: () => {
		if (page.state === 'staff_pin' || page.state === 'staff') showIdle()
	},
	audio: [ui.remoteAudio, ui.slotAudio],
	clerkVolume: () => page.clerkVolume,
	onStreamChanged: () => {
		ui.selfVideo.srcObject = null
		ui.selfVideo.srcObject = session.stream
		resumePlayback(ui.selfVideo)
	},
	onSelftest: (r) => {
		if (r.status === 'done') setHealth(r.health)
	},
})

function show(screen, state = SCREENS[screen]) {
	showScreen(Object.keys(SCREENS), screen, state)
	// Spoken prompts (voice.js): "connecting" on calling, "ended" when the call is over.
	if (state !== page.state && state === 'queued') { page.spokeWait = false; speak('connecting') }
	if (state !== page.state && state === 'ended') speak('ended', { interrupt: true })
	page.state = state
}

function showError(titleKey, detailKey, params = {}, retry = false) {
	ui.errorRetry.hidden = !retry
	showErrorScreen(show, titleKey, detailKey, params)
}

// --- Device token -------------------------------------------------------------------------

// The token arrives once in the URL (#token=… or ?token=…), is kept in localStorage and is
// removed from the address bar so it does not linger on screen or in bookmarks.
function takeToken() {
	const hash = new URLSearchParams(location.hash.slice(1))
	const query = new URLSearchParams(location.search)
	const fromUrl = hash.get('token') || query.get('token')
	if (fromUrl) {
		localStorage.setItem(TOKEN_KEY, fromUrl)
		query.delete('token')
		const rest = query.toString()
		history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : ''))
	}
	return localStorage.getItem(TOKEN_KEY)
}

// --- Start screen -------------------------------------------------------------------------

function renderDepartments() {
	const buttons = page.departments.map((d) => {
		const b = document.createElement('button')
		b.type = 'button'
		b.className = 'dept'
		b.dataset.dept = d.id
		const open = deptUsable(d)
		b.disabled = !open
		const name = document.createElement('span')
		name.className = 'dept-name'
		name.textContent = d.name
		b.append(name)
		const note = document.createElement('span')
		note.className = 'dept-note'
		if (!open) {
			setBilingual(note, 'kiosk.dept_unavailable')
			b.append(note)
		} else if (d.available === 0 && Number.isFinite(d.estimated_wait_s)) {
			// Every desk is busy: the resident may still queue, knowing the wait first.
			const m = Math.max(1, Math.ceil(d.estimated_wait_s / 60))
			if (d.queued > 0) setBilingual(note, 'kiosk.dept_wait_people', { n: d.queued, m })
			else setBilingual(note, 'kiosk.dept_wait', { m })
			b.dataset.wait = String(d.estimated_wait_s)
			b.classList.add('busy')
			b.append(note)
		}
		b.addEventListener('click', () => startCall(d))
		return b
	})
	ui.departments.replaceChildren(...buttons)
	ui.noDepartments.hidden = buttons.length > 0
	renderMenus()
}

// Whether a resident may call a department: open, and somebody logged in to answer, busy or
// not (staffed; a server without that field says only how many desks are free).
function deptUsable(d) {
	const desks = d.staffed ?? d.available
	return d.open !== false && desks !== 0
}

function usable(deptId) {
	const d = page.departments.find((x) => x.id === deptId)
	return d !== undefined && deptUsable(d)
}

// One-stop menus: one button each, listing the counters it goes through. A menu is greyed
// when its first counter cannot answer (the later ones may open while the first serves).
function renderMenus() {
	const buttons = page.menus.map((m) => {
		const b = document.createElement('button')
		b.type = 'button'
		b.className = 'dept menu'
		b.dataset.onestop = m.id
		b.disabled = !usable(m.itinerary?.[0])
		const name = document.createElement('span')
		name.className = 'dept-name'
		name.textContent = m.name
		const steps = document.createElement('span')
		steps.className = 'menu-steps'
		steps.textContent = (m.itinerary ?? []).map(deptName).join(' → ')
		b.append(name, steps)
		b.addEventListener('click', () => startOnestop(m))
		return b
	})
	ui.menus.replaceChildren(...buttons)
	ui.onestop.hidden = buttons.length === 0
}

function deptName(id) {
	return page.departments.find((d) => d.id === id)?.name ?? id
}

// The itinerary of a one-stop visit on the waiting screen: done, now, still to come.
function renderItinerary() {
	const steps = page.menu?.itinerary ?? []
	ui.itinerary.hidden = steps.length === 0
	const now = steps.indexOf(page.queuedDept)
	ui.itinerary.replaceChildren(
		...steps.map((id, i) => {
			const li = document.createElement('li')
			li.textContent = deptName(id)
			li.dataset.step = i < now ? 'done' : i === now ? 'now' : 'next'
			return li
		}),
	)
}

function showIdle() {
	clearTimeout(page.endedTimer)
	page.visit = null
	page.connected = false
	page.primary = null
	page.menu = null
	page.queuedDept = null
	page.staffInRoom = false
	remote.reset()
	text.reset()
	setBilingual(ui.queuedStatus, 'kiosk.calling')
	staff.cancelTimers()
	renderDepartments()
	renderStaffWarning()
	show('idle')
}

// --- Health -------------------------------------------------------------------------------

function setHealth(health) {
	page.health = health
	if (page.state === 'idle') renderStaffWarning()
}

// A small note in a corner of the start screen when the last self-test found a problem:
// meant for branch staff, worded so that it does not alarm residents.
function renderStaffWarning() {
	const h = page.health
	const what = []
	if (h?.video?.state && h.video.state !== 'ok') what.push(['camera', 'カメラ'])
	if (h?.audio?.state && h.audio.state !== 'ok') what.push(['microphone', 'マイク'])
	ui.staffWarning.hidden = what.length === 0
	if (what.length > 0) {
		setBilingual(ui.staffWarning, 'kiosk.staff_warning', {
			what: what.map((w) => w[1]).join('・'),
			what_en: what.map((w) => w[0]).join(' and '),
		})
	}
	ui.staffWarning.dataset.problems = what.map((w) => w[0]).join(',')
}

async function runStartupCheck() {
	page.check = { status: 'running', health: null, code: null, shown: false, ms: 0 }
	try {
		page.check = await startupCheck({
			client: session.client,
			pc: session.pc,
			list: ui.checkList,
			showScreen: () => {
				if (page.state === 'connecting' || page.state === 'checking') show('check')
			},
			onResult: (r) => {
				page.check = r
				if (r.status === 'done') setHealth(r.health)
			},
		})
	} catch (err) {
		// Whatever went wrong, the resident gets the menu.
		console.warn('madoguchi: start-up check failed', err)
		page.check = { ...page.check, status: 'failed', code: String(err?.message ?? err) }
	}
}

// --- Calling and waiting ------------------------------------------------------------------

function startCall(dept) {
	return placeCall(dept.name, { department: dept.id })
}

// A booking's button (bookings.js): the call goes to the clerk who booked it first.
const bookings = new KioskBookings({
	section: $('#bookings'),
	grid: $('#booking-buttons'),
	deptName: (id) => deptName(id),
	onCall: (b, title) => placeCall(title, { booking: b.booking }),
})

function startOnestop(menu) {
	page.menu = menu
	page.queuedDept = menu.itinerary?.[0] ?? null
	return placeCall(menu.name, { onestop: menu.id })
}

async function placeCall(title, fields) {
	if (page.state !== 'idle') return
	remote.resume() // the tap is the user gesture that lets the clerk's audio play later
	text.unlock() // ... and the chime of 筆談 text
	ui.queuedDept.textContent = title
	setBilingual(ui.queuedStatus, 'kiosk.calling')
	ui.queuedPosition.hidden = true
	ui.queuedWait.hidden = true
	ui.hangup.disabled = false
	renderItinerary()
	show('queued')
	try {
		const reply = await session.client.request('call', fields)
		page.visit = page.visit ?? reply.visit
	} catch (err) {
		if (page.state !== 'queued') return
		if (err.code === 'unavailable') showNotice('kiosk.unavailable', 'kiosk.try_later')
		else if (err.code !== 'disconnected') showNotice('error.generic', 'error.detail', { detail: err.code })
	}
}

function onQueued(ev) {
	if (page.state === 'ended' || page.state === 'error' || page.state === 'connecting') return
	page.visit = ev.visit ?? page.visit
	page.queuedDept = ev.department ?? page.queuedDept
	page.lastQueued = ev
	fillQueued(ev)
	// The server tells a kiosk it waits only while nobody is with it: in a call, a queued
	// event means the clerk left (a transfer, the next one-stop step, a patch) and the
	// resident waits for the next department.
	if (page.state === 'in_call') {
		page.staffInRoom = false
		showWaitingForNext()
		return
	}
	if (page.state !== 'queued') show('queued')
}

// Puts what a queued event says on the waiting screen, without switching to it.
function fillQueued(ev) {
	const dept = page.departments.find((d) => d.id === ev.department)
	if (dept) ui.queuedDept.textContent = dept.name
	renderItinerary()
	if (Number.isFinite(ev.position) && ev.position > 0) {
		setBilingual(ui.queuedPosition, 'kiosk.position', { n: ev.position })
		ui.queuedPosition.hidden = false
		if (!page.spokeWait) { page.spokeWait = true; speak('wait') }
	}
	if (Number.isFinite(ev.estimated_wait_s)) {
		const minutes = Math.max(1, Math.ceil(ev.estimated_wait_s / 60))
		if (ev.estimated_wait_s > 0) setBilingual(ui.queuedWait, 'kiosk.wait_minutes', { m: minutes })
		else setBilingual(ui.queuedWait, 'kiosk.wait_soon')
		ui.queuedWait.hidden = false
	}
}

// The clerk left but the visit goes on (transfer, one-stop step, a desk that dropped).
function showWaitingForNext() {
	text.reset(page.visit) // the next clerk starts with a clean screen
	setBilingual(ui.queuedStatus, 'kiosk.next_department')
	if (page.queuedDept) ui.queuedDept.textContent = deptName(page.queuedDept)
	renderItinerary()
	ui.hangup.disabled = false
	show('queued')
}

async function cancelCall() {
	ui.hangup.disabled = true
	try {
		await session.client.request('hangup')
	} catch {
		// Whatever the server says, the resident asked to stop: the start screen is right.
	}
	if (page.state === 'queued') showIdle()
}

// --- The call -----------------------------------------------------------------------------

function onConnected(ev) {
	if (page.state === 'ended' || page.state === 'idle') return
	page.visit = ev.visit ?? page.visit
	const others = (ev.parties ?? []).filter((p) => p.id !== page.self?.id)
	const staff = others.filter((p) => p.role === 'staff')
	page.staffInRoom = staff.length > 0
	page.primary = staff[0] ?? others[0] ?? null
	remote.setParties(others)
	updateCallLabel()
	remote.resume()
	if (!page.staffInRoom) {
		// Nobody serves the resident right now: wait for the next department.
		if (page.state === 'in_call') showWaitingForNext()
		return
	}
	page.connected = true
	if (page.state !== 'in_call') show('call')
}

// Names the clerk over the big video: whoever the server says feeds the camera slot, else
// the first clerk among the parties.
function updateCallLabel() {
	ui.callLabel.textContent = partyLabel(remote.primaryParty() ?? page.primary)
}

function onEnded(ev) {
	if (page.state === 'idle' || page.state === 'connecting' || page.state === 'error') return
	remote.reset()
	text.reset()
	page.clerkVolume = 1
	staff.applyVolume()
	setMicEnabled(true)
	switch (ev.reason) {
	case 'cancelled':
		if (!page.connected) {
			showIdle()
			return
		}
		showThanks(ev.visit)
		return
	case 'no_answer':
		showNotice('kiosk.no_answer', 'kiosk.try_later')
		return
	case 'closed':
		showNotice('kiosk.closed', 'kiosk.try_later')
		return
	default:
		showThanks(ev.visit)
	}
}

// Relayed from the clerk: adjust how loud the clerk sounds, or mute the kiosk's microphone.
function onControl(ev) {
	if (typeof ev.volume === 'number') {
		page.clerkVolume = Math.min(1, Math.max(0, ev.volume))
		staff.applyVolume()
	}
	if (typeof ev.mic === 'boolean') setMicEnabled(ev.mic)
}

function setMicEnabled(on) {
	for (const track of session?.stream?.getAudioTracks() ?? []) track.enabled = on
}

// --- After the call -----------------------------------------------------------------------

function showThanks(visit) {
	setBilingual(ui.endedTitle, 'kiosk.thanks')
	ui.endedDetail.replaceChildren()
	ui.rating.hidden = !(page.connected && visit)
	ui.rating.dataset.visit = visit ?? ''
	for (const b of ui.rating.querySelectorAll('button')) b.disabled = false
	show('ended')
	backToStartIn(ENDED_SCREEN_MS)
}

function showNotice(titleKey, detailKey, params = {}) {
	setBilingual(ui.endedTitle, titleKey)
	setBilingual(ui.endedDetail, detailKey, params)
	ui.rating.hidden = true
	show('ended')
	backToStartIn(ENDED_SCREEN_MS)
}

function backToStartIn(ms) {
	clearTimeout(page.endedTimer)
	page.endedTimer = setTimeout(() => {
		if (page.state === 'ended') showIdle()
	}, ms)
}

async function rate(rating) {
	const visit = ui.rating.dataset.visit
	for (const b of ui.rating.querySelectorAll('button')) b.disabled = true
	setBilingual(ui.endedDetail, 'kiosk.rated')
	backToStartIn(RATED_SCREEN_MS)
	try {
		await session.client.request('survey', { visit, rating })
	} catch {
		// A lost rating is not worth troubling the resident with.
	}
}

// --- Session ------------------------------------------------------------------------------

function onReady({ mids, reply, resumed }) {
	ui.reconnecting.hidden = true
	page.departments = reply.departments ?? page.departments
	page.menus = reply.onestop ?? page.menus
	bookings.set(reply.bookings)
	if (resumed && page.state !== 'lost') {
		// The server kept the session: the visit and the screen stay as they are.
		if (page.state === 'idle') renderDepartments()
		return
	}
	page.self = reply.self ?? null
	ui.kioskName.textContent = partyLabel(page.self)
	remote.setMids(mids)
	ui.selfVideo.srcObject = session.stream
	resumePlayback(ui.selfVideo)
	staff.applySaved().catch(() => {})
	if (page.checkedAtStart) {
		showIdle()
		return
	}
	page.checkedAtStart = true
	const current = session
	runStartupCheck().finally(() => {
		// Unless the connection was lost or replaced meanwhile, the menu follows the check.
		if (session === current && (page.state === 'connecting' || page.state === 'checking')) showIdle()
	})
}

function onLost({ resuming }) {
	if (resuming && page.state !== 'connecting' && page.state !== 'lost') {
		// Media flows directly to the server and may well go on: keep the screen, say that
		// the connection is being restored.
		ui.reconnecting.hidden = false
		return
	}
	ui.reconnecting.hidden = true
	clearTimeout(page.endedTimer)
	staff.cancelTimers()
	remote.reset()
	showLost(show)
}

function onFatal(err) {
	if (err.code === 'unauthorized' || err.code === 'revoked')
		showError('kiosk.unregistered', 'kiosk.token_rejected')
	else if (err.code === 'replaced') showError('kiosk.replaced', 'kiosk.replaced_detail')
	else if (err.code === 'media') showError('media.failed', 'media.failed_detail', { detail: err.message }, true)
	else showError('error.generic', 'error.detail', { detail: err.code || err.message }, true)
}

function bindEvents(client) {
	// Sent when availability changes, and after the operator changes the directory (then
	// with the one-stop menus too). The start screen is kept current even during a call, so
	// it is right the moment the call ends.
	client.on('departments', (ev) => {
		page.departments = ev.departments ?? []
		if (Array.isArray(ev.onestop)) page.menus = ev.onestop
		renderDepartments()
	})
	client.on('queued', onQueued)
	client.on('connected', onConnected)
	client.on('ended', onEnded)
	client.on('slots', (ev) => {
		remote.setSlots(ev.slots)
		updateCallLabel()
	})
	client.on('control', onControl)
	// Guest interpreters: clerk and interpreter side by side, the interpreter larger when the
	// desk says so (docs/protocol.md, "Guest interpreters").
	client.on('connected', (ev) => {
		const call = $('#screen-call')
		call.dataset.guest = String((ev.parties ?? []).some((p) => p.role === 'guest'))
		if (call.dataset.guest !== 'true') delete call.dataset.layout
	})
	client.on('layout', (ev) => ($('#screen-call').dataset.layout = ev.layout))
	client.on('ended', () => {
		delete $('#screen-call').dataset.guest
		delete $('#screen-call').dataset.layout
	})
	client.on('bookings', (ev) => bookings.set(ev.bookings))
	client.on('text', (ev) => text.onText(ev, { selfId: page.self?.id, label: partyLabel }))
	client.on('annotate', (ev) => text.onAnnotate(ev))
}

function main() {
	applyI18n()
	ui.hangup.addEventListener('click', cancelCall)
	ui.errorRetry.addEventListener('click', () => location.reload())
	for (const b of ui.rating.querySelectorAll('button[data-rating]')) {
		b.addEventListener('click', () => rate(Number(b.dataset.rating)))
	}
	const token = takeToken()
	if (!token) {
		showError('kiosk.unregistered', 'kiosk.unregistered_detail')
		return
	}
	show('connecting')
	session = newSession({
		hello: () => ({ role: 'kiosk', token }),
		// The kiosk sends one camera stream: its uplink is the branch line, where a second
		// layer costs what the picture needs, and the self-test judges that one stream. It
		// still receives the clerks' layers the server picks for it.
		sendSimulcast: false,
		remote,
		onClient: bindEvents,
		onReady,
		onLost,
		onFatal,
	})
	session.start()
}

main()
