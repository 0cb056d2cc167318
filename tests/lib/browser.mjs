// Headless Chromium for the browser tests: launch flags (shared/NOTES.md "Real browsers as
// WebRTC clients"), one persistent context per page, step names in errors, failure reports
// with screenshots and the pages' console, and getStats() helpers keyed by mid.
//
//   const browsers = new Browsers(stack);
//   const kiosk = await browsers.open('kiosk', `${stack.url}/kiosk/#token=...`);
//   ...
//   catch (err) { throw await browsers.failure(err); }
//   finally { await browsers.closeAll(); }

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { sleep } from './harness.mjs';

export const CHROMIUM = process.env.MADOGUCHI_CHROMIUM || '/usr/bin/chromium';

/** Chromium's command line; fps is the fake camera's frame rate (its default is 20). */
export function chromiumArgs({ fps = 30 } = {}) {
	return [
		'--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
		`--use-fake-device-for-media-stream=fps=${fps}`, '--use-fake-ui-for-media-stream',
		'--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
		// The remote audio must play (unmuted) for totalAudioEnergy to count.
		'--autoplay-policy=no-user-gesture-required',
	];
}

export function assertChromium() {
	assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found (deploy/install-deps.sh installs ` +
		'chromium; or set MADOGUCHI_CHROMIUM)');
}

/** Runs a step; on failure names the step in the error. */
export async function step(what, fn) {
	try {
		return await fn();
	} catch (err) {
		// A new error: the runner prints the stack, which an edited message does not change.
		throw new Error(`${what}: ${err.message}`, { cause: err });
	}
}

/** A desk page's URL with ?blur=off unless blur is true: the tests of everything but the
 * blur (tests/browser/blur.test.mjs) run without it, since on a machine without a GPU its
 * model runs in software WebGL and takes the CPU whose frame rates those tests measure. */
export function deskUrl(url, blur) {
	if (blur || typeof url !== 'string' || !/\/desk\/(\?|#|$)/.test(url))
		return url;
	const u = new URL(url);
	if (!u.searchParams.has('blur'))
		u.searchParams.set('blur', 'off');
	return u.toString();
}

/** The Chromium pages of one test file, each in its own browser process and profile. */
export class Browsers {
	constructor(stack, { fps = 30 } = {}) {
		this.stack = stack;
		this.fps = fps;
		this.list = []; // {name, ctx, page}
		this.logs = [];
	}

	/** Opens url in a new Chromium. With netns, that Chromium runs inside the named network
	 * namespace (tests/lib/netns.mjs): playwright drives it over a pipe, so only its page
	 * and media traffic go through the namespace's link. args: more Chromium flags (e.g. a
	 * --use-file-for-fake-video-capture camera). */
	async open(name, url, { viewport = { width: 1280, height: 800 }, netns = null, args = [],
		blur = false } = {}) {
		url = deskUrl(url, blur);
		const profile = fs.mkdtempSync(path.join(this.stack.tmp, `chromium-${name}-`));
		let executablePath = CHROMIUM;
		if (netns) {
			if (!/^[\w.-]+$/.test(netns))
				throw new Error(`not a namespace name: ${netns}`);
			executablePath = path.join(this.stack.tmp, `chromium-in-${netns}.sh`);
			fs.writeFileSync(executablePath, '#!/bin/sh\n' +
				`exec ip netns exec ${netns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
		}
		const ctx = await chromium.launchPersistentContext(profile, {
			executablePath,
			ignoreDefaultArgs: ['--headless', '--mute-audio'],
			args: [...chromiumArgs({ fps: this.fps }), ...args],
			ignoreHTTPSErrors: true,
			permissions: ['camera', 'microphone'],
			viewport,
			timeout: 30000,
		});
		const page = ctx.pages()[0] ?? await ctx.newPage();
		page.on('console', (m) => this.logs.push(`[${name}] ${m.type()}: ${m.text()}`));
		page.on('pageerror', (e) => this.logs.push(`[${name}] pageerror: ${e.message}`));
		this.list.push({ name, ctx, page });
		await page.goto(url, { waitUntil: 'load', timeout: 15000 });
		return page;
	}

	/** Closes one page's browser (to keep at most four Chromiums on a 2-core machine). */
	async close(name) {
		const i = this.list.findIndex((b) => b.name === name);
		if (i < 0)
			return;
		const [b] = this.list.splice(i, 1);
		await b.ctx.close().catch(() => {});
	}

	/** With MADOGUCHI_SCREENSHOTS=DIR, saves a screenshot of page name to DIR/name-what.png,
	 * for looking at the screens; does nothing otherwise. */
	async shot(name, what) {
		const dir = process.env.MADOGUCHI_SCREENSHOTS;
		const b = this.list.find((x) => x.name === name);
		if (!dir || !b)
			return;
		fs.mkdirSync(dir, { recursive: true });
		await b.page.screenshot({ path: path.join(dir, `${name}-${what}.png`), timeout: 5000 })
			.catch(() => {});
	}

	async closeAll() {
		for (const b of this.list)
			await b.ctx.close().catch(() => {});
		this.list = [];
	}

	/** Screenshots of every page into dir (default the stack's temp dir); returns the paths. */
	async screenshots(suffix, dir = this.stack.tmp) {
		const shots = [];
		for (const b of this.list) {
			const file = path.join(dir, `${b.name}-${suffix}.png`);
			try {
				await b.page.screenshot({ path: file, timeout: 5000 });
				shots.push(file);
			} catch (e) {
				shots.push(`(${b.name}: no screenshot: ${e.message})`);
			}
		}
		return shots;
	}

	/** The error to throw for a failed test: the cause plus screenshots, console and log. */
	async failure(err, label = 'failure') {
		const shots = await this.screenshots(label);
		return new Error(`${err.message}\nscreenshots: ${shots.join(', ')}` +
			`\npage console (last 60 lines):\n${this.logs.slice(-60).join('\n')}` +
			`\nserver log (last 80 lines):\n${this.stack.serverLog().split('\n').slice(-80)
				.join('\n')}`, { cause: err });
	}
}

/** Logs a desk (or coordinator) page in; presses 受付可 when available is true. The desk's
 * background blur (on by default) is switched off unless blur is true: without a GPU, as on
 * this machine, its model runs in software WebGL and costs the other pages of a test the CPU
 * their frame rates are measured with (tests/browser/blur.test.mjs tests the blur itself). */
export async function loginStaff(page, username, password, { available = true, blur = false } = {}) {
	await page.fill('#username', username, { timeout: 15000 });
	await page.fill('#password', password);
	await page.click('button#login');
	if (!blur && await page.evaluate(() => !!document.querySelector('#blur'))) {
		// As the switch does, but whenever the page is ready for it: a click landing while the
		// page was still starting its session (Firefox under load) was lost.
		await page.waitForFunction(() => window.madoguchi?.blurModule?.camera, null,
			{ timeout: 15000 });
		await page.evaluate(() => window.madoguchi.blurModule.setEnabled(false));
		await page.waitForFunction(() => !document.querySelector('#blur').checked, null,
			{ timeout: 5000 });
	}
	if (available)
		await page.click('button[data-action="available"]', { timeout: 15000 });
}

/** Waits until the page's window.madoguchi.state is one of states. */
export function waitState(page, states, timeout = 15000) {
	const list = Array.isArray(states) ? states : [states];
	return page.waitForFunction((l) => l.includes(window.madoguchi?.state), list, { timeout });
}

/**
 * One getStats() of window.madoguchi.pc, by mid: {at, mids: {mid: {kind, framesDecoded,
 * bytesReceived, packetsReceived, width, height, audioEnergy}}, out: {mid: {kind, bytesSent}},
 * stats (the page's counters), state, visit}. null when there is no PeerConnection yet.
 */
export function statsByMid(page) {
	return page.evaluate(async () => {
		const m = window.madoguchi;
		if (!m || !m.pc)
			return null;
		const pc = m.pc;
		const midOfTrack = new Map();
		for (const tr of pc.getTransceivers()) {
			if (tr.mid !== null) {
				midOfTrack.set(tr.receiver.track.id, tr.mid);
				if (tr.sender.track)
					midOfTrack.set(`out:${tr.sender.track.id}`, tr.mid);
			}
		}
		const report = await pc.getStats();
		const mids = {};
		const out = {};
		const byId = new Map();
		report.forEach((s) => byId.set(s.id, s));
		report.forEach((s) => {
			if (s.type === 'inbound-rtp') {
				const mid = s.mid ?? midOfTrack.get(s.trackIdentifier) ?? `ssrc${s.ssrc}`;
				mids[mid] = { kind: s.kind, framesDecoded: s.framesDecoded ?? 0,
					bytesReceived: s.bytesReceived ?? 0, packetsReceived: s.packetsReceived ?? 0,
					width: s.frameWidth ?? 0, height: s.frameHeight ?? 0,
					audioEnergy: s.totalAudioEnergy ?? 0 };
			} else if (s.type === 'outbound-rtp') {
				const src = byId.get(s.mediaSourceId);
				const mid = s.mid ?? (src ? midOfTrack.get(`out:${src.trackIdentifier}`) : null) ??
					`ssrc${s.ssrc}`;
				out[mid] = { kind: s.kind, bytesSent: s.bytesSent ?? 0,
					framesEncoded: s.framesEncoded ?? 0 };
			}
		});
		return { at: Date.now(), mids, out, stats: m.stats ?? null, state: m.state ?? null,
			visit: m.visit ?? null, signalingState: pc.signalingState,
			connectionState: pc.connectionState };
	});
}

/** Total bytes received on every inbound RTP stream of the page (audio and video). */
export async function inboundBytes(page) {
	const s = await statsByMid(page);
	if (!s)
		return 0;
	return Object.values(s.mids).reduce((a, m) => a + m.bytesReceived, 0);
}

/** framesDecoded on the page's inbound video of mid (0 when there is none yet). */
export async function framesOn(page, mid) {
	const s = await statsByMid(page);
	return s?.mids[mid]?.framesDecoded ?? 0;
}

/**
 * Polls until the inbound video of mid decodes more frames than it did at the call, at least
 * minNew more; resolves {ms, frames} with ms from `since` (a Date.now()) to the sample that
 * saw the growth. pollMs bounds the measurement's resolution.
 */
export async function waitNewFrames(page, mid, { since = Date.now(), from = null, minNew = 1,
	timeoutMs = 20000, pollMs = 50, what = `video on mid ${mid}` } = {}) {
	const start = from ?? await framesOn(page, mid);
	const deadline = Date.now() + timeoutMs;
	let last = start;
	for (;;) {
		const s = await statsByMid(page);
		const t = Date.now();
		last = s?.mids[mid]?.framesDecoded ?? 0;
		if (last >= start + minNew)
			return { ms: t - since, frames: last };
		if (t > deadline)
			throw new Error(`${what}: no new decoded frame within ${timeoutMs} ms ` +
				`(framesDecoded stayed ${last}, from ${start})`);
		await sleep(pollMs);
	}
}

export function median(list) {
	if (list.length === 0)
		return null;
	const s = [...list].sort((a, b) => a - b);
	const mid = Math.floor(s.length / 2);
	return s.length % 2 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2);
}

// ---------------------------------------------------------------------------------------
// The counter pages (web/kiosk, web/desk, web/coordinator) through window.madoguchi

/** window.madoguchi.<name> of a page (self, visit, mids, stats, lastQueued, ...). */
export function madoguchi(page, name) {
	return page.evaluate((n) => window.madoguchi?.[n] ?? null, name);
}

/** Waits until the page's PeerConnection is negotiated; resolves its mids. */
export async function waitMids(page, timeout = 20000) {
	await page.waitForFunction(() => window.madoguchi?.mids && window.madoguchi?.pc, null,
		{ timeout });
	return madoguchi(page, 'mids');
}

/** Opens desk sato (logged in, available) and the yamada kiosk, calls hoken from the kiosk,
 * accepts on the desk and waits until the kiosk decodes the desk's camera; resolves
 * {desk, kiosk, kmids} (the kiosk's mids). */
export async function startDeskKioskCall(browsers, stack) {
	const desk = await step('desk sato: open, log in, available', async () => {
		const p = await browsers.open('sato', `${stack.url}/desk/`);
		await loginStaff(p, 'sato', stack.logins.sato.password);
		return p;
	});
	const kiosk = await step('open the kiosk page', () =>
		browsers.open('kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`));
	const kmids = await waitMids(kiosk);
	await step('call and accept', async () => {
		await kiosk.waitForSelector('button[data-dept="hoken"]:enabled', { timeout: 20000 });
		await kiosk.click('button[data-dept="hoken"]');
		await acceptOn(desk);
		await waitNewFrames(kiosk, kmids.camera, { minNew: 20 });
	});
	return { desk, kiosk, kmids };
}

/** Waits for the desk's accept button of visit (any visit when null); clicks it and
 * resolves Date.now() taken right before the click. */
export async function acceptOn(desk, visit = null, timeout = 20000) {
	const sel = visit ? `button[data-action="accept"][data-visit="${visit}"]:enabled`
		: 'button[data-action="accept"]:enabled';
	await desk.waitForSelector(sel, { state: 'visible', timeout });
	const at = Date.now();
	await desk.click(sel);
	await waitState(desk, 'in_call');
	return at;
}

/** Waits until the kiosk's slots event says party feeds the video of role ('camera', 'slot'
 * or 'document'). */
export function waitOnScreen(page, role, partyId, timeout = 20000) {
	return page.waitForFunction(([r, id]) => window.madoguchi?.onScreen?.()[r]?.id === id,
		[role, partyId], { timeout });
}

/** Asserts the page receives no media byte over ms (every inbound RTP stream together). */
export async function assertNoMediaFor(page, ms, what) {
	const before = await inboundBytes(page);
	await sleep(ms);
	const after = await inboundBytes(page);
	assert.equal(after, before, `${what}: received ${after - before} media bytes in ${ms} ms`);
	return after;
}

/** Adds a one-stop menu with `madoguchi admin onestop add` (the server reads menus when it
 * starts: see restartServer). */
export async function addOnestopMenu(stack, id, name, itinerary) {
	await stack.admin('onestop', 'add', id, name, '--steps', itinerary.join(','));
}

/**
 * Restarts the stack's server with the arguments startStack gave it, for data the server
 * reads only at start, such as one-stop menus: a clean SIGTERM (asserted to exit 0, which
 * also checks for leaks), then the harness's restartServer().
 */
export async function restartServer(stack) {
	stack.server.kill('SIGTERM');
	assert.ok(await stack.waitServerExit(15000), 'the server did not stop for the restart');
	assert.equal(stack.exit.code, 0, `the server exited ${stack.exit.code} on SIGTERM:\n` +
		stack.serverLog());
	await stack.restartServer();
}

// ---------------------------------------------------------------------------------------
// getStats figures for the network tests

/**
 * The figures of one getStats() of window.madoguchi.pc that the network tests report:
 *   video: the busiest inbound video (the other party's camera): framesDecoded,
 *     freezeCount, totalFreezesDuration (s), packetsLost, packetsReceived, nackCount (NACKs
 *     this browser sent), pliCount, firCount, width, height, bytesReceived, mid
 *   audio: the busiest inbound audio: totalAudioEnergy, totalSamplesReceived,
 *     concealedSamples, packetsLost, packetsReceived
 *   outVideo: outbound video summed over its streams: bytesSent, packetsSent,
 *     retransmittedPacketsSent, retransmittedBytesSent, nackCount (NACKs received),
 *     pliCount, targetBitrate (the largest transceiver's; a simulcast camera's layers summed),
 *     framesEncoded, qualityLimitationReason, width, height (of that transceiver's largest
 *     stream)
 *   outAudio: {bytesSent, packetsSent}
 *   pair: the selected candidate pair: state, availableOutgoingBitrate,
 *     currentRoundTripTime, bytesSent, bytesReceived, local {protocol, address, port,
 *     candidateType, relayProtocol}, remote {protocol, address, port, candidateType, tcpType}
 *   at (Date.now()), state (window.madoguchi.state), connectionState, iceConnectionState.
 * null when the page has no PeerConnection.
 */
export function mediaFigures(page) {
	return page.evaluate(async () => {
		const m = window.madoguchi;
		if (!m || !m.pc)
			return null;
		const pc = m.pc;
		const report = await pc.getStats();
		const byId = new Map();
		report.forEach((s) => byId.set(s.id, s));
		const r = { at: Date.now(), state: m.state ?? null, connectionState: pc.connectionState,
			iceConnectionState: pc.iceConnectionState, video: null, audio: null,
			outVideo: { bytesSent: 0, packetsSent: 0, retransmittedPacketsSent: 0,
				retransmittedBytesSent: 0, nackCount: 0, pliCount: 0, targetBitrate: 0,
				framesEncoded: 0, qualityLimitationReason: null, width: 0, height: 0 },
			outAudio: { bytesSent: 0, packetsSent: 0 }, pair: null };
		let pairId = null;
		const outByMid = new Map(); // mid -> {target (summed over layers), top (largest layer)}
		report.forEach((s) => {
			if (s.type === 'transport' && s.selectedCandidatePairId)
				pairId = s.selectedCandidatePairId;
		});
		report.forEach((s) => {
			if (s.type === 'inbound-rtp' && s.kind === 'video') {
				const v = { mid: s.mid ?? null, framesDecoded: s.framesDecoded ?? 0,
					freezeCount: s.freezeCount ?? 0,
					totalFreezesDuration: s.totalFreezesDuration ?? 0,
					packetsLost: s.packetsLost ?? 0, packetsReceived: s.packetsReceived ?? 0,
					nackCount: s.nackCount ?? 0, pliCount: s.pliCount ?? 0,
					firCount: s.firCount ?? 0, width: s.frameWidth ?? 0,
					height: s.frameHeight ?? 0, bytesReceived: s.bytesReceived ?? 0 };
				if (!r.video || v.framesDecoded > r.video.framesDecoded)
					r.video = v;
			} else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
				const a = { mid: s.mid ?? null, totalAudioEnergy: s.totalAudioEnergy ?? 0,
					totalSamplesReceived: s.totalSamplesReceived ?? 0,
					concealedSamples: s.concealedSamples ?? 0,
					packetsLost: s.packetsLost ?? 0, packetsReceived: s.packetsReceived ?? 0 };
				if (!r.audio || a.packetsReceived > r.audio.packetsReceived)
					r.audio = a;
			} else if (s.type === 'outbound-rtp' && s.kind === 'video') {
				const o = r.outVideo;
				o.bytesSent += s.bytesSent ?? 0;
				o.packetsSent += s.packetsSent ?? 0;
				o.retransmittedPacketsSent += s.retransmittedPacketsSent ?? 0;
				o.retransmittedBytesSent += s.retransmittedBytesSent ?? 0;
				o.nackCount += s.nackCount ?? 0;
				o.pliCount += s.pliCount ?? 0;
				o.framesEncoded += s.framesEncoded ?? 0;
				// Per transceiver: a simulcast camera's layers add up to its encoder's
				// target; its size and limitation are its largest layer's.
				const key = s.mid ?? s.id;
				const t = outByMid.get(key) ?? { target: 0, top: null };
				t.target += s.targetBitrate ?? 0;
				if (!t.top || (s.frameWidth ?? 0) > (t.top.frameWidth ?? 0))
					t.top = s;
				outByMid.set(key, t);
			} else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
				r.outAudio.bytesSent += s.bytesSent ?? 0;
				r.outAudio.packetsSent += s.packetsSent ?? 0;
			}
		});
		// The transceiver with the largest target (without simulcast: the stream with the
		// largest targetBitrate, none when no stream reports one).
		for (const t of outByMid.values())
			if (t.target > r.outVideo.targetBitrate) {
				r.outVideo.targetBitrate = t.target;
				r.outVideo.qualityLimitationReason = t.top.qualityLimitationReason ?? null;
				r.outVideo.width = t.top.frameWidth ?? 0;
				r.outVideo.height = t.top.frameHeight ?? 0;
			}
		const p = pairId ? byId.get(pairId) : null;
		if (p) {
			const cand = (c) => (c ? { protocol: c.protocol, address: c.address ?? c.ip,
				port: c.port, candidateType: c.candidateType, tcpType: c.tcpType ?? null,
				relayProtocol: c.relayProtocol ?? null } : null);
			r.pair = { state: p.state, availableOutgoingBitrate: p.availableOutgoingBitrate ?? 0,
				currentRoundTripTime: p.currentRoundTripTime ?? null,
				bytesSent: p.bytesSent ?? 0, bytesReceived: p.bytesReceived ?? 0,
				local: cand(byId.get(p.localCandidateId)),
				remote: cand(byId.get(p.remoteCandidateId)) };
		}
		return r;
	});
}

/** kbit/s of a byte counter between two samples ({at, ...}) taken by pick(sample). */
export function kbpsBetween(a, b, pick) {
	if (!a || !b || b.at <= a.at)
		return 0;
	return ((pick(b) - pick(a)) * 8) / (b.at - a.at);
}
