/* The 5-tuple -> peer hash of the media plane (server/sfu/addrmap.c): IPv4 and IPv6 remote
 * ends, ports, ICE-TCP connections as part of the key, replacement, removal guarded by the
 * value, and a long random run of puts and removals against a plain list, on a table small
 * enough that probe runs collide, wrap and are shifted back on removal, and that grows. */
#include "check.h"
#include "sfu/addrmap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a->sin6_addr);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static int peer_a, peer_b, peer_c; /* stand-ins for peers: only their addresses count */
static int conn1, conn2;           /* and for ICE-TCP connections */

static void test_insert_and_find(void)
{
	addrmap *m = addrmap_new(42);
	struct sockaddr_storage a = v4("192.0.2.10", 50000), b = v4("192.0.2.10", 50001);
	struct sockaddr_storage c = v4("192.0.2.11", 50000);
	CHECK_EQ_INT(addrmap_put(m, SA(a), NULL, &peer_a), 0);
	CHECK_EQ_INT(addrmap_put(m, SA(b), NULL, &peer_b), 0);
	CHECK(addrmap_get(m, SA(a), NULL) == &peer_a);
	CHECK(addrmap_get(m, SA(b), NULL) == &peer_b); /* same address, other port */
	CHECK(addrmap_get(m, SA(c), NULL) == NULL);    /* same port, other address */
	CHECK_EQ_INT(addrmap_count(m), 2);
	/* The same key again replaces the value, it is not a second entry. */
	CHECK_EQ_INT(addrmap_put(m, SA(a), NULL, &peer_c), 0);
	CHECK(addrmap_get(m, SA(a), NULL) == &peer_c);
	CHECK_EQ_INT(addrmap_count(m), 2);
	/* A sockaddr's padding and unused bytes are not part of the key. */
	struct sockaddr_storage a2 = a;
	memset((uint8_t *)&a2 + sizeof(struct sockaddr_in), 0x5a,
	       sizeof a2 - sizeof(struct sockaddr_in));
	memset(((struct sockaddr_in *)&a2)->sin_zero, 0x77, 8);
	CHECK(addrmap_get(m, SA(a2), NULL) == &peer_c);
	addrmap_free(m);
	addrmap_free(NULL);
}

static void test_ipv6_and_tcp(void)
{
	addrmap *m = addrmap_new(7);
	struct sockaddr_storage x = v6("2001:db8::1", 40000), y = v6("2001:db8::2", 40000);
	struct sockaddr_storage mapped = v6("::ffff:192.0.2.10", 40000),
	                        plain = v4("192.0.2.10", 40000);
	CHECK_EQ_INT(addrmap_put(m, SA(x), NULL, &peer_a), 0);
	CHECK_EQ_INT(addrmap_put(m, SA(mapped), NULL, &peer_b), 0);
	CHECK(addrmap_get(m, SA(x), NULL) == &peer_a);
	CHECK(addrmap_get(m, SA(y), NULL) == NULL); /* differs in the last byte only */
	/* A v4-mapped IPv6 source and the IPv4 one are different sockets' views: not equal. */
	CHECK(addrmap_get(m, SA(plain), NULL) == NULL);
	CHECK(addrmap_get(m, SA(mapped), NULL) == &peer_b);
	/* The same remote end over an ICE-TCP connection is another path than over UDP, and
	 * two connections from it are two paths. */
	CHECK_EQ_INT(addrmap_put(m, SA(x), &conn1, &peer_c), 0);
	CHECK(addrmap_get(m, SA(x), &conn1) == &peer_c);
	CHECK(addrmap_get(m, SA(x), &conn2) == NULL);
	CHECK(addrmap_get(m, SA(x), NULL) == &peer_a);
	CHECK_EQ_INT(addrmap_del(m, SA(x), &conn1, NULL), 1);
	CHECK(addrmap_get(m, SA(x), NULL) == &peer_a);
	/* Other families are refused, not hashed. */
	struct sockaddr_storage unix_sa;
	memset(&unix_sa, 0, sizeof unix_sa);
	unix_sa.ss_family = AF_UNIX;
	CHECK_EQ_INT(addrmap_put(m, SA(unix_sa), NULL, &peer_a), -1);
	CHECK(addrmap_get(m, SA(unix_sa), NULL) == NULL);
	CHECK_EQ_INT(addrmap_del(m, SA(unix_sa), NULL, NULL), 0);
	CHECK_EQ_INT(addrmap_count(m), 2);
	addrmap_free(m);
}

static void test_remove(void)
{
	addrmap *m = addrmap_new(1);
	struct sockaddr_storage a = v4("10.0.0.1", 1000), b = v4("10.0.0.2", 1000);
	addrmap_put(m, SA(a), NULL, &peer_a);
	addrmap_put(m, SA(b), NULL, &peer_b);
	/* Removal names the value it expects: a peer forgetting a path another peer has
	 * since validated leaves that peer's entry alone. */
	CHECK_EQ_INT(addrmap_del(m, SA(a), NULL, &peer_b), 0);
	CHECK(addrmap_get(m, SA(a), NULL) == &peer_a);
	CHECK_EQ_INT(addrmap_del(m, SA(a), NULL, &peer_a), 1);
	CHECK(addrmap_get(m, SA(a), NULL) == NULL);
	CHECK_EQ_INT(addrmap_del(m, SA(a), NULL, &peer_a), 0); /* already gone */
	CHECK(addrmap_get(m, SA(b), NULL) == &peer_b);
	CHECK_EQ_INT(addrmap_count(m), 1);
	addrmap_free(m);
}

/* Thousands of puts and removals over few distinct keys (so the table sees every probe
 * pattern: home slots shared, runs wrapping at the end, holes shifted back), checked after
 * each step against a list. Same seed for the map and the run: reproducible. */
#define KEYS 600
static void test_collisions_random(void)
{
	static void *want[KEYS];
	static int values[KEYS];
	addrmap *m = addrmap_new(0x1234);
	uint64_t r = 88172645463325252ULL;
	size_t live = 0, max_live = 0;
	int mismatches = 0;
	for (int step = 0; step < 20000; step++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17; /* xorshift64 */
		int k = (int)(r % KEYS);
		/* Half IPv4 and half IPv6 keys, a third of them over a "TCP connection". */
		char ip[64];
		struct sockaddr_storage sa;
		if (k % 2) {
			snprintf(ip, sizeof ip, "198.51.100.%d", k % 200);
			sa = v4(ip, (uint16_t)(5000 + k / 200));
		} else {
			snprintf(ip, sizeof ip, "2001:db8::%x", k);
			sa = v6(ip, 6000);
		}
		const void *conn = k % 3 == 0 ? (const void *)&conn1 : NULL;
		if ((r >> 32) % 3) {
			CHECK_EQ_INT(addrmap_put(m, SA(sa), conn, &values[k]), 0);
			if (!want[k])
				live++;
			want[k] = &values[k];
		} else {
			CHECK_EQ_INT(addrmap_del(m, SA(sa), conn, NULL), want[k] != NULL);
			if (want[k])
				live--;
			want[k] = NULL;
		}
		if (live > max_live)
			max_live = live;
		if (addrmap_count(m) != live)
			mismatches++;
		/* Every key, present or not, answers as the list says. */
		if (step % 97 == 0 || step > 19900)
			for (int j = 0; j < KEYS; j++) {
				struct sockaddr_storage sj;
				char ipj[64];
				if (j % 2) {
					snprintf(ipj, sizeof ipj, "198.51.100.%d", j % 200);
					sj = v4(ipj, (uint16_t)(5000 + j / 200));
				} else {
					snprintf(ipj, sizeof ipj, "2001:db8::%x", j);
					sj = v6(ipj, 6000);
				}
				const void *cj = j % 3 == 0 ? (const void *)&conn1 : NULL;
				if (addrmap_get(m, SA(sj), cj) != want[j])
					mismatches++;
			}
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK(max_live > 64); /* the table grew past its first size */
	addrmap_free(m);
}

int main(void)
{
	test_insert_and_find();
	test_ipv6_and_tcp();
	test_remove();
	test_collisions_random();
	return check_done("addrmap");
}
