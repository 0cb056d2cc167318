/* The one UDP socket every peer shares. Incoming datagrams, and the frames of ICE-TCP
 * connections (tcp.c), are demultiplexed by their first byte (RFC 7983): STUN 0..3, DTLS
 * 20..63, RTP/RTCP 128..191; STUN finds its peer by USERNAME, everything else by the source
 * address (and connection) a STUN check validated.
 *
 * The hot path batches both ways: libuv reads with recvmmsg (UV_UDP_RECVMMSG) and calls
 * on_recv once per datagram of a batch (UV_UDP_MMSG_CHUNK), then once more at its end
 * (UV_UDP_MMSG_FREE); what the datagrams of a batch make us send is queued (txbatch.h) and
 * leaves in one sendmmsg at that end. Sends outside a batch (timers, ICE-TCP frames in) go
 * out at once. */
#include "base/log.h"
#include "sfu/sfu_internal.h"

#include <string.h>

_Static_assert(TXBATCH_BUF >= SFU_PACKET_MAX + SECURE_MAX_TRAILER + 64,
               "a batch buffer holds what fwd builds in tx_buf");

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	/* One receive buffer, a multiple of 64 KiB as libuv's recvmmsg needs (a smaller one
	 * makes it spin): the loop is single-threaded and each batch is fully handled before
	 * the next read. */
	struct sfu *s = h->data;
	buf->base = (char *)s->rx_buf;
	buf->len = sizeof s->rx_buf;
}

/* Carries the batch's counts since the last call into the media plane's stats. */
static void count_sent(struct sfu *s)
{
	const txbatch_stats *now = &s->txb.stats, *was = &s->txb_counted;
	s->stats.tx_packets += now->sent - was->sent;
	s->stats.tx_bytes += now->sent_bytes - was->sent_bytes;
	s->stats.send_drops += now->dropped_full - was->dropped_full;
	s->stats.send_errors += now->dropped_error - was->dropped_error;
	s->stats.send_syscalls += now->syscalls - was->syscalls;
	s->txb_counted = *now;
}

static void flush(struct sfu *s)
{
	txbatch_flush(&s->txb);
	count_sent(s);
	s->tx_buf = txbatch_next_buf(&s->txb);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
	struct sfu *s = h->data;
	if (flags & UV_UDP_MMSG_FREE) {
		s->rx_batching = 0;
		flush(s);
		return;
	}
	if (n <= 0 || !from)
		return;
	if (flags & UV_UDP_PARTIAL) {
		s->stats.rtp_dropped_unknown++;
		return;
	}
	sfu_addr addr = {.tcp = NULL};
	memcpy(&addr.sa, from,
	       from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	/* A datagram read alone (no recvmmsg) is its own batch: sends go out at once. */
	s->rx_batching = (flags & UV_UDP_MMSG_CHUNK) != 0;
	transport_on_packet(s, (uint8_t *)buf->base, (size_t)n, &addr);
}

void transport_on_packet(struct sfu *s, uint8_t *data, size_t len, const sfu_addr *from)
{
	s->stats.rx_packets++;
	s->stats.rx_bytes += len;
	if (len == 0)
		return;
	uint8_t b = data[0];
	if (b < 4) {
		ice_on_stun(s, data, len, from);
		return;
	}
	struct sfu_peer *p = ice_peer_by_addr(s, from);
	if (!p) {
		s->stats.rtp_dropped_unknown++;
		return;
	}
	if (b >= 20 && b <= 63)
		peer_on_dtls(p, data, len);
	else if (b >= 128 && b <= 191)
		peer_on_srtp(p, data, len);
	else
		s->stats.rtp_dropped_unknown++;
}

int transport_open(struct sfu *s, const char *bind_ip, int port)
{
	struct sockaddr_storage addr;
	int rc;
	/* Initialised first so that every failure path can close it the same way. */
	s->tx_buf = txbatch_next_buf(&s->txb);
	if (uv_udp_init_ex(s->loop, &s->udp, AF_UNSPEC | UV_UDP_RECVMMSG) != 0)
		uv_udp_init(s->loop, &s->udp);
	s->udp.data = s;
	if (strchr(bind_ip, ':'))
		rc = uv_ip6_addr(bind_ip, port, (struct sockaddr_in6 *)&addr);
	else
		rc = uv_ip4_addr(bind_ip, port, (struct sockaddr_in *)&addr);
	if (rc != 0) {
		LOG_ERROR("sfu", "bad media bind address ip=%s", bind_ip);
		return -1;
	}
	rc = uv_udp_bind(&s->udp, (struct sockaddr *)&addr, 0);
	if (rc != 0) {
		LOG_ERROR("sfu", "cannot bind media socket ip=%s port=%d error=%s", bind_ip, port,
		          uv_strerror(rc));
		return -1;
	}
	/* Video bursts (a keyframe is dozens of packets) overflow the default buffers. */
	int size = 4 * 1024 * 1024;
	uv_recv_buffer_size((uv_handle_t *)&s->udp, &size);
	size = 4 * 1024 * 1024;
	uv_send_buffer_size((uv_handle_t *)&s->udp, &size);

	struct sockaddr_storage bound;
	int blen = sizeof bound;
	uv_udp_getsockname(&s->udp, (struct sockaddr *)&bound, &blen);
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
	                                            : ((struct sockaddr_in *)&bound)->sin_port);
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&s->udp, &fd) != 0) {
		LOG_ERROR("sfu", "media socket has no descriptor");
		return -1;
	}
	txbatch_init(&s->txb, fd);
	s->txb_counted = s->txb.stats;
	s->tx_buf = txbatch_next_buf(&s->txb);
	return uv_udp_recv_start(&s->udp, on_alloc, on_recv) == 0 ? 0 : -1;
}

void transport_close(struct sfu *s, uv_close_cb done)
{
	flush(s); /* nothing is queued between batches; this is for clarity at shutdown */
	uv_udp_recv_stop(&s->udp);
	uv_close((uv_handle_t *)&s->udp, done);
}

void transport_send(struct sfu *s, const sfu_addr *to, const uint8_t *data, size_t len)
{
	if (to->tcp) {
		tcp_conn_send(to->tcp, data, len); /* it counts what it sends and drops */
		return;
	}
	/* Built in tx_buf (the batch's next buffer), it is queued without a copy. */
	txbatch_add(&s->txb, (const struct sockaddr *)&to->sa, data, len);
	if (!s->rx_batching)
		txbatch_flush(&s->txb);
	if (s->txb.n == 0) /* sent now, or the batch filled and went */
		count_sent(s);
	s->tx_buf = txbatch_next_buf(&s->txb);
}
