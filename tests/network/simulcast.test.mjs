// Issue 12, network test 1: one narrow branch must not spoil the picture for everyone. A
// three-way call: the kiosk (in a network namespace, its downlink limited to 600 kbit/s by a
// token bucket) calls 保険年金課, clerk A (sato) accepts and invites 税務課, clerk B (suzuki)
// accepts. Clerk A sends a busy picture (a 640x480 canvas of random blocks, redrawn every
// frame, put in place of the camera by overriding getUserMedia before the page loads); every
// page sends its camera in simulcast layers (two for a 640x480 camera). Clerk B shows clerk A enlarged (a click
// on its slot tile), so its display wants the full layer.
//
// Steady state, over a 15 s window after a ramp: clerk B decodes clerk A at >= 640 px wide
// and >= 20 fps, while the kiosk decodes both clerks (a low layer) without freezing:
// framesDecoded advances in every 3 s slice; clerk B's picture (the fake camera) never
// freezes; clerk A's busy picture has no freeze longer than SHORT_FREEZE_S and at most
// MAX_FREEZE_TOTAL_S of them in the window. Why A's gets that allowance: its small layer
// carries about 12 frames a second (150 kbit/s over a picture that changes completely every
// frame), and Chromium's own encoder drops frames unevenly there under the load of three
// browsers on two cores. Sent Chromium to Chromium in one page with no server at all, the
// same canvas at 320x240 and 150 kbit/s showed one freeze of 0.28 s in 50 s while this test
// ran beside it (12.6 fps; none on an idle machine); the kiosk's view of A showed the same,
// 0.27-0.33 s each, with no packet lost, NACKed or dropped by the line. The freezes that loss
// and starved repair caused were 5-13 s long. Then the limit is lifted:
// the kiosk's main video (clerk A) should move to the full layer within 10 s. Moving up needs
// the downlink prober (issue 12 item 2) to raise the kiosk's estimate: the time is always
// printed, and asserted only when the server exports madoguchi_probes_sent_total (the
// prober's metric).
//
// Three Chromiums on two cores: the windows and bounds are generous; MEASURE lines give each
// receiver's resolution and frame rate.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { acceptOn, assertChromium, loginStaff, madoguchi, mediaFigures, statsByMid, step,
	waitMids, waitOnScreen } from '../lib/browser.mjs';
import { fetchMetrics, measure, mediaCounters, netFailure, requireNetns, sleep,
	startNetStack } from '../lib/netns.mjs';

await requireNetns();

const LIMIT_KBIT = 600;
const RAMP_MS = 20000;       // from the three-way call to the start of the window
const WINDOW_MS = 15000;     // the steady-state window
const SLICE_MS = 3000;       // the kiosk must decode both clerks in every slice
const SHORT_FREEZE_S = 0.5;  // the longest freeze of the kiosk's view of A (see above)...
const MAX_FREEZE_TOTAL_S = 1.5; // ...and all of them in the window (a tenth of it)
const MIN_WIDTH_B = 640;     // clerk B sees clerk A at least this wide...
const MIN_FPS_B = 20;        // ...at least this fast
const UP_DEADLINE_MS = 10000;
const UP_WATCH_MS = 25000;   // how long the switch-up is watched (and printed) at most

// Clerk A's camera: random 32 px blocks over 640x480, redrawn for every frame at 30 fps,
// with the fake device's microphone.
const busyCamera = () => {
	const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
	navigator.mediaDevices.getUserMedia = async (c) => {
		const stream = new MediaStream();
		if (c?.audio)
			for (const t of (await real({ audio: true })).getAudioTracks())
				stream.addTrack(t);
		if (c?.video) {
			const canvas = document.createElement('canvas');
			canvas.width = 640;
			canvas.height = 480;
			const ctx = canvas.getContext('2d');
			const draw = () => {
				for (let y = 0; y < 480; y += 32)
					for (let x = 0; x < 640; x += 32) {
						ctx.fillStyle = `rgb(${Math.random() * 255 | 0},${Math.random() * 255 | 0},` +
							`${Math.random() * 255 | 0})`;
						ctx.fillRect(x, y, 32, 32);
					}
			};
			draw();
			setInterval(draw, 1000 / 30);
			stream.addTrack(canvas.captureStream(30).getVideoTracks()[0]);
		}
		return stream;
	};
};

let env;
let failed = false;

before(async () => {
	assertChromium();
	env = await startNetStack({ serveArgs: ['--simulcast', 'on'] });
});

after(async () => {
	await env?.close({ failed });
});

/** One receiver's view of one mid: {width, height, frames, freezes, at}. */
async function videoOn(page, mid) {
	const s = await statsByMid(page);
	const v = s?.mids[mid];
	const f = await page.evaluate(async (m) => {
		const pc = window.madoguchi?.pc;
		if (!pc)
			return null;
		let out = null;
		(await pc.getStats()).forEach((r) => {
			if (r.type === 'inbound-rtp' && r.kind === 'video' && r.mid === m)
				out = { freezes: r.freezeCount ?? 0, freezeS: r.totalFreezesDuration ?? 0 };
		});
		return out;
	}, mid);
	return { at: Date.now(), width: v?.width ?? 0, height: v?.height ?? 0,
		frames: v?.framesDecoded ?? 0, freezes: f?.freezes ?? 0, freezeS: f?.freezeS ?? 0 };
}

/** Samples one inbound video stream of a page every 500 ms until stop(): rows of [t since t0,
 * frames decoded, received, keyframes decoded, packets lost, NACKs, PLIs, freezes, seconds
 * frozen, frames dropped, kB received, retransmissions received, the transport's kB received], then, with a
 * stack, the server's loss-repair counters and, with a namespace, the packets the line's
 * token bucket dropped. Printed when the view froze: it shows whether the line, the repair
 * or the sender stalled the picture. */
function traceInbound(page, mid, t0, stack, net) {
	const rows = [];
	let busy = false;
	const timer = setInterval(async () => {
		if (busy)
			return;
		busy = true;
		try {
			const r = await page.evaluate(async (m) => {
				let out = null, total = 0;
				(await window.madoguchi?.pc?.getStats())?.forEach((x) => {
					if (x.type === 'inbound-rtp' && x.kind === 'video' && x.mid === m)
						out = [x.framesDecoded, x.framesReceived, x.keyFramesDecoded, x.packetsLost,
							x.nackCount, x.pliCount, x.freezeCount, x.totalFreezesDuration, x.framesDropped,
							Math.round(x.bytesReceived / 1000), x.retransmittedPacketsReceived];
					if (x.type === 'transport')
						total = Math.round(x.bytesReceived / 1000);
				});
				return out && [...out, total];
			}, mid);
			if (r && stack) {
				const m = await fetchMetrics(stack);
				const c = (n) => m.sum(`madoguchi_${n}_total`);
				r.push(c('nack_received'), c('rtx_sent'), c('rtx_cache_miss'), c('pli_received'),
					c('pli_sent'), c('pli_coalesced'), c('rtp_dropped_keyframe_wait'),
					c('rtx_over_budget'));
			}
			if (r && net) {
				const { execFileSync } = await import('node:child_process');
				const o = execFileSync('tc', ['-s', 'qdisc', 'show', 'dev', net.hostIf]).toString();
				r.push(Number(o.match(/dropped (\d+)/)?.[1] ?? -1));
			}
			if (r)
				rows.push([Date.now() - t0, ...r]);
		} catch { /* the page went away */ }
		busy = false;
	}, 500);
	return { rows, stop: () => clearInterval(timer) };
}

/** What a page's camera encoder sends, per simulcast layer (rid). */
function layersSent(page) {
	return page.evaluate(async () => {
		const pc = window.madoguchi?.pc;
		const out = {};
		if (!pc)
			return out;
		(await pc.getStats()).forEach((r) => {
			if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid)
				out[r.rid] = { size: `${r.frameWidth ?? 0}x${r.frameHeight ?? 0}`,
					fps: r.framesPerSecond ?? 0, kbit: Math.round((r.targetBitrate ?? 0) / 1000),
					active: r.active, limit: r.qualityLimitationReason };
		});
		return out;
	});
}

/** The freezes a trace (traceInbound) saw between from and to (ms since its t0), each as the
 * seconds frozen that one 500 ms sample added: a freeze is counted, with its whole length,
 * when the late frame comes, so one sample holds all of it (and two short ones that ended
 * in the same sample count as one long one: the bound errs strict). */
function freezesIn(rows, from, to) {
	const out = [];
	for (let i = 1; i < rows.length; i++) {
		const [t, , , , , , , n, sec] = rows[i], [, , , , , , , n0, sec0] = rows[i - 1];
		if (t > from && t <= to + 500 && n > n0)
			out.push(sec - sec0);
	}
	return out;
}

const fps = (a, b) => (b.at > a.at ? Math.round(((b.frames - a.frames) * 1000 / (b.at - a.at)) *
	10) / 10 : 0);

test(`three-way call, kiosk behind ${LIMIT_KBIT} kbit/s: simulcast keeps the LAN clerk sharp`,
	{ timeout: 240000 }, async () => {
		const { net, stack, browsers } = env;
		try {
			const sato = await step('clerk A (sato): busy camera, log in, available', async () => {
				const p = await browsers.open('sato', 'about:blank');
				await p.addInitScript(busyCamera);
				await p.goto(`${stack.url}/desk/`, { waitUntil: 'load', timeout: 15000 });
				await loginStaff(p, 'sato', stack.logins.sato.password);
				return p;
			});
			const suzuki = await step('clerk B (suzuki): log in, available', async () => {
				const p = await browsers.open('suzuki', `${stack.url}/desk/`);
				await loginStaff(p, 'suzuki', stack.logins.suzuki.password);
				return p;
			});
			const kiosk = await step('kiosk inside the namespace', () => browsers.open('kiosk',
				`${stack.url}/kiosk/#token=${stack.tokens.yamada}`, { netns: net.name }));
			const kmids = await waitMids(kiosk);
			// The kiosk fetches its spoken prompts (half a megabyte) once the page has loaded,
			// as it would while idle in a hall; the line narrows after that.
			await step('the kiosk has its spoken prompts', () => kiosk.waitForFunction(
				() => window.madoguchi?.voice?.loaded?.length === 3, null, { timeout: 20000 }));
			await net.rate(LIMIT_KBIT, { dir: 'down', queueMs: 150 });
			const selfId = async (p) => {
				await p.waitForFunction(() => window.madoguchi?.self?.id, null, { timeout: 15000 });
				return (await madoguchi(p, 'self')).id;
			};
			const ids = { sato: await selfId(sato), suzuki: await selfId(suzuki) };

			await step('kiosk calls 保険年金課, sato accepts, invites 税務課, suzuki accepts',
				async () => {
					await kiosk.waitForSelector('button[data-dept="hoken"]:enabled',
						{ timeout: 20000 });
					await kiosk.click('button[data-dept="hoken"]');
					await acceptOn(sato);
					const visit = await madoguchi(kiosk, 'visit');
					await sato.selectOption('#route-dept', 'zeimu');
					await sato.click('button[data-action="invite"]');
					await acceptOn(suzuki, visit);
					await waitOnScreen(kiosk, 'camera', ids.sato);
					await waitOnScreen(kiosk, 'slot', ids.suzuki);
					await waitOnScreen(suzuki, 'slot', ids.sato);
				});
			const bmids = await madoguchi(suzuki, 'mids');
			await step('suzuki enlarges its tile of sato', async () => {
				await suzuki.click('#slot-tile');
				await suzuki.waitForFunction(() => {
					const v = document.querySelector('#slot-video');
					return v && v.clientWidth >= 640;
				}, null, { timeout: 5000 });
			});
			const callAt = Date.now();
			const trace = traceInbound(kiosk, kmids.camera, callAt, stack, net);
			const traceB = traceInbound(kiosk, kmids.slotVideo, callAt, null, null);
			await sleep(RAMP_MS);

			// The window: B's view of A; the kiosk's views of A (camera) and B (slot).
			const views = async () => {
				const [b, kA, kB] = await Promise.all([videoOn(suzuki, bmids.slotVideo),
					videoOn(kiosk, kmids.camera), videoOn(kiosk, kmids.slotVideo)]);
				return { b, kA, kB };
			};
			const first = await views();
			const slices = [];
			const widthsB = [];
			const estimates = [];
			let prev = first, last = first;
			while (Date.now() - first.b.at < WINDOW_MS) {
				await sleep(SLICE_MS);
				last = await views();
				slices.push({ kA: last.kA.frames - prev.kA.frames,
					kB: last.kB.frames - prev.kB.frames });
				widthsB.push(last.b.width);
				estimates.push(mediaCounters(await fetchMetrics(stack)).downlink_estimate_bps);
				prev = last;
			}
			trace.stop();
			traceB.stop();
			const sentA = await layersSent(sato);
			const senderA = await mediaFigures(sato);
			const m1 = mediaCounters(await fetchMetrics(stack));
			const fig = (a, b) => ({ resolution: `${b.width}x${b.height}`, fps: fps(a, b),
				freezes: b.freezes - a.freezes,
				freeze_s: Number((b.freezeS - a.freezeS).toFixed(3)) });
			const steady = { clerkB_sees_A: fig(first.b, last.b),
				kiosk_sees_A: fig(first.kA, last.kA), kiosk_sees_B: fig(first.kB, last.kB) };
			measure({ test: 'simulcast', limit_kbit: LIMIT_KBIT, ramp_ms: RAMP_MS,
				window_ms: last.b.at - first.b.at, ...steady, clerkB_widths: widthsB,
				kiosk_frames_per_slice: slices, since_call_ms: first.b.at - callAt,
				clerkA_sends: sentA, estimates_per_slice: estimates,
				clerkA_available_kbps: Math.round((senderA?.pair?.availableOutgoingBitrate ?? 0) /
					1000),
				server: { simulcast_switches_total: (await fetchMetrics(stack))
					.sum('madoguchi_simulcast_switches_total'),
				remb_sent_total: m1.remb_sent_total,
					pli_sent_total: m1.pli_sent_total,
					downlink_estimate_bps: m1.downlink_estimate_bps },
				load: (await import('node:os')).loadavg().map((x) => x.toFixed(2)) });
			const cols = '(t ms, frames decoded, received, keyframes, lost, nacks, plis, freezes, s frozen, ' +
				'dropped, kB, rtx packets, transport kB; for A also the server\'s NACKs received, ' +
				'resends, cache misses, PLIs received, PLIs sent, PLIs coalesced, packets dropped ' +
				'waiting for a keyframe, resends over budget, and the line\'s drops)';
			for (const [name, t, froze] of [['A', trace, steady.kiosk_sees_A.freezes],
				['B', traceB, steady.kiosk_sees_B.freezes]])
				if (froze || process.env.MADOGUCHI_TRACE)
					console.log(`# kiosk's view of ${name}, every 500 ms from the call ${cols}:\n# ` +
						t.rows.map((r) => r.join(' ')).join('\n# '));

			// The limit goes: how long until the kiosk sees A in the full layer.
			await net.unlimit({ dir: 'down' });
			const liftAt = Date.now();
			const fullWidth = last.b.width;
			let upMs = null, kNow = last.kA;
			while (Date.now() - liftAt < UP_WATCH_MS) {
				await sleep(500);
				kNow = await videoOn(kiosk, kmids.camera);
				if (kNow.width >= Math.max(MIN_WIDTH_B, fullWidth)) {
					upMs = Date.now() - liftAt;
					break;
				}
			}
			const metrics = await fetchMetrics(stack);
			const prober = metrics.has('madoguchi_probes_sent_total');
			measure({ test: 'simulcast-up', lift_to_full_layer_ms: upMs,
				kiosk_sees_A_after: `${kNow.width}x${kNow.height}`, prober_present: prober,
				probes_sent_total: prober ? metrics.sum('madoguchi_probes_sent_total') : null,
				downlink_estimate_bps: mediaCounters(metrics).downlink_estimate_bps });

			await step(`clerk B decodes clerk A at >= ${MIN_WIDTH_B} px and >= ${MIN_FPS_B} fps`,
				() => {
					assert.ok(last.b.width >= MIN_WIDTH_B && Math.min(...widthsB) >= MIN_WIDTH_B,
						`clerk B saw A at widths ${widthsB.join(', ')}: ` +
						JSON.stringify(steady.clerkB_sees_A));
					assert.ok(steady.clerkB_sees_A.fps >= MIN_FPS_B,
						`clerk B decoded A at ${steady.clerkB_sees_A.fps} fps`);
				});
			await step('the kiosk decodes both clerks in every slice, without freezes (A: none ' +
				`over ${SHORT_FREEZE_S} s)`, () => {
				for (const [i, s] of slices.entries())
					assert.ok(s.kA > 0 && s.kB > 0, `slice ${i}: kiosk decoded ${s.kA} frames ` +
						`of A and ${s.kB} of B`);
				const longestA = Math.max(0, ...freezesIn(trace.rows, first.kA.at - callAt,
					last.kA.at - callAt));
				assert.ok(longestA <= SHORT_FREEZE_S &&
					steady.kiosk_sees_A.freeze_s <= MAX_FREEZE_TOTAL_S,
				`kiosk froze on A for up to ${longestA.toFixed(3)} s (at most ${SHORT_FREEZE_S} s ` +
					`each and ${MAX_FREEZE_TOTAL_S} s in all): ${JSON.stringify(steady.kiosk_sees_A)}`);
				assert.equal(steady.kiosk_sees_B.freezes, 0, 'kiosk froze on B: ' +
					JSON.stringify(steady.kiosk_sees_B));
				assert.ok(last.kA.width > 0 && last.kA.width < MIN_WIDTH_B,
					`the kiosk should get a low layer of A, got ${last.kA.width} px`);
			});
			if (prober) {
				await step(`after the lift the kiosk sees A in the full layer within ` +
					`${UP_DEADLINE_MS / 1000} s`, () => {
					assert.ok(upMs !== null && upMs <= UP_DEADLINE_MS,
						`the kiosk saw A at ${kNow.width} px ` +
						(upMs === null ? `${UP_WATCH_MS} ms after the lift` : `only after ${upMs} ms`));
				});
			} else {
				console.log(`# no prober in this build (madoguchi_probes_sent_total absent): ` +
					`switch-up after the lift ${upMs === null ? 'not seen' : `took ${upMs} ms`}, ` +
					'not asserted');
			}
		} catch (err) {
			failed = true;
			throw await netFailure(env, err);
		}
	});
