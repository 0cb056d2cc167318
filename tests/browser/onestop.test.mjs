// A one-stop visit over three departments with real pages: a kiosk taps a one-stop menu
// (保険年金課 → 税務課 → 子育て支援課) and three desk pages serve it in turn; the coordinator
// page moves the resident from the second department to the third (patch). Throughout, the
// kiosk's PeerConnection is the one negotiated at the start: one offer sent, no
// negotiationneeded, signalling stable. After each accept the kiosk decodes that desk's video
// (the `slots` event names the desk) and the desk decodes the kiosk; a ringing desk receives
// no media byte; a desk whose leg ended stops receiving.
//
// The switch time is measured from the accept click (and from the patch click) to the first
// frame the kiosk decodes after it on its camera m-line: the server keeps the SSRC and holds
// the slot until the new desk's keyframe, so framesDecoded stands still until then. Printed
// as `MEASURE {...}` with every switch, the median and the worst.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	Browsers, acceptOn, addOnestopMenu, assertChromium, assertNoMediaFor, framesOn, inboundBytes,
	loginStaff,
	madoguchi, median, restartServer, statsByMid, step, waitMids, waitNewFrames, waitOnScreen, waitState,
} from '../lib/browser.mjs';
import { sleep, startStack } from '../lib/harness.mjs';

const MENU = { id: 'hikkoshi', name: '引っ越しの手続き', itinerary: ['hoken', 'zeimu', 'kosodate'] };
const CLERKS = { hoken: 'sato', zeimu: 'suzuki', kosodate: 'takahashi' };
const SMALL = { width: 960, height: 640 };

let stack;
let browsers;
let failed = false;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	await addOnestopMenu(stack, MENU.id, MENU.name, MENU.itinerary);
	// The server reads its directory (departments, menus) when it starts.
	await restartServer(stack);
	// Four Chromiums on two cores: the fake camera's default 20 fps keeps them responsive.
	browsers = new Browsers(stack, { fps: 20 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

/** The kiosk's own counters must show the single negotiation of the start. */
async function assertNoRenegotiation(kiosk, when) {
	const s = await statsByMid(kiosk);
	const show = JSON.stringify({ stats: s.stats, signalingState: s.signalingState });
	assert.equal(s.stats.offersSent, 1, `${when}: the kiosk sent a second offer ${show}`);
	assert.equal(s.stats.pcs, 1, `${when}: the kiosk made a second PeerConnection ${show}`);
	assert.equal(s.stats.negotiationNeeded, 0, `${when}: negotiationneeded fired ${show}`);
	assert.equal(s.signalingState, 'stable', `${when}: signalling not stable ${show}`);
}

test('one-stop visit over three departments on one PeerConnection', { timeout: 280000 },
	async () => {
		const fromAccept = []; // ms, one per department
		const fromPatch = [];
		const patchToRing = [];
		try {
			const desks = {};
			const deskIds = {};
			for (const [dept, user] of Object.entries(CLERKS)) {
				desks[dept] = await step(`desk ${user}: open, log in, available`, async () => {
					const p = await browsers.open(user, `${stack.url}/desk/`, { viewport: SMALL });
					await loginStaff(p, user, stack.logins[user].password);
					await waitMids(p);
					return p;
				});
				deskIds[dept] = (await madoguchi(desks[dept], 'self')).id;
			}
			const kiosk = await step('open the kiosk page', () =>
				browsers.open('kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`));
			const kmids = await step('kiosk negotiates', () => waitMids(kiosk));

			await step('kiosk: the one-stop menu is offered and tapped', async () => {
				await kiosk.waitForSelector(`button[data-onestop="${MENU.id}"]:enabled`,
					{ timeout: 20000 });
				await browsers.shot('kiosk', 'start');
				await kiosk.click(`button[data-onestop="${MENU.id}"]`);
			});

			let visit = null;
			let patchAt = null;
			let patchedDesk = null;
			for (const [i, dept] of MENU.itinerary.entries()) {
				const desk = desks[dept];
				const user = CLERKS[dept];
				await step(`${dept}: ${user} rings and receives nothing while ringing`, async () => {
					await desk.waitForSelector('button[data-action="accept"]:enabled',
						{ state: 'visible', timeout: 20000 });
					if (patchAt !== null)
						patchToRing.push(Date.now() - patchAt);
					// Each desk serves this visit only: it has never received a byte.
					assert.equal(await inboundBytes(desk), 0, `${user} received media ringing`);
					if (i === 0)
						await browsers.shot('kiosk', 'queued');
					// After a patch the accept follows at once, so the time from the patch
					// measures the server, not this wait.
					if (patchAt === null)
						await assertNoMediaFor(desk, 1000, `${user} while ringing`);
				});
				const before = await framesOn(kiosk, kmids.camera);
				const acceptAt = await step(`${dept}: ${user} accepts`, () => acceptOn(desk));
				const first = await step(`${dept}: the kiosk decodes a new frame`, () =>
					waitNewFrames(kiosk, kmids.camera, { since: acceptAt, from: before,
						pollMs: 20, what: `kiosk camera after ${user} accepted` }));
				fromAccept.push(first.ms);
				if (patchAt !== null)
					fromPatch.push(first.ms + (acceptAt - patchAt));
				await step(`${dept}: slots name ${user} on the kiosk's camera`, () =>
					waitOnScreen(kiosk, 'camera', deskIds[dept]));
				await step(`${dept}: ${user} decodes the kiosk, the kiosk keeps decoding`,
					async () => {
						const dm = await madoguchi(desk, 'mids');
						await waitNewFrames(desk, dm.camera, { minNew: 20,
							what: `${user} decoding the kiosk` });
						await waitNewFrames(kiosk, kmids.camera, { minNew: 20,
							what: `kiosk decoding ${user}` });
					});
				if (patchedDesk !== null) {
					const { desk: left, user: leftUser } = patchedDesk;
					patchedDesk = null;
					await step(`${leftUser} left on the patch and stopped receiving`, async () => {
						await waitState(left, ['idle', 'ringing']);
						await assertNoMediaFor(left, 1500, `${leftUser} after the patch`);
					});
				}
				await step(`${dept}: no renegotiation`, () =>
					assertNoRenegotiation(kiosk, `after ${user} accepted`));
				visit = visit ?? await madoguchi(kiosk, 'visit');
				await browsers.shot('kiosk', `call-${dept}`);
				await browsers.shot(user, 'call');

				if (i === 1) {
					// The coordinator moves the resident on from the second department. The
					// first desk is done: its browser makes room for the coordinator's.
					await browsers.close(CLERKS[MENU.itinerary[0]]);
					const coord = await step('coordinator tanaka: open, log in, see the board',
						async () => {
							const p = await browsers.open('tanaka', `${stack.url}/coordinator/`,
								{ viewport: SMALL });
							await loginStaff(p, 'tanaka', stack.logins.tanaka.password,
								{ available: false });
							await waitState(p, 'board', 20000);
							await p.waitForSelector(`li.card[data-visit="${visit}"] ` +
								`li.step[data-department="${dept}"][data-state="active"]`,
							{ timeout: 15000 });
							return p;
						});
					await browsers.shot('tanaka', 'board');
					patchAt = await step('coordinator: patch (move on now)', async () => {
						const at = Date.now();
						await coord.click(`li.card[data-visit="${visit}"] ` +
							'button[data-action="patch"]');
						return at;
					});
					// Checked once the next desk has answered, so that the time from the patch
					// to the next desk's first frame measures the server, not this check.
					patchedDesk = { desk, user };
				} else {
					await step(`${user} ends the leg with an outcome and a procedure`, async () => {
						const procs = await desk.$$eval('#procedure option',
							(os) => os.map((o) => o.value).filter(Boolean));
						if (procs.length)
							await desk.selectOption('#procedure', procs[0]);
						await desk.selectOption('#outcome', 'completed');
						await desk.click('button[data-action="end"]');
						await waitState(desk, ['idle', 'ringing']);
					});
					if (i < MENU.itinerary.length - 1) {
						await step(`${user} stops receiving after the leg`, async () => {
							await sleep(1000);
							await assertNoMediaFor(desk, 1500, `${user} after its leg`);
						});
					}
				}
			}

			await step('the kiosk shows the 1-5 rating, is rated, and goes back by itself',
				async () => {
					await waitState(kiosk, 'ended');
					await kiosk.waitForSelector('#rating button[data-rating="4"]:enabled',
						{ state: 'visible', timeout: 5000 });
					await browsers.shot('kiosk', 'rating');
					await kiosk.click('#rating button[data-rating="4"]');
					await waitState(kiosk, 'idle', 15000);
				});
			await step('the records: one visit, three answered legs in order, rating 4',
				async () => {
					const rec = await stack.waitForRecord(visit,
						(r) => r.visit?.ended_at && r.legs.length >= 3 &&
							r.legs.every((l) => l.ended_at), 'an ended visit with three legs');
					const show = JSON.stringify(rec, null, 2);
					assert.equal(rec.visit.end_reason, 'completed', `end_reason\n${show}`);
					assert.deepEqual(rec.legs.map((l) => l.department_id), MENU.itinerary,
						`legs in itinerary order\n${show}`);
					assert.ok(rec.legs.every((l) => l.answered_at), `every leg answered\n${show}`);
					assert.equal(rec.legs[0].outcome, 'completed', `first leg outcome\n${show}`);
					let rating = '';
					for (let n = 0; n < 50 && !rating; n++) {
						rating = await stack.psql('SELECT coalesce((SELECT rating FROM surveys ' +
							`WHERE visit_id = '${visit}'), (SELECT rating FROM visits WHERE id = ` +
							`'${visit}'))`);
						if (!rating)
							await sleep(200);
					}
					assert.equal(rating, '4', `the survey's rating in PostgreSQL\n${show}`);
				});
			await step('still one negotiation at the end', () =>
				assertNoRenegotiation(kiosk, 'at the end'));
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		} finally {
			const result = {
				test: 'onestop',
				switch_from_accept_ms: fromAccept,
				switch_from_accept_median_ms: median(fromAccept),
				switch_from_accept_worst_ms: fromAccept.length ? Math.max(...fromAccept) : null,
				switch_from_patch_ms: fromPatch,
				switch_from_patch_median_ms: median(fromPatch),
				switch_from_patch_worst_ms: fromPatch.length ? Math.max(...fromPatch) : null,
				// Of which: from the patch click until the next desk's page shows the ring.
				patch_to_ring_ms: patchToRing,
			};
			console.log('MEASURE ' + JSON.stringify(result));
		}
	});
