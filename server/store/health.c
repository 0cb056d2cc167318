/* Saving the kiosk self-test's results (store.h, "Kiosk self-test"): one statement that
 * appends to the history, replaces the kiosk's last result and prunes the history to a
 * month. It goes through the store's query queue (queries.c): asynchronous, with the same
 * timeout as the other queries, so a database that is down costs the result and a log line,
 * never a wait. Unlike call records, results are not spooled: the next test replaces them. */
#include "base/log.h"
#include "store/internal.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static const char sql_health_save[] =
    "WITH hist AS ("
    "  INSERT INTO kiosk_health (kiosk_id, at, audio_state, video_state, health)"
    "  VALUES ($1::uuid, $2::timestamptz, $3, $4, $5::jsonb) RETURNING 1),"
    " last AS ("
    "  INSERT INTO kiosk_health_last AS l (kiosk_id, at, audio_state, video_state, health)"
    "  VALUES ($1::uuid, $2::timestamptz, $3, $4, $5::jsonb)"
    "  ON CONFLICT (kiosk_id) DO UPDATE SET at = EXCLUDED.at,"
    "   audio_state = EXCLUDED.audio_state, video_state = EXCLUDED.video_state,"
    "   health = EXCLUDED.health"
    "  WHERE l.at <= EXCLUDED.at RETURNING 1),"
    " pruned AS ("
    "  DELETE FROM kiosk_health WHERE at < now() - interval '1 month' RETURNING 1)"
    " SELECT (SELECT count(*) FROM hist), (SELECT count(*) FROM pruned)";

typedef struct health_job {
	store_health_cb cb;
	void *user;
	char kiosk[STORE_ID_MAX];
} health_job;

static void on_saved(void *user, int err, const PGresult *res)
{
	health_job *job = user;
	(void)res;
	if (err != 0)
		LOG_WARN("store", "kiosk self-test result not saved kiosk=%s reason=database",
		         job->kiosk);
	if (job->cb)
		job->cb(job->user, err ? -1 : 0);
	free(job);
}

int store_health_save(store *s, const char *kiosk_id, const char *at, const char *audio_state,
                      const char *video_state, const char *health_json, store_health_cb cb,
                      void *user)
{
	if (!s || !kiosk_id || !at || !audio_state || !video_state || !health_json ||
	    strlen(kiosk_id) >= STORE_ID_MAX)
		return -1;
	health_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	memcpy(job->kiosk, kiosk_id, strlen(kiosk_id) + 1);
	const char *values[5] = {kiosk_id, at, audio_state, video_state, health_json};
	if (store_query_params(s, "health_save", sql_health_save, 5, values, on_saved, job) != 0) {
		LOG_WARN("store", "kiosk self-test result not saved kiosk=%s reason=queue",
		         kiosk_id);
		free(job);
		return -1;
	}
	return 0;
}
