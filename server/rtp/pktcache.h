/* Retransmission cache for one outgoing RTP stream, keyed by the sequence number the
 * receiver saw (after rewriting), so that a receiver's NACK can be answered directly.
 *
 * Memory follows the stream: packets are stored back to back in a ring (each takes its own
 * length plus 8 bytes), found through an index by seq. Both start small (16 KiB and 64
 * entries) and grow only to keep every packet younger than PKTCACHE_KEEP_US, the oldest a
 * NACK is ever answered for (pktcache_age_for_rtt): about 1 s of the stream, 200 to 300 KiB
 * at 1 Mbit/s. Older packets are dropped, and room a burst made the ring take is given back
 * within 10 to 20 s. The bound given at creation caps them, capacity packets and
 * (capacity + 1) * (max_packet + 8) bytes (512 and 1500: about 760 KiB, as the fixed slots
 * of earlier versions took); at the bound the oldest packets go first. No I/O, no clock:
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
	uint64_t grown;     /* times the ring or the index grew */
	uint64_t shrunk;    /* times the ring gave back room a burst had made it take */
	size_t bytes;       /* allocated now (ring, index and header) */
} pktcache_stats;

/* The oldest packet worth keeping: pktcache_age_for_rtt() never allows more. */
#define PKTCACHE_KEEP_US 1000000

/* capacity: the most packets kept, a power of two from 1 to 32768; max_packet: 1..65535
 * bytes. Returns NULL on bad arguments or when out of memory. */
pktcache *pktcache_new(int capacity, size_t max_packet);
void pktcache_free(pktcache *c); /* NULL ok */

/* Copies the plain RTP packet (len bytes) into the cache as seq, replacing an older packet
 * stored as seq. Makes room by dropping the oldest packets, or by growing when one of them
 * is younger than PKTCACHE_KEEP_US and the bound allows; at the bound a packet may also
 * displace one whose seq shares its index entry. A packet longer than max_packet is not
 * stored (counted in oversize), and the cache no longer answers for seq. */
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
