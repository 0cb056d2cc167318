// Issue 5, network test 3: every UDP packet to and from the kiosk is dropped (a branch whose
// firewall lets only TCP out). The call must connect over passive ICE-TCP (RFC 6544) on the
// server's media port and carry video and audio both ways; the kiosk's selected candidate
// pair must be TCP, and /metrics must count the ICE-TCP connection.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertChromium, kbpsBetween, mediaFigures, step } from '../lib/browser.mjs';
import { fetchMetrics, measure, mediaCounters, netFailure, requireNetns, sleep, startNetCall,
	startNetStack } from '../lib/netns.mjs';

await requireNetns();

const CONNECT_DEADLINE_MS = 40000; // accept -> 30 frames on both sides
const WATCH_MS = 6000;

let env;
let failed = false;

before(async () => {
	assertChromium();
	env = await startNetStack();
	await env.net.blockUdp();
});

after(async () => {
	await env?.close({ failed });
});

test('UDP blocked for the kiosk: the call runs over ICE-TCP both ways', { timeout: 100000 },
	async () => {
		try {
			const call = await startNetCall(env, { timeoutMs: CONNECT_DEADLINE_MS });
			const [k0, d0] = await Promise.all([mediaFigures(call.kiosk),
				mediaFigures(call.desk)]);
			await sleep(WATCH_MS);
			const [k, d] = await Promise.all([mediaFigures(call.kiosk), mediaFigures(call.desk)]);
			const m = mediaCounters(await fetchMetrics(env.stack));
			const side = (a, b) => ({ frames: b.video.framesDecoded - a.video.framesDecoded,
				freeze_s: Number((b.video.totalFreezesDuration -
					a.video.totalFreezesDuration).toFixed(3)),
				audio_samples: b.audio.totalSamplesReceived - a.audio.totalSamplesReceived,
				send_kbps: Math.round(kbpsBetween(a, b, (x) => x.outVideo.bytesSent)),
				resolution: `${b.video.width}x${b.video.height}` });
			measure({ test: 'tcp', accept_to_first_frame_ms: call.firstFrameMs,
				kiosk_pair: k.pair, kiosk: side(k0, k), desk: side(d0, d),
				ice_tcp_connections_total: m.ice_tcp_connections_total });

			await step('the kiosk\'s selected candidate pair is TCP', () => {
				assert.equal(k.pair?.local?.protocol, 'tcp', JSON.stringify(k.pair));
				assert.equal(k.pair?.remote?.protocol, 'tcp', JSON.stringify(k.pair));
				assert.equal(k.pair?.remote?.address, env.net.hostIp, JSON.stringify(k.pair));
			});
			await step('media flows both ways over it', () => {
				for (const [name, a, b] of [['kiosk', k0, k], ['desk', d0, d]]) {
					const x = side(a, b);
					assert.ok(x.frames >= WATCH_MS / 1000 * 5, `${name} decoded only ` +
						`${x.frames} frames in ${WATCH_MS} ms`);
					assert.ok(x.audio_samples > 0, `${name} got no audio`);
				}
			});
			await step('/metrics counts the ICE-TCP connection', () => {
				assert.ok(m.ice_tcp_connections_total > 0,
					`madoguchi_ice_tcp_connections_total ${m.ice_tcp_connections_total}`);
			});
		} catch (err) {
			failed = true;
			throw await netFailure(env, err);
		}
	});
