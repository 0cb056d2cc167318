/* The status board (PROTOCOL.md, "Status board"): every kiosk that exists and every
 * department, for coordinators and admins, by `status` over the WebSocket (a snapshot, then
 * events with what changed) and by GET /api/status; and the kiosk_online gauge.
 *
 * Design: nothing here is told precisely what changed. Whenever routing may have changed
 * something (after every drain of its actions, which follows every join, leave, suspend,
 * request and tick), and whenever status_kiosk_changed is called (a new health result), a
 * timer is armed; 200 ms later the whole board is rebuilt from routing, the sessions and
 * the kiosk list, each entry is serialised, and the entries whose text differs from what was
 * last broadcast go to the watchers in one event. While someone watches, the board is also
 * rebuilt every second, so that waits grow on screen; while nobody watches, only kiosks
 * coming online and going offline are noted. For 50 kiosks and 10 departments a rebuild is
 * a few hundred small JSON objects: far below a millisecond.
 *
 * The kiosks that exist (not revoked) come from PostgreSQL: read when the store connects
 * (and after every reconnection: revoke.c calls status_reload_kiosks), when a kiosk is
 * revoked, and when a kiosk the list does not know says hello (it was added since). Each
 * kiosk's last_seen is written (asynchronously) when its session starts and when it ends.
 *
 * A kiosk's PARTY on the board has the kiosk's own id (the uuid `admin kiosk list` shows and
 * HEALTH's "kiosk" carries), not a session id, since an offline kiosk has no session; its
 * live session's id is in "session". */
#include "base/clock.h"
#include "base/log.h"
#include "signal/app_internal.h"
#include "signal/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STATUS_COALESCE_MS 200  /* changes within this window go out in one event */
#define STATUS_REFRESH_MS  1000 /* rebuild this often while someone watches (waits grow) */

typedef struct status_kiosk {
	store_kiosk k;
	int64_t last_seen_us; /* 0 = never */
	int online;           /* as of the latest rebuild */
} status_kiosk;

/* What the watchers were last sent of one entry (a kiosk id or a department id). */
typedef struct status_sent {
	char id[STORE_ID_MAX];
	char tenant[STORE_ID_MAX]; /* whose watchers it goes to (tenant.c) */
	char *text; /* compact JSON */
	int seen;   /* still exists in this rebuild */
} status_sent;

typedef struct status_table {
	status_sent *v;
	int n, cap;
} status_table;

typedef struct status_board {
	sig_app *app;
	status_kiosk *kiosks;
	int n_kiosks;
	status_table sent_kiosks, sent_depts;
	uv_timer_t *timer; /* its own allocation: a closing handle may outlive the board */
	int64_t due_mono;  /* when the armed timer fires; 0 = not armed */
	int loading;       /* a kiosk list query is in flight */
	int reload_again;  /* ... and another was asked for meanwhile */
	int stopped;
} status_board;

static status_board *board_of(sig_app *app)
{
	if (!app->board && !app->stopping) {
		status_board *b = calloc(1, sizeof *b);
		if (!b)
			return NULL;
		b->app = app;
		b->timer = malloc(sizeof *b->timer);
		if (b->timer && uv_timer_init(app->loop, b->timer) == 0) {
			b->timer->data = b;
		} else {
			free(b->timer);
			b->timer = NULL;
		}
		app->board = b;
	}
	return app->board;
}

/* ---- the sent tables ---- */

static status_sent *sent_find(status_table *t, const char *id)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->v[i].id, id) == 0)
			return &t->v[i];
	return NULL;
}

/* Records text (taken over) as what the watchers have of id; 1 when it differs from what
 * they had (or they had nothing), else 0 and text is freed. -1 when out of memory. */
static int sent_update(status_table *t, const char *id, const char *tenant, char *text)
{
	status_sent *e = sent_find(t, id);
	if (!e) {
		if (t->n == t->cap) {
			int cap = t->cap ? t->cap * 2 : 32;
			status_sent *v = realloc(t->v, sizeof *v * (size_t)cap);
			if (!v) {
				free(text);
				return -1;
			}
			t->v = v;
			t->cap = cap;
		}
		e = &t->v[t->n++];
		memset(e, 0, sizeof *e);
		snprintf(e->id, sizeof e->id, "%s", id);
	}
	snprintf(e->tenant, sizeof e->tenant, "%s", tenant);
	e->seen = 1;
	if (e->text && strcmp(e->text, text) == 0) {
		free(text);
		return 0;
	}
	free(e->text);
	e->text = text;
	return 1;
}

static void sent_unmark(status_table *t)
{
	for (int i = 0; i < t->n; i++)
		t->v[i].seen = 0;
}

/* Drops the entries not seen in this rebuild, appending [tenant, id] pairs to removed (if not
 * NULL). */
static void sent_sweep(status_table *t, json_t *removed)
{
	int j = 0;
	for (int i = 0; i < t->n; i++) {
		if (t->v[i].seen) {
			t->v[j++] = t->v[i];
			continue;
		}
		if (removed)
			json_array_append_new(removed,
			                      json_pack("[s, s]", t->v[i].tenant, t->v[i].id));
		free(t->v[i].text);
	}
	t->n = j;
}

static void sent_free(status_table *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->v[i].text);
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* ---- building the board ---- */

/* The kiosk's live session: joined, known to routing and connected (a suspended session,
 * whose WebSocket dropped a moment ago, counts as offline until it resumes). */
static sig_session *kiosk_live(sig_app *app, const char *kiosk_id)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s->joined && s->conn && s->role == ROUTE_ROLE_KIOSK &&
		    strcmp(s->ident, kiosk_id) == 0 &&
		    route_session_role(app->route, s->sid) == ROUTE_ROLE_KIOSK &&
		    !route_session_suspended(app->route, s->sid))
			return s;
	return NULL;
}

/* A session of a kiosk that routing knows, live or suspended. */
static int kiosk_session_of(sig_app *app, const sig_session *s)
{
	return s->joined && s->role == ROUTE_ROLE_KIOSK && s->ident[0] &&
	       route_session_role(app->route, s->sid) == ROUTE_ROLE_KIOSK;
}

static int kiosk_has_session(sig_app *app, const char *kiosk_id)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (kiosk_session_of(app, s) && strcmp(s->ident, kiosk_id) == 0)
			return 1;
	return 0;
}

static json_t *time_or_null(int64_t wall_us)
{
	if (wall_us <= 0)
		return json_null();
	char text[40];
	clock_format_rfc3339(wall_us, text, sizeof text);
	return json_string(text);
}

static const char *kiosk_state_name(enum route_kiosk_state st)
{
	switch (st) {
	case ROUTE_KIOSK_QUEUED:
		return "queued";
	case ROUTE_KIOSK_RINGING:
		return "ringing";
	case ROUTE_KIOSK_IN_CALL:
		return "in_call";
	default:
		return "idle";
	}
}

static json_t *kiosk_json(sig_app *app, const status_kiosk *k, const sig_session *s)
{
	char session[24];
	snprintf(session, sizeof session, "p-%u", s ? s->sid : 0);
	json_t *party =
	    json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:o}", "id", k->k.id, "role", "kiosk", "name",
	              k->k.name, "branch", "id", k->k.branch_id, "name", k->k.branch_name,
	              "session", s ? json_string(session) : json_null());
	const char *visit = s ? route_session_visit(app->route, s->sid) : NULL;
	json_t *health = health_json(app, k->k.id);
	return json_pack(
	    "{s:o, s:b, s:s, s:o, s:o, s:o}", "kiosk", party, "online", s != NULL, "state",
	    kiosk_state_name(s ? route_kiosk_state(app->route, s->sid) : ROUTE_KIOSK_IDLE), "visit",
	    visit ? json_string(visit) : json_null(), "health", health ? health : json_null(),
	    "last_seen", time_or_null(k->last_seen_us));
}

static const char *presence_name(enum route_desk_presence p)
{
	return p == ROUTE_DESK_AVAILABLE ? "available" : p == ROUTE_DESK_BUSY ? "busy" : "away";
}

#define STATUS_MAX_DESKS 128

static json_t *dept_json(sig_app *app, const sig_dept *d, int64_t now)
{
	route_department_info info;
	if (route_department_get(app->route, d->id, &info) != 0)
		return NULL;
	json_t *desks = json_array();
	uint32_t staff[STATUS_MAX_DESKS];
	int ns = route_department_staff(app->route, d->id, staff, STATUS_MAX_DESKS);
	for (int i = 0; i < ns && i < STATUS_MAX_DESKS; i++) {
		if (route_session_role(app->route, staff[i]) != ROUTE_ROLE_STAFF ||
		    !session_by_sid(app, staff[i]))
			continue;
		json_array_append_new(
		    desks, json_pack("{s:o, s:s}", "party", session_party(app, staff[i], d->id),
		                     "presence",
		                     presence_name(route_desk_presence(app->route, staff[i]))));
	}
	int64_t longest_ms = route_department_longest_wait_ms(app->route, d->id, now);
	if (longest_ms < 0)
		longest_ms = 0;
	return json_pack("{s:s, s:s, s:b, s:o, s:i, s:I}", "id", d->id, "name", d->name, "open",
	                 info.open, "desks", desks, "queued", info.queued, "longest_wait_s",
	                 (json_int_t)(longest_ms / 1000));
}

static void kiosks_reload(status_board *b);

/* A kiosk that says hello but is not in the list was added since it was read: it shows at
 * once (from its session), and the list is read again for the rest of it. */
static void learn_kiosks(status_board *b)
{
	sig_app *app = b->app;
	int unknown = 0;
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (!kiosk_session_of(app, s))
			continue;
		int known = 0;
		for (int i = 0; i < b->n_kiosks && !known; i++)
			known = strcmp(b->kiosks[i].k.id, s->ident) == 0;
		if (known)
			continue;
		status_kiosk *v = realloc(b->kiosks, sizeof *v * (size_t)(b->n_kiosks + 1));
		if (!v)
			return;
		b->kiosks = v;
		status_kiosk *k = &b->kiosks[b->n_kiosks++];
		memset(k, 0, sizeof *k);
		snprintf(k->k.id, sizeof k->k.id, "%s", s->ident);
		snprintf(k->k.name, sizeof k->k.name, "%s", s->name);
		snprintf(k->k.branch_id, sizeof k->k.branch_id, "%s", s->branch_id);
		snprintf(k->k.branch_name, sizeof k->k.branch_name, "%s", s->branch_name);
		unknown = 1;
	}
	if (unknown)
		kiosks_reload(b);
}

/* Notes kiosks that came online or went offline since the last rebuild: their last_seen
 * moves to now, in memory and (asynchronously) in PostgreSQL. */
static void track_online(status_board *b, int64_t now)
{
	for (int i = 0; i < b->n_kiosks; i++) {
		status_kiosk *k = &b->kiosks[i];
		int online = kiosk_live(b->app, k->k.id) != NULL;
		if (online == k->online)
			continue;
		k->online = online;
		k->last_seen_us = now;
		LOG_INFO("status", "kiosk %s kiosk=%s branch=%s", online ? "online" : "offline",
		         k->k.id, k->k.branch_id);
		if (b->app->store)
			store_kiosk_seen(b->app->store, k->k.id, now);
	}
}

static const char *kiosk_tenant(const status_kiosk *k)
{
	return k->k.tenant[0] ? k->k.tenant : SIG_DEFAULT_TENANT;
}

/* Keeps the [tenant, x] pairs of tenant, as a list of x. */
static json_t *pairs_of(json_t *pairs, const char *tenant)
{
	json_t *out = json_array();
	size_t i;
	json_t *p;
	json_array_foreach (pairs, i, p)
		if (strcmp(json_string_value(json_array_get(p, 0)), tenant) == 0)
			json_array_append(out, json_array_get(p, 1));
	return out;
}

/* The `status` event for watchers of one tenant from the [tenant, entry] pairs of what
 * changed (NULL when nothing of theirs did). */
static json_t *changes_for(json_t *changes, const char *tenant)
{
	json_t *rm = json_object_get(changes, "removed");
	json_t *k = pairs_of(json_object_get(changes, "kiosks"), tenant);
	json_t *d = pairs_of(json_object_get(changes, "departments"), tenant);
	json_t *rk = pairs_of(json_object_get(rm, "kiosks"), tenant);
	json_t *rd = pairs_of(json_object_get(rm, "departments"), tenant);
	json_t *ev = NULL;
	if (json_array_size(k) || json_array_size(d) || json_array_size(rk) ||
	    json_array_size(rd)) {
		ev = json_pack("{s:s, s:O, s:O}", "type", "status", "kiosks", k, "departments", d);
		if (json_array_size(rk) || json_array_size(rd))
			json_object_set_new(ev, "removed",
			                    json_pack("{s:O, s:O}", "kiosks", rk, "departments", rd));
	}
	json_decref(k);
	json_decref(d);
	json_decref(rk);
	json_decref(rd);
	return ev;
}

/* The board of one tenant as {"kiosks":[…],"departments":[…]}. When changes is not NULL
 * (tenant NULL then), every tenant's entries become what the watchers have, and *changes
 * gets the entries that differ from what they had, as [tenant, entry] pairs for
 * changes_for (NULL when nothing does). */
static json_t *board_build(status_board *b, json_t **changes, const char *tenant)
{
	sig_app *app = b->app;
	int64_t now = app_now();
	json_t *kiosks = json_array(), *depts = json_array();
	json_t *ch_kiosks = json_array(), *ch_depts = json_array();
	json_t *rm_kiosks = json_array(), *rm_depts = json_array();
	if (changes) {
		sent_unmark(&b->sent_kiosks);
		sent_unmark(&b->sent_depts);
	}
	for (int i = 0; i < b->n_kiosks; i++) {
		const status_kiosk *k = &b->kiosks[i];
		if (tenant && strcmp(kiosk_tenant(k), tenant) != 0)
			continue;
		json_t *o = kiosk_json(app, k, kiosk_live(app, k->k.id));
		if (!o)
			continue;
		json_array_append_new(kiosks, o);
		char *text = changes ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (text && sent_update(&b->sent_kiosks, k->k.id, kiosk_tenant(k), text) == 1)
			json_array_append_new(ch_kiosks, json_pack("[s, O]", kiosk_tenant(k), o));
	}
	for (int i = 0; i < app->n_depts; i++) {
		const sig_dept *dp = &app->depts[i];
		if (tenant && strcmp(dp->tenant, tenant) != 0)
			continue;
		json_t *o = dept_json(app, dp, now);
		if (!o)
			continue;
		json_array_append_new(depts, o);
		char *text = changes ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (text && sent_update(&b->sent_depts, dp->id, dp->tenant, text) == 1)
			json_array_append_new(ch_depts, json_pack("[s, O]", dp->tenant, o));
	}
	if (changes) {
		sent_sweep(&b->sent_kiosks, rm_kiosks);
		sent_sweep(&b->sent_depts, rm_depts);
		*changes = NULL;
		if (json_array_size(ch_kiosks) || json_array_size(ch_depts) ||
		    json_array_size(rm_kiosks) || json_array_size(rm_depts)) {
			*changes = json_pack("{s:s, s:O, s:O}", "type", "status", "kiosks",
			                     ch_kiosks, "departments", ch_depts);
			if (json_array_size(rm_kiosks) || json_array_size(rm_depts))
				json_object_set_new(*changes, "removed",
				                    json_pack("{s:O, s:O}", "kiosks", rm_kiosks,
				                              "departments", rm_depts));
		}
	}
	json_decref(ch_kiosks);
	json_decref(ch_depts);
	json_decref(rm_kiosks);
	json_decref(rm_depts);
	return json_pack("{s:o, s:o}", "kiosks", kiosks, "departments", depts);
}

/* ---- watchers and the timer ---- */

/* A watcher is a session that sent `status` (a flag on the session, so it goes with it). While
 * its WebSocket is down it gets nothing; after a resume the events go on, but what changed
 * meanwhile is only in a new snapshot, so a page sends `status` again. */
static int watching(const sig_session *s)
{
	return s->status_watch && s->conn && s->state == SIG_READY;
}

static void arm(status_board *b, int ms);

static int count_watchers(status_board *b)
{
	int n = 0;
	for (sig_session *s = b->app->sessions; s; s = s->next)
		n += watching(s);
	return n;
}

/* Notes kiosks coming and going; and, when anyone watches (or always, with force: a new
 * watcher is about to get a snapshot that what was sent must match), rebuilds the board,
 * tells the watchers what changed, and keeps the refresh going. Nobody watching costs no
 * JSON. */
static void board_flush(status_board *b, int force)
{
	b->due_mono = 0;
	if (b->stopped)
		return;
	learn_kiosks(b);
	track_online(b, app_now());
	int watchers = count_watchers(b);
	if (watchers == 0 && !force)
		return;
	json_t *changes = NULL;
	json_decref(board_build(b, &changes, NULL));
	for (sig_session *s = b->app->sessions; changes && s; s = s->next) {
		json_t *ev = watching(s) ? changes_for(changes, s->tenant) : NULL;
		if (ev)
			session_send_json(s, ev);
	}
	json_decref(changes);
	if (watchers > 0)
		arm(b, STATUS_REFRESH_MS);
}

static void on_timer(uv_timer_t *t)
{
	board_flush(t->data, 0);
}

/* Fires within ms unless it already fires sooner. */
static void arm(status_board *b, int ms)
{
	if (!b->timer || b->stopped)
		return;
	int64_t due = clock_mono_us() + (int64_t)ms * 1000;
	if (b->due_mono && b->due_mono <= due)
		return;
	b->due_mono = due;
	uv_timer_start(b->timer, on_timer, (uint64_t)ms, 0);
}

void status_touch(sig_app *app)
{
	status_board *b = board_of(app);
	if (b)
		arm(b, STATUS_COALESCE_MS);
}

void status_kiosk_changed(sig_app *app, const char *kiosk_id)
{
	(void)kiosk_id; /* the rebuild finds what changed */
	status_touch(app);
}

/* ---- the kiosk list ---- */

static void on_kiosks(void *user, int err, const store_kiosk_entry *list, int n)
{
	sig_app *app = user;
	status_board *b = app->board;
	if (!b)
		return;
	b->loading = 0;
	if (err != 0 || b->stopped) {
		if (err != 0 && !b->stopped)
			LOG_WARN("status", "cannot read the kiosk list; keeping the old one");
		return;
	}
	/* Room for the kiosks the list lacks but that are connected (below). */
	status_kiosk *v = calloc((size_t)(n + b->n_kiosks) + 1, sizeof *v);
	if (!v) {
		LOG_ERROR("status", "out of memory reading kiosks count=%d", n);
		return;
	}
	for (int i = 0; i < n; i++) {
		v[i].k = list[i].k;
		v[i].last_seen_us = list[i].last_seen_us;
		/* What this process saw is newer than a row written before it. */
		for (int j = 0; j < b->n_kiosks; j++) {
			if (strcmp(b->kiosks[j].k.id, v[i].k.id) != 0)
				continue;
			v[i].online = b->kiosks[j].online;
			if (b->kiosks[j].last_seen_us > v[i].last_seen_us)
				v[i].last_seen_us = b->kiosks[j].last_seen_us;
		}
	}
	/* A connected kiosk the list lacks stays (its session has been checked; a revoked one
	 * was ended before this answer came): otherwise it would be learnt and read again at
	 * every rebuild. */
	int total = n;
	for (int j = 0; j < b->n_kiosks; j++) {
		int listed = 0;
		for (int i = 0; i < n && !listed; i++)
			listed = strcmp(v[i].k.id, b->kiosks[j].k.id) == 0;
		if (!listed && kiosk_has_session(app, b->kiosks[j].k.id))
			v[total++] = b->kiosks[j];
	}
	free(b->kiosks);
	b->kiosks = v;
	b->n_kiosks = total;
	LOG_INFO("status", "kiosk list read kiosks=%d", n);
	if (b->reload_again) {
		b->reload_again = 0;
		kiosks_reload(b);
	}
	arm(b, 0);
}

static void kiosks_reload(status_board *b)
{
	if (b->stopped || !b->app->store)
		return;
	if (b->loading) {
		b->reload_again = 1;
		return;
	}
	if (store_kiosk_list(b->app->store, on_kiosks, b->app) == 0)
		b->loading = 1;
}

void status_reload_kiosks(sig_app *app)
{
	status_board *b = board_of(app);
	if (b)
		kiosks_reload(b);
}

/* ---- the `status` request ---- */

static int may_watch(const sig_session *s)
{
	return s->role == ROUTE_ROLE_STAFF && (s->staff.coordinator || s->staff.admin);
}

void h_status(sig_session *s, json_t *msg, json_t *id)
{
	(void)msg;
	sig_app *app = s->app;
	if (!may_watch(s)) {
		req_bad(s, id, "forbidden", "the status board needs the coordinator or admin flag");
		return;
	}
	status_board *b = board_of(app);
	if (!b) {
		session_reply_error(s, id, "internal", "out of memory");
		return;
	}
	/* The current watchers get what changed first, so that what they have and this
	 * snapshot agree, and later events suit everyone. */
	board_flush(b, 1);
	s->status_watch = 1;
	session_reply_ok(s, id, board_build(b, NULL, s->tenant));
	arm(b, STATUS_REFRESH_MS);
}

/* ---- GET /api/status ---- */

static void http_answer(sig_http_pending *p, int status, json_t *body)
{
	sig_http_response r = {0};
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	r.status = text ? status : 500;
	r.content_type = "application/json";
	r.body = text ? text : strdup("{\"error\":\"internal\"}");
	r.body_len = r.body ? strlen(r.body) : 0;
	if (status == 503)
		r.retry_after_s = 5;
	sig_http_complete(p, &r);
}

static json_t *http_error(const char *code, const char *message)
{
	return json_pack("{s:s, s:s}", "error", code, "message", message);
}

typedef struct status_http_job {
	sig_app *app;
	sig_http_pending *pending;
	char tenant[STORE_ID_MAX]; /* the Host's (tenant.c) */
} status_http_job;

static void on_http_auth(void *user, int err, const store_staff *st)
{
	status_http_job *job = user;
	sig_app *app = job->app;
	/* A token of another tenant's staff is no token here. */
	if (err == 0 && strcmp(st->tenant[0] ? st->tenant : SIG_DEFAULT_TENANT, job->tenant) != 0)
		err = 1;
	if (err < 0)
		http_answer(job->pending, 503,
		            http_error("unavailable", "the database is unavailable"));
	else if (err > 0)
		http_answer(job->pending, 401,
		            http_error("unauthorized", "unknown or expired token: log in again"));
	else if (!st->coordinator && !st->admin)
		http_answer(job->pending, 403,
		            http_error("forbidden",
		                       "the status board needs the coordinator or admin flag"));
	else if (!board_of(app))
		http_answer(job->pending, 503, http_error("unavailable", "the server is stopping"));
	else
		http_answer(job->pending, 200, board_build(app->board, NULL, job->tenant));
	free(job);
}

static int http_now(sig_http_response *resp, int status, const char *code, const char *message)
{
	json_t *body = http_error(code, message);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = text;
	resp->body_len = text ? strlen(text) : 0;
	return 0;
}

int status_http(sig_app *app, const sig_http_request *req, sig_http_response *resp)
{
	if (strcmp(req->method, "GET") != 0)
		return http_now(resp, 405, "method_not_allowed", "use GET");
	const char *auth = req->authorization;
	const char *token = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
	while (token && *token == ' ')
		token++;
	if (!token || !*token || strlen(token) >= 256)
		return http_now(resp, 401, "unauthorized",
		                "Authorization: Bearer TOKEN (from POST /api/login) is required");
	if (!app->store || app->stopping)
		return http_now(resp, 503, "unavailable", "the server is shutting down");
	status_http_job *job = calloc(1, sizeof *job);
	if (!job)
		return http_now(resp, 500, "internal", "out of memory");
	job->app = app;
	job->pending = resp->pending;
	snprintf(job->tenant, sizeof job->tenant, "%s", tenant_of_host(app, req->host));
	if (store_login_check(app->store, token, on_http_auth, job) != 0) {
		free(job);
		return http_now(resp, 401, "unauthorized", "malformed token");
	}
	return 1;
}

/* ---- /metrics ---- */

static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

void status_metrics(sig_app *app, FILE *f)
{
	fprintf(f, "# HELP madoguchi_kiosk_online 1 while the kiosk has a live session.\n"
	           "# TYPE madoguchi_kiosk_online gauge\n");
	status_board *b = app->board;
	for (int i = 0; b && i < b->n_kiosks; i++) {
		const status_kiosk *k = &b->kiosks[i];
		fputs("madoguchi_kiosk_online{kiosk=\"", f);
		label_value(f, k->k.id);
		fputs("\",branch=\"", f);
		label_value(f, k->k.branch_id);
		fprintf(f, "\"} %d\n", kiosk_live(app, k->k.id) != NULL);
	}
}

/* ---- life ---- */

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void close_timer(status_board *b)
{
	if (!b->timer)
		return;
	uv_timer_stop(b->timer);
	uv_close((uv_handle_t *)b->timer, free_handle);
	b->timer = NULL;
}

void status_stop(sig_app *app)
{
	status_board *b = app->board;
	if (!b || b->stopped)
		return;
	/* The kiosks still online end their sessions now. */
	int64_t now = app_now();
	for (int i = 0; i < b->n_kiosks; i++)
		if (b->kiosks[i].online && app->store)
			store_kiosk_seen(app->store, b->kiosks[i].k.id, now);
	b->stopped = 1;
	close_timer(b);
}

void status_free(sig_app *app)
{
	status_board *b = app->board;
	if (!b)
		return;
	close_timer(b);
	free(b->kiosks);
	sent_free(&b->sent_kiosks);
	sent_free(&b->sent_depts);
	free(b);
	app->board = NULL;
}
