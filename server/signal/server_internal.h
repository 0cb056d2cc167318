/* Private to server.c and server_http.c, the two halves of the front door: the server
 * object and lws's per-connection space, which both halves use, and the calls between them.
 * server.c owns the lws context, the protocol callback, the WebSocket connections and the
 * shutdown; server_http.c answers plain HTTP (static files, the API hook, error pages). */
#ifndef MDG_SIGNAL_SERVER_INTERNAL_H
#define MDG_SIGNAL_SERVER_INTERNAL_H

#include "signal/server.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

/* One HTTP request that server_http.c answers itself; its fields are private to that file. */
typedef struct sig_http_tx sig_http_tx;

/* The Host header lower-cased without its port (server.c), "" when absent. */
void sig_host_name(struct lws *wsi, char *out, size_t cap);

/* lws's per-wsi user space (zeroed by lws). A WebSocket has conn; an HTTP transaction that
 * we answer ourselves has tx. */
typedef struct sig_pss {
	sig_conn *conn;
	sig_http_tx *tx;
} sig_pss;

struct sig_server {
	uv_loop_t *loop;
	sig_callbacks cb;
	struct lws_context *ctx;
	struct lws_protocols protocols[2];
	lws_retry_bo_t retry;
	char *web_root;        /* realpath, no trailing slash */
	char *allowed_origins; /* copy of the config's list, or NULL */
	sig_server_counters counters;
	sig_conn *conns;
	size_t n_conns;
	sig_http_pending *pending; /* API requests waiting for sig_http_complete */
	uv_timer_t stop_timer;
	bool stopping;   /* sig_server_free was called */
	bool destroyed;  /* the first lws_context_destroy has run */
	bool timer_open; /* stop_timer is initialised and not yet closed */
};

/* server.c: the client's address, with the IPv4-mapped prefix stripped. */
void sig_peer_ip(struct lws *wsi, char *ip, size_t size);
/* server.c: whether the client's socket address is a loopback one (127/8, ::1, or an
 * IPv4-mapped 127/8), read from the socket itself rather than from any header. */
bool sig_peer_is_loopback(struct lws *wsi);

/* server_http.c: the HTTP reasons of the protocol callback, in the order lws calls them
 * (LWS_CALLBACK_HTTP, _HTTP_BODY, _HTTP_BODY_COMPLETION, _HTTP_WRITEABLE). Each returns what
 * the callback returns to lws: -1 closes the connection. */
int sig_http_on_request(sig_server *s, struct lws *wsi, sig_pss *pss, const char *path,
                        size_t path_len);
int sig_http_body(sig_pss *pss, const char *in, size_t len);
int sig_http_body_complete(sig_server *s, struct lws *wsi, sig_pss *pss);
int sig_http_writable(struct lws *wsi, sig_pss *pss);
/* Frees the transaction in pss, if any (a new request or the connection closing). A pending
 * answer is detached: sig_http_complete will drop it. */
void sig_http_tx_free(sig_pss *pss);
/* The server is going away: detaches every pending answer from it (sig_server_finish). */
void sig_http_orphan_all(sig_server *s);

#endif
