// 筆談 and document marks between the real kiosk and desk pages (each its own Chromium):
// the clerk types on the desk and the kiosk shows it large over the picture (read back from
// the DOM: the text, its size, its contrast, the chime); the resident taps a canned reply and
// the desk's history shows it; the clerk shares a document, draws a rectangle, a circle and an
// arrow on it with the mouse and one rectangle with the keyboard, and the kiosk shows them at
// the same place on its (letterboxed) picture of the document; clear removes them; the end of
// the call clears the text and the history.
//
// Positions are read back from both DOMs: each mark's box on screen, as fractions of the
// picture's box that the test computes itself from the <video> element (its box, its
// intrinsic size and object-fit), so a page that ignored the letterboxing would fail.
// With MADOGUCHI_SCREENSHOTS=DIR the kiosk and the desk are saved with text and marks.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Browsers, startDeskKioskCall, step, waitState } from '../lib/browser.mjs';
import { startStack } from '../lib/harness.mjs';

const CLERK_TEXT = '赤い枠の中に\nお名前をご記入ください';
const NEAR = 0.02; // fractions: a mouse lands within a pixel or two; rounding to 1e-4

let stack;
let browsers;
let failed = false;

before(async () => {
	stack = await startStack({ tls: true });
	browsers = new Browsers(stack, { fps: 15 });
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop({ keep: failed });
});

/** The picture's box of the <video> in tileSel, in viewport pixels, computed here from the
 * element (not by the page's code), and the marks in that tile as fractions of it. */
function readMarks(page, tileSel) {
	return page.evaluate((sel) => {
		const tile = document.querySelector(sel);
		const video = tile?.querySelector('video');
		if (!video || tile.hidden || !video.videoWidth)
			return null;
		const r = video.getBoundingClientRect();
		const cw = video.clientWidth;
		const ch = video.clientHeight;
		const fit = getComputedStyle(video).objectFit;
		const s = Math.min(cw / video.videoWidth, ch / video.videoHeight);
		const pw = video.videoWidth * s;
		const ph = video.videoHeight * s;
		const pl = r.left + video.clientLeft + (cw - pw) / 2;
		const pt = r.top + video.clientTop + (ch - ph) / 2;
		const marks = [...tile.querySelectorAll('[data-mark]')].map((e) => {
			const kind = e.getAttribute('data-mark');
			if (kind === 'arrow') {
				// From the tail to the head: the line's ends, through the SVG's own scale.
				const line = e.querySelector('line');
				const svg = line.ownerSVGElement;
				const sr = svg.getBoundingClientRect();
				const vb = svg.viewBox.baseVal;
				const at = (ax, ay) => [
					(sr.left + line[ax].baseVal.value * (sr.width / vb.width) - pl) / pw,
					(sr.top + line[ay].baseVal.value * (sr.height / vb.height) - pt) / ph,
				];
				const [x1, y1] = at('x1', 'y1');
				const [x2, y2] = at('x2', 'y2');
				return { kind, x: x1, y: y1, w: x2 - x1, h: y2 - y1,
					color: line.getAttribute('stroke') };
			}
			const b = e.getBoundingClientRect();
			return { kind, x: (b.left - pl) / pw, y: (b.top - pt) / ph, w: b.width / pw,
				h: b.height / ph, color: e.getAttribute('stroke') };
		});
		return { fit, picture: { left: pl, top: pt, width: pw, height: ph },
			letterbox: { x: (cw - pw) / 2, y: (ch - ph) / 2 }, marks };
	}, tileSel);
}

/** Waits until readMarks finds n marks in the tile; resolves the reading. */
async function waitMarks(page, tileSel, n, what, timeout = 15000) {
	const deadline = Date.now() + timeout;
	let last = null;
	for (;;) {
		last = await readMarks(page, tileSel);
		if (last && last.marks.length === n)
			return last;
		if (Date.now() > deadline)
			throw new Error(`${what}: expected ${n} marks in ${tileSel}, saw ` +
				JSON.stringify(last));
		await new Promise((r) => setTimeout(r, 100));
	}
}

function assertNear(got, want, what, tol = NEAR) {
	for (const k of ['x', 'y', 'w', 'h'])
		assert.ok(Math.abs(got[k] - want[k]) <= tol,
			`${what}: ${k} ${got[k].toFixed(4)} vs ${want[k].toFixed(4)} (±${tol})\n` +
			`got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`);
}

/** Drags the mouse on the desk's picture from fraction a to b. */
async function drag(desk, picture, a, b) {
	const at = (p) => [picture.left + p.x * picture.width, picture.top + p.y * picture.height];
	await desk.mouse.move(...at(a));
	await desk.mouse.down();
	await desk.mouse.move(...at(b), { steps: 8 });
	await desk.mouse.up();
}

test('筆談 text and marks on the document between the kiosk and desk pages',
	{ timeout: 280000 }, async () => {
		try {
			const { desk, kiosk } = await startDeskKioskCall(browsers, stack);

			await step('the desk types; the kiosk shows it large, with a chime', async () => {
				await desk.waitForSelector('#text-chat:not([hidden])', { timeout: 10000 });
				await desk.fill('#text-input', CLERK_TEXT);
				await desk.press('#text-input', 'Enter');
				await kiosk.waitForFunction((t) =>
					document.querySelector('#text-latest')?.textContent === t, CLERK_TEXT,
				{ timeout: 10000 });
				const shown = await kiosk.evaluate(() => {
					const p = document.querySelector('#text-latest');
					const panel = document.querySelector('#text-panel');
					const cs = getComputedStyle(p);
					const r = p.getBoundingClientRect();
					const video = document.querySelector('#remote-video').getBoundingClientRect();
					return { fontPx: parseFloat(cs.fontSize), color: cs.color,
						background: getComputedStyle(panel).backgroundColor,
						visible: !panel.hidden && r.width > 0 && r.height > 0,
						overPicture: r.top < video.bottom && r.bottom > video.top,
						chimes: window.madoguchi.text.chimes };
				});
				assert.ok(shown.visible, `the text is visible: ${JSON.stringify(shown)}`);
				assert.ok(shown.fontPx >= 32, `font size ${shown.fontPx} px >= 32 px`);
				assert.ok(contrast(shown.color, shown.background) >= 7,
					`contrast of ${shown.color} on ${shown.background} >= 7:1`);
				assert.ok(shown.overPicture, 'the text lies over the picture');
				assert.ok(shown.chimes >= 1, `a chime was played: ${JSON.stringify(shown)}`);
				// Enter sent it and emptied the box; the desk's history shows it as its own.
				await desk.waitForFunction((t) => [...document.querySelectorAll(
					'#text-history li[data-from="self"] .text-body')].some((e) =>
					e.textContent === t), CLERK_TEXT, { timeout: 10000 });
				assert.equal(await desk.inputValue('#text-input'), '');
			});

			await step('the kiosk taps a canned reply; the desk shows it', async () => {
				const again = 'button[data-reply="もう一度お願いします"]';
				await kiosk.waitForSelector(again, { state: 'visible', timeout: 10000 });
				for (const reply of ['はい', 'いいえ', 'もう一度お願いします']) {
					const box = await kiosk.locator(`button[data-reply="${reply}"]`).boundingBox();
					assert.ok(box && box.height >= 64 && box.width >= 64,
						`reply ${reply}: a large touch target ${JSON.stringify(box)}`);
				}
				await kiosk.click('button[data-reply="はい"]');
				await desk.waitForFunction(() => [...document.querySelectorAll(
					'#text-history li[data-from="kiosk"] .text-body')].some((e) =>
					e.textContent === 'はい'), null, { timeout: 10000 });
				// The kiosk shows its own reply as the latest text, without a chime.
				await kiosk.waitForFunction(() =>
					document.querySelector('#text-latest')?.textContent === 'はい', null,
				{ timeout: 10000 });
			});

			await step('the desk shares a document; both pages show it', async () => {
				await desk.selectOption('#share-source', 'sample');
				await desk.click('button[data-action="share"]');
				await desk.waitForFunction(() => {
					const v = document.querySelector('#own-doc-video');
					return !document.querySelector('#own-doc-tile').hidden && v.videoWidth > 0;
				}, null, { timeout: 15000 });
				await desk.waitForSelector('#mark-tools:not([hidden])', { timeout: 5000 });
				await kiosk.waitForFunction(() => {
					const v = document.querySelector('#doc-video');
					return !document.querySelector('#doc-tile').hidden && v.videoWidth > 0;
				}, null, { timeout: 20000 });
			});

			const want = [
				{ kind: 'rect', x: 0.2, y: 0.3, w: 0.4, h: 0.2 },
				{ kind: 'circle', x: 0.55, y: 0.6, w: 0.3, h: 0.3 },
				{ kind: 'arrow', x: 0.9, y: 0.1, w: -0.2, h: 0.15 },
			];
			await step('the desk draws a rectangle, a circle and an arrow with the mouse',
				async () => {
					const d = await readMarks(desk, '#own-doc-tile');
					assert.ok(d, 'the desk shows its own document');
					await drag(desk, d.picture, { x: 0.2, y: 0.3 }, { x: 0.6, y: 0.5 });
					await desk.click('button[data-tool="circle"]');
					await drag(desk, d.picture, { x: 0.85, y: 0.9 }, { x: 0.55, y: 0.6 });
					await desk.click('button[data-tool="arrow"]');
					await drag(desk, d.picture, { x: 0.9, y: 0.1 }, { x: 0.7, y: 0.25 });
				});

			await step('the kiosk shows the marks at the same place on its picture', async () => {
				const d = await waitMarks(desk, '#own-doc-tile', 3, 'desk');
				const k = await waitMarks(kiosk, '#doc-tile', 3, 'kiosk');
				console.log('MEASURE ' + JSON.stringify({ desk_letterbox: d.letterbox,
					kiosk_letterbox: k.letterbox, desk_picture: d.picture,
					kiosk_picture: k.picture }));
				assert.equal(k.fit, 'contain');
				// The kiosk's document is letterboxed in its tile (the test would not show that
				// the page handles it otherwise).
				assert.ok(k.letterbox.x > 4 || k.letterbox.y > 4,
					`the kiosk's document is letterboxed: ${JSON.stringify(k.letterbox)}`);
				for (const [i, w] of want.entries()) {
					assert.equal(d.marks[i].kind, w.kind);
					assert.equal(k.marks[i].kind, w.kind);
					assertNear(d.marks[i], w, `desk mark ${i} where the mouse drew it`);
					assertNear(k.marks[i], d.marks[i], `kiosk mark ${i} where the desk shows it`,
						0.01);
					assert.equal(k.marks[i].color, '#ff4da6', 'the default pink');
				}
			});

			await step('a mark drawn with the keyboard', async () => {
				await desk.click('button[data-tool="rect"]');
				await desk.focus('#own-doc-tile svg.marks');
				// The cursor starts in the middle: to (0.4, 0.4), mark, to (0.6, 0.5), mark.
				for (let i = 0; i < 10; i++)
					await desk.keyboard.press('ArrowLeft');
				for (let i = 0; i < 10; i++)
					await desk.keyboard.press('ArrowUp');
				await desk.keyboard.press('Enter');
				for (let i = 0; i < 4; i++)
					await desk.keyboard.press('Shift+ArrowRight');
				for (let i = 0; i < 2; i++)
					await desk.keyboard.press('Shift+ArrowDown');
				await desk.keyboard.press('Space');
				const k = await waitMarks(kiosk, '#doc-tile', 4, 'kiosk after the keyboard');
				assertNear(k.marks[3], { x: 0.4, y: 0.4, w: 0.2, h: 0.1 }, 'keyboard rect', 0.01);
				await browsers.shot('kiosk', 'text-marks');
				await browsers.shot('sato', 'text-marks');
			});

			await step('clear removes the marks on both pages', async () => {
				await desk.click('button[data-mark="clear"]');
				await waitMarks(kiosk, '#doc-tile', 0, 'kiosk after clear');
				await waitMarks(desk, '#own-doc-tile', 0, 'desk after clear');
			});

			await step('the end of the call clears the text and the history', async () => {
				await desk.fill('#text-input', 'ありがとうございました');
				await desk.press('#text-input', 'Enter');
				await kiosk.waitForFunction(() => document.querySelector('#text-latest')
					?.textContent === 'ありがとうございました', null, { timeout: 10000 });
				await desk.click('button[data-action="end"]');
				await waitState(kiosk, 'ended');
				const k = await kiosk.evaluate(() => ({
					text: document.querySelector('#text-latest').textContent,
					panelHidden: document.querySelector('#text-panel').hidden,
					marks: document.querySelectorAll('#doc-tile [data-mark]').length }));
				assert.deepEqual(k, { text: '', panelHidden: true, marks: 0 });
				const d = await desk.evaluate(() => ({
					history: document.querySelectorAll('#text-history li').length,
					hidden: document.querySelector('#text-chat').hidden }));
				assert.deepEqual(d, { history: 0, hidden: true });
				const log = stack.serverLog();
				assert.ok(!log.includes('お名前をご記入'), 'the server log holds no text');
			});
		} catch (err) {
			failed = true;
			throw await browsers.failure(err);
		}
	});

/** WCAG contrast ratio of two CSS rgb()/rgba() colours (alpha ignored: the panel is opaque). */
function contrast(a, b) {
	const lum = (c) => {
		const [r, g, bl] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
			const s = v / 255;
			return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
		});
		return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
	};
	const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
	return (hi + 0.05) / (lo + 0.05);
}
