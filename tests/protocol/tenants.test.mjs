// Several cities on one installation (issue 15, item 3; migration 11): the role matrix across
// two tenants. The demo seed is the tenant `default` (reached at any address but kita's);
// the test adds the tenant `kita` with host name kita.example, its branch, department,
// one-stop menu, kiosk, a clerk and a coordinator/analyst, all through `madoguchi admin
// --tenant kita`. Then nothing of one city is visible to, or reachable from, the other:
// admin commands, hello (departments and menus), logins at the other city's address, calls,
// ringing, transfer, invite and guest invites, the coordinator's watch/join/patch/finish,
// the status board (protocol and GET /api/status), the statistics API (JSON and CSV), and
// the usage views as each tenant's analyst role in PostgreSQL (row-level security).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BIN, assertError, assertOk, run, sleep, startStack, wsClient } from '../lib/harness.mjs';

const KITA_HOST = 'kita.example';
const KITA_PW = 'kita-pässwörd';

let stack;
let kitaToken; // the kita kiosk's token
const clients = [];

async function admin(args, input) {
	return run(BIN, ['--db', stack.conninfo, 'admin', ...args], { input });
}

async function adminOk(args, input) {
	const r = await admin(args, input);
	assert.equal(r.code, 0, `admin ${args.join(' ')}: ${r.stderr}`);
	return r.stdout;
}

/** A protocol client at the given Host (default: the stack's own address). */
async function connect(host) {
	const c = await wsClient(stack.wsUrl, { headers: host ? { Host: host } : {} });
	clients.push(c);
	return c;
}

async function hello(fields, host) {
	const c = await connect(host);
	const reply = await c.request('hello', fields);
	return { c, reply };
}

async function staff(username, host, password) {
	const { c, reply } = await hello({ role: 'staff', username,
		password: password ?? stack.logins[username].password }, host);
	assertOk(reply, `hello ${username} at ${host ?? 'the default address'}`);
	return c;
}

const ids = (list) => list.map((x) => x.id).sort();

before(async () => {
	stack = await startStack({ tls: false });
	// The owner may not create roles (docs/operations.md): the administrator makes the
	// tenant's analyst role first, as the install does for madoguchi_analyst.
	await stack.psql('CREATE ROLE madoguchi_analyst_kita NOLOGIN');
	await adminOk(['tenant', 'add', 'kita', '--name', '北市', '--hostname', 'KITA.example']);
	await adminOk(['--tenant', 'kita', 'branch', 'add', 'kita-honcho', '北市本庁']);
	await adminOk(['department', 'add', 'kita-shimin', '北市市民課', '--tenant', 'kita']);
	await adminOk(['onestop', 'add', 'kita-tetsuzuki', '北市の手続き', '--steps', 'kita-shimin',
		'--tenant', 'kita']);
	kitaToken = (await adminOk(['kiosk', 'add', '--branch', 'kita-honcho', '--name', '北 1番',
		'--tenant', 'kita'])).split('\n')[0].trim();
	await adminOk(['user', 'add', 'kita-clerk', '--name', '北 一郎', '--department',
		'kita-shimin', '--tenant', 'kita'], `${KITA_PW}\n`);
	await adminOk(['user', 'add', 'kita-coord', '--name', '北 花子', '--department',
		'kita-shimin', '--flags', 'coordinator,analyst', '--tenant', 'kita'], `${KITA_PW}\n`);
	// The running server follows directory changes (migration 6): wait until kita's
	// department is there.
	const deadline = Date.now() + 10000;
	for (;;) {
		const { c, reply } = await hello({ role: 'kiosk', token: kitaToken }, KITA_HOST);
		const ok = reply.type === 'ok' && reply.departments.length > 0;
		await c.close();
		if (ok)
			break;
		assert.ok(Date.now() < deadline, `kita's directory never reached the server: ` +
			JSON.stringify(reply));
		await sleep(200);
	}
});

after(async () => {
	for (const c of clients)
		await c.close();
	await stack?.stop();
});

test('admin --tenant sees and changes only its tenant', async () => {
	assert.match(await adminOk(['tenant', 'list']), /kita\t北市\tkita\.example\tmadoguchi_analyst_kita/);
	const kitaBranches = JSON.parse(await adminOk(['--tenant', 'kita', 'branch', 'list', '--json']));
	assert.deepEqual(ids(kitaBranches), ['kita-honcho']);
	const defaultBranches = JSON.parse(await adminOk(['branch', 'list', '--json']));
	assert.ok(!ids(defaultBranches).includes('kita-honcho'));
	assert.ok(ids(defaultBranches).includes('yamada'));
	const kitaUsers = JSON.parse(await adminOk(['user', 'list', '--json', '--tenant', 'kita']));
	assert.deepEqual(kitaUsers.map((u) => u.username).sort(), ['kita-clerk', 'kita-coord']);
	const kitaKiosks = JSON.parse(await adminOk(['kiosk', 'list', '--json', '--tenant', 'kita']));
	assert.deepEqual(kitaKiosks.map((k) => k.branch), ['kita-honcho']);

	// Another tenant's rows are unknown, whichever way they are named.
	let r = await admin(['kiosk', 'add', '--branch', 'yamada', '--name', 'x', '--tenant', 'kita']);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /unknown branch 'yamada' in this tenant/);
	r = await admin(['user', 'add', 'kita-x', '--name', 'x', '--department', 'hoken',
		'--tenant', 'kita'], 'pw\n');
	assert.equal(r.code, 1);
	assert.match(r.stderr, /unknown department 'hoken' in this tenant/);
	r = await admin(['onestop', 'add', 'mixed', 'x', '--steps', 'kita-shimin,hoken',
		'--tenant', 'kita']);
	assert.equal(r.code, 1, r.stdout + r.stderr);
	r = await admin(['procedure', 'add', 'p', 'x', '--department', 'kita-shimin']);
	assert.equal(r.code, 1, 'the default tenant cannot add to kita\'s department');
	r = await admin(['user', 'disable', 'sato', '--tenant', 'kita']);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /unknown user 'sato'/);
	r = await admin(['department', 'close', 'kita-shimin']);
	assert.notEqual(r.code, 0, 'the default tenant cannot close kita\'s department');
	r = await admin(['branch', 'list', '--tenant', 'nowhere']);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /unknown tenant 'nowhere'/);
	// Even without the admin scope (hand-written SQL, as the superuser here), a clerk's
	// departments and a menu's steps stay inside the clerk's and the menu's tenant.
	await assert.rejects(stack.psql("INSERT INTO staff_departments (staff_id, department_id)" +
		" SELECT id, 'kita-shimin' FROM staff WHERE username = 'sato'"),
	/department kita-shimin belongs to tenant kita, not default/);
	await assert.rejects(stack.psql("INSERT INTO onestop_menu_steps (menu_id, position," +
		" department_id) VALUES ('kita-tetsuzuki', 9, 'hoken')"), /belongs to tenant default/);
	assert.equal(await stack.psql("SELECT count(*) FROM procedures WHERE id = 'p'"), '0');
	assert.equal(await stack.psql("SELECT disabled FROM staff WHERE username = 'sato'"), 'f');
	assert.equal(await stack.psql("SELECT open FROM departments WHERE id = 'kita-shimin'"), 't');
	assert.equal(await stack.psql("SELECT tenant_id FROM kiosks k JOIN branches b" +
		" ON b.id = k.branch_id WHERE k.name = '北 1番'"), 'kita');
});

test('hello: each city sees its own departments and menus; credentials work only at their' +
	' own address', async () => {
	const { reply: kita } = await hello({ role: 'kiosk', token: kitaToken }, KITA_HOST);
	assertOk(kita, 'kita kiosk hello');
	assert.deepEqual(ids(kita.departments), ['kita-shimin']);
	assert.deepEqual(ids(kita.onestop), ['kita-tetsuzuki']);
	const { reply: yamada } = await hello({ role: 'kiosk', token: stack.tokens.yamada });
	assertOk(yamada, 'yamada kiosk hello');
	assert.ok(!ids(yamada.departments).includes('kita-shimin'));
	assert.ok(ids(yamada.departments).includes('hoken'));
	assert.ok(!ids(yamada.onestop).includes('kita-tetsuzuki'));

	// The wrong address fails like a wrong token or password.
	for (const [fields, host, what] of [
		[{ role: 'kiosk', token: kitaToken }, undefined, "kita's kiosk at the default address"],
		[{ role: 'kiosk', token: stack.tokens.yamada }, KITA_HOST, "yamada's kiosk at kita"],
		[{ role: 'staff', username: 'kita-clerk', password: KITA_PW }, undefined,
			"kita's clerk at the default address"],
		[{ role: 'staff', username: 'sato', password: stack.logins.sato.password }, KITA_HOST,
			'sato at kita'],
	]) {
		const { reply } = await hello(fields, host);
		assertError(reply, 'unauthorized', what);
	}
	const wrongPw = (await hello({ role: 'staff', username: 'kita-clerk', password: 'nope' },
		KITA_HOST)).reply;
	assertError(wrongPw, 'unauthorized', 'a wrong password');
	const clerk = (await hello({ role: 'staff', username: 'kita-clerk', password: KITA_PW },
		KITA_HOST)).reply;
	assertOk(clerk, "kita's clerk at kita");
	assert.deepEqual(ids(clerk.departments), ['kita-shimin']);
});

test('calls, ringing, transfer, invite, guests and coordinators stay in their city',
	async () => {
		const kitaClerk = await staff('kita-clerk', KITA_HOST, KITA_PW);
		assertOk(await kitaClerk.request('presence', { status: 'available' }), 'kita available');
		const kitaCoord = await staff('kita-coord', KITA_HOST, KITA_PW);
		assertOk(await kitaCoord.request('watch', {}), 'kita watch');
		const sato = await staff('sato');
		assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
		const tanaka = await staff('tanaka');
		assert.deepEqual(assertOk(await tanaka.request('watch', {}), 'tanaka watch').visits, []);

		const { c: kitaKiosk } = await hello({ role: 'kiosk', token: kitaToken }, KITA_HOST);
		const { c: yamada } = await hello({ role: 'kiosk', token: stack.tokens.yamada });

		// Naming another city's department or menu is naming nothing.
		assertError(await kitaKiosk.request('call', { department: 'hoken' }), 'not_found',
			'kita calls hoken');
		assertError(await kitaKiosk.request('call', { onestop: 'okuyami' }), 'not_found',
			'kita calls okuyami');
		assertError(await yamada.request('call', { department: 'kita-shimin' }), 'not_found',
			'yamada calls kita-shimin');
		assertError(await yamada.request('call', { onestop: 'kita-tetsuzuki' }), 'not_found',
			'yamada calls kita-tetsuzuki');

		// Each city's call rings its own clerk.
		const a = assertOk(await yamada.request('call', { department: 'hoken' }), 'yamada call');
		await sato.waitFor('ringing', (m) => m.visit === a.visit);
		assertOk(await sato.request('accept', { visit: a.visit }), 'sato accepts');
		const b = assertOk(await kitaKiosk.request('call', { onestop: 'kita-tetsuzuki' }),
			'kita one-stop call');
		await kitaClerk.waitFor('ringing', (m) => m.visit === b.visit);
		const seen = await kitaCoord.waitFor('visit', (m) => m.visit === b.visit);
		assert.equal(seen.kiosk.branch.id, 'kita-honcho');
		assertOk(await kitaClerk.request('accept', { visit: b.visit }), 'kita clerk accepts');

		// Transfer and three-way invites to another city's department, guest invites and
		// coordinator requests on another city's visit: unknown.
		for (const type of ['transfer', 'invite']) {
			assertError(await sato.request(type, { visit: a.visit, department: 'kita-shimin' }),
				'not_found', `sato ${type} to kita-shimin`);
			assertError(await kitaClerk.request(type, { visit: b.visit, department: 'hoken' }),
				'not_found', `kita clerk ${type} to hoken`);
		}
		assertError(await kitaClerk.request('guest_invite', { visit: a.visit }), 'not_found',
			"kita clerk invites a guest to yamada's visit");
		for (const [type, fields] of [['join', {}], ['finish', {}],
			['patch', { department: 'hoken' }], ['onestop', { itinerary: ['hoken'] }]]) {
			assertError(await tanaka.request(type, { visit: b.visit, ...fields }), 'not_found',
				`tanaka ${type} on kita's visit`);
		}
		assertError(await kitaCoord.request('onestop', { visit: b.visit,
			itinerary: ['hoken'] }), 'not_found', "kita's coordinator adds hoken");
		assertError(await kitaCoord.request('patch', { visit: b.visit, department: 'zeimu' }),
			'not_found', "kita's coordinator patches to zeimu");
		assert.deepEqual(assertOk(await tanaka.request('watch', {}), 'tanaka watch again')
			.visits.map((v) => v.visit), []);
		const kitaWatch = assertOk(await kitaCoord.request('watch', {}), 'kita watch again');
		assert.deepEqual(kitaWatch.visits.map((v) => v.visit), [b.visit]);

		// Bookings: only at a branch of the clerk's own city.
		const when = new Date(Date.now() + 2 * 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
		const booking = { starts_at: when, minutes: 30 };
		assertError(await kitaClerk.request('book', { ...booking, department: 'kita-shimin',
			branch: 'yamada' }), 'not_found', 'kita clerk books at yamada');
		assertError(await sato.request('book', { ...booking, department: 'hoken',
			branch: 'kita-honcho' }), 'not_found', 'sato books at kita-honcho');
		assertOk(await kitaClerk.request('book', { ...booking, department: 'kita-shimin',
			branch: 'kita-honcho' }), 'kita clerk books at kita-honcho');

		// The status board, over the protocol.
		const boardA = assertOk(await tanaka.request('status', {}), 'tanaka status');
		const boardB = assertOk(await kitaCoord.request('status', {}), 'kita status');
		assert.deepEqual(boardB.kiosks.map((k) => k.kiosk.branch.id), ['kita-honcho']);
		assert.deepEqual(boardB.departments.map((d) => d.id), ['kita-shimin']);
		assert.equal(boardB.kiosks[0].visit, b.visit);
		assert.ok(boardA.kiosks.length >= 2);
		assert.ok(boardA.kiosks.every((k) => k.kiosk.branch.id !== 'kita-honcho'));
		assert.ok(boardA.departments.every((d) => d.id !== 'kita-shimin'));

		// Both visits end: their records reach the rollup.
		assertOk(await sato.request('end', { visit: a.visit, outcome: 'completed' }), 'end a');
		assertOk(await kitaClerk.request('end', { visit: b.visit, outcome: 'completed' }),
			'end b');
		for (const v of [a.visit, b.visit])
			await stack.waitForRecord(v, (r) => r.legs.length === 1 && r.legs[0].ended_at,
				'an ended leg');
		await sleep(500); // a last board refresh after the ends

		// Nothing of the other city ever reached either side, as an event or in a reply.
		const leaks = (c, foreign) => c.received.filter((m) => {
			const text = JSON.stringify(m);
			return foreign.some((f) => text.includes(f));
		});
		const kitaNames = ['kita-shimin', 'kita-honcho', 'kita-tetsuzuki', b.visit, '北'];
		for (const [name, c] of [['sato', sato], ['tanaka', tanaka], ['yamada', yamada]])
			assert.deepEqual(leaks(c, kitaNames), [], `${name} saw kita`);
		const defaultNames = ['hoken', 'zeimu', 'yamada', 'takasaki', 'okuyami', a.visit];
		for (const [name, c] of [['kita clerk', kitaClerk], ['kita coordinator', kitaCoord],
			['kita kiosk', kitaKiosk]])
			assert.deepEqual(leaks(c, defaultNames).filter((m) => m.type !== 'error'), [],
				`${name} saw the default city`);
	});

test('HTTP API: login, /api/status and statistics per city', async () => {
	const post = (body, host) => stack.http('POST', '/api/login', { body,
		headers: host ? { Host: host } : {} });
	assert.equal((await post({ username: 'kita-coord', password: KITA_PW })).status, 401,
		"kita's coordinator logs in at the default address");
	assert.equal((await post({ username: 'tanaka', password: stack.logins.tanaka.password },
		KITA_HOST)).status, 401, 'tanaka logs in at kita');
	const kitaLogin = await post({ username: 'kita-coord', password: KITA_PW }, KITA_HOST);
	assert.equal(kitaLogin.status, 200, kitaLogin.body);
	const tanakaLogin = await post({ username: 'tanaka',
		password: stack.logins.tanaka.password });
	assert.equal(tanakaLogin.status, 200, tanakaLogin.body);
	const get = (p, token, host) => stack.http('GET', p, {
		headers: { Authorization: `Bearer ${token}`, ...(host ? { Host: host } : {}) } });
	const kt = kitaLogin.json.token, tt = tanakaLogin.json.token;

	let r = await get('/api/status', kt, KITA_HOST);
	assert.equal(r.status, 200, r.body);
	assert.deepEqual(r.json.departments.map((d) => d.id), ['kita-shimin']);
	assert.deepEqual(r.json.kiosks.map((k) => k.kiosk.branch.id), ['kita-honcho']);
	r = await get('/api/status', tt);
	assert.equal(r.status, 200, r.body);
	assert.ok(!r.body.includes('kita'), 'the default board holds nothing of kita');
	assert.equal((await get('/api/status', kt)).status, 401, "kita's token elsewhere");
	assert.equal((await get('/api/status', tt, KITA_HOST)).status, 401, "tanaka's token at kita");

	// This month in the rollup's zone (Asia/Tokyo).
	const month = new Date(Date.now() + 9 * 3600e3).toISOString().slice(0, 7);
	const q = `/api/stats/monthly?from=${month}&to=${month}`;
	r = await get(q, kt, KITA_HOST);
	assert.equal(r.status, 200, r.body);
	assert.deepEqual(r.json.rows.map((x) => [x.branch, x.department, x.visits]),
		[['kita-honcho', 'kita-shimin', 1]]);
	r = await get(q, tt);
	assert.equal(r.status, 200, r.body);
	assert.ok(r.json.rows.length >= 1);
	assert.ok(r.json.rows.every((x) => x.branch !== 'kita-honcho'), r.body);
	r = await get(`${q}&format=csv`, tt);
	assert.equal(r.status, 200);
	assert.ok(!r.body.includes('kita'), 'the default CSV holds nothing of kita');
	assert.equal((await get(q, kt)).status, 401, "kita's token at the default address");
});

test("psql: each city's analyst reads only its rows of the views, and no table", async () => {
	await stack.psql('CREATE ROLE kita_hanako LOGIN IN ROLE madoguchi_analyst_kita');
	await stack.psql('CREATE ROLE city_taro LOGIN IN ROLE madoguchi_analyst');
	// As that role logged in would be (psql prints "SET" for each setting first).
	const as = async (role, sql) => (await stack.psql(`SET SESSION AUTHORIZATION ${role}; ${sql}`))
		.split('\n').filter((l) => l !== 'SET').join('\n');
	const branches = (role, view) => as(role,
		`SELECT coalesce(string_agg(DISTINCT branch, ',' ORDER BY branch), '') FROM ${view}`);
	for (const view of ['usage_daily', 'usage_monthly']) {
		assert.equal(await branches('kita_hanako', view), 'kita-honcho', view);
		const def = await branches('city_taro', view);
		assert.ok(def.length > 0 && !def.includes('kita'), `${view}: ${def}`);
	}
	assert.equal(await as('kita_hanako', 'SELECT sum(visits) FROM usage_monthly'), '1');
	// All rows together are what the owner sees.
	const total = await stack.psql('SELECT sum(legs) FROM usage_monthly');
	const kita = await as('kita_hanako', 'SELECT sum(legs) FROM usage_monthly');
	const def = await as('city_taro', 'SELECT sum(legs) FROM usage_monthly');
	assert.equal(Number(kita) + Number(def), Number(total));
	for (const sql of ['SELECT * FROM usage_rollup', 'SELECT * FROM tenants',
		'SELECT * FROM branches', 'SELECT * FROM visits', 'SELECT * FROM bookings']) {
		for (const role of ['kita_hanako', 'city_taro'])
			await assert.rejects(as(role, sql), /permission denied/, `${role}: ${sql}`);
	}
	// The admin commands' scope setting is anyone's to set, but it only narrows: naming
	// another tenant shows an analyst nothing, never that tenant's rows.
	assert.equal(await as('kita_hanako', "SET madoguchi.tenant = 'default';" +
		" SELECT count(*) FROM usage_monthly"), '0');
	assert.equal(await as('kita_hanako', "SET madoguchi.tenant = 'kita';" +
		" SELECT coalesce(string_agg(DISTINCT branch, ','), '') FROM usage_monthly"),
	'kita-honcho');
});
