/* RTCP terminated per hop. The server is the receiver of every stream a browser sends and the
 * sender of every stream a browser receives, so feedback never crosses it unchanged:
 *
 *  - from a sender's point of view the server sends NACKs for the gaps in what arrived,
 *    receiver reports with the real loss and jitter of that hop, keyframe requests (one in
 *    flight per stream, retried after KEYFRAME_INFLIGHT_US) and a REMB capped at the lowest
 *    downlink estimate among the receivers it feeds;
 *  - from a receiver's point of view the server answers NACKs from the slot's retransmission
 *    cache, passes keyframe requests to whoever feeds the slot now, learns the downlink from
 *    transport-cc feedback (bwe.c) and the round-trip time from receiver reports, and
 *    forwards the source's sender reports with SSRC and RTP timestamp rewritten by the slot's
 *    offsets, so audio and video of one party stay in sync at the receiver.
 */
#include "base/log.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <string.h>

#define RR_INTERVAL_US    1000000
#define REMB_INTERVAL_US  1000000
#define REMB_CHECK_US     200000
#define REMB_MAX_BPS      10000000 /* "no limit": a REMB keeps the browser's last cap */
#define REMB_MIN_BPS      100000   /* audio (Opus ~40 kbit/s with overhead) always fits */
#define AUDIO_RESERVE_BPS 64000
/* Audio RED (RFC 2198) with one redundant frame, as Chromium sends it, carries each Opus
 * frame twice: ~64 kbit/s of payload plus ~30 kbit/s of packet overhead at 50 packets/s. */
#define AUDIO_RED_RESERVE_BPS 100000
#define RTT_DEFAULT_US        100000
#define NACK_BATCH            64
#define AUDIO_LOSS_FRESH_US   5000000 /* a receiver's audio loss report counts this long */

/* ---- keyframes ---- */

void fb_request_keyframe(struct sfu_peer *source, in_track *t, int64_t now_us)
{
	if (!t || !t->ssrc || t->kind != SDP_KIND_VIDEO)
		return;
	if (t->keyframe_asked_us && now_us - t->keyframe_asked_us < KEYFRAME_INFLIGHT_US) {
		source->sfu->stats.pli_coalesced++;
		return;
	}
	uint8_t pli[16];
	int n = rtcp_build_pli(pli, sizeof pli, source->rtcp_ssrc, t->ssrc);
	if (n <= 0)
		return;
	t->keyframe_asked_us = now_us;
	peer_send_rtcp(source, pli, (size_t)n);
	source->sfu->stats.pli_sent++;
}

static fwd_slot *slot_by_ssrc(struct sfu_peer *p, uint32_t ssrc)
{
	for (int i = 0; i < p->n_out; i++)
		if (p->out[i].out_ssrc == ssrc || (ssrc && p->out[i].rtx_ssrc == ssrc))
			return &p->out[i];
	return NULL;
}

/* A receiver asks for a keyframe on one of its slots: pass it to whoever feeds the slot. */
static void on_keyframe_request(struct sfu_peer *p, uint32_t slot_ssrc, int64_t now_us)
{
	p->sfu->stats.pli_received++;
	fwd_slot *slot = slot_by_ssrc(p, slot_ssrc);
	if (!slot || !slot->source)
		return;
	fb_request_keyframe(slot->source, fwd_slot_track(slot->source, slot), now_us);
}

/* ---- from receivers ---- */

typedef struct nack_ctx {
	struct sfu_peer *p;
	fwd_slot *slot;
	int64_t now_us;
} nack_ctx;

static void on_nacked_seq(void *user, uint16_t seq)
{
	nack_ctx *c = user;
	c->p->sfu->stats.nack_received++;
	fwd_retransmit(c->p, c->slot, seq, c->now_us);
}

static void on_receiver_report(struct sfu_peer *p, const rtcp_pkt *pkt, int64_t now_us)
{
	rtcp_report_block blocks[8];
	int n = rtcp_parse_report(pkt, NULL, blocks, 8);
	for (int i = 0; i < n; i++) {
		fwd_slot *slot = slot_by_ssrc(p, blocks[i].ssrc);
		if (slot && slot->kind == SDP_KIND_AUDIO) {
			slot->rr_fraction_lost = blocks[i].fraction_lost;
			slot->rr_at_us = now_us;
		}
		if (!blocks[i].lsr || !slot)
			continue;
		/* Round trip: now - when we sent the SR it names - how long the receiver held it.
		 */
		for (int k = 0; k < SR_SENT_MAX; k++) {
			if (p->sr_sent[k].ntp_mid != blocks[i].lsr || !p->sr_sent[k].sent_us)
				continue;
			int64_t rtt = now_us - p->sr_sent[k].sent_us -
			              (int64_t)blocks[i].dlsr * 1000000 / 65536;
			if (rtt >= 0 && rtt < 10000000)
				p->rtt_us = p->rtt_us ? (7 * p->rtt_us + rtt) / 8 : rtt;
			break;
		}
	}
}

/* ---- from senders ---- */

/* A sender report about one of p's tracks: remember it for our receiver reports, and
 * forward it to every slot the track feeds with that slot's SSRC and timestamp. */
static void on_sender_report(struct sfu_peer *p, const rtcp_pkt *pkt, int64_t now_us)
{
	rtcp_sr_info sr;
	if (rtcp_parse_report(pkt, &sr, NULL, 0) < 0)
		return;
	in_track *t = NULL;
	for (int i = 0; i < p->n_in; i++)
		if (p->in[i].ssrc == pkt->sender_ssrc)
			t = &p->in[i];
	if (!t)
		return;
	rxstats_on_sr(&t->rx, sr.ntp_sec, sr.ntp_frac, now_us);
	for (int i = 0; i < t->n_sinks; i++) {
		struct sfu_peer *to = t->sinks[i].peer;
		fwd_slot *slot = &to->out[t->sinks[i].slot];
		if (!slot->started || slot->cur_ssrc != t->ssrc || !to->srtp)
			continue;
		rtcp_sr_info out = {
		    .ntp_sec = sr.ntp_sec,
		    .ntp_frac = sr.ntp_frac,
		    .rtp_ts = sr.rtp_ts + slot->ts_offset,
		    .packet_count = slot->packets_sent,
		    .octet_count = slot->octets_sent,
		};
		uint8_t buf[64];
		int n = rtcp_build_sr(buf, sizeof buf, slot->out_ssrc, &out, NULL, 0);
		if (n <= 0)
			continue;
		peer_send_rtcp(to, buf, (size_t)n);
		to->sr_sent[to->sr_next] = (sr_sent_entry){
		    .ntp_mid = (sr.ntp_sec << 16) | (sr.ntp_frac >> 16), .sent_us = now_us};
		to->sr_next = (to->sr_next + 1) % SR_SENT_MAX;
		to->sfu->stats.sr_forwarded++;
	}
}

void fb_on_rtcp(struct sfu_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
{
	rtcp_iter it;
	rtcp_pkt pkt;
	rtcp_iter_init(&it, buf, len);
	p->sfu->stats.rtcp_received++;
	int rc;
	while ((rc = rtcp_next(&it, &pkt)) == 1) {
		if (pkt.pt == RTCP_PSFB && pkt.fmt == RTCP_FMT_PLI) {
			on_keyframe_request(p, pkt.media_ssrc, now_us);
		} else if (pkt.pt == RTCP_PSFB && pkt.fmt == RTCP_FMT_FIR) {
			uint32_t ssrcs[4];
			uint8_t seqnrs[4];
			int n = rtcp_fir_entries(&pkt, ssrcs, seqnrs, 4);
			for (int i = 0; i < n; i++)
				on_keyframe_request(p, ssrcs[i], now_us);
		} else if (pkt.pt == RTCP_RTPFB && pkt.fmt == RTCP_FMT_NACK) {
			nack_ctx c = {p, slot_by_ssrc(p, pkt.media_ssrc), now_us};
			if (c.slot)
				rtcp_nack_foreach(&pkt, on_nacked_seq, &c);
		} else if (pkt.pt == RTCP_RTPFB && pkt.fmt == RTCP_FMT_TWCC) {
			if (bwe_on_feedback(&p->bwe, pkt.data, pkt.len, now_us) == 0) {
				p->bwe_ready = 1;
				p->sfu->stats.twcc_feedback_received++;
			}
		} else if (pkt.pt == RTCP_SR) {
			on_sender_report(p, &pkt, now_us);
			on_receiver_report(p, &pkt, now_us);
		} else if (pkt.pt == RTCP_RR) {
			on_receiver_report(p, &pkt, now_us);
		}
	}
	if (rc < 0)
		p->sfu->stats.rtcp_bad++;
}

/* ---- what the server sends to senders, from the tick ---- */

static void send_nacks(struct sfu_peer *p, int64_t now_us)
{
	for (int i = 0; i < p->n_in; i++) {
		in_track *t = &p->in[i];
		if (t->kind != SDP_KIND_VIDEO || !t->ssrc || !t->nack_ok)
			continue;
		uint16_t seqs[NACK_BATCH];
		int n = nack_gen_collect(&t->nack, now_us, p->rtt_us, seqs, NACK_BATCH);
		if (n > 0) {
			uint8_t buf[12 + 4 * NACK_BATCH];
			int len = rtcp_build_nack(buf, sizeof buf, p->rtcp_ssrc, t->ssrc, seqs, n);
			if (len > 0) {
				peer_send_rtcp(p, buf, (size_t)len);
				p->sfu->stats.nack_sent += (uint64_t)n;
			}
		}
		/* Loss the sender could not repair: only a keyframe gets the picture back. */
		if (nack_gen_take_keyframe_need(&t->nack))
			fb_request_keyframe(p, t, now_us);
	}
}

uint8_t fb_audio_loss_fraction(const in_track *t, uint8_t own, int64_t now_us)
{
	uint8_t worst = own;
	for (int k = 0; k < t->n_sinks; k++) {
		const fwd_slot *slot = &t->sinks[k].peer->out[t->sinks[k].slot];
		if (slot->rr_at_us && now_us - slot->rr_at_us < AUDIO_LOSS_FRESH_US &&
		    slot->rr_fraction_lost > worst)
			worst = slot->rr_fraction_lost;
	}
	return worst;
}

/* Receiver reports with the loss and jitter of this hop. For audio the fraction lost is the
 * worst along the path instead (fb_audio_loss_fraction): libwebrtc feeds it to its Opus
 * encoder, which adds in-band FEC as loss grows, and the server, terminating RTCP, would
 * otherwise hide a receiver's lossy line from the sender. The cumulative count stays the
 * hop's, so the sender's congestion control, which reads it, sees only its own loss. */
static void send_receiver_report(struct sfu_peer *p, int64_t now_us)
{
	rtcp_report_block blocks[SDP_MAX_MEDIA];
	int n = 0;
	for (int i = 0; i < p->n_in && n < 31; i++) {
		in_track *t = &p->in[i];
		if (!t->ssrc || rxstats_report(&t->rx, t->ssrc, now_us, &blocks[n]) != 0)
			continue;
		if (t->kind == SDP_KIND_AUDIO)
			blocks[n].fraction_lost =
			    fb_audio_loss_fraction(t, blocks[n].fraction_lost, now_us);
		n++;
	}
	if (!n)
		return;
	uint8_t buf[8 + 24 * SDP_MAX_MEDIA];
	int len = rtcp_build_rr(buf, sizeof buf, p->rtcp_ssrc, blocks, n);
	if (len > 0) {
		peer_send_rtcp(p, buf, (size_t)len);
		p->sfu->stats.rr_sent++;
	}
}

/* The room one audio stream needs: more when its sender sends RED (the answer gave it RED:
 * Chromium then always does) and, for a slot, its receiver takes RED too. */
static uint64_t track_audio_bps(const in_track *t)
{
	return t && t->red_pt > 0 ? AUDIO_RED_RESERVE_BPS : AUDIO_RESERVE_BPS;
}

static uint64_t slot_audio_bps(const fwd_slot *slot)
{
	if (slot->red_pt <= 0)
		return AUDIO_RESERVE_BPS;
	return track_audio_bps(fwd_track_by_role(slot->source, slot->source_role, SDP_KIND_AUDIO));
}

/* What receiver r can take on one of its video slots: its downlink estimate less the audio
 * it receives, shared among the video slots that carry something. Returns 0, or -1 when r
 * has no estimate yet. */
static int video_share_bps(const struct sfu_peer *r, uint64_t *share)
{
	if (!r->bwe_ready)
		return -1;
	uint64_t est = bwe_estimate_bps(&r->bwe);
	uint64_t videos = 0, audio = 0;
	for (int i = 0; i < r->n_out; i++) {
		if (!r->out[i].source || !r->out[i].started)
			continue;
		if (r->out[i].kind == SDP_KIND_VIDEO)
			videos++;
		else
			audio += slot_audio_bps(&r->out[i]);
	}
	uint64_t left = est > audio ? est - audio : 0;
	*share = videos ? left / videos : left;
	return 0;
}

/* The views of the layers of simulcast track t (any layer of it) of src into v[0..n), n the
 * number returned (at most LAYERSEL_MAX); layers without a learned SSRC stay inactive. */
static int layer_views(const struct sfu_peer *src, const in_track *t, int64_t now_us,
                       layer_view v[LAYERSEL_MAX])
{
	int n = t->n_layers < LAYERSEL_MAX ? t->n_layers : LAYERSEL_MAX;
	for (int i = 0; i < n; i++)
		v[i] = (layer_view){0};
	for (int i = 0; i < src->n_in; i++) {
		const in_track *l = &src->in[i];
		if (l->mline == t->mline && l->n_layers && l->layer < n && l->ssrc)
			v[l->layer] = layer_meter_view(&l->meter, now_us);
	}
	return n;
}

/* The most a video slot can use for what its page shows: the rate of the layer of its
 * simulcasting source that covers the slot's display hint, with a quarter of headroom.
 * UINT64_MAX when that is not known (no hint, no layers measured, not simulcast). */
static uint64_t slot_display_claim_bps(const fwd_slot *slot, int64_t now_us)
{
	struct sfu_peer *src = slot->source;
	in_track *first = fwd_track_by_role(src, slot->source_role, slot->kind);
	if (!first || !first->n_layers || (!slot->view_w && !slot->view_h))
		return UINT64_MAX;
	layer_view v[LAYERSEL_MAX];
	int n = layer_views(src, first, now_us, v);
	int display = -1;
	if (layersel_pick(v, n, -1, UINT64_MAX, slot->view_w, slot->view_h, &display) < 0 ||
	    display < 0 || !v[display].bps)
		return UINT64_MAX;
	return (uint64_t)v[display].bps + v[display].bps / 4;
}

uint64_t fb_slot_share_bps(const struct sfu_peer *r, const fwd_slot *for_slot, int64_t now_us,
                           int *n_video)
{
	uint64_t est = r->bwe_ready ? bwe_estimate_bps(&r->bwe) : BWE_INITIAL_BPS;
	uint64_t videos = 0, audio = 0;
	for (int i = 0; i < r->n_out; i++) {
		if (!r->out[i].source || !r->out[i].started)
			continue;
		if (r->out[i].kind == SDP_KIND_VIDEO)
			videos++;
		else
			audio += slot_audio_bps(&r->out[i]);
	}
	uint64_t left = est > audio ? est - audio : 0;
	uint64_t fair = videos ? left / videos : left;
	/* Another slot whose display is covered by a layer below its fair share leaves the rest
	 * to this one: a kiosk that shows one clerk large and another in a small tile gives the
	 * large picture what the tile does not need, rather than half of everything each. */
	uint64_t claimed = 0;
	int open = 1;
	for (int i = 0; for_slot && i < r->n_out; i++) {
		const fwd_slot *o = &r->out[i];
		if (o == for_slot || !o->source || !o->started || o->kind != SDP_KIND_VIDEO)
			continue;
		uint64_t c = slot_display_claim_bps(o, now_us);
		if (c < fair) {
			claimed += c;
		} else {
			claimed += fair;
			open++;
		}
	}
	if (n_video)
		*n_video = for_slot ? open : (int)videos;
	if (!for_slot)
		return fair;
	return left > claimed ? left - claimed : 0;
}

/* What simulcast track t (any layer of it) must be able to send for the receiver slot
 * `slot`: the rates of its active layers up to the smallest that covers the slot's display
 * hint, with a quarter of headroom; UINT64_MAX when the slot has no hint or no active layer
 * covers it (the display wants more than is sent now: the sender must be free to add its
 * larger layers). */
static uint64_t simulcast_need_bps(const struct sfu_peer *src, const in_track *t,
                                   const fwd_slot *slot, int64_t now_us)
{
	if (!slot->view_w && !slot->view_h)
		return UINT64_MAX;
	layer_view v[LAYERSEL_MAX];
	int n = layer_views(src, t, now_us, v);
	int display = -1;
	if (layersel_pick(v, n, -1, UINT64_MAX, slot->view_w, slot->view_h, &display) < 0 ||
	    display < 0 || !v[display].width ||
	    (int64_t)v[display].width * 10 < (int64_t)slot->view_w * 9 ||
	    (int64_t)v[display].height * 10 < (int64_t)slot->view_h * 9)
		return UINT64_MAX;
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		if (v[i].active && !layersel_smaller(v, display, i))
			sum += v[i].bps;
	return sum + sum / 4;
}

/* The REMB for source p: room for its own audio plus, for its ordinary video, the smallest
 * share among the receivers it reaches (the sender must fit the narrowest one). A camera it
 * simulcasts is capped only by what its most demanding receiver's display needs (every
 * receiver gets the layer its own downlink allows, so a narrow one does not hold back the
 * others, and a capped sender could never start the larger layers a receiver's estimate
 * would need to grow into): no cap while some receiver shows it larger than its active
 * layers or gives no size. Never below REMB_MIN_BPS. */
uint64_t fb_remb_cap_bps(struct sfu_peer *p)
{
	uint64_t cap = REMB_MAX_BPS, sim = 0;
	int any_sim = 0;
	int64_t now = sfu_now(p->sfu);
	uint64_t own_audio = track_audio_bps(fwd_track_by_role(p, SFU_ROLE_MIC, SDP_KIND_AUDIO));
	for (int i = 0; i < p->n_in; i++) {
		in_track *t = &p->in[i];
		if (t->kind != SDP_KIND_VIDEO)
			continue;
		for (int k = 0; k < t->n_sinks; k++) {
			if (t->n_layers) {
				if (t->layer != 0)
					continue; /* every layer has the same sinks */
				const struct sfu_peer *r = t->sinks[k].peer;
				uint64_t need =
				    simulcast_need_bps(p, t, &r->out[t->sinks[k].slot], now);
				any_sim = 1;
				if (need > sim)
					sim = need;
				continue;
			}
			uint64_t share;
			if (video_share_bps(t->sinks[k].peer, &share) == 0 &&
			    share + own_audio < cap)
				cap = share + own_audio;
		}
	}
	if (any_sim && sim < REMB_MAX_BPS && sim + own_audio < cap)
		cap = sim + own_audio;
	/* However narrow the receivers, the sender's own audio (RED included) keeps room. */
	uint64_t floor = own_audio + 30000 > REMB_MIN_BPS ? own_audio + 30000 : REMB_MIN_BPS;
	return cap < floor ? floor : cap;
}

static void send_remb(struct sfu_peer *p, int64_t now_us)
{
	uint64_t cap = fb_remb_cap_bps(p);
	/* Every second, and at once when the cap falls by more than a tenth: a narrow
	 * downlink must slow the sender before the queue builds up. */
	int due = now_us - p->remb_sent_us >= REMB_INTERVAL_US ||
	          (p->remb_last_bps && cap < p->remb_last_bps - p->remb_last_bps / 10);
	if (!due)
		return;
	uint32_t ssrcs[SDP_MAX_MEDIA];
	int n = 0;
	for (int i = 0; i < p->n_in; i++)
		if (p->in[i].ssrc)
			ssrcs[n++] = p->in[i].ssrc;
	if (!n)
		return;
	uint8_t buf[24 + 4 * SDP_MAX_MEDIA];
	int len = rtcp_build_remb(buf, sizeof buf, p->rtcp_ssrc, cap, ssrcs, n);
	if (len <= 0)
		return;
	peer_send_rtcp(p, buf, (size_t)len);
	if (cap != p->remb_last_bps && (cap < REMB_MAX_BPS || p->remb_last_bps < REMB_MAX_BPS))
		LOG_DEBUG("sfu", "remb peer=%s bps=%llu", p->label, (unsigned long long)cap);
	p->remb_last_bps = cap;
	p->remb_sent_us = now_us;
	p->sfu->stats.remb_sent++;
}

void fb_tick(struct sfu_peer *p, int64_t now_us)
{
	if (!p->srtp)
		return;
	send_nacks(p, now_us);
	if (now_us - p->rr_sent_us >= RR_INTERVAL_US) {
		send_receiver_report(p, now_us);
		p->rr_sent_us = now_us;
	}
	if (now_us - p->remb_checked_us >= REMB_CHECK_US) {
		send_remb(p, now_us);
		p->remb_checked_us = now_us;
	}
}

int64_t fb_rtt_us(const struct sfu_peer *p)
{
	return p->rtt_us ? p->rtt_us : RTT_DEFAULT_US;
}

int sfu_peer_get_net(const sfu_peer *p, sfu_peer_net *out)
{
	if (!p->srtp)
		return -1;
	const sfu_addr *path = ice_dest(p);
	*out = (sfu_peer_net){
	    .downlink_bps = p->bwe_ready ? bwe_estimate_bps(&p->bwe) : 0,
	    .remb_bps = p->remb_last_bps,
	    .rtt_us = p->rtt_us,
	    .tcp = path && path->tcp,
	};
	return 0;
}

const char *sfu_peer_label(const sfu_peer *p)
{
	return p->label;
}
