/* Helpers shared by the store's own files; nothing outside server/store includes this. */
#ifndef MDG_STORE_INTERNAL_H
#define MDG_STORE_INTERNAL_H

#include <libpq-fe.h>

/* Opens a blocking connection for the command line, with notices (such as "relation already
 * exists, skipping") kept off the terminal. Prints the reason on stderr and returns NULL on
 * failure. */
PGconn *store_sync_connect(const char *conninfo);

/* The first line of the server's error message, for one-line diagnostics. */
const char *store_result_error(const PGresult *res, char *buf, int cap);

#endif
