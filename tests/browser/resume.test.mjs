// Resume: mid-call, the kiosk page's WebSocket is closed from the page (as a network fault
// would end it) and the page reconnects with hello {resume}. The call must go on: the page
// stays in_call, it keeps its PeerConnection (no second offer), both sides keep decoding,
// and PostgreSQL has not ended the visit. Then the desk ends the call normally.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	Browsers, assertChromium, madoguchi, startDeskKioskCall, statsByMid, step, waitNewFrames,
	waitState,
} from '../lib/browser.mjs';
import { sleep, startStack } from '../lib/harness.mjs';

let stack;
let browsers;
let failed = false;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 20 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

test('closing and reopening the kiosk\'s WebSocket mid-call keeps the call',
	{ timeout: 150000 }, async () => {
		const measure = {};
		try {
			const { desk, kiosk, kmids } = await startDeskKioskCall(browsers, stack);
			const dmids = await madoguchi(desk, 'mids');
			const visit = await madoguchi(kiosk, 'visit');
			assert.match(String(visit), /^[0-9a-f-]{36}$/, 'the kiosk knows its visit');

			const dropAt = await step('drop the kiosk\'s WebSocket', async () => {
				const at = Date.now();
				await kiosk.evaluate(() => window.madoguchi.dropSocket());
				return at;
			});
			await step('the kiosk resumes the same session', async () => {
				await kiosk.waitForFunction(() => window.madoguchi.stats?.resumes === 1, null,
					{ timeout: 20000 });
				measure.resume_ms = Date.now() - dropAt;
				const s = await statsByMid(kiosk);
				assert.deepEqual([s.stats.sessions, s.stats.resumes, s.stats.offersSent,
					s.stats.pcs], [1, 1, 1, 1],
				`[sessions, resumes, offers, PeerConnections] ${JSON.stringify(s.stats)}`);
				assert.equal(s.state, 'in_call', 'the kiosk is still in the call');
				assert.equal(s.visit, visit, 'the same visit');
			});
			await step('both sides keep decoding', async () => {
				await waitNewFrames(kiosk, kmids.camera, { minNew: 30, what: 'kiosk: the desk' });
				await waitNewFrames(desk, dmids.camera, { minNew: 30, what: 'desk: the kiosk' });
				assert.equal(await madoguchi(desk, 'state'), 'in_call', 'the desk is in the call');
			});
			await step('the visit is not ended in PostgreSQL', async () => {
				await sleep(1000);
				const rec = await stack.visitRecord(visit);
				assert.ok(rec.visit, 'the visit row exists');
				assert.equal(rec.visit.ended_at, null, `visit still open\n${JSON.stringify(rec)}`);
			});
			await step('requests work on the resumed socket: the desk ends the call', async () => {
				await desk.click('button[data-action="end"]');
				await waitState(kiosk, 'ended');
				const rec = await stack.waitForRecord(visit, (r) => r.visit?.ended_at,
					'an ended visit');
				assert.equal(rec.visit.end_reason, 'completed', JSON.stringify(rec));
				assert.equal(rec.legs.length, 1, `one leg\n${JSON.stringify(rec)}`);
			});
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		} finally {
			console.log('MEASURE ' + JSON.stringify({ test: 'resume', ...measure }));
		}
	});
