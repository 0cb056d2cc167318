// The status board (PROTOCOL.md, "Status board"), for coordinators and admins: every kiosk
// by branch (online, what it is doing, its last self-test in plain words, when it was last
// seen) and every department (open, its desks and their presence, the queue and its longest
// wait), kept live from the server's `status` events. Problems come first, in colour and in
// words: a kiosk offline while the counters are open, a kiosk whose self-test found
// something, a long wait, a department open with nobody available to answer.
//
// The page needs no camera, microphone or media connection: its session has media 'none'.

import { applyI18n, t } from '../lib/i18n.js'
import { $, el, exposeTestHooks, showLost, showScreen } from '../lib/page.js'
import { StaffLogin } from '../lib/staff_login.js'

// A wait this long is a problem; twice as long is a serious one.
const LONG_WAIT_S = 300
// Problems listed at the top at most (two rows); the heading counts them all.
const MAX_PROBLEMS = 4

const SCREENS = ['login', 'connecting', 'error', 'board']

const ui = {
	me: $('#me'),
	logout: $('#logout'),
	errorRetry: $('#error-retry'),
	updated: $('#updated'),
	problems: $('#problems'),
	noProblems: $('#no-problems'),
	problemCount: $('#problem-count'),
	branches: $('#branches'),
	depts: $('#depts'),
}

const page = {
	state: 'login',
	self: null,
	kiosks: new Map(), // kiosk id -> KIOSK_STATUS, in the server's order (branch, name)
	depts: new Map(), // department id -> DEPT_STATUS
	updatedAt: null,
	events: 0, // status events applied, for tests
}

let session = null

// The page has no media: a receiver that is never fed.
const noMedia = { resume() {}, attach() {} }

exposeTestHooks({ session: () => session, page, remote: { onScreen: () => ({}) } }, {
	get kiosks() {
		return [...page.kiosks.values()]
	},
	get departments() {
		return [...page.depts.values()]
	},
	get events() {
		return page.events
	},
})

function show(screen, state = screen) {
	showScreen(SCREENS, screen, state)
	ui.logout.hidden = screen === 'login'
	page.state = state
}

// --- Words --------------------------------------------------------------------------------

function clock(iso) {
	const d = new Date(iso)
	if (Number.isNaN(d.getTime())) return ''
	const today = new Date().toDateString() === d.toDateString()
	const time = d.toLocaleTimeString('ja-JP', { hour: '2-digit', minute: '2-digit' })
	return today ? time : `${d.toLocaleDateString('ja-JP', { month: 'numeric', day: 'numeric' })} ${time}`
}

function duration(s) {
	const m = Math.floor(s / 60)
	return m > 0 ? t('board.min_sec', { m, s: String(s % 60).padStart(2, '0') }) : t('board.sec', { s })
}

// The last self-test in plain words: {level, text}. level: 'ok', 'warn' (never checked) or
// 'bad'.
function healthWords(h) {
	if (!h) return { level: 'none', text: t('board.health.none') }
	const issues = []
	const audio = h.audio?.state ?? 'missing'
	const video = h.video?.state ?? 'missing'
	if (audio !== 'ok') issues.push(t(`board.health.audio_${audio}`))
	if (video !== 'ok') issues.push(t(`board.health.video_${video}`))
	if (issues.length === 0) return { level: 'ok', text: t('board.health.ok') }
	return { level: 'bad', text: issues.join('、') }
}

function anyOpen() {
	return [...page.depts.values()].some((d) => d.open)
}

// Every problem of a kiosk: [{level, text}], worst first.
function kioskProblems(k) {
	const out = []
	if (!k.online && anyOpen()) {
		const since = k.last_seen ? t('board.last_seen', { time: clock(k.last_seen) }) : t('board.never_seen')
		out.push({ level: 'bad', offline: true, text: t('board.p.offline', { since }) })
	}
	const h = healthWords(k.health)
	if (h.level === 'bad') out.push({ level: 'bad', text: h.text })
	return out
}

function deptProblems(d) {
	const out = []
	if (d.open && !d.desks.some((x) => x.presence === 'available')) {
		const someone = d.desks.some((x) => x.presence === 'busy')
		out.push({ level: someone ? 'warn' : 'bad', text: t(someone ? 'board.p.all_busy' : 'board.p.nobody') })
	}
	if (d.longest_wait_s >= LONG_WAIT_S) {
		out.push({
			level: d.longest_wait_s >= 2 * LONG_WAIT_S ? 'bad' : 'warn',
			text: t('board.p.long_wait', { wait: duration(d.longest_wait_s), n: d.queued }),
		})
	}
	return out
}

const RANK = { bad: 2, warn: 1 }
const worst = (problems) => problems.reduce((m, p) => Math.max(m, RANK[p.level] ?? 0), 0)
const levelName = (rank) => ['ok', 'warn', 'bad'][rank]

// A stable sort that puts worse first.
function worstFirst(items, rankOf) {
	return items
		.map((item, i) => ({ item, i, r: rankOf(item) }))
		.sort((a, b) => b.r - a.r || a.i - b.i)
		.map((x) => x.item)
}

// --- Rendering ----------------------------------------------------------------------------

function kioskTile(k) {
	const problems = kioskProblems(k)
	const rank = worst(problems)
	const li = el('li', 'kiosk')
	li.dataset.kiosk = k.kiosk.id
	li.dataset.online = String(k.online)
	li.dataset.state = k.online ? k.state : 'offline'
	li.dataset.level = levelName(rank)
	const name = el('span', 'kiosk-name', k.kiosk.name)
	name.title = k.kiosk.name
	const state = el('b', `kiosk-state s-${li.dataset.state}`, t(`board.kstate.${li.dataset.state}`))
	const h = healthWords(k.health)
	const health = el('span', `kiosk-health h-${h.level}`, h.text)
	let seen
	if (k.online) seen = k.last_seen ? t('board.since', { time: clock(k.last_seen) }) : ''
	else seen = k.last_seen ? t('board.tile_seen', { time: clock(k.last_seen) }) : t('board.tile_never')
	const line = el('span', 'kiosk-line')
	line.append(state, el('span', 'kiosk-seen', seen))
	li.append(name, line, health)
	li.setAttribute(
		'aria-label',
		[k.kiosk.name, state.textContent, h.text, seen, ...problems.map((p) => p.text)].filter(Boolean).join('、'),
	)
	return { li, rank }
}

function renderKiosks() {
	const groups = new Map() // branch id -> {branch, tiles}
	for (const k of page.kiosks.values()) {
		const b = k.kiosk.branch
		if (!groups.has(b.id)) groups.set(b.id, { branch: b, tiles: [] })
		groups.get(b.id).tiles.push(kioskTile(k))
	}
	const sections = worstFirst([...groups.values()], (g) => worst(g.tiles.map((x) => ({ level: levelName(x.rank) })))).map((g) => {
		const section = el('section', 'branch')
		section.dataset.branch = g.branch.id
		const title = el('h3', 'branch-name', g.branch.name)
		const online = g.tiles.filter((x) => x.li.dataset.online === 'true').length
		title.append(el('span', 'branch-count', t('board.online_count', { n: online, total: g.tiles.length })))
		const list = el('ul', 'kiosk-list')
		list.setAttribute('aria-label', g.branch.name)
		list.append(...worstFirst(g.tiles, (x) => x.rank).map((x) => x.li))
		section.append(title, list)
		return section
	})
	if (sections.length === 0) sections.push(el('p', 'empty', t('board.no_kiosks')))
	ui.branches.replaceChildren(...sections)
}

function deptRow(d) {
	const problems = deptProblems(d)
	const tr = el('tr', 'dept')
	tr.dataset.department = d.id
	tr.dataset.level = levelName(worst(problems))
	tr.dataset.open = String(d.open)
	const name = el('th', 'dept-name', d.name)
	name.scope = 'row'
	const open = el('td', d.open ? 'open' : 'closed', t(d.open ? 'board.open' : 'board.closed'))
	const cell = el('td', 'desks-cell')
	const desks = el('div', 'desks')
	cell.append(desks)
	// One group per presence, available first: "受付可 佐藤・鈴木  離席 田中".
	for (const presence of ['available', 'busy', 'away']) {
		const list = d.desks.filter((x) => x.presence === presence)
		if (list.length === 0) continue
		const group = el('span', `chip p-${presence}`)
		group.append(el('b', 'pres-label', t(`board.presence.${presence}`)), ' ')
		list.forEach((desk, i) => {
			if (i > 0) group.append('・')
			const name = el('span', 'desk-name', desk.party?.name ?? '')
			name.dataset.presence = presence
			group.append(name)
		})
		group.title = group.textContent
		desks.append(group)
	}
	if (d.desks.length === 0) desks.append(el('span', 'chip none', t('board.no_desks')))
	const queued = el('td', 'num queued', t('board.people', { n: d.queued }))
	const wait = el('td', 'num wait', d.queued > 0 ? duration(d.longest_wait_s) : '—')
	tr.append(name, open, cell, queued, wait)
	return tr
}

function renderDepts() {
	const rows = worstFirst([...page.depts.values()], (d) => worst(deptProblems(d))).map(deptRow)
	ui.depts.replaceChildren(...rows)
}

// Several kiosks of one branch offline at once (the branch's network, or before opening)
// are one problem, not one line each.
function kioskProblemLines() {
	const out = []
	const offline = new Map() // branch id -> [KIOSK_STATUS]
	for (const k of page.kiosks.values()) {
		for (const p of kioskProblems(k)) {
			if (p.offline) {
				const b = k.kiosk.branch.id
				if (!offline.has(b)) offline.set(b, [])
				offline.get(b).push({ k, p })
			} else {
				out.push({ ...p, who: `${k.kiosk.branch.name} ${k.kiosk.name}`, kind: 'kiosk', id: k.kiosk.id })
			}
		}
	}
	for (const [branch, list] of offline) {
		if (list.length === 1) {
			const { k, p } = list[0]
			out.push({ ...p, who: `${k.kiosk.branch.name} ${k.kiosk.name}`, kind: 'kiosk', id: k.kiosk.id })
		} else {
			out.push({
				level: 'bad',
				who: list[0].k.kiosk.branch.name,
				text: t('board.p.offline_many', { n: list.length }),
				kind: 'branch',
				id: branch,
			})
		}
	}
	return out
}

function renderProblems() {
	const all = kioskProblemLines()
	for (const d of page.depts.values())
		for (const p of deptProblems(d)) all.push({ ...p, who: d.name, kind: 'department', id: d.id })
	const sorted = worstFirst(all, (p) => RANK[p.level] ?? 0)
	const items = sorted.slice(0, MAX_PROBLEMS).map((p) => {
		const li = el('li', `problem ${p.level}`)
		li.dataset.kind = p.kind
		li.dataset.id = p.id
		li.dataset.level = p.level
		li.append(el('span', 'mark', t(`board.level.${p.level}`)), el('span', 'p-who', p.who), el('span', 'what', p.text))
		return li
	})
	ui.problems.replaceChildren(...items)
	ui.problemCount.textContent = all.length > 0 ? t('board.problem_count', { n: all.length, shown: items.length }) : ''
	ui.noProblems.hidden = all.length > 0
}

function render() {
	renderProblems()
	renderKiosks()
	renderDepts()
	if (page.updatedAt) ui.updated.textContent = t('board.updated', { time: page.updatedAt.toLocaleTimeString('ja-JP') })
}

// --- The board's data ---------------------------------------------------------------------

function applySnapshot(r) {
	page.kiosks.clear()
	page.depts.clear()
	for (const k of r.kiosks ?? []) page.kiosks.set(k.kiosk.id, k)
	for (const d of r.departments ?? []) page.depts.set(d.id, d)
	page.updatedAt = new Date()
	render()
}

function onStatus(ev) {
	for (const k of ev.kiosks ?? []) page.kiosks.set(k.kiosk.id, k)
	for (const d of ev.departments ?? []) page.depts.set(d.id, d)
	for (const id of ev.removed?.kiosks ?? []) page.kiosks.delete(id)
	for (const id of ev.removed?.departments ?? []) page.depts.delete(id)
	page.events++
	page.updatedAt = new Date()
	render()
}

// --- Login and session --------------------------------------------------------------------

const staff = new StaffLogin({
	show,
	remote: noMedia,
	media: 'none',
	onSession: (s) => (session = s),
	onClient: (client) => client.on('status', onStatus),
	onReady,
	onLost,
})

async function onReady({ client, reply, resumed }) {
	if (!resumed) {
		page.self = reply.self ?? null
		const flags = reply.flags ?? []
		if (!flags.includes('coordinator') && !flags.includes('admin')) {
			session.stop()
			staff.refuse('board.forbidden')
			return
		}
		staff.clearPassword()
		ui.me.textContent = page.self?.name ?? ''
	}
	// After a resume too: the server's watch list forgot this session while it was away.
	try {
		const r = await client.request('status')
		if (client !== session?.client) return
		applySnapshot(r)
		show('board')
	} catch (err) {
		if (client !== session?.client) return
		if (err.code === 'forbidden') {
			session.stop()
			staff.refuse('board.forbidden')
		}
	}
}

function onLost({ resuming }) {
	if (resuming && page.state === 'board') return
	showLost(show)
}

function main() {
	applyI18n()
	ui.logout.addEventListener('click', () => location.reload())
	ui.errorRetry.addEventListener('click', () => location.reload())
	show('login')
	staff.focus()
}

main()
