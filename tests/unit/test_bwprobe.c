/* Prober tests: cluster planning and pacing, the probed rate from synthetic send and
 * arrival times (a bottleneck FIFO at a known rate), and the prober driven end to end
 * through the estimator with real transport-cc feedback (twcc_rec builds it), including
 * transport-wide sequence numbers and the 24-bit reference time wrapping during a round. */
#include "check.h"
#include "rtp/bwe.h"
#include "rtp/bwprobe.h"
#include "rtp/twcc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MS 1000ll

static int near(double v, double want, double frac)
{
	return v >= want * (1 - frac) && v <= want * (1 + frac);
}

static void test_plan(void)
{
	bwprobe p;
	bwprobe_init(&p);
	/* Far below the target: 2x and 3x the estimate, spaced. */
	CHECK_EQ_INT(bwprobe_plan(&p, 5000000, 500000, 1000 * MS), 2);
	CHECK_EQ_INT(p.c[0].rate_bps, 1000000);
	CHECK_EQ_INT(p.c[1].rate_bps, 1500000);
	CHECK_EQ_INT(p.c[1].start_us - p.c[0].start_us, BWPROBE_SPACING_US);
	CHECK_EQ_INT(p.c[0].min_bytes, 1000000ll * BWPROBE_DURATION_US / 8000000);
	CHECK(bwprobe_active(&p) && bwprobe_sending(&p));
	/* Nothing new while a round is in flight. */
	CHECK_EQ_INT(bwprobe_plan(&p, 5000000, 500000, 1001 * MS), 0);

	/* Close to the target: one cluster at the target. */
	bwprobe_init(&p);
	CHECK_EQ_INT(bwprobe_plan(&p, 800000, 500000, 0), 1);
	CHECK_EQ_INT(p.c[0].rate_bps, 800000);
	/* At or just above the estimate: nothing to find out. */
	bwprobe_init(&p);
	CHECK_EQ_INT(bwprobe_plan(&p, 510000, 500000, 0), 0);
	CHECK_EQ_INT(bwprobe_plan(&p, 300000, 500000, 0), 0);
	CHECK(!bwprobe_active(&p));
	/* A light round: only the 2x cluster, but the round still wants the whole target. */
	bwprobe_init(&p);
	CHECK_EQ_INT(bwprobe_plan_light(&p, 5000000, 500000, 0), 1);
	CHECK_EQ_INT(p.c[0].rate_bps, 1000000);
	CHECK_EQ_INT(p.want_bps, 5000000);
	/* Absurd targets are capped. */
	bwprobe_init(&p);
	CHECK_EQ_INT(bwprobe_plan(&p, UINT64_MAX, 15000000, 0), 1);
	CHECK_EQ_INT(p.c[0].rate_bps, BWPROBE_MAX_BPS);
}

/* Runs the pacer every `step` us from t0 until the round has sent everything; each packet
 * goes through a FIFO bottleneck of link_bps (propagation 10 ms) and its feedback (all at
 * once, as it would come) is handed back. Returns the number of packets sent. */
typedef struct sent_rec {
	int cluster;
	size_t size;
	int64_t send_us, arrival_us;
} sent_rec;

static int run_round(bwprobe *p, int64_t t0, int64_t step, size_t max_size, double link_bps,
                     sent_rec *log, int cap, int64_t *end_us)
{
	int n = 0;
	int64_t link_free = 0, t = t0;
	for (; bwprobe_sending(p) && t < t0 + 2000 * MS; t += step) {
		int id;
		size_t size;
		while (n < cap && bwprobe_next(p, t, max_size, &id, &size) == 1) {
			bwprobe_on_sent(p, id, size, t);
			int64_t start = t > link_free ? t : link_free;
			link_free = start + (int64_t)((double)size * 8e6 / link_bps);
			log[n++] = (sent_rec){id, size, t, link_free + 10 * MS};
		}
	}
	*end_us = t;
	return n;
}

static void test_pacing(void)
{
	bwprobe p;
	bwprobe_init(&p);
	CHECK_EQ_INT(bwprobe_plan(&p, 10000000, 1000000, 0), 2);
	sent_rec log[400];
	int64_t end;
	int n = run_round(&p, 0, 1 * MS, 1200, 1e9, log, 400, &end);
	int n1 = 0;
	int64_t first2 = -1, last1 = 0;
	uint64_t bytes1 = 0;
	for (int i = 0; i < n; i++) {
		if (log[i].cluster == p.c[0].id) {
			n1++;
			bytes1 += log[i].size;
			last1 = log[i].send_us;
		} else if (first2 < 0) {
			first2 = log[i].send_us;
		}
	}
	CHECK(n1 >= BWPROBE_MIN_PACKETS);
	CHECK(bytes1 >= (uint64_t)(2000000ll * BWPROBE_DURATION_US / 8000000));
	/* 2 Mbit/s for 25 ms: the cluster spans about its duration, not a burst. */
	printf("pacing: cluster 1 %d packets, %llu bytes over %lld us; cluster 2 after %lld us\n",
	       n1, (unsigned long long)bytes1, (long long)(last1 - log[0].send_us),
	       (long long)(first2 - last1));
	CHECK(last1 - log[0].send_us >= 15 * MS && last1 - log[0].send_us <= 35 * MS);
	/* The second cluster waits for the first to drain. */
	CHECK(first2 - last1 >= BWPROBE_SPACING_US - BWPROBE_DURATION_US);
	/* Padding-only packets are small: more packets, same bytes. */
	bwprobe_init(&p);
	bwprobe_plan(&p, 2000000, 1000000, 0);
	n = run_round(&p, 0, 1 * MS, 280, 1e9, log, 400, &end);
	CHECK(n >= (int)(2000000ll * BWPROBE_DURATION_US / 8000000 / 280));
	for (int i = 0; i < n; i++)
		CHECK(log[i].size <= 280);
}

/* One cluster at probe_bps through a link of link_bps; returns the probed rate. */
static uint64_t probe_link(uint64_t probe_bps, double link_bps, int64_t step, int lose_every)
{
	bwprobe p;
	bwprobe_init(&p);
	CHECK_EQ_INT(bwprobe_plan(&p, probe_bps, probe_bps / 2, 5000 * MS), 1);
	sent_rec log[400];
	int64_t end;
	int n = run_round(&p, 5000 * MS, step, 1200, link_bps, log, 400, &end);
	/* Feedback in reverse order: the computation must not care. */
	for (int i = n - 1; i >= 0; i--) {
		int lost = lose_every && i % lose_every == 0;
		bwprobe_on_feedback(&p, log[i].cluster, log[i].size, log[i].send_us, !lost,
		                    log[i].arrival_us + 777777 * MS);
	}
	bwprobe_result r;
	/* Judged against a low estimate, so that any measured rate counts as a success. */
	CHECK_EQ_INT(bwprobe_take_result(&p, end + 100 * MS, probe_bps / 4, &r), 1);
	CHECK_EQ_INT(bwprobe_take_result(&p, end + 100 * MS, probe_bps / 4, &r), 0);
	CHECK(!bwprobe_active(&p));
	printf("probe %llu bps over a %.0f bps link: %s, rate %llu (send %llu, recv %llu)\n",
	       (unsigned long long)probe_bps, link_bps, r.success ? "success" : "fail",
	       (unsigned long long)r.rate_bps, (unsigned long long)r.send_bps,
	       (unsigned long long)r.recv_bps);
	return r.rate_bps;
}

static void test_rate(void)
{
	/* A 1 Mbit/s link probed at 2 Mbit/s reads about 1 Mbit/s. */
	uint64_t r = probe_link(2000000, 1e6, 1 * MS, 0);
	CHECK(near((double)r, 1e6, 0.10));
	/* An unconstrained link reads the probe's rate. */
	r = probe_link(2000000, 1e9, 1 * MS, 0);
	CHECK(near((double)r, 2e6, 0.10));
	r = probe_link(6000000, 1e9, 2 * MS, 0);
	CHECK(near((double)r, 6e6, 0.15));
	/* A coarse pacing timer (5 ms) still measures the link, not the timer. */
	r = probe_link(3000000, 1.5e6, 5 * MS, 0);
	CHECK(near((double)r, 1.5e6, 0.12));
	/* A cluster that lost a third of its packets fails: the probe overflowed a queue. */
	r = probe_link(2000000, 1e9, 1 * MS, 3);
	CHECK_EQ_INT(r, 0);

	/* The computation from totals: two packets 10 ms apart arriving 20 ms apart. */
	bwprobe_cluster c = {.id = 1, .sent_packets = 2, .sent_bytes = 2000};
	c.recv_packets = 2;
	c.recv_bytes = 2000;
	c.fb_first_send_us = 0;
	c.fb_last_send_us = 10 * MS;
	c.fb_last_send_size = 1000;
	c.first_arrival_us = 50 * MS;
	c.last_arrival_us = 70 * MS;
	c.first_arrival_size = 1000;
	uint64_t s, v;
	r = bwprobe_cluster_rate(&c, &s, &v);
	CHECK_EQ_INT(s, 800000);
	CHECK_EQ_INT(v, 400000);
	CHECK_EQ_INT(r, 380000); /* saturated: 95 % of what arrived */
	c.last_arrival_us = 50 * MS; /* all at once: no receive interval */
	CHECK_EQ_INT(bwprobe_cluster_rate(&c, NULL, NULL), 0);
	CHECK_EQ_INT(bwprobe_cluster_rate(NULL, NULL, NULL), 0);
}

static void test_timeout(void)
{
	bwprobe p;
	bwprobe_init(&p);
	bwprobe_plan(&p, 1000000, 500000, 0);
	sent_rec log[100];
	int64_t end;
	run_round(&p, 0, 1 * MS, 1200, 1e9, log, 100, &end);
	bwprobe_result r;
	/* No feedback at all: nothing until the timeout, then a failure that frees it. */
	CHECK_EQ_INT(bwprobe_take_result(&p, end + 100 * MS, 500000, &r), 0);
	CHECK(bwprobe_active(&p));
	CHECK_EQ_INT(bwprobe_take_result(&p, end + BWPROBE_TIMEOUT_US + 1, 500000, &r), 1);
	CHECK(!r.success);
	CHECK(!bwprobe_active(&p));
	CHECK_EQ_INT(p.clusters_fail, 1);
	/* A sender that cannot send aborts: the cluster fails at once, with no packet. */
	bwprobe_plan(&p, 1000000, 500000, 0);
	int id;
	size_t size;
	CHECK_EQ_INT(bwprobe_next(&p, 0, 300, &id, &size), 1);
	bwprobe_abort(&p, id);
	CHECK_EQ_INT(bwprobe_take_result(&p, 1, 500000, &r), 1);
	CHECK(!r.success);
	/* Unknown ids and NULLs are ignored. */
	bwprobe_on_sent(&p, 999, 100, 0);
	bwprobe_on_feedback(&p, 999, 100, 0, 1, 0);
	bwprobe_on_feedback(NULL, 1, 100, 0, 1, 0);
	bwprobe_abort(NULL, 1);
	CHECK_EQ_INT(bwprobe_next(NULL, 0, 300, &id, &size), 0);
}

/* ---- The prober through the estimator, with real transport-cc feedback. ---- */

typedef struct esim {
	bwe b;
	twcc_rec rec;
	uint16_t seq;
	int64_t link_free;
	int64_t clock_offset; /* receiver clock = sender clock + this */
	double link_bps;
	int drop_probes; /* every n-th probe packet lost (0: none) */
	int probe_n;
	int64_t arrivals[64];
	uint16_t arr_seq[64];
	int n_arr;
} esim;

static void esim_init(esim *e, uint64_t initial_bps, double link_bps, uint16_t seq0,
                      int64_t offset)
{
	memset(e, 0, sizeof *e);
	bwe_init(&e->b, initial_bps);
	twcc_rec_init(&e->rec);
	e->seq = seq0;
	e->link_bps = link_bps;
	e->clock_offset = offset;
}

static void esim_send(esim *e, size_t size, int64_t t, int cluster)
{
	uint16_t seq = e->seq++;
	if (cluster)
		bwe_on_sent_probe(&e->b, seq, size, t, cluster);
	else
		bwe_on_sent(&e->b, seq, size, t);
	if (cluster && e->drop_probes && ++e->probe_n % e->drop_probes == 0)
		return;
	int64_t start = t > e->link_free ? t : e->link_free;
	e->link_free = start + (int64_t)((double)size * 8e6 / e->link_bps);
	twcc_rec_add(&e->rec, seq, e->link_free + 20 * MS + e->clock_offset);
}

/* Media at media_bps in 1000-byte packets and the prober's clusters, for `dur` us; a
 * feedback packet every 50 ms. The link is deterministic, so each packet's arrival is
 * recorded as it is sent and a feedback covers everything sent until then (arrival times
 * are what matter to the estimator, not when the report comes). */
static void esim_run(esim *e, int64_t *t, int64_t dur, double media_bps)
{
	int64_t end = *t + dur, next_media = *t, next_fb = *t + 50 * MS;
	for (; *t < end; *t += 1 * MS) {
		if (media_bps > 0 && *t >= next_media) {
			esim_send(e, 1000, *t, 0);
			next_media += (int64_t)(1000 * 8e6 / media_bps);
		}
		int id;
		size_t size;
		while (bwprobe_next(&e->b.probe, *t, 300, &id, &size) == 1)
			esim_send(e, size, *t, id);
		if (*t >= next_fb) {
			uint8_t fb[1200];
			int n;
			while ((n = twcc_rec_build(&e->rec, 1, 2, fb, sizeof fb)) > 0)
				bwe_on_feedback(&e->b, fb, (size_t)n, *t);
			next_fb += 50 * MS;
		}
		bwe_probe_poll(&e->b, *t);
	}
}

static void test_estimator(void)
{
	static esim e;
	int64_t t = 10000 * MS;
	/* An app-limited receiver (150 kbit/s of media) on a 5 Mbit/s link: stuck at its
	 * acknowledged-rate ceiling without probing. */
	esim_init(&e, 300000, 5e6, 65500, 0);
	esim_run(&e, &t, 3000 * MS, 150000);
	uint64_t before = bwe_estimate_bps(&e.b);
	printf("estimator: app-limited at %llu bps\n", (unsigned long long)before);
	CHECK(before <= 300000);
	/* A round toward 2 Mbit/s: it rises, bounded by what was probed, in a few rounds. */
	CHECK(bwe_probe_plan(&e.b, 2000000, 0, t) == 2);
	esim_run(&e, &t, 400 * MS, 150000);
	uint64_t after1 = bwe_estimate_bps(&e.b);
	printf("estimator: after the first round %llu bps (success %llu fail %llu)\n",
	       (unsigned long long)after1, (unsigned long long)e.b.probe.clusters_success,
	       (unsigned long long)e.b.probe.clusters_fail);
	CHECK(after1 >= 2 * before);
	CHECK(after1 <= 2000000);
	esim_run(&e, &t, 2000 * MS, 150000);
	uint64_t after = bwe_estimate_bps(&e.b);
	printf("estimator: after continuing %llu bps, %llu clusters, %llu packets\n",
	       (unsigned long long)after, (unsigned long long)e.b.probe.clusters_planned,
	       (unsigned long long)e.b.probe.packets_sent);
	CHECK(after >= 1800000 && after <= 2200000);
	CHECK(!bwprobe_active(&e.b.probe));
	CHECK(e.b.probe_raises >= 2);

	/* A 600 kbit/s link carrying 400 kbit/s: a probe toward 3 Mbit/s shares the
	 * bottleneck with the media, so it reads what is left for it, and the estimate never
	 * goes past the link. */
	esim_init(&e, 300000, 600000, 1000, 0);
	t = 10000 * MS;
	esim_run(&e, &t, 3000 * MS, 400000);
	before = bwe_estimate_bps(&e.b);
	bwe_probe_plan(&e.b, 3000000, 0, t);
	esim_run(&e, &t, 2000 * MS, 400000);
	after = bwe_estimate_bps(&e.b);
	printf("estimator: 600k link, %llu -> %llu bps (success %llu fail %llu)\n",
	       (unsigned long long)before, (unsigned long long)after,
	       (unsigned long long)e.b.probe.clusters_success,
	       (unsigned long long)e.b.probe.clusters_fail);
	CHECK(after >= before);
	CHECK(after <= 700000);

	/* A failed probe (half its packets lost) does not raise it, nor lower it. */
	esim_init(&e, 300000, 5e6, 2000, 0);
	t = 10000 * MS;
	esim_run(&e, &t, 3000 * MS, 150000);
	before = bwe_estimate_bps(&e.b);
	e.drop_probes = 2;
	bwe_probe_plan(&e.b, 2000000, 0, t);
	esim_run(&e, &t, 2000 * MS, 150000);
	after = bwe_estimate_bps(&e.b);
	printf("estimator: lossy probe %llu -> %llu bps (fail %llu)\n", (unsigned long long)before,
	       (unsigned long long)after, (unsigned long long)e.b.probe.clusters_fail);
	CHECK(e.b.probe.clusters_fail >= 1 && e.b.probe.clusters_success == 0);
	CHECK(after >= before && after <= before * 11 / 10);
	/* The loss it caused stayed out of the media's loss window. */
	CHECK(bwe_loss_fraction(&e.b) < 0.02);

	/* Direct: a result below the estimate changes nothing; above, it is the new one. */
	bwe_init(&e.b, 500000);
	bwe_on_probe_result(&e.b, 400000, 0);
	CHECK_EQ_INT(bwe_estimate_bps(&e.b), 500000);
	bwe_on_probe_result(&e.b, 900000, 0);
	CHECK_EQ_INT(bwe_estimate_bps(&e.b), 900000);
	bwe_on_probe_result(&e.b, UINT64_MAX, 0);
	CHECK_EQ_INT(bwe_estimate_bps(&e.b), BWE_MAX_BPS);
}

static void test_wrap(void)
{
	static esim e;
	/* Transport-wide sequence numbers wrap inside the round, and the receiver's clock
	 * sits just before the 24-bit reference time (64 ms units) wraps. */
	int64_t wrap_us = (int64_t)0x1000000 * 64000;
	esim_init(&e, 300000, 1e6, 65530, wrap_us - 10000 * MS - 150 * MS);
	int64_t t = 10000 * MS;
	esim_run(&e, &t, 100 * MS, 100000);
	CHECK(bwe_probe_plan(&e.b, 3000000, 0, t) == 2);
	esim_run(&e, &t, 1500 * MS, 100000);
	uint64_t after = bwe_estimate_bps(&e.b);
	printf("wrap: seq now %u, estimate %llu bps (success %llu fail %llu)\n", e.seq,
	       (unsigned long long)after, (unsigned long long)e.b.probe.clusters_success,
	       (unsigned long long)e.b.probe.clusters_fail);
	CHECK(e.seq < 2000); /* wrapped */
	CHECK(e.b.probe.clusters_success >= 1);
	CHECK(after >= 800000 && after <= 1100000);
}

/* Arbitrary call sequences, times and ids: no crash (ASan/UBSan), the estimate stays within
 * its bounds, and every round ends (by its feedback or its timeout). */
static void test_random(void)
{
	static bwe b;
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	for (int run = 0; run < 200; run++) {
		bwe_init(&b, 300000);
		int64_t t = (int64_t)(rng % 1000000000ull);
		for (int i = 0; i < 400; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			int64_t jump = (int64_t)(rng % 20000) - 2000; /* time may even step back */
			t += jump;
			switch (rng >> 60) {
			case 0:
				bwe_probe_plan(&b, rng >> 30, 0, t);
				break;
			case 1:
				bwprobe_on_feedback(&b.probe, (int)(rng % 8), rng % 3000, t - 5000,
				                    (int)(rng % 3), (int64_t)(rng >> 8));
				break;
			case 2:
				bwprobe_abort(&b.probe, (int)(rng % 8));
				break;
			case 3:
				bwe_on_probe_result(&b, rng >> (rng % 64), t);
				break;
			default: {
				int id;
				size_t size;
				if (bwprobe_next(&b.probe, t, 1 + rng % 1500, &id, &size))
					bwe_on_sent_probe(&b, (uint16_t)rng, size, t, id);
			}
			}
			bwe_probe_poll(&b, t);
			uint64_t e = bwe_estimate_bps(&b);
			CHECK(e >= BWE_MIN_BPS && e <= BWE_MAX_BPS);
		}
		/* Nothing more is sent; within the timeout every round is over. */
		int64_t end = t + 200 * MS;
		for (int64_t u = t; u < end + BWPROBE_TIMEOUT_US + 10 * MS; u += 10 * MS) {
			int id;
			size_t size;
			while (bwprobe_next(&b.probe, u, 300, &id, &size))
				bwprobe_abort(&b.probe, id);
			bwe_probe_poll(&b, u);
		}
		CHECK(!bwprobe_active(&b.probe));
	}
}

int main(void)
{
	test_plan();
	test_pacing();
	test_rate();
	test_timeout();
	test_estimator();
	test_wrap();
	test_random();
	return check_done("bwprobe");
}
