/* Two parts: a byte ring holding the packets back to back in the order they were put, each
 * behind a small header (its seq and length), and an index by seq & mask saying where the
 * packet for a seq is. An index entry remembers its seq, so a seq whose entry was since
 * taken by a newer packet is a miss rather than a wrong packet; after 65536 packets a seq
 * comes round to its old entry, and the age limit keeps a stale entry from answering for it.
 *
 * Both parts start small and grow only when keeping what a NACK may still ask for
 * requires it: the ring when its oldest packet must go to make room while younger than
 * PKTCACHE_KEEP_US, the index when a put lands on the entry of such a packet. Both stop
 * growing at the bound given to pktcache_new(); from there the oldest packets go first
 * (the ring), or the one sharing the entry (the index), as before. A packet replaced in the
 * index leaves its bytes in the ring until they reach the ring's tail; they are dead, never
 * a reason to grow.
 *
 * Packets older than PKTCACHE_KEEP_US leave the ring's tail as soon as a put sees them, so
 * what the ring holds is the stream's last second. A burst (a key frame, or a backlog the
 * loop read late and forwarded at once) can grow the ring well beyond what the stream
 * needs afterwards: every SHRINK_WINDOW_US the ring shrinks to a quarter more than the most
 * it held in that window, when that saves an eighth or more. */
#include "rtp/pktcache.h"

#include <stdlib.h>
#include <string.h>

#define REC_HDR          8     /* seq (2), unused (2), length (4); records start 8-aligned */
#define RING_INITIAL     16384 /* bytes: about 14 packets of 1100 bytes */
#define INDEX_INITIAL    64    /* entries */
#define SHRINK_WINDOW_US 10000000

typedef struct pkt_entry {
	int64_t stored_us;
	int64_t last_resend_us;
	uint32_t off; /* the record's offset in the ring */
	uint32_t resends;
	uint32_t len;
	uint16_t seq;
	uint8_t used;
} pkt_entry;

struct pktcache {
	size_t max_packet;
	/* Index: mask + 1 entries, a power of two up to max_entries. */
	pkt_entry *index;
	uint32_t mask, max_entries;
	/* Ring: records from tail to head in put order. When wrapped (head <= tail while
	 * records > 0) they run from tail to wrap_end, then from 0 to head. */
	uint8_t *ring;
	size_t size, min_size, max_size;
	size_t head, tail, wrap_end;
	uint32_t records; /* in the ring, dead ones included */
	size_t used;      /* bytes of those records */
	size_t peak;      /* the most used since window_us */
	int64_t window_us;
	pktcache_stats stats;
};

static size_t rec_size(size_t len)
{
	return REC_HDR + ((len + 7) & ~(size_t)7);
}

static void rec_read(const pktcache *c, size_t off, uint16_t *seq, size_t *len)
{
	uint32_t l;
	memcpy(seq, c->ring + off, sizeof *seq);
	memcpy(&l, c->ring + off + 4, sizeof l);
	*len = l;
}

pktcache *pktcache_new(int capacity, size_t max_packet)
{
	if (capacity < 1 || capacity > 32768 || (capacity & (capacity - 1)) != 0)
		return NULL;
	if (max_packet < 1 || max_packet > 65535)
		return NULL;
	pktcache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->max_packet = max_packet;
	c->max_entries = (uint32_t)capacity;
	uint32_t entries = capacity < INDEX_INITIAL ? (uint32_t)capacity : INDEX_INITIAL;
	c->mask = entries - 1;
	/* Room for `capacity` packets of max_packet bytes plus the one that may be left unused
	 * at the ring's end when a record does not fit there: the last capacity - 1 packets
	 * and a new one always fit, so the ring never drops what the index can still hold. */
	c->max_size = ((size_t)capacity + 1) * rec_size(max_packet);
	c->size = RING_INITIAL > rec_size(max_packet) ? RING_INITIAL : rec_size(max_packet);
	if (c->size > c->max_size)
		c->size = c->max_size;
	c->min_size = c->size;
	c->index = calloc(entries, sizeof *c->index);
	c->ring = malloc(c->size);
	if (!c->index || !c->ring) {
		pktcache_free(c);
		return NULL;
	}
	return c;
}

void pktcache_free(pktcache *c)
{
	if (!c)
		return;
	free(c->index);
	free(c->ring);
	free(c);
}

static pkt_entry *entry_for(const pktcache *c, uint16_t seq)
{
	return &c->index[seq & c->mask];
}

/* The index entry of the record at off, or NULL when the record is dead. */
static pkt_entry *rec_entry(const pktcache *c, size_t off)
{
	uint16_t seq;
	size_t len;
	rec_read(c, off, &seq, &len);
	pkt_entry *e = entry_for(c, seq);
	return e->used && e->seq == seq && e->off == off ? e : NULL;
}

static int young(const pkt_entry *e, int64_t now_us)
{
	return now_us - e->stored_us < PKTCACHE_KEEP_US;
}

/* The offset of the record after the one at off (in put order). */
static size_t rec_next(const pktcache *c, size_t off)
{
	uint16_t seq;
	size_t len;
	rec_read(c, off, &seq, &len);
	off += rec_size(len);
	if (c->head <= c->tail && off == c->wrap_end)
		off = 0;
	return off;
}

static void drop_oldest(pktcache *c)
{
	pkt_entry *e = rec_entry(c, c->tail);
	if (e)
		e->used = 0;
	uint16_t seq;
	size_t len;
	rec_read(c, c->tail, &seq, &len);
	c->used -= rec_size(len);
	if (--c->records == 0)
		c->head = c->tail = 0;
	else
		c->tail = rec_next(c, c->tail);
}

/* Finds room for a record of n bytes without dropping anything: sets *off and returns 0,
 * or returns -1. Wraps the ring when the room is at its start. */
static int room_for(pktcache *c, size_t n, size_t *off)
{
	if (c->records == 0) {
		c->head = c->tail = 0;
		*off = 0;
		return n <= c->size ? 0 : -1;
	}
	if (c->tail < c->head) {
		if (c->size - c->head >= n) {
			*off = c->head;
			return 0;
		}
		if (c->tail >= n) {
			c->wrap_end = c->head;
			c->head = 0;
			*off = 0;
			return 0;
		}
		return -1;
	}
	*off = c->head;
	return c->tail - c->head >= n ? 0 : -1;
}

/* Moves the live records, oldest first, into a ring of size bytes (at least their total).
 * Returns 0, or -1 when out of memory. */
static int resize_ring(pktcache *c, size_t size)
{
	uint8_t *ring = malloc(size);
	if (!ring)
		return -1;
	/* A moved entry's new offset cannot be mistaken for that of a record walked later:
	 * the live record of a seq is its newest, so no later record has its seq. */
	size_t at = 0, off = c->tail;
	uint32_t live = 0;
	for (uint32_t i = 0; i < c->records; i++) {
		pkt_entry *e = rec_entry(c, off);
		size_t next = rec_next(c, off);
		if (e) {
			size_t n = rec_size(e->len);
			memcpy(ring + at, c->ring + off, n);
			e->off = (uint32_t)at;
			at += n;
			live++;
		}
		off = next;
	}
	free(c->ring);
	c->ring = ring;
	c->size = size;
	c->records = live;
	c->used = at;
	c->tail = c->wrap_end = 0;
	c->head = at;
	return 0;
}

/* Half as large again, up to the bound. */
static int grow_ring(pktcache *c)
{
	if (c->size >= c->max_size)
		return -1;
	size_t size = (c->size + c->size / 2 + 7) & ~(size_t)7;
	if (resize_ring(c, size < c->max_size ? size : c->max_size) != 0)
		return -1;
	c->stats.grown++;
	return 0;
}

/* Called after every put: drops what is too old to be asked for, and once a window is over,
 * gives back what it did not need. */
static void trim(pktcache *c, int64_t now_us)
{
	while (c->records > 0) {
		pkt_entry *e = rec_entry(c, c->tail);
		if (e && now_us - e->stored_us < PKTCACHE_KEEP_US)
			break;
		drop_oldest(c);
	}
	if (c->used > c->peak)
		c->peak = c->used;
	if (now_us >= c->window_us && now_us - c->window_us < SHRINK_WINDOW_US)
		return;
	size_t want = (c->peak + c->peak / 4 + 7) & ~(size_t)7;
	if (want < c->min_size)
		want = c->min_size;
	if (want <= c->size - c->size / 8 && resize_ring(c, want) == 0)
		c->stats.shrunk++;
	c->window_us = now_us;
	c->peak = c->used;
}

/* Doubles the index (up to the bound). Entries that did not share a slot before do not
 * share one after, so every entry finds its place. */
static int grow_index(pktcache *c)
{
	uint32_t n = (c->mask + 1) * 2;
	if (n > c->max_entries)
		return -1;
	pkt_entry *index = calloc(n, sizeof *index);
	if (!index)
		return -1;
	for (uint32_t i = 0; i <= c->mask; i++)
		if (c->index[i].used)
			index[c->index[i].seq & (n - 1)] = c->index[i];
	free(c->index);
	c->index = index;
	c->mask = n - 1;
	c->stats.grown++;
	return 0;
}

void pktcache_put(pktcache *c, uint16_t seq, const uint8_t *pkt, size_t len, int64_t now_us)
{
	if (!c || !pkt)
		return;
	pkt_entry *e = entry_for(c, seq);
	if (len > c->max_packet) {
		/* The cache must not answer for seq with an older packet either. */
		if (e->used && e->seq == seq)
			e->used = 0;
		c->stats.oversize++;
		return;
	}
	if (e->used && e->seq != seq && young(e, now_us) && grow_index(c) == 0)
		e = entry_for(c, seq);
	size_t n = rec_size(len), off;
	while (room_for(c, n, &off) < 0) {
		if (c->records == 0)
			return; /* cannot happen: the ring always holds a max_packet record */
		pkt_entry *oldest = rec_entry(c, c->tail);
		if (oldest && young(oldest, now_us) && grow_ring(c) == 0)
			continue;
		drop_oldest(c);
	}
	/* The ring may have dropped the entry's previous packet, or moved in growing. */
	e = entry_for(c, seq);
	uint8_t *r = c->ring + off;
	uint32_t l = (uint32_t)len;
	memset(r, 0, REC_HDR);
	memcpy(r, &seq, sizeof seq);
	memcpy(r + 4, &l, sizeof l);
	if (len)
		memcpy(r + REC_HDR, pkt, len);
	c->head = off + n;
	c->records++;
	c->used += n;
	*e =
	    (pkt_entry){.stored_us = now_us, .off = (uint32_t)off, .len = l, .seq = seq, .used = 1};
	c->stats.stored++;
	trim(c, now_us);
}

const uint8_t *pktcache_get(pktcache *c, uint16_t seq, int64_t now_us, int64_t max_age_us,
                            int64_t min_gap_us, size_t *len)
{
	if (!c)
		return NULL;
	pkt_entry *e = entry_for(c, seq);
	if (!e->used || e->seq != seq || now_us - e->stored_us > max_age_us ||
	    now_us < e->stored_us) {
		c->stats.misses++;
		return NULL;
	}
	if (e->resends > 0 && now_us - e->last_resend_us < min_gap_us) {
		c->stats.throttled++;
		return NULL;
	}
	e->resends++;
	e->last_resend_us = now_us;
	c->stats.hits++;
	if (len)
		*len = e->len;
	return c->ring + e->off + REC_HDR;
}

void pktcache_clear(pktcache *c)
{
	if (!c)
		return;
	memset(c->index, 0, ((size_t)c->mask + 1) * sizeof *c->index);
	c->head = c->tail = c->wrap_end = 0;
	c->records = 0;
	c->used = c->peak = 0;
}

int pktcache_resends(const pktcache *c, uint16_t seq)
{
	if (!c)
		return 0;
	const pkt_entry *e = entry_for(c, seq);
	return e->used && e->seq == seq ? (int)e->resends : 0;
}

void pktcache_get_stats(const pktcache *c, pktcache_stats *out)
{
	if (!out)
		return;
	if (!c) {
		memset(out, 0, sizeof *out);
		return;
	}
	*out = c->stats;
	out->bytes = sizeof *c + c->size + ((size_t)c->mask + 1) * sizeof *c->index;
}

int64_t pktcache_age_for_rtt(int64_t rtt_us)
{
	if (rtt_us <= 0)
		return 300000;
	if (rtt_us >= 900000)
		return PKTCACHE_KEEP_US;
	int64_t age = rtt_us + 100000;
	if (age < 200000)
		return 200000;
	return age;
}
