/* Guest interpreters (PROTOCOL.md "Guests (interpreters)"): `guest_invite` gives the clerk
 * of an answered leg a one-time code for one visit; `hello` with role guest spends it and
 * puts the new session into the visit's room (routing/route_guest.c); a guest may send
 * only text, hangup, offer and candidate.
 *
 * Codes live only in memory, as SHA-256 digests compared in constant time; 16 random bytes
 * each (128 bits). A code is good for one hello within MDG_GUEST_CODE_TTL_S seconds (the
 * environment; default 600, for tests). A server restart forgets every code. */
#include "base/log.h"
#include "base/rand.h"
#include "signal/app_internal.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GUEST_CODES 64

struct guest_code {
	const sig_app *app;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char visit[ROUTE_UUID_LEN];
	char name[64];
	int64_t expires_us;
};

static struct guest_code codes[GUEST_CODES];

static int64_t ttl_us(void)
{
	const char *e = getenv("MDG_GUEST_CODE_TTL_S");
	long v = e ? strtol(e, NULL, 10) : 0;
	return (v > 0 && v <= 600 ? v : 600) * 1000000LL;
}

static void digest_of(const char *code, unsigned char out[SHA256_DIGEST_LENGTH])
{
	SHA256((const unsigned char *)code, strlen(code), out);
}

void h_guest_invite(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", ROUTE_UUID_LEN - 1);
	if (!visit)
		return;
	json_t *jn = json_object_get(msg, "name");
	const char *name = json_is_string(jn) ? json_string_value(jn) : "通訳";
	if (strlen(name) >= sizeof codes[0].name) {
		req_bad(s, id, "bad_request", "field \"name\" is too long");
		return;
	}
	if (!tenant_check(s, id, tenant_visit_ok(s, visit), "visit"))
		return;
	int rc = route_guest_may_invite(s->app->route, s->sid, visit);
	if (rc != 0) {
		session_reply_error(s, id, route_strerror(rc), "not the clerk of an active leg of that visit");
		return;
	}
	int64_t now = app_now();
	struct guest_code *slot = NULL;
	for (int i = 0; i < GUEST_CODES; i++)
		if (!codes[i].app || codes[i].expires_us <= now) {
			slot = &codes[i];
			break;
		}
	if (!slot) {
		session_reply_error(s, id, "too_many", "too many open guest codes");
		return;
	}
	char code[33];
	if (rand_hex(code, 16) != 0) {
		session_reply_error(s, id, "internal", "no randomness");
		return;
	}
	memset(slot, 0, sizeof *slot);
	slot->app = s->app;
	digest_of(code, slot->digest);
	snprintf(slot->visit, sizeof slot->visit, "%s", visit);
	snprintf(slot->name, sizeof slot->name, "%s", name);
	slot->expires_us = now + ttl_us();
	const char *host = getenv("MDG_PUBLIC_HOST");
	char hn[256] = "localhost";
	if (!host || !*host) {
		if (gethostname(hn, sizeof hn - 1) != 0)
			snprintf(hn, sizeof hn, "localhost");
		host = hn;
	}
	char url[512];
	snprintf(url, sizeof url, "https://%s/guest/#code=%s", host, code);
	time_t exp = (time_t)((slot->expires_us + 999999) / 1000000);
	struct tm tm;
	gmtime_r(&exp, &tm);
	char iso[32];
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	LOG_INFO("guest", "invite sid=%u visit=%s", s->sid, visit);
	session_reply_ok(s, id, json_pack("{s:s, s:s, s:s}", "code", code, "url", url, "expires_at", iso));
	OPENSSL_cleanse(code, sizeof code);
}

void guest_hello(sig_session *s, json_t *msg, json_t *id)
{
	json_t *jc = json_object_get(msg, "code");
	const char *code = json_is_string(jc) ? json_string_value(jc) : "";
	unsigned char d[SHA256_DIGEST_LENGTH];
	digest_of(code, d);
	int64_t now = app_now();
	struct guest_code *hit = NULL;
	for (int i = 0; i < GUEST_CODES; i++) {
		struct guest_code *c = &codes[i];
		if (c->app == s->app && CRYPTO_memcmp(c->digest, d, sizeof d) == 0)
			hit = c;
	}
	if (!hit || hit->expires_us <= now) {
		if (hit)
			memset(hit, 0, sizeof *hit);
		LOG_INFO("guest", "hello refused ip=%s", s->ip);
		req_bad(s, id, "unauthorized", "unknown, used or expired guest code");
		return;
	}
	char visit[ROUTE_UUID_LEN];
	snprintf(visit, sizeof visit, "%s", hit->visit);
	snprintf(s->name, sizeof s->name, "%s", hit->name);
	{ /* The guest belongs to the visit's tenant (tenant.c). */
		route_visit_info vi;
		sig_session *k = route_visit_get(s->app->route, visit, &vi) == 0
		                     ? session_by_sid(s->app, vi.kiosk)
		                     : NULL;
		snprintf(s->tenant, sizeof s->tenant, "%s", k ? k->tenant : "");
	}
	memset(hit, 0, sizeof *hit); /* one hello only, whatever happens next */
	s->role = ROUTE_ROLE_GUEST;
	route_session_info info = {.role = ROUTE_ROLE_GUEST, .ident = ""};
	int rc = route_session_join(s->app->route, s->sid, &info, now);
	if (rc == 0) {
		rc = route_guest_enter(s->app->route, s->sid, visit, now);
		if (rc != 0)
			route_session_leave(s->app->route, s->sid, now);
	}
	if (rc != 0) {
		s->role = ROUTE_ROLE_NONE;
		session_reply_error(s, id, route_strerror(rc), "cannot join the visit: %s",
		                    route_strerror(rc));
		app_drain_actions(s->app);
		return;
	}
	s->joined = 1;
	s->state = SIG_READY;
	sig_conn_set_max_message(s->conn, SIG_MAX_MESSAGE);
	LOG_INFO("ws", "hello sid=%u role=guest visit=%s ip=%s", s->sid, visit, s->ip);
	json_t *reply = session_hello_reply(s);
	json_object_set_new(reply, "visit", json_string(visit));
	session_reply_ok(s, id, reply);
	app_drain_actions(s->app);
}

int guest_may_send(const char *type)
{
	return strcmp(type, "text") == 0 || strcmp(type, "hangup") == 0 ||
	       strcmp(type, "offer") == 0 || strcmp(type, "candidate") == 0;
}

void guest_hangup(sig_session *s, json_t *id)
{
	int rc = route_guest_leave(s->app->route, s->sid, app_now());
	if (rc != 0) {
		session_reply_error(s, id, route_strerror(rc), "not in a visit");
		return;
	}
	session_reply_ok(s, id, NULL);
	app_drain_actions(s->app);
}

/* `layout` (the clerk of an answered leg): {"visit","layout":"interpreter"|"equal"} → {};
 * the kiosk gets {"type":"layout","visit","layout"} and shows the interpreter larger (or
 * clerk and interpreter alike). */
void h_layout(sig_session *s, json_t *msg, json_t *id)
{
	const char *visit = req_str(s, msg, id, "visit", ROUTE_UUID_LEN - 1);
	const char *layout = visit ? req_str(s, msg, id, "layout", 16) : NULL;
	if (!layout)
		return;
	if (strcmp(layout, "interpreter") != 0 && strcmp(layout, "equal") != 0) {
		req_bad(s, id, "bad_request", "layout must be \"interpreter\" or \"equal\"");
		return;
	}
	int rc = route_guest_may_invite(s->app->route, s->sid, visit);
	route_visit_info vi;
	if (rc == 0 && route_visit_get(s->app->route, visit, &vi) != 0)
		rc = ROUTE_ERR_NOT_FOUND;
	if (rc != 0) {
		session_reply_error(s, id, route_strerror(rc), "not the clerk of an active leg of that visit");
		return;
	}
	sig_session *k = session_by_sid(s->app, vi.kiosk);
	if (k)
		session_send_json(k, json_pack("{s:s, s:s, s:s}", "type", "layout", "visit", visit,
		                               "layout", layout));
	session_reply_ok(s, id, NULL);
}
