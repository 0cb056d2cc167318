/* Migration 2: business hours and ring strategy for departments, one-stop menus, login
 * sessions, surveys, the audit log of staff actions, and the analytics: a rollup maintained on
 * write, the usage_daily and usage_monthly views over it, and the read-only analyst role.
 *
 * Why a rollup: usage_monthly must answer in well under 100 ms over tens of millions of legs,
 * and a p90 cannot be summed from partial p90s. So every ended leg adds itself, in the same
 * transaction, to one row per (day, branch, department, procedure) holding counts, sums and a
 * fixed-bucket histogram of waiting times; a month is then at most ~31 rows per combination,
 * and the p90 is interpolated inside the histogram bucket that holds it. The triggers work on
 * transitions (a leg's ended_at going from NULL to a time, or a later patch of an ended leg's
 * procedure), so replayed records, which change nothing, never count twice.
 *
 * Days and months are cut in the city's time zone (site_settings.time_zone, default
 * Asia/Tokyo). After changing it, or after editing legs by hand with triggers disabled, run
 * SELECT usage_rollup_rebuild(); which recomputes the rollup from the legs in one pass. */
#include "store/internal.h"

/* The histogram: 20 buckets of waiting time, upper edges in seconds; the last bucket holds
 * everything from 3600 s on. Changing the edges needs a new migration and a rebuild. */
#define WAIT_EDGES "'{5,10,15,20,30,45,60,90,120,180,240,300,420,600,900,1200,1800,2700,3600}'"
#define N_BUCKETS  "20"

/* The histogram of a group of legs in the rebuild, one count per bucket. */
#define HB(n) "count(*) FILTER (WHERE bucket = " #n ")::int"
/* clang-format off */
#define HIST_ARRAY                                                                         \
	"ARRAY[" HB(1) "," HB(2) "," HB(3) "," HB(4) "," HB(5) ","                         \
	         HB(6) "," HB(7) "," HB(8) "," HB(9) "," HB(10) ","                        \
	         HB(11) "," HB(12) "," HB(13) "," HB(14) "," HB(15) ","                    \
	         HB(16) "," HB(17) "," HB(18) "," HB(19) "," HB(20) "]"
/* clang-format on */

const char *const store_migration_2[] = {
    "CREATE TABLE site_settings ("
    " key text PRIMARY KEY,"
    " value text NOT NULL)",
    "INSERT INTO site_settings (key, value) VALUES ('time_zone', 'Asia/Tokyo')",

    /* Departments: ring strategy as a closed set, a ring timeout, and opening hours. A
     * department without any hours rows is always open; with rows, it is open only inside
     * them (weekday 0 = Sunday, as extract(dow)); several rows a day allow a lunch break. */
    "ALTER TABLE departments ADD CONSTRAINT departments_ring_strategy_check"
    " CHECK (ring_strategy IN ('all', 'longest-idle'))",
    "ALTER TABLE departments ADD COLUMN ring_timeout_s int NOT NULL DEFAULT 30"
    " CHECK (ring_timeout_s BETWEEN 5 AND 600)",
    "CREATE TABLE department_hours ("
    " department_id text NOT NULL REFERENCES departments (id) ON DELETE CASCADE,"
    " weekday smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),"
    " opens time NOT NULL,"
    " closes time NOT NULL,"
    " CHECK (opens < closes),"
    " PRIMARY KEY (department_id, weekday, opens))",

    /* One-stop menus: an ordered list of departments a resident visits in one session. */
    "CREATE TABLE onestop_menus ("
    " id text PRIMARY KEY,"
    " name text NOT NULL,"
    " sort int NOT NULL DEFAULT 0,"
    " created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE onestop_menu_steps ("
    " menu_id text NOT NULL REFERENCES onestop_menus (id) ON DELETE CASCADE,"
    " position int NOT NULL CHECK (position > 0),"
    " department_id text NOT NULL REFERENCES departments (id),"
    " PRIMARY KEY (menu_id, position))",

    /* Staff login sessions: only the SHA-256 of the session token is stored. */
    "CREATE TABLE login_sessions ("
    " token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),"
    " staff_id uuid NOT NULL REFERENCES staff (id) ON DELETE CASCADE,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " expires_at timestamptz NOT NULL,"
    " revoked boolean NOT NULL DEFAULT false)",
    "CREATE INDEX login_sessions_staff_idx ON login_sessions (staff_id)",

    "CREATE TABLE surveys ("
    " visit_id uuid PRIMARY KEY REFERENCES visits (id),"
    " rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),"
    " at timestamptz NOT NULL)",

    /* The audit log: who did what to which visit, when. record_id is the server's uuid for
     * the entry, so a replayed record inserts once. visit_id and leg_id carry no foreign key:
     * an audit entry must never be refused because of what it talks about. */
    "CREATE TABLE audit_log ("
    " id bigserial PRIMARY KEY,"
    " record_id uuid NOT NULL UNIQUE,"
    " at timestamptz NOT NULL,"
    " staff_id uuid REFERENCES staff (id),"
    " action text NOT NULL,"
    " visit_id uuid,"
    " leg_id uuid,"
    " detail jsonb)",
    "CREATE INDEX audit_log_at_idx ON audit_log (at)",
    "CREATE INDEX audit_log_visit_idx ON audit_log (visit_id) WHERE visit_id IS NOT NULL",

    /* Detail text that is not valid JSON is kept as a JSON string rather than refused. */
    "CREATE FUNCTION madoguchi_jsonb(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$"
    " BEGIN"
    "  RETURN t::jsonb;"
    " EXCEPTION WHEN others THEN"
    "  RETURN to_jsonb(t);"
    " END $$",

    /* Crash recovery closes whatever is still open at start-up: keep that lookup cheap. */
    "CREATE INDEX visits_open_idx ON visits (id) WHERE ended_at IS NULL",
    "CREATE INDEX legs_open_idx ON legs (id) WHERE ended_at IS NULL",

    /* ---- the rollup ---- */
    "CREATE TABLE usage_rollup ("
    " day date NOT NULL,"
    " month date NOT NULL,"
    " branch_id text NOT NULL,"
    " department_id text NOT NULL,"
    " procedure_id text NOT NULL DEFAULT '',"
    " visits int NOT NULL DEFAULT 0,"
    " legs int NOT NULL DEFAULT 0,"
    " answered int NOT NULL DEFAULT 0,"
    " abandoned int NOT NULL DEFAULT 0,"
    " wait_sum_s double precision NOT NULL DEFAULT 0,"
    " wait_hist int[] NOT NULL DEFAULT '{}',"
    " talk_n int NOT NULL DEFAULT 0,"
    " talk_sum_s double precision NOT NULL DEFAULT 0,"
    " onestop_visits int NOT NULL DEFAULT 0,"
    " rating_n int NOT NULL DEFAULT 0,"
    " rating_sum int NOT NULL DEFAULT 0,"
    " PRIMARY KEY (day, branch_id, department_id, procedure_id))",
    "CREATE INDEX usage_rollup_month_idx ON usage_rollup (month)",

    /* How many ended legs each visit has in each rollup row: a visit counts once in a row,
     * from its first leg there to its last. Exact whatever order legs end in, even several
     * in one statement (crash recovery). */
    "CREATE TABLE usage_visit_rows ("
    " visit_id uuid NOT NULL,"
    " day date NOT NULL,"
    " branch_id text NOT NULL,"
    " department_id text NOT NULL,"
    " procedure_id text NOT NULL,"
    " n int NOT NULL,"
    " PRIMARY KEY (visit_id, day, branch_id, department_id, procedure_id))",

    "CREATE FUNCTION usage_wait_edges() RETURNS double precision[] LANGUAGE sql IMMUTABLE"
    " AS $$ SELECT " WAIT_EDGES "::double precision[] $$",
    /* 1-based bucket of a waiting time in seconds. */
    "CREATE FUNCTION usage_wait_bucket(w double precision) RETURNS int LANGUAGE sql IMMUTABLE"
    " AS $$ SELECT width_bucket(greatest(w, 0), usage_wait_edges()) + 1 $$",
    "CREATE FUNCTION usage_hist_plus(a int[], b int[]) RETURNS int[] LANGUAGE sql IMMUTABLE"
    " AS $$ SELECT array_agg(coalesce(a[k], 0) + coalesce(b[k], 0) ORDER BY k)"
    " FROM generate_series(1, " N_BUCKETS ") k $$",
    "CREATE AGGREGATE usage_hist_sum(int[]) ("
    " SFUNC = usage_hist_plus, STYPE = int[], INITCOND = '{}')",
    /* The q-quantile of a histogram, interpolated linearly inside its bucket. */
    "CREATE FUNCTION usage_hist_quantile(h int[], q double precision)"
    " RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$"
    " DECLARE e double precision[] := usage_wait_edges(); total bigint; cum bigint := 0;"
    "  c bigint; lo double precision; hi double precision; target double precision;"
    " BEGIN"
    "  SELECT coalesce(sum(x), 0) INTO total FROM unnest(h) x;"
    "  IF total <= 0 THEN RETURN NULL; END IF;"
    "  target := q * total;"
    "  FOR k IN 1 .. coalesce(array_length(h, 1), 0) LOOP"
    "   c := coalesce(h[k], 0);"
    "   IF c > 0 AND cum + c >= target THEN"
    "    lo := CASE WHEN k = 1 THEN 0 ELSE e[k - 1] END;"
    "    hi := CASE WHEN k <= array_length(e, 1) THEN e[k] ELSE lo END;"
    "    RETURN lo + (hi - lo) * (target - cum) / c;"
    "   END IF;"
    "   cum := cum + c;"
    "  END LOOP;"
    "  RETURN e[array_length(e, 1)];"
    " END $$",

    /* Adds (sign 1) or removes (sign -1) one ended leg from the rollup. */
    "CREATE FUNCTION usage_apply_leg(l legs, sign int) RETURNS void LANGUAGE plpgsql AS $$"
    " DECLARE v visits; tz text; d date; proc text := coalesce(l.procedure_id, '');"
    "  before int; after int; dv int := 0; wait double precision; rating int;"
    "  answered boolean := l.answered_at IS NOT NULL;"
    "  interrupted boolean := coalesce(l.outcome, '') = 'interrupted';"
    " BEGIN"
    "  SELECT * INTO v FROM visits WHERE id = l.visit_id;"
    "  SELECT value INTO tz FROM site_settings WHERE key = 'time_zone';"
    "  d := (l.queued_at AT TIME ZONE coalesce(tz, 'UTC'))::date;"
    "  INSERT INTO usage_visit_rows AS r VALUES (l.visit_id, d, v.branch_id,"
    "   l.department_id, proc, sign)"
    "   ON CONFLICT (visit_id, day, branch_id, department_id, procedure_id)"
    "   DO UPDATE SET n = r.n + sign RETURNING r.n INTO after;"
    "  before := after - sign;"
    "  IF before <= 0 AND after > 0 THEN dv := 1; ELSIF before > 0 AND after <= 0 THEN dv := -1;"
    "  END IF;"
    "  IF after <= 0 THEN DELETE FROM usage_visit_rows WHERE visit_id = l.visit_id AND day = d"
    "   AND branch_id = v.branch_id AND department_id = l.department_id"
    "   AND procedure_id = proc; END IF;"
    "  IF dv <> 0 THEN SELECT s.rating INTO rating FROM surveys s WHERE s.visit_id = l.visit_id;"
    "  END IF;"
    "  wait := CASE WHEN answered THEN extract(epoch FROM l.answered_at - l.queued_at) END;"
    "  INSERT INTO usage_rollup AS u (day, month, branch_id, department_id, procedure_id,"
    "   visits, legs, answered, abandoned, wait_sum_s, wait_hist, talk_n, talk_sum_s,"
    "   onestop_visits, rating_n, rating_sum)"
    "  VALUES (d, date_trunc('month', d)::date, v.branch_id, l.department_id, proc, dv, sign,"
    "   CASE WHEN answered THEN sign ELSE 0 END,"
    "   CASE WHEN NOT answered AND NOT interrupted THEN sign ELSE 0 END,"
    "   coalesce(sign * wait, 0),"
    "   CASE WHEN answered THEN array_fill(0, ARRAY[usage_wait_bucket(wait) - 1])"
    "    || ARRAY[sign] ELSE '{}' END,"
    "   CASE WHEN answered AND NOT interrupted THEN sign ELSE 0 END,"
    "   CASE WHEN answered AND NOT interrupted"
    "    THEN sign * extract(epoch FROM l.ended_at - l.answered_at) ELSE 0 END,"
    "   CASE WHEN v.onestop_menu IS NOT NULL THEN dv ELSE 0 END,"
    "   CASE WHEN rating IS NOT NULL THEN dv ELSE 0 END, coalesce(dv * rating, 0))"
    "  ON CONFLICT (day, branch_id, department_id, procedure_id) DO UPDATE SET"
    "   visits = u.visits + EXCLUDED.visits, legs = u.legs + EXCLUDED.legs,"
    "   answered = u.answered + EXCLUDED.answered, abandoned = u.abandoned + EXCLUDED.abandoned,"
    "   wait_sum_s = u.wait_sum_s + EXCLUDED.wait_sum_s,"
    "   wait_hist = usage_hist_plus(u.wait_hist, EXCLUDED.wait_hist),"
    "   talk_n = u.talk_n + EXCLUDED.talk_n, talk_sum_s = u.talk_sum_s + EXCLUDED.talk_sum_s,"
    "   onestop_visits = u.onestop_visits + EXCLUDED.onestop_visits,"
    "   rating_n = u.rating_n + EXCLUDED.rating_n, rating_sum = u.rating_sum + EXCLUDED.rating_sum;"
    " END $$",

    "CREATE FUNCTION usage_legs_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'UPDATE' AND OLD.ended_at IS NOT NULL THEN"
    "   PERFORM usage_apply_leg(OLD, -1);"
    "  END IF;"
    "  IF NEW.ended_at IS NOT NULL THEN"
    "   PERFORM usage_apply_leg(NEW, 1);"
    "  END IF;"
    "  RETURN NULL;"
    " END $$",
    "CREATE TRIGGER legs_usage_insert AFTER INSERT ON legs FOR EACH ROW"
    " WHEN (NEW.ended_at IS NOT NULL) EXECUTE FUNCTION usage_legs_changed()",
    "CREATE TRIGGER legs_usage_update AFTER UPDATE ON legs FOR EACH ROW"
    " WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at"
    " OR (NEW.ended_at IS NOT NULL AND (OLD.procedure_id IS DISTINCT FROM NEW.procedure_id"
    " OR OLD.department_id IS DISTINCT FROM NEW.department_id"
    " OR OLD.answered_at IS DISTINCT FROM NEW.answered_at"
    " OR OLD.outcome IS DISTINCT FROM NEW.outcome"
    " OR OLD.queued_at IS DISTINCT FROM NEW.queued_at)))"
    " EXECUTE FUNCTION usage_legs_changed()",

    /* A survey adds its rating to every rollup row its visit counts in (usually it arrives
     * after the visit's legs ended; a leg ending later picks the rating up itself). */
    "CREATE FUNCTION usage_survey_added() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  UPDATE usage_rollup u SET rating_n = u.rating_n + 1, rating_sum = u.rating_sum"
    "   + NEW.rating FROM usage_visit_rows r WHERE r.visit_id = NEW.visit_id AND r.n > 0"
    "   AND u.day = r.day AND u.branch_id = r.branch_id"
    "   AND u.department_id = r.department_id AND u.procedure_id = r.procedure_id;"
    "  RETURN NULL;"
    " END $$",
    "CREATE TRIGGER surveys_usage AFTER INSERT ON surveys FOR EACH ROW"
    " EXECUTE FUNCTION usage_survey_added()",

    /* Recomputes the whole rollup from the legs in one set-based pass (bulk imports, a
     * time-zone change, repairs). Returns the number of rollup rows. */
    "CREATE FUNCTION usage_rollup_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$"
    " DECLARE tz text; n bigint;"
    " BEGIN"
    "  SELECT coalesce((SELECT value FROM site_settings WHERE key = 'time_zone'), 'UTC')"
    "   INTO tz;"
    "  LOCK TABLE legs, visits, surveys IN SHARE MODE;"
    "  TRUNCATE usage_rollup, usage_visit_rows;"
    "  CREATE TEMP TABLE usage_facts ON COMMIT DROP AS"
    "   SELECT l.visit_id, (l.queued_at AT TIME ZONE tz)::date AS day, v.branch_id,"
    "    l.department_id, coalesce(l.procedure_id, '') AS procedure_id,"
    "    l.answered_at IS NOT NULL AS answered,"
    "    coalesce(l.outcome, '') = 'interrupted' AS interrupted,"
    "    extract(epoch FROM l.answered_at - l.queued_at) AS wait,"
    "    CASE WHEN l.answered_at IS NOT NULL THEN"
    "     usage_wait_bucket(extract(epoch FROM l.answered_at - l.queued_at)) END AS bucket,"
    "    extract(epoch FROM l.ended_at - l.answered_at) AS talk"
    "   FROM legs l JOIN visits v ON v.id = l.visit_id WHERE l.ended_at IS NOT NULL;"
    "  INSERT INTO usage_visit_rows SELECT visit_id, day, branch_id, department_id,"
    "   procedure_id, count(*) FROM usage_facts GROUP BY 1, 2, 3, 4, 5;"
    "  INSERT INTO usage_rollup (day, month, branch_id, department_id, procedure_id, visits,"
    "   legs, answered, abandoned, wait_sum_s, wait_hist, talk_n, talk_sum_s, onestop_visits,"
    "   rating_n, rating_sum)"
    "  SELECT f.day, date_trunc('month', f.day)::date, f.branch_id, f.department_id,"
    "   f.procedure_id, coalesce(vr.visits, 0), f.legs, f.answered, f.abandoned, f.wait_sum,"
    "   f.hist, f.talk_n, f.talk_sum, coalesce(vr.onestop, 0), coalesce(vr.rating_n, 0),"
    "   coalesce(vr.rating_sum, 0)"
    "  FROM (SELECT day, branch_id, department_id, procedure_id, count(*)::int AS legs,"
    "    count(*) FILTER (WHERE answered)::int AS answered,"
    "    count(*) FILTER (WHERE NOT answered AND NOT interrupted)::int AS abandoned,"
    "    coalesce(sum(wait) FILTER (WHERE answered), 0) AS wait_sum,"
    "    count(*) FILTER (WHERE answered AND NOT interrupted)::int AS talk_n,"
    "    coalesce(sum(talk) FILTER (WHERE answered AND NOT interrupted), 0) AS talk_sum,"
    "    " HIST_ARRAY " AS hist"
    "   FROM usage_facts GROUP BY 1, 2, 3, 4) f"
    "  LEFT JOIN (SELECT r.day, r.branch_id, r.department_id, r.procedure_id,"
    "    count(*)::int AS visits,"
    "    count(*) FILTER (WHERE v.onestop_menu IS NOT NULL)::int AS onestop,"
    "    count(s.rating)::int AS rating_n, coalesce(sum(s.rating), 0)::int AS rating_sum"
    "   FROM usage_visit_rows r JOIN visits v ON v.id = r.visit_id"
    "   LEFT JOIN surveys s ON s.visit_id = r.visit_id"
    "   GROUP BY 1, 2, 3, 4) vr"
    "  USING (day, branch_id, department_id, procedure_id);"
    "  GET DIAGNOSTICS n = ROW_COUNT;"
    "  DROP TABLE usage_facts;"
    "  RETURN n;"
    " END $$",

    /* ---- the views analysts query ---- */
    "CREATE VIEW usage_daily AS"
    " SELECT day, branch_id AS branch, department_id AS department,"
    " nullif(procedure_id, '') AS procedure, visits, legs, answered, abandoned,"
    " round((wait_sum_s / nullif(answered, 0))::numeric, 1) AS avg_wait_s,"
    " round(usage_hist_quantile(wait_hist, 0.9)::numeric, 1) AS p90_wait_s,"
    " round((talk_sum_s / nullif(talk_n, 0))::numeric, 1) AS avg_talk_s,"
    " onestop_visits,"
    " round(rating_sum::numeric / nullif(rating_n, 0), 2) AS avg_rating"
    " FROM usage_rollup WHERE legs > 0",
    "CREATE VIEW usage_monthly AS"
    " SELECT month, branch_id AS branch, department_id AS department,"
    " nullif(procedure_id, '') AS procedure,"
    " sum(visits)::bigint AS visits, sum(legs)::bigint AS legs,"
    " sum(answered)::bigint AS answered, sum(abandoned)::bigint AS abandoned,"
    " round((sum(wait_sum_s) / nullif(sum(answered), 0))::numeric, 1) AS avg_wait_s,"
    " round(usage_hist_quantile(usage_hist_sum(wait_hist), 0.9)::numeric, 1) AS p90_wait_s,"
    " round((sum(talk_sum_s) / nullif(sum(talk_n), 0))::numeric, 1) AS avg_talk_s,"
    " sum(onestop_visits)::bigint AS onestop_visits,"
    " round(sum(rating_sum)::numeric / nullif(sum(rating_n), 0), 2) AS avg_rating"
    " FROM usage_rollup GROUP BY month, branch_id, department_id, procedure_id"
    " HAVING sum(legs) > 0",

    /* The analyst role reads the views and nothing else: no names, notes, usernames or
     * tokens are reachable from it. Roles are cluster-wide, so it may exist already. */
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'madoguchi_analyst') THEN"
    "  CREATE ROLE madoguchi_analyst NOLOGIN;"
    " END IF;"
    " END $$",
    "GRANT USAGE ON SCHEMA public TO madoguchi_analyst",
    "GRANT SELECT ON usage_daily, usage_monthly TO madoguchi_analyst",
    NULL,
};
