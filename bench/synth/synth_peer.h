/* A synthetic WebRTC peer for soak tests and load benchmarks: it speaks to the media plane
 * exactly as a browser does on the wire (STUN checks with USE-CANDIDATE and consent, a DTLS
 * client handshake, SRTP/SRTCP), sends Opus-like audio and VP8-like video with the mid and
 * transport-cc header extensions, answers the server's NACKs and keyframe requests, and as
 * a receiver checks sequence continuity, NACKs its own gaps, asks for keyframes now and then
 * and sends receiver reports and transport-cc feedback.
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
} synth_config;

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

#endif
