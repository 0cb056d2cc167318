/* Active/standby (issue 15): the lease that says which of two nodes sharing one database may
 * serve, and the store's part of a takeover. The signalling side (signal/standby.c) decides
 * what "serving" means; this file only answers "am I the active node now?".
 *
 * The lease is one row (migration 10): holder and expires_at on the database's clock. Every
 * node runs one statement on a timer: claim the row if it is mine or has expired, and push
 * expires_at LEASE_MS ahead. The active node runs it every RENEW_MS, a standby every
 * CLAIM_MS. A row lock makes two claims at once come out with one winner.
 *
 * Why a row and not a session advisory lock on a dedicated connection:
 * - The advisory lock lives as long as the database's backend of that connection. When the
 *   active node loses the network rather than dying (a cable, a switch), the backend and its
 *   lock stay until the database's TCP keepalive gives up (two hours by default), so the
 *   standby could not take over "within 5 s"; the row expires on the database's own clock
 *   whatever the network does.
 * - The active node knows, by its own clock and without the database, when it must stop:
 *   a renewal queued at t is valid in the database at least until t + LEASE_MS (the
 *   database ran it after t), so the node steps down at t + LEASE_MS - MARGIN_MS without a
 *   renewal. With a lock, the node learns it lost it only when libpq notices the dead
 *   connection, which may be much later than the moment the database dropped it.
 * - libpq here is asynchronous on the loop, and the store reconnects by itself: a lock would
 *   be lost silently on every reconnection; the row survives reconnections and works through
 *   a transaction-pooling proxy.
 * The price: a node killed outright is replaced only once its row expires (LEASE_MS after its
 * last renewal, plus up to CLAIM_MS), not at once; a node that stops cleanly releases the row
 * so its standby takes over within CLAIM_MS.
 *
 * The row also names the holding process (instance, random per start): a node restarted
 * after a crash does not inherit its previous run's lease but waits for it to expire like
 * anyone, and two processes given the same node-id by mistake never both hold it.
 *
 * The lease has its own connection (a second store, without a spool), so that a slow query on
 * the main one (the monthly statistics) never delays a renewal into a step-down.
 *
 * Everything runs on the loop; nothing blocks. */
#include "base/log.h"
#include "base/rand.h"
#include "store/internal.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_MS  3000 /* how far a renewal pushes expires_at */
#define RENEW_MS  1000 /* the active node renews this often */
#define CLAIM_MS  500  /* a standby looks this often */
#define MARGIN_MS 500  /* the active node stops this long before the row can expire */
#define TICK_MS   100

struct store_lease {
	store *db;
	uv_loop_t *loop;
	uv_timer_t *timer;
	char node[64];
	char instance[RAND_UUID_LEN]; /* this process: a restart or a twin is another holder */
	char holder[64];              /* the holder the last answer named; "" before any */
	store_lease_cb cb;
	void *user;
	int active;
	int in_flight;        /* a claim is queued or running */
	uint64_t sent_at;     /* uv_now() when the claim in flight was queued */
	uint64_t valid_until; /* active: the moment to step down without a renewal */
	uint64_t next_claim;  /* uv_now() of the next claim */
	int releasing;        /* the release statement is in flight */
	int twin_logged;      /* the warning about another holder with our name was logged */
	store_lease_done_cb done;
	void *done_user;
	int freeing;
};

/* One statement: claim or renew when the row is ours or has expired; answer whether we hold
 * it now and who does. The second sub-select reads the row as it was before the statement,
 * which is the holder when the claim did not change it. acquired_at moves only when the
 * holder changes or comes back after expiry. */
static const char sql_claim[] =
    "WITH c AS (INSERT INTO node_lease AS l (id, holder, instance, expires_at, acquired_at)"
    " VALUES (1, $1, $3, clock_timestamp() + $2::int * interval '1 millisecond',"
    " clock_timestamp())"
    " ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, instance = excluded.instance,"
    " expires_at = excluded.expires_at,"
    " acquired_at = CASE WHEN l.instance = excluded.instance AND l.expires_at >= clock_timestamp()"
    " THEN l.acquired_at ELSE excluded.acquired_at END"
    " WHERE (l.holder = excluded.holder AND l.instance = excluded.instance)"
    " OR l.expires_at < clock_timestamp()"
    " RETURNING holder)"
    " SELECT (SELECT count(*) FROM c),"
    " coalesce((SELECT holder FROM c), (SELECT holder FROM node_lease WHERE id = 1), '')";

/* A clean stop hands the lease on at once instead of letting it run out. */
static const char sql_release[] =
    "UPDATE node_lease SET expires_at = clock_timestamp() - interval '1 millisecond'"
    " WHERE id = 1 AND holder = $1 AND instance = $2";

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void set_active(store_lease *l, int active, const char *why)
{
	if (l->active == active)
		return;
	l->active = active;
	if (active)
		LOG_INFO("lease", "active node=%s", l->node);
	else
		LOG_WARN("lease", "standing down node=%s why=%s holder=%s", l->node, why,
		         l->holder[0] ? l->holder : "none");
	if (l->cb)
		l->cb(l->user, active);
}

static void on_claim(void *user, int err, const PGresult *res)
{
	store_lease *l = user;
	l->in_flight = 0;
	if (l->freeing || l->releasing)
		return;
	if (err != 0 || PQntuples(res) != 1 || PQnfields(res) != 2)
		return; /* the database is away: valid_until decides */
	int won = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	snprintf(l->holder, sizeof l->holder, "%s", PQgetvalue(res, 0, 1));
	uint64_t now = uv_now(l->loop);
	if (!won && strcmp(l->holder, l->node) == 0 && !l->active) {
		/* Our name, another process: a previous run of this node whose lease has not run
		 * out yet (normal right after a crash and restart), or a second node configured
		 * with the same node-id (a mistake: only one of them can ever serve). */
		if (!l->twin_logged)
			LOG_WARN(
			    "lease",
			    "the lease is held under this node-id by another process; waiting "
			    "for it to expire (a second node with the same node-id never serves) "
			    "node=%s",
			    l->node);
		l->twin_logged = 1;
	}
	if (!won) {
		/* Someone else holds a live lease. If we thought we did, our row expired on the
		 * database's clock before our own reckoning (a clock step): stop at once. */
		set_active(l, 0, "lease_taken");
		return;
	}
	uint64_t until = l->sent_at + LEASE_MS - MARGIN_MS;
	if (until > l->valid_until)
		l->valid_until = until;
	/* An answer so late that its lease is nearly over does not make us active; the next
	 * renewal, due at once, will. */
	if (!l->active && l->valid_until < now + RENEW_MS)
		l->next_claim = now;
	else
		set_active(l, 1, NULL);
}

static void claim(store_lease *l)
{
	char ms[16];
	snprintf(ms, sizeof ms, "%d", LEASE_MS);
	const char *values[] = {l->node, ms, l->instance};
	uint64_t now = uv_now(l->loop);
	if (store_query_params(l->db, "lease_claim", sql_claim, 3, values, on_claim, l) != 0)
		return;
	l->in_flight = 1;
	l->sent_at = now;
	l->next_claim = now + (l->active ? RENEW_MS : CLAIM_MS);
}

static void on_tick(uv_timer_t *t)
{
	store_lease *l = t->data;
	uint64_t now = uv_now(l->loop);
	if (l->releasing)
		return;
	if (l->active && now >= l->valid_until)
		set_active(l, 0, "not_renewed");
	if (!l->in_flight && now >= l->next_claim)
		claim(l);
}

store_lease *store_lease_new(uv_loop_t *loop, const char *conninfo, const char *node,
                             store_lease_cb cb, void *user)
{
	if (!loop || !conninfo || !node || !node[0] || strlen(node) >= 64)
		return NULL;
	store_lease *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->loop = loop;
	l->cb = cb;
	l->user = user;
	snprintf(l->node, sizeof l->node, "%s", node);
	if (rand_uuid(l->instance) != 0) {
		free(l);
		return NULL;
	}
	l->db = store_new(loop, conninfo, NULL);
	l->timer = malloc(sizeof *l->timer);
	if (!l->db || !l->timer || uv_timer_init(loop, l->timer) != 0) {
		store_free(l->db);
		free(l->timer);
		free(l);
		return NULL;
	}
	l->timer->data = l;
	l->next_claim = uv_now(loop);
	uv_timer_start(l->timer, on_tick, 0, TICK_MS);
	LOG_INFO("lease", "standby node=%s lease_ms=%d", node, LEASE_MS);
	return l;
}

int store_lease_active(const store_lease *l)
{
	return l && l->active;
}

const char *store_lease_holder(const store_lease *l)
{
	return l ? l->holder : "";
}

static void on_release(void *user, int err, const PGresult *res)
{
	store_lease *l = user;
	(void)res;
	l->releasing = 0;
	if (!l->freeing)
		LOG_INFO("lease", "released node=%s ok=%s", l->node, err == 0 ? "yes" : "no");
	store_lease_done_cb done = l->done;
	l->done = NULL;
	if (done)
		done(l->done_user);
}

int store_lease_release(store_lease *l, store_lease_done_cb done, void *user)
{
	if (!l || l->releasing)
		return -1;
	int was = l->active;
	/* From now on this node claims nothing: it is stopping. */
	l->releasing = 1;
	l->active = 0;
	l->done = done;
	l->done_user = user;
	const char *values[] = {l->node, l->instance};
	if (!was) {
		/* Nothing to hand on. */
		l->releasing = 0;
		l->done = NULL;
		if (done)
			done(user);
		return 0;
	}
	if (store_query_params(l->db, "lease_release", sql_release, 2, values, on_release, l) != 0)
		on_release(l, -1, NULL);
	return 0;
}

void store_lease_free(store_lease *l)
{
	if (!l)
		return;
	l->freeing = 1;
	l->done = NULL;
	uv_timer_stop(l->timer);
	uv_close((uv_handle_t *)l->timer, free_handle);
	store_free(l->db); /* answers a claim in flight, which sees freeing */
	free(l);
}

/* ---- the store's side of a takeover ---- */

void store_set_node(store *s, const char *node)
{
	if (s)
		snprintf(s->node, sizeof s->node, "%s", node ? node : "");
}

int store_close_takeover(store *s)
{
	return s ? store_records_push_close(s, STORE_CLOSE_TAKEOVER) : -1;
}
