/* DTLS-SRTP handshake between two in-process endpoints, then SRTP/SRTCP with the exported
 * keys. Datagrams travel through queues so the test can drop, tamper and replay them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sfu/dtls.h"
#include "sfu/secure.h"

#define QUEUE_SLOTS 64
#define DGRAM_MAX 1500

struct side {
	dtls *d;
	uint8_t data[QUEUE_SLOTS][DGRAM_MAX];
	size_t len[QUEUE_SLOTS];
	int count;     /* datagrams waiting */
	int sent;      /* datagrams ever sent */
	int drop_at;   /* drop the n-th datagram ever sent (1-based), 0 for none */
	int dropped;
	int overflow;
	size_t largest;
	int connected; /* times dtls_feed said DTLS_CONNECTED */
	int errors;    /* times dtls_feed said DTLS_ERR */
	int closed;
};

static void queue_send(void *user, const uint8_t *data, size_t len)
{
	struct side *s = user;

	s->sent++;
	if (len > s->largest)
		s->largest = len;
	if (s->sent == s->drop_at) {
		s->dropped++;
		return;
	}
	if (s->count == QUEUE_SLOTS || len > DGRAM_MAX) {
		s->overflow++;
		return;
	}
	memcpy(s->data[s->count], data, len);
	s->len[s->count++] = len;
}

/* Delivers everything `from` has queued to `to`, counting what dtls_feed reports. */
static int deliver(struct side *from, struct side *to)
{
	int moved = 0;

	while (from->count > 0) {
		uint8_t pkt[DGRAM_MAX];
		size_t len = from->len[0];
		memcpy(pkt, from->data[0], len);
		memmove(from->data[0], from->data[1], (size_t)(from->count - 1) * DGRAM_MAX);
		memmove(from->len, from->len + 1, (size_t)(from->count - 1) * sizeof(size_t));
		from->count--;
		switch (dtls_feed(to->d, pkt, len)) {
		case DTLS_CONNECTED: to->connected++; break;
		case DTLS_ERR: to->errors++; break;
		case DTLS_CLOSED: to->closed++; break;
		default: break;
		}
		moved++;
	}
	return moved;
}

static void pump(struct side *a, struct side *b)
{
	for (int i = 0; i < 50; i++)
		if (deliver(a, b) + deliver(b, a) == 0)
			return;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static int done(const struct side *s)
{
	return dtls_is_connected(s->d) || dtls_has_failed(s->d);
}

/* Runs the handshake like an event loop would: deliver, then sleep until the earliest
 * retransmission timer and fire it. Gives up after two seconds. */
static void run_handshake(struct side *server, struct side *client)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_EQ_INT(dtls_start(server->d), 0);
	CHECK_EQ_INT(dtls_start(client->d), 0);
	pump(server, client);
	while (!(done(server) && done(client)) && elapsed_ms(&start) < 2000) {
		long ts = dtls_timeout_ms(server->d), tc = dtls_timeout_ms(client->d);
		long wait = ts < 0 ? tc : tc < 0 ? ts : ts < tc ? ts : tc;
		if (wait < 0)
			break;
		sleep_ms(wait);
		if (dtls_timeout_ms(server->d) == 0)
			dtls_handle_timeout(server->d);
		if (dtls_timeout_ms(client->d) == 0)
			dtls_handle_timeout(client->d);
		pump(server, client);
	}
}

static int parse_fingerprint(const char *text, uint8_t out[32])
{
	if (!text || strlen(text) != 95)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char c = text[i * 3 + j];
			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (unsigned)(c - 'A' + 10);
			else
				return -1;
		}
		if (i < 31 && text[i * 3 + 2] != ':')
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

struct pair {
	struct side *server, *client;
};

/* Makes a server/client pair; each expects the other's certificate unless told otherwise. */
static struct pair pair_new(dtls_ctx *sctx, dtls_ctx *cctx, int break_server_fp,
			    int break_client_fp)
{
	struct pair p = {calloc(1, sizeof(struct side)), calloc(1, sizeof(struct side))};
	uint8_t fp_of_client[32], fp_of_server[32];

	CHECK_EQ_INT(parse_fingerprint(dtls_ctx_fingerprint(cctx), fp_of_client), 0);
	CHECK_EQ_INT(parse_fingerprint(dtls_ctx_fingerprint(sctx), fp_of_server), 0);
	fp_of_client[0] ^= (uint8_t)break_server_fp;
	fp_of_server[5] ^= (uint8_t)break_client_fp;
	p.server->d = dtls_new(sctx, 1, fp_of_client, queue_send, p.server);
	p.client->d = dtls_new(cctx, 0, fp_of_server, queue_send, p.client);
	CHECK(p.server->d != NULL);
	CHECK(p.client->d != NULL);
	return p;
}

static void pair_free(struct pair p)
{
	dtls_free(p.server->d);
	dtls_free(p.client->d);
	free(p.server);
	free(p.client);
}

static size_t build_rtp(uint8_t *buf, uint16_t seq)
{
	buf[0] = 0x80;
	buf[1] = 111;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	memcpy(buf + 4, "\x00\x01\x02\x03\x11\x22\x33\x44", 8);
	for (int i = 0; i < 160; i++)
		buf[12 + i] = (uint8_t)(i * 7 + seq);
	return 12 + 160;
}

static size_t build_rtcp_rr(uint8_t *buf)
{
	/* A receiver report with no report blocks: header plus the sender's SSRC. */
	memcpy(buf, "\x80\xc9\x00\x01\x55\x66\x77\x88", 8);
	return 8;
}

/* Protects on `tx`, unprotects on `rx`, and checks replay and tamper rejection. */
static void check_srtp_direction(secure *tx, secure *rx, size_t tag_len)
{
	uint8_t plain[256], buf[256 + SECURE_MAX_TRAILER], copy[sizeof(buf)];
	size_t plen = build_rtp(plain, 1000), len = plen, clen;

	memcpy(buf, plain, plen);
	CHECK_EQ_INT(secure_protect_rtp(tx, buf, &len), 0);
	CHECK_EQ_INT(len, plen + tag_len);
	CHECK(memcmp(buf + 12, plain + 12, plen - 12) != 0); /* the payload is encrypted */
	/* The sender's own inbound keys are the peer's: it cannot read its own packet. */
	memcpy(copy, buf, len);
	clen = len;
	CHECK_EQ_INT(secure_unprotect_rtp(tx, copy, &clen), -1);
	memcpy(copy, buf, len);
	clen = len;
	CHECK_EQ_INT(secure_unprotect_rtp(rx, buf, &len), 0);
	CHECK_EQ_INT(len, plen);
	CHECK(memcmp(buf, plain, plen) == 0);
	/* The same packet again is a replay. */
	CHECK_EQ_INT(secure_unprotect_rtp(rx, copy, &clen), -1);

	/* A flipped payload bit fails authentication. */
	plen = build_rtp(plain, 1001);
	len = plen;
	memcpy(buf, plain, plen);
	CHECK_EQ_INT(secure_protect_rtp(tx, buf, &len), 0);
	buf[40] ^= 1;
	CHECK_EQ_INT(secure_unprotect_rtp(rx, buf, &len), -1);
	/* Resending the same packet (NACK answered from the cache) is allowed on send. */
	len = plen;
	memcpy(buf, plain, plen);
	CHECK_EQ_INT(secure_protect_rtp(tx, buf, &len), 0);
	CHECK_EQ_INT(secure_unprotect_rtp(rx, buf, &len), 0);

	/* SRTCP adds the 4-byte E+index word before the tag. */
	plen = build_rtcp_rr(plain);
	len = plen;
	memcpy(buf, plain, plen);
	CHECK_EQ_INT(secure_protect_rtcp(tx, buf, &len), 0);
	CHECK_EQ_INT(len, plen + 4 + tag_len);
	memcpy(copy, buf, len);
	clen = len;
	copy[6] ^= 0x80;
	CHECK_EQ_INT(secure_unprotect_rtcp(rx, copy, &clen), -1);
	CHECK_EQ_INT(secure_unprotect_rtcp(rx, buf, &len), 0);
	CHECK_EQ_INT(len, plen);
	CHECK(memcmp(buf, plain, plen) == 0);

	/* Too short to be a packet at all. */
	len = 5;
	CHECK_EQ_INT(secure_unprotect_rtp(rx, buf, &len), -1);
	len = 3;
	CHECK_EQ_INT(secure_unprotect_rtcp(rx, buf, &len), -1);
}

static void check_connected_pair(struct pair p, enum dtls_profile profile)
{
	dtls_srtp_keys ks, kc;
	size_t salt = profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	size_t tag = profile == DTLS_SRTP_AEAD_AES_128_GCM ? 16 : 10;
	secure *ss, *sc;

	CHECK_EQ_INT(p.server->connected, 1);
	CHECK_EQ_INT(p.client->connected, 1);
	CHECK_EQ_INT(p.server->errors + p.client->errors, 0);
	CHECK(dtls_is_connected(p.server->d));
	CHECK(dtls_is_connected(p.client->d));
	CHECK(p.server->largest <= 1200 && p.client->largest <= 1200);
	CHECK_EQ_INT(p.server->overflow + p.client->overflow, 0);
	CHECK_EQ_INT(dtls_get_srtp_keys(p.server->d, &ks), 0);
	CHECK_EQ_INT(dtls_get_srtp_keys(p.client->d, &kc), 0);
	CHECK_EQ_INT(ks.profile, profile);
	CHECK_EQ_INT(kc.profile, profile);
	CHECK_EQ_INT(ks.salt_len, salt);
	CHECK_EQ_INT(kc.salt_len, salt);
	CHECK(memcmp(ks.local_key, kc.remote_key, 16) == 0);
	CHECK(memcmp(ks.remote_key, kc.local_key, 16) == 0);
	CHECK(memcmp(ks.local_salt, kc.remote_salt, 14) == 0);
	CHECK(memcmp(ks.remote_salt, kc.local_salt, 14) == 0);
	CHECK(memcmp(ks.local_key, ks.remote_key, 16) != 0);

	ss = secure_new(&ks);
	sc = secure_new(&kc);
	CHECK(ss != NULL && sc != NULL);
	if (ss && sc) {
		check_srtp_direction(ss, sc, tag);
		check_srtp_direction(sc, ss, tag);
	}
	secure_free(ss);
	secure_free(sc);
}

static void test_handshake(dtls_ctx *sctx, dtls_ctx *cctx)
{
	struct pair p = pair_new(sctx, cctx, 0, 0);
	dtls_srtp_keys k;

	CHECK_EQ_INT(dtls_get_srtp_keys(p.client->d, &k), -1); /* not yet */
	CHECK_EQ_INT(dtls_timeout_ms(p.client->d), -1);      /* nothing sent yet */
	run_handshake(p.server, p.client);
	check_connected_pair(p, DTLS_SRTP_AEAD_AES_128_GCM);
	CHECK_EQ_INT(p.server->dropped + p.client->dropped, 0);

	/* close_notify reaches the peer as DTLS_CLOSED. */
	CHECK_EQ_INT(dtls_shutdown(p.client->d), 0);
	CHECK(p.client->count > 0);
	deliver(p.client, p.server);
	CHECK_EQ_INT(p.server->closed, 1);
	CHECK(!dtls_is_connected(p.server->d));
	CHECK_EQ_INT(dtls_shutdown(p.client->d), -1);
	pair_free(p);
}

/* The ClientHello is lost: the client's retransmission timer must recover it. */
static void test_lost_client_hello(dtls_ctx *sctx, dtls_ctx *cctx)
{
	struct pair p = pair_new(sctx, cctx, 0, 0);
	long t;

	p.client->drop_at = 1;
	CHECK_EQ_INT(dtls_start(p.client->d), 0);
	CHECK_EQ_INT(p.client->dropped, 1);
	t = dtls_timeout_ms(p.client->d);
	CHECK(t > 0 && t <= 100); /* the shortened first retransmission */
	run_handshake(p.server, p.client);
	check_connected_pair(p, DTLS_SRTP_AEAD_AES_128_GCM);
	pair_free(p);
}

/* The server's last datagram (its Finished) is lost after the server already considers the
 * handshake complete: the client retransmits its flight and the connected server must
 * answer it with its own final flight again. */
static void test_lost_server_finished(dtls_ctx *sctx, dtls_ctx *cctx)
{
	struct pair p = pair_new(sctx, cctx, 0, 0);
	int server_datagrams;
	struct pair q = pair_new(sctx, cctx, 0, 0);

	/* Count the server's datagrams in a clean handshake first, so the test does not bake in
	 * how OpenSSL splits its flights. */
	run_handshake(q.server, q.client);
	CHECK(dtls_is_connected(q.client->d));
	server_datagrams = q.server->sent;
	pair_free(q);

	p.server->drop_at = server_datagrams;
	CHECK_EQ_INT(dtls_start(p.client->d), 0);
	pump(p.server, p.client);
	CHECK_EQ_INT(p.server->dropped, 1);
	CHECK(dtls_is_connected(p.server->d));
	CHECK(!dtls_is_connected(p.client->d));
	run_handshake(p.server, p.client);
	check_connected_pair(p, DTLS_SRTP_AEAD_AES_128_GCM);
	pair_free(p);
}

static void test_fingerprint_mismatch(dtls_ctx *sctx, dtls_ctx *cctx, int server_side)
{
	struct pair p = pair_new(sctx, cctx, server_side ? 1 : 0, server_side ? 0 : 1);
	struct side *wrong = server_side ? p.server : p.client;
	struct side *other = server_side ? p.client : p.server;
	dtls_srtp_keys k;

	run_handshake(p.server, p.client);
	CHECK_EQ_INT(wrong->errors, 1);
	CHECK_EQ_INT(wrong->connected, 0);
	CHECK(dtls_has_failed(wrong->d));
	CHECK(strstr(dtls_last_error(wrong->d), "fingerprint") != NULL);
	CHECK_EQ_INT(dtls_get_srtp_keys(wrong->d, &k), -1);
	/* The bad_certificate alert makes the other side fail as well, not hang. */
	CHECK(dtls_has_failed(other->d));
	CHECK(!dtls_is_connected(other->d));
	/* A failed object stays failed and quiet. */
	CHECK_EQ_INT(dtls_feed(wrong->d, (const uint8_t *)"\x16\xfe\xfd", 3), DTLS_ERR);
	CHECK_EQ_INT(dtls_timeout_ms(wrong->d), -1);
	dtls_handle_timeout(wrong->d);
	pair_free(p);
}

static void test_aes_cm(dtls_ctx *sctx, dtls_ctx *cctx)
{
	struct pair p;

	CHECK_EQ_INT(dtls_ctx_set_profiles(sctx, "SRTP_AES128_CM_SHA1_80"), 0);
	p = pair_new(sctx, cctx, 0, 0);
	run_handshake(p.server, p.client);
	check_connected_pair(p, DTLS_SRTP_AES128_CM_SHA1_80);
	pair_free(p);
	CHECK_EQ_INT(dtls_ctx_set_profiles(sctx, "SRTP_NO_SUCH_PROFILE"), -1);
	CHECK_EQ_INT(dtls_ctx_set_profiles(sctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"),
		     0);
}

static void test_garbage(dtls_ctx *sctx, dtls_ctx *cctx)
{
	struct pair p = pair_new(sctx, cctx, 0, 0);
	uint8_t junk[600];
	uint32_t x = 12345;
	int r;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	/* Before the handshake: random bytes, an empty datagram, a truncated record header and
	 * a handshake record whose length runs past the datagram. */
	r = dtls_feed(p.server->d, junk, sizeof(junk));
	CHECK(r == DTLS_OK || r == DTLS_ERR);
	CHECK_EQ_INT(dtls_feed(p.server->d, junk, 0), DTLS_OK);
	r = dtls_feed(p.server->d, (const uint8_t *)"\x16\xfe", 2);
	CHECK(r == DTLS_OK || r == DTLS_ERR);
	r = dtls_feed(p.server->d,
		      (const uint8_t *)"\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01",
		      14);
	CHECK(r == DTLS_OK || r == DTLS_ERR);
	CHECK_EQ_INT(dtls_feed(NULL, junk, 4), DTLS_ERR);
	dtls_free(p.server->d);
	p.server->d = dtls_new(sctx, 1, (const uint8_t *)"0123456789abcdef0123456789abcdef",
			       queue_send, p.server);
	pair_free(p);

	/* After the handshake, junk that is not a valid record is dropped without harm. */
	p = pair_new(sctx, cctx, 0, 0);
	run_handshake(p.server, p.client);
	CHECK(dtls_is_connected(p.client->d));
	junk[0] = 0x17; /* application data, epoch and MAC wrong */
	junk[1] = 0xfe;
	junk[2] = 0xfd;
	r = dtls_feed(p.client->d, junk, sizeof(junk));
	CHECK(r == DTLS_OK || r == DTLS_ERR);
	CHECK_EQ_INT(dtls_feed(p.client->d, junk, 1), DTLS_OK);
	CHECK(dtls_is_connected(p.client->d));
	pair_free(p);
}

static void test_api_edges(dtls_ctx *ctx)
{
	uint8_t fp[32] = {0};
	dtls_srtp_keys k;

	CHECK(dtls_new(NULL, 1, fp, queue_send, NULL) == NULL);
	CHECK(dtls_new(ctx, 1, fp, NULL, NULL) == NULL);
	CHECK(dtls_new(ctx, 1, NULL, queue_send, NULL) == NULL);
	dtls_free(NULL);
	dtls_ctx_free(NULL);
	secure_free(NULL);
	CHECK_EQ_INT(dtls_start(NULL), -1);
	CHECK_EQ_INT(dtls_timeout_ms(NULL), -1);
	dtls_handle_timeout(NULL);

	memset(&k, 0, sizeof(k));
	CHECK(secure_new(&k) == NULL); /* no profile */
	k.profile = DTLS_SRTP_AEAD_AES_128_GCM;
	k.salt_len = 14; /* wrong for GCM */
	CHECK(secure_new(&k) == NULL);
	CHECK(secure_new(NULL) == NULL);
}

static void test_fingerprint_format(dtls_ctx *a, dtls_ctx *b)
{
	const char *fa = dtls_ctx_fingerprint(a), *fb = dtls_ctx_fingerprint(b);
	uint8_t bytes[32];

	CHECK(fa != NULL && fb != NULL);
	CHECK_EQ_INT(strlen(fa), 95);
	CHECK_EQ_INT(parse_fingerprint(fa, bytes), 0); /* upper-case hex and colons only */
	CHECK(strcmp(fa, fb) != 0);                    /* each context has its own certificate */
}

int main(void)
{
	dtls_ctx *sctx = dtls_ctx_new(), *cctx = dtls_ctx_new();

	CHECK(sctx != NULL && cctx != NULL);
	CHECK_EQ_INT(secure_global_init(), 0);
	CHECK_EQ_INT(secure_global_init(), 0); /* idempotent */
	if (sctx && cctx) {
		test_fingerprint_format(sctx, cctx);
		test_api_edges(sctx);
		test_handshake(sctx, cctx);
		test_lost_client_hello(sctx, cctx);
		test_lost_server_finished(sctx, cctx);
		test_fingerprint_mismatch(sctx, cctx, 0);
		test_fingerprint_mismatch(sctx, cctx, 1);
		test_aes_cm(sctx, cctx);
		test_garbage(sctx, cctx);
	}
	dtls_ctx_free(sctx);
	dtls_ctx_free(cctx);
	secure_global_shutdown();
	return check_done("dtls");
}
