/* Migration 6: directory changes that reach the running server (issue 11, "changes without
 * restart").
 *
 * `madoguchi admin` (or any hand-written SQL, or a script) changes the directory from
 * another process; statement-level triggers on every directory table send
 * pg_notify('madoguchi_directory', TABLE_NAME) in the same transaction, so the notice is
 * delivered at commit and never for a change that was rolled back. PostgreSQL folds
 * identical notices of one transaction into one, so a command that touches many rows of a
 * table sends one notice per table. A statement-level trigger also fires for a statement
 * that matched no row (an UPDATE of an unknown id): that costs the server one needless read.
 * The server LISTENs on the channel (store/live.c) and reloads the directory.
 *
 * kiosks and staff are watched only for the columns an operator changes (who they are and
 * what they may do), not for columns a running server might update about itself.
 * LISTEN needs no privilege and the triggers run as whoever changes the rows, so the
 * server's role madoguchi_server needs no new grant. */
#include "store/internal.h"

#define DIR_TRIGGER(table, events)                                                                 \
	"CREATE TRIGGER " table "_directory_changed AFTER " events " ON " table                    \
	" FOR EACH STATEMENT EXECUTE FUNCTION madoguchi_directory_changed()"

const char *const store_migration_6[] = {
    "CREATE FUNCTION madoguchi_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  PERFORM pg_notify('madoguchi_directory', TG_TABLE_NAME);"
    "  RETURN NULL;"
    " END $$",
    DIR_TRIGGER("branches", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("departments", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("procedures", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("department_hours", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("onestop_menus", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("onestop_menu_steps", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("staff_departments", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("kiosks", "INSERT OR UPDATE OF branch_id, name, revoked_at OR DELETE OR TRUNCATE"),
    DIR_TRIGGER("staff", "INSERT OR UPDATE OF username, name, coordinator, analyst, admin,"
                         " disabled OR DELETE OR TRUNCATE"),
    NULL,
};
