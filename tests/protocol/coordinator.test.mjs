// A one-stop visit led by a coordinator, through the real server and PostgreSQL, without
// media: watch, the visit events, itinerary changes, join and leave with the room's
// parties, control relayed to the kiosk, the next itinerary step ringing with the same
// visit id, finish; then the legs and the audit log in PostgreSQL. Uses the demo seed's
// one-stop menu okuyami (hoken → zeimu → kosodate) and coordinator tanaka.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, startStack, wsClient } from '../lib/harness.mjs';

let stack;
const clients = [];

before(async () => {
	stack = await startStack({ tls: true });
});

after(async () => {
	for (const c of clients)
		await c.close();
	await stack?.stop();
});

async function hello(fields) {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	const reply = assertOk(await c.request('hello', fields), `hello ${JSON.stringify(fields)}`);
	return { c, reply };
}

async function staff(username, available) {
	const { c, reply } = await hello({ role: 'staff', username,
		password: stack.logins[username].password });
	if (available)
		assertOk(await c.request('presence', { status: 'available' }), `${username} available`);
	return { c, reply };
}

const steps = (v) => v.itinerary.map((s) => `${s.department}:${s.state}`).join(' ');

test('a coordinator leads a one-stop visit', async () => {
	const { c: coord, reply: coordHello } = await staff('tanaka', false);
	assert.ok(coordHello.flags.includes('coordinator'), `tanaka's flags: ${coordHello.flags}`);
	assert.deepEqual(assertOk(await coord.request('watch', {}), 'watch').visits, []);

	const { c: sato } = await staff('sato', true);
	const { c: suzuki } = await staff('suzuki', true);
	assertError(await sato.request('watch', {}), 'forbidden', 'a clerk without the flag watches');

	const { c: kiosk, reply: kioskHello } = await hello({ role: 'kiosk',
		token: stack.tokens.yamada });
	const menu = kioskHello.onestop.find((m) => m.id === 'okuyami');
	assert.deepEqual(menu?.itinerary, ['hoken', 'zeimu', 'kosodate'],
		`the kiosk is offered the okuyami menu: ${JSON.stringify(kioskHello.onestop)}`);

	const { visit } = assertOk(await kiosk.request('call', { onestop: 'okuyami' }), 'call');
	let v = await coord.waitFor('visit', (m) => m.visit === visit);
	assert.equal(steps(v), 'hoken:queued zeimu:pending kosodate:pending');
	assert.equal(v.kiosk.branch.id, 'yamada');

	const ring = await sato.waitFor('ringing', (m) => m.visit === visit);
	assert.equal(ring.onestop, true, `ringing: ${JSON.stringify(ring)}`);
	assertOk(await sato.request('accept', { visit }), 'sato accept');
	v = await coord.waitFor('visit', (m) => m.visit === visit && /hoken:active/.test(steps(m)));
	assert.equal(v.itinerary[0].desk?.name, '佐藤');

	// The coordinator joins: everybody sees three parties.
	assertOk(await coord.request('join', { visit }), 'join');
	const conn = await kiosk.waitFor('connected', (m) => m.visit === visit && m.parties.length === 3);
	assert.deepEqual(conn.parties.map((p) => p.role), ['kiosk', 'staff', 'staff']);
	assertError(await coord.request('join', { visit }), 'conflict', 'joining twice');

	// The desk turns the kiosk's volume down: relayed to the kiosk only.
	const kioskParty = conn.parties[0].id;
	assertOk(await sato.request('control', { visit, target: kioskParty, volume: 0.4 }), 'control');
	const ctl = await kiosk.waitFor('control', () => true);
	assert.equal(ctl.volume, 0.4);
	assert.equal(ctl.from.name, '佐藤');
	assertError(await sato.request('control', { visit, target: kioskParty, volume: 3 }),
		'bad_request', 'volume out of range');

	// Drop kosodate from the rest of the itinerary, then sato ends: zeimu rings next with
	// the same visit id, and the visit goes on.
	assertOk(await coord.request('onestop', { visit, itinerary: ['zeimu'] }), 'onestop');
	assertOk(await sato.request('end', { visit, outcome: 'completed' }), 'sato end');
	const satoEnded = await sato.waitFor('ended', (m) => m.visit === visit);
	assert.equal(satoEnded.reason, 'completed');
	const ring2 = await suzuki.waitFor('ringing', (m) => m.visit === visit);
	assert.equal(ring2.department, 'zeimu');
	v = await coord.waitFor('visit', (m) => m.visit === visit && /zeimu:queued/.test(steps(m)));
	assert.equal(steps(v), 'hoken:done zeimu:queued');
	assertOk(await suzuki.request('accept', { visit }), 'suzuki accept');
	await kiosk.waitFor('connected', (m) => m.visit === visit &&
		m.parties.some((p) => p.name === '鈴木'));

	// The coordinator leaves, then finishes the visit from outside the room.
	assertOk(await coord.request('leave', { visit }), 'leave');
	await kiosk.waitFor('connected', (m) => m.visit === visit && m.parties.length === 2);
	assertOk(await coord.request('finish', { visit }), 'finish');
	for (const [name, c] of [['kiosk', kiosk], ['suzuki', suzuki]]) {
		const ended = await c.waitFor('ended', (m) => m.visit === visit);
		assert.equal(ended.reason, 'completed', `${name} ended: ${JSON.stringify(ended)}`);
	}
	v = await coord.waitFor('visit', (m) => m.visit === visit && m.ended);
	assert.equal(v.reason, 'completed');

	// The kiosk rates the visit once.
	assertOk(await kiosk.request('survey', { visit, rating: 5 }), 'survey');
	assertError(await kiosk.request('survey', { visit, rating: 4 }), 'conflict', 'second survey');

	const rec = await stack.waitForRecord(visit,
		(r) => r.visit?.ended_at && r.legs.length === 2 && r.legs.every((l) => l.ended_at),
		'an ended visit with two ended legs');
	const show = JSON.stringify(rec, null, 2);
	assert.equal(rec.visit.onestop_menu, 'okuyami', show);
	assert.deepEqual(rec.legs.map((l) => l.department_id), ['hoken', 'zeimu'], show);
	assert.ok(rec.legs.every((l) => l.answered_at), `both legs answered\n${show}`);
	const audit = await stack.psql(`SELECT string_agg(action, ',' ORDER BY at, action)` +
		` FROM audit_log a JOIN staff s ON s.id = a.staff_id` +
		` WHERE s.username = 'tanaka' AND a.visit_id = '${visit}'`);
	for (const action of ['joined', 'itinerary', 'left', 'finished'])
		assert.ok(audit.split(',').includes(action), `audit has ${action}: ${audit}`);
	for (let i = 0; i < 50; i++) {
		if (await stack.psql(`SELECT count(*) FROM surveys WHERE visit_id = '${visit}'`) === '1')
			return;
		await new Promise((r) => setTimeout(r, 100));
	}
	assert.fail('the survey never reached PostgreSQL');
});
