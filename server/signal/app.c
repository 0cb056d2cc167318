/* Start-up, connections and shutdown of the signalling application. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "signal/app_internal.h"
#include "signal/kiosk_staff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void new_id(void *user, char out[ROUTE_UUID_LEN])
{
	if (rand_uuid(out) != 0)
		snprintf(out, ROUTE_UUID_LEN, "00000000-0000-4000-8000-%012llx",
		         (unsigned long long)clock_mono_us());
}

/* ---- connections ---- */

static void *on_open(void *user, sig_conn *c, const char *peer_ip)
{
	sig_app *app = user;
	sig_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->app = app;
	s->conn = c;
	do
		s->sid = ++app->next_sid;
	while (s->sid == 0 || session_by_sid(app, s->sid));
	snprintf(s->ip, sizeof s->ip, "%s", peer_ip ? peer_ip : "?");
	s->opened_us = clock_mono_us();
	sig_conn_set_max_message(c, SIG_HELLO_MAX_MESSAGE);
	s->next = app->sessions;
	app->sessions = s;
	app->counters.connections++;
	return s;
}

/* Connections that have not completed hello cost memory and, for staff, a password hash:
 * PROTOCOL.md caps them per address and in all. */
static int on_upgrade(void *user, const char *peer_ip)
{
	sig_app *app = user;
	int from_addr = 0, total = 0;
	/* A standby serves /healthz and files, not sessions (standby.c). */
	if (!standby_serving(app))
		return 503;
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (!s->conn || s->state == SIG_READY)
			continue;
		total++;
		from_addr += strcmp(s->ip, peer_ip) == 0;
	}
	if (from_addr < SIG_UNAUTH_PER_ADDR && total < SIG_UNAUTH_TOTAL)
		return 0;
	app->counters.upgrades_refused++;
	if (app->counters.upgrades_refused % 100 == 1)
		LOG_WARN("ws",
		         "refusing connections without hello ip=%s from_ip=%d total=%d "
		         "refused_so_far=%llu",
		         peer_ip, from_addr, total,
		         (unsigned long long)app->counters.upgrades_refused);
	return 503;
}

/* Every second: connections that have not said hello in time are closed, and the summary
 * of refused credential checks is written when due. */
static void on_sweep(uv_timer_t *t)
{
	sig_app *app = t->data;
	int64_t now = clock_mono_us();
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (s->conn && s->state != SIG_READY &&
		    now - s->opened_us >= SIG_HELLO_DEADLINE_US) {
			LOG_INFO("ws", "closing connection without hello sid=%u ip=%s", s->sid,
			         s->ip);
			app->counters.hello_timeouts++;
			sig_conn_close(s->conn, 1008, "hello timeout");
			s->opened_us = INT64_MAX / 2; /* once */
		}
	}
	cred_flush_log(app, now);
	if (standby_serving(app))
		bookings_tick(app); /* the bookings' sweep, when due (bookings.c) */
}

static void on_message(void *user, sig_conn *c, void *conn_user, const char *text, size_t len)
{
	sig_session *s = conn_user;
	if (s)
		handle_message(s, text, len);
}

static void on_bad_frame(void *user, sig_conn *c, void *conn_user, const char *why)
{
	sig_session *s = conn_user;
	if (!s)
		return;
	/* Route it through the message handler's error path so that it is counted like any
	 * other bad message: an empty text is not a JSON object. */
	LOG_INFO("ws", "bad frame sid=%u why=\"%s\"", s->sid, why);
	handle_message(s, "", 0);
}

static void session_free(sig_app *app, sig_session *s)
{
	if (app->sfu)
		sfu_peer_free(s->peer);
	s->peer = NULL;
	for (sig_session **pp = &app->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	LOG_INFO("ws", "session gone sid=%u", s->sid);
	free(s);
}

static void on_close(void *user, sig_conn *c, void *conn_user)
{
	sig_app *app = user;
	sig_session *s = conn_user;
	if (!s)
		return;
	s->conn = NULL;
	/* A joined session may come back with hello resume: routing keeps its visit, queue
	 * place and wiring, and its media keeps flowing (the PeerConnection does not depend
	 * on the WebSocket). At shutdown there is no coming back. */
	if (s->joined && !app->stopping &&
	    route_session_suspend(app->route, s->sid, app_now()) == 0) {
		LOG_INFO("ws", "suspended sid=%u", s->sid);
		app_drain_actions(app);
		return;
	}
	if (s->joined) {
		route_session_leave(app->route, s->sid, app_now());
		app_drain_actions(app);
	}
	session_free(app, s);
}

/* The browser behind s->peer stopped answering ICE for 30 s (RFC 7675 consent expired): its
 * network is cut or the machine is gone. The session ends as a WebSocket closed for good
 * would: a kiosk's visit ends `dropped`, a desk's leg ends `dropped` and the resident is
 * queued again, and the others in the call are told. If the socket is still open (a cut
 * TCP connection can look alive for minutes) it is closed, so the page starts afresh once
 * its network is back. */
static void on_consent_lost(void *user, sfu_peer *peer)
{
	sig_app *app = user;
	sig_session *s = app->sessions;
	while (s && s->peer != peer)
		s = s->next;
	if (!s)
		return;
	LOG_WARN("ws", "media connection lost sid=%u reason=ice_consent_expired", s->sid);
	app->counters.media_lost++;
	app_end_session(app, s, 1001, "media connection lost", NULL);
}

void app_end_session(sig_app *app, sig_session *s, int status, const char *reason,
                     const char *event)
{
	if (s->joined && route_session_role(app->route, s->sid) != ROUTE_ROLE_NONE) {
		route_session_leave(app->route, s->sid, app_now());
		app_drain_actions(app);
	}
	if (s->conn) {
		if (event)
			session_send_json(s, json_pack("{s:s}", "type", event));
		sig_conn_set_user(s->conn, NULL);
		sig_conn_close(s->conn, status, reason);
		s->conn = NULL;
	}
	session_free(app, s);
}

static void on_route_tick(uv_timer_t *t)
{
	sig_app *app = t->data;
	route_tick(app->route, app_now());
	app_drain_actions(app);
	app_reap_sessions(app);
}

void app_arm_tick(sig_app *app)
{
	if (app->stopping)
		return;
	int64_t deadline = route_next_deadline(app->route);
	if (deadline < 0) {
		uv_timer_stop(&app->tick);
		return;
	}
	int64_t ms = (deadline - app_now()) / 1000 + 1;
	uv_timer_start(&app->tick, on_route_tick, (uint64_t)(ms > 0 ? ms : 0), 0);
}

void app_reap_sessions(sig_app *app)
{
	sig_session *s = app->sessions;
	while (s) {
		sig_session *next = s->next;
		if (!s->conn && s->joined &&
		    route_session_role(app->route, s->sid) == ROUTE_ROLE_NONE)
			session_free(app, s);
		s = next;
	}
}

/* ---- start-up: read the directory, then listen ---- */

static void load_directory(sig_app *app);

static void on_retry(uv_timer_t *t)
{
	load_directory(t->data);
}

static void start_listening(sig_app *app)
{
	sig_server_config sc = {
	    .bind = app->cfg.bind,
	    .port = app->cfg.port,
	    .web_root = app->cfg.web_root,
	    .cert_path = app->cfg.tls ? app->cfg.tls_cert : NULL,
	    .key_path = app->cfg.tls ? app->cfg.tls_key : NULL,
	    .allowed_origins = app->cfg.allowed_origins,
	};
	sig_callbacks cb = {
	    .user = app,
	    .on_open = on_open,
	    .on_upgrade = on_upgrade,
	    .on_message = on_message,
	    .on_bad_frame = on_bad_frame,
	    .on_close = on_close,
	    .on_http = app_on_http,
	};
	app->server = sig_server_new(app->loop, &sc, &cb);
	if (!app->server) {
		LOG_ERROR("main", "cannot listen bind=%s port=%d", app->cfg.bind, app->cfg.port);
		app->failed = 1;
		if (app->fatal_cb)
			app->fatal_cb(app->fatal_user);
		else
			sig_app_stop(app);
		return;
	}
	LOG_INFO("main", "listening bind=%s port=%d media_port=%d tls=%s", app->cfg.bind,
	         app->cfg.port, sfu_port(app->sfu), app->cfg.tls ? "on" : "off");
}

void app_on_directory(void *user, int err, const store_directory *d)
{
	sig_app *app = user;
	if (app->stopping)
		return;
	if (err != 0) {
		LOG_WARN("main", "cannot read departments yet; retrying in 1 s");
		uv_timer_start(&app->retry, on_retry, 1000, 0);
		return;
	}
	if (directory_apply(app, d) != 0) {
		LOG_ERROR("main", "out of memory reading the directory");
		app->failed = 1;
		if (app->fatal_cb)
			app->fatal_cb(app->fatal_user);
		return;
	}
	LOG_INFO("main", "directory loaded departments=%d menus=%d", app->n_depts, app->n_menus);
	live_started(app);
	start_listening(app);
}

static void load_directory(sig_app *app)
{
	if (store_load_directory(app->store, app_on_directory, app) != 0)
		uv_timer_start(&app->retry, on_retry, 1000, 0);
}

sig_app *sig_app_new(uv_loop_t *loop, const config *cfg)
{
	if (cfg->tls && sig_tls_ensure_selfsigned(cfg->tls_cert, cfg->tls_key) != 0) {
		LOG_ERROR("main", "no TLS certificate cert=%s key=%s", cfg->tls_cert, cfg->tls_key);
		return NULL;
	}
	sig_app *app = calloc(1, sizeof *app);
	if (!app)
		return NULL;
	app->loop = loop;
	app->cfg = *cfg;
	app->started_us = clock_wall_us();
	/* Business hours are local time: the server's own time zone (JST in Japan). */
	time_t t = time(NULL);
	struct tm local;
	localtime_r(&t, &local);
	route_config rc = {.user = app,
	                   .new_id = new_id,
	                   .no_answer_us = (int64_t)cfg->no_answer_s * 1000000,
	                   .tz_offset_s = (int)local.tm_gmtoff};
	app->route = route_new(&rc);
	sfu_config sc = {.bind_ip = cfg->media_bind,
	                 .port = cfg->media_port,
	                 .on_consent_lost = on_consent_lost,
	                 .user = app};
	sc.tcp = cfg->media_tcp;
	sc.probe_off = !cfg->media_probe;
	sc.simulcast = cfg->simulcast;
	sc.audio_red_off = !cfg->audio_red;
	for (int i = 0; i < cfg->n_media_ips; i++)
		sc.ips[sc.n_ips++] = cfg->media_ips[i];
	app->sfu = sfu_new(loop, &sc);
	app->store = store_new_with_key(loop, cfg->db, cfg->spool, cfg->spool_key);
	if (!app->route || !app->sfu || !app->store) {
		LOG_ERROR("main", "start-up failed route=%s sfu=%s store=%s",
		          app->route ? "ok" : "failed", app->sfu ? "ok" : "failed",
		          app->store ? "ok" : "failed");
		route_free(app->route);
		sfu_free(app->sfu);
		store_free(app->store);
		free(app);
		return NULL;
	}
	if (standby_start(app) != 0) {
		route_free(app->route);
		sfu_free(app->sfu);
		store_free(app->store);
		free(app);
		return NULL;
	}
	uv_timer_init(loop, &app->retry);
	app->retry.data = app;
	uv_timer_init(loop, &app->tick);
	app->tick.data = app;
	uv_timer_init(loop, &app->sweep);
	app->sweep.data = app;
	uv_timer_start(&app->sweep, on_sweep, 1000, 1000);
	revoke_watch(app);
	live_watch(app);
	if (health_start(app) != 0)
		LOG_ERROR("main", "kiosk self-test unavailable: out of memory");
	load_directory(app);
	return app;
}

/* Shutdown waits (up to SHUTDOWN_FLUSH_MS) for the connections to close and the records
 * their departure produced to reach PostgreSQL, then releases the media plane and store. */
#define SHUTDOWN_FLUSH_MS 3000

static void release_backends(sig_app *app)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		s->peer = NULL; /* sfu_free frees every peer */
	sfu_free(app->sfu);
	app->sfu = NULL;
	if (store_pending(app->store) > 0)
		LOG_ERROR("main", "records not written at shutdown count=%d",
		          store_pending(app->store));
	store_free(app->store);
	app->store = NULL;
	standby_free(app);
}

static void on_flush_tick(uv_timer_t *t)
{
	sig_app *app = t->data;
	int64_t waited_ms = (clock_mono_us() - app->stop_started_us) / 1000;
	if ((app->sessions || store_pending(app->store) > 0) && waited_ms < SHUTDOWN_FLUSH_MS)
		return;
	/* The records are in: hand the lease to the standby now rather than let it run out. */
	if (!standby_release(app) && waited_ms < SHUTDOWN_FLUSH_MS + 1000)
		return;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, NULL);
	release_backends(app);
}

void sig_app_on_fatal(sig_app *app, void (*cb)(void *user), void *user)
{
	app->fatal_cb = cb;
	app->fatal_user = user;
}

int sig_app_failed(const sig_app *app)
{
	return app->failed;
}

void sig_app_stop(sig_app *app)
{
	if (app->stopping)
		return;
	app->stopping = 1;
	app->stop_started_us = clock_mono_us();
	LOG_INFO("main", "shutting down connections=%llu",
	         (unsigned long long)app->counters.connections);
	/* Closing the server closes every connection; on_close leaves routing and frees the
	 * peers as each one goes. */
	sig_server_free(app->server);
	uv_timer_stop(&app->retry);
	uv_close((uv_handle_t *)&app->retry, NULL);
	uv_timer_stop(&app->tick);
	uv_close((uv_handle_t *)&app->tick, NULL);
	uv_timer_stop(&app->sweep);
	uv_close((uv_handle_t *)&app->sweep, NULL);
	live_stop(app);
	health_stop(app);
	status_stop(app);
	/* Checks of passwords that have not started will not: their requests are answered. */
	cred_free(app);
	/* Suspended sessions will not be resumed now: they leave like closed ones. */
	for (sig_session *s = app->sessions, *next; s; s = next) {
		next = s->next;
		if (!s->conn)
			on_close(app, NULL, s);
	}
	uv_timer_init(app->loop, &app->flush);
	app->flush.data = app;
	uv_timer_start(&app->flush, on_flush_tick, 0, 50);
}

void sig_app_free(sig_app *app)
{
	if (!app)
		return;
	sig_server_finish(app->server);
	app->server = NULL;
	/* Sessions whose close callback never came (the server was destroyed first) and
	 * suspended ones waiting for a resume that will not come. */
	while (app->sessions)
		on_close(app, app->sessions->conn, app->sessions);
	health_stop(app);
	if (app->sfu || app->store)
		release_backends(app);
	live_stop(app);
	route_free(app->route);
	cred_free(app);
	kiosk_staff_free(app); /* after the store: its pending lookups answer into it */
	status_free(app);
	bookings_free(app); /* after the store: its pending sweeps answer into it */
	for (int i = 0; i < app->n_depts; i++)
		free(app->depts[i].procedures);
	free(app->depts);
	for (int i = 0; i < app->n_menus; i++)
		free(app->menus[i].steps);
	free(app->menus);
	tenant_free(app);
	free(app);
}
