/* The media plane object: the shared UDP socket, the DTLS certificate, the list of peers
 * and the tick that drives DTLS retransmission, transport-cc feedback and keyframe retries. */
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>
#include <string.h>

int64_t sfu_now(const struct sfu *s)
{
	return s->clock_us ? s->clock_us(s->clock_user) : clock_mono_us();
}

void sfu_tick(sfu *s)
{
	int64_t now = sfu_now(s);
	for (struct sfu_peer *p = s->peers; p; p = p->next)
		peer_tick(p, now);
	bwprobe_send_pace(s, now); /* also without the pacer: simulations drive only the tick */
	probe_tick(s, now);
	/* Consent last: the callback may free the peer, so the walk restarts after each. */
	struct sfu_peer *gone;
	do {
		gone = NULL;
		for (struct sfu_peer *p = s->peers; p && !gone; p = p->next)
			if (!p->consent_lost && ice_consent_expired(p, now))
				gone = p;
		if (gone) {
			gone->consent_lost = 1;
			s->stats.consent_expired++;
			LOG_WARN("sfu", "ice consent expired peer=%s silent_s=%lld", gone->label,
			         (long long)((now - gone->consent_us) / 1000000));
			if (s->on_consent_lost)
				s->on_consent_lost(s->user, gone);
		}
	} while (gone);
}

static void on_tick(uv_timer_t *t)
{
	/* What the tick sends (receiver reports, REMBs, NACKs, transport-cc feedback, keyframe
	 * requests to every peer) leaves in one sendmmsg, as a read batch's sends do. */
	transport_batch_begin(t->data);
	sfu_tick(t->data);
	transport_batch_end(t->data);
}

static void on_closed(uv_handle_t *h)
{
	struct sfu *s = h->data;
	/* The socket and the timer close; whichever callback comes last frees. */
	if (--s->open_handles == 0)
		free(s);
}

sfu *sfu_new(uv_loop_t *loop, const sfu_config *cfg)
{
	if (secure_global_init() != 0) {
		LOG_ERROR("sfu", "libsrtp initialisation failed");
		return NULL;
	}
	LOG_INFO("sfu", "srtp aes_gcm=%s", secure_gcm_impl());
	struct sfu *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->loop = loop;
	s->clock_us = cfg->clock_us;
	s->clock_user = cfg->clock_user;
	s->on_consent_lost = cfg->on_consent_lost;
	s->user = cfg->user;
	s->audio_red_off = cfg->audio_red_off;
	for (int i = 0; i < cfg->n_ips && i < SFU_MAX_IPS; i++)
		snprintf(s->ips[s->n_ips++], sizeof s->ips[0], "%s", cfg->ips[i]);
	uint64_t seed = (uint64_t)rand_u32() << 32 | rand_u32();
	s->paths = addrmap_new(seed);
	s->dtls_ctx = s->paths ? dtls_ctx_new() : NULL;
	if (!s->dtls_ctx) {
		LOG_ERROR("sfu", "cannot create the DTLS certificate");
		addrmap_free(s->paths);
		free(s);
		return NULL;
	}
	if (transport_open(s, cfg->bind_ip ? cfg->bind_ip : "0.0.0.0", cfg->port) != 0) {
		dtls_ctx_free(s->dtls_ctx);
		addrmap_free(s->paths);
		/* The UDP handle was initialised: close it before its memory goes. */
		s->open_handles = 1;
		transport_close(s, on_closed);
		return NULL;
	}
	/* Without ICE-TCP the server still serves every network that passes UDP, so a TCP port
	 * taken by another program is logged (by tcp_open) rather than fatal. */
	if (cfg->tcp)
		tcp_open(s, cfg->bind_ip ? cfg->bind_ip : "0.0.0.0", s->port);
	uv_timer_init(loop, &s->tick);
	s->tick.data = s;
	uv_timer_start(&s->tick, on_tick, SFU_TICK_MS, SFU_TICK_MS);
	s->probe_off = cfg->probe_off;
	s->simulcast = cfg->simulcast;
	uv_timer_init(loop, &s->pacer);
	s->pacer.data = s;
	LOG_INFO("sfu", "media socket ready port=%d", s->port);
	return s;
}

void sfu_free(sfu *s)
{
	if (!s)
		return;
	probe_cancel_all(s);
	while (s->peers)
		sfu_peer_free(s->peers);
	dtls_ctx_free(s->dtls_ctx);
	s->dtls_ctx = NULL;
	addrmap_free(s->paths);
	s->paths = NULL;
	uv_timer_stop(&s->tick);
	uv_timer_stop(&s->pacer);
	s->open_handles = s->tcp ? 4 : 3;
	tcp_close(s, on_closed); /* nothing without ICE-TCP */
	transport_close(s, on_closed);
	uv_close((uv_handle_t *)&s->tick, on_closed);
	uv_close((uv_handle_t *)&s->pacer, on_closed);
}

int sfu_port(const sfu *s)
{
	return s->port;
}

const sfu_stats *sfu_get_stats(const sfu *s)
{
	return &s->stats;
}

sfu_peer *sfu_peer_new(sfu *s, const char *label)
{
	struct sfu_peer *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->sfu = s;
	p->selected = -1;
	snprintf(p->label, sizeof p->label, "%s", label ? label : "?");
	do
		p->rtcp_ssrc = rand_u32();
	while (p->rtcp_ssrc == 0);
	peer_reset_media(p);
	p->next = s->peers;
	if (s->peers)
		s->peers->prev = p;
	s->peers = p;
	s->stats.peers++;
	return p;
}

void sfu_peer_free(sfu_peer *p)
{
	if (!p)
		return;
	struct sfu *s = p->sfu;
	/* Nobody may keep pointing at a freed peer. */
	for (struct sfu_peer *q = s->peers; q; q = q->next) {
		if (q->primary == p)
			q->primary = NULL;
		if (q->document == p)
			q->document = NULL;
		int k = 0;
		for (int i = 0; i < q->n_extras; i++)
			if (q->extras[i] != p)
				q->extras[k++] = q->extras[i];
		q->n_extras = k;
		for (int i = 0; i < q->n_out; i++)
			if (q->out[i].source == p)
				q->out[i].source = NULL;
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		s->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->stats.peers--;
	probe_detach_peer(p);
	transport_forget_peer(s, p);
	peer_reset_media(p);
	free(p);
	fwd_rewire(s);
}

void sfu_peer_set_feeds(sfu_peer *dst, sfu_peer *primary, sfu_peer *document,
                        sfu_peer *const *extras, int n_extras)
{
	dst->primary = primary != dst ? primary : NULL;
	dst->document = document != dst ? document : NULL;
	dst->n_extras = 0;
	for (int i = 0; i < n_extras && dst->n_extras < PEER_MAX_EXTRAS; i++)
		if (extras[i] && extras[i] != dst)
			dst->extras[dst->n_extras++] = extras[i];
	fwd_wire_peer(dst);
}
