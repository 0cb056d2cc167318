/* SDP offer parsing and ICE-lite answer building (see sdp.h).
 *
 * The parser works on borrowed slices of the caller's buffer, which need not be
 * NUL-terminated, and copies into fixed-size fields only after checking both the length and
 * the characters allowed by the field's grammar. Everything the answer echoes from the offer
 * (mids, protocols, the Opus fmtp) passes such a check, so a hostile offer can neither
 * overflow a field nor inject lines into the answer. */
#include "sfu/sdp.h"

#include "sfu/sdp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A borrowed slice of the input. */
typedef struct sdp_str {
	const char *p;
	size_t n;
} sdp_str;

/* ---- small string helpers ---------------------------------------------------------- */

static int str_eq(sdp_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int str_ieq(sdp_str s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
			return 0;
	return 1;
}

static sdp_str str_trim(sdp_str s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* Takes the next space-separated token from *rest; returns 0 when none is left. */
static int next_token(sdp_str *rest, sdp_str *tok)
{
	*rest = str_trim(*rest);
	if (!rest->n)
		return 0;
	size_t i = 0;
	while (i < rest->n && rest->p[i] != ' ' && rest->p[i] != '\t')
		i++;
	*tok = (sdp_str){rest->p, i};
	rest->p += i;
	rest->n -= i;
	return 1;
}

/* Splits s at the first c: left gets what precedes it, right what follows. Returns 0 (and
 * left = s, right empty) when c does not occur. */
static int str_split(sdp_str s, char c, sdp_str *left, sdp_str *right)
{
	const char *at = s.n ? memchr(s.p, c, s.n) : NULL;
	if (!at) {
		*left = s;
		*right = (sdp_str){s.p + s.n, 0};
		return 0;
	}
	*left = (sdp_str){s.p, (size_t)(at - s.p)};
	*right = (sdp_str){at + 1, s.n - (size_t)(at - s.p) - 1};
	return 1;
}

/* Decimal without sign or spaces, at most max; huge values fail instead of wrapping. */
static int parse_uint(sdp_str s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s.n || s.n > 20)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s.p[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int is_proto_char(int c)
{
	return c == '/' || is_token_char(c);
}

/* Printable ASCII including the space, for fmtp parameters. */
static int is_text_char(int c)
{
	return c >= 0x20 && c < 0x7f;
}

/* Copies s into dst (cap bytes with the NUL) if it fits and every character passes ok. */
static int copy_checked(char *dst, size_t cap, sdp_str s, int (*ok)(int))
{
	if (!s.n || s.n >= cap)
		return -1;
	for (size_t i = 0; i < s.n; i++)
		if (!ok((unsigned char)s.p[i]))
			return -1;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

/* ---- line iteration ------------------------------------------------------------------ */

/* Yields the next non-empty line of buf[0..len) from *pos, without its CR LF or LF. */
static int next_line(const char *buf, size_t len, size_t *pos, sdp_str *line)
{
	while (*pos < len) {
		const char *start = buf + *pos;
		const char *nl = memchr(start, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - start) : len - *pos;
		*pos += n + (nl ? 1 : 0);
		if (n && start[n - 1] == '\r')
			n--;
		if (n) {
			*line = (sdp_str){start, n};
			return 1;
		}
	}
	return 0;
}

/* Splits "a=name:value" into name and value; returns 0 for lines that are not attributes. */
static int attr_split(sdp_str line, sdp_str *name, sdp_str *value)
{
	if (line.n < 3 || line.p[0] != 'a')
		return 0;
	str_split((sdp_str){line.p + 2, line.n - 2}, ':', name, value);
	return 1;
}

/* ---- parsing state ------------------------------------------------------------------- */

/* Transport attributes that may sit at session or media level. */
typedef struct sdp_transport {
	char ufrag[64];
	char pwd[128];
	uint8_t fp[32];
	int has_fp;
	enum sdp_setup setup;
	int has_setup;
} sdp_transport;

typedef struct sdp_parser {
	char *err;
	size_t errlen;
	sdp_transport session;
	enum sdp_dir session_dir;
	int extmap_allow_mixed; /* at session level: applies to every m-line */
	sdp_str mline[SDP_MAX_MEDIA];
	sdp_str body[SDP_MAX_MEDIA]; /* the lines after the m-line, up to the next one */
} sdp_parser;

static int fail(sdp_parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(sdp_parser *ps, const char *fmt, ...)
{
	if (ps->err && ps->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int hexval(int c)
{
	c = lower(c);
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "sha-256 AA:BB:..." -> 1 with the 32 bytes; 0 for another hash function, which the
 * server cannot check and so ignores; -1 for a malformed sha-256 value. */
static int parse_fingerprint(sdp_str v, uint8_t fp[32])
{
	sdp_str hash, hex;
	if (!next_token(&v, &hash) || !str_ieq(hash, "sha-256"))
		return 0;
	if (!next_token(&v, &hex) || hex.n != 32 * 3 - 1)
		return -1;
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval((unsigned char)hex.p[i * 3]);
		int lo = hexval((unsigned char)hex.p[i * 3 + 1]);
		if (hi < 0 || lo < 0 || (i < 31 && hex.p[i * 3 + 2] != ':'))
			return -1;
		fp[i] = (uint8_t)(hi << 4 | lo);
	}
	return 1;
}

/* Direction attributes; returns 1 when name was one. */
static int parse_dir(sdp_str name, enum sdp_dir *dir)
{
	static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
	for (int i = 0; i < 4; i++) {
		if (str_eq(name, names[i])) {
			*dir = (enum sdp_dir)i;
			return 1;
		}
	}
	return 0;
}

/* ice-ufrag, ice-pwd, fingerprint and setup, at either level. Returns 1 when the attribute
 * was one of these, 0 when not, -1 (with the reason) when it was malformed. */
static int parse_transport_attr(sdp_parser *ps, const char *where, sdp_str name, sdp_str v,
                                sdp_transport *t)
{
	v = str_trim(v);
	if (str_eq(name, "ice-ufrag")) {
		if (v.n < 4 || copy_checked(t->ufrag, sizeof t->ufrag, v, is_ice_char) != 0)
			return fail(ps, "%s: bad ice-ufrag", where);
		return 1;
	}
	if (str_eq(name, "ice-pwd")) {
		if (v.n < 22 || copy_checked(t->pwd, sizeof t->pwd, v, is_ice_char) != 0)
			return fail(ps, "%s: bad ice-pwd", where);
		return 1;
	}
	if (str_eq(name, "fingerprint")) {
		uint8_t fp[32];
		int r = parse_fingerprint(v, fp);
		if (r < 0)
			return fail(ps, "%s: malformed sha-256 fingerprint", where);
		if (r > 0 && !t->has_fp) {
			memcpy(t->fp, fp, sizeof fp);
			t->has_fp = 1;
		}
		return 1;
	}
	if (str_eq(name, "setup")) {
		if (str_ieq(v, "actpass"))
			t->setup = SDP_SETUP_ACTPASS;
		else if (str_ieq(v, "active"))
			t->setup = SDP_SETUP_ACTIVE;
		else if (str_ieq(v, "passive"))
			t->setup = SDP_SETUP_PASSIVE;
		else if (str_ieq(v, "holdconn"))
			t->setup = SDP_SETUP_NONE;
		else
			return fail(ps, "%s: unknown setup value", where);
		t->has_setup = 1;
		return 1;
	}
	return 0;
}

static int parse_bundle(sdp_parser *ps, sdp_str v, sdp_offer *out)
{
	sdp_str sem, mid;
	if (!next_token(&v, &sem) || !str_eq(sem, "BUNDLE") || out->n_bundle)
		return 0; /* other groups (LS, ...) and later BUNDLE groups do not concern us */
	while (next_token(&v, &mid)) {
		if (out->n_bundle == SDP_MAX_MEDIA)
			return fail(ps, "too many mids in BUNDLE");
		if (copy_checked(out->bundle_mids[out->n_bundle], 32, mid, is_token_char) != 0)
			return fail(ps, "bad mid in BUNDLE");
		out->n_bundle++;
	}
	return 0;
}

static int parse_session_line(sdp_parser *ps, sdp_str line, sdp_offer *out)
{
	sdp_str name, v;
	if (!attr_split(line, &name, &v))
		return 0;
	int r = parse_transport_attr(ps, "session", name, v, &ps->session);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (str_eq(name, "ice-lite"))
		out->ice_lite = 1;
	else if (str_eq(name, "extmap-allow-mixed"))
		ps->extmap_allow_mixed = 1;
	else if (str_eq(name, "group"))
		return parse_bundle(ps, v, out);
	else
		parse_dir(name, &ps->session_dir);
	return 0;
}

/* ---- media sections ------------------------------------------------------------------ */

/* Per m-line codec bookkeeping of the first pass: which payload types name which codec. */
typedef struct sdp_codecs {
	uint8_t opus[128], vp8[128], rtx[128], red[128];
} sdp_codecs;

static int add_ssrc(sdp_media *m, uint32_t ssrc)
{
	for (int i = 0; i < m->n_ssrc; i++)
		if (m->ssrc[i] == ssrc)
			return 0;
	if (m->n_ssrc == SDP_MAX_SSRC)
		return 0; /* more than a simulcast set: the extras are not ours to route */
	m->ssrc[m->n_ssrc++] = ssrc;
	return 0;
}

static int parse_u32(sdp_str s, uint32_t *out)
{
	uint64_t v;
	if (parse_uint(s, UINT32_MAX, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_pt(sdp_str s)
{
	uint64_t v;
	return parse_uint(s, 127, &v) == 0 ? (int)v : -1;
}

/* "<pt> <name>/<clock>[/<channels>]" */
static int parse_rtpmap(sdp_str v, sdp_codecs *c)
{
	sdp_str pt_s, enc, name, rest, clock, chans;
	if (!next_token(&v, &pt_s) || !next_token(&v, &enc))
		return -1;
	int pt = parse_pt(pt_s);
	if (pt < 0)
		return -1;
	str_split(enc, '/', &name, &rest);
	str_split(rest, '/', &clock, &chans);
	if (str_ieq(name, "opus") && str_eq(clock, "48000") && str_eq(chans, "2"))
		c->opus[pt] = 1;
	else if (str_ieq(name, "VP8") && str_eq(clock, "90000"))
		c->vp8[pt] = 1;
	else if (str_ieq(name, "rtx") && str_eq(clock, "90000"))
		c->rtx[pt] = 1;
	else if (str_ieq(name, "red") && str_eq(clock, "48000") && str_eq(chans, "2"))
		c->red[pt] = 1;
	return 0;
}

/* "<id>[/<direction>] <uri> [<attributes>]". Ids above 14 would need the two-byte header
 * form, which the server does not write, so such mappings are left unused. */
static int parse_extmap(sdp_str v, sdp_media *m)
{
	sdp_str id_dir, id_s, dir, uri;
	uint64_t id;
	if (!next_token(&v, &id_dir) || !next_token(&v, &uri))
		return -1;
	str_split(id_dir, '/', &id_s, &dir);
	if (parse_uint(id_s, 255, &id) != 0 || id == 0)
		return -1;
	if (id > 14)
		return 0;
	if (str_eq(uri, URI_MID))
		m->ext_mid = (int)id;
	else if (str_eq(uri, URI_TWCC))
		m->ext_twcc = (int)id;
	else if (str_eq(uri, URI_ABS_SEND_TIME))
		m->ext_abs_send_time = (int)id;
	else if (str_eq(uri, URI_AUDIO_LEVEL))
		m->ext_audio_level = (int)id;
	else if (str_eq(uri, URI_TOFFSET))
		m->ext_toffset = (int)id;
	else if (str_eq(uri, URI_RID))
		m->ext_rid = (int)id;
	else if (str_eq(uri, URI_RRID))
		m->ext_rrid = (int)id;
	return 0;
}

/* "a=ssrc:<ssrc> <attribute>" and "a=ssrc-group:FID <primary> <rtx>". */
static int parse_ssrc(sdp_str v, sdp_media *m)
{
	sdp_str s;
	uint32_t ssrc;
	if (!next_token(&v, &s) || parse_u32(s, &ssrc) != 0)
		return -1;
	return add_ssrc(m, ssrc);
}

static int parse_ssrc_group(sdp_str v, uint32_t *fid_primary, uint32_t *fid_rtx, int *has_fid)
{
	sdp_str sem, a, b;
	if (!next_token(&v, &sem))
		return -1;
	if (!str_eq(sem, "FID") || *has_fid)
		return 0;
	if (!next_token(&v, &a) || !next_token(&v, &b) || parse_u32(a, fid_primary) != 0 ||
	    parse_u32(b, fid_rtx) != 0)
		return -1;
	*has_fid = 1;
	return 0;
}

/* The m-line: "m=<media> <port>[/<count>] <proto> <fmt> ...". *port_zero says whether the
 * port was 0; what that means depends on attributes read later (see parse_media). */
static int parse_mline(sdp_parser *ps, int idx, sdp_str line, sdp_media *m, sdp_str *fmts,
                       int *port_zero)
{
	sdp_str v = {line.p + 2, line.n - 2}, media, port_s, port, count, proto, fmt;
	uint64_t portv;
	if (!next_token(&v, &media) || !next_token(&v, &port_s) || !next_token(&v, &proto))
		return fail(ps, "m-line %d: malformed", idx);
	*fmts = v;
	if (copy_checked(m->media_name, sizeof m->media_name, media, is_token_char) != 0)
		return fail(ps, "m-line %d: bad media type", idx);
	m->kind = str_eq(media, "audio")   ? SDP_KIND_AUDIO
	          : str_eq(media, "video") ? SDP_KIND_VIDEO
	                                   : SDP_KIND_OTHER;
	str_split(port_s, '/', &port, &count);
	if (parse_uint(port, 65535, &portv) != 0)
		return fail(ps, "m-line %d: bad port", idx);
	*port_zero = portv == 0;
	if (copy_checked(m->proto, sizeof m->proto, proto, is_proto_char) != 0)
		return fail(ps, "m-line %d: bad protocol", idx);
	if (!next_token(&v, &fmt) ||
	    copy_checked(m->first_fmt, sizeof m->first_fmt, fmt, is_token_char) != 0)
		return fail(ps, "m-line %d: bad format list", idx);
	return 0;
}

/* The first payload type of the m-line's format list (its preference order) that is marked
 * in set, or -1. */
static int first_offered(sdp_str fmts, const uint8_t set[128])
{
	sdp_str tok;
	while (next_token(&fmts, &tok)) {
		int pt = parse_pt(tok);
		if (pt >= 0 && set[pt])
			return pt;
	}
	return -1;
}

/* What a=rid and a=simulcast say, gathered during the first pass and resolved after it. */
typedef struct sdp_sim {
	char send_rids[8][SDP_RID_MAX]; /* a=rid:<id> send */
	int n_send;
	sdp_str simulcast; /* the stream list of a=simulcast:send, empty when absent */
} sdp_sim;

/* "a=rid:<id> <send|recv> [restrictions]": only send rids matter (the offerer's layers);
 * malformed ones are ignored, as RFC 8851 section 10 asks of rids one cannot use. */
static void parse_rid(sdp_str v, sdp_sim *sim)
{
	sdp_str id, dir;
	if (!next_token(&v, &id) || !next_token(&v, &dir) || !str_eq(dir, "send") ||
	    sim->n_send == 8)
		return;
	if (copy_checked(sim->send_rids[sim->n_send], SDP_RID_MAX, id, is_rid_char) == 0)
		sim->n_send++;
}

/* "a=simulcast:send <streams>[ recv <streams>]": keeps the send stream list. */
static void parse_simulcast(sdp_str v, sdp_sim *sim)
{
	sdp_str dir, list;
	while (next_token(&v, &dir) && next_token(&v, &list))
		if (str_eq(dir, "send"))
			sim->simulcast = list;
}

/* The layers: each ';'-separated stream of the send list, its first ','-separated
 * alternative, when it is not paused and names a declared send rid. */
static void resolve_simulcast(sdp_media *m, const sdp_sim *sim)
{
	sdp_str rest = sim->simulcast, stream, alt, tail;
	m->n_rids = 0;
	while (rest.n && m->n_rids < SDP_MAX_RIDS) {
		str_split(rest, ';', &stream, &rest);
		str_split(stream, ',', &alt, &tail);
		alt = str_trim(alt);
		if (!alt.n || alt.p[0] == '~')
			continue;
		for (int i = 0; i < sim->n_send; i++) {
			if (!str_eq(alt, sim->send_rids[i]))
				continue;
			int dup = 0;
			for (int k = 0; k < m->n_rids; k++)
				dup |= strcmp(m->rids[k], sim->send_rids[i]) == 0;
			if (!dup)
				memcpy(m->rids[m->n_rids++], sim->send_rids[i], SDP_RID_MAX);
			break;
		}
	}
	if (m->n_rids < 2 || !m->ext_rid || m->kind != SDP_KIND_VIDEO) {
		m->n_rids = 0;
		memset(m->rids, 0, sizeof m->rids);
	}
}

/* First pass over a media section: everything except fmtp and rtcp-fb, which depend on the
 * payload types chosen from the rtpmaps. */
static int media_first_pass(sdp_parser *ps, int idx, sdp_media *m, sdp_transport *t, sdp_codecs *c)
{
	sdp_str body = ps->body[idx], line, name, v;
	size_t pos = 0;
	uint32_t fid_primary = 0, fid_rtx = 0;
	int has_fid = 0;
	sdp_sim sim = {.n_send = 0};
	const char *bad = NULL;
	char where[24];
	snprintf(where, sizeof where, "m-line %d", idx);
	while (next_line(body.p, body.n, &pos, &line)) {
		if (!attr_split(line, &name, &v))
			continue;
		int r = parse_transport_attr(ps, where, name, v, t);
		if (r < 0)
			return -1;
		if (r > 0 || parse_dir(name, &m->dir))
			continue;
		v = str_trim(v);
		if (str_eq(name, "mid")) {
			if (copy_checked(m->mid, sizeof m->mid, v, is_token_char) != 0)
				return fail(ps, "%s: bad mid", where);
		} else if (str_eq(name, "rtcp-mux")) {
			m->rtcp_mux = 1;
		} else if (str_eq(name, "rtcp-rsize")) {
			m->rtcp_rsize = 1;
		} else if (str_eq(name, "bundle-only")) {
			m->bundle_only = 1;
		} else if (str_eq(name, "extmap-allow-mixed")) {
			m->extmap_allow_mixed = 1;
		} else if (str_eq(name, "rid")) {
			parse_rid(v, &sim);
		} else if (str_eq(name, "simulcast")) {
			parse_simulcast(v, &sim);
		} else if (str_eq(name, "rtpmap") && parse_rtpmap(v, c) != 0) {
			bad = "rtpmap";
		} else if (str_eq(name, "extmap") && parse_extmap(v, m) != 0) {
			bad = "extmap";
		} else if (str_eq(name, "ssrc") && parse_ssrc(v, m) != 0) {
			bad = "ssrc";
		} else if (str_eq(name, "ssrc-group") &&
		           parse_ssrc_group(v, &fid_primary, &fid_rtx, &has_fid) != 0) {
			bad = "ssrc-group";
		}
		if (bad)
			return fail(ps, "%s: malformed %s", where, bad);
	}
	if (has_fid) {
		/* The FID primary is the media SSRC: put it first, whatever the line order. */
		add_ssrc(m, fid_primary);
		add_ssrc(m, fid_rtx);
		for (int i = 1; i < m->n_ssrc; i++) {
			if (m->ssrc[i] == fid_primary) {
				m->ssrc[i] = m->ssrc[0];
				m->ssrc[0] = fid_primary;
			}
		}
		m->rtx_ssrc = fid_rtx;
	}
	resolve_simulcast(m, &sim);
	return 0;
}

/* An audio RED fmtp ("111/111"): 2 to 32 payload types, each the chosen Opus, as
 * libwebrtc requires of the RED it sends. */
static int red_fmtp_names_opus(sdp_str v, int pt_opus)
{
	sdp_str part;
	int n = 0;
	if (pt_opus < 0)
		return 0;
	while (v.n) {
		str_split(v, '/', &part, &v);
		if (parse_pt(str_trim(part)) != pt_opus || ++n > 32)
			return 0;
	}
	return n >= 2;
}

/* Second pass: the fmtp and rtcp-fb of the chosen codec, and the rtx that repairs it. */
static void media_second_pass(sdp_parser *ps, int idx, sdp_media *m, const sdp_codecs *c)
{
	sdp_str body = ps->body[idx], line, name, v, pt_s, rest;
	size_t pos = 0;
	int codec = m->kind == SDP_KIND_AUDIO ? m->pt_opus : m->pt_vp8;
	while (next_line(body.p, body.n, &pos, &line)) {
		if (!attr_split(line, &name, &v) || !next_token(&v, &pt_s))
			continue;
		int pt = parse_pt(pt_s);
		rest = str_trim(v);
		if (str_eq(name, "fmtp") && pt >= 0 && c->red[pt] && m->kind == SDP_KIND_AUDIO &&
		    m->pt_red < 0) {
			if (red_fmtp_names_opus(rest, m->pt_opus))
				m->pt_red = pt;
		} else if (str_eq(name, "fmtp") && pt >= 0 && pt == m->pt_opus) {
			if (copy_checked(m->opus_fmtp, sizeof m->opus_fmtp, rest, is_text_char) !=
			    0)
				m->opus_fmtp[0] = '\0'; /* unusable: answer without fmtp */
		} else if (str_eq(name, "fmtp") && pt >= 0 && c->rtx[pt] && m->pt_vp8 >= 0 &&
		           m->pt_vp8_rtx < 0) {
			sdp_str param, key, val;
			while (rest.n) {
				str_split(rest, ';', &param, &rest);
				str_split(str_trim(param), '=', &key, &val);
				if (str_ieq(key, "apt") && parse_pt(str_trim(val)) == m->pt_vp8)
					m->pt_vp8_rtx = pt;
			}
		} else if (str_eq(name, "rtcp-fb") && codec >= 0 &&
		           (pt == codec || str_eq(pt_s, "*"))) {
			sdp_str type, param;
			if (!next_token(&rest, &type))
				continue;
			int has_param = next_token(&rest, &param);
			if (str_ieq(type, "nack") && !has_param)
				m->fb_nack = 1;
			else if (str_ieq(type, "nack") && str_ieq(param, "pli"))
				m->fb_pli = 1;
			else if (str_ieq(type, "ccm") && has_param && str_ieq(param, "fir"))
				m->fb_fir = 1;
			else if (str_ieq(type, "transport-cc"))
				m->fb_twcc = 1;
			else if (str_ieq(type, "goog-remb"))
				m->fb_remb = 1;
		}
	}
}

static int in_bundle(const sdp_offer *o, const char *mid)
{
	for (int i = 0; i < o->n_bundle; i++)
		if (strcmp(o->bundle_mids[i], mid) == 0)
			return 1;
	return 0;
}

static int parse_media(sdp_parser *ps, int idx, sdp_offer *out, sdp_transport *t)
{
	sdp_media *m = &out->media[idx];
	sdp_codecs codecs;
	sdp_str fmts;
	int port_zero = 0;
	memset(&codecs, 0, sizeof codecs);
	*t = (sdp_transport){.setup = SDP_SETUP_NONE};
	m->dir = ps->session_dir;
	m->extmap_allow_mixed = ps->extmap_allow_mixed;
	m->pt_opus = m->pt_vp8 = m->pt_vp8_rtx = m->pt_red = -1;
	if (parse_mline(ps, idx, ps->mline[idx], m, &fmts, &port_zero) != 0)
		return -1;
	if (media_first_pass(ps, idx, m, t, &codecs) != 0)
		return -1;
	/* RFC 8843 section 6 and RFC 8829 section 5.2.1: under max-bundle a browser offers
	 * every m-line but the first with port 0 and a=bundle-only (Firefox does); such an
	 * m-line is not disabled but bundled, provided its mid is in the BUNDLE group. Port 0
	 * alone, or bundle-only outside the group, still disables it. */
	m->rejected = port_zero && !(m->bundle_only && m->mid[0] && in_bundle(out, m->mid));
	if (m->kind == SDP_KIND_AUDIO)
		m->pt_opus = first_offered(fmts, codecs.opus);
	else if (m->kind == SDP_KIND_VIDEO)
		m->pt_vp8 = first_offered(fmts, codecs.vp8);
	media_second_pass(ps, idx, m, &codecs);

	/* Media-level ICE credentials override the session-level ones. */
	memcpy(m->ice_ufrag, t->ufrag[0] ? t->ufrag : ps->session.ufrag, sizeof m->ice_ufrag);
	memcpy(m->ice_pwd, t->pwd[0] ? t->pwd : ps->session.pwd, sizeof m->ice_pwd);
	if (m->rejected)
		return 0;
	if (!m->mid[0])
		return fail(ps, "m-line %d: no mid", idx);
	for (int i = 0; i < idx; i++)
		if (strcmp(out->media[i].mid, m->mid) == 0)
			return fail(ps, "m-line %d: duplicate mid %s", idx, m->mid);
	if (!in_bundle(out, m->mid))
		return fail(ps, "m-line %d: mid %s not bundled", idx, m->mid);
	if (!m->ice_ufrag[0])
		return fail(ps, "m-line %d: no ice-ufrag", idx);
	if (!m->ice_pwd[0])
		return fail(ps, "m-line %d: no ice-pwd", idx);
	if (m->kind != SDP_KIND_OTHER) {
		size_t n = strlen(m->proto);
		if (n < 9 || strcmp(m->proto + n - 9, "RTP/SAVPF") != 0)
			return fail(ps, "m-line %d: unsupported protocol %s", idx, m->proto);
		if (!m->rtcp_mux)
			return fail(ps, "m-line %d: no rtcp-mux", idx);
	}
	return 0;
}

/* Splits the offer into the session part and one body per m-line. */
static int split_sections(sdp_parser *ps, const char *sdp, size_t len, sdp_offer *out)
{
	size_t pos = 0;
	sdp_str line;
	int lineno = 0;
	while (next_line(sdp, len, &pos, &line)) {
		lineno++;
		if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z')
			return fail(ps, "line %d: not <type>=<value>", lineno);
		if (lineno == 1 && !str_eq(line, "v=0"))
			return fail(ps, "not an SDP version 0 description");
		if (line.p[0] == 'm') {
			if (out->n_media == SDP_MAX_MEDIA)
				return fail(ps, "more than %d m-lines", SDP_MAX_MEDIA);
			if (out->n_media)
				ps->body[out->n_media - 1].n =
				    (size_t)(line.p - ps->body[out->n_media - 1].p);
			ps->mline[out->n_media] = line;
			ps->body[out->n_media] = (sdp_str){sdp + pos, len - pos};
			out->n_media++;
		} else if (!out->n_media && parse_session_line(ps, line, out) != 0) {
			return -1;
		}
	}
	if (!lineno)
		return fail(ps, "empty SDP");
	if (!out->n_media)
		return fail(ps, "no m-line");
	return 0;
}

int sdp_parse_offer(const char *sdp, size_t len, sdp_offer *out, char *err, size_t errlen)
{
	sdp_parser ps = {.err = err, .errlen = errlen, .session_dir = SDP_SENDRECV};
	sdp_transport t, first = {.setup = SDP_SETUP_NONE};
	const sdp_media *live = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return fail(&ps, "no output");
	memset(out, 0, sizeof *out);
	if (!sdp)
		return fail(&ps, "no SDP");
	if (memchr(sdp, '\0', len))
		return fail(&ps, "NUL byte in SDP");
	ps.session.setup = SDP_SETUP_NONE;
	if (split_sections(&ps, sdp, len, out) != 0)
		return -1;
	for (int i = 0; i < out->n_media; i++) {
		if (parse_media(&ps, i, out, &t) != 0)
			return -1;
		if (!live && !out->media[i].rejected) {
			/* With max-bundle every live m-line describes the same transport; the
			 * first one (normally the BUNDLE tag) speaks for all of them. */
			live = &out->media[i];
			first = t;
		}
	}
	memcpy(out->ice_ufrag, live ? live->ice_ufrag : ps.session.ufrag, sizeof out->ice_ufrag);
	memcpy(out->ice_pwd, live ? live->ice_pwd : ps.session.pwd, sizeof out->ice_pwd);
	const sdp_transport *fp = first.has_fp ? &first : &ps.session;
	out->has_fingerprint = fp->has_fp;
	memcpy(out->fingerprint, fp->fp, sizeof out->fingerprint);
	out->setup = first.has_setup ? first.setup : ps.session.setup;
	if (!out->ice_ufrag[0])
		return fail(&ps, "no ice-ufrag");
	if (!out->ice_pwd[0])
		return fail(&ps, "no ice-pwd");
	if (!out->has_fingerprint)
		return fail(&ps, "no sha-256 fingerprint");
	return 0;
}
