/* Which path media takes when a browser nominates several (ice.c). Firefox 153 nominates
 * aggressively: the first check on every pair carries USE-CANDIDATE, its UDP pair and its
 * lower-priority ICE-TCP pair alike, and it then sends media and consent checks on the
 * highest pair only. The server used to follow the latest nomination, so when the TCP check
 * came second it sent on TCP, saw no check there and dropped the call after 30 s for lost
 * consent. Now a nomination moves media only to a pair of at least the selected one's
 * priority, or away from a selected path that has gone quiet; an ICE restart starts over.
 *
 * Last, the hash from a source address to its peer that media uses follows these paths.
 *
 * A real media plane on a libuv loop with a clock of the test's own, a peer negotiated with
 * the real Firefox offer, and Binding requests as Firefox sends them, handed to the STUN
 * handler from three UDP sources (and, in the last case, one real ICE-TCP connection). */
#include "check.h"
#include "rtp/stun.h"
#include "sfu/sfu_internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define FIXTURE "tests/fixtures/firefox-153-offer.sdp"
/* The PRIORITY attributes of Firefox's nominating checks: a UDP host candidate as peer
 * reflexive (type preference 110), and an active TCP one. */
#define PRIO_FF_UDP 1853817087u
#define PRIO_FF_TCP 1837072639u
/* A consent check after selection names the host candidate itself (126). */
#define PRIO_FF_HOST 2122252543u
#define SEC          1000000

static int64_t fake_now;

static int64_t test_clock(void *user)
{
	(void)user;
	return fake_now;
}

typedef struct env {
	uv_loop_t loop;
	sfu *s;
	sfu_peer *p;
	uint32_t txn;
} env;

static sfu_addr udp_from(uint16_t port)
{
	sfu_addr a;
	memset(&a, 0, sizeof a);
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	return a;
}

/* A Binding request with the peer's credentials, as Firefox's controlling agent sends it. */
static size_t request(env *e, uint32_t prio, int use_candidate, uint8_t *out, size_t cap)
{
	uint8_t txid[12];
	memset(txid, 0x33, sizeof txid);
	e->txn++;
	memcpy(txid, &e->txn, sizeof e->txn);
	char user[96];
	snprintf(user, sizeof user, "%s:373d9741", e->p->ufrag);
	ssize_t n = stun_build_binding_request(out, cap, txid, user, prio, use_candidate,
	                                       0x0102030405060708ull, (const uint8_t *)e->p->pwd,
	                                       strlen(e->p->pwd));
	CHECK(n > 0);
	return n > 0 ? (size_t)n : 0;
}

/* One check from `from` at time t (seconds); returns the selected path's port (0: TCP or
 * none). */
static int check_at(env *e, double t, const sfu_addr *from, uint32_t prio, int use_candidate)
{
	uint8_t buf[512];
	fake_now = (int64_t)(t * SEC);
	size_t n = request(e, prio, use_candidate, buf, sizeof buf);
	ice_on_stun(e->s, buf, n, from);
	const sfu_addr *sel = ice_dest(e->p);
	if (!sel || sel->tcp)
		return 0;
	return ntohs(((const struct sockaddr_in *)&sel->sa)->sin_port);
}

static void negotiate(sfu_peer *p);

static void env_start(env *e, int tcp)
{
	memset(e, 0, sizeof *e);
	fake_now = SEC;
	uv_loop_init(&e->loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .tcp = tcp, .n_ips = 1};
	cfg.ips[0] = "127.0.0.1";
	cfg.clock_us = test_clock;
	e->s = sfu_new(&e->loop, &cfg);
	CHECK(e->s != NULL);
	if (!e->s)
		return;
	e->p = sfu_peer_new(e->s, "firefox");
	negotiate(e->p);
}

/* Negotiates p with the Firefox offer. */
static void negotiate(sfu_peer *p)
{
	size_t len = 0;
	char *offer = check_read_file(FIXTURE, &len);
	sfu_track_role roles[] = {{"0", SFU_ROLE_MIC},
	                          {"1", SFU_ROLE_CAMERA},
	                          {"2", SFU_ROLE_DOCUMENT},
	                          {"3", SFU_ROLE_SLOT},
	                          {"4", SFU_ROLE_SLOT}};
	char *answer = NULL, err[128] = "";
	CHECK(offer != NULL);
	CHECK_EQ_INT(offer ? sfu_peer_offer(p, offer, len, roles, 5, &answer, err, sizeof err) : -1,
	             0);
	free(answer);
	free(offer);
}

static void env_stop(env *e)
{
	sfu_free(e->s);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
}

static void test_udp_paths(void)
{
	env e;
	env_start(&e, 0);
	if (!e.s)
		return;
	sfu_addr a = udp_from(40001), b = udp_from(40002), c = udp_from(40003);

	/* Two nominations a few milliseconds apart, the better pair first: media stays on it. */
	CHECK_EQ_INT(check_at(&e, 1.000, &a, PRIO_FF_UDP, 1), 40001);
	CHECK_EQ_INT(check_at(&e, 1.004, &b, PRIO_FF_TCP, 1), 40001);
	/* Firefox's consent checks on its pair keep the peer alive past the 30 s. */
	for (double t = 5; t <= 45; t += 5)
		CHECK_EQ_INT(check_at(&e, t, &a, PRIO_FF_HOST, 0), 40001);
	CHECK_EQ_INT(ice_consent_expired(e.p, 46 * SEC), 0);
	CHECK_EQ_INT(ice_consent_expired(e.p, 76 * SEC), 1);

	/* A nomination of a better pair moves media at once. */
	CHECK_EQ_INT(check_at(&e, 46.0, &c, PRIO_FF_HOST, 1), 40003);
	/* A lower nominated pair takes over only once the selected one is quiet: 1 s after the
	 * last check on c it does not, 2.5 s after it does (the browser moved away from c). */
	CHECK_EQ_INT(check_at(&e, 47.0, &b, PRIO_FF_TCP, 1), 40003);
	CHECK_EQ_INT(check_at(&e, 48.5, &b, PRIO_FF_TCP, 0), 40002);
	/* Consent follows the selected path. */
	CHECK_EQ_INT(ice_consent_expired(e.p, 48 * SEC + 30 * SEC), 0);
	CHECK_EQ_INT(ice_consent_expired(e.p, 48 * SEC + 31 * SEC), 1);
	/* A check without nomination on a path never nominated moves nothing. */
	sfu_addr d = udp_from(40004);
	CHECK_EQ_INT(check_at(&e, 60.0, &d, PRIO_FF_HOST, 0), 40002);
	/* Back to a better pair the browser checks again (c was nominated): it is taken. */
	CHECK_EQ_INT(check_at(&e, 61.0, &c, PRIO_FF_HOST, 0), 40003);

	/* After an ICE restart the old nominations no longer count: the first nomination with
	 * the new credentials selects its path, whatever its priority. */
	ice_new_generation(e.p);
	CHECK_EQ_INT(check_at(&e, 62.0, &b, PRIO_FF_TCP, 1), 40002);
	CHECK_EQ_INT(check_at(&e, 62.001, &a, PRIO_FF_UDP, 1), 40001);
	CHECK_EQ_INT(check_at(&e, 62.002, &b, PRIO_FF_TCP, 1), 40001);

	/* Chromium's way: one pair, USE-CANDIDATE on every check of it. */
	env_stop(&e);
	env_start(&e, 0);
	if (!e.s)
		return;
	for (double t = 1; t < 40; t += 2.5)
		CHECK_EQ_INT(check_at(&e, t, &c, 0x6e001eff, 1), 40003);
	CHECK_EQ_INT(ice_consent_expired(e.p, 60 * SEC), 0);
	env_stop(&e);
}

/* The case as Firefox produced it: a UDP nomination, then one over a real ICE-TCP
 * connection. */
static void test_udp_then_tcp(void)
{
	env e;
	env_start(&e, 1);
	if (!e.s)
		return;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sfu_port(e.s))};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	CHECK_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	sfu_addr a = udp_from(40001);
	CHECK_EQ_INT(check_at(&e, 1.000, &a, PRIO_FF_UDP, 1), 40001);

	uint8_t frame[514];
	size_t n = request(&e, PRIO_FF_TCP, 1, frame + 2, sizeof frame - 2);
	frame[0] = (uint8_t)(n >> 8);
	frame[1] = (uint8_t)n;
	fake_now = (int64_t)(1.010 * SEC);
	CHECK_EQ_INT(send(fd, frame, n + 2, 0), (ssize_t)(n + 2));
	/* Accept the connection and read the check. */
	for (int i = 0; i < 200 && e.p->n_addrs < 2; i++) {
		uv_run(&e.loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	CHECK_EQ_INT(e.p->n_addrs, 2);
	CHECK(e.p->paths[1].nominated && e.p->addrs[1].tcp != NULL);
	CHECK(e.p->paths[0].priority > e.p->paths[1].priority);
	CHECK_EQ_INT(check_at(&e, 5.0, &a, PRIO_FF_HOST, 0), 40001);
	CHECK(ice_dest(e.p) && !ice_dest(e.p)->tcp);
	close(fd);
	env_stop(&e);
}

/* Media finds its peer by a hash of the source address (addrmap, issue 13), which must
 * follow what ICE knows: a path is in it once a check passed on it, leaves it when ICE
 * replaces it, when the peer is renegotiated or freed, and an address two peers validated
 * stays routed to the one that still has it. */
static void test_paths_index(void)
{
	env e;
	env_start(&e, 0);
	if (!e.s)
		return;
	sfu_peer *first = e.p, *second = sfu_peer_new(e.s, "second");
	negotiate(second);
	sfu_addr a = udp_from(40011), b = udp_from(40012), shared = udp_from(40013);
	CHECK(ice_peer_by_addr(e.s, &a) == NULL);
	check_at(&e, 1.0, &a, PRIO_FF_UDP, 1);
	CHECK(ice_peer_by_addr(e.s, &a) == first);
	CHECK(ice_peer_by_addr(e.s, &b) == NULL);
	/* Another peer's checks put its own paths in; an address both validated routes to
	 * the one that validated it last. */
	e.p = second;
	check_at(&e, 1.1, &b, PRIO_FF_UDP, 1);
	CHECK(ice_peer_by_addr(e.s, &b) == second);
	check_at(&e, 1.2, &shared, PRIO_FF_HOST, 0);
	e.p = first;
	check_at(&e, 1.3, &shared, PRIO_FF_HOST, 0);
	CHECK(ice_peer_by_addr(e.s, &shared) == first); /* the latest validation */

	/* A peer holds four paths; a fifth replaces one it does not send on, which then
	 * routes nowhere (first sends on a, so the oldest other one, shared, goes and falls to
	 * second, which still has it). */
	sfu_addr more[3] = {udp_from(40021), udp_from(40022), udp_from(40023)};
	for (int i = 0; i < 3; i++)
		check_at(&e, 2.0 + i, &more[i], PRIO_FF_HOST, 0);
	CHECK(ice_peer_by_addr(e.s, &more[2]) == first);
	CHECK(ice_peer_by_addr(e.s, &a) == first);
	CHECK(ice_peer_by_addr(e.s, &shared) == second);
	CHECK_EQ_INT(first->n_addrs, 4);

	/* A new PeerConnection (renegotiation from scratch) forgets every path of first. */
	negotiate(first);
	for (int i = 0; i < 3; i++)
		CHECK(ice_peer_by_addr(e.s, &more[i]) == NULL);
	CHECK(ice_peer_by_addr(e.s, &a) == NULL);
	CHECK(ice_peer_by_addr(e.s, &b) == second);

	/* A freed peer's paths route nowhere. */
	sfu_peer_free(second);
	CHECK(ice_peer_by_addr(e.s, &b) == NULL);
	CHECK(ice_peer_by_addr(e.s, &shared) == NULL);
	env_stop(&e);
}

int main(void)
{
	test_udp_paths();
	test_udp_then_tcp();
	test_paths_index();
	secure_global_shutdown();
	return check_done("ice_nominate");
}
