/* Receive-side gap tracking for one incoming RTP stream, producing the sequence numbers to
 * request in RFC 4585 generic NACKs. Fixed-size state (about 16 KiB), no allocation, no
 * I/O, no clock: the caller passes the time of every event.
 *
 * Use: nack_gen_on_packet() for every arriving RTP packet of the stream (after RTX
 * unwrapping, so retransmissions fill their gaps), and nack_gen_collect() from a periodic
 * timer (every 10-20 ms) to get the seqs to put into the next NACK. When
 * nack_gen_take_keyframe_need() returns 1, loss could not be repaired: ask the sender for a
 * key frame (PLI). */
#ifndef MDG_RTP_NACK_H
#define MDG_RTP_NACK_H

#include <stdint.h>

#define NACK_MAX_MISSING    512     /* missing seqs tracked; the oldest is dropped beyond */
#define NACK_MAX_TRIES      10      /* NACKs sent for one seq before giving up */
#define NACK_MAX_AGE_US     1000000 /* a seq missing for longer than this is abandoned */
#define NACK_REORDER_US     10000   /* wait before the first NACK, see nack.c */
#define NACK_MIN_RETRY_US   30000   /* floor of the retry interval */
#define NACK_DEFAULT_RTT_US 100000  /* retry interval while the RTT is unknown */
#define NACK_RESET_GAP      1000    /* a forward jump beyond this restarts the tracker */

typedef struct nack_entry {
	int64_t ext_seq;      /* extended (unwrapped) sequence number */
	int64_t detected_us;  /* when the gap was seen */
	int64_t last_sent_us; /* last NACK for it; meaningful when tries > 0 */
	uint8_t tries;
	uint8_t missing; /* 0 once filled or abandoned (left in place until it reaches the head) */
} nack_entry;

typedef struct nack_gen {
	int started;
	int64_t highest;           /* extended seq of the newest packet */
	int64_t restart_candidate; /* seq expected next after a far backward jump, -1 if none */
	/* Ring of entries in increasing ext_seq order: entry i is at (head + i) % MAX. */
	nack_entry entries[NACK_MAX_MISSING];
	int head, count;
	int keyframe_needed;
	/* Counters (monotonic). Every gap entry ends as recovered, reordered or abandoned:
	 * gaps == recovered + reordered + abandoned + nack_gen_missing(). */
	uint64_t gaps;       /* seqs found missing */
	uint64_t requested;  /* seq entries put into NACKs (every try counts) */
	uint64_t recovered;  /* gaps filled after at least one NACK */
	uint64_t reordered;  /* gaps filled before any NACK was sent (late, not lost) */
	uint64_t abandoned;  /* missing seqs given up: too old, too many tries, list overflow */
	uint64_t resets;     /* jumps that restarted the tracker */
	uint64_t duplicates; /* packets already seen or too old to be tracked */
} nack_gen;

void nack_gen_init(nack_gen *g);

/* Records an arriving packet. Returns 1 when it fills a gap (a retransmission or a late
 * reordered packet), 0 when it is new and in order, -1 when it is a duplicate or too old
 * to matter (the caller may still forward it: receivers discard duplicates themselves).
 * Every seq skipped becomes missing; a forward jump of more than NACK_RESET_GAP restarts the
 * tracker without NACKing anything (counted in resets, and a key frame is needed). A far
 * backward jump is taken as a sender restart only when the next packet continues from it
 * (RFC 3550 A.1). Seqs wrap at 65535. */
int nack_gen_on_packet(nack_gen *g, uint16_t seq, int64_t now_us);

/* Fills out with the seqs due for a NACK now, oldest first, and counts them as sent.
 * A missing seq is first due NACK_REORDER_US after its gap was seen, then again every
 * max(rtt_us, NACK_MIN_RETRY_US); rtt_us <= 0 means unknown (NACK_DEFAULT_RTT_US). It is
 * abandoned after NACK_MAX_TRIES NACKs (when the next would be due), when older than
 * NACK_MAX_AGE_US, or when the list overflows. Returns the count (0..max). Seqs due beyond
 * max stay due for the next call. */
int nack_gen_collect(nack_gen *g, int64_t now_us, int64_t rtt_us, uint16_t *out, int max);

/* Returns 1 once after a seq was abandoned or the tracker restarted since the last call,
 * else 0. */
int nack_gen_take_keyframe_need(nack_gen *g);

/* Number of seqs currently missing (tracked and not yet filled or abandoned). */
int nack_gen_missing(const nack_gen *g);

#endif
