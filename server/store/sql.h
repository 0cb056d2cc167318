/* The SQL the asynchronous store runs, and the decoding of its results: kept apart from the
 * connection machinery in store.c so each can be read on its own. Internal to server/store. */
#ifndef MDG_STORE_SQL_H
#define MDG_STORE_SQL_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* STORE_Q_PARAMS is a statement supplied by another store file (store_query_params in
 * internal.h); its SQL does not come from store_sql_query. */
enum store_query_kind { STORE_Q_KIOSK, STORE_Q_STAFF, STORE_Q_DIRECTORY, STORE_Q_PARAMS };

#define STORE_SQL_MAX_PARAMS 7

/* One statement ready for PQsendQueryParams (text parameters; NULL values are SQL NULL).
 * values point into the record or key passed in, and into at, so those must outlive the send. */
struct store_sql {
	const char *sql;
	int n;
	const char *values[STORE_SQL_MAX_PARAMS];
	char at[24];
	char num[16];
};

/* key: the kiosk token digest as bytea text, or the username; unused for the directory. */
void store_sql_query(enum store_query_kind kind, const char *key, struct store_sql *out);
/* node: the store's node id ("" or NULL on a single node), stamped on started visits and
 * scoping the start-up close (migration 10). */
void store_sql_record(const store_record *r, const char *node, struct store_sql *out);
/* 0 when r is well-formed (known kind, terminated strings, required ids present), else -1. */
int store_sql_record_check(const store_record *r);

/* 0 found (k filled), 1 not found. */
int store_sql_kiosk_result(const PGresult *res, store_kiosk *k);
/* Rows of id, username, name, password hash, coordinator, analyst, admin, department,
 * cred_version. 0 found (st and the stored password hash filled), 1 not found, -1 unusable
 * row. */
int store_sql_staff_result(const PGresult *res, store_staff *st, char *hash, size_t cap);
/* 0 (d allocated: free with store_sql_directory_free) or -1. */
int store_sql_directory_result(const PGresult *res, store_directory *d);
void store_sql_directory_free(store_directory *d);

/* Whether an error with this SQLSTATE means the record itself is bad (data or constraint
 * error), so retrying can never succeed. Anything else may pass once the operator acts. */
int store_sql_error_is_permanent(const char *sqlstate);

/* Short names for log lines. */
const char *store_sql_query_name(enum store_query_kind kind);
const char *store_sql_record_name(enum store_record_kind kind);

/* Writes bytes as bytea hex input ("\x0a1b…"). */
void store_sql_bytea_text(const uint8_t *bytes, size_t len, char *out, size_t cap);

#endif
