// The status board (PROTOCOL.md, "Status board") through the real server and PostgreSQL:
// the `status` snapshot lists every kiosk that exists (one that never connected included)
// and every department; events follow a kiosk that connects, queues, rings, is in a call
// and leaves, and a desk whose presence changes; a clerk without flags is refused; an admin
// may watch; GET /api/status answers 401/403/200 with the same shape; kiosks.last_seen is
// written; /metrics has the kiosk_online gauge; a kiosk added while the server runs shows
// when it first connects, and a revoked one leaves the board (event `removed`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, runOk, startStack, wsClient } from '../lib/harness.mjs';

let stack;
let spareId; // a kiosk added for the test that never connects
const clients = [];

before(async () => {
	stack = await startStack({ tls: true });
	// A second kiosk in takasaki that never connects, and an admin without the coordinator
	// flag. The server reads the kiosk list when it connects to PostgreSQL, which was before
	// this kiosk existed: restarting it shows the list is read from the database.
	await stack.addKiosk('takasaki', '高崎総合支所 2番');
	await runOk(stack.bin, ['--db', stack.conninfo, 'admin', 'user', 'add', 'kanri', '--name',
		'管理者', '--department', 'kosodate', '--flags', 'admin'], { input: 'kanri-pass-123\n' });
	const list = JSON.parse(await stack.admin('kiosk', 'list', '--json'));
	spareId = list.find((k) => k.name === '高崎総合支所 2番').id;
	assert.match(spareId, /^[0-9a-f-]{36}$/);
	await stack.killServer();
	await stack.restartServer();
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

const staff = (username, password = stack.logins[username]?.password) =>
	hello({ role: 'staff', username, password });

const byName = (list, name) => list.find((k) => k.kiosk.name === name);
const dept = (list, id) => list.find((d) => d.id === id);

/** Keeps the board as the page would: the snapshot, then every status event merged in by
 * id. events keeps each event for checks on what one event carried. */
function track(c, snap) {
	const board = { kiosks: new Map(), depts: new Map(), events: [] };
	const merge = (m) => {
		for (const k of m.kiosks)
			board.kiosks.set(k.kiosk.id, k);
		for (const d of m.departments)
			board.depts.set(d.id, d);
		for (const id of m.removed?.kiosks ?? [])
			board.kiosks.delete(id);
	};
	merge(snap);
	c.ws.on('message', (data) => {
		const m = JSON.parse(data.toString());
		if (m.type === 'status') {
			board.events.push(m);
			merge(m);
		}
	});
	return board;
}

/** Resolves once pred(board) holds (the value it returned), or fails after 5 s. */
async function until(board, pred, what) {
	const deadline = Date.now() + 5000;
	for (;;) {
		const v = pred(board);
		if (v)
			return v;
		if (Date.now() > deadline)
			throw new Error(`${what}: not on the board within 5 s; last events:\n` +
				board.events.slice(-4).map((e) => JSON.stringify(e).slice(0, 400)).join('\n'));
		await new Promise((r) => setTimeout(r, 50));
	}
}

const kioskIs = (name, pred) => (b) => [...b.kiosks.values()].find((k) => k.kiosk.name === name &&
	pred(k));
const deptIs = (id, pred) => (b) => { const d = b.depts.get(id); return d && pred(d) && d; };
const deskIs = (id, name, presence) => deptIs(id, (d) =>
	d.desks.some((x) => x.party.name === name && x.presence === presence));

function checkShape(body, what) {
	assert.ok(Array.isArray(body.kiosks) && Array.isArray(body.departments), what);
	for (const k of body.kiosks) {
		assert.deepEqual(Object.keys(k).sort(),
			['health', 'kiosk', 'last_seen', 'online', 'state', 'visit'], `${what}: KIOSK_STATUS`);
		assert.equal(k.kiosk.role, 'kiosk');
		assert.ok(k.kiosk.branch.id && k.kiosk.branch.name, `${what}: branch`);
		assert.ok(['idle', 'queued', 'ringing', 'in_call'].includes(k.state));
	}
	for (const d of body.departments) {
		assert.deepEqual(Object.keys(d).sort(),
			['desks', 'id', 'longest_wait_s', 'name', 'open', 'queued'], `${what}: DEPT_STATUS`);
		for (const desk of d.desks)
			assert.ok(['available', 'away', 'busy'].includes(desk.presence));
	}
}

test('the status board follows kiosks and desks', async () => {
	const { c: coord } = await staff('tanaka');
	const snap = assertOk(await coord.request('status', {}), 'status');
	checkShape(snap, 'snapshot');
	assert.equal(snap.kiosks.length, 3, `every kiosk: ${JSON.stringify(snap.kiosks)}`);
	for (const k of snap.kiosks) {
		assert.equal(k.online, false, `nobody connected yet: ${JSON.stringify(k)}`);
		assert.equal(k.state, 'idle');
		assert.equal(k.visit, null);
		assert.equal(k.health, null);
	}
	const spare = snap.kiosks.find((k) => k.kiosk.id === spareId);
	assert.ok(spare, 'the kiosk that never connected is listed');
	assert.equal(spare.kiosk.branch.id, 'takasaki');
	assert.equal(spare.last_seen, null);
	assert.deepEqual(snap.departments.map((d) => d.id).sort(), ['hoken', 'kosodate', 'zeimu']);
	assert.equal(dept(snap.departments, 'hoken').name, '保険年金課');
	for (const d of snap.departments) {
		assert.equal(d.open, true);
		assert.equal(d.queued, 0);
		assert.equal(d.longest_wait_s, 0);
		// tanaka belongs to every department: a desk that is away (not available).
		assert.deepEqual(d.desks.map((x) => [x.party.name, x.presence]), [['田中', 'away']]);
	}

	// A clerk without flags may not watch.
	const { c: sato } = await staff('sato');
	assertError(await sato.request('status', {}), 'forbidden', 'a clerk asks for the board');

	const board = track(coord, snap);
	// A desk becomes available.
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	await until(board, deskIs('hoken', '佐藤', 'available'), 'sato available');
	const ev = board.events.find((e) => e.departments.some((d) => d.id === 'hoken'));
	assert.ok(!ev.departments.some((d) => d.id === 'zeimu'), 'only what changed is sent');

	// A kiosk connects.
	const kioskName = stack.kiosks.find((k) => k.branch === 'yamada').name;
	const { c: kiosk, reply: kh } = await hello({ role: 'kiosk', token: stack.tokens.yamada });
	let k = await until(board, kioskIs(kioskName, (x) => x.online), 'kiosk online');
	assert.equal(k.state, 'idle');
	assert.equal(k.kiosk.session, kh.self.id);
	assert.ok(Date.parse(k.last_seen) > Date.now() - 60000, `last_seen: ${k.last_seen}`);
	assert.ok(!board.events.some((e) => e.kiosks.some((x) => x.kiosk.id === spareId)),
		'the kiosk that did not change is not sent again');

	// It queues where nobody is logged in (zeimu): queued, and the department's queue grows.
	const q = assertOk(await kiosk.request('call', { department: 'zeimu' }), 'call zeimu');
	k = await until(board, kioskIs(kioskName, (x) => x.state === 'queued'), 'kiosk queued');
	assert.equal(k.visit, q.visit);
	await until(board, deptIs('zeimu', (d) => d.queued === 1), 'zeimu queue 1');
	await until(board, deptIs('zeimu', (d) => d.longest_wait_s >= 2), 'the longest wait grows');
	assertOk(await kiosk.request('hangup', {}), 'hangup');
	await until(board, deptIs('zeimu', (d) => d.queued === 0 && d.longest_wait_s === 0),
		'zeimu queue empty');
	await until(board, kioskIs(kioskName, (x) => x.state === 'idle'), 'idle again');

	// It calls hoken: sato rings; sato answers: in a call, sato busy.
	const { visit } = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call');
	await until(board, kioskIs(kioskName, (x) => x.state === 'ringing' && x.visit === visit),
		'kiosk ringing');
	await sato.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await sato.request('accept', { visit }), 'accept');
	await until(board, kioskIs(kioskName, (x) => x.state === 'in_call'), 'kiosk in a call');
	await until(board, deskIs('hoken', '佐藤', 'busy'), 'sato busy');

	// The same board over HTTP, meanwhile.
	const login = async (username, password) => (await stack.http('POST', '/api/login',
		{ body: { username, password } })).json.token;
	const get = (token) => stack.get('/api/status',
		{ headers: token ? { Authorization: `Bearer ${token}` } : {} });
	assert.equal((await get(null)).status, 401);
	assert.equal((await get('not-a-real-token-at-all')).status, 401);
	assert.equal((await get(await login('sato', stack.logins.sato.password))).status, 403);
	const api = await get(await login('tanaka', stack.logins.tanaka.password));
	assert.equal(api.status, 200, api.body);
	checkShape(api.json, '/api/status');
	assert.equal(api.json.kiosks.length, 3);
	assert.equal(byName(api.json.kiosks, kioskName).state, 'in_call');
	assert.equal((await get(await login('kanri', 'kanri-pass-123'))).status, 200,
		'an admin may read the board');
	assert.equal((await stack.http('POST', '/api/status', { body: {} })).status, 405);

	// The gauge.
	const metrics = (await stack.get('/metrics')).body;
	assert.match(metrics, new RegExp(`madoguchi_kiosk_online\\{kiosk="${spareId}",` +
		'branch="takasaki"\\} 0'));
	assert.match(metrics, /madoguchi_kiosk_online\{kiosk="[0-9a-f-]{36}",branch="yamada"\} 1/);

	// The clerk ends the call and goes away; the kiosk leaves.
	assertOk(await sato.request('end', { visit, outcome: 'completed' }), 'end');
	await until(board, kioskIs(kioskName, (x) => x.state === 'idle' && x.visit === null),
		'idle after the call');
	assertOk(await sato.request('presence', { status: 'away' }), 'sato away');
	await until(board, deskIs('hoken', '佐藤', 'away'), 'sato away');
	await kiosk.close();
	k = await until(board, kioskIs(kioskName, (x) => !x.online), 'kiosk offline');
	assert.ok(k.last_seen, 'last_seen stays after it left');
	const rows = await stack.psql(`SELECT count(*) FROM kiosks WHERE branch_id = 'yamada' AND ` +
		`last_seen > now() - interval '1 minute'`);
	assert.equal(rows, '1', 'kiosks.last_seen is written');

	// An admin without the coordinator flag may watch too.
	const { c: admin } = await staff('kanri', 'kanri-pass-123');
	const snap2 = assertOk(await admin.request('status', {}), 'admin status');
	assert.equal(snap2.kiosks.length, 3);
	assert.equal(byName(snap2.kiosks, kioskName).online, false);
});

test('a kiosk added while the server runs shows when it first connects', async () => {
	const { c: coord } = await staff('tanaka');
	const snap = assertOk(await coord.request('status', {}), 'status');
	const board = track(coord, snap);
	const token = await stack.addKiosk('yamada', '山田出張所 新端末');
	const { c: fresh } = await hello({ role: 'kiosk', token });
	const k = await until(board, kioskIs('山田出張所 新端末', (x) => x.online), 'the new kiosk');
	assert.equal(k.kiosk.branch.id, 'yamada');
	await fresh.close();
	await until(board, kioskIs('山田出張所 新端末', (x) => !x.online), 'the new kiosk offline');
	// It stays on the board once offline: the list was read again from PostgreSQL.
	const again = assertOk(await coord.request('status', {}), 'status again');
	assert.ok(again.kiosks.some((x) => x.kiosk.name === '山田出張所 新端末' && !x.online));
	await stack.admin('kiosk', 'revoke', k.kiosk.id);
	await until(board, (b) => ![...b.kiosks.values()].some((x) => x.kiosk.id === k.kiosk.id),
		'the revoked new kiosk leaves');
});

test('a revoked kiosk leaves the board', async () => {
	const { c: coord } = await staff('tanaka');
	const snap = assertOk(await coord.request('status', {}), 'status');
	assert.ok(snap.kiosks.some((k) => k.kiosk.id === spareId));
	await stack.admin('kiosk', 'revoke', spareId);
	const ev = await coord.waitFor('status', (m) => m.removed?.kiosks?.includes(spareId), 5000);
	assert.deepEqual(ev.removed.kiosks, [spareId]);
	const again = assertOk(await coord.request('status', {}), 'status again');
	assert.equal(again.kiosks.length, 2);
	assert.ok(!again.kiosks.some((k) => k.kiosk.id === spareId));
});
