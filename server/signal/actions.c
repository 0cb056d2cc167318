/* Executes routing actions: protocol events to sessions, media wiring, call records. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Routing runs on wall-clock time so that the records it emits carry real timestamps. */
int64_t app_now(void)
{
	return clock_wall_us();
}

static void send_event(sig_app *app, uint32_t to, json_t *ev)
{
	sig_session *s = session_by_sid(app, to);
	if (s)
		session_send_json(s, ev);
	else
		json_decref(ev);
}

static void do_queue(sig_app *app, const route_act_queue *a)
{
	route_queue_entry entries[64];
	int64_t now = app_now();
	int n = route_queue_list(app->route, a->department, now, entries, 64);
	if (n < 0)
		return;
	uint32_t staff[128];
	int ns = route_department_staff(app->route, a->department, staff, 128);
	for (int i = 0; i < ns && i < 128; i++) {
		json_t *visits = json_array();
		for (int j = 0; j < n && j < 64; j++)
			json_array_append_new(
			    visits,
			    json_pack("{s:s, s:o, s:I, s:s?}", "visit", entries[j].visit, "kiosk",
			              session_party(app, entries[j].kiosk, NULL), "waited_s",
			              (json_int_t)(entries[j].waited_ms / 1000), "procedure",
			              entries[j].procedure[0] ? entries[j].procedure : NULL));
		send_event(app, staff[i],
		           json_pack("{s:s, s:s, s:o}", "type", "queue", "department",
		                     a->department, "visits", visits));
	}
}

/* Every ready session gets its tenant's department list. The list is built and serialised
 * once per tenant, not once per session: building it scans every session for each
 * department, and at 500 sessions a desk going busy or free cost 500 such builds (a quarter
 * of a million session checks), which stalled the media of every call. */
#define DEPT_TEXT_TENANTS 8

static void do_departments(sig_app *app)
{
	struct {
		const char *tenant;
		char *text;
	} built[DEPT_TEXT_TENANTS];
	int n_built = 0;
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (s->state != SIG_READY || !s->conn)
			continue;
		char *text = NULL;
		for (int i = 0; i < n_built && !text; i++)
			if (strcmp(built[i].tenant, s->tenant) == 0)
				text = built[i].text;
		int own = 0;
		if (!text) {
			json_t *msg = json_pack("{s:s, s:o}", "type", "departments", "departments",
			                        app_departments_json(app, s->tenant));
			text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
			json_decref(msg);
			if (!text)
				continue;
			if (n_built < DEPT_TEXT_TENANTS) {
				built[n_built].tenant = s->tenant;
				built[n_built++].text = text;
			} else {
				own = 1; /* more tenants than the cache holds: built for this one */
			}
		}
		sig_conn_send(s->conn, text, strlen(text));
		if (own)
			free(text);
	}
	for (int i = 0; i < n_built; i++)
		free(built[i].text);
}

static void do_media(sig_app *app, uint32_t to, const route_act_media *a)
{
	sig_session *s = session_by_sid(app, to);
	if (!s)
		return;
	s->feed_primary = a->primary;
	s->feed_document = a->document;
	s->n_feed_extra = a->n_extra;
	memcpy(s->feed_extra, a->extra, sizeof(uint32_t) * (size_t)a->n_extra);
	session_apply_feeds(s);
	session_send_slots(s);
}

static void do_record(sig_app *app, const route_act_record *a, int64_t at_us)
{
	store_record r;
	memset(&r, 0, sizeof r);
	snprintf(r.visit, sizeof r.visit, "%s", a->visit);
	snprintf(r.leg, sizeof r.leg, "%s", a->leg);
	snprintf(r.kiosk_id, sizeof r.kiosk_id, "%s", a->kiosk_ident);
	snprintf(r.department, sizeof r.department, "%s", a->department);
	snprintf(r.procedure, sizeof r.procedure, "%s", a->procedure);
	snprintf(r.staff_id, sizeof r.staff_id, "%s", a->staff_ident);
	snprintf(r.outcome, sizeof r.outcome, "%s", a->reason);
	snprintf(r.note, sizeof r.note, "%s", a->note);
	r.at_us = at_us;
	switch (a->kind) {
	case ROUTE_REC_VISIT_STARTED:
		r.kind = STORE_VISIT_STARTED;
		snprintf(r.onestop_menu, sizeof r.onestop_menu, "%s", a->menu);
		break;
	case ROUTE_REC_LEG_QUEUED:
		r.kind = STORE_LEG_QUEUED;
		break;
	case ROUTE_REC_LEG_ANSWERED:
		r.kind = STORE_LEG_ANSWERED;
		app->counters.answered++;
		break;
	case ROUTE_REC_LEG_ENDED:
		r.kind = STORE_LEG_ENDED;
		break;
	case ROUTE_REC_VISIT_ENDED:
		r.kind = STORE_VISIT_ENDED;
		break;
	case ROUTE_REC_SURVEY:
		r.kind = STORE_SURVEY;
		r.rating = a->rating;
		break;
	case ROUTE_REC_GUEST_JOINED:
		r.kind = STORE_GUEST_JOINED;
		break;
	case ROUTE_REC_GUEST_LEFT:
		r.kind = STORE_LEG_ENDED;
		break;
	case ROUTE_REC_AUDIT: {
		r.kind = STORE_AUDIT;
		rand_uuid(r.audit_id);
		snprintf(r.action, sizeof r.action, "%s", a->reason);
		json_t *detail = json_object();
		if (a->department[0])
			json_object_set_new(detail, "department", json_string(a->department));
		char *text = json_dumps(detail, JSON_COMPACT);
		json_decref(detail);
		snprintf(r.detail, sizeof r.detail, "%s", text ? text : "");
		free(text);
		break;
	}
	}
	LOG_INFO("call", "record kind=%d visit=%s leg=%s department=%s reason=%s", (int)a->kind,
	         a->visit, a->leg[0] ? a->leg : "-", a->department[0] ? a->department : "-",
	         a->reason[0] ? a->reason : "-");
	if (!app->store || store_write(app->store, &r) != 0)
		LOG_ERROR("call", "record not queued visit=%s", a->visit);
}

static json_t *parties_json(sig_app *app, const route_act_connected *a)
{
	json_t *list = json_array();
	route_visit_info vi;
	const char *dept = route_visit_get(app->route, a->visit, &vi) == 0 ? vi.department : NULL;
	for (int i = 0; i < a->n_parties; i++)
		json_array_append_new(list, session_party(app, a->parties[i], dept));
	return list;
}

static void do_action(sig_app *app, const route_action *a)
{
	switch (a->kind) {
	case ROUTE_ACT_RINGING: {
		const route_act_ringing *g = &a->ringing;
		send_event(app, a->to,
		           json_pack("{s:s, s:s, s:s, s:o, s:I, s:s?, s:b}", "type", "ringing",
		                     "visit", g->visit, "department", g->department, "kiosk",
		                     session_party(app, g->kiosk, NULL), "waited_s",
		                     (json_int_t)(g->waited_ms / 1000), "procedure",
		                     g->procedure[0] ? g->procedure : NULL, "onestop", g->onestop));
		break;
	}
	case ROUTE_ACT_RING_CANCELLED:
		send_event(app, a->to,
		           json_pack("{s:s, s:s, s:s}", "type", "ring_cancelled", "visit",
		                     a->ring_cancelled.visit, "reason", a->ring_cancelled.reason));
		break;
	case ROUTE_ACT_QUEUED:
		send_event(app, a->to,
		           json_pack("{s:s, s:s, s:s, s:i, s:i}", "type", "queued", "visit",
		                     a->queued.visit, "department", a->queued.department,
		                     "position", a->queued.position, "estimated_wait_s",
		                     a->queued.estimated_wait_s));
		break;
	case ROUTE_ACT_CONNECTED:
		send_event(app, a->to,
		           json_pack("{s:s, s:s, s:o}", "type", "connected", "visit",
		                     a->connected.visit, "parties",
		                     parties_json(app, &a->connected)));
		break;
	case ROUTE_ACT_ENDED:
		send_event(app, a->to,
		           json_pack("{s:s, s:s, s:s}", "type", "ended", "visit", a->ended.visit,
		                     "reason", a->ended.reason));
		{ /* A guest's session ends with the visit (guests.c). */
			sig_session *g = session_by_sid(app, a->to);
			if (g && g->role == ROUTE_ROLE_GUEST && g->conn)
				sig_conn_close(g->conn, 1000, "visit ended");
		}
		break;
	case ROUTE_ACT_QUEUE:
		do_queue(app, &a->queue);
		break;
	case ROUTE_ACT_DEPARTMENTS:
		do_departments(app);
		break;
	case ROUTE_ACT_MEDIA:
		do_media(app, a->to, &a->media);
		break;
	case ROUTE_ACT_RECORD:
		do_record(app, &a->record, a->at_us);
		break;
	case ROUTE_ACT_CONTROL: {
		const route_act_control *c = &a->control;
		json_t *ev = json_pack("{s:s, s:o}", "type", "control", "from",
		                       session_party(app, c->from, NULL));
		if (c->has_volume)
			json_object_set_new(ev, "volume", json_real(c->volume));
		if (c->mic >= 0)
			json_object_set_new(ev, "mic", json_boolean(c->mic));
		send_event(app, a->to, ev);
		break;
	}
	case ROUTE_ACT_VISIT: {
		/* Coordinators watch every one-stop visit routing has: only their tenant's. */
		sig_session *to = session_by_sid(app, a->to);
		if (!to || !tenant_sid_in(app, a->visit.view.kiosk, to->tenant))
			break;
		json_t *ev = visit_view_json(app, &a->visit.view);
		json_object_set_new(ev, "type", json_string("visit"));
		send_event(app, a->to, ev);
		break;
	}
	}
}

void app_drain_actions(sig_app *app)
{
	/* The largest kind (VISIT) carries a visit snapshot of about 2 KB: one buffer on the
	 * heap serves the loop; route_next_action copies only each action's own bytes. */
	route_action *a = malloc(sizeof *a);
	if (!a)
		return;
	while (route_next_action(app->route, a) == 1)
		do_action(app, a);
	free(a);
	app_arm_tick(app);
	status_touch(app);
}
