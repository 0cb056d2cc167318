/* Two SRTP sessions with fixed keys that talk to each other, for unit tests that put real
 * protected packets through the media plane: *ours for the server's peer, *theirs for the
 * test's side of the wire. */
#ifndef MDG_TEST_SRTP_PAIR_H
#define MDG_TEST_SRTP_PAIR_H

#include "sfu/secure.h"

#include <string.h>

static void srtp_pair(secure **ours, secure **theirs)
{
	dtls_srtp_keys k = {.profile = DTLS_SRTP_AES128_CM_SHA1_80, .salt_len = 14};
	for (int i = 0; i < 16; i++) {
		k.local_key[i] = (uint8_t)(i + 1);
		k.remote_key[i] = (uint8_t)(0x80 + i);
	}
	for (int i = 0; i < 14; i++) {
		k.local_salt[i] = (uint8_t)(0x40 + i);
		k.remote_salt[i] = (uint8_t)(0xc0 + i);
	}
	dtls_srtp_keys mirror = k;
	memcpy(mirror.local_key, k.remote_key, 16);
	memcpy(mirror.remote_key, k.local_key, 16);
	memcpy(mirror.local_salt, k.remote_salt, 14);
	memcpy(mirror.remote_salt, k.local_salt, 14);
	*ours = secure_new(&k);
	*theirs = secure_new(&mirror);
}

#endif
