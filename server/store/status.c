/* The status board's reads and writes (store.h, "the status board"): the list of kiosks that
 * exist, and when each was last seen. Both run on the store's connection among its other
 * queries (store_query_params), so neither ever blocks the loop or a call. */
#include "base/log.h"
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sql_kiosk_list[] =
    "SELECT k.id::text, k.name, k.branch_id, b.name,"
    " coalesce((extract(epoch FROM k.last_seen) * 1000000)::bigint, 0), b.tenant_id"
    " FROM kiosks k JOIN branches b ON b.id = k.branch_id"
    " WHERE k.revoked_at IS NULL"
    " ORDER BY b.sort, b.id, k.name, k.id";

/* Never moves backwards: an end written late must not hide a later start. */
static const char sql_kiosk_seen[] =
    "UPDATE kiosks SET last_seen = to_timestamp($2::float8 / 1000000)"
    " WHERE id = $1::uuid AND (last_seen IS NULL OR last_seen < to_timestamp($2::float8 / "
    "1000000))";

struct list_job {
	store_kiosks_cb cb;
	void *user;
};

static void copy_text(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetvalue(res, row, col));
}

static void on_list(void *user, int err, const PGresult *res)
{
	struct list_job *job = user;
	int n = err == 0 ? PQntuples(res) : 0;
	store_kiosk_entry *list = n > 0 ? calloc((size_t)n, sizeof *list) : NULL;
	if (n > 0 && !list) {
		LOG_ERROR("store", "out of memory reading kiosks count=%d", n);
		err = -1;
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		store_kiosk_entry *e = &list[i];
		copy_text(e->k.id, sizeof e->k.id, res, i, 0);
		copy_text(e->k.name, sizeof e->k.name, res, i, 1);
		copy_text(e->k.branch_id, sizeof e->k.branch_id, res, i, 2);
		copy_text(e->k.branch_name, sizeof e->k.branch_name, res, i, 3);
		e->last_seen_us = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		copy_text(e->k.tenant, sizeof e->k.tenant, res, i, 5);
	}
	job->cb(job->user, err, list, n);
	free(list);
	free(job);
}

int store_kiosk_list(store *s, store_kiosks_cb cb, void *user)
{
	if (!s || !cb)
		return -1;
	struct list_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	if (store_query_params(s, "kiosk_list", sql_kiosk_list, 0, NULL, on_list, job) != 0) {
		free(job);
		return -1;
	}
	return 0;
}

static void on_seen(void *user, int err, const PGresult *res)
{
	(void)res;
	char *kiosk_id = user;
	if (err != 0)
		LOG_WARN("store", "kiosk last_seen not written kiosk=%s", kiosk_id);
	free(kiosk_id);
}

int store_kiosk_seen(store *s, const char *kiosk_id, int64_t at_us)
{
	if (!s || !store_is_uuid(kiosk_id) || at_us <= 0)
		return -1;
	char at[24];
	snprintf(at, sizeof at, "%lld", (long long)at_us);
	char *id = strdup(kiosk_id);
	if (!id)
		return -1;
	const char *values[] = {kiosk_id, at};
	if (store_query_params(s, "kiosk_seen", sql_kiosk_seen, 2, values, on_seen, id) != 0) {
		free(id);
		return -1;
	}
	return 0;
}
