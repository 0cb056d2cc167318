/* Receiver statistics tests: sequence wrap, loss fractions per interval, retransmissions
 * and duplicates, the jitter formula and its behaviour across the 2^32 timestamp wrap,
 * LSR/DLSR, sender restarts, clamping, and a seeded random run. */
#include "check.h"
#include "rtp/rxstats.h"

#include <stdint.h>
#include <string.h>

#define MS 1000

static rxstats s;

static void test_wrap_and_loss(void)
{
	rtcp_report_block b;
	rxstats_init(&s, 90000);
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), -1);
	/* 100 packets from 65500 across the wrap, 10 of them lost. */
	for (int i = 0; i < 100; i++) {
		if (i % 10 == 5)
			continue;
		uint16_t seq = (uint16_t)(65500 + i);
		rxstats_on_packet(&s, seq, (uint32_t)(i * 3000), i * 33333);
	}
	CHECK_EQ_INT(rxstats_report(&s, 0xabc, 4 * 1000 * MS, &b), 0);
	CHECK_EQ_INT(b.ssrc, 0xabc);
	CHECK_EQ_INT(b.highest_seq, 65536 + (65500 + 99 - 65536));
	CHECK_EQ_INT(b.cumulative_lost, 10);
	CHECK_EQ_INT(b.fraction_lost, 10 * 256 / 100);
	CHECK_EQ_INT(b.lsr, 0);
	CHECK_EQ_INT(b.dlsr, 0);
	CHECK(rxstats_loss_fraction(&s) > 0.09 && rxstats_loss_fraction(&s) < 0.1);
	/* The next interval: 50 more, none lost. */
	for (int i = 100; i < 150; i++)
		rxstats_on_packet(&s, (uint16_t)(65500 + i), (uint32_t)(i * 3000), i * 33333);
	CHECK_EQ_INT(rxstats_report(&s, 0xabc, 5 * 1000 * MS, &b), 0);
	CHECK_EQ_INT(b.fraction_lost, 0);
	CHECK_EQ_INT(b.cumulative_lost, 10);
	/* Retransmissions of 3 lost packets arrive late; a duplicate changes nothing. */
	rxstats_on_packet(&s, (uint16_t)(65500 + 5), 0, 5 * 1000 * MS);
	rxstats_on_packet(&s, (uint16_t)(65500 + 15), 0, 5 * 1000 * MS);
	rxstats_on_packet(&s, (uint16_t)(65500 + 95), 0, 5 * 1000 * MS);
	rxstats_on_packet(&s, (uint16_t)(65500 + 95), 0, 5 * 1000 * MS);
	rxstats_on_packet(&s, (uint16_t)(65500 + 96), 0, 5 * 1000 * MS);
	CHECK_EQ_INT(s.duplicates, 2);
	CHECK_EQ_INT(rxstats_lost(&s), 7);
	CHECK_EQ_INT(rxstats_report(&s, 0xabc, 6 * 1000 * MS, &b), 0);
	CHECK_EQ_INT(b.cumulative_lost, 7);
	CHECK_EQ_INT(b.fraction_lost, 0); /* received more than expected in this interval */
	/* Jitter stayed near zero: constant spacing (33333 us vs 3000 ticks differ by <1). */
	CHECK(b.jitter <= 1);
}

static void test_jitter(void)
{
	rtcp_report_block b;
	/* One step: |D| = 160 ticks gives J = 160/16 = 10 (RFC 3550 A.8). */
	rxstats_init(&s, 8000);
	rxstats_on_packet(&s, 1, 1000, 0);
	rxstats_on_packet(&s, 2, 1160, 40 * MS); /* 320 ticks of time, 160 of timestamp */
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
	CHECK_EQ_INT(b.jitter, 10);

	/* Arrivals alternately 1 ms early and late (8 ticks) converge to J = 16. */
	uint32_t j_plain = 0, j_wrap = 0;
	for (int pass = 0; pass < 2; pass++) {
		rxstats_init(&s, 8000);
		uint32_t ts0 = pass == 0 ? 5000 : 0xffffffffu - 160 * 100;
		for (int i = 0; i < 400; i++) {
			int64_t at = 1000 * MS + i * 20 * MS + (i % 2 ? 1 * MS : -1 * MS);
			rxstats_on_packet(&s, (uint16_t)i, ts0 + (uint32_t)(i * 160), at);
		}
		CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
		if (pass == 0)
			j_plain = b.jitter;
		else
			j_wrap = b.jitter;
	}
	CHECK(j_plain >= 15 && j_plain <= 16);
	CHECK_EQ_INT(j_wrap, j_plain);
	CHECK_EQ_INT(rxstats_jitter_us(&s), j_wrap * 1000000 / 8000);

	/* Constant spacing across the timestamp wrap: no jitter at all. */
	rxstats_init(&s, 90000);
	for (int i = 0; i < 100; i++)
		rxstats_on_packet(&s, (uint16_t)i, 0xffff0000u + (uint32_t)(i * 3000),
		                  (int64_t)i * 100 * MS / 3);
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
	CHECK_EQ_INT(b.jitter, 0);

	/* A retransmission (old timestamp, late arrival) does not count as jitter, nor does a
	 * pause of more than 5 s. */
	rxstats_on_packet(&s, 50, 0, 10 * 1000 * MS);
	rxstats_on_packet(&s, 100, 0xffff0000u + 100 * 3000, 20 * 1000 * MS);
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
	CHECK_EQ_INT(b.jitter, 0);
}

static void test_sr(void)
{
	rtcp_report_block b;
	rxstats_init(&s, 48000);
	rxstats_on_packet(&s, 7, 0, 0);
	rxstats_on_sr(&s, 0x12345678, 0x9abcdef0, 1000 * MS);
	CHECK_EQ_INT(rxstats_report(&s, 9, 2500 * MS, &b), 0);
	CHECK_EQ_INT(b.lsr, 0x56789abc);
	CHECK_EQ_INT(b.dlsr, 98304); /* 1.5 s in 1/65536 s */
	/* The clock running backwards gives 0, not a huge value. */
	CHECK_EQ_INT(rxstats_report(&s, 9, 500 * MS, &b), 0);
	CHECK_EQ_INT(b.dlsr, 0);
}

static void test_restart_and_clamp(void)
{
	rtcp_report_block b;
	rxstats_init(&s, 90000);
	for (int i = 0; i < 10; i++)
		rxstats_on_packet(&s, (uint16_t)(1000 + i), 0, 0);
	/* One stray far packet is ignored; two in sequence restart the count. */
	rxstats_on_packet(&s, 30000, 0, 0);
	CHECK_EQ_INT(s.ignored, 1);
	CHECK_EQ_INT(s.max_seq, 1009);
	rxstats_on_packet(&s, 1010, 0, 0);
	rxstats_on_packet(&s, 30000, 0, 0);
	rxstats_on_packet(&s, 30001, 0, 0);
	CHECK_EQ_INT(s.restarts, 1);
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
	CHECK_EQ_INT(b.highest_seq, 30001); /* A.1: counting restarts at the second packet */
	CHECK_EQ_INT(b.cumulative_lost, 0);
	/* A packet from before the first one counted is not received: it would make
	 * 'received' exceed 'expected'. */
	rxstats_on_packet(&s, 29990, 0, 0);
	CHECK_EQ_INT(s.ignored, 3);
	CHECK_EQ_INT(rxstats_lost(&s), 0);
	/* A forward gap just below the dropout limit is loss. */
	rxstats_on_packet(&s, (uint16_t)(30000 + RXSTATS_MAX_DROPOUT - 1), 0, 0);
	CHECK_EQ_INT(rxstats_lost(&s), RXSTATS_MAX_DROPOUT - 3);
	/* Cumulative loss clamps to 24 bits. */
	s.cycles = 65536u * 200;
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
	CHECK_EQ_INT(b.cumulative_lost, 0x7fffff);
	CHECK_EQ_INT(b.fraction_lost, 255);
	rxstats_on_packet(NULL, 1, 0, 0);
	rxstats_on_sr(NULL, 0, 0, 0);
	CHECK_EQ_INT(rxstats_report(NULL, 1, 0, &b), -1);
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, NULL), -1);
}

static uint64_t rng_state = 0xb7e151628aed2a6bull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* 100 000 packets with 5 % loss, a third of the losses retransmitted up to 300 packets
 * later, 2 % duplicated, some reordered: the cumulative loss is exactly the packets never
 * delivered. */
static void test_exact_loss(void)
{
	enum { N = 100000 };
	static uint8_t delivered[N];
	uint32_t pending[512];
	int n_pending = 0;
	int64_t lost = 0;
	memset(delivered, 0, sizeof delivered);
	rxstats_init(&s, 90000);
	rxstats_on_packet(&s, 0, 0, 0);
	delivered[0] = 1;
	for (uint32_t i = 1; i < N; i++) {
		int64_t t = (int64_t)i * 5 * MS;
		if (rnd() % 100 < 5) {
			if (rnd() % 3 == 0 && n_pending < 512)
				pending[n_pending++] = i;
			continue;
		}
		rxstats_on_packet(&s, (uint16_t)i, i * 450, t);
		delivered[i] = 1;
		if (rnd() % 50 == 0)
			rxstats_on_packet(&s, (uint16_t)i, i * 450, t + 1);
		if (n_pending > 0 && rnd() % 8 == 0) {
			uint32_t old = pending[--n_pending];
			if (i - old < 300) {
				rxstats_on_packet(&s, (uint16_t)old, old * 450, t);
				delivered[old] = 1;
			}
		}
	}
	for (uint32_t i = 0; i < N; i++)
		lost += !delivered[i];
	CHECK_EQ_INT(rxstats_lost(&s), lost);
	rtcp_report_block b;
	CHECK_EQ_INT(rxstats_report(&s, 1, 0, &b), 0);
	CHECK_EQ_INT(b.highest_seq, N - 1);
	CHECK(b.fraction_lost > 0 && b.fraction_lost < 20);
}

/* Arbitrary sequences: never crash, received never exceeds expected, fraction in range. */
static void test_random(void)
{
	rtcp_report_block b;
	int bad = 0;
	uint16_t next = (uint16_t)rnd();
	uint32_t ts = rnd();
	int64_t now = 0;
	rxstats_init(&s, 90000);
	for (int op = 0; op < 200000 && !bad; op++) {
		now += rnd() % 40000;
		uint32_t r = rnd() % 1000;
		uint16_t seq;
		if (r < 800)
			seq = next++;
		else if (r < 950)
			seq = (uint16_t)(next - rnd() % 2000);
		else if (r < 990)
			seq = next = (uint16_t)(next + rnd() % 4000);
		else
			seq = (uint16_t)rnd();
		ts += rnd() % 6000;
		rxstats_on_packet(&s, seq, rnd() % 16 ? ts : rnd(), now);
		if (rnd() % 100 == 0)
			rxstats_on_sr(&s, rnd(), rnd(), now);
		if (rnd() % 50 == 0) {
			if (rxstats_report(&s, 1, now + (int64_t)(rnd() % 10000000), &b) != 0)
				bad = 1;
			double f = rxstats_loss_fraction(&s);
			if (f < 0 || f >= 1)
				bad = 2;
		}
		if (rxstats_lost(&s) < 0)
			bad = 3;
		if (bad)
			fprintf(stderr, "random: op %d failed invariant %d\n", op, bad);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(s.duplicates > 0);
	CHECK(s.restarts > 0);
}

int main(void)
{
	test_wrap_and_loss();
	test_jitter();
	test_sr();
	test_restart_and_clamp();
	test_exact_loss();
	test_random();
	return check_done("rxstats");
}
