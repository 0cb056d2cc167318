/* Coordinator requests (staff with the coordinator flag; routing answers forbidden for
 * others): watch the one-stop visits, change an itinerary, patch the resident to a
 * department now, join or leave the room, finish the visit. */
#include "base/clock.h"
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The protocol's VISIT object. */
json_t *visit_view_json(sig_app *app, const route_visit_view *v)
{
	char started[40];
	clock_format_rfc3339(v->started_us, started, sizeof started);
	json_t *steps = json_array();
	for (int i = 0; i < v->n_steps; i++) {
		const route_step_info *st = &v->steps[i];
		json_t *desk =
		    st->desk ? session_party(app, st->desk, st->department) : json_null();
		json_array_append_new(
		    steps, json_pack("{s:s, s:s, s:o}", "department", st->department, "state",
		                     route_step_state_name(st->state), "desk", desk));
	}
	json_t *coords = json_array();
	for (int i = 0; i < v->n_coordinators; i++)
		json_array_append_new(coords, session_party(app, v->coordinators[i], NULL));
	json_t *o = json_pack("{s:s, s:o, s:s, s:s?, s:o, s:o, s:b}", "visit", v->visit, "kiosk",
	                      session_party(app, v->kiosk, NULL), "started_at", started, "menu",
	                      v->menu[0] ? v->menu : NULL, "itinerary", steps, "coordinators",
	                      coords, "ended", v->ended);
	if (v->ended)
		json_object_set_new(o, "reason", json_string(v->reason));
	return o;
}

void h_watch(sig_session *s, json_t *msg, json_t *id)
{
	int rc = route_watch(s->app->route, s->sid, app_now());
	json_t *fields = NULL;
	if (rc == 0) {
		/* A view is about 2 KB: the list lives on the heap. */
		int n = route_watch_list(s->app->route, NULL, 0);
		route_visit_view *views = n > 0 ? calloc((size_t)n, sizeof *views) : NULL;
		if (views)
			n = route_watch_list(s->app->route, views, n);
		json_t *list = json_array();
		for (int i = 0; views && i < n; i++)
			if (tenant_sid_in(s->app, views[i].kiosk, s->tenant))
				json_array_append_new(list, visit_view_json(s->app, &views[i]));
		free(views);
		fields = json_pack("{s:o}", "visits", list);
	}
	req_route(s, id, rc, fields, "watch");
}

void h_onestop(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (!visit || !tenant_check(s, id, tenant_visit_ok(s, visit), "visit"))
		return;
	json_t *it = json_object_get(msg, "itinerary");
	const char *depts[ROUTE_MAX_STEPS];
	size_t n = json_array_size(it);
	if (!json_is_array(it) || n > ROUTE_MAX_STEPS) {
		req_bad(s, id, "bad_request",
		        "field \"itinerary\" must be a list of department ids");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		depts[i] = json_string_value(json_array_get(it, i));
		if (!depts[i]) {
			req_bad(s, id, "bad_request", "itinerary entries must be department ids");
			return;
		}
		if (!tenant_check(s, id, tenant_dept_ok(s, depts[i]), "department"))
			return;
	}
	req_route(s, id, route_onestop_set(s->app->route, s->sid, visit, depts, (int)n, app_now()),
	          NULL, "onestop");
}

void h_patch(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	const char *dept = visit ? req_opt_str(s, msg, id, "department", 63) : NULL;
	if (dept && tenant_check(s, id, tenant_visit_ok(s, visit), "visit") &&
	    (!dept[0] || tenant_check(s, id, tenant_dept_ok(s, dept), "department")))
		req_route(s, id, route_patch(s->app->route, s->sid, visit, dept, app_now()), NULL,
		          "patch");
}

void h_join(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (visit && tenant_check(s, id, tenant_visit_ok(s, visit), "visit"))
		req_route(s, id, route_room_join(s->app->route, s->sid, visit, app_now()), NULL,
		          "join");
}

void h_leave(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (visit)
		req_route(s, id, route_room_leave(s->app->route, s->sid, visit, app_now()), NULL,
		          "leave");
}

void h_finish(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (visit && tenant_check(s, id, tenant_visit_ok(s, visit), "visit"))
		req_route(s, id, route_finish(s->app->route, s->sid, visit, app_now()), NULL,
		          "finish");
}
