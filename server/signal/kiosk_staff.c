/* The PIN that opens a kiosk page's staff mode (devices, volume, test sound, self-test), so
 * that branch staff can adjust a kiosk and residents cannot. The page asks; the server
 * compares with the hash `madoguchi admin kiosk pin` stored (store/kiosk_pin.c) and answers
 * {} or forbidden. Nothing on the server changes with the answer: staff mode lives in the
 * page, and everything it does a kiosk may do anyway; the PIN only keeps residents out of it.
 *
 * Guessing is limited per kiosk: KIOSK_PIN_MAX_FAILURES failures within the window lock that
 * kiosk's PIN check for KIOSK_PIN_LOCKOUT_US (too_many, even with the right PIN). Attempts
 * in flight count, so parallel guesses cannot slip past the limit while the lookup runs.
 * Every failure is logged like a failed login (kiosk and address, never the PIN); refusals
 * while locked are logged at most once a minute. */
#include "signal/kiosk_staff.h"

#include "base/log.h"
#include "signal/app_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define KIOSK_PIN_MAX_FAILURES 5
#define KIOSK_PIN_WINDOW_US    (5 * 60 * INT64_C(1000000))
#define KIOSK_PIN_LOCKOUT_US   (5 * 60 * INT64_C(1000000))
#define KIOSK_PIN_CAPACITY     4096
#define KIOSK_PIN_LOG_EVERY_US (60 * INT64_C(1000000))

struct kiosk_staff {
	limiter *attempts; /* keyed by kiosk id */
	int64_t last_refusal_log_us;
	unsigned long refused_since_log;
};

struct pin_check {
	sig_app *app;
	uint32_t sid;
	json_t *id;
	char kiosk[STORE_ID_MAX];
	char ip[64];
	char pin[STORE_KIOSK_PIN_MAX + 1];
};

static struct kiosk_staff *kiosk_staff_get(sig_app *app)
{
	if (app->kiosk_staff)
		return app->kiosk_staff;
	struct kiosk_staff *k = calloc(1, sizeof *k);
	limiter_config cfg = {.max_failures = KIOSK_PIN_MAX_FAILURES,
	                      .window_us = KIOSK_PIN_WINDOW_US,
	                      .lockout_us = KIOSK_PIN_LOCKOUT_US,
	                      .capacity = KIOSK_PIN_CAPACITY};
	if (k && !(k->attempts = limiter_new(&cfg))) {
		free(k);
		k = NULL;
	}
	app->kiosk_staff = k;
	return k;
}

void kiosk_staff_free(sig_app *app)
{
	struct kiosk_staff *k = app ? app->kiosk_staff : NULL;
	if (!k)
		return;
	limiter_free(k->attempts);
	free(k);
	app->kiosk_staff = NULL;
}

static void check_free(struct pin_check *c)
{
	OPENSSL_cleanse(c->pin, sizeof c->pin);
	json_decref(c->id);
	free(c);
}

/* The store's answer: compare, count, reply (if the kiosk is still connected). */
static void on_pin_hash(void *user, int err, const char *hash)
{
	struct pin_check *c = user;
	sig_app *app = c->app;
	int result = err; /* 0 right PIN, 1 wrong or none set, -1 could not check */
	if (err == 0) {
		result = store_kiosk_pin_verify(c->pin, hash);
		if (result < 0)
			LOG_WARN("auth", "malformed kiosk PIN hash kiosk=%s", c->kiosk);
	}
	struct kiosk_staff *k = app->kiosk_staff;
	if (k)
		limiter_end(k->attempts, c->kiosk, result != 0 && err >= 0, 1, app_now());
	if (result != 0 && err >= 0)
		LOG_WARN("auth", "kiosk PIN check failed kiosk=%s ip=%s reason=%s", c->kiosk, c->ip,
		         !c->pin[0] ? "not_a_pin"
		         : err == 1 ? "no_pin_set"
		                    : "wrong_pin");
	else if (result == 0)
		LOG_INFO("auth", "kiosk staff mode opened kiosk=%s ip=%s", c->kiosk, c->ip);
	sig_session *s = session_by_sid(app, c->sid);
	if (s && s->conn) {
		if (err < 0)
			session_reply_error(s, c->id, "internal", "the database is unavailable");
		else if (result != 0)
			session_reply_error(s, c->id, "forbidden", "wrong PIN");
		else
			session_reply_ok(s, c->id, NULL);
	}
	check_free(c);
}

static void log_refusal(struct kiosk_staff *k, const sig_session *s, int64_t now)
{
	k->refused_since_log++;
	if (now - k->last_refusal_log_us < KIOSK_PIN_LOG_EVERY_US)
		return;
	LOG_WARN("auth", "kiosk PIN checks refused count=%lu last_kiosk=%s last_ip=%s",
	         k->refused_since_log, s->ident, s->ip);
	k->last_refusal_log_us = now;
	k->refused_since_log = 0;
}

void h_kiosk_pin(sig_session *s, json_t *msg, json_t *id)
{
	const char *pin = req_str(s, msg, id, "pin", STORE_KIOSK_PIN_MAX + 8);
	if (!pin)
		return;
	struct kiosk_staff *k = kiosk_staff_get(s->app);
	if (!k) {
		session_reply_error(s, id, "internal", "out of memory");
		return;
	}
	int64_t now = app_now();
	int64_t wait_us = limiter_blocked(k->attempts, s->ident, now);
	if (wait_us > 0) {
		log_refusal(k, s, now);
		session_reply_error(s, id, "too_many", "too many wrong PINs: try again in %lld s",
		                    (long long)((wait_us + 999999) / 1000000));
		req_count_bad(s);
		return;
	}
	struct pin_check *c = calloc(1, sizeof *c);
	if (!c || limiter_begin(k->attempts, s->ident, now) != 0) {
		free(c);
		session_reply_error(s, id, "too_many", "too many PIN checks at once");
		return;
	}
	c->app = s->app;
	c->sid = s->sid;
	c->id = json_incref(id);
	snprintf(c->kiosk, sizeof c->kiosk, "%s", s->ident);
	snprintf(c->ip, sizeof c->ip, "%s", s->ip);
	/* Not a PIN at all: judged like a wrong one, without asking the database. */
	if (!store_kiosk_pin_valid(pin)) {
		on_pin_hash(c, 1, NULL);
		return;
	}
	snprintf(c->pin, sizeof c->pin, "%s", pin);
	if (store_kiosk_pin_hash(s->app->store, c->kiosk, on_pin_hash, c) != 0)
		on_pin_hash(c, -1, NULL);
}
