/* Migration 3: revocation that reaches the running server, and a database role for it that
 * holds only the data rights it needs.
 *
 * Revocation. `madoguchi admin kiosk revoke`, `admin user disable` and `admin user passwd` run
 * in another process and only change rows, so the database itself tells the server: triggers
 * on kiosks and staff send pg_notify('madoguchi_identity', 'kiosk:<id>' | 'staff:<id>') when a
 * kiosk is revoked or deleted, or when a staff member's credentials change, and the server
 * (which LISTENs on that channel, see store.c) re-checks the sessions of that identity. Being
 * triggers, they fire for any path: the admin command, a hand-written UPDATE, a script.
 *
 * staff.cred_version counts a staff member's credential changes. It only grows: it moves on
 * when password_hash changes, when disabled becomes true, or when someone changes it by hand
 * (the way to log one person out everywhere without changing anything else). A live session
 * remembers the version it logged in with, and is still good only while the row still has it.
 * Every such change also revokes that person's login tokens (POST /api/login), in the same
 * transaction.
 *
 * Roles. The schema belongs to whoever runs `madoguchi migrate` (the owner role); the server
 * should connect as a member of madoguchi_server, which may read and write the rows it uses
 * and nothing else: it owns nothing, so it cannot DROP, ALTER or TRUNCATE, and it has no CREATE
 * on the schema. It cannot add kiosks or staff, change anyone's password or flags, or touch
 * schema_migrations. A later migration that adds a table the server uses must grant it to
 * madoguchi_server the same way. */
#include "store/internal.h"

const char *const store_migration_3[] = {
    "ALTER TABLE staff ADD COLUMN cred_version bigint NOT NULL DEFAULT 0",

    "CREATE FUNCTION madoguchi_staff_cred_version() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF NEW.password_hash IS DISTINCT FROM OLD.password_hash"
    "   OR (NEW.disabled AND NOT OLD.disabled)"
    "   OR NEW.cred_version IS DISTINCT FROM OLD.cred_version THEN"
    "   NEW.cred_version := greatest(NEW.cred_version, OLD.cred_version + 1);"
    "  END IF;"
    "  RETURN NEW;"
    " END $$",
    "CREATE TRIGGER staff_cred_version BEFORE UPDATE ON staff FOR EACH ROW"
    " EXECUTE FUNCTION madoguchi_staff_cred_version()",

    /* Notifications are delivered at commit, so a rolled-back change is never announced. */
    "CREATE FUNCTION madoguchi_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_TABLE_NAME = 'staff' THEN"
    "   UPDATE login_sessions SET revoked = true WHERE staff_id = OLD.id AND NOT revoked;"
    "   PERFORM pg_notify('madoguchi_identity', 'staff:' || OLD.id::text);"
    "  ELSE"
    "   PERFORM pg_notify('madoguchi_identity', 'kiosk:' || OLD.id::text);"
    "  END IF;"
    "  RETURN NULL;"
    " END $$",
    "CREATE TRIGGER staff_identity_changed AFTER UPDATE ON staff FOR EACH ROW"
    " WHEN (OLD.cred_version IS DISTINCT FROM NEW.cred_version)"
    " EXECUTE FUNCTION madoguchi_identity_changed()",
    "CREATE TRIGGER staff_identity_deleted AFTER DELETE ON staff FOR EACH ROW"
    " EXECUTE FUNCTION madoguchi_identity_changed()",
    "CREATE TRIGGER kiosks_identity_revoked AFTER UPDATE ON kiosks FOR EACH ROW"
    " WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)"
    " EXECUTE FUNCTION madoguchi_identity_changed()",
    "CREATE TRIGGER kiosks_identity_deleted AFTER DELETE ON kiosks FOR EACH ROW"
    " EXECUTE FUNCTION madoguchi_identity_changed()",

    /* ---- the server's role ---- */
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'madoguchi_server') THEN"
    "  CREATE ROLE madoguchi_server NOLOGIN;"
    " END IF;"
    " END $$",
    "GRANT USAGE ON SCHEMA public TO madoguchi_server",
    /* Logins and the directory it loads at start-up. */
    "GRANT SELECT ON branches, departments, procedures, department_hours, onestop_menus,"
    " onestop_menu_steps, kiosks, staff, staff_departments, site_settings"
    " TO madoguchi_server",
    /* Call records, surveys and the audit log; login sessions (create, check, log out). */
    "GRANT SELECT, INSERT, UPDATE ON visits, legs, login_sessions TO madoguchi_server",
    "GRANT SELECT, INSERT ON surveys TO madoguchi_server",
    /* ON CONFLICT (record_id) needs to read the column it checks, and only that one. */
    "GRANT INSERT, SELECT (record_id) ON audit_log TO madoguchi_server",
    "GRANT USAGE ON SEQUENCE audit_log_id_seq TO madoguchi_server",
    /* The rollup triggers of migration 2 run with the rights of whoever ends a leg. */
    "GRANT SELECT, INSERT, UPDATE ON usage_rollup TO madoguchi_server",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON usage_visit_rows TO madoguchi_server",
    /* PostgreSQL 15 no longer lets every role create tables in the public schema; older ones
     * did. Take that right away where this role may (it owns the schema from version 15 on;
     * before, the schema belongs to the superuser, and docs/operations.md says what to run). */
    "DO $$ BEGIN"
    " IF pg_has_role((SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'USAGE')"
    " THEN"
    "  REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    " END IF;"
    " END $$",
    NULL,
};
