/* DTLS-SRTP (RFC 5764) over OpenSSL memory BIOs. The object never touches a socket or a
 * timer: the owner feeds received datagrams in, gets datagrams to send through a callback,
 * and drives retransmission with dtls_timeout_ms() / dtls_handle_timeout(). */
#ifndef MDG_SFU_DTLS_H
#define MDG_SFU_DTLS_H

#include <stddef.h>
#include <stdint.h>

/* One per process: the certificate (self-signed ECDSA P-256, made at start) and SSL_CTX. */
typedef struct dtls_ctx dtls_ctx;

dtls_ctx *dtls_ctx_new(void);
void dtls_ctx_free(dtls_ctx *ctx);
/* "AB:CD:…" upper-case SHA-256 fingerprint of the certificate, for the SDP answer. */
const char *dtls_ctx_fingerprint(const dtls_ctx *ctx);
/* Replaces the offered SRTP profiles (OpenSSL syntax, e.g. "SRTP_AES128_CM_SHA1_80") for dtls
 * objects created afterwards. The default offers AEAD_AES_128_GCM first, then AES128_CM_SHA1_80;
 * tests use this to force the fallback. Returns 0 or -1. */
int dtls_ctx_set_profiles(dtls_ctx *ctx, const char *profiles);

enum dtls_profile { DTLS_SRTP_NONE = 0, DTLS_SRTP_AES128_CM_SHA1_80, DTLS_SRTP_AEAD_AES_128_GCM };

typedef struct dtls_srtp_keys {
	enum dtls_profile profile;
	uint8_t local_key[16];
	uint8_t local_salt[14]; /* 14 bytes for AES_CM, 12 for GCM (rest zero) */
	uint8_t remote_key[16];
	uint8_t remote_salt[14];
	size_t salt_len;
} dtls_srtp_keys;

typedef struct dtls dtls;
/* Called with each datagram to send; must not free the dtls object. */
typedef void (*dtls_send_fn)(void *user, const uint8_t *data, size_t len);

/* is_server: 1 when the server is DTLS server (SDP setup passive). expected_fp is the SHA-256
 * from the peer's SDP; the handshake fails if the peer's certificate does not match. */
dtls *dtls_new(dtls_ctx *ctx, int is_server, const uint8_t expected_fp[32], dtls_send_fn send,
               void *user);
void dtls_free(dtls *d); /* NULL allowed */

/* Client role: sends the ClientHello. Server role: no-op. Returns 0 or -1. */
int dtls_start(dtls *d);

enum dtls_result {
	DTLS_ERR = -1,      /* handshake failed, fingerprint mismatch or fatal alert */
	DTLS_OK = 0,        /* consumed; nothing new */
	DTLS_CONNECTED = 1, /* the handshake completed with this datagram: keys are ready */
	DTLS_CLOSED = 2,    /* peer sent close_notify */
};
/* Feeds one received DTLS datagram. */
int dtls_feed(dtls *d, const uint8_t *data, size_t len);

/* Milliseconds until dtls_handle_timeout() should be called, or -1 when no timer is needed. */
long dtls_timeout_ms(dtls *d);
void dtls_handle_timeout(dtls *d);

int dtls_is_connected(const dtls *d);
/* 1 once the association failed for good (bad fingerprint, fatal alert, or the handshake
 * retransmitted too often in dtls_handle_timeout); the owner should then drop the peer. */
int dtls_has_failed(const dtls *d);
/* Sends close_notify once connected; afterwards the object only reports DTLS_CLOSED.
 * Returns 0 or -1. */
int dtls_shutdown(dtls *d);
/* After DTLS_CONNECTED: the negotiated profile and keys, oriented for this side. */
int dtls_get_srtp_keys(dtls *d, dtls_srtp_keys *keys);
/* Human-readable reason for the last DTLS_ERR. */
const char *dtls_last_error(const dtls *d);

#endif
