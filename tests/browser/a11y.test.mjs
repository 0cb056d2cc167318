// Accessibility in real Chromium (issue 14, item 6).
//
// 1. axe-core (npm, injected into the page) with the WCAG 2.x A/AA tags finds no violation on
//    every page and main state: kiosk start screen, queued and in a call; desk login and desk
//    after login; coordinator; board; stats. Every page shows Japanese and English together
//    (web/lib/i18n.js setBilingual: there is no language switch), so each audit covers both;
//    the pages are audited once with a Japanese and once with an English browser
//    (Accept-Language / navigator.language), and the test checks both texts are there.
// 2. The kiosk's own rules on the start screen, while queued and in a call: every visible
//    text >= 24 px, every touch target >= 64 px both ways, text contrast >= 7:1 (computed from
//    the computed styles against the nearest opaque background).
// 3. The desk's main path by keyboard only (Tab, Enter, Space): log in, 受付可, accept a
//    ringing call from a protocol kiosk client, end with the outcome; a visible focus outline.
// 4. The coordinator, board and statistics pages: log in by keyboard, then Tab reaches every
//    visible, enabled control.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Browsers, assertChromium, loginStaff, step, waitState } from '../lib/browser.mjs';
import { ROOT, assertOk, startStack, wsClient } from '../lib/harness.mjs';

const AXE = path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let stack;
let browsers;
let failed = false;
const clients = [];
const results = [];

before(async () => {
	assertChromium();
	assert.ok(fs.existsSync(AXE), `${AXE} missing: run npm ci`);
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 15 });
});

after(async () => {
	for (const c of clients)
		await c.close().catch(() => {});
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
	if (results.length)
		console.log(`axe-core results:\n${results.join('\n')}`);
});

async function client(fields) {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	assertOk(await c.request('hello', fields), `hello ${fields.role}`);
	return c;
}

/** Opens url in a browser whose language is lang ('ja' or 'en'). */
async function openIn(name, url, lang) {
	const page = await browsers.open(name, 'about:blank');
	const locale = lang === 'ja' ? 'ja-JP' : 'en-US';
	await page.context().setExtraHTTPHeaders({ 'Accept-Language': `${locale},${lang}` });
	await page.addInitScript((l) => {
		Object.defineProperty(navigator, 'language', { get: () => l });
		Object.defineProperty(navigator, 'languages', { get: () => [l] });
	}, locale);
	await page.goto(url, { waitUntil: 'load', timeout: 15000 });
	return page;
}

/** Runs axe-core on page and asserts no violation; records the result under label. */
async function audit(page, label) {
	await step(`axe ${label}`, async () => {
		const src = fs.readFileSync(AXE, 'utf8');
		// Evaluated through the debugging protocol, so the server's CSP does not stop it.
		await page.evaluate(src);
		const r = await page.evaluate(async (tags) => {
			const res = await window.axe.run(document, { runOnly: { type: 'tag', values: tags },
				resultTypes: ['violations'] });
			return { passes: res.passes.length, incomplete: res.incomplete.length,
				violations: res.violations.map((v) => `${v.id} (${v.impact}): ` +
				v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')} ${n.failureSummary
					?.replace(/\s+/g, ' ').slice(0, 160)}`).join(' | ')) };
		}, TAGS);
		results.push(`  ${label}: ${r.violations.length} violations, ${r.passes} rules passed, ` +
			`${r.incomplete} to review by hand`);
		assert.deepEqual(r.violations, [], `axe-core violations on ${label}`);
	});
}

/** Both languages are on the page: some Japanese text and some English (lang="en") text. */
async function bothLanguages(page, label) {
	const r = await page.evaluate(() => ({
		ja: /[\u3040-\u30ff\u4e00-\u9fff]/.test(document.body.innerText),
		en: [...document.querySelectorAll('[lang="en"]')].some((e) => e.offsetParent !== null &&
			/[A-Za-z]/.test(e.textContent)),
		lang: document.documentElement.lang,
	}));
	assert.equal(r.lang, 'ja', `${label}: <html lang>`);
	assert.ok(r.ja, `${label}: Japanese text shown`);
	return r.en;
}

/** The kiosk's own rules on what is visible now: returns a list of failures. */
function kioskRules(page) {
	return page.evaluate(() => {
		const bad = [];
		const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
		const lum = ([r, g, b]) => {
			const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
			return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
		};
		const bgOf = (el) => {
			for (let e = el; e; e = e.parentElement) {
				const s = getComputedStyle(e);
				if (e.tagName === 'VIDEO')
					return [0, 0, 0];
				const c = parse(s.backgroundColor);
				if (c.length >= 3 && (c.length < 4 || c[3] >= 0.99))
					return c.slice(0, 3);
			}
			return [255, 255, 255];
		};
		const visible = (el) => {
			const r = el.getBoundingClientRect();
			const s = getComputedStyle(el);
			return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.opacity !== '0';
		};
		const name = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}` +
			`${el.className ? '.' + String(el.className).split(' ').join('.') : ''} ` +
			`"${el.textContent.trim().slice(0, 20)}"`;
		for (const el of document.body.querySelectorAll('*')) {
			if (!visible(el) || el.closest('[hidden],[aria-hidden="true"]'))
				continue;
			const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
			if (text) {
				const s = getComputedStyle(el);
				const px = parseFloat(s.fontSize);
				if (px < 24)
					bad.push(`text ${px}px < 24: ${name(el)}`);
				const fg = parse(s.color);
				const a = fg.length >= 4 ? fg[3] : 1;
				const bg = bgOf(el);
				const mix = fg.slice(0, 3).map((v, i) => v * a + bg[i] * (1 - a));
				const [l1, l2] = [lum(mix), lum(bg)].sort((x, y) => y - x);
				const ratio = (l1 + 0.05) / (l2 + 0.05);
				if (ratio < 7)
					bad.push(`contrast ${ratio.toFixed(2)} < 7: ${name(el)} ${s.color} on ${bg}`);
			}
			if (el.matches('button, a[href], input, select, [role="button"]')) {
				const r = el.getBoundingClientRect();
				if (r.width < 64 || r.height < 64)
					bad.push(`target ${Math.round(r.width)}x${Math.round(r.height)} < 64: ${name(el)}`);
			}
		}
		return bad;
	});
}

async function assertKioskRules(page, label) {
	await step(`kiosk rules ${label}`, async () => {
		const bad = await kioskRules(page);
		assert.deepEqual(bad, [], `kiosk rules on ${label}`);
	});
}

/** Waits until the kiosk page has played the spoken prompt name (web/kiosk/voice.js). */
async function promptPlayed(page, name) {
	await step(`the "${name}" prompt plays`, async () => {
		let log;
		for (let i = 0; i < 100; i++) {
			log = await page.evaluate(() => window.madoguchi.voice);
			if (log?.played.includes(name))
				return;
			await new Promise((r) => setTimeout(r, 100));
		}
		assert.fail(`voice log ${JSON.stringify(log)}`);
	});
}

for (const lang of ['ja', 'en']) {
	test(`kiosk: axe-core and the large-type rules (${lang})`, { timeout: 120000 }, async () => {
		try {
			// A desk (protocol client) for hoken, so its button is usable.
			const desk = await client({ role: 'staff', username: 'sato',
				password: stack.logins.sato.password });
			assertOk(await desk.request('presence', { status: 'available' }), 'available');
			const kiosk = await openIn('kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`,
				lang);
			await waitState(kiosk, 'idle');
			await kiosk.waitForSelector('#departments button', { timeout: 15000 });
			assert.ok(await bothLanguages(kiosk, 'kiosk start'), 'kiosk start: English shown');
			await audit(kiosk, `kiosk start screen (${lang})`);
			await assertKioskRules(kiosk, 'start screen');

			// Calling: the desk's phone rings, the kiosk waits on the queued screen.
			await kiosk.click('#departments button[data-dept="hoken"]');
			await waitState(kiosk, 'queued');
			await kiosk.waitForSelector('#screen-queued:not([hidden])', { timeout: 15000 });
			await audit(kiosk, `kiosk queued (${lang})`);
			await promptPlayed(kiosk, 'connecting');
			// The server puts the ringing visit in the queue (position 1): "please wait" follows.
			await promptPlayed(kiosk, 'wait');
			await assertKioskRules(kiosk, 'queued');

			// The desk takes it: the call screen.
			const ring = await desk.waitFor('ringing', () => true, 15000);
			assertOk(await desk.request('accept', { visit: ring.visit }), 'accept');
			await waitState(kiosk, 'in_call', 20000);
			await audit(kiosk, `kiosk in a call (${lang})`);
			await assertKioskRules(kiosk, 'in a call');
			assertOk(await desk.request('end', { visit: ring.visit, outcome: 'completed' }), 'end');
			await kiosk.waitForSelector('#screen-ended:not([hidden])', { timeout: 15000 });
			await audit(kiosk, `kiosk ended (${lang})`);
			await promptPlayed(kiosk, 'ended');
			await desk.close();
			await browsers.close('kiosk');
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});

	test(`desk, coordinator, board, stats: axe-core (${lang})`, { timeout: 120000 }, async () => {
		try {
			for (const [name, url, user, state] of [
				['desk', '/desk/', 'sato', 'idle'],
				['coordinator', '/coordinator/', 'tanaka', 'board'],
				['board', '/board/', 'tanaka', 'board'],
				['stats', '/stats/', 'tanaka', null],
			]) {
				const page = await openIn(name, `${stack.url}${url}`, lang);
				await page.waitForSelector('#username', { timeout: 15000 });
				await audit(page, `${name} login (${lang})`);
				await loginStaff(page, user, stack.logins[user].password, { available: false });
				if (state)
					await waitState(page, state);
				else // the statistics: a table, or the words that there is nothing yet
					await page.waitForFunction(() => document.querySelector('#body tr') ||
						/\S/.test(document.querySelector('#status')?.textContent ?? ''), null,
					{ timeout: 15000 });
				await bothLanguages(page, name);
				await audit(page, `${name} after login (${lang})`);
				await browsers.close(name);
			}
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});
}

/** Presses Tab until the focused element matches selector; fails after max presses. */
async function tabTo(page, selector, max = 80) {
	for (let i = 0; i < max; i++) {
		if (await page.evaluate((s) => document.activeElement?.matches(s), selector))
			return;
		await page.keyboard.press('Tab');
	}
	throw new Error(`Tab never reached ${selector}`);
}

test('the desk by keyboard only: log in, 受付可, accept, end', { timeout: 120000 }, async () => {
	try {
		const page = await browsers.open('desk-kb', `${stack.url}/desk/`);
		await page.waitForSelector('#username', { timeout: 15000 });
		await step('log in', async () => {
			await tabTo(page, '#username');
			await page.keyboard.type('sato');
			await tabTo(page, '#password');
			await page.keyboard.type(stack.logins.sato.password);
			await page.keyboard.press('Enter');
			await waitState(page, ['idle', 'away', 'available']);
		});
		await step('受付可 with Space, the focus outline shows', async () => {
			await page.waitForSelector('button[data-action="available"]', { timeout: 15000 });
			await tabTo(page, 'button[data-action="available"]');
			const ring = await page.evaluate(() => {
				const s = getComputedStyle(document.activeElement);
				return `${s.outlineStyle} ${s.outlineWidth} ${s.boxShadow}`;
			});
			assert.ok(/solid \d/.test(ring) && !/ 0px/.test(ring.split(' ').slice(0, 2).join(' ')),
				`the focused button shows an outline: ${ring}`);
			await page.keyboard.press('Space');
		});
		const kiosk = await client({ role: 'kiosk', token: stack.tokens.yamada });
		const { visit } = assertOk(await kiosk.request('call', { department: 'hoken' }), 'call');
		await step('accept with Enter', async () => {
			await page.waitForSelector(`button[data-action="accept"][data-visit="${visit}"]`,
				{ timeout: 15000 });
			await tabTo(page, `button[data-action="accept"][data-visit="${visit}"]`, 120);
			await page.keyboard.press('Enter');
			await waitState(page, 'in_call', 20000);
		});
		await step('choose the outcome and end with Enter', async () => {
			await tabTo(page, '#outcome', 120);
			await page.keyboard.press('ArrowDown'); // referred
			assert.equal(await page.evaluate(() => document.querySelector('#outcome').value),
				'referred');
			await tabTo(page, 'button[data-action="end"]');
			await page.keyboard.press('Enter');
			await kiosk.waitFor('ended', (m) => m.visit === visit, 15000);
		});
		await step('the leg is stored with the outcome', async () => {
			let out = '';
			for (let i = 0; i < 50 && out !== 'referred'; i++) {
				out = await stack.psql(`SELECT outcome FROM legs WHERE visit_id = '${visit}'`);
				if (out !== 'referred')
					await new Promise((r) => setTimeout(r, 100));
			}
			assert.equal(out, 'referred');
		});
		await browsers.close('desk-kb');
	} catch (err) {
		failed = true;
		throw await browsers.failure(err);
	}
});

test('coordinator, board, stats: log in and reach every control by keyboard',
	{ timeout: 120000 }, async () => {
		try {
			for (const [name, url, state] of [
				['coordinator', '/coordinator/', 'board'],
				['board', '/board/', 'board'],
				['stats', '/stats/', null],
			]) {
				const page = await browsers.open(`${name}-kb`, `${stack.url}${url}`);
				await page.waitForSelector('#username', { timeout: 15000 });
				await step(`${name}: log in by keyboard`, async () => {
					await tabTo(page, '#username');
					await page.keyboard.type('tanaka');
					await tabTo(page, '#password');
					await page.keyboard.type(stack.logins.tanaka.password);
					await page.keyboard.press('Enter');
					if (state)
						await waitState(page, state);
					else
						await page.waitForSelector('#logout:not([hidden])', { timeout: 15000 });
				});
				await step(`${name}: Tab reaches every visible control`, async () => {
					const controls = await page.evaluate(() => {
						const list = [...document.querySelectorAll(
							'button, a[href], input, select, textarea, [tabindex]')]
							.filter((e) => !e.disabled && e.tabIndex >= 0 &&
								e.getClientRects().length > 0 && !e.closest('[hidden]'));
						list.forEach((e, i) => { e.dataset.a11yKb = String(i); });
						return list.length;
					});
					assert.ok(controls >= 2, `${name}: ${controls} controls after login`);
					const seen = new Set();
					for (let i = 0; i < controls * 2 + 10 && seen.size < controls; i++) {
						await page.keyboard.press('Tab');
						const k = await page.evaluate(() => document.activeElement?.dataset.a11yKb);
						if (k !== undefined)
							seen.add(k);
					}
					assert.equal(seen.size, controls, `${name}: ${seen.size} of ${controls} ` +
						'controls reached by Tab');
				});
				await browsers.close(`${name}-kb`);
			}
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});
