// Queueing for a busy department from the real kiosk page in Chromium.
//
// 保険年金課 (hoken) has one clerk, sato, logged in and in a call with another kiosk (bare
// WebSocket clients: only their routing state matters). The kiosk page must show hoken
// enabled with the estimated wait on the button before any tap, and a tap must queue the
// resident (a `queued` event with position 1), not be refused. 税務課 and 子育て支援課 have
// nobody logged in: greyed. When sato's call ends, hoken rings the queued kiosk; when sato
// logs out, hoken is greyed too; and the DEPT fields staffed and estimated_wait_s say so.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browsers, assertChromium, madoguchi, step, waitMids, waitState } from '../lib/browser.mjs';
import { assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

let stack;
let browsers;
let failed = false;
let kiosk;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 15 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

async function staff(username) {
	const c = await wsClient(stack.wsUrl);
	assertOk(await c.request('hello', { role: 'staff', username,
		password: stack.logins[username].password }), `${username} hello`);
	return c;
}

// The kiosk page's department buttons: {id: {disabled, wait, note}}.
function buttons(page) {
	return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('button[data-dept]')]
		.map((b) => [b.dataset.dept, { disabled: b.disabled, wait: b.dataset.wait ?? null,
			note: b.querySelector('.dept-note')?.textContent ?? '' }])));
}

test('a busy department takes a queue with its wait shown; an unstaffed one is greyed',
	{ timeout: 120000 }, async () => {
		const sato = await staff('sato');
		const other = await wsClient(stack.wsUrl);
		let firstVisit = null;
		let deptWait = null;
		try {
			await step('sato answers a call from the other kiosk: hoken\'s only desk is busy',
				async () => {
					assertOk(await sato.request('presence', { status: 'available' }), 'available');
					assertOk(await other.request('hello', { role: 'kiosk',
						token: stack.tokens.takasaki }), 'kiosk hello');
					const call = assertOk(await other.request('call', { department: 'hoken' }),
						'call hoken');
					firstVisit = call.visit;
					await sato.waitFor('ringing', (e) => e.visit === call.visit, 5000);
					// The estimate comes from recent answer waits: let this one take ~2.5 s.
					await sleep(2500);
					assertOk(await sato.request('accept', { visit: call.visit }), 'accept');
					await other.waitFor('connected', (e) => e.visit === call.visit, 5000);
				});
			await step('the DEPT fields: hoken staffed 1, available 0, a wait; zeimu staffed 0',
				async () => {
					const probe = await wsClient(stack.wsUrl);
					const hello = assertOk(await probe.request('hello', { role: 'staff',
						username: 'suzuki', password: stack.logins.suzuki.password }), 'hello');
					await probe.close();
					const d = Object.fromEntries(hello.departments.map((x) => [x.id, x]));
					assert.deepEqual([d.hoken.open, d.hoken.available, d.hoken.staffed,
						d.hoken.queued], [true, 0, 1, 0], JSON.stringify(d.hoken));
					assert.ok(d.hoken.estimated_wait_s >= 2 && d.hoken.estimated_wait_s <= 5,
						JSON.stringify(d.hoken));
					deptWait = d.hoken.estimated_wait_s;
					// suzuki (zeimu) logged in without presence: nobody available there.
					assert.equal(d.zeimu.staffed, 0, JSON.stringify(d.zeimu));
					assert.equal(d.zeimu.estimated_wait_s >= 0, true);
				});
			kiosk = await browsers.open('kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`);
			await waitState(kiosk, 'idle', 20000);
			await waitMids(kiosk);
			await step('before the tap: hoken enabled with its wait, the others greyed', async () => {
				await kiosk.waitForSelector('button[data-dept="hoken"][data-wait]', { timeout: 5000 });
				const b = await buttons(kiosk);
				assert.equal(b.hoken.disabled, false, JSON.stringify(b));
				assert.match(b.hoken.note, /待ち時間 約1分/, JSON.stringify(b.hoken));
				assert.equal(Number(b.hoken.wait), deptWait);
				assert.equal(b.zeimu.disabled, true, JSON.stringify(b));
				assert.equal(b.kosodate.disabled, true, JSON.stringify(b));
				assert.match(b.zeimu.note, /ただいま受付できません/);
				// The one-stop menu starts at hoken: it may be chosen too.
				assert.equal(await kiosk.isDisabled('button[data-onestop="okuyami"]'), false);
				await browsers.shot('kiosk', 'busy-department');
			});
			await step('a tap queues the resident: position 1, the wait on the waiting screen',
				async () => {
					await kiosk.click('button[data-dept="hoken"]');
					await kiosk.waitForFunction(() => window.madoguchi.lastQueued?.position === 1,
						null, { timeout: 5000 });
					const q = await madoguchi(kiosk, 'lastQueued');
					assert.equal(q.department, 'hoken');
					// What the button said before the tap is what the queue says after it.
					assert.equal(q.estimated_wait_s, deptWait, JSON.stringify(q));
					assert.equal(await madoguchi(kiosk, 'state'), 'queued');
					assert.match(await kiosk.textContent('#queued-position'), /1番目/);
					assert.match(await kiosk.textContent('#queued-wait'), /約1分/);
				});
			await step('sato ends the first call: the queued resident rings at sato', async () => {
				const visit = await madoguchi(kiosk, 'visit');
				assertOk(await sato.request('end', { visit: firstVisit, outcome: 'completed' }),
					'end');
				await other.waitFor('ended', (e) => e.visit === firstVisit, 5000);
				await sato.waitFor('ringing', (e) => e.visit === visit, 5000);
				assertOk(await kiosk.evaluate(() => window.madoguchi.client.request('hangup')
					.then(() => ({ type: 'ok' }))), 'the resident hangs up');
				await waitState(kiosk, 'idle', 5000);
			});
			await step('sato logs out: hoken is greyed as well', async () => {
				await sato.close();
				await kiosk.waitForFunction(() =>
					document.querySelector('button[data-dept="hoken"]')?.disabled === true, null,
				{ timeout: 45000 });
			});
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		} finally {
			await sato.close();
			await other.close();
		}
	});
