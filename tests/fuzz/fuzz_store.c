/* The database's answers for the fuzz targets (fuzz_app.h, "Identities"): the store's lookups
 * that the app calls (kiosk and staff authentication, login tokens, statistics) are replaced
 * at link time (ld --wrap, see meson.build) by these functions, which queue the answer a
 * database holding the identities below would give. fz_deliver() hands the answers over, as
 * the event loop does once PostgreSQL has replied. Everything else (records, the directory)
 * stays with the real store, which is never connected. */
#include "fuzz_app.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const store_kiosk fz_kiosks[FZ_N_KIOSKS] = {
    {"kiosk-honcho-1", "本庁 1番", "honcho", "本庁", "default"},
    {"kiosk-yamada-1", "山田出張所 1番", "yamada", "山田出張所", "default"},
};

const store_staff fz_staff[FZ_N_STAFF] = {
    {.id = "staff-sato",
     .username = "sato",
     .name = "佐藤",
     .departments = {"shimin", "hoken"},
     .n_departments = 2},
    {.id = "staff-suzuki",
     .username = "suzuki",
     .name = "鈴木",
     .departments = {"hoken", "nenkin"},
     .n_departments = 2},
    {.id = "staff-tanaka",
     .username = "tanaka",
     .name = "田中",
     .departments = {"shimin", "hoken", "nenkin"},
     .n_departments = 3,
     .coordinator = 1,
     .analyst = 1,
     .admin = 1},
};

enum answer_kind { ANSWER_KIOSK, ANSWER_STAFF, ANSWER_LOGIN, ANSWER_STATS };

typedef struct answer {
	struct answer *next;
	enum answer_kind kind;
	int err;
	const store_kiosk *kiosk;
	const store_staff *staff;
	store_kiosk_cb kiosk_cb;
	store_staff_cb staff_cb;
	store_login_cb login_cb;
	store_stats_cb stats_cb;
	void *user;
} answer;

static answer *head, **tail = &head;
static char *stats_text; /* the rows of the statistics, as fz_set_stats got them */
static size_t stats_len;

static answer *queue(enum answer_kind kind, int err, void *user)
{
	answer *a = calloc(1, sizeof *a);
	if (!a)
		abort();
	a->kind = kind;
	a->err = err;
	a->user = user;
	*tail = a;
	tail = &a->next;
	return a;
}

/* Passwords: "secret" for every staff member. Any other password finds the database down
 * (-1) rather than wrong (1): a wrong password is a failure the limiter remembers for 15
 * minutes, so it would lock later inputs out, and rebuilding the limiter for every input that
 * failed (megabytes of tables) would cost more than everything else in it. Lockouts are
 * tested by tests/unit/test_limiter.c and tests/protocol/credentials.test.mjs instead. */
static int check_password(const char *username, const char *password, const store_staff **st)
{
	for (int i = 0; i < FZ_N_STAFF; i++)
		if (strcmp(username, fz_staff[i].username) == 0 &&
		    strcmp(password, "secret") == 0) {
			*st = &fz_staff[i];
			return 0;
		}
	return -1;
}

/* Login tokens: "token-" and the username; "token-down" finds the database down. */
static int check_token(const char *token, const store_staff **st)
{
	if (strcmp(token, "token-down") == 0)
		return -1;
	for (int i = 0; i < FZ_N_STAFF; i++)
		if (strncmp(token, "token-", 6) == 0 &&
		    strcmp(token + 6, fz_staff[i].username) == 0) {
			*st = &fz_staff[i];
			return 0;
		}
	return 1;
}

int __wrap_store_auth_kiosk(store *s, const char *token, store_kiosk_cb cb, void *user)
{
	if (!s || !token || !cb)
		return -1;
	/* Kiosk tokens: "kiosk-token-" and the branch; "kiosk-token-down": database down. */
	int err = strcmp(token, "kiosk-token-down") == 0 ? -1 : 1;
	const store_kiosk *k = NULL;
	for (int i = 0; i < FZ_N_KIOSKS; i++)
		if (strncmp(token, "kiosk-token-", 12) == 0 &&
		    strcmp(token + 12, fz_kiosks[i].branch_id) == 0) {
			k = &fz_kiosks[i];
			err = 0;
		}
	answer *a = queue(ANSWER_KIOSK, err, user);
	a->kiosk = k;
	a->kiosk_cb = cb;
	return 0;
}

int __wrap_store_auth_staff(store *s, const char *username, const char *password, store_staff_cb cb,
                            void *user)
{
	if (!s || !username || !password || !cb || strlen(username) >= STORE_ID_MAX)
		return -1;
	const store_staff *st = NULL;
	answer *a = queue(ANSWER_STAFF, check_password(username, password, &st), user);
	a->staff = st;
	a->staff_cb = cb;
	return 0;
}

int __wrap_store_login_check(store *s, const char *token, store_staff_cb cb, void *user)
{
	if (!s || !token || !cb)
		return -1;
	const store_staff *st = NULL;
	answer *a = queue(ANSWER_STAFF, check_token(token, &st), user);
	a->staff = st;
	a->staff_cb = cb;
	return 0;
}

int __wrap_store_login_create(store *s, const char *username, const char *password,
                              store_login_cb cb, void *user)
{
	if (!s || !username || !password || !cb)
		return -1;
	const store_staff *st = NULL;
	answer *a = queue(ANSWER_LOGIN, check_password(username, password, &st), user);
	a->staff = st;
	a->login_cb = cb;
	return 0;
}

int __wrap_store_stats_monthly(store *s, const store_stats_query *q, store_stats_cb cb, void *user)
{
	/* The real function's own checks, which the app relies on. */
	if (!s || !q || !cb || q->from_month < 1 || q->from_month > 12 || q->to_month < 1 ||
	    q->to_month > 12 || q->from_year < 1 || q->from_year > 9999 || q->to_year < 1 ||
	    q->to_year > 9999 || q->from_year * 12 + q->from_month > q->to_year * 12 + q->to_month)
		return -1;
	answer *a = queue(ANSWER_STATS, 0, user);
	a->stats_cb = cb;
	return 0;
}

void fz_set_stats(const char *rows, size_t len)
{
	free(stats_text);
	stats_text = malloc(len + 1);
	if (!stats_text)
		abort();
	memcpy(stats_text, rows, len);
	stats_text[len] = '\0';
	stats_len = len;
}

/* The next tab-separated field of *p (up to the end of its line), NUL-terminated in place;
 * NULL when empty, as the database gives a dimension that is not grouped by. */
static const char *field(char **p, char *line_end)
{
	char *f = *p;
	if (f >= line_end)
		return NULL;
	char *tab = memchr(f, '\t', (size_t)(line_end - f));
	char *stop = tab ? tab : line_end;
	*stop = '\0';
	*p = stop + 1;
	return stop > f ? f : NULL;
}

static double number(char **p, char *line_end)
{
	const char *f = field(p, line_end);
	return f ? strtod(f, NULL) : NAN;
}

/* The statistics rows from fz_set_stats: one per line, fields separated by tabs in the order
 * of store_stats_row (month, branch, branch_name, department, department_name, procedure,
 * procedure_name, visits, legs, answered, abandoned, onestop_visits, avg_wait_s, avg_talk_s,
 * avg_rating); missing strings are NULL, missing averages NAN, missing counts 0. */
static void answer_stats(const answer *a)
{
	char *text = malloc(stats_len + 1);
	store_stats_row *rows = calloc(stats_len + 1, sizeof *rows); /* lines <= bytes + 1 */
	if (!text || !rows)
		abort();
	memcpy(text, stats_text ? stats_text : "", stats_len + 1);
	int n = 0;
	for (char *line = text; line < text + stats_len;) {
		char *nl = memchr(line, '\n', (size_t)(text + stats_len - line));
		char *end = nl ? nl : text + stats_len;
		*end = '\0';
		store_stats_row *r = &rows[n++];
		char *p = line;
		const char *month = field(&p, end);
		r->month = month ? month : "2026-01"; /* never NULL in the database */
		r->branch = field(&p, end);
		r->branch_name = field(&p, end);
		r->department = field(&p, end);
		r->department_name = field(&p, end);
		r->procedure = field(&p, end);
		r->procedure_name = field(&p, end);
		long long *counts[] = {&r->visits, &r->legs, &r->answered, &r->abandoned,
		                       &r->onestop_visits};
		for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
			double v = number(&p, end);
			*counts[i] = isfinite(v) && fabs(v) < 1e15 ? (long long)v : 0;
		}
		r->avg_wait_s = number(&p, end);
		r->avg_talk_s = number(&p, end);
		r->avg_rating = number(&p, end);
		line = end + 1;
	}
	store_stats st = {rows, n};
	a->stats_cb(a->user, 0, &st);
	free(rows);
	free(text);
}

static void deliver_one(answer *a)
{
	switch (a->kind) {
	case ANSWER_KIOSK:
		a->kiosk_cb(a->user, a->err, a->err == 0 ? a->kiosk : NULL);
		break;
	case ANSWER_STAFF:
		a->staff_cb(a->user, a->err, a->err == 0 ? a->staff : NULL);
		break;
	case ANSWER_LOGIN: {
		store_login l;
		memset(&l, 0, sizeof l);
		if (a->err == 0) {
			snprintf(l.token, sizeof l.token, "token-%.40s", a->staff->username);
			snprintf(l.expires_at, sizeof l.expires_at, "2026-12-07T21:00:00Z");
			l.staff = *a->staff;
		}
		a->login_cb(a->user, a->err, a->err == 0 ? &l : NULL);
		break;
	}
	case ANSWER_STATS:
		answer_stats(a);
		break;
	}
}

void fz_deliver(void)
{
	/* An answer may lead to another request (a password check that ends lets the next one
	 * start; a token check is followed by the statistics): those are answered too. */
	for (int rounds = 0; head; rounds++) {
		if (rounds > 100000)
			__builtin_trap(); /* requests that never stop asking */
		answer *a = head;
		head = a->next;
		if (!head)
			tail = &head;
		deliver_one(a);
		free(a);
	}
}
