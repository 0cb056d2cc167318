// A real call between two headless Chromiums through the server: the kiosk page calls hoken,
// the desk page (sato) accepts, and both sides must decode the other's video and hear its
// audio; then the desk ends the call and the records must say so. Measurements (time to
// first frame, frames, kiosk send bitrate) are printed as one line `MEASURE {...}`.
//
// Chromium flags and launching live in tests/lib/browser.mjs. On failure both pages are
// screenshotted into the stack's temp dir (kept), and the paths are printed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browsers, assertChromium, step } from '../lib/browser.mjs';
import { sleep, startStack } from '../lib/harness.mjs';

const MEDIA_DEADLINE_MS = 30000;  // accept -> frames and audio on both sides
const BITRATE_WINDOW_MS = 15000;  // accept -> kiosk sends more than 500 kbps
const MIN_FRAMES = 100;
const MIN_KBPS = 500;

let stack;
let browsers;
let failed = false;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	// 30 fps like a real kiosk camera (the fake device's default is 20).
	browsers = new Browsers(stack, { fps: 30 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

function openPage(name, url) {
	return browsers.open(name, url);
}

/** One getStats() summary of window.madoguchi.pc, or null when there is no pc yet. */
function sampleStats(page) {
	return page.evaluate(async () => {
		const m = window.madoguchi;
		if (!m || !m.pc)
			return null;
		const out = { video: null, audioEnergy: 0, bytesSent: 0, targetBitrate: 0,
			availableOutgoingBitrate: 0, state: m.state ?? null };
		const report = await m.pc.getStats();
		const targets = new Map(); // mid -> target, a simulcast camera's layers summed
		report.forEach((s) => {
			if (s.type === 'inbound-rtp' && s.kind === 'video') {
				const v = { frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0,
					height: s.frameHeight ?? 0, mid: s.mid ?? null };
				// Several video slots may exist; the busiest one is the other party's camera.
				if (!out.video || v.frames > out.video.frames)
					out.video = v;
			} else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
				out.audioEnergy = Math.max(out.audioEnergy, s.totalAudioEnergy ?? 0);
			} else if (s.type === 'outbound-rtp' && s.kind === 'video') {
				out.bytesSent += s.bytesSent ?? 0;
				// The camera's layers (simulcast) add up to its encoder's target; the largest
				// transceiver's counts.
				const key = s.mid ?? s.id;
				targets.set(key, (targets.get(key) ?? 0) + (s.targetBitrate ?? 0));
				out.targetBitrate = Math.max(out.targetBitrate, targets.get(key));
			} else if (s.type === 'candidate-pair' && s.nominated) {
				out.availableOutgoingBitrate = s.availableOutgoingBitrate ?? 0;
			}
		});
		return out;
	});
}

function mediaOk(s) {
	return s && s.video && s.video.frames >= MIN_FRAMES && s.video.width >= 320 &&
		s.video.height >= 240 && s.audioEnergy > 0;
}

test('kiosk and desk see and hear each other through the server', { timeout: 240000 },
	async () => {
		let kiosk, desk;
		try {
			desk = await step('open the desk page',
				() => openPage('desk', `${stack.url}/desk/`));
			kiosk = await step('open the kiosk page',
				() => openPage('kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`));

			await step('desk login as sato', async () => {
				await desk.fill('#username', 'sato', { timeout: 15000 });
				await desk.fill('#password', stack.logins.sato.password);
				await desk.click('button#login');
				await desk.click('button[data-action="available"]', { timeout: 15000 });
			});
			await step('kiosk: hoken becomes available and is tapped', async () => {
				await kiosk.waitForSelector('button[data-dept="hoken"]:enabled',
					{ timeout: 20000 });
				await kiosk.click('button[data-dept="hoken"]');
			});
			const acceptAt = await step('desk: accept the ringing call', async () => {
				await desk.waitForSelector('button[data-action="accept"]:enabled',
					{ state: 'visible', timeout: 20000 });
				await desk.click('button[data-action="accept"]');
				return Date.now();
			});

			await step('media flows both ways', () => watchMedia(kiosk, desk, acceptAt));

			await step('desk ends the call', async () => {
				await desk.click('button[data-action="end"]', { timeout: 10000 });
				await kiosk.waitForFunction(() => window.madoguchi?.state === 'ended', null,
					{ timeout: 15000 });
			});

			await step('the records of the visit', async () => {
				const [v] = await stack.psqlJson(
					'SELECT row_to_json(v) FROM visits v ORDER BY started_at DESC LIMIT 1');
				assert.ok(v, 'no visit row at all');
				const rec = await stack.waitForRecord(v.id,
					(r) => r.visit?.ended_at && r.legs[0]?.ended_at, 'an ended visit and leg');
				const show = JSON.stringify(rec, null, 2);
				assert.equal(rec.visit.end_reason, 'completed', `visit end_reason\n${show}`);
				assert.equal(rec.legs.length, 1, `one leg\n${show}`);
				assert.ok(rec.legs[0].answered_at, `leg answered_at\n${show}`);
				assert.equal(rec.legs[0].outcome, 'completed', `leg outcome\n${show}`);
				assert.equal(rec.legs[0].department_id, 'hoken', `leg department\n${show}`);
			});
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});

/**
 * Polls both pages' stats (every 100 ms until both decode a frame, then every 500 ms) until
 * both decode enough video and hear audio and the kiosk's bitrate window has passed or the
 * bitrate goal is met. Prints and returns the measurements; throws with the last stats when a
 * goal was missed.
 */
async function watchMedia(kiosk, desk, acceptAt) {
	const first = { kiosk: null, desk: null };     // ms from accept to the first decoded frame
	const last = { kiosk: null, desk: null };
	const sent = [];                                // kiosk {t, bytes}
	let maxKbps = 0, maxKbpsAt = null;
	// The sender's own view: the encoder target and the bandwidth estimate, which rise above
	// Chromium's start rate (about 300 kbps) only when transport-cc feedback comes back.
	let maxTargetKbps = 0, maxEstimateKbps = 0;

	for (;;) {
		const now = Date.now();
		const [k, d] = await Promise.all([sampleStats(kiosk), sampleStats(desk)]);
		const t = Date.now();
		last.kiosk = k;
		last.desk = d;
		for (const [name, s] of [['kiosk', k], ['desk', d]])
			if (first[name] === null && s?.video?.frames > 0)
				first[name] = t - acceptAt;

		if (k) {
			if (t - acceptAt <= BITRATE_WINDOW_MS) {
				maxTargetKbps = Math.max(maxTargetKbps, k.targetBitrate / 1000);
				maxEstimateKbps = Math.max(maxEstimateKbps, k.availableOutgoingBitrate / 1000);
			}
			sent.push({ t, bytes: k.bytesSent });
			// The bitrate over the last second (the newest sample at least 1 s old).
			const base = sent.findLast((x) => t - x.t >= 1000);
			if (base && t - acceptAt <= BITRATE_WINDOW_MS) {
				const kbps = ((k.bytesSent - base.bytes) * 8) / (t - base.t);
				if (kbps > maxKbps) {
					maxKbps = kbps;
					maxKbpsAt = t - acceptAt;
				}
			}
		}

		const bitrateDone = (maxKbps > MIN_KBPS && maxTargetKbps > MIN_KBPS) ||
			t - acceptAt > BITRATE_WINDOW_MS;
		if (mediaOk(k) && mediaOk(d) && bitrateDone)
			break;
		if (t - acceptAt > MEDIA_DEADLINE_MS)
			break;
		const interval = first.kiosk !== null && first.desk !== null ? 500 : 100;
		await sleep(Math.max(0, interval - (Date.now() - now)));
	}

	const result = {
		accept_to_first_frame_ms: first,
		frames: { kiosk: last.kiosk?.video?.frames ?? 0, desk: last.desk?.video?.frames ?? 0 },
		resolution: {
			kiosk: `${last.kiosk?.video?.width ?? 0}x${last.kiosk?.video?.height ?? 0}`,
			desk: `${last.desk?.video?.width ?? 0}x${last.desk?.video?.height ?? 0}`,
		},
		audio_energy: { kiosk: last.kiosk?.audioEnergy ?? 0, desk: last.desk?.audioEnergy ?? 0 },
		kiosk_max_send_kbps: Math.round(maxKbps),
		kiosk_max_send_kbps_at_ms: maxKbpsAt,
		kiosk_max_target_kbps: Math.round(maxTargetKbps),
		kiosk_max_estimate_kbps: Math.round(maxEstimateKbps),
	};
	// Printed before the checks so that a failing run still reports what it saw.
	console.log('MEASURE ' + JSON.stringify(result));
	const show = `last stats: ${JSON.stringify(last)}`;
	for (const side of ['kiosk', 'desk']) {
		const s = last[side];
		assert.ok(s, `${side}: window.madoguchi.pc never appeared\n${show}`);
		assert.ok(s.video && s.video.frames >= MIN_FRAMES, `${side} decoded fewer than ` +
			`${MIN_FRAMES} video frames within ${MEDIA_DEADLINE_MS / 1000} s of accept\n${show}`);
		assert.ok(s.video.width >= 320 && s.video.height >= 240,
			`${side} decodes video smaller than 320x240\n${show}`);
		assert.ok(s.audioEnergy > 0, `${side} received no audio energy\n${show}`);
	}
	assert.ok(maxTargetKbps > MIN_KBPS, `the kiosk's encoder target never passed ${MIN_KBPS} ` +
		`kbps within ${BITRATE_WINDOW_MS / 1000} s of accept: no working transport-cc ` +
		`feedback?\n${show}`);
	assert.ok(maxKbps > MIN_KBPS, `the kiosk never sent more than ${MIN_KBPS} kbps of video ` +
		`within ${BITRATE_WINDOW_MS / 1000} s of accept\n${show}`);
	return result;
}
