/* Downlink probing through the real media plane (issue 12 item 2): server/sfu on a simulated
 * clock with two synthetic peers speaking real STUN, DTLS and SRTP over loopback, a kiosk
 * and a desk in a call, the desk sending little video (300 kbit/s). The kiosk's estimate
 * starts at 1 Mbit/s and, with that little traffic, can never show more on its own.
 *
 * With probing on: the initial probe (padding-only packets on the kiosk's RTX stream, with
 * transport-wide numbers) raises the kiosk's estimate to what its slots could use; the
 * synthetic kiosk receives the probes as RTX padding (never as media: no gap, no unknown
 * SSRC, no SRTP failure) and reports them in its transport-cc feedback; then a request
 * through sfu_bwe_probe_request (the simulcast layer selection's entry point) raises it to
 * the requested 3 Mbit/s in a few rounds. With probing off (sfu_config.probe_off): not one
 * probe packet, and the estimate stays where it was.
 *
 * The simulation steps 1 ms at a time and runs the pacer (the server's 2 ms timer in real
 * life) at every step, so the arrival times the kiosk reports are as fine as a real link's. */
#include "base/log.h"
#include "check.h"
#include "sfu/secure.h"
#include "sfu/sfu_internal.h"
#include "synth_peer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/fixtures/chromium-156-offer.sdp"
#define TICK_US 20000
#define STEP_US 1000

static int64_t sim_clock(void *user)
{
	return *(const int64_t *)user;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(65536);
	*len = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

typedef struct sim {
	uv_loop_t loop;
	int64_t now, next_tick;
	sfu *sfu;
	synth_peer *kiosk_s, *desk_s;
	sfu_peer *kiosk, *desk;
	char *offer;
} sim;

static int negotiate(sim *s, synth_peer *sp, sfu_peer **peer, const char *label)
{
	*peer = sfu_peer_new(s->sfu, label);
	sfu_track_role roles[8];
	int nr = synth_peer_roles(sp, roles, 8);
	int n = synth_peer_offer(sp, s->offer, 65536);
	char *answer = NULL, err[200] = "";
	if (n < 0 ||
	    sfu_peer_offer(*peer, s->offer, (size_t)n, roles, nr, &answer, err, sizeof err) != 0) {
		fprintf(stderr, "negotiation of %s failed: %s\n", label, err);
		return -1;
	}
	int rc = synth_peer_answer(sp, answer, strlen(answer), s->now);
	free(answer);
	return rc;
}

static void settle(sim *s)
{
	const sfu_stats *st = sfu_get_stats(s->sfu);
	for (int round = 0; round < 64; round++) {
		uint64_t before = st->rx_packets;
		uv_run(&s->loop, UV_RUN_NOWAIT);
		int n = synth_peer_poll(s->kiosk_s, s->now) + synth_peer_poll(s->desk_s, s->now);
		if (n == 0 && st->rx_packets == before)
			return;
	}
}

static void run(sim *s, int64_t dur_us)
{
	int64_t end = s->now + dur_us;
	for (; s->now < end; s->now += STEP_US) {
		if (s->now >= s->next_tick) {
			sfu_tick(s->sfu);
			s->next_tick += TICK_US;
		}
		bwprobe_send_pace(s->sfu, s->now);
		synth_peer_run(s->kiosk_s, s->now);
		synth_peer_run(s->desk_s, s->now);
		settle(s);
	}
}

static uint64_t downlink(const sfu_peer *p)
{
	sfu_peer_net net;
	return sfu_peer_get_net(p, &net) == 0 ? net.downlink_bps : 0;
}

static void scenario(const synth_template *tmpl, dtls_ctx *ctx, int probe_off)
{
	static sim s;
	memset(&s, 0, sizeof s);
	s.offer = malloc(65536);
	uv_loop_init(&s.loop);
	s.now = s.next_tick = 1000000;
	sfu_config cfg = {.bind_ip = "127.0.0.1",
	                  .port = 0,
	                  .ips = {"127.0.0.1"},
	                  .n_ips = 1,
	                  .clock_us = sim_clock,
	                  .clock_user = &s.now,
	                  .probe_off = probe_off};
	s.sfu = sfu_new(&s.loop, &cfg);
	synth_config kc = {.label = "kiosk", .tmpl = tmpl, .dtls = ctx, .seed = 1,
	                   .video_kbps = 300};
	synth_config dc = kc;
	dc.label = "desk";
	dc.seed = 2;
	s.kiosk_s = synth_peer_new(&kc);
	s.desk_s = synth_peer_new(&dc);
	CHECK(s.sfu && s.kiosk_s && s.desk_s);
	if (!s.sfu || !s.kiosk_s || !s.desk_s)
		return;
	CHECK(negotiate(&s, s.kiosk_s, &s.kiosk, "kiosk") == 0);
	CHECK(negotiate(&s, s.desk_s, &s.desk, "desk") == 0);
	sfu_peer_set_feeds(s.kiosk, s.desk, NULL, NULL, 0);
	sfu_peer_set_feeds(s.desk, s.kiosk, NULL, NULL, 0);

	run(&s, 5000000);
	const sfu_stats *st = sfu_get_stats(s.sfu);
	const synth_stats *ks = synth_peer_stats(s.kiosk_s);
	uint64_t est1 = downlink(s.kiosk);
	uint64_t sent1 = st->probes_sent;
	printf("%s: after 5 s kiosk estimate %" PRIu64 " bps; probes sent %" PRIu64
	       " received %" PRIu64 ", clusters success %" PRIu64 " fail %" PRIu64 "\n",
	       probe_off ? "probing off" : "probing on", est1, st->probes_sent,
	       ks->probes_received, st->probe_clusters_success, st->probe_clusters_fail);

	/* The layer selection asks for 3 Mbit/s. */
	sfu_bwe_probe_request(s.kiosk, 3000000, s.now);
	run(&s, 3000000);
	uint64_t est2 = downlink(s.kiosk);
	printf("%s: after a request for 3 Mbit/s, estimate %" PRIu64 " bps; probes sent %" PRIu64
	       " received %" PRIu64 ", clusters success %" PRIu64 " fail %" PRIu64 "\n",
	       probe_off ? "probing off" : "probing on", est2, st->probes_sent,
	       ks->probes_received, st->probe_clusters_success, st->probe_clusters_fail);

	synth_slot_stats cam = synth_peer_slot_stats(s.kiosk_s, "camera");
	const synth_stats *ds = synth_peer_stats(s.desk_s);
	printf("kiosk received %" PRIu64 " camera packets (%" PRIu64 " bytes)\n", cam.packets,
	       cam.bytes);
	CHECK(cam.packets > 150); /* the desk's video really flowed */
	CHECK_EQ_INT(ks->unknown_ssrc, 0);
	CHECK_EQ_INT(ks->srtp_failures, 0);
	CHECK_EQ_INT(ks->gaps, 0);
	CHECK_EQ_INT(ks->seq_jumps, 0);
	if (probe_off) {
		CHECK_EQ_INT(st->probes_sent, 0);
		CHECK_EQ_INT(ks->probes_received, 0);
		CHECK(est1 <= 1100000 && est2 <= 1100000);
	} else {
		/* The initial probe: toward 1.5 Mbit/s for the camera slot plus the audio. */
		CHECK(sent1 > 0);
		CHECK(st->probe_clusters_success >= 1);
		CHECK(est1 >= 1400000 && est1 <= 1700000);
		/* Every probe reached its receiver (the desk is probed too) as RTX padding, none
		 * as media. */
		CHECK_EQ_INT(ks->probes_received + ds->probes_received, st->probes_sent);
		CHECK(est2 >= 2700000 && est2 <= 3100000);
		CHECK(st->probes_sent > sent1);
	}

	synth_peer_free(s.kiosk_s);
	synth_peer_free(s.desk_s);
	sfu_free(s.sfu);
	uv_run(&s.loop, UV_RUN_DEFAULT);
	uv_loop_close(&s.loop);
	free(s.offer);
}

int main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	size_t tlen;
	char *tsdp = read_file(FIXTURE, &tlen);
	CHECK(tsdp != NULL);
	if (!tsdp)
		return check_done("probe-synth");
	synth_template *tmpl = synth_template_new(tsdp, tlen);
	free(tsdp);
	dtls_ctx *ctx = dtls_ctx_new();
	CHECK(tmpl && ctx);
	if (tmpl && ctx) {
		scenario(tmpl, ctx, 0);
		scenario(tmpl, ctx, 1);
	}
	dtls_ctx_free(ctx);
	synth_template_free(tmpl);
	secure_global_shutdown();
	return check_done("probe-synth");
}
