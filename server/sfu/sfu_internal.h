/* Shared between the files of the media plane (sfu.c, transport.c, peer.c, forward.c);
 * nothing outside server/sfu includes it. */
#ifndef MDG_SFU_INTERNAL_H
#define MDG_SFU_INTERNAL_H

#include "rtp/bwe.h"
#include "rtp/layersel.h"
#include "rtp/nack.h"
#include "rtp/rtxbudget.h"
#include "rtp/pktcache.h"
#include "rtp/rxstats.h"
#include "rtp/twcc.h"
#include "rtp/vp8mung.h"
#include "sfu/addrmap.h"
#include "sfu/dtls.h"
#include "sfu/sdp.h"
#include "sfu/secure.h"
#include "sfu/sfu.h"
#include "sfu/txbatch.h"

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define PEER_MAX_ADDRS      4
#define PEER_MAX_EXTRAS     4
#define TRACK_MAX_SINKS     8
#define SFU_TICK_MS         20
#define TWCC_INTERVAL_US    50000
#define KEYFRAME_INFLIGHT_US 1000000 /* one keyframe request in flight per stream */
#define KEYFRAME_RETRY_US    250000  /* how often a held slot checks; coalesced to the above */
#define RTX_CACHE_PACKETS    512     /* per video slot: about 1 s at 5 Mbit/s */
#define RTX_WIRE_EXTRA       18      /* a resend's bytes beyond the cached packet: OSN, tag */
#define SR_SENT_MAX          16
#define BWE_INITIAL_BPS      1000000
#define ICE_CONSENT_US      30000000 /* RFC 7675: consent lost after 30 s without a check */
/* A nominated path of lower priority than the selected one takes over only once the selected
 * one has had no valid check for this long (see ice.c). */
#define ICE_RESELECT_US 2000000
/* Room for the largest datagram we accept plus the SRTP trailer added on send. */
#define SFU_PACKET_MAX 1500
/* Datagrams per recvmmsg, and the room for each: more than any datagram a browser sends
 * (a longer one is cut, counted and dropped). 32 x 2 KiB also holds an ICE-TCP frame. */
#define SFU_RX_BATCH    32
#define SFU_RX_DATAGRAM 2048

/* ICE's view of one path that passed a check. */
typedef struct ice_path {
	int64_t last_check_us; /* the last valid check that arrived on it */
	uint64_t priority;     /* RFC 8445 section 6.1.2.3 pair priority of its nomination */
	int nominated;         /* USE-CANDIDATE seen on it since the last ICE (re)start */
} ice_path;

/* Where a packet came from or goes to: a UDP address, or an ICE-TCP connection (RFC 6544)
 * with the address of its remote end. Two addresses are the same path only when both match. */
struct tcp_conn;
typedef struct sfu_addr {
	struct sockaddr_storage sa;
	struct tcp_conn *tcp; /* NULL: UDP */
} sfu_addr;

/* One receive slot of a peer: an m-line on which the server sends to that peer. */
typedef struct fwd_slot {
	int mline;
	enum sfu_role role;
	enum sdp_kind kind;
	char mid[32];
	uint32_t out_ssrc;
	int pt; /* the receiver's payload type for the codec forwarded here */
	int red_pt; /* audio: the receiver's RED payload type; -1: it takes plain Opus */
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
	/* Older packets of the current source are not forwarded: its first sequence number on
	 * this slot, moved up to trail the stream by 16384 as it goes on. */
	uint16_t src_floor_seq;
	int wait_keyframe;
	int64_t keyframe_asked_us;
	/* Loss repair towards the receiver: what was sent, kept for its NACKs, and the RTX
	 * stream (RFC 4588) retransmissions go out on when it negotiated one. */
	pktcache *cache; /* video slots only, made on first use */
	uint32_t rtx_ssrc; /* 0: retransmit on out_ssrc */
	int rtx_pt;
	uint16_t rtx_seq;
	vp8mung mung;
	uint32_t packets_sent, octets_sent; /* for the sender reports we forward */
	/* Simulcast (forward.c): the page's display size for this slot (`view`; 0: no hint),
	 * which layer of a simulcasting source it gets, when it last chose one and when it
	 * last asked for a downlink probe because its estimate held it below its display. */
	int view_w, view_h;
	layersel sel;
	int64_t sel_checked_us, probe_asked_us;
	uint32_t probe_target_bps; /* what the last probe request asked for */
	/* Audio: the loss the receiver last reported on this slot (RFC 3550 fraction, /256)
	 * and when; the source's Opus hears of it (fb_audio_loss_fraction). */
	uint8_t rr_fraction_lost;
	int64_t rr_at_us;
} fwd_slot;

/* Where an incoming track goes: slot `slot` of peer `peer`. */
typedef struct fwd_sink {
	struct sfu_peer *peer;
	int slot;
} fwd_sink;

typedef struct sr_sent_entry {
	uint32_t ntp_mid; /* the middle 32 bits of the SR's NTP time, as receivers echo it */
	int64_t sent_us;
} sr_sent_entry;

/* One stream the peer sends us. */
typedef struct in_track {
	int mline;
	enum sfu_role role;
	enum sdp_kind kind;
	uint32_t ssrc; /* 0 until known (from SDP a=ssrc or learned from the mid extension) */
	uint32_t rtx_ssrc;
	int pt;
	int rtx_pt;  /* -1: none */
	int red_pt;  /* audio: the payload type of the sender's RED packets; -1: none */
	int nack_ok; /* the sender accepts generic NACK (rtcp-fb nack) */
	int64_t keyframe_asked_us; /* 0: no keyframe request in flight */
	/* Simulcast: one in_track per layer of the m-line, all with the same role, mline and
	 * sinks; `layer` is the rid's position in a=simulcast (0 when n_layers is 0: not
	 * simulcast). ssrc and rtx_ssrc are learned from the rid and repaired-rid header
	 * extensions. */
	int layer, n_layers;
	char rid[SDP_RID_MAX];
	layer_meter meter;
	nack_gen nack;
	rxstats rx;
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
	sfu_addr addrs[PEER_MAX_ADDRS];
	ice_path paths[PEER_MAX_ADDRS]; /* what ICE knows of addrs[i] beyond the address */
	int n_addrs;
	int selected;
	int64_t consent_us; /* last valid check on the selected path; 0 before the first */
	int consent_lost;   /* reported once through sfu_config.on_consent_lost */

	int dtls_server;
	uint8_t remote_fp[32];
	dtls *dtls;
	secure *srtp;

	/* Header extension ids from the offer (BUNDLE shares them across m-lines); 0 = none. */
	int ext_mid, ext_twcc, ext_audio_level, ext_rid, ext_rrid;

	char mids[SDP_MAX_MEDIA][32]; /* mid of each offered m-line with a role */
	in_track in[SDP_MAX_MEDIA];
	int n_in;
	fwd_slot out[SDP_MAX_MEDIA];
	int n_out;

	twcc_rec twcc;
	int64_t twcc_sent_us;
	uint16_t twcc_out_seq;
	uint32_t rtcp_ssrc; /* our sender SSRC in RTCP to this peer */

	/* Downlink: the estimate from its transport-cc feedback (bwe_ready once any came),
	 * the round trip from its receiver reports, and when we sent the SRs they name. */
	bwe bwe;
	int bwe_ready;
	int64_t rtt_us; /* 0: unknown */
	rtxbudget rtx_budget; /* what it may be sent in retransmissions (rtp/rtxbudget.h) */
	sr_sent_entry sr_sent[SR_SENT_MAX];
	int sr_next;
	int64_t rr_sent_us, remb_sent_us, remb_checked_us;
	uint64_t remb_last_bps;

	/* Declared wiring (sfu_peer_set_feeds). */
	struct sfu_peer *primary;
	struct sfu_peer *document;
	struct sfu_peer *extras[PEER_MAX_EXTRAS];
	int n_extras;

	struct sfu_probe *probe; /* the kiosk self-test receiving its media (probe.c), or NULL */

	/* Downlink probing (bwprobe_send.c); the clusters themselves live in bwe.probe. */
	struct {
		int64_t ready_us;     /* first tick with feedback */
		int64_t next_us;      /* the receiver's own next round; 0: the initial one */
		int64_t requested_us; /* the last round sfu_bwe_probe_request started */
		uint64_t last_bps;    /* the estimate at the last tick */
		uint64_t seen_success, seen_fail, seen_raises; /* already counted */
		int found_none; /* the last concluded clusters all failed */
		int rounds;     /* rounds started */
	} bwp;
};

struct sfu {
	uv_loop_t *loop;
	int64_t (*clock_us)(void *user); /* sfu_config's clock, or clock_mono_us */
	void *clock_user;
	void (*on_consent_lost)(void *user, struct sfu_peer *p);
	void *user;
	int audio_red_off; /* sfu_config.audio_red_off */
	struct sfu_tcp *tcp; /* the ICE-TCP listener and its connections (tcp.c); NULL: off */
	uv_timer_t tick;
	int open_handles; /* counted down by close callbacks at sfu_free */
	int port;
	char ips[SFU_MAX_IPS][64];
	int n_ips;
	dtls_ctx *dtls_ctx;
	struct sfu_peer *peers;
	addrmap *paths; /* every peer's validated paths -> the peer (ice.c) */
	struct sfu_probe *probes; /* self-test probes, running or decoding (probe.c) */
	int probe_off;            /* sfu_config.probe_off: no downlink probing */
	int simulcast;            /* sfu_config.simulcast: accept simulcast camera layers */
	uv_timer_t pacer;         /* paces probe clusters (bwprobe_send.c) */
	int pacer_running;
	sfu_stats stats;
	/* Receive: one recvmmsg reads up to SFU_RX_BATCH datagrams, each into its own
	 * SFU_RX_DATAGRAM bytes of rx_buf, with its kernel receive timestamp (rx_ctrl). ICE-TCP
	 * frames (up to 64 KiB) are copied to rx_buf's start. */
	uint8_t rx_buf[SFU_RX_BATCH * SFU_RX_DATAGRAM];
	uint8_t rx_ctrl[SFU_RX_BATCH][64];
	uv_os_sock_t fd;   /* the media socket; -1: not open */
	uv_poll_t poll;    /* readable: recvmmsg until empty */
	int poll_started;
	/* When the datagram being handled reached the socket (the kernel's receive timestamp,
	 * on the monotonic clock); 0: not known (ICE-TCP, a simulated clock). */
	int64_t rx_arrival_us;
	/* Send: datagrams queued during a read batch go out in one sendmmsg at its end
	 * (txbatch.h). tx_buf, where packets are built before transport_send, is always the
	 * batch's next free buffer, so that queuing them copies nothing. */
	int rx_batching; /* inside a recvmmsg batch: transport_send queues, the batch end flushes */
	uint8_t *tx_buf;
	txbatch txb;
	txbatch_stats txb_counted; /* txb's counts already added to stats */
	/* The transport-wide sequence numbers of the batch's queued packets, whose send times
	 * (bwe_on_sent, at processing) become the time the batch really left: a server slowed
	 * or preempted mid-batch must not look like a queue on the receivers' lines. */
	struct {
		struct sfu_peer *peer;
		uint16_t seq;
	} tx_stamps[TXBATCH_MAX];
	int n_tx_stamps;
};

/* sfu.c */
int64_t sfu_now(const struct sfu *s);

/* transport.c */
int transport_open(struct sfu *s, const char *bind_ip, int port);
void transport_close(struct sfu *s, uv_close_cb done);
/* Sends over UDP, or framed over to->tcp. A full socket buffer drops, as a network would
 * (counted in stats.send_drops). Inside a read batch UDP datagrams are queued and leave at
 * the batch's end; s->tx_buf then moves to the next free buffer. */
/* fwd_send_rtp: packet seq to `to`, recorded in its estimator, is about to be queued. */
void transport_stamp_later(struct sfu *s, struct sfu_peer *to, uint16_t seq);
/* sfu_peer_free: p's queued stamps are forgotten. */
void transport_forget_peer(struct sfu *s, const struct sfu_peer *p);
/* Timer work that sends to many peers: what is sent between begin and end is queued as in a
 * read batch and leaves in one sendmmsg at the end. */
void transport_batch_begin(struct sfu *s);
void transport_batch_end(struct sfu *s);
void transport_send(struct sfu *s, const sfu_addr *to, const uint8_t *data, size_t len);
/* One datagram (or one RFC 4571 frame) in: demultiplexed by its first byte (RFC 7983). */
void transport_on_packet(struct sfu *s, uint8_t *data, size_t len, const sfu_addr *from);

/* ice.c */
/* ICE credentials in ice-chars: 8 for the ufrag (48 random bits), 24 for the password (144
 * random bits; RFC 8839 asks for at least 128). */
#define ICE_UFRAG_CHARS 8
#define ICE_PWD_CHARS   24
/* Fills ufrag (ICE_UFRAG_CHARS + 1 bytes) and pwd (ICE_PWD_CHARS + 1) with fresh credentials
 * for p, the ufrag unique among s's other peers. Returns 0, or -1 when the CSPRNG fails. */
int ice_new_credentials(struct sfu *s, const struct sfu_peer *p, char *ufrag, char *pwd);
void ice_on_stun(struct sfu *s, const uint8_t *buf, size_t len, const sfu_addr *from);
struct sfu_peer *ice_peer_by_addr(struct sfu *s, const sfu_addr *addr);
/* Forgets every path of p (new negotiation, or p goes). */
void ice_forget_paths(struct sfu_peer *p);
/* An ICE-TCP connection closed: every peer forgets the paths over it. */
void ice_forget_tcp(struct sfu *s, struct tcp_conn *c);
const sfu_addr *ice_dest(const struct sfu_peer *p); /* NULL until a path is selected */
int ice_consent_expired(const struct sfu_peer *p, int64_t now_us);
/* An ICE restart: the nominations of the old credentials no longer count, so the browser's
 * first nomination with the new ones selects its path whatever its priority. */
void ice_new_generation(struct sfu_peer *p);

/* tcp.c: passive ICE-TCP, RFC 4571 framing. tcp_open sets s->tcp; tcp_close closes the
 * listener and every connection, then calls done once with the listener's handle. */
int tcp_open(struct sfu *s, const char *bind_ip, int port);
void tcp_close(struct sfu *s, uv_close_cb done);
/* Queues one frame; a connection whose send queue is too long drops it (counted). */
void tcp_conn_send(struct tcp_conn *c, const uint8_t *data, size_t len);
/* A STUN check over c passed with a peer's password: c is no longer evictable to make room
 * for new connections (until the sweep finds it is nobody's path any more). */
void tcp_conn_authenticated(struct tcp_conn *c);
/* Tests shorten the limits (connections at once, ms to pass a STUN check, ms without a
 * byte); a value <= 0 keeps the current one. The per-address limit is PROTOCOL.md's 8. */
void tcp_set_limits(struct sfu *s, int max_conns, int auth_ms, int idle_ms);

/* peer.c */
void peer_on_dtls(struct sfu_peer *p, const uint8_t *buf, size_t len);
void peer_on_srtp(struct sfu_peer *p, uint8_t *buf, size_t len);
void peer_send_rtcp(struct sfu_peer *p, const uint8_t *rtcp, size_t len);
void peer_tick(struct sfu_peer *p, int64_t now_us);
void peer_reset_media(struct sfu_peer *p);

/* feedback.c: RTCP terminated per hop (see the file's comment). */
void fb_on_rtcp(struct sfu_peer *p, const uint8_t *buf, size_t len, int64_t now_us);
void fb_tick(struct sfu_peer *p, int64_t now_us);
/* Asks source for a keyframe on t unless a request is already in flight. */
void fb_request_keyframe(struct sfu_peer *source, in_track *t, int64_t now_us);
int64_t fb_rtt_us(const struct sfu_peer *p);
/* The REMB for source p: for a camera it simulcasts, the largest video share among the
 * receivers it feeds (the most demanding one); otherwise the smallest; plus its audio,
 * within [100 kbit/s, 10 Mbit/s]. */
uint64_t fb_remb_cap_bps(struct sfu_peer *p);
/* Receiver r's share for its video slot for_slot: its downlink estimate (the initial one
 * until feedback came) less its audio, less what its other busy video slots claim: each the
 * rate its display hint needs (the covering layer of a simulcast source, with a quarter of
 * headroom) when that is below an equal split, else the equal split. *n_video (may be NULL)
 * gets how many slots, this one included, take the equal split (those a higher estimate
 * would give more). With for_slot NULL: the equal split. */
uint64_t fb_slot_share_bps(const struct sfu_peer *r, const fwd_slot *for_slot, int64_t now_us,
                           int *n_video);
/* The fraction lost (/256) the server reports to the sender of audio track t: the larger of
 * own (its hop's) and the freshest reports of the receivers t feeds, so that the sender's
 * Opus turns in-band FEC on for loss further down the path. */
uint8_t fb_audio_loss_fraction(const in_track *t, uint8_t own, int64_t now_us);

/* forward.c */
struct rtp_hdr;
void fwd_rtp(struct sfu_peer *from, in_track *t, uint8_t *pkt, const struct rtp_hdr *h,
             int64_t now_us);
void fwd_rewire(struct sfu *s);
/* Rewires only the slots of dst whose source changed (its feeds were just set): the work
 * of one routing change is that receiver's slots, not every peer of the process. The
 * sources' own tracks must be unchanged since the last fwd_rewire (a renegotiation or a
 * peer that comes or goes rewires everything). */
void fwd_wire_peer(struct sfu_peer *dst);
in_track *fwd_track_by_role(struct sfu_peer *p, enum sfu_role role, enum sdp_kind kind);
void fwd_tick(struct sfu_peer *p, int64_t now_us);
/* The track of src that feeds slot now: for a simulcasting source the layer the slot gets
 * (or is switching to), else the track of the slot's source role. NULL when none. */
in_track *fwd_slot_track(struct sfu_peer *src, const fwd_slot *slot);
/* Resends packet seq of slot (as the receiver numbered it) from the cache, on the slot's
 * RTX stream when there is one. */
void fwd_retransmit(struct sfu_peer *to, fwd_slot *slot, uint16_t seq, int64_t now_us);
/* Protects and sends the plain RTP packet of len bytes in sfu->tx_buf to `to`, stamping its
 * transport-wide sequence number; cluster > 0 marks a probe packet (bwprobe_send.c).
 * Returns 0, or -1 when it was not sent or carries no transport-wide number. */
int fwd_send_rtp(struct sfu_peer *to, size_t len, int64_t now_us, int cluster);

/* bwprobe_send.c: downlink probing (rtp/bwprobe.h) in the media plane. The simulcast layer
 * selection asks for a probe before moving a receiver up (fwd_tick, at most once a second per
 * slot the estimate holds below the layer its display wants): a round of padding clusters
 * toward target_bps unless the estimate already allows it, a round is in flight, probing
 * is off, or the receiver cannot be probed (no DTLS/SRTP yet, no transport-cc, no started
 * video slot). */
void sfu_bwe_probe_request(sfu_peer *receiver, uint32_t target_bps, int64_t now_us);
/* From peer_tick: the receiver's own probing (at the start of a call, and every few seconds
 * while its estimate is low for its video slots), results into /metrics, REMB refresh. */
void bwprobe_send_tick(struct sfu_peer *p, int64_t now_us);
/* From the fine pacing timer and the tick: sends whatever probe packets are due. Returns
 * nonzero while some peer still has a cluster to send. */
int bwprobe_send_pace(struct sfu *s, int64_t now_us);

/* fwd_red.c: audio RED (RFC 2198) on the forwarding path. fwd_red_parse checks a sender's
 * RED packet once (a malformed one is counted and dropped); fwd_red_payload writes what one
 * receiver gets of it after the header at out + hl (RED with the receiver's payload types,
 * or the primary block alone) and sets the header's payload type; returns the payload length
 * or -1 (counted; the packet is not sent to that receiver). */
struct red_packet;
int fwd_red_parse(struct sfu *s, const in_track *t, const uint8_t *payload, size_t len,
                  struct red_packet *red);
int fwd_red_payload(struct sfu *s, const in_track *t, const fwd_slot *slot, const uint8_t *payload,
                    const struct red_packet *red, uint8_t *out, size_t hl);

/* probe.c: the kiosk self-test (probe.h). probe_on_rtp sees each packet of a probed peer
 * after SRTP and RTX repair; probe_tick ends probes whose time is up. */
struct sfu_probe;
void probe_on_rtp(struct sfu_peer *p, const in_track *t, const uint8_t *pkt,
                  const struct rtp_hdr *h);
void probe_tick(struct sfu *s, int64_t now_us);
void probe_detach_peer(struct sfu_peer *p);
void probe_cancel_all(struct sfu *s);

#endif
