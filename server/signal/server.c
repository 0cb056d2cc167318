/* The HTTPS + WSS front door: one libwebsockets context on our libuv loop, one protocol that
 * serves both the /ws WebSocket and plain HTTP (static files and the API hook).
 *
 * lws rules this file follows (see shared/NOTES.md): the WebSocket protocol is protocols[0]
 * because browsers open /ws without a subprotocol; exactly one lws_write per writable
 * callback, with a per-connection queue that keeps LWS_PRE bytes in front of each payload;
 * connections are closed with 1001 before the context goes, because destroying the context
 * sends no close frame; and the context is destroyed twice around the loop (see
 * sig_server_finish in server.h). The HTTP half (static files, the API hook) is in
 * server_http.c. */
#include "base/log.h"
#include "signal/server_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* SRV_RX_BUFFER: per thread (HTTP reads, file chunks). SRV_WS_RX_BUFFER: per WebSocket,
 * for its life; a longer message arrives in several callbacks, which conn_receive joins
 * (up to SIG_MAX_MESSAGE). */
#define SRV_RX_BUFFER         65536
#define SRV_WS_RX_BUFFER      4096
#define SRV_SEND_QUEUE_MAX    (8 * 1024 * 1024) /* bytes queued for one slow client */
#define SRV_SHUTDOWN_GRACE_MS 2000              /* wait this long for close handshakes */

typedef struct srv_msg {
	struct srv_msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the payload */
} srv_msg;

struct sig_conn {
	struct lws *wsi;
	void *user;
	sig_conn *prev, *next; /* in srv->conns */
	srv_msg *head, *tail;  /* send queue */
	size_t queued;
	char *rx; /* max_message + 1 bytes while a message is being received */
	size_t rx_len;
	size_t max_message; /* see sig_conn_set_max_message */
	bool rx_active;     /* inside a message (between its first and final fragment) */
	const char *rx_bad; /* why the message in progress will be rejected, or NULL */
	bool closing;       /* no more sends: a close frame follows the queue */
	bool close_sent;    /* lws is sending our close frame */
	int close_status;
	char close_reason[124]; /* a close frame carries at most 123 bytes of reason */
	char host[SIG_HOST_MAX]; /* the upgrade's Host, as sig_host_name gives it */
};

/* ---- logging ---------------------------------------------------------------------------- */

static void srv_lws_log(int level, const char *line)
{
	size_t len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	log_write(level == LLL_ERR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "http", "lws: %.*s",
	          (int)len, line);
}

/* ---- WebSocket connections -------------------------------------------------------------- */

static void conn_drop_queue(sig_conn *c)
{
	while (c->head) {
		srv_msg *m = c->head;
		c->head = m->next;
		free(m);
	}
	c->tail = NULL;
	c->queued = 0;
}

int sig_conn_send(sig_conn *c, const char *text, size_t len)
{
	if (!c || c->closing || (!text && len))
		return -1;
	if (c->queued + len > SRV_SEND_QUEUE_MAX) {
		/* The client stopped reading; keeping its backlog would let one slow socket
		 * eat the server's memory. Drop it at once rather than after the queue. */
		LOG_WARN("http", "send queue full, dropping connection queued=%zu", c->queued);
		c->closing = true;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		return -1;
	}
	srv_msg *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return -1;
	m->next = NULL;
	m->len = len;
	if (len)
		memcpy(m->buf + LWS_PRE, text, len);
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->queued += len;
	lws_callback_on_writable(c->wsi);
	return 0;
}

void sig_conn_close(sig_conn *c, int status, const char *reason)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	c->close_status = status;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
	lws_callback_on_writable(c->wsi);
}

const sig_server_counters *sig_server_get_counters(const sig_server *s)
{
	return &s->counters;
}

void sig_conn_set_max_message(sig_conn *c, size_t max)
{
	if (c)
		c->max_message = max < SIG_MAX_MESSAGE ? max : SIG_MAX_MESSAGE;
}

void *sig_conn_user(sig_conn *c)
{
	return c ? c->user : NULL;
}

void sig_conn_set_user(sig_conn *c, void *user)
{
	if (c)
		c->user = user;
}

const char *sig_conn_host(const sig_conn *c)
{
	return c ? c->host : "";
}

void sig_host_name(struct lws *wsi, char *out, size_t cap)
{
	out[0] = '\0';
	if (lws_hdr_copy(wsi, out, (int)cap, WSI_TOKEN_HOST) <= 0) {
		out[0] = '\0';
		return;
	}
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* The port goes; an IPv6 literal keeps its brackets. */
	char *colon = strrchr(out, ':');
	char *bracket = strrchr(out, ']');
	if (colon && (!bracket || colon > bracket))
		*colon = '\0';
}

/* Strips the IPv4-mapped prefix so a v4 client is "192.0.2.1" whichever socket family the
 * listener has. */
void sig_peer_ip(struct lws *wsi, char *ip, size_t size)
{
	if (!lws_get_peer_simple(wsi, ip, size)) {
		snprintf(ip, size, "unknown");
		return;
	}
	if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.'))
		memmove(ip, ip + 7, strlen(ip + 7) + 1);
}

bool sig_peer_is_loopback(struct lws *wsi)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = (int)lws_get_socket_fd(wsi);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127;
	}
	return false;
}

static int conn_open(sig_server *s, struct lws *wsi, sig_pss *pss)
{
	sig_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->wsi = wsi;
	c->max_message = SIG_MAX_MESSAGE;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	pss->conn = c;

	char ip[64];
	sig_peer_ip(wsi, ip, sizeof(ip));
	sig_host_name(wsi, c->host, sizeof c->host);
	LOG_DEBUG("http", "websocket open peer=%s", ip);
	if (s->cb.on_open)
		c->user = s->cb.on_open(s->cb.user, c, ip);
	if (s->stopping)
		sig_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "going away");
	return 0;
}

static void stop_schedule_destroy(sig_server *s, uint64_t delay_ms);

static void conn_closed(sig_server *s, sig_pss *pss)
{
	sig_conn *c = pss->conn;
	if (!c)
		return;
	pss->conn = NULL;
	c->closing = true; /* sig_conn_send from on_close has nowhere to go */
	if (s->cb.on_close)
		s->cb.on_close(s->cb.user, c, c->user);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	conn_drop_queue(c);
	free(c->rx);
	free(c);
	/* The last goodbye is done: no need to wait for the rest of the grace period. */
	if (s->stopping && !s->n_conns && !s->destroyed)
		stop_schedule_destroy(s, 0);
}

/* Collects the fragments of one message. Binary and oversized messages are read to their
 * end and dropped (never closing the connection): the protocol layer decides what repeated
 * bad input means. */
static void conn_receive(sig_server *s, sig_conn *c, struct lws *wsi, const char *in, size_t len)
{
	if (!c->rx_active) {
		c->rx_active = true;
		c->rx_len = 0;
		c->rx_bad = lws_frame_is_binary(wsi) ? "binary" : NULL;
	}
	if (!c->rx_bad && c->rx_len + len > c->max_message)
		c->rx_bad = "too large";
	if (!c->rx_bad && !c->rx && !(c->rx = malloc(c->max_message + 1)))
		c->rx_bad = "out of memory";
	if (!c->rx_bad) {
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (!lws_is_final_fragment(wsi))
		return;

	c->rx_active = false;
	if (c->rx_bad) {
		LOG_DEBUG("http", "websocket message rejected why=\"%s\"", c->rx_bad);
		if (s->cb.on_bad_frame)
			s->cb.on_bad_frame(s->cb.user, c, c->user, c->rx_bad);
	} else {
		c->rx[c->rx_len] = '\0';
		if (s->cb.on_message)
			s->cb.on_message(s->cb.user, c, c->user, c->rx, c->rx_len);
	}
	/* The buffer lives only while a message is in progress: idle connections (the usual
	 * state) hold no 64 KiB each. */
	free(c->rx);
	c->rx = NULL;
	c->rx_len = 0;
}

/* One write per call, as lws requires. Returns -1 to make lws close the connection.
 *
 * Closing: the documented way (lws_close_reason, then return -1) sends no close frame with
 * Debian's lws 4.1.6 on libuv: its debug build closes the socket a second time at once
 * ("uv repeat test"), so clients saw 1006. A synchronous kill request takes the polite path
 * once: lws sends the close frame with our reason, waits up to 5 s for the client's answer,
 * then calls LWS_CALLBACK_CLOSED. */
static int conn_writable(sig_conn *c)
{
	if (c->close_sent)
		return 0;
	if (c->head) {
		srv_msg *m = c->head;
		int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		c->head = m->next;
		if (!c->head)
			c->tail = NULL;
		c->queued -= m->len;
		free(m);
		if (n < 0)
			return -1;
		if (c->head || c->closing)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->closing) {
		c->close_sent = true;
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_status,
		                 (unsigned char *)c->close_reason, strlen(c->close_reason));
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
	}
	return 0;
}

/* ---- admitting WebSocket upgrades ------------------------------------------------------- */

/* The host[:port] of an origin "scheme://host[:port]" with the scheme's default port
 * dropped, lower-cased; -1 when it is not of that shape. */
static int srv_origin_authority(const char *origin, size_t len, char *out, size_t cap)
{
	const char *sep = memmem(origin, len, "://", 3);
	if (!sep)
		return -1;
	size_t scheme_len = (size_t)(sep - origin);
	const char *host = sep + 3;
	size_t n = len - (size_t)(host - origin);
	if (n == 0 || n >= cap || memchr(host, '/', n))
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)host[i]);
	out[n] = '\0';
	const char *dflt = scheme_len == 5 && !strncasecmp(origin, "https", 5)  ? ":443"
	                   : scheme_len == 4 && !strncasecmp(origin, "http", 4) ? ":80"
	                                                                        : NULL;
	if (dflt && n > strlen(dflt) && !strcmp(out + n - strlen(dflt), dflt))
		out[n - strlen(dflt)] = '\0';
	return 0;
}

/* The Host header, lower-cased, with a default port dropped (":443" with TLS, ":80"
 * without). Empty when absent. */
static void srv_host_authority(struct lws *wsi, char *out, size_t cap)
{
	out[0] = '\0';
	if (lws_hdr_copy(wsi, out, (int)cap, WSI_TOKEN_HOST) <= 0) {
		out[0] = '\0';
		return;
	}
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *dflt = lws_is_ssl(wsi) ? ":443" : ":80";
	size_t n = strlen(out);
	if (n > strlen(dflt) && !strcmp(out + n - strlen(dflt), dflt))
		out[n - strlen(dflt)] = '\0';
}

/* Browsers always send Origin on a WebSocket upgrade; other clients (kiosk devices, tests,
 * tools) may not, and are not the cross-site risk. An Origin must name the Host the request
 * was sent to, or one of the allowed origins. */
static bool srv_origin_allowed(sig_server *s, struct lws *wsi)
{
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
	if (len <= 0)
		return true;
	char origin[256], want[256], host[256];
	if (len >= (int)sizeof(origin) ||
	    lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
	    srv_origin_authority(origin, strlen(origin), want, sizeof(want)) != 0)
		return false;
	srv_host_authority(wsi, host, sizeof(host));
	if (host[0] && !strcmp(want, host))
		return true;
	for (const char *p = s->allowed_origins ? s->allowed_origins : ""; *p;) {
		size_t n = strcspn(p, ",");
		char allowed[256];
		if (srv_origin_authority(p, n, allowed, sizeof(allowed)) == 0 &&
		    !strcmp(want, allowed))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Refuses with an HTTP status instead of lws's bare hang-up, so the client learns why. */
static int srv_refuse_upgrade(struct lws *wsi, unsigned int status)
{
	lws_return_http_status(wsi, status, NULL);
	return -1;
}

static int srv_admit_upgrade(sig_server *s, struct lws *wsi)
{
	char uri[16], ip[64];
	if (s->stopping)
		return srv_refuse_upgrade(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws"))
		return srv_refuse_upgrade(wsi, HTTP_STATUS_NOT_FOUND);
	sig_peer_ip(wsi, ip, sizeof(ip));
	if (!srv_origin_allowed(s, wsi)) {
		s->counters.upgrades_refused_origin++;
		LOG_INFO("http", "websocket refused peer=%s why=origin", ip);
		return srv_refuse_upgrade(wsi, HTTP_STATUS_FORBIDDEN);
	}
	int status = s->cb.on_upgrade ? s->cb.on_upgrade(s->cb.user, ip) : 0;
	if (status) {
		s->counters.upgrades_refused_app++;
		return srv_refuse_upgrade(wsi, (unsigned int)status);
	}
	return 0;
}

/* ---- the lws protocol callback ---------------------------------------------------------- */

static int srv_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	sig_server *s = lws_context_user(lws_get_context(wsi));
	sig_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return srv_admit_upgrade(s, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return conn_open(s, wsi, pss);
	case LWS_CALLBACK_RECEIVE:
		if (pss && pss->conn && !pss->conn->close_sent)
			conn_receive(s, pss->conn, wsi, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return pss && pss->conn ? conn_writable(pss->conn) : 0;
	case LWS_CALLBACK_CLOSED:
		if (pss)
			conn_closed(s, pss);
		return 0;

	case LWS_CALLBACK_HTTP:
		return sig_http_on_request(s, wsi, pss, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return sig_http_body(pss, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return sig_http_body_complete(s, wsi, pss);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return sig_http_writable(wsi, pss);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss)
			sig_http_tx_free(pss);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- lifetime --------------------------------------------------------------------------- */

static bool srv_is_loopback(const char *bind)
{
	return !strncmp(bind, "127.", 4) || !strcmp(bind, "::1") || !strcmp(bind, "localhost");
}

/* The second half of destroying a context whose first lws_context_destroy() has run: lws
 * 4.1.6 on a foreign loop frees it only when called again after the loop has let it close
 * its handles. Non-blocking passes, so the caller's other handles never keep us waiting. */
static void srv_discard_context(uv_loop_t *loop, struct lws_context *ctx)
{
	for (int i = 0; i < 8; i++)
		uv_run(loop, UV_RUN_NOWAIT);
	lws_context_destroy(ctx);
	for (int i = 0; i < 8; i++)
		uv_run(loop, UV_RUN_NOWAIT);
}

sig_server *sig_server_new(uv_loop_t *loop, const sig_server_config *cfg, const sig_callbacks *cb)
{
	if (!loop || !cfg || !cb || !cfg->web_root || cfg->port <= 0 || cfg->port > 65535)
		return NULL;
	const char *bind = cfg->bind ? cfg->bind : "127.0.0.1";
	if (!cfg->cert_path && !srv_is_loopback(bind)) {
		LOG_ERROR("http", "refusing plain HTTP on a non-loopback address bind=%s", bind);
		return NULL;
	}
	sig_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->cb = *cb;
	s->web_root = realpath(cfg->web_root, NULL);
	if (!s->web_root) {
		LOG_ERROR("http", "web root not found path=%s", cfg->web_root);
		free(s);
		return NULL;
	}
	if (cfg->allowed_origins && cfg->allowed_origins[0] &&
	    !(s->allowed_origins = strdup(cfg->allowed_origins))) {
		free(s->web_root);
		free(s);
		return NULL;
	}

	/* lws keeps its log level process-wide; only this module uses lws. */
	lws_set_log_level(LLL_ERR | LLL_WARN, srv_lws_log);

	s->protocols[0] = (struct lws_protocols){
	    .name = "madoguchi",
	    .callback = srv_callback,
	    .per_session_data_size = sizeof(sig_pss),
	    .rx_buffer_size = SRV_WS_RX_BUFFER,
	};
	/* Ping a WebSocket that has been quiet for 20 s and drop it after 45 s without an
	 * answer: a kiosk whose cable was pulled must not look present for minutes. */
	s->retry.secs_since_valid_ping = 20;
	s->retry.secs_since_valid_hangup = 45;

	void *foreign[1] = {loop};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = foreign;
	info.port = cfg->port;
	info.iface = bind;
	if (!strchr(bind, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.protocols = s->protocols;
	info.user = s;
	info.pt_serv_buf_size = SRV_RX_BUFFER;
	info.server_string = "madoguchi";
	info.vhost_name = "madoguchi";
	info.retry_and_idle_policy = &s->retry;
	info.alpn = "http/1.1"; /* no h2: /ws must stay a plain HTTP/1.1 upgrade */
	if (cfg->cert_path) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->cert_path;
		info.ssl_private_key_filepath = cfg->key_path ? cfg->key_path : cfg->cert_path;
		/* TLS 1.2 with forward secrecy and AEAD only (no CBC, no static RSA), or TLS 1.3
		 * with OpenSSL's default suites; every browser a city runs speaks these. */
		info.ssl_cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
		                       "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
		                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
		info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
		                       SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
	}

	s->ctx = lws_create_context(&info);
	if (s->ctx && !lws_get_vhost_by_name(s->ctx, info.vhost_name)) {
		/* The listener or the certificate failed. On a foreign loop lws 4.1.6 still
		 * returns the context, with the first destroy done: finish the job. */
		srv_discard_context(loop, s->ctx);
		s->ctx = NULL;
	}
	if (!s->ctx) {
		LOG_ERROR("http", "cannot start the web server bind=%s port=%d", bind, cfg->port);
		free(s->allowed_origins);
		free(s->web_root);
		free(s);
		return NULL;
	}
	LOG_INFO("http", "listening bind=%s port=%d tls=%s web_root=%s", bind, cfg->port,
	         cfg->cert_path ? "yes" : "no", s->web_root);
	return s;
}

static void stop_timer_closed(uv_handle_t *h)
{
	sig_server *s = h->data;
	s->timer_open = false;
}

/* The first lws_context_destroy, always from our own timer so that it never runs inside
 * an lws callback (lws would defer it). */
static void stop_timer_fired(uv_timer_t *t)
{
	sig_server *s = t->data;
	if (s->n_conns)
		LOG_WARN("http", "closing without goodbye connections=%zu", s->n_conns);
	s->destroyed = true;
	uv_close((uv_handle_t *)&s->stop_timer, stop_timer_closed);
	lws_context_destroy(s->ctx);
}

static void stop_schedule_destroy(sig_server *s, uint64_t delay_ms)
{
	if (s->timer_open && !s->destroyed)
		uv_timer_start(&s->stop_timer, stop_timer_fired, delay_ms, 0);
}

void sig_server_free(sig_server *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = true;
	uv_timer_init(s->loop, &s->stop_timer);
	s->stop_timer.data = s;
	s->timer_open = true;
	for (sig_conn *c = s->conns; c; c = c->next)
		sig_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "going away");
	stop_schedule_destroy(s, s->n_conns ? SRV_SHUTDOWN_GRACE_MS : 0);
}

void sig_server_finish(sig_server *s)
{
	if (!s)
		return;
	sig_server_free(s);
	/* Normally nothing to wait for: the caller's loop has run the shutdown to its end. If
	 * the caller stopped its loop early, run it just until our part is done (our timer
	 * guarantees progress), whatever other handles it still has. */
	while (!s->destroyed || s->timer_open) {
		if (!uv_run(s->loop, UV_RUN_ONCE))
			break;
	}
	srv_discard_context(s->loop, s->ctx);
	sig_http_orphan_all(s);
	free(s->allowed_origins);
	free(s->web_root);
	free(s);
}
