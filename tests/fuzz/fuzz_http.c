/* Fuzz target for the HTTP request path of the app (server/signal/http.c, app_on_http):
 * /healthz, /metrics with and without its token, POST /api/login (JSON body, the password
 * limiter) and GET /api/stats/monthly (query string and Authorization header), with the
 * request as server_http.c hands it over.
 *
 * The input: one byte of flags, then the fields path, query, authorization and content type
 * on one line each, then the body (the rest, newlines included). Flags: bit 0 POST (else
 * GET), bits 1..4 say whether the query, authorization, content type and body are present
 * (absent ones are NULL, as when the request has none), bit 5 a loopback client, bit 6 which
 * address the client has. The method is GET or POST because server_http.c answers every other
 * method itself (405) before on_http. The database (fuzz_app.h) answers right after on_http
 * returns; the body is also the statistics rows it holds (fz_set_stats), and analysts log in
 * as tanaka (password "secret", token "token-tanaka"). */
#include "fuzz_app.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The next line of [*p, end) as a malloc'd exact-size string; *p moves past it. */
static char *next_field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *stop = nl ? nl : end;
	size_t n = (size_t)(stop - *p);
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_app();
	uint8_t flags = data[0];
	const uint8_t *p = data + 1, *end = data + size;
	char *path = next_field(&p, end);
	char *query = next_field(&p, end);
	char *auth = next_field(&p, end);
	char *ctype = next_field(&p, end);
	/* The body is what remains, possibly with NULs inside; the server adds a NUL after it. */
	size_t body_len = (size_t)(end - p);
	char *body = malloc(body_len + 1);
	if (!body)
		abort();
	memcpy(body, p, body_len);
	body[body_len] = '\0';
	/* A GET has no body: there the same bytes are what the database holds for the
	 * statistics (fz_set_stats), so that names reach the JSON and CSV writers too. */
	fz_set_stats(body, body_len);

	sig_http_request req = {
	    .method = (flags & 1) ? "POST" : "GET",
	    .path = path,
	    .query = (flags & 2) ? query : NULL,
	    .authorization = (flags & 4) ? auth : NULL,
	    .content_type = (flags & 8) ? ctype : NULL,
	    .body = (flags & 16) ? body : NULL,
	    .body_len = (flags & 16) ? body_len : 0,
	    .peer_ip = (flags & 64) ? "2001:db8::7" : "192.0.2.7",
	    .peer_loopback = (flags & 32) != 0,
	};
	if (req.peer_loopback)
		req.peer_ip = (flags & 64) ? "::1" : "127.0.0.1";
	fz_http(&req);
	fz_reset();
	free(path);
	free(query);
	free(auth);
	free(ctype);
	free(body);
	return 0;
}
