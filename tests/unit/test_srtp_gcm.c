/* Our AES-GCM for libsrtp2 (sfu/srtp_gcm.c) against libsrtp2's own.
 *
 * Sessions keyed for AEAD_AES_128_GCM are made first with libsrtp2's built-in cipher (NSS on
 * Debian), then ours is registered and the same keys make a second pair. A cipher object keeps
 * the type it was made with, so both live side by side: every packet protected by one must
 * unprotect with the other, byte for byte the same (GCM is deterministic for the same key and
 * IV), for SRTP and SRTCP, over payload sizes from 0 to 1200 octets; a changed octet anywhere
 * or a cut tag must fail with ours. It also prints what protecting a 1200-octet packet costs
 * with each (a figure, not a check). */
#include "check.h"
#include "sfu/secure.h"
#include "sfu/srtp_gcm.h"

#include <srtp2/srtp.h>
#include <string.h>
#include <time.h>

#define BUF (1500 + SECURE_MAX_TRAILER)

static void keys(dtls_srtp_keys *k, dtls_srtp_keys *mirror)
{
	*k = (dtls_srtp_keys){.profile = DTLS_SRTP_AEAD_AES_128_GCM, .salt_len = 12};
	for (int i = 0; i < 16; i++) {
		k->local_key[i] = (uint8_t)(i * 7 + 1);
		k->remote_key[i] = (uint8_t)(0x90 + i);
	}
	for (int i = 0; i < 12; i++) {
		k->local_salt[i] = (uint8_t)(0x30 + i);
		k->remote_salt[i] = (uint8_t)(0xd0 + i);
	}
	*mirror = *k;
	memcpy(mirror->local_key, k->remote_key, 16);
	memcpy(mirror->remote_key, k->local_key, 16);
	memcpy(mirror->local_salt, k->remote_salt, 12);
	memcpy(mirror->remote_salt, k->local_salt, 12);
}

/* An RTP packet with a one-octet header extension and n octets of payload. */
static size_t rtp_packet(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t n)
{
	const uint8_t hdr[] = {0x90, 0x60, 0, 0, 0, 1, 0x5f, 0x90, 0, 0, 0, 0,
	                       0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0};
	memcpy(p, hdr, sizeof hdr);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < n; i++)
		p[sizeof hdr + i] = (uint8_t)(i * 31 + seq);
	return sizeof hdr + n;
}

/* A receiver report with one block, then a PLI: a compound SRTCP packet. */
static size_t rtcp_packet(uint8_t *p, uint32_t ssrc, uint8_t fill)
{
	const uint8_t rr[] = {0x81, 201, 0, 7, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 5,
	                      0, 0, 0x10, 0x20, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
	                      0x81, 206, 0, 2, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
	memcpy(p, rr, sizeof rr);
	for (int at = 4; at <= 36; at += 32) {
		p[at] = (uint8_t)(ssrc >> 24);
		p[at + 1] = (uint8_t)(ssrc >> 16);
		p[at + 2] = (uint8_t)(ssrc >> 8);
		p[at + 3] = (uint8_t)ssrc;
	}
	p[27] = fill;
	return sizeof rr;
}

/* One packet through `from` (protect) and `to` (unprotect), RTP or RTCP. Returns 0 when
 * `to` gave back exactly the plain packet; *wire gets the protected bytes. */
static int pass(secure *from, secure *to, int rtcp, const uint8_t *plain, size_t len,
                uint8_t *wire, size_t *wire_len)
{
	uint8_t buf[BUF];
	memcpy(buf, plain, len);
	size_t n = len;
	if ((rtcp ? secure_protect_rtcp(from, buf, &n) : secure_protect_rtp(from, buf, &n)) != 0)
		return -1;
	memcpy(wire, buf, n);
	*wire_len = n;
	if ((rtcp ? secure_unprotect_rtcp(to, buf, &n) : secure_unprotect_rtp(to, buf, &n)) != 0)
		return -2;
	return n == len && memcmp(buf, plain, len) == 0 ? 0 : -3;
}

/* One packet ours -> libsrtp2's and libsrtp2's -> ours, each on its own pair of sessions so
 * that the replay windows see every index once. Returns 1 when both passed; *same counts
 * the packets both protected to the same bytes. */
static int both_ways(secure *our_a, secure *lib_b, secure *lib_a, secure *our_b, int rtcp,
                     const uint8_t *plain, size_t len, int *same)
{
	uint8_t w1[BUF], w2[BUF];
	size_t l1 = 0, l2 = 0;
	int x = pass(our_a, lib_b, rtcp, plain, len, w1, &l1);
	int y = pass(lib_a, our_b, rtcp, plain, len, w2, &l2);
	CHECK_EQ_INT(x, 0);
	CHECK_EQ_INT(y, 0);
	*same += x == 0 && y == 0 && l1 == l2 && memcmp(w1, w2, l1) == 0;
	return x == 0 && y == 0;
}

static double protect_us(secure *s, uint32_t ssrc)
{
	uint8_t plain[BUF], buf[BUF];
	size_t len = rtp_packet(plain, 0, ssrc, 1200);
	enum { N = 20000 };
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N; i++) {
		plain[2] = (uint8_t)(i >> 8);
		plain[3] = (uint8_t)i;
		memcpy(buf, plain, len);
		size_t n = len;
		if (secure_protect_rtp(s, buf, &n) != 0)
			return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / N;
}

int main(void)
{
	CHECK_EQ_INT(srtp_init(), srtp_err_status_ok);
	dtls_srtp_keys k, mirror;
	keys(&k, &mirror);
	/* libsrtp2's own cipher... */
	secure *lib_a = secure_new(&k), *lib_b = secure_new(&mirror);
	secure *lib_bench = secure_new(&k);
	/* ...then ours (libsrtp2 runs its known-answer and round-trip tests on it here). */
	CHECK_EQ_INT(srtp_gcm_install(), 0);
	secure *our_a = secure_new(&k), *our_b = secure_new(&mirror);
	secure *our_bench = secure_new(&k);
	CHECK(lib_a && lib_b && our_a && our_b && lib_bench && our_bench);
	if (!lib_a || !lib_b || !our_a || !our_b || !lib_bench || !our_bench)
		return check_done("srtp_gcm");

	uint8_t plain[BUF];
	int rtp_ok = 0, rtcp_ok = 0, same = 0;
	const size_t sizes[] = {0, 1, 15, 16, 17, 160, 1000, 1200};
	uint16_t seq = 100;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++, seq++) {
		size_t len = rtp_packet(plain, seq, 0x01020304, sizes[i]);
		rtp_ok += both_ways(our_a, lib_b, lib_a, our_b, 0, plain, len, &same);
	}
	for (int i = 0; i < 4; i++) {
		size_t len = rtcp_packet(plain, 0x0a0b0c0d, (uint8_t)i);
		rtcp_ok += both_ways(our_a, lib_b, lib_a, our_b, 1, plain, len, &same);
	}
	CHECK_EQ_INT(same, 8 + 4);

	/* Tampering: every octet of a protected packet flipped in turn (a fresh sequence number
	 * each, so the replay window is not what refuses it), and the tag cut short. */
	int refused = 0, tries = 0;
	for (size_t at = 0; at < 20 + 40 + 16; at++, seq++) {
		size_t len = rtp_packet(plain, seq, 0x01020304, 40);
		uint8_t buf[BUF];
		memcpy(buf, plain, len);
		size_t n = len;
		CHECK_EQ_INT(secure_protect_rtp(lib_a, buf, &n), 0);
		if (at >= n)
			break;
		if (at == 2 || at == 3)
			continue; /* the sequence number: a different index, checked below */
		buf[at] ^= 0x01;
		tries++;
		refused += secure_unprotect_rtp(our_b, buf, &n) != 0;
	}
	CHECK(tries > 60);
	CHECK_EQ_INT(refused, tries);
	{
		size_t len = rtp_packet(plain, seq++, 0x01020304, 40);
		uint8_t buf[BUF];
		memcpy(buf, plain, len);
		size_t n = len;
		CHECK_EQ_INT(secure_protect_rtp(lib_a, buf, &n), 0);
		/* A failed unprotect leaves the buffer decrypted in place: each try on a copy. */
		uint8_t wire[BUF];
		memcpy(wire, buf, n);
		buf[3] ^= 0x02; /* another sequence number: another IV */
		size_t m = n;
		CHECK(secure_unprotect_rtp(our_b, buf, &m) != 0);
		memcpy(buf, wire, n);
		m = n - 8; /* half the tag gone */
		CHECK(secure_unprotect_rtp(our_b, buf, &m) != 0);
		memcpy(buf, wire, n);
		m = n; /* and the untouched packet still passes */
		CHECK_EQ_INT(secure_unprotect_rtp(our_b, buf, &m), 0);
		CHECK_EQ_INT(m, len);
	}
	{
		size_t len = rtcp_packet(plain, 0x0a0b0c0d, 9);
		uint8_t buf[BUF];
		memcpy(buf, plain, len);
		size_t n = len;
		CHECK_EQ_INT(secure_protect_rtcp(lib_a, buf, &n), 0);
		buf[10] ^= 0x40;
		CHECK(secure_unprotect_rtcp(our_b, buf, &n) != 0);
	}

	double lib_us = protect_us(lib_bench, 0x55667788), our_us = protect_us(our_bench, 0x55667788);
	printf("srtp_gcm: %d rtp and %d rtcp round trips both ways, %d of 12 identical on the wire, "
	       "%d of %d tampered packets refused; protect 1200 octets: libsrtp2's %.2f us, "
	       "ours %.2f us\n",
	       rtp_ok, rtcp_ok, same, refused, tries, lib_us, our_us);
	CHECK(our_us > 0 && lib_us > 0);

	secure_free(lib_a);
	secure_free(lib_b);
	secure_free(lib_bench);
	secure_free(our_a);
	secure_free(our_b);
	secure_free(our_bench);
	srtp_shutdown();
	return check_done("srtp_gcm");
}
