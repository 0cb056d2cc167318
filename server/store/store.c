/* The server's asynchronous store: one libpq connection driven from the libuv loop.
 *
 * Connection: PQconnectStartParams/PQconnectPoll watched by a uv_poll on PQsocket(), then
 * non-blocking queries. While connected the socket stays watched for reads even when idle, so
 * a server restart shows up at once as EOF; the connection is then dropped and a once-a-second
 * tick reconnects.
 *
 * Work: two FIFOs, executed one operation at a time. Queries (auth lookups, the directory) go
 * first because a person is waiting on them; they fail with err -1 if not answered within
 * QUERY_TIMEOUT_MS. Records (call history) keep their order and are never dropped for lack of
 * a connection: the head record stays queued until the database confirms it, and is sent again
 * after a reconnect (the SQL is idempotent, so a record that did commit before the connection
 * died is harmless to repeat). Only a record the database rejects as invalid (a data or
 * constraint error) is dropped, loudly, so one bad record cannot wedge the queue forever.
 *
 * Records and the spool (spool.c): every record is appended to the on-disk spool (written and
 * fdatasync'd on the thread pool, batched) as it is queued, whether PostgreSQL is up or not,
 * and the spool is emptied whenever the queue is: everything in it has then been confirmed.
 * So a record survives an outage (it is in memory and on disk, and is sent in order on
 * reconnect) and a SIGKILL (it is on disk, or already committed). At start-up the records
 * left in the spool are queued before anything else, followed by the crash-recovery record
 * that closes visits left open as `interrupted`. The alternative, spooling only while the
 * database is down, would lose the records in memory at a crash while up; always spooling
 * costs one write + fdatasync per batch off the loop (see docs/operations.md).
 *
 * Callbacks run on the loop thread; they may queue new operations but must not call
 * store_free. */
#include "store/store.h"

#include "base/clock.h"
#include "base/log.h"
#include "store/internal.h"
#include "store/password.h"
#include "store/spool.h"
#include "store/sql.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS            1000
#define QUERY_TIMEOUT_MS   5000
#define CONNECT_TIMEOUT_MS 10000

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_UP };
enum busy_with { BUSY_NONE, BUSY_SETUP, BUSY_QUERY, BUSY_RECORD };

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

struct record_node {
	struct record_node *next;
	store_record rec;
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
	store_staff staff;
};

struct flush_waiter {
	struct flush_waiter *next;
	uint64_t target; /* records_done value that satisfies this waiter */
	store_flush_cb cb;
	void *user;
};

struct store {
	uv_loop_t *loop;
	char *conninfo;
	PGconn *conn;
	enum conn_state state;
	uv_poll_t *poll; /* separately allocated: a closing handle may outlive a reconnect */
	int poll_events;
	uv_timer_t *tick;
	uint64_t connect_started, next_connect;
	unsigned connect_failures;

	struct query *queries, *queries_tail;
	struct record_node *records, *records_tail;
	int n_records;
	uint64_t records_pushed, records_done;
	enum busy_with busy;
	PGresult *result; /* the first result of the operation in flight */
	int hold;         /* a transient error: wait for the next tick before retrying */
	unsigned record_failures;

	struct staff_job *jobs;
	struct flush_waiter *waiters;
	spool *spool; /* NULL: records in memory only (tools and tests) */
};

static void kick(store *s);
static void on_poll(uv_poll_t *h, int status, int events);
static int send_flush(store *s);

/* ---- small helpers ---- */

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/* libpq messages end in newlines and may contain quotes; log lines want neither. */
static const char *one_line(const char *msg, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", msg ? msg : "");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == '"')
			*p = *p == '"' ? '\'' : ' ';
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

static int power_of_two(unsigned n)
{
	return n && (n & (n - 1)) == 0;
}

static void on_notice(void *arg, const char *message)
{
	char line[256];
	(void)arg;
	LOG_WARN("store", "server notice text=\"%s\"", one_line(message, line, sizeof line));
}

/* ---- the record queue: the seam for the on-disk spool ---- */

static int records_push(store *s, const store_record *r)
{
	struct record_node *n = calloc(1, sizeof *n);
	if (!n)
		return -1;
	n->rec = *r;
	if (s->records_tail)
		s->records_tail->next = n;
	else
		s->records = n;
	s->records_tail = n;
	s->n_records++;
	s->records_pushed++;
	return 0;
}

static const store_record *records_head(const store *s)
{
	return s->records ? &s->records->rec : NULL;
}

/* Called once the head record is in the database (or rejected for good). */
static void records_pop(store *s)
{
	struct record_node *n = s->records;
	if (!n)
		return;
	s->records = n->next;
	if (!s->records)
		s->records_tail = NULL;
	free(n);
	s->n_records--;
	s->records_done++;
	if (s->n_records == 0)
		spool_settled(s->spool);
	for (struct flush_waiter **w = &s->waiters; *w;) {
		struct flush_waiter *fw = *w;
		if (fw->target <= s->records_done) {
			*w = fw->next;
			fw->cb(fw->user, 0);
			free(fw);
		} else {
			w = &fw->next;
		}
	}
}

/* ---- the query queue ---- */

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
	kick(s);
	return 0;
}

/* Fails queries that waited too long; the one in flight (the head, while busy) is left to
 * finish or to be caught by a connection loss. The expired ones are unlinked before any
 * callback runs, since a callback may queue a new query. */
static void expire_queries(store *s)
{
	uint64_t now = uv_now(s->loop);
	struct query *expired = NULL, **p = &s->queries;
	if (s->busy == BUSY_QUERY && *p)
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

/* ---- the connection ---- */

/* Watches the connection's socket for events. fresh replaces the poll handle (see
 * connect_step). Returns 0 or -1 when the socket cannot be watched. */
static int watch(store *s, int fresh, int events)
{
	if (fresh && s->poll) {
		uv_close((uv_handle_t *)s->poll, free_handle);
		s->poll = NULL;
	}
	if (!s->poll) {
		uv_poll_t *p = malloc(sizeof *p);
		int fd = PQsocket(s->conn);
		if (!p || fd < 0 || uv_poll_init(s->loop, p, fd) != 0) {
			free(p);
			LOG_ERROR("store", "cannot watch the database socket fd=%d", fd);
			return -1;
		}
		p->data = s;
		s->poll = p;
		s->poll_events = 0;
	}
	if (events != s->poll_events) {
		if (uv_poll_start(s->poll, events, on_poll) != 0)
			return -1;
		s->poll_events = events;
	}
	return 0;
}

/* Drops the connection; the head operation stays queued and is sent again on reconnect. */
static void disconnect(store *s)
{
	if (s->poll) {
		uv_close((uv_handle_t *)s->poll, free_handle);
		s->poll = NULL;
	}
	PQclear(s->result);
	s->result = NULL;
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	s->state = CONN_DOWN;
	s->busy = BUSY_NONE;
	s->next_connect = uv_now(s->loop) + TICK_MS;
}

static void connection_lost(store *s, const char *why)
{
	char line[256];
	LOG_WARN("store", "connection lost err=\"%s\" pending_records=%d",
	         one_line(why, line, sizeof line), s->n_records);
	disconnect(s);
}

static void connect_failed(store *s)
{
	char line[256];
	s->connect_failures++;
	/* Log the first failure and then ever more rarely, so an outage does not flood. */
	if (power_of_two(s->connect_failures))
		LOG_WARN("store", "cannot connect err=\"%s\" attempts=%u pending_records=%d",
		         one_line(s->conn ? PQerrorMessage(s->conn) : "out of memory", line,
		                  sizeof line),
		         s->connect_failures, s->n_records);
	disconnect(s);
}

static void start_connect(store *s)
{
	/* The conninfo goes in as "dbname" with expansion on, so it may be a keyword string or
	 * a URI; the application name is only a fallback so the operator's choice wins. */
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {s->conninfo, "madoguchi", NULL};
	s->conn = PQconnectStartParams(keys, values, 1);
	if (!s->conn || PQstatus(s->conn) == CONNECTION_BAD) {
		connect_failed(s);
		return;
	}
	PQsetNoticeProcessor(s->conn, on_notice, s);
	s->state = CONN_CONNECTING;
	s->connect_started = uv_now(s->loop);
	/* libpq's contract: behave as if PQconnectPoll had just asked for writability. */
	if (watch(s, 1, UV_WRITABLE) != 0)
		connect_failed(s);
}

/* One step of the connection handshake. libpq may switch sockets between steps (another
 * host, a retry without SSL) and a new socket may reuse the old number, so the poll handle is
 * replaced after every step rather than only when the number changes. */
static void connect_step(store *s)
{
	switch (PQconnectPoll(s->conn)) {
	case PGRES_POLLING_READING:
		if (watch(s, 1, UV_READABLE) != 0)
			connect_failed(s);
		return;
	case PGRES_POLLING_WRITING:
		if (watch(s, 1, UV_WRITABLE) != 0)
			connect_failed(s);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		connect_failed(s);
		return;
	}
	if (PQsetnonblocking(s->conn, 1) != 0 || watch(s, 1, UV_READABLE) != 0) {
		connect_failed(s);
		return;
	}
	s->state = CONN_UP;
	s->connect_failures = 0;
	LOG_INFO("store", "connected db=%s pending_records=%d", PQdb(s->conn), s->n_records);
	/* A confirmed record is dropped from the spool, so a confirmation must mean durable:
	 * with synchronous_commit off (a server default some installations choose) PostgreSQL
	 * confirms before its WAL is written, and a crash of the database then loses records
	 * the spool no longer holds. The outage test caught exactly that. */
	if (!PQsendQuery(s->conn, "SET synchronous_commit TO on") || send_flush(s) != 0) {
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	s->busy = BUSY_SETUP;
}

/* ---- running operations ---- */

static int send_flush(store *s)
{
	int r = PQflush(s->conn);
	if (r < 0)
		return -1;
	return watch(s, 0, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

/* Sends the next operation when connected and idle: a waiting query first, else the oldest
 * record. */
static void kick(store *s)
{
	if (s->state != CONN_UP || s->busy != BUSY_NONE || s->hold)
		return;
	struct store_sql q;
	if (s->queries) {
		store_sql_query(s->queries->kind, s->queries->key, &q);
		if (s->queries->kind == STORE_Q_PARAMS) {
			q.sql = s->queries->sql;
			q.n = s->queries->n_params;
			for (int i = 0; i < q.n; i++)
				q.values[i] = s->queries->params[i];
		}
		s->busy = BUSY_QUERY;
	} else if (records_head(s)) {
		store_sql_record(records_head(s), &q);
		s->busy = BUSY_RECORD;
	} else {
		return;
	}
	if (!PQsendQueryParams(s->conn, q.sql, q.n, NULL, q.values, NULL, NULL, 0) ||
	    send_flush(s) != 0)
		connection_lost(s, PQerrorMessage(s->conn));
}

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

static void finish_query(store *s, PGresult *res)
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
		          one_line(PQresultErrorMessage(res), line, sizeof line));
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

static void finish_record(store *s, PGresult *res)
{
	const store_record *r = records_head(s);
	char line[256];
	if (!r)
		return;
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		/* The updates answer whether their target exists (a replay finds it unchanged). */
		int one = st == PGRES_TUPLES_OK && PQntuples(res) == 1;
		if (r->kind == STORE_CLOSE_INTERRUPTED && one && PQnfields(res) == 2)
			LOG_INFO("store", "closed what a crash left open visits=%s legs=%s",
			         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		else if (one && PQnfields(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f')
			LOG_WARN("store", "record matched no row kind=%s visit=%s leg=%s",
			         store_sql_record_name(r->kind), r->visit, r->leg);
		s->record_failures = 0;
		records_pop(s);
		return;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	one_line(PQresultErrorMessage(res), line, sizeof line);
	if (store_sql_error_is_permanent(state)) {
		/* Everything but the free-text note, so the record can be repaired by hand. */
		LOG_ERROR("store",
		          "record rejected, dropped kind=%s visit=%s leg=%s kiosk=%s department=%s "
		          "procedure=%s staff=%s outcome=%s at_us=%lld sqlstate=%s err=\"%s\"",
		          store_sql_record_name(r->kind), r->visit, r->leg, r->kiosk_id,
		          r->department, r->procedure, r->staff_id, r->outcome, (long long)r->at_us,
		          state ? state : "", line);
		s->record_failures = 0;
		records_pop(s);
		return;
	}
	/* Something the operator can fix (a missing migration, permissions, a full disk): keep
	 * the record and retry on the next tick. */
	s->record_failures++;
	if (power_of_two(s->record_failures))
		LOG_ERROR("store",
		          "record write failed, will retry kind=%s sqlstate=%s attempts=%u "
		          "err=\"%s\"",
		          store_sql_record_name(r->kind), state ? state : "", s->record_failures,
		          line);
	s->hold = 1;
}

/* The operation in flight has produced all its results. */
static void finish(store *s)
{
	PGresult *res = s->result;
	enum busy_with was = s->busy;
	s->result = NULL;
	s->busy = BUSY_NONE;
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		/* The error belongs to the connection, not the operation: keep the operation. */
		PQclear(res);
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	if (was == BUSY_SETUP && PQresultStatus(res) != PGRES_COMMAND_OK) {
		char line[256];
		LOG_WARN("store", "cannot turn synchronous_commit on err=\"%s\"",
		         one_line(PQresultErrorMessage(res), line, sizeof line));
	}
	if (was == BUSY_QUERY)
		finish_query(s, res);
	else if (was == BUSY_RECORD)
		finish_record(s, res);
	PQclear(res);
	kick(s);
}

static void on_readable(store *s)
{
	if (!PQconsumeInput(s->conn)) {
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	while (s->busy != BUSY_NONE && !PQisBusy(s->conn)) {
		PGresult *res = PQgetResult(s->conn);
		if (!res) {
			finish(s);
			return;
		}
		if (!s->result)
			s->result = res;
		else
			PQclear(res);
	}
	PGnotify *n;
	while ((n = PQnotifies(s->conn)))
		PQfreemem(n);
	if (PQstatus(s->conn) == CONNECTION_BAD)
		connection_lost(s, PQerrorMessage(s->conn));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	store *s = h->data;
	if (h != s->poll)
		return;
	if (s->state == CONN_CONNECTING) {
		connect_step(s);
		return;
	}
	if (status < 0) {
		connection_lost(s, uv_strerror(status));
		return;
	}
	if ((events & UV_WRITABLE) && send_flush(s) != 0) {
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	if (events & UV_READABLE)
		on_readable(s);
}

static void on_tick(uv_timer_t *t)
{
	store *s = t->data;
	uint64_t now = uv_now(s->loop);
	if (s->state == CONN_DOWN && now >= s->next_connect)
		start_connect(s);
	else if (s->state == CONN_CONNECTING && now - s->connect_started > CONNECT_TIMEOUT_MS)
		connect_failed(s);
	expire_queries(s);
	spool_poke(s->spool);
	if (s->hold) {
		s->hold = 0;
		kick(s);
	}
}

/* ---- public API ---- */

static int queue_spooled(void *user, const store_record *r)
{
	return records_push(user, r);
}

/* Queues what an earlier run left in the spool, then the crash-recovery record, ahead of
 * anything this run writes; opens the spool for appending. Returns 0 or -1 (logged). */
static int spool_start(store *s, const char *path)
{
	spool_load_stats st;
	if (spool_load(path, queue_spooled, s, &st) != 0) {
		LOG_ERROR("store", "cannot read the record spool path=%s", path);
		return -1;
	}
	if (st.records > 0)
		LOG_INFO("store", "replaying the record spool path=%s records=%d bytes=%lld", path,
		         st.records, st.bytes);
	store_record close;
	memset(&close, 0, sizeof close);
	close.kind = STORE_CLOSE_INTERRUPTED;
	close.at_us = clock_wall_us();
	if (records_push(s, &close) != 0 || !(s->spool = spool_open(s->loop, path)))
		return -1;
	return 0;
}

static void free_records(store *s)
{
	while (s->records) {
		struct record_node *n = s->records;
		s->records = n->next;
		free(n);
	}
}

store *store_new(uv_loop_t *loop, const char *conninfo, const char *spool_path)
{
	if (!loop || !conninfo)
		return NULL;
	store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->loop = loop;
	s->conninfo = strdup(conninfo);
	s->tick = malloc(sizeof *s->tick);
	if (!s->conninfo || !s->tick || (spool_path && spool_start(s, spool_path) != 0) ||
	    uv_timer_init(loop, s->tick) != 0) {
		spool_close(s->spool);
		free_records(s);
		free(s->tick);
		free(s->conninfo);
		free(s);
		return NULL;
	}
	s->tick->data = s;
	uv_timer_start(s->tick, on_tick, TICK_MS, TICK_MS);
	start_connect(s);
	return s;
}

int store_is_up(const store *s)
{
	return s && s->state == CONN_UP;
}

int store_pending(const store *s)
{
	return s ? s->n_records : 0;
}

int store_write(store *s, const store_record *r)
{
	if (!s || !r || r->kind == STORE_CLOSE_INTERRUPTED || store_sql_record_check(r) != 0)
		return -1;
	if (records_push(s, r) != 0)
		return -1;
	/* Still queued in memory when the spool cannot take it (a full disk, logged there). */
	if (s->spool && spool_append(s->spool, r) != 0)
		LOG_ERROR("store", "record not spooled kind=%s visit=%s",
		          store_sql_record_name(r->kind), r->visit);
	kick(s);
	return 0;
}

int store_flush(store *s, store_flush_cb cb, void *user)
{
	if (!s || !cb)
		return -1;
	if (s->n_records == 0) {
		cb(user, 0);
		return 0;
	}
	struct flush_waiter *w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	w->target = s->records_pushed;
	w->cb = cb;
	w->user = user;
	w->next = s->waiters;
	s->waiters = w;
	return 0;
}

static struct query *query_new(enum store_query_kind kind, void *user)
{
	struct query *q = calloc(1, sizeof *q);
	if (q) {
		q->kind = kind;
		q->user = user;
	}
	return q;
}

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

/* At shutdown, with the connection up, the remaining records are written synchronously: the
 * loop is ending anyway, and a record written now need not be replayed at the next start. */
static void drain_blocking(store *s)
{
	if (s->state != CONN_UP || PQsetnonblocking(s->conn, 0) != 0)
		return;
	if (s->busy != BUSY_NONE) {
		PGresult *res;
		while ((res = PQgetResult(s->conn))) {
			if (!s->result)
				s->result = res;
			else
				PQclear(res);
		}
		if (s->busy == BUSY_RECORD && PQstatus(s->conn) == CONNECTION_OK)
			finish_record(s, s->result);
		/* A query in flight is answered with -1 with the others below. */
		PQclear(s->result);
		s->result = NULL;
		s->busy = BUSY_NONE;
	}
	s->hold = 0;
	while (records_head(s) && PQstatus(s->conn) == CONNECTION_OK && !s->hold) {
		struct store_sql q;
		store_sql_record(records_head(s), &q);
		PGresult *res = PQexecParams(s->conn, q.sql, q.n, NULL, q.values, NULL, NULL, 0);
		finish_record(s, res);
		PQclear(res);
	}
}

void store_free(store *s)
{
	if (!s)
		return;
	drain_blocking(s);
	if (s->n_records > 0 && s->spool)
		LOG_WARN("store", "records left in the spool for the next start count=%d",
		         s->n_records);
	else if (s->n_records > 0)
		LOG_ERROR("store", "records not written at shutdown count=%d", s->n_records);
	spool_close(s->spool);
	disconnect(s);
	uv_close((uv_handle_t *)s->tick, free_handle);
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
	while (s->waiters) {
		struct flush_waiter *w = s->waiters;
		s->waiters = w->next;
		w->cb(w->user, -1);
		free(w);
	}
	free_records(s);
	free(s->conninfo);
	free(s);
}
