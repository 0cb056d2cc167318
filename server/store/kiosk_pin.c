/* Kiosk staff-mode PINs (migration 7): `madoguchi admin kiosk pin KIOSK_ID [PIN]` sets one,
 * and the running server reads the hash to check a PIN a kiosk page sends (kiosk_pin in
 * docs/protocol.md; the check itself and its rate limit are in signal/kiosk_staff.c).
 *
 * A PIN is short by nature, so its hash is no real defence against someone holding a dump of
 * the database; what protects it is the server's limit on attempts per kiosk. The hash uses
 * fewer PBKDF2 iterations than a password (KIOSK_PIN_ITERATIONS): the server checks it on its
 * loop, and a check must stay around a millisecond or two. */
#include "base/log.h"
#include "store/internal.h"
#include "store/password.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIOSK_PIN_ITERATIONS 2000

int store_kiosk_pin_valid(const char *pin)
{
	size_t n = pin ? strlen(pin) : 0;
	if (n < STORE_KIOSK_PIN_MIN || n > STORE_KIOSK_PIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (pin[i] < '0' || pin[i] > '9')
			return 0;
	return 1;
}

/* ---- the server's lookup ---- */

static const char sql_pin_hash[] =
    "SELECT p.pin_hash FROM kiosk_pins p JOIN kiosks k ON k.id = p.kiosk_id"
    " WHERE p.kiosk_id = $1::uuid AND k.revoked_at IS NULL";

struct pin_lookup {
	store_kiosk_pin_cb cb;
	void *user;
};

static void on_pin_hash(void *user, int err, const PGresult *res)
{
	struct pin_lookup *job = user;
	if (err != 0)
		job->cb(job->user, -1, NULL);
	else if (PQntuples(res) != 1)
		job->cb(job->user, 1, NULL);
	else
		job->cb(job->user, 0, PQgetvalue(res, 0, 0));
	free(job);
}

int store_kiosk_pin_hash(store *s, const char *kiosk_id, store_kiosk_pin_cb cb, void *user)
{
	if (!s || !kiosk_id || !cb || strlen(kiosk_id) != 36)
		return -1;
	struct pin_lookup *job = calloc(1, sizeof *job);
	if (!job)
		return -1;
	job->cb = cb;
	job->user = user;
	const char *values[] = {kiosk_id};
	if (store_query_params(s, "kiosk_pin", sql_pin_hash, 1, values, on_pin_hash, job) != 0) {
		free(job);
		return -1;
	}
	return 0;
}

int store_kiosk_pin_verify(const char *pin, const char *hash)
{
	if (!store_kiosk_pin_valid(pin) || !hash)
		return 1;
	return password_verify(pin, hash);
}

/* ---- madoguchi admin kiosk pin ---- */

/* The PIN from the first line of stdin, without echo (and with a prompt) on a terminal.
 * Returns a malloc'd string or NULL. */
static char *read_pin(void)
{
	char prompt[64];
	snprintf(prompt, sizeof prompt, "PIN (%d to %d digits): ", STORE_KIOSK_PIN_MIN,
	         STORE_KIOSK_PIN_MAX);
	return store_admin_read_secret(prompt);
}

static int set_pin(PGconn *conn, const char *kiosk_id, const char *pin)
{
	char hash[PASSWORD_HASH_MAX];
	if (password_hash_iter(pin, KIOSK_PIN_ITERATIONS, hash, sizeof hash) != 0) {
		fprintf(stderr, "error: could not hash the PIN\n");
		return 1;
	}
	const char *values[] = {kiosk_id, hash};
	PGresult *res = PQexecParams(
	    conn,
	    "INSERT INTO kiosk_pins (kiosk_id, pin_hash)"
	    " SELECT k.id, $2 FROM kiosks k WHERE k.id = $1::uuid AND k.revoked_at IS NULL"
	    " ON CONFLICT (kiosk_id) DO UPDATE SET pin_hash = EXCLUDED.pin_hash, set_at = now()",
	    2, NULL, values, NULL, NULL, 0);
	OPENSSL_cleanse(hash, sizeof hash);
	int rc;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = store_admin_report(res, "kiosk", kiosk_id, NULL, NULL);
	} else if (strcmp(PQcmdTuples(res), "1") != 0) {
		fprintf(stderr, "error: unknown or revoked kiosk '%s'\n", kiosk_id);
		rc = 1;
	} else {
		printf("PIN set for kiosk %s\n", kiosk_id);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int store_admin_kiosk_pin(PGconn *conn, const struct store_admin_args *a)
{
	if (a->n_pos < 1 || a->n_pos > 2) {
		fprintf(stderr, "error: kiosk pin needs KIOSK_ID [PIN] (run 'madoguchi admin' for "
		                "usage)\n");
		return 2;
	}
	const char *kiosk_id = a->pos[0];
	if (strlen(kiosk_id) != 36) {
		fprintf(stderr,
		        "error: '%s' is not a kiosk id (see 'madoguchi admin kiosk list')\n",
		        kiosk_id);
		return 2;
	}
	char *pin = a->n_pos == 2 ? strdup(a->pos[1]) : read_pin();
	if (!pin || !store_kiosk_pin_valid(pin)) {
		fprintf(stderr, "error: a PIN is %d to %d digits\n", STORE_KIOSK_PIN_MIN,
		        STORE_KIOSK_PIN_MAX);
		if (pin)
			OPENSSL_cleanse(pin, strlen(pin));
		free(pin);
		return 2;
	}
	int rc = set_pin(conn, kiosk_id, pin);
	OPENSSL_cleanse(pin, strlen(pin));
	free(pin);
	return rc;
}
