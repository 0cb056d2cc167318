// Issue 12, "audio first": 5 % random loss both ways on the kiosk's link during a 1:1 call
// between real Chromium kiosk and desk pages, measured twice: once with audio RED (RFC 2198)
// negotiated, as the server answers by default, and once with the server started with
// `audio-red: false` (plain Opus, the server as it was before). The figure is the kiosk's
// received audio concealment, concealedSamples / totalSamplesReceived of its inbound-rtp
// audio over a 20 s window: with RED it must be below half of what it is without. Both
// figures (and the desk's, for the other direction) are printed as MEASURE lines.
//
// Each run also checks that the answer says what it should (RED listed before Opus, or no
// RED at all) and that RED really flowed through the server (madoguchi_red_received_total),
// so a pass cannot come from two runs that were secretly the same.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertChromium, mediaFigures, step } from '../lib/browser.mjs';
import { fetchMetrics, measure, netFailure, requireNetns, sleep, startNetCall,
	startNetStack } from '../lib/netns.mjs';

await requireNetns();

const LOSS_PCT = 5;
const WINDOW_MS = 20000;
const SETTLE_MS = 3000; // estimates and jitter buffers settle before the loss starts
const BASELINE_MS = 5000;  // the same call without loss, for comparison

/** The audio m-line of the answer the page got, and what its receivers and senders use. */
function audioSide(page) {
	return page.evaluate(async () => {
		const pc = window.madoguchi.pc;
		const sdp = pc.remoteDescription?.sdp ?? '';
		const mline = sdp.split('\r\n').find((l) => l.startsWith('m=audio ')) ?? null;
		const report = await pc.getStats();
		const codecs = new Map();
		report.forEach((s) => {
			if (s.type === 'codec')
				codecs.set(s.id, `${s.mimeType}/${s.payloadType}`);
		});
		const inbound = [], outbound = [];
		const pick = (s, keys) => Object.fromEntries(keys.map((k) => [k, s[k] ?? null]));
		report.forEach((s) => {
			if (s.kind !== 'audio')
				return;
			if (s.type === 'inbound-rtp' && s.packetsReceived > 0)
				inbound.push({ codec: codecs.get(s.codecId) ?? null, ...pick(s, [
					'jitterBufferDelay', 'jitterBufferTargetDelay', 'jitterBufferMinimumDelay',
					'jitterBufferEmittedCount', 'concealmentEvents', 'fecPacketsReceived',
					'fecPacketsDiscarded', 'packetsDiscarded', 'jitter']) });
			else if (s.type === 'outbound-rtp' && s.packetsSent > 0)
				outbound.push({ codec: codecs.get(s.codecId) ?? null,
					...pick(s, ['bytesSent', 'packetsSent', 'targetBitrate']) });
		});
		return { mline, redInAnswer: /a=rtpmap:\d+ red\/48000\/2/i.test(sdp), inbound, outbound };
	});
}

/** The page's received audio: the inbound-rtp audio stats with the most packets. */
function audioIn(page) {
	return page.evaluate(async () => {
		const report = await window.madoguchi.pc.getStats();
		let best = null;
		report.forEach((s) => {
			if (s.type === 'inbound-rtp' && s.kind === 'audio' &&
				(!best || s.packetsReceived > best.packetsReceived))
				best = s;
		});
		return best ? JSON.parse(JSON.stringify(best)) : null;
	});
}

const IN_KEYS = ['totalSamplesReceived', 'concealedSamples', 'silentConcealedSamples',
	'concealmentEvents', 'insertedSamplesForDeceleration', 'removedSamplesForAcceleration',
	'packetsLost', 'packetsReceived', 'packetsDiscarded', 'jitterBufferDelay',
	'jitterBufferEmittedCount'];

/** Differences of the inbound audio counters between two snapshots, with the ratio and the
 * mean jitter buffer delay (ms) of the window. */
function window_(a, b) {
	const d = {};
	for (const k of IN_KEYS)
		d[k] = (b?.[k] ?? 0) - (a?.[k] ?? 0);
	d.ratio = d.totalSamplesReceived > 0 ? d.concealedSamples / d.totalSamplesReceived : null;
	d.jitter_buffer_ms = d.jitterBufferEmittedCount > 0
		? Math.round(1000 * d.jitterBufferDelay / d.jitterBufferEmittedCount) : null;
	return d;
}

function concealment(a, b) {
	const samples = (b.audio?.totalSamplesReceived ?? 0) - (a.audio?.totalSamplesReceived ?? 0);
	const concealed = (b.audio?.concealedSamples ?? 0) - (a.audio?.concealedSamples ?? 0);
	return {
		samples, concealed,
		ratio: samples > 0 ? concealed / samples : null,
		packets_lost: (b.audio?.packetsLost ?? 0) - (a.audio?.packetsLost ?? 0),
		packets_received: (b.audio?.packetsReceived ?? 0) - (a.audio?.packetsReceived ?? 0),
	};
}

/** One call with RED on or off; resolves the figures of the window. */
async function run(red) {
	const env = await startNetStack({ config: { 'audio-red': red } });
	let failed = false;
	try {
		const { kiosk, desk } = await startNetCall(env);
		await sleep(SETTLE_MS);
		// A window without loss first: what the machine conceals on its own (a loaded
		// machine's audio threads miss their turn now and then), for the report.
		const [kb, db] = await Promise.all([audioIn(kiosk), audioIn(desk)]);
		await sleep(BASELINE_MS);
		const m0 = await fetchMetrics(env.stack);
		const [k0, d0, ka, da] = await Promise.all([mediaFigures(kiosk), mediaFigures(desk),
			audioIn(kiosk), audioIn(desk)]);
		await env.net.loss(LOSS_PCT);
		// Polled through the window: when concealment grows, by how much, and what else
		// moved then (lost packets, the jitter buffer), to tell loss from other causes.
		const timeline = [];
		const t0 = Date.now();
		let prev = ka;
		while (Date.now() - t0 < WINDOW_MS) {
			await sleep(500);
			const cur = await audioIn(kiosk);
			const d = window_(prev, cur);
			if (d.concealedSamples > 0)
				timeline.push({ t: Date.now() - t0, concealed: d.concealedSamples,
					events: d.concealmentEvents, lost: d.packetsLost,
					jb_ms: d.jitter_buffer_ms, accel: d.removedSamplesForAcceleration,
					decel: d.insertedSamplesForDeceleration });
			prev = cur;
		}
		const [k1, d1, kz, dz] = await Promise.all([mediaFigures(kiosk), mediaFigures(desk),
			audioIn(kiosk), audioIn(desk)]);
		await env.net.loss(0);
		const m1 = await fetchMetrics(env.stack);
		const [kSide, dSide] = await Promise.all([audioSide(kiosk), audioSide(desk)]);
		const counter = (n) => m1.sum(`madoguchi_${n}`) - m0.sum(`madoguchi_${n}`);
		const out = {
			red,
			kiosk: concealment(k0, k1),
			desk: concealment(d0, d1),
			kiosk_detail: { no_loss: window_(kb, ka), loss: window_(ka, kz), timeline },
			desk_detail: { no_loss: window_(db, da), loss: window_(da, dz) },
			kiosk_audio: kSide,
			desk_audio: dSide,
			server: { red_received: counter('red_received_total'),
				red_unwrapped: counter('red_unwrapped_total'),
				red_dropped: counter('red_dropped_total'),
				rtp_forwarded: counter('rtp_forwarded_total') },
		};
		measure({ test: 'red', loss_pct_each_way: LOSS_PCT, window_s: WINDOW_MS / 1000,
			...out });
		await step(`the answers ${red ? 'list RED before Opus' : 'carry no RED'}`, () => {
			for (const [side, s] of [['kiosk', kSide], ['desk', dSide]]) {
				assert.equal(s.redInAnswer, red, `${side}: ${s.mline}`);
				if (red)
					assert.match(s.mline, /^m=audio \d+ \S+ 63 111$/, `${side}: ${s.mline}`);
			}
		});
		await step(red ? 'RED flowed through the server, none dropped'
			: 'no RED reached the server', () => {
			if (red) {
				assert.ok(out.server.red_received > 0, JSON.stringify(out.server));
				assert.equal(out.server.red_dropped, 0, JSON.stringify(out.server));
			} else {
				assert.equal(out.server.red_received, 0, JSON.stringify(out.server));
			}
		});
		await step('the loss was real and audio kept playing', () => {
			assert.ok(out.kiosk.samples > 0.5 * 48000 * WINDOW_MS / 1000,
				`the kiosk played ${out.kiosk.samples} samples in ${WINDOW_MS / 1000} s`);
			assert.ok(out.kiosk.packets_received > 0);
		});
		return out;
	} catch (err) {
		failed = true;
		throw await netFailure(env, err);
	} finally {
		await env.close({ failed });
	}
}

test(`${LOSS_PCT} % loss on the kiosk's link: audio concealment with RED is below half of ` +
	'without', { timeout: 240000 }, async () => {
	assertChromium();
	const withRed = await run(true);
	const without = await run(false);
	const ratio = (x) => Number((x ?? NaN).toFixed(5));
	measure({ test: 'red_summary', loss_pct_each_way: LOSS_PCT,
		kiosk_concealment_with_red: ratio(withRed.kiosk.ratio),
		kiosk_concealment_without_red: ratio(without.kiosk.ratio),
		desk_concealment_with_red: ratio(withRed.desk.ratio),
		desk_concealment_without_red: ratio(without.desk.ratio) });
	await step('without RED the loss shows as concealment', () => {
		assert.ok(without.kiosk.ratio > 0.01, `kiosk concealment without RED ${without.kiosk.ratio}` +
			': the loss did not reach the audio, so the comparison means nothing');
	});
	await step('with RED the kiosk conceals less than half as much', () => {
		assert.ok(withRed.kiosk.ratio < without.kiosk.ratio / 2,
			`with RED ${withRed.kiosk.ratio}, without ${without.kiosk.ratio}`);
	});
});
