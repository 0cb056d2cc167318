/* Migration 9: guest interpreters (PROTOCOL.md "Guests (interpreters)").
 *
 * Each guest's time in a visit is a leg of kind 'guest' (department = the department of
 * the leg it joined, answered_at = queued_at = when it joined, no staff). Desk legs are
 * kind 'desk'. Guest legs must not count as legs, answers or waits in the usage rollup: the
 * rollup triggers are re-created with kind = 'desk' in their WHEN, and
 * usage_rollup_rebuild() (migration 2) is re-created from its own definition with the same
 * filter on the legs it reads (the migration fails if that text is not found).
 *
 * usage_daily and usage_monthly gain interpreted_visits (last column): visits of the row
 * that had at least one guest leg in that row's department, counted once per row. */
#include "store/internal.h"

#define BOOKED_ROWS                                                                                \
	"(SELECT r.day, r.branch_id, r.department_id, r.procedure_id, count(*) AS n"               \
	" FROM usage_visit_rows r JOIN bookings b ON b.visit_id = r.visit_id"                      \
	" AND b.department_id = r.department_id WHERE r.n > 0 GROUP BY 1, 2, 3, 4)"
#define GUEST_ROWS                                                                                 \
	"(SELECT r.day, r.branch_id, r.department_id, r.procedure_id, count(*) AS n"               \
	" FROM usage_visit_rows r WHERE r.n > 0 AND EXISTS (SELECT 1 FROM legs g"                 \
	" WHERE g.visit_id = r.visit_id AND g.kind = 'guest'"                                      \
	" AND g.department_id = r.department_id) GROUP BY 1, 2, 3, 4)"

const char *const store_migration_9[] = {
    "ALTER TABLE legs ADD COLUMN kind text NOT NULL DEFAULT 'desk'"
    " CHECK (kind IN ('desk', 'guest'))",
    "CREATE INDEX legs_guest_idx ON legs (visit_id) WHERE kind = 'guest'",
    "DROP TRIGGER legs_usage_insert ON legs",
    "DROP TRIGGER legs_usage_update ON legs",
    "CREATE TRIGGER legs_usage_insert AFTER INSERT ON legs FOR EACH ROW"
    " WHEN (NEW.ended_at IS NOT NULL AND NEW.kind = 'desk') EXECUTE FUNCTION usage_legs_changed()",
    "CREATE TRIGGER legs_usage_update AFTER UPDATE ON legs FOR EACH ROW"
    " WHEN (NEW.kind = 'desk' AND (OLD.ended_at IS DISTINCT FROM NEW.ended_at"
    " OR (NEW.ended_at IS NOT NULL AND (OLD.procedure_id IS DISTINCT FROM NEW.procedure_id"
    " OR OLD.department_id IS DISTINCT FROM NEW.department_id"
    " OR OLD.answered_at IS DISTINCT FROM NEW.answered_at"
    " OR OLD.outcome IS DISTINCT FROM NEW.outcome"
    " OR OLD.queued_at IS DISTINCT FROM NEW.queued_at))))"
    " EXECUTE FUNCTION usage_legs_changed()",
    "DO $$ DECLARE src text; fixed text; BEGIN"
    " src := pg_get_functiondef('usage_rollup_rebuild()'::regprocedure);"
    " fixed := replace(src, 'WHERE l.ended_at IS NOT NULL;',"
    "  'WHERE l.ended_at IS NOT NULL AND l.kind = ''desk'';');"
    " IF fixed = src THEN RAISE EXCEPTION 'usage_rollup_rebuild: legs filter not found'; END IF;"
    " EXECUTE fixed;"
    " END $$",

    "CREATE OR REPLACE VIEW usage_daily AS"
    " SELECT u.day, u.branch_id AS branch, u.department_id AS department,"
    " nullif(u.procedure_id, '') AS procedure, u.visits, u.legs, u.answered, u.abandoned,"
    " round((u.wait_sum_s / nullif(u.answered, 0))::numeric, 1) AS avg_wait_s,"
    " round(usage_hist_quantile(u.wait_hist, 0.9)::numeric, 1) AS p90_wait_s,"
    " round((u.talk_sum_s / nullif(u.talk_n, 0))::numeric, 1) AS avg_talk_s,"
    " u.onestop_visits,"
    " round(u.rating_sum::numeric / nullif(u.rating_n, 0), 2) AS avg_rating,"
    " coalesce(bk.n, 0)::bigint AS booked_visits,"
    " coalesce(gu.n, 0)::bigint AS interpreted_visits"
    " FROM usage_rollup u LEFT JOIN " BOOKED_ROWS " bk ON bk.day = u.day"
    " AND bk.branch_id = u.branch_id AND bk.department_id = u.department_id"
    " AND bk.procedure_id = u.procedure_id"
    " LEFT JOIN " GUEST_ROWS " gu ON gu.day = u.day"
    " AND gu.branch_id = u.branch_id AND gu.department_id = u.department_id"
    " AND gu.procedure_id = u.procedure_id"
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
    " coalesce(sum(bk.n), 0)::bigint AS booked_visits,"
    " coalesce(sum(gu.n), 0)::bigint AS interpreted_visits"
    " FROM usage_rollup u LEFT JOIN " BOOKED_ROWS " bk ON bk.day = u.day"
    " AND bk.branch_id = u.branch_id AND bk.department_id = u.department_id"
    " AND bk.procedure_id = u.procedure_id"
    " LEFT JOIN " GUEST_ROWS " gu ON gu.day = u.day"
    " AND gu.branch_id = u.branch_id AND gu.department_id = u.department_id"
    " AND gu.procedure_id = u.procedure_id"
    " GROUP BY month, u.branch_id, u.department_id, u.procedure_id"
    " HAVING sum(legs) > 0",
    NULL,
};
