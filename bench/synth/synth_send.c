/* The synthetic peer's sending side: real Opus and VP8 media (synth_media.c) packetized as a
 * browser does (RFC 7587, RFC 7741 with 15-bit picture ids and TL0PICIDX), simulcast layers
 * with rid (RFC 8851, 8852, 8853), retransmissions from the send cache, the RTCP it sends
 * and acts on, and the socket's send queue: what a peer sends in one call of
 * synth_peer_run or synth_peer_poll leaves in sendmmsg batches, so that a load generator
 * with many peers spends its time on packets rather than system calls. */
#include "rtp/rtp.h"
#include "synth_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 32

/* The calling thread's send queue (one peer's packets at a time). */
static _Thread_local struct {
	synth_peer *owner;
	int n;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	uint8_t data[BATCH][SYNTH_PKT_MAX + SECURE_MAX_TRAILER + 64];
} q;

void synth_flush(synth_peer *p)
{
	if (q.owner != p || q.n == 0)
		return;
	int done = 0;
	while (done < q.n) {
		int r = sendmmsg(p->fd, q.msg + done, (unsigned)(q.n - done), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			done++; /* a full socket buffer drops, as a network would */
		else
			done += r;
	}
	q.n = 0;
	q.owner = NULL;
}

/* The next free slot of the queue, for p's datagram. */
static uint8_t *slot(synth_peer *p)
{
	if (q.owner && (q.owner != p || q.n == BATCH))
		synth_flush(q.owner);
	q.owner = p;
	return q.data[q.n];
}

static void commit(synth_peer *p, size_t len)
{
	q.iov[q.n] = (struct iovec){.iov_base = q.data[q.n], .iov_len = len};
	q.msg[q.n] = (struct mmsghdr){.msg_hdr = {.msg_name = &p->server,
	                                          .msg_namelen = sizeof p->server,
	                                          .msg_iov = &q.iov[q.n],
	                                          .msg_iovlen = 1}};
	q.n++;
}

void synth_send_raw(synth_peer *p, const uint8_t *data, size_t len)
{
	if (len > sizeof q.data[0])
		return;
	memcpy(slot(p), data, len);
	commit(p, len);
}

void synth_send_srtp(synth_peer *p, const uint8_t *pkt, size_t len, int rtcp)
{
	if (!p->srtp || len > SYNTH_PKT_MAX)
		return;
	uint8_t *out = slot(p);
	memcpy(out, pkt, len);
	int rc =
	    rtcp ? secure_protect_rtcp(p->srtp, out, &len) : secure_protect_rtp(p->srtp, out, &len);
	if (rc != 0)
		return;
	if (synth_lose(p, p->cfg.send_loss)) {
		p->st.send_dropped++;
		return;
	}
	commit(p, len);
}

/* ---- sending media ---------------------------------------------------------------- */

/* Writes the RTP header with the one-byte extensions a browser sends (mid, transport-cc,
 * audio level for audio, rtp-stream-id for a simulcast layer); returns its length. */
static size_t rtp_header(synth_peer *p, synth_tx *t, int marker, uint32_t ts, uint8_t *out)
{
	const synth_template *tm = p->cfg.tmpl;
	out[0] = 0x80;
	out[1] = (uint8_t)((marker ? 0x80 : 0) | (t->pt & 0x7f));
	rtp_set_seq(out, t->seq++);
	rtp_set_timestamp(out, ts);
	rtp_set_ssrc(out, t->ssrc);
	uint8_t ext[16];
	size_t el = 0;
	if (tm->ext_mid > 0 && tm->ext_mid < 15) {
		ext[el++] = (uint8_t)(tm->ext_mid << 4);
		ext[el++] = (uint8_t)('0' + t->line);
	}
	if (tm->ext_twcc > 0 && tm->ext_twcc < 15) {
		uint16_t s = p->twcc_seq++;
		ext[el++] = (uint8_t)(tm->ext_twcc << 4 | 1);
		ext[el++] = (uint8_t)(s >> 8);
		ext[el++] = (uint8_t)s;
	}
	if (!t->video && tm->ext_audio_level > 0 && tm->ext_audio_level < 15) {
		ext[el++] = (uint8_t)(tm->ext_audio_level << 4);
		ext[el++] = 0x80 | 15; /* voice activity, -15 dBov: the tone's level */
	}
	if (t->video && p->sim_on) {
		/* RFC 8852: the rid as an SDES item in a header extension, on every packet. */
		ext[el++] = (uint8_t)(p->ext_rid << 4);
		ext[el++] = (uint8_t)t->rid[0];
	}
	return rtp_put_ext_block(out, ext, el);
}

static void send_audio(synth_peer *p, synth_tx *t, int64_t at_us)
{
	uint8_t pkt[SYNTH_PKT_MAX];
	uint32_t ts = t->ts0 + (uint32_t)(at_us * 48 / 1000);
	uint16_t seq = t->seq;
	size_t hl = rtp_header(p, t, 0, ts, pkt);
	size_t n = 0;
	if (p->aenc) {
		int r = synth_aenc_frame(p->aenc, pkt + hl, sizeof pkt - hl);
		n = r > 0 ? (size_t)r : 0;
	} else {
		const uint8_t *f = synth_audio_loop_frame(p->audio_pos++, &n);
		if (p->audio_pos == 50)
			p->audio_pos = 0;
		memcpy(pkt + hl, f, n);
	}
	if (n == 0)
		return;
	t->packets++;
	t->octets += (uint32_t)n;
	p->st.audio_sent++;
	p->st.bytes_sent += hl + n;
	if (p->cfg.on_sent)
		p->cfg.on_sent(p->cfg.hook_user, 0, seq, pkt + hl, n, p->now_us);
	synth_send_srtp(p, pkt, hl + n, 0);
}

/* The next picture of a layer: from its loop (a keyframe request restarts the loop at its
 * keyframe) or from its encoder. */
static const uint8_t *next_picture(synth_peer *p, synth_tx *t, int key, size_t *len, int *is_key)
{
	if (t->venc) {
		int n = synth_venc_frame(t->venc, key, p->frame, FRAME_MAX, is_key);
		*len = n > 0 ? (size_t)n : 0;
		return p->frame;
	}
	if (key)
		t->clip_pos = 0;
	*is_key = t->clip_pos == 0;
	const uint8_t *f = synth_clip_frame(t->clip, t->clip_pos, len);
	t->clip_pos = (t->clip_pos + 1) % synth_clip_frames(t->clip);
	return f;
}

/* One picture in 1..n packets, each with a VP8 payload descriptor as Chromium writes it:
 * a 15-bit picture id, TL0PICIDX and TID 0 with the layer-sync bit (every picture is in the
 * base temporal layer). */
static void send_video(synth_peer *p, synth_tx *t, int64_t at_us, int key)
{
	size_t frame;
	int is_key = 0;
	const uint8_t *data = next_picture(p, t, key, &frame, &is_key);
	if (frame == 0)
		return;
	int n = (int)((frame + VIDEO_MAX_CHUNK - 1) / VIDEO_MAX_CHUNK);
	size_t chunk = (frame + (size_t)n - 1) / (size_t)n;
	uint32_t ts = t->ts0 + (uint32_t)(at_us * 90 / 1000);
	t->picture_id = (uint16_t)((t->picture_id + 1) & 0x7fff);
	t->tl0picidx++;
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		uint8_t pkt[SYNTH_PKT_MAX];
		uint16_t seq = t->seq;
		size_t c = frame - off < chunk ? frame - off : chunk;
		size_t hl = rtp_header(p, t, i == n - 1, ts, pkt);
		uint8_t *pl = pkt + hl;
		pl[0] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0)); /* X, S on the first packet, PID 0 */
		pl[1] = 0xe0;                                  /* I, L, T */
		pl[2] = (uint8_t)(0x80 | (t->picture_id >> 8));
		pl[3] = (uint8_t)t->picture_id;
		pl[4] = t->tl0picidx;
		pl[5] = 0x20; /* TID 0, Y */
		memcpy(pl + VP8_DESC, data + off, c);
		off += c;
		size_t len = hl + VP8_DESC + c;
		synth_cached *cc = &t->cache[seq % SYNTH_CACHE];
		cc->seq = seq;
		cc->len = (uint16_t)len;
		memcpy(cc->data, pkt, len);
		t->packets++;
		t->octets += (uint32_t)(VP8_DESC + c);
		p->st.video_sent++;
		p->st.bytes_sent += len;
		if (p->cfg.on_sent)
			p->cfg.on_sent(p->cfg.hook_user, 1, seq, pl, len - hl, p->now_us);
		synth_send_srtp(p, pkt, len, 0);
	}
	if (is_key)
		p->st.keyframes_sent++;
}

void synth_send_media(synth_peer *p, int64_t now_us)
{
	synth_tx *a = &p->tx[0];
	while (a->on && a->next_us <= now_us) {
		send_audio(p, a, a->next_us);
		a->next_us += AUDIO_FRAME_US;
	}
	for (int i = 1; i < p->n_tx; i++) {
		synth_tx *v = &p->tx[i];
		while (v->on && v->next_us <= now_us) {
			int key = v->force_key || (v->venc && v->next_us >= v->next_key_us);
			if (key || v->next_us >= v->next_key_us) {
				v->force_key = 0;
				v->next_key_us = v->next_us + p->cfg.keyframe_every_ms * 1000LL;
			}
			send_video(p, v, v->next_us, key);
			v->next_us += VIDEO_FRAME_US;
		}
	}
}

/* Resends one NACKed packet from the cache, wrapped in RTX when negotiated, with a fresh
 * transport-wide sequence number as a browser does; a simulcast layer's RTX packet names
 * its layer with the repaired-rid extension instead of the rid. */
static void retransmit(synth_peer *p, synth_tx *t, uint16_t seq)
{
	synth_cached *c = t->cache ? &t->cache[seq % SYNTH_CACHE] : NULL;
	if (!t->video || !c || c->seq != seq || c->len == 0) {
		p->st.retransmit_misses++;
		return;
	}
	uint8_t pkt[SYNTH_PKT_MAX + 2];
	size_t len = c->len;
	int rtx = t->rtx_pt >= 0 && t->rtx_ssrc;
	if (rtx) {
		int n = rtx_wrap(c->data, c->len, (uint8_t)t->rtx_pt, t->rtx_ssrc, t->rtx_seq++,
		                 pkt, sizeof pkt);
		if (n < 0)
			return;
		len = (size_t)n;
	} else {
		memcpy(pkt, c->data, len);
	}
	rtp_hdr h;
	if (rtp_parse(pkt, len, &h) == 0) {
		if (p->cfg.tmpl->ext_twcc > 0)
			rtp_set_twcc_seq(pkt, &h, (uint8_t)p->cfg.tmpl->ext_twcc, p->twcc_seq++);
		size_t el;
		uint8_t *rid;
		if (rtx && p->sim_on && (rid = rtp_ext_find(pkt, &h, (uint8_t)p->ext_rid, &el)))
			rid[-1] = (uint8_t)(p->ext_rrid << 4 | (rid[-1] & 0x0f));
	}
	p->st.retransmits++;
	synth_send_srtp(p, pkt, len, 0);
}

/* ---- RTCP ------------------------------------------------------------------------- */

typedef struct nack_ctx {
	synth_peer *p;
	synth_tx *t;
} nack_ctx;

static void on_nacked(void *user, uint16_t seq)
{
	nack_ctx *c = user;
	c->p->st.nacks_received++;
	if (c->t)
		retransmit(c->p, c->t, seq);
	else
		c->p->st.retransmit_misses++;
}

static synth_tx *tx_by_ssrc(synth_peer *p, uint32_t ssrc)
{
	for (int i = 0; i < p->n_tx; i++)
		if (p->tx[i].ssrc == ssrc)
			return &p->tx[i];
	return NULL;
}

void synth_on_rtcp(synth_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
{
	rtcp_iter it;
	rtcp_pkt pkt;
	rtcp_iter_init(&it, buf, len);
	while (rtcp_next(&it, &pkt) == 1) {
		if (pkt.pt == RTCP_SR) {
			rtcp_sr_info sr;
			rtcp_report_block b[4];
			p->st.sr_received++;
			if (rtcp_parse_report(&pkt, &sr, b, 4) < 0)
				continue;
			for (int i = 0; i < SYNTH_LINES; i++)
				if (p->rx_on[i] && p->rx[i].ssrc == pkt.sender_ssrc) {
					p->rx[i].last_sr = sr.ntp_sec << 16 | sr.ntp_frac >> 16;
					p->rx[i].sr_at_us = now_us;
				}
		} else if (pkt.pt == RTCP_RR) {
			p->st.rr_received++;
		} else if (pkt.pt == RTCP_RTPFB && pkt.fmt == RTCP_FMT_NACK) {
			nack_ctx c = {p, tx_by_ssrc(p, pkt.media_ssrc)};
			rtcp_nack_foreach(&pkt, on_nacked, &c);
		} else if (pkt.pt == RTCP_RTPFB && pkt.fmt == RTCP_FMT_TWCC) {
			p->st.twcc_received++;
		} else if (pkt.pt == RTCP_PSFB &&
		           (pkt.fmt == RTCP_FMT_PLI || pkt.fmt == RTCP_FMT_FIR)) {
			/* A request names the layer it wants a keyframe on (RFC 4585); an unknown
			 * SSRC gets one on every layer. */
			p->st.keyframe_requests++;
			synth_tx *t = tx_by_ssrc(p, pkt.media_ssrc);
			for (int i = 1; i < p->n_tx; i++)
				if (!t || !t->video || t == &p->tx[i])
					p->tx[i].force_key = 1;
		} else if (pkt.pt == RTCP_PSFB && pkt.fmt == RTCP_FMT_AFB) {
			uint64_t bps;
			uint32_t ssrcs[4];
			int n;
			if (rtcp_parse_remb(&pkt, &bps, ssrcs, &n, 4) == 0) {
				p->st.remb_received++;
				p->st.last_remb_bps = bps;
			} else {
				p->st.rtcp_other++;
			}
		} else {
			p->st.rtcp_other++;
		}
	}
}

/* Sender reports for both outgoing streams (the first carrying a report block per stream
 * received), as one compound packet. */
static void send_reports(synth_peer *p, int64_t now_us)
{
	rtcp_report_block blocks[SYNTH_LINES];
	int nb = 0;
	for (int i = 0; i < SYNTH_LINES; i++)
		if (p->rx_on[i] && synth_rx_report(&p->rx[i], now_us, &blocks[nb]) == 0)
			nb++;
	uint8_t out[1200];
	int len = 0;
	for (int i = 0; i < p->n_tx; i++) {
		synth_tx *t = &p->tx[i];
		if (!t->on)
			continue;
		uint64_t ntp_frac = (uint64_t)(now_us % 1000000) * 4294967296ull / 1000000;
		rtcp_sr_info sr = {
		    .ntp_sec = (uint32_t)(now_us / 1000000 + 2208988800ull),
		    .ntp_frac = (uint32_t)ntp_frac,
		    .rtp_ts = t->ts0 + (uint32_t)(now_us * (t->video ? 90 : 48) / 1000),
		    .packet_count = t->packets,
		    .octet_count = t->octets,
		};
		int n = rtcp_build_sr(out + len, sizeof out - (size_t)len, t->ssrc, &sr,
		                      i == 0 ? blocks : NULL, i == 0 ? nb : 0);
		if (n > 0)
			len += n;
	}
	if (len > 0) {
		p->st.reports_sent++;
		synth_send_srtp(p, out, (size_t)len, 1);
	}
}

void synth_send_feedback(synth_peer *p, int64_t now_us)
{
	uint8_t out[1200];
	int n;
	if (now_us >= p->next_twcc_us) {
		p->next_twcc_us = now_us + TWCC_US;
		uint32_t media = p->rx_on[SYNTH_CAMERA] ? p->rx[SYNTH_CAMERA].ssrc : 0;
		while ((n = twcc_rec_build(&p->twcc, p->rtcp_ssrc, media, out, sizeof out)) > 0) {
			p->st.twcc_sent++;
			synth_send_srtp(p, out, (size_t)n, 1);
		}
	}
	if (now_us >= p->next_nack_us) {
		p->next_nack_us = now_us + NACK_US;
		for (int i = 0; i < SYNTH_LINES; i++)
			if (p->rx_on[i] && p->rx[i].video &&
			    (n = synth_rx_nack(&p->rx[i], p->rtcp_ssrc, now_us, out, sizeof out)) >
			        0) {
				p->st.nacks_sent++;
				synth_send_srtp(p, out, (size_t)n, 1);
			}
	}
	if (now_us >= p->next_decoder_pli_us) {
		/* As a browser does when its decoder lost the picture: ask for a keyframe (at most
		 * every 300 ms per slot). */
		p->next_decoder_pli_us = now_us + 300000;
		for (int i = 0; i < SYNTH_LINES; i++)
			if (p->rx_on[i] && p->vdec[i] && p->rx[i].started &&
			    synth_vdec_waiting(p->vdec[i]) &&
			    (n = rtcp_build_pli(out, sizeof out, p->rtcp_ssrc, p->rx[i].ssrc)) >
			        0) {
				p->st.plis_sent++;
				synth_send_srtp(p, out, (size_t)n, 1);
			}
	}
	if (now_us >= p->next_pli_us) {
		p->next_pli_us = now_us + p->cfg.pli_every_ms * 1000LL;
		for (int i = 0; i < SYNTH_LINES; i++)
			if (p->rx_on[i] && p->rx[i].video && p->rx[i].started &&
			    (n = rtcp_build_pli(out, sizeof out, p->rtcp_ssrc, p->rx[i].ssrc)) >
			        0) {
				p->st.plis_sent++;
				synth_send_srtp(p, out, (size_t)n, 1);
			}
	}
	if (now_us >= p->next_report_us) {
		p->next_report_us = now_us + REPORT_US;
		send_reports(p, now_us);
	}
}
