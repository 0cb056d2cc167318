#include "store/password.h"

#include "base/rand.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "pbkdf2-sha256$"
/* Stored strings come from the database, which an attacker might influence; the bounds keep a
 * forged entry from making one login burn minutes of CPU or overflow the buffers below. */
#define ITER_MIN 1000
#define ITER_MAX 10000000
#define SALT_MIN 8
#define SALT_MAX 64

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 without padding. Returns the length written (excluding the NUL) or -1. */
static int b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t need = (len * 8 + 5) / 6;
	if (need + 1 > cap)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64_alphabet[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64_alphabet[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return (int)o;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

/* Decodes exactly len characters of unpadded base64. Rejects foreign characters, impossible
 * lengths and non-zero trailing bits, so each byte string has exactly one accepted form.
 * Returns the number of bytes written or -1. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	if (len % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))
		return -1;
	return (int)o;
}

static int derive(const char *password, const uint8_t *salt, size_t salt_len, int iterations,
                  uint8_t key[PASSWORD_KEY_LEN])
{
	int ok = PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
	                           EVP_sha256(), PASSWORD_KEY_LEN, key);
	return ok == 1 ? 0 : -1;
}

int password_hash_iter(const char *password, int iterations, char *out, size_t cap)
{
	uint8_t salt[PASSWORD_SALT_LEN], key[PASSWORD_KEY_LEN];
	char salt_b64[64], key_b64[64];
	if (!password || !out || iterations < ITER_MIN || iterations > ITER_MAX)
		return -1;
	if (rand_fill(salt, sizeof salt) != 0 ||
	    derive(password, salt, sizeof salt, iterations, key))
		return -1;
	b64_encode(salt, sizeof salt, salt_b64, sizeof salt_b64);
	b64_encode(key, sizeof key, key_b64, sizeof key_b64);
	OPENSSL_cleanse(key, sizeof key);
	int n = snprintf(out, cap, PREFIX "%d$%s$%s", iterations, salt_b64, key_b64);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int password_hash(const char *password, char *out, size_t cap)
{
	return password_hash_iter(password, PASSWORD_ITERATIONS, out, cap);
}

/* Splits a stored string into its parts; every field is checked before any work is done. */
static int parse_stored(const char *stored, int *iterations, uint8_t *salt, int *salt_len,
                        uint8_t key[PASSWORD_KEY_LEN])
{
	if (!stored || strncmp(stored, PREFIX, strlen(PREFIX)) != 0)
		return -1;
	const char *p = stored + strlen(PREFIX);
	long iter = 0;
	int digits = 0;
	for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
		iter = iter * 10 + (*p - '0');
	if (digits == 0 || *p != '$' || iter < ITER_MIN || iter > ITER_MAX)
		return -1;
	const char *salt_b64 = p + 1;
	const char *dollar = strchr(salt_b64, '$');
	if (!dollar)
		return -1;
	const char *key_b64 = dollar + 1;
	int n = b64_decode(salt_b64, (size_t)(dollar - salt_b64), salt, SALT_MAX);
	if (n < SALT_MIN)
		return -1;
	*salt_len = n;
	uint8_t tmp[PASSWORD_KEY_LEN + 1];
	if (b64_decode(key_b64, strlen(key_b64), tmp, sizeof tmp) != PASSWORD_KEY_LEN)
		return -1;
	memcpy(key, tmp, PASSWORD_KEY_LEN);
	*iterations = (int)iter;
	return 0;
}

int password_verify(const char *password, const char *stored)
{
	int iterations = 0, salt_len = 0;
	uint8_t salt[SALT_MAX], want[PASSWORD_KEY_LEN], got[PASSWORD_KEY_LEN];
	if (!password || parse_stored(stored, &iterations, salt, &salt_len, want) != 0)
		return -1;
	if (derive(password, salt, (size_t)salt_len, iterations, got) != 0)
		return -1;
	int same = CRYPTO_memcmp(want, got, sizeof got) == 0;
	OPENSSL_cleanse(got, sizeof got);
	return same ? 0 : 1;
}

void password_burn(const char *password)
{
	static const uint8_t salt[PASSWORD_SALT_LEN] = {0};
	uint8_t key[PASSWORD_KEY_LEN];
	if (derive(password ? password : "", salt, sizeof salt, PASSWORD_ITERATIONS, key) == 0)
		OPENSSL_cleanse(key, sizeof key);
}

int password_token_digest(const char *token, uint8_t out[PASSWORD_DIGEST_LEN])
{
	unsigned int len = 0;
	if (!token)
		return -1;
	if (EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL) != 1 ||
	    len != PASSWORD_DIGEST_LEN)
		return -1;
	return 0;
}
