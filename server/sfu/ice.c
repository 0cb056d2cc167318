/* ICE-lite (RFC 8445 section 2.5) for each peer: the STUN binding checks the browser sends,
 * the paths (UDP addresses or ICE-TCP connections) that passed one, which of them media uses,
 * and consent freshness (RFC 7675). As the lite side the server never sends checks; the
 * browser keeps sending them on the selected pair (Chromium about every 2.5 s while
 * connected, Firefox every 4 to 6 s), so a peer from which no valid check arrived for
 * ICE_CONSENT_US has gone: its network was cut, its tab closed or its machine died. The
 * signalling layer learns it from sfu_peer_consent_expired and ends the leg as `dropped`.
 *
 * Which path is selected: Chromium nominates one pair (and repeats USE-CANDIDATE on it),
 * but Firefox nominates aggressively, every pair it checks first, UDP and TCP alike, then
 * uses the one of highest priority and sends its consent checks there only. The server
 * therefore follows a nomination only when its pair priority is at least that of the
 * selected path (RFC 8445 section 8.1.1: with several nominated pairs both sides use the
 * highest), or when the selected path has gone quiet for ICE_RESELECT_US while the browser
 * checks another nominated one (it moved to a lower pair because the better one failed). */
#include "base/log.h"
#include "base/rand.h"
#include "rtp/stun.h"
#include "sfu/sfu_internal.h"

#include <string.h>

_Static_assert(ICE_UFRAG_CHARS < sizeof(((struct sfu_peer *)0)->ufrag), "ufrag fits");
_Static_assert(ICE_PWD_CHARS < sizeof(((struct sfu_peer *)0)->pwd), "pwd fits");
/* RFC 8839 section 5.4 asks for at least 24 random bits in the ufrag, 128 in the password. */
_Static_assert(ICE_UFRAG_CHARS * 6 >= 24 && ICE_PWD_CHARS * 6 >= 128, "enough entropy");

/* n random ice-chars (RFC 8839: ALPHA / DIGIT / "+" / "/"), six bits each, and a NUL. */
static int random_ice_chars(char *out, size_t n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t b[64];
	if (n > sizeof b || rand_fill(b, n) != 0)
		return -1;
	/* 256 is a multiple of 64, so the low six bits of a random byte are uniform. */
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[b[i] & 63];
	out[n] = '\0';
	return 0;
}

int ice_new_credentials(struct sfu *s, const struct sfu_peer *p, char *ufrag, char *pwd)
{
	/* STUN finds its peer by ufrag, so it must be unique among the peers. With 48 random
	 * bits a repeat is all but impossible; it is checked all the same. */
	for (int tries = 0; tries < 8; tries++) {
		if (random_ice_chars(ufrag, ICE_UFRAG_CHARS) != 0)
			return -1;
		const struct sfu_peer *q = s->peers;
		while (q && (q == p || strcmp(q->ufrag, ufrag) != 0))
			q = q->next;
		if (!q)
			return random_ice_chars(pwd, ICE_PWD_CHARS);
	}
	return -1;
}

static int addr_equal(const sfu_addr *a, const sfu_addr *b)
{
	if (a->tcp != b->tcp || a->sa.ss_family != b->sa.ss_family)
		return 0;
	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->sa;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->sa;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return 0;
}

/* Every validated path is in s->paths (addrmap.h), mapped to its peer, so that media finds
 * its peer in one hash lookup; STUN still finds it by USERNAME (peer_by_ufrag), which is how
 * a new address gets in. */
struct sfu_peer *ice_peer_by_addr(struct sfu *s, const sfu_addr *addr)
{
	return addrmap_get(s->paths, (const struct sockaddr *)&addr->sa, addr->tcp);
}

static void map_path(struct sfu_peer *p, const sfu_addr *a)
{
	if (addrmap_put(p->sfu->paths, (const struct sockaddr *)&a->sa, a->tcp, p) != 0)
		LOG_WARN("sfu", "cannot index ice path peer=%s", p->label);
}

/* p no longer has path a. Should another peer have validated the same address (a page
 * reloaded behind the same NAT binding), the address is now that peer's. */
static void unmap_path(struct sfu_peer *p, const sfu_addr *a)
{
	struct sfu *s = p->sfu;
	if (!addrmap_del(s->paths, (const struct sockaddr *)&a->sa, a->tcp, p))
		return;
	for (struct sfu_peer *q = s->peers; q; q = q->next)
		for (int i = 0; q != p && i < q->n_addrs; i++)
			if (addr_equal(a, &q->addrs[i])) {
				map_path(q, a);
				return;
			}
}

void ice_forget_paths(struct sfu_peer *p)
{
	for (int i = 0; i < p->n_addrs; i++)
		unmap_path(p, &p->addrs[i]);
	p->n_addrs = 0;
	p->selected = -1;
}

const sfu_addr *ice_dest(const struct sfu_peer *p)
{
	return p->selected >= 0 ? &p->addrs[p->selected] : NULL;
}

/* Remembers a path that passed a check; returns its index. When all places are taken the
 * oldest path that media does not use makes room. */
static int add_path(struct sfu_peer *p, const sfu_addr *from)
{
	for (int i = 0; i < p->n_addrs; i++)
		if (addr_equal(from, &p->addrs[i]))
			return i;
	map_path(p, from);
	if (p->n_addrs < PEER_MAX_ADDRS) {
		p->addrs[p->n_addrs] = *from;
		p->paths[p->n_addrs] = (ice_path){0};
		return p->n_addrs++;
	}
	int victim = p->selected == 0 ? 1 : 0;
	sfu_addr old = p->addrs[victim];
	p->addrs[victim] = *from;
	p->paths[victim] = (ice_path){0};
	unmap_path(p, &old);
	return victim;
}

/* The server's candidate priorities as the answer states them (sdp_answer.c): the first UDP
 * and the first TCP host candidate. With several server addresses the later ones rank a
 * little lower, which this ignores: the transport is what decides between browser pairs. */
#define SERVER_PRIO_UDP ((126u << 24) | (65535u << 8) | 255u)
#define SERVER_PRIO_TCP ((99u << 24) | (40959u << 8) | 255u)

/* RFC 8445 section 6.1.2.3: the browser is controlling (G), the server controlled (D). */
static uint64_t pair_priority(uint32_t g, uint32_t d)
{
	uint64_t lo = g < d ? g : d, hi = g < d ? d : g;
	return (lo << 32) + 2 * hi + (g > d ? 1 : 0);
}

/* Whether a valid check on path idx (nominating or not) moves media to it. */
static int should_select(const struct sfu_peer *p, int idx, int64_t now)
{
	if (p->selected < 0)
		return 1; /* until a nomination, the first path that works carries DTLS */
	if (idx == p->selected || !p->paths[idx].nominated)
		return 0;
	const ice_path *cur = &p->paths[p->selected];
	return !cur->nominated || p->paths[idx].priority >= cur->priority ||
	       now - cur->last_check_us > ICE_RESELECT_US;
}

static struct sfu_peer *peer_by_ufrag(struct sfu *s, const uint8_t *username, size_t len)
{
	/* USERNAME is "<our ufrag>:<their ufrag>". */
	const uint8_t *colon = memchr(username, ':', len);
	size_t ufrag_len = colon ? (size_t)(colon - username) : len;
	for (struct sfu_peer *q = s->peers; q; q = q->next)
		if (q->negotiated && strlen(q->ufrag) == ufrag_len &&
		    memcmp(q->ufrag, username, ufrag_len) == 0)
			return q;
	return NULL;
}

void ice_on_stun(struct sfu *s, const uint8_t *buf, size_t len, const sfu_addr *from)
{
	stun_msg m;
	if (stun_parse(buf, len, &m) != 0) {
		s->stats.stun_bad++;
		return;
	}
	if (m.type != STUN_BINDING_REQUEST)
		return; /* indications are keepalives; responses are not expected by ICE-lite */
	s->stats.stun_requests++;
	if (!m.username || !m.has_integrity) {
		s->stats.stun_bad++;
		return;
	}
	struct sfu_peer *p = peer_by_ufrag(s, m.username, m.username_len);
	if (!p ||
	    stun_check_integrity(buf, len, &m, (const uint8_t *)p->pwd, strlen(p->pwd)) != 0 ||
	    (m.has_fingerprint && stun_check_fingerprint(buf, len, &m) != 0)) {
		s->stats.stun_bad++;
		return;
	}
	if (from->tcp)
		tcp_conn_authenticated(from->tcp);
	uint8_t out[256];
	ssize_t n =
	    stun_build_binding_success(out, sizeof out, m.txid, (const struct sockaddr *)&from->sa,
	                               (const uint8_t *)p->pwd, strlen(p->pwd));
	if (n > 0)
		transport_send(s, from, out, (size_t)n);

	int64_t now = sfu_now(s);
	int idx = add_path(p, from);
	int was_selected = p->selected >= 0;
	ice_path *path = &p->paths[idx];
	path->last_check_us = now;
	if (m.use_candidate) {
		path->nominated = 1;
		path->priority = pair_priority(m.has_priority ? m.priority : 0,
		                               from->tcp ? SERVER_PRIO_TCP : SERVER_PRIO_UDP);
	}
	if (should_select(p, idx, now)) {
		if (was_selected)
			LOG_INFO("sfu", "ice path selected peer=%s path=%s", p->label,
			         from->tcp ? "tcp" : "udp");
		p->selected = idx;
	}
	if (idx == p->selected)
		p->consent_us = now;
	if (!was_selected) {
		LOG_INFO("sfu", "ice connected peer=%s path=%s", p->label,
		         from->tcp ? "tcp" : "udp");
		if (!p->dtls_server && p->dtls)
			dtls_start(p->dtls);
	}
}

void ice_forget_tcp(struct sfu *s, struct tcp_conn *c)
{
	for (struct sfu_peer *p = s->peers; p; p = p->next) {
		int k = 0, selected = -1;
		for (int i = 0; i < p->n_addrs; i++) {
			if (p->addrs[i].tcp == c) {
				/* Only this peer can hold a path over c: no other to hand it to. */
				const struct sockaddr *sa =
				    (const struct sockaddr *)&p->addrs[i].sa;
				addrmap_del(s->paths, sa, c, p);
				continue;
			}
			if (i == p->selected)
				selected = k;
			p->paths[k] = p->paths[i];
			p->addrs[k++] = p->addrs[i];
		}
		p->n_addrs = k;
		p->selected = selected;
	}
}

int ice_consent_expired(const struct sfu_peer *p, int64_t now_us)
{
	return p->negotiated && p->consent_us && now_us - p->consent_us > ICE_CONSENT_US;
}

void ice_new_generation(struct sfu_peer *p)
{
	for (int i = 0; i < p->n_addrs; i++)
		p->paths[i].nominated = 0;
}
