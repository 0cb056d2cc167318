// Issue 5, network test 1: 5 % random loss both ways on the kiosk's link for 30 s during a
// call. Video must keep decoding on both sides through the whole window (with the freezes
// getStats counts reported and bounded), audio must keep flowing, and the server must both
// repair the kiosk's lossy uplink (NACKs to the kiosk, retransmissions from it) and answer
// the kiosk's NACKs for its lossy downlink from its retransmission cache: its /metrics
// counters for all four are non-zero.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertChromium, mediaFigures, step } from '../lib/browser.mjs';
import { diffCounters, fetchMetrics, measure, mediaCounters, netFailure, requireNetns, sleep,
	startNetCall, startNetStack } from '../lib/netns.mjs';

await requireNetns();

const LOSS_PCT = 5;
const WINDOW_MS = 30000;
const SLICE_MS = 5000;         // frames must grow within every slice of the window
const MAX_FREEZE_S = 10;       // total freeze duration per side over the window

let env;
let failed = false;

before(async () => {
	assertChromium();
	env = await startNetStack();
});

after(async () => {
	await env?.close({ failed });
});

/** Differences of the getStats figures of one side between two samples. */
function delta(a, b) {
	const v = (s, k) => s?.video?.[k] ?? 0;
	const au = (s, k) => s?.audio?.[k] ?? 0;
	const o = (s, k) => s?.outVideo?.[k] ?? 0;
	return {
		frames_decoded: v(b, 'framesDecoded') - v(a, 'framesDecoded'),
		freeze_count: v(b, 'freezeCount') - v(a, 'freezeCount'),
		freeze_s: Number((v(b, 'totalFreezesDuration') - v(a, 'totalFreezesDuration')).toFixed(3)),
		video_packets_lost: v(b, 'packetsLost') - v(a, 'packetsLost'),
		video_packets_received: v(b, 'packetsReceived') - v(a, 'packetsReceived'),
		nacks_sent: v(b, 'nackCount') - v(a, 'nackCount'),
		plis_sent: v(b, 'pliCount') - v(a, 'pliCount'),
		audio_packets_lost: au(b, 'packetsLost') - au(a, 'packetsLost'),
		audio_samples: au(b, 'totalSamplesReceived') - au(a, 'totalSamplesReceived'),
		audio_concealed: au(b, 'concealedSamples') - au(a, 'concealedSamples'),
		audio_energy: Number((au(b, 'totalAudioEnergy') - au(a, 'totalAudioEnergy')).toFixed(4)),
		rtx_packets_sent: o(b, 'retransmittedPacketsSent') - o(a, 'retransmittedPacketsSent'),
		nacks_received: o(b, 'nackCount') - o(a, 'nackCount'),
		send_kbps: Math.round(((o(b, 'bytesSent') - o(a, 'bytesSent')) * 8) / (b.at - a.at)),
	};
}

test(`${LOSS_PCT} % loss both ways for ${WINDOW_MS / 1000} s: video and audio go on, the ` +
	'server repairs both directions', { timeout: 120000 }, async () => {
	const { net, stack } = env;
	try {
		const { kiosk, desk } = await startNetCall(env);
		await sleep(3000); // let the bandwidth estimates settle before the loss starts
		const m0 = mediaCounters(await fetchMetrics(stack));
		const [k0, d0] = await Promise.all([mediaFigures(kiosk), mediaFigures(desk)]);
		await net.loss(LOSS_PCT);
		const start = Date.now();
		const slices = []; // per slice: frames decoded and audio samples on each side
		let prevK = k0, prevD = d0, k = k0, d = d0;
		let sliceEnd = start + SLICE_MS;
		while (Date.now() < start + WINDOW_MS) {
			await sleep(Math.max(0, Math.min(sliceEnd, start + WINDOW_MS) - Date.now()));
			[k, d] = await Promise.all([mediaFigures(kiosk), mediaFigures(desk)]);
			slices.push({
				kiosk_frames: k.video.framesDecoded - prevK.video.framesDecoded,
				desk_frames: d.video.framesDecoded - prevD.video.framesDecoded,
				kiosk_audio_samples: k.audio.totalSamplesReceived -
					prevK.audio.totalSamplesReceived,
				desk_audio_samples: d.audio.totalSamplesReceived -
					prevD.audio.totalSamplesReceived,
			});
			prevK = k;
			prevD = d;
			sliceEnd += SLICE_MS;
		}
		await net.loss(0);
		const m1 = mediaCounters(await fetchMetrics(stack));
		const server = diffCounters(m0, m1);
		const kiosk_ = delta(k0, k), desk_ = delta(d0, d);
		measure({ test: 'loss', loss_pct_each_way: LOSS_PCT, window_s: WINDOW_MS / 1000,
			kiosk: kiosk_, desk: desk_, slices, server_counters: server,
			server_counters_total: m1, kiosk_rtt_s: k.pair?.currentRoundTripTime ?? null });

		await step('video keeps decoding on both sides through the window', () => {
			for (const [i, s] of slices.entries()) {
				assert.ok(s.kiosk_frames > 0, `the kiosk decoded no frame in slice ${i} ` +
					`(${i * SLICE_MS / 1000}-${(i + 1) * SLICE_MS / 1000} s)`);
				assert.ok(s.desk_frames > 0, `the desk decoded no frame in slice ${i}`);
			}
			for (const [side, x] of [['kiosk', kiosk_], ['desk', desk_]])
				assert.ok(x.freeze_s < MAX_FREEZE_S, `${side} froze ${x.freeze_s} s ` +
					`(${x.freeze_count} freezes) in ${WINDOW_MS / 1000} s`);
		});
		await step('audio keeps flowing on both sides', () => {
			for (const [i, s] of slices.entries()) {
				assert.ok(s.kiosk_audio_samples > 0, `the kiosk got no audio in slice ${i}`);
				assert.ok(s.desk_audio_samples > 0, `the desk got no audio in slice ${i}`);
			}
			assert.ok(kiosk_.audio_energy > 0 && desk_.audio_energy > 0, 'no audio energy');
		});
		await step('the loss was real: the kiosk lost packets and sent NACKs', () => {
			assert.ok(kiosk_.video_packets_lost > 0 || kiosk_.nacks_sent > 0,
				'the kiosk saw no loss at all: is the nftables rule in place?');
			assert.ok(kiosk_.nacks_sent > 0, 'the kiosk sent no NACK (inbound nackCount)');
		});
		await step('the server repairs the kiosk\'s uplink: NACKs to it, retransmissions ' +
			'from it', () => {
			assert.ok(m1.nack_sent_total !== null, 'no madoguchi_nack_sent_total in /metrics');
			assert.ok(server.nack_sent_total > 0, 'madoguchi_nack_sent_total did not grow');
			assert.ok(m1.rtx_received_total !== null,
				'no madoguchi_rtx_received_total in /metrics');
			assert.ok(server.rtx_received_total > 0,
				'madoguchi_rtx_received_total did not grow');
			assert.ok(kiosk_.rtx_packets_sent > 0,
				'the kiosk retransmitted nothing (outbound retransmittedPacketsSent)');
		});
		await step('the server answers the kiosk\'s NACKs from its cache', () => {
			assert.ok(m1.nack_received_total !== null,
				'no madoguchi_nack_received_total in /metrics');
			assert.ok(server.nack_received_total > 0,
				'madoguchi_nack_received_total did not grow');
			assert.ok(m1.rtx_sent_total !== null, 'no madoguchi_rtx_sent_total in /metrics');
			assert.ok(server.rtx_sent_total > 0, 'madoguchi_rtx_sent_total did not grow');
		});
	} catch (err) {
		failed = true;
		throw await netFailure(env, err);
	}
});
