/* Downlink bandwidth estimation from a receiver's transport-cc feedback: the server stamps a
 * transport-wide sequence number on every packet it sends to one receiver, remembers when
 * and how big each was, and reads the receiver's RTPFB FMT 15 reports of when they arrived.
 *
 * Two estimates are kept and the lower one wins:
 *  - delay based: packets are grouped into ~5 ms send bursts; the growth of one-way delay
 *    between groups is smoothed by a trendline (linear regression over the last 20 groups)
 *    and compared with an adaptive threshold; overuse cuts the rate to 0.85 x the bitrate
 *    the receiver actually acknowledged, otherwise it grows (8 %/s far from the last
 *    congestion point, about one packet per response time near it), never beyond
 *    1.5 x acknowledged + 10 kbit/s so that an app-limited stream cannot run it away;
 *  - loss based: over windows of about 100 packets, more than 10 % loss multiplies it by
 *    (1 - loss / 2), less than 2 % lets it grow, in between it holds.
 * The ideas follow draft-ietf-rmcat-gcc-02; the code and constants are our own.
 *
 * Pure and fixed-size: no allocation, no clock; the caller passes times in microseconds
 * from one monotonic clock (arrival times inside the feedback use the receiver's clock and
 * are only ever subtracted from each other). */
#ifndef MDG_RTP_BWE_H
#define MDG_RTP_BWE_H

#include "rtp/bwprobe.h"

#include <stddef.h>
#include <stdint.h>

#define BWE_HISTORY     2048 /* sent packets remembered, indexed by seq % BWE_HISTORY: 2.3 s at
                              * 10 Mbit/s, far longer than feedback takes (49 KiB a peer) */
#define BWE_TREND_WIN   20   /* groups in the trendline regression */
#define BWE_ACK_BUCKETS 16   /* 50 ms buckets of acknowledged bytes, by arrival time */

#define BWE_MIN_BPS 50000ull
#define BWE_MAX_BPS 10000000ull

typedef enum bwe_delay_state {
	BWE_NORMAL = 0,
	BWE_OVERUSING = 1,
	BWE_UNDERUSING = 2,
} bwe_delay_state;

/* One packet sent to the receiver. */
typedef struct bwe_sent {
	int64_t send_us;
	uint32_t size;
	uint16_t seq;
	uint8_t used;   /* the slot holds a packet */
	uint8_t report; /* 0 not reported yet, 1 reported lost, 2 reported received */
	int32_t cluster; /* > 0: a probe packet of that cluster (bwprobe.h) */
} bwe_sent;

/* A group of packets sent within 5 ms of its first one. */
typedef struct bwe_group {
	int64_t first_send_us;
	int64_t last_send_us;
	int64_t last_arrival_us;
	int active;
} bwe_group;

typedef struct bwe {
	bwe_sent sent[BWE_HISTORY];
	int64_t newest_send_us;

	/* Receiver clock reconstruction: the 24-bit reference time unwrapped across packets. */
	int have_ref;
	int32_t last_ref;
	int64_t ref_unwrapped;

	/* Inter-group delay variation and its trendline. */
	bwe_group cur, prev;
	double acc_delay_ms, smooth_delay_ms;
	double trend_x[BWE_TREND_WIN], trend_y[BWE_TREND_WIN];
	int trend_n, trend_head, num_deltas;
	int64_t first_arrival_us;
	double trend, prev_trend, threshold;
	int64_t last_threshold_us;
	double overuse_ms;
	int overuse_count;
	bwe_delay_state state;

	/* Acknowledged bytes per 50 ms of arrival time. */
	uint64_t ack_bytes[BWE_ACK_BUCKETS];
	int64_t ack_head; /* bucket index of the newest arrival */
	int64_t ack_first_us, ack_last_us;
	int ack_started;
	uint64_t acked_bps; /* 0 until half a window has been seen */

	/* Delay-based rate control (AIMD). */
	double delay_bps;
	int64_t last_update_us, last_decrease_us;
	int cap_valid;  /* a recent congestion point is known */
	double cap_bps; /* average acknowledged rate at recent decreases */
	int64_t rtt_us; /* smoothed, upper bound: includes the feedback interval */

	/* Loss-based control over windows of packets. */
	double loss_bps;
	uint32_t win_lost, win_expected;
	int64_t win_start_us, last_loss_decrease_us;
	double loss; /* fraction lost in the last evaluated window */

	uint64_t feedbacks, malformed;

	/* Probing (bwprobe.h): the prober's clusters are sent through bwe_on_sent_probe, their
	 * feedback goes to the prober instead of the loss, acknowledged-rate and delay
	 * accounting, and a successful cluster raises the estimate. While a round is in flight
	 * and shortly after, neither controller cuts below probe_floor_bps: the queue or loss
	 * a probe causes itself is no news about the link. */
	bwprobe probe;
	double probe_floor_bps;
	int64_t probe_guard_until_us;
	uint64_t probe_raises; /* successful probes that raised the estimate */
} bwe;

void bwe_init(bwe *b, uint64_t initial_bps);

/* A packet left for this receiver: its transport-wide seq, the whole datagram's size and
 * the send time. */
void bwe_on_sent(bwe *b, uint16_t twcc_seq, size_t size, int64_t send_us);
/* The packet twcc_seq, recorded by bwe_on_sent and then queued for a batched send, actually
 * left at send_us: its send time becomes that (nothing happens once it was reported on). */
void bwe_set_send_time(bwe *b, uint16_t twcc_seq, int64_t send_us);

/* One RTCP RTPFB FMT 15 packet from the receiver, starting at its RTCP header. Reports
 * for sequence numbers never sent or already forgotten are skipped, repeated reports are
 * counted once, and feedback may come out of order. Returns 0, or -1 when malformed
 * (the state is left untouched). */
int bwe_on_feedback(bwe *b, const uint8_t *pkt, size_t len, int64_t now_us);

/* A probe packet of cluster `cluster` left (see bwprobe_next). */
void bwe_on_sent_probe(bwe *b, uint16_t twcc_seq, size_t size, int64_t send_us, int cluster);

/* Plans a probing round toward target_bps from the current estimate (bwprobe_plan, or
 * bwprobe_plan_light when light) and guards the estimate from what the round itself causes.
 * Returns the clusters planned. */
int bwe_probe_plan(bwe *b, uint64_t target_bps, int light, int64_t now_us);
/* The same with the clusters' rates planned from at most from_max_bps instead of the
 * estimate (a receiver's first round: from what it was seen to take, not from the initial
 * guess). */
int bwe_probe_plan_from(bwe *b, uint64_t target_bps, uint64_t from_max_bps, int light,
                        int64_t now_us);

/* Concludes probe clusters that are complete or overdue and applies their results; called
 * by bwe_on_feedback and, so that a round whose feedback never comes still ends, from the
 * caller's timer. Returns the number of clusters concluded. */
int bwe_probe_poll(bwe *b, int64_t now_us);

/* A probe found the link carries probed_bps: the estimate rises to it when it is higher
 * (never beyond it, never down). */
void bwe_on_probe_result(bwe *b, uint64_t probed_bps, int64_t now_us);

/* The current estimate: min(delay based, loss based), within BWE_MIN_BPS..BWE_MAX_BPS. */
uint64_t bwe_estimate_bps(const bwe *b);

/* Diagnostics for /metrics and logs. */
uint64_t bwe_acked_bps(const bwe *b);    /* delivered rate over the last ~500 ms */
double bwe_loss_fraction(const bwe *b);  /* 0..1, last evaluated window */
bwe_delay_state bwe_state(const bwe *b); /* what the delay detector says now */
int64_t bwe_rtt_us(const bwe *b);        /* smoothed, an upper bound; 0 when unknown */
uint64_t bwe_delay_based_bps(const bwe *b);
uint64_t bwe_loss_based_bps(const bwe *b);
const char *bwe_state_name(bwe_delay_state s); /* "normal", "overusing", "underusing" */

#endif
