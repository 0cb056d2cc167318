/* The status board (PROTOCOL.md, "Status board"): not built yet. */
#include "signal/app_internal.h"
#include "signal/fleet.h"

void status_kiosk_changed(struct sig_app *app, const char *kiosk_id)
{
	(void)app;
	(void)kiosk_id;
}
