// The blur's frame loop, off the page's main thread (blur.js): camera frames in through the
// MediaStreamTrackProcessor's stream, blurred frames out through the generator's, composited
// with the latest mask. The model runs on the page (it needs the DOM); whenever the page says
// it is free ('want'), the next frame goes to it as a small ImageBitmap. So a slow model costs
// the mask's freshness, not the outgoing frame rate, and never stalls this loop.
//
// Messages in: {type: 'start', readable, writable, segWidth}, {type: 'mask', mask} (an
// ImageBitmap or null), {type: 'want'}. Out: {type: 'frame', bitmap}, {type: 'count', frames,
// ms} (frames composited so far, and the milliseconds they took), {type: 'error', message}.

import { Compositor } from './blur_composite.js'

const compositor = new Compositor((w, h) => new OffscreenCanvas(w, h))
let want = false
let segWidth = 256
let frames = 0
let ms = 0
let waitMs = 0 // in createImageBitmap for the model's copy
let writeMs = 0 // in the generator's write
let drawMs = 0 // of ms, in drawing (the rest: making the VideoFrame)

self.onmessage = (ev) => {
	const m = ev.data
	if (m.type === 'start') {
		segWidth = m.segWidth ?? segWidth
		run(m.readable, m.writable).catch((err) => self.postMessage({ type: 'error', message: String(err?.message ?? err) }))
	} else if (m.type === 'mask') {
		compositor.setMask(m.mask)
	} else if (m.type === 'want') {
		want = true
	}
}

async function run(readable, writable) {
	const reader = readable.getReader()
	const writer = writable.getWriter()
	for (;;) {
		const { value: frame, done } = await reader.read()
		if (done) break
		try {
			const w = frame.displayWidth
			const h = frame.displayHeight
			if (want) {
				want = false
				const tb = performance.now()
				const bitmap = await createImageBitmap(frame, {
					resizeWidth: segWidth,
					resizeHeight: Math.round((segWidth * h) / w),
				})
				waitMs += performance.now() - tb
				self.postMessage({ type: 'frame', bitmap }, [bitmap])
			}
			const t0 = performance.now()
			const canvas = compositor.draw(frame, w, h)
			drawMs += performance.now() - t0
			const out = new VideoFrame(canvas, { timestamp: frame.timestamp })
			const t1 = performance.now()
			ms += t1 - t0
			await writer.write(out).catch(() => out.close())
			writeMs += performance.now() - t1
			if (++frames % 5 === 0) self.postMessage({ type: 'count', frames, ms, waitMs, writeMs, drawMs, steps: compositor.times })
		} finally {
			frame.close()
		}
	}
	await writer.close().catch(() => {})
}
