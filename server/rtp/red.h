/* RTP payload for redundant audio data (RED, RFC 2198), as Chromium sends it for Opus
 * (`red/48000/2`, fmtp `111/111`): one or more redundant blocks, each an older encoding of
 * the same stream, followed by the primary block, the packet's own frame.
 *
 *   redundant block header (4 bytes): F=1 | block PT (7) | timestamp offset (14) | length (10)
 *   primary block header   (1 byte):  F=0 | block PT (7)
 *   then the blocks' data in the same order, the primary last, running to the payload's end.
 *
 * A redundant block's timestamp is the packet's minus its offset. The forwarder uses these
 * functions to give every receiver the form it negotiated: RED with the receiver's own
 * payload type inside each block header, or the primary block alone (plain Opus).
 * Pure functions over byte buffers; no allocation. */
#ifndef MDG_RTP_RED_H
#define MDG_RTP_RED_H

#include <stddef.h>
#include <stdint.h>

/* At most this many blocks (primary included): Chromium sends 2 or 3, and libwebrtc's
 * receiver refuses more than 32. */
#define RED_MAX_BLOCKS 32

enum red_err {
	RED_ERR_EMPTY = -1,      /* no payload at all */
	RED_ERR_HEADER = -2,     /* the block headers run past the payload */
	RED_ERR_LENGTH = -3,     /* the redundant blocks' lengths run past the payload */
	RED_ERR_TOO_MANY = -4,   /* more than RED_MAX_BLOCKS blocks */
	RED_ERR_SPACE = -5,      /* the output buffer is too small */
	RED_ERR_FOREIGN_PT = -6, /* the primary block is not of the payload type asked for */
	RED_ERR_BLOCK = -7,      /* a block cannot be written (offset, length or PT out of range) */
};

typedef struct red_block {
	uint8_t pt;         /* the block's payload type (7 bits) */
	uint16_t ts_offset; /* 14 bits; 0 for the primary block */
	size_t off;         /* where its data starts, from the start of the RED payload */
	size_t len;         /* its data's length (at most 1023 for a redundant block) */
} red_block;

typedef struct red_packet {
	red_block block[RED_MAX_BLOCKS];
	int n;             /* blocks, >= 1; block[n - 1] is the primary */
	size_t header_len; /* bytes of block headers */
} red_packet;

/* Parses a RED payload. Returns 0, or a negative red_err. The primary block may be empty
 * (0 bytes); callers decide what that means. */
int red_parse(const uint8_t *payload, size_t len, red_packet *out);

/* Writes a RED payload into out from the parsed packet rp over payload (the bytes it was
 * parsed from), keeping only blocks of payload type from_pt and writing them with to_pt:
 * the receiver's payload type for the same codec. Blocks of any other payload type are
 * left out (the receiver negotiated only this codec). Returns the length written, or
 * RED_ERR_FOREIGN_PT when the primary block is not of from_pt, RED_ERR_SPACE when cap is
 * too small. */
int red_rewrite(const uint8_t *payload, const red_packet *rp, uint8_t from_pt, uint8_t to_pt,
                uint8_t *out, size_t cap);

/* Builds a RED payload from n blocks given as data pointers: block i has payload type
 * pts[i], timestamp offset ts_offsets[i] (ignored for the last, the primary), and data
 * data[i] of lens[i] bytes. Returns the length written, or RED_ERR_BLOCK (a PT above 127,
 * an offset above 16383, a redundant block longer than 1023, n outside 1..RED_MAX_BLOCKS),
 * RED_ERR_SPACE. */
int red_build(int n, const uint8_t *pts, const uint16_t *ts_offsets, const uint8_t *const *data,
              const size_t *lens, uint8_t *out, size_t cap);

/* The payload one receiver gets of a RED packet whose blocks carry codec payload type
 * src_pt: with red_pt >= 0 (the receiver negotiated RED) the RED payload rewritten for it
 * (red_rewrite to dst_pt), sent with payload type red_pt; with red_pt < 0 the primary
 * block alone, sent with dst_pt. The RTP timestamp stays the packet's: it is the primary's.
 * Returns the length written and sets *pt_out, or a negative red_err (RED_ERR_EMPTY for an
 * empty primary, which carries nothing to play). */
int red_for_receiver(const uint8_t *payload, const red_packet *rp, uint8_t src_pt, int red_pt,
                     uint8_t dst_pt, uint8_t *out, size_t cap, uint8_t *pt_out);

const char *red_strerror(int err);

#endif
