/* Bookings (store.h, "bookings"; migration 8): book, cancel, list a day, the sweep that marks
 * missed bookings and reads today's, and marking one done. Every statement runs on the
 * store's connection among its other queries (store_query_params), so nothing blocks the loop,
 * and the statements run one at a time, which is what makes the overlap check in the INSERT
 * sufficient. Days are cut in the site's time zone (site_settings.time_zone, default
 * Asia/Tokyo), whatever the server's or the database's own zone. Residents' names are data,
 * not log material: no line here prints one. */
#include "base/log.h"
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITE_TZ                                                                                    \
	"tz AS (SELECT coalesce((SELECT value FROM site_settings WHERE key = 'time_zone'),"        \
	" 'Asia/Tokyo') AS tz)"

/* The columns every listing returns, in store_booking's order, but for the state (the last,
 * which each query writes itself). */
#define BOOKING_COLS                                                                               \
	"b.id::text, b.department_id, b.branch_id, madoguchi_local_iso(b.starts_at, tz.tz),"       \
	" (extract(epoch FROM b.starts_at) * 1000000)::bigint, b.minutes,"                         \
	" coalesce(b.procedure_id, ''), coalesce(b.name, ''), coalesce(b.created_by::text, '')"
#define N_BOOKING_COLS 10

/* One row: does the branch exist (in the department's tenant, migration 11), is the clerk
 * free then, and the new id when both. $3 is the
 * start: AT is how it is read (with its own offset, or as a local time of the site's zone). */
#define SQL_ADD(AT)                                                                                \
	"WITH " SITE_TZ ", t AS (SELECT " AT " AS at FROM tz),"                                    \
	" ok AS (SELECT EXISTS (SELECT 1 FROM branches br JOIN departments d"                      \
	" ON d.tenant_id = br.tenant_id WHERE br.id = $2 AND d.id = $1) AS branch,"                \
	" NOT EXISTS (SELECT 1 FROM bookings b, t WHERE b.created_by = $7::uuid"                   \
	" AND b.state IN ('booked', 'done')"                                                       \
	" AND b.starts_at < t.at + make_interval(mins => $4::int)"                                 \
	" AND b.starts_at + make_interval(mins => b.minutes) > t.at) AS free),"                    \
	" ins AS (INSERT INTO bookings (department_id, branch_id, starts_at, minutes,"             \
	" procedure_id, name, created_by)"                                                         \
	" SELECT $1, $2, t.at, $4::int, nullif($5, ''), nullif($6, ''), $7::uuid FROM t, ok"       \
	" WHERE ok.branch AND ok.free RETURNING id::text AS id)"                                   \
	" SELECT ok.branch, ok.free, (SELECT id FROM ins) FROM ok"
static const char sql_add_zoned[] = SQL_ADD("$3::timestamptz");
static const char sql_add_local[] = SQL_ADD("($3::timestamp AT TIME ZONE tz.tz)");

static const char sql_cancel[] =
    "WITH b AS (SELECT id, department_id, state FROM bookings WHERE id = $1::uuid),"
    " u AS (UPDATE bookings x SET state = 'cancelled', state_at = now() FROM b"
    " WHERE x.id = b.id AND b.state = 'booked' AND b.department_id = ANY($2::text[])"
    " RETURNING x.id)"
    " SELECT b.department_id, b.state, (SELECT count(*) FROM u) FROM b";

static const char sql_list[] =
    "WITH " SITE_TZ " SELECT " BOOKING_COLS ", b.state FROM bookings b, tz"
    " WHERE b.starts_at >= ($1::date::timestamp AT TIME ZONE tz.tz)"
    " AND b.starts_at < (($1::date + 1)::timestamp AT TIME ZONE tz.tz)"
    " AND b.department_id = ANY($2::text[]) AND ($3 = '' OR b.department_id = $3)"
    " AND ($4 = '' OR b.branch_id = $4)"
    " ORDER BY b.starts_at, b.branch_id, b.department_id, b.id";

/* One row at least: the count of bookings just marked missed, then today's bookings (NULL
 * columns when there is none). The update's rows are not visible to the SELECT of the same
 * statement, so their new state is taken from m. */
static const char sql_sweep[] =
    "WITH " SITE_TZ ", m AS (UPDATE bookings SET state = 'missed', state_at = now()"
    " WHERE state = 'booked' AND starts_at <= now() - interval '15 minutes' RETURNING id),"
    " today AS (SELECT " BOOKING_COLS ","
    " CASE WHEN b.id IN (SELECT id FROM m) THEN 'missed' ELSE b.state END, b.starts_at AS s"
    " FROM bookings b, tz"
    " WHERE b.starts_at >= ((now() AT TIME ZONE tz.tz)::date::timestamp AT TIME ZONE tz.tz)"
    " AND b.starts_at < (((now() AT TIME ZONE tz.tz)::date + 1)::timestamp AT TIME ZONE tz.tz))"
    " SELECT today.*, (SELECT count(*) FROM m)"
    " FROM (SELECT 1) one LEFT JOIN today ON true ORDER BY today.s, today.id";

static const char sql_done[] =
    "UPDATE bookings SET state = 'done', state_at = now(), visit_id = $2::uuid"
    " WHERE id = $1::uuid AND state = 'booked'";

/* ---- helpers ---- */

static int uuid_shaped(const char *id)
{
	if (!id || strlen(id) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = id[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		int hex =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (dash ? c != '-' : !hex)
			return 0;
	}
	return 1;
}

/* A PostgreSQL text[] literal of ids, each quoted ('"' and '\' escaped); malloc'd. */
static char *text_array(const char *const *v, int n)
{
	size_t cap = 3;
	for (int i = 0; i < n; i++)
		cap += 2 * strlen(v[i]) + 3;
	char *out = malloc(cap), *p = out;
	if (!out)
		return NULL;
	*p++ = '{';
	for (int i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		*p++ = '"';
		for (const char *c = v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

static void copy_col(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* Decodes rows [0..n) of res (N_BOOKING_COLS first columns); NULL when out of memory. */
static store_booking *decode(const PGresult *res, int n)
{
	store_booking *list = calloc((size_t)(n > 0 ? n : 1), sizeof *list);
	for (int i = 0; list && i < n; i++) {
		store_booking *b = &list[i];
		copy_col(b->id, sizeof b->id, res, i, 0);
		copy_col(b->department, sizeof b->department, res, i, 1);
		copy_col(b->branch, sizeof b->branch, res, i, 2);
		copy_col(b->starts_at, sizeof b->starts_at, res, i, 3);
		b->starts_us = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		b->minutes = atoi(PQgetvalue(res, i, 5));
		copy_col(b->procedure, sizeof b->procedure, res, i, 6);
		copy_col(b->name, sizeof b->name, res, i, 7);
		copy_col(b->created_by, sizeof b->created_by, res, i, 8);
		copy_col(b->state, sizeof b->state, res, i, 9);
	}
	return list;
}

struct job {
	void *cb;
	void *user;
};

static struct job *job_new(void *cb, void *user)
{
	struct job *j = calloc(1, sizeof *j);
	if (j) {
		j->cb = cb;
		j->user = user;
	}
	return j;
}

static int run(store *s, const char *name, const char *sql, int n, const char *const *values,
               store_result_cb done, struct job *j)
{
	if (!j)
		return -1;
	if (store_query_params(s, name, sql, n, values, done, j) != 0) {
		free(j);
		return -1;
	}
	return 0;
}

/* ---- book ---- */

static void on_added(void *user, int err, const PGresult *res)
{
	struct job *j = user;
	store_booking_id_cb cb = (store_booking_id_cb)j->cb;
	if (err != 0 || PQntuples(res) != 1)
		cb(j->user, -1, NULL);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		cb(j->user, 2, NULL);
	else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0 || PQgetisnull(res, 0, 2))
		cb(j->user, 1, NULL);
	else
		cb(j->user, 0, PQgetvalue(res, 0, 2));
	free(j);
}

/* Does an ISO 8601 time end with a zone (Z or an offset)? */
static int has_zone(const char *t)
{
	size_t n = strlen(t);
	if (n > 0 && (t[n - 1] == 'Z' || t[n - 1] == 'z'))
		return 1;
	const char *T = strchr(t, 'T');
	return T && (strchr(T, '+') || strchr(T, '-'));
}

int store_booking_add(store *s, const store_booking *b, store_booking_id_cb cb, void *user)
{
	if (!s || !b || !cb || !uuid_shaped(b->created_by) || b->minutes < 5 || b->minutes > 240 ||
	    !b->department[0] || !b->branch[0] || !b->starts_at[0])
		return -1;
	char minutes[16];
	snprintf(minutes, sizeof minutes, "%d", b->minutes);
	const char *values[] = {b->department, b->branch, b->starts_at, minutes,
	                        b->procedure,  b->name,   b->created_by};
	return run(s, "booking_add", has_zone(b->starts_at) ? sql_add_zoned : sql_add_local, 7,
	           values, on_added, job_new((void *)cb, user));
}

/* ---- cancel ---- */

static void on_cancelled(void *user, int err, const PGresult *res)
{
	struct job *j = user;
	store_booking_cancel_cb cb = (store_booking_cancel_cb)j->cb;
	if (err != 0) {
		cb(j->user, -1, NULL);
	} else if (PQntuples(res) == 0) {
		cb(j->user, 1, NULL);
	} else {
		const char *dept = PQgetvalue(res, 0, 0);
		if (strcmp(PQgetvalue(res, 0, 2), "0") != 0)
			cb(j->user, 0, dept);
		else if (strcmp(PQgetvalue(res, 0, 1), "booked") != 0)
			cb(j->user, 3, dept);
		else
			cb(j->user, 2, dept);
	}
	free(j);
}

int store_booking_cancel(store *s, const char *id, const char *const *departments, int n,
                         store_booking_cancel_cb cb, void *user)
{
	if (!s || !cb || !uuid_shaped(id) || n < 0 || (n > 0 && !departments))
		return -1;
	char *arr = text_array(departments, n);
	if (!arr)
		return -1;
	const char *values[] = {id, arr};
	int rc = run(s, "booking_cancel", sql_cancel, 2, values, on_cancelled,
	             job_new((void *)cb, user));
	free(arr); /* store_query_params copied it */
	return rc;
}

/* ---- list a day ---- */

static void on_listed(void *user, int err, const PGresult *res)
{
	struct job *j = user;
	store_bookings_cb cb = (store_bookings_cb)j->cb;
	int n = err == 0 ? PQntuples(res) : 0;
	store_booking *list = err == 0 ? decode(res, n) : NULL;
	if (err == 0 && !list) {
		LOG_ERROR("store", "out of memory reading bookings count=%d", n);
		err = -1;
		n = 0;
	}
	cb(j->user, err, list, n);
	free(list);
	free(j);
}

int store_bookings_list(store *s, const char *date, const char *department, const char *branch,
                        const char *const *departments, int n, store_bookings_cb cb, void *user)
{
	if (!s || !cb || !date || n < 0 || (n > 0 && !departments))
		return -1;
	char *arr = text_array(departments, n);
	if (!arr)
		return -1;
	const char *values[] = {date, arr, department ? department : "", branch ? branch : ""};
	int rc = run(s, "bookings_list", sql_list, 4, values, on_listed, job_new((void *)cb, user));
	free(arr);
	return rc;
}

/* ---- the sweep ---- */

static void on_swept(void *user, int err, const PGresult *res)
{
	struct job *j = user;
	store_bookings_sweep_cb cb = (store_bookings_sweep_cb)j->cb;
	int rows = err == 0 ? PQntuples(res) : 0;
	int missed = 0, n = 0;
	if (err == 0 && (rows < 1 || PQnfields(res) != N_BOOKING_COLS + 2))
		err = -1;
	if (err == 0) {
		missed = atoi(PQgetvalue(res, 0, N_BOOKING_COLS + 1));
		n = PQgetisnull(res, 0, 0) ? 0 : rows;
	}
	store_booking *list = err == 0 ? decode(res, n) : NULL;
	if (err == 0 && !list)
		err = -1;
	cb(j->user, err, err == 0 ? list : NULL, err == 0 ? n : 0, missed);
	free(list);
	free(j);
}

int store_bookings_sweep(store *s, store_bookings_sweep_cb cb, void *user)
{
	if (!s || !cb)
		return -1;
	return run(s, "bookings_sweep", sql_sweep, 0, NULL, on_swept, job_new((void *)cb, user));
}

/* ---- done ---- */

static void on_done(void *user, int err, const PGresult *res)
{
	char *id = user;
	if (err != 0)
		LOG_WARN("store", "booking not marked done booking=%s", id);
	else if (strcmp(PQcmdTuples((PGresult *)res), "1") != 0)
		LOG_WARN("store", "booking was no longer booked when called booking=%s", id);
	free(id);
}

int store_booking_done(store *s, const char *id, const char *visit_id)
{
	if (!s || !uuid_shaped(id) || !uuid_shaped(visit_id))
		return -1;
	char *copy = strdup(id);
	if (!copy)
		return -1;
	const char *values[] = {id, visit_id};
	if (store_query_params(s, "booking_done", sql_done, 2, values, on_done, copy) != 0) {
		free(copy);
		return -1;
	}
	return 0;
}
