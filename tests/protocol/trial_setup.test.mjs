// The trial setup (issue 9, finding 8): deploy/pg-local.sh's cluster lets in only the user who
// started it (socket directory and socket 0700, peer authentication through a map, no `trust`
// anywhere), and deploy/seed-demo.sh --random-passwords, which run.sh asks for when it serves
// beyond loopback, leaves none of the public demo passwords valid: new random ones, printed
// once and kept in the demo file (mode 0600), and the old login tokens revoked with them.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, BIN, parseDemoFile, run, runOk, startStack } from '../lib/harness.mjs';

let stack;

before(async () => {
	stack = await startStack({ tls: false });
});

after(async () => {
	await stack?.stop();
});

function post(urlPath, body) {
	const data = Buffer.from(JSON.stringify(body));
	return new Promise((resolve, reject) => {
		const req = http.request(stack.url + urlPath, { method: 'POST', timeout: 10000,
			headers: { 'Content-Type': 'application/json', 'Content-Length': data.length } },
		(res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { text += d; });
			res.on('end', () => {
				let json = null;
				try { json = JSON.parse(text); } catch { /* not JSON */ }
				resolve({ status: res.statusCode, body: text, json });
			});
		});
		req.on('timeout', () => req.destroy(new Error(`POST ${urlPath} timed out`)));
		req.on('error', reject);
		req.end(data);
	});
}

const login = (username, password) => post('/api/login', { username, password });

function statsWith(token) {
	return stack.get('/api/stats/monthly?from=2024-01&to=2024-01',
		{ headers: { Authorization: `Bearer ${token}` } });
}

const mode = (p) => fs.statSync(p).mode & 0o777;

test('the cluster is reachable only by the user who started it', async (t) => {
	assert.equal(mode(stack.sockDir), 0o700, 'socket directory');
	assert.equal(mode(path.join(stack.sockDir, '.s.PGSQL.5432')), 0o700, 'socket');
	assert.equal(mode(stack.pgDir), 0o700, 'cluster directory');
	assert.equal(await stack.psql(
		"SELECT count(*) FROM pg_hba_file_rules WHERE auth_method <> 'peer' OR error IS NOT NULL"),
	'0', 'peer authentication only, no trust');
	assert.equal(await stack.psql("SELECT setting FROM pg_settings WHERE name = 'listen_addresses'"),
		'', 'no TCP');

	// Peer authentication with a map: even the user who started it is only let in as the
	// three roles the map names.
	await stack.psql('CREATE ROLE stranger LOGIN');
	const stranger = await run('psql', ['-X', '-h', stack.sockDir, '-U', 'stranger',
		'-d', 'madoguchi', '-c', 'SELECT 1']);
	assert.notEqual(stranger.code, 0);
	assert.match(stranger.stderr, /Peer authentication failed/);

	if (process.getuid() !== 0) {
		t.diagnostic('not root: cannot try another local user');
		return;
	}
	for (const user of [stack.dbUser, 'madoguchi_owner', 'madoguchi']) {
		const r = await run('runuser', ['-u', 'nobody', '--', 'psql', '-X', '-h', stack.sockDir,
			'-U', user, '-d', 'madoguchi', '-c', 'SELECT 1'], { cwd: '/' });
		assert.notEqual(r.code, 0, `nobody connected as ${user}`);
		assert.match(r.stderr, /Permission denied|authentication failed/,
			`nobody as ${user}: ${r.stderr}`);
	}
});

test('--random-passwords replaces the public demo passwords and revokes their tokens',
	async () => {
		assert.equal(stack.logins.tanaka.password, 'demo-tanaka', 'the stack seeds public ones');
		const before = await login('tanaka', 'demo-tanaka');
		assert.equal(before.status, 200, before.body);
		assert.equal((await statsWith(before.json.token)).status, 200);

		const demo = path.join(stack.tmp, 'demo.txt');
		const seed = path.join(ROOT, 'deploy', 'seed-demo.sh');
		const r = await runOk('bash', [seed, stack.conninfo, BIN, demo, '--random-passwords']);
		assert.equal(r, '');
		assert.equal(mode(demo), 0o600);
		const after = parseDemoFile(fs.readFileSync(demo, 'utf8'));
		assert.deepEqual(after.tokens, stack.tokens, 'kiosk tokens are kept');
		for (const [user, l] of Object.entries(after.logins)) {
			assert.notEqual(l.password, `demo-${user}`);
			assert.match(l.password, /^[A-Za-z0-9_-]{16}$/);
		}

		assert.equal((await login('tanaka', 'demo-tanaka')).status, 401, 'public password');
		assert.equal((await statsWith(before.json.token)).status, 401, 'old login token');
		const now = await login('tanaka', after.logins.tanaka.password);
		assert.equal(now.status, 200, now.body);
		assert.equal((await statsWith(now.json.token)).status, 200);

		// Run again: nothing public is left, so nothing changes.
		const again = await run('bash', [seed, stack.conninfo, BIN, demo, '--random-passwords']);
		assert.equal(again.code, 0, again.stderr);
		assert.match(again.stderr, /already present/);
		assert.deepEqual(parseDemoFile(fs.readFileSync(demo, 'utf8')).logins, after.logins);
		assert.equal((await statsWith(now.json.token)).status, 200);
	});

test('a fresh seed with --random-passwords prints each new password once', async () => {
	const fresh = await startStack({ tls: false, seed: false });
	try {
		const demo = path.join(fresh.tmp, 'demo.txt');
		const r = await run('bash', [path.join(ROOT, 'deploy', 'seed-demo.sh'), fresh.conninfo,
			BIN, demo, '--random-passwords']);
		assert.equal(r.code, 0, r.stderr);
		assert.equal(mode(demo), 0o600);
		const { logins } = parseDemoFile(fs.readFileSync(demo, 'utf8'));
		assert.deepEqual(Object.keys(logins).sort(), ['sato', 'suzuki', 'takahashi', 'tanaka']);
		for (const [user, l] of Object.entries(logins)) {
			assert.notEqual(l.password, `demo-${user}`);
			const shown = r.stderr.split('\n').filter((x) => x.includes(l.password));
			assert.equal(shown.length, 1, `${user}'s password printed once:\n${r.stderr}`);
		}
		const fin = await run(BIN, ['--db', fresh.conninfo, 'admin', 'user', 'list']);
		assert.match(fin.stdout, /tanaka/);
	} finally {
		await fresh.stop();
	}
});
