/* Failed credential checks counted per key (a username, or a client's address), with a
 * lockout once a key has failed too often within a window. A pure table: the caller passes
 * the time, and nothing here logs or allocates after limiter_new.
 *
 * Attempts in flight count against the limit (limiter_begin ... limiter_end), so a burst of
 * parallel guesses cannot slip past it while the slow password hashes run. A key that is
 * locked, or has attempts in flight, is never forgotten to make room for another: flooding
 * the table with new keys cannot reset a count. When the table is full of such keys, new
 * keys are refused (fail closed) until some expire. */
#ifndef MDG_SIGNAL_LIMITER_H
#define MDG_SIGNAL_LIMITER_H

#include <stdint.h>

#define LIMITER_KEY_MAX 72 /* longer keys are cut, which only merges them */

typedef struct limiter limiter;

typedef struct limiter_config {
	int max_failures;   /* failures within window_us that lock the key */
	int64_t window_us;  /* failures older than this are forgotten */
	int64_t lockout_us; /* how long a locked key stays locked */
	int capacity;       /* keys remembered at once */
} limiter_config;

limiter *limiter_new(const limiter_config *cfg);
void limiter_free(limiter *l);

/* 0 when key may try now, else the microseconds until it may (locked, or failures plus
 * attempts in flight already at the limit, or no room to remember the key). */
int64_t limiter_blocked(limiter *l, const char *key, int64_t now_us);

/* Charges an attempt in flight to key. Returns 0, or -1 when the table has no room (the
 * attempt must then be refused). Every successful begin needs exactly one end. */
int limiter_begin(limiter *l, const char *key, int64_t now_us);

/* Ends an attempt begun for key. failed: 1 counts a failure (and may lock the key), 0 a
 * success or an attempt that could not be judged (database down). A success clears the
 * key's failures when clear_on_success is set (a user's count, not an address's). */
void limiter_end(limiter *l, const char *key, int failed, int clear_on_success, int64_t now_us);

/* Keys currently locked; for /metrics. */
int limiter_locked_count(const limiter *l, int64_t now_us);

#endif
