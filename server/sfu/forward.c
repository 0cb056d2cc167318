/* The forwarder: which incoming track feeds which receive slot, and the per-slot rewriting
 * (SSRC, sequence number, timestamp, payload type, header extensions) that makes a slot
 * look like one continuous stream to the receiving browser whoever feeds it. */
#include "base/log.h"
#include "base/rand.h"
#include "rtp/red.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <stdio.h>
#include <string.h>

in_track *fwd_track_by_role(struct sfu_peer *p, enum sfu_role role, enum sdp_kind kind)
{
	if (!p)
		return NULL;
	for (int i = 0; i < p->n_in; i++)
		if (p->in[i].role == role && p->in[i].kind == kind)
			return &p->in[i];
	return NULL;
}

/* Which party feeds slot i of dst: SFU_SLOT_PRIMARY, SFU_SLOT_DOCUMENT (the party
 * sharing a document), k >= 0 extra party k (the k-th audio slot carries extra party k's
 * mic, the k-th video slot its camera); and the role of the source's m-line that feeds it. */
static int slot_feeder(const struct sfu_peer *dst, int i, enum sfu_role *role)
{
	const fwd_slot *slot = &dst->out[i];
	if (slot->role == SFU_ROLE_DOCUMENT) {
		/* Only a party that shares (routing decides who) feeds a document slot, so a
		 * track a page attaches without sharing reaches no one. */
		*role = SFU_ROLE_DOCUMENT;
		return SFU_SLOT_DOCUMENT;
	}
	if (slot->role != SFU_ROLE_SLOT) {
		*role = slot->role;
		return -1;
	}
	int k = 0;
	for (int j = 0; j < i; j++)
		if (dst->out[j].role == SFU_ROLE_SLOT && dst->out[j].kind == slot->kind)
			k++;
	*role = slot->kind == SDP_KIND_AUDIO ? SFU_ROLE_MIC : SFU_ROLE_CAMERA;
	return k;
}

static struct sfu_peer *slot_source(struct sfu_peer *dst, int i, enum sfu_role *role)
{
	int k = slot_feeder(dst, i, role);
	if (k == SFU_SLOT_DOCUMENT)
		return dst->document;
	if (k == SFU_SLOT_PRIMARY)
		return dst->primary;
	return k < dst->n_extras ? dst->extras[k] : NULL;
}

int sfu_peer_slots(const sfu_peer *p, sfu_slot_info *out, int cap)
{
	int n = 0;
	for (int i = 0; i < p->n_out && n < cap; i++) {
		enum sfu_role role;
		sfu_slot_info *si = &out[n++];
		snprintf(si->mid, sizeof si->mid, "%s", p->out[i].mid);
		si->extra = slot_feeder(p, i, &role);
		si->role = p->out[i].role;
		si->video = p->out[i].kind == SDP_KIND_VIDEO;
	}
	return n;
}

int sfu_peer_set_view(sfu_peer *p, const char *mid, int width, int height)
{
	for (int i = 0; i < p->n_out; i++) {
		fwd_slot *slot = &p->out[i];
		if (strcmp(slot->mid, mid) != 0)
			continue;
		slot->view_w = width > 0 ? width : 0;
		slot->view_h = height > 0 ? height : 0;
		slot->sel_checked_us = 0; /* choose again at the next tick */
		return 0;
	}
	return -1;
}

/* Slot i of dst takes the source its feeds name now: a new source restarts the slot's
 * rewriting on its first packet and, for video, holds the slot until a keyframe (asked
 * for by fwd_tick). Returns 1 when the source changed. */
static int slot_take_source(struct sfu_peer *dst, int i)
{
	fwd_slot *slot = &dst->out[i];
	enum sfu_role role;
	struct sfu_peer *src = slot_source(dst, i, &role);
	if (src == slot->source && role == slot->source_role)
		return 0;
	slot->source = src;
	slot->source_role = role;
	slot->cur_ssrc = 0;
	slot->wait_keyframe = slot->kind == SDP_KIND_VIDEO;
	slot->keyframe_asked_us = 0;
	vp8mung_switch(&slot->mung);
	layersel_init(&slot->sel);
	slot->sel_checked_us = 0;
	return 1;
}

/* Adds (dst, i) to the sinks of the tracks of its source that feed it: every layer of a
 * simulcasting source carries the sink; fwd_rtp lets through only the layer the slot has
 * chosen. */
static void slot_sink_add(struct sfu_peer *dst, int i)
{
	fwd_slot *slot = &dst->out[i];
	struct sfu_peer *src = slot->source;
	for (int k = 0; src && k < src->n_in; k++) {
		in_track *t = &src->in[k];
		if (t->role != slot->source_role || t->kind != slot->kind)
			continue;
		if (t->n_sinks < TRACK_MAX_SINKS)
			t->sinks[t->n_sinks++] = (fwd_sink){.peer = dst, .slot = i};
		if (!t->n_layers)
			break;
	}
}

/* Takes (dst, i) out of the sinks of every track of src. */
static void slot_sink_remove(struct sfu_peer *src, const struct sfu_peer *dst, int i)
{
	for (int k = 0; src && k < src->n_in; k++) {
		in_track *t = &src->in[k];
		for (int j = 0; j < t->n_sinks;) {
			if (t->sinks[j].peer == dst && t->sinks[j].slot == i)
				t->sinks[j] = t->sinks[--t->n_sinks];
			else
				j++;
		}
	}
}

void fwd_rewire(struct sfu *s)
{
	for (struct sfu_peer *p = s->peers; p; p = p->next)
		for (int i = 0; i < p->n_in; i++)
			p->in[i].n_sinks = 0;

	for (struct sfu_peer *dst = s->peers; dst; dst = dst->next)
		for (int i = 0; i < dst->n_out; i++) {
			slot_take_source(dst, i);
			slot_sink_add(dst, i);
		}
}

void fwd_wire_peer(struct sfu_peer *dst)
{
	for (int i = 0; i < dst->n_out; i++) {
		struct sfu_peer *old = dst->out[i].source;
		if (!slot_take_source(dst, i))
			continue;
		slot_sink_remove(old, dst, i);
		slot_sink_add(dst, i);
	}
}

static void slot_restart(fwd_slot *slot, const rtp_hdr *h, int64_t now_us)
{
	if (!slot->started) {
		slot->started = 1;
		slot->last_seq = (uint16_t)rand_u32();
		slot->last_ts = rand_u32();
		slot->last_send_us = now_us;
	}
	/* Continue where the previous stream (another source, or another layer of this one)
	 * left off; the timestamp advances by the wall-clock time since the last packet so
	 * the receiver's jitter buffer sees real time pass. */
	layer_join j =
	    layer_join_offsets(slot->last_seq, slot->last_ts, now_us - slot->last_send_us,
	                       slot->clock_rate, h->seq, h->timestamp);
	slot->seq_offset = j.seq_offset;
	slot->ts_offset = j.ts_offset;
	slot->cur_ssrc = h->ssrc;
	slot->src_floor_seq = h->seq;
}

/* Writes the outgoing header for slot into out; returns its length. Only the extensions
 * the receiver negotiated are written, with the receiver's ids. */
static size_t build_header(struct sfu_peer *from, struct sfu_peer *to, fwd_slot *slot, uint8_t *pkt,
                           const rtp_hdr *h, uint8_t *out)
{
	uint16_t seq = (uint16_t)(h->seq + slot->seq_offset);
	uint32_t ts = h->timestamp + slot->ts_offset;
	out[0] = 0x80;
	out[1] = (uint8_t)((h->marker ? 0x80 : 0) | (slot->pt & 0x7f));
	rtp_set_seq(out, seq);
	rtp_set_timestamp(out, ts);
	rtp_set_ssrc(out, slot->out_ssrc);
	if ((int16_t)(seq - slot->last_seq) > 0) {
		slot->last_seq = seq;
		slot->last_ts = ts;
	}

	uint8_t ext[40];
	size_t el = 0;
	size_t mid_len = strlen(slot->mid);
	if (to->ext_mid && to->ext_mid < 15 && mid_len >= 1 && mid_len <= 16) {
		ext[el++] = (uint8_t)(to->ext_mid << 4 | (mid_len - 1));
		memcpy(ext + el, slot->mid, mid_len);
		el += mid_len;
	}
	if (to->ext_twcc && to->ext_twcc < 15) {
		/* The transport-wide number is stamped by send_rtp, also on retransmissions. */
		ext[el++] = (uint8_t)(to->ext_twcc << 4 | 1);
		ext[el++] = 0;
		ext[el++] = 0;
	}
	if (slot->kind == SDP_KIND_AUDIO && to->ext_audio_level && to->ext_audio_level < 15 &&
	    from->ext_audio_level) {
		size_t alen;
		uint8_t *level = rtp_ext_find(pkt, h, (uint8_t)from->ext_audio_level, &alen);
		if (level && alen >= 1) {
			ext[el++] = (uint8_t)(to->ext_audio_level << 4);
			ext[el++] = level[0];
		}
	}
	return rtp_put_ext_block(out, ext, el);
}

/* Encrypts the plain RTP packet in s->tx_buf and sends it to `to`, first stamping the next
 * transport-wide sequence number (the receiver's feedback on it drives its downlink
 * estimate). cluster > 0 marks a probe packet of that cluster (bwprobe_send.c). */
int fwd_send_rtp(struct sfu_peer *to, size_t len, int64_t now_us, int cluster)
{
	struct sfu *s = to->sfu;
	uint8_t *out = s->tx_buf;
	rtp_hdr h;
	int stamped = 0;
	uint16_t tseq = 0;
	if (to->ext_twcc && rtp_parse(out, len, &h) == 0) {
		tseq = to->twcc_out_seq;
		stamped = rtp_set_twcc_seq(out, &h, (uint8_t)to->ext_twcc, tseq) == 0;
		if (stamped)
			to->twcc_out_seq++;
	}
	if (secure_protect_rtp(to->srtp, out, &len) != 0)
		return -1;
	if (stamped && cluster > 0)
		bwe_on_sent_probe(&to->bwe, tseq, len, now_us, cluster);
	else if (stamped) {
		bwe_on_sent(&to->bwe, tseq, len, now_us);
		if (!ice_dest(to)->tcp)
			transport_stamp_later(s, to, tseq);
	}
	transport_send(s, ice_dest(to), out, len);
	return stamped ? 0 : -1;
}

void fwd_rtp(struct sfu_peer *from, in_track *t, uint8_t *pkt, const rtp_hdr *h, int64_t now_us)
{
	struct sfu *s = from->sfu;
	if (h->payload_len == 0)
		return; /* padding-only bandwidth probes end here */
	const uint8_t *payload = pkt + h->header_len;
	int keyframe = t->kind == SDP_KIND_VIDEO && vp8_is_keyframe(payload, h->payload_len);
	if (keyframe)
		t->keyframe_asked_us = 0; /* the request in flight is answered */
	if (t->n_layers) {
		layer_meter_on_packet(&t->meter, h->payload_len + h->header_len, now_us);
		if (keyframe)
			layer_meter_on_keyframe(&t->meter, payload, h->payload_len);
	}
	/* Audio RED (fwd_red.c): checked once here, then written per receiver below. */
	red_packet red;
	int is_red = t->kind == SDP_KIND_AUDIO && t->red_pt > 0 && h->payload_type == t->red_pt;
	if (is_red && fwd_red_parse(s, t, payload, h->payload_len, &red) != 0)
		return;

	for (int i = 0; i < t->n_sinks; i++) {
		struct sfu_peer *to = t->sinks[i].peer;
		fwd_slot *slot = &to->out[t->sinks[i].slot];
		if (!to->srtp || !ice_dest(to))
			continue;
		if (t->n_layers) {
			/* Only the slot's layer; another one at a keyframe of the target. */
			enum layersel_verdict v = layersel_gate(&slot->sel, t->layer, keyframe);
			if (v == LAYERSEL_DROP)
				continue;
			if (v == LAYERSEL_SWITCH) {
				if (slot->cur_ssrc && slot->cur_ssrc != h->ssrc) {
					vp8mung_switch(&slot->mung);
					s->stats.simulcast_switches++;
				}
				slot->wait_keyframe = 0;
				slot->keyframe_asked_us = 0;
			}
		}
		if (slot->wait_keyframe) {
			if (!keyframe) {
				s->stats.rtp_dropped_keyframe_wait++;
				continue;
			}
			slot->wait_keyframe = 0;
		}
		if (slot->cur_ssrc != h->ssrc)
			slot_restart(slot, h, now_us);
		else if ((int16_t)(h->seq - slot->src_floor_seq) < 0)
			continue; /* a late retransmission from before this source started here */
		/* The floor trails the stream by at most half the sequence space, so the signed
		 * comparison above stays meaningful however long the source feeds the slot. */
		if ((int16_t)(h->seq - slot->src_floor_seq) > 16384)
			slot->src_floor_seq = (uint16_t)(h->seq - 16384);
		uint8_t *out = s->tx_buf;
		size_t hl = build_header(from, to, slot, pkt, h, out);
		if (hl + h->payload_len > SFU_PACKET_MAX)
			continue;
		size_t plen = h->payload_len;
		if (!is_red) {
			memcpy(out + hl, payload, plen);
		} else {
			int n = fwd_red_payload(s, t, slot, payload, &red, out, hl);
			if (n < 0)
				continue;
			plen = (size_t)n;
		}
		size_t len = hl + plen;
		if (slot->kind == SDP_KIND_VIDEO) {
			vp8mung_apply(&slot->mung, out + hl, h->payload_len);
			if (!slot->cache)
				slot->cache = pktcache_new(RTX_CACHE_PACKETS, SFU_PACKET_MAX);
			if (slot->cache)
				pktcache_put(slot->cache, (uint16_t)(h->seq + slot->seq_offset),
				             out, len, now_us);
		}
		slot->last_send_us = now_us;
		slot->packets_sent++;
		slot->octets_sent += (uint32_t)plen;
		fwd_send_rtp(to, len, now_us, 0);
		s->stats.rtp_forwarded++;
	}
}

void fwd_retransmit(struct sfu_peer *to, fwd_slot *slot, uint16_t seq, int64_t now_us)
{
	struct sfu *s = to->sfu;
	if (!to->srtp || !ice_dest(to))
		return;
	int64_t rtt = fb_rtt_us(to);
	size_t len = 0;
	/* A NACK repeated within half a round trip is a duplicate of one already answered. A
	 * receiver asks for what it still wants, so a packet stays repairable for the cache's
	 * second (PKTCACHE_KEEP_US) whatever the round trip: a queue at its bottleneck delays
	 * its NACKs by as much again as the round trip it had before the queue built. */
	const uint8_t *pkt =
	    slot->cache ? pktcache_get(slot->cache, seq, now_us, PKTCACHE_KEEP_US, rtt / 2, &len) : NULL;
	if (!pkt) {
		s->stats.rtx_cache_miss++;
		return;
	}
	/* Within the receiver's retransmission budget only: what does not fit, it asks again. */
	if (!rtxbudget_take(&to->rtx_budget, len + RTX_WIRE_EXTRA,
	                    to->bwe_ready ? bwe_estimate_bps(&to->bwe) : 0, now_us)) {
		s->stats.rtx_over_budget++;
		return;
	}
	uint8_t *out = s->tx_buf;
	if (slot->rtx_ssrc) {
		int n = rtx_wrap(pkt, len, (uint8_t)slot->rtx_pt, slot->rtx_ssrc, slot->rtx_seq,
		                 out, SFU_PACKET_MAX);
		if (n < 0) {
			s->stats.rtx_cache_miss++;
			return;
		}
		slot->rtx_seq++;
		len = (size_t)n;
	} else {
		memcpy(out, pkt, len);
	}
	fwd_send_rtp(to, len, now_us, 0);
	s->stats.rtx_sent++;
}

in_track *fwd_slot_track(struct sfu_peer *src, const fwd_slot *slot)
{
	in_track *first = fwd_track_by_role(src, slot->source_role, slot->kind);
	if (!first || !first->n_layers)
		return first;
	int want = slot->sel.target >= 0 ? slot->sel.target : slot->sel.current;
	for (int i = 0; i < src->n_in; i++) {
		in_track *t = &src->in[i];
		if (t->mline == first->mline && t->n_layers && t->layer == want)
			return t;
	}
	return NULL;
}

#define SEL_INTERVAL_US 100000
#define PROBE_ASK_US    1000000

/* Chooses slot's layer of its simulcasting source (layersel.h): the downlink share of p
 * for one video slot and the slot's display hint decide, with hysteresis; a new target gets
 * a keyframe request at once (and, while it does not come, from the loop in fwd_tick). When
 * the estimate alone holds the slot below what its display wants, the prober is asked to
 * find out whether the link allows more. */
static void select_layer(struct sfu_peer *p, fwd_slot *slot, int64_t now_us)
{
	in_track *first = fwd_track_by_role(slot->source, slot->source_role, slot->kind);
	if (!first || !first->n_layers || now_us - slot->sel_checked_us < SEL_INTERVAL_US)
		return;
	slot->sel_checked_us = now_us;
	layer_view views[LAYERSEL_MAX] = {{0}};
	uint32_t bps[LAYERSEL_MAX] = {0};
	int n = first->n_layers;
	for (int i = 0; i < slot->source->n_in; i++) {
		in_track *t = &slot->source->in[i];
		if (t->mline == first->mline && t->n_layers && t->layer < n && t->ssrc) {
			views[t->layer] = layer_meter_view(&t->meter, now_us);
			bps[t->layer] = views[t->layer].bps;
		}
	}
	/* Until every layer sending has a measured rate (half a second), any choice would be a
	 * guess: a narrow receiver must not start on the top layer. */
	for (int i = 0; i < n; i++)
		if (views[i].active && !views[i].bps)
			return;
	int n_video = 0;
	uint64_t share = fb_slot_share_bps(p, slot, now_us, &n_video);
	int display = -1;
	int best =
	    layersel_pick(views, n, slot->sel.current, share, slot->view_w, slot->view_h, &display);
	if (layersel_update(&slot->sel, views, n, best, now_us)) {
		LOG_DEBUG("sfu", "layer target peer=%s mid=%s layer=%d share=%llu", p->label,
		          slot->mid, slot->sel.target, (unsigned long long)share);
		slot->keyframe_asked_us = 0;
	}
	if (best >= 0 && display >= 0 && layersel_smaller(views, best, display) &&
	    now_us - slot->probe_asked_us >= PROBE_ASK_US) {
		/* The next layer up, with the quarter of headroom layersel_pick wants, on every
		 * video slot the receiver has busy, plus what it has already. */
		int next = display;
		for (int i = 0; i < n; i++)
			if (views[i].active && layersel_smaller(views, best, i) &&
			    layersel_smaller(views, i, next))
				next = i;
		uint64_t need = (uint64_t)bps[next] + bps[next] / 4;
		uint64_t est = p->bwe_ready ? bwe_estimate_bps(&p->bwe) : BWE_INITIAL_BPS;
		uint64_t target =
		    need > share ? est + (need - share) * (uint64_t)(n_video ? n_video : 1) : est;
		slot->probe_asked_us = now_us;
		slot->probe_target_bps = target > UINT32_MAX ? UINT32_MAX : (uint32_t)target;
		p->sfu->stats.simulcast_probe_requests++;
		sfu_bwe_probe_request(p, slot->probe_target_bps, now_us);
	}
}

void fwd_tick(struct sfu_peer *p, int64_t now_us)
{
	if (!p->srtp)
		return;
	for (int i = 0; i < p->n_out; i++) {
		fwd_slot *slot = &p->out[i];
		if (!slot->source || slot->kind != SDP_KIND_VIDEO)
			continue;
		select_layer(p, slot, now_us);
		in_track *t = fwd_slot_track(slot->source, slot);
		int waiting = slot->wait_keyframe || (t && t->n_layers && slot->sel.target >= 0 &&
		                                      slot->sel.target != slot->sel.current);
		if (!waiting || now_us - slot->keyframe_asked_us < KEYFRAME_RETRY_US)
			continue;
		slot->keyframe_asked_us = now_us;
		fb_request_keyframe(slot->source, t, now_us);
	}
}
