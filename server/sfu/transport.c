/* The one UDP socket every peer shares. Incoming datagrams, and the frames of ICE-TCP
 * connections (tcp.c), are demultiplexed by their first byte (RFC 7983): STUN 0..3, DTLS
 * 20..63, RTP/RTCP 128..191; STUN finds its peer by USERNAME, everything else by the source
 * address (and connection) a STUN check validated.
 *
 * The hot path batches both ways: when the socket is readable, recvmmsg reads up to
 * SFU_RX_BATCH datagrams at once, each with the time the kernel received it
 * (SO_TIMESTAMPNS); what the datagrams of a batch make us send is queued (txbatch.h) and
 * leaves in one sendmmsg at the batch's end. The media tick and the probe pacer batch their
 * sends the same way (transport_batch_begin/end); other sends (ICE-TCP frames in, the
 * signalling's occasional keyframe request) go out at once. The socket is ours, polled by libuv (uv_poll), because libuv's own
 * UDP reading gives no control messages and so no receive timestamps.
 *
 * Why the timestamps: transport-wide feedback reports arrival times, and the browsers'
 * congestion control reads their spread as the network's delay. Stamped when the loop got
 * round to a datagram, the time it waited in the socket while the server was busy looked
 * like a queue on the line, and the browsers held back (docs/architecture.md, "Packet
 * path"). libwebrtc reads the kernel's receive time for the same reason. */
#include "base/clock.h"
#include "base/log.h"
#include "sfu/sfu_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(TXBATCH_BUF >= SFU_PACKET_MAX + SECURE_MAX_TRAILER + 64,
               "a batch buffer holds what fwd builds in tx_buf");

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

/* The batch just left: the send times of its packets become now (transport_stamp_later). */
static void stamp_sent(struct sfu *s)
{
	if (!s->n_tx_stamps)
		return;
	int64_t now = sfu_now(s);
	for (int i = 0; i < s->n_tx_stamps; i++)
		if (s->tx_stamps[i].peer)
			bwe_set_send_time(&s->tx_stamps[i].peer->bwe, s->tx_stamps[i].seq, now);
	s->n_tx_stamps = 0;
}

static void flush(struct sfu *s)
{
	txbatch_flush(&s->txb);
	stamp_sent(s);
	count_sent(s);
	s->tx_buf = txbatch_next_buf(&s->txb);
}

void transport_batch_begin(struct sfu *s)
{
	s->rx_batching = 1;
}

void transport_batch_end(struct sfu *s)
{
	s->rx_batching = 0;
	flush(s);
}

void transport_stamp_later(struct sfu *s, struct sfu_peer *to, uint16_t seq)
{
	if (!s->rx_batching || s->n_tx_stamps >= TXBATCH_MAX)
		return; /* sent at once: the recorded time is right */
	s->tx_stamps[s->n_tx_stamps].peer = to;
	s->tx_stamps[s->n_tx_stamps].seq = seq;
	s->n_tx_stamps++;
}

void transport_forget_peer(struct sfu *s, const struct sfu_peer *p)
{
	for (int i = 0; i < s->n_tx_stamps; i++)
		if (s->tx_stamps[i].peer == p)
			s->tx_stamps[i].peer = NULL;
}

/* The monotonic time at which the kernel received a datagram: its SO_TIMESTAMPNS control
 * message (wall clock) moved back by its age now. 0 when there is none, under a simulated
 * clock, or when the wall clock stepped meanwhile. */
static int64_t arrival_us(const struct sfu *s, struct msghdr *mh, int64_t mono_now,
                          const struct timespec *wall_now)
{
	if (s->clock_us)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		struct timespec ts;
		memcpy(&ts, CMSG_DATA(c), sizeof ts);
		int64_t age = (int64_t)(wall_now->tv_sec - ts.tv_sec) * 1000000 +
		              (wall_now->tv_nsec - ts.tv_nsec) / 1000;
		return age >= 0 && age <= 1000000 ? mono_now - age : 0;
	}
	return 0;
}

/* The read delay of a batch: how long its first (oldest) datagram waited in the socket. */
static void count_read_delay(struct sfu *s, int64_t arrival, int64_t mono_now)
{
	if (!arrival)
		return;
	static const int bounds_ms[] = SFU_READ_DELAY_BOUNDS_MS;
	int64_t d = mono_now - arrival;
	int b = 0;
	while (b < SFU_READ_DELAY_BUCKETS - 1 && d > (int64_t)bounds_ms[b] * 1000)
		b++;
	s->stats.read_delay_buckets[b]++;
	s->stats.read_delay_sum_us += (uint64_t)d;
	s->stats.read_delay_batches++;
}

/* Reads what the socket holds, a batch at a time, and hands each datagram on; the sends a
 * batch causes leave together at its end. A few batches per wake-up at most, so that the
 * loop's timers and the signalling keep their turn under a flood. */
static void on_readable(uv_poll_t *h, int status, int events)
{
	struct sfu *s = h->data;
	if (status < 0 || !(events & UV_READABLE))
		return;
	struct mmsghdr msgs[SFU_RX_BATCH];
	struct iovec iov[SFU_RX_BATCH];
	struct sockaddr_storage from[SFU_RX_BATCH];
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < SFU_RX_BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = s->rx_buf + (size_t)i * SFU_RX_DATAGRAM,
			                        .iov_len = SFU_RX_DATAGRAM};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
			                                  .msg_namelen = sizeof from[i],
			                                  .msg_iov = &iov[i],
			                                  .msg_iovlen = 1,
			                                  .msg_control = s->rx_ctrl[i],
			                                  .msg_controllen = sizeof s->rx_ctrl[i]};
			msgs[i].msg_len = 0;
		}
		int n = recvmmsg(s->fd, msgs, SFU_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN: drained; an error (ICMP unreachable...) is per datagram */
		int64_t mono_now = clock_mono_us();
		struct timespec wall_now;
		clock_gettime(CLOCK_REALTIME, &wall_now);
		count_read_delay(s, arrival_us(s, &msgs[0].msg_hdr, mono_now, &wall_now), mono_now);
		s->rx_batching = 1;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &msgs[i].msg_hdr;
			if (mh->msg_flags & MSG_TRUNC) {
				s->stats.rtp_dropped_unknown++;
				continue;
			}
			sfu_addr addr = {.tcp = NULL};
			size_t alen = mh->msg_namelen < sizeof addr.sa ? mh->msg_namelen : sizeof addr.sa;
			memcpy(&addr.sa, &from[i], alen);
			s->rx_arrival_us = arrival_us(s, mh, mono_now, &wall_now);
			transport_on_packet(s, s->rx_buf + (size_t)i * SFU_RX_DATAGRAM, msgs[i].msg_len,
			                    &addr);
		}
		s->rx_arrival_us = 0;
		s->rx_batching = 0;
		flush(s);
		if (n < SFU_RX_BATCH)
			return;
	}
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

/* The media socket, bound and non-blocking, with large buffers and receive timestamps;
 * -1 on failure (logged). */
static int open_socket(const char *bind_ip, int port, int *bound_port)
{
	struct sockaddr_storage addr;
	int v6 = strchr(bind_ip, ':') != NULL;
	int rc = v6 ? uv_ip6_addr(bind_ip, port, (struct sockaddr_in6 *)&addr)
	            : uv_ip4_addr(bind_ip, port, (struct sockaddr_in *)&addr);
	if (rc != 0) {
		LOG_ERROR("sfu", "bad media bind address ip=%s", bind_ip);
		return -1;
	}
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		LOG_ERROR("sfu", "cannot create the media socket error=%s", strerror(errno));
		return -1;
	}
	socklen_t alen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(fd, (struct sockaddr *)&addr, alen) != 0) {
		LOG_ERROR("sfu", "cannot bind media socket ip=%s port=%d error=%s", bind_ip, port,
		          strerror(errno));
		close(fd);
		return -1;
	}
	/* Video bursts (a keyframe is dozens of packets) overflow the default buffers; the
	 * kernel caps these at net.core.rmem_max / wmem_max. */
	int size = 4 * 1024 * 1024, on = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
		LOG_WARN("sfu", "no receive timestamps on the media socket error=%s", strerror(errno));
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	getsockname(fd, (struct sockaddr *)&bound, &blen);
	*bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
	                                                : ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

int transport_open(struct sfu *s, const char *bind_ip, int port)
{
	s->tx_buf = txbatch_next_buf(&s->txb);
	s->poll.data = s;
	s->fd = open_socket(bind_ip, port, &s->port);
	if (s->fd < 0)
		return -1;
	if (uv_poll_init_socket(s->loop, &s->poll, s->fd) != 0) {
		LOG_ERROR("sfu", "cannot poll the media socket");
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	s->poll.data = s;
	s->poll_started = 1;
	txbatch_init(&s->txb, s->fd);
	s->txb_counted = s->txb.stats;
	s->tx_buf = txbatch_next_buf(&s->txb);
	return uv_poll_start(&s->poll, UV_READABLE, on_readable) == 0 ? 0 : -1;
}

void transport_close(struct sfu *s, uv_close_cb done)
{
	if (!s->poll_started) {
		/* Nothing was opened (transport_open failed early): done at once. */
		done((uv_handle_t *)&s->poll);
		return;
	}
	flush(s);
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, done);
	close(s->fd); /* libuv no longer watches it */
	s->fd = -1;
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
	if (s->txb.n == 0) { /* sent now, or the batch filled and went */
		stamp_sent(s);
		count_sent(s);
	}
	s->tx_buf = txbatch_next_buf(&s->txb);
}
