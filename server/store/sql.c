#include "store/sql.h"

#include "base/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record times arrive as integer microseconds since the epoch; this converts them exactly
 * (a double would round the last microsecond of present-day times). */
#define TS(n) "(timestamptz 'epoch' + $" #n "::bigint * interval '1 microsecond')"

static const char sql_kiosk[] = "SELECT k.id, k.name, k.branch_id, b.name, b.tenant_id"
                                " FROM kiosks k JOIN branches b ON b.id = k.branch_id"
                                " WHERE k.token_hash = $1::bytea AND k.revoked_at IS NULL";

/* One row per department membership (or one row with a NULL department), which avoids
 * parsing array literals. */
static const char sql_staff[] =
    "SELECT s.id, s.username, s.name, s.password_hash, s.coordinator, s.analyst, s.admin,"
    " sd.department_id, s.cred_version, s.tenant_id"
    " FROM staff s LEFT JOIN staff_departments sd ON sd.staff_id = s.id"
    " WHERE s.username = $1 AND NOT s.disabled"
    " ORDER BY sd.department_id";

/* The directory is one JSON document: departments (with procedures, ring strategy and
 * business hours), one-stop menus and the tenants (migration 11) with their host names, so
 * that it arrives in one round trip and one consistent snapshot. Hours are minutes since
 * local midnight. */
static const char sql_directory[] =
    "SELECT json_build_object("
    " 'tenants', (SELECT coalesce(json_agg(json_build_object('id', t.id,"
    "   'hostname', t.hostname) ORDER BY t.id), '[]') FROM tenants t),"
    " 'departments', (SELECT coalesce(json_agg(json_build_object("
    "   'id', d.id, 'name', d.name, 'ring', d.ring_strategy, 'ring_timeout_s', d.ring_timeout_s,"
    "   'open', d.open, 'tenant', d.tenant_id,"
    "   'procedures', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', p.name)"
    "                   ORDER BY p.sort, p.id), '[]') FROM procedures p"
    "                   WHERE p.department_id = d.id),"
    "   'hours', (SELECT coalesce(json_agg(json_build_object('weekday', h.weekday,"
    "              'open', extract(epoch FROM h.opens)::int / 60,"
    "              'close', extract(epoch FROM h.closes)::int / 60)"
    "              ORDER BY h.weekday, h.opens), '[]') FROM department_hours h"
    "              WHERE h.department_id = d.id))"
    "   ORDER BY d.sort, d.id), '[]') FROM departments d),"
    " 'menus', (SELECT coalesce(json_agg(json_build_object('id', m.id, 'name', m.name,"
    "   'tenant', m.tenant_id,"
    "   'steps', (SELECT coalesce(json_agg(st.department_id ORDER BY st.position), '[]')"
    "             FROM onestop_menu_steps st WHERE st.menu_id = m.id))"
    "   ORDER BY m.sort, m.id), '[]') FROM onestop_menus m))";

/* Every record statement is idempotent, so a record sent again after a connection loss (it
 * may have committed just before) changes nothing. The branch is copied from the kiosk; an
 * unknown kiosk makes it NULL and the insert fails loudly instead of vanishing. */
static const char sql_visit_started[] =
    "INSERT INTO visits (id, kiosk_id, branch_id, started_at, onestop_menu, node)"
    " VALUES ($1::uuid, $2::uuid, (SELECT branch_id FROM kiosks WHERE id = $2::uuid), " TS(
        3) ", $4, $5)"
           " ON CONFLICT (id) DO NOTHING";

/* Legs are numbered per visit in the order they were queued. Records are written one at a
 * time on one connection, so max + 1 cannot race; the unique (visit_id, seq) would catch it. */
static const char sql_leg_queued[] =
    "INSERT INTO legs (id, visit_id, seq, department_id, procedure_id, queued_at)"
    " VALUES ($1::uuid, $2::uuid,"
    " (SELECT coalesce(max(seq), 0) + 1 FROM legs WHERE visit_id = $2::uuid),"
    " $3, $4, " TS(5) ")"
                      " ON CONFLICT (id) DO NOTHING";

static const char sql_guest_joined[] =
    "INSERT INTO legs (id, visit_id, seq, department_id, queued_at, answered_at, kind)"
    " VALUES ($1::uuid, $2::uuid,"
    " (SELECT coalesce(max(seq), 0) + 1 FROM legs WHERE visit_id = $2::uuid),"
    " $3, " TS(4) ", " TS(4) ", 'guest')"
    " ON CONFLICT (id) DO NOTHING";

/* The updates apply only once (answered_at or ended_at still NULL), so a replay keeps the
 * first time and outcome. Each answers one row saying whether its target exists at all, so
 * that a record about an unknown leg or visit is told apart from a harmless replay. */
static const char sql_leg_answered[] = "WITH u AS (UPDATE legs SET answered_at = " TS(
    2) ", staff_id = $3::uuid"
       " WHERE id = $1::uuid AND answered_at IS NULL RETURNING 1)"
       " SELECT EXISTS (SELECT 1 FROM legs WHERE id = $1::uuid)";

static const char sql_leg_ended[] = "WITH u AS (UPDATE legs SET ended_at = " TS(
    2) ", outcome = $3,"
       " procedure_id = coalesce($4, procedure_id), note = coalesce($5, note)"
       " WHERE id = $1::uuid AND ended_at IS NULL RETURNING 1)"
       " SELECT EXISTS (SELECT 1 FROM legs WHERE id = $1::uuid)";

static const char sql_visit_ended[] = "WITH u AS (UPDATE visits SET ended_at = " TS(
    2) ", end_reason = $3"
       " WHERE id = $1::uuid AND ended_at IS NULL RETURNING 1)"
       " SELECT EXISTS (SELECT 1 FROM visits WHERE id = $1::uuid)";

/* A visit has at most one survey: the first one counts. */
static const char sql_survey[] =
    "INSERT INTO surveys (visit_id, rating, at)"
    " VALUES ($1::uuid, $2::smallint, " TS(3) ")"
                                              " ON CONFLICT (visit_id) DO NOTHING";

static const char sql_audit[] =
    "INSERT INTO audit_log (record_id, at, staff_id, action, visit_id, leg_id, detail)"
    " VALUES ($1::uuid, " TS(2) ", $3::uuid, $4, $5::uuid, $6::uuid, madoguchi_jsonb($7))"
                                " ON CONFLICT (record_id) DO NOTHING";

/* Crash recovery, after the spool has been replayed: whatever is still open was open when
 * the previous process died. Legs first (their rollup trigger reads the visit), in one
 * statement. $2 scopes it: NULL closes every open visit (a single node at start-up, or a node
 * that has just taken the lease over: migration 10), a node id only the visits that node ran
 * (a node of two at start-up: the other node's visits may be live). */
static const char sql_close_interrupted[] = "WITH l AS (UPDATE legs SET ended_at = greatest(" TS(
    1) ", coalesce(answered_at, queued_at)),"
       " outcome = 'interrupted' WHERE ended_at IS NULL AND ($2::text IS NULL OR visit_id IN"
       " (SELECT id FROM visits WHERE node = $2::text)) RETURNING 1),"
       " v AS (UPDATE visits SET ended_at = greatest(" TS(
           1) ", started_at),"
              " end_reason = 'interrupted' WHERE ended_at IS NULL"
              " AND ($2::text IS NULL OR node = $2::text) RETURNING 1)"
              " SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM l)";

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
	case STORE_Q_PARAMS:
		return; /* store.c fills in the caller's statement */
	}
	out->n = 1;
	out->values[0] = key;
}

/* Empty optional text is stored as NULL, not as ''. */
static const char *opt(const char *s)
{
	return s[0] ? s : NULL;
}

void store_sql_record(const store_record *r, const char *node, struct store_sql *out)
{
	const char *by = node && node[0] ? node : NULL;
	memset(out, 0, sizeof *out);
	snprintf(out->at, sizeof out->at, "%" PRId64, r->at_us);
	const char **v = out->values;
	switch (r->kind) {
	case STORE_VISIT_STARTED:
		out->sql = sql_visit_started;
		out->n = 5;
		v[0] = r->visit, v[1] = r->kiosk_id, v[2] = out->at, v[3] = opt(r->onestop_menu);
		v[4] = by;
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
	case STORE_SURVEY:
		out->sql = sql_survey;
		out->n = 3;
		snprintf(out->num, sizeof out->num, "%d", r->rating);
		v[0] = r->visit, v[1] = out->num, v[2] = out->at;
		break;
	case STORE_AUDIT:
		out->sql = sql_audit;
		out->n = 7;
		v[0] = r->audit_id, v[1] = out->at, v[2] = opt(r->staff_id), v[3] = r->action;
		v[4] = opt(r->visit), v[5] = opt(r->leg), v[6] = opt(r->detail);
		break;
	case STORE_CLOSE_INTERRUPTED:
	case STORE_CLOSE_TAKEOVER:
		out->sql = sql_close_interrupted;
		out->n = 2;
		v[0] = out->at;
		v[1] = r->kind == STORE_CLOSE_INTERRUPTED ? by : NULL;
		break;
	case STORE_GUEST_JOINED:
		out->sql = sql_guest_joined;
		out->n = 4;
		v[0] = r->leg, v[1] = r->visit, v[2] = r->department, v[3] = out->at;
		break;
	}
}

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

int store_sql_record_check(const store_record *r)
{
	if (!TERMINATED(r->visit) || !TERMINATED(r->leg) || !TERMINATED(r->kiosk_id) ||
	    !TERMINATED(r->department) || !TERMINATED(r->procedure) || !TERMINATED(r->staff_id) ||
	    !TERMINATED(r->outcome) || !TERMINATED(r->note) || !TERMINATED(r->audit_id) ||
	    !TERMINATED(r->action) || !TERMINATED(r->detail) || !TERMINATED(r->onestop_menu))
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
	case STORE_SURVEY:
		return r->visit[0] && r->rating >= 1 && r->rating <= 5 ? 0 : -1;
	case STORE_AUDIT:
		return r->audit_id[0] && r->action[0] ? 0 : -1;
	case STORE_CLOSE_INTERRUPTED:
	case STORE_CLOSE_TAKEOVER:
		return 0;
	case STORE_GUEST_JOINED:
		return r->leg[0] && r->visit[0] && r->department[0] ? 0 : -1;
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
	if (PQntuples(res) < 1 || PQnfields(res) != 5)
		return 1;
	copy(k->id, sizeof k->id, res, 0, 0);
	copy(k->name, sizeof k->name, res, 0, 1);
	copy(k->branch_id, sizeof k->branch_id, res, 0, 2);
	copy(k->branch_name, sizeof k->branch_name, res, 0, 3);
	copy(k->tenant, sizeof k->tenant, res, 0, 4);
	return 0;
}

int store_sql_staff_result(const PGresult *res, store_staff *st, char *hash, size_t cap)
{
	memset(st, 0, sizeof *st);
	int rows = PQntuples(res);
	if (rows < 1)
		return 1;
	if (PQnfields(res) != 10 || strlen(PQgetvalue(res, 0, 3)) >= cap)
		return -1;
	copy(st->id, sizeof st->id, res, 0, 0);
	copy(st->username, sizeof st->username, res, 0, 1);
	copy(st->name, sizeof st->name, res, 0, 2);
	copy(hash, cap, res, 0, 3);
	st->coordinator = PQgetvalue(res, 0, 4)[0] == 't';
	st->analyst = PQgetvalue(res, 0, 5)[0] == 't';
	st->admin = PQgetvalue(res, 0, 6)[0] == 't';
	st->cred_version = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
	copy(st->tenant, sizeof st->tenant, res, 0, 9);
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

static void dir_copy(char *dst, size_t cap, json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	snprintf(dst, cap, "%s", v ? v : "");
}

static int directory_department(json_t *src, store_department *dep)
{
	dir_copy(dep->id, sizeof dep->id, src, "id");
	dir_copy(dep->name, sizeof dep->name, src, "name");
	dir_copy(dep->tenant, sizeof dep->tenant, src, "tenant");
	dir_copy(dep->ring_strategy, sizeof dep->ring_strategy, src, "ring");
	dep->ring_timeout_s = (int)json_integer_value(json_object_get(src, "ring_timeout_s"));
	dep->closed = json_is_false(json_object_get(src, "open"));
	json_t *procs = json_object_get(src, "procedures");
	json_t *hours = json_object_get(src, "hours");
	size_t np = json_array_size(procs), nh = json_array_size(hours);
	dep->procedures = calloc(np + 1, sizeof *dep->procedures);
	dep->hours = calloc(nh + 1, sizeof *dep->hours);
	if (!dep->procedures || !dep->hours)
		return -1;
	for (size_t i = 0; i < np; i++) {
		json_t *p = json_array_get(procs, i);
		dir_copy(dep->procedures[i].id, STORE_ID_MAX, p, "id");
		dir_copy(dep->procedures[i].name, STORE_NAME_MAX, p, "name");
	}
	dep->n_procedures = (int)np;
	for (size_t i = 0; i < nh; i++) {
		json_t *h = json_array_get(hours, i);
		dep->hours[i].weekday = (int)json_integer_value(json_object_get(h, "weekday"));
		dep->hours[i].open_min = (int)json_integer_value(json_object_get(h, "open"));
		dep->hours[i].close_min = (int)json_integer_value(json_object_get(h, "close"));
	}
	dep->n_hours = (int)nh;
	return 0;
}

static int directory_menu(json_t *src, store_menu *m)
{
	dir_copy(m->id, sizeof m->id, src, "id");
	dir_copy(m->name, sizeof m->name, src, "name");
	dir_copy(m->tenant, sizeof m->tenant, src, "tenant");
	json_t *steps = json_object_get(src, "steps");
	size_t n = json_array_size(steps);
	m->steps = calloc(n + 1, sizeof *m->steps);
	if (!m->steps)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_array_get(steps, i));
		snprintf(m->steps[i], STORE_ID_MAX, "%s", v ? v : "");
	}
	m->n_steps = (int)n;
	return 0;
}

int store_sql_directory_result(const PGresult *res, store_directory *d)
{
	memset(d, 0, sizeof *d);
	if (PQntuples(res) != 1 || PQnfields(res) != 1)
		return -1;
	json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	json_t *depts = json_object_get(doc, "departments");
	json_t *menus = json_object_get(doc, "menus");
	json_t *tenants = json_object_get(doc, "tenants");
	int rc = json_is_array(depts) && json_is_array(menus) ? 0 : -1;
	size_t nd = json_array_size(depts), nm = json_array_size(menus);
	size_t nt = json_array_size(tenants);
	d->departments = calloc(nd + 1, sizeof *d->departments);
	d->menus = calloc(nm + 1, sizeof *d->menus);
	d->tenants = calloc(nt + 1, sizeof *d->tenants);
	if (!d->departments || !d->menus || !d->tenants)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		json_t *t = json_array_get(tenants, i);
		dir_copy(d->tenants[i].id, STORE_ID_MAX, t, "id");
		dir_copy(d->tenants[i].hostname, sizeof d->tenants[i].hostname, t, "hostname");
		d->n_tenants++;
	}
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		d->n_departments++;
		rc = directory_department(json_array_get(depts, i), &d->departments[i]);
	}
	for (size_t i = 0; rc == 0 && i < nm; i++) {
		d->n_menus++;
		rc = directory_menu(json_array_get(menus, i), &d->menus[i]);
	}
	json_decref(doc);
	if (rc != 0)
		store_sql_directory_free(d);
	return rc;
}

void store_sql_directory_free(store_directory *d)
{
	for (int i = 0; d->departments && i < d->n_departments; i++) {
		free(d->departments[i].procedures);
		free(d->departments[i].hours);
	}
	free(d->departments);
	for (int i = 0; d->menus && i < d->n_menus; i++)
		free(d->menus[i].steps);
	free(d->menus);
	free(d->tenants);
	memset(d, 0, sizeof *d);
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
	case STORE_Q_PARAMS:
		return "params";
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
	case STORE_SURVEY:
		return "survey";
	case STORE_AUDIT:
		return "audit";
	case STORE_CLOSE_INTERRUPTED:
		return "close_interrupted";
	case STORE_CLOSE_TAKEOVER:
		return "close_takeover";
	case STORE_GUEST_JOINED:
		return "guest_joined";
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
