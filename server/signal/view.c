/* The `view` request (docs/protocol.md): the page says at what size it shows each received
 * video slot, so that the media plane forwards a simulcasting camera's smallest layer that
 * fills it. {"type":"view","id":N,"slots":{"MID":{"width":W,"height":H},...}} -> {}. */
#include "signal/app_internal.h"

#include <string.h>

#define VIEW_MAX_SLOTS 16
#define VIEW_MAX_PX    16384

/* An integer field of the slot's object in [0, VIEW_MAX_PX]; -1 otherwise. */
static int px(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > VIEW_MAX_PX)
		return -1;
	return (int)json_integer_value(v);
}

void h_view(sig_session *s, json_t *msg, json_t *id)
{
	json_t *slots = json_object_get(msg, "slots");
	if (!json_is_object(slots) || json_object_size(slots) > VIEW_MAX_SLOTS) {
		req_bad(s, id, "bad_request",
		        "field \"slots\" must map at most 16 mids to {width, height}");
		return;
	}
	if (!s->peer) {
		req_bad(s, id, "bad_request", "no media negotiated yet (send offer first)");
		return;
	}
	/* Check everything before applying anything: a bad request changes nothing. */
	sfu_slot_info info[VIEW_MAX_SLOTS];
	int n = sfu_peer_slots(s->peer, info, VIEW_MAX_SLOTS);
	const char *mid;
	json_t *v;
	json_object_foreach (slots, mid, v) {
		if (!json_is_object(v) || px(v, "width") < 0 || px(v, "height") < 0) {
			req_bad(s, id, "bad_request",
			        "slots: width and height must be integers from 0 to 16384");
			return;
		}
		int known = 0;
		for (int i = 0; i < n; i++)
			known |= strcmp(info[i].mid, mid) == 0;
		if (!known) {
			req_bad(s, id, "bad_request", "slots: no receive slot has that mid");
			return;
		}
	}
	json_object_foreach (slots, mid, v)
		sfu_peer_set_view(s->peer, mid, px(v, "width"), px(v, "height"));
	session_reply_ok(s, id, NULL);
}
