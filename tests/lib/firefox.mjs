// Firefox ESR for the browser tests, beside the Chromium of tests/lib/browser.mjs: Debian's
// firefox-esr driven by puppeteer-core over WebDriver BiDi (Playwright drives only its own
// patched Firefox builds, and none can be downloaded here). Each page gets its own Firefox
// process and profile, like the Chromium pages.
//
// The page object handed to tests speaks the subset of Playwright's Page that the shared
// helpers of browser.mjs use (goto, evaluate, waitForFunction, waitForSelector, click, fill,
// selectOption, $eval, $$eval, screenshot, on), so loginStaff, acceptOn, statsByMid, waitNewFrames
// and the rest work on Chromium and Firefox pages alike.
//
//   const browsers = new MixedBrowsers(stack);
//   const kiosk = await browsers.open('kiosk', url, { firefox: true });
//   const desk = await browsers.open('desk', url);          // Chromium
//
// Firefox facts (measured with 153 ESR on this machine, see also shared/NOTES.md):
//   - it gathers no loopback candidates, so the server must announce another address: the
//     tests give it the host end of a veth pair (tests/lib/netns.mjs), which Firefox in the
//     root namespace reaches directly;
//   - `media.navigator.streams.fake` gives a 640x480 camera at 30 fps and a tone for the
//     microphone; `media.navigator.permission.disabled` answers getUserMedia without a prompt;
//   - remote audio plays (and counts in totalAudioEnergy) only when autoplay is allowed
//     (`media.autoplay.default` 0, blocking policy 0);
//   - the test server's self-signed certificate is accepted through the BiDi session's
//     acceptInsecureCerts.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { Browsers, deskUrl } from './browser.mjs';

export const FIREFOX = process.env.MADOGUCHI_FIREFOX || '/usr/bin/firefox-esr';

export function assertFirefox() {
	assert.ok(fs.existsSync(FIREFOX), `${FIREFOX} not found (deploy/install-deps.sh installs ` +
		'firefox-esr; or set MADOGUCHI_FIREFOX)');
}

/** The preferences every test Firefox starts with. */
export function firefoxPrefs() {
	return {
		// Fake camera and microphone, granted without a prompt.
		'media.navigator.streams.fake': true,
		'media.navigator.permission.disabled': true,
		// Remote audio plays without a user gesture (the kiosk's <audio> elements autoplay).
		'media.autoplay.default': 0,
		'media.autoplay.blocking_policy': 0,
		'media.autoplay.block-webaudio': false,
		// Real host addresses in candidates and stats rather than mDNS names.
		'media.peerconnection.ice.obfuscate_host_addresses': false,
		// Nothing in the background: no updates, telemetry, first-run pages or captive-portal
		// probes (the tests must send nothing beyond the machine).
		'app.update.enabled': false,
		'app.update.auto': false,
		'browser.shell.checkDefaultBrowser': false,
		'browser.startup.homepage_override.mstone': 'ignore',
		'datareporting.policy.dataSubmissionEnabled': false,
		'toolkit.telemetry.enabled': false,
		'network.captive-portal-service.enabled': false,
		'network.connectivity-service.enabled': false,
		'browser.safebrowsing.malware.enabled': false,
		'browser.safebrowsing.phishing.enabled': false,
		'extensions.update.enabled': false,
		// A page in a background window must not be throttled: every test page is one.
		'dom.min_background_timeout_value': 4,
		'dom.timeout.enable_budget_timer_throttling': false,
	};
}

/** Playwright's waitForSelector state as puppeteer options. */
function selectorOptions({ state = 'visible', timeout = 30000 } = {}) {
	return { timeout, visible: state === 'visible', hidden: state === 'hidden' ||
		state === 'detached' };
}

/**
 * A puppeteer page with the Playwright-style methods the browser tests call. Only what they
 * use is here; `raw` is the puppeteer page for anything else.
 */
export class FirefoxPage {
	constructor(page) {
		this.raw = page;
		this.browserName = 'firefox';
	}

	goto(url, { waitUntil = 'load', timeout = 30000 } = {}) {
		return this.raw.goto(url, { waitUntil, timeout });
	}

	evaluate(fn, arg) {
		return this.raw.evaluate(fn, arg);
	}

	/** Playwright's (fn, arg, {timeout}); polls every 50 ms (requestAnimationFrame, the
	 * puppeteer default, runs rarely in a headless background window). */
	waitForFunction(fn, arg, { timeout = 30000 } = {}) {
		return this.raw.waitForFunction(fn, { timeout, polling: 50 }, arg);
	}

	waitForSelector(selector, opts) {
		return this.raw.waitForSelector(selector, selectorOptions(opts));
	}

	/** Waits for the element to be visible, enabled and still, then clicks it. */
	click(selector, { timeout = 30000 } = {}) {
		return this.raw.locator(selector).setTimeout(timeout).click();
	}

	fill(selector, value, { timeout = 30000 } = {}) {
		return this.raw.locator(selector).setTimeout(timeout).fill(value);
	}

	async selectOption(selector, value) {
		await this.raw.waitForSelector(selector, { timeout: 15000 });
		return this.raw.select(selector, value);
	}

	$eval(selector, fn, arg) {
		return this.raw.$eval(selector, fn, arg);
	}

	$$eval(selector, fn, arg) {
		return this.raw.$$eval(selector, fn, arg);
	}

	async screenshot({ path: file, timeout = 5000 } = {}) {
		let timer;
		try {
			return await Promise.race([this.raw.screenshot({ path: file }),
				new Promise((resolve, reject) => {
					timer = setTimeout(() => reject(new Error(`no screenshot in ${timeout} ms`)),
						timeout);
				})]);
		} finally {
			clearTimeout(timer);
		}
	}

	/** 'console' (message with type() and text()) and 'pageerror' (an Error), as Playwright. */
	on(event, handler) {
		this.raw.on(event, handler);
		return this;
	}
}

/**
 * The pages of one test file, Chromium (browser.mjs) or Firefox: open(name, url,
 * {firefox: true}) starts a Firefox for the page; everything else (close, closeAll, shot,
 * screenshots, failure) works on both.
 */
export class MixedBrowsers extends Browsers {
	/** opts: {fps} (Chromium's fake camera, see Browsers) and {firefoxPrefs}, preferences
	 * added to firefoxPrefs() for every Firefox of this set. */
	constructor(stack, opts = {}) {
		super(stack, opts);
		this.extraPrefs = opts.firefoxPrefs ?? {};
	}

	async open(name, url, opts = {}) {
		if (!opts.firefox)
			return super.open(name, url, opts);
		url = deskUrl(url, opts.blur);
		const { viewport = { width: 1280, height: 800 } } = opts;
		const profile = fs.mkdtempSync(path.join(this.stack.tmp, `firefox-${name}-`));
		const browser = await puppeteer.launch({
			browser: 'firefox',
			protocol: 'webDriverBiDi',
			executablePath: FIREFOX,
			headless: true,
			userDataDir: profile,
			acceptInsecureCerts: true,
			extraPrefsFirefox: { ...firefoxPrefs(), ...this.extraPrefs },
			defaultViewport: viewport,
			// A Firefox starts in about 5 s on this machine; much longer while the other
			// browsers of a test take both cores.
			timeout: 60000,
			protocolTimeout: 60000,
			// Firefox's own output would flood the test log; its crashes show as a closed
			// connection in the step that used the page.
			dumpio: false,
		});
		const entry = { name, ctx: { close: () => browser.close() }, page: null, firefox: true };
		try {
			const raw = (await browser.pages())[0] ?? await browser.newPage();
			const page = new FirefoxPage(raw);
			page.on('console', (m) => this.logs.push(`[${name}] ${m.type()}: ${m.text()}`));
			page.on('pageerror', (e) => this.logs.push(`[${name}] pageerror: ${e.message ?? e}`));
			entry.page = page;
			this.list.push(entry);
			await page.goto(url, { waitUntil: 'load', timeout: 30000 });
			return page;
		} catch (err) {
			if (!this.list.includes(entry))
				await browser.close().catch(() => {});
			throw err;
		}
	}
}
