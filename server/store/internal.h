/* Helpers shared by the store's own files; nothing outside server/store includes this. */
#ifndef MDG_STORE_INTERNAL_H
#define MDG_STORE_INTERNAL_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Opens a blocking connection for the command line, with notices (such as "relation already
 * exists, skipping") kept off the terminal. Prints the reason on stderr and returns NULL on
 * failure. */
PGconn *store_sync_connect(const char *conninfo);

/* Migrations 2 and 3 (migration_2.c, migration_3.c), NULL-terminated statements. */
extern const char *const store_migration_2[];
extern const char *const store_migration_3[];
extern const char *const store_migration_6[]; /* directory change notices (live.c) */
extern const char *const store_migration_4[];
extern const char *const store_migration_7[];
extern const char *const store_migration_8[];  /* bookings */
extern const char *const store_migration_9[];  /* guest legs, interpreted_visits */
extern const char *const store_migration_10[]; /* the node lease, visits.node (lease.c) */
extern const char *const store_migration_5[];  /* the status board */
extern const char *const store_migration_11[]; /* tenants (several cities) */

/* ---- `madoguchi admin` helpers shared by admin.c and admin_counter.c ---- */

#define STORE_ADMIN_MAX_POS 6

/* The command line after OBJECT VERB: positional arguments and the known options. */
struct store_admin_args {
	const char *pos[STORE_ADMIN_MAX_POS];
	int n_pos;
	const char *name, *department, *branch, *flags, *sort, *ring_timeout, *steps;
	const char *tenant, *hostname; /* tenant.c: --tenant T, --hostname H */
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
/* A secret (password, PIN) from the first line of stdin, without echo after prompt on a
 * terminal; malloc'd, or NULL at end of input. */
char *store_admin_read_secret(const char *prompt);

/* identity.c: 1 when id is a uuid in canonical text form (36 characters, dashes at 8, 13,
 * 18 and 23), else 0. Lookups check it before their query. */
int store_is_uuid(const char *id);

/* tenant.c: `admin tenant add|list`, and the scope every other admin command runs in: the
 * tenant (--tenant, default 'default') is checked and set as madoguchi.tenant on conn, so
 * migration 11's policies show and change only its rows. Both return an exit code. */
int store_admin_tenant(PGconn *conn, const char *verb, const struct store_admin_args *a);
int store_admin_tenant_scope(PGconn *conn, const char *tenant);

/* admin_health.c: `admin kiosk health [--json]`, the last self-test result of every kiosk. */
int store_admin_kiosk_health(PGconn *conn, int json);

/* admin_counter.c: department hours and ring strategy, one-stop menus, staff flags. */
int store_admin_counter_command(const char *object, const char *verb);
int store_admin_counter(PGconn *conn, const char *object, const char *verb,
                        const struct store_admin_args *a);

/* The first line of the server's error message, for one-line diagnostics. */
const char *store_result_error(const PGresult *res, char *buf, int cap);

/* ---- the asynchronous store's generic query (queries.c), for other store files ---- */

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

/* ---- the asynchronous store's own state, shared by store.c, queries.c and records.c ---- */

/* store.c owns the connection and decides what runs next; queries.c owns the query queue and
 * the staff password checks; records.c owns the record queue, the spool and the flush
 * waiters. Each file changes only its own fields, except that every file reads the
 * connection state. */

enum store_conn_state { STORE_CONN_DOWN, STORE_CONN_CONNECTING, STORE_CONN_UP };
enum store_busy { STORE_BUSY_NONE, STORE_BUSY_SETUP, STORE_BUSY_QUERY, STORE_BUSY_RECORD };

struct store_sql;
struct spool;

struct store {
	/* store.c: the connection and the operation in flight */
	uv_loop_t *loop;
	char *conninfo;
	PGconn *conn;
	enum store_conn_state state;
	uv_poll_t *poll; /* separately allocated: a closing handle may outlive a reconnect */
	int poll_events;
	uv_timer_t *tick;
	uint64_t connect_started, next_connect;
	unsigned connect_failures;
	enum store_busy busy;
	PGresult *result; /* the first result of the operation in flight */
	int hold;         /* a transient error: wait for the next tick before retrying */

	/* queries.c */
	struct query *queries, *queries_tail;
	struct staff_job *jobs;

	/* identity.c: who hears about revoked kiosks and changed staff credentials */
	store_ident_cb ident_cb;
	void *ident_user;

	/* live.c: who hears about directory changes (migration 6's notices) */
	store_directory_change_cb dir_cb;
	void *dir_user;

	/* records.c */
	struct record_node *records, *records_tail;
	int n_records;
	uint64_t records_pushed, records_done;
	unsigned record_failures;
	struct flush_waiter *waiters;
	struct spool *spool; /* NULL: records in memory only (tools and tests) */

	/* lease.c: this node's name (`node-id`) when two nodes share the database, else "":
	 * stamped on the visits it starts and scoping the start-up close (sql.c). */
	char node[64];
};

/* records.c: queues a record the store makes itself (STORE_CLOSE_INTERRUPTED at start-up,
 * STORE_CLOSE_TAKEOVER from lease.c), never spooled. Returns 0 or -1 (out of memory). */
int store_records_push_close(store *s, enum store_record_kind kind);

/* store.c. Sends the next operation when connected and idle: a waiting query first, else the
 * oldest record. Safe to call at any time. */
void store_kick(store *s);
/* libpq messages end in newlines and may contain quotes; log lines want neither. Returns buf. */
const char *store_one_line(const char *msg, char *buf, size_t cap);
/* For logging a repeated failure the first time and then ever more rarely. */
int store_power_of_two(unsigned n);

/* queries.c. Fills out with the statement of the head query; -1 when none is waiting. The
 * head stays queued (and out's values valid) until store_queries_finish. */
int store_queries_head_sql(const store *s, struct store_sql *out);
/* Pops the head query and answers it with res (the first result of its statement). */
void store_queries_finish(store *s, PGresult *res);
/* Fails the queries that waited longer than their timeout, except the one in flight. */
void store_queries_expire(store *s);
/* At store_free: answers every queued query and running password check with -1. */
void store_queries_cancel(store *s);
/* A running password check of that staff member (staff_id) or of anyone (NULL, after a
 * reconnection) may have read credentials that changed since: it will answer 1 (changed) or
 * -1 (reconnected) instead of 0. */
void store_queries_staff_changed(store *s, const char *staff_id);

/* identity.c. Reads the notices libpq has received (after every read on the connection) and
 * passes them to the identity listener. */
void store_identity_drain(store *s);
/* The connection is up and listening again: tells the listener to re-check everything. */
void store_identity_reconnected(store *s);

/* live.c. A notice on the channel madoguchi_directory (read by store_identity_drain, which
 * reads every notice of the connection) and the reconnection (after LISTEN is done again). */
#define STORE_DIRECTORY_CHANNEL "madoguchi_directory"
void store_live_notice(store *s, const char *payload);
void store_live_reconnected(store *s);

/* records.c. The oldest unconfirmed record, or NULL. */
const store_record *store_records_head(const store *s);
/* Takes the database's answer to the head record: pops it when confirmed or rejected for
 * good, or sets s->hold to retry a transient failure on the next tick. */
void store_records_finish(store *s, PGresult *res);
/* Queues what an earlier run left in the spool, then the crash-recovery record, ahead of
 * anything this run writes; opens the spool for appending, encrypted under the key in
 * key_path (NULL or "": path + ".key"; made on first use). Returns 0 or -1 (logged). */
int store_records_open_spool(store *s, const char *path, const char *key_path);
/* Answers the flush waiters with -1 and frees the queued records (not the spool). */
void store_records_free(store *s);

/* kiosk_pin.c: madoguchi admin kiosk pin KIOSK_ID [PIN] (PIN on stdin when absent). */
int store_admin_kiosk_pin(PGconn *conn, const struct store_admin_args *a);

#endif
