// The kiosk self-test (PROTOCOL.md, "Kiosk health") with real Chromium kiosks whose media is
// made to fail in the four ways an unattended kiosk fails: the real kiosk page runs, but its
// getUserMedia is replaced (before the page's own scripts run) so that it sends
//   (a) the fake camera and microphone as they are          -> audio ok, video ok
//   (b) a video track from a canvas painted black           -> video black
//   (c) a video track from a canvas drawn once (frozen)     -> video frozen
//   (d) an audio track from WebAudio through a gain of 0    -> audio silent
//   (e) a canvas redrawn with the same picture 30 times a second -> video frozen
// A canvas that is not redrawn yields no frames at all (Chromium sends nothing while the
// picture does not change), so (c) draws its one picture once the call is up: the camera has
// sent, then stops, which a receiver sees as a frozen picture. (e) is the other kind of
// freeze: frames keep coming, none differs.
// A coordinator asks with `selftest` over the WebSocket, the kiosk asks for itself from its
// page, and each reply must come within 5 s with the right states. The results must also be
// in PostgreSQL (last result and history) and in /metrics. Two kiosks (two Chromiums) run at
// a time. Measurements are printed as `MEASURE {...}`.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browsers, assertChromium, step } from '../lib/browser.mjs';
import { assertError, assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';
import { fetchMetrics } from '../lib/netns.mjs';

const REPLY_MS = 5000;

let stack;
let browsers;
let failed = false;
let coord;
let kioskIds; // branch -> kiosk id

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 30 });
	const rows = await stack.psql("SELECT branch_id || ' ' || id FROM kiosks ORDER BY created_at");
	kioskIds = Object.fromEntries(rows.split('\n').map((l) => l.split(' ')));
	coord = await wsClient(stack.wsUrl);
	const t = stack.logins.tanaka; // coordinator
	assertOk(await coord.request('hello', { role: 'staff', username: t.username,
		password: t.password }), 'coordinator hello');
});

after(async () => {
	coord?.ws.terminate();
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

// Runs in the page before its scripts: wraps getUserMedia so that the stream it returns has
// the track(s) of `mode` instead of the fake devices'.
function overrideMedia(mode) {
	const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
	navigator.mediaDevices.getUserMedia = async (constraints) => {
		const stream = await real(constraints);
		if (mode === 'black' || mode === 'frozen' || mode === 'repeat') {
			const canvas = document.createElement('canvas');
			canvas.width = 640;
			canvas.height = 480;
			const g = canvas.getContext('2d');
			const paint = () => {
				if (mode === 'black') {
					g.fillStyle = '#000';
					g.fillRect(0, 0, 640, 480);
					return;
				}
				const grad = g.createLinearGradient(0, 0, 640, 480);
				grad.addColorStop(0, '#3a6');
				grad.addColorStop(1, '#eec');
				g.fillStyle = grad;
				g.fillRect(0, 0, 640, 480);
				g.fillStyle = '#225';
				g.font = '48px sans-serif';
				g.fillText('madoguchi', 120, 250);
			};
			paint();
			// Black and repeat keep being painted (frames flow); the frozen picture is drawn
			// once more by the test when the call is up (window.drawOnce).
			if (mode === 'black' || mode === 'repeat')
				setInterval(paint, 33);
			window.drawOnce = paint;
			const track = canvas.captureStream(30).getVideoTracks()[0];
			for (const t of stream.getVideoTracks()) {
				stream.removeTrack(t);
				t.stop();
			}
			stream.addTrack(track);
		}
		if (mode === 'silent') {
			const ac = new AudioContext();
			const osc = ac.createOscillator();
			const gain = ac.createGain();
			gain.gain.value = 0;
			const dest = ac.createMediaStreamDestination();
			osc.connect(gain).connect(dest);
			osc.start();
			for (const t of stream.getAudioTracks()) {
				stream.removeTrack(t);
				t.stop();
			}
			stream.addTrack(dest.stream.getAudioTracks()[0]);
		}
		return stream;
	};
}

async function openKiosk(name, branch, mode) {
	const page = await browsers.open(name, 'about:blank');
	await page.addInitScript(overrideMedia, mode);
	await page.goto(`${stack.url}/kiosk/#token=${stack.tokens[branch]}`, { waitUntil: 'load' });
	await page.waitForFunction(() => window.madoguchi?.state === 'idle' &&
		window.madoguchi?.pc?.connectionState === 'connected', null, { timeout: 30000 });
	if (mode === 'frozen') {
		await sleep(500);
		await page.evaluate(() => window.drawOnce());
	}
	return page;
}

async function timed(fn) {
	const t0 = Date.now();
	const reply = await fn();
	return { reply, ms: Date.now() - t0 };
}

async function coordinatorSelftest(kiosk) {
	const { reply, ms } = await timed(() => coord.request('selftest', { kiosk },
		{ timeoutMs: REPLY_MS }));
	assertOk(reply, `selftest ${kiosk}`);
	assert.ok(ms <= REPLY_MS, `selftest answered in ${ms} ms`);
	return { health: reply.health, ms };
}

function checkShape(h, kiosk) {
	assert.equal(h.kiosk, kiosk);
	assert.match(h.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
	assert.ok(['ok', 'silent', 'missing'].includes(h.audio.state), JSON.stringify(h));
	assert.ok(['ok', 'black', 'frozen', 'missing'].includes(h.video.state), JSON.stringify(h));
	assert.equal(h.network.transport, 'udp');
	assert.equal(typeof h.network.loss, 'number');
	assert.ok(h.network.rtt_ms === null || typeof h.network.rtt_ms === 'number');
}

/** Two kiosks at once: their expected states, checked by the coordinator, by each kiosk
 * itself, in PostgreSQL and in /metrics. */
async function round(cases) {
	const pages = {};
	for (const c of cases)
		pages[c.branch] = await step(`open kiosk ${c.branch} (${c.mode})`,
			() => openKiosk(c.branch, c.branch, c.mode));
	// Let the automatic test that runs when media connects finish first, so that what is
	// checked below is a test started by the request.
	await sleep(4500);
	const measure = {};
	for (const c of cases) {
		const id = kioskIds[c.branch];
		const { health, ms } = await step(`coordinator selftest ${c.mode}`,
			() => coordinatorSelftest(id));
		checkShape(health, id);
		assert.equal(health.audio.state, c.audio, `${c.mode}: audio ${JSON.stringify(health)}`);
		assert.equal(health.video.state, c.video, `${c.mode}: video ${JSON.stringify(health)}`);
		if (c.video === 'ok' || c.video === 'black' || c.mode === 'repeat') {
			assert.ok(health.video.width > 0 && health.video.height > 0, JSON.stringify(health));
			assert.equal(typeof health.video.luma, 'number');
		}
		if (c.video === 'black')
			assert.ok(health.video.luma < 16, JSON.stringify(health));
		if (c.audio === 'ok')
			assert.ok(health.audio.level_dbfs > -60, JSON.stringify(health));
		if (c.audio === 'silent')
			assert.ok(health.audio.level_dbfs <= -60, JSON.stringify(health));
		// The kiosk asks for itself, from its own page, at the same time as the coordinator:
		// both requests share one run (the same result, same `at`).
		const page = pages[c.branch];
		const [own, again] = await step(`kiosk's own selftest ${c.mode}`, () => Promise.all([
			page.evaluate(async () => {
				const t0 = performance.now();
				const r = await window.madoguchi.client.request('selftest', {});
				return { r, ms: performance.now() - t0 };
			}),
			timed(() => coord.request('selftest', { kiosk: id }, { timeoutMs: REPLY_MS })),
		]));
		assert.equal(own.r.type, 'ok', JSON.stringify(own.r));
		assert.ok(own.ms <= REPLY_MS, `kiosk's own selftest took ${own.ms} ms`);
		assert.equal(own.r.health.kiosk, id);
		assert.equal(own.r.health.audio.state, c.audio);
		assert.equal(own.r.health.video.state, c.video);
		assertOk(again.reply, 'concurrent coordinator selftest');
		assert.equal(again.reply.health.at, own.r.health.at, 'concurrent requests share a run');
		measure[c.mode] = { ms, own_ms: Math.round(own.ms), audio: health.audio,
			video: health.video, network: health.network };

		// PostgreSQL: the last result and the history (writes are asynchronous).
		await step(`${c.mode} in PostgreSQL`, async () => {
			let last = '';
			for (let i = 0; i < 40; i++) {
				last = await stack.psql('SELECT audio_state || \' \' || video_state || \' \' || ' +
					`(health->>'at') FROM kiosk_health_last WHERE kiosk_id = '${id}'`);
				if (last === `${c.audio} ${c.video} ${own.r.health.at}`)
					break;
				await sleep(100);
			}
			assert.equal(last, `${c.audio} ${c.video} ${own.r.health.at}`);
			const n = Number(await stack.psql(
				`SELECT count(*) FROM kiosk_health WHERE kiosk_id = '${id}'`));
			assert.ok(n >= 3, `history rows ${n}`); // on connect, request, shared request
		});
		// The status board (`status`, what web/board shows): the kiosk's last result.
		await step(`${c.mode} on the status board`, async () => {
			const st = await coord.request('status', {});
			assertOk(st, 'status');
			const entry = st.kiosks.find((k) => k.kiosk.id === id);
			assert.ok(entry, `kiosk ${id} on the board`);
			assert.equal(entry.online, true);
			assert.ok(entry.health, `health on the board: ${JSON.stringify(entry)}`);
			assert.equal(entry.health.audio.state, c.audio);
			assert.equal(entry.health.video.state, c.video);
			assert.equal(entry.health.at, own.r.health.at);
		});
		// /metrics: the gauges of the last result.
		await step(`${c.mode} in /metrics`, async () => {
			const m = await fetchMetrics(stack);
			const labels = { kiosk: id, branch: c.branch };
			assert.equal(m.get('madoguchi_kiosk_audio_silent', labels), c.audio === 'silent' ? 1 : 0);
			assert.equal(m.get('madoguchi_kiosk_audio_missing', labels), c.audio === 'missing' ? 1 : 0);
			assert.equal(m.get('madoguchi_kiosk_video_black', labels), c.video === 'black' ? 1 : 0);
			assert.equal(m.get('madoguchi_kiosk_video_frozen', labels), c.video === 'frozen' ? 1 : 0);
			assert.equal(m.get('madoguchi_kiosk_video_missing', labels), c.video === 'missing' ? 1 : 0);
			// The figures of the last result, when it has them (no luma without a picture).
			const last = own.r.health;
			assert.equal(m.get('madoguchi_kiosk_audio_level_dbfs', labels), last.audio.level_dbfs ?? undefined);
			assert.equal(m.get('madoguchi_kiosk_video_luma', labels), last.video.luma ?? undefined);
			assert.ok(m.get('madoguchi_kiosk_health_age_seconds', labels) < 60);
			assert.ok(m.get('madoguchi_selftests_total') >= 3);
			assert.ok(m.get('madoguchi_selftest_cpu_seconds_total') > 0);
		});
	}
	console.log(`MEASURE ${JSON.stringify(measure)}`);
	for (const c of cases)
		await browsers.close(c.branch);
}

test('who may ask: staff need coordinator or admin, a kiosk tests only itself', async () => {
	try {
		const sato = stack.logins.sato;
		const desk = await wsClient(stack.wsUrl);
		assertOk(await desk.request('hello', { role: 'staff', username: sato.username,
			password: sato.password }), 'desk hello');
		assertError(await desk.request('selftest', { kiosk: kioskIds.yamada }), 'forbidden',
			'a clerk without flags');
		desk.ws.terminate();
		assertError(await coord.request('selftest', {}), 'bad_request', 'no kiosk');
		assertError(await coord.request('selftest', { kiosk: 42 }), 'bad_request', 'kiosk not a string');
		assertError(await coord.request('selftest', { kiosk: kioskIds.yamada }), 'not_found',
			'a kiosk that is not connected');
		assertError(await coord.request('selftest', { kiosk: 'no-such-kiosk' }), 'not_found',
			'an unknown kiosk');
		// A kiosk connected by WebSocket only (no media): answered at once, all missing.
		const k = await wsClient(stack.wsUrl);
		assertOk(await k.request('hello', { role: 'kiosk', token: stack.tokens.takasaki }), 'kiosk hello');
		assertError(await k.request('selftest', { kiosk: kioskIds.yamada }), 'forbidden',
			'a kiosk asking about another');
		const own = await k.request('selftest', {});
		assertOk(own, 'kiosk selftest without media');
		assert.equal(own.health.audio.state, 'missing');
		assert.equal(own.health.video.state, 'missing');
		assert.equal(own.health.network.transport, null);
		k.ws.terminate();
	} catch (err) {
		failed = true;
		throw err;
	}
});

test('fake devices ok, a black canvas is black', { timeout: 120000 }, async () => {
	try {
		await round([
			{ branch: 'yamada', mode: 'normal', audio: 'ok', video: 'ok' },
			{ branch: 'takasaki', mode: 'black', audio: 'ok', video: 'black' },
		]);
	} catch (err) {
		failed = true;
		throw await browsers.failure(err);
	}
});

test('a frozen canvas is frozen, WebAudio through gain 0 is silent', { timeout: 120000 }, async () => {
	try {
		await round([
			{ branch: 'yamada', mode: 'frozen', audio: 'ok', video: 'frozen' },
			{ branch: 'takasaki', mode: 'silent', audio: 'silent', video: 'ok' },
		]);
	} catch (err) {
		failed = true;
		throw await browsers.failure(err);
	}
});

test('a canvas redrawn with the same picture is frozen', { timeout: 120000 }, async () => {
	try {
		await round([{ branch: 'takasaki', mode: 'repeat', audio: 'ok', video: 'frozen' }]);
	} catch (err) {
		failed = true;
		throw await browsers.failure(err);
	}
});

test('admin kiosk health prints the last results', async () => {
	try {
		const { runOk } = await import('../lib/harness.mjs');
		const text = await runOk(stack.bin, ['--db', stack.conninfo, 'admin', 'kiosk', 'health']);
		assert.match(text, /BRANCH\s+KIOSK\s+AUDIO/);
		assert.match(text, new RegExp(`yamada .* ok .* frozen .*${kioskIds.yamada}`));
		assert.match(text, new RegExp(`takasaki .* ok .* frozen .*${kioskIds.takasaki}`));
		const list = JSON.parse(await runOk(stack.bin, ['--db', stack.conninfo, 'admin', 'kiosk',
			'health', '--json']));
		const y = list.find((k) => k.kiosk === kioskIds.yamada);
		assert.equal(y.branch, 'yamada');
		assert.equal(y.health.video.state, 'frozen');
		assert.equal(y.health.kiosk, kioskIds.yamada);
	} catch (err) {
		failed = true;
		throw err;
	}
});

test('with PostgreSQL down a result is still answered, not saved, and logged', async () => {
	try {
		const k = await wsClient(stack.wsUrl);
		assertOk(await k.request('hello', { role: 'kiosk', token: stack.tokens.takasaki }),
			'kiosk hello');
		await stack.pgStop();
		try {
			const { reply, ms } = await timed(() => k.request('selftest', {}));
			assertOk(reply, 'selftest while the database is down');
			assert.ok(ms < 1000, `answered in ${ms} ms (no media: nothing to wait for)`);
			const deadline = Date.now() + 10000;
			while (!/msg="kiosk self-test result not saved" kiosk=/.test(stack.serverLog()) &&
				Date.now() < deadline)
				await sleep(200);
			assert.match(stack.serverLog(), /msg="kiosk self-test result not saved" kiosk=\S+ reason=database/);
			assert.ok(stack.serverAlive());
		} finally {
			await stack.pgStart();
		}
		k.ws.terminate();
	} catch (err) {
		failed = true;
		throw err;
	}
});
