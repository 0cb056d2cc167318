/* The signalling application without a network, for the fuzz targets of the protocol handler
 * and the HTTP request path.
 *
 * fuzz_app.c implements the transport API of server/signal/server.h itself instead of
 * libwebsockets (server.c, server_http.c): sig_server_new only records the callbacks the
 * app registers, connections are plain structures the target opens and feeds, and messages
 * the app sends are checked and dropped. The app is the real one (app.c, handlers*.c,
 * session.c, actions.c, http.c, credentials.c, limiter.c) with the real routing, media plane
 * (UDP socket on 127.0.0.1, any port) and store; the store points at a database that does
 * not exist. The lookups the app makes (kiosk and staff authentication, login tokens, the
 * statistics) are answered by fuzz_store.c instead, from the identities below, one step after
 * they were asked (fz_settle); records stay queued in the store, which never connects. The
 * directory of departments, which the app reads from PostgreSQL at start-up, is handed over
 * through app_on_directory: shimin, hoken, nenkin (always open) and yoru (never open), and
 * the one-stop menu okuyami (shimin, hoken, nenkin).
 *
 * One app serves every input: fz_reset() closes every connection, answers everything that
 * waits, and returns the app to its state after start-up, so that each input starts from the
 * same place and nothing accumulates over millions of executions. */
#ifndef MDG_FUZZ_APP_H
#define MDG_FUZZ_APP_H

#include "signal/app_internal.h"

#include <stddef.h>

/* The app, created on the first call (aborts when that fails). */
sig_app *fz_app(void);

/* A client connects from ip, as after a WebSocket upgrade; tag is the target's name for it.
 * An upgrade the app refuses (on_upgrade) gives a connection that is already gone. */
sig_conn *fz_open(const char *ip, int tag);
/* The live connection with that tag (the newest), or NULL once it is gone. */
sig_conn *fz_find(int tag);
/* The session the app attached to the connection (NULL after it let go of it). */
sig_session *fz_session(sig_conn *c);
/* One text message from the client, as the server delivers it: a copy of exactly len bytes
 * plus a NUL; over the connection's current limit it becomes a "too large" bad frame. */
void fz_message(sig_conn *c, const char *text, size_t len);
/* A frame the server refused ("binary", "too large"). */
void fz_bad_frame(sig_conn *c, const char *why);
/* The client goes: the app's on_close; c is invalid afterwards. */
void fz_close(sig_conn *c);
/* What the event loop does between two steps (messages) of the client: the database answers
 * what it was asked (unless database_answers is 0: it is slow this time), a connection the app
 * closed in the step before is gone now (on_close); one it closed in this step still gets the
 * next step's messages, as a client that has not yet seen the close frame may send more. */
void fz_settle(int database_answers);

/* Runs one HTTP request through app_on_http as server_http.c does: a pending handle for the
 * answer, the response checked and freed. Returns what on_http returned. */
int fz_http(const sig_http_request *req);

/* The last visit id and resume token the app sent to any client ("" before any), so that an
 * input can refer to ids the server chose at random. */
const char *fz_last_visit(void);
const char *fz_last_resume(void);

/* ---- the database (fuzz_store.c) ----
 * Kiosk tokens "kiosk-token-honcho" and "kiosk-token-yamada" are fz_kiosks[0] and [1]; staff
 * log in as sato, suzuki or tanaka (fz_staff[0..2]; tanaka has every flag) with the password
 * "secret", and login tokens are "token-" and the username. Other tokens are unknown, except
 * "kiosk-token-down" and "token-down", which find the database down, as every other
 * username and password does (fuzz_store.c says why). */
#define FZ_N_KIOSKS 2
#define FZ_N_STAFF  3
extern const store_kiosk fz_kiosks[FZ_N_KIOSKS];
extern const store_staff fz_staff[FZ_N_STAFF];
/* The rows the statistics query returns from now on: one per line, tab-separated fields in
 * the order of store_stats_row (strings first, then counts and averages); empty strings are
 * NULL, as for a dimension not grouped by. */
void fz_set_stats(const char *rows, size_t len);
/* Hands over every answer the database owes, and those that follow from them. */
void fz_deliver(void);

/* End of one input: the database answers what it owes, every connection and session goes,
 * and the app is as after start-up: no HTTP request without its answer, no password check
 * left, no record queued. */
void fz_reset(void);

#endif
