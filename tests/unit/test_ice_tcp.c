/* Tests for ICE-TCP (tcp.c, tcp_frame.c): a real sfu on a libuv loop, a peer negotiated
 * with a real Chromium offer, and real TCP sockets as the browser's side. STUN checks go
 * in framed (RFC 4571) and cut in every way, framed answers must come back; garbage,
 * oversized frames, silent and idle connections, a flood of connections (over the cap, and
 * over 8 from one address) and a receiver that does not read are each met with the
 * documented limit; connections that passed a check are never evicted for new ones; sfu_free
 * closes everything. */
#include "check.h"
#include "rtp/stun.h"
#include "sfu/sfu_internal.h"
#include "sfu/tcp_frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE "tests/fixtures/chromium-156-offer.sdp"

typedef struct env {
	uv_loop_t loop;
	sfu *s;
	sfu_peer *p;
	char ufrag[32], pwd[64];
	int port;
} env;

typedef struct client {
	int fd;
	uint8_t buf[1 << 17];
	size_t have;
	int closed; /* EOF or reset seen */
} client;

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pump(env *e, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	do {
		uv_run(&e->loop, UV_RUN_NOWAIT);
		usleep(500);
	} while (now_ms() < end);
}

static const sfu_stats *stats(env *e)
{
	return sfu_get_stats(e->s);
}

/* A client whose source address is `from` (Linux routes all of 127/8 to lo). */
static client *client_new_from(env *e, const char *from)
{
	client *c = calloc(1, sizeof *c);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in local = {.sin_family = AF_INET};
	inet_pton(AF_INET, from, &local.sin_addr);
	if (bind(c->fd, (struct sockaddr *)&local, sizeof local) != 0)
		c->closed = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e->port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	/* The kernel completes the handshake from the listen backlog; libuv accepts later. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		c->closed = 1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return c;
}

static client *client_new(env *e)
{
	return client_new_from(e, "127.0.0.1");
}

static void client_free(client *c)
{
	if (c) {
		close(c->fd);
		free(c);
	}
}

static void client_send(env *e, client *c, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return;
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else {
			pump(e, 1);
		}
	}
}

/* Moves whatever the socket has into the client's buffer. */
static void client_poll(client *c)
{
	while (!c->closed && c->have < sizeof c->buf) {
		ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
		if (n > 0)
			c->have += (size_t)n;
		else if (n == 0 || errno != EAGAIN)
			c->closed = 1;
		else
			return;
	}
}

/* The next frame the server sent: its length, or -1 at a timeout or the end of the stream. */
static int client_frame(env *e, client *c, uint8_t *out, size_t cap, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		client_poll(c);
		if (c->have >= 2) {
			size_t len = (size_t)c->buf[0] << 8 | c->buf[1];
			if (c->have >= 2 + len && len <= cap) {
				memcpy(out, c->buf + 2, len);
				memmove(c->buf, c->buf + 2 + len, c->have - 2 - len);
				c->have -= 2 + len;
				return (int)len;
			}
		}
		if (c->closed || now_ms() >= end)
			return -1;
		pump(e, 1);
	}
}

static int client_wait_closed(env *e, client *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	while (!c->closed && now_ms() < end) {
		pump(e, 2);
		c->have = 0;
		client_poll(c);
	}
	return c->closed;
}

/* A framed Binding request as Chromium sends it on a TCP pair. */
static size_t framed_request(env *e, const uint8_t txid[12], uint8_t *out, size_t cap)
{
	char user[80];
	snprintf(user, sizeof user, "%s:x", e->ufrag);
	ssize_t n = stun_build_binding_request(out + 2, cap - 2, txid, user, 0x6e001eff, 1,
	                                       0x1234567890abcdefull, (const uint8_t *)e->pwd,
	                                       strlen(e->pwd));
	CHECK(n > 0);
	if (n <= 0)
		return 0;
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	return (size_t)n + 2;
}

/* Reads the next frame and checks it is the success response to txid, authenticated with
 * the server's password and mapping this client's own address. */
static int expect_success(env *e, client *c, const uint8_t txid[12])
{
	uint8_t resp[1024];
	int n = client_frame(e, c, resp, sizeof resp, 2000);
	CHECK(n > 0);
	if (n <= 0)
		return 0;
	stun_msg m;
	int ok = stun_parse(resp, (size_t)n, &m) == 0;
	CHECK(ok);
	if (!ok)
		return 0;
	CHECK_EQ_INT(m.type, STUN_BINDING_SUCCESS);
	CHECK(memcmp(m.txid, txid, 12) == 0);
	CHECK(stun_check_integrity(resp, (size_t)n, &m, (const uint8_t *)e->pwd, strlen(e->pwd)) ==
	      0);
	CHECK(stun_check_fingerprint(resp, (size_t)n, &m) == 0);
	struct sockaddr_in local;
	socklen_t ll = sizeof local;
	getsockname(c->fd, (struct sockaddr *)&local, &ll);
	CHECK(m.has_xor_mapped &&
	      ((struct sockaddr_in *)&m.xor_mapped)->sin_port == local.sin_port);
	return m.type == STUN_BINDING_SUCCESS && memcmp(m.txid, txid, 12) == 0;
}

static void make_txid(uint8_t txid[12], uint32_t tag)
{
	memset(txid, 0x5a, 12);
	memcpy(txid, &tag, sizeof tag);
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

/* Negotiates e->p with the Chromium offer and keeps the answer's credentials; returns the
 * answer. */
static char *negotiate(env *e)
{
	size_t len;
	char *offer = check_read_file(FIXTURE, &len);
	CHECK(offer != NULL);
	sfu_track_role roles[] = {{"0", SFU_ROLE_MIC}, {"1", SFU_ROLE_CAMERA}};
	char *answer = NULL, err[128] = "";
	int rc = offer ? sfu_peer_offer(e->p, offer, len, roles, 2, &answer, err, sizeof err) : -1;
	free(offer);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "offer: %s\n", err);
		return NULL;
	}
	copy_attr(answer, "a=ice-ufrag:", e->ufrag, sizeof e->ufrag);
	copy_attr(answer, "a=ice-pwd:", e->pwd, sizeof e->pwd);
	CHECK(strlen(e->ufrag) >= 4 && strlen(e->pwd) >= 22);
	return answer;
}

/* Starts an sfu with ICE-TCP as configured and negotiates one peer; returns its answer. */
static char *env_start(env *e, int tcp)
{
	memset(e, 0, sizeof *e);
	uv_loop_init(&e->loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .tcp = tcp, .n_ips = 1};
	cfg.ips[0] = "127.0.0.1";
	e->s = sfu_new(&e->loop, &cfg);
	CHECK(e->s != NULL);
	if (!e->s)
		return NULL;
	e->port = sfu_port(e->s);
	e->p = sfu_peer_new(e->s, "kiosk");
	return negotiate(e);
}

static void env_stop(env *e)
{
	sfu_free(e->s);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	/* Every handle of the sfu, the listener and the connections included, is closed. */
	CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
}

static void test_answer(env *e, const char *answer)
{
	/* RFC 8445 / RFC 6544 priorities: UDP host type preference 126, TCP 99; a passive TCP
	 * host candidate's local preference is direction 4 << 13 plus 8191. */
	char line[160];
	unsigned udp = (126u << 24) | (65535u << 8) | 255u;
	unsigned tcp = (99u << 24) | (40959u << 8) | 255u;
	snprintf(line, sizeof line, "a=candidate:1 1 udp %u 127.0.0.1 %d typ host\r\n", udp,
	         e->port);
	CHECK(strstr(answer, line) != NULL);
	snprintf(line, sizeof line,
	         "a=candidate:2 1 tcp %u 127.0.0.1 %d typ host tcptype passive\r\n", tcp, e->port);
	CHECK(strstr(answer, line) != NULL);
	CHECK(udp > tcp);
	CHECK(e->port > 0);
}

static void test_answer_without_tcp(void)
{
	env e;
	char *answer = env_start(&e, 0);
	CHECK(answer && strstr(answer, " tcp ") == NULL && strstr(answer, " udp ") != NULL);
	free(answer);
	/* Nobody listens on the TCP port. */
	client *c = client_new(&e);
	CHECK(client_wait_closed(&e, c, 200));
	client_free(c);
	env_stop(&e);
}

/* One request cut into single bytes and pieces, then two requests in one write. */
static client *test_check_split_and_batched(env *e)
{
	client *c = client_new(e);
	pump(e, 20);
	CHECK_EQ_INT(stats(e)->ice_tcp_connections, 1);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 1);

	uint8_t req[256], txid[12];
	make_txid(txid, 1);
	size_t n = framed_request(e, txid, req, sizeof req);
	size_t cuts[] = {0, 1, 2, 7, 30, n};
	for (int i = 0; i + 1 < (int)(sizeof cuts / sizeof cuts[0]); i++) {
		client_send(e, c, req + cuts[i], cuts[i + 1] - cuts[i]);
		pump(e, 5);
	}
	CHECK(expect_success(e, c, txid));
	CHECK(e->p->selected >= 0 && e->p->addrs[e->p->selected].tcp != NULL);

	uint8_t two[512], txid2[12], txid3[12];
	make_txid(txid2, 2);
	make_txid(txid3, 3);
	size_t a = framed_request(e, txid2, two, sizeof two);
	size_t b = framed_request(e, txid3, two + a, sizeof two - a);
	client_send(e, c, two, a + b);
	CHECK(expect_success(e, c, txid2));
	CHECK(expect_success(e, c, txid3));
	return c;
}

/* Frames the demux must refuse leave the connection usable. */
static void test_garbage(env *e, client *c)
{
	uint64_t bad = stats(e)->stun_bad, unknown = stats(e)->rtp_dropped_unknown;
	uint8_t junk[64] = {0, 0,                           /* empty frame: skipped */
	                    0, 8, 0,   1, 0, 0, 9, 9, 9, 9, /* STUN-like, too short */
	                    0, 4, 100, 1, 2, 3};            /* no protocol starts with 100 */
	client_send(e, c, junk, 18);
	uint8_t req[256], txid[12];
	make_txid(txid, 4);
	size_t n = framed_request(e, txid, req, sizeof req);
	req[n - 1] ^= 1; /* a wrong FINGERPRINT */
	client_send(e, c, req, n);
	req[n - 1] ^= 1;
	client_send(e, c, req, n);
	CHECK(expect_success(e, c, txid));
	CHECK_EQ_INT(stats(e)->stun_bad, bad + 2);
	CHECK_EQ_INT(stats(e)->rtp_dropped_unknown, unknown + 1);
	CHECK(!c->closed);
}

/* A receiver that does not read: the send queue stops at its cap, later frames are dropped
 * and counted, and what was queued arrives whole and in order. */
static void test_send_queue(env *e, client *c)
{
	struct tcp_conn *conn = e->p->addrs[e->p->selected].tcp;
	uint64_t dropped = stats(e)->ice_tcp_dropped;
	enum { N = 12000, SIZE = 1000 };
	uint8_t pkt[SIZE];
	memset(pkt, 0xab, sizeof pkt);
	for (uint32_t i = 0; i < N; i++) {
		memcpy(pkt, &i, sizeof i);
		/* Through transport_send, as DTLS and SRTP send. */
		sfu_addr to = e->p->addrs[e->p->selected];
		CHECK(to.tcp == conn);
		transport_send(e->s, &to, pkt, sizeof pkt);
	}
	uint64_t lost = stats(e)->ice_tcp_dropped - dropped;
	CHECK(lost > 0 && lost < N);
	uint32_t got = 0;
	int in_order = 1;
	uint8_t f[2048];
	int len;
	while ((len = client_frame(e, c, f, sizeof f, 300)) > 0) {
		uint32_t seq;
		memcpy(&seq, f, sizeof seq);
		if (len != SIZE || seq != got || f[SIZE - 1] != 0xab)
			in_order = 0;
		got++;
	}
	CHECK(in_order);
	CHECK_EQ_INT(got + lost, N);
	/* About 1 MB queued in libuv plus what the kernel's buffers took. */
	CHECK(got >= 1000);
	printf("send queue: %u frames delivered, %llu dropped\n", got, (unsigned long long)lost);
}

static void test_oversized(env *e)
{
	uint64_t dropped = stats(e)->ice_tcp_dropped, open = stats(e)->ice_tcp_open;
	client *c = client_new(e);
	pump(e, 10);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, open + 1);
	uint8_t hdr[2] = {(TCP_FRAME_MAX + 1) >> 8, (TCP_FRAME_MAX + 1) & 0xff};
	client_send(e, c, hdr, 2);
	CHECK(client_wait_closed(e, c, 1000));
	CHECK_EQ_INT(stats(e)->ice_tcp_dropped, dropped + 1);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, open);
	client_free(c);
}

/* A connection that passes no check is closed after auth_ms; one that did stays while it
 * talks, then goes after idle_ms of silence and takes its ICE path with it. */
static void test_leases(env *e, client *a)
{
	tcp_set_limits(e->s, 0, 200, 700);
	uint64_t dropped = stats(e)->ice_tcp_dropped;
	client *silent = client_new(e);
	uint64_t t0 = now_ms();
	uint32_t tag = 100;
	while (now_ms() - t0 < 500) {
		uint8_t req[256], txid[12];
		make_txid(txid, tag++);
		client_send(e, a, req, framed_request(e, txid, req, sizeof req));
		CHECK(expect_success(e, a, txid));
		pump(e, 50);
	}
	CHECK(client_wait_closed(e, silent, 500));
	CHECK_EQ_INT(stats(e)->ice_tcp_dropped, dropped + 1);
	CHECK(!a->closed);
	CHECK(e->p->selected >= 0);
	CHECK(client_wait_closed(e, a, 1500));
	CHECK_EQ_INT(e->p->n_addrs, 0);
	CHECK_EQ_INT(e->p->selected, -1);
	client_free(silent);
	tcp_set_limits(e->s, 0, 10000, 60000);
}

/* Over the cap, a new connection takes the place of the oldest one that passed no check. */
static void test_conn_limit(env *e)
{
	tcp_set_limits(e->s, 4, 0, 0);
	uint64_t dropped = stats(e)->ice_tcp_dropped, total = stats(e)->ice_tcp_connections;
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 0);
	client *c[7];
	for (int i = 0; i < 7; i++) {
		c[i] = client_new(e);
		pump(e, 20); /* accepted in this order */
	}
	pump(e, 50);
	for (int i = 0; i < 7; i++) {
		client_poll(c[i]);
		CHECK_EQ_INT(c[i]->closed, i < 3);
	}
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 4);
	CHECK_EQ_INT(stats(e)->ice_tcp_connections, total + 7);
	CHECK_EQ_INT(stats(e)->ice_tcp_dropped, dropped + 3);
	for (int i = 0; i < 7; i++)
		client_free(c[i]);
	pump(e, 50);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 0);
	tcp_set_limits(e->s, 256, 0, 0);
}

/* PROTOCOL.md: at most 8 connections per source address; the ninth is closed at once and
 * counted, other addresses are unaffected. */
static void test_per_address(env *e)
{
	uint64_t dropped = stats(e)->ice_tcp_dropped;
	client *c[9];
	for (int i = 0; i < 9; i++) {
		c[i] = client_new_from(e, "127.0.0.2");
		pump(e, 10);
	}
	client *other = client_new_from(e, "127.0.0.3");
	pump(e, 50);
	for (int i = 0; i < 9; i++) {
		client_poll(c[i]);
		CHECK_EQ_INT(c[i]->closed, i == 8);
	}
	client_poll(other);
	CHECK(!other->closed);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 9);
	CHECK_EQ_INT(stats(e)->ice_tcp_dropped, dropped + 1);
	/* A place freed at that address can be taken again. */
	client_free(c[0]);
	pump(e, 50);
	c[0] = client_new_from(e, "127.0.0.2");
	pump(e, 50);
	client_poll(c[0]);
	CHECK(!c[0]->closed);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 9);
	for (int i = 0; i < 9; i++)
		client_free(c[i]);
	client_free(other);
	pump(e, 50);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 0);
}

/* Connections that passed a check are never evicted: with the cap full of them a new
 * connection is refused; one whose path its peer dropped becomes evictable at the next
 * sweep. */
static void test_authenticated_kept(env *e)
{
	tcp_set_limits(e->s, 4, 0, 0);
	uint64_t dropped = stats(e)->ice_tcp_dropped;
	client *a[PEER_MAX_ADDRS];
	for (int i = 0; i < PEER_MAX_ADDRS; i++) {
		uint8_t req[256], txid[12];
		make_txid(txid, 500u + (uint32_t)i);
		a[i] = client_new(e);
		client_send(e, a[i], req, framed_request(e, txid, req, sizeof req));
		CHECK(expect_success(e, a[i], txid));
	}
	CHECK_EQ_INT(e->p->n_addrs, PEER_MAX_ADDRS);
	client *idle = client_new_from(e, "127.0.0.4");
	CHECK(client_wait_closed(e, idle, 500));
	CHECK_EQ_INT(stats(e)->ice_tcp_dropped, dropped + 1);
	for (int i = 0; i < PEER_MAX_ADDRS; i++) {
		client_poll(a[i]);
		CHECK(!a[i]->closed);
	}
	/* The peer negotiates afresh (a new PeerConnection): its paths are gone, and after the
	 * sweep its old connections make room for new ones, oldest first. */
	char *answer = negotiate(e);
	CHECK(answer != NULL);
	free(answer);
	CHECK_EQ_INT(e->p->n_addrs, 0);
	pump(e, 1100);
	client *fresh = client_new_from(e, "127.0.0.4");
	pump(e, 50);
	client_poll(fresh);
	CHECK(!fresh->closed);
	CHECK(client_wait_closed(e, a[0], 500));
	for (int i = 1; i < PEER_MAX_ADDRS; i++) {
		client_poll(a[i]);
		CHECK(!a[i]->closed);
	}
	CHECK_EQ_INT(stats(e)->ice_tcp_dropped, dropped + 2);
	for (int i = 0; i < PEER_MAX_ADDRS; i++)
		client_free(a[i]);
	client_free(fresh);
	client_free(idle);
	pump(e, 50);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 0);
	tcp_set_limits(e->s, 256, 0, 0);
}

/* Valid checks among empty, junk and maximum-length frames, the stream cut at random:
 * every check, and only those, is answered, in order. */
static void test_random_chunking(env *e, int round)
{
	static uint8_t stream[1 << 20];
	size_t len = 0;
	uint32_t tags[400];
	int n_tags = 0;
	while (len < sizeof stream - 8192 && n_tags < 400) {
		uint64_t kind = rnd() % 5;
		if (kind == 0) {
			uint8_t txid[12];
			tags[n_tags] = 1000u * (uint32_t)round + (uint32_t)n_tags;
			make_txid(txid, tags[n_tags++]);
			len += framed_request(e, txid, stream + len, sizeof stream - len);
			continue;
		}
		size_t flen = kind == 1 ? 0 : kind == 2 ? TCP_FRAME_MAX : 1 + rnd() % 1400;
		stream[len++] = (uint8_t)(flen >> 8);
		stream[len++] = (uint8_t)flen;
		for (size_t i = 0; i < flen; i++)
			stream[len + i] = (uint8_t)rnd();
		/* Junk that looks like STUN or DTLS would reach the ICE or DTLS code of the peer
		 * this connection becomes a path of; here it is to stay junk. */
		if (flen > 0 && stream[len] < 64)
			stream[len] |= 64;
		len += flen;
	}
	client *c = client_new(e);
	for (size_t off = 0; off < len;) {
		size_t n = 1 + rnd() % (rnd() % 2 ? 16 : 6000);
		if (n > len - off)
			n = len - off;
		client_send(e, c, stream + off, n);
		off += n;
		if (rnd() % 4 == 0)
			pump(e, 1);
	}
	int answered = 0;
	for (int i = 0; i < n_tags; i++) {
		uint8_t txid[12];
		make_txid(txid, tags[i]);
		answered += expect_success(e, c, txid);
	}
	CHECK_EQ_INT(answered, n_tags);
	CHECK(!c->closed);
	client_free(c);
	pump(e, 20);
}

static void test_free_with_open_connections(env *e)
{
	client *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = client_new(e);
	uint8_t req[256], txid[12];
	make_txid(txid, 77);
	client_send(e, c[0], req, framed_request(e, txid, req, sizeof req));
	CHECK(expect_success(e, c[0], txid));
	/* One connection with data still queued for it. */
	uint8_t big[1200] = {0x80};
	for (int i = 0; i < 3000; i++)
		tcp_conn_send(e->p->addrs[e->p->selected].tcp, big, sizeof big);
	CHECK_EQ_INT(stats(e)->ice_tcp_open, 3);
	env_stop(e);
	for (int i = 0; i < 3; i++) {
		for (int ms = 0; !c[i]->closed && ms < 2000; ms++) {
			c[i]->have = 0;
			client_poll(c[i]);
			if (!c[i]->closed)
				usleep(1000);
		}
		CHECK(c[i]->closed);
		client_free(c[i]);
	}
}

int main(void)
{
	test_answer_without_tcp();

	env e;
	char *answer = env_start(&e, 1);
	CHECK(answer != NULL);
	if (!answer)
		return check_done("ice_tcp");
	test_answer(&e, answer);
	free(answer);
	client *a = test_check_split_and_batched(&e);
	test_garbage(&e, a);
	test_send_queue(&e, a);
	test_oversized(&e);
	test_leases(&e, a);
	client_free(a);
	test_conn_limit(&e);
	test_per_address(&e);
	test_authenticated_kept(&e);
	for (int round = 1; round <= 3; round++)
		test_random_chunking(&e, round);
	test_free_with_open_connections(&e);
	return check_done("ice_tcp");
}
