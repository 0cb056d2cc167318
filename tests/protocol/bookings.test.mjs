// Bookings (予約相談; shared/PROTOCOL.md "Bookings", docs/protocol.md "Bookings"): book,
// cancel_booking and bookings with their validation and errors; the kiosk's hello carrying
// today's bookings of its branch (without names) and the `bookings` event; `call` with a
// booking ringing the clerk who booked it first and the department only after the ring
// timeout, refused outside its window; a booking never called turning `missed` (also across
// a restart); booked_visits in usage_monthly and GET /api/stats/monthly. No browser: calls
// need no media.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = '予約 花子'; // a resident's name: must never reach a kiosk or the log

let stack;
let offsetH; // the site's time zone for this run: local noon now, so "today" has room
const clients = [];

/** ISO 8601 in the site's zone for now + minutes (seconds kept), with its offset. */
function at(minutes) {
	const t = new Date(Date.now() + minutes * 60e3 + offsetH * 3600e3);
	const sign = offsetH < 0 ? '-' : '+';
	const off = `${sign}${String(Math.abs(offsetH)).padStart(2, '0')}:00`;
	return t.toISOString().slice(0, 19) + off;
}

/** Today's date in the site's zone. */
function today() {
	return new Date(Date.now() + offsetH * 3600e3).toISOString().slice(0, 10);
}

async function connect() {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	return c;
}

async function helloStaff(username) {
	const c = await connect();
	assertOk(await c.request('hello', { role: 'staff', username,
		password: stack.logins[username].password }), `${username} hello`);
	return c;
}

async function helloKiosk(branch) {
	const c = await connect();
	const hello = assertOk(await c.request('hello', { role: 'kiosk', token: stack.tokens[branch] }),
		`kiosk ${branch} hello`);
	return { c, hello };
}

async function bookingState(id) {
	return stack.psql(`SELECT state FROM bookings WHERE id = '${id}'`);
}

async function waitState(id, state, timeoutMs = 10000) {
	const until = Date.now() + timeoutMs;
	let got;
	while (Date.now() < until) {
		got = await bookingState(id);
		if (got === state)
			return;
		await sleep(200);
	}
	assert.fail(`booking ${id} is ${got}, not ${state}, after ${timeoutMs} ms`);
}

before(async () => {
	stack = await startStack({ tls: true });
	// Whatever the hour of the run, the site's day has hours left on both sides.
	offsetH = 12 - new Date().getUTCHours();
	if (offsetH > 12)
		offsetH -= 24;
	const zone = offsetH === 0 ? 'UTC' : `Etc/GMT${offsetH > 0 ? '-' : '+'}${Math.abs(offsetH)}`;
	await stack.psql(`UPDATE site_settings SET value = '${zone}' WHERE key = 'time_zone'`);
	// A short ring timeout for hoken so that "then the department" is seen quickly.
	await stack.psql(`UPDATE departments SET ring_timeout_s = 5 WHERE id = 'hoken'`);
});

after(async () => {
	for (const c of clients)
		await c.close();
	await stack?.stop();
});

test('book, bookings and cancel_booking: validation, errors, overlaps', async () => {
	const sato = await helloStaff('sato');     // hoken
	const suzuki = await helloStaff('suzuki'); // zeimu
	const base = { department: 'hoken', branch: 'yamada', starts_at: at(120), minutes: 30 };
	const bad = async (fields, code, what) =>
		assertError(await sato.request('book', { ...base, ...fields }), code, what);

	await bad({ department: undefined }, 'bad_request', 'no department');
	await bad({ starts_at: 'tomorrow' }, 'bad_request', 'starts_at not ISO 8601');
	await bad({ starts_at: '2026-02-30T10:00:00+09:00' }, 'bad_request', 'no such day');
	await bad({ starts_at: '2026-04-01T25:00' }, 'bad_request', 'no such hour');
	await bad({ minutes: 4 }, 'bad_request', 'minutes < 5');
	await bad({ minutes: 241 }, 'bad_request', 'minutes > 240');
	await bad({ minutes: '30' }, 'bad_request', 'minutes not a number');
	await bad({ name: 5 }, 'bad_request', 'name not a string');
	await bad({ department: 'nope' }, 'not_found', 'unknown department');
	await bad({ department: 'zeimu' }, 'forbidden', 'not staff of zeimu');
	await bad({ branch: 'nowhere' }, 'not_found', 'unknown branch');
	await bad({ procedure: 'shotoku-shomei' }, 'not_found', 'a procedure of another department');

	const kiosk = await helloKiosk('yamada');
	assertError(await kiosk.c.request('book', base), 'forbidden', 'a kiosk may not book');

	const first = assertOk(await sato.request('book', { ...base, procedure: 'kokuho-kanyu',
		name: NAME }), 'book').booking;
	assert.match(first, UUID);
	// The same clerk at an overlapping time: conflict; right after it, or another clerk: fine.
	assertError(await sato.request('book', { ...base, starts_at: at(140) }), 'conflict',
		'overlapping booking of the same clerk');
	const next = assertOk(await sato.request('book', { ...base, starts_at: at(150) }),
		'adjacent booking').booking;
	const tanaka = await helloStaff('tanaka'); // hoken, zeimu, kosodate
	assertOk(await tanaka.request('book', { ...base }), 'another clerk at the same time');

	// Listing: the clerk's departments; a named department must be theirs.
	assertError(await sato.request('bookings', { date: '2026-13-01' }), 'bad_request', 'bad date');
	assertError(await sato.request('bookings', {}), 'bad_request', 'no date');
	assertError(await sato.request('bookings', { date: today(), department: 'zeimu' }),
		'forbidden', 'another department');
	assertError(await sato.request('bookings', { date: today(), department: 'nope' }),
		'not_found', 'unknown department');
	const list = assertOk(await sato.request('bookings', { date: today(), department: 'hoken',
		branch: 'yamada' }), 'bookings').bookings;
	const mine = list.find((b) => b.booking === first);
	assert.ok(mine, `the booking is listed: ${JSON.stringify(list)}`);
	assert.deepEqual({ ...mine, starts_at: undefined }, { booking: first, department: 'hoken',
		branch: 'yamada', starts_at: undefined, minutes: 30, procedure: 'kokuho-kanyu',
		name: NAME, state: 'booked' });
	assert.equal(Date.parse(mine.starts_at), Date.parse(base.starts_at), mine.starts_at);
	assert.match(mine.starts_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
	assert.equal(list.length, 3, 'three bookings of hoken today');
	const other = assertOk(await suzuki.request('bookings', { date: today() }), 'zeimu list');
	assert.equal(other.bookings.length, 0, 'suzuki sees no hoken booking');
	const tomorrow = new Date(Date.parse(today()) + 86400e3).toISOString().slice(0, 10);
	assert.equal(assertOk(await sato.request('bookings', { date: tomorrow }), 'tomorrow')
		.bookings.length, 0);

	// Cancelling.
	assertError(await sato.request('cancel_booking', { booking: 'x' }), 'bad_request', 'not an id');
	assertError(await sato.request('cancel_booking',
		{ booking: '00000000-0000-4000-8000-000000000000' }), 'not_found', 'unknown booking');
	assertError(await suzuki.request('cancel_booking', { booking: next }), 'forbidden',
		'a clerk of another department');
	assertOk(await sato.request('cancel_booking', { booking: next }), 'cancel');
	assertError(await sato.request('cancel_booking', { booking: next }), 'conflict',
		'cancelled twice');
	assert.equal(await bookingState(next), 'cancelled');
	// A cancelled booking frees its slot.
	const again = assertOk(await sato.request('book', { ...base, starts_at: at(150) }),
		'book the freed slot').booking;
	assertOk(await sato.request('cancel_booking', { booking: again }), 'cancel again');
	assertOk(await sato.request('cancel_booking', { booking: first }), 'cancel the first');
	assert.equal(await stack.psql(`SELECT name FROM bookings WHERE id = '${first}'`), NAME);
});

test('a kiosk gets its branch\'s bookings of today in hello and as events, without names',
	async () => {
		const sato = await helloStaff('sato');
		const s200 = at(200);
		const b1 = assertOk(await sato.request('book', { department: 'hoken', branch: 'yamada',
			starts_at: s200, minutes: 20, name: NAME }), 'book').booking;
		const taka = assertOk(await sato.request('book', { department: 'hoken',
			branch: 'takasaki', starts_at: at(260), minutes: 20 }), 'book takasaki').booking;
		// The sweep that follows a change has run when the event reaches a connected kiosk.
		const { c: watcher } = await helloKiosk('takasaki');
		await sleep(1500);
		const { c: kiosk, hello } = await helloKiosk('yamada');
		const shown = hello.bookings?.find((b) => b.booking === b1);
		assert.ok(shown, `hello carries the booking: ${JSON.stringify(hello.bookings)}`);
		assert.equal(shown.name, undefined, 'no name on a kiosk');
		assert.equal(shown.department, 'hoken');
		assert.equal(shown.state, 'booked');
		assert.equal(Date.parse(shown.starts_at), Date.parse(s200), shown.starts_at);
		assert.equal(shown.starts_at.slice(0, 16), s200.slice(0, 16), 'local time as booked');
		assert.ok(!hello.bookings.some((b) => b.booking === taka), 'not another branch\'s');
		assert.ok(!JSON.stringify(hello).includes(NAME));

		// A new booking reaches the yamada kiosk as an event; the takasaki kiosk hears nothing.
		const b2 = assertOk(await sato.request('book', { department: 'hoken', branch: 'yamada',
			starts_at: at(230), minutes: 10, name: NAME }), 'book').booking;
		const ev = await kiosk.waitFor('bookings', (m) => m.bookings.some((b) => b.booking === b2));
		assert.ok(!JSON.stringify(ev).includes(NAME), 'no name in the event');
		assertOk(await sato.request('cancel_booking', { booking: b2 }), 'cancel');
		const ev2 = await kiosk.waitFor('bookings', (m) =>
			m.bookings.find((b) => b.booking === b2)?.state === 'cancelled');
		assert.ok(ev2);
		await sleep(500);
		assert.ok(!watcher.events.some((m) => m.type === 'bookings' &&
			m.bookings.some((b) => b.booking === b2)), 'takasaki heard of a yamada booking');
		assertOk(await sato.request('cancel_booking', { booking: b1 }), 'cancel');
		assertOk(await sato.request('cancel_booking', { booking: taka }), 'cancel');
		assert.ok(!stack.serverLog().includes(NAME), 'the name is never logged');
	});

test('call with a booking rings the booking clerk first, then the department', async () => {
	const tanaka = await helloStaff('tanaka');
	const sato = await helloStaff('sato');
	const booking = assertOk(await tanaka.request('book', { department: 'hoken',
		branch: 'yamada', starts_at: at(3), minutes: 5, procedure: 'nenkin-soudan',
		name: NAME }), 'book').booking;
	const early = assertOk(await tanaka.request('book', { department: 'hoken', branch: 'yamada',
		starts_at: at(12), minutes: 15 }), 'book later').booking;
	assertOk(await tanaka.request('presence', { status: 'available' }), 'tanaka available');
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	const { c: kiosk } = await helloKiosk('yamada');
	await kiosk.waitFor('bookings', (m) => m.bookings.some((b) => b.booking === early), 5000)
		.catch(() => {}); // the hello may already have carried it
	await sleep(1000);

	// Errors first.
	assertError(await kiosk.request('call', { booking: 'nope' }), 'not_found', 'unknown');
	assertError(await kiosk.request('call', { booking: early }), 'unavailable',
		'12 minutes before its start');
	const { c: other } = await helloKiosk('takasaki');
	assertError(await other.request('call', { booking }), 'forbidden', 'another branch');

	const t0 = Date.now();
	const visit = assertOk(await kiosk.request('call', { booking }), 'call with booking').visit;
	const ring = await tanaka.waitFor('ringing', (m) => m.visit === visit, 3000);
	assert.equal(ring.department, 'hoken');
	await sleep(2500);
	assert.ok(!sato.events.some((m) => m.type === 'ringing' && m.visit === visit),
		'sato rang within the ring timeout');
	// After the ring timeout (5 s) the department rings.
	await sato.waitFor('ringing', (m) => m.visit === visit, 10000);
	assert.ok(Date.now() - t0 >= 4500, `sato rang after ${Date.now() - t0} ms`);
	assertOk(await tanaka.request('accept', { visit }), 'tanaka accepts');
	await waitState(booking, 'done', 5000);
	assert.equal(await stack.psql(`SELECT visit_id FROM bookings WHERE id = '${booking}'`), visit);
	const ev = await kiosk.waitFor('bookings', (m) =>
		m.bookings.find((b) => b.booking === booking)?.state === 'done');
	assert.ok(ev);
	assertOk(await tanaka.request('end', { visit, outcome: 'completed' }), 'end');
	await kiosk.waitFor('ended', (m) => m.visit === visit);
	assertError(await kiosk.request('call', { booking }), 'conflict', 'called twice');

	// booked_visits once the leg's record is in.
	await stack.waitForRecord(visit, (r) => r.legs?.[0]?.ended_at, 'leg ended');
	const row = await stack.psql(`SELECT booked_visits || ' ' || visits FROM usage_monthly` +
		` WHERE branch = 'yamada' AND department = 'hoken' AND procedure = 'nenkin-soudan'`);
	assert.equal(row, '1 1', 'usage_monthly: booked_visits visits');
	assert.equal(await stack.psql(`SELECT sum(booked_visits) FROM usage_daily`), '1',
		'usage_daily: booked_visits');
	// The analyst role reads the counts, never the bookings (names) themselves.
	assert.equal((await stack.psql('SET ROLE madoguchi_analyst; ' +
		'SELECT sum(booked_visits) FROM usage_monthly')).split('\n').pop(), '1');
	await assert.rejects(stack.psql('SET ROLE madoguchi_analyst; SELECT name FROM bookings'),
		/permission denied/);
	const login = await stack.http('POST', '/api/login',
		{ body: { username: 'tanaka', password: stack.logins.tanaka.password } });
	assert.equal(login.status, 200, login.body);
	const auth = { Authorization: `Bearer ${login.json.token}` };
	const month = today().slice(0, 7);
	const st = await stack.http('GET', `/api/stats/monthly?from=${month}&to=${month}` +
		'&by=branch,department,procedure', { headers: auth });
	assert.equal(st.status, 200, st.body);
	const r = st.json.rows.find((x) => x.procedure === 'nenkin-soudan');
	assert.equal(r?.booked_visits, 1, JSON.stringify(st.json.rows));
	const total = await stack.http('GET', `/api/stats/monthly?from=${month}&to=${month}`,
		{ headers: auth });
	assert.equal(total.json.rows[0]?.booked_visits, 1, total.body);
	const csv = await stack.http('GET', `/api/stats/monthly?from=${month}&to=${month}` +
		'&by=procedure&format=csv', { headers: auth });
	const lines = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
	const header = lines[0].split(',');
	const col = header.indexOf('booked_visits');
	assert.ok(col >= 0, lines[0]);
	const line = lines.find((l) => l.includes('nenkin-soudan'));
	assert.equal(line.split(',')[col], '1', csv.body);
	assertOk(await tanaka.request('cancel_booking', { booking: early }), 'cancel');
	await tanaka.request('presence', { status: 'away' });
	await sato.request('presence', { status: 'away' });
});

test('a booking nobody calls turns missed 15 minutes after its start, also across a restart',
	async () => {
		const sato = await helloStaff('sato');
		const { c: kiosk } = await helloKiosk('yamada');
		// Long past: missed by the sweep that follows the booking.
		const old = assertOk(await sato.request('book', { department: 'hoken', branch: 'yamada',
			starts_at: at(-40), minutes: 10 }), 'book in the past').booking;
		await waitState(old, 'missed', 5000);
		assertError(await kiosk.request('call', { booking: old }), 'conflict', 'missed');
		// Its window closes in 4 s: callable now, missed a moment later without any request.
		const soon = assertOk(await sato.request('book', { department: 'hoken', branch: 'yamada',
			starts_at: new Date(Date.now() - 15 * 60e3 + 4000).toISOString(), minutes: 10 }),
		'book').booking;
		await sleep(1000);
		assert.equal(await bookingState(soon), 'booked');
		await waitState(soon, 'missed', 8000);
		await kiosk.waitFor('bookings', (m) =>
			m.bookings.find((b) => b.booking === soon)?.state === 'missed', 3000);

		// Written while the server is down: the restarted server marks it.
		await stack.killServer();
		const id = await stack.psql(`INSERT INTO bookings (department_id, branch_id, starts_at,` +
			` minutes, created_by) SELECT 'hoken', 'yamada', now() - interval '30 minutes', 10,` +
			` id FROM staff WHERE username = 'sato' RETURNING id`);
		await stack.restartServer();
		await waitState(id.split('\n')[0], 'missed', 8000);
	});
