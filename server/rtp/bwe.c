/* Downlink bandwidth estimation from transport-cc feedback; see bwe.h for the outline.
 *
 * The file reads top to bottom in the order a feedback packet is handled: look the packet
 * up in the send history, rebuild its arrival time, count it for the acknowledged bitrate
 * and the loss window, fold it into a send-time group, feed completed groups to the
 * trendline and the overuse detector, then let the rate controllers react once per
 * feedback packet. */
#include "rtp/bwe.h"

#include "rtp/twcc.h"

#include <string.h>

#define REF_TICK_US    64000    /* transport-cc reference time unit */
#define FORGET_US      10000000 /* sends older than this are not matched any more */
#define GROUP_US       5000     /* packets sent within 5 ms form one group */
#define GAP_RESET_US   3000000  /* a pause this long restarts the delay filter */
#define TREND_SMOOTH   0.9      /* exponential smoothing of the accumulated delay */
#define TREND_GAIN     4.0      /* scales the regression slope into a trend */
#define TREND_MAX_N    60       /* the slope counts more as evidence grows, up to this */
#define THR_INIT_MS    12.5     /* overuse threshold, adapts within THR_MIN..THR_MAX */
#define THR_MIN_MS     6.0
#define THR_MAX_MS     600.0
#define THR_K_UP       0.0087 /* the threshold grows slowly toward larger trends... */
#define THR_K_DOWN     0.039  /* ...and shrinks faster toward smaller ones */
#define THR_SPIKE_MS   15.0   /* trends this far above the threshold do not move it */
#define OVERUSE_MS     10.0   /* the trend must stay above the threshold this long */
#define BETA           0.85   /* decrease to this fraction of the acknowledged rate */
#define ACK_BUCKET_US  50000
#define ACK_WINDOW     10 /* buckets in the acknowledged-rate window (500 ms) */
#define ACK_MIN_US     200000
#define INCREASE_PER_S 0.08       /* multiplicative increase per second, far from congestion */
#define PACKET_BITS    (1200 * 8) /* additive increase: one such packet per response time */
#define CAP_FAR        1.15       /* acked above this x the congestion point: it moved up */
#define CAP_FAR_BPS    30000.0
#define ACKED_HEADROOM 1.5 /* never increase beyond 1.5 x acked + 10 kbit/s */
#define ACKED_SLACK    10000.0
#define LOSS_HIGH      0.10
#define LOSS_LOW       0.02
#define LOSS_WIN_PKTS  100 /* a loss window closes after this many packets and 500 ms, */
#define LOSS_WIN_US    500000
#define LOSS_WIN_MAXUS 1000000 /* or after a second with at least 20 */
#define LOSS_WIN_MINP  20
#define PROBE_GUARD_US 1000000 /* no cut below the floor this long after a probe round */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static double clamp_bps(double v)
{
	/* Written so that a NaN lands on the floor rather than in a cast. */
	if (!(v >= (double)BWE_MIN_BPS))
		return (double)BWE_MIN_BPS;
	if (v > (double)BWE_MAX_BPS)
		return (double)BWE_MAX_BPS;
	return v;
}

static void trend_reset(bwe *b)
{
	b->acc_delay_ms = 0;
	b->smooth_delay_ms = 0;
	b->trend_n = 0;
	b->trend_head = 0;
	b->num_deltas = 0;
	b->trend = 0;
	b->prev_trend = 0;
	b->overuse_ms = -1;
	b->overuse_count = 0;
	b->state = BWE_NORMAL;
}

void bwe_init(bwe *b, uint64_t initial_bps)
{
	if (!b)
		return;
	memset(b, 0, sizeof *b);
	trend_reset(b);
	b->threshold = THR_INIT_MS;
	b->delay_bps = clamp_bps((double)initial_bps);
	b->loss_bps = b->delay_bps;
	bwprobe_init(&b->probe);
}

void bwe_on_sent(bwe *b, uint16_t twcc_seq, size_t size, int64_t send_us)
{
	if (!b)
		return;
	bwe_sent *s = &b->sent[twcc_seq % BWE_HISTORY];
	s->seq = twcc_seq;
	s->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	s->send_us = send_us;
	s->used = 1;
	s->report = 0;
	s->cluster = 0;
	if (send_us > b->newest_send_us)
		b->newest_send_us = send_us;
}

void bwe_set_send_time(bwe *b, uint16_t twcc_seq, int64_t send_us)
{
	if (!b)
		return;
	bwe_sent *s = &b->sent[twcc_seq % BWE_HISTORY];
	if (!s->used || s->seq != twcc_seq || s->report != 0 || send_us < s->send_us)
		return;
	s->send_us = send_us;
	if (send_us > b->newest_send_us)
		b->newest_send_us = send_us;
}

void bwe_on_sent_probe(bwe *b, uint16_t twcc_seq, size_t size, int64_t send_us, int cluster)
{
	if (!b)
		return;
	bwe_on_sent(b, twcc_seq, size, send_us);
	b->sent[twcc_seq % BWE_HISTORY].cluster = cluster > 0 ? cluster : 0;
	bwprobe_on_sent(&b->probe, cluster, size, send_us);
}

/* ---- Acknowledged bitrate: bytes by arrival time in 50 ms buckets. ---- */

static uint64_t *ack_bucket(bwe *b, int64_t idx)
{
	int64_t m = idx % BWE_ACK_BUCKETS;
	return &b->ack_bytes[m < 0 ? m + BWE_ACK_BUCKETS : m];
}

static void ack_add(bwe *b, int64_t arrival_us, uint32_t size)
{
	int64_t idx = floor_div(arrival_us, ACK_BUCKET_US);
	if (!b->ack_started) {
		b->ack_started = 1;
		memset(b->ack_bytes, 0, sizeof b->ack_bytes);
		b->ack_head = idx;
		b->ack_first_us = arrival_us;
		b->ack_last_us = arrival_us;
	}
	if (idx > b->ack_head) {
		if (idx - b->ack_head >= BWE_ACK_BUCKETS)
			memset(b->ack_bytes, 0, sizeof b->ack_bytes);
		else
			for (int64_t i = b->ack_head + 1; i <= idx; i++)
				*ack_bucket(b, i) = 0;
		b->ack_head = idx;
	} else if (idx <= b->ack_head - BWE_ACK_BUCKETS) {
		return; /* older than anything kept */
	}
	*ack_bucket(b, idx) += size;
	if (arrival_us > b->ack_last_us)
		b->ack_last_us = arrival_us;
	if (arrival_us < b->ack_first_us)
		b->ack_first_us = arrival_us;
}

/* The rate over the last ACK_WINDOW buckets up to the newest arrival, or over everything
 * since the first arrival while that is shorter. Left unchanged until ACK_MIN_US of data. */
static void ack_update(bwe *b)
{
	if (!b->ack_started)
		return;
	int64_t oldest = b->ack_head - (ACK_WINDOW - 1);
	int64_t start = oldest * ACK_BUCKET_US;
	if (b->ack_first_us > start)
		start = b->ack_first_us;
	int64_t dur = b->ack_last_us - start;
	if (dur < ACK_MIN_US)
		return;
	uint64_t bytes = 0;
	for (int64_t i = oldest; i <= b->ack_head; i++)
		bytes += *ack_bucket(b, i);
	b->acked_bps = (uint64_t)((double)bytes * 8e6 / (double)dur);
}

/* ---- Delay: trendline over inter-group delay variation, overuse detection. ---- */

/* Moves the threshold toward the trend's magnitude, faster downward, so that it follows
 * the noise of the path without letting a standing queue look normal. */
static void threshold_adapt(bwe *b, double trend, int64_t at_us)
{
	if (b->last_threshold_us == 0)
		b->last_threshold_us = at_us;
	double mag = trend < 0 ? -trend : trend;
	int64_t dt_us = at_us - b->last_threshold_us;
	b->last_threshold_us = at_us;
	if (mag > b->threshold + THR_SPIKE_MS)
		return;
	if (dt_us < 0)
		dt_us = 0;
	if (dt_us > 100000)
		dt_us = 100000;
	double k = mag < b->threshold ? THR_K_DOWN : THR_K_UP;
	b->threshold += k * (mag - b->threshold) * (double)dt_us / 1000.0;
	if (b->threshold < THR_MIN_MS)
		b->threshold = THR_MIN_MS;
	if (b->threshold > THR_MAX_MS)
		b->threshold = THR_MAX_MS;
}

static void detect(bwe *b, double send_delta_ms, int64_t at_us)
{
	double t = b->trend;
	if (b->num_deltas < 2)
		return;
	if (t > b->threshold) {
		/* Overuse needs the trend above the threshold for a while, over more than one
		 * group, and not already falling: one late group is jitter, not a queue. */
		if (b->overuse_ms < 0)
			b->overuse_ms = send_delta_ms / 2;
		else
			b->overuse_ms += send_delta_ms;
		b->overuse_count++;
		if (b->overuse_ms > OVERUSE_MS && b->overuse_count > 1 && t >= b->prev_trend) {
			b->state = BWE_OVERUSING;
			b->overuse_ms = 0;
			b->overuse_count = 0;
		}
	} else if (t < -b->threshold) {
		b->overuse_ms = -1;
		b->overuse_count = 0;
		b->state = BWE_UNDERUSING;
	} else {
		b->overuse_ms = -1;
		b->overuse_count = 0;
		b->state = BWE_NORMAL;
	}
	b->prev_trend = t;
	threshold_adapt(b, t, at_us);
}

/* Least-squares slope of smoothed accumulated delay against arrival time. */
static double trend_slope(const bwe *b)
{
	double mx = 0, my = 0;
	for (int i = 0; i < b->trend_n; i++) {
		mx += b->trend_x[i];
		my += b->trend_y[i];
	}
	mx /= b->trend_n;
	my /= b->trend_n;
	double num = 0, den = 0;
	for (int i = 0; i < b->trend_n; i++) {
		num += (b->trend_x[i] - mx) * (b->trend_y[i] - my);
		den += (b->trend_x[i] - mx) * (b->trend_x[i] - mx);
	}
	return den > 0 ? num / den : 0;
}

/* One completed group against the previous one. */
static void group_delta(bwe *b, int64_t send_delta_us, int64_t arrival_delta_us, int64_t at_us)
{
	if (arrival_delta_us < 0)
		return; /* reordered on the path: says nothing about queues */
	if (arrival_delta_us > GAP_RESET_US || send_delta_us > GAP_RESET_US) {
		trend_reset(b);
		return;
	}
	if (b->trend_n == 0 && b->num_deltas == 0)
		b->first_arrival_us = at_us;
	if (b->num_deltas < TREND_MAX_N)
		b->num_deltas++;
	b->acc_delay_ms += (double)(arrival_delta_us - send_delta_us) / 1000.0;
	b->smooth_delay_ms =
	    TREND_SMOOTH * b->smooth_delay_ms + (1 - TREND_SMOOTH) * b->acc_delay_ms;
	b->trend_x[b->trend_head] = (double)(at_us - b->first_arrival_us) / 1000.0;
	b->trend_y[b->trend_head] = b->smooth_delay_ms;
	b->trend_head = (b->trend_head + 1) % BWE_TREND_WIN;
	if (b->trend_n < BWE_TREND_WIN)
		b->trend_n++;
	if (b->trend_n == BWE_TREND_WIN)
		b->trend = trend_slope(b) * b->num_deltas * TREND_GAIN;
	detect(b, (double)send_delta_us / 1000.0, at_us);
}

static void group_add(bwe *b, int64_t send_us, int64_t arrival_us)
{
	bwe_group *g = &b->cur;
	if (g->active && send_us < g->first_send_us)
		return; /* sent before the open group: late feedback, too old to place */
	if (g->active && send_us - g->first_send_us <= GROUP_US) {
		if (send_us > g->last_send_us)
			g->last_send_us = send_us;
		if (arrival_us > g->last_arrival_us)
			g->last_arrival_us = arrival_us;
		return;
	}
	if (g->active) {
		if (b->prev.active)
			group_delta(b, g->last_send_us - b->prev.last_send_us,
			            g->last_arrival_us - b->prev.last_arrival_us,
			            g->last_arrival_us);
		b->prev = *g;
	}
	g->active = 1;
	g->first_send_us = send_us;
	g->last_send_us = send_us;
	g->last_arrival_us = arrival_us;
}

/* ---- Feedback walk. ---- */

typedef struct walk_ctx {
	bwe *b;
	int64_t clock_us;    /* running arrival time in the receiver's clock */
	int64_t max_send_us; /* newest send time among newly received packets */
	int any_received;
} walk_ctx;

static bwe_sent *lookup(bwe *b, uint16_t seq)
{
	bwe_sent *s = &b->sent[seq % BWE_HISTORY];
	if (!s->used || s->seq != seq || b->newest_send_us - s->send_us > FORGET_US)
		return NULL;
	return s;
}

static void on_status(void *user, uint16_t seq, int received, int64_t delta_us)
{
	walk_ctx *c = user;
	bwe *b = c->b;
	if (received)
		c->clock_us += delta_us;
	bwe_sent *s = lookup(b, seq);
	if (!s)
		return;
	if (s->cluster > 0) {
		/* A probe packet: its fate belongs to its cluster, not to the media's loss,
		 * delivered rate or delay trend. */
		if (s->report == 2 || (s->report == 1 && !received))
			return;
		bwprobe_on_feedback(&b->probe, s->cluster, s->size, s->send_us,
		                    received ? (s->report == 1 ? 2 : 1) : 0, c->clock_us);
		s->report = received ? 2 : 1;
		return;
	}
	if (!received) {
		if (s->report == 0) {
			s->report = 1;
			b->win_lost++;
			b->win_expected++;
		}
		return;
	}
	if (s->report == 2)
		return; /* reported twice */
	if (s->report == 1) {
		/* Reported lost earlier, arrived after all: it was late, not lost. */
		if (b->win_lost > 0)
			b->win_lost--;
	} else {
		b->win_expected++;
	}
	s->report = 2;
	ack_add(b, c->clock_us, s->size);
	group_add(b, s->send_us, c->clock_us);
	if (!c->any_received || s->send_us > c->max_send_us)
		c->max_send_us = s->send_us;
	c->any_received = 1;
}

/* ---- Rate control. ---- */

static int guarded(const bwe *b, int64_t now_us)
{
	return b->probe_guard_until_us && now_us < b->probe_guard_until_us;
}

/* A cut to `to`, but not below the floor while a probe round is guarded. */
static double cut(const bwe *b, double to, int64_t now_us)
{
	if (guarded(b, now_us) && to < b->probe_floor_bps)
		return b->probe_floor_bps;
	return to;
}

static double estimate(const bwe *b)
{
	return clamp_bps(b->delay_bps < b->loss_bps ? b->delay_bps : b->loss_bps);
}

static int64_t rtt_or_default(const bwe *b)
{
	return b->rtt_us > 0 ? b->rtt_us : 200000;
}

static void note_congestion_point(bwe *b, double acked)
{
	if (acked <= 0)
		return;
	if (!b->cap_valid || acked < b->cap_bps * 0.5) {
		b->cap_bps = acked;
		b->cap_valid = 1;
	} else {
		b->cap_bps = 0.8 * b->cap_bps + 0.2 * acked;
	}
}

static void delay_increase(bwe *b, double dt_s, double acked)
{
	if (acked <= 0)
		return; /* nothing measured yet: no evidence for more */
	if (b->cap_valid && acked > b->cap_bps * CAP_FAR + CAP_FAR_BPS)
		b->cap_valid = 0; /* delivering well past the old limit: the path got better */
	double old = b->delay_bps, next;
	if (b->cap_valid) {
		/* Near the last congestion point: about one packet more per response time. */
		double response_s = (double)(rtt_or_default(b) + 100000) / 1e6;
		next = old + PACKET_BITS * dt_s / response_s;
	} else {
		next = old * (1 + INCREASE_PER_S * dt_s) + 1000 * dt_s; /* dt_s <= 1 */
	}
	/* Only what is really delivered justifies more; an app-limited stream neither pushes
	 * the estimate up nor pulls an earned one down. */
	double limit = ACKED_HEADROOM * acked + ACKED_SLACK;
	if (next > limit)
		next = old > limit ? old : limit;
	b->delay_bps = clamp_bps(next);
}

static void delay_control(bwe *b, int64_t now_us)
{
	if (b->last_update_us == 0)
		b->last_update_us = now_us;
	int64_t dt_us = now_us - b->last_update_us;
	b->last_update_us = now_us;
	if (dt_us < 0)
		dt_us = 0;
	if (dt_us > 1000000)
		dt_us = 1000000;
	double acked = (double)b->acked_bps;

	if (b->state == BWE_OVERUSING) {
		/* Once per round trip at most: the previous cut needs that long to show. */
		int64_t interval = rtt_or_default(b);
		if (interval < 10000)
			interval = 10000;
		if (interval > 200000)
			interval = 200000;
		if (b->last_decrease_us != 0 && now_us - b->last_decrease_us < interval)
			return;
		double target = cut(b, acked > 0 ? BETA * acked : BETA * b->delay_bps, now_us);
		if (target < b->delay_bps)
			b->delay_bps = clamp_bps(target);
		note_congestion_point(b, acked);
		b->last_decrease_us = now_us;
	} else if (b->state == BWE_NORMAL) {
		delay_increase(b, (double)dt_us / 1e6, acked);
	}
	/* Underusing: the queue is draining; hold until it is empty. */
}

static void loss_control(bwe *b, int64_t now_us)
{
	if (b->win_start_us == 0)
		b->win_start_us = now_us;
	int64_t elapsed = now_us - b->win_start_us;
	uint32_t n = b->win_expected;
	if (!((n >= LOSS_WIN_PKTS && elapsed >= LOSS_WIN_US) ||
	      (n >= LOSS_WIN_MINP && elapsed >= LOSS_WIN_MAXUS) || n >= 10 * LOSS_WIN_PKTS))
		return;
	double loss = n ? (double)b->win_lost / n : 0;
	double dt_s = elapsed < 0 ? 0 : (double)(elapsed > 2000000 ? 2000000 : elapsed) / 1e6;
	b->loss = loss;
	if (loss > LOSS_HIGH) {
		if (b->last_loss_decrease_us == 0 ||
		    now_us - b->last_loss_decrease_us >= 300000 + rtt_or_default(b)) {
			double to = cut(b, estimate(b) * (1 - 0.5 * loss), now_us);
			if (to < b->loss_bps)
				b->loss_bps = to;
			b->last_loss_decrease_us = now_us;
		}
	} else if (loss < LOSS_LOW) {
		double next = b->loss_bps * (1 + INCREASE_PER_S * dt_s) + 1000 * dt_s;
		/* No higher than the delay-based estimate, or a long clean spell would store up
		 * headroom that hides the next loss episode. */
		b->loss_bps = next < b->delay_bps ? next : b->delay_bps;
	}
	/* Between 2 and 10 %: retransmissions repair it; hold. */
	b->loss_bps = clamp_bps(b->loss_bps);
	b->win_lost = 0;
	b->win_expected = 0;
	b->win_start_us = now_us;
}

int bwe_on_feedback(bwe *b, const uint8_t *pkt, size_t len, int64_t now_us)
{
	twcc_fb fb;
	if (!b || twcc_parse(pkt, len, &fb, NULL, NULL) < 0) {
		if (b)
			b->malformed++;
		return -1;
	}
	/* Unwrap the 24-bit reference time against the previous feedback, so arrival times
	 * stay comparable across packets (and across its 12-day wrap). */
	if (!b->have_ref) {
		b->have_ref = 1;
		b->ref_unwrapped = fb.reference_time;
	} else {
		int32_t d =
		    (int32_t)(((uint32_t)fb.reference_time - (uint32_t)b->last_ref) & 0xffffffu);
		if (d >= 0x800000)
			d -= 0x1000000;
		b->ref_unwrapped += d;
	}
	b->last_ref = fb.reference_time;
	b->feedbacks++;

	walk_ctx c = {.b = b, .clock_us = b->ref_unwrapped * REF_TICK_US};
	twcc_parse(pkt, len, NULL, on_status, &c);

	if (c.any_received) {
		int64_t sample = now_us - c.max_send_us;
		if (sample >= 0 && sample < FORGET_US)
			b->rtt_us = b->rtt_us ? (7 * b->rtt_us + sample) / 8 : sample;
	}
	ack_update(b);
	delay_control(b, now_us);
	loss_control(b, now_us);
	bwe_probe_poll(b, now_us);
	return 0;
}

/* ---- Probing. ---- */

int bwe_probe_plan(bwe *b, uint64_t target_bps, int light, int64_t now_us)
{
	return bwe_probe_plan_from(b, target_bps, UINT64_MAX, light, now_us);
}

int bwe_probe_plan_from(bwe *b, uint64_t target_bps, uint64_t from_max_bps, int light,
                        int64_t now_us)
{
	if (!b)
		return 0;
	double est = estimate(b);
	uint64_t from = (uint64_t)est < from_max_bps ? (uint64_t)est : from_max_bps;
	int n = light ? bwprobe_plan_light(&b->probe, target_bps, from, now_us)
	              : bwprobe_plan(&b->probe, target_bps, from, now_us);
	if (n > 0) {
		b->probe_floor_bps = est;
		b->probe_guard_until_us = now_us + n * BWPROBE_SPACING_US + PROBE_GUARD_US;
	}
	return n;
}

void bwe_on_probe_result(bwe *b, uint64_t probed_bps, int64_t now_us)
{
	if (!b)
		return;
	double rate = clamp_bps((double)probed_bps);
	if (rate <= estimate(b))
		return;
	if (b->delay_bps < rate)
		b->delay_bps = rate;
	if (b->loss_bps < rate)
		b->loss_bps = rate;
	/* The old congestion point is below what the link just carried. */
	b->cap_valid = 0;
	b->probe_raises++;
	/* A round that goes on guards the new level. */
	if (b->probe_floor_bps < rate)
		b->probe_floor_bps = rate;
	(void)now_us;
}

int bwe_probe_poll(bwe *b, int64_t now_us)
{
	if (!b)
		return 0;
	int n = 0;
	bwprobe_result r;
	while (bwprobe_take_result(&b->probe, now_us, (uint64_t)estimate(b), &r)) {
		n++;
		if (r.success)
			bwe_on_probe_result(b, r.rate_bps, now_us);
	}
	/* A round continued by the prober is guarded as a new one. */
	if (n > 0 && bwprobe_active(&b->probe)) {
		b->probe_floor_bps = estimate(b);
		b->probe_guard_until_us = now_us + 2 * BWPROBE_SPACING_US + PROBE_GUARD_US;
	}
	return n;
}

uint64_t bwe_estimate_bps(const bwe *b)
{
	return b ? (uint64_t)estimate(b) : 0;
}

uint64_t bwe_acked_bps(const bwe *b)
{
	return b ? b->acked_bps : 0;
}

double bwe_loss_fraction(const bwe *b)
{
	return b ? b->loss : 0;
}

bwe_delay_state bwe_state(const bwe *b)
{
	return b ? b->state : BWE_NORMAL;
}

int64_t bwe_rtt_us(const bwe *b)
{
	return b ? b->rtt_us : 0;
}

uint64_t bwe_delay_based_bps(const bwe *b)
{
	return b ? (uint64_t)clamp_bps(b->delay_bps) : 0;
}

uint64_t bwe_loss_based_bps(const bwe *b)
{
	return b ? (uint64_t)clamp_bps(b->loss_bps) : 0;
}

const char *bwe_state_name(bwe_delay_state s)
{
	switch (s) {
	case BWE_OVERUSING:
		return "overusing";
	case BWE_UNDERUSING:
		return "underusing";
	default:
		return "normal";
	}
}
