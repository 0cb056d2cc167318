// The desk's booking calendar (予約相談; docs/protocol.md "Bookings"): a day view per
// department and branch. The clerk picks a department of theirs, a branch and a date, sees
// that day's bookings in time order (with the resident's name when one was given: staff
// only), books a slot (start, minutes, procedure, name) and cancels one. Times are the
// site's local time (the server reads a start without offset in its configured zone), shown
// as the server returns them.

import { t } from '../lib/i18n.js'
import { $, el } from '../lib/page.js'

const BRANCH_KEY = 'madoguchi.booking.branch'

export class DeskCalendar {
	// client(): the current MadoguchiClient or null; departments(): the hello's departments
	// (the server refuses those that are not the clerk's); preferred(): the department to
	// show first (the clerk's own, from the self party).
	constructor({ client, departments, preferred }) {
		this.client = client
		this.departments = departments
		this.preferred = preferred
		this.ui = {
			section: $('#bookings'),
			dept: $('#booking-dept'),
			branch: $('#booking-branch'),
			branches: $('#booking-branches'),
			date: $('#booking-date'),
			list: $('#booking-list'),
			empty: $('#booking-empty'),
			form: $('#booking-form'),
			time: $('#booking-time'),
			minutes: $('#booking-minutes'),
			procedure: $('#booking-procedure'),
			name: $('#booking-name'),
			status: $('#booking-status'),
		}
		this.knownBranches = new Set()
		this.ui.branch.value = localStorage.getItem(BRANCH_KEY) ?? ''
		this.ui.date.value = localDate(new Date())
		this.ui.form.addEventListener('submit', (e) => {
			e.preventDefault()
			this.book()
		})
		for (const input of [this.ui.dept, this.ui.branch, this.ui.date]) {
			input.addEventListener('change', () => {
				if (input === this.ui.dept) this.fillProcedures()
				this.refresh()
			})
		}
	}

	// After hello: the departments the clerk may book for, and the day's list.
	ready() {
		const depts = this.departments()
		const keep = this.ui.dept.value || this.preferred()
		this.ui.dept.replaceChildren(...depts.map((d) => {
			const o = el('option', '', d.name)
			o.value = d.id
			return o
		}))
		if (depts.some((d) => d.id === keep)) this.ui.dept.value = keep
		this.ui.section.hidden = depts.length === 0
		this.fillProcedures()
		this.refresh()
	}

	fillProcedures() {
		const d = this.departments().find((x) => x.id === this.ui.dept.value)
		const none = el('option', '', '—')
		none.value = ''
		this.ui.procedure.replaceChildren(none, ...(d?.procedures ?? []).map((p) => {
			const o = el('option', '', p.name)
			o.value = p.id
			return o
		}))
	}

	say(text) {
		this.ui.status.textContent = text
		this.ui.status.hidden = !text
	}

	async refresh() {
		const client = this.client()
		if (!client || !this.ui.date.value || !this.ui.dept.value) return
		const fields = { date: this.ui.date.value, department: this.ui.dept.value }
		const branch = this.ui.branch.value.trim()
		if (branch) fields.branch = branch
		try {
			const reply = await client.request('bookings', fields)
			this.render(reply.bookings ?? [])
		} catch (err) {
			this.say(t('booking.failed', { detail: err.code || err.message }))
		}
	}

	render(bookings) {
		for (const b of bookings) this.knownBranches.add(b.branch)
		this.ui.branches.replaceChildren(...[...this.knownBranches].map((id) => {
			const o = document.createElement('option')
			o.value = id
			return o
		}))
		const rows = bookings.map((b) => {
			const li = el('li', `booking ${b.state}`)
			li.dataset.booking = b.booking
			li.dataset.state = b.state
			const start = b.starts_at.slice(11, 16)
			li.append(el('span', 'when', `${start} (${b.minutes}分)`))
			li.append(el('span', 'where', b.branch))
			const d = this.departments().find((x) => x.id === b.department)
			const proc = d?.procedures?.find((p) => p.id === b.procedure)?.name ?? b.procedure
			if (proc) li.append(el('span', 'proc', proc))
			if (b.name) li.append(el('span', 'name', b.name))
			li.append(el('span', 'state', t(`booking.state.${b.state}`)))
			if (b.state === 'booked') {
				const cancel = el('button', 'secondary small', t('booking.cancel'))
				cancel.type = 'button'
				cancel.dataset.action = 'cancel-booking'
				cancel.addEventListener('click', () => this.cancel(b.booking))
				li.append(cancel)
			}
			return li
		})
		this.ui.list.replaceChildren(...rows)
		this.ui.empty.hidden = rows.length > 0
	}

	async book() {
		const client = this.client()
		const branch = this.ui.branch.value.trim()
		if (!client || !branch || !this.ui.time.value || !this.ui.date.value) {
			this.say(t('booking.failed', { detail: 'bad_request' }))
			return
		}
		localStorage.setItem(BRANCH_KEY, branch)
		const fields = {
			department: this.ui.dept.value,
			branch,
			starts_at: `${this.ui.date.value}T${this.ui.time.value.slice(0, 5)}:00`,
			minutes: Number(this.ui.minutes.value),
		}
		if (this.ui.procedure.value) fields.procedure = this.ui.procedure.value
		const name = this.ui.name.value.trim()
		if (name) fields.name = name
		try {
			await client.request('book', fields)
			this.say(t('booking.booked', { time: this.ui.time.value.slice(0, 5) }))
			this.ui.name.value = ''
			this.knownBranches.add(branch)
		} catch (err) {
			this.say(err.code === 'conflict' ? t('booking.conflict') :
				t('booking.failed', { detail: err.code || err.message }))
		}
		this.refresh()
	}

	async cancel(id) {
		try {
			await this.client()?.request('cancel_booking', { booking: id })
		} catch (err) {
			this.say(t('booking.failed', { detail: err.code || err.message }))
		}
		this.refresh()
	}
}

function localDate(d) {
	const p = (n) => String(n).padStart(2, '0')
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
}
