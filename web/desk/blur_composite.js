// One blurred picture from a camera frame and a person mask (blur.js); used in the blur's
// worker (OffscreenCanvas) and, in browsers without one, on the page (canvas).
//
// The frame is drawn once into a canvas of its own (a camera frame may live in GPU memory:
// one read instead of three). The background is blurred at a quarter of the size, which costs
// a sixteenth and looks the same once scaled up, drawn a little larger than the picture so
// that the blur has picture to work with at the borders (a plain frame underneath would show
// the desk through the blur's transparent edges). Then the person: the frame cut out by the
// mask, whose alpha is the model's confidence. Where the mask is fully opaque the pixel is the
// camera's own. Until there is a mask, all of the picture is blurred.

export const BLUR_PX = 14 // at 640 pixels wide; scaled with the frame
const SMALL = 4 // the background is blurred at 1/SMALL of the size

export class Compositor {
	#mask = null

	// newCanvas(w, h): a canvas (document or OffscreenCanvas) of that size.
	constructor(newCanvas) {
		const make = (w, h, opts) => {
			const canvas = newCanvas(w, h)
			return { canvas, ctx: canvas.getContext('2d', opts) }
		}
		// Software canvases: their pixels are read for every outgoing frame anyway.
		const soft = { willReadFrequently: true }
		this.frame = make(640, 480, { alpha: false, ...soft })
		this.small = make(160, 120, { alpha: false, ...soft })
		this.person = make(640, 480, soft)
		this.out = make(640, 480, { alpha: false, ...soft })
		this.canvas = this.out.canvas
		// ms spent in each step, in total: reading the frame, the background, the person.
		this.times = { frame: 0, blur: 0, person: 0 }
	}

	// The mask for the next frames (an ImageBitmap, which this takes over and closes when
	// replaced, or a canvas the caller keeps drawing into); null: none, blur everything.
	setMask(mask) {
		if (this.#mask !== mask && typeof ImageBitmap !== 'undefined' && this.#mask instanceof ImageBitmap) {
			this.#mask.close()
		}
		this.#mask = mask
	}

	// Draws image (w x h) blurred but for the person; returns the canvas.
	draw(image, w, h) {
		this.#size(w, h)
		const t0 = performance.now()
		this.frame.ctx.drawImage(image, 0, 0, w, h)
		this.times.frame += performance.now() - t0
		return this.#compose(w, h)
	}

	#size(w, h) {
		const sw = Math.max(1, Math.round(w / SMALL))
		const sh = Math.max(1, Math.round(h / SMALL))
		for (const [c, cw, ch] of [[this.frame, w, h], [this.person, w, h], [this.out, w, h], [this.small, sw, sh]]) {
			if (c.canvas.width !== cw || c.canvas.height !== ch) {
				c.canvas.width = cw
				c.canvas.height = ch
			}
		}
	}

	// The picture from the frame now in this.frame.
	#compose(w, h) {
		const sw = this.small.canvas.width
		const sh = this.small.canvas.height
		const frame = this.frame.canvas
		const t1 = performance.now()
		const r = Math.max(1, Math.round((BLUR_PX * sw) / 160))
		const s = this.small.ctx
		s.filter = `blur(${r}px)`
		s.drawImage(frame, -2 * r, -2 * r, sw + 4 * r, sh + 4 * r)
		s.filter = 'none'
		const o = this.out.ctx
		o.globalCompositeOperation = 'copy'
		o.drawImage(this.small.canvas, 0, 0, w, h)
		o.globalCompositeOperation = 'source-over'
		const t2 = performance.now()
		this.times.blur += t2 - t1
		if (!this.#mask) return this.canvas
		const p = this.person.ctx
		p.globalCompositeOperation = 'copy'
		p.drawImage(this.#mask, 0, 0, w, h)
		p.globalCompositeOperation = 'source-in'
		p.drawImage(frame, 0, 0)
		o.drawImage(this.person.canvas, 0, 0)
		this.times.person += performance.now() - t2
		return this.canvas
	}
}
