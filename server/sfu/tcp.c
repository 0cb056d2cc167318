/* Passive ICE-TCP (RFC 6544) for branches whose firewall blocks UDP: one listening socket
 * on the media port number, one connection per browser candidate pair, and on each an
 * RFC 4571 stream of length-prefixed packets. Every frame is handed to the same demux as a
 * UDP datagram, with the connection as part of its source address, so ICE, DTLS and SRTP
 * neither know nor care which transport carried it.
 *
 * Anyone on the network can open connections, so each one is on a short lease: it must
 * become some peer's ICE path (pass a STUN check with that peer's password) within
 * auth_ms, it is closed after idle_ms without a byte, frames longer than TCP_FRAME_MAX
 * close it, and its send queue is capped.
 *
 * Places are limited too, and handed out so that holding them is no attack: one source
 * address may hold at most max_per_addr connections (PROTOCOL.md), and when all max_conns
 * places are taken a new connection takes the place of the oldest one that is nobody's ICE
 * path ("unauthenticated"); only when every connection is some peer's path is the new one
 * refused. A flood of silent connections from many addresses therefore only evicts itself:
 * a browser's connection, which sends its STUN check at once, would have to be outlived by
 * max_conns newer connections before that check arrives. Once it has passed a check it is
 * never evicted, so a client with credentials keeps its path however long the flood goes
 * on. A separate, smaller cap for unauthenticated connections would have been simpler but
 * would still let a flood take all of them, keeping out every browser still to connect. */
#include "base/log.h"
#include "sfu/sfu_internal.h"
#include "sfu/tcp_frame.h"

#include <stdlib.h>
#include <string.h>

#define TCP_MAX_CONNS    256
#define TCP_MAX_PER_ADDR 8     /* PROTOCOL.md, "Limits every server enforces" */
#define TCP_AUTH_MS      10000 /* to pass a STUN check */
#define TCP_IDLE_MS      60000 /* without a byte received; browsers check every few s */
#define TCP_SWEEP_MS     1000
#define TCP_MAX_QUEUE    (1024 * 1024) /* bytes waiting in the send queue */
#define TCP_LISTEN_QUEUE 128

struct tcp_conn {
	uv_tcp_t handle; /* handle.data is the connection */
	struct sfu_tcp *owner;
	/* The owner's list runs from the oldest connection to the newest. */
	struct tcp_conn *prev, *next;
	sfu_addr addr;       /* the remote end; addr.tcp is this connection */
	int authed;          /* some peer's ICE path, as of its last check or the last sweep */
	uint64_t rx_ms;      /* loop time of the last byte received */
	uint64_t owned_ms;   /* loop time it was last some peer's path (or was accepted) */
	int closing, failed; /* failed: a send failed; the sweep or the reader closes it */
	tcp_frame_buf rx;
};

struct sfu_tcp {
	struct sfu *s;
	uv_tcp_t listener; /* data: this struct; the sfu when handed to `done` */
	uv_timer_t sweep;
	struct tcp_conn *conns, *newest;
	int n_conns;
	int live; /* handles not yet closed: listener, sweep, every connection */
	int closing;
	uv_close_cb done;
	int max_conns, max_per_addr;
	uint64_t auth_ms, idle_ms;
	uint64_t refused, evicted; /* for the log only */
};

/* A queued send: the frame (header and packet) copied, since the caller's buffer is reused. */
typedef struct tcp_write {
	uv_write_t req;
	struct tcp_conn *conn;
	size_t len;
	uint8_t data[];
} tcp_write;

static void finish_close(struct sfu_tcp *t)
{
	t->listener.data = t->s;
	t->done((uv_handle_t *)&t->listener);
	free(t);
}

static void on_part_closed(uv_handle_t *h)
{
	struct sfu_tcp *t = h->data;
	if (--t->live == 0 && t->closing)
		finish_close(t);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	struct sfu_tcp *t = c->owner;
	free(c);
	if (--t->live == 0 && t->closing)
		finish_close(t);
}

/* Closes a connection. Every peer forgets it first, so no path keeps pointing at it; the
 * memory goes in the close callback, so callers up the stack may still look at `closing`. */
static void conn_close(struct tcp_conn *c, const char *why)
{
	if (c->closing)
		return;
	struct sfu_tcp *t = c->owner;
	struct sfu *s = t->s;
	c->closing = 1;
	ice_forget_tcp(s, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->newest = c->prev;
	t->n_conns--;
	s->stats.ice_tcp_open--;
	LOG_DEBUG("sfu", "ice-tcp connection closed reason=%s open=%d", why, t->n_conns);
	uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

static int on_frame(void *user, uint8_t *frame, size_t len)
{
	struct tcp_conn *c = user;
	struct sfu *s = c->owner->s;
	/* The demux may work on the packet in place as if it had the whole receive buffer (as
	 * a UDP datagram has), so the frame is copied there rather than handed out in the
	 * middle of the stream buffer, next to the following frame's header. */
	memcpy(s->rx_buf, frame, len);
	transport_on_packet(s, s->rx_buf, len, &c->addr);
	return c->closing || c->failed;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct tcp_conn *c = h->data;
	uint8_t *at;
	size_t cap;
	tcp_frame_space(&c->rx, &at, &cap);
	*buf = uv_buf_init((char *)at, (unsigned)cap);
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct tcp_conn *c = h->data;
	if (n == 0 || c->closing)
		return;
	if (n < 0) {
		conn_close(c, n == UV_EOF ? "eof" : uv_err_name((int)n));
		return;
	}
	c->rx_ms = uv_now(h->loop);
	int rc = tcp_frame_commit(&c->rx, (size_t)n, on_frame, c);
	if (rc == TCP_FRAME_TOO_LONG) {
		c->owner->s->stats.ice_tcp_dropped++;
		LOG_WARN("sfu", "ice-tcp frame too long, closing the connection");
		conn_close(c, "frame too long");
	} else if (c->failed) {
		conn_close(c, "send failed");
	}
}

/* A connection over a limit is accepted only to be closed: left in the backlog it would
 * stop libuv from accepting any other. */
static void refuse(struct sfu_tcp *t, struct tcp_conn *c, const char *why)
{
	t->s->stats.ice_tcp_dropped++;
	uint64_t n = ++t->refused;
	/* Logged at powers of two so that a flood cannot fill the log. */
	if ((n & (n - 1)) == 0)
		LOG_WARN("sfu", "ice-tcp connection refused: %s max=%d per_addr=%d refused=%llu",
		         why, t->max_conns, t->max_per_addr, (unsigned long long)n);
	c->closing = 1;
	uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

/* Whether two remote ends are the same host (the port does not matter). */
static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	return 0;
}

/* Makes room for a connection from `from` (see the comment at the top): returns 0 when it
 * may be added, having evicted the oldest unauthenticated connection if all places were
 * taken, or -1 with the reason when it must be refused. */
static int admit(struct sfu_tcp *t, const struct sockaddr_storage *from, const char **why)
{
	int same = 0;
	struct tcp_conn *victim = NULL;
	for (struct tcp_conn *c = t->conns; c; c = c->next) {
		same += same_host(&c->addr.sa, from);
		if (!victim && !c->authed)
			victim = c;
	}
	if (same >= t->max_per_addr) {
		*why = "too many from one address";
		return -1;
	}
	if (t->n_conns < t->max_conns)
		return 0;
	if (!victim) {
		*why = "every connection is in use";
		return -1;
	}
	t->s->stats.ice_tcp_dropped++;
	uint64_t n = ++t->evicted;
	if ((n & (n - 1)) == 0)
		LOG_WARN("sfu",
		         "ice-tcp full: closing the oldest connection without an ice check "
		         "max=%d evicted=%llu",
		         t->max_conns, (unsigned long long)n);
	conn_close(victim, "evicted");
	return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sfu_tcp *t = server->data;
	struct sfu *s = t->s;
	if (t->closing)
		return;
	if (status < 0) {
		LOG_WARN("sfu", "ice-tcp accept failed error=%s", uv_strerror(status));
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof *c);
	if (!c) {
		LOG_ERROR("sfu", "ice-tcp: out of memory for a connection");
		return;
	}
	c->owner = t;
	uv_tcp_init(s->loop, &c->handle);
	c->handle.data = c;
	t->live++;
	if (uv_accept(server, (uv_stream_t *)&c->handle) != 0) {
		c->closing = 1;
		uv_close((uv_handle_t *)&c->handle, on_conn_closed);
		return;
	}
	int alen = sizeof c->addr.sa;
	if (uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->addr.sa, &alen) != 0) {
		c->closing = 1;
		uv_close((uv_handle_t *)&c->handle, on_conn_closed);
		return;
	}
	const char *why;
	if (admit(t, &c->addr.sa, &why) != 0) {
		refuse(t, c, why);
		return;
	}
	c->addr.tcp = c;
	/* Media is small packets that must not wait for more to fill a segment. */
	uv_tcp_nodelay(&c->handle, 1);
	tcp_frame_init(&c->rx);
	c->rx_ms = c->owned_ms = uv_now(s->loop);
	c->prev = t->newest;
	if (t->newest)
		t->newest->next = c;
	else
		t->conns = c;
	t->newest = c;
	t->n_conns++;
	s->stats.ice_tcp_connections++;
	s->stats.ice_tcp_open++;
	if (uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) != 0)
		conn_close(c, "read failed");
}

static void on_sweep(uv_timer_t *timer)
{
	struct sfu_tcp *t = timer->data;
	struct sfu *s = t->s;
	uint64_t now = uv_now(timer->loop);
	struct tcp_conn *next;
	for (struct tcp_conn *c = t->conns; c; c = next) {
		next = c->next;
		/* A connection whose path its peer dropped (replaced, renegotiated, or the peer
		 * gone) is evictable again. */
		c->authed = ice_peer_by_addr(s, &c->addr) != NULL;
		if (c->authed)
			c->owned_ms = now;
		if (c->failed) {
			conn_close(c, "send failed");
		} else if (now - c->owned_ms >= t->auth_ms) {
			/* Never authenticated, or its peer went: nobody will send over it. */
			s->stats.ice_tcp_dropped++;
			conn_close(c, "no ice check");
		} else if (now - c->rx_ms >= t->idle_ms) {
			conn_close(c, "idle");
		}
	}
}

void tcp_conn_authenticated(struct tcp_conn *c)
{
	c->authed = 1;
}

static void on_written(uv_write_t *req, int status)
{
	tcp_write *w = (tcp_write *)req;
	struct tcp_conn *c = w->conn;
	free(w);
	/* Cancelled writes report after conn_close; the connection is still allocated then. */
	if (status < 0 && !c->closing)
		conn_close(c, uv_err_name(status));
}

void tcp_conn_send(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	struct sfu *s = c->owner->s;
	uv_stream_t *st = (uv_stream_t *)&c->handle;
	if (c->closing || c->failed || len == 0 || len > 0xffff) {
		s->stats.ice_tcp_dropped++;
		return;
	}
	/* A receiver that does not keep up loses packets, as on a congested UDP path; a
	 * growing queue would only add delay and memory. */
	if (uv_stream_get_write_queue_size(st) > TCP_MAX_QUEUE) {
		s->stats.ice_tcp_dropped++;
		return;
	}
	uint8_t hdr[TCP_FRAME_HDR] = {(uint8_t)(len >> 8), (uint8_t)len};
	uv_buf_t bufs[2] = {uv_buf_init((char *)hdr, sizeof hdr),
	                    uv_buf_init((char *)data, (unsigned)len)};
	/* Straight to the socket when nothing is queued; only what did not fit is copied. */
	int n = uv_try_write(st, bufs, 2);
	if (n == UV_EAGAIN || n == UV_ENOSYS)
		n = 0;
	if (n < 0) {
		c->failed = 1; /* closed by the reader or the sweep, never under the caller */
		s->stats.ice_tcp_dropped++;
		return;
	}
	size_t total = sizeof hdr + len, done = (size_t)n;
	if (done < total) {
		tcp_write *w = malloc(sizeof *w + (total - done));
		if (!w) {
			/* Half a frame is on the wire: the stream cannot be resynchronised. */
			c->failed = 1;
			s->stats.ice_tcp_dropped++;
			return;
		}
		w->conn = c;
		w->len = total - done;
		size_t k = 0;
		if (done < sizeof hdr) {
			memcpy(w->data, hdr + done, sizeof hdr - done);
			k = sizeof hdr - done;
			done = sizeof hdr;
		}
		memcpy(w->data + k, data + (done - sizeof hdr), len - (done - sizeof hdr));
		uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
		if (uv_write(&w->req, st, &b, 1, on_written) != 0) {
			free(w);
			c->failed = 1;
			s->stats.ice_tcp_dropped++;
			return;
		}
	}
	s->stats.tx_packets++;
	s->stats.tx_bytes += len;
}

static void sweep_schedule(struct sfu_tcp *t)
{
	/* Often enough that a lease ends within a quarter of its length. */
	uint64_t every = TCP_SWEEP_MS;
	if (t->auth_ms / 4 < every)
		every = t->auth_ms / 4;
	if (t->idle_ms / 4 < every)
		every = t->idle_ms / 4;
	if (every < 5)
		every = 5;
	uv_timer_start(&t->sweep, on_sweep, every, every);
}

static void on_open_failed(uv_handle_t *h)
{
	free(h->data);
}

int tcp_open(struct sfu *s, const char *bind_ip, int port)
{
	struct sfu_tcp *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->s = s;
	t->max_conns = TCP_MAX_CONNS;
	t->max_per_addr = TCP_MAX_PER_ADDR;
	t->auth_ms = TCP_AUTH_MS;
	t->idle_ms = TCP_IDLE_MS;
	uv_tcp_init(s->loop, &t->listener);
	t->listener.data = t;
	struct sockaddr_storage addr;
	int rc;
	if (strchr(bind_ip, ':'))
		rc = uv_ip6_addr(bind_ip, port, (struct sockaddr_in6 *)&addr);
	else
		rc = uv_ip4_addr(bind_ip, port, (struct sockaddr_in *)&addr);
	if (rc == 0)
		rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&t->listener, TCP_LISTEN_QUEUE, on_connection);
	if (rc != 0) {
		LOG_ERROR("sfu", "cannot listen for ICE-TCP ip=%s port=%d error=%s", bind_ip, port,
		          uv_strerror(rc));
		uv_close((uv_handle_t *)&t->listener, on_open_failed);
		return -1;
	}
	uv_timer_init(s->loop, &t->sweep);
	t->sweep.data = t;
	t->live = 2;
	sweep_schedule(t);
	s->tcp = t;
	LOG_INFO("sfu", "ice-tcp listening port=%d", port);
	return 0;
}

void tcp_close(struct sfu *s, uv_close_cb done)
{
	struct sfu_tcp *t = s->tcp;
	if (!t)
		return;
	s->tcp = NULL;
	t->closing = 1;
	t->done = done;
	while (t->conns)
		conn_close(t->conns, "shutdown");
	uv_timer_stop(&t->sweep);
	uv_close((uv_handle_t *)&t->sweep, on_part_closed);
	uv_close((uv_handle_t *)&t->listener, on_part_closed);
}

void tcp_set_limits(struct sfu *s, int max_conns, int auth_ms, int idle_ms)
{
	struct sfu_tcp *t = s->tcp;
	if (!t)
		return;
	if (max_conns > 0)
		t->max_conns = max_conns;
	if (auth_ms > 0)
		t->auth_ms = (uint64_t)auth_ms;
	if (idle_ms > 0)
		t->idle_ms = (uint64_t)idle_ms;
	sweep_schedule(t);
}
