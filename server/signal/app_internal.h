/* Shared by the files of server/signal: the application object and its sessions. */
#ifndef MDG_SIGNAL_APP_INTERNAL_H
#define MDG_SIGNAL_APP_INTERNAL_H

#include "base/config.h"
#include "routing/route.h"
#include "sfu/sfu.h"
#include "signal/app.h"
#include "signal/server.h"
#include "store/store.h"

#include <jansson.h>
#include <stdint.h>

#define SIG_MAX_TRACKS    16
#define SIG_BAD_LIMIT     20       /* bad messages a client may send in a window */
#define SIG_BAD_WINDOW_US 60000000 /* ... of one minute */

typedef struct sig_dept {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
	store_procedure *procedures;
	int n_procedures;
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
	store_staff staff;
	char resume[48];
	char ip[64];

	sfu_peer *peer;
	sfu_track_role roles[SIG_MAX_TRACKS];
	int n_roles;
	/* Who routing says feeds this session (sids), applied to the peers when they exist. */
	uint32_t feed_primary;
	uint32_t feed_extra[ROUTE_MAX_EXTRA];
	int n_feed_extra;

	int bad_count;
	int64_t bad_window_start_us;
} sig_session;

typedef struct sig_counters {
	uint64_t connections, messages, bad_messages, closed_for_abuse;
	uint64_t calls, answered;
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
	sig_session *sessions;
	uint32_t next_sid;
	int stopping;
	int failed;
	void (*fatal_cb)(void *user);
	void *fatal_user;
	int64_t started_us;
	sig_counters counters;
};

/* session.c */
sig_session *session_by_sid(sig_app *app, uint32_t sid);
void session_send_json(sig_session *s, json_t *msg);               /* steals msg */
void session_reply_ok(sig_session *s, json_t *id, json_t *fields); /* steals fields (NULL ok) */
void session_reply_error(sig_session *s, json_t *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
json_t *session_party(sig_app *app, uint32_t sid, const char *department_hint);
json_t *app_departments_json(sig_app *app);
const sig_dept *app_dept(sig_app *app, const char *id);
void session_send_slots(sig_session *s);
void app_apply_feeds(sig_app *app);

/* handlers.c */
void handle_message(sig_session *s, const char *text, size_t len);

/* actions.c */
void app_drain_actions(sig_app *app);
int64_t app_now(void);

/* http.c */
int app_on_http(void *user, const char *method, const char *path, const char *query,
                const char *authorization, const char *body, size_t body_len,
                sig_http_response *resp);

#endif
