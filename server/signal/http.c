/* The HTTP endpoints of the server process besides static files: /healthz and /metrics.
 * (The login and statistics API of PROTOCOL.md belong to the analytics work.) */
#include "signal/app_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int respond(sig_http_response *resp, int status, const char *type, char *body)
{
	resp->status = status;
	resp->content_type = type;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
	return 0;
}

static char *metrics_text(sig_app *app)
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
#undef COUNTER
#undef GAUGE
	fclose(f);
	return out;
}

int app_on_http(void *user, const char *method, const char *path, const char *query,
                const char *authorization, const char *body, size_t body_len,
                sig_http_response *resp)
{
	sig_app *app = user;
	if (strcmp(path, "/healthz") == 0) {
		char *b = NULL;
		if (asprintf(&b, "{\"status\":\"ok\",\"db\":\"%s\",\"spooled\":%d}",
		             store_is_up(app->store) ? "up" : "down",
		             store_pending(app->store)) < 0)
			return -1;
		return respond(resp, 200, "application/json", b);
	}
	if (strcmp(path, "/metrics") == 0)
		return respond(resp, 200, "text/plain; version=0.0.4", metrics_text(app));
	return -1;
}
