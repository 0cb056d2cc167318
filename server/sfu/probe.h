/* The kiosk self-test's receiver inside the media plane (PROTOCOL.md, "Kiosk health").
 *
 * A probe attaches to one peer and, for a few seconds, receives that peer's microphone and
 * camera like a receiver would: it sees each RTP packet after SRTP and RTX repair, asks for a
 * key frame when it starts, and keeps the Opus payloads and reassembled VP8 frames in bounded
 * buffers (mcheck.h). It forwards nothing and changes nothing about forwarding. When the time
 * is up it takes the peer's network figures, then decodes in libuv's thread pool
 * (uv_queue_work), so the loop never waits for libopus or libvpx, and reports the derived
 * figures on the loop thread. The encoded media is wiped and freed right after decoding. */
#ifndef MDG_SFU_PROBE_H
#define MDG_SFU_PROBE_H

#include "sfu/mcheck.h"
#include "sfu/sfu.h"

#include <stdint.h>

#define SFU_PROBE_US 3000000 /* PROTOCOL.md: the test's 3 s */

typedef struct sfu_health {
	mcheck_audio_result audio;
	mcheck_video_result video;
	int has_net;    /* the peer was still connected at the end */
	int tcp;        /* media ran over ICE-TCP */
	int64_t rtt_us; /* 0: unknown (an idle kiosk receives nothing, so no report measures it) */
	double loss;    /* share of the mic's and camera's packets lost during the probe, 0..1 */
	double cpu_s;   /* thread CPU the decoding took */
	/* The video is `frozen` because no picture arrived in the test although the camera sent
	 * on this connection before (a receiver sees its last picture); `missing` is kept for a
	 * camera that never sent anything. */
	int video_stalled;
	int64_t duration_us;
} sfu_health;

typedef struct sfu_probe sfu_probe;

/* Called once on the loop thread with the result; the probe is freed right after it
 * returns. The callback may start other probes. */
typedef void (*sfu_probe_cb)(void *user, const sfu_health *h);

/* Starts a probe of duration_us on p (which may or may not be connected yet: packets count
 * from now on). NULL when p already has a probe or memory is short. If p is freed before
 * the end, the probe reports what it saw (has_net 0). */
sfu_probe *sfu_probe_start(sfu_peer *p, int64_t duration_us, sfu_probe_cb cb, void *user);
/* The callback will not be called; the probe goes away (at once, or when its decoding in
 * the thread pool returns). NULL allowed. */
void sfu_probe_cancel(sfu_probe *pr);

#endif
