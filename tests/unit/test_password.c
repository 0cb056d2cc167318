/* Password hashing and token digests: round trips, rejection of wrong passwords and of
 * malformed stored strings (which come from the database and must never crash a login). */
#include "check.h"
#include "store/password.h"

#include <stdio.h>
#include <string.h>

static void test_round_trip(void)
{
	char h[PASSWORD_HASH_MAX];
	CHECK_EQ_INT(password_hash("correct horse", h, sizeof h), 0);
	CHECK(strncmp(h, "pbkdf2-sha256$210000$", 21) == 0);
	CHECK_EQ_INT(password_verify("correct horse", h), 0);
	CHECK_EQ_INT(password_verify("correct horsE", h), 1);
	CHECK_EQ_INT(password_verify("", h), 1);
	CHECK_EQ_INT(password_verify("correct horse ", h), 1);
}

static void test_salted(void)
{
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
	CHECK_EQ_INT(password_hash_iter("same", 1000, a, sizeof a), 0);
	CHECK_EQ_INT(password_hash_iter("same", 1000, b, sizeof b), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_EQ_INT(password_verify("same", a), 0);
	CHECK_EQ_INT(password_verify("same", b), 0);
	/* Japanese passwords are bytes like any other. */
	CHECK_EQ_INT(password_hash_iter("窓口の合言葉", 1000, a, sizeof a), 0);
	CHECK_EQ_INT(password_verify("窓口の合言葉", a), 0);
	CHECK_EQ_INT(password_verify("窓口の合言", a), 1);
}

static void test_known_vector(void)
{
	/* PBKDF2-HMAC-SHA256("password", "saltsaltsaltsalt", 1000 iterations, 32 bytes), computed
	 * independently with Python's hashlib.pbkdf2_hmac: pins the format and the KDF. */
	const char *stored = "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$"
	                     "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA";
	CHECK_EQ_INT(password_verify("password", stored), 0);
	CHECK_EQ_INT(password_verify("Password", stored), 1);
}

static void test_small_buffer(void)
{
	char h[40];
	CHECK_EQ_INT(password_hash_iter("x", 1000, h, sizeof h), -1);
	CHECK_EQ_INT(password_hash_iter("x", 10, h, sizeof h), -1);
	CHECK_EQ_INT(password_hash_iter(NULL, 1000, h, sizeof h), -1);
}

static void test_malformed(void)
{
	char good[PASSWORD_HASH_MAX], bad[PASSWORD_HASH_MAX + 40];
	CHECK_EQ_INT(password_hash_iter("pw", 1000, good, sizeof good), 0);
	const char *cases[] = {
	    "",
	    "pbkdf2-sha256$",
	    "pbkdf2-sha256$1000",
	    "pbkdf2-sha256$1000$",
	    "pbkdf2-sha256$1000$$",
	    "pbkdf2-sha1$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$abc$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$10$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$99999999999$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$-1000$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$1000$AA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
	    "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$1000$AAAA*AAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAB$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "plaintext-password",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (password_verify("pw", cases[i]) != -1)
			fprintf(stderr, "accepted malformed case %zu: %s\n", i, cases[i]);
		CHECK_EQ_INT(password_verify("pw", cases[i]), -1);
	}
	CHECK_EQ_INT(password_verify("pw", NULL), -1);
	CHECK_EQ_INT(password_verify(NULL, good), -1);
	/* Damage a valid hash: truncation and a trailing extra character are both rejected. */
	snprintf(bad, sizeof bad, "%s", good);
	bad[strlen(bad) - 3] = '\0';
	CHECK_EQ_INT(password_verify("pw", bad), -1);
	snprintf(bad, sizeof bad, "%sA", good);
	CHECK_EQ_INT(password_verify("pw", bad), -1);
	/* The same structure with one key character changed is well-formed but wrong. */
	snprintf(bad, sizeof bad, "%s", good);
	size_t last = strlen(bad) - 2;
	bad[last] = bad[last] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(password_verify("pw", bad), 1);
}

static void test_token_digest(void)
{
	uint8_t d[PASSWORD_DIGEST_LEN];
	/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
	static const uint8_t abc[PASSWORD_DIGEST_LEN] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	CHECK_EQ_INT(password_token_digest("abc", d), 0);
	CHECK(memcmp(d, abc, sizeof d) == 0);
	CHECK_EQ_INT(password_token_digest(NULL, d), -1);
}

int main(void)
{
	test_round_trip();
	test_salted();
	test_known_vector();
	test_small_buffer();
	test_malformed();
	test_token_digest();
	return check_done("password");
}
