/* How much a receiver may be sent in retransmissions: a token bucket in bytes, refilled at
 * a share of the receiver's downlink estimate.
 *
 * A receiver whose line is full loses packets at its bottleneck and asks for them again. If
 * every request were answered at once, a lost keyframe (twenty packets and more) would go out
 * again as one burst on top of the media, overflow the same queue, and lose more than it
 * repaired: on a 600 kbit/s branch line carrying two small video layers and two audio
 * streams, answering every NACK at once sent bursts of 1.2 Mbit/s and kept the picture
 * frozen for seconds. With a budget, what does not fit now is not sent; the receiver asks
 * again a round trip later (browsers repeat a NACK about ten times before asking for a
 * keyframe), when the bucket has refilled, so a large loss is repaired spread over time.
 *
 * Pure: the caller passes the clock and the estimate; no allocation, no I/O. */
#ifndef MDG_RTP_RTXBUDGET_H
#define MDG_RTP_RTXBUDGET_H

#include <stddef.h>
#include <stdint.h>

#define RTXBUDGET_SHARE_PCT 25       /* of the downlink estimate */
#define RTXBUDGET_MIN_BPS   64000ull /* however low the estimate */
#define RTXBUDGET_DEPTH_US  250000   /* the bucket holds this long at its rate */
#define RTXBUDGET_MIN_DEPTH 3000     /* bytes: at least two full packets */

typedef struct rtxbudget {
	double tokens; /* bytes */
	int64_t last_us; /* 0: never used (the bucket starts full) */
	uint64_t granted, refused;
} rtxbudget;

/* The rate the bucket refills at for this estimate (0: no estimate yet). */
uint64_t rtxbudget_rate_bps(uint64_t estimate_bps);

/* Takes bytes for one retransmission at now_us: 1 when it fits (the tokens are spent), 0 when
 * not (nothing spent). */
int rtxbudget_take(rtxbudget *b, size_t bytes, uint64_t estimate_bps, int64_t now_us);

#endif
