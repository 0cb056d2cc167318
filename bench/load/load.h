/* The load generator (bench/load): N one-to-one calls of synthetic peers against a running
 * server over the real protocol, in a process of its own. Shared between its files:
 * loadgen.c (options, worker processes, the report), load_media.c (the media loop, the
 * latency and loss accounting), load_mado.c (Madoguchi's signalling) and load_switch.c
 * (transfers to another department's desk during the window, and how long the kiosk waits
 * for the new clerk's picture). */
#ifndef MDG_LOAD_H
#define MDG_LOAD_H

#include "synth_peer.h"
#include "ws.h"

#include <stdint.h>

#define LOAD_RING      1024 /* sent packets remembered per stream for the latency (~8 s video) */
#define LOAD_HIST      2000 /* latency histogram: 100 us buckets up to 200 ms, then overflow */
#define LOAD_BUCKET_US 100
#define LOAD_SW_TIMEOUT_US 5000000 /* a switch that shows no new picture by then failed */
#define LOAD_SW_BUCKETS    5001    /* switch times: 1 ms buckets up to 5 s, then overflow */

typedef struct load_sent {
	uint16_t seq;
	uint8_t counted;  /* sent in the window by a side in a call (not mid-switch): counts */
	uint8_t received; /* the partner has it */
	uint32_t fp; /* payload fingerprint: the SFU rewrites headers, never the payload's tail */
	int64_t t_us;
} load_sent;

typedef struct load_ring {
	load_sent e[LOAD_RING];
	uint16_t last; /* the newest sequence number sent */
	int any;
} load_ring;

typedef struct load_side {
	struct load_call *call; /* the entry that holds this side (desks move between entries) */
	int desk;
	int dept;                      /* desk: its department's number */
	struct load_call *serving;     /* kiosk: its call; desk: the call it serves, or NULL */
	struct load_side *partner;     /* whose sent packets this side receives */
	struct load_side *prev;        /* kiosk: the desk before a switch (packets in flight) */
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
} load_side;

enum { LOAD_SW_NONE, LOAD_SW_SENT, LOAD_SW_ACCEPTED, LOAD_SW_BROKEN };

/* A call (kiosk and the desk serving it), or a spare desk's entry (side[0] NULL; they come
 * after the calls). */
typedef struct load_call {
	int index;
	load_side *side[2]; /* kiosk, desk (the peers' hooks point at them: never moved) */
	char visit[64];
	uint64_t sent_w[2], recv_w[2]; /* by sender (kiosk, desk): counted sent; of them received */
	/* Switching (load_switch.c). */
	int sw_state;
	int sw_dept;           /* the department transferred to */
	int64_t sw_next;       /* when this call next switches (0: never) */
	int64_t sw_start;      /* the transfer was sent */
	int64_t sw_ring;       /* the new desk rang (and accepted) */
	int64_t sw_first;      /* the kiosk's first packet from the new desk */
	uint64_t sw_kreq;      /* the new desk's keyframe requests when it accepted */
} load_call;

/* What the switches measured (load_switch.c), per worker. Times from the transfer sent. */
typedef struct load_switch_result {
	uint32_t started, done, failed, skipped;
	uint32_t with_request; /* done ones whose new desk was asked for a keyframe meanwhile */
	uint32_t max_us;
	uint32_t hist[3][LOAD_SW_BUCKETS]; /* ring, first packet of the new desk, its keyframe */
} load_switch_result;

/* What one worker measured; summed by the parent. */
typedef struct load_result {
	uint32_t calls, calls_lossy; /* lossy: more than 0.5 % lost in either direction */
	double worst_loss;
	uint64_t sent, received, matched, unmatched;
	uint64_t nacks_sent, plis_sent, keyframe_requests, srtp_failures;
	double cpu_s, seconds;
	uint64_t hist[2][LOAD_HIST + 1]; /* audio, video */
	load_switch_result sw;
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
	double switch_every;  /* seconds between a call's switches (0: none) */
	int switch_calls;     /* how many calls switch (those with index < this) */
	int spares;           /* idle desks per department, to switch to */
} load_opts;

/* load_media.c (n: calls; pump and drain also take the spare desks' entries after them) */
void load_side_hooks(synth_config *c, load_side *s);
/* Runs the peers and drains the signalling sockets until `until_us`, or until done(arg)
 * says so (checked every loop, may be NULL), or a byte arrives on ctl_fd (>= 0; the
 * byte is returned). Returns -1 otherwise. */
int load_pump(load_call *calls, int n, int64_t until_us, int (*done)(load_call *, int), int ctl_fd);
/* Drains every signalling socket (events the generator does not act on, except rings). */
void load_drain(load_call *calls, int n);
/* The window: packets sent between start and stop count, wherever they arrive before
 * load_measure_end (the caller pumps a grace period after stop for the last ones). */
void load_measure_start(load_call *calls, int n, int total);
void load_measure_stop(void);
void load_measure_end(load_call *calls, int n, int total, load_result *r);
int load_all_flowing(load_call *calls, int n);
/* A switch starts: what s sent for call c that has not arrived yet stops counting (the
 * server drops what reaches it after the party left; that is not loss). */
void load_uncount_in_flight(load_side *s, load_call *c); /* every side has media (spares: SRTP up) */

/* load_mado.c: hello, offer, call and accept for calls [0, n); hello, presence and offer for
 * the spare desks in [n, total). 0 or -1. */
int load_mado_setup(const load_opts *o, load_call *calls, int n, int total, synth_template *tmpl,
                    dtls_ctx *dtls);
/* Sends a request without waiting for its reply (replies are drained; errors logged). */
int load_mado_send(load_side *s, const char *type, const char *k1, const char *v1,
                   const char *k2, const char *v2);

/* load_switch.c */
void load_switch_init(const load_opts *o, load_call *calls, int n, int total);
void load_switch_start(int64_t now_us); /* the window opened: schedule the switches */
void load_switch_stop(void);            /* the window closed: no new switches */
void load_switch_tick(int64_t now_us);  /* due switches and timeouts (cheap when none) */
void load_switch_ring(load_side *desk, const char *visit, int64_t now_us);
/* The kiosk received a packet of its desk's on the camera line. */
void load_switch_video(load_side *kiosk, const uint8_t *payload, size_t len, int64_t now_us);
int load_switch_settled(load_call *calls, int n); /* no switch in progress */
void load_switch_result_get(load_switch_result *r);

/* load_janus.c: per call a VideoRoom with two publishers, each subscribed to the other. */
int load_janus_setup(const load_opts *o, load_call *calls, int n, synth_template *tmpl,
                     dtls_ctx *dtls);

/* The peer that receives the partner's media. */
static inline synth_peer *load_rx_peer(const load_side *s)
{
	return s->sub ? s->sub : s->peer;
}

#endif
