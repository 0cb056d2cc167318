/* The load generator's media loop and its accounting: every peer's timers, the readable
 * sockets (epoll), one-way latency by matching what a side receives to what its partner
 * sent (both are in this process: the sender remembers when it sent each packet and a
 * fingerprint of the payload's tail, which an SFU forwards untouched; the receiver learns
 * the SFU's sequence number offset from the first match and looks each packet up), and the
 * loss per call. */
#include "base/clock.h"
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define RESCAN_US 2000 /* peers' timers are looked at at least this often */

static uint64_t hist[2][LOAD_HIST + 1];
static uint64_t matched, unmatched;
static int64_t win_start, win_end; /* win_start 0: not measuring; win_end 0: still open */
static int trace;                  /* LOAD_TRACE set: every packet later than 20 ms on stderr */

static int in_window(int64_t t)
{
	return win_start && t >= win_start && (!win_end || t < win_end);
}

static uint32_t fingerprint(const uint8_t *payload, size_t len)
{
	uint32_t tail = 0;
	if (len >= 4)
		memcpy(&tail, payload + len - 4, 4);
	return tail ^ (uint32_t)len * 2654435761u;
}

/* A side's packets count when it is in a call that is not switching: a spare desk's and,
 * during a switch, the kiosk's and both desks' packets go nowhere (or anywhere) by design. */
static load_call *counting_call(const load_side *s)
{
	load_call *c = s->serving;
	return c && c->sw_state == LOAD_SW_NONE ? c : NULL;
}

static void on_sent(void *user, int video, uint16_t seq, const uint8_t *payload, size_t len,
                    int64_t now_us)
{
	load_side *s = user;
	load_ring *r = &s->sent[video ? 1 : 0];
	load_call *c = in_window(now_us) ? counting_call(s) : NULL;
	r->e[seq % LOAD_RING] = (load_sent){
	    .seq = seq, .counted = c != NULL, .fp = fingerprint(payload, len), .t_us = now_us};
	r->last = seq;
	r->any = 1;
	if (c)
		c->sent_w[s->desk]++;
}

/* The newest packet the partner sent with this fingerprint, or NULL. */
static const load_sent *find(const load_ring *r, uint32_t fp)
{
	for (int k = 0; k < LOAD_RING; k++) {
		const load_sent *e = &r->e[(uint16_t)(r->last - k) % LOAD_RING];
		if (e->t_us && e->fp == fp && e->seq == (uint16_t)(r->last - k))
			return e;
	}
	return NULL;
}

/* The partner's packet with this sequence number (after the SFU's offset) or fingerprint;
 * learns the offset from a fingerprint match. */
static load_sent *lookup(load_side *s, load_side *from, int line, uint16_t seq, uint32_t fp)
{
	load_ring *r = &from->sent[line];
	uint16_t orig = (uint16_t)(seq - s->rx_off[line]);
	load_sent *e = &r->e[orig % LOAD_RING];
	if (s->rx_off_ok[line] && e->seq == orig && e->fp == fp && e->t_us)
		return e;
	if (!(e = (load_sent *)find(r, fp)))
		return NULL;
	s->rx_off[line] = (uint16_t)(seq - e->seq);
	s->rx_off_ok[line] = 1;
	return e;
}

static void on_received(void *user, int line, uint16_t seq, const uint8_t *payload, size_t len,
                        int64_t now_us)
{
	load_side *s = user;
	if (line > 1 || !win_start || !s->partner)
		return; /* only the mic and camera lines carry the partner */
	uint32_t fp = fingerprint(payload, len);
	load_side *from = s->partner;
	load_sent *e = lookup(s, from, line, seq, fp);
	if (!e && s->prev && (e = lookup(s, s->prev, line, seq, fp)))
		from = s->prev; /* the desk before a switch: a packet still on its way */
	if (!e) {
		unmatched += !win_end;
		return;
	}
	if (line == 1 && !s->desk && from == s->partner && s->serving->sw_state == LOAD_SW_ACCEPTED)
		load_switch_video(s, payload, len, now_us);
	if (!e->counted || e->received)
		return;
	e->received = 1;
	load_call *c = (s->desk ? from : s)->serving; /* the kiosk's call, as on_sent counted */
	c->recv_w[from->desk]++;
	int64_t d = now_us - e->t_us;
	if (d > 20000 && trace)
		fprintf(stderr, "late: call %d %s line %d seq %u: %.1f ms at %.3f s\n", c->index,
		        s->desk ? "desk" : "kiosk", line, e->seq, d / 1000.0,
		        (now_us % 100000000) / 1e6);
	int64_t b = d < 0 ? 0 : d / LOAD_BUCKET_US;
	hist[line][b > LOAD_HIST ? LOAD_HIST : b]++;
	matched++;
}

void load_side_hooks(synth_config *c, load_side *s)
{
	c->on_sent = on_sent;
	c->on_received = on_received;
	c->hook_user = s;
}

static void drain_side(load_side *s)
{
	if (!s || !s->w || ws_closed(s->w))
		return;
	ws_read(s->w);
	size_t len;
	const char *m;
	while ((m = ws_next(s->w, &len))) {
		/* Only rings (and Janus's webrtcup) matter here; a cheap look instead of a JSON
		 * parse per event. */
		const char *v;
		if (s->session && (v = strstr(m, "\"webrtcup\"")) &&
		    (v = strstr(m, "\"sender\":")) && strtoll(v + 9, NULL, 10) == s->handle[0])
			s->pub_up = 1;
		if (s->desk && strstr(m, "\"ringing\"") && (v = strstr(m, "\"visit\":\""))) {
			v += 9;
			size_t k = strcspn(v, "\"");
			if (k < sizeof s->ringing) {
				memcpy(s->ringing, v, k);
				s->ringing[k] = 0;
				load_switch_ring(s, s->ringing, clock_mono_us());
			}
		}
		if (strstr(m, "\"type\":\"error\""))
			fprintf(stderr, "load: %s %d: %s\n", s->desk ? "desk" : "kiosk",
			        s->call->index, m);
	}
}

void load_drain(load_call *calls, int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++)
			drain_side(calls[i].side[k]);
}

int load_pump(load_call *calls, int n, int64_t until_us, int (*done)(load_call *, int), int ctl_fd)
{
	/* The sockets' events name the side itself: a switch moves desks between entries. */
	load_side **sides = malloc((size_t)n * 2 * sizeof *sides);
	int ep = sides ? epoll_create1(EPOLL_CLOEXEC) : -1;
	if (ep < 0) {
		free(sides);
		return -1;
	}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			load_side *s = sides[i * 2 + k] = calls[i].side[k];
			if (!s)
				continue;
			struct epoll_event ev = {.events = EPOLLIN,
			                         .data.u64 = (uint64_t)(i * 2 + k)};
			if (s->peer)
				epoll_ctl(ep, EPOLL_CTL_ADD, synth_peer_fd(s->peer), &ev);
			ev.data.u64 |= 1ull << 34;
			if (s->sub)
				epoll_ctl(ep, EPOLL_CTL_ADD, synth_peer_fd(s->sub), &ev);
			ev.data.u64 = (uint64_t)(i * 2 + k) | 1ull << 32;
			if (s->w)
				epoll_ctl(ep, EPOLL_CTL_ADD, ws_fd(s->w), &ev);
		}
	if (ctl_fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1ull << 33};
		epoll_ctl(ep, EPOLL_CTL_ADD, ctl_fd, &ev);
	}
	int result = -1;
	int64_t next_scan = 0;
	struct epoll_event evs[256];
	for (;;) {
		int64_t now = clock_mono_us();
		if (now >= until_us || (done && done(calls, n)))
			break;
		load_switch_tick(now);
		if (now >= next_scan) {
			next_scan = now + RESCAN_US;
			for (int i = 0; i < n; i++)
				for (int k = 0; k < 4; k++) {
					load_side *s = calls[i].side[k / 2];
					synth_peer *p = !s ? NULL : k % 2 ? s->sub : s->peer;
					if (!p)
						continue;
					if (synth_peer_next_due(p) <= now)
						synth_peer_run(p, now);
					int64_t d = synth_peer_next_due(p);
					if (d < next_scan)
						next_scan = d;
				}
		}
		now = clock_mono_us();
		int64_t wait = (next_scan > until_us ? until_us : next_scan) - now;
		int timeout = wait <= 0 ? 0 : (int)((wait + 999) / 1000);
		int m = epoll_wait(ep, evs, 256, timeout);
		if (m < 0 && errno != EINTR)
			break;
		for (int j = 0; j < m; j++) {
			uint64_t d = evs[j].data.u64;
			if (d & (1ull << 33)) {
				unsigned char c = 0;
				if (read(ctl_fd, &c, 1) == 1) {
					result = c;
					goto out;
				}
				continue;
			}
			load_side *s = sides[d & 0xffffffffu];
			if (d & (1ull << 32)) {
				drain_side(s);
				if (ws_closed(s->w))
					epoll_ctl(ep, EPOLL_CTL_DEL, ws_fd(s->w), NULL);
			} else {
				synth_peer_poll(d & (1ull << 34) ? s->sub : s->peer,
				                clock_mono_us());
			}
		}
	}
out:
	close(ep);
	free(sides);
	return result;
}

int load_all_flowing(load_call *calls, int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			if (!calls[i].side[0]) { /* a spare desk: receives nothing, but is ready */
				if (!synth_peer_connected(calls[i].side[1]->peer))
					return 0;
				break;
			}
			const synth_peer *p = load_rx_peer(calls[i].side[k]);
			if (!p || synth_peer_stats(p)->rtp_received < 20)
				return 0;
		}
	return 1;
}

void load_uncount_in_flight(load_side *s, load_call *c)
{
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < LOAD_RING; i++) {
			load_sent *e = &s->sent[k].e[i];
			if (e->counted && !e->received) {
				e->counted = 0;
				c->sent_w[s->desk]--;
			}
		}
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static double cpu0;
static int64_t t0;
static uint64_t base_nacks, base_plis, base_kreq, base_srtp;

static void sum_counters(load_call *calls, int n, uint64_t *nacks, uint64_t *plis, uint64_t *kreq,
                         uint64_t *srtp)
{
	*nacks = *plis = *kreq = *srtp = 0;
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			if (!calls[i].side[k])
				continue;
			const synth_stats *st = synth_peer_stats(calls[i].side[k]->peer);
			const synth_stats *rx = synth_peer_stats(load_rx_peer(calls[i].side[k]));
			*nacks += rx->nacks_sent;
			*plis += rx->plis_sent;
			*kreq += st->keyframe_requests;
			*srtp += st->srtp_failures + (rx != st ? rx->srtp_failures : 0);
		}
}

void load_measure_start(load_call *calls, int n, int total)
{
	trace = getenv("LOAD_TRACE") != NULL;
	memset(hist, 0, sizeof hist);
	matched = unmatched = 0;
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++)
			calls[i].sent_w[k] = calls[i].recv_w[k] = 0;
	sum_counters(calls, total, &base_nacks, &base_plis, &base_kreq, &base_srtp);
	cpu0 = cpu_s();
	t0 = clock_mono_us();
	win_start = t0;
	win_end = 0;
	load_switch_start(t0);
}

static double window_cpu;

void load_measure_stop(void)
{
	win_end = clock_mono_us();
	window_cpu = cpu_s() - cpu0;
	load_switch_stop();
}

void load_measure_end(load_call *calls, int n, int total, load_result *r)
{
	memset(r, 0, sizeof *r);
	r->seconds = (double)(win_end - t0) / 1e6;
	r->cpu_s = window_cpu;
	r->calls = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		int lossy = 0;
		for (int k = 0; k < 2; k++) {
			uint64_t sent = calls[i].sent_w[k], got = calls[i].recv_w[k];
			double loss = sent ? 1.0 - (double)got / (double)sent : 1.0;
			if (loss > r->worst_loss)
				r->worst_loss = loss;
			lossy |= loss > 0.005;
			r->sent += sent;
			r->received += got;
		}
		r->calls_lossy += (uint32_t)lossy;
	}
	uint64_t nacks, plis, kreq, srtp;
	sum_counters(calls, total, &nacks, &plis, &kreq, &srtp);
	r->nacks_sent = nacks - base_nacks;
	r->plis_sent = plis - base_plis;
	r->keyframe_requests = kreq - base_kreq;
	r->srtp_failures = srtp - base_srtp;
	r->matched = matched;
	r->unmatched = unmatched;
	memcpy(r->hist, hist, sizeof hist);
	load_switch_result_get(&r->sw);
	win_start = 0;
}
