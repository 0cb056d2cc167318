/* Fuzz target for RTCP: walks the compound and runs every parser on every packet, then the
 * transport-cc parser and the in-place SSRC rewriter. */
#include "rtp/bwe.h"
#include "rtp/rtcp.h"
#include "rtp/twcc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void on_nack(void *user, uint16_t seq)
{
	*(unsigned *)user += seq;
}

static void on_status(void *user, uint16_t seq, int received, int64_t delta_us)
{
	*(int64_t *)user += received ? delta_us : seq;
}

static uint32_t flip(void *user, uint32_t ssrc)
{
	return ssrc ^ 0x5a5a5a5au;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rtcp_iter it;
	rtcp_pkt pkt;
	unsigned sum = 0;
	int64_t total = 0;
	rtcp_iter_init(&it, data, size);
	while (rtcp_next(&it, &pkt) == 1) {
		uint32_t ssrcs[8];
		uint8_t seqnrs[8];
		rtcp_report_block blocks[31];
		rtcp_sr_info sr;
		uint64_t bps;
		int n;
		(void)rtcp_nack_foreach(&pkt, on_nack, &sum);
		(void)rtcp_fir_entries(&pkt, ssrcs, seqnrs, 8);
		(void)rtcp_parse_remb(&pkt, &bps, ssrcs, &n, 8);
		(void)rtcp_parse_report(&pkt, &sr, blocks, 31);
		twcc_fb fb;
		(void)twcc_parse(pkt.data, pkt.len, &fb, on_status, &total);
	}
	twcc_fb fb;
	(void)twcc_parse(data, size, &fb, on_status, &total);

	/* The downlink estimator takes receivers' feedback as it comes: after a run of sends
	 * whose sequence numbers the input's feedback may name, any bytes must be survivable. */
	static bwe est;
	bwe_init(&est, 1000000);
	for (int i = 0; i < 64; i++)
		bwe_on_sent(&est, (uint16_t)(size > 8 ? data[4] << 8 | data[5] : 0) + (uint16_t)i,
		            1200, (int64_t)i * 1000);
	(void)bwe_on_feedback(&est, data, size, 100000);
	(void)bwe_estimate_bps(&est);

	uint8_t *copy = malloc(size ? size : 1);
	if (copy) {
		memcpy(copy, data, size);
		(void)rtcp_rewrite_ssrcs(copy, size, flip, NULL);
		free(copy);
	}
	return 0;
}
