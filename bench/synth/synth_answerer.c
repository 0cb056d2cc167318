/* The synthetic peer as the answering side, for servers that offer (a Janus VideoRoom
 * subscriber), and as a full ICE agent's partner: it answers the server's connectivity
 * checks (RFC 8445), which an ICE-lite server like Madoguchi never sends. */
#include "synth_internal.h"

#include <string.h>
#include <sys/socket.h>

int synth_peer_accept_offer(synth_peer *p, const char *sdp, size_t len, char *out, size_t cap,
                            int64_t now_us)
{
	synth_answer a;
	if (synth_sdp_parse_answer(sdp, len, &a) != 0)
		return -1;
	synth_hex(p, p->ufrag, 4);
	synth_hex(p, p->pwd, 12);
	int n = synth_sdp_answer_offer(sdp, len, p->ufrag, p->pwd,
	                               dtls_ctx_fingerprint(p->cfg.dtls), out, cap);
	if (n < 0)
		return -1;
	a.server_active = 0; /* our a=setup:active: we are the DTLS client */
	p->subscriber = 1;
	if (synth_apply_answer(p, &a, now_us) != 0)
		return -1;
	for (int i = 0; i < p->n_tx; i++)
		p->tx[i].on = 0;
	return n;
}

int synth_on_stun_request(synth_peer *p, const uint8_t *buf, size_t len, const stun_msg *m)
{
	/* USERNAME is "our ufrag:theirs", keyed with our password. */
	size_t ul = strlen(p->ufrag);
	if (!p->running || !m->username || m->username_len <= ul ||
	    memcmp(m->username, p->ufrag, ul) != 0 || m->username[ul] != ':' ||
	    stun_check_integrity(buf, len, m, (const uint8_t *)p->pwd, strlen(p->pwd)) != 0)
		return -1;
	struct sockaddr_in self;
	socklen_t sl = sizeof self;
	if (getsockname(p->fd, (struct sockaddr *)&self, &sl) != 0)
		return -1;
	uint8_t out[256];
	ssize_t n = stun_build_binding_success(out, sizeof out, m->txid, (struct sockaddr *)&self,
	                                       (const uint8_t *)p->pwd, strlen(p->pwd));
	if (n <= 0)
		return -1;
	synth_send_raw(p, out, (size_t)n);
	return 0;
}
