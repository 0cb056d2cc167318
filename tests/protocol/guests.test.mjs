// Guest interpreters (shared/PROTOCOL.md "Guests (interpreters)"; docs/protocol.md): who may
// invite, a code works once and expires (shortened to 5 s for this test by the server's
// MDG_GUEST_CODE_TTL_S environment variable), what a guest may send, 筆談 text to and from a
// guest, the guest's session ending with the visit, the guest leg in PostgreSQL (kind guest)
// and interpreted_visits in usage_monthly. No browser: the server relays without media.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

const UNKNOWN_VISIT = '00000000-0000-4000-8000-000000000000';
const TTL_S = 5;

let stack;
const clients = [];

before(async () => {
	process.env.MDG_GUEST_CODE_TTL_S = String(TTL_S);
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

async function helloKiosk(branch) {
	const c = await connect();
	assertOk(await c.request('hello', { role: 'kiosk', token: stack.tokens[branch] }), 'kiosk');
	return c;
}

async function helloStaff(username) {
	const c = await connect();
	const { password } = stack.logins[username];
	assertOk(await c.request('hello', { role: 'staff', username, password }), username);
	return c;
}

let kiosk, sato, suzuki, visit, guest, code;

test('set-up: a visit answered by sato', async () => {
	kiosk = await helloKiosk('yamada');
	sato = await helloStaff('sato');
	suzuki = await helloStaff('suzuki'); // another department, not in the visit
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	visit = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call').visit;
	await sato.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await sato.request('accept', { visit }), 'accept');
	await kiosk.waitFor('connected', (m) => m.visit === visit);
});

test('guest_invite: only the clerk of the leg; bad visit is not_found', async () => {
	assertError(await suzuki.request('guest_invite', { visit }), 'forbidden', 'another desk');
	assertError(await kiosk.request('guest_invite', { visit }), 'forbidden', 'a kiosk');
	assertError(await sato.request('guest_invite', { visit: UNKNOWN_VISIT }), 'not_found',
		'unknown visit');
	assertError(await sato.request('guest_invite', {}), 'bad_request', 'no visit');
	const r = assertOk(await sato.request('guest_invite', { visit, name: '手話通訳' }), 'invite');
	assert.match(r.code, /^[0-9a-f]{32}$/, '128-bit code');
	assert.equal(r.url, `https://${new URL(r.url).host}/guest/#code=${r.code}`);
	assert.ok(Date.parse(r.expires_at) > Date.now(), 'expires_at in the future');
	code = r.code;
});

test('a code works once', async () => {
	guest = await connect();
	const r = assertOk(await guest.request('hello', { role: 'guest', code }), 'guest hello');
	assert.equal(r.self.role, 'guest');
	assert.equal(r.self.name, '手話通訳');
	const conn = await kiosk.waitFor('connected', (m) => m.visit === visit &&
		m.parties.some((p) => p.role === 'guest'));
	assert.equal(conn.parties.length, 3, 'kiosk, desk, guest');
	await guest.waitFor('connected', (m) => m.visit === visit);
	const again = await connect();
	assertError(await again.request('hello', { role: 'guest', code }), 'unauthorized',
		'the same code a second time');
	const bogus = await connect();
	assertError(await bogus.request('hello', { role: 'guest', code: 'f'.repeat(32) }),
		'unauthorized', 'an unknown code');
});

test('a code expires', async () => {
	const r = assertOk(await sato.request('guest_invite', { visit }), 'invite 2');
	await sleep((TTL_S + 1) * 1000);
	const late = await connect();
	assertError(await late.request('hello', { role: 'guest', code: r.code }), 'unauthorized',
		'after the expiry');
});

test('a guest may text and negotiate; nothing else', async () => {
	for (const type of ['call', 'accept', 'end', 'annotate', 'guest_invite', 'share',
		'presence', 'transfer', 'survey', 'selftest'])
		assertError(await guest.request(type, { visit }), 'forbidden', type);
	assertOk(await guest.request('text', { visit, text: 'こんにちは' }), 'guest text');
	const seen = await kiosk.waitFor('text', (m) => m.text === 'こんにちは');
	assert.equal(seen.from.role, 'guest');
	await sato.waitFor('text', (m) => m.text === 'こんにちは');
	assertOk(await sato.request('text', { visit, text: 'よろしく' }), 'desk text');
	await guest.waitFor('text', (m) => m.text === 'よろしく');
});

test('layout: the clerk switches the kiosk to interpreter-large', async () => {
	assertOk(await sato.request('layout', { visit, layout: 'interpreter' }), 'layout');
	await kiosk.waitFor('layout', (m) => m.visit === visit && m.layout === 'interpreter');
	assertError(await sato.request('layout', { visit, layout: 'huge' }), 'bad_request', 'bad');
	assertError(await suzuki.request('layout', { visit, layout: 'equal' }), 'forbidden', 'other');
	assertError(await guest.request('layout', { visit, layout: 'equal' }), 'forbidden', 'guest');
});

test('hangup leaves; a second guest is ended with the visit', async () => {
	assertOk(await guest.request('hangup', {}), 'guest hangup');
	await kiosk.waitFor('connected', (m) => m.visit === visit && m.parties.length === 2);
	const r = assertOk(await sato.request('guest_invite', { visit }), 'invite 3');
	const g2 = await connect();
	assertOk(await g2.request('hello', { role: 'guest', code: r.code }), 'guest 2 hello');
	await kiosk.waitFor('connected', (m) => m.visit === visit && m.parties.length === 3);
	assertOk(await sato.request('end', { visit, outcome: 'completed',
		procedure: 'kokuho-kanyu' }), 'end');
	await g2.waitFor('ended', (m) => m.visit === visit);
	const closed = await g2.waitClose(5000);
	assert.ok(closed, 'the guest connection closes');
	await kiosk.waitFor('ended', (m) => m.visit === visit);
});

test('guest legs are in PostgreSQL and counted in usage_monthly', async () => {
	await stack.waitForRecord(visit, (rec) => rec.visit?.ended_at, 'visit ended');
	let rows = '';
	for (let i = 0; i < 50; i++) {
		rows = await stack.psql(`SELECT count(*) || ' ' || count(ended_at) FROM legs` +
			` WHERE visit_id = '${visit}' AND kind = 'guest'`);
		if (rows === '2 2')
			break;
		await sleep(200);
	}
	assert.equal(rows, '2 2', 'two guest legs, both ended');
	assert.equal(await stack.psql(`SELECT count(*) FROM legs WHERE visit_id = '${visit}'` +
		` AND kind = 'desk'`), '1', 'one desk leg');
	const row0 = 'SELECT visits || \' \' || legs || \' \' || interpreted_visits' +
		' FROM usage_monthly WHERE branch = \'yamada\' AND department = \'hoken\'' +
		' AND procedure = \'kokuho-kanyu\'';
	const row = await stack.psql('SELECT visits || \' \' || legs || \' \' || interpreted_visits' +
		' FROM usage_monthly WHERE branch = \'yamada\' AND department = \'hoken\'' +
		' AND procedure = \'kokuho-kanyu\'');
	assert.equal(row, '1 1 1', 'usage_monthly: visits legs interpreted_visits');
	// Recomputing the rollup (time-zone change) still leaves the guest legs out.
	await stack.psql('SELECT usage_rollup_rebuild()');
	assert.equal(await stack.psql(row0), '1 1 1', 'after usage_rollup_rebuild()');
});

test('GET /api/stats/monthly and its CSV carry interpreted_visits', async () => {
	const login = await stack.http('POST', '/api/login',
		{ body: { username: 'tanaka', password: stack.logins.tanaka.password } });
	const token = login.json.token;
	const month = new Date().toISOString().slice(0, 7);
	const r = await stack.http('GET', `/api/stats/monthly?from=${month}&to=${month}`,
		{ headers: { authorization: `Bearer ${token}` } });
	assert.equal(r.status, 200);
	const row = r.json.rows.find((x) => x.branch === 'yamada' && x.department === 'hoken' &&
		x.procedure === 'kokuho-kanyu');
	assert.equal(row?.interpreted_visits, 1, JSON.stringify(r.json.rows));
	const csv = await stack.http('GET', `/api/stats/monthly?from=${month}&to=${month}&format=csv`,
		{ headers: { authorization: `Bearer ${token}` } });
	assert.match(csv.body, /,booked_visits,interpreted_visits\r\n/);
});
