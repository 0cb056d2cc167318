// Every request type of the protocol, sent with fields of the wrong type, out of range, too
// long or missing, by the role allowed to send it (kiosk, clerk, coordinator), in and out of
// a visit: each gets exactly one error reply with a protocol error code other than
// `internal`, the server keeps answering, and a well-behaved session elsewhere is untouched.
// The server runs under ASan/UBSan, so a memory error here fails the test at stop().

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertOk, ERROR_CODES, startStack, wsClient } from '../lib/harness.mjs';

let stack;
const clients = [];

before(async () => {
	stack = await startStack({ tls: true });
});

after(async () => {
	for (const c of clients)
		await c.close();
	await stack?.stop();
});

const LONG = 'x'.repeat(5000);
// Values of every JSON type that are wrong for the fields below.
const BAD_VALUES = [null, 7, -1, 1e300, true, [], {}, [1, 2], { a: 1 }, '', LONG, 'p-0', 'p-x'];

const REQUESTS = {
	kiosk: {
		call: ['department', 'procedure', 'onestop'],
		hangup: [],
		survey: ['visit', 'rating'],
		share: ['active'],
		offer: ['sdp', 'tracks'],
		view: ['slots'],
		text: ['visit', 'text'],
	},
	staff: {
		presence: ['status'],
		accept: ['visit'],
		end: ['visit', 'outcome', 'procedure', 'note'],
		transfer: ['visit', 'department'],
		invite: ['visit', 'department'],
		control: ['visit', 'target', 'volume', 'mic'],
		share: ['active'],
		watch: [],
		onestop: ['visit', 'itinerary'],
		patch: ['visit', 'department'],
		join: ['visit'],
		text: ['visit', 'text'],
		annotate: ['visit', 'shapes'],
		leave: ['visit'],
		finish: ['visit'],
		offer: ['sdp', 'tracks'],
		view: ['slots'],
	},
};

/** A connection that has said hello; replaced before the abuse limit (20 bad a minute). */
class Sender {
	constructor(hello) {
		this.hello = hello;
		this.c = null;
		this.sent = 0;
	}

	async request(type, fields) {
		if (!this.c || this.sent >= 15) {
			if (this.c)
				await this.c.close();
			this.c = await wsClient(stack.wsUrl);
			clients.push(this.c);
			assertOk(await this.c.request('hello', this.hello), 'hello');
			this.sent = 0;
		}
		this.sent++;
		return this.c.request(type, fields);
	}
}

test('wrong fields in every request get an error reply, never a crash', async () => {
	const kioskHello = { role: 'kiosk', token: stack.tokens.yamada };
	const staffHello = { role: 'staff', username: 'tanaka', password: stack.logins.tanaka.password };
	// A bystander in a live visit: its session must not notice anything.
	const by = await wsClient(stack.wsUrl);
	clients.push(by);
	assertOk(await by.request('hello', { role: 'kiosk', token: stack.tokens.takasaki }), 'bystander');
	const desk = await wsClient(stack.wsUrl);
	clients.push(desk);
	assertOk(await desk.request('hello', { role: 'staff', username: 'sato',
		password: stack.logins.sato.password }), 'sato');
	assertOk(await desk.request('presence', { status: 'available' }), 'sato available');
	const { visit } = assertOk(await by.request('call', { department: 'hoken' }), 'call');
	await desk.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await desk.request('accept', { visit }), 'accept');

	let replies = 0;
	for (const [role, requests] of Object.entries(REQUESTS)) {
		const sender = new Sender(role === 'kiosk' ? kioskHello : staffHello);
		for (const [type, fields] of Object.entries(requests)) {
			const cases = [{}];
			for (const field of fields)
				for (const value of BAD_VALUES)
					cases.push({ [field]: value, ...(field === 'visit' ? {} : { visit }) });
			for (const fieldsCase of cases) {
				const reply = await sender.request(type, fieldsCase);
				replies++;
				const what = `${role} ${type} ${JSON.stringify(fieldsCase).slice(0, 120)}`;
				if (reply.type === 'ok')
					continue; // e.g. hangup with nothing to hang up, watch, share false
				assert.equal(reply.type, 'error', `${what}: ${JSON.stringify(reply)}`);
				assert.ok(ERROR_CODES.includes(reply.code) && reply.code !== 'internal',
					`${what}: error code ${reply.code}`);
			}
		}
	}
	assert.ok(replies > 300, `only ${replies} requests were tried`);

	// The bystander's call is untouched and the server still answers.
	assert.ok(!by.events.some((m) => m.type === 'ended'),
		`the bystander's visit ended: ${JSON.stringify(by.events)}`);
	assertOk(await desk.request('end', { visit, outcome: 'completed' }), 'the real call ends');
	const ended = await by.waitFor('ended', (m) => m.visit === visit);
	assert.equal(ended.reason, 'completed');
	const health = await stack.get('/healthz');
	assert.equal(health.json?.status, 'ok');
});
