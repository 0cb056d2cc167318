/* NACK generator tests on packet sequences: gaps, the reorder wait, retries every RTT,
 * the retry and age limits, reordering, wraparound at 65535, duplicates, list overflow,
 * far jumps both ways, and a seeded random run checking invariants. */
#include "check.h"
#include "rtp/nack.h"

#include <stdint.h>
#include <string.h>

#define MS 1000

static nack_gen g;

static int collect(int64_t now, int64_t rtt, uint16_t *out, int max)
{
	return nack_gen_collect(&g, now, rtt, out, max);
}

static void test_in_order(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(nack_gen_on_packet(&g, (uint16_t)(1000 + i), i * MS), 0);
	CHECK_EQ_INT(collect(200 * MS, 0, out, 16), 0);
	CHECK_EQ_INT(g.gaps, 0);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 0);
	/* A duplicate of the newest and of an older packet. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 1099, 201 * MS), -1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 1050, 201 * MS), -1);
	CHECK_EQ_INT(g.duplicates, 2);
}

static void test_gap_and_retry(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 1, 0), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 2, 1 * MS), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 5, 2 * MS), 0);
	CHECK_EQ_INT(nack_gen_missing(&g), 2);
	/* Within the reorder wait: nothing yet. */
	CHECK_EQ_INT(collect(11 * MS, 0, out, 16), 0);
	CHECK_EQ_INT(collect(12 * MS, 0, out, 16), 2);
	CHECK_EQ_INT(out[0], 3);
	CHECK_EQ_INT(out[1], 4);
	CHECK_EQ_INT(g.requested, 2);
	/* RTT unknown: the retry waits 100 ms. */
	CHECK_EQ_INT(collect(111 * MS, 0, out, 16), 0);
	CHECK_EQ_INT(collect(112 * MS, 0, out, 16), 2);
	/* A known RTT of 50 ms. */
	CHECK_EQ_INT(collect(161 * MS, 50 * MS, out, 16), 0);
	CHECK_EQ_INT(collect(162 * MS, 50 * MS, out, 16), 2);
	/* An RTT below 30 ms is raised to 30 ms. */
	CHECK_EQ_INT(collect(191 * MS, 5 * MS, out, 16), 0);
	CHECK_EQ_INT(collect(192 * MS, 5 * MS, out, 16), 2);
	CHECK_EQ_INT(g.requested, 8);
	/* The retransmission of 3 arrives: it fills the gap. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 3, 200 * MS), 1);
	CHECK_EQ_INT(g.recovered, 1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 3, 201 * MS), -1);
	CHECK_EQ_INT(collect(300 * MS, 0, out, 16), 1);
	CHECK_EQ_INT(out[0], 4);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 4, 310 * MS), 1);
	CHECK_EQ_INT(nack_gen_missing(&g), 0);
	CHECK_EQ_INT(g.count, 0);
	CHECK_EQ_INT(collect(900 * MS, 0, out, 16), 0);
	CHECK_EQ_INT(g.recovered, 2);
	CHECK_EQ_INT(g.abandoned, 0);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 0);
}

static void test_reorder(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 10, 0), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 12, 1 * MS), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 11, 3 * MS), 1);
	CHECK_EQ_INT(collect(50 * MS, 0, out, 16), 0);
	CHECK_EQ_INT(g.reordered, 1);
	CHECK_EQ_INT(g.recovered, 0);
	CHECK_EQ_INT(g.requested, 0);
}

static void test_wrap(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 65533, 0), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 65535, 1 * MS), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 2, 2 * MS), 0);
	CHECK_EQ_INT(collect(20 * MS, 0, out, 16), 3);
	CHECK_EQ_INT(out[0], 65534);
	CHECK_EQ_INT(out[1], 0);
	CHECK_EQ_INT(out[2], 1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 0, 30 * MS), 1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 65534, 31 * MS), 1);
	CHECK_EQ_INT(collect(200 * MS, 0, out, 16), 1);
	CHECK_EQ_INT(out[0], 1);
	/* An old seq from before the wrap that was never missing. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 65533, 201 * MS), -1);
}

static void test_retry_limit(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	nack_gen_on_packet(&g, 100, 0);
	nack_gen_on_packet(&g, 102, 0);
	int sent = 0;
	for (int64_t t = 0; t <= 1000 * MS; t += 10 * MS)
		sent += collect(t, 30 * MS, out, 16);
	CHECK_EQ_INT(sent, NACK_MAX_TRIES);
	CHECK_EQ_INT(g.abandoned, 1);
	CHECK_EQ_INT(nack_gen_missing(&g), 0);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 1);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 0);
	/* The retransmission arrives after all: too late to count. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 101, 1001 * MS), -1);
	CHECK_EQ_INT(g.recovered, 0);
}

static void test_age_limit(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	nack_gen_on_packet(&g, 100, 0);
	nack_gen_on_packet(&g, 102, 0);
	int sent = 0;
	/* A 300 ms RTT: NACKs at 10, 310, 610, 910 ms, then the seq is a second old. */
	for (int64_t t = 0; t <= 1200 * MS; t += 5 * MS)
		sent += collect(t, 300 * MS, out, 16);
	CHECK_EQ_INT(sent, 4);
	CHECK_EQ_INT(g.abandoned, 1);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 1);
}

static void test_overflow(void)
{
	uint16_t out[NACK_MAX_MISSING];
	nack_gen_init(&g);
	nack_gen_on_packet(&g, 1, 0);
	/* 998 missing seqs (2..999) in one gap: the oldest 486 fall off. */
	nack_gen_on_packet(&g, 1000, 0);
	CHECK_EQ_INT(g.gaps, 998);
	CHECK_EQ_INT(nack_gen_missing(&g), NACK_MAX_MISSING);
	CHECK_EQ_INT(g.abandoned, 998 - NACK_MAX_MISSING);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 1);
	/* Bounded output: the oldest first, the rest on the next call. */
	int n = collect(20 * MS, 0, out, 100);
	CHECK_EQ_INT(n, 100);
	CHECK_EQ_INT(out[0], 1000 - NACK_MAX_MISSING);
	CHECK_EQ_INT(out[99], 1000 - NACK_MAX_MISSING + 99);
	n = collect(21 * MS, 0, out, NACK_MAX_MISSING);
	CHECK_EQ_INT(n, NACK_MAX_MISSING - 100);
	CHECK_EQ_INT(out[n - 1], 999);
	/* A packet from the dropped part is too old now. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 5, 22 * MS), -1);
	CHECK_EQ_INT(g.gaps, g.recovered + g.reordered + g.abandoned + nack_gen_missing(&g));
	/* Filling entries in the middle leaves the ring sorted and searchable. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 700, 23 * MS), 1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 700, 23 * MS), -1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 1000 - NACK_MAX_MISSING, 23 * MS), 1);
	CHECK_EQ_INT(nack_gen_missing(&g), NACK_MAX_MISSING - 2);
	CHECK_EQ_INT(g.recovered, 2);
}

static void test_jumps(void)
{
	uint16_t out[16];
	nack_gen_init(&g);
	nack_gen_on_packet(&g, 1, 0);
	nack_gen_on_packet(&g, 3, 0);
	/* Forward by more than NACK_RESET_GAP: restart, nothing NACKed for the jump. */
	CHECK_EQ_INT(nack_gen_on_packet(&g, 3 + NACK_RESET_GAP + 1, 1 * MS), 0);
	CHECK_EQ_INT(g.resets, 1);
	CHECK_EQ_INT(g.abandoned, 1); /* seq 2 was pending */
	CHECK_EQ_INT(nack_gen_missing(&g), 0);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(&g), 1);
	CHECK_EQ_INT(collect(100 * MS, 0, out, 16), 0);
	/* Exactly NACK_RESET_GAP ahead is still a gap. */
	nack_gen_init(&g);
	nack_gen_on_packet(&g, 0, 0);
	nack_gen_on_packet(&g, NACK_RESET_GAP, 0);
	CHECK_EQ_INT(g.resets, 0);
	CHECK_EQ_INT(g.gaps, NACK_RESET_GAP - 1);

	/* Far backward: one stray packet is ignored, two in sequence are a sender restart. */
	nack_gen_init(&g);
	nack_gen_on_packet(&g, 5000, 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 100, 1 * MS), -1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 5001, 2 * MS), 0);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 100, 3 * MS), -1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 101, 4 * MS), 0);
	CHECK_EQ_INT(g.resets, 1);
	CHECK_EQ_INT(nack_gen_on_packet(&g, 103, 5 * MS), 0);
	CHECK_EQ_INT(collect(50 * MS, 0, out, 16), 1);
	CHECK_EQ_INT(out[0], 102);

	/* NULL and zero-size output are harmless. */
	CHECK_EQ_INT(nack_gen_on_packet(NULL, 1, 0), -1);
	CHECK_EQ_INT(nack_gen_collect(NULL, 0, 0, out, 16), 0);
	CHECK_EQ_INT(collect(60 * MS, 0, NULL, 0), 0);
	CHECK_EQ_INT(nack_gen_take_keyframe_need(NULL), 0);
}

/* Deterministic generator (xorshift64*) so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Random ops: mostly small steps with loss and reordering, sometimes retransmissions of
 * what was NACKed, rare far jumps. Checks the documented bounds, the ring order, the
 * conservation of gap entries, and that nothing received since the last restart (within
 * the last second) is ever requested. */
static void test_random(void)
{
	static int64_t rx_at[65536];
	uint16_t out[64], nacked[64];
	int n_nacked = 0;
	int64_t now = 0;
	uint16_t next = (uint16_t)rnd();
	uint64_t resets = 0, requested = 0;
	int bad = 0;
	nack_gen_init(&g);
	for (int i = 0; i < 65536; i++)
		rx_at[i] = -1;
	for (int op = 0; op < 200000 && !bad; op++) {
		now += 500 + rnd() % 1500;
		uint32_t r = rnd() % 1000;
		uint16_t seq;
		if (r < 700) {
			seq = next;
			next = (uint16_t)(next + 1 + (rnd() % 10 == 0 ? rnd() % 5 : 0));
		} else if (r < 850 && n_nacked > 0) {
			seq = nacked[rnd() % n_nacked];
		} else if (r < 990) {
			seq = (uint16_t)(next - 1 - rnd() % 40);
		} else if (r < 996) {
			seq = (uint16_t)(next + rnd() % 1100);
			next = (uint16_t)(seq + 1);
		} else {
			seq = (uint16_t)rnd();
			next = (uint16_t)(seq + 1);
		}
		int rc = nack_gen_on_packet(&g, seq, now);
		if (rc < -1 || rc > 1)
			bad = 1;
		if (g.resets != resets) {
			resets = g.resets;
			for (int i = 0; i < 65536; i++)
				rx_at[i] = -1;
		}
		rx_at[seq] = now;
		if (rnd() % 4 == 0) {
			int max = (int)(rnd() % 65);
			int n = collect(now, (int64_t)(rnd() % 300) * MS, out, max);
			if (n < 0 || n > max)
				bad = 1;
			requested += (uint64_t)n;
			for (int k = 0; k < n; k++) {
				if (rx_at[out[k]] >= 0 && now - rx_at[out[k]] < NACK_MAX_AGE_US)
					bad = 2;
				if (k < 64)
					nacked[k] = out[k];
			}
			if (n > 0)
				n_nacked = n;
		}
		if (g.count < 0 || g.count > NACK_MAX_MISSING)
			bad = 3;
		/* The full scans are costly under ASan: every eighth op is enough. */
		if (op % 8 == 0) {
			for (int k = 1; k < g.count; k++)
				if (g.entries[(g.head + k) % NACK_MAX_MISSING].ext_seq <=
				    g.entries[(g.head + k - 1) % NACK_MAX_MISSING].ext_seq)
					bad = 4;
			uint64_t live = (uint64_t)nack_gen_missing(&g);
			if (g.gaps != g.recovered + g.reordered + g.abandoned + live)
				bad = 5;
		}
		if (requested != g.requested)
			bad = 6;
		if (bad)
			fprintf(stderr, "random: op %d failed invariant %d\n", op, bad);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(g.requested > 1000);
	CHECK(g.recovered > 100);
	CHECK(g.resets > 10);
	CHECK(g.abandoned > 0);
}

int main(void)
{
	test_in_order();
	test_gap_and_retry();
	test_reorder();
	test_wrap();
	test_retry_limit();
	test_age_limit();
	test_overflow();
	test_jumps();
	test_random();
	return check_done("nack");
}
