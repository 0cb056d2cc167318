/* Fuzz target for RTP: header parse, every extension id in the block, the transport-wide
 * seq getter and setter, and the VP8/H.264 payload inspectors on the payload. */
#include "rtp/rtp.h"
#include "rtp/vp8mung.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The setters write in place, so work on a private copy of exact size. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	volatile uint8_t sink = 0;
	rtp_hdr h;
	(void)rtp_is_rtcp(buf, size);
	if (rtp_parse(buf, size, &h) == 0) {
		for (int id = 1; id < 256; id++) {
			size_t n = 0;
			const uint8_t *e = rtp_ext_find(buf, &h, (uint8_t)id, &n);
			if (e && n > 0)
				sink ^= e[0] ^ e[n - 1]; /* ASan checks the element lies inside */
		}
		(void)sink;
		uint16_t seq;
		if (rtp_get_twcc_seq(buf, &h, 3, &seq) == 0)
			(void)rtp_set_twcc_seq(buf, &h, 3, (uint16_t)(seq + 1));
		const uint8_t *payload = buf + h.header_len;
		vp8_desc d;
		if (vp8_parse(payload, h.payload_len, &d) == 0 && d.header_len > h.payload_len)
			abort(); /* the descriptor must lie inside the payload */
		(void)vp8_is_keyframe(payload, h.payload_len);
		(void)h264_is_keyframe(payload, h.payload_len);
		/* The forwarder rewrites VP8 descriptors and unwraps RTX in place. */
		vp8mung m;
		vp8mung_init(&m);
		(void)vp8mung_apply(&m, buf + h.header_len, h.payload_len);
		vp8mung_switch(&m);
		(void)vp8mung_apply(&m, buf + h.header_len, h.payload_len);
		uint8_t rtx[1600];
		if (size <= sizeof rtx - 2) {
			int n = rtx_wrap(buf, size, 97, 0x1234, 7, rtx, sizeof rtx);
			size_t len = n > 0 ? (size_t)n : 0;
			if (n > 0 && rtx_unwrap(rtx, &len, 96, 0x5678) == 0 && len > size)
				abort(); /* unwrapping never grows a packet past its original */
		}
		size_t len = size;
		(void)rtx_unwrap(buf, &len, 96, 0x5678);
		if (len > size)
			abort();
		rtp_set_seq(buf, 1);
		rtp_set_timestamp(buf, 2);
		rtp_set_ssrc(buf, 3);
		rtp_set_payload_type(buf, 96);
	}
	/* The payload inspectors must also survive arbitrary bytes directly. */
	vp8_desc d;
	(void)vp8_parse(data, size, &d);
	(void)vp8_is_keyframe(data, size);
	(void)h264_is_keyframe(data, size);
	free(buf);
	return 0;
}
