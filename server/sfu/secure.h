/* SRTP/SRTCP protection for one peer, both directions, on libsrtp2. */
#ifndef MDG_SFU_SECURE_H
#define MDG_SFU_SECURE_H

#include "sfu/dtls.h"

#include <stddef.h>
#include <stdint.h>

/* libsrtp2 must be initialised exactly once per process: the one global in the project.
 * Idempotent. Returns 0 or -1. */
int secure_global_init(void);
void secure_global_shutdown(void);
/* "openssl" when AES-GCM runs on our OpenSSL cipher type (srtp_gcm.h), "libsrtp" when on
 * libsrtp2's own. */
const char *secure_gcm_impl(void);

/* Trailer room callers must leave after a packet for protect. */
#define SECURE_MAX_TRAILER 144

/* The most SSRCs a peer may send us on (RTP and RTCP together). libsrtp keeps a stream, a
 * few hundred bytes and a place in a list searched on every packet, for each SSRC that
 * authenticates, so a peer with valid keys could otherwise make it allocate without end by
 * sending on ever-new SSRCs. A browser needs a handful: microphone, camera and document with
 * their RTX streams and simulcast layers, and the SSRC its receiver reports come from. */
#define SECURE_MAX_INBOUND_SSRCS 32

typedef struct secure secure;

secure *secure_new(const dtls_srtp_keys *keys);
void secure_free(secure *s); /* NULL allowed */

enum secure_err {
	SECURE_ERR = -1,            /* auth failure, replay, malformed */
	SECURE_ERR_SSRC_LIMIT = -2, /* a new SSRC past SECURE_MAX_INBOUND_SSRCS: not unprotected */
};
/* In place. *len is updated. Return 0 or a negative secure_err. */
int secure_unprotect_rtp(secure *s, void *buf, size_t *len);
int secure_unprotect_rtcp(secure *s, void *buf, size_t *len);
/* How many inbound SSRCs the peer has used (what counts towards the limit). */
int secure_inbound_ssrcs(const secure *s);
/* After a renegotiation: frees the inbound streams whose SSRC is not in keep[0..n) and gives
 * their places back, and frees the outbound streams of the SSRCs in gone[0..n_gone), which
 * will not be sent on again. An SSRC dropped here that shows up again starts a new stream
 * (fresh replay window), so keep every SSRC the new tracks declare. */
void secure_retain(secure *s, const uint32_t *keep, int n, const uint32_t *gone, int n_gone);
/* In place; buf must have room for *len + SECURE_MAX_TRAILER bytes. */
int secure_protect_rtp(secure *s, void *buf, size_t *len);
int secure_protect_rtcp(secure *s, void *buf, size_t *len);

#endif
