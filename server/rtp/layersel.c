/* Simulcast layer selection and stream joining (see layersel.h). */
#include "rtp/layersel.h"

#include "rtp/rtp.h"

#include <string.h>

#define METER_WINDOW_US 500000

void layer_meter_on_packet(layer_meter *m, size_t bytes, int64_t now_us)
{
	if (!m->window_start_us)
		m->window_start_us = now_us;
	int64_t span = now_us - m->window_start_us;
	if (span >= METER_WINDOW_US) {
		uint64_t rate = m->window_bytes * 8 * 1000000 / (uint64_t)span;
		if (rate > UINT32_MAX)
			rate = UINT32_MAX;
		/* Smoothed over a few windows: a keyframe's burst must not look like the rate. */
		m->bps = m->bps ? (uint32_t)((3 * (uint64_t)m->bps + rate) / 4) : (uint32_t)rate;
		m->window_bytes = 0;
		m->window_start_us = now_us;
	}
	m->window_bytes += bytes;
	m->last_us = now_us;
}

void layer_meter_on_keyframe(layer_meter *m, const uint8_t *payload, size_t len)
{
	vp8_desc d;
	if (vp8_parse(payload, len, &d) < 0 || len - d.header_len < 10)
		return;
	const uint8_t *f = payload + d.header_len;
	/* Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height, each with
	 * two bits of scaling above. */
	if ((f[0] & 1) || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a)
		return;
	uint16_t w = (uint16_t)((f[6] | f[7] << 8) & 0x3fff);
	uint16_t h = (uint16_t)((f[8] | f[9] << 8) & 0x3fff);
	if (w && h) {
		m->width = w;
		m->height = h;
	}
}

layer_view layer_meter_view(const layer_meter *m, int64_t now_us)
{
	layer_view v = {.width = m->width, .height = m->height};
	v.active = m->last_us && now_us - m->last_us < LAYERSEL_IDLE_US;
	v.bps = v.active ? m->bps : 0;
	return v;
}

int layersel_smaller(const layer_view *l, int a, int b)
{
	uint32_t sa = (uint32_t)l[a].width * l[a].height, sb = (uint32_t)l[b].width * l[b].height;
	if (sa && sb && sa != sb)
		return sa < sb;
	return a < b;
}

/* Active layers in increasing size; returns their count. */
static int order_active(const layer_view *l, int n, int ord[LAYERSEL_MAX])
{
	int k = 0;
	for (int i = 0; i < n && i < LAYERSEL_MAX; i++) {
		if (!l[i].active)
			continue;
		int j = k++;
		while (j > 0 && layersel_smaller(l, i, ord[j - 1])) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = i;
	}
	return k;
}

static int covers(const layer_view *v, int want_w, int want_h)
{
	if (!v->width || !v->height)
		return 0;
	return (int64_t)v->width * 10 >= (int64_t)want_w * 9 &&
	       (int64_t)v->height * 10 >= (int64_t)want_h * 9;
}

int layersel_pick(const layer_view *l, int n, int current, uint64_t share_bps, int want_w,
                  int want_h, int *display)
{
	int ord[LAYERSEL_MAX];
	int k = order_active(l, n, ord);
	if (display)
		*display = k ? ord[k - 1] : -1;
	if (!k)
		return -1;
	int top = k - 1;
	if (want_w > 0 || want_h > 0) {
		for (int i = 0; i < k; i++) {
			if (covers(&l[ord[i]], want_w, want_h)) {
				top = i;
				break;
			}
		}
	}
	if (display)
		*display = ord[top];
	/* Rank of the current layer among the active ones (-1: not active or none). */
	int cur_rank = -1;
	for (int i = 0; i < k; i++)
		if (ord[i] == current)
			cur_rank = i;
	for (int i = top; i >= 0; i--) {
		uint64_t need = l[ord[i]].bps;
		if (i > cur_rank)
			need += need / 4;
		if (need <= share_bps)
			return ord[i];
	}
	return ord[0];
}

void layersel_init(layersel *s)
{
	memset(s, 0, sizeof *s);
	s->current = s->target = s->candidate = -1;
}

int layersel_update(layersel *s, const layer_view *l, int n, int best, int64_t now_us)
{
	if (best < 0 || best >= n)
		return 0;
	if (s->target < 0 || s->target >= n) {
		s->target = best;
		s->candidate = -1;
		return 1;
	}
	if (best == s->target) {
		s->candidate = -1;
		return 0;
	}
	if (best != s->candidate) {
		s->candidate = best;
		s->candidate_since_us = now_us;
	}
	int down = layersel_smaller(l, best, s->target);
	int64_t hold;
	if (down)
		hold = l[s->target].active ? LAYERSEL_DOWN_HOLD_US : 0;
	else if (!l[s->target].active)
		hold = 0; /* the target is off: anything that works beats waiting */
	else if (s->last_down_us && now_us - s->last_down_us < LAYERSEL_UP_AFTER_DOWN_US)
		return 0;
	else
		hold = LAYERSEL_UP_HOLD_US;
	if (now_us - s->candidate_since_us < hold)
		return 0;
	if (down)
		s->last_down_us = now_us;
	s->target = best;
	s->candidate = -1;
	return 1;
}

enum layersel_verdict layersel_gate(layersel *s, int layer, int keyframe)
{
	if (layer >= 0 && layer == s->target && layer != s->current && keyframe) {
		s->current = layer;
		s->switches++;
		return LAYERSEL_SWITCH;
	}
	return layer >= 0 && layer == s->current ? LAYERSEL_FORWARD : LAYERSEL_DROP;
}

layer_join layer_join_offsets(uint16_t last_seq, uint32_t last_ts, int64_t elapsed_us,
                              uint32_t clock_rate, uint16_t in_seq, uint32_t in_ts)
{
	if (elapsed_us < 0)
		elapsed_us = 0;
	if (elapsed_us > 600000000)
		elapsed_us = 600000000; /* ten minutes: keeps the product in range */
	uint32_t advance = (uint32_t)(elapsed_us * (int64_t)clock_rate / 1000000);
	uint16_t out_seq = (uint16_t)(last_seq + 1);
	uint32_t out_ts = last_ts + (advance ? advance : 1);
	return (layer_join){.seq_offset = (uint16_t)(out_seq - in_seq),
	                    .ts_offset = out_ts - in_ts};
}
