// Network namespaces for the network tests (suite 'network', tests/network/): the kiosk's
// Chromium runs behind a link the test can degrade, while the server, PostgreSQL and the
// desk's Chromium stay in the root namespace.
//
// What createNetns() makes, per test file (n is the first free 10.213.n.0/24, 1..250):
//   - a network namespace `mdg-<pid>-<k>` with lo up;
//   - a veth pair: `mh<pid>x<k>` in the root namespace with 10.213.n.1/24 (the server binds
//     and announces this address: the desk reaches it locally, the kiosk over the veth) and
//     `mn<pid>x<k>` inside the namespace with 10.213.n.2/24 and the default route via .1;
//   - two nftables tables, each rewritten as a whole on every change, that drop packets as
//     they arrive off the wire (netdev ingress hooks): `netdev mdg` inside the namespace on
//     the kiosk's end (its downlink) and `netdev mdg_<pid>_<k>` in the root namespace on the
//     host end (its uplink). Random loss (`numgen random`), a full cut and a UDP block live
//     there. Ingress, not the output hook: a packet dropped on output fails the sender's
//     sendmsg() with EPERM, and Chromium then simply sends it again, so the loss never shows;
//     on a real line the sender learns nothing. nftables rather than netem: it works on
//     every kernel with nf_tables (this VM's kernel has no sch_netem), and
//     `numgen random mod 10000 < p` drops independently per packet as netem's loss does.
//   - rate limits with a token bucket (tc tbf) on the sending side of the veth: the host end
//     for the kiosk's downlink, the namespace end for its uplink, with a queue bounded in
//     milliseconds (`latency`), like a real access line's buffer.
// Nothing is sent anywhere but between these two addresses and loopback.
//
// Cleanup: remove() (call it in an `after` hook) deletes the host table and the namespace,
// which destroys the veth pair, its qdiscs and the namespace's table with it. The same runs synchronously on
// process exit and on SIGINT/SIGTERM/SIGHUP. createNetns() first deletes stale `mdg-<pid>-*`
// namespaces whose process is gone (a run killed with SIGKILL).
//
// Needs root (CAP_NET_ADMIN), iproute2 and nftables (deploy/install-deps.sh). Test files
// call `await requireNetns()` before registering tests: without those it prints why and
// exits 77, which meson counts as a skip. Run the files directly (`node file.test.mjs`, not
// `node --test`, whose runner would turn that exit code into a failure).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Browsers, acceptOn, loginStaff, madoguchi, mediaFigures, step } from './browser.mjs';
import { run, runOk, sleep, startStack } from './harness.mjs';

const SKIP = 77;
const live = new Set();
let counter = 0;
let hooked = false;

function cleanupAllSync() {
	for (const ns of live)
		ns.removeSync();
}

function hookProcess() {
	if (hooked)
		return;
	hooked = true;
	process.on('exit', cleanupAllSync);
	for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
		process.on(sig, () => {
			cleanupAllSync();
			// The harness's own exit handler then stops the server and PostgreSQL.
			process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig]));
		});
	}
}

/**
 * Exits the process with 77 (meson: skipped) and a message unless network namespaces can be
 * made here: root, `ip netns` working, `nft` and `tc` present.
 */
export async function requireNetns() {
	const why = await netnsUnusable();
	if (why) {
		console.log(`SKIP: the network tests need ${why}`);
		process.exit(SKIP);
	}
}

async function netnsUnusable() {
	if (typeof process.getuid !== 'function' || process.getuid() !== 0)
		return 'root (they create network namespaces, veth pairs and nftables rules)';
	for (const [cmd, args, pkg] of [['ip', ['-V'], 'iproute2'], ['tc', ['-V'], 'iproute2'],
		['nft', ['--version'], 'nftables']]) {
		const r = await run(cmd, args).catch((e) => ({ code: -1, stderr: e.message }));
		if (r.code !== 0)
			return `\`${cmd}\` (package ${pkg}): ${r.stderr.trim()}`;
	}
	const probe = `mdg-${process.pid}-probe`;
	// The netdev family with ingress hooks (kernel 4.2+) carries every rule.
	const r = await run('ip', ['netns', 'add', probe]);
	if (r.code !== 0)
		return `\`ip netns add\` to work: ${r.stderr.trim()}`;
	const nft = await run('ip', ['netns', 'exec', probe, 'nft', 'list', 'ruleset']);
	await run('ip', ['netns', 'del', probe]);
	if (nft.code !== 0)
		return `nftables inside a namespace: ${nft.stderr.trim()}`;
	return null;
}

/** Deletes mdg-<pid>-* namespaces whose process no longer exists. */
async function removeStale() {
	const out = await runOk('ip', ['netns', 'list']);
	for (const line of out.split('\n')) {
		const m = /^(mdg-(\d+)-\S+)/.exec(line.trim());
		if (!m)
			continue;
		const pid = Number(m[2]);
		let alive = true;
		try {
			process.kill(pid, 0);
		} catch (e) {
			alive = e.code === 'EPERM';
		}
		if (!alive)
			await run('ip', ['netns', 'del', m[1]]);
	}
	// Root-namespace tables of runs that are gone (their devices went with the namespace).
	const tables = await run('nft', ['list', 'tables', 'netdev']);
	for (const m of tables.stdout.matchAll(/table netdev (mdg_(\d+)_\w+)/g)) {
		let alive = true;
		try {
			process.kill(Number(m[2]), 0);
		} catch (e) {
			alive = e.code === 'EPERM';
		}
		if (!alive)
			await run('nft', ['delete', 'table', 'netdev', m[1]]);
	}
}

/** The first 10.213.n.0/24 no interface uses. */
async function freeSubnet() {
	const out = await runOk('ip', ['-o', '-4', 'addr', 'show']);
	for (let n = 1; n <= 250; n++)
		if (!out.includes(` 10.213.${n}.`))
			return n;
	throw new Error('no free 10.213.n.0/24 for a test namespace');
}

/** Creates a namespace with a veth link to the root namespace (see the top of the file). */
export async function createNetns() {
	hookProcess();
	await removeStale();
	const k = ++counter;
	const n = await freeSubnet();
	const ns = new Netns({ name: `mdg-${process.pid}-${k}`, hostIf: `mh${process.pid}x${k}`,
		nsIf: `mn${process.pid}x${k}`, hostIp: `10.213.${n}.1`, nsIp: `10.213.${n}.2` });
	live.add(ns);
	try {
		await ns.create();
	} catch (err) {
		ns.removeSync();
		throw err;
	}
	return ns;
}

export class Netns {
	constructor({ name, hostIf, nsIf, hostIp, nsIp }) {
		Object.assign(this, { name, hostIf, nsIf, hostIp, nsIp });
		this.hostTable = name.replace(/-/g, '_');
		// What the nftables table says now; every change rewrites it from this.
		this.rules = { lossUp: 0, lossDown: 0, cut: false, blockUdp: false };
		this.rates = { up: null, down: null };
		this.removed = false;
	}

	async create() {
		await runOk('ip', ['netns', 'add', this.name]);
		await this.exec('ip', 'link', 'set', 'lo', 'up');
		await runOk('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf]);
		await runOk('ip', ['link', 'set', this.nsIf, 'netns', this.name]);
		await runOk('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', this.hostIf]);
		await runOk('ip', ['link', 'set', this.hostIf, 'up']);
		await this.exec('ip', 'addr', 'add', `${this.nsIp}/24`, 'dev', this.nsIf);
		await this.exec('ip', 'link', 'set', this.nsIf, 'up');
		await this.exec('ip', 'route', 'add', 'default', 'via', this.hostIp);
		await this.applyRules();
		// The link must carry traffic before a test relies on it (the veth comes up at once,
		// but IPv4 duplicate address detection does not apply; one ping proves the path).
		await this.exec('ping', '-c', '1', '-W', '2', this.hostIp).catch(() => {});
	}

	/** Runs a command inside the namespace; resolves stdout, rejects on failure. */
	exec(cmd, ...args) {
		return runOk('ip', ['netns', 'exec', this.name, cmd, ...args]);
	}

	/** Rewrites both nftables tables from this.rules, each in one transaction. */
	async applyRules() {
		const r = this.rules;
		const table = (name, dev, lossPct) => {
			const lines = [`type filter hook ingress device "${dev}" priority 0; policy accept;`];
			if (r.cut)
				lines.push('drop');
			if (r.blockUdp)
				lines.push('meta l4proto udp drop');
			if (lossPct > 0)
				lines.push(`numgen random mod 10000 < ${Math.round(lossPct * 100)} drop`);
			return `table netdev ${name}\ndelete table netdev ${name}\n` +
				`table netdev ${name} {\nchain wire {\n${lines.join('\n')}\n}\n}\n`;
		};
		await runOk('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'],
			{ input: table('mdg', this.nsIf, r.lossDown) });
		await runOk('nft', ['-f', '-'], { input: table(this.hostTable, this.hostIf, r.lossUp) });
	}

	/** Random loss in percent on the kiosk's link: dir 'both', 'up' or 'down'. */
	async loss(pct, { dir = 'both' } = {}) {
		if (dir === 'both' || dir === 'up')
			this.rules.lossUp = pct;
		if (dir === 'both' || dir === 'down')
			this.rules.lossDown = pct;
		await this.applyRules();
	}

	/** Cuts the kiosk's link both ways (every packet dropped, sockets stay as they are). */
	async cut() {
		this.rules.cut = true;
		await this.applyRules();
	}

	/** Ends a cut (loss, UDP block and rate limits stay). */
	async restore() {
		this.rules.cut = false;
		await this.applyRules();
	}

	/** Drops every UDP packet to and from the kiosk (on = false lets UDP through again). */
	async blockUdp(on = true) {
		this.rules.blockUdp = on;
		await this.applyRules();
	}

	/**
	 * Limits the kiosk's link to kbit/s: dir 'down' shapes the host end's egress, 'up' the
	 * namespace end's. queueMs bounds the queue (tbf latency): what does not fit is dropped,
	 * as a real line's buffer would.
	 */
	async rate(kbit, { dir = 'down', queueMs = 150 } = {}) {
		// A burst of two full packets: enough for tbf to send an MTU, small enough not to
		// let a whole video frame through at link speed.
		const args = ['qdisc', 'replace', 'dev', dir === 'down' ? this.hostIf : this.nsIf, 'root',
			'tbf', 'rate', `${kbit}kbit`, 'burst', '3200', 'latency', `${queueMs}ms`];
		if (dir === 'down')
			await runOk('tc', args);
		else
			await this.exec('tc', ...args);
		this.rates[dir] = kbit;
	}

	/** Lifts the rate limit of dir. */
	async unlimit({ dir = 'down' } = {}) {
		const args = ['qdisc', 'del', 'dev', dir === 'down' ? this.hostIf : this.nsIf, 'root'];
		if (dir === 'down')
			await run('tc', args);
		else
			await run('ip', ['netns', 'exec', this.name, 'tc', ...args]);
		this.rates[dir] = null;
	}

	/** tc -s of both ends and the nftables table, for failure reports. */
	async describe() {
		const parts = [];
		for (const [what, cmd] of [
			['host qdisc', ['tc', '-s', 'qdisc', 'show', 'dev', this.hostIf]],
			['ns qdisc', ['ip', 'netns', 'exec', this.name, 'tc', '-s', 'qdisc', 'show', 'dev',
				this.nsIf]],
			['ns nft', ['ip', 'netns', 'exec', this.name, 'nft', 'list', 'ruleset']],
			['host nft', ['nft', 'list', 'table', 'netdev', this.hostTable]]]) {
			const r = await run(cmd[0], cmd.slice(1)).catch((e) => ({ stdout: e.message }));
			parts.push(`${what}:\n${r.stdout}${r.stderr ?? ''}`);
		}
		return parts.join('\n');
	}

	/** Deletes the namespace (and with it the veth pair, its qdiscs and rules). */
	async remove() {
		if (this.removed)
			return;
		this.removed = true;
		live.delete(this);
		await run('nft', ['delete', 'table', 'netdev', this.hostTable]);
		await run('ip', ['link', 'del', this.hostIf]);
		await run('ip', ['netns', 'del', this.name]);
	}

	removeSync() {
		if (this.removed)
			return;
		this.removed = true;
		live.delete(this);
		spawnSync('nft', ['delete', 'table', 'netdev', this.hostTable], { stdio: 'ignore' });
		spawnSync('ip', ['link', 'del', this.hostIf], { stdio: 'ignore' });
		spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
	}
}

// ---------------------------------------------------------------------------------------
// The server's /metrics (Prometheus text format)

/**
 * Parses Prometheus text: resolves {samples: [{name, labels, value}], get(name, labels),
 * sum(name)}. get returns the value of the sample with that name whose labels include the
 * given ones (undefined when absent); sum adds every sample of the name (0 when absent).
 */
export function parseMetrics(text) {
	const samples = [];
	for (const raw of text.split('\n')) {
		const line = raw.trim();
		if (!line || line.startsWith('#'))
			continue;
		const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
		if (!m)
			continue;
		const labels = {};
		if (m[3])
			for (const l of m[3].matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
				labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
		samples.push({ name: m[1], labels, value: Number(m[4]) });
	}
	const matches = (s, name, labels) => s.name === name &&
		Object.entries(labels).every(([k, v]) => s.labels[k] === v);
	return {
		samples,
		get: (name, labels = {}) => samples.find((s) => matches(s, name, labels))?.value,
		sum: (name) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0),
		has: (name) => samples.some((s) => s.name === name),
	};
}

/** GET /metrics of a stack, parsed. */
export async function fetchMetrics(stack) {
	// A server on a veth address sees the test as a LAN client: /metrics wants the token.
	const headers = stack.metricsToken ? { Authorization: `Bearer ${stack.metricsToken}` } : {};
	const r = await stack.get('/metrics', { headers });
	if (r.status !== 200)
		throw new Error(`GET /metrics: status ${r.status}: ${r.body.slice(0, 200)}`);
	return parseMetrics(r.body);
}

/** The issue-5 counters from a parsed /metrics (missing ones as null), for MEASURE lines. */
export function mediaCounters(m) {
	const names = ['nack_sent_total', 'nack_received_total', 'rtx_sent_total',
		'rtx_received_total', 'remb_sent_total', 'pli_sent_total', 'pli_received_total',
		'consent_expired_total', 'ice_tcp_connections_total'];
	const out = {};
	for (const n of names)
		out[n] = m.has(`madoguchi_${n}`) ? m.sum(`madoguchi_${n}`) : null;
	out.downlink_estimate_bps = Object.fromEntries(m.samples
		.filter((s) => s.name === 'madoguchi_downlink_estimate_bps')
		.map((s) => [s.labels.peer ?? '?', s.value]));
	return out;
}

export function diffCounters(a, b) {
	const out = {};
	for (const k of Object.keys(b))
		if (typeof b[k] === 'number')
			out[k] = a[k] === null || a[k] === undefined ? b[k] : b[k] - a[k];
	return out;
}

// ---------------------------------------------------------------------------------------
// A call across the namespace

/** Writes the line the lead quotes: `MEASURE {...}`. */
export function measure(obj) {
	console.log('MEASURE ' + JSON.stringify(obj));
}

/**
 * The stack of one network test file: a namespace, then a server bound to the host end of
 * the veth (HTTP and media: the desk in the root namespace reaches it locally, the kiosk over
 * the link), with TLS and the demo seed; and a Browsers for the pages. close() undoes it all
 * (browsers, server with its exit check, namespace); keep the temp dir when failed.
 */
const NET_METRICS_TOKEN = 'netns-metrics-3b8e61f0c2d9';

export async function startNetStack({ serveArgs = [], config = null } = {}) {
	const net = await createNetns();
	let stack;
	try {
		stack = await startStack({ tls: true, bind: net.hostIp, mediaIp: net.hostIp,
			serveArgs, config: { 'metrics-token': NET_METRICS_TOKEN, ...(config ?? {}) } });
		stack.metricsToken = NET_METRICS_TOKEN;
	} catch (err) {
		await net.remove();
		throw err;
	}
	const browsers = new Browsers(stack, { fps: 30 });
	return {
		net, stack, browsers,
		async close({ failed = false } = {}) {
			try {
				await browsers.closeAll();
				await stack.stop({ keep: failed });
			} finally {
				await net.remove();
			}
		},
	};
}

/**
 * A call across the link: the desk (root namespace) logs in as sato and is available, the
 * kiosk (inside net) taps hoken, the desk accepts, and both decode at least minFrames video
 * frames. Resolves {kiosk, desk, acceptAt, visit, firstFrameMs: {kiosk, desk}}. The desk page
 * records every `ended` event it gets in window.__netEnded ({at, visit, reason}).
 */
export async function startNetCall({ stack, browsers, net }, { minFrames = 30,
	timeoutMs = 30000 } = {}) {
	const desk = await step('open the desk page', () => browsers.open('desk',
		`${stack.url}/desk/`));
	const kiosk = await step('open the kiosk page inside the namespace', () => browsers.open(
		'kiosk', `${stack.url}/kiosk/#token=${stack.tokens.yamada}`, { netns: net.name }));
	await step('desk login as sato', () => loginStaff(desk, 'sato', stack.logins.sato.password));
	await step('desk records ended events', () => desk.waitForFunction(() => {
		const c = window.madoguchi?.client;
		if (!c)
			return false;
		window.__netEnded = [];
		c.on('ended', (ev) => window.__netEnded.push({ at: Date.now(), visit: ev.visit,
			reason: ev.reason }));
		return true;
	}, null, { timeout: 15000 }));
	await step('kiosk: hoken becomes available and is tapped', async () => {
		await kiosk.waitForSelector('button[data-dept="hoken"]:enabled', { timeout: 20000 });
		await kiosk.click('button[data-dept="hoken"]');
	});
	const acceptAt = await step('desk: accept the ringing call', () => acceptOn(desk));
	const firstFrameMs = { kiosk: null, desk: null };
	await step(`both sides decode ${minFrames} frames`, async () => {
		const deadline = acceptAt + timeoutMs;
		let k, d;
		for (;;) {
			[k, d] = await Promise.all([mediaFigures(kiosk), mediaFigures(desk)]);
			for (const [name, s] of [['kiosk', k], ['desk', d]])
				if (firstFrameMs[name] === null && s?.video?.framesDecoded > 0)
					firstFrameMs[name] = Date.now() - acceptAt;
			if (k?.video?.framesDecoded >= minFrames && d?.video?.framesDecoded >= minFrames)
				break;
			if (Date.now() > deadline)
				throw new Error(`no ${minFrames} frames on both sides within ${timeoutMs} ms ` +
					`of accept\nkiosk: ${JSON.stringify(k)}\ndesk: ${JSON.stringify(d)}`);
			await sleep(200);
		}
	});
	const visit = await madoguchi(kiosk, 'visit');
	return { kiosk, desk, acceptAt, visit, firstFrameMs };
}

/** The error to throw for a failed network test: the browsers' report (screenshots, console,
 * server log) plus the link's qdiscs and nftables rules. */
export async function netFailure({ browsers, net }, err) {
	const link = await net.describe().catch((e) => `(no link description: ${e.message})`);
	return browsers.failure(new Error(`${err.message}\nlink:\n${link}`, { cause: err }));
}

/** The ended events the desk page recorded (see startNetCall). */
export function deskEnded(desk) {
	return desk.evaluate(() => window.__netEnded ?? []);
}

/** Reads a pid's resident memory in kB (for reports). */
export function rssKb(pid) {
	try {
		const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
		return m ? Number(m[1]) : null;
	} catch {
		return null;
	}
}

export { sleep };
