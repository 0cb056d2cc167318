/* Shared by the files of server/signal: the application object and its sessions. */
#ifndef MDG_SIGNAL_APP_INTERNAL_H
#define MDG_SIGNAL_APP_INTERNAL_H

#include "base/config.h"
#include "routing/route.h"
#include "sfu/sfu.h"
#include "signal/app.h"
#include "signal/limiter.h"
#include "signal/server.h"
#include "store/analytics.h"
#include "store/store.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#define SIG_MAX_TRACKS    16
#define SIG_BAD_LIMIT     20       /* bad messages a client may send in a window */
#define SIG_BAD_WINDOW_US 60000000 /* ... of one minute */
/* PROTOCOL.md, "Limits every server enforces". */
#define SIG_HELLO_DEADLINE_US (10 * INT64_C(1000000)) /* hello done within 10 s */
#define SIG_UNAUTH_PER_ADDR   30                      /* connections without hello, per address */
#define SIG_UNAUTH_TOTAL      1000                    /* ... and in all */
#define SIG_HELLO_MAX_MESSAGE 4096 /* the largest message before hello succeeds */
#define SIG_CALLS_PER_MINUTE  6    /* calls one kiosk may place in a minute */
#define SIG_CLOSE_REPLACED    4001 /* another session took over this kiosk */
#define SIG_CLOSE_REVOKED     4003 /* the kiosk or staff member was revoked */
/* handlers_text.c: text in the call and document marks (PROTOCOL.md, "Additions"). */
#define SIG_TEXT_MAX_CHARS      500 /* Unicode characters in one text */
#define SIG_ANNOTATE_MAX_SHAPES 50  /* shapes in one annotate */
#define SIG_TEXT_BURST          10  /* texts one session may send per window */
#define SIG_ANNOTATE_BURST      20  /* annotate messages one session may send per window */
#define SIG_BURST_MAX           20  /* the largest of the two */
/* The window of both flood limits: 10 s. */
#define SIG_TEXT_WINDOW_US (10 * INT64_C(1000000))

/* The times of a session's last few messages of one kind (a ring), for a rate limit. */
typedef struct sig_burst {
	int64_t at[SIG_BURST_MAX];
	int next;
} sig_burst;

typedef struct sig_menu {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
	char (*steps)[STORE_ID_MAX];
	int n_steps;
	char tenant[STORE_ID_MAX];
} sig_menu;

/* app->depts and app->menus are replaced as a whole when the directory changes (live.c):
 * never keep a pointer to one of their elements beyond the current callback. */
typedef struct sig_dept {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
	store_procedure *procedures;
	int n_procedures;
	route_department_config cfg; /* as last given to routing (live.c compares) */
	int open;                    /* the directory's open flag, as last given to routing */
	char tenant[STORE_ID_MAX];
} sig_dept;

enum sig_state { SIG_NEW, SIG_AUTHENTICATING, SIG_READY };

typedef struct sig_session {
	struct sig_app *app;
	struct sig_session *next;
	sig_conn *conn;
	uint32_t sid;
	enum sig_state state;
	int joined; /* known to routing */
	enum route_role role;
	char ident[STORE_ID_MAX]; /* kiosk or staff id in the store */
	char name[STORE_NAME_MAX];
	char branch_id[STORE_ID_MAX];
	char branch_name[STORE_NAME_MAX];
	/* The tenant (city) the session belongs to: its kiosk's or staff member's (tenant.c). */
	char tenant[STORE_ID_MAX];
	store_staff staff;
	char resume[48];
	char ip[64];

	sfu_peer *peer;
	sfu_track_role roles[SIG_MAX_TRACKS];
	int n_roles;
	/* Who routing says feeds this session (sids), applied to the peers when they exist. */
	uint32_t feed_primary;
	uint32_t feed_document; /* the party whose shared document feeds the document slot */
	uint32_t feed_extra[ROUTE_MAX_EXTRA];
	int n_feed_extra;

	int bad_count;
	int64_t bad_window_start_us;
	int64_t opened_us;                        /* when the connection opened (hello deadline) */
	int64_t call_times[SIG_CALLS_PER_MINUTE]; /* the last calls, a ring (kiosk rate limit) */
	int call_next;
	int status_watch; /* sent `status`: gets the board's events (status.c) */
	/* handlers_text.c: the flood limits of text and annotate */
	sig_burst text_burst;
	sig_burst annotate_burst;
} sig_session;

typedef struct sig_counters {
	uint64_t connections, messages, bad_messages, closed_for_abuse;
	uint64_t calls, answered;
	uint64_t media_lost;       /* sessions ended because ICE consent expired */
	uint64_t upgrades_refused; /* too many connections without hello */
	uint64_t hello_timeouts;   /* closed for not saying hello within 10 s */
	uint64_t replaced;         /* kiosk sessions taken over by a newer one */
	uint64_t revoked;          /* sessions ended because their identity was revoked */
	uint64_t calls_limited;    /* kiosk calls refused by the per-minute limit */
	uint64_t takeovers;        /* times this node became the active one (standby.c) */
	uint64_t feed_applies;     /* receivers whose feeds were applied (session_apply_feeds) */
} sig_counters;

struct sig_app {
	uv_loop_t *loop;
	config cfg;
	store *store;
	sfu *sfu;
	route *route;
	sig_server *server;
	uv_timer_t retry; /* re-reads the directory while PostgreSQL is away at start-up */
	uv_timer_t flush; /* shutdown: waits for connections and records */
	int64_t stop_started_us;
	sig_dept *depts;
	int n_depts;
	sig_menu *menus;
	int n_menus;
	uv_timer_t tick; /* routing's next deadline (ring and no-answer timeouts, resume) */
	sig_session *sessions;
	uint32_t next_sid;
	int stopping;
	int failed;
	void (*fatal_cb)(void *user);
	void *fatal_user;
	int64_t started_us;
	sig_counters counters;
	uv_timer_t sweep;                /* every second: hello deadlines, log summaries */
	struct cred_front *cred;         /* credentials.c (created on first use) */
	struct status_board *board;      /* status.c (created on first use) */
	struct sig_live *live;           /* live.c: directory changes while running */
	struct health *health;           /* health.c: the kiosk self-test */
	struct kiosk_staff *kiosk_staff; /* kiosk_staff.c: PIN attempts (created on first use) */
	struct sig_bookings *bookings;   /* bookings.c: today's bookings (created on first use) */
	/* standby.c: active/standby. serving: /ws is open (always, without standby-lease). */
	store_lease *lease;
	int serving;
	int lease_releasing, lease_released;
	store_tenant *tenants;           /* tenant.c: the tenants and their host names */
	int n_tenants;
};

/* app.c: the store's answer with the directory of departments; on success the app starts
 * listening. The fuzz targets call it with a directory of their own (no database). */
void app_on_directory(void *user, int err, const store_directory *d);

/* session.c */
sig_session *session_by_sid(sig_app *app, uint32_t sid);
void session_send_json(sig_session *s, json_t *msg);               /* steals msg */
void session_reply_ok(sig_session *s, json_t *id, json_t *fields); /* steals fields (NULL ok) */
void session_reply_error(sig_session *s, json_t *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
json_t *session_party(sig_app *app, uint32_t sid, const char *department_hint);
json_t *app_departments_json(sig_app *app, const char *tenant);
const sig_dept *app_dept(sig_app *app, const char *id);
void session_send_slots(sig_session *s);
json_t *session_hello_reply(sig_session *s);
void session_resume(sig_session *fresh, const char *token, json_t *id);
void session_adopt(sig_session *old, sig_session *fresh, json_t *id);
void app_apply_feeds_naming(sig_app *app, uint32_t sid);
void session_apply_feeds(sig_session *s);

/* handlers.c: dispatch, and the helpers every request handler uses to validate fields
 * and reply exactly once. */
void handle_message(sig_session *s, const char *text, size_t len);
void req_count_bad(sig_session *s);
void req_bad(sig_session *s, json_t *id, const char *code, const char *text);
/* Replies ok (with fields, stolen) or the routing error's code, then drains actions. */
void req_route(sig_session *s, json_t *id, int rc, json_t *fields, const char *what);
/* A required non-empty string of at most max bytes; NULL after replying bad_request. */
const char *req_str(sig_session *s, json_t *msg, json_t *id, const char *key, size_t max);
/* An optional string: "" when absent or null; NULL after replying bad_request. */
const char *req_opt_str(sig_session *s, json_t *msg, json_t *id, const char *key, size_t max);

/* handlers_visit.c: requests about a visit in progress (all roles). */
void h_transfer(sig_session *s, json_t *msg, json_t *id);
void h_invite(sig_session *s, json_t *msg, json_t *id);
void h_control(sig_session *s, json_t *msg, json_t *id);
void h_share(sig_session *s, json_t *msg, json_t *id);
void h_survey(sig_session *s, json_t *msg, json_t *id);

/* handlers_text.c: text in the call (any party of the room) and document marks (staff). */
void h_text(sig_session *s, json_t *msg, json_t *id);
void h_annotate(sig_session *s, json_t *msg, json_t *id);
/* guests.c: guest interpreters */
void h_guest_invite(sig_session *s, json_t *msg, json_t *id);
void guest_hello(sig_session *s, json_t *msg, json_t *id);
int guest_may_send(const char *type);
void guest_hangup(sig_session *s, json_t *id);
void h_layout(sig_session *s, json_t *msg, json_t *id);

/* handlers_coord.c: coordinators. */
void h_watch(sig_session *s, json_t *msg, json_t *id);
void h_onestop(sig_session *s, json_t *msg, json_t *id);
void h_patch(sig_session *s, json_t *msg, json_t *id);
void h_join(sig_session *s, json_t *msg, json_t *id);
void h_leave(sig_session *s, json_t *msg, json_t *id);
void h_finish(sig_session *s, json_t *msg, json_t *id);
json_t *visit_view_json(sig_app *app, const route_visit_view *v);

/* app.c: ends a session for good: routing lets it go (a kiosk's visit, a desk's leg end
 * `dropped`), the client gets {"type": event} (when event is not NULL) and its connection
 * is closed with status and reason, and s is freed. */
void app_end_session(sig_app *app, sig_session *s, int status, const char *reason,
                     const char *event);

/* live.c: directory changes without a restart. directory_apply brings a directory (at
 * start-up or read again) into routing and app->depts/app->menus, retiring departments and
 * removing menus it no longer has; 0 or -1 (out of memory, nothing changed). live_watch
 * listens to the store's notices (at start-up); live_started says the start-up directory is
 * applied; live_stop closes its timer (at shutdown; NULL-safe, idempotent). */
int directory_apply(sig_app *app, const store_directory *d);
void live_watch(sig_app *app);
void live_started(sig_app *app);
void live_stop(sig_app *app);
json_t *app_menus_json(sig_app *app, const char *tenant);

/* revoke.c: ends the sessions of kiosks and staff that are revoked while connected. */
void revoke_watch(sig_app *app);

/* actions.c */
void app_drain_actions(sig_app *app);
/* Frees sessions whose connection is gone and that routing no longer knows (a suspended
 * session whose resume window passed). */
void app_reap_sessions(sig_app *app);
/* Re-arms the routing timer at routing's next deadline; called after every drain. */
void app_arm_tick(sig_app *app);
int64_t app_now(void);

/* metrics.c: the /metrics body (malloc'd), or NULL when out of memory. */
char *app_metrics_text(sig_app *app);

/* http.c */
int app_on_http(void *user, const sig_http_request *req, sig_http_response *resp);

/* credentials.c: every password check (staff hello, POST /api/login) goes through here.
 * cred_begin either refuses (CRED_LIMITED: the user or address is locked out, too_many with
 * *retry_after_s; CRED_BUSY: too many checks queued) or returns 0 and later calls
 * go(ctx, 1) to run the check, or go(ctx, 0) at shutdown when it never will; go may run
 * before cred_begin returns. A check that ran reports its result with cred_end: 0
 * success, 1 wrong credentials, -1 not judged (database down). */
typedef struct cred_front cred_front;
typedef void (*cred_go_fn)(void *ctx, int go);
enum { CRED_LIMITED = 1, CRED_BUSY = 2 };
int cred_begin(sig_app *app, const char *user, const char *ip, cred_go_fn go, void *ctx,
               int *retry_after_s);
void cred_end(sig_app *app, const char *user, const char *ip, int result, const char *via);
void cred_flush_log(sig_app *app, int64_t now_us);
void cred_free(sig_app *app);
const char *cred_log_safe(const char *in, char *out, size_t cap);
typedef struct cred_stats {
	unsigned long long failures, refused;
	int locked_users, locked_addresses, waiting;
} cred_stats;
void cred_counters(sig_app *app, cred_stats *out);
/* Checks waiting or running, without scanning the limiters as cred_counters does: the fuzz
 * targets check after every input that none is left over. */
int cred_in_progress(const sig_app *app);

/* health.c: the kiosk self-test (PROTOCOL.md, "Kiosk health"); health_json is in fleet.h.
 * health_start at start-up; health_stop before the media plane goes (cancels running tests,
 * drops the results). h_selftest is the `selftest` request; health_metrics writes the
 * self-test's gauges and counters into the /metrics text. */
int health_start(sig_app *app);
void health_stop(sig_app *app);
void h_selftest(sig_session *s, json_t *msg, json_t *id);
void health_metrics(sig_app *app, FILE *f);
/* status.c: the status board (PROTOCOL.md, "Status board"). status_touch: something the
 * board shows may have changed (called after every drain of routing's actions); the board is
 * rebuilt within 200 ms and the watchers get what changed. status_reload_kiosks: read the
 * list of kiosks from PostgreSQL again (the store connected, a kiosk was added or revoked).
 * status_stop closes its timer at shutdown; status_free releases it (NULL-safe). */
void status_touch(sig_app *app);
void status_reload_kiosks(sig_app *app);
void status_stop(sig_app *app);
void status_free(sig_app *app);
void h_status(sig_session *s, json_t *msg, json_t *id);
int status_http(sig_app *app, const sig_http_request *req, sig_http_response *resp);
void status_metrics(sig_app *app, FILE *f); /* the madoguchi_kiosk_online gauge */

/* view.c: the `view` request, the display size of each received video slot (simulcast
 * layer selection uses it). */
void h_view(sig_session *s, json_t *msg, json_t *id);
/* bookings.c: bookings (PROTOCOL.md, "Bookings"). bookings_tick runs the sweep when due
 * (called every second); bookings_kiosk_json is a branch's bookings of today without names
 * (hello reply, `bookings` event); bookings_call is `call` with {"booking"}; the h_ functions
 * are the staff requests. bookings_free at the very end (after the store). */
void bookings_tick(sig_app *app);
void bookings_free(sig_app *app);
json_t *bookings_kiosk_json(sig_app *app, const char *branch);
void bookings_call(sig_session *s, json_t *msg, json_t *id);
void h_book(sig_session *s, json_t *msg, json_t *id);
void h_cancel_booking(sig_session *s, json_t *msg, json_t *id);
void h_bookings(sig_session *s, json_t *msg, json_t *id);

/* standby.c: active/standby (issue 15). standby_start after the store exists (0, or -1 on a
 * fatal configuration error); standby_serving: 1 when /ws is open; standby_release at
 * shutdown, polled: hands the lease on, 1 once done (or when there is none); standby_free
 * with the store; standby_health: /healthz's body (malloc'd) and status (200 or 503), or -1. */
int standby_start(sig_app *app);
int standby_serving(const sig_app *app);
int standby_release(sig_app *app);
void standby_free(sig_app *app);
int standby_health(sig_app *app, char **body);
/* tenant.c: several cities on one installation (migration 11). Every session belongs to one
 * tenant; everything it sees or reaches is filtered to that tenant here and at the few
 * places that pick departments, visits, kiosks or desks. */
#define SIG_DEFAULT_TENANT "default"
/* The tenant a request's Host names: the one with that hostname, else the default. */
const char *tenant_of_host(sig_app *app, const char *host);
/* Keeps the directory's tenants (directory_apply); 0 or -1 (out of memory, nothing kept). */
int tenant_apply(sig_app *app, const store_directory *d);
void tenant_free(sig_app *app);
/* 1 when the session (by sid) exists and belongs to tenant. */
int tenant_sid_in(sig_app *app, uint32_t sid, const char *tenant);
/* 1 when the department / one-stop menu exists and belongs to s's tenant. */
int tenant_dept_ok(sig_session *s, const char *dept);
int tenant_menu_ok(sig_session *s, const char *menu);
/* 1 when the visit is live and its kiosk belongs to s's tenant. */
int tenant_visit_ok(sig_session *s, const char *visit);
/* Replies not_found (as for an unknown id, so nothing of another tenant is revealed) and
 * returns 0 when the check failed; returns 1 when it passed. */
int tenant_check(sig_session *s, json_t *id, int ok, const char *what);

#endif
