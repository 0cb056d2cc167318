// Active/standby, the parts without browsers (issue 15; tests/browser/standby.test.mjs has
// the takeover with pages):
//  - an active node that loses the database steps down before its lease can expire: its
//    sessions close with 1001, /ws is refused (503), /healthz answers 503 "standby"; the
//    kiosk's queued visit is closed `dropped` once the database is back, and the node takes
//    the lease again and serves;
//  - a clean stop hands the lease on at once: the standby serves within a second; a second
//    process with the active node's node-id never serves;
//  - a single node without `standby-lease` answers /healthz as before.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
	assertOk, sleep, startStack, wsClient, wsUpgradeStatus,
} from '../lib/harness.mjs';

const stacks = [];
after(async () => {
	for (const s of stacks.reverse())
		await s.stop().catch((err) => { process.exitCode = 1; console.error(err.message); });
});

async function health(node) {
	const r = await node.get('/healthz').catch(() => ({ status: 0, json: null }));
	return { status: r.status, json: r.json };
}

async function waitHealth(node, pred, what, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const h = await health(node);
		if (pred(h))
			return h;
		if (Date.now() > deadline)
			throw new Error(`${what}: not within ${timeoutMs} ms; /healthz ${JSON.stringify(h)}`);
		await sleep(50);
	}
}

test('an active node that loses the database steps down, then serves again', async () => {
	const stack = await startStack({ tls: false,
		serveArgs: ['--standby-lease', 'on', '--node-id', 'solo'] });
	stacks.push(stack);
	const h0 = await waitHealth(stack, (h) => h.status === 200, 'active', 5000);
	assert.deepEqual({ status: h0.json.status, role: h0.json.role, node: h0.json.node,
		active_node: h0.json.active_node }, { status: 'ok', role: 'active', node: 'solo',
		active_node: 'solo' });
	const kiosk = await wsClient(stack.wsUrl);
	assertOk(await kiosk.request('hello', { role: 'kiosk', token: stack.tokens.yamada }), 'hello');
	const call = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call');
	await waitHealth(stack, (h) => h.json?.spooled === 0, 'records written', 5000);

	const t0 = Date.now();
	await stack.pgStop();
	const closed = await kiosk.waitClose(6000);
	const stepDownMs = Date.now() - t0;
	assert.equal(closed.code, 1001, JSON.stringify(closed));
	// Renewed at most 1 s before the stop, so down by 2.5 s after it (and some slack).
	assert.ok(stepDownMs <= 4000, `stepped down after ${stepDownMs} ms`);
	const h1 = await health(stack);
	assert.equal(h1.status, 503, JSON.stringify(h1));
	assert.equal(h1.json.status, 'standby');
	assert.equal(await wsUpgradeStatus(stack.wsUrl), 503, '/ws while stepped down');
	assert.match(stack.serverLog(), /standing down"? node=solo why=not_renewed/);

	await stack.pgStart();
	await waitHealth(stack, (h) => h.status === 200 && h.json?.spooled === 0,
		'active again, records written', 15000);
	const rec = await stack.waitForRecord(call.visit, (r) => r.visit?.ended_at, 'ended');
	assert.equal(rec.visit.node, 'solo');
	assert.notEqual(rec.visit.end_reason, 'interrupted',
		'the node closed its own visit when it stepped down');
	assert.equal(Number(await stack.psql('SELECT count(*) FROM visits WHERE ended_at IS NULL')),
		0);
	const again = await wsClient(stack.wsUrl);
	assertOk(await again.request('hello', { role: 'kiosk', token: stack.tokens.yamada }),
		'hello after the step-down');
	await again.close();
	console.log('MEASURE ' + JSON.stringify({ test: 'standby-step-down', step_down_ms: stepDownMs,
		end_reason: rec.visit.end_reason }));
});

test('a clean stop hands the lease to the standby at once', async () => {
	const stack = await startStack({ tls: false,
		serveArgs: ['--standby-lease', 'on', '--node-id', 'a'] });
	stacks.push(stack);
	await waitHealth(stack, (h) => h.status === 200, 'a active', 5000);
	const b = await stack.startNode('b', ['--node-id', 'b']);
	stacks.push(b);
	await waitHealth(b, (h) => h.json?.active_node === 'a', 'b sees a', 5000);
	assert.equal((await health(b)).status, 503);
	// A second process given node a's name by mistake never serves while a does.
	const twin = await stack.startNode('twin', ['--node-id', 'a']);
	await sleep(1500);
	const ht = await health(twin);
	assert.equal(ht.status, 503, JSON.stringify(ht));
	assert.match(twin.serverLog(), /held under this node-id by another process/);
	assert.equal((await health(stack)).json?.role, 'active');
	await twin.stop();
	const t0 = Date.now();
	stack.server.kill('SIGTERM');
	assert.ok(await stack.waitServerExit(10000), 'a did not stop');
	assert.equal(stack.exit.code, 0, stack.serverLog());
	await waitHealth(b, (h) => h.status === 200, 'b active', 3000);
	const ms = Date.now() - t0;
	assert.match(stack.serverLog(), /msg="?released"? node=a ok=yes/);
	console.log('MEASURE ' + JSON.stringify({ test: 'standby-clean-handover', ms }));
	await stack.restartServer();
	await waitHealth(stack, (h) => h.status === 503 && h.json?.active_node === 'b',
		'a back as the standby', 5000);
});

test('without standby-lease, /healthz is as before', async () => {
	const stack = await startStack({ tls: false, seed: false });
	stacks.push(stack);
	const h = await health(stack);
	assert.equal(h.status, 200);
	assert.deepEqual(Object.keys(h.json).sort(), ['db', 'spooled', 'status']);
	assert.equal(h.json.status, 'ok');
});
