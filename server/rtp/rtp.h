/* RTP (RFC 3550) header parsing and in-place rewriting, header extensions
 * (RFC 8285 one-byte and two-byte forms), and VP8 payload inspection (RFC 7741).
 * Pure functions over byte buffers; no allocation. */
#ifndef MDG_RTP_RTP_H
#define MDG_RTP_RTP_H

#include <stddef.h>
#include <stdint.h>

enum rtp_err {
	RTP_ERR_SHORT = -1,   /* shorter than the header it announces */
	RTP_ERR_VERSION = -2, /* version is not 2 */
	RTP_ERR_EXT = -3,     /* header extension overruns the packet */
	RTP_ERR_PADDING = -4, /* padding length larger than the payload */
};

typedef struct rtp_hdr {
	uint8_t marker;
	uint8_t payload_type;
	uint16_t seq;
	uint32_t timestamp;
	uint32_t ssrc;
	uint8_t csrc_count;
	int has_ext;
	uint16_t ext_profile; /* 0xBEDE one-byte, 0x100x two-byte */
	size_t ext_offset; /* offset of the first extension element (after the 4-byte ext header) */
	size_t ext_len;    /* bytes of extension elements */
	size_t header_len; /* fixed header + CSRCs + extension block */
	size_t payload_len; /* excludes padding */
	uint8_t padding_len;
} rtp_hdr;

/* RFC 5761 demux: a packet whose second byte is 192..223 is RTCP. Needs len >= 2. */
int rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Parses and validates the header. Returns 0 or a negative rtp_err. */
int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr *h);

/* Finds extension element `id` (1..14 one-byte, 1..255 two-byte). Returns a pointer to its
 * data (inside buf) and sets *len, or NULL when absent. */
uint8_t *rtp_ext_find(uint8_t *buf, const rtp_hdr *h, uint8_t id, size_t *len);

/* In-place setters for the fixed header fields. */
void rtp_set_seq(uint8_t *buf, uint16_t seq);
void rtp_set_timestamp(uint8_t *buf, uint32_t ts);
void rtp_set_ssrc(uint8_t *buf, uint32_t ssrc);
void rtp_set_payload_type(uint8_t *buf, uint8_t pt);

/* Writes a one-byte-header extension block (RFC 8285) holding the `len` bytes of elements
 * in ext right after a 12-byte fixed header in pkt, zero-padded to a multiple of 4, and
 * sets the X bit. Returns the header length (12 when len is 0: no block). pkt needs room
 * for 16 + len + 3 bytes; len is at most 1020. */
size_t rtp_put_ext_block(uint8_t *pkt, const uint8_t *ext, size_t len);

/* Reads the transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01)
 * from extension `id`. Returns 0 and sets *seq, or -1 when absent or malformed. */
int rtp_get_twcc_seq(uint8_t *buf, const rtp_hdr *h, uint8_t id, uint16_t *seq);
/* Overwrites it in place. Returns 0, or -1 when absent. */
int rtp_set_twcc_seq(uint8_t *buf, const rtp_hdr *h, uint8_t id, uint16_t seq);

/* VP8 payload descriptor (RFC 7741 section 4.2). */
typedef struct vp8_desc {
	int start_of_partition; /* S bit */
	uint8_t partition_id;
	int has_picture_id;
	uint16_t picture_id; /* 7 or 15 bits */
	int picture_id_15bit;
	size_t picture_id_offset; /* offset within the payload, for rewriting */
	int has_tl0picidx;
	uint8_t tl0picidx;
	size_t tl0picidx_offset;
	size_t header_len; /* descriptor length; the VP8 bitstream follows */
} vp8_desc;

/* Parses the descriptor at the start of a VP8 RTP payload. Returns 0 or RTP_ERR_SHORT. */
int vp8_parse(const uint8_t *payload, size_t len, vp8_desc *d);

/* True when the payload begins a VP8 key frame (S=1, partition 0, P bit of the frame tag 0). */
int vp8_is_keyframe(const uint8_t *payload, size_t len);

/* True when an H.264 RTP payload (RFC 6184) carries an IDR slice or an SPS: a single NAL
 * unit, any unit of a STAP-A, or the first fragment of an FU-A. */
int h264_is_keyframe(const uint8_t *payload, size_t len);

const char *rtp_strerror(int err);

/* RTX retransmission payload format (RFC 4588 section 4). */
enum rtx_err {
	RTX_ERR_SPACE = -5, /* output buffer too small */
	RTX_ERR_PROBE = -6, /* padding only, no original seq: a bandwidth probe, not a resend */
};

/* Builds an RTX packet from a plain RTP packet: same header (marker, timestamp, CSRCs,
 * header extensions) except PT = rtx_pt, SSRC = rtx_ssrc, seq = rtx_seq; the payload is the
 * original seq (2 bytes) followed by the original payload. Padding of the original is
 * dropped (P bit cleared). Returns the length written, a negative rtp_err when pkt does not
 * parse, or RTX_ERR_SPACE when cap is too small. out may be pkt itself (cap >= len + 2). */
int rtx_wrap(const uint8_t *pkt, size_t len, uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq,
             uint8_t *out, size_t cap);

/* Turns an RTX packet back into the original in place: reads the original seq, moves the
 * rest of the packet down by 2 bytes (padding, if any, is kept), sets seq, PT = orig_pt and
 * SSRC = orig_ssrc, and updates *len. Returns 0, a negative rtp_err when it does not parse,
 * RTP_ERR_SHORT when the payload has fewer than 2 bytes, or RTX_ERR_PROBE for a padding-only
 * packet (Chromium probes bandwidth that way on the RTX stream; count and drop it). The
 * packet is untouched on error. */
int rtx_unwrap(uint8_t *pkt, size_t *len, uint8_t orig_pt, uint32_t orig_ssrc);

/* Like rtp_strerror, also knowing the rtx_err codes. */
const char *rtx_strerror(int err);

#endif
