/* The one UDP socket every peer shares. Incoming datagrams, and the frames of ICE-TCP
 * connections (tcp.c), are demultiplexed by their first byte (RFC 7983): STUN 0..3, DTLS
 * 20..63, RTP/RTCP 128..191; STUN finds its peer by USERNAME, everything else by the source
 * address (and connection) a STUN check validated. */
#include "base/clock.h"
#include "base/log.h"
#include "sfu/sfu_internal.h"

#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	/* One receive buffer: the loop is single-threaded and each datagram is fully handled
	 * before the next read. */
	struct sfu *s = h->data;
	buf->base = (char *)s->rx_buf;
	buf->len = sizeof s->rx_buf;
}

/* When the datagram just read reached the socket, on the monotonic clock: the kernel's
 * receive timestamp (wall clock) moved back by its age. The transport-wide feedback reports
 * arrival times, and the time a packet waited in the socket while the loop was busy is not
 * the network's delay: stamped on reading, a busy server looks like a congested link and
 * the browsers' congestion control backs off (as libwebrtc, which reads the same kernel
 * timestamp). 0 when unknown (a simulated clock, or the ioctl failed). */
static int64_t kernel_arrival_us(struct sfu *s)
{
	if (s->clock_us)
		return 0;
	int fd;
	struct timespec ts, now;
	if (uv_fileno((uv_handle_t *)&s->udp, &fd) != 0 || ioctl(fd, SIOCGSTAMPNS, &ts) != 0 ||
	    clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 0;
	int64_t age = (int64_t)(now.tv_sec - ts.tv_sec) * 1000000 + (now.tv_nsec - ts.tv_nsec) / 1000;
	int64_t mono = clock_mono_us();
	/* A wall clock stepped meanwhile: the age is meaningless. */
	if (age < 0 || age > 1000000)
		return 0;
	return mono - age;
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
	struct sfu *s = h->data;
	if (n <= 0 || !from)
		return;
	if (flags & UV_UDP_PARTIAL) {
		s->stats.rtp_dropped_unknown++;
		return;
	}
	sfu_addr addr = {.tcp = NULL};
	memcpy(&addr.sa, from,
	       from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	s->rx_arrival_us = kernel_arrival_us(s);
	transport_on_packet(s, (uint8_t *)buf->base, (size_t)n, &addr);
	s->rx_arrival_us = 0;
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
	/* Receive timestamps from the start (kernel_arrival_us): the first SIOCGSTAMPNS turns
	 * them on for the socket (it answers ENOENT: nothing stamped yet), and the kernel
	 * turns them on for the system lazily, a moment later. SO_TIMESTAMPNS would not do:
	 * with it the stamps go to control messages libuv does not read, not to the ioctl. */
	int fd;
	struct timespec ts;
	if (uv_fileno((uv_handle_t *)&s->udp, &fd) == 0)
		(void)ioctl(fd, SIOCGSTAMPNS, &ts);
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
	return uv_udp_recv_start(&s->udp, on_alloc, on_recv) == 0 ? 0 : -1;
}

void transport_close(struct sfu *s, uv_close_cb done)
{
	uv_udp_recv_stop(&s->udp);
	uv_close((uv_handle_t *)&s->udp, done);
}

void transport_send(struct sfu *s, const sfu_addr *to, const uint8_t *data, size_t len)
{
	if (to->tcp) {
		tcp_conn_send(to->tcp, data, len); /* it counts what it sends and drops */
		return;
	}
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	int rc = uv_udp_try_send(&s->udp, &b, 1, (const struct sockaddr *)&to->sa);
	if (rc < 0)
		return; /* a full socket buffer drops the datagram, as the network would */
	s->stats.tx_packets++;
	s->stats.tx_bytes += len;
}
