/* The kiosk self-test (PROTOCOL.md, "Kiosk health"; docs/operations.md, "Kiosk self-test").
 *
 * Each kiosk seen since start-up has an entry: its last HEALTH object, the probe running on
 * its media (server/sfu/probe.h) and the requests waiting for that probe. A test runs
 *  - on `selftest` from the kiosk itself, or from staff with the coordinator or admin flag
 *    naming a kiosk (requests for a kiosk under test share the running probe);
 *  - when a kiosk's media connects (ICE and DTLS-SRTP up), found by the once-a-second sweep;
 *  - every HEALTH_IDLE_US (10 minutes) while the kiosk is idle (in no visit).
 * The two automatic kinds run HEALTH_MAX_AUTO at a time: a test decodes three seconds of the
 * kiosk's video (about 110 ms of CPU and 4 MiB while it runs), and when many kiosks connect
 * at once (the morning, a restart of the server) they wait their turn on later sweeps
 * instead of all decoding beside the calls' media. Requests are never held back.
 * A result is kept in memory (health_json), saved to PostgreSQL (store_health_save, which
 * never blocks and gives up when the database is down), exported in /metrics
 * (health_metrics) and announced to the status board (status_kiosk_changed).
 *
 * A kiosk that is not connected has no media to test: `selftest` for it gets `not_found`
 * (its absence is the board's `online: false`, not a health result). A connected kiosk that
 * has not negotiated media yet is tested like any other and reports `missing`. */
#include "base/clock.h"
#include "base/log.h"
#include "sfu/probe.h"
#include "signal/app_internal.h"
#include "signal/fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_IDLE_US     (600 * INT64_C(1000000)) /* PROTOCOL.md: every 10 minutes when idle */
#define HEALTH_SWEEP_MS    1000
#define HEALTH_MAX_WAITERS 16 /* selftest requests sharing one run */
#define HEALTH_MAX_AUTO    4  /* automatic tests running at once, at most */

typedef struct health_waiter {
	uint32_t sid;
	json_t *id;
} health_waiter;

typedef struct health_entry {
	char kiosk[STORE_ID_MAX];
	char branch[STORE_ID_MAX];
	json_t *last;         /* HEALTH, or NULL before the first result */
	int64_t last_mono_us; /* when it was stored */
	int64_t run_mono_us;  /* when the last test started (the idle schedule counts from it) */
	struct health *h;
	sfu_probe *probe;
	const char *why; /* what started the running test, for the log */
	health_waiter waiters[HEALTH_MAX_WAITERS];
	int n_waiters;
	const sfu_peer *media_peer; /* the peer seen connected by the sweep, NULL: not connected */
} health_entry;

struct health {
	sig_app *app;
	uv_timer_t sweep;
	health_entry **entries;
	int n, cap;
	uint64_t runs;
	uint64_t deferred; /* sweeps on which a due automatic test waited for its turn */
	double cpu_s;
};

static health_entry *entry_find(struct health *h, const char *kiosk)
{
	for (int i = 0; i < h->n; i++)
		if (strcmp(h->entries[i]->kiosk, kiosk) == 0)
			return h->entries[i];
	return NULL;
}

static health_entry *entry_get(struct health *h, const sig_session *ks)
{
	health_entry *e = entry_find(h, ks->ident);
	if (e)
		return e;
	if (h->n == h->cap) {
		int cap = h->cap ? 2 * h->cap : 16;
		health_entry **n = realloc(h->entries, (size_t)cap * sizeof *n);
		if (!n)
			return NULL;
		h->entries = n;
		h->cap = cap;
	}
	if (!(e = calloc(1, sizeof *e)))
		return NULL;
	snprintf(e->kiosk, sizeof e->kiosk, "%s", ks->ident);
	snprintf(e->branch, sizeof e->branch, "%s", ks->branch_id);
	e->h = h;
	h->entries[h->n++] = e;
	return e;
}

/* The live session of a kiosk (connected or suspended), or NULL. */
static sig_session *kiosk_live(sig_app *app, const char *kiosk)
{
	for (sig_session *s = app->sessions; s; s = s->next)
		if (s->joined && s->role == ROUTE_ROLE_KIOSK && strcmp(s->ident, kiosk) == 0 &&
		    route_session_role(app->route, s->sid) == ROUTE_ROLE_KIOSK)
			return s;
	return NULL;
}

static double round1(double v)
{
	return round(v * 10) / 10;
}

/* The protocol's HEALTH object for one result. */
static json_t *health_object(const char *kiosk, const sfu_health *r, const char *at)
{
	const mcheck_audio_result *a = &r->audio;
	const mcheck_video_result *v = &r->video;
	int picture = v->decoded > 0;
	json_t *audio =
	    json_pack("{s:s, s:o}", "state", mcheck_state_name(a->state), "level_dbfs",
	              a->state == MCHECK_MISSING ? json_null() : json_real(round1(a->level_dbfs)));
	json_t *video = json_pack("{s:s, s:o, s:o, s:o}", "state", mcheck_state_name(v->state),
	                          "width", picture ? json_integer(v->width) : json_null(), "height",
	                          picture ? json_integer(v->height) : json_null(), "luma",
	                          picture ? json_real(round1(v->luma)) : json_null());
	json_t *net = json_pack(
	    "{s:o, s:o, s:o}", "transport",
	    r->has_net ? json_string(r->tcp ? "tcp" : "udp") : json_null(), "rtt_ms",
	    r->has_net && r->rtt_us > 0 ? json_integer((r->rtt_us + 500) / 1000) : json_null(),
	    "loss", r->has_net ? json_real(round(r->loss * 1000) / 1000) : json_null());
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "kiosk", kiosk, "at", at, "audio", audio,
	                 "video", video, "network", net);
}

static void reply_waiters(health_entry *e, json_t *health)
{
	sig_app *app = e->h->app;
	for (int i = 0; i < e->n_waiters; i++) {
		sig_session *s = session_by_sid(app, e->waiters[i].sid);
		if (s && s->conn) {
			if (health)
				session_reply_ok(s, e->waiters[i].id,
				                 json_pack("{s:O}", "health", health));
			else
				session_reply_error(s, e->waiters[i].id, "internal",
				                    "the self-test could not run");
		}
		json_decref(e->waiters[i].id);
	}
	e->n_waiters = 0;
}

static void store_result(health_entry *e, const sfu_health *r)
{
	struct health *h = e->h;
	sig_app *app = h->app;
	char at[40];
	clock_format_rfc3339(clock_wall_us(), at, sizeof at);
	json_t *health = health_object(e->kiosk, r, at);
	if (!health) {
		reply_waiters(e, NULL);
		return;
	}
	json_decref(e->last);
	e->last = health;
	e->last_mono_us = clock_mono_us();
	h->runs++;
	h->cpu_s += r->cpu_s;
	LOG_INFO("health",
	         "self-test kiosk=%s why=%s audio=%s level_dbfs=%.1f video=%s size=%dx%d "
	         "luma=%.1f frames=%d changed=%d stalled=%d audio_packets=%d video_packets=%d "
	         "cpu_ms=%.1f",
	         e->kiosk, e->why ? e->why : "?", mcheck_state_name(r->audio.state),
	         r->audio.level_dbfs, mcheck_state_name(r->video.state), r->video.width,
	         r->video.height, r->video.luma, r->video.decoded, r->video.changed,
	         r->video_stalled, r->audio.packets, r->video.packets, r->cpu_s * 1000);
	char *text = json_dumps(health, JSON_COMPACT);
	if (text && app->store)
		store_health_save(app->store, e->kiosk, at, mcheck_state_name(r->audio.state),
		                  mcheck_state_name(r->video.state), text, NULL, NULL);
	free(text);
	reply_waiters(e, health);
	status_kiosk_changed(app, e->kiosk);
}

static void on_probe_done(void *user, const sfu_health *r)
{
	health_entry *e = user;
	e->probe = NULL;
	store_result(e, r);
}

/* Starts a test of kiosk session ks unless one is running. Returns its entry, or NULL. */
static health_entry *run(struct health *h, sig_session *ks, const char *why)
{
	health_entry *e = entry_get(h, ks);
	if (!e || e->probe)
		return e;
	e->why = why;
	e->run_mono_us = clock_mono_us();
	if (!ks->peer) {
		/* No media negotiated: nothing can arrive, so there is nothing to wait for. */
		sfu_health none;
		memset(&none, 0, sizeof none);
		none.audio.state = none.video.state = MCHECK_MISSING;
		store_result(e, &none);
		return e;
	}
	e->probe = sfu_probe_start(ks->peer, SFU_PROBE_US, on_probe_done, e);
	if (!e->probe) {
		LOG_ERROR("health", "cannot start a self-test kiosk=%s", e->kiosk);
		reply_waiters(e, NULL);
		return NULL;
	}
	return e;
}

void h_selftest(sig_session *s, json_t *msg, json_t *id)
{
	sig_app *app = s->app;
	const char *kiosk;
	if (s->role == ROUTE_ROLE_KIOSK) {
		kiosk = req_opt_str(s, msg, id, "kiosk", STORE_ID_MAX - 1);
		if (!kiosk)
			return;
		if (*kiosk && strcmp(kiosk, s->ident) != 0) {
			req_bad(s, id, "forbidden", "a kiosk may test only itself");
			return;
		}
		kiosk = s->ident;
	} else {
		if (!s->staff.coordinator && !s->staff.admin) {
			req_bad(s, id, "forbidden", "selftest needs the coordinator or admin flag");
			return;
		}
		if (!(kiosk = req_str(s, msg, id, "kiosk", STORE_ID_MAX - 1)))
			return;
	}
	sig_session *ks = kiosk_live(app, kiosk);
	if (!app->health) {
		session_reply_error(s, id, "internal", "the self-test is not running");
		return;
	}
	if (!ks) {
		session_reply_error(s, id, "not_found", "kiosk %s is not connected", kiosk);
		return;
	}
	health_entry *e = entry_get(app->health, ks);
	if (!e || (e->probe && e->n_waiters >= HEALTH_MAX_WAITERS)) {
		session_reply_error(s, id, e ? "too_many" : "internal",
		                    "too many self-test requests for this kiosk");
		return;
	}
	e->waiters[e->n_waiters++] = (health_waiter){s->sid, json_incref(id)};
	if (!e->probe)
		run(app->health, ks, "request"); /* answers the waiters itself if it cannot run */
}

/* Once a second: kiosks whose media just connected, and idle kiosks due for their check. */
static void on_sweep(uv_timer_t *t)
{
	struct health *h = t->data;
	sig_app *app = h->app;
	if (!app->sfu)
		return;
	int64_t now = clock_mono_us();
	int running = 0;
	for (int i = 0; i < h->n; i++)
		running += h->entries[i]->probe != NULL;
	for (sig_session *s = app->sessions; s; s = s->next) {
		if (!s->joined || s->role != ROUTE_ROLE_KIOSK || !s->ident[0])
			continue;
		int up = s->peer && sfu_peer_connected(s->peer);
		health_entry *e = entry_find(h, s->ident);
		if (!up) {
			if (e)
				e->media_peer = NULL;
			continue;
		}
		if (!e && !(e = entry_get(h, s)))
			continue;
		if (e->media_peer != s->peer) {
			/* A test still running on a previous connection (a reload, a take-over)
			 * finishes first; this one starts on a later sweep, as do those beyond
			 * HEALTH_MAX_AUTO. */
			if (!e->probe && running >= HEALTH_MAX_AUTO) {
				h->deferred++;
			} else if (!e->probe) {
				e->media_peer = s->peer;
				if (run(h, s, "media_connected") && e->probe)
					running++;
			}
		} else if (!e->probe && now - e->run_mono_us >= HEALTH_IDLE_US &&
		           !route_session_visit(app->route, s->sid)) {
			if (running >= HEALTH_MAX_AUTO)
				h->deferred++;
			else if (run(h, s, "idle_schedule") && e->probe)
				running++;
		}
	}
}

int health_start(sig_app *app)
{
	struct health *h = calloc(1, sizeof *h);
	if (!h)
		return -1;
	h->app = app;
	uv_timer_init(app->loop, &h->sweep);
	h->sweep.data = h;
	uv_timer_start(&h->sweep, on_sweep, HEALTH_SWEEP_MS, HEALTH_SWEEP_MS);
	app->health = h;
	return 0;
}

static void on_sweep_closed(uv_handle_t *handle)
{
	free(handle->data);
}

void health_stop(sig_app *app)
{
	struct health *h = app->health;
	if (!h)
		return;
	app->health = NULL;
	for (int i = 0; i < h->n; i++) {
		health_entry *e = h->entries[i];
		sfu_probe_cancel(e->probe);
		for (int k = 0; k < e->n_waiters; k++)
			json_decref(e->waiters[k].id);
		json_decref(e->last);
		free(e);
	}
	free(h->entries);
	uv_timer_stop(&h->sweep);
	uv_close((uv_handle_t *)&h->sweep, on_sweep_closed);
}

json_t *health_json(struct sig_app *app, const char *kiosk_id)
{
	health_entry *e = app->health && kiosk_id ? entry_find(app->health, kiosk_id) : NULL;
	return e && e->last ? json_incref(e->last) : NULL;
}

static const char *state_of(json_t *health, const char *part)
{
	return json_string_value(json_object_get(json_object_get(health, part), "state"));
}

void health_metrics(sig_app *app, FILE *f)
{
	struct health *h = app->health;
	fprintf(f,
	        "# HELP madoguchi_selftests_total Kiosk self-tests completed.\n"
	        "# TYPE madoguchi_selftests_total counter\nmadoguchi_selftests_total %llu\n",
	        (unsigned long long)(h ? h->runs : 0));
	fprintf(f,
	        "# HELP madoguchi_selftest_cpu_seconds_total CPU time spent decoding for "
	        "self-tests.\n# TYPE madoguchi_selftest_cpu_seconds_total counter\n"
	        "madoguchi_selftest_cpu_seconds_total %.6f\n",
	        h ? h->cpu_s : 0.0);
	int running = 0;
	for (int i = 0; h && i < h->n; i++)
		running += h->entries[i]->probe != NULL;
	fprintf(f,
	        "# HELP madoguchi_selftests_running Kiosk self-tests running now.\n"
	        "# TYPE madoguchi_selftests_running gauge\nmadoguchi_selftests_running %d\n",
	        running);
	fprintf(f,
	        "# HELP madoguchi_selftests_deferred_total Sweeps on which a kiosk's automatic "
	        "self-test waited because %d were running.\n"
	        "# TYPE madoguchi_selftests_deferred_total counter\n"
	        "madoguchi_selftests_deferred_total %llu\n",
	        HEALTH_MAX_AUTO, (unsigned long long)(h ? h->deferred : 0));
	static const struct {
		const char *name, *help, *part, *state;
	} flags[] = {
	    {"audio_silent", "1 when the kiosk's last self-test found its microphone silent.",
	     "audio", "silent"},
	    {"audio_missing", "1 when the kiosk's last self-test received no sound.", "audio",
	     "missing"},
	    {"video_black", "1 when the kiosk's last self-test found its camera picture black.",
	     "video", "black"},
	    {"video_frozen", "1 when the kiosk's last self-test found its camera picture frozen.",
	     "video", "frozen"},
	    {"video_missing", "1 when the kiosk's last self-test received no picture.", "video",
	     "missing"},
	};
	int n = h ? h->n : 0;
	for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
		fprintf(f, "# HELP madoguchi_kiosk_%s %s\n# TYPE madoguchi_kiosk_%s gauge\n",
		        flags[k].name, flags[k].help, flags[k].name);
		for (int i = 0; i < n; i++) {
			health_entry *e = h->entries[i];
			const char *st = e->last ? state_of(e->last, flags[k].part) : NULL;
			if (st)
				fprintf(f, "madoguchi_kiosk_%s{kiosk=\"%s\",branch=\"%s\"} %d\n",
				        flags[k].name, e->kiosk, e->branch,
				        strcmp(st, flags[k].state) == 0);
		}
	}
	fprintf(f, "# HELP madoguchi_kiosk_audio_level_dbfs The microphone's level (RMS, dBFS) "
	           "in the kiosk's last self-test.\n"
	           "# TYPE madoguchi_kiosk_audio_level_dbfs gauge\n");
	for (int i = 0; i < n; i++) {
		health_entry *e = h->entries[i];
		json_t *lv = e->last
		                 ? json_object_get(json_object_get(e->last, "audio"), "level_dbfs")
		                 : NULL;
		if (json_is_number(lv))
			fprintf(
			    f,
			    "madoguchi_kiosk_audio_level_dbfs{kiosk=\"%s\",branch=\"%s\"} %.1f\n",
			    e->kiosk, e->branch, json_number_value(lv));
	}
	fprintf(f, "# HELP madoguchi_kiosk_video_luma The camera picture's mean luma (0-255) in "
	           "the kiosk's last self-test.\n# TYPE madoguchi_kiosk_video_luma gauge\n");
	for (int i = 0; i < n; i++) {
		health_entry *e = h->entries[i];
		json_t *lv =
		    e->last ? json_object_get(json_object_get(e->last, "video"), "luma") : NULL;
		if (json_is_number(lv))
			fprintf(f, "madoguchi_kiosk_video_luma{kiosk=\"%s\",branch=\"%s\"} %.1f\n",
			        e->kiosk, e->branch, json_number_value(lv));
	}
	fprintf(f, "# HELP madoguchi_kiosk_health_age_seconds Seconds since the kiosk's last "
	           "self-test result.\n# TYPE madoguchi_kiosk_health_age_seconds gauge\n");
	int64_t now = clock_mono_us();
	for (int i = 0; i < n; i++) {
		health_entry *e = h->entries[i];
		if (e->last)
			fprintf(
			    f,
			    "madoguchi_kiosk_health_age_seconds{kiosk=\"%s\",branch=\"%s\"} %lld\n",
			    e->kiosk, e->branch, (long long)((now - e->last_mono_us) / 1000000));
	}
}
