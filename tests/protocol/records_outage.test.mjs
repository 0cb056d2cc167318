// Records are never lost when PostgreSQL goes away: 50 visits are under way when the
// database is stopped with `pg_ctl stop -m immediate`; the desks keep accepting and ending
// calls, and kiosks keep calling, through the outage; then PostgreSQL comes back. Every visit
// and leg must then be in the database exactly once, complete, and the spool empty again.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

const N_KIOSKS = 50;
const N_AGAIN = 10; // kiosks that call a second time during the outage

let stack;
const clients = [];

before(async () => {
	stack = await startStack({ tls: false });
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

async function desk(username) {
	const c = await connect();
	const { password } = stack.logins[username];
	assertOk(await c.request('hello', { role: 'staff', username, password }), `${username} hello`);
	assertOk(await c.request('presence', { status: 'available' }), `${username} available`);
	return c;
}

/** Serves hoken calls one after another until stop() is called: accept the oldest ringing
 * visit, end it as completed. Resolves the visits it completed. */
function serve(c, name, state) {
	const done = [];
	const loop = (async () => {
		while (!state.stop) {
			if (state.hold) {
				await sleep(20);
				continue;
			}
			const ring = await c.waitFor('ringing', () => true, 1000).catch(() => null);
			if (!ring) {
				// Not rung for a while: say again that this desk is free.
				await c.request('presence', { status: 'available' }).catch(() => {});
				continue;
			}
			const r = await c.request('accept', { visit: ring.visit });
			if (r.type !== 'ok')
				continue; // the other desk took it, or the kiosk hung up
			await c.waitFor('connected', (m) => m.visit === ring.visit);
			assertOk(await c.request('end', { visit: ring.visit, outcome: 'completed',
				procedure: 'kokuho-kanyu', note: `${name}: "至急"'; DROP TABLE legs; --` }),
			`${name} end ${ring.visit}`);
			await c.waitFor('ended', (m) => m.visit === ring.visit);
			done.push(ring.visit);
			state.completed++;
		}
		return done;
	})();
	return loop;
}

async function waitUntil(check, what, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await sleep(100);
	}
}

test('50 visits under way through a PostgreSQL outage: every record exactly once', async () => {
	// Kiosks and desks log in while the database is there (logins need it; calls do not).
	const kiosks = [];
	for (let i = 0; i < N_KIOSKS; i++) {
		const token = await stack.addKiosk(i % 2 ? 'yamada' : 'takasaki', `停電試験 ${i}`);
		const k = await connect();
		assertOk(await k.request('hello', { role: 'kiosk', token }), `kiosk ${i} hello`);
		kiosks.push(k);
	}
	const sato = await desk('sato');
	const tanaka = await desk('tanaka');

	const visits = [];
	for (const [i, k] of kiosks.entries()) {
		const r = assertOk(await k.request('call', { department: 'hoken',
			procedure: 'kokuho-kanyu' }), `kiosk ${i} call`);
		visits.push(r.visit);
	}
	const state = { stop: false, hold: false, completed: 0 };
	const serving = [serve(sato, 'sato', state), serve(tanaka, 'tanaka', state)];
	await waitUntil(() => state.completed >= 4, 'the first visits to be served', 20000);

	// The outage, with visits queued, ringing and connected. The desks pause while
	// PostgreSQL stops: a server quick enough served the other 46 visits in the time
	// pg_ctl took, and the outage then had none left to serve.
	state.hold = true;
	await stack.pgStop();
	state.hold = false;
	const health = await stack.get('/healthz');
	const outageStartedAt = state.completed;
	assert.ok(state.completed < N_KIOSKS, 'visits are still under way when PostgreSQL stops');

	// Calls go on: served, ended, and some kiosks call again.
	await waitUntil(() => state.completed >= outageStartedAt + 25, 'calls served during the outage',
		40000);
	const again = [];
	for (let i = 0; i < N_AGAIN; i++) {
		const k = kiosks[i];
		const r = await k.request('call', { department: 'hoken' });
		assertOk(r, `kiosk ${i} calls again during the outage`);
		again.push(r.visit);
	}
	await waitUntil(() => state.completed >= outageStartedAt + 35, 'more calls during the outage',
		40000);
	const duringOutage = state.completed - outageStartedAt;
	const down = await stack.get('/healthz');
	assert.equal(down.json?.db, 'down', `healthz during the outage: ${down.body}`);
	assert.ok(fs.statSync(stack.spoolPath).size > 0, 'records are in the spool during the outage');

	await stack.pgStart();
	await waitUntil(() => state.completed >= N_KIOSKS + N_AGAIN, 'every visit served', 60000);
	state.stop = true;
	await Promise.all(serving);

	const all = [...visits, ...again];
	const list = all.map((v) => `'${v}'`).join(',');
	await waitUntil(async () => (await stack.psql(`SELECT count(*) FROM visits WHERE id IN (${list})
		AND ended_at IS NOT NULL`)) === String(all.length), 'every visit ended in PostgreSQL', 20000);

	// Exactly once: one row per visit, one leg each (seq 1), complete and in time order.
	const rows = await stack.psqlJson(`SELECT json_build_object('id', v.id, 'reason', v.end_reason,
		'legs', (SELECT count(*) FROM legs l WHERE l.visit_id = v.id),
		'seqs', (SELECT string_agg(seq::text, ',') FROM legs l WHERE l.visit_id = v.id),
		'ok', (SELECT bool_and(l.outcome = 'completed' AND l.procedure_id = 'kokuho-kanyu'
			AND l.queued_at <= l.answered_at AND l.answered_at <= l.ended_at
			AND l.ended_at <= v.ended_at AND l.staff_id IS NOT NULL
			AND l.note LIKE '%"至急"''; DROP TABLE legs; --')
			FROM legs l WHERE l.visit_id = v.id))
		FROM visits v WHERE v.id IN (${list}) ORDER BY v.id`);
	assert.equal(rows.length, all.length, 'every visit is present once');
	for (const r of rows) {
		assert.equal(r.reason, 'completed', `visit ${r.id}: ${JSON.stringify(r)}`);
		assert.equal(r.legs, 1, `visit ${r.id} has exactly one leg: ${JSON.stringify(r)}`);
		assert.equal(r.seqs, '1', `visit ${r.id}'s leg is seq 1: ${JSON.stringify(r)}`);
		assert.equal(r.ok, true, `visit ${r.id}'s leg is complete: ${JSON.stringify(r)}`);
	}
	assert.equal(await stack.psql('SELECT count(*) FROM visits'), String(all.length),
		'no visit beyond those made');
	assert.equal(await stack.psql('SELECT count(*) FROM legs'), String(all.length),
		'no leg beyond those made');
	// The rollup counted each leg once too.
	assert.equal(await stack.psql(`SELECT sum(legs) || ' ' || sum(answered) FROM usage_monthly`),
		`${all.length} ${all.length}`);

	// Everything confirmed: the spool is empty again.
	await waitUntil(() => fs.statSync(stack.spoolPath).size === 0, 'the spool to be emptied', 10000);
	const m = /msg="?connected"? db=\S+ pending_records=(\d+)/g;
	const waited = [...stack.serverLog().matchAll(m)].map((x) => Number(x[1]));
	const spooled = Math.max(0, ...waited);
	assert.ok(spooled > 0, `records waited for PostgreSQL: ${waited}`);
	process.stdout.write(`# health before the outage noticed: ${health.body}\n` +
		`# visits completed during the outage: ${duringOutage}; records waiting in the ` +
		`spool at reconnect: ${spooled}\n`);
});
