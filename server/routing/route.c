/* The routing state machine's objects, its action queue, the reconciliation step that
 * derives media, rings, queue positions and availability from the state after each event,
 * and the read-only accessors. The events that change calls live in route_call.c.
 *
 * Why reconciliation: media wiring, rings and queue positions are all functions of the
 * state (who is in which room, which desks are free, who waits where). Computing them
 * afresh after every event and emitting only the differences keeps each event handler
 * small and makes the privacy rule hold by construction: a MEDIA action can only name
 * parties of an answered leg, whatever path led there. The cost is a scan over sessions
 * and queues per event, which is nothing at the scale of a city's counters. */
#include "routing/route_internal.h"

#include <stdlib.h>
#include <string.h>

const char *route_strerror(int err)
{
	switch (err) {
	case ROUTE_OK:
		return "ok";
	case ROUTE_ERR_BAD_REQUEST:
		return "bad_request";
	case ROUTE_ERR_FORBIDDEN:
		return "forbidden";
	case ROUTE_ERR_NOT_FOUND:
		return "not_found";
	case ROUTE_ERR_CONFLICT:
		return "conflict";
	case ROUTE_ERR_UNAVAILABLE:
		return "unavailable";
	default:
		return "internal";
	}
}

int route_grow(void **arr, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return 0;
	int ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*arr, (size_t)ncap * elem);
	if (!n)
		return -1;
	*arr = n;
	*cap = ncap;
	return 0;
}

int route_copy_id(char *dst, size_t cap, const char *src)
{
	if (!src)
		src = "";
	size_t len = strlen(src);
	if (len >= cap)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

route *route_new(const route_config *cfg)
{
	if (!cfg || !cfg->new_id)
		return NULL;
	route *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = *cfg;
	return r;
}

void route_leg_free(struct route_leg *leg)
{
	if (!leg)
		return;
	free(leg->ringing);
	free(leg);
}

static void visit_free(struct route_visit *v)
{
	struct route_leg *leg = v->legs;
	while (leg) {
		struct route_leg *next = leg->next;
		route_leg_free(leg);
		leg = next;
	}
	free(v);
}

void route_free(route *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_visits; i++)
		visit_free(r->visits[i]);
	for (int i = 0; i < r->n_depts; i++) {
		free(r->depts[i]->queue);
		free(r->depts[i]);
	}
	for (int i = 0; i < r->n_sessions; i++)
		free(r->sessions[i]);
	free(r->visits);
	free(r->depts);
	free(r->sessions);
	free(r->acts);
	free(r);
}

/* ---- lookups ---- */

struct route_dept *route_dept_find(const route *r, const char *id)
{
	if (!id)
		return NULL;
	for (int i = 0; i < r->n_depts; i++)
		if (strcmp(r->depts[i]->id, id) == 0)
			return r->depts[i];
	return NULL;
}

struct route_session *route_session_find(const route *r, uint32_t sid)
{
	if (sid == 0)
		return NULL;
	for (int i = 0; i < r->n_sessions; i++)
		if (r->sessions[i]->sid == sid)
			return r->sessions[i];
	return NULL;
}

struct route_visit *route_visit_find(const route *r, const char *id)
{
	if (!id)
		return NULL;
	for (int i = 0; i < r->n_visits; i++)
		if (strcmp(r->visits[i]->id, id) == 0)
			return r->visits[i];
	return NULL;
}

int route_session_in_dept(const struct route_session *s, const char *dept)
{
	if (s->role != ROUTE_ROLE_STAFF)
		return 0;
	for (int i = 0; i < s->n_depts; i++)
		if (strcmp(s->depts[i], dept) == 0)
			return 1;
	return 0;
}

/* A desk that would ring for a waiting visit of dept now. */
static int desk_free_in(const struct route_session *s, const char *dept)
{
	return s->available && !s->visit && route_session_in_dept(s, dept);
}

/* ---- visits and legs ---- */

struct route_leg *route_leg_alloc(route *r, struct route_dept *d, const char *procedure)
{
	struct route_leg *leg = calloc(1, sizeof(*leg));
	if (!leg)
		return NULL;
	r->cfg.new_id(r->cfg.user, leg->id);
	leg->id[ROUTE_UUID_LEN - 1] = '\0';
	leg->dept = d;
	route_copy_id(leg->procedure, sizeof(leg->procedure), procedure);
	leg->state = ROUTE_LEG_WAITING;
	return leg;
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
	visit_free(v);
}

int route_visit_parties(const struct route_visit *v, uint32_t out[ROUTE_MAX_PARTIES])
{
	int n = 0;
	out[n++] = v->kiosk;
	for (const struct route_leg *leg = v->legs; leg; leg = leg->next)
		if (leg->state == ROUTE_LEG_ANSWERED && n < ROUTE_MAX_PARTIES)
			out[n++] = leg->staff;
	return n;
}

struct route_leg *route_visit_current_leg(const struct route_visit *v)
{
	for (struct route_leg *leg = v->legs; leg; leg = leg->next)
		if (leg->state != ROUTE_LEG_ENDED)
			return leg;
	return NULL;
}

/* ---- queues and rings ---- */

int route_enqueue(struct route_leg *leg, int at_head)
{
	struct route_dept *d = leg->dept;
	if (route_grow((void **)&d->queue, &d->cap_queue, d->n_queue + 1, sizeof(d->queue[0])))
		return -1;
	if (at_head) {
		memmove(&d->queue[1], &d->queue[0], (size_t)d->n_queue * sizeof(d->queue[0]));
		d->queue[0] = leg;
	} else {
		d->queue[d->n_queue] = leg;
	}
	d->n_queue++;
	d->queue_dirty = 1;
	return 0;
}

void route_dequeue(struct route_leg *leg)
{
	struct route_dept *d = leg->dept;
	for (int i = 0; i < d->n_queue; i++) {
		if (d->queue[i] == leg) {
			memmove(&d->queue[i], &d->queue[i + 1],
			        (size_t)(d->n_queue - i - 1) * sizeof(d->queue[0]));
			d->n_queue--;
			d->queue_dirty = 1;
			return;
		}
	}
}

int route_ring_has(const struct route_leg *leg, uint32_t sid)
{
	for (int i = 0; i < leg->n_ringing; i++)
		if (leg->ringing[i] == sid)
			return 1;
	return 0;
}

void route_ring_remove(struct route_leg *leg, uint32_t sid)
{
	for (int i = 0; i < leg->n_ringing; i++) {
		if (leg->ringing[i] == sid) {
			memmove(&leg->ringing[i], &leg->ringing[i + 1],
			        (size_t)(leg->n_ringing - i - 1) * sizeof(leg->ringing[0]));
			leg->n_ringing--;
			return;
		}
	}
}

void route_ring_cancel_all(route *r, struct route_leg *leg, const char *reason, int64_t now_us)
{
	for (int i = 0; i < leg->n_ringing; i++) {
		/* A desk that left is already gone: nobody to tell. */
		if (!route_session_find(r, leg->ringing[i]))
			continue;
		route_action *a = route_emit(r, ROUTE_ACT_RING_CANCELLED, leg->ringing[i], now_us);
		route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
		route_copy_id(a->reason, sizeof(a->reason), reason);
	}
	leg->n_ringing = 0;
}

/* ---- actions ---- */

route_action *route_emit(route *r, enum route_action_kind kind, uint32_t to, int64_t now_us)
{
	route_action *a;
	if (r->act_head == r->act_tail)
		r->act_head = r->act_tail = 0;
	if (route_grow((void **)&r->acts, &r->cap_acts, r->act_tail + 1, sizeof(r->acts[0]))) {
		/* Out of memory: the caller still fills something, but it is dropped. */
		r->lost_acts++;
		a = &r->scratch;
	} else {
		a = &r->acts[r->act_tail++];
	}
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->to = to;
	a->at_us = now_us;
	return a;
}

route_action *route_emit_record(route *r, enum route_record_kind kind, const struct route_leg *leg,
                                const struct route_visit *v, int64_t now_us)
{
	route_action *a = route_emit(r, ROUTE_ACT_RECORD, 0, now_us);
	a->record = kind;
	route_copy_id(a->visit, sizeof(a->visit), v->id);
	a->kiosk = v->kiosk;
	route_copy_id(a->kiosk_ident, sizeof(a->kiosk_ident), v->kiosk_ident);
	if (leg) {
		if (kind != ROUTE_REC_VISIT_STARTED)
			route_copy_id(a->leg, sizeof(a->leg), leg->id);
		route_copy_id(a->department, sizeof(a->department), leg->dept->id);
		route_copy_id(a->procedure, sizeof(a->procedure), leg->procedure);
		a->staff = leg->staff;
		route_copy_id(a->staff_ident, sizeof(a->staff_ident), leg->staff_ident);
	}
	return a;
}

int route_next_action(route *r, route_action *out)
{
	if (!r || r->act_head == r->act_tail)
		return 0;
	*out = r->acts[r->act_head++];
	if (r->act_head == r->act_tail)
		r->act_head = r->act_tail = 0;
	return 1;
}

int route_pending_actions(const route *r)
{
	return r ? r->act_tail - r->act_head : 0;
}

uint64_t route_lost_actions(const route *r)
{
	return r ? r->lost_acts : 0;
}

/* ---- reconciliation ---- */

/* Who should feed session s now: for a kiosk the desks of its answered legs (the first is
 * primary), for a desk the kiosk it serves and then the other desks in that room. */
static int media_wanted(const struct route_session *s, uint32_t *primary,
                        uint32_t extra[ROUTE_MAX_EXTRA])
{
	uint32_t parties[ROUTE_MAX_PARTIES];
	int n_extra = 0;
	*primary = 0;
	if (!s->visit || (s->role == ROUTE_ROLE_STAFF && s->leg->state != ROUTE_LEG_ANSWERED))
		return 0;
	int n = route_visit_parties(s->visit, parties);
	if (n < 2)
		return 0; /* a kiosk alone in its visit (waiting) is fed by nobody */
	for (int i = 0; i < n; i++) {
		if (parties[i] == s->sid)
			continue;
		if (s->role == ROUTE_ROLE_KIOSK && i == 1)
			*primary = parties[i];
		else if (s->role == ROUTE_ROLE_STAFF && i == 0)
			*primary = parties[i];
		else if (n_extra < ROUTE_MAX_EXTRA)
			extra[n_extra++] = parties[i];
	}
	return n_extra;
}

static void reconcile_media(route *r, int64_t now_us)
{
	for (int i = 0; i < r->n_sessions; i++) {
		struct route_session *s = r->sessions[i];
		uint32_t primary, extra[ROUTE_MAX_EXTRA];
		int n_extra = media_wanted(s, &primary, extra);
		if (primary == s->media_primary && n_extra == s->media_n_extra &&
		    memcmp(extra, s->media_extra, (size_t)n_extra * sizeof(extra[0])) == 0)
			continue;
		s->media_primary = primary;
		s->media_n_extra = n_extra;
		memcpy(s->media_extra, extra, (size_t)n_extra * sizeof(extra[0]));
		route_action *a = route_emit(r, ROUTE_ACT_MEDIA, s->sid, now_us);
		a->primary = primary;
		a->n_extra = n_extra;
		memcpy(a->extra, extra, (size_t)n_extra * sizeof(extra[0]));
	}
}

static void emit_ringing(route *r, const struct route_leg *leg, uint32_t desk, int64_t now_us)
{
	route_action *a = route_emit(r, ROUTE_ACT_RINGING, desk, now_us);
	route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
	route_copy_id(a->department, sizeof(a->department), leg->dept->id);
	route_copy_id(a->procedure, sizeof(a->procedure), leg->procedure);
	a->kiosk = leg->visit->kiosk;
	a->waited_ms = (now_us - leg->queued_us) / 1000;
	a->onestop = 0;
}

/* Every waiting leg rings exactly the free desks of its department. A desk that stopped
 * being free is told why: "taken" when it is now in a call, "cancelled" when it went away.
 * A desk that left is dropped silently. */
static void reconcile_rings(route *r, int64_t now_us)
{
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		for (int q = 0; q < dept->n_queue; q++) {
			struct route_leg *leg = dept->queue[q];
			for (int i = 0; i < leg->n_ringing;) {
				struct route_session *s = route_session_find(r, leg->ringing[i]);
				if (s && desk_free_in(s, dept->id)) {
					i++;
					continue;
				}
				if (s) {
					route_action *a =
					    route_emit(r, ROUTE_ACT_RING_CANCELLED, s->sid, now_us);
					route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
					route_copy_id(a->reason, sizeof(a->reason),
					              s->visit ? "taken" : "cancelled");
				}
				route_ring_remove(leg, leg->ringing[i]);
			}
			for (int i = 0; i < r->n_sessions; i++) {
				struct route_session *s = r->sessions[i];
				if (!desk_free_in(s, dept->id) || route_ring_has(leg, s->sid))
					continue;
				/* Without memory for the ring list the desk simply does not ring
				 * now; the next reconciliation tries again. */
				if (route_grow((void **)&leg->ringing, &leg->cap_ringing,
				               leg->n_ringing + 1, sizeof(leg->ringing[0])))
					continue;
				leg->ringing[leg->n_ringing++] = s->sid;
				emit_ringing(r, leg, s->sid, now_us);
			}
		}
	}
}

static int estimate_s(const struct route_dept *d, int position)
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

static void reconcile_queues(route *r, int64_t now_us)
{
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		for (int q = 0; q < dept->n_queue; q++) {
			struct route_leg *leg = dept->queue[q];
			int est = estimate_s(dept, q + 1);
			if (leg->rep_position == q + 1 && leg->rep_estimate_s == est)
				continue;
			leg->rep_position = q + 1;
			leg->rep_estimate_s = est;
			uint32_t kiosk = leg->visit->kiosk;
			route_action *a = route_emit(r, ROUTE_ACT_QUEUED, kiosk, now_us);
			route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
			route_copy_id(a->department, sizeof(a->department), dept->id);
			a->position = q + 1;
			a->estimated_wait_s = est;
		}
	}
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		if (!dept->queue_dirty)
			continue;
		dept->queue_dirty = 0;
		route_action *a = route_emit(r, ROUTE_ACT_QUEUE, 0, now_us);
		route_copy_id(a->department, sizeof(a->department), dept->id);
	}
}

static int dept_available(const route *r, const struct route_dept *d)
{
	int n = 0;
	for (int i = 0; i < r->n_sessions; i++)
		if (desk_free_in(r->sessions[i], d->id))
			n++;
	return n;
}

static void reconcile_departments(route *r, int64_t now_us)
{
	int changed = 0;
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		int avail = dept_available(r, dept);
		if (dept->rep_open != dept->open || dept->rep_available != avail ||
		    dept->rep_queued != dept->n_queue)
			changed = 1;
		dept->rep_open = dept->open;
		dept->rep_available = avail;
		dept->rep_queued = dept->n_queue;
	}
	if (changed)
		route_emit(r, ROUTE_ACT_DEPARTMENTS, 0, now_us);
}

void route_reconcile(route *r, int64_t now_us)
{
	reconcile_media(r, now_us);
	reconcile_rings(r, now_us);
	reconcile_queues(r, now_us);
	reconcile_departments(r, now_us);
}

/* ---- departments ---- */

int route_department_add(route *r, const char *id, int open)
{
	if (!r || !id || !id[0] || strlen(id) >= ROUTE_ID_MAX)
		return ROUTE_ERR_BAD_REQUEST;
	if (route_dept_find(r, id))
		return ROUTE_ERR_CONFLICT;
	if (route_grow((void **)&r->depts, &r->cap_depts, r->n_depts + 1, sizeof(r->depts[0])))
		return ROUTE_ERR_INTERNAL;
	struct route_dept *d = calloc(1, sizeof(*d));
	if (!d)
		return ROUTE_ERR_INTERNAL;
	route_copy_id(d->id, sizeof(d->id), id);
	d->open = open ? 1 : 0;
	d->rep_open = d->open;
	d->rep_available = dept_available(r, d);
	r->depts[r->n_depts++] = d;
	return 0;
}

int route_department_set_open(route *r, const char *id, int open, int64_t now_us)
{
	struct route_dept *d = r ? route_dept_find(r, id) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	d->open = open ? 1 : 0;
	route_reconcile(r, now_us);
	return 0;
}

/* ---- accessors ---- */

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

const char *route_session_visit(const route *r, uint32_t sid)
{
	const struct route_session *s = r ? route_session_find(r, sid) : NULL;
	return s && s->visit ? s->visit->id : NULL;
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
	out->available = dept_available(r, d);
	out->queued = d->n_queue;
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
	const struct route_leg *leg = route_visit_current_leg(v);
	if (leg) {
		route_copy_id(out->department, sizeof(out->department), leg->dept->id);
		route_copy_id(out->procedure, sizeof(out->procedure), leg->procedure);
		out->connected = leg->state == ROUTE_LEG_ANSWERED;
	}
	out->n_parties = route_visit_parties(v, out->parties);
	return 0;
}
