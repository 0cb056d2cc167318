/* The kiosk self-test's analysis (server/sfu/mcheck.c) on media encoded here with the real
 * codecs, packetized as a browser would, and fed through the depacketizer and decoders. */
#include "check.h"
#include "codec_synth.h"
#include "sfu/mcheck.h"

#include <math.h>

typedef struct vfeed {
	mcheck_video *v;
	int drop_seq; /* a packet to lose, or -1 */
} vfeed;

static void to_video(void *user, const uint8_t *payload, size_t len, uint16_t seq, uint32_t ts,
                     int marker)
{
	vfeed *f = user;
	if (f->drop_seq >= 0 && seq == (uint16_t)f->drop_seq)
		return;
	mcheck_video_push(f->v, payload, len, seq, ts, marker);
}

static void to_audio(void *user, const uint8_t *payload, size_t len)
{
	mcheck_audio_push(user, payload, len);
}

static mcheck_video_result video_of(enum synth_picture kind, int drop_seq)
{
	vfeed f = {.v = mcheck_video_new(), .drop_seq = drop_seq};
	mcheck_video_result r;
	CHECK(synth_video(kind, 640, 480, 30, 90, 1100, to_video, &f) >= 90);
	CHECK_EQ_INT(mcheck_video_analyze(f.v, &r), 0);
	mcheck_video_free(f.v);
	return r;
}

static mcheck_audio_result audio_of(double freq, double amplitude)
{
	mcheck_audio *a = mcheck_audio_new();
	mcheck_audio_result r;
	CHECK_EQ_INT(synth_audio(freq, amplitude, 3.0, to_audio, a), 150);
	CHECK_EQ_INT(mcheck_audio_analyze(a, &r), 0);
	mcheck_audio_free(a);
	return r;
}

static void test_video(void)
{
	mcheck_video_result r = video_of(SYNTH_MOVING, -1);
	printf("moving: state=%s frames=%d decoded=%d changed=%d %dx%d luma=%.1f\n",
	       mcheck_state_name(r.state), r.frames, r.decoded, r.changed, r.width, r.height,
	       r.luma);
	CHECK_EQ_INT(r.state, MCHECK_OK);
	CHECK_EQ_INT(r.width, 640);
	CHECK_EQ_INT(r.height, 480);
	CHECK_EQ_INT(r.decoded, 90);
	CHECK(r.changed > 80);
	CHECK(r.luma > 50 && r.luma < 160);

	r = video_of(SYNTH_BLACK, -1);
	printf("black: state=%s decoded=%d luma=%.2f\n", mcheck_state_name(r.state), r.decoded,
	       r.luma);
	CHECK_EQ_INT(r.state, MCHECK_BLACK);
	CHECK(r.luma < 5);
	CHECK_EQ_INT(r.width, 640);

	r = video_of(SYNTH_FROZEN, -1);
	printf("frozen: state=%s decoded=%d changed=%d luma=%.1f\n", mcheck_state_name(r.state),
	       r.decoded, r.changed, r.luma);
	CHECK_EQ_INT(r.state, MCHECK_FROZEN);
	CHECK_EQ_INT(r.changed, 0);
	CHECK(r.decoded >= 60);

	/* A lost packet costs its frame (and, as nothing asks for a key frame here, the frames
	 * predicted from it fail or are skipped), never a crash; what decoded still counts. */
	r = video_of(SYNTH_MOVING, 1003);
	printf("moving, one packet lost: state=%s frames=%d decoded=%d\n",
	       mcheck_state_name(r.state), r.frames, r.decoded);
	CHECK(r.frames < 90);
	CHECK(r.decoded >= 1);

	mcheck_video *v = mcheck_video_new();
	CHECK_EQ_INT(mcheck_video_analyze(v, &r), 0);
	CHECK_EQ_INT(r.state, MCHECK_MISSING);
	/* Garbage: too short, a continuation with no start, a "frame" that is no VP8. */
	uint8_t junk[8] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	CHECK_EQ_INT(mcheck_video_push(v, junk, 1, 1, 1, 1), -1);
	CHECK_EQ_INT(mcheck_video_push(v, (const uint8_t[]){0x00, 1, 2}, 3, 2, 1, 1), -1);
	CHECK_EQ_INT(mcheck_video_push(v, junk, sizeof junk, 3, 1, 1), 0);
	CHECK_EQ_INT(mcheck_video_analyze(v, &r), 0);
	CHECK_EQ_INT(r.state, MCHECK_MISSING); /* a frame, but nothing decodes */
	CHECK_EQ_INT(r.packets, 3);
	mcheck_video_free(v);
}

/* The same media decoded in batches taken while packets still arrive (as probe.c does, with
 * frames split across the cut) gives the same figures as decoding it in one go. */
typedef struct batcher {
	mcheck_video *v;
	mcheck_video_dec *d;
	int packets;
} batcher;

static void to_batches(void *user, const uint8_t *payload, size_t len, uint16_t seq, uint32_t ts,
                       int marker)
{
	batcher *b = user;
	mcheck_video_push(b->v, payload, len, seq, ts, marker);
	if (++b->packets % 37 == 0) { /* mid-frame, most of the time */
		mcheck_video *batch = mcheck_video_take(b->v);
		CHECK(batch != NULL);
		mcheck_video_dec_feed(b->d, batch);
		mcheck_video_free(batch);
	}
}

static void test_batches(void)
{
	mcheck_video_result whole = video_of(SYNTH_MOVING, -1), r;
	batcher b = {.v = mcheck_video_new(), .d = mcheck_video_dec_new()};
	CHECK(synth_video(SYNTH_MOVING, 640, 480, 30, 90, 1100, to_batches, &b) >= 90);
	mcheck_video *last = mcheck_video_take(b.v);
	mcheck_video_dec_feed(b.d, last);
	mcheck_video_free(last);
	mcheck_video_dec_result(b.d, b.v, &r);
	printf("in batches: state=%s frames=%d decoded=%d changed=%d luma=%.1f\n",
	       mcheck_state_name(r.state), r.frames, r.decoded, r.changed, r.luma);
	CHECK_EQ_INT(r.state, whole.state);
	CHECK_EQ_INT(r.frames, whole.frames);
	CHECK_EQ_INT(r.decoded, whole.decoded);
	CHECK_EQ_INT(r.changed, whole.changed);
	CHECK_EQ_INT(r.packets, whole.packets);
	CHECK(fabs(r.luma - whole.luma) < 1e-9);
	mcheck_video_dec_free(b.d);
	mcheck_video_free(b.v);
}

static void test_audio(void)
{
	mcheck_audio_result r = audio_of(440, 0.25);
	double expected = 20 * log10(0.25 / sqrt(2)); /* -15.05 dBFS */
	printf("440 Hz at 0.25: state=%s level=%.2f dBFS (expected %.2f) peak=%.2f\n",
	       mcheck_state_name(r.state), r.level_dbfs, expected, r.peak_dbfs);
	CHECK_EQ_INT(r.state, MCHECK_OK);
	CHECK_EQ_INT(r.decoded, 150);
	CHECK(fabs(r.level_dbfs - expected) < 1.5);

	r = audio_of(440, 0.0);
	printf("zeros: state=%s level=%.2f peak=%.2f\n", mcheck_state_name(r.state), r.level_dbfs,
	       r.peak_dbfs);
	CHECK_EQ_INT(r.state, MCHECK_SILENT);
	CHECK(r.peak_dbfs <= MCHECK_SILENT_DBFS);

	/* Very quiet but present (about -66 dBFS RMS): still silent by the -60 dBFS rule. */
	r = audio_of(440, 0.0007);
	printf("0.0007: state=%s level=%.2f peak=%.2f\n", mcheck_state_name(r.state), r.level_dbfs,
	       r.peak_dbfs);
	CHECK_EQ_INT(r.state, MCHECK_SILENT);

	mcheck_audio *a = mcheck_audio_new();
	CHECK_EQ_INT(mcheck_audio_analyze(a, &r), 0);
	CHECK_EQ_INT(r.state, MCHECK_MISSING);
	CHECK_EQ_INT(mcheck_audio_push(a, (const uint8_t[]){0xff, 0xff, 0xff}, 3), 0);
	CHECK_EQ_INT(mcheck_audio_analyze(a, &r), 0);
	CHECK(r.state == MCHECK_MISSING || r.state == MCHECK_SILENT);
	mcheck_audio_free(a);
}

static void test_pure(void)
{
	uint8_t a[16 * 16], b[16 * 16];
	memset(a, 16, sizeof a);
	CHECK(mcheck_luma_mean(a, 16, 16, 16) < 0.01);
	memset(a, 235, sizeof a);
	CHECK(fabs(mcheck_luma_mean(a, 16, 16, 16) - 255) < 0.01);
	memcpy(b, a, sizeof b);
	CHECK(!mcheck_changed(a, 16, b, 16, 16, 16));
	b[0] = 100;
	CHECK(mcheck_changed(a, 16, b, 16, 16, 16));
	b[0] = 230; /* within the noise allowance */
	CHECK(!mcheck_changed(a, 16, b, 16, 16, 16));
	CHECK(strcmp(mcheck_state_name(MCHECK_FROZEN), "frozen") == 0);
}

int main(void)
{
	test_pure();
	test_audio();
	test_video();
	test_batches();
	return check_done("mcheck");
}
