/* Tenants (several cities on one installation; migration 11): `madoguchi admin tenant add`
 * and `tenant list`, and the scope every other admin command runs in. */
#include "store/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_DB    1
#define EXIT_USAGE 2
/* An analyst role is named madoguchi_analyst_<id>; PostgreSQL names hold 63 bytes. */
#define TENANT_ID_MAX 40

static int ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int store_admin_tenant_scope(PGconn *conn, const char *tenant)
{
	const char *p[] = {tenant};
	PGresult *res = PQexecParams(conn,
	                             "SELECT set_config('madoguchi.tenant', id, false)"
	                             " FROM tenants WHERE id = $1",
	                             1, NULL, p, NULL, NULL, 0);
	int rc = 0;
	if (!ok(res)) {
		rc = store_admin_report(res, "tenant", tenant, NULL, NULL);
	} else if (PQntuples(res) != 1) {
		fprintf(stderr, "error: unknown tenant '%s' (madoguchi admin tenant list)\n", tenant);
		rc = EXIT_DB;
	}
	PQclear(res);
	return rc;
}

/* A host name as the Host header carries it: lower case letters, digits, '-' and '.'. */
static int valid_hostname(const char *h, char *out, size_t cap)
{
	size_t n = strlen(h);
	if (n == 0 || n >= cap || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)h[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		out[i] = c;
	}
	out[n] = '\0';
	return 1;
}

/* Runs one statement built with the role's quoted name; 0 or -1 (reported). */
static int exec_role(PGconn *conn, const char *fmt, const char *quoted)
{
	char sql[512];
	snprintf(sql, sizeof sql, fmt, quoted);
	PGresult *res = PQexec(conn, sql);
	int rc = ok(res) ? 0 : -1;
	if (rc)
		store_admin_report(res, "tenant", "", NULL, NULL);
	PQclear(res);
	return rc;
}

/* The tenant's row and its analyst role (made when missing: roles are cluster-wide), with
 * exactly the rights madoguchi_analyst has, in one transaction. */
static int tenant_add(PGconn *conn, const char *id, const char *name, const char *hostname)
{
	char role[80];
	snprintf(role, sizeof role, "madoguchi_analyst_%s", id);
	char *quoted = PQescapeIdentifier(conn, role, strlen(role));
	if (!quoted) {
		fprintf(stderr, "error: out of memory\n");
		return EXIT_DB;
	}
	PQclear(PQexec(conn, "BEGIN"));
	const char *p[] = {id, name, hostname, role};
	PGresult *res = PQexecParams(conn,
	                             "INSERT INTO tenants (id, name, hostname, analyst_role)"
	                             " VALUES ($1, $2, $3, $4)",
	                             4, NULL, p, NULL, NULL, 0);
	int rc = ok(res) ? 0 : -1;
	if (rc) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
		if (st && strcmp(st, "23505") == 0 && constraint && strstr(constraint, "hostname"))
			fprintf(stderr, "error: hostname '%s' already belongs to a tenant\n",
			        hostname);
		else
			store_admin_report(res, "tenant", id, NULL, NULL);
	}
	PQclear(res);
	if (rc == 0) {
		const char *rp[] = {role};
		res = PQexecParams(conn, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, NULL, rp,
		                   NULL, NULL, 0);
		int exists = ok(res) && PQntuples(res) == 1;
		PQclear(res);
		res = PQexec(conn, "SELECT rolcreaterole OR rolsuper FROM pg_roles"
		                   " WHERE rolname = current_user");
		int may_create = ok(res) && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (!exists && may_create) {
			rc = exec_role(conn, "CREATE ROLE %s NOLOGIN", quoted);
		} else if (!exists) {
			/* The owner normally may not create roles (CREATEROLE would let it grant
			 * itself far more): the database administrator makes this one, as the
			 * install makes madoguchi_analyst. */
			fprintf(stderr,
			        "error: the role %s does not exist and this role may not create it;\n"
			        "  as a superuser run: CREATE ROLE %s NOLOGIN;\n"
			        "  then run this command again\n",
			        role, quoted);
			rc = -1;
		}
	}
	if (rc == 0)
		rc = exec_role(conn, "GRANT USAGE ON SCHEMA public TO %s", quoted);
	if (rc == 0)
		rc = exec_role(conn, "GRANT SELECT ON usage_daily, usage_monthly TO %s", quoted);
	if (rc == 0)
		rc = exec_role(conn,
		               "GRANT EXECUTE ON FUNCTION madoguchi_analyst_branches(name) TO %s",
		               quoted);
	if (rc == 0) {
		res = PQexec(conn, "COMMIT");
		rc = ok(res) ? 0 : -1;
		if (rc)
			store_admin_report(res, "tenant", id, NULL, NULL);
		PQclear(res);
	}
	if (rc) {
		PQclear(PQexec(conn, "ROLLBACK"));
		PQfreemem(quoted);
		return EXIT_DB;
	}
	printf("tenant %s added; its analysts' role is %s\n", id, role);
	PQfreemem(quoted);
	return 0;
}

int store_admin_tenant(PGconn *conn, const char *verb, const struct store_admin_args *a)
{
	if (a->tenant) {
		fprintf(stderr, "error: tenant commands take no --tenant\n");
		return EXIT_USAGE;
	}
	if (strcmp(verb, "list") == 0)
		return store_admin_list(conn,
		                        "SELECT id, name, coalesce(hostname, '') AS hostname,"
		                        " analyst_role FROM tenants ORDER BY created_at, id",
		                        0, NULL, a->json);
	if (a->n_pos != 1) {
		fprintf(stderr, "error: tenant add needs ID (run 'madoguchi admin' for usage)\n");
		return EXIT_USAGE;
	}
	const char *id = a->pos[0];
	if (!store_admin_valid_id("tenant", id))
		return EXIT_USAGE;
	if (strlen(id) > TENANT_ID_MAX) {
		fprintf(stderr, "error: a tenant id has at most %d characters\n", TENANT_ID_MAX);
		return EXIT_USAGE;
	}
	const char *name = a->name ? a->name : id;
	if (!store_admin_valid_name(name))
		return EXIT_USAGE;
	char host[256];
	if (a->hostname && !valid_hostname(a->hostname, host, sizeof host)) {
		fprintf(stderr, "error: --hostname takes a host name (letters, digits, - and .)\n");
		return EXIT_USAGE;
	}
	return tenant_add(conn, id, name, a->hostname ? host : NULL);
}
