/* The store's record pipeline: call-history records in a FIFO that keeps their order, the
 * on-disk spool beside it, and the callers of store_flush waiting for the FIFO to drain.
 *
 * The head record stays queued until the database confirms it (store_records_finish) and is
 * sent again after a reconnect; only a record the database rejects as invalid is dropped,
 * loudly. Every record is appended to the spool as it is queued, and the spool is emptied
 * whenever the queue is, since everything in it has then been confirmed (store.c's header
 * comment explains why it always spools).
 *
 * Callbacks run on the loop thread; they may queue new operations but must not call
 * store_free. */
#include "base/clock.h"
#include "base/log.h"
#include "store/internal.h"
#include "store/spool.h"
#include "store/sql.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct record_node {
	struct record_node *next;
	store_record rec;
};

struct flush_waiter {
	struct flush_waiter *next;
	uint64_t target; /* records_done value that satisfies this waiter */
	store_flush_cb cb;
	void *user;
};

/* ---- the queue: the seam for the on-disk spool ---- */

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

const store_record *store_records_head(const store *s)
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

void store_records_free(store *s)
{
	while (s->waiters) {
		struct flush_waiter *w = s->waiters;
		s->waiters = w->next;
		w->cb(w->user, -1);
		free(w);
	}
	while (s->records) {
		struct record_node *n = s->records;
		s->records = n->next;
		free(n);
	}
}

/* ---- the spool ---- */

static int queue_spooled(void *user, const store_record *r)
{
	return records_push(user, r);
}

int store_records_push_close(store *s, enum store_record_kind kind)
{
	store_record close;
	memset(&close, 0, sizeof close);
	close.kind = kind;
	close.at_us = clock_wall_us();
	int rc = records_push(s, &close);
	if (rc == 0)
		store_kick(s);
	return rc;
}

/* The key is read before the spool and made only after it has loaded: a spool that holds
 * encrypted records while its key is missing must stop the start, not get a new key that
 * would never open them. */
int store_records_open_spool(store *s, const char *path, const char *key_path)
{
	char default_key[4200];
	if (!key_path || !*key_path) {
		snprintf(default_key, sizeof default_key, "%s.key", path);
		key_path = default_key;
	}
	spool_key key;
	int missing = spool_key_load(key_path, 0, &key);
	if (missing < 0)
		return -1;
	spool_load_stats st;
	int rc = spool_load(path, missing ? NULL : &key, queue_spooled, s, &st);
	if (rc == SPOOL_ERR_KEY && missing)
		LOG_ERROR(
		    "store",
		    "the record spool holds encrypted records but their key is missing: restore "
		    "the key file, or move the spool aside to start without those records "
		    "path=%s key=%s unreadable_records=%d",
		    path, key_path, st.unauthenticated);
	else if (rc == SPOOL_ERR_KEY)
		LOG_ERROR(
		    "store",
		    "the record spool's key opens none of its records (another key?): restore "
		    "the right key file, or move the spool aside to start without those records "
		    "path=%s key=%s unreadable_records=%d",
		    path, key_path, st.unauthenticated);
	else if (rc != 0)
		LOG_ERROR("store", "cannot read the record spool path=%s", path);
	if (rc == 0 && missing && spool_key_load(key_path, 1, &key) != 0)
		rc = -1;
	if (rc != 0) {
		spool_key_wipe(&key);
		return -1;
	}
	if (st.records > 0)
		LOG_INFO("store",
		         "replaying the record spool path=%s records=%d unencrypted=%d bytes=%lld",
		         path, st.records, st.plain, st.bytes);
	if (store_records_push_close(s, STORE_CLOSE_INTERRUPTED) == 0)
		s->spool = spool_open(s->loop, path, &key);
	spool_key_wipe(&key);
	return s->spool ? 0 : -1;
}

/* ---- the database's answer ---- */

void store_records_finish(store *s, PGresult *res)
{
	const store_record *r = store_records_head(s);
	char line[256];
	if (!r)
		return;
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		/* The updates answer whether their target exists (a replay finds it unchanged). */
		int one = st == PGRES_TUPLES_OK && PQntuples(res) == 1;
		if ((r->kind == STORE_CLOSE_INTERRUPTED || r->kind == STORE_CLOSE_TAKEOVER) &&
		    one && PQnfields(res) == 2)
			LOG_INFO("store",
			         "closed what a crash left open visits=%s legs=%s scope=%s",
			         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
			         r->kind == STORE_CLOSE_TAKEOVER ? "takeover"
			         : s->node[0]                    ? "node"
			                                         : "all");
		else if (one && PQnfields(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f')
			LOG_WARN("store", "record matched no row kind=%s visit=%s leg=%s",
			         store_sql_record_name(r->kind), r->visit, r->leg);
		s->record_failures = 0;
		records_pop(s);
		return;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	store_one_line(PQresultErrorMessage(res), line, sizeof line);
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
	if (store_power_of_two(s->record_failures))
		LOG_ERROR("store",
		          "record write failed, will retry kind=%s sqlstate=%s attempts=%u "
		          "err=\"%s\"",
		          store_sql_record_name(r->kind), state ? state : "", s->record_failures,
		          line);
	s->hold = 1;
}

/* ---- public API ---- */

int store_pending(const store *s)
{
	return s ? s->n_records : 0;
}

int store_write(store *s, const store_record *r)
{
	if (!s || !r || r->kind == STORE_CLOSE_INTERRUPTED || r->kind == STORE_CLOSE_TAKEOVER ||
	    store_sql_record_check(r) != 0)
		return -1;
	if (records_push(s, r) != 0)
		return -1;
	/* Still queued in memory when the spool cannot take it (a full disk, logged there). */
	if (s->spool && spool_append(s->spool, r) != 0)
		LOG_ERROR("store", "record not spooled kind=%s visit=%s",
		          store_sql_record_name(r->kind), r->visit);
	store_kick(s);
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
