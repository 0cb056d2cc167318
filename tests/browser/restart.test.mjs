// ICE restart: mid-call, the kiosk page (then the desk page) restarts ICE on its existing
// PeerConnection through window.madoguchi.restartIce(), the same path a failed or long
// disconnected connection takes. The server must recognise its own PeerConnection (same DTLS
// certificate, same m-lines) and change only the ICE credentials: the page keeps its one
// PeerConnection, the server logs `ice restart` for that peer, no new DTLS handshake is
// counted in /metrics, the media the page receives keeps its SSRCs, getStats shows the
// selected candidate pair now uses the new local ufrag, and both sides keep decoding video
// and hearing audio. Measurements (restart duration, the longest frame gap around it) are
// printed as `MEASURE {...}`.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	Browsers, assertChromium, madoguchi, startDeskKioskCall, statsByMid, step, waitMids,
	waitNewFrames,
} from '../lib/browser.mjs';
import { sleep, startStack } from '../lib/harness.mjs';
import { fetchMetrics } from '../lib/netns.mjs';

const RESTART_DEADLINE_MS = 12000; // restartIce() called -> resolved (the page allows 10 s)
const FRAMES_DEADLINE_MS = 5000;   // restart done -> new frames on both sides
const GAP_WATCH_MS = 4000;         // how long after the restart the frame gap is watched

let stack;
let browsers;
let failed = false;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 20 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

/**
 * The ICE and DTLS view of one page's PeerConnection: the transport's local ufrag, DTLS
 * state and selected pair, the ufrags of that pair's candidates, the connection states, and
 * the SSRC of each inbound stream by mid (which the server must keep across a restart).
 */
function iceView(page) {
	return page.evaluate(async () => {
		const pc = window.madoguchi.pc;
		const report = await pc.getStats();
		const out = { connectionState: pc.connectionState, iceConnectionState:
			pc.iceConnectionState, transport: null, pair: null, ssrcs: {} };
		report.forEach((s) => {
			if (s.type === 'transport')
				out.transport = { iceLocalUsernameFragment: s.iceLocalUsernameFragment ?? null,
					dtlsState: s.dtlsState, iceState: s.iceState ?? null,
					selectedCandidatePairId: s.selectedCandidatePairId ?? null,
					srtpCipher: s.srtpCipher ?? null,
					localCertificateId: s.localCertificateId ?? null,
					remoteCertificateId: s.remoteCertificateId ?? null,
					selectedCandidatePairChanges: s.selectedCandidatePairChanges ?? null };
			else if (s.type === 'inbound-rtp' && s.mid !== undefined)
				out.ssrcs[s.mid] = s.ssrc;
		});
		const pairId = out.transport?.selectedCandidatePairId;
		const p = pairId ? report.get(pairId) : null;
		if (p) {
			const l = report.get(p.localCandidateId);
			const r = report.get(p.remoteCandidateId);
			out.pair = { id: p.id, state: p.state, nominated: p.nominated ?? null,
				localUfrag: l?.usernameFragment ?? null, remoteUfrag: r?.usernameFragment ?? null,
				local: l ? `${l.protocol} ${l.address}:${l.port}` : null,
				remote: r ? `${r.protocol} ${r.address}:${r.port}` : null };
		}
		const ufrag = (sdp) => /^a=ice-ufrag:(\S+)/m.exec(sdp ?? '')?.[1] ?? null;
		out.sdpLocalUfrag = ufrag(pc.localDescription?.sdp);
		out.sdpRemoteUfrag = ufrag(pc.remoteDescription?.sdp);
		return out;
	});
}

/** Chromium's totalFreezesDuration (s) over the page's inbound video streams: the decoder's
 * own measure of frozen video, finer than polling framesDecoded. */
function freezes(page) {
	return page.evaluate(async () => {
		let sum = 0;
		(await window.madoguchi.pc.getStats()).forEach((s) => {
			if (s.type === 'inbound-rtp' && s.kind === 'video')
				sum += s.totalFreezesDuration ?? 0;
		});
		return sum;
	});
}

/** Audio energy received on the page's busiest inbound audio. */
async function audioEnergy(page) {
	const s = await statsByMid(page);
	return Math.max(0, ...Object.values(s?.mids ?? {}).filter((m) => m.kind === 'audio')
		.map((m) => m.audioEnergy));
}

/**
 * Samples framesDecoded of the inbound camera on both pages every 100 ms until stop() is
 * called; stop() resolves the longest time each side went without a new decoded frame.
 */
function watchGaps(pages) {
	let running = true;
	const gaps = {};
	const loop = (async () => {
		const last = {};
		while (running) {
			await Promise.all(Object.entries(pages).map(async ([name, { page, mid }]) => {
				const s = await statsByMid(page).catch(() => null);
				const frames = s?.mids[mid]?.framesDecoded ?? 0;
				const t = Date.now();
				const prev = last[name];
				if (!prev || frames > prev.frames) {
					if (prev)
						gaps[name] = Math.max(gaps[name] ?? 0, t - prev.at);
					last[name] = { frames, at: t };
				}
			}));
			await sleep(100);
		}
		// A side that is still frozen at the end counts its freeze so far.
		for (const [name, l] of Object.entries(last))
			gaps[name] = Math.max(gaps[name] ?? 0, Date.now() - l.at);
	})();
	return async () => {
		running = false;
		await loop;
		return gaps;
	};
}

/** Restarts ICE on page's PeerConnection and asserts everything the server and the page
 * must keep; returns the measurements. other is the page on the far side of the call. */
async function restartAndCheck(name, page, mid, other, otherMid) {
	const self = await madoguchi(page, 'self');
	assert.match(String(self?.id), /^p-\d+$/, `${name}: window.madoguchi.self.id`);
	const before = await iceView(page);
	const stats0 = await madoguchi(page, 'stats');
	const dtls0 = (await fetchMetrics(stack)).sum('madoguchi_dtls_handshakes_total');
	const restartsLogged0 = logLines(self.id).length;
	const energy0 = { self: await audioEnergy(page), other: await audioEnergy(other) };
	// A mark on the PeerConnection object: a new PeerConnection would not carry it.
	await page.evaluate(() => (window.madoguchi.pc.restartTestMark = true));
	// The same watch without a restart, so that the gap around the restart can be compared
	// with what polling two busy pages shows anyway.
	const pages = { [name]: { page, mid }, other: { page: other, mid: otherMid } };
	const stopBase = watchGaps(pages);
	await sleep(GAP_WATCH_MS);
	const baseGaps = await stopBase();

	const freezes0 = { [name]: await freezes(page), other: await freezes(other) };
	const stopGaps = watchGaps(pages);
	const t0 = Date.now();
	const result = await step(`${name}: window.madoguchi.restartIce()`, () =>
		Promise.race([page.evaluate(() => window.madoguchi.restartIce()),
			sleep(RESTART_DEADLINE_MS).then(() => {
				throw new Error(`not resolved within ${RESTART_DEADLINE_MS} ms`);
			})]));
	const restartMs = Date.now() - t0;
	const framesAfter = {};
	// Measured first, asserted after the MEASURE line, so that a failing run reports too.
	const framesErr = await step(`${name}: both sides decode new frames after the restart`,
		async () => {
			const since = Date.now();
			const wait = (p, m, minNew, what) => waitNewFrames(p, m, { since, minNew,
				timeoutMs: FRAMES_DEADLINE_MS, what });
			// The first new frame on each side, then a second's worth (20 fps).
			const first = await Promise.all([wait(page, mid, 1, `${name}: the far side's video`),
				wait(other, otherMid, 1, `the far side of ${name}: its video`)]);
			framesAfter[name] = first[0].ms;
			framesAfter.other = first[1].ms;
			await Promise.all([wait(page, mid, 20, `${name}: the far side's video`),
				wait(other, otherMid, 20, `the far side of ${name}: its video`)]);
		}).then(() => null, (err) => err);
	await sleep(Math.max(0, t0 + GAP_WATCH_MS - Date.now()));
	const gaps = await stopGaps();
	const after = await iceView(page);
	const stats1 = await madoguchi(page, 'stats');
	const dtls1 = (await fetchMetrics(stack)).sum('madoguchi_dtls_handshakes_total');
	const energy1 = { self: await audioEnergy(page), other: await audioEnergy(other) };
	const samePc = await page.evaluate(() => window.madoguchi.pc.restartTestMark === true);
	const freezes1 = { [name]: await freezes(page), other: await freezes(other) };
	const freezeMs = Object.fromEntries(Object.keys(freezes1).map((k) =>
		[k, Math.round((freezes1[k] - freezes0[k]) * 1000)]));

	const m = { side: name, peer: self.id, outcome: result?.outcome ?? null,
		restart_ms: restartMs, page_restart_ms: result?.ms ?? null,
		done_to_first_new_frame_ms: framesAfter, max_frame_gap_ms: gaps,
		max_frame_gap_without_restart_ms: baseGaps, freezes_ms: freezeMs,
		ufrag: { local: [before.transport?.iceLocalUsernameFragment,
			after.transport?.iceLocalUsernameFragment],
		pair_local: [before.pair?.localUfrag, after.pair?.localUfrag],
		remote: [before.sdpRemoteUfrag, after.sdpRemoteUfrag] },
		pair: [before.pair?.id, after.pair?.id],
		pair_changes: [before.transport?.selectedCandidatePairChanges,
			after.transport?.selectedCandidatePairChanges],
		dtls_handshakes: [dtls0, dtls1], stats: stats1 };
	console.log('MEASURE ' + JSON.stringify({ test: 'ice-restart', ...m }));
	const show = `\nbefore ${JSON.stringify(before)}\nafter ${JSON.stringify(after)}`;

	await step(`${name}: the page restarted ICE on the same PeerConnection`, () => {
		assert.equal(result?.outcome, 'restarted', `restartIce() resolved ${JSON.stringify(result)}`);
		assert.ok(samePc, 'window.madoguchi.pc is a different object');
		assert.equal(stats1.pcs, stats0.pcs, `PeerConnections made ${JSON.stringify(stats1)}`);
		assert.equal(stats1.pcs, 1, `PeerConnections made ${JSON.stringify(stats1)}`);
		assert.equal(stats1.iceRestarts, stats0.iceRestarts + 1, JSON.stringify(stats1));
		assert.equal(stats1.offersSent, stats0.offersSent + 1, JSON.stringify(stats1));
		assert.equal(stats1.negotiationNeeded, 0, `negotiationneeded counted as a bug ` +
			JSON.stringify(stats1));
		assert.equal(after.connectionState, 'connected', show);
	});
	await step(`${name}: the server treated the offer as an ICE restart`, () => {
		const lines = logLines(self.id);
		assert.equal(lines.length, restartsLogged0 + 1, `server log lines "ice restart" for ` +
			`${self.id}: ${JSON.stringify(lines)}`);
		assert.equal(dtls1, dtls0, `madoguchi_dtls_handshakes_total went ${dtls0} -> ${dtls1}: ` +
			'a new DTLS handshake');
		assert.equal(after.transport?.dtlsState, 'connected', show);
		assert.equal(after.transport?.remoteCertificateId, before.transport?.remoteCertificateId,
			`the server's certificate changed${show}`);
		assert.deepEqual(after.ssrcs, before.ssrcs, `the SSRCs the page receives changed${show}`);
	});
	await step(`${name}: new ICE credentials are in use`, () => {
		assert.notEqual(after.sdpLocalUfrag, before.sdpLocalUfrag, `local ufrag${show}`);
		assert.notEqual(after.sdpRemoteUfrag, before.sdpRemoteUfrag, `the server's ufrag${show}`);
		assert.equal(after.transport?.iceLocalUsernameFragment, after.sdpLocalUfrag,
			`transport iceLocalUsernameFragment${show}`);
		assert.notEqual(after.transport?.iceLocalUsernameFragment,
			before.transport?.iceLocalUsernameFragment, `transport iceLocalUsernameFragment${show}`);
		// Chromium names the ufrag of each candidate: the pair media now takes was checked
		// with the new credentials.
		if (after.pair?.localUfrag != null)
			assert.equal(after.pair.localUfrag, after.sdpLocalUfrag, `selected pair${show}`);
	});
	if (framesErr)
		throw framesErr;
	await step(`${name}: audio goes on both ways`, () => {
		assert.ok(energy1.self > energy0.self, `${name} heard nothing after the restart ` +
			`(${energy0.self} -> ${energy1.self})`);
		assert.ok(energy1.other > energy0.other, `the far side of ${name} heard nothing ` +
			`(${energy0.other} -> ${energy1.other})`);
	});
	return m;
}

/** The server's `ice restart` log lines for peer id. */
function logLines(id) {
	const re = new RegExp(`ice restart"? .*peer=${id}(\\s|$)`);
	return stack.serverLog().split('\n').filter((l) => re.test(l));
}

test('an ICE restart mid-call keeps the PeerConnection, DTLS and the media', { timeout: 180000 },
	async () => {
		try {
			const { desk, kiosk, kmids } = await startDeskKioskCall(browsers, stack);
			const dmids = await waitMids(desk);
			await waitNewFrames(desk, dmids.camera, { minNew: 20, what: 'desk: the kiosk' });

			await restartAndCheck('kiosk', kiosk, kmids.camera, desk, dmids.camera);
			await restartAndCheck('desk', desk, dmids.camera, kiosk, kmids.camera);

			await step('the call is still on', async () => {
				assert.equal(await madoguchi(kiosk, 'state'), 'in_call', 'kiosk state');
				assert.equal(await madoguchi(desk, 'state'), 'in_call', 'desk state');
			});
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});
