// The status board and the coordinator page in real Chromium.
//
// 1. The board page (web/board/) logged in as coordinator tanaka follows two kiosks and two
//    desks (protocol clients): offline → online, idle → ringing → in a call, queued where
//    nobody can answer, a desk available → busy, a kiosk leaving; problems appear at the top
//    in words (a department open with nobody to answer, a kiosk offline while open).
// 2. The coordinator page on a PC without camera or microphone (getUserMedia rejects as it
//    does when none is connected): it opens and shows the watch list; joining a room shows a
//    clear message, and the coordinator is in the room anyway. It links to the board.
// 3. The coordinator page with a (fake) camera and microphone: they are opened when the
//    coordinator joins, put on the connection negotiated at login without a new offer, and
//    the kiosk page decodes the coordinator's picture.
// 4. With 20 kiosks and 10 departments (admin commands, then a restart so the server reads
//    them), the board fits a 1280x800 window without scrolling, page or panels.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	Browsers, assertChromium, loginStaff, restartServer, statsByMid, step, waitMids, waitNewFrames,
	waitState,
} from '../lib/browser.mjs';
import { assertOk, runOk, startStack, wsClient } from '../lib/harness.mjs';

let stack;
let browsers;
let failed = false;
const clients = [];

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 15 });
});

after(async () => {
	for (const c of clients)
		await c.close();
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

async function hello(fields) {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	const reply = assertOk(await c.request('hello', fields), `hello ${JSON.stringify(fields)}`);
	return { c, reply };
}

const staff = (username) => hello({ role: 'staff', username,
	password: stack.logins[username].password });

/** Waits until fn (run in the page with arg) returns true; names what in the error. */
async function until(page, what, fn, arg, timeout = 8000) {
	await step(what, () => page.waitForFunction(fn, arg, { timeout }));
}

const tileState = (page, name, state, what) => until(page, what, ([n, s]) =>
	[...document.querySelectorAll('.kiosk')].some((k) =>
		k.querySelector('.kiosk-name').textContent === n && k.dataset.state === s), [name, state]);

const deskPresence = (page, dept, name, presence, what) => until(page, what, ([d, n, p]) =>
	[...document.querySelectorAll(`tr.dept[data-department="${d}"] .desk-name`)].some((x) =>
		x.textContent === n && x.dataset.presence === p), [dept, name, presence]);

const problemFor = (page, kind, id, what) => until(page, what, ([k, i]) =>
	document.querySelector(`#problems .problem[data-kind="${k}"][data-id="${i}"]`) !== null,
[kind, id]);

async function openBoard(name) {
	const page = await browsers.open(name, `${stack.url}/board/`);
	await loginStaff(page, 'tanaka', stack.logins.tanaka.password, { available: false });
	await waitState(page, 'board');
	return page;
}

test('the board follows two kiosks and two desks live', { timeout: 120000 }, async () => {
	try {
		const page = await openBoard('board');
		const yamada = stack.kiosks.find((k) => k.branch === 'yamada');
		const takasaki = stack.kiosks.find((k) => k.branch === 'takasaki');
		await tileState(page, yamada.name, 'offline', 'both kiosks listed offline');
		await tileState(page, takasaki.name, 'offline', 'the takasaki kiosk listed offline');
		assert.equal(await page.locator('tr.dept').count(), 3);
		// Open departments and offline kiosks: problems in words at the top.
		await problemFor(page, 'department', 'hoken', 'hoken open with nobody is a problem');
		const text = await page.locator('#problems').innerText();
		assert.match(text, /職員がいません/);
		assert.match(text, /オフライン/);

		const { c: sato } = await staff('sato');
		const { c: suzuki } = await staff('suzuki');
		assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
		assertOk(await suzuki.request('presence', { status: 'available' }), 'suzuki available');
		await deskPresence(page, 'hoken', '佐藤', 'available', 'sato shown available');
		await deskPresence(page, 'zeimu', '鈴木', 'available', 'suzuki shown available');
		await until(page, 'hoken no longer a problem', () =>
			!document.querySelector('#problems [data-kind="department"][data-id="hoken"]'));

		const { c: k1 } = await hello({ role: 'kiosk', token: yamada.token });
		const { c: k2 } = await hello({ role: 'kiosk', token: takasaki.token });
		await tileState(page, yamada.name, 'idle', 'yamada online and idle');
		await tileState(page, takasaki.name, 'idle', 'takasaki online and idle');

		const { visit } = assertOk(await k1.request('call', { department: 'hoken' }), 'call');
		await tileState(page, yamada.name, 'ringing', 'yamada ringing');
		await sato.waitFor('ringing', (m) => m.visit === visit);
		assertOk(await sato.request('accept', { visit }), 'accept');
		await tileState(page, yamada.name, 'in_call', 'yamada in a call');
		await deskPresence(page, 'hoken', '佐藤', 'busy', 'sato shown busy');
		assert.match(await page.locator('.kiosk[data-state="in_call"] .kiosk-state').innerText(),
			/通話中/);

		// Nobody can answer kosodate: the takasaki kiosk waits; the queue shows.
		assertOk(await k2.request('call', { department: 'kosodate' }), 'call kosodate');
		await tileState(page, takasaki.name, 'queued', 'takasaki queued');
		await until(page, 'kosodate queue of one', () =>
			document.querySelector('tr.dept[data-department="kosodate"] .queued')?.textContent === '1人');
		await problemFor(page, 'department', 'kosodate', 'kosodate open with nobody');

		// The call ends, a desk goes away, a kiosk leaves.
		assertOk(await sato.request('end', { visit, outcome: 'completed' }), 'end');
		await tileState(page, yamada.name, 'idle', 'yamada idle after the call');
		assertOk(await suzuki.request('presence', { status: 'away' }), 'suzuki away');
		await deskPresence(page, 'zeimu', '鈴木', 'away', 'suzuki shown away');
		await k2.close();
		await tileState(page, takasaki.name, 'offline', 'takasaki offline again');
		const tile = page.locator(`.kiosk[data-state="offline"]`);
		assert.match(await tile.innerText(), /最終 \d\d:\d\d/, 'last seen shown');
		await until(page, 'the offline kiosk is a problem, listed first in its branch', () =>
			document.querySelector('#problems .problem[data-kind="kiosk"]') !== null);
		const events = await page.evaluate(() => window.madoguchi.events);
		assert.ok(events >= 8, `the page applied ${events} status events`);
		await browsers.shot('board', 'live');
		await browsers.close('board');
	} catch (err) {
		failed = true;
		throw await browsers.failure(err);
	}
});

test('the coordinator page works without camera or microphone', { timeout: 120000 },
	async () => {
		try {
			const page = await browsers.open('coord', 'about:blank');
			// As on a PC with no camera and no microphone connected.
			await page.addInitScript(() => {
				const refuse = () => Promise.reject(new DOMException('Requested device not found',
					'NotFoundError'));
				if (navigator.mediaDevices)
					navigator.mediaDevices.getUserMedia = refuse;
			});
			await page.goto(`${stack.url}/coordinator/`, { waitUntil: 'load' });
			await loginStaff(page, 'tanaka', stack.logins.tanaka.password, { available: false });
			await waitState(page, 'board');
			assert.ok(await page.locator('#board-empty').isVisible(), 'the empty watch list shows');
			assert.equal(await page.evaluate(() => window.madoguchi.devices), 'unasked');
			assert.equal(await page.locator('#board-link').getAttribute('href'), '../board/');

			const kioskEntry = stack.kiosks.find((k) => k.branch === 'yamada');
			const { c: kiosk } = await hello({ role: 'kiosk', token: kioskEntry.token });
			const { visit } = assertOk(await kiosk.request('call', { onestop: 'okuyami' }),
				'one-stop call');
			const card = page.locator(`li.card[data-visit="${visit}"]`);
			await step('the visit shows in the watch list', () =>
				card.waitFor({ state: 'visible', timeout: 8000 }));

			await card.locator('button[data-action="join"]').click();
			const note = page.locator('#media-note');
			await step('a clear message on joining', () =>
				note.waitFor({ state: 'visible', timeout: 8000 }));
			assert.match(await note.innerText(), /カメラまたはマイクが使えない/);
			await until(page, 'in the room anyway', (v) => window.madoguchi.room === v, visit);
			assert.equal(await page.evaluate(() => window.madoguchi.devices), 'none');
			assert.equal(await page.evaluate(() => window.madoguchi.state), 'board');
			await kiosk.waitFor('connected', (m) => m.visit === visit && m.parties.length === 2);
			await card.locator('button[data-action="finish"]').click();
			await step('the visit leaves the list', () =>
				card.waitFor({ state: 'detached', timeout: 8000 }));
			await browsers.close('coord');
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});

test('a coordinator with a camera is seen by the kiosk after joining', { timeout: 120000 },
	async () => {
		try {
			// (The takasaki kiosk's earlier session still waits in kosodate's queue.)
			const kioskEntry = stack.kiosks.find((k) => k.branch === 'yamada');
			const kiosk = await browsers.open('kiosk', `${stack.url}/kiosk/#token=${kioskEntry.token}`);
			const kmids = await step('kiosk negotiated', () => waitMids(kiosk));
			const coord = await browsers.open('coord2', `${stack.url}/coordinator/`);
			await loginStaff(coord, 'tanaka', stack.logins.tanaka.password, { available: false });
			await waitState(coord, 'board');
			const cmids = await step('coordinator negotiated', () => waitMids(coord));
			const before = await statsByMid(coord);
			assert.equal(before.stats.offersSent, 1);
			assert.equal(before.out[cmids.camera]?.bytesSent ?? 0, 0, 'nothing sent before joining');

			const visit = await kiosk.evaluate(async () =>
				(await window.madoguchi.client.request('call', { onestop: 'okuyami' })).visit);
			const card = coord.locator(`li.card[data-visit="${visit}"]`);
			await step('the visit shows', () => card.waitFor({ state: 'visible', timeout: 8000 }));
			const since = Date.now();
			await card.locator('button[data-action="join"]').click();
			await waitNewFrames(kiosk, kmids.camera, { since, from: 0, minNew: 10,
				what: "the kiosk decodes the coordinator's camera" });
			const after = await statsByMid(coord);
			assert.equal(await coord.evaluate(() => window.madoguchi.devices), 'ok');
			assert.ok(after.out[cmids.mic]?.bytesSent > 0, 'the microphone is sent');
			assert.equal(after.stats.offersSent, 1, 'no new offer for the devices');
			assert.ok(await coord.locator('#media-note').isHidden());
			await card.locator('button[data-action="finish"]').click();
			await step('the visit leaves the list', () =>
				card.waitFor({ state: 'detached', timeout: 8000 }));
			await browsers.close('coord2');
			await browsers.close('kiosk');
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});

test('20 kiosks and 10 departments fit 1280x800 without scrolling', { timeout: 120000 },
	async () => {
		try {
			for (const [id, name] of [['minato', '港出張所'], ['kita', '北部支所']])
				await stack.admin('branch', 'add', id, name);
			const extra = [['shimin', '市民課'], ['fukushi', '福祉課'], ['kaigo', '介護保険課'],
				['kankyo', '環境課'], ['doboku', '土木課'], ['kenchiku', '建築指導課'],
				['suido', '水道課']];
			for (const [id, name] of extra)
				await stack.admin('department', 'add', id, name);
			const branches = ['yamada', 'takasaki', 'minato', 'kita'];
			for (let i = 0; i < 18; i++) {
				const b = branches[i % 4];
				await stack.addKiosk(b, `${b === 'minato' ? '港' : b === 'kita' ? '北部' : ''}窓口端末 ${i + 2}番`);
			}
			for (let i = 0; i < 3; i++)
				await runOk(stack.bin, ['--db', stack.conninfo, 'admin', 'user', 'add', `clerk${i}`,
					'--name', `職員${i}`, '--department', extra.map((e) => e[0]).join(',')],
				{ input: 'clerk-pass-123\n' });
			for (const c of clients.splice(0))
				await c.close();
			await restartServer(stack);

			const page = await openBoard('board20');
			await until(page, '20 kiosks and 10 departments', () =>
				document.querySelectorAll('.kiosk').length === 20 &&
				document.querySelectorAll('tr.dept').length === 10);
			// Some life on it: a few kiosks online, desks in several departments.
			const kiosk = await hello({ role: 'kiosk', token: stack.tokens.yamada });
			for (let i = 0; i < 3; i++) {
				const { c } = await hello({ role: 'staff', username: `clerk${i}`,
					password: 'clerk-pass-123' });
				if (i < 2)
					assertOk(await c.request('presence', { status: 'available' }), 'available');
			}
			await tileState(page, stack.kiosks.find((k) => k.branch === 'yamada').name, 'idle',
				'a kiosk online');
			assertOk(await kiosk.c.request('call', { department: 'kosodate' }), 'call');
			await until(page, 'queue shown', () =>
				document.querySelector('tr.dept[data-department="kosodate"] .queued')?.textContent === '1人');
			const size = await page.evaluate(() => {
				const doc = document.scrollingElement;
				const panels = [...document.querySelectorAll('.status-board > section')].map((s) => ({
					cls: s.className, scroll: s.scrollHeight, client: s.clientHeight,
					scrollW: s.scrollWidth, clientW: s.clientWidth,
				}));
				return { w: window.innerWidth, h: window.innerHeight, sw: doc.scrollWidth,
					sh: doc.scrollHeight, panels };
			});
			assert.equal(size.w, 1280);
			assert.equal(size.h, 800);
			assert.ok(size.sh <= size.h && size.sw <= size.w,
				`the page scrolls: ${JSON.stringify(size)}`);
			for (const p of size.panels)
				assert.ok(p.scroll <= p.client + 1 && p.scrollW <= p.clientW + 1,
					`panel ${p.cls} scrolls: ${JSON.stringify(p)}`);
			await browsers.shot('board20', 'full');
			await browsers.close('board20');
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});
