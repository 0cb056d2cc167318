/* RTCP termination decisions of the media plane, on packet sequences fed straight into
 * server/sfu/feedback.c: keyframe-request storms from several receivers coalesce into one
 * request in flight per source stream (retried after a second, re-armed by a keyframe); the
 * REMB cap follows the narrowest receiver; and ICE consent (RFC 7675) expires after 30 s of
 * silence, reported once, through a real sfu driven by a simulated clock. Peers here have
 * no SRTP context, so nothing goes on the wire: the decisions show in the counters. */
#include "check.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>
#include <string.h>

static struct sfu *fake_sfu(void)
{
	return calloc(1, sizeof(struct sfu));
}

static struct sfu_peer *fake_peer(struct sfu *s, const char *label)
{
	struct sfu_peer *p = calloc(1, sizeof *p);
	p->sfu = s;
	p->selected = -1;
	snprintf(p->label, sizeof p->label, "%s", label);
	p->rtcp_ssrc = 0x5e5e0000u + (uint32_t)strlen(label);
	bwe_init(&p->bwe, 1000000);
	return p;
}

/* src sends one camera track (ssrc 1111) and one mic track (ssrc 2222). */
static void give_tracks(struct sfu_peer *src)
{
	src->in[0] = (in_track){.role = SFU_ROLE_CAMERA, .kind = SDP_KIND_VIDEO, .ssrc = 1111};
	src->in[1] = (in_track){.role = SFU_ROLE_MIC, .kind = SDP_KIND_AUDIO, .ssrc = 2222};
	src->n_in = 2;
}

/* dst receives src's mic and camera on two slots (out ssrc 10 + peer number). */
static void wire(struct sfu_peer *src, struct sfu_peer *dst, uint32_t video_ssrc)
{
	dst->out[0] = (fwd_slot){.role = SFU_ROLE_MIC,
	                         .kind = SDP_KIND_AUDIO,
	                         .out_ssrc = video_ssrc + 1,
	                         .source = src,
	                         .source_role = SFU_ROLE_MIC,
	                         .started = 1};
	dst->out[1] = (fwd_slot){.role = SFU_ROLE_CAMERA,
	                         .kind = SDP_KIND_VIDEO,
	                         .out_ssrc = video_ssrc,
	                         .source = src,
	                         .source_role = SFU_ROLE_CAMERA,
	                         .started = 1};
	dst->n_out = 2;
	in_track *cam = &src->in[0], *mic = &src->in[1];
	cam->sinks[cam->n_sinks++] = (fwd_sink){.peer = dst, .slot = 1};
	mic->sinks[mic->n_sinks++] = (fwd_sink){.peer = dst, .slot = 0};
}

static void send_pli(struct sfu_peer *from, uint32_t slot_ssrc, int64_t now)
{
	uint8_t buf[16];
	int n = rtcp_build_pli(buf, sizeof buf, 0xabcdef, slot_ssrc);
	CHECK(n > 0);
	fb_on_rtcp(from, buf, (size_t)n, now);
}

static void send_fir(struct sfu_peer *from, uint32_t slot_ssrc, uint8_t seqnr, int64_t now)
{
	uint8_t buf[32];
	int n = rtcp_build_fir(buf, sizeof buf, 0xabcdef, slot_ssrc, seqnr);
	CHECK(n > 0);
	fb_on_rtcp(from, buf, (size_t)n, now);
}

static void test_pli_storm(void)
{
	struct sfu *s = fake_sfu();
	struct sfu_peer *src = fake_peer(s, "src"), *a = fake_peer(s, "a"), *b = fake_peer(s, "bb");
	give_tracks(src);
	wire(src, a, 100);
	wire(src, b, 200);

	/* Two receivers ask 50 times each within 900 ms: one request reaches the source. */
	int64_t t0 = 5000000;
	for (int i = 0; i < 50; i++) {
		send_pli(a, 100, t0 + i * 18000);
		send_fir(b, 200, (uint8_t)i, t0 + i * 18000 + 9000);
	}
	CHECK_EQ_INT(s->stats.pli_received, 100);
	CHECK_EQ_INT(s->stats.pli_sent, 1);
	CHECK_EQ_INT(s->stats.pli_coalesced, 99);

	/* No keyframe within a second: the next request is a retry and goes out. */
	send_pli(a, 100, t0 + KEYFRAME_INFLIGHT_US + 1000);
	CHECK_EQ_INT(s->stats.pli_sent, 2);

	/* A keyframe answers it: the very next request goes out at once. */
	uint8_t pkt[64] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0x04, 0x57};
	uint8_t vp8[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}; /* S=1, key frame tag, 640x480 */
	memcpy(pkt + 12, vp8, sizeof vp8);
	rtp_hdr h;
	CHECK_EQ_INT(rtp_parse(pkt, 12 + sizeof vp8, &h), 0);
	fwd_rtp(src, &src->in[0], pkt, &h, t0 + KEYFRAME_INFLIGHT_US + 2000);
	CHECK_EQ_INT(src->in[0].keyframe_asked_us, 0);
	send_pli(b, 200, t0 + KEYFRAME_INFLIGHT_US + 3000);
	CHECK_EQ_INT(s->stats.pli_sent, 3);

	/* Requests for slots nobody feeds, unknown SSRCs and audio slots ask nothing. */
	send_pli(a, 999, t0 + 9000000);
	send_pli(a, 101, t0 + 9000000); /* a's audio slot */
	CHECK_EQ_INT(s->stats.pli_sent, 3);
	a->out[1].source = NULL;
	send_pli(a, 100, t0 + 9000000);
	CHECK_EQ_INT(s->stats.pli_sent, 3);

	/* Truncated and garbage compounds are counted, never acted on. */
	uint8_t bad[] = {0x81, 206, 0, 9, 1, 2, 3, 4};
	fb_on_rtcp(a, bad, sizeof bad, t0 + 9000000);
	CHECK_EQ_INT(s->stats.rtcp_bad, 1);
	CHECK_EQ_INT(s->stats.pli_sent, 3);

	free(src);
	free(a);
	free(b);
	free(s);
}

static void test_remb_cap(void)
{
	struct sfu *s = fake_sfu();
	struct sfu_peer *src = fake_peer(s, "src"), *a = fake_peer(s, "a"), *b = fake_peer(s, "bb");
	give_tracks(src);
	wire(src, a, 100);
	wire(src, b, 200);

	/* Nobody has reported a downlink yet: no limit. */
	CHECK_EQ_INT(fb_remb_cap_bps(src), 10000000);

	/* a's downlink is 400 kbit/s: its one video slot gets what its one audio slot leaves,
	 * and the source may add its own audio on top. */
	bwe_init(&a->bwe, 400000);
	a->bwe_ready = 1;
	uint64_t est_a = bwe_estimate_bps(&a->bwe);
	CHECK_EQ_INT(fb_remb_cap_bps(src), est_a);

	/* b is wider: a still decides. */
	bwe_init(&b->bwe, 3000000);
	b->bwe_ready = 1;
	CHECK_EQ_INT(fb_remb_cap_bps(src), est_a);

	/* a stops receiving src's video: b decides. */
	src->in[0].n_sinks = 0;
	src->in[0].sinks[src->in[0].n_sinks++] = (fwd_sink){.peer = b, .slot = 1};
	CHECK_EQ_INT(fb_remb_cap_bps(src), bwe_estimate_bps(&b->bwe));

	/* A receiver with two video slots busy shares its downlink between them. */
	b->out[2] = b->out[1];
	b->out[2].out_ssrc = 300;
	b->n_out = 3;
	uint64_t est_b = bwe_estimate_bps(&b->bwe);
	CHECK_EQ_INT(fb_remb_cap_bps(src), (est_b - 64000) / 2 + 64000);

	/* However narrow the receiver, audio keeps its floor. */
	bwe_init(&b->bwe, 50000);
	CHECK_EQ_INT(fb_remb_cap_bps(src), 100000);

	/* Audio RED (src sends it, b takes it): each audio stream needs ~100 kbit/s, on b's
	 * downlink and on top of src's own video share; the floor leaves room for RED. */
	bwe_init(&b->bwe, 3000000);
	src->in[1].red_pt = 63;
	b->out[0].red_pt = 63;
	est_b = bwe_estimate_bps(&b->bwe);
	CHECK_EQ_INT(fb_remb_cap_bps(src), (est_b - 100000) / 2 + 100000);
	/* b without RED gets the primary frames only: its slot needs the plain share. */
	b->out[0].red_pt = -1;
	CHECK_EQ_INT(fb_remb_cap_bps(src), (est_b - 64000) / 2 + 100000);
	bwe_init(&b->bwe, 50000);
	CHECK_EQ_INT(fb_remb_cap_bps(src), 130000);

	free(src);
	free(a);
	free(b);
	free(s);
}

/* A receiver's lossy line reaches the audio sender's receiver reports (for its Opus FEC). */
static void test_audio_loss(void)
{
	struct sfu *s = fake_sfu();
	struct sfu_peer *src = fake_peer(s, "src"), *a = fake_peer(s, "a"), *b = fake_peer(s, "bb");
	give_tracks(src);
	wire(src, a, 100);
	wire(src, b, 200);
	in_track *mic = &src->in[1];
	const int64_t t0 = 50000000;
	CHECK_EQ_INT(fb_audio_loss_fraction(mic, 3, t0), 3); /* nobody reported: the hop's */
	/* b reports 5 % loss (13/256) on its audio slot (out ssrc 201), a reports none. */
	uint8_t buf[64];
	rtcp_report_block rb = {.ssrc = 201, .fraction_lost = 13};
	int n = rtcp_build_rr(buf, sizeof buf, 0xb0b, &rb, 1);
	fb_on_rtcp(b, buf, (size_t)n, t0);
	rb = (rtcp_report_block){.ssrc = 101, .fraction_lost = 0};
	n = rtcp_build_rr(buf, sizeof buf, 0xa0a, &rb, 1);
	fb_on_rtcp(a, buf, (size_t)n, t0);
	CHECK_EQ_INT(b->out[0].rr_fraction_lost, 13);
	CHECK_EQ_INT(fb_audio_loss_fraction(mic, 0, t0 + 1000000), 13);
	CHECK_EQ_INT(fb_audio_loss_fraction(mic, 40, t0 + 1000000), 40); /* the hop is worse */
	/* A video slot's report changes nothing here; a stale audio report no longer counts. */
	rb = (rtcp_report_block){.ssrc = 200, .fraction_lost = 200};
	n = rtcp_build_rr(buf, sizeof buf, 0xb0b, &rb, 1);
	fb_on_rtcp(b, buf, (size_t)n, t0);
	CHECK_EQ_INT(fb_audio_loss_fraction(mic, 0, t0 + 1000000), 13);
	CHECK_EQ_INT(fb_audio_loss_fraction(mic, 0, t0 + 6000000), 0);
	free(src);
	free(a);
	free(b);
	free(s);
}

/* ---- consent freshness through a real sfu with a simulated clock ---- */

typedef struct sim {
	int64_t now_us;
	int lost;
	struct sfu_peer *lost_peer;
} sim;

static int64_t sim_clock(void *user)
{
	return ((sim *)user)->now_us;
}

static void on_lost(void *user, struct sfu_peer *p)
{
	sim *m = user;
	m->lost++;
	m->lost_peer = p;
	sfu_peer_free(p); /* allowed by the contract */
}

static void test_consent(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sim m = {.now_us = 1000000};
	sfu_config cfg = {.bind_ip = "127.0.0.1",
	                  .port = 0,
	                  .ips = {"127.0.0.1"},
	                  .n_ips = 1,
	                  .clock_us = sim_clock,
	                  .clock_user = &m,
	                  .on_consent_lost = on_lost,
	                  .user = &m};
	sfu *s = sfu_new(&loop, &cfg);
	CHECK(s != NULL);
	if (!s)
		return;
	sfu_peer *quiet = sfu_peer_new(s, "quiet");
	sfu_peer *never = sfu_peer_new(s, "never");
	sfu_peer *alive = sfu_peer_new(s, "alive");
	/* Negotiated peers; "never" has not passed a check yet, so it has no consent to lose. */
	quiet->negotiated = never->negotiated = alive->negotiated = 1;
	quiet->consent_us = alive->consent_us = m.now_us;

	for (int i = 0; i < 40 * 50; i++) { /* 40 s in 20 ms ticks; alive checks every 2.5 s */
		m.now_us += 20000;
		if (i % 125 == 0)
			alive->consent_us = m.now_us;
		sfu_tick(s);
		if (m.now_us - 1000000 < ICE_CONSENT_US - 20000)
			CHECK_EQ_INT(m.lost, 0);
	}
	CHECK_EQ_INT(m.lost, 1);
	CHECK(m.lost_peer == quiet);
	CHECK_EQ_INT(sfu_get_stats(s)->consent_expired, 1);
	CHECK_EQ_INT(sfu_get_stats(s)->peers, 2);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

int main(void)
{
	test_pli_storm();
	test_remb_cap();
	test_audio_loss();
	test_consent();
	return check_done("feedback");
}
