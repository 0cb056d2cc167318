/* Unit tests of the routing state machine's room requests, each with the exact actions it
 * emits: transfer, invite (three-way media), control, share (the document slot), survey,
 * a desk dropping out of a three-way, and their error paths (which emit nothing). */
#include "route_fixture.h"

/* Departments hoken and zei (open) and kaikei (closed); kiosks 1 and 2; desks 11 (hoken),
 * 12 (hoken and zei), 13 (zei), all available. Actions drained. */
static void setup(fixture *f)
{
	fx_init(f);
	route_department_add(f->r, "hoken", 1);
	route_department_add(f->r, "zei", 1);
	route_department_add(f->r, "kaikei", 0);
	join_kiosk(f, 1, "kiosk-a");
	join_kiosk(f, 2, "kiosk-b");
	join_staff(f, 11, "sato", 1, 0, "hoken", NULL);
	join_staff(f, 12, "suzuki", 1, 0, "hoken", "zei");
	join_staff(f, 13, "tanaka", 1, 0, "zei", NULL);
	drain(f);
}

static void test_transfer(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 2, "zei", NULL, 0, NULL);   /* id1, leg id2: an ordinary caller */
	route_call(f.r, 1, "hoken", "p1", 0, NULL); /* id3, leg id4 */
	route_accept(f.r, 11, "id3", 2 * SEC);
	drain(&f);
	/* The transferred resident goes ahead of the ordinary caller. */
	CHECK_EQ_INT(route_transfer(f.r, 11, "id3", "zei", 10 * SEC), 0);
	EXPECT(
	    &f, "ended 11 id3 completed",
	    "rec leg_ended v=id3 leg=id4 d=hoken p=p1 k=1/kiosk-a s=11/sato r=transferred n= w=0",
	    "rec leg_queued v=id3 leg=id5 d=zei p= k=1/kiosk-a s=0/ r= n= w=0 via=transfer",
	    "rec audit v=id3 leg=id5 d=zei p= k=1/kiosk-a s=11/sato r=transferred n= w=0",
	    "media 1 primary=0 extra=[]", "media 11 primary=0 extra=[]",
	    "ringing 12 id3 zei k=1 w=0 p=", "ringing 13 id3 zei k=1 w=0 p=",
	    "queued 1 id3 zei pos=1 est=60", "queued 2 id1 zei pos=2 est=120", "queue zei",
	    "departments");
	CHECK(route_session_visit(f.r, 11) == NULL);
	CHECK_EQ_STR(route_session_visit(f.r, 1), "id3");
	/* The transferring desk no longer serves it. */
	CHECK_EQ_INT(route_transfer(f.r, 11, "id3", "zei", 11 * SEC), ROUTE_ERR_FORBIDDEN);
	EXPECT_NONE(&f);

	CHECK_EQ_INT(route_accept(f.r, 13, "id3", 20 * SEC), 0);
	EXPECT(&f, "ring_cancelled 12 id3 taken", "connected 1 id3 [1,13]",
	       "connected 13 id3 [1,13]",
	       "rec leg_answered v=id3 leg=id5 d=zei p= k=1/kiosk-a s=13/tanaka r= n= w=10000",
	       "media 1 primary=13 extra=[]", "media 13 primary=1 extra=[]",
	       "ring_cancelled 13 id1 taken", "queued 2 id1 zei pos=1 est=10", "queue zei",
	       "departments");
	CHECK_EQ_STR(route_session_department(f.r, 13), "zei");
	CHECK_EQ_INT(route_end(f.r, 13, "id3", "completed", NULL, NULL, 30 * SEC), 0);
	EXPECT(&f, "ended 13 id3 completed", "ended 1 id3 completed",
	       "rec leg_ended v=id3 leg=id5 d=zei p= k=1/kiosk-a s=13/tanaka r=completed n= w=0",
	       "rec visit_ended v=id3 leg= d= p= k=1/kiosk-a s=0/ r=completed n= w=0",
	       "media 1 primary=0 extra=[]", "media 13 primary=0 extra=[]",
	       "ringing 13 id1 zei k=2 w=30000 p=", "departments");

	/* Errors emit nothing. */
	route_call(f.r, 1, "hoken", NULL, 40 * SEC, NULL); /* id6 */
	route_accept(f.r, 11, "id6", 41 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_transfer(f.r, 11, "id6", "kaikei", 42 * SEC), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_transfer(f.r, 11, "id6", "nope", 42 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_transfer(f.r, 11, "id9", "zei", 42 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_transfer(f.r, 11, "id6", NULL, 42 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_transfer(f.r, 13, "id6", "zei", 42 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_transfer(f.r, 1, "id6", "zei", 42 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_transfer(f.r, 99, "id6", "zei", 42 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_invite(f.r, 12, "id6", "zei", 42 * SEC), ROUTE_ERR_FORBIDDEN);
	EXPECT_NONE(&f);
	/* While an invite waits, the visit may not be queued a second time. */
	CHECK_EQ_INT(route_invite(f.r, 11, "id6", "zei", 43 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_transfer(f.r, 11, "id6", "zei", 44 * SEC), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_invite(f.r, 11, "id6", "zei", 44 * SEC), ROUTE_ERR_CONFLICT);
	EXPECT_NONE(&f);
	route_free(f.r);
}

static void test_invite_three_way(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 1, "hoken", NULL, 0, NULL); /* id1, leg id2 */
	route_accept(f.r, 11, "id1", 2 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_invite(f.r, 11, "id1", "zei", 10 * SEC), 0);
	/* The resident is in conversation: no QUEUED while the interpreter is rung. */
	EXPECT(&f, "rec leg_queued v=id1 leg=id3 d=zei p= k=1/kiosk-a s=0/ r= n= w=0 via=invite",
	       "rec audit v=id1 leg=id3 d=zei p= k=1/kiosk-a s=11/sato r=invited n= w=0",
	       "ringing 12 id1 zei k=1 w=0 p=", "ringing 13 id1 zei k=1 w=0 p=", "queue zei",
	       "departments");
	route_visit_info vi;
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), 0);
	CHECK_EQ_INT(vi.waiting, 1);
	CHECK_EQ_INT(vi.connected, 1);

	CHECK_EQ_INT(route_accept(f.r, 13, "id1", 15 * SEC), 0);
	EXPECT(&f, "ring_cancelled 12 id1 taken", "connected 1 id1 [1,11,13]",
	       "connected 11 id1 [1,11,13]", "connected 13 id1 [1,11,13]",
	       "rec leg_answered v=id1 leg=id3 d=zei p= k=1/kiosk-a s=13/tanaka r= n= w=5000",
	       "media 1 primary=11 extra=[13]", "media 11 primary=1 extra=[13]",
	       "media 13 primary=1 extra=[11]", "queue zei", "departments");

	/* Document: whoever started sharing last feeds the others' document slot. */
	CHECK_EQ_INT(route_share(f.r, 13, 1, 16 * SEC), 0);
	EXPECT(&f, "media 1 primary=11 extra=[13] doc=13", "media 11 primary=1 extra=[13] doc=13");
	CHECK_EQ_INT(route_share(f.r, 13, 1, 16 * SEC), 0);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_share(f.r, 1, 1, 17 * SEC), 0);
	EXPECT(&f, "media 11 primary=1 extra=[13] doc=1", "media 13 primary=1 extra=[11] doc=1");
	CHECK_EQ_INT(route_share(f.r, 1, 0, 18 * SEC), 0);
	EXPECT(&f, "media 11 primary=1 extra=[13] doc=13", "media 13 primary=1 extra=[11]");
	/* A session outside any room may share; nobody receives it. */
	CHECK_EQ_INT(route_share(f.r, 2, 1, 18 * SEC), 0);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_share(f.r, 99, 1, 18 * SEC), ROUTE_ERR_NOT_FOUND);

	/* Control goes to the kiosk only, from a desk in the room. */
	CHECK_EQ_INT(route_control(f.r, 11, "id1", 1, 0.5, -1, 19 * SEC), 0);
	EXPECT(&f, "control 1 id1 from=11 vol=0.50 mic=-1");
	CHECK_EQ_INT(route_control(f.r, 13, "id1", 1, -1.0, 0, 19 * SEC), 0);
	EXPECT(&f, "control 1 id1 from=13 vol=-0.00 mic=0");
	CHECK_EQ_INT(route_control(f.r, 11, "id1", 13, 0.5, -1, 19 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_control(f.r, 12, "id1", 1, 0.5, -1, 19 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_control(f.r, 1, "id1", 1, 0.5, -1, 19 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_control(f.r, 11, "id1", 1, 1.5, -1, 19 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_control(f.r, 11, "id1", 1, -1.0, -1, 19 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_control(f.r, 11, "id9", 1, 0.5, -1, 19 * SEC), ROUTE_ERR_NOT_FOUND);
	EXPECT_NONE(&f);

	/* The first desk ends its leg: the interpreter stays with the resident. */
	CHECK_EQ_INT(route_end(f.r, 11, "id1", "completed", NULL, NULL, 30 * SEC), 0);
	EXPECT(&f, "ended 11 id1 completed",
	       "rec leg_ended v=id1 leg=id2 d=hoken p= k=1/kiosk-a s=11/sato r=completed n= w=0",
	       "connected 1 id1 [1,13]", "connected 13 id1 [1,13]",
	       "media 1 primary=13 extra=[] doc=13", "media 11 primary=0 extra=[]",
	       "media 13 primary=1 extra=[]", "departments");
	CHECK_EQ_INT(route_end(f.r, 13, "id1", "completed", NULL, NULL, 40 * SEC), 0);
	EXPECT(&f, "ended 13 id1 completed", "ended 1 id1 completed",
	       "rec leg_ended v=id1 leg=id3 d=zei p= k=1/kiosk-a s=13/tanaka r=completed n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/kiosk-a s=0/ r=completed n= w=0",
	       "media 1 primary=0 extra=[]", "media 13 primary=0 extra=[]", "departments");
	route_free(f.r);
}

static void test_three_way_drop(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 1, "hoken", NULL, 0, NULL); /* id1, leg id2 */
	route_accept(f.r, 11, "id1", 1 * SEC);
	route_invite(f.r, 11, "id1", "zei", 2 * SEC); /* leg id3 */
	route_accept(f.r, 13, "id1", 3 * SEC);
	drain(&f);
	/* The first desk drops: hoken is rung again, the interpreter stays. */
	CHECK_EQ_INT(route_session_leave(f.r, 11, 5 * SEC), 0);
	EXPECT(&f, "rec leg_ended v=id1 leg=id2 d=hoken p= k=1/kiosk-a s=11/sato r=dropped n= w=0",
	       "rec leg_queued v=id1 leg=id4 d=hoken p= k=1/kiosk-a s=0/ r= n= w=0",
	       "connected 1 id1 [1,13]", "connected 13 id1 [1,13]", "media 1 primary=13 extra=[]",
	       "media 13 primary=1 extra=[]", "ringing 12 id1 hoken k=1 w=0 p=", "queue hoken",
	       "departments");
	/* The kiosk hangs up: the waiting leg is cancelled, the answered one completed. */
	CHECK_EQ_INT(route_hangup(f.r, 1, 6 * SEC), 0);
	EXPECT(&f, "ended 13 id1 completed", "ring_cancelled 12 id1 cancelled",
	       "ended 1 id1 completed",
	       "rec leg_ended v=id1 leg=id3 d=zei p= k=1/kiosk-a s=13/tanaka r=completed n= w=0",
	       "rec leg_ended v=id1 leg=id4 d=hoken p= k=1/kiosk-a s=0/ r=cancelled n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/kiosk-a s=0/ r=completed n= w=0",
	       "media 1 primary=0 extra=[]", "media 13 primary=0 extra=[]", "queue hoken",
	       "departments");
	route_free(f.r);
}

static void test_survey(void)
{
	fixture f;
	setup(&f);
	char visit[ROUTE_UUID_LEN];
	route_call(f.r, 1, "hoken", NULL, 0, visit);
	drain(&f);
	CHECK_EQ_INT(route_survey(f.r, 1, visit, 4, 1 * SEC), ROUTE_ERR_CONFLICT); /* not ended */
	route_hangup(f.r, 1, 2 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_survey(f.r, 1, visit, 0, 3 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_survey(f.r, 1, visit, 6, 3 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_survey(f.r, 1, NULL, 3, 3 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_survey(f.r, 2, visit, 3, 3 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_survey(f.r, 11, visit, 3, 3 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_survey(f.r, 99, visit, 3, 3 * SEC), ROUTE_ERR_NOT_FOUND);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_survey(f.r, 1, visit, 5, 4 * SEC), 0);
	EXPECT(&f, "rec survey v=id1 leg= d= p= k=1/kiosk-a s=0/ r= n= w=0 rating=5");
	CHECK_EQ_INT(route_survey(f.r, 1, visit, 5, 5 * SEC), ROUTE_ERR_CONFLICT);
	EXPECT_NONE(&f);
	/* Only the last few visits may still be rated. */
	for (int i = 0; i < ROUTE_SURVEY_KEEP; i++) {
		route_call(f.r, 1, "hoken", NULL, 10 * SEC, NULL);
		route_hangup(f.r, 1, 10 * SEC);
	}
	drain(&f);
	CHECK_EQ_INT(route_survey(f.r, 1, visit, 5, 11 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_survey(f.r, 1, "id3", 2, 11 * SEC), 0);
	route_free(f.r);
}

int main(void)
{
	test_transfer();
	test_invite_three_way();
	test_three_way_drop();
	test_survey();
	return check_done("route_room");
}
