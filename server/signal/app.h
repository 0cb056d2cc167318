/* The signalling application: the glue DESIGN.md describes. It owns the HTTPS/WSS server,
 * the sessions, the routing state machine, the media plane and the store, decodes protocol
 * messages into routing events and executes the routing actions against sfu and store. */
#ifndef MDG_SIGNAL_APP_H
#define MDG_SIGNAL_APP_H

#include "base/config.h"

#include <uv.h>

typedef struct sig_app sig_app;

/* Starts the store and the media plane; the HTTPS/WSS server starts listening once the
 * directory of departments has been read from PostgreSQL (logged as msg="listening").
 * Returns NULL on a fatal configuration error (logged). */
sig_app *sig_app_new(uv_loop_t *loop, const config *cfg);
/* Called when the app cannot go on (it cannot listen): the owner should stop it as it would
 * on SIGTERM, and exit non-zero (sig_app_failed). */
void sig_app_on_fatal(sig_app *app, void (*cb)(void *user), void *user);
int sig_app_failed(const sig_app *app);
/* First stage of shutdown, from the signal handler: closes every connection (1001) and
 * every handle the app owns. The caller then runs the loop until it returns. */
void sig_app_stop(sig_app *app);
/* Second stage, after uv_run returned: releases what needed the loop to finish. The caller
 * runs the loop once more afterwards, then closes it. NULL allowed. */
void sig_app_free(sig_app *app);

#endif
