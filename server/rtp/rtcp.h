/* RTCP (RFC 3550, 4585, 5104) compound packets: one walker for every consumer, parsers
 * for the feedback the server acts on, builders for what it sends.
 * Pure functions over byte buffers; no allocation. */
#ifndef MDG_RTP_RTCP_H
#define MDG_RTP_RTCP_H

#include <stddef.h>
#include <stdint.h>

#define RTCP_SR    200
#define RTCP_RR    201
#define RTCP_SDES  202
#define RTCP_BYE   203
#define RTCP_APP   204
#define RTCP_RTPFB 205 /* FMT 1 generic NACK, FMT 15 transport-cc */
#define RTCP_PSFB  206 /* FMT 1 PLI, FMT 4 FIR, FMT 15 application layer (REMB) */

#define RTCP_FMT_NACK 1
#define RTCP_FMT_TWCC 15
#define RTCP_FMT_PLI  1
#define RTCP_FMT_FIR  4
#define RTCP_FMT_AFB  15

enum rtcp_err {
	RTCP_ERR_SHORT = -1,
	RTCP_ERR_VERSION = -2,
	RTCP_ERR_LENGTH = -3, /* a packet's length field runs past the compound */
	RTCP_ERR_SPACE = -4,  /* output buffer too small */
};

/* One packet of a compound. */
typedef struct rtcp_pkt {
	uint8_t pt;
	uint8_t fmt;          /* the 5-bit count/FMT field */
	const uint8_t *data;  /* whole packet including its 4-byte header */
	size_t len;           /* bytes, (length field + 1) * 4 */
	uint32_t sender_ssrc; /* first word after the header, 0 when absent */
	uint32_t media_ssrc;  /* for RTPFB/PSFB: the media source SSRC; else 0 */
} rtcp_pkt;

typedef struct rtcp_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;
} rtcp_iter;

void rtcp_iter_init(rtcp_iter *it, const uint8_t *buf, size_t len);
/* Returns 1 with *pkt filled, 0 at the end, or a negative rtcp_err for a malformed packet
 * (the walk stops there). */
int rtcp_next(rtcp_iter *it, rtcp_pkt *pkt);

/* Generic NACK: calls fn(user, seq) for every lost sequence number named. Returns the
 * count, or a negative rtcp_err. */
int rtcp_nack_foreach(const rtcp_pkt *pkt, void (*fn)(void *user, uint16_t seq), void *user);

/* FIR entries: returns the number of entries (up to max) with their SSRCs and seq numbers. */
int rtcp_fir_entries(const rtcp_pkt *pkt, uint32_t *ssrcs, uint8_t *seqnrs, int max);

/* REMB (draft-alvestrand-rmcat-remb): returns 0 and the bitrate and SSRCs, or -1 if pkt
 * is not a REMB. */
int rtcp_parse_remb(const rtcp_pkt *pkt, uint64_t *bitrate_bps, uint32_t *ssrcs, int *n_ssrcs,
                    int max);

/* Report blocks of SR/RR. */
typedef struct rtcp_report_block {
	uint32_t ssrc;
	uint8_t fraction_lost;
	int32_t cumulative_lost; /* 24-bit signed */
	uint32_t highest_seq;
	uint32_t jitter;
	uint32_t lsr;
	uint32_t dlsr;
} rtcp_report_block;

typedef struct rtcp_sr_info {
	uint32_t ntp_sec, ntp_frac, rtp_ts, packet_count, octet_count;
} rtcp_sr_info;

/* Parses an SR (fills *sr) or RR (sr may be NULL); returns the number of report blocks
 * copied (up to max) or a negative rtcp_err. */
int rtcp_parse_report(const rtcp_pkt *pkt, rtcp_sr_info *sr, rtcp_report_block *blocks, int max);

/* Builders return the bytes written or RTCP_ERR_SPACE. */
int rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
int rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seqnr);
int rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, int n);
int rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate_bps,
                    const uint32_t *ssrcs, int n);
int rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_report_block *blocks,
                  int n);
int rtcp_build_sr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_sr_info *sr,
                  const rtcp_report_block *blocks, int n);

/* Rewrites SSRCs in place: sender SSRC of every packet, and media SSRC of feedback, through
 * map (called with each SSRC, returns the replacement). Used when forwarding. Returns 0 or a
 * negative rtcp_err. */
int rtcp_rewrite_ssrcs(uint8_t *buf, size_t len, uint32_t (*map)(void *user, uint32_t ssrc),
                       void *user);

const char *rtcp_strerror(int err);

#endif
