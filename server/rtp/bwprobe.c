/* Downlink probing: planning, pacing and reading probe clusters; see bwprobe.h. */
#include "rtp/bwprobe.h"

#include <string.h>

#define MIN_ESTIMATE_BPS 50000ull
#define MIN_PKT_SIZE     200
#define MAX_PKT_SIZE     1200
#define MIN_RECEIVED     0.80 /* of the packets and bytes sent, or the cluster failed */
#define SATURATED        0.90 /* receive rate below this x send rate: the link was full */
#define SATURATED_USE    0.95 /* ...and the result is this x the receive rate */
#define FURTHER          0.70 /* a result this close to its cluster's rate: probe further */
#define MAX_INTERVAL_US  1000000 /* a cluster spread wider than this says nothing */

void bwprobe_init(bwprobe *p)
{
	if (!p)
		return;
	memset(p, 0, sizeof *p);
	p->next_id = 1;
}

static bwprobe_cluster *find(bwprobe *p, int id)
{
	if (id <= 0)
		return NULL;
	for (int i = 0; i < BWPROBE_CLUSTERS; i++)
		if (p->c[i].id == id)
			return &p->c[i];
	return NULL;
}

int bwprobe_active(const bwprobe *p)
{
	for (int i = 0; p && i < BWPROBE_CLUSTERS; i++)
		if (p->c[i].id)
			return 1;
	return 0;
}

int bwprobe_sending(const bwprobe *p)
{
	for (int i = 0; p && i < BWPROBE_CLUSTERS; i++)
		if (p->c[i].id && !p->c[i].sending_done)
			return 1;
	return 0;
}

static void add_cluster(bwprobe *p, uint64_t rate, int64_t start_us)
{
	for (int i = 0; i < BWPROBE_CLUSTERS; i++) {
		bwprobe_cluster *c = &p->c[i];
		if (c->id)
			continue;
		memset(c, 0, sizeof *c);
		c->id = p->next_id;
		/* After 2^31 clusters: keep ids positive (and the increment defined). */
		p->next_id = p->next_id >= INT32_MAX ? 1 : p->next_id + 1;
		c->rate_bps = rate;
		c->start_us = start_us;
		uint64_t bytes = rate * BWPROBE_DURATION_US / 8000000;
		c->min_bytes = (uint32_t)bytes;
		uint64_t size = bytes / BWPROBE_MIN_PACKETS;
		c->pkt_size = (uint32_t)(size < MIN_PKT_SIZE   ? MIN_PKT_SIZE
		                         : size > MAX_PKT_SIZE ? MAX_PKT_SIZE
		                                               : size);
		p->clusters_planned++;
		return;
	}
}

static int plan(bwprobe *p, uint64_t target_bps, uint64_t estimate_bps, int64_t now_us,
                int max_clusters)
{
	if (!p || bwprobe_active(p))
		return 0;
	if (target_bps > BWPROBE_MAX_BPS)
		target_bps = BWPROBE_MAX_BPS;
	uint64_t est = estimate_bps < MIN_ESTIMATE_BPS ? MIN_ESTIMATE_BPS : estimate_bps;
	/* Within 5 % of the estimate there is nothing worth finding out. */
	if (target_bps <= est + est / 20)
		return 0;
	uint64_t r1 = 2 * est < target_bps ? 2 * est : target_bps;
	uint64_t r2 = 3 * est < target_bps ? 3 * est : target_bps;
	add_cluster(p, r1, now_us);
	int n = 1;
	if (r2 > r1 && max_clusters > 1) {
		add_cluster(p, r2, now_us + BWPROBE_SPACING_US);
		n++;
	}
	p->want_bps = target_bps;
	p->last_plan_us = now_us;
	return n;
}

int bwprobe_plan(bwprobe *p, uint64_t target_bps, uint64_t estimate_bps, int64_t now_us)
{
	return plan(p, target_bps, estimate_bps, now_us, 2);
}

int bwprobe_plan_light(bwprobe *p, uint64_t target_bps, uint64_t estimate_bps, int64_t now_us)
{
	return plan(p, target_bps, estimate_bps, now_us, 1);
}

/* The cluster that may send now: the oldest one not done, once its start time has come
 * and the one before it has had time to drain from the bottleneck queue. */
static bwprobe_cluster *sending_cluster(bwprobe *p, int64_t now_us)
{
	bwprobe_cluster *best = NULL;
	int64_t last_done_us = 0;
	for (int i = 0; i < BWPROBE_CLUSTERS; i++) {
		bwprobe_cluster *c = &p->c[i];
		if (!c->id)
			continue;
		if (c->sending_done) {
			if (c->last_send_us > last_done_us)
				last_done_us = c->last_send_us;
			continue;
		}
		if (!best || c->id - best->id < 0)
			best = c;
	}
	if (!best || now_us < best->start_us)
		return NULL;
	if (best->sent_packets == 0 && last_done_us &&
	    now_us - last_done_us < BWPROBE_SPACING_US - BWPROBE_DURATION_US)
		return NULL;
	return best;
}

int bwprobe_next(bwprobe *p, int64_t now_us, size_t max_size, int *cluster_id, size_t *size)
{
	if (!p || max_size == 0)
		return 0;
	bwprobe_cluster *c = sending_cluster(p, now_us);
	if (!c)
		return 0;
	if (c->sent_packets > 0) {
		/* Paced: the next packet leaves once the rate allows what was sent so far. */
		int64_t elapsed = now_us - c->first_send_us;
		if (elapsed < 0)
			elapsed = 0;
		double allowed = (double)c->rate_bps * (double)elapsed / 8e6;
		if ((double)c->sent_bytes > allowed)
			return 0;
	}
	*cluster_id = c->id;
	*size = c->pkt_size < max_size ? c->pkt_size : max_size;
	return 1;
}

void bwprobe_on_sent(bwprobe *p, int cluster_id, size_t size, int64_t send_us)
{
	bwprobe_cluster *c = p ? find(p, cluster_id) : NULL;
	if (!c)
		return;
	if (c->sent_packets == 0)
		c->first_send_us = send_us;
	c->last_send_us = send_us;
	c->sent_packets++;
	c->sent_bytes += size;
	p->packets_sent++;
	if (c->sent_bytes >= c->min_bytes && c->sent_packets >= BWPROBE_MIN_PACKETS)
		c->sending_done = 1;
}

void bwprobe_abort(bwprobe *p, int cluster_id)
{
	bwprobe_cluster *c = p ? find(p, cluster_id) : NULL;
	if (!c)
		return;
	/* Done sending with what it has; too few packets make it fail when concluded. */
	c->sending_done = 1;
	if (c->sent_packets == 0)
		c->last_send_us = c->start_us;
}

void bwprobe_on_feedback(bwprobe *p, int cluster_id, size_t size, int64_t send_us,
                         int received, int64_t arrival_us)
{
	bwprobe_cluster *c = p ? find(p, cluster_id) : NULL;
	if (!c)
		return;
	if (!received) {
		c->lost_packets++;
		return;
	}
	if (received == 2 && c->lost_packets > 0)
		c->lost_packets--; /* reported lost before, arrived late after all */
	uint32_t sz = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	if (c->recv_packets == 0) {
		c->fb_first_send_us = c->fb_last_send_us = send_us;
		c->fb_last_send_size = sz;
		c->first_arrival_us = c->last_arrival_us = arrival_us;
		c->first_arrival_size = sz;
	} else {
		if (send_us < c->fb_first_send_us)
			c->fb_first_send_us = send_us;
		if (send_us >= c->fb_last_send_us) {
			c->fb_last_send_us = send_us;
			c->fb_last_send_size = sz;
		}
		if (arrival_us < c->first_arrival_us) {
			c->first_arrival_us = arrival_us;
			c->first_arrival_size = sz;
		}
		if (arrival_us > c->last_arrival_us)
			c->last_arrival_us = arrival_us;
	}
	c->recv_packets++;
	c->recv_bytes += sz;
}

uint64_t bwprobe_cluster_rate(const bwprobe_cluster *c, uint64_t *send_bps, uint64_t *recv_bps)
{
	if (send_bps)
		*send_bps = 0;
	if (recv_bps)
		*recv_bps = 0;
	if (!c || c->recv_packets < 2 || c->sent_packets == 0)
		return 0;
	if ((double)c->recv_packets < MIN_RECEIVED * c->sent_packets ||
	    (double)c->recv_bytes < MIN_RECEIVED * (double)c->sent_bytes)
		return 0; /* the probe itself overflowed a queue */
	int64_t send_iv = c->fb_last_send_us - c->fb_first_send_us;
	int64_t recv_iv = c->last_arrival_us - c->first_arrival_us;
	if (recv_iv <= 0 || recv_iv > MAX_INTERVAL_US || send_iv < 0 || send_iv > MAX_INTERVAL_US)
		return 0;
	/* Each interval spans all packets but one: the last sent one's bytes were sent after
	 * the send interval ended, the first arrived one's had arrived before the receive
	 * interval began. */
	double recv = (double)(c->recv_bytes - c->first_arrival_size) * 8e6 / (double)recv_iv;
	double send = send_iv > 0 ? (double)(c->recv_bytes - c->fb_last_send_size) * 8e6 /
	                                (double)send_iv
	                          : 0;
	if (send_bps)
		*send_bps = (uint64_t)send;
	if (recv_bps)
		*recv_bps = (uint64_t)recv;
	double rate;
	if (send <= 0) /* sent as one burst: only the arrivals tell */
		rate = recv;
	else if (recv < SATURATED * send)
		rate = SATURATED_USE * recv;
	else
		rate = recv < send ? recv : send;
	if (rate > (double)BWPROBE_MAX_BPS)
		rate = (double)BWPROBE_MAX_BPS;
	return (uint64_t)rate;
}

static int concluded(const bwprobe_cluster *c, int64_t now_us)
{
	if (!c->id || !c->sending_done)
		return 0;
	if (c->recv_packets + c->lost_packets >= c->sent_packets)
		return 1;
	return now_us - c->last_send_us > BWPROBE_TIMEOUT_US;
}

int bwprobe_take_result(bwprobe *p, int64_t now_us, uint64_t estimate_bps, bwprobe_result *r)
{
	if (!p || !r)
		return 0;
	bwprobe_cluster *c = NULL;
	for (int i = 0; i < BWPROBE_CLUSTERS; i++)
		if (concluded(&p->c[i], now_us) && (!c || p->c[i].id - c->id < 0))
			c = &p->c[i];
	if (!c)
		return 0;
	memset(r, 0, sizeof *r);
	r->cluster_id = c->id;
	r->target_bps = c->rate_bps;
	uint64_t rate = bwprobe_cluster_rate(c, &r->send_bps, &r->recv_bps);
	/* Success: the link carried more than the estimate claims. A probe that reads no
	 * more than the estimate found no room, which counts as a failure (and changes
	 * nothing: the estimator never lowers on a probe). */
	r->success = rate > estimate_bps;
	r->rate_bps = r->success ? rate : 0;
	r->success ? p->clusters_success++ : p->clusters_fail++;
	int further = r->success && (double)rate >= FURTHER * (double)c->rate_bps;
	memset(c, 0, sizeof *c);
	if (!bwprobe_active(p)) {
		uint64_t want = p->want_bps;
		p->want_bps = 0;
		uint64_t est = r->success && rate > estimate_bps ? rate : estimate_bps;
		/* The link took nearly all of the last cluster and more is wanted: go on from
		 * the new estimate at once rather than waiting for the next request. */
		if (further && want > est)
			bwprobe_plan(p, want, est, now_us);
	}
	return 1;
}
