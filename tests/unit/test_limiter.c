/* The credential-failure limiter (server/signal/limiter.c): locking after the limit within
 * the window, attempts in flight counted, lockout expiry, success clearing a user's count
 * but not an address's, and a full table that never forgets a locked or busy key however
 * many new keys arrive (the flood that reset the old limiter). */
#include "check.h"
#include "signal/limiter.h"

#include <stdio.h>

#define S   INT64_C(1000000)
#define MIN (60 * S)

static limiter *make(int max, int capacity)
{
	limiter_config cfg = {.max_failures = max,
	                      .window_us = 15 * MIN,
	                      .lockout_us = 15 * MIN,
	                      .capacity = capacity};
	return limiter_new(&cfg);
}

static void fail(limiter *l, const char *key, int64_t now)
{
	CHECK_EQ_INT(limiter_begin(l, key, now), 0);
	limiter_end(l, key, 1, 1, now);
}

static void test_lock_and_expiry(void)
{
	limiter *l = make(10, 64);
	for (int i = 0; i < 9; i++) {
		CHECK(limiter_blocked(l, "sato", i * S) == 0);
		fail(l, "sato", i * S);
	}
	CHECK(limiter_blocked(l, "sato", 9 * S) == 0);
	fail(l, "sato", 9 * S);
	/* Locked for 15 minutes from the tenth failure, whatever happens meanwhile. */
	CHECK(limiter_blocked(l, "sato", 10 * S) == 15 * MIN - S);
	CHECK(limiter_blocked(l, "sato", 9 * S + 15 * MIN - 1) == 1);
	CHECK_EQ_INT(limiter_locked_count(l, 10 * S), 1);
	CHECK(limiter_blocked(l, "sato", 9 * S + 15 * MIN) == 0);
	CHECK_EQ_INT(limiter_locked_count(l, 9 * S + 15 * MIN), 0);
	/* After the lockout the count starts again from zero. */
	fail(l, "sato", 16 * MIN);
	CHECK(limiter_blocked(l, "sato", 16 * MIN) == 0);
	/* Failures spread wider than the window never lock. */
	for (int i = 0; i < 30; i++)
		fail(l, "slow", i * 2 * MIN);
	CHECK(limiter_blocked(l, "slow", 60 * MIN) == 0);
	limiter_free(l);
}

static void test_in_flight_and_success(void)
{
	limiter *l = make(3, 64);
	/* Three attempts in flight fill the limit before any is judged. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(limiter_begin(l, "a", 0), 0);
	CHECK(limiter_blocked(l, "a", 0) > 0);
	limiter_end(l, "a", 0, 1, 1);
	CHECK(limiter_blocked(l, "a", 1) == 0);
	limiter_end(l, "a", 1, 1, 2);
	limiter_end(l, "a", 1, 1, 2);
	/* A success clears a user's count ... */
	CHECK_EQ_INT(limiter_begin(l, "a", 3), 0);
	limiter_end(l, "a", 0, 1, 3);
	fail(l, "a", 4);
	fail(l, "a", 5);
	CHECK(limiter_blocked(l, "a", 6) == 0);
	/* ... but not an address's. */
	fail(l, "ip", 0);
	fail(l, "ip", 1);
	CHECK_EQ_INT(limiter_begin(l, "ip", 2), 0);
	limiter_end(l, "ip", 0, 0, 2);
	fail(l, "ip", 3);
	CHECK(limiter_blocked(l, "ip", 4) > 0);
	/* A success does not unlock a locked key either. */
	CHECK_EQ_INT(limiter_begin(l, "ip", 4), 0);
	limiter_end(l, "ip", 0, 1, 4);
	CHECK(limiter_blocked(l, "ip", 5) > 0);
	/* An end without a begin, or for an unknown key, changes nothing. */
	limiter_end(l, "never", 1, 1, 6);
	CHECK(limiter_blocked(l, "never", 6) == 0);
	limiter_free(l);
}

static void test_flood(void)
{
	char key[32];
	limiter *l = make(10, 64);
	for (int i = 0; i < 10; i++)
		fail(l, "sato", i);
	CHECK(limiter_blocked(l, "sato", 10) > 0);
	/* 1,100 junk keys, each failing once: the table has room for 64. */
	for (int i = 0; i < 1100; i++) {
		snprintf(key, sizeof key, "junk-%d", i);
		if (limiter_blocked(l, key, 100 + i) == 0 && limiter_begin(l, key, 100 + i) == 0)
			limiter_end(l, key, 1, 1, 100 + i);
	}
	CHECK(limiter_blocked(l, "sato", 2000) > 0);
	/* Fill the table with locked keys: new keys are refused, locked ones stay locked. */
	for (int i = 0; i < 63; i++) {
		snprintf(key, sizeof key, "locked-%d", i);
		for (int k = 0; k < 10; k++)
			if (limiter_begin(l, key, 3000) == 0)
				limiter_end(l, key, 1, 1, 3000);
	}
	CHECK(limiter_blocked(l, "sato", 3001) > 0);
	CHECK(limiter_blocked(l, "locked-62", 3001) > 0);
	CHECK(limiter_blocked(l, "newcomer", 3001) > 0);
	CHECK_EQ_INT(limiter_begin(l, "newcomer", 3001), -1);
	CHECK_EQ_INT(limiter_locked_count(l, 3001), 64);
	/* Once the lockouts end, there is room again. */
	CHECK(limiter_blocked(l, "newcomer", 3001 + 15 * MIN) == 0);
	CHECK_EQ_INT(limiter_begin(l, "newcomer", 3001 + 15 * MIN), 0);
	/* Keys longer than the table's key size are cut, not overflowed. */
	char longkey[200];
	memset(longkey, 'x', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	CHECK_EQ_INT(limiter_begin(l, longkey, 3001 + 15 * MIN), 0);
	limiter_end(l, longkey, 1, 1, 3001 + 15 * MIN);
	limiter_free(l);
	limiter_free(NULL);
	limiter_config bad = {0};
	CHECK(limiter_new(&bad) == NULL);
}

int main(void)
{
	test_lock_and_expiry();
	test_in_flight_and_success();
	test_flood();
	return check_done("limiter");
}
