/* The load generator (bench/load): N one-to-one calls of synthetic peers against a running
 * server over the real protocol, in a process of its own. Shared between its files:
 * loadgen.c (options, worker processes, the report), load_media.c (the media loop, the
 * latency and loss accounting) and load_mado.c (Madoguchi's signalling). */
#ifndef MDG_LOAD_H
#define MDG_LOAD_H

#include "synth_peer.h"
#include "ws.h"

#include <stdint.h>

#define LOAD_RING      1024 /* sent packets remembered per stream for the latency (~8 s video) */
#define LOAD_HIST      2000 /* latency histogram: 100 us buckets up to 200 ms, then overflow */
#define LOAD_BUCKET_US 100

typedef struct load_sent {
	uint16_t seq;
	uint32_t fp; /* payload fingerprint: the SFU rewrites headers, never the payload's tail */
	int64_t t_us;
} load_sent;

typedef struct load_ring {
	load_sent e[LOAD_RING];
	uint16_t last; /* the newest sequence number sent */
	int any;
} load_ring;

typedef struct load_side {
	struct load_call *call;
	int desk;
	ws *w;
	int next_id;
	char ringing[64];           /* desk: the visit ringing it */
	synth_peer *peer;           /* sends (and, with Madoguchi, receives) */
	synth_peer *sub;            /* Janus: the subscriber PeerConnection, which receives */
	int64_t session, handle[2]; /* Janus: session, publisher and subscriber handles */
	int64_t feed;               /* Janus: our publisher id */
	int pub_up;                 /* Janus: said webrtcup for our publisher handle */
	load_ring sent[2];          /* what this side sent: audio, video */
	uint16_t rx_off[2];         /* received seq - sent seq of the partner's audio, video */
	int rx_off_ok[2];
	uint64_t sent_w,
	    recv_w; /* media sent in the window; of the partner's sent in it, received */
} load_side;

typedef struct load_call {
	int index;
	load_side *side[2]; /* kiosk, desk (the peers' hooks point at them: never moved) */
} load_call;

/* What one worker measured; summed by the parent. */
typedef struct load_result {
	uint32_t calls, calls_lossy; /* lossy: more than 0.5 % lost in either direction */
	double worst_loss;
	uint64_t sent, received, matched, unmatched;
	uint64_t nacks_sent, plis_sent, keyframe_requests, srtp_failures;
	double cpu_s, seconds;
	uint64_t hist[2][LOAD_HIST + 1]; /* audio, video */
} load_result;

typedef struct load_opts {
	const char *host, *path;
	int port;
	int calls, procs, seconds, warmup;
	int video_kbps;
	int departments; /* the seeded departments bench-0.. (calls spread over them) */
	const char *fixture;
	int server_pid;
	int janus;           /* the server is Janus (VideoRoom) */
	const char *bind_ip; /* the peers' address (Janus in a namespace: the veth's) */
} load_opts;

/* load_media.c */
void load_side_hooks(synth_config *c, load_side *s);
/* Runs the peers and drains the signalling sockets until `until_us`, or until done(arg)
 * says so (checked every loop, may be NULL), or a byte arrives on ctl_fd (>= 0; the
 * byte is returned). Returns -1 otherwise. */
int load_pump(load_call *calls, int n, int64_t until_us, int (*done)(load_call *, int), int ctl_fd);
/* Drains every signalling socket (events the generator does not act on, except rings). */
void load_drain(load_call *calls, int n);
/* The window: packets sent between start and stop count, wherever they arrive before
 * load_measure_end (the caller pumps a grace period after stop for the last ones). */
void load_measure_start(load_call *calls, int n);
void load_measure_stop(void);
void load_measure_end(load_call *calls, int n, load_result *r);
int load_all_flowing(load_call *calls, int n); /* every side has received media */

/* load_mado.c: hello, offer, call and accept for calls [0, n). 0 or -1. */
int load_mado_setup(const load_opts *o, load_call *calls, int n, synth_template *tmpl,
                    dtls_ctx *dtls);

/* load_janus.c: per call a VideoRoom with two publishers, each subscribed to the other. */
int load_janus_setup(const load_opts *o, load_call *calls, int n, synth_template *tmpl,
                     dtls_ctx *dtls);

/* The peer that receives the partner's media. */
static inline synth_peer *load_rx_peer(const load_side *s)
{
	return s->sub ? s->sub : s->peer;
}

#endif
