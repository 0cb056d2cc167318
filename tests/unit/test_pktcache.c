/* Retransmission cache tests: store and fetch, the age limit, the duplicate-NACK gap,
 * overwriting by newer seqs, wraparound at 65535, oversize packets, clear, the age helper,
 * bad arguments, and a seeded random run against a reference model. */
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
	/* Oversize: not stored, and the slot no longer answers for the older packet. */
	uint8_t big[101] = {0};
	pktcache_put(c, 58, big, sizeof big, 402 * MS);
	CHECK(pktcache_get(c, 58, 402 * MS, 300 * MS, 0, &len) == NULL);
	CHECK(pktcache_get(c, 50, 403 * MS, 300 * MS, 0, &len) == NULL);
	/* Exactly max_packet fits; zero length is a valid (empty) entry. */
	pktcache_put(c, 59, big, 100, 404 * MS);
	CHECK(pktcache_get(c, 59, 404 * MS, 300 * MS, 0, &len) != NULL && len == 100);
	pktcache_put(c, 60, big, 0, 404 * MS);
	CHECK(pktcache_get(c, 60, 404 * MS, 300 * MS, 0, &len) != NULL && len == 0);

	pktcache_stats st;
	pktcache_get_stats(c, &st);
	CHECK_EQ_INT(st.stored, 4);
	CHECK_EQ_INT(st.oversize, 1);
	CHECK_EQ_INT(st.hits, 6);
	CHECK_EQ_INT(st.throttled, 1);
	CHECK_EQ_INT(st.misses, 6);

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

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Reference model: per seq, the last stored bytes and time, and the last resend time. The
 * cache may forget more (a slot overwritten by another seq), never return something wrong. */
typedef struct model_entry {
	int64_t stored_us, resent_us;
	int resends;
	size_t len;
	uint8_t fill;
	int valid;
} model_entry;

static void test_random(void)
{
	static model_entry m[65536];
	enum { CAP = 64, MAXP = 200 };
	pktcache *c = pktcache_new(CAP, MAXP);
	uint8_t p[MAXP + 8];
	int64_t now = 0;
	uint16_t next = 65000;
	int bad = 0, hits = 0;
	for (int op = 0; op < 200000 && !bad; op++) {
		now += rnd() % 3000;
		if (rnd() % 2) {
			size_t len = rnd() % (MAXP + 8);
			uint8_t f = (uint8_t)rnd();
			memset(p, f, len);
			uint16_t seq = next++;
			pktcache_put(c, seq, p, len, now);
			/* Every other seq sharing the slot is gone from the cache's view too. */
			for (uint32_t k = seq & (CAP - 1); k < 65536; k += CAP)
				m[k].valid = 0;
			if (len <= MAXP)
				m[seq] = (model_entry){now, 0, 0, len, f, 1};
		} else {
			uint16_t seq = (uint16_t)(next - 1 - rnd() % (CAP * 2));
			int64_t age = (int64_t)(rnd() % 400) * MS, gap = (int64_t)(rnd() % 50) * MS;
			size_t len = 0;
			const uint8_t *r = pktcache_get(c, seq, now, age, gap, &len);
			model_entry *e = &m[seq];
			int expect = e->valid && now - e->stored_us <= age &&
			             !(e->resends > 0 && now - e->resent_us < gap);
			if (!!r != expect)
				bad = 1;
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
			fprintf(stderr, "random: op %d failed invariant %d\n", op, bad);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(hits > 1000);
	pktcache_free(c);
}

int main(void)
{
	test_basic();
	test_wrap();
	test_args();
	test_random();
	return check_done("pktcache");
}
