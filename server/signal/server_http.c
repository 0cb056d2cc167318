/* The HTTP half of the front door (server.c has the lws context and the WebSockets): static
 * files from the web root with traversal and hidden-file checks, the headers every response
 * carries (Cache-Control, CSP), the API hook with POST body collection, the 404/405/411/413
 * answers and the generated index page.
 *
 * An API answer may come later (on_http returns 1): the request keeps a sig_http_pending
 * handle, which the application completes once. The handle and the transaction point at each
 * other; whichever goes first (the client's connection, or the answer) unhooks the other, so
 * a late answer to a vanished client is dropped instead of written into freed memory. The
 * answer is parked in the transaction and written from the next writable callback, as lws
 * allows writes only there. */
#include "signal/server_internal.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRV_HTTP_CHUNK       16384 /* one body write per writable callback */
#define SRV_HTTP_PENDING_MAX 60    /* seconds an API answer may take before lws hangs up */

/* Response headers beyond the common ones; all optional. */
typedef struct http_extra {
	const char *location;    /* redirects */
	const char *disposition; /* Content-Disposition */
	int retry_after_s;       /* Retry-After, when > 0 */
} http_extra;

struct sig_http_pending {
	sig_server *s; /* NULL once the server is finished */
	sig_pss *pss;  /* NULL once the request's connection is gone */
	struct lws *wsi;
	sig_http_pending *prev, *next; /* in s->pending */
};

/* One HTTP request that this file answers itself (API routes, redirects, generated pages):
 * what the request said, and the response body still to be written. */
struct sig_http_tx {
	const char *method;
	char *path, *query, *auth, *ctype;
	char host[SIG_HOST_MAX];
	char *body;
	size_t body_len, body_cap;
	unsigned char *out; /* LWS_PRE headroom + response body */
	size_t out_len, out_off;
	sig_http_pending *pending; /* the answer is being prepared elsewhere */
	/* A late answer waiting for the next writable callback. */
	bool answer_ready;
	int a_status, a_retry;
	char *a_ctype, *a_disposition, *a_body;
	size_t a_len;
};

/* ---- HTTP: responses we build ourselves ------------------------------------------------- */

void sig_http_tx_free(sig_pss *pss)
{
	sig_http_tx *tx = pss->tx;
	if (!tx)
		return;
	pss->tx = NULL;
	if (tx->pending) {
		tx->pending->pss = NULL;
		tx->pending->wsi = NULL;
	}
	free(tx->a_ctype);
	free(tx->a_disposition);
	free(tx->a_body);
	free(tx->path);
	free(tx->query);
	free(tx->auth);
	free(tx->ctype);
	free(tx->body);
	free(tx->out);
	free(tx);
}

/* The Host header, if it is a plain host[:port], for naming our own WebSocket origin in the
 * CSP; anything odd is left out rather than echoed into a header. */
static void http_host(struct lws *wsi, char *host, size_t size)
{
	host[0] = '\0';
	if (lws_hdr_copy(wsi, host, (int)size, WSI_TOKEN_HOST) <= 0) {
		host[0] = '\0';
		return;
	}
	for (const char *p = host; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) {
			host[0] = '\0';
			return;
		}
	}
}

/* Headers every response carries. cache is the Cache-Control value. wasm adds
 * 'wasm-unsafe-eval' to script-src: the desk page compiles the background blur's
 * WebAssembly (web/desk/blur.js, served from web/vendor/). It allows compiling WebAssembly
 * only, not eval() of JavaScript, and no other page gets it. */
static int http_add_headers(struct lws *wsi, const char *cache, bool wasm, unsigned char **p,
                            unsigned char *end)
{
	char host[128], csp[512];

	http_host(wsi, host, sizeof(host));
	snprintf(csp, sizeof(csp),
	         "default-src 'self'; script-src 'self'%s; style-src 'self'; img-src 'self' data:; "
	         "media-src 'self' blob:; connect-src 'self'%s%s%s%s; object-src 'none'; "
	         "base-uri 'self'; frame-ancestors 'none'",
	         wasm ? " 'wasm-unsafe-eval'" : "", host[0] ? " wss://" : "", host,
	         host[0] ? " ws://" : "", host);
	const struct {
		const char *name, *value;
	} h[] = {
	    {"cache-control:", cache},
	    {"x-content-type-options:", "nosniff"},
	    {"content-security-policy:", csp},
	    {"referrer-policy:", "no-referrer"},
	    /* Once a browser has reached us over TLS it never falls back to plain HTTP. */
	    {"strict-transport-security:", lws_is_ssl(wsi) ? "max-age=31536000" : NULL},
	};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		if (h[i].value && lws_add_http_header_by_name(wsi, (const unsigned char *)h[i].name,
		                                              (const unsigned char *)h[i].value,
		                                              (int)strlen(h[i].value), p, end))
			return -1;
	}
	return 0;
}

/* Writes the status line and headers now and the body (taken over, malloc'd) from the
 * writable callbacks. Returns -1 when the connection must close. */
static int http_respond(struct lws *wsi, sig_pss *pss, int status, const char *ctype, char *body,
                        size_t len, const http_extra *x)
{
	static const http_extra none = {0};
	char retry[16];
	unsigned char buf[LWS_PRE + 2048];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);

	if (!pss->tx)
		pss->tx = calloc(1, sizeof(*pss->tx));
	sig_http_tx *tx = pss->tx;
	unsigned char *out = body ? malloc(LWS_PRE + len) : NULL;
	if (!tx || (body && !out)) {
		free(body);
		free(out);
		return -1;
	}
	if (!x)
		x = &none;
	snprintf(retry, sizeof(retry), "%d", x->retry_after_s);
	if (out)
		memcpy(out + LWS_PRE, body, len);
	free(body);
	free(tx->out);
	tx->out = out;
	tx->out_len = out ? len : 0;
	tx->out_off = 0;

	if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, tx->out_len, &p, end) ||
	    http_add_headers(wsi, "no-store", false, &p, end) ||
	    (x->location && lws_add_http_header_by_name(wsi, (const unsigned char *)"location:",
	                                                (const unsigned char *)x->location,
	                                                (int)strlen(x->location), &p, end)) ||
	    (x->disposition &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"content-disposition:",
	                                 (const unsigned char *)x->disposition,
	                                 (int)strlen(x->disposition), &p, end)) ||
	    (x->retry_after_s > 0 &&
	     lws_add_http_header_by_name(
	         wsi, (const unsigned char *)"retry-after:", (const unsigned char *)retry,
	         (int)strlen(retry), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (!tx->out_len) {
		sig_http_tx_free(pss);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

/* Writes the headers of a late answer (the body follows from the next callbacks). */
static int http_write_answer(struct lws *wsi, sig_pss *pss)
{
	sig_http_tx *tx = pss->tx;
	char *body = tx->a_body;
	tx->a_body = NULL;
	tx->answer_ready = false;
	http_extra x = {.disposition = tx->a_disposition, .retry_after_s = tx->a_retry};
	return http_respond(wsi, pss, tx->a_status, tx->a_ctype, body, tx->a_len, &x);
}

int sig_http_writable(struct lws *wsi, sig_pss *pss)
{
	sig_http_tx *tx = pss->tx;
	if (tx && tx->answer_ready)
		return http_write_answer(wsi, pss);
	if (!tx || !tx->out)
		return 0;
	size_t left = tx->out_len - tx->out_off;
	size_t n = left < SRV_HTTP_CHUNK ? left : SRV_HTTP_CHUNK;
	bool last = n == left;
	/* Later chunks borrow the bytes before them as LWS_PRE headroom: those were already
	 * handed to lws_write, which sent or copied them. */
	if (lws_write(wsi, tx->out + LWS_PRE + tx->out_off, n,
	              last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	tx->out_off += n;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	sig_http_tx_free(pss);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_respond_text(struct lws *wsi, sig_pss *pss, int status, const char *ctype,
                             const char *text)
{
	char *body = strdup(text);
	if (!body)
		return -1;
	return http_respond(wsi, pss, status, ctype, body, strlen(body), NULL);
}

/* ---- HTTP: the API hook ----------------------------------------------------------------- */

static bool http_is_api(const char *path)
{
	return !strcmp(path, "/healthz") || !strcmp(path, "/metrics") || !strcmp(path, "/api") ||
	       !strncmp(path, "/api/", 5);
}

/* lws has already split the query at '&' and ';' and percent-decoded each piece, so it is
 * rebuilt here: pieces joined with '&', and within each piece the characters that would
 * change the meaning ('&', '#', '%', '+', ';', spaces, controls, non-ASCII) encoded again.
 * A caller percent-decodes names and values as for any query string. */
static char *http_query(struct lws *wsi)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	if (total <= 0)
		return NULL;
	char *frag = malloc((size_t)total + 1);
	char *q = malloc((size_t)total * 3 + 64);
	if (!frag || !q) {
		free(frag);
		free(q);
		return NULL;
	}
	size_t qlen = 0;
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, total + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		if (qlen)
			q[qlen++] = '&';
		for (int k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)frag[k];
			if (ch > 0x20 && ch < 0x7f && !strchr("&#%+;", ch))
				q[qlen++] = (char)ch;
			else
				qlen += (size_t)sprintf(q + qlen, "%%%02X", ch);
		}
	}
	q[qlen] = '\0';
	free(frag);
	return q;
}

static char *http_header_dup(struct lws *wsi, enum lws_token_indexes tok)
{
	int len = lws_hdr_total_length(wsi, tok);
	if (len <= 0)
		return NULL;
	char *v = malloc((size_t)len + 1);
	if (v && lws_hdr_copy(wsi, v, len + 1, tok) < 0) {
		free(v);
		v = NULL;
	}
	return v;
}

static void http_pending_unlink(sig_http_pending *p)
{
	if (!p->s)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		p->s->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->s = NULL;
}

void sig_http_orphan_all(sig_server *s)
{
	while (s->pending) {
		sig_http_pending *p = s->pending;
		p->pss = NULL;
		p->wsi = NULL;
		http_pending_unlink(p);
	}
}

/* A copy of an optional string; false only when the copy failed. */
static bool http_dup_opt(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

void sig_http_complete(sig_http_pending *p, sig_http_response *resp)
{
	if (!p) {
		if (resp)
			free(resp->body);
		return;
	}
	sig_server *s = p->s;
	struct lws *wsi = p->wsi;
	sig_http_tx *tx = p->pss && s && !s->destroyed ? p->pss->tx : NULL;
	if (tx && tx->pending != p)
		tx = NULL;
	http_pending_unlink(p);
	free(p);
	if (!tx || !resp) {
		if (resp)
			free(resp->body);
		return;
	}
	tx->pending = NULL;
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	tx->answer_ready = true;
	tx->a_status = resp->status < 100 || resp->status > 599 ? 500 : resp->status;
	tx->a_retry = resp->retry_after_s;
	tx->a_body = resp->body;
	tx->a_len = resp->body ? resp->body_len : 0;
	resp->body = NULL;
	if (!http_dup_opt(&tx->a_ctype,
	                  resp->content_type ? resp->content_type : "text/plain; charset=utf-8") ||
	    !http_dup_opt(&tx->a_disposition, resp->content_disposition)) {
		/* Out of memory: a bodiless 500 needs nothing more. */
		free(tx->a_body);
		tx->a_body = NULL;
		tx->a_len = 0;
		tx->a_status = 500;
	}
	lws_callback_on_writable(wsi);
}

static int http_api_answer(sig_server *s, struct lws *wsi, sig_pss *pss)
{
	sig_http_tx *tx = pss->tx;
	sig_http_response r = {0};
	char ip[64];

	sig_peer_ip(wsi, ip, sizeof(ip));
	sig_http_request req = {
	    .method = tx->method,
	    .path = tx->path,
	    .query = tx->query,
	    .authorization = tx->auth,
	    .content_type = tx->ctype,
	    .body = tx->body,
	    .body_len = tx->body_len,
	    .peer_ip = ip,
	    .peer_loopback = sig_peer_is_loopback(wsi),
	    .host = tx->host,
	};
	/* The handle is hooked up before the call, so that even an answer given from inside
	 * on_http (before it returns 1) finds its request. */
	sig_http_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->s = s;
	p->pss = pss;
	p->wsi = wsi;
	p->next = s->pending;
	if (s->pending)
		s->pending->prev = p;
	s->pending = p;
	tx->pending = p;
	r.pending = p;
	int rc = -1;
	if (s->cb.on_http)
		rc = s->cb.on_http(s->cb.user, &req, &r);
	if (rc == 1) {
		/* The application answers through sig_http_complete (perhaps already has). */
		if (tx->pending == p)
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SRV_HTTP_PENDING_MAX);
		return 0;
	}
	if (tx->pending == p) {
		tx->pending = NULL;
		http_pending_unlink(p);
		free(p);
	}
	if (rc != 0) {
		free(r.body);
		return http_respond_text(wsi, pss, 404, "application/json",
		                         "{\"error\":\"not_found\"}");
	}
	if (r.status < 100 || r.status > 599)
		r.status = 500;
	if (!r.body)
		r.body_len = 0;
	http_extra x = {.disposition = r.content_disposition, .retry_after_s = r.retry_after_s};
	return http_respond(wsi, pss, r.status,
	                    r.content_type ? r.content_type : "text/plain; charset=utf-8",
	                    r.body ? r.body : strdup(""), r.body_len, &x);
}

int sig_http_body_complete(sig_server *s, struct lws *wsi, sig_pss *pss)
{
	if (!pss->tx || !pss->tx->body)
		return -1;
	return http_api_answer(s, wsi, pss);
}

/* Starts an API request: GET is answered at once, POST after its body has arrived. */
static int http_api_begin(sig_server *s, struct lws *wsi, sig_pss *pss, int method,
                          const char *path)
{
	if (method != LWSHUMETH_GET && method != LWSHUMETH_POST)
		return http_respond_text(wsi, pss, 405, "application/json",
		                         "{\"error\":\"method_not_allowed\"}");
	sig_http_tx *tx = pss->tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -1;
	tx->method = method == LWSHUMETH_GET ? "GET" : "POST";
	tx->path = strdup(path);
	tx->query = http_query(wsi);
	tx->auth = http_header_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	tx->ctype = http_header_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
	sig_host_name(wsi, tx->host, sizeof tx->host);
	if (!tx->path)
		return -1;
	if (method == LWSHUMETH_GET)
		return http_api_answer(s, wsi, pss);

	char cl[32];
	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
		/* lws would wait for 100 MiB of body; refuse and hang up instead. */
		lws_return_http_status(wsi, HTTP_STATUS_LENGTH_REQUIRED, NULL);
		return -1;
	}
	char *endp;
	unsigned long long want = strtoull(cl, &endp, 10);
	if (*endp || want > SIG_MAX_MESSAGE) {
		lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, NULL);
		return -1;
	}
	tx->body_cap = (size_t)want;
	tx->body = malloc(tx->body_cap + 1);
	if (!tx->body)
		return -1;
	tx->body[0] = '\0';
	return 0; /* LWS_CALLBACK_HTTP_BODY_COMPLETION answers */
}

int sig_http_body(sig_pss *pss, const char *in, size_t len)
{
	sig_http_tx *tx = pss->tx;
	if (!tx || !tx->body || !len) /* an empty body arrives as (NULL, 0) */
		return 0;
	if (len > tx->body_cap - tx->body_len)
		return -1; /* more than the Content-Length that lws promised */
	memcpy(tx->body + tx->body_len, in, len);
	tx->body_len += len;
	tx->body[tx->body_len] = '\0';
	return 0;
}

/* ---- HTTP: static files ----------------------------------------------------------------- */

static const char *http_mime(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".map", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".woff2", "font/woff2"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".wav", "audio/wav"},
	    /* The background blur's files (web/vendor/selfie_segmentation/): browsers compile
	     * WebAssembly while it downloads only when it comes as application/wasm. */
	    {".wasm", "application/wasm"},
	    {".tflite", "application/octet-stream"},
	    {".binarypb", "application/octet-stream"},
	    {".data", "application/octet-stream"},
	};
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/')) {
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			if (!strcasecmp(dot, types[i].ext))
				return types[i].type;
		}
	}
	return "application/octet-stream";
}

/* The page for "/" when the web root has no index.html: links to the pages that exist. */
static int http_index_page(sig_server *s, struct lws *wsi, sig_pss *pss)
{
	static const struct {
		const char *dir, *label;
	} pages[] = {
	    {"kiosk", "キオスク / Kiosk"},
	    {"desk", "窓口端末 / Desk"},
	    {"coordinator", "コーディネーター / Coordinator"},
	    {"stats", "統計 / Statistics"},
	};
	char html[2048], file[PATH_MAX];
	int n = snprintf(html, sizeof(html),
	                 "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\">"
	                 "<title>窓口 Madoguchi</title><h1>窓口 Madoguchi</h1><ul>");
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s/index.html", s->web_root, pages[i].dir);
		if (access(file, R_OK) == 0)
			n += snprintf(html + n, sizeof(html) - (size_t)n,
			              "<li><a href=\"/%s/\">%s</a></li>", pages[i].dir,
			              pages[i].label);
	}
	snprintf(html + n, sizeof(html) - (size_t)n, "</ul></html>\n");
	return http_respond_text(wsi, pss, 200, "text/html; charset=utf-8", html);
}

static int http_not_found(struct lws *wsi, sig_pss *pss)
{
	return http_respond_text(wsi, pss, 404, "text/plain; charset=utf-8", "not found\n");
}

/* realpath() of want into real, when the result lies inside the web root: this is what
 * stops symlinks that point out of it. */
static bool http_in_root(const sig_server *s, const char *want, char *real)
{
	size_t n = strlen(s->web_root);
	return realpath(want, real) && !strncmp(real, s->web_root, n) &&
	       (real[n] == '/' || real[n] == '\0');
}

/* Maps a URL path (already percent-decoded by lws, with "." and ".." segments collapsed)
 * to a file under the web root. Hidden files (".git", ".env") are never served. */
static int http_static(sig_server *s, struct lws *wsi, sig_pss *pss, const char *path)
{
	char want[PATH_MAX], real[PATH_MAX], extra[2048];
	size_t plen = strlen(path);
	struct stat st;

	if (path[0] != '/' || strstr(path, "/.") ||
	    snprintf(want, sizeof(want), "%s%s", s->web_root, path) >= (int)sizeof(want) ||
	    !http_in_root(s, want, real) || stat(real, &st) != 0)
		return http_not_found(wsi, pss);
	if (S_ISDIR(st.st_mode) && path[plen - 1] != '/') {
		/* Relative links in the page need the trailing slash. */
		snprintf(want, sizeof(want), "%s/", path);
		return http_respond(wsi, pss, 301, "text/plain", NULL, 0,
		                    &(http_extra){.location = want});
	}
	if (S_ISDIR(st.st_mode)) {
		if (snprintf(want, sizeof(want), "%s/index.html", real) >= (int)sizeof(want) ||
		    !http_in_root(s, want, real) || stat(real, &st) != 0)
			return plen == 1 ? http_index_page(s, wsi, pss) : http_not_found(wsi, pss);
	}
	if (!S_ISREG(st.st_mode))
		return http_not_found(wsi, pss);

	unsigned char *p = (unsigned char *)extra, *end = p + sizeof(extra) - 1;
	/* Only the desk's pages may compile WebAssembly (the background blur). */
	bool wasm = !strncmp(path, "/desk/", 6);
	if (http_add_headers(wsi, "no-cache", wasm, &p, end))
		return -1;
	*p = '\0'; /* lws looks for a cache-control header in here with strstr */
	int n = lws_serve_http_file(wsi, real, http_mime(real), extra,
	                            (int)(p - (unsigned char *)extra));
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

int sig_http_on_request(sig_server *s, struct lws *wsi, sig_pss *pss, const char *path,
                        size_t path_len)
{
	char *uri;
	int uri_len;

	sig_http_tx_free(pss);
	int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (strlen(path) != path_len) /* a decoded %00 would cut the path short */
		return http_not_found(wsi, pss);
	if (http_is_api(path))
		return http_api_begin(s, wsi, pss, method, path);
	if (method != LWSHUMETH_GET && method != LWSHUMETH_HEAD)
		return http_respond_text(wsi, pss, 405, "text/plain; charset=utf-8",
		                         "method not allowed\n");
	return http_static(s, wsi, pss, path);
}
