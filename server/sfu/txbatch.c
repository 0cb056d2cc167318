/* See txbatch.h. */
#include "sfu/txbatch.h"

#include <errno.h>
#include <string.h>

static int sys_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	return sendmmsg(fd, msgs, n, flags);
}

void txbatch_init(txbatch *b, int fd)
{
	b->fd = fd;
	b->n = 0;
	b->send = sys_sendmmsg;
	memset(&b->stats, 0, sizeof b->stats);
}

uint8_t *txbatch_next_buf(txbatch *b)
{
	return b->buf[b->n];
}

int txbatch_add(txbatch *b, const struct sockaddr *to, const uint8_t *data, size_t len)
{
	socklen_t alen = to->sa_family == AF_INET6  ? sizeof(struct sockaddr_in6)
	                 : to->sa_family == AF_INET ? sizeof(struct sockaddr_in)
	                                            : 0;
	if (len > TXBATCH_BUF || alen == 0) {
		b->stats.dropped_error++;
		return -1;
	}
	int i = b->n++;
	if (data != b->buf[i])
		memcpy(b->buf[i], data, len);
	memcpy(&b->to[i], to, alen);
	b->iov[i] = (struct iovec){.iov_base = b->buf[i], .iov_len = len};
	b->msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &b->to[i],
	                                          .msg_namelen = alen,
	                                          .msg_iov = &b->iov[i],
	                                          .msg_iovlen = 1}};
	/* Never left full, so that txbatch_next_buf always has a buffer to give. */
	if (b->n == TXBATCH_MAX)
		txbatch_flush(b);
	return 0;
}

int txbatch_flush(txbatch *b)
{
	int done = 0, n = b->n;
	uint64_t sent0 = b->stats.sent;
	while (done < n) {
		int r;
		do
			r = b->send(b->fd, b->msgs + done, (unsigned)(n - done), MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		b->stats.syscalls++;
		if (r > 0) {
			for (int i = done; i < done + r; i++)
				b->stats.sent_bytes += b->iov[i].iov_len;
			b->stats.sent += (uint64_t)r;
			done += r;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			/* The socket buffer is full: what is left would meet the same. */
			b->stats.dropped_full += (uint64_t)(n - done);
			break;
		} else {
			/* This datagram's own problem (no route, ICMP-refused port): skip it. */
			b->stats.dropped_error++;
			done++;
		}
	}
	b->n = 0;
	return (int)(b->stats.sent - sent0);
}
