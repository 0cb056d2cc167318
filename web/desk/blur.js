// Background blur for the clerk's camera (issue 14, item 5): everything but the clerk is
// blurred in the browser before the picture is sent, because personal files lie on the desks
// behind the clerks.
//
// The person mask comes from MediaPipe's selfie segmentation (npm @mediapipe/selfie_segmentation,
// Apache-2.0): its script, WebAssembly and model files are copied into web/vendor/
// selfie_segmentation/ by run.sh, tests/run.sh and deploy/build-deb.sh and served by our own
// server; nothing is fetched from anywhere else. The model needs the DOM (it draws with
// WebGL), so it runs on the page, on a small copy of a frame (SEG_WIDTH wide), whenever it is
// free, at most SEG_MAX_FPS times a second and a SEG_DUTY share of the time. Compositing
// (blur_composite.js) does not wait for it: every camera frame is composited with the latest
// mask, so the outgoing picture keeps the camera's frame rate even when the model is slower
// than the camera (the mask then lags by a frame or a few).
//
// Where the browser has MediaStreamTrackProcessor and MediaStreamTrackGenerator (Chromium),
// frames go through a worker (blur_worker.js): frame-driven, off the main thread, so neither a
// busy page nor a background tab stops the picture. Elsewhere, a hidden <video> with
// requestVideoFrameCallback on the page into canvas.captureStream().
//
// The page sends `track` (replaceTrack on the camera transceiver): the blurred track while the
// switch is on and the model runs, the camera's own track otherwise. The document track never
// comes here. When the model cannot be loaded, state turns 'failed' and onChange tells the
// page, which sends the camera as it is and says so.
//
// Test hook: setTestMask(canvas) replaces the model's mask with a fixed one (alpha = person),
// so a test can check the compositing against a mask it knows; setTestMask(null) goes back to
// the model.

import { Compositor } from './blur_composite.js'

const VENDOR = new URL('../vendor/selfie_segmentation/', import.meta.url)
const SCRIPT = 'selfie_segmentation.js'
// The general model (modelSelection 0, 256x256 input). The landscape one (1, 256x144) is
// faster, but its masks are much less sure of themselves (mask values of 0.3 to 0.5 over a
// whole figure the general model marks at 0.9 and more), which lets the desk behind show
// through the clerk's outline; the general model's sharper masks are worth its cost.
const MODEL = 0
const SEG_WIDTH = 256
// The model runs at most this often: a mask a little older costs nothing visible, and a fast
// PC need not spend a core on masks the camera's frame rate could not use.
const SEG_MAX_FPS = 15
// ...and at most this share of the time. On a PC without a GPU driver, WebGL runs in software
// in Chromium's GPU process and every camera frame read waits there while the model runs
// (measured: 0.5 to 0.8 s a mask on the test machine), so a model running back to back would
// hold the picture at its own pace. With a quarter of the time, the picture keeps about
// three quarters of the camera's frame rate there, and the outline follows every second or
// two; with a GPU (a few ms a mask) the cap above is what counts.
const SEG_DUTY = 0.25
const LOAD_TIMEOUT_MS = 30000

export class CameraBlur {
	#onChange
	#raw = null // the camera track
	#out = null // the blurred track
	#enabled = true
	#state = 'off' // 'off' (no camera yet, or switched off), 'loading', 'running', 'failed'
	#error = null
	#seg = null
	#segLoading = null
	#pipeline = null // {worker, want(), stop(), setMask(mask), publish(canvas)}: worker or page
	#segInput = null // the small copy of the frame the model reads
	#segCtx = null
	#mask = null // the latest mask (alpha = person)
	#maskCtx = null
	#testMask = null
	#stats = { segmentations: 0, segMs: 0, since: 0, framesAt0: 0, msAt0: 0 }
	#framesTotal = 0
	#compositeMs = 0 // the time spent compositing, over #framesTotal frames
	#workerMs = null // the worker's totals (ms): the model's copies, writes, drawing and its steps

	// onChange({track, state, error}): the track to send changed (switch, model loaded or
	// failed).
	constructor({ onChange } = {}) {
		this.#onChange = onChange ?? (() => {})
	}

	get enabled() {
		return this.#enabled
	}

	get state() {
		return this.#state
	}

	get error() {
		return this.#error
	}

	// The camera's own track.
	get camera() {
		return this.#raw
	}

	// The track the camera transceiver should send now.
	get track() {
		return this.#enabled && this.#state === 'running' && this.#out ? this.#out : this.#raw
	}

	// Counters for the tests: frames composited, masks computed, mean model time per mask,
	// and the rates since the last resetStats().
	get info() {
		const s = this.#stats
		const secs = (performance.now() - s.since) / 1000
		const frames = this.#framesTotal - s.framesAt0
		return {
			compositeMs: frames ? (this.#compositeMs - s.msAt0) / frames : 0,
			workerMs: this.#workerMs,
			state: this.#state,
			enabled: this.#enabled,
			error: this.#error,
			worker: this.#pipeline?.worker ?? false,
			frames,
			segmentations: s.segmentations,
			fps: secs > 0 ? frames / secs : 0,
			segFps: secs > 0 ? s.segmentations / secs : 0,
			segMs: s.segmentations ? s.segMs / s.segmentations : 0,
			outTrack: this.#out?.id ?? null,
			rawTrack: this.#raw?.id ?? null,
			testMask: this.#testMask !== null,
		}
	}

	resetStats() {
		this.#stats = {
			segmentations: 0,
			segMs: 0,
			since: performance.now(),
			framesAt0: this.#framesTotal,
			msAt0: this.#compositeMs,
		}
	}

	// Starts blurring camera track raw (once per camera), if the switch is on. Resolves when
	// the model is loaded or has failed; never rejects.
	async start(raw) {
		if (!raw || raw === this.#raw) return
		this.#stop()
		this.#raw = raw
		this.#error = null
		if (this.#enabled) await this.#run(raw)
		else this.#setState('off')
	}

	async #run(raw) {
		this.#setState('loading')
		try {
			// One load, however often the switch goes off and on while it runs.
			this.#segLoading ??= withTimeout(loadModel((r) => this.#onMask(r)), LOAD_TIMEOUT_MS)
			this.#seg = await this.#segLoading
			if (raw !== this.#raw || !this.#enabled || this.#pipeline) return
			this.#startPipeline(raw)
			this.resetStats()
			this.#setState('running')
		} catch (err) {
			if (raw !== this.#raw) return
			console.error('madoguchi: background blur unavailable', err)
			this.#error = err.message || String(err)
			this.#stop()
			this.#setState('failed')
		}
	}

	// Switched off, nothing runs (no model, no compositing: the camera goes out as it is);
	// switched on again, the pipeline starts again with the model already loaded.
	setEnabled(on) {
		if (this.#enabled === on) return
		this.#enabled = on
		if (this.#state === 'failed') {
			this.#onChange({ track: this.track, state: this.#state, error: this.#error })
			return
		}
		if (!on) {
			this.#stop()
			this.#setState('off')
		} else if (this.#raw) {
			this.#run(this.#raw)
		}
	}

	// A fixed mask (a canvas whose alpha marks the person) instead of the model's; null: the
	// model's again. For tests.
	setTestMask(canvas) {
		this.#testMask = canvas ?? null
		if (this.#testMask) this.#publishMask(this.#testMask)
		else this.#pipeline?.setMask(null)
	}

	#setState(state) {
		this.#state = state
		this.#onChange({ track: this.track, state, error: this.#error })
	}

	#stop() {
		this.#pipeline?.stop()
		this.#pipeline = null
		this.#out?.stop()
		this.#out = null
	}

	// --- The pipeline ------------------------------------------------------------------

	#startPipeline(raw) {
		// Software canvases (willReadFrequently): a GPU-backed mask would have to be read back
		// through the GPU process for the worker, behind the model's own WebGL work.
		this.#segInput ??= document.createElement('canvas')
		this.#segCtx ??= this.#segInput.getContext('2d', { alpha: false, willReadFrequently: true })
		this.#mask ??= document.createElement('canvas')
		this.#maskCtx ??= this.#mask.getContext('2d', { willReadFrequently: true })
		const worker = globalThis.MediaStreamTrackProcessor && globalThis.MediaStreamTrackGenerator && globalThis.Worker
		this.#pipeline = worker ? this.#workerPipeline(raw) : this.#pagePipeline(raw)
		if (this.#testMask) this.#publishMask(this.#testMask)
		this.#pipeline.want()
	}

	// Chromium: VideoFrames in and out through a worker, with the camera's timestamps.
	#workerPipeline(raw) {
		const processor = new MediaStreamTrackProcessor({ track: raw })
		const gen = new MediaStreamTrackGenerator({ kind: 'video' })
		const w = new Worker(new URL('./blur_worker.js', import.meta.url), { type: 'module' })
		w.onmessage = (ev) => {
			const m = ev.data
			if (m.type === 'frame') this.#segment(m.bitmap, () => pipeline.want())
			else if (m.type === 'count') {
				this.#framesTotal = m.frames
				this.#compositeMs = m.ms
				this.#workerMs = { bitmapMs: m.waitMs, writeMs: m.writeMs, drawMs: m.drawMs, steps: m.steps, frames: m.frames }
			}
			else if (m.type === 'error') this.#pipelineFailed(pipeline, `blur worker: ${m.message}`)
		}
		w.onerror = (ev) => this.#pipelineFailed(pipeline, `blur worker: ${ev.message}`)
		w.postMessage({ type: 'start', readable: processor.readable, writable: gen.writable, segWidth: SEG_WIDTH }, [
			processor.readable,
			gen.writable,
		])
		this.#out = gen
		const pipeline = {
			worker: true,
			want: () => w.postMessage({ type: 'want' }),
			stop: () => w.terminate(),
			setMask: (bitmap) => w.postMessage({ type: 'mask', mask: bitmap }, bitmap ? [bitmap] : []),
			publish: async (canvas) => pipeline.setMask(await createImageBitmap(canvas)),
		}
		return pipeline
	}

	// The blurred picture stopped: send the camera as it is, and say so (state 'failed').
	#pipelineFailed(pipeline, message) {
		if (this.#pipeline !== pipeline) return
		console.error('madoguchi: background blur stopped:', message)
		this.#error = message
		this.#stop()
		this.#setState('failed')
	}

	// Elsewhere: a hidden video element, one composite per presented frame on the page, into
	// a canvas captured as a track (a new frame whenever the canvas is drawn).
	#pagePipeline(raw) {
		const compositor = new Compositor((cw, ch) => Object.assign(document.createElement('canvas'), { width: cw, height: ch }))
		const video = document.createElement('video')
		video.muted = true
		video.playsInline = true
		video.srcObject = new MediaStream([raw])
		video.play().catch(() => {})
		let running = true
		let wanted = false
		const step = () => {
			if (!running) return
			const w = video.videoWidth
			const h = video.videoHeight
			if (w > 0) {
				if (wanted) {
					wanted = false
					this.#segment(video, () => (wanted = true))
				}
				const t0 = performance.now()
				compositor.draw(video, w, h)
				this.#compositeMs += performance.now() - t0
				this.#framesTotal++
			}
			if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(step)
			else requestAnimationFrame(step)
		}
		step()
		this.#out = compositor.canvas.captureStream().getVideoTracks()[0]
		return {
			worker: false,
			want: () => (wanted = true),
			stop: () => {
				running = false
				video.srcObject = null
			},
			setMask: (mask) => compositor.setMask(mask),
			// The page's compositor reads the mask canvas itself, as it is redrawn.
			publish: async (canvas) => compositor.setMask(canvas),
		}
	}

	// Runs the model on image (an ImageBitmap, which this closes, or a video element), then
	// calls next() so that the pipeline hands over the next frame.
	#segment(image, next) {
		if (this.#testMask || !this.#seg) {
			image.close?.()
			setTimeout(next, 100)
			return
		}
		const s = this.#segInput
		const w = image.videoWidth ?? image.width
		const h = image.videoHeight ?? image.height
		const sh = Math.round((SEG_WIDTH * h) / w)
		if (s.width !== SEG_WIDTH || s.height !== sh) {
			s.width = SEG_WIDTH
			s.height = sh
		}
		this.#segCtx.drawImage(image, 0, 0, SEG_WIDTH, sh)
		image.close?.()
		const t0 = performance.now()
		this.#seg
			.send({ image: s })
			.then(async () => {
				this.#stats.segmentations++
				this.#stats.segMs += performance.now() - t0
				if (!this.#testMask) await this.#publishMask(this.#mask)
			})
			.catch((err) => console.warn('madoguchi: segmentation failed', err))
			.finally(() => {
				const took = performance.now() - t0
				setTimeout(next, Math.max(1000 / SEG_MAX_FPS - took, (took * (1 - SEG_DUTY)) / SEG_DUTY))
			})
	}

	// The model's result is only valid during its callback: keep a copy (published to the
	// compositor once send() is done).
	#onMask(results) {
		if (this.#testMask) return
		this.#copyInto(results.segmentationMask)
	}

	#copyInto(source) {
		const m = this.#mask
		if (!m) return
		if (m.width !== source.width || m.height !== source.height) {
			m.width = source.width
			m.height = source.height
		}
		this.#maskCtx.globalCompositeOperation = 'copy'
		this.#maskCtx.drawImage(source, 0, 0)
	}

	async #publishMask(canvas) {
		await this.#pipeline?.publish(canvas)
	}
}

// Loads the vendored script once (a classic script: it defines window.SelfieSegmentation)
// and initialises the model from our own server. Rejects when any file is missing.
let scriptLoaded = null
function loadScript() {
	scriptLoaded ??= new Promise((resolve, reject) => {
		const s = document.createElement('script')
		s.src = new URL(SCRIPT, VENDOR).href
		s.onload = () => resolve()
		s.onerror = () => {
			scriptLoaded = null
			reject(new Error(`cannot load ${s.src}`))
		}
		document.head.append(s)
	})
	return scriptLoaded
}

async function loadModel(onResults) {
	await loadScript()
	if (typeof globalThis.SelfieSegmentation !== 'function') {
		throw new Error(`${SCRIPT} did not define SelfieSegmentation`)
	}
	const seg = new globalThis.SelfieSegmentation({ locateFile: (file) => new URL(file, VENDOR).href })
	seg.setOptions({ modelSelection: MODEL, selfieMode: false })
	seg.onResults(onResults)
	await seg.initialize()
	// One frame through the whole graph: a model that loads but cannot run fails here.
	const probe = document.createElement('canvas')
	probe.width = SEG_WIDTH
	probe.height = Math.round((SEG_WIDTH * 3) / 4)
	probe.getContext('2d').fillRect(0, 0, probe.width, probe.height)
	await seg.send({ image: probe })
	return seg
}

function withTimeout(promise, ms) {
	let timer
	return Promise.race([
		promise,
		new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`the blur model did not load within ${ms} ms`)), ms)
		}),
	]).finally(() => clearTimeout(timer))
}
