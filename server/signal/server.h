/* The HTTPS + WSS front door on libwebsockets, running on the server's libuv loop:
 * static files from the web root, the WebSocket endpoint /ws (one JSON text message per
 * frame, at most 64 KiB), and a hook for HTTP API routes (/healthz, /metrics, /api/...).
 * It knows nothing of the protocol's meaning: it hands whole messages to callbacks. */
#ifndef MDG_SIGNAL_SERVER_H
#define MDG_SIGNAL_SERVER_H

#include <stddef.h>
#include <uv.h>

#define SIG_MAX_MESSAGE (64 * 1024)

typedef struct sig_server sig_server;
typedef struct sig_conn sig_conn; /* one WebSocket connection; owned by sig_server */

/* An API request whose answer comes later (see on_http). Valid until sig_http_complete,
 * which frees it: never freed behind the application's back, even when the client goes. */
typedef struct sig_http_pending sig_http_pending;

/* One API request as the application sees it. Strings are NUL-terminated and valid during
 * on_http only; absent headers are NULL. */
typedef struct sig_http_request {
	const char *method;        /* "GET" or "POST" */
	const char *path;          /* e.g. "/api/login" */
	const char *query;         /* without '?', re-encoded (see on_http), or NULL */
	const char *authorization; /* the Authorization header */
	const char *content_type;  /* the Content-Type header */
	const char *body;          /* POST: the body (NUL-terminated); GET: NULL */
	size_t body_len;
	const char *peer_ip; /* the client's address ("192.0.2.1", "::1") */
	int peer_loopback;   /* the client connected from a loopback address */
	const char *host;    /* the Host header as sig_conn_host gives it ("" when absent) */
} sig_http_request;

typedef struct sig_http_response {
	int status;               /* e.g. 200 */
	const char *content_type; /* e.g. "application/json" */
	char *body;               /* malloc'd; sig_server frees it */
	size_t body_len;
	/* Optional: a Content-Disposition header (e.g. attachment; filename="x.csv") and a
	 * Retry-After in seconds (0 = none, for 429 and 503). Copied by the server. */
	const char *content_disposition;
	int retry_after_s;
	/* In: the handle that answers this request later if on_http returns 1. */
	sig_http_pending *pending;
} sig_http_response;

/* Answers a request for which on_http returned 1, exactly once, from any callback on the
 * server's loop (resp as on_http would fill it; its body is taken over). The client may have
 * gone meanwhile, or the server may already be finished: the answer is then dropped, and the
 * call is still required, since it frees the handle. */
void sig_http_complete(sig_http_pending *p, sig_http_response *resp);

typedef struct sig_callbacks {
	void *user;
	/* A WebSocket connection opened on /ws. Return a per-connection pointer (or NULL);
	 * it is passed back in on_message / on_close and available via sig_conn_user(). */
	void *(*on_open)(void *user, sig_conn *c, const char *peer_ip);
	/* Asked before a WebSocket upgrade is accepted (after the Origin check): 0 lets it
	 * through, an HTTP status (e.g. 503) refuses it with that status. Optional. */
	int (*on_upgrade)(void *user, const char *peer_ip);
	/* One complete text message (NUL-terminated copy, len excludes the NUL). Binary
	 * frames and messages over SIG_MAX_MESSAGE never reach here: the server reads them to
	 * their end and calls on_bad_frame instead, why = "binary", "too large" or "out of
	 * memory"; the connection stays open. Both may call sig_conn_send / sig_conn_close. */
	void (*on_message)(void *user, sig_conn *c, void *conn_user, const char *text, size_t len);
	void (*on_bad_frame)(void *user, sig_conn *c, void *conn_user, const char *why);
	/* The connection is gone; c is invalid after this returns. */
	void (*on_close)(void *user, sig_conn *c, void *conn_user);
	/* An HTTP request for a path that is not a static file (/healthz, /metrics, /api/...).
	 * lws decodes the query while parsing, so the server re-encodes each argument ('&',
	 * '#', '%', '+', ';', spaces, controls and non-ASCII as %XX; "a=1&by=x,y" arrives
	 * unchanged): percent-decode names and values as usual. Return 0 and fill *resp
	 * (status, content_type, body), or -1 for 404 {"error":"not_found"}. Return 1 to answer
	 * later (a database query, a password check): keep resp->pending and pass it to
	 * sig_http_complete; resp's other fields are then ignored. A connection left without an
	 * answer for 60 s is dropped. Paths routed here: /healthz, /metrics, /api and
	 * /api/...; other methods get 405, a POST without Content-Length 411 and one over
	 * SIG_MAX_MESSAGE 413 (those two close the connection). */
	int (*on_http)(void *user, const sig_http_request *req, sig_http_response *resp);
} sig_callbacks;

typedef struct sig_server_config {
	const char *bind;      /* address to listen on, e.g. "0.0.0.0" or "127.0.0.1" */
	int port;              /* e.g. 8443 */
	const char *web_root;  /* directory of static files (web/) */
	const char *cert_path; /* PEM; NULL = plain HTTP/WS (only allowed on loopback) */
	const char *key_path;
	/* Origins besides the request's own Host whose pages may open /ws: comma-separated
	 * "scheme://host[:port]" (NULL or "" = none). */
	const char *allowed_origins;
} sig_server_config;

/* Starts listening: HTTPS and WSS on one port (ALPN http/1.1 only), or plain HTTP/WS when
 * cert_path is NULL, which is refused unless bind is a loopback address. Static files:
 * "/" serves web_root/index.html or a generated page linking the pages that exist, a
 * directory without its trailing slash is redirected (301), a directory serves its
 * index.html; paths that leave the root (also via symlinks) and hidden files are 404.
 * WebSockets are accepted on /ws only, and only from clients that send no Origin (not
 * browsers) or an Origin whose host[:port] is the request's Host or an allowed origin: others
 * get 403, so a page elsewhere cannot drive a clerk's browser into our socket. Idle ones are
 * pinged after 20 s and dropped after 45 s without an answer. With TLS, every response
 * carries HSTS, and only TLS 1.2 with ECDHE and AEAD suites, or TLS 1.3, is accepted. Returns NULL
 * on error (logged), e.g. the port is taken, the certificate does not load or the web root is
 * missing. */
sig_server *sig_server_new(uv_loop_t *loop, const sig_server_config *cfg, const sig_callbacks *cb);

/* Shutting down takes two calls, because lws 4.1.6 on a foreign loop frees its context only
 * when lws_context_destroy() is called again after the loop has let it close its handles
 * (shared/NOTES.md):
 *
 *   sig_server_free(s);   e.g. from the SIGINT handler: refuse new WebSockets and close
 *                         each open one with 1001 "going away" after its queued messages;
 *                         once all are gone (at most 2 s) a timer of ours destroys the lws
 *                         context the first time and closes itself
 *   ...the caller closes its own handles; uv_run() returns...
 *   sig_server_finish(s); the second lws_context_destroy(), a few non-blocking loop passes
 *                         so lws closes what is left, then free s
 *
 * Measured with ASan (lws 4.1.6, open browser-less clients, a client that never answers the
 * close): this sequence leaves the leak checker silent; without the second destroy ~400 KB
 * stay allocated. on_close is called for every connection by the end of sig_server_finish
 * at the latest, so the callbacks' user must stay valid until then. sig_server_free does
 * not free s: without sig_server_finish the server leaks. Both accept NULL. If the caller's
 * loop stopped early (uv_stop) or never ran, sig_server_finish runs it itself (UV_RUN_ONCE)
 * only until the server's own part is done, however many other handles remain active. */
void sig_server_free(sig_server *s);
void sig_server_finish(sig_server *s);

typedef struct sig_server_counters {
	unsigned long long upgrades_refused_origin; /* 403: a foreign Origin */
	unsigned long long upgrades_refused_app;    /* on_upgrade said no (e.g. 503) */
} sig_server_counters;
const sig_server_counters *sig_server_get_counters(const sig_server *s);

/* Queues a text message (copied); messages go out in order, one per writable event.
 * Returns 0, or -1 when the connection is closing. A client that lets more than 8 MiB pile
 * up is dropped at once (no close frame) and further sends return -1. */
int sig_conn_send(sig_conn *c, const char *text, size_t len);
/* Closes with a WebSocket status (e.g. 1008) and reason (at most 123 bytes) after the
 * queued messages; on_close follows once the client has answered (or after 5 s). */
void sig_conn_close(sig_conn *c, int status, const char *reason);
void *sig_conn_user(sig_conn *c);
/* Replaces the per-connection pointer (a resumed session adopts a new connection). */
void sig_conn_set_user(sig_conn *c, void *user);
/* The Host header of the connection's upgrade request, lower case, without the port; ""
 * when absent. It selects the tenant (several cities on one installation). */
#define SIG_HOST_MAX 256
const char *sig_conn_host(const sig_conn *c);
/* The largest message this connection may send (at most SIG_MAX_MESSAGE, the default).
 * Until hello succeeds the application keeps it small, so a crowd of unauthenticated
 * connections cannot hold 64 KiB each in half-sent frames. */
void sig_conn_set_max_message(sig_conn *c, size_t max);

/* Creates a self-signed certificate and key (ECDSA P-256, CN=localhost, SAN localhost,
 * 127.0.0.1 and ::1, valid 825 days, SHA-256) at the given paths unless both exist; missing
 * directories are created (mode 0700), the key file is mode 0600. When only one of the two
 * exists both are replaced. Returns 0 or -1 (logged). */
int sig_tls_ensure_selfsigned(const char *cert_path, const char *key_path);

#endif
