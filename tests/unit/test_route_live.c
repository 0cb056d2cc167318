/* Unit tests of directory changes while routing runs (issue 11, "changes without restart"):
 * a department retired while a call is answered there (the call goes on, new calls are
 * refused), while a visit waits with or without a desk present, and brought back; one-stop
 * menus replaced and removed while a visit that started from one is under way; a logged-in
 * clerk's departments and flags changed. */
#include "route_fixture.h"

/* Departments a and b; kiosks 1 and 2; desk 21 (a), desk 22 (b). Actions drained. */
static void setup(fixture *f)
{
	fx_init(f);
	CHECK_EQ_INT(route_department_add(f->r, "a", 1), 0);
	CHECK_EQ_INT(route_department_add(f->r, "b", 1), 0);
	join_kiosk(f, 1, "k1");
	join_kiosk(f, 2, "k2");
	join_staff(f, 21, "s21", 1, 0, "a", NULL);
	join_staff(f, 22, "s22", 1, 0, "b", NULL);
	drain(f);
}

static int dept_open(fixture *f, const char *id, int *retired)
{
	route_department_info info;
	CHECK_EQ_INT(route_department_get(f->r, id, &info), 0);
	if (retired)
		*retired = info.retired;
	return info.open;
}

/* An answered call in a department that disappears from the directory goes on; nobody new
 * gets in; the call ends normally. */
static void test_retire_during_call(void)
{
	fixture f;
	setup(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, SEC, visit), 0);
	CHECK_EQ_INT(route_accept(f.r, 21, visit, 2 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_department_retire(f.r, "a", 3 * SEC), 0);
	/* Only the availability announcement: no ENDED, no MEDIA change, no record. */
	EXPECT(&f, "departments");
	int retired = 0;
	CHECK_EQ_INT(dept_open(&f, "a", &retired), 0);
	CHECK_EQ_INT(retired, 1);
	CHECK(route_session_visit(f.r, 1) != NULL);
	CHECK_EQ_STR(route_session_department(f.r, 21), "a");
	CHECK_EQ_INT(route_call(f.r, 2, "a", NULL, 4 * SEC, NULL), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_transfer(f.r, 21, visit, "a", 4 * SEC), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_department_retire(f.r, "a", 4 * SEC), 0); /* twice: no-op */
	CHECK_EQ_INT(route_department_retire(f.r, "zz", 4 * SEC), ROUTE_ERR_NOT_FOUND);
	/* Opening by hand does not bring a retired department back. */
	CHECK_EQ_INT(route_department_set_open(f.r, "a", 1, 4 * SEC), 0);
	CHECK_EQ_INT(dept_open(&f, "a", NULL), 0);
	drain(&f);
	CHECK_EQ_INT(route_end(f.r, 21, visit, "completed", NULL, NULL, 5 * SEC), 0);
	drain(&f);
	int ended = 0;
	for (int i = 0; i < f.n; i++)
		if (f.acts[i].kind == ROUTE_ACT_ENDED && f.acts[i].to == 1)
			ended = strcmp(f.acts[i].ended.reason, "completed") == 0;
	CHECK(ended);
	CHECK(route_session_visit(f.r, 1) == NULL);
	route_free(f.r);
}

/* A waiting visit of a retired department nobody can answer ends "closed"; one that a
 * present desk may still answer stays queued and is answered. */
static void test_retire_waiting(void)
{
	fixture f;
	setup(&f);
	/* b: its only desk goes away, so nobody can answer: the wait ends at once. */
	CHECK_EQ_INT(route_presence(f.r, 22, 0, SEC), 0);
	char v1[ROUTE_UUID_LEN], v2[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "b", NULL, SEC, v1), 0);
	drain(&f);
	CHECK_EQ_INT(route_department_retire(f.r, "b", 2 * SEC), 0);
	drain(&f);
	int closed = 0;
	for (int i = 0; i < f.n; i++)
		if (f.acts[i].kind == ROUTE_ACT_ENDED && f.acts[i].to == 1)
			closed = strcmp(f.acts[i].ended.reason, "closed") == 0;
	CHECK(closed);
	CHECK(route_session_visit(f.r, 1) == NULL);

	/* a: its desk is busy with kiosk 1 but present, so kiosk 2's wait goes on. */
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, 3 * SEC, v1), 0);
	CHECK_EQ_INT(route_accept(f.r, 21, v1, 3 * SEC), 0);
	CHECK_EQ_INT(route_call(f.r, 2, "a", NULL, 4 * SEC, v2), 0);
	drain(&f);
	CHECK_EQ_INT(route_department_retire(f.r, "a", 5 * SEC), 0);
	drain(&f);
	for (int i = 0; i < f.n; i++)
		CHECK(f.acts[i].kind != ROUTE_ACT_ENDED);
	route_visit_info vi;
	CHECK_EQ_INT(route_visit_get(f.r, v2, &vi), 0);
	CHECK_EQ_INT(vi.waiting, 1);
	CHECK_EQ_INT(route_end(f.r, 21, v1, "completed", NULL, NULL, 6 * SEC), 0);
	drain(&f);
	int rang = 0;
	for (int i = 0; i < f.n; i++)
		rang |= f.acts[i].kind == ROUTE_ACT_RINGING && f.acts[i].to == 21 &&
		        strcmp(f.acts[i].ringing.visit, v2) == 0;
	CHECK(rang);
	CHECK_EQ_INT(route_accept(f.r, 21, v2, 7 * SEC), 0);
	route_free(f.r);
}

/* A department that comes back into the directory is the same object, open again. */
static void test_retire_and_return(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_department_retire(f.r, "a", SEC), 0);
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, SEC, NULL), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_department_add(f.r, "a", 1), 0);
	CHECK_EQ_INT(route_department_add(f.r, "a", 1), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_department_set_open(f.r, "a", 1, 2 * SEC), 0);
	int retired = 1;
	CHECK_EQ_INT(dept_open(&f, "a", &retired), 1);
	CHECK_EQ_INT(retired, 0);
	CHECK_EQ_INT(route_department_count(f.r), 2);
	drain(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, 3 * SEC, visit), 0);
	CHECK_EQ_INT(route_accept(f.r, 21, visit, 3 * SEC), 0);
	/* Back closed: added with open 0 stays closed. */
	CHECK_EQ_INT(route_department_retire(f.r, "b", 4 * SEC), 0);
	CHECK_EQ_INT(route_department_add(f.r, "b", 0), 0);
	CHECK_EQ_INT(route_department_set_open(f.r, "b", 0, 4 * SEC), 0);
	CHECK_EQ_INT(dept_open(&f, "b", NULL), 0);
	route_free(f.r);
}

static int steps_of(fixture *f, const char *visit, char *out, size_t cap)
{
	route_visit_view w;
	int rc = route_visit_view_get(f->r, visit, &w);
	if (rc == 0)
		steps_str(out, cap, &w);
	return rc;
}

/* Replacing a menu changes the next visits, not the one under way; removing it refuses new
 * calls for it; a menu step in a retired department is skipped. */
static void test_menu_replace_remove(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_department_add(f.r, "c", 1), 0);
	const char *ab[2] = {"a", "b"}, *ba[2] = {"b", "a"}, *bad[2] = {"a", "nope"};
	const char *ca[2] = {"c", "a"};
	CHECK_EQ_INT(route_onestop_menu_add(f.r, "m", ab, 2), 0);
	char v1[ROUTE_UUID_LEN], v2[ROUTE_UUID_LEN], steps[512];
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "m", SEC, v1), 0);
	drain(&f);
	CHECK_EQ_INT(route_onestop_menu_replace(f.r, "m", ba, 2), 0);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(steps_of(&f, v1, steps, sizeof steps), 0);
	CHECK_EQ_STR(steps, "a:queued:0,b:pending:0");
	CHECK_EQ_INT(route_call_onestop(f.r, 2, "m", 2 * SEC, v2), 0);
	CHECK_EQ_INT(steps_of(&f, v2, steps, sizeof steps), 0);
	CHECK_EQ_STR(steps, "b:queued:0,a:pending:0");
	drain(&f);

	/* A bad replacement leaves the menu as it was. */
	CHECK_EQ_INT(route_onestop_menu_replace(f.r, "m", bad, 2), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_onestop_menu_replace(f.r, "m", ab, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_onestop_menu_replace(f.r, "", ab, 2), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_onestop_menu_replace(f.r, NULL, ab, 2), ROUTE_ERR_BAD_REQUEST);
	/* Replacing one that does not exist adds it. */
	CHECK_EQ_INT(route_onestop_menu_replace(f.r, "n", ca, 2), 0);
	CHECK_EQ_INT(route_onestop_menu_add(f.r, "n", ca, 2), ROUTE_ERR_CONFLICT);

	CHECK_EQ_INT(route_hangup(f.r, 1, 3 * SEC), 0);
	CHECK_EQ_INT(route_hangup(f.r, 2, 3 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_call_onestop(f.r, 1, "m", 4 * SEC, v1), 0);
	CHECK_EQ_INT(steps_of(&f, v1, steps, sizeof steps), 0);
	CHECK_EQ_STR(steps, "b:queued:0,a:pending:0");

	/* Removal: visits under way go on; new calls for it are not_found. */
	CHECK_EQ_INT(route_onestop_menu_remove(f.r, "m"), 0);
	CHECK_EQ_INT(route_onestop_menu_remove(f.r, "m"), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_onestop_menu_remove(f.r, ""), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_visit_get(f.r, v1, &(route_visit_info){0}), 0);
	CHECK_EQ_INT(route_call_onestop(f.r, 2, "m", 5 * SEC, NULL), ROUTE_ERR_NOT_FOUND);

	/* Menu n starts in c; c retired, so a call skips it and queues a. */
	CHECK_EQ_INT(route_department_retire(f.r, "c", 6 * SEC), 0);
	CHECK_EQ_INT(route_call_onestop(f.r, 2, "n", 6 * SEC, v2), 0);
	CHECK_EQ_INT(steps_of(&f, v2, steps, sizeof steps), 0);
	CHECK_EQ_STR(steps, "c:skipped:0,a:queued:0");
	route_free(f.r);
}

static int rings_for(fixture *f, uint32_t desk, const char *visit)
{
	int n = 0;
	for (int i = 0; i < f->n; i++)
		n += f->acts[i].kind == ROUTE_ACT_RINGING && f->acts[i].to == desk &&
		     strcmp(f->acts[i].ringing.visit, visit) == 0;
	return n;
}

static int cancels_for(fixture *f, uint32_t desk, const char *visit)
{
	int n = 0;
	for (int i = 0; i < f->n; i++)
		n += f->acts[i].kind == ROUTE_ACT_RING_CANCELLED && f->acts[i].to == desk &&
		     strcmp(f->acts[i].ring_cancelled.visit, visit) == 0;
	return n;
}

/* A clerk's departments change while logged in: rings follow at once; the call in progress
 * stays; flags change what it may do. */
static void test_staff_changes(void)
{
	fixture f;
	setup(&f);
	char v1[ROUTE_UUID_LEN], v2[ROUTE_UUID_LEN];
	/* Kiosk 2 waits in b; desk 21 (a) joins b: it rings at once, and gets b's queue. */
	CHECK_EQ_INT(route_presence(f.r, 22, 0, SEC), 0);
	CHECK_EQ_INT(route_call(f.r, 2, "b", NULL, SEC, v2), 0);
	drain(&f);
	const char *ab[2] = {"a", "b"}, *a_only[1] = {"a"};
	CHECK_EQ_INT(route_session_set_staff(f.r, 21, ab, 2, 0, 2 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(rings_for(&f, 21, v2), 1);
	int queue_b = 0;
	for (int i = 0; i < f.n; i++)
		queue_b |=
		    f.acts[i].kind == ROUTE_ACT_QUEUE && !strcmp(f.acts[i].queue.department, "b");
	CHECK(queue_b);
	uint32_t staff[4];
	CHECK_EQ_INT(route_department_staff(f.r, "b", staff, 4), 2);
	/* ... and leaves b again: the ring is cancelled. */
	CHECK_EQ_INT(route_session_set_staff(f.r, 21, a_only, 1, 0, 3 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(cancels_for(&f, 21, v2), 1);
	CHECK_EQ_INT(route_department_staff(f.r, "b", staff, 4), 1);

	/* In a call in a, the clerk loses a: the call goes on, and ends normally. */
	CHECK_EQ_INT(route_call(f.r, 1, "a", NULL, 4 * SEC, v1), 0);
	CHECK_EQ_INT(route_accept(f.r, 21, v1, 4 * SEC), 0);
	drain(&f);
	const char *b_only[1] = {"b"};
	CHECK_EQ_INT(route_session_set_staff(f.r, 21, b_only, 1, 0, 5 * SEC), 0);
	drain(&f);
	for (int i = 0; i < f.n; i++)
		CHECK(f.acts[i].kind != ROUTE_ACT_ENDED && f.acts[i].kind != ROUTE_ACT_MEDIA);
	CHECK_EQ_STR(route_session_department(f.r, 21), "a");
	CHECK_EQ_INT(route_end(f.r, 21, v1, "completed", NULL, NULL, 6 * SEC), 0);
	drain(&f);
	/* Free again, now a desk of b: kiosk 2's visit rings it. */
	CHECK_EQ_INT(rings_for(&f, 21, v2), 1);

	/* Flags: a coordinator that loses the flag stops watching and may not watch again. */
	join_staff_flags(&f, 30, "coord", 1, 7 * SEC, NULL, NULL, ROUTE_FLAG_COORDINATOR);
	CHECK_EQ_INT(route_watch(f.r, 30, 7 * SEC), 0);
	CHECK_EQ_INT(route_session_set_staff(f.r, 30, NULL, 0, 0, 8 * SEC), 0);
	CHECK_EQ_INT(route_watch(f.r, 30, 8 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_session_set_staff(f.r, 30, NULL, 0, ROUTE_FLAG_COORDINATOR, 8 * SEC), 0);
	CHECK_EQ_INT(route_watch(f.r, 30, 8 * SEC), 0);

	/* Errors change nothing. */
	drain(&f);
	const char *bad[1] = {""};
	CHECK_EQ_INT(route_session_set_staff(f.r, 1, ab, 2, 0, 9 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_session_set_staff(f.r, 99, ab, 2, 0, 9 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_session_set_staff(f.r, 21, bad, 1, 0, 9 * SEC), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_session_set_staff(f.r, 21, ab, ROUTE_MAX_STAFF_DEPTS + 1, 0, 9 * SEC),
	             ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_session_set_staff(f.r, 21, NULL, 1, 0, 9 * SEC), ROUTE_ERR_BAD_REQUEST);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_department_staff(f.r, "b", staff, 4), 2); /* 21 and 22, as before */
	route_free(f.r);
}

int main(void)
{
	test_staff_changes();
	test_retire_during_call();
	test_retire_waiting();
	test_retire_and_return();
	test_menu_replace_remove();
	return check_done("route_live");
}
