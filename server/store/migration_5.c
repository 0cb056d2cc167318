/* Migration 5: the status board (PROTOCOL.md, "Status board").
 *
 * kiosks.last_seen is when the kiosk's latest session started or ended, as the server saw
 * it: the board shows it for a kiosk that is offline ("last seen 08:42"), so branch staff
 * know whether it never came up today or dropped a minute ago. NULL until the kiosk first
 * connects. The server's role may change this column of kiosks and nothing else in it. */
#include "store/internal.h"

const char *const store_migration_5[] = {
    "ALTER TABLE kiosks ADD COLUMN last_seen timestamptz",
    "GRANT UPDATE (last_seen) ON kiosks TO madoguchi_server",
    NULL,
};
