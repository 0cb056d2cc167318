/* The synthetic peer's real media: VP8 pictures encoded with libvpx and Opus encoded with
 * libopus, either encoded live frame by frame or encoded once into a loop that every peer
 * replays (real, decodable VP8 and Opus at no per-packet encoding cost), and the receiving
 * side's proofs: VP8 depacketizing and decoding with libvpx, Opus decoding with libopus.
 *
 * Every picture carries a barcode in its top band (16 blocks: frame number, layer, the
 * sender's tag), so a receiver can tell from the decoded picture which source and layer it
 * shows and whether a delta frame really continued the picture before it: a delta frame
 * decoded on the wrong reference shows the old barcode. */
#include "rtp/rtp.h"
#include "synth_internal.h"

#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#define FPS       30
#define TONE_AMP  0.25
#define MAX_FRAME (512 * 1024)
#define BAR_ROWS  2
#define BAR_COLS  8
#define INDEX_MOD 1024

/* ---- pictures ----------------------------------------------------------------------- */

static int bar_height(int h)
{
	int bh = h / 10;
	return bh < 8 ? 8 : bh;
}

/* Frame i of a moving picture (a gradient drifting sideways and a bright square travelling
 * over it) with the barcode above it: bits 0..9 frame number, 10..11 layer, 12..15 tag. */
static void draw(vpx_image_t *img, int i, int layer, int tag)
{
	int w = (int)img->d_w, h = (int)img->d_h;
	int bh = bar_height(h), bw = w / BAR_COLS;
	unsigned code =
	    (unsigned)(i % INDEX_MOD) | (unsigned)(layer & 3) << 10 | (unsigned)(tag & 15) << 12;
	int sq = w / 8, bx = (i * w / 80) % (w - sq),
	    by = bh * BAR_ROWS + (h - bh * BAR_ROWS - sq) / 2 + (int)((h / 8) * sin(i / 5.0));
	uint32_t rnd = 2463534242u + (uint32_t)i * 2654435761u;
	for (int y = 0; y < h; y++) {
		uint8_t *row = img->planes[0] + y * img->stride[0];
		if (y < bh * BAR_ROWS) {
			for (int x = 0; x < w; x++) {
				int bit = (y / bh) * BAR_COLS +
				          (x / bw < BAR_COLS ? x / bw : BAR_COLS - 1);
				row[x] = (code >> bit) & 1 ? 235 : 16;
			}
			continue;
		}
		for (int x = 0; x < w; x++) {
			int v = 40 + (((x + i * 2) % w + y) * 120) / (w + h);
			if (x >= bx && x < bx + sq && y >= by && y < by + sq)
				v = 220;
			/* Sensor-like noise, so that the encoder spends a camera's bitrate. */
			rnd ^= rnd << 13;
			rnd ^= rnd >> 17;
			rnd ^= rnd << 5;
			v += (int)(rnd % 17) - 8;
			row[x] = (uint8_t)v;
		}
	}
	for (int p = 1; p < 3; p++)
		for (int y = 0; y < (h + 1) / 2; y++)
			memset(img->planes[p] + y * img->stride[p], p == 1 ? 128 + tag * 6 : 128,
			       (size_t)(w + 1) / 2);
}

/* Reads the barcode back from a decoded picture; -1 when a block is neither dark nor
 * bright. */
static int read_code(const vpx_image_t *img)
{
	int w = (int)img->d_w, h = (int)img->d_h;
	int bh = bar_height(h), bw = w / BAR_COLS;
	unsigned code = 0;
	for (int bit = 0; bit < BAR_ROWS * BAR_COLS; bit++) {
		int x0 = (bit % BAR_COLS) * bw + bw / 4, y0 = (bit / BAR_COLS) * bh + bh / 4;
		long sum = 0, n = 0;
		for (int y = y0; y < y0 + bh / 2; y++)
			for (int x = x0; x < x0 + bw / 2; x++, n++)
				sum += img->planes[0][y * img->stride[0] + x];
		long mean = n ? sum / n : 0;
		if (mean > 90 && mean < 160)
			return -1;
		if (mean >= 160)
			code |= 1u << bit;
	}
	return (int)code;
}

/* ---- encoding ----------------------------------------------------------------------- */

struct synth_venc {
	vpx_codec_ctx_t enc;
	vpx_image_t *img;
	int w, h, layer, tag;
	int index; /* next frame number */
	int pts;
};

synth_venc *synth_venc_new(int w, int h, int kbps, int layer, int tag)
{
	synth_venc *e = calloc(1, sizeof *e);
	vpx_codec_enc_cfg_t cfg;
	if (!e || vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
		free(e);
		return NULL;
	}
	cfg.g_w = (unsigned)w;
	cfg.g_h = (unsigned)h;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = FPS;
	cfg.rc_target_bitrate = (unsigned)kbps;
	cfg.g_lag_in_frames = 0;
	cfg.g_error_resilient = 1;
	cfg.rc_end_usage = VPX_CBR;
	cfg.g_threads = 1;
	cfg.kf_mode = VPX_KF_DISABLED; /* keyframes when the peer asks for them */
	if (vpx_codec_enc_init(&e->enc, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
		free(e);
		return NULL;
	}
	/* Real-time speed, as a browser's encoder runs on a phone-class CPU. */
	vpx_codec_control(&e->enc, VP8E_SET_CPUUSED, -12);
	vpx_codec_control(&e->enc, VP8E_SET_STATIC_THRESHOLD, 1);
	e->img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)w, (unsigned)h, 16);
	if (!e->img) {
		synth_venc_free(e);
		return NULL;
	}
	e->w = w;
	e->h = h;
	e->layer = layer;
	e->tag = tag;
	return e;
}

void synth_venc_free(synth_venc *e)
{
	if (!e)
		return;
	vpx_img_free(e->img);
	vpx_codec_destroy(&e->enc);
	free(e);
}

int synth_venc_frame(synth_venc *e, int key, uint8_t *out, size_t cap, int *is_key)
{
	draw(e->img, e->index, e->layer, e->tag);
	e->index = (e->index + 1) % INDEX_MOD;
	if (vpx_codec_encode(&e->enc, e->img, e->pts++, 1, key ? VPX_EFLAG_FORCE_KF : 0,
	                     VPX_DL_REALTIME) != VPX_CODEC_OK)
		return -1;
	vpx_codec_iter_t it = NULL;
	const vpx_codec_cx_pkt_t *cx;
	int len = 0;
	while ((cx = vpx_codec_get_cx_data(&e->enc, &it)))
		if (cx->kind == VPX_CODEC_CX_FRAME_PKT && len == 0 && cx->data.frame.sz <= cap) {
			memcpy(out, cx->data.frame.buf, cx->data.frame.sz);
			len = (int)cx->data.frame.sz;
			*is_key = (cx->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
		}
	return len;
}

/* Clips: a loop of frames encoded once (the first a keyframe), shared by every peer of the
 * process that asks for the same size, bitrate, layer, tag and length. */
struct synth_clip {
	synth_clip *next;
	int refs;
	int w, h, kbps, layer, tag, n;
	uint8_t **frame;
	uint32_t *len;
};

static synth_clip *clips;

const synth_clip *synth_clip_get(int w, int h, int kbps, int layer, int tag, int n)
{
	for (synth_clip *c = clips; c; c = c->next)
		if (c->w == w && c->h == h && c->kbps == kbps && c->layer == layer &&
		    c->tag == tag && c->n == n) {
			c->refs++;
			return c;
		}
	synth_clip *c = calloc(1, sizeof *c);
	synth_venc *e = synth_venc_new(w, h, kbps, layer, tag);
	uint8_t *buf = malloc(MAX_FRAME);
	if (!c || !e || !buf || !(c->frame = calloc((size_t)n, sizeof *c->frame)) ||
	    !(c->len = calloc((size_t)n, sizeof *c->len)))
		goto fail;
	for (int i = 0; i < n; i++) {
		int key = 0;
		int len = synth_venc_frame(e, i == 0, buf, MAX_FRAME, &key);
		if (len <= 0 || (i == 0) != key || !(c->frame[i] = malloc((size_t)len)))
			goto fail;
		memcpy(c->frame[i], buf, (size_t)len);
		c->len[i] = (uint32_t)len;
	}
	free(buf);
	synth_venc_free(e);
	c->w = w;
	c->h = h;
	c->kbps = kbps;
	c->layer = layer;
	c->tag = tag;
	c->n = n;
	c->refs = 1;
	c->next = clips;
	clips = c;
	return c;
fail:
	free(buf);
	synth_venc_free(e);
	if (c) {
		c->n = n;
		c->refs = 1;
		synth_clip_put(c);
	}
	return NULL;
}

void synth_clip_put(const synth_clip *cc)
{
	synth_clip *c = (synth_clip *)cc;
	if (!c || --c->refs > 0)
		return;
	for (synth_clip **pp = &clips; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	for (int i = 0; c->frame && i < c->n; i++)
		free(c->frame[i]);
	free(c->frame);
	free(c->len);
	free(c);
}

int synth_clip_frames(const synth_clip *c)
{
	return c->n;
}

const uint8_t *synth_clip_frame(const synth_clip *c, int i, size_t *len)
{
	*len = c->len[i];
	return c->frame[i];
}

/* Opus: 20 ms frames of a 440 Hz tone (a whole number of cycles per second, so a loop of 50
 * frames repeats without a click), encoded live or once into a shared loop. */
struct synth_aenc {
	OpusEncoder *enc;
	int frame;
};

#define AUDIO_LOOP 50
static uint8_t audio_loop[AUDIO_LOOP][400];
static int audio_loop_len[AUDIO_LOOP];
static int audio_loop_refs;

synth_aenc *synth_aenc_new(void)
{
	synth_aenc *a = calloc(1, sizeof *a);
	int err;
	if (!a || !(a->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err))) {
		free(a);
		return NULL;
	}
	opus_encoder_ctl(a->enc, OPUS_SET_BITRATE(32000));
	opus_encoder_ctl(a->enc, OPUS_SET_COMPLEXITY(2));
	return a;
}

void synth_aenc_free(synth_aenc *a)
{
	if (!a)
		return;
	opus_encoder_destroy(a->enc);
	free(a);
}

int synth_aenc_frame(synth_aenc *a, uint8_t *out, size_t cap)
{
	float pcm[960];
	for (int k = 0; k < 960; k++)
		pcm[k] = (float)(TONE_AMP * sin(2 * M_PI * 440 * (a->frame * 960 + k) / 48000.0));
	a->frame = (a->frame + 1) % AUDIO_LOOP;
	return opus_encode_float(a->enc, pcm, 960, out, (opus_int32)cap);
}

int synth_audio_loop_ref(void)
{
	if (audio_loop_refs++ > 0)
		return 0;
	synth_aenc *a = synth_aenc_new();
	if (!a)
		return -1;
	/* Two passes: the second starts with the encoder's state of a running tone. */
	for (int pass = 0; pass < 2; pass++)
		for (int f = 0; f < AUDIO_LOOP; f++)
			audio_loop_len[f] =
			    synth_aenc_frame(a, audio_loop[f], sizeof audio_loop[f]);
	synth_aenc_free(a);
	return 0;
}

void synth_audio_loop_unref(void)
{
	if (audio_loop_refs > 0)
		audio_loop_refs--;
}

const uint8_t *synth_audio_loop_frame(int i, size_t *len)
{
	int n = audio_loop_len[i % AUDIO_LOOP];
	*len = n > 0 ? (size_t)n : 0;
	return audio_loop[i % AUDIO_LOOP];
}

double synth_tone_dbfs(void)
{
	return 20 * log10(TONE_AMP / sqrt(2.0));
}

/* ---- receiving: VP8 ------------------------------------------------------------------ */

/* Packets wait in a ring by sequence number until their picture is complete, so that a
 * retransmission arriving late still completes its picture, as in a browser's packet
 * buffer. */
#define RING      512
#define RING_DATA 1400
#define GIVE_UP   96 /* packets past a hole before its picture is given up */

typedef struct ring_pkt {
	int valid;
	uint16_t seq;
	uint32_t ts;
	int start, marker;
	uint16_t pid;
	uint8_t tl0;
	uint16_t len;
	uint8_t data[RING_DATA];
} ring_pkt;

struct synth_vdec {
	vpx_codec_ctx_t dec;
	int ok;
	uint8_t *frame;
	size_t len;
	ring_pkt *ring;
	int have_cursor;
	uint16_t cursor; /* the first packet not yet taken into a picture */
	uint16_t newest;
	int broken;    /* packets were lost since the last complete picture */
	int have_last; /* the last complete picture's descriptor values */
	uint16_t last_pid;
	uint8_t last_tl0;
	uint32_t last_ts;
	int wait_key;
	int last_code; /* barcode of the last decoded picture; -1 none */
	synth_video_check c;
};

synth_vdec *synth_vdec_new(void)
{
	synth_vdec *d = calloc(1, sizeof *d);
	if (!d || !(d->frame = malloc(MAX_FRAME)) || !(d->ring = calloc(RING, sizeof *d->ring))) {
		if (d)
			free(d->frame);
		free(d);
		return NULL;
	}
	vpx_codec_dec_cfg_t cfg = {.threads = 1};
	d->ok = vpx_codec_dec_init(&d->dec, vpx_codec_vp8_dx(), &cfg, 0) == VPX_CODEC_OK;
	d->wait_key = 1;
	d->last_code = -1;
	return d;
}

void synth_vdec_free(synth_vdec *d)
{
	if (!d)
		return;
	if (d->ok)
		vpx_codec_destroy(&d->dec);
	free(d->ring);
	free(d->frame);
	free(d);
}

int synth_vdec_waiting(const synth_vdec *d)
{
	return d->wait_key && d->c.packets > 0;
}

const synth_video_check *synth_vdec_check(const synth_vdec *d)
{
	return &d->c;
}

static void decode_frame(synth_vdec *d)
{
	synth_video_check *c = &d->c;
	c->frames++;
	int key = d->len >= 3 && !(d->frame[0] & 1);
	if (key)
		c->keyframes++;
	if (d->wait_key && !key) {
		c->skipped++;
		return;
	}
	if (!d->ok ||
	    vpx_codec_decode(&d->dec, d->frame, (unsigned)d->len, NULL, 0) != VPX_CODEC_OK) {
		c->undecodable++;
		d->wait_key = 1;
		return;
	}
	int corrupt = 0;
	if (vpx_codec_control(&d->dec, VP8D_GET_FRAME_CORRUPTED, &corrupt) == VPX_CODEC_OK &&
	    corrupt) {
		c->corrupt++;
		d->wait_key = 1;
	}
	vpx_codec_iter_t it = NULL;
	vpx_image_t *img = vpx_codec_get_frame(&d->dec, &it);
	if (!img) {
		c->no_picture++;
		return;
	}
	d->wait_key = 0;
	c->decoded++;
	c->width = (int)img->d_w;
	c->height = (int)img->d_h;
	int code = read_code(img);
	if (code < 0) {
		c->unreadable++;
		d->last_code = -1;
		return;
	}
	int layer = code >> 10 & 3, tag = code >> 12 & 15, index = code & (INDEX_MOD - 1);
	c->by_layer[layer]++;
	if (d->last_code >= 0) {
		int ltag = d->last_code >> 12 & 15, llayer = d->last_code >> 10 & 3;
		int lindex = d->last_code & (INDEX_MOD - 1);
		if (tag != ltag)
			c->source_changes++;
		if (layer != llayer)
			c->layer_changes++;
		/* A delta frame continues the picture before it: same source and layer, the
		 * next frame number. Anything else was decoded on a wrong reference. */
		if (!key && (tag != ltag || layer != llayer || index != (lindex + 1) % INDEX_MOD))
			c->wrong_reference++;
	}
	c->tag = tag;
	c->layer = layer;
	d->last_code = code;
}

/* One complete picture from the cursor to `end`: descriptor checks against the picture
 * before it (when nothing was lost in between), then decoding. */
static void take_picture(synth_vdec *d, uint16_t end)
{
	synth_video_check *c = &d->c;
	ring_pkt *first = &d->ring[d->cursor % RING];
	if (d->have_last && !d->broken) {
		uint16_t dp = (uint16_t)((first->pid - d->last_pid) & 0x7fff);
		if (dp != 1)
			c->pid_gaps++;
		else if ((uint8_t)(first->tl0 - d->last_tl0) != 1)
			c->tl0_gaps++;
		/* RTP time runs forward by less than 1 s from picture to picture (30 fps). */
		int32_t dt = (int32_t)(first->ts - d->last_ts);
		if (dt <= 0 || dt > 90000)
			c->ts_jumps++;
	}
	if (d->broken)
		d->wait_key = 1; /* a whole picture may be missing: no delta frame is safe */
	d->have_last = 1;
	d->broken = 0;
	d->last_pid = first->pid;
	d->last_tl0 = first->tl0;
	d->last_ts = first->ts;
	d->len = 0;
	for (uint16_t q = d->cursor;; q++) {
		ring_pkt *r = &d->ring[q % RING];
		if (d->len + r->len <= MAX_FRAME) {
			memcpy(d->frame + d->len, r->data, r->len);
			d->len += r->len;
		}
		r->valid = 0;
		if (q == end)
			break;
	}
	d->cursor = (uint16_t)(end + 1);
	decode_frame(d);
}

/* Takes every picture that is complete at the cursor; skips what can no longer be
 * completed (a hole too old to be repaired, a picture a switch cut short). */
static void drain(synth_vdec *d)
{
	synth_video_check *c = &d->c;
	for (;;) {
		int16_t ahead = (int16_t)(d->newest - d->cursor);
		if (ahead < 0)
			return;
		ring_pkt *r = &d->ring[d->cursor % RING];
		if (!r->valid || r->seq != d->cursor) {
			if (ahead < GIVE_UP)
				return; /* a retransmission may still come */
			d->cursor++;
			d->broken = 1;
			c->lost_packets++;
			continue;
		}
		if (!r->start) {
			/* The middle of a picture whose start never came. */
			r->valid = 0;
			d->cursor++;
			d->broken = 1;
			c->orphans++;
			continue;
		}
		int complete = 0, cut = 0;
		uint16_t q = d->cursor;
		for (;; q++) {
			ring_pkt *k = &d->ring[q % RING];
			if (!k->valid || k->seq != q)
				break;
			if (q != d->cursor && (k->start || k->ts != r->ts)) {
				cut = 1; /* a new picture began before this one ended */
				break;
			}
			if (k->marker) {
				complete = 1;
				break;
			}
		}
		if (complete) {
			take_picture(d, q);
			continue;
		}
		if (cut) {
			for (uint16_t x = d->cursor; x != q; x++)
				d->ring[x % RING].valid = 0;
			d->cursor = q;
			c->cut++;
			d->broken = 1;
			continue;
		}
		/* A hole inside the picture: wait for its repair, up to a point. */
		if ((int16_t)(d->newest - q) < GIVE_UP)
			return;
		for (uint16_t x = d->cursor; x != q; x++)
			d->ring[x % RING].valid = 0;
		d->cursor = q;
		d->broken = 1;
	}
}

void synth_vdec_packet(synth_vdec *d, const uint8_t *payload, size_t len, uint16_t seq, uint32_t ts,
                       int marker)
{
	synth_video_check *c = &d->c;
	vp8_desc vd;
	c->packets++;
	if (vp8_parse(payload, len, &vd) != 0 || vd.header_len > len ||
	    len - vd.header_len > RING_DATA) {
		c->bad_descriptor++;
		return;
	}
	if (!vd.has_picture_id || !vd.picture_id_15bit || !vd.has_tl0picidx)
		c->bad_descriptor++;
	int start = vd.start_of_partition && vd.partition_id == 0;
	if (!d->have_cursor) {
		if (!start)
			return; /* the stream is joined at a picture's start */
		d->have_cursor = 1;
		d->cursor = d->newest = seq;
	}
	int16_t rel = (int16_t)(seq - d->cursor);
	if (rel < 0) {
		c->late++; /* its picture was given up already */
		return;
	}
	if (rel >= RING - 1) {
		/* Far ahead of the cursor: what is in between is lost. */
		for (int i = 0; i < RING; i++)
			d->ring[i].valid = 0;
		c->lost_packets += (uint64_t)rel;
		d->cursor = seq;
		d->broken = 1;
	}
	if ((int16_t)(seq - d->newest) > 0)
		d->newest = seq;
	ring_pkt *r = &d->ring[seq % RING];
	r->valid = 1;
	r->seq = seq;
	r->ts = ts;
	r->start = start;
	r->marker = marker;
	r->pid = vd.picture_id;
	r->tl0 = vd.tl0picidx;
	r->len = (uint16_t)(len - vd.header_len);
	memcpy(r->data, payload + vd.header_len, r->len);
	drain(d);
}

/* ---- receiving: Opus ---------------------------------------------------------------- */

struct synth_adec {
	OpusDecoder *dec;
	double sum;
	uint64_t samples;
	synth_audio_check c;
};

synth_adec *synth_adec_new(void)
{
	synth_adec *a = calloc(1, sizeof *a);
	int err;
	if (a)
		a->dec = opus_decoder_create(48000, 1, &err);
	return a;
}

void synth_adec_free(synth_adec *a)
{
	if (!a)
		return;
	if (a->dec)
		opus_decoder_destroy(a->dec);
	free(a);
}

void synth_adec_packet(synth_adec *a, const uint8_t *payload, size_t len)
{
	float pcm[5760];
	a->c.packets++;
	int n = a->dec ? opus_decode_float(a->dec, payload, (opus_int32)len, pcm, 5760, 0) : -1;
	if (n <= 0) {
		a->c.errors++;
		return;
	}
	a->c.decoded++;
	/* The first packets of a stream carry the decoder's start-up; measure after them. */
	if (a->c.decoded <= 5)
		return;
	for (int i = 0; i < n; i++)
		a->sum += (double)pcm[i] * pcm[i];
	a->samples += (uint64_t)n;
	double rms = sqrt(a->sum / (double)a->samples);
	a->c.level_dbfs = rms > 0 ? 20 * log10(rms) : -120;
}

const synth_audio_check *synth_adec_check(const synth_adec *a)
{
	return &a->c;
}
