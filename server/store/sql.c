#include "store/sql.h"

#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record times arrive as integer microseconds since the epoch; this converts them exactly
 * (a double would round the last microsecond of present-day times). */
#define TS(n) "(timestamptz 'epoch' + $" #n "::bigint * interval '1 microsecond')"

static const char sql_kiosk[] = "SELECT k.id, k.name, k.branch_id, b.name"
                                " FROM kiosks k JOIN branches b ON b.id = k.branch_id"
                                " WHERE k.token_hash = $1::bytea AND k.revoked_at IS NULL";

/* One row per department membership (or one row with a NULL department), which avoids
 * parsing array literals. */
static const char sql_staff[] =
    "SELECT s.id, s.username, s.name, s.password_hash, s.coordinator, s.analyst, s.admin,"
    " sd.department_id"
    " FROM staff s LEFT JOIN staff_departments sd ON sd.staff_id = s.id"
    " WHERE s.username = $1 AND NOT s.disabled"
    " ORDER BY sd.department_id";

static const char sql_directory[] =
    "SELECT d.id, d.name, p.id, p.name"
    " FROM departments d LEFT JOIN procedures p ON p.department_id = d.id"
    " ORDER BY d.sort, d.id, p.sort, p.id";

/* Every record statement is idempotent, so a record sent again after a connection loss (it
 * may have committed just before) changes nothing. The branch is copied from the kiosk; an
 * unknown kiosk makes it NULL and the insert fails loudly instead of vanishing. */
static const char sql_visit_started[] =
    "INSERT INTO visits (id, kiosk_id, branch_id, started_at)"
    " VALUES ($1::uuid, $2::uuid, (SELECT branch_id FROM kiosks WHERE id = $2::uuid), " TS(
        3) ")"
           " ON CONFLICT (id) DO NOTHING";

/* Legs are numbered per visit in the order they were queued. Records are written one at a
 * time on one connection, so max + 1 cannot race; the unique (visit_id, seq) would catch it. */
static const char sql_leg_queued[] =
    "INSERT INTO legs (id, visit_id, seq, department_id, procedure_id, queued_at)"
    " VALUES ($1::uuid, $2::uuid,"
    " (SELECT coalesce(max(seq), 0) + 1 FROM legs WHERE visit_id = $2::uuid),"
    " $3, $4, " TS(5) ")"
                      " ON CONFLICT (id) DO NOTHING";

static const char sql_leg_answered[] =
    "UPDATE legs SET answered_at = " TS(2) ", staff_id = $3::uuid WHERE id = $1::uuid";

static const char sql_leg_ended[] = "UPDATE legs SET ended_at = " TS(
    2) ", outcome = $3,"
       " procedure_id = coalesce($4, procedure_id), note = coalesce($5, note)"
       " WHERE id = $1::uuid";

static const char sql_visit_ended[] =
    "UPDATE visits SET ended_at = " TS(2) ", end_reason = $3 WHERE id = $1::uuid";

void store_sql_query(enum store_query_kind kind, const char *key, struct store_sql *out)
{
	memset(out, 0, sizeof *out);
	switch (kind) {
	case STORE_Q_KIOSK:
		out->sql = sql_kiosk;
		break;
	case STORE_Q_STAFF:
		out->sql = sql_staff;
		break;
	case STORE_Q_DIRECTORY:
		out->sql = sql_directory;
		return;
	}
	out->n = 1;
	out->values[0] = key;
}

/* Empty optional text is stored as NULL, not as ''. */
static const char *opt(const char *s)
{
	return s[0] ? s : NULL;
}

void store_sql_record(const store_record *r, struct store_sql *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->at, sizeof out->at, "%" PRId64, r->at_us);
	const char **v = out->values;
	switch (r->kind) {
	case STORE_VISIT_STARTED:
		out->sql = sql_visit_started;
		out->n = 3;
		v[0] = r->visit, v[1] = r->kiosk_id, v[2] = out->at;
		break;
	case STORE_LEG_QUEUED:
		out->sql = sql_leg_queued;
		out->n = 5;
		v[0] = r->leg, v[1] = r->visit, v[2] = r->department, v[3] = opt(r->procedure);
		v[4] = out->at;
		break;
	case STORE_LEG_ANSWERED:
		out->sql = sql_leg_answered;
		out->n = 3;
		v[0] = r->leg, v[1] = out->at, v[2] = opt(r->staff_id);
		break;
	case STORE_LEG_ENDED:
		out->sql = sql_leg_ended;
		out->n = 5;
		v[0] = r->leg, v[1] = out->at, v[2] = opt(r->outcome), v[3] = opt(r->procedure);
		v[4] = opt(r->note);
		break;
	case STORE_VISIT_ENDED:
		out->sql = sql_visit_ended;
		out->n = 3;
		v[0] = r->visit, v[1] = out->at, v[2] = opt(r->outcome);
		break;
	}
}

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

int store_sql_record_check(const store_record *r)
{
	if (!TERMINATED(r->visit) || !TERMINATED(r->leg) || !TERMINATED(r->kiosk_id) ||
	    !TERMINATED(r->department) || !TERMINATED(r->procedure) || !TERMINATED(r->staff_id) ||
	    !TERMINATED(r->outcome) || !TERMINATED(r->note))
		return -1;
	if (r->at_us <= 0)
		return -1;
	switch (r->kind) {
	case STORE_VISIT_STARTED:
		return r->visit[0] && r->kiosk_id[0] ? 0 : -1;
	case STORE_LEG_QUEUED:
		return r->leg[0] && r->visit[0] && r->department[0] ? 0 : -1;
	case STORE_LEG_ANSWERED:
	case STORE_LEG_ENDED:
		return r->leg[0] ? 0 : -1;
	case STORE_VISIT_ENDED:
		return r->visit[0] ? 0 : -1;
	}
	return -1;
}

static void copy(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetvalue(res, row, col));
}

int store_sql_kiosk_result(const PGresult *res, store_kiosk *k)
{
	memset(k, 0, sizeof *k);
	if (PQntuples(res) < 1 || PQnfields(res) != 4)
		return 1;
	copy(k->id, sizeof k->id, res, 0, 0);
	copy(k->name, sizeof k->name, res, 0, 1);
	copy(k->branch_id, sizeof k->branch_id, res, 0, 2);
	copy(k->branch_name, sizeof k->branch_name, res, 0, 3);
	return 0;
}

int store_sql_staff_result(const PGresult *res, store_staff *st, char *hash, size_t cap)
{
	memset(st, 0, sizeof *st);
	int rows = PQntuples(res);
	if (rows < 1)
		return 1;
	if (PQnfields(res) != 8 || strlen(PQgetvalue(res, 0, 3)) >= cap)
		return -1;
	copy(st->id, sizeof st->id, res, 0, 0);
	copy(st->username, sizeof st->username, res, 0, 1);
	copy(st->name, sizeof st->name, res, 0, 2);
	copy(hash, cap, res, 0, 3);
	st->coordinator = PQgetvalue(res, 0, 4)[0] == 't';
	st->analyst = PQgetvalue(res, 0, 5)[0] == 't';
	st->admin = PQgetvalue(res, 0, 6)[0] == 't';
	for (int r = 0; r < rows; r++) {
		if (PQgetisnull(res, r, 7))
			continue;
		if (st->n_departments == STORE_MAX_DEPTS) {
			LOG_WARN("store", "staff in too many departments user=%s kept=%d",
			         st->username, STORE_MAX_DEPTS);
			break;
		}
		copy(st->departments[st->n_departments], STORE_ID_MAX, res, r, 7);
		st->n_departments++;
	}
	return 0;
}

int store_sql_directory_result(const PGresult *res, store_directory *d)
{
	memset(d, 0, sizeof *d);
	int rows = PQntuples(res);
	if (PQnfields(res) != 4)
		return -1;
	/* Rows come grouped by department, so a department starts where its id changes. */
	int n_depts = 0;
	for (int r = 0; r < rows; r++)
		if (r == 0 || strcmp(PQgetvalue(res, r, 0), PQgetvalue(res, r - 1, 0)) != 0)
			n_depts++;
	d->departments = calloc(n_depts ? (size_t)n_depts : 1, sizeof *d->departments);
	if (!d->departments)
		return -1;
	for (int r = 0, start = 0; r < rows; r = start) {
		while (start < rows &&
		       strcmp(PQgetvalue(res, start, 0), PQgetvalue(res, r, 0)) == 0)
			start++;
		store_department *dep = &d->departments[d->n_departments++];
		copy(dep->id, sizeof dep->id, res, r, 0);
		copy(dep->name, sizeof dep->name, res, r, 1);
		int n_procs = PQgetisnull(res, r, 2) ? 0 : start - r;
		if (n_procs == 0)
			continue;
		dep->procedures = calloc((size_t)n_procs, sizeof *dep->procedures);
		if (!dep->procedures) {
			store_sql_directory_free(d);
			return -1;
		}
		for (int i = 0; i < n_procs; i++) {
			copy(dep->procedures[i].id, STORE_ID_MAX, res, r + i, 2);
			copy(dep->procedures[i].name, STORE_NAME_MAX, res, r + i, 3);
		}
		dep->n_procedures = n_procs;
	}
	return 0;
}

void store_sql_directory_free(store_directory *d)
{
	for (int i = 0; i < d->n_departments; i++)
		free(d->departments[i].procedures);
	free(d->departments);
	d->departments = NULL;
	d->n_departments = 0;
}

const char *store_sql_query_name(enum store_query_kind kind)
{
	switch (kind) {
	case STORE_Q_KIOSK:
		return "auth_kiosk";
	case STORE_Q_STAFF:
		return "auth_staff";
	case STORE_Q_DIRECTORY:
		return "directory";
	}
	return "unknown";
}

const char *store_sql_record_name(enum store_record_kind kind)
{
	switch (kind) {
	case STORE_VISIT_STARTED:
		return "visit_started";
	case STORE_LEG_QUEUED:
		return "leg_queued";
	case STORE_LEG_ANSWERED:
		return "leg_answered";
	case STORE_LEG_ENDED:
		return "leg_ended";
	case STORE_VISIT_ENDED:
		return "visit_ended";
	}
	return "unknown";
}

int store_sql_error_is_permanent(const char *sqlstate)
{
	/* Class 22 is data exception (a malformed uuid, an out-of-range value), class 23
	 * integrity constraint violation (unknown department, missing visit). */
	return sqlstate && (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0);
}

void store_sql_bytea_text(const uint8_t *bytes, size_t len, char *out, size_t cap)
{
	if (cap < 3 + 2 * len) {
		if (cap)
			out[0] = '\0';
		return;
	}
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", bytes[i]);
}
