/* Directory change notices against a real PostgreSQL (tests/store/run.sh; migration 6): the
 * store, connected as a member of madoguchi_server as the server is, hears within 2 s which
 * directory table every `madoguchi admin` command and hand-written statement changed, one
 * notice per table and transaction, nothing for a rolled-back change or for a password
 * change (revocation has its own channel), and a "read everything again" call after every
 * connection, the first one and the one after PostgreSQL restarts included. */
#include "../unit/check.h"
#include "base/clock.h"
#include "store/store.h"
#include "store_check.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTICE_MS  2000 /* the longest a notice may take to reach the store */
#define MAX_EVENTS 128

struct events {
	int n;
	char table[MAX_EVENTS][40]; /* "" for the call after a (re)connection */
};

static void on_dir(void *user, const char *table)
{
	struct events *e = user;
	if (e->n < MAX_EVENTS)
		snprintf(e->table[e->n++], sizeof e->table[0], "%s", table ? table : "");
}

static int count(const struct events *e, int from, const char *table)
{
	int n = 0;
	for (int i = from; i < e->n; i++)
		n += strcmp(e->table[i], table) == 0;
	return n;
}

/* Runs the loop until every table in want (NULL-terminated) has been announced since from,
 * or NOTICE_MS passed, then a little longer so that duplicates would show; returns 1 when
 * all came. */
static int wait_tables(uv_loop_t *loop, const struct events *e, int from, const char **want)
{
	int64_t deadline = clock_mono_us() + (int64_t)NOTICE_MS * 1000;
	for (;;) {
		int all = 1;
		for (const char **w = want; *w; w++)
			all &= count(e, from, *w) > 0;
		if (all)
			break;
		if (clock_mono_us() > deadline)
			return 0;
		uv_run(loop, UV_RUN_ONCE);
	}
	run_for(loop, 150);
	return 1;
}

static char out[4096];

#define EXPECT_TABLES(loop, e, from, ...)                                                          \
	do {                                                                                       \
		const char *want_[] = {__VA_ARGS__, NULL};                                         \
		CHECK(wait_tables(loop, e, from, want_));                                          \
		for (const char **w_ = want_; *w_; w_++)                                           \
			CHECK_EQ_INT(count(e, from, *w_), 1);                                      \
		CHECK_EQ_INT((e)->n - (from), (int)(sizeof want_ / sizeof want_[0]) - 1);          \
	} while (0)

static void test_admin_commands(uv_loop_t *loop, struct events *e)
{
	int from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "branch", "add", "kita", "北支所"), 0);
	EXPECT_TABLES(loop, e, from, "branches");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "add", "zei", "税務課"), 0);
	EXPECT_TABLES(loop, e, from, "departments");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "procedure", "add", "shomei", "証明", "--department", "zei"),
	             0);
	EXPECT_TABLES(loop, e, from, "procedures");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "set-hours", "zei", "1", "8:30", "12:00",
	                   "13:00", "17:15"),
	             0);
	EXPECT_TABLES(loop, e, from, "department_hours"); /* a DELETE and two INSERTs: one */
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "set-strategy", "zei", "longest-idle"), 0);
	EXPECT_TABLES(loop, e, from, "departments");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "add", "hoken", "保険年金課"), 0);
	EXPECT_TABLES(loop, e, from, "departments");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "onestop", "add", "m", "引っ越し", "--steps", "zei,hoken"),
	             0);
	EXPECT_TABLES(loop, e, from, "onestop_menus", "onestop_menu_steps");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "onestop", "remove", "m"), 0);
	/* The steps go by ON DELETE CASCADE, which fires their statement trigger too. */
	EXPECT_TABLES(loop, e, from, "onestop_menus", "onestop_menu_steps");
	from = e->n;
	char token[STORE_TOKEN_MAX];
	CHECK_EQ_INT(store_admin_kiosk_add(db, "kita", "北支所 1番", token, sizeof token), 0);
	EXPECT_TABLES(loop, e, from, "kiosks");
	from = e->n;
	CHECK_EQ_INT(store_admin_user_add(db, "sato", "佐藤", "zei,hoken", NULL, "pw 1"), 0);
	EXPECT_TABLES(loop, e, from, "staff", "staff_departments");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "user", "flags", "sato", "coordinator"), 0);
	EXPECT_TABLES(loop, e, from, "staff");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "rename", "zei", "税務課 (本庁)"), 0);
	EXPECT_TABLES(loop, e, from, "departments");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "close", "zei"), 0);
	EXPECT_TABLES(loop, e, from, "departments");
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "open", "zei"), 0);
	EXPECT_TABLES(loop, e, from, "departments");
	/* Removing: refused (and nothing announced) while staff belong to it; a department
	 * nothing refers to goes with its hours and procedures in one transaction. */
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "remove", "zei"), 1);
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "close"), 2);
	run_for(loop, 500);
	CHECK_EQ_INT(e->n, from);
	/* A statement-level trigger fires even for an UPDATE that matched nothing: one read of
	 * the directory too many, harmless. */
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "rename", "nosuch", "x"), 1);
	EXPECT_TABLES(loop, e, from, "departments");
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "add", "kari", "仮設"), 0);
	CHECK_EQ_INT(ADMIN(NULL, out, "procedure", "add", "kari-1", "仮", "--department", "kari"),
	             0);
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "set-hours", "kari", "2", "9:00", "10:00"), 0);
	run_for(loop, 300);
	from = e->n;
	CHECK_EQ_INT(ADMIN(NULL, out, "department", "remove", "kari"), 0);
	EXPECT_TABLES(loop, e, from, "departments", "procedures", "department_hours");
	/* A new password is a revocation (madoguchi_identity), not a directory change. */
	from = e->n;
	CHECK_EQ_INT(ADMIN("pw 2\n", out, "user", "passwd", "sato"), 0);
	run_for(loop, 500);
	CHECK_EQ_INT(e->n, from);
}

static void test_by_hand(uv_loop_t *loop, PGconn *conn, struct events *e)
{
	int from = e->n;
	CHECK_EQ_INT(
	    exec_status(conn, "UPDATE departments SET name = '税務課 (臨時)' WHERE id = 'zei'"),
	    PGRES_COMMAND_OK);
	EXPECT_TABLES(loop, e, from, "departments");
	/* Several tables in one transaction: one notice each, at commit. */
	from = e->n;
	CHECK_EQ_INT(exec_status(conn, "BEGIN"), PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, "UPDATE departments SET open = false"), PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, "UPDATE departments SET open = true WHERE id = 'hoken'"),
	             PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, "DELETE FROM department_hours"), PGRES_COMMAND_OK);
	run_for(loop, 300);
	CHECK_EQ_INT(e->n, from); /* nothing before the commit */
	CHECK_EQ_INT(exec_status(conn, "COMMIT"), PGRES_COMMAND_OK);
	EXPECT_TABLES(loop, e, from, "departments", "department_hours");
	/* Rolled back: never announced. */
	from = e->n;
	CHECK_EQ_INT(exec_status(conn, "BEGIN"), PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, "INSERT INTO branches (id, name) VALUES ('x', 'x')"),
	             PGRES_COMMAND_OK);
	CHECK_EQ_INT(exec_status(conn, "ROLLBACK"), PGRES_COMMAND_OK);
	run_for(loop, 500);
	CHECK_EQ_INT(e->n, from);
	/* kiosks: only the columns an operator changes. */
	from = e->n;
	CHECK_EQ_INT(exec_status(conn, "UPDATE kiosks SET created_at = created_at"),
	             PGRES_COMMAND_OK);
	run_for(loop, 500);
	CHECK_EQ_INT(e->n, from);
	CHECK_EQ_INT(exec_status(conn, "UPDATE kiosks SET name = '北支所 窓口'"), PGRES_COMMAND_OK);
	EXPECT_TABLES(loop, e, from, "kiosks");
}

static void test_reconnect(uv_loop_t *loop, struct events *e)
{
	const char *pgctl = getenv("MADOGUCHI_TEST_PGCTL");
	const char *opts = getenv("MADOGUCHI_TEST_PGOPTS");
	if (!pgctl || !opts) {
		printf("test_store_live: MADOGUCHI_TEST_PGCTL not set, reconnect test skipped\n");
		return;
	}
	char cmd[1024];
	int from = e->n;
	snprintf(cmd, sizeof cmd, "%s -m fast restart -o \"%s\" >/dev/null", pgctl, opts);
	CHECK_EQ_INT(system(cmd), 0);
	int64_t deadline = clock_mono_us() + 10 * 1000000LL;
	while (count(e, from, "") == 0 && clock_mono_us() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	CHECK_EQ_INT(count(e, from, ""), 1);
	/* And the new connection listens. */
	PGconn *conn = PQconnectdb(db);
	CHECK_EQ_INT(PQstatus(conn), CONNECTION_OK);
	from = e->n;
	CHECK_EQ_INT(exec_status(conn, "UPDATE branches SET name = '北支所 (本館)'"),
	             PGRES_COMMAND_OK);
	EXPECT_TABLES(loop, e, from, "branches");
	PQfinish(conn);
}

int main(void)
{
	db = getenv("MADOGUCHI_TEST_DB");
	if (!db) {
		printf("test_store_live: MADOGUCHI_TEST_DB not set (run through "
		       "tests/store/run.sh)\n");
		return 77;
	}
	PGconn *conn = PQconnectdb(db);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	CHECK_EQ_INT(store_migrate(db), 0);
	CHECK_EQ_INT(
	    exec_status(conn, "CREATE ROLE mdg_server_login LOGIN IN ROLE madoguchi_server"),
	    PGRES_COMMAND_OK);
	char server_db[512];
	snprintf(server_db, sizeof server_db, "%s user=mdg_server_login", db);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct events e = {0};
	store *s = store_new(&loop, server_db, NULL);
	CHECK(s != NULL);
	store_on_directory_change(s, on_dir, &e);
	CHECK(is_up_flag(s, &loop, 1, 5000));
	/* The first connection says "read everything" too, once LISTEN is done. */
	int64_t deadline = clock_mono_us() + 2000000;
	while (e.n == 0 && clock_mono_us() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_STR(e.table[0], "");

	test_admin_commands(&loop, &e);
	test_by_hand(&loop, conn, &e);
	PQfinish(conn);
	test_reconnect(&loop, &e);
	store_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	return check_done("store_live");
}
