/* AES-GCM for libsrtp2 on OpenSSL's EVP interface.
 *
 * Debian builds libsrtp2 against NSS, whose AEAD goes through a PKCS #11 session, two mutexes
 * and a context set up for every packet: profiled under 150 calls, NSS took about a third of
 * the server's CPU. libsrtp2 lets a program replace the implementation of a cipher type
 * (srtp_replace_cipher_type); this module registers its own AES-128-GCM and AES-256-GCM
 * (RFC 7714's AEAD_AES_128_GCM / AEAD_AES_256_GCM, 16- or 8-octet tags) on OpenSSL, which
 * keeps one EVP context per direction and key and only sets a new IV per packet. libsrtp2
 * still does everything else: key derivation, the IV, the replay window, the packet layout.
 *
 * libsrtp2 runs each cipher type's known-answer test (the GCM specification's test cases 4
 * and 16 here) and its random round trips when it is registered; a type that fails them is
 * not registered and libsrtp2's own stays in place. */
#ifndef MDG_SFU_SRTP_GCM_H
#define MDG_SFU_SRTP_GCM_H

/* Registers both GCM types with libsrtp2 (after srtp_init(), before any session is made).
 * Returns 0 when both are ours, -1 when libsrtp2 refused one (its own then stays). */
int srtp_gcm_install(void);

#endif
