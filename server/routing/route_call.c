/* The events of the routing state machine's core: sessions joining, leaving, suspending
 * and resuming, presence, and the life of a call (call, accept, hangup, end). Each handler
 * validates everything first and returns an error before touching any state, so a failed
 * request changes nothing and emits nothing; then it changes the state, emits the actions
 * specific to the event (notifications and records), and leaves the derived ones (media,
 * rings, queue positions, availability) to route_reconcile. */
#include "routing/route_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- sessions ---- */

int route_session_join(route *r, uint32_t sid, const route_session_info *info, int64_t now_us)
{
	if (!r || !info || sid == 0)
		return ROUTE_ERR_BAD_REQUEST;
	if (info->role != ROUTE_ROLE_KIOSK && info->role != ROUTE_ROLE_STAFF &&
	    info->role != ROUTE_ROLE_GUEST)
		return ROUTE_ERR_BAD_REQUEST;
	if (!route_optional_id_ok(info->ident))
		return ROUTE_ERR_BAD_REQUEST;
	int n_depts = info->role == ROUTE_ROLE_STAFF ? info->n_departments : 0;
	if (n_depts < 0 || n_depts > ROUTE_MAX_STAFF_DEPTS || (n_depts > 0 && !info->departments))
		return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n_depts; i++)
		if (!route_id_ok(info->departments[i]))
			return ROUTE_ERR_BAD_REQUEST;
	if (route_session_find(r, sid))
		return ROUTE_ERR_CONFLICT;
	if (route_grow((void **)&r->sessions, &r->cap_sessions, r->n_sessions + 1,
	               sizeof(r->sessions[0])) ||
	    route_grow((void **)&r->session_sids, &r->cap_session_sids, r->n_sessions + 1,
	               sizeof(r->session_sids[0])))
		return ROUTE_ERR_INTERNAL;
	struct route_session *s = calloc(1, sizeof(*s));
	if (!s)
		return ROUTE_ERR_INTERNAL;
	s->sid = sid;
	s->role = info->role;
	route_copy_id(s->ident, sizeof(s->ident), info->ident);
	for (int i = 0; i < n_depts; i++)
		route_copy_id(s->depts[i], sizeof(s->depts[i]), info->departments[i]);
	s->n_depts = n_depts;
	if (info->role == ROUTE_ROLE_STAFF) {
		s->flags = info->flags;
		s->available = info->available ? 1 : 0;
	}
	s->idle_since_us = now_us;
	r->session_sids[r->n_sessions] = sid;
	r->sessions[r->n_sessions++] = s;
	route_reconcile(r, now_us);
	return 0;
}

void route_session_remove(route *r, struct route_session *s, int64_t now_us)
{
	/* Unlink first: a session that left gets no further actions of its own. */
	for (int i = 0; i < r->n_sessions; i++) {
		if (r->sessions[i] == s) {
			memmove(&r->sessions[i], &r->sessions[i + 1],
			        (size_t)(r->n_sessions - i - 1) * sizeof(r->sessions[0]));
			memmove(&r->session_sids[i], &r->session_sids[i + 1],
			        (size_t)(r->n_sessions - i - 1) * sizeof(r->session_sids[0]));
			r->n_sessions--;
			break;
		}
	}
	if (s->role == ROUTE_ROLE_KIOSK && s->visit)
		route_visit_end(r, s->visit, "dropped", "dropped", "dropped", NULL, NULL, now_us);
	else if (s->role == ROUTE_ROLE_STAFF && s->visit)
		route_visit_desk_dropped(r, s, now_us);
	if (s->role == ROUTE_ROLE_GUEST && s->room) {
		for (int i = 0; i < s->room->n_guests; i++)
			if (s->room->guests[i] == s->sid) {
				route_guest_remove_at(r, s->room, i, "left", now_us);
				break;
			}
		s->room = NULL;
	}
	if (s->room)
		route_visit_coord_leave(r, s->room, s, now_us);
	free(s);
}

int route_session_leave(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	route_session_remove(r, s, now_us);
	/* Rings of the departed desk are dropped silently here. */
	route_reconcile(r, now_us);
	return 0;
}

int route_session_suspend(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->suspended)
		return 0;
	s->suspended = 1;
	s->suspended_us = now_us;
	route_reconcile(r, now_us);
	return 0;
}

/* The position of a waiting leg in its queue, 1-based. */
static int queue_position(const struct route_leg *leg)
{
	for (int i = 0; i < leg->dept->n_queue; i++)
		if (leg->dept->queue[i] == leg)
			return i + 1;
	return 0;
}

int route_session_resume(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (!s->suspended)
		return ROUTE_ERR_CONFLICT;
	s->suspended = 0;

	uint32_t primary, document, extra[ROUTE_MAX_EXTRA];
	int n_extra = route_media_wanted(r, s, &primary, extra, &document);
	s->media_primary = primary;
	s->media_n_extra = n_extra;
	s->media_document = document;
	memcpy(s->media_extra, extra, (size_t)n_extra * sizeof(extra[0]));
	route_act_media *m = route_emit(r, ROUTE_ACT_MEDIA, sid, now_us);
	m->primary = primary;
	m->n_extra = n_extra;
	m->document = document;
	memcpy(m->extra, extra, (size_t)n_extra * sizeof(extra[0]));

	struct route_visit *v = s->room ? s->room : s->visit;
	uint32_t parties[ROUTE_MAX_PARTIES];
	int n = v ? route_visit_parties(v, parties) : 0;
	if (n >= 2) {
		route_act_connected *c = route_emit(r, ROUTE_ACT_CONNECTED, sid, now_us);
		route_copy_id(c->visit, sizeof(c->visit), v->id);
		memcpy(c->parties, parties, (size_t)n * sizeof(parties[0]));
		c->n_parties = n;
	} else if (v && s->role == ROUTE_ROLE_KIOSK) {
		struct route_leg *leg = route_visit_waiting_leg(v);
		int pos = leg ? queue_position(leg) : 0;
		if (pos > 0)
			route_emit_queued(r, leg, pos, route_estimate_s(leg->dept, pos), now_us);
	}
	if (s->watching) {
		for (int i = 0; i < r->n_visits; i++) {
			if (!r->visits[i]->onestop)
				continue;
			route_act_visit *w = route_emit(r, ROUTE_ACT_VISIT, sid, now_us);
			route_visit_build_view(r->visits[i], &w->view);
		}
	}
	route_reconcile(r, now_us);
	return 0;
}

int route_presence(route *r, uint32_t sid, int available, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_FORBIDDEN;
	if (available && !s->available)
		s->idle_since_us = now_us;
	s->available = available ? 1 : 0;
	route_reconcile(r, now_us);
	return 0;
}

/* ---- calls ---- */

/* Starts a visit for kiosk s over the given itinerary, its first open step first (steps
 * before it are skipped). All allocation happens before the state changes. */
static int start_visit(route *r, struct route_session *s, struct route_dept *const *depts, int n,
                       const char *procedure, const char *menu, const char *preferred,
                       int64_t now_us, char visit_out[ROUTE_UUID_LEN]);

int route_start_visit(route *r, struct route_session *s, struct route_dept *const *depts, int n,
                      const char *procedure, const char *menu, int64_t now_us,
                      char visit_out[ROUTE_UUID_LEN])
{
	return start_visit(r, s, depts, n, procedure, menu, NULL, now_us, visit_out);
}

/* preferred: NULL for an ordinary visit; else a booked one (a priority leg that rings the
 * desk named preferred first when it is not ""). */
static int start_visit(route *r, struct route_session *s, struct route_dept *const *depts, int n,
                       const char *procedure, const char *menu, const char *preferred,
                       int64_t now_us, char visit_out[ROUTE_UUID_LEN])
{
	int first = 0;
	while (first < n && !route_dept_open_at(r, depts[first], now_us))
		first++;
	if (first == n)
		return ROUTE_ERR_UNAVAILABLE;
	if (route_grow((void **)&r->visits, &r->cap_visits, r->n_visits + 1, sizeof(r->visits[0])))
		return ROUTE_ERR_INTERNAL;
	struct route_visit *v = route_visit_alloc(r, s, now_us);
	if (!v)
		return ROUTE_ERR_INTERNAL;
	struct route_leg *leg = route_leg_alloc(r, depts[first], procedure);
	if (!leg) {
		free(v);
		return ROUTE_ERR_INTERNAL;
	}
	leg->visit = v;
	if (preferred) {
		leg->priority = 1;
		route_copy_id(leg->preferred, sizeof(leg->preferred), preferred);
		leg->preferred_until_us = now_us + depts[first]->ring_timeout_us;
	}
	if (route_enqueue(leg)) {
		route_leg_free(leg);
		free(v);
		return ROUTE_ERR_INTERNAL;
	}
	for (int i = 0; i < n; i++) {
		v->steps[i].dept = depts[i];
		v->steps[i].skipped = i < first;
	}
	v->n_steps = n;
	if (menu) {
		v->onestop = 1;
		route_copy_id(v->menu, sizeof(v->menu), menu);
	}
	route_visit_attach_leg(v, first, leg, now_us);
	route_visit_register(r, v);
	s->visit = v;

	route_act_record *a = route_emit_record(r, ROUTE_REC_VISIT_STARTED, leg, v, now_us);
	route_copy_id(a->menu, sizeof(a->menu), v->menu);
	route_emit_record(r, ROUTE_REC_LEG_QUEUED, leg, v, now_us);
	route_reconcile(r, now_us);
	if (visit_out)
		memcpy(visit_out, v->id, ROUTE_UUID_LEN);
	return 0;
}

int route_call(route *r, uint32_t sid, const char *department, const char *procedure,
               int64_t now_us, char visit_out[ROUTE_UUID_LEN])
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_KIOSK)
		return ROUTE_ERR_FORBIDDEN;
	if (!route_id_ok(department) || !route_optional_id_ok(procedure))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_dept *d = route_dept_find(r, department);
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	if (!route_dept_open_at(r, d, now_us))
		return ROUTE_ERR_UNAVAILABLE;
	if (s->visit)
		return ROUTE_ERR_CONFLICT;
	return route_start_visit(r, s, &d, 1, procedure, NULL, now_us, visit_out);
}

int route_call_booked(route *r, uint32_t sid, const char *department, const char *procedure,
                      const char *desk_ident, int64_t now_us, char visit_out[ROUTE_UUID_LEN])
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_KIOSK)
		return ROUTE_ERR_FORBIDDEN;
	if (!route_id_ok(department) || !route_optional_id_ok(procedure) ||
	    !route_optional_id_ok(desk_ident))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_dept *d = route_dept_find(r, department);
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	if (!route_dept_open_at(r, d, now_us))
		return ROUTE_ERR_UNAVAILABLE;
	if (s->visit)
		return ROUTE_ERR_CONFLICT;
	return start_visit(r, s, &d, 1, procedure, NULL, desk_ident ? desk_ident : "", now_us,
	                   visit_out);
}

static void add_wait_sample(struct route_dept *d, int64_t wait_ms)
{
	d->waits_ms[d->next_wait] = wait_ms;
	d->next_wait = (d->next_wait + 1) % ROUTE_WAIT_SAMPLES;
	if (d->n_waits < ROUTE_WAIT_SAMPLES)
		d->n_waits++;
}

int route_accept(route *r, uint32_t sid, const char *visit, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_FORBIDDEN;
	if (!visit)
		return ROUTE_ERR_BAD_REQUEST;
	struct route_visit *v = route_visit_find(r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	struct route_leg *leg = route_visit_waiting_leg(v);
	const struct route_leg *which = leg ? leg : v->last;
	if (!which)
		return ROUTE_ERR_NOT_FOUND;
	if (!route_session_in_dept(s, which->dept->id))
		return ROUTE_ERR_FORBIDDEN;
	if (!leg || s->visit || s->room || !route_ring_has(leg, sid))
		return ROUTE_ERR_CONFLICT;
	uint32_t parties[ROUTE_MAX_PARTIES];
	if (route_visit_parties(v, parties) >= ROUTE_MAX_PARTIES)
		return ROUTE_ERR_CONFLICT;

	route_dequeue(leg);
	route_ring_remove(leg, sid);
	route_ring_cancel_all(r, leg, "taken", now_us);
	leg->state = ROUTE_LEG_ANSWERED;
	leg->staff = sid;
	leg->answer_seq = ++v->answers;
	route_copy_id(leg->staff_ident, sizeof(leg->staff_ident), s->ident);
	add_wait_sample(leg->dept, (now_us - leg->queued_us) / 1000);
	v->steps[leg->step].desk = sid;
	s->visit = v;
	s->leg = leg;

	route_announce_room(r, v, now_us);
	route_act_record *a = route_emit_record(r, ROUTE_REC_LEG_ANSWERED, leg, v, now_us);
	a->waited_ms = (now_us - leg->queued_us) / 1000;
	route_reconcile(r, now_us);
	return 0;
}

int route_hangup(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_KIOSK)
		return ROUTE_ERR_FORBIDDEN;
	if (!s->visit)
		return 0;
	uint32_t parties[ROUTE_MAX_PARTIES];
	int talking = route_visit_parties(s->visit, parties) >= 2;
	route_visit_end(r, s->visit, talking ? "completed" : "cancelled", "completed", "cancelled",
	                NULL, NULL, now_us);
	route_reconcile(r, now_us);
	return 0;
}

static int outcome_ok(const char *outcome)
{
	return outcome && (strcmp(outcome, "completed") == 0 || strcmp(outcome, "referred") == 0 ||
	                   strcmp(outcome, "incomplete") == 0);
}

int route_end(route *r, uint32_t sid, const char *visit, const char *outcome, const char *procedure,
              const char *note, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_FORBIDDEN;
	if (!visit || !outcome_ok(outcome) || !route_optional_id_ok(procedure) ||
	    (note && strlen(note) >= ROUTE_NOTE_MAX))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_visit *v = route_visit_find(r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	if (s->visit != v || !s->leg)
		return ROUTE_ERR_FORBIDDEN;
	if (route_visit_open_legs(v) == 1 && !route_visit_has_pending(v) && v->n_coords == 0) {
		/* The last thing in the visit: it ends for everyone, as one step. */
		route_visit_end(r, v, "completed", outcome, "cancelled", procedure, note, now_us);
	} else {
		route_emit_ended(r, sid, v, "completed", now_us);
		route_leg_finish(r, s->leg, outcome, procedure, note, now_us);
		route_visit_settle(r, v, "completed", now_us);
	}
	route_reconcile(r, now_us);
	return 0;
}
