/* Reconciliation: after every event, derive what follows from the state and emit only the
 * differences: rooms (CONNECTED), media feeds (MEDIA), rings (RINGING / RING_CANCELLED),
 * queue positions (QUEUED, QUEUE), coordinators' views (VISIT) and availability
 * (DEPARTMENTS).
 *
 * Why: media wiring, rings and positions are all functions of the state (who is in which
 * room, which desks are free, who waits where). Computing them afresh after every event
 * keeps each handler small and makes the privacy rule hold by construction: a MEDIA
 * action can only name parties of the same room, whatever path led there. The cost is a
 * scan over sessions and queues per event, which is nothing at the scale of a city's
 * counters. */
#include "routing/route_internal.h"

#include <string.h>

/* ---- closed departments ---- */

/* A closed department that nobody can answer any more releases its queue: the waiting
 * legs end "closed" and their visits move on or end. */
static void sweep_closed(route *r, int64_t now_us)
{
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		dept->open = route_dept_open_at(r, dept, now_us);
		if (dept->open || route_dept_present(r, dept) > 0)
			continue;
		while (dept->n_queue > 0) {
			struct route_leg *leg = dept->queue[0];
			struct route_visit *v = leg->visit;
			route_leg_finish(r, leg, "closed", NULL, NULL, now_us);
			route_visit_settle(r, v, "closed", now_us);
		}
	}
}

/* ---- rooms ---- */

void route_announce_room(route *r, struct route_visit *v, int64_t now_us)
{
	uint32_t parties[ROUTE_MAX_PARTIES];
	int n = route_visit_parties(v, parties);
	if (n == v->rep_n_parties &&
	    memcmp(parties, v->rep_parties, (size_t)n * sizeof(parties[0])) == 0)
		return;
	memcpy(v->rep_parties, parties, sizeof(parties));
	v->rep_n_parties = n;
	if (n < 2)
		return; /* a kiosk alone hears QUEUED or ENDED instead */
	for (int i = 0; i < n; i++) {
		route_act_connected *a = route_emit(r, ROUTE_ACT_CONNECTED, parties[i], now_us);
		route_copy_id(a->visit, sizeof(a->visit), v->id);
		memcpy(a->parties, parties, (size_t)n * sizeof(parties[0]));
		a->n_parties = n;
	}
}

/* ---- media ---- */

int route_media_wanted(const route *r, const struct route_session *s, uint32_t *primary,
                       uint32_t extra[ROUTE_MAX_EXTRA], uint32_t *document)
{
	const struct route_visit *v = NULL;
	*primary = 0;
	*document = 0;
	if (s->role == ROUTE_ROLE_KIOSK)
		v = s->visit;
	else if (s->leg && s->leg->state == ROUTE_LEG_ANSWERED)
		v = s->visit;
	else if (s->room)
		v = s->room;
	if (!v)
		return 0;
	uint32_t parties[ROUTE_MAX_PARTIES];
	int n = route_visit_parties(v, parties);
	if (n < 2)
		return 0; /* a kiosk alone in its visit (waiting) is fed by nobody */
	/* Everyone but s, kiosk excluded: desks first (answer order), then coordinators. */
	uint32_t others[ROUTE_MAX_PARTIES];
	int n_others = 0;
	for (int i = 1; i < n; i++)
		if (parties[i] != s->sid)
			others[n_others++] = parties[i];
	int n_extra = 0, from = 0;
	if (s->role == ROUTE_ROLE_KIOSK) {
		*primary = n_others > 0 ? others[0] : 0;
		from = 1;
	} else {
		*primary = v->kiosk;
	}
	for (int i = from; i < n_others && n_extra < ROUTE_MAX_EXTRA; i++)
		extra[n_extra++] = others[i];
	/* The document slot shows whoever in the room started sharing last. */
	uint64_t best = 0;
	for (int i = 0; i < n; i++) {
		const struct route_session *p = route_session_find(r, parties[i]);
		if (p && p != s && p->share_seq > best) {
			best = p->share_seq;
			*document = p->sid;
		}
	}
	return n_extra;
}

static void reconcile_media(route *r, int64_t now_us)
{
	for (int i = 0; i < r->n_sessions; i++) {
		struct route_session *s = r->sessions[i];
		uint32_t primary, document, extra[ROUTE_MAX_EXTRA];
		int n_extra = route_media_wanted(r, s, &primary, extra, &document);
		if (primary == s->media_primary && n_extra == s->media_n_extra &&
		    document == s->media_document &&
		    memcmp(extra, s->media_extra, (size_t)n_extra * sizeof(extra[0])) == 0)
			continue;
		s->media_primary = primary;
		s->media_n_extra = n_extra;
		s->media_document = document;
		memcpy(s->media_extra, extra, (size_t)n_extra * sizeof(extra[0]));
		route_act_media *a = route_emit(r, ROUTE_ACT_MEDIA, s->sid, now_us);
		a->primary = primary;
		a->n_extra = n_extra;
		a->document = document;
		memcpy(a->extra, extra, (size_t)n_extra * sizeof(extra[0]));
	}
}

/* ---- rings ---- */

void route_emit_ringing(route *r, const struct route_leg *leg, uint32_t desk, int64_t now_us)
{
	route_act_ringing *a = route_emit(r, ROUTE_ACT_RINGING, desk, now_us);
	route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
	route_copy_id(a->leg, sizeof(a->leg), leg->id);
	route_copy_id(a->department, sizeof(a->department), leg->dept->id);
	route_copy_id(a->procedure, sizeof(a->procedure), leg->procedure);
	a->kiosk = leg->visit->kiosk;
	a->waited_ms = (now_us - leg->queued_us) / 1000;
	a->onestop = leg->visit->onestop;
}

static int add_ring(route *r, struct route_leg *leg, uint32_t sid, int64_t now_us)
{
	/* Without memory for the ring list the desk simply does not ring now; the next
	 * reconciliation tries again. */
	if (route_grow((void **)&leg->ringing, &leg->cap_ringing, leg->n_ringing + 1,
	               sizeof(leg->ringing[0])))
		return -1;
	leg->ringing[leg->n_ringing++] = sid;
	route_emit_ringing(r, leg, sid, now_us);
	return 0;
}

/* Desks that stopped being free are told why: "taken" when now in a call or a room,
 * "cancelled" when they went away. A desk that left or is suspended is dropped silently. */
static void drop_unfree_rings(route *r, struct route_leg *leg, int64_t now_us)
{
	for (int i = 0; i < leg->n_ringing;) {
		struct route_session *s = route_session_find(r, leg->ringing[i]);
		if (s && route_desk_free_in(s, leg->dept->id)) {
			i++;
			continue;
		}
		if (s && !s->suspended) {
			route_act_reason *a =
			    route_emit(r, ROUTE_ACT_RING_CANCELLED, s->sid, now_us);
			route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
			route_copy_id(a->reason, sizeof(a->reason),
			              s->visit || s->room ? "taken" : "cancelled");
		}
		route_ring_remove(leg, leg->ringing[i]);
	}
}

static int ringing_elsewhere(const struct route_dept *d, const struct route_leg *self, uint32_t sid)
{
	for (int q = 0; q < d->n_queue; q++)
		if (d->queue[q] != self && route_ring_has(d->queue[q], sid))
			return 1;
	return 0;
}

static int tried(const struct route_leg *leg, uint32_t sid)
{
	for (int i = 0; i < leg->n_tried; i++)
		if (leg->tried[i] == sid)
			return 1;
	return 0;
}

/* The longest-idle free desk for leg that rings for no other leg of the department;
 * skipping the desks in leg->tried when use_tried, and `except` (0 = none). */
static struct route_session *pick_idle(const route *r, const struct route_leg *leg, int use_tried,
                                       uint32_t except)
{
	struct route_session *best = NULL;
	for (int i = 0; i < r->n_sessions; i++) {
		struct route_session *s = r->sessions[i];
		if (!route_desk_free_in(s, leg->dept->id) || s->sid == except ||
		    ringing_elsewhere(leg->dept, leg, s->sid) || (use_tried && tried(leg, s->sid)))
			continue;
		if (!best || s->idle_since_us < best->idle_since_us)
			best = s;
	}
	return best;
}

int route_idle_alternative(const route *r, const struct route_leg *leg, uint32_t current)
{
	return pick_idle(r, leg, 0, current) != NULL;
}

static void ring_longest_idle(route *r, struct route_leg *leg, int64_t now_us)
{
	if (leg->n_ringing > 0)
		return;
	struct route_session *s = pick_idle(r, leg, 1, 0);
	if (!s) {
		/* Everyone had a turn: a new round, starting after the desk that timed out. */
		leg->n_tried = 0;
		s = pick_idle(r, leg, 0, leg->last_timed_out);
		if (!s)
			s = pick_idle(r, leg, 0, 0);
	}
	if (!s)
		return;
	if (route_grow((void **)&leg->tried, &leg->cap_tried, leg->n_tried + 1,
	               sizeof(leg->tried[0])))
		return;
	if (add_ring(r, leg, s->sid, now_us))
		return;
	leg->tried[leg->n_tried++] = s->sid;
	leg->ring_started_us = now_us;
}

int route_preferred_present(const route *r, const struct route_leg *leg)
{
	for (int i = 0; i < r->n_sessions; i++) {
		const struct route_session *s = r->sessions[i];
		if (s->role == ROUTE_ROLE_STAFF && s->available && !s->suspended &&
		    strcmp(s->ident, leg->preferred) == 0 &&
		    route_session_in_dept(s, leg->dept->id))
			return 1;
	}
	return 0;
}

/* A booked leg whose preference holds rings its preferred desk alone (route_call_booked);
 * returns 0 when the preference is over (it is then cleared for good and the leg rings as
 * any other). */
static int ring_preferred(route *r, struct route_leg *leg, int64_t now_us)
{
	if (leg->preferred[0] == '\0')
		return 0;
	if (now_us >= leg->preferred_until_us || !route_preferred_present(r, leg)) {
		leg->preferred[0] = '\0';
		return 0;
	}
	for (int i = 0; i < r->n_sessions; i++) {
		struct route_session *s = r->sessions[i];
		if (strcmp(s->ident, leg->preferred) != 0 ||
		    !route_desk_free_in(s, leg->dept->id) || route_ring_has(leg, s->sid))
			continue;
		if (leg->n_ringing == 0)
			leg->ring_started_us = now_us;
		if (add_ring(r, leg, s->sid, now_us) == 0 &&
		    route_grow((void **)&leg->tried, &leg->cap_tried, leg->n_tried + 1,
		               sizeof(leg->tried[0])) == 0)
			leg->tried[leg->n_tried++] = s->sid;
	}
	return 1;
}

static void reconcile_rings(route *r, int64_t now_us)
{
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		for (int q = 0; q < dept->n_queue; q++)
			drop_unfree_rings(r, dept->queue[q], now_us);
		for (int q = 0; q < dept->n_queue; q++) {
			struct route_leg *leg = dept->queue[q];
			if (ring_preferred(r, leg, now_us))
				continue;
			if (dept->ring == ROUTE_RING_LONGEST_IDLE) {
				ring_longest_idle(r, leg, now_us);
				continue;
			}
			for (int i = 0; i < r->n_sessions; i++) {
				struct route_session *s = r->sessions[i];
				if (route_desk_free_in(s, dept->id) && !route_ring_has(leg, s->sid))
					add_ring(r, leg, s->sid, now_us);
			}
		}
	}
}

/* ---- queues ---- */

int route_estimate_s(const struct route_dept *d, int position)
{
	int64_t mean_ms = (int64_t)ROUTE_DEFAULT_WAIT_S * 1000;
	if (d->n_waits > 0) {
		int64_t sum = 0;
		for (int i = 0; i < d->n_waits; i++)
			sum += d->waits_ms[i];
		mean_ms = sum / d->n_waits;
	}
	return (int)((mean_ms * position + 500) / 1000);
}

/* While a desk is free a new visit rings at once; otherwise it would wait behind everyone
 * queued, as its first queued event will say. */
int route_dept_estimate_s(const route *r, const struct route_dept *d)
{
	if (route_dept_available(r, d) > 0)
		return 0;
	return route_estimate_s(d, d->n_queue + 1);
}

void route_emit_queued(route *r, struct route_leg *leg, int position, int est, int64_t now_us)
{
	leg->rep_position = position;
	leg->rep_estimate_s = est;
	route_act_queued *a = route_emit(r, ROUTE_ACT_QUEUED, leg->visit->kiosk, now_us);
	route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
	route_copy_id(a->department, sizeof(a->department), leg->dept->id);
	a->position = position;
	a->estimated_wait_s = est;
}

static void reconcile_queues(route *r, int64_t now_us)
{
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		for (int q = 0; q < dept->n_queue; q++) {
			struct route_leg *leg = dept->queue[q];
			uint32_t parties[ROUTE_MAX_PARTIES];
			if (route_visit_parties(leg->visit, parties) >= 2) {
				/* In conversation (an invite, a coordinator): not told it waits,
				 * but told afresh if it is left alone. */
				leg->rep_position = 0;
				continue;
			}
			int est = route_estimate_s(dept, q + 1);
			if (leg->rep_position != q + 1 || leg->rep_estimate_s != est)
				route_emit_queued(r, leg, q + 1, est, now_us);
		}
	}
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		if (!dept->queue_dirty)
			continue;
		dept->queue_dirty = 0;
		route_act_queue *a = route_emit(r, ROUTE_ACT_QUEUE, 0, now_us);
		route_copy_id(a->department, sizeof(a->department), dept->id);
	}
}

/* ---- views and departments ---- */

static void reconcile_views(route *r, int64_t now_us)
{
	route_visit_view view;
	for (int i = 0; i < r->n_visits; i++) {
		struct route_visit *v = r->visits[i];
		if (!v->onestop)
			continue;
		route_visit_build_view(v, &view);
		if (memcmp(&view, &v->rep_view, sizeof(view)) == 0)
			continue;
		v->rep_view = view;
		for (int s = 0; s < r->n_sessions; s++) {
			if (!r->sessions[s]->watching)
				continue;
			route_act_visit *a =
			    route_emit(r, ROUTE_ACT_VISIT, r->sessions[s]->sid, now_us);
			a->view = view;
		}
	}
}

static void reconcile_departments(route *r, int64_t now_us)
{
	int changed = 0;
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		int avail = route_dept_available(r, dept);
		int staffed = route_dept_present(r, dept);
		/* route_dept_estimate_s without its second scan for a free desk. */
		int est = avail > 0 ? 0 : route_estimate_s(dept, dept->n_queue + 1);
		if (dept->rep_open != dept->open || dept->rep_available != avail ||
		    dept->rep_queued != dept->n_queue || dept->rep_staffed != staffed ||
		    dept->rep_estimate_s != est)
			changed = 1;
		dept->rep_open = dept->open;
		dept->rep_available = avail;
		dept->rep_queued = dept->n_queue;
		dept->rep_staffed = staffed;
		dept->rep_estimate_s = est;
	}
	if (changed)
		route_emit(r, ROUTE_ACT_DEPARTMENTS, 0, now_us);
}

void route_reconcile(route *r, int64_t now_us)
{
	if (now_us > r->now_us)
		r->now_us = now_us;
	sweep_closed(r, now_us);
	for (int i = 0; i < r->n_visits; i++)
		route_announce_room(r, r->visits[i], now_us);
	reconcile_media(r, now_us);
	reconcile_rings(r, now_us);
	reconcile_queues(r, now_us);
	reconcile_views(r, now_us);
	reconcile_departments(r, now_us);
}
