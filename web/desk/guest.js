// Guest interpreters on the desk (docs/protocol.md, "Guest interpreters"): 「通訳者を招待」
// asks the server for a one-time link (guest_invite), shows it with a QR code drawn by the
// qrcode-generator library from npm (served from /vendor/qrcode.mjs), and a layout switch
// that tells the kiosk to show the interpreter larger (`layout`).


export class DeskGuest {
	#client
	#ui
	#visit = null
	#layout = 'equal'
	info = { invites: 0, url: null, qrDrawn: false, lastError: null }

	// ui: {section, invite (button), link (a), qr (canvas), layout (button), error}
	constructor({ client, ui }) {
		this.#client = client
		this.#ui = ui
		ui.invite.addEventListener('click', () => this.invite())
		ui.layout.addEventListener('click', () => this.toggleLayout())
		this.stop()
	}

	start(visit) {
		if (this.#visit === visit) return
		this.#visit = visit
		this.#layout = 'equal'
		this.#ui.section.hidden = false
		this.#ui.link.textContent = ''
		this.#ui.link.removeAttribute('href')
		this.#ui.qr.hidden = true
		this.#ui.error.hidden = true
		this.#renderLayout()
	}

	stop() {
		this.#visit = null
		this.#ui.section.hidden = true
		this.#ui.qr.hidden = true
		this.#ui.link.textContent = ''
	}

	async invite() {
		const client = this.#client()
		if (!client || !this.#visit) return
		try {
			const r = await client.request('guest_invite', { visit: this.#visit, name: '通訳' })
			this.info.invites++
			// The link the server made names the server's host; the page's own origin is the one
			// this browser reached, so prefer it.
			const url = `${location.origin}/guest/#code=${r.code}`
			this.info.url = url
			this.#ui.link.textContent = url
			this.#ui.link.href = url
			await this.#drawQr(url)
			this.#ui.error.hidden = true
		} catch (err) {
			this.info.lastError = err.code ?? String(err)
			this.#ui.error.textContent = `招待できません / Cannot invite (${this.info.lastError})`
			this.#ui.error.hidden = false
		}
	}

	// The library is loaded when first needed, so that the desk page works without it (the
	// link is shown either way; only the QR code is missing).
	async #drawQr(url) {
		let qrcode
		try {
			qrcode = (await import('../vendor/qrcode.mjs')).default
		} catch {
			this.info.qrMissing = true
			return
		}
		const qr = qrcode(0, 'M')
		qr.addData(url)
		qr.make()
		const canvas = this.#ui.qr
		const cells = qr.getModuleCount()
		const cell = Math.max(2, Math.floor(200 / (cells + 8)))
		canvas.width = canvas.height = (cells + 8) * cell
		const ctx = canvas.getContext('2d')
		ctx.fillStyle = '#ffffff'
		ctx.fillRect(0, 0, canvas.width, canvas.height)
		ctx.fillStyle = '#000000'
		for (let y = 0; y < cells; y++)
			for (let x = 0; x < cells; x++)
				if (qr.isDark(y, x)) ctx.fillRect((x + 4) * cell, (y + 4) * cell, cell, cell)
		canvas.hidden = false
		this.info.qrDrawn = true
	}

	async toggleLayout() {
		const client = this.#client()
		if (!client || !this.#visit) return
		const next = this.#layout === 'interpreter' ? 'equal' : 'interpreter'
		try {
			await client.request('layout', { visit: this.#visit, layout: next })
			this.#layout = next
			this.#renderLayout()
		} catch (err) {
			this.info.lastError = err.code ?? String(err)
		}
	}

	#renderLayout() {
		const big = this.#layout === 'interpreter'
		this.#ui.layout.setAttribute('aria-pressed', String(big))
		this.#ui.layout.textContent = big ? '通訳者を大きく表示中 / Interpreter large' : '通訳者を大きく / Interpreter larger'
	}
}
