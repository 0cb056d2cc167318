// The statistics page (web/stats/) in a real Chromium: an analyst logs in through the form,
// the table shows the fixture's month and the bar chart draws (chart.js served from
// web/vendor/ under the server's CSP); a clerk without the analyst flag is sent back to the
// login form with the "no analyst flag" message; without the chart file the table remains.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Browsers, assertChromium, step } from '../lib/browser.mjs';
import { ROOT, startStack } from '../lib/harness.mjs';

let stack;
let browsers;

before(async () => {
	assertChromium();
	stack = await startStack({ tls: true });
	// One answered leg 20 days ago, inside the page's default 12 months in any time zone;
	// the rollup trigger counts it.
	const kiosk = await stack.psql(`SELECT id FROM kiosks WHERE branch_id = 'yamada' LIMIT 1`);
	await stack.psql(
		`INSERT INTO visits (id, kiosk_id, branch_id, started_at, ended_at, end_reason) VALUES ` +
		`('00000000-0000-4000-8000-000000000001', '${kiosk}', 'yamada', now() - interval '20 days', ` +
		`now() - interval '19 days', 'completed');` +
		`INSERT INTO legs (id, visit_id, seq, department_id, procedure_id, queued_at, ` +
		`answered_at, ended_at, outcome) VALUES ('00000000-0000-4000-8000-000000000002', ` +
		`'00000000-0000-4000-8000-000000000001', 1, 'hoken', 'kokuho-kanyu', ` +
		`now() - interval '20 days', now() - interval '20 days' + interval '1 minute', ` +
		`now() - interval '20 days' + interval '10 minutes', ` +
		`'completed')`);
	browsers = new Browsers(stack);
});

after(async () => {
	await browsers?.closeAll();
	await stack?.stop();
});

async function logIn(page, username) {
	await page.fill('#username', username);
	await page.fill('#password', stack.logins[username].password);
	await page.click('#login');
}

test('an analyst sees the table and the chart; a clerk is refused', async () => {
	const chartFile = path.join(ROOT, 'web', 'vendor', 'chart.umd.js');
	assert.ok(fs.existsSync(chartFile), `${chartFile} missing: tests/run.sh copies it after npm ci`);
	try {
		const page = await step('open the page', () =>
			browsers.open('stats', `${stack.url}/stats/`));
		await step('log in as the analyst', () => logIn(page, 'tanaka'));
		await step('the table shows the fixture', async () => {
			await page.waitForSelector('#body tr', { timeout: 15000 });
			const cells = await page.$$eval('#body tr:first-child td', (tds) =>
				tds.map((td) => td.textContent));
			assert.ok(cells.includes('山田出張所'), `first row: ${cells.join(' | ')}`);
			assert.ok(cells.includes('保険年金課'), `first row: ${cells.join(' | ')}`);
		});
		await step('the chart is drawn', async () => {
			await page.waitForFunction(() => window.Chart &&
				window.Chart.getChart(document.querySelector('#chart')), null, { timeout: 10000 });
			assert.equal(await page.isHidden('#chart-box'), false);
			assert.equal(await page.isHidden('#no-chart'), true);
		});
		await step('the CSV download', async () => {
			const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
			assert.match(download.suggestedFilename(), /^madoguchi-stats-.*\.csv$/);
		});
		await step('log out (the token is revoked), log in as a clerk', async () => {
			const token = await page.evaluate(() => sessionStorage.getItem('madoguchi.stats.token'));
			assert.ok(token, 'the page keeps its login token');
			await page.click('#logout');
			const month = new Date().toISOString().slice(0, 7);
			const q = `/api/stats/monthly?from=${month}&to=${month}`;
			let status = 200;
			for (let i = 0; i < 50 && status === 200; i++) {
				status = (await stack.http('GET', q, { headers: { Authorization: `Bearer ${token}` } })).status;
				if (status === 200)
					await new Promise((r) => setTimeout(r, 100));
			}
			assert.equal(status, 401, 'the logged-out token still reads statistics');
			await logIn(page, 'sato');
			await page.waitForSelector('#login-error:not([hidden])', { timeout: 15000 });
			assert.match(await page.textContent('#login-error'), /分析権限/);
		});
		await step('without the chart library the table still shows', async () => {
			await page.route('**/vendor/chart.umd.js', (route) => route.abort());
			await page.reload({ waitUntil: 'load' });
			await logIn(page, 'tanaka');
			await page.waitForSelector('#body tr', { timeout: 15000 });
			await page.waitForSelector('#no-chart:not([hidden])', { timeout: 5000 });
			assert.equal(await page.isHidden('#chart-box'), true);
		});
		const errors = browsers.logs.filter((l) => /pageerror|Content Security Policy/.test(l));
		assert.deepEqual(errors, [], 'no page errors or CSP violations');
	} catch (err) {
		throw await browsers.failure(err);
	}
});
