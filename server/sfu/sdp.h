/* SDP (RFC 8866) as the server needs it: parse a browser's offer (JSEP, BUNDLE, rtcp-mux)
 * and build the ICE-lite answer (RFC 8445 section 2.5, RFC 8829).
 * Pure functions over strings; no I/O. */
#ifndef MDG_SFU_SDP_H
#define MDG_SFU_SDP_H

#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_MEDIA      16
#define SDP_MAX_SSRC       8
#define SDP_MAX_CANDIDATES 8
#define SDP_MAX_RIDS       3  /* simulcast layers taken from an offer (RFC 8853) */
#define SDP_RID_MAX        16 /* bytes of a rid-id, with the NUL */

/* The Opus parameters every answer asks for (RFC 7587): in-band FEC, frames down to 10 ms,
 * and no stereo (counter microphones are mono; stereo would double the audio rate). */
#define SDP_OPUS_FMTP "minptime=10;useinbandfec=1"

enum sdp_kind { SDP_KIND_AUDIO, SDP_KIND_VIDEO, SDP_KIND_OTHER };
enum sdp_dir { SDP_SENDRECV, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE };
enum sdp_setup { SDP_SETUP_NONE, SDP_SETUP_ACTPASS, SDP_SETUP_ACTIVE, SDP_SETUP_PASSIVE };

typedef struct sdp_media {
	enum sdp_kind kind;
	char media_name[16]; /* "audio", "video", "application", ... as offered */
	char first_fmt[32];  /* the first format of the m-line, echoed when rejecting it */
	char mid[32];
	enum sdp_dir dir; /* as the offerer says it */
	/* Port 0 in the offer without a=bundle-only, or bundle-only with a mid outside the BUNDLE
	 * group: the m-line is disabled (RFC 3264 section 6). A port-0 bundle-only m-line whose
	 * mid is in the group is live and rides the group's transport (RFC 8843 section 6). */
	int rejected;
	int bundle_only;        /* a=bundle-only */
	int extmap_allow_mixed; /* a=extmap-allow-mixed (RFC 8285 section 6) at either level */
	char proto[32];         /* e.g. UDP/TLS/RTP/SAVPF */
	/* Payload types the server supports, -1 when absent from the offer. */
	int pt_opus;
	int pt_vp8;
	int pt_vp8_rtx;      /* rtx with apt = pt_vp8 */
	/* Audio RED (RFC 2198) over Opus: red/48000/2 whose fmtp names only pt_opus
	 * ("111/111", as Chromium offers it); -1 when not offered that way. */
	int pt_red;
	char opus_fmtp[128]; /* the offer's fmtp for Opus (the answer writes its own) */
	/* rtcp-fb on the chosen codec */
	int fb_nack, fb_pli, fb_fir, fb_twcc, fb_remb;
	/* Header extension ids (0 = not offered). */
	int ext_mid, ext_twcc, ext_abs_send_time, ext_audio_level, ext_toffset;
	int ext_rid, ext_rrid; /* sdes:rtp-stream-id and sdes:repaired-rtp-stream-id */
	/* Simulcast the offerer sends (RFC 8853, RFC 8851): the rids of a=simulcast:send in its
	 * order, each declared by a=rid:<id> send, first alternative of each stream, paused
	 * (~) ones left out. n_rids is 0 unless at least two remain and the rid extension is
	 * offered, so an m-line is either simulcast or not. */
	char rids[SDP_MAX_RIDS][SDP_RID_MAX];
	int n_rids;
	int rtcp_mux, rtcp_rsize;
	/* SSRCs the offerer will send on this m-line; ssrc[0] is the primary. */
	uint32_t ssrc[SDP_MAX_SSRC];
	int n_ssrc;
	uint32_t rtx_ssrc;  /* from a=ssrc-group:FID primary rtx, 0 when absent */
	char ice_ufrag[64]; /* per m-line; normally equal across the bundle */
	char ice_pwd[128];
} sdp_media;

typedef struct sdp_offer {
	char ice_ufrag[64];
	char ice_pwd[128];
	int ice_lite;
	uint8_t fingerprint[32]; /* sha-256 of the offerer's DTLS certificate */
	int has_fingerprint;
	enum sdp_setup setup;
	char bundle_mids[SDP_MAX_MEDIA][32]; /* the first a=group:BUNDLE */
	int n_bundle;
	sdp_media media[SDP_MAX_MEDIA];
	int n_media;
} sdp_offer;

/* Parses an offer. Returns 0, or -1 with a human-readable reason in err (e.g.
 * "no ice-ufrag", "m-line 3: unsupported protocol", "no sha-256 fingerprint").
 * Requirements checked: v=0, at least one m-line, ICE credentials, a sha-256 fingerprint,
 * every non-rejected m-line bundled, rtcp-mux on every m-line. */
int sdp_parse_offer(const char *sdp, size_t len, sdp_offer *out, char *err, size_t errlen);

typedef struct sdp_candidate {
	char ip[64]; /* IPv4 or IPv6 literal */
	uint16_t port;
	int tcp; /* 0 = UDP host candidate; 1 = TCP passive (RFC 6544) */
} sdp_candidate;

/* What the server sends on each m-line (index = offer media index). */
typedef struct sdp_answer_media {
	uint32_t send_ssrc;     /* 0: the server sends nothing on this m-line */
	uint32_t send_rtx_ssrc; /* 0: no rtx stream declared (needs send_ssrc and offered rtx) */
	char msid_stream[40];   /* a=msid stream id, used when send_ssrc != 0 */
	char msid_track[40];
	char cname[32];
	/* Accept the offer's simulcast (a=rid:<id> recv, a=simulcast:recv, the rid extensions);
	 * 0 answers without them, so the offerer sends one stream. */
	int simulcast;
} sdp_answer_media;

typedef struct sdp_answer_params {
	const char *ice_ufrag;
	const char *ice_pwd;
	const char *fingerprint; /* "AB:CD:…" sha-256 of the server certificate */
	enum sdp_setup setup;    /* the server's role: PASSIVE when the offer says actpass */
	sdp_candidate candidates[SDP_MAX_CANDIDATES];
	int n_candidates;
	sdp_answer_media media[SDP_MAX_MEDIA];
} sdp_answer_params;

/* Builds the answer: session-level a=ice-lite, one BUNDLE group of the accepted mids,
 * per m-line the one codec kept (Opus for audio, VP8 + its rtx for video; anything else
 * rejected with port 0); for audio the server's own Opus fmtp (SDP_OPUS_FMTP: in-band FEC,
 * 10 ms frames allowed, mono) and, when pt_red >= 0, RED listed before Opus (Chromium sends
 * RED only when the answer prefers it) with fmtp "opus/opus"; rtcp-mux, the rtcp-fb the server implements (nack, nack pli,
 * ccm fir, transport-cc, goog-remb), the extmaps it understands (sdes:mid, transport-cc,
 * abs-send-time, ssrc-audio-level), direction (offer sendrecv + send_ssrc -> sendrecv,
 * offer sendrecv without -> recvonly, offer recvonly + send_ssrc -> sendonly, ...),
 * a=ssrc cname/msid lines for send_ssrc (plus an FID group for send_rtx_ssrc), candidates
 * and a=end-of-candidates on every accepted m-line. Returns the length written
 * (NUL-terminated), or -1 if cap is too small or a parameter cannot be written safely
 * (missing ICE credentials or fingerprint, characters outside their grammar). */
int sdp_build_answer(const sdp_offer *offer, const sdp_answer_params *p, char *out, size_t cap);

/* 1 when the answer keeps this m-line: offered with a non-zero port and either audio with
 * Opus or video with VP8. Index i of sdp_offer.media is accepted iff this returns 1. */
int sdp_media_accepted(const sdp_media *m);

#endif
