// Bad input against the real server (shared/PROTOCOL.md, "Transport"): every malformed,
// unauthorised or oversized message gets a defined error, never closes the connection by
// itself (except before hello, and after more than 20 bad messages a minute), and never
// affects other sessions. A well-behaved idle kiosk checks that after every scenario.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, ERROR_CODES, sleep, startStack, wsClient } from '../lib/harness.mjs';

const SOME_VISIT = '3f1c2a9e-8d7b-4c6a-9e5f-0a1b2c3d4e5f';

let stack;
let watcher; // the well-behaved session: a kiosk that said hello and stays idle
let kioskCount = 0;

before(async () => {
	stack = await startStack({ tls: true });
	watcher = await wsClient(stack.wsUrl);
	assertOk(await watcher.request('hello', { role: 'kiosk', token: stack.tokens.takasaki }),
		'watcher kiosk hello');
});

after(async () => {
	await watcher?.close();
	await stack?.stop();
});

/** A fresh kiosk (its own device token), connected and past hello. */
async function helloKiosk() {
	const token = await stack.addKiosk('yamada', `テスト端末 ${++kioskCount}`);
	const c = await wsClient(stack.wsUrl);
	assertOk(await c.request('hello', { role: 'kiosk', token }), 'kiosk hello');
	return c;
}

async function helloStaff(username) {
	const c = await wsClient(stack.wsUrl);
	const { password } = stack.logins[username];
	assertOk(await c.request('hello', { role: 'staff', username, password }),
		`staff ${username} hello`);
	return c;
}

/** A reply is defined when it is ok or an error with a protocol error code. */
function assertDefinedReply(reply, what) {
	assert.ok(reply.type === 'ok' || (reply.type === 'error' && ERROR_CODES.includes(reply.code)),
		`${what}: expected ok or a protocol error, got ${JSON.stringify(reply)}`);
}

/** The server is alive and the idle kiosk still gets answers. */
async function assertOthersUnaffected(what) {
	assert.ok(stack.serverAlive(), `the server died after ${what}; log:\n${stack.serverLog()}`);
	assert.ok(watcher.isOpen, `the idle kiosk's connection closed after ${what} ` +
		`(code ${watcher.closeCode})`);
	assertDefinedReply(await watcher.request('hangup'), `idle kiosk hangup after ${what}`);
}

/** Sends a raw frame and waits for the error it causes (with or without an id). */
async function rawError(c, frame, code, what) {
	c.sendRaw(frame);
	const err = await c.waitFor('error', () => true, 5000).catch((e) => {
		throw new Error(`${what}: no error reply: ${e.message}`);
	});
	assertError(err, code, what);
	return err;
}

test('a message before hello gets unauthorized, then close 1008', async () => {
	const c = await wsClient(stack.wsUrl);
	try {
		assertError(await c.request('call', { department: 'hoken' }), 'unauthorized',
			'call before hello');
		const { code } = await c.waitClose(5000);
		assert.equal(code, 1008, 'close status after a message before hello');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a message before hello');
});

test('malformed JSON gets bad_request and the connection stays open', async () => {
	const c = await helloKiosk();
	try {
		await rawError(c, '{"type":"hangup","id":', 'bad_request', 'truncated JSON');
		await rawError(c, 'not json at all', 'bad_request', 'plain text');
		await rawError(c, '[1,2,3]', 'bad_request', 'a JSON array');
		await rawError(c, '"hello"', 'bad_request', 'a JSON string');
		assert.ok(c.isOpen, 'connection closed after malformed JSON');
		assertDefinedReply(await c.request('hangup'), 'hangup after malformed JSON');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('malformed JSON');
});

test('an unknown type gets bad_request', async () => {
	const c = await helloKiosk();
	try {
		assertError(await c.request('frobnicate', { x: 1 }), 'bad_request', 'unknown type');
		await rawError(c, JSON.stringify({ id: 77 }), 'bad_request', 'no type at all');
		assertDefinedReply(await c.request('hangup'), 'hangup after unknown type');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('an unknown type');
});

test('missing fields and wrong field types get bad_request', async () => {
	const c = await helloKiosk();
	try {
		assertError(await c.request('call', {}), 'bad_request', 'call without department');
		assertError(await c.request('call', { department: 42 }), 'bad_request',
			'call with a numeric department');
		assertError(await c.request('call', { department: ['hoken'] }), 'bad_request',
			'call with an array department');
		assertError(await c.request('survey', { rating: 5 }), 'bad_request',
			'survey without visit');
		assertError(await c.request('survey', { visit: SOME_VISIT, rating: 'five' }),
			'bad_request', 'survey with a string rating');
		assertError(await c.request('offer', { tracks: { 0: 'mic' } }), 'bad_request',
			'offer without sdp');
		await rawError(c, JSON.stringify({ type: 42, id: 90 }), 'bad_request',
			'numeric type');
		await rawError(c, JSON.stringify({ type: 'hangup', id: 'x' }), 'bad_request',
			'string id');
		assert.ok(c.isOpen, 'connection closed after bad fields');
		assertDefinedReply(await c.request('hangup'), 'hangup after bad fields');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('missing and mistyped fields');
});

test('a wrong kiosk token gets unauthorized', async () => {
	const c = await wsClient(stack.wsUrl);
	try {
		assertError(await c.request('hello', { role: 'kiosk', token: 'not-a-real-token' }),
			'unauthorized', 'kiosk hello with a wrong token');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a wrong kiosk token');
});

test('a wrong staff password or unknown user gets unauthorized', async () => {
	const c = await wsClient(stack.wsUrl);
	try {
		assertError(await c.request('hello', { role: 'staff', username: 'sato',
			password: 'wrong-password' }), 'unauthorized', 'staff hello with a wrong password');
	} finally {
		await c.close();
	}
	const d = await wsClient(stack.wsUrl);
	try {
		assertError(await d.request('hello', { role: 'staff', username: 'nobody',
			password: 'demo-sato' }), 'unauthorized', 'staff hello with an unknown user');
	} finally {
		await d.close();
	}
	await assertOthersUnaffected('a wrong staff password');
});

test('a kiosk sending accept gets forbidden', async () => {
	const c = await helloKiosk();
	try {
		assertError(await c.request('accept', { visit: SOME_VISIT }), 'forbidden',
			'accept from a kiosk');
		assertError(await c.request('presence', { status: 'available' }), 'forbidden',
			'presence from a kiosk');
		assertDefinedReply(await c.request('hangup'), 'hangup after forbidden');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a kiosk sending accept');
});

test('staff sending call gets forbidden', async () => {
	const c = await helloStaff('suzuki');
	try {
		assertError(await c.request('call', { department: 'zeimu' }), 'forbidden',
			'call from staff');
		assertOk(await c.request('presence', { status: 'away' }), 'presence after forbidden');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('staff sending call');
});

test('a 70 KiB frame is refused and the connection still answers', async () => {
	const c = await helloKiosk();
	try {
		const big = JSON.stringify({ type: 'hangup', id: 500, pad: 'x'.repeat(70 * 1024) });
		c.sendRaw(big);
		// Either an error (bad_request) or a counted drop; both leave the connection usable.
		const reply = await c.request('hangup', {}, { timeoutMs: 10000 });
		assertDefinedReply(reply, 'hangup after a 70 KiB frame');
		assert.ok(c.isOpen, `connection closed after a 70 KiB frame (code ${c.closeCode})`);
		const errors = c.received.filter((m) => m.type === 'error' && m !== reply);
		for (const e of errors)
			assertError(e, 'bad_request', 'the error caused by a 70 KiB frame');
		const bigReply = c.received.find((m) => m.id === 500);
		assert.ok(!bigReply || bigReply.type === 'error',
			`the 70 KiB hangup was executed: ${JSON.stringify(bigReply)}`);
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a 70 KiB frame');
});

test('a binary frame gets bad_request', async () => {
	const c = await helloKiosk();
	try {
		await rawError(c, Buffer.from('{"type":"hangup","id":600}'), 'bad_request',
			'binary frame');
		assert.ok(c.isOpen, 'connection closed after a binary frame');
		assertDefinedReply(await c.request('hangup'), 'hangup after a binary frame');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a binary frame');
});

test('a garbage SDP offer gets bad_request with a message', async () => {
	const c = await helloKiosk();
	try {
		const tracks = { 0: 'mic', 1: 'camera', 2: 'document', 3: 'slot', 4: 'slot' };
		for (const sdp of ['this is not sdp', 'v=0\r\nm=audio\r\n', '', 'v=0\r\n'.repeat(2000)]) {
			const reply = assertError(await c.request('offer', { sdp, tracks }), 'bad_request',
				`offer with sdp ${JSON.stringify(sdp.slice(0, 20))}`);
			assert.ok(typeof reply.message === 'string' && reply.message.length > 0,
				`bad_request for a garbage offer has no message: ${JSON.stringify(reply)}`);
		}
		assert.ok(c.isOpen, 'connection closed after garbage offers');
		assertDefinedReply(await c.request('hangup'), 'hangup after garbage offers');
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a garbage SDP offer');
});

test('more than 20 bad messages in a minute close the connection with 1008', async () => {
	const c = await helloKiosk();
	try {
		for (let i = 0; i < 25 && c.isOpen; i++) {
			c.sendRaw(`{bad json ${i}`);
			await sleep(10);
		}
		const { code } = await c.waitClose(5000);
		assert.equal(code, 1008, 'close status after a flood of bad messages');
		const errors = c.received.filter((m) => m.type === 'error');
		assert.ok(errors.length >= 20,
			`expected at least 20 bad_request replies before the close, got ${errors.length}`);
	} finally {
		await c.close();
	}
	await assertOthersUnaffected('a flood of bad messages');
});

test('/healthz answers ok with the database up', async () => {
	const r = await stack.get('/healthz');
	assert.equal(r.status, 200, `/healthz status; body: ${r.body}`);
	assert.ok(r.json, `/healthz is not JSON: ${r.body}`);
	assert.equal(r.json.status, 'ok', `/healthz: ${r.body}`);
	assert.equal(r.json.db, 'up', `/healthz: ${r.body}`);
	await assertOthersUnaffected('/healthz');
});
