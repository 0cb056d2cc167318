/* Migration 11: several cities on one installation (issue 15, "tenants").
 *
 * A tenant (a city) owns branches, departments, staff and one-stop menus (tenant_id columns);
 * kiosks belong to their branch's tenant, procedures and hours to their department's, visits
 * and bookings to their branch's. Every row that existed before this migration belongs to the
 * tenant 'default', which this migration creates, so a single-city installation keeps working
 * unchanged. Ids (branch, department, menu codes) and usernames stay unique across the whole
 * installation: two cities cannot both have a department "shimin" (prefix the codes).
 *
 * Two scopes, both PostgreSQL row-level security:
 *
 * 1. The operator's command line. `madoguchi admin --tenant T ...` sets the session setting
 *    madoguchi.tenant to T on its connection; the policies below then show, update and delete
 *    only T's rows of the directory tables, and refuse an insert that would reference another
 *    tenant's rows (a kiosk at B's branch, a clerk of A in B's department). New rows get the
 *    setting's tenant from the column default. Without the setting (the server, the tests'
 *    helper functions, hand-written SQL) every row is visible, as before; a setting can only
 *    narrow what a role sees, never widen it. FORCE makes the owner role (who runs admin) obey
 *    the policies too.
 *
 * 2. Analysts. Each tenant names an analyst role (tenants.analyst_role): 'madoguchi_analyst'
 *    for the default tenant, madoguchi_analyst_<id> for those `admin tenant add` creates. The
 *    policy on usage_rollup, the one table behind the usage views, keeps only rows of the
 *    branches of the tenants whose analyst role the current user holds (inherits); a role that
 *    holds none (the server, the owner) sees every row. The views run with their owner's
 *    rights, so the rollup's RLS is FORCEd for the owner too, and current_user inside them is
 *    still the analyst's login role. madoguchi_analyst_branches is SECURITY DEFINER so it can
 *    read tenants and branches, which analysts cannot. An analyst who sets madoguchi.tenant
 *    only narrows what the function finds (the branches policy applies inside it too), so
 *    the setting can hide rows from them but never show another tenant's.
 *
 * The server's role reads tenants (hostnames pick a tenant for logins and kiosk tokens). */
#include "store/internal.h"

#define TENANT_SCOPE "nullif(current_setting('madoguchi.tenant', true), '')"
/* A row of a table with a tenant_id column is in scope. */
#define IN_SCOPE "(" TENANT_SCOPE " IS NULL OR tenant_id = " TENANT_SCOPE ")"
#define POLICY(table, expr)                                                                        \
	"ALTER TABLE " table " ENABLE ROW LEVEL SECURITY",                                         \
	    "ALTER TABLE " table " FORCE ROW LEVEL SECURITY",                                      \
	    "CREATE POLICY " table "_tenant ON " table " USING " expr
#define OWNED(table)                                                                               \
	"ALTER TABLE " table " ADD COLUMN tenant_id text NOT NULL DEFAULT 'default'"               \
	" REFERENCES tenants (id)",                                                                \
	    "ALTER TABLE " table " ALTER COLUMN tenant_id SET DEFAULT madoguchi_tenant()",         \
	    "CREATE INDEX " table "_tenant_idx ON " table " (tenant_id)", POLICY(table, IN_SCOPE)

const char *const store_migration_11[] = {
    "CREATE TABLE tenants ("
    " id text PRIMARY KEY,"
    " name text NOT NULL,"
    " hostname text UNIQUE," /* lower case, without port; NULL = none */
    " analyst_role text NOT NULL UNIQUE,"
    " created_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO tenants (id, name, analyst_role) VALUES ('default', 'default',"
    " 'madoguchi_analyst')",
    /* The tenant new directory rows go to: the admin command's --tenant, else 'default'. */
    "CREATE FUNCTION madoguchi_tenant() RETURNS text LANGUAGE sql STABLE AS $$"
    " SELECT coalesce(" TENANT_SCOPE ", 'default') $$",

    OWNED("branches"),
    OWNED("departments"),
    OWNED("staff"),
    OWNED("onestop_menus"),
    /* Tables without a column of their own are in scope through the rows they hang on
     * (which their policies' subqueries see through those rows' own policies). */
    POLICY("kiosks", "(branch_id IN (SELECT id FROM branches))"),
    POLICY("procedures", "(department_id IN (SELECT id FROM departments))"),
    POLICY("department_hours", "(department_id IN (SELECT id FROM departments))"),
    POLICY("staff_departments", "(staff_id IN (SELECT id FROM staff)"
                                " AND department_id IN (SELECT id FROM departments))"),
    POLICY("onestop_menu_steps", "(menu_id IN (SELECT id FROM onestop_menus)"
                                 " AND department_id IN (SELECT id FROM departments))"),
    POLICY("kiosk_pins", "(kiosk_id IN (SELECT id FROM kiosks))"),

    /* Whoever writes them (the scoped admin commands are kept in line by the policies; a
     * helper function, a script or hand-written SQL may not be), a clerk's departments and a
     * menu's steps are of their own tenant. After the foreign key checks, so an unknown id
     * is still reported as unknown. */
    "CREATE FUNCTION madoguchi_same_tenant() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE mine text; theirs text;"
    " BEGIN"
    "  IF TG_TABLE_NAME = 'staff_departments' THEN"
    "   SELECT tenant_id INTO mine FROM staff WHERE id = NEW.staff_id;"
    "  ELSE"
    "   SELECT tenant_id INTO mine FROM onestop_menus WHERE id = NEW.menu_id;"
    "  END IF;"
    "  SELECT tenant_id INTO theirs FROM departments WHERE id = NEW.department_id;"
    "  IF mine <> theirs THEN"
    "   RAISE EXCEPTION 'department % belongs to tenant %, not %', NEW.department_id, theirs,"
    "    mine USING ERRCODE = 'check_violation';"
    "  END IF;"
    "  RETURN NULL;"
    " END $$",
    "CREATE CONSTRAINT TRIGGER staff_departments_same_tenant AFTER INSERT OR UPDATE"
    " ON staff_departments FOR EACH ROW EXECUTE FUNCTION madoguchi_same_tenant()",
    "CREATE CONSTRAINT TRIGGER onestop_menu_steps_same_tenant AFTER INSERT OR UPDATE"
    " ON onestop_menu_steps FOR EACH ROW EXECUTE FUNCTION madoguchi_same_tenant()",

    /* ---- analysts ---- */
    "CREATE FUNCTION madoguchi_analyst_branches(r name) RETURNS text[] LANGUAGE sql STABLE"
    " SECURITY DEFINER SET search_path = public, pg_temp AS $$"
    " WITH mine AS (SELECT t.id FROM tenants t JOIN pg_roles pr ON pr.rolname = t.analyst_role"
    "  WHERE pg_has_role(r, pr.oid, 'USAGE'))"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM mine) THEN NULL"
    "  ELSE ARRAY(SELECT b.id FROM branches b WHERE b.tenant_id IN (SELECT id FROM mine)) END"
    " $$",
    "REVOKE ALL ON FUNCTION madoguchi_analyst_branches(name) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION madoguchi_analyst_branches(name) TO madoguchi_server,"
    " madoguchi_analyst",
    "ALTER TABLE usage_rollup ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE usage_rollup FORCE ROW LEVEL SECURITY",
    /* The sub-selects make each call an init plan: once per query, not once per row. */
    "CREATE POLICY usage_rollup_tenant ON usage_rollup USING"
    " ((SELECT madoguchi_analyst_branches(current_user)) IS NULL"
    " OR branch_id = ANY ((SELECT madoguchi_analyst_branches(current_user))::text[]))",

    /* A new tenant or host name reaches the running server like any directory change
     * (migration 6). */
    "CREATE TRIGGER tenants_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
    " ON tenants FOR EACH STATEMENT EXECUTE FUNCTION madoguchi_directory_changed()",
    "GRANT SELECT ON tenants TO madoguchi_server",
    NULL,
};
