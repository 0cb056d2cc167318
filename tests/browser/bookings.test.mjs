// Bookings in real Chromium pages (予約相談): the clerk tanaka books a consultation on the desk
// page's calendar; the yamada kiosk page shows it under ご予約の方 with its time (and no
// name); a tap on it calls with the booking, and the desk that booked it rings first while
// sato, another free clerk of the department (a bare WebSocket client), does not ring within
// the ring timeout; tanaka accepts on the desk page and the booking is `done` in PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browsers, acceptOn, assertChromium, loginStaff, madoguchi, step, waitState } from
	'../lib/browser.mjs';
import { assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

const NAME = '予約 花子';
let stack;
let browsers;
let failed = false;
let offsetH;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 15 });
	// The site's zone: local noon now, so that a booking a few minutes ahead is today.
	offsetH = 12 - new Date().getUTCHours();
	if (offsetH > 12)
		offsetH -= 24;
	const zone = offsetH === 0 ? 'UTC' : `Etc/GMT${offsetH > 0 ? '-' : '+'}${Math.abs(offsetH)}`;
	await stack.psql(`UPDATE site_settings SET value = '${zone}' WHERE key = 'time_zone'`);
	await stack.psql(`UPDATE departments SET ring_timeout_s = 5 WHERE id = 'hoken'`);
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

test('booked on the desk page, shown and called on the kiosk page, rings the booking clerk',
	{ timeout: 120000 }, async () => {
		let sato = null;
		try {
			// The site's local time two minutes from now, as the clerk types it.
			const local = new Date(Date.now() + 2 * 60e3 + offsetH * 3600e3).toISOString();
			const date = local.slice(0, 10);
			const time = local.slice(11, 16);
			const desk = await step('desk tanaka: open, log in, available', async () => {
				const p = await browsers.open('tanaka', `${stack.url}/desk/`);
				await loginStaff(p, 'tanaka', stack.logins.tanaka.password);
				await waitState(p, 'idle', 15000);
				return p;
			});
			await step('book on the calendar', async () => {
				await desk.waitForSelector('#bookings:not([hidden])', { timeout: 10000 });
				await desk.selectOption('#booking-dept', 'hoken');
				await desk.fill('#booking-branch', 'yamada');
				await desk.fill('#booking-date', date);
				await desk.dispatchEvent('#booking-date', 'change');
				await desk.fill('#booking-time', time);
				await desk.fill('#booking-minutes', '15');
				await desk.selectOption('#booking-procedure', 'kokuho-kanyu');
				await desk.fill('#booking-name', NAME);
				await desk.click('#booking-submit');
				await desk.waitForSelector('#booking-list li[data-state="booked"]', { timeout: 10000 });
				const row = await desk.textContent('#booking-list li[data-state="booked"]');
				assert.ok(row.includes(time) && row.includes(NAME), row);
				await browsers.shot('tanaka', 'calendar');
			});
			const booking = await stack.psql(`SELECT id FROM bookings WHERE state = 'booked'`);
			assert.match(booking, /^[0-9a-f-]{36}$/);
			sato = await wsClient(stack.wsUrl); // says hello at once (a 10 s deadline)
			assertOk(await sato.request('hello', { role: 'staff', username: 'sato',
				password: stack.logins.sato.password }), 'sato hello');
			assertOk(await sato.request('presence', { status: 'available' }), 'sato available');

			const kiosk = await step('the kiosk page shows ご予約の方 with the time', async () => {
				const p = await browsers.open('kiosk',
					`${stack.url}/kiosk/#token=${stack.tokens.yamada}`);
				await waitState(p, 'idle', 30000);
				const sel = `#bookings:not([hidden]) button[data-booking="${booking}"]:enabled`;
				await p.waitForSelector(sel, { timeout: 10000 });
				const heading = await p.textContent('#bookings h2');
				assert.ok(heading.includes('ご予約の方'), heading);
				const text = await p.textContent(sel);
				assert.ok(text.includes(time), `button text ${text} has ${time}`);
				assert.ok(text.includes('保険年金課'), text);
				const body = await p.textContent('body');
				assert.ok(!body.includes(NAME), 'the name is shown on the kiosk');
				await browsers.shot('kiosk', 'bookings');
				return p;
			});
			await step('a tap calls: the booking clerk rings first, sato does not', async () => {
				await kiosk.click(`button[data-booking="${booking}"]`);
				await desk.waitForSelector('button[data-action="accept"]:enabled',
					{ state: 'visible', timeout: 10000 });
				const visit = await madoguchi(kiosk, 'visit');
				await sleep(2000);
				assert.ok(!sato.events.some((m) => m.type === 'ringing'),
					`sato rang: ${JSON.stringify(sato.events.map((m) => m.type))}`);
				await acceptOn(desk);
				await waitState(kiosk, 'in_call', 15000);
				const row = await stack.psql(
					`SELECT state || ' ' || coalesce(visit_id::text, '') FROM bookings WHERE id = '${booking}'`);
				assert.equal(row.split(' ')[0], 'done', row);
				if (visit)
					assert.equal(row.split(' ')[1], visit);
				await browsers.shot('kiosk', 'booked-call');
			});
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		} finally {
			await sato?.close();
		}
	});
