/* Issue 9 finding 9: a peer that sends valid SRTP (its own DTLS-SRTP keys) on ever-new SSRCs.
 * libsrtp's wildcard inbound policy clones a stream for every SSRC that authenticates, so
 * without a bound each new SSRC cost the server memory, for as long as the session lasted.
 *
 * A real media plane on a libuv loop and a client made here as a browser is: the Chromium
 * offer with the client's own certificate, a STUN check over UDP, a DTLS client handshake,
 * then SRTP and SRTCP from its keys. The client sends on its declared microphone SSRC, then
 * on 10,000 further SSRCs (RTP) and 500 more (RTCP): the server unprotects at most
 * SECURE_MAX_INBOUND_SSRCS of them, drops the rest before unprotecting (counted), its heap
 * does not grow with them, and the microphone keeps working. A renegotiation with other
 * m-lines frees the streams the new tracks do not declare and makes room again. */
#include "check.h"
#include "rtp/stun.h"
#include "sfu/sfu_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#if __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#else
size_t __sanitizer_get_current_allocated_bytes(void);
#endif
#else
#include <malloc.h>
#endif

#define FIXTURE    "tests/fixtures/chromium-156-offer.sdp"
#define MIC_SSRC   4124807876u /* the fixture's a=ssrc for mid 0 */
#define FLOOD_RTP  10000
#define FLOOD_RTCP 500
/* What the flood may leave on the heap: a few allocations of libuv's and the log's, nothing
 * per SSRC (each libsrtp stream costs a few hundred bytes, 10,000 of them megabytes). */
#define HEAP_SLACK (64 * 1024)

static size_t heap_bytes(void)
{
#ifdef TEST_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#endif
}

typedef struct env {
	uv_loop_t loop;
	sfu *s;
	sfu_peer *p;
	dtls_ctx *cctx;
	char *offer;
	size_t offer_len;
	char ufrag[64], pwd[64];
	int fd;
	struct sockaddr_in server;
	dtls *d;
	srtp_t tx;
	uint16_t mic_seq;
	uint64_t sent;
} env;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void copy_attr(const char *sdp, const char *name, char *out, size_t cap)
{
	const char *p = strstr(sdp, name);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(name);
	size_t n = strcspn(p, "\r\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void send_raw(env *e, const uint8_t *data, size_t len)
{
	if (sendto(e->fd, data, len, 0, (struct sockaddr *)&e->server, sizeof e->server) ==
	    (ssize_t)len)
		e->sent++;
}

static void dtls_out(void *user, const uint8_t *data, size_t len)
{
	send_raw(user, data, len);
}

/* Runs the server's loop and hands what reached the client to its DTLS. */
static void pump(env *e, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	do {
		uv_run(&e->loop, UV_RUN_NOWAIT);
		uint8_t buf[2048];
		ssize_t n;
		while ((n = recv(e->fd, buf, sizeof buf, 0)) > 0)
			if (e->d && buf[0] >= 20 && buf[0] <= 63)
				dtls_feed(e->d, buf, (size_t)n);
		if (e->d && dtls_timeout_ms(e->d) == 0)
			dtls_handle_timeout(e->d);
		if (ms > 0)
			usleep(200);
	} while (now_ms() < end);
}

/* The fixture with the client's certificate in place of Chromium's. */
static int make_offer(env *e)
{
	e->offer = check_read_file(FIXTURE, &e->offer_len);
	if (!e->offer)
		return -1;
	const char *fp = dtls_ctx_fingerprint(e->cctx);
	const char *key = "a=fingerprint:sha-256 ";
	for (char *at = strstr(e->offer, key); at; at = strstr(at + 1, key)) {
		char *v = at + strlen(key);
		if (strcspn(v, "\r\n") != strlen(fp))
			return -1;
		memcpy(v, fp, strlen(fp));
	}
	return 0;
}

static int negotiate(env *e, const sfu_track_role *roles, int n_roles)
{
	char *answer = NULL, err[160] = "";
	int rc =
	    sfu_peer_offer(e->p, e->offer, e->offer_len, roles, n_roles, &answer, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "offer: %s\n", err);
		return -1;
	}
	copy_attr(answer, "a=ice-ufrag:", e->ufrag, sizeof e->ufrag);
	copy_attr(answer, "a=ice-pwd:", e->pwd, sizeof e->pwd);
	free(answer);
	return 0;
}

static int parse_fp(const char *text, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(text + 3 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* The client's sending session, keyed as the browser's would be. */
static srtp_t client_session(const dtls_srtp_keys *k)
{
	srtp_policy_t pol;
	memset(&pol, 0, sizeof pol);
	if (k->profile == DTLS_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	uint8_t master[30];
	memcpy(master, k->local_key, 16);
	memcpy(master + 16, k->local_salt, k->salt_len);
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = master;
	pol.window_size = 1024;
	pol.allow_repeat_tx = 1; /* the test replays on purpose */
	srtp_t s = NULL;
	return srtp_create(&s, &pol) == srtp_err_status_ok ? s : NULL;
}

/* ICE (one check with USE-CANDIDATE) and the DTLS handshake, the client in the DTLS client
 * role (the offer says actpass, so the server is passive). */
static int connect_media(env *e)
{
	uint8_t req[512], txid[12] = {1, 2, 3};
	char user[160];
	snprintf(user, sizeof user, "%s:CZ1V", e->ufrag);
	ssize_t n = stun_build_binding_request(req, sizeof req, txid, user, 0x6e001eff, 1, 42,
	                                       (const uint8_t *)e->pwd, strlen(e->pwd));
	if (n <= 0)
		return -1;
	send_raw(e, req, (size_t)n);
	pump(e, 20);
	if (e->p->selected < 0)
		return -1;
	uint8_t fp[32];
	if (parse_fp(dtls_ctx_fingerprint(e->s->dtls_ctx), fp) != 0)
		return -1;
	e->d = dtls_new(e->cctx, 0, fp, dtls_out, e);
	if (!e->d || dtls_start(e->d) != 0)
		return -1;
	uint64_t end = now_ms() + 3000;
	while (!(dtls_is_connected(e->d) && sfu_peer_connected(e->p)) && now_ms() < end)
		pump(e, 5);
	dtls_srtp_keys k;
	if (!sfu_peer_connected(e->p) || dtls_get_srtp_keys(e->d, &k) != 0)
		return -1;
	e->tx = client_session(&k);
	return e->tx ? 0 : -1;
}

/* One Opus-sized RTP packet on ssrc. `forget`: the client drops its own stream afterwards,
 * so that its side of the flood does not grow the heap being measured. */
static void send_rtp(env *e, uint32_t ssrc, uint16_t seq, int forget)
{
	uint8_t pkt[12 + 100 + SRTP_MAX_TRAILER_LEN] = {0x80, 111};
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	uint32_t ts = htonl(960u * seq), nssrc = htonl(ssrc);
	memcpy(pkt + 4, &ts, 4);
	memcpy(pkt + 8, &nssrc, 4);
	memset(pkt + 12, 0x5a, 100);
	int len = 112;
	CHECK_EQ_INT(srtp_protect(e->tx, pkt, &len), srtp_err_status_ok);
	send_raw(e, pkt, (size_t)len);
	if (forget)
		srtp_remove_stream(e->tx, nssrc);
}

/* An empty receiver report from ssrc, as SRTCP. */
static void send_rtcp(env *e, uint32_t ssrc)
{
	uint8_t pkt[8 + SRTP_MAX_TRAILER_LEN + 4] = {0x80, 201, 0, 1};
	uint32_t nssrc = htonl(ssrc);
	memcpy(pkt + 4, &nssrc, 4);
	int len = 8;
	CHECK_EQ_INT(srtp_protect_rtcp(e->tx, pkt, &len), srtp_err_status_ok);
	send_raw(e, pkt, (size_t)len);
	srtp_remove_stream(e->tx, nssrc);
}

static uint64_t mic_received(env *e)
{
	in_track *t = fwd_track_by_role(e->p, SFU_ROLE_MIC, SDP_KIND_AUDIO);
	return t ? t->rx.received : 0;
}

/* Sends on `count` SSRCs from `first`, letting the server read every few packets so that
 * none is lost in the socket buffer. */
static void flood_rtp(env *e, uint32_t first, int count)
{
	for (int i = 0; i < count; i++) {
		send_rtp(e, first + (uint32_t)i, 1, 1);
		if (i % 16 == 15)
			pump(e, 0);
	}
	pump(e, 20);
}

static void test_flood(env *e)
{
	const sfu_stats *st = sfu_get_stats(e->s);
	send_rtp(e, MIC_SSRC, ++e->mic_seq, 0);
	pump(e, 20);
	CHECK_EQ_INT(mic_received(e), 1);

	/* Fill the table, and let one-time allocations (libuv, the log) happen before the
	 * heap is measured. */
	flood_rtp(e, 1000, 2 * SECURE_MAX_INBOUND_SSRCS);
	CHECK_EQ_INT(secure_inbound_ssrcs(e->p->srtp), SECURE_MAX_INBOUND_SSRCS);
	uint64_t refused0 = st->srtp_ssrc_refused, failures0 = st->srtp_unprotect_failures;
	uint64_t rx0 = st->rx_packets, sent0 = e->sent;
	size_t heap0 = heap_bytes();

	flood_rtp(e, 100000, FLOOD_RTP);
	for (int i = 0; i < FLOOD_RTCP; i++) {
		send_rtcp(e, 200000 + (uint32_t)i);
		if (i % 16 == 15)
			pump(e, 0);
	}
	pump(e, 20);
	size_t heap1 = heap_bytes();
	printf("flood: %d RTP and %d RTCP SSRCs, heap %+lld bytes, refused %llu\n", FLOOD_RTP,
	       FLOOD_RTCP, (long long)heap1 - (long long)heap0,
	       (unsigned long long)(st->srtp_ssrc_refused - refused0));
	CHECK_EQ_INT(st->rx_packets - rx0, e->sent - sent0); /* nothing lost on the way */
	CHECK_EQ_INT(st->srtp_ssrc_refused - refused0, FLOOD_RTP + FLOOD_RTCP);
	CHECK_EQ_INT(st->srtp_unprotect_failures, failures0);
	CHECK(heap1 < heap0 + HEAP_SLACK);
	CHECK_EQ_INT(secure_inbound_ssrcs(e->p->srtp), SECURE_MAX_INBOUND_SSRCS);

	/* The streams it had are untouched: the microphone goes on, a replay is refused. */
	send_rtp(e, MIC_SSRC, ++e->mic_seq, 0);
	pump(e, 20);
	CHECK_EQ_INT(mic_received(e), 2);
	uint64_t failures = st->srtp_unprotect_failures;
	e->mic_seq--;
	send_rtp(e, MIC_SSRC, e->mic_seq++, 0); /* the same sequence number again */
	pump(e, 20);
	CHECK_EQ_INT(st->srtp_unprotect_failures, failures + 1);
	CHECK_EQ_INT(mic_received(e), 2);
}

/* The same PeerConnection renegotiates with only its microphone: the streams of SSRCs the
 * new tracks do not declare are freed in libsrtp (a packet it had already seen on one of
 * them is accepted again, as on a new stream), the microphone's is kept (a replay is still
 * refused), and new SSRCs are accepted again up to the limit. */
static void test_renegotiation(env *e)
{
	const sfu_stats *st = sfu_get_stats(e->s);
	uint64_t failures = st->srtp_unprotect_failures;
	send_rtp(e, 1000, 1, 1); /* the flood's first SSRC, its first packet again */
	pump(e, 20);
	CHECK_EQ_INT(st->srtp_unprotect_failures, failures + 1);

	size_t heap0 = heap_bytes();
	sfu_track_role mic_only[] = {{"0", SFU_ROLE_MIC}};
	CHECK_EQ_INT(negotiate(e, mic_only, 1), 0);
	CHECK(sfu_peer_connected(e->p));
	CHECK_EQ_INT(secure_inbound_ssrcs(e->p->srtp), 1);
	printf("renegotiation: heap %+lld bytes\n", (long long)heap_bytes() - (long long)heap0);

	failures = st->srtp_unprotect_failures;
	send_rtp(e, 1000, 1, 1); /* its stream is gone: accepted as new */
	e->mic_seq--;
	send_rtp(e, MIC_SSRC, e->mic_seq++, 0); /* its stream is kept: still a replay */
	send_rtp(e, MIC_SSRC, ++e->mic_seq, 0);
	pump(e, 20);
	CHECK_EQ_INT(st->srtp_unprotect_failures, failures + 1);
	CHECK_EQ_INT(mic_received(e), 1); /* the track is new; its stream is not */
	CHECK_EQ_INT(secure_inbound_ssrcs(e->p->srtp), 2);

	uint64_t refused = st->srtp_ssrc_refused;
	flood_rtp(e, 300000, SECURE_MAX_INBOUND_SSRCS);
	CHECK_EQ_INT(st->srtp_ssrc_refused, refused + 2);
	CHECK_EQ_INT(secure_inbound_ssrcs(e->p->srtp), SECURE_MAX_INBOUND_SSRCS);
}

int main(void)
{
	env e;
	memset(&e, 0, sizeof e);
	uv_loop_init(&e.loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .n_ips = 1};
	cfg.ips[0] = "127.0.0.1";
	e.s = sfu_new(&e.loop, &cfg);
	e.cctx = dtls_ctx_new();
	CHECK(e.s && e.cctx);
	if (!e.s || !e.cctx || make_offer(&e) != 0)
		return check_done("srtp_ssrc");
	e.p = sfu_peer_new(e.s, "flooder");
	e.fd = socket(AF_INET, SOCK_DGRAM, 0);
	fcntl(e.fd, F_SETFL, fcntl(e.fd, F_GETFL) | O_NONBLOCK);
	e.server.sin_family = AF_INET;
	e.server.sin_port = htons((uint16_t)sfu_port(e.s));
	inet_pton(AF_INET, "127.0.0.1", &e.server.sin_addr);

	sfu_track_role roles[] = {{"0", SFU_ROLE_MIC}, {"1", SFU_ROLE_CAMERA}};
	CHECK_EQ_INT(negotiate(&e, roles, 2), 0);
	int connected = connect_media(&e) == 0;
	CHECK(connected);
	if (connected) {
		test_flood(&e);
		test_renegotiation(&e);
	}

	if (e.tx)
		srtp_dealloc(e.tx);
	dtls_free(e.d);
	close(e.fd);
	free(e.offer);
	sfu_peer_free(e.p);
	sfu_free(e.s);
	uv_run(&e.loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
	dtls_ctx_free(e.cctx);
	secure_global_shutdown();
	return check_done("srtp_ssrc");
}
