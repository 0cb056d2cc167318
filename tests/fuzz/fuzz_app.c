/* See fuzz_app.h: the signalling app on a transport of our own, for fuzzing. */
#include "fuzz_app.h"

#include "base/log.h"
#include "signal/kiosk_staff.h"
#include "store/internal.h" /* only to see whether the store holds anything (fz_reset) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A database that cannot be reached: libpq refuses the unknown option before it opens any
 * socket (about a microsecond, where a missing socket directory costs 60), so the store
 * stays down, retrying, and never touches the network. */
#define FZ_CONNINFO "madoguchi_fuzz_no_database=1"

/* ---- the transport (server/signal/server.h) ---- */

struct sig_server {
	sig_callbacks cb;
	sig_server_counters counters;
};

struct sig_conn {
	struct sig_conn *next;
	void *user;
	size_t max_message;
	int closing; /* 0 open; 1 the app closed it in this step; 2 in the step before: gone next */
	int refused; /* the app refused the upgrade: it never saw this connection */
	int tag;
};

struct sig_http_pending {
	struct sig_http_pending *next;
};

static sig_server server;
static int server_made;
static sig_conn *conns;
static sig_http_pending *pendings;
static sig_http_pending *in_call; /* the request app_on_http is handling */
static int in_call_completed;     /* ... and it answered it through sig_http_complete */
static char last_visit[40], last_resume[64];
static int trace; /* FUZZ_TRACE=1: print what the app sends, to see what an input does */

sig_server *sig_server_new(uv_loop_t *loop, const sig_server_config *cfg, const sig_callbacks *cb)
{
	server.cb = *cb;
	server_made = 1;
	return &server;
}

void sig_server_free(sig_server *s)
{
}

void sig_server_finish(sig_server *s)
{
}

const sig_server_counters *sig_server_get_counters(const sig_server *s)
{
	return &s->counters;
}

int sig_tls_ensure_selfsigned(const char *cert_path, const char *key_path)
{
	return 0;
}

/* Copies the string value following key (e.g. "visit":") into out when it looks like one. */
static void remember(const char *text, size_t len, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = memmem(text, len, key, klen);
	if (!p)
		return;
	p += klen;
	const char *end = memchr(p, '"', len - (size_t)(p - text));
	if (end && (size_t)(end - p) < cap) {
		memcpy(out, p, (size_t)(end - p));
		out[end - p] = '\0';
	}
}

int sig_conn_send(sig_conn *c, const char *text, size_t len)
{
	if (!c || c->closing || (!text && len))
		return -1;
	/* Every message the app sends is one JSON object in a string of exactly len bytes:
	 * anything else would reach a client as a broken frame. */
	if (len < 2 || text[0] != '{' || text[len - 1] != '}' || memchr(text, '\0', len))
		__builtin_trap();
	if (trace)
		fprintf(stderr, "fuzz: to %d: %.*s\n", c->tag, (int)len, text);
	remember(text, len, "\"visit\":\"", last_visit, sizeof last_visit);
	remember(text, len, "\"resume\":\"", last_resume, sizeof last_resume);
	return 0;
}

void sig_conn_close(sig_conn *c, int status, const char *reason)
{
	if (!c || c->closing)
		return;
	/* A WebSocket close reason has room for 123 bytes; the app's are fixed texts. */
	if (status < 1000 || status > 4999 || (reason && strlen(reason) > 123))
		__builtin_trap();
	if (trace)
		fprintf(stderr, "fuzz: close %d: %d %s\n", c->tag, status, reason ? reason : "");
	c->closing = 1;
}

void sig_conn_set_max_message(sig_conn *c, size_t max)
{
	if (c)
		c->max_message = max < SIG_MAX_MESSAGE ? max : SIG_MAX_MESSAGE;
}

void *sig_conn_user(sig_conn *c)
{
	return c ? c->user : NULL;
}

void sig_conn_set_user(sig_conn *c, void *user)
{
	if (c)
		c->user = user;
}

/* No Host header: every session is in the default tenant. */
const char *sig_conn_host(const sig_conn *c)
{
	(void)c;
	return "";
}

/* The body the app hands over must be as long as it says: ASan checks both ends. */
static void check_response(const sig_http_response *r)
{
	if (trace)
		fprintf(stderr, "fuzz: http %d %s: %.*s\n", r->status,
		        r->content_type ? r->content_type : "-", (int)r->body_len,
		        r->body ? r->body : "");
	if (r->body && r->body_len > 0) {
		volatile char edge = r->body[0];
		edge = r->body[r->body_len - 1];
		(void)edge;
	}
}

void sig_http_complete(sig_http_pending *p, sig_http_response *resp)
{
	if (!p) {
		if (resp)
			free(resp->body);
		return;
	}
	sig_http_pending **pp = &pendings;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (!*pp)
		__builtin_trap(); /* answered twice, or a handle that was never given out */
	*pp = p->next;
	if (p == in_call)
		in_call_completed = 1;
	free(p);
	if (resp) {
		check_response(resp);
		free(resp->body);
	}
}

/* ---- the app ---- */

static uv_loop_t loop;
static sig_app *app;

static store_procedure shimin_procs[] = {{"juminhyo", "住民票の写し"}, {"inkan", "印鑑登録"}};
static store_procedure hoken_procs[] = {{"kokuho", "国民健康保険"}};
static store_procedure no_procs[1];             /* the store never hands over NULL, even for none */
static store_hours never_hours[] = {{0, 0, 1}}; /* open one minute a week: closed in practice */
static store_department departments[] = {
    {"shimin", "市民課", shimin_procs, 2, "all", 0, NULL, 0, 0, "default"},
    {"hoken", "保険年金課", hoken_procs, 1, "longest-idle", 20, NULL, 0, 0, "default"},
    {"nenkin", "年金係", no_procs, 0, "", 0, NULL, 0, 0, "default"},
    {"yoru", "夜間窓口", no_procs, 0, "all", 0, never_hours, 1, 0, "default"},
};
static char okuyami_steps[][STORE_ID_MAX] = {"shimin", "hoken", "nenkin"};
static store_menu menus[] = {{"okuyami", "おくやみ", okuyami_steps, 3, "default"}};

static void create_app(void)
{
	const char *verbose = getenv("FUZZ_LOG");
	trace = getenv("FUZZ_TRACE") && *getenv("FUZZ_TRACE");
	/* Logging every session would cost more than the work being fuzzed. */
	log_set_level(verbose && *verbose ? LOG_LEVEL_DEBUG
	                                  : (enum log_level)(LOG_LEVEL_ERROR + 1));
	if (uv_loop_init(&loop) != 0)
		abort();
	config cfg;
	config_defaults(&cfg);
	cfg.tls = 0;
	snprintf(cfg.bind, sizeof cfg.bind, "127.0.0.1");
	snprintf(cfg.media_bind, sizeof cfg.media_bind, "127.0.0.1");
	cfg.media_port = 0;
	cfg.media_tcp = 0;
	snprintf(cfg.media_ips[0], sizeof cfg.media_ips[0], "127.0.0.1");
	cfg.n_media_ips = 1;
	snprintf(cfg.db, sizeof cfg.db, "%s", FZ_CONNINFO);
	snprintf(cfg.metrics_token, sizeof cfg.metrics_token, "fuzz-metrics-token");
	/* sig_app_new opens the spool it is configured with; the fuzzer's store keeps records in
	 * memory instead (below), so the spool lives in a directory removed at once. */
	char dir[] = "/tmp/mdg-fuzz-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	snprintf(cfg.spool, sizeof cfg.spool, "%s/records.spool", dir);
	app = sig_app_new(&loop, &cfg);
	if (!app)
		abort();
	/* Inputs must not depend on when they run: no hello deadline sweeps, no retries. */
	uv_timer_stop(&app->sweep);
	store_free(app->store); /* its directory request fails: the app arms its retry timer */
	uv_run(&loop, UV_RUN_NOWAIT);
	unlink(cfg.spool);
	rmdir(dir);
	uv_timer_stop(&app->retry);
	app->store = store_new(&loop, FZ_CONNINFO, NULL);
	if (!app->store)
		abort();
	store_directory d = {departments, sizeof departments / sizeof departments[0], menus,
	                     sizeof menus / sizeof menus[0], NULL, 0};
	app_on_directory(app, 0, &d);
	if (!server_made || app->n_depts != (int)(sizeof departments / sizeof departments[0]))
		abort();
}

sig_app *fz_app(void)
{
	if (!app)
		create_app();
	return app;
}

/* ---- connections ---- */

sig_conn *fz_open(const char *ip, int tag)
{
	sig_conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->max_message = SIG_MAX_MESSAGE;
	c->tag = tag;
	c->next = conns;
	conns = c;
	if (server.cb.on_upgrade && server.cb.on_upgrade(server.cb.user, ip) != 0) {
		/* Refused: never seen by the app; gone at the next fz_settle. */
		c->refused = 1;
		c->closing = 2;
		return c;
	}
	c->user = server.cb.on_open(server.cb.user, c, ip);
	return c;
}

sig_conn *fz_find(int tag)
{
	for (sig_conn *c = conns; c; c = c->next)
		if (c->tag == tag)
			return c;
	return NULL;
}

sig_session *fz_session(sig_conn *c)
{
	return c->refused ? NULL : c->user;
}

void fz_message(sig_conn *c, const char *text, size_t len)
{
	if (c->refused)
		return;
	if (len > c->max_message) {
		fz_bad_frame(c, "too large");
		return;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		abort();
	memcpy(copy, text, len);
	copy[len] = '\0';
	server.cb.on_message(server.cb.user, c, c->user, copy, len);
	free(copy);
}

void fz_bad_frame(sig_conn *c, const char *why)
{
	if (!c->refused)
		server.cb.on_bad_frame(server.cb.user, c, c->user, why);
}

void fz_close(sig_conn *c)
{
	for (sig_conn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->closing = 2; /* sends from on_close have nowhere to go */
	if (!c->refused)
		server.cb.on_close(server.cb.user, c, c->user);
	free(c);
}

void fz_settle(int database_answers)
{
	if (database_answers)
		fz_deliver();
	for (sig_conn *c = conns, *next; c; c = next) {
		next = c->next;
		if (c->closing == 1)
			c->closing = 2;
		else if (c->closing == 2)
			fz_close(c);
	}
}

/* ---- HTTP ---- */

int fz_http(const sig_http_request *req)
{
	sig_http_pending *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->next = pendings;
	pendings = p;
	in_call = p;
	in_call_completed = 0;
	sig_http_response r = {0};
	r.pending = p;
	int rc = app_on_http(fz_app(), req, &r);
	in_call = NULL;
	if (rc == 1) {
		/* Answered already, or once the database has replied. */
		fz_deliver();
		return rc;
	}
	/* Answered now: the handle must not have been used as well. */
	if (in_call_completed)
		__builtin_trap();
	for (sig_http_pending **pp = &pendings; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
	if (rc == 0) {
		if (r.status < 100 || r.status > 599 || !r.content_type)
			__builtin_trap();
		check_response(&r);
	}
	free(r.body);
	return rc;
}

/* ---- between inputs ---- */

const char *fz_last_visit(void)
{
	return last_visit;
}

const char *fz_last_resume(void)
{
	return last_resume;
}

/* Whether the store holds anything: records, or lookups that fuzz_store.c does not answer
 * (one the app may start making), which wait for a database that never comes. Only the store's
 * own queue can tell the latter. */
static int store_busy(const store *s)
{
	return store_pending(s) > 0 || s->queries || s->jobs || s->waiters;
}

void fz_reset(void)
{
	if (!app)
		return;
	/* The database answers what it still owes while the clients are there. */
	fz_deliver();
	/* Every client goes. Joined sessions leave routing rather than wait to be resumed, as
	 * at shutdown. */
	app->stopping = 1;
	while (conns)
		fz_close(conns);
	while (app->sessions)
		server.cb.on_close(server.cb.user, NULL, app->sessions);
	app->stopping = 0;
	fz_deliver();
	/* The records the input produced go with the store they wait in, and lookups waiting
	 * there fail as in an outage (which may lead to more, answered in turn), so that nothing
	 * reaches the next input. */
	for (int round = 0; store_busy(app->store); round++) {
		if (round > 1000)
			__builtin_trap();
		store *old = app->store;
		app->store = store_new(&loop, FZ_CONNINFO, NULL);
		if (!app->store)
			abort();
		store_free(old);
		fz_deliver();
		uv_run(&loop, UV_RUN_NOWAIT); /* the old store's handles close on the loop */
	}
	uv_timer_stop(&app->tick);
	kiosk_staff_free(app); /* kiosk PIN attempts: a lock must not reach the next input */
	/* An HTTP request without its answer, a session or a password check left over. */
	if (pendings || app->sessions || cred_in_progress(app) > 0)
		__builtin_trap();
	app->next_sid = 0;
	last_visit[0] = last_resume[0] = '\0';
}
