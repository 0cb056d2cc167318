/* Where the kiosk self-test (health.c) and the status board (status.c) meet: the board shows
 * each kiosk's last health, and a new health result is a change the board pushes. */
#ifndef MDG_SIGNAL_FLEET_H
#define MDG_SIGNAL_FLEET_H

#include <jansson.h>

struct sig_app;

/* health.c: the last HEALTH object (PROTOCOL.md, "Kiosk health") of that kiosk, a new
 * reference, or NULL when it was never checked. */
json_t *health_json(struct sig_app *app, const char *kiosk_id);

/* status.c: something the board shows about that kiosk changed (online, state, health);
 * the change reaches every `status` watcher. Cheap to call often. */
void status_kiosk_changed(struct sig_app *app, const char *kiosk_id);

#endif
