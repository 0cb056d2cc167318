/* The media plane's send batching (server/sfu/txbatch.c, transport.c): datagrams queued
 * and sent with one sendmmsg, over real UDP sockets on loopback: a full batch leaves by
 * itself, a partial one at the flush, in order and intact, to IPv4 and IPv6 receivers; a
 * packet built in the batch's own buffer is not copied. A full socket buffer cannot be
 * provoked on loopback (the kernel frees the sender's memory as soon as the datagram is
 * queued at the receiver), so for EAGAIN and ENOBUFS the system call is replaced by one
 * that takes some datagrams and then refuses as the kernel does: the rest of the batch is
 * dropped and counted, nothing waits, and the next batch goes out. Last, the same through a
 * real media plane: transport_send's drops reach sfu_stats.send_drops (the /metrics
 * counter madoguchi_media_send_drops_total). */
#include "check.h"
#include "sfu/sfu_internal.h"
#include "sfu/txbatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A UDP socket bound to an ephemeral loopback port of family fam; its address in *sa. */
static int bound_socket(int fam, struct sockaddr_storage *sa)
{
	int fd = socket(fam, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	memset(sa, 0, sizeof *sa);
	socklen_t len;
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)sa;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof *a;
	}
	int size = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (bind(fd, (struct sockaddr *)sa, len) != 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Datagram i: its length and every byte derived from i, so order and content both show. */
static size_t fill(uint8_t *buf, int i)
{
	size_t len = 100 + (size_t)(i * 37) % 1100;
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k);
	return len;
}

/* Reads what fd has (waiting up to 200 ms for the first); checks datagrams first..first+n-1
 * arrived in order; returns how many arrived in all. */
static int receive_in_order(int fd, int first, int n)
{
	uint8_t got[2048], want[2048];
	int count = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	while (poll(&pfd, 1, count ? 20 : 200) > 0) {
		ssize_t r = recv(fd, got, sizeof got, MSG_DONTWAIT);
		if (r < 0)
			break;
		if (count < n) {
			size_t len = fill(want, first + count);
			CHECK_EQ_INT(r, len);
			CHECK(memcmp(got, want, len) == 0);
		}
		count++;
	}
	return count;
}

static void test_full_and_partial(int fam)
{
	struct sockaddr_storage rx_addr, tx_addr;
	int rx = bound_socket(fam, &rx_addr), tx = bound_socket(fam, &tx_addr);
	if (rx < 0 || tx < 0) {
		printf("txbatch: no %s loopback, skipped\n", fam == AF_INET ? "IPv4" : "IPv6");
		if (rx >= 0)
			close(rx);
		if (tx >= 0)
			close(tx);
		return;
	}
	txbatch *b = calloc(1, sizeof *b);
	txbatch_init(b, tx);
	uint8_t pkt[2048];
	/* A full batch goes by itself when its last datagram is queued: one system call. */
	for (int i = 0; i < TXBATCH_MAX; i++) {
		size_t len = fill(pkt, i);
		CHECK_EQ_INT(txbatch_add(b, (struct sockaddr *)&rx_addr, pkt, len), 0);
	}
	CHECK_EQ_INT(b->n, 0);
	CHECK_EQ_INT(b->stats.syscalls, 1);
	CHECK_EQ_INT(b->stats.sent, TXBATCH_MAX);
	CHECK_EQ_INT(receive_in_order(rx, 0, TXBATCH_MAX), TXBATCH_MAX);

	/* A partial batch waits for the flush. Two of its datagrams are built in the batch's
	 * next buffer and added from there, as the forwarder does. */
	for (int i = 0; i < 5; i++) {
		uint8_t *dst = i % 2 ? txbatch_next_buf(b) : pkt;
		size_t len = fill(dst, 100 + i);
		CHECK_EQ_INT(txbatch_add(b, (struct sockaddr *)&rx_addr, dst, len), 0);
	}
	CHECK_EQ_INT(b->n, 5);
	CHECK_EQ_INT(receive_in_order(rx, 0, 0), 0); /* nothing sent yet */
	CHECK_EQ_INT(txbatch_flush(b), 5);
	CHECK_EQ_INT(b->stats.syscalls, 2);
	CHECK_EQ_INT(receive_in_order(rx, 100, 5), 5);
	CHECK_EQ_INT(txbatch_flush(b), 0); /* an empty flush makes no call */
	CHECK_EQ_INT(b->stats.syscalls, 2);

	/* What it cannot take is refused and counted, and queues nothing. */
	CHECK_EQ_INT(txbatch_add(b, (struct sockaddr *)&rx_addr, pkt, TXBATCH_BUF + 1), -1);
	struct sockaddr_storage other;
	memset(&other, 0, sizeof other);
	other.ss_family = AF_UNIX;
	CHECK_EQ_INT(txbatch_add(b, (struct sockaddr *)&other, pkt, 10), -1);
	CHECK_EQ_INT(b->n, 0);
	CHECK_EQ_INT(b->stats.dropped_error, 2);
	CHECK_EQ_INT(b->stats.dropped_full, 0);
	free(b);
	close(rx);
	close(tx);
}

/* The kernel as it answers with a full socket buffer: the first `take` datagrams of the
 * first call go, then every call fails with `err`. */
static int take, fail_errno, calls;
static int refusing_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	calls++;
	if (take <= 0) {
		errno = fail_errno;
		return -1;
	}
	int r = sendmmsg(fd, msgs, n < (unsigned)take ? n : (unsigned)take, flags);
	if (r > 0)
		take -= r;
	return r;
}

static void test_full_socket_buffer(int err)
{
	struct sockaddr_storage rx_addr, tx_addr;
	int rx = bound_socket(AF_INET, &rx_addr), tx = bound_socket(AF_INET, &tx_addr);
	txbatch *b = calloc(1, sizeof *b);
	txbatch_init(b, tx);
	b->send = refusing_sendmmsg;
	take = 3, fail_errno = err, calls = 0;
	uint8_t pkt[2048];
	for (int i = 0; i < 10; i++)
		txbatch_add(b, (struct sockaddr *)&rx_addr, pkt, fill(pkt, i));
	CHECK_EQ_INT(txbatch_flush(b), 3);
	/* Three went; the call that met the full buffer dropped the other seven at once. */
	CHECK_EQ_INT(calls, 2);
	CHECK_EQ_INT(b->stats.sent, 3);
	CHECK_EQ_INT(b->stats.dropped_full, 7);
	CHECK_EQ_INT(b->stats.dropped_error, 0);
	CHECK_EQ_INT(b->n, 0);
	CHECK_EQ_INT(receive_in_order(rx, 0, 3), 3);
	/* The buffer has room again: the next batch goes out whole. */
	txbatch_init(b, tx);
	for (int i = 20; i < 24; i++)
		txbatch_add(b, (struct sockaddr *)&rx_addr, pkt, fill(pkt, i));
	CHECK_EQ_INT(txbatch_flush(b), 4);
	CHECK_EQ_INT(receive_in_order(rx, 20, 4), 4);
	free(b);
	close(rx);
	close(tx);
}

/* Any other error is the one datagram's: it is skipped and the rest still goes. */
static int fail_at, seen;
static int one_bad_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	if (seen == fail_at) {
		seen++;
		errno = EINVAL;
		return -1;
	}
	unsigned int k = (unsigned)(fail_at - seen);
	if (seen > fail_at || k > n)
		k = n;
	int r = sendmmsg(fd, msgs, k, flags);
	if (r > 0)
		seen += r;
	return r;
}

static void test_other_error(void)
{
	struct sockaddr_storage rx_addr, tx_addr;
	int rx = bound_socket(AF_INET, &rx_addr), tx = bound_socket(AF_INET, &tx_addr);
	txbatch *b = calloc(1, sizeof *b);
	txbatch_init(b, tx);
	b->send = one_bad_sendmmsg;
	fail_at = 2, seen = 0;
	uint8_t pkt[2048];
	for (int i = 0; i < 6; i++)
		txbatch_add(b, (struct sockaddr *)&rx_addr, pkt, fill(pkt, i));
	CHECK_EQ_INT(txbatch_flush(b), 5);
	CHECK_EQ_INT(b->stats.dropped_error, 1);
	CHECK_EQ_INT(b->stats.dropped_full, 0);
	CHECK_EQ_INT(receive_in_order(rx, 0, 2), 5); /* 0, 1, then 3, 4, 5 */
	free(b);
	close(rx);
	close(tx);
}

static int always_full(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	errno = EAGAIN;
	return -1;
}

/* Through the media plane: a send outside a read batch goes at once, inside one it waits
 * for the batch's end (or a full batch); every datagram sent is counted in tx_packets, a
 * refused one in send_drops, and nothing is left queued. */
static void test_sfu_counts_drops(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .ips = {"127.0.0.1"}, .n_ips = 1};
	struct sfu *s = sfu_new(&loop, &cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	struct sockaddr_storage rx_addr;
	int rx = bound_socket(AF_INET, &rx_addr);
	sfu_addr to = {.tcp = NULL};
	memcpy(&to.sa, &rx_addr, sizeof rx_addr);
	uint8_t *out = s->tx_buf;
	size_t len = fill(out, 7);
	transport_send(s, &to, out, len);
	CHECK_EQ_INT(s->stats.tx_packets, 1);
	CHECK_EQ_INT(receive_in_order(rx, 7, 1), 1);
	/* Inside a read batch: queued; the 64th fills the batch and sends it by itself, the
	 * rest waits for the next send outside a batch. All of them are counted. */
	s->rx_batching = 1;
	for (int i = 0; i < TXBATCH_MAX + 6; i++)
		transport_send(s, &to, s->tx_buf, fill(s->tx_buf, 10 + i));
	CHECK_EQ_INT(s->stats.tx_packets, 1 + TXBATCH_MAX);
	CHECK_EQ_INT(s->txb.n, 6);
	s->rx_batching = 0;
	transport_send(s, &to, s->tx_buf, fill(s->tx_buf, 10 + TXBATCH_MAX + 6));
	CHECK_EQ_INT(s->stats.tx_packets, 1 + TXBATCH_MAX + 7);
	CHECK_EQ_INT(s->stats.send_syscalls, 3);
	CHECK_EQ_INT(receive_in_order(rx, 10, TXBATCH_MAX + 7), TXBATCH_MAX + 7);

	s->txb.send = always_full;
	len = fill(s->tx_buf, 8);
	transport_send(s, &to, s->tx_buf, len);
	transport_send(s, &to, s->tx_buf, fill(s->tx_buf, 9));
	CHECK_EQ_INT(s->stats.send_drops, 2);
	CHECK_EQ_INT(s->stats.tx_packets, 1 + TXBATCH_MAX + 7);
	CHECK_EQ_INT(s->txb.n, 0);
	CHECK_EQ_INT(receive_in_order(rx, 8, 0), 0);
	close(rx);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

int main(void)
{
	test_full_and_partial(AF_INET);
	test_full_and_partial(AF_INET6);
	test_full_socket_buffer(EAGAIN);
	test_full_socket_buffer(ENOBUFS);
	test_other_error();
	test_sfu_counts_drops();
	secure_global_shutdown();
	return check_done("txbatch");
}
