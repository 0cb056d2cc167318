/* What the SDP tests (test_sdp.c, test_sdp_simulcast.c) read answers with: the server's test
 * fingerprint, whether a line is there, and one media section. */
#ifndef MDG_TEST_SDP_TEXT_H
#define MDG_TEST_SDP_TEXT_H

#include <stddef.h>
#include <string.h>

#define SERVER_FP                                                                                  \
	"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:"     \
	"89:AB:CD:EF"

/* 1 when the text contains exactly this line (CRLF-terminated). */
static inline int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\r' && p[n + 1] == '\n')
			return 1;
	return 0;
}

/* Copies the idx-th media section (from its m= line to the next one) into out. */
static inline const char *section(const char *text, int idx, char *out, size_t cap)
{
	const char *p = text;
	out[0] = '\0';
	for (int i = 0; i <= idx; i++) {
		p = strstr(p, "\r\nm=");
		if (!p)
			return out;
		p += 2;
	}
	const char *end = strstr(p, "\r\nm=");
	size_t n = end ? (size_t)(end - p) + 2 : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

#endif
