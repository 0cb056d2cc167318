/* Unit tests of guests (interpreters) in routing: who may invite, a guest entering a room
 * (wiring: the kiosk and the desk get it in a slot, it gets the kiosk as primary and the
 * desk in a slot), its records (guest_joined / guest_left), hangup, leaving by going away,
 * the visit ending while a guest is in it, and the error paths. */
#include "route_fixture.h"

static void setup(fixture *f)
{
	fx_init(f);
	route_department_add(f->r, "hoken", 1);
	join_kiosk(f, 1, "kiosk-a");
	join_staff(f, 11, "sato", 1, 0, "hoken", NULL);
	join_staff(f, 12, "suzuki", 1, 0, "hoken", NULL);
	route_call(f->r, 1, "hoken", NULL, 0, NULL); /* visit id1, leg id2 */
	route_accept(f->r, 11, "id1", 1 * SEC);
	drain(f);
}

static void join_guest(fixture *f, uint32_t sid)
{
	route_session_info info = {.role = ROUTE_ROLE_GUEST, .ident = ""};
	CHECK_EQ_INT(route_session_join(f->r, sid, &info, 2 * SEC), 0);
	drain(f);
}

/* The last MEDIA action to sid among the drained ones, or NULL. */
static const route_act_media *media_to(const fixture *f, uint32_t sid)
{
	const route_act_media *m = NULL;
	for (int i = 0; i < f->n; i++)
		if (f->acts[i].kind == ROUTE_ACT_MEDIA && f->acts[i].to == sid)
			m = &f->acts[i].media;
	return m;
}

static const route_act_record *record(const fixture *f, enum route_record_kind k)
{
	for (int i = 0; i < f->n; i++)
		if (f->acts[i].kind == ROUTE_ACT_RECORD && f->acts[i].record.kind == k)
			return &f->acts[i].record;
	return NULL;
}

static int ended_to(const fixture *f, uint32_t sid)
{
	for (int i = 0; i < f->n; i++)
		if (f->acts[i].kind == ROUTE_ACT_ENDED && f->acts[i].to == sid)
			return 1;
	return 0;
}

static void test_may_invite(void)
{
	fixture f;
	setup(&f);
	CHECK_EQ_INT(route_guest_may_invite(f.r, 11, "id1"), 0);
	CHECK_EQ_INT(route_guest_may_invite(f.r, 12, "id1"), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_guest_may_invite(f.r, 1, "id1"), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_guest_may_invite(f.r, 11, "nope"), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_guest_may_invite(f.r, 99, "id1"), ROUTE_ERR_NOT_FOUND);
	route_free(f.r);
}

static void test_enter_wiring_and_hangup(void)
{
	fixture f;
	setup(&f);
	join_guest(&f, 50);
	CHECK_EQ_INT(route_guest_enter(f.r, 11, "id1", 3 * SEC), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_guest_enter(f.r, 50, "nope", 3 * SEC), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_guest_leave(f.r, 50, 3 * SEC), ROUTE_ERR_CONFLICT);
	drain(&f);
	CHECK_EQ_INT(route_guest_enter(f.r, 50, "id1", 3 * SEC), 0);
	drain(&f);
	const route_act_record *rec = record(&f, ROUTE_REC_GUEST_JOINED);
	CHECK(rec != NULL);
	if (rec) {
		CHECK_EQ_STR(rec->visit, "id1");
		CHECK_EQ_STR(rec->department, "hoken");
		CHECK(rec->leg[0] != '\0');
	}
	const route_act_media *mk = media_to(&f, 1), *md = media_to(&f, 11), *mg = media_to(&f, 50);
	CHECK(mk && md && mg);
	if (mk && md && mg) {
		CHECK_EQ_INT((int)mk->primary, 11); /* the kiosk: clerk primary, guest in a slot */
		CHECK_EQ_INT(mk->n_extra, 1);
		CHECK_EQ_INT((int)mk->extra[0], 50);
		CHECK_EQ_INT((int)md->primary, 1); /* the desk: kiosk primary, guest in a slot */
		CHECK_EQ_INT(md->n_extra, 1);
		CHECK_EQ_INT((int)md->extra[0], 50);
		CHECK_EQ_INT((int)mg->primary, 1); /* the guest: kiosk primary, desk in a slot */
		CHECK_EQ_INT(mg->n_extra, 1);
		CHECK_EQ_INT((int)mg->extra[0], 11);
	}
	route_visit_info vi;
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), 0);
	CHECK_EQ_INT(vi.n_parties, 3);
	CHECK_EQ_INT((int)vi.parties[2], 50);
	CHECK_EQ_INT(route_guest_enter(f.r, 50, "id1", 4 * SEC), ROUTE_ERR_CONFLICT);
	drain(&f);

	CHECK_EQ_INT(route_guest_leave(f.r, 50, 5 * SEC), 0);
	drain(&f);
	rec = record(&f, ROUTE_REC_GUEST_LEFT);
	CHECK(rec != NULL);
	if (rec)
		CHECK_EQ_STR(rec->reason, "left");
	mk = media_to(&f, 1);
	CHECK(mk && mk->n_extra == 0);
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), 0);
	CHECK_EQ_INT(vi.n_parties, 2);
	/* The visit went on without it. */
	CHECK_EQ_STR(route_session_visit(f.r, 1), "id1");
	route_free(f.r);
}

static void test_visit_end_ends_guest(void)
{
	fixture f;
	setup(&f);
	join_guest(&f, 50);
	CHECK_EQ_INT(route_guest_enter(f.r, 50, "id1", 3 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_end(f.r, 11, "id1", "completed", NULL, NULL, 9 * SEC), 0);
	drain(&f);
	CHECK(ended_to(&f, 50));
	const route_act_record *rec = record(&f, ROUTE_REC_GUEST_LEFT);
	CHECK(rec != NULL);
	if (rec)
		CHECK_EQ_STR(rec->reason, "completed");
	route_visit_info vi;
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_guest_leave(f.r, 50, 10 * SEC), ROUTE_ERR_CONFLICT);
	route_free(f.r);
}

static void test_guest_goes_away(void)
{
	fixture f;
	setup(&f);
	join_guest(&f, 50);
	CHECK_EQ_INT(route_guest_enter(f.r, 50, "id1", 3 * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_session_leave(f.r, 50, 4 * SEC), 0);
	drain(&f);
	CHECK(record(&f, ROUTE_REC_GUEST_LEFT) != NULL);
	route_visit_info vi;
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), 0);
	CHECK_EQ_INT(vi.n_parties, 2);
	route_free(f.r);
}

int main(void)
{
	test_may_invite();
	test_enter_wiring_and_hangup();
	test_visit_end_ends_guest();
	test_guest_goes_away();
	return check_done("route_guest");
}
