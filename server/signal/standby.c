/* Active/standby on the signalling side (issue 15; docs/operations.md, "Two nodes").
 *
 * With `standby-lease = on` the node starts as a standby: it reads the directory and listens
 * as usual, so /healthz answers (503, "standby": a load balancer's or keepalived's check
 * fails) and the pages' files are served, but /ws is refused with 503 until the store's lease
 * (store/lease.c) says this node is the active one. Then it closes every visit left open by
 * the previous active node as `interrupted` (store_close_takeover) and serves.
 *
 * An active node that could not renew its lease in time (it lost the database) steps down
 * before the lease can expire: every session ends as if its page had gone (routing closes
 * the visits and legs, `dropped`), the connections close with 1001 so the pages reconnect
 * through the floating address to whichever node is active, and /ws is refused again. No
 * routing state survives; a node that becomes active again starts clean, like the other one.
 *
 * With the key off there is no lease and this file changes nothing: the node serves. */
#include "base/log.h"
#include "signal/app_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void step_down(sig_app *app)
{
	int n = 0;
	while (app->sessions) {
		app_end_session(app, app->sessions, 1001, "standby", NULL);
		n++;
	}
	LOG_WARN("standby", "stepped down: /ws refused until the lease is back sessions_closed=%d",
	         n);
}

static void on_lease(void *user, int active)
{
	sig_app *app = user;
	if (app->stopping)
		return;
	app->serving = active;
	if (active) {
		app->counters.takeovers++;
		if (store_close_takeover(app->store) != 0)
			LOG_ERROR("standby",
			          "cannot queue the close of the previous node's visits");
		LOG_INFO("standby", "taking over: serving /ws node=%s", app->cfg.node_id);
	} else {
		step_down(app);
	}
	status_touch(app);
}

int standby_start(sig_app *app)
{
	if (!app->cfg.standby_lease) {
		app->serving = 1;
		return 0;
	}
	if (!app->cfg.node_id[0]) {
		char host[64] = "";
		if (gethostname(host, sizeof host) != 0 || !host[0] ||
		    config_set(&app->cfg, "node-id", host) != 0) {
			LOG_ERROR("standby",
			          "standby-lease needs node-id (the host name is unusable)");
			return -1;
		}
	}
	store_set_node(app->store, app->cfg.node_id);
	app->lease = store_lease_new(app->loop, app->cfg.db, app->cfg.node_id, on_lease, app);
	if (!app->lease) {
		LOG_ERROR("standby", "cannot start the lease node=%s", app->cfg.node_id);
		return -1;
	}
	return 0;
}

int standby_serving(const sig_app *app)
{
	return app->serving;
}

static void on_released(void *user)
{
	sig_app *app = user;
	app->lease_released = 1;
}

int standby_release(sig_app *app)
{
	if (!app->lease || app->lease_released)
		return 1;
	if (!app->lease_releasing) {
		app->lease_releasing = 1;
		app->serving = 0;
		store_lease_release(app->lease, on_released, app);
	}
	return app->lease_released;
}

void standby_free(sig_app *app)
{
	store_lease_free(app->lease);
	app->lease = NULL;
}

int standby_health(sig_app *app, char **body)
{
	int up = store_is_up(app->store);
	int spooled = store_pending(app->store);
	if (!app->lease)
		return asprintf(body, "{\"status\":\"ok\",\"db\":\"%s\",\"spooled\":%d}",
		                up ? "up" : "down", spooled) < 0
		           ? -1
		           : 200;
	/* node-id is plain (config.c); the row's holder is written by the other node, so it
	 * is checked the same way before it goes into JSON. */
	char holder[64];
	snprintf(holder, sizeof holder, "%s", store_lease_holder(app->lease));
	for (char *p = holder; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			*p = '?';
	if (asprintf(body,
	             "{\"status\":\"%s\",\"role\":\"%s\",\"node\":\"%s\",\"active_node\":\"%s\","
	             "\"db\":\"%s\",\"spooled\":%d}",
	             app->serving ? "ok" : "standby", app->serving ? "active" : "standby",
	             app->cfg.node_id, holder, up ? "up" : "down", spooled) < 0)
		return -1;
	return app->serving ? 200 : 503;
}
