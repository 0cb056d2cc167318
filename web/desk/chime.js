// A soft two-note chime, repeated while a call is ringing, made with WebAudio so the page
// needs no sound file. Browsers only let audio start after a user gesture: call unlock()
// from one (the login button) before the first ring.

const REPEAT_MS = 3000
const NOTES_HZ = [880, 660]
const NOTE_S = 0.35
const VOLUME = 0.08

export class Chime {
	#ctx = null
	#timer = null

	unlock() {
		if (!this.#ctx && window.AudioContext) this.#ctx = new AudioContext()
		if (this.#ctx?.state === 'suspended') this.#ctx.resume().catch(() => {})
	}

	get ringing() {
		return this.#timer !== null
	}

	start() {
		if (this.#timer !== null) return
		this.#play()
		this.#timer = setInterval(() => this.#play(), REPEAT_MS)
	}

	stop() {
		clearInterval(this.#timer)
		this.#timer = null
	}

	#play() {
		const ctx = this.#ctx
		if (!ctx || ctx.state !== 'running') return
		NOTES_HZ.forEach((hz, i) => {
			const start = ctx.currentTime + i * NOTE_S
			const osc = ctx.createOscillator()
			const gain = ctx.createGain()
			osc.type = 'sine'
			osc.frequency.value = hz
			// A quick attack and an exponential decay sound like a bell rather than a beep.
			gain.gain.setValueAtTime(0.0001, start)
			gain.gain.exponentialRampToValueAtTime(VOLUME, start + 0.02)
			gain.gain.exponentialRampToValueAtTime(0.0001, start + NOTE_S)
			osc.connect(gain).connect(ctx.destination)
			osc.start(start)
			osc.stop(start + NOTE_S + 0.05)
		})
	}
}
