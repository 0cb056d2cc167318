/* DTLS-SRTP (RFC 5764) over OpenSSL 3.0 without sockets.
 *
 * Received datagrams are written into a memory BIO, one at a time, and the SSL object consumes
 * each completely before the next arrives, so the read side never sees two datagrams glued
 * together. The write side cannot be a memory BIO: OpenSSL writes one record per BIO_write and
 * expects each to leave as its own datagram, while a memory BIO would concatenate a whole
 * flight. A tiny custom BIO therefore hands every write straight to the owner's send
 * callback. OpenSSL 3.0 has no BIO_s_dgram_pair, which would otherwise do this for us. */
#include "sfu/dtls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A path MTU every network we serve carries; DTLS flights are fragmented to fit. */
#define DTLS_MTU 1200
/* First retransmission after this long instead of OpenSSL's 1 s: ICE has already proved the
 * path, so a lost flight is far more likely than a slow one. Doubles up to the cap. */
#define DTLS_INITIAL_TIMEOUT_US 100000u
#define DTLS_MAX_TIMEOUT_US     3000000u

#define DTLS_DEFAULT_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
#define DTLS_CIPHERS                                                                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"

struct dtls_ctx {
	SSL_CTX *ssl_ctx;
	EVP_PKEY *key;
	X509 *cert;
	/* The datagram BIO's method table lives here rather than in a static so that the
	 * module keeps no global state; every dtls made from this context shares it. */
	BIO_METHOD *bio_method;
	char fingerprint[32 * 3];
};

enum dtls_state {
	DTLS_STATE_HANDSHAKE,
	DTLS_STATE_CONNECTED,
	DTLS_STATE_FAILED, /* terminal: fingerprint mismatch, fatal alert or timeout */
	DTLS_STATE_CLOSED, /* terminal: close_notify sent or received */
};

struct dtls {
	SSL *ssl;
	BIO *rbio; /* owned by ssl */
	dtls_send_fn send;
	void *user;
	int is_server;
	enum dtls_state state;
	int fingerprint_mismatch; /* set by the verify callback */
	uint8_t expected_fp[32];
	dtls_srtp_keys keys;
	char error[160];
};

/* ---- the datagram BIO ---------------------------------------------------------------- */

static int dgram_write(BIO *bio, const char *data, int len)
{
	dtls *d = BIO_get_data(bio);

	BIO_clear_retry_flags(bio);
	if (!d || len < 0)
		return -1;
	d->send(d->user, (const uint8_t *)data, (size_t)len);
	return len;
}

static long dgram_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	(void)bio;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return DTLS_MTU;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		/* The MTU we report is already the DTLS payload budget. */
		return 0;
	case BIO_CTRL_WPENDING:
	case BIO_CTRL_PENDING:
		return 0;
	case BIO_CTRL_DGRAM_SET_CONNECTED:
	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
		/* The owner knows the peer address and runs the timer; nothing to record. */
		return 1;
	case BIO_CTRL_DGRAM_MTU_EXCEEDED:
		return 0;
	default:
		return 0;
	}
}

/* ---- certificate and context --------------------------------------------------------- */

static X509 *make_certificate(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	BIGNUM *serial = BN_new();
	int ok = cert && serial;

	ok = ok && X509_set_version(cert, 2);
	/* A random serial keeps browsers from treating two server runs as one certificate. */
	ok = ok && BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
	ok = ok && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != NULL;
	/* Start a day early so that peers with a slow clock still accept it. */
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -24L * 3600) != NULL;
	ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600) != NULL;
	if (ok) {
		X509_NAME *name = X509_get_subject_name(cert);
		ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		                                (const unsigned char *)"madoguchi", -1, -1, 0);
		ok = ok && X509_set_issuer_name(cert, name);
	}
	ok = ok && X509_set_pubkey(cert, key);
	ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
	BN_free(serial);
	if (!ok) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int make_fingerprint(X509 *cert, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hex[] = "0123456789ABCDEF";

	if (!X509_digest(cert, EVP_sha256(), md, &n) || n != 32 || size < n * 3)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		out[i * 3] = hex[md[i] >> 4];
		out[i * 3 + 1] = hex[md[i] & 15];
		out[i * 3 + 2] = i + 1 < n ? ':' : '\0';
	}
	return 0;
}

static int verify_peer(int preverify_ok, X509_STORE_CTX *store);

dtls_ctx *dtls_ctx_new(void)
{
	dtls_ctx *ctx = calloc(1, sizeof(*ctx));
	SSL_CTX *sc;

	if (!ctx)
		return NULL;
	ctx->key = EVP_EC_gen("P-256");
	ctx->cert = ctx->key ? make_certificate(ctx->key) : NULL;
	ctx->ssl_ctx = sc = SSL_CTX_new(DTLS_method());
	ctx->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mdg-dgram");
	if (!ctx->cert || !sc || !ctx->bio_method)
		goto fail;
	if (!BIO_meth_set_write(ctx->bio_method, dgram_write) ||
	    !BIO_meth_set_ctrl(ctx->bio_method, dgram_ctrl))
		goto fail;
	if (make_fingerprint(ctx->cert, ctx->fingerprint, sizeof(ctx->fingerprint)) < 0)
		goto fail;

	/* DTLS 1.2 only: RFC 5764 key export is specified for it, and every browser speaks it. */
	if (!SSL_CTX_set_min_proto_version(sc, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(sc, DTLS1_2_VERSION))
		goto fail;
	if (!SSL_CTX_use_certificate(sc, ctx->cert) || !SSL_CTX_use_PrivateKey(sc, ctx->key) ||
	    !SSL_CTX_check_private_key(sc))
		goto fail;
	if (!SSL_CTX_set_cipher_list(sc, DTLS_CIPHERS) ||
	    !SSL_CTX_set1_groups_list(sc, "X25519:P-256"))
		goto fail;
	/* Returns 0 on success, unlike almost everything else in OpenSSL. */
	if (SSL_CTX_set_tlsext_use_srtp(sc, DTLS_DEFAULT_PROFILES) != 0)
		goto fail;
	/* Every association is fresh (new ICE, new fingerprints), so resumption buys nothing and
	 * would complicate peer verification. We pick the MTU, not the kernel. */
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(sc, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	/* Both sides must present a certificate: its hash is what the SDP vouches for. */
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_peer);
	return ctx;
fail:
	dtls_ctx_free(ctx);
	return NULL;
}

void dtls_ctx_free(dtls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	X509_free(ctx->cert);
	EVP_PKEY_free(ctx->key);
	BIO_meth_free(ctx->bio_method);
	free(ctx);
}

const char *dtls_ctx_fingerprint(const dtls_ctx *ctx)
{
	return ctx ? ctx->fingerprint : NULL;
}

int dtls_ctx_set_profiles(dtls_ctx *ctx, const char *profiles)
{
	if (!ctx || !profiles)
		return -1;
	return SSL_CTX_set_tlsext_use_srtp(ctx->ssl_ctx, profiles) == 0 ? 0 : -1;
}

/* ---- one association ----------------------------------------------------------------- */

static int fingerprint_matches(const dtls *d, X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!cert || !X509_digest(cert, EVP_sha256(), md, &n) || n != 32)
		return 0;
	return CRYPTO_memcmp(md, d->expected_fp, 32) == 0;
}

/* Peers use self-signed certificates, so chain validation means nothing: the only trust is
 * the SHA-256 the signalling channel gave us. Rejecting a mismatch here, not only after the
 * handshake, makes OpenSSL send a bad_certificate alert so the peer learns why. */
static int verify_peer(int preverify_ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;

	(void)preverify_ok;
	if (!d)
		return 0;
	if (X509_STORE_CTX_get_error_depth(store) != 0)
		return 1;
	if (!fingerprint_matches(d, X509_STORE_CTX_get_current_cert(store))) {
		d->fingerprint_mismatch = 1;
		return 0;
	}
	return 1;
}

static unsigned int retransmit_timer(SSL *ssl, unsigned int timer_us)
{
	(void)ssl;
	if (timer_us == 0)
		return DTLS_INITIAL_TIMEOUT_US;
	return timer_us >= DTLS_MAX_TIMEOUT_US / 2 ? DTLS_MAX_TIMEOUT_US : timer_us * 2;
}

dtls *dtls_new(dtls_ctx *ctx, int is_server, const uint8_t expected_fp[32], dtls_send_fn send,
               void *user)
{
	dtls *d;
	BIO *wbio;

	if (!ctx || !expected_fp || !send)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->send = send;
	d->user = user;
	d->is_server = is_server != 0;
	memcpy(d->expected_fp, expected_fp, 32);
	d->ssl = SSL_new(ctx->ssl_ctx);
	d->rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(ctx->bio_method);
	if (!d->ssl || !d->rbio || !wbio) {
		BIO_free(d->rbio);
		BIO_free(wbio);
		SSL_free(d->ssl);
		free(d);
		return NULL;
	}
	/* An empty memory BIO must read as "try again", not as end of stream. */
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_data(wbio, d);
	BIO_set_init(wbio, 1);
	SSL_set_bio(d->ssl, d->rbio, wbio);
	SSL_set_app_data(d->ssl, d);
	SSL_set_mtu(d->ssl, DTLS_MTU);
	DTLS_set_link_mtu(d->ssl, DTLS_MTU);
	DTLS_set_timer_cb(d->ssl, retransmit_timer);
	if (d->is_server)
		SSL_set_accept_state(d->ssl);
	else
		SSL_set_connect_state(d->ssl);
	return d;
}

void dtls_free(dtls *d)
{
	if (!d)
		return;
	SSL_free(d->ssl);
	OPENSSL_cleanse(&d->keys, sizeof(d->keys));
	free(d);
}

/* Records the reason for a failure, draining OpenSSL's thread-local error queue so that a
 * stale entry never leaks into the next association's diagnosis. */
static int fail(dtls *d, const char *what)
{
	unsigned long e = ERR_get_error();

	d->state = DTLS_STATE_FAILED;
	if (d->fingerprint_mismatch)
		snprintf(d->error, sizeof(d->error), "peer certificate fingerprint mismatch");
	else if (e) {
		char buf[120];
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(d->error, sizeof(d->error), "%s: %s", what, buf);
	} else
		snprintf(d->error, sizeof(d->error), "%s", what);
	ERR_clear_error();
	return DTLS_ERR;
}

int dtls_start(dtls *d)
{
	int ret;

	if (!d)
		return -1;
	if (d->is_server)
		return 0;
	if (d->state != DTLS_STATE_HANDSHAKE)
		return -1;
	ERR_clear_error();
	ret = SSL_do_handshake(d->ssl);
	if (ret <= 0 && SSL_get_error(d->ssl, ret) != SSL_ERROR_WANT_READ) {
		fail(d, "cannot start handshake");
		return -1;
	}
	return 0;
}

static int export_keys(dtls *d)
{
	const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
	uint8_t material[2 * (16 + 14)];
	size_t salt_len;
	const uint8_t *client_key = material, *server_key = material + 16;
	const uint8_t *client_salt, *server_salt;
	dtls_srtp_keys *k = &d->keys;

	if (!p)
		return -1;
	memset(k, 0, sizeof(*k));
	if (p->id == SRTP_AEAD_AES_128_GCM) {
		k->profile = DTLS_SRTP_AEAD_AES_128_GCM;
		salt_len = 12;
	} else if (p->id == SRTP_AES128_CM_SHA1_80) {
		k->profile = DTLS_SRTP_AES128_CM_SHA1_80;
		salt_len = 14;
	} else
		return -1;
	if (SSL_export_keying_material(d->ssl, material, 2 * (16 + salt_len), "EXTRACTOR-dtls_srtp",
	                               19, NULL, 0, 0) != 1)
		return -1;
	/* RFC 5764 section 4.2: client_key | server_key | client_salt | server_salt. */
	client_salt = material + 32;
	server_salt = client_salt + salt_len;
	memcpy(k->local_key, d->is_server ? server_key : client_key, 16);
	memcpy(k->remote_key, d->is_server ? client_key : server_key, 16);
	memcpy(k->local_salt, d->is_server ? server_salt : client_salt, salt_len);
	memcpy(k->remote_salt, d->is_server ? client_salt : server_salt, salt_len);
	k->salt_len = salt_len;
	OPENSSL_cleanse(material, sizeof(material));
	return 0;
}

static int continue_handshake(dtls *d)
{
	int ret = SSL_do_handshake(d->ssl);

	if (ret != 1) {
		int err = SSL_get_error(d->ssl, ret);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			return DTLS_OK;
		return fail(d, "handshake failed");
	}
	/* The verify callback already checked, but it only runs if OpenSSL asks for it: confirm
	 * on the certificate the session actually holds before trusting any keys. */
	if (!fingerprint_matches(d, SSL_get0_peer_certificate(d->ssl))) {
		d->fingerprint_mismatch = 1;
		return fail(d, "fingerprint");
	}
	if (export_keys(d) < 0)
		return fail(d, "no SRTP profile negotiated");
	d->state = DTLS_STATE_CONNECTED;
	return DTLS_CONNECTED;
}

/* After the handshake, reading lets OpenSSL answer a retransmitted final flight (our last
 * flight was lost) and notice close_notify. Application data is not used by WebRTC media
 * here and is discarded. */
static int read_connected(dtls *d)
{
	uint8_t scratch[2048];

	for (;;) {
		int ret = SSL_read(d->ssl, scratch, sizeof(scratch));
		if (ret > 0)
			continue;
		switch (SSL_get_error(d->ssl, ret)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return DTLS_OK;
		case SSL_ERROR_ZERO_RETURN:
			d->state = DTLS_STATE_CLOSED;
			return DTLS_CLOSED;
		default:
			return fail(d, "connection failed");
		}
	}
}

int dtls_feed(dtls *d, const uint8_t *data, size_t len)
{
	int ret;

	if (!d || (!data && len))
		return DTLS_ERR;
	if (d->state == DTLS_STATE_FAILED)
		return DTLS_ERR;
	if (d->state == DTLS_STATE_CLOSED)
		return DTLS_CLOSED;
	if (len == 0 || len > 65535)
		return DTLS_OK;
	ERR_clear_error();
	if (BIO_write(d->rbio, data, (int)len) != (int)len)
		return DTLS_OK;
	if (d->state == DTLS_STATE_HANDSHAKE)
		ret = continue_handshake(d);
	else
		ret = read_connected(d);
	/* OpenSSL reads a whole datagram at a time; anything it left behind is a broken
	 * datagram and must not be glued to the next one. */
	if (BIO_ctrl_pending(d->rbio) > 0)
		(void)BIO_reset(d->rbio);
	return ret;
}

long dtls_timeout_ms(dtls *d)
{
	struct timeval tv;

	if (!d || d->state == DTLS_STATE_FAILED || d->state == DTLS_STATE_CLOSED)
		return -1;
	if (DTLSv1_get_timeout(d->ssl, &tv) <= 0)
		return -1;
	return (long)tv.tv_sec * 1000 + ((long)tv.tv_usec + 999) / 1000;
}

void dtls_handle_timeout(dtls *d)
{
	if (!d || d->state == DTLS_STATE_FAILED || d->state == DTLS_STATE_CLOSED)
		return;
	ERR_clear_error();
	if (DTLSv1_handle_timeout(d->ssl) < 0)
		fail(d, "handshake timed out");
}

int dtls_shutdown(dtls *d)
{
	if (!d || d->state != DTLS_STATE_CONNECTED)
		return -1;
	ERR_clear_error();
	/* One call queues and sends close_notify; we do not wait for the peer's reply. */
	(void)SSL_shutdown(d->ssl);
	ERR_clear_error();
	d->state = DTLS_STATE_CLOSED;
	return 0;
}

int dtls_is_connected(const dtls *d)
{
	return d && d->state == DTLS_STATE_CONNECTED;
}

int dtls_has_failed(const dtls *d)
{
	return d && d->state == DTLS_STATE_FAILED;
}

int dtls_get_srtp_keys(dtls *d, dtls_srtp_keys *keys)
{
	if (!d || !keys || d->state != DTLS_STATE_CONNECTED)
		return -1;
	*keys = d->keys;
	return 0;
}

const char *dtls_last_error(const dtls *d)
{
	if (!d)
		return "no DTLS object";
	return d->error[0] ? d->error : "no error";
}
