/* The read-only accessors the shell uses to build replies and events. */
#include "routing/route_internal.h"

#include <string.h>

enum route_role route_session_role(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	return s ? s->role : ROUTE_ROLE_NONE;
}

int route_session_available(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	return s && s->role == ROUTE_ROLE_STAFF && s->available;
}

int route_session_suspended(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	return s && s->suspended;
}

const char *route_session_visit(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return NULL;
	if (s->visit)
		return s->visit->id;
	return s->room ? s->room->id : NULL;
}

const char *route_session_department(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	return s && s->leg ? s->leg->dept->id : NULL;
}

int route_department_count(const route *r)
{
	return r ? r->n_depts : 0;
}

static void dept_info(const route *r, const struct route_dept *d, route_department_info *out)
{
	memset(out, 0, sizeof(*out));
	route_copy_id(out->id, sizeof(out->id), d->id);
	out->open = d->open;
	out->available = route_dept_available(r, d);
	out->queued = d->n_queue;
	out->retired = d->retired;
	out->staffed = route_dept_present(r, d);
	out->estimated_wait_s = route_dept_estimate_s(r, d);
}

int route_department_at(const route *r, int i, route_department_info *out)
{
	if (!r || i < 0 || i >= r->n_depts || !out)
		return ROUTE_ERR_NOT_FOUND;
	dept_info(r, r->depts[i], out);
	return 0;
}

int route_department_get(const route *r, const char *id, route_department_info *out)
{
	const struct route_dept *d = r ? route_dept_find(r, id) : NULL;
	if (!d || !out)
		return ROUTE_ERR_NOT_FOUND;
	dept_info(r, d, out);
	return 0;
}

int route_queue_list(const route *r, const char *department, int64_t now_us, route_queue_entry *out,
                     int cap)
{
	const struct route_dept *d = r ? route_dept_find(r, department) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	for (int i = 0; i < d->n_queue && i < cap && out; i++) {
		const struct route_leg *leg = d->queue[i];
		memset(&out[i], 0, sizeof(out[i]));
		route_copy_id(out[i].visit, sizeof(out[i].visit), leg->visit->id);
		out[i].kiosk = leg->visit->kiosk;
		out[i].waited_ms = (now_us - leg->queued_us) / 1000;
		route_copy_id(out[i].procedure, sizeof(out[i].procedure), leg->procedure);
	}
	return d->n_queue;
}

int route_department_staff(const route *r, const char *department, uint32_t *out, int cap)
{
	const struct route_dept *d = r ? route_dept_find(r, department) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	int n = 0;
	for (int i = 0; i < r->n_sessions; i++) {
		if (!route_session_in_dept(r->sessions[i], d->id))
			continue;
		if (out && n < cap)
			out[n] = r->sessions[i]->sid;
		n++;
	}
	return n;
}

int route_visit_get(const route *r, const char *visit, route_visit_info *out)
{
	const struct route_visit *v = r ? route_visit_find(r, visit) : NULL;
	if (!v || !out)
		return ROUTE_ERR_NOT_FOUND;
	memset(out, 0, sizeof(*out));
	route_copy_id(out->id, sizeof(out->id), v->id);
	out->kiosk = v->kiosk;
	out->started_us = v->started_us;
	out->onestop = v->onestop;
	out->waiting = route_visit_waiting_leg(v) != NULL;
	const struct route_leg *leg = route_visit_current_leg(v);
	if (leg) {
		route_copy_id(out->department, sizeof(out->department), leg->dept->id);
		route_copy_id(out->procedure, sizeof(out->procedure), leg->procedure);
		out->connected = leg->state == ROUTE_LEG_ANSWERED;
	}
	out->n_parties = route_visit_parties(v, out->parties);
	return 0;
}

int route_visit_view_get(const route *r, const char *visit, route_visit_view *out)
{
	const struct route_visit *v = r ? route_visit_find(r, visit) : NULL;
	if (!v || !out)
		return ROUTE_ERR_NOT_FOUND;
	route_visit_build_view(v, out);
	return 0;
}

int route_watch_list(const route *r, route_visit_view *out, int cap)
{
	int n = 0;
	for (int i = 0; r && i < r->n_visits; i++) {
		if (!r->visits[i]->onestop)
			continue;
		if (out && n < cap)
			route_visit_build_view(r->visits[i], &out[n]);
		n++;
	}
	return n;
}

enum route_kiosk_state route_kiosk_state(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s || s->role != ROUTE_ROLE_KIOSK || !s->visit)
		return ROUTE_KIOSK_IDLE;
	uint32_t parties[ROUTE_MAX_PARTIES];
	if (route_visit_parties(s->visit, parties) >= 2)
		return ROUTE_KIOSK_IN_CALL;
	const struct route_leg *leg = route_visit_waiting_leg(s->visit);
	return leg && leg->n_ringing > 0 ? ROUTE_KIOSK_RINGING : ROUTE_KIOSK_QUEUED;
}

enum route_desk_presence route_desk_presence(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s || s->role != ROUTE_ROLE_STAFF)
		return ROUTE_DESK_AWAY;
	if (s->leg || s->room)
		return ROUTE_DESK_BUSY;
	return s->available && !s->suspended ? ROUTE_DESK_AVAILABLE : ROUTE_DESK_AWAY;
}

int64_t route_department_longest_wait_ms(const route *r, const char *department, int64_t now_us)
{
	const struct route_dept *d = r ? route_dept_find(r, department) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	int64_t longest = 0;
	for (int i = 0; i < d->n_queue; i++) {
		int64_t waited = (now_us - d->queue[i]->queued_us) / 1000;
		if (waited > longest)
			longest = waited;
	}
	return longest;
}
