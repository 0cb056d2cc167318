/* Load benchmark: N kiosk-desk call pairs of synthetic peers against one in-process media
 * plane, in real time, for a given number of seconds. Prints the server's packet rates and
 * the CPU used, in total and inside the media plane's event loop (the server's share; the
 * synthetic peers run in the same process and use the rest).
 *
 *   synth_load [pairs=4] [seconds=20] [loss=0] [video_kbps=1000] [media=replay] [simulcast=0]
 *
 * media: `replay` (real VP8 and Opus encoded once and replayed with fresh headers: the cost
 * of the wire, not of encoding) or `live` (every peer runs libvpx and libopus encoders, as a
 * browser does). simulcast: 2 or 3 camera layers per peer when the server accepts them.
 *
 * Run from the repository root (it reads tests/fixtures/chromium-156-offer.sdp). */
#include "base/clock.h"
#include "base/log.h"
#include "sfu/secure.h"
#include "synth_peer.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_PAIRS 64
#define FIXTURE   "tests/fixtures/chromium-156-offer.sdp"

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int negotiate(sfu *s, synth_peer *sp, sfu_peer **out, const char *label, char *buf)
{
	*out = sfu_peer_new(s, label);
	sfu_track_role roles[8];
	int nr = synth_peer_roles(sp, roles, 8);
	int n = synth_peer_offer(sp, buf, 65536);
	char *answer = NULL, err[200] = "";
	if (!*out || n < 0 ||
	    sfu_peer_offer(*out, buf, (size_t)n, roles, nr, &answer, err, sizeof err) != 0) {
		fprintf(stderr, "negotiation failed: %s\n", err);
		return -1;
	}
	int rc = synth_peer_answer(sp, answer, strlen(answer), clock_mono_us());
	free(answer);
	return rc;
}

int main(int argc, char **argv)
{
	int pairs = argc > 1 ? atoi(argv[1]) : 4;
	double seconds = argc > 2 ? atof(argv[2]) : 20;
	double loss = argc > 3 ? atof(argv[3]) : 0;
	int kbps = argc > 4 ? atoi(argv[4]) : 1000;
	int live = argc > 5 && strcmp(argv[5], "live") == 0;
	int simulcast = argc > 6 ? atoi(argv[6]) : 0;
	if (pairs < 1 || pairs > MAX_PAIRS || seconds <= 0) {
		fprintf(stderr,
		        "usage: synth_load [pairs 1-%d] [seconds] [loss] [video_kbps] "
		        "[replay|live] [simulcast 0|2|3]\n",
		        MAX_PAIRS);
		return 2;
	}
	log_set_level(LOG_LEVEL_WARN);
	FILE *f = fopen(FIXTURE, "rb");
	char *buf = malloc(65536);
	size_t tlen = f && buf ? fread(buf, 1, 65535, f) : 0;
	if (f)
		fclose(f);
	synth_template *tmpl = tlen ? synth_template_new(buf, tlen) : NULL;
	if (!tmpl) {
		fprintf(stderr, "cannot read %s (run from the repository root)\n", FIXTURE);
		return 1;
	}
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {
	    .bind_ip = "127.0.0.1", .ips = {"127.0.0.1"}, .n_ips = 1, .simulcast = simulcast > 0};
	sfu *s = sfu_new(&loop, &cfg);
	dtls_ctx *ctx = dtls_ctx_new();
	if (!s || !ctx)
		return 1;
	int n = 2 * pairs;
	synth_peer *sp[2 * MAX_PAIRS];
	sfu_peer *pp[2 * MAX_PAIRS];
	for (int i = 0; i < n; i++) {
		char label[32];
		snprintf(label, sizeof label, "%s-%d", i % 2 ? "desk" : "kiosk", i / 2);
		synth_config c = {.label = label,
		                  .tmpl = tmpl,
		                  .dtls = ctx,
		                  .seed = (uint64_t)i + 1,
		                  .send_loss = loss,
		                  .recv_loss = loss,
		                  .video_kbps = kbps,
		                  .media = live ? SYNTH_MEDIA_LIVE : SYNTH_MEDIA_REPLAY,
		                  .simulcast = simulcast};
		sp[i] = synth_peer_new(&c);
		if (!sp[i] || negotiate(s, sp[i], &pp[i], label, buf) != 0)
			return 1;
	}
	for (int i = 0; i < n; i += 2) {
		sfu_peer_set_feeds(pp[i], pp[i + 1], NULL, NULL, 0);
		sfu_peer_set_feeds(pp[i + 1], pp[i], NULL, NULL, 0);
	}

	struct pollfd *fds = calloc((size_t)n + 1, sizeof *fds);
	const sfu_stats *st = sfu_get_stats(s);
	int64_t start = clock_mono_us(), end = start + (int64_t)(seconds * 1e6);
	/* The first two seconds connect and ramp up; measure after them. */
	int64_t measure_from = start + 2000000;
	int measuring = 0;
	double cpu0 = 0, loop_s = 0;
	uint64_t rx0 = 0, tx0 = 0, fwd0 = 0;
	int64_t now;
	while ((now = clock_mono_us()) < end) {
		if (!measuring && now >= measure_from) {
			measuring = 1;
			cpu0 = cpu_s();
			rx0 = st->rx_packets;
			tx0 = st->tx_packets;
			fwd0 = st->rtp_forwarded;
		}
		for (int i = 0; i < n; i++)
			synth_peer_run(sp[i], now);
		struct timespec a, b;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
		/* libuv reads at most 32 datagrams per socket and round: run rounds until the
		 * server has read everything, or a slow round (live encoding) would let the
		 * socket's buffer overflow. */
		for (int k = 0; k < 64; k++) {
			uint64_t before = st->rx_packets;
			uv_run(&loop, UV_RUN_NOWAIT);
			if (st->rx_packets == before)
				break;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
		if (measuring)
			loop_s += (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
		for (int i = 0; i < n; i++)
			synth_peer_poll(sp[i], clock_mono_us());
		/* Sleep until a peer has something to do or a socket is readable. */
		int64_t due = end;
		for (int i = 0; i < n; i++) {
			int64_t d = synth_peer_next_due(sp[i]);
			due = d < due ? d : due;
		}
		int timeout = (int)((due - clock_mono_us()) / 1000);
		int uvt = uv_backend_timeout(&loop);
		if (uvt >= 0 && uvt < timeout)
			timeout = uvt;
		if (timeout > 0) {
			fds[0] = (struct pollfd){.fd = uv_backend_fd(&loop), .events = POLLIN};
			for (int i = 0; i < n; i++)
				fds[i + 1] =
				    (struct pollfd){.fd = synth_peer_fd(sp[i]), .events = POLLIN};
			poll(fds, (nfds_t)n + 1, timeout);
		}
	}
	double span = (double)(clock_mono_us() - measure_from) / 1e6;
	double cpu = cpu_s() - cpu0;
	uint64_t sent = 0, received = 0;
	for (int i = 0; i < n; i++) {
		const synth_stats *ps = synth_peer_stats(sp[i]);
		sent += ps->audio_sent + ps->video_sent;
		received += ps->rtp_received;
	}
	printf("pairs=%d seconds=%.1f loss=%.3f video_kbps=%d media=%s simulcast=%s\n", pairs, span,
	       loss, kbps, live ? "live" : "replay",
	       simulcast && synth_peer_simulcast(sp[0]) ? "on" : "off");
	printf("server packets/s in=%.0f out=%.0f forwarded=%llu\n",
	       (double)(st->rx_packets - rx0) / span, (double)(st->tx_packets - tx0) / span,
	       (unsigned long long)st->rtp_forwarded);
	printf("cpu total=%.1f%% server_loop=%.1f%% (of one core)\n", 100 * cpu / span,
	       100 * loop_s / span);
	uint64_t fwd = st->rtp_forwarded - fwd0;
	printf("server loop per forwarded packet=%.2f us (%llu forwarded while measuring)\n",
	       fwd ? loop_s * 1e6 / (double)fwd : 0, (unsigned long long)fwd);
	printf("delivered=%.4f (%llu of %llu media packets sent by the peers)\n",
	       sent ? (double)received / (double)sent : 0, (unsigned long long)received,
	       (unsigned long long)sent);
	printf("MEASURE {\"pairs\":%d,\"pps_in\":%.0f,\"pps_out\":%.0f,\"cpu_pct\":%.1f,"
	       "\"server_loop_pct\":%.1f}\n",
	       pairs, (double)(st->rx_packets - rx0) / span, (double)(st->tx_packets - tx0) / span,
	       100 * cpu / span, 100 * loop_s / span);
	free(fds);
	for (int i = 0; i < n; i++)
		synth_peer_free(sp[i]);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dtls_ctx_free(ctx);
	synth_template_free(tmpl);
	free(buf);
	secure_global_shutdown();
	return 0;
}
