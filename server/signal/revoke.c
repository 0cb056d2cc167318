/* Revocation that takes effect at once (PROTOCOL.md, "Limits every server enforces"):
 * `madoguchi admin kiosk revoke`, `user disable` and `user passwd` change PostgreSQL from
 * another process; triggers announce each change (store_on_identity_change), and every live
 * session of that kiosk or staff member ends here: event `revoked`, close 4003, and it
 * leaves routing as a dropped session does, so its resume token dies with it. Staff login
 * tokens are revoked by the same triggers in the database.
 *
 * A kiosk notice ends that kiosk's sessions outright (a revoked token never logs in again).
 * A staff notice is checked per session against the credential version it logged in with,
 * so a clerk who logged in again with the new password a moment after `passwd` keeps that
 * session. Notices sent while the store's connection was down are lost, so after every
 * (re)connection the store asks for a re-check: each live identity is looked up again, and
 * those no longer good end the same way. */
#include "base/log.h"
#include "signal/app_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct alive_req {
	sig_app *app;
	uint32_t sid;
	const char *why; /* for the log line: "notice" or "recheck" */
} alive_req;

static void revoke_session(sig_app *app, sig_session *s, const char *why)
{
	LOG_WARN("ws", "session revoked sid=%u role=%s who=\"%s\" ip=%s why=%s", s->sid,
	         s->role == ROUTE_ROLE_KIOSK ? "kiosk" : "staff", s->name, s->ip, why);
	app->counters.revoked++;
	app_end_session(app, s, SIG_CLOSE_REVOKED, "revoked", "revoked");
}

/* Sessions that routing knows (live or suspended) of this role and identity. */
static int live_of(sig_app *app, const sig_session *s, enum route_role role)
{
	return s->joined && s->role == role &&
	       route_session_role(app->route, s->sid) != ROUTE_ROLE_NONE;
}

static void on_alive(void *user, int err)
{
	alive_req *req = user;
	sig_session *s = err == 1 ? session_by_sid(req->app, req->sid) : NULL;
	if (s && !req->app->stopping)
		revoke_session(req->app, s, req->why);
	free(req);
}

/* Looks the session's identity up again; it ends if it is no longer good. */
static void recheck(sig_app *app, sig_session *s, const char *why)
{
	alive_req *req = calloc(1, sizeof *req);
	if (!req)
		return;
	req->app = app;
	req->sid = s->sid;
	req->why = why;
	int rc = s->role == ROUTE_ROLE_KIOSK
	             ? store_kiosk_alive(app->store, s->ident, on_alive, req)
	             : store_staff_alive(app->store, s->ident, s->staff.cred_version, on_alive,
	                                 req);
	if (rc != 0)
		free(req);
}

static void on_identity(void *user, store_ident_kind kind, const char *id)
{
	sig_app *app = user;
	if (app->stopping)
		return;
	/* The board's kiosk list: read at every (re)connection and when a kiosk goes. */
	if (kind == STORE_IDENT_KIOSK)
		status_reload_kiosks(app);
	enum route_role role = kind == STORE_IDENT_KIOSK ? ROUTE_ROLE_KIOSK : ROUTE_ROLE_STAFF;
	if (!id) {
		for (sig_session *s = app->sessions; s; s = s->next)
			if (live_of(app, s, role))
				recheck(app, s, "recheck");
		return;
	}
	if (role == ROUTE_ROLE_STAFF) {
		for (sig_session *s = app->sessions; s; s = s->next)
			if (live_of(app, s, role) && strcmp(s->ident, id) == 0)
				recheck(app, s, "notice");
		return;
	}
	/* Ending a session frees it: find the next one afresh each time. */
	for (sig_session *s = app->sessions; s;) {
		if (live_of(app, s, role) && strcmp(s->ident, id) == 0) {
			revoke_session(app, s, "notice");
			s = app->sessions;
			continue;
		}
		s = s->next;
	}
}

void revoke_watch(sig_app *app)
{
	store_on_identity_change(app->store, on_identity, app);
}
