/* The kiosk page's staff mode: the PIN check (kiosk_pin in docs/protocol.md). */
#ifndef MDG_SIGNAL_KIOSK_STAFF_H
#define MDG_SIGNAL_KIOSK_STAFF_H

#include <jansson.h>

struct sig_session;
struct sig_app;

/* kiosk_pin {"pin":"1234"} from a kiosk: {} when it is the PIN `admin kiosk pin` set for
 * this kiosk, else forbidden; too_many after KIOSK_PIN_MAX_FAILURES failures. */
void h_kiosk_pin(struct sig_session *s, json_t *msg, json_t *id);
/* Frees the attempt counters; call after the store is freed (its callbacks use them). */
void kiosk_staff_free(struct sig_app *app);

#endif
