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
 * Revocation: after every connect the connection LISTENs on madoguchi_identity, where
 * migration 3's triggers announce revoked kiosks and changed staff credentials; the notices
 * are read after every read of the socket and handed to identity.c.
 *
 * Files: this one holds the connection, the choice of what runs next and the store's life
 * (store_new, store_free); queries.c the query queue and the request functions; records.c the
 * record queue, the spool and store_flush; identity.c the revocation notices. struct store is
 * in internal.h.
 *
 * Callbacks run on the loop thread; they may queue new operations but must not call
 * store_free. */
#include "store/store.h"

#include "base/log.h"
#include "store/internal.h"
#include "store/spool.h"
#include "store/sql.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS            1000
#define CONNECT_TIMEOUT_MS 10000

static void on_poll(uv_poll_t *h, int status, int events);
static int send_flush(store *s);

/* ---- small helpers ---- */

static void free_handle(uv_handle_t *h)
{
	free(h);
}

const char *store_one_line(const char *msg, char *buf, size_t cap)
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

int store_power_of_two(unsigned n)
{
	return n && (n & (n - 1)) == 0;
}

static void on_notice(void *arg, const char *message)
{
	char line[256];
	(void)arg;
	LOG_WARN("store", "server notice text=\"%s\"", store_one_line(message, line, sizeof line));
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
	s->state = STORE_CONN_DOWN;
	s->busy = STORE_BUSY_NONE;
	s->next_connect = uv_now(s->loop) + TICK_MS;
}

static void connection_lost(store *s, const char *why)
{
	char line[256];
	LOG_WARN("store", "connection lost err=\"%s\" pending_records=%d",
	         store_one_line(why, line, sizeof line), s->n_records);
	disconnect(s);
}

static void connect_failed(store *s)
{
	char line[256];
	s->connect_failures++;
	/* Log the first failure and then ever more rarely, so an outage does not flood. */
	if (store_power_of_two(s->connect_failures))
		LOG_WARN("store", "cannot connect err=\"%s\" attempts=%u pending_records=%d",
		         store_one_line(s->conn ? PQerrorMessage(s->conn) : "out of memory", line,
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
	s->state = STORE_CONN_CONNECTING;
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
	s->state = STORE_CONN_UP;
	s->connect_failures = 0;
	LOG_INFO("store", "connected db=%s pending_records=%d", PQdb(s->conn), s->n_records);
	/* A confirmed record is dropped from the spool, so a confirmation must mean durable:
	 * with synchronous_commit off (a server default some installations choose) PostgreSQL
	 * confirms before its WAL is written, and a crash of the database then loses records
	 * the spool no longer holds. The outage test caught exactly that.
	 * LISTEN: revoked kiosks and changed staff credentials are announced on this channel
	 * (identity.c); what happened while we were away is re-checked once this is done.
	 * The second LISTEN: directory changes (migration 6, live.c); the directory is read
	 * again after a reconnection for the same reason. */
	if (!PQsendQuery(s->conn, "SET synchronous_commit TO on; LISTEN madoguchi_identity;"
	                          " LISTEN " STORE_DIRECTORY_CHANNEL) ||
	    send_flush(s) != 0) {
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	s->busy = STORE_BUSY_SETUP;
}

/* ---- running operations ---- */

static int send_flush(store *s)
{
	int r = PQflush(s->conn);
	if (r < 0)
		return -1;
	return watch(s, 0, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

/* A waiting query first (a person is waiting on it), else the oldest record. */
void store_kick(store *s)
{
	if (s->state != STORE_CONN_UP || s->busy != STORE_BUSY_NONE || s->hold)
		return;
	struct store_sql q;
	if (store_queries_head_sql(s, &q) == 0) {
		s->busy = STORE_BUSY_QUERY;
	} else if (store_records_head(s)) {
		store_sql_record(store_records_head(s), s->node, &q);
		s->busy = STORE_BUSY_RECORD;
	} else {
		return;
	}
	if (!PQsendQueryParams(s->conn, q.sql, q.n, NULL, q.values, NULL, NULL, 0) ||
	    send_flush(s) != 0)
		connection_lost(s, PQerrorMessage(s->conn));
}

/* The operation in flight has produced all its results. */
static void finish(store *s)
{
	PGresult *res = s->result;
	enum store_busy was = s->busy;
	s->result = NULL;
	s->busy = STORE_BUSY_NONE;
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		/* The error belongs to the connection, not the operation: keep the operation. */
		PQclear(res);
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	if (was == STORE_BUSY_SETUP && PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Without LISTEN, revocations reach the server only at the next reconnection. */
		char line[256];
		LOG_ERROR("store",
		          "cannot set the connection up (synchronous_commit, LISTEN) err=\"%s\"",
		          store_one_line(PQresultErrorMessage(res), line, sizeof line));
	}
	if (was == STORE_BUSY_QUERY)
		store_queries_finish(s, res);
	else if (was == STORE_BUSY_RECORD)
		store_records_finish(s, res);
	PQclear(res);
	if (was == STORE_BUSY_SETUP)
		store_identity_reconnected(s);
	store_kick(s);
}

/* An operation's results: the first one is kept, unless a later one is an error (the setup
 * sends two statements, and the second may be the one that failed). */
static void keep_result(store *s, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!s->result) {
		s->result = res;
	} else if (!ok && (PQresultStatus(s->result) == PGRES_COMMAND_OK ||
	                   PQresultStatus(s->result) == PGRES_TUPLES_OK)) {
		PQclear(s->result);
		s->result = res;
	} else {
		PQclear(res);
	}
}

static void on_readable(store *s)
{
	if (!PQconsumeInput(s->conn)) {
		connection_lost(s, PQerrorMessage(s->conn));
		return;
	}
	/* finish() may send the next operation; the loop then stops at PQisBusy. */
	while (s->state == STORE_CONN_UP && s->busy != STORE_BUSY_NONE && !PQisBusy(s->conn)) {
		PGresult *res = PQgetResult(s->conn);
		if (res)
			keep_result(s, res);
		else
			finish(s);
	}
	/* Notices arrive between results or while idle; both were read by PQconsumeInput. */
	if (s->state == STORE_CONN_UP)
		store_identity_drain(s);
	if (s->state == STORE_CONN_UP && PQstatus(s->conn) == CONNECTION_BAD)
		connection_lost(s, PQerrorMessage(s->conn));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	store *s = h->data;
	if (h != s->poll)
		return;
	if (s->state == STORE_CONN_CONNECTING) {
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
	if (s->state == STORE_CONN_DOWN && now >= s->next_connect)
		start_connect(s);
	else if (s->state == STORE_CONN_CONNECTING && now - s->connect_started > CONNECT_TIMEOUT_MS)
		connect_failed(s);
	store_queries_expire(s);
	spool_poke(s->spool);
	if (s->hold) {
		s->hold = 0;
		store_kick(s);
	}
}

/* ---- public API ---- */

store *store_new(uv_loop_t *loop, const char *conninfo, const char *spool_path)
{
	return store_new_with_key(loop, conninfo, spool_path, NULL);
}

store *store_new_with_key(uv_loop_t *loop, const char *conninfo, const char *spool_path,
                          const char *spool_key)
{
	if (!loop || !conninfo)
		return NULL;
	store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->loop = loop;
	s->conninfo = strdup(conninfo);
	s->tick = malloc(sizeof *s->tick);
	if (!s->conninfo || !s->tick ||
	    (spool_path && store_records_open_spool(s, spool_path, spool_key) != 0) ||
	    uv_timer_init(loop, s->tick) != 0) {
		spool_close(s->spool);
		store_records_free(s);
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
	return s && s->state == STORE_CONN_UP;
}

/* At shutdown, with the connection up, the remaining records are written synchronously: the
 * loop is ending anyway, and a record written now need not be replayed at the next start. */
static void drain_blocking(store *s)
{
	if (s->state != STORE_CONN_UP || PQsetnonblocking(s->conn, 0) != 0)
		return;
	if (s->busy != STORE_BUSY_NONE) {
		PGresult *res;
		while ((res = PQgetResult(s->conn))) {
			if (!s->result)
				s->result = res;
			else
				PQclear(res);
		}
		if (s->busy == STORE_BUSY_RECORD && PQstatus(s->conn) == CONNECTION_OK)
			store_records_finish(s, s->result);
		/* A query in flight is answered with -1 with the others below. */
		PQclear(s->result);
		s->result = NULL;
		s->busy = STORE_BUSY_NONE;
	}
	s->hold = 0;
	while (store_records_head(s) && PQstatus(s->conn) == CONNECTION_OK && !s->hold) {
		struct store_sql q;
		store_sql_record(store_records_head(s), s->node, &q);
		PGresult *res = PQexecParams(s->conn, q.sql, q.n, NULL, q.values, NULL, NULL, 0);
		store_records_finish(s, res);
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
	store_queries_cancel(s);
	store_records_free(s);
	free(s->conninfo);
	free(s);
}
