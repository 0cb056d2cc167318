/* Directory changes that reach the running server (issue 11, "changes without restart"):
 * the notices migration 6's triggers send on the channel madoguchi_directory, handed to
 * the listener the signal layer registered. store.c LISTENs on the channel after every
 * connect, together with the identity channel; identity.c reads every notice of the
 * connection and passes this channel's here. */
#include "base/log.h"
#include "store/internal.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_on_directory_change(store *s, store_directory_change_cb cb, void *user)
{
	if (!s)
		return;
	s->dir_cb = cb;
	s->dir_user = user;
}

void store_live_notice(store *s, const char *payload)
{
	char line[96];
	LOG_INFO("store", "directory changed table=%s",
	         store_one_line(payload ? payload : "", line, sizeof line));
	if (s->dir_cb)
		s->dir_cb(s->dir_user, payload ? payload : "");
}

void store_live_reconnected(store *s)
{
	if (s->dir_cb)
		s->dir_cb(s->dir_user, NULL);
}

/* ---- a logged-in clerk's departments and flags ---- */

static const char sql_staff_directory[] =
    "SELECT s.coordinator, s.analyst, s.admin, sd.department_id"
    " FROM staff s LEFT JOIN staff_departments sd ON sd.staff_id = s.id"
    " WHERE s.id = $1::uuid AND NOT s.disabled ORDER BY sd.department_id";

struct staff_job {
	store_staff_cb cb;
	void *user;
	char id[STORE_ID_MAX];
};

static void on_staff_directory(void *user, int err, const PGresult *res)
{
	struct staff_job *job = user;
	store_staff st;
	memset(&st, 0, sizeof st);
	snprintf(st.id, sizeof st.id, "%s", job->id);
	if (err == 0 && PQntuples(res) == 0)
		err = 1;
	for (int r = 0; err == 0 && r < PQntuples(res); r++) {
		if (r == 0) {
			st.coordinator = PQgetvalue(res, 0, 0)[0] == 't';
			st.analyst = PQgetvalue(res, 0, 1)[0] == 't';
			st.admin = PQgetvalue(res, 0, 2)[0] == 't';
		}
		if (PQgetisnull(res, r, 3) || st.n_departments == STORE_MAX_DEPTS)
			continue;
		snprintf(st.departments[st.n_departments++], STORE_ID_MAX, "%s",
		         PQgetvalue(res, r, 3));
	}
	job->cb(job->user, err, err == 0 ? &st : NULL);
	free(job);
}

int store_staff_directory(store *s, const char *staff_id, store_staff_cb cb, void *user)
{
	/* Only a uuid reaches the query, so a bad id cannot read as "database unavailable". */
	if (!s || !cb || !store_is_uuid(staff_id))
		return -1;
	struct staff_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	snprintf(job->id, sizeof job->id, "%s", staff_id);
	const char *values[] = {staff_id};
	if (store_query_params(s, "staff_directory", sql_staff_directory, 1, values,
	                       on_staff_directory, job) != 0) {
		free(job);
		return -1;
	}
	return 0;
}
