/* Fuzz target for the RFC 4571 reassembler (tcp_frame.c). The first byte chooses how the
 * rest, the TCP stream, is cut into reads (sizes from a small generator seeded by it) and
 * whether the callback stops early; every delivered frame is compared with a plain
 * reference walk of the whole stream, and a mismatch traps. */
#include "sfu/tcp_frame.h"

#include <stdint.h>
#include <string.h>

typedef struct expect {
	const uint8_t *stream;
	size_t len;
	size_t pos;     /* reference position of the next frame header */
	size_t frames;  /* delivered so far */
	size_t stop_at; /* 0: never stop; k: the callback stops at the k-th frame */
} expect;

/* The next non-empty complete frame of the reference walk; 0 at the end of the complete
 * frames, -1 when the next header announces too much. */
static int ref_next(expect *x, const uint8_t **frame, size_t *flen)
{
	for (;;) {
		if (x->len - x->pos < TCP_FRAME_HDR)
			return 0;
		size_t len = (size_t)x->stream[x->pos] << 8 | x->stream[x->pos + 1];
		if (len > TCP_FRAME_MAX)
			return -1;
		if (x->len - x->pos - TCP_FRAME_HDR < len)
			return 0;
		x->pos += TCP_FRAME_HDR + len;
		if (len > 0) {
			*frame = x->stream + x->pos - len;
			*flen = len;
			return 1;
		}
	}
}

static int on_frame(void *user, uint8_t *frame, size_t len)
{
	expect *x = user;
	const uint8_t *want;
	size_t wlen;
	if (ref_next(x, &want, &wlen) != 1 || wlen != len || memcmp(want, frame, len) != 0)
		__builtin_trap();
	frame[0] ^= 0xff; /* the callback may modify the frame in place */
	x->frames++;
	return x->stop_at && x->frames == x->stop_at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t seed = data[0] * 2654435761u + 1;
	expect x = {
	    .stream = data + 1, .len = size - 1, .stop_at = data[0] & 0x80 ? data[0] & 7 : 0};
	static tcp_frame_buf b;
	tcp_frame_init(&b);
	size_t fed = 0;
	int rc = 0;
	while (fed < x.len && rc == 0) {
		seed = seed * 1103515245u + 12345u;
		uint8_t *at;
		size_t cap;
		tcp_frame_space(&b, &at, &cap);
		if (cap == 0)
			__builtin_trap();
		size_t n = 1 + (seed >> 8) % (seed & 0x100 ? 7 : 3000);
		if (n > cap)
			n = cap;
		if (n > x.len - fed)
			n = x.len - fed;
		memcpy(at, x.stream + fed, n);
		fed += n;
		rc = tcp_frame_commit(&b, n, on_frame, &x);
	}
	const uint8_t *f;
	size_t flen;
	if (rc == TCP_FRAME_STOPPED) {
		if (!x.stop_at || x.frames != x.stop_at)
			__builtin_trap();
	} else if (rc == TCP_FRAME_TOO_LONG) {
		if (ref_next(&x, &f, &flen) != -1)
			__builtin_trap();
	} else {
		/* Everything fed: every complete frame came out, and the rest is kept. */
		int last = ref_next(&x, &f, &flen);
		if (rc != 0 || last != 0 || b.have != x.len - x.pos)
			__builtin_trap();
	}
	return 0;
}
