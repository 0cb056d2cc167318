// The statistics page: log in with an analyst account (POST /api/login), choose a month range
// and a grouping, and see GET /api/stats/monthly as a bar chart and a table, or download it
// as CSV. The chart library (chart.js, a classic script from ../vendor/) is optional: without
// it the table alone is shown.

import { applyI18n, setBilingual, t } from '../lib/i18n.js'

const TOKEN_KEY = 'madoguchi.stats.token'
const DIMENSIONS = ['branch', 'department', 'procedure']
const MEASURES = ['visits', 'legs', 'answered', 'abandoned', 'avg_wait_s', 'avg_talk_s', 'onestop_visits', 'avg_rating', 'booked_visits', 'interpreted_visits']
const MAX_SERIES = 12 // more groups than this are folded into one "other" bar

const $ = (sel) => document.querySelector(sel)

const ui = {
	me: $('#me'),
	logout: $('#logout'),
	loginScreen: $('#screen-login'),
	statsScreen: $('#screen-stats'),
	loginForm: $('#login-form'),
	username: $('#username'),
	password: $('#password'),
	loginError: $('#login-error'),
	queryForm: $('#query-form'),
	from: $('#from'),
	to: $('#to'),
	csv: $('#csv'),
	status: $('#status'),
	chartBox: $('#chart-box'),
	chart: $('#chart'),
	noChart: $('#no-chart'),
	head: $('#head'),
	body: $('#body'),
}

const page = { token: sessionStorage.getItem(TOKEN_KEY), chart: null }

// ---- login ----

function showLogin(messageKey) {
	page.token = null
	sessionStorage.removeItem(TOKEN_KEY)
	ui.statsScreen.hidden = true
	ui.loginScreen.hidden = false
	ui.logout.hidden = true
	ui.me.textContent = ''
	ui.loginError.hidden = !messageKey
	if (messageKey) setBilingual(ui.loginError, messageKey)
	ui.username.focus()
}

function showStats() {
	ui.loginScreen.hidden = true
	ui.statsScreen.hidden = false
	ui.logout.hidden = false
	load()
}

// Logging out revokes the token on the server too (POST /api/logout), so a copy of it left
// in this browser's session storage or a proxy log is worth nothing afterwards.
async function logout() {
	const token = page.token
	showLogin(null)
	if (!token) return
	try {
		await fetch('/api/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
	} catch {
		// The server is unreachable: the token still expires by itself.
	}
}

async function login(event) {
	event.preventDefault()
	const username = ui.username.value.trim()
	const password = ui.password.value
	if (!username || !password) return showLogin('desk.login_required')
	let res
	try {
		res = await fetch('/api/login', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ username, password }),
		})
	} catch (err) {
		return showLogin('conn.lost')
	}
	ui.password.value = ''
	if (res.status === 429) return showLogin('desk.too_many')
	if (!res.ok) return showLogin('desk.login_failed')
	const { token } = await res.json()
	page.token = token
	sessionStorage.setItem(TOKEN_KEY, token)
	ui.me.textContent = username
	showStats()
}

// ---- the query ----

function monthString(date) {
	return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}`
}

function chosenDimensions() {
	return [...ui.queryForm.querySelectorAll('input[name="by"]:checked')].map((el) => el.value)
}

function queryString(format) {
	const params = new URLSearchParams({ from: ui.from.value, to: ui.to.value, by: chosenDimensions().join(',') })
	if (format) params.set('format', format)
	return params.toString()
}

// Fetches with the login token; returns the response, or null after sending the user back
// to the login form (expired token, no analyst flag).
async function authorizedFetch(url) {
	const res = await fetch(url, { headers: { Authorization: `Bearer ${page.token}` } })
	if (res.status === 401) {
		showLogin('stats.expired')
		return null
	}
	if (res.status === 403) {
		showLogin('stats.forbidden')
		return null
	}
	return res
}

async function errorDetail(res) {
	try {
		const body = await res.json()
		return body.message || body.error || String(res.status)
	} catch {
		return String(res.status)
	}
}

async function load(event) {
	event?.preventDefault()
	setBilingual(ui.status, 'stats.loading')
	let res
	try {
		res = await authorizedFetch(`/api/stats/monthly?${queryString()}`)
	} catch (err) {
		return setBilingual(ui.status, 'stats.failed', { detail: err.message })
	}
	if (!res) return
	if (!res.ok) return setBilingual(ui.status, 'stats.failed', { detail: await errorDetail(res) })
	const { rows } = await res.json()
	const dims = chosenDimensions()
	ui.status.textContent = ''
	if (rows.length === 0) setBilingual(ui.status, 'stats.empty')
	renderTable(rows, dims)
	renderChart(rows, dims)
}

async function downloadCsv() {
	let res
	try {
		res = await authorizedFetch(`/api/stats/monthly?${queryString('csv')}`)
	} catch (err) {
		return setBilingual(ui.status, 'stats.failed', { detail: err.message })
	}
	if (!res) return
	if (!res.ok) return setBilingual(ui.status, 'stats.failed', { detail: await errorDetail(res) })
	// The server names the file in Content-Disposition; a blob link keeps that name because
	// the Authorization header rules out a plain link.
	const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'madoguchi-stats.csv'
	const url = URL.createObjectURL(await res.blob())
	const a = document.createElement('a')
	a.href = url
	a.download = name
	document.body.append(a)
	a.click()
	a.remove()
	setTimeout(() => URL.revokeObjectURL(url), 10000)
}

// ---- the table ----

function dimensionLabel(row, dim, dims) {
	if (!dims.includes(dim)) return t('stats.all')
	return row[`${dim}_name`] || row[dim] || t('stats.none')
}

function formatNumber(value) {
	if (value === null || value === undefined) return '–'
	return Number.isInteger(value) ? value.toLocaleString('ja-JP') : value.toFixed(1)
}

function renderTable(rows, dims) {
	const columns = ['month', ...dims, ...MEASURES]
	ui.head.replaceChildren(
		...columns.map((c) => {
			const th = document.createElement('th')
			th.scope = 'col'
			setBilingual(th, `stats.col.${c}`)
			return th
		}),
	)
	ui.body.replaceChildren(
		...rows.map((row) => {
			const tr = document.createElement('tr')
			for (const c of columns) {
				const td = document.createElement('td')
				if (c === 'month') td.textContent = row.month
				else if (DIMENSIONS.includes(c)) td.textContent = dimensionLabel(row, c, dims)
				else {
					td.className = 'num'
					td.textContent = c === 'avg_rating' && row[c] !== null ? row[c].toFixed(2) : formatNumber(row[c])
				}
				tr.append(td)
			}
			return tr
		}),
	)
}

// ---- the chart ----

function renderChart(rows, dims) {
	if (typeof window.Chart !== 'function') {
		ui.chartBox.hidden = true
		ui.noChart.hidden = false
		return
	}
	const months = [...new Set(rows.map((r) => r.month))].sort()
	const groupOf = (r) => dims.map((d) => dimensionLabel(r, d, dims)).join(' / ') || t('stats.col.visits')
	const totals = new Map()
	for (const r of rows) totals.set(groupOf(r), (totals.get(groupOf(r)) || 0) + r.visits)
	const ranked = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a))
	const shown = new Set(ranked.slice(0, MAX_SERIES))
	const other = 'その他 / other'
	const series = new Map()
	for (const r of rows) {
		const name = shown.has(groupOf(r)) ? groupOf(r) : other
		if (!series.has(name)) series.set(name, new Array(months.length).fill(0))
		series.get(name)[months.indexOf(r.month)] += r.visits
	}
	const datasets = [...series].map(([label, data], i) => ({
		label,
		data,
		backgroundColor: `hsl(${(i * 137) % 360} 55% 50%)`,
	}))
	page.chart?.destroy()
	page.chart = new window.Chart(ui.chart, {
		type: 'bar',
		data: { labels: months, datasets },
		options: {
			animation: false,
			maintainAspectRatio: false,
			scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
			plugins: { title: { display: true, text: `${t('stats.chart_title')} / ${t('stats.chart_title', {}, 'en')}` } },
		},
	})
	ui.chartBox.hidden = false
	ui.noChart.hidden = true
}

// ---- start ----

function start() {
	applyI18n()
	const now = new Date()
	ui.to.value = monthString(now)
	ui.from.value = monthString(new Date(now.getFullYear(), now.getMonth() - 11, 1))
	ui.loginForm.addEventListener('submit', login)
	ui.queryForm.addEventListener('submit', load)
	ui.csv.addEventListener('click', downloadCsv)
	ui.logout.addEventListener('click', logout)
	if (page.token) showStats()
	else showLogin(null)
}

// The chart script is deferred and runs before this module (both wait for the document,
// classic deferred scripts first); a missing file just leaves window.Chart undefined.
start()
