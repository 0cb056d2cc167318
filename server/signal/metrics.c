/* GET /metrics: the Prometheus text of the server's counters and gauges (docs/operations.md,
 * "Watching it"). Who may read it is http.c's business. */
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>

char *app_metrics_text(sig_app *app)
{
	const sfu_stats *m = sfu_get_stats(app->sfu);
	int sessions = 0;
	for (sig_session *s = app->sessions; s; s = s->next)
		sessions++;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
#define COUNTER(name, help, value)                                                                 \
	fprintf(f,                                                                                 \
	        "# HELP madoguchi_" name " " help "\n# TYPE madoguchi_" name                       \
	        " counter\nmadoguchi_" name " %llu\n",                                             \
	        (unsigned long long)(value))
#define GAUGE(name, help, value)                                                                   \
	fprintf(f,                                                                                 \
	        "# HELP madoguchi_" name " " help "\n# TYPE madoguchi_" name                       \
	        " gauge\nmadoguchi_" name " %llu\n",                                               \
	        (unsigned long long)(value))
	GAUGE("sessions", "Connected signalling sessions.", sessions);
	GAUGE("serving", "1 when this node serves /ws (0: a standby, standby-lease).",
	      app->serving);
	GAUGE("peers", "Media peers.", m->peers);
	GAUGE("db_up", "1 when PostgreSQL is connected.", store_is_up(app->store));
	GAUGE("records_pending", "Call records waiting to be written.", store_pending(app->store));
	COUNTER("ws_connections_total", "WebSocket connections accepted.",
	        app->counters.connections);
	COUNTER("ws_messages_total", "Protocol messages received.", app->counters.messages);
	COUNTER("ws_bad_messages_total", "Protocol messages rejected as bad input.",
	        app->counters.bad_messages);
	COUNTER("ws_closed_for_abuse_total", "Connections closed for too many bad messages.",
	        app->counters.closed_for_abuse);
	const sig_server_counters *sc = sig_server_get_counters(app->server);
	cred_stats cs;
	cred_counters(app, &cs);
	COUNTER("ws_upgrades_refused_origin_total",
	        "WebSocket upgrades refused (403) for an Origin that is not ours.",
	        sc->upgrades_refused_origin);
	COUNTER("ws_upgrades_refused_total",
	        "WebSocket upgrades refused (503): too many connections without hello.",
	        app->counters.upgrades_refused);
	COUNTER("ws_hello_timeouts_total", "Connections closed for not saying hello within 10 s.",
	        app->counters.hello_timeouts);
	COUNTER("kiosk_sessions_replaced_total",
	        "Kiosk sessions taken over by a newer hello with the same token.",
	        app->counters.replaced);
	COUNTER("sessions_revoked_total",
	        "Sessions ended because their kiosk or staff member was revoked.",
	        app->counters.revoked);
	COUNTER("calls_limited_total", "Kiosk calls refused by the limit of six a minute.",
	        app->counters.calls_limited);
	COUNTER("takeovers_total",
	        "Times this node took the active/standby lease and started serving (standby.c).",
	        app->counters.takeovers);
	COUNTER("credential_failures_total", "Password checks that failed (wrong credentials).",
	        cs.failures);
	COUNTER("credential_refused_total",
	        "Password checks refused without a hash (locked user or address, full queue).",
	        cs.refused);
	GAUGE("credential_locked_users", "Usernames locked out for failing too often.",
	      cs.locked_users);
	GAUGE("credential_locked_addresses", "Client addresses locked out for failing too often.",
	      cs.locked_addresses);
	GAUGE("credential_checks_waiting", "Password checks waiting for a hashing thread.",
	      cs.waiting);
	COUNTER("calls_total", "Visits started by kiosks.", app->counters.calls);
	COUNTER("legs_answered_total", "Legs answered by a desk.", app->counters.answered);
	COUNTER("udp_rx_packets_total", "Media datagrams received.", m->rx_packets);
	COUNTER("udp_rx_bytes_total", "Media bytes received.", m->rx_bytes);
	COUNTER("udp_tx_packets_total", "Media datagrams sent.", m->tx_packets);
	COUNTER("udp_tx_bytes_total", "Media bytes sent.", m->tx_bytes);
	COUNTER("stun_requests_total", "STUN binding requests answered or checked.",
	        m->stun_requests);
	COUNTER("stun_bad_total", "STUN messages dropped as malformed or unauthenticated.",
	        m->stun_bad);
	COUNTER("dtls_handshakes_total", "DTLS handshakes completed.", m->dtls_handshakes);
	COUNTER("dtls_failures_total", "DTLS handshakes failed.", m->dtls_failures);
	COUNTER("srtp_unprotect_failures_total", "SRTP/SRTCP packets that failed authentication.",
	        m->srtp_unprotect_failures);
	COUNTER("srtp_ssrc_refused_total",
	        "SRTP/SRTCP packets refused unread: a new SSRC past the 32 a peer may use.",
	        m->srtp_ssrc_refused);
	COUNTER("rtp_forwarded_total", "RTP packets forwarded to receivers.", m->rtp_forwarded);
	COUNTER("rtp_dropped_unknown_total", "Packets dropped: unknown source or stream.",
	        m->rtp_dropped_unknown);
	COUNTER("rtp_dropped_keyframe_wait_total",
	        "Video packets held back until a keyframe after a switch.",
	        m->rtp_dropped_keyframe_wait);
	COUNTER("rtcp_received_total", "RTCP compound packets received.", m->rtcp_received);
	COUNTER("pli_sent_total", "Keyframe requests sent to senders.", m->pli_sent);
	COUNTER("pli_received_total", "Keyframe requests received from receivers.",
	        m->pli_received);
	COUNTER("twcc_feedback_sent_total", "Transport-cc feedback packets sent.",
	        m->twcc_feedback_sent);
	COUNTER("twcc_feedback_received_total", "Transport-cc feedback packets from receivers.",
	        m->twcc_feedback_received);
	COUNTER("rtcp_bad_total", "RTCP compounds with a malformed packet.", m->rtcp_bad);
	COUNTER("nack_sent_total", "Lost packets the server asked senders to resend.",
	        m->nack_sent);
	COUNTER("nack_received_total", "Packets receivers asked the server to resend.",
	        m->nack_received);
	COUNTER("rtx_received_total", "Retransmissions from senders that filled a gap.",
	        m->rtx_received);
	COUNTER("rtx_sent_total", "Retransmissions sent to receivers from the cache.", m->rtx_sent);
	COUNTER("rtx_cache_miss_total", "NACKed packets no longer (or never) in the cache.",
	        m->rtx_cache_miss);
	COUNTER("rtx_over_budget_total",
	        "NACKed packets not resent because the receiver's retransmission budget (a quarter of "
	        "its downlink estimate) was spent; it asks again.",
	        m->rtx_over_budget);
	COUNTER("rtp_duplicates_total", "Packets dropped as duplicates of ones already received.",
	        m->rtp_duplicates);
	COUNTER("rtp_probes_total", "Padding-only bandwidth probes received.", m->rtp_probes);
	COUNTER("probes_sent_total", "Padding packets sent to probe receivers' downlinks.",
	        m->probes_sent);
	fprintf(f, "# HELP madoguchi_probe_clusters_total Downlink probe clusters concluded: "
	           "success raised an estimate, fail found no room (or lost its packets).\n"
	           "# TYPE madoguchi_probe_clusters_total counter\n"
	           "madoguchi_probe_clusters_total{result=\"success\"} %llu\n"
	           "madoguchi_probe_clusters_total{result=\"fail\"} %llu\n",
	        (unsigned long long)m->probe_clusters_success,
	        (unsigned long long)m->probe_clusters_fail);
	COUNTER("red_received_total", "Audio RED (RFC 2198) packets received from senders.",
	        m->red_received);
	COUNTER("red_unwrapped_total",
	        "RED packets sent to a receiver without RED as their primary Opus frame.",
	        m->red_unwrapped);
	COUNTER("red_dropped_total",
	        "RED packets dropped: malformed, or a primary block that is not the sender's Opus.",
	        m->red_dropped);
	COUNTER("pli_coalesced_total",
	        "Keyframe requests not sent because one was already in flight.", m->pli_coalesced);
	COUNTER("remb_sent_total", "REMB bitrate caps sent to senders.", m->remb_sent);
	COUNTER("simulcast_switches_total",
	        "Receive slots moved to another simulcast layer of their source.",
	        m->simulcast_switches);
	COUNTER("simulcast_probe_requests_total",
	        "Downlink probes asked for because the estimate held a slot below its display.",
	        m->simulcast_probe_requests);
	COUNTER("sr_forwarded_total", "Sender reports forwarded with rewritten SSRC and time.",
	        m->sr_forwarded);
	COUNTER("rr_sent_total", "Receiver reports sent to senders.", m->rr_sent);
	COUNTER("consent_expired_total", "Peers whose ICE consent expired (30 s silent).",
	        m->consent_expired);
	COUNTER("ice_restarts_total", "ICE restarts (a new offer from the same PeerConnection).",
	        m->ice_restarts);
	COUNTER("ice_tcp_connections_total", "ICE-TCP connections accepted.",
	        m->ice_tcp_connections);
	COUNTER("ice_tcp_dropped_total",
	        "ICE-TCP frames dropped and connections refused or closed for abuse.",
	        m->ice_tcp_dropped);
	GAUGE("ice_tcp_open", "ICE-TCP connections open now.", m->ice_tcp_open);
	COUNTER("media_send_drops_total",
	        "UDP media datagrams dropped because the socket's send buffer was full.",
	        m->send_drops);
	{
		static const int bounds_ms[] = SFU_READ_DELAY_BOUNDS_MS;
		fprintf(f, "# HELP madoguchi_media_read_delay_seconds How long the oldest datagram of "
		           "each read batch waited in the media socket before the loop read it.\n"
		           "# TYPE madoguchi_media_read_delay_seconds histogram\n");
		uint64_t cum = 0;
		for (int i = 0; i < SFU_READ_DELAY_BUCKETS; i++) {
			cum += m->read_delay_buckets[i];
			if (i < SFU_READ_DELAY_BUCKETS - 1)
				fprintf(f, "madoguchi_media_read_delay_seconds_bucket{le=\"%g\"} %llu\n",
				        bounds_ms[i] / 1000.0, (unsigned long long)cum);
			else
				fprintf(f, "madoguchi_media_read_delay_seconds_bucket{le=\"+Inf\"} %llu\n",
				        (unsigned long long)cum);
		}
		fprintf(f, "madoguchi_media_read_delay_seconds_sum %.6f\n",
		        (double)m->read_delay_sum_us / 1e6);
		fprintf(f, "madoguchi_media_read_delay_seconds_count %llu\n",
		        (unsigned long long)m->read_delay_batches);
	}
	COUNTER("media_lost_total", "Sessions ended because their media connection was lost.",
	        app->counters.media_lost);
	COUNTER("media_feed_applies_total",
	        "Receivers whose feeds were applied to the media plane (rewiring their slots).",
	        app->counters.feed_applies);
	status_metrics(app, f);
	/* Per peer, labelled by the peer's name in the log (p-<sid>). */
	fprintf(f, "# HELP madoguchi_downlink_estimate_bps Each connected peer's downlink "
	           "estimate from its transport-cc feedback.\n"
	           "# TYPE madoguchi_downlink_estimate_bps gauge\n");
	for (sig_session *s = app->sessions; s; s = s->next) {
		sfu_peer_net net;
		if (s->peer && sfu_peer_get_net(s->peer, &net) == 0 && net.downlink_bps)
			fprintf(f, "madoguchi_downlink_estimate_bps{peer=\"%s\"} %llu\n",
			        sfu_peer_label(s->peer), (unsigned long long)net.downlink_bps);
	}
	fprintf(f, "# HELP madoguchi_rtt_ms Each connected peer's round-trip time.\n"
	           "# TYPE madoguchi_rtt_ms gauge\n");
	for (sig_session *s = app->sessions; s; s = s->next) {
		sfu_peer_net net;
		if (s->peer && sfu_peer_get_net(s->peer, &net) == 0 && net.rtt_us)
			fprintf(f, "madoguchi_rtt_ms{peer=\"%s\"} %lld\n", sfu_peer_label(s->peer),
			        (long long)(net.rtt_us / 1000));
	}
	health_metrics(app, f);
#undef COUNTER
#undef GAUGE
	fclose(f);
	return out;
}
