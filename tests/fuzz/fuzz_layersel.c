/* Fuzz target for the simulcast layer-switch path, as forward.c runs it for one receive
 * slot: the input is a script of packets on three layers (their VP8 payloads taken from
 * the input, so keyframes, descriptors and picture ids are the fuzzer's), layer
 * measurements, selection rounds with any share and display hint, and clock steps. After
 * every forwarded packet the slot must continue by exactly one sequence number and a
 * positive timestamp step, and the gate may let through only the current layer; a
 * violation aborts. */
#include "rtp/layersel.h"
#include "rtp/rtp.h"
#include "rtp/vp8mung.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_layer {
	layer_meter meter;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
} fz_layer;

typedef struct fz_slot {
	layersel sel;
	vp8mung mung;
	uint32_t cur_ssrc;
	uint16_t seq_offset, last_seq;
	uint32_t ts_offset, last_ts;
	int64_t last_us;
	int sent;
} fz_slot;

static void forward(fz_slot *o, fz_layer *l, int layer, uint8_t *payload, size_t len, int64_t now)
{
	int key = vp8_is_keyframe(payload, len);
	layer_meter_on_packet(&l->meter, len + 12, now);
	if (key)
		layer_meter_on_keyframe(&l->meter, payload, len);
	enum layersel_verdict v = layersel_gate(&o->sel, layer, key);
	if (v == LAYERSEL_DROP)
		return;
	if (o->sel.current != layer)
		abort(); /* only the current layer goes out */
	if (v == LAYERSEL_SWITCH && !key)
		abort();
	if (v == LAYERSEL_SWITCH && o->cur_ssrc && o->cur_ssrc != l->ssrc)
		vp8mung_switch(&o->mung);
	if (o->cur_ssrc != l->ssrc) {
		layer_join j = layer_join_offsets(o->last_seq, o->last_ts, now - o->last_us, 90000,
		                                  l->seq, l->ts);
		o->seq_offset = j.seq_offset;
		o->ts_offset = j.ts_offset;
		o->cur_ssrc = l->ssrc;
		o->last_us = now;
		uint16_t first = (uint16_t)(l->seq + o->seq_offset);
		if (first != (uint16_t)(o->last_seq + 1))
			abort();
		if (l->ts + o->ts_offset == o->last_ts)
			abort();
	} else if ((uint16_t)(l->seq + o->seq_offset) != (uint16_t)(o->last_seq + 1)) {
		abort(); /* the layer's own numbers are consecutive here */
	}
	(void)vp8mung_apply(&o->mung, payload, len);
	o->last_seq = (uint16_t)(l->seq + o->seq_offset);
	o->last_ts = l->ts + o->ts_offset;
	o->last_us = now;
	o->sent++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_layer layers[LAYERSEL_MAX];
	fz_slot o;
	memset(layers, 0, sizeof layers);
	memset(&o, 0, sizeof o);
	layersel_init(&o.sel);
	vp8mung_init(&o.mung);
	o.last_seq = 65533;
	o.last_ts = 0xfffff000u;
	for (int i = 0; i < LAYERSEL_MAX; i++) {
		layers[i].ssrc = 1000u + (uint32_t)i;
		layers[i].seq = (uint16_t)(65530 + 7 * i);
		layers[i].ts = 0xffffff00u * (uint32_t)i;
	}
	int64_t now = 1000000;
	o.last_us = now;
	size_t pos = 0;
	while (pos < size) {
		uint8_t op = data[pos++];
		int layer = (op >> 2) % LAYERSEL_MAX;
		switch (op & 3) {
		case 0: { /* a packet on `layer`: length byte, then that many payload bytes */
			if (pos >= size)
				return 0;
			size_t len = data[pos++];
			if (len > size - pos)
				len = size - pos;
			uint8_t *payload = malloc(len ? len : 1);
			if (!payload)
				return 0;
			memcpy(payload, data + pos, len);
			pos += len;
			forward(&o, &layers[layer], layer, payload, len, now);
			layers[layer].seq++;
			layers[layer].ts += 3000;
			free(payload);
			break;
		}
		case 1: /* the clock moves on by up to 2.55 s */
			if (pos < size)
				now += (int64_t)data[pos++] * 10000;
			break;
		case 2: { /* a selection round: share (2 bytes, kbit/s * 8), hint (2 bytes) */
			if (size - pos < 4)
				return 0;
			uint64_t share = (uint64_t)(data[pos] | data[pos + 1] << 8) * 8000;
			int w = data[pos + 2] * 8, h = data[pos + 3] * 8;
			pos += 4;
			layer_view v[LAYERSEL_MAX];
			for (int i = 0; i < LAYERSEL_MAX; i++)
				v[i] = layer_meter_view(&layers[i].meter, now);
			int disp;
			int best =
			    layersel_pick(v, LAYERSEL_MAX, o.sel.current, share, w, h, &disp);
			if (best < -1 || best >= LAYERSEL_MAX || (best >= 0 && !v[best].active) ||
			    (best < 0) != (disp < 0))
				abort();
			(void)layersel_update(&o.sel, v, LAYERSEL_MAX, best, now);
			if (o.sel.target < -1 || o.sel.target >= LAYERSEL_MAX)
				abort();
			break;
		}
		default: /* the sender skips a packet on `layer` (loss upstream of the gate) */
			layers[layer].seq++;
			layers[layer].ts += 3000;
			if (o.cur_ssrc == layers[layer].ssrc)
				o.seq_offset--; /* keep the slot's own numbering gap-free for the
				                   check */
			break;
		}
	}
	return 0;
}
