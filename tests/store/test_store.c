/* The store against a real PostgreSQL (started by tests/store/run.sh, which sets
 * MADOGUCHI_TEST_DB): migrations, the admin commands, the asynchronous lookups and record
 * writes, reconnection after a server restart, and a clean shutdown under ASan. */
#include "../unit/check.h"
#include "base/clock.h"
#include "store/store.h"
#include "store_check.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NASTY_NAME "O'Brien \"税\" '; DROP TABLE visits; --"
#define NOTE_TEXT  "住民票を2通。\"至急\" と言われた; DROP TABLE legs; -- \\ 終わり"

static char no_out[8];

static void test_migrate(PGconn *conn)
{
	/* From an empty database, then again: the second run changes nothing. */
	CHECK_EQ_INT(store_migrate(db), 0);
	const char *fingerprint_sql =
	    "SELECT count(*) || ' ' || md5(string_agg(c.relname || c.relkind, ',' ORDER BY"
	    " c.relname)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE n.nspname = 'public'";
	char before[256];
	snprintf(before, sizeof before, "%s", scalar(conn, fingerprint_sql, 0, NULL));
	CHECK_EQ_INT(store_migrate(db), 0);
	CHECK_EQ_STR(scalar(conn, fingerprint_sql, 0, NULL), before);
	/* Every migration applied once, in order: 1 to 11. 18 tables from migrations 1 to 3,
	 * the self-test's two (4), the kiosk PINs (7), the bookings (8), the node lease (10) and
	 * the tenants (11); 9 (guest legs) adds a column, no table. */
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM schema_migrations", 0, NULL), "11");
	CHECK_EQ_STR(scalar(conn, "SELECT max(version) FROM schema_migrations", 0, NULL), "11");
	CHECK_EQ_STR(
	    scalar(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", 0, NULL),
	    "24");
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT count(*) FROM pg_views WHERE schemaname = 'public'"
	                    " AND viewname IN ('usage_monthly', 'usage_daily')",
	                    0, NULL),
	             "2");
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT count(*) FROM pg_roles WHERE rolname = 'madoguchi_analyst'", 0,
	                    NULL),
	             "1");
}

/* Runs sql as the analyst role; returns the result status (the role is reset afterwards). */
static ExecStatusType as_analyst(PGconn *conn, const char *sql)
{
	PQclear(PQexec(conn, "SET ROLE madoguchi_analyst"));
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	PQclear(res);
	PQclear(PQexec(conn, "RESET ROLE"));
	return st;
}

/* The analyst reads the views and nothing that holds personal data, and writes nothing. */
static void test_analyst(PGconn *conn)
{
	static const char *const denied[] = {
	    "SELECT * FROM staff",
	    "SELECT * FROM kiosks",
	    "SELECT * FROM legs",
	    "SELECT * FROM visits",
	    "SELECT * FROM audit_log",
	    "SELECT * FROM login_sessions",
	    "SELECT * FROM staff_departments",
	    "SELECT * FROM usage_rollup",
	    "SELECT * FROM usage_visit_rows",
	    "INSERT INTO branches (id, name) VALUES ('x', 'x')",
	    "INSERT INTO visits (id, kiosk_id, branch_id, started_at)"
	    " VALUES (gen_random_uuid(), gen_random_uuid(), 'x', now())",
	    "UPDATE legs SET note = 'x'",
	    "DELETE FROM usage_rollup",
	    "CREATE TABLE analyst_was_here (x int)",
	    "SELECT usage_rollup_rebuild()",
	};
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		ExecStatusType st = as_analyst(conn, denied[i]);
		if (st != PGRES_FATAL_ERROR)
			fprintf(stderr, "analyst was allowed: %s\n", denied[i]);
		CHECK_EQ_INT(st, PGRES_FATAL_ERROR);
	}
	CHECK_EQ_INT(as_analyst(conn, "SELECT * FROM usage_monthly"), PGRES_TUPLES_OK);
	CHECK_EQ_INT(as_analyst(conn, "SELECT * FROM usage_daily WHERE day > '2020-01-01'"),
	             PGRES_TUPLES_OK);
	/* The views expose ids and numbers only: no column of a name, note or username. */
	CHECK_EQ_STR(
	    scalar(conn,
	           "SELECT count(*) FROM information_schema.columns WHERE table_name IN"
	           " ('usage_monthly', 'usage_daily') AND (column_name ~ 'name|note|user'"
	           " OR data_type NOT IN ('date', 'text', 'bigint', 'integer', 'numeric'))",
	           0, NULL),
	    "0");
}

static void test_admin_directory(PGconn *conn)
{
	char out[4096];
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "kita", "北支所"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "minami", NASTY_NAME, "--sort", "2"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "kita", "重複"), 1);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "kita"), 2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "bad id", "x"), 2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "frobnicate"), 2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "x", "y", "--bogus", "1"), 2);

	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "add", "zei", NASTY_NAME, "--sort", "2"), 0);
	CHECK_EQ_INT(
	    ADMIN(NULL, no_out, "department", "add", "shimin", "市民登録課", "--sort", "1"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "add", "empty", "手続なし課", "--sort", "3"),
	             0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "procedure", "add", "juminhyo", "住民票の写し",
	                   "--department", "shimin"),
	             0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "procedure", "add", "inkan", "印鑑登録", "--department",
	                   "shimin", "--sort", "-1"),
	             0);
	CHECK_EQ_INT(
	    ADMIN(NULL, no_out, "procedure", "add", "nozei", "納税証明", "--department", "zei"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "procedure", "add", "x", "y", "--department", "nosuch"),
	             1);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "procedure", "add", "x", "y"), 2);

	/* Stored verbatim, quotes and all; the tables are still there. */
	const char *p[] = {"minami"};
	CHECK_EQ_STR(scalar(conn, "SELECT name FROM branches WHERE id = $1", 1, p), NASTY_NAME);
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM visits", 0, NULL), "0");

	CHECK_EQ_INT(ADMIN(NULL, out, "branch", "list", "--json"), 0);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);
	CHECK(json_is_array(j) && json_array_size(j) == 2);
	json_t *first = json_array_get(j, 0);
	CHECK_EQ_STR(json_string_value(json_object_get(first, "id")), "kita");
	CHECK_EQ_STR(json_string_value(json_object_get(first, "name")), "北支所");
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(j, 1), "name")), NASTY_NAME);
	json_decref(j);

	CHECK_EQ_INT(ADMIN(NULL, out, "department", "list", "--json"), 0);
	j = json_loads(out, 0, &jerr);
	CHECK(json_is_array(j) && json_array_size(j) == 3);
	CHECK(json_is_true(json_object_get(json_array_get(j, 0), "open")));
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(j, 1), "sort")), 2);
	json_decref(j);

	CHECK_EQ_INT(ADMIN(NULL, out, "procedure", "list"), 0);
	const char *want = "id\tdepartment\tname\tsort\ninkan\tshimin\t印鑑登録\t-1\n";
	CHECK(strncmp(out, want, strlen(want)) == 0);
}

static void test_admin_credentials(PGconn *conn, char *token, char *revoked_token)
{
	char out[4096];
	CHECK_EQ_INT(store_admin_kiosk_add(db, "kita", "北支所 1番窓口", token, STORE_TOKEN_MAX),
	             0);
	CHECK_EQ_INT(strlen(token), 43);
	CHECK_EQ_INT(store_admin_kiosk_add(db, "nosuch", "x", revoked_token, STORE_TOKEN_MAX), -1);

	/* The command line prints the token alone on the first line of stdout. */
	CHECK_EQ_INT(ADMIN(NULL, out, "kiosk", "add", "--branch", "minami", "--name", "南 kiosk"),
	             0);
	CHECK_EQ_INT(strlen(out), 44);
	CHECK(out[43] == '\n');
	snprintf(revoked_token, STORE_TOKEN_MAX, "%.43s", out);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "kiosk", "add", "--branch", "nosuch", "--name", "x"), 1);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "kiosk", "add", "--branch", "kita"), 2);

	/* Only the digest is stored: no column anywhere holds the token. */
	CHECK_EQ_INT(ADMIN(NULL, out, "kiosk", "list", "--json"), 0);
	CHECK(strstr(out, token) == NULL);
	CHECK(strstr(out, "南 kiosk") != NULL);
	const char *tp[] = {token};
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT count(*) FROM kiosks WHERE token_hash ="
	                    " sha256(convert_to($1, 'UTF8'))",
	                    1, tp),
	             "1");

	char id[64];
	snprintf(id, sizeof id, "%s",
	         scalar(conn, "SELECT id FROM kiosks WHERE branch_id = 'minami'", 0, NULL));
	CHECK_EQ_INT(ADMIN(NULL, out, "kiosk", "revoke", id), 0);
	CHECK_EQ_INT(ADMIN(NULL, out, "kiosk", "revoke", id), 0);
	CHECK(strstr(out, "already") != NULL);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "kiosk", "revoke", "00000000-0000-4000-8000-000000000000"),
	             1);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "kiosk", "revoke", "not-a-uuid"), 1);

	CHECK_EQ_INT(store_admin_user_add(db, "tanaka", "田中 花子", "zei,shimin", "coordinator",
	                                  "pässwörd 秘密"),
	             0);
	CHECK_EQ_INT(store_admin_user_add(db, "tanaka", "二重", "zei", NULL, "x"), -1);
	CHECK_EQ_INT(store_admin_user_add(db, "sato", "佐藤", "nosuch", NULL, "x"), -1);
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM staff WHERE username = 'sato'", 0, NULL),
	             "0");
	CHECK_EQ_INT(store_admin_user_add(db, "empty", "空", "zei", NULL, ""), -1);

	CHECK_EQ_INT(ADMIN("secret two\n", no_out, "user", "add", "suzuki", "--name", NASTY_NAME,
	                   "--department", "shimin", "--flags", "analyst,admin"),
	             0);
	CHECK_EQ_INT(
	    ADMIN("\n", no_out, "user", "add", "ito", "--name", "伊藤", "--department", "shimin"),
	    2);
	CHECK_EQ_INT(ADMIN("pw\n", no_out, "user", "add", "ito", "--name", "伊藤", "--department",
	                   "shimin", "--flags", "root"),
	             2);
	CHECK_EQ_INT(ADMIN("new secret\r\n", no_out, "user", "passwd", "suzuki"), 0);
	CHECK_EQ_INT(ADMIN("x\n", no_out, "user", "passwd", "nobody"), 1);
	CHECK_EQ_INT(
	    ADMIN(NULL, no_out, "user", "add", "disabled", "--name", "x", "--department", "zei"),
	    2);
	CHECK_EQ_INT(store_admin_user_add(db, "gone", "退職者", "zei", NULL, "pw"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "disable", "gone"), 0);

	CHECK_EQ_INT(ADMIN(NULL, out, "user", "list", "--json"), 0);
	CHECK(strstr(out, "pbkdf2") == NULL);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);
	CHECK(json_is_array(j) && json_array_size(j) == 3);
	json_t *tanaka = json_array_get(j, 2);
	CHECK_EQ_STR(json_string_value(json_object_get(tanaka, "username")), "tanaka");
	CHECK_EQ_STR(json_string_value(json_object_get(tanaka, "departments")), "shimin,zei");
	CHECK(json_is_true(json_object_get(tanaka, "coordinator")));
	CHECK(json_is_false(json_object_get(tanaka, "admin")));
	json_decref(j);
}

/* Opening hours, ring strategy, one-stop menus and staff flags. */
static void test_admin_counter(PGconn *conn)
{
	char out[4096];
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-hours", "shimin", "1", "8:30", "12:00",
	                   "13:00", "17:15"),
	             0);
	CHECK_EQ_INT(
	    ADMIN(NULL, no_out, "department", "set-hours", "shimin", "2", "08:30", "17:15"), 0);
	/* Setting a weekday again replaces it. */
	CHECK_EQ_INT(
	    ADMIN(NULL, no_out, "department", "set-hours", "shimin", "2", "09:00", "16:00"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-hours", "shimin", "7", "9:00", "10:00"),
	             2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-hours", "shimin", "1", "17:00", "9:00"),
	             2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-hours", "shimin", "1", "9:00", "12:00",
	                   "11:00", "13:00"),
	             2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-hours", "shimin", "1", "9:00"), 2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-hours", "nosuch", "1", "9:00", "10:00"),
	             1);
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "hours", "shimin", "--json"), 0);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);
	CHECK(json_is_array(j) && json_array_size(j) == 3);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(j, 1), "opens")), "13:00");
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(j, 2), "weekday")), 2);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(j, 2), "closes")), "16:00");
	json_decref(j);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "clear-hours", "shimin", "2"), 0);
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM department_hours", 0, NULL), "2");
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "clear-hours", "shimin"), 0);
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM department_hours", 0, NULL), "0");

	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-strategy", "zei", "longest-idle",
	                   "--ring-timeout", "45"),
	             0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-strategy", "zei", "random"), 2);
	CHECK_EQ_INT(
	    ADMIN(NULL, no_out, "department", "set-strategy", "zei", "all", "--ring-timeout", "1"),
	    2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "set-strategy", "nosuch", "all"), 1);
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT ring_strategy || ' ' || ring_timeout_s FROM departments"
	                    " WHERE id = 'zei'",
	                    0, NULL),
	             "longest-idle 45");

	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "add", "tenkyo", NASTY_NAME, "--steps",
	                   "shimin,zei,shimin"),
	             0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "add", "tenkyo", "x", "--steps", "zei"), 1);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "add", "bad", "x", "--steps", "zei,nosuch"), 1);
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM onestop_menus WHERE id = 'bad'", 0, NULL),
	             "0");
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "add", "bad", "x", "--steps", "zei,"), 2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "add", "bad", "x"), 2);
	CHECK_EQ_INT(ADMIN(NULL, out, "onestop", "list", "--json"), 0);
	j = json_loads(out, 0, &jerr);
	CHECK(json_is_array(j) && json_array_size(j) == 1);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(j, 0), "name")), NASTY_NAME);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(j, 0), "steps")),
	             "shimin,zei,shimin");
	json_decref(j);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "add", "gone", "消す", "--steps", "zei"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "remove", "gone"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "onestop", "remove", "gone"), 1);

	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "flags", "tanaka", "analyst,admin"), 0);
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT coordinator || ' ' || analyst || ' ' || admin FROM staff"
	                    " WHERE username = 'tanaka'",
	                    0, NULL),
	             "false true true");
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "flags", "tanaka", "root"), 2);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "flags", "nobody", "admin"), 1);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "flags", "tanaka", "coordinator"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "enable", "gone"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "disable", "gone"), 0);
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "list", "--json"), 0);
	CHECK(strstr(out, "\"ring_timeout_s\": 45") != NULL);
}

/* ---- asynchronous part ---- */

struct result {
	int calls;
	int err;
	store_kiosk kiosk;
	store_staff staff;
	store_directory dir; /* deep-copied summary */
	char dir_summary[512];
};

static void on_kiosk(void *user, int err, const store_kiosk *k)
{
	struct result *r = user;
	r->calls++;
	r->err = err;
	if (k)
		r->kiosk = *k;
}

static void on_staff(void *user, int err, const store_staff *s)
{
	struct result *r = user;
	r->calls++;
	r->err = err;
	if (s)
		r->staff = *s;
}

static void on_directory(void *user, int err, const store_directory *d)
{
	struct result *r = user;
	r->calls++;
	r->err = err;
	if (!d)
		return;
	size_t o = 0;
	for (int i = 0; i < d->n_departments; i++) {
		const store_department *dep = &d->departments[i];
		o +=
		    (size_t)snprintf(r->dir_summary + o, sizeof r->dir_summary - o, "%s(", dep->id);
		for (int k = 0; k < dep->n_procedures; k++)
			o += (size_t)snprintf(r->dir_summary + o, sizeof r->dir_summary - o, "%s%s",
			                      k ? "," : "", dep->procedures[k].id);
		o += (size_t)snprintf(r->dir_summary + o, sizeof r->dir_summary - o, ")");
	}
	if (d->n_departments > 1)
		snprintf(r->staff.name, sizeof r->staff.name, "%s", d->departments[1].name);
}

static void on_flushed(void *user, int err)
{
	struct result *r = user;
	r->calls++;
	r->err = err;
}

static void test_auth(store *s, uv_loop_t *loop, const char *token, const char *revoked)
{
	struct result r = {0};
	CHECK_EQ_INT(store_auth_kiosk(s, token, on_kiosk, &r), 0);
	CHECK(run_until(loop, &r.calls, 5000));
	CHECK_EQ_INT(r.err, 0);
	CHECK_EQ_STR(r.kiosk.branch_id, "kita");
	CHECK_EQ_STR(r.kiosk.branch_name, "北支所");
	CHECK_EQ_STR(r.kiosk.name, "北支所 1番窓口");
	CHECK_EQ_INT(strlen(r.kiosk.id), 36);

	struct result wrong = {0}, gone = {0};
	CHECK_EQ_INT(store_auth_kiosk(s, "not-the-token", on_kiosk, &wrong), 0);
	CHECK_EQ_INT(store_auth_kiosk(s, revoked, on_kiosk, &gone), 0);
	CHECK(run_until(loop, &gone.calls, 5000));
	CHECK_EQ_INT(wrong.calls, 1);
	CHECK_EQ_INT(wrong.err, 1);
	CHECK_EQ_INT(gone.err, 1);

	struct result st = {0}, bad = {0}, nobody = {0}, disabled = {0}, su = {0};
	CHECK_EQ_INT(store_auth_staff(s, "tanaka", "pässwörd 秘密", on_staff, &st), 0);
	CHECK_EQ_INT(store_auth_staff(s, "tanaka", "pässwörd 秘", on_staff, &bad), 0);
	CHECK_EQ_INT(store_auth_staff(s, "nobody", "pässwörd 秘密", on_staff, &nobody), 0);
	CHECK_EQ_INT(store_auth_staff(s, "gone", "pw", on_staff, &disabled), 0);
	CHECK_EQ_INT(store_auth_staff(s, "suzuki", "new secret", on_staff, &su), 0);
	CHECK(run_until(loop, &st.calls, 10000));
	CHECK(run_until(loop, &bad.calls, 10000));
	CHECK(run_until(loop, &nobody.calls, 10000));
	CHECK(run_until(loop, &disabled.calls, 10000));
	CHECK(run_until(loop, &su.calls, 10000));
	CHECK_EQ_INT(st.err, 0);
	CHECK_EQ_STR(st.staff.username, "tanaka");
	CHECK_EQ_STR(st.staff.name, "田中 花子");
	CHECK_EQ_INT(st.staff.n_departments, 2);
	CHECK_EQ_STR(st.staff.departments[0], "shimin");
	CHECK_EQ_STR(st.staff.departments[1], "zei");
	CHECK_EQ_INT(st.staff.coordinator, 1);
	CHECK_EQ_INT(st.staff.analyst, 0);
	CHECK_EQ_INT(st.staff.admin, 0);
	CHECK_EQ_INT(strlen(st.staff.id), 36);
	CHECK_EQ_INT(bad.err, 1);
	CHECK_EQ_INT(nobody.err, 1);
	CHECK_EQ_INT(disabled.err, 1);
	CHECK_EQ_INT(su.err, 0);
	CHECK_EQ_STR(su.staff.name, NASTY_NAME);
	CHECK(su.staff.analyst && su.staff.admin && !su.staff.coordinator);
	CHECK_EQ_INT(bad.calls + nobody.calls + st.calls, 3);

	struct result d = {0};
	CHECK_EQ_INT(store_load_directory(s, on_directory, &d), 0);
	CHECK(run_until(loop, &d.calls, 5000));
	CHECK_EQ_INT(d.err, 0);
	CHECK_EQ_STR(d.dir_summary, "shimin(inkan,juminhyo)zei(nozei)empty()");
	CHECK_EQ_STR(d.staff.name, NASTY_NAME);
}

static store_record rec(enum store_record_kind kind, const char *visit, const char *leg,
                        int64_t at_us)
{
	store_record r;
	memset(&r, 0, sizeof r);
	r.kind = kind;
	snprintf(r.visit, sizeof r.visit, "%s", visit);
	snprintf(r.leg, sizeof r.leg, "%s", leg ? leg : "");
	r.at_us = at_us;
	return r;
}

#define VISIT1  "11111111-1111-4111-8111-111111111111"
#define LEG1    "22222222-2222-4222-8222-222222222221"
#define LEG2    "22222222-2222-4222-8222-222222222222"
#define LEG_BAD "22222222-2222-4222-8222-2222222222ff"
#define VISIT2  "33333333-3333-4333-8333-333333333333"
#define VISIT3  "55555555-5555-4555-8555-555555555555"
#define LEG3    "44444444-4444-4444-8444-444444444444"
#define T0      1767225600123456LL /* 2026-01-01T00:00:00.123456Z */

static void flush(store *s, uv_loop_t *loop, int timeout_ms)
{
	struct result f = {0};
	CHECK_EQ_INT(store_flush(s, on_flushed, &f), 0);
	CHECK(run_until(loop, &f.calls, timeout_ms));
	CHECK_EQ_INT(f.err, 0);
	CHECK_EQ_INT(store_pending(s), 0);
}

/* VISIT1's history as the server would write it. */
static void write_visit1(store *s, const char *kiosk_id, const char *staff_id)
{
	store_record r = rec(STORE_VISIT_STARTED, VISIT1, NULL, T0);
	snprintf(r.kiosk_id, sizeof r.kiosk_id, "%s", kiosk_id);
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_LEG_QUEUED, VISIT1, LEG1, T0 + 1000000);
	snprintf(r.department, sizeof r.department, "shimin");
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_LEG_ANSWERED, VISIT1, LEG1, T0 + 31000001);
	snprintf(r.staff_id, sizeof r.staff_id, "%s", staff_id);
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_LEG_ENDED, VISIT1, LEG1, T0 + 300000000);
	snprintf(r.outcome, sizeof r.outcome, "completed");
	snprintf(r.procedure, sizeof r.procedure, "juminhyo");
	snprintf(r.note, sizeof r.note, "%s", NOTE_TEXT);
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_LEG_QUEUED, VISIT1, LEG2, T0 + 301000000);
	snprintf(r.department, sizeof r.department, "zei");
	snprintf(r.procedure, sizeof r.procedure, "nozei");
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_LEG_ENDED, VISIT1, LEG2, T0 + 302000000);
	snprintf(r.outcome, sizeof r.outcome, "cancelled");
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_VISIT_ENDED, VISIT1, NULL, T0 + 303000000);
	snprintf(r.outcome, sizeof r.outcome, "completed");
	CHECK_EQ_INT(store_write(s, &r), 0);
}

static void test_records(store *s, uv_loop_t *loop, PGconn *conn, const char *kiosk_id,
                         const char *staff_id)
{
	/* A record the database rejects (unknown department) is dropped without blocking the
	 * visit's whole history that follows it. */
	store_record r = rec(STORE_LEG_QUEUED, VISIT1, LEG_BAD, T0 + 40000000);
	snprintf(r.department, sizeof r.department, "nosuch");
	CHECK_EQ_INT(store_write(s, &r), 0);
	write_visit1(s, kiosk_id, staff_id);
	r = rec(STORE_VISIT_STARTED, VISIT1, NULL, T0);
	snprintf(r.kiosk_id, sizeof r.kiosk_id, "%s", kiosk_id);
	CHECK_EQ_INT(store_write(s, &r), 0); /* a replay is harmless */

	/* Malformed records are refused at the door. */
	r = rec(STORE_LEG_QUEUED, VISIT1, LEG2, T0);
	CHECK_EQ_INT(store_write(s, &r), -1); /* no department */
	r = rec(STORE_VISIT_ENDED, VISIT1, NULL, 0);
	CHECK_EQ_INT(store_write(s, &r), -1); /* no time */
	r = rec(STORE_VISIT_ENDED, VISIT1, NULL, T0);
	r.kind = (enum store_record_kind)42;
	CHECK_EQ_INT(store_write(s, &r), -1);
	r = rec(STORE_VISIT_ENDED, VISIT1, NULL, T0);
	memset(r.outcome, 'x', sizeof r.outcome);
	CHECK_EQ_INT(store_write(s, &r), -1);

	CHECK(store_pending(s) > 0);
	flush(s, loop, 5000);

	const char *v1[] = {VISIT1};
	CHECK_EQ_STR(scalar(conn, "SELECT branch_id FROM visits WHERE id = $1", 1, v1), "kita");
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT (extract(epoch FROM started_at) * 1000000)::bigint::text"
	                    " FROM visits WHERE id = $1",
	                    1, v1),
	             "1767225600123456");
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT end_reason || ' ' || (ended_at - started_at)::text"
	                    " FROM visits WHERE id = $1",
	                    1, v1),
	             "completed 00:05:03");
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT string_agg(seq || ':' || department_id || ':' ||"
	                    " coalesce(procedure_id, '-') || ':' || coalesce(outcome, '-'),"
	                    " ' ' ORDER BY seq) FROM legs WHERE visit_id = $1",
	                    1, v1),
	             "1:shimin:juminhyo:completed 2:zei:nozei:cancelled");
	const char *l1[] = {LEG1};
	CHECK_EQ_STR(scalar(conn, "SELECT note FROM legs WHERE id = $1", 1, l1), NOTE_TEXT);
	CHECK_EQ_STR(scalar(conn, "SELECT staff_id::text FROM legs WHERE id = $1", 1, l1),
	             staff_id);
	CHECK_EQ_STR(
	    scalar(conn, "SELECT (answered_at - queued_at)::text FROM legs WHERE id = $1", 1, l1),
	    "00:00:30.000001");
	const char *l2[] = {LEG2};
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT coalesce(staff_id::text, 'none') || coalesce(note, '')"
	                    " FROM legs WHERE id = $1",
	                    1, l2),
	             "none");
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM legs", 0, NULL), "2");

	/* An error the operator can fix (here a missing table) holds the record, not drops it. */
	PQclear(PQexec(conn, "ALTER TABLE visits RENAME TO visits_away"));
	r = rec(STORE_VISIT_STARTED, VISIT3, NULL, T0 + 7000000);
	snprintf(r.kiosk_id, sizeof r.kiosk_id, "%s", kiosk_id);
	CHECK_EQ_INT(store_write(s, &r), 0);
	int64_t until = clock_mono_us() + 1500000;
	while (clock_mono_us() < until)
		uv_run(loop, UV_RUN_ONCE);
	CHECK_EQ_INT(store_pending(s), 1);
	CHECK(store_is_up(s));
	PQclear(PQexec(conn, "ALTER TABLE visits_away RENAME TO visits"));
	flush(s, loop, 5000);
	const char *v3[] = {VISIT3};
	CHECK_EQ_STR(scalar(conn, "SELECT branch_id FROM visits WHERE id = $1", 1, v3), "kita");
}

#define AUDIT1      "66666666-6666-4666-8666-666666666661"
#define AUDIT2      "66666666-6666-4666-8666-666666666662"
#define DETAIL_TEXT "{\"note\": \"O'Brien; DROP TABLE audit_log; --\", \"n\": 1}"

/* Everything the records produced, as one string: compared before and after a replay. */
static const char *state_sql =
    "SELECT md5(coalesce((SELECT string_agg(row_to_json(v)::text, ',' ORDER BY id) FROM visits v),"
    " '') || coalesce((SELECT string_agg(row_to_json(l)::text, ',' ORDER BY id) FROM legs l), '')"
    " || coalesce((SELECT string_agg(row_to_json(s)::text, ',' ORDER BY visit_id) FROM surveys s),"
    " '') || coalesce((SELECT string_agg(row_to_json(a)::text, ',' ORDER BY id) FROM audit_log a),"
    " '') || coalesce((SELECT string_agg(row_to_json(u)::text, ',' ORDER BY day, branch_id,"
    " department_id, procedure_id) FROM usage_rollup u), ''))";

static const char *rollup_sql =
    "SELECT coalesce(string_agg(row_to_json(u)::text, ',' ORDER BY day, branch, department,"
    " procedure), '') FROM usage_daily u";

/* Everything about VISIT1 once more, as a replay after a lost confirmation would send it, plus
 * a late duplicate end with another time and outcome: the first write wins everywhere. */
static void test_records_replay(store *s, uv_loop_t *loop, const char *kiosk_id,
                                const char *staff_id)
{
	write_visit1(s, kiosk_id, staff_id);
	store_record r = rec(STORE_LEG_ENDED, VISIT1, LEG1, T0 + 900000000);
	snprintf(r.outcome, sizeof r.outcome, "referred");
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_VISIT_ENDED, VISIT1, NULL, T0 + 900000000);
	snprintf(r.outcome, sizeof r.outcome, "dropped");
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_SURVEY, VISIT1, NULL, T0 + 304000000);
	r.rating = 2;
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_AUDIT, VISIT1, LEG1, T0 + 31000002);
	snprintf(r.audit_id, sizeof r.audit_id, AUDIT1);
	snprintf(r.action, sizeof r.action, "accept");
	CHECK_EQ_INT(store_write(s, &r), 0);
	flush(s, loop, 5000);
}

/* Surveys and the audit log; then the whole history written again changes nothing, and the
 * rollup maintained on write equals the one rebuilt from the legs. */
static void test_replay_and_rollup(store *s, uv_loop_t *loop, PGconn *conn, const char *kiosk_id,
                                   const char *staff_id)
{
	store_record r = rec(STORE_SURVEY, VISIT1, NULL, T0 + 304000000);
	r.rating = 4;
	CHECK_EQ_INT(store_write(s, &r), 0);
	r.rating = 1; /* a second survey for the visit is ignored */
	CHECK_EQ_INT(store_write(s, &r), 0);
	r.rating = 9;
	CHECK_EQ_INT(store_write(s, &r), -1);
	r = rec(STORE_AUDIT, VISIT1, LEG1, T0 + 31000002);
	snprintf(r.audit_id, sizeof r.audit_id, AUDIT1);
	snprintf(r.staff_id, sizeof r.staff_id, "%s", staff_id);
	snprintf(r.action, sizeof r.action, "accept");
	snprintf(r.detail, sizeof r.detail, DETAIL_TEXT);
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_AUDIT, VISIT1, NULL, T0 + 31000003);
	snprintf(r.audit_id, sizeof r.audit_id, AUDIT2);
	snprintf(r.action, sizeof r.action, "patch");
	snprintf(r.detail, sizeof r.detail, "not json: '); DROP TABLE staff; --");
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_CLOSE_INTERRUPTED, "", NULL, T0);
	CHECK_EQ_INT(store_write(s, &r), -1);
	flush(s, loop, 5000);

	const char *v1[] = {VISIT1};
	CHECK_EQ_STR(scalar(conn, "SELECT rating FROM surveys WHERE visit_id = $1", 1, v1), "4");
	const char *a1[] = {AUDIT1};
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT action || ' ' || (detail->>'note')"
	                    " FROM audit_log WHERE record_id = $1",
	                    1, a1),
	             "accept O'Brien; DROP TABLE audit_log; --");
	CHECK(strstr(scalar(conn, "SELECT staff_id FROM audit_log WHERE record_id = $1", 1, a1),
	             staff_id) != NULL);
	const char *a2[] = {AUDIT2};
	CHECK_EQ_STR(
	    scalar(conn, "SELECT detail #>> '{}' FROM audit_log WHERE record_id = $1", 1, a2),
	    "not json: '); DROP TABLE staff; --");

	/* January 2026 in Tokyo: VISIT1's two legs (shimin answered after 30 s and talked
	 * 269 s; zei cancelled while queued) and its rating, which counts in both rows. The p90
	 * is interpolated inside the histogram bucket [30 s, 45 s) holding the one wait. */
	CHECK_EQ_STR(
	    scalar(conn,
	           "SELECT string_agg(concat_ws(' ', month, branch, department, procedure,"
	           " visits, legs, answered, abandoned, avg_wait_s, p90_wait_s, avg_talk_s,"
	           " onestop_visits, avg_rating), '; ' ORDER BY department)"
	           " FROM usage_monthly WHERE month = '2026-01-01'",
	           0, NULL),
	    "2026-01-01 kita shimin juminhyo 1 1 1 0 30.0 43.5 269.0 0 4.00; "
	    "2026-01-01 kita zei nozei 1 1 0 1 0 4.00");

	/* Replay: every record of VISIT1 again, in order. Nothing changes. */
	char before[64];
	snprintf(before, sizeof before, "%s", scalar(conn, state_sql, 0, NULL));
	test_records_replay(s, loop, kiosk_id, staff_id);
	CHECK_EQ_STR(scalar(conn, state_sql, 0, NULL), before);

	/* The rollup kept on write equals a rebuild from the legs. */
	char *kept = strdup(scalar(conn, rollup_sql, 0, NULL));
	CHECK(strlen(kept) > 10);
	CHECK(atoi(scalar(conn, "SELECT usage_rollup_rebuild()", 0, NULL)) >= 2);
	CHECK_EQ_STR(scalar(conn, rollup_sql, 0, NULL), kept);
	free(kept);
}

/* Stops PostgreSQL under the store, writes records meanwhile, starts it again: nothing lost. */
static void test_restart(store *s, uv_loop_t *loop, PGconn **conn, const char *kiosk_id)
{
	const char *pgctl = getenv("MADOGUCHI_TEST_PGCTL");
	const char *opts = getenv("MADOGUCHI_TEST_PGOPTS");
	char cmd[1024];
	if (!pgctl || !opts) {
		printf("test_store: MADOGUCHI_TEST_PGCTL not set, restart test skipped\n");
		return;
	}
	PQfinish(*conn);
	*conn = NULL;
	snprintf(cmd, sizeof cmd, "%s -m fast stop >/dev/null", pgctl);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK(is_up_flag(s, loop, 0, 5000));

	store_record r = rec(STORE_VISIT_STARTED, VISIT2, NULL, T0 + 1000);
	snprintf(r.kiosk_id, sizeof r.kiosk_id, "%s", kiosk_id);
	CHECK_EQ_INT(store_write(s, &r), 0);
	r = rec(STORE_LEG_QUEUED, VISIT2, LEG3, T0 + 2000);
	snprintf(r.department, sizeof r.department, "zei");
	CHECK_EQ_INT(store_write(s, &r), 0);
	/* A login while the database is away fails within the query timeout, with -1. */
	struct result st = {0};
	CHECK_EQ_INT(store_auth_staff(s, "tanaka", "pässwörd 秘密", on_staff, &st), 0);
	CHECK(run_until(loop, &st.calls, 8000));
	CHECK_EQ_INT(st.err, -1);
	CHECK_EQ_INT(store_pending(s), 2);
	CHECK(!store_is_up(s));

	snprintf(cmd, sizeof cmd, "%s -o \"%s\" start >/dev/null", pgctl, opts);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK(is_up_flag(s, loop, 1, 5000));
	flush(s, loop, 5000);
	*conn = PQconnectdb(db);
	const char *v2[] = {VISIT2};
	CHECK_EQ_STR(scalar(*conn, "SELECT count(*) FROM legs WHERE visit_id = $1", 1, v2), "1");

	/* The same restart while idle and connected is noticed without any traffic. */
	snprintf(cmd, sizeof cmd, "%s -m fast restart -o \"%s\" >/dev/null", pgctl, opts);
	CHECK_EQ_INT(system(cmd), 0);
	struct result k = {0};
	CHECK_EQ_INT(store_auth_kiosk(s, "still-not-a-token", on_kiosk, &k), 0);
	CHECK(run_until(loop, &k.calls, 8000));
	CHECK_EQ_INT(k.err, 1);
	PQfinish(*conn);
	*conn = PQconnectdb(db);
}

/* store_free answers everything still pending with -1, exactly once, and leaks nothing. */
static void test_free(uv_loop_t *loop)
{
	store *s = store_new(loop, db, NULL);
	CHECK(s != NULL);
	CHECK(is_up_flag(s, loop, 1, 5000));
	struct result running = {0}, queued = {0}, dir = {0};
	CHECK_EQ_INT(store_auth_staff(s, "tanaka", "pässwörd 秘密", on_staff, &running), 0);
	/* Let the lookup reach the thread pool (the hash takes far longer than this). */
	int64_t until = clock_mono_us() + 30000;
	while (clock_mono_us() < until)
		uv_run(loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(store_auth_staff(s, "tanaka", "x", on_staff, &queued), 0);
	CHECK_EQ_INT(store_load_directory(s, on_directory, &dir), 0);
	store_record r = rec(STORE_VISIT_ENDED, VISIT2, NULL, T0 + 5000000);
	snprintf(r.outcome, sizeof r.outcome, "dropped");
	CHECK_EQ_INT(store_write(s, &r), 0);
	store_free(s);
	CHECK_EQ_INT(running.calls, 1);
	CHECK_EQ_INT(queued.calls, 1);
	CHECK_EQ_INT(queued.err, -1);
	CHECK_EQ_INT(dir.calls, 1);
	CHECK_EQ_INT(dir.err, -1);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(running.calls, 1);
	store_free(NULL);

	/* The record queued at shutdown was written synchronously by store_free. */
	PGconn *conn = PQconnectdb(db);
	const char *v2[] = {VISIT2};
	CHECK_EQ_STR(scalar(conn, "SELECT end_reason FROM visits WHERE id = $1", 1, v2), "dropped");
	PQfinish(conn);

	/* A store that never connects frees cleanly too. */
	s = store_new(loop, "host=/nonexistent-dir dbname=x", NULL);
	CHECK(s != NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK(!store_is_up(s));
	CHECK_EQ_INT(store_write(s, &r), 0);
	CHECK_EQ_INT(store_pending(s), 1);
	store_free(s);
	uv_run(loop, UV_RUN_DEFAULT);
}

#define VISIT4 "77777777-7777-4777-8777-777777777777"
#define LEG4   "88888888-8888-4888-8888-888888888888"

static long long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long long n = ftell(f);
	fclose(f);
	return n;
}

/* A server that cannot reach PostgreSQL takes a call and is killed with SIGKILL: its records
 * are only in the spool. The next start replays them, closes the visit as interrupted and
 * empties the spool. */
static void test_spool_crash(PGconn *conn, const char *kiosk_id, const char *staff_id)
{
	char dir[] = "/tmp/madoguchi-store-spool-XXXXXX", path[128];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/var/spool/records.spool", dir);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		uv_loop_t loop;
		uv_loop_init(&loop);
		store *s = store_new(&loop, "host=/nonexistent-dir dbname=x", path);
		store_record r = rec(STORE_VISIT_STARTED, VISIT4, NULL, T0 + 9000000);
		snprintf(r.kiosk_id, sizeof r.kiosk_id, "%s", kiosk_id);
		store_write(s, &r);
		r = rec(STORE_LEG_QUEUED, VISIT4, LEG4, T0 + 9100000);
		snprintf(r.department, sizeof r.department, "zei");
		store_write(s, &r);
		r = rec(STORE_LEG_ANSWERED, VISIT4, LEG4, T0 + 9200000);
		snprintf(r.staff_id, sizeof r.staff_id, "%s", staff_id);
		store_write(s, &r);
		int64_t until = clock_mono_us() + 300000;
		while (clock_mono_us() < until)
			uv_run(&loop, UV_RUN_NOWAIT);
		kill(getpid(), SIGKILL);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(file_size(path) > 100);

	uv_loop_t loop;
	uv_loop_init(&loop);
	store *s = store_new(&loop, db, path);
	CHECK(s != NULL);
	CHECK_EQ_INT(store_pending(s), 4); /* three replayed, then the crash recovery */
	CHECK(is_up_flag(s, &loop, 1, 5000));
	flush(s, &loop, 5000);
	const char *v4[] = {VISIT4};
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT v.end_reason || ' ' || l.outcome || ' ' ||"
	                    " (l.staff_id IS NOT NULL) || ' ' || (v.ended_at >= l.answered_at)"
	                    " FROM visits v JOIN legs l ON l.visit_id = v.id WHERE v.id = $1",
	                    1, v4),
	             "interrupted interrupted true true");
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM visits WHERE ended_at IS NULL", 0, NULL),
	             "0");
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM legs WHERE ended_at IS NULL", 0, NULL),
	             "0");
	/* Interrupted legs (LEG4 answered, and LEG3 left queued by test_restart) are legs, not
	 * abandonments, and have no talk time. */
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT legs || ' ' || answered || ' ' || abandoned || ' ' ||"
	                    " coalesce(avg_talk_s::text, '-') FROM usage_daily"
	                    " WHERE department = 'zei' AND procedure IS NULL",
	                    0, NULL),
	             "2 1 0 -");
	int64_t until = clock_mono_us() + 2000000;
	while (file_size(path) != 0 && clock_mono_us() < until)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(file_size(path), 0);
	store_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
	db = getenv("MADOGUCHI_TEST_DB");
	if (!db) {
		printf("test_store: MADOGUCHI_TEST_DB not set (run through tests/store/run.sh)\n");
		return 77;
	}
	PGconn *conn = PQconnectdb(db);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	char token[STORE_TOKEN_MAX], revoked[STORE_TOKEN_MAX];
	test_migrate(conn);
	test_admin_directory(conn);
	test_admin_credentials(conn, token, revoked);
	test_admin_counter(conn);
	test_analyst(conn);

	char kiosk_id[64], staff_id[64];
	snprintf(kiosk_id, sizeof kiosk_id, "%s",
	         scalar(conn, "SELECT id FROM kiosks WHERE branch_id = 'kita'", 0, NULL));
	snprintf(staff_id, sizeof staff_id, "%s",
	         scalar(conn, "SELECT id FROM staff WHERE username = 'tanaka'", 0, NULL));

	uv_loop_t loop;
	uv_loop_init(&loop);
	store *s = store_new(&loop, db, NULL);
	CHECK(s != NULL);
	CHECK(is_up_flag(s, &loop, 1, 5000));
	test_auth(s, &loop, token, revoked);
	test_records(s, &loop, conn, kiosk_id, staff_id);
	test_replay_and_rollup(s, &loop, conn, kiosk_id, staff_id);
	test_restart(s, &loop, &conn, kiosk_id);
	store_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	test_free(&loop);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	test_spool_crash(conn, kiosk_id, staff_id);
	PQfinish(conn);
	return check_done("store");
}
