/* The routing state machine's objects, lookups, queues and rings, its action queue, the
 * department configuration and the read-only accessors. Events live in route_call.c,
 * route_room.c and route_onestop.c; what they imply for media, rings and positions is
 * derived in route_reconcile.c. */
#include "routing/route_internal.h"

#include <stddef.h>
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

const char *route_step_state_name(enum route_step_state st)
{
	switch (st) {
	case ROUTE_STEP_PENDING:
		return "pending";
	case ROUTE_STEP_QUEUED:
		return "queued";
	case ROUTE_STEP_ACTIVE:
		return "active";
	case ROUTE_STEP_DONE:
		return "done";
	case ROUTE_STEP_SKIPPED:
		return "skipped";
	}
	return "?";
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

int route_id_ok(const char *id)
{
	return id && id[0] && strlen(id) < ROUTE_ID_MAX;
}

int route_optional_id_ok(const char *id)
{
	return !id || strlen(id) < ROUTE_ID_MAX;
}

route *route_new(const route_config *cfg)
{
	if (!cfg || !cfg->new_id)
		return NULL;
	route *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = *cfg;
	if (r->cfg.no_answer_us == 0)
		r->cfg.no_answer_us = (int64_t)ROUTE_DEFAULT_NO_ANSWER_S * 1000000;
	if (r->cfg.resume_us <= 0)
		r->cfg.resume_us = (int64_t)ROUTE_DEFAULT_RESUME_S * 1000000;
	return r;
}

void route_leg_free(struct route_leg *leg)
{
	if (!leg)
		return;
	free(leg->ringing);
	free(leg->tried);
	free(leg);
}

void route_visit_free(struct route_visit *v)
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
		route_visit_free(r->visits[i]);
	for (int i = 0; i < r->n_depts; i++) {
		free(r->depts[i]->queue);
		free(r->depts[i]);
	}
	for (int i = 0; i < r->n_sessions; i++)
		free(r->sessions[i]);
	for (int i = 0; i < r->n_menus; i++)
		free(r->menus[i]);
	free(r->menus);
	free(r->visits);
	free(r->depts);
	free(r->sessions);
	free(r->session_sids);
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
		if (r->session_sids[i] == sid)
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

int route_desk_free_in(const struct route_session *s, const char *dept)
{
	return s->available && !s->suspended && !s->visit && !s->room &&
	       route_session_in_dept(s, dept);
}

int route_dept_present(const route *r, const struct route_dept *d)
{
	int n = 0;
	for (int i = 0; i < r->n_sessions; i++) {
		const struct route_session *s = r->sessions[i];
		if (s->available && !s->suspended && route_session_in_dept(s, d->id))
			n++;
	}
	return n;
}

int route_dept_available(const route *r, const struct route_dept *d)
{
	int n = 0;
	for (int i = 0; i < r->n_sessions; i++)
		if (route_desk_free_in(r->sessions[i], d->id))
			n++;
	return n;
}

/* ---- queues and rings ---- */

int route_enqueue(struct route_leg *leg)
{
	struct route_dept *d = leg->dept;
	if (route_grow((void **)&d->queue, &d->cap_queue, d->n_queue + 1, sizeof(d->queue[0])))
		return -1;
	int at = d->n_queue;
	if (leg->priority) {
		at = 0;
		while (at < d->n_queue && d->queue[at]->priority)
			at++;
	}
	memmove(&d->queue[at + 1], &d->queue[at], (size_t)(d->n_queue - at) * sizeof(d->queue[0]));
	d->queue[at] = leg;
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
		struct route_session *s = route_session_find(r, leg->ringing[i]);
		if (!s || s->suspended)
			continue;
		route_act_reason *a = route_emit(r, ROUTE_ACT_RING_CANCELLED, s->sid, now_us);
		route_copy_id(a->visit, sizeof(a->visit), leg->visit->id);
		route_copy_id(a->reason, sizeof(a->reason), reason);
	}
	leg->n_ringing = 0;
}

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

/* ---- actions ---- */

/* The header of a queued action; its payload follows at ROUTE_PAYLOAD_OFF. */
struct route_qhdr {
	enum route_action_kind kind;
	uint32_t to;
	int64_t at_us;
};
#define ROUTE_PAYLOAD_OFF offsetof(route_action, ringing)
#define ROUTE_ACT_ALIGN   _Alignof(route_action)
_Static_assert(sizeof(struct route_qhdr) <= ROUTE_PAYLOAD_OFF, "queued header fits");
_Static_assert(ROUTE_PAYLOAD_OFF % ROUTE_ACT_ALIGN == 0, "payload aligned");

static size_t payload_size(enum route_action_kind kind, enum route_record_kind record)
{
	switch (kind) {
	case ROUTE_ACT_RINGING:
		return sizeof(route_act_ringing);
	case ROUTE_ACT_RING_CANCELLED:
	case ROUTE_ACT_ENDED:
		return sizeof(route_act_reason);
	case ROUTE_ACT_QUEUED:
		return sizeof(route_act_queued);
	case ROUTE_ACT_CONNECTED:
		return sizeof(route_act_connected);
	case ROUTE_ACT_QUEUE:
		return sizeof(route_act_queue);
	case ROUTE_ACT_DEPARTMENTS:
		return 0;
	case ROUTE_ACT_MEDIA:
		return sizeof(route_act_media);
	case ROUTE_ACT_RECORD:
		return record == ROUTE_REC_LEG_ENDED ? sizeof(route_act_record)
		                                     : offsetof(route_act_record, note);
	case ROUTE_ACT_CONTROL:
		return sizeof(route_act_control);
	case ROUTE_ACT_VISIT:
		return sizeof(route_act_visit);
	}
	return 0;
}

size_t route_action_size(enum route_action_kind kind, enum route_record_kind record)
{
	return ROUTE_PAYLOAD_OFF + payload_size(kind, record);
}

static size_t act_span(size_t payload)
{
	size_t n = ROUTE_PAYLOAD_OFF + payload;
	return (n + ROUTE_ACT_ALIGN - 1) / ROUTE_ACT_ALIGN * ROUTE_ACT_ALIGN;
}

static void *emit_sized(route *r, enum route_action_kind kind, uint32_t to, int64_t now_us,
                        size_t payload)
{
	if (r->n_acts == 0)
		r->act_head = r->act_tail = 0;
	size_t need = r->act_tail + act_span(payload);
	if (need > r->cap_acts) {
		size_t cap = r->cap_acts ? r->cap_acts : 4096;
		while (cap < need)
			cap *= 2;
		unsigned char *grown = realloc(r->acts, cap);
		if (!grown) {
			/* Out of memory: the caller still fills something, but it is dropped. */
			r->lost_acts++;
			memset(&r->scratch, 0, sizeof(r->scratch));
			return &r->scratch.ringing;
		}
		r->acts = grown;
		r->cap_acts = cap;
	}
	unsigned char *at = r->acts + r->act_tail;
	struct route_qhdr h = {.kind = kind, .to = to, .at_us = now_us};
	memcpy(at, &h, sizeof(h));
	memset(at + ROUTE_PAYLOAD_OFF, 0, payload);
	r->act_tail = need;
	r->n_acts++;
	return at + ROUTE_PAYLOAD_OFF;
}

void *route_emit(route *r, enum route_action_kind kind, uint32_t to, int64_t now_us)
{
	void *p = emit_sized(r, kind, to, now_us, payload_size(kind, ROUTE_REC_LEG_ENDED));
	if (kind == ROUTE_ACT_CONTROL)
		((route_act_control *)p)->mic = -1;
	return p;
}

route_act_record *route_emit_rec(route *r, enum route_record_kind kind, int64_t now_us)
{
	route_act_record *a =
	    emit_sized(r, ROUTE_ACT_RECORD, 0, now_us, payload_size(ROUTE_ACT_RECORD, kind));
	a->kind = kind;
	return a;
}

route_act_record *route_emit_record(route *r, enum route_record_kind kind,
                                    const struct route_leg *leg, const struct route_visit *v,
                                    int64_t now_us)
{
	route_act_record *a = route_emit_rec(r, kind, now_us);
	route_copy_id(a->visit, sizeof(a->visit), v->id);
	a->kiosk = v->kiosk;
	route_copy_id(a->kiosk_ident, sizeof(a->kiosk_ident), v->kiosk_ident);
	a->onestop = v->onestop;
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

void route_emit_audit(route *r, const struct route_session *s, const struct route_visit *v,
                      const struct route_leg *leg, const char *action, int64_t now_us)
{
	route_act_record *a = route_emit_record(r, ROUTE_REC_AUDIT, leg, v, now_us);
	a->staff = s->sid;
	route_copy_id(a->staff_ident, sizeof(a->staff_ident), s->ident);
	route_copy_id(a->reason, sizeof(a->reason), action);
}

void route_emit_ended(route *r, uint32_t to, const struct route_visit *v, const char *reason,
                      int64_t now_us)
{
	route_act_reason *a = route_emit(r, ROUTE_ACT_ENDED, to, now_us);
	route_copy_id(a->visit, sizeof(a->visit), v->id);
	route_copy_id(a->reason, sizeof(a->reason), reason);
}

int route_next_action(route *r, route_action *out)
{
	if (!r || r->n_acts == 0)
		return 0;
	const unsigned char *at = r->acts + r->act_head;
	struct route_qhdr h;
	memcpy(&h, at, sizeof(h));
	enum route_record_kind rec = ROUTE_REC_LEG_ENDED;
	if (h.kind == ROUTE_ACT_RECORD)
		memcpy(&rec, at + ROUTE_PAYLOAD_OFF + offsetof(route_act_record, kind),
		       sizeof(rec));
	size_t payload = payload_size(h.kind, rec);
	out->kind = h.kind;
	out->to = h.to;
	out->at_us = h.at_us;
	/* Only this kind's bytes: the rest of *out is left as it was, unread. */
	memcpy((unsigned char *)out + ROUTE_PAYLOAD_OFF, at + ROUTE_PAYLOAD_OFF, payload);
	if (h.kind == ROUTE_ACT_RECORD && payload < sizeof(route_act_record))
		out->record.note[0] = '\0';
	r->act_head += act_span(payload);
	if (--r->n_acts == 0)
		r->act_head = r->act_tail = 0;
	return 1;
}

int route_pending_actions(const route *r)
{
	return r ? r->n_acts : 0;
}

uint64_t route_lost_actions(const route *r)
{
	return r ? r->lost_acts : 0;
}

/* ---- departments ---- */

int route_department_add(route *r, const char *id, int open)
{
	if (!r || !route_id_ok(id))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_dept *known = route_dept_find(r, id);
	if (known && known->retired) {
		/* Back in the directory: the same object, so whatever points at it still does. */
		known->retired = 0;
		known->admin_open = open ? 1 : 0;
		return 0;
	}
	if (known)
		return ROUTE_ERR_CONFLICT;
	if (route_grow((void **)&r->depts, &r->cap_depts, r->n_depts + 1, sizeof(r->depts[0])))
		return ROUTE_ERR_INTERNAL;
	struct route_dept *d = calloc(1, sizeof(*d));
	if (!d)
		return ROUTE_ERR_INTERNAL;
	route_copy_id(d->id, sizeof(d->id), id);
	d->admin_open = d->open = open ? 1 : 0;
	d->ring = ROUTE_RING_ALL;
	d->ring_timeout_us = (int64_t)ROUTE_DEFAULT_RING_TIMEOUT_S * 1000000;
	d->rep_open = d->open;
	d->rep_available = route_dept_available(r, d);
	d->rep_staffed = route_dept_present(r, d);
	d->rep_estimate_s = route_dept_estimate_s(r, d);
	r->depts[r->n_depts++] = d;
	return 0;
}

int route_department_set_open(route *r, const char *id, int open, int64_t now_us)
{
	struct route_dept *d = r ? route_dept_find(r, id) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	d->admin_open = open && !d->retired ? 1 : 0;
	route_reconcile(r, now_us);
	return 0;
}

int route_department_configure(route *r, const char *id, const route_department_config *cfg,
                               int64_t now_us)
{
	struct route_dept *d = r ? route_dept_find(r, id) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	if (!cfg || (cfg->ring != ROUTE_RING_ALL && cfg->ring != ROUTE_RING_LONGEST_IDLE) ||
	    cfg->ring_timeout_us < 0)
		return ROUTE_ERR_BAD_REQUEST;
	if (cfg->has_hours) {
		for (int w = 0; w < 7; w++) {
			if (cfg->n_hours[w] < 0 || cfg->n_hours[w] > ROUTE_MAX_HOURS)
				return ROUTE_ERR_BAD_REQUEST;
			for (int i = 0; i < cfg->n_hours[w]; i++) {
				const route_interval *iv = &cfg->hours[w][i];
				if (iv->open_min < 0 || iv->open_min >= iv->close_min ||
				    iv->close_min > 1440)
					return ROUTE_ERR_BAD_REQUEST;
			}
		}
	}
	d->ring = cfg->ring;
	d->ring_timeout_us = cfg->ring_timeout_us ? cfg->ring_timeout_us
	                                          : (int64_t)ROUTE_DEFAULT_RING_TIMEOUT_S * 1000000;
	d->has_hours = cfg->has_hours ? 1 : 0;
	memset(d->hours, 0, sizeof(d->hours));
	memset(d->n_hours, 0, sizeof(d->n_hours));
	if (d->has_hours) {
		memcpy(d->hours, cfg->hours, sizeof(d->hours));
		memcpy(d->n_hours, cfg->n_hours, sizeof(d->n_hours));
	}
	/* Rings under the old strategy start afresh under the new one. */
	for (int q = 0; q < d->n_queue; q++) {
		route_ring_cancel_all(r, d->queue[q], "cancelled", now_us);
		d->queue[q]->n_tried = 0;
	}
	route_reconcile(r, now_us);
	return 0;
}

int route_department_retire(route *r, const char *id, int64_t now_us)
{
	struct route_dept *d = r ? route_dept_find(r, id) : NULL;
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	if (d->retired)
		return 0;
	d->retired = 1;
	d->admin_open = 0;
	route_reconcile(r, now_us);
	return 0;
}

int route_session_set_staff(route *r, uint32_t sid, const char *const *departments, int n,
                            unsigned flags, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_FORBIDDEN;
	if (n < 0 || n > ROUTE_MAX_STAFF_DEPTS || (n > 0 && !departments))
		return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n; i++)
		if (!route_id_ok(departments[i]))
			return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n; i++) {
		struct route_dept *d = route_session_in_dept(s, departments[i])
		                           ? NULL
		                           : route_dept_find(r, departments[i]);
		if (d)
			d->queue_dirty = 1; /* its new desk needs the waiting list */
	}
	for (int i = 0; i < n; i++)
		route_copy_id(s->depts[i], sizeof(s->depts[i]), departments[i]);
	s->n_depts = n;
	s->flags = flags;
	if (!(flags & ROUTE_FLAG_COORDINATOR))
		s->watching = 0;
	route_reconcile(r, now_us);
	return 0;
}
