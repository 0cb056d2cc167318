// Directory changes reach the running server without a restart (issue 11, "changes without
// restart"; docs/architecture.md "How a directory change travels"). Every kind of change an
// operator makes with `madoguchi admin`, or by hand in SQL, is seen by a connected kiosk in a
// pushed `departments` event within 2 s; a closed or removed department refuses new calls
// while a visit in progress there goes on; a logged-in clerk follows a change of departments
// and flags without losing the call; and a change made while the server could not reach
// PostgreSQL is picked up once it reconnects.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, run, sleep, startStack, wsClient } from '../lib/harness.mjs';

const LIMIT_MS = 2000;

let stack;
const clients = [];
const figures = [];

before(async () => {
	stack = await startStack({ tls: false });
});

after(async () => {
	for (const c of clients)
		await c.close().catch(() => {});
	if (figures.length)
		console.log(`push latency after the change committed's command started (ms): ` +
			figures.map(([what, ms]) => `${what} ${ms}`).join(', '));
	await stack?.stop();
});

async function connect() {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	return c;
}

async function kiosk(token) {
	const c = await connect();
	const reply = assertOk(await c.request('hello', { role: 'kiosk', token }), 'kiosk hello');
	return { c, reply };
}

async function staff(username, password = stack.logins[username].password) {
	const c = await connect();
	const reply = assertOk(await c.request('hello', { role: 'staff', username, password }),
		`${username} hello`);
	assertOk(await c.request('presence', { status: 'available' }), `${username} available`);
	return { c, reply };
}

function dept(ev, id) {
	return (ev.departments ?? []).find((d) => d.id === id);
}

/** Runs change() and waits for a departments event that satisfies pred, within 2 s of the
 * start of change() (the admin command's own start-up time included). */
async function pushedWithin(c, what, change, pred) {
	// Only events sent after the change count.
	c.events = c.events.filter((m) => m.type !== 'departments');
	const t0 = Date.now();
	await change();
	const ev = await c.waitFor('departments', pred, LIMIT_MS + 500).catch(() => {
		throw new Error(`no departments event showing ${what} within ${LIMIT_MS + 500} ms`);
	});
	const ms = Date.now() - t0;
	figures.push([what, ms]);
	assert.ok(ms <= LIMIT_MS, `${what}: pushed after ${ms} ms (limit ${LIMIT_MS})`);
	return ev;
}

function admin(...args) {
	return stack.admin(...args);
}

async function adminWithPassword(password, ...args) {
	const r = await run(stack.bin, ['--db', stack.conninfo, 'admin', ...args],
		{ input: `${password}\n` });
	assert.equal(r.code, 0, `admin ${args.join(' ')}: ${r.stderr}`);
}

/** Ends a desk's call and waits for both sides to see it. */
async function endCall(desk, k, visit) {
	assertOk(await desk.request('end', { visit, outcome: 'completed' }), 'end');
	await k.waitFor('ended', (m) => m.visit === visit);
}

test('every kind of admin change is pushed to a connected kiosk within 2 s', async () => {
	const { c: k } = await kiosk(stack.tokens.yamada);

	await pushedWithin(k, 'department add', () => admin('department', 'add', 'kankyo', '環境課'),
		(ev) => dept(ev, 'kankyo')?.name === '環境課');
	await pushedWithin(k, 'department rename', () => admin('department', 'rename', 'kankyo',
		'環境課 (仮)'), (ev) => dept(ev, 'kankyo')?.name === '環境課 (仮)');
	await pushedWithin(k, 'department rename (SQL)',
		() => stack.psql(`UPDATE departments SET name = '環境保全課' WHERE id = 'kankyo'`),
		(ev) => dept(ev, 'kankyo')?.name === '環境保全課');
	await pushedWithin(k, 'procedure add',
		() => admin('procedure', 'add', 'gomi', '粗大ごみの相談', '--department', 'kankyo'),
		(ev) => dept(ev, 'kankyo')?.procedures?.some((p) => p.id === 'gomi'));
	const ev = await pushedWithin(k, 'one-stop menu add',
		() => admin('onestop', 'add', 'hikkoshi', '引っ越し', '--steps', 'zeimu,kankyo'),
		(e) => (e.onestop ?? []).some((m) => m.id === 'hikkoshi'));
	assert.deepEqual(ev.onestop.find((m) => m.id === 'hikkoshi').itinerary, ['zeimu', 'kankyo']);
	await pushedWithin(k, 'one-stop menu remove', () => admin('onestop', 'remove', 'hikkoshi'),
		(e) => Array.isArray(e.onestop) && !e.onestop.some((m) => m.id === 'hikkoshi'));
	assertError(await k.request('call', { onestop: 'hikkoshi' }), 'not_found',
		'a removed menu');

	// Hours: closed all day today except one minute that is not now; then cleared again.
	const now = new Date();
	const minute = now.getHours() * 60 + now.getMinutes();
	const slot = minute < 600 ? ['23:58', '23:59'] : ['00:00', '00:01'];
	await pushedWithin(k, 'hours',
		() => admin('department', 'set-hours', 'kankyo', String(now.getDay()), ...slot),
		(e) => dept(e, 'kankyo')?.open === false);
	assertError(await k.request('call', { department: 'kankyo' }), 'unavailable',
		'a call outside the new hours');
	await pushedWithin(k, 'hours cleared', () => admin('department', 'clear-hours', 'kankyo'),
		(e) => dept(e, 'kankyo')?.open === true);

	// Branch: nothing a kiosk shows changes, but the change is pushed all the same.
	k.events.length = 0;
	await pushedWithin(k, 'branch add', () => admin('branch', 'add', 'minami', '南出張所'),
		(e) => Array.isArray(e.onestop));

	// A new kiosk can say hello at once.
	const t0 = Date.now();
	const token = await stack.addKiosk('minami', '南出張所 1番');
	const { reply: kr } = await kiosk(token);
	assert.equal(kr.self?.branch?.id, 'minami');
	assert.ok(kr.departments.some((d) => d.id === 'kankyo'), 'the new kiosk sees kankyo');
	figures.push(['kiosk add → hello', Date.now() - t0]);

	// A new clerk can log in as soon as the command returns (both sides hash the password,
	// which is what takes the time here), and makes the department answerable.
	await adminWithPassword('pw-yamamoto-1', 'user', 'add', 'yamamoto', '--name', '山本',
		'--department', 'kankyo');
	const t1 = Date.now();
	const clerk = await connect();
	assertOk(await clerk.request('hello', { role: 'staff', username: 'yamamoto',
		password: 'pw-yamamoto-1' }), 'the new clerk says hello at once');
	figures.push(['user add → hello', Date.now() - t1]);
	await pushedWithin(k, 'new clerk available',
		() => clerk.request('presence', { status: 'available' }),
		(e) => dept(e, 'kankyo')?.available === 1);
});

test('ring strategy changes take effect for the next call', async () => {
	const { c: k } = await kiosk(stack.tokens.takasaki);
	const { c: sato } = await staff('sato');
	const { c: tanaka } = await staff('tanaka');
	await pushedWithin(k, 'strategy', () => admin('department', 'set-strategy', 'hoken',
		'longest-idle', '--ring-timeout', '30'), (e) => Array.isArray(e.onestop));
	const { visit } = assertOk(await k.request('call', { department: 'hoken' }), 'call hoken');
	const first = await Promise.race([
		sato.waitFor('ringing', (m) => m.visit === visit, 5000).then(() => 'sato'),
		tanaka.waitFor('ringing', (m) => m.visit === visit, 5000).then(() => 'tanaka'),
	]);
	await sleep(1000);
	const other = first === 'sato' ? tanaka : sato;
	assert.ok(!other.events.some((m) => m.type === 'ringing' && m.visit === visit),
		`longest-idle rings one desk at a time, but both rang (first ${first})`);
	assertOk(await k.request('hangup'), 'hangup');
	await admin('department', 'set-strategy', 'hoken', 'all');
	await sleep(500);
	const again = assertOk(await k.request('call', { department: 'hoken' }), 'call again');
	await sato.waitFor('ringing', (m) => m.visit === again.visit, LIMIT_MS);
	await tanaka.waitFor('ringing', (m) => m.visit === again.visit, LIMIT_MS);
	assertOk(await k.request('hangup'), 'hangup again');
	await sato.close();
	await tanaka.close();
	await k.close();
});

test('a closed or removed department refuses new calls; the visit in progress goes on', async () => {
	const { c: k1 } = await kiosk(stack.tokens.yamada);
	const { c: k2 } = await kiosk(stack.tokens.takasaki);
	const { c: sato } = await staff('sato');
	const { visit } = assertOk(await k1.request('call', { department: 'hoken' }), 'call');
	await sato.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await sato.request('accept', { visit }), 'accept');
	const connected = await k1.waitFor('connected', (m) => m.visit === visit);
	const kioskParty = connected.parties.find((p) => p.role === 'kiosk').id;

	await pushedWithin(k2, 'department close',
		() => admin('department', 'close', 'hoken'),
		(e) => dept(e, 'hoken')?.open === false);
	assertError(await k2.request('call', { department: 'hoken' }), 'unavailable',
		'a call to a closed department');
	assertError(await k2.request('call', { department: 'nope' }), 'not_found', 'unknown');

	// Removed (only a department without history can be): gone from the list, refused.
	await admin('department', 'add', 'kari', '仮設窓口');
	await k2.waitFor('departments', (e) => dept(e, 'kari'), LIMIT_MS);
	await pushedWithin(k2, 'department remove',
		() => admin('department', 'remove', 'kari'),
		(e) => Array.isArray(e.departments) && !dept(e, 'kari'));
	const refused = await k2.request('call', { department: 'kari' });
	assert.equal(refused.type, 'error', `a call to a removed department: ${JSON.stringify(refused)}`);
	assert.ok(['unavailable', 'not_found'].includes(refused.code), refused.code);

	// The call that was up all along is untouched and ends normally.
	await sleep(300);
	for (const c of [k1, sato])
		assert.ok(!c.events.some((m) => m.type === 'ended'), 'nobody was ended by the changes');
	assertOk(await sato.request('control', { visit, target: kioskParty, volume: 0.5 }),
		'the desk still controls the kiosk of its call');
	await k1.waitFor('control');
	await endCall(sato, k1, visit);

	await pushedWithin(k2, 'department reopened (SQL)',
		() => stack.psql(`UPDATE departments SET open = true WHERE id = 'hoken'`),
		(e) => dept(e, 'hoken')?.open === true);
	const back = assertOk(await k2.request('call', { department: 'hoken' }), 'call after reopening');
	await sato.waitFor('ringing', (m) => m.visit === back.visit);
	assertOk(await k2.request('hangup'), 'hangup');
	for (const c of [k1, k2, sato])
		await c.close();
});

/** Retries req() until it answers ok, for at most ms; resolves the time it took. */
async function okWithin(req, ms, what) {
	const t0 = Date.now();
	for (;;) {
		const r = await req();
		if (r.type === 'ok')
			return Date.now() - t0;
		if (Date.now() - t0 > ms)
			throw new Error(`${what}: still ${r.code} after ${ms} ms`);
		await sleep(50);
	}
}

test('a logged-in clerk follows a change of departments and flags; the call stays',
	async () => {
		// Kiosks of their own: the others have used up some of their six calls a minute.
		const { c: k1 } = await kiosk(await stack.addKiosk('yamada', '山田出張所 3番'));
		const { c: k2 } = await kiosk(await stack.addKiosk('yamada', '山田出張所 4番'));
		const { c: sato } = await staff('sato');
		const { visit } = assertOk(await k1.request('call', { department: 'hoken' }), 'call');
		await sato.waitFor('ringing', (m) => m.visit === visit);
		assertOk(await sato.request('accept', { visit }), 'accept');
		await k1.waitFor('connected', (m) => m.visit === visit);
		const waiting = assertOk(await k2.request('call', { department: 'zeimu' }), 'call zeimu');

		// sato moves from hoken to zeimu (there is no admin command for it: SQL by hand).
		const t0 = Date.now();
		await stack.psql(`BEGIN;
			INSERT INTO staff_departments (staff_id, department_id)
				SELECT id, 'zeimu' FROM staff WHERE username = 'sato';
			DELETE FROM staff_departments WHERE department_id = 'hoken'
				AND staff_id = (SELECT id FROM staff WHERE username = 'sato');
			COMMIT`);
		const q = await sato.waitFor('queue', (m) => m.department === 'zeimu', LIMIT_MS + 500);
		const ms = Date.now() - t0;
		figures.push(['clerk gets a department', ms]);
		assert.ok(ms <= LIMIT_MS, `the new department's queue came after ${ms} ms`);
		assert.ok(q.visits.some((v) => v.visit === waiting.visit), JSON.stringify(q));
		await sleep(300);
		assert.ok(!sato.events.some((m) => m.type === 'ended') &&
			!k1.events.some((m) => m.type === 'ended'), 'the call in hoken was not ended');

		// The hoken call ends normally; sato is then a free zeimu desk and rings for k2.
		await endCall(sato, k1, visit);
		await sato.waitFor('ringing', (m) => m.visit === waiting.visit, LIMIT_MS);
		assertOk(await k2.request('hangup'), 'hangup zeimu');
		// ... and no longer rings for hoken.
		const h = assertOk(await k1.request('call', { department: 'hoken' }), 'call hoken');
		await sleep(700);
		assert.ok(!sato.events.some((m) => m.type === 'ringing' && m.visit === h.visit),
			'sato left hoken but still rang for it');
		assertOk(await k1.request('hangup'), 'hangup hoken');

		// Flags: coordinator granted while logged in.
		assertError(await sato.request('watch'), 'forbidden', 'watch before the flag');
		await admin('user', 'flags', 'sato', 'coordinator');
		figures.push(['clerk gets a flag', await okWithin(() => sato.request('watch'),
			LIMIT_MS, 'watch after user flags')]);
		await admin('user', 'flags', 'sato', '');
		await stack.psql(`BEGIN;
			INSERT INTO staff_departments (staff_id, department_id)
				SELECT id, 'hoken' FROM staff WHERE username = 'sato';
			DELETE FROM staff_departments WHERE department_id = 'zeimu'
				AND staff_id = (SELECT id FROM staff WHERE username = 'sato');
			COMMIT`);
		for (const c of [k1, k2, sato])
			await c.close();
	});

test('a change made while the server was cut off from PostgreSQL is read after it reconnects',
	async () => {
		const { c: k } = await kiosk(stack.tokens.yamada);
		const role = /user=(\S+)/.exec(stack.serverConninfo)[1];
		// The server may not log in again until we say so: the change below is made while it
		// is certainly disconnected, so no notice can reach it.
		await stack.psql(`ALTER ROLE ${role} NOLOGIN`);
		await stack.psql('CHECKPOINT'); // the test cluster runs without fsync: keep it on disk
		await stack.pgStop();
		await stack.pgStart();
		await stack.psql(`UPDATE departments SET name = '税務課(臨時)' WHERE id = 'zeimu'`);
		await sleep(1500);
		assert.ok(!k.events.some((m) => m.type === 'departments' &&
			dept(m, 'zeimu')?.name === '税務課(臨時)'), 'nothing can have been pushed yet\n' +
			stack.serverLog().split('\n').slice(-30).join('\n'));
		const t0 = Date.now();
		await stack.psql(`ALTER ROLE ${role} LOGIN`);
		const ev = await k.waitFor('departments', (m) => dept(m, 'zeimu')?.name === '税務課(臨時)',
			5000).catch(() => {
			throw new Error('the change made during the outage never reached the kiosk');
		});
		figures.push(['after reconnecting', Date.now() - t0]);
		assert.ok(ev.onestop, 'the push after a reload carries the menus');
		assert.ok(/directory applied/.test(stack.serverLog()));
	});
