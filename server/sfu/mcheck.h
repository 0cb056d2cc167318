/* Media health analysis for the kiosk self-test (PROTOCOL.md, "Kiosk health"): what a
 * receiver would see of one kiosk's microphone (Opus) and camera (VP8), reduced to a few
 * figures. Pure: the caller feeds RTP payloads (no I/O, no clock, no sockets), then asks for
 * the analysis, which decodes with libopus and libvpx. Encoded payloads are held only between
 * push and analyze, in bounded buffers that are wiped when freed; decoded samples and
 * pictures never leave the analysis call. Nothing here is thread-safe by itself: one thread
 * at a time per object (probe.c pushes on the loop thread, then analyzes in the pool).
 *
 * Thresholds (docs/operations.md, "Kiosk self-test"):
 *  - audio `silent`: no 20 ms window of decoded audio has an RMS above -60 dBFS;
 *  - video `black`: mean luma below 16 on a 0..255 full-range scale (VP8's studio-range Y,
 *    16..235, is rescaled sample by sample, so black reads 0, not 16) in every picture of
 *    the test: `luma` is the mean luma of the brightest picture, so a dark room with some
 *    movement or a picture that flickers is not black;
 *  - video `frozen`: pictures decoded, but none differs visibly from the one before (at least
 *    MCHECK_CHANGE_SHARE of the luma samples moved by more than MCHECK_CHANGE_DELTA);
 *  - `missing`: no packets, or (video) none that decode into a picture. */
#ifndef MDG_SFU_MCHECK_H
#define MDG_SFU_MCHECK_H

#include <stddef.h>
#include <stdint.h>

#define MCHECK_SILENT_DBFS  (-60.0)
#define MCHECK_BLACK_LUMA   16.0
#define MCHECK_CHANGE_DELTA 12       /* luma steps a sample must move to count as changed */
#define MCHECK_CHANGE_SHARE 0.001    /* share of samples that must change (0.1 %) */
#define MCHECK_FLOOR_DBFS   (-120.0) /* the level reported for digital silence */
/* Bounds on what one check holds (3 s of a kiosk's media fit with a wide margin). */
#define MCHECK_AUDIO_MAX_PACKETS 1000
#define MCHECK_AUDIO_MAX_BYTES   (256 * 1024)
#define MCHECK_VIDEO_MAX_FRAME   (1024 * 1024)
#define MCHECK_VIDEO_MAX_BYTES   (8 * 1024 * 1024)
#define MCHECK_VIDEO_MAX_FRAMES  400

enum mcheck_state { MCHECK_OK, MCHECK_SILENT, MCHECK_BLACK, MCHECK_FROZEN, MCHECK_MISSING };
const char *mcheck_state_name(enum mcheck_state st);

typedef struct mcheck_audio_result {
	enum mcheck_state state; /* ok, silent or missing */
	int packets;             /* pushed */
	int decoded;             /* packets that decoded */
	double level_dbfs;       /* RMS of all decoded audio; MCHECK_FLOOR_DBFS at the lowest */
	double peak_dbfs;        /* the loudest 20 ms window */
} mcheck_audio_result;

typedef struct mcheck_video_result {
	enum mcheck_state state; /* ok, black, frozen or missing */
	int packets;             /* pushed */
	int frames;              /* complete frames reassembled */
	int decoded;             /* pictures decoded */
	int changed;             /* pictures that differed from the one before */
	int width, height;       /* of the last picture */
	double luma;             /* mean luma of the brightest picture, 0..255 full range */
} mcheck_video_result;

typedef struct mcheck_audio mcheck_audio;
typedef struct mcheck_video mcheck_video;

mcheck_audio *mcheck_audio_new(void);
void mcheck_audio_free(mcheck_audio *a); /* NULL allowed */
/* One Opus RTP payload. Returns 0, or -1 when it did not fit the bounds (counted, dropped). */
int mcheck_audio_push(mcheck_audio *a, const uint8_t *payload, size_t len);
/* Decodes what was pushed and fills out. Returns 0, or -1 when libopus cannot start. */
int mcheck_audio_analyze(mcheck_audio *a, mcheck_audio_result *out);

mcheck_video *mcheck_video_new(void);
void mcheck_video_free(mcheck_video *v); /* NULL allowed */
/* One VP8 RTP payload (RFC 7741) with its packet's sequence number, timestamp and marker.
 * Frames are reassembled from the descriptor's start bit, the timestamp and the marker; a
 * frame with a gap in its sequence numbers, or past the bounds, is dropped. Returns 0, or -1
 * when the packet was dropped. */
int mcheck_video_push(mcheck_video *v, const uint8_t *payload, size_t len, uint16_t seq,
                      uint32_t ts, int marker);
/* Decodes the complete frames (from the first key frame on) and fills out. Returns 0, or -1
 * when libvpx cannot start. */
int mcheck_video_analyze(mcheck_video *v, mcheck_video_result *out);

/* Decoding in steps, so that most of it is done while the test still receives: take the
 * complete frames pushed so far (mcheck_video_take: a new object holding them, NULL when
 * memory is short; v keeps the frame in progress and its counts) and feed them to a decoder
 * in order, on any one thread at a time; then read the result with the counts of v.
 * mcheck_video_analyze is new, feed everything, result. */
typedef struct mcheck_video_dec mcheck_video_dec;
mcheck_video *mcheck_video_take(mcheck_video *v);
mcheck_video_dec *mcheck_video_dec_new(void);    /* NULL when libvpx cannot start */
void mcheck_video_dec_free(mcheck_video_dec *d); /* NULL allowed */
void mcheck_video_dec_feed(mcheck_video_dec *d, const mcheck_video *batch);
/* d NULL: nothing was decoded. */
void mcheck_video_dec_result(const mcheck_video_dec *d, const mcheck_video *v,
                             mcheck_video_result *out);

/* The figures for one decoded picture, exposed for tests: mean luma on the full-range scale
 * of a w x h plane (stride bytes a row) in studio range (each sample mapped to 0..255). */
double mcheck_luma_mean(const uint8_t *y, int stride, int w, int h);
/* Whether picture b differs visibly from a (same size), by the rule above. */
int mcheck_changed(const uint8_t *a, int a_stride, const uint8_t *b, int b_stride, int w, int h);

#endif
