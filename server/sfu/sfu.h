/* The media plane's public face. It knows peers (one per signalling session with a
 * PeerConnection), the tracks each peer offers, and "which peer feeds which receive slots
 * of which other peer". It knows nothing of departments, calls or visits. */
#ifndef MDG_SFU_SFU_H
#define MDG_SFU_SFU_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SFU_MAX_IPS 4

typedef struct sfu sfu;
typedef struct sfu_peer sfu_peer;

typedef struct sfu_config {
	const char *bind_ip;          /* UDP socket address, e.g. "0.0.0.0" */
	int port;                     /* one UDP port for all peers */
	int tcp;                      /* nonzero: passive ICE-TCP (RFC 6544) on the same port number */
	const char *ips[SFU_MAX_IPS]; /* host candidate addresses announced in answers */
	int n_ips;
	/* Optional: the time source for packet timing (default clock_mono_us). Simulations
	 * pass their own clock and call sfu_tick themselves. */
	int64_t (*clock_us)(void *user);
	void *clock_user;
	/* Optional: called from the tick, once per negotiation, when a connected peer's ICE
	 * consent expired (no check for 30 s, RFC 7675). The callback may free the peer. */
	void (*on_consent_lost)(void *user, struct sfu_peer *p);
	void *user;
	/* Nonzero: never probe receivers' downlinks (config `media-probe off`); the estimate
	 * then rises only as fast as the traffic it is sent. */
	int probe_off;
	/* Nonzero: accept a browser's simulcast camera layers (config `simulcast on`); 0 (the
	 * default) answers every m-line without a=rid / a=simulcast, so browsers send one
	 * stream. */
	int simulcast;
	/* Audio RED (RFC 2198) is answered whenever a browser offers it; nonzero here answers
	 * plain Opus only (config `audio-red: false`: for comparison and as a way out). */
	int audio_red_off;
} sfu_config;


/* What a client's m-line is for (PROTOCOL.md "Media"). */
enum sfu_role { SFU_ROLE_NONE, SFU_ROLE_MIC, SFU_ROLE_CAMERA, SFU_ROLE_DOCUMENT, SFU_ROLE_SLOT };

typedef struct sfu_track_role {
	char mid[32];
	enum sfu_role role;
} sfu_track_role;

/* Counters for /metrics. */
#define SFU_READ_DELAY_BUCKETS 6
#define SFU_READ_DELAY_BOUNDS_MS {1, 5, 20, 50, 200}

typedef struct sfu_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t stun_requests, stun_bad;
	uint64_t dtls_handshakes, dtls_failures;
	uint64_t srtp_unprotect_failures;
	/* SRTP/SRTCP packets refused before unprotecting: on a new SSRC of a peer that already
	 * sends on SECURE_MAX_INBOUND_SSRCS (32) of them. */
	uint64_t srtp_ssrc_refused;
	uint64_t rtp_forwarded, rtp_dropped_unknown, rtp_dropped_keyframe_wait;
	uint64_t rtcp_received, pli_sent, pli_received, twcc_feedback_sent;
	uint64_t consent_expired, ice_restarts;
	/* Loss repair: seqs we asked senders for / receivers asked us for, retransmissions
	 * received that filled a gap / sent from the cache, NACKed packets no longer cached. */
	uint64_t nack_sent, nack_received, rtx_received, rtx_sent, rtx_cache_miss;
	uint64_t rtx_over_budget;
	uint64_t rtp_duplicates, rtp_probes;
	uint64_t pli_coalesced, remb_sent, sr_forwarded, rr_sent;
	uint64_t twcc_feedback_received, rtcp_bad;
	uint64_t peers;
	/* ICE-TCP: connections accepted (total), open now (gauge), and abuse: frames dropped
	 * (send queue full, send failed), connections refused over the limit, closed for an
	 * oversized frame or for passing no STUN check in time. */
	uint64_t ice_tcp_connections, ice_tcp_open, ice_tcp_dropped;
	/* Simulcast: a receive slot moved to another layer of its source (at a keyframe);
	 * the estimate held a slot below its display and the downlink prober was asked. */
	uint64_t simulcast_switches, simulcast_probe_requests;
	/* Downlink probing: padding packets sent, clusters that found room / did not. */
	uint64_t probes_sent, probe_clusters_success, probe_clusters_fail;
	/* Audio RED (RFC 2198): RED packets received from senders, forwarded to a receiver
	 * without RED as their primary block alone, and dropped (malformed, or a primary that
	 * is not the sender's Opus). */
	uint64_t red_received, red_unwrapped, red_dropped;
	/* UDP datagrams dropped because the socket's send buffer was full (EAGAIN, ENOBUFS),
	 * and those the kernel refused for another reason; sendmmsg calls made. */
	uint64_t send_drops, send_errors, send_syscalls;
	/* How long the oldest datagram of each read batch waited in the socket (its kernel
	 * receive time to the read): per batch, counted in the bucket of the first bound it does
	 * not exceed (SFU_READ_DELAY_BOUNDS_MS; the last bucket: above them all). A loop that
	 * keeps up reads within a millisecond; tens of milliseconds mean it stalled, and a
	 * socket buffer holds only so much of a stall before the kernel drops. */
	uint64_t read_delay_buckets[SFU_READ_DELAY_BUCKETS];
	uint64_t read_delay_sum_us, read_delay_batches;
} sfu_stats;

sfu *sfu_new(uv_loop_t *loop, const sfu_config *cfg);
/* Frees every peer and closes the socket; the loop must run afterwards for the close
 * callbacks. NULL allowed. */
void sfu_free(sfu *s);
int sfu_port(const sfu *s);
/* One round of timers (DTLS retransmission, feedback, keyframe retries, consent); the
 * loop runs it every 20 ms, simulations call it directly. */
void sfu_tick(sfu *s);
const sfu_stats *sfu_get_stats(const sfu *s);
enum sfu_role sfu_role_from_name(const char *name); /* SFU_ROLE_NONE when unknown */

/* A peer starts with no media; sfu_peer_offer negotiates it. `label` is for logs. */
sfu_peer *sfu_peer_new(sfu *s, const char *label);
/* Unwires the peer from everyone and frees it. NULL allowed. */
void sfu_peer_free(sfu_peer *p);

/* Parses the client's offer and builds the answer (malloc'd, NUL-terminated, freed by the
 * caller). roles maps each mid to its role; m-lines without a role are rejected in the
 * answer. A later offer from the same PeerConnection (same DTLS fingerprint, same m-lines)
 * is an ICE restart: new ICE credentials, DTLS, SRTP and SSRCs kept. Any other later offer
 * replaces the negotiation (a new PeerConnection, a page reload).
 * Returns 0, or -1 with a reason in err. */
int sfu_peer_offer(sfu_peer *p, const char *sdp, size_t sdp_len, const sfu_track_role *roles,
                   int n_roles, char **answer, char *err, size_t errlen);

/* Declares who feeds this peer's receive slots: `primary` feeds its mic and camera
 * m-lines, `document` (the party sharing) its document m-line, `extras` its slot m-lines in
 * order (an audio and a video slot per extra party). NULL / 0 unwires. Wiring a video slot
 * to a new source requests a keyframe from that source and holds the slot until it
 * arrives. */
void sfu_peer_set_feeds(sfu_peer *dst, sfu_peer *primary, sfu_peer *document,
                        sfu_peer *const *extras, int n_extras);

/* One receive slot as the signalling layer describes it to the client (`slots` event):
 * fed by the primary party (extra = SFU_SLOT_PRIMARY), the sharing party
 * (SFU_SLOT_DOCUMENT) or extra party `extra` >= 0, with its kind. */
#define SFU_SLOT_PRIMARY  (-1)
#define SFU_SLOT_DOCUMENT (-2)
typedef struct sfu_slot_info {
	char mid[32];
	enum sfu_role role;
	int video;
	int extra;
} sfu_slot_info;

/* Fills out[0..cap) with the peer's receive slots in m-line order; returns the count. */
int sfu_peer_slots(const sfu_peer *p, sfu_slot_info *out, int cap);

/* The size (in device pixels) at which the page shows what slot `mid` receives, from its
 * `view` request: a simulcast source's layer for that slot need not be larger. 0 x 0
 * forgets the hint. Returns 0, or -1 when p has no receive slot with that mid. */
int sfu_peer_set_view(sfu_peer *p, const char *mid, int width, int height);

/* What the server knows of a connected peer's network, for /metrics and logs. */
typedef struct sfu_peer_net {
	uint64_t downlink_bps; /* 0: no transport-cc feedback yet */
	uint64_t remb_bps;     /* the cap last sent to it as a sender; 0: none yet */
	int64_t rtt_us;        /* 0: unknown */
	int tcp;               /* media runs over ICE-TCP */
} sfu_peer_net;
/* Returns 0 and fills *out, or -1 when the peer is not connected. */
int sfu_peer_get_net(const sfu_peer *p, sfu_peer_net *out);
const char *sfu_peer_label(const sfu_peer *p);

/* True once ICE and DTLS are up and media can flow. */
int sfu_peer_connected(const sfu_peer *p);

#endif
