/* Fuzz target for RED (RFC 2198, rtp/red.c): one RED payload. Whatever parses must describe
 * blocks that tile the payload exactly; rewriting its payload types and taking its primary
 * block (the two forms the forwarder sends) must succeed into a buffer as large as the input
 * and give back something that parses with the same primary data. */
#include "rtp/red.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	red_packet rp;
	if (red_parse(data, size, &rp) != 0)
		return 0;
	size_t end = rp.header_len;
	for (int i = 0; i < rp.n; i++) {
		if (rp.block[i].off != end || rp.block[i].len > size - rp.block[i].off)
			abort();
		end = rp.block[i].off + rp.block[i].len;
	}
	if (end != size)
		abort();
	uint8_t *out = malloc(size + 1);
	if (!out)
		return 0;
	const red_block *prim = &rp.block[rp.n - 1];
	uint8_t pt = 0;
	int n = red_for_receiver(data, &rp, prim->pt, 63, 100, out, size, &pt);
	red_packet back;
	if (n < 0 || pt != 63 || red_parse(out, (size_t)n, &back) != 0 ||
	    back.block[back.n - 1].pt != 100 || back.block[back.n - 1].len != prim->len ||
	    memcmp(out + back.block[back.n - 1].off, data + prim->off, prim->len) != 0)
		abort();
	n = red_for_receiver(data, &rp, prim->pt, -1, 100, out, size, &pt);
	if (prim->len == 0 ? n != RED_ERR_EMPTY
	                   : (n != (int)prim->len || pt != 100 ||
	                      memcmp(out, data + prim->off, prim->len) != 0))
		abort();
	/* Another codec's primary is refused, never forwarded. */
	if (red_for_receiver(data, &rp, (uint8_t)((prim->pt + 1) & 0x7f), 63, 100, out, size,
	                     &pt) != RED_ERR_FOREIGN_PT)
		abort();
	free(out);
	return 0;
}
