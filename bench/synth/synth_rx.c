/* The synthetic peer as a receiver: per stream, sequence continuity (gaps, repairs,
 * duplicates, jumps), the NACKs a browser would send for its gaps, and the statistics of an
 * RFC 3550 report block; per packet, RTX unwrapping, transport-cc arrival, the decoders and
 * the load generator's hook; and the receive statistics the peer reports. */
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "synth_internal.h"

#include <stdlib.h>
#include <string.h>

/* Extended sequence numbers start here so that a packet reordered before the first one
 * still has a positive number. */
#define EXT_BASE 65536

void synth_rx_init(synth_rx *r, int line, int video, const synth_answer_line *al)
{
	memset(r, 0, sizeof *r);
	r->line = line;
	r->video = video;
	r->ssrc = al->ssrc;
	r->rtx_ssrc = al->rtx_ssrc;
	r->pt = al->pt;
	r->rtx_pt = al->rtx_pt;
}

static void add_pending(synth_rx *r, int64_t ext, int64_t now_us)
{
	if (r->n_pending == SYNTH_PENDING) {
		/* The oldest has had its chance; the newest matter more to a decoder. */
		memmove(r->pending, r->pending + 1, (SYNTH_PENDING - 1) * sizeof r->pending[0]);
		r->n_pending--;
	}
	r->pending[r->n_pending].ext = ext;
	r->pending[r->n_pending].tries = 0;
	r->pending[r->n_pending].next_us = now_us;
	r->n_pending++;
}

/* Forgets everything in the window (a jump too large to be loss), counting what was still
 * missing as unrepaired. */
static void reset_window(synth_rx *r, synth_stats *st, synth_slot_stats *ss)
{
	synth_rx_close(r, st, ss);
	memset(r->have, 0, sizeof r->have);
	memset(r->missing, 0, sizeof r->missing);
	r->n_pending = 0;
}

static void update_jitter(synth_rx *r, uint32_t ts, int64_t now_us)
{
	uint32_t clock = r->video ? 90000 : 48000;
	int64_t arrival = now_us * (int64_t)clock / 1000000;
	int64_t transit = (int64_t)(uint32_t)(arrival - (int64_t)ts);
	if (r->received > 1) {
		int64_t d = transit - r->last_transit;
		if (d < 0)
			d = -d;
		/* A wrap of the 32-bit difference is not jitter. */
		if (d < (int64_t)clock * 10)
			r->jitter += ((double)d - r->jitter) / 16.0;
	}
	r->last_transit = transit;
}

int synth_rx_packet(synth_rx *r, uint16_t seq, uint32_t ts, int64_t now_us, synth_stats *st,
                    synth_slot_stats *ss)
{
	if (!r->started) {
		r->started = 1;
		r->max_ext = r->base_ext = EXT_BASE + seq;
		r->have[r->max_ext % SYNTH_WINDOW] = 1;
		r->received = 1;
		update_jitter(r, ts, now_us);
		return 1;
	}
	int64_t e = r->max_ext + (int16_t)(uint16_t)(seq - (uint16_t)r->max_ext);
	int64_t d = e - r->max_ext;
	if (d > SYNTH_WINDOW / 2 || d <= -SYNTH_WINDOW) {
		/* Loss does not skip hundreds of packets, and nothing arrives a window late: the
		 * sender's numbering broke. */
		st->seq_jumps++;
		reset_window(r, st, ss);
		r->max_ext = r->base_ext = e;
		r->received = r->expected_prior = r->received_prior = 0;
		d = 0;
	} else if (d > 0) {
		for (int64_t s = r->max_ext + 1; s <= e; s++) {
			int pos = (int)(s % SYNTH_WINDOW);
			if (r->missing[pos]) {
				r->missing[pos] = 0;
				st->unrepaired++;
				ss->unrepaired++;
			}
			r->have[pos] = 0;
			if (s < e) {
				r->missing[pos] = 1;
				st->gaps++;
				ss->gaps++;
				if (r->video)
					add_pending(r, s, now_us);
			}
		}
		r->max_ext = e;
	} else if (e < r->base_ext) {
		st->stale++;
		return 0;
	}
	int pos = (int)(e % SYNTH_WINDOW);
	if (d <= 0 && r->have[pos]) {
		st->duplicates++;
		return 0;
	}
	r->have[pos] = 1;
	if (r->missing[pos]) {
		r->missing[pos] = 0;
		st->repaired++;
		ss->repaired++;
	}
	r->received++;
	update_jitter(r, ts, now_us);
	return 1;
}

int synth_rx_nack(synth_rx *r, uint32_t sender_ssrc, int64_t now_us, uint8_t *out, size_t cap)
{
	uint16_t seqs[64];
	int n = 0, k = 0;
	for (int i = 0; i < r->n_pending; i++) {
		synth_pending *pe = &r->pending[i];
		int live = r->missing[pe->ext % SYNTH_WINDOW] &&
		           r->max_ext - pe->ext < SYNTH_WINDOW && pe->tries < SYNTH_NACK_TRIES;
		if (!live)
			continue;
		if (pe->next_us <= now_us && n < 64) {
			seqs[n++] = (uint16_t)pe->ext;
			pe->tries++;
			/* No simulated delay: a retransmission either arrives within one round or
			 * was lost; 50 ms is the retry spacing a browser would use at low RTT. */
			pe->next_us = now_us + 50000;
		}
		r->pending[k++] = *pe;
	}
	r->n_pending = k;
	if (!n || !r->ssrc)
		return 0;
	int len = rtcp_build_nack(out, cap, sender_ssrc, r->ssrc, seqs, n);
	return len > 0 ? len : 0;
}

int synth_rx_report(synth_rx *r, int64_t now_us, rtcp_report_block *b)
{
	if (!r->started || !r->ssrc)
		return -1;
	uint64_t expected = (uint64_t)(r->max_ext - r->base_ext + 1);
	int64_t lost = (int64_t)expected - (int64_t)r->received;
	uint64_t exp_int = expected - r->expected_prior;
	int64_t lost_int = (int64_t)exp_int - (int64_t)(r->received - r->received_prior);
	r->expected_prior = expected;
	r->received_prior = r->received;
	memset(b, 0, sizeof *b);
	b->ssrc = r->ssrc;
	b->fraction_lost =
	    exp_int && lost_int > 0 ? (uint8_t)((lost_int << 8) / (int64_t)exp_int) : 0;
	b->cumulative_lost = (int32_t)(lost > 0x7fffff    ? 0x7fffff
	                               : lost < -0x800000 ? -0x800000
	                                                  : lost);
	b->highest_seq = (uint32_t)(r->max_ext - EXT_BASE);
	b->jitter = (uint32_t)r->jitter;
	b->lsr = r->last_sr;
	b->dlsr = r->sr_at_us ? (uint32_t)((now_us - r->sr_at_us) * 65536 / 1000000) : 0;
	return 0;
}

void synth_rx_close(synth_rx *r, synth_stats *st, synth_slot_stats *ss)
{
	if (!r->started)
		return;
	for (int i = 0; i < SYNTH_WINDOW; i++)
		if (r->missing[i]) {
			r->missing[i] = 0;
			st->unrepaired++;
			ss->unrepaired++;
		}
}

/* ---- the peer's receiving side -------------------------------------------------------- */

void synth_on_rtp(synth_peer *p, uint8_t *buf, size_t len, int64_t now_us)
{
	rtp_hdr h;
	if (rtp_parse(buf, len, &h) != 0)
		return;
	uint16_t tseq;
	if (p->cfg.tmpl->ext_twcc > 0 &&
	    rtp_get_twcc_seq(buf, &h, (uint8_t)p->cfg.tmpl->ext_twcc, &tseq) == 0)
		twcc_rec_add(&p->twcc, tseq, p->arrival_us);
	for (int i = 0; i < SYNTH_LINES; i++) {
		synth_rx *r = &p->rx[i];
		if (!p->rx_on[i] || (h.ssrc != r->ssrc && (!r->rtx_ssrc || h.ssrc != r->rtx_ssrc)))
			continue;
		if (h.ssrc == r->rtx_ssrc) {
			int rc = rtx_unwrap(buf, &len, (uint8_t)r->pt, r->ssrc);
			if (rc == RTX_ERR_PROBE)
				p->st.probes_received++;
			if (rc != 0 || rtp_parse(buf, len, &h) != 0)
				return;
			p->st.rtx_received++;
		}
		if (!synth_rx_packet(r, h.seq, h.timestamp, now_us, &p->st, &p->slot[i]))
			return;
		p->st.rtp_received++;
		p->st.bytes_received += len;
		p->slot[i].packets++;
		p->slot[i].bytes += len;
		if (p->cfg.on_received)
			p->cfg.on_received(p->cfg.hook_user, i, h.seq, buf + h.header_len,
			                   h.payload_len, now_us);
		if (r->video && vp8_is_keyframe(buf + h.header_len, h.payload_len)) {
			p->st.keyframes_received++;
			p->slot[i].keyframes++;
		}
		if (p->vdec[i] && r->video)
			synth_vdec_packet(p->vdec[i], buf + h.header_len, h.payload_len, h.seq,
			                  h.timestamp, h.marker);
		else if (p->adec[i] && !r->video)
			synth_adec_packet(p->adec[i], buf + h.header_len, h.payload_len);
		return;
	}
	p->st.unknown_ssrc++;
}

synth_slot_stats synth_peer_slot_stats(const synth_peer *p, const char *name)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (strcmp(synth_line_names[i], name) == 0)
			return p->slot[i];
	return (synth_slot_stats){0};
}

int synth_peer_video_check(const synth_peer *p, const char *name, synth_video_check *out)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (strcmp(synth_line_names[i], name) == 0 && p->vdec[i]) {
			*out = *synth_vdec_check(p->vdec[i]);
			return 0;
		}
	return -1;
}

int synth_peer_audio_check(const synth_peer *p, const char *name, synth_audio_check *out)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (strcmp(synth_line_names[i], name) == 0 && p->adec[i]) {
			*out = *synth_adec_check(p->adec[i]);
			return 0;
		}
	return -1;
}
