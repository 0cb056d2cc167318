/* The retransmission budget (server/rtp/rtxbudget.c): a full bucket at first, refusal once
 * spent (nothing taken on a refusal), refill at a quarter of the estimate with a floor, the
 * depth cap after a long pause, and a lost keyframe repaired spread over time rather than
 * as one burst. */
#include "check.h"
#include "rtp/rtxbudget.h"

#define MS INT64_C(1000)

static void test_rate(void)
{
	CHECK_EQ_INT(rtxbudget_rate_bps(0), RTXBUDGET_MIN_BPS);
	CHECK_EQ_INT(rtxbudget_rate_bps(100000), RTXBUDGET_MIN_BPS);
	CHECK_EQ_INT(rtxbudget_rate_bps(600000), 150000);
	CHECK_EQ_INT(rtxbudget_rate_bps(4000000), 1000000);
}

static void test_spend_and_refill(void)
{
	rtxbudget b = {0};
	/* 600 kbit/s: 150 kbit/s of resends, a bucket of 250 ms = 4687 bytes. */
	int64_t t = 1000 * MS;
	int granted = 0;
	while (rtxbudget_take(&b, 1200, 600000, t))
		granted++;
	CHECK_EQ_INT(granted, 3);
	CHECK_EQ_INT(b.refused, 1);
	/* A refusal spends nothing: a small packet still fits. */
	CHECK(rtxbudget_take(&b, 500, 600000, t));
	/* 100 ms later: 1875 bytes more, 2462 in all. */
	t += 100 * MS;
	CHECK(rtxbudget_take(&b, 1200, 600000, t));
	CHECK(!rtxbudget_take(&b, 1300, 600000, t));
	CHECK(rtxbudget_take(&b, 1200, 600000, t));
	/* A long pause refills to the depth only. */
	t += 10000 * MS;
	granted = 0;
	while (rtxbudget_take(&b, 1200, 600000, t))
		granted++;
	CHECK_EQ_INT(granted, 3);
}

static void test_floor_depth(void)
{
	/* No estimate yet: the floor rate, and at least two full packets at once. */
	rtxbudget b = {0};
	CHECK(rtxbudget_take(&b, 1200, 0, 5 * MS));
	CHECK(rtxbudget_take(&b, 1200, 0, 5 * MS));
	CHECK(!rtxbudget_take(&b, 1200, 0, 5 * MS));
}

/* A keyframe of 30 packets of 1200 bytes lost on a 600 kbit/s line, NACKed every 100 ms:
 * the first round resends a few, the rest follow at the budget's rate, and no 100 ms holds
 * more than the line's spare share. */
static void test_keyframe_spread(void)
{
	rtxbudget b = {0};
	int left = 30, rounds = 0, max_round = 0;
	int64_t t = 0;
	while (left > 0 && rounds < 100) {
		t += 100 * MS;
		int sent = 0;
		for (int i = 0; i < left; i++)
			if (rtxbudget_take(&b, 1200, 600000, t))
				sent++;
		left -= sent;
		if (sent > max_round)
			max_round = sent;
		rounds++;
	}
	CHECK_EQ_INT(left, 0);
	CHECK(max_round <= 4);
	/* 36 kB at 150 kbit/s is about 1.9 s (less the first bucket). */
	CHECK(rounds >= 14 && rounds <= 22);
}

/* A clock that steps back does not mint tokens. */
static void test_clock_back(void)
{
	rtxbudget b = {0};
	int64_t t = 2000 * MS;
	while (rtxbudget_take(&b, 1000, 600000, t))
		;
	CHECK(!rtxbudget_take(&b, 1000, 600000, t - 500 * MS));
	CHECK(!rtxbudget_take(&b, 1000, 600000, t));
}

int main(void)
{
	test_rate();
	test_spend_and_refill();
	test_floor_depth();
	test_keyframe_spread();
	test_clock_back();
	return check_done("rtxbudget");
}
