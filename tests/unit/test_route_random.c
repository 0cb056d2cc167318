/* A randomized run of thousands of event sequences through every request, timer and
 * reconnect of the routing state machine, with time jumps driven through route_tick. A
 * model rebuilt only from the emitted actions is checked against the design's invariants
 * after every step: a session's media comes only from parties of its own room (so a
 * waiting kiosk sends and receives nothing); a visit is in at most one queue; a desk
 * serves at most one visit; rings go exactly to the desks that may answer; nothing is
 * said about a visit after it ended; errors emit nothing; every started leg ends with a
 * record; no event crashes the machine (ASan and UBSan watch). */
#include "route_fixture.h"

#define NK   4 /* kiosks 1..NK */
#define ND   8 /* desks NK+1..NK+ND; the last two are coordinators */
#define MAXS 32
#define MAXV 400
#define MAXL (8 * MAXV)

static const char *const rdepts[3] = {"a", "b", "c"}; /* b rings longest-idle; c has hours */

typedef struct model {
	int joined[MAXS], is_staff[MAXS], avail[MAXS], suspended[MAXS], coord[MAXS];
	unsigned depts[MAXS];
	uint32_t primary[MAXS], document[MAXS];
	uint32_t extra[MAXS][ROUTE_MAX_EXTRA];
	int n_extra[MAXS];
	char rings[MAXS][MAXV];
	char visit_id[MAXV][ROUTE_UUID_LEN];
	uint32_t visit_kiosk[MAXV];
	int visit_open[MAXV], last_position[MAXV];
	uint32_t visit_coords[MAXV]; /* bit sid: coordinator in the room */
	int n_visits;
	char leg_id[MAXL][ROUTE_UUID_LEN];
	int leg_visit[MAXL], leg_ended[MAXL];
	uint32_t leg_staff[MAXL];
	int n_legs;
	int violations;
} model;

static struct {
	long answered, three_way, transferred, invited, onestop_next, patched, joined, finished,
	    no_answer, closed, resumed, expired, turned, surveys, coordinator_kept, desk_dropped;
} reached;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33) % n;
}

static int visit_index(const model *m, const char *id)
{
	return id_index((const char(*)[ROUTE_UUID_LEN])m->visit_id, m->n_visits, id);
}

static int leg_index(const model *m, const char *id)
{
	return id_index((const char(*)[ROUTE_UUID_LEN])m->leg_id, m->n_legs, id);
}

static int seed_now, step_now;
static void violation(model *m, const char *what)
{
	if (m->violations++ < 10)
		fprintf(stderr, "  random seed %d step %d: %s\n", seed_now, step_now, what);
}

static int desks_in_room(const model *m, int v)
{
	int n = 0;
	for (int l = 0; l < m->n_legs; l++)
		n += m->leg_visit[l] == v && !m->leg_ended[l] && m->leg_staff[l];
	return n;
}

static int in_room(const model *m, int v, uint32_t sid)
{
	if (!m->visit_open[v])
		return 0;
	if (m->visit_kiosk[v] == sid || (m->visit_coords[v] >> sid & 1u))
		return 1;
	for (int l = 0; l < m->n_legs; l++)
		if (m->leg_visit[l] == v && !m->leg_ended[l] && m->leg_staff[l] == sid)
			return 1;
	return 0;
}

static int room_of(const model *m, uint32_t sid)
{
	for (int v = 0; v < m->n_visits; v++)
		if (in_room(m, v, sid) && (m->visit_kiosk[v] != sid || 1))
			if (m->visit_kiosk[v] != sid || m->visit_open[v])
				return v;
	return -1;
}

static int room_size(const model *m, int v)
{
	int n = 1 + desks_in_room(m, v);
	for (uint32_t s = 1; s < MAXS; s++)
		n += m->visit_coords[v] >> s & 1u;
	return n;
}

static void apply_record(model *m, const route_act_record *a, int v)
{
	int l;
	switch (a->kind) {
	case ROUTE_REC_GUEST_JOINED: /* the random walk makes no guests */
	case ROUTE_REC_GUEST_LEFT:
		violation(m, "guest record without guests");
		return;
	case ROUTE_REC_VISIT_STARTED:
		if (v >= 0 || m->n_visits >= MAXV) {
			violation(m, "visit started twice");
			return;
		}
		v = m->n_visits++;
		snprintf(m->visit_id[v], ROUTE_UUID_LEN, "%s", a->visit);
		m->visit_kiosk[v] = a->kiosk;
		m->visit_open[v] = 1;
		return;
	case ROUTE_REC_LEG_QUEUED:
		if (v < 0 || !m->visit_open[v] || leg_index(m, a->leg) >= 0 || m->n_legs >= MAXL) {
			violation(m, "bad leg_queued");
			return;
		}
		l = m->n_legs++;
		snprintf(m->leg_id[l], ROUTE_UUID_LEN, "%s", a->leg);
		m->leg_visit[l] = v;
		m->leg_staff[l] = 0;
		m->leg_ended[l] = 0;
		reached.onestop_next += strcmp(a->via, "onestop") == 0;
		return;
	case ROUTE_REC_LEG_ANSWERED:
		l = leg_index(m, a->leg);
		if (l < 0 || m->leg_ended[l] || m->leg_staff[l]) {
			violation(m, "bad leg_answered");
			return;
		}
		m->leg_staff[l] = a->staff;
		reached.answered++;
		reached.three_way += desks_in_room(m, v) >= 2;
		return;
	case ROUTE_REC_LEG_ENDED:
		l = leg_index(m, a->leg);
		if (l < 0 || m->leg_ended[l]) {
			violation(m, "leg ended twice or never started");
			return;
		}
		m->leg_ended[l] = 1;
		reached.no_answer += strcmp(a->reason, "no_answer") == 0;
		reached.closed += strcmp(a->reason, "closed") == 0;
		reached.desk_dropped += strcmp(a->reason, "dropped") == 0 && a->staff;
		return;
	case ROUTE_REC_VISIT_ENDED:
		if (v < 0 || !m->visit_open[v]) {
			violation(m, "visit ended twice");
			return;
		}
		m->visit_open[v] = 0;
		m->visit_coords[v] = 0;
		for (l = 0; l < m->n_legs; l++)
			if (m->leg_visit[l] == v && !m->leg_ended[l])
				violation(m, "visit ended with a leg open");
		return;
	case ROUTE_REC_SURVEY:
		if (v < 0 || m->visit_open[v] || a->rating < 1 || a->rating > 5)
			violation(m, "survey of an open or unknown visit");
		reached.surveys++;
		return;
	case ROUTE_REC_AUDIT:
		if (v < 0 || !m->visit_open[v] || !m->is_staff[a->staff]) {
			violation(m, "audit about a closed visit or by a non-desk");
			return;
		}
		if (strcmp(a->reason, "joined") == 0) {
			m->visit_coords[v] |= 1u << a->staff;
			reached.joined++;
		} else if (strcmp(a->reason, "left") == 0) {
			m->visit_coords[v] &= ~(1u << a->staff);
		}
		reached.transferred += strcmp(a->reason, "transferred") == 0;
		reached.invited += strcmp(a->reason, "invited") == 0;
		reached.patched += strcmp(a->reason, "patched") == 0;
		reached.finished += strcmp(a->reason, "finished") == 0;
		return;
	}
}

static void apply(model *m, const route_action *a)
{
	if (a->to && (a->to >= MAXS || !m->joined[a->to]))
		violation(m, "action to a session that is not joined");
	int v = act_visit(a)[0] ? visit_index(m, act_visit(a)) : -1;
	/* Nothing but a survey (and the last VISIT) mentions a visit after it ended. */
	if (v >= 0 && !m->visit_open[v] && a->kind != ROUTE_ACT_VISIT &&
	    !(a->kind == ROUTE_ACT_RECORD && a->record.kind == ROUTE_REC_SURVEY))
		violation(m, "action about an ended visit");
	switch (a->kind) {
	case ROUTE_ACT_MEDIA:
		m->primary[a->to] = a->media.primary;
		m->document[a->to] = a->media.document;
		m->n_extra[a->to] = a->media.n_extra;
		memcpy(m->extra[a->to], a->media.extra, sizeof(a->media.extra));
		break;
	case ROUTE_ACT_RINGING:
		if (v < 0 || m->rings[a->to][v])
			violation(m, "ringing twice or for an unknown visit");
		else
			m->rings[a->to][v] = 1;
		if (m->suspended[a->to])
			violation(m, "a suspended desk rang");
		break;
	case ROUTE_ACT_RING_CANCELLED:
		if (v < 0 || !m->rings[a->to][v])
			violation(m, "ring cancelled that was not ringing");
		else
			m->rings[a->to][v] = 0;
		break;
	case ROUTE_ACT_QUEUED:
		if (v >= 0)
			m->last_position[v] = a->queued.position;
		break;
	case ROUTE_ACT_CONTROL:
		if (v < 0 || m->visit_kiosk[v] != a->to || !in_room(m, v, a->control.from))
			violation(m, "control from outside the room");
		break;
	case ROUTE_ACT_RECORD:
		apply_record(m, &a->record, v);
		break;
	default:
		break;
	}
	/* The accepting desk's own ring ends silently with its accept. */
	if (a->kind == ROUTE_ACT_RECORD && a->record.kind == ROUTE_REC_LEG_ANSWERED && v >= 0)
		m->rings[a->record.staff][v] = 0;
}

/* May desk s ring for a waiting leg of department d now? */
static int free_desk(const model *m, uint32_t s, int d)
{
	return m->joined[s] && m->avail[s] && !m->suspended[s] && room_of(m, s) < 0 &&
	       (m->depts[s] >> d & 1u);
}

static void check_rings(route *r, model *m, char queued[MAXV])
{
	for (int d = 0; d < 3; d++) {
		route_queue_entry q[MAXV];
		int n = route_queue_list(r, rdepts[d], 0, q, MAXV);
		int ringing_b[MAXS] = {0};
		for (int i = 0; i < n; i++) {
			int v = visit_index(m, q[i].visit);
			if (v < 0 || queued[v] || !m->visit_open[v]) {
				violation(m, "visit in two queues, unknown or ended");
				continue;
			}
			queued[v] = 1;
			const char *kv = route_session_visit(r, q[i].kiosk);
			if (!kv || strcmp(kv, q[i].visit) != 0)
				violation(m, "queued visit not the kiosk's");
			if (room_size(m, v) == 1 && m->last_position[v] != i + 1)
				violation(m, "stale queue position");
			int n_ring = 0, could = 0;
			for (uint32_t s = NK + 1; s <= NK + ND; s++) {
				n_ring += m->rings[s][v];
				if (d != 1 && free_desk(m, s, d) != m->rings[s][v])
					violation(m, "ring set wrong");
				if (d == 1 && m->rings[s][v]) {
					if (!free_desk(m, s, d) || ringing_b[s]++)
						violation(
						    m,
						    "longest-idle ring to a busy or double desk");
				}
				could += d == 1 && free_desk(m, s, d);
			}
			if (d == 1 && n_ring > 1)
				violation(m, "longest-idle rings more than one desk");
			(void)could;
		}
		/* Longest-idle: a leg rings nobody only if every free desk rings for another. */
		if (d == 1) {
			for (int i = 0; i < n; i++) {
				int v = visit_index(m, q[i].visit), n_ring = 0;
				for (uint32_t s = NK + 1; s <= NK + ND && v >= 0; s++)
					n_ring += m->rings[s][v];
				for (uint32_t s = NK + 1; s <= NK + ND && v >= 0 && !n_ring; s++)
					if (free_desk(m, s, d) && !ringing_b[s])
						violation(m, "longest-idle leg rings nobody");
			}
		}
	}
}

static void check_invariants(route *r, model *m)
{
	for (uint32_t x = 1; x < MAXS; x++) {
		if (!m->joined[x])
			continue;
		uint32_t feeds[2 + ROUTE_MAX_EXTRA];
		int n = 0;
		if (m->primary[x])
			feeds[n++] = m->primary[x];
		if (m->document[x])
			feeds[n++] = m->document[x];
		for (int i = 0; i < m->n_extra[x]; i++)
			feeds[n++] = m->extra[x][i];
		int v = room_of(m, x);
		for (int i = 0; i < n; i++)
			if (feeds[i] == x || !m->joined[feeds[i]] || v < 0 ||
			    !in_room(m, v, feeds[i]))
				violation(m, "media fed from outside the room");
		if (v >= 0 && room_size(m, v) >= 2 && !m->primary[x])
			violation(m, "a party of a room is fed nothing");
		if (v >= 0 && x != m->visit_kiosk[v] && m->primary[x] != m->visit_kiosk[v])
			violation(m, "a desk or coordinator is not fed its kiosk");
		/* A desk or coordinator is in at most one room. */
		int rooms = 0;
		for (int w = 0; w < m->n_visits; w++)
			rooms += in_room(m, w, x);
		if (rooms > 1)
			violation(m, "session in two rooms");
		if (m->is_staff[x] && (route_session_visit(r, x) != NULL) != (rooms == 1))
			violation(m, "desk call state disagrees with records");
	}
	char queued[MAXV] = {0};
	check_rings(r, m, queued);
	for (uint32_t s = NK + 1; s <= NK + ND; s++)
		for (int v = 0; v < m->n_visits; v++)
			if (m->rings[s][v] && !queued[v])
				violation(m, "ringing for a visit that is not waiting");
	for (int v = 0; v < m->n_visits; v++)
		if (m->visit_open[v] && !route_session_visit(r, m->visit_kiosk[v]))
			violation(m, "open visit unknown to its kiosk");
}

static void forget_session(model *m, uint32_t sid)
{
	m->joined[sid] = m->suspended[sid] = 0;
	m->primary[sid] = m->document[sid] = 0;
	m->n_extra[sid] = 0;
	memset(m->rings[sid], 0, sizeof(m->rings[sid]));
	for (int v = 0; v < m->n_visits; v++)
		m->visit_coords[v] &= ~(1u << sid);
}

static const char *some_visit(const model *m)
{
	return m->n_visits && rnd(8) ? m->visit_id[rnd((uint32_t)m->n_visits)] : "zz";
}

/* A visit the session is in (mostly), to reach the paths behind the checks. */
static const char *visit_of(route *r, const model *m, uint32_t s)
{
	const char *v = route_session_visit(r, s);
	return v && rnd(5) ? v : some_visit(m);
}

static int staff_event(route *r, model *m, uint32_t d, int64_t now)
{
	const char *dep = rnd(12) ? rdepts[rnd(3)] : "nope";
	static const char *const outcomes[] = {"completed", "referred", "incomplete", "bogus"};
	switch (rnd(11)) {
	case 0:
	case 9:
	case 10: {
		for (uint32_t s = NK + 1; s <= NK + ND; s++) {
			if (!rnd(3))
				continue;
			for (int v = 0; v < m->n_visits; v++)
				if (m->rings[s][v] && rnd(2))
					return route_accept(r, s, m->visit_id[v], now);
		}
		return route_accept(r, d, some_visit(m), now);
	}
	case 1:
	case 2:
		return route_end(r, d, visit_of(r, m, d), outcomes[rnd(4)], rnd(2) ? "p2" : NULL,
		                 rnd(2) ? "note" : NULL, now);
	case 3:
		return route_transfer(r, d, visit_of(r, m, d), dep, now);
	case 4:
	case 8:
		return route_invite(r, d, visit_of(r, m, d), dep, now);
	case 5: {
		const char *v = visit_of(r, m, d);
		int vi = visit_index(m, v);
		uint32_t target = vi >= 0 && rnd(4) ? m->visit_kiosk[vi] : rnd(MAXS);
		double vol = rnd(3) ? (double)rnd(12) / 10.0 : -1.0;
		return route_control(r, d, v, target, vol, (int)rnd(3) - 1, now);
	}
	case 6: {
		int av = (int)rnd(2);
		int rc = route_presence(r, d, av, now);
		if (rc == 0)
			m->avail[d] = av;
		return rc;
	}
	default:
		return route_share(r, d, (int)rnd(2), now);
	}
}

static int coordinator_event(route *r, model *m, uint32_t c, int64_t now)
{
	const char *v = rnd(4) ? visit_of(r, m, c) : some_visit(m);
	if (m->n_visits && rnd(3) && !route_session_visit(r, c))
		v = m->visit_id[m->n_visits - 1 -
		                rnd((uint32_t)(m->n_visits < 4 ? m->n_visits : 4))];
	const char *its[3] = {rdepts[rnd(3)], rdepts[rnd(3)], rnd(10) ? rdepts[rnd(3)] : "nope"};
	switch (rnd(7)) {
	case 0:
		return route_watch(r, c, now);
	case 1:
		return route_onestop_set(r, c, v, its, (int)rnd(4), now);
	case 2:
		return route_patch(r, c, v, rnd(2) ? its[0] : NULL, now);
	case 3:
	case 4:
		return route_room_join(r, c, v, now);
	case 5:
		return route_room_leave(r, c, v, now);
	default:
		return route_finish(r, c, v, now);
	}
}

static int last_was_tick;

/* The operator changes the directory while everything runs (signal/live.c): a department
 * is retired or comes back, a menu is replaced, removed or added again, a clerk's
 * departments change. */
static int directory_event(route *r, model *m, int64_t now)
{
	const char *dep = rdepts[rnd(3)];
	switch (rnd(5)) {
	case 4: {
		/* A clerk's departments change while logged in (flags stay as they were). */
		uint32_t d = NK + 1 + rnd(ND);
		const char *ds[3];
		int n = 0;
		unsigned bits = rnd(8);
		for (int i = 0; i < 3; i++)
			if (bits & (1u << i))
				ds[n++] = rdepts[i];
		unsigned flags = d > NK + ND - 2 ? ROUTE_FLAG_COORDINATOR : 0;
		int rc = route_session_set_staff(r, d, ds, n, flags, now);
		if (rc == 0)
			m->depts[d] = bits;
		return rc;
	}
	case 0:
		return route_department_retire(r, dep, now);
	case 1: {
		int rc = route_department_add(r, dep, 1); /* conflict unless retired */
		return rc ? rc : route_department_set_open(r, dep, 1, now);
	}
	case 2: {
		const char *steps[3] = {rdepts[rnd(3)], rdepts[rnd(3)], rdepts[rnd(3)]};
		return route_onestop_menu_replace(r, "m1", steps, 1 + (int)rnd(3));
	}
	default:
		if (rnd(2))
			return route_onestop_menu_remove(r, "m2");
		return route_onestop_menu_replace(r, "m2", (const char *const[]){"c", "a"}, 2);
	}
}

static int random_event(fixture *f, model *m, int64_t *now)
{
	last_was_tick = 0;
	route *r = f->r;
	uint32_t k = 1 + rnd(NK), d = NK + 1 + rnd(ND);
	uint32_t any = rnd(3) ? (rnd(2) ? k : d) : rnd(MAXS);
	switch (rnd(20)) {
	case 0: {
		route_session_info info = {.role = ROUTE_ROLE_KIOSK, .ident = "k"};
		return route_session_join(r, k, &info, *now);
	}
	case 1: {
		const char *ds[3];
		int n = 0;
		unsigned bits = rnd(8);
		for (int i = 0; i < 3; i++)
			if (bits & (1u << i))
				ds[n++] = rdepts[i];
		int coordinator = d > NK + ND - 2;
		route_session_info info = {.role = ROUTE_ROLE_STAFF,
		                           .ident = "s",
		                           .departments = ds,
		                           .n_departments = n,
		                           .flags = coordinator ? ROUTE_FLAG_COORDINATOR : 0,
		                           .available = (int)rnd(2)};
		int rc = route_session_join(r, d, &info, *now);
		if (rc == 0) {
			m->depts[d] = bits;
			m->avail[d] = info.available;
			m->coord[d] = coordinator;
		}
		return rc;
	}
	case 2:
		if (rnd(2))
			return staff_event(r, m, d, *now);
		return route_session_leave(r, any, *now);
	case 3: {
		if (rnd(3))
			return staff_event(r, m, d, *now);
		int rc = route_session_suspend(r, any, *now);
		if (rc == 0 && any < MAXS) {
			m->suspended[any] = 1;
			memset(m->rings[any], 0, sizeof(m->rings[any])); /* dropped silently */
		}
		return rc;
	}
	case 4: {
		for (uint32_t s = 1; s < MAXS && rnd(6); s++)
			if (m->suspended[s])
				any = s;
		int rc = route_session_resume(r, any, *now);
		if (rc == 0 && any < MAXS) {
			m->suspended[any] = 0;
			reached.resumed++;
		}
		return rc;
	}
	case 5:
	case 6: {
		const char *dep = rnd(10) ? rdepts[rnd(3)] : "nope";
		return route_call(r, rnd(5) ? k : any, dep, rnd(2) ? "proc" : NULL, *now, NULL);
	}
	case 7:
		return route_call_onestop(r, rnd(5) ? k : any, rnd(6) ? "m1" : "m2", *now, NULL);
	case 8:
		return route_hangup(r, rnd(5) ? k : any, *now);
	case 9: {
		int v = m->n_visits ? (int)rnd((uint32_t)m->n_visits) : -1;
		return route_survey(r, v >= 0 && rnd(4) ? m->visit_kiosk[v] : any,
		                    v >= 0 ? m->visit_id[v] : "zz", (int)rnd(7), *now);
	}
	case 10:
		return route_share(r, k, (int)rnd(2), *now);
	case 11:
		if (rnd(2))
			return route_department_set_open(r, "c", rnd(3) != 0, *now);
		return directory_event(r, m, *now);
	case 12:
	case 13: {
		/* Time passes: sometimes seconds, sometimes past a timeout or the hours. */
		*now += rnd(4) ? rnd(12) * SEC : rnd(5) ? rnd(60) * SEC : rnd(400) * SEC;
		route_tick(r, *now);
		last_was_tick = 1;
		int64_t next = route_next_deadline(r);
		if (next >= 0 && next <= *now)
			violation(m, "a deadline already due after a tick");
		return 0;
	}
	default: {
		uint32_t c = NK + ND - 1 + rnd(2);
		if (rnd(2) && m->joined[c] && m->coord[c])
			return coordinator_event(r, m, c, *now);
		return staff_event(r, m, rnd(5) ? d : any, *now);
	}
	}
}

/* A session that left by an explicit leave is forgotten before its actions are applied
 * (it must get none); sessions whose resume window expired during a tick may still be
 * named by that tick's actions (one expiring session's departure can notify another that
 * expires a moment later; the shell drops those), so they are forgotten after. */
static void after_event(fixture *f, model *m, const uint32_t before[MAXS])
{
	uint32_t expired[MAXS];
	int n_expired = 0;
	for (uint32_t s = 1; s < MAXS; s++) {
		enum route_role role = route_session_role(f->r, s);
		if (!before[s] && role) {
			m->joined[s] = 1;
			m->is_staff[s] = role == ROUTE_ROLE_STAFF;
		} else if (before[s] && !role && m->suspended[s] && last_was_tick) {
			reached.expired++;
			expired[n_expired++] = s;
		} else if (before[s] && !role) {
			forget_session(m, s);
		}
	}
	route_action a;
	while (route_next_action(f->r, &a)) {
		reached.turned += a.kind == ROUTE_ACT_RING_CANCELLED &&
		                  !strcmp(a.ring_cancelled.reason, "cancelled");
		apply(m, &a);
	}
	for (int i = 0; i < n_expired; i++)
		forget_session(m, expired[i]);
	for (int v = 0; v < m->n_visits; v++)
		reached.coordinator_kept +=
		    m->visit_open[v] && m->visit_coords[v] && !desks_in_room(m, v);
	check_invariants(f->r, m);
}

static void setup_route(fixture *f)
{
	route_config cfg = {.no_answer_us = 300 * SEC, .resume_us = 30 * SEC, .tz_offset_s = 32400};
	fx_init_cfg(f, &cfg);
	route_department_add(f->r, "a", 1);
	route_department_add(f->r, "b", 1);
	route_department_add(f->r, "c", 1);
	route_department_config b = {.ring = ROUTE_RING_LONGEST_IDLE, .ring_timeout_us = 15 * SEC};
	CHECK_EQ_INT(route_department_configure(f->r, "b", &b, 0), 0);
	/* c is open in the first 20 minutes of every hour on weekdays: time jumps cross it. */
	route_department_config c = {.has_hours = 1};
	for (int w = 1; w <= 5; w++) {
		c.n_hours[w] = ROUTE_MAX_HOURS;
		for (int i = 0; i < ROUTE_MAX_HOURS; i++)
			c.hours[w][i] = (route_interval){i * 360, i * 360 + 200};
	}
	CHECK_EQ_INT(route_department_configure(f->r, "c", &c, 0), 0);
	const char *m1[3] = {"a", "b", "c"}, *m2[2] = {"c", "a"};
	CHECK_EQ_INT(route_onestop_menu_add(f->r, "m1", m1, 3), 0);
	CHECK_EQ_INT(route_onestop_menu_add(f->r, "m2", m2, 2), 0);
	drain(f);
}

static void run_random(int seed, int steps)
{
	fixture *f = calloc(1, sizeof(*f));
	model *m = calloc(1, sizeof(*m));
	seed_now = seed;
	setup_route(f);
	rng_state = (uint64_t)seed * 2654435761u + 7;
	/* Monday 2024-04-01 08:00 JST, give or take a few hours. */
	int64_t now = (1711926000LL + rnd(20) * 3600) * SEC;
	for (int step = 0; step < steps; step++) {
		step_now = step;
		now += rnd(3000) * 1000LL;
		uint32_t before[MAXS];
		for (uint32_t s = 0; s < MAXS; s++)
			before[s] = route_session_role(f->r, s);
		int rc = random_event(f, m, &now);
		if (rc != 0) {
			if (route_pending_actions(f->r) != 0)
				violation(m, "error with actions");
			continue;
		}
		after_event(f, m, before);
	}
	step_now = -1;
	for (uint32_t s = 1; s < MAXS; s++) {
		if (!m->joined[s])
			continue;
		uint32_t before[MAXS];
		for (uint32_t t = 0; t < MAXS; t++)
			before[t] = route_session_role(f->r, t);
		CHECK_EQ_INT(route_session_leave(f->r, s, now), 0);
		after_event(f, m, before);
	}
	for (int l = 0; l < m->n_legs; l++)
		if (!m->leg_ended[l])
			violation(m, "leg never ended");
	for (int v = 0; v < m->n_visits; v++)
		if (m->visit_open[v])
			violation(m, "visit never ended");
	/* Only c's business hours remain, within the week. */
	int64_t next = route_next_deadline(f->r);
	CHECK(next > now && next <= now + 7 * 24 * 3600 * SEC);
	CHECK_EQ_INT(m->violations, 0);
	CHECK_EQ_INT(route_lost_actions(f->r), 0);
	route_free(f->r);
	free(f);
	free(m);
}

int main(void)
{
	for (int seed = 1; seed <= 3000; seed++)
		run_random(seed, 200);
	printf("random: answered %ld, three-way %ld, transferred %ld, invited %ld, onestop next "
	       "%ld, patched %ld, joined %ld, finished %ld, no_answer %ld, closed %ld, resumed "
	       "%ld, expired %ld, rings turned %ld, surveys %ld, coordinator alone %ld, desk "
	       "dropped %ld\n",
	       reached.answered, reached.three_way, reached.transferred, reached.invited,
	       reached.onestop_next, reached.patched, reached.joined, reached.finished,
	       reached.no_answer, reached.closed, reached.resumed, reached.expired, reached.turned,
	       reached.surveys, reached.coordinator_kept, reached.desk_dropped);
	CHECK(reached.answered > 1000);
	CHECK(reached.three_way > 50);
	CHECK(reached.transferred > 100);
	CHECK(reached.invited > 100);
	CHECK(reached.onestop_next > 100);
	CHECK(reached.patched > 100);
	CHECK(reached.joined > 100);
	CHECK(reached.finished > 50);
	CHECK(reached.no_answer > 50);
	CHECK(reached.closed > 20);
	CHECK(reached.resumed > 100);
	CHECK(reached.expired > 100);
	CHECK(reached.turned > 100);
	CHECK(reached.surveys > 20);
	CHECK(reached.coordinator_kept > 100);
	CHECK(reached.desk_dropped > 100);
	return check_done("route_random");
}
