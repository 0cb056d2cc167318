// The database roles (issue 9, finding 9): the schema belongs to madoguchi_owner, which
// migrate and admin use; the running server connects as madoguchi, a member of
// madoguchi_server, and may read and write rows but not change or destroy the schema, mint
// kiosks or staff, or rewrite the migration bookkeeping. The rest of the protocol suite runs
// the server as that role too, so whatever it needs is proven granted there.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { run, startStack } from '../lib/harness.mjs';

let stack;
let latestMigration; // as the migration that started the stack left it

before(async () => {
	stack = await startStack({ tls: false });
	latestMigration = await stack.psql('SELECT max(version) FROM schema_migrations');
});

after(async () => {
	await stack?.stop();
});

/** Runs one statement with psql on a conninfo; resolves {code, stdout, stderr}. */
function psqlAs(conninfo, sql) {
	return run('psql', ['-X', '-d', conninfo, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
}

test('the running server is connected as its own role, not as the owner', async () => {
	const who = await stack.psql("SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity" +
		" WHERE application_name = 'madoguchi' AND datname = 'madoguchi'");
	assert.equal(who, 'madoguchi');
	assert.equal(await stack.psql("SELECT pg_has_role('madoguchi', 'madoguchi_server', 'member')"),
		't');
	const owner = await stack.psql(
		"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'madoguchi'");
	assert.equal(owner, 'madoguchi_owner');
	const notOwned = await stack.psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON" +
		" n.oid = c.relnamespace WHERE n.nspname = 'public'" +
		" AND c.relowner <> 'madoguchi_owner'::regrole");
	assert.equal(notOwned, '0', 'every table, view, index and sequence belongs to the owner');
	assert.match(stack.conninfo, /user=madoguchi_owner/);
	assert.match(stack.serverConninfo, /user=madoguchi(\s|$)/);
});

test('the server role cannot change or destroy the schema, or write what it does not own',
	async () => {
		const kiosk = await stack.psql("SELECT id FROM kiosks WHERE branch_id = 'yamada' LIMIT 1");
		const refused = [
			'DROP TABLE visits',
			'DROP TABLE schema_migrations',
			'ALTER TABLE visits ADD COLUMN x int',
			'ALTER TABLE staff DISABLE TRIGGER USER',
			'TRUNCATE legs',
			'TRUNCATE usage_rollup',
			'CREATE TABLE intruder (x int)',
			'CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
			'CREATE SCHEMA intruder',
			'CREATE ROLE intruder LOGIN',
			'ALTER ROLE madoguchi CREATEROLE',
			'GRANT madoguchi_owner TO madoguchi',
			'UPDATE schema_migrations SET applied_at = now()',
			'DELETE FROM schema_migrations',
			"INSERT INTO schema_migrations (version) VALUES (99)",
			"UPDATE staff SET admin = true WHERE username = 'sato'",
			"UPDATE staff SET password_hash = 'x'",
			"INSERT INTO staff (username, name, password_hash) VALUES ('evil', 'x', 'x')",
			"INSERT INTO kiosks (branch_id, name, token_hash) VALUES ('yamada', 'x'," +
				" sha256('x'::bytea))",
			`UPDATE kiosks SET revoked_at = NULL WHERE id = '${kiosk}'`,
			`UPDATE kiosks SET name = 'x' WHERE id = '${kiosk}'`,
			"INSERT INTO branches (id, name) VALUES ('evil', 'x')",
			"UPDATE departments SET name = 'x'",
			'DELETE FROM visits',
			'DELETE FROM legs',
			'DELETE FROM audit_log',
			"UPDATE audit_log SET action = 'x'",
			'SELECT detail FROM audit_log',
			"UPDATE site_settings SET value = 'UTC'",
			'SELECT usage_rollup_rebuild()',
			// Self-test history: the server appends and prunes, never rewrites.
			"UPDATE kiosk_health SET video_state = 'ok'",
			'DELETE FROM kiosk_health_last',
			'DROP TABLE kiosk_health',
			// Kiosk staff-mode PINs (migration 7): the server only reads them.
			`INSERT INTO kiosk_pins (kiosk_id, pin_hash) VALUES ('${kiosk}', 'x')`,
			"UPDATE kiosk_pins SET pin_hash = 'x'",
			'DELETE FROM kiosk_pins',
		];
		const allowed = [];
		for (const sql of refused) {
			const r = await psqlAs(stack.serverConninfo, sql);
			if (r.code === 0)
				allowed.push(sql);
			else
				assert.match(r.stderr, /permission denied|must be owner|must be superuser|must have admin option/i,
					`${sql}: refused for the wrong reason: ${r.stderr}`);
		}
		assert.deepEqual(allowed, [], 'the server role was allowed these');
		// Nothing changed.
		// (The latest migration number grows with the schema; nothing may have added one.)
		assert.equal(await stack.psql('SELECT max(version) FROM schema_migrations'),
			latestMigration);
		assert.equal(await stack.psql("SELECT count(*) FROM staff WHERE admin"), '0');
	});

test('the server role reads and writes what the server needs; the owner can migrate',
	async () => {
		const r = await psqlAs(stack.serverConninfo,
			'SELECT count(*) FROM kiosks JOIN branches b ON b.id = branch_id');
		assert.equal(r.code, 0, r.stderr);
		assert.equal(r.stdout.trim(), '2');
		const owner = await psqlAs(stack.conninfo,
			'BEGIN; ALTER TABLE visits ADD COLUMN x int; ROLLBACK');
		assert.equal(owner.code, 0, owner.stderr);
		// The server may note when a kiosk was last seen (migration 5), and nothing else there.
		const seen = await psqlAs(stack.serverConninfo,
			"UPDATE kiosks SET last_seen = now() WHERE branch_id = 'yamada'");
		assert.equal(seen.code, 0, seen.stderr);
		const again = await run(stack.bin, ['--db', stack.conninfo, 'migrate']);
		assert.equal(again.code, 0, again.stderr);
		assert.match(again.stdout, new RegExp(`schema up to date \\(version ${latestMigration}\\)`));
		// The server role cannot migrate (it would need to create the bookkeeping table).
		const denied = await run(stack.bin, ['--db', stack.serverConninfo, 'admin', 'branch', 'add',
			'evil', 'x']);
		assert.notEqual(denied.code, 0, 'admin as the server role must fail');
	});
