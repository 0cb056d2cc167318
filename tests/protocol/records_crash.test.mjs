// The server killed with SIGKILL in the middle of a call. At restart the records spooled before
// the crash are replayed and the visit left open is closed as `interrupted`: first with
// PostgreSQL up (the records were already committed), then with PostgreSQL down at the time of
// the call, so that the visit exists nowhere but in the spool when the process dies.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { assertOk, sleep, startStack, wsClient } from '../lib/harness.mjs';

let stack;
let clients = [];

before(async () => {
	stack = await startStack({ tls: false });
});

after(async () => {
	for (const c of clients)
		await c.close().catch(() => {});
	await stack?.stop();
});

async function connect() {
	const c = await wsClient(stack.wsUrl);
	clients.push(c);
	return c;
}

/** A kiosk and sato's desk, logged in (needs PostgreSQL), sato available. */
async function parties() {
	const kiosk = await connect();
	assertOk(await kiosk.request('hello', { role: 'kiosk', token: stack.tokens.yamada }),
		'kiosk hello');
	const sato = await connect();
	assertOk(await sato.request('hello', { role: 'staff', username: 'sato',
		password: stack.logins.sato.password }), 'sato hello');
	assertOk(await sato.request('presence', { status: 'available' }), 'sato available');
	return { kiosk, sato };
}

/** Calls hoken and has sato accept: returns the visit id once both sides are connected. */
async function midCall({ kiosk, sato }) {
	const { visit } = assertOk(await kiosk.request('call', { department: 'hoken',
		procedure: 'nenkin-soudan' }), 'kiosk call');
	await sato.waitFor('ringing', (m) => m.visit === visit);
	assertOk(await sato.request('accept', { visit }), 'sato accept');
	await kiosk.waitFor('connected', (m) => m.visit === visit);
	return visit;
}

async function crashAndRestart() {
	await stack.killServer();
	assert.equal(stack.exit.signal, 'SIGKILL');
	clients = [];
	await stack.restartServer();
}

async function assertInterrupted(visit) {
	const rec = await stack.waitForRecord(visit, (r) => r.visit?.ended_at &&
		r.legs.length === 1 && r.legs[0].ended_at, 'the visit closed after the restart', 15000);
	const show = JSON.stringify(rec, null, 2);
	const [leg] = rec.legs;
	assert.equal(rec.visit.end_reason, 'interrupted', `visit end_reason\n${show}`);
	assert.equal(leg.outcome, 'interrupted', `leg outcome\n${show}`);
	assert.ok(leg.answered_at, `the leg was answered before the crash\n${show}`);
	assert.equal(leg.staff_id, await stack.psql("SELECT id FROM staff WHERE username = 'sato'"),
		`the leg names sato\n${show}`);
	assert.equal(leg.department_id, 'hoken');
	assert.equal(leg.procedure_id, 'nenkin-soudan');
	assert.ok(new Date(leg.answered_at) <= new Date(leg.ended_at), `leg times\n${show}`);
	assert.ok(new Date(rec.visit.started_at) <= new Date(rec.visit.ended_at), `visit times\n${show}`);
}

/** The number of whole frames at the start of a spool file (server/store/spool.h). */
function spoolFrames(buf) {
	let n = 0;
	for (let pos = 0; pos + 12 <= buf.length && buf.toString('latin1', pos, pos + 4) === 'MDGS';
		n++) {
		const next = pos + 12 + buf.readUInt32LE(pos + 4);
		if (next > buf.length)
			break;
		pos = next;
	}
	return n;
}

test('SIGKILL mid-call with PostgreSQL up: the visit is closed as interrupted', async () => {
	const visit = await midCall(await parties());
	await stack.waitForRecord(visit, (r) => r.legs[0]?.answered_at, 'the answered leg');
	await crashAndRestart();
	await assertInterrupted(visit);
	assert.match(stack.serverLog(), /closed what a crash left open"? visits=1 legs=1/);
});

test('SIGKILL mid-call with PostgreSQL down: the spool is replayed at restart', async () => {
	const p = await parties();
	const satoId = await stack.psql("SELECT id FROM staff WHERE username = 'sato'");
	await stack.pgStop();
	const visit = await midCall(p);
	// The records reach the spool within a batch's write + fdatasync: wait for the third
	// (visit_started, leg_queued, leg_answered) before pulling the plug. They are encrypted:
	// neither the visit nor the clerk shows in the file.
	const deadline = Date.now() + 5000;
	while (spoolFrames(fs.readFileSync(stack.spoolPath)) < 3 && Date.now() < deadline)
		await sleep(20);
	const spool = fs.readFileSync(stack.spoolPath);
	assert.ok(spoolFrames(spool) >= 3, 'the answered leg is in the spool before the crash');
	assert.ok(!spool.includes(visit), 'the visit id is not in clear in the spool');
	assert.ok(!spool.includes(satoId), 'the clerk id is not in clear in the spool');
	await stack.killServer();
	assert.equal(await stack.psql('SELECT 1').catch(() => 'down'), 'down',
		'PostgreSQL was down: the records exist only in the spool');
	await stack.pgStart();
	assert.equal(await stack.psql(`SELECT count(*) FROM visits WHERE id = '${visit}'`), '0');
	clients = [];
	await stack.restartServer();
	await assertInterrupted(visit);
	const replay = /replaying the record spool"? .*records=(\d+)/.exec(stack.serverLog());
	assert.ok(replay, `the restart replayed the spool:\n${stack.serverLog()}`);
	assert.ok(Number(replay[1]) >= 3, `visit_started, leg_queued, leg_answered: ${replay[0]}`);
	const deadline2 = Date.now() + 5000;
	while (fs.statSync(stack.spoolPath).size > 0 && Date.now() < deadline2)
		await sleep(50);
	assert.equal(fs.statSync(stack.spoolPath).size, 0, 'the spool is emptied after the replay');
	process.stdout.write(`# spool before the crash: ${spool.length} bytes; replayed records: ` +
		`${replay[1]}\n`);
});
