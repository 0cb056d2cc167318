/* Staff login sessions (POST /api/login, and hello with the token it returns) and the usage
 * statistics (GET /api/stats/monthly): asynchronous queries on the store's one connection,
 * queued with its other lookups. Callbacks run on the loop thread, exactly once each (err -1
 * from store_free at the latest); what they receive is valid during the call only. */
#ifndef MDG_STORE_ANALYTICS_H
#define MDG_STORE_ANALYTICS_H

#include "store/store.h"

/* A login lasts one working day; the page logs in again the next morning. */
#define STORE_LOGIN_TTL_S     (12 * 60 * 60)
#define STORE_LOGIN_TOKEN_MAX 48 /* 32 random bytes in base64url, and a NUL */

typedef struct store_login {
	char token[STORE_LOGIN_TOKEN_MAX]; /* given to the client once; only its SHA-256 is kept */
	char expires_at[32];               /* ISO 8601 in UTC, e.g. 2025-04-01T21:00:00Z */
	store_staff staff;
} store_login;

/* err: 0 logged in (l filled); 1 wrong username or password (or a disabled user);
 * -1 the database is unavailable. */
typedef void (*store_login_cb)(void *user, int err, const store_login *l);

/* Checks the password (as store_auth_staff does, off the loop) and on success records a new
 * login session. Returns 0 (cb will be called) or -1 (bad arguments, out of memory). */
int store_login_create(store *s, const char *username, const char *password, store_login_cb cb,
                       void *user);

/* The staff member behind a login token: err 0 found; 1 unknown, expired or revoked token,
 * or a disabled user; -1 the database is unavailable. */
int store_login_check(store *s, const char *token, store_staff_cb cb, void *user);

/* Which monthly rows to read: months from..to inclusive (first day of the month), and the
 * dimensions to keep; the others are summed over. */
typedef struct store_stats_query {
	int from_year, from_month;
	int to_year, to_month;
	int by_branch, by_department, by_procedure;
	const char *tenant; /* only this tenant's branches (migration 11); NULL or "" = all */
} store_stats_query;

/* One row of the answer. Strings point into the database's result: valid during the callback
 * only. A dimension not grouped by is NULL, and so is a leg's procedure when the clerk
 * recorded none. Averages are NAN when there is nothing to average. */
typedef struct store_stats_row {
	const char *month; /* YYYY-MM */
	const char *branch, *branch_name;
	const char *department, *department_name;
	const char *procedure, *procedure_name;
	long long visits, legs, answered, abandoned, onestop_visits;
	double avg_wait_s, avg_talk_s, avg_rating;
	long long booked_visits; /* visits started from a booking (migration 8) */
	long long interpreted_visits; /* visits with a guest interpreter (migration 9) */
} store_stats_row;

typedef struct store_stats {
	store_stats_row *rows;
	int n_rows;
} store_stats;

/* err 0 (st filled, possibly with no rows) or -1. */
typedef void (*store_stats_cb)(void *user, int err, const store_stats *st);

/* Rows ordered by month, then branch, department and procedure (sort keys of the directory).
 * Returns 0 or -1 (bad arguments: months out of order or out of 1..12). */
int store_stats_monthly(store *s, const store_stats_query *q, store_stats_cb cb, void *user);

#endif
