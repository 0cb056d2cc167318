/* STUN tests: the RFC 5769 test vectors (parse, MESSAGE-INTEGRITY, FINGERPRINT and the
 * decoded XOR-MAPPED-ADDRESS), build/parse round trips, and rejection of damaged input. */
#include "check.h"
#include "rtp/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* The vectors keep the RFC's rows of twelve bytes. */
/* clang-format off */
static const char *password = "VOkJxbRl1RmTxUk/WvJxBt";

/* RFC 5769 section 2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME
 * "evtj:h6vY" padded with spaces, MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: sample IPv4 response, mapped address 192.0.2.1:32853. */
static const uint8_t rfc_response4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: sample IPv6 response, mapped address
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc_response6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* clang-format on */

static const uint8_t rfc_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static const uint8_t *pw(void)
{
	return (const uint8_t *)password;
}

static void test_rfc_request(void)
{
	stun_msg m;
	CHECK(stun_is_stun(rfc_request, sizeof rfc_request));
	CHECK_EQ_INT(stun_parse(rfc_request, sizeof rfc_request, &m), 0);
	CHECK_EQ_INT(m.type, STUN_BINDING_REQUEST);
	CHECK_EQ_INT(m.length, 0x58);
	CHECK(memcmp(m.txid, rfc_txid, 12) == 0);
	CHECK_EQ_INT(m.username_len, 9);
	CHECK(m.username && memcmp(m.username, "evtj:h6vY", 9) == 0);
	CHECK(m.has_priority);
	CHECK_EQ_INT(m.priority, 0x6e0001ffu);
	CHECK(m.ice_controlled);
	CHECK(!m.ice_controlling);
	CHECK(m.tiebreaker == 0x932ff9b151263b36ull);
	CHECK(!m.use_candidate);
	CHECK(m.has_integrity);
	CHECK_EQ_INT(m.integrity_offset, 76);
	CHECK(m.has_fingerprint);
	CHECK_EQ_INT(m.fingerprint_offset, 100);
	CHECK_EQ_INT(stun_check_integrity(rfc_request, sizeof rfc_request, &m, pw(), 22), 0);
	CHECK_EQ_INT(stun_check_fingerprint(rfc_request, sizeof rfc_request, &m), 0);
	/* A wrong or truncated password must fail. */
	CHECK_EQ_INT(stun_check_integrity(rfc_request, sizeof rfc_request, &m,
	                                  (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22),
	             STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_integrity(rfc_request, sizeof rfc_request, &m, pw(), 21),
	             STUN_ERR_INTEGRITY);
}

static void test_rfc_response4(void)
{
	stun_msg m;
	CHECK_EQ_INT(stun_parse(rfc_response4, sizeof rfc_response4, &m), 0);
	CHECK_EQ_INT(m.type, STUN_BINDING_SUCCESS);
	CHECK(memcmp(m.txid, rfc_txid, 12) == 0);
	CHECK_EQ_INT(stun_check_integrity(rfc_response4, sizeof rfc_response4, &m, pw(), 22), 0);
	CHECK_EQ_INT(stun_check_fingerprint(rfc_response4, sizeof rfc_response4, &m), 0);
	CHECK(m.has_xor_mapped);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&m.xor_mapped;
	CHECK_EQ_INT(sin->sin_family, AF_INET);
	CHECK_EQ_INT(ntohs(sin->sin_port), 32853);
	char s[INET6_ADDRSTRLEN];
	CHECK_EQ_STR(inet_ntop(AF_INET, &sin->sin_addr, s, sizeof s), "192.0.2.1");
}

static void test_rfc_response6(void)
{
	stun_msg m;
	CHECK_EQ_INT(stun_parse(rfc_response6, sizeof rfc_response6, &m), 0);
	CHECK_EQ_INT(m.type, STUN_BINDING_SUCCESS);
	CHECK_EQ_INT(stun_check_integrity(rfc_response6, sizeof rfc_response6, &m, pw(), 22), 0);
	CHECK_EQ_INT(stun_check_fingerprint(rfc_response6, sizeof rfc_response6, &m), 0);
	CHECK(m.has_xor_mapped);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&m.xor_mapped;
	CHECK_EQ_INT(sin6->sin6_family, AF_INET6);
	CHECK_EQ_INT(ntohs(sin6->sin6_port), 32853);
	char s[INET6_ADDRSTRLEN];
	CHECK_EQ_STR(inet_ntop(AF_INET6, &sin6->sin6_addr, s, sizeof s),
	             "2001:db8:1234:5678:11:2233:4455:6677");
}

/* Rebuilding the RFC 5769 IPv4 response minus SOFTWARE must verify with the same key. */
static void test_build_success(void)
{
	uint8_t out[128];
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(32853);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	ssize_t n = stun_build_binding_success(out, sizeof out, rfc_txid,
	                                       (const struct sockaddr *)&sin, pw(), 22);
	CHECK_EQ_INT(n, 64);
	/* The XOR-MAPPED-ADDRESS bytes must equal the RFC's encoding of the same address. */
	CHECK(memcmp(out + 20, rfc_response4 + 36, 12) == 0);
	stun_msg m;
	CHECK_EQ_INT(stun_parse(out, (size_t)n, &m), 0);
	CHECK_EQ_INT(m.type, STUN_BINDING_SUCCESS);
	CHECK(memcmp(m.txid, rfc_txid, 12) == 0);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, pw(), 22), 0);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, (const uint8_t *)"x", 1),
	             STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_fingerprint(out, (size_t)n, &m), 0);
	CHECK(memcmp(&m.xor_mapped, &sin, sizeof sin) == 0);

	struct sockaddr_in6 sin6 = {0};
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(32853);
	inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &sin6.sin6_addr);
	n = stun_build_binding_success(out, sizeof out, rfc_txid, (const struct sockaddr *)&sin6,
	                               pw(), 22);
	CHECK_EQ_INT(n, 76);
	CHECK(memcmp(out + 20, rfc_response6 + 36, 24) == 0);
	CHECK_EQ_INT(stun_parse(out, (size_t)n, &m), 0);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, pw(), 22), 0);
	CHECK_EQ_INT(stun_check_fingerprint(out, (size_t)n, &m), 0);
	const struct sockaddr_in6 *got = (const struct sockaddr_in6 *)&m.xor_mapped;
	CHECK_EQ_INT(got->sin6_port, sin6.sin6_port);
	CHECK(memcmp(&got->sin6_addr, &sin6.sin6_addr, 16) == 0);

	/* Every cap short of the full message is refused. */
	for (size_t cap = 0; cap < 64; cap++)
		CHECK_EQ_INT(stun_build_binding_success(out, cap, rfc_txid,
		                                        (const struct sockaddr *)&sin, pw(), 22),
		             STUN_ERR_SPACE);
}

static void test_build_request(void)
{
	uint8_t out[256];
	const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	const char *key = "a-long-ice-password-of-the-server";
	ssize_t n =
	    stun_build_binding_request(out, sizeof out, txid, "srvufrag:cliufrag", 0x6e7f00ffu, 1,
	                               0x0102030405060708ull, (const uint8_t *)key, strlen(key));
	CHECK(n > 0);
	CHECK_EQ_INT(n % 4, 0);
	stun_msg m;
	CHECK_EQ_INT(stun_parse(out, (size_t)n, &m), 0);
	CHECK_EQ_INT(m.type, STUN_BINDING_REQUEST);
	CHECK_EQ_INT(m.username_len, 17);
	CHECK(memcmp(m.username, "srvufrag:cliufrag", 17) == 0);
	CHECK(m.has_priority && m.priority == 0x6e7f00ffu);
	CHECK(m.use_candidate);
	CHECK(m.ice_controlling && !m.ice_controlled);
	CHECK(m.tiebreaker == 0x0102030405060708ull);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, (const uint8_t *)key, strlen(key)),
	             0);
	CHECK_EQ_INT(stun_check_fingerprint(out, (size_t)n, &m), 0);

	/* Keys longer than the SHA-1 block are hashed first (RFC 2104); both sides agree. */
	uint8_t big[100];
	memset(big, 'k', sizeof big);
	n = stun_build_binding_request(out, sizeof out, txid, "u:v", 1, 0, 2, big, sizeof big);
	CHECK(n > 0);
	CHECK_EQ_INT(stun_parse(out, (size_t)n, &m), 0);
	CHECK(!m.use_candidate);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, big, sizeof big), 0);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, big, sizeof big - 1),
	             STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_build_binding_request(out, 40, txid, "u:v", 1, 0, 2, big, sizeof big),
	             STUN_ERR_SPACE);

	/* Without a key: no MESSAGE-INTEGRITY, so the check reports it missing. */
	n = stun_build_binding_request(out, sizeof out, txid, "u:v", 1, 0, 2, NULL, 0);
	CHECK(n > 0);
	CHECK_EQ_INT(stun_parse(out, (size_t)n, &m), 0);
	CHECK(!m.has_integrity);
	CHECK_EQ_INT(stun_check_integrity(out, (size_t)n, &m, big, 4), STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_fingerprint(out, (size_t)n, &m), 0);
}

static void test_rejects(void)
{
	uint8_t buf[sizeof rfc_request];
	stun_msg m;

	/* Every truncation is rejected, never read past. */
	for (size_t len = 0; len < sizeof rfc_request; len++)
		CHECK(stun_parse(rfc_request, len, &m) < 0);
	CHECK_EQ_INT(stun_parse(rfc_request, 10, &m), STUN_ERR_SHORT);
	CHECK_EQ_INT(stun_parse(rfc_request, 60, &m), STUN_ERR_LENGTH);

	/* Wrong cookie, top bits set. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[5] ^= 1;
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), STUN_ERR_NOT_STUN);
	CHECK(!stun_is_stun(buf, sizeof buf));
	memcpy(buf, rfc_request, sizeof buf);
	buf[0] |= 0x80;
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), STUN_ERR_NOT_STUN);
	CHECK(!stun_is_stun(buf, sizeof buf));

	/* Length not a multiple of four. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[3] = 0x57;
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), STUN_ERR_LENGTH);

	/* An attribute that claims more than the message holds. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[62] = 0x01; /* USERNAME length 0x0109 */
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), STUN_ERR_SHORT);

	/* PRIORITY with the wrong length. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[43] = 0x00;
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), STUN_ERR_ATTR);

	/* A flipped bit anywhere before MESSAGE-INTEGRITY breaks it and the fingerprint. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[66] ^= 0x20; /* username "evtj" -> "eVtj" */
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), 0);
	CHECK_EQ_INT(stun_check_integrity(buf, sizeof buf, &m, pw(), 22), STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_fingerprint(buf, sizeof buf, &m), STUN_ERR_FINGERPRINT);

	/* A flipped bit in the HMAC breaks the integrity check and the CRC that covers it. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[90] ^= 0x01;
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), 0);
	CHECK_EQ_INT(stun_check_integrity(buf, sizeof buf, &m, pw(), 22), STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_fingerprint(buf, sizeof buf, &m), STUN_ERR_FINGERPRINT);

	/* A wrong CRC value alone leaves the integrity intact. */
	memcpy(buf, rfc_request, sizeof buf);
	buf[sizeof buf - 1] ^= 0x01;
	CHECK_EQ_INT(stun_parse(buf, sizeof buf, &m), 0);
	CHECK_EQ_INT(stun_check_integrity(buf, sizeof buf, &m, pw(), 22), 0);
	CHECK_EQ_INT(stun_check_fingerprint(buf, sizeof buf, &m), STUN_ERR_FINGERPRINT);

	/* An attribute after FINGERPRINT is malformed. */
	uint8_t longer[sizeof rfc_request + 8];
	memcpy(longer, rfc_request, sizeof rfc_request);
	memcpy(longer + sizeof rfc_request, "\x00\x24\x00\x04\x00\x00\x00\x01", 8);
	longer[3] = 0x60;
	CHECK_EQ_INT(stun_parse(longer, sizeof longer, &m), STUN_ERR_ATTR);
	/* Trailing bytes beyond the header's length are refused. */
	memcpy(longer, rfc_request, sizeof rfc_request);
	CHECK_EQ_INT(stun_parse(longer, sizeof longer, &m), STUN_ERR_LENGTH);

	/* Checks on a message without the attributes. */
	stun_msg empty;
	memset(&empty, 0, sizeof empty);
	CHECK_EQ_INT(stun_check_integrity(rfc_request, sizeof rfc_request, &empty, pw(), 22),
	             STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_fingerprint(rfc_request, sizeof rfc_request, &empty),
	             STUN_ERR_FINGERPRINT);
	/* An offset pointing past the buffer is refused, not followed. */
	CHECK_EQ_INT(stun_parse(rfc_request, sizeof rfc_request, &m), 0);
	CHECK_EQ_INT(stun_check_integrity(rfc_request, 90, &m, pw(), 22), STUN_ERR_INTEGRITY);
	CHECK_EQ_INT(stun_check_fingerprint(rfc_request, 100, &m), STUN_ERR_FINGERPRINT);

	CHECK_EQ_STR(stun_strerror(STUN_ERR_INTEGRITY), "MESSAGE-INTEGRITY missing or wrong");
	CHECK(stun_strerror(-99) != NULL);
}

int main(void)
{
	test_rfc_request();
	test_rfc_response4();
	test_rfc_response6();
	test_build_success();
	test_build_request();
	test_rejects();
	return check_done("stun");
}
