/* Shared by sdp.c (the offer parser) and sdp_answer.c (the answer builder): the header
 * extension URIs the server understands and the character classes of the SDP grammar that
 * both the parser's copies and the builder's parameter checks enforce. */
#ifndef MDG_SFU_SDP_INTERNAL_H
#define MDG_SFU_SDP_INTERNAL_H

#include <stddef.h>
#include <string.h>

#define URI_MID           "urn:ietf:params:rtp-hdrext:sdes:mid"
#define URI_TWCC          "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define URI_AUDIO_LEVEL   "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define URI_TOFFSET       "urn:ietf:params:rtp-hdrext:toffset"
#define URI_RID           "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define URI_RRID          "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

static inline int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* token-char of RFC 8866: visible ASCII except the separators. Used for mids, media names,
 * protocols and formats. */
static inline int is_token_char(int c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]", c);
}

/* ice-char of RFC 8839: ALPHA / DIGIT / "+" / "/". */
static inline int is_ice_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static inline int is_visible_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

static inline int is_hex_colon_char(int c)
{
	return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':';
}

static inline int is_ip_char(int c)
{
	return is_hex_colon_char(c) || c == '.';
}

/* rid-id of RFC 8851: ALPHA / DIGIT / "-" / "_". */
static inline int is_rid_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* The same check for a NUL-terminated string supplied by the caller of the builder. */
static inline int cstr_ok(const char *s, size_t min, size_t max, int (*ok)(int))
{
	if (!s)
		return 0;
	size_t n = strnlen(s, max + 1);
	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return 0;
	return 1;
}

#endif
