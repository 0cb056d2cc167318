/* Retransmission cache for one outgoing RTP stream, keyed by the sequence number the
 * receiver saw (after rewriting), so that a receiver's NACK can be answered directly.
 *
 * Memory is bounded at creation: capacity slots of max_packet bytes each, that is
 * capacity * max_packet bytes of packet data plus a small fixed header per slot (512 slots
 * of 1500 bytes = 750 KiB). Nothing is allocated after pktcache_new(). No I/O, no clock:
 * the caller passes the time. Packets are stored plain (before SRTP protection). */
#ifndef MDG_RTP_PKTCACHE_H
#define MDG_RTP_PKTCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pktcache pktcache;

typedef struct pktcache_stats {
	uint64_t stored;    /* packets put */
	uint64_t oversize;  /* packets not stored: longer than max_packet */
	uint64_t hits;      /* packets returned for a resend */
	uint64_t misses;    /* requested but absent, overwritten or too old */
	uint64_t throttled; /* refused: same seq resent less than min_gap_us ago */
} pktcache_stats;

/* capacity: a power of two from 1 to 32768; max_packet: 1..65535 bytes. Returns NULL on
 * bad arguments or when out of memory. */
pktcache *pktcache_new(int capacity, size_t max_packet);
void pktcache_free(pktcache *c); /* NULL ok */

/* Copies the plain RTP packet (len bytes) into the slot for seq, replacing whatever the slot
 * held. A packet longer than max_packet is not stored (counted in oversize). */
void pktcache_put(pktcache *c, uint16_t seq, const uint8_t *pkt, size_t len, int64_t now_us);

/* Returns the stored packet for seq and sets *len, or NULL when absent, stored more than
 * max_age_us ago, or when the same seq was already returned less than min_gap_us ago
 * (receivers repeat NACKs every RTT or so; a burst of duplicates must not become a burst of
 * retransmissions). The pointer stays valid until the next put, clear or free. */
const uint8_t *pktcache_get(pktcache *c, uint16_t seq, int64_t now_us, int64_t max_age_us,
                            int64_t min_gap_us, size_t *len);

/* Forgets every packet (renegotiation). A source change is not a reason: the outgoing seqs
 * stay continuous across it. */
void pktcache_clear(pktcache *c);

/* How many times seq was returned by pktcache_get since it was stored (0 when absent). */
int pktcache_resends(const pktcache *c, uint16_t seq);

void pktcache_get_stats(const pktcache *c, pktcache_stats *out);

/* How long to keep packets for a receiver with this RTT: RTT + 100 ms clamped to
 * [200 ms, 1000 ms]. An unknown RTT (<= 0) gives 300 ms, enough for the 200 ms RTT of a
 * branch line behind a VPN, which is the worst we expect before the first report. */
int64_t pktcache_age_for_rtt(int64_t rtt_us);

#endif
