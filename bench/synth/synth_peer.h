/* A synthetic WebRTC peer for soak tests and load benchmarks: it speaks to the media plane
 * exactly as a browser does on the wire (STUN checks with USE-CANDIDATE and consent, a DTLS
 * client handshake, SRTP/SRTCP), sends real Opus (libopus, a 440 Hz tone in 20 ms frames)
 * and real VP8 (libvpx, a moving picture at 640x480, optionally as 2-3 simulcast layers with
 * rid, RFC 8851/8853) with the mid and transport-cc header extensions, answers the server's
 * NACKs and keyframe requests, and as a receiver checks sequence continuity, NACKs its own
 * gaps, asks for keyframes now and then, sends receiver reports and transport-cc feedback,
 * and (decode on) depacketizes and decodes what it receives with libvpx and libopus.
 *
 * Time is whatever the caller says: every entry point takes `now_us`, so a simulation can
 * run an hour of call time in minutes. The peer owns one nonblocking UDP socket and never
 * blocks; the caller calls synth_peer_run when synth_peer_next_due says so and
 * synth_peer_poll whenever datagrams may have arrived. All memory is allocated by
 * synth_peer_new (apart from OpenSSL's and libsrtp's per-negotiation objects), so a long
 * run does not grow the heap on the peer's side. */
#ifndef MDG_SYNTH_PEER_H
#define MDG_SYNTH_PEER_H

#include "sfu/dtls.h"
#include "sfu/sfu.h"

#include <stddef.h>
#include <stdint.h>

typedef struct synth_peer synth_peer;

/* A Chromium offer (one audio and one video m-section) that the peer's offers are built
 * from: its codec lists, rtcp-fb and header extensions are kept; ICE credentials,
 * fingerprint, mids, directions and SSRCs are the peer's own. */
typedef struct synth_template synth_template;

/* Parses the template; NULL when it lacks an audio or video section with Opus and VP8. */
synth_template *synth_template_new(const char *sdp, size_t len);
void synth_template_free(synth_template *t); /* NULL allowed */

typedef struct synth_config {
	const char *label;
	const synth_template *tmpl;
	dtls_ctx *dtls; /* the peer's certificate (may be shared between peers) */
	uint64_t seed;  /* for loss and payload bytes: runs are reproducible */
	/* Simulated network loss, 0..1: of the RTP, RTCP and STUN the peer sends, and of the
	 * RTP and RTCP it receives (DTLS is exempt so that the handshake never waits for
	 * OpenSSL's wall-clock retransmission timer). */
	double send_loss;
	double recv_loss;
	int video_kbps;        /* target video bitrate (default 1000) */
	int keyframe_every_ms; /* periodic keyframes (default 10000) */
	int pli_every_ms;      /* the peer asks for a keyframe on its video slots (default 20000) */
	/* How the media is made. SYNTH_MEDIA_REPLAY (the default): a loop of frames encoded
	 * once per process (shared by every peer with the same settings) and replayed with
	 * fresh RTP headers and VP8 descriptors: real, decodable VP8 and Opus at the cost of
	 * the old filler bytes. The loop is keyframe_every_ms long (at most 10 s) and starts
	 * with a keyframe; a keyframe request restarts it. SYNTH_MEDIA_LIVE: each peer runs its
	 * own libvpx and libopus encoders (real-time speed), keyframes when asked. */
	int media;
	/* 2 or 3: offer the camera as simulcast (rids q, h, f at 1/4, 1/2 and full scale, or h
	 * and f) with the rtp-stream-id extension (RFC 8852). When the answer does not accept
	 * it, the peer sends the full layer only, as a browser does. 0: no simulcast. */
	int simulcast;
	int picture_tag; /* 0..15, drawn into every picture (tells sources apart when decoded) */
	int decode;      /* decode what arrives on mic, camera and slot lines */
	/* A narrow downlink, kbit/s (0: none): what arrives beyond it queues (the transport-cc
	 * feedback reports the delayed arrival) and is dropped past 400 ms of queue. */
	int downlink_kbps;
	/* Load generation (bench/load): called with every original media packet the peer
	 * sends (its RTP sequence number and payload, before protection), and with every new
	 * media packet it receives on line `line` (enum order: mic, camera, document, slot
	 * audio, slot video; after unwrapping RTX). NULL: not called. */
	void (*on_sent)(void *user, int video, uint16_t seq, const uint8_t *payload, size_t len,
	                int64_t now_us);
	void (*on_received)(void *user, int line, uint16_t seq, const uint8_t *payload, size_t len,
	                    int64_t now_us);
	void *hook_user;
	/* For a server elsewhere (Janus in a network namespace): the socket's address
	 * (default 127.0.0.1), and an offer of the mic and camera only, send-only (a
	 * VideoRoom publisher). */
	const char *bind_ip;
	int publish_only;
} synth_config;

enum { SYNTH_MEDIA_REPLAY = 0, SYNTH_MEDIA_LIVE = 1 };

/* What a receiver decoded on one video line (decode on). */
typedef struct synth_video_check {
	uint64_t packets, bad_descriptor; /* bad: no 15-bit picture id or no TL0PICIDX */
	/* Between consecutive complete pictures with no packet missing in between: */
	uint64_t pid_gaps; /* picture ids that did not advance by one */
	uint64_t tl0_gaps; /* TL0PICIDX that did not advance by one */
	uint64_t ts_jumps; /* RTP timestamps that went back or leapt > 1 s */
	uint64_t frames;   /* complete frames reassembled */
	uint64_t keyframes;
	uint64_t cut;                /* frames whose tail never came (a switch cut them short) */
	uint64_t orphans;            /* packets of a picture whose start never came */
	uint64_t lost_packets, late; /* never came; came after their picture was given up */
	uint64_t skipped;            /* delta frames not decoded while waiting for a keyframe */
	uint64_t undecodable, corrupt, no_picture; /* libvpx errors, VP8D_GET_FRAME_CORRUPTED */
	uint64_t decoded, unreadable;              /* pictures; of those without a barcode */
	uint64_t wrong_reference; /* delta frames showing another source, layer or frame */
	uint64_t source_changes, layer_changes;
	uint64_t by_layer[4];          /* decoded pictures per layer (0 q, 1 h, 2 f) */
	int width, height, tag, layer; /* of the last picture */
} synth_video_check;

/* What a receiver decoded on one audio line (decode on). */
typedef struct synth_audio_check {
	uint64_t packets, decoded, errors;
	double level_dbfs; /* RMS of the decoded audio after the first packets */
} synth_audio_check;

/* What the peer sent and received; cumulative over negotiations. */
typedef struct synth_stats {
	uint64_t audio_sent, video_sent; /* original RTP packets (lost on the way or not) */
	uint64_t bytes_sent;
	uint64_t send_dropped, recv_dropped;     /* simulated loss */
	uint64_t retransmits, retransmit_misses; /* NACKed packets resent / not in the cache */
	uint64_t nacks_received;                 /* sequence numbers the server NACKed */
	uint64_t keyframe_requests;              /* PLI and FIR from the server */
	uint64_t keyframes_sent;
	uint64_t sr_received, rr_received, remb_received, twcc_received, rtcp_other;
	uint64_t last_remb_bps;
	uint64_t rtp_received, bytes_received, rtx_received, probes_received;
	uint64_t unknown_ssrc;
	uint64_t gaps;       /* sequence numbers found missing */
	uint64_t repaired;   /* of those, arrived later (retransmission or reordering) */
	uint64_t unrepaired; /* of those, never arrived while in the window */
	uint64_t duplicates, seq_jumps, stale;
	uint64_t keyframes_received;
	uint64_t nacks_sent, plis_sent, reports_sent, twcc_sent;
	uint64_t stun_checks, stun_responses;
	uint64_t dtls_handshakes, srtp_failures;
	uint64_t ice_restarts; /* answers that kept the DTLS session */
} synth_stats;

/* Per receive slot (by mid), cumulative over negotiations. */
typedef struct synth_slot_stats {
	uint64_t packets, bytes, gaps, repaired, unrepaired, keyframes;
} synth_slot_stats;

synth_peer *synth_peer_new(const synth_config *cfg);
void synth_peer_free(synth_peer *p); /* NULL allowed */

/* The mid -> role map the kiosk and desk pages send with their offer (web/lib/media.js):
 * mic, camera, document, slot audio, slot video. Returns the count. */
int synth_peer_roles(const synth_peer *p, sfu_track_role *roles, int cap);

/* Builds a new offer with fresh ICE credentials (a second offer is an ICE restart). Returns
 * its length, or -1 when cap is too small. */
int synth_peer_offer(synth_peer *p, char *out, size_t cap);

/* Applies the server's answer. An answer with the same server certificate while DTLS is up
 * is an ICE restart: only the ICE credentials change. Otherwise it drops the previous
 * transport (DTLS, SRTP, receive state),
 * starts ICE checks towards the answer's UDP candidate and then the DTLS handshake in the
 * role the answer's a=setup gives. Returns 0 or -1 (unparsable answer, no candidate). */
int synth_peer_answer(synth_peer *p, const char *sdp, size_t len, int64_t now_us);

/* Answers a server's offer instead (a Janus VideoRoom subscriber): receives the offer's
 * audio and video as the mic and camera lines, sends RTCP only, answers the server's ICE
 * checks (it is the controlled agent) and is the DTLS client. Writes the answer into out;
 * returns its length or -1. */
int synth_peer_accept_offer(synth_peer *p, const char *sdp, size_t len, char *out, size_t cap,
                            int64_t now_us);

/* Stops media and ICE (the party left); synth_peer_answer starts again. */
void synth_peer_stop(synth_peer *p);

/* Runs the peer's timers up to now: media, retransmissions, RTCP, STUN checks. */
void synth_peer_run(synth_peer *p, int64_t now_us);
/* When synth_peer_run next has something to do. */
int64_t synth_peer_next_due(const synth_peer *p);
/* Reads and handles every datagram waiting on the socket; returns how many. */
int synth_peer_poll(synth_peer *p, int64_t now_us);

int synth_peer_connected(const synth_peer *p); /* SRTP keys are up */
int synth_peer_fd(const synth_peer *p);        /* the socket, for poll() in real-time runs */
const synth_stats *synth_peer_stats(const synth_peer *p);
/* Stats of the receive slot with this mid name ("mic", "camera", "document", "slotAudio",
 * "slotVideo"); zeros when unknown. */
synth_slot_stats synth_peer_slot_stats(const synth_peer *p, const char *name);

/* Decode checks of the receive line with this mid name; -1 when decode is off or the line
 * unknown. */
int synth_peer_video_check(const synth_peer *p, const char *name, synth_video_check *out);
int synth_peer_audio_check(const synth_peer *p, const char *name, synth_audio_check *out);
/* Narrows (kbit/s) or lifts (0) the simulated downlink (synth_config.downlink_kbps). */
void synth_peer_set_downlink(synth_peer *p, int kbps);
/* The RMS level of the tone the peers send, in dBFS. */
double synth_tone_dbfs(void);
/* The answer accepted the camera's simulcast (a=simulcast with our rids, and the rid
 * extension): the peer sends every layer. */
int synth_peer_simulcast(const synth_peer *p);

#endif
