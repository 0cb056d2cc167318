// Issue 9, finding 7: the front door's TLS and HTTP hardening. HSTS on every response, only
// TLS 1.2 with ECDHE and AEAD suites (or TLS 1.3), WebSocket upgrades from a foreign Origin
// refused with 403 (clients that send none are unaffected), the config's allowed-origins, and
// /metrics for loopback clients only (the non-loopback half is in tests/network/metrics,
// which needs a network namespace). All against the real server over real sockets.

import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { assertOk, run, startStack, wsClient, wsUpgradeStatus } from '../lib/harness.mjs';

let stack;

before(async () => {
	stack = await startStack({ tls: true,
		config: { 'allowed-origins': ['https://kiosk-portal.city.example:8443'] } });
});

after(async () => {
	await stack?.stop();
});

test('every response carries HSTS', async () => {
	for (const p of ['/', '/kiosk/', '/healthz', '/nope', '/api/stats/monthly']) {
		const r = await stack.get(p);
		assert.equal(r.headers['strict-transport-security'], 'max-age=31536000', p);
	}
});

function handshake(opts) {
	return new Promise((resolve) => {
		const s = tls.connect({ host: stack.host, port: stack.port, rejectUnauthorized: false,
			...opts }, () => {
			const r = { ok: true, protocol: s.getProtocol(), cipher: s.getCipher().name };
			s.destroy();
			resolve(r);
		});
		s.on('error', (err) => resolve({ ok: false, error: err.message }));
	});
}

test('TLS 1.2 only with ECDHE and AEAD; CBC and static RSA refused', async () => {
	const cbc = await handshake({ maxVersion: 'TLSv1.2',
		ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:' +
			'AES128-SHA:AES256-SHA:AES128-SHA256:AES128-GCM-SHA256' });
	assert.equal(cbc.ok, false, `a CBC or static-RSA suite was accepted: ${JSON.stringify(cbc)}`);
	const gcm = await handshake({ maxVersion: 'TLSv1.2',
		ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' });
	assert.equal(gcm.ok, true, JSON.stringify(gcm));
	assert.equal(gcm.protocol, 'TLSv1.2');
	const v13 = await handshake({});
	assert.equal(v13.protocol, 'TLSv1.3');
	// TLS 1.1, offered by a client that allows it (OpenSSL at security level 0).
	const r = await run('openssl', ['s_client', '-connect', `${stack.host}:${stack.port}`,
		'-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'], { input: '', timeoutMs: 10000 });
	assert.notEqual(r.code, 0, `TLS 1.1 was accepted:\n${r.stdout}`);
	assert.match(r.stdout, /Cipher is \(NONE\)/, 'no cipher was agreed');
});

test('WebSocket upgrades from a foreign Origin get 403; no Origin and our own are fine',
	async () => {
		const own = `https://${stack.host}:${stack.port}`;
		assert.equal(await wsUpgradeStatus(stack.wsUrl, { headers: { Origin: 'https://evil.example' } }), 403);
		assert.equal(await wsUpgradeStatus(stack.wsUrl,
			{ headers: { Origin: `https://${stack.host}:${stack.port + 1}` } }), 403, 'another port');
		assert.equal(await wsUpgradeStatus(stack.wsUrl,
			{ headers: { Origin: `http://${stack.host}.evil.example:${stack.port}` } }), 403);
		assert.equal(await wsUpgradeStatus(stack.wsUrl, { headers: { Origin: 'null' } }), 403,
			'an opaque origin (a sandboxed frame, a file)');
		assert.equal(await wsUpgradeStatus(stack.wsUrl, { headers: { Origin: own } }), 101);
		assert.equal(await wsUpgradeStatus(stack.wsUrl,
			{ headers: { Origin: own.toUpperCase().replace('HTTPS', 'https') } }), 101, 'case');
		assert.equal(await wsUpgradeStatus(stack.wsUrl,
			{ headers: { Origin: 'https://kiosk-portal.city.example:8443' } }), 101,
		'an allowed origin');
		assert.equal(await wsUpgradeStatus(stack.wsUrl,
			{ headers: { Origin: 'https://kiosk-portal.city.example' } }), 403,
		'an allowed host on another port');
		// A client without Origin (a device, a tool) still talks the protocol.
		const c = await wsClient(stack.wsUrl);
		assertOk(await c.request('hello', { role: 'kiosk', token: stack.tokens.yamada }), 'hello');
		await c.close();
		const refused = stack.serverLog().match(/websocket refused/g) || [];
		assert.equal(refused.length, 5);
	});

test('/metrics answers loopback clients and counts what was refused', async () => {
	const r = await stack.get('/metrics');
	assert.equal(r.status, 200);
	assert.match(r.body, /madoguchi_ws_upgrades_refused_origin_total 5/);
	assert.match(r.body, /madoguchi_credential_failures_total/);
});
