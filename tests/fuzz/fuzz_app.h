/* The signalling application without a network, for the fuzz targets of the protocol handler
 * and the HTTP request path.
 *
 * fuzz_app.c implements the transport API of server/signal/server.h itself instead of
 * libwebsockets (server.c, server_http.c): sig_server_new only records the callbacks the
 * app registers, connections are plain structures the target opens and feeds, and messages
 * the app sends are checked and dropped. The app is the real one (app.c, handlers*.c,
 * session.c, actions.c, http.c, credentials.c, limiter.c) with the real routing, media plane
 * (UDP socket on 127.0.0.1, any port) and store; the store points at a database that does
 * not exist, so requests that need PostgreSQL wait until the end of the input and then fail
 * as they would when the database is down. The directory of departments, which the app reads
 * from PostgreSQL at start-up, is handed over through app_on_directory.
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
/* What the event loop does between two steps (messages) of the client: a connection the app
 * closed in the step before is gone now (on_close); one it closed in this step still gets the
 * next step's messages, as a client that has not yet seen the close frame may send more. */
void fz_settle(void);

/* Runs one HTTP request through app_on_http as server_http.c does: a pending handle for the
 * answer, the response checked and freed. Returns what on_http returned. */
int fz_http(const sig_http_request *req);

/* The last visit id and resume token the app sent to any client ("" before any), so that an
 * input can refer to ids the server chose at random. */
const char *fz_last_visit(void);
const char *fz_last_resume(void);

/* End of one input: password checks and database requests are answered as if the database
 * were down, every connection and session goes, every HTTP request has had its answer. */
void fz_reset(void);

#endif
