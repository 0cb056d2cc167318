/* Text in the call (筆談) and marks on the shared document (PROTOCOL.md, "Additions": "Text
 * in the call", "Document annotation"). Both are relays inside a visit's room: the server
 * checks the sender is a party of the visit's active leg, validates the content, and sends
 * it to every party of that room, the sender included. Nothing is stored and the text is
 * never logged: it is what a resident who cannot hear says to the clerk.
 *
 * Errors: bad_request (malformed fields), forbidden (wrong role, or the sender is not a party
 * of the visit's room: a desk that only rings, a kiosk still waiting alone, a desk of
 * another visit), not_found (no such visit, or it has ended), too_many (flood). */
#include "base/clock.h"
#include "base/log.h"
#include "signal/app_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Sliding window: at most SIG_BURST_MAX (or fewer, as max says) events per window_us. The
 * ring holds the times of the last max events; a new one is allowed when the oldest of them
 * is older than the window. */
static int burst_allow(sig_burst *b, int max, int64_t window_us, int64_t now_us)
{
	int64_t *oldest = &b->at[b->next];
	if (*oldest && now_us - *oldest < window_us)
		return 0;
	*oldest = now_us;
	b->next = (b->next + 1) % max;
	return 1;
}

/* The room of the visit, when the sender is one of its parties and someone else is there
 * (a kiosk waiting alone in a queue has no one to talk to). Returns 0, or a route error. */
static int room_of(sig_session *s, const char *visit, route_visit_info *info)
{
	if (route_visit_get(s->app->route, visit, info) != 0)
		return ROUTE_ERR_NOT_FOUND;
	if (info->n_parties < 2)
		return ROUTE_ERR_FORBIDDEN;
	for (int i = 0; i < info->n_parties; i++)
		if (info->parties[i] == s->sid)
			return 0;
	return ROUTE_ERR_FORBIDDEN;
}

/* Sends ev (stolen) to every party of the room. */
static void send_to_room(sig_app *app, const route_visit_info *info, json_t *ev)
{
	for (int i = 0; i < info->n_parties; i++) {
		sig_session *to = session_by_sid(app, info->parties[i]);
		if (to)
			session_send_json(to, json_incref(ev));
	}
	json_decref(ev);
}

static json_t *sender_party(sig_session *s)
{
	return session_party(s->app, s->sid, route_session_department(s->app->route, s->sid));
}

/* ---- text ---- */

/* The number of Unicode characters (code points) in valid UTF-8 (jansson checked it), or -1
 * when it holds a control character other than line feed and tab: C0 controls, DEL and the
 * C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) would only garble the kiosk's display. */
static long text_chars(const char *p, size_t len)
{
	long n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return -1;
		if (c == 0xc2 && i + 1 < len && (unsigned char)p[i + 1] < 0xa0)
			return -1;
		if ((c & 0xc0) != 0x80) /* not a continuation byte: a new character */
			n++;
	}
	return n;
}

void h_text(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (!visit)
		return;
	json_t *t = json_object_get(msg, "text");
	/* 4 bytes per character at most in UTF-8: a cheap bound before counting. */
	size_t bytes = json_string_length(t);
	long chars = json_is_string(t) && bytes <= 4 * SIG_TEXT_MAX_CHARS
	                 ? text_chars(json_string_value(t), bytes)
	                 : SIG_TEXT_MAX_CHARS + 1;
	if (chars < 0) {
		req_bad(s, id, "bad_request", "\"text\" must not contain control characters");
		return;
	}
	if (chars < 1 || chars > SIG_TEXT_MAX_CHARS) {
		char why[96];
		snprintf(why, sizeof why, "field \"text\" must be a string of 1 to %d characters",
		         SIG_TEXT_MAX_CHARS);
		req_bad(s, id, "bad_request", why);
		return;
	}
	route_visit_info info;
	int rc = room_of(s, visit, &info);
	if (rc != 0) {
		req_route(s, id, rc, NULL, "text");
		return;
	}
	if (!burst_allow(&s->text_burst, SIG_TEXT_BURST, SIG_TEXT_WINDOW_US, clock_mono_us())) {
		LOG_INFO("text", "text refused: too many sid=%u", s->sid);
		session_reply_error(s, id, "too_many", "at most %d texts in %d s", SIG_TEXT_BURST,
		                    (int)(SIG_TEXT_WINDOW_US / 1000000));
		return;
	}
	char at[40];
	clock_format_rfc3339(clock_wall_us(), at, sizeof at);
	json_t *ev = json_pack("{s:s, s:s, s:o, s:O, s:s}", "type", "text", "visit", info.id,
	                       "from", sender_party(s), "text", t, "at", at);
	session_reply_ok(s, id, NULL);
	if (ev)
		send_to_room(s->app, &info, ev);
}

/* ---- annotate ---- */

static int unit(json_t *v, double lo, double *out)
{
	if (!json_is_number(v))
		return 0;
	double d = json_number_value(v);
	if (!isfinite(d) || d < lo || d > 1.0)
		return 0;
	*out = d;
	return 1;
}

static int hex_color(const char *c, char out[8])
{
	if (!c || strlen(c) != 7 || c[0] != '#')
		return 0;
	for (int i = 1; i < 7; i++) {
		char h = c[i];
		if (h >= 'A' && h <= 'F')
			h = (char)(h - 'A' + 'a');
		if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
			return 0;
		out[i] = h;
	}
	out[0] = '#';
	out[7] = '\0';
	return 1;
}

/* One shape, rebuilt from its checked fields only (nothing else a client put in is relayed);
 * NULL with *why set when malformed. rect and circle: the box (x, y, w, h) inside the picture,
 * the circle being the ellipse inscribed in it. arrow: from (x, y) to (x + w, y + h), both
 * ends inside the picture; w and h may be negative. */
static json_t *shape_checked(json_t *sh, const char **why)
{
	/* Sums of fractions computed in a browser may overshoot 1 by a rounding error. */
	const double slack = 1e-6;
	const char *kind = json_string_value(json_object_get(sh, "kind"));
	int arrow = kind && strcmp(kind, "arrow") == 0;
	if (!kind || (!arrow && strcmp(kind, "rect") != 0 && strcmp(kind, "circle") != 0)) {
		*why = "a shape's \"kind\" must be \"rect\", \"circle\" or \"arrow\"";
		return NULL;
	}
	double x, y, w, h;
	double lo = arrow ? -1.0 : 0.0;
	if (!unit(json_object_get(sh, "x"), 0.0, &x) || !unit(json_object_get(sh, "y"), 0.0, &y) ||
	    !unit(json_object_get(sh, "w"), lo, &w) || !unit(json_object_get(sh, "h"), lo, &h) ||
	    x + w > 1.0 + slack || y + h > 1.0 + slack || x + w < -slack || y + h < -slack) {
		*why = "a shape's x, y, w, h must be fractions of the picture and stay inside it";
		return NULL;
	}
	char color[8] = "#ff4da6";
	json_t *c = json_object_get(sh, "color");
	if (c && !hex_color(json_string_value(c), color)) {
		*why = "a shape's \"color\" must be \"#rrggbb\"";
		return NULL;
	}
	return json_pack("{s:s, s:f, s:f, s:f, s:f, s:s}", "kind", kind, "x", x, "y", y, "w", w,
	                 "h", h, "color", color);
}

void h_annotate(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", 36);
	if (!visit)
		return;
	json_t *in = json_object_get(msg, "shapes");
	if (!json_is_array(in) || json_array_size(in) > SIG_ANNOTATE_MAX_SHAPES) {
		char why[96];
		snprintf(why, sizeof why, "field \"shapes\" must be a list of at most %d shapes",
		         SIG_ANNOTATE_MAX_SHAPES);
		req_bad(s, id, "bad_request", why);
		return;
	}
	json_t *shapes = json_array();
	size_t i;
	json_t *sh;
	json_array_foreach (in, i, sh) {
		const char *why = "a shape must be an object";
		json_t *ok = json_is_object(sh) ? shape_checked(sh, &why) : NULL;
		if (!ok) {
			json_decref(shapes);
			req_bad(s, id, "bad_request", why);
			return;
		}
		json_array_append_new(shapes, ok);
	}
	route_visit_info info;
	int rc = room_of(s, visit, &info);
	if (rc != 0) {
		json_decref(shapes);
		req_route(s, id, rc, NULL, "annotate");
		return;
	}
	if (!burst_allow(&s->annotate_burst, SIG_ANNOTATE_BURST, SIG_TEXT_WINDOW_US,
	                 clock_mono_us())) {
		json_decref(shapes);
		LOG_INFO("text", "annotate refused: too many sid=%u", s->sid);
		session_reply_error(s, id, "too_many", "at most %d annotations in %d s",
		                    SIG_ANNOTATE_BURST, (int)(SIG_TEXT_WINDOW_US / 1000000));
		return;
	}
	json_t *ev = json_pack("{s:s, s:s, s:o, s:o}", "type", "annotate", "visit", info.id, "from",
	                       sender_party(s), "shapes", shapes);
	session_reply_ok(s, id, NULL);
	if (ev)
		send_to_room(s->app, &info, ev);
}
