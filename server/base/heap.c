#include "base/heap.h"

#include "base/clock.h"
#include "base/log.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

void heap_tune(void)
{
#ifdef __GLIBC__
	/* glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB).
	 * Once the self-tests have freed libvpx's frame buffers, the per-call blocks of a few
	 * hundred KiB (a peer, a retransmission ring) would come from the heap: calloc then
	 * writes every page of a peer, and what a call frees stays resident between blocks
	 * still in use. At a fixed threshold (glibc's default value) they get mappings of their
	 * own, resident only where written and unmapped when freed. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

static void on_trim(uv_timer_t *timer)
{
	heap_trimmer *t = timer->data;
#ifdef __GLIBC__
	/* Unlike the automatic trim, which only shortens the heap from its top, this returns
	 * every free page of every arena (MADV_DONTNEED), the worker threads' included. */
	int64_t start = clock_mono_us();
	malloc_trim(0);
	t->last_us = clock_mono_us() - start;
	t->trims++;
	LOG_DEBUG("heap", "trimmed took_us=%lld", (long long)t->last_us);
#else
	(void)t;
#endif
}

int heap_trimmer_start(heap_trimmer *t, uv_loop_t *loop, uint64_t interval_ms)
{
	t->last_us = 0;
	t->trims = 0;
	t->active = 0;
	int rc = uv_timer_init(loop, &t->timer);
	if (rc != 0)
		return rc;
	t->active = 1;
	t->timer.data = t;
	uv_unref((uv_handle_t *)&t->timer);
	return uv_timer_start(&t->timer, on_trim, interval_ms, interval_ms);
}

void heap_trimmer_stop(heap_trimmer *t)
{
	if (!t->active)
		return;
	t->active = 0;
	uv_timer_stop(&t->timer);
	uv_close((uv_handle_t *)&t->timer, NULL);
}
