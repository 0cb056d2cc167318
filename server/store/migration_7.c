/* Migration 7: a PIN per kiosk for its staff mode (docs/operations.md, "Kiosk staff mode").
 *
 * Branch staff open the kiosk page's staff mode (devices, volume, test sound, self-test) with
 * a PIN that `madoguchi admin kiosk pin KIOSK_ID` sets. The PIN is kept only as a salted
 * PBKDF2 hash (store/password.c's format), in a table of its own so that the kiosks table and
 * its revocation triggers stay as they are. Deleting a kiosk deletes its PIN.
 *
 * The server only reads the hash (it checks a PIN the kiosk page sends, kiosk_pin in
 * docs/protocol.md); setting a PIN is the owner role's business, like adding a kiosk. */
#include "store/internal.h"

const char *const store_migration_7[] = {
    "CREATE TABLE kiosk_pins ("
    " kiosk_id uuid PRIMARY KEY REFERENCES kiosks (id) ON DELETE CASCADE,"
    " pin_hash text NOT NULL,"
    " set_at timestamptz NOT NULL DEFAULT now())",
    "GRANT SELECT ON kiosk_pins TO madoguchi_server",
    NULL,
};
