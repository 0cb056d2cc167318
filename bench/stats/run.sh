#!/usr/bin/env bash
# Times the monthly statistics over a large synthetic history.
#
#   bash bench/stats/run.sh [BIN]
#
# BIN is the madoguchi executable (default build/server/madoguchi; build it first with
# `meson setup build --buildtype=release && ninja -C build`). Environment (optional):
#   LEGS=10000000   legs to generate (one visit in four has a second leg)
#   RUNS=7          timed runs of each query; the median is reported
#   MONTH=2024-06   the month the timed query reads
#   CHUNK=200000    visits whose legs and surveys are inserted per transaction
#   KEEP=1          leave the cluster running afterwards (its conninfo is printed)
#
# A throwaway PostgreSQL cluster (deploy/pg-local.sh, fsync off) is created under
# /tmp/madoguchi-bench-stats.XXXX and migrated with BIN, so the schema is exactly the
# server's. The history covers the 12 months of 2024 (Asia/Tokyo) across 5 branches,
# 10 departments and 30 procedures, made with generate_series in SQL. Legs are inserted
# already ended, so the rollup triggers of migration 2 count every one of them, the same path
# the server's own records take. Then `SELECT * FROM usage_monthly WHERE month = ...` and the
# server's own statistics query are each timed RUNS times (psql \timing, after one warm-up),
# with one EXPLAIN ANALYZE printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd -P)

bin=${1:-$root/build/server/madoguchi}
legs=${LEGS:-10000000}
runs=${RUNS:-7}
month=${MONTH:-2024-06}
[ -x "$bin" ] || { echo "bench/stats: no executable $bin (build first)" >&2; exit 1; }
[[ $legs =~ ^[0-9]+$ && $legs -ge 1000 ]] || { echo "bench/stats: LEGS must be >= 1000" >&2; exit 2; }
[[ $month =~ ^2024-(0[1-9]|1[0-2])$ ]] || { echo "bench/stats: MONTH must be in 2024" >&2; exit 2; }

tmp=$(mktemp -d /tmp/madoguchi-bench-stats.XXXX)
chmod 755 "$tmp"
pg=$tmp/pg
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench/stats: cluster kept: $conninfo (stop: bash deploy/pg-local.sh stop $pg)" >&2
	else
		bash deploy/pg-local.sh stop "$pg" --fast >/dev/null 2>&1 || true
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

conninfo=$(bash deploy/pg-local.sh start "$pg" --fast | tail -n 1)
"$bin" --db "$conninfo" migrate >/dev/null
# The bulk load sets session_replication_role, which needs the cluster's superuser.
super=$(bash deploy/pg-local.sh conninfo "$pg" super)
psql_() { psql -X -q -v ON_ERROR_STOP=1 -d "$super" "$@"; }

visits=$((legs * 4 / 5))
echo "bench/stats: generating $visits visits and $legs legs (this takes a while)..." >&2
t0=$(date +%s)
psql_ <<SQL
-- The directory: 5 branches with one kiosk each, 10 departments with 3 procedures each.
INSERT INTO branches (id, name, sort) SELECT 'b' || i, '支所' || i, i FROM generate_series(0, 4) i;
INSERT INTO departments (id, name, sort) SELECT 'd' || i, '課' || i, i FROM generate_series(0, 9) i;
INSERT INTO procedures (id, department_id, name, sort)
 SELECT 'p' || i, 'd' || (i / 3), '手続き' || i, i FROM generate_series(0, 29) i;
INSERT INTO kiosks (id, branch_id, name, token_hash)
 SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'b' || i, 'kiosk ' || i,
 sha256(convert_to('bench-kiosk-' || i, 'UTF8')) FROM generate_series(0, 4) i;

-- Visits spread evenly over 2024 in Japan; visit v is at branch (v / 7) % 5 and one in 16
-- is a one-stop visit. Pseudo-random but repeatable numbers come from hashint4.
CREATE UNLOGGED TABLE bench_gen AS
 SELECT v, ('00000000-0000-4000-9000-' || lpad(v::text, 12, '0'))::uuid AS id,
 timestamptz '2024-01-01 08:30:00+09'
  + make_interval(days => (v::bigint * 366 / $visits)::int)
  + make_interval(secs => (abs(hashint4(v)) % 28800)) AS t0,
 abs(hashint4(v + 1)) AS r1, abs(hashint4(v + 2)) AS r2
 FROM generate_series(0, $visits - 1) v;

INSERT INTO visits (id, kiosk_id, branch_id, started_at, ended_at, end_reason, onestop_menu)
 SELECT id, ('00000000-0000-4000-8000-' || lpad(((v / 7) % 5)::text, 12, '0'))::uuid,
 'b' || ((v / 7) % 5), t0, t0 + interval '40 minutes', 'completed',
 CASE WHEN v % 16 = 0 THEN 'okuyami' END
 FROM bench_gen;

CREATE INDEX ON bench_gen (v);
SQL

# One leg per visit, and a second one (another department) for one visit in four. Waits up to
# 5 minutes, talks up to 15; one leg in twenty is never answered. Legs and surveys go in in
# chunks of CHUNK visits, one transaction each: the server commits every record on its own,
# and one huge statement would pile up millions of queued trigger events and row versions of
# the same rollup rows that a real workload never accumulates.
chunk=${CHUNK:-200000}
{
	# Bulk generation skips the per-row rollup triggers (about 0.5 ms a leg: 10 million legs
	# would take over an hour) and builds the rollup afterwards with usage_rollup_rebuild(),
	# the one-pass recomputation the store's tests check against the triggers' result.
	echo "SET session_replication_role = replica;"
	for ((lo = 0; lo < visits; lo += chunk)); do
		hi=$((lo + chunk))
		cat <<SQL
INSERT INTO legs (id, visit_id, seq, department_id, procedure_id, queued_at, answered_at,
 ended_at, staff_id, outcome)
 SELECT gen_random_uuid(), g.id, s.seq, 'd' || dep, 'p' || (dep * 3 + (g.r2 % 3)),
 q, CASE WHEN g.r1 % 20 <> 0 THEN q + make_interval(secs => g.r1 % 300) END,
 q + make_interval(secs => g.r1 % 300 + g.r2 % 900), NULL,
 CASE WHEN g.r1 % 20 <> 0 THEN 'completed' ELSE 'no_answer' END
 FROM bench_gen g
 CROSS JOIN LATERAL (SELECT 1 AS seq UNION ALL SELECT 2 WHERE g.v % 4 = 0) s
 CROSS JOIN LATERAL (SELECT (g.v + (s.seq - 1) * 3) % 10 AS dep,
  g.t0 + make_interval(secs => (s.seq - 1) * 1200) AS q) d
 WHERE g.v >= $lo AND g.v < $hi;
-- A survey for one visit in three, after its legs ended, as kiosks send them.
INSERT INTO surveys (visit_id, rating, at)
 SELECT id, 1 + r2 % 5, t0 + interval '41 minutes' FROM bench_gen
 WHERE v % 3 = 0 AND v >= $lo AND v < $hi;
\\echo bench/stats: visits below $hi done
SQL
	done
	echo "SET session_replication_role = origin;"
	echo "\\echo bench/stats: building the rollup"
	echo "SELECT usage_rollup_rebuild();"
	echo "DROP TABLE bench_gen; ANALYZE;"
} | psql_ 2>&1 | while read -r line; do echo "$line ($(($(date +%s) - t0)) s)" >&2; done
t1=$(date +%s)
n_legs=$(psql_ -At -c "SELECT count(*) FROM legs")
n_rollup=$(psql_ -At -c "SELECT count(*) FROM usage_rollup")
echo "bench/stats: $n_legs legs in $((t1 - t0)) s (rollup rows: $n_rollup)" >&2

# Median of RUNS timings (ms) of one statement, after a warm-up run.
time_query() {
	local sql=$1
	{
		echo '\timing on'
		for _ in $(seq 0 "$runs"); do echo "$sql"; done
	} | psql_ -At -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n +2 |
		sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

view_sql="SELECT * FROM usage_monthly WHERE month = '$month-01';"
# The statistics API's query for one month grouped by branch and department (see
# server/store/analytics.c), with its parameters filled in.
api_sql="WITH g AS (SELECT u.month, u.branch_id AS branch, u.department_id AS department,
 sum(u.visits) AS visits, sum(u.legs) AS legs, sum(u.answered) AS answered,
 round((sum(u.wait_sum_s) / nullif(sum(u.answered), 0))::numeric, 1) AS avg_wait_s
 FROM usage_rollup u WHERE u.month >= '$month-01' AND u.month <= '$month-01'
 GROUP BY 1, 2, 3 HAVING sum(u.legs) > 0) SELECT * FROM g;"

echo "== EXPLAIN ANALYZE $view_sql"
psql_ -c "EXPLAIN (ANALYZE, BUFFERS) $view_sql"
view_ms=$(time_query "$view_sql")
api_ms=$(time_query "$api_sql")
rows=$(psql_ -At -c "SELECT count(*) FROM usage_monthly WHERE month = '$month-01'")
year_ms=$(time_query "SELECT * FROM usage_monthly;")
echo
echo "legs=$n_legs generate_s=$((t1 - t0)) month=$month rows=$rows"
echo "usage_monthly one month: median ${view_ms} ms over $runs runs"
echo "usage_monthly whole year: median ${year_ms} ms over $runs runs"
echo "API query (by branch,department) one month: median ${api_ms} ms over $runs runs"
