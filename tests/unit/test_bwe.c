/* Downlink estimator tests: a deterministic network simulation drives the real feedback
 * path end to end. A sender (a browser obeying the estimate, as it would a REMB) emits
 * paced 30 fps video and 20 ms audio; each packet goes through bwe_on_sent, then a link
 * with random loss, a drop-tail FIFO at rate R and 20 ms propagation; the receiver records
 * arrivals with twcc_rec_add and every 50 ms builds real RTPFB FMT 15 packets with
 * twcc_rec_build, which come back after another 20 ms into bwe_on_feedback. Scenarios:
 * a clean 5 Mbit/s link, a drop to 500 kbit/s and back, a deep queue, 5 % and 30 % random
 * loss, duplicated and reordered feedback; then malformed input and fuzz. Sequence
 * numbers start near 65535 so every run wraps. */
#include "check.h"
#include "rtp/bwe.h"
#include "rtp/twcc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SEC        1000000ll
#define STEP_US    100
#define PROP_US    20000
#define FB_US      50000
#define AUDIO_SIZE 130 /* Opus 20 ms with RTP, SRTP and UDP/IP headers */
#define AUDIO_BPS  (AUDIO_SIZE * 8 * 50)
#define FLY_MAX    16384
#define FBQ_MAX    64

typedef struct flight {
	uint16_t seq;
	int64_t arrival_us;
} flight;

typedef struct fb_pkt {
	uint8_t buf[1200];
	int len;
	int64_t at_us;
} fb_pkt;

/* What happened inside a monitoring window the test opens and closes. */
typedef struct window {
	double est_min, est_max, est_sum;
	double ratio_max;   /* estimate / acknowledged rate */
	int samples, above; /* feedbacks handled, and how many left the estimate over level */
	double level;
	double qdelay_sum, qdelay_max;
	long qdelay_n, drops, sent;
} window;

typedef struct sim {
	bwe b;
	twcc_rec rec;
	int64_t t;
	uint64_t rng;
	/* link */
	double link_bps, loss;
	int64_t queue_limit_us, link_free_us;
	flight fly[FLY_MAX];
	size_t fly_head, fly_tail;
	/* feedback path */
	fb_pkt fbq[FBQ_MAX];
	size_t fbq_n;
	int64_t next_fb;
	int duplicate, reorder;
	/* sender */
	uint16_t seq;
	double max_bps, video_bps;
	int64_t next_audio, next_frame, next_pkt, next_rate;
	int pending;
	uint32_t pkt_size;
	int64_t pace_gap;
	window w;
} sim;

static sim sims[2];

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: deterministic, seeded per scenario. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static double rnd01(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static void window_open(sim *s)
{
	memset(&s->w, 0, sizeof s->w);
	s->w.est_min = 1e12;
}

static void sim_init(sim *s, uint64_t seed, double link_bps, int64_t queue_ms, double max_bps)
{
	memset(s, 0, sizeof *s);
	bwe_init(&s->b, 1000000);
	twcc_rec_init(&s->rec);
	s->rng = seed;
	s->link_bps = link_bps;
	s->queue_limit_us = queue_ms * 1000;
	s->max_bps = max_bps;
	s->video_bps = 1000000 - AUDIO_BPS;
	s->seq = 65000;
	s->t = 1 * SEC; /* clocks need not start at zero */
	s->next_fb = s->next_audio = s->next_frame = s->next_rate = s->t;
	window_open(s);
}

static void link_send(sim *s, uint32_t size)
{
	uint16_t seq = s->seq++;
	bwe_on_sent(&s->b, seq, size, s->t);
	s->w.sent++;
	if (s->loss > 0 && rnd01(&s->rng) < s->loss)
		return;
	if (s->link_free_us < s->t)
		s->link_free_us = s->t;
	if (s->link_free_us - s->t > s->queue_limit_us) {
		s->w.drops++;
		return;
	}
	s->link_free_us += (int64_t)((double)size * 8e6 / s->link_bps);
	double q = (double)(s->link_free_us - s->t) / 1000.0;
	s->w.qdelay_sum += q;
	s->w.qdelay_n++;
	if (q > s->w.qdelay_max)
		s->w.qdelay_max = q;
	if (s->fly_head - s->fly_tail < FLY_MAX)
		s->fly[s->fly_head++ % FLY_MAX] = (flight){seq, s->link_free_us + PROP_US};
}

/* The browser: audio every 20 ms; video frames every 33 ms split into packets of at most
 * 1200 bytes and paced at 2.5 x the video rate, like Chromium's pacer. */
static void sender_step(sim *s)
{
	if (s->t >= s->next_audio) {
		link_send(s, AUDIO_SIZE);
		s->next_audio += 20000;
	}
	if (s->t >= s->next_frame) {
		double bytes = s->video_bps / 8 / 30;
		int n = (int)(bytes / 1200) + 1;
		s->pending += n;
		s->pkt_size = (uint32_t)(bytes / n) + 1;
		if (s->pkt_size < 200)
			s->pkt_size = 200;
		s->pace_gap = (int64_t)(s->pkt_size * 8e6 / (2.5 * s->video_bps));
		s->next_pkt = s->t;
		s->next_frame += 33333;
	}
	while (s->pending > 0 && s->t >= s->next_pkt) {
		link_send(s, s->pkt_size);
		s->pending--;
		s->next_pkt += s->pace_gap;
	}
	/* Follows the estimate every 200 ms, as it would a REMB. */
	if (s->t >= s->next_rate) {
		double total = (double)bwe_estimate_bps(&s->b);
		if (total > s->max_bps)
			total = s->max_bps;
		s->video_bps = total - AUDIO_BPS < 30000 ? 30000 : total - AUDIO_BPS;
		s->next_rate += 200000;
	}
}

static void deliver_feedback(sim *s, const fb_pkt *f)
{
	CHECK_EQ_INT(bwe_on_feedback(&s->b, f->buf, (size_t)f->len, s->t), 0);
	if (s->duplicate)
		CHECK_EQ_INT(bwe_on_feedback(&s->b, f->buf, (size_t)f->len, s->t), 0);
	double est = (double)bwe_estimate_bps(&s->b);
	double acked = (double)bwe_acked_bps(&s->b);
	window *w = &s->w;
	w->samples++;
	w->est_sum += est;
	if (est < w->est_min)
		w->est_min = est;
	if (est > w->est_max)
		w->est_max = est;
	if (w->level > 0 && est > w->level)
		w->above++;
	if (acked > 0 && est / acked > w->ratio_max)
		w->ratio_max = est / acked;
}

static void receiver_step(sim *s)
{
	while (s->fly_tail != s->fly_head && s->fly[s->fly_tail % FLY_MAX].arrival_us <= s->t) {
		flight *f = &s->fly[s->fly_tail++ % FLY_MAX];
		twcc_rec_add(&s->rec, f->seq, f->arrival_us);
	}
	if (s->t >= s->next_fb) {
		s->next_fb += FB_US;
		fb_pkt *f;
		while (s->fbq_n < FBQ_MAX && (f = &s->fbq[s->fbq_n]) &&
		       (f->len = twcc_rec_build(&s->rec, 1, 2, f->buf, sizeof f->buf)) > 0) {
			f->at_us = s->t + PROP_US;
			s->fbq_n++;
		}
	}
	/* Deliver what is due; with reorder set, two due packets swap places. */
	size_t due = 0;
	while (due < s->fbq_n && s->fbq[due].at_us <= s->t)
		due++;
	if (s->reorder && due >= 2) {
		fb_pkt tmp = s->fbq[0];
		s->fbq[0] = s->fbq[1];
		s->fbq[1] = tmp;
	}
	if (s->reorder && due == 1 && s->fbq_n >= 2)
		return; /* hold it until the next one is due too */
	for (size_t i = 0; i < due; i++)
		deliver_feedback(s, &s->fbq[i]);
	memmove(s->fbq, s->fbq + due, (s->fbq_n - due) * sizeof s->fbq[0]);
	s->fbq_n -= due;
}

/* Runs until t (seconds of simulated time since the start at 1 s). When below is set,
 * returns the first time the estimate was under it, else -1; when above is set, the first
 * time it was over it. */
static double sim_run(sim *s, double until_s, double below, double above)
{
	int64_t end = (int64_t)((until_s + 1) * SEC);
	double hit = -1;
	while (s->t < end) {
		sender_step(s);
		receiver_step(s);
		double est = (double)bwe_estimate_bps(&s->b);
		if (hit < 0 && ((below > 0 && est < below) || (above > 0 && est > above)))
			hit = (double)s->t / SEC - 1;
		s->t += STEP_US;
	}
	return hit;
}

static double qmean(const sim *s)
{
	return s->w.qdelay_n ? s->w.qdelay_sum / (double)s->w.qdelay_n : 0;
}

static void report(const char *what, const sim *s)
{
	const window *w = &s->w;
	printf("  %-34s est min %5.0f mean %5.0f max %5.0f kbps, est/acked max %.2f, "
	       "queue mean %5.1f max %5.1f ms, drops %ld/%ld, loss %.3f, rtt %lld ms, %s\n",
	       what, w->est_min / 1000, w->samples ? w->est_sum / w->samples / 1000 : 0,
	       w->est_max / 1000, w->ratio_max, qmean(s), w->qdelay_max, w->drops, w->sent,
	       bwe_loss_fraction(&s->b), (long long)bwe_rtt_us(&s->b) / 1000,
	       bwe_state_name(bwe_state(&s->b)));
}

/* a) b) c): 5 Mbit/s, then 500 kbit/s for 40 s, then 5 Mbit/s again. */
static void test_narrow_and_recover(void)
{
	sim *s = &sims[0];
	sim_init(s, 1, 5e6, 100, 1.5e6);
	sim_run(s, 10, 0, 0);
	window_open(s);
	sim_run(s, 20, 0, 0);
	report("a) 5M link, 1.5M source, 10-20 s", s);
	CHECK(s->w.est_min >= 1.5e6);
	CHECK(s->w.ratio_max < 3.0);
	CHECK(s->w.est_max < 3 * 1.5e6);
	CHECK_EQ_INT(s->w.drops, 0);

	s->link_bps = 5e5;
	window_open(s);
	double t_below = sim_run(s, 40, 5e5, 0);
	printf("  b) link 500k at 20 s: estimate below 500 kbps after %.2f s\n",
	       t_below < 0 ? -1 : t_below - 20);
	report("b) 500k link, 20-40 s", s);
	CHECK(t_below > 0 && t_below - 20 <= 20);
	window_open(s);
	s->w.level = 5e5;
	sim_run(s, 60, 0, 0);
	report("b) 500k link, 40-60 s", s);
	printf("  b) 40-60 s: estimate over 500 kbps after %.1f %% of the feedbacks\n",
	       100.0 * s->w.above / s->w.samples);
	CHECK(s->w.est_sum / s->w.samples < 5e5);
	CHECK(s->w.est_max < 6e5);
	CHECK(s->w.est_min > 2.5e5); /* stays usable, does not collapse */
	CHECK(qmean(s) < 50);
	CHECK(s->w.drops * 50 < s->w.sent); /* under 2 % tail drops once settled */

	s->link_bps = 5e6;
	window_open(s);
	double t_up = sim_run(s, 120, 0, 1.2e6);
	printf("  c) link back to 5M at 60 s: estimate above 1.2 Mbps after %.2f s\n",
	       t_up < 0 ? -1 : t_up - 60);
	report("c) 5M again, 60-120 s", s);
	CHECK(t_up > 0 && t_up - 60 <= 40);
	CHECK((double)bwe_estimate_bps(&s->b) >= 1.5e6);
}

/* b) with a deep queue (netem's default limit holds seconds at 500 kbit/s): only the
 * delay-based side can keep the queue short here, as nothing is dropped. */
static void test_deep_queue(void)
{
	sim *s = &sims[1];
	sim_init(s, 2, 5e6, 100, 1.5e6);
	sim_run(s, 10, 0, 0);
	s->link_bps = 5e5;
	s->queue_limit_us = 5 * SEC;
	window_open(s);
	double t_below = sim_run(s, 30, 5e5, 0);
	printf("  b') 500k, 5 s queue: estimate below 500 kbps after %.2f s\n",
	       t_below < 0 ? -1 : t_below - 10);
	report("b') 500k, 5 s queue, 10-30 s", s);
	CHECK(t_below > 0 && t_below - 10 <= 20);
	window_open(s);
	sim_run(s, 60, 0, 0);
	report("b') 500k, 5 s queue, 30-60 s", s);
	CHECK(s->w.est_sum / s->w.samples < 5e5);
	CHECK(qmean(s) < 100);
	CHECK_EQ_INT(s->w.drops, 0);
}

/* d) e): random loss on an otherwise ample link. */
static void test_random_loss(void)
{
	sim *s = &sims[0];
	sim_init(s, 3, 5e6, 100, 1.5e6);
	sim_run(s, 10, 0, 0);
	double before = (double)bwe_estimate_bps(&s->b);
	s->loss = 0.05;
	window_open(s);
	sim_run(s, 50, 0, 0);
	report("d) 5% loss, 10-50 s", s);
	CHECK(s->w.est_min >= 1e6);

	/* The same loss from the very first packet, before any ramp-up. */
	sim *u = &sims[1];
	sim_init(u, 4, 5e6, 100, 1.5e6);
	u->loss = 0.05;
	sim_run(u, 40, 0, 0);
	report("d') 5% loss from the start, 0-40 s", u);
	CHECK(u->w.est_min >= 0.8e6);

	s->loss = 0;
	sim_run(s, 60, 0, 0);
	before = (double)bwe_estimate_bps(&s->b);
	s->loss = 0.30;
	window_open(s);
	double t_half = sim_run(s, 80, before / 2, 0);
	report("e) 30% loss, 60-80 s", s);
	printf("  e) estimate %.0f kbps before, %.0f kbps after 20 s of 30%% loss, halved after "
	       "%.2f s\n",
	       before / 1000, (double)bwe_estimate_bps(&s->b) / 1000,
	       t_half < 0 ? -1 : t_half - 60);
	CHECK((double)bwe_estimate_bps(&s->b) < 0.5 * before);
	CHECK(bwe_loss_fraction(&s->b) > 0.2);
}

/* Every feedback delivered twice, and neighbours swapped: no false overuse, no loss. */
static void test_duplicated_reordered_feedback(void)
{
	sim *s = &sims[0];
	sim_init(s, 5, 5e6, 100, 1.5e6);
	s->duplicate = 1;
	s->reorder = 1;
	sim_run(s, 10, 0, 0);
	window_open(s);
	sim_run(s, 30, 0, 0);
	report("f) duplicated + reordered feedback", s);
	CHECK(s->w.est_min >= 1.5e6);
	CHECK(bwe_loss_fraction(&s->b) < 0.01);
}

/* g) An app-limited source (it sends far less than the link takes) neither drags the
 * estimate down nor lets it climb without evidence; when it sends more again, it can. */
static void test_app_limited(void)
{
	sim *s = &sims[0];
	sim_init(s, 6, 5e6, 100, 1.5e6);
	sim_run(s, 15, 0, 0);
	double earned = (double)bwe_estimate_bps(&s->b);
	s->max_bps = 2e5;
	window_open(s);
	sim_run(s, 45, 0, 0);
	report("g) source limited to 200k, 15-45 s", s);
	CHECK(s->w.est_min >= 0.95 * earned);
	CHECK(s->w.est_max <= 1.01 * earned);
	s->max_bps = 1.5e6;
	window_open(s);
	sim_run(s, 55, 0, 0);
	report("g) source back to 1.5M, 45-55 s", s);
	CHECK(s->w.est_min >= 1.5e6);

	/* Limited from the first packet: the initial 1 Mbit/s is not raised, nor dropped. */
	sim *u = &sims[1];
	sim_init(u, 7, 5e6, 100, 2e5);
	sim_run(u, 30, 0, 0);
	report("g') source limited to 200k from start", u);
	CHECK(u->w.est_max <= 1e6);
	CHECK(u->w.est_min >= 0.95e6);
}

static void test_malformed(void)
{
	static bwe b;
	bwe_init(&b, 1000000);
	for (uint16_t i = 0; i < 100; i++)
		bwe_on_sent(&b, (uint16_t)(65500 + i), 1200, 1000000 + i * 1000);
	static twcc_rec r;
	twcc_rec_init(&r);
	for (uint16_t i = 0; i < 50; i++)
		twcc_rec_add(&r, (uint16_t)(65500 + i), 1020000 + i * 1000);
	uint8_t pkt[1200];
	int n = twcc_rec_build(&r, 1, 2, pkt, sizeof pkt);
	CHECK(n > 20);

	/* Truncations, a wrong type and a length past the end are rejected. */
	CHECK_EQ_INT(bwe_on_feedback(&b, pkt, 10, 1100000), -1);
	CHECK_EQ_INT(bwe_on_feedback(&b, pkt, (size_t)n - 4, 1100000), -1);
	CHECK_EQ_INT(bwe_on_feedback(&b, NULL, 0, 1100000), -1);
	uint8_t bad[1200];
	memcpy(bad, pkt, (size_t)n);
	bad[1] = 206;
	CHECK_EQ_INT(bwe_on_feedback(&b, bad, (size_t)n, 1100000), -1);
	CHECK_EQ_INT(b.feedbacks, 0);
	CHECK_EQ_INT(b.malformed, 4);
	CHECK_EQ_INT(bwe_estimate_bps(&b), 1000000);

	/* The real one, then a duplicate: counted once. */
	CHECK_EQ_INT(bwe_on_feedback(&b, pkt, (size_t)n, 1100000), 0);
	CHECK_EQ_INT(b.win_expected, 50);
	CHECK_EQ_INT(bwe_on_feedback(&b, pkt, (size_t)n, 1100000), 0);
	CHECK_EQ_INT(b.win_expected, 50);
	CHECK_EQ_INT(b.win_lost, 0);
	CHECK(bwe_rtt_us(&b) > 0 && bwe_rtt_us(&b) <= 100000);

	/* Feedback about sequence numbers never sent changes nothing. */
	twcc_rec_init(&r);
	for (uint16_t i = 0; i < 50; i++)
		twcc_rec_add(&r, (uint16_t)(20000 + i), 1020000 + i * 1000);
	n = twcc_rec_build(&r, 1, 2, pkt, sizeof pkt);
	CHECK_EQ_INT(bwe_on_feedback(&b, pkt, (size_t)n, 1100000), 0);
	CHECK_EQ_INT(b.win_expected, 50);

	/* Feedback for sends forgotten (over 10 s older than the newest) is skipped too. */
	bwe_on_sent(&b, 30000, 1200, 60000000);
	twcc_rec_init(&r);
	twcc_rec_add(&r, (uint16_t)65550, 1070000);
	twcc_rec_add(&r, (uint16_t)65599, 1119000); /* 48 in between reported lost */
	n = twcc_rec_build(&r, 1, 2, pkt, sizeof pkt);
	CHECK_EQ_INT(bwe_on_feedback(&b, pkt, (size_t)n, 60100000), 0);
	/* The loss window closed here over the first 50 packets only: nothing lost. */
	CHECK_EQ_INT(b.win_expected, 0);
	CHECK(bwe_loss_fraction(&b) == 0);

	CHECK_EQ_INT(strcmp(bwe_state_name(BWE_OVERUSING), "overusing"), 0);
	bwe_init(NULL, 1);
	bwe_on_sent(NULL, 1, 1, 1);
	CHECK_EQ_INT(bwe_estimate_bps(NULL), 0);
}

/* 100k random bytes, cut into packets; half get a plausible header so the parser goes
 * deeper. The estimator has live sends so that some statuses match. */
static void test_fuzz(void)
{
	static bwe b;
	bwe_init(&b, 1000000);
	uint64_t rng = 99;
	for (int i = 0; i < 4096; i++)
		bwe_on_sent(&b, (uint16_t)i, 100 + (size_t)(rnd(&rng) % 1200), 1000 * (int64_t)i);
	static uint8_t data[100000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)rnd(&rng);
	size_t off = 0;
	int accepted = 0;
	int64_t now = 5000000;
	while (off < sizeof data) {
		size_t len = 1 + rnd(&rng) % 300;
		if (len > sizeof data - off)
			len = sizeof data - off;
		uint8_t *p = data + off;
		if (len >= 20 && (rnd(&rng) & 1)) {
			p[0] = 0x8f;
			p[1] = 205;
			p[2] = 0;
			p[3] = (uint8_t)(len / 4 - 1);
			p[12] = (uint8_t)(rnd(&rng) % 16); /* base seq within the sends */
			p[14] = 0;
			p[15] = (uint8_t)(rnd(&rng) % 40);
		}
		if (bwe_on_feedback(&b, p, len, now) == 0)
			accepted++;
		now += (int64_t)(rnd(&rng) % 100000);
		off += len;
		uint64_t e = bwe_estimate_bps(&b);
		CHECK(e >= BWE_MIN_BPS && e <= BWE_MAX_BPS);
	}
	printf("  fuzz: %d of the random packets parsed, estimate %llu\n", accepted,
	       (unsigned long long)bwe_estimate_bps(&b));
	CHECK(accepted > 10);
}

/* A packet queued for a batched send gets the batch's real departure as its send time;
 * one already reported on, or an earlier time, changes nothing. */
static void test_set_send_time(void)
{
	static bwe b;
	bwe_init(&b, 1000000);
	bwe_on_sent(&b, 10, 1200, 1000);
	bwe_on_sent(&b, 11, 1200, 1100);
	bwe_set_send_time(&b, 10, 4000);
	CHECK_EQ_INT(b.sent[10 % BWE_HISTORY].send_us, 4000);
	CHECK_EQ_INT(b.newest_send_us, 4000);
	bwe_set_send_time(&b, 11, 900); /* never back in time */
	CHECK_EQ_INT(b.sent[11 % BWE_HISTORY].send_us, 1100);
	bwe_set_send_time(&b, 10 + BWE_HISTORY, 9000); /* another packet's slot: ignored */
	CHECK_EQ_INT(b.sent[10 % BWE_HISTORY].send_us, 4000);
	b.sent[11 % BWE_HISTORY].report = 2;
	bwe_set_send_time(&b, 11, 5000); /* already reported on */
	CHECK_EQ_INT(b.sent[11 % BWE_HISTORY].send_us, 1100);
}

int main(void)
{
	test_set_send_time();
	test_malformed();
	test_fuzz();
	test_narrow_and_recover();
	test_deep_queue();
	test_random_loss();
	test_duplicated_reordered_feedback();
	test_app_limited();
	return check_done("bwe");
}
