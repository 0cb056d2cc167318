/* Switches during the window (--switch-every): a call's desk sends `transfer` to another
 * department of this worker that has an idle desk of ours (docs/protocol.md: the desk
 * leaves, the resident goes to the head of that department's queue, which rings its
 * longest-idle desk); the desk that rings accepts at once, as the generator's desks always
 * do. No renegotiation: the kiosk's camera line keeps its SSRC and the server rewires it to
 * the new desk's camera and asks that desk for a keyframe. A switch's time runs from the
 * moment the transfer is sent to the moment the kiosk receives the first packet of a
 * keyframe whose payload is the new desk's (the generator knows every payload it sent: the
 * same fingerprints as the latency). Times to the ring and to the new desk's first packet
 * of any kind are kept too, to tell where the time goes. A switch that has not shown the
 * new picture within LOAD_SW_TIMEOUT_US failed.
 *
 * While a call switches, none of its packets count for loss or latency (the old desk's
 * stop being forwarded when the server takes the transfer, the new desk's start with the
 * accept, the kiosk's reach whichever desk the server holds); they count again from the
 * new picture on. Nor do the packets still on their way when the transfer is sent: the
 * server drops those that reach it after the desk left. A spare desk's packets never count:
 * an idle desk's media goes nowhere. */
#include "base/clock.h"
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const load_opts *opt;
static load_call *all;
static int n_calls, n_total;
static int active;     /* the window is open: new switches start */
static int64_t due_us; /* the earliest switch or timeout; INT64_MAX: none */
static load_switch_result res;

void load_switch_init(const load_opts *o, load_call *calls, int n, int total)
{
	opt = o;
	all = calls;
	n_calls = n;
	n_total = total;
	due_us = INT64_MAX;
}

static int switching(const load_call *c)
{
	return opt && opt->switch_every > 0 && c->index < opt->switch_calls;
}

void load_switch_start(int64_t now_us)
{
	memset(&res, 0, sizeof res);
	if (!opt || opt->switch_every <= 0)
		return;
	/* The switching calls spread evenly over a period, so that switches keep coming. */
	int k = opt->switch_calls < opt->calls ? opt->switch_calls : opt->calls;
	double period_us = opt->switch_every * 1e6;
	for (int i = 0; i < n_calls; i++) {
		load_call *c = &all[i];
		c->sw_next = switching(c) && c->sw_state != LOAD_SW_BROKEN
		                 ? now_us + (int64_t)(period_us * (c->index + 0.5) / k)
		                 : 0;
	}
	active = 1;
	due_us = now_us;
}

void load_switch_stop(void)
{
	active = 0;
}

static void record(int which, int64_t us)
{
	int64_t b = us / 1000;
	res.hist[which][b < LOAD_SW_BUCKETS - 1 ? b : LOAD_SW_BUCKETS - 1]++;
}

/* Idle desks of ours in department d, less the transfers on their way to it. */
static int free_desks(int d)
{
	int n = 0;
	for (int i = 0; i < n_total; i++) {
		const load_side *s = all[i].side[1];
		n += s->dept == d && !s->serving;
	}
	for (int i = 0; i < n_calls; i++)
		n -= all[i].sw_state == LOAD_SW_SENT && all[i].sw_dept == d;
	return n;
}

static void begin(load_call *c, int64_t now_us)
{
	load_side *desk = c->side[1];
	int target = -1;
	for (int k = 1; k < opt->departments && target < 0; k++) {
		int d = (desk->dept + k) % opt->departments;
		if (free_desks(d) > 0)
			target = d;
	}
	if (target < 0) {
		res.skipped++;
		return;
	}
	char dept[32];
	snprintf(dept, sizeof dept, "bench-%d", target);
	load_uncount_in_flight(c->side[0], c);
	load_uncount_in_flight(desk, c);
	c->sw_start = clock_mono_us();
	if (load_mado_send(desk, "transfer", "visit", c->visit, "department", dept) != 0) {
		c->sw_state = LOAD_SW_BROKEN;
		return;
	}
	/* From here the server may hand the old desk another visit: it serves nobody. */
	desk->serving = NULL;
	c->sw_state = LOAD_SW_SENT;
	c->sw_dept = target;
	c->sw_ring = c->sw_first = 0;
	res.started++;
}

static void finish(load_call *c, int64_t now_us)
{
	int64_t t = now_us - c->sw_start;
	if (t >= LOAD_SW_TIMEOUT_US)
		return; /* too late: the tick counts it as failed */
	record(0, c->sw_ring - c->sw_start);
	record(1, (c->sw_first ? c->sw_first : now_us) - c->sw_start);
	record(2, t);
	if ((uint64_t)t > res.max_us)
		res.max_us = (uint32_t)t;
	res.done++;
	res.with_request += synth_peer_stats(c->side[1]->peer)->keyframe_requests > c->sw_kreq;
	if (getenv("LOAD_TRACE"))
		fprintf(stderr, "switch: call %d to bench-%d: rang %.1f ms, first packet %.1f ms, "
		                "keyframe %.1f ms\n",
		        c->index, c->sw_dept, (c->sw_ring - c->sw_start) / 1e3,
		        (c->sw_first - c->sw_start) / 1e3, t / 1e3);
	c->sw_state = LOAD_SW_NONE;
	if (active && c->sw_next && c->sw_next < due_us)
		due_us = c->sw_next; /* its next switch was left out while this one ran */
}

void load_switch_tick(int64_t now_us)
{
	if (now_us < due_us)
		return;
	due_us = INT64_MAX;
	for (int i = 0; i < n_calls; i++) {
		load_call *c = &all[i];
		if ((c->sw_state == LOAD_SW_SENT || c->sw_state == LOAD_SW_ACCEPTED) &&
		    now_us - c->sw_start >= LOAD_SW_TIMEOUT_US) {
			res.failed++;
			fprintf(stderr, "load: call %d: no picture from the new desk %.1f s after the "
			                "transfer (%s)\n",
			        c->index, (now_us - c->sw_start) / 1e6,
			        c->sw_state == LOAD_SW_SENT ? "no desk rang" : "accepted");
			/* Never rung: the call is gone (the kiosk waits in a queue). */
			c->sw_state = c->sw_state == LOAD_SW_SENT ? LOAD_SW_BROKEN : LOAD_SW_NONE;
		}
		if (c->sw_state == LOAD_SW_SENT || c->sw_state == LOAD_SW_ACCEPTED) {
			int64_t t = c->sw_start + LOAD_SW_TIMEOUT_US;
			due_us = t < due_us ? t : due_us;
			continue;
		}
		if (!c->sw_next || c->sw_state != LOAD_SW_NONE)
			continue;
		if (active && now_us >= c->sw_next) {
			begin(c, now_us);
			if (c->sw_state == LOAD_SW_SENT && c->sw_start + LOAD_SW_TIMEOUT_US < due_us)
				due_us = c->sw_start + LOAD_SW_TIMEOUT_US;
			c->sw_next += (int64_t)(opt->switch_every * 1e6);
			if (c->sw_next <= now_us)
				c->sw_next = now_us + (int64_t)(opt->switch_every * 1e6);
		}
		if (active && c->sw_next < due_us && c->sw_state == LOAD_SW_NONE)
			due_us = c->sw_next;
	}
}

void load_switch_ring(load_side *desk, const char *visit, int64_t now_us)
{
	if (!opt || opt->switch_every <= 0 || desk->serving)
		return;
	load_call *c = NULL;
	for (int i = 0; i < n_calls && !c; i++)
		if (all[i].sw_state == LOAD_SW_SENT && strcmp(all[i].visit, visit) == 0)
			c = &all[i];
	if (!c)
		return;
	if (load_mado_send(desk, "accept", "visit", visit, NULL, NULL) != 0)
		return;
	desk->ringing[0] = 0;
	c->sw_ring = now_us;
	c->sw_kreq = synth_peer_stats(desk->peer)->keyframe_requests;
	/* The new desk takes the call's entry; the old one (whichever desk that entry held)
	 * takes the new desk's. */
	load_side *kiosk = c->side[0], *old = c->side[1];
	load_call *e = desk->call;
	e->side[1] = old;
	old->call = e;
	c->side[1] = desk;
	desk->call = c;
	desk->serving = c;
	kiosk->prev = kiosk->partner;
	kiosk->partner = desk;
	desk->partner = kiosk;
	c->sw_state = LOAD_SW_ACCEPTED;
}

/* The first packet of a VP8 keyframe (RFC 7741): S set with partition 0, then the payload
 * header's P bit clear. */
static int keyframe_start(const uint8_t *p, size_t len)
{
	if (len < 1 || !(p[0] & 0x10) || (p[0] & 0x07))
		return 0;
	size_t i = 1;
	if (p[0] & 0x80) {
		if (len < 2)
			return 0;
		uint8_t x = p[1];
		i = 2;
		if (x & 0x80) {
			if (i >= len)
				return 0;
			i += p[i] & 0x80 ? 2 : 1;
		}
		i += (x & 0x40) != 0;
		i += (x & 0x30) != 0;
	}
	return i < len && !(p[i] & 0x01);
}

void load_switch_video(load_side *kiosk, const uint8_t *payload, size_t len, int64_t now_us)
{
	load_call *c = kiosk->serving;
	if (!c->sw_first)
		c->sw_first = now_us;
	if (keyframe_start(payload, len))
		finish(c, now_us);
}

int load_switch_settled(load_call *calls, int n)
{
	for (int i = 0; i < n; i++)
		if (calls[i].sw_state == LOAD_SW_SENT || calls[i].sw_state == LOAD_SW_ACCEPTED)
			return 0;
	return 1;
}

void load_switch_result_get(load_switch_result *r)
{
	*r = res;
}
