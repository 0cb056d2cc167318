/* Unit tests of routing's read-only view for the status board (route.h, "the status board's
 * view"): a kiosk's state through a call, a desk's presence, the longest wait of a queue. */
#include "route_fixture.h"

/* hoken with desks 11 (available) and 12 (away); zei with nobody; kiosks 1 and 2. */
static void setup(fixture *f)
{
	fx_init(f);
	CHECK_EQ_INT(route_department_add(f->r, "hoken", 1), 0);
	CHECK_EQ_INT(route_department_add(f->r, "zei", 1), 0);
	join_kiosk(f, 1, "kiosk-a");
	join_kiosk(f, 2, "kiosk-b");
	join_staff(f, 11, "sato", 1, 0, "hoken", NULL);
	join_staff(f, 12, "ito", 0, 0, "hoken", NULL);
	drain(f);
}

static void test_kiosk_states(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 1), ROUTE_KIOSK_IDLE);
	CHECK_EQ_INT(route_kiosk_state(f.r, 99), ROUTE_KIOSK_IDLE);
	CHECK_EQ_INT(route_kiosk_state(f.r, 11), ROUTE_KIOSK_IDLE);
	CHECK_EQ_INT(route_kiosk_state(NULL, 1), ROUTE_KIOSK_IDLE);

	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", "", 1 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 1), ROUTE_KIOSK_RINGING);
	/* Nobody can answer zei: it waits without ringing. */
	char other[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 2, "zei", "", 2 * SEC, other), 0);
	drain(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 2), ROUTE_KIOSK_QUEUED);
	/* The only ringing desk goes away: queued. */
	CHECK_EQ_INT(route_presence(f.r, 11, 0, 3 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 1), ROUTE_KIOSK_QUEUED);
	CHECK_EQ_INT(route_presence(f.r, 11, 1, 4 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 1), ROUTE_KIOSK_RINGING);
	CHECK_EQ_INT(route_accept(f.r, 11, visit, 5 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 1), ROUTE_KIOSK_IN_CALL);
	CHECK_EQ_INT(route_end(f.r, 11, visit, "completed", "", "", 6 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_kiosk_state(f.r, 1), ROUTE_KIOSK_IDLE);
	route_free(f.r);
}

static void test_desk_presence(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_desk_presence(f.r, 11), ROUTE_DESK_AVAILABLE);
	CHECK_EQ_INT(route_desk_presence(f.r, 12), ROUTE_DESK_AWAY);
	CHECK_EQ_INT(route_desk_presence(f.r, 1), ROUTE_DESK_AWAY);
	CHECK_EQ_INT(route_desk_presence(f.r, 99), ROUTE_DESK_AWAY);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", "", 1 * SEC, visit), 0);
	CHECK_EQ_INT(route_accept(f.r, 11, visit, 2 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_desk_presence(f.r, 11), ROUTE_DESK_BUSY);
	/* Busy wins over away: a clerk in a call who pressed 離席 is still in the call. */
	CHECK_EQ_INT(route_presence(f.r, 11, 0, 3 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_desk_presence(f.r, 11), ROUTE_DESK_BUSY);
	CHECK_EQ_INT(route_end(f.r, 11, visit, "completed", "", "", 4 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_desk_presence(f.r, 11), ROUTE_DESK_AWAY);
	/* A suspended desk is away even while its flag says available. */
	CHECK_EQ_INT(route_presence(f.r, 12, 1, 5 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_desk_presence(f.r, 12), ROUTE_DESK_AVAILABLE);
	CHECK_EQ_INT(route_session_suspend(f.r, 12, 6 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_desk_presence(f.r, 12), ROUTE_DESK_AWAY);
	route_free(f.r);
}

static void test_longest_wait(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_department_longest_wait_ms(f.r, "zei", 1 * SEC), 0);
	CHECK(route_department_longest_wait_ms(f.r, "nope", 1 * SEC) < 0);
	char a[ROUTE_UUID_LEN], b[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "zei", "", 1 * SEC, a), 0);
	CHECK_EQ_INT(route_call(f.r, 2, "zei", "", 3 * SEC, b), 0);
	drain(&f);
	CHECK_EQ_INT(route_department_longest_wait_ms(f.r, "zei", 10 * SEC), 9000);
	CHECK_EQ_INT(route_hangup(f.r, 1, 11 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_department_longest_wait_ms(f.r, "zei", 11 * SEC), 8000);
	route_free(f.r);
}

int main(void)
{
	test_kiosk_states();
	test_desk_presence();
	test_longest_wait();
	return check_done("route_board");
}
