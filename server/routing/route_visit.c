/* The life of a visit: its itinerary steps, its legs from queued to ended, its room, and
 * its end. Event handlers validate and then call these; none of them reconciles (the
 * handler does, once, at the end). */
#include "routing/route_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- rooms and steps ---- */

int route_visit_parties(const struct route_visit *v, uint32_t out[ROUTE_MAX_PARTIES])
{
	int n = 0;
	out[n++] = v->kiosk;
	/* Desks in answer order: a leg answered later sits later, whatever its creation. */
	uint64_t after = 0;
	for (;;) {
		const struct route_leg *best = NULL;
		for (const struct route_leg *leg = v->legs; leg; leg = leg->next)
			if (leg->state == ROUTE_LEG_ANSWERED && leg->answer_seq > after &&
			    (!best || leg->answer_seq < best->answer_seq))
				best = leg;
		if (!best || n >= ROUTE_MAX_PARTIES)
			break;
		out[n++] = best->staff;
		after = best->answer_seq;
	}
	for (int i = 0; i < v->n_coords && n < ROUTE_MAX_PARTIES; i++)
		out[n++] = v->coords[i];
	for (int i = 0; i < v->n_guests && n < ROUTE_MAX_PARTIES; i++)
		out[n++] = v->guests[i];
	return n;
}

struct route_leg *route_visit_current_leg(const struct route_visit *v)
{
	for (struct route_leg *leg = v->legs; leg; leg = leg->next)
		if (leg->state != ROUTE_LEG_ENDED)
			return leg;
	return NULL;
}

struct route_leg *route_visit_waiting_leg(const struct route_visit *v)
{
	for (struct route_leg *leg = v->legs; leg; leg = leg->next)
		if (leg->state == ROUTE_LEG_WAITING)
			return leg;
	return NULL;
}

int route_visit_open_legs(const struct route_visit *v)
{
	int n = 0;
	for (const struct route_leg *leg = v->legs; leg; leg = leg->next)
		if (leg->state != ROUTE_LEG_ENDED)
			n++;
	return n;
}

int route_visit_first_pending(const struct route_visit *v)
{
	for (int i = 0; i < v->n_steps; i++)
		if (!v->steps[i].leg && !v->steps[i].skipped)
			return i;
	return -1;
}

int route_visit_has_pending(const struct route_visit *v)
{
	return route_visit_first_pending(v) >= 0;
}

int route_visit_coord_index(const struct route_visit *v, uint32_t sid)
{
	for (int i = 0; i < v->n_coords; i++)
		if (v->coords[i] == sid)
			return i;
	return -1;
}

static void fix_leg_steps(struct route_visit *v)
{
	for (int i = 0; i < v->n_steps; i++)
		if (v->steps[i].leg)
			v->steps[i].leg->step = i;
}

int route_visit_insert_step(struct route_visit *v, struct route_dept *d)
{
	if (v->n_steps >= ROUTE_MAX_STEPS)
		return -1;
	int at = route_visit_first_pending(v);
	if (at < 0)
		at = v->n_steps;
	memmove(&v->steps[at + 1], &v->steps[at], (size_t)(v->n_steps - at) * sizeof(v->steps[0]));
	memset(&v->steps[at], 0, sizeof(v->steps[0]));
	v->steps[at].dept = d;
	v->n_steps++;
	fix_leg_steps(v);
	return at;
}

int route_visit_move_step_next(struct route_visit *v, int i)
{
	int at = route_visit_first_pending(v);
	if (at < 0 || at >= i)
		return i;
	struct route_step st = v->steps[i];
	memmove(&v->steps[at + 1], &v->steps[at], (size_t)(i - at) * sizeof(v->steps[0]));
	v->steps[at] = st;
	fix_leg_steps(v);
	return at;
}

/* ---- creation and destruction ---- */

struct route_visit *route_visit_alloc(route *r, const struct route_session *s, int64_t now_us)
{
	struct route_visit *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	r->cfg.new_id(r->cfg.user, v->id);
	v->id[ROUTE_UUID_LEN - 1] = '\0';
	v->kiosk = s->sid;
	route_copy_id(v->kiosk_ident, sizeof(v->kiosk_ident), s->ident);
	v->started_us = now_us;
	return v;
}

void route_visit_register(route *r, struct route_visit *v)
{
	r->visits[r->n_visits++] = v;
}

void route_visit_destroy(route *r, struct route_visit *v)
{
	for (int i = 0; i < r->n_visits; i++) {
		if (r->visits[i] == v) {
			memmove(&r->visits[i], &r->visits[i + 1],
			        (size_t)(r->n_visits - i - 1) * sizeof(r->visits[0]));
			r->n_visits--;
			break;
		}
	}
	route_visit_free(v);
}

/* ---- legs ---- */

void route_visit_attach_leg(struct route_visit *v, int i, struct route_leg *leg, int64_t now_us)
{
	leg->visit = v;
	leg->step = i;
	leg->queued_us = now_us;
	if (v->last)
		v->last->next = leg;
	else
		v->legs = leg;
	v->last = leg;
	v->steps[i].leg = leg;
	v->steps[i].skipped = 0;
}

int route_visit_queue_step(route *r, struct route_visit *v, int i, int priority,
                           const char *procedure, const char *via, int64_t now_us)
{
	struct route_leg *leg = route_leg_alloc(r, v->steps[i].dept, procedure);
	if (!leg)
		return -1;
	leg->visit = v;
	leg->priority = priority;
	if (route_enqueue(leg)) {
		route_leg_free(leg);
		return -1;
	}
	route_visit_attach_leg(v, i, leg, now_us);
	route_act_record *a = route_emit_record(r, ROUTE_REC_LEG_QUEUED, leg, v, now_us);
	route_copy_id(a->via, sizeof(a->via), via);
	return 0;
}

void route_leg_finish(route *r, struct route_leg *leg, const char *reason, const char *procedure,
                      const char *note, int64_t now_us)
{
	if (leg->state == ROUTE_LEG_WAITING) {
		route_dequeue(leg);
		route_ring_cancel_all(r, leg, "cancelled", now_us);
	} else if (leg->state == ROUTE_LEG_ANSWERED) {
		struct route_session *desk = route_session_find(r, leg->staff);
		if (desk && desk->leg == leg) {
			desk->visit = NULL;
			desk->leg = NULL;
			desk->idle_since_us = now_us;
		}
	} else {
		return;
	}
	leg->state = ROUTE_LEG_ENDED;
	if (procedure && procedure[0])
		route_copy_id(leg->procedure, sizeof(leg->procedure), procedure);
	route_act_record *a = route_emit_record(r, ROUTE_REC_LEG_ENDED, leg, leg->visit, now_us);
	route_copy_id(a->reason, sizeof(a->reason), reason);
	route_copy_id(a->note, sizeof(a->note), note);
}

static void emit_view(route *r, const struct route_visit *v, const route_visit_view *view,
                      int64_t now_us)
{
	for (int i = 0; i < r->n_sessions; i++) {
		const struct route_session *s = r->sessions[i];
		if (!s->watching)
			continue;
		route_act_visit *a = route_emit(r, ROUTE_ACT_VISIT, s->sid, now_us);
		a->view = *view;
	}
}

static void remember_ended(struct route_session *kiosk, const struct route_visit *v)
{
	route_copy_id(kiosk->ended[kiosk->next_ended], ROUTE_UUID_LEN, v->id);
	kiosk->ended_rated[kiosk->next_ended] = 0;
	kiosk->next_ended = (kiosk->next_ended + 1) % ROUTE_SURVEY_KEEP;
}

void route_visit_end(route *r, struct route_visit *v, const char *visit_reason,
                     const char *answered_reason, const char *waiting_reason, const char *procedure,
                     const char *note, int64_t now_us)
{
	/* ENDED first (desks, coordinators, kiosk), then the records: the order the shell
	 * and the 1:1 tests rely on. */
	for (struct route_leg *leg = v->legs; leg; leg = leg->next) {
		if (leg->state == ROUTE_LEG_WAITING) {
			route_dequeue(leg);
			route_ring_cancel_all(r, leg, "cancelled", now_us);
		} else if (leg->state == ROUTE_LEG_ANSWERED) {
			struct route_session *desk = route_session_find(r, leg->staff);
			if (desk && desk->leg == leg)
				route_emit_ended(r, desk->sid, v, visit_reason, now_us);
		}
	}
	for (int i = 0; i < v->n_coords; i++) {
		struct route_session *c = route_session_find(r, v->coords[i]);
		if (c && c->room == v) {
			route_emit_ended(r, c->sid, v, visit_reason, now_us);
			c->room = NULL;
		}
	}
	v->n_coords = 0;
	while (v->n_guests > 0) {
		route_emit_ended(r, v->guests[0], v, visit_reason, now_us);
		route_guest_remove_at(r, v, 0, visit_reason, now_us);
	}
	struct route_session *kiosk = route_session_find(r, v->kiosk);
	if (kiosk && kiosk->visit == v) {
		route_emit_ended(r, kiosk->sid, v, visit_reason, now_us);
		kiosk->visit = NULL;
		remember_ended(kiosk, v);
	}
	for (struct route_leg *leg = v->legs; leg; leg = leg->next) {
		if (leg->state == ROUTE_LEG_ENDED)
			continue;
		const char *why =
		    leg->state == ROUTE_LEG_WAITING ? waiting_reason : answered_reason;
		route_leg_finish(r, leg, why, procedure, note, now_us);
	}
	for (int i = 0; i < v->n_steps; i++)
		if (!v->steps[i].leg)
			v->steps[i].skipped = 1;
	route_act_record *a = route_emit_record(r, ROUTE_REC_VISIT_ENDED, NULL, v, now_us);
	route_copy_id(a->reason, sizeof(a->reason), visit_reason);
	if (v->onestop) {
		route_visit_view view;
		route_visit_build_view(v, &view);
		view.ended = 1;
		route_copy_id(view.reason, sizeof(view.reason), visit_reason);
		emit_view(r, v, &view, now_us);
	}
	route_visit_destroy(r, v);
}

void route_visit_settle(route *r, struct route_visit *v, const char *reason_if_done, int64_t now_us)
{
	if (route_visit_open_legs(v) > 0)
		return;
	int skipped_closed = 0;
	int i;
	while ((i = route_visit_first_pending(v)) >= 0) {
		if (!route_dept_open_at(r, v->steps[i].dept, now_us)) {
			v->steps[i].skipped = 1;
			skipped_closed = 1;
			continue;
		}
		if (route_visit_queue_step(r, v, i, 1, NULL, "onestop", now_us) == 0)
			return;
		/* Out of memory: the resident cannot move on; end rather than strand them. */
		route_visit_end(r, v, "dropped", "dropped", "dropped", NULL, NULL, now_us);
		return;
	}
	if (v->n_coords > 0)
		return; /* the coordinator keeps the room until it leaves or finishes */
	route_visit_end(r, v, skipped_closed ? "closed" : reason_if_done, "completed", "cancelled",
	                NULL, NULL, now_us);
}

void route_visit_desk_dropped(route *r, struct route_session *desk, int64_t now_us)
{
	struct route_visit *v = desk->visit;
	struct route_leg *old = desk->leg;
	int requeue = !route_visit_waiting_leg(v);
	route_leg_finish(r, old, "dropped", NULL, NULL, now_us);
	if (requeue &&
	    route_visit_queue_step(r, v, old->step, 1, old->procedure, "", now_us) != 0) {
		route_visit_end(r, v, "dropped", "dropped", "dropped", NULL, NULL, now_us);
		return;
	}
	route_visit_settle(r, v, "completed", now_us);
}

void route_visit_coord_leave(route *r, struct route_visit *v, struct route_session *s,
                             int64_t now_us)
{
	int i = route_visit_coord_index(v, s->sid);
	if (i >= 0) {
		memmove(&v->coords[i], &v->coords[i + 1],
		        (size_t)(v->n_coords - i - 1) * sizeof(v->coords[0]));
		v->n_coords--;
	}
	s->room = NULL;
	route_visit_settle(r, v, "completed", now_us);
}

void route_visit_build_view(const struct route_visit *v, route_visit_view *out)
{
	memset(out, 0, sizeof(*out));
	route_copy_id(out->visit, sizeof(out->visit), v->id);
	out->kiosk = v->kiosk;
	out->started_us = v->started_us;
	out->onestop = v->onestop;
	route_copy_id(out->menu, sizeof(out->menu), v->menu);
	for (int i = 0; i < v->n_steps; i++) {
		const struct route_step *st = &v->steps[i];
		route_step_info *o = &out->steps[out->n_steps++];
		route_copy_id(o->department, sizeof(o->department), st->dept->id);
		o->desk = st->desk;
		if (!st->leg)
			o->state = st->skipped ? ROUTE_STEP_SKIPPED : ROUTE_STEP_PENDING;
		else if (st->leg->state == ROUTE_LEG_WAITING)
			o->state = ROUTE_STEP_QUEUED;
		else if (st->leg->state == ROUTE_LEG_ANSWERED)
			o->state = ROUTE_STEP_ACTIVE;
		else
			o->state = st->leg->staff ? ROUTE_STEP_DONE : ROUTE_STEP_SKIPPED;
	}
	memcpy(out->coordinators, v->coords, (size_t)v->n_coords * sizeof(v->coords[0]));
	out->n_coordinators = v->n_coords;
}
