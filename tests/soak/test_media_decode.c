/* Issue 12 item 4: every picture a receiver gets across source switches (and, once the server
 * negotiates simulcast, layer switches) decodes. One media plane (the real server/sfu with its
 * UDP socket) runs on a simulated clock with synthetic peers that speak real STUN, DTLS and
 * SRTP over loopback and send real VP8 (libvpx) and Opus (libopus). Each source draws its own
 * tag, its layer and the frame number into every picture (bench/synth/synth_media.c); the
 * receiver depacketizes every VP8 frame, decodes it with libvpx and reads the barcode back,
 * and decodes the Opus it gets with libopus.
 *
 *   test_media_decode switch      the receiver's two video slots swap sources (A <-> B) every
 *                                 3 s, as a transfer or a one-stop hand-over does (A replays
 *                                 its encoded loop, B encodes live); then again with
 *                                 3 % loss on the receiver's downlink
 *   test_media_decode simulcast   A and B send 3 layers (rid q, h, f); the receiver's downlink
 *                                 narrows to 350 kbit/s and widens again, so the server must
 *                                 switch it down and up; the sources swap once more. Exits 77
 *                                 (meson: SKIP) when the server's answer has no a=simulcast.
 *
 * Asserted on every video slot: no libvpx error, no corrupt frame (VP8D_GET_FRAME_CORRUPTED),
 * no delta frame showing another source, layer or frame than the one before it (decoded on a
 * wrong reference), no picture-id or TL0PICIDX jump, RTP timestamps running forward, every
 * descriptor with a 15-bit picture id and TL0PICIDX, sequence numbers continuous; the pictures
 * really changed source (and layer) as often as they were switched. On every audio slot: no Opus
 * decode error, the tone's level. */
#include "base/log.h"
#include "check.h"
#include "sfu/secure.h"
#include "sfu/sfu_internal.h"
#include "synth_peer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US 20000
#define FIXTURE "tests/fixtures/chromium-156-offer.sdp"
#define SKIP    77

typedef struct party {
	synth_peer *synth;
	sfu_peer *peer;
	int answer_simulcast; /* the server's answer has an a=simulcast line */
} party;

typedef struct run {
	uv_loop_t loop;
	int64_t now, next_tick;
	sfu *sfu;
	party a, b, r;
	char *offer;
} run;

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

static int negotiate(run *s, party *pa, const char *label)
{
	pa->peer = sfu_peer_new(s->sfu, label);
	sfu_track_role roles[8];
	int nr = synth_peer_roles(pa->synth, roles, 8);
	int n = synth_peer_offer(pa->synth, s->offer, 65536);
	char *answer = NULL, err[200] = "";
	if (!pa->peer || n < 0 ||
	    sfu_peer_offer(pa->peer, s->offer, (size_t)n, roles, nr, &answer, err, sizeof err) !=
	        0) {
		fprintf(stderr, "negotiation of %s failed: %s\n", label, err);
		return -1;
	}
	pa->answer_simulcast = strstr(answer, "a=simulcast:") != NULL;
	int rc = synth_peer_answer(pa->synth, answer, strlen(answer), s->now);
	if (getenv("MADOGUCHI_DECODE_TRACE"))
		printf("answer to %s:\n%s\n", label, answer);
	free(answer);
	return rc;
}

static void settle(run *s)
{
	const sfu_stats *st = sfu_get_stats(s->sfu);
	for (int round = 0; round < 64; round++) {
		uint64_t before = st->rx_packets;
		uv_run(&s->loop, UV_RUN_NOWAIT);
		int n = synth_peer_poll(s->a.synth, s->now) + synth_peer_poll(s->b.synth, s->now) +
		        synth_peer_poll(s->r.synth, s->now);
		if (n == 0 && st->rx_packets == before)
			return;
	}
}

/* Runs the simulation until `until` (simulated microseconds). */
static void run_until(run *s, int64_t until)
{
	const synth_peer *all[3] = {s->a.synth, s->b.synth, s->r.synth};
	while (s->now < until) {
		if (s->now >= s->next_tick) {
			sfu_tick(s->sfu);
			s->next_tick += TICK_US;
		}
		/* The prober's pacing (the server's 2 ms timer in real time) on the simulated
		 * clock, as tests/soak/test_probe_synth.c does: without it a probe cluster leaves
		 * in bursts at real-time pace and cannot measure the simulated line. */
		int pacing = bwprobe_send_pace(s->sfu, s->now);
		for (int i = 0; i < 3; i++)
			synth_peer_run((synth_peer *)all[i], s->now);
		settle(s);
		int64_t next = pacing ? s->now + 1000 : s->next_tick;
		for (int i = 0; i < 3; i++) {
			int64_t d = synth_peer_next_due(all[i]);
			if (d < next)
				next = d;
		}
		s->now = next > s->now + 1000 ? next : s->now + 1000;
	}
}

/* The receiver's camera slot shows `primary`, its extra video slot `extra`. */
static void wire(run *s, party *primary, party *extra)
{
	sfu_peer_set_feeds(s->r.peer, primary->peer, NULL, &extra->peer, 1);
	sfu_peer_set_feeds(s->a.peer, s->r.peer, NULL, NULL, 0);
	sfu_peer_set_feeds(s->b.peer, s->r.peer, NULL, NULL, 0);
}

static synth_peer *make_peer(const char *label, const synth_template *t, dtls_ctx *ctx,
                             uint64_t seed, int tag, int simulcast, double recv_loss)
{
	synth_config c = {.label = label,
	                  .recv_loss = recv_loss,
	                  .tmpl = t,
	                  .dtls = ctx,
	                  .seed = seed,
	                  /* Loops of different lengths (4 s and 3.3 s), so that the sources'
	                   * frame numbers differ and a delta frame decoded on the other source's
	                   * picture shows a frame number that does not follow. */
	                  .keyframe_every_ms = tag == 2 ? 3300 : 4000,
	                  /* A replays its encoded loop, B encodes live: both ways of the peers. */
	                  .media = tag == 2 ? SYNTH_MEDIA_LIVE : SYNTH_MEDIA_REPLAY,
	                  .picture_tag = tag,
	                  .simulcast = simulcast,
	                  .decode = 1};
	return synth_peer_new(&c);
}

static void print_video(const char *name, const synth_video_check *v)
{
	printf("%s: packets=%" PRIu64 " frames=%" PRIu64 " keyframes=%" PRIu64 " decoded=%" PRIu64
	       " (q=%" PRIu64 " h=%" PRIu64 " f=%" PRIu64 ") corrupt=%" PRIu64
	       " undecodable=%" PRIu64 " no_picture=%" PRIu64 " wrong_ref=%" PRIu64
	       " unreadable=%" PRIu64 " skipped=%" PRIu64 " cut=%" PRIu64 " orphans=%" PRIu64
	       " lost=%" PRIu64 " late=%" PRIu64 " pid_gaps=%" PRIu64 " tl0_gaps=%" PRIu64
	       " ts_jumps=%" PRIu64 " bad_desc=%" PRIu64 " source_changes=%" PRIu64
	       " layer_changes=%" PRIu64 " last=%dx%d tag=%d layer=%d\n",
	       name, v->packets, v->frames, v->keyframes, v->decoded, v->by_layer[0],
	       v->by_layer[1], v->by_layer[2], v->corrupt, v->undecodable, v->no_picture,
	       v->wrong_reference, v->unreadable, v->skipped, v->cut, v->orphans, v->lost_packets,
	       v->late, v->pid_gaps, v->tl0_gaps, v->ts_jumps, v->bad_descriptor, v->source_changes,
	       v->layer_changes, v->width, v->height, v->tag, v->layer);
}

/* The checks every video slot must pass, however it was switched. */
static void check_video(const char *name, const synth_video_check *v, const synth_slot_stats *ss,
                        uint64_t min_decoded, int switches)
{
	print_video(name, v);
	printf("%s: rtp gaps=%" PRIu64 " repaired=%" PRIu64 " unrepaired=%" PRIu64 "\n", name,
	       ss->gaps, ss->repaired, ss->unrepaired);
	CHECK(v->decoded >= min_decoded);
	CHECK_EQ_INT(v->undecodable, 0);
	CHECK_EQ_INT(v->corrupt, 0);
	CHECK_EQ_INT(v->no_picture, 0);
	CHECK_EQ_INT(v->wrong_reference, 0);
	CHECK_EQ_INT(v->unreadable, 0);
	CHECK_EQ_INT(v->bad_descriptor, 0);
	/* A switch may cut the old source's picture short (its tail is not forwarded); on a
	 * network without loss nothing else may. (Loss breaks pictures too: the receiver then
	 * waits for a keyframe, as a browser does.) */
	if (ss->gaps == 0)
		CHECK(v->cut <= (uint64_t)switches + v->layer_changes);
	/* Between pictures with no packet lost in between, picture ids and TL0PICIDX advance by
	 * one and RTP timestamps run forward, across switches too. */
	CHECK_EQ_INT(v->pid_gaps, 0);
	CHECK_EQ_INT(v->tl0_gaps, 0);
	CHECK_EQ_INT(v->ts_jumps, 0);
}

static void check_audio(const char *name, const synth_audio_check *a, uint64_t min_decoded)
{
	printf("%s: packets=%" PRIu64 " decoded=%" PRIu64 " errors=%" PRIu64
	       " level=%.2f dBFS (sent %.2f)\n",
	       name, a->packets, a->decoded, a->errors, a->level_dbfs, synth_tone_dbfs());
	CHECK(a->decoded >= min_decoded);
	CHECK_EQ_INT(a->errors, 0);
	CHECK(fabs(a->level_dbfs - synth_tone_dbfs()) < 2.0);
}

static int start(run *s, synth_template *tmpl, dtls_ctx *ctx, int simulcast, double loss)
{
	memset(s, 0, sizeof *s);
	s->offer = malloc(65536);
	uv_loop_init(&s->loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1",
	                  .ips = {"127.0.0.1"},
	                  .n_ips = 1,
	                  .clock_us = sim_clock,
	                  .clock_user = &s->now,
	                  .simulcast = simulcast != 0}; /* sfu_config says nothing: off (the server config: on) */
	s->now = 1000000;
	s->next_tick = s->now;
	s->sfu = sfu_new(&s->loop, &cfg);
	s->a.synth = make_peer("a", tmpl, ctx, 11, 1, simulcast, 0);
	s->b.synth = make_peer("b", tmpl, ctx, 12, 2, simulcast, 0);
	s->r.synth = make_peer("r", tmpl, ctx, 13, 3, 0, loss);
	CHECK(s->sfu && s->a.synth && s->b.synth && s->r.synth);
	if (!s->sfu || !s->a.synth || !s->b.synth || !s->r.synth)
		return -1;
	int rc = negotiate(s, &s->a, "a") | negotiate(s, &s->b, "b") | negotiate(s, &s->r, "r");
	CHECK_EQ_INT(rc, 0);
	return rc;
}

static void finish(run *s)
{
	synth_peer_free(s->a.synth);
	synth_peer_free(s->b.synth);
	synth_peer_free(s->r.synth);
	if (s->sfu)
		sfu_free(s->sfu);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);
	free(s->offer);
}

static void common_checks(run *s, uint64_t min_frames, int switches)
{
	synth_video_check cam, slot;
	synth_audio_check mic, slot_audio;
	CHECK_EQ_INT(synth_peer_video_check(s->r.synth, "camera", &cam), 0);
	CHECK_EQ_INT(synth_peer_video_check(s->r.synth, "slotVideo", &slot), 0);
	CHECK_EQ_INT(synth_peer_audio_check(s->r.synth, "mic", &mic), 0);
	CHECK_EQ_INT(synth_peer_audio_check(s->r.synth, "slotAudio", &slot_audio), 0);
	synth_slot_stats cs = synth_peer_slot_stats(s->r.synth, "camera");
	synth_slot_stats vs = synth_peer_slot_stats(s->r.synth, "slotVideo");
	check_video("camera", &cam, &cs, min_frames, switches);
	check_video("slotVideo", &slot, &vs, min_frames, switches);
	/* 50 packets a second; the first ones only start the decoder. */
	uint64_t min_audio = min_frames * 50 / 30;
	check_audio("mic", &mic, min_audio);
	check_audio("slotAudio", &slot_audio, min_audio);
	const synth_stats *rs = synth_peer_stats(s->r.synth);
	printf("receiver: rtp=%" PRIu64 " gaps=%" PRIu64 " repaired=%" PRIu64 " unrepaired=%" PRIu64
	       " jumps=%" PRIu64 " dup=%" PRIu64 " rx_dropped=%" PRIu64 " srtp_fail=%" PRIu64 "\n",
	       rs->rtp_received, rs->gaps, rs->repaired, rs->unrepaired, rs->seq_jumps,
	       rs->duplicates, rs->recv_dropped, rs->srtp_failures);
	CHECK_EQ_INT(rs->seq_jumps, 0);
	CHECK_EQ_INT(rs->srtp_failures, 0);
}

/* The receiver's two video slots swap sources every 3 s. On a clean network every picture
 * decodes and sequence numbers and picture ids run on without a gap; with loss on the
 * receiver's downlink (repaired by NACK and RTX where it can be, by a keyframe where it
 * cannot) no picture decodes wrong. */
static void test_switch(synth_template *tmpl, dtls_ctx *ctx, double loss)
{
	run s;
	printf("== source switches, receiver loss %.0f %%\n", loss * 100);
	if (start(&s, tmpl, ctx, 0, loss) == 0) {
		wire(&s, &s.a, &s.b);
		int64_t t0 = s.now;
		int switches = 0;
		for (int k = 1; k <= 7; k++) {
			run_until(&s, t0 + k * 3000000LL);
			if (k < 7) {
				wire(&s, k % 2 ? &s.b : &s.a, k % 2 ? &s.a : &s.b);
				switches++;
			}
		}
		/* 21 s at 30 fps, less the connection and the keyframe waits (and, with loss, the
		 * pictures that broke). */
		common_checks(&s, loss > 0 ? 350 : 500, switches);
		synth_video_check cam, slot;
		synth_peer_video_check(s.r.synth, "camera", &cam);
		synth_peer_video_check(s.r.synth, "slotVideo", &slot);
		synth_slot_stats cs = synth_peer_slot_stats(s.r.synth, "camera");
		synth_slot_stats vs = synth_peer_slot_stats(s.r.synth, "slotVideo");
		printf("received: camera %.0f kbit/s, mic %.0f kbit/s (RTP with headers, 21 s)\n",
		       (double)cs.bytes * 8 / 21 / 1000,
		       (double)synth_peer_slot_stats(s.r.synth, "mic").bytes * 8 / 21 / 1000);
		/* The pictures changed source at every switch and at no other time. */
		CHECK_EQ_INT(cam.source_changes, (uint64_t)switches);
		CHECK_EQ_INT(slot.source_changes, (uint64_t)switches);
		CHECK_EQ_INT(cam.layer_changes, 0);
		/* The camera slot ends on A (tag 1), the extra slot on B (tag 2), full size. */
		CHECK_EQ_INT(cam.tag, 1);
		CHECK_EQ_INT(slot.tag, 2);
		CHECK_EQ_INT(cam.width, 640);
		CHECK_EQ_INT(cam.height, 480);
		CHECK_EQ_INT(synth_peer_stats(s.r.synth)->unknown_ssrc, 0);
		if (loss == 0) {
			/* A clean network: not a packet missing. */
			CHECK_EQ_INT(cs.gaps, 0);
			CHECK_EQ_INT(vs.gaps, 0);
			CHECK_EQ_INT(cam.orphans, 0);
		} else {
			/* Loss happened and the server repaired some of it. */
			CHECK(cs.gaps > 0);
			CHECK(cs.repaired + vs.repaired > 0);
		}
	}
	finish(&s);
}

/* Simulcast: the receiver's downlink narrows, so the server must move it to a lower layer,
 * and widens, so it must move it back up; the sources swap in between. Returns SKIP when
 * the server does not negotiate simulcast. */
static int test_simulcast(synth_template *tmpl, dtls_ctx *ctx)
{
	run s;
	int rc = 0;
	if (start(&s, tmpl, ctx, 3, 0) == 0) {
		if (!s.a.answer_simulcast && !s.b.answer_simulcast) {
			printf("SKIP simulcast: the server's answer has no a=simulcast for the "
			       "camera's rids (q;h;f): simulcast is not negotiated by this server "
			       "yet\n");
			rc = SKIP;
		} else if (!synth_peer_simulcast(s.a.synth) || !synth_peer_simulcast(s.b.synth)) {
			/* a=simulcast without the rid extension (RFC 8852) cannot work. */
			fprintf(stderr, "the answer has a=simulcast but no usable "
			                "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id extmap\n");
			CHECK(synth_peer_simulcast(s.a.synth) && synth_peer_simulcast(s.b.synth));
		} else {
			wire(&s, &s.a, &s.b);
			int64_t t0 = s.now;
			run_until(&s, t0 + 6000000);
			synth_video_check before;
			synth_peer_video_check(s.r.synth, "camera", &before);
			printf("clean start: camera layer %d (%dx%d)\n", before.layer, before.width,
			       before.height);
			/* A narrow branch line: only the lower layers fit. */
			synth_peer_set_downlink(s.r.synth, 350);
			run_until(&s, t0 + 18000000);
			wire(&s, &s.b, &s.a);
			run_until(&s, t0 + 24000000);
			synth_video_check low;
			synth_peer_video_check(s.r.synth, "camera", &low);
			printf("narrow downlink: camera layer %d (%dx%d)\n", low.layer, low.width,
			       low.height);
			/* The limit is lifted: the server probes and moves the receiver up. */
			synth_peer_set_downlink(s.r.synth, 0);
			int64_t lifted = s.now, up_at = 0;
			while (s.now < t0 + 45000000) {
				run_until(&s, s.now + 250000);
				synth_video_check v;
				synth_peer_video_check(s.r.synth, "camera", &v);
				if (!up_at && v.layer == 2 && v.by_layer[2] > low.by_layer[2])
					up_at = s.now;
			}
			if (up_at)
				printf("switch-up: camera back at the full layer %.2f s after the "
				       "limit "
				       "was lifted (simulated time)\n",
				       (double)(up_at - lifted) / 1e6);
			else
				printf(
				    "switch-up: camera not back at the full layer within %.0f s\n",
				    (double)(s.now - lifted) / 1e6);
			CHECK(up_at != 0);
			common_checks(&s, 500, 1);
			const synth_stats *rs = synth_peer_stats(s.r.synth);
			printf("receiver: probes=%" PRIu64 " rtx=%" PRIu64 " unknown_ssrc=%" PRIu64
			       " remb_in=%" PRIu64 "\n",
			       rs->probes_received, rs->rtx_received, rs->unknown_ssrc,
			       rs->remb_received);
			synth_video_check cam;
			synth_peer_video_check(s.r.synth, "camera", &cam);
			CHECK(cam.by_layer[0] + cam.by_layer[1] > 0); /* it went down */
			CHECK(cam.layer_changes >= 2);                /* and up again */
			CHECK_EQ_INT(cam.layer, 2);
			CHECK_EQ_INT(cam.width, 640);
			CHECK_EQ_INT(cam.tag, 2);
			CHECK(low.layer < 2);
		}
	}
	finish(&s);
	return rc;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "switch";
	log_set_level(getenv("MDG_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	size_t tlen;
	char *tsdp = read_file(FIXTURE, &tlen);
	CHECK(tsdp != NULL);
	if (!tsdp)
		return check_done("media-decode");
	synth_template *tmpl = synth_template_new(tsdp, tlen);
	free(tsdp);
	dtls_ctx *ctx = dtls_ctx_new();
	CHECK(tmpl != NULL && ctx != NULL);
	int rc = 0;
	if (tmpl && ctx) {
		if (strcmp(what, "simulcast") == 0)
			rc = test_simulcast(tmpl, ctx);
		else {
			test_switch(tmpl, ctx, 0);
			test_switch(tmpl, ctx, 0.03);
		}
	}
	dtls_ctx_free(ctx);
	synth_template_free(tmpl);
	secure_global_shutdown();
	int done =
	    check_done(strcmp(what, "simulcast") == 0 ? "media-decode-simulcast" : "media-decode");
	return done != 0 ? done : rc;
}
