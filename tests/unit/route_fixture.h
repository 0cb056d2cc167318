/* The routing unit tests' shared fixture: a route with a counter as id generator, its
 * actions drained and described one line each so that a whole sequence can be compared
 * with a list of strings, and helpers to join kiosks and desks. Header-only (static
 * functions) so that each test_route_*.c stays one executable. */
#ifndef MDG_TEST_ROUTE_FIXTURE_H
#define MDG_TEST_ROUTE_FIXTURE_H

#include "check.h"
#include "routing/route.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000LL /* now_us per second */

/* Index of id in the first n entries of ids, or -1: the randomized tests' models keep their
 * visit and leg ids in such arrays. */
static inline int id_index(const char (*ids)[ROUTE_UUID_LEN], int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return i;
	return -1;
}

typedef struct fixture {
	route *r;
	int next_id;
	route_action acts[128];
	int n;
} fixture;

static void counter_id(void *user, char out[ROUTE_UUID_LEN])
{
	fixture *f = user;
	snprintf(out, ROUTE_UUID_LEN, "id%d", ++f->next_id);
}

/* cfg may be NULL; its user and new_id are replaced by the fixture's. */
static inline void fx_init_cfg(fixture *f, const route_config *cfg)
{
	memset(f, 0, sizeof(*f));
	route_config c = {0};
	if (cfg)
		c = *cfg;
	c.user = f;
	c.new_id = counter_id;
	f->r = route_new(&c);
}

static inline void fx_init(fixture *f)
{
	fx_init_cfg(f, NULL);
}

static inline void drain(fixture *f)
{
	f->n = 0;
	route_action a;
	while (route_next_action(f->r, &a))
		if (f->n < (int)(sizeof(f->acts) / sizeof(f->acts[0])))
			f->acts[f->n++] = a;
}

static inline const char *rec_name(enum route_record_kind k)
{
	switch (k) {
	case ROUTE_REC_VISIT_STARTED:
		return "visit_started";
	case ROUTE_REC_LEG_QUEUED:
		return "leg_queued";
	case ROUTE_REC_LEG_ANSWERED:
		return "leg_answered";
	case ROUTE_REC_LEG_ENDED:
		return "leg_ended";
	case ROUTE_REC_VISIT_ENDED:
		return "visit_ended";
	case ROUTE_REC_SURVEY:
		return "survey";
	case ROUTE_REC_AUDIT:
		return "audit";
	case ROUTE_REC_GUEST_JOINED:
		return "guest_joined";
	case ROUTE_REC_GUEST_LEFT:
		return "guest_left";
	}
	return "?";
}

static inline void sids(char *out, size_t cap, const uint32_t *v, int n)
{
	size_t len = (size_t)snprintf(out, cap, "[");
	for (int i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, i ? ",%u" : "%u", v[i]);
	if (len < cap)
		snprintf(out + len, cap - len, "]");
}

/* The visit an action concerns, "" for QUEUE, DEPARTMENTS and MEDIA (which name none). */
static inline const char *act_visit(const route_action *a)
{
	switch (a->kind) {
	case ROUTE_ACT_RINGING:
		return a->ringing.visit;
	case ROUTE_ACT_RING_CANCELLED:
		return a->ring_cancelled.visit;
	case ROUTE_ACT_QUEUED:
		return a->queued.visit;
	case ROUTE_ACT_CONNECTED:
		return a->connected.visit;
	case ROUTE_ACT_ENDED:
		return a->ended.visit;
	case ROUTE_ACT_RECORD:
		return a->record.visit;
	case ROUTE_ACT_CONTROL:
		return a->control.visit;
	case ROUTE_ACT_VISIT:
		return a->visit.view.visit;
	case ROUTE_ACT_QUEUE:
	case ROUTE_ACT_DEPARTMENTS:
	case ROUTE_ACT_MEDIA:
		break;
	}
	return "";
}

/* "d:state:desk,..." for a visit view. */
static inline void steps_str(char *out, size_t cap, const route_visit_view *w)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < w->n_steps && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s:%s:%u", i ? "," : "",
		                        w->steps[i].department,
		                        route_step_state_name(w->steps[i].state), w->steps[i].desk);
}

/* One line per action. Fields added after the 1:1 slice are appended only when set, so
 * the 1:1 expectations read as they always did. */
static inline void describe(const route_action *a, char *out, size_t cap)
{
	char list[128], steps[ROUTE_MAX_STEPS * 80];
	size_t len;
	switch (a->kind) {
	case ROUTE_ACT_RINGING: {
		const route_act_ringing *g = &a->ringing;
		snprintf(out, cap, "ringing %u %s %s k=%u w=%lld p=%s%s", a->to, g->visit,
		         g->department, g->kiosk, (long long)g->waited_ms, g->procedure,
		         g->onestop ? " onestop" : "");
		break;
	}
	case ROUTE_ACT_RING_CANCELLED:
		snprintf(out, cap, "ring_cancelled %u %s %s", a->to, a->ring_cancelled.visit,
		         a->ring_cancelled.reason);
		break;
	case ROUTE_ACT_QUEUED:
		snprintf(out, cap, "queued %u %s %s pos=%d est=%d", a->to, a->queued.visit,
		         a->queued.department, a->queued.position, a->queued.estimated_wait_s);
		break;
	case ROUTE_ACT_CONNECTED:
		sids(list, sizeof(list), a->connected.parties, a->connected.n_parties);
		snprintf(out, cap, "connected %u %s %s", a->to, a->connected.visit, list);
		break;
	case ROUTE_ACT_ENDED:
		snprintf(out, cap, "ended %u %s %s", a->to, a->ended.visit, a->ended.reason);
		break;
	case ROUTE_ACT_QUEUE:
		snprintf(out, cap, "queue %s", a->queue.department);
		break;
	case ROUTE_ACT_DEPARTMENTS:
		snprintf(out, cap, "departments");
		break;
	case ROUTE_ACT_MEDIA:
		sids(list, sizeof(list), a->media.extra, a->media.n_extra);
		len = (size_t)snprintf(out, cap, "media %u primary=%u extra=%s", a->to,
		                       a->media.primary, list);
		if (a->media.document && len < cap)
			snprintf(out + len, cap - len, " doc=%u", a->media.document);
		break;
	case ROUTE_ACT_RECORD: {
		const route_act_record *c = &a->record;
		len = (size_t)snprintf(
		    out, cap, "rec %s v=%s leg=%s d=%s p=%s k=%u/%s s=%u/%s r=%s n=%s w=%lld",
		    rec_name(c->kind), c->visit, c->leg, c->department, c->procedure, c->kiosk,
		    c->kiosk_ident, c->staff, c->staff_ident, c->reason, c->note,
		    (long long)c->waited_ms);
		if (c->via[0] && len < cap)
			len += (size_t)snprintf(out + len, cap - len, " via=%s", c->via);
		if (c->menu[0] && len < cap)
			len += (size_t)snprintf(out + len, cap - len, " menu=%s", c->menu);
		if (c->rating && len < cap)
			snprintf(out + len, cap - len, " rating=%d", c->rating);
		break;
	}
	case ROUTE_ACT_CONTROL: {
		const route_act_control *c = &a->control;
		snprintf(out, cap, "control %u %s from=%u vol=%s%.2f mic=%d", a->to, c->visit,
		         c->from, c->has_volume ? "" : "-", c->has_volume ? c->volume : 0.0,
		         c->mic);
		break;
	}
	case ROUTE_ACT_VISIT: {
		const route_visit_view *w = &a->visit.view;
		steps_str(steps, sizeof(steps), w);
		sids(list, sizeof(list), w->coordinators, w->n_coordinators);
		snprintf(out, cap, "visit %u %s [%s] c=%s%s%s", a->to, w->visit, steps, list,
		         w->ended ? " ended=" : "", w->ended ? w->reason : "");
		break;
	}
	}
}

/* Drains and compares with the NULL-terminated list of expected descriptions. */
#define EXPECT(f, ...) expect_actions(f, __LINE__, (const char *[]){__VA_ARGS__, NULL})

static inline void expect_actions(fixture *f, int line, const char **want)
{
	drain(f);
	int n_want = 0;
	while (want[n_want])
		n_want++;
	int bad = n_want != f->n;
	char got[ROUTE_MAX_STEPS * 80 + 256];
	for (int i = 0; i < f->n && i < n_want && !bad; i++) {
		describe(&f->acts[i], got, sizeof(got));
		bad = strcmp(got, want[i]) != 0;
	}
	CHECK(!bad);
	if (!bad)
		return;
	fprintf(stderr, "  line %d: action mismatch\n", line);
	for (int i = 0; i < f->n || i < n_want; i++) {
		got[0] = '\0';
		if (i < f->n)
			describe(&f->acts[i], got, sizeof(got));
		fprintf(stderr, "    got  %s\n    want %s\n", i < f->n ? got : "-",
		        i < n_want ? want[i] : "-");
	}
}

#define EXPECT_NONE(f) CHECK_EQ_INT(route_pending_actions((f)->r), 0)

static inline void join_kiosk(fixture *f, uint32_t sid, const char *ident)
{
	route_session_info info = {.role = ROUTE_ROLE_KIOSK, .ident = ident};
	CHECK_EQ_INT(route_session_join(f->r, sid, &info, 0), 0);
}

static inline void join_staff_flags(fixture *f, uint32_t sid, const char *ident, int available,
                                    int64_t now, const char *d1, const char *d2, unsigned flags)
{
	const char *depts[2] = {d1, d2};
	route_session_info info = {.role = ROUTE_ROLE_STAFF,
	                           .ident = ident,
	                           .departments = depts,
	                           .n_departments = d2   ? 2
	                                            : d1 ? 1
	                                                 : 0,
	                           .flags = flags,
	                           .available = available};
	CHECK_EQ_INT(route_session_join(f->r, sid, &info, now), 0);
}

static inline void join_staff(fixture *f, uint32_t sid, const char *ident, int available,
                              int64_t now, const char *d1, const char *d2)
{
	join_staff_flags(f, sid, ident, available, now, d1, d2, 0);
}

#endif
