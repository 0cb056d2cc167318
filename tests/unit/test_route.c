/* Unit tests of the routing state machine: each transition of the 1:1 slice with the exact
 * actions it emits, the error paths (which must emit nothing), and a randomized run of many
 * event sequences checking the invariants (privacy of media, one queue per visit, one
 * visit per desk, every leg ends) after every step. */
#include "route_fixture.h"

/* ---- transitions ---- */

/* Departments hoken and zei (open) and kaikei (closed); kiosks 1 and 2; desks 11 (hoken),
 * 12 (hoken and zei), 13 (zei), all available; 14 (hoken) away. Actions drained. */
static void setup(fixture *f)
{
	fx_init(f);
	CHECK_EQ_INT(route_department_add(f->r, "hoken", 1), 0);
	CHECK_EQ_INT(route_department_add(f->r, "zei", 1), 0);
	CHECK_EQ_INT(route_department_add(f->r, "kaikei", 0), 0);
	join_kiosk(f, 1, "kiosk-a");
	join_kiosk(f, 2, "kiosk-b");
	EXPECT_NONE(f);
	join_staff(f, 11, "sato", 1, 0, "hoken", NULL);
	EXPECT(f, "departments");
	join_staff(f, 12, "suzuki", 1, 0, "hoken", "zei");
	join_staff(f, 13, "tanaka", 1, 0, "zei", NULL);
	join_staff(f, 14, "ito", 0, 0, "hoken", NULL);
	drain(f);
}

static void test_call_accept_end(void)
{
	fixture f;
	setup(&f);
	char visit[ROUTE_UUID_LEN] = "";
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", "p1", 1 * SEC, visit), 0);
	CHECK_EQ_STR(visit, "id1");
	EXPECT(&f, "rec visit_started v=id1 leg= d=hoken p=p1 k=1/kiosk-a s=0/ r= n= w=0",
	       "rec leg_queued v=id1 leg=id2 d=hoken p=p1 k=1/kiosk-a s=0/ r= n= w=0",
	       "ringing 11 id1 hoken k=1 w=0 p=p1", "ringing 12 id1 hoken k=1 w=0 p=p1",
	       "queued 1 id1 hoken pos=1 est=60", "queue hoken", "departments");
	CHECK_EQ_STR(route_session_visit(f.r, 1), "id1");

	route_department_info di;
	CHECK_EQ_INT(route_department_get(f.r, "hoken", &di), 0);
	CHECK_EQ_INT(di.available, 2);
	CHECK_EQ_INT(di.queued, 1);
	CHECK_EQ_INT(di.open, 1);
	route_queue_entry q[4];
	CHECK_EQ_INT(route_queue_list(f.r, "hoken", 3 * SEC, q, 4), 1);
	CHECK_EQ_STR(q[0].visit, "id1");
	CHECK_EQ_INT(q[0].kiosk, 1);
	CHECK_EQ_INT(q[0].waited_ms, 2000);
	CHECK_EQ_STR(q[0].procedure, "p1");
	uint32_t staff[8];
	CHECK_EQ_INT(route_department_staff(f.r, "hoken", staff, 8), 3);
	CHECK_EQ_INT(staff[0], 11);
	CHECK_EQ_INT(staff[1], 12);
	CHECK_EQ_INT(staff[2], 14);
	route_visit_info vi;
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), 0);
	CHECK_EQ_INT(vi.connected, 0);
	CHECK_EQ_INT(vi.n_parties, 1);

	CHECK_EQ_INT(route_accept(f.r, 12, "id1", 5 * SEC), 0);
	EXPECT(&f, "ring_cancelled 11 id1 taken", "connected 1 id1 [1,12]",
	       "connected 12 id1 [1,12]",
	       "rec leg_answered v=id1 leg=id2 d=hoken p=p1 k=1/kiosk-a s=12/suzuki r= n= w=4000",
	       "media 1 primary=12 extra=[]", "media 12 primary=1 extra=[]", "queue hoken",
	       "departments");
	CHECK_EQ_STR(route_session_visit(f.r, 12), "id1");
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), 0);
	CHECK_EQ_INT(vi.connected, 1);
	CHECK_EQ_INT(vi.n_parties, 2);
	CHECK_EQ_INT(vi.parties[1], 12);
	CHECK_EQ_INT(route_department_get(f.r, "zei", &di), 0);
	CHECK_EQ_INT(di.available, 1); /* 12 is busy in zei too */

	/* The second accept loses. */
	CHECK_EQ_INT(route_accept(f.r, 11, "id1", 6 * SEC), ROUTE_ERR_CONFLICT);
	EXPECT_NONE(&f);
	/* Only the serving desk may end it. */
	CHECK_EQ_INT(route_end(f.r, 11, "id1", "completed", NULL, NULL, 7 * SEC),
	             ROUTE_ERR_FORBIDDEN);
	EXPECT_NONE(&f);

	CHECK_EQ_INT(route_end(f.r, 12, "id1", "referred", "p2", "see zei", 65 * SEC), 0);
	EXPECT(&f, "ended 12 id1 completed", "ended 1 id1 completed",
	       "rec leg_ended v=id1 leg=id2 d=hoken p=p2 k=1/kiosk-a s=12/suzuki r=referred "
	       "n=see zei w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/kiosk-a s=0/ r=completed n= w=0",
	       "media 1 primary=0 extra=[]", "media 12 primary=0 extra=[]", "departments");
	CHECK(route_session_visit(f.r, 1) == NULL);
	CHECK(route_session_visit(f.r, 12) == NULL);
	CHECK_EQ_INT(route_visit_get(f.r, "id1", &vi), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_end(f.r, 12, "id1", "completed", NULL, NULL, 66 * SEC),
	             ROUTE_ERR_NOT_FOUND);

	/* The estimate now uses the one answered wait (4 s). */
	CHECK_EQ_INT(route_call(f.r, 2, "hoken", NULL, 70 * SEC, visit), 0);
	CHECK_EQ_STR(visit, "id3");
	drain(&f);
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 71 * SEC, visit), 0);
	EXPECT(&f, "rec visit_started v=id5 leg= d=hoken p= k=1/kiosk-a s=0/ r= n= w=0",
	       "rec leg_queued v=id5 leg=id6 d=hoken p= k=1/kiosk-a s=0/ r= n= w=0",
	       "ringing 11 id5 hoken k=1 w=0 p=", "ringing 12 id5 hoken k=1 w=0 p=",
	       "queued 1 id5 hoken pos=2 est=8", "queue hoken", "departments");
	route_free(f.r);
}

static void test_hangup_and_later_desk(void)
{
	fixture f;
	fx_init(&f);
	route_department_add(f.r, "hoken", 1);
	join_kiosk(&f, 1, "k1");
	join_kiosk(&f, 2, "k2");
	join_staff(&f, 14, "ito", 0, 0, "hoken", NULL);
	EXPECT_NONE(&f);

	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 0, NULL), 0);
	EXPECT(&f, "rec visit_started v=id1 leg= d=hoken p= k=1/k1 s=0/ r= n= w=0",
	       "rec leg_queued v=id1 leg=id2 d=hoken p= k=1/k1 s=0/ r= n= w=0",
	       "queued 1 id1 hoken pos=1 est=60", "queue hoken", "departments");
	CHECK_EQ_INT(route_call(f.r, 2, "hoken", NULL, 1 * SEC, NULL), 0);
	EXPECT(&f, "rec visit_started v=id3 leg= d=hoken p= k=2/k2 s=0/ r= n= w=0",
	       "rec leg_queued v=id3 leg=id4 d=hoken p= k=2/k2 s=0/ r= n= w=0",
	       "queued 2 id3 hoken pos=2 est=120", "queue hoken", "departments");

	/* Hangup while queued cancels; the one behind moves up. */
	CHECK_EQ_INT(route_hangup(f.r, 1, 2 * SEC), 0);
	EXPECT(&f, "ended 1 id1 cancelled",
	       "rec leg_ended v=id1 leg=id2 d=hoken p= k=1/k1 s=0/ r=cancelled n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/k1 s=0/ r=cancelled n= w=0",
	       "queued 2 id3 hoken pos=1 est=60", "queue hoken", "departments");
	/* A second hangup is harmless. */
	CHECK_EQ_INT(route_hangup(f.r, 1, 3 * SEC), 0);
	EXPECT_NONE(&f);

	/* A desk that becomes available rings for the waiting visit. */
	CHECK_EQ_INT(route_presence(f.r, 14, 1, 11 * SEC), 0);
	EXPECT(&f, "ringing 14 id3 hoken k=2 w=10000 p=", "departments");
	CHECK_EQ_INT(route_presence(f.r, 14, 1, 12 * SEC), 0);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_session_available(f.r, 14), 1);
	/* Going away stops the ring; an away desk may not accept. */
	CHECK_EQ_INT(route_presence(f.r, 14, 0, 13 * SEC), 0);
	EXPECT(&f, "ring_cancelled 14 id3 cancelled", "departments");
	CHECK_EQ_INT(route_accept(f.r, 14, "id3", 14 * SEC), ROUTE_ERR_CONFLICT);
	EXPECT_NONE(&f);

	/* A desk joining while a visit waits rings at once; a hangup cancels its ring. */
	join_staff(&f, 15, "kato", 1, 20 * SEC, "hoken", NULL);
	EXPECT(&f, "ringing 15 id3 hoken k=2 w=19000 p=", "departments");
	CHECK_EQ_INT(route_hangup(f.r, 2, 21 * SEC), 0);
	EXPECT(&f, "ring_cancelled 15 id3 cancelled", "ended 2 id3 cancelled",
	       "rec leg_ended v=id3 leg=id4 d=hoken p= k=2/k2 s=0/ r=cancelled n= w=0",
	       "rec visit_ended v=id3 leg= d= p= k=2/k2 s=0/ r=cancelled n= w=0", "queue hoken",
	       "departments");
	route_free(f.r);
}

static void test_kiosk_hangup_in_call(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 1, "zei", NULL, 0, NULL);
	route_accept(f.r, 13, "id1", 2 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_hangup(f.r, 1, 10 * SEC), 0);
	EXPECT(&f, "ended 13 id1 completed", "ended 1 id1 completed",
	       "rec leg_ended v=id1 leg=id2 d=zei p= k=1/kiosk-a s=13/tanaka r=completed n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/kiosk-a s=0/ r=completed n= w=0",
	       "media 1 primary=0 extra=[]", "media 13 primary=0 extra=[]", "departments");
	route_free(f.r);
}

static void test_errors(void)
{
	fixture f;
	setup(&f);
	char visit[ROUTE_UUID_LEN];
	CHECK_EQ_INT(route_call(f.r, 11, "hoken", NULL, 0, visit), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_call(f.r, 1, "nope", NULL, 0, visit), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_call(f.r, 1, "kaikei", NULL, 0, visit), ROUTE_ERR_UNAVAILABLE);
	CHECK_EQ_INT(route_call(f.r, 99, "hoken", NULL, 0, visit), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_call(f.r, 1, NULL, NULL, 0, visit), ROUTE_ERR_BAD_REQUEST);
	char long_id[100];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", long_id, 0, visit), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_presence(f.r, 1, 1, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_presence(f.r, 98, 1, 0), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_hangup(f.r, 11, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_accept(f.r, 11, "id1", 0), ROUTE_ERR_NOT_FOUND);
	EXPECT_NONE(&f);

	CHECK_EQ_INT(route_call(f.r, 1, "zei", NULL, 0, visit), 0);
	drain(&f);
	CHECK_EQ_INT(route_call(f.r, 1, "hoken", NULL, 0, visit), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_accept(f.r, 1, "id1", 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_accept(f.r, 11, "id1", 0), ROUTE_ERR_FORBIDDEN); /* not in zei */
	CHECK_EQ_INT(route_accept(f.r, 13, NULL, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_end(f.r, 1, "id1", "completed", NULL, NULL, 0), ROUTE_ERR_FORBIDDEN);
	CHECK_EQ_INT(route_end(f.r, 13, "id1", "completed", NULL, NULL, 0), ROUTE_ERR_FORBIDDEN);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_accept(f.r, 13, "id1", 0), 0);
	drain(&f);
	CHECK_EQ_INT(route_accept(f.r, 13, "id1", 0), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_end(f.r, 13, "id1", "done", NULL, NULL, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_end(f.r, 13, "id1", NULL, NULL, NULL, 0), ROUTE_ERR_BAD_REQUEST);
	char note[ROUTE_NOTE_MAX + 1];
	memset(note, 'n', ROUTE_NOTE_MAX);
	note[ROUTE_NOTE_MAX] = '\0';
	CHECK_EQ_INT(route_end(f.r, 13, "id1", "completed", NULL, note, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_end(f.r, 13, "id9", "completed", NULL, NULL, 0), ROUTE_ERR_NOT_FOUND);
	/* A busy desk of the right department cannot take a second visit. */
	CHECK_EQ_INT(route_call(f.r, 2, "zei", NULL, 0, visit), 0);
	drain(&f);
	CHECK_EQ_INT(route_accept(f.r, 13, visit, 0), ROUTE_ERR_CONFLICT);

	route_session_info kiosk = {.role = ROUTE_ROLE_KIOSK};
	CHECK_EQ_INT(route_session_join(f.r, 1, &kiosk, 0), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_session_join(f.r, 0, &kiosk, 0), ROUTE_ERR_BAD_REQUEST);
	route_session_info bad = {.role = (enum route_role)7};
	CHECK_EQ_INT(route_session_join(f.r, 50, &bad, 0), ROUTE_ERR_BAD_REQUEST);
	route_session_info many = {.role = ROUTE_ROLE_STAFF, .n_departments = 17};
	CHECK_EQ_INT(route_session_join(f.r, 50, &many, 0), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_session_leave(f.r, 50, 0), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_department_add(f.r, "hoken", 1), ROUTE_ERR_CONFLICT);
	CHECK_EQ_INT(route_department_add(f.r, "", 1), ROUTE_ERR_BAD_REQUEST);
	CHECK_EQ_INT(route_department_set_open(f.r, "nope", 1, 0), ROUTE_ERR_NOT_FOUND);
	CHECK_EQ_INT(route_queue_list(f.r, "nope", 0, NULL, 0), ROUTE_ERR_NOT_FOUND);
	EXPECT_NONE(&f);
	CHECK_EQ_INT(route_session_role(f.r, 1), ROUTE_ROLE_KIOSK);
	CHECK_EQ_INT(route_session_role(f.r, 11), ROUTE_ROLE_STAFF);
	CHECK_EQ_INT(route_session_role(f.r, 77), ROUTE_ROLE_NONE);

	CHECK_EQ_STR(route_strerror(ROUTE_ERR_BAD_REQUEST), "bad_request");
	CHECK_EQ_STR(route_strerror(ROUTE_ERR_FORBIDDEN), "forbidden");
	CHECK_EQ_STR(route_strerror(ROUTE_ERR_NOT_FOUND), "not_found");
	CHECK_EQ_STR(route_strerror(ROUTE_ERR_CONFLICT), "conflict");
	CHECK_EQ_STR(route_strerror(ROUTE_ERR_UNAVAILABLE), "unavailable");
	CHECK_EQ_STR(route_strerror(-42), "internal");

	/* Opening the closed department is announced once. */
	CHECK_EQ_INT(route_department_set_open(f.r, "kaikei", 1, 0), 0);
	EXPECT(&f, "departments");
	CHECK_EQ_INT(route_department_set_open(f.r, "kaikei", 1, 0), 0);
	EXPECT_NONE(&f);
	route_config none = {0};
	CHECK(route_new(&none) == NULL);
	route_free(NULL);
	route_free(f.r);
}

static void test_kiosk_leaves(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 1, "hoken", NULL, 0, NULL);
	route_accept(f.r, 11, "id1", 1 * SEC);
	drain(&f);
	CHECK_EQ_INT(route_session_leave(f.r, 1, 5 * SEC), 0);
	EXPECT(&f, "ended 11 id1 dropped",
	       "rec leg_ended v=id1 leg=id2 d=hoken p= k=1/kiosk-a s=11/sato r=dropped n= w=0",
	       "rec visit_ended v=id1 leg= d= p= k=1/kiosk-a s=0/ r=dropped n= w=0",
	       "media 11 primary=0 extra=[]", "departments");
	CHECK_EQ_INT(route_session_role(f.r, 1), ROUTE_ROLE_NONE);
	/* While queued: the ringing desks are told it was cancelled. */
	route_call(f.r, 2, "zei", NULL, 6 * SEC, NULL);
	drain(&f);
	CHECK_EQ_INT(route_session_leave(f.r, 2, 7 * SEC), 0);
	EXPECT(&f, "ring_cancelled 12 id3 cancelled", "ring_cancelled 13 id3 cancelled",
	       "rec leg_ended v=id3 leg=id4 d=zei p= k=2/kiosk-b s=0/ r=dropped n= w=0",
	       "rec visit_ended v=id3 leg= d= p= k=2/kiosk-b s=0/ r=dropped n= w=0", "queue zei",
	       "departments");
	/* A rejoined kiosk may call again. */
	join_kiosk(&f, 2, "kiosk-b");
	CHECK_EQ_INT(route_call(f.r, 2, "zei", NULL, 8 * SEC, NULL), 0);
	route_free(f.r);
}

static void test_desk_leaves(void)
{
	fixture f;
	setup(&f);
	route_call(f.r, 1, "hoken", "p1", 0, NULL); /* id1, leg id2 */
	route_accept(f.r, 11, "id1", 4 * SEC);
	route_call(f.r, 2, "hoken", NULL, 5 * SEC, NULL); /* id3, leg id4: rings 12 */
	drain(&f);
	/* The serving desk drops: the resident goes back to the head of the queue. */
	CHECK_EQ_INT(route_session_leave(f.r, 11, 10 * SEC), 0);
	EXPECT(&f,
	       "rec leg_ended v=id1 leg=id2 d=hoken p=p1 k=1/kiosk-a s=11/sato r=dropped n= w=0",
	       "rec leg_queued v=id1 leg=id5 d=hoken p=p1 k=1/kiosk-a s=0/ r= n= w=0",
	       "media 1 primary=0 extra=[]", "ringing 12 id1 hoken k=1 w=0 p=p1",
	       "queued 1 id1 hoken pos=1 est=4", "queued 2 id3 hoken pos=2 est=8", "queue hoken",
	       "departments");
	CHECK_EQ_STR(route_session_visit(f.r, 1), "id1");
	route_queue_entry q[4];
	CHECK_EQ_INT(route_queue_list(f.r, "hoken", 10 * SEC, q, 4), 2);
	CHECK_EQ_STR(q[0].visit, "id1");
	CHECK_EQ_STR(q[1].visit, "id3");

	/* A ringing desk that leaves just stops ringing: nothing is sent to anyone. */
	CHECK_EQ_INT(route_session_leave(f.r, 12, 11 * SEC), 0);
	EXPECT(&f, "departments");
	/* Desk 12 also served zei: a multi-department desk accepting one visit is taken
	 * for the others. */
	join_staff(&f, 12, "suzuki", 1, 12 * SEC, "hoken", "zei");
	EXPECT(&f, "ringing 12 id1 hoken k=1 w=2000 p=p1",
	       "ringing 12 id3 hoken k=2 w=7000 p=", "departments");
	CHECK_EQ_INT(route_accept(f.r, 12, "id3", 13 * SEC), 0);
	EXPECT(&f, "connected 2 id3 [2,12]", "connected 12 id3 [2,12]",
	       "rec leg_answered v=id3 leg=id4 d=hoken p= k=2/kiosk-b s=12/suzuki r= n= w=8000",
	       "media 2 primary=12 extra=[]", "media 12 primary=2 extra=[]",
	       "ring_cancelled 12 id1 taken", "queued 1 id1 hoken pos=1 est=6", "queue hoken",
	       "departments");
	route_free(f.r);
}

/* ---- randomized sequences ---- */

#define NK   4
#define ND   6
#define MAXS 32
#define MAXV 512

typedef struct model {
	int joined[MAXS];
	int is_staff[MAXS];
	int avail[MAXS];
	unsigned depts[MAXS]; /* bit i = department i */
	uint32_t primary[MAXS];
	uint32_t extra[MAXS][ROUTE_MAX_EXTRA];
	int n_extra[MAXS];
	int desk_visit[MAXS];   /* index into visits + 1, 0 = none (from CONNECTED / ENDED) */
	char rings[MAXS][MAXV]; /* rings[desk][visit] from RINGING / RING_CANCELLED */
	/* Visits as seen in records. */
	char visit_id[MAXV][ROUTE_UUID_LEN];
	uint32_t visit_kiosk[MAXV];
	int visit_open[MAXV];
	int last_position[MAXV];
	int n_visits;
	/* Legs as seen in records. */
	char leg_id[4 * MAXV][ROUTE_UUID_LEN];
	int leg_visit[4 * MAXV];
	uint32_t leg_staff[4 * MAXV];
	int leg_ended[4 * MAXV];
	int n_legs;
	int violations;
} model;

static const char *const rdepts[3] = {"a", "b", "c"};

/* How often the random runs reached the interesting transitions, so a generator that
 * stopped reaching them fails the test instead of passing vacuously. */
static struct {
	long answered, ended_by_desk, desk_dropped, kiosk_dropped, cancelled, requeued;
} reached;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33) % n;
}

static int visit_index(const model *m, const char *id)
{
	return id_index((const char(*)[ROUTE_UUID_LEN])m->visit_id, m->n_visits, id);
}

static int leg_index(const model *m, const char *id)
{
	return id_index((const char(*)[ROUTE_UUID_LEN])m->leg_id, m->n_legs, id);
}

static void violation(model *m, const char *what, int seed, int step)
{
	if (m->violations++ < 10)
		fprintf(stderr, "  random seed %d step %d: %s\n", seed, step, what);
}

/* Is sid a party of visit v's room (the kiosk or the desk of an open answered leg)? */
static int in_room(const model *m, int v, uint32_t sid)
{
	if (!m->visit_open[v])
		return 0;
	if (m->visit_kiosk[v] == sid)
		return 1;
	for (int l = 0; l < m->n_legs; l++)
		if (m->leg_visit[l] == v && !m->leg_ended[l] && m->leg_staff[l] == sid)
			return 1;
	return 0;
}

static int same_room(const model *m, uint32_t a, uint32_t b)
{
	for (int v = 0; v < m->n_visits; v++)
		if (in_room(m, v, a) && in_room(m, v, b))
			return 1;
	return 0;
}

static void apply(model *m, const route_action *a, int seed, int step)
{
	if (a->to && (a->to >= MAXS || !m->joined[a->to]))
		violation(m, "action to a session that is not joined", seed, step);
	int v = act_visit(a)[0] ? visit_index(m, act_visit(a)) : -1;
	const route_act_record *rc = &a->record;
	switch (a->kind) {
	case ROUTE_ACT_MEDIA:
		m->primary[a->to] = a->media.primary;
		m->n_extra[a->to] = a->media.n_extra;
		memcpy(m->extra[a->to], a->media.extra, sizeof(a->media.extra));
		break;
	case ROUTE_ACT_CONNECTED:
		if (m->is_staff[a->to]) {
			if (m->desk_visit[a->to] && m->desk_visit[a->to] != v + 1)
				violation(m, "desk connected to two visits", seed, step);
			m->desk_visit[a->to] = v + 1;
			/* The accepting desk's own ring ends with its accept, silently. */
			if (v >= 0)
				m->rings[a->to][v] = 0;
		}
		break;
	case ROUTE_ACT_ENDED:
		if (m->is_staff[a->to])
			m->desk_visit[a->to] = 0;
		break;
	case ROUTE_ACT_RINGING:
		if (v < 0 || m->rings[a->to][v])
			violation(m, "ringing twice or for an unknown visit", seed, step);
		else
			m->rings[a->to][v] = 1;
		break;
	case ROUTE_ACT_RING_CANCELLED:
		if (v < 0 || !m->rings[a->to][v])
			violation(m, "ring cancelled that was not ringing", seed, step);
		else
			m->rings[a->to][v] = 0;
		break;
	case ROUTE_ACT_QUEUED:
		if (v >= 0)
			m->last_position[v] = a->queued.position;
		break;
	case ROUTE_ACT_RECORD:
		if (rc->kind == ROUTE_REC_VISIT_STARTED) {
			if (v >= 0 || m->n_visits >= MAXV) {
				violation(m, "visit started twice", seed, step);
				break;
			}
			v = m->n_visits++;
			snprintf(m->visit_id[v], ROUTE_UUID_LEN, "%s", rc->visit);
			m->visit_kiosk[v] = rc->kiosk;
			m->visit_open[v] = 1;
		} else if (rc->kind == ROUTE_REC_LEG_QUEUED) {
			if (v < 0 || leg_index(m, rc->leg) >= 0 || m->n_legs >= 4 * MAXV) {
				violation(m, "bad leg_queued", seed, step);
				break;
			}
			for (int o = 0; o < m->n_legs; o++) {
				if (m->leg_visit[o] == v) {
					reached.requeued++; /* a second leg of the same visit */
					break;
				}
			}
			int l = m->n_legs++;
			snprintf(m->leg_id[l], ROUTE_UUID_LEN, "%s", rc->leg);
			m->leg_visit[l] = v;
			m->leg_staff[l] = 0;
			m->leg_ended[l] = 0;
		} else if (rc->kind == ROUTE_REC_LEG_ANSWERED) {
			int l = leg_index(m, rc->leg);
			if (l < 0 || m->leg_ended[l] || m->leg_staff[l])
				violation(m, "bad leg_answered", seed, step);
			else
				m->leg_staff[l] = rc->staff;
			reached.answered++;
		} else if (rc->kind == ROUTE_REC_LEG_ENDED) {
			int l = leg_index(m, rc->leg);
			if (l < 0 || m->leg_ended[l]) {
				violation(m, "leg ended twice or never started", seed, step);
				break;
			}
			m->leg_ended[l] = 1;
			if (strcmp(rc->reason, "dropped") == 0)
				(*(rc->staff ? &reached.desk_dropped : &reached.kiosk_dropped))++;
			else if (strcmp(rc->reason, "cancelled") == 0)
				reached.cancelled++;
			else if (rc->staff)
				reached.ended_by_desk++;
		} else if (rc->kind == ROUTE_REC_VISIT_ENDED) {
			if (v < 0 || !m->visit_open[v])
				violation(m, "visit ended twice", seed, step);
			else
				m->visit_open[v] = 0;
			for (int l = 0; l < m->n_legs; l++)
				if (m->leg_visit[l] == v && !m->leg_ended[l])
					violation(m, "visit ended with a leg open", seed, step);
		}
		break;
	default:
		break;
	}
}

/* Checks after every step that the emitted actions and the accessors agree with the
 * invariants of the design. */
static void check_invariants(route *r, model *m, int seed, int step)
{
	/* Privacy: every feed comes from a party of the same room, and a waiting kiosk is fed
	 * by nobody and feeds nobody. */
	for (uint32_t x = 1; x < MAXS; x++) {
		if (!m->joined[x]) {
			continue;
		}
		uint32_t feeds[1 + ROUTE_MAX_EXTRA];
		int n = 0;
		if (m->primary[x])
			feeds[n++] = m->primary[x];
		for (int i = 0; i < m->n_extra[x]; i++)
			feeds[n++] = m->extra[x][i];
		for (int i = 0; i < n; i++)
			if (!m->joined[feeds[i]] || !same_room(m, x, feeds[i]))
				violation(m, "media fed from outside the room", seed, step);
	}
	/* Completeness: every answered room is wired both ways. */
	for (int l = 0; l < m->n_legs; l++) {
		if (m->leg_ended[l] || !m->leg_staff[l])
			continue;
		uint32_t k = m->visit_kiosk[m->leg_visit[l]], d = m->leg_staff[l];
		if (m->primary[k] != d || m->primary[d] != k)
			violation(m, "answered leg not wired", seed, step);
	}
	/* A visit is in at most one queue, its kiosk knows it, and the kiosk was told its
	 * position; exactly the free desks of the department ring for it. */
	char queued[MAXV] = {0};
	for (int d = 0; d < 3; d++) {
		route_queue_entry q[MAXV];
		int n = route_queue_list(r, rdepts[d], 0, q, MAXV);
		for (int i = 0; i < n; i++) {
			int v = visit_index(m, q[i].visit);
			if (v < 0 || queued[v]) {
				violation(m, "visit in two queues or unknown", seed, step);
				continue;
			}
			queued[v] = 1;
			const char *kv = route_session_visit(r, q[i].kiosk);
			if (!kv || strcmp(kv, q[i].visit) != 0)
				violation(m, "queued visit not the kiosk's", seed, step);
			if (m->last_position[v] != i + 1)
				violation(m, "stale queue position", seed, step);
			for (uint32_t s = NK + 1; s <= NK + ND; s++) {
				int should = m->joined[s] && m->avail[s] && !m->desk_visit[s] &&
				             (m->depts[s] & (1u << d));
				if (should != m->rings[s][v])
					violation(m, "ring set wrong", seed, step);
			}
		}
	}
	for (uint32_t s = NK + 1; s <= NK + ND; s++) {
		for (int v = 0; v < m->n_visits; v++)
			if (m->rings[s][v] && !queued[v])
				violation(m, "ringing for a visit that is not waiting", seed, step);
		/* A desk serves at most one visit. */
		int rooms = 0;
		for (int v = 0; v < m->n_visits; v++)
			rooms += in_room(m, v, s);
		if (rooms > 1)
			violation(m, "desk in two rooms", seed, step);
		if (m->joined[s] && (m->desk_visit[s] != 0) != (rooms == 1))
			violation(m, "desk call state disagrees with records", seed, step);
	}
}

static void forget_session(model *m, uint32_t sid)
{
	m->joined[sid] = 0;
	m->primary[sid] = 0;
	m->n_extra[sid] = 0;
	m->desk_visit[sid] = 0;
	memset(m->rings[sid], 0, sizeof(m->rings[sid]));
}

static int random_event(fixture *f, model *m, int64_t now, int *was_leave, uint32_t *left)
{
	route *r = f->r;
	uint32_t k = 1 + rnd(NK), d = NK + 1 + rnd(ND);
	uint32_t any = rnd(3) ? (rnd(2) ? k : d) : rnd(MAXS);
	const char *vid = m->n_visits && rnd(8) ? m->visit_id[rnd((uint32_t)m->n_visits)] : "zz";
	static const char *const outcomes[] = {"completed", "referred", "incomplete", "bogus"};
	const char *dep = rnd(10) ? rdepts[rnd(3)] : "nope";
	*was_leave = 0;
	switch (rnd(12)) {
	case 0: {
		route_session_info info = {.role = ROUTE_ROLE_KIOSK, .ident = "k"};
		return route_session_join(r, k, &info, now);
	}
	case 1: {
		const char *ds[3];
		int n = 0;
		unsigned bits = 1 + rnd(7);
		for (int i = 0; i < 3; i++)
			if (bits & (1u << i))
				ds[n++] = rdepts[i];
		route_session_info info = {.role = ROUTE_ROLE_STAFF,
		                           .ident = "s",
		                           .departments = ds,
		                           .n_departments = n,
		                           .available = (int)rnd(2)};
		int rc = route_session_join(r, d, &info, now);
		if (rc == 0) {
			m->depts[d] = bits;
			m->avail[d] = info.available;
			m->is_staff[d] = 1;
		}
		return rc;
	}
	case 2:
		*was_leave = 1;
		*left = any;
		return route_session_leave(r, any, now);
	case 3: {
		int av = (int)rnd(2);
		int rc = route_presence(r, any, av, now);
		if (rc == 0)
			m->avail[any] = av;
		return rc;
	}
	case 4:
	case 5:
		return route_call(r, rnd(5) ? k : any, dep, rnd(2) ? "proc" : NULL, now, NULL);
	case 6:
	case 7: {
		/* Mostly a desk that is ringing for the visit, to reach the accept paths. */
		for (uint32_t s = NK + 1; s <= NK + ND && rnd(4); s++) {
			int v = visit_index(m, vid);
			if (v >= 0 && m->rings[s][v])
				return route_accept(r, s, vid, now);
		}
		return route_accept(r, rnd(4) ? d : any, vid, now);
	}
	case 8:
		return route_hangup(r, rnd(5) ? k : any, now);
	case 9:
	case 10: {
		if (m->desk_visit[d] && rnd(4))
			vid = m->visit_id[m->desk_visit[d] - 1];
		return route_end(r, rnd(6) ? d : any, vid, outcomes[rnd(4)], rnd(2) ? "p2" : NULL,
		                 rnd(2) ? "note" : NULL, now);
	}
	default:
		return route_department_set_open(r, "c", (int)rnd(2), now);
	}
}

static void run_random(int seed, int steps)
{
	fixture *f = calloc(1, sizeof(*f));
	model *m = calloc(1, sizeof(*m));
	fx_init(f);
	rng_state = (uint64_t)seed * 2654435761u + 1;
	route_department_add(f->r, "a", 1);
	route_department_add(f->r, "b", 1);
	route_department_add(f->r, "c", 0);
	int64_t now = 0;
	for (int step = 0; step < steps; step++) {
		now += rnd(5000) * 1000LL;
		int was_leave = 0;
		uint32_t left = 0;
		uint32_t before[MAXS];
		for (uint32_t s = 0; s < MAXS; s++)
			before[s] = route_session_role(f->r, s);
		int rc = random_event(f, m, now, &was_leave, &left);
		if (rc != 0) {
			if (route_pending_actions(f->r) != 0)
				violation(m, "error with actions", seed, step);
			continue;
		}
		/* Track joins from the route itself, and forget the departed before applying. */
		for (uint32_t s = 1; s < MAXS; s++) {
			if (!before[s] && route_session_role(f->r, s)) {
				m->joined[s] = 1;
				m->is_staff[s] = route_session_role(f->r, s) == ROUTE_ROLE_STAFF;
			}
		}
		if (was_leave)
			forget_session(m, left);
		route_action a;
		while (route_next_action(f->r, &a))
			apply(m, &a, seed, step);
		check_invariants(f->r, m, seed, step);
	}
	/* Everyone leaves: every leg and visit must end. */
	for (uint32_t s = 1; s < MAXS; s++) {
		if (!m->joined[s])
			continue;
		CHECK_EQ_INT(route_session_leave(f->r, s, now), 0);
		forget_session(m, s);
		route_action a;
		while (route_next_action(f->r, &a))
			apply(m, &a, seed, -1);
		check_invariants(f->r, m, seed, -1);
	}
	for (int l = 0; l < m->n_legs; l++)
		if (!m->leg_ended[l])
			violation(m, "leg never ended", seed, -1);
	for (int v = 0; v < m->n_visits; v++)
		if (m->visit_open[v])
			violation(m, "visit never ended", seed, -1);
	CHECK_EQ_INT(m->violations, 0);
	CHECK_EQ_INT(route_lost_actions(f->r), 0);
	route_free(f->r);
	free(f);
	free(m);
}

/* Actions are queued packed, each in its own kind's bytes (route_action_size): many of
 * mixed sizes come out intact and in order across the queue's growth, and a record drained
 * into the same route_action after a LEG_ENDED never shows that record's note. */
static void test_action_queue_packed(void)
{
	CHECK(route_action_size(ROUTE_ACT_MEDIA, 0) <= 64);
	CHECK(route_action_size(ROUTE_ACT_RECORD, ROUTE_REC_LEG_QUEUED) + ROUTE_NOTE_MAX <=
	      route_action_size(ROUTE_ACT_RECORD, ROUTE_REC_LEG_ENDED));
	CHECK(route_action_size(ROUTE_ACT_VISIT, 0) <= sizeof(route_action));

	fixture f;
	fx_init(&f);
	CHECK_EQ_INT(route_department_add(f.r, "a", 1), 0);
	join_staff(&f, 100, "desk", 1, 0, "a", NULL);
	enum { N = 60 };
	char visits[N + 1][ROUTE_UUID_LEN];
	for (uint32_t k = 1; k <= N; k++) {
		join_kiosk(&f, k, "kiosk");
		CHECK_EQ_INT(route_call(f.r, k, "a", NULL, (int64_t)k * SEC, visits[k]), 0);
	}
	int pending = route_pending_actions(f.r);
	CHECK(pending > 4 * N); /* far more than the first 4 KiB of queue holds */
	route_action a;
	int n = 0, started = 0, queued = 0;
	while (route_next_action(f.r, &a)) {
		n++;
		if (a.kind == ROUTE_ACT_RECORD && a.record.kind == ROUTE_REC_VISIT_STARTED) {
			started++;
			CHECK_EQ_INT((int)a.record.kiosk, started);
			CHECK_EQ_STR(a.record.visit, visits[started]);
			CHECK_EQ_INT(a.at_us, (int64_t)started * SEC);
		} else if (a.kind == ROUTE_ACT_QUEUED) {
			queued++;
			CHECK_EQ_INT((int)a.to, queued);
			CHECK_EQ_INT(a.queued.position, queued);
			CHECK_EQ_STR(a.queued.visit, visits[queued]);
		}
	}
	CHECK_EQ_INT(n, pending);
	CHECK_EQ_INT(started, N);
	CHECK_EQ_INT(route_pending_actions(f.r), 0);

	CHECK_EQ_INT(route_accept(f.r, 100, visits[1], (N + 1) * SEC), 0);
	drain(&f);
	CHECK_EQ_INT(route_end(f.r, 100, visits[1], "completed", NULL, "a note", (N + 2) * SEC), 0);
	int leg_ended = 0, visit_ended = 0;
	while (route_next_action(f.r, &a)) {
		if (a.kind != ROUTE_ACT_RECORD)
			continue;
		if (a.record.kind == ROUTE_REC_LEG_ENDED) {
			leg_ended++;
			CHECK_EQ_STR(a.record.note, "a note");
		} else if (a.record.kind == ROUTE_REC_VISIT_ENDED) {
			visit_ended++;
			CHECK(leg_ended == 1);
			CHECK_EQ_STR(a.record.note, "");
			CHECK_EQ_STR(a.record.visit, visits[1]);
		}
	}
	CHECK_EQ_INT(leg_ended, 1);
	CHECK_EQ_INT(visit_ended, 1);
	route_free(f.r);
}

int main(void)
{
	test_call_accept_end();
	test_hangup_and_later_desk();
	test_kiosk_hangup_in_call();
	test_errors();
	test_kiosk_leaves();
	test_desk_leaves();
	test_action_queue_packed();
	for (int seed = 1; seed <= 2000; seed++)
		run_random(seed, 150);
	printf("random: answered %ld, ended by desk %ld, desk dropped %ld, kiosk dropped %ld, "
	       "cancelled %ld, requeued %ld\n",
	       reached.answered, reached.ended_by_desk, reached.desk_dropped, reached.kiosk_dropped,
	       reached.cancelled, reached.requeued);
	CHECK(reached.answered > 1000);
	CHECK(reached.ended_by_desk > 500);
	CHECK(reached.desk_dropped > 100);
	CHECK(reached.kiosk_dropped > 100);
	CHECK(reached.cancelled > 100);
	CHECK(reached.requeued > 100);
	return check_done("route");
}
