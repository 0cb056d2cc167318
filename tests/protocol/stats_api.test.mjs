// The analytics HTTP API (shared/PROTOCOL.md, HTTP) against a real server and PostgreSQL:
// POST /api/login, GET /api/stats/monthly as JSON and CSV, its authorisation (401/403) and
// validation (400), the login rate limit (429), and a login token used for a staff hello.
//
// The fixture is a handful of visits inserted with psql as ended legs, so the rollup that
// migration 2 maintains by trigger counts them exactly as it counts the server's own records.
// Every expected number below is worked out by hand from the fixture.

import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { assertError, assertOk, startStack, wsClient } from '../lib/harness.mjs';

let stack;
let analystToken; // tanaka: coordinator, analyst
let clerkToken;   // sato: no analyst flag

/** An HTTP request to the server; resolves {status, headers, raw (Buffer), body, json}. */
function request(method, urlPath, { headers = {}, body } = {}) {
	const mod = stack.url.startsWith('https') ? https : http;
	const data = body === undefined ? null : Buffer.from(typeof body === 'string' ? body :
		JSON.stringify(body));
	return new Promise((resolve, reject) => {
		const req = mod.request(stack.url + urlPath, {
			method, rejectUnauthorized: false, timeout: 10000,
			headers: { ...headers, ...(data ? { 'Content-Type': 'application/json',
				'Content-Length': data.length } : {}) },
		}, (res) => {
			const chunks = [];
			res.on('data', (d) => chunks.push(d));
			res.on('end', () => {
				const raw = Buffer.concat(chunks);
				const text = raw.toString('utf8');
				let json = null;
				try { json = JSON.parse(text); } catch { /* not JSON */ }
				resolve({ status: res.statusCode, headers: res.headers, raw, body: text, json });
			});
		});
		req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
		req.on('error', reject);
		req.end(data ?? undefined);
	});
}

const login = (username, password) =>
	request('POST', '/api/login', { body: { username, password } });

const stats = (query, token = analystToken) =>
	request('GET', `/api/stats/monthly?${query}`,
		{ headers: token ? { Authorization: `Bearer ${token}` } : {} });

// ---- the fixture ---------------------------------------------------------------------------
//
// January 2024 (times in Asia/Tokyo, the rollup's default zone):
//   V1 yamada   hoken kokuho-kanyu     wait 30 s, talk 300 s, rating 5
//   V2 yamada   hoken kokuho-kanyu     wait 60 s, talk 120 s, rating 3
//   V3 yamada   hoken (no procedure)   never answered (no_answer): abandoned
//   V4 takasaki one-stop "okuyami":    hoken nenkin-soudan wait 10 s, talk 600 s, then
//                                      zeimu shotoku-shomei wait 20 s, talk 300 s; rating 4
// February 2024:
//   V5 yamada   zeimu juminzei-soudan  wait 90 s, talk 200 s, no rating
//   V6 takasaki kosodate jido-teate    wait 45 s, talk 400 s, rating 2
// December 2023 and March 2024 hold one visit each, outside the range asked for.

function uuid(n) {
	return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

async function insertFixture() {
	const kiosk = {};
	for (const b of ['yamada', 'takasaki'])
		kiosk[b] = await stack.psql(`SELECT id FROM kiosks WHERE branch_id = '${b}' LIMIT 1`);
	const visits = [];
	const legs = [];
	const surveys = [];
	let legNo = 100;
	// start: 'YYYY-MM-DD HH:MM:SS' JST; each leg: [department, procedure|null, wait_s, talk_s|null]
	function visit(n, branch, start, legList, { rating = null, onestop = null } = {}) {
		const t0 = `timestamptz '${start}+09'`;
		let offset = 0;
		let seq = 0;
		for (const [dept, proc, wait, talk] of legList) {
			const q = `${t0} + interval '${offset} s'`;
			const a = talk === null ? 'NULL' : `${t0} + interval '${offset + wait} s'`;
			const endAt = talk === null ? offset + wait : offset + wait + talk;
			const e = `${t0} + interval '${endAt} s'`;
			legs.push(`('${uuid(legNo++)}', '${uuid(n)}', ${++seq}, '${dept}', ` +
				`${proc ? `'${proc}'` : 'NULL'}, ${q}, ${a}, ${e}, ` +
				`'${talk === null ? 'no_answer' : 'completed'}')`);
			offset = endAt + 10;
		}
		visits.push(`('${uuid(n)}', '${kiosk[branch]}', '${branch}', ${t0}, ` +
			`${t0} + interval '${offset} s', 'completed', ${onestop ? `'${onestop}'` : 'NULL'})`);
		if (rating)
			surveys.push(`('${uuid(n)}', ${rating}, ${t0} + interval '${offset + 5} s')`);
	}
	visit(1, 'yamada', '2024-01-10 10:00:00', [['hoken', 'kokuho-kanyu', 30, 300]], { rating: 5 });
	visit(2, 'yamada', '2024-01-11 11:00:00', [['hoken', 'kokuho-kanyu', 60, 120]], { rating: 3 });
	visit(3, 'yamada', '2024-01-12 12:00:00', [['hoken', null, 120, null]]);
	visit(4, 'takasaki', '2024-01-31 13:00:00', [['hoken', 'nenkin-soudan', 10, 600],
		['zeimu', 'shotoku-shomei', 20, 300]], { rating: 4, onestop: 'okuyami' });
	visit(5, 'yamada', '2024-02-05 10:00:00', [['zeimu', 'juminzei-soudan', 90, 200]]);
	visit(6, 'takasaki', '2024-02-29 15:00:00', [['kosodate', 'jido-teate', 45, 400]],
		{ rating: 2 });
	visit(7, 'yamada', '2023-12-28 10:00:00', [['hoken', 'kokuho-kanyu', 5, 50]], { rating: 1 });
	visit(8, 'yamada', '2024-03-01 09:00:00', [['hoken', 'kokuho-kanyu', 5, 50]], { rating: 1 });
	await stack.psql(
		`INSERT INTO visits (id, kiosk_id, branch_id, started_at, ended_at, end_reason, ` +
		`onestop_menu) VALUES ${visits.join(', ')};` +
		`INSERT INTO legs (id, visit_id, seq, department_id, procedure_id, queued_at, ` +
		`answered_at, ended_at, outcome) VALUES ${legs.join(', ')};` +
		`INSERT INTO surveys (visit_id, rating, at) VALUES ${surveys.join(', ')};`);
}

// The expected rows by (month, branch, department, procedure), worked out from the fixture.
const FULL = [
	{ month: '2024-01', branch: 'yamada', department: 'hoken', procedure: 'kokuho-kanyu',
		visits: 2, legs: 2, answered: 2, abandoned: 0, avg_wait_s: 45, avg_talk_s: 210,
		onestop_visits: 0, avg_rating: 4 },
	{ month: '2024-01', branch: 'yamada', department: 'hoken', procedure: null,
		visits: 1, legs: 1, answered: 0, abandoned: 1, avg_wait_s: null, avg_talk_s: null,
		onestop_visits: 0, avg_rating: null },
	{ month: '2024-01', branch: 'takasaki', department: 'hoken', procedure: 'nenkin-soudan',
		visits: 1, legs: 1, answered: 1, abandoned: 0, avg_wait_s: 10, avg_talk_s: 600,
		onestop_visits: 1, avg_rating: 4 },
	{ month: '2024-01', branch: 'takasaki', department: 'zeimu', procedure: 'shotoku-shomei',
		visits: 1, legs: 1, answered: 1, abandoned: 0, avg_wait_s: 20, avg_talk_s: 300,
		onestop_visits: 1, avg_rating: 4 },
	{ month: '2024-02', branch: 'yamada', department: 'zeimu', procedure: 'juminzei-soudan',
		visits: 1, legs: 1, answered: 1, abandoned: 0, avg_wait_s: 90, avg_talk_s: 200,
		onestop_visits: 0, avg_rating: null },
	{ month: '2024-02', branch: 'takasaki', department: 'kosodate', procedure: 'jido-teate',
		visits: 1, legs: 1, answered: 1, abandoned: 0, avg_wait_s: 45, avg_talk_s: 400,
		onestop_visits: 0, avg_rating: 2 },
];

const KEYS = ['month', 'branch', 'department', 'procedure'];
const MEASURES = ['visits', 'legs', 'answered', 'abandoned', 'avg_wait_s', 'avg_talk_s',
	'onestop_visits', 'avg_rating'];

function key(row) {
	return KEYS.map((k) => row[k] ?? '-').join('|');
}

/** Asserts that rows hold exactly the expected rows (any order), comparing every measure. */
function assertRows(rows, expected, what) {
	assert.ok(Array.isArray(rows), `${what}: rows is not an array`);
	const got = new Map(rows.map((r) => [key(r), r]));
	assert.deepEqual([...got.keys()].sort(), expected.map(key).sort(), `${what}: row keys`);
	for (const e of expected) {
		const r = got.get(key(e));
		for (const m of MEASURES)
			assert.equal(r[m], e[m], `${what}: ${m} of ${key(e)} (row ${JSON.stringify(r)})`);
	}
}

before(async () => {
	stack = await startStack({ tls: true });
	await insertFixture();
	const a = await login('tanaka', stack.logins.tanaka.password);
	assert.equal(a.status, 200, `analyst login: ${a.body}`);
	analystToken = a.json.token;
	const c = await login('sato', stack.logins.sato.password);
	assert.equal(c.status, 200, `clerk login: ${c.body}`);
	clerkToken = c.json.token;
});

after(async () => {
	await stack?.stop();
});

test('POST /api/login returns a token and an expiry, and 401 for a wrong password', async () => {
	const ok = await login('tanaka', stack.logins.tanaka.password);
	assert.equal(ok.status, 200, ok.body);
	assert.match(ok.json.token, /^[A-Za-z0-9_-]{40,}$/);
	const expires = Date.parse(ok.json.expires_at);
	assert.ok(expires > Date.now() + 3600e3, `expires_at ${ok.json.expires_at} is not hours ahead`);
	assert.notEqual(ok.json.token, analystToken, 'each login gets its own token');
	// Only the SHA-256 is stored, never the token itself.
	const stored = await stack.psql(`SELECT count(*) FROM login_sessions WHERE ` +
		`token_hash = sha256(convert_to('${ok.json.token}', 'UTF8'))`);
	assert.equal(stored, '1');

	const bad = await login('takahashi', 'not-the-password');
	assert.equal(bad.status, 401, bad.body);
	assert.equal(bad.json?.error, 'unauthorized');
	const unknown = await login('nobody', 'whatever');
	assert.equal(unknown.status, 401, unknown.body);
	const malformed = await request('POST', '/api/login', { body: '{"username":1}' });
	assert.equal(malformed.status, 400, malformed.body);
	const get = await request('GET', '/api/login');
	assert.equal(get.status, 405, get.body);
});

test('monthly stats by branch, department and procedure equal the hand-counted fixture',
	async () => {
		const r = await stats('from=2024-01&to=2024-02&by=branch,department,procedure');
		assert.equal(r.status, 200, r.body);
		assert.match(r.headers['content-type'], /application\/json/);
		assertRows(r.json.rows, FULL, 'full grouping');
		const row = r.json.rows.find((x) => x.procedure === 'kokuho-kanyu');
		assert.equal(row.branch_name, '山田出張所');
		assert.equal(row.department_name, '保険年金課');
		assert.equal(row.procedure_name, '国民健康保険の加入');
		// Without "by" the grouping is the full one.
		const d = await stats('from=2024-01&to=2024-02');
		assertRows(d.json.rows, FULL, 'default grouping');
		// The range is inclusive and nothing outside it leaks in.
		const jan = await stats('from=2024-01&to=2024-01');
		assertRows(jan.json.rows, FULL.filter((x) => x.month === '2024-01'), 'January only');
	});

test('coarser groupings sum the rows and weight the averages', async () => {
	const byBranch = await stats('from=2024-01&to=2024-02&by=branch');
	assert.equal(byBranch.status, 200, byBranch.body);
	const n = null;
	// Sums of the rows above; averages over the legs (waits: answered legs only).
	assertRows(byBranch.json.rows, [
		{ month: '2024-01', branch: 'yamada', department: n, procedure: n, visits: 3, legs: 3,
			answered: 2, abandoned: 1, avg_wait_s: 45, avg_talk_s: 210, onestop_visits: 0,
			avg_rating: 4 },
		// The one-stop visit counts once in each department it went to, as in usage_monthly.
		{ month: '2024-01', branch: 'takasaki', department: n, procedure: n, visits: 2, legs: 2,
			answered: 2, abandoned: 0, avg_wait_s: 15, avg_talk_s: 450, onestop_visits: 2,
			avg_rating: 4 },
		{ month: '2024-02', branch: 'yamada', department: n, procedure: n, visits: 1, legs: 1,
			answered: 1, abandoned: 0, avg_wait_s: 90, avg_talk_s: 200, onestop_visits: 0,
			avg_rating: n },
		{ month: '2024-02', branch: 'takasaki', department: n, procedure: n, visits: 1, legs: 1,
			answered: 1, abandoned: 0, avg_wait_s: 45, avg_talk_s: 400, onestop_visits: 0,
			avg_rating: 2 },
	], 'by branch');

	const byDept = await stats('from=2024-01&to=2024-01&by=department');
	assertRows(byDept.json.rows, [
		// (30 + 60 + 10) / 3 = 33.33.. rounds to 33.3; (300 + 120 + 600) / 3 = 340
		{ month: '2024-01', branch: n, department: 'hoken', procedure: n, visits: 4, legs: 4,
			answered: 3, abandoned: 1, avg_wait_s: 33.3, avg_talk_s: 340, onestop_visits: 1,
			avg_rating: 4 },
		{ month: '2024-01', branch: n, department: 'zeimu', procedure: n, visits: 1, legs: 1,
			answered: 1, abandoned: 0, avg_wait_s: 20, avg_talk_s: 300, onestop_visits: 1,
			avg_rating: 4 },
	], 'by department');

	const total = await stats('from=2024-01&to=2024-02&by=');
	assertRows(total.json.rows, [
		// (30 + 60 + 10 + 20) / 4 = 30; (300 + 120 + 600 + 300) / 4 = 330; (5+3+4+4) / 4 = 4
		{ month: '2024-01', branch: n, department: n, procedure: n, visits: 5, legs: 5,
			answered: 4, abandoned: 1, avg_wait_s: 30, avg_talk_s: 330, onestop_visits: 2,
			avg_rating: 4 },
		// (90 + 45) / 2 = 67.5; (200 + 400) / 2 = 300; one rating of 2
		{ month: '2024-02', branch: n, department: n, procedure: n, visits: 2, legs: 2,
			answered: 2, abandoned: 0, avg_wait_s: 67.5, avg_talk_s: 300, onestop_visits: 0,
			avg_rating: 2 },
	], 'totals');
});

/** A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF). */
function parseCsv(text) {
	const rows = [];
	let row = [], field = '', quoted = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (quoted) {
			if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
			else if (c === '"') quoted = false;
			else field += c;
		} else if (c === '"') quoted = true;
		else if (c === ',') { row.push(field); field = ''; }
		else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; }
		else field += c;
	}
	if (field || row.length) { row.push(field); rows.push(row); }
	return rows;
}

test('CSV: UTF-8 with a BOM, a header row, an attachment, the same numbers', async () => {
	const r = await stats('from=2024-01&to=2024-02&by=branch,department,procedure&format=csv');
	assert.equal(r.status, 200, r.body);
	assert.match(r.headers['content-type'], /^text\/csv; charset=utf-8/i);
	assert.match(r.headers['content-disposition'] ?? '', /^attachment; filename=".+\.csv"$/);
	assert.deepEqual([...r.raw.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'BOM');
	const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(r.raw.subarray(3));
	assert.ok(text.endsWith('\r\n'), 'CRLF line ends');
	const [header, ...lines] = parseCsv(text);
	for (const col of [...KEYS, ...MEASURES, 'branch_name'])
		assert.ok(header.includes(col), `header has ${col}: ${header.join(',')}`);
	const rows = lines.map((cells) => {
		assert.equal(cells.length, header.length, `cells in ${cells.join(',')}`);
		const o = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
		for (const k of KEYS)
			o[k] = o[k] === '' ? null : o[k];
		for (const m of MEASURES)
			o[m] = o[m] === '' ? null : Number(o[m]);
		return o;
	});
	assertRows(rows, FULL, 'CSV');
	assert.equal(rows.find((x) => x.procedure === 'jido-teate').branch_name, '高崎総合支所');
});

test('no token or a bad token is 401; a staff member without the analyst flag is 403',
	async () => {
		const none = await stats('from=2024-01&to=2024-02', null);
		assert.equal(none.status, 401, none.body);
		assert.equal(none.json?.error, 'unauthorized');
		const bad = await stats('from=2024-01&to=2024-02', 'x'.repeat(43));
		assert.equal(bad.status, 401, bad.body);
		const basic = await request('GET', '/api/stats/monthly?from=2024-01&to=2024-02',
			{ headers: { Authorization: 'Basic dGFuYWthOmRlbW8tdGFuYWth' } });
		assert.equal(basic.status, 401, basic.body);
		const clerk = await stats('from=2024-01&to=2024-02', clerkToken);
		assert.equal(clerk.status, 403, clerk.body);
		assert.equal(clerk.json?.error, 'forbidden');
		// A revoked session stops working at once.
		const extra = await login('tanaka', stack.logins.tanaka.password);
		await stack.psql(`UPDATE login_sessions SET revoked = true WHERE token_hash = ` +
			`sha256(convert_to('${extra.json.token}', 'UTF8'))`);
		const revoked = await stats('from=2024-01&to=2024-02', extra.json.token);
		assert.equal(revoked.status, 401, revoked.body);
	});

test('bad parameters are 400 with a JSON error', async () => {
	const bad = [
		'from=2024-13&to=2024-12', 'from=2024-1&to=2024-02', 'from=24-01&to=2024-02',
		'from=2024-02&to=2024-01', 'from=2010-01&to=2020-01', 'from=2024-01',
		'from=2024-01&to=2024-02&by=branch,city', 'from=2024-01&to=2024-02&by=branch,',
		'from=2024-01&to=2024-02&format=xml', 'from=2024-01&from=2024-01&to=2024-02',
		'from=2024-01&to=2024-02&limit=5', 'from=2024-01&to=2024-02%01', '',
	];
	for (const q of bad) {
		const r = await stats(q).catch((e) => { throw new Error(`${q}: ${e.message}`); });
		assert.equal(r.status, 400, `${q}: ${r.status} ${r.body}`);
		assert.equal(r.json?.error, 'bad_request', `${q}: ${r.body}`);
		assert.equal(typeof r.json?.message, 'string');
	}
	// Percent-encoding is decoded as usual ("%2D" is "-").
	const encoded = await stats('from=2024%2D01&to=2024-02&by=branch%2Cdepartment%2Cprocedure');
	assert.equal(encoded.status, 200, encoded.body);
	assertRows(encoded.json.rows, FULL, 'percent-encoded query');
	// 120 months is the most one request may span.
	const ten = await stats('from=2015-01&to=2024-12&by=');
	assert.equal(ten.status, 200, ten.body);
});

test('a login token works for a staff hello over WebSocket', async () => {
	const ws = await wsClient(stack.wsUrl);
	try {
		const reply = assertOk(await ws.request('hello', { role: 'staff', token: analystToken }),
			'hello with a login token');
		assert.equal(reply.self?.role, 'staff');
		assert.equal(reply.self?.name, '田中');
		assert.ok(reply.flags.includes('analyst'), JSON.stringify(reply.flags));
	} finally {
		await ws.close();
	}
	const ws2 = await wsClient(stack.wsUrl);
	try {
		assertError(await ws2.request('hello', { role: 'staff', token: 'not-a-token' }),
			'unauthorized', 'hello with a bad token');
	} finally {
		await ws2.close();
	}
});

// Last: it leaves this address rate-limited for the rest of the window.
test('failed logins are rate-limited per user, then per address (429)', async () => {
	const { password } = stack.logins.suzuki;
	for (let i = 1; i <= 10; i++) {
		const r = await login('suzuki', `wrong-${i}`);
		assert.equal(r.status, 401, `attempt ${i}: ${r.body}`);
	}
	const limited = await login('suzuki', password);
	assert.equal(limited.status, 429, `the right password after 10 failures: ${limited.body}`);
	assert.equal(limited.json?.error, 'too_many');
	assert.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After');
	// Another user from the same address still gets in, until the address's limit.
	const other = await login('takahashi', stack.logins.takahashi.password);
	assert.equal(other.status, 200, other.body);
	let status = 0, tries = 0;
	while (status !== 429 && tries < 40) {
		status = (await login(`guess-${tries}`, 'x')).status;
		tries++;
	}
	assert.equal(status, 429, 'the address limit never triggered');
	// 10 failures for suzuki (and a few in earlier tests), then at most 20 more reach the
	// address's 30; the next is refused.
	assert.ok(tries <= 21, `the address limit took ${tries} attempts`);
});

test('CSV: cells a spreadsheet would run as a formula are neutralised, tab and CR too',
	async () => {
		const names = { 'jido-teate': '\t=1+2', 'kokuho-kanyu': '\r@SUM(A1)' };
		const saved = {};
		for (const [id, name] of Object.entries(names)) {
			saved[id] = await stack.psql(`SELECT name FROM procedures WHERE id = '${id}'`);
			const lit = name.replace(/\t/g, '\\t').replace(/\r/g, '\\r');
			await stack.psql(`UPDATE procedures SET name = E'${lit}' WHERE id = '${id}'`);
		}
		try {
			const r = await stats('from=2024-01&to=2024-02&by=branch,department,procedure&format=csv');
			assert.equal(r.status, 200, r.body);
			const text = r.raw.subarray(3).toString('utf8');
			const rows = parseCsv(text);
			const col = rows[0].indexOf('procedure_name');
			const cells = rows.slice(1).map((row) => row[col]);
			for (const name of Object.values(names)) {
				assert.ok(cells.includes(`'${name}`), `${JSON.stringify(name)} among ${JSON.stringify(cells)}`);
				assert.ok(!cells.includes(name), `${JSON.stringify(name)} left as is`);
			}
		} finally {
			for (const [id, name] of Object.entries(saved))
				await stack.psql(`UPDATE procedures SET name = '${name.replace(/'/g, "''")}' WHERE id = '${id}'`);
		}
	});
