/* Shared between the files of the synthetic peer (synth_sdp.c, synth_rx.c, synth_peer.c,
 * synth_send.c); nothing else includes it. */
#ifndef MDG_SYNTH_INTERNAL_H
#define MDG_SYNTH_INTERNAL_H

#include "rtp/rtcp.h"
#include "rtp/stun.h"
#include "rtp/twcc.h"
#include "sfu/secure.h"
#include "synth_peer.h"

#include <netinet/in.h>
#include <stdint.h>

/* The five m-lines of the kiosk and desk pages, in their order (web/lib/media.js). */
enum synth_line { SYNTH_MIC, SYNTH_CAMERA, SYNTH_DOCUMENT, SYNTH_SLOT_AUDIO, SYNTH_SLOT_VIDEO };
#define SYNTH_LINES 5

#define SYNTH_PKT_MAX    1500
#define SYNTH_CACHE      512  /* video packets kept for retransmission (about 4 s at 1 Mbit/s) */
#define SYNTH_WINDOW     1024 /* receive window per stream for gaps and duplicates */
#define SYNTH_PENDING    128  /* missing packets a stream NACKs at once */
#define SYNTH_NACK_TRIES 3

/* synth_sdp.c ------------------------------------------------------------------------- */

struct synth_template {
	char *session;    /* session-level lines, without the BUNDLE group */
	char *section[2]; /* audio, video: the m-line and its attributes, ours removed */
	int pt_opus, pt_vp8, pt_rtx;
	int ext_mid, ext_twcc, ext_audio_level;
	int ext_rid, ext_rrid; /* rtp-stream-id, repaired-rtp-stream-id */
};

typedef struct synth_offer_line {
	int video;
	const char *dir;         /* "sendrecv", "recvonly" */
	uint32_t ssrc, rtx_ssrc; /* 0: none declared */
	const char *extra;       /* more attribute lines (CRLF-terminated), or NULL */
} synth_offer_line;

int synth_sdp_offer(const synth_template *t, const char *ufrag, const char *pwd,
                    const char *fingerprint, const synth_offer_line *lines, int n, char *out,
                    size_t cap);

/* What the answer says about one of our m-lines. */
typedef struct synth_answer_line {
	int accepted;
	int server_sends; /* the server's direction includes send and it declared an SSRC */
	uint32_t ssrc, rtx_ssrc;
	int pt, rtx_pt; /* -1 when absent */
	int ext_mid, ext_twcc, ext_audio_level;
	int ext_rid, ext_rrid;
	int simulcast;     /* a=simulcast present */
	char sim_rids[64]; /* its recv list as written, e.g. "q;h;f" */
} synth_answer_line;

typedef struct synth_answer {
	char ufrag[64], pwd[128];
	char ip[64];
	int port;
	int server_active; /* a=setup:active: we are the DTLS server */
	uint8_t fp[32];
	int has_fp;
	synth_answer_line line[SYNTH_LINES];
} synth_answer;

int synth_sdp_parse_answer(const char *sdp, size_t len, synth_answer *a);
int synth_sdp_answer_offer(const char *offer, size_t len, const char *ufrag, const char *pwd,
                           const char *fingerprint, char *out, size_t cap);

/* synth_rx.c --------------------------------------------------------------------------- */

/* A missing packet the receiver NACKs until it arrives or the tries run out. */
typedef struct synth_pending {
	int64_t ext;
	int tries;
	int64_t next_us;
} synth_pending;

/* One stream the server sends us on a slot. */
typedef struct synth_rx {
	int line; /* enum synth_line */
	int video;
	uint32_t ssrc, rtx_ssrc;
	int pt, rtx_pt;
	int started;
	int64_t max_ext; /* highest extended sequence number */
	int64_t base_ext;
	uint8_t have[SYNTH_WINDOW];
	uint8_t missing[SYNTH_WINDOW];
	synth_pending pending[SYNTH_PENDING];
	int n_pending;
	/* RFC 3550 appendix A.3 and A.8 for the reports. */
	uint64_t received, expected_prior, received_prior;
	int64_t last_transit;
	double jitter;
	uint32_t last_sr; /* middle 32 bits of the last SR's NTP time */
	int64_t sr_at_us;
} synth_rx;

void synth_rx_init(synth_rx *r, int line, int video, const synth_answer_line *al);
/* One RTP packet (already unwrapped from RTX) for this stream; returns 1 when new. */
int synth_rx_packet(synth_rx *r, uint16_t seq, uint32_t ts, int64_t now_us, synth_stats *st,
                    synth_slot_stats *ss);
/* Builds a NACK for due missing packets into out; returns its length or 0. */
int synth_rx_nack(synth_rx *r, uint32_t sender_ssrc, int64_t now_us, uint8_t *out, size_t cap);
/* Fills one report block; returns 0, or -1 when nothing has arrived yet. */
int synth_rx_report(synth_rx *r, int64_t now_us, rtcp_report_block *b);
/* Counts what is still missing as unrepaired (at the end of a negotiation). */
void synth_rx_close(synth_rx *r, synth_stats *st, synth_slot_stats *ss);
/* One decrypted RTP packet for the peer: to its stream, the decoders and the hooks. */
void synth_on_rtp(synth_peer *p, uint8_t *buf, size_t len, int64_t now_us);

/* synth_media.c ------------------------------------------------------------------------ */

typedef struct synth_venc synth_venc;
synth_venc *synth_venc_new(int w, int h, int kbps, int layer, int tag);
void synth_venc_free(synth_venc *e);
/* Encodes the next picture (key: force a keyframe) into out; returns its length or -1. */
int synth_venc_frame(synth_venc *e, int key, uint8_t *out, size_t cap, int *is_key);

typedef struct synth_clip synth_clip;
/* A shared loop of n encoded frames (the first a keyframe); NULL when encoding failed.
 * Each get is matched by a put. */
const synth_clip *synth_clip_get(int w, int h, int kbps, int layer, int tag, int n);
void synth_clip_put(const synth_clip *c);
int synth_clip_frames(const synth_clip *c);
const uint8_t *synth_clip_frame(const synth_clip *c, int i, size_t *len);

typedef struct synth_aenc synth_aenc;
synth_aenc *synth_aenc_new(void);
void synth_aenc_free(synth_aenc *a);
int synth_aenc_frame(synth_aenc *a, uint8_t *out, size_t cap);
int synth_audio_loop_ref(void);
void synth_audio_loop_unref(void);
const uint8_t *synth_audio_loop_frame(int i, size_t *len);

typedef struct synth_vdec synth_vdec;
synth_vdec *synth_vdec_new(void);
void synth_vdec_free(synth_vdec *d);
/* One RTP payload, in arrival order. */
void synth_vdec_packet(synth_vdec *d, const uint8_t *payload, size_t len, uint16_t seq, uint32_t ts,
                       int marker);
const synth_video_check *synth_vdec_check(const synth_vdec *d);
/* The decoder lost its reference (a broken or cut frame) and waits for a keyframe. */
int synth_vdec_waiting(const synth_vdec *d);

typedef struct synth_adec synth_adec;
synth_adec *synth_adec_new(void);
void synth_adec_free(synth_adec *a);
void synth_adec_packet(synth_adec *a, const uint8_t *payload, size_t len);
const synth_audio_check *synth_adec_check(const synth_adec *a);

extern const char *const synth_line_names[SYNTH_LINES]; /* mid names, synth_peer.c */

/* synth_peer.c and synth_send.c: the peer itself ----------------------------------------- */

#define AUDIO_FRAME_US  20000
#define VIDEO_FRAME_US  33333
#define VIDEO_MAX_CHUNK 1100
#define VP8_DESC        6 /* X, I L T, 15-bit picture id, TL0PICIDX, TID/Y */
#define FRAME_MAX       (512 * 1024)
#define CLIP_MAX_FRAMES 300     /* 10 s at 30 fps */
#define QUEUE_MAX_US    400000  /* the simulated narrow downlink's queue */
#define NTX             4       /* audio, camera layers f, h, q */
#define STUN_CONNECT_US 50000   /* checks until the first answer */
#define STUN_CONSENT_US 2500000 /* consent checks afterwards, as Chromium sends them */
#define REPORT_US       1000000
#define TWCC_US         100000
#define NACK_US         20000
#define NEVER           INT64_MAX

typedef struct synth_cached {
	uint16_t seq;
	uint16_t len;
	uint8_t data[SYNTH_PKT_MAX];
} synth_cached;

typedef struct synth_tx {
	int line; /* SYNTH_MIC or SYNTH_CAMERA */
	int video;
	int on;    /* sends (a camera layer beyond the first only with simulcast) */
	int layer; /* 0 q, 1 h, 2 f (drawn into the picture) */
	const char *rid;
	int w, h, kbps;
	uint32_t ssrc, rtx_ssrc;
	int pt, rtx_pt; /* rtx_pt -1: retransmit on the media SSRC */
	uint16_t seq, rtx_seq;
	uint32_t ts0;
	int64_t next_us, next_key_us;
	int force_key;
	uint16_t picture_id;
	uint8_t tl0picidx;
	uint32_t packets, octets; /* for sender reports */
	const synth_clip *clip;   /* replay: the loop and where in it */
	int clip_pos;
	synth_venc *venc;    /* live */
	synth_cached *cache; /* video packets by seq % SYNTH_CACHE */
} synth_tx;

struct synth_peer {
	synth_config cfg;
	char label[64];
	int fd;
	struct sockaddr_in server;
	uint64_t rng;
	char ufrag[16], pwd[32];
	synth_answer ans;
	int running;

	int ice_ok;
	uint8_t txid[12];
	int64_t next_stun_us;
	uint64_t tiebreaker;
	dtls *dtls;
	secure *srtp;

	synth_tx tx[NTX];
	int n_tx;
	int sim_on; /* the answer accepted simulcast: every camera layer sends */
	int ext_rid, ext_rrid;
	synth_aenc *aenc; /* live audio */
	int audio_pos;    /* replayed audio */
	int audio_ref;
	uint8_t *frame; /* scratch for one encoded picture */
	synth_vdec *vdec[SYNTH_LINES];
	synth_adec *adec[SYNTH_LINES];
	int64_t link_free_us; /* the narrow downlink is busy until then */
	int64_t arrival_us;   /* when the packet being handled arrived through it */
	int64_t next_decoder_pli_us;
	uint16_t twcc_seq;
	uint32_t rtcp_ssrc;
	uint32_t doc_ssrc, doc_rtx_ssrc; /* declared on the document m-line, never used */

	synth_rx rx[SYNTH_LINES];
	int rx_on[SYNTH_LINES];
	synth_slot_stats slot[SYNTH_LINES];
	twcc_rec twcc;
	int64_t next_report_us, next_twcc_us, next_nack_us, next_pli_us;

	synth_stats st;
	int64_t now_us; /* of the synth_peer_run call in progress */
	int subscriber; /* answered the server's offer (synth_answerer.c): receives only */
};

/* synth_send.c: media, retransmissions and RTCP out; RTCP in; the socket batch ----------- */

/* Queues a datagram to the server; synth_flush sends the queue with one sendmmsg. The
 * queue is the calling thread's and holds one peer's packets at a time (another peer's
 * send flushes it first). */
void synth_send_raw(synth_peer *p, const uint8_t *data, size_t len);
/* Protects a plain RTP or RTCP packet and queues it, unless the simulated network loses it. */
void synth_send_srtp(synth_peer *p, const uint8_t *pkt, size_t len, int rtcp);
void synth_flush(synth_peer *p);
void synth_send_media(synth_peer *p, int64_t now_us);
void synth_send_feedback(synth_peer *p, int64_t now_us);
void synth_on_rtcp(synth_peer *p, const uint8_t *buf, size_t len, int64_t now_us);

/* synth_peer.c for synth_answerer.c */
int synth_apply_answer(synth_peer *p, const synth_answer *a, int64_t now_us);
void synth_ice_up(synth_peer *p, int64_t now_us); /* checks passed: DTLS starts */
void synth_hex(synth_peer *p, char *out, int nbytes);

/* synth_answerer.c: answering a server's offer, answering a full ICE agent's checks */
int synth_on_stun_request(synth_peer *p, const uint8_t *buf, size_t len, const stun_msg *m);

/* synth_peer.c helpers used by the others ----------------------------------------------- */

/* xorshift64*: deterministic, cheap, good enough for loss and filler bytes. */
static inline uint64_t synth_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Whether the simulated network loses this packet. */
static inline int synth_lose(synth_peer *p, double rate)
{
	if (rate <= 0)
		return 0;
	return (double)(synth_rand(&p->rng) >> 11) * (1.0 / 9007199254740992.0) < rate;
}

#endif
