/* AES-GCM cipher types for libsrtp2 on OpenSSL EVP (srtp_gcm.h).
 *
 * libsrtp2 drives a cipher in this order for every packet: set_iv (with the direction), then
 * set_aad once or twice (SRTCP adds its index after the header), then either encrypt over the
 * payload and get_tag, or decrypt over payload and tag together. init runs once per session
 * key with the key followed by the salt (the salt is libsrtp2's, used for the IV). */
#include "sfu/srtp_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <srtp2/cipher.h>
#include <stdlib.h>

#define GCM_IV_LEN  12
#define GCM_TAG_MAX 16

typedef struct gcm_state {
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *evp;
	int key_size;
	int tag_len;
	int keyed;                     /* init has set a key */
	srtp_cipher_direction_t dir; /* what the last set_iv chose */
} gcm_state;

static const srtp_cipher_type_t gcm_128_type;
static const srtp_cipher_type_t gcm_256_type;

static srtp_err_status_t gcm_alloc(srtp_cipher_pointer_t *cp, int key_len, int tag_len)
{
	const srtp_cipher_type_t *type;
	const EVP_CIPHER *evp;
	int key_size, algorithm;
	if (key_len == SRTP_AES_GCM_128_KEY_LEN_WSALT) {
		type = &gcm_128_type;
		evp = EVP_aes_128_gcm();
		key_size = SRTP_AES_128_KEY_LEN;
		algorithm = SRTP_AES_GCM_128;
	} else if (key_len == SRTP_AES_GCM_256_KEY_LEN_WSALT) {
		type = &gcm_256_type;
		evp = EVP_aes_256_gcm();
		key_size = SRTP_AES_256_KEY_LEN;
		algorithm = SRTP_AES_GCM_256;
	} else {
		return srtp_err_status_bad_param;
	}
	if (tag_len != GCM_TAG_MAX && tag_len != 8)
		return srtp_err_status_bad_param;
	srtp_cipher_t *c = calloc(1, sizeof *c);
	gcm_state *st = calloc(1, sizeof *st);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!c || !st || !ctx) {
		EVP_CIPHER_CTX_free(ctx);
		free(st);
		free(c);
		return srtp_err_status_alloc_fail;
	}
	*st = (gcm_state){.ctx = ctx, .evp = evp, .key_size = key_size, .tag_len = tag_len,
	                  .dir = srtp_direction_any};
	*c = (srtp_cipher_t){.type = type, .state = st, .key_len = key_len, .algorithm = algorithm};
	*cp = c;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_dealloc(srtp_cipher_pointer_t c)
{
	if (!c)
		return srtp_err_status_ok;
	gcm_state *st = c->state;
	if (st) {
		EVP_CIPHER_CTX_free(st->ctx); /* clears the key schedule */
		OPENSSL_cleanse(st, sizeof *st);
		free(st);
	}
	free(c);
	return srtp_err_status_ok;
}

/* The key schedule is set once here; set_iv then only changes IV and direction. */
static srtp_err_status_t gcm_init(void *state, const uint8_t *key)
{
	gcm_state *st = state;
	st->keyed = 0;
	st->dir = srtp_direction_any;
	if (!EVP_CipherInit_ex(st->ctx, st->evp, NULL, key, NULL, 1))
		return srtp_err_status_init_fail;
	st->keyed = 1;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t direction)
{
	gcm_state *st = state;
	if (!st->keyed ||
	    (direction != srtp_direction_encrypt && direction != srtp_direction_decrypt))
		return srtp_err_status_bad_param;
	/* A GCM context's IV is 12 octets unless told otherwise, as RFC 7714 wants. */
	if (!EVP_CipherInit_ex(st->ctx, NULL, NULL, NULL, iv,
	                       direction == srtp_direction_encrypt ? 1 : 0))
		return srtp_err_status_init_fail;
	st->dir = direction;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_set_aad(void *state, const uint8_t *aad, uint32_t aad_len)
{
	gcm_state *st = state;
	int out = 0;
	if (st->dir == srtp_direction_any)
		return srtp_err_status_bad_param;
	if (aad_len == 0)
		return srtp_err_status_ok;
	if (aad_len > INT32_MAX || !EVP_CipherUpdate(st->ctx, NULL, &out, aad, (int)aad_len))
		return srtp_err_status_algo_fail;
	return srtp_err_status_ok;
}

/* In place over n octets; n == 0 (SRTCP sent unencrypted) does nothing. */
static srtp_err_status_t gcm_update(gcm_state *st, uint8_t *buf, unsigned int n)
{
	int out = 0;
	if (n == 0)
		return srtp_err_status_ok;
	if (!buf || n > INT32_MAX || !EVP_CipherUpdate(st->ctx, buf, &out, buf, (int)n) ||
	    out != (int)n)
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
	gcm_state *st = state;
	if (st->dir != srtp_direction_encrypt)
		return srtp_err_status_bad_param;
	return gcm_update(st, buf, *len);
}

static srtp_err_status_t gcm_get_tag(void *state, uint8_t *tag, uint32_t *len)
{
	gcm_state *st = state;
	uint8_t none[GCM_TAG_MAX];
	int out = 0;
	if (st->dir != srtp_direction_encrypt)
		return srtp_err_status_bad_param;
	if (!EVP_CipherFinal_ex(st->ctx, none, &out) ||
	    !EVP_CIPHER_CTX_ctrl(st->ctx, EVP_CTRL_AEAD_GET_TAG, st->tag_len, tag))
		return srtp_err_status_algo_fail;
	*len = (uint32_t)st->tag_len;
	return srtp_err_status_ok;
}

/* buf holds the ciphertext and then the tag; on success *len loses the tag. */
static srtp_err_status_t gcm_decrypt(void *state, uint8_t *buf, unsigned int *len)
{
	gcm_state *st = state;
	uint8_t none[GCM_TAG_MAX];
	int out = 0;
	if (st->dir != srtp_direction_decrypt)
		return srtp_err_status_bad_param;
	if (*len < (unsigned int)st->tag_len)
		return srtp_err_status_auth_fail;
	unsigned int n = *len - (unsigned int)st->tag_len;
	srtp_err_status_t rc = gcm_update(st, buf, n);
	if (rc != srtp_err_status_ok)
		return rc;
	if (!EVP_CIPHER_CTX_ctrl(st->ctx, EVP_CTRL_AEAD_SET_TAG, st->tag_len, buf + n) ||
	    EVP_CipherFinal_ex(st->ctx, none, &out) <= 0)
		return srtp_err_status_auth_fail;
	*len = n;
	return srtp_err_status_ok;
}

/* Known answers: test cases 4 (AES-128) and 16 (AES-256) of McGrew and Viega's "The
 * Galois/Counter Mode of Operation", 60 octets of plaintext with 20 of AAD. libsrtp2 passes
 * the key with a salt after it; the salt octets are unused here. */
static const uint8_t kat_key_128[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {
	0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30,
	0x83, 0x08, /* salt: */ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t kat_key_256[SRTP_AES_GCM_256_KEY_LEN_WSALT] = {
	0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30,
	0x83, 0x08, 0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94,
	0x67, 0x30, 0x83, 0x08, /* salt: */ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static uint8_t kat_iv[GCM_IV_LEN] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                     0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
static const uint8_t kat_plain[60] = {
	0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26,
	0x9a, 0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31,
	0x8a, 0x72, 0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49,
	0xa6, 0xb5, 0x25, 0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
static const uint8_t kat_aad[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
                                    0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
static const uint8_t kat_cipher_128[60 + GCM_TAG_MAX] = {
	0x42, 0x83, 0x1e, 0xc2, 0x21, 0x77, 0x74, 0x24, 0x4b, 0x72, 0x21, 0xb7, 0x84, 0xd0, 0xd4,
	0x9c, 0xe3, 0xaa, 0x21, 0x2f, 0x2c, 0x02, 0xa4, 0xe0, 0x35, 0xc1, 0x7e, 0x23, 0x29, 0xac,
	0xa1, 0x2e, 0x21, 0xd5, 0x14, 0xb2, 0x54, 0x66, 0x93, 0x1c, 0x7d, 0x8f, 0x6a, 0x5a, 0xac,
	0x84, 0xaa, 0x05, 0x1b, 0xa3, 0x0b, 0x39, 0x6a, 0x0a, 0xac, 0x97, 0x3d, 0x58, 0xe0, 0x91,
	/* tag: */ 0x5b, 0xc9, 0x4f, 0xbc, 0x32, 0x21, 0xa5, 0xdb, 0x94, 0xfa, 0xe9, 0x5a, 0xe7,
	0x12, 0x1a, 0x47};
static const uint8_t kat_cipher_256[60 + GCM_TAG_MAX] = {
	0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07, 0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42,
	0x7d, 0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9, 0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55,
	0xd1, 0xaa, 0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d, 0xa7, 0xb0, 0x8b, 0x10, 0x56,
	0x82, 0x88, 0x38, 0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a, 0xbc, 0xc9, 0xf6, 0x62,
	/* tag: */ 0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68, 0xcd, 0xdf, 0x88, 0x53, 0xbb,
	0x2d, 0x55, 0x1b};

/* The two key sizes differ only in their key, expected output and libsrtp2 id. */
#define GCM_KAT(key_octets, expected)                                                              \
	{                                                                                   \
		.key_length_octets = sizeof(key_octets), .key = (key_octets), .idx = kat_iv,              \
		.plaintext_length_octets = sizeof kat_plain, .plaintext = kat_plain,         \
		.ciphertext_length_octets = sizeof(expected), .ciphertext = (expected),      \
		.aad_length_octets = sizeof kat_aad, .aad = kat_aad,                         \
		.tag_length_octets = GCM_TAG_MAX,                                            \
	}
static const srtp_cipher_test_case_t kat_128 = GCM_KAT(kat_key_128, kat_cipher_128);
static const srtp_cipher_test_case_t kat_256 = GCM_KAT(kat_key_256, kat_cipher_256);

#define GCM_TYPE(desc, kat, type_id)                                                        \
	{                                                                                   \
		.alloc = gcm_alloc, .dealloc = gcm_dealloc, .init = gcm_init,                \
		.set_aad = gcm_set_aad, .encrypt = gcm_encrypt, .decrypt = gcm_decrypt,      \
		.set_iv = gcm_set_iv, .get_tag = gcm_get_tag, .description = (desc),         \
		.test_data = (kat), .id = (type_id),                                         \
	}
static const srtp_cipher_type_t gcm_128_type =
    GCM_TYPE("AES-128 GCM (madoguchi, OpenSSL EVP)", &kat_128, SRTP_AES_GCM_128);
static const srtp_cipher_type_t gcm_256_type =
    GCM_TYPE("AES-256 GCM (madoguchi, OpenSSL EVP)", &kat_256, SRTP_AES_GCM_256);

int srtp_gcm_install(void)
{
	if (srtp_replace_cipher_type(&gcm_128_type, SRTP_AES_GCM_128) != srtp_err_status_ok)
		return -1;
	if (srtp_replace_cipher_type(&gcm_256_type, SRTP_AES_GCM_256) != srtp_err_status_ok)
		return -1;
	return 0;
}
