/* Downlink probing: short bursts ("clusters") of padding sent to one receiver faster than
 * its estimate, and the rate the receiver's transport-cc feedback says it got through.
 *
 * The delay-based estimate (bwe.h) only ever grows to 1.5 x what the receiver actually
 * acknowledged, so a receiver that is sent little cannot show that its link would carry
 * more. A probe answers that question directly: send a cluster at a rate well above the
 * estimate for ~25 ms, then compare when its packets left with when they arrived. If the
 * link is narrower than the probe, the packets queue at the bottleneck and arrive spread
 * out at the link's rate; if it is wider, they arrive as fast as they were sent.
 *
 * The module plans clusters (at 2x and 3x the estimate, capped at what is wanted, spaced
 * so their queues do not overlap), paces them (bwprobe_next says when to send how much),
 * and turns the feedback on their packets into one result per cluster:
 *   send rate    = bytes of all but the last-sent packet / (last send - first send)
 *   receive rate = bytes of all but the first-arrived packet / (last arrival - first arrival)
 * A receive rate clearly below the send rate means the link was saturated: the result is
 * 95 % of the receive rate. Otherwise it is the smaller of the two. A cluster of which less
 * than 80 % arrived, or whose feedback never came, fails. After a success that got close to
 * its own rate while more is wanted, the next round is planned at twice the result, so a
 * wide link is found in a few rounds.
 *
 * The ideas follow libwebrtc's ProbeController and ProbeBitrateEstimator; the code and the
 * constants are our own. Pure and fixed-size: no allocation, no clock, no I/O. Send times
 * are the caller's monotonic microseconds; arrival times come from the receiver's clock
 * and are only ever subtracted from each other. */
#ifndef MDG_RTP_BWPROBE_H
#define MDG_RTP_BWPROBE_H

#include <stddef.h>
#include <stdint.h>

#define BWPROBE_CLUSTERS    4       /* clusters in flight at most */
#define BWPROBE_MIN_PACKETS 6       /* a cluster sends at least this many packets... */
#define BWPROBE_DURATION_US 25000   /* ...and at least this long at its rate */
#define BWPROBE_SPACING_US  120000  /* between the starts of two planned clusters */
#define BWPROBE_TIMEOUT_US  1500000 /* feedback later than this after the send: failed */
#define BWPROBE_MAX_BPS     20000000ull

typedef struct bwprobe_cluster {
	int id; /* > 0; 0: the slot is free */
	uint64_t rate_bps;
	int64_t start_us;   /* not before this */
	uint32_t min_bytes; /* done sending after this many bytes and BWPROBE_MIN_PACKETS */
	uint32_t pkt_size;  /* the size bwprobe_next asks for */
	/* Sending. */
	int sending_done;
	uint32_t sent_packets;
	uint64_t sent_bytes;
	int64_t first_send_us, last_send_us;
	/* Feedback on its packets. */
	uint32_t recv_packets, lost_packets;
	uint64_t recv_bytes;
	int64_t fb_first_send_us, fb_last_send_us;
	uint32_t fb_last_send_size; /* size of the packet sent last among those received */
	int64_t first_arrival_us, last_arrival_us;
	uint32_t first_arrival_size; /* size of the packet that arrived first */
} bwprobe_cluster;

typedef struct bwprobe_result {
	int cluster_id;
	int success;       /* the cluster's feedback yielded a rate */
	uint64_t rate_bps; /* probed rate; 0 when it failed */
	uint64_t target_bps;
	uint64_t send_bps, recv_bps; /* what the rate came from (0 when unknown) */
} bwprobe_result;

typedef struct bwprobe {
	bwprobe_cluster c[BWPROBE_CLUSTERS];
	int next_id;
	uint64_t want_bps;    /* what the current round is looking for; 0: nothing */
	int64_t last_plan_us; /* 0: never */
	uint64_t clusters_planned, clusters_success, clusters_fail, packets_sent;
} bwprobe;

void bwprobe_init(bwprobe *p);

/* Plans a round of clusters so that the estimate can reach target_bps: at 2x and 3x
 * estimate_bps, each capped at target_bps (one cluster when they coincide), the first at
 * now_us. Nothing is planned while a round is still in flight, or when target_bps is not
 * above the estimate. Returns the number of clusters planned. */
int bwprobe_plan(bwprobe *p, uint64_t target_bps, uint64_t estimate_bps, int64_t now_us);
/* The same with only the first cluster (2x the estimate): a cheap check on a line that was
 * full last time. A success still continues toward target_bps. */
int bwprobe_plan_light(bwprobe *p, uint64_t target_bps, uint64_t estimate_bps, int64_t now_us);

/* True while a planned cluster is still to be sent or its feedback is awaited. */
int bwprobe_active(const bwprobe *p);
/* True while a cluster is due to send now or later (the caller keeps its pacing timer). */
int bwprobe_sending(const bwprobe *p);

/* Pacing: whether a probe packet is due at now_us. When it returns 1, *cluster_id and
 * *size (<= max_size) say which cluster and how big the whole datagram should be; the
 * caller sends it (or gives up) and reports it with bwprobe_on_sent. Call it again until
 * it returns 0. */
int bwprobe_next(bwprobe *p, int64_t now_us, size_t max_size, int *cluster_id, size_t *size);
void bwprobe_on_sent(bwprobe *p, int cluster_id, size_t size, int64_t send_us);
/* The caller could not send for cluster_id (no path, no keys): it fails. */
void bwprobe_abort(bwprobe *p, int cluster_id);

/* Feedback on one probe packet: received with its arrival time, or reported lost. */
void bwprobe_on_feedback(bwprobe *p, int cluster_id, size_t size, int64_t send_us,
                         int received, int64_t arrival_us);

/* Concludes one cluster whose feedback is complete (or overdue) and fills *r. Returns 1
 * with a result, 0 when none is ready. Call it until it returns 0. estimate_bps is the
 * estimate after any earlier result was applied; it decides the next round. */
int bwprobe_take_result(bwprobe *p, int64_t now_us, uint64_t estimate_bps, bwprobe_result *r);

/* The rate computation on its own (for tests): from the totals of one cluster. Returns
 * the probed rate, or 0 when the cluster does not support one. */
uint64_t bwprobe_cluster_rate(const bwprobe_cluster *c, uint64_t *send_bps, uint64_t *recv_bps);

#endif
