/* The load generator's signalling with Janus (its WebSocket API, subprotocol janus-protocol,
 * and the VideoRoom plugin): per call one room with two publishers, each subscribed to the
 * other, which is what a one-to-one call is in Janus. Each side has its own WebSocket and
 * session with two handles: the publisher (our offer: mic and camera, send-only) and the
 * subscriber (Janus's offer, our receive-only answer). */
#include "base/clock.h"
#include "load.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_US 20000000
#define ROOM_BASE  4200000

/* Sends a Janus request and waits for its answer: "success" (want_event 0) or the plugin's
 * "event" after the "ack" (want_event 1). Returns the answer (the caller frees it). */
static json_t *request(load_side *s, json_t *msg, int want_event)
{
	char tx[32];
	snprintf(tx, sizeof tx, "t%d", ++s->next_id);
	json_object_set_new(msg, "transaction", json_string(tx));
	if (s->session)
		json_object_set_new(msg, "session_id", json_integer(s->session));
	char *text = json_dumps(msg, JSON_COMPACT);
	const char *what = json_string_value(json_object_get(msg, "janus"));
	char name[32];
	snprintf(name, sizeof name, "%s", what ? what : "?");
	json_decref(msg);
	if (!text || ws_send(s->w, text, strlen(text)) != 0) {
		free(text);
		return NULL;
	}
	free(text);
	int64_t deadline = clock_mono_us() + TIMEOUT_US;
	while (clock_mono_us() < deadline) {
		size_t len;
		const char *m;
		while ((m = ws_next(s->w, &len))) {
			json_t *j = json_loadb(m, len, 0, NULL);
			const char *t = json_string_value(json_object_get(j, "transaction"));
			const char *kind = json_string_value(json_object_get(j, "janus"));
			if (kind && strcmp(kind, "webrtcup") == 0 &&
			    json_integer_value(json_object_get(j, "sender")) == s->handle[0])
				s->pub_up = 1;
			if (!j || !t || !kind || strcmp(t, tx) != 0 || strcmp(kind, "ack") == 0) {
				json_decref(j);
				continue;
			}
			json_t *err = json_object_get(
			    json_object_get(json_object_get(j, "plugindata"), "data"), "error");
			if (strcmp(kind, "error") == 0 || err) {
				fprintf(stderr, "load: janus %s refused: %s\n", name, m);
				json_decref(j);
				return NULL;
			}
			if (strcmp(kind, want_event ? "event" : "success") == 0)
				return j;
			json_decref(j);
		}
		if (ws_closed(s->w) || ws_read(s->w) < 0)
			break;
		struct pollfd p = {.fd = ws_fd(s->w), .events = POLLIN};
		poll(&p, 1, 50);
	}
	fprintf(stderr, "load: no answer from janus to %s\n", name);
	return NULL;
}

static int64_t data_id(json_t *j)
{
	return (int64_t)json_integer_value(json_object_get(json_object_get(j, "data"), "id"));
}

static json_t *plugin(load_side *s, int h, json_t *body, const char *jsep_type, const char *sdp,
                      int want_event)
{
	json_t *msg = json_pack("{s:s, s:I, s:o}", "janus", "message", "handle_id",
	                        (json_int_t)s->handle[h], "body", body);
	if (sdp)
		json_object_set_new(msg, "jsep",
		                    json_pack("{s:s, s:s}", "type", jsep_type, "sdp", sdp));
	return request(s, msg, want_event);
}

static const char *jsep_sdp(json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "jsep"), "sdp"));
}

static synth_peer *new_peer(const load_opts *o, load_side *s, int index, int sub,
                            synth_template *tmpl, dtls_ctx *dtls)
{
	char label[32];
	snprintf(label, sizeof label, "%s-%d%s", s->desk ? "desk" : "kiosk", index,
	         sub ? "-sub" : "");
	synth_config c = {.label = label,
	                  .tmpl = tmpl,
	                  .dtls = dtls,
	                  .seed = (uint64_t)index * 4 + (uint64_t)s->desk * 2 + (uint64_t)sub + 1,
	                  .video_kbps = o->video_kbps,
	                  .media = SYNTH_MEDIA_REPLAY,
	                  .bind_ip = o->bind_ip,
	                  .publish_only = !sub};
	load_side_hooks(&c, s);
	return synth_peer_new(&c);
}

/* Session, two handles, and (the kiosk side) the room. */
static int open_side(const load_opts *o, load_side *s, int index)
{
	s->w = ws_connect(o->host, o->port, o->path, "janus-protocol", 5000);
	if (!s->w)
		return -1;
	json_t *r = request(s, json_pack("{s:s}", "janus", "create"), 0);
	if (!r)
		return -1;
	s->session = data_id(r);
	json_decref(r);
	for (int h = 0; h < 2; h++) {
		r = request(
		    s,
		    json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"),
		    0);
		if (!r)
			return -1;
		s->handle[h] = data_id(r);
		json_decref(r);
	}
	if (!s->desk) {
		r = plugin(s, 0,
		           json_pack("{s:s, s:I, s:i, s:s, s:s, s:i}", "request", "create", "room",
		                     (json_int_t)(ROOM_BASE + index), "publishers", 2, "videocodec",
		                     "vp8", "audiocodec", "opus", "bitrate", 0),
		           NULL, NULL, 0);
		if (!r)
			return -1;
		json_decref(r);
	}
	return 0;
}

static int publish(load_side *s, int index)
{
	char *sdp = malloc(65536);
	int n = sdp ? synth_peer_offer(s->peer, sdp, 65536) : -1;
	if (n < 0) {
		free(sdp);
		return -1;
	}
	s->feed = (int64_t)index * 2 + s->desk + 1;
	json_t *r =
	    plugin(s, 0,
	           json_pack("{s:s, s:s, s:I, s:I, s:b, s:b}", "request", "joinandconfigure",
	                     "ptype", "publisher", "room", (json_int_t)(ROOM_BASE + index), "id",
	                     (json_int_t)s->feed, "audio", 1, "video", 1),
	           "offer", sdp, 1);
	free(sdp);
	const char *answer = r ? jsep_sdp(r) : NULL;
	int rc = answer ? synth_peer_answer(s->peer, answer, strlen(answer), clock_mono_us()) : -1;
	json_decref(r);
	return rc;
}

static int subscribe(load_side *s, int index, int64_t feed)
{
	json_t *r =
	    plugin(s, 1,
	           json_pack("{s:s, s:s, s:I, s:I}", "request", "join", "ptype", "subscriber",
	                     "room", (json_int_t)(ROOM_BASE + index), "feed", (json_int_t)feed),
	           NULL, NULL, 1);
	const char *offer = r ? jsep_sdp(r) : NULL;
	char *answer = malloc(65536);
	int n = offer && answer ? synth_peer_accept_offer(s->sub, offer, strlen(offer), answer,
	                                                  65535, clock_mono_us())
	                        : -1;
	json_decref(r);
	if (n < 0) {
		if (offer)
			fprintf(stderr, "load: cannot answer janus's offer:\n%s\n", offer);
		free(answer);
		return -1;
	}
	answer[n] = 0;
	r = plugin(
	    s, 1,
	    json_pack("{s:s, s:I}", "request", "start", "room", (json_int_t)(ROOM_BASE + index)),
	    "answer", answer, 1);
	free(answer);
	if (!r)
		return -1;
	json_decref(r);
	return 0;
}

int load_janus_setup(const load_opts *o, load_call *calls, int n, synth_template *tmpl,
                     dtls_ctx *dtls)
{
	for (int i = 0; i < n; i++) {
		load_call *c = &calls[i];
		for (int k = 0; k < 2; k++) {
			load_side *s = c->side[k];
			if (!(s->peer = new_peer(o, s, c->index, 0, tmpl, dtls)) ||
			    !(s->sub = new_peer(o, s, c->index, 1, tmpl, dtls)) ||
			    open_side(o, s, c->index) != 0 || publish(s, c->index) != 0) {
				fprintf(stderr, "load: janus call %d: %s publisher failed\n",
				        c->index, k ? "desk" : "kiosk");
				return -1;
			}
		}
		/* Janus lists a feed for subscribers once its PeerConnection is up (webrtcup). */
		int64_t deadline = clock_mono_us() + TIMEOUT_US;
		while (!(c->side[0]->pub_up && c->side[1]->pub_up) && clock_mono_us() < deadline) {
			load_pump(calls, i + 1, clock_mono_us() + 5000, NULL, -1);
			load_drain(calls, i + 1);
		}
		for (int k = 0; k < 2; k++)
			if (subscribe(c->side[k], c->index, c->side[!k]->feed) != 0) {
				fprintf(stderr, "load: janus call %d: %s subscriber failed\n",
				        c->index, k ? "desk" : "kiosk");
				return -1;
			}
		load_drain(calls, i + 1);
	}
	return 0;
}
