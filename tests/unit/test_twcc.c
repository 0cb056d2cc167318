/* Transport-cc tests: an exact byte encoding checked by hand, then build → parse round
 * trips that rebuild every arrival time from the reference time and the deltas (within
 * half a 250 us tick), across sequence wraparound, losses, reordering, gaps too long for
 * one delta, the 1200-byte limit and malformed input. */
#include "check.h"
#include "rtp/twcc.h"

#include <stdint.h>
#include <string.h>

#define N_MAX 4096

/* What a stream of feedback packets reported, reconstructed per sequence number. */
typedef struct decoded {
	twcc_fb fb;
	int64_t clock_us; /* running arrival time inside the current packet */
	int reports[65536];
	int received[65536];
	int64_t arrival[65536];
	int callbacks;
} decoded;

static decoded dec;

static void on_status(void *user, uint16_t seq, int received, int64_t delta_us)
{
	decoded *d = user;
	d->callbacks++;
	d->reports[seq]++;
	d->received[seq] = received;
	if (received) {
		d->clock_us += delta_us;
		d->arrival[seq] = d->clock_us;
	}
}

static int parse_into(const uint8_t *p, size_t n, decoded *d)
{
	/* The callback runs after fb is filled, but the clock must start at the reference
	 * time: parse once without a callback to read it. */
	twcc_fb fb;
	if (twcc_parse(p, n, &fb, NULL, NULL) < 0)
		return -1;
	d->clock_us = (int64_t)fb.reference_time * 64000;
	return twcc_parse(p, n, &d->fb, on_status, d);
}

static int64_t absdiff(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

/* Feeds arrivals (seq[i], t[i]; t < 0 means lost), then builds until nothing is pending,
 * parsing each packet; checks sizes, that every packet from the first to the last seq is
 * reported once, and the reconstructed times. Returns the number of feedback packets. */
static int round_trip(const uint16_t *seq, const int64_t *t, int n, size_t cap)
{
	static twcc_rec r;
	memset(&dec, 0, sizeof dec);
	twcc_rec_init(&r);
	for (int i = 0; i < n; i++)
		if (t[i] >= 0)
			twcc_rec_add(&r, seq[i], t[i]);
	int packets = 0;
	uint8_t out[1500];
	int len;
	while ((len = twcc_rec_build(&r, 0x1111, 0x2222, out, cap)) > 0) {
		CHECK(len % 4 == 0);
		CHECK(len <= 1200 && (size_t)len <= cap);
		CHECK_EQ_INT(parse_into(out, (size_t)len, &dec), 0);
		CHECK_EQ_INT(dec.fb.fb_count, (uint8_t)packets);
		CHECK_EQ_INT(out[4] << 24 | out[5] << 16 | out[6] << 8 | out[7], 0x1111);
		packets++;
		if (packets > 100)
			break;
	}
	CHECK_EQ_INT(len, 0);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		uint16_t s = seq[i];
		if (dec.reports[s] != 1 || dec.received[s] != (t[i] >= 0))
			bad++;
		else if (t[i] >= 0 && absdiff(dec.arrival[s], t[i]) > 125)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	return packets;
}

static void test_exact_bytes(void)
{
	twcc_rec r;
	twcc_rec_init(&r);
	CHECK_EQ_INT(twcc_rec_build(&r, 1, 2, (uint8_t[64]){0}, 64), 0); /* nothing yet */
	twcc_rec_add(&r, 10, 128000 + 1000);
	twcc_rec_add(&r, 12, 128000 + 1500);
	uint8_t out[64];
	int n = twcc_rec_build(&r, 0x01020304, 0x05060708, out, sizeof out);
	const uint8_t want[] = {0x8f, 0xcd, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04,
	                        0x05, 0x06, 0x07, 0x08, 0x00, 0x0a, 0x00, 0x03,
	                        0x00, 0x00, 0x02, 0x00, 0xd1, 0x00, 0x04, 0x02};
	CHECK_EQ_INT(n, (int)sizeof want);
	CHECK(memcmp(out, want, sizeof want) == 0);
	CHECK_EQ_INT(twcc_rec_build(&r, 1, 2, out, sizeof out), 0);
	CHECK_EQ_INT(r.fb_count, 1);

	/* Ten packets one tick apart: one run-length chunk. */
	for (int i = 0; i < 10; i++)
		twcc_rec_add(&r, (uint16_t)(13 + i), 200000 + 250 * i);
	n = twcc_rec_build(&r, 1, 2, out, sizeof out);
	CHECK_EQ_INT(n, 32);
	CHECK_EQ_INT(out[12] << 8 | out[13], 13);
	CHECK_EQ_INT(out[14] << 8 | out[15], 10);
	CHECK_EQ_INT(out[19], 1);
	CHECK_EQ_INT(out[20], 0x20);
	CHECK_EQ_INT(out[21], 0x0a);
	/* 200000 - 3 * 64000 = 8000 us = 32 ticks, then nine deltas of 1. */
	CHECK_EQ_INT(out[22], 32);
	CHECK_EQ_INT(out[23], 1);
	CHECK_EQ_INT(out[31], 1); /* 22 + 10 deltas end exactly at a word: no padding */
}

static uint16_t seqs[N_MAX];
static int64_t times[N_MAX];

static void test_wrap_and_losses(void)
{
	/* 300 packets from 65400 across the wrap, 5 ms apart with jitter, every third lost
	 * and a run of 30 lost. */
	for (int i = 0; i < 300; i++) {
		seqs[i] = (uint16_t)(65400 + i);
		times[i] = 5000000 + 5000 * i + (i * 7919 % 1000);
		if (i % 3 == 1 || (i >= 150 && i < 180))
			times[i] = -1;
	}
	CHECK_EQ_INT(round_trip(seqs, times, 300, 1500), 1);
	CHECK_EQ_INT(dec.fb.base_seq, 65400);
	CHECK_EQ_INT(dec.fb.status_count, 300);
}

static void test_out_of_order(void)
{
	/* Pairs swapped on arrival: the second of each pair arrives 1 ms before the first,
	 * giving negative deltas. */
	for (int i = 0; i < 200; i++) {
		seqs[i] = (uint16_t)(100 + i);
		int64_t base = 1000000 + 2000 * (i / 2) * 2;
		times[i] = (i % 2) ? base : base + 1000;
	}
	CHECK_EQ_INT(round_trip(seqs, times, 200, 1500), 1);
	/* Arrivals added in arrival order rather than sequence order give the same result. */
	twcc_rec r;
	twcc_rec_init(&r);
	for (int i = 0; i < 200; i += 2) {
		twcc_rec_add(&r, seqs[i + 1], times[i + 1]);
		twcc_rec_add(&r, seqs[i], times[i]);
	}
	twcc_rec_add(&r, seqs[5], times[5] + 77777); /* a duplicate keeps the first time */
	uint8_t out[1500];
	int n = twcc_rec_build(&r, 1, 2, out, sizeof out);
	CHECK(n > 0);
	memset(&dec, 0, sizeof dec);
	CHECK_EQ_INT(parse_into(out, (size_t)n, &dec), 0);
	/* Seq 101 came first and set the base, so 100 arrived "late" and is not reported. */
	CHECK_EQ_INT(dec.callbacks, 199);
	CHECK_EQ_INT(dec.reports[100], 0);
	CHECK(absdiff(dec.arrival[105], times[5]) <= 125);
	CHECK(absdiff(dec.arrival[299], times[199]) <= 125);
	/* A late packet from before the new base is ignored, not reported again. */
	twcc_rec_add(&r, 150, 5000000);
	CHECK_EQ_INT(twcc_rec_build(&r, 1, 2, out, sizeof out), 0);
}

static void test_large_gap(void)
{
	/* A 10 s silence is beyond a 16-bit delta (8.19 s): the feedback ends before it. */
	for (int i = 0; i < 20; i++) {
		seqs[i] = (uint16_t)(65530 + i);
		times[i] = 70000000 + 20000 * i + (i >= 10 ? 10000000 : 0);
	}
	CHECK_EQ_INT(round_trip(seqs, times, 20, 1500), 2);
	/* A 5 s gap still fits a large delta and stays in one packet. */
	for (int i = 0; i < 20; i++)
		times[i] = 70000000 + 20000 * i + (i >= 10 ? 5000000 : 0);
	CHECK_EQ_INT(round_trip(seqs, times, 20, 1500), 1);
	/* Arrival going 9 s backwards (a wildly reordered packet) also splits. */
	for (int i = 0; i < 20; i++)
		times[i] = 70000000 + 20000 * i + (i == 10 ? -9000000 : 0);
	CHECK(round_trip(seqs, times, 20, 1500) >= 2);
}

static void test_size_limit(void)
{
	/* 1000 packets whose alternating arrivals need two-byte deltas: 2000 bytes of deltas
	 * cannot fit 1200, so several packets carry them. */
	for (int i = 0; i < 1000; i++) {
		seqs[i] = (uint16_t)(40000 + i);
		times[i] = 90000000 + 1000 * i + ((i % 2) ? 100000 : 0);
	}
	int packets = round_trip(seqs, times, 1000, 1500);
	CHECK(packets >= 2);
	/* A small buffer still works, in more packets; a tiny one is refused. */
	CHECK(round_trip(seqs, times, 100, 64) >= 2);
	twcc_rec r;
	twcc_rec_init(&r);
	twcc_rec_add(&r, 1, 1000);
	uint8_t out[32];
	CHECK(twcc_rec_build(&r, 1, 2, out, 23) < 0);
	CHECK_EQ_INT(twcc_rec_build(&r, 1, 2, out, 24), 24);
}

static void test_window(void)
{
	twcc_rec r;
	uint8_t out[1500];
	twcc_rec_init(&r);
	/* Continuous traffic that outruns the builder keeps the newest TWCC_WINDOW seqs. */
	for (int i = 0; i < TWCC_WINDOW + 100; i++)
		twcc_rec_add(&r, (uint16_t)i, 1000000 + 1000 * i);
	int n = twcc_rec_build(&r, 1, 2, out, sizeof out);
	memset(&dec, 0, sizeof dec);
	CHECK_EQ_INT(parse_into(out, (size_t)n, &dec), 0);
	CHECK_EQ_INT(dec.fb.base_seq, 100);
	while ((n = twcc_rec_build(&r, 1, 2, out, sizeof out)) > 0)
		CHECK_EQ_INT(parse_into(out, (size_t)n, &dec), 0);
	CHECK_EQ_INT(dec.reports[99], 0);
	CHECK_EQ_INT(dec.reports[100], 1);
	CHECK_EQ_INT(dec.reports[TWCC_WINDOW + 99], 1);
	/* A jump far ahead restarts at the new seq instead of reporting thousands lost. */
	twcc_rec_add(&r, 30000, 9000000);
	twcc_rec_add(&r, 30001, 9001000);
	n = twcc_rec_build(&r, 1, 2, out, sizeof out);
	memset(&dec, 0, sizeof dec);
	CHECK_EQ_INT(parse_into(out, (size_t)n, &dec), 0);
	CHECK_EQ_INT(dec.fb.base_seq, 30000);
	CHECK_EQ_INT(dec.fb.status_count, 2);
}

static void test_parse_rejects(void)
{
	twcc_rec r;
	twcc_rec_init(&r);
	for (int i = 0; i < 30; i++)
		twcc_rec_add(&r, (uint16_t)i, 1000000 + 3000 * i + (i % 4 ? 0 : 200000));
	uint8_t out[256], bad[256];
	int n = twcc_rec_build(&r, 1, 2, out, sizeof out);
	CHECK(n > 0);
	twcc_fb fb;
	CHECK_EQ_INT(twcc_parse(out, (size_t)n, &fb, NULL, NULL), 0);
	CHECK_EQ_INT(fb.reference_time, 18); /* 1.2 s / 64 ms, floored */
	/* Every truncation fails without a single callback. */
	int fails = 0;
	for (int k = 0; k < n; k++) {
		dec.callbacks = 0;
		if (twcc_parse(out, (size_t)k, &fb, on_status, &dec) == -1 && dec.callbacks == 0)
			fails++;
	}
	CHECK_EQ_INT(fails, n);
	/* A length field claiming fewer bytes than the deltas need. */
	memcpy(bad, out, (size_t)n);
	bad[3] = 6;
	CHECK_EQ_INT(twcc_parse(bad, (size_t)n, &fb, NULL, NULL), -1);
	/* More statuses than the chunks and deltas can hold. */
	memcpy(bad, out, (size_t)n);
	bad[14] = 0x10;
	CHECK_EQ_INT(twcc_parse(bad, (size_t)n, &fb, NULL, NULL), -1);
	/* A reserved symbol in a run-length chunk. */
	memcpy(bad, out, (size_t)n);
	bad[20] = 0x60;
	CHECK_EQ_INT(twcc_parse(bad, (size_t)n, &fb, NULL, NULL), -1);
	/* Wrong FMT or packet type. */
	memcpy(bad, out, (size_t)n);
	bad[0] = 0x81;
	CHECK_EQ_INT(twcc_parse(bad, (size_t)n, &fb, NULL, NULL), -1);
	memcpy(bad, out, (size_t)n);
	bad[1] = 206;
	CHECK_EQ_INT(twcc_parse(bad, (size_t)n, &fb, NULL, NULL), -1);
	/* A negative reference time (24-bit sign) and one-bit status vectors decode. */
	const uint8_t neg[] = {0x8f, 0xcd, 0x00, 0x06, 0,    0,    0,    1,    0,    0,
	                       0,    2,    0xff, 0xfe, 0x00, 0x03, 0xff, 0xff, 0xfe, 0x07,
	                       0xa8, 0x00, 0x05, 0x06, 0,    0,    0,    0};
	memset(&dec, 0, sizeof dec);
	CHECK_EQ_INT(twcc_parse(neg, sizeof neg, &dec.fb, on_status, &dec), 0);
	CHECK_EQ_INT(dec.fb.reference_time, -2);
	CHECK_EQ_INT(dec.fb.fb_count, 7);
	CHECK_EQ_INT(dec.callbacks, 3);
	CHECK_EQ_INT(dec.received[65534], 1);
	CHECK_EQ_INT(dec.received[65535], 0);
	CHECK_EQ_INT(dec.received[0], 1);
	CHECK_EQ_INT(dec.arrival[65534], 5 * 250);
	CHECK_EQ_INT(dec.arrival[0], 11 * 250);
}

int main(void)
{
	test_exact_bytes();
	test_wrap_and_losses();
	test_out_of_order();
	test_large_gap();
	test_size_limit();
	test_window();
	test_parse_rejects();
	return check_done("twcc");
}
