/* The media plane's public face. It knows peers (one per signalling session with a
 * PeerConnection), the tracks each peer offers, and "which peer feeds which receive slots
 * of which other peer". It knows nothing of departments, calls or visits. */
#ifndef MDG_SFU_SFU_H
#define MDG_SFU_SFU_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SFU_MAX_IPS 4

typedef struct sfu_config {
	const char *bind_ip;          /* UDP socket address, e.g. "0.0.0.0" */
	int port;                     /* one UDP port for all peers */
	const char *ips[SFU_MAX_IPS]; /* host candidate addresses announced in answers */
	int n_ips;
} sfu_config;

typedef struct sfu sfu;
typedef struct sfu_peer sfu_peer;

/* What a client's m-line is for (PROTOCOL.md "Media"). */
enum sfu_role { SFU_ROLE_NONE, SFU_ROLE_MIC, SFU_ROLE_CAMERA, SFU_ROLE_DOCUMENT, SFU_ROLE_SLOT };

typedef struct sfu_track_role {
	char mid[32];
	enum sfu_role role;
} sfu_track_role;

/* Counters for /metrics. */
typedef struct sfu_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t stun_requests, stun_bad;
	uint64_t dtls_handshakes, dtls_failures;
	uint64_t srtp_unprotect_failures;
	uint64_t rtp_forwarded, rtp_dropped_unknown, rtp_dropped_keyframe_wait;
	uint64_t rtcp_received, pli_sent, pli_received, twcc_feedback_sent;
	uint64_t peers;
} sfu_stats;

sfu *sfu_new(uv_loop_t *loop, const sfu_config *cfg);
/* Frees every peer and closes the socket; the loop must run afterwards for the close
 * callbacks. NULL allowed. */
void sfu_free(sfu *s);
int sfu_port(const sfu *s);
const sfu_stats *sfu_get_stats(const sfu *s);
enum sfu_role sfu_role_from_name(const char *name); /* SFU_ROLE_NONE when unknown */

/* A peer starts with no media; sfu_peer_offer negotiates it. `label` is for logs. */
sfu_peer *sfu_peer_new(sfu *s, const char *label);
/* Unwires the peer from everyone and frees it. NULL allowed. */
void sfu_peer_free(sfu_peer *p);

/* Parses the client's offer and builds the answer (malloc'd, NUL-terminated, freed by the
 * caller). roles maps each mid to its role; m-lines without a role are rejected in the
 * answer. A second call replaces the first negotiation (ICE restart, page reload).
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

/* True once ICE and DTLS are up and media can flow. */
int sfu_peer_connected(const sfu_peer *p);

#endif
