// A guest interpreter between the real kiosk, desk and guest pages (each its own Chromium):
// the desk invites (「通訳者を招待」), the link and its QR code are drawn, the guest page joins
// by the URL, and the kiosk decodes the clerk (camera) and the interpreter (slot) at once;
// the desk's layout switch reaches the kiosk; the guest sees the resident; 筆談 reaches the
// guest; the guest's page ends with the visit.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browsers, madoguchi, startDeskKioskCall, step, waitMids, waitNewFrames }
	from '../lib/browser.mjs';
import { startStack } from '../lib/harness.mjs';

let stack;
let browsers;
let failed = false;

before(async () => {
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 15 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

test('the desk invites an interpreter; the kiosk shows clerk and interpreter',
	{ timeout: 240000 }, async () => {
		try {
			const { desk, kiosk, kmids } = await startDeskKioskCall(browsers, stack);

			const url = await step('the desk invites: link and QR code', async () => {
				await desk.waitForSelector('#guest-invite', { state: 'visible', timeout: 10000 });
				await desk.click('#guest-invite');
				await desk.waitForFunction(() => window.madoguchi?.guest?.qrDrawn === true, null,
					{ timeout: 10000 });
				const link = await desk.textContent('#guest-link');
				assert.match(link, /\/guest\/#code=[0-9a-f]{32}$/);
				// The QR code is drawn: dark and light pixels on the canvas.
				const px = await desk.evaluate(() => {
					const c = document.querySelector('#guest-qr');
					const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
					let dark = 0;
					for (let i = 0; i < d.length; i += 4)
						if (d[i] < 64) dark++;
					return { dark, all: d.length / 4, hidden: c.hidden };
				});
				assert.equal(px.hidden, false);
				assert.ok(px.dark > px.all * 0.2 && px.dark < px.all * 0.8, JSON.stringify(px));
				return link;
			});

			const guest = await step('the guest page joins by the URL', async () => {
				const p = await browsers.open('guest', url);
				await p.waitForFunction(() => window.madoguchi?.state === 'call', null,
					{ timeout: 30000 });
				return p;
			});
			const gmids = await waitMids(guest);

			await step('the kiosk decodes clerk and interpreter at once', async () => {
				await kiosk.waitForFunction(() =>
					window.madoguchi?.onScreen?.().slot !== null, null, { timeout: 20000 });
				const since = Date.now();
				await Promise.all([
					waitNewFrames(kiosk, kmids.camera, { since, minNew: 20 }),
					waitNewFrames(kiosk, kmids.slotVideo, { since, minNew: 20 }),
				]);
				assert.equal(await kiosk.evaluate(() =>
					document.querySelector('#screen-call').dataset.guest), 'true');
			});

			await step('the guest decodes the resident', () =>
				waitNewFrames(guest, gmids.camera, { minNew: 10 }));

			await step('layout: the interpreter larger on the kiosk', async () => {
				await desk.click('#guest-layout');
				await kiosk.waitForFunction(() =>
					document.querySelector('#screen-call').dataset.layout === 'interpreter', null,
				{ timeout: 10000 });
				const w = await kiosk.evaluate(() => [
					document.querySelector('#remote-video').getBoundingClientRect().width,
					document.querySelector('#slot-tile').getBoundingClientRect().width]);
				assert.ok(w[1] > w[0] * 1.5, `interpreter larger: ${w}`);
				await browsers.shot('kiosk', 'interpreter');
			});

			await step('筆談 reaches the guest; the visit ends the guest page', async () => {
				await desk.fill('#text-input', 'よろしくお願いします');
				await desk.press('#text-input', 'Enter');
				await guest.waitForFunction(() => window.madoguchi?.guest?.textsReceived >= 1,
					null, { timeout: 10000 });
				assert.ok((await madoguchi(guest, 'visit'))?.length === 36);
			});
		} catch (err) {
			failed = true;
			throw err;
		}
	});
