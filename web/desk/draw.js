// Marking the shared document from the desk (docs/protocol.md, "Marking the document"): the
// clerk draws rectangles, circles and arrows over the document view, by mouse (drag) or by
// keyboard (focus the document, move a cursor with the arrow keys, Shift for larger steps,
// Space or Enter at the start and at the end, Escape to cancel). Each change sends the
// complete list of marks with `annotate`; the server echoes it to everyone in the room, this
// desk included, and whoever changed the marks last defines them (a second desk or a
// coordinator can add to them). The document view is the document someone else shares
// (#doc-video) or this desk's own shared document (#own-doc-video); marks follow the picture,
// not the tile (web/lib/marks.js).

import { setBilingual } from '../lib/i18n.js'
import { DEFAULT_COLOR, MAX_SHAPES, MarkLayer, validShape } from '../lib/marks.js'

const MIN_SIZE = 0.01 // a drag shorter than this is a click, not a mark
const STEP = 0.01 // keyboard cursor steps, as fractions of the picture
const BIG_STEP = 0.05

const clamp = (v) => Math.min(1, Math.max(0, v))
const round = (v) => Math.round(v * 10000) / 10000

// The shape of a tool between two points (fractions), or null when it is too small.
export function shapeBetween(kind, a, b, color) {
	const ax = round(clamp(a.x))
	const ay = round(clamp(a.y))
	const bx = round(clamp(b.x))
	const by = round(clamp(b.y))
	if (Math.max(Math.abs(bx - ax), Math.abs(by - ay)) < MIN_SIZE) return null
	const s = kind === 'arrow'
		? { kind, x: ax, y: ay, w: bx - ax, h: by - ay, color }
		: { kind, x: Math.min(ax, bx), y: Math.min(ay, by), w: Math.abs(bx - ax), h: Math.abs(by - ay), color }
	return validShape(s) ? s : null
}

export class DeskMarks {
	#client
	#visit
	#selfId
	#ui
	#layers
	#shapes = []
	#lastFrom = null
	#tool = 'rect'
	#drag = null // {layer, start, pointerId} while the mouse draws
	#keyStart = null // the start point the keyboard marked
	#cursor = { x: 0.5, y: 0.5 }
	info = { sent: 0, received: 0, lastError: null }

	// ui: {toolbar, tools (buttons with data-tool), color (input), undo, clear, error,
	// views: [{video, tile}]}. client() gives the protocol client, visit() the current visit
	// (null when in no call), selfId() this desk's party id.
	constructor({ client, visit, selfId, ui }) {
		this.#client = client
		this.#visit = visit
		this.#selfId = selfId
		this.#ui = ui
		ui.color.value = DEFAULT_COLOR
		for (const b of ui.tools) b.addEventListener('click', () => this.selectTool(b.dataset.tool))
		ui.undo.addEventListener('click', () => {
			if (this.#shapes.length > 0) this.#commit(this.#shapes.slice(0, -1))
		})
		ui.clear.addEventListener('click', () => {
			if (this.#shapes.length > 0) this.#commit([])
		})
		this.#layers = ui.views.map(({ video, tile }) => this.#makeLayer(video, tile))
		// The toolbar shows while some document view does; a view appears and disappears with
		// the `slots` events and this desk's sharing, which toggle the tiles' hidden flag.
		const watch = new MutationObserver(() => this.refresh())
		for (const { tile } of ui.views) watch.observe(tile, { attributes: true, attributeFilter: ['hidden'] })
		this.selectTool('rect')
		this.refresh()
	}

	get shapes() {
		return this.#shapes
	}

	get tool() {
		return this.#tool
	}

	selectTool(kind) {
		this.#tool = ['rect', 'circle', 'arrow'].includes(kind) ? kind : 'rect'
		for (const b of this.#ui.tools) b.setAttribute('aria-pressed', String(b.dataset.tool === this.#tool))
	}

	// Shows the toolbar while a document view is visible. When the last view goes (sharing
	// stopped) the marks no longer point at anything: they are cleared for everyone.
	refresh() {
		const visible = this.#layers.some((l) => !l.element.parentElement.hidden)
		const was = !this.#ui.toolbar.hidden
		this.#ui.toolbar.hidden = !visible
		if (was && !visible && this.#shapes.length > 0 && this.#visit()) this.#commit([], { quiet: true })
		for (const l of this.#layers) l.render()
	}

	// The `annotate` event: the complete set of marks now.
	onAnnotate(ev) {
		if (!ev || ev.visit !== this.#visit() || !Array.isArray(ev.shapes)) return
		this.info.received++
		this.#lastFrom = ev.from?.id ?? null
		this.#setShapes(ev.shapes)
	}

	// The room changed (a coordinator or another desk joined): they have not seen the marks,
	// since the server keeps none. The desk that drew last sends them again.
	resend() {
		if (this.#shapes.length > 0 && this.#lastFrom === this.#selfId() && this.#visit())
			this.#commit(this.#shapes, { quiet: true })
	}

	// The leg ended: the marks go (locally; the others' pages clear them with the leg too).
	reset() {
		this.#drag = null
		this.#keyStart = null
		this.#lastFrom = null
		this.#setShapes([])
		this.#ui.error.hidden = true
	}

	#setShapes(list) {
		this.#shapes = list.filter(validShape)
		for (const l of this.#layers) l.shapes = this.#shapes
	}

	async #commit(list, { quiet = false } = {}) {
		const visit = this.#visit()
		if (!visit) return
		if (list.length > MAX_SHAPES) {
			this.#error('desk.marks.too_many', { n: MAX_SHAPES })
			return
		}
		this.#setShapes(list) // at once, before the echo
		this.#lastFrom = this.#selfId()
		try {
			await this.#client().request('annotate', { visit, shapes: list })
			this.info.sent++
			this.#ui.error.hidden = true
		} catch (err) {
			this.info.lastError = err.code ?? String(err)
			if (!quiet) this.#error('desk.marks.failed', { detail: err.code || err.message })
		}
	}

	#add(shape) {
		if (shape) this.#commit([...this.#shapes, shape])
	}

	#error(key, params) {
		setBilingual(this.#ui.error, key, params)
		this.#ui.error.hidden = false
	}

	#color() {
		return /^#[0-9a-f]{6}$/i.test(this.#ui.color.value) ? this.#ui.color.value.toLowerCase() : DEFAULT_COLOR
	}

	#makeLayer(video, tile) {
		const layer = new MarkLayer(video, tile, { className: 'marks drawable' })
		const svg = layer.element
		svg.removeAttribute('aria-hidden')
		svg.setAttribute('tabindex', '0')
		svg.setAttribute('role', 'application')
		svg.setAttribute('aria-roledescription', '書き込み / drawing area')
		svg.setAttribute('aria-label', '資料に印を付けます。矢印キーで移動、スペースかEnterで始点と終点、Escで取り消し。 ' +
			'Mark the document: arrow keys move, Space or Enter sets the start and the end, Escape cancels.')

		svg.addEventListener('pointerdown', (ev) => {
			if (ev.button !== 0 || !this.#visit()) return
			ev.preventDefault()
			svg.setPointerCapture(ev.pointerId)
			this.#drag = { layer, start: layer.fractionAt(ev.clientX, ev.clientY), pointerId: ev.pointerId }
		})
		svg.addEventListener('pointermove', (ev) => {
			if (this.#drag?.layer !== layer || this.#drag.pointerId !== ev.pointerId) return
			layer.preview = shapeBetween(this.#tool, this.#drag.start, layer.fractionAt(ev.clientX, ev.clientY), this.#color())
		})
		const finish = (ev, keep) => {
			if (this.#drag?.layer !== layer || this.#drag.pointerId !== ev.pointerId) return
			const { start } = this.#drag
			this.#drag = null
			layer.preview = null
			if (keep) this.#add(shapeBetween(this.#tool, start, layer.fractionAt(ev.clientX, ev.clientY), this.#color()))
		}
		svg.addEventListener('pointerup', (ev) => finish(ev, true))
		svg.addEventListener('pointercancel', (ev) => finish(ev, false))

		svg.addEventListener('focus', () => (layer.cursor = this.#cursor))
		svg.addEventListener('blur', () => {
			this.#keyStart = null
			layer.preview = null
			layer.cursor = null
		})
		svg.addEventListener('keydown', (ev) => this.#onKey(ev, layer))
		return layer
	}

	#onKey(ev, layer) {
		const step = ev.shiftKey ? BIG_STEP : STEP
		const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }
		if (ev.key in moves) {
			const [dx, dy] = moves[ev.key]
			this.#cursor = { x: clamp(this.#cursor.x + dx), y: clamp(this.#cursor.y + dy) }
		} else if (ev.key === 'Enter' || ev.key === ' ') {
			if (!this.#keyStart) {
				this.#keyStart = this.#cursor
			} else {
				this.#add(shapeBetween(this.#tool, this.#keyStart, this.#cursor, this.#color()))
				this.#keyStart = null
			}
		} else if (ev.key === 'Escape') {
			this.#keyStart = null
		} else {
			return
		}
		ev.preventDefault()
		layer.cursor = this.#cursor
		layer.preview = this.#keyStart ? shapeBetween(this.#tool, this.#keyStart, this.#cursor, this.#color()) : null
	}
}
