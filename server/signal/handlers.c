/* One function per protocol request (shared/PROTOCOL.md). Each validates its fields, turns
 * the request into a routing event, a media negotiation or a store lookup, and replies
 * exactly once. Bad input gets an error reply and is counted; it never closes the
 * connection by itself, except the abuse limit and a first message that is not hello. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts a bad message; past the limit the connection is closed with 1008. */
void req_count_bad(sig_session *s)
{
	int64_t now = clock_mono_us();
	s->app->counters.bad_messages++;
	if (now - s->bad_window_start_us > SIG_BAD_WINDOW_US) {
		s->bad_window_start_us = now;
		s->bad_count = 0;
	}
	if (++s->bad_count > SIG_BAD_LIMIT && s->conn) {
		LOG_WARN("ws", "closing abusive client sid=%u ip=%s", s->sid, s->ip);
		s->app->counters.closed_for_abuse++;
		sig_conn_close(s->conn, 1008, "too many bad messages");
	}
}

void req_bad(sig_session *s, json_t *id, const char *code, const char *text)
{
	session_reply_error(s, id, code, "%s", text);
	req_count_bad(s);
}

/* Replies to a routing result: ok (with fields) or the routing error's protocol code. */
void req_route(sig_session *s, json_t *id, int rc, json_t *fields, const char *what)
{
	if (rc == 0) {
		session_reply_ok(s, id, fields);
	} else {
		json_decref(fields);
		const char *code = route_strerror(rc);
		session_reply_error(s, id, code, "%s: %s", what, code);
		if (rc == ROUTE_ERR_BAD_REQUEST || rc == ROUTE_ERR_FORBIDDEN)
			req_count_bad(s);
	}
	app_drain_actions(s->app);
}

/* A required string field of at most max bytes; NULL (after replying) when absent. */
const char *req_str(sig_session *s, json_t *msg, json_t *id, const char *key, size_t max)
{
	json_t *v = json_object_get(msg, key);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
		char text[96];
		snprintf(text, sizeof text, "field \"%s\" must be a non-empty string", key);
		req_bad(s, id, "bad_request", text);
		return NULL;
	}
	return json_string_value(v);
}

/* An optional string field: "" when absent; NULL (after replying) when of the wrong type. */
const char *req_opt_str(sig_session *s, json_t *msg, json_t *id, const char *key, size_t max)
{
	json_t *v = json_object_get(msg, key);
	if (!v || json_is_null(v))
		return "";
	if (!json_is_string(v) || json_string_length(v) > max) {
		char text[96];
		snprintf(text, sizeof text, "field \"%s\" must be a string", key);
		req_bad(s, id, "bad_request", text);
		return NULL;
	}
	return json_string_value(v);
}

/* ---- hello ---- */

typedef struct auth_req {
	sig_app *app;
	uint32_t sid;
	json_t *id;
} auth_req;

static void hello_done(auth_req *req, int err)
{
	sig_session *s = session_by_sid(req->app, req->sid);
	if (!s)
		goto out;
	if (err != 0) {
		s->state = SIG_NEW;
		if (err < 0)
			session_reply_error(s, req->id, "internal", "the database is unavailable");
		else
			req_bad(s, req->id, "unauthorized", "unknown device or wrong credentials");
		goto out;
	}
	route_session_info info = {.role = s->role, .ident = s->ident};
	const char *depts[STORE_MAX_DEPTS];
	if (s->role == ROUTE_ROLE_STAFF) {
		for (int i = 0; i < s->staff.n_departments; i++)
			depts[i] = s->staff.departments[i];
		info.departments = depts;
		info.n_departments = s->staff.n_departments;
		info.flags = (s->staff.coordinator ? ROUTE_FLAG_COORDINATOR : 0) |
		             (s->staff.analyst ? ROUTE_FLAG_ANALYST : 0) |
		             (s->staff.admin ? ROUTE_FLAG_ADMIN : 0);
	}
	int rc = route_session_join(s->app->route, s->sid, &info, app_now());
	if (rc != 0) {
		s->state = SIG_NEW;
		session_reply_error(s, req->id, route_strerror(rc), "cannot join: %s",
		                    route_strerror(rc));
		goto out;
	}
	s->joined = 1;
	s->state = SIG_READY;
	LOG_INFO("ws", "hello sid=%u role=%s who=\"%s\" ip=%s", s->sid,
	         s->role == ROUTE_ROLE_KIOSK ? "kiosk" : "staff", s->name, s->ip);
	session_reply_ok(s, req->id, session_hello_reply(s));
	app_drain_actions(s->app);
out:
	json_decref(req->id);
	free(req);
}

static void on_kiosk_auth(void *user, int err, const store_kiosk *k)
{
	auth_req *req = user;
	sig_session *s = session_by_sid(req->app, req->sid);
	if (s && err == 0) {
		snprintf(s->ident, sizeof s->ident, "%s", k->id);
		snprintf(s->name, sizeof s->name, "%s", k->name);
		snprintf(s->branch_id, sizeof s->branch_id, "%s", k->branch_id);
		snprintf(s->branch_name, sizeof s->branch_name, "%s", k->branch_name);
	}
	hello_done(req, err);
}

static void on_staff_auth(void *user, int err, const store_staff *st)
{
	auth_req *req = user;
	sig_session *s = session_by_sid(req->app, req->sid);
	if (s && err == 0) {
		s->staff = *st;
		snprintf(s->ident, sizeof s->ident, "%s", st->id);
		snprintf(s->name, sizeof s->name, "%s", st->name);
	}
	hello_done(req, err);
}

static void h_hello(sig_session *s, json_t *msg, json_t *id)
{
	if (s->state != SIG_NEW) {
		req_bad(s, id, "bad_request", "hello was already sent on this connection");
		return;
	}
	if (json_object_get(msg, "resume") && !json_object_get(msg, "role")) {
		const char *token = req_str(s, msg, id, "resume", 64);
		if (token)
			session_resume(s, token, id); /* may free s */
		return;
	}
	const char *role = req_str(s, msg, id, "role", 16);
	if (!role)
		return;
	auth_req *req = calloc(1, sizeof *req);
	if (!req) {
		session_reply_error(s, id, "internal", "out of memory");
		return;
	}
	req->app = s->app;
	req->sid = s->sid;
	req->id = json_incref(id);
	int rc;
	if (strcmp(role, "kiosk") == 0) {
		const char *token = req_str(s, msg, id, "token", 256);
		if (!token)
			goto bad;
		s->role = ROUTE_ROLE_KIOSK;
		s->state = SIG_AUTHENTICATING;
		rc = store_auth_kiosk(s->app->store, token, on_kiosk_auth, req);
	} else if (strcmp(role, "staff") == 0 && json_object_get(msg, "token")) {
		/* A login token from POST /api/login stands in for the password. */
		const char *token = req_str(s, msg, id, "token", 256);
		if (!token)
			goto bad;
		s->role = ROUTE_ROLE_STAFF;
		s->state = SIG_AUTHENTICATING;
		rc = store_login_check(s->app->store, token, on_staff_auth, req);
	} else if (strcmp(role, "staff") == 0) {
		const char *user = req_str(s, msg, id, "username", 64);
		const char *pass = user ? req_str(s, msg, id, "password", 1024) : NULL;
		if (!pass)
			goto bad;
		s->role = ROUTE_ROLE_STAFF;
		s->state = SIG_AUTHENTICATING;
		rc = store_auth_staff(s->app->store, user, pass, on_staff_auth, req);
	} else {
		req_bad(s, id, "bad_request", "role must be \"kiosk\" or \"staff\"");
		goto bad;
	}
	if (rc != 0) {
		s->state = SIG_NEW;
		session_reply_error(s, id, "internal", "the database is unavailable");
		goto bad;
	}
	return;
bad:
	json_decref(req->id);
	free(req);
}

/* ---- media ---- */

static void h_offer(sig_session *s, json_t *msg, json_t *id)
{
	const char *sdp = req_str(s, msg, id, "sdp", SIG_MAX_MESSAGE);
	if (!sdp)
		return;
	json_t *tracks = json_object_get(msg, "tracks");
	if (!json_is_object(tracks) || json_object_size(tracks) == 0 ||
	    json_object_size(tracks) > SIG_MAX_TRACKS) {
		req_bad(s, id, "bad_request", "field \"tracks\" must map each mid to a role");
		return;
	}
	sfu_track_role roles[SIG_MAX_TRACKS];
	int n = 0;
	const char *mid;
	json_t *v;
	json_object_foreach (tracks, mid, v) {
		enum sfu_role role =
		    json_is_string(v) ? sfu_role_from_name(json_string_value(v)) : SFU_ROLE_NONE;
		if (role == SFU_ROLE_NONE || strlen(mid) == 0 ||
		    strlen(mid) >= sizeof roles[0].mid) {
			req_bad(s, id, "bad_request",
			        "tracks: roles are mic, camera, document or slot");
			return;
		}
		snprintf(roles[n].mid, sizeof roles[n].mid, "%s", mid);
		roles[n++].role = role;
	}
	if (!s->peer) {
		char label[32];
		snprintf(label, sizeof label, "p-%u", s->sid);
		s->peer = sfu_peer_new(s->app->sfu, label);
		if (!s->peer) {
			session_reply_error(s, id, "internal", "out of memory");
			return;
		}
	}
	char err[160] = "";
	char *answer = NULL;
	if (sfu_peer_offer(s->peer, sdp, strlen(sdp), roles, n, &answer, err, sizeof err) != 0) {
		char text[200];
		snprintf(text, sizeof text, "offer rejected: %s", err);
		req_bad(s, id, "bad_request", text);
		return;
	}
	memcpy(s->roles, roles, sizeof roles[0] * (size_t)n);
	s->n_roles = n;
	session_reply_ok(s, id, json_pack("{s:s}", "sdp", answer));
	free(answer);
	app_apply_feeds(s->app);
	session_send_slots(s);
}

static void h_candidate(sig_session *s, json_t *msg, json_t *id)
{
	/* ICE-lite: the browser's checks reach us directly; its candidates are not needed. */
	session_reply_ok(s, id, NULL);
}

/* ---- kiosk ---- */

static void h_call(sig_session *s, json_t *msg, json_t *id)
{
	char visit[ROUTE_UUID_LEN];
	if (json_object_get(msg, "onestop")) {
		const char *menu = req_str(s, msg, id, "onestop", 63);
		if (!menu)
			return;
		int rc = route_call_onestop(s->app->route, s->sid, menu, app_now(), visit);
		if (rc == 0)
			s->app->counters.calls++;
		req_route(s, id, rc, rc == 0 ? json_pack("{s:s}", "visit", visit) : NULL, "call");
		return;
	}
	const char *dept = req_str(s, msg, id, "department", 63);
	const char *proc = dept ? req_opt_str(s, msg, id, "procedure", 63) : NULL;
	if (!proc)
		return;
	int rc = route_call(s->app->route, s->sid, dept, proc, app_now(), visit);
	if (rc == 0)
		s->app->counters.calls++;
	req_route(s, id, rc, rc == 0 ? json_pack("{s:s}", "visit", visit) : NULL, "call");
}

static void h_hangup(sig_session *s, json_t *msg, json_t *id)
{
	req_route(s, id, route_hangup(s->app->route, s->sid, app_now()), NULL, "hangup");
}

/* ---- staff ---- */

static void h_presence(sig_session *s, json_t *msg, json_t *id)
{
	const char *status = req_str(s, msg, id, "status", 16);
	if (!status)
		return;
	int available = strcmp(status, "available") == 0;
	if (!available && strcmp(status, "away") != 0) {
		req_bad(s, id, "bad_request", "status must be \"available\" or \"away\"");
		return;
	}
	req_route(s, id, route_presence(s->app->route, s->sid, available, app_now()), NULL,
	          "presence");
}

static void h_accept(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (visit)
		req_route(s, id, route_accept(s->app->route, s->sid, visit, app_now()), NULL,
		          "accept");
}

static void h_end(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	const char *outcome = visit ? req_str(s, msg, id, "outcome", 16) : NULL;
	const char *proc = outcome ? req_opt_str(s, msg, id, "procedure", 63) : NULL;
	const char *note = proc ? req_opt_str(s, msg, id, "note", ROUTE_NOTE_MAX - 1) : NULL;
	if (note)
		req_route(s, id,
		          route_end(s->app->route, s->sid, visit, outcome, proc, note, app_now()),
		          NULL, "end");
}

/* ---- dispatch ---- */

enum need { ANY_ROLE, KIOSK_ONLY, STAFF_ONLY };

static const struct handler {
	const char *type;
	enum need need;
	void (*fn)(sig_session *s, json_t *msg, json_t *id);
} handlers[] = {
    {"offer", ANY_ROLE, h_offer},         {"candidate", ANY_ROLE, h_candidate},
    {"share", ANY_ROLE, h_share},         {"call", KIOSK_ONLY, h_call},
    {"hangup", KIOSK_ONLY, h_hangup},     {"survey", KIOSK_ONLY, h_survey},
    {"presence", STAFF_ONLY, h_presence}, {"accept", STAFF_ONLY, h_accept},
    {"end", STAFF_ONLY, h_end},           {"transfer", STAFF_ONLY, h_transfer},
    {"invite", STAFF_ONLY, h_invite},     {"control", STAFF_ONLY, h_control},
    {"watch", STAFF_ONLY, h_watch},       {"onestop", STAFF_ONLY, h_onestop},
    {"patch", STAFF_ONLY, h_patch},       {"join", STAFF_ONLY, h_join},
    {"leave", STAFF_ONLY, h_leave},       {"finish", STAFF_ONLY, h_finish},
};

void handle_message(sig_session *s, const char *text, size_t len)
{
	s->app->counters.messages++;
	json_error_t je;
	json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(msg)) {
		json_decref(msg);
		if (s->state == SIG_NEW && !s->joined) {
			/* Not even a hello: the protocol's first-message rule applies. */
			session_reply_error(s, NULL, "unauthorized",
			                    "the first message must be hello");
			sig_conn_close(s->conn, 1008, "hello first");
			return;
		}
		req_bad(s, NULL, "bad_request", "a message is one JSON object");
		return;
	}
	json_t *id = json_object_get(msg, "id");
	const char *type = json_string_value(json_object_get(msg, "type"));
	if (id && !json_is_integer(id)) {
		req_bad(s, NULL, "bad_request", "field \"id\" must be an integer");
		goto done;
	}
	if (!type) {
		req_bad(s, id, "bad_request", "field \"type\" must be a string");
		goto done;
	}
	if (strcmp(type, "hello") == 0) {
		h_hello(s, msg, id);
		goto done;
	}
	if (s->state != SIG_READY) {
		session_reply_error(s, id, "unauthorized", "say hello first");
		if (s->state == SIG_NEW) {
			s->app->counters.bad_messages++;
			sig_conn_close(s->conn, 1008, "hello first");
		}
		goto done;
	}
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
		const struct handler *h = &handlers[i];
		if (strcmp(h->type, type) != 0)
			continue;
		if ((h->need == KIOSK_ONLY && s->role != ROUTE_ROLE_KIOSK) ||
		    (h->need == STAFF_ONLY && s->role != ROUTE_ROLE_STAFF)) {
			char t[96];
			snprintf(t, sizeof t, "\"%s\" is not for a %s", type,
			         s->role == ROUTE_ROLE_KIOSK ? "kiosk" : "staff session");
			req_bad(s, id, "forbidden", t);
		} else {
			h->fn(s, msg, id);
		}
		goto done;
	}
	req_bad(s, id, "bad_request", "unknown message type");
done:
	json_decref(msg);
}
