/* Login sessions and usage statistics on the store's connection (store_query_params in
 * internal.h). The login token is random (32 bytes from the CSPRNG) and stored only as its
 * SHA-256, like kiosk tokens: a database dump yields no usable session. */
#include "store/analytics.h"

#include "base/log.h"
#include "base/rand.h"
#include "store/internal.h"
#include "store/password.h"
#include "store/sql.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_BYTES 32

/* ---- login sessions ---- */

/* Only while the credentials are still those the password was checked against: a password
 * change or a disable between the check and this insert (which revoked every token of that
 * person) must not be followed by a fresh token. No row then. */
static const char sql_login_insert[] =
    "INSERT INTO login_sessions (token_hash, staff_id, expires_at)"
    " SELECT $1::bytea, s.id, now() + make_interval(secs => $3::int) FROM staff s"
    " WHERE s.id = $2::uuid AND s.cred_version = $4::bigint AND NOT s.disabled"
    " RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

/* The same ten columns as the password lookup in sql.c (with an empty hash), so that
 * store_sql_staff_result decodes both. */
static const char sql_login_check[] =
    "SELECT s.id, s.username, s.name, '', s.coordinator, s.analyst, s.admin, sd.department_id,"
    " s.cred_version, s.tenant_id"
    " FROM login_sessions l JOIN staff s ON s.id = l.staff_id"
    " LEFT JOIN staff_departments sd ON sd.staff_id = s.id"
    " WHERE l.token_hash = $1::bytea AND NOT l.revoked AND l.expires_at > now()"
    " AND NOT s.disabled"
    " ORDER BY sd.department_id";

struct login_job {
	store *s;
	store_login_cb cb;
	void *user;
	store_login login;
};

static void login_job_free(struct login_job *job)
{
	OPENSSL_cleanse(job->login.token, sizeof job->login.token);
	free(job);
}

static void on_login_inserted(void *user, int err, const PGresult *res)
{
	struct login_job *job = user;
	if (err == 0 && PQntuples(res) == 1) {
		snprintf(job->login.expires_at, sizeof job->login.expires_at, "%s",
		         PQgetvalue(res, 0, 0));
		job->cb(job->user, 0, &job->login);
	} else if (err == 0 && PQntuples(res) == 0) {
		LOG_INFO("store", "login refused: credentials changed during the check user=%s",
		         job->login.staff.username);
		job->cb(job->user, 1, NULL);
	} else {
		job->cb(job->user, -1, NULL);
	}
	login_job_free(job);
}

/* The password was right (err 0) or not: make the session, or pass the answer on. */
static void on_login_checked(void *user, int err, const store_staff *st)
{
	struct login_job *job = user;
	if (err != 0) {
		job->cb(job->user, err, NULL);
		login_job_free(job);
		return;
	}
	job->login.staff = *st;
	uint8_t digest[PASSWORD_DIGEST_LEN];
	char hash[2 * PASSWORD_DIGEST_LEN + 8], ttl[16], version[24];
	snprintf(ttl, sizeof ttl, "%d", STORE_LOGIN_TTL_S);
	snprintf(version, sizeof version, "%lld", st->cred_version);
	if (rand_token(job->login.token, TOKEN_BYTES) != 0 ||
	    password_token_digest(job->login.token, digest) != 0) {
		job->cb(job->user, -1, NULL);
		login_job_free(job);
		return;
	}
	store_sql_bytea_text(digest, sizeof digest, hash, sizeof hash);
	const char *values[] = {hash, st->id, ttl, version};
	if (store_query_params(job->s, "login_create", sql_login_insert, 4, values,
	                       on_login_inserted, job) != 0) {
		job->cb(job->user, -1, NULL);
		login_job_free(job);
	}
}

int store_login_create(store *s, const char *username, const char *password, store_login_cb cb,
                       void *user)
{
	if (!s || !username || !password || !cb)
		return -1;
	struct login_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->s = s;
	job->cb = cb;
	job->user = user;
	if (store_auth_staff(s, username, password, on_login_checked, job) != 0) {
		free(job);
		return -1;
	}
	return 0;
}

struct check_job {
	store_staff_cb cb;
	void *user;
};

static void on_login_found(void *user, int err, const PGresult *res)
{
	struct check_job *job = user;
	store_staff st;
	char hash[8];
	if (err == 0)
		err = store_sql_staff_result(res, &st, hash, sizeof hash);
	job->cb(job->user, err, err == 0 ? &st : NULL);
	free(job);
}

int store_login_check(store *s, const char *token, store_staff_cb cb, void *user)
{
	uint8_t digest[PASSWORD_DIGEST_LEN];
	char hash[2 * PASSWORD_DIGEST_LEN + 8];
	if (!s || !token || !cb || password_token_digest(token, digest) != 0)
		return -1;
	struct check_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	store_sql_bytea_text(digest, sizeof digest, hash, sizeof hash);
	const char *values[] = {hash};
	if (store_query_params(s, "login_check", sql_login_check, 1, values, on_login_found, job) !=
	    0) {
		free(job);
		return -1;
	}
	return 0;
}

/* ---- statistics ---- */

/* The statistics at the requested grouping, read from usage_rollup (migration 2) with the
 * same formulas as the usage_monthly view: $3..$5 say which dimensions stay, the others
 * become NULL and fold together. Reading the rollup's sums rather than the view's rounded
 * averages keeps a coarse row exact: its average wait is the average over its answered legs,
 * not an average of averages. Counts add up as in the view, so a visit served by two
 * departments counts once in each, and twice in their branch total. Names come from the
 * directory, joined after grouping. */
static const char sql_stats[] =
    "WITH g AS ("
    " SELECT u.month,"
    " CASE WHEN $3::bool THEN u.branch_id END AS branch,"
    " CASE WHEN $4::bool THEN u.department_id END AS department,"
    " CASE WHEN $5::bool THEN nullif(u.procedure_id, '') END AS procedure,"
    " sum(u.visits) AS visits, sum(u.legs) AS legs, sum(u.answered) AS answered,"
    " sum(u.abandoned) AS abandoned, sum(u.onestop_visits) AS onestop_visits,"
    " round((sum(u.wait_sum_s) / nullif(sum(u.answered), 0))::numeric, 1) AS avg_wait_s,"
    " round((sum(u.talk_sum_s) / nullif(sum(u.talk_n), 0))::numeric, 1) AS avg_talk_s,"
    " round(sum(u.rating_sum)::numeric / nullif(sum(u.rating_n), 0), 2) AS avg_rating,"
    " coalesce(sum(bk.n), 0) AS booked_visits,"
    " coalesce(sum(gu.n), 0) AS interpreted_visits"
    " FROM usage_rollup u"
    /* Booked visits (migration 8), per rollup row as the usage views count them. */
    " LEFT JOIN (SELECT r.day, r.branch_id, r.department_id, r.procedure_id, count(*) AS n"
    "  FROM usage_visit_rows r JOIN bookings b ON b.visit_id = r.visit_id"
    "  AND b.department_id = r.department_id WHERE r.n > 0"
    "  AND r.day >= $1::date AND r.day < $2::date + interval '1 month'"
    "  GROUP BY 1, 2, 3, 4) bk ON bk.day = u.day AND bk.branch_id = u.branch_id"
    "  AND bk.department_id = u.department_id AND bk.procedure_id = u.procedure_id"
    /* Interpreted visits (migration 9): rows whose visit had a guest leg there. */
    " LEFT JOIN (SELECT r.day, r.branch_id, r.department_id, r.procedure_id, count(*) AS n"
    "  FROM usage_visit_rows r WHERE r.n > 0"
    "  AND r.day >= $1::date AND r.day < $2::date + interval '1 month'"
    "  AND EXISTS (SELECT 1 FROM legs gl WHERE gl.visit_id = r.visit_id"
    "  AND gl.kind = 'guest' AND gl.department_id = r.department_id)"
    "  GROUP BY 1, 2, 3, 4) gu ON gu.day = u.day AND gu.branch_id = u.branch_id"
    "  AND gu.department_id = u.department_id AND gu.procedure_id = u.procedure_id"
    " WHERE u.month >= $1::date AND u.month <= $2::date"
    /* One tenant's branches only (migration 11); NULL = every tenant. */
    " AND ($6::text IS NULL OR u.branch_id IN (SELECT id FROM branches WHERE tenant_id = $6))"
    " GROUP BY 1, 2, 3, 4 HAVING sum(u.legs) > 0)"
    " SELECT to_char(g.month, 'YYYY-MM'), g.branch, b.name, g.department, d.name,"
    " g.procedure, p.name, g.visits, g.legs, g.answered, g.abandoned, g.onestop_visits,"
    " g.avg_wait_s, g.avg_talk_s, g.avg_rating, g.booked_visits,"
    " g.interpreted_visits"
    " FROM g LEFT JOIN branches b ON b.id = g.branch"
    " LEFT JOIN departments d ON d.id = g.department"
    " LEFT JOIN procedures p ON p.id = g.procedure"
    " ORDER BY g.month, b.sort, g.branch, d.sort, g.department, p.sort, g.procedure";

#define STATS_COLUMNS 17

struct stats_job {
	store_stats_cb cb;
	void *user;
};

static const char *text_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

static long long count_at(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? 0 : strtoll(PQgetvalue(res, r, c), NULL, 10);
}

static double avg_at(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NAN : strtod(PQgetvalue(res, r, c), NULL);
}

static void on_stats(void *user, int err, const PGresult *res)
{
	struct stats_job *job = user;
	store_stats st = {0};
	if (err == 0 && PQnfields(res) != STATS_COLUMNS)
		err = -1;
	if (err == 0 && PQntuples(res) > 0) {
		st.rows = calloc((size_t)PQntuples(res), sizeof *st.rows);
		if (!st.rows)
			err = -1;
	}
	for (int r = 0; err == 0 && r < PQntuples(res); r++) {
		store_stats_row *row = &st.rows[st.n_rows++];
		row->month = PQgetvalue(res, r, 0);
		row->branch = text_or_null(res, r, 1);
		row->branch_name = text_or_null(res, r, 2);
		row->department = text_or_null(res, r, 3);
		row->department_name = text_or_null(res, r, 4);
		row->procedure = text_or_null(res, r, 5);
		row->procedure_name = text_or_null(res, r, 6);
		row->visits = count_at(res, r, 7);
		row->legs = count_at(res, r, 8);
		row->answered = count_at(res, r, 9);
		row->abandoned = count_at(res, r, 10);
		row->onestop_visits = count_at(res, r, 11);
		row->avg_wait_s = avg_at(res, r, 12);
		row->avg_talk_s = avg_at(res, r, 13);
		row->avg_rating = avg_at(res, r, 14);
		row->booked_visits = count_at(res, r, 15);
		row->interpreted_visits = count_at(res, r, 16);
	}
	job->cb(job->user, err, err == 0 ? &st : NULL);
	free(st.rows);
	free(job);
}

int store_stats_monthly(store *s, const store_stats_query *q, store_stats_cb cb, void *user)
{
	if (!s || !q || !cb || q->from_month < 1 || q->from_month > 12 || q->to_month < 1 ||
	    q->to_month > 12 || q->from_year < 1 || q->from_year > 9999 || q->to_year < 1 ||
	    q->to_year > 9999 || q->from_year * 12 + q->from_month > q->to_year * 12 + q->to_month)
		return -1;
	char from[16], to[16];
	snprintf(from, sizeof from, "%04d-%02d-01", q->from_year, q->from_month);
	snprintf(to, sizeof to, "%04d-%02d-01", q->to_year, q->to_month);
	const char *values[] = {from, to, q->by_branch ? "true" : "false",
	                        q->by_department ? "true" : "false",
	                        q->by_procedure ? "true" : "false",
	                        q->tenant && q->tenant[0] ? q->tenant : NULL};
	struct stats_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	if (store_query_params(s, "stats_monthly", sql_stats, 6, values, on_stats, job) != 0) {
		free(job);
		return -1;
	}
	return 0;
}
