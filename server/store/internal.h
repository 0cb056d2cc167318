/* Helpers shared by the store's own files; nothing outside server/store includes this. */
#ifndef MDG_STORE_INTERNAL_H
#define MDG_STORE_INTERNAL_H

#include <libpq-fe.h>

/* Opens a blocking connection for the command line, with notices (such as "relation already
 * exists, skipping") kept off the terminal. Prints the reason on stderr and returns NULL on
 * failure. */
PGconn *store_sync_connect(const char *conninfo);

/* Migration 2's statements (migration_2.c), NULL-terminated. */
extern const char *const store_migration_2[];

/* ---- `madoguchi admin` helpers shared by admin.c and admin_counter.c ---- */

#define STORE_ADMIN_MAX_POS 6

/* The command line after OBJECT VERB: positional arguments and the known options. */
struct store_admin_args {
	const char *pos[STORE_ADMIN_MAX_POS];
	int n_pos;
	const char *name, *department, *branch, *flags, *sort, *ring_timeout, *steps;
	int json;
};

/* Each prints its reason on stderr and returns 0 when the value is bad. */
int store_admin_valid_id(const char *what, const char *id);
int store_admin_valid_name(const char *name);
int store_admin_valid_sort(const char *sort);
/* 0, or -1 for an unknown flag (message on stderr). */
int store_admin_parse_flags(const char *flags, int *coordinator, int *analyst, int *admin);
/* Explains a failed statement in the operator's terms; returns the exit code (1). */
int store_admin_report(const PGresult *res, const char *what, const char *id, const char *ref_what,
                       const char *ref_id);
/* Runs a query and prints its rows as tab-separated text or (json) a JSON array of objects;
 * columns named "x?" are booleans. Returns an exit code. */
int store_admin_list(PGconn *conn, const char *sql, int n, const char *const *params, int json);

/* admin_counter.c: department hours and ring strategy, one-stop menus, staff flags. */
int store_admin_counter_command(const char *object, const char *verb);
int store_admin_counter(PGconn *conn, const char *object, const char *verb,
                        const struct store_admin_args *a);

/* The first line of the server's error message, for one-line diagnostics. */
const char *store_result_error(const PGresult *res, char *buf, int cap);

/* ---- the asynchronous store's generic query (store.c), for other store files ---- */

struct store;

/* res is valid during the call only. err: 0 with the result of a statement that succeeded
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK); -1 with res NULL when it failed (logged), timed
 * out, or the store is being freed. */
typedef void (*store_result_cb)(void *user, int err, const PGresult *res);

/* Queues one parameterised statement (text parameters, NULL = SQL NULL; at most
 * STORE_SQL_MAX_PARAMS, copied) among the store's queries: same connection, same timeout
 * and the same priority over records as the built-in lookups. sql must be a string that
 * outlives the query (a literal). name labels it in log lines. Returns 0 or -1. */
int store_query_params(struct store *s, const char *name, const char *sql, int n,
                       const char *const *values, store_result_cb cb, void *user);

#endif
