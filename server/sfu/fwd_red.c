/* Audio RED (RFC 2198) on the forwarding path. Chromium sends its microphone as RED over
 * Opus once the answer prefers RED (sdp_answer.c): each packet carries the previous frame
 * again beside its own, so one lost packet costs the receiver nothing. Receivers differ: a
 * Chromium receiver negotiated RED with its own payload types, a Firefox receiver (which
 * offers no audio RED) only Opus. So every receiver gets the RED packet in its own form:
 *
 *  - with RED: the same blocks, its RED payload type outside and its Opus payload type in
 *    every block header (red_rewrite);
 *  - without: the primary block alone as a plain Opus packet. Its timestamp is the RTP
 *    header's (a primary block has offset 0), so sequence and timing are those of the RED
 *    stream, one packet for one packet.
 *
 * A sender may mix RED and plain Opus packets (libwebrtc sends a packet with nothing
 * redundant to carry as plain Opus); plain ones take the ordinary path in forward.c. */
#include "base/log.h"
#include "rtp/red.h"
#include "sfu/sfu_internal.h"

/* Payload type 0 is PCMU, never RED: a zeroed track or slot means "no RED". */
static int has_red(int pt)
{
	return pt > 0 && pt < 128;
}

int fwd_red_parse(struct sfu *s, const in_track *t, const uint8_t *payload, size_t len,
                  red_packet *red)
{
	s->stats.red_received++;
	int rc = red_parse(payload, len, red);
	if (rc == 0 && red->block[red->n - 1].pt == t->pt)
		return 0;
	s->stats.red_dropped++;
	LOG_DEBUG("sfu", "red dropped ssrc=%u reason=\"%s\"", (unsigned)t->ssrc,
	          rc ? red_strerror(rc) : red_strerror(RED_ERR_FOREIGN_PT));
	return -1;
}

int fwd_red_payload(struct sfu *s, const in_track *t, const fwd_slot *slot, const uint8_t *payload,
                    const red_packet *red, uint8_t *out, size_t hl)
{
	uint8_t pt = 0;
	int red_pt = has_red(slot->red_pt) ? slot->red_pt : -1;
	int n = red_for_receiver(payload, red, (uint8_t)t->pt, red_pt, (uint8_t)slot->pt, out + hl,
	                         SFU_PACKET_MAX - hl, &pt);
	if (n < 0) {
		s->stats.red_dropped++;
		return -1;
	}
	if (red_pt < 0)
		s->stats.red_unwrapped++;
	out[1] = (uint8_t)((out[1] & 0x80) | pt);
	return n;
}
