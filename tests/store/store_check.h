/* Helpers shared by the store tests that run against a real PostgreSQL (tests/store/run.sh
 * sets MADOGUCHI_TEST_DB): a synchronous scalar query, `madoguchi admin` with captured stdin
 * and stdout, and running the loop until something happened. */
#ifndef MDG_TEST_STORE_CHECK_H
#define MDG_TEST_STORE_CHECK_H

#include "base/clock.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* The conninfo the test runs as (the cluster's superuser). */
static const char *db;

/* Runs one SQL query and returns the first column of the first row ("" when none). */
static inline const char *scalar(PGconn *conn, const char *sql, int n, const char *const *params)
{
	static char buf[1024];
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	buf[0] = '\0';
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "query failed: %s", PQresultErrorMessage(res));
	else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		snprintf(buf, sizeof buf, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return buf;
}

/* Runs one statement; returns its status (PGRES_COMMAND_OK, PGRES_FATAL_ERROR, ...). */
static inline ExecStatusType exec_status(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	PQclear(res);
	return st;
}

/* Runs `madoguchi admin ARGS...` with the given text on stdin, capturing stdout into out. */
static inline int admin(const char *input, char *out, size_t cap, int argc, char **argv)
{
	int in_pipe[2];
	FILE *capture = tmpfile();
	if (pipe(in_pipe) != 0 || !capture)
		return -100;
	if (input && write(in_pipe[1], input, strlen(input)) < 0)
		return -100;
	close(in_pipe[1]);
	fflush(stdout);
	int saved_in = dup(0), saved_out = dup(1);
	dup2(in_pipe[0], 0);
	dup2(fileno(capture), 1);
	close(in_pipe[0]);
	clearerr(stdin);
	int rc = store_admin_main(db, argc, argv);
	fflush(stdout);
	dup2(saved_in, 0);
	dup2(saved_out, 1);
	close(saved_in);
	close(saved_out);
	clearerr(stdin);
	size_t n = 0;
	if (out) {
		rewind(capture);
		n = fread(out, 1, cap - 1, capture);
		out[n] = '\0';
	}
	fclose(capture);
	return rc;
}

#define ADMIN(input, out, ...)                                                                     \
	admin(input, out, sizeof(out), (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)),    \
	      (char *[]){__VA_ARGS__})

/* Runs the loop until *flag becomes non-zero or timeout_ms passes; returns the flag. The store's
 * one-second tick guarantees the loop wakes up. */
static inline int run_until(uv_loop_t *loop, const int *flag, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	while (!*flag && clock_mono_us() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	return *flag;
}

static inline int is_up_flag(store *s, uv_loop_t *loop, int want, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	while (store_is_up(s) != want && clock_mono_us() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	return store_is_up(s) == want;
}

/* Runs the loop for ms milliseconds whatever happens. */
static inline void run_for(uv_loop_t *loop, int ms)
{
	int64_t until = clock_mono_us() + (int64_t)ms * 1000;
	while (clock_mono_us() < until) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

#endif
