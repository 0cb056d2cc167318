/* Shared between the files of the media plane (sfu.c, transport.c, peer.c, forward.c);
 * nothing outside server/sfu includes it. */
#ifndef MDG_SFU_INTERNAL_H
#define MDG_SFU_INTERNAL_H

#include "rtp/twcc.h"
#include "sfu/dtls.h"
#include "sfu/sdp.h"
#include "sfu/secure.h"
#include "sfu/sfu.h"

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define PEER_MAX_ADDRS      4
#define PEER_MAX_EXTRAS     4
#define TRACK_MAX_SINKS     8
#define SFU_TICK_MS         20
#define TWCC_INTERVAL_US    50000
#define PLI_MIN_INTERVAL_US 300000
#define KEYFRAME_RETRY_US   500000
/* Room for the largest datagram we accept plus the SRTP trailer added on send. */
#define SFU_PACKET_MAX 1500

/* One receive slot of a peer: an m-line on which the server sends to that peer. */
typedef struct fwd_slot {
	int mline;
	enum sfu_role role;
	enum sdp_kind kind;
	char mid[32];
	uint32_t out_ssrc;
	int pt; /* the receiver's payload type for the codec forwarded here */
	uint32_t clock_rate;
	/* What feeds it (rebuilt by sfu_rewire) and the role of the source's m-line. */
	struct sfu_peer *source;
	enum sfu_role source_role;
	/* Rewriting state: out = in + offset for the current source SSRC; on a change of
	 * source the offsets are recomputed so the receiver sees one continuous stream. */
	int started;
	uint32_t cur_ssrc;
	uint16_t seq_offset;
	uint32_t ts_offset;
	uint16_t last_seq;
	uint32_t last_ts;
	int64_t last_send_us;
	int wait_keyframe;
	int64_t keyframe_asked_us;
} fwd_slot;

/* Where an incoming track goes: slot `slot` of peer `peer`. */
typedef struct fwd_sink {
	struct sfu_peer *peer;
	int slot;
} fwd_sink;

/* One stream the peer sends us. */
typedef struct in_track {
	int mline;
	enum sfu_role role;
	enum sdp_kind kind;
	uint32_t ssrc; /* 0 until known (from SDP a=ssrc or learned from the mid extension) */
	uint32_t rtx_ssrc;
	int pt;
	int64_t last_pli_us;
	fwd_sink sinks[TRACK_MAX_SINKS];
	int n_sinks;
} in_track;

struct sfu_peer {
	struct sfu *sfu;
	struct sfu_peer *prev, *next;
	char label[64];

	/* ICE-lite credentials for the current negotiation. */
	char ufrag[16];
	char pwd[40];
	int negotiated;

	/* Addresses that passed a STUN check; `selected` is where we send (-1: none yet). */
	struct sockaddr_storage addrs[PEER_MAX_ADDRS];
	int n_addrs;
	int selected;

	int dtls_server;
	uint8_t remote_fp[32];
	dtls *dtls;
	secure *srtp;

	/* Header extension ids from the offer (BUNDLE shares them across m-lines); 0 = none. */
	int ext_mid, ext_twcc, ext_audio_level;

	char mids[SDP_MAX_MEDIA][32]; /* mid of each offered m-line with a role */
	in_track in[SDP_MAX_MEDIA];
	int n_in;
	fwd_slot out[SDP_MAX_MEDIA];
	int n_out;

	twcc_rec twcc;
	int64_t twcc_sent_us;
	uint16_t twcc_out_seq;
	uint32_t rtcp_ssrc; /* our sender SSRC in RTCP to this peer */

	/* Declared wiring (sfu_peer_set_feeds). */
	struct sfu_peer *primary;
	struct sfu_peer *document;
	struct sfu_peer *extras[PEER_MAX_EXTRAS];
	int n_extras;
};

struct sfu {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_timer_t tick;
	int open_handles; /* counted down by close callbacks at sfu_free */
	int port;
	char ips[SFU_MAX_IPS][64];
	int n_ips;
	dtls_ctx *dtls_ctx;
	struct sfu_peer *peers;
	sfu_stats stats;
	uint8_t rx_buf[65536];
	uint8_t tx_buf[SFU_PACKET_MAX + SECURE_MAX_TRAILER + 64];
};

/* transport.c */
int transport_open(struct sfu *s, const char *bind_ip, int port);
void transport_close(struct sfu *s, uv_close_cb done);
void transport_send(struct sfu *s, const struct sockaddr *to, const uint8_t *data, size_t len);

/* peer.c */
void peer_on_stun(struct sfu *s, const uint8_t *buf, size_t len, const struct sockaddr *from);
void peer_on_dtls(struct sfu_peer *p, const uint8_t *buf, size_t len);
void peer_on_srtp(struct sfu_peer *p, uint8_t *buf, size_t len);
struct sfu_peer *peer_by_addr(struct sfu *s, const struct sockaddr *addr);
void peer_send_rtcp(struct sfu_peer *p, const uint8_t *rtcp, size_t len);
void peer_tick(struct sfu_peer *p, int64_t now_us);
void peer_request_keyframe(struct sfu_peer *source, in_track *t, int64_t now_us);
void peer_reset_media(struct sfu_peer *p);

/* forward.c */
struct rtp_hdr;
void fwd_rtp(struct sfu_peer *from, in_track *t, uint8_t *pkt, const struct rtp_hdr *h,
             int64_t now_us);
void fwd_rewire(struct sfu *s);
in_track *fwd_track_by_role(struct sfu_peer *p, enum sfu_role role, enum sdp_kind kind);
void fwd_tick(struct sfu_peer *p, int64_t now_us);

#endif
