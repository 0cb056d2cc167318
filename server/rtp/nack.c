/* Gap tracking for generic NACK (RFC 4585 section 6.2.1).
 *
 * Sequence numbers are unwrapped to 64-bit "extended" numbers relative to the newest packet,
 * so the 65535 -> 0 wrap needs no special case. Missing seqs are appended in increasing
 * order to a ring, which therefore stays sorted: a late packet finds its entry by binary
 * search. Filled entries are only marked; they leave the ring when they reach its head.
 *
 * Why wait NACK_REORDER_US (10 ms) before the first NACK: Chromium's pacer sends in bursts
 * every 5 ms and paths through VPN concentrators reorder within a burst, so a gap is often
 * filled a few milliseconds later. Ten milliseconds avoids most spurious NACKs (each one
 * costs the sender a retransmission on a link that may already be congested) while adding
 * little compared to the RTT the repair costs anyway. */
#include "rtp/nack.h"

#include <string.h>

static nack_entry *entry_at(nack_gen *g, int i)
{
	return &g->entries[(g->head + i) % NACK_MAX_MISSING];
}

static void drop_head(nack_gen *g)
{
	nack_entry *e = entry_at(g, 0);
	if (e->missing) {
		e->missing = 0;
		g->abandoned++;
		g->keyframe_needed = 1;
	}
	g->head = (g->head + 1) % NACK_MAX_MISSING;
	g->count--;
}

/* Removes filled or abandoned entries from the head so that the ring holds live entries. */
static void trim_head(nack_gen *g)
{
	while (g->count > 0 && !entry_at(g, 0)->missing)
		drop_head(g);
}

static void clear_entries(nack_gen *g)
{
	while (g->count > 0)
		drop_head(g);
	g->head = 0;
}

void nack_gen_init(nack_gen *g)
{
	memset(g, 0, sizeof *g);
	g->restart_candidate = -1;
}

static void restart(nack_gen *g, uint16_t seq)
{
	clear_entries(g);
	g->highest = seq;
	g->restart_candidate = -1;
	g->resets++;
	g->keyframe_needed = 1;
}

static void add_missing(nack_gen *g, int64_t ext, int64_t now_us)
{
	if (g->count == NACK_MAX_MISSING)
		drop_head(g);
	nack_entry *e = entry_at(g, g->count);
	e->ext_seq = ext;
	e->detected_us = now_us;
	e->last_sent_us = 0;
	e->tries = 0;
	e->missing = 1;
	g->count++;
	g->gaps++;
}

/* Binary search over the sorted ring; returns the index or -1. */
static int find(nack_gen *g, int64_t ext)
{
	int lo = 0, hi = g->count - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int64_t s = entry_at(g, mid)->ext_seq;
		if (s == ext)
			return mid;
		if (s < ext)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int on_old(nack_gen *g, int64_t ext, uint16_t seq, int delta)
{
	int i = find(g, ext);
	if (i >= 0) {
		nack_entry *e = entry_at(g, i);
		if (!e->missing) {
			g->duplicates++;
			return -1;
		}
		e->missing = 0;
		if (e->tries > 0)
			g->recovered++;
		else
			g->reordered++;
		trim_head(g);
		return 1;
	}
	if (-delta > NACK_RESET_GAP) {
		/* Far behind: either a stale packet or a sender that restarted its sequence.
		 * RFC 3550 A.1: believe a restart only when the next packet follows this one. */
		if (g->restart_candidate == seq) {
			restart(g, seq);
			return 0;
		}
		g->restart_candidate = (uint16_t)(seq + 1);
	}
	g->duplicates++;
	return -1;
}

int nack_gen_on_packet(nack_gen *g, uint16_t seq, int64_t now_us)
{
	if (!g)
		return -1;
	if (!g->started) {
		g->started = 1;
		g->highest = seq;
		return 0;
	}
	int delta = (int16_t)(uint16_t)(seq - (uint16_t)g->highest);
	int64_t ext = g->highest + delta;
	if (delta == 0) {
		g->duplicates++;
		return -1;
	}
	if (delta < 0)
		return on_old(g, ext, seq, delta);
	g->restart_candidate = -1;
	if (delta > NACK_RESET_GAP) {
		restart(g, seq);
		g->highest = ext;
		return 0;
	}
	for (int64_t s = g->highest + 1; s < ext; s++)
		add_missing(g, s, now_us);
	g->highest = ext;
	return 0;
}

int nack_gen_collect(nack_gen *g, int64_t now_us, int64_t rtt_us, uint16_t *out, int max)
{
	if (!g || (!out && max > 0))
		return 0;
	int64_t retry_us = rtt_us > 0 ? rtt_us : NACK_DEFAULT_RTT_US;
	if (retry_us < NACK_MIN_RETRY_US)
		retry_us = NACK_MIN_RETRY_US;
	int n = 0;
	for (int i = 0; i < g->count; i++) {
		nack_entry *e = entry_at(g, i);
		if (!e->missing)
			continue;
		if (now_us - e->detected_us > NACK_MAX_AGE_US) {
			e->missing = 0;
			g->abandoned++;
			g->keyframe_needed = 1;
			continue;
		}
		int64_t due =
		    e->tries == 0 ? e->detected_us + NACK_REORDER_US : e->last_sent_us + retry_us;
		if (now_us < due)
			continue;
		if (e->tries >= NACK_MAX_TRIES) {
			/* The last NACK had a full retry interval to be answered. */
			e->missing = 0;
			g->abandoned++;
			g->keyframe_needed = 1;
			continue;
		}
		if (n >= max)
			continue; /* keep scanning: abandonment above must still happen */
		out[n++] = (uint16_t)e->ext_seq;
		e->tries++;
		e->last_sent_us = now_us;
		g->requested++;
	}
	trim_head(g);
	return n;
}

int nack_gen_take_keyframe_need(nack_gen *g)
{
	if (!g || !g->keyframe_needed)
		return 0;
	g->keyframe_needed = 0;
	return 1;
}

int nack_gen_missing(const nack_gen *g)
{
	if (!g)
		return 0;
	int n = 0;
	for (int i = 0; i < g->count; i++)
		if (g->entries[(g->head + i) % NACK_MAX_MISSING].missing)
			n++;
	return n;
}
