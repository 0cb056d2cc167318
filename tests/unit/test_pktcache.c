/* Retransmission cache tests: store and fetch, the age limit, the duplicate-NACK gap,
 * overwriting by newer seqs, wraparound at 65535, oversize packets, clear, the age helper,
 * bad arguments, growth to a stream's last second and no further, the bound, and seeded
 * random runs against a reference model. */
#include "check.h"
#include "rtp/pktcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000

static void fill(uint8_t *p, size_t n, uint16_t seq)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seq * 7 + i);
}

static void test_basic(void)
{
	pktcache *c = pktcache_new(8, 100);
	CHECK(c != NULL);
	uint8_t p[100], q[100];
	size_t len = 0;
	fill(p, 60, 42);
	pktcache_put(c, 42, p, 60, 0);
	const uint8_t *r = pktcache_get(c, 42, 10 * MS, 300 * MS, 20 * MS, &len);
	CHECK(r != NULL);
	CHECK_EQ_INT(len, 60);
	CHECK(r && memcmp(r, p, 60) == 0);
	CHECK_EQ_INT(pktcache_resends(c, 42), 1);
	/* The stored copy is independent of the caller's buffer. */
	memset(p, 0, sizeof p);
	fill(q, 60, 42);
	/* A duplicate NACK within the gap is refused, a later one answered. */
	CHECK(pktcache_get(c, 42, 30 * MS - 1, 300 * MS, 20 * MS, &len) == NULL);
	r = pktcache_get(c, 42, 30 * MS, 300 * MS, 20 * MS, &len);
	CHECK(r && memcmp(r, q, 60) == 0);
	CHECK_EQ_INT(pktcache_resends(c, 42), 2);
	/* Too old. */
	CHECK(pktcache_get(c, 42, 301 * MS, 300 * MS, 0, &len) == NULL);
	CHECK(pktcache_get(c, 42, 300 * MS, 300 * MS, 0, &len) != NULL);
	/* Absent, and a seq that maps to the same slot but was never stored. */
	CHECK(pktcache_get(c, 43, 10 * MS, 300 * MS, 0, &len) == NULL);
	CHECK(pktcache_get(c, 42 + 8, 10 * MS, 300 * MS, 0, &len) == NULL);
	CHECK_EQ_INT(pktcache_resends(c, 50), 0);
	/* A newer seq in the same slot replaces it and resets the resend count. */
	fill(p, 30, 50);
	pktcache_put(c, 50, p, 30, 400 * MS);
	CHECK(pktcache_get(c, 42, 400 * MS, 300 * MS, 0, &len) == NULL);
	r = pktcache_get(c, 50, 401 * MS, 300 * MS, 0, &len);
	CHECK(r && len == 30 && memcmp(r, p, 30) == 0);
	CHECK_EQ_INT(pktcache_resends(c, 50), 1);
	/* Oversize: not stored, and the cache no longer answers for that seq with an older
	 * packet (seqs come round after 65536 packets); another seq is not disturbed. */
	uint8_t big[101] = {0};
	pktcache_put(c, 51, big, 10, 402 * MS);
	pktcache_put(c, 51, big, sizeof big, 402 * MS);
	CHECK(pktcache_get(c, 51, 402 * MS, 300 * MS, 0, &len) == NULL);
	CHECK(pktcache_get(c, 50, 403 * MS, 300 * MS, 0, &len) != NULL);
	/* Exactly max_packet fits; zero length is a valid (empty) entry. */
	pktcache_put(c, 59, big, 100, 404 * MS);
	CHECK(pktcache_get(c, 59, 404 * MS, 300 * MS, 0, &len) != NULL && len == 100);
	pktcache_put(c, 60, big, 0, 404 * MS);
	CHECK(pktcache_get(c, 60, 404 * MS, 300 * MS, 0, &len) != NULL && len == 0);

	pktcache_stats st;
	pktcache_get_stats(c, &st);
	CHECK_EQ_INT(st.stored, 5);
	CHECK_EQ_INT(st.oversize, 1);
	CHECK_EQ_INT(st.hits, 7);
	CHECK_EQ_INT(st.throttled, 1);
	CHECK_EQ_INT(st.misses, 5);

	pktcache_clear(c);
	CHECK(pktcache_get(c, 59, 405 * MS, 300 * MS, 0, &len) == NULL);
	pktcache_free(c);
}

static void test_wrap(void)
{
	pktcache *c = pktcache_new(16, 64);
	uint8_t p[64];
	size_t len;
	for (uint32_t i = 0; i < 12; i++) {
		uint16_t seq = (uint16_t)(65530 + i);
		fill(p, 64, seq);
		pktcache_put(c, seq, p, 64, i * MS);
	}
	for (uint32_t i = 0; i < 12; i++) {
		uint16_t seq = (uint16_t)(65530 + i);
		fill(p, 64, seq);
		const uint8_t *r = pktcache_get(c, seq, 20 * MS, 300 * MS, 10 * MS, &len);
		CHECK(r && memcmp(r, p, 64) == 0);
	}
	/* The same seq 65536 packets later is a new packet (old entry long expired). */
	fill(p, 64, 1);
	pktcache_put(c, 1, p, 10, 70000 * MS);
	CHECK(pktcache_get(c, 1, 70000 * MS, 300 * MS, 10 * MS, &len) != NULL);
	CHECK_EQ_INT(len, 10);
	/* A stale entry whose seq comes round again without being re-put is too old. */
	CHECK(pktcache_get(c, 65530, 70000 * MS, 300 * MS, 10 * MS, &len) == NULL);
	pktcache_free(c);
}

static void test_args(void)
{
	CHECK(pktcache_new(0, 1500) == NULL);
	CHECK(pktcache_new(3, 1500) == NULL);
	CHECK(pktcache_new(-8, 1500) == NULL);
	CHECK(pktcache_new(65536, 1500) == NULL);
	CHECK(pktcache_new(8, 0) == NULL);
	CHECK(pktcache_new(8, 65536) == NULL);
	pktcache *c = pktcache_new(1, 1);
	CHECK(c != NULL);
	pktcache_free(c);
	pktcache_free(NULL);
	pktcache_put(NULL, 1, (const uint8_t *)"x", 1, 0);
	size_t len;
	CHECK(pktcache_get(NULL, 1, 0, 0, 0, &len) == NULL);
	pktcache_clear(NULL);
	pktcache_stats st;
	pktcache_get_stats(NULL, &st);
	CHECK_EQ_INT(st.hits, 0);
	CHECK_EQ_INT(pktcache_resends(NULL, 1), 0);

	CHECK_EQ_INT(pktcache_age_for_rtt(0), 300 * MS);
	CHECK_EQ_INT(pktcache_age_for_rtt(-5), 300 * MS);
	CHECK_EQ_INT(pktcache_age_for_rtt(20 * MS), 200 * MS);
	CHECK_EQ_INT(pktcache_age_for_rtt(150 * MS), 250 * MS);
	CHECK_EQ_INT(pktcache_age_for_rtt(900 * MS), 1000 * MS);
	CHECK_EQ_INT(pktcache_age_for_rtt(INT64_MAX), 1000 * MS);
}

static size_t cache_bytes(const pktcache *c)
{
	pktcache_stats st;
	pktcache_get_stats(c, &st);
	return st.bytes;
}

/* Whether every packet put at i = first..last (seq base + i, 1100 bytes, i * step_us) is
 * there with its bytes. */
static int all_there(pktcache *c, uint16_t base, uint32_t first, uint32_t last, int64_t now)
{
	uint8_t p[1100];
	for (uint32_t i = first; i <= last; i++) {
		uint16_t seq = (uint16_t)(base + i);
		size_t len = 0;
		const uint8_t *r = pktcache_get(c, seq, now, PKTCACHE_KEEP_US, 0, &len);
		fill(p, sizeof p, seq);
		if (!r || len != sizeof p || memcmp(r, p, len) != 0) {
			fprintf(stderr, "all_there: seq %u missing or wrong\n", seq);
			return 0;
		}
	}
	return 1;
}

/* A 1 Mbit/s stream (1100-byte packets every 10 ms, a 40-packet key frame every 2 s):
 * the cache grows to hold its last second, no more, across the 16-bit seq wrap. */
static void test_growth(void)
{
	pktcache *c = pktcache_new(512, 1500);
	size_t start = cache_bytes(c), at3s = 0;
	CHECK(start < 20 * 1024);
	uint8_t p[1100];
	const uint16_t base = 65100; /* wraps after 436 packets */
	uint32_t i = 0;
	int64_t now = 0;
	int ok = 1;
	for (int64_t t = 0; t < 10000 * MS; t += 10 * MS) {
		int burst = t % (2000 * MS) == 0 ? 40 : 1;
		for (int k = 0; k < burst; k++, i++) {
			now = t + k * 100; /* a key frame leaves within 4 ms */
			uint16_t seq = (uint16_t)(base + i);
			fill(p, sizeof p, seq);
			pktcache_put(c, seq, p, sizeof p, now);
		}
		if (t == 3000 * MS)
			at3s = cache_bytes(c);
		/* Everything of the last second (every 100 ms; 140 packets at most). */
		if (t % (100 * MS) == 0 && i > 141)
			ok &= all_there(c, base, i - 100, i - 1, now);
	}
	CHECK(ok);
	size_t end = cache_bytes(c);
	/* 1 s is about 140 packets with the key frame: 155 KB; the growth steps by half. */
	CHECK(end >= 140 * 1108);
	CHECK(end <= 2 * 140 * 1108);
	CHECK_EQ_INT(end, at3s); /* grown by the first key frame's second, then steady */
	/* A packet 3 s old is gone even when asked with a long age limit. */
	size_t len;
	CHECK(pktcache_get(c, (uint16_t)(base + i - 330), now, 10000 * MS, 0, &len) == NULL);
	pktcache_stats st;
	pktcache_get_stats(c, &st);
	CHECK(st.grown > 0 && st.grown < 12);
	CHECK_EQ_INT(st.misses, 1);
	/* clear forgets, keeps the room. */
	pktcache_clear(c);
	CHECK(pktcache_get(c, (uint16_t)(base + i - 1), now, 10000 * MS, 0, &len) == NULL);
	CHECK_EQ_INT(cache_bytes(c), end);
	pktcache_free(c);
}

/* A backlog the loop forwards at once (3 s of the stream in 30 ms) grows the ring to hold
 * it, as NACKs may ask for any of it within the next second; afterwards the ring gives the
 * room back, never dropping the last second on the way. */
static void test_shrink(void)
{
	pktcache *c = pktcache_new(512, 1500);
	uint8_t p[1100];
	const uint16_t base = 65500;
	uint32_t i = 0;
	int64_t now = 0, t = 0;
	int ok = 1;
	for (; t < 5000 * MS; t += 10 * MS, i++) {
		now = t;
		fill(p, sizeof p, (uint16_t)(base + i));
		pktcache_put(c, (uint16_t)(base + i), p, sizeof p, now);
	}
	size_t steady = cache_bytes(c);
	for (int k = 0; k < 300; k++, i++) {
		now = t + k * 100;
		fill(p, sizeof p, (uint16_t)(base + i));
		pktcache_put(c, (uint16_t)(base + i), p, sizeof p, now);
	}
	t += 30 * MS;
	CHECK(cache_bytes(c) > 300 * 1108);
	ok &= all_there(c, base, i - 395, i - 1, now); /* the backlog and the second before */
	for (int64_t end = t + 25000 * MS; t < end; t += 10 * MS, i++) {
		now = t;
		fill(p, sizeof p, (uint16_t)(base + i));
		pktcache_put(c, (uint16_t)(base + i), p, sizeof p, now);
		if (t % (100 * MS) == 0)
			ok &= all_there(c, base, i - 99, i, now);
	}
	CHECK(ok);
	CHECK(cache_bytes(c) <= steady + steady / 2);
	pktcache_stats st;
	pktcache_get_stats(c, &st);
	CHECK(st.shrunk >= 1);
	pktcache_free(c);
}

/* A stream far faster than the bound: 2,000 full-size packets a second. The cache stops at
 * its bound and keeps the last `capacity` packets. */
static void test_bound(void)
{
	pktcache *c = pktcache_new(512, 1500);
	uint8_t p[1500];
	memset(p, 0x5a, sizeof p);
	int64_t now = 0;
	uint16_t seq = 60000;
	for (int i = 0; i < 4000; i++, seq++) {
		now = i * 500;
		p[0] = (uint8_t)seq;
		pktcache_put(c, seq, p, sizeof p, now);
	}
	CHECK(cache_bytes(c) <= 513 * 1508 + 512 * 40 + 256);
	CHECK(cache_bytes(c) >= 512 * 1508);
	size_t len = 0;
	int kept = 0;
	for (uint16_t k = 1; k <= 512; k++) {
		const uint8_t *r =
		    pktcache_get(c, (uint16_t)(seq - k), now, PKTCACHE_KEEP_US, 0, &len);
		kept += r && len == sizeof p && r[0] == (uint8_t)(seq - k) && r[1] == 0x5a;
	}
	CHECK_EQ_INT(kept, 512);
	CHECK(pktcache_get(c, (uint16_t)(seq - 513), now, PKTCACHE_KEEP_US, 0, &len) == NULL);
	/* Sizes mixed from 0 to 1500 bytes at the bound: the last 512 are still all there. */
	for (int i = 0; i < 3000; i++, seq++) {
		now += 500;
		size_t n = (size_t)(i * 7919) % 1501;
		memset(p, (uint8_t)seq, n);
		pktcache_put(c, seq, p, n, now);
	}
	kept = 0;
	for (uint16_t k = 1; k <= 512; k++) {
		uint16_t s = (uint16_t)(seq - k);
		const uint8_t *r = pktcache_get(c, s, now, PKTCACHE_KEEP_US, 0, &len);
		size_t want = (size_t)((3000 - k) * 7919) % 1501;
		kept += r && len == want &&
		        (len == 0 || (r[0] == (uint8_t)s && r[len - 1] == (uint8_t)s));
	}
	CHECK_EQ_INT(kept, 512);
	pktcache_free(c);
}

/* Oversize packets never reach the ring; a burst of them does not disturb the stream. */
static void test_oversize(void)
{
	pktcache *c = pktcache_new(512, 1200);
	uint8_t p[1300];
	memset(p, 1, sizeof p);
	for (uint16_t s = 0; s < 50; s++)
		pktcache_put(c, s, p, s % 2 ? 1201 : 1200, s * 1000);
	size_t len;
	int got = 0;
	for (uint16_t s = 0; s < 50; s++)
		got += pktcache_get(c, s, 50 * 1000, PKTCACHE_KEEP_US, 0, &len) != NULL;
	CHECK_EQ_INT(got, 25);
	pktcache_stats st;
	pktcache_get_stats(c, &st);
	CHECK_EQ_INT(st.oversize, 25);
	CHECK_EQ_INT(st.stored, 25);
	pktcache_free(c);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Reference model: per seq, the last stored bytes and time, and the last resend time. The
 * cache may forget, never return something other than the last packet stored for a seq.
 * It must not forget one younger than PKTCACHE_KEEP_US while that is among the last `cap`
 * packets stored and seqs (the bounds). When its index starts at the bound (cap <= 64,
 * INDEX_INITIAL), a stored packet takes the entry of every seq sharing it, exactly. */
typedef struct model_entry {
	int64_t stored_us, resent_us;
	uint64_t nth; /* stored packets before it */
	int resends;
	size_t len;
	uint8_t fill;
	int valid;
} model_entry;

static model_entry model[65536];

/* ops random puts and gets, time moving by up to max_step_us between them (bursty: now and
 * then a stretch of steps of up to 200 us), gets up to max_age_ms old. */
static void run_random(uint32_t cap, size_t maxp, int64_t max_step_us, uint32_t max_age_ms, int ops,
                       int min_hits, int bursty)
{
	int fast = 0;
	model_entry *m = model;
	memset(model, 0, sizeof model);
	pktcache *c = pktcache_new((int)cap, maxp);
	uint8_t p[65536];
	int64_t now = 0;
	uint16_t next = 65000;
	int bad = 0, hits = 0, forgot = 0;
	uint64_t stored = 0;
	for (int op = 0; op < ops && !bad; op++) {
		if (bursty && rnd() % 3000 == 0)
			fast = !fast;
		now += rnd() % (uint32_t)(fast ? 200 : max_step_us);
		if (rnd() % 2) {
			size_t len = rnd() % (maxp + 8);
			uint8_t f = (uint8_t)rnd();
			memset(p, f, len);
			uint16_t seq = next++;
			pktcache_put(c, seq, p, len, now);
			if (len <= maxp) {
				if (cap <= 64)
					for (uint32_t k = seq & (cap - 1); k < 65536; k += cap)
						m[k].valid = 0;
				m[seq] = (model_entry){now, 0, stored++, 0, len, f, 1};
			} else {
				m[seq].valid = 0;
			}
		} else {
			uint16_t back = (uint16_t)(rnd() % (cap * 2));
			uint16_t seq = (uint16_t)(next - 1 - back);
			int64_t age = (int64_t)(rnd() % max_age_ms) * MS;
			int64_t gap = (int64_t)(rnd() % 50) * MS;
			size_t len = 0;
			const uint8_t *r = pktcache_get(c, seq, now, age, gap, &len);
			model_entry *e = &m[seq];
			int may = e->valid && now - e->stored_us <= age &&
			          !(e->resends > 0 && now - e->resent_us < gap);
			int must = may && now - e->stored_us < PKTCACHE_KEEP_US &&
			           stored - e->nth <= cap && back < cap;
			if ((r && !may) || (!r && must))
				bad = 1;
			forgot += may && !r;
			if (r) {
				hits++;
				if (len != e->len ||
				    (len && (r[0] != e->fill || r[len - 1] != e->fill)))
					bad = 2;
				e->resends++;
				e->resent_us = now;
				if (pktcache_resends(c, seq) != e->resends)
					bad = 3;
			}
		}
		if (bad)
			fprintf(stderr, "random %u/%zu: op %d failed invariant %d\n", cap, maxp, op,
			        bad);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(hits > min_hits);
	pktcache_stats st;
	pktcache_get_stats(c, &st);
	if (bursty)
		CHECK(st.grown > 20 && st.shrunk > 10);
	CHECK(st.bytes <= sizeof(void *) * 32 + cap * 40 + (cap + 1) * (maxp + 16));
	pktcache_free(c);
}

static void test_random(void)
{
	/* At the bound from the start (the ring's 16 KiB is more than 65 x 208 bytes). */
	run_random(64, 200, 3000, 400, 200000, 1000, 0);
	/* Growing: about 330 packets a second, gets up to 1.2 s old, bursts of small packets. */
	run_random(512, 1500, 3000, 1200, 200000, 1000, 0);
	/* Fast: 2,000 packets a second, so the bounds (512 packets) are what limits. */
	run_random(512, 1500, 1000, 1200, 200000, 1000, 0);
	/* Slow (about 50 packets a second) with bursts of 5,000 a second: the ring grows to
	 * the bound and shrinks back, again and again. */
	run_random(512, 1500, 40000, 1200, 400000, 1000, 1);
}

int main(void)
{
	test_basic();
	test_wrap();
	test_args();
	test_growth();
	test_shrink();
	test_bound();
	test_oversize();
	test_random();
	return check_done("pktcache");
}
