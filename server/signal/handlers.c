/* One function per protocol request (shared/PROTOCOL.md). Each validates its fields, turns
 * the request into a routing event, a media negotiation or a store lookup, and replies
 * exactly once. Bad input gets an error reply and is counted; it never closes the
 * connection by itself, except the abuse limit and a first message that is not hello. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "signal/app_internal.h"
#include "signal/kiosk_staff.h"

#include <openssl/crypto.h>
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
	/* A password check (staff with username and password) goes through credentials.c. */
	int cred;
	char user[STORE_ID_MAX];
	char ip[64];
	char *password; /* until the check starts */
} auth_req;

static void auth_req_free(auth_req *req)
{
	if (req->password) {
		OPENSSL_cleanse(req->password, strlen(req->password));
		free(req->password);
	}
	json_decref(req->id);
	free(req);
}

/* Another live session of the same kiosk (open or suspended), which a new hello replaces. */
static sig_session *kiosk_session(sig_app *app, const char *kiosk_id, const sig_session *except)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s != except && s->joined && s->role == ROUTE_ROLE_KIOSK &&
		    strcmp(s->ident, kiosk_id) == 0 &&
		    route_session_role(app->route, s->sid) != ROUTE_ROLE_NONE)
			return s;
	return NULL;
}

/* One live session per kiosk (PROTOCOL.md): the old one is told `replaced` and closed with
 * 4001; the new connection takes over its session, so a visit in progress stays with the
 * kiosk. Its media stops at once: the new page negotiates its own PeerConnection. */
static void kiosk_take_over(sig_session *old, sig_session *fresh, json_t *id)
{
	sig_app *app = old->app;
	LOG_INFO("ws", "kiosk session replaced sid=%u kiosk=%s old_ip=%s new_ip=%s", old->sid,
	         old->ident, old->ip, fresh->ip);
	app->counters.replaced++;
	if (old->conn) {
		session_send_json(old, json_pack("{s:s}", "type", "replaced"));
		sig_conn_set_user(old->conn, NULL);
		sig_conn_close(old->conn, SIG_CLOSE_REPLACED, "replaced by a newer session");
		old->conn = NULL;
		route_session_suspend(app->route, old->sid, app_now());
	}
	sfu_peer_free(old->peer);
	old->peer = NULL;
	old->n_roles = 0;
	app_apply_feeds_naming(app, old->sid);
	session_adopt(old, fresh, id);
}

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
	if (s->role == ROUTE_ROLE_KIOSK) {
		sig_session *old = kiosk_session(s->app, s->ident, s);
		if (old) {
			kiosk_take_over(old, s, req->id); /* frees s */
			goto out;
		}
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
	sig_conn_set_max_message(s->conn, SIG_MAX_MESSAGE);
	LOG_INFO("ws", "hello sid=%u role=%s who=\"%s\" ip=%s", s->sid,
	         s->role == ROUTE_ROLE_KIOSK ? "kiosk" : "staff", s->name, s->ip);
	session_reply_ok(s, req->id, session_hello_reply(s));
	app_drain_actions(s->app);
out:
	auth_req_free(req);
}

static void on_kiosk_auth(void *user, int err, const store_kiosk *k)
{
	auth_req *req = user;
	sig_session *s = session_by_sid(req->app, req->sid);
	/* A kiosk token works only at its tenant's address (tenant.c). */
	if (s && err == 0 &&
	    strcmp(k->tenant[0] ? k->tenant : SIG_DEFAULT_TENANT,
	           tenant_of_host(req->app, sig_conn_host(s->conn))) != 0)
		err = 1;
	if (s && err == 0) {
		snprintf(s->tenant, sizeof s->tenant, "%s", k->tenant[0] ? k->tenant : SIG_DEFAULT_TENANT);
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
	/* Staff of another tenant fail here like a wrong password (tenant.c). */
	const char *tenant = err == 0 && st->tenant[0] ? st->tenant : SIG_DEFAULT_TENANT;
	if (err == 0 && s && strcmp(tenant, tenant_of_host(req->app, sig_conn_host(s->conn))) != 0)
		err = 1;
	if (req->cred)
		cred_end(req->app, req->user, req->ip, err, "ws");
	if (s && err == 0) {
		snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
		s->staff = *st;
		snprintf(s->ident, sizeof s->ident, "%s", st->id);
		snprintf(s->name, sizeof s->name, "%s", st->name);
	}
	hello_done(req, err);
}

/* credentials.c lets a password check run (go), or the server stops before it could. */
static void hello_password_go(void *ctx, int go)
{
	auth_req *req = ctx;
	char *pw = req->password;
	req->password = NULL;
	int rc = go ? store_auth_staff(req->app->store, req->user, pw, on_staff_auth, req) : -1;
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	if (rc == 0)
		return;
	if (go)
		cred_end(req->app, req->user, req->ip, -1, "ws");
	req->cred = 0;
	hello_done(req, -1);
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
	if (strcmp(role, "guest") == 0) {
		guest_hello(s, msg, id); /* guests.c */
		return;
	}
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
		const char *user = req_str(s, msg, id, "username", STORE_ID_MAX - 1);
		const char *pass = user ? req_str(s, msg, id, "password", 1024) : NULL;
		if (!pass)
			goto bad;
		snprintf(req->user, sizeof req->user, "%s", user);
		snprintf(req->ip, sizeof req->ip, "%s", s->ip);
		if (!(req->password = strdup(pass))) {
			session_reply_error(s, id, "internal", "out of memory");
			goto bad;
		}
		s->role = ROUTE_ROLE_STAFF;
		s->state = SIG_AUTHENTICATING;
		req->cred = 1;
		int retry = 0;
		int refused =
		    cred_begin(s->app, req->user, req->ip, hello_password_go, req, &retry);
		if (refused) {
			/* A refusal costs no hash; it counts as a bad message like a wrong
			 * password. */
			s->state = SIG_NEW;
			char text[128];
			snprintf(text, sizeof text, "too many login attempts; try again in %d s",
			         retry);
			req_bad(s, id, "too_many", text);
			goto bad;
		}
		return; /* hello_password_go owns req now (and may already have freed it) */
	} else {
		req_bad(s, id, "bad_request", "role must be \"kiosk\", \"staff\" or \"guest\"");
		goto bad;
	}
	if (rc != 0) {
		s->state = SIG_NEW;
		session_reply_error(s, id, "internal", "the database is unavailable");
		goto bad;
	}
	return;
bad:
	auth_req_free(req);
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
	/* Its own receivers, and those of the sessions routing already told to receive it
	 * (wired to nothing while it had no peer); nobody else's wiring changes. */
	session_apply_feeds(s);
	app_apply_feeds_naming(s->app, s->sid);
	session_send_slots(s);
}

static void h_candidate(sig_session *s, json_t *msg, json_t *id)
{
	/* ICE-lite: the browser's checks reach us directly; its candidates are not needed. */
	session_reply_ok(s, id, NULL);
}

/* ---- kiosk ---- */

/* At most SIG_CALLS_PER_MINUTE calls in any minute: a resident taps a few times at most,
 * while a script looping call/hangup would fill queues and records. */
static int call_allowed(sig_session *s)
{
	int64_t now = clock_mono_us();
	int64_t *oldest = &s->call_times[s->call_next];
	if (*oldest && now - *oldest < 60 * INT64_C(1000000))
		return 0;
	*oldest = now;
	s->call_next = (s->call_next + 1) % SIG_CALLS_PER_MINUTE;
	return 1;
}

static void h_call(sig_session *s, json_t *msg, json_t *id)
{
	char visit[ROUTE_UUID_LEN];
	if (!call_allowed(s)) {
		s->app->counters.calls_limited++;
		session_reply_error(s, id, "too_many", "at most %d calls a minute from one kiosk",
		                    SIG_CALLS_PER_MINUTE);
		return;
	}
	if (json_object_get(msg, "booking")) {
		bookings_call(s, msg, id); /* bookings.c */
		return;
	}
	if (json_object_get(msg, "onestop")) {
		const char *menu = req_str(s, msg, id, "onestop", 63);
		if (!menu || !tenant_check(s, id, tenant_menu_ok(s, menu), "one-stop menu"))
			return;
		int rc = route_call_onestop(s->app->route, s->sid, menu, app_now(), visit);
		if (rc == 0)
			s->app->counters.calls++;
		req_route(s, id, rc, rc == 0 ? json_pack("{s:s}", "visit", visit) : NULL, "call");
		return;
	}
	const char *dept = req_str(s, msg, id, "department", 63);
	const char *proc = dept ? req_opt_str(s, msg, id, "procedure", 63) : NULL;
	if (!proc || !tenant_check(s, id, tenant_dept_ok(s, dept), "department"))
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
    {"selftest", ANY_ROLE, h_selftest},
    {"kiosk_pin", KIOSK_ONLY, h_kiosk_pin},
    {"status", STAFF_ONLY, h_status},
    {"view", ANY_ROLE, h_view},
    {"book", STAFF_ONLY, h_book},
    {"cancel_booking", STAFF_ONLY, h_cancel_booking},
    {"bookings", STAFF_ONLY, h_bookings},
    {"text", ANY_ROLE, h_text},
    {"annotate", STAFF_ONLY, h_annotate},
    {"guest_invite", STAFF_ONLY, h_guest_invite}, {"layout", STAFF_ONLY, h_layout},
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
		/* While a hello is being checked, anything else is bad input (counted toward the
		 * abuse limit); before any hello it ends the connection. */
		if (s->state == SIG_NEW) {
			session_reply_error(s, id, "unauthorized", "say hello first");
			s->app->counters.bad_messages++;
			sig_conn_close(s->conn, 1008, "hello first");
		} else {
			req_bad(s, id, "unauthorized", "wait for the reply to hello");
		}
		goto done;
	}
	if (s->role == ROUTE_ROLE_GUEST && !guest_may_send(type)) {
		req_bad(s, id, "forbidden", "a guest may send only text, hangup, offer, candidate");
		goto done;
	}
	if (s->role == ROUTE_ROLE_GUEST && strcmp(type, "hangup") == 0) {
		guest_hangup(s, id);
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
