/* Unit tests of booked calls (PROTOCOL.md, "Bookings"; route_call_booked): the desk that made
 * the booking rings first and alone, for the department's ring timeout; then the department
 * rings by its strategy; a booked leg waits ahead of walk-ins already queued; an absent
 * preferred desk does not hold the resident back. */
#include "route_fixture.h"

/* How many RINGING actions of the last drain went to desk `to` for visit `visit`. */
static int rang(const fixture *f, uint32_t to, const char *visit)
{
	int n = 0;
	for (int i = 0; i < f->n; i++)
		if (f->acts[i].kind == ROUTE_ACT_RINGING && f->acts[i].to == to &&
		    strcmp(f->acts[i].ringing.visit, visit) == 0)
			n++;
	return n;
}

/* hoken (ring all, 20 s ring timeout by default) with desks 11 sato and 12 suzuki, both
 * free; kiosks 1, 2, 3. sato joined first, so under longest-idle it would be first. */
static void setup(fixture *f, enum route_ring_strategy ring)
{
	fx_init(f);
	CHECK_EQ_INT(route_department_add(f->r, "hoken", 1), 0);
	route_department_config cfg = {.ring = ring};
	CHECK_EQ_INT(route_department_configure(f->r, "hoken", &cfg, 0), 0);
	join_kiosk(f, 1, "kiosk-a");
	join_kiosk(f, 2, "kiosk-b");
	join_kiosk(f, 3, "kiosk-c");
	join_staff(f, 11, "sato", 1, 0, "hoken", NULL);
	join_staff(f, 12, "suzuki", 1, 1 * SEC, "hoken", NULL);
	drain(f);
}

static void test_booked_desk_rings_first(enum route_ring_strategy ring)
{
	fixture f;
	setup(&f, ring);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", "p1", "suzuki", 10 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 12, visit), 1);
	CHECK_EQ_INT(rang(&f, 11, visit), 0);
	/* The preference lasts the ring timeout: routing wants a tick then. */
	CHECK_EQ_INT(route_next_deadline(f.r) <= 30 * SEC, 1);
	route_tick(f.r, 29 * SEC);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, visit), 0);
	route_tick(f.r, 30 * SEC);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, visit), 1);
	/* Ring all: the booked desk keeps ringing too; longest-idle: the ring moved on. */
	route_queue_entry q[2];
	CHECK_EQ_INT(route_queue_list(f.r, "hoken", 30 * SEC, q, 2), 1);
	CHECK_EQ_INT(route_accept(f.r, 11, visit, 31 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_queue_list(f.r, "hoken", 31 * SEC, NULL, 0), 0);
	route_free(f.r);
}

static void test_ring_all(void)
{
	test_booked_desk_rings_first(ROUTE_RING_ALL);
}

static void test_longest_idle(void)
{
	test_booked_desk_rings_first(ROUTE_RING_LONGEST_IDLE);
}

/* The booked desk answers in time: nobody else was ever rung. */
static void test_booked_desk_answers(void)
{
	fixture f;
	setup(&f, ROUTE_RING_ALL);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, "suzuki", 10 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(route_accept(f.r, 11, visit, 11 * SEC), ROUTE_ERR_CONFLICT); /* not rung */
	CHECK_EQ_INT(route_accept(f.r, 12, visit, 12 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, visit), 0);
	route_free(f.r);
}

/* Walk-ins already waiting: the booked leg goes ahead of them, and when the booked desk
 * comes free it rings for the booked resident. */
static void test_ahead_of_walkins(void)
{
	fixture f;
	setup(&f, ROUTE_RING_LONGEST_IDLE);
	char v1[ROUTE_UUID_LEN], v2[ROUTE_UUID_LEN], v3[ROUTE_UUID_LEN];
	/* Both desks busy: kiosk 1 with sato, kiosk 2 with suzuki. */
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 2 * SEC, v1), 0);
	CHECK_EQ_INT(route_accept(f.r, 11, v1, 3 * SEC), 0);
	CHECK_EQ_INT(route_call(f.r, 2, "hoken", NULL, 4 * SEC, v2), 0);
	CHECK_EQ_INT(route_accept(f.r, 12, v2, 5 * SEC), 0);
	drain(&f);
	/* A walk-in (kiosk 3 would be the booked one; use a fourth kiosk as the walk-in). */
	join_kiosk(&f, 4, "kiosk-d");
	char vw[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 4, "hoken", NULL, 6 * SEC, vw), 0);
	CHECK_EQ_INT(route_call_booked(f.r, 3, "hoken", NULL, "suzuki", 7 * SEC, v3), 0);
	drain(&f);
	route_queue_entry q[2];
	CHECK_EQ_INT(route_queue_list(f.r, "hoken", 7 * SEC, q, 2), 2);
	CHECK_EQ_STR(q[0].visit, v3);
	CHECK_EQ_STR(q[1].visit, vw);
	/* sato comes free first: within the preference it rings for the walk-in only. */
	CHECK_EQ_INT(route_end(f.r, 11, v1, "completed", NULL, NULL, 8 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, v3), 0);
	CHECK_EQ_INT(rang(&f, 11, vw), 1);
	/* suzuki comes free: rings for the booked resident, not the walk-in. */
	CHECK_EQ_INT(route_end(f.r, 12, v2, "completed", NULL, NULL, 9 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 12, v3), 1);
	CHECK_EQ_INT(rang(&f, 12, vw), 0);
	CHECK_EQ_INT(route_accept(f.r, 12, v3, 10 * SEC), 0);
	route_free(f.r);
}

/* Ring all: a walk-in queued before the booked call; one free desk that is not the booked
 * one keeps ringing for the walk-in, and the booked desk, once free, rings for both with the
 * booked one first. */
static void test_ring_all_order(void)
{
	fixture f;
	setup(&f, ROUTE_RING_ALL);
	char v1[ROUTE_UUID_LEN], vw[ROUTE_UUID_LEN], vb[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_presence(f.r, 11, 0, 2 * SEC), 0); /* sato away */
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 2 * SEC, v1), 0);
	CHECK_EQ_INT(route_accept(f.r, 12, v1, 3 * SEC), 0);
	CHECK_EQ_INT(route_call(f.r, 2, "hoken", NULL, 4 * SEC, vw), 0);
	CHECK_EQ_INT(route_call_booked(f.r, 3, "hoken", NULL, "suzuki", 5 * SEC, vb), 0);
	drain(&f);
	CHECK_EQ_INT(route_presence(f.r, 11, 1, 6 * SEC), 0); /* sato back */
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, vw), 1);
	CHECK_EQ_INT(rang(&f, 11, vb), 0);
	CHECK_EQ_INT(route_end(f.r, 12, v1, "completed", NULL, NULL, 7 * SEC), 0);
	drain(&f);
	int first = -1;
	for (int i = 0; i < f.n; i++)
		if (f.acts[i].kind == ROUTE_ACT_RINGING && f.acts[i].to == 12) {
			first = i;
			break;
		}
	CHECK(first >= 0);
	if (first >= 0)
		CHECK_EQ_STR(f.acts[first].ringing.visit, vb);
	route_free(f.r);
}

/* The booked clerk is not logged in (or away): the department rings at once. */
static void test_absent_desk(void)
{
	fixture f;
	setup(&f, ROUTE_RING_ALL);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, "tanaka", 10 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, visit), 1);
	CHECK_EQ_INT(rang(&f, 12, visit), 1);
	/* Away counts as absent too. */
	CHECK_EQ_INT(route_presence(f.r, 12, 0, 11 * SEC), 0);
	CHECK_EQ_INT(route_call_booked(f.r, 2, "hoken", NULL, "suzuki", 12 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, visit), 1);
	route_free(f.r);
}

/* A booked desk of another department does not hold the call either. */
static void test_desk_of_other_department(void)
{
	fixture f;
	setup(&f, ROUTE_RING_ALL);
	CHECK_EQ_INT(route_department_add(f.r, "zei", 1), 0);
	join_staff(&f, 13, "kato", 1, 0, "zei", NULL);
	drain(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, "kato", 10 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(rang(&f, 11, visit), 1);
	CHECK_EQ_INT(rang(&f, 13, visit), 0);
	route_free(f.r);
}

static void test_errors(void)
{
	fixture f;
	setup(&f, ROUTE_RING_ALL);
	char visit[ROUTE_UUID_LEN], long_id[ROUTE_ID_MAX + 8];
	memset(long_id, 'x', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, long_id, 1 * SEC, visit),
	             ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_call_booked(f.r, 11, "hoken", NULL, "sato", 1 * SEC, visit),
	             ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_call_booked(f.r, 1, "nope", NULL, "sato", 1 * SEC, visit),
	             ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_call_booked(f.r, 99, "hoken", NULL, "sato", 1 * SEC, visit),
	             ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_department_set_open(f.r, "hoken", 0, 1 * SEC), 0);
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, "sato", 1 * SEC, visit),
	             ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_department_set_open(f.r, "hoken", 1, 1 * SEC), 0);
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, NULL, 2 * SEC, visit), 0);
	CHECK_EQ_INT(route_call_booked(f.r, 1, "hoken", NULL, "sato", 3 * SEC, visit),
	             ROUTE_ERR_CONFLICT);
	route_free(f.r);
}

int main(void)
{
	test_ring_all();
	test_longest_idle();
	test_booked_desk_answers();
	test_ahead_of_walkins();
	test_ring_all_order();
	test_absent_desk();
	test_desk_of_other_department();
	test_errors();
	return check_done("route_booking");
}
