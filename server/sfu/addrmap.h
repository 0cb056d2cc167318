/* Which peer a datagram's source belongs to: a hash from the remote end of a path (IPv4 or
 * IPv6 address and port, plus the ICE-TCP connection for TCP paths; the local end is the one
 * media socket) to a value, the peer. It replaces a walk over every peer's validated paths
 * on each packet. Only paths that passed a STUN check with a peer's password are put in
 * (ice.c), so nobody outside can fill it; the seed still keeps its layout unpredictable.
 *
 * Open addressing with linear probing and backward-shift removal (no tombstones), grown at
 * half full; pure, no I/O. */
#ifndef MDG_SFU_ADDRMAP_H
#define MDG_SFU_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct addrmap addrmap;

/* seed: any value (sfu.c passes a random one). NULL when out of memory. */
addrmap *addrmap_new(uint64_t seed);
void addrmap_free(addrmap *m); /* NULL ok */

/* Maps (sa, conn) to value, replacing what it mapped to. sa is an AF_INET or AF_INET6
 * address; conn is NULL for UDP. Returns 0, or -1 (another family, out of memory). */
int addrmap_put(addrmap *m, const struct sockaddr *sa, const void *conn, void *value);
/* The value for (sa, conn), or NULL. */
void *addrmap_get(const addrmap *m, const struct sockaddr *sa, const void *conn);
/* Removes (sa, conn) if it maps to value (value NULL: whatever it maps to). Returns 1 when
 * removed, 0 otherwise. */
int addrmap_del(addrmap *m, const struct sockaddr *sa, const void *conn, const void *value);
size_t addrmap_count(const addrmap *m);

#endif
