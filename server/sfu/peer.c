/* One connected client: its negotiation (offer in, ICE-lite answer out), ICE-lite checks,
 * the DTLS handshake, SRTP in both directions and the RTCP it sends us. Forwarding itself
 * lives in forward.c. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "rtp/stun.h"
#include "sfu/sfu_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int addr_equal(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return 0;
}

static size_t addr_len(const struct sockaddr *a)
{
	return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

struct sfu_peer *peer_by_addr(struct sfu *s, const struct sockaddr *addr)
{
	for (struct sfu_peer *p = s->peers; p; p = p->next)
		for (int i = 0; i < p->n_addrs; i++)
			if (addr_equal(addr, &p->addrs[i]))
				return p;
	return NULL;
}

static const struct sockaddr *peer_dest(const struct sfu_peer *p)
{
	return p->selected >= 0 ? (const struct sockaddr *)&p->addrs[p->selected] : NULL;
}

static void dtls_send(void *user, const uint8_t *data, size_t len)
{
	struct sfu_peer *p = user;
	const struct sockaddr *to = peer_dest(p);
	if (to)
		transport_send(p->sfu, to, data, len);
}

/* Remembers an address that passed a check; returns its index. */
static int peer_add_addr(struct sfu_peer *p, const struct sockaddr *from)
{
	for (int i = 0; i < p->n_addrs; i++)
		if (addr_equal(from, &p->addrs[i]))
			return i;
	int i = p->n_addrs < PEER_MAX_ADDRS ? p->n_addrs++ : PEER_MAX_ADDRS - 1;
	memset(&p->addrs[i], 0, sizeof p->addrs[i]);
	memcpy(&p->addrs[i], from, addr_len(from));
	return i;
}

void peer_on_stun(struct sfu *s, const uint8_t *buf, size_t len, const struct sockaddr *from)
{
	stun_msg m;
	if (stun_parse(buf, len, &m) != 0) {
		s->stats.stun_bad++;
		return;
	}
	if (m.type != STUN_BINDING_REQUEST)
		return; /* indications are keepalives; responses are not expected by ICE-lite */
	s->stats.stun_requests++;
	if (!m.username || !m.has_integrity) {
		s->stats.stun_bad++;
		return;
	}
	/* USERNAME is "<our ufrag>:<their ufrag>". */
	const uint8_t *colon = memchr(m.username, ':', m.username_len);
	size_t ufrag_len = colon ? (size_t)(colon - m.username) : m.username_len;
	struct sfu_peer *p = NULL;
	for (struct sfu_peer *q = s->peers; q; q = q->next)
		if (q->negotiated && strlen(q->ufrag) == ufrag_len &&
		    memcmp(q->ufrag, m.username, ufrag_len) == 0) {
			p = q;
			break;
		}
	if (!p ||
	    stun_check_integrity(buf, len, &m, (const uint8_t *)p->pwd, strlen(p->pwd)) != 0 ||
	    (m.has_fingerprint && stun_check_fingerprint(buf, len, &m) != 0)) {
		s->stats.stun_bad++;
		return;
	}
	uint8_t out[256];
	ssize_t n = stun_build_binding_success(out, sizeof out, m.txid, from,
	                                       (const uint8_t *)p->pwd, strlen(p->pwd));
	if (n > 0)
		transport_send(s, from, out, (size_t)n);

	int idx = peer_add_addr(p, from);
	int was_selected = p->selected >= 0;
	if (m.use_candidate || !was_selected)
		p->selected = idx;
	if (!was_selected) {
		LOG_INFO("sfu", "ice connected peer=%s", p->label);
		if (!p->dtls_server && p->dtls)
			dtls_start(p->dtls);
	}
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
	const struct sockaddr *to = peer_dest(p);
	if (!p->srtp || !to || len > SFU_PACKET_MAX)
		return;
	uint8_t *buf = p->sfu->tx_buf;
	memcpy(buf, rtcp, len);
	if (secure_protect_rtcp(p->srtp, buf, &len) != 0)
		return;
	transport_send(p->sfu, to, buf, len);
}

void peer_request_keyframe(struct sfu_peer *source, in_track *t, int64_t now_us)
{
	if (!t || !t->ssrc || now_us - t->last_pli_us < PLI_MIN_INTERVAL_US)
		return;
	uint8_t pli[16];
	int n = rtcp_build_pli(pli, sizeof pli, source->rtcp_ssrc, t->ssrc);
	if (n <= 0)
		return;
	t->last_pli_us = now_us;
	peer_send_rtcp(source, pli, (size_t)n);
	source->sfu->stats.pli_sent++;
}

/* A receiver asks for a keyframe on one of its slots: pass it to whoever feeds the slot. */
static void on_keyframe_request(struct sfu_peer *p, uint32_t slot_ssrc, int64_t now_us)
{
	p->sfu->stats.pli_received++;
	for (int i = 0; i < p->n_out; i++) {
		fwd_slot *slot = &p->out[i];
		if (slot->out_ssrc != slot_ssrc || !slot->source)
			continue;
		peer_request_keyframe(
		    slot->source,
		    fwd_track_by_role(slot->source, slot->source_role, SDP_KIND_VIDEO), now_us);
	}
}

static void on_rtcp(struct sfu_peer *p, const uint8_t *buf, size_t len, int64_t now_us)
{
	rtcp_iter it;
	rtcp_pkt pkt;
	rtcp_iter_init(&it, buf, len);
	p->sfu->stats.rtcp_received++;
	while (rtcp_next(&it, &pkt) == 1) {
		if (pkt.pt == RTCP_PSFB && pkt.fmt == RTCP_FMT_PLI) {
			on_keyframe_request(p, pkt.media_ssrc, now_us);
		} else if (pkt.pt == RTCP_PSFB && pkt.fmt == RTCP_FMT_FIR) {
			uint32_t ssrcs[4];
			uint8_t seqnrs[4];
			int n = rtcp_fir_entries(&pkt, ssrcs, seqnrs, 4);
			for (int i = 0; i < n; i++)
				on_keyframe_request(p, ssrcs[i], now_us);
		}
		/* Receiver reports, NACKs and transport-cc feedback about our own sending are
		 * the next issue's work (loss repair and downlink estimation). */
	}
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
		if (strlen(tmid) == mid_len && memcmp(tmid, mid, mid_len) == 0 &&
		    h->ssrc != t->rtx_ssrc && (t->ssrc == 0 || h->payload_type == t->pt)) {
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
	int64_t now = clock_mono_us();
	if (rtp_is_rtcp(buf, len)) {
		if (secure_unprotect_rtcp(p->srtp, buf, &len) != 0) {
			s->stats.srtp_unprotect_failures++;
			return;
		}
		on_rtcp(p, buf, len, now);
		return;
	}
	if (secure_unprotect_rtp(p->srtp, buf, &len) != 0) {
		s->stats.srtp_unprotect_failures++;
		return;
	}
	rtp_hdr h;
	if (rtp_parse(buf, len, &h) != 0) {
		s->stats.rtp_dropped_unknown++;
		return;
	}
	uint16_t tseq;
	if (p->ext_twcc && rtp_get_twcc_seq(buf, &h, (uint8_t)p->ext_twcc, &tseq) == 0)
		twcc_rec_add(&p->twcc, tseq, now);
	in_track *t = track_for_packet(p, buf, &h);
	if (!t) {
		s->stats.rtp_dropped_unknown++; /* RTX and padding probes land here too */
		return;
	}
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
	fwd_tick(p, now_us);
}

/* Drops the transport state of a negotiation (before a new offer, or at free). */
void peer_reset_media(struct sfu_peer *p)
{
	dtls_free(p->dtls);
	p->dtls = NULL;
	secure_free(p->srtp);
	p->srtp = NULL;
	p->n_addrs = 0;
	p->selected = -1;
	p->negotiated = 0;
	p->n_in = 0;
	p->n_out = 0;
	memset(p->mids, 0, sizeof p->mids);
	twcc_rec_init(&p->twcc);
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

/* Fills in/out tracks from the parsed offer; returns 0 or -1 with err. */
static int peer_take_tracks(struct sfu_peer *p, const sdp_offer *o, const sfu_track_role *roles,
                            int n_roles, sdp_answer_params *ap, char *err, size_t errlen)
{
	for (int i = 0; i < o->n_media; i++) {
		const sdp_media *m = &o->media[i];
		enum sfu_role role = role_for_mid(roles, n_roles, m->mid);
		int usable = !m->rejected && (m->kind == SDP_KIND_AUDIO   ? m->pt_opus >= 0
		                              : m->kind == SDP_KIND_VIDEO ? m->pt_vp8 >= 0
		                                                          : 0);
		if (role == SFU_ROLE_NONE || !usable)
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
		if (role != SFU_ROLE_SLOT && (m->dir == SDP_SENDRECV || m->dir == SDP_SENDONLY)) {
			in_track *t = &p->in[p->n_in++];
			memset(t, 0, sizeof *t);
			t->mline = i;
			t->role = role;
			t->kind = m->kind;
			t->ssrc = m->n_ssrc ? m->ssrc[0] : 0;
			t->rtx_ssrc = m->rtx_ssrc;
			t->pt = pt;
		}
		if (m->dir == SDP_SENDRECV || m->dir == SDP_RECVONLY) {
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
			sl->clock_rate = m->kind == SDP_KIND_AUDIO ? 48000 : 90000;
			sl->wait_keyframe = m->kind == SDP_KIND_VIDEO;
			sdp_answer_media *am = &ap->media[i];
			am->send_ssrc = sl->out_ssrc;
			/* mids are at most 31 bytes; the precisions keep the names within their
			 * 40-byte fields. */
			snprintf(am->msid_stream, sizeof am->msid_stream, "mdg-%.32s",
			         role == SFU_ROLE_SLOT ? m->mid : "primary");
			snprintf(am->msid_track, sizeof am->msid_track, "mdg-%s-%.24s",
			         role_names[role], m->mid);
			snprintf(am->cname, sizeof am->cname, "madoguchi");
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
	if (!o->has_fingerprint) {
		snprintf(err, errlen, "offer has no sha-256 fingerprint");
		goto done;
	}
	peer_reset_media(p);
	p->ext_mid = p->ext_twcc = p->ext_audio_level = 0;
	if (peer_take_tracks(p, o, roles, n_roles, ap, err, errlen) != 0) {
		peer_reset_media(p);
		goto done;
	}
	if (rand_hex(p->ufrag, 4) != 0 || rand_hex(p->pwd, 12) != 0) {
		snprintf(err, errlen, "no randomness");
		goto done;
	}
	p->dtls_server = o->setup != SDP_SETUP_PASSIVE;
	memcpy(p->remote_fp, o->fingerprint, sizeof p->remote_fp);

	ap->ice_ufrag = p->ufrag;
	ap->ice_pwd = p->pwd;
	ap->fingerprint = dtls_ctx_fingerprint(p->sfu->dtls_ctx);
	ap->setup = p->dtls_server ? SDP_SETUP_PASSIVE : SDP_SETUP_ACTIVE;
	for (int i = 0; i < p->sfu->n_ips && i < SDP_MAX_CANDIDATES; i++) {
		snprintf(ap->candidates[i].ip, sizeof ap->candidates[i].ip, "%s", p->sfu->ips[i]);
		ap->candidates[i].port = (uint16_t)p->sfu->port;
		ap->candidates[i].tcp = 0;
		ap->n_candidates++;
	}
	if (sdp_build_answer(o, ap, out, 32768) < 0) {
		snprintf(err, errlen, "answer too large");
		peer_reset_media(p);
		goto done;
	}
	p->dtls = dtls_new(p->sfu->dtls_ctx, p->dtls_server, p->remote_fp, dtls_send, p);
	if (!p->dtls) {
		snprintf(err, errlen, "dtls setup failed");
		peer_reset_media(p);
		goto done;
	}
	p->negotiated = 1;
	fwd_rewire(p->sfu);
	LOG_INFO("sfu", "negotiated peer=%s tracks_in=%d slots=%d dtls=%s", p->label, p->n_in,
	         p->n_out, p->dtls_server ? "server" : "client");
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
