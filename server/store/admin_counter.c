/* `madoguchi admin` for how counters run: department opening hours and ring strategy,
 * renaming, opening, closing and removing departments, one-stop menus, and staff flags. Shares
 * argument parsing, validation and printing with admin.c. Exit codes as there: 0 done, 1 the
 * database refused or failed, 2 usage error. */
#include "store/internal.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_DB    1
#define EXIT_USAGE 2
#define MAX_STEPS  16

static int usage(const char *why)
{
	fprintf(stderr, "error: %s (run 'madoguchi admin' for usage)\n", why);
	return EXIT_USAGE;
}

static int ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static PGresult *run(PGconn *conn, const char *sql, int n, const char *const *params)
{
	return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

/* Runs statements in one transaction: BEGIN here, COMMIT or ROLLBACK in finish. */
static void begin(PGconn *conn)
{
	PQclear(PQexec(conn, "BEGIN"));
}

static int finish(PGconn *conn, int rc)
{
	PQclear(PQexec(conn, rc == 0 ? "COMMIT" : "ROLLBACK"));
	return rc;
}

/* "9:00", "09:00" or "17:15": minutes since midnight, or -1. */
static int parse_time(const char *t)
{
	int h, m;
	char extra;
	if (!t || sscanf(t, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
	    (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

static int parse_weekday(const char *w)
{
	if (!w || w[0] < '0' || w[0] > '6' || w[1] != '\0') {
		fprintf(stderr, "error: WEEKDAY must be 0 (Sunday) to 6 (Saturday)\n");
		return -1;
	}
	return w[0] - '0';
}

/* department set-hours DEPT WEEKDAY OPENS CLOSES [OPENS CLOSES]: replaces that weekday's
 * hours. A department with no hours at all is always open. */
static int set_hours(PGconn *conn, const struct store_admin_args *a)
{
	if (a->n_pos != 4 && a->n_pos != 6)
		return usage("set-hours needs DEPT WEEKDAY OPENS CLOSES [OPENS CLOSES]");
	if (!store_admin_valid_id("department", a->pos[0]) || parse_weekday(a->pos[1]) < 0)
		return EXIT_USAGE;
	int prev_close = -1;
	for (int i = 2; i < a->n_pos; i += 2) {
		int o = parse_time(a->pos[i]), c = parse_time(a->pos[i + 1]);
		if (o < 0 || c < 0 || o >= c || o < prev_close) {
			fprintf(stderr,
			        "error: hours must be HH:MM, each opening before its closing, "
			        "in order without overlap\n");
			return EXIT_USAGE;
		}
		prev_close = c;
	}
	begin(conn);
	const char *del[] = {a->pos[0], a->pos[1]};
	PGresult *res = run(conn,
	                    "DELETE FROM department_hours WHERE department_id = $1"
	                    " AND weekday = $2::smallint",
	                    2, del);
	int rc = ok(res) ? 0 : store_admin_report(res, "department", a->pos[0], NULL, NULL);
	PQclear(res);
	for (int i = 2; rc == 0 && i < a->n_pos; i += 2) {
		const char *p[] = {a->pos[0], a->pos[1], a->pos[i], a->pos[i + 1]};
		res = run(conn,
		          "INSERT INTO department_hours (department_id, weekday, opens, closes)"
		          " VALUES ($1, $2::smallint, $3::time, $4::time)",
		          4, p);
		if (!ok(res))
			rc = store_admin_report(res, "hours", a->pos[0], "department", a->pos[0]);
		PQclear(res);
	}
	if (finish(conn, rc) == 0)
		printf("hours of %s on weekday %s set\n", a->pos[0], a->pos[1]);
	return rc;
}

static int clear_hours(PGconn *conn, const struct store_admin_args *a)
{
	if (a->n_pos != 1 && a->n_pos != 2)
		return usage("clear-hours needs DEPT [WEEKDAY]");
	if (!store_admin_valid_id("department", a->pos[0]) ||
	    (a->n_pos == 2 && parse_weekday(a->pos[1]) < 0))
		return EXIT_USAGE;
	const char *p[] = {a->pos[0], a->n_pos == 2 ? a->pos[1] : NULL};
	PGresult *res = run(conn,
	                    "DELETE FROM department_hours WHERE department_id = $1"
	                    " AND ($2::smallint IS NULL OR weekday = $2::smallint)",
	                    2, p);
	int rc = ok(res) ? 0 : store_admin_report(res, "department", a->pos[0], NULL, NULL);
	if (rc == 0)
		printf("%s hours removed from %s\n", PQcmdTuples(res), a->pos[0]);
	PQclear(res);
	return rc;
}

static int set_strategy(PGconn *conn, const struct store_admin_args *a)
{
	if (a->n_pos != 2)
		return usage("set-strategy needs DEPT all|longest-idle");
	if (!store_admin_valid_id("department", a->pos[0]))
		return EXIT_USAGE;
	if (strcmp(a->pos[1], "all") != 0 && strcmp(a->pos[1], "longest-idle") != 0)
		return usage("the strategy is all or longest-idle");
	if (a->ring_timeout) {
		char *end;
		long t = strtol(a->ring_timeout, &end, 10);
		if (*a->ring_timeout == '\0' || *end != '\0' || t < 5 || t > 600)
			return usage("--ring-timeout takes 5 to 600 seconds");
	}
	const char *p[] = {a->pos[0], a->pos[1], a->ring_timeout};
	PGresult *res = run(conn,
	                    "UPDATE departments SET ring_strategy = $2,"
	                    " ring_timeout_s = coalesce($3::int, ring_timeout_s)"
	                    " WHERE id = $1 RETURNING ring_timeout_s",
	                    3, p);
	int rc = 0;
	if (!ok(res)) {
		rc = store_admin_report(res, "department", a->pos[0], NULL, NULL);
	} else if (PQntuples(res) == 0) {
		fprintf(stderr, "error: unknown department '%s'\n", a->pos[0]);
		rc = EXIT_DB;
	} else {
		printf("department %s rings %s, timeout %s s\n", a->pos[0], a->pos[1],
		       PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

/* One UPDATE of a department by id; prints done when it touched a row. */
static int update_department(PGconn *conn, const char *sql, const char *id, const char *value,
                             const char *done)
{
	const char *p[] = {id, value};
	PGresult *res = run(conn, sql, value ? 2 : 1, p);
	int rc = 0;
	if (!ok(res)) {
		rc = store_admin_report(res, "department", id, NULL, NULL);
	} else if (strcmp(PQcmdTuples(res), "0") == 0) {
		fprintf(stderr, "error: unknown department '%s'\n", id);
		rc = EXIT_DB;
	} else {
		printf("department %s %s\n", id, done);
	}
	PQclear(res);
	return rc;
}

/* department rename | open | close | remove: the running server follows at once (migration
 * 6). Removing is only possible for a department nothing refers to (no call history, no
 * staff, no menu); closing is the way to take one with a history out of service. */
static int department_live(PGconn *conn, const char *verb, const struct store_admin_args *a)
{
	int rename = strcmp(verb, "rename") == 0;
	if (a->n_pos != (rename ? 2 : 1))
		return usage(rename ? "rename needs DEPT NAME" : "needs DEPT");
	if (!store_admin_valid_id("department", a->pos[0]) ||
	    (rename && !store_admin_valid_name(a->pos[1])))
		return EXIT_USAGE;
	if (rename)
		return update_department(conn, "UPDATE departments SET name = $2 WHERE id = $1",
		                         a->pos[0], a->pos[1], "renamed");
	if (strcmp(verb, "open") == 0 || strcmp(verb, "close") == 0)
		return update_department(
		    conn, "UPDATE departments SET open = $2::boolean WHERE id = $1", a->pos[0],
		    verb[0] == 'o' ? "t" : "f", verb[0] == 'o' ? "opened" : "closed");
	begin(conn);
	const char *p[] = {a->pos[0]};
	PGresult *res = run(conn, "DELETE FROM department_hours WHERE department_id = $1", 1, p);
	int rc = ok(res) ? 0 : store_admin_report(res, "department", a->pos[0], NULL, NULL);
	PQclear(res);
	if (rc == 0) {
		res = run(conn, "DELETE FROM procedures WHERE department_id = $1", 1, p);
		if (!ok(res) && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
		    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23503") == 0) {
			fprintf(stderr,
			        "error: department '%s' has call history; close it instead "
			        "('department close %s')\n",
			        a->pos[0], a->pos[0]);
			rc = EXIT_DB;
		} else if (!ok(res)) {
			rc = store_admin_report(res, "department", a->pos[0], NULL, NULL);
		}
		PQclear(res);
	}
	if (rc == 0) {
		res = run(conn, "DELETE FROM departments WHERE id = $1", 1, p);
		if (!ok(res) && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
		    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23503") == 0) {
			fprintf(stderr,
			        "error: department '%s' has call history, staff or one-stop menus; "
			        "close it instead ('department close %s')\n",
			        a->pos[0], a->pos[0]);
			rc = EXIT_DB;
		} else if (!ok(res)) {
			rc = store_admin_report(res, "department", a->pos[0], NULL, NULL);
		} else if (strcmp(PQcmdTuples(res), "0") == 0) {
			fprintf(stderr, "error: unknown department '%s'\n", a->pos[0]);
			rc = EXIT_DB;
		}
		PQclear(res);
	}
	if (finish(conn, rc) == 0)
		printf("department %s removed\n", a->pos[0]);
	return rc;
}

static int cmd_department(PGconn *conn, const char *verb, const struct store_admin_args *a)
{
	if (strcmp(verb, "rename") == 0 || strcmp(verb, "open") == 0 ||
	    strcmp(verb, "close") == 0 || strcmp(verb, "remove") == 0)
		return department_live(conn, verb, a);
	if (strcmp(verb, "set-hours") == 0)
		return set_hours(conn, a);
	if (strcmp(verb, "clear-hours") == 0)
		return clear_hours(conn, a);
	if (strcmp(verb, "set-strategy") == 0)
		return set_strategy(conn, a);
	if (a->n_pos > 1)
		return usage("hours takes at most DEPT");
	const char *p[] = {a->n_pos ? a->pos[0] : NULL};
	return store_admin_list(
	    conn,
	    "SELECT h.department_id AS department, h.weekday::int AS weekday,"
	    " to_char(h.opens, 'HH24:MI') AS opens,"
	    " to_char(h.closes, 'HH24:MI') AS closes"
	    " FROM department_hours h JOIN departments d ON d.id = h.department_id"
	    " WHERE $1::text IS NULL OR h.department_id = $1"
	    " ORDER BY d.sort, d.id, h.weekday, h.opens",
	    1, p, a->json);
}

/* ---- one-stop menus ---- */

static int onestop_add(PGconn *conn, const struct store_admin_args *a)
{
	if (a->n_pos != 2 || !a->steps)
		return usage("onestop add needs ID NAME --steps DEPT,DEPT,...");
	if (!store_admin_valid_id("menu", a->pos[0]) || !store_admin_valid_name(a->pos[1]) ||
	    !store_admin_valid_sort(a->sort))
		return EXIT_USAGE;
	char steps[MAX_STEPS][STORE_ID_MAX];
	int n = 0;
	for (const char *p = a->steps; *p;) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= STORE_ID_MAX || n == MAX_STEPS)
			return usage("--steps takes 1 to 16 department ids separated by commas");
		snprintf(steps[n], sizeof steps[n], "%.*s", (int)len, p);
		if (!store_admin_valid_id("department", steps[n]))
			return EXIT_USAGE;
		n++;
		p += len;
		if (*p == ',' && *++p == '\0')
			return usage("--steps ends with a comma");
	}
	if (n == 0)
		return usage("--steps takes 1 to 16 department ids separated by commas");
	begin(conn);
	const char *mp[] = {a->pos[0], a->pos[1], a->sort ? a->sort : "0"};
	PGresult *res =
	    run(conn, "INSERT INTO onestop_menus (id, name, sort) VALUES ($1, $2, $3)", 3, mp);
	int rc = ok(res) ? 0 : store_admin_report(res, "menu", a->pos[0], NULL, NULL);
	PQclear(res);
	for (int i = 0; rc == 0 && i < n; i++) {
		char pos[8];
		snprintf(pos, sizeof pos, "%d", i + 1);
		const char *sp[] = {a->pos[0], pos, steps[i]};
		res = run(conn,
		          "INSERT INTO onestop_menu_steps (menu_id, position, department_id)"
		          " VALUES ($1, $2, $3)",
		          3, sp);
		if (!ok(res))
			rc = store_admin_report(res, "menu", a->pos[0], "department", steps[i]);
		PQclear(res);
	}
	if (finish(conn, rc) == 0)
		printf("onestop %s added with %d steps\n", a->pos[0], n);
	return rc;
}

static int cmd_onestop(PGconn *conn, const char *verb, const struct store_admin_args *a)
{
	if (strcmp(verb, "add") == 0)
		return onestop_add(conn, a);
	if (strcmp(verb, "list") == 0)
		return store_admin_list(
		    conn,
		    "SELECT m.id, m.name, m.sort,"
		    " coalesce(string_agg(s.department_id, ',' ORDER BY s.position),"
		    " '') AS steps"
		    " FROM onestop_menus m"
		    " LEFT JOIN onestop_menu_steps s ON s.menu_id = m.id"
		    " GROUP BY m.id ORDER BY m.sort, m.id",
		    0, NULL, a->json);
	if (a->n_pos != 1)
		return usage("onestop remove needs ID");
	const char *p[] = {a->pos[0]};
	PGresult *res = run(conn, "DELETE FROM onestop_menus WHERE id = $1", 1, p);
	int rc = 0;
	if (!ok(res))
		rc = store_admin_report(res, "menu", a->pos[0], NULL, NULL);
	else if (strcmp(PQcmdTuples(res), "0") == 0) {
		fprintf(stderr, "error: unknown menu '%s'\n", a->pos[0]);
		rc = EXIT_DB;
	} else
		printf("onestop %s removed\n", a->pos[0]);
	PQclear(res);
	return rc;
}

/* ---- staff flags ---- */

static int user_flags(PGconn *conn, const struct store_admin_args *a)
{
	if (a->n_pos != 2)
		return usage("user flags needs USERNAME FLAGS (comma-separated, '' for none)");
	int c, an, ad;
	if (!store_admin_valid_id("username", a->pos[0]) ||
	    store_admin_parse_flags(a->pos[1], &c, &an, &ad) != 0)
		return EXIT_USAGE;
	const char *p[] = {a->pos[0], c ? "t" : "f", an ? "t" : "f", ad ? "t" : "f"};
	PGresult *res = run(conn,
	                    "UPDATE staff SET coordinator = $2, analyst = $3, admin = $4"
	                    " WHERE username = $1",
	                    4, p);
	int rc = 0;
	if (!ok(res))
		rc = store_admin_report(res, "user", a->pos[0], NULL, NULL);
	else if (strcmp(PQcmdTuples(res), "0") == 0) {
		fprintf(stderr, "error: unknown user '%s'\n", a->pos[0]);
		rc = EXIT_DB;
	} else
		printf("flags of %s: %s\n", a->pos[0], a->pos[1][0] ? a->pos[1] : "(none)");
	PQclear(res);
	return rc;
}

int store_admin_counter_command(const char *object, const char *verb)
{
	if (strcmp(object, "onestop") == 0)
		return 1;
	if (strcmp(object, "user") == 0)
		return strcmp(verb, "flags") == 0;
	return strcmp(object, "department") == 0 &&
	       (strcmp(verb, "set-hours") == 0 || strcmp(verb, "clear-hours") == 0 ||
	        strcmp(verb, "hours") == 0 || strcmp(verb, "set-strategy") == 0 ||
	        strcmp(verb, "rename") == 0 || strcmp(verb, "open") == 0 ||
	        strcmp(verb, "close") == 0 || strcmp(verb, "remove") == 0);
}

int store_admin_counter(PGconn *conn, const char *object, const char *verb,
                        const struct store_admin_args *a)
{
	if (strcmp(object, "onestop") == 0)
		return cmd_onestop(conn, verb, a);
	if (strcmp(object, "user") == 0)
		return user_flags(conn, a);
	return cmd_department(conn, verb, a);
}
