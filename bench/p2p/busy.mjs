// Chromium peer to peer on this machine, the yardstick for tests/network/simulcast.test.mjs:
// clerk A's busy picture (640x480 random 32 px blocks redrawn at 30 fps, the same canvas as
// the test) sent straight to another Chromium, no server in between, with a third Chromium
// showing the fake camera to itself to load the machine as the test's third page does.
// Prints, over a 15 s window after a 20 s ramp, what the receiver decodes (resolution, fps)
// and what the sender's congestion control allows (availableOutgoingBitrate), as a MEASURE
// line. Run on a quiet machine: node bench/p2p/busy.mjs [--ramp-ms N] [--window-ms N]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumArgs } from '../../tests/lib/browser.mjs';

const arg = (name, def) => {
	const i = process.argv.indexOf(name);
	return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RAMP_MS = arg('--ramp-ms', 20000);
const WINDOW_MS = arg('--window-ms', 15000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mdg-p2p-'));
// getUserMedia needs a secure context: an empty page from localhost.
const server = http.createServer((req, res) => res.end('<!doctype html><title>p2p</title>'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://localhost:${server.address().port}/`;
const contexts = [];
async function open(name) {
	const ctx = await chromium.launchPersistentContext(path.join(tmp, name), {
		executablePath: CHROMIUM, ignoreDefaultArgs: ['--headless', '--mute-audio'],
		args: chromiumArgs({ fps: 30 }), permissions: ['camera', 'microphone'],
		viewport: { width: 1280, height: 800 },
	});
	contexts.push(ctx);
	const page = ctx.pages()[0] ?? await ctx.newPage();
	await page.goto(origin);
	return page;
}

const busy = () => {
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
	window.track = canvas.captureStream(30).getVideoTracks()[0];
};

try {
	const [a, b, c] = [await open('a'), await open('b'), await open('c')];
	await a.evaluate(busy);
	// The third page: a camera shown to itself, as the kiosk's page would load the machine.
	await c.evaluate(async () => {
		const v = document.createElement('video');
		v.autoplay = true;
		v.muted = true;
		v.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
		document.body.append(v);
	});
	// Signalling by hand: A offers, B answers, candidates go through node.
	await a.evaluate(() => {
		window.pc = new RTCPeerConnection();
		window.pc.addTransceiver(window.track, { direction: 'sendonly' });
		window.cands = [];
		window.pc.onicecandidate = (e) => e.candidate && window.cands.push(e.candidate.toJSON());
	});
	await b.evaluate(() => {
		window.pc = new RTCPeerConnection();
		window.cands = [];
		window.pc.onicecandidate = (e) => e.candidate && window.cands.push(e.candidate.toJSON());
		window.pc.ontrack = (e) => {
			const v = document.createElement('video');
			v.autoplay = true;
			v.muted = true;
			v.width = 640;
			v.srcObject = new MediaStream([e.track]);
			document.body.append(v);
		};
	});
	const offer = await a.evaluate(async () => {
		await window.pc.setLocalDescription();
		return window.pc.localDescription.toJSON();
	});
	const answer = await b.evaluate(async (o) => {
		await window.pc.setRemoteDescription(o);
		await window.pc.setLocalDescription();
		return window.pc.localDescription.toJSON();
	}, offer);
	await a.evaluate((x) => window.pc.setRemoteDescription(x), answer);
	await new Promise((r) => setTimeout(r, 1000));
	for (const [from, to] of [[a, b], [b, a]])
		for (const cand of await from.evaluate(() => window.cands))
			await to.evaluate((x) => window.pc.addIceCandidate(x), cand);

	const sample = async () => {
		const rx = await b.evaluate(async () => {
			let out = {};
			(await window.pc.getStats()).forEach((r) => {
				if (r.type === 'inbound-rtp' && r.kind === 'video')
					out = { width: r.frameWidth ?? 0, height: r.frameHeight ?? 0,
						frames: r.framesDecoded ?? 0, bytes: r.bytesReceived ?? 0 };
			});
			return out;
		});
		const avail = await a.evaluate(async () => {
			let v = 0;
			(await window.pc.getStats()).forEach((r) => {
				if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate)
					v = r.availableOutgoingBitrate;
			});
			return v;
		});
		return { at: Date.now(), ...rx, avail };
	};
	await new Promise((r) => setTimeout(r, RAMP_MS));
	const first = await sample();
	const avails = [];
	let last = first;
	while (Date.now() - first.at < WINDOW_MS) {
		await new Promise((r) => setTimeout(r, 3000));
		last = await sample();
		avails.push(Math.round(last.avail / 1000));
	}
	const s = (last.at - first.at) / 1000;
	console.log('MEASURE ' + JSON.stringify({ bench: 'p2p-busy', ramp_ms: RAMP_MS,
		receiver_sees: `${last.width}x${last.height}`,
		fps: Math.round((last.frames - first.frames) / s * 10) / 10,
		kbps: Math.round((last.bytes - first.bytes) * 8 / s / 1000),
		sender_available_kbps: avails, load: os.loadavg().map((x) => x.toFixed(2)) }));
} finally {
	for (const ctx of contexts)
		await ctx.close().catch(() => {});
	fs.rmSync(tmp, { recursive: true, force: true });
	server.close();
}
