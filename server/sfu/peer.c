/* One connected client: its negotiation (offer in, ICE-lite answer out), ICE-lite checks,
 * the DTLS handshake, SRTP in both directions and the RTCP it sends us. Forwarding itself
 * lives in forward.c. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dtls_send(void *user, const uint8_t *data, size_t len)
{
	struct sfu_peer *p = user;
	const sfu_addr *to = ice_dest(p);
	if (to)
		transport_send(p->sfu, to, data, len);
}

void peer_on_dtls(struct sfu_peer *p, const uint8_t *buf, size_t len)
{
	if (!p->dtls)
		return;
	int rc = dtls_feed(p->dtls, buf, len);
	if (rc == DTLS_CONNECTED) {
		dtls_srtp_keys keys;
		if (dtls_get_srtp_keys(p->dtls, &keys) != 0 || !(p->srtp = secure_new(&keys))) {
			LOG_ERROR("sfu", "srtp setup failed peer=%s", p->label);
			p->sfu->stats.dtls_failures++;
			return;
		}
		p->sfu->stats.dtls_handshakes++;
		LOG_INFO("sfu", "dtls connected peer=%s profile=%s", p->label,
		         keys.profile == DTLS_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM"
		                                                    : "AES_CM_128_HMAC_SHA1_80");
	} else if (rc == DTLS_ERR) {
		p->sfu->stats.dtls_failures++;
		LOG_WARN("sfu", "dtls failed peer=%s reason=\"%s\"", p->label,
		         dtls_last_error(p->dtls));
	}
}

void peer_send_rtcp(struct sfu_peer *p, const uint8_t *rtcp, size_t len)
{
	const sfu_addr *to = ice_dest(p);
	if (!p->srtp || !to || len > SFU_PACKET_MAX)
		return;
	uint8_t *buf = p->sfu->tx_buf;
	memcpy(buf, rtcp, len);
	if (secure_protect_rtcp(p->srtp, buf, &len) != 0)
		return;
	transport_send(p->sfu, to, buf, len);
}

/* The track whose RTX stream (RFC 4588) ssrc is, if any. */
static in_track *rtx_track(struct sfu_peer *p, uint32_t ssrc)
{
	for (int i = 0; i < p->n_in; i++)
		if (p->in[i].rtx_ssrc && p->in[i].rtx_ssrc == ssrc)
			return &p->in[i];
	return NULL;
}

/* Turns a retransmission on t's RTX stream back into the packet it repeats. Padding-only
 * RTX packets are the sender's bandwidth probes: counted and dropped. */
static int unwrap_rtx(struct sfu_peer *p, in_track *t, uint8_t *buf, size_t *len, rtp_hdr *h)
{
	struct sfu *s = p->sfu;
	if (h->payload_len < 2 || t->rtx_pt < 0 || h->payload_type != t->rtx_pt) {
		s->stats.rtp_probes++;
		return -1;
	}
	if (rtx_unwrap(buf, len, (uint8_t)t->pt, t->ssrc) != 0 || rtp_parse(buf, *len, h) != 0) {
		s->stats.rtp_dropped_unknown++;
		return -1;
	}
	return 0;
}

/* 1 when the header extension `id` of pkt holds exactly the string want. */
static int ext_equals(uint8_t *pkt, const rtp_hdr *h, int id, const char *want)
{
	size_t n;
	uint8_t *v = id ? rtp_ext_find(pkt, h, (uint8_t)id, &n) : NULL;
	return v && strlen(want) == n && memcmp(want, v, n) == 0;
}

/* A simulcast layer's SSRC (rid extension) or its RTX SSRC (repaired rid extension, RFC
 * 8852), learned from the first packets, which carry them with the mid. Returns the layer
 * track for a media packet; NULL for an RTX packet (learned: the caller then finds it by
 * its RTX SSRC) or one that names no layer. */
static in_track *learn_layer(struct sfu_peer *p, uint8_t *pkt, const rtp_hdr *h, int mline)
{
	for (int i = 0; i < p->n_in; i++) {
		in_track *t = &p->in[i];
		if (t->mline != mline || !t->n_layers)
			continue;
		if (ext_equals(pkt, h, p->ext_rid, t->rid) && h->payload_type == t->pt &&
		    h->ssrc != t->rtx_ssrc) {
			t->ssrc = h->ssrc;
			fwd_rewire(p->sfu);
			return t;
		}
		if (ext_equals(pkt, h, p->ext_rrid, t->rid) && h->ssrc != t->ssrc) {
			t->rtx_ssrc = h->ssrc;
			return NULL;
		}
	}
	return NULL;
}

static in_track *track_for_packet(struct sfu_peer *p, uint8_t *pkt, const rtp_hdr *h)
{
	for (int i = 0; i < p->n_in; i++)
		if (p->in[i].ssrc == h->ssrc)
			return &p->in[i];
	/* An SSRC the SDP did not declare: learn it from the mid header extension. */
	size_t mid_len;
	uint8_t *mid = p->ext_mid ? rtp_ext_find(pkt, h, (uint8_t)p->ext_mid, &mid_len) : NULL;
	if (!mid)
		return NULL;
	for (int i = 0; i < p->n_in; i++) {
		in_track *t = &p->in[i];
		const char *tmid = p->mids[t->mline];
		if (strlen(tmid) != mid_len || memcmp(tmid, mid, mid_len) != 0)
			continue;
		if (t->n_layers)
			return learn_layer(p, pkt, h, t->mline);
		if (h->ssrc != t->rtx_ssrc && (t->ssrc == 0 || h->payload_type == t->pt)) {
			t->ssrc = h->ssrc;
			fwd_rewire(p->sfu);
			return t;
		}
	}
	return NULL;
}

void peer_on_srtp(struct sfu_peer *p, uint8_t *buf, size_t len)
{
	struct sfu *s = p->sfu;
	if (!p->srtp || len < 12) {
		s->stats.rtp_dropped_unknown++;
		return;
	}
	int64_t now = sfu_now(s);
	int rtcp = rtp_is_rtcp(buf, len);
	int rc = rtcp ? secure_unprotect_rtcp(p->srtp, buf, &len)
	              : secure_unprotect_rtp(p->srtp, buf, &len);
	if (rc != 0) {
		if (rc == SECURE_ERR_SSRC_LIMIT)
			s->stats.srtp_ssrc_refused++;
		else
			s->stats.srtp_unprotect_failures++;
		return;
	}
	if (rtcp) {
		fb_on_rtcp(p, buf, len, now);
		return;
	}
	rtp_hdr h;
	if (rtp_parse(buf, len, &h) != 0) {
		s->stats.rtp_dropped_unknown++;
		return;
	}
	uint16_t tseq;
	if (p->ext_twcc && rtp_get_twcc_seq(buf, &h, (uint8_t)p->ext_twcc, &tseq) == 0)
		twcc_rec_add(&p->twcc, tseq, s->rx_arrival_us ? s->rx_arrival_us : now);
	in_track *t = track_for_packet(p, buf, &h);
	if (!t) {
		t = rtx_track(p, h.ssrc);
		if (!t || unwrap_rtx(p, t, buf, &len, &h) != 0)
			return;
	}
	int filled = nack_gen_on_packet(&t->nack, h.seq, now);
	if (filled < 0) {
		s->stats.rtp_duplicates++;
		return; /* a retransmission of what already arrived */
	}
	if (filled > 0)
		s->stats.rtx_received++;
	rxstats_on_packet(&t->rx, h.seq, h.timestamp, now);
	if (p->probe)
		probe_on_rtp(p, t, buf, &h);
	fwd_rtp(p, t, buf, &h, now);
}

void peer_tick(struct sfu_peer *p, int64_t now_us)
{
	if (p->dtls && !dtls_is_connected(p->dtls)) {
		long ms = dtls_timeout_ms(p->dtls);
		if (ms == 0) {
			dtls_handle_timeout(p->dtls);
			if (dtls_has_failed(p->dtls)) {
				LOG_WARN("sfu", "dtls handshake timed out peer=%s", p->label);
				p->sfu->stats.dtls_failures++;
				dtls_free(p->dtls);
				p->dtls = NULL;
			}
		}
	}
	if (p->srtp && p->twcc.pending && now_us - p->twcc_sent_us >= TWCC_INTERVAL_US) {
		uint8_t fb[1280];
		uint32_t media = p->n_in ? p->in[0].ssrc : 0;
		int n;
		/* One build covers what arrived since the last; a long gap may need several. */
		while ((n = twcc_rec_build(&p->twcc, p->rtcp_ssrc, media, fb, sizeof fb)) > 0) {
			peer_send_rtcp(p, fb, (size_t)n);
			p->sfu->stats.twcc_feedback_sent++;
		}
		p->twcc_sent_us = now_us;
	}
	fb_tick(p, now_us);
	fwd_tick(p, now_us);
	bwprobe_send_tick(p, now_us);
}

/* Drops the transport state of a negotiation (before a new offer, or at free). */
/* Forgets the tracks and slots of a negotiation, keeping the transport. */
static void reset_tracks(struct sfu_peer *p)
{
	p->n_in = 0;
	for (int i = 0; i < p->n_out; i++)
		pktcache_free(p->out[i].cache);
	p->n_out = 0;
	memset(p->mids, 0, sizeof p->mids);
	p->ext_mid = p->ext_twcc = p->ext_audio_level = p->ext_rid = p->ext_rrid = 0;
}

void peer_reset_media(struct sfu_peer *p)
{
	dtls_free(p->dtls);
	p->dtls = NULL;
	secure_free(p->srtp);
	p->srtp = NULL;
	ice_forget_paths(p);
	p->consent_us = 0;
	p->consent_lost = 0;
	p->negotiated = 0;
	reset_tracks(p);
	twcc_rec_init(&p->twcc);
	bwe_init(&p->bwe, BWE_INITIAL_BPS);
	p->bwe_ready = 0;
	memset(&p->bwp, 0, sizeof p->bwp);
	p->rtt_us = 0;
	memset(&p->rtx_budget, 0, sizeof p->rtx_budget);
	memset(p->sr_sent, 0, sizeof p->sr_sent);
	p->rr_sent_us = p->remb_sent_us = p->remb_checked_us = 0;
	p->remb_last_bps = 0;
}

static const char *const role_names[] = {"none", "mic", "camera", "document", "slot"};

enum sfu_role sfu_role_from_name(const char *name)
{
	for (int i = 1; i < 5; i++)
		if (strcmp(name, role_names[i]) == 0)
			return (enum sfu_role)i;
	return SFU_ROLE_NONE;
}

static enum sfu_role role_for_mid(const sfu_track_role *roles, int n, const char *mid)
{
	for (int i = 0; i < n; i++)
		if (strcmp(roles[i].mid, mid) == 0)
			return roles[i].role;
	return SFU_ROLE_NONE;
}

/* An m-line the server can carry: not rejected, with Opus (audio) or VP8 (video). */
static int media_usable(const sdp_media *m)
{
	return !m->rejected && (m->kind == SDP_KIND_AUDIO   ? m->pt_opus >= 0
	                        : m->kind == SDP_KIND_VIDEO ? m->pt_vp8 >= 0
	                                                    : 0);
}

static int media_sends(const sdp_media *m)
{
	return m->dir == SDP_SENDRECV || m->dir == SDP_SENDONLY;
}

static int media_receives(const sdp_media *m)
{
	return m->dir == SDP_SENDRECV || m->dir == SDP_RECVONLY;
}

/* What the answer says of one slot: its SSRCs, and the stream and track names Chromium
 * groups it by (the primary party's mic and camera share a stream, for lip sync). */
static void answer_slot(const fwd_slot *sl, sdp_answer_media *am)
{
	am->send_ssrc = sl->out_ssrc;
	am->send_rtx_ssrc = sl->rtx_ssrc;
	/* mids are at most 31 bytes; the precisions keep the names within their 40-byte
	 * fields. */
	snprintf(am->msid_stream, sizeof am->msid_stream, "mdg-%.32s",
	         sl->role == SFU_ROLE_SLOT ? sl->mid : "primary");
	snprintf(am->msid_track, sizeof am->msid_track, "mdg-%s-%.24s", role_names[sl->role],
	         sl->mid);
	snprintf(am->cname, sizeof am->cname, "madoguchi");
}

/* How many simulcast layers the server takes on m-line m of role `role` when p already has
 * n_in tracks: the offer's rids for a camera (never the document, which keeps full
 * resolution), when they fit in the track table and simulcast is on (sfu_config); 0: one
 * stream, and the answer carries no simulcast. */
static int simulcast_layers(const struct sfu_peer *p, const sdp_media *m, enum sfu_role role,
                            int n_in)
{
	if (!p->sfu->simulcast || role != SFU_ROLE_CAMERA || m->kind != SDP_KIND_VIDEO ||
	    m->n_rids < 2 || m->n_rids > LAYERSEL_MAX || !m->ext_rid ||
	    n_in + m->n_rids > SDP_MAX_MEDIA)
		return 0;
	return m->n_rids;
}

/* Whether offer o describes exactly the m-lines negotiated last time (mids, roles, kinds,
 * directions, payload types, SSRCs). A new offer from the same PeerConnection that does is
 * an ICE restart, not a new session. */
static int same_layout(const struct sfu_peer *p, const sdp_offer *o, const sfu_track_role *roles,
                       int n_roles)
{
	int ni = 0, no = 0;
	for (int i = 0; i < o->n_media; i++) {
		const sdp_media *m = &o->media[i];
		enum sfu_role role = role_for_mid(roles, n_roles, m->mid);
		if (role == SFU_ROLE_NONE || !media_usable(m))
			continue;
		int pt = m->kind == SDP_KIND_AUDIO ? m->pt_opus : m->pt_vp8;
		int red = m->kind == SDP_KIND_AUDIO ? m->pt_red : -1;
		if (role != SFU_ROLE_SLOT && media_sends(m)) {
			int layers = simulcast_layers(p, m, role, ni);
			for (int k = 0; k < (layers ? layers : 1); k++) {
				if (ni >= p->n_in)
					return 0;
				const in_track *t = &p->in[ni++];
				uint32_t ssrc = m->n_ssrc ? m->ssrc[0] : 0;
				if (t->mline != i || t->role != role || t->kind != m->kind ||
				    t->pt != pt || t->red_pt != red || t->n_layers != layers ||
				    (layers && strcmp(t->rid, m->rids[k]) != 0) ||
				    (!layers && ssrc && t->ssrc && ssrc != t->ssrc))
					return 0;
			}
		}
		if (media_receives(m)) {
			if (no >= p->n_out)
				return 0;
			const fwd_slot *sl = &p->out[no++];
			if (sl->mline != i || sl->role != role || sl->kind != m->kind ||
			    sl->pt != pt || sl->red_pt != red || strcmp(sl->mid, m->mid) != 0)
				return 0;
		}
	}
	return ni == p->n_in && no == p->n_out;
}

/* Fills in/out tracks from the parsed offer; returns 0 or -1 with err. */
static int peer_take_tracks(struct sfu_peer *p, const sdp_offer *o, const sfu_track_role *roles,
                            int n_roles, sdp_answer_params *ap, char *err, size_t errlen)
{
	for (int i = 0; i < o->n_media; i++) {
		const sdp_media *m = &o->media[i];
		enum sfu_role role = role_for_mid(roles, n_roles, m->mid);
		if (role == SFU_ROLE_NONE || !media_usable(m))
			continue;
		if ((role == SFU_ROLE_MIC && m->kind != SDP_KIND_AUDIO) ||
		    ((role == SFU_ROLE_CAMERA || role == SFU_ROLE_DOCUMENT) &&
		     m->kind != SDP_KIND_VIDEO)) {
			snprintf(err, errlen, "mid %s: role %s does not fit a %s m-line", m->mid,
			         role_names[role], m->kind == SDP_KIND_AUDIO ? "audio" : "video");
			return -1;
		}
		int pt = m->kind == SDP_KIND_AUDIO ? m->pt_opus : m->pt_vp8;
		snprintf(p->mids[i], sizeof p->mids[i], "%s", m->mid);
		if (role != SFU_ROLE_SLOT && media_sends(m)) {
			/* A simulcast camera is one track per layer, its SSRCs learned from the
			 * rid extensions of the first packets. */
			int layers = simulcast_layers(p, m, role, p->n_in);
			for (int k = 0; k < (layers ? layers : 1); k++) {
				in_track *t = &p->in[p->n_in++];
				memset(t, 0, sizeof *t);
				t->mline = i;
				t->role = role;
				t->kind = m->kind;
				t->layer = k;
				t->n_layers = layers;
				if (layers)
					snprintf(t->rid, sizeof t->rid, "%s", m->rids[k]);
				t->ssrc = !layers && m->n_ssrc ? m->ssrc[0] : 0;
				t->rtx_ssrc =
				    !layers && m->kind == SDP_KIND_VIDEO ? m->rtx_ssrc : 0;
				t->pt = pt;
				t->rtx_pt = m->kind == SDP_KIND_VIDEO ? m->pt_vp8_rtx : -1;
				t->red_pt = m->kind == SDP_KIND_AUDIO ? m->pt_red : -1;
				t->nack_ok = m->fb_nack;
				nack_gen_init(&t->nack);
				rxstats_init(&t->rx, m->kind == SDP_KIND_AUDIO ? 48000 : 90000);
			}
			ap->media[i].simulcast = layers > 0;
			if (layers) {
				p->ext_rid = m->ext_rid;
				p->ext_rrid = m->ext_rrid;
			}
		}
		if (media_receives(m)) {
			fwd_slot *sl = &p->out[p->n_out++];
			memset(sl, 0, sizeof *sl);
			sl->mline = i;
			sl->role = role;
			sl->kind = m->kind;
			snprintf(sl->mid, sizeof sl->mid, "%s", m->mid);
			do
				sl->out_ssrc = rand_u32();
			while (sl->out_ssrc == 0);
			sl->pt = pt;
			sl->red_pt = m->kind == SDP_KIND_AUDIO ? m->pt_red : -1;
			sl->clock_rate = m->kind == SDP_KIND_AUDIO ? 48000 : 90000;
			sl->wait_keyframe = m->kind == SDP_KIND_VIDEO;
			vp8mung_init(&sl->mung);
			layersel_init(&sl->sel);
			if (m->kind == SDP_KIND_VIDEO && m->pt_vp8_rtx >= 0 && m->fb_nack) {
				do
					sl->rtx_ssrc = rand_u32();
				while (sl->rtx_ssrc == 0 || sl->rtx_ssrc == sl->out_ssrc);
				sl->rtx_pt = m->pt_vp8_rtx;
				sl->rtx_seq = (uint16_t)rand_u32();
			}
			answer_slot(sl, &ap->media[i]);
		}
		if (!p->ext_mid)
			p->ext_mid = m->ext_mid;
		if (!p->ext_twcc)
			p->ext_twcc = m->ext_twcc;
		if (!p->ext_audio_level)
			p->ext_audio_level = m->ext_audio_level;
	}
	return 0;
}

/* The SSRCs the server sends p on (slots and their RTX streams); returns the count. */
static int slot_ssrcs(const struct sfu_peer *p, uint32_t out[2 * SDP_MAX_MEDIA])
{
	int n = 0;
	for (int i = 0; i < p->n_out; i++) {
		out[n++] = p->out[i].out_ssrc;
		if (p->out[i].rtx_ssrc)
			out[n++] = p->out[i].rtx_ssrc;
	}
	return n;
}

/* Tracks renegotiated over the same DTLS session: SRTP streams are kept for the SSRCs the
 * new tracks declare, those of other SSRCs freed, so that each renegotiation does not leave
 * streams behind (and the inbound SSRC limit counts what is in use). The old slots' SSRCs
 * are never sent on again. */
static void retain_streams(struct sfu_peer *p, const uint32_t *gone, int n_gone)
{
	uint32_t keep[2 * SDP_MAX_MEDIA];
	int n = 0;
	for (int i = 0; i < p->n_in; i++) {
		if (p->in[i].ssrc)
			keep[n++] = p->in[i].ssrc;
		if (p->in[i].rtx_ssrc)
			keep[n++] = p->in[i].rtx_ssrc;
	}
	secure_retain(p->srtp, keep, n, gone, n_gone);
}

int sfu_peer_offer(sfu_peer *p, const char *sdp, size_t sdp_len, const sfu_track_role *roles,
                   int n_roles, char **answer, char *err, size_t errlen)
{
	*answer = NULL;
	sdp_offer *o = calloc(1, sizeof *o);
	sdp_answer_params *ap = calloc(1, sizeof *ap);
	char *out = malloc(32768);
	int rc = -1;
	if (!o || !ap || !out) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (sdp_parse_offer(sdp, sdp_len, o, err, errlen) != 0)
		goto done;
	if (p->sfu->audio_red_off)
		for (int i = 0; i < o->n_media; i++)
			o->media[i].pt_red = -1; /* the answer then lists plain Opus only */
	if (!o->has_fingerprint) {
		snprintf(err, errlen, "offer has no sha-256 fingerprint");
		goto done;
	}
	/* A later offer from the same PeerConnection (same certificate) while DTLS is up keeps
	 * the DTLS session and SRTP keys: the browser keeps its side of them. With the same
	 * m-lines it is an ICE restart (RFC 8445 section 9): only the ICE credentials change,
	 * SSRCs and wiring stay, and media keeps flowing on the old path until the browser's
	 * checks with the new credentials select one. With other m-lines the tracks are
	 * negotiated afresh over the same transport. Any other offer starts from scratch. */
	int same_pc = p->srtp && dtls_is_connected(p->dtls) &&
	              memcmp(p->remote_fp, o->fingerprint, sizeof p->remote_fp) == 0;
	int restart = same_pc && same_layout(p, o, roles, n_roles);
	char ufrag[sizeof p->ufrag], pwd[sizeof p->pwd];
	if (ice_new_credentials(p->sfu, p, ufrag, pwd) != 0) {
		snprintf(err, errlen, "no randomness");
		goto done;
	}
	if (restart) {
		for (int i = 0; i < p->n_out; i++)
			answer_slot(&p->out[i], &ap->media[p->out[i].mline]);
		for (int i = 0; i < p->n_in; i++)
			if (p->in[i].n_layers)
				ap->media[p->in[i].mline].simulcast = 1;
	} else {
		uint32_t gone[2 * SDP_MAX_MEDIA];
		int n_gone = 0;
		if (same_pc) {
			n_gone = slot_ssrcs(p, gone);
			reset_tracks(p);
		} else {
			peer_reset_media(p);
		}
		if (peer_take_tracks(p, o, roles, n_roles, ap, err, errlen) != 0) {
			peer_reset_media(p);
			fwd_rewire(p->sfu);
			goto done;
		}
		if (same_pc) {
			retain_streams(p, gone, n_gone);
		} else {
			p->dtls_server = o->setup != SDP_SETUP_PASSIVE;
			memcpy(p->remote_fp, o->fingerprint, sizeof p->remote_fp);
		}
	}

	ap->ice_ufrag = ufrag;
	ap->ice_pwd = pwd;
	ap->fingerprint = dtls_ctx_fingerprint(p->sfu->dtls_ctx);
	ap->setup = p->dtls_server ? SDP_SETUP_PASSIVE : SDP_SETUP_ACTIVE;
	/* UDP host candidates, then (where enabled) passive TCP ones on the same port number:
	 * the TCP ones have the lower priority, so a browser uses them only when UDP fails. */
	for (int tcp = 0; tcp <= (p->sfu->tcp != NULL); tcp++)
		for (int i = 0; i < p->sfu->n_ips && ap->n_candidates < SDP_MAX_CANDIDATES; i++) {
			sdp_candidate *c = &ap->candidates[ap->n_candidates++];
			snprintf(c->ip, sizeof c->ip, "%s", p->sfu->ips[i]);
			c->port = (uint16_t)p->sfu->port;
			c->tcp = tcp;
		}
	if (sdp_build_answer(o, ap, out, 32768) < 0) {
		snprintf(err, errlen, "answer too large");
		if (!restart) {
			peer_reset_media(p);
			fwd_rewire(p->sfu);
		}
		goto done;
	}
	memcpy(p->ufrag, ufrag, sizeof p->ufrag);
	memcpy(p->pwd, pwd, sizeof p->pwd);
	if (same_pc) {
		/* The old path keeps its consent for a while: checks on it now fail (new
		 * password) until the browser moves to the new credentials. */
		p->consent_us = sfu_now(p->sfu);
		ice_new_generation(p);
		p->sfu->stats.ice_restarts++;
		if (!restart)
			fwd_rewire(p->sfu);
		LOG_INFO("sfu", "ice restart peer=%s tracks=%s", p->label,
		         restart ? "kept" : "renegotiated");
	} else {
		p->dtls = dtls_new(p->sfu->dtls_ctx, p->dtls_server, p->remote_fp, dtls_send, p);
		if (!p->dtls) {
			snprintf(err, errlen, "dtls setup failed");
			peer_reset_media(p);
			goto done;
		}
		p->negotiated = 1;
		fwd_rewire(p->sfu);
		LOG_INFO("sfu", "negotiated peer=%s tracks_in=%d slots=%d dtls=%s", p->label,
		         p->n_in, p->n_out, p->dtls_server ? "server" : "client");
	}
	*answer = out;
	out = NULL;
	rc = 0;
done:
	free(o);
	free(ap);
	free(out);
	return rc;
}

int sfu_peer_connected(const sfu_peer *p)
{
	return p->srtp != NULL;
}
