/* Bookings (予約相談; PROTOCOL.md "Bookings", docs/protocol.md "Bookings"): the staff
 * requests `book`, `cancel_booking` and `bookings`; today's bookings for kiosks (in the hello
 * reply and the `bookings` event); and the kiosk's `call` with a booking.
 *
 * Design: PostgreSQL holds the bookings; the server keeps a copy of today's (every branch),
 * read by the sweep (store_bookings_sweep), which first marks `missed` the bookings still
 * booked 15 minutes after their start. The sweep runs at start-up, after every change made
 * here, 30 s after the previous one, and just after the next booked booking's 15 minutes run
 * out; so missed bookings follow from the database and a restart loses nothing. After each
 * sweep the kiosk view of every branch (bookings without names) is serialised and compared
 * with what kiosks of that branch were last sent; kiosks of a branch whose view changed get
 * the `bookings` event. "Today" and the offsets in starts_at follow the site's time zone
 * (site_settings.time_zone, default Asia/Tokyo), not the server's.
 *
 * A call with a booking is checked against that copy (it exists today, is of the kiosk's
 * branch, is still booked, and now is from 10 minutes before to 15 minutes after its start),
 * goes to routing as a booked call (route_call_booked: the desk that made it rings first),
 * and the booking turns `done` with its visit. Residents' names are never logged. */
#include "base/log.h"
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_US               (60 * INT64_C(1000000))
#define BOOK_EARLY_US        (10 * MIN_US) /* a booking may be called this long before its start */
#define BOOK_LATE_US         (15 * MIN_US) /* ... and until this long after; then it is missed */
#define BOOK_SWEEP_US        (30 * INT64_C(1000000)) /* the sweep runs at least this often */
#define BOOK_RETRY_US        (5 * INT64_C(1000000))  /* after a failed sweep */
#define BOOK_MINUTES_MIN     5
#define BOOK_MINUTES_MAX     240
#define BOOK_MINUTES_DEFAULT 30

typedef struct sent_view {
	char branch[STORE_ID_MAX];
	char *text; /* the kiosk view last sent (or that would have been) */
} sent_view;

struct sig_bookings {
	store_booking *today;
	int n_today;
	sent_view *sent;
	int n_sent;
	int in_flight; /* a sweep is running */
	int again;     /* something changed while it ran: sweep again at once */
	int64_t due_us;
};

static struct sig_bookings *get(sig_app *app)
{
	if (!app->bookings)
		app->bookings = calloc(1, sizeof *app->bookings);
	return app->bookings;
}

void bookings_free(sig_app *app)
{
	struct sig_bookings *b = app->bookings;
	if (!b)
		return;
	free(b->today);
	for (int i = 0; i < b->n_sent; i++)
		free(b->sent[i].text);
	free(b->sent);
	free(b);
	app->bookings = NULL;
}

/* ---- JSON ---- */

static json_t *booking_json(const store_booking *b, int with_name)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "booking", b->id, "department",
	                      b->department, "branch", b->branch, "starts_at", b->starts_at,
	                      "minutes", b->minutes, "procedure", b->procedure, "state", b->state);
	if (o && with_name)
		json_object_set_new(o, "name", json_string(b->name));
	return o;
}

json_t *bookings_kiosk_json(sig_app *app, const char *branch)
{
	json_t *arr = json_array();
	struct sig_bookings *b = app->bookings;
	for (int i = 0; arr && b && i < b->n_today; i++)
		if (strcmp(b->today[i].branch, branch) == 0)
			json_array_append_new(arr, booking_json(&b->today[i], 0));
	return arr;
}

/* ---- the sweep ---- */

static void sweep_start(sig_app *app);

static const char *sent_text(struct sig_bookings *b, const char *branch)
{
	for (int i = 0; i < b->n_sent; i++)
		if (strcmp(b->sent[i].branch, branch) == 0)
			return b->sent[i].text;
	return NULL;
}

static void notify_branch(sig_app *app, const char *branch, json_t *view)
{
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (!s->conn || !s->joined || s->role != ROUTE_ROLE_KIOSK ||
		    strcmp(s->branch_id, branch) != 0)
			continue;
		session_send_json(s, json_pack("{s:s, s:O}", "type", "bookings", "bookings", view));
	}
}

/* Serialises every branch's kiosk view, sends those that changed, keeps the new texts. */
static void publish(sig_app *app)
{
	struct sig_bookings *b = app->bookings;
	int cap = b->n_today + b->n_sent;
	sent_view *next = calloc((size_t)(cap > 0 ? cap : 1), sizeof *next);
	if (!next)
		return;
	int n = 0;
	/* Branches with bookings today, then branches that had some and have none now. */
	for (int pass = 0; pass < 2; pass++) {
		int count = pass == 0 ? b->n_today : b->n_sent;
		for (int i = 0; i < count; i++) {
			const char *branch = pass == 0 ? b->today[i].branch : b->sent[i].branch;
			int known = 0;
			for (int k = 0; k < n && !known; k++)
				known = strcmp(next[k].branch, branch) == 0;
			if (known)
				continue;
			json_t *view = bookings_kiosk_json(app, branch);
			char *text = view ? json_dumps(view, JSON_COMPACT) : NULL;
			if (!text) {
				json_decref(view);
				continue;
			}
			const char *old = sent_text(b, branch);
			if (!old || strcmp(old, text) != 0)
				notify_branch(app, branch, view);
			json_decref(view);
			snprintf(next[n].branch, sizeof next[n].branch, "%s", branch);
			next[n++].text = text;
		}
	}
	for (int i = 0; i < b->n_sent; i++)
		free(b->sent[i].text);
	free(b->sent);
	b->sent = next;
	b->n_sent = n;
}

static void on_swept(void *user, int err, const store_booking *list, int n, int missed)
{
	sig_app *app = user;
	struct sig_bookings *b = app->bookings;
	if (!b)
		return;
	b->in_flight = 0;
	int64_t now = app_now();
	if (err != 0 || app->stopping) {
		b->due_us = now + BOOK_RETRY_US;
		return;
	}
	store_booking *copy = calloc((size_t)(n > 0 ? n : 1), sizeof *copy);
	if (!copy) {
		b->due_us = now + BOOK_RETRY_US;
		return;
	}
	memcpy(copy, list, (size_t)n * sizeof *copy);
	free(b->today);
	b->today = copy;
	b->n_today = n;
	if (missed > 0)
		LOG_INFO("booking", "bookings missed count=%d", missed);
	/* Next: in 30 s, or just after the next booked booking's window closes. */
	b->due_us = now + BOOK_SWEEP_US;
	for (int i = 0; i < n; i++)
		if (strcmp(copy[i].state, "booked") == 0 &&
		    copy[i].starts_us + BOOK_LATE_US + 500000 < b->due_us)
			b->due_us = copy[i].starts_us + BOOK_LATE_US + 500000;
	publish(app);
	if (b->again) {
		b->again = 0;
		sweep_start(app);
	}
}

static void sweep_start(sig_app *app)
{
	struct sig_bookings *b = get(app);
	if (!b || app->stopping || !app->store)
		return;
	if (b->in_flight) {
		b->again = 1;
		return;
	}
	if (store_bookings_sweep(app->store, on_swept, app) == 0)
		b->in_flight = 1;
	else
		b->due_us = app_now() + BOOK_RETRY_US;
}

void bookings_tick(sig_app *app)
{
	struct sig_bookings *b = get(app);
	if (b && !b->in_flight && app_now() >= b->due_us)
		sweep_start(app);
}

/* ---- validation ---- */

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* YYYY-MM-DD, a real calendar day. */
static int date_ok(const char *d)
{
	if (strlen(d) < 10 || !digits(d, 4) || d[4] != '-' || !digits(d + 5, 2) || d[7] != '-' ||
	    !digits(d + 8, 2))
		return 0;
	int y = num(d, 4), m = num(d + 5, 2), day = num(d + 8, 2);
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || m < 1 || m > 12 || day < 1)
		return 0;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return day <= mdays[m - 1] + (m == 2 && leap);
}

/* ISO 8601 date and time: YYYY-MM-DDTHH:MM[:SS[.fff]] and optionally Z or +HH:MM / -HH:MM
 * (+HHMM, +HH). Without a zone the time is read in the site's time zone. */
static int iso_ok(const char *t)
{
	if (strlen(t) > 39 || !date_ok(t) || t[10] != 'T' || !digits(t + 11, 2) || t[13] != ':' ||
	    !digits(t + 14, 2) || num(t + 11, 2) > 23 || num(t + 14, 2) > 59)
		return 0;
	const char *p = t + 16;
	if (*p == ':') {
		if (!digits(p + 1, 2) || num(p + 1, 2) > 59)
			return 0;
		p += 3;
		if (*p == '.') {
			p++;
			if (!digits(p, 1))
				return 0;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	if (*p == '\0')
		return 1;
	if (strcmp(p, "Z") == 0)
		return 1;
	if (*p != '+' && *p != '-')
		return 0;
	p++;
	if (!digits(p, 2) || num(p, 2) > 14)
		return 0;
	p += 2;
	if (*p == ':')
		p++;
	if (*p == '\0')
		return 1;
	return digits(p, 2) && num(p, 2) <= 59 && p[2] == '\0';
}

static int staff_in(const sig_session *s, const char *dept)
{
	for (int i = 0; i < s->staff.n_departments; i++)
		if (strcmp(s->staff.departments[i], dept) == 0)
			return 1;
	return 0;
}

static int procedure_of(const sig_dept *d, const char *proc)
{
	for (int i = 0; i < d->n_procedures; i++)
		if (strcmp(d->procedures[i].id, proc) == 0)
			return 1;
	return 0;
}

/* A staff request waiting for the store: the session may be gone when the answer comes. */
typedef struct pending {
	sig_app *app;
	uint32_t sid;
	json_t *id;
} pending;

static pending *pending_new(sig_session *s, json_t *id)
{
	pending *p = calloc(1, sizeof *p);
	if (p) {
		p->app = s->app;
		p->sid = s->sid;
		p->id = json_incref(id);
	}
	return p;
}

static sig_session *pending_done(pending *p)
{
	sig_session *s = session_by_sid(p->app, p->sid);
	return s && s->conn ? s : NULL;
}

static void pending_free(pending *p)
{
	json_decref(p->id);
	free(p);
}

/* ---- book ---- */

static void on_booked(void *user, int err, const char *booking)
{
	pending *p = user;
	sig_session *s = pending_done(p);
	if (s) {
		if (err == 0) {
			LOG_INFO("booking", "booked booking=%s staff=%s", booking, s->ident);
			session_reply_ok(s, p->id, json_pack("{s:s}", "booking", booking));
		} else if (err == 1) {
			session_reply_error(s, p->id, "conflict",
			                    "you already have a booking at an overlapping time");
		} else if (err == 2) {
			req_bad(s, p->id, "not_found", "no such branch");
		} else {
			session_reply_error(s, p->id, "internal", "the database is unavailable");
		}
	}
	if (err == 0)
		sweep_start(p->app);
	pending_free(p);
}

void h_book(sig_session *s, json_t *msg, json_t *id)
{
	const char *dept = req_str(s, msg, id, "department", STORE_ID_MAX - 1);
	const char *branch = dept ? req_str(s, msg, id, "branch", STORE_ID_MAX - 1) : NULL;
	const char *starts = branch ? req_str(s, msg, id, "starts_at", 39) : NULL;
	const char *proc = starts ? req_opt_str(s, msg, id, "procedure", STORE_ID_MAX - 1) : NULL;
	const char *name =
	    proc ? req_opt_str(s, msg, id, "name", STORE_BOOKING_NAME_MAX - 1) : NULL;
	if (!name)
		return;
	json_t *mv = json_object_get(msg, "minutes");
	json_int_t minutes = BOOK_MINUTES_DEFAULT;
	if (mv && !json_is_null(mv)) {
		if (!json_is_integer(mv) || json_integer_value(mv) < BOOK_MINUTES_MIN ||
		    json_integer_value(mv) > BOOK_MINUTES_MAX) {
			req_bad(s, id, "bad_request",
			        "field \"minutes\" must be an integer 5..240");
			return;
		}
		minutes = json_integer_value(mv);
	}
	if (!iso_ok(starts)) {
		req_bad(s, id, "bad_request",
		        "field \"starts_at\" must be ISO 8601, e.g. 2026-04-01T10:00:00+09:00");
		return;
	}
	const sig_dept *d = app_dept(s->app, dept);
	if (!d) {
		req_bad(s, id, "not_found", "no such department");
		return;
	}
	if (!staff_in(s, dept)) {
		req_bad(s, id, "forbidden", "you are not staff of this department");
		return;
	}
	if (proc[0] && !procedure_of(d, proc)) {
		req_bad(s, id, "not_found", "no such procedure in this department");
		return;
	}
	store_booking b = {.minutes = (int)minutes};
	snprintf(b.department, sizeof b.department, "%s", dept);
	snprintf(b.branch, sizeof b.branch, "%s", branch);
	snprintf(b.starts_at, sizeof b.starts_at, "%s", starts);
	snprintf(b.procedure, sizeof b.procedure, "%s", proc);
	snprintf(b.name, sizeof b.name, "%s", name);
	snprintf(b.created_by, sizeof b.created_by, "%s", s->ident);
	pending *p = pending_new(s, id);
	if (!p || store_booking_add(s->app->store, &b, on_booked, p) != 0) {
		if (p)
			pending_free(p);
		session_reply_error(s, id, "internal", "cannot book now");
	}
}

/* ---- cancel_booking ---- */

static void on_cancelled(void *user, int err, const char *department)
{
	(void)department;
	pending *p = user;
	sig_session *s = pending_done(p);
	if (s) {
		if (err == 0) {
			LOG_INFO("booking", "cancelled staff=%s", s->ident);
			session_reply_ok(s, p->id, NULL);
		} else if (err == 1) {
			req_bad(s, p->id, "not_found", "no such booking");
		} else if (err == 2) {
			req_bad(s, p->id, "forbidden", "the booking is not of your departments");
		} else if (err == 3) {
			session_reply_error(s, p->id, "conflict",
			                    "the booking is not booked any more");
		} else {
			session_reply_error(s, p->id, "internal", "the database is unavailable");
		}
	}
	if (err == 0)
		sweep_start(p->app);
	pending_free(p);
}

static int uuid_like(const char *id)
{
	if (strlen(id) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = id[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		int hex =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (dash ? c != '-' : !hex)
			return 0;
	}
	return 1;
}

static void staff_depts(const sig_session *s, const char *out[STORE_MAX_DEPTS])
{
	for (int i = 0; i < s->staff.n_departments; i++)
		out[i] = s->staff.departments[i];
}

void h_cancel_booking(sig_session *s, json_t *msg, json_t *id)
{
	const char *booking = req_str(s, msg, id, "booking", 36);
	if (!booking)
		return;
	if (!uuid_like(booking)) {
		req_bad(s, id, "bad_request", "field \"booking\" must be a booking id");
		return;
	}
	const char *depts[STORE_MAX_DEPTS];
	staff_depts(s, depts);
	pending *p = pending_new(s, id);
	if (!p || store_booking_cancel(s->app->store, booking, depts, s->staff.n_departments,
	                               on_cancelled, p) != 0) {
		if (p)
			pending_free(p);
		session_reply_error(s, id, "internal", "cannot cancel now");
	}
}

/* ---- bookings ---- */

static void on_listed(void *user, int err, const store_booking *list, int n)
{
	pending *p = user;
	sig_session *s = pending_done(p);
	if (s && err != 0) {
		session_reply_error(s, p->id, "internal", "the database is unavailable");
	} else if (s) {
		json_t *arr = json_array();
		for (int i = 0; arr && i < n; i++)
			json_array_append_new(arr, booking_json(&list[i], 1));
		session_reply_ok(s, p->id, json_pack("{s:o}", "bookings", arr));
	}
	pending_free(p);
}

void h_bookings(sig_session *s, json_t *msg, json_t *id)
{
	const char *date = req_str(s, msg, id, "date", 10);
	const char *dept = date ? req_opt_str(s, msg, id, "department", STORE_ID_MAX - 1) : NULL;
	const char *branch = dept ? req_opt_str(s, msg, id, "branch", STORE_ID_MAX - 1) : NULL;
	if (!branch)
		return;
	if (!date_ok(date) || strlen(date) != 10) {
		req_bad(s, id, "bad_request", "field \"date\" must be YYYY-MM-DD");
		return;
	}
	if (dept[0] && !app_dept(s->app, dept)) {
		req_bad(s, id, "not_found", "no such department");
		return;
	}
	if (dept[0] && !staff_in(s, dept)) {
		req_bad(s, id, "forbidden", "you are not staff of this department");
		return;
	}
	const char *depts[STORE_MAX_DEPTS];
	staff_depts(s, depts);
	pending *p = pending_new(s, id);
	if (!p || store_bookings_list(s->app->store, date, dept, branch, depts,
	                              s->staff.n_departments, on_listed, p) != 0) {
		if (p)
			pending_free(p);
		session_reply_error(s, id, "internal", "cannot list bookings now");
	}
}

/* ---- call with a booking ---- */

void bookings_call(sig_session *s, json_t *msg, json_t *id)
{
	const char *booking = req_str(s, msg, id, "booking", 36);
	if (!booking)
		return;
	struct sig_bookings *b = s->app->bookings;
	store_booking *bk = NULL;
	for (int i = 0; b && i < b->n_today && !bk; i++)
		if (strcmp(b->today[i].id, booking) == 0)
			bk = &b->today[i];
	if (!bk) {
		req_bad(s, id, "not_found", "no such booking today");
		return;
	}
	if (strcmp(bk->branch, s->branch_id) != 0 || !tenant_dept_ok(s, bk->department)) {
		req_bad(s, id, "forbidden", "the booking is for another branch");
		return;
	}
	if (strcmp(bk->state, "booked") != 0) {
		session_reply_error(s, id, "conflict", "the booking is %s", bk->state);
		return;
	}
	int64_t now = app_now();
	if (now < bk->starts_us - BOOK_EARLY_US || now > bk->starts_us + BOOK_LATE_US) {
		session_reply_error(s, id, "unavailable",
		                    "a booking is called from 10 minutes before to 15 minutes "
		                    "after its start");
		return;
	}
	char visit[ROUTE_UUID_LEN];
	int rc = route_call_booked(s->app->route, s->sid, bk->department, bk->procedure,
	                           bk->created_by, now, visit);
	if (rc == 0) {
		s->app->counters.calls++;
		snprintf(bk->state, sizeof bk->state, "done");
		LOG_INFO("booking", "called booking=%s visit=%s sid=%u", bk->id, visit, s->sid);
		if (store_booking_done(s->app->store, bk->id, visit) != 0)
			LOG_WARN("booking", "booking not marked done booking=%s", bk->id);
	}
	req_route(s, id, rc, rc == 0 ? json_pack("{s:s}", "visit", visit) : NULL, "call");
	if (rc == 0)
		sweep_start(s->app);
}
