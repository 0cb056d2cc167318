/* RFC 2198 RED tests: a payload as Chromium builds it (one redundant Opus block and the
 * primary), the primary-only form, build and parse round trips, payload type rewriting
 * (the receiver's PTs in every block header), blocks of other payload types left out,
 * de-RED (the primary block alone), malformed payloads (every truncation, lengths past the
 * end, too many blocks) and random bytes, which must never parse into a block outside the
 * payload. */
#include "check.h"
#include "rtp/red.h"

#include <stdint.h>
#include <string.h>

/* Chromium's shape: a redundant block header (F=1, PT 111, offset 960 = 0x3c0 in 14 bits,
 * length 3 in 10 bits: 0xef 0x0f 0x00 0x03), the primary header (PT 111), 3 bytes of
 * redundant data, 4 bytes of primary data. */
static const uint8_t chromium[] = {0xef, 0x0f, 0x00, 0x03, 111,  0xa1,
                                   0xa2, 0xa3, 0xb1, 0xb2, 0xb3, 0xb4};

static void test_parse_chromium(void)
{
	red_packet rp;
	CHECK_EQ_INT(red_parse(chromium, sizeof chromium, &rp), 0);
	CHECK_EQ_INT(rp.n, 2);
	CHECK_EQ_INT(rp.header_len, 5);
	CHECK_EQ_INT(rp.block[0].pt, 111);
	CHECK_EQ_INT(rp.block[0].ts_offset, 960);
	CHECK_EQ_INT(rp.block[0].off, 5);
	CHECK_EQ_INT(rp.block[0].len, 3);
	CHECK_EQ_INT(rp.block[1].pt, 111);
	CHECK_EQ_INT(rp.block[1].ts_offset, 0);
	CHECK_EQ_INT(rp.block[1].off, 8);
	CHECK_EQ_INT(rp.block[1].len, 4);
	CHECK(memcmp(chromium + rp.block[1].off, "\xb1\xb2\xb3\xb4", 4) == 0);
}

static void test_primary_only(void)
{
	const uint8_t p[] = {111, 0x01, 0x02};
	red_packet rp;
	CHECK_EQ_INT(red_parse(p, sizeof p, &rp), 0);
	CHECK_EQ_INT(rp.n, 1);
	CHECK_EQ_INT(rp.block[0].off, 1);
	CHECK_EQ_INT(rp.block[0].len, 2);
	/* An empty primary parses; the forwarder drops it. */
	const uint8_t e[] = {111};
	CHECK_EQ_INT(red_parse(e, sizeof e, &rp), 0);
	CHECK_EQ_INT(rp.block[0].len, 0);
}

static void test_build_round_trip(void)
{
	const uint8_t d0[] = {1, 2, 3, 4, 5}, d1[] = {6, 7}, d2[] = {8, 9, 10};
	const uint8_t *data[] = {d0, d1, d2};
	size_t lens[] = {sizeof d0, sizeof d1, sizeof d2};
	uint8_t pts[] = {111, 111, 111};
	uint16_t offs[] = {1920, 960, 0};
	uint8_t out[64];
	int n = red_build(3, pts, offs, data, lens, out, sizeof out);
	CHECK_EQ_INT(n, 4 + 4 + 1 + 5 + 2 + 3);
	red_packet rp;
	CHECK_EQ_INT(red_parse(out, (size_t)n, &rp), 0);
	CHECK_EQ_INT(rp.n, 3);
	CHECK_EQ_INT(rp.block[0].ts_offset, 1920);
	CHECK_EQ_INT(rp.block[1].ts_offset, 960);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(rp.block[i].len, lens[i]);
		CHECK(memcmp(out + rp.block[i].off, data[i], lens[i]) == 0);
	}
	/* Limits: offsets of 14 bits, lengths of 10 bits, 7-bit PTs, room. */
	uint16_t big[] = {16384, 0, 0};
	CHECK_EQ_INT(red_build(3, pts, big, data, lens, out, sizeof out), RED_ERR_BLOCK);
	uint16_t max[] = {16383, 1, 0};
	CHECK(red_build(3, pts, max, data, lens, out, sizeof out) > 0);
	CHECK_EQ_INT(red_parse(out, 19, &rp), 0);
	CHECK_EQ_INT(rp.block[0].ts_offset, 16383);
	uint8_t bad_pt[] = {128, 111, 111};
	CHECK_EQ_INT(red_build(3, bad_pt, offs, data, lens, out, sizeof out), RED_ERR_BLOCK);
	CHECK_EQ_INT(red_build(3, pts, offs, data, lens, out, 18), RED_ERR_SPACE);
	CHECK_EQ_INT(red_build(0, pts, offs, data, lens, out, sizeof out), RED_ERR_BLOCK);
	static uint8_t long_block[1024];
	const uint8_t *ld[] = {long_block, d1};
	size_t ll[] = {1024, 2};
	static uint8_t big_out[2048];
	CHECK_EQ_INT(red_build(2, pts, offs, ld, ll, big_out, sizeof big_out), RED_ERR_BLOCK);
	ll[0] = 1023;
	CHECK_EQ_INT(red_build(2, pts, offs, ld, ll, big_out, sizeof big_out), 4 + 1 + 1023 + 2);
	/* A primary may be longer than 1023: its length is implicit. */
	const uint8_t *pd[] = {long_block};
	size_t pl[] = {1024};
	CHECK_EQ_INT(red_build(1, pts, offs, pd, pl, big_out, sizeof big_out), 1025);
}

static void test_rewrite_pts(void)
{
	/* Chromium sends with 63/111; a Chromium receiver that negotiated other numbers (say
	 * 100 for Opus) must see 100 in every block header and the data untouched. */
	red_packet rp;
	CHECK_EQ_INT(red_parse(chromium, sizeof chromium, &rp), 0);
	uint8_t out[64];
	int n = red_rewrite(chromium, &rp, 111, 100, out, sizeof out);
	CHECK_EQ_INT(n, (int)sizeof chromium);
	red_packet back;
	CHECK_EQ_INT(red_parse(out, (size_t)n, &back), 0);
	CHECK_EQ_INT(back.n, 2);
	CHECK_EQ_INT(back.block[0].pt, 100);
	CHECK_EQ_INT(back.block[1].pt, 100);
	CHECK_EQ_INT(back.block[0].ts_offset, 960);
	CHECK(out[0] == (0x80 | 100) && out[4] == 100);
	CHECK(memcmp(out + 5, chromium + 5, sizeof chromium - 5) == 0);
	/* Same numbers: the payload comes out byte for byte. */
	n = red_rewrite(chromium, &rp, 111, 111, out, sizeof out);
	CHECK(n == (int)sizeof chromium && memcmp(out, chromium, sizeof chromium) == 0);
	/* The primary of another PT (say comfort noise 13): not ours to forward. */
	const uint8_t cn[] = {0x80 | 111, 0, 4 << 2, 1, 13, 0xaa, 0xbb};
	CHECK_EQ_INT(red_parse(cn, sizeof cn, &rp), 0);
	CHECK_EQ_INT(red_rewrite(cn, &rp, 111, 100, out, sizeof out), RED_ERR_FOREIGN_PT);
	/* A redundant block of another PT is left out; the rest stays. */
	/* PT 13 (offset 4, 1 byte), PT 111 (offset 8, 2 bytes), primary 111 (1 byte). */
	const uint8_t mixed[] = {0x8d, 0x00, 0x10, 0x01, 0xef, 0x00, 0x20,
	                         0x02, 111,  0xcc, 0xd1, 0xd2, 0xe1};
	CHECK_EQ_INT(red_parse(mixed, sizeof mixed, &rp), 0);
	CHECK_EQ_INT(rp.n, 3);
	n = red_rewrite(mixed, &rp, 111, 100, out, sizeof out);
	CHECK_EQ_INT(red_parse(out, (size_t)n, &back), 0);
	CHECK_EQ_INT(back.n, 2);
	CHECK_EQ_INT(back.block[0].ts_offset, 8);
	CHECK(memcmp(out + back.block[0].off, "\xd1\xd2", 2) == 0);
	CHECK_EQ_INT(back.block[1].len, 1);
	CHECK_EQ_INT(out[back.block[1].off], 0xe1);
	CHECK_EQ_INT(red_rewrite(chromium, &rp, 111, 100, out, 4), RED_ERR_SPACE);
}

static void test_de_red(void)
{
	/* A receiver without RED gets the primary block alone: the packet's own frame, whose
	 * timestamp is the RTP header's. */
	red_packet rp;
	CHECK_EQ_INT(red_parse(chromium, sizeof chromium, &rp), 0);
	const red_block *p = &rp.block[rp.n - 1];
	CHECK_EQ_INT(p->pt, 111);
	CHECK_EQ_INT(p->len, 4);
	CHECK(memcmp(chromium + p->off, "\xb1\xb2\xb3\xb4", 4) == 0);
}

static void test_for_receiver(void)
{
	red_packet rp;
	uint8_t out[64], pt = 0;
	CHECK_EQ_INT(red_parse(chromium, sizeof chromium, &rp), 0);
	/* A receiver with RED 63 and Opus 100. */
	int n = red_for_receiver(chromium, &rp, 111, 63, 100, out, sizeof out, &pt);
	CHECK_EQ_INT(n, (int)sizeof chromium);
	CHECK_EQ_INT(pt, 63);
	CHECK(out[0] == (0x80 | 100) && out[4] == 100);
	/* A receiver without RED (Firefox): the primary alone, as Opus 109. */
	n = red_for_receiver(chromium, &rp, 111, -1, 109, out, sizeof out, &pt);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(pt, 109);
	CHECK(memcmp(out, "\xb1\xb2\xb3\xb4", 4) == 0);
	CHECK_EQ_INT(red_for_receiver(chromium, &rp, 111, -1, 109, out, 3, &pt), RED_ERR_SPACE);
	CHECK_EQ_INT(red_for_receiver(chromium, &rp, 96, 63, 100, out, sizeof out, &pt),
	             RED_ERR_FOREIGN_PT);
	/* An empty primary: nothing to play for a plain-Opus receiver. */
	CHECK_EQ_INT(red_parse(chromium, 8, &rp), 0);
	CHECK_EQ_INT(red_for_receiver(chromium, &rp, 111, -1, 109, out, sizeof out, &pt),
	             RED_ERR_EMPTY);
}

static void test_malformed(void)
{
	red_packet rp;
	CHECK_EQ_INT(red_parse(chromium, 0, &rp), RED_ERR_EMPTY);
	CHECK_EQ_INT(red_parse(NULL, 4, &rp), RED_ERR_EMPTY);
	/* Every truncation inside the headers fails; inside the redundant data too. */
	for (size_t n = 1; n < 5; n++)
		CHECK_EQ_INT(red_parse(chromium, n, &rp), RED_ERR_HEADER);
	for (size_t n = 5; n < 8; n++)
		CHECK_EQ_INT(red_parse(chromium, n, &rp), RED_ERR_LENGTH);
	CHECK_EQ_INT(red_parse(chromium, 8, &rp), 0); /* empty primary */
	/* F set on every header: no primary header before the end. */
	const uint8_t all_f[] = {0xef, 0, 0, 0, 0xef, 0, 0, 0};
	CHECK_EQ_INT(red_parse(all_f, sizeof all_f, &rp), RED_ERR_HEADER);
	/* A length of 1023 in a short packet. */
	const uint8_t too_long[] = {0xef, 0x00, 0x03, 0xff, 111, 1, 2, 3};
	CHECK_EQ_INT(red_parse(too_long, sizeof too_long, &rp), RED_ERR_LENGTH);
	/* 33 blocks: more than anyone sends. */
	uint8_t many[33 * 4 + 1];
	for (int i = 0; i < 33; i++)
		memcpy(many + 4 * i, "\xef\x00\x00\x00", 4);
	many[33 * 4] = 111;
	CHECK_EQ_INT(red_parse(many, sizeof many, &rp), RED_ERR_TOO_MANY);
	/* 32 (31 empty redundant blocks and the primary) is the most accepted. */
	CHECK_EQ_INT(red_parse(many + 2 * 4, sizeof many - 2 * 4, &rp), 0);
	CHECK_EQ_INT(rp.n, 32);
	CHECK(red_strerror(RED_ERR_TOO_MANY)[0] != '\0');
	CHECK(red_strerror(12345)[0] != '\0');
}

/* A seeded generator: random bytes never parse into blocks outside the payload, and what
 * parses rewrites into something that parses again with the same primary. */
static uint32_t rng = 0x2198;
static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void test_random(void)
{
	int parsed = 0, bad = 0;
	for (int iter = 0; iter < 200000; iter++) {
		uint8_t buf[64], out[80];
		size_t len = next() % sizeof buf;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)next();
		/* Bias toward plausible headers: small lengths, few F bits. */
		if (len > 4 && (next() & 1)) {
			buf[0] |= 0x80;
			buf[2] &= 0xfc;
			buf[3] &= 0x0f;
			buf[4] &= 0x7f;
		}
		red_packet rp;
		if (red_parse(buf, len, &rp) != 0)
			continue;
		parsed++;
		size_t end = rp.header_len;
		for (int i = 0; i < rp.n; i++) {
			if (rp.block[i].off != end || rp.block[i].off + rp.block[i].len > len)
				bad++;
			end = rp.block[i].off + rp.block[i].len;
		}
		if (end != len)
			bad++;
		uint8_t pt = rp.block[rp.n - 1].pt;
		int n = red_rewrite(buf, &rp, pt, 99, out, sizeof out);
		red_packet back;
		if (n < 0 || red_parse(out, (size_t)n, &back) != 0 ||
		    back.block[back.n - 1].len != rp.block[rp.n - 1].len ||
		    memcmp(out + back.block[back.n - 1].off, buf + rp.block[rp.n - 1].off,
		           rp.block[rp.n - 1].len) != 0)
			bad++;
	}
	CHECK(parsed > 1000);
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	test_parse_chromium();
	test_primary_only();
	test_build_round_trip();
	test_rewrite_pts();
	test_de_red();
	test_for_receiver();
	test_malformed();
	test_random();
	return check_done("red");
}
