/* Revocation that reaches the running server: the notices migration 3's triggers send on the
 * channel madoguchi_identity, the re-check after a reconnection, the lookups that say whether
 * a live session's kiosk or staff member is still good, and logging out a login token.
 *
 * store.c LISTENs on the channel after every connect (in the same round trip that turns
 * synchronous_commit on) and calls store_identity_drain after every read of the connection,
 * so a notice is handled as soon as it arrives, whatever the store was doing. */
#include "base/log.h"
#include "store/internal.h"
#include "store/password.h"
#include "store/sql.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDENT_CHANNEL "madoguchi_identity"

void store_on_identity_change(store *s, store_ident_cb cb, void *user)
{
	if (!s)
		return;
	s->ident_cb = cb;
	s->ident_user = user;
}

/* Ids in notices and in the lookups are uuids in their canonical text form; checking that
 * first keeps a malformed id from becoming a SQL error (which would read as "database
 * unavailable"). */
int store_is_uuid(const char *id)
{
	if (!id || strlen(id) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = id[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		int hex =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (dash ? c != '-' : !hex)
			return 0;
	}
	return 1;
}

/* One notice: "kiosk:<uuid>" or "staff:<uuid>". Anything else is logged and ignored (another
 * program may share the channel name by mistake; it must not confuse the server). */
static void dispatch(store *s, const PGnotify *n)
{
	store_ident_kind kind;
	const char *payload = n->extra ? n->extra : "";
	if (strncmp(payload, "kiosk:", 6) == 0)
		kind = STORE_IDENT_KIOSK;
	else if (strncmp(payload, "staff:", 6) == 0)
		kind = STORE_IDENT_STAFF;
	else
		kind = (store_ident_kind)-1;
	const char *id = payload + 6;
	if ((kind != STORE_IDENT_KIOSK && kind != STORE_IDENT_STAFF) || !store_is_uuid(id)) {
		char line[128];
		LOG_WARN("store", "unexpected identity notice ignored payload=\"%s\"",
		         store_one_line(payload, line, sizeof line));
		return;
	}
	LOG_INFO("store", "identity changed kind=%s id=%s",
	         kind == STORE_IDENT_KIOSK ? "kiosk" : "staff", id);
	if (kind == STORE_IDENT_STAFF)
		store_queries_staff_changed(s, id);
	if (s->ident_cb)
		s->ident_cb(s->ident_user, kind, id);
}

void store_identity_drain(store *s)
{
	PGnotify *n;
	/* A listener's callback may queue a query whose send fails, which drops the connection:
	 * then the rest waits for the re-check after the reconnection. */
	while (s->state == STORE_CONN_UP && s->conn && (n = PQnotifies(s->conn))) {
		if (strcmp(n->relname, IDENT_CHANNEL) == 0)
			dispatch(s, n);
		else if (strcmp(n->relname, STORE_DIRECTORY_CHANNEL) == 0)
			store_live_notice(s, n->extra);
		PQfreemem(n);
	}
}

void store_identity_reconnected(store *s)
{
	store_queries_staff_changed(s, NULL);
	if (s->ident_cb)
		s->ident_cb(s->ident_user, STORE_IDENT_KIOSK, NULL);
	if (s->ident_cb)
		s->ident_cb(s->ident_user, STORE_IDENT_STAFF, NULL);
	store_live_reconnected(s);
}

/* ---- the lookups ---- */

static const char sql_kiosk_alive[] = "SELECT revoked_at IS NULL FROM kiosks WHERE id = $1::uuid";

static const char sql_staff_alive[] = "SELECT NOT disabled AND cred_version = $2::bigint"
                                      " FROM staff WHERE id = $1::uuid";

/* Only a live token counts as logged out now; an expired or revoked one was already. */
static const char sql_logout[] =
    "UPDATE login_sessions SET revoked = true"
    " WHERE token_hash = $1::bytea AND NOT revoked AND expires_at > now() RETURNING 1";

struct alive_job {
	store_alive_cb cb;
	void *user;
};

/* Both lookups answer one boolean row when the identity exists; logout one row when it
 * revoked the token. No row means revoked (or unknown). */
static void on_alive(void *user, int err, const PGresult *res)
{
	struct alive_job *job = user;
	if (err == 0)
		err = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 'f' ? 0 : 1;
	job->cb(job->user, err);
	free(job);
}

static int lookup(store *s, const char *name, const char *sql, int n, const char *const *values,
                  store_alive_cb cb, void *user)
{
	struct alive_job *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	if (store_query_params(s, name, sql, n, values, on_alive, job) != 0) {
		free(job);
		return -1;
	}
	return 0;
}

int store_kiosk_alive(store *s, const char *kiosk_id, store_alive_cb cb, void *user)
{
	if (!s || !cb || !store_is_uuid(kiosk_id))
		return -1;
	const char *values[] = {kiosk_id};
	return lookup(s, "kiosk_alive", sql_kiosk_alive, 1, values, cb, user);
}

int store_staff_alive(store *s, const char *staff_id, long long cred_version, store_alive_cb cb,
                      void *user)
{
	if (!s || !cb || !store_is_uuid(staff_id))
		return -1;
	char version[24];
	snprintf(version, sizeof version, "%lld", cred_version);
	const char *values[] = {staff_id, version};
	return lookup(s, "staff_alive", sql_staff_alive, 2, values, cb, user);
}

int store_logout(store *s, const char *token, store_alive_cb cb, void *user)
{
	uint8_t digest[PASSWORD_DIGEST_LEN];
	char hash[2 * PASSWORD_DIGEST_LEN + 8];
	if (!s || !token || !cb || password_token_digest(token, digest) != 0)
		return -1;
	store_sql_bytea_text(digest, sizeof digest, hash, sizeof hash);
	const char *values[] = {hash};
	return lookup(s, "logout", sql_logout, 1, values, cb, user);
}
