// The staff login shared by the desk and the coordinator pages: the form (#login-form with
// #username, #password, #login and #login-error), the connecting screen while the session
// starts, and what a fatal session error shows (the form again for a refused login, the
// error screen otherwise).

import { setBilingual } from './i18n.js'
import { $, newSession, showError } from './page.js'

export class StaffLogin {
	#opts
	#form = {
		form: $('#login-form'),
		username: $('#username'),
		password: $('#password'),
		login: $('#login'),
		error: $('#login-error'),
	}

	// opts:
	//   show(screen, state): the page's screen switch
	//   remote: the page's RemoteMedia (its audio may play once the user has clicked)
	//   onSubmit(): page work at the moment of a valid submit (still in the user gesture)
	//   onSession(session): the new session, before it connects
	//   onClient, onReady, onLost, onMedia: as for Session
	//   onFatal(err): page clean-up before the login form or the error screen shows
	//   media: as for Session ('now', 'later' or 'none')
	constructor(opts) {
		this.#opts = opts
		this.session = null
		this.#form.form.addEventListener('submit', (ev) => this.#submit(ev))
	}

	focus() {
		this.#form.username.focus()
	}

	// Once the server has accepted the password, it need not stay in the form.
	clearPassword() {
		this.#form.password.value = ''
	}

	// Back to the form with a message, e.g. 'desk.login_failed'.
	refuse(key) {
		setBilingual(this.#form.error, key)
		this.#form.error.hidden = false
		this.#form.login.disabled = false
		this.#opts.show('login')
	}

	// One password check per login: the page trades the password for a login token
	// (POST /api/login) and says hello with the token, at first and after every reconnection
	// that cannot resume. After a server restart, or a takeover by the standby node
	// (docs/operations.md, "Two nodes"), every desk then comes back with a token lookup
	// instead of a slow password hash each, all at once; and the password does not stay in
	// the page's memory.
	async #submit(ev) {
		ev.preventDefault()
		const f = this.#form
		const username = f.username.value.trim()
		const password = f.password.value
		if (!username || !password) {
			this.refuse('desk.login_required')
			return
		}
		const o = this.#opts
		o.remote.resume()
		f.error.hidden = true
		f.login.disabled = true
		setBilingual($('#connecting-text'), 'conn.connecting')
		o.show('connecting')
		o.onSubmit?.()
		this.session?.stop()
		this.session = null
		let token
		try {
			const res = await fetch('/api/login', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ username, password }),
			})
			if (res.status === 401) return this.refuse('desk.login_failed')
			if (res.status === 429) return this.refuse('desk.too_many')
			if (!res.ok) return this.refuse('desk.login_unavailable')
			token = (await res.json()).token
		} catch {
			return this.refuse('desk.login_unavailable')
		}
		this.session = newSession({
			hello: () => ({ role: 'staff', token }),
			remote: o.remote,
			media: o.media,
			onClient: o.onClient,
			onReady: o.onReady,
			onLost: o.onLost,
			onMedia: o.onMedia,
			onFatal: (err) => this.#fatal(err),
		})
		o.onSession?.(this.session)
		this.session.start()
	}

	#fatal(err) {
		this.#opts.onFatal?.(err)
		if (err.code === 'unauthorized') this.refuse('desk.login_failed')
		else if (err.code === 'too_many') this.refuse('desk.too_many')
		else if (err.code === 'revoked') this.refuse('desk.revoked')
		else {
			const media = err.code === 'media'
			showError(this.#opts.show, media ? 'media.failed' : 'error.generic',
				media ? 'media.failed_detail' : 'error.detail', { detail: err.message || err.code })
		}
	}
}
