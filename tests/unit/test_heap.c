/* Heap tuning: the trimmer runs on its timer without keeping the loop alive, and stopping
 * closes its handle (the loop closes clean). What a trim gives back is measured with the
 * capacity bench (docs/capacity.md); under ASan, glibc's allocator is not the one in use. */
#include "base/heap.h"
#include "check.h"

#include <uv.h>

typedef struct watch {
	uv_timer_t timer;
	heap_trimmer *trimmer;
	uint64_t trims_seen;
} watch;

static void on_watch(uv_timer_t *timer)
{
	watch *w = timer->data;
	w->trims_seen = w->trimmer->trims;
	uv_close((uv_handle_t *)timer, NULL);
}

static void test_trimmer(void)
{
	uv_loop_t loop;
	CHECK_EQ_INT(uv_loop_init(&loop), 0);
	heap_tune();
	heap_trimmer t;
	CHECK_EQ_INT(heap_trimmer_start(&t, &loop, 5), 0);
	/* Alone, the trimmer does not keep the loop running. */
	CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ_INT(t.trims, 0);
	watch w = {.trimmer = &t};
	uv_timer_init(&loop, &w.timer);
	w.timer.data = &w;
	uv_timer_start(&w.timer, on_watch, 40, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(w.trims_seen >= 3);
	CHECK(t.last_us >= 0);
	heap_trimmer_stop(&t);
	heap_trimmer_stop(&t); /* twice is harmless */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
	test_trimmer();
	return check_done("heap");
}
