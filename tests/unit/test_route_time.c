/* Unit tests of time in the routing state machine, with the exact actions: the no-answer
 * limit, longest-idle rings turning to the next desk, business hours (closing, the
 * deadline that announces it, a queue released as "closed"), and reconnects (suspend,
 * resume with the state re-sent, expiry as a departure). */
#include "route_fixture.h"

#define MONDAY_JST (1711897200LL * SEC) /* 2024-04-01 00:00 +09:00 */
#define HOUR       (3600 * SEC)

static void test_no_answer(void)
{
	fixture f;
	route_config cfg = {.no_answer_us = 60 * SEC};
	fx_init_cfg(&f, &cfg);
	route_department_add(f.r, "a", 1);
	join_kiosk(&f, 1, "k1");
	CHECK_EQ_INT(route_next_deadline(f.r), -1);
	route_call(f.r, 1, "a", NULL, 10 * SEC, NULL); /* id1, leg id2 */
	drain(&f);
	CHECK_EQ_INT(route_next_deadline(f.r), 70 * SEC);
	route_tick(f.r, 69 * SEC);
	EXPECT_NONE(&f);
	route_tick(f.r, 70 * SEC);
	EXPECT(&f, "rec leg_ended v=id1 leg=id2 d=a p= k=1/k1 s=0/ r=no_answer n= w=0",
	       "ended 1 id1 no_answer",
	       "rec visit_ended v=id1 leg= d= p= k=1/k1 s=0/ r=no_answer n= w=0", "queue a",
	       "departments");
	CHECK_EQ_INT(route_next_deadline(f.r), -1);
	route_free(f.r);

	/* Negative: never. */
	cfg.no_answer_us = -1;
	fx_init_cfg(&f, &cfg);
	route_department_add(f.r, "a", 1);
	join_kiosk(&f, 1, "k1");
	route_call(f.r, 1, "a", NULL, 0, NULL);
	drain(&f);
	route_tick(f.r, 100000 * SEC);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_next_deadline(f.r), -1);
	route_free(f.r);
}

static void test_longest_idle(void)
{
	fixture f;
	fx_init(&f);
	route_department_add(f.r, "a", 1);
	route_department_config dc = {.ring = ROUTE_RING_LONGEST_IDLE, .ring_timeout_us = 20 * SEC};
	CHECK_EQ_INT(route_department_configure(f.r, "a", &dc, 0), 0);
	join_kiosk(&f, 1, "k1");
	join_kiosk(&f, 2, "k2");
	join_staff(&f, 12, "s12", 1, 5 * SEC, "a", NULL);
	join_staff(&f, 11, "s11", 1, 1 * SEC, "a", NULL); /* idle longest, though joined later */
	join_staff(&f, 13, "s13", 1, 9 * SEC, "a", NULL);
	drain(&f);
	route_call(f.r, 1, "a", NULL, 30 * SEC, NULL); /* id1 */
	EXPECT(&f, "rec visit_started v=id1 leg= d=a p= k=1/k1 s=0/ r= n= w=0",
	       "rec leg_queued v=id1 leg=id2 d=a p= k=1/k1 s=0/ r= n= w=0",
	       "ringing 11 id1 a k=1 w=0 p=", "queued 1 id1 a pos=1 est=60", "queue a",
	       "departments");
	/* A second caller rings a different desk. */
	route_call(f.r, 2, "a", NULL, 31 * SEC, NULL); /* id3 */
	drain(&f);
	CHECK_EQ_INT(f.n, 6);
	CHECK_EQ_STR(act_visit(&f.acts[2]), "id3");
	CHECK_EQ_INT(f.acts[2].to, 12);
	route_hangup(f.r, 2, 32 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_next_deadline(f.r), 50 * SEC);
	route_tick(f.r, 49 * SEC);
	EXPECT_NONE(&f);
	route_tick(f.r, 50 * SEC);
	EXPECT(&f, "ring_cancelled 11 id1 cancelled", "ringing 12 id1 a k=1 w=20000 p=");
	route_tick(f.r, 70 * SEC);
	EXPECT(&f, "ring_cancelled 12 id1 cancelled", "ringing 13 id1 a k=1 w=40000 p=");
	/* Everyone had a turn: a new round, from the longest idle again. */
	route_tick(f.r, 90 * SEC);
	EXPECT(&f, "ring_cancelled 13 id1 cancelled", "ringing 11 id1 a k=1 w=60000 p=");
	/* A desk that becomes free does not interrupt the turn of the one ringing. */
	route_presence(f.r, 12, 0, 91 * SEC);
	route_presence(f.r, 13, 0, 91 * SEC);
	drain(&f);
	/* A lone desk keeps ringing: its turn restarts silently. */
	route_tick(f.r, 110 * SEC);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_next_deadline(f.r), 130 * SEC);
	CHECK_EQ_INT(route_accept(f.r, 11, "id1", 111 * SEC), 0);
	drain(&f);
	/* Idle since the call ended: the desk that just finished rings last. */
	route_presence(f.r, 12, 1, 112 * SEC);
	route_presence(f.r, 13, 1, 113 * SEC);
	route_end(f.r, 11, "id1", "completed", NULL, NULL, 114 * SEC);
	route_call(f.r, 2, "a", NULL, 115 * SEC, NULL); /* id5 */
	drain(&f);
	int rung = 0;
	for (int i = 0; i < f.n; i++)
		if (f.acts[i].kind == ROUTE_ACT_RINGING)
			rung = (int)f.acts[i].to;
	CHECK_EQ_INT(rung, 12);
	route_department_config bad = {.ring = (enum route_ring_strategy)5};
	CHECK_EQ_INT(route_department_configure(f.r, "a", &bad, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_department_configure(f.r, "zz", &dc, 0), ROUTE_ERR_NOT_FOUND);
	route_free(f.r);
}

static void test_hours(void)
{
	fixture f;
	route_config cfg = {.tz_offset_s = 9 * 3600, .no_answer_us = -1};
	fx_init_cfg(&f, &cfg);
	route_department_add(f.r, "a", 1);
	route_department_config dc = {.has_hours = 1};
	for (int w = 1; w <= 5; w++) {
		dc.n_hours[w] = 1;
		dc.hours[w][0] = (route_interval){8 * 60 + 30, 17 * 60 + 15};
	}
	int64_t t = MONDAY_JST + 7 * HOUR; /* Monday 07:00: closed */
	CHECK_EQ_INT(route_department_configure(f.r, "a", &dc, t), 0);
	EXPECT(&f, "departments");
	route_department_info di;
	route_department_get(f.r, "a", &di);
	CHECK_EQ_INT(di.open, 0);
	CHECK_EQ_INT(route_next_deadline(f.r), MONDAY_JST + 8 * HOUR + 30 * 60 * SEC);
	join_kiosk(&f, 1, "k1");
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, t, NULL), ROUTE_ERR_UNAVAILABLE);
	/* 08:30: open, announced by the tick at the deadline. */
	route_tick(f.r, MONDAY_JST + 8 * HOUR + 30 * 60 * SEC);
	EXPECT(&f, "departments");
	CHECK_EQ_INT(route_next_deadline(f.r), MONDAY_JST + 17 * HOUR + 15 * 60 * SEC);
	join_staff(&f, 11, "s11", 1, MONDAY_JST + 9 * HOUR, "a", NULL);
	drain(&f);
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, MONDAY_JST + 17 * HOUR, NULL), 0); /* id1 */
	drain(&f);
	/* 17:15: closed; the resident in line is still served while a desk is there. */
	int64_t close = MONDAY_JST + 17 * HOUR + 15 * 60 * SEC;
	route_tick(f.r, close);
	EXPECT(&f, "departments");
	/* Tuesday 08:30 is next. */
	CHECK_EQ_INT(route_next_deadline(f.r), MONDAY_JST + 32 * HOUR + 30 * 60 * SEC);
	/* The last desk goes away: nobody will answer, the visit ends "closed". */
	route_presence(f.r, 11, 0, close + 60 * SEC);
	EXPECT(&f, "ring_cancelled 11 id1 cancelled",
	       "rec leg_ended v=id1 leg=id2 d=a p= k=1/k1 s=0/ r=closed n= w=0",
	       "ended 1 id1 closed", "rec visit_ended v=id1 leg= d= p= k=1/k1 s=0/ r=closed n= w=0",
	       "queue a", "departments");
	/* Friday evening to Monday morning. */
	CHECK_EQ_INT(route_next_deadline(f.r), MONDAY_JST + 32 * HOUR + 30 * 60 * SEC);
	route_tick(f.r, MONDAY_JST + 4 * 24 * HOUR + 18 * HOUR);
	drain(&f);
	CHECK_EQ_INT(route_next_deadline(f.r),
	             MONDAY_JST + 7 * 24 * HOUR + 8 * HOUR + 30 * 60 * SEC);
	dc.hours[1][0] = (route_interval){600, 500};
	CHECK_EQ_INT(route_department_configure(f.r, "a", &dc, t), ROUTE_ERR_BAD_REQUEST);
	route_free(f.r);
}

static void test_resume(void)
{
	fixture f;
	route_config cfg = {.resume_us = 30 * SEC};
	fx_init_cfg(&f, &cfg);
	route_department_add(f.r, "a", 1);
	join_kiosk(&f, 1, "k1");
	join_kiosk(&f, 2, "k2");
	join_staff(&f, 11, "s11", 1, 0, "a", NULL);
	join_staff(&f, 12, "s12", 1, 0, "a", NULL);
	route_call(f.r, 1, "a", NULL, 0, NULL); /* id1, leg id2 */
	route_accept(f.r, 11, "id1", 1 * SEC);
	route_call(f.r, 2, "a", NULL, 2 * SEC, NULL); /* id3, leg id4: rings 12 */
	drain(&f);

	/* The kiosk in a call drops: the room and its wiring stay. */
	CHECK_EQ_INT(route_session_suspend(f.r, 1, 10 * SEC), 0);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_session_suspended(f.r, 1), 1);
	CHECK_EQ_INT(route_next_deadline(f.r), 40 * SEC);
	CHECK_EQ_INT(route_session_resume(f.r, 1, 20 * SEC), 0);
	EXPECT(&f, "media 1 primary=11 extra=[]", "connected 1 id1 [1,11]");
	CHECK_EQ_INT(route_session_resume(f.r, 1, 20 * SEC), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_session_resume(f.r, 99, 20 * SEC), ROUTE_ERR_NOT_FOUND);

	/* A ringing desk drops: its ring goes silently, and comes back on resume. */
	CHECK_EQ_INT(route_session_suspend(f.r, 12, 21 * SEC), 0);
	EXPECT(&f, "departments");
	CHECK_EQ_INT(route_session_resume(f.r, 12, 22 * SEC), 0);
	EXPECT(&f, "media 12 primary=0 extra=[]", "ringing 12 id3 a k=2 w=20000 p=", "departments");

	/* A waiting kiosk resumes: its place is re-sent. */
	route_session_suspend(f.r, 2, 23 * SEC);
	route_session_resume(f.r, 2, 24 * SEC);
	EXPECT(&f, "media 2 primary=0 extra=[]", "queued 2 id3 a pos=1 est=1");

	/* The serving desk drops for good: the resident goes back to the head of the queue. */
	route_session_suspend(f.r, 11, 30 * SEC);
	drain(&f);
	route_tick(f.r, 59 * SEC);
	EXPECT_NONE(&f);
	route_tick(f.r, 60 * SEC);
	EXPECT(&f, "rec leg_ended v=id1 leg=id2 d=a p= k=1/k1 s=11/s11 r=dropped n= w=0",
	       "rec leg_queued v=id1 leg=id5 d=a p= k=1/k1 s=0/ r= n= w=0",
	       "media 1 primary=0 extra=[]",
	       "ringing 12 id1 a k=1 w=0 p=", "queued 1 id1 a pos=1 est=1",
	       "queued 2 id3 a pos=2 est=2", "queue a", "departments");
	CHECK_EQ_INT(route_session_role(f.r, 11), ROUTE_ROLE_NONE);

	/* A waiting kiosk that does not come back in time ends its visit as dropped. */
	route_session_suspend(f.r, 2, 61 * SEC);
	drain(&f);
	route_tick(f.r, 91 * SEC);
	EXPECT(&f, "ring_cancelled 12 id3 cancelled",
	       "rec leg_ended v=id3 leg=id4 d=a p= k=2/k2 s=0/ r=dropped n= w=0",
	       "rec visit_ended v=id3 leg= d= p= k=2/k2 s=0/ r=dropped n= w=0", "queue a",
	       "departments");
	CHECK_EQ_INT(route_session_suspend(f.r, 99, 92 * SEC), ROUTE_ERR_NOT_FOUND);
	route_free(f.r);
}

int main(void)
{
	test_no_answer();
	test_longest_idle();
	test_hours();
	test_resume();
	return check_done("route_time");
}
