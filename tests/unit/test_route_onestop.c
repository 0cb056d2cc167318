/* Unit tests of one-stop visits and coordinators, with the exact actions: an itinerary
 * that advances when each desk ends its leg, closed departments skipped, a coordinator
 * who watches, joins the room, stays while departments come and go, patches the resident
 * to another department, rewrites the itinerary and finishes the visit; and the error
 * paths. */
#include "route_fixture.h"

/* Departments a, b, c (open) and x (closed); menus okuyami (a, b, c), gap (a, x, b) and
 * shut (x); kiosk 1; desks 21 (a), 22 (b), 23 (c); coordinator 30; plain desk 31 (a, away).
 * Actions drained. */
static void setup(fixture *f)
{
	fx_init(f);
	route_department_add(f->r, "a", 1);
	route_department_add(f->r, "b", 1);
	route_department_add(f->r, "c", 1);
	route_department_add(f->r, "x", 0);
	const char *okuyami[3] = {"a", "b", "c"}, *gap[3] = {"a", "x", "b"}, *shut[1] = {"x"};
	CHECK_EQ_INT(route_onestop_menu_add(f->r, "okuyami", okuyami, 3), 0);
	CHECK_EQ_INT(route_onestop_menu_add(f->r, "gap", gap, 3), 0);
	CHECK_EQ_INT(route_onestop_menu_add(f->r, "shut", shut, 1), 0);
	join_kiosk(f, 1, "k1");
	join_staff(f, 21, "s21", 1, 0, "a", NULL);
	join_staff(f, 22, "s22", 1, 0, "b", NULL);
	join_staff(f, 23, "s23", 1, 0, "c", NULL);
	join_staff_flags(f, 30, "coord", 1, 0, NULL, NULL, ROUTE_FLAG_COORDINATOR);
	join_staff(f, 31, "s31", 0, 0, "a", NULL);
	drain(f);
}

static void test_menu_errors(void)
{
	fixture f;
	setup(&f);
	const char *bad[1] = {"nope"}, *ok[1] = {"a"};
	CHECK_EQ_INT(route_onestop_menu_add(f.r, "m", bad, 1), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_onestop_menu_add(f.r, "okuyami", ok, 1), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_onestop_menu_add(f.r, "m", ok, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_onestop_menu_add(f.r, "", ok, 1), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "nope", 0, NULL), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "shut", 0, NULL), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_call_onestop(f.r, 21, "okuyami", 0, NULL), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_call_onestop(f.r, 1, NULL, 0, NULL), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_watch(f.r, 21, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_watch(f.r, 1, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_watch(f.r, 99, 0), ROUTE_ERR_NOT_FOUND);
	EXPECT_NONE(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "okuyami", 0, visit), 0);
	drain(&f);
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "okuyami", 0, NULL), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_patch(f.r, 21, visit, NULL, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_room_join(f.r, 21, visit, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_finish(f.r, 21, visit, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_onestop_set(f.r, 21, visit, ok, 1, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_room_leave(f.r, 30, visit, 0), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_room_join(f.r, 30, "id99", 0), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_patch(f.r, 30, visit, "x", 0), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_patch(f.r, 30, visit, "nope", 0), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_onestop_set(f.r, 30, visit, bad, 1, 0), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_onestop_set(f.r, 30, visit, NULL, 1, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_finish(f.r, 30, NULL, 0), ROUTE_ERR_BAD_REQUEST);
	EXPECT_NONE(&f);
	route_free(f.r);
}

static void test_itinerary_advances(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_watch(f.r, 30, 0), 0);
	CHECK_EQ_INT(route_watch_list(f.r, NULL, 0), 0);
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "gap", 1 * SEC, NULL), 0); /* id1, leg id2 */
	EXPECT(&f, "rec visit_started v=id1 leg= d=a p= k=1/k1 s=0/ r= n= w=0 menu=gap",
	       "rec leg_queued v=id1 leg=id2 d=a p= k=1/k1 s=0/ r= n= w=0",
	       "ringing 21 id1 a k=1 w=0 p= onestop", "queued 1 id1 a pos=1 est=60", "queue a",
	       "visit 30 id1 [a:queued:0,x:pending:0,b:pending:0] c=[]", "departments");
	route_visit_view w[2];
	CHECK_EQ_INT(route_watch_list(f.r, w, 2), 1);
	CHECK_EQ_STR(w[0].menu, "gap");
	CHECK_EQ_INT(w[0].onestop, 1);

	route_accept(f.r, 21, "id1", 2 * SEC);
	drain(&f);
	/* The desk ends its leg: x is closed and skipped, b is rung at once. */
	CHECK_EQ_INT(route_end(f.r, 21, "id1", "completed", NULL, "ok", 10 * SEC), 0);
	EXPECT(&f, "ended 21 id1 completed",
	       "rec leg_ended v=id1 leg=id2 d=a p= k=1/k1 s=21/s21 r=completed n=ok w=0",
	       "rec leg_queued v=id1 leg=id3 d=b p= k=1/k1 s=0/ r= n= w=0 via=onestop",
	       "media 1 primary=0 extra=[]", "media 21 primary=0 extra=[]",
	       "ringing 22 id1 b k=1 w=0 p= onestop", "queued 1 id1 b pos=1 est=60", "queue b",
	       "visit 30 id1 [a:done:21,x:skipped:0,b:queued:0] c=[]", "departments");
	route_accept(f.r, 22, "id1", 12 * SEC);
	drain(&f);
	/* The last department ends its leg: the visit ends. */
	CHECK_EQ_INT(route_end(f.r, 22, "id1", "referred", NULL, NULL, 20 * SEC), 0);
	EXPECT(&f, "ended 22 id1 completed", "ended 1 id1 completed",
	       "rec leg_ended v=id1 leg=id3 d=b p= k=1/k1 s=22/s22 r=referred n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/k1 s=0/ r=completed n= w=0",
	       "visit 30 id1 [a:done:21,x:skipped:0,b:done:22] c=[] ended=completed",
	       "media 1 primary=0 extra=[]", "media 22 primary=0 extra=[]", "departments");
	CHECK_EQ_INT(route_watch_list(f.r, NULL, 0), 0);
	route_free(f.r);
}

static void test_coordinator(void)
{
	fixture f;
	setup(&f);
	route_watch(f.r, 30, 0);
	route_call_onestop(f.r, 1, "okuyami", 0, NULL); /* id1, leg id2 */
	route_accept(f.r, 21, "id1", 1 * SEC);
	route_end(f.r, 21, "id1", "completed", NULL, NULL, 2 * SEC); /* b queued, leg id3 */
	drain(&f);

	/* The coordinator joins while the resident waits for b: they talk meanwhile. */
	CHECK_EQ_INT(route_room_join(f.r, 30, "id1", 3 * SEC), 0);
	EXPECT(&f, "connected 1 id1 [1,30]", "connected 30 id1 [1,30]",
	       "rec audit v=id1 leg= d= p= k=1/k1 s=30/coord r=joined n= w=0",
	       "media 1 primary=30 extra=[]", "media 30 primary=1 extra=[]",
	       "visit 30 id1 [a:done:21,b:queued:0,c:pending:0] c=[30]");
	CHECK_EQ_STR(route_session_visit(f.r, 30), "id1");
	CHECK_EQ_INT(route_room_join(f.r, 30, "id1", 3 * SEC), ROUTE_ERR_CONFLICT);

	CHECK_EQ_INT(route_accept(f.r, 22, "id1", 4 * SEC), 0);
	EXPECT(&f, "connected 1 id1 [1,22,30]", "connected 22 id1 [1,22,30]",
	       "connected 30 id1 [1,22,30]",
	       "rec leg_answered v=id1 leg=id3 d=b p= k=1/k1 s=22/s22 r= n= w=2000",
	       "media 1 primary=22 extra=[30]", "media 22 primary=1 extra=[30]",
	       "media 30 primary=1 extra=[22]", "queue b",
	       "visit 30 id1 [a:done:21,b:active:22,c:pending:0] c=[30]", "departments");

	/* Patch to a department not on the itinerary: b leaves, a is rung ahead of c. */
	CHECK_EQ_INT(route_patch(f.r, 30, "id1", "a", 5 * SEC), 0);
	EXPECT(&f, "ended 22 id1 completed",
	       "rec leg_ended v=id1 leg=id3 d=b p= k=1/k1 s=22/s22 r=patched n= w=0",
	       "rec leg_queued v=id1 leg=id4 d=a p= k=1/k1 s=0/ r= n= w=0 via=patch",
	       "rec audit v=id1 leg=id4 d=a p= k=1/k1 s=30/coord r=patched n= w=0",
	       "connected 1 id1 [1,30]", "connected 30 id1 [1,30]", "media 1 primary=30 extra=[]",
	       "media 22 primary=0 extra=[]", "media 30 primary=1 extra=[]",
	       "ringing 21 id1 a k=1 w=0 p= onestop", "queue a",
	       "visit 30 id1 [a:done:21,b:done:22,a:queued:0,c:pending:0] c=[30]", "departments");

	/* Rewrite the rest: c is replaced by b. */
	const char *rest[1] = {"b"};
	CHECK_EQ_INT(route_onestop_set(f.r, 30, "id1", rest, 1, 6 * SEC), 0);
	EXPECT(&f, "rec audit v=id1 leg= d= p= k=1/k1 s=30/coord r=itinerary n= w=0",
	       "visit 30 id1 [a:done:21,b:done:22,a:queued:0,b:pending:0] c=[30]");

	route_accept(f.r, 21, "id1", 7 * SEC);
	drain(&f);
	/* a ends; b is next; the coordinator stays in the room throughout. */
	CHECK_EQ_INT(route_end(f.r, 21, "id1", "completed", NULL, NULL, 8 * SEC), 0);
	EXPECT(&f, "ended 21 id1 completed",
	       "rec leg_ended v=id1 leg=id4 d=a p= k=1/k1 s=21/s21 r=completed n= w=0",
	       "rec leg_queued v=id1 leg=id5 d=b p= k=1/k1 s=0/ r= n= w=0 via=onestop",
	       "connected 1 id1 [1,30]", "connected 30 id1 [1,30]", "media 1 primary=30 extra=[]",
	       "media 21 primary=0 extra=[]", "media 30 primary=1 extra=[]",
	       "ringing 22 id1 b k=1 w=0 p= onestop", "queue b",
	       "visit 30 id1 [a:done:21,b:done:22,a:done:21,b:queued:0] c=[30]", "departments");
	route_accept(f.r, 22, "id1", 9 * SEC);
	drain(&f);
	/* The last department ends, but the coordinator is in the room: the visit lasts. */
	CHECK_EQ_INT(route_end(f.r, 22, "id1", "completed", NULL, NULL, 10 * SEC), 0);
	EXPECT(&f, "ended 22 id1 completed",
	       "rec leg_ended v=id1 leg=id5 d=b p= k=1/k1 s=22/s22 r=completed n= w=0",
	       "connected 1 id1 [1,30]", "connected 30 id1 [1,30]", "media 1 primary=30 extra=[]",
	       "media 22 primary=0 extra=[]", "media 30 primary=1 extra=[]",
	       "visit 30 id1 [a:done:21,b:done:22,a:done:21,b:done:22] c=[30]", "departments");
	/* Nothing pending: patch without a department has nowhere to go. */
	CHECK_EQ_INT(route_patch(f.r, 30, "id1", NULL, 11 * SEC), ROUTE_ERR_CONFLICT);
	EXPECT_NONE(&f);
	const char *more[1] = {"c"};
	route_onestop_set(f.r, 30, "id1", more, 1, 11 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_patch(f.r, 30, "id1", NULL, 12 * SEC), 0);
	EXPECT(&f, "rec leg_queued v=id1 leg=id6 d=c p= k=1/k1 s=0/ r= n= w=0 via=patch",
	       "rec audit v=id1 leg=id6 d=c p= k=1/k1 s=30/coord r=patched n= w=0",
	       "ringing 23 id1 c k=1 w=0 p= onestop", "queue c",
	       "visit 30 id1 [a:done:21,b:done:22,a:done:21,b:done:22,c:queued:0] c=[30]",
	       "departments");

	/* Finish ends everything. */
	CHECK_EQ_INT(route_finish(f.r, 30, "id1", 13 * SEC), 0);
	EXPECT(&f, "rec audit v=id1 leg= d= p= k=1/k1 s=30/coord r=finished n= w=0",
	       "ring_cancelled 23 id1 cancelled", "ended 30 id1 completed", "ended 1 id1 completed",
	       "rec leg_ended v=id1 leg=id6 d=c p= k=1/k1 s=0/ r=cancelled n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/k1 s=0/ r=completed n= w=0",
	       "visit 30 id1 [a:done:21,b:done:22,a:done:21,b:done:22,c:skipped:0] c=[] "
	       "ended=completed",
	       "media 1 primary=0 extra=[]", "media 30 primary=0 extra=[]", "queue c",
	       "departments");
	CHECK(route_session_visit(f.r, 30) == NULL);
	CHECK_EQ_INT(route_finish(f.r, 30, "id1", 14 * SEC), ROUTE_ERR_NOT_FOUND);
	route_free(f.r);
}

static void test_coordinator_leaves(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 1, "a", NULL, 0, NULL); /* a plain visit: id1, leg id2 */
	route_accept(f.r, 21, "id1", 1 * SEC);
	CHECK_EQ_INT(route_room_join(f.r, 30, "id1", 2 * SEC), 0);
	drain(&f);
	/* The desk ends: the coordinator keeps the visit open with the resident. */
	CHECK_EQ_INT(route_end(f.r, 21, "id1", "completed", NULL, NULL, 3 * SEC), 0);
	EXPECT(&f, "ended 21 id1 completed",
	       "rec leg_ended v=id1 leg=id2 d=a p= k=1/k1 s=21/s21 r=completed n= w=0",
	       "connected 1 id1 [1,30]", "connected 30 id1 [1,30]", "media 1 primary=30 extra=[]",
	       "media 21 primary=0 extra=[]", "media 30 primary=1 extra=[]", "departments");
	/* The coordinator leaves: nothing is left, the visit ends. */
	CHECK_EQ_INT(route_room_leave(f.r, 30, "id1", 4 * SEC), 0);
	EXPECT(&f, "rec audit v=id1 leg= d= p= k=1/k1 s=30/coord r=left n= w=0",
	       "ended 1 id1 completed",
	       "rec visit_ended v=id1 leg= d= p= k=1/k1 s=0/ r=completed n= w=0",
	       "media 1 primary=0 extra=[]", "media 30 primary=0 extra=[]");
	/* A coordinator in a room who disconnects leaves it the same way. */
	route_call(f.r, 1, "a", NULL, 5 * SEC, NULL); /* id3, leg id4 */
	route_room_join(f.r, 30, "id3", 6 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_session_leave(f.r, 30, 7 * SEC), 0);
	EXPECT(&f, "media 1 primary=0 extra=[]", "queued 1 id3 a pos=1 est=1");
	route_free(f.r);
}

int main(void)
{
	test_menu_errors();
	test_itinerary_advances();
	test_coordinator();
	test_coordinator_leaves();
	return check_done("route_onestop");
}
