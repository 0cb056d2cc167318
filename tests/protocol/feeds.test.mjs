// Wiring at the right grain (issue 13, item 5): routing's MEDIA actions and a peer that
// appears rewire only the receivers concerned, never every session of the process. Over
// the real server with a real Chromium offer (tests/fixtures), /metrics'
// madoguchi_media_feed_applies_total counts receivers whose feeds were applied to the media
// plane: with six other sessions holding peers, an offer nobody receives applies one
// receiver (its own), an accept applies the parties' receivers that have peers, and the
// desk's later offer applies two (its own and the kiosk's, which routing had already told
// to receive it). Applying every session would count seven or eight each time.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertOk, ROOT, stackForFile } from '../lib/harness.mjs';

const OFFER = fs.readFileSync(path.join(ROOT, 'tests/fixtures/chromium-156-offer.sdp'), 'utf8');
const TRACKS = { 0: 'mic', 1: 'camera' };
const BYSTANDERS = 5;

const file = stackForFile({ tls: true });

async function applies() {
	const r = await file.stack.get('/metrics');
	assert.equal(r.status, 200, `GET /metrics: ${r.status}`);
	const m = /^madoguchi_media_feed_applies_total (\d+)$/m.exec(r.body);
	assert.ok(m, 'no madoguchi_media_feed_applies_total in /metrics');
	return Number(m[1]);
}

async function kioskWithPeer(token, what) {
	const c = await file.connect();
	assertOk(await c.request('hello', { role: 'kiosk', token }), `${what} hello`);
	assertOk(await c.request('offer', { sdp: OFFER, tracks: TRACKS }), `${what} offer`);
	return c;
}

test('an offer or a routing change applies only the receivers it concerns', async () => {
	const tokens = [file.stack.tokens.takasaki];
	for (let i = 1; i < BYSTANDERS; i++)
		tokens.push(await file.stack.addKiosk('yamada', `feeds bystander ${i}`));
	for (const [i, token] of tokens.entries())
		await kioskWithPeer(token, `bystander ${i}`);

	// A kiosk's offer: its own receivers only, not the bystanders'.
	let before = await applies();
	const kiosk = await kioskWithPeer(file.stack.tokens.yamada, 'kiosk');
	assert.equal(await applies() - before, 1, 'an offer nobody receives applies one receiver');

	// sato answers the kiosk's call before offering: MEDIA for the kiosk (applied) and for
	// sato (no peer yet: nothing to apply).
	const sato = await file.connect();
	const { password } = file.stack.logins.sato;
	assertOk(await sato.request('hello', { role: 'staff', username: 'sato', password }),
		'sato hello');
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	const { visit } = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call');
	await sato.waitFor('ringing', (m) => m.visit === visit);
	before = await applies();
	assertOk(await sato.request('accept', { visit }), 'sato accept');
	await kiosk.waitFor('connected', (m) => m.visit === visit);
	assert.equal(await applies() - before, 1, 'the accept applies the kiosk\'s receivers only');

	// sato's offer: its own receivers and the kiosk's (which name sato), nobody else's.
	before = await applies();
	assertOk(await sato.request('offer', { sdp: OFFER, tracks: TRACKS }), 'sato offer');
	assert.equal(await applies() - before, 2, 'the desk\'s offer applies itself and its kiosk');

	// Hanging up: MEDIA to both parties (both have peers now), still nobody else.
	before = await applies();
	assertOk(await sato.request('end', { visit, outcome: 'completed' }), 'sato end');
	await kiosk.waitFor('ended', (m) => m.visit === visit);
	assert.equal(await applies() - before, 2, 'the end applies the two parties\' receivers');
});
