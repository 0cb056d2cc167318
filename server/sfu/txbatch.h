/* Outgoing UDP datagrams collected and sent with one sendmmsg(2) per batch.
 *
 * The media plane reads up to a few dozen datagrams per recvmmsg and forwards each; sending
 * every forwarded packet with its own system call costs more than the AES-GCM that protects
 * it. Inside a read batch the transport therefore queues its datagrams here and flushes once
 * at the end of the batch (or when TXBATCH_MAX are queued); outside one (timers, ICE-TCP) it
 * flushes each at once, so nothing waits for the next read.
 *
 * Each queued datagram lives in its own buffer of the batch. A caller that builds a packet
 * in txbatch_next_buf() and then adds that same pointer costs no copy; any other data is
 * copied in. A full socket buffer (EAGAIN, ENOBUFS) drops the rest of the batch, counted in
 * dropped_full: the network would have dropped them too, and the loop never waits. Any
 * other error drops the datagram it concerns (dropped_error) and the rest still goes.
 *
 * No libuv, no clock: fd is the socket's raw descriptor (uv_fileno). struct mmsghdr needs
 * _GNU_SOURCE, which the build defines for every file. */
#ifndef MDG_SFU_TXBATCH_H
#define MDG_SFU_TXBATCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TXBATCH_MAX 64
/* Room for the largest datagram the media plane sends: SFU_PACKET_MAX (1500) plus the
 * SRTP trailer (SECURE_MAX_TRAILER, 144) and some slack; checked in transport.c. */
#define TXBATCH_BUF 1712

/* The system call, replaceable by tests that need the kernel to refuse (a full socket
 * buffer cannot be provoked on loopback: it releases the sender's memory at once). */
typedef int (*txbatch_sendmmsg_fn)(int fd, struct mmsghdr *msgs, unsigned int n, int flags);

typedef struct txbatch_stats {
	uint64_t sent;          /* datagrams the kernel took */
	uint64_t dropped_full;  /* dropped: EAGAIN / ENOBUFS (socket buffer full) */
	uint64_t dropped_error; /* dropped: any other error (unreachable, refused, ...) */
	uint64_t syscalls;      /* sendmmsg calls made */
	uint64_t sent_bytes;
} txbatch_stats;

typedef struct txbatch {
	int fd;
	int n;                    /* queued */
	txbatch_sendmmsg_fn send; /* sendmmsg unless a test set another */
	txbatch_stats stats;
	struct mmsghdr msgs[TXBATCH_MAX];
	struct iovec iov[TXBATCH_MAX];
	struct sockaddr_storage to[TXBATCH_MAX];
	uint8_t buf[TXBATCH_MAX][TXBATCH_BUF];
} txbatch;

/* Empties b and sets the socket it sends on (the struct is large: embed it, do not put it
 * on the stack). */
void txbatch_init(txbatch *b, int fd);

/* The buffer the next txbatch_add would fill; valid until the next add or flush. Building a
 * packet there and adding this same pointer saves a copy. */
uint8_t *txbatch_next_buf(txbatch *b);

/* Queues one datagram of len bytes (at most TXBATCH_BUF) to `to` (AF_INET or AF_INET6);
 * the datagram that fills the batch flushes it. Returns 0, or -1 for a datagram it cannot take
 * (too long, unknown address family; counted in dropped_error). */
int txbatch_add(txbatch *b, const struct sockaddr *to, const uint8_t *data, size_t len);

/* Sends everything queued; returns how many the kernel took. */
int txbatch_flush(txbatch *b);

#endif
