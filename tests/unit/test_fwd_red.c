/* Audio RED on the forwarding path (server/sfu/fwd_red.c), on packets fed straight in: a
 * Chromium sender's RED packet (PT 63 over Opus 111) goes to a receiver that negotiated RED
 * with other numbers (RED 100 over Opus 101: both rewritten, the marker bit kept, the data
 * untouched), to a receiver without RED (the primary Opus frame alone with its PT), and
 * malformed or foreign RED is dropped and counted, never forwarded. The full offer/answer
 * and browser path is in tests/network/red.test.mjs. */
#include "check.h"
#include "rtp/red.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>
#include <string.h>

/* One redundant block (offset 960, 3 bytes) and the primary (4 bytes), Opus 111 inside. */
static const uint8_t chromium_red[] = {0x80 | 111, 0x0f, 0x00, 0x03, 111,  0xa1,
                                       0xa2,       0xa3, 0xb1, 0xb2, 0xb3, 0xb4};

static void test_forms(void)
{
	struct sfu *s = calloc(1, sizeof *s);
	in_track t = {.kind = SDP_KIND_AUDIO, .role = SFU_ROLE_MIC, .pt = 111, .red_pt = 63};
	fwd_slot with_red = {.kind = SDP_KIND_AUDIO, .pt = 101, .red_pt = 100};
	fwd_slot plain = {.kind = SDP_KIND_AUDIO, .pt = 109, .red_pt = -1};
	fwd_slot zeroed = {.kind = SDP_KIND_AUDIO, .pt = 109}; /* red_pt 0: no RED */
	red_packet red;
	CHECK_EQ_INT(fwd_red_parse(s, &t, chromium_red, sizeof chromium_red, &red), 0);
	CHECK_EQ_INT(s->stats.red_received, 1);

	uint8_t out[SFU_PACKET_MAX];
	const size_t hl = 16;
	memset(out, 0, hl);
	out[1] = 0x80 | 101; /* the marker set, the slot's Opus PT as build_header writes it */
	int n = fwd_red_payload(s, &t, &with_red, chromium_red, &red, out, hl);
	CHECK_EQ_INT(n, (int)sizeof chromium_red);
	CHECK_EQ_INT(out[1], 0x80 | 100);
	CHECK_EQ_INT(out[hl], 0x80 | 101);
	CHECK_EQ_INT(out[hl + 4], 101);
	CHECK(memcmp(out + hl + 1, chromium_red + 1, 3) == 0); /* offset and length kept */
	CHECK(memcmp(out + hl + 5, chromium_red + 5, 7) == 0);
	CHECK_EQ_INT(s->stats.red_unwrapped, 0);

	out[1] = 109; /* no marker */
	n = fwd_red_payload(s, &t, &plain, chromium_red, &red, out, hl);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(out[1], 109);
	CHECK(memcmp(out + hl, "\xb1\xb2\xb3\xb4", 4) == 0);
	CHECK_EQ_INT(s->stats.red_unwrapped, 1);
	n = fwd_red_payload(s, &t, &zeroed, chromium_red, &red, out, hl);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(s->stats.red_unwrapped, 2);
	CHECK_EQ_INT(s->stats.red_dropped, 0);

	/* An empty primary: RED receivers still get the redundancy, plain ones nothing. */
	CHECK_EQ_INT(fwd_red_parse(s, &t, chromium_red, 8, &red), 0);
	CHECK_EQ_INT(fwd_red_payload(s, &t, &plain, chromium_red, &red, out, hl), -1);
	CHECK_EQ_INT(s->stats.red_dropped, 1);
	CHECK_EQ_INT(fwd_red_payload(s, &t, &with_red, chromium_red, &red, out, hl), 8);
	/* No room after a long header: dropped, not overrun. */
	CHECK_EQ_INT(fwd_red_payload(s, &t, &with_red, chromium_red, &red, out, SFU_PACKET_MAX - 4),
	             -1);
	CHECK_EQ_INT(s->stats.red_dropped, 2);
	free(s);
}

static void test_malformed(void)
{
	struct sfu *s = calloc(1, sizeof *s);
	in_track t = {.kind = SDP_KIND_AUDIO, .role = SFU_ROLE_MIC, .pt = 111, .red_pt = 63};
	red_packet red;
	/* Truncated headers, lengths past the end, an empty payload. */
	CHECK_EQ_INT(fwd_red_parse(s, &t, chromium_red, 3, &red), -1);
	CHECK_EQ_INT(fwd_red_parse(s, &t, chromium_red, 6, &red), -1);
	CHECK_EQ_INT(fwd_red_parse(s, &t, chromium_red, 0, &red), -1);
	/* A primary that is not the sender's Opus (say PT 13, comfort noise). */
	const uint8_t cn[] = {0x80 | 111, 0, 4 << 2, 1, 13, 0xaa, 0xbb};
	CHECK_EQ_INT(fwd_red_parse(s, &t, cn, sizeof cn, &red), -1);
	CHECK_EQ_INT(s->stats.red_received, 4);
	CHECK_EQ_INT(s->stats.red_dropped, 4);
	/* Random bytes: counted one way or the other, and whatever parses stays in bounds. */
	uint32_t x = 12345;
	for (int i = 0; i < 100000; i++) {
		uint8_t buf[48], out[SFU_PACKET_MAX];
		size_t len = 1 + (x % sizeof buf);
		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[k] = (uint8_t)x;
		}
		if (fwd_red_parse(s, &t, buf, len, &red) == 0) {
			fwd_slot plain = {.kind = SDP_KIND_AUDIO, .pt = 109, .red_pt = -1};
			int n = fwd_red_payload(s, &t, &plain, buf, &red, out, 12);
			CHECK(n == -1 || (n > 0 && (size_t)n < len));
		}
	}
	CHECK_EQ_INT(s->stats.red_received, 100004);
	free(s);
}

int main(void)
{
	test_forms();
	test_malformed();
	return check_done("fwd_red");
}
