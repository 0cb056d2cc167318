/* See addrmap.h. */
#include "sfu/addrmap.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The remote end of a path in a fixed form: IPv4 as a v4-mapped IPv6 address is not the
 * same key as the v4 address itself (family is part of the key), as the sockets see them. */
typedef struct key {
	uint8_t ip[16];
	uint16_t port;
	uint8_t family;
	const void *conn;
} key;

typedef struct entry {
	key k;
	uint64_t hash; /* 0: empty */
	void *value;
} entry;

struct addrmap {
	entry *slots;
	size_t cap; /* a power of two */
	size_t count;
	uint64_t seed;
};

#define MIN_CAP 64

static int make_key(const struct sockaddr *sa, const void *conn, key *k)
{
	memset(k, 0, sizeof *k);
	k->conn = conn;
	k->family = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		memcpy(k->ip, &a->sin_addr, 4);
		k->port = a->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		memcpy(k->ip, &a->sin6_addr, 16);
		k->port = a->sin6_port;
		return 0;
	}
	return -1;
}

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t hash_key(const addrmap *m, const key *k)
{
	uint64_t a, b;
	memcpy(&a, k->ip, 8);
	memcpy(&b, k->ip + 8, 8);
	uint64_t h = mix(m->seed ^ a);
	h = mix(h ^ b);
	h = mix(h ^ ((uint64_t)k->port << 8 | k->family) ^ (uint64_t)(uintptr_t)k->conn);
	return h ? h : 1; /* 0 marks an empty slot */
}

static int key_equal(const key *a, const key *b)
{
	return a->port == b->port && a->family == b->family && a->conn == b->conn &&
	       memcmp(a->ip, b->ip, sizeof a->ip) == 0;
}

addrmap *addrmap_new(uint64_t seed)
{
	addrmap *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->cap = MIN_CAP;
	m->seed = seed;
	m->slots = calloc(m->cap, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void addrmap_free(addrmap *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

/* The slot holding k, or the empty slot where it would go. */
static size_t find(const addrmap *m, const key *k, uint64_t h)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)h & mask;
	while (m->slots[i].hash && (m->slots[i].hash != h || !key_equal(&m->slots[i].k, k)))
		i = (i + 1) & mask;
	return i;
}

static int grow(addrmap *m)
{
	size_t cap = m->cap * 2;
	entry *old = m->slots, *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	size_t old_cap = m->cap;
	m->slots = slots;
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].hash)
			m->slots[find(m, &old[i].k, old[i].hash)] = old[i];
	free(old);
	return 0;
}

int addrmap_put(addrmap *m, const struct sockaddr *sa, const void *conn, void *value)
{
	key k;
	if (make_key(sa, conn, &k) != 0)
		return -1;
	if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	uint64_t h = hash_key(m, &k);
	size_t i = find(m, &k, h);
	if (!m->slots[i].hash) {
		m->slots[i].k = k;
		m->slots[i].hash = h;
		m->count++;
	}
	m->slots[i].value = value;
	return 0;
}

void *addrmap_get(const addrmap *m, const struct sockaddr *sa, const void *conn)
{
	key k;
	if (make_key(sa, conn, &k) != 0)
		return NULL;
	size_t i = find(m, &k, hash_key(m, &k));
	return m->slots[i].hash ? m->slots[i].value : NULL;
}

int addrmap_del(addrmap *m, const struct sockaddr *sa, const void *conn, const void *value)
{
	key k;
	if (make_key(sa, conn, &k) != 0)
		return 0;
	size_t mask = m->cap - 1;
	size_t i = find(m, &k, hash_key(m, &k));
	if (!m->slots[i].hash || (value && m->slots[i].value != value))
		return 0;
	/* Backward shift: move later entries of the probe run up into the hole, so that a
	 * lookup never stops early at it. An entry may move to the hole when the hole lies
	 * cyclically between its home slot and where it sits now. */
	size_t hole = i, j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->slots[j].hash)
			break;
		size_t home = (size_t)m->slots[j].hash & mask;
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	memset(&m->slots[hole], 0, sizeof m->slots[hole]);
	m->count--;
	return 1;
}

size_t addrmap_count(const addrmap *m)
{
	return m->count;
}
