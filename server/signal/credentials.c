/* The one door every password check goes through, whether it comes from a staff `hello` on
 * /ws or from POST /api/login (PROTOCOL.md, "Limits every server enforces"):
 *
 * - Two limiters count failures, one per username and one per client address. A key past
 *   its limit is refused at once with too_many, before any password hash is queued, for the
 *   lockout period, even when the password would have been right.
 * - Checks that pass are run at most CRED_RUNNING at a time (a PBKDF2 hash takes a thread of
 *   libuv's pool, which the record spool's fsync shares), the rest wait in a short queue
 *   served one address at a time: one machine sending many logins waits behind itself, not
 *   in front of a clerk at another desk. An address may have CRED_PER_ADDR checks queued or
 *   running; further ones are refused.
 * - Every failure is logged once, with user and address; refusals are summed into one line
 *   a minute so that a flood cannot flood the log too. */
#include "base/clock.h"
#include "base/log.h"
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRED_WINDOW_US    (15 * 60 * INT64_C(1000000))
#define CRED_MAX_PER_USER 10
#define CRED_MAX_PER_ADDR 30
#define CRED_CAPACITY     16384 /* keys each limiter remembers */
#define CRED_RUNNING      2     /* hashes at once; libuv's pool has 4 threads */
#define CRED_PER_ADDR     4     /* checks queued or running for one address */
#define CRED_QUEUE_MAX    256   /* checks waiting in all */
#define CRED_LOG_EVERY_US (60 * INT64_C(1000000))

typedef struct cred_check {
	struct cred_check *next;
	char user[LIMITER_KEY_MAX];
	char ip[64];
	cred_go_fn go;
	void *ctx;
} cred_check;

struct cred_front {
	limiter *by_user, *by_addr;
	cred_check *waiting; /* FIFO */
	int n_waiting;
	cred_check *running; /* the checks whose hash is under way (for the per-address count) */
	int n_running;
	/* Refusals since the last summary line. */
	uint64_t refused_since_log;
	int64_t last_refusal_log_us;
	char last_refused_user[LIMITER_KEY_MAX];
	char last_refused_ip[64];
	uint64_t failures_total, refused_total;
};

/* A username typed by anyone goes into log lines: anything but plain printable ASCII
 * without spaces or quotes becomes '?', so one line stays one record. */
const char *cred_log_safe(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (; in[n] && n + 1 < cap; n++) {
		unsigned char c = (unsigned char)in[n];
		out[n] = c > 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	out[n] = '\0';
	return out;
}

static cred_front *front(sig_app *app)
{
	if (app->cred)
		return app->cred;
	cred_front *f = calloc(1, sizeof *f);
	limiter_config user = {.max_failures = CRED_MAX_PER_USER,
	                       .window_us = CRED_WINDOW_US,
	                       .lockout_us = CRED_WINDOW_US,
	                       .capacity = CRED_CAPACITY};
	limiter_config addr = user;
	addr.max_failures = CRED_MAX_PER_ADDR;
	if (f) {
		f->by_user = limiter_new(&user);
		f->by_addr = limiter_new(&addr);
	}
	if (!f || !f->by_user || !f->by_addr) {
		if (f) {
			limiter_free(f->by_user);
			limiter_free(f->by_addr);
		}
		free(f);
		return NULL;
	}
	app->cred = f;
	return f;
}

static int checks_of(const cred_check *list, const char *ip)
{
	int n = 0;
	for (; list; list = list->next)
		n += strcmp(list->ip, ip) == 0;
	return n;
}

/* Writes the summary of refusals when a minute has passed since the last line. */
void cred_flush_log(sig_app *app, int64_t now_us)
{
	cred_front *f = app->cred;
	if (!f || !f->refused_since_log || now_us - f->last_refusal_log_us < CRED_LOG_EVERY_US)
		return;
	LOG_WARN("auth", "credential checks refused count=%llu last_user=%s last_ip=%s",
	         (unsigned long long)f->refused_since_log, f->last_refused_user,
	         f->last_refused_ip);
	f->refused_since_log = 0;
	f->last_refusal_log_us = now_us;
}

static void note_refusal(sig_app *app, cred_front *f, const char *user, const char *ip,
                         const char *why, int64_t now)
{
	f->refused_total++;
	cred_log_safe(user, f->last_refused_user, sizeof f->last_refused_user);
	snprintf(f->last_refused_ip, sizeof f->last_refused_ip, "%s", ip);
	if (now - f->last_refusal_log_us >= CRED_LOG_EVERY_US && !f->refused_since_log) {
		/* The first refusal after a quiet minute is worth a line of its own. */
		LOG_WARN("auth", "credential check refused user=%s ip=%s by=%s",
		         f->last_refused_user, ip, why);
		f->last_refusal_log_us = now;
		return;
	}
	f->refused_since_log++;
	cred_flush_log(app, now);
}

/* Starts waiting checks while there is room: the first one whose address has none running,
 * else the oldest. */
static void pump(sig_app *app, cred_front *f)
{
	while (f->n_running < CRED_RUNNING && f->waiting) {
		cred_check **pick = &f->waiting;
		for (cred_check **pp = &f->waiting; *pp; pp = &(*pp)->next) {
			if (!checks_of(f->running, (*pp)->ip)) {
				pick = pp;
				break;
			}
		}
		cred_check *c = *pick;
		*pick = c->next;
		f->n_waiting--;
		c->next = f->running;
		f->running = c;
		f->n_running++;
		c->go(c->ctx, 1);
	}
}

int cred_begin(sig_app *app, const char *user, const char *ip, cred_go_fn go, void *ctx,
               int *retry_after_s)
{
	*retry_after_s = 0;
	cred_front *f = front(app);
	if (!f)
		return CRED_BUSY;
	int64_t now = clock_mono_us();
	int64_t wait_user = limiter_blocked(f->by_user, user, now);
	int64_t wait_addr = limiter_blocked(f->by_addr, ip, now);
	int64_t wait = wait_user > wait_addr ? wait_user : wait_addr;
	if (wait > 0) {
		*retry_after_s = (int)((wait + 999999) / 1000000);
		note_refusal(app, f, user, ip, wait_user >= wait_addr ? "user" : "address", now);
		return CRED_LIMITED;
	}
	if (checks_of(f->running, ip) + checks_of(f->waiting, ip) >= CRED_PER_ADDR ||
	    f->n_waiting >= CRED_QUEUE_MAX) {
		*retry_after_s = 1;
		note_refusal(app, f, user, ip, "queue", now);
		return CRED_BUSY;
	}
	cred_check *c = calloc(1, sizeof *c);
	if (!c || limiter_begin(f->by_user, user, now) != 0) {
		free(c);
		*retry_after_s = 60;
		note_refusal(app, f, user, ip, "table", now);
		return CRED_BUSY;
	}
	if (limiter_begin(f->by_addr, ip, now) != 0) {
		limiter_end(f->by_user, user, 0, 0, now);
		free(c);
		*retry_after_s = 60;
		note_refusal(app, f, user, ip, "table", now);
		return CRED_BUSY;
	}
	snprintf(c->user, sizeof c->user, "%s", user);
	snprintf(c->ip, sizeof c->ip, "%s", ip);
	c->go = go;
	c->ctx = ctx;
	cred_check **tail = &f->waiting;
	while (*tail)
		tail = &(*tail)->next;
	*tail = c;
	f->n_waiting++;
	pump(app, f);
	return 0;
}

void cred_end(sig_app *app, const char *user, const char *ip, int result, const char *via)
{
	cred_front *f = app->cred;
	if (!f)
		return;
	int64_t now = clock_mono_us();
	for (cred_check **pp = &f->running; *pp; pp = &(*pp)->next) {
		cred_check *c = *pp;
		if (strcmp(c->ip, ip) == 0 && strncmp(c->user, user, sizeof c->user - 1) == 0) {
			*pp = c->next;
			free(c);
			f->n_running--;
			break;
		}
	}
	limiter_end(f->by_user, user, result > 0, 1, now);
	limiter_end(f->by_addr, ip, result > 0, 0, now);
	if (result > 0) {
		char shown[LIMITER_KEY_MAX];
		f->failures_total++;
		LOG_WARN("auth", "credential check failed user=%s ip=%s via=%s",
		         cred_log_safe(user, shown, sizeof shown), ip, via);
	}
	if (!app->stopping)
		pump(app, f);
}

void cred_free(sig_app *app)
{
	cred_front *f = app->cred;
	if (!f)
		return;
	/* Checks still waiting learn that they will not run. */
	while (f->waiting) {
		cred_check *c = f->waiting;
		f->waiting = c->next;
		c->go(c->ctx, 0);
		free(c);
	}
	while (f->running) {
		cred_check *c = f->running;
		f->running = c->next;
		free(c);
	}
	limiter_free(f->by_user);
	limiter_free(f->by_addr);
	free(f);
	app->cred = NULL;
}

void cred_counters(sig_app *app, cred_stats *out)
{
	memset(out, 0, sizeof *out);
	cred_front *f = app->cred;
	if (!f)
		return;
	int64_t now = clock_mono_us();
	out->failures = f->failures_total;
	out->refused = f->refused_total;
	out->locked_users = limiter_locked_count(f->by_user, now);
	out->locked_addresses = limiter_locked_count(f->by_addr, now);
	out->waiting = f->n_waiting;
}

int cred_in_progress(const sig_app *app)
{
	const cred_front *f = app->cred;
	return f ? f->n_waiting + f->n_running : 0;
}
