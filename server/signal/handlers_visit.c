/* Requests about a visit in progress: transfer and invite (desks), control (desks and
 * coordinators to the kiosk), share (anyone in a room), survey (kiosks, after the visit). */
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "p-<sid>" as the protocol names parties; 0 when malformed. */
static uint32_t party_sid(const char *party)
{
	if (strncmp(party, "p-", 2) != 0 || !party[2])
		return 0;
	char *end;
	unsigned long v = strtoul(party + 2, &end, 10);
	return *end == '\0' && v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static void visit_to_department(sig_session *s, json_t *msg, json_t *id, int invite)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	const char *dept = visit ? req_str(s, msg, id, "department", 63) : NULL;
	if (!dept || !tenant_check(s, id, tenant_dept_ok(s, dept), "department"))
		return;
	int64_t now = app_now();
	int rc = invite ? route_invite(s->app->route, s->sid, visit, dept, now)
	                : route_transfer(s->app->route, s->sid, visit, dept, now);
	req_route(s, id, rc, NULL, invite ? "invite" : "transfer");
}

void h_transfer(sig_session *s, json_t *msg, json_t *id)
{
	visit_to_department(s, msg, id, 0);
}

void h_invite(sig_session *s, json_t *msg, json_t *id)
{
	visit_to_department(s, msg, id, 1);
}

void h_control(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	const char *target = visit ? req_str(s, msg, id, "target", 24) : NULL;
	if (!target)
		return;
	json_t *vol = json_object_get(msg, "volume");
	json_t *mic = json_object_get(msg, "mic");
	if ((vol && !json_is_number(vol)) || (mic && !json_is_boolean(mic)) || (!vol && !mic)) {
		req_bad(s, id, "bad_request",
		        "control needs \"volume\" (0.0..1.0) or \"mic\" (boolean)");
		return;
	}
	double volume = vol ? json_number_value(vol) : -1.0;
	if (vol && (volume < 0.0 || volume > 1.0)) {
		req_bad(s, id, "bad_request", "\"volume\" must be between 0.0 and 1.0");
		return;
	}
	uint32_t sid = party_sid(target);
	if (!sid) {
		req_bad(s, id, "bad_request", "\"target\" must be a party id (p-…)");
		return;
	}
	req_route(s, id,
	          route_control(s->app->route, s->sid, visit, sid, volume,
	                        mic ? json_is_true(mic) : -1, app_now()),
	          NULL, "control");
}

void h_share(sig_session *s, json_t *msg, json_t *id)
{
	json_t *active = json_object_get(msg, "active");
	if (!json_is_boolean(active)) {
		req_bad(s, id, "bad_request", "field \"active\" must be a boolean");
		return;
	}
	req_route(s, id, route_share(s->app->route, s->sid, json_is_true(active), app_now()), NULL,
	          "share");
}

void h_survey(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (!visit)
		return;
	json_t *rating = json_object_get(msg, "rating");
	if (!json_is_integer(rating) || json_integer_value(rating) < 1 ||
	    json_integer_value(rating) > 5) {
		req_bad(s, id, "bad_request", "field \"rating\" must be an integer from 1 to 5");
		return;
	}
	req_route(
	    s, id,
	    route_survey(s->app->route, s->sid, visit, (int)json_integer_value(rating), app_now()),
	    NULL, "survey");
}
