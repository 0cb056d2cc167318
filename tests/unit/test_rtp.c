/* RTP tests over hand-built packets: fixed header, CSRCs, both extension forms with
 * padding and the id-15 terminator, RTP padding, setters, the transport-wide sequence
 * number, the VP8 payload descriptor and key frame detection (VP8, H.264). */
#include "check.h"
#include "rtp/rtp.h"

#include <string.h>

/* V=2 X=1 CC=2, M=1 PT=96, seq 0x1234, ts 0xdeadbeef, ssrc 0x01020304, two CSRCs, a
 * one-byte extension block of 3 words: id 1 (1 byte), two padding bytes, id 3 (2 bytes:
 * transport-wide seq 0xabcd), id 2 (3 bytes), one padding byte; then 4 payload bytes. */
static const uint8_t pkt_one_byte[] = {
    0x92, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xaa,
    0xaa, 0x01, 0xbb, 0xbb, 0xbb, 0x02, 0xbe, 0xde, 0x00, 0x03, 0x10, 0x7f, 0x00, 0x00,
    0x31, 0xab, 0xcd, 0x22, 0x01, 0x02, 0x03, 0x00, 0x11, 0x22, 0x33, 0x44,
};

static void test_basic(void)
{
	const uint8_t p[] = {0x80, 0x6f, 0xff, 0xff, 0, 0, 0, 1, 0xca, 0xfe, 0xba, 0xbe, 9, 9};
	rtp_hdr h;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK_EQ_INT(h.marker, 0);
	CHECK_EQ_INT(h.payload_type, 111);
	CHECK_EQ_INT(h.seq, 65535);
	CHECK_EQ_INT(h.timestamp, 1);
	CHECK_EQ_INT(h.ssrc, 0xcafebabeu);
	CHECK_EQ_INT(h.csrc_count, 0);
	CHECK(!h.has_ext);
	CHECK_EQ_INT(h.header_len, 12);
	CHECK_EQ_INT(h.payload_len, 2);
	CHECK_EQ_INT(h.padding_len, 0);
	/* A header with no payload at all is valid (e.g. a padding-only probe after P). */
	CHECK_EQ_INT(rtp_parse(p, 12, &h), 0);
	CHECK_EQ_INT(h.payload_len, 0);
	for (size_t n = 0; n < 12; n++)
		CHECK_EQ_INT(rtp_parse(p, n, &h), RTP_ERR_SHORT);
	uint8_t v1[sizeof p];
	memcpy(v1, p, sizeof p);
	v1[0] = 0x40;
	CHECK_EQ_INT(rtp_parse(v1, sizeof v1, &h), RTP_ERR_VERSION);

	CHECK(rtp_is_rtcp((const uint8_t *)"\x80\xc8", 2));
	CHECK(rtp_is_rtcp((const uint8_t *)"\x81\xcd", 2));
	CHECK(rtp_is_rtcp((const uint8_t *)"\x80\xdf", 2));
	CHECK(!rtp_is_rtcp((const uint8_t *)"\x80\xe0", 2)); /* PT 96 with marker */
	CHECK(!rtp_is_rtcp((const uint8_t *)"\x80\x6f", 2));
	CHECK(!rtp_is_rtcp((const uint8_t *)"\x80\xc8", 1));
}

static void test_one_byte_ext(void)
{
	uint8_t p[sizeof pkt_one_byte];
	memcpy(p, pkt_one_byte, sizeof p);
	rtp_hdr h;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK_EQ_INT(h.marker, 1);
	CHECK_EQ_INT(h.payload_type, 96);
	CHECK_EQ_INT(h.seq, 0x1234);
	CHECK_EQ_INT(h.timestamp, 0xdeadbeefu);
	CHECK_EQ_INT(h.csrc_count, 2);
	CHECK(h.has_ext);
	CHECK_EQ_INT(h.ext_profile, 0xBEDE);
	CHECK_EQ_INT(h.ext_offset, 24);
	CHECK_EQ_INT(h.ext_len, 12);
	CHECK_EQ_INT(h.header_len, 36);
	CHECK_EQ_INT(h.payload_len, 4);

	size_t n = 0;
	uint8_t *e = rtp_ext_find(p, &h, 1, &n);
	CHECK(e == p + 25);
	CHECK_EQ_INT(n, 1);
	CHECK(e && e[0] == 0x7f);
	e = rtp_ext_find(p, &h, 3, &n);
	CHECK(e == p + 29);
	CHECK_EQ_INT(n, 2);
	e = rtp_ext_find(p, &h, 2, &n);
	CHECK(e == p + 32);
	CHECK_EQ_INT(n, 3);
	CHECK(rtp_ext_find(p, &h, 4, &n) == NULL);
	CHECK(rtp_ext_find(p, &h, 0, &n) == NULL);
	CHECK(rtp_ext_find(p, &h, 15, &n) == NULL);

	uint16_t seq = 0;
	CHECK_EQ_INT(rtp_get_twcc_seq(p, &h, 3, &seq), 0);
	CHECK_EQ_INT(seq, 0xabcd);
	CHECK_EQ_INT(rtp_set_twcc_seq(p, &h, 3, 0x0102), 0);
	CHECK_EQ_INT(p[29], 0x01);
	CHECK_EQ_INT(p[30], 0x02);
	CHECK_EQ_INT(rtp_get_twcc_seq(p, &h, 3, &seq), 0);
	CHECK_EQ_INT(seq, 0x0102);
	/* Present with the wrong size, or absent: refused and untouched. */
	CHECK_EQ_INT(rtp_get_twcc_seq(p, &h, 2, &seq), -1);
	CHECK_EQ_INT(rtp_set_twcc_seq(p, &h, 2, 7), -1);
	CHECK_EQ_INT(p[32], 0x01);
	CHECK_EQ_INT(rtp_get_twcc_seq(p, &h, 5, &seq), -1);

	/* Id 15 ends the walk: elements after it are not found. */
	p[28] = 0xf0;
	CHECK(rtp_ext_find(p, &h, 1, &n) != NULL);
	CHECK(rtp_ext_find(p, &h, 3, &n) == NULL);
	CHECK(rtp_ext_find(p, &h, 2, &n) == NULL);

	/* An element whose length runs past the block is not returned. */
	memcpy(p, pkt_one_byte, sizeof p);
	p[31] = 0x2f; /* id 2, 16 bytes, only 4 left */
	CHECK(rtp_ext_find(p, &h, 2, &n) == NULL);
	CHECK(rtp_ext_find(p, &h, 3, &n) != NULL);

	/* A block longer than the packet, or a cut inside the extension header. */
	memcpy(p, pkt_one_byte, sizeof p);
	p[23] = 0x05;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), RTP_ERR_EXT);
	CHECK_EQ_INT(rtp_parse(pkt_one_byte, 22, &h), RTP_ERR_EXT);
	CHECK_EQ_INT(rtp_parse(pkt_one_byte, 35, &h), RTP_ERR_EXT);
	CHECK_EQ_INT(rtp_parse(pkt_one_byte, 36, &h), 0);
	/* CSRC count larger than the packet. */
	CHECK_EQ_INT(rtp_parse(pkt_one_byte, 16, &h), RTP_ERR_SHORT);
	/* An unknown profile parses but yields no elements. */
	memcpy(p, pkt_one_byte, sizeof p);
	p[20] = 0x12;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK(rtp_ext_find(p, &h, 1, &n) == NULL);
}

static void test_two_byte_ext(void)
{
	/* Profile 0x1000 with appbits 3: id 20 with 0 bytes, padding, id 3 (2 bytes), id 200
	 * (5 bytes), then padding to the word boundary. */
	uint8_t p[] = {
	    0x90, 0x60, 0x00, 0x01, 0,    0,    0,    0,    0,    0,    0,
	    7,    0x10, 0x03, 0x00, 0x04, 0x14, 0x00, 0x00, 0x03, 0x02, 0x55,
	    0x66, 0xc8, 0x05, 1,    2,    3,    4,    5,    0x00, 0x00, 0xee,
	};
	rtp_hdr h;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK_EQ_INT(h.ext_profile, 0x1003);
	CHECK_EQ_INT(h.ext_len, 16);
	CHECK_EQ_INT(h.header_len, 32);
	CHECK_EQ_INT(h.payload_len, 1);
	size_t n = 99;
	uint8_t *e = rtp_ext_find(p, &h, 20, &n);
	CHECK(e == p + 18);
	CHECK_EQ_INT(n, 0);
	uint16_t seq;
	CHECK_EQ_INT(rtp_get_twcc_seq(p, &h, 3, &seq), 0);
	CHECK_EQ_INT(seq, 0x5566);
	e = rtp_ext_find(p, &h, 200, &n);
	CHECK(e == p + 25);
	CHECK_EQ_INT(n, 5);
	CHECK(rtp_ext_find(p, &h, 15, &n) == NULL);
	/* A length byte beyond the block. */
	p[24] = 0x20;
	CHECK(rtp_ext_find(p, &h, 200, &n) == NULL);
	CHECK(rtp_ext_find(p, &h, 3, &n) != NULL);
	/* An element header cut by the end of the block. */
	p[24] = 0x05;
	p[31] = 0x09;
	CHECK(rtp_ext_find(p, &h, 9, &n) == NULL);
}

static void test_padding(void)
{
	uint8_t p[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0xbb, 0, 0, 0, 3};
	rtp_hdr h;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK_EQ_INT(h.padding_len, 3);
	CHECK_EQ_INT(h.payload_len, 3);
	p[17] = 6; /* all of the payload is padding */
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK_EQ_INT(h.payload_len, 0);
	p[17] = 7;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), RTP_ERR_PADDING);
	p[17] = 0;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), RTP_ERR_PADDING);
	CHECK_EQ_STR(rtp_strerror(RTP_ERR_PADDING), "bad padding length");
}

static void test_setters(void)
{
	uint8_t p[sizeof pkt_one_byte];
	memcpy(p, pkt_one_byte, sizeof p);
	rtp_set_seq(p, 0xfffe);
	rtp_set_timestamp(p, 0x01020304);
	rtp_set_ssrc(p, 0xa1b2c3d4);
	rtp_set_payload_type(p, 0xff); /* only 7 bits land; the marker survives */
	rtp_hdr h;
	CHECK_EQ_INT(rtp_parse(p, sizeof p, &h), 0);
	CHECK_EQ_INT(h.seq, 0xfffe);
	CHECK_EQ_INT(h.timestamp, 0x01020304);
	CHECK_EQ_INT(h.ssrc, 0xa1b2c3d4u);
	CHECK_EQ_INT(h.payload_type, 127);
	CHECK_EQ_INT(h.marker, 1);
	rtp_set_payload_type(p, 100);
	CHECK_EQ_INT(p[1], 0x80 | 100);
	/* Everything after the fixed header is untouched. */
	CHECK(memcmp(p + 12, pkt_one_byte + 12, sizeof p - 12) == 0);
}

static void test_vp8(void)
{
	vp8_desc d;
	/* No X: one byte, S=1 PID=0. */
	const uint8_t a[] = {0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
	CHECK_EQ_INT(vp8_parse(a, sizeof a, &d), 0);
	CHECK(d.start_of_partition);
	CHECK_EQ_INT(d.partition_id, 0);
	CHECK(!d.has_picture_id);
	CHECK_EQ_INT(d.header_len, 1);
	CHECK(vp8_is_keyframe(a, sizeof a));
	CHECK(!vp8_is_keyframe(a, sizeof a - 1)); /* too short for the key frame header */

	/* X, I with M (15-bit id 0x1234), L (tl0 9), T/K byte, then a key frame. */
	const uint8_t b[] = {0x90, 0xf0, 0x92, 0x34, 0x09, 0x40, 0x50, 0x02,
	                     0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
	CHECK_EQ_INT(vp8_parse(b, sizeof b, &d), 0);
	CHECK(d.has_picture_id && d.picture_id_15bit);
	CHECK_EQ_INT(d.picture_id, 0x1234);
	CHECK_EQ_INT(d.picture_id_offset, 2);
	CHECK(d.has_tl0picidx);
	CHECK_EQ_INT(d.tl0picidx, 9);
	CHECK_EQ_INT(d.tl0picidx_offset, 4);
	CHECK_EQ_INT(d.header_len, 6);
	CHECK(vp8_is_keyframe(b, sizeof b));
	/* Every truncation inside the descriptor is refused. */
	for (size_t n = 0; n < 6; n++)
		CHECK_EQ_INT(vp8_parse(b, n, &d), RTP_ERR_SHORT);

	/* X with a 7-bit picture id and only K set (needs the TID/KEYIDX byte). */
	const uint8_t c[] = {0x80, 0x90, 0x7f, 0x05, 0x01, 0xff};
	CHECK_EQ_INT(vp8_parse(c, sizeof c, &d), 0);
	CHECK(d.has_picture_id && !d.picture_id_15bit);
	CHECK_EQ_INT(d.picture_id, 0x7f);
	CHECK(!d.has_tl0picidx);
	CHECK_EQ_INT(d.header_len, 4);
	CHECK(!d.start_of_partition);
	CHECK(!vp8_is_keyframe(c, sizeof c));
	CHECK_EQ_INT(vp8_parse(c, 3, &d), RTP_ERR_SHORT);

	/* An interframe (P bit set) and a start in partition 1 are not key frames. */
	uint8_t e[sizeof a];
	memcpy(e, a, sizeof e);
	e[1] |= 0x01;
	CHECK(!vp8_is_keyframe(e, sizeof e));
	memcpy(e, a, sizeof e);
	e[0] = 0x11;
	CHECK(!vp8_is_keyframe(e, sizeof e));
	memcpy(e, a, sizeof e);
	e[4] = 0x9c; /* broken start code */
	CHECK(!vp8_is_keyframe(e, sizeof e));
	CHECK(!vp8_is_keyframe(NULL, 0));
}

static void test_h264(void)
{
	const uint8_t idr[] = {0x65, 0x88};
	const uint8_t sps[] = {0x67, 0x42};
	const uint8_t slice[] = {0x41, 0x9a};
	const uint8_t stap[] = {0x18, 0x00, 0x02, 0x09, 0x10, 0x00, 0x02, 0x67, 0x42};
	const uint8_t stap_bad[] = {0x18, 0x00, 0x09, 0x67, 0x42};
	const uint8_t fu_start[] = {0x7c, 0x85, 0x00};
	const uint8_t fu_mid[] = {0x7c, 0x05, 0x00};
	CHECK(h264_is_keyframe(idr, sizeof idr));
	CHECK(h264_is_keyframe(sps, sizeof sps));
	CHECK(!h264_is_keyframe(slice, sizeof slice));
	CHECK(h264_is_keyframe(stap, sizeof stap));
	CHECK(!h264_is_keyframe(stap, 6));
	CHECK(!h264_is_keyframe(stap_bad, sizeof stap_bad));
	CHECK(h264_is_keyframe(fu_start, sizeof fu_start));
	CHECK(!h264_is_keyframe(fu_mid, sizeof fu_mid));
	CHECK(!h264_is_keyframe(fu_start, 1));
}

/* RTX (RFC 4588): wrap/unwrap round trips with CSRCs and extensions, padding, in-place use,
 * the padding-only probe, malformed input, and a seeded random run. */
static void test_rtx(void)
{
	uint8_t out[64], back[64];
	rtp_hdr h;
	int n = rtx_wrap(pkt_one_byte, sizeof pkt_one_byte, 97, 0x55667788, 7, out, sizeof out);
	CHECK_EQ_INT(n, (int)sizeof pkt_one_byte + 2);
	CHECK_EQ_INT(rtp_parse(out, (size_t)n, &h), 0);
	CHECK_EQ_INT(h.payload_type, 97);
	CHECK_EQ_INT(h.seq, 7);
	CHECK_EQ_INT(h.ssrc, 0x55667788);
	CHECK_EQ_INT(h.marker, 1);
	CHECK_EQ_INT(h.timestamp, 0xdeadbeefu);
	CHECK_EQ_INT(h.csrc_count, 2);
	CHECK_EQ_INT(h.header_len, 36);
	CHECK(memcmp(out + 12, pkt_one_byte + 12, 24) == 0); /* CSRCs and extensions copied */
	CHECK_EQ_INT(out[36], 0x12);                         /* original seq */
	CHECK_EQ_INT(out[37], 0x34);
	CHECK(memcmp(out + 38, pkt_one_byte + 36, 4) == 0);
	/* Unwrapping restores the original exactly. */
	size_t len = (size_t)n;
	memcpy(back, out, len);
	CHECK_EQ_INT(rtx_unwrap(back, &len, 96, 0x01020304), 0);
	CHECK_EQ_INT(len, sizeof pkt_one_byte);
	CHECK(memcmp(back, pkt_one_byte, sizeof pkt_one_byte) == 0);
	/* Output too small by one byte; exactly enough. */
	CHECK_EQ_INT(rtx_wrap(pkt_one_byte, sizeof pkt_one_byte, 97, 1, 7, out, 41), RTX_ERR_SPACE);
	CHECK_EQ_INT(rtx_wrap(pkt_one_byte, sizeof pkt_one_byte, 97, 1, 7, out, 42), 42);
	CHECK_EQ_INT(rtx_wrap(pkt_one_byte, sizeof pkt_one_byte, 97, 1, 7, NULL, 64),
	             RTX_ERR_SPACE);
	/* In place. */
	n = rtx_wrap(pkt_one_byte, sizeof pkt_one_byte, 97, 0x55667788, 7, out, sizeof out);
	memcpy(back, pkt_one_byte, sizeof pkt_one_byte);
	CHECK_EQ_INT(rtx_wrap(back, sizeof pkt_one_byte, 97, 0x55667788, 7, back, sizeof back), n);
	CHECK(memcmp(back, out, (size_t)n) == 0);
	/* Malformed originals are refused with the parse error. */
	CHECK_EQ_INT(rtx_wrap(pkt_one_byte, 11, 97, 1, 7, out, sizeof out), RTP_ERR_SHORT);
	CHECK_EQ_INT(rtx_wrap(pkt_one_byte, 30, 97, 1, 7, out, sizeof out), RTP_ERR_EXT);

	/* The original's padding is dropped (P cleared). */
	const uint8_t padded[] = {0xa0, 0x60, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0xbb, 0, 0, 0, 3};
	n = rtx_wrap(padded, sizeof padded, 97, 2, 8, out, sizeof out);
	CHECK_EQ_INT(n, 12 + 2 + 3);
	CHECK_EQ_INT(out[0], 0x80);
	CHECK_EQ_INT(rtp_parse(out, (size_t)n, &h), 0);
	CHECK_EQ_INT(h.payload_len, 5);
	/* An RTX packet that carries padding itself keeps it through unwrap. */
	const uint8_t rtx_padded[] = {0xa0, 0x61, 0, 5,    0,    0,    0,    0, 0,
	                              0,    0,    2, 0x00, 0x09, 0xaa, 0xbb, 0, 2};
	memcpy(back, rtx_padded, sizeof rtx_padded);
	len = sizeof rtx_padded;
	CHECK_EQ_INT(rtx_unwrap(back, &len, 96, 1), 0);
	CHECK_EQ_INT(len, sizeof rtx_padded - 2);
	CHECK_EQ_INT(rtp_parse(back, len, &h), 0);
	CHECK_EQ_INT(h.seq, 9);
	CHECK_EQ_INT(h.payload_type, 96);
	CHECK_EQ_INT(h.ssrc, 1);
	CHECK_EQ_INT(h.payload_len, 2);
	CHECK_EQ_INT(h.padding_len, 2);
	CHECK_EQ_INT(back[12], 0xaa);

	/* A padding-only probe, a one-byte payload and an empty payload; all left untouched. */
	const uint8_t probe[] = {0xa0, 0x61, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4};
	memcpy(back, probe, sizeof probe);
	len = sizeof probe;
	CHECK_EQ_INT(rtx_unwrap(back, &len, 96, 1), RTX_ERR_PROBE);
	CHECK_EQ_INT(len, sizeof probe);
	CHECK(memcmp(back, probe, sizeof probe) == 0);
	const uint8_t one[] = {0x80, 0x61, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 0x12};
	len = sizeof one;
	memcpy(back, one, len);
	CHECK_EQ_INT(rtx_unwrap(back, &len, 96, 1), RTP_ERR_SHORT);
	len = 12;
	CHECK_EQ_INT(rtx_unwrap(back, &len, 96, 1), RTP_ERR_SHORT);
	CHECK(memcmp(back, one, sizeof one) == 0);
	back[0] = 0x40;
	len = sizeof one;
	CHECK_EQ_INT(rtx_unwrap(back, &len, 96, 1), RTP_ERR_VERSION);
	CHECK_EQ_INT(rtx_unwrap(back, NULL, 96, 1), RTP_ERR_SHORT);
	CHECK_EQ_STR(rtx_strerror(RTX_ERR_PROBE), "padding-only RTX packet");
	CHECK_EQ_STR(rtx_strerror(RTP_ERR_SHORT), rtp_strerror(RTP_ERR_SHORT));

	/* Random bytes (version 2 mostly): no crash; whatever parses round-trips. */
	uint64_t st = 0x1bd11bdaa9fc1a22ull;
	int bad = 0;
	for (int op = 0; op < 200000 && !bad; op++) {
		uint8_t pkt[48], w[64];
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		size_t plen = (size_t)(st >> 33) % sizeof pkt;
		for (size_t i = 0; i < plen; i++) {
			st = st * 6364136223846793005ull + 1442695040888963407ull;
			pkt[i] = (uint8_t)(st >> 40);
		}
		if (plen > 0)
			pkt[0] = (uint8_t)((pkt[0] & 0x3f) | 0x80);
		if (plen > 0 && (st >> 20) % 2)
			pkt[0] &= 0xe0; /* often no CSRCs, so more packets parse */
		rtp_hdr oh;
		int prc = rtp_parse(pkt, plen, &oh);
		int wn = rtx_wrap(pkt, plen, 97, 3, 4, w, sizeof w);
		if (prc < 0 ? wn != prc : wn != (int)(oh.header_len + 2 + oh.payload_len))
			bad = 1;
		if (wn > 0) {
			size_t wl = (size_t)wn;
			int urc = rtx_unwrap(w, &wl, oh.payload_type, oh.ssrc);
			if (urc != 0 || wl != oh.header_len + oh.payload_len ||
			    memcmp(w + 1, pkt + 1, wl - 1) != 0 || (w[0] | 0x20) != (pkt[0] | 0x20))
				bad = 2;
		}
		size_t ul = plen;
		int urc = rtx_unwrap(pkt, &ul, 96, 5);
		if ((urc == 0) != (ul == plen - 2 && plen >= 14))
			bad = 3;
		if (bad)
			fprintf(stderr, "rtx random: op %d failed invariant %d\n", op, bad);
	}
	CHECK_EQ_INT(bad, 0);
}

/* The block the forwarder writes parses back, element by element, padded to 4 bytes. */
static void test_put_ext_block(void)
{
	/* Elements: id 1 (1 byte), id 3 (4 bytes), id 2 (2 bytes); cut after whole ones. */
	static const uint8_t ext[10] = {0x10, 0xaa, 0x33, 7, 8, 9, 0x21, 0x21, 0x12, 0x34};
	static const size_t cuts[] = {0, 2, 7, 10};
	for (size_t k = 0; k < 4; k++) {
		size_t n = cuts[k];
		uint8_t pkt[64] = {0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
		size_t hl = rtp_put_ext_block(pkt, ext, n);
		CHECK_EQ_INT(hl, n ? 16 + ((n + 3) & ~(size_t)3) : 12);
		memcpy(pkt + hl, "payload", 7);
		rtp_hdr h;
		CHECK_EQ_INT(rtp_parse(pkt, hl + 7, &h), 0);
		CHECK_EQ_INT(h.has_ext, n > 0);
		CHECK_EQ_INT(h.header_len, hl);
		CHECK_EQ_INT(h.payload_len, 7);
		size_t len = 0;
		uint8_t *e = rtp_ext_find(pkt, &h, 1, &len);
		CHECK(n == 0 ? e == NULL : e != NULL && len == 1 && e[0] == 0xaa);
		e = rtp_ext_find(pkt, &h, 3, &len);
		CHECK(n < 7 ? e == NULL : e != NULL && len == 4 && e[0] == 7 && e[3] == 0x21);
		e = rtp_ext_find(pkt, &h, 2, &len);
		CHECK(n < 10 ? e == NULL : e != NULL && len == 2 && e[0] == 0x12 && e[1] == 0x34);
	}
}

int main(void)
{
	test_basic();
	test_one_byte_ext();
	test_two_byte_ext();
	test_padding();
	test_setters();
	test_vp8();
	test_h264();
	test_rtx();
	test_put_ext_block();
	return check_done("rtp");
}
