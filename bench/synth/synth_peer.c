/* The synthetic peer's transport and its sending side: the socket, ICE checks and consent,
 * the DTLS client, SRTP, real Opus and VP8 media (synth_media.c) packetized as a browser does
 * (RFC 7587, RFC 7741 with 15-bit picture ids and TL0PICIDX), simulcast layers with rid
 * (RFC 8851, 8852, 8853), retransmissions from the send cache, and the RTCP it sends and
 * acts on. The receiving side's bookkeeping is in synth_rx.c. */
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

#define AUDIO_FRAME_US  20000
#define VIDEO_FRAME_US  33333
#define VIDEO_MAX_CHUNK 1100
#define VP8_DESC        6 /* X, I L T, 15-bit picture id, TL0PICIDX, TID/Y */
#define FRAME_MAX       (512 * 1024)
#define CLIP_MAX_FRAMES 300     /* 10 s at 30 fps */
#define QUEUE_MAX_US    400000  /* the simulated narrow downlink's queue */
#define NTX             4       /* audio, camera layers f, h, q */
#define STUN_CONNECT_US 50000   /* checks until the first answer */
#define STUN_CONSENT_US 2500000 /* consent checks afterwards, as Chromium sends them */
#define REPORT_US       1000000
#define TWCC_US         100000
#define NACK_US         20000
#define NEVER           INT64_MAX

typedef struct synth_cached {
	uint16_t seq;
	uint16_t len;
	uint8_t data[SYNTH_PKT_MAX];
} synth_cached;

typedef struct synth_tx {
	int line; /* SYNTH_MIC or SYNTH_CAMERA */
	int video;
	int on;    /* sends (a camera layer beyond the first only with simulcast) */
	int layer; /* 0 q, 1 h, 2 f (drawn into the picture) */
	const char *rid;
	int w, h, kbps;
	uint32_t ssrc, rtx_ssrc;
	int pt, rtx_pt; /* rtx_pt -1: retransmit on the media SSRC */
	uint16_t seq, rtx_seq;
	uint32_t ts0;
	int64_t next_us, next_key_us;
	int force_key;
	uint16_t picture_id;
	uint8_t tl0picidx;
	uint32_t packets, octets; /* for sender reports */
	const synth_clip *clip;   /* replay: the loop and where in it */
	int clip_pos;
	synth_venc *venc;    /* live */
	synth_cached *cache; /* video packets by seq % SYNTH_CACHE */
} synth_tx;

struct synth_peer {
	synth_config cfg;
	char label[64];
	int fd;
	struct sockaddr_in server;
	uint64_t rng;
	char ufrag[16], pwd[32];
	synth_answer ans;
	int running;

	int ice_ok;
	uint8_t txid[12];
	int64_t next_stun_us;
	uint64_t tiebreaker;
	dtls *dtls;
	secure *srtp;

	synth_tx tx[NTX];
	int n_tx;
	int sim_on; /* the answer accepted simulcast: every camera layer sends */
	int ext_rid, ext_rrid;
	synth_aenc *aenc; /* live audio */
	int audio_pos;    /* replayed audio */
	int audio_ref;
	uint8_t *frame; /* scratch for one encoded picture */
	synth_vdec *vdec[SYNTH_LINES];
	synth_adec *adec[SYNTH_LINES];
	int64_t link_free_us; /* the narrow downlink is busy until then */
	int64_t arrival_us;   /* when the packet being handled arrived through it */
	int64_t next_decoder_pli_us;
	uint16_t twcc_seq;
	uint32_t rtcp_ssrc;
	uint32_t doc_ssrc, doc_rtx_ssrc; /* declared on the document m-line, never used */

	synth_rx rx[SYNTH_LINES];
	int rx_on[SYNTH_LINES];
	synth_slot_stats slot[SYNTH_LINES];
	twcc_rec twcc;
	int64_t next_report_us, next_twcc_us, next_nack_us, next_pli_us;

	synth_stats st;
	uint8_t buf[SYNTH_PKT_MAX + SECURE_MAX_TRAILER + 64];
};

static int lose(synth_peer *p, double rate)
{
	if (rate <= 0)
		return 0;
	return (double)(synth_rand(&p->rng) >> 11) * (1.0 / 9007199254740992.0) < rate;
}

static uint32_t nonzero32(synth_peer *p)
{
	uint32_t v;
	do
		v = (uint32_t)synth_rand(&p->rng);
	while (v == 0);
	return v;
}

static void send_raw(synth_peer *p, const uint8_t *data, size_t len)
{
	/* A full socket buffer drops, as a network would. */
	(void)sendto(p->fd, data, len, 0, (const struct sockaddr *)&p->server, sizeof p->server);
}

static void dtls_out(void *user, const uint8_t *data, size_t len)
{
	send_raw(user, data, len);
}

/* Protects a plain RTP or RTCP packet into the scratch buffer and sends it, unless the
 * simulated network loses it. */
static void send_srtp(synth_peer *p, const uint8_t *pkt, size_t len, int rtcp)
{
	if (!p->srtp || len > SYNTH_PKT_MAX)
		return;
	memcpy(p->buf, pkt, len);
	int rc = rtcp ? secure_protect_rtcp(p->srtp, p->buf, &len)
	              : secure_protect_rtp(p->srtp, p->buf, &len);
	if (rc != 0)
		return;
	if (lose(p, p->cfg.send_loss)) {
		p->st.send_dropped++;
		return;
	}
	send_raw(p, p->buf, len);
}

static const char *const line_names[SYNTH_LINES] = {"mic", "camera", "document", "slotAudio",
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

static void hex(synth_peer *p, char *out, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", (unsigned)(synth_rand(&p->rng) & 0xff));
}

int synth_peer_offer(synth_peer *p, char *out, size_t cap)
{
	hex(p, p->ufrag, 4);
	hex(p, p->pwd, 12);
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

synth_slot_stats synth_peer_slot_stats(const synth_peer *p, const char *name)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (strcmp(line_names[i], name) == 0)
			return p->slot[i];
	return (synth_slot_stats){0};
}

int synth_peer_video_check(const synth_peer *p, const char *name, synth_video_check *out)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (strcmp(line_names[i], name) == 0 && p->vdec[i]) {
			*out = *synth_vdec_check(p->vdec[i]);
			return 0;
		}
	return -1;
}

int synth_peer_audio_check(const synth_peer *p, const char *name, synth_audio_check *out)
{
	for (int i = 0; i < SYNTH_LINES; i++)
		if (strcmp(line_names[i], name) == 0 && p->adec[i]) {
			*out = *synth_adec_check(p->adec[i]);
			return 0;
		}
	return -1;
}

void synth_peer_set_downlink(synth_peer *p, int kbps)
{
	p->cfg.downlink_kbps = kbps > 0 ? kbps : 0;
}

int synth_peer_simulcast(const synth_peer *p)
{
	return p->sim_on;
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
	send_srtp(p, pkt, hl + n, 0);
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
		send_srtp(p, pkt, len, 0);
	}
	if (is_key)
		p->st.keyframes_sent++;
}

static void send_media(synth_peer *p, int64_t now_us)
{
	synth_tx *a = &p->tx[0];
	while (a->next_us <= now_us) {
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
	send_srtp(p, pkt, len, 0);
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

static void on_rtcp(synth_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
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
		send_srtp(p, out, (size_t)len, 1);
	}
}

static void send_feedback(synth_peer *p, int64_t now_us)
{
	uint8_t out[1200];
	int n;
	if (now_us >= p->next_twcc_us) {
		p->next_twcc_us = now_us + TWCC_US;
		uint32_t media = p->rx_on[SYNTH_CAMERA] ? p->rx[SYNTH_CAMERA].ssrc : 0;
		while ((n = twcc_rec_build(&p->twcc, p->rtcp_ssrc, media, out, sizeof out)) > 0) {
			p->st.twcc_sent++;
			send_srtp(p, out, (size_t)n, 1);
		}
	}
	if (now_us >= p->next_nack_us) {
		p->next_nack_us = now_us + NACK_US;
		for (int i = 0; i < SYNTH_LINES; i++)
			if (p->rx_on[i] && p->rx[i].video &&
			    (n = synth_rx_nack(&p->rx[i], p->rtcp_ssrc, now_us, out, sizeof out)) >
			        0) {
				p->st.nacks_sent++;
				send_srtp(p, out, (size_t)n, 1);
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
				send_srtp(p, out, (size_t)n, 1);
			}
	}
	if (now_us >= p->next_pli_us) {
		p->next_pli_us = now_us + p->cfg.pli_every_ms * 1000LL;
		for (int i = 0; i < SYNTH_LINES; i++)
			if (p->rx_on[i] && p->rx[i].video && p->rx[i].started &&
			    (n = rtcp_build_pli(out, sizeof out, p->rtcp_ssrc, p->rx[i].ssrc)) >
			        0) {
				p->st.plis_sent++;
				send_srtp(p, out, (size_t)n, 1);
			}
	}
	if (now_us >= p->next_report_us) {
		p->next_report_us = now_us + REPORT_US;
		send_reports(p, now_us);
	}
}

/* ---- ICE and DTLS ------------------------------------------------------------------ */

static void send_check(synth_peer *p)
{
	char user[200];
	snprintf(user, sizeof user, "%s:%s", p->ans.ufrag, p->ufrag);
	for (int i = 0; i < 12; i++)
		p->txid[i] = (uint8_t)synth_rand(&p->rng);
	uint8_t out[512];
	ssize_t n =
	    stun_build_binding_request(out, sizeof out, p->txid, user, 0x6e7f00ff, 1, p->tiebreaker,
	                               (const uint8_t *)p->ans.pwd, strlen(p->ans.pwd));
	if (n <= 0)
		return;
	p->st.stun_checks++;
	if (lose(p, p->cfg.send_loss)) {
		p->st.send_dropped++;
		return;
	}
	send_raw(p, out, (size_t)n);
}

static void on_stun(synth_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
{
	stun_msg m;
	if (stun_parse(buf, len, &m) != 0 || m.type != STUN_BINDING_SUCCESS ||
	    memcmp(m.txid, p->txid, 12) != 0 ||
	    stun_check_integrity(buf, len, &m, (const uint8_t *)p->ans.pwd, strlen(p->ans.pwd)) !=
	        0)
		return;
	p->st.stun_responses++;
	if (p->ice_ok)
		return;
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

static void on_rtp(synth_peer *p, uint8_t *buf, size_t len, int64_t now_us)
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

static void on_datagram(synth_peer *p, uint8_t *buf, size_t len, int64_t now_us)
{
	uint8_t b = buf[0];
	if (b < 4) {
		on_stun(p, buf, len, now_us);
	} else if (b >= 20 && b <= 63) {
		on_dtls(p, buf, len, now_us);
	} else if (b >= 128 && b <= 191 && p->srtp) {
		if (lose(p, p->cfg.recv_loss)) {
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
				on_rtcp(p, buf, len, now_us);
		} else if (secure_unprotect_rtp(p->srtp, buf, &len) != 0) {
			p->st.srtp_failures++;
		} else {
			on_rtp(p, buf, len, now_us);
		}
	}
}

int synth_peer_poll(synth_peer *p, int64_t now_us)
{
	int n = 0;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r =
		    recvfrom(p->fd, p->buf, SYNTH_PKT_MAX, 0, (struct sockaddr *)&from, &fl);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n++;
		/* Only the server's address counts; anything else is not part of the call. */
		if (!p->running || from.sin_port != p->server.sin_port ||
		    from.sin_addr.s_addr != p->server.sin_addr.s_addr)
			continue;
		on_datagram(p, p->buf, (size_t)r, now_us);
	}
	return n;
}

void synth_peer_run(synth_peer *p, int64_t now_us)
{
	if (!p->running)
		return;
	if (now_us >= p->next_stun_us) {
		send_check(p);
		p->next_stun_us = now_us + (p->ice_ok ? STUN_CONSENT_US : STUN_CONNECT_US);
	}
	if (p->dtls && !p->srtp && dtls_timeout_ms(p->dtls) == 0)
		dtls_handle_timeout(p->dtls);
	if (!p->srtp)
		return;
	send_media(p, now_us);
	send_feedback(p, now_us);
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
