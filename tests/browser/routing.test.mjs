// Counter routing with real pages: one kiosk page and two desk pages (sato of 保険年金課,
// suzuki of 税務課), plus a second kiosk speaking the protocol over a bare WebSocket where
// only its place in a queue matters.
//
//   transfer   sato transfers the resident to 税務課, where another visit already waits:
//              the resident is at the head of that queue (position 1 on the kiosk, first in
//              suzuki's queue list) and suzuki serves them.
//   three-way  sato invites 税務課; the kiosk decodes both clerks at once (camera and slot
//              m-lines), each desk decodes the kiosk.
//   privacy    while queued or ringing no desk receives a media byte; after a leg ends the
//              former desk stops receiving.
//
// All three check that the kiosk never renegotiates (one offer, no negotiationneeded).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	Browsers, acceptOn, assertChromium, assertNoMediaFor, inboundBytes, loginStaff, madoguchi,
	statsByMid, step, waitMids, waitNewFrames, waitOnScreen, waitState,
} from '../lib/browser.mjs';
import { assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

const SMALL = { width: 960, height: 640 };

let stack;
let browsers;
let failed = false;
let kiosk, sato, suzuki;
let kmids;
const ids = {};

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 20 });
	try {
		sato = await browsers.open('sato', `${stack.url}/desk/`, { viewport: SMALL });
		suzuki = await browsers.open('suzuki', `${stack.url}/desk/`, { viewport: SMALL });
		await loginStaff(sato, 'sato', stack.logins.sato.password);
		// suzuki starts away: 税務課 visits wait in its queue.
		await loginStaff(suzuki, 'suzuki', stack.logins.suzuki.password, { available: false });
		kiosk = await browsers.open('kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`);
		kmids = await waitMids(kiosk);
		await waitMids(sato);
		await waitMids(suzuki);
		ids.sato = (await madoguchi(sato, 'self')).id;
		ids.suzuki = (await madoguchi(suzuki, 'self')).id;
	} catch (err) {
		failed = true;
		throw await browsers.failure(err);
	}
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

async function guarded(label, fn) {
	try {
		await fn();
	} catch (err) {
		failed = true;
		throw await browsers.failure(err, `${label}-failure`);
	}
}

async function setPresence(desk, status) {
	await desk.click(`button[data-action="${status}"]`);
	await desk.waitForSelector(`button[data-action="${status}"][aria-pressed="true"]`);
}

async function kioskTaps(dept) {
	await waitState(kiosk, 'idle', 20000);
	await kiosk.waitForSelector(`button[data-dept="${dept}"]:enabled`, { timeout: 20000 });
	await kiosk.click(`button[data-dept="${dept}"]`);
}

async function endLeg(desk) {
	await desk.click('button[data-action="end"]');
	await waitState(desk, ['idle', 'ringing']);
}

async function assertNoRenegotiation(when) {
	const s = await statsByMid(kiosk);
	assert.deepEqual([s.stats.offersSent, s.stats.pcs, s.stats.negotiationNeeded,
		s.signalingState], [1, 1, 0, 'stable'],
	`${when}: [offers sent, PeerConnections, negotiationneeded, signalling] ` +
		`${JSON.stringify(s.stats)}`);
}

test('transfer: the resident goes to the head of the second department\'s queue',
	{ timeout: 150000 }, () => guarded('transfer', async () => {
		const other = await wsClient(stack.wsUrl);
		try {
			await step('another kiosk already waits at 税務課', async () => {
				assertOk(await other.request('hello', { role: 'kiosk',
					token: stack.tokens.takasaki }), 'hello');
				assertOk(await other.request('call', { department: 'zeimu' }), 'call zeimu');
				await other.waitFor('queued', (e) => e.position === 1, 10000);
			});
			await step('kiosk calls 保険年金課, sato accepts', async () => {
				await kioskTaps('hoken');
				await acceptOn(sato);
				await waitOnScreen(kiosk, 'camera', ids.sato);
				await waitNewFrames(kiosk, kmids.camera, { minNew: 10 });
			});
			const visit = await madoguchi(kiosk, 'visit');
			await step('sato shares a document: the kiosk decodes it on its document m-line',
				async () => {
					await sato.selectOption('#share-source', 'sample');
					await sato.click('button[data-action="share"]');
					await sato.waitForFunction(() => window.madoguchi.sharing === true);
					await waitOnScreen(kiosk, 'document', ids.sato);
					await waitNewFrames(kiosk, kmids.document, { minNew: 5,
						what: 'kiosk: the shared document' });
					await kiosk.waitForSelector('#doc-tile', { state: 'visible' });
					await browsers.shot('kiosk', 'document');
					const ds = await statsByMid(sato);
					assert.deepEqual([ds.stats.offersSent, ds.stats.negotiationNeeded], [1, 0],
						`sharing renegotiated the desk ${JSON.stringify(ds.stats)}`);
					await sato.click('button[data-action="share"]');
					await kiosk.waitForSelector('#doc-tile', { state: 'hidden' });
				});
			await step('sato turns the kiosk\'s volume down to 40 %', async () => {
				await sato.$eval('#kiosk-volume', (el) => {
					el.value = '40';
					el.dispatchEvent(new Event('change'));
				});
				await kiosk.waitForFunction(() =>
					Math.abs(document.querySelector('#remote-audio').volume - 0.4) < 0.01, null,
				{ timeout: 5000 });
			});
			await step('sato transfers to 税務課', async () => {
				await sato.selectOption('#route-dept', 'zeimu');
				await sato.click('button[data-action="transfer"]');
				await waitState(sato, ['idle', 'ringing']);
			});
			await step('the kiosk waits at the head of 税務課', async () => {
				await waitState(kiosk, 'queued');
				await kiosk.waitForFunction((v) => {
					const q = window.madoguchi.lastQueued;
					return q && q.visit === v && q.department === 'zeimu' && q.position === 1;
				}, visit, { timeout: 10000 });
				await other.waitFor('queued', (e) => e.position === 2, 10000);
				await browsers.shot('kiosk', 'transfer-queued');
			});
			await step('sato, no longer in the call, receives nothing', async () => {
				await sleep(1000);
				await assertNoMediaFor(sato, 1500, 'sato after the transfer');
			});
			await step('suzuki sees the resident first in the queue and takes them', async () => {
				await suzuki.waitForSelector('#queue-list li button[data-action="take"]',
					{ timeout: 10000 });
				const first = await suzuki.$eval('#queue-list li button[data-action="take"]',
					(b) => b.dataset.visit);
				assert.equal(first, visit, 'the transferred visit heads suzuki\'s queue list');
				await browsers.shot('suzuki', 'queue');
				// A desk takes only visits that ring it, and only available desks ring.
				await setPresence(suzuki, 'available');
				await suzuki.waitForSelector(`#ringing-list button[data-visit="${visit}"]`);
				await suzuki.click(`#queue-list button[data-action="take"][data-visit="${visit}"]`);
				await waitState(suzuki, 'in_call');
				await waitOnScreen(kiosk, 'camera', ids.suzuki);
				await waitNewFrames(kiosk, kmids.camera, { minNew: 10 });
				const dm = await madoguchi(suzuki, 'mids');
				await waitNewFrames(suzuki, dm.camera, { minNew: 10 });
			});
			await step('no renegotiation', () => assertNoRenegotiation('after the transfer'));
			await step('suzuki ends; the other kiosk hangs up', async () => {
				await endLeg(suzuki);
				await waitState(kiosk, 'ended');
				assertOk(await other.request('hangup'), 'hangup');
			});
			await step('records: two legs, hoken then zeimu', async () => {
				const rec = await stack.waitForRecord(visit, (r) => r.visit?.ended_at &&
					r.legs.length === 2 && r.legs.every((l) => l.ended_at), 'two ended legs');
				assert.deepEqual(rec.legs.map((l) => l.department_id), ['hoken', 'zeimu'],
					JSON.stringify(rec, null, 2));
			});
		} finally {
			await other.close();
		}
		await setPresence(suzuki, 'away');
	}));

test('three-way: the kiosk decodes two clerks at once', { timeout: 150000 },
	() => guarded('three-way', async () => {
		await setPresence(suzuki, 'available');
		await step('kiosk calls 保険年金課, sato accepts', async () => {
			await kioskTaps('hoken');
			await acceptOn(sato);
			await waitOnScreen(kiosk, 'camera', ids.sato);
		});
		const visit = await madoguchi(kiosk, 'visit');
		await step('sato invites 税務課, suzuki accepts', async () => {
			await sato.selectOption('#route-dept', 'zeimu');
			await sato.click('button[data-action="invite"]');
			await acceptOn(suzuki, visit);
		});
		await step('the kiosk decodes sato on camera and suzuki on the slot', async () => {
			await waitOnScreen(kiosk, 'camera', ids.sato);
			await waitOnScreen(kiosk, 'slot', ids.suzuki);
			await Promise.all([
				waitNewFrames(kiosk, kmids.camera, { minNew: 20, what: 'kiosk: sato' }),
				waitNewFrames(kiosk, kmids.slotVideo, { minNew: 20, what: 'kiosk: suzuki' }),
			]);
			await browsers.shot('kiosk', 'three-way');
		});
		await step('each desk decodes the kiosk', async () => {
			for (const [name, desk] of [['sato', sato], ['suzuki', suzuki]]) {
				const dm = await madoguchi(desk, 'mids');
				await waitNewFrames(desk, dm.camera, { minNew: 20, what: `${name}: the kiosk` });
			}
		});
		await step('no renegotiation', () => assertNoRenegotiation('in the three-way call'));
		await step('suzuki ends its leg and stops receiving; sato ends the visit', async () => {
			await endLeg(suzuki);
			await sleep(1000);
			await assertNoMediaFor(suzuki, 1500, 'suzuki after leaving the three-way call');
			// Whether the invited desk's end leaves sato with the resident is the server's
			// call; if it does, sato ends the visit.
			if (await madoguchi(sato, 'state') === 'in_call') {
				await waitNewFrames(kiosk, kmids.camera, { minNew: 10, what: 'kiosk: sato alone' });
				await endLeg(sato);
			}
			await waitState(kiosk, 'ended');
		});
		await setPresence(suzuki, 'away');
	}));

test('privacy: no media reaches a desk before it accepts or after its leg', { timeout: 150000 },
	() => guarded('privacy', async () => {
		await waitState(kiosk, 'idle', 20000);
		await setPresence(sato, 'away');
		const bytes0 = { sato: await inboundBytes(sato), suzuki: await inboundBytes(suzuki) };
		await step('the kiosk queues at 保険年金課 with nobody available', async () => {
			// The page greys a department nobody can answer; the protocol still queues.
			await kiosk.evaluate(() => window.madoguchi.client.request('call',
				{ department: 'hoken' }));
			await waitState(kiosk, 'queued');
		});
		await step('queued: no desk receives anything', async () => {
			await sleep(1500);
			assert.equal(await inboundBytes(sato), bytes0.sato, 'sato while the kiosk queued');
			assert.equal(await inboundBytes(suzuki), bytes0.suzuki,
				'suzuki while the kiosk queued');
		});
		await step('ringing: sato receives nothing until it accepts', async () => {
			await setPresence(sato, 'available');
			await sato.waitForSelector('button[data-action="accept"]:enabled', { timeout: 10000 });
			await assertNoMediaFor(sato, 2000, 'sato while ringing');
			assert.equal(await inboundBytes(sato), bytes0.sato, 'sato while ringing');
		});
		await step('after accept sato receives, after end it stops', async () => {
			await acceptOn(sato);
			const dm = await madoguchi(sato, 'mids');
			await waitNewFrames(sato, dm.camera, { minNew: 10 });
			assert.ok(await inboundBytes(sato) > bytes0.sato, 'sato receives once in the call');
			await endLeg(sato);
			await sleep(1000);
			await assertNoMediaFor(sato, 2000, 'sato after the leg ended');
			assert.equal(await inboundBytes(suzuki), bytes0.suzuki,
				'suzuki, never in this visit');
		});
		await step('no renegotiation', () => assertNoRenegotiation('at the end'));
	}));
