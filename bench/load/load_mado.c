/* The load generator's signalling with Madoguchi (docs/protocol.md): per call a desk says
 * hello with a login token and goes available, a kiosk says hello with its token, both send
 * their offer; then, one call after another, the kiosk calls its department and the desk
 * that rings accepts. The tokens and departments come from bench/capacity/seed.sql: kiosk
 * i is "bench-kiosk-i", desk i "bench-desk-i", both of department "bench-(i % D)". Spare
 * desks (for switching, load_switch.c) are desks N.. (N the number of calls): they say
 * hello, go available and offer, and take whichever ring reaches them. */
#include "base/clock.h"
#include "load.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_TIMEOUT_US 20000000

/* Sends {type, id, ...fields} and waits for its reply (rings seen meanwhile are kept).
 * Returns the reply (the caller frees it) or NULL, and says why on stderr. */
static json_t *rpc(load_side *s, const char *type, json_t *fields)
{
	int id = ++s->next_id;
	json_object_set_new(fields, "type", json_string(type));
	json_object_set_new(fields, "id", json_integer(id));
	char *text = json_dumps(fields, JSON_COMPACT);
	json_decref(fields);
	if (!text || ws_send(s->w, text, strlen(text)) != 0) {
		free(text);
		fprintf(stderr, "load: cannot send %s\n", type);
		return NULL;
	}
	free(text);
	int64_t deadline = clock_mono_us() + RPC_TIMEOUT_US;
	while (clock_mono_us() < deadline) {
		size_t len;
		const char *m;
		while ((m = ws_next(s->w, &len))) {
			json_t *j = json_loadb(m, len, 0, NULL);
			if (!j)
				continue;
			json_t *jid = json_object_get(j, "id");
			const char *t = json_string_value(json_object_get(j, "type"));
			if (jid && json_is_integer(jid) && json_integer_value(jid) == id) {
				if (t && strcmp(t, "ok") == 0)
					return j;
				fprintf(stderr, "load: %s refused: %s %s\n", type,
				        json_string_value(json_object_get(j, "code")),
				        json_string_value(json_object_get(j, "message")));
				json_decref(j);
				return NULL;
			}
			const char *v = json_string_value(json_object_get(j, "visit"));
			if (s->desk && t && strcmp(t, "ringing") == 0 && v)
				snprintf(s->ringing, sizeof s->ringing, "%s", v);
			json_decref(j);
		}
		if (ws_closed(s->w) || ws_read(s->w) < 0) {
			fprintf(stderr, "load: connection closed waiting for the reply to %s\n",
			        type);
			return NULL;
		}
		struct pollfd p = {.fd = ws_fd(s->w), .events = POLLIN};
		poll(&p, 1, 50);
	}
	fprintf(stderr, "load: no reply to %s\n", type);
	return NULL;
}

int load_mado_send(load_side *s, const char *type, const char *k1, const char *v1,
                   const char *k2, const char *v2)
{
	char text[512];
	int n = k2 ? snprintf(text, sizeof text,
	                      "{\"type\":\"%s\",\"id\":%d,\"%s\":\"%s\",\"%s\":\"%s\"}", type,
	                      ++s->next_id, k1, v1, k2, v2)
	           : snprintf(text, sizeof text, "{\"type\":\"%s\",\"id\":%d,\"%s\":\"%s\"}",
	                      type, ++s->next_id, k1, v1);
	if (n < 0 || (size_t)n >= sizeof text || ws_send(s->w, text, (size_t)n) != 0) {
		fprintf(stderr, "load: cannot send %s\n", type);
		return -1;
	}
	return 0;
}

static int hello(const load_opts *o, load_side *s, int index)
{
	char token[64];
	snprintf(token, sizeof token, "bench-%s-%d", s->desk ? "desk" : "kiosk", index);
	s->w = ws_connect(o->host, o->port, o->path, NULL, 5000);
	if (!s->w)
		return -1;
	json_t *r =
	    rpc(s, "hello",
	        json_pack("{s:s, s:s}", "role", s->desk ? "staff" : "kiosk", "token", token));
	if (!r)
		return -1;
	json_decref(r);
	if (s->desk) {
		r = rpc(s, "presence", json_pack("{s:s}", "status", "available"));
		if (!r)
			return -1;
		json_decref(r);
	}
	return 0;
}

static int offer(load_side *s)
{
	static const char *const names[] = {"none", "mic", "camera", "document", "slot"};
	char *sdp = malloc(65536);
	sfu_track_role roles[8];
	int nr = synth_peer_roles(s->peer, roles, 8);
	int n = sdp ? synth_peer_offer(s->peer, sdp, 65536) : -1;
	if (n < 0) {
		free(sdp);
		return -1;
	}
	json_t *tracks = json_object();
	for (int i = 0; i < nr; i++)
		json_object_set_new(tracks, roles[i].mid, json_string(names[roles[i].role]));
	json_t *r =
	    rpc(s, "offer", json_pack("{s:s%, s:o}", "sdp", sdp, (size_t)n, "tracks", tracks));
	free(sdp);
	const char *answer = r ? json_string_value(json_object_get(r, "sdp")) : NULL;
	int rc = answer ? synth_peer_answer(s->peer, answer, strlen(answer), clock_mono_us()) : -1;
	json_decref(r);
	return rc;
}

static int new_peer(const load_opts *o, load_side *s, int index, synth_template *tmpl,
                    dtls_ctx *dtls)
{
	char label[32];
	snprintf(label, sizeof label, "%s-%d", s->desk ? "desk" : "kiosk", index);
	synth_config c = {.label = label,
	                  .tmpl = tmpl,
	                  .dtls = dtls,
	                  .seed = (uint64_t)index * 2 + (uint64_t)s->desk + 1,
	                  .video_kbps = o->video_kbps,
	                  .media = SYNTH_MEDIA_REPLAY,
	                  .bind_ip = o->bind_ip};
	load_side_hooks(&c, s);
	s->peer = synth_peer_new(&c);
	return s->peer ? 0 : -1;
}

int load_mado_setup(const load_opts *o, load_call *calls, int n, int total, synth_template *tmpl,
                    dtls_ctx *dtls)
{
	for (int i = 0; i < total; i++) {
		load_call *c = &calls[i];
		for (int k = 1; k >= 0; k--) { /* the desk first, so that it is there to ring */
			load_side *s = c->side[k];
			if (!s)
				continue; /* a spare desk's entry */
			s->desk = k;
			s->dept = c->index % o->departments;
			if (new_peer(o, s, c->index, tmpl, dtls) != 0 ||
			    hello(o, s, c->index) != 0 || offer(s) != 0) {
				fprintf(stderr, "load: call %d: %s setup failed\n", c->index,
				        k ? "desk" : "kiosk");
				return -1;
			}
		}
		load_drain(calls, i + 1);
	}
	for (int i = 0; i < n; i++) {
		load_call *c = &calls[i];
		char dept[32];
		snprintf(dept, sizeof dept, "bench-%d", c->index % o->departments);
		json_t *r = rpc(c->side[0], "call", json_pack("{s:s}", "department", dept));
		const char *visit = r ? json_string_value(json_object_get(r, "visit")) : NULL;
		if (!visit) {
			json_decref(r);
			return -1;
		}
		/* The department rings its longest-idle desk: one of ours, since every desk of the
		 * department is in this process. */
		load_side *desk = NULL;
		int64_t deadline = clock_mono_us() + RPC_TIMEOUT_US;
		while (!desk && clock_mono_us() < deadline) {
			load_drain(calls, total);
			for (int j = 0; j < total && !desk; j++)
				if (strcmp(calls[j].side[1]->ringing, visit) == 0)
					desk = calls[j].side[1];
			if (!desk)
				load_pump(calls, total, clock_mono_us() + 2000, NULL, -1);
		}
		if (!desk) {
			fprintf(stderr, "load: no desk rang for call %d (visit %s)\n", c->index,
			        visit);
			json_decref(r);
			return -1;
		}
		json_t *a = rpc(desk, "accept", json_pack("{s:s}", "visit", visit));
		snprintf(c->visit, sizeof c->visit, "%s", visit);
		json_decref(r);
		if (!a)
			return -1;
		json_decref(a);
		desk->ringing[0] = 0;
		/* Pair the kiosk with the desk that answered: swap desks between calls. */
		if (desk != c->side[1]) {
			load_call *d = desk->call;
			d->side[1] = c->side[1];
			d->side[1]->call = d;
			c->side[1] = desk;
			desk->call = c;
		}
	}
	return 0;
}
