/* Guests (interpreters): a session of role guest, admitted by the shell with a one-time
 * code, enters the room of one visit as a party after the coordinators and leaves it by
 * hangup, by going away, or when the visit ends. Its time in the room is recorded as a leg
 * of kind guest (RECORD GUEST_JOINED / GUEST_LEFT). A guest never keeps a visit alive. */
#include "routing/route_internal.h"

#include <string.h>

static struct route_leg *answered_leg_of(const struct route_visit *v)
{
	for (struct route_leg *leg = v->legs; leg; leg = leg->next)
		if (leg->state == ROUTE_LEG_ANSWERED)
			return leg;
	return NULL;
}

int route_guest_may_invite(const route *r, uint32_t sid, const char *visit)
{
	const struct route_session *s = r ? route_session_find((route *)r, sid) : NULL;
	if (!s || !visit)
		return ROUTE_ERR_NOT_FOUND;
	const struct route_visit *v = route_visit_find((route *)r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF || s->visit != v || !s->leg ||
	    s->leg->state != ROUTE_LEG_ANSWERED)
		return ROUTE_ERR_FORBIDDEN;
	return 0;
}

int route_guest_enter(route *r, uint32_t sid, const char *visit, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s || !visit)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_GUEST)
		return ROUTE_ERR_FORBIDDEN;
	struct route_visit *v = route_visit_find(r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	uint32_t parties[ROUTE_MAX_PARTIES];
	struct route_leg *leg = answered_leg_of(v);
	if (s->room || !leg || route_visit_parties(v, parties) >= ROUTE_MAX_PARTIES ||
	    v->n_guests >= ROUTE_MAX_PARTIES)
		return ROUTE_ERR_CONFLICT;
	int i = v->n_guests++;
	v->guests[i] = sid;
	r->cfg.new_id(r->cfg.user, v->guest_legs[i]);
	s->room = v;
	route_act_record *a = route_emit_record(r, ROUTE_REC_GUEST_JOINED, NULL, v, now_us);
	route_copy_id(a->leg, sizeof(a->leg), v->guest_legs[i]);
	route_copy_id(a->department, sizeof(a->department), leg->dept->id);
	route_reconcile(r, now_us);
	return 0;
}

void route_guest_remove_at(route *r, struct route_visit *v, int i, const char *reason,
                           int64_t now_us)
{
	struct route_session *g = route_session_find(r, v->guests[i]);
	if (g && g->room == v)
		g->room = NULL;
	route_act_record *a = route_emit_record(r, ROUTE_REC_GUEST_LEFT, NULL, v, now_us);
	route_copy_id(a->leg, sizeof(a->leg), v->guest_legs[i]);
	route_copy_id(a->reason, sizeof(a->reason), reason);
	memmove(&v->guests[i], &v->guests[i + 1], (size_t)(v->n_guests - i - 1) * sizeof(v->guests[0]));
	memmove(&v->guest_legs[i], &v->guest_legs[i + 1],
	        (size_t)(v->n_guests - i - 1) * sizeof(v->guest_legs[0]));
	v->n_guests--;
}

int route_guest_leave(route *r, uint32_t sid, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_GUEST)
		return ROUTE_ERR_FORBIDDEN;
	struct route_visit *v = s->room;
	if (!v)
		return ROUTE_ERR_CONFLICT;
	for (int i = 0; i < v->n_guests; i++)
		if (v->guests[i] == sid) {
			route_guest_remove_at(r, v, i, "left", now_us);
			break;
		}
	s->room = NULL;
	route_reconcile(r, now_us);
	return 0;
}
