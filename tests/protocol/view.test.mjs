// The `view` request (docs/protocol.md): a page's display size per received m-line, which
// simulcast layer selection uses. Over the real server with a real Chromium offer (the
// pages' five m-lines with the camera in simulcast, tests/fixtures): accepted for the
// m-lines the server sends on, refused with bad_request (and no effect) before an offer,
// for unknown mids, sizes out of range or of the wrong type, and too many entries. The
// server runs with `--simulcast on` (the default, given here to be explicit) and says so in its hello reply.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { assertError, assertOk, ROOT, startStack, wsClient } from '../lib/harness.mjs';

const OFFER = fs.readFileSync(path.join(ROOT, 'tests/fixtures/chromium-156-simulcast-offer.sdp'),
	'utf8');
const mids = [...OFFER.matchAll(/^a=mid:(\S+)\r?$/gm)].map((m) => m[1]);
const ROLES = ['mic', 'camera', 'document', 'slot', 'slot'];

let stack;
const clients = [];

before(async () => {
	stack = await startStack({ tls: true, serveArgs: ['--simulcast', 'on'] });
});

after(async () => {
	for (const c of clients)
		await c.close();
	await stack?.stop();
});

test('view: sizes per received m-line after the offer; bad ones refused', async () => {
	assert.equal(mids.length, 5, 'the fixture has the pages\' five m-lines');
	const kiosk = await wsClient(stack.wsUrl);
	clients.push(kiosk);
	const hello = assertOk(await kiosk.request('hello', { role: 'kiosk', token: stack.tokens.yamada }),
		'hello');
	assert.equal(hello.simulcast, true, 'the hello reply says simulcast when it is on');
	const slots = { [mids[4]]: { width: 320, height: 240 } };
	assertError(await kiosk.request('view', { slots }), 'bad_request', 'view before any offer');

	const tracks = Object.fromEntries(mids.map((m, i) => [m, ROLES[i]]));
	const reply = assertOk(await kiosk.request('offer', { sdp: OFFER, tracks }), 'offer');
	assert.match(reply.sdp, /\r\na=simulcast:recv q;h;f\r\n/, 'the camera answered in simulcast');
	assert.equal(reply.sdp.match(/a=simulcast/g).length, 1, 'only the camera is simulcast');

	assertOk(await kiosk.request('view', { slots }), 'view of the slot video');
	assertOk(await kiosk.request('view', { slots: Object.fromEntries(mids.map((m) => [m,
		{ width: 1920, height: 1080 }])) }), 'view of every m-line');
	assertOk(await kiosk.request('view', { slots: {} }), 'an empty view');
	assertOk(await kiosk.request('view', { slots: { [mids[1]]: { width: 0, height: 0 } } }),
		'0 x 0: no hint');

	const bad = [
		[undefined, 'no slots'],
		[[], 'slots an array'],
		['x', 'slots a string'],
		[{ nope: { width: 1, height: 1 } }, 'an unknown mid'],
		[{ [mids[1]]: { width: -1, height: 1 } }, 'a negative width'],
		[{ [mids[1]]: { width: 1, height: 16385 } }, 'a height out of range'],
		[{ [mids[1]]: { width: 1.5, height: 1 } }, 'a fractional width'],
		[{ [mids[1]]: { width: '640', height: 480 } }, 'a width as a string'],
		[{ [mids[1]]: { width: 640 } }, 'no height'],
		[{ [mids[1]]: [640, 480] }, 'a size as an array'],
		[{ [mids[1]]: { width: 640, height: 480 }, zz: { width: 1, height: 1 } },
			'a good entry with an unknown mid'],
		[Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`,
			{ width: 1, height: 1 }])), '17 entries'],
	];
	for (const [value, what] of bad)
		assertError(await kiosk.request('view', value === undefined ? {} : { slots: value }),
			'bad_request', `view with ${what}`);
	// Still answering.
	assertOk(await kiosk.request('view', { slots }), 'view after the bad ones');
});
