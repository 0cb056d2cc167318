/* Revocation against a real PostgreSQL (tests/store/run.sh): the store, connected as a member
 * of madoguchi_server as the server is, hears within 2 s about a kiosk revoked or a staff
 * member disabled or given a new password, whether by `madoguchi admin` or by hand-written
 * SQL; the alive lookups and logout answer right; old login tokens stop working after a
 * password change; a password check running while the credentials change does not let the
 * login through; and after PostgreSQL restarts the store asks for a re-check of everything and
 * hears notices again. The server's role is also enough for the call records it writes. */
#include "../unit/check.h"
#include "base/clock.h"
#include "store/analytics.h"
#include "store/store.h"
#include "store_check.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTICE_MS 2000 /* the longest a notice may take to reach the store */

/* ---- what the store told the listener ---- */

#define MAX_EVENTS 64

struct events {
	int n;
	int kind[MAX_EVENTS];
	char id[MAX_EVENTS][64]; /* "" for the re-check after a (re)connection */
	int64_t at_us[MAX_EVENTS];
};

static void on_ident(void *user, store_ident_kind kind, const char *id)
{
	struct events *e = user;
	if (e->n == MAX_EVENTS)
		return;
	e->kind[e->n] = (int)kind;
	snprintf(e->id[e->n], sizeof e->id[0], "%s", id ? id : "");
	e->at_us[e->n] = clock_mono_us();
	e->n++;
}

/* Index of the first event at or after from with this kind and id, or -1. */
static int find_event(const struct events *e, int from, int kind, const char *id)
{
	for (int i = from; i < e->n; i++)
		if (e->kind[i] == kind && strcmp(e->id[i], id) == 0)
			return i;
	return -1;
}

/* Runs the loop until the event shows up; returns the delay from start_us in milliseconds, or
 * -1 when it did not come within timeout_ms. */
static int wait_event(uv_loop_t *loop, const struct events *e, int from, int kind, const char *id,
                      int64_t start_us, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	int i;
	while ((i = find_event(e, from, kind, id)) < 0 && clock_mono_us() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	if (i < 0)
		return -1;
	return (int)((e->at_us[i] - start_us) / 1000);
}

/* ---- one-shot answers ---- */

struct answer {
	int calls, err;
	store_staff staff;
	store_login login;
};

static void on_alive(void *user, int err)
{
	struct answer *a = user;
	a->calls++;
	a->err = err;
}

static void on_staff(void *user, int err, const store_staff *st)
{
	struct answer *a = user;
	a->calls++;
	a->err = err;
	if (st)
		a->staff = *st;
}

static void on_login(void *user, int err, const store_login *l)
{
	struct answer *a = user;
	a->calls++;
	a->err = err;
	if (l)
		a->login = *l;
}

static int kiosk_alive(store *s, uv_loop_t *loop, const char *id)
{
	struct answer a = {0};
	CHECK_EQ_INT(store_kiosk_alive(s, id, on_alive, &a), 0);
	CHECK(run_until(loop, &a.calls, 5000));
	return a.calls == 1 ? a.err : -100;
}

static int staff_alive(store *s, uv_loop_t *loop, const char *id, long long version)
{
	struct answer a = {0};
	CHECK_EQ_INT(store_staff_alive(s, id, version, on_alive, &a), 0);
	CHECK(run_until(loop, &a.calls, 5000));
	return a.calls == 1 ? a.err : -100;
}

static int login_check(store *s, uv_loop_t *loop, const char *token, store_staff *out)
{
	struct answer a = {0};
	CHECK_EQ_INT(store_login_check(s, token, on_staff, &a), 0);
	CHECK(run_until(loop, &a.calls, 5000));
	if (out)
		*out = a.staff;
	return a.calls == 1 ? a.err : -100;
}

static int logout(store *s, uv_loop_t *loop, const char *token)
{
	struct answer a = {0};
	CHECK_EQ_INT(store_logout(s, token, on_alive, &a), 0);
	CHECK(run_until(loop, &a.calls, 5000));
	return a.calls == 1 ? a.err : -100;
}

/* Logs in through POST /api/login's store call; fills l. */
static int login(store *s, uv_loop_t *loop, const char *user, const char *password, store_login *l)
{
	struct answer a = {0};
	CHECK_EQ_INT(store_login_create(s, user, password, on_login, &a), 0);
	CHECK(run_until(loop, &a.calls, 10000));
	if (l)
		*l = a.login;
	return a.calls == 1 ? a.err : -100;
}

static const char *staff_id_of(PGconn *conn, const char *username, char *out, size_t cap)
{
	const char *p[] = {username};
	snprintf(out, cap, "%s", scalar(conn, "SELECT id FROM staff WHERE username = $1", 1, p));
	return out;
}

/* ---- the tests ---- */

static char no_out[8];

/* The directory the tests use: one branch, one department, four kiosks, four clerks. */
static void seed(PGconn *conn, char kiosk[4][64])
{
	CHECK_EQ_INT(store_migrate(db), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "branch", "add", "kita", "北支所"), 0);
	CHECK_EQ_INT(ADMIN(NULL, no_out, "department", "add", "zei", "税務課"), 0);
	char token[STORE_TOKEN_MAX], name[32];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "kiosk %d", i);
		CHECK_EQ_INT(store_admin_kiosk_add(db, "kita", name, token, sizeof token), 0);
		const char *p[] = {name};
		snprintf(kiosk[i], 64, "%s",
		         scalar(conn, "SELECT id FROM kiosks WHERE name = $1", 1, p));
		CHECK_EQ_INT(strlen(kiosk[i]), 36);
	}
	const char *users[] = {"sato", "suzuki", "tanaka", "takahashi"};
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(store_admin_user_add(db, users[i], users[i], "zei", NULL, "old pw"),
		             0);
	CHECK_EQ_STR(scalar(conn, "SELECT max(cred_version) FROM staff", 0, NULL), "0");
	/* The server's login role, as docs/operations.md has the operator make it. */
	CHECK_EQ_INT(
	    exec_status(conn, "CREATE ROLE mdg_server_login LOGIN IN ROLE madoguchi_server"),
	    PGRES_COMMAND_OK);
}

static void test_kiosk_revoked(store *s, uv_loop_t *loop, PGconn *conn, struct events *e,
                               char kiosk[4][64])
{
	CHECK_EQ_INT(kiosk_alive(s, loop, kiosk[0]), 0);

	/* The admin command, in another "process" (its own connection). */
	int from = e->n;
	int64_t t0 = clock_mono_us();
	CHECK_EQ_INT(ADMIN(NULL, no_out, "kiosk", "revoke", kiosk[0]), 0);
	int ms = wait_event(loop, e, from, STORE_IDENT_KIOSK, kiosk[0], t0, NOTICE_MS);
	printf("test_store_ident: kiosk revoke noticed after %d ms\n", ms);
	CHECK(ms >= 0);
	CHECK_EQ_INT(kiosk_alive(s, loop, kiosk[0]), 1);
	/* Revoking again changes nothing and announces nothing. */
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, no_out, "kiosk", "revoke", kiosk[0]), 0);
	run_for(loop, 300);
	CHECK_EQ_INT(e->n, from);

	/* A hand-written UPDATE; a rolled-back one is never announced. */
	char sql[256];
	snprintf(sql, sizeof sql, "UPDATE kiosks SET revoked_at = now() WHERE id = '%s'", kiosk[2]);
	CHECK_EQ_INT(exec_status(conn, "BEGIN"), PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, "ROLLBACK"), PGRES_COMMAND_OK);
	run_for(loop, 300);
	CHECK_EQ_INT(find_event(e, from, STORE_IDENT_KIOSK, kiosk[2]), -1);
	CHECK_EQ_INT(kiosk_alive(s, loop, kiosk[2]), 0);
	snprintf(sql, sizeof sql, "UPDATE kiosks SET revoked_at = now() WHERE id = '%s'", kiosk[1]);
	t0 = clock_mono_us();
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK(wait_event(loop, e, from, STORE_IDENT_KIOSK, kiosk[1], t0, NOTICE_MS) >= 0);
	CHECK_EQ_INT(kiosk_alive(s, loop, kiosk[1]), 1);

	/* A deleted kiosk (one that never served a visit) is gone for good. */
	snprintf(sql, sizeof sql, "DELETE FROM kiosks WHERE id = '%s'", kiosk[3]);
	t0 = clock_mono_us();
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK(wait_event(loop, e, from, STORE_IDENT_KIOSK, kiosk[3], t0, NOTICE_MS) >= 0);
	CHECK_EQ_INT(kiosk_alive(s, loop, kiosk[3]), 1);

	CHECK_EQ_INT(kiosk_alive(s, loop, "00000000-0000-4000-8000-000000000000"), 1);
	struct answer a = {0};
	CHECK_EQ_INT(store_kiosk_alive(s, "not-a-uuid", on_alive, &a), -1);
	CHECK_EQ_INT(store_kiosk_alive(s, "00000000-0000-4000-8000-00000000000'", on_alive, &a),
	             -1);
	CHECK_EQ_INT(store_kiosk_alive(NULL, kiosk[2], on_alive, &a), -1);
	CHECK_EQ_INT(a.calls, 0);
}

/* `admin user passwd`: the notice, every old login token refused, the old version dead, the
 * new password bringing the new version. */
static void test_passwd(store *s, uv_loop_t *loop, PGconn *conn, struct events *e)
{
	char id[64];
	staff_id_of(conn, "sato", id, sizeof id);
	store_login l1, l2;
	CHECK_EQ_INT(login(s, loop, "sato", "old pw", &l1), 0);
	CHECK_EQ_INT(login(s, loop, "sato", "old pw", &l2), 0);
	CHECK_EQ_INT(l1.staff.cred_version, 0);
	store_staff st;
	CHECK_EQ_INT(login_check(s, loop, l1.token, &st), 0);
	CHECK_EQ_STR(st.id, id);
	CHECK_EQ_INT(st.cred_version, 0);
	CHECK_EQ_INT(staff_alive(s, loop, id, 0), 0);

	int from = e->n;
	int64_t t0 = clock_mono_us();
	CHECK_EQ_INT(ADMIN("new pw\n", no_out, "user", "passwd", "sato"), 0);
	int ms = wait_event(loop, e, from, STORE_IDENT_STAFF, id, t0, NOTICE_MS);
	printf("test_store_ident: passwd noticed after %d ms\n", ms);
	CHECK(ms >= 0);
	CHECK_EQ_INT(login_check(s, loop, l1.token, NULL), 1);
	CHECK_EQ_INT(login_check(s, loop, l2.token, NULL), 1);
	CHECK_EQ_INT(staff_alive(s, loop, id, 0), 1);
	CHECK_EQ_INT(login(s, loop, "sato", "old pw", NULL), 1);
	store_login l3;
	CHECK_EQ_INT(login(s, loop, "sato", "new pw", &l3), 0);
	CHECK_EQ_INT(l3.staff.cred_version, 1);
	CHECK_EQ_INT(staff_alive(s, loop, id, 1), 0);
	CHECK_EQ_INT(login_check(s, loop, l3.token, &st), 0);
	CHECK_EQ_INT(st.cred_version, 1);
	const char *p[] = {id};
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT count(*) FILTER (WHERE revoked) || '/' || count(*)"
	                    " FROM login_sessions WHERE staff_id = $1",
	                    1, p),
	             "2/3");
}

/* `admin user disable`, and enabling again: the version stays moved on. */
static void test_disable(store *s, uv_loop_t *loop, PGconn *conn, struct events *e)
{
	char id[64];
	staff_id_of(conn, "suzuki", id, sizeof id);
	store_login l;
	CHECK_EQ_INT(login(s, loop, "suzuki", "old pw", &l), 0);
	int from = e->n;
	int64_t t0 = clock_mono_us();
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "disable", "suzuki"), 0);
	int ms = wait_event(loop, e, from, STORE_IDENT_STAFF, id, t0, NOTICE_MS);
	printf("test_store_ident: disable noticed after %d ms\n", ms);
	CHECK(ms >= 0);
	CHECK_EQ_INT(staff_alive(s, loop, id, 0), 1);
	CHECK_EQ_INT(login_check(s, loop, l.token, NULL), 1);
	CHECK_EQ_INT(login(s, loop, "suzuki", "old pw", NULL), 1);

	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, no_out, "user", "enable", "suzuki"), 0);
	run_for(loop, 300);
	CHECK_EQ_INT(e->n, from);
	CHECK_EQ_INT(staff_alive(s, loop, id, 0), 1);
	CHECK_EQ_INT(staff_alive(s, loop, id, 1), 0);
	CHECK_EQ_INT(login_check(s, loop, l.token, NULL), 1); /* enabling revives no token */
}

/* Hand-written SQL: a new hash, a bumped version (log out everywhere), a version moved back
 * (which only moves it on), and a change of something else (no notice). */
static void test_by_hand(store *s, uv_loop_t *loop, PGconn *conn, struct events *e)
{
	char id[64], sql[256];
	staff_id_of(conn, "tanaka", id, sizeof id);
	const char *p[] = {id};
	int from = e->n;
	CHECK_EQ_INT(exec_status(conn, "UPDATE staff SET name = '田中' WHERE username = 'tanaka'"),
	             PGRES_COMMAND_OK);
	run_for(loop, 300);
	CHECK_EQ_INT(e->n, from);

	snprintf(sql, sizeof sql, "UPDATE staff SET password_hash = 'x' WHERE id = '%s'", id);
	int64_t t0 = clock_mono_us();
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK(wait_event(loop, e, from, STORE_IDENT_STAFF, id, t0, NOTICE_MS) >= 0);
	CHECK_EQ_STR(scalar(conn, "SELECT cred_version FROM staff WHERE id = $1", 1, p), "1");

	from = e->n;
	snprintf(sql, sizeof sql,
	         "UPDATE staff SET cred_version = cred_version + 5 WHERE id = '%s'", id);
	t0 = clock_mono_us();
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK(wait_event(loop, e, from, STORE_IDENT_STAFF, id, t0, NOTICE_MS) >= 0);
	CHECK_EQ_STR(scalar(conn, "SELECT cred_version FROM staff WHERE id = $1", 1, p), "6");
	snprintf(sql, sizeof sql, "UPDATE staff SET cred_version = 0 WHERE id = '%s'", id);
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK_EQ_STR(scalar(conn, "SELECT cred_version FROM staff WHERE id = $1", 1, p), "7");
	CHECK_EQ_INT(staff_alive(s, loop, id, 6), 1);
	CHECK_EQ_INT(staff_alive(s, loop, id, 7), 0);
	CHECK_EQ_INT(staff_alive(s, loop, "00000000-0000-4000-8000-000000000000", 0), 1);
}

/* A password check on the thread pool when the credentials change: refused, not let in with
 * what was read before the change. */
static void test_check_during_change(store *s, uv_loop_t *loop, PGconn *conn, struct events *e)
{
	struct answer a = {0};
	int from = e->n;
	CHECK_EQ_INT(store_auth_staff(s, "takahashi", "old pw", on_staff, &a), 0);
	/* The row arrives in a millisecond or so; the hash then takes far longer than this. */
	run_for(loop, 20);
	CHECK_EQ_INT(a.calls, 0);
	CHECK_EQ_INT(
	    exec_status(conn, "UPDATE staff SET disabled = true WHERE username = 'takahashi'"),
	    PGRES_COMMAND_OK);
	CHECK(run_until(loop, &a.calls, 10000));
	CHECK_EQ_INT(a.err, 1);
	CHECK(e->n > from); /* the notice came while the hash was being checked */
	CHECK_EQ_INT(
	    exec_status(conn, "UPDATE staff SET disabled = false WHERE username = 'takahashi'"),
	    PGRES_COMMAND_OK);
	struct answer b = {0};
	CHECK_EQ_INT(store_auth_staff(s, "takahashi", "old pw", on_staff, &b), 0);
	CHECK(run_until(loop, &b.calls, 10000));
	CHECK_EQ_INT(b.err, 0);
	CHECK_EQ_INT(b.staff.cred_version, 1);
}

static void test_logout(store *s, uv_loop_t *loop)
{
	store_login l, other;
	CHECK_EQ_INT(login(s, loop, "takahashi", "old pw", &l), 0);
	CHECK_EQ_INT(login(s, loop, "takahashi", "old pw", &other), 0);
	CHECK_EQ_INT(logout(s, loop, l.token), 0);
	CHECK_EQ_INT(login_check(s, loop, l.token, NULL), 1);
	CHECK_EQ_INT(logout(s, loop, l.token), 1);
	CHECK_EQ_INT(login_check(s, loop, other.token, NULL), 0); /* only that token */
	CHECK_EQ_INT(logout(s, loop, "never-issued"), 1);
	CHECK_EQ_INT(logout(s, loop, ""), 1);
	struct answer a = {0};
	CHECK_EQ_INT(store_logout(s, NULL, on_alive, &a), -1);
	CHECK_EQ_INT(store_logout(s, "x", NULL, &a), -1);
}

/* The server's role writes a whole visit, with the rollup's triggers, a survey and an audit
 * entry: its grants are enough. */
static void test_records_as_server(store *s, uv_loop_t *loop, PGconn *conn, const char *kiosk)
{
	const char *visit = "11111111-1111-4111-8111-111111111111";
	const char *leg = "22222222-2222-4222-8222-222222222222";
	char staff[64];
	staff_id_of(conn, "takahashi", staff, sizeof staff);
	int64_t t = 1767225600000000LL;
	store_record r[6];
	memset(r, 0, sizeof r);
	r[0].kind = STORE_VISIT_STARTED;
	snprintf(r[0].kiosk_id, sizeof r[0].kiosk_id, "%s", kiosk);
	r[1].kind = STORE_LEG_QUEUED;
	snprintf(r[1].department, sizeof r[1].department, "zei");
	r[2].kind = STORE_LEG_ANSWERED;
	snprintf(r[2].staff_id, sizeof r[2].staff_id, "%s", staff);
	r[3].kind = STORE_LEG_ENDED;
	snprintf(r[3].outcome, sizeof r[3].outcome, "completed");
	r[4].kind = STORE_VISIT_ENDED;
	snprintf(r[4].outcome, sizeof r[4].outcome, "completed");
	r[5].kind = STORE_SURVEY;
	r[5].rating = 5;
	for (int i = 0; i < 6; i++) {
		snprintf(r[i].visit, sizeof r[i].visit, "%s", visit);
		snprintf(r[i].leg, sizeof r[i].leg, "%s", leg);
		r[i].at_us = t + i * 1000000LL;
		CHECK_EQ_INT(store_write(s, &r[i]), 0);
	}
	store_record audit = r[3];
	audit.kind = STORE_AUDIT;
	snprintf(audit.audit_id, sizeof audit.audit_id, "33333333-3333-4333-8333-333333333333");
	snprintf(audit.action, sizeof audit.action, "end");
	CHECK_EQ_INT(store_write(s, &audit), 0);
	CHECK_EQ_INT(store_write(s, &audit), 0); /* a replay */
	struct answer f = {0};
	CHECK_EQ_INT(store_flush(s, on_alive, &f), 0);
	CHECK(run_until(loop, &f.calls, 5000));
	CHECK_EQ_INT(f.err, 0);
	CHECK_EQ_STR(scalar(conn,
	                    "SELECT legs || ' ' || answered || ' ' || avg_rating FROM usage_daily"
	                    " WHERE department = 'zei'",
	                    0, NULL),
	             "1 1 5.00");
	CHECK_EQ_STR(scalar(conn, "SELECT count(*) FROM audit_log", 0, NULL), "1");
}

/* PostgreSQL restarts: the store re-checks everything once listening again, and notices
 * still arrive on the new connection. */
static void test_reconnect(store *s, uv_loop_t *loop, struct events *e, const char *kiosk)
{
	const char *pgctl = getenv("MADOGUCHI_TEST_PGCTL");
	const char *opts = getenv("MADOGUCHI_TEST_PGOPTS");
	if (!pgctl || !opts) {
		printf("test_store_ident: MADOGUCHI_TEST_PGCTL not set, reconnect test skipped\n");
		return;
	}
	char cmd[1024];
	int from = e->n;
	snprintf(cmd, sizeof cmd, "%s -m fast restart -o \"%s\" >/dev/null", pgctl, opts);
	CHECK_EQ_INT(system(cmd), 0);
	int64_t t0 = clock_mono_us();
	CHECK(wait_event(loop, e, from, STORE_IDENT_KIOSK, "", t0, 10000) >= 0);
	CHECK(wait_event(loop, e, from, STORE_IDENT_STAFF, "", t0, 1000) >= 0);
	int k = find_event(e, from, STORE_IDENT_KIOSK, ""),
	    st = find_event(e, from, STORE_IDENT_STAFF, "");
	CHECK(k >= 0 && st == k + 1);
	CHECK(store_is_up(s));

	PGconn *conn = PQconnectdb(db);
	CHECK_EQ_INT(PQstatus(conn), CONNECTION_OK);
	from = e->n;
	char sql[256];
	snprintf(sql, sizeof sql, "UPDATE kiosks SET revoked_at = now() WHERE id = '%s'", kiosk);
	t0 = clock_mono_us();
	CHECK_EQ_INT(exec_status(conn, sql), PGRES_COMMAND_OK);
	CHECK(wait_event(loop, e, from, STORE_IDENT_KIOSK, kiosk, t0, NOTICE_MS) >= 0);
	PQfinish(conn);
}

/* store_free answers the lookups still queued with -1, once each. */
static void test_free(store *s, uv_loop_t *loop, const char *kiosk)
{
	struct answer a = {0}, b = {0}, c = {0};
	CHECK_EQ_INT(store_kiosk_alive(s, kiosk, on_alive, &a), 0);
	CHECK_EQ_INT(store_staff_alive(s, kiosk, 0, on_alive, &b), 0);
	CHECK_EQ_INT(store_logout(s, "some token", on_alive, &c), 0);
	store_free(s);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(a.calls, 1);
	CHECK_EQ_INT(a.err, -1);
	CHECK_EQ_INT(b.calls, 1);
	CHECK_EQ_INT(b.err, -1);
	CHECK_EQ_INT(c.calls, 1);
	CHECK_EQ_INT(c.err, -1);
}

int main(void)
{
	db = getenv("MADOGUCHI_TEST_DB");
	if (!db) {
		printf("test_store_ident: MADOGUCHI_TEST_DB not set (run through "
		       "tests/store/run.sh)\n");
		return 77;
	}
	PGconn *conn = PQconnectdb(db);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	char kiosk[4][64];
	seed(conn, kiosk);

	/* Later keywords of a conninfo override earlier ones. */
	char server_db[512];
	snprintf(server_db, sizeof server_db, "%s user=mdg_server_login", db);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct events e = {0};
	store *s = store_new(&loop, server_db, NULL);
	CHECK(s != NULL);
	store_on_identity_change(s, on_ident, &e);
	CHECK(is_up_flag(s, &loop, 1, 5000));
	/* The first connection asks for a re-check too: kiosks, then staff. */
	CHECK(wait_event(&loop, &e, 0, STORE_IDENT_STAFF, "", clock_mono_us(), 2000) >= 0);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.kind[0], STORE_IDENT_KIOSK);
	CHECK_EQ_STR(e.id[0], "");

	test_kiosk_revoked(s, &loop, conn, &e, kiosk);
	test_passwd(s, &loop, conn, &e);
	test_disable(s, &loop, conn, &e);
	test_by_hand(s, &loop, conn, &e);
	test_check_during_change(s, &loop, conn, &e);
	test_logout(s, &loop);
	test_records_as_server(s, &loop, conn, kiosk[2]);
	PQfinish(conn);
	test_reconnect(s, &loop, &e, kiosk[2]);
	test_free(s, &loop, kiosk[2]);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	return check_done("store_ident");
}
