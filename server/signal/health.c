/* The kiosk self-test (PROTOCOL.md, "Kiosk health"): not built yet. */
#include "signal/app_internal.h"
#include "signal/fleet.h"

json_t *health_json(struct sig_app *app, const char *kiosk_id)
{
	(void)app;
	(void)kiosk_id;
	return NULL;
}
