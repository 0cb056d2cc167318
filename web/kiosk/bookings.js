// Today's bookings on the kiosk (予約相談; docs/protocol.md "Bookings"): under the heading
// ご予約の方, one large button per booking of this branch that is still to be called, with its
// time and department (never a name: the kiosk stands in a public hall). A button is enabled
// from 10 minutes before its start to 15 minutes after, as the server allows; a tap calls
// with the booking. The list comes with the hello reply and the `bookings` event; it is
// re-rendered every 30 s so that buttons open and close on time.

import { setBilingual } from '../lib/i18n.js'

const EARLY_MS = 10 * 60e3
const LATE_MS = 15 * 60e3

export class KioskBookings {
	// section: the element to show or hide; grid: where the buttons go; deptName(id): a
	// department's name; onCall(booking, title): the tap.
	constructor({ section, grid, deptName, onCall }) {
		Object.assign(this, { section, grid, deptName, onCall })
		this.list = []
		setInterval(() => this.render(), 30e3)
	}

	set(list) {
		this.list = Array.isArray(list) ? list : []
		this.render()
	}

	render() {
		const now = Date.now()
		const buttons = this.list
			.filter((b) => b.state === 'booked' && Date.parse(b.starts_at) + LATE_MS >= now)
			.sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at))
			.map((b) => {
				const start = Date.parse(b.starts_at)
				const time = b.starts_at.slice(11, 16) // the site's local time, as booked
				const button = document.createElement('button')
				button.type = 'button'
				button.className = 'dept booking'
				button.dataset.booking = b.booking
				button.disabled = now < start - EARLY_MS
				const title = document.createElement('span')
				title.className = 'dept-name booking-time'
				setBilingual(title, 'kiosk.booking_at', { time })
				const dept = document.createElement('span')
				dept.className = 'menu-steps'
				dept.textContent = this.deptName(b.department)
				button.append(title, dept)
				button.addEventListener('click', () => this.onCall(b, `${time} ${this.deptName(b.department)}`))
				return button
			})
		this.grid.replaceChildren(...buttons)
		this.section.hidden = buttons.length === 0
	}
}
