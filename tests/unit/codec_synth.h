/* Synthetic kiosk media for the self-test's unit test and benchmark: pictures encoded with
 * libvpx and packetized as RTP VP8 payloads (RFC 7741, 15-bit picture ids, as Chromium
 * sends), and sound encoded with libopus, handed to a sink one packet at a time. */
#ifndef MDG_TEST_CODEC_SYNTH_H
#define MDG_TEST_CODEC_SYNTH_H

#include <math.h>
#include <opus/opus.h>
#include <stdint.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

/* MOVING: a bright square travelling over a gradient; NOISY: the same with sensor-like noise
 * on every sample (a camera's picture, which costs an encoder and decoder far more). */
enum synth_picture { SYNTH_MOVING, SYNTH_BLACK, SYNTH_FROZEN, SYNTH_NOISY };

/* The VP8 target bitrate (Chromium sends 640x480 at 30 fps at 1 to 2.5 Mbit/s). */
static unsigned synth_video_kbps = 1000;

typedef void (*synth_video_sink)(void *user, const uint8_t *payload, size_t len, uint16_t seq,
                                 uint32_t ts, int marker);
typedef void (*synth_audio_sink)(void *user, const uint8_t *payload, size_t len);

/* Draws frame i of the picture kind into img (I420, studio range). */
static void synth_draw(vpx_image_t *img, enum synth_picture kind, int i)
{
	int w = (int)img->d_w, h = (int)img->d_h;
	if (kind == SYNTH_FROZEN)
		i = 0;
	uint32_t rnd = 2463534242u + (uint32_t)i;
	for (int y = 0; y < h; y++) {
		uint8_t *row = img->planes[0] + y * img->stride[0];
		for (int x = 0; x < w; x++) {
			int v = kind == SYNTH_BLACK ? 16 : 60 + ((x + y) * 100) / (w + h);
			int bx = (i * 8) % (w - 80), by = h / 3 + (int)(40 * sin(i / 5.0));
			if (kind != SYNTH_BLACK && x >= bx && x < bx + 80 && y >= by && y < by + 80)
				v = 220;
			if (kind == SYNTH_NOISY) {
				rnd ^= rnd << 13;
				rnd ^= rnd >> 17;
				rnd ^= rnd << 5;
				v += (int)(rnd % 41) - 20;
			}
			row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
	for (int p = 1; p < 3; p++)
		for (int y = 0; y < (h + 1) / 2; y++)
			memset(img->planes[p] + y * img->stride[p], 128, (size_t)(w + 1) / 2);
}

/* Encodes n frames of w x h at fps and packetizes them (at most mtu bytes of payload).
 * Returns the number of RTP payloads, or -1. */
static int synth_video(enum synth_picture kind, int w, int h, int fps, int n, size_t mtu,
                       synth_video_sink sink, void *user)
{
	vpx_codec_enc_cfg_t cfg;
	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
		return -1;
	cfg.g_w = (unsigned)w;
	cfg.g_h = (unsigned)h;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = fps;
	cfg.rc_target_bitrate = synth_video_kbps;
	cfg.g_lag_in_frames = 0;
	cfg.g_error_resilient = 1;
	cfg.rc_end_usage = VPX_CBR;
	cfg.g_threads = 1;
	vpx_codec_ctx_t enc;
	if (vpx_codec_enc_init(&enc, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK)
		return -1;
	vpx_codec_control(&enc, VP8E_SET_CPUUSED, -6);
	vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)w, (unsigned)h, 16);
	uint16_t seq = 1000, pid = 300;
	uint32_t ts = 90000;
	int packets = 0;
	uint8_t pkt[1500];
	for (int i = 0; i < n && img; i++) {
		synth_draw(img, kind, i);
		if (vpx_codec_encode(&enc, img, i, 1, 0, VPX_DL_REALTIME) != VPX_CODEC_OK)
			break;
		vpx_codec_iter_t it = NULL;
		const vpx_codec_cx_pkt_t *cx;
		while ((cx = vpx_codec_get_cx_data(&enc, &it))) {
			if (cx->kind != VPX_CODEC_CX_FRAME_PKT)
				continue;
			const uint8_t *data = cx->data.frame.buf;
			size_t left = cx->data.frame.sz;
			int first = 1;
			while (left > 0) {
				size_t chunk = left < mtu ? left : mtu;
				pkt[0] = (uint8_t)(0x80 | (first ? 0x10 : 0)); /* X, S, PID 0 */
				pkt[1] = 0x80;                                 /* I */
				pkt[2] = (uint8_t)(0x80 | (pid >> 8));         /* M: 15 bits */
				pkt[3] = (uint8_t)pid;
				memcpy(pkt + 4, data, chunk);
				data += chunk;
				left -= chunk;
				sink(user, pkt, chunk + 4, seq++, ts, left == 0);
				packets++;
				first = 0;
			}
			pid = (uint16_t)((pid + 1) & 0x7fff);
		}
		ts += (uint32_t)(90000 / fps);
	}
	vpx_img_free(img);
	vpx_codec_destroy(&enc);
	return packets;
}

/* Encodes seconds of a tone (amplitude 0..1 of full scale; 0: digital silence) as 20 ms Opus
 * packets at 48 kHz. Returns the number of packets, or -1. */
static int synth_audio(double freq, double amplitude, double seconds, synth_audio_sink sink,
                       void *user)
{
	int err;
	OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	if (!enc)
		return -1;
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
	float pcm[960];
	uint8_t out[1500];
	int n = (int)(seconds * 50), packets = 0;
	for (int f = 0; f < n; f++) {
		for (int k = 0; k < 960; k++)
			pcm[k] =
			    (float)(amplitude * sin(2 * M_PI * freq * (f * 960 + k) / 48000.0));
		int len = opus_encode_float(enc, pcm, 960, out, sizeof out);
		if (len > 0) {
			sink(user, out, (size_t)len);
			packets++;
		}
	}
	opus_encoder_destroy(enc);
	return packets;
}

#endif
