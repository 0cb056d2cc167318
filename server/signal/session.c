/* Sessions as the protocol sees them: sending replies and events, and describing parties,
 * departments and slots in PROTOCOL.md's JSON shapes. */
#include "base/log.h"
#include "base/rand.h"
#include "signal/app_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sig_session *session_by_sid(sig_app *app, uint32_t sid)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s->sid == sid)
			return s;
	return NULL;
}

void session_send_json(sig_session *s, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return;
	if (s->conn)
		sig_conn_send(s->conn, text, strlen(text));
	free(text);
}

void session_reply_ok(sig_session *s, json_t *id, json_t *fields)
{
	json_t *msg = fields ? fields : json_object();
	json_object_set_new(msg, "type", json_string("ok"));
	json_object_set(msg, "id", id ? id : json_null());
	session_send_json(s, msg);
}

void session_reply_error(sig_session *s, json_t *id, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	json_t *msg = json_object();
	json_object_set_new(msg, "type", json_string("error"));
	json_object_set(msg, "id", id ? id : json_null());
	json_object_set_new(msg, "code", json_string(code));
	json_object_set_new(msg, "message", json_string(text));
	session_send_json(s, msg);
}

const sig_dept *app_dept(sig_app *app, const char *id)
{
	for (int i = 0; i < app->n_depts; i++)
		if (strcmp(app->depts[i].id, id) == 0)
			return &app->depts[i];
	return NULL;
}

static json_t *dept_ref(sig_app *app, const char *id)
{
	const sig_dept *d = app_dept(app, id);
	return json_pack("{s:s, s:s}", "id", id, "name", d ? d->name : id);
}

/* What others see of a session. A staff member shows the department they act for: the
 * hint (the visit's department) when they belong to it, else their first department. */
json_t *session_party(sig_app *app, uint32_t sid, const char *department_hint)
{
	sig_session *s = session_by_sid(app, sid);
	if (!s)
		return json_null();
	char id[24];
	snprintf(id, sizeof id, "p-%u", sid);
	if (s->role == ROUTE_ROLE_KIOSK)
		return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "id", id, "role", "kiosk", "name",
		                 s->name, "branch", "id", s->branch_id, "name", s->branch_name);
	if (s->role == ROUTE_ROLE_GUEST)
		return json_pack("{s:s, s:s, s:s}", "id", id, "role", "guest", "name", s->name);
	const char *dept = s->staff.n_departments ? s->staff.departments[0] : NULL;
	for (int i = 0; department_hint && i < s->staff.n_departments; i++)
		if (strcmp(s->staff.departments[i], department_hint) == 0)
			dept = department_hint;
	json_t *p = json_pack("{s:s, s:s, s:s}", "id", id, "role", "staff", "name", s->name);
	json_object_set_new(p, "department", dept ? dept_ref(app, dept) : json_null());
	return p;
}

json_t *app_departments_json(sig_app *app, const char *tenant)
{
	json_t *list = json_array();
	for (int i = 0; i < app->n_depts; i++) {
		const sig_dept *d = &app->depts[i];
		route_department_info info;
		if (strcmp(d->tenant, tenant) != 0)
			continue;
		if (route_department_get(app->route, d->id, &info) != 0)
			continue;
		json_t *procs = json_array();
		for (int j = 0; j < d->n_procedures; j++)
			json_array_append_new(procs,
			                      json_pack("{s:s, s:s}", "id", d->procedures[j].id,
			                                "name", d->procedures[j].name));
		json_array_append_new(list,
		                      json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:o}", "id",
		                                d->id, "name", d->name, "open", info.open,
		                                "available", info.available, "queued", info.queued,
		                                "staffed", info.staffed, "estimated_wait_s",
		                                info.estimated_wait_s, "procedures", procs));
	}
	return list;
}

static sfu_peer *peer_of(sig_app *app, uint32_t sid)
{
	sig_session *s = sid ? session_by_sid(app, sid) : NULL;
	return s ? s->peer : NULL;
}

/* Applies one session's declared feeds to the media plane: only its own receive slots
 * are rewired. */
void session_apply_feeds(sig_session *s)
{
	if (!s->peer)
		return;
	s->app->counters.feed_applies++;
	sfu_peer *extras[ROUTE_MAX_EXTRA];
	for (int i = 0; i < s->n_feed_extra; i++)
		extras[i] = peer_of(s->app, s->feed_extra[i]);
	sfu_peer_set_feeds(s->peer, peer_of(s->app, s->feed_primary),
	                   peer_of(s->app, s->feed_document), extras, s->n_feed_extra);
}

static int feeds_name(const sig_session *s, uint32_t sid)
{
	if (s->feed_primary == sid || s->feed_document == sid)
		return 1;
	for (int i = 0; i < s->n_feed_extra; i++)
		if (s->feed_extra[i] == sid)
			return 1;
	return 0;
}

/* Re-applies the declared feeds of the sessions that name sid, for when sid's peer
 * appears or goes: a source that negotiates after routing wired it, or one replaced. No
 * other receiver's wiring depends on that peer, so no other session is touched. */
void app_apply_feeds_naming(sig_app *app, uint32_t sid)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s->sid != sid && feeds_name(s, sid))
			session_apply_feeds(s);
}

void session_send_slots(sig_session *s)
{
	if (!s->peer)
		return;
	sfu_slot_info slots[SIG_MAX_TRACKS];
	int n = sfu_peer_slots(s->peer, slots, SIG_MAX_TRACKS);
	json_t *list = json_array();
	for (int i = 0; i < n; i++) {
		int feeder = slots[i].extra;
		uint32_t sid = feeder == SFU_SLOT_DOCUMENT  ? s->feed_document
		               : feeder == SFU_SLOT_PRIMARY ? s->feed_primary
		               : feeder < s->n_feed_extra   ? s->feed_extra[feeder]
		                                            : 0;
		const char *kind = slots[i].role == SFU_ROLE_DOCUMENT ? "document"
		                   : slots[i].video                   ? "camera"
		                                                      : "mic";
		json_t *e = json_pack("{s:s}", "mid", slots[i].mid);
		if (sid) {
			char party[24];
			snprintf(party, sizeof party, "p-%u", sid);
			json_object_set_new(e, "party", json_string(party));
			json_object_set_new(e, "kind", json_string(kind));
		} else {
			json_object_set_new(e, "party", json_null());
			json_object_set_new(e, "kind", json_null());
		}
		json_array_append_new(list, e);
	}
	session_send_json(s, json_pack("{s:s, s:o}", "type", "slots", "slots", list));
}

static json_t *flags_json(const store_staff *st)
{
	json_t *f = json_array();
	if (st->coordinator)
		json_array_append_new(f, json_string("coordinator"));
	if (st->analyst)
		json_array_append_new(f, json_string("analyst"));
	if (st->admin)
		json_array_append_new(f, json_string("admin"));
	return f;
}

json_t *app_menus_json(sig_app *app, const char *tenant)
{
	json_t *list = json_array();
	for (int i = 0; i < app->n_menus; i++) {
		const sig_menu *m = &app->menus[i];
		if (strcmp(m->tenant, tenant) != 0)
			continue;
		json_t *steps = json_array();
		for (int j = 0; j < m->n_steps; j++)
			json_array_append_new(steps, json_string(m->steps[j]));
		json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "id", m->id, "name",
		                                      m->name, "itinerary", steps));
	}
	return list;
}

/* The ok reply to hello (fresh or resumed). Each one carries a new resume token: a token
 * is good for one reconnection. */
json_t *session_hello_reply(sig_session *s)
{
	rand_token(s->resume, 24);
	json_t *r =
	    json_pack("{s:o, s:s, s:o, s:o, s:o}", "self", session_party(s->app, s->sid, NULL),
	              "resume", s->resume, "departments", app_departments_json(s->app, s->tenant),
	              "onestop", app_menus_json(s->app, s->tenant), "flags",
	              s->role == ROUTE_ROLE_STAFF ? flags_json(&s->staff) : json_array());
	if (r && s->role == ROUTE_ROLE_KIOSK) /* today's bookings of its branch (bookings.c) */
		json_object_set_new(r, "bookings", bookings_kiosk_json(s->app, s->branch_id));
	/* Pages send their camera in simulcast layers only when told (config `simulcast`). */
	if (r && s->app->cfg.simulcast)
		json_object_set_new(r, "simulcast", json_true());
	return r;
}

/* The connection held by `fresh` (which said nothing but hello) takes over the session `old`,
 * whose connection is gone: `fresh` is freed, and `old` is resumed in routing, which re-emits
 * the session's state; that reaches the client after the reply. */
void session_adopt(sig_session *old, sig_session *fresh, json_t *id)
{
	sig_app *app = fresh->app;
	old->conn = fresh->conn;
	snprintf(old->ip, sizeof old->ip, "%s", fresh->ip);
	sig_conn_set_user(old->conn, old);
	sig_conn_set_max_message(old->conn, SIG_MAX_MESSAGE);
	/* The abuse limit counts per connection. */
	old->bad_count = 0;
	old->bad_window_start_us = 0;
	for (sig_session **pp = &app->sessions; *pp; pp = &(*pp)->next)
		if (*pp == fresh) {
			*pp = fresh->next;
			break;
		}
	free(fresh);
	if (route_session_suspended(app->route, old->sid))
		route_session_resume(app->route, old->sid, app_now());
	session_reply_ok(old, id, session_hello_reply(old));
	app_drain_actions(app);
}

/* hello with resume: the new connection takes over the suspended session the token names. */
void session_resume(sig_session *fresh, const char *token, json_t *id)
{
	sig_app *app = fresh->app;
	sig_session *old = NULL;
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s != fresh && !s->conn && s->joined && s->resume[0] &&
		    strcmp(s->resume, token) == 0)
			old = s;
	if (!old || !route_session_suspended(app->route, old->sid)) {
		req_bad(fresh, id, "not_found", "no session to resume: say hello with credentials");
		return;
	}
	LOG_INFO("ws", "resumed sid=%u ip=%s", old->sid, fresh->ip);
	session_adopt(old, fresh, id);
}
