/* RTCP tests: the compound walker (including a real SR+SDES compound and malformed
 * lengths), NACK expansion and packing, FIR, REMB, SR/RR round trips, and SSRC rewriting
 * over every packet type that carries SSRCs. */
#include "check.h"
#include "rtp/rtcp.h"

#include <string.h>

/* SR from 0x11111111 with one report block about 0x22222222, then SDES with one chunk
 * (CNAME "ab"), as a browser sends them. */
static const uint8_t sr_sdes[] = {
    0x81, 0xc8, 0x00, 0x0c, 0x11, 0x11, 0x11, 0x11, 0xe8, 0x00, 0x00, 0x01, 0x80, 0x00,
    0x00, 0x00, /* NTP */
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x10, 0x00, 0x22, 0x22,
    0x22, 0x22, 0x40, 0xff, 0xff, 0xfe, /* fraction 64, lost -2 */
    0x00, 0x01, 0x23, 0x45, 0x00, 0x00, 0x00, 0x07, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00,
    0x01, 0x00, 0x81, 0xca, 0x00, 0x02, 0x11, 0x11, 0x11, 0x11, 0x01, 0x02, 0x61, 0x62,
};

static void test_walk_sr_sdes(void)
{
	rtcp_iter it;
	rtcp_pkt pkt;
	rtcp_iter_init(&it, sr_sdes, sizeof sr_sdes);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.pt, RTCP_SR);
	CHECK_EQ_INT(pkt.fmt, 1);
	CHECK_EQ_INT(pkt.len, 52);
	CHECK(pkt.data == sr_sdes);
	CHECK_EQ_INT(pkt.sender_ssrc, 0x11111111u);
	CHECK_EQ_INT(pkt.media_ssrc, 0);

	rtcp_sr_info sr;
	rtcp_report_block b[2];
	CHECK_EQ_INT(rtcp_parse_report(&pkt, &sr, b, 2), 1);
	CHECK_EQ_INT(sr.ntp_sec, 0xe8000001u);
	CHECK_EQ_INT(sr.ntp_frac, 0x80000000u);
	CHECK_EQ_INT(sr.rtp_ts, 0x00010000);
	CHECK_EQ_INT(sr.packet_count, 10);
	CHECK_EQ_INT(sr.octet_count, 0x1000);
	CHECK_EQ_INT(b[0].ssrc, 0x22222222);
	CHECK_EQ_INT(b[0].fraction_lost, 64);
	CHECK_EQ_INT(b[0].cumulative_lost, -2);
	CHECK_EQ_INT(b[0].highest_seq, 0x12345);
	CHECK_EQ_INT(b[0].jitter, 7);
	CHECK_EQ_INT(b[0].lsr, 0x12345678);
	CHECK_EQ_INT(b[0].dlsr, 0x100);
	CHECK_EQ_INT(rtcp_parse_report(&pkt, NULL, NULL, 0), 0);

	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.pt, RTCP_SDES);
	CHECK_EQ_INT(pkt.len, 12);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 0);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 0);
}

static void test_walk_malformed(void)
{
	uint8_t buf[sizeof sr_sdes];
	rtcp_iter it;
	rtcp_pkt pkt;

	/* The second packet's length runs one word past the compound. */
	memcpy(buf, sr_sdes, sizeof buf);
	buf[55] = 0x03;
	rtcp_iter_init(&it, buf, sizeof buf);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), RTCP_ERR_LENGTH);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 0); /* the walk stopped */

	/* Truncated in the middle of the first packet, or of a header. */
	rtcp_iter_init(&it, sr_sdes, 50);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), RTCP_ERR_LENGTH);
	rtcp_iter_init(&it, sr_sdes, 54);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), RTCP_ERR_SHORT);
	rtcp_iter_init(&it, sr_sdes, 0);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 0);

	/* Wrong version. */
	memcpy(buf, sr_sdes, sizeof buf);
	buf[0] = 0x41;
	rtcp_iter_init(&it, buf, sizeof buf);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), RTCP_ERR_VERSION);

	/* A report count larger than the packet: the walk is fine, the parse is not. */
	memcpy(buf, sr_sdes, sizeof buf);
	buf[0] = 0x82;
	rtcp_iter_init(&it, buf, sizeof buf);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(rtcp_parse_report(&pkt, NULL, NULL, 4), RTCP_ERR_SHORT);

	CHECK_EQ_STR(rtcp_strerror(RTCP_ERR_LENGTH), "length field runs past the compound");
}

typedef struct seq_list {
	uint16_t seqs[64];
	int n;
} seq_list;

static void collect(void *user, uint16_t seq)
{
	seq_list *l = user;
	if (l->n < 64)
		l->seqs[l->n++] = seq;
}

static void test_nack(void)
{
	/* A hand-made NACK: PID 100 with BLP bits 0 and 15 (101, 116), PID 65535 with bit 0
	 * (wraps to 0). */
	const uint8_t nack[] = {0x81, 0xcd, 0x00, 0x04, 0,    0,    0,    1,    0,    0,
	                        0,    2,    0x00, 0x64, 0x80, 0x01, 0xff, 0xff, 0x00, 0x01};
	rtcp_iter it;
	rtcp_pkt pkt;
	rtcp_iter_init(&it, nack, sizeof nack);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.media_ssrc, 2);
	seq_list l = {{0}, 0};
	CHECK_EQ_INT(rtcp_nack_foreach(&pkt, collect, &l), 5);
	CHECK_EQ_INT(l.n, 5);
	CHECK_EQ_INT(l.seqs[0], 100);
	CHECK_EQ_INT(l.seqs[1], 101);
	CHECK_EQ_INT(l.seqs[2], 116);
	CHECK_EQ_INT(l.seqs[3], 65535);
	CHECK_EQ_INT(l.seqs[4], 0);

	/* Build → parse: a sorted list across the wrap plus one far away. */
	const uint16_t lost[] = {65534, 65535, 0, 5, 14, 15, 300};
	uint8_t out[64];
	int n = rtcp_build_nack(out, sizeof out, 0xaaaa, 0xbbbb, lost, 7);
	CHECK_EQ_INT(n, 12 + 3 * 4); /* 65534 absorbs up to 14; then 15; then 300 */
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.pt, RTCP_RTPFB);
	CHECK_EQ_INT(pkt.fmt, RTCP_FMT_NACK);
	CHECK_EQ_INT(pkt.sender_ssrc, 0xaaaa);
	CHECK_EQ_INT(pkt.media_ssrc, 0xbbbb);
	l.n = 0;
	CHECK_EQ_INT(rtcp_nack_foreach(&pkt, collect, &l), 7);
	for (int i = 0; i < 7 && i < l.n; i++)
		CHECK_EQ_INT(l.seqs[i], lost[i]);
	CHECK_EQ_INT(rtcp_build_nack(out, 20, 1, 2, lost, 7), RTCP_ERR_SPACE);
	CHECK_EQ_INT(rtcp_build_nack(out, sizeof out, 1, 2, lost, 0), 0);

	/* A PLI is not a NACK: nothing named. */
	n = rtcp_build_pli(out, sizeof out, 1, 2);
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(rtcp_nack_foreach(&pkt, collect, &l), 0);
}

static void test_pli_fir(void)
{
	uint8_t out[64];
	rtcp_iter it;
	rtcp_pkt pkt;
	CHECK_EQ_INT(rtcp_build_pli(out, 11, 1, 2), RTCP_ERR_SPACE);
	int n = rtcp_build_pli(out, sizeof out, 0x01020304, 0x05060708);
	CHECK_EQ_INT(n, 12);
	CHECK_EQ_INT(out[0], 0x81);
	CHECK_EQ_INT(out[1], 206);
	CHECK_EQ_INT(out[3], 2);
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.pt, RTCP_PSFB);
	CHECK_EQ_INT(pkt.fmt, RTCP_FMT_PLI);
	CHECK_EQ_INT(pkt.sender_ssrc, 0x01020304);
	CHECK_EQ_INT(pkt.media_ssrc, 0x05060708);

	CHECK_EQ_INT(rtcp_build_fir(out, 19, 1, 2, 3), RTCP_ERR_SPACE);
	n = rtcp_build_fir(out, sizeof out, 0xa, 0xb, 42);
	CHECK_EQ_INT(n, 20);
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.fmt, RTCP_FMT_FIR);
	CHECK_EQ_INT(pkt.media_ssrc, 0);
	uint32_t ssrcs[4];
	uint8_t seqnrs[4];
	CHECK_EQ_INT(rtcp_fir_entries(&pkt, ssrcs, seqnrs, 4), 1);
	CHECK_EQ_INT(ssrcs[0], 0xb);
	CHECK_EQ_INT(seqnrs[0], 42);
	CHECK_EQ_INT(rtcp_fir_entries(&pkt, ssrcs, seqnrs, 0), 0);
}

static void test_remb(void)
{
	uint8_t out[64];
	const uint32_t ssrcs[] = {0x1234, 0x5678};
	rtcp_iter it;
	rtcp_pkt pkt;
	const uint64_t rates[] = {0, 1, 0x3ffff, 0x40000, 1500000, 2500000000ull, 1ull << 50};
	for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
		int n = rtcp_build_remb(out, sizeof out, 0x99, rates[k], ssrcs, 2);
		CHECK_EQ_INT(n, 28);
		rtcp_iter_init(&it, out, (size_t)n);
		CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
		uint64_t bps = 0;
		uint32_t got[2] = {0, 0};
		int ng = 0;
		CHECK_EQ_INT(rtcp_parse_remb(&pkt, &bps, got, &ng, 2), 0);
		/* The mantissa keeps 18 significant bits: rounding down by less than 2^-17. */
		CHECK(bps <= rates[k]);
		CHECK(rates[k] - bps <= rates[k] / 131072);
		CHECK_EQ_INT(ng, 2);
		CHECK_EQ_INT(got[0], 0x1234);
		CHECK_EQ_INT(got[1], 0x5678);
	}
	/* A known encoding: exp 3, mantissa 187500 → 1.5 Mbit/s. */
	int n = rtcp_build_remb(out, sizeof out, 0x99, 1500000, ssrcs, 1);
	CHECK_EQ_INT(out[17], (3 << 2) | 0x02);
	CHECK_EQ_INT(out[18], 0xdc);
	CHECK_EQ_INT(out[19], 0x6c);
	/* Fewer slots than SSRCs, a truncated list, a non-REMB application packet. */
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	uint64_t bps;
	uint32_t got[1];
	int ng = -1;
	CHECK_EQ_INT(rtcp_parse_remb(&pkt, &bps, got, &ng, 0), 0);
	CHECK_EQ_INT(ng, 0);
	out[16] = 2;
	CHECK_EQ_INT(rtcp_parse_remb(&pkt, &bps, got, &ng, 1), -1);
	out[16] = 1;
	out[12] = 'X';
	CHECK_EQ_INT(rtcp_parse_remb(&pkt, &bps, got, &ng, 1), -1);
	/* The largest exponent saturates instead of overflowing. */
	out[12] = 'R';
	out[17] = 0xff;
	CHECK_EQ_INT(rtcp_parse_remb(&pkt, &bps, got, &ng, 1), 0);
	CHECK(bps == UINT64_MAX);
	CHECK_EQ_INT(rtcp_build_remb(out, 27, 1, 1, ssrcs, 2), RTCP_ERR_SPACE);
}

static void check_block(const rtcp_report_block *a, const rtcp_report_block *b)
{
	CHECK_EQ_INT(a->ssrc, b->ssrc);
	CHECK_EQ_INT(a->fraction_lost, b->fraction_lost);
	CHECK_EQ_INT(a->cumulative_lost, b->cumulative_lost);
	CHECK_EQ_INT(a->highest_seq, b->highest_seq);
	CHECK_EQ_INT(a->jitter, b->jitter);
	CHECK_EQ_INT(a->lsr, b->lsr);
	CHECK_EQ_INT(a->dlsr, b->dlsr);
}

static void test_reports(void)
{
	rtcp_report_block in[3] = {
	    {1, 0, 0, 100, 5, 6, 7},
	    {2, 255, -8388608, 0xffffffffu, 0, 0, 0},
	    {3, 1, 8388607, 1, 2, 3, 4},
	};
	uint8_t out[256];
	rtcp_iter it;
	rtcp_pkt pkt;
	rtcp_report_block got[3];
	int n = rtcp_build_rr(out, sizeof out, 0xabc, in, 3);
	CHECK_EQ_INT(n, 8 + 3 * 24);
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.pt, RTCP_RR);
	CHECK_EQ_INT(pkt.sender_ssrc, 0xabc);
	CHECK_EQ_INT(rtcp_parse_report(&pkt, NULL, got, 3), 3);
	for (int i = 0; i < 3; i++)
		check_block(&got[i], &in[i]);
	CHECK_EQ_INT(rtcp_parse_report(&pkt, NULL, got, 1), 1);

	/* Out-of-range cumulative losses are clamped to 24 bits. */
	rtcp_report_block big = {9, 0, 10000000, 0, 0, 0, 0};
	n = rtcp_build_rr(out, sizeof out, 1, &big, 1);
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(rtcp_parse_report(&pkt, NULL, got, 1), 1);
	CHECK_EQ_INT(got[0].cumulative_lost, 8388607);

	rtcp_sr_info sr = {0xe1e2e3e4u, 0x01020304, 90000, 1000, 1200000}, sr2;
	n = rtcp_build_sr(out, sizeof out, 0xdef, &sr, in, 2);
	CHECK_EQ_INT(n, 28 + 2 * 24);
	rtcp_iter_init(&it, out, (size_t)n);
	CHECK_EQ_INT(rtcp_next(&it, &pkt), 1);
	CHECK_EQ_INT(pkt.pt, RTCP_SR);
	CHECK_EQ_INT(rtcp_parse_report(&pkt, &sr2, got, 3), 2);
	CHECK(memcmp(&sr, &sr2, sizeof sr) == 0);
	check_block(&got[0], &in[0]);
	check_block(&got[1], &in[1]);

	/* An empty RR is 8 bytes; 32 blocks do not fit; a short buffer is refused. */
	CHECK_EQ_INT(rtcp_build_rr(out, sizeof out, 1, NULL, 0), 8);
	CHECK_EQ_INT(rtcp_build_rr(out, 7, 1, NULL, 0), RTCP_ERR_SPACE);
	CHECK_EQ_INT(rtcp_build_sr(out, 27 + 24, 1, &sr, in, 1), RTCP_ERR_SPACE);
	rtcp_report_block many[32];
	memset(many, 0, sizeof many);
	uint8_t large[1024];
	CHECK_EQ_INT(rtcp_build_rr(large, sizeof large, 1, many, 32), RTCP_ERR_SPACE);
	CHECK_EQ_INT(rtcp_build_rr(large, sizeof large, 1, many, 31), 8 + 31 * 24);
}

/* Adds 0x1000 to every SSRC and counts the calls. */
typedef struct mapper {
	int calls;
} mapper;

static uint32_t shift_ssrc(void *user, uint32_t ssrc)
{
	((mapper *)user)->calls++;
	return ssrc + 0x1000;
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void test_rewrite(void)
{
	uint8_t buf[512];
	size_t len = 0;
	mapper m = {0};
	rtcp_report_block blk = {0x22, 0, 0, 0, 0, 0, 0};
	rtcp_sr_info sr = {0};
	const uint32_t remb_ssrcs[] = {0x33, 0x34};
	const uint16_t lost[] = {1};

	size_t at_sr = len;
	len += (size_t)rtcp_build_sr(buf + len, sizeof buf - len, 0x11, &sr, &blk, 1);
	size_t at_rr = len;
	len += (size_t)rtcp_build_rr(buf + len, sizeof buf - len, 0x12, &blk, 1);
	/* SDES with two chunks: CNAME "abc" (end byte then padding) and one with no items. */
	size_t at_sdes = len;
	const uint8_t sdes[] = {0x82, 0xca, 0x00, 0x05, 0, 0, 0, 0x40, 1, 3, 'a', 'b',
	                        'c',  0,    0,    0,    0, 0, 0, 0x41, 0, 0, 0,   0};
	memcpy(buf + len, sdes, sizeof sdes);
	len += sizeof sdes;
	size_t at_bye = len;
	const uint8_t bye[] = {0x82, 0xcb, 0x00, 0x02, 0, 0, 0, 0x50, 0, 0, 0, 0x51};
	memcpy(buf + len, bye, sizeof bye);
	len += sizeof bye;
	size_t at_nack = len;
	len += (size_t)rtcp_build_nack(buf + len, sizeof buf - len, 0x13, 0x14, lost, 1);
	size_t at_fir = len;
	len += (size_t)rtcp_build_fir(buf + len, sizeof buf - len, 0x15, 0x16, 1);
	size_t at_remb = len;
	len += (size_t)rtcp_build_remb(buf + len, sizeof buf - len, 0x17, 1000, remb_ssrcs, 2);

	CHECK_EQ_INT(rtcp_rewrite_ssrcs(buf, len, shift_ssrc, &m), 0);
	CHECK_EQ_INT(be32(buf + at_sr + 4), 0x1011);
	CHECK_EQ_INT(be32(buf + at_sr + 28), 0x1022);
	CHECK_EQ_INT(be32(buf + at_rr + 4), 0x1012);
	CHECK_EQ_INT(be32(buf + at_rr + 8), 0x1022);
	CHECK_EQ_INT(be32(buf + at_sdes + 4), 0x1040);
	CHECK_EQ_INT(be32(buf + at_sdes + 16), 0x1041);
	CHECK_EQ_INT(be32(buf + at_bye + 4), 0x1050);
	CHECK_EQ_INT(be32(buf + at_bye + 8), 0x1051);
	CHECK_EQ_INT(be32(buf + at_nack + 4), 0x1013);
	CHECK_EQ_INT(be32(buf + at_nack + 8), 0x1014);
	CHECK_EQ_INT(be32(buf + at_fir + 4), 0x1015);
	CHECK_EQ_INT(be32(buf + at_fir + 8), 0); /* stays 0 */
	CHECK_EQ_INT(be32(buf + at_fir + 12), 0x1016);
	CHECK_EQ_INT(be32(buf + at_remb + 4), 0x1017);
	CHECK_EQ_INT(be32(buf + at_remb + 20), 0x1033);
	CHECK_EQ_INT(be32(buf + at_remb + 24), 0x1034);
	CHECK_EQ_INT(m.calls, 15); /* REMB and FIR header media SSRCs are 0 and skipped */
	/* The rest of the SDES is intact. */
	CHECK(memcmp(buf + at_sdes + 8, sdes + 8, 8) == 0);

	/* A compound whose last packet overruns is left completely untouched. */
	uint8_t copy[512];
	memcpy(copy, buf, len);
	copy[at_remb + 3] = 0x20;
	uint8_t before[512];
	memcpy(before, copy, len);
	m.calls = 0;
	CHECK_EQ_INT(rtcp_rewrite_ssrcs(copy, len, shift_ssrc, &m), RTCP_ERR_LENGTH);
	CHECK_EQ_INT(m.calls, 0);
	CHECK(memcmp(copy, before, len) == 0);

	/* An SDES item running past its packet is malformed. */
	memcpy(copy, buf + at_sdes, sizeof sdes);
	copy[9] = 20;
	CHECK_EQ_INT(rtcp_rewrite_ssrcs(copy, sizeof sdes, shift_ssrc, &m), RTCP_ERR_LENGTH);
	/* A BYE counting more SSRCs than it holds. */
	memcpy(copy, bye, sizeof bye);
	copy[0] = 0x83;
	CHECK_EQ_INT(rtcp_rewrite_ssrcs(copy, sizeof bye, shift_ssrc, &m), RTCP_ERR_LENGTH);
}

int main(void)
{
	test_walk_sr_sdes();
	test_walk_malformed();
	test_nack();
	test_pli_fir();
	test_remb();
	test_reports();
	test_rewrite();
	return check_done("rtcp");
}
