/* The events of the routing state machine: sessions joining and leaving, presence, and the
 * life of a call (call, accept, hangup, end). Each handler validates everything first and
 * returns an error before touching any state, so a failed request changes nothing and emits
 * nothing; then it changes the state, emits the actions specific to the event
 * (notifications and records), and leaves the derived ones (media, rings, queue positions,
 * availability) to route_reconcile. */
#include "routing/route_internal.h"

#include <stdlib.h>
#include <string.h>

static int id_ok(const char *id)
{
	return id && id[0] && strlen(id) < ROUTE_ID_MAX;
}

static int optional_id_ok(const char *id)
{
	return !id || strlen(id) < ROUTE_ID_MAX;
}

static void emit_ended(route *r, uint32_t to, const struct route_visit *v, const char *reason,
                       int64_t now_us)
{
	route_action *a = route_emit(r, ROUTE_ACT_ENDED, to, now_us);
	route_copy_id(a->visit, sizeof(a->visit), v->id);
	route_copy_id(a->reason, sizeof(a->reason), reason);
}

static void end_leg_record(route *r, struct route_leg *leg, const char *reason, const char *note,
                           int64_t now_us)
{
	leg->state = ROUTE_LEG_ENDED;
	route_action *a = route_emit_record(r, ROUTE_REC_LEG_ENDED, leg, leg->visit, now_us);
	route_copy_id(a->reason, sizeof(a->reason), reason);
	route_copy_id(a->note, sizeof(a->note), note);
}

/* Ends a visit and every leg still open in it. Waiting legs leave their queue and their
 * desks stop ringing ("cancelled"); desks in the room and the kiosk get ENDED with
 * visit_reason, unless they already left (then they are no longer found). Legs end with
 * leg_reason; procedure (if not empty) replaces the leg's procedure in the record. The
 * visit is freed. */
static void end_visit(route *r, struct route_visit *v, const char *visit_reason,
                      const char *leg_reason, const char *procedure, const char *note,
                      int64_t now_us)
{
	for (struct route_leg *leg = v->legs; leg; leg = leg->next) {
		if (leg->state == ROUTE_LEG_WAITING) {
			route_dequeue(leg);
			route_ring_cancel_all(r, leg, "cancelled", now_us);
		} else if (leg->state == ROUTE_LEG_ANSWERED) {
			struct route_session *desk = route_session_find(r, leg->staff);
			if (desk && desk->visit == v) {
				emit_ended(r, desk->sid, v, visit_reason, now_us);
				desk->visit = NULL;
				desk->leg = NULL;
			}
		}
	}
	struct route_session *kiosk = route_session_find(r, v->kiosk);
	if (kiosk && kiosk->visit == v) {
		emit_ended(r, kiosk->sid, v, visit_reason, now_us);
		kiosk->visit = NULL;
	}
	for (struct route_leg *leg = v->legs; leg; leg = leg->next) {
		if (leg->state == ROUTE_LEG_ENDED)
			continue;
		if (procedure && procedure[0])
			route_copy_id(leg->procedure, sizeof(leg->procedure), procedure);
		end_leg_record(r, leg, leg_reason, note, now_us);
	}
	route_action *a = route_emit_record(r, ROUTE_REC_VISIT_ENDED, NULL, v, now_us);
	route_copy_id(a->reason, sizeof(a->reason), visit_reason);
	route_visit_destroy(r, v);
}

static void visit_add_leg(struct route_visit *v, struct route_leg *leg, int64_t now_us)
{
	leg->visit = v;
	leg->queued_us = now_us;
	if (v->last)
		v->last->next = leg;
	else
		v->legs = leg;
	v->last = leg;
}

/* ---- sessions ---- */

int route_session_join(route *r, uint32_t sid, const route_session_info *info, int64_t now_us)
{
	if (!r || !info || sid == 0)
		return ROUTE_ERR_BAD_REQUEST;
	if (info->role != ROUTE_ROLE_KIOSK && info->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_BAD_REQUEST;
	if (!optional_id_ok(info->ident))
		return ROUTE_ERR_BAD_REQUEST;
	int n_depts = info->role == ROUTE_ROLE_STAFF ? info->n_departments : 0;
	if (n_depts < 0 || n_depts > ROUTE_MAX_STAFF_DEPTS || (n_depts > 0 && !info->departments))
		return ROUTE_ERR_BAD_REQUEST;
	for (int i = 0; i < n_depts; i++)
		if (!id_ok(info->departments[i]))
			return ROUTE_ERR_BAD_REQUEST;
	if (route_session_find(r, sid))
		return ROUTE_ERR_CONFLICT;
	if (route_grow((void **)&r->sessions, &r->cap_sessions, r->n_sessions + 1,
	               sizeof(r->sessions[0])))
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
	r->sessions[r->n_sessions++] = s;
	route_reconcile(r, now_us);
	return 0;
}

/* The desk serving a visit left: its leg ends as dropped and the resident goes back to the
 * head of the same department's queue as a new leg. If there is no memory for the new leg
 * the visit ends as dropped instead, so nobody is left in a room with nobody. */
static void desk_dropped(route *r, struct route_session *desk, int64_t now_us)
{
	struct route_visit *v = desk->visit;
	struct route_leg *old = desk->leg;
	desk->visit = NULL;
	desk->leg = NULL;
	struct route_leg *leg = route_leg_alloc(r, old->dept, old->procedure);
	if (leg) {
		leg->visit = v;
		if (route_enqueue(leg, 1)) {
			route_leg_free(leg);
			leg = NULL;
		}
	}
	if (!leg) {
		end_visit(r, v, "dropped", "dropped", NULL, NULL, now_us);
		return;
	}
	end_leg_record(r, old, "dropped", NULL, now_us);
	visit_add_leg(v, leg, now_us);
	route_emit_record(r, ROUTE_REC_LEG_QUEUED, leg, v, now_us);
}

int route_session_leave(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	/* Unlink first: a session that left gets no further actions of its own. */
	for (int i = 0; i < r->n_sessions; i++) {
		if (r->sessions[i] == s) {
			memmove(&r->sessions[i], &r->sessions[i + 1],
			        (size_t)(r->n_sessions - i - 1) * sizeof(r->sessions[0]));
			r->n_sessions--;
			break;
		}
	}
	if (s->role == ROUTE_ROLE_KIOSK && s->visit)
		end_visit(r, s->visit, "dropped", "dropped", NULL, NULL, now_us);
	else if (s->role == ROUTE_ROLE_STAFF && s->visit)
		desk_dropped(r, s, now_us);
	free(s);
	/* Rings of the departed desk are dropped silently here. */
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
	s->available = available ? 1 : 0;
	route_reconcile(r, now_us);
	return 0;
}

/* ---- calls ---- */

int route_call(route *r, uint32_t sid, const char *department, const char *procedure,
               int64_t now_us, char visit_out[ROUTE_UUID_LEN])
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_KIOSK)
		return ROUTE_ERR_FORBIDDEN;
	if (!id_ok(department) || !optional_id_ok(procedure))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_dept *d = route_dept_find(r, department);
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	if (!d->open)
		return ROUTE_ERR_UNAVAILABLE;
	if (s->visit)
		return ROUTE_ERR_CONFLICT;

	/* Everything that can fail for lack of memory happens before the state changes. */
	if (route_grow((void **)&r->visits, &r->cap_visits, r->n_visits + 1, sizeof(r->visits[0])))
		return ROUTE_ERR_INTERNAL;
	struct route_visit *v = calloc(1, sizeof(*v));
	if (!v)
		return ROUTE_ERR_INTERNAL;
	r->cfg.new_id(r->cfg.user, v->id);
	v->id[ROUTE_UUID_LEN - 1] = '\0';
	struct route_leg *leg = route_leg_alloc(r, d, procedure);
	if (!leg) {
		free(v);
		return ROUTE_ERR_INTERNAL;
	}
	leg->visit = v;
	if (route_enqueue(leg, 0)) {
		route_leg_free(leg);
		free(v);
		return ROUTE_ERR_INTERNAL;
	}
	v->kiosk = sid;
	route_copy_id(v->kiosk_ident, sizeof(v->kiosk_ident), s->ident);
	v->started_us = now_us;
	visit_add_leg(v, leg, now_us);
	r->visits[r->n_visits++] = v;
	s->visit = v;

	route_emit_record(r, ROUTE_REC_VISIT_STARTED, leg, v, now_us);
	route_emit_record(r, ROUTE_REC_LEG_QUEUED, leg, v, now_us);
	route_reconcile(r, now_us);
	if (visit_out)
		memcpy(visit_out, v->id, ROUTE_UUID_LEN);
	return 0;
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
	struct route_leg *leg = route_visit_current_leg(v);
	if (!leg)
		return ROUTE_ERR_NOT_FOUND;
	if (!route_session_in_dept(s, leg->dept->id))
		return ROUTE_ERR_FORBIDDEN;
	if (leg->state != ROUTE_LEG_WAITING || s->visit || !route_ring_has(leg, sid))
		return ROUTE_ERR_CONFLICT;

	route_dequeue(leg);
	route_ring_remove(leg, sid);
	route_ring_cancel_all(r, leg, "taken", now_us);
	leg->state = ROUTE_LEG_ANSWERED;
	leg->staff = sid;
	route_copy_id(leg->staff_ident, sizeof(leg->staff_ident), s->ident);
	add_wait_sample(leg->dept, (now_us - leg->queued_us) / 1000);
	s->visit = v;
	s->leg = leg;

	uint32_t parties[ROUTE_MAX_PARTIES];
	int n = route_visit_parties(v, parties);
	for (int i = 0; i < n; i++) {
		route_action *a = route_emit(r, ROUTE_ACT_CONNECTED, parties[i], now_us);
		route_copy_id(a->visit, sizeof(a->visit), v->id);
		memcpy(a->parties, parties, (size_t)n * sizeof(parties[0]));
		a->n_parties = n;
	}
	route_action *a = route_emit_record(r, ROUTE_REC_LEG_ANSWERED, leg, v, now_us);
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
	const struct route_leg *leg = route_visit_current_leg(s->visit);
	if (leg && leg->state == ROUTE_LEG_ANSWERED)
		end_visit(r, s->visit, "completed", "completed", NULL, NULL, now_us);
	else
		end_visit(r, s->visit, "cancelled", "cancelled", NULL, NULL, now_us);
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
	if (!visit || !outcome_ok(outcome) || !optional_id_ok(procedure) ||
	    (note && strlen(note) >= ROUTE_NOTE_MAX))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_visit *v = route_visit_find(r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	if (s->visit != v)
		return ROUTE_ERR_FORBIDDEN;
	/* A plain visit ends with its only leg. One-stop itineraries and three-way rooms will
	 * end just this desk's leg here and move the resident on instead. */
	end_visit(r, v, "completed", outcome, procedure, note, now_us);
	route_reconcile(r, now_us);
	return 0;
}
