/* Time in the routing state machine: business hours, and the timers route_tick runs
 * (resume windows, longest-idle ring turns, no-answer limits). The machine reads no clock:
 * the shell calls route_tick at route_next_deadline, and business hours are evaluated at
 * the now_us of each event. */
#include "routing/route_internal.h"

#define US_PER_S    1000000LL
#define MIN_PER_DAY 1440
#define MIN_PER_WK  (7 * MIN_PER_DAY)

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* The local minute since the start of the week (Sunday 00:00) and the UTC time (us) at
 * which that minute started. 1970-01-01 was a Thursday, day 4. */
static int week_minute(const route *r, int64_t now_us, int64_t *minute_start_us)
{
	int64_t local_min = floor_div(floor_div(now_us, US_PER_S) + r->cfg.tz_offset_s, 60);
	if (minute_start_us)
		*minute_start_us = (local_min * 60 - r->cfg.tz_offset_s) * US_PER_S;
	int64_t m = (local_min + 4 * MIN_PER_DAY) % MIN_PER_WK;
	return (int)(m < 0 ? m + MIN_PER_WK : m);
}

int route_dept_open_at(const route *r, const struct route_dept *d, int64_t now_us)
{
	if (!d->admin_open)
		return 0;
	if (!d->has_hours)
		return 1;
	int m = week_minute(r, now_us, NULL);
	int day = m / MIN_PER_DAY, min = m % MIN_PER_DAY;
	for (int i = 0; i < d->n_hours[day]; i++)
		if (d->hours[day][i].open_min <= min && min < d->hours[day][i].close_min)
			return 1;
	return 0;
}

/* The next moment after now_us at which d's business hours open or close; -1 if never. */
static int64_t next_hours_change(const route *r, const struct route_dept *d, int64_t now_us)
{
	int64_t start;
	int m = week_minute(r, now_us, &start);
	int best = 0;
	for (int w = 0; w < 7; w++) {
		for (int i = 0; i < d->n_hours[w]; i++) {
			int edges[2] = {d->hours[w][i].open_min, d->hours[w][i].close_min};
			for (int e = 0; e < 2; e++) {
				int b = (w * MIN_PER_DAY + edges[e]) % MIN_PER_WK;
				int delta = ((b - m) % MIN_PER_WK + MIN_PER_WK) % MIN_PER_WK;
				if (delta == 0)
					delta =
					    MIN_PER_WK; /* this minute's change already applied */
				if (!best || delta < best)
					best = delta;
			}
		}
	}
	return best ? start + (int64_t)best * 60 * US_PER_S : -1;
}

static void earliest(int64_t *acc, int64_t t)
{
	if (t >= 0 && (*acc < 0 || t < *acc))
		*acc = t;
}

int64_t route_next_deadline(const route *r)
{
	int64_t when = -1;
	if (!r)
		return -1;
	for (int i = 0; i < r->n_sessions; i++)
		if (r->sessions[i]->suspended)
			earliest(&when, r->sessions[i]->suspended_us + r->cfg.resume_us);
	for (int d = 0; d < r->n_depts; d++) {
		const struct route_dept *dept = r->depts[d];
		for (int q = 0; q < dept->n_queue; q++) {
			const struct route_leg *leg = dept->queue[q];
			if (r->cfg.no_answer_us > 0)
				earliest(&when, leg->queued_us + r->cfg.no_answer_us);
			if (leg->preferred[0])
				earliest(&when, leg->preferred_until_us);
			if (dept->ring == ROUTE_RING_LONGEST_IDLE && leg->n_ringing > 0)
				earliest(&when, leg->ring_started_us + dept->ring_timeout_us);
		}
		if (dept->has_hours)
			earliest(&when, next_hours_change(r, dept, r->now_us));
	}
	return when;
}

static void expire_suspended(route *r, int64_t now_us)
{
	for (int i = 0; i < r->n_sessions;) {
		struct route_session *s = r->sessions[i];
		if (s->suspended && now_us >= s->suspended_us + r->cfg.resume_us)
			route_session_remove(r, s, now_us); /* shifts the list: same i again */
		else
			i++;
	}
}

/* A longest-idle ring that rang long enough moves on, if there is anyone to move to;
 * a lone desk keeps ringing with a fresh turn. */
static void turn_rings(route *r, int64_t now_us)
{
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		if (dept->ring != ROUTE_RING_LONGEST_IDLE)
			continue;
		for (int q = 0; q < dept->n_queue; q++) {
			struct route_leg *leg = dept->queue[q];
			if (leg->n_ringing == 0 ||
			    now_us < leg->ring_started_us + dept->ring_timeout_us)
				continue;
			uint32_t desk = leg->ringing[0];
			if (!route_idle_alternative(r, leg, desk)) {
				leg->ring_started_us = now_us;
				continue;
			}
			route_ring_cancel_all(r, leg, "cancelled", now_us);
			leg->last_timed_out = desk;
		}
	}
	/* The next desks are rung by the reconciliation that ends route_tick. */
}

static void expire_unanswered(route *r, int64_t now_us)
{
	if (r->cfg.no_answer_us <= 0)
		return;
again:
	for (int d = 0; d < r->n_depts; d++) {
		struct route_dept *dept = r->depts[d];
		for (int q = 0; q < dept->n_queue; q++) {
			struct route_leg *leg = dept->queue[q];
			if (now_us < leg->queued_us + r->cfg.no_answer_us)
				continue;
			struct route_visit *v = leg->visit;
			route_leg_finish(r, leg, "no_answer", NULL, NULL, now_us);
			route_visit_settle(r, v, "no_answer", now_us);
			goto again; /* queues changed under us */
		}
	}
}

void route_tick(route *r, int64_t now_us)
{
	if (!r)
		return;
	expire_suspended(r, now_us);
	turn_rings(r, now_us);
	expire_unanswered(r, now_us);
	route_reconcile(r, now_us);
}
