/* What desks do to a room beyond accepting and ending: transfer the resident to another
 * department, invite another department in (three-way), relay volume and mic control to
 * the kiosk; and what any party does to its own media (share) or its visit afterwards
 * (survey). */
#include "routing/route_internal.h"

#include <string.h>

/* The checks transfer and invite share: s is a desk serving visit, department is open
 * and the visit waits nowhere yet. On success *vp and *dp are set. */
static int check_move(route *r, struct route_session *s, const char *visit, const char *department,
                      struct route_visit **vp, struct route_dept **dp, int64_t now_us)
{
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_FORBIDDEN;
	if (!visit || !route_id_ok(department))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_visit *v = route_visit_find(r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	if (s->visit != v || !s->leg)
		return ROUTE_ERR_FORBIDDEN;
	struct route_dept *d = route_dept_find(r, department);
	if (!d)
		return ROUTE_ERR_NOT_FOUND;
	if (!route_dept_open_at(r, d, now_us))
		return ROUTE_ERR_UNAVAILABLE;
	if (route_visit_waiting_leg(v) || v->n_steps >= ROUTE_MAX_STEPS)
		return ROUTE_ERR_CONFLICT;
	*vp = v;
	*dp = d;
	return 0;
}

int route_transfer(route *r, uint32_t sid, const char *visit, const char *department,
                   int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	struct route_visit *v;
	struct route_dept *d;
	int rc = check_move(r, s, visit, department, &v, &d, now_us);
	if (rc)
		return rc;
	struct route_leg *old = s->leg;
	int i = route_visit_insert_step(v, d);
	route_emit_ended(r, sid, v, "completed", now_us);
	route_leg_finish(r, old, "transferred", NULL, NULL, now_us);
	if (route_visit_queue_step(r, v, i, 1, NULL, "transfer", now_us) != 0) {
		route_visit_end(r, v, "dropped", "dropped", "dropped", NULL, NULL, now_us);
	} else {
		route_emit_audit(r, s, v, v->steps[i].leg, "transferred", now_us);
	}
	route_reconcile(r, now_us);
	return 0;
}

int route_invite(route *r, uint32_t sid, const char *visit, const char *department, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	struct route_visit *v;
	struct route_dept *d;
	int rc = check_move(r, s, visit, department, &v, &d, now_us);
	if (rc)
		return rc;
	uint32_t parties[ROUTE_MAX_PARTIES];
	if (route_visit_parties(v, parties) >= ROUTE_MAX_PARTIES)
		return ROUTE_ERR_CONFLICT;
	int i = route_visit_insert_step(v, d);
	if (route_visit_queue_step(r, v, i, 1, NULL, "invite", now_us) != 0) {
		/* Out of memory: take the step back out; nothing else changed. */
		memmove(&v->steps[i], &v->steps[i + 1],
		        (size_t)(v->n_steps - i - 1) * sizeof(v->steps[0]));
		v->n_steps--;
		for (int k = 0; k < v->n_steps; k++)
			if (v->steps[k].leg)
				v->steps[k].leg->step = k;
		return ROUTE_ERR_INTERNAL;
	}
	route_emit_audit(r, s, v, v->steps[i].leg, "invited", now_us);
	route_reconcile(r, now_us);
	return 0;
}

int route_control(route *r, uint32_t sid, const char *visit, uint32_t target, double volume,
                  int mic, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_STAFF)
		return ROUTE_ERR_FORBIDDEN;
	int has_volume = volume >= 0.0;
	if (!visit || volume != volume || (has_volume && volume > 1.0) || (!has_volume && mic < 0))
		return ROUTE_ERR_BAD_REQUEST;
	struct route_visit *v = route_visit_find(r, visit);
	if (!v)
		return ROUTE_ERR_NOT_FOUND;
	int serving = s->visit == v && s->leg && s->leg->state == ROUTE_LEG_ANSWERED;
	if (!serving && s->room != v)
		return ROUTE_ERR_FORBIDDEN;
	if (target != v->kiosk)
		return ROUTE_ERR_NOT_FOUND;
	route_act_control *a = route_emit(r, ROUTE_ACT_CONTROL, target, now_us);
	route_copy_id(a->visit, sizeof(a->visit), v->id);
	a->from = sid;
	a->has_volume = has_volume;
	a->volume = has_volume ? volume : 0.0;
	a->mic = mic < 0 ? -1 : (mic ? 1 : 0);
	return 0;
}

int route_share(route *r, uint32_t sid, int active, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (active && !s->share_seq)
		s->share_seq = ++r->share_counter;
	else if (!active)
		s->share_seq = 0;
	route_reconcile(r, now_us);
	return 0;
}

int route_survey(route *r, uint32_t sid, const char *visit, int rating, int64_t now_us)
{
	struct route_session *s = r ? route_session_find(r, sid) : NULL;
	if (!s)
		return ROUTE_ERR_NOT_FOUND;
	if (s->role != ROUTE_ROLE_KIOSK)
		return ROUTE_ERR_FORBIDDEN;
	if (!visit || rating < 1 || rating > 5)
		return ROUTE_ERR_BAD_REQUEST;
	int i = 0;
	while (i < ROUTE_SURVEY_KEEP && (!s->ended[i][0] || strcmp(s->ended[i], visit) != 0))
		i++;
	if (i == ROUTE_SURVEY_KEEP)
		return s->visit && strcmp(s->visit->id, visit) == 0 ? ROUTE_ERR_CONFLICT
		                                                    : ROUTE_ERR_NOT_FOUND;
	if (s->ended_rated[i])
		return ROUTE_ERR_CONFLICT;
	s->ended_rated[i] = 1;
	route_act_record *a = route_emit_rec(r, ROUTE_REC_SURVEY, now_us);
	route_copy_id(a->visit, sizeof(a->visit), visit);
	a->kiosk = sid;
	route_copy_id(a->kiosk_ident, sizeof(a->kiosk_ident), s->ident);
	a->rating = rating;
	return 0;
}
