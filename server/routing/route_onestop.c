/* One-stop service: the operators' menus, kiosk calls that follow one, and the
 * coordinators who watch such visits, rewrite their remaining itinerary, move the resident
 * now (patch), sit in the room (join / leave) and close the visit (finish). */
#include "routing/route_internal.h"

#include <stdlib.h>
#include <string.h>

static struct route_menu *menu_find(const route *r, const char *id)
{
	for (int i = 0; i < r->n_menus; i++)
		if (strcmp(r->menus[i]->id, id) == 0)
			return r->menus[i];
	return NULL;
}

/* Checks a menu's id and departments; 0 or the error of route_onestop_menu_add. */
static int menu_check(const route *r, const char *id, const char *const *departments, int n)
{
	if (!r || !route_id_ok(id) || !departments || n < 1 || n > ROUTE_MAX_STEPS)
		return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n; i++)
		if (!route_id_ok(departments[i]))
			return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n; i++)
		if (!route_dept_find(r, departments[i]))
			return ROUTE_ERR_NOT_FOUND;
	return 0;
}

static void menu_fill(const route *r, struct route_menu *m, const char *const *departments, int n)
{
	for (int i = 0; i < n; i++)
		m->depts[i] = route_dept_find(r, departments[i]);
	m->n = n;
}

static int menu_add(route *r, const char *id, const char *const *departments, int n)
{
	if (route_grow((void **)&r->menus, &r->cap_menus, r->n_menus + 1, sizeof(r->menus[0])))
		return ROUTE_ERR_INTERNAL;
	struct route_menu *m = calloc(1, sizeof(*m));
	if (!m)
		return ROUTE_ERR_INTERNAL;
	route_copy_id(m->id, sizeof(m->id), id);
	menu_fill(r, m, departments, n);
	r->menus[r->n_menus++] = m;
	return 0;
}

int route_onestop_menu_add(route *r, const char *id, const char *const *departments, int n)
{
	int rc = menu_check(r, id, departments, n);
	if (rc)
		return rc;
	if (menu_find(r, id))
		return ROUTE_ERR_CONFLICT;
	return menu_add(r, id, departments, n);
}

/* A visit copies its menu's departments into its own steps when it starts, so replacing or
 * removing a menu never touches a visit under way. */
int route_onestop_menu_replace(route *r, const char *id, const char *const *departments, int n)
{
	int rc = menu_check(r, id, departments, n);
	if (rc)
		return rc;
	struct route_menu *m = menu_find(r, id);
	if (!m)
		return menu_add(r, id, departments, n);
	menu_fill(r, m, departments, n);
	return 0;
}

int route_onestop_menu_remove(route *r, const char *id)
{
	if (!r || !route_id_ok(id))
		return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < r->n_menus; i++) {
		if (strcmp(r->menus[i]->id, id) != 0)
			continue;
		free(r->menus[i]);
		memmove(&r->menus[i], &r->menus[i + 1],
		        (size_t)(r->n_menus - i - 1) * sizeof(r->menus[0]));
		r->n_menus--;
		return 0;
	}
	return ROUTE_ERR_NOT_FOUND;
}

int route_call_onestop(route *r, uint32_t sid, const char *menu, int64_t now_us,
                       char visit_out[ROUTE_UUID_LEN])
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_KIOSK)
		return ROUTE_ERR_FORBIDDEN;
	if (!route_id_ok(menu))
		return ROUTE_ERR_BAD_REQUEST;
	const struct route_menu *m = menu_find(r, menu);
	if (!m)
		return ROUTE_ERR_NOT_FOUND;
	int any_open = 0;
	for (int i = 0; i < m->n; i++)
		any_open |= route_dept_open_at(r, m->depts[i], now_us);
	if (!any_open)
		return ROUTE_ERR_UNAVAILABLE;
	if (s->visit)
		return ROUTE_ERR_CONFLICT;
	return route_start_visit(r, s, m->depts, m->n, NULL, m->id, now_us, visit_out);
}

/* A coordinator's request about a visit: the common checks. */
static int coordinator(route *r, uint32_t sid, const char *visit, struct route_session **sp,
                       struct route_visit **vp)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF || !(s->flags & ROUTE_FLAG_COORDINATOR))
		return ROUTE_ERR_FORBIDDEN;
	*sp = s;
	if (!vp)
		return 0;
	if (!visit)
		return ROUTE_ERR_BAD_REQUEST;
	*vp = route_visit_find(r, visit);
	return *vp ? 0 : ROUTE_ERR_NOT_FOUND;
}

int route_watch(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s;
	int rc = coordinator(r, sid, NULL, &s, NULL);
	if (rc)
		return rc;
	(void)now_us;
	s->watching = 1;
	return 0;
}

int route_onestop_set(route *r, uint32_t sid, const char *visit, const char *const *departments,
                      int n, int64_t now_us)
{
	struct route_session *s;
	struct route_visit *v;
	if (n < 0 || (n > 0 && !departments))
		return r && route_session_find(r, sid) ? ROUTE_ERR_BAD_REQUEST
		                                       : ROUTE_ERR_NOT_FOUND;
	for (int i = 0; i < n; i++)
		if (!route_id_ok(departments[i]))
			return ROUTE_ERR_BAD_REQUEST;
	int rc = coordinator(r, sid, visit, &s, &v);
	if (rc)
		return rc;
	struct route_dept *depts[ROUTE_MAX_STEPS];
	int keep = route_visit_first_pending(v);
	if (keep < 0)
		keep = v->n_steps;
	if (keep + n > ROUTE_MAX_STEPS)
		return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n; i++)
		if (!(depts[i] = route_dept_find(r, departments[i])))
			return ROUTE_ERR_NOT_FOUND;
	/* Pending steps are always the tail, so replacing them is truncating and appending. */
	v->n_steps = keep;
	for (int i = 0; i < n; i++) {
		memset(&v->steps[keep + i], 0, sizeof(v->steps[0]));
		v->steps[keep + i].dept = depts[i];
	}
	v->n_steps = keep + n;
	v->onestop = 1;
	route_emit_audit(r, s, v, NULL, "itinerary", now_us);
	route_reconcile(r, now_us);
	return 0;
}

/* Which step a patch queues: the given department's first pending step (moved to be
 * next) or a new step for it; without a department, the first pending step of an open
 * department (closed ones before it are skipped). Returns the step index or an error;
 * changes nothing unless it succeeds. */
static int patch_target(route *r, struct route_visit *v, struct route_dept *d, int64_t now_us)
{
	int first = route_visit_first_pending(v);
	if (d) {
		for (int i = first < 0 ? v->n_steps : first; i < v->n_steps; i++)
			if (v->steps[i].dept == d)
				return route_visit_move_step_next(v, i);
		if (v->n_steps >= ROUTE_MAX_STEPS)
			return ROUTE_ERR_CONFLICT;
		return route_visit_insert_step(v, d);
	}
	if (first < 0)
		return ROUTE_ERR_CONFLICT;
	int i = first;
	while (i < v->n_steps && !route_dept_open_at(r, v->steps[i].dept, now_us))
		i++;
	if (i == v->n_steps)
		return ROUTE_ERR_UNAVAILABLE;
	for (int k = first; k < i; k++)
		v->steps[k].skipped = 1;
	return i;
}

int route_patch(route *r, uint32_t sid, const char *visit, const char *department, int64_t now_us)
{
	struct route_session *s;
	struct route_visit *v;
	if (!route_optional_id_ok(department))
		return r && route_session_find(r, sid) ? ROUTE_ERR_BAD_REQUEST
		                                       : ROUTE_ERR_NOT_FOUND;
	int rc = coordinator(r, sid, visit, &s, &v);
	if (rc)
		return rc;
	struct route_dept *d = NULL;
	if (department && department[0]) {
		if (!(d = route_dept_find(r, department)))
			return ROUTE_ERR_NOT_FOUND;
		if (!route_dept_open_at(r, d, now_us))
			return ROUTE_ERR_UNAVAILABLE;
	}
	/* Legs end first, so that their steps stop being pending-or-open before the target
	 * step is placed; the target is validated before anything ends. */
	if (!d && route_visit_first_pending(v) < 0)
		return ROUTE_ERR_CONFLICT;
	if (d && v->n_steps >= ROUTE_MAX_STEPS) {
		int found = 0;
		for (int i = 0; i < v->n_steps; i++)
			found |= v->steps[i].dept == d && !v->steps[i].leg && !v->steps[i].skipped;
		if (!found)
			return ROUTE_ERR_CONFLICT;
	}
	if (!d) {
		int any = 0;
		for (int i = route_visit_first_pending(v); i < v->n_steps; i++)
			any |= route_dept_open_at(r, v->steps[i].dept, now_us);
		if (!any)
			return ROUTE_ERR_UNAVAILABLE;
	}
	for (struct route_leg *leg = v->legs; leg; leg = leg->next) {
		if (leg->state == ROUTE_LEG_ANSWERED) {
			struct route_session *desk = route_session_find(r, leg->staff);
			if (desk && desk->leg == leg)
				route_emit_ended(r, desk->sid, v, "completed", now_us);
			route_leg_finish(r, leg, "patched", NULL, NULL, now_us);
		} else if (leg->state == ROUTE_LEG_WAITING) {
			route_leg_finish(r, leg, "patched", NULL, NULL, now_us);
		}
	}
	int i = patch_target(r, v, d, now_us);
	if (i < 0 || route_visit_queue_step(r, v, i, 1, NULL, "patch", now_us) != 0) {
		/* Only out of memory gets here (the target was checked above). */
		route_visit_end(r, v, "dropped", "dropped", "dropped", NULL, NULL, now_us);
	} else {
		route_emit_audit(r, s, v, v->steps[i].leg, "patched", now_us);
	}
	route_reconcile(r, now_us);
	return 0;
}

int route_room_join(route *r, uint32_t sid, const char *visit, int64_t now_us)
{
	struct route_session *s;
	struct route_visit *v;
	int rc = coordinator(r, sid, visit, &s, &v);
	if (rc)
		return rc;
	uint32_t parties[ROUTE_MAX_PARTIES];
	if (s->room || s->visit || route_visit_parties(v, parties) >= ROUTE_MAX_PARTIES)
		return ROUTE_ERR_CONFLICT;
	v->coords[v->n_coords++] = sid;
	s->room = v;
	route_announce_room(r, v, now_us);
	route_emit_audit(r, s, v, NULL, "joined", now_us);
	route_reconcile(r, now_us);
	return 0;
}

int route_room_leave(route *r, uint32_t sid, const char *visit, int64_t now_us)
{
	struct route_session *s;
	struct route_visit *v;
	int rc = coordinator(r, sid, visit, &s, &v);
	if (rc)
		return rc;
	if (s->room != v)
		return ROUTE_ERR_CONFLICT;
	route_emit_audit(r, s, v, NULL, "left", now_us);
	s->idle_since_us = now_us;
	route_visit_coord_leave(r, v, s, now_us);
	route_reconcile(r, now_us);
	return 0;
}

int route_finish(route *r, uint32_t sid, const char *visit, int64_t now_us)
{
	struct route_session *s;
	struct route_visit *v;
	int rc = coordinator(r, sid, visit, &s, &v);
	if (rc)
		return rc;
	route_emit_audit(r, s, v, NULL, "finished", now_us);
	route_visit_end(r, v, "completed", "completed", "cancelled", NULL, NULL, now_us);
	route_reconcile(r, now_us);
	return 0;
}
