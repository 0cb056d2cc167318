// Issue 9 finding 5: ICE-TCP could be locked for everyone. Plain TCP connections to the media
// port, from a few addresses and renewed before their 10 s lease ran out, took every one of
// the server's 256 places, and every branch that needs TCP was refused. PROTOCOL.md
// ("Additions": at most 8 ICE-TCP connections per source address) and the server's answer
// to the rest: when all places are taken, a new connection takes the place of the oldest one
// that has passed no STUN check, so connections that only hold places never keep out a
// client that has credentials.
//
// Real sockets against the real server: Linux routes all of 127/8 to lo, so binding a
// client's local address to 127.0.0.N makes it a different source address for the server.
// The legitimate client is a kiosk that negotiates through the WebSocket protocol and sends
// a real STUN Binding request (RFC 8445, framed as RFC 4571) with the answer's credentials.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { assertOk, ROOT, sleep, startStack, wsClient } from '../lib/harness.mjs';

const PER_ADDRESS = 8;   // PROTOCOL.md, "Additions"
const GLOBAL_CAP = 256;  // server/sfu/tcp.c, TCP_MAX_CONNS
const FIXTURE = path.join(ROOT, 'tests', 'fixtures', 'chromium-156-offer.sdp');

let stack;
const sockets = new Set(); // every client socket, destroyed after each test

before(async () => {
	stack = await startStack({ tls: false });
});

after(async () => {
	for (const s of sockets)
		s.destroy();
	await stack?.stop();
});

// ---------------------------------------------------------------------------------------
// TCP clients

/** Connects from localAddress to the media port; resolves the socket once connected. The
 * socket's `closedAt` is set when the server ends or resets it. */
function connectFrom(localAddress) {
	return new Promise((resolve, reject) => {
		const sock = net.connect({ host: '127.0.0.1', port: stack.mediaPort, localAddress });
		sockets.add(sock);
		sock.closedAt = null;
		sock.rx = Buffer.alloc(0);
		sock.on('data', (d) => { sock.rx = Buffer.concat([sock.rx, d]); });
		sock.on('error', () => {}); // a reset is a close, seen below
		sock.on('close', () => { sock.closedAt ??= Date.now(); });
		sock.once('connect', () => resolve(sock));
		sock.once('error', (err) => { if (!sock.connecting) return; reject(err); });
	});
}

function isClosed(sock) {
	return sock.closedAt !== null;
}

/** Resolves true once sock is closed by the server, false after ms. */
async function closedWithin(sock, ms) {
	const end = Date.now() + ms;
	while (!isClosed(sock) && Date.now() < end)
		await sleep(10);
	return isClosed(sock);
}

function destroyAll() {
	for (const s of sockets)
		s.destroy();
	sockets.clear();
}

// ---------------------------------------------------------------------------------------
// Metrics

async function metric(name) {
	const r = await stack.get('/metrics');
	assert.equal(r.status, 200, `GET /metrics: ${r.status}`);
	const m = new RegExp(`^madoguchi_${name} (\\d+)$`, 'm').exec(r.body);
	assert.ok(m, `no madoguchi_${name} in /metrics`);
	return Number(m[1]);
}

async function waitMetric(name, want, what, timeoutMs = 5000) {
	const end = Date.now() + timeoutMs;
	let v;
	while ((v = await metric(name)) !== want && Date.now() < end)
		await sleep(50);
	assert.equal(v, want, `${what}: madoguchi_${name}`);
}

// ---------------------------------------------------------------------------------------
// STUN (RFC 5389 / 8445), just what an ICE-TCP client needs

const MAGIC = 0x2112a442;

function attr(type, value) {
	const pad = (4 - (value.length % 4)) % 4;
	const a = Buffer.alloc(4 + value.length + pad);
	a.writeUInt16BE(type, 0);
	a.writeUInt16BE(value.length, 2);
	value.copy(a, 4);
	return a;
}

/** A Binding request as Chromium sends it (controlling, nominating), with
 * MESSAGE-INTEGRITY keyed by the server's ice-pwd and a FINGERPRINT. */
function bindingRequest(username, pwd, txid) {
	const prio = Buffer.alloc(4);
	prio.writeUInt32BE(0x6e001eff);
	const attrs = Buffer.concat([
		attr(0x0006, Buffer.from(username)),            // USERNAME
		attr(0x0024, prio),                             // PRIORITY
		attr(0x802a, crypto.randomBytes(8)),            // ICE-CONTROLLING
		attr(0x0025, Buffer.alloc(0)),                  // USE-CANDIDATE
	]);
	const header = (len) => {
		const h = Buffer.alloc(20);
		h.writeUInt16BE(0x0001, 0);
		h.writeUInt16BE(len, 2);
		h.writeUInt32BE(MAGIC, 4);
		txid.copy(h, 8);
		return h;
	};
	const mac = crypto.createHmac('sha1', pwd)
		.update(Buffer.concat([header(attrs.length + 24), attrs])).digest();
	const withMi = Buffer.concat([attrs, attr(0x0008, mac)]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE((zlib.crc32(Buffer.concat([header(withMi.length + 8), withMi])) ^
		0x5354554e) >>> 0);
	const all = Buffer.concat([withMi, attr(0x8028, crc)]);
	return Buffer.concat([header(all.length), all]);
}

/** RFC 4571: the packet preceded by its length. */
function frame(pkt) {
	const h = Buffer.alloc(2);
	h.writeUInt16BE(pkt.length);
	return Buffer.concat([h, pkt]);
}

/** The first complete frame the server sent on sock, within ms; null otherwise. */
async function nextFrame(sock, ms) {
	const end = Date.now() + ms;
	while (Date.now() < end) {
		if (sock.rx.length >= 2) {
			const len = sock.rx.readUInt16BE(0);
			if (sock.rx.length >= 2 + len) {
				const f = sock.rx.subarray(2, 2 + len);
				sock.rx = sock.rx.subarray(2 + len);
				return f;
			}
		}
		if (isClosed(sock))
			return null;
		await sleep(10);
	}
	return null;
}

/** Checks a Binding success response: type, transaction id and MESSAGE-INTEGRITY. */
function assertBindingSuccess(resp, txid, pwd) {
	assert.ok(resp && resp.length >= 20, 'no STUN response');
	assert.equal(resp.readUInt16BE(0), 0x0101, 'not a Binding success response');
	assert.equal(resp.readUInt32BE(4), MAGIC);
	assert.ok(resp.subarray(8, 20).equals(txid), 'transaction id');
	for (let off = 20; off + 4 <= resp.length;) {
		const type = resp.readUInt16BE(off), len = resp.readUInt16BE(off + 2);
		if (type === 0x0008) {
			const covered = Buffer.from(resp.subarray(0, off));
			covered.writeUInt16BE(off - 20 + 24, 2);
			const mac = crypto.createHmac('sha1', pwd).update(covered).digest();
			assert.ok(mac.equals(resp.subarray(off + 4, off + 24)),
				'MESSAGE-INTEGRITY of the response');
			return;
		}
		off += 4 + len + ((4 - (len % 4)) % 4);
	}
	assert.fail('the response has no MESSAGE-INTEGRITY');
}

/** A kiosk session that negotiated media; resolves {ws, ufrag, pwd, tcpPort}. */
async function negotiatedKiosk() {
	const ws = await wsClient(stack.wsUrl);
	assertOk(await ws.request('hello', { role: 'kiosk', token: stack.tokens.yamada }),
		'kiosk hello');
	const sdp = fs.readFileSync(FIXTURE, 'utf8');
	const reply = assertOk(await ws.request('offer', { sdp, tracks: { 0: 'mic', 1: 'camera' } }),
		'offer');
	const ufrag = /a=ice-ufrag:(\S+)/.exec(reply.sdp)?.[1];
	const pwd = /a=ice-pwd:(\S+)/.exec(reply.sdp)?.[1];
	const cand = / tcp \d+ 127\.0\.0\.1 (\d+) typ host tcptype passive/.exec(reply.sdp);
	assert.ok(ufrag && pwd, `the answer has no ICE credentials:\n${reply.sdp}`);
	assert.ok(cand, `the answer has no passive TCP candidate:\n${reply.sdp}`);
	assert.equal(Number(cand[1]), stack.mediaPort, 'TCP candidate port');
	return { ws, ufrag, pwd };
}

// ---------------------------------------------------------------------------------------

test('a ninth ICE-TCP connection from one address is closed at once', async () => {
	try {
		const dropped0 = await metric('ice_tcp_dropped_total');
		const held = [];
		for (let i = 0; i < PER_ADDRESS; i++)
			held.push(await connectFrom('127.0.0.2'));
		await waitMetric('ice_tcp_open', PER_ADDRESS, 'eight connections from 127.0.0.2');
		const ninth = await connectFrom('127.0.0.2');
		assert.ok(await closedWithin(ninth, 1000),
			'the ninth connection from 127.0.0.2 is still open after 1 s');
		// Another address is not affected, and the eight stay.
		const other = await connectFrom('127.0.0.3');
		await sleep(300);
		assert.ok(!isClosed(other), 'a connection from 127.0.0.3 was closed');
		assert.equal(held.filter(isClosed).length, 0, 'one of the eight was closed');
		await waitMetric('ice_tcp_open', PER_ADDRESS + 1, 'connections open');
		assert.equal(await metric('ice_tcp_dropped_total'), dropped0 + 1,
			'the refusal is counted');
	} finally {
		destroyAll();
	}
	await waitMetric('ice_tcp_open', 0, 'after the clients closed');
});

test('idle connections filling every place do not keep out a client with credentials',
	async () => {
		const kiosk = await negotiatedKiosk();
		try {
			// 32 addresses, eight connections each: every place the server has, taken by
			// connections that say nothing (the attack renews them within their 10 s lease).
			const idle = [];
			for (let a = 2; idle.length < GLOBAL_CAP; a++)
				for (let i = 0; i < PER_ADDRESS && idle.length < GLOBAL_CAP; i++)
					idle.push(await connectFrom(`127.0.0.${a}`));
			await waitMetric('ice_tcp_open', GLOBAL_CAP, 'the flood holds every place');
			assert.equal(idle.filter(isClosed).length, 0, 'flood connections were refused');

			const t0 = Date.now();
			const legit = await connectFrom('127.0.0.1');
			const txid = crypto.randomBytes(12);
			legit.write(frame(bindingRequest(`${kiosk.ufrag}:abcd`, kiosk.pwd, txid)));
			const resp = await nextFrame(legit, 3000);
			assert.ok(resp, `no STUN response on the legitimate connection within 3 s ` +
				`(closed by the server: ${isClosed(legit)})`);
			assertBindingSuccess(resp, txid, kiosk.pwd);
			assert.ok(Date.now() - t0 < 5000, 'the check must pass within the flood\'s lease');

			// It took the place of the oldest idle connection, and keeps it while the flood
			// goes on: more idle connections evict idle ones, never the authenticated one.
			await sleep(100);
			assert.ok(isClosed(idle[0]), 'the oldest idle connection was not evicted');
			assert.equal(idle.filter(isClosed).length, 1, 'exactly one idle connection evicted');
			for (let a = 40; a < 42; a++)
				for (let i = 0; i < PER_ADDRESS; i++)
					await connectFrom(`127.0.0.${a}`);
			await sleep(300);
			assert.ok(!isClosed(legit), 'the authenticated connection was evicted');
			assert.equal(idle.filter(isClosed).length, 1 + 2 * PER_ADDRESS,
				'each new connection evicts one idle connection');
			assert.equal(await metric('ice_tcp_open'), GLOBAL_CAP, 'connections open');
			const txid2 = crypto.randomBytes(12);
			legit.write(frame(bindingRequest(`${kiosk.ufrag}:abcd`, kiosk.pwd, txid2)));
			assertBindingSuccess(await nextFrame(legit, 3000), txid2, kiosk.pwd);
		} finally {
			destroyAll();
			await kiosk.ws.close();
		}
		await waitMetric('ice_tcp_open', 0, 'after the clients closed');
	});
