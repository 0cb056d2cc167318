/* The synthetic peer's transport: the socket (read with recvmmsg), ICE checks and consent,
 * the DTLS client, SRTP, negotiation, and what arrives. Media and RTCP out, and the send
 * queue, are in synth_send.c; the receiving side's bookkeeping is in synth_rx.c. */
#include "rtp/rtp.h"
#include "rtp/stun.h"
#include "synth_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t nonzero32(synth_peer *p)
{
	uint32_t v;
	do
		v = (uint32_t)synth_rand(&p->rng);
	while (v == 0);
	return v;
}

static void dtls_out(void *user, const uint8_t *data, size_t len)
{
	synth_send_raw(user, data, len);
}

const char *const synth_line_names[SYNTH_LINES] = {"mic", "camera", "document", "slotAudio",
                                                   "slotVideo"};

/* Camera layer k (0 the full picture, as without simulcast; 1 half, 2 quarter scale). */
static int setup_layer(synth_peer *p, synth_tx *t, int k)
{
	static const char *const rids[3] = {"f", "h", "q"};
	t->layer = 2 - k;
	t->rid = rids[k];
	t->w = 640 >> k;
	t->h = 480 >> k;
	t->kbps = k == 0   ? p->cfg.video_kbps
	          : k == 1 ? p->cfg.video_kbps * 3 / 10
	                   : p->cfg.video_kbps / 10;
	if (t->kbps < 30)
		t->kbps = 30;
	t->cache = calloc(SYNTH_CACHE, sizeof *t->cache);
	if (!t->cache)
		return -1;
	if (p->cfg.media == SYNTH_MEDIA_LIVE) {
		t->venc = synth_venc_new(t->w, t->h, t->kbps, t->layer, p->cfg.picture_tag);
		return t->venc ? 0 : -1;
	}
	int n = p->cfg.keyframe_every_ms * 30 / 1000;
	n = n < 30 ? 30 : n > CLIP_MAX_FRAMES ? CLIP_MAX_FRAMES : n;
	t->clip = synth_clip_get(t->w, t->h, t->kbps, t->layer, p->cfg.picture_tag, n);
	return t->clip ? 0 : -1;
}

synth_peer *synth_peer_new(const synth_config *cfg)
{
	if (!cfg->tmpl || !cfg->dtls)
		return NULL;
	synth_peer *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->cfg = *cfg;
	snprintf(p->label, sizeof p->label, "%s", cfg->label ? cfg->label : "synth");
	p->cfg.label = p->label;
	if (p->cfg.video_kbps <= 0)
		p->cfg.video_kbps = 1000;
	if (p->cfg.keyframe_every_ms <= 0)
		p->cfg.keyframe_every_ms = 10000;
	if (p->cfg.pli_every_ms <= 0)
		p->cfg.pli_every_ms = 20000;
	if (p->cfg.simulcast < 2 || !cfg->tmpl->ext_rid)
		p->cfg.simulcast = 0;
	if (p->cfg.simulcast > 3)
		p->cfg.simulcast = 3;
	p->rng = cfg->seed ? cfg->seed : 0x9E3779B97F4A7C15ull;
	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->n_tx = 1 + (p->cfg.simulcast ? p->cfg.simulcast : 1);
	struct sockaddr_in local = {.sin_family = AF_INET,
	                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (cfg->bind_ip && inet_pton(AF_INET, cfg->bind_ip, &local.sin_addr) != 1) {
		synth_peer_free(p);
		return NULL;
	}
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&local, sizeof local) != 0 ||
	    !(p->frame = malloc(FRAME_MAX))) {
		synth_peer_free(p);
		return NULL;
	}
	int size = 4 * 1024 * 1024;
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	for (int i = 0; i < p->n_tx; i++) {
		synth_tx *t = &p->tx[i];
		t->line = i == 0 ? SYNTH_MIC : SYNTH_CAMERA;
		t->video = i >= 1;
		t->on = i <= 1;
		t->ssrc = nonzero32(p);
		t->rtx_ssrc = t->video ? nonzero32(p) : 0;
		t->seq = (uint16_t)synth_rand(&p->rng);
		t->rtx_seq = (uint16_t)synth_rand(&p->rng);
		t->ts0 = (uint32_t)synth_rand(&p->rng);
		t->picture_id = (uint16_t)(synth_rand(&p->rng) & 0x7fff);
		t->tl0picidx = (uint8_t)synth_rand(&p->rng);
		t->pt = i == 0 ? cfg->tmpl->pt_opus : cfg->tmpl->pt_vp8;
		t->rtx_pt = -1;
		if (t->video && setup_layer(p, t, i - 1) != 0) {
			synth_peer_free(p);
			return NULL;
		}
	}
	if (p->cfg.media == SYNTH_MEDIA_LIVE ? !(p->aenc = synth_aenc_new())
	                                     : synth_audio_loop_ref() != 0) {
		synth_peer_free(p);
		return NULL;
	}
	p->audio_ref = p->cfg.media != SYNTH_MEDIA_LIVE;
	if (p->cfg.decode)
		for (int i = 0; i < SYNTH_LINES; i++) {
			int video =
			    i == SYNTH_CAMERA || i == SYNTH_DOCUMENT || i == SYNTH_SLOT_VIDEO;
			if (video ? !(p->vdec[i] = synth_vdec_new())
			          : !(p->adec[i] = synth_adec_new())) {
				synth_peer_free(p);
				return NULL;
			}
		}
	p->doc_ssrc = nonzero32(p);
	p->doc_rtx_ssrc = nonzero32(p);
	p->rtcp_ssrc = p->tx[0].ssrc;
	p->tiebreaker = synth_rand(&p->rng);
	return p;
}

static void drop_transport(synth_peer *p)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (p->rx_on[i])
			synth_rx_close(&p->rx[i], &p->st, &p->slot[i]);
	memset(p->rx_on, 0, sizeof p->rx_on);
	dtls_free(p->dtls);
	p->dtls = NULL;
	secure_free(p->srtp);
	p->srtp = NULL;
	p->ice_ok = 0;
	p->running = 0;
}

void synth_peer_free(synth_peer *p)
{
	if (!p)
		return;
	drop_transport(p);
	if (p->fd >= 0)
		close(p->fd);
	for (int i = 0; i < NTX; i++) {
		free(p->tx[i].cache);
		synth_clip_put(p->tx[i].clip);
		synth_venc_free(p->tx[i].venc);
	}
	for (int i = 0; i < SYNTH_LINES; i++) {
		synth_vdec_free(p->vdec[i]);
		synth_adec_free(p->adec[i]);
	}
	synth_aenc_free(p->aenc);
	if (p->audio_ref)
		synth_audio_loop_unref();
	free(p->frame);
	free(p);
}

int synth_peer_roles(const synth_peer *p, sfu_track_role *roles, int cap)
{
	static const enum sfu_role r[SYNTH_LINES] = {
	    SFU_ROLE_MIC, SFU_ROLE_CAMERA, SFU_ROLE_DOCUMENT, SFU_ROLE_SLOT, SFU_ROLE_SLOT};
	int n = 0;
	for (int i = 0; i < SYNTH_LINES && n < cap; i++, n++) {
		snprintf(roles[n].mid, sizeof roles[n].mid, "%d", i);
		roles[n].role = r[i];
	}
	(void)p;
	return n;
}

void synth_hex(synth_peer *p, char *out, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", (unsigned)(synth_rand(&p->rng) & 0xff));
}

int synth_peer_offer(synth_peer *p, char *out, size_t cap)
{
	synth_hex(p, p->ufrag, 4);
	synth_hex(p, p->pwd, 12);
	/* Simulcast as Chromium offers it with sendEncodings: rids and a=simulcast (RFC 8853)
	 * instead of SSRCs; the server learns each layer's SSRC from the rid extension. */
	const char *sim = p->cfg.simulcast == 3 ? "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n"
	                                          "a=simulcast:send q;h;f\r\n"
	                  : p->cfg.simulcast == 2 ? "a=rid:h send\r\na=rid:f send\r\n"
	                                            "a=simulcast:send h;f\r\n"
	                                          : NULL;
	synth_offer_line lines[SYNTH_LINES] = {
	    {.video = 0, .dir = "sendrecv", .ssrc = p->tx[0].ssrc},
	    {.video = 1,
	     .dir = "sendrecv",
	     .ssrc = sim ? 0 : p->tx[1].ssrc,
	     .rtx_ssrc = sim ? 0 : p->tx[1].rtx_ssrc,
	     .extra = sim},
	    {.video = 1, .dir = "sendrecv", .ssrc = p->doc_ssrc, .rtx_ssrc = p->doc_rtx_ssrc},
	    {.video = 0, .dir = "recvonly"},
	    {.video = 1, .dir = "recvonly"},
	};
	if (p->cfg.publish_only) {
		/* A VideoRoom publisher: the microphone and the camera, nothing to receive. */
		lines[0].dir = lines[1].dir = "sendonly";
		return synth_sdp_offer(p->cfg.tmpl, p->ufrag, p->pwd,
		                       dtls_ctx_fingerprint(p->cfg.dtls), lines, 2, out, cap);
	}
	return synth_sdp_offer(p->cfg.tmpl, p->ufrag, p->pwd, dtls_ctx_fingerprint(p->cfg.dtls),
	                       lines, SYNTH_LINES, out, cap);
}

/* Whether the answer's simulcast list keeps this rid as an active stream (RFC 8853: streams
 * separated by ';', alternatives by ',', a paused one prefixed with '~'). */
static int answer_has_rid(const char *list, const char *rid)
{
	size_t n = strlen(rid);
	for (const char *s = list; *s;) {
		size_t k = strcspn(s, ";,");
		if (k == n && memcmp(s, rid, n) == 0)
			return 1;
		s += k;
		if (*s)
			s++;
	}
	return 0;
}

int synth_peer_answer(synth_peer *p, const char *sdp, size_t len, int64_t now_us)
{
	synth_answer a;
	if (synth_sdp_parse_answer(sdp, len, &a) != 0)
		return -1;
	return synth_apply_answer(p, &a, now_us);
}

int synth_apply_answer(synth_peer *p, const synth_answer *ap, int64_t now_us)
{
	synth_answer a = *ap;
	if (p->srtp && a.has_fp && p->ans.has_fp && memcmp(a.fp, p->ans.fp, sizeof a.fp) == 0 &&
	    a.server_active == p->ans.server_active) {
		/* The same server certificate while DTLS is up: as a browser does, keep the DTLS
		 * session and SRTP keys and restart ICE only, with the answer's new credentials. */
		snprintf(p->ans.ufrag, sizeof p->ans.ufrag, "%s", a.ufrag);
		snprintf(p->ans.pwd, sizeof p->ans.pwd, "%s", a.pwd);
		p->next_stun_us = now_us;
		p->st.ice_restarts++;
		return 0;
	}
	drop_transport(p);
	p->ans = a;
	memset(&p->server, 0, sizeof p->server);
	p->server.sin_family = AF_INET;
	p->server.sin_port = htons((uint16_t)p->ans.port);
	if (inet_pton(AF_INET, p->ans.ip, &p->server.sin_addr) != 1)
		return -1;
	for (int i = 0; i < SYNTH_LINES; i++) {
		const synth_answer_line *al = &p->ans.line[i];
		if (al->accepted && al->server_sends) {
			synth_rx_init(
			    &p->rx[i], i,
			    i == SYNTH_CAMERA || i == SYNTH_DOCUMENT || i == SYNTH_SLOT_VIDEO, al);
			p->rx_on[i] = 1;
		}
	}
	/* Retransmissions go on the RTX stream when the answer kept rtx for the camera. */
	const synth_answer_line *cam = &p->ans.line[SYNTH_CAMERA];
	p->ext_rid = cam->ext_rid;
	p->ext_rrid = cam->ext_rrid;
	p->sim_on = p->cfg.simulcast && cam->simulcast && p->ext_rid > 0 && p->ext_rid < 15;
	for (int i = 1; i < p->n_tx; i++) {
		p->tx[i].on = p->sim_on ? answer_has_rid(cam->sim_rids, p->tx[i].rid) : i == 1;
		/* A simulcast layer's RTX stream is known by the repaired-rid extension only. */
		p->tx[i].rtx_pt =
		    !p->cfg.simulcast || (p->sim_on && p->ext_rrid > 0 && p->ext_rrid < 15)
		        ? cam->rtx_pt
		        : -1;
	}
	int sending = 0;
	for (int i = 1; i < p->n_tx; i++)
		sending |= p->tx[i].on;
	for (int i = 1; i < p->n_tx && !sending; i++)
		p->tx[i].on = 1; /* an a=simulcast line we could not read: send every layer */
	twcc_rec_init(&p->twcc);
	p->running = 1;
	p->next_stun_us = now_us;
	p->next_report_us = now_us + REPORT_US;
	p->next_twcc_us = now_us + TWCC_US;
	p->next_nack_us = now_us + NACK_US;
	p->next_pli_us = now_us + p->cfg.pli_every_ms * 1000LL;
	return 0;
}

void synth_peer_stop(synth_peer *p)
{
	drop_transport(p);
}

int synth_peer_connected(const synth_peer *p)
{
	return p->srtp != NULL;
}

int synth_peer_fd(const synth_peer *p)
{
	return p->fd;
}

const synth_stats *synth_peer_stats(const synth_peer *p)
{
	return &p->st;
}

void synth_peer_set_downlink(synth_peer *p, int kbps)
{
	p->cfg.downlink_kbps = kbps > 0 ? kbps : 0;
}

int synth_peer_simulcast(const synth_peer *p)
{
	return p->sim_on;
}

/* ---- ICE and DTLS ------------------------------------------------------------------ */

static void send_check(synth_peer *p)
{
	char user[200];
	snprintf(user, sizeof user, "%s:%s", p->ans.ufrag, p->ufrag);
	for (int i = 0; i < 12; i++)
		p->txid[i] = (uint8_t)synth_rand(&p->rng);
	uint8_t out[512];
	ssize_t n = stun_build_binding_request(out, sizeof out, p->txid, user, 0x6e7f00ff,
	                                       !p->subscriber, p->subscriber ? 0 : p->tiebreaker,
	                                       (const uint8_t *)p->ans.pwd, strlen(p->ans.pwd));
	if (n <= 0)
		return;
	p->st.stun_checks++;
	if (synth_lose(p, p->cfg.send_loss)) {
		p->st.send_dropped++;
		return;
	}
	synth_send_raw(p, out, (size_t)n);
}

static void on_stun(synth_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
{
	stun_msg m;
	if (stun_parse(buf, len, &m) == 0 && m.type == STUN_BINDING_REQUEST) {
		/* A full ICE server (Janus) checks us too; the controlled side (a subscriber)
		 * counts its transport up once a check reached it. */
		if (synth_on_stun_request(p, buf, len, &m) == 0 && p->subscriber && !p->ice_ok)
			synth_ice_up(p, now_us);
		return;
	}
	if (stun_parse(buf, len, &m) != 0 || m.type != STUN_BINDING_SUCCESS ||
	    memcmp(m.txid, p->txid, 12) != 0 ||
	    stun_check_integrity(buf, len, &m, (const uint8_t *)p->ans.pwd, strlen(p->ans.pwd)) !=
	        0)
		return;
	p->st.stun_responses++;
	if (p->ice_ok)
		return;
	synth_ice_up(p, now_us);
}

void synth_ice_up(synth_peer *p, int64_t now_us)
{
	p->ice_ok = 1;
	p->next_stun_us = now_us + STUN_CONSENT_US;
	p->dtls = dtls_new(p->cfg.dtls, p->ans.server_active, p->ans.fp, dtls_out, p);
	if (p->dtls && !p->ans.server_active)
		dtls_start(p->dtls);
}

static void on_dtls(synth_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
{
	if (!p->dtls || dtls_feed(p->dtls, buf, len) != DTLS_CONNECTED)
		return;
	dtls_srtp_keys keys;
	if (dtls_get_srtp_keys(p->dtls, &keys) != 0 || !(p->srtp = secure_new(&keys)))
		return;
	p->st.dtls_handshakes++;
	/* Media starts with a keyframe, as a browser's encoder does. */
	for (int i = 0; i < p->n_tx; i++) {
		p->tx[i].next_us = now_us;
		p->tx[i].force_key = 1;
	}
}

static void on_datagram(synth_peer *p, uint8_t *buf, size_t len, int64_t now_us)
{
	uint8_t b = buf[0];
	if (b < 4) {
		on_stun(p, buf, len, now_us);
	} else if (b >= 20 && b <= 63) {
		on_dtls(p, buf, len, now_us);
	} else if (b >= 128 && b <= 191 && p->srtp) {
		if (synth_lose(p, p->cfg.recv_loss)) {
			p->st.recv_dropped++;
			return;
		}
		/* Without a limit, what is still queued from one drains first. */
		p->arrival_us = p->link_free_us > now_us ? p->link_free_us : now_us;
		if (p->cfg.downlink_kbps > 0) {
			/* The narrow link: each packet waits for those before it. */
			int64_t start = p->link_free_us > now_us ? p->link_free_us : now_us;
			if (start - now_us > QUEUE_MAX_US) {
				p->st.recv_dropped++;
				return;
			}
			p->link_free_us = start + (int64_t)len * 8000 / p->cfg.downlink_kbps;
			p->arrival_us = p->link_free_us;
		}
		if (rtp_is_rtcp(buf, len)) {
			if (secure_unprotect_rtcp(p->srtp, buf, &len) != 0)
				p->st.srtp_failures++;
			else
				synth_on_rtcp(p, buf, len, now_us);
		} else if (secure_unprotect_rtp(p->srtp, buf, &len) != 0) {
			p->st.srtp_failures++;
		} else {
			synth_on_rtp(p, buf, len, now_us);
		}
	}
}

#define RECV_BATCH 32

int synth_peer_poll(synth_peer *p, int64_t now_us)
{
	/* recvmmsg into the calling thread's buffers: one system call per 32 datagrams. */
	static _Thread_local uint8_t bufs[RECV_BATCH][SYNTH_PKT_MAX + SECURE_MAX_TRAILER + 64];
	static _Thread_local struct sockaddr_in from[RECV_BATCH];
	struct mmsghdr msg[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	int n = 0;
	for (;;) {
		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = SYNTH_PKT_MAX};
			msg[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i],
			                                      .msg_namelen = sizeof from[i],
			                                      .msg_iov = &iov[i],
			                                      .msg_iovlen = 1}};
		}
		int r = recvmmsg(p->fd, msg, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
		for (int i = 0; i < r; i++) {
			/* Only the server's address counts; anything else is not part of the call.
			 */
			if (!p->running || msg[i].msg_len == 0 ||
			    from[i].sin_port != p->server.sin_port ||
			    from[i].sin_addr.s_addr != p->server.sin_addr.s_addr)
				continue;
			on_datagram(p, bufs[i], msg[i].msg_len, now_us);
		}
		if (r < RECV_BATCH)
			break;
	}
	synth_flush(p);
	return n;
}

void synth_peer_run(synth_peer *p, int64_t now_us)
{
	if (!p->running)
		return;
	p->now_us = now_us;
	if (now_us >= p->next_stun_us) {
		send_check(p);
		p->next_stun_us = now_us + (p->ice_ok ? STUN_CONSENT_US : STUN_CONNECT_US);
	}
	if (p->dtls && !p->srtp && dtls_timeout_ms(p->dtls) == 0)
		dtls_handle_timeout(p->dtls);
	if (!p->srtp) {
		synth_flush(p);
		return;
	}
	synth_send_media(p, now_us);
	synth_send_feedback(p, now_us);
	synth_flush(p);
}

int64_t synth_peer_next_due(const synth_peer *p)
{
	if (!p->running)
		return NEVER;
	int64_t t = p->next_stun_us;
	if (p->dtls && !p->srtp)
		return t; /* the handshake runs on OpenSSL's wall-clock timers */
	if (!p->srtp)
		return t;
	const int64_t c[] = {p->next_report_us, p->next_twcc_us, p->next_nack_us, p->next_pli_us};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		if (c[i] < t)
			t = c[i];
	for (int i = 0; i < p->n_tx; i++)
		if (p->tx[i].on && p->tx[i].next_us < t)
			t = p->tx[i].next_us;
	return t;
}
