// The integration tests' stack: a throwaway PostgreSQL cluster, a migrated and seeded
// database, and a real `madoguchi serve` on free loopback ports; plus a small promise-based
// WebSocket client for the protocol (shared/PROTOCOL.md).
//
//   const stack = await startStack({ tls: true });
//   const kiosk = await wsClient(stack.wsUrl);
//   const reply = await kiosk.request('hello', { role: 'kiosk', token: stack.tokens.yamada });
//   ...
//   await stack.stop(); // asserts the server exited 0 (ASan leak reports make it non-zero)
//
// Environment: MADOGUCHI_BIN (the server binary; default build-test/server/madoguchi),
// MADOGUCHI_ROOT (the source tree; default two levels above this file),
// MADOGUCHI_TEST_LOG_LEVEL (the server's --log-level; default info),
// MADOGUCHI_KEEP_TMP=1 (keep the temp dir even when everything passed).

import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export const ROOT = process.env.MADOGUCHI_ROOT ||
	path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.MADOGUCHI_BIN || path.join(ROOT, 'build-test', 'server', 'madoguchi');

const LISTEN_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 15000;

// Stacks still running, so that a test process dying half-way does not leave a server or a
// PostgreSQL cluster behind.
const liveStacks = new Set();
process.on('exit', () => {
	for (const s of liveStacks)
		s.killNow();
});

// ---------------------------------------------------------------------------------------
// Child processes

/** Runs a command to completion. Resolves {code, signal, stdout, stderr}; never rejects on a
 * non-zero exit (see runOk). */
export function run(cmd, args, { input, timeoutMs = 60000, cwd = ROOT, env } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { cwd, env: env || process.env,
			stdio: ['pipe', 'pipe', 'pipe'] });
		let stdout = '', stderr = '';
		child.stdout.on('data', (d) => { stdout += d; });
		child.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`${describe(cmd, args)} did not finish within ${timeoutMs} ms\n` +
				`stdout:\n${stdout}\nstderr:\n${stderr}`));
		}, timeoutMs);
		child.on('error', (err) => {
			clearTimeout(timer);
			reject(new Error(`cannot run ${describe(cmd, args)}: ${err.message}`));
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr });
		});
		child.stdin.on('error', () => {}); // the child may exit without reading its input
		child.stdin.end(input ?? '');
	});
}

/** Like run, but rejects with the command's output unless it exits 0; resolves stdout. */
export async function runOk(cmd, args, opts) {
	const r = await run(cmd, args, opts);
	if (r.code !== 0)
		throw new Error(`${describe(cmd, args)} failed (exit ${r.code}${r.signal ? ', ' +
			r.signal : ''})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
	return r.stdout;
}

function describe(cmd, args) {
	return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))
		.join(' ');
}

// ---------------------------------------------------------------------------------------
// Ports

function tcpPortFree(port) {
	return new Promise((resolve) => {
		const srv = net.createServer();
		srv.once('error', () => resolve(false));
		srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
	});
}

function bindUdp(port) {
	return new Promise((resolve) => {
		const sock = dgram.createSocket('udp4');
		sock.once('error', () => { sock.close(); resolve(0); });
		sock.bind(port, '127.0.0.1', () => {
			const p = sock.address().port;
			sock.close(() => resolve(p));
		});
	});
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freeTcpPort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/** A port free for both UDP (media) and TCP (ICE-TCP) on 127.0.0.1. */
export async function freeMediaPort() {
	for (let i = 0; i < 50; i++) {
		const p = await bindUdp(0);
		if (p && await tcpPortFree(p))
			return p;
	}
	throw new Error('no port free for both UDP and TCP after 50 tries');
}

// ---------------------------------------------------------------------------------------
// The stack

/** Parses the file written by deploy/seed-demo.sh. */
export function parseDemoFile(text) {
	const tokens = {}, kiosks = [], logins = {};
	for (const line of text.split('\n')) {
		if (!line.trim() || line.startsWith('#'))
			continue;
		const f = line.split(' ');
		if (f[0] === 'kiosk') {
			const k = { branch: f[1], token: f[2], name: f.slice(3).join(' ') };
			kiosks.push(k);
			tokens[k.branch] ??= k.token;
		} else if (f[0] === 'login') {
			logins[f[1]] = { username: f[1], password: f[2], departments: f[3].split(','),
				flags: f[4] === '-' ? [] : f[4].split(','), name: f.slice(5).join(' ') };
		}
	}
	return { tokens, kiosks, logins };
}

async function makeCert(dir, extraIp = null) {
	const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
	const san = 'subjectAltName=DNS:localhost,IP:127.0.0.1' +
		(extraIp && extraIp !== '127.0.0.1' && net.isIP(extraIp) ? `,IP:${extraIp}` : '');
	await runOk('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
		'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost',
		'-addext', san, '-keyout', key, '-out', cert]);
	return { cert, key };
}

/**
 * Starts PostgreSQL + madoguchi. Options:
 *   tls       serve HTTPS/WSS with a fresh self-signed certificate (default true); false
 *             passes --no-tls (plain HTTP/WS on loopback)
 *   seed      seed the demo city with deploy/seed-demo.sh (default true)
 *   config    an object written as JSON to TMP/config.json and passed with --config
 *   serveArgs extra arguments for `serve`
 *   bind      the HTTP/WebSocket address (default 127.0.0.1); url and wsUrl use it, or
 *             127.0.0.1 when it is 0.0.0.0 (the network tests bind a veth address that
 *             both the root namespace and a test namespace reach)
 *   mediaIp   the media address announced in ICE candidates (default 127.0.0.1)
 *   mediaBind the media sockets' address (--media-bind; default: the server's default)
 */
export async function startStack({ tls = true, seed = true, config = null, serveArgs = [],
	bind = '127.0.0.1', mediaIp = '127.0.0.1', mediaBind = null } = {}) {
	if (!fs.existsSync(BIN))
		throw new Error(`server binary ${BIN} does not exist (build it, or set MADOGUCHI_BIN)`);
	const tmp = fs.mkdtempSync('/tmp/madoguchi-test-');
	// PostgreSQL runs as `postgres` when the tests run as root: it must reach the cluster.
	fs.chmodSync(tmp, 0o755);
	const stack = new Stack(tmp);
	liveStacks.add(stack);
	try {
		await stack.start({ tls, seed, config, serveArgs, bind, mediaIp, mediaBind });
	} catch (err) {
		await stack.abort();
		throw new Error(`${err.message}\n(stack files kept in ${tmp})`, { cause: err });
	}
	return stack;
}

class Stack {
	constructor(tmp) {
		this.tmp = tmp;
		this.root = ROOT;
		this.bin = BIN;
		this.pgDir = path.join(tmp, 'pg');
		this.pgStarted = false;
		this.server = null;
		this.exit = null; // {code, signal} once the server has exited
		this.log = '';
		this.logFile = path.join(tmp, 'server.log');
	}

	async start({ tls, seed, config, serveArgs, bind, mediaIp, mediaBind }) {
		const out = await runOk('bash', [path.join(ROOT, 'deploy', 'pg-local.sh'), 'start',
			this.pgDir, '--fast']);
		this.pgStarted = true;
		// Three roles (deploy/pg-local.sh): conninfo is the schema's owner, which migrate,
		// admin and the seeding use; serverConninfo the server's own role, which may only
		// read and write rows; psql() runs as the cluster's superuser (dbUser).
		this.conninfo = out.trim().split('\n').pop();
		this.ownerConninfo = this.conninfo;
		const conninfoOf = async (role) => (await runOk('bash', [path.join(ROOT, 'deploy',
			'pg-local.sh'), 'conninfo', this.pgDir, role])).trim();
		this.serverConninfo = await conninfoOf('server');
		this.superConninfo = await conninfoOf('super');
		this.sockDir = /host=(\S+)/.exec(this.conninfo)[1];
		this.dbUser = /user=(\S+)/.exec(this.superConninfo)[1];

		await runOk(BIN, ['--db', this.conninfo, 'migrate']);
		if (seed) {
			const demo = path.join(this.tmp, 'demo.txt');
			await runOk('bash', [path.join(ROOT, 'deploy', 'seed-demo.sh'), this.conninfo, BIN,
				demo]);
			Object.assign(this, parseDemoFile(fs.readFileSync(demo, 'utf8')));
		} else {
			Object.assign(this, { tokens: {}, kiosks: [], logins: {} });
		}

		this.port = await freeTcpPort();
		this.mediaPort = await freeMediaPort();
		const args = ['--db', this.serverConninfo];
		if (config) {
			const file = path.join(this.tmp, 'config.json');
			fs.writeFileSync(file, JSON.stringify(config, null, 2));
			args.push('--config', file);
		}
		args.push('serve', '--bind', bind, '--port', String(this.port),
			'--media-port', String(this.mediaPort), '--media-ip', mediaIp,
			'--web', path.join(ROOT, 'web'),
			'--log-level', process.env.MADOGUCHI_TEST_LOG_LEVEL || 'info');
		if (mediaBind)
			args.push('--media-bind', mediaBind);
		if (tls) {
			const { cert, key } = await makeCert(this.tmp, bind);
			args.push('--tls-cert', cert, '--tls-key', key);
		} else {
			args.push('--no-tls');
		}
		args.push(...serveArgs);
		this.serveArgs = args;
		this.serveCommand = describe(BIN, args);
		await this.spawnServer(args);

		const scheme = tls ? 'https' : 'http';
		this.host = bind === '0.0.0.0' ? '127.0.0.1' : bind;
		this.url = `${scheme}://${this.host}:${this.port}`;
		this.wsUrl = `${tls ? 'wss' : 'ws'}://${this.host}:${this.port}/ws`;
	}

	spawnServer(args) {
		const logStream = fs.createWriteStream(this.logFile);
		return new Promise((resolve, reject) => {
			// The temp dir as working directory: whatever the server writes to relative paths
			// (a spool, var/...) stays with this stack, away from the tree and other stacks.
			const child = spawn(BIN, args, { cwd: this.tmp, stdio: ['ignore', 'pipe', 'pipe'] });
			this.server = child;
			let ready = false;
			const timer = setTimeout(() => {
				reject(new Error(`the server did not log msg="listening" within ` +
					`${LISTEN_TIMEOUT_MS / 1000} s\ncommand: ${this.serveCommand}\n` +
					`log:\n${this.log}`));
			}, LISTEN_TIMEOUT_MS);
			const onData = (d) => {
				this.log += d;
				logStream.write(d);
				if (!ready && /msg="?listening"?/.test(this.log)) {
					ready = true;
					clearTimeout(timer);
					resolve();
				}
			};
			child.stdout.on('data', onData);
			child.stderr.on('data', onData);
			child.on('error', (err) => {
				clearTimeout(timer);
				reject(new Error(`cannot start ${BIN}: ${err.message}`));
			});
			child.on('exit', (code, signal) => {
				this.exit = { code, signal };
				if (!ready) {
					clearTimeout(timer);
					reject(new Error(`the server exited during start (code ${code}, signal ` +
						`${signal})\ncommand: ${this.serveCommand}\nlog:\n${this.log}`));
				}
			});
			child.on('close', () => logStream.end());
		});
	}

	/** True while the server process runs. */
	serverAlive() {
		return this.server !== null && this.exit === null;
	}

	/** Everything the server wrote to stdout and stderr so far. */
	serverLog() {
		return this.log;
	}

	/** psql -At: the output as text, trimmed; throws with psql's message on error. */
	async psql(sql) {
		const out = await runOk('psql', ['-X', '-h', this.sockDir, '-U', this.dbUser,
			'-d', 'madoguchi', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
		return out.trim();
	}

	/** Runs a query whose single column is JSON (e.g. row_to_json) and parses each row. */
	async psqlJson(sql) {
		const out = await this.psql(sql);
		return out ? out.split('\n').map((l) => JSON.parse(l)) : [];
	}

	/** The records of one visit: {visit, legs} (legs in seq order; visit null if absent). */
	async visitRecord(visitId) {
		if (!/^[0-9a-f-]{36}$/i.test(visitId))
			throw new Error(`not a visit id: ${visitId}`);
		const [visit] = await this.psqlJson(
			`SELECT row_to_json(v) FROM visits v WHERE v.id = '${visitId}'`);
		const legs = await this.psqlJson(
			`SELECT row_to_json(l) FROM legs l WHERE l.visit_id = '${visitId}' ORDER BY l.seq`);
		return { visit: visit ?? null, legs };
	}

	/** Polls visitRecord until check(record) is true (records are written asynchronously). */
	async waitForRecord(visitId, check, what, timeoutMs = 10000) {
		const deadline = Date.now() + timeoutMs;
		let rec;
		for (;;) {
			rec = await this.visitRecord(visitId);
			if (check(rec))
				return rec;
			if (Date.now() > deadline)
				throw new Error(`database records of visit ${visitId} never showed ${what} ` +
					`within ${timeoutMs} ms; last seen:\n${JSON.stringify(rec, null, 2)}`);
			await sleep(200);
		}
	}

	/** `madoguchi admin ARGS...`; resolves stdout. */
	admin(...args) {
		return runOk(BIN, ['--db', this.conninfo, 'admin', ...args]);
	}

	/** Adds a kiosk and returns its token (for tests that need more kiosks than the demo). */
	async addKiosk(branch, name) {
		const out = await this.admin('kiosk', 'add', '--branch', branch, '--name', name);
		const token = out.split('\n')[0].trim();
		if (!token)
			throw new Error(`kiosk add printed no token: ${JSON.stringify(out)}`);
		return token;
	}

	/** GET on the server; resolves {status, headers, body, json (null unless JSON)}. */
	get(urlPath, { headers = {} } = {}) {
		const mod = this.url.startsWith('https') ? https : http;
		return new Promise((resolve, reject) => {
			const req = mod.get(this.url + urlPath, { rejectUnauthorized: false, headers,
				timeout: 5000 }, (res) => {
				let body = '';
				res.setEncoding('utf8');
				res.on('data', (d) => { body += d; });
				res.on('end', () => {
					let json = null;
					try { json = JSON.parse(body); } catch { /* not JSON */ }
					resolve({ status: res.statusCode, headers: res.headers, body, json });
				});
			});
			req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
			req.on('error', reject);
		});
	}

	/** Any request: body (a string, or an object sent as JSON) gets Content-Type
	 * application/json unless headers say otherwise; localAddress picks the source address.
	 * Resolves {status, headers, body, json}. */
	http(method, urlPath, { headers = {}, body, localAddress } = {}) {
		const mod = this.url.startsWith('https') ? https : http;
		const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body :
			JSON.stringify(body));
		const hdrs = { ...(data ? { 'Content-Type': 'application/json',
			'Content-Length': data.length } : {}), ...headers };
		return new Promise((resolve, reject) => {
			const req = mod.request(this.url + urlPath, { method, headers: hdrs, localAddress,
				rejectUnauthorized: false, timeout: 10000 }, (res) => {
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (d) => { text += d; });
				res.on('end', () => {
					let json = null;
					try { json = JSON.parse(text); } catch { /* not JSON */ }
					resolve({ status: res.statusCode, headers: res.headers, body: text, json });
				});
			});
			req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
			req.on('error', reject);
			req.end(data ?? undefined);
		});
	}

	waitServerExit(timeoutMs) {
		if (this.exit || !this.server)
			return Promise.resolve(true);
		return new Promise((resolve) => {
			const timer = setTimeout(() => resolve(false), timeoutMs);
			this.server.once('exit', () => { clearTimeout(timer); resolve(true); });
		});
	}

	async stopPg() {
		if (!this.pgStarted)
			return;
		this.pgStarted = false;
		const r = await run('bash', [path.join(ROOT, 'deploy', 'pg-local.sh'), 'stop', this.pgDir,
			'--fast']);
		if (r.code !== 0)
			process.stderr.write(`warning: stopping PostgreSQL in ${this.pgDir} failed:\n` +
				`${r.stderr}\n`);
	}

	/** Stops PostgreSQL at once (pg_ctl stop -m immediate) under the running server. */
	async pgStop() {
		await runOk('bash', [path.join(ROOT, 'deploy', 'pg-local.sh'), 'stop', this.pgDir,
			'--fast']);
		this.pgStarted = false;
	}

	/** Starts the stack's PostgreSQL again (same cluster, same socket). */
	async pgStart() {
		await runOk('bash', [path.join(ROOT, 'deploy', 'pg-local.sh'), 'start', this.pgDir,
			'--fast']);
		this.pgStarted = true;
	}

	/** Kills the server with SIGKILL (no shutdown at all) and waits for it to be gone. */
	async killServer() {
		if (!this.serverAlive())
			throw new Error('killServer: the server is not running');
		this.server.kill('SIGKILL');
		if (!await this.waitServerExit(5000))
			throw new Error('killServer: the server did not die within 5 s of SIGKILL');
	}

	/** Starts the server again with the same arguments and working directory (after
	 * killServer); the earlier run's output stays in earlierLog, its log file in
	 * server.log.N. Resolves once it is listening. */
	async restartServer() {
		if (this.serverAlive())
			throw new Error('restartServer: the server is still running');
		this.restarts = (this.restarts ?? 0) + 1;
		this.earlierLog = (this.earlierLog ?? '') + this.log;
		this.log = '';
		this.exit = null;
		fs.renameSync(this.logFile, `${this.logFile}.${this.restarts}`);
		await this.spawnServer(this.serveArgs);
	}

	/**
	 * Another `madoguchi serve` on this stack's database (the active/standby tests): the first
	 * server's arguments with its own HTTP and media ports, plus extraArgs (later options win,
	 * so ['--node-id', 'b'] renames it), in its own working directory TMP/name (its own spool)
	 * with its own log. Resolves a Stack for it once it logs msg="listening": serverLog(),
	 * get(), killServer(), restartServer() and stop() work on it as on the first (stop()
	 * leaves PostgreSQL to the first stack: stop this one first).
	 */
	async startNode(name, extraArgs = []) {
		if (!/^[\w-]+$/.test(name))
			throw new Error(`not a node name: ${name}`);
		const node = new Stack(path.join(this.tmp, name));
		fs.mkdirSync(node.tmp, { mode: 0o755 });
		for (const k of ['conninfo', 'ownerConninfo', 'serverConninfo', 'superConninfo', 'sockDir',
			'dbUser', 'tokens', 'kiosks', 'logins'])
			node[k] = this[k];
		node.port = await freeTcpPort();
		node.mediaPort = await freeMediaPort();
		const ports = { '--port': String(node.port), '--media-port': String(node.mediaPort) };
		node.serveArgs = this.serveArgs.map((a, i, all) => ports[all[i - 1]] ?? a)
			.concat(extraArgs);
		node.serveCommand = describe(BIN, node.serveArgs);
		liveStacks.add(node);
		await node.spawnServer(node.serveArgs);
		node.host = this.host;
		node.url = this.url.replace(/:\d+$/, `:${node.port}`);
		node.wsUrl = this.wsUrl.replace(/:\d+\/ws$/, `:${node.port}/ws`);
		return node;
	}

	/** The server's record spool (the default path, relative to its working directory). */
	get spoolPath() {
		return path.join(this.tmp, 'var', 'spool', 'records.spool');
	}

	/** Tears down after a failed start; keeps the temp dir for inspection. */
	async abort() {
		if (this.serverAlive()) {
			this.server.kill('SIGKILL');
			await this.waitServerExit(5000);
		}
		await this.stopPg();
		liveStacks.delete(this);
	}

	/**
	 * Stops the server with SIGTERM and asserts a clean exit 0 (a sanitizer report or a crash
	 * makes it fail, with the log), then stops PostgreSQL and removes the temp dir (kept when
	 * anything failed, when keep is true, or with MADOGUCHI_KEEP_TMP=1).
	 */
	async stop({ keep = false } = {}) {
		let problem = null;
		if (this.exit) {
			problem = `the server had already exited (code ${this.exit.code}, signal ` +
				`${this.exit.signal}) before stop()`;
		} else if (this.server) {
			this.server.kill('SIGTERM');
			if (!await this.waitServerExit(STOP_TIMEOUT_MS)) {
				this.server.kill('SIGKILL');
				await this.waitServerExit(5000);
				problem = `the server did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM`;
			} else if (this.exit.code !== 0) {
				problem = `the server exited with code ${this.exit.code}, signal ` +
					`${this.exit.signal} after SIGTERM (0 expected; a sanitizer report?)`;
			}
		}
		await this.stopPg();
		liveStacks.delete(this);
		if (problem)
			throw new Error(`${problem}\nlog (also in ${this.logFile}):\n${this.log}`);
		if (keep || process.env.MADOGUCHI_KEEP_TMP === '1')
			process.stderr.write(`stack files kept in ${this.tmp}\n`);
		else
			fs.rmSync(this.tmp, { recursive: true, force: true });
	}

	/** Synchronous last-resort cleanup for process exit. */
	killNow() {
		if (this.serverAlive())
			this.server.kill('SIGKILL');
		if (this.pgStarted)
			spawnSync('bash', [path.join(ROOT, 'deploy', 'pg-local.sh'), 'stop', this.pgDir,
				'--fast'], { stdio: 'ignore' });
	}
}

// ---------------------------------------------------------------------------------------
// WebSocket client

export function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

/** Opens a protocol client; rejects if the connection is not open within timeoutMs.
 * localAddress picks the client's source address (any of 127/8 reaches a loopback server),
 * headers adds request headers (e.g. Origin). */
export function wsClient(url, { timeoutMs = 5000, localAddress, headers } = {}) {
	return new Promise((resolve, reject) => {
		const c = new WsClient(url, { localAddress, headers });
		const timer = setTimeout(() => {
			c.ws.terminate();
			reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`));
		}, timeoutMs);
		c.ws.once('open', () => { clearTimeout(timer); resolve(c); });
		c.ws.once('close', (code) => {
			clearTimeout(timer);
			reject(new Error(`WebSocket ${url} closed (code ${code}) before opening` +
				(c.error ? `: ${c.error.message}` : '')));
		});
	});
}

/** A test file's stack and its protocol clients: starts the stack (startStack(opts)) before
 * the file's tests, and closes every client it opened and then the stack after them.
 * f.stack is the stack once started; f.connect() opens a client closed at the end. */
export function stackForFile(opts = {}) {
	const f = {
		stack: null,
		clients: [],
		async connect() {
			const c = await wsClient(f.stack.wsUrl);
			f.clients.push(c);
			return c;
		},
	};
	before(async () => {
		f.stack = await startStack(opts);
	});
	after(async () => {
		for (const c of f.clients)
			await c.close();
		await f.stack?.stop();
	});
	return f;
}

/** Tries a WebSocket upgrade and resolves the HTTP status that refused it, or 101 when it was
 * accepted (the socket is then closed at once). */
export function wsUpgradeStatus(url, { localAddress, headers, timeoutMs = 5000 } = {}) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { rejectUnauthorized: false, localAddress, headers });
		const timer = setTimeout(() => {
			ws.terminate();
			reject(new Error(`WebSocket upgrade to ${url} got no answer within ${timeoutMs} ms`));
		}, timeoutMs);
		ws.on('unexpected-response', (req, res) => {
			clearTimeout(timer);
			resolve(res.statusCode);
			req.destroy();
		});
		ws.on('open', () => {
			clearTimeout(timer);
			ws.terminate();
			resolve(101);
		});
		ws.on('error', (err) => {
			clearTimeout(timer);
			reject(err);
		});
	});
}

class WsClient {
	constructor(url, { localAddress, headers } = {}) {
		this.url = url;
		this.ws = new WebSocket(url, { rejectUnauthorized: false, maxPayload: 1 << 20,
			localAddress, headers });
		this.nextId = 1;
		this.pending = new Map(); // id -> {resolve, reject, timer, type}
		this.events = [];         // messages not yet consumed by waitFor (events, id-less errors)
		this.waiters = [];        // {type, pred, resolve, reject, timer}
		this.received = [];       // every message, for error reports
		this.closeCode = null;
		this.closeReason = null;
		this.error = null;
		this.closed = new Promise((resolve) => {
			this.ws.on('close', (code, reason) => {
				this.closeCode = code;
				this.closeReason = reason.toString();
				const why = new Error(`connection closed (code ${code} ` +
					`${JSON.stringify(this.closeReason)})`);
				for (const p of this.pending.values()) {
					clearTimeout(p.timer);
					p.reject(new Error(`${why.message} before the reply to ${p.type}\n` +
						this.recent()));
				}
				this.pending.clear();
				for (const w of this.waiters) {
					clearTimeout(w.timer);
					w.reject(new Error(`${why.message} while waiting for event ${w.type}\n` +
						this.recent()));
				}
				this.waiters = [];
				resolve({ code, reason: this.closeReason });
			});
		});
		this.ws.on('error', (err) => { this.error = err; });
		this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
	}

	onMessage(data, isBinary) {
		let msg;
		try {
			msg = JSON.parse(data.toString());
		} catch {
			msg = { type: '__unparsable', raw: data.toString(), binary: isBinary };
		}
		this.received.push(msg);
		if (msg && msg.id != null && this.pending.has(msg.id)) {
			const p = this.pending.get(msg.id);
			this.pending.delete(msg.id);
			clearTimeout(p.timer);
			p.resolve(msg);
			return;
		}
		const i = this.waiters.findIndex((w) => w.type === msg.type && w.pred(msg));
		if (i >= 0) {
			const [w] = this.waiters.splice(i, 1);
			clearTimeout(w.timer);
			w.resolve(msg);
			return;
		}
		this.events.push(msg);
	}

	/** The last messages received, for failure messages. */
	recent(n = 8) {
		const last = this.received.slice(-n).map((m) => '  ' + JSON.stringify(m).slice(0, 300));
		return `last ${last.length} messages received on ${this.url}:\n${last.join('\n')}`;
	}

	get isOpen() {
		return this.ws.readyState === WebSocket.OPEN;
	}

	/** Sends {type, id, ...fields} and resolves the reply ({type:"ok"} or {type:"error"}). */
	request(type, fields = {}, { timeoutMs = 5000 } = {}) {
		const id = fields.id ?? this.nextId++;
		const msg = { type, id, ...fields };
		return new Promise((resolve, reject) => {
			if (!this.isOpen) {
				reject(new Error(`cannot send ${type}: connection not open (close code ` +
					`${this.closeCode})`));
				return;
			}
			const timer = setTimeout(() => {
				this.pending.delete(id);
				reject(new Error(`no reply to ${type} (id ${id}) within ${timeoutMs} ms\n` +
					this.recent()));
			}, timeoutMs);
			this.pending.set(id, { resolve, reject, timer, type });
			this.ws.send(JSON.stringify(msg));
		});
	}

	/** Sends a frame as is: a string as a text frame, a Buffer as a binary frame. */
	sendRaw(data) {
		this.ws.send(data, { binary: Buffer.isBuffer(data) });
	}

	/** Resolves (and consumes) the first event of this type matching pred, past or future. */
	waitFor(type, pred = () => true, timeoutMs = 5000) {
		const i = this.events.findIndex((m) => m.type === type && pred(m));
		if (i >= 0)
			return Promise.resolve(this.events.splice(i, 1)[0]);
		return new Promise((resolve, reject) => {
			if (this.closeCode !== null) {
				reject(new Error(`connection closed (code ${this.closeCode}) while waiting ` +
					`for event ${type}\n${this.recent()}`));
				return;
			}
			const w = { type, pred, resolve, reject };
			w.timer = setTimeout(() => {
				this.waiters = this.waiters.filter((x) => x !== w);
				reject(new Error(`no matching ${type} event within ${timeoutMs} ms\n` +
					this.recent()));
			}, timeoutMs);
			this.waiters.push(w);
		});
	}

	/** Resolves {code, reason} once the server closed the connection. */
	waitClose(timeoutMs = 5000) {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(
				`connection still open after ${timeoutMs} ms\n${this.recent()}`)), timeoutMs);
			this.closed.then((r) => { clearTimeout(timer); resolve(r); });
		});
	}

	/** Closes the connection (normal closure) and waits for the close to complete. */
	async close() {
		if (this.closeCode !== null)
			return;
		this.ws.close(1000);
		await this.waitClose(2000).catch(() => this.ws.terminate());
	}
}

// ---------------------------------------------------------------------------------------
// Assertions on replies

/** Throws unless reply is {type:"ok"}; returns it. */
export function assertOk(reply, what) {
	if (!reply || reply.type !== 'ok')
		throw new Error(`${what}: expected an ok reply, got ${JSON.stringify(reply)}`);
	return reply;
}

/** Throws unless reply is {type:"error", code}; returns it. */
export function assertError(reply, code, what) {
	if (!reply || reply.type !== 'error' || reply.code !== code)
		throw new Error(`${what}: expected error ${code}, got ${JSON.stringify(reply)}`);
	return reply;
}

/** Protocol error codes (shared/PROTOCOL.md). */
export const ERROR_CODES = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict',
	'unavailable', 'too_many', 'internal'];
