/* The RFC 4571 reassembler (see tcp_frame.h). Reads land directly behind the bytes kept
 * from the previous read; complete frames are handed out from the buffer without copying,
 * and the incomplete tail is moved to the front once per read. */
#include "sfu/tcp_frame.h"

#include <string.h>

void tcp_frame_init(tcp_frame_buf *b)
{
	b->have = 0;
}

void tcp_frame_space(tcp_frame_buf *b, uint8_t **at, size_t *cap)
{
	/* have < TCP_FRAME_HDR + TCP_FRAME_MAX after every commit, so this is never zero. */
	*at = b->data + b->have;
	*cap = sizeof b->data - b->have;
}

int tcp_frame_commit(tcp_frame_buf *b, size_t n, tcp_frame_cb cb, void *user)
{
	if (n > sizeof b->data - b->have)
		n = sizeof b->data - b->have; /* a caller bug must not become an overflow */
	size_t end = b->have + n;
	size_t pos = 0;
	while (end - pos >= TCP_FRAME_HDR) {
		size_t len = (size_t)b->data[pos] << 8 | b->data[pos + 1];
		/* Checked on the header alone: an oversized frame is refused before its body. */
		if (len > TCP_FRAME_MAX) {
			b->have = 0;
			return TCP_FRAME_TOO_LONG;
		}
		if (end - pos - TCP_FRAME_HDR < len)
			break;
		pos += TCP_FRAME_HDR;
		if (len > 0 && cb(user, b->data + pos, len) != 0) {
			/* The rest is dropped with the connection. */
			b->have = 0;
			return TCP_FRAME_STOPPED;
		}
		pos += len;
	}
	memmove(b->data, b->data + pos, end - pos);
	b->have = end - pos;
	return 0;
}
