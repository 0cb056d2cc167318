/* The kiosk self-test's cost (bench/README.md, "selftest/"): CPU seconds for the analysis of
 * one check, i.e. depacketizing and decoding 3 s of 640x480 VP8 at 30 fps and 3 s of Opus
 * (server/sfu/mcheck.c, what probe.c runs in the thread pool), and what 50 idle kiosks
 * checked every 10 minutes cost as a share of one core.
 *
 *   bench_selftest [RUNS] [KBPS] [KIOSKS] [INTERVAL_S]     (defaults 20 2000 50 600)
 *
 * The media is encoded once with libvpx and libopus before timing (a moving picture with
 * camera-like noise at KBPS, and a 440 Hz tone, made as the unit test makes them); each run then
 * pushes every RTP payload into a fresh analysis and decodes it, as a probe does. CPU time is the
 * process's (one thread). */
#include "codec_synth.h"
#include "sfu/mcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct vpkt {
	uint8_t data[1500];
	size_t len;
	uint16_t seq;
	uint32_t ts;
	int marker;
} vpkt;

typedef struct apkt {
	uint8_t data[1500];
	size_t len;
} apkt;

static vpkt *vpkts;
static int n_v, cap_v;
static apkt apkts[200];
static int n_a;

static void keep_video(void *user, const uint8_t *p, size_t len, uint16_t seq, uint32_t ts,
                       int marker)
{
	(void)user;
	if (n_v == cap_v) {
		cap_v = cap_v ? 2 * cap_v : 1024;
		vpkts = realloc(vpkts, (size_t)cap_v * sizeof *vpkts);
		if (!vpkts)
			exit(1);
	}
	vpkt *v = &vpkts[n_v++];
	memcpy(v->data, p, len);
	v->len = len;
	v->seq = seq;
	v->ts = ts;
	v->marker = marker;
}

static void keep_audio(void *user, const uint8_t *p, size_t len)
{
	(void)user;
	if (n_a < 200) {
		memcpy(apkts[n_a].data, p, len);
		apkts[n_a++].len = len;
	}
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 20;
	synth_video_kbps = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	int kiosks = argc > 3 ? atoi(argv[3]) : 50;
	double interval = argc > 4 ? atof(argv[4]) : 600;
	if (runs < 1 || kiosks < 1 || interval <= 0)
		return 2;
	if (synth_video(SYNTH_NOISY, 640, 480, 30, 90, 1100, keep_video, NULL) < 0 ||
	    synth_audio(440, 0.25, 3.0, keep_audio, NULL) != 150) {
		fprintf(stderr, "encoding failed\n");
		return 1;
	}
	size_t vbytes = 0;
	for (int i = 0; i < n_v; i++)
		vbytes += vpkts[i].len;
	printf("media: 3 s of 640x480 VP8 at 30 fps, %d packets, %.0f kbit/s; 3 s of Opus, %d "
	       "packets\n",
	       n_v, vbytes * 8 / 3.0 / 1000, n_a);
	double *per = calloc((size_t)runs, sizeof *per);
	for (int r = 0; r < runs; r++) {
		double t0 = cpu_s();
		mcheck_video *v = mcheck_video_new();
		mcheck_audio *a = mcheck_audio_new();
		for (int i = 0; i < n_v; i++)
			mcheck_video_push(v, vpkts[i].data, vpkts[i].len, vpkts[i].seq, vpkts[i].ts,
			                  vpkts[i].marker);
		for (int i = 0; i < n_a; i++)
			mcheck_audio_push(a, apkts[i].data, apkts[i].len);
		mcheck_video_result vr;
		mcheck_audio_result ar;
		mcheck_video_analyze(v, &vr);
		mcheck_audio_analyze(a, &ar);
		mcheck_video_free(v);
		mcheck_audio_free(a);
		per[r] = cpu_s() - t0;
		if (vr.state != MCHECK_OK || ar.state != MCHECK_OK || vr.decoded != 90) {
			fprintf(stderr, "unexpected result: video %s (%d decoded), audio %s\n",
			        mcheck_state_name(vr.state), vr.decoded,
			        mcheck_state_name(ar.state));
			return 1;
		}
	}
	qsort(per, (size_t)runs, sizeof *per, cmp_double);
	double median = per[runs / 2];
	double share = median * kiosks / interval;
	printf("cpu per kiosk-check: median %.4f s (min %.4f, max %.4f) over %d runs\n", median,
	       per[0], per[runs - 1], runs);
	printf("%d kiosks every %.0f s: %.4f %% of one core (target < 1 %%)\n", kiosks, interval,
	       100 * share);
	free(per);
	free(vpkts);
	return share < 0.01 ? 0 : 1;
}
