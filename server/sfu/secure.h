/* SRTP/SRTCP protection for one peer, both directions, on libsrtp2. */
#ifndef MDG_SFU_SECURE_H
#define MDG_SFU_SECURE_H

#include "sfu/dtls.h"

#include <stddef.h>

/* libsrtp2 must be initialised exactly once per process: the one global in the project.
 * Idempotent. Returns 0 or -1. */
int secure_global_init(void);
void secure_global_shutdown(void);

/* Trailer room callers must leave after a packet for protect. */
#define SECURE_MAX_TRAILER 144

typedef struct secure secure;

secure *secure_new(const dtls_srtp_keys *keys);
void secure_free(secure *s); /* NULL allowed */

/* In place. *len is updated. Return 0 or -1 (auth failure, replay, malformed). */
int secure_unprotect_rtp(secure *s, void *buf, size_t *len);
int secure_unprotect_rtcp(secure *s, void *buf, size_t *len);
/* In place; buf must have room for *len + SECURE_MAX_TRAILER bytes. */
int secure_protect_rtp(secure *s, void *buf, size_t *len);
int secure_protect_rtcp(secure *s, void *buf, size_t *len);

#endif
