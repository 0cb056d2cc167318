// Text in the call (筆談) and document marks (shared/PROTOCOL.md, "Additions": "Text in the
// call", "Document annotation"; docs/protocol.md): who may send them, their limits and errors,
// the flood limit, and delivery to every party of the visit's room and to nobody else (a
// second kiosk, a desk of another department and a coordinator outside the room get nothing
// until the coordinator joins). No browser: the server relays without media.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UNKNOWN_VISIT = '00000000-0000-4000-8000-000000000000';

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

async function connect() {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	return c;
}

async function helloKiosk(branch) {
	const c = await connect();
	const r = assertOk(await c.request('hello', { role: 'kiosk', token: stack.tokens[branch] }),
		`kiosk ${branch} hello`);
	c.self = r.self;
	return c;
}

async function helloStaff(username) {
	const c = await connect();
	const { password } = stack.logins[username];
	const r = assertOk(await c.request('hello', { role: 'staff', username, password }),
		`staff ${username} hello`);
	c.self = r.self;
	return c;
}

/** Messages of the given types this client has received so far. */
function got(c, ...types) {
	return c.received.filter((m) => types.includes(m.type));
}

let kiosk, sato, other, suzuki, tanaka, visit;

test('set-up: a visit answered by sato, and three bystanders', async () => {
	kiosk = await helloKiosk('yamada');
	other = await helloKiosk('takasaki'); // a second kiosk, in no visit
	sato = await helloStaff('sato');       // hoken
	suzuki = await helloStaff('suzuki');   // zeimu: another department, never in the room
	tanaka = await helloStaff('tanaka');   // coordinator, away: joins the room later
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	assertOk(await suzuki.request('presence', { status: 'available' }), 'suzuki available');
	visit = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call').visit;
	await sato.waitFor('ringing', (m) => m.visit === visit);

	// While the kiosk waits alone and sato only rings, neither is in an active leg.
	assertError(await kiosk.request('text', { visit, text: 'もしもし' }), 'forbidden',
		'a kiosk waiting alone');
	assertError(await sato.request('text', { visit, text: 'もしもし' }), 'forbidden',
		'a desk that only rings');
	assertError(await sato.request('annotate', { visit, shapes: [] }), 'forbidden',
		'annotate from a desk that only rings');

	assertOk(await sato.request('accept', { visit }), 'sato accept');
	await kiosk.waitFor('connected', (m) => m.visit === visit);
	await sato.waitFor('connected', (m) => m.visit === visit);
});

test('text reaches every party of the room, the sender included', async () => {
	const words = '申請書の赤い枠に\nお名前をご記入ください';
	const reply = assertOk(await sato.request('text', { visit, text: words }), 'sato text');
	assert.deepEqual(Object.keys(reply).sort(), ['id', 'type'], 'the reply is {}');
	for (const [name, c] of [['kiosk', kiosk], ['sato', sato]]) {
		const ev = await c.waitFor('text', (m) => m.visit === visit).catch((e) => {
			throw new Error(`${name} got no text: ${e.message}`);
		});
		assert.equal(ev.text, words, `${name}: the text as sent (line feed kept)`);
		assert.equal(ev.from?.id, sato.self.id, `${name}: from sato ${JSON.stringify(ev)}`);
		assert.equal(ev.from?.role, 'staff');
		assert.equal(ev.from?.name, '佐藤');
		assert.match(ev.at ?? '', ISO, `${name}: at ${JSON.stringify(ev)}`);
		assert.ok(Math.abs(Date.parse(ev.at) - Date.now()) < 60000, `at is now: ${ev.at}`);
	}

	// The kiosk's canned reply goes the other way, and to the kiosk itself.
	assertOk(await kiosk.request('text', { visit, text: 'もう一度お願いします' }), 'kiosk text');
	for (const c of [sato, kiosk]) {
		const ev = await c.waitFor('text', (m) => m.visit === visit);
		assert.equal(ev.text, 'もう一度お願いします', 'the next text each party gets');
		assert.equal(ev.from?.id, kiosk.self.id);
		assert.equal(ev.from?.role, 'kiosk');
	}
});

test('text limits: 1 to 500 Unicode characters, no control characters', async () => {
	const bad = [
		[{ visit, text: '' }, 'empty text'],
		[{ visit, text: 'あ'.repeat(501) }, '501 characters'],
		[{ visit, text: '😀'.repeat(501) }, '501 characters outside the BMP'],
		[{ visit, text: 'a'.repeat(4000) }, 'far too long'],
		[{ visit }, 'no text'],
		[{ visit, text: 42 }, 'a number'],
		[{ visit, text: ['はい'] }, 'a list'],
		[{ visit, text: 'ベル\u0007' }, 'a C0 control character'],
		[{ visit, text: 'x\u0085y' }, 'a C1 control character'],
		[{ visit, text: 'x\u007fy' }, 'DEL'],
		[{ text: 'はい' }, 'no visit'],
		[{ visit: 7, text: 'はい' }, 'a visit that is no string'],
	];
	for (const [fields, what] of bad)
		assertError(await kiosk.request('text', fields), 'bad_request', what);

	// 500 characters pass whatever their size in bytes (1,500 and 2,000 bytes here) or in
	// UTF-16 units (1,000 for the emoji).
	for (const text of ['あ'.repeat(500), '😀'.repeat(500), 'x']) {
		assertOk(await kiosk.request('text', { visit, text }), `${[...text].length} characters`);
		for (const c of [sato, kiosk])
			await c.waitFor('text', (m) => m.visit === visit && m.text === text);
	}
});

test('who may not: bystanders, wrong role, unknown visit', async () => {
	assertError(await other.request('text', { visit, text: 'はい' }), 'forbidden',
		'a kiosk of no visit');
	assertError(await suzuki.request('text', { visit, text: 'はい' }), 'forbidden',
		'a desk not in the room');
	assertError(await tanaka.request('text', { visit, text: 'はい' }), 'forbidden',
		'a coordinator who has not joined');
	assertError(await suzuki.request('annotate', { visit, shapes: [] }), 'forbidden',
		'annotate from a desk not in the room');
	assertError(await kiosk.request('annotate', { visit, shapes: [] }), 'forbidden',
		'a kiosk cannot annotate');
	assertError(await sato.request('text', { visit: UNKNOWN_VISIT, text: 'はい' }), 'not_found',
		'text to an unknown visit');
	assertError(await sato.request('annotate', { visit: UNKNOWN_VISIT, shapes: [] }),
		'not_found', 'annotate on an unknown visit');
});

const SHAPES = [
	{ kind: 'rect', x: 0.1, y: 0.2, w: 0.3, h: 0.1, color: '#FF4DA6' },
	{ kind: 'circle', x: 0.5, y: 0.5, w: 0.25, h: 0.25, color: '#00ff00' },
	{ kind: 'arrow', x: 0.9, y: 0.9, w: -0.4, h: -0.5 }, // pointing up-left; default colour
];

test('annotate reaches the room: shapes checked, rebuilt and relayed; an empty list clears',
	async () => {
		assertOk(await sato.request('annotate', { visit, shapes: SHAPES }), 'sato annotate');
		for (const [name, c] of [['kiosk', kiosk], ['sato', sato]]) {
			const ev = await c.waitFor('annotate', (m) => m.visit === visit).catch((e) => {
				throw new Error(`${name} got no annotate: ${e.message}`);
			});
			assert.equal(ev.from?.id, sato.self.id, `${name}: from ${JSON.stringify(ev.from)}`);
			assert.equal(ev.shapes.length, 3);
			for (const [i, want] of SHAPES.entries()) {
				const s = ev.shapes[i];
				assert.equal(s.kind, want.kind);
				for (const k of ['x', 'y', 'w', 'h'])
					assert.ok(Math.abs(s[k] - want[k]) < 1e-9, `${name} shape ${i} ${k}: ${s[k]}`);
				assert.equal(s.color, (want.color ?? '#ff4da6').toLowerCase());
				assert.deepEqual(Object.keys(s).sort(), ['color', 'h', 'kind', 'w', 'x', 'y']);
			}
		}
		// Extra fields are not relayed (a shape is rebuilt from its checked fields).
		assertOk(await sato.request('annotate', { visit, shapes: [{ ...SHAPES[0],
			label: '<img src=x>' }] }), 'a shape with an extra field');
		const ev = await kiosk.waitFor('annotate', (m) => m.visit === visit);
		assert.equal(ev.shapes[0].label, undefined);
		await sato.waitFor('annotate', (m) => m.visit === visit);

		assertOk(await sato.request('annotate', { visit, shapes: [] }), 'clear');
		for (const c of [kiosk, sato])
			assert.deepEqual((await c.waitFor('annotate', (m) => m.visit === visit)).shapes, []);

		const fifty = Array.from({ length: 50 }, (_, i) => ({ kind: 'rect', x: i / 100,
			y: 0, w: 0.01, h: 0.5 }));
		assertOk(await sato.request('annotate', { visit, shapes: fifty }), '50 shapes');
		assert.equal((await kiosk.waitFor('annotate', (m) => m.visit === visit)).shapes.length,
			50);
		await sato.waitFor('annotate', (m) => m.visit === visit);
	});

test('annotate limits', async () => {
	const rect = SHAPES[0];
	const bad = [
		[{ visit }, 'no shapes'],
		[{ visit, shapes: rect }, 'shapes not a list'],
		[{ visit, shapes: Array(51).fill(rect) }, '51 shapes'],
		[{ visit, shapes: ['rect'] }, 'a shape that is no object'],
		[{ visit, shapes: [{ ...rect, kind: 'star' }] }, 'an unknown kind'],
		[{ visit, shapes: [{ ...rect, kind: undefined }] }, 'no kind'],
		[{ visit, shapes: [{ ...rect, x: 1.5 }] }, 'x beyond the picture'],
		[{ visit, shapes: [{ ...rect, y: -0.1 }] }, 'negative y'],
		[{ visit, shapes: [{ ...rect, w: -0.1 }] }, 'a rectangle of negative width'],
		[{ visit, shapes: [{ ...rect, x: 0.8, w: 0.3 }] }, 'a rectangle reaching out'],
		[{ visit, shapes: [{ ...rect, h: '0.1' }] }, 'a number as a string'],
		[{ visit, shapes: [{ ...rect, h: undefined }] }, 'no h'],
		[{ visit, shapes: [{ kind: 'arrow', x: 0.1, y: 0.1, w: -0.2, h: 0 }] },
			'an arrow pointing out of the picture'],
		[{ visit, shapes: [{ ...rect, color: 'pink' }] }, 'a colour name'],
		[{ visit, shapes: [{ ...rect, color: '#ff4da' }] }, 'a short colour'],
		[{ visit, shapes: [{ ...rect, color: '#gg4da6' }] }, 'a colour that is no hex'],
		[{ shapes: [] }, 'no visit'],
	];
	for (const [fields, what] of bad)
		assertError(await sato.request('annotate', fields), 'bad_request', what);
	assert.equal(got(kiosk, 'annotate').length, 4, 'no annotate was relayed for bad input');
});

test('a coordinator who joins gets text and marks, and may annotate; bystanders got nothing',
	async () => {
		assertOk(await tanaka.request('join', { visit }), 'tanaka join');
		await kiosk.waitFor('connected', (m) => m.visit === visit && m.parties.length === 3);
		assertOk(await sato.request('text', { visit, text: '田中さんが入りました' }), 'text');
		for (const c of [kiosk, sato, tanaka])
			await c.waitFor('text', (m) => m.visit === visit && m.text === '田中さんが入りました');
		assertOk(await tanaka.request('annotate', { visit, shapes: [SHAPES[1]] }),
			'the coordinator annotates');
		for (const c of [kiosk, sato, tanaka])
			assert.equal((await c.waitFor('annotate', (m) => m.visit === visit)).from?.id,
				tanaka.self.id);

		await sleep(300); // anything misrouted would have arrived by now
		for (const [name, c] of [['second kiosk', other], ['zeimu desk', suzuki]])
			assert.deepEqual(got(c, 'text', 'annotate'), [], `${name} got nothing`);
		assert.equal(got(tanaka, 'text').length, 1, 'tanaka got only the text after joining');
	});

test('a flood of texts gets too_many; annotate has its own limit', async () => {
	// tanaka has sent no text yet: 10 in 10 s pass, the 11th does not.
	const replies = [];
	for (let i = 0; i < 12; i++)
		replies.push(await tanaka.request('text', { visit, text: `${i}` }));
	const codes = replies.map((r) => (r.type === 'ok' ? 'ok' : r.code));
	assert.deepEqual(codes, [...Array(10).fill('ok'), 'too_many', 'too_many'],
		`replies to 12 texts in a row: ${codes}`);
	await sleep(300);
	const seen = got(kiosk, 'text').filter((m) => m.from?.id === tanaka.self.id);
	assert.equal(seen.length, 10, 'refused texts were not delivered');
	assert.ok(tanaka.isOpen, 'too_many does not close the connection');
	// The others are not limited by tanaka's flood.
	assertOk(await kiosk.request('text', { visit, text: 'はい' }), 'the kiosk still may');

	const ann = [];
	for (let i = 0; i < 21; i++)
		ann.push(await tanaka.request('annotate', { visit, shapes: [] }));
	// tanaka annotated once in the previous test: 19 more pass, then too_many (20 if that one
	// is already more than 10 s old on a very slow machine).
	const annCodes = ann.map((r) => (r.type === 'ok' ? 'ok' : r.code));
	const oks = annCodes.indexOf('too_many');
	assert.ok(oks === 19 || oks === 20, `replies to 21 annotates in a row: ${annCodes}`);
	assert.deepEqual(annCodes.slice(oks), Array(21 - oks).fill('too_many'),
		`only too_many after the first: ${annCodes}`);
});

test('after the visit ends, its text and marks are refused', async () => {
	assertOk(await tanaka.request('leave', { visit }), 'tanaka leave');
	assertOk(await sato.request('end', { visit, outcome: 'completed' }), 'sato end');
	await kiosk.waitFor('ended', (m) => m.visit === visit);
	assertError(await sato.request('text', { visit, text: 'まだ' }), 'not_found', 'sato text');
	assertError(await kiosk.request('text', { visit, text: 'はい' }), 'not_found',
		'kiosk text');
	assertError(await sato.request('annotate', { visit, shapes: [] }), 'not_found',
		'sato annotate');
	// Nothing of the text reached the server's log.
	const log = stack.serverLog();
	for (const words of ['申請書の赤い枠', 'もう一度お願いします', '田中さんが入りました'])
		assert.ok(!log.includes(words), `the log holds no text (${words})`);
	assert.match(log, /text refused: too many/, 'the flood was logged (without the text)');
});
