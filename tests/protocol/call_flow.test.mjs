// The happy path of the signalling protocol without media (shared/PROTOCOL.md): availability,
// call, queue, ringing at every available desk, accept, ring_cancelled at the others, a late
// accept refused, end; then the call records in PostgreSQL. The server must allow calls
// without an SDP offer, so no browser is needed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, startStack, wsClient } from '../lib/harness.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

async function connect() {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	return c;
}

async function helloStaff(username) {
	const c = await connect();
	const { password } = stack.logins[username];
	const reply = assertOk(await c.request('hello', { role: 'staff', username, password }),
		`staff ${username} hello`);
	assert.equal(reply.self?.role, 'staff', `${username}'s self party: ${JSON.stringify(reply)}`);
	return c;
}

/** A department field may be an id or a {id, name} object. */
function deptId(d) {
	return typeof d === 'string' ? d : d?.id;
}

function dept(list, id) {
	return (list ?? []).find((d) => d.id === id);
}

/** Waits for a departments event in which hoken has the given number of available desks. */
function hokenAvailable(kiosk, n) {
	return kiosk.waitFor('departments', (m) => dept(m.departments, 'hoken')?.available === n, 5000)
		.catch((e) => {
			throw new Error(`the kiosk never saw hoken with available = ${n}: ${e.message}`);
		});
}

async function staffId(username) {
	return stack.psql(`SELECT id FROM staff WHERE username = '${username}'`);
}

test('call, ring, accept, end, and the records in PostgreSQL', async () => {
	const kiosk = await connect();
	const hello = assertOk(await kiosk.request('hello', { role: 'kiosk',
		token: stack.tokens.yamada }), 'kiosk hello');
	assert.equal(hello.self?.role, 'kiosk', `kiosk self party: ${JSON.stringify(hello.self)}`);
	assert.equal(hello.self?.branch?.id, 'yamada', `kiosk branch: ${JSON.stringify(hello.self)}`);
	assert.equal(typeof hello.resume, 'string', 'hello reply has a resume token');
	const hoken = dept(hello.departments, 'hoken');
	assert.ok(hoken, `hello reply lists hoken: ${JSON.stringify(hello.departments)}`);
	assert.equal(hoken.name, '保険年金課');
	assert.equal(hoken.available, 0, 'no desk is available before any clerk logs in');
	assert.ok(hoken.procedures?.some((p) => p.id === 'kokuho-kanyu'),
		`hoken's procedures: ${JSON.stringify(hoken.procedures)}`);

	// Two desks of hoken become available; the kiosk sees each change.
	const sato = await helloStaff('sato');
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	await hokenAvailable(kiosk, 1);
	const tanaka = await helloStaff('tanaka');
	assertOk(await tanaka.request('presence', { status: 'available' }), 'tanaka available');
	await hokenAvailable(kiosk, 2);

	// The call: queued at the kiosk, ringing at both desks.
	const call = assertOk(await kiosk.request('call', { department: 'hoken',
		procedure: 'kokuho-kanyu' }), 'kiosk call hoken');
	const visit = call.visit;
	assert.match(visit ?? '', UUID, `call reply has a visit uuid: ${JSON.stringify(call)}`);
	const queued = await kiosk.waitFor('queued', (m) => m.visit === visit);
	assert.equal(deptId(queued.department), 'hoken', `queued: ${JSON.stringify(queued)}`);

	for (const [name, desk] of [['sato', sato], ['tanaka', tanaka]]) {
		const ring = await desk.waitFor('ringing', (m) => m.visit === visit).catch((e) => {
			throw new Error(`${name} was not rung: ${e.message}`);
		});
		assert.equal(deptId(ring.department), 'hoken', `${name} ringing: ${JSON.stringify(ring)}`);
		assert.equal(ring.kiosk?.role, 'kiosk', `${name} ringing kiosk party`);
		assert.equal(ring.kiosk?.name, '山田出張所 1番', `${name} ringing kiosk name`);
		assert.equal(ring.kiosk?.branch?.id, 'yamada', `${name} ringing kiosk branch`);
		assert.equal(typeof ring.waited_s, 'number', `${name} ringing waited_s`);
	}

	// sato takes it: both sides are connected, tanaka's ringing stops, a late accept fails.
	assertOk(await sato.request('accept', { visit }), 'sato accept');
	const connK = await kiosk.waitFor('connected', (m) => m.visit === visit);
	assert.ok(connK.parties?.some((p) => p.role === 'staff' && p.name === '佐藤'),
		`the kiosk's connected parties include 佐藤: ${JSON.stringify(connK)}`);
	const connS = await sato.waitFor('connected', (m) => m.visit === visit);
	assert.ok(connS.parties?.some((p) => p.role === 'kiosk' && p.branch?.id === 'yamada'),
		`sato's connected parties include the kiosk: ${JSON.stringify(connS)}`);
	const cancelled = await tanaka.waitFor('ring_cancelled', (m) => m.visit === visit);
	assert.equal(cancelled.reason, 'taken', `ring_cancelled: ${JSON.stringify(cancelled)}`);
	assertError(await tanaka.request('accept', { visit }), 'conflict', 'tanaka late accept');

	// sato ends the leg: a plain visit ends with it.
	assertOk(await sato.request('end', { visit, outcome: 'completed',
		procedure: 'kokuho-kanyu' }), 'sato end');
	for (const [name, c] of [['kiosk', kiosk], ['sato', sato]]) {
		const ended = await c.waitFor('ended', (m) => m.visit === visit);
		assert.equal(ended.reason, 'completed', `${name} ended: ${JSON.stringify(ended)}`);
	}

	const rec = await stack.waitForRecord(visit,
		(r) => r.visit?.ended_at && r.legs.length === 1 && r.legs[0].ended_at,
		'an ended visit with one ended leg');
	const { visit: v, legs: [leg] } = rec;
	const show = JSON.stringify(rec, null, 2);
	assert.ok(v.started_at, `visit started_at\n${show}`);
	assert.equal(v.end_reason, 'completed', `visit end_reason\n${show}`);
	assert.equal(v.branch_id, 'yamada', `visit branch_id\n${show}`);
	assert.ok(new Date(v.started_at) <= new Date(v.ended_at), `visit times in order\n${show}`);
	assert.equal(leg.department_id, 'hoken', `leg department\n${show}`);
	assert.equal(leg.procedure_id, 'kokuho-kanyu', `leg procedure\n${show}`);
	assert.equal(leg.outcome, 'completed', `leg outcome\n${show}`);
	assert.equal(leg.staff_id, await staffId('sato'), `leg staff is sato\n${show}`);
	assert.ok(leg.queued_at && leg.answered_at && leg.ended_at, `leg times\n${show}`);
	assert.ok(new Date(leg.queued_at) <= new Date(leg.answered_at) &&
		new Date(leg.answered_at) <= new Date(leg.ended_at), `leg times in order\n${show}`);

	// Presence: when sato goes away hoken has one desk left (tanaka).
	assertOk(await sato.request('presence', { status: 'away' }), 'sato away');
	await hokenAvailable(kiosk, 1);
});

test('a kiosk hanging up while queued cancels the ringing and the visit', async () => {
	const token = await stack.addKiosk('takasaki', 'テスト端末 取消');
	const kiosk = await connect();
	assertOk(await kiosk.request('hello', { role: 'kiosk', token }), 'kiosk hello');
	const desk = await helloStaff('suzuki');
	assertOk(await desk.request('presence', { status: 'available' }), 'suzuki available');
	await kiosk.waitFor('departments', (m) => (dept(m.departments, 'zeimu')?.available ?? 0) >= 1);

	const { visit } = assertOk(await kiosk.request('call', { department: 'zeimu' }),
		'kiosk call zeimu');
	await desk.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await kiosk.request('hangup'), 'kiosk hangup while queued');
	const cancelled = await desk.waitFor('ring_cancelled', (m) => m.visit === visit);
	assert.equal(cancelled.reason, 'cancelled', `ring_cancelled: ${JSON.stringify(cancelled)}`);
	const ended = await kiosk.waitFor('ended', (m) => m.visit === visit);
	assert.equal(ended.reason, 'cancelled', `kiosk ended: ${JSON.stringify(ended)}`);
	const late = await desk.request('accept', { visit });
	assert.ok(late.type === 'error' && ['not_found', 'conflict'].includes(late.code),
		`accepting a cancelled visit: expected not_found or conflict, got ${JSON.stringify(late)}`);

	const rec = await stack.waitForRecord(visit, (r) => r.visit?.ended_at,
		'an ended visit');
	assert.equal(rec.visit.end_reason, 'cancelled', JSON.stringify(rec, null, 2));
	assert.equal(rec.legs[0]?.answered_at ?? null, null, 'the leg was never answered');
});
