/* Unit tests of what a kiosk is told about each department before a tap (issue 11, "pages
 * that fit the work"): how many desks are there at all (staffed), what a visit queued now
 * would wait (estimated_wait_s), that a call to a department whose desks are all busy
 * queues rather than being refused, and that a change of either figure is announced
 * (DEPARTMENTS) so the kiosk's buttons follow. */
#include "route_fixture.h"

static route_department_info info(fixture *f, const char *dept)
{
	route_department_info di;
	CHECK_EQ_INT(route_department_get(f->r, dept, &di), 0);
	return di;
}

/* hoken with one desk (11); zei with nobody logged in; kiosks 1, 2, 3. */
static void setup(fixture *f)
{
	fx_init(f);
	CHECK_EQ_INT(route_department_add(f->r, "hoken", 1), 0);
	CHECK_EQ_INT(route_department_add(f->r, "zei", 1), 0);
	join_kiosk(f, 1, "kiosk-a");
	join_kiosk(f, 2, "kiosk-b");
	join_kiosk(f, 3, "kiosk-c");
	join_staff(f, 11, "sato", 1, 0, "hoken", NULL);
	drain(f);
}

static void test_busy_department_queues(void)
{
	fixture f;
	setup(&f);
	route_department_info di = info(&f, "hoken");
	CHECK_EQ_INT(di.staffed, 1);
	CHECK_EQ_INT(di.available, 1);
	CHECK_EQ_INT(di.estimated_wait_s, 0); /* a desk is free: it rings at once */
	di = info(&f, "zei");
	CHECK_EQ_INT(di.staffed, 0);
	CHECK_EQ_INT(di.available, 0);

	/* The only desk takes a call (after 10 s in the queue: the estimate's first sample). */
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 1 * SEC, visit), 0);
	drain(&f);
	CHECK_EQ_INT(route_accept(f.r, 11, visit, 11 * SEC), 0);
	drain(&f);
	di = info(&f, "hoken");
	CHECK_EQ_INT(di.staffed, 1);
	CHECK_EQ_INT(di.available, 0);
	CHECK_EQ_INT(di.queued, 0);
	CHECK_EQ_INT(di.estimated_wait_s, 10);

	/* A second resident queues for the busy desk: position 1, told the same estimate. */
	CHECK_EQ_INT(route_call(f.r, 2, "hoken", NULL, 12 * SEC, visit), 0);
	EXPECT(&f, "rec visit_started v=id3 leg= d=hoken p= k=2/kiosk-b s=0/ r= n= w=0",
	       "rec leg_queued v=id3 leg=id4 d=hoken p= k=2/kiosk-b s=0/ r= n= w=0",
	       "queued 2 id3 hoken pos=1 est=10", "queue hoken", "departments");
	di = info(&f, "hoken");
	CHECK_EQ_INT(di.queued, 1);
	CHECK_EQ_INT(di.estimated_wait_s, 20); /* the next one would be second */

	/* A third: position 2. */
	CHECK_EQ_INT(route_call(f.r, 3, "hoken", NULL, 13 * SEC, visit), 0);
	EXPECT(&f, "rec visit_started v=id5 leg= d=hoken p= k=3/kiosk-c s=0/ r= n= w=0",
	       "rec leg_queued v=id5 leg=id6 d=hoken p= k=3/kiosk-c s=0/ r= n= w=0",
	       "queued 3 id5 hoken pos=2 est=20", "queue hoken", "departments");
	CHECK_EQ_INT(info(&f, "hoken").estimated_wait_s, 30);
	route_free(f.r);
}

/* staffed counts present desks, busy or free; away and suspended desks do not count, and
 * every change is announced even when `available` stays the same. */
static void test_staffed_changes_are_announced(void)
{
	fixture f;
	setup(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 1 * SEC, visit), 0);
	CHECK_EQ_INT(route_accept(f.r, 11, visit, 2 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(info(&f, "hoken").available, 0);

	/* The busy desk sets itself away during the call: available stays 0, staffed drops. */
	CHECK_EQ_INT(route_presence(f.r, 11, 0, 3 * SEC), 0);
	EXPECT(&f, "departments");
	CHECK_EQ_INT(info(&f, "hoken").staffed, 0);
	CHECK_EQ_INT(route_presence(f.r, 11, 1, 4 * SEC), 0);
	EXPECT(&f, "departments");
	CHECK_EQ_INT(info(&f, "hoken").staffed, 1);

	/* A desk of zei logs in away: still nobody to answer there, nothing announced. */
	join_staff(&f, 12, "suzuki", 0, 5 * SEC, "zei", NULL);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(info(&f, "zei").staffed, 0);
	CHECK_EQ_INT(route_presence(f.r, 12, 1, 6 * SEC), 0);
	EXPECT(&f, "departments");
	route_department_info di = info(&f, "zei");
	CHECK_EQ_INT(di.staffed, 1);
	CHECK_EQ_INT(di.available, 1);

	/* A desk whose connection dropped (suspended) is not there to answer. */
	CHECK_EQ_INT(route_session_suspend(f.r, 12, 7 * SEC), 0);
	EXPECT(&f, "departments");
	CHECK_EQ_INT(info(&f, "zei").staffed, 0);
	route_free(f.r);
}

/* Nobody logged in does not refuse a call by itself (the kiosk greys the button; a visit
 * that gets through anyway waits until no_answer), and a closed department still refuses. */
static void test_unstaffed_and_closed(void)
{
	fixture f;
	setup(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(info(&f, "zei").estimated_wait_s, 60); /* no sample yet: the default */
	CHECK_EQ_INT(route_department_set_open(f.r, "zei", 0, 1 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_call(f.r, 1, "zei", NULL, 2 * SEC, visit), ROUTE_ERR_UNAVAILABLE);
	EXPECT_NONE(&f);
	route_free(f.r);
}

int main(void)
{
	test_busy_department_queues();
	test_staffed_changes_are_announced();
	test_unstaffed_and_closed();
	return check_done("route_queue");
}
