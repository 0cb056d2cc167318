/* Directory changes without a restart (issue 11): the store hears migration 6's notices
 * (store_on_directory_change), this file reads the directory again and applies the
 * differences to routing and to the app's copies (app->depts, app->menus), then pushes
 * `departments` (with `onestop`) to every session.
 *
 * How a change travels: `madoguchi admin` (or any SQL) commits → the triggers' pg_notify is
 * delivered to the store's LISTENing connection → live_on_change arms a short timer, so that
 * a burst of changes (an import, a script of admin commands) costs one reload: DEBOUNCE_MS
 * after the last notice, but never later than MAX_DELAY_MS after the first → the directory is
 * read (one query) → directory_apply → the push. A notice that arrives while a read is in
 * flight reads again afterwards. After every reconnection of the store the directory is read
 * again whatever happened, since notices sent while the connection was down are lost.
 *
 * What a change does to calls: nothing to the calls themselves. Routing keeps its department
 * objects for the whole run (visits, steps and menus point at them): a department that
 * disappears is retired (closed for good; answered legs go on, waiting ones follow the
 * closing rules), one that comes back is the same object again. New configuration (hours,
 * ring strategy, the open flag) is applied only when it differs, because reconfiguring
 * restarts the department's rings. One-stop menus are replaced in place; a visit keeps the
 * itinerary it started with.
 *
 * Staff and kiosks: logins read PostgreSQL at every hello, so a new kiosk or clerk can log in
 * at once. A notice about staff rows looks every logged-in clerk up again: one whose
 * departments or flags changed follows them at once in routing (rings and queue lists of the
 * new departments; a call in progress stays as it is, see route_session_set_staff). A kiosk
 * renamed or moved shows that from its next login; the status board reads its list of kiosks
 * again at once. Revocation has its own, immediate path
 * (revoke.c). */
#include "base/clock.h"
#include "base/log.h"
#include "signal/app_internal.h"

#include <stdlib.h>
#include <string.h>

#define DEBOUNCE_MS  100  /* quiet time after the last notice of a burst */
#define MAX_DELAY_MS 1000 /* ... but read at most this long after the burst's first notice */
#define RETRY_MS     1000 /* a read that failed (PostgreSQL away) is tried again */

struct sig_live {
	uv_timer_t timer; /* debounce, then the read; or the retry */
	int64_t first_us; /* the first notice of the burst waiting for a read, 0 when none */
	int ready;        /* the start-up directory is applied: notices mean reloads now */
	int loading;      /* a read is in flight */
	int again;        /* a notice arrived while reading or before ready: read (again) */
	int failures;     /* reads failed in a row (for the log) */
};

/* ---- applying a directory ---- */

static void department_config(const store_department *d, route_department_config *rc)
{
	memset(rc, 0, sizeof *rc);
	rc->ring = strcmp(d->ring_strategy, "longest-idle") == 0 ? ROUTE_RING_LONGEST_IDLE
	                                                         : ROUTE_RING_ALL;
	rc->ring_timeout_us = (int64_t)d->ring_timeout_s * 1000000;
	rc->has_hours = d->n_hours > 0;
	for (int i = 0; i < d->n_hours; i++) {
		const store_hours *h = &d->hours[i];
		if (h->weekday < 0 || h->weekday > 6 || rc->n_hours[h->weekday] >= ROUTE_MAX_HOURS)
			continue;
		rc->hours[h->weekday][rc->n_hours[h->weekday]++] =
		    (route_interval){.open_min = h->open_min, .close_min = h->close_min};
	}
}

static const sig_dept *old_dept(const sig_dept *list, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i].id, id) == 0)
			return &list[i];
	return NULL;
}

/* Brings one department of the directory into routing; fills dst. 0, or -1 when routing
 * refused it (logged; then it is not in the app's list). */
static int apply_department(sig_app *app, const store_department *src, const sig_dept *old,
                            sig_dept *dst, int64_t now)
{
	snprintf(dst->id, sizeof dst->id, "%s", src->id);
	snprintf(dst->name, sizeof dst->name, "%s", src->name);
	snprintf(dst->tenant, sizeof dst->tenant, "%s",
	         src->tenant[0] ? src->tenant : SIG_DEFAULT_TENANT);
	department_config(src, &dst->cfg);
	dst->open = !src->closed;
	int err = 0;
	if (!old) {
		/* New, or back after it was removed (then routing still knows it, retired). */
		err = route_department_add(app->route, dst->id, dst->open);
		if (err == 0)
			err = route_department_configure(app->route, dst->id, &dst->cfg, now);
		if (err == 0)
			err = route_department_set_open(app->route, dst->id, dst->open, now);
		if (err != 0) {
			LOG_ERROR("main", "department not usable id=%s error=%s", dst->id,
			          route_strerror(err));
			route_department_retire(app->route, dst->id, now);
			return -1;
		}
	} else {
		if (memcmp(&old->cfg, &dst->cfg, sizeof dst->cfg) != 0) {
			err = route_department_configure(app->route, dst->id, &dst->cfg, now);
			if (err != 0) {
				LOG_ERROR("main", "department configuration refused id=%s error=%s",
				          dst->id, route_strerror(err));
				dst->cfg = old->cfg;
			}
		}
		if (old->open != dst->open)
			route_department_set_open(app->route, dst->id, dst->open, now);
	}
	dst->procedures = calloc((size_t)src->n_procedures + 1, sizeof *dst->procedures);
	if (dst->procedures) {
		memcpy(dst->procedures, src->procedures,
		       sizeof *dst->procedures * (size_t)src->n_procedures);
		dst->n_procedures = src->n_procedures;
	}
	return 0;
}

static int apply_menu(sig_app *app, const store_menu *m, sig_menu *dst)
{
	const char *steps[ROUTE_MAX_STEPS];
	int n = m->n_steps < ROUTE_MAX_STEPS ? m->n_steps : ROUTE_MAX_STEPS;
	for (int i = 0; i < n; i++)
		steps[i] = m->steps[i];
	int err = route_onestop_menu_replace(app->route, m->id, steps, n);
	if (err != 0) {
		LOG_ERROR("main", "one-stop menu not usable id=%s error=%s", m->id,
		          route_strerror(err));
		route_onestop_menu_remove(app->route, m->id);
		return -1;
	}
	snprintf(dst->id, sizeof dst->id, "%s", m->id);
	snprintf(dst->name, sizeof dst->name, "%s", m->name);
	snprintf(dst->tenant, sizeof dst->tenant, "%s", m->tenant[0] ? m->tenant : SIG_DEFAULT_TENANT);
	dst->steps = calloc((size_t)n + 1, sizeof *dst->steps);
	if (dst->steps) {
		memcpy(dst->steps, m->steps, sizeof *dst->steps * (size_t)n);
		dst->n_steps = n;
	}
	return 0;
}

static void free_lists(sig_dept *depts, int n_depts, sig_menu *menus, int n_menus)
{
	for (int i = 0; i < n_depts; i++)
		free(depts[i].procedures);
	free(depts);
	for (int i = 0; i < n_menus; i++)
		free(menus[i].steps);
	free(menus);
}

int directory_apply(sig_app *app, const store_directory *d)
{
	sig_dept *depts = calloc((size_t)d->n_departments + 1, sizeof *depts);
	sig_menu *menus = calloc((size_t)d->n_menus + 1, sizeof *menus);
	if (!depts || !menus || tenant_apply(app, d) != 0) {
		free(depts);
		free(menus);
		return -1;
	}
	int64_t now = app_now();
	int n_depts = 0, n_menus = 0, added = 0, removed = 0;
	for (int i = 0; i < d->n_departments; i++) {
		const sig_dept *old = old_dept(app->depts, app->n_depts, d->departments[i].id);
		if (old_dept(depts, n_depts, d->departments[i].id))
			continue; /* the store's ids are unique; a fuzz target's may not be */
		if (apply_department(app, &d->departments[i], old, &depts[n_depts], now) == 0) {
			added += !old;
			n_depts++;
		}
	}
	for (int i = 0; i < app->n_depts; i++) {
		if (old_dept(depts, n_depts, app->depts[i].id))
			continue;
		LOG_INFO("main", "department retired id=%s", app->depts[i].id);
		route_department_retire(app->route, app->depts[i].id, now);
		removed++;
	}
	for (int i = 0; i < d->n_menus; i++) {
		int dup = 0;
		for (int j = 0; j < n_menus && !dup; j++)
			dup = strcmp(menus[j].id, d->menus[i].id) == 0;
		if (!dup && apply_menu(app, &d->menus[i], &menus[n_menus]) == 0)
			n_menus++;
	}
	for (int i = 0; i < app->n_menus; i++) {
		int kept = 0;
		for (int j = 0; j < n_menus && !kept; j++)
			kept = strcmp(menus[j].id, app->menus[i].id) == 0;
		if (!kept)
			route_onestop_menu_remove(app->route, app->menus[i].id);
	}
	/* Swapped before the actions run: the departments events they send describe the new
	 * directory. Nothing keeps a sig_dept or sig_menu pointer across loop turns. */
	free_lists(app->depts, app->n_depts, app->menus, app->n_menus);
	app->depts = depts;
	app->n_depts = n_depts;
	app->menus = menus;
	app->n_menus = n_menus;
	LOG_INFO("main", "directory applied departments=%d menus=%d added=%d retired=%d", n_depts,
	         n_menus, added, removed);
	return 0;
}

/* ---- reloading on notices ---- */

static void schedule(sig_app *app);
static void on_timer(uv_timer_t *t);

static void push_directory(sig_app *app)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s->state == SIG_READY && s->conn)
			session_send_json(s, json_pack("{s:s, s:o, s:o}", "type", "departments",
			                               "departments",
			                               app_departments_json(app, s->tenant),
			                               "onestop", app_menus_json(app, s->tenant)));
}

static void on_reloaded(void *user, int err, const store_directory *d)
{
	sig_app *app = user;
	/* At shutdown the store answers -1 after the live state is gone. */
	if (app->stopping || !app->live)
		return;
	struct sig_live *live = app->live;
	live->loading = 0;
	if (err != 0 || directory_apply(app, d) != 0) {
		if (live->failures++ == 0)
			LOG_WARN("main", "cannot read the directory again; retrying every %d ms",
			         RETRY_MS);
		live->again = 0;
		live->first_us = live->first_us ? live->first_us : clock_mono_us();
		uv_timer_start(&live->timer, on_timer, RETRY_MS, 0);
		return;
	}
	if (live->failures)
		LOG_INFO("main", "directory read again after failures=%d", live->failures);
	live->failures = 0;
	app_drain_actions(app);
	push_directory(app);
	if (live->again) {
		live->again = 0;
		schedule(app);
	}
}

static void on_timer(uv_timer_t *t)
{
	sig_app *app = t->data;
	struct sig_live *live = app->live;
	live->first_us = 0;
	live->loading = 1;
	if (store_load_directory(app->store, on_reloaded, app) != 0) {
		live->loading = 0;
		live->first_us = clock_mono_us();
		uv_timer_start(&live->timer, on_timer, RETRY_MS, 0);
	}
}

/* A change to read: soon, but once for a burst. */
static void schedule(sig_app *app)
{
	struct sig_live *live = app->live;
	if (app->stopping || !live)
		return;
	if (!live->ready || live->loading) {
		live->again = 1;
		return;
	}
	int64_t now = clock_mono_us();
	if (!live->first_us)
		live->first_us = now;
	int64_t left_ms = (live->first_us + (int64_t)MAX_DELAY_MS * 1000 - now) / 1000;
	int64_t ms = left_ms < DEBOUNCE_MS ? left_ms : DEBOUNCE_MS;
	uv_timer_start(&live->timer, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

/* ---- a logged-in clerk's departments and flags ---- */

typedef struct staff_req {
	sig_app *app;
	uint32_t sid;
} staff_req;

static unsigned route_flags(const store_staff *st)
{
	return (st->coordinator ? ROUTE_FLAG_COORDINATOR : 0) |
	       (st->analyst ? ROUTE_FLAG_ANALYST : 0) | (st->admin ? ROUTE_FLAG_ADMIN : 0);
}

static int same_staff(const store_staff *a, const store_staff *b)
{
	if (a->n_departments != b->n_departments || route_flags(a) != route_flags(b))
		return 0;
	for (int i = 0; i < a->n_departments; i++)
		if (strcmp(a->departments[i], b->departments[i]) != 0)
			return 0;
	return 1;
}

/* The clerk's rows as they are now: routing follows (rings, queue lists); the session, its
 * call and its room stay. Gone or disabled: revoke.c ends the session on its own notice. */
static void on_staff_directory(void *user, int err, const store_staff *st)
{
	staff_req *req = user;
	sig_app *app = req->app;
	sig_session *s = err == 0 && !app->stopping ? session_by_sid(app, req->sid) : NULL;
	free(req);
	if (!s || !s->joined || route_session_role(app->route, s->sid) != ROUTE_ROLE_STAFF ||
	    strcmp(s->ident, st->id) != 0 || same_staff(&s->staff, st))
		return;
	const char *depts[STORE_MAX_DEPTS];
	for (int i = 0; i < st->n_departments; i++)
		depts[i] = st->departments[i];
	int rc = route_session_set_staff(app->route, s->sid, depts, st->n_departments,
	                                 route_flags(st), app_now());
	if (rc != 0) {
		LOG_WARN("main", "staff change not applied sid=%u error=%s", s->sid,
		         route_strerror(rc));
		return;
	}
	memcpy(s->staff.departments, st->departments, sizeof s->staff.departments);
	s->staff.n_departments = st->n_departments;
	s->staff.coordinator = st->coordinator;
	s->staff.analyst = st->analyst;
	s->staff.admin = st->admin;
	LOG_INFO("main", "staff changed while logged in sid=%u departments=%d flags=%u", s->sid,
	         st->n_departments, route_flags(st));
	app_drain_actions(app);
}

/* Every logged-in clerk is looked up again (a handful of rows each; staff changes are rare). */
static void recheck_staff(sig_app *app)
{
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (!s->joined || route_session_role(app->route, s->sid) != ROUTE_ROLE_STAFF)
			continue;
		staff_req *req = calloc(1, sizeof *req);
		if (!req)
			return;
		req->app = app;
		req->sid = s->sid;
		if (store_staff_directory(app->store, s->ident, on_staff_directory, req) != 0)
			free(req);
	}
}

static void on_change(void *user, const char *table)
{
	sig_app *app = user;
	if (app->stopping || !app->live)
		return;
	if (!table) {
		/* Reconnected: read everything again (the start-up read is already queued). */
		if (app->live->ready) {
			schedule(app);
			recheck_staff(app);
		}
		return;
	}
	if (strcmp(table, "staff") == 0 || strcmp(table, "staff_departments") == 0) {
		/* New staff can log in at once (hello reads PostgreSQL); logged-in clerks follow
		 * their rows now. Revocations go through revoke.c. */
		recheck_staff(app);
		return;
	}
	if (strcmp(table, "kiosks") == 0) {
		/* Read at every hello: a new kiosk logs in at once, a renamed one shows its new
		 * name from its next login. The status board lists every kiosk, connected or not, so
		 * it reads the list again now. Revocations go through revoke.c. */
		LOG_INFO("main", "directory change applies at next login table=kiosks");
		status_reload_kiosks(app);
		return;
	}
	if (strcmp(table, "branches") == 0)
		status_reload_kiosks(app); /* the board groups kiosks under their branch's name */
	schedule(app);
}

void live_watch(sig_app *app)
{
	struct sig_live *live = calloc(1, sizeof *live);
	if (!live) {
		LOG_ERROR("main", "out of memory: directory changes need a restart");
		return;
	}
	uv_timer_init(app->loop, &live->timer);
	live->timer.data = app;
	app->live = live;
	store_on_directory_change(app->store, on_change, app);
}

void live_started(sig_app *app)
{
	struct sig_live *live = app->live;
	if (!live)
		return;
	live->ready = 1;
	if (live->again) {
		/* Something changed while the start-up read was under way. */
		live->again = 0;
		schedule(app);
	}
}

static void free_live(uv_handle_t *h)
{
	free(h->data);
}

void live_stop(sig_app *app)
{
	struct sig_live *live = app->live;
	if (!live)
		return;
	app->live = NULL;
	if (app->store)
		store_on_directory_change(app->store, NULL, NULL);
	uv_timer_stop(&live->timer);
	live->timer.data = live;
	uv_close((uv_handle_t *)&live->timer, free_live);
}
