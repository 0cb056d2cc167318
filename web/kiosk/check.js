// The kiosk's own health, in words a resident and branch staff understand: the start-up
// check screen (camera, microphone, connection, in large type, then the menu) and the plain
// lines staff mode shows after a self-test.
//
// The figures come from the server's self-test (`selftest`, HEALTH in docs/protocol.md),
// which decodes what this kiosk sends. A server without it answers bad_request: then the
// check is skipped quietly (the connecting screen simply gives way to the menu), and the
// menu never waits longer than CHECK_MAX_MS whatever the server does.

import { setBilingual } from '../lib/i18n.js'

export const CHECK_MAX_MS = 8000 // the menu appears by then, whatever happens
const CONNECT_WAIT_MS = 3000 // for the media to flow before asking for a test
const SHOW_SCREEN_AFTER_MS = 300 // a quick refusal never flashes the check screen
const RESULT_OK_MS = 1500 // how long a good result stays on screen
const RESULT_PROBLEM_MS = 3500 // ... and a bad one
const LOSS_UNSTABLE = 0.05 // packet loss above which the connection reads as unstable

// The three lines of a result: {what, ok, key} with key a message of kiosk.check.*.
// health may be null (no result): every line then reads "cannot be checked".
export function healthLines(health, pcState = 'connected') {
	const video = health?.video?.state
	const audio = health?.audio?.state
	const net = health?.network
	const line = (what, state, okState) => ({
		what,
		ok: state === okState,
		key: !state ? 'kiosk.check.unknown' : state === okState ? 'kiosk.check.ok' : `kiosk.check.${what}.${state}`,
	})
	let network
	if (pcState !== 'connected') network = { what: 'network', ok: false, key: 'kiosk.check.network.down' }
	else if (net && Number(net.loss) > LOSS_UNSTABLE)
		network = { what: 'network', ok: false, key: 'kiosk.check.network.unstable' }
	else network = { what: 'network', ok: true, key: 'kiosk.check.ok' }
	return [line('camera', video, 'ok'), line('mic', audio, 'ok'), network]
}

// Fills a list element with one row per line: the device's name, then its state.
export function renderHealth(list, lines) {
	list.replaceChildren(
		...lines.map((l) => {
			const row = document.createElement('li')
			row.dataset.what = l.what
			row.dataset.state = l.pending ? 'pending' : l.ok ? 'ok' : 'problem'
			const name = document.createElement('span')
			name.className = 'check-name'
			setBilingual(name, `kiosk.check.${l.what}`)
			const mark = document.createElement('span')
			mark.className = 'check-mark'
			mark.textContent = l.pending ? '…' : l.ok ? '○' : '×'
			mark.setAttribute('aria-hidden', 'true')
			const state = document.createElement('span')
			state.className = 'check-state'
			setBilingual(state, l.pending ? 'kiosk.check.pending' : l.key)
			row.append(mark, name, state)
			return row
		}),
	)
}

// Asks the server for a self-test of this kiosk. Resolves {status, health, code}: status
// 'done' with the HEALTH object, 'unsupported' (the server does not know selftest),
// 'failed' (another error, code says which) or 'timeout' (no reply within ms).
export function requestSelftest(client, ms) {
	let timer
	const timeout = new Promise((resolve) => {
		timer = setTimeout(() => resolve({ status: 'timeout', health: null, code: 'timeout' }), ms)
	})
	const asked = client
		.request('selftest')
		.then((reply) => ({ status: 'done', health: reply.health ?? null, code: null }))
		.catch((err) => ({
			status: err.code === 'bad_request' ? 'unsupported' : 'failed',
			health: null,
			code: err.code ?? 'error',
		}))
	return Promise.race([asked, timeout]).finally(() => clearTimeout(timer))
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
}

// Resolves once pc is connected, or after ms.
function connected(pc, ms) {
	if (!pc || pc.connectionState === 'connected') return Promise.resolve()
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer)
			pc.removeEventListener('connectionstatechange', onChange)
			resolve()
		}
		const onChange = () => {
			if (pc.connectionState === 'connected') done()
		}
		const timer = setTimeout(done, ms)
		pc.addEventListener('connectionstatechange', onChange)
	})
}

// The start-up check. opts: client, pc, list (the <ul> of the check screen), showScreen()
// (switches to the check screen), onResult(result) (also for a result that comes after the
// menu is up: staff's warning still wants it). Resolves with the result once the menu may
// appear: within CHECK_MAX_MS in every case.
export async function startupCheck({ client, pc, list, showScreen, onResult }) {
	const started = performance.now()
	const left = () => CHECK_MAX_MS - (performance.now() - started)
	const result = { status: 'running', health: null, code: null, shown: false, ms: 0 }
	await connected(pc, CONNECT_WAIT_MS)
	// The reply may come after the menu is up; the menu does not wait for it past the budget.
	const reply = requestSelftest(client, 6000)
	// Until the server has had a moment to refuse, the connecting screen stays.
	const showTimer = setTimeout(() => {
		result.shown = true
		renderHealth(list, ['camera', 'mic', 'network'].map((what) => ({ what, pending: true })))
		showScreen()
	}, SHOW_SCREEN_AFTER_MS)
	const first = await Promise.race([reply, sleep(left() - RESULT_OK_MS).then(() => null)])
	clearTimeout(showTimer)
	const finish = (r) => {
		Object.assign(result, r, { ms: Math.round(performance.now() - started) })
		onResult?.(result)
		return result
	}
	if (first === null) {
		// Too slow for the start-up screen; a late answer still reaches staff's warning.
		reply.then((late) => finish(late))
		return Object.assign(result, { status: 'timeout', ms: Math.round(performance.now() - started) })
	}
	finish(first)
	if (first.status !== 'done') return result // skipped quietly
	const lines = healthLines(first.health, pc?.connectionState ?? 'new')
	if (!result.shown) {
		result.shown = true
		showScreen()
	}
	renderHealth(list, lines)
	const problem = lines.some((l) => !l.ok)
	await sleep(Math.min(problem ? RESULT_PROBLEM_MS : RESULT_OK_MS, left()))
	return result
}
