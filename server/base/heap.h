/* The allocator's share of the memory per call (docs/capacity.md, "Memory"). glibc keeps
 * what the process frees: large blocks on the heap once its adaptive mmap threshold has
 * risen, the arenas of the thread pool's workers after the kiosks' start-up self-tests, and
 * the holes calls leave between blocks still in use. heap_tune() fixes the threshold at
 * start; a heap_trimmer gives free pages back every so often. Elsewhere, both do nothing. */
#ifndef MDG_BASE_HEAP_H
#define MDG_BASE_HEAP_H

#include <stdint.h>
#include <uv.h>

#define HEAP_TRIM_INTERVAL_MS 10000

/* Call once before anything large is allocated. */
void heap_tune(void);

typedef struct heap_trimmer {
	uv_timer_t timer;
	int64_t last_us; /* how long the last trim took */
	uint64_t trims;
	int active;
} heap_trimmer;

/* Trims every interval_ms; the timer does not keep the loop alive. Returns 0 or a libuv
 * error. */
int heap_trimmer_start(heap_trimmer *t, uv_loop_t *loop, uint64_t interval_ms);
/* Stops and closes the timer (the loop must run once more to finish closing it). */
void heap_trimmer_stop(heap_trimmer *t);

#endif
