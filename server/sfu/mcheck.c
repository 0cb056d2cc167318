/* Media health analysis (see mcheck.h): Opus level and silence, VP8 size, luma and motion. */
#include "sfu/mcheck.h"

#include "rtp/rtp.h"

#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#define AUDIO_RATE   48000
#define AUDIO_WINDOW 960  /* 20 ms at 48 kHz */
#define OPUS_MAX_PCM 5760 /* 120 ms, the longest Opus packet */

const char *mcheck_state_name(enum mcheck_state st)
{
	static const char *const names[] = {"ok", "silent", "black", "frozen", "missing"};
	return st >= MCHECK_OK && st <= MCHECK_MISSING ? names[st] : "missing";
}

/* ---- a bounded byte store, wiped when freed ---- */

typedef struct bytes {
	uint8_t *data;
	size_t len, cap, max;
} bytes;

static int bytes_append(bytes *b, const uint8_t *p, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		uint8_t *d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static void bytes_wipe(bytes *b)
{
	if (b->data)
		memset(b->data, 0, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

typedef struct span {
	size_t off, len;
} span;

/* ---- audio ---- */

struct mcheck_audio {
	bytes buf;
	span pkts[MCHECK_AUDIO_MAX_PACKETS];
	int n, pushed;
};

mcheck_audio *mcheck_audio_new(void)
{
	mcheck_audio *a = calloc(1, sizeof *a);
	if (a)
		a->buf.max = MCHECK_AUDIO_MAX_BYTES;
	return a;
}

void mcheck_audio_free(mcheck_audio *a)
{
	if (!a)
		return;
	bytes_wipe(&a->buf);
	free(a);
}

int mcheck_audio_push(mcheck_audio *a, const uint8_t *payload, size_t len)
{
	a->pushed++;
	if (len == 0 || a->n >= MCHECK_AUDIO_MAX_PACKETS)
		return -1;
	size_t off = a->buf.len;
	if (bytes_append(&a->buf, payload, len) != 0)
		return -1;
	a->pkts[a->n++] = (span){off, len};
	return 0;
}

static double dbfs(double mean_square)
{
	if (mean_square <= 0)
		return MCHECK_FLOOR_DBFS;
	double d = 10.0 * log10(mean_square);
	return d < MCHECK_FLOOR_DBFS ? MCHECK_FLOOR_DBFS : d;
}

int mcheck_audio_analyze(mcheck_audio *a, mcheck_audio_result *out)
{
	memset(out, 0, sizeof *out);
	out->packets = a->pushed;
	out->level_dbfs = out->peak_dbfs = MCHECK_FLOOR_DBFS;
	out->state = MCHECK_MISSING;
	if (a->pushed == 0)
		return 0;
	int err;
	OpusDecoder *dec = opus_decoder_create(AUDIO_RATE, 1, &err);
	if (!dec)
		return -1;
	float *pcm = malloc(OPUS_MAX_PCM * sizeof *pcm);
	if (!pcm) {
		opus_decoder_destroy(dec);
		return -1;
	}
	double total = 0, window = 0, peak = 0;
	long n_total = 0;
	int in_window = 0;
	for (int i = 0; i < a->n; i++) {
		int n = opus_decode_float(dec, a->buf.data + a->pkts[i].off,
		                          (opus_int32)a->pkts[i].len, pcm, OPUS_MAX_PCM, 0);
		if (n <= 0)
			continue;
		out->decoded++;
		for (int k = 0; k < n; k++) {
			double s = pcm[k];
			total += s * s;
			window += s * s;
			n_total++;
			if (++in_window == AUDIO_WINDOW) {
				if (window / AUDIO_WINDOW > peak)
					peak = window / AUDIO_WINDOW;
				window = 0;
				in_window = 0;
			}
		}
	}
	if (in_window > 0 && window / in_window > peak)
		peak = window / in_window;
	memset(pcm, 0, OPUS_MAX_PCM * sizeof *pcm);
	free(pcm);
	opus_decoder_destroy(dec);
	if (out->decoded == 0)
		return 0; /* packets, but nothing a decoder could use: no sound reaches anyone */
	out->level_dbfs = dbfs(total / (double)n_total);
	out->peak_dbfs = dbfs(peak);
	out->state = out->peak_dbfs > MCHECK_SILENT_DBFS ? MCHECK_OK : MCHECK_SILENT;
	return 0;
}

/* ---- video ---- */

struct mcheck_video {
	bytes buf;
	span frames[MCHECK_VIDEO_MAX_FRAMES];
	int n, pushed;
	int frames_total; /* complete frames, also those taken away in batches */
	/* The frame being reassembled: from buf.len - cur_len on. */
	int in_frame;
	uint32_t cur_ts;
	uint16_t next_seq;
	size_t cur_start;
};

mcheck_video *mcheck_video_new(void)
{
	mcheck_video *v = calloc(1, sizeof *v);
	if (v)
		v->buf.max = MCHECK_VIDEO_MAX_BYTES;
	return v;
}

void mcheck_video_free(mcheck_video *v)
{
	if (!v)
		return;
	bytes_wipe(&v->buf);
	free(v);
}

static void frame_abandon(mcheck_video *v)
{
	if (v->in_frame)
		v->buf.len = v->cur_start;
	v->in_frame = 0;
}

int mcheck_video_push(mcheck_video *v, const uint8_t *payload, size_t len, uint16_t seq,
                      uint32_t ts, int marker)
{
	v->pushed++;
	vp8_desc d;
	if (vp8_parse(payload, len, &d) != 0 || d.header_len >= len)
		return -1;
	if (d.start_of_partition && d.partition_id == 0) {
		frame_abandon(v); /* a frame that never saw its marker packet */
		v->in_frame = 1;
		v->cur_ts = ts;
		v->cur_start = v->buf.len;
	} else if (!v->in_frame || ts != v->cur_ts || seq != v->next_seq) {
		frame_abandon(v); /* a gap or a frame whose start we missed */
		return -1;
	}
	v->next_seq = (uint16_t)(seq + 1);
	if (v->buf.len - v->cur_start + (len - d.header_len) > MCHECK_VIDEO_MAX_FRAME ||
	    bytes_append(&v->buf, payload + d.header_len, len - d.header_len) != 0) {
		frame_abandon(v);
		return -1;
	}
	if (marker) {
		if (v->n < MCHECK_VIDEO_MAX_FRAMES) {
			v->frames[v->n++] = (span){v->cur_start, v->buf.len - v->cur_start};
			v->frames_total++;
		} else
			v->buf.len = v->cur_start;
		v->in_frame = 0;
	}
	return 0;
}

double mcheck_luma_mean(const uint8_t *y, int stride, int w, int h)
{
	if (w <= 0 || h <= 0)
		return 0;
	/* Studio range to full range per sample, so that the dark parts below studio black (16)
	 * count as 0 and do not pull a partly bright picture under the threshold. */
	static const uint16_t lut[256] = {
#define F(v)  ((v) <= 16 ? 0 : (v) >= 235 ? 255 * 16 : (((v)-16) * 255 * 16 + 109) / 219)
#define R8(b) F(b), F(b + 1), F(b + 2), F(b + 3), F(b + 4), F(b + 5), F(b + 6), F(b + 7)
#define R64(b)                                                                                     \
	R8(b), R8(b + 8), R8(b + 16), R8(b + 24), R8(b + 32), R8(b + 40), R8(b + 48), R8(b + 56)
	    R64(0), R64(64), R64(128), R64(192)
#undef R64
#undef R8
#undef F
	};
	/* Every other sample of every other row: a quarter of the work, the same mean to well
	 * within a luma step for any picture a camera makes. */
	uint64_t sum = 0, n = 0;
	for (int r = 0; r < h; r += 2) {
		const uint8_t *row = y + (size_t)r * (size_t)stride;
		uint32_t rs = 0;
		for (int c = 0; c < w; c += 2)
			rs += lut[row[c]];
		sum += rs;
		n += (uint64_t)(w + 1) / 2;
	}
	return (double)sum / 16.0 / (double)n;
}

int mcheck_changed(const uint8_t *a, int a_stride, const uint8_t *b, int b_stride, int w, int h)
{
	long samples = 0, moved = 0;
	for (int r = 0; r < h; r += 2) {
		const uint8_t *ra = a + (size_t)r * (size_t)a_stride;
		const uint8_t *rb = b + (size_t)r * (size_t)b_stride;
		for (int c = 0; c < w; c += 2) {
			int d = (int)ra[c] - (int)rb[c];
			moved += d > MCHECK_CHANGE_DELTA || d < -MCHECK_CHANGE_DELTA;
		}
		samples += (w + 1) / 2;
	}
	return moved > 0 && (double)moved >= MCHECK_CHANGE_SHARE * (double)samples;
}

static int is_keyframe(const uint8_t *frame, size_t len)
{
	return len >= 3 && (frame[0] & 0x01) == 0;
}

/* ---- incremental decoding ---- */

struct mcheck_video_dec {
	vpx_codec_ctx_t dec;
	uint8_t *prev; /* the previous picture's luma (the rows mcheck_changed samples) */
	int pw, ph;
	int synced; /* decoding from a key frame on, without an error since */
	mcheck_video_result r;
};

mcheck_video_dec *mcheck_video_dec_new(void)
{
	mcheck_video_dec *d = calloc(1, sizeof *d);
	vpx_codec_dec_cfg_t cfg = {.threads = 1};
	if (d && vpx_codec_dec_init(&d->dec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
		free(d);
		return NULL;
	}
	return d;
}

void mcheck_video_dec_free(mcheck_video_dec *d)
{
	if (!d)
		return;
	if (d->prev)
		memset(d->prev, 0, (size_t)d->pw * (size_t)d->ph);
	free(d->prev);
	vpx_codec_destroy(&d->dec);
	free(d);
}

static void on_picture(mcheck_video_dec *d, const vpx_image_t *img)
{
	int w = (int)img->d_w, h = (int)img->d_h;
	mcheck_video_result *out = &d->r;
	out->decoded++;
	out->width = w;
	out->height = h;
	double luma = mcheck_luma_mean(img->planes[0], img->stride[0], w, h);
	if (out->decoded == 1 || luma > out->luma)
		out->luma = luma;
	if (d->prev && (w != d->pw || h != d->ph ||
	                mcheck_changed(d->prev, d->pw, img->planes[0], img->stride[0], w, h)))
		out->changed++;
	if (!d->prev || w != d->pw || h != d->ph) {
		if (d->prev)
			memset(d->prev, 0, (size_t)d->pw * (size_t)d->ph);
		free(d->prev);
		d->prev = malloc((size_t)w * (size_t)h);
		d->pw = w;
		d->ph = h;
	}
	if (d->prev) /* only the rows mcheck_changed samples */
		for (int r = 0; r < h; r += 2)
			memcpy(d->prev + (size_t)r * (size_t)w,
			       img->planes[0] + (size_t)r * (size_t)img->stride[0], (size_t)w);
}

void mcheck_video_dec_feed(mcheck_video_dec *d, const mcheck_video *batch)
{
	for (int i = 0; i < batch->n; i++) {
		const uint8_t *f = batch->buf.data + batch->frames[i].off;
		size_t flen = batch->frames[i].len;
		if (!d->synced && !is_keyframe(f, flen))
			continue; /* nothing to predict from until the first key frame */
		if (vpx_codec_decode(&d->dec, f, (unsigned int)flen, NULL, 0) != VPX_CODEC_OK) {
			d->synced = 0;
			continue;
		}
		d->synced = 1;
		vpx_codec_iter_t it = NULL;
		vpx_image_t *img;
		while ((img = vpx_codec_get_frame(&d->dec, &it)))
			on_picture(d, img);
	}
}

void mcheck_video_dec_result(const mcheck_video_dec *d, const mcheck_video *v,
                             mcheck_video_result *out)
{
	if (d)
		*out = d->r;
	else
		memset(out, 0, sizeof *out);
	out->packets = v ? v->pushed : 0;
	out->frames = v ? v->frames_total : 0;
	if (out->decoded == 0)
		out->state = MCHECK_MISSING;
	else if (out->luma < MCHECK_BLACK_LUMA)
		out->state = MCHECK_BLACK;
	else if (out->changed == 0)
		out->state = MCHECK_FROZEN;
	else
		out->state = MCHECK_OK;
}

mcheck_video *mcheck_video_take(mcheck_video *v)
{
	mcheck_video *batch = mcheck_video_new();
	if (!batch)
		return NULL;
	/* The batch takes the buffer and its complete frames; v keeps the frame in progress. */
	size_t partial = v->in_frame ? v->buf.len - v->cur_start : 0;
	bytes fresh = {.max = v->buf.max};
	if (partial && bytes_append(&fresh, v->buf.data + v->cur_start, partial) != 0) {
		mcheck_video_free(batch);
		return NULL;
	}
	batch->buf = v->buf;
	batch->buf.len -= partial;
	memcpy(batch->frames, v->frames, (size_t)v->n * sizeof v->frames[0]);
	batch->n = v->n;
	v->buf = fresh;
	v->n = 0;
	v->cur_start = 0;
	return batch;
}

int mcheck_video_analyze(mcheck_video *v, mcheck_video_result *out)
{
	mcheck_video_dec *d = NULL;
	if (v->n > 0 && !(d = mcheck_video_dec_new())) {
		mcheck_video_dec_result(NULL, v, out);
		return -1;
	}
	if (d)
		mcheck_video_dec_feed(d, v);
	mcheck_video_dec_result(d, v, out);
	mcheck_video_dec_free(d);
	return 0;
}
