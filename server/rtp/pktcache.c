/* A ring indexed by seq & (capacity - 1). Each slot remembers which seq it holds, so a seq
 * that maps to a slot since overwritten by a newer packet is a miss rather than a wrong
 * packet. After 65536 packets a seq comes round to its old slot; the age limit (at most a
 * second or so in practice) keeps a stale entry from answering for it. */
#include "rtp/pktcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct pkt_slot {
	int64_t stored_us;
	int64_t last_resend_us;
	uint32_t resends;
	uint16_t len;
	uint16_t seq;
	uint8_t used;
} pkt_slot;

struct pktcache {
	uint32_t mask;
	size_t max_packet;
	pkt_slot *slots;
	uint8_t *data; /* capacity * max_packet bytes */
	pktcache_stats stats;
};

pktcache *pktcache_new(int capacity, size_t max_packet)
{
	if (capacity < 1 || capacity > 32768 || (capacity & (capacity - 1)) != 0)
		return NULL;
	if (max_packet < 1 || max_packet > 65535)
		return NULL;
	pktcache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->mask = (uint32_t)capacity - 1;
	c->max_packet = max_packet;
	c->slots = calloc((size_t)capacity, sizeof *c->slots);
	c->data = malloc((size_t)capacity * max_packet);
	if (!c->slots || !c->data) {
		pktcache_free(c);
		return NULL;
	}
	return c;
}

void pktcache_free(pktcache *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c->data);
	free(c);
}

static pkt_slot *slot_for(const pktcache *c, uint16_t seq)
{
	return &c->slots[seq & c->mask];
}

void pktcache_put(pktcache *c, uint16_t seq, const uint8_t *pkt, size_t len, int64_t now_us)
{
	if (!c || !pkt)
		return;
	pkt_slot *s = slot_for(c, seq);
	if (len > c->max_packet) {
		/* The slot must not answer for seq with an older packet either. */
		s->used = 0;
		c->stats.oversize++;
		return;
	}
	memcpy(c->data + (size_t)(seq & c->mask) * c->max_packet, pkt, len);
	s->stored_us = now_us;
	s->last_resend_us = 0;
	s->resends = 0;
	s->len = (uint16_t)len;
	s->seq = seq;
	s->used = 1;
	c->stats.stored++;
}

const uint8_t *pktcache_get(pktcache *c, uint16_t seq, int64_t now_us, int64_t max_age_us,
                            int64_t min_gap_us, size_t *len)
{
	if (!c)
		return NULL;
	pkt_slot *s = slot_for(c, seq);
	if (!s->used || s->seq != seq || now_us - s->stored_us > max_age_us ||
	    now_us < s->stored_us) {
		c->stats.misses++;
		return NULL;
	}
	if (s->resends > 0 && now_us - s->last_resend_us < min_gap_us) {
		c->stats.throttled++;
		return NULL;
	}
	s->resends++;
	s->last_resend_us = now_us;
	c->stats.hits++;
	if (len)
		*len = s->len;
	return c->data + (size_t)(seq & c->mask) * c->max_packet;
}

void pktcache_clear(pktcache *c)
{
	if (!c)
		return;
	memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof *c->slots);
}

int pktcache_resends(const pktcache *c, uint16_t seq)
{
	if (!c)
		return 0;
	const pkt_slot *s = slot_for(c, seq);
	return s->used && s->seq == seq ? (int)s->resends : 0;
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
}

int64_t pktcache_age_for_rtt(int64_t rtt_us)
{
	if (rtt_us <= 0)
		return 300000;
	if (rtt_us >= 900000)
		return 1000000;
	int64_t age = rtt_us + 100000;
	if (age < 200000)
		return 200000;
	return age;
}
