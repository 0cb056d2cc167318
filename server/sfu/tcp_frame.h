/* RFC 4571 framing for ICE-TCP: each packet on the stream is preceded by its length as two
 * big-endian bytes. This is the receive side's reassembler, a pure core over a fixed buffer:
 * the socket code reads into tcp_frame_space() and hands the byte count to
 * tcp_frame_commit(), which delivers every complete frame, however the stream was cut. */
#ifndef MDG_SFU_TCP_FRAME_H
#define MDG_SFU_TCP_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The longest frame accepted. Media packets are at most about 1500 bytes; a peer announcing
 * more is broken or hostile, and its connection is closed rather than buffered for. */
#define TCP_FRAME_MAX 4096
#define TCP_FRAME_HDR 2

enum tcp_frame_err {
	TCP_FRAME_TOO_LONG = -1, /* a header announced more than TCP_FRAME_MAX */
	TCP_FRAME_STOPPED = -2,  /* the callback asked to stop */
};

typedef struct tcp_frame_buf {
	/* Room for a partial frame left over plus at least one whole frame more, so every read
	 * makes progress. */
	uint8_t data[2 * (TCP_FRAME_HDR + TCP_FRAME_MAX)];
	size_t have; /* bytes of an incomplete frame at the start of data */
} tcp_frame_buf;

/* Called for each complete, non-empty frame; the frame may be modified in place but is
 * only valid during the call. Returns 0 to go on, nonzero to stop (the connection closes). */
typedef int (*tcp_frame_cb)(void *user, uint8_t *frame, size_t len);

void tcp_frame_init(tcp_frame_buf *b);
/* Where the next bytes read from the stream go, and how many fit (always at least one). */
void tcp_frame_space(tcp_frame_buf *b, uint8_t **at, size_t *cap);
/* Accounts n bytes just written at tcp_frame_space() (n <= its cap) and delivers every
 * frame they complete, in order. Zero-length frames are skipped. Returns 0, or a negative
 * tcp_frame_err; after an error the buffer's contents are unspecified. */
int tcp_frame_commit(tcp_frame_buf *b, size_t n, tcp_frame_cb cb, void *user);

#endif
