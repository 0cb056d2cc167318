// Issue 9, finding 3: one kiosk token must not flood the queues and the statistics. One live
// session per kiosk (a newer hello replaces the older, whose visit it keeps), and at most six
// calls a minute (PROTOCOL.md, "Limits every server enforces").

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

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

async function session(hello) {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	assertOk(await c.request('hello', hello), `hello ${JSON.stringify(hello).slice(0, 40)}`);
	return c;
}

const kiosk = (name) => session({ role: 'kiosk', token: stack.tokens[name] });

test('a second hello with the same kiosk token replaces the first and keeps its visit',
	async () => {
		const desk = await session({ role: 'staff', username: 'sato',
			password: stack.logins.sato.password });
		const first = await kiosk('yamada');
		// The desk is away: the visit waits in the queue.
		const { visit } = assertOk(await first.request('call', { department: 'hoken' }), 'call');
		await first.waitFor('queued', (m) => m.visit === visit);

		const second = await kiosk('yamada');
		const replaced = await first.waitFor('replaced');
		assert.equal(replaced.type, 'replaced');
		const closed = await first.closed;
		assert.equal(closed.code, 4001);
		// The newer session has the visit: it is told where it stands, and can hang up.
		const queued = await second.waitFor('queued', (m) => m.visit === visit);
		assert.equal(queued.position, 1);
		assertError(await second.request('call', { department: 'hoken' }), 'conflict',
			'a second call while the visit waits');

		// 40 more sessions with the same token, each calling: one ring, one visit.
		for (let i = 0; i < 40; i++) {
			const c = await kiosk('yamada');
			await c.request('call', { department: 'hoken' });
		}
		assertOk(await desk.request('presence', { status: 'available' }), 'available');
		await desk.waitFor('ringing', (m) => m.visit === visit);
		await sleep(500);
		const rings = desk.received.filter((m) => m.type === 'ringing');
		assert.equal(rings.length, 1, `rings: ${JSON.stringify(rings)}`);

		// A resident at another kiosk is told the truth about the queue.
		assertOk(await desk.request('presence', { status: 'away' }), 'away');
		const other = await kiosk('takasaki');
		const v2 = assertOk(await other.request('call', { department: 'hoken' }), 'other').visit;
		const pos = await other.waitFor('queued', (m) => m.visit === v2);
		assert.ok(pos.position <= 2, `position ${pos.position}`);
		assertOk(await other.request('hangup'), 'other hangs up');
		const last = clients[clients.length - 2];
		assertOk(await last.request('hangup'), 'the kiosk hangs up');
		const n = Number(await stack.psql(
			`SELECT count(*) FROM visits v JOIN kiosks k ON k.id = v.kiosk_id
			 JOIN branches b ON b.id = k.branch_id WHERE b.id = 'yamada'`));
		assert.equal(n, 1, 'visits recorded for the yamada kiosk');
	});

test('a kiosk may call six times a minute, then gets too_many', async () => {
	const k = await kiosk('takasaki');
	let limited = null;
	for (let i = 1; i <= 10 && !limited; i++) {
		const r = await k.request('call', { department: 'zeimu' });
		if (r.type === 'error') {
			limited = { i, r };
			break;
		}
		assertOk(await k.request('hangup'), 'hangup');
	}
	// takasaki called once in the test before: five more are allowed, the sixth is refused.
	assert.ok(limited, 'never limited');
	assert.equal(limited.r.code, 'too_many');
	assert.equal(limited.i, 6);
	// The limit belongs to the kiosk, not to the connection.
	const again = await kiosk('takasaki');
	assertError(await again.request('call', { department: 'zeimu' }), 'too_many',
		'a new session of the same kiosk');
	await sleep(300);
	const n = Number(await stack.psql(
		`SELECT count(*) FROM visits v JOIN kiosks k ON k.id = v.kiosk_id
		 WHERE k.branch_id = 'takasaki'`));
	assert.equal(n, 6, 'visits recorded for the takasaki kiosk');
});
