/* Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01):
 * the receiving side records the arrival time of each transport-wide sequence number and
 * periodically builds RTCP RTPFB FMT 15 packets so that the sender's bandwidth estimator
 * (Chromium's send-side BWE) can ramp up. Fixed-size state, no allocation, no I/O:
 * the caller supplies arrival times and decides when to build. */
#ifndef MDG_RTP_TWCC_H
#define MDG_RTP_TWCC_H

#include <stddef.h>
#include <stdint.h>

#define TWCC_WINDOW 1024 /* packets remembered between two feedback packets */

typedef struct twcc_rec {
	int started;
	uint16_t base_seq;               /* first sequence number not yet reported */
	uint16_t max_seq;                /* highest received (in unwrapped order) */
	int64_t arrival_us[TWCC_WINDOW]; /* indexed by seq % TWCC_WINDOW; -1 = not received */
	uint8_t fb_count;                /* feedback packet counter */
	int pending;                     /* packets received since the last build */
} twcc_rec;

void twcc_rec_init(twcc_rec *r);

/* Records one arrival. Sequence numbers may arrive out of order and wrap at 65535.
 * Packets older than base_seq are ignored; a jump of more than TWCC_WINDOW restarts the
 * window. */
void twcc_rec_add(twcc_rec *r, uint16_t seq, int64_t arrival_us);

/* Builds one feedback packet covering base_seq..max_seq (lost packets included as "not
 * received"), then advances base_seq past max_seq. Returns the bytes written, 0 when nothing
 * is pending, or a negative value when cap is too small. */
int twcc_rec_build(twcc_rec *r, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *out,
                   size_t cap);

/* Parsed feedback (for tests and, later, the downlink estimator). */
typedef struct twcc_fb {
	uint16_t base_seq;
	uint16_t status_count;
	int32_t reference_time; /* 24-bit signed, multiples of 64 ms */
	uint8_t fb_count;
} twcc_fb;

/* Parses an RTPFB FMT 15 packet; calls fn(user, seq, received, delta_us) per packet status,
 * where delta_us is the receive delta (250 us units decoded) for received packets.
 * Returns 0 or -1 when malformed. */
int twcc_parse(const uint8_t *pkt, size_t len, twcc_fb *fb,
               void (*fn)(void *user, uint16_t seq, int received, int64_t delta_us), void *user);

#endif
