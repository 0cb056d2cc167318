/* Downlink probing in the media plane: when to probe a receiver, and the padding packets that
 * carry the probe (the planning, pacing and reading are rtp/bwprobe.c, applied by bwe.c).
 *
 * A probe packet is a padding-only RTP packet on the receiver's RTX stream (RFC 4588) of a
 * started video slot: no payload, the padding bit set, up to 255 bytes of padding, the slot's
 * mid and a transport-wide sequence number, so the receiver's transport-cc feedback reports
 * its arrival and then drops it (an RTX packet too short for an original sequence number is
 * discarded by Chromium and Firefox alike). Slots without RTX are not probed: padding on the
 * media stream itself would take sequence numbers from the forwarded stream, and the
 * source's late retransmissions would then map onto the wrong ones.
 *
 * When: at the start of a call (once the receiver's feedback has flowed for a second and its
 * acknowledged rate is known: the first round is planned from that rate), then
 * every PROBE_INTERVAL_US (2 s) while its estimate is below what its slots could use (each
 * started video slot PROBE_VIDEO_BPS, each audio slot PROBE_AUDIO_BPS), and whenever the
 * simulcast layer selection asks (sfu_bwe_probe_request) before moving the receiver up
 * (at most one round a second, or every PROBE_INTERVAL_US after a round that found nothing).
 * After a round that found no room the next is light: only the 2x cluster, so that a full
 * line pays about 11 kbit/s (2.8 kB every 2 s at 450 kbit/s) for noticing within 2 s that
 * it got wider.
 * A success raises the receiver's estimate, and the REMB of every source it receives from
 * is re-evaluated at once so the sources may send more. Packets leave from a 2 ms pacing
 * timer that runs only while a cluster is being sent. */
#include "base/log.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <string.h>

#define PROBE_VIDEO_BPS   1500000ull /* what one video slot could use */
#define PROBE_AUDIO_BPS   64000ull
#define PROBE_INITIAL_US  1000000 /* after the first feedback: the initial probe */
#define PROBE_INTERVAL_US 2000000 /* between the receiver's own rounds */
#define PROBE_REQUEST_US  1000000 /* between rounds the layer selection asks for */
#define PROBE_BURST_MAX   16      /* packets one pacing call may send to one peer */
#define PAD_MAX           255     /* RFC 3550: the padding count is one octet */
#define SRTP_TAG          16      /* at most, added by secure_protect_rtp */
#define PACER_MS          2

/* The video slot whose RTX stream carries the probe: one that has started. */
static fwd_slot *probe_slot(struct sfu_peer *p)
{
	for (int i = 0; i < p->n_out; i++) {
		fwd_slot *sl = &p->out[i];
		if (sl->kind == SDP_KIND_VIDEO && sl->started && sl->rtx_ssrc && sl->rtx_pt >= 0)
			return sl;
	}
	return NULL;
}

/* Over ICE-TCP the transport retransmits and queues by itself: arrival times measure TCP,
 * not the line, so such a receiver is not probed. */
static int can_probe(struct sfu_peer *p)
{
	const sfu_addr *to = ice_dest(p);
	return !p->sfu->probe_off && p->srtp && to && !to->tcp && p->ext_twcc &&
	       p->ext_twcc < 15 && p->bwe_ready && probe_slot(p);
}

/* Writes the padding packet's header into out; returns its length. */
static size_t padding_header(struct sfu_peer *p, fwd_slot *sl, uint8_t *out)
{
	out[0] = 0x80 | 0x20; /* version 2, padding */
	out[1] = (uint8_t)(sl->rtx_pt & 0x7f);
	rtp_set_seq(out, sl->rtx_seq);
	rtp_set_timestamp(out, sl->last_ts);
	rtp_set_ssrc(out, sl->rtx_ssrc);
	uint8_t ext[24];
	size_t el = 0, mid_len = strlen(sl->mid);
	if (p->ext_mid && p->ext_mid < 15 && mid_len >= 1 && mid_len <= 16) {
		ext[el++] = (uint8_t)(p->ext_mid << 4 | (mid_len - 1));
		memcpy(ext + el, sl->mid, mid_len);
		el += mid_len;
	}
	ext[el++] = (uint8_t)(p->ext_twcc << 4 | 1); /* stamped by fwd_send_rtp */
	ext[el++] = 0;
	ext[el++] = 0;
	return rtp_put_ext_block(out, ext, el);
}

/* Sends one probe packet of about `size` bytes on the wire for cluster `id`. */
static int send_padding(struct sfu_peer *p, fwd_slot *sl, int id, size_t size, int64_t now_us)
{
	uint8_t *out = p->sfu->tx_buf;
	size_t hl = padding_header(p, sl, out);
	size_t pad = size > hl + SRTP_TAG ? size - hl - SRTP_TAG : 1;
	if (pad > PAD_MAX)
		pad = PAD_MAX;
	memset(out + hl, 0, pad - 1);
	out[hl + pad - 1] = (uint8_t)pad;
	if (fwd_send_rtp(p, hl + pad, now_us, id) != 0)
		return -1;
	sl->rtx_seq++;
	p->sfu->stats.probes_sent++;
	return 0;
}

static void pace_peer(struct sfu_peer *p, int64_t now_us)
{
	bwprobe *pr = &p->bwe.probe;
	fwd_slot *sl = NULL;
	int id;
	size_t size;
	for (int n = 0; n < PROBE_BURST_MAX; n++) {
		if (!bwprobe_next(pr, now_us, 12 + 40 + PAD_MAX + SRTP_TAG, &id, &size))
			return;
		if (!sl)
			sl = p->srtp && ice_dest(p) ? probe_slot(p) : NULL;
		if (!sl || send_padding(p, sl, id, size, now_us) != 0) {
			/* The path or the slot went away mid-cluster: it fails. */
			bwprobe_abort(pr, id);
			return;
		}
	}
}

int bwprobe_send_pace(struct sfu *s, int64_t now_us)
{
	int sending = 0;
	for (struct sfu_peer *p = s->peers; p; p = p->next) {
		if (!bwprobe_sending(&p->bwe.probe))
			continue;
		pace_peer(p, now_us);
		sending |= bwprobe_sending(&p->bwe.probe);
	}
	return sending;
}

static void on_pacer(uv_timer_t *t)
{
	struct sfu *s = t->data;
	transport_batch_begin(s); /* every peer's probe packets of this round in one sendmmsg */
	int sending = bwprobe_send_pace(s, sfu_now(s));
	transport_batch_end(s);
	if (!sending) {
		uv_timer_stop(&s->pacer);
		s->pacer_running = 0;
	}
}

static int start_round(struct sfu_peer *p, uint64_t target_bps, int64_t now_us)
{
	/* A line that was full last time gets the cheap check: one cluster at 2x. The first
	 * round starts from what the receiver was seen to take, not from the initial estimate
	 * (1 Mbit/s, a guess): on a 600 kbit/s branch line the clusters at 2 and 3 Mbit/s that
	 * guess made, on top of the call's first keyframes, overflowed the line's queue. So
	 * it waits until that is known (half a second of feedback on media). */
	uint64_t from = UINT64_MAX;
	if (!p->bwp.rounds) {
		from = bwe_acked_bps(&p->bwe);
		if (!from)
			return 0;
	}
	int n = bwe_probe_plan_from(&p->bwe, target_bps, from, p->bwp.found_none, now_us);
	if (n <= 0)
		return 0;
	p->bwp.rounds++;
	LOG_DEBUG("sfu", "probe peer=%s estimate_bps=%llu target_bps=%llu clusters=%d", p->label,
	          (unsigned long long)bwe_estimate_bps(&p->bwe), (unsigned long long)target_bps,
	          n);
	struct sfu *s = p->sfu;
	bwprobe_send_pace(s, now_us); /* the first packet at once */
	if (!s->pacer_running && s->pacer.data) {
		uv_timer_start(&s->pacer, on_pacer, PACER_MS, PACER_MS);
		s->pacer_running = 1;
	}
	return n;
}

void sfu_bwe_probe_request(sfu_peer *receiver, uint32_t target_bps, int64_t now_us)
{
	if (!receiver || !can_probe(receiver) || bwprobe_active(&receiver->bwe.probe))
		return;
	/* After a round that found no room, asking again at once would only load a full
	 * line: the same pace as the receiver's own rounds then. */
	int64_t gap = receiver->bwp.found_none ? PROBE_INTERVAL_US : PROBE_REQUEST_US;
	if (receiver->bwp.requested_us && now_us - receiver->bwp.requested_us < gap)
		return;
	if (start_round(receiver, target_bps, now_us) > 0) {
		/* One schedule for both kinds of round: the receiver's own next round waits too,
		 * so a full line is not probed twice as often as either pace says. */
		receiver->bwp.requested_us = now_us;
		if (receiver->bwp.next_us < now_us + PROBE_INTERVAL_US)
			receiver->bwp.next_us = now_us + PROBE_INTERVAL_US;
	}
}

/* What p's slots could use: each started video slot PROBE_VIDEO_BPS, each audio slot
 * PROBE_AUDIO_BPS. */
static uint64_t usable_bps(const struct sfu_peer *p)
{
	uint64_t v = 0, a = 0;
	for (int i = 0; i < p->n_out; i++)
		if (p->out[i].source && p->out[i].started)
			p->out[i].kind == SDP_KIND_VIDEO ? v++ : a++;
	return v ? v * PROBE_VIDEO_BPS + a * PROBE_AUDIO_BPS : 0;
}

/* Results into the counters; after a raise, the sources p receives from get a fresh REMB
 * (fb_tick checks every 200 ms) instead of waiting for the next periodic one. */
static void account(struct sfu_peer *p, uint64_t before_bps)
{
	struct sfu *s = p->sfu;
	const bwprobe *pr = &p->bwe.probe;
	if (pr->clusters_success < p->bwp.seen_success || pr->clusters_fail < p->bwp.seen_fail ||
	    p->bwe.probe_raises < p->bwp.seen_raises)
		p->bwp.seen_success = p->bwp.seen_fail = p->bwp.seen_raises = 0; /* estimator reset */
	uint64_t won = pr->clusters_success - p->bwp.seen_success;
	uint64_t lost = pr->clusters_fail - p->bwp.seen_fail;
	s->stats.probe_clusters_success += won;
	s->stats.probe_clusters_fail += lost;
	if (won)
		p->bwp.found_none = 0;
	else if (lost)
		p->bwp.found_none = 1;
	p->bwp.seen_success = pr->clusters_success;
	p->bwp.seen_fail = pr->clusters_fail;
	if (p->bwe.probe_raises == p->bwp.seen_raises)
		return;
	p->bwp.seen_raises = p->bwe.probe_raises;
	uint64_t now_bps = bwe_estimate_bps(&p->bwe);
	if (now_bps > before_bps)
		LOG_INFO("sfu", "probe raised downlink peer=%s from_bps=%llu to_bps=%llu", p->label,
		         (unsigned long long)before_bps, (unsigned long long)now_bps);
	for (int i = 0; i < p->n_out; i++)
		if (p->out[i].source)
			p->out[i].source->remb_sent_us = 0;
}

void bwprobe_send_tick(struct sfu_peer *p, int64_t now_us)
{
	if (!p->srtp || !p->bwe_ready)
		return;
	/* Rounds whose feedback never came end here; results from feedback were applied as
	 * it arrived. */
	bwe_probe_poll(&p->bwe, now_us);
	account(p, p->bwp.last_bps ? p->bwp.last_bps : bwe_estimate_bps(&p->bwe));
	p->bwp.last_bps = bwe_estimate_bps(&p->bwe);
	if (!p->bwp.ready_us)
		p->bwp.ready_us = now_us;
	if (!can_probe(p) || bwprobe_active(&p->bwe.probe))
		return;
	if (!p->bwp.next_us)
		p->bwp.next_us = p->bwp.ready_us + PROBE_INITIAL_US;
	if (now_us < p->bwp.next_us)
		return;
	/* A round the layer selection asked for a moment ago counts as this one. */
	if (p->bwp.requested_us && now_us - p->bwp.requested_us < PROBE_INTERVAL_US) {
		p->bwp.next_us = p->bwp.requested_us + PROBE_INTERVAL_US;
		return;
	}
	uint64_t want = usable_bps(p);
	p->bwp.next_us = now_us + PROBE_INTERVAL_US;
	if (want && start_round(p, want, now_us) > 0)
		p->bwp.requested_us = now_us;
}
