// Issue 9, finding 4: revocation takes effect at once. `admin kiosk revoke`, `admin user
// disable` and `admin user passwd` run as separate processes against PostgreSQL, as an
// operator would; the running server must end that identity's live sessions within 2 s
// (event `revoked`, close 4003), and their resume and login tokens must stop working.
// POST /api/logout revokes one login token. Real server, real PostgreSQL, real sockets.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BIN, assertError, assertOk, runOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

let stack;
const clients = [];

before(async () => {
	stack = await startStack({ tls: true });
});

after(async () => {
	for (const c of clients)
		c.ws.terminate();
	await stack?.stop();
});

async function connect() {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	return c;
}

async function session(hello) {
	const c = await connect();
	const reply = assertOk(await c.request('hello', hello), `hello ${hello.role}`);
	return { c, reply };
}

const staff = (name, password = stack.logins[name].password) =>
	session({ role: 'staff', username: name, password });

/** Waits for the revoked event and the 4003 close; resolves the milliseconds taken. */
async function revokedWithin(c, t0, ms = 2000) {
	const ev = await c.waitFor('revoked', () => true, ms + 1000);
	assert.equal(ev.type, 'revoked');
	const closed = await c.closed;
	assert.equal(closed.code, 4003);
	const took = Date.now() - t0;
	assert.ok(took <= ms, `revocation took ${took} ms`);
	return took;
}

function login(username, password) {
	return stack.http('POST', '/api/login', { body: { username, password } });
}

async function kioskId(branch) {
	return stack.psql(`SELECT id FROM kiosks WHERE branch_id = '${branch}' AND revoked_at IS NULL`);
}

test('admin kiosk revoke ends the kiosk\'s live session and its call within 2 s', async () => {
	const { c: desk } = await staff('sato');
	assertOk(await desk.request('presence', { status: 'available' }), 'available');
	const { c: kiosk, reply } = await session({ role: 'kiosk', token: stack.tokens.yamada });
	const { visit } = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call');
	await desk.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await desk.request('accept', { visit }), 'accept');
	await kiosk.waitFor('connected', (m) => m.visit === visit);

	const id = await kioskId('yamada');
	const t0 = Date.now();
	await stack.admin('kiosk', 'revoke', id);
	const ms = await revokedWithin(kiosk, t0);
	console.log(`kiosk revoked in ${ms} ms`);
	// The desk's call ends; the kiosk's resume token and device token are dead.
	const ended = await desk.waitFor('ended', (m) => m.visit === visit);
	assert.equal(ended.visit, visit);
	const again = await connect();
	assertError(await again.request('hello', { resume: reply.resume }), 'not_found', 'resume');
	const fresh = await connect();
	assertError(await fresh.request('hello', { role: 'kiosk', token: stack.tokens.yamada }),
		'unauthorized', 'the revoked token');
	await stack.waitForRecord(visit, (r) => r.visit?.ended_at, 'the visit ended');
});

test('admin user disable ends the clerk\'s sessions, suspended ones too', async () => {
	const { c: one } = await staff('suzuki');
	const { c: two, reply } = await staff('suzuki');
	two.ws.terminate(); // suspended, waiting for a resume
	await sleep(300);
	const t0 = Date.now();
	await stack.admin('user', 'disable', 'suzuki');
	await revokedWithin(one, t0);
	const back = await connect();
	assertError(await back.request('hello', { resume: reply.resume }), 'not_found',
		'resume of a suspended session after disable');
	const r = await login('suzuki', stack.logins.suzuki.password);
	assert.equal(r.status, 401, r.body);
	await stack.admin('user', 'enable', 'suzuki');
	assertOk((await staff('suzuki')).reply, 'enabled again');
});

test('admin user passwd ends sessions and old login tokens; logout revokes a token', async () => {
	const r = await login('takahashi', stack.logins.takahashi.password);
	assert.equal(r.status, 200, r.body);
	const { token } = r.json;
	const { c: byToken } = await session({ role: 'staff', token });
	const { c: byPassword } = await staff('takahashi');
	const t0 = Date.now();
	await runOk(BIN, ['--db', stack.conninfo, 'admin', 'user', 'passwd', 'takahashi'],
		{ input: 'a-new-password-42\n' });
	await Promise.all([revokedWithin(byToken, t0), revokedWithin(byPassword, t0)]);
	const old = await connect();
	assertError(await old.request('hello', { role: 'staff', token }), 'unauthorized',
		'the login token from before passwd');
	assertError(await (await connect()).request('hello', { role: 'staff',
		username: 'takahashi', password: stack.logins.takahashi.password }), 'unauthorized',
	'the old password');
	assertOk((await staff('takahashi', 'a-new-password-42')).reply, 'the new password');

	// Logout: the token stops working at once, a second logout is refused.
	const l = await login('takahashi', 'a-new-password-42');
	const auth = { Authorization: `Bearer ${l.json.token}` };
	const out = await stack.http('POST', '/api/logout', { headers: auth });
	assert.equal(out.status, 200, out.body);
	assertError(await (await connect()).request('hello', { role: 'staff', token: l.json.token }),
		'unauthorized', 'a logged-out token');
	assert.equal((await stack.http('POST', '/api/logout', { headers: auth })).status, 401);
	assert.equal((await stack.http('POST', '/api/logout')).status, 401, 'no token');
	assert.equal((await stack.http('GET', '/api/logout', { headers: auth })).status, 405);
});

test('a revocation made while the server was cut off from PostgreSQL is caught on reconnect',
	async () => {
		const { c: kiosk } = await session({ role: 'kiosk', token: stack.tokens.takasaki });
		const id = await kioskId('takasaki');
		// Cut every other connection (the server's LISTEN among them) and revoke in the same
		// breath: the notice goes to nobody, the server only learns it when it reconnects.
		const t0 = Date.now();
		await stack.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND datname = 'madoguchi';
			UPDATE kiosks SET revoked_at = now() WHERE id = '${id}'`);
		const ms = await revokedWithin(kiosk, t0, 5000);
		console.log(`revocation found by the re-check after ${ms} ms`);
		assert.match(stack.serverLog(), /msg="session revoked".* why=recheck/);
	});
