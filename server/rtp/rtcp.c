/* RTCP compound packets (RFC 3550), transport and payload-specific feedback (RFC 4585,
 * RFC 5104) and REMB (draft-alvestrand-rmcat-remb). One walker validates the compound;
 * every parser and the SSRC rewriter go through it, so the length checks live in one place. */
#include "rtp/rtcp.h"

#include "rtp/bytes.h"

#include <string.h>

#define RTCP_HDR_LEN      4
#define FB_HDR_LEN        12 /* header, sender SSRC, media SSRC */
#define REPORT_BLOCK_LEN  24
#define SR_INFO_LEN       20
#define MAX_REPORT_BLOCKS 31 /* the 5-bit count field */

/* Writes a common header for a packet of total_len bytes (a multiple of four). */
static void wr_header(uint8_t *p, uint8_t count, uint8_t pt, size_t total_len)
{
	p[0] = (uint8_t)(0x80 | (count & 0x1f));
	p[1] = pt;
	wr16(p + 2, (uint16_t)(total_len / 4 - 1));
}

void rtcp_iter_init(rtcp_iter *it, const uint8_t *buf, size_t len)
{
	it->buf = buf;
	it->len = buf ? len : 0;
	it->off = 0;
}

int rtcp_next(rtcp_iter *it, rtcp_pkt *pkt)
{
	if (it->off >= it->len)
		return 0;
	const uint8_t *p = it->buf + it->off;
	size_t left = it->len - it->off;
	int err = 0;
	if (left < RTCP_HDR_LEN)
		err = RTCP_ERR_SHORT;
	else if ((p[0] >> 6) != 2)
		err = RTCP_ERR_VERSION;
	else if (((size_t)rd16(p + 2) + 1) * 4 > left)
		err = RTCP_ERR_LENGTH;
	if (err) {
		it->off = it->len; /* the walk stops at the first malformed packet */
		return err;
	}
	memset(pkt, 0, sizeof *pkt);
	pkt->pt = p[1];
	pkt->fmt = p[0] & 0x1f;
	pkt->data = p;
	pkt->len = ((size_t)rd16(p + 2) + 1) * 4;
	if (pkt->len >= 8)
		pkt->sender_ssrc = rd32(p + 4);
	if ((pkt->pt == RTCP_RTPFB || pkt->pt == RTCP_PSFB) && pkt->len >= FB_HDR_LEN)
		pkt->media_ssrc = rd32(p + 8);
	it->off += pkt->len;
	return 1;
}

/* Each FCI entry names a packet id and a bitmask of the 16 following losses (RFC 4585
 * section 6.2.1). A packet that is not a NACK names nothing. */
int rtcp_nack_foreach(const rtcp_pkt *pkt, void (*fn)(void *user, uint16_t seq), void *user)
{
	if (!pkt || pkt->pt != RTCP_RTPFB || pkt->fmt != RTCP_FMT_NACK)
		return 0;
	if (pkt->len < FB_HDR_LEN)
		return RTCP_ERR_SHORT;
	int count = 0;
	for (size_t off = FB_HDR_LEN; off + 4 <= pkt->len; off += 4) {
		uint16_t pid = rd16(pkt->data + off);
		uint16_t blp = rd16(pkt->data + off + 2);
		if (fn)
			fn(user, pid);
		count++;
		for (int i = 0; i < 16; i++) {
			if (blp & (1u << i)) {
				if (fn)
					fn(user, (uint16_t)(pid + i + 1));
				count++;
			}
		}
	}
	return count;
}

/* FIR entries (RFC 5104 section 4.3.1): target SSRC, command sequence number, 3 reserved. */
int rtcp_fir_entries(const rtcp_pkt *pkt, uint32_t *ssrcs, uint8_t *seqnrs, int max)
{
	if (!pkt || pkt->pt != RTCP_PSFB || pkt->fmt != RTCP_FMT_FIR)
		return 0;
	if (pkt->len < FB_HDR_LEN)
		return RTCP_ERR_SHORT;
	int n = 0;
	for (size_t off = FB_HDR_LEN; off + 8 <= pkt->len && n < max; off += 8, n++) {
		if (ssrcs)
			ssrcs[n] = rd32(pkt->data + off);
		if (seqnrs)
			seqnrs[n] = pkt->data[off + 4];
	}
	return n;
}

/* REMB: "REMB", SSRC count, 6-bit exponent and 18-bit mantissa, then the SSRCs. */
int rtcp_parse_remb(const rtcp_pkt *pkt, uint64_t *bitrate_bps, uint32_t *ssrcs, int *n_ssrcs,
                    int max)
{
	if (!pkt || pkt->pt != RTCP_PSFB || pkt->fmt != RTCP_FMT_AFB || pkt->len < 20)
		return -1;
	const uint8_t *p = pkt->data;
	if (memcmp(p + 12, "REMB", 4) != 0)
		return -1;
	int num = p[16];
	if ((size_t)20 + 4u * (size_t)num > pkt->len)
		return -1;
	unsigned exp = p[17] >> 2;
	uint64_t mantissa = ((uint64_t)(p[17] & 0x03) << 16) | rd16(p + 18);
	/* An 18-bit mantissa shifted by up to 63 can overflow 64 bits: saturate instead. */
	uint64_t rate = mantissa > (UINT64_MAX >> exp) ? UINT64_MAX : mantissa << exp;
	if (bitrate_bps)
		*bitrate_bps = rate;
	int n = 0;
	for (; n < num && n < max; n++) {
		if (ssrcs)
			ssrcs[n] = rd32(p + 20 + 4 * n);
	}
	if (n_ssrcs)
		*n_ssrcs = n;
	return 0;
}

static void parse_block(const uint8_t *p, rtcp_report_block *b)
{
	b->ssrc = rd32(p);
	b->fraction_lost = p[4];
	uint32_t cl = ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
	/* Sign-extend the 24-bit count without relying on implementation-defined shifts. */
	b->cumulative_lost = (cl & 0x800000u) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
	b->highest_seq = rd32(p + 8);
	b->jitter = rd32(p + 12);
	b->lsr = rd32(p + 16);
	b->dlsr = rd32(p + 20);
}

int rtcp_parse_report(const rtcp_pkt *pkt, rtcp_sr_info *sr, rtcp_report_block *blocks, int max)
{
	if (!pkt)
		return RTCP_ERR_SHORT;
	size_t off;
	if (sr)
		memset(sr, 0, sizeof *sr);
	if (pkt->pt == RTCP_SR) {
		off = 8 + SR_INFO_LEN;
		if (pkt->len < off)
			return RTCP_ERR_SHORT;
		if (sr) {
			const uint8_t *p = pkt->data + 8;
			sr->ntp_sec = rd32(p);
			sr->ntp_frac = rd32(p + 4);
			sr->rtp_ts = rd32(p + 8);
			sr->packet_count = rd32(p + 12);
			sr->octet_count = rd32(p + 16);
		}
	} else if (pkt->pt == RTCP_RR) {
		off = 8;
		if (pkt->len < off)
			return RTCP_ERR_SHORT;
	} else {
		return 0;
	}
	int rc = pkt->fmt;
	if (off + (size_t)rc * REPORT_BLOCK_LEN > pkt->len)
		return RTCP_ERR_SHORT;
	int n = 0;
	for (; n < rc && n < max; n++) {
		if (blocks)
			parse_block(pkt->data + off + (size_t)n * REPORT_BLOCK_LEN, &blocks[n]);
	}
	return n;
}

int rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
	if (!out || cap < FB_HDR_LEN)
		return RTCP_ERR_SPACE;
	wr_header(out, RTCP_FMT_PLI, RTCP_PSFB, FB_HDR_LEN);
	wr32(out + 4, sender_ssrc);
	wr32(out + 8, media_ssrc);
	return FB_HDR_LEN;
}

/* RFC 5104 section 4.3.1.2: the header's media SSRC is unused and set to 0; the target
 * goes in the FCI entry. */
int rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seqnr)
{
	const size_t len = FB_HDR_LEN + 8;
	if (!out || cap < len)
		return RTCP_ERR_SPACE;
	wr_header(out, RTCP_FMT_FIR, RTCP_PSFB, len);
	wr32(out + 4, sender_ssrc);
	wr32(out + 8, 0);
	wr32(out + 12, media_ssrc);
	out[16] = seqnr;
	out[17] = out[18] = out[19] = 0;
	return (int)len;
}

/* Packs the sequence numbers into PID+BLP entries. Each entry starts at the first number
 * not yet covered and absorbs the later ones within 16 after it, so a sorted list packs
 * tightly and an unsorted one still names every number. */
int rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, int n)
{
	if (!seqs || n <= 0)
		return 0;
	if (!out || cap < FB_HDR_LEN + 4)
		return RTCP_ERR_SPACE;
	size_t off = FB_HDR_LEN;
	int i = 0;
	while (i < n) {
		uint16_t pid = seqs[i++];
		uint16_t blp = 0;
		while (i < n) {
			uint16_t d = (uint16_t)(seqs[i] - pid);
			if (d > 16)
				break;
			if (d > 0)
				blp |= (uint16_t)(1u << (d - 1));
			i++;
		}
		if (cap - off < 4 || off + 4 > 4 * 65536u)
			return RTCP_ERR_SPACE;
		wr16(out + off, pid);
		wr16(out + off + 2, blp);
		off += 4;
	}
	wr_header(out, RTCP_FMT_NACK, RTCP_RTPFB, off);
	wr32(out + 4, sender_ssrc);
	wr32(out + 8, media_ssrc);
	return (int)off;
}

int rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate_bps,
                    const uint32_t *ssrcs, int n)
{
	if (n < 0 || n > 255 || (n > 0 && !ssrcs))
		return RTCP_ERR_SPACE;
	size_t len = 20 + 4 * (size_t)n;
	if (!out || cap < len)
		return RTCP_ERR_SPACE;
	unsigned exp = 0;
	while ((bitrate_bps >> exp) > 0x3ffff)
		exp++;
	uint32_t mantissa = (uint32_t)(bitrate_bps >> exp);
	wr_header(out, RTCP_FMT_AFB, RTCP_PSFB, len);
	wr32(out + 4, sender_ssrc);
	wr32(out + 8, 0);
	memcpy(out + 12, "REMB", 4);
	out[16] = (uint8_t)n;
	out[17] = (uint8_t)((exp << 2) | (mantissa >> 16));
	wr16(out + 18, (uint16_t)mantissa);
	for (int i = 0; i < n; i++)
		wr32(out + 20 + 4 * i, ssrcs[i]);
	return (int)len;
}

static void build_block(uint8_t *p, const rtcp_report_block *b)
{
	int32_t cl = b->cumulative_lost;
	if (cl > 0x7fffff)
		cl = 0x7fffff;
	if (cl < -0x800000)
		cl = -0x800000;
	uint32_t u = (uint32_t)cl & 0xffffffu;
	wr32(p, b->ssrc);
	p[4] = b->fraction_lost;
	p[5] = (uint8_t)(u >> 16);
	p[6] = (uint8_t)(u >> 8);
	p[7] = (uint8_t)u;
	wr32(p + 8, b->highest_seq);
	wr32(p + 12, b->jitter);
	wr32(p + 16, b->lsr);
	wr32(p + 20, b->dlsr);
}

/* Shared by SR and RR: more than 31 blocks do not fit one packet's count field. */
static int build_report(uint8_t *out, size_t cap, uint8_t pt, uint32_t sender_ssrc,
                        const rtcp_sr_info *sr, const rtcp_report_block *blocks, int n)
{
	if (n < 0 || n > MAX_REPORT_BLOCKS || (n > 0 && !blocks))
		return RTCP_ERR_SPACE;
	size_t off = 8 + (sr ? SR_INFO_LEN : 0);
	size_t len = off + (size_t)n * REPORT_BLOCK_LEN;
	if (!out || cap < len)
		return RTCP_ERR_SPACE;
	wr_header(out, (uint8_t)n, pt, len);
	wr32(out + 4, sender_ssrc);
	if (sr) {
		wr32(out + 8, sr->ntp_sec);
		wr32(out + 12, sr->ntp_frac);
		wr32(out + 16, sr->rtp_ts);
		wr32(out + 20, sr->packet_count);
		wr32(out + 24, sr->octet_count);
	}
	for (int i = 0; i < n; i++)
		build_block(out + off + (size_t)i * REPORT_BLOCK_LEN, &blocks[i]);
	return (int)len;
}

int rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_report_block *blocks,
                  int n)
{
	return build_report(out, cap, RTCP_RR, sender_ssrc, NULL, blocks, n);
}

int rtcp_build_sr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_sr_info *sr,
                  const rtcp_report_block *blocks, int n)
{
	if (!sr)
		return RTCP_ERR_SPACE;
	return build_report(out, cap, RTCP_SR, sender_ssrc, sr, blocks, n);
}

typedef uint32_t (*ssrc_map_fn)(void *user, uint32_t ssrc);

/* Maps the SSRC at p in place; with map NULL only the bounds are being checked. */
static void map_at(uint8_t *p, ssrc_map_fn map, void *user)
{
	if (map)
		wr32(p, map(user, rd32(p)));
}

/* SDES chunks (RFC 3550 section 6.5): an SSRC, items (type, length, text) ended by a zero
 * type, then zeros up to the next word boundary. */
static int rewrite_sdes(uint8_t *p, size_t len, int chunks, ssrc_map_fn map, void *user)
{
	size_t off = 4;
	for (int c = 0; c < chunks; c++) {
		if (len - off < 4)
			return RTCP_ERR_LENGTH;
		map_at(p + off, map, user);
		off += 4;
		for (;;) {
			if (off >= len)
				return RTCP_ERR_LENGTH;
			if (p[off] == 0)
				break;
			if (len - off < 2 || (size_t)p[off + 1] > len - off - 2)
				return RTCP_ERR_LENGTH;
			off += 2 + (size_t)p[off + 1];
		}
		off = (off + 4) & ~(size_t)3; /* past the end byte, to the boundary */
		if (off > len)
			return RTCP_ERR_LENGTH;
	}
	return 0;
}

static int rewrite_packet(uint8_t *p, size_t len, ssrc_map_fn map, void *user)
{
	uint8_t pt = p[1];
	int count = p[0] & 0x1f;
	if (pt == RTCP_SDES)
		return rewrite_sdes(p, len, count, map, user);
	if (pt == RTCP_BYE) {
		if (4 + 4 * (size_t)count > len)
			return RTCP_ERR_LENGTH;
		for (int i = 0; i < count; i++)
			map_at(p + 4 + 4 * i, map, user);
		return 0;
	}
	if (len < 8)
		return 0; /* an empty RR (or unknown type) carries no SSRC */
	map_at(p + 4, map, user);
	if (pt == RTCP_SR || pt == RTCP_RR) {
		size_t off = pt == RTCP_SR ? 8 + SR_INFO_LEN : 8;
		if (off + (size_t)count * REPORT_BLOCK_LEN > len)
			return RTCP_ERR_LENGTH;
		for (int i = 0; i < count; i++)
			map_at(p + off + (size_t)i * REPORT_BLOCK_LEN, map, user);
		return 0;
	}
	if (pt != RTCP_RTPFB && pt != RTCP_PSFB)
		return 0;
	if (len < FB_HDR_LEN)
		return RTCP_ERR_LENGTH;
	/* FIR and REMB set the header's media SSRC to 0, meaning none: keep it so. */
	if (rd32(p + 8) != 0)
		map_at(p + 8, map, user);
	if (pt == RTCP_PSFB && count == RTCP_FMT_FIR) {
		for (size_t off = FB_HDR_LEN; off + 8 <= len; off += 8)
			map_at(p + off, map, user);
	} else if (pt == RTCP_PSFB && count == RTCP_FMT_AFB && len >= 20 &&
	           memcmp(p + 12, "REMB", 4) == 0) {
		size_t num = p[16];
		if (20 + 4 * num > len)
			return RTCP_ERR_LENGTH;
		for (size_t i = 0; i < num; i++)
			map_at(p + 20 + 4 * i, map, user);
	}
	return 0;
}

/* Two passes: the first only validates, so a malformed compound is left untouched rather
 * than half rewritten. */
int rtcp_rewrite_ssrcs(uint8_t *buf, size_t len, uint32_t (*map)(void *user, uint32_t ssrc),
                       void *user)
{
	if (!buf || !map)
		return RTCP_ERR_SHORT;
	for (int pass = 0; pass < 2; pass++) {
		rtcp_iter it;
		rtcp_pkt pkt;
		int rc;
		rtcp_iter_init(&it, buf, len);
		while ((rc = rtcp_next(&it, &pkt)) == 1) {
			uint8_t *p = buf + (pkt.data - buf);
			int err = rewrite_packet(p, pkt.len, pass ? map : NULL, user);
			if (err < 0)
				return err;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

const char *rtcp_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case RTCP_ERR_SHORT:
		return "packet too short";
	case RTCP_ERR_VERSION:
		return "RTCP version is not 2";
	case RTCP_ERR_LENGTH:
		return "length field runs past the compound";
	case RTCP_ERR_SPACE:
		return "output buffer too small";
	default:
		return "unknown RTCP error";
	}
}
