/* `madoguchi admin ...`: the operator's command line for the directory (branches, departments,
 * procedures) and credentials (kiosks, staff). Synchronous libpq, one short connection per
 * command. Every value goes to the server as a query parameter and is stored verbatim.
 * Exit codes: 0 done, 1 the database refused or failed (message says why), 2 usage error. */
#include "base/rand.h"
#include "store/internal.h"
#include "store/password.h"
#include "store/sql.h"
#include "store/store.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define EXIT_DB           1
#define EXIT_USAGE        2
#define KIOSK_TOKEN_BYTES 32

/* SQLSTATE codes we explain in words rather than echo. */
#define SQLSTATE_UNIQUE      "23505"
#define SQLSTATE_FOREIGN_KEY "23503"
#define SQLSTATE_BAD_TEXT    "22P02"
/* A row that migration 11's policies refuse: it references another tenant's rows. */
#define SQLSTATE_RLS "42501"

#define args store_admin_args

static const char usage_text[] =
    "usage: madoguchi admin OBJECT VERB ...\n"
    "  branch add ID NAME [--sort N]        branch list [--json]\n"
    "  department add ID NAME [--sort N]    department list [--json]\n"
    "  procedure add ID NAME --department DEPT [--sort N]\n"
    "  procedure list [--json]\n"
    "  kiosk add --branch BRANCH --name NAME   (prints the token once)\n"
    "  kiosk list [--json]                  kiosk revoke KIOSK_ID\n"
    "  kiosk health [--json]                (the last self-test of every kiosk)\n"
    "  kiosk pin KIOSK_ID [PIN]   (staff-mode PIN, 4 to 8 digits; asked for when absent)\n"
    "  user add USERNAME --name NAME --department DEPT[,DEPT...]\n"
    "           [--flags coordinator,analyst,admin]   (password on stdin)\n"
    "  user list [--json]                   user passwd USERNAME   (password on stdin)\n"
    "  user disable USERNAME                user enable USERNAME\n"
    "  user flags USERNAME coordinator,analyst,admin   (replaces the flags; '' for none)\n"
    "  department set-hours DEPT WEEKDAY OPENS CLOSES [OPENS CLOSES]   (weekday 0=Sunday..6)\n"
    "  department clear-hours DEPT [WEEKDAY]   department hours [DEPT] [--json]\n"
    "  department set-strategy DEPT all|longest-idle [--ring-timeout SECONDS]\n"
    "  department rename DEPT NAME          department open|close DEPT\n"
    "  department remove DEPT   (only without call history, staff or menus; else close)\n"
    "  onestop add ID NAME --steps DEPT,DEPT,... [--sort N]\n"
    "  onestop list [--json]                onestop remove ID\n"
    "  tenant add ID [--name NAME] [--hostname HOST]   tenant list [--json]\n"
    "Every command but tenant takes --tenant ID (default: the tenant 'default') and sees\n"
    "and changes only that tenant's branches, departments, kiosks, staff and menus.\n";

/* The whole usage text when the command itself is unknown; otherwise just the reason. */
static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "error: %s (run 'madoguchi admin' for usage)\n", why);
	else
		fputs(usage_text, stderr);
	return EXIT_USAGE;
}

/* Splits argv (after object and verb) into positional arguments and the known options. */
static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		const char **slot = NULL;
		if (strcmp(arg, "--json") == 0) {
			a->json = 1;
			continue;
		}
		if (strcmp(arg, "--name") == 0)
			slot = &a->name;
		else if (strcmp(arg, "--department") == 0)
			slot = &a->department;
		else if (strcmp(arg, "--branch") == 0)
			slot = &a->branch;
		else if (strcmp(arg, "--flags") == 0)
			slot = &a->flags;
		else if (strcmp(arg, "--sort") == 0)
			slot = &a->sort;
		else if (strcmp(arg, "--ring-timeout") == 0)
			slot = &a->ring_timeout;
		else if (strcmp(arg, "--steps") == 0)
			slot = &a->steps;
		else if (strcmp(arg, "--tenant") == 0)
			slot = &a->tenant;
		else if (strcmp(arg, "--hostname") == 0)
			slot = &a->hostname;
		if (slot) {
			if (i + 1 >= argc) {
				fprintf(stderr, "error: %s needs a value\n", arg);
				return -1;
			}
			*slot = argv[++i];
			continue;
		}
		if (strncmp(arg, "--", 2) == 0) {
			fprintf(stderr, "error: unknown option %s\n", arg);
			return -1;
		}
		if (a->n_pos >= STORE_ADMIN_MAX_POS) {
			fprintf(stderr, "error: unexpected argument '%s'\n", arg);
			return -1;
		}
		a->pos[a->n_pos++] = arg;
	}
	return 0;
}

/* Ids are short operator-chosen codes that also travel in URLs and JSON messages, so they are
 * restricted to a plain ASCII set; names are free text. */
int store_admin_valid_id(const char *what, const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n >= STORE_ID_MAX) {
		fprintf(stderr, "error: %s must be 1 to %d characters\n", what, STORE_ID_MAX - 1);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '@';
		if (!ok) {
			fprintf(stderr,
			        "error: %s '%s' may only contain letters, digits and - _ . @\n",
			        what, id);
			return 0;
		}
	}
	return 1;
}

int store_admin_valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= STORE_NAME_MAX) {
		fprintf(stderr, "error: name must be 1 to %d bytes\n", STORE_NAME_MAX - 1);
		return 0;
	}
	return 1;
}

int store_admin_valid_sort(const char *sort)
{
	if (!sort)
		return 1;
	char *end = NULL;
	long v = strtol(sort, &end, 10);
	if (*sort == '\0' || *end != '\0' || v < -1000000 || v > 1000000) {
		fprintf(stderr, "error: --sort needs an integer\n");
		return 0;
	}
	return 1;
}

static PGresult *run(PGconn *conn, const char *sql, int n, const char *const *params)
{
	return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

static int sqlstate_is(const PGresult *res, const char *code)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return st && strcmp(st, code) == 0;
}

/* Explains a failed command in the operator's terms; returns the exit code. */
int store_admin_report(const PGresult *res, const char *what, const char *id, const char *ref_what,
                       const char *ref_id)
{
	char err[256];
	if (sqlstate_is(res, SQLSTATE_UNIQUE))
		fprintf(stderr, "error: %s '%s' already exists\n", what, id);
	else if (sqlstate_is(res, SQLSTATE_FOREIGN_KEY) && ref_what)
		fprintf(stderr, "error: unknown %s '%s'\n", ref_what, ref_id ? ref_id : "");
	else if (sqlstate_is(res, SQLSTATE_RLS) && ref_what)
		fprintf(stderr, "error: unknown %s '%s' in this tenant\n", ref_what,
		        ref_id ? ref_id : "");
	else if (sqlstate_is(res, SQLSTATE_BAD_TEXT))
		fprintf(stderr, "error: '%s' is not a valid %s id\n", id, what);
	else
		fprintf(stderr, "error: %s\n", store_result_error(res, err, sizeof err));
	return EXIT_DB;
}

static int command_ok(PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Prints a query result as tab-separated lines under a header, or as a JSON array of objects
 * (columns whose name ends in "?" are booleans and lose the mark). */
static int print_rows(PGresult *res, int json)
{
	int rows = PQntuples(res), cols = PQnfields(res);
	if (!json) {
		for (int c = 0; c < cols; c++) {
			const char *name = PQfname(res, c);
			size_t len = strlen(name);
			printf("%.*s%s", (int)(len && name[len - 1] == '?' ? len - 1 : len), name,
			       c + 1 < cols ? "\t" : "\n");
		}
		for (int r = 0; r < rows; r++)
			for (int c = 0; c < cols; c++)
				printf("%s%s", PQgetvalue(res, r, c), c + 1 < cols ? "\t" : "\n");
		return 0;
	}
	json_t *arr = json_array();
	for (int r = 0; r < rows; r++) {
		json_t *obj = json_object();
		for (int c = 0; c < cols; c++) {
			char key[64];
			snprintf(key, sizeof key, "%s", PQfname(res, c));
			size_t len = strlen(key);
			int is_bool = len && key[len - 1] == '?';
			if (is_bool)
				key[len - 1] = '\0';
			json_t *v;
			if (PQgetisnull(res, r, c))
				v = json_null();
			else if (is_bool)
				v = json_boolean(PQgetvalue(res, r, c)[0] == 't');
			else if (PQftype(res, c) == 23 /* int4 */)
				v = json_integer(strtoll(PQgetvalue(res, r, c), NULL, 10));
			else
				v = json_string(PQgetvalue(res, r, c));
			json_object_set_new(obj, key, v);
		}
		json_array_append_new(arr, obj);
	}
	int rc = json_dumpf(arr, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(arr);
	return rc == 0 ? 0 : -1;
}

int store_admin_list(PGconn *conn, const char *sql, int n, const char *const *params, int json)
{
	PGresult *res = run(conn, sql, n, params);
	int rc = command_ok(res) ? (print_rows(res, json) == 0 ? 0 : EXIT_DB)
	                         : store_admin_report(res, "", "", NULL, NULL);
	PQclear(res);
	return rc;
}

/* ---- branches, departments, procedures ---- */

static int add_simple(PGconn *conn, const char *what, const char *sql, const struct args *a,
                      const char *ref_what, const char *ref_id)
{
	const char *params[] = {a->pos[0], a->pos[1], a->sort ? a->sort : "0", ref_id};
	PGresult *res = run(conn, sql, ref_id ? 4 : 3, params);
	int rc = 0;
	if (command_ok(res))
		printf("%s %s added\n", what, a->pos[0]);
	else
		rc = store_admin_report(res, what, a->pos[0], ref_what, ref_id);
	PQclear(res);
	return rc;
}

static int cmd_directory(PGconn *conn, const char *object, const char *verb, const struct args *a)
{
	int is_branch = strcmp(object, "branch") == 0;
	int is_proc = strcmp(object, "procedure") == 0;
	if (strcmp(verb, "list") == 0) {
		if (is_branch)
			return store_admin_list(
			    conn, "SELECT id, name, sort FROM branches ORDER BY sort, id", 0, NULL,
			    a->json);
		if (is_proc)
			return store_admin_list(
			    conn,
			    "SELECT p.id, p.department_id AS department, p.name, p.sort"
			    " FROM procedures p JOIN departments d ON d.id = p.department_id"
			    " ORDER BY d.sort, d.id, p.sort, p.id",
			    0, NULL, a->json);
		return store_admin_list(conn,
		                        "SELECT id, name, sort, open AS \"open?\", ring_strategy,"
		                        " ring_timeout_s FROM departments ORDER BY sort, id",
		                        0, NULL, a->json);
	}
	if (strcmp(verb, "add") != 0)
		return usage("unknown verb");
	if (a->n_pos != 2)
		return usage("add needs ID and NAME");
	if (!store_admin_valid_id(object, a->pos[0]) || !store_admin_valid_name(a->pos[1]) ||
	    !store_admin_valid_sort(a->sort))
		return EXIT_USAGE;
	if (is_branch)
		return add_simple(conn, "branch",
		                  "INSERT INTO branches (id, name, sort) VALUES ($1, $2, $3)", a,
		                  NULL, NULL);
	if (!is_proc)
		return add_simple(conn, "department",
		                  "INSERT INTO departments (id, name, sort) VALUES ($1, $2, $3)", a,
		                  NULL, NULL);
	if (!a->department)
		return usage("procedure add needs --department DEPT");
	return add_simple(conn, "procedure",
	                  "INSERT INTO procedures (id, name, sort, department_id)"
	                  " VALUES ($1, $2, $3, $4)",
	                  a, "department", a->department);
}

/* ---- kiosks ---- */

static int kiosk_add(PGconn *conn, const char *branch, const char *name, char *token_out,
                     size_t cap, char *id_out, size_t id_cap)
{
	uint8_t digest[PASSWORD_DIGEST_LEN];
	char token[4 * KIOSK_TOKEN_BYTES / 3 + 2];
	char hex[2 + 2 * PASSWORD_DIGEST_LEN + 1];
	if (cap < sizeof token) {
		fprintf(stderr, "error: token buffer too small\n");
		return -1;
	}
	if (rand_token(token, KIOSK_TOKEN_BYTES) != 0 || password_token_digest(token, digest)) {
		fprintf(stderr, "error: cannot generate a token (CSPRNG failure)\n");
		return -1;
	}
	store_sql_bytea_text(digest, sizeof digest, hex, sizeof hex);
	const char *params[] = {branch, name, hex};
	PGresult *res = run(conn,
	                    "INSERT INTO kiosks (branch_id, name, token_hash)"
	                    " VALUES ($1, $2, $3::bytea) RETURNING id",
	                    3, params);
	int rc = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		memcpy(token_out, token, strlen(token) + 1);
		if (id_out)
			snprintf(id_out, id_cap, "%s", PQgetvalue(res, 0, 0));
	} else {
		store_admin_report(res, "kiosk", name, "branch", branch);
		rc = -1;
	}
	OPENSSL_cleanse(token, sizeof token);
	PQclear(res);
	return rc;
}

int store_admin_kiosk_add(const char *conninfo, const char *branch, const char *name,
                          char *token_out, size_t cap)
{
	if (!token_out || !store_admin_valid_id("branch", branch) || !store_admin_valid_name(name))
		return -1;
	PGconn *conn = store_sync_connect(conninfo);
	if (!conn)
		return -1;
	int rc = kiosk_add(conn, branch, name, token_out, cap, NULL, 0);
	PQfinish(conn);
	return rc;
}

static int kiosk_revoke(PGconn *conn, const char *id)
{
	const char *params[] = {id};
	PGresult *res = run(conn,
	                    "UPDATE kiosks SET revoked_at = coalesce(revoked_at, now())"
	                    " WHERE id = $1::uuid RETURNING revoked_at < now()",
	                    1, params);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = store_admin_report(res, "kiosk", id, NULL, NULL);
	} else if (PQntuples(res) == 0) {
		fprintf(stderr, "error: unknown kiosk '%s'\n", id);
		rc = EXIT_DB;
	} else if (PQgetvalue(res, 0, 0)[0] == 't') {
		printf("kiosk %s was already revoked\n", id);
	} else {
		printf("kiosk %s revoked\n", id);
	}
	PQclear(res);
	return rc;
}

static int cmd_kiosk(PGconn *conn, const char *verb, const struct args *a)
{
	if (strcmp(verb, "list") == 0)
		return store_admin_list(
		    conn,
		    "SELECT k.id, k.branch_id AS branch, k.name,"
		    " to_char(k.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SSOF') AS created_at,"
		    " k.revoked_at IS NOT NULL AS \"revoked?\""
		    " FROM kiosks k ORDER BY k.branch_id, k.created_at, k.id",
		    0, NULL, a->json);
	if (strcmp(verb, "health") == 0)
		return a->n_pos ? usage("kiosk health takes no arguments")
		                : store_admin_kiosk_health(conn, a->json);
	if (strcmp(verb, "revoke") == 0) {
		if (a->n_pos != 1)
			return usage("kiosk revoke needs KIOSK_ID");
		return kiosk_revoke(conn, a->pos[0]);
	}
	if (strcmp(verb, "add") != 0)
		return usage("unknown verb");
	if (a->n_pos != 0 || !a->branch || !a->name)
		return usage("kiosk add needs --branch BRANCH --name NAME");
	if (!store_admin_valid_id("branch", a->branch) || !store_admin_valid_name(a->name))
		return EXIT_USAGE;
	char token[4 * KIOSK_TOKEN_BYTES / 3 + 2], id[64];
	if (kiosk_add(conn, a->branch, a->name, token, sizeof token, id, sizeof id) != 0)
		return EXIT_DB;
	printf("%s\n", token);
	fflush(stdout);
	OPENSSL_cleanse(token, sizeof token);
	fprintf(stderr,
	        "kiosk %s added to branch %s. The token above is shown only this once: put it in\n"
	        "the kiosk's configuration now. To replace a lost token, revoke the kiosk and add "
	        "it again.\n",
	        id, a->branch);
	return 0;
}

/* ---- staff ---- */

int store_admin_parse_flags(const char *flags, int *coordinator, int *analyst, int *admin)
{
	*coordinator = *analyst = *admin = 0;
	if (!flags)
		return 0;
	const char *p = flags;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 11 && strncmp(p, "coordinator", n) == 0)
			*coordinator = 1;
		else if (n == 7 && strncmp(p, "analyst", n) == 0)
			*analyst = 1;
		else if (n == 5 && strncmp(p, "admin", n) == 0)
			*admin = 1;
		else if (n > 0) {
			fprintf(stderr,
			        "error: unknown flag '%.*s' (coordinator, analyst, admin)\n",
			        (int)n, p);
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Inserts the staff row and its department memberships in one transaction. */
static int user_add(PGconn *conn, const char *username, const char *name, const char *depts,
                    int coordinator, int analyst, int admin, const char *hash)
{
	PGresult *res = PQexec(conn, "BEGIN");
	PQclear(res);
	const char *params[] = {
	    username, name, hash, coordinator ? "t" : "f", analyst ? "t" : "f", admin ? "t" : "f"};
	res = run(conn,
	          "INSERT INTO staff (username, name, password_hash, coordinator, analyst, admin)"
	          " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	          6, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_admin_report(res, "user", username, NULL, NULL);
		goto fail;
	}
	char staff_id[64];
	snprintf(staff_id, sizeof staff_id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	for (const char *p = depts ? depts : ""; *p;) {
		char dept[STORE_ID_MAX];
		size_t n = strcspn(p, ",");
		if (n > 0) {
			snprintf(dept, sizeof dept, "%.*s", (int)n, p);
			const char *dp[] = {staff_id, dept};
			res = run(conn,
			          "INSERT INTO staff_departments (staff_id, department_id)"
			          " VALUES ($1, $2) ON CONFLICT DO NOTHING",
			          2, dp);
			if (!command_ok(res)) {
				store_admin_report(res, "user", username, "department", dept);
				goto fail;
			}
			PQclear(res);
			res = NULL;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	res = PQexec(conn, "COMMIT");
	if (!command_ok(res)) {
		store_admin_report(res, "user", username, NULL, NULL);
		goto fail;
	}
	PQclear(res);
	return 0;
fail:
	PQclear(res);
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

static int valid_departments(const char *depts)
{
	for (const char *p = depts ? depts : ""; *p;) {
		char dept[STORE_ID_MAX + 1];
		size_t n = strcspn(p, ",");
		snprintf(dept, sizeof dept, "%.*s", (int)(n < STORE_ID_MAX ? n : STORE_ID_MAX), p);
		if (n > 0 && !store_admin_valid_id("department", dept))
			return 0;
		p += n;
		if (*p == ',')
			p++;
	}
	return 1;
}

/* Validates, hashes and inserts one staff member on an open connection. Returns 0 or -1. */
static int user_add_checked(PGconn *conn, const char *username, const char *name,
                            const char *departments, const char *flags, const char *password)
{
	int coordinator, analyst, admin;
	char hash[PASSWORD_HASH_MAX];
	if (!store_admin_valid_id("username", username) || !store_admin_valid_name(name) ||
	    !valid_departments(departments) ||
	    store_admin_parse_flags(flags, &coordinator, &analyst, &admin))
		return -1;
	if (!password || !*password) {
		fprintf(stderr, "error: the password must not be empty\n");
		return -1;
	}
	if (password_hash(password, hash, sizeof hash) != 0) {
		fprintf(stderr, "error: cannot hash the password\n");
		return -1;
	}
	return user_add(conn, username, name, departments, coordinator, analyst, admin, hash);
}

int store_admin_user_add(const char *conninfo, const char *username, const char *name,
                         const char *departments, const char *flags, const char *password)
{
	PGconn *conn = store_sync_connect(conninfo);
	if (!conn)
		return -1;
	int rc = user_add_checked(conn, username, name, departments, flags, password);
	PQfinish(conn);
	return rc;
}

/* Reads a secret from the first line of stdin, without echo (after prompt, on stderr) when
 * stdin is a terminal; the line end is dropped. A malloc'd string, or NULL at end of input. */
char *store_admin_read_secret(const char *prompt)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fputs(prompt, stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *read_password(void)
{
	return store_admin_read_secret("password: ");
}

static void free_password(char *pw)
{
	if (pw) {
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
	}
}

static int user_passwd(PGconn *conn, const char *username, const char *password)
{
	char hash[PASSWORD_HASH_MAX];
	if (password_hash(password, hash, sizeof hash) != 0) {
		fprintf(stderr, "error: cannot hash the password\n");
		return EXIT_DB;
	}
	const char *params[] = {username, hash};
	PGresult *res =
	    run(conn, "UPDATE staff SET password_hash = $2 WHERE username = $1", 2, params);
	int rc = 0;
	if (!command_ok(res))
		rc = store_admin_report(res, "user", username, NULL, NULL);
	else if (strcmp(PQcmdTuples(res), "0") == 0) {
		fprintf(stderr, "error: unknown user '%s'\n", username);
		rc = EXIT_DB;
	} else
		printf("password of %s changed\n", username);
	PQclear(res);
	return rc;
}

static int user_set_disabled(PGconn *conn, const char *username, int disabled)
{
	const char *params[] = {username, disabled ? "t" : "f"};
	PGresult *res = run(conn, "UPDATE staff SET disabled = $2 WHERE username = $1", 2, params);
	int rc = 0;
	if (!command_ok(res))
		rc = store_admin_report(res, "user", username, NULL, NULL);
	else if (strcmp(PQcmdTuples(res), "0") == 0) {
		fprintf(stderr, "error: unknown user '%s'\n", username);
		rc = EXIT_DB;
	} else
		printf("user %s %s\n", username, disabled ? "disabled" : "enabled");
	PQclear(res);
	return rc;
}

static int cmd_user(PGconn *conn, const char *verb, const struct args *a)
{
	if (strcmp(verb, "list") == 0)
		return store_admin_list(
		    conn,
		    "SELECT s.username, s.name,"
		    " coalesce(string_agg(sd.department_id, ',' ORDER BY sd.department_id),"
		    " '') AS departments,"
		    " s.coordinator AS \"coordinator?\", s.analyst AS \"analyst?\","
		    " s.admin AS \"admin?\", s.disabled AS \"disabled?\""
		    " FROM staff s LEFT JOIN staff_departments sd ON sd.staff_id = s.id"
		    " GROUP BY s.id ORDER BY s.username",
		    0, NULL, a->json);
	if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0) {
		if (a->n_pos != 1)
			return usage("user disable/enable needs USERNAME");
		return user_set_disabled(conn, a->pos[0], verb[0] == 'd');
	}
	int add = strcmp(verb, "add") == 0;
	if (!add && strcmp(verb, "passwd") != 0)
		return usage("unknown verb");
	if (a->n_pos != 1)
		return usage("needs USERNAME");
	int c, an, ad;
	if (add && (!a->name || (!a->department && !a->flags)))
		return usage("user add needs --name NAME and --department DEPT[,DEPT...]");
	if (!store_admin_valid_id("username", a->pos[0]) ||
	    (add && (!store_admin_valid_name(a->name) || !valid_departments(a->department) ||
	             store_admin_parse_flags(a->flags, &c, &an, &ad) != 0)))
		return EXIT_USAGE;
	char *pw = read_password();
	if (!pw || !*pw) {
		free_password(pw);
		fprintf(stderr, "error: no password on stdin (the first line is the password)\n");
		return EXIT_USAGE;
	}
	int rc;
	if (add) {
		rc = user_add_checked(conn, a->pos[0], a->name, a->department, a->flags, pw)
		         ? EXIT_DB
		         : 0;
		if (rc == 0)
			printf("user %s added\n", a->pos[0]);
	} else {
		rc = user_passwd(conn, a->pos[0], pw);
	}
	free_password(pw);
	return rc;
}

/* Checked before connecting, so a typo is a usage error even when the database is away. */
static int known_command(const char *object, const char *verb)
{
	static const char *const commands[][2] = {
	    {"branch", "add"},
	    {"branch", "list"},
	    {"department", "add"},
	    {"department", "list"},
	    {"procedure", "add"},
	    {"procedure", "list"},
	    {"kiosk", "add"},
	    {"kiosk", "list"},
	    {"kiosk", "revoke"},
	    {"kiosk", "health"},
	    {"kiosk", "pin"},
	    {"user", "add"},
	    {"user", "list"},
	    {"user", "passwd"},
	    {"user", "disable"},
	    {"user", "enable"},
	    {"user", "flags"},
	    {"department", "set-hours"},
	    {"department", "clear-hours"},
	    {"department", "hours"},
	    {"department", "set-strategy"},
	    {"onestop", "add"},
	    {"onestop", "list"},
	    {"onestop", "remove"},
	    {"tenant", "add"},
	    {"tenant", "list"},
	};
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i][0], object) == 0 && strcmp(commands[i][1], verb) == 0)
			return 1;
	return store_admin_counter_command(object, verb);
}

int store_admin_main(const char *conninfo, int argc, char **argv)
{
	struct args a;
	/* --tenant T may also come first: `admin --tenant T kiosk list`. */
	const char *lead_tenant = NULL;
	if (argc >= 2 && strcmp(argv[0], "--tenant") == 0) {
		lead_tenant = argv[1];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		return usage(NULL);
	if (parse_args(argc, argv, &a) != 0)
		return EXIT_USAGE;
	if (lead_tenant && a.tenant && strcmp(lead_tenant, a.tenant) != 0)
		return usage("two different --tenant");
	if (lead_tenant)
		a.tenant = lead_tenant;
	const char *object = argv[0], *verb = argv[1];
	int directory = strcmp(object, "branch") == 0 || strcmp(object, "department") == 0 ||
	                strcmp(object, "procedure") == 0;
	if (!known_command(object, verb)) {
		fprintf(stderr, "error: unknown command '%s %s'\n", object, verb);
		return usage(NULL);
	}
	PGconn *conn = store_sync_connect(conninfo);
	if (!conn)
		return EXIT_DB;
	int rc;
	if (strcmp(object, "tenant") == 0) {
		rc = store_admin_tenant(conn, verb, &a);
		PQfinish(conn);
		return rc;
	}
	if ((rc = store_admin_tenant_scope(conn, a.tenant ? a.tenant : "default")) != 0) {
		PQfinish(conn);
		return rc;
	}
	if (store_admin_counter_command(object, verb))
		rc = store_admin_counter(conn, object, verb, &a);
	else if (directory)
		rc = cmd_directory(conn, object, verb, &a);
	else if (strcmp(object, "kiosk") == 0 && strcmp(verb, "pin") == 0)
		rc = store_admin_kiosk_pin(conn, &a);
	else if (strcmp(object, "kiosk") == 0)
		rc = cmd_kiosk(conn, verb, &a);
	else
		rc = cmd_user(conn, verb, &a);
	PQfinish(conn);
	return rc;
}
