// The guest interpreter's page (docs/protocol.md, "Guest interpreters"): the one-time code
// comes in the URL fragment (#code=…), which the browser never sends to the server except
// in our hello. Camera and microphone; the kiosk (resident) as the main picture and the
// clerk in the slot; 筆談 text both ways; a leave button (hangup). The session ends when the
// visit does.

import { $, exposeTestHooks, newSession, pageRemoteMedia } from '../lib/page.js'
import { partyLabel, playTrack } from '../lib/media.js'

const page = { state: 'connecting', self: null, visit: null }
const remote = pageRemoteMedia()
let session = null
const info = { textsReceived: 0 }

function status(text) {
	$('#status').textContent = text
}

function takeCode() {
	const m = /(?:^|[#&])code=([0-9a-f]{32})/.exec(location.hash)
	// Out of the address bar and history at once: the code is spent by this hello anyway.
	if (m) history.replaceState(null, '', location.pathname)
	return m ? m[1] : null
}

function addText(ev) {
	info.textsReceived++
	const li = document.createElement('li')
	li.textContent = `${partyLabel(ev.from) || ev.from?.role || ''}: ${ev.text}`
	$('#text-history').append(li)
	li.scrollIntoView({ block: 'nearest' })
}

function finish(text) {
	page.state = 'ended'
	status(text)
	$('#call').hidden = true
	$('#text').hidden = true
	$('#leave').hidden = true
	session?.stop?.()
}

function bindEvents(client) {
	client.on('slots', (ev) => remote.setSlots(ev.slots))
	client.on('connected', (ev) => remote.setParties(ev.parties))
	client.on('text', addText)
	client.on('ended', () => finish('相談は終了しました / The consultation has ended'))
}

async function onReady({ client, mids, reply }) {
	page.self = reply?.self ?? page.self
	page.visit = reply?.visit ?? page.visit
	remote.setMids(mids)
	const own = session?.stream
	if (own) playTrack($('#self-video'), own.getVideoTracks()[0])
	page.state = 'call'
	status('参加中 / In the consultation')
	$('#call').hidden = false
	$('#text').hidden = false
	$('#leave').hidden = false
}

async function send(ev) {
	ev.preventDefault()
	const input = $('#text-input')
	const text = input.value.trim()
	if (!text || !session?.client || !page.visit) return
	try {
		await session.client.request('text', { visit: page.visit, text })
		input.value = ''
	} catch (err) {
		status(`送信できません / Not sent (${err.code ?? err})`)
	}
}

async function leave() {
	try {
		await session?.client?.request('hangup', {})
	} catch {
		// leaving anyway
	}
	finish('退出しました / You left')
}

function main() {
	const code = takeCode()
	exposeTestHooks({ session: () => session, page, remote }, {
		get visit() {
			return page.visit
		},
		get guest() {
			return info
		},
	})
	if (!code) {
		page.state = 'error'
		status('招待リンクが正しくありません / This invitation link is not valid')
		return
	}
	$('#text-form').addEventListener('submit', send)
	$('#leave').addEventListener('click', leave)
	session = newSession({
		hello: () => ({ role: 'guest', code }),
		remote,
		onClient: bindEvents,
		onReady,
		onLost: () => status('再接続しています… / Reconnecting…'),
		onFatal: (err) => {
			page.state = 'error'
			status(err?.code === 'unauthorized'
				? 'この招待リンクは使用済みか期限切れです / This invitation was already used or has expired'
				: `接続できません / Cannot connect (${err?.code ?? err})`)
		},
	})
	session.start()
}

main()
