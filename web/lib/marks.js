// Marks on a shared document (docs/protocol.md, "Marking the document"): rectangles,
// circles and arrows, in fractions of the document's picture, drawn as SVG over a <video>.
//
// The overlay covers exactly the part of the element the picture fills: with
// `object-fit: contain` (web/lib/base.css) a 4:3 document in a wide tile is letterboxed, and a
// mark at x = 0.5 must sit in the middle of the picture, not of the tile. The overlay follows
// the element's size (ResizeObserver) and the picture's (the video's `resize` event).
//
// A shape is {kind: 'rect'|'circle'|'arrow', x, y, w, h, color}: rect and circle span the box
// (x, y, w, h), the circle being the ellipse inscribed in it; an arrow goes from (x, y) to its
// head at (x + w, y + h).

const SVG = 'http://www.w3.org/2000/svg'
export const DEFAULT_COLOR = '#ff4da6'
export const MAX_SHAPES = 50
const STROKE_PX = 4

function svg(tag, attrs = {}) {
	const e = document.createElementNS(SVG, tag)
	for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
	return e
}

// The picture's box inside a <video> (or <img>, <canvas>) in CSS pixels, relative to the
// element's content box: {left, top, width, height}. Follows object-fit (contain, cover, fill,
// none, scale-down) with the default centred object-position. Before the first frame the
// intrinsic size is unknown and the whole element counts.
export function pictureBox(media) {
	const cw = media.clientWidth
	const ch = media.clientHeight
	const iw = media.videoWidth ?? media.naturalWidth ?? media.width ?? 0
	const ih = media.videoHeight ?? media.naturalHeight ?? media.height ?? 0
	if (!iw || !ih || !cw || !ch) return { left: 0, top: 0, width: cw, height: ch }
	const fit = getComputedStyle(media).objectFit
	let sx = cw / iw
	let sy = ch / ih
	if (fit === 'contain') sx = sy = Math.min(sx, sy)
	else if (fit === 'cover') sx = sy = Math.max(sx, sy)
	else if (fit === 'none') sx = sy = 1
	else if (fit === 'scale-down') sx = sy = Math.min(1, sx, sy)
	const width = iw * sx
	const height = ih * sy
	return { left: (cw - width) / 2, top: (ch - height) / 2, width, height }
}

// Whether a shape is one the server accepts (see docs/protocol.md); used before sending.
export function validShape(s) {
	const ok = (v, lo = 0) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= 1
	if (!s || !['rect', 'circle', 'arrow'].includes(s.kind)) return false
	const lo = s.kind === 'arrow' ? -1 : 0
	if (!ok(s.x) || !ok(s.y) || !ok(s.w, lo) || !ok(s.h, lo)) return false
	const ex = s.x + s.w
	const ey = s.y + s.h
	return ex >= -1e-6 && ex <= 1 + 1e-6 && ey >= -1e-6 && ey <= 1 + 1e-6
}

// Builds the SVG element of one shape in a picture of width x height pixels. Every element
// carries data-mark (its kind) so that pages and tests can find them.
function shapeElement(s, width, height) {
	const color = /^#[0-9a-fA-F]{6}$/.test(s.color ?? '') ? s.color : DEFAULT_COLOR
	const stroke = { stroke: color, 'stroke-width': STROKE_PX, fill: 'none', 'stroke-linecap': 'round' }
	const x = s.x * width
	const y = s.y * height
	const w = s.w * width
	const h = s.h * height
	if (s.kind === 'rect') return svg('rect', { ...stroke, x, y, width: w, height: h, 'data-mark': 'rect' })
	if (s.kind === 'circle') {
		return svg('ellipse', { ...stroke, cx: x + w / 2, cy: y + h / 2, rx: w / 2, ry: h / 2, 'data-mark': 'circle' })
	}
	const g = svg('g', { 'data-mark': 'arrow' })
	g.append(svg('line', { ...stroke, x1: x, y1: y, x2: x + w, y2: y + h }))
	// The head: two strokes back from the tip, 25 degrees either side of the shaft.
	const len = Math.hypot(w, h)
	if (len > 0) {
		const head = Math.min(24, len * 0.4)
		const a = Math.atan2(h, w)
		const tip = [x + w, y + h]
		const side = (d) => [tip[0] - head * Math.cos(a + d), tip[1] - head * Math.sin(a + d)]
		const [l, r] = [side(0.44), side(-0.44)]
		g.append(svg('path', { ...stroke, 'stroke-linejoin': 'round', d: `M${l[0]},${l[1]} L${tip[0]},${tip[1]} L${r[0]},${r[1]}` }))
	}
	return g
}

// An SVG layer over one media element, inside its positioned container (the element's tile).
export class MarkLayer {
	#media
	#svg
	#shapes = []
	#preview = null // a shape being drawn, shown dashed
	#cursor = null // {x, y} fractions: the keyboard cursor, or null
	#observer

	// media: the <video> showing the document; container: its positioned parent.
	constructor(media, container, { className = 'marks' } = {}) {
		this.#media = media
		this.#svg = svg('svg', { class: className, 'aria-hidden': 'true' })
		this.#svg.style.position = 'absolute'
		container.append(this.#svg)
		this.#observer = new ResizeObserver(() => this.render())
		this.#observer.observe(media)
		for (const ev of ['loadedmetadata', 'resize']) media.addEventListener(ev, () => this.render())
		this.render()
	}

	get element() {
		return this.#svg
	}

	get media() {
		return this.#media
	}

	get shapes() {
		return this.#shapes
	}

	set shapes(list) {
		this.#shapes = Array.isArray(list) ? list.filter(validShape) : []
		this.render()
	}

	set preview(shape) {
		this.#preview = shape && validShape(shape) ? shape : null
		this.render()
	}

	set cursor(point) {
		this.#cursor = point
		this.render()
	}

	// The picture's box relative to the container's padding box, in CSS pixels.
	box() {
		const pb = pictureBox(this.#media)
		const m = this.#media
		// offsetLeft/Top are relative to the offsetParent, the positioned container.
		return { left: m.offsetLeft + m.clientLeft + pb.left, top: m.offsetTop + m.clientTop + pb.top, width: pb.width, height: pb.height }
	}

	// A point of the viewport (clientX, clientY) as fractions of the picture, clamped to it.
	fractionAt(clientX, clientY) {
		const r = this.#media.getBoundingClientRect()
		const pb = pictureBox(this.#media)
		const fx = (clientX - r.left - this.#media.clientLeft - pb.left) / (pb.width || 1)
		const fy = (clientY - r.top - this.#media.clientTop - pb.top) / (pb.height || 1)
		return { x: Math.min(1, Math.max(0, fx)), y: Math.min(1, Math.max(0, fy)) }
	}

	render() {
		const b = this.box()
		const el = this.#svg
		Object.assign(el.style, { left: `${b.left}px`, top: `${b.top}px`, width: `${b.width}px`, height: `${b.height}px` })
		el.setAttribute('viewBox', `0 0 ${Math.max(1, b.width)} ${Math.max(1, b.height)}`)
		const parts = this.#shapes.map((s) => shapeElement(s, b.width, b.height))
		if (this.#preview) {
			const p = shapeElement(this.#preview, b.width, b.height)
			p.removeAttribute('data-mark')
			p.setAttribute('class', 'mark-preview')
			for (const c of [p, ...p.children]) c.setAttribute('stroke-dasharray', '8 6')
			parts.push(p)
		}
		if (this.#cursor) {
			const cx = this.#cursor.x * b.width
			const cy = this.#cursor.y * b.height
			const g = svg('g', { class: 'mark-cursor' })
			const line = { stroke: '#ffffff', 'stroke-width': 2 }
			g.append(
				svg('circle', { cx, cy, r: 10, fill: 'none', stroke: '#000000', 'stroke-width': 4 }),
				svg('circle', { cx, cy, r: 10, fill: 'none', ...line }),
				svg('line', { x1: cx - 16, y1: cy, x2: cx + 16, y2: cy, ...line }),
				svg('line', { x1: cx, y1: cy - 16, x2: cx, y2: cy + 16, ...line }),
			)
			parts.push(g)
		}
		el.replaceChildren(...parts)
	}
}
