// The network tests' infrastructure itself (tests/lib/netns.mjs): the namespace's link
// carries traffic, a cut stops it and restore brings it back, random loss drops about the
// share asked for, the UDP block stops UDP but not TCP, and a plain call between a kiosk
// inside the namespace and a desk outside it decodes video and plays audio both ways over
// the veth addresses.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { assertChromium, mediaFigures, step } from '../lib/browser.mjs';
import { measure, netFailure, requireNetns, sleep, startNetCall, startNetStack } from
	'../lib/netns.mjs';

await requireNetns();

let env;
let failed = false;

before(async () => {
	assertChromium();
	env = await startNetStack();
});

after(async () => {
	await env?.close({ failed });
});

// A UDP echo on the host end of the veth, and a probe run inside the namespace that sends
// datagrams to it and counts the echoes (this machine has no ping; UDP is what media uses).
let echo;

async function startEcho() {
	echo = dgram.createSocket('udp4');
	echo.on('message', (msg, from) => echo.send(msg, from.port, from.address));
	await new Promise((resolve) => echo.bind(0, env.net.hostIp, resolve));
}

const PROBE = `
const dgram = require('node:dgram');
const [host, port, count, gapMs] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let got = 0;
s.on('message', () => got++);
let i = 0;
const t = setInterval(() => {
	if (i++ >= Number(count)) {
		clearInterval(t);
		setTimeout(() => { console.log(got); s.close(); }, 300);
		return;
	}
	s.send(Buffer.from('x'), Number(port), host);
}, Number(gapMs));
`;

/** How many of count datagrams from the namespace to the host end come back. */
async function echoes(count, gapMs = 5) {
	const out = await env.net.exec(process.execPath, '-e', PROBE, env.net.hostIp,
		String(echo.address().port), String(count), String(gapMs));
	return Number(out.trim());
}

/** Whether a TCP connection from the namespace to the server's HTTP port opens. */
async function tcpOpens() {
	const out = await env.net.exec(process.execPath, '-e', `
const s = require('node:net').connect(${env.stack.port}, '${env.net.hostIp}');
s.setTimeout(1500, () => { console.log('no'); s.destroy(); });
s.on('connect', () => { console.log('yes'); s.destroy(); });
s.on('error', () => console.log('no'));`);
	return out.trim() === 'yes';
}

test('the link: cut, restore, random loss and the UDP block', async () => {
	await startEcho();
	try {
		assert.equal(await echoes(5), 5, 'echoes over a clean link');
		await env.net.cut();
		assert.equal(await echoes(5), 0, 'echoes over a cut link');
		assert.equal(await tcpOpens(), false, 'TCP over a cut link');
		await env.net.restore();
		assert.equal(await echoes(5), 5, 'echoes after restore');
		// 20 % each way loses 36 % of round trips; 400 datagrams bound it well.
		await env.net.loss(20);
		const got = await echoes(400, 2);
		await env.net.loss(0);
		const lost = 1 - got / 400;
		measure({ test: 'link', round_trip_loss_at_20pct_each_way: Number(lost.toFixed(3)) });
		assert.ok(lost > 0.26 && lost < 0.46, `round-trip loss ${lost} at 20 % each way`);
		await env.net.blockUdp();
		assert.equal(await echoes(5), 0, 'UDP echoes with UDP blocked');
		assert.match(await env.net.describe(), /meta l4proto udp drop/);
		assert.equal(await tcpOpens(), true, 'TCP with UDP blocked');
		await env.net.blockUdp(false);
		assert.equal(await echoes(5), 5, 'echoes with the UDP block lifted');
	} finally {
		echo.close();
	}
});

test('a call from the namespace: both sides decode video and hear audio', { timeout: 90000 },
	async () => {
		const { net } = env;
		try {
			const call = await startNetCall(env);
			await sleep(3000);
			const [k, d] = await Promise.all([mediaFigures(call.kiosk),
				mediaFigures(call.desk)]);
			measure({ test: 'link-call', accept_to_first_frame_ms: call.firstFrameMs,
				kiosk_pair: k.pair, desk_pair: { local: d.pair?.local, remote: d.pair?.remote },
				frames: { kiosk: k.video.framesDecoded, desk: d.video.framesDecoded },
				kiosk_send_target_kbps: Math.round(k.outVideo.targetBitrate / 1000),
				desk_send_target_kbps: Math.round(d.outVideo.targetBitrate / 1000) });
			await step('the kiosk talks to the server over the veth', () => {
				assert.equal(k.pair?.local?.address, net.nsIp, JSON.stringify(k.pair));
				assert.equal(k.pair?.remote?.address, net.hostIp, JSON.stringify(k.pair));
				assert.equal(k.pair?.local?.protocol, 'udp');
			});
			for (const [side, s] of [['kiosk', k], ['desk', d]]) {
				assert.ok(s.video.framesDecoded >= 60, `${side} frames ${s.video.framesDecoded}`);
				assert.ok(s.video.width >= 320, `${side} width ${s.video.width}`);
				assert.ok(s.audio?.totalAudioEnergy > 0, `${side} hears no audio`);
			}
		} catch (err) {
			failed = true;
			throw await netFailure(env, err);
		}
	});
