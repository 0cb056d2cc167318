/* Migration 8: bookings (予約相談; PROTOCOL.md "Bookings", docs/protocol.md "Bookings").
 *
 * A clerk books a consultation for a department at a branch: a start time, a length in
 * minutes, optionally a procedure and the resident's name. The name is personal data: it is
 * optional, shown only to staff of the department (never on a kiosk), never logged, and not
 * reachable from the analyst role (the views below expose counts only). A booking is
 * `booked` until a clerk cancels it (`cancelled`), a kiosk of its branch calls with it
 * (`done`, with the visit it started in visit_id), or 15 minutes pass after its start
 * without a call (`missed`, set by the server's sweep, which reads the database and so
 * survives restarts). visit_id carries no foreign key: the visit's row is written by the
 * record spool, possibly later (as audit_log.visit_id).
 *
 * The desk that made a booking (created_by) rings first when it is called. The server
 * refuses a second booking of the same clerk at an overlapping time (booked or done ones
 * count); it checks in the INSERT itself, and the server's store runs one statement at a
 * time, so two requests cannot both pass.
 *
 * usage_monthly and usage_daily gain booked_visits: visits started from a booking, counted
 * in the row of the booked department (like visits, once per row), found through the
 * rollup's per-visit rows, so a booked visit counts when its leg there ends. */
#include "store/internal.h"

#define BOOKED_ROWS                                                                                \
	"(SELECT r.day, r.branch_id, r.department_id, r.procedure_id, count(*) AS n"               \
	" FROM usage_visit_rows r JOIN bookings b ON b.visit_id = r.visit_id"                      \
	" AND b.department_id = r.department_id WHERE r.n > 0 GROUP BY 1, 2, 3, 4)"

const char *const store_migration_8[] = {
    "CREATE TABLE bookings ("
    " id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    " department_id text NOT NULL REFERENCES departments (id),"
    " branch_id text NOT NULL REFERENCES branches (id),"
    " starts_at timestamptz NOT NULL,"
    " minutes int NOT NULL CHECK (minutes BETWEEN 5 AND 240),"
    " procedure_id text,"
    " name text," /* the resident's name: optional personal data, see above */
    " created_by uuid REFERENCES staff (id) ON DELETE SET NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " state text NOT NULL DEFAULT 'booked'"
    "  CHECK (state IN ('booked', 'cancelled', 'done', 'missed')),"
    " state_at timestamptz,"
    " visit_id uuid)",
    "CREATE INDEX bookings_starts_at_idx ON bookings (starts_at)",
    "CREATE INDEX bookings_created_by_idx ON bookings (created_by, starts_at)",
    "CREATE INDEX bookings_visit_idx ON bookings (visit_id) WHERE visit_id IS NOT NULL",
    "CREATE INDEX bookings_booked_idx ON bookings (starts_at) WHERE state = 'booked'",

    /* A time as ISO 8601 in the given zone, with its offset: 2026-04-01T10:00:00+09:00. */
    "CREATE FUNCTION madoguchi_local_iso(t timestamptz, tz text) RETURNS text"
    " LANGUAGE sql STABLE AS $$"
    " SELECT to_char(t AT TIME ZONE tz, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    "  || CASE WHEN o < 0 THEN '-' ELSE '+' END"
    "  || lpad((abs(o) / 60)::text, 2, '0') || ':' || lpad((abs(o) % 60)::text, 2, '0')"
    " FROM (SELECT (extract(epoch FROM (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC')) / 60)::int"
    "  AS o) x $$",

    "CREATE OR REPLACE VIEW usage_daily AS"
    " SELECT u.day, u.branch_id AS branch, u.department_id AS department,"
    " nullif(u.procedure_id, '') AS procedure, u.visits, u.legs, u.answered, u.abandoned,"
    " round((u.wait_sum_s / nullif(u.answered, 0))::numeric, 1) AS avg_wait_s,"
    " round(usage_hist_quantile(u.wait_hist, 0.9)::numeric, 1) AS p90_wait_s,"
    " round((u.talk_sum_s / nullif(u.talk_n, 0))::numeric, 1) AS avg_talk_s,"
    " u.onestop_visits,"
    " round(u.rating_sum::numeric / nullif(u.rating_n, 0), 2) AS avg_rating,"
    " coalesce(bk.n, 0)::bigint AS booked_visits"
    " FROM usage_rollup u LEFT JOIN " BOOKED_ROWS " bk ON bk.day = u.day"
    " AND bk.branch_id = u.branch_id AND bk.department_id = u.department_id"
    " AND bk.procedure_id = u.procedure_id"
    " WHERE u.legs > 0",
    "CREATE OR REPLACE VIEW usage_monthly AS"
    " SELECT month, u.branch_id AS branch, u.department_id AS department,"
    " nullif(u.procedure_id, '') AS procedure,"
    " sum(visits)::bigint AS visits, sum(legs)::bigint AS legs,"
    " sum(answered)::bigint AS answered, sum(abandoned)::bigint AS abandoned,"
    " round((sum(wait_sum_s) / nullif(sum(answered), 0))::numeric, 1) AS avg_wait_s,"
    " round(usage_hist_quantile(usage_hist_sum(wait_hist), 0.9)::numeric, 1) AS p90_wait_s,"
    " round((sum(talk_sum_s) / nullif(sum(talk_n), 0))::numeric, 1) AS avg_talk_s,"
    " sum(onestop_visits)::bigint AS onestop_visits,"
    " round(sum(rating_sum)::numeric / nullif(sum(rating_n), 0), 2) AS avg_rating,"
    " coalesce(sum(bk.n), 0)::bigint AS booked_visits"
    " FROM usage_rollup u LEFT JOIN " BOOKED_ROWS " bk ON bk.day = u.day"
    " AND bk.branch_id = u.branch_id AND bk.department_id = u.department_id"
    " AND bk.procedure_id = u.procedure_id"
    " GROUP BY month, u.branch_id, u.department_id, u.procedure_id"
    " HAVING sum(legs) > 0",

    /* The server books, cancels, lists, marks done and missed: no DELETE. */
    "GRANT SELECT, INSERT, UPDATE ON bookings TO madoguchi_server",
    NULL,
};
