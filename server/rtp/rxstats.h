/* Receiver statistics for one incoming RTP stream (RFC 3550 section 6.4.1 and appendices
 * A.1, A.3, A.8), from which the server builds the report blocks of its receiver reports.
 * Fixed-size state, no allocation, no I/O, no clock: the caller passes arrival times.
 *
 * Duplicates and retransmissions: a window of the last RXSTATS_WINDOW sequence numbers
 * remembers which were received, so a packet that arrives twice (a duplicate, or an RTX
 * retransmission of a packet that was only late) counts once, and a retransmission that
 * fills a gap counts as received. 'received' therefore never exceeds 'expected' and the
 * reported loss is the loss after repair, which is what the sender's congestion control
 * and the operator want to see. Packets older than the window are not counted. */
#ifndef MDG_RTP_RXSTATS_H
#define MDG_RTP_RXSTATS_H

#include "rtp/rtcp.h"

#include <stdint.h>

#define RXSTATS_WINDOW      1024 /* seqs remembered behind the highest (power of two) */
#define RXSTATS_MAX_DROPOUT 3000 /* a forward jump up to this is a gap, beyond: a restart? */

typedef struct rxstats {
	uint32_t clock_rate;
	int started;
	uint16_t max_seq;  /* highest seq received */
	uint32_t cycles;   /* wraps of max_seq, times 65536 */
	uint32_t base_seq; /* first seq (extended) */
	uint32_t bad_seq;  /* seq expected after a far jump (RFC 3550 A.1), > 0xffff if none */
	uint64_t received; /* distinct seqs received */
	uint64_t expected_prior, received_prior; /* at the previous report */
	uint64_t duplicates;                     /* packets not counted because seen before */
	uint64_t ignored; /* not counted: older than the window, or a far jump (restart?) */
	uint64_t restarts;
	uint8_t seen[RXSTATS_WINDOW / 8]; /* bit per extended seq modulo the window */
	/* Jitter (A.8), in timestamp units times 16 to keep the fraction in an integer. */
	int have_transit;
	uint32_t transit;
	uint32_t jitter_q4;
	/* Last sender report. */
	int have_sr;
	uint32_t lsr;
	int64_t sr_arrival_us;
	uint8_t last_fraction; /* fraction lost of the last report, 0..255 */
} rxstats;

void rxstats_init(rxstats *s, uint32_t clock_rate);

/* Records one packet: extended highest seq with cycles, distinct received count, and the
 * interarrival jitter (A.8, in timestamp units). Jitter is sampled only from packets that
 * advance the highest seq: a retransmission carries an old timestamp and a late arrival,
 * which is repair delay, not network jitter. */
void rxstats_on_packet(rxstats *s, uint16_t seq, uint32_t rtp_ts, int64_t arrival_us);

/* Remembers the middle 32 bits of a sender report's NTP time (LSR) and its arrival, for
 * DLSR. */
void rxstats_on_sr(rxstats *s, uint32_t ntp_sec, uint32_t ntp_frac, int64_t arrival_us);

/* Fills a report block for ssrc: fraction lost since the previous call (A.3), cumulative
 * lost (clamped to 24-bit signed), extended highest seq, jitter, LSR and DLSR (1/65536 s;
 * both 0 before the first SR). Starts a new report interval. Returns 0, or -1 before the
 * first packet (out untouched). */
int rxstats_report(rxstats *s, uint32_t ssrc, int64_t now_us, rtcp_report_block *out);

/* Fraction of packets lost over the last report interval, 0..1, for logs and metrics. */
double rxstats_loss_fraction(const rxstats *s);

/* Cumulative lost packets so far (expected - received; never negative here). */
int64_t rxstats_lost(const rxstats *s);

/* Interarrival jitter in microseconds, for logs. */
int64_t rxstats_jitter_us(const rxstats *s);

#endif
