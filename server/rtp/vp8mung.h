/* Keeps the VP8 picture id and TL0PICIDX (RFC 7741 section 4.2) continuous on one outgoing
 * slot whose source changes: a receiver's decoder treats a jump in picture ids as loss and
 * asks for a key frame or freezes. Each source's values are mapped by a fixed offset chosen
 * at its first packet after a switch, so that its first picture continues the last id sent.
 * Fixed-size state, no allocation, no I/O.
 *
 * Widths: the rewritten id keeps the width the packet uses (7 bits wrap at 128, 15 bits at
 * 32768); the descriptor is rewritten in place and never resized. If a source using 15-bit
 * ids is followed by one using 7-bit ids (Chromium always uses 15 bits, so this is rare),
 * the output continues modulo 128: the low 7 bits stay continuous, which is all a 7-bit
 * field can carry; as the new source starts at a key frame, a decoder loses no reference.
 * The reverse (7 then 15) continues from the last 7-bit value. */
#ifndef MDG_RTP_VP8MUNG_H
#define MDG_RTP_VP8MUNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct vp8mung {
	int have_pid;      /* a picture id has been sent */
	uint16_t last_pid; /* newest picture id sent (in the width of its packet) */
	int last_pid_15bit;
	uint16_t pid_offset; /* added to the source's id, modulo 2^15 */
	int pid_pending;     /* recompute pid_offset at the next packet with a picture id */
	int have_tl0;
	uint8_t last_tl0; /* newest TL0PICIDX sent */
	uint8_t tl0_offset;
	int tl0_pending;
	uint64_t rewritten; /* packets changed */
	uint64_t switches;
} vp8mung;

void vp8mung_init(vp8mung *m);

/* The next packet comes from a new source: its first picture id goes out as the last one
 * sent + 1, and its first TL0PICIDX as the last one sent + 1. Packets of the old source
 * that arrive after this call are mapped with the new offsets, so callers must not forward
 * them (the SFU drops packets of a source once it is switched away). */
void vp8mung_switch(vp8mung *m);

/* Rewrites the descriptor in place. Packets of one picture keep one output id; reordered
 * packets of an older picture of the same source map by the same offset. The first source
 * passes through unchanged. Returns 0 (also when the descriptor has no picture id or
 * TL0PICIDX to rewrite), or -1 when the payload is not a parsable VP8 descriptor (left
 * untouched). */
int vp8mung_apply(vp8mung *m, uint8_t *payload, size_t len);

#endif
