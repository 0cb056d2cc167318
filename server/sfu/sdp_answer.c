/* Building the ICE-lite answer to a parsed offer (see sdp.h). Everything echoed from the
 * offer was checked against its grammar by the parser; everything from the caller is checked
 * here (params_ok), so the answer cannot carry injected lines. */
#include "sfu/sdp.h"
#include "sfu/sdp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the answer ---------------------------------------------------------------------- */

typedef struct sdp_out {
	char *buf;
	size_t cap, len;
	int overflow;
} sdp_out;

/* Appends one line and its CR LF; on overflow remembers it and leaves the buffer
 * NUL-terminated. */
static void put(sdp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(sdp_out *o, const char *fmt, ...)
{
	if (o->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= o->cap - o->len) {
		o->overflow = 1;
		o->buf[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
	memcpy(o->buf + o->len, "\r\n", 3);
	o->len += 2;
}

/* A char-array field as a bounded "%.*s" argument pair, safe even without a NUL. */
#define FIELD(f) (int)strnlen((f), sizeof(f)), (f)

int sdp_media_accepted(const sdp_media *m)
{
	if (!m || m->rejected || !m->mid[0])
		return 0;
	if (m->kind == SDP_KIND_AUDIO)
		return m->pt_opus >= 0 && m->pt_opus < 128;
	if (m->kind == SDP_KIND_VIDEO)
		return m->pt_vp8 >= 0 && m->pt_vp8 < 128;
	return 0;
}

/* RFC 8829 section 5.3.1: the answer's direction given what the offerer wants and whether
 * the server has something to send on the m-line. */
static enum sdp_dir answer_dir(enum sdp_dir offered, int sending)
{
	switch (offered) {
	case SDP_SENDRECV:
		return sending ? SDP_SENDRECV : SDP_RECVONLY;
	case SDP_RECVONLY:
		return sending ? SDP_SENDONLY : SDP_INACTIVE;
	case SDP_SENDONLY:
		return SDP_RECVONLY;
	default:
		return SDP_INACTIVE;
	}
}

static const char *dir_name(enum sdp_dir d)
{
	static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
	return (unsigned)d < 4 ? names[d] : "inactive";
}

static const char *setup_name(enum sdp_setup server, enum sdp_setup offered)
{
	/* The answer must pick a role; derive it from the offer when the caller did not. */
	if (server == SDP_SETUP_NONE || server == SDP_SETUP_ACTPASS)
		server = offered == SDP_SETUP_PASSIVE ? SDP_SETUP_ACTIVE : SDP_SETUP_PASSIVE;
	return server == SDP_SETUP_ACTIVE ? "active" : "passive";
}

static int params_ok(const sdp_offer *offer, const sdp_answer_params *p)
{
	if (!cstr_ok(p->ice_ufrag, 4, 256, is_ice_char) ||
	    !cstr_ok(p->ice_pwd, 22, 256, is_ice_char) ||
	    !cstr_ok(p->fingerprint, 95, 95, is_hex_colon_char))
		return 0;
	if (p->n_candidates < 0 || p->n_candidates > SDP_MAX_CANDIDATES)
		return 0;
	for (int i = 0; i < p->n_candidates; i++)
		if (!cstr_ok(p->candidates[i].ip, 2, sizeof p->candidates[i].ip - 1, is_ip_char))
			return 0;
	for (int i = 0; i < offer->n_media; i++) {
		const sdp_answer_media *am = &p->media[i];
		if (!am->send_ssrc)
			continue;
		/* Empty names get defaults; anything else must be a single visible token. */
		if ((am->msid_stream[0] && !cstr_ok(am->msid_stream, 1, 39, is_token_char)) ||
		    (am->msid_track[0] && !cstr_ok(am->msid_track, 1, 39, is_token_char)) ||
		    (am->cname[0] && !cstr_ok(am->cname, 1, 31, is_visible_char)))
			return 0;
	}
	return 1;
}

static void put_ssrc(sdp_out *o, uint32_t ssrc, const char *cname, const char *stream,
                     const char *track)
{
	put(o, "a=ssrc:%u cname:%s", (unsigned)ssrc, cname);
	put(o, "a=ssrc:%u msid:%s %s", (unsigned)ssrc, stream, track);
}

static void put_send(sdp_out *o, const sdp_media *m, const sdp_answer_media *am)
{
	char track[40];
	const char *stream = am->msid_stream[0] ? am->msid_stream : "-";
	const char *cname = am->cname[0] ? am->cname : "madoguchi";
	if (am->msid_track[0])
		snprintf(track, sizeof track, "%.39s", am->msid_track);
	else
		snprintf(track, sizeof track, "mdg-%u", (unsigned)am->send_ssrc);
	put(o, "a=msid:%s %s", stream, track);
	int rtx = am->send_rtx_ssrc && m->kind == SDP_KIND_VIDEO && m->pt_vp8_rtx >= 0;
	if (rtx)
		put(o, "a=ssrc-group:FID %u %u", (unsigned)am->send_ssrc,
		    (unsigned)am->send_rtx_ssrc);
	put_ssrc(o, am->send_ssrc, cname, stream, track);
	if (rtx)
		put_ssrc(o, am->send_rtx_ssrc, cname, stream, track);
}

static void put_codecs(sdp_out *o, const sdp_media *m)
{
	int pt = m->kind == SDP_KIND_AUDIO ? m->pt_opus : m->pt_vp8;
	if (m->kind == SDP_KIND_AUDIO)
		put(o, "a=rtpmap:%d opus/48000/2", pt);
	else
		put(o, "a=rtpmap:%d VP8/90000", pt);
	if (m->fb_remb)
		put(o, "a=rtcp-fb:%d goog-remb", pt);
	if (m->fb_twcc)
		put(o, "a=rtcp-fb:%d transport-cc", pt);
	if (m->fb_fir)
		put(o, "a=rtcp-fb:%d ccm fir", pt);
	if (m->fb_nack)
		put(o, "a=rtcp-fb:%d nack", pt);
	if (m->fb_pli)
		put(o, "a=rtcp-fb:%d nack pli", pt);
	if (m->kind == SDP_KIND_AUDIO)
		put(o, "a=fmtp:%d " SDP_OPUS_FMTP, pt);
	if (m->kind == SDP_KIND_AUDIO && m->pt_red >= 0 && m->pt_red < 128) {
		put(o, "a=rtpmap:%d red/48000/2", m->pt_red);
		put(o, "a=fmtp:%d %d/%d", m->pt_red, pt, pt);
	}
	if (m->kind == SDP_KIND_VIDEO && m->pt_vp8_rtx >= 0) {
		put(o, "a=rtpmap:%d rtx/90000", m->pt_vp8_rtx);
		put(o, "a=fmtp:%d apt=%d", m->pt_vp8_rtx, pt);
	}
}

/* RFC 8853 section 5.3: the answerer receives the offered layers under the same rids. The
 * rids passed is_rid_char in the parser, so they cannot break the line. */
static void put_simulcast(sdp_out *o, const sdp_media *m)
{
	char list[SDP_MAX_RIDS * (SDP_RID_MAX + 1) + 1] = "";
	size_t n = 0;
	for (int i = 0; i < m->n_rids && i < SDP_MAX_RIDS; i++) {
		put(o, "a=rid:%.*s recv", FIELD(m->rids[i]));
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%.*s", i ? ";" : "",
		                      FIELD(m->rids[i]));
	}
	put(o, "a=simulcast:recv %s", list);
}

static void put_candidates(sdp_out *o, const sdp_answer_params *p)
{
	/* RFC 8445 5.1.2.1 priorities: host type preference 126 for UDP; RFC 6544 puts TCP
	 * lower. Local preferences fall with each further candidate of the same transport. */
	int n_udp = 0, n_tcp = 0;
	for (int i = 0; i < p->n_candidates; i++) {
		const sdp_candidate *c = &p->candidates[i];
		if (c->tcp) {
			uint32_t prio = (99u << 24) | ((uint32_t)(40959 - n_tcp++) << 8) | 255u;
			put(o, "a=candidate:%d 1 tcp %u %.*s %u typ host tcptype passive", i + 1,
			    (unsigned)prio, FIELD(c->ip), (unsigned)c->port);
		} else {
			uint32_t prio = (126u << 24) | ((uint32_t)(65535 - n_udp++) << 8) | 255u;
			put(o, "a=candidate:%d 1 udp %u %.*s %u typ host", i + 1, (unsigned)prio,
			    FIELD(c->ip), (unsigned)c->port);
		}
	}
	put(o, "a=end-of-candidates");
}

static void put_media(sdp_out *o, const sdp_offer *offer, int idx, const sdp_answer_params *p)
{
	const sdp_media *m = &offer->media[idx];
	const sdp_answer_media *am = &p->media[idx];
	const char *kind = m->kind == SDP_KIND_AUDIO   ? "audio"
	                   : m->kind == SDP_KIND_VIDEO ? "video"
	                                               : "application";
	int name_n = m->media_name[0] ? (int)strnlen(m->media_name, sizeof m->media_name) : 0;
	const char *name = name_n ? m->media_name : kind;
	if (!name_n)
		name_n = (int)strlen(kind);
	const char *proto = m->proto[0] ? m->proto : "UDP/TLS/RTP/SAVPF";
	int proto_n = (int)strnlen(proto, sizeof m->proto);

	if (!sdp_media_accepted(m)) {
		const char *fmt = m->first_fmt[0] ? m->first_fmt : "0";
		put(o, "m=%.*s 0 %.*s %.*s", name_n, name, proto_n, proto,
		    (int)strnlen(fmt, sizeof m->first_fmt), fmt);
		put(o, "c=IN IP4 0.0.0.0");
		if (m->mid[0])
			put(o, "a=mid:%.*s", FIELD(m->mid));
		return;
	}
	/* Chromium ignores the m-line address under ICE; the first candidate's is the most
	 * truthful value to put there. */
	const sdp_candidate *c0 = p->n_candidates ? &p->candidates[0] : NULL;
	unsigned port = c0 ? c0->port : 9;
	const char *ip = c0 ? c0->ip : "0.0.0.0";
	int ip6 = c0 && strchr(c0->ip, ':');
	char pts[16];
	/* RED first: libwebrtc sends RED only when the answer lists it before the codec it
	 * carries (webrtc_voice_engine.cc, "RED codec needs to be negotiated before"). */
	if (m->kind == SDP_KIND_AUDIO && m->pt_red >= 0 && m->pt_red < 128)
		snprintf(pts, sizeof pts, "%d %d", m->pt_red, m->pt_opus);
	else if (m->kind == SDP_KIND_AUDIO)
		snprintf(pts, sizeof pts, "%d", m->pt_opus);
	else if (m->pt_vp8_rtx >= 0)
		snprintf(pts, sizeof pts, "%d %d", m->pt_vp8, m->pt_vp8_rtx);
	else
		snprintf(pts, sizeof pts, "%d", m->pt_vp8);
	put(o, "m=%.*s %u %.*s %s", name_n, name, port, proto_n, proto, pts);
	put(o, "c=IN %s %s", ip6 ? "IP6" : "IP4", ip);
	put(o, "a=ice-ufrag:%s", p->ice_ufrag);
	put(o, "a=ice-pwd:%s", p->ice_pwd);
	put(o, "a=fingerprint:sha-256 %s", p->fingerprint);
	put(o, "a=setup:%s", setup_name(p->setup, offer->setup));
	put(o, "a=mid:%.*s", FIELD(m->mid));
	if (m->ext_audio_level > 0 && m->kind == SDP_KIND_AUDIO)
		put(o, "a=extmap:%d " URI_AUDIO_LEVEL, m->ext_audio_level);
	if (m->ext_abs_send_time > 0)
		put(o, "a=extmap:%d " URI_ABS_SEND_TIME, m->ext_abs_send_time);
	if (m->ext_twcc > 0)
		put(o, "a=extmap:%d " URI_TWCC, m->ext_twcc);
	if (m->ext_mid > 0)
		put(o, "a=extmap:%d " URI_MID, m->ext_mid);
	int simulcast = am->simulcast && m->n_rids >= 2 && m->ext_rid > 0;
	if (simulcast) {
		put(o, "a=extmap:%d " URI_RID, m->ext_rid);
		if (m->ext_rrid > 0)
			put(o, "a=extmap:%d " URI_RRID, m->ext_rrid);
	}
	enum sdp_dir dir = answer_dir(m->dir, am->send_ssrc != 0);
	put(o, "a=%s", dir_name(dir));
	put(o, "a=rtcp-mux");
	if (m->rtcp_rsize)
		put(o, "a=rtcp-rsize");
	put_codecs(o, m);
	if (simulcast)
		put_simulcast(o, m);
	if (am->send_ssrc && (dir == SDP_SENDRECV || dir == SDP_SENDONLY))
		put_send(o, m, am);
	put_candidates(o, p);
}

/* A session id that differs between sessions without needing a random source here: FNV-1a
 * over the server's fresh ICE credentials, kept below 2^62 as RFC 8866 suggests. */
static unsigned long long session_id(const sdp_answer_params *p)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *s = p->ice_ufrag; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	for (const char *s = p->ice_pwd; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (unsigned long long)(h & 0x3fffffffffffffffull);
}

int sdp_build_answer(const sdp_offer *offer, const sdp_answer_params *p, char *out, size_t cap)
{
	if (!out || cap == 0)
		return -1;
	out[0] = '\0';
	if (!offer || !p || offer->n_media < 0 || offer->n_media > SDP_MAX_MEDIA ||
	    !params_ok(offer, p))
		return -1;
	sdp_out o = {.buf = out, .cap = cap};
	put(&o, "v=0");
	put(&o, "o=- %llu 2 IN IP4 127.0.0.1", session_id(p));
	put(&o, "s=-");
	put(&o, "t=0 0");
	put(&o, "a=ice-lite");

	char group[SDP_MAX_MEDIA * 33 + 16] = "a=group:BUNDLE";
	size_t glen = strlen(group);
	int n_accepted = 0;
	for (int i = 0; i < offer->n_media; i++) {
		const sdp_media *m = &offer->media[i];
		if (!sdp_media_accepted(m))
			continue;
		glen += (size_t)snprintf(group + glen, sizeof group - glen, " %.*s", FIELD(m->mid));
		n_accepted++;
	}
	if (n_accepted)
		put(&o, "%s", group);
	put(&o, "a=msid-semantic: WMS *");
	for (int i = 0; i < offer->n_media; i++)
		put_media(&o, offer, i, p);
	if (o.overflow) {
		out[0] = '\0';
		return -1;
	}
	return (int)o.len;
}
