/* Simulcast layer selection for one receive slot, and the continuity of a slot's sequence
 * numbers and timestamps across a change of the stream feeding it (a layer switch or a
 * source switch). Pure: the caller passes the clock and what it measured; no I/O.
 *
 * A simulcasting camera sends up to LAYERSEL_MAX layers (RFC 8853), each its own SSRC. Each
 * receiver slot gets the best layer that fits both its share of the receiver's downlink
 * estimate and the size the page shows it at (the `view` hint), moves to another layer only
 * after the choice has held for a while (down fast, up slowly, so it does not flap), and
 * switches only on a keyframe of the target layer, which the caller asks for. */
#ifndef MDG_RTP_LAYERSEL_H
#define MDG_RTP_LAYERSEL_H

#include <stddef.h>
#include <stdint.h>

#define LAYERSEL_MAX 3
/* A layer that sent nothing for this long is off (the sender stopped it). */
#define LAYERSEL_IDLE_US 1000000
/* A better layer must stay the choice this long before the slot moves up; a worse one this
 * long before it moves down (at once when the current layer is off); and an up-switch waits
 * this long after the last down-switch. */
#define LAYERSEL_UP_HOLD_US       1500000
#define LAYERSEL_DOWN_HOLD_US     300000
#define LAYERSEL_UP_AFTER_DOWN_US 3000000

/* What the forwarder measures of one incoming layer: its rate over half-second windows and
 * the picture size its VP8 keyframes declare. */
typedef struct layer_meter {
	uint64_t window_bytes;
	int64_t window_start_us;
	uint32_t bps;           /* the last complete window's rate, smoothed */
	int64_t last_us;        /* the last packet; 0: none yet */
	uint16_t width, height; /* 0 until a keyframe was seen */
} layer_meter;

void layer_meter_on_packet(layer_meter *m, size_t bytes, int64_t now_us);
/* A VP8 keyframe's payload (after the payload descriptor is skipped by the parser inside):
 * takes its width and height (RFC 6386 section 9.1). Ignores anything unparsable. */
void layer_meter_on_keyframe(layer_meter *m, const uint8_t *payload, size_t len);

/* One layer as the selection sees it. */
typedef struct layer_view {
	int active;             /* sent something within LAYERSEL_IDLE_US */
	uint32_t bps;           /* its recent rate */
	uint16_t width, height; /* 0: not known yet */
} layer_view;

/* The view of a meter at now_us. */
layer_view layer_meter_view(const layer_meter *m, int64_t now_us);

/* The layer (index into l) that best fits: among active layers, no larger than the smallest
 * one that covers the display hint (want_w x want_h, to 90 %; 0 x 0: no hint), the largest
 * whose rate fits share_bps (a layer above `current` needs a quarter more room than its rate,
 * so a slot does not move up on a marginal estimate); the smallest active layer when none
 * fits. Layers are ordered by their known size, then by index. -1 when none is active.
 * *display (may be NULL) gets the layer the display alone would want. */
int layersel_pick(const layer_view *l, int n, int current, uint64_t share_bps, int want_w,
                  int want_h, int *display);

/* 1 when layer a is smaller than layer b in the order layersel_pick uses. */
int layersel_smaller(const layer_view *l, int a, int b);

enum layersel_verdict { LAYERSEL_DROP, LAYERSEL_FORWARD, LAYERSEL_SWITCH };

/* One slot's state: the layer forwarded now, the one it moves to at its next keyframe, and
 * the hysteresis of that choice. */
typedef struct layersel {
	int current; /* -1: nothing forwarded yet */
	int target;  /* -1: not chosen yet */
	int candidate;
	int64_t candidate_since_us;
	int64_t last_down_us;
	uint64_t switches;
} layersel;

void layersel_init(layersel *s);

/* Feeds the latest pick (layersel_pick's result for the current views). Returns 1 when the
 * target changed: the caller asks for a keyframe on the new target. */
int layersel_update(layersel *s, const layer_view *l, int n, int best, int64_t now_us);

/* A packet of `layer` arrived: forward it (the current layer), switch to it (a keyframe of
 * the target: it becomes current and the caller restarts the slot's rewriting on it), or
 * drop it. */
enum layersel_verdict layersel_gate(layersel *s, int layer, int keyframe);

/* Offsets that continue a slot onto a new stream: the new stream's packet (in_seq, in_ts)
 * goes out as last_seq + 1 and last_ts advanced by the wall-clock time since the slot's
 * last packet (at least 1 tick), all modulo 2^16 and 2^32. */
typedef struct layer_join {
	uint16_t seq_offset;
	uint32_t ts_offset;
} layer_join;

layer_join layer_join_offsets(uint16_t last_seq, uint32_t last_ts, int64_t elapsed_us,
                              uint32_t clock_rate, uint16_t in_seq, uint32_t in_ts);

#endif
