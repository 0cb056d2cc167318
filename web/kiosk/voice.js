// Spoken prompts for residents who cannot read the screen well: "please wait" (queued),
// "connecting" (calling) and "the call has ended", in Japanese. The files are synthesised
// offline at build time (deploy/make-voices.sh) into voice/*.wav; a missing file or a
// refused play() stays silent, the screen says the same in writing. Prompts play one after
// the other; "ended" cuts short whatever is still playing or waiting.

const audios = new Map()
const waiting = []
let current = null

// What was asked and what actually started playing, for tests and staff checks.
// loaded: the prompts whose audio has fully arrived (preload below).
export const voiceLog = { asked: [], played: [], failed: [], loaded: [] }

function audioFor(name) {
	let a = audios.get(name)
	if (!a) {
		a = new Audio(new URL(`voice/${name}.wav`, import.meta.url).href)
		a.preload = 'auto'
		a.addEventListener('canplaythrough', () => {
			if (!voiceLog.loaded.includes(name)) voiceLog.loaded.push(name)
		}, { once: true })
		a.addEventListener('ended', next)
		a.addEventListener('error', next)
		audios.set(name, a)
	}
	return a
}

function next() {
	current = null
	const name = waiting.shift()
	if (!name) return
	const a = audioFor(name)
	current = a
	try {
		a.currentTime = 0
		a.play().then(() => voiceLog.played.push(name), () => {
			voiceLog.failed.push(name)
			if (current === a) next()
		})
	} catch {
		voiceLog.failed.push(name)
		next()
	}
}

// Every prompt is fetched right after the page has loaded, while the kiosk is idle: fetched
// on the first speak(), "connecting" (90 kB) crossed a narrow branch line exactly when the
// call's first video keyframes did, and the line dropped both (a 600 kbit/s line takes 1.2 s
// for it). Not before the load event: a media element that is fetching holds the page's load
// event back, and half a megabyte of prompts on a slow line (or a server restarting under
// the fetch) kept the kiosk from loading at all.
export const VOICES = ['connecting', 'wait', 'ended']
const preload = () => {
	for (const name of VOICES) audioFor(name)
}
if (document.readyState === 'complete') preload()
else window.addEventListener('load', preload, { once: true })

export function speak(name, { interrupt = false } = {}) {
	voiceLog.asked.push(name)
	if (interrupt) {
		waiting.length = 0
		if (current) current.pause()
		current = null
	}
	waiting.push(name)
	if (!current) next()
}
