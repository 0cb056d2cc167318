/* Retransmission budget: see rtxbudget.h. */
#include "rtp/rtxbudget.h"

uint64_t rtxbudget_rate_bps(uint64_t estimate_bps)
{
	uint64_t r = estimate_bps / 100 * RTXBUDGET_SHARE_PCT;
	return r > RTXBUDGET_MIN_BPS ? r : RTXBUDGET_MIN_BPS;
}

int rtxbudget_take(rtxbudget *b, size_t bytes, uint64_t estimate_bps, int64_t now_us)
{
	double rate = (double)rtxbudget_rate_bps(estimate_bps) / 8.0; /* bytes per second */
	double depth = rate * RTXBUDGET_DEPTH_US / 1e6;
	if (depth < RTXBUDGET_MIN_DEPTH)
		depth = RTXBUDGET_MIN_DEPTH;
	if (!b->last_us) {
		b->tokens = depth;
	} else if (now_us > b->last_us) {
		b->tokens += rate * (double)(now_us - b->last_us) / 1e6;
		if (b->tokens > depth)
			b->tokens = depth;
	}
	if (now_us > b->last_us || !b->last_us)
		b->last_us = now_us;
	if ((double)bytes > b->tokens) {
		b->refused++;
		return 0;
	}
	b->tokens -= (double)bytes;
	b->granted++;
	return 1;
}
