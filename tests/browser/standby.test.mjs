// Active/standby (issue 15): two `madoguchi serve` processes on different ports share one
// PostgreSQL, both with `standby-lease on`; node-a holds the lease, node-b waits as a standby
// (/healthz 503 "standby", /ws refused). A floating address made by this test (a TCP proxy
// that forwards each new connection to whichever node's /healthz says active, as keepalived
// or a load balancer would) is all the pages know. With a kiosk, two desks and a call up,
// node-a is killed with SIGKILL. Asserted: node-b is active within 5 s; the pages reconnect
// without a click (the kiosk back on its menu, both desks idle and available within 10 s of
// the takeover); a new call works within 15 s of the kill (media now goes to node-b's own
// media port: the pages made new PeerConnections); the cut visit is closed `interrupted` by
// node-b, once. The call's answer is held back (a lock on legs) so that node-a dies with it
// in its spool only: node-a, started again, comes back as a standby, replays its spool (the
// answer reaches PostgreSQL) and leaves node-b's live visit alone. No record is lost or
// doubled (rows and ids counted in PostgreSQL, and the usage rollup agrees with the legs).
// The figures are printed as `MEASURE {...}`.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import {
	Browsers, acceptOn, assertChromium, loginStaff, madoguchi, step, waitMids, waitNewFrames,
	waitState,
} from '../lib/browser.mjs';
import { sleep, startStack, wsUpgradeStatus } from '../lib/harness.mjs';

const TAKEOVER_MS = 5000;  // kill -> node-b's /healthz says active
const PAGES_BACK_MS = 10000; // takeover -> kiosk on its menu, desks idle and available
const NEW_CALL_MS = 15000; // kill -> the kiosk decodes the clerk of a new call

let stack; // PostgreSQL and node-a
let nodeB;
let browsers;
let floating;
let failed = false;

/**
 * The floating address: a TCP proxy on a free loopback port. Every 100 ms it asks each
 * node's /healthz; a new connection goes to the node that answered 200 "ok" last (none: the
 * connection is closed at once, as an address that is nowhere would refuse it). A connection
 * stays with its node; when either side closes, so does the other.
 */
async function startFloating(nodes) {
	let current = null;
	let running = true;
	const sockets = new Set();
	const poll = (async () => {
		while (running) {
			let found = null;
			for (const n of nodes) {
				if (!n.serverAlive())
					continue;
				const r = await n.get('/healthz').catch(() => null);
				if (r?.status === 200 && r.json?.status === 'ok') {
					found = n;
					break;
				}
			}
			if (found !== current)
				console.log(`floating address -> ${found ? found.port : 'nowhere'} at ${Date.now()}`);
			current = found;
			await sleep(100);
		}
	})();
	const server = net.createServer((client) => {
		const node = current;
		if (!node) {
			client.destroy();
			return;
		}
		const upstream = net.connect(node.port, '127.0.0.1');
		sockets.add(client);
		sockets.add(upstream);
		const end = () => {
			client.destroy();
			upstream.destroy();
			sockets.delete(client);
			sockets.delete(upstream);
		};
		client.on('error', end).on('close', end);
		upstream.on('error', end).on('close', end);
		client.pipe(upstream);
		upstream.pipe(client);
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address();
	return {
		port,
		active: () => current,
		async stop() {
			running = false;
			await poll;
			for (const s of sockets)
				s.destroy();
			await new Promise((resolve) => server.close(resolve));
		},
	};
}

async function health(node) {
	const r = await node.get('/healthz').catch((err) => ({ status: 0, json: null, err }));
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

/** Row counts of the call history, and the ids of every visit, leg and audit record. */
async function snapshot() {
	const [c] = await stack.psqlJson(`SELECT json_build_object(
		'visits', (SELECT count(*) FROM visits),
		'legs', (SELECT count(*) FROM legs),
		'audit', (SELECT count(*) FROM audit_log),
		'surveys', (SELECT count(*) FROM surveys),
		'open_visits', (SELECT count(*) FROM visits WHERE ended_at IS NULL),
		'interrupted_visits', (SELECT count(*) FROM visits WHERE end_reason = 'interrupted'),
		'ended_desk_legs', (SELECT count(*) FROM legs WHERE ended_at IS NOT NULL AND kind = 'desk'),
		'rollup_legs', (SELECT coalesce(sum(legs), 0) FROM usage_rollup),
		'ids', (SELECT coalesce(string_agg(id, ',' ORDER BY id), '') FROM
			(SELECT id::text FROM visits UNION ALL SELECT id::text FROM legs
			 UNION ALL SELECT record_id::text FROM audit_log) x))`);
	return c;
}

const counts = (s) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'ids'));

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true,
		serveArgs: ['--standby-lease', 'on', '--node-id', 'node-a'] });
	await waitHealth(stack, (h) => h.status === 200, 'node-a active', 10000);
	nodeB = await stack.startNode('node-b', ['--node-id', 'node-b']);
	floating = await startFloating([stack, nodeB]);
	browsers = new Browsers(stack, { fps: 10 });
});

after(async () => {
	await browsers?.closeAll();
	await floating?.stop();
	await nodeB?.stop({ keep: failed });
	await stack?.stop({ keep: failed });
});

test('kill -9 the active node: the standby takes over, pages come back, records stay exact',
	{ timeout: 170000 }, async () => {
		const url = `https://127.0.0.1:${floating.port}`;
		const m = {};
		try {
			await step('node-b is a standby: /healthz 503, /ws refused', async () => {
				const h = await waitHealth(nodeB, (x) => x.json?.active_node === 'node-a',
					'node-b knows the holder', 5000);
				assert.equal(h.status, 503, JSON.stringify(h));
				assert.equal(h.json.status, 'standby', JSON.stringify(h));
				assert.equal(h.json.node, 'node-b');
				assert.equal(await wsUpgradeStatus(nodeB.wsUrl), 503, 'upgrade on the standby');
				const a = await health(stack);
				assert.equal(a.json?.role, 'active', JSON.stringify(a));
			});

			const desks = {};
			for (const user of ['sato', 'suzuki'])
				desks[user] = await step(`desk ${user}: open, log in, available`, async () => {
					const p = await browsers.open(user, `${url}/desk/`);
					await loginStaff(p, user, stack.logins[user].password);
					await waitMids(p);
					return p;
				});
			const kiosk = await step('open the kiosk page', () =>
				browsers.open('kiosk', `${url}/kiosk/#token=${stack.tokens.yamada}`));
			let kmids = await waitMids(kiosk);
			await step('history: a call the kiosk cancels while it rings', async () => {
				await kiosk.waitForSelector('button[data-dept="hoken"]:enabled', { timeout: 20000 });
				await kiosk.click('button[data-dept="hoken"]');
				await desks.sato.waitForSelector('button[data-action="accept"]:enabled',
					{ state: 'visible', timeout: 20000 });
				await kiosk.click('button[data-action="hangup"]');
				await waitState(kiosk, 'idle', 20000);
			});
			const before = await step('records before the kill (all written by node-a)',
				async () => {
					await waitHealth(stack, (h) => h.json?.spooled === 0 && h.json?.db === 'up',
						'node-a spool empty', 10000);
					const s = await snapshot();
					assert.equal(s.visits, 1, JSON.stringify(counts(s)));
					assert.equal(s.open_visits, 0, JSON.stringify(counts(s)));
					return s;
				});
			// Some of the call's records must be in node-a's spool only when it dies, so that
			// its return has something to replay: a transaction holds the legs table for a few
			// seconds. node-a's `leg_queued` waits behind it (that statement is in the
			// database's hands and commits after the lock even though node-a is dead by then),
			// and `leg_answered` waits behind that one, in node-a's memory and spool only.
			// The lock is ended right after the kill (see there).
			// (Its session is ended right after the kill: psql then fails, which is expected.)
			const lock = stack.psql('BEGIN; LOCK TABLE legs IN EXCLUSIVE MODE; ' +
				'SELECT pg_sleep(6); COMMIT;').catch(() => {});
			await step('the legs table is locked', async () => {
				for (let i = 0; i < 50; i++) {
					if (await stack.psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON " +
						"c.oid = l.relation WHERE c.relname = 'legs' AND l.mode = " +
						"'ExclusiveLock' AND l.granted") === '1')
						return;
					await sleep(50);
				}
				throw new Error('the lock was not taken');
			});
			await step('a call: kiosk -> hoken, sato accepts, video flows', async () => {
				await kiosk.click('button[data-dept="hoken"]');
				await acceptOn(desks.sato);
				await waitNewFrames(kiosk, kmids.camera, { minNew: 5 });
				await waitState(desks.suzuki, 'idle');
			});
			let cut;
			await step('node-a holds the answer in its spool', async () => {
				await waitHealth(stack, (h) => h.json?.spooled >= 2, 'records pending', 5000);
				for (let i = 0; i < 50 && !(fs.statSync(stack.spoolPath).size > 0); i++)
					await sleep(50);
				m.spool_bytes_at_kill = fs.statSync(stack.spoolPath).size;
				m.pending_at_kill = (await health(stack)).json?.spooled;
				assert.ok(m.spool_bytes_at_kill > 0, 'the spool file is empty');
				[cut] = await stack.psqlJson(
					"SELECT row_to_json(v) FROM visits v WHERE ended_at IS NULL");
				assert.equal(cut?.node, 'node-a', 'visits.node of the call');
			});

			const tKill = Date.now();
			await stack.killServer();
			// The lock goes at once: node-a's `leg_queued`, already in the database's hands,
			// commits now, before node-b takes over. Left to the lock's own end, it raced
			// node-b's close (both wait on the lock; whichever snapshot came first won), and a
			// leg inserted after the close stayed open until node-a's return closed it.
			await stack.psql("SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_class c " +
				"ON c.oid = l.relation WHERE c.relname = 'legs' AND l.mode = 'ExclusiveLock' " +
				'AND l.granted');
			const h = await step('node-b is active within 5 s of the kill', () =>
				waitHealth(nodeB, (x) => x.status === 200 && x.json?.role === 'active',
					'node-b active', TAKEOVER_MS + 3000));
			const tActive = Date.now();
			m.takeover_ms = tActive - tKill;
			assert.ok(m.takeover_ms <= TAKEOVER_MS, `took over after ${m.takeover_ms} ms`);
			assert.equal(h.json.node, 'node-b');

			await step('the pages reconnect by themselves within 10 s of the takeover', async () => {
				const left = () => Math.max(1000, tActive + PAGES_BACK_MS - Date.now());
				await waitState(kiosk, 'idle', left());
				await kiosk.waitForSelector('button[data-dept="hoken"]:enabled', { timeout: left() });
				m.kiosk_back_ms = Date.now() - tActive;
				for (const [user, p] of Object.entries(desks)) {
					await waitState(p, 'idle', left());
					await p.waitForSelector('#presence-status[data-status="available"]',
						{ timeout: left() });
					m[`${user}_back_ms`] = Date.now() - tActive;
				}
				for (const [name, p] of [['kiosk', kiosk], ...Object.entries(desks)]) {
					const st = await madoguchi(p, 'stats');
					assert.ok(st.sessions >= 2, `${name}: a fresh session on node-b ` +
						JSON.stringify(st));
				}
			});

			await step('a new call works within 15 s of the kill', async () => {
				kmids = await waitMids(kiosk);
				await kiosk.click('button[data-dept="hoken"]');
				await acceptOn(desks.sato, null, Math.max(1000, tKill + NEW_CALL_MS - Date.now()));
				await waitNewFrames(kiosk, kmids.camera, { minNew: 1,
					timeoutMs: Math.max(1000, tKill + NEW_CALL_MS - Date.now()) });
				m.new_call_ms = Date.now() - tKill;
				assert.ok(m.new_call_ms <= NEW_CALL_MS, `new call after ${m.new_call_ms} ms`);
				const pair = await kiosk.evaluate(async () => {
					const r = await window.madoguchi.pc.getStats();
					let port = null;
					r.forEach((s) => {
						if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated)
							port = r.get(s.remoteCandidateId)?.port ?? null;
					});
					return port;
				});
				assert.equal(pair, nodeB.mediaPort, "the kiosk's media goes to node-b's port");
			});

			const closed = await step('node-b closed the cut visit `interrupted`', async () => {
				const rec = await stack.waitForRecord(cut.id, (r) => r.visit?.ended_at,
					'the visit ended', 10000);
				assert.equal(rec.visit.end_reason, 'interrupted', JSON.stringify(rec));
				for (const l of rec.legs)
					assert.equal(l.outcome, 'interrupted', JSON.stringify(rec));
				assert.match(nodeB.serverLog(), /closed what a crash left open"? visits=1 legs=1 scope=takeover/);
				return rec;
			});

			await lock;
			assert.equal(closed.legs[0].answered_at, null,
				"node-a's answer had not reached PostgreSQL before it died");
			const mid = await waitHealth(nodeB, (x) => x.json?.spooled === 0, 'node-b spool', 10000)
				.then(snapshot);
			await step('node-a comes back as a standby and replays its spool', async () => {
				await stack.restartServer();
				const a = await waitHealth(stack, (x) => x.json?.active_node === 'node-b' &&
					x.json?.spooled === 0, 'node-a: standby, spool replayed', 10000);
				assert.equal(a.status, 503, JSON.stringify(a));
				assert.equal(a.json.role, 'standby');
				assert.match(stack.serverLog(), /closed what a crash left open"? visits=0 legs=0 scope=node/);
				const replay = /replaying the record spool"? .*records=(\d+)/.exec(stack.serverLog());
				assert.ok(replay && Number(replay[1]) >= 1, 'node-a replayed no spooled record');
				m.replayed_records = Number(replay[1]);
				const rec = await stack.waitForRecord(cut.id, (r) => r.legs[0]?.answered_at,
					"the spooled answer", 10000);
				assert.equal(rec.visit.end_reason, 'interrupted');
				assert.equal(rec.legs[0].outcome, 'interrupted');
				assert.equal((await health(nodeB)).json?.role, 'active', 'node-b is still active');
			});

			const after = await snapshot();
			m.records = { before_kill: counts(before), after_takeover_call: counts(mid),
				after_node_a_back: counts(after) };
			console.log('MEASURE ' + JSON.stringify({ test: 'standby-takeover', ...m }));

			await step('no record lost or doubled', async () => {
				const beforeIds = before.ids.split(',');
				const afterIds = new Set(after.ids.split(','));
				assert.equal(afterIds.size, after.ids.split(',').length, 'duplicate ids');
				for (const id of beforeIds)
					assert.ok(afterIds.has(id), `record ${id} lost`);
				// The cut call and the new one: two visits and two legs more, each once.
				assert.equal(after.visits, before.visits + 2, JSON.stringify(m.records));
				assert.equal(after.legs, before.legs + 2, JSON.stringify(m.records));
				assert.equal(after.surveys, before.surveys, JSON.stringify(m.records));
				assert.equal(after.interrupted_visits, before.interrupted_visits + 1);
				assert.deepEqual(counts(after), counts(mid), 'node-a coming back added rows');
				assert.equal(after.rollup_legs, after.ended_desk_legs,
					'the usage rollup counts every ended leg once');
				// Closed once: node-a's return did not touch the cut visit again.
				const again = await stack.visitRecord(cut.id);
				assert.equal(again.visit.ended_at, closed.visit.ended_at);
				// node-b's live visit stays open, and is node-b's.
				const open = await stack.psqlJson(
					"SELECT row_to_json(v) FROM visits v WHERE ended_at IS NULL");
				assert.equal(open.length, 1, JSON.stringify(open));
				assert.equal(open[0].node, 'node-b');
			});
		} catch (err) {
			failed = true;
			console.log('MEASURE ' + JSON.stringify({ test: 'standby-takeover', failed: true, ...m }));
			const e = await browsers.failure(err);
			e.message += `\nnode-b log (last 60 lines):\n${nodeB?.serverLog().split('\n')
				.slice(-60).join('\n')}`;
			throw e;
		}
	});
