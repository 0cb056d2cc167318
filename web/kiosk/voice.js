// Spoken prompts for residents who cannot read the screen well: "please wait" (queued),
// "connecting" (calling) and "the call has ended", in Japanese. The files are synthesised
// offline at build time (deploy/make-voices.sh) into voice/*.wav; a missing file or a
// refused play() stays silent, the screen says the same in writing.

const audios = new Map()

// What was asked and what actually started playing, for tests and staff checks.
export const voiceLog = { asked: [], played: [], failed: [] }

export function speak(name) {
	voiceLog.asked.push(name)
	let a = audios.get(name)
	if (!a) {
		a = new Audio(new URL(`voice/${name}.wav`, import.meta.url).href)
		a.preload = 'auto'
		audios.set(name, a)
	}
	for (const other of audios.values()) if (other !== a) other.pause()
	try {
		a.currentTime = 0
		a.play().then(() => voiceLog.played.push(name), () => voiceLog.failed.push(name))
	} catch {
		voiceLog.failed.push(name)
	}
}
