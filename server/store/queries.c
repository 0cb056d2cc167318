/* The store's query queue: the lookups a person waits on (kiosk and staff logins, the
 * directory) and the generic parameterised statement other store files use (analytics.c).
 *
 * Queries run before records (store.c's store_kick picks them first) and fail with err -1 if
 * not answered within QUERY_TIMEOUT_MS. The head query stays queued while it is in flight, so
 * a connection lost mid-query sends it again after the reconnect. A staff login's password is
 * checked on the thread pool once its row is in, so a slow hash never stalls the loop.
 *
 * Callbacks run on the loop thread; they may queue new operations but must not call
 * store_free. */
#include "base/log.h"
#include "store/internal.h"
#include "store/password.h"
#include "store/sql.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_TIMEOUT_MS 5000

struct query {
	struct query *next;
	enum store_query_kind kind;
	uint64_t deadline;              /* uv_now() milliseconds */
	char key[2 * STORE_ID_MAX + 8]; /* token digest as bytea text, or the username */
	char *password;                 /* staff logins only; wiped when freed */
	/* STORE_Q_PARAMS: another store file's statement, its copied parameters and label. */
	const char *sql, *name;
	char *params[STORE_SQL_MAX_PARAMS];
	int n_params;
	union {
		store_kiosk_cb kiosk;
		store_staff_cb staff;
		store_directory_cb directory;
		store_result_cb result;
	} cb;
	void *user;
};

/* A password check running on the thread pool. It outlives the store if store_free comes
 * first: the store then detaches it (s = NULL) after answering its callback with -1, and the
 * after-work callback only frees it. */
struct staff_job {
	uv_work_t req;
	struct staff_job *next;
	store *s;
	store_staff_cb cb;
	void *user;
	char *password;
	char hash[PASSWORD_HASH_MAX];
	int found;  /* the username exists */
	int result; /* password_verify's answer */
	int stale;  /* 0, or the answer to give instead of success: 1 credentials changed since
	             * the row was read, -1 the connection was lost meanwhile (changes missed) */
	store_staff staff;
};

/* ---- the queue ---- */

static struct query *query_new(enum store_query_kind kind, void *user)
{
	struct query *q = calloc(1, sizeof *q);
	if (q) {
		q->kind = kind;
		q->user = user;
	}
	return q;
}

static void query_free(struct query *q)
{
	if (q->password) {
		OPENSSL_cleanse(q->password, strlen(q->password));
		free(q->password);
	}
	for (int i = 0; i < q->n_params; i++)
		free(q->params[i]);
	free(q);
}

/* Answers a query that will not be run (timeout, shutdown) with err -1. */
static void query_fail(struct query *q)
{
	switch (q->kind) {
	case STORE_Q_KIOSK:
		q->cb.kiosk(q->user, -1, NULL);
		break;
	case STORE_Q_STAFF:
		q->cb.staff(q->user, -1, NULL);
		break;
	case STORE_Q_DIRECTORY:
		q->cb.directory(q->user, -1, NULL);
		break;
	case STORE_Q_PARAMS:
		q->cb.result(q->user, -1, NULL);
		break;
	}
}

static struct query *query_pop(store *s)
{
	struct query *q = s->queries;
	if (q) {
		s->queries = q->next;
		if (!s->queries)
			s->queries_tail = NULL;
	}
	return q;
}

static int query_push(store *s, struct query *q)
{
	q->deadline = uv_now(s->loop) + QUERY_TIMEOUT_MS;
	if (s->queries_tail)
		s->queries_tail->next = q;
	else
		s->queries = q;
	s->queries_tail = q;
	store_kick(s);
	return 0;
}

int store_queries_head_sql(const store *s, struct store_sql *out)
{
	const struct query *q = s->queries;
	if (!q)
		return -1;
	store_sql_query(q->kind, q->key, out);
	if (q->kind == STORE_Q_PARAMS) {
		out->sql = q->sql;
		out->n = q->n_params;
		for (int i = 0; i < out->n; i++)
			out->values[i] = q->params[i];
	}
	return 0;
}

/* The one in flight (the head, while busy) is left to finish or to be caught by a connection
 * loss. The expired ones are unlinked before any callback runs, since a callback may queue a
 * new query. */
void store_queries_expire(store *s)
{
	uint64_t now = uv_now(s->loop);
	struct query *expired = NULL, **p = &s->queries;
	if (s->busy == STORE_BUSY_QUERY && *p)
		p = &(*p)->next;
	while (*p) {
		struct query *q = *p;
		if (q->deadline > now) {
			p = &q->next;
			continue;
		}
		*p = q->next;
		q->next = expired;
		expired = q;
	}
	s->queries_tail = NULL;
	for (struct query *q = s->queries; q; q = q->next)
		s->queries_tail = q;
	while (expired) {
		struct query *q = expired;
		expired = q->next;
		LOG_WARN("store", "query timed out kind=%s waited_ms=%d",
		         store_sql_query_name(q->kind), QUERY_TIMEOUT_MS);
		query_fail(q);
		query_free(q);
	}
}

void store_queries_cancel(store *s)
{
	struct query *q;
	while ((q = query_pop(s))) {
		query_fail(q);
		query_free(q);
	}
	for (struct staff_job *job = s->jobs; job; job = job->next) {
		/* The thread pool may already be running it; either way after-work frees it. */
		uv_cancel((uv_req_t *)&job->req);
		job->s = NULL;
		job->cb(job->user, -1, NULL);
	}
}

void store_queries_staff_changed(store *s, const char *staff_id)
{
	for (struct staff_job *job = s->jobs; job; job = job->next)
		if (job->found && (!staff_id || strcmp(job->staff.id, staff_id) == 0))
			job->stale = staff_id ? 1 : -1;
}

/* ---- answers ---- */

static void staff_work(uv_work_t *req)
{
	struct staff_job *job = req->data;
	if (job->found)
		job->result = password_verify(job->password, job->hash);
	else
		password_burn(job->password);
}

static void staff_job_free(struct staff_job *job)
{
	OPENSSL_cleanse(job->password, strlen(job->password));
	OPENSSL_cleanse(job->hash, sizeof job->hash);
	free(job->password);
	free(job);
}

static void staff_after_work(uv_work_t *req, int status)
{
	struct staff_job *job = req->data;
	store *s = job->s;
	if (s) {
		for (struct staff_job **p = &s->jobs; *p; p = &(*p)->next)
			if (*p == job) {
				*p = job->next;
				break;
			}
		int err = status != 0 ? -1 : !job->found || job->result != 0 ? 1 : 0;
		if (job->found && job->result < 0)
			LOG_WARN("store", "malformed password hash user=%s", job->staff.username);
		if (err == 0 && job->stale) {
			LOG_INFO("store",
			         "login refused: credentials changed during the check user=%s",
			         job->staff.username);
			err = job->stale;
		}
		job->cb(job->user, err, err == 0 ? &job->staff : NULL);
	}
	staff_job_free(job);
}

/* The row is in; the password is checked on the thread pool so a slow hash never stalls the
 * loop. An unknown user costs the same time as a wrong password. */
static void finish_staff(store *s, struct query *q, PGresult *res)
{
	struct staff_job *job = calloc(1, sizeof *job);
	if (!job) {
		q->cb.staff(q->user, -1, NULL);
		return;
	}
	int err = store_sql_staff_result(res, &job->staff, job->hash, sizeof job->hash);
	if (err < 0) {
		free(job);
		q->cb.staff(q->user, -1, NULL);
		return;
	}
	job->found = err == 0;
	job->password = q->password;
	q->password = NULL;
	job->cb = q->cb.staff;
	job->user = q->user;
	job->s = s;
	job->req.data = job;
	if (uv_queue_work(s->loop, &job->req, staff_work, staff_after_work) != 0) {
		q->cb.staff(q->user, -1, NULL);
		staff_job_free(job);
		return;
	}
	job->next = s->jobs;
	s->jobs = job;
}

static void finish_directory(struct query *q, PGresult *res)
{
	store_directory d;
	int err = store_sql_directory_result(res, &d) != 0 ? -1 : 0;
	q->cb.directory(q->user, err, err == 0 ? &d : NULL);
	if (err == 0)
		store_sql_directory_free(&d);
}

void store_queries_finish(store *s, PGresult *res)
{
	struct query *q = query_pop(s);
	if (!q)
		return;
	if (q->kind == STORE_Q_PARAMS && PQresultStatus(res) == PGRES_COMMAND_OK) {
		q->cb.result(q->user, 0, res);
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char line[256];
		LOG_ERROR("store", "query failed kind=%s err=\"%s\"",
		          q->name ? q->name : store_sql_query_name(q->kind),
		          store_one_line(PQresultErrorMessage(res), line, sizeof line));
		query_fail(q);
	} else if (q->kind == STORE_Q_PARAMS) {
		q->cb.result(q->user, 0, res);
	} else if (q->kind == STORE_Q_KIOSK) {
		store_kiosk k;
		int err = store_sql_kiosk_result(res, &k);
		q->cb.kiosk(q->user, err, err == 0 ? &k : NULL);
	} else if (q->kind == STORE_Q_STAFF) {
		finish_staff(s, q, res);
	} else {
		finish_directory(q, res);
	}
	query_free(q);
}

/* ---- public API ---- */

int store_auth_kiosk(store *s, const char *token, store_kiosk_cb cb, void *user)
{
	uint8_t digest[PASSWORD_DIGEST_LEN];
	if (!s || !token || !cb || password_token_digest(token, digest) != 0)
		return -1;
	struct query *q = query_new(STORE_Q_KIOSK, user);
	if (!q)
		return -1;
	store_sql_bytea_text(digest, sizeof digest, q->key, sizeof q->key);
	q->cb.kiosk = cb;
	return query_push(s, q);
}

int store_auth_staff(store *s, const char *username, const char *password, store_staff_cb cb,
                     void *user)
{
	if (!s || !username || !password || !cb || strlen(username) >= STORE_ID_MAX)
		return -1;
	struct query *q = query_new(STORE_Q_STAFF, user);
	if (!q || !(q->password = strdup(password))) {
		free(q);
		return -1;
	}
	snprintf(q->key, sizeof q->key, "%s", username);
	q->cb.staff = cb;
	return query_push(s, q);
}

/* The generic query of internal.h (analytics.c's login sessions and statistics). */
int store_query_params(store *s, const char *name, const char *sql, int n,
                       const char *const *values, store_result_cb cb, void *user)
{
	if (!s || !sql || !cb || n < 0 || n > STORE_SQL_MAX_PARAMS || (n && !values))
		return -1;
	struct query *q = query_new(STORE_Q_PARAMS, user);
	if (!q)
		return -1;
	q->sql = sql;
	q->name = name;
	q->cb.result = cb;
	for (; q->n_params < n; q->n_params++) {
		const char *v = values[q->n_params];
		if (v && !(q->params[q->n_params] = strdup(v))) {
			query_free(q);
			return -1;
		}
	}
	return query_push(s, q);
}

int store_load_directory(store *s, store_directory_cb cb, void *user)
{
	struct query *q = s && cb ? query_new(STORE_Q_DIRECTORY, user) : NULL;
	if (!q)
		return -1;
	q->cb.directory = cb;
	return query_push(s, q);
}
