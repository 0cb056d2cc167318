/* Migration 4: the kiosk self-test's results (PROTOCOL.md, "Kiosk health").
 *
 * kiosk_health_last holds the newest result of each kiosk, for `madoguchi admin kiosk health`
 * and for anyone who asks after a restart; kiosk_health keeps every result for a month (the
 * server deletes older rows as it writes new ones, so the table stays at about 50 kiosks x 6
 * an hour x 24 x 31 = 220 000 rows at most). Each row keeps the HEALTH object as the server
 * sent it (jsonb) and, as columns, the two states an operator filters on. Only figures are
 * stored: no sample or picture ever reaches the database.
 *
 * The server's role may insert results, update the last one and delete expired history; it
 * cannot change the tables. */
#include "store/internal.h"

const char *const store_migration_4[] = {
    "CREATE TABLE kiosk_health_last ("
    " kiosk_id uuid PRIMARY KEY REFERENCES kiosks (id) ON DELETE CASCADE,"
    " at timestamptz NOT NULL,"
    " audio_state text NOT NULL CHECK (audio_state IN ('ok', 'silent', 'missing')),"
    " video_state text NOT NULL CHECK (video_state IN ('ok', 'black', 'frozen', 'missing')),"
    " health jsonb NOT NULL)",
    "CREATE TABLE kiosk_health ("
    " id bigserial PRIMARY KEY,"
    " kiosk_id uuid NOT NULL REFERENCES kiosks (id) ON DELETE CASCADE,"
    " at timestamptz NOT NULL,"
    " audio_state text NOT NULL CHECK (audio_state IN ('ok', 'silent', 'missing')),"
    " video_state text NOT NULL CHECK (video_state IN ('ok', 'black', 'frozen', 'missing')),"
    " health jsonb NOT NULL)",
    "CREATE INDEX kiosk_health_at ON kiosk_health (at)",
    "CREATE INDEX kiosk_health_kiosk_at ON kiosk_health (kiosk_id, at)",
    /* ON CONFLICT ... DO UPDATE reads the row it replaces, hence SELECT. */
    "GRANT SELECT, INSERT, UPDATE ON kiosk_health_last TO madoguchi_server",
    "GRANT SELECT, INSERT, DELETE ON kiosk_health TO madoguchi_server",
    "GRANT USAGE ON SEQUENCE kiosk_health_id_seq TO madoguchi_server",
    NULL,
};
