// Issue 9, finding 7 (the half that needs another host): /metrics names every connected
// peer and counts sessions, so it answers only loopback clients, or a client holding the
// config's metrics-token; anyone else on the city network gets 404. The client runs in a
// network namespace the test makes (tests/lib/netns.mjs), reaching the server over a veth
// pair from a non-loopback address, as a staff PC on the LAN would.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createNetns, requireNetns } from '../lib/netns.mjs';
import { startStack } from '../lib/harness.mjs';

await requireNetns();

const TOKEN = 'scrape-7f3c9a1e5b2d4c68a0e1';
let net, stack;

before(async () => {
	net = await createNetns();
	stack = await startStack({ tls: true, bind: '0.0.0.0', mediaIp: net.hostIp,
		config: { 'metrics-token': TOKEN } });
});

after(async () => {
	await stack?.stop();
	await net?.remove();
});

/** GET from inside the namespace; resolves the HTTP status. */
async function getFromLan(path, headers = {}) {
	const script = `
		const https = require('node:https');
		https.get(${JSON.stringify(`https://${net.hostIp}:${stack.port}${path}`)},
			{ rejectUnauthorized: false, headers: ${JSON.stringify(headers)} }, (res) => {
				res.resume();
				res.on('end', () => console.log(res.statusCode));
			}).on('error', (e) => { console.log('error ' + e.message); });`;
	const out = await net.exec(process.execPath, '-e', script);
	return out.trim();
}

test('/metrics: 404 from the LAN, 200 with the token or from loopback', async () => {
	assert.equal(await getFromLan('/healthz'), '200', 'the LAN reaches the server');
	assert.equal(await getFromLan('/metrics'), '404');
	assert.equal(await getFromLan('/metrics', { Authorization: 'Bearer wrong-token-0000000000' }),
		'404');
	assert.equal(await getFromLan('/metrics', { Authorization: `Bearer ${TOKEN}x` }), '404');
	assert.equal(await getFromLan('/metrics', { Authorization: `Bearer ${TOKEN}` }), '200');
	const local = await stack.get('/metrics');
	assert.equal(local.status, 200);
	assert.match(local.body, /madoguchi_sessions /);
	// Issue 13: full media send buffers are counted, not silent; an idle server has none.
	assert.match(local.body,
		/^# TYPE madoguchi_media_send_drops_total counter\nmadoguchi_media_send_drops_total 0$/m);
});
