/* `madoguchi admin kiosk health [--json]`: the last self-test result of every kiosk that is
 * not revoked (PROTOCOL.md, "Kiosk health"), as a table for people or, with --json, an array
 * of {"kiosk","branch","name","health":HEALTH|null} for scripts. */
#include "store/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_DB 1

static const char sql_last[] =
    "SELECT k.id, k.branch_id, k.name, l.health::text,"
    " to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " l.audio_state, l.health->'audio'->>'level_dbfs',"
    " l.video_state, l.health->'video'->>'width', l.health->'video'->>'height',"
    " l.health->'video'->>'luma',"
    " l.health->'network'->>'transport', l.health->'network'->>'rtt_ms',"
    " l.health->'network'->>'loss'"
    " FROM kiosks k LEFT JOIN kiosk_health_last l ON l.kiosk_id = k.id"
    " WHERE k.revoked_at IS NULL ORDER BY k.branch_id, k.name, k.id";

static const char *or_dash(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c);
}

static void print_table(const PGresult *res)
{
	int rows = PQntuples(res);
	printf("%-12s %-20s %-8s %8s %-7s %-9s %6s %-5s %6s %6s %-20s %s\n", "BRANCH", "KIOSK",
	       "AUDIO", "DBFS", "VIDEO", "SIZE", "LUMA", "NET", "RTT_MS", "LOSS", "AT", "ID");
	for (int r = 0; r < rows; r++) {
		char size[32] = "-", level[16] = "-", luma[16] = "-", loss[16] = "-";
		if (!PQgetisnull(res, r, 8))
			snprintf(size, sizeof size, "%sx%s", PQgetvalue(res, r, 8),
			         PQgetvalue(res, r, 9));
		if (!PQgetisnull(res, r, 6))
			snprintf(level, sizeof level, "%.1f", atof(PQgetvalue(res, r, 6)));
		if (!PQgetisnull(res, r, 10))
			snprintf(luma, sizeof luma, "%.0f", atof(PQgetvalue(res, r, 10)));
		if (!PQgetisnull(res, r, 13))
			snprintf(loss, sizeof loss, "%.1f%%", 100 * atof(PQgetvalue(res, r, 13)));
		printf("%-12s %-20s %-8s %8s %-7s %-9s %6s %-5s %6s %6s %-20s %s\n",
		       PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
		       PQgetisnull(res, r, 3) ? "never" : PQgetvalue(res, r, 5), level,
		       or_dash(res, r, 7), size, luma, or_dash(res, r, 11), or_dash(res, r, 12),
		       loss, or_dash(res, r, 4), PQgetvalue(res, r, 0));
	}
}

static int print_json(const PGresult *res)
{
	json_t *arr = json_array();
	for (int r = 0; r < PQntuples(res); r++) {
		json_t *health = PQgetisnull(res, r, 3)
		                     ? json_null()
		                     : json_loads(PQgetvalue(res, r, 3), 0, NULL);
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:o}", "kiosk", PQgetvalue(res, r, 0), "branch",
		                   PQgetvalue(res, r, 1), "name", PQgetvalue(res, r, 2), "health",
		                   health ? health : json_null()));
	}
	int rc = json_dumpf(arr, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(arr);
	return rc;
}

int store_admin_kiosk_health(PGconn *conn, int json)
{
	PGresult *res = PQexec(conn, sql_last);
	int rc;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = store_admin_report(res, "", "", NULL, NULL);
	} else if (json) {
		rc = print_json(res) == 0 ? 0 : EXIT_DB;
	} else {
		print_table(res);
		rc = 0;
	}
	PQclear(res);
	return rc;
}
