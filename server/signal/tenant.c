/* Several cities on one installation (migration 11; docs/operations.md "Several cities").
 *
 * One process serves every tenant, and routing's state holds every tenant's departments,
 * queues and sessions side by side. Routing needs no notion of a tenant: a clerk only ever
 * rings for departments they belong to, and `admin` cannot give a clerk another tenant's
 * department; a queue belongs to one department. So a tenant's boundary is kept where a
 * request names something by id or a list goes out: a kiosk may call only its tenant's
 * departments and menus, a desk transfer or invite only to them, a coordinator watch and act
 * on only its tenant's visits, and the department list, the status board and the statistics
 * show only the session's tenant. Each of those checks is a call to this file.
 *
 * The tenant of a session comes from its credentials (a kiosk's branch, a staff member's
 * row); the Host header of the request must name the same tenant (tenant_of_host), so a login
 * at another city's address fails like a wrong password. */
#include "signal/app_internal.h"

#include <stdlib.h>
#include <string.h>

const char *tenant_of_host(sig_app *app, const char *host)
{
	for (int i = 0; host && host[0] && i < app->n_tenants; i++)
		if (app->tenants[i].hostname[0] && strcmp(app->tenants[i].hostname, host) == 0)
			return app->tenants[i].id;
	return SIG_DEFAULT_TENANT;
}

int tenant_apply(sig_app *app, const store_directory *d)
{
	store_tenant *copy = calloc((size_t)d->n_tenants + 1, sizeof *copy);
	if (!copy)
		return -1;
	if (d->n_tenants)
		memcpy(copy, d->tenants, sizeof *copy * (size_t)d->n_tenants);
	free(app->tenants);
	app->tenants = copy;
	app->n_tenants = d->n_tenants;
	return 0;
}

void tenant_free(sig_app *app)
{
	free(app->tenants);
	app->tenants = NULL;
	app->n_tenants = 0;
}

int tenant_sid_in(sig_app *app, uint32_t sid, const char *tenant)
{
	sig_session *s = sid ? session_by_sid(app, sid) : NULL;
	return s && strcmp(s->tenant, tenant) == 0;
}

int tenant_dept_ok(sig_session *s, const char *dept)
{
	const sig_dept *d = dept ? app_dept(s->app, dept) : NULL;
	return d && strcmp(d->tenant, s->tenant) == 0;
}

int tenant_menu_ok(sig_session *s, const char *menu)
{
	for (int i = 0; menu && i < s->app->n_menus; i++)
		if (strcmp(s->app->menus[i].id, menu) == 0)
			return strcmp(s->app->menus[i].tenant, s->tenant) == 0;
	return 0;
}

int tenant_visit_ok(sig_session *s, const char *visit)
{
	route_visit_info vi;
	if (!visit || route_visit_get(s->app->route, visit, &vi) != 0)
		return 0;
	return tenant_sid_in(s->app, vi.kiosk, s->tenant);
}

int tenant_check(sig_session *s, json_t *id, int ok, const char *what)
{
	if (ok)
		return 1;
	session_reply_error(s, id, "not_found", "no such %s", what);
	return 0;
}
