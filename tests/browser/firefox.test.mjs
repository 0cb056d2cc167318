// Firefox ESR as kiosk and desk (issue 10): real calls through the server between Firefox 153
// (tests/lib/firefox.mjs: puppeteer-core over WebDriver BiDi) and Chromium pages.
//
// Firefox gathers no loopback candidates, so the server binds and announces the host end of
// a veth pair in a namespace this test makes (tests/lib/netns.mjs, as the network tests do);
// every browser runs in the root namespace and reaches that address directly. That needs
// root: without it the file prints why and exits 77 (skipped), so it runs directly, not
// under `node --test`.
//
// One stack and one file for every check, in an order that keeps at most three browsers open
// (each page has its own browser process):
//   1. Firefox kiosk + Firefox desk: both decode >= 100 frames at the camera's size and hear
//      audio; then an ICE restart on the Firefox kiosk, and the fallback to a new
//      PeerConnection when a restart is refused.
//   2. Firefox kiosk + Chromium desk: the same figures; the desk turns the kiosk's volume
//      down and mutes and unmutes its microphone.
//   3. One stop with the Firefox kiosk (保険年金課 on Chromium, then 税務課 on Firefox): the
//      kiosk shows each clerk without renegotiating; the switch is timed from the accept click
//      to the first new frame on the kiosk's camera m-line.
//   4. Three-way call with a Firefox desk: the kiosk and the Firefox desk decode two parties
//      each (camera and slot m-lines).
//   5. Chromium kiosk + Firefox desk: the same figures as 1; the Firefox desk shares a
//      document (replaceTrack, no renegotiation) and the kiosk decodes it.
// Figures are printed as `MEASURE {...}` lines: frames, resolutions, and the bitrates each
// way over a steady 15 s window that starts once both sides decode the other's camera at its
// size (both browsers start smaller and scale up as their bandwidth estimate grows).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	acceptOn, addOnestopMenu, assertChromium, loginStaff, madoguchi, median, restartServer, step,
	waitMids, waitNewFrames, waitOnScreen, waitState, framesOn, statsByMid, assertNoMediaFor,
} from '../lib/browser.mjs';
import { MixedBrowsers, assertFirefox } from '../lib/firefox.mjs';
import { sleep, startStack } from '../lib/harness.mjs';
import { createNetns, measure, parseMetrics, requireNetns } from '../lib/netns.mjs';

await requireNetns();

// The server is reached on the veth address, not loopback: /metrics wants the token.
const METRICS_TOKEN = 'firefox-test-5d2e8b7c41a9f036';
const MENU = { id: 'tetsuzuki', name: '転入の手続き', itinerary: ['hoken', 'zeimu'] };
const MIN_FRAMES = 100;
const WINDOW_MS = 15000;      // the steady window the bitrates are measured over
const SETTLE_MS = 2000;       // both at the camera's size -> the window starts
const FIRST_FRAME_MS = 45000; // accept -> first decoded frame on both sides (a busy machine)
const FULL_SIZE_MS = 60000;   // accept -> both decode the camera's size
const EXTRA_MS = 20000;       // after the window, for frames at the camera's size
const SMALL = { width: 960, height: 640 };

let net;
let stack;
let browsers;
let failed = false;
const pages = {}; // name -> page
const ids = {};   // name -> party id

before(async () => {
	assertChromium();
	assertFirefox();
	net = await createNetns();
	try {
		stack = await startStack({ tls: true, bind: net.hostIp, mediaIp: net.hostIp,
			config: { 'metrics-token': METRICS_TOKEN } });
		// The server reads its one-stop menus when it starts.
		await addOnestopMenu(stack, MENU.id, MENU.name, MENU.itinerary);
		await restartServer(stack);
	} catch (err) {
		await net.remove();
		throw err;
	}
	browsers = new MixedBrowsers(stack, { fps: 30 });
});

after(async () => {
	try {
		await browsers?.closeAll();
		await stack?.stop({ keep: failed });
	} finally {
		await net?.remove();
	}
});

async function guarded(label, fn) {
	try {
		await fn();
	} catch (err) {
		failed = true;
		const report = await browsers.failure(err, `${label}-failure`);
		await endCalls();
		throw report;
	}
}

/** After a failed test: the desks end whatever call is still on, so that the next test
 * starts from idle pages. */
async function endCalls() {
	for (const p of Object.values(pages)) {
		if (!browsers.list.some((b) => b.page === p))
			continue;
		const state = await madoguchi(p, 'state').catch(() => null);
		if (state === 'in_call')
			await p.click('button[data-action="end"]', { timeout: 5000 }).catch(() => {});
	}
	await sleep(1000);
}

async function metrics() {
	const r = await stack.get('/metrics', { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
	assert.equal(r.status, 200, `GET /metrics: ${r.status} ${r.body.slice(0, 200)}`);
	return parseMetrics(r.body);
}

/** madoguchi_dtls_handshakes_total from /metrics. */
async function dtlsHandshakes() {
	return (await metrics()).sum('madoguchi_dtls_handshakes_total');
}

/** The server's media counters that tell whether a browser's packets are understood. */
async function mediaCounters() {
	const m = await metrics();
	const out = {};
	for (const n of ['twcc_feedback_received_total', 'rtcp_received_total', 'rtcp_bad_total',
		'srtp_unprotect_failures_total', 'rtp_dropped_unknown_total', 'rtp_probes_total',
		'nack_received_total', 'pli_received_total'])
		out[n] = m.sum(`madoguchi_${n}`);
	return out;
}

/** The server's downlink estimate of each peer (kbit/s), by party id. */
async function downlinkEstimates() {
	const out = {};
	for (const s of (await metrics()).samples)
		if (s.name === 'madoguchi_downlink_estimate_bps')
			out[s.labels.peer] = Math.round(s.value / 1000);
	return out;
}

/** The name under which page was opened (the key of `pages` and `ids`). */
function pageName(page) {
	return Object.keys(pages).find((k) => pages[k] === page);
}

/** Opens a desk page for user (logged in; available unless told otherwise). */
async function openDesk(user, { firefox, available = true }) {
	return step(`desk ${user} (${firefox ? 'Firefox' : 'Chromium'}): open, log in`, async () => {
		const p = await browsers.open(user, `${stack.url}/desk/`, { firefox, viewport: SMALL });
		await loginStaff(p, user, stack.logins[user].password, { available });
		await waitMids(p, 30000);
		pages[user] = p;
		ids[user] = (await madoguchi(p, 'self')).id;
		return p;
	});
}

async function openKiosk(name, token, { firefox }) {
	return step(`kiosk ${name} (${firefox ? 'Firefox' : 'Chromium'}): open`, async () => {
		const p = await browsers.open(name, `${stack.url}/kiosk/#token=${token}`, { firefox });
		await waitMids(p, 30000);
		pages[name] = p;
		ids[name] = (await madoguchi(p, 'self')).id;
		return p;
	});
}

/** After the call ended: the kiosk rates it 4 and goes back to its start screen. */
async function rateAndReturn(kiosk) {
	await waitState(kiosk, 'ended');
	await kiosk.click('#rating button[data-rating="4"]', { timeout: 10000 });
	await waitState(kiosk, 'idle', 15000);
}

async function kioskTaps(kiosk, dept) {
	await waitState(kiosk, 'idle', 20000);
	await kiosk.waitForSelector(`button[data-dept="${dept}"]:enabled`, { timeout: 20000 });
	await kiosk.click(`button[data-dept="${dept}"]`);
}

async function endLeg(desk) {
	await desk.click('button[data-action="end"]');
	await waitState(desk, ['idle', 'ringing']);
}

/** The page's one negotiation must be the only one. */
async function assertNoRenegotiation(page, when, { pcs = 1, offers = 1 } = {}) {
	const s = await statsByMid(page);
	assert.deepEqual([s.stats.offersSent, s.stats.pcs, s.stats.negotiationNeeded,
		s.signalingState], [offers, pcs, 0, 'stable'],
	`${when}: [offers sent, PeerConnections, negotiationneeded, signalling] ` +
		`${JSON.stringify(s.stats)}`);
}

/**
 * What one page sends and receives on its camera and mic m-lines, from one getStats():
 * video in (frames, size, bytes), audio energy in, video out (bytes, frames, and the
 * encoder's target: Chromium's targetBitrate, Firefox's cumulative totalEncodedBytesTarget),
 * and the camera's own size (the sending track's settings).
 */
function figures(page) {
	return page.evaluate(async () => {
		const m = window.madoguchi;
		const pc = m.pc;
		const mids = m.mids;
		const r = { at: Date.now(), videoIn: null, audioEnergy: 0, videoOut: null, camera: null };
		const cam = pc.getTransceivers().find((t) => t.mid === mids.camera);
		const settings = cam?.sender.track?.getSettings();
		if (settings)
			r.camera = { width: settings.width, height: settings.height };
		(await pc.getStats()).forEach((s) => {
			if (s.type === 'inbound-rtp' && s.mid === mids.camera)
				r.videoIn = { frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0,
					height: s.frameHeight ?? 0, bytes: s.bytesReceived ?? 0,
					packetsLost: s.packetsLost ?? 0 };
			else if (s.type === 'inbound-rtp' && s.mid === mids.mic)
				r.audioEnergy = s.totalAudioEnergy ?? 0;
			else if (s.type === 'outbound-rtp' && s.mid === mids.camera)
				r.videoOut = { bytes: s.bytesSent ?? 0, frames: s.framesEncoded ?? 0,
					targetBps: s.targetBitrate ?? null,
					targetBytes: s.totalEncodedBytesTarget ?? null,
					limit: s.qualityLimitationReason && s.qualityLimitationReason !== 'none'
						? `${s.qualityLimitationReason} ${s.frameWidth}x${s.frameHeight}` : null };
		});
		return r;
	});
}

const kbps = (bytes, ms) => Math.round((bytes * 8) / ms);

/**
 * Samples both pages every 250 ms from the accept on. Keeps the first sample of each kind
 * of event and counts, for each side, the frames it decoded while the picture had the
 * sender's camera size (both samples around them at that size), and what limited each
 * sender (Chromium's qualityLimitationReason).
 */
class CallWatch {
	constructor(kiosk, desk, acceptAt) {
		this.pages = { kiosk, desk };
		this.acceptAt = acceptAt;
		this.first = {};     // side -> ms from accept to its first decoded frame
		this.full = {};      // side -> ms from accept to the camera's size
		this.atSize = { kiosk: 0, desk: 0 };
		this.limits = { kiosk: new Set(), desk: new Set() };
		this.last = null;
	}

	async sample() {
		const f = { kiosk: await figures(this.pages.kiosk), desk: await figures(this.pages.desk) };
		const ms = Date.now() - this.acceptAt;
		for (const [to, from] of [['kiosk', 'desk'], ['desk', 'kiosk']]) {
			const cam = f[from].camera;
			const at = (x) => x && cam && x.width === cam.width && x.height === cam.height;
			if (this.first[to] === undefined && f[to].videoIn?.frames > 0)
				this.first[to] = ms;
			if (at(f[to].videoIn)) {
				this.full[to] ??= ms;
				if (this.last && at(this.last[to].videoIn))
					this.atSize[to] += f[to].videoIn.frames - this.last[to].videoIn.frames;
			}
			if (f[from].videoOut?.limit)
				this.limits[from].add(f[from].videoOut.limit);
		}
		this.last = f;
		return f;
	}

	/** Samples until done() holds; throws after ms from the accept. */
	async until(done, ms, what) {
		for (;;) {
			const f = await this.sample();
			if (done())
				return f;
			if (Date.now() - this.acceptAt > ms)
				throw new Error(`${what}: not within ${ms} ms of accept: ${JSON.stringify(f)}`);
			await sleep(250);
		}
	}
}

/**
 * Measures a call that was just accepted at acceptAt between kiosk and desk: first frames,
 * the camera's size, then a steady window; asserts both sides decode >= MIN_FRAMES frames at
 * the other's camera size and hear audio, and that the server understood both browsers'
 * RTCP; prints and returns the figures.
 */
async function measureCall(label, kiosk, desk, acceptAt) {
	const w = new CallWatch(kiosk, desk, acceptAt);
	await step(`${label}: both sides decode a first frame`, () => w.until(() =>
		w.first.kiosk !== undefined && w.first.desk !== undefined, FIRST_FRAME_MS,
	'a first frame on both sides'));
	// Both browsers start below the camera's size (libwebrtc picks the first resolution from
	// its start bitrate) and scale up as their estimate grows: the steady window starts once
	// both decode the other's camera at its size.
	await step(`${label}: both sides reach the camera's size`, () => w.until(() =>
		w.full.kiosk !== undefined && w.full.desk !== undefined, FULL_SIZE_MS,
	'the camera\'s size on both sides'));
	const settleEnd = Date.now() + SETTLE_MS;
	await w.until(() => Date.now() >= settleEnd, FULL_SIZE_MS + SETTLE_MS, 'settling');
	const counters0 = await mediaCounters();
	const a = await w.sample();
	a.at = Date.now();
	const windowEnd = a.at + WINDOW_MS;
	const b = await w.until(() => Date.now() >= windowEnd, Infinity, 'the window');
	b.at = Date.now();
	const counters1 = await mediaCounters();
	// An encoder that scaled down for a while (a busy machine, a low estimate) may need
	// longer for its frames at full size.
	const enough = () => w.atSize.kiosk >= MIN_FRAMES && w.atSize.desk >= MIN_FRAMES;
	if (!enough())
		await w.until(enough, Date.now() - acceptAt + EXTRA_MS, 'frames at the camera\'s size')
			.catch(() => {});
	const way = (from, to) => {
		const ms = b.at - a.at;
		const out0 = a[from].videoOut, out1 = b[from].videoOut;
		let targetKbps = null;
		if (out1?.targetBps !== null && out1?.targetBps !== undefined)
			targetKbps = Math.round(out1.targetBps / 1000);
		else if (out1?.targetBytes !== null && out1?.targetBytes !== undefined)
			targetKbps = kbps(out1.targetBytes - out0.targetBytes, ms);
		const frames = (b[to].videoIn?.frames ?? 0) - (a[to].videoIn?.frames ?? 0);
		return {
			frames_in_window: frames,
			frames_at_camera_size: w.atSize[to],
			resolution: `${b[to].videoIn?.width ?? 0}x${b[to].videoIn?.height ?? 0}`,
			camera: `${b[from].camera?.width ?? 0}x${b[from].camera?.height ?? 0}`,
			fps: Math.round(frames * 10000 / ms) / 10,
			recv_kbps: kbps((b[to].videoIn?.bytes ?? 0) - (a[to].videoIn?.bytes ?? 0), ms),
			send_kbps: kbps((out1?.bytes ?? 0) - (out0?.bytes ?? 0), ms),
			encoder_target_kbps: targetKbps,
			sender_limited_by: [...w.limits[from]],
			packets_lost: b[to].videoIn?.packetsLost ?? 0,
			audio_energy_gain: Number((b[to].audioEnergy - a[to].audioEnergy).toFixed(4)),
		};
	};
	const counters = Object.fromEntries(Object.keys(counters1).map((k) =>
		[k, counters1[k] - counters0[k]]));
	const estimates = await downlinkEstimates();
	const result = { test: `firefox-${label}`, accept_to_first_frame_ms: w.first,
		accept_to_camera_size_ms: w.full, window_ms: WINDOW_MS,
		kiosk_to_desk: way('kiosk', 'desk'), desk_to_kiosk: way('desk', 'kiosk'),
		server_downlink_estimate_kbps: { kiosk: estimates[ids[pageName(kiosk)]] ?? null,
			desk: estimates[ids[pageName(desk)]] ?? null },
		server_counters_in_window: counters };
	measure(result);
	const show = JSON.stringify({ a, b });
	for (const [dir, r] of [['kiosk -> desk', result.kiosk_to_desk],
		['desk -> kiosk', result.desk_to_kiosk]]) {
		assert.ok(r.frames_at_camera_size >= MIN_FRAMES, `${label} ${dir}: ` +
			`${r.frames_at_camera_size} frames decoded at the camera's size ${r.camera}\n${show}`);
		assert.ok(r.fps > 5, `${label} ${dir}: ${r.fps} frames/s in the window\n${show}`);
		assert.ok(r.audio_energy_gain > 0, `${label} ${dir}: no audio heard in the window\n` +
			show);
	}
	// Both browsers' RTCP parses, their SRTP authenticates, and their transport-cc feedback
	// reaches the server's downlink estimate.
	assert.equal(counters.rtcp_bad_total, 0, `${label}: malformed RTCP ${JSON.stringify(counters)}`);
	assert.equal(counters.srtp_unprotect_failures_total, 0,
		`${label}: SRTP failures ${JSON.stringify(counters)}`);
	assert.ok(counters.twcc_feedback_received_total > 0,
		`${label}: no transport-cc feedback ${JSON.stringify(counters)}`);
	return result;
}

/** Calls dept from kiosk, accepts on desk; resolves the accept time. */
async function call(kiosk, desk, dept, what) {
	await step(`${what}: the kiosk calls ${dept}`, () => kioskTaps(kiosk, dept));
	return step(`${what}: the desk accepts`, () => acceptOn(desk, null, 30000));
}

/** The audio energy one page receives on its mic m-line. */
async function energyIn(page) {
	return (await figures(page)).audioEnergy;
}

// ---------------------------------------------------------------------------------------

test('Firefox kiosk and Firefox desk; ICE restart and a new PeerConnection', { timeout: 300000 },
	() => guarded('ff-ff', async () => {
		const desk = await openDesk('suzuki', { firefox: true });
		const kiosk = await openKiosk('yamada', stack.tokens.yamada, { firefox: true });
		const acceptAt = await call(kiosk, desk, 'zeimu', 'Firefox + Firefox');
		await step('the kiosk shows suzuki', () => waitOnScreen(kiosk, 'camera', ids.suzuki));
		await measureCall('ff-kiosk-ff-desk', kiosk, desk, acceptAt);
		await step('no renegotiation on either side', async () => {
			await assertNoRenegotiation(kiosk, 'kiosk in the call');
			await assertNoRenegotiation(desk, 'desk in the call');
		});
		await iceRestart(kiosk, desk);
		await newPeerConnection(kiosk, desk);
		await step('suzuki ends the call; the Firefox kiosk rates it', async () => {
			await endLeg(desk);
			await rateAndReturn(kiosk);
		});
	}));

/** An ICE restart on the Firefox kiosk: same PeerConnection and DTLS, new credentials. */
async function iceRestart(kiosk, desk) {
	const kmids = await madoguchi(kiosk, 'mids');
	const dmids = await madoguchi(desk, 'mids');
	const dtls0 = await dtlsHandshakes();
	const logged0 = restartLines(ids.yamada).length;
	const energy0 = await energyIn(kiosk);
	await kiosk.evaluate(() => (window.madoguchi.pc.firefoxTestMark = true));
	const t0 = Date.now();
	const r = await step('kiosk: window.madoguchi.restartIce()', () =>
		kiosk.evaluate(() => window.madoguchi.restartIce()));
	const ms = Date.now() - t0;
	const since = Date.now();
	const frames = await step('both sides decode new frames after the restart', () =>
		Promise.all([waitNewFrames(kiosk, kmids.camera, { since, minNew: 10 }),
			waitNewFrames(desk, dmids.camera, { since, minNew: 10 })]));
	const view = await kiosk.evaluate(async () => {
		const pc = window.madoguchi.pc;
		const report = await pc.getStats();
		let pair = null;
		report.forEach((s) => {
			if (s.type === 'transport' && s.selectedCandidatePairId)
				pair = report.get(s.selectedCandidatePairId);
		});
		return { samePc: pc.firefoxTestMark === true, state: pc.connectionState,
			sdpUfrag: /^a=ice-ufrag:(\S+)/m.exec(pc.localDescription.sdp)?.[1] ?? null,
			pairUfrag: pair ? report.get(pair.localCandidateId)?.usernameFragment ?? null : null };
	});
	const dtls1 = await dtlsHandshakes();
	await sleep(1000);
	const energy1 = await energyIn(kiosk);
	const stats = await madoguchi(kiosk, 'stats');
	measure({ test: 'firefox-ice-restart', outcome: r?.outcome, restart_ms: ms,
		page_restart_ms: r?.ms, first_new_frame_ms: frames.map((f) => f.ms), view,
		dtls_handshakes: [dtls0, dtls1], stats });
	await step('the restart kept the PeerConnection and DTLS, with new credentials', () => {
		assert.equal(r?.outcome, 'restarted', JSON.stringify(r));
		assert.ok(view.samePc, 'window.madoguchi.pc is another object');
		assert.equal(view.state, 'connected');
		assert.equal(stats.pcs, 1, JSON.stringify(stats));
		assert.equal(stats.offersSent, 2, JSON.stringify(stats));
		assert.equal(dtls1, dtls0, 'a new DTLS handshake');
		assert.equal(restartLines(ids.yamada).length, logged0 + 1, 'server log "ice restart"');
		// Firefox names the ufrag of its candidates: the selected pair uses the new one.
		assert.equal(view.pairUfrag, view.sdpUfrag, JSON.stringify(view));
		assert.ok(energy1 > energy0, `no audio after the restart (${energy0} -> ${energy1})`);
	});
}

/** The server's `ice restart` log lines for peer id. */
function restartLines(id) {
	const re = new RegExp(`ice restart"? .*peer=${id}(\\s|$)`);
	return stack.serverLog().split('\n').filter((l) => re.test(l));
}

/**
 * The fallback of a failed ICE restart: the page's next restart offer is refused (as a
 * server that lost the PeerConnection would), so the session makes a new PeerConnection in
 * the same session; the call goes on with a new DTLS handshake.
 */
async function newPeerConnection(kiosk, desk) {
	const dmids = await madoguchi(desk, 'mids');
	const dtls0 = await dtlsHandshakes();
	await kiosk.evaluate(() => {
		const client = window.madoguchi.client;
		const request = client.request.bind(client);
		let refused = false;
		client.request = (type, body) => {
			if (type === 'offer' && !refused) {
				refused = true;
				return Promise.reject(Object.assign(new Error('refused by the test'),
					{ code: 'bad_request' }));
			}
			return request(type, body);
		};
	});
	const t0 = Date.now();
	const r = await step('kiosk: a refused restart falls back to a new PeerConnection', () =>
		kiosk.evaluate(() => window.madoguchi.restartIce()));
	const ms = Date.now() - t0;
	const kmids = await madoguchi(kiosk, 'mids');
	const since = Date.now();
	const frames = await step('both sides decode new frames on the new PeerConnection', () =>
		Promise.all([waitNewFrames(kiosk, kmids.camera, { since, from: 0, minNew: 10,
			timeoutMs: 30000 }),
		waitNewFrames(desk, dmids.camera, { since, minNew: 10, timeoutMs: 30000 })]));
	const energy0 = await energyIn(kiosk);
	await sleep(1500);
	const energy1 = await energyIn(kiosk);
	const dtls1 = await dtlsHandshakes();
	const stats = await madoguchi(kiosk, 'stats');
	measure({ test: 'firefox-new-pc', outcome: r?.outcome, ms, first_new_frame_ms:
		frames.map((f) => f.ms), dtls_handshakes: [dtls0, dtls1], stats });
	await step('a new PeerConnection carries the call', () => {
		assert.equal(r?.outcome, 'replaced', JSON.stringify(r));
		assert.equal(stats.pcs, 2, JSON.stringify(stats));
		assert.equal(dtls1, dtls0 + 1, 'one new DTLS handshake');
		assert.ok(energy1 > energy0, `no audio on the new PeerConnection (${energy0} -> ` +
			`${energy1})`);
	});
}

test('Firefox kiosk and Chromium desk; volume and microphone control', { timeout: 240000 },
	() => guarded('ff-chromium', async () => {
		const kiosk = pages.yamada;
		const desk = await openDesk('sato', { firefox: false });
		const acceptAt = await call(kiosk, desk, 'hoken', 'Firefox kiosk + Chromium desk');
		await measureCall('ff-kiosk-chromium-desk', kiosk, desk, acceptAt);
		await step('sato turns the kiosk\'s volume down to 40 %', async () => {
			await desk.$eval('#kiosk-volume', (el) => {
				el.value = '40';
				el.dispatchEvent(new Event('change'));
			});
			await kiosk.waitForFunction(() =>
				Math.abs(document.querySelector('#remote-audio').volume - 0.4) < 0.01, null,
			{ timeout: 5000 });
		});
		await step('sato mutes and unmutes the kiosk\'s microphone', async () => {
			const gain = async (ms) => {
				const e0 = await energyIn(desk);
				await sleep(ms);
				return (await energyIn(desk)) - e0;
			};
			const open = await gain(2000);
			await desk.click('#kiosk-mic');
			await kiosk.waitForFunction(() => window.madoguchi.pc.getSenders()
				.some((s) => s.track?.kind === 'audio' && s.track.enabled === false), null,
			{ timeout: 5000 });
			await sleep(1000); // what was in flight and in the jitter buffer plays out
			const muted = await gain(2000);
			await desk.click('#kiosk-mic');
			await sleep(1000);
			const reopened = await gain(2000);
			measure({ test: 'firefox-mic-control', energy_gain_2s: { open, muted, reopened } });
			assert.ok(open > 0 && reopened > 0, `sato heard the kiosk: ${open}, ${reopened}`);
			assert.ok(muted < open / 20, `sato still hears the muted kiosk: ${muted} against ` +
				`${open}`);
		});
		await step('sato ends the call', async () => {
			await endLeg(desk);
			await rateAndReturn(kiosk);
		});
	}));

test('one stop with a Firefox kiosk: each clerk without renegotiation', { timeout: 240000 },
	() => guarded('ff-onestop', async () => {
		const kiosk = pages.yamada;
		const kmids = await madoguchi(kiosk, 'mids');
		const offers0 = (await madoguchi(kiosk, 'stats')).offersSent;
		const pcs0 = (await madoguchi(kiosk, 'stats')).pcs;
		await step('the kiosk taps the one-stop menu', async () => {
			await waitState(kiosk, 'idle', 20000);
			await kiosk.click(`button[data-onestop="${MENU.id}"]`, { timeout: 20000 });
		});
		const switches = [];
		try {
			for (const [i, dept] of MENU.itinerary.entries()) {
				const user = dept === 'hoken' ? 'sato' : 'suzuki';
				const desk = pages[user];
				const before = await framesOn(kiosk, kmids.camera);
				const acceptAt = await step(`${dept}: ${user} accepts`, () =>
					acceptOn(desk, null, 30000));
				const first = await step(`${dept}: the kiosk decodes ${user}`, () =>
					waitNewFrames(kiosk, kmids.camera, { since: acceptAt, from: before,
						pollMs: 20, timeoutMs: 30000, what: `kiosk camera after ${user}` }));
				switches.push({ dept, desk: pages[user].browserName ?? 'chromium',
					accept_to_new_frame_ms: first.ms });
				await step(`${dept}: slots name ${user}; ${user} decodes the kiosk`, async () => {
					await waitOnScreen(kiosk, 'camera', ids[user]);
					await waitNewFrames(kiosk, kmids.camera, { minNew: 20 });
					const dm = await madoguchi(desk, 'mids');
					await waitNewFrames(desk, dm.camera, { minNew: 20 });
				});
				await step(`${dept}: no renegotiation`, () => assertNoRenegotiation(kiosk,
					`after ${user} accepted`, { pcs: pcs0, offers: offers0 }));
				await step(`${user} ends the leg`, () => endLeg(desk));
				if (i < MENU.itinerary.length - 1)
					await step(`${user} stops receiving`, async () => {
						await sleep(1000);
						await assertNoMediaFor(desk, 1500, `${user} after its leg`);
					});
			}
			await rateAndReturn(kiosk);
		} finally {
			const ms = switches.map((s) => s.accept_to_new_frame_ms);
			measure({ test: 'firefox-onestop', kiosk: 'firefox', switches,
				median_ms: median(ms), worst_ms: ms.length ? Math.max(...ms) : null });
		}
	}));

test('three-way call with a Firefox desk', { timeout: 240000 },
	() => guarded('ff-three-way', async () => {
		const kiosk = pages.yamada;
		const sato = pages.sato;
		const suzuki = pages.suzuki;
		const kmids = await madoguchi(kiosk, 'mids');
		await call(kiosk, sato, 'hoken', 'three-way');
		await step('the kiosk shows sato', () => waitOnScreen(kiosk, 'camera', ids.sato));
		const visit = await madoguchi(kiosk, 'visit');
		await step('sato invites 税務課, suzuki (Firefox) accepts', async () => {
			await sato.selectOption('#route-dept', 'zeimu');
			await sato.click('button[data-action="invite"]');
			await acceptOn(suzuki, visit, 30000);
		});
		const figs = {};
		await step('the kiosk decodes sato on camera and suzuki on the slot', async () => {
			await waitOnScreen(kiosk, 'slot', ids.suzuki);
			const r = await Promise.all([
				waitNewFrames(kiosk, kmids.camera, { minNew: 30, what: 'kiosk: sato' }),
				waitNewFrames(kiosk, kmids.slotVideo, { minNew: 30, what: 'kiosk: suzuki' })]);
			figs.kiosk = r.map((x) => x.frames);
		});
		await step('suzuki decodes the kiosk on camera and sato on its slot', async () => {
			const dm = await madoguchi(suzuki, 'mids');
			await waitOnScreen(suzuki, 'slot', ids.sato);
			const r = await Promise.all([
				waitNewFrames(suzuki, dm.camera, { minNew: 30, what: 'suzuki: the kiosk' }),
				waitNewFrames(suzuki, dm.slotVideo, { minNew: 30, what: 'suzuki: sato' })]);
			figs.suzuki = r.map((x) => x.frames);
			const s = await statsByMid(suzuki);
			figs.suzukiSizes = [s.mids[dm.camera], s.mids[dm.slotVideo]]
				.map((v) => `${v?.width}x${v?.height}`);
			// The slot's audio (sato) plays on the Firefox desk too.
			const e0 = s.mids[dm.slotAudio]?.audioEnergy ?? 0;
			await sleep(1500);
			const e1 = (await statsByMid(suzuki)).mids[dm.slotAudio]?.audioEnergy ?? 0;
			figs.suzukiSlotAudioGain = e1 - e0;
			assert.ok(e1 > e0, `suzuki does not hear sato on its slot (${e0} -> ${e1})`);
		});
		await step('sato decodes the kiosk and suzuki', async () => {
			const dm = await madoguchi(sato, 'mids');
			await Promise.all([waitNewFrames(sato, dm.camera, { minNew: 20 }),
				waitNewFrames(sato, dm.slotVideo, { minNew: 20, what: 'sato: suzuki' })]);
		});
		measure({ test: 'firefox-three-way', frames: figs });
		await step('no renegotiation', async () => {
			const ks = await madoguchi(kiosk, 'stats');
			await assertNoRenegotiation(kiosk, 'kiosk in the three-way call',
				{ pcs: ks.pcs, offers: ks.offersSent });
			await assertNoRenegotiation(suzuki, 'suzuki in the three-way call');
		});
		await step('suzuki, then sato, end', async () => {
			await endLeg(suzuki);
			if (await madoguchi(sato, 'state') === 'in_call')
				await endLeg(sato);
			await rateAndReturn(kiosk);
		});
	}));

test('Chromium kiosk and Firefox desk; the Firefox desk shares a document', { timeout: 240000 },
	() => guarded('chromium-ff', async () => {
		// Three browsers at most on two cores: the Firefox kiosk and sato are done.
		await browsers.close('yamada');
		await browsers.close('sato');
		const desk = pages.suzuki;
		const kiosk = await openKiosk('takasaki', stack.tokens.takasaki, { firefox: false });
		const kmids = await madoguchi(kiosk, 'mids');
		const acceptAt = await call(kiosk, desk, 'zeimu', 'Chromium kiosk + Firefox desk');
		await measureCall('chromium-kiosk-ff-desk', kiosk, desk, acceptAt);
		await step('suzuki shares a document: the kiosk decodes it', async () => {
			await desk.selectOption('#share-source', 'sample');
			await desk.click('button[data-action="share"]');
			await desk.waitForFunction(() => window.madoguchi.sharing === true);
			const t0 = Date.now();
			await waitOnScreen(kiosk, 'document', ids.suzuki);
			const first = await waitNewFrames(kiosk, kmids.document, { since: t0, minNew: 1,
				timeoutMs: 20000, what: 'kiosk: the shared document' });
			// Like a camera, the new stream starts small and grows to the canvas's size.
			let d = null;
			while (Date.now() - t0 < 30000) {
				d = (await statsByMid(kiosk)).mids[kmids.document];
				if (d?.width === 640 && d?.height === 480)
					break;
				await sleep(250);
			}
			measure({ test: 'firefox-document', click_to_first_frame_ms: first.ms,
				click_to_canvas_size_ms: Date.now() - t0, frames: d?.framesDecoded,
				size: `${d?.width}x${d?.height}` });
			assert.equal(`${d?.width}x${d?.height}`, '640x480',
				'the document at the canvas size within 30 s');
			await assertNoRenegotiation(desk, 'suzuki sharing');
			await desk.click('button[data-action="share"]');
			await kiosk.waitForSelector('#doc-tile', { state: 'hidden' });
		});
		await step('suzuki ends the call', async () => {
			await endLeg(desk);
			await waitState(kiosk, 'ended');
		});
	}));
