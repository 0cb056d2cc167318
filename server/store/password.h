/* Password and token hashing for the store. Passwords are kept as a salted slow hash
 * (PBKDF2-HMAC-SHA256) in a self-describing string, so the iteration count can be raised later
 * without invalidating old hashes. Kiosk tokens are random and long, so one SHA-256 is enough
 * for them: the point is only that a database dump does not reveal usable tokens. */
#ifndef MDG_STORE_PASSWORD_H
#define MDG_STORE_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define PASSWORD_ITERATIONS 210000
#define PASSWORD_SALT_LEN   16
#define PASSWORD_KEY_LEN    32
/* "pbkdf2-sha256$" + iterations + "$" + salt and key in base64: comfortably below this. */
#define PASSWORD_HASH_MAX   160
#define PASSWORD_DIGEST_LEN 32

/* Hashes password with a fresh random salt into out as
 * "pbkdf2-sha256$<iterations>$<salt base64>$<key base64>" (standard alphabet, no padding).
 * Returns 0, or -1 when cap is too small or the CSPRNG or KDF fails. */
int password_hash(const char *password, char *out, size_t cap);
/* The same with an explicit iteration count (tests use a small one to stay fast). */
int password_hash_iter(const char *password, int iterations, char *out, size_t cap);

/* Returns 0 when password matches stored, 1 when it does not, -1 when stored is malformed.
 * The comparison runs in constant time. */
int password_verify(const char *password, const char *stored);

/* Spends about as long as a password_verify against a default-strength hash and throws the
 * result away, so "no such user" takes as long as "wrong password". */
void password_burn(const char *password);

/* SHA-256 of a bearer token, the form in which kiosk tokens are stored. Returns 0 or -1. */
int password_token_digest(const char *token, uint8_t out[PASSWORD_DIGEST_LEN]);

#endif
