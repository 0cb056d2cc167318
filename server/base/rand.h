/* Randomness for identifiers and credentials, from OpenSSL's CSPRNG. */
#ifndef MDG_BASE_RAND_H
#define MDG_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

#define RAND_UUID_LEN 37 /* 36 characters and a NUL */

/* Returns 0 or -1 (the CSPRNG failed; callers treat that as fatal for the request). */
int rand_fill(void *buf, size_t len);
uint32_t rand_u32(void);
/* Writes 2*nbytes lowercase hex characters and a NUL into out. */
int rand_hex(char *out, size_t nbytes);
/* RFC 9562 version 4 UUID, lower-case. */
int rand_uuid(char out[RAND_UUID_LEN]);
/* URL-safe token of nbytes random bytes (base64url without padding). out needs
 * 4*nbytes/3+2 bytes. */
int rand_token(char *out, size_t nbytes);

#endif
