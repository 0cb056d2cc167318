/* The synthetic peer's SDP: offers built from a real Chromium offer (so the server parses the
 * same codec lists, rtcp-fb and extensions a browser sends) and the few facts it needs from
 * the server's answer. */
#include "synth_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Attributes the peer writes itself; the template's values are dropped. */
static const char *const own_attrs[] = {
    "a=mid:",     "a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=sendrecv",    "a=recvonly",
    "a=sendonly", "a=inactive",   "a=msid:",    "a=ssrc:",        "a=ssrc-group:",
};

static int starts(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(line, prefix, k) == 0;
}

static int is_own(const char *line, size_t n)
{
	for (size_t i = 0; i < sizeof own_attrs / sizeof own_attrs[0]; i++)
		if (starts(line, n, own_attrs[i]))
			return 1;
	return 0;
}

/* Appends line[0..n) and CRLF to a growing string. */
static int append(char **s, size_t *len, const char *line, size_t n)
{
	char *r = realloc(*s, *len + n + 3);
	if (!r)
		return -1;
	memcpy(r + *len, line, n);
	memcpy(r + *len + n, "\r\n", 3);
	*len += n + 2;
	*s = r;
	return 0;
}

/* Learns payload types and extension ids from one attribute line of the template. */
static void learn(synth_template *t, const char *line, size_t n)
{
	char buf[256];
	if (n >= sizeof buf)
		return;
	memcpy(buf, line, n);
	buf[n] = '\0';
	int id;
	char what[200];
	if (sscanf(buf, "a=rtpmap:%d %199s", &id, what) == 2) {
		if (strcasecmp(what, "opus/48000/2") == 0 && t->pt_opus < 0)
			t->pt_opus = id;
		else if (strcasecmp(what, "VP8/90000") == 0 && t->pt_vp8 < 0)
			t->pt_vp8 = id;
	} else if (sscanf(buf, "a=fmtp:%d apt=%199s", &id, what) == 2) {
		if (t->pt_vp8 >= 0 && atoi(what) == t->pt_vp8 && t->pt_rtx < 0)
			t->pt_rtx = id;
	} else if (sscanf(buf, "a=extmap:%d %199s", &id, what) == 2) {
		if (strcmp(what, "urn:ietf:params:rtp-hdrext:sdes:mid") == 0)
			t->ext_mid = id;
		else if (strstr(what, "transport-wide-cc"))
			t->ext_twcc = id;
		else if (strcmp(what, "urn:ietf:params:rtp-hdrext:ssrc-audio-level") == 0)
			t->ext_audio_level = id;
		else if (strcmp(what, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id") == 0)
			t->ext_rid = id;
		else if (strcmp(what, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id") ==
		         0)
			t->ext_rrid = id;
	}
}

synth_template *synth_template_new(const char *sdp, size_t len)
{
	synth_template *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->pt_opus = t->pt_vp8 = t->pt_rtx = -1;
	size_t lens[3] = {0, 0, 0};
	char **parts[3] = {&t->session, &t->section[0], &t->section[1]};
	int cur = 0; /* 0 session, 1 audio, 2 video, -1 a section we skip */
	int ok = 1;
	const char *p = sdp, *end = sdp + len;
	while (p < end && ok) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		size_t n = (size_t)((eol ? eol : end) - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (starts(p, n, "m=audio"))
			cur = t->section[0] ? -1 : 1;
		else if (starts(p, n, "m=video"))
			cur = t->section[1] ? -1 : 2;
		else if (starts(p, n, "m="))
			cur = -1;
		if (n && cur >= 0 && !is_own(p, n) && !starts(p, n, "a=group:BUNDLE")) {
			ok = append(parts[cur], &lens[cur], p, n) == 0;
			learn(t, p, n);
		}
		p = next;
	}
	if (!ok || !t->session || !t->section[0] || !t->section[1] || t->pt_opus < 0 ||
	    t->pt_vp8 < 0) {
		synth_template_free(t);
		return NULL;
	}
	return t;
}

void synth_template_free(synth_template *t)
{
	if (!t)
		return;
	free(t->session);
	free(t->section[0]);
	free(t->section[1]);
	free(t);
}

typedef struct out_buf {
	char *buf;
	size_t cap, len;
	int overflow;
} out_buf;

static void put(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_buf *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = 1;
	else
		o->len += (size_t)n;
}

int synth_sdp_offer(const synth_template *t, const char *ufrag, const char *pwd,
                    const char *fingerprint, const synth_offer_line *lines, int n, char *out,
                    size_t cap)
{
	if (cap == 0)
		return -1;
	out_buf o = {.buf = out, .cap = cap};
	out[0] = '\0';
	put(&o, "%s", t->session);
	put(&o, "a=group:BUNDLE");
	for (int i = 0; i < n; i++)
		put(&o, " %d", i);
	put(&o, "\r\n");
	for (int i = 0; i < n && !o.overflow; i++) {
		const synth_offer_line *l = &lines[i];
		put(&o, "%s", t->section[l->video]);
		put(&o, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n", ufrag,
		    pwd, fingerprint);
		put(&o, "a=mid:%d\r\na=%s\r\n", i, l->dir);
		if (l->extra)
			put(&o, "%s", l->extra);
		if (!l->ssrc)
			continue;
		put(&o, "a=msid:synth-stream synth-track-%d\r\n", i);
		if (l->rtx_ssrc)
			put(&o, "a=ssrc-group:FID %u %u\r\n", (unsigned)l->ssrc,
			    (unsigned)l->rtx_ssrc);
		uint32_t ssrcs[2] = {l->ssrc, l->rtx_ssrc};
		for (int k = 0; k < 2; k++)
			if (ssrcs[k])
				put(&o,
				    "a=ssrc:%u cname:synth\r\na=ssrc:%u msid:synth-stream "
				    "synth-track-%d\r\n",
				    (unsigned)ssrcs[k], (unsigned)ssrcs[k], i);
	}
	return o.overflow ? -1 : (int)o.len;
}

static int parse_fingerprint(const char *hex, uint8_t fp[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			return -1;
		fp[i] = (uint8_t)v;
		hex += 2;
		if (i < 31 && *hex++ != ':')
			return -1;
	}
	return 0;
}

static void parse_line(synth_answer *a, synth_answer_line *l, const char *s)
{
	unsigned u1, u2;
	int id;
	char what[200], ip[64];
	if (strncmp(s, "a=ice-ufrag:", 12) == 0)
		sscanf(s, "a=ice-ufrag:%63s", a->ufrag);
	else if (strncmp(s, "a=ice-pwd:", 10) == 0)
		sscanf(s, "a=ice-pwd:%127s", a->pwd);
	else if (sscanf(s, "a=fingerprint:sha-256 %199s", what) == 1)
		a->has_fp = parse_fingerprint(what, a->fp) == 0;
	else if (strcmp(s, "a=setup:active") == 0)
		a->server_active = 1;
	else if (sscanf(s, "a=candidate:%*s %*d %15s %*u %63s %d", what, ip, &id) == 3) {
		if (strcasecmp(what, "udp") == 0 && !a->port) {
			snprintf(a->ip, sizeof a->ip, "%s", ip);
			a->port = id;
		}
	}
	if (!l)
		return;
	if (strcmp(s, "a=sendrecv") == 0 || strcmp(s, "a=sendonly") == 0)
		l->server_sends = 1;
	else if (sscanf(s, "a=ssrc-group:FID %u %u", &u1, &u2) == 2) {
		l->ssrc = u1;
		l->rtx_ssrc = u2;
	} else if (sscanf(s, "a=ssrc:%u", &u1) == 1 && !l->ssrc)
		l->ssrc = u1;
	else if (sscanf(s, "a=rtpmap:%d %199s", &id, what) == 2) {
		if (strncasecmp(what, "rtx/", 4) == 0)
			l->rtx_pt = id;
		else if (l->pt < 0)
			l->pt = id;
	} else if (sscanf(s, "a=extmap:%d %199s", &id, what) == 2) {
		if (strcmp(what, "urn:ietf:params:rtp-hdrext:sdes:mid") == 0)
			l->ext_mid = id;
		else if (strstr(what, "transport-wide-cc"))
			l->ext_twcc = id;
		else if (strcmp(what, "urn:ietf:params:rtp-hdrext:ssrc-audio-level") == 0)
			l->ext_audio_level = id;
		else if (strcmp(what, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id") == 0)
			l->ext_rid = id;
		else if (strcmp(what, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id") ==
		         0)
			l->ext_rrid = id;
	} else if (strncmp(s, "a=simulcast:", 12) == 0) {
		/* RFC 8853: "a=simulcast:recv q;h;f" in an answer to our send list. */
		l->simulcast = 1;
		sscanf(s, "a=simulcast:recv %63s", l->sim_rids);
	}
}

int synth_sdp_parse_answer(const char *sdp, size_t len, synth_answer *a)
{
	memset(a, 0, sizeof *a);
	int m = -1;
	const char *p = sdp, *end = sdp + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		size_t n = (size_t)((eol ? eol : end) - p);
		if (n && p[n - 1] == '\r')
			n--;
		char s[512];
		if (n < sizeof s) {
			memcpy(s, p, n);
			s[n] = '\0';
			if (strncmp(s, "m=", 2) == 0) {
				m++;
				if (m < SYNTH_LINES) {
					synth_answer_line *l = &a->line[m];
					int port = -1;
					sscanf(s, "m=%*s %d", &port);
					l->accepted = port > 0;
					l->pt = l->rtx_pt = -1;
				}
			} else {
				parse_line(a, m >= 0 && m < SYNTH_LINES ? &a->line[m] : NULL, s);
			}
		}
		p = next;
	}
	for (int i = 0; i < SYNTH_LINES; i++)
		if (!a->line[i].ssrc)
			a->line[i].server_sends = 0;
	return a->ufrag[0] && a->pwd[0] && a->has_fp && a->port > 0 ? 0 : -1;
}

/* An answer to a server's offer (a Janus VideoRoom subscriber): the offer's lines mirrored,
 * with our ICE credentials and fingerprint, a=setup:active (we are the DTLS client) and
 * receive-only directions; the server's candidates, SSRCs and msids left out. */
int synth_sdp_answer_offer(const char *offer, size_t len, const char *ufrag, const char *pwd,
                           const char *fingerprint, char *out, size_t cap)
{
	static const char *const drop[] = {
	    "a=candidate:", "a=end-of-candidates", "a=ssrc:",        "a=ssrc-group:",
	    "a=msid:",      "a=ice-ufrag:",        "a=ice-pwd:",     "a=fingerprint:",
	    "a=setup:",     "a=ice-options:",      "a=msid-semantic"};
	if (cap == 0)
		return -1;
	out_buf o = {.buf = out, .cap = cap};
	out[0] = '\0';
	const char *p = offer, *end = offer + len;
	int media = 0;
	while (p < end && !o.overflow) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		int n = (int)((eol ? eol : end) - p);
		if (n && p[n - 1] == '\r')
			n--;
		int skip = 0;
		for (size_t k = 0; k < sizeof drop / sizeof drop[0] && !skip; k++)
			skip = starts(p, (size_t)n, drop[k]);
		if (skip) {
			p = next;
			continue;
		}
		if (starts(p, (size_t)n, "a=sendonly") || starts(p, (size_t)n, "a=sendrecv"))
			put(&o, "a=recvonly\r\n");
		else
			put(&o, "%.*s\r\n", n, p);
		if (starts(p, (size_t)n, "m=")) {
			media = 1;
			put(&o,
			    "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n"
			    "a=setup:active\r\n",
			    ufrag, pwd, fingerprint);
		}
		p = next;
	}
	return o.overflow || !media ? -1 : (int)o.len;
}
