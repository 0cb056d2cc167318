/* Tests for rtp/layersel.c: measuring layers (rate, keyframe size), choosing one from the
 * downlink share and the display hint, hysteresis of that choice, keyframe gating of a
 * switch, and the offsets that keep a slot's sequence numbers and timestamps continuous
 * across a switch (with the 65535 and 2^32 wraps), together with vp8mung's picture id and
 * TL0PICIDX continuity, as forward.c applies them packet by packet. */
#include "check.h"
#include "rtp/layersel.h"
#include "rtp/rtp.h"
#include "rtp/vp8mung.h"

/* A VP8 payload: descriptor with a 15-bit picture id and TL0PICIDX, then a frame header
 * (a keyframe declares w x h). Returns its length. */
static size_t vp8_payload(uint8_t *b, uint16_t pid, uint8_t tl0, int key, int w, int h)
{
	size_t n = 0;
	b[n++] = 0x90; /* X, S, partition 0 */
	b[n++] = 0xc0; /* I, L */
	b[n++] = (uint8_t)(0x80 | (pid >> 8));
	b[n++] = (uint8_t)pid;
	b[n++] = tl0;
	if (key) {
		b[n++] = 0x00; /* key frame, version 0, show */
		b[n++] = 0x00;
		b[n++] = 0x00;
		b[n++] = 0x9d;
		b[n++] = 0x01;
		b[n++] = 0x2a;
		b[n++] = (uint8_t)w;
		b[n++] = (uint8_t)(w >> 8);
		b[n++] = (uint8_t)h;
		b[n++] = (uint8_t)(h >> 8);
	} else {
		b[n++] = 0x01; /* inter frame */
		for (int i = 0; i < 9; i++)
			b[n++] = 0;
	}
	for (int i = 0; i < 20; i++)
		b[n++] = (uint8_t)i;
	return n;
}

static void test_meter(void)
{
	layer_meter m = {0};
	int64_t t = 1000000;
	/* 125 bytes every 10 ms = 100 kbit/s. */
	for (int i = 0; i < 300; i++, t += 10000)
		layer_meter_on_packet(&m, 125, t);
	layer_view v = layer_meter_view(&m, t);
	CHECK(v.active);
	CHECK(v.bps > 95000 && v.bps < 105000);
	CHECK_EQ_INT(v.width, 0);
	uint8_t b[64];
	size_t n = vp8_payload(b, 1, 1, 1, 640, 480);
	CHECK(vp8_is_keyframe(b, n));
	layer_meter_on_keyframe(&m, b, n);
	n = vp8_payload(b, 2, 1, 0, 0, 0);
	layer_meter_on_keyframe(&m, b, n); /* an inter frame changes nothing */
	v = layer_meter_view(&m, t);
	CHECK_EQ_INT(v.width, 640);
	CHECK_EQ_INT(v.height, 480);
	layer_meter_on_keyframe(&m, b, 3); /* too short: ignored */
	CHECK_EQ_INT(layer_meter_view(&m, t).width, 640);
	/* A second of silence: the layer is off and has no rate. */
	v = layer_meter_view(&m, t + LAYERSEL_IDLE_US);
	CHECK(!v.active);
	CHECK_EQ_INT(v.bps, 0);
}

/* Three layers as Chromium sends a 640x480 camera: 160x120, 320x240, 640x480. */
static void three(layer_view l[3])
{
	l[0] = (layer_view){.active = 1, .bps = 100000, .width = 160, .height = 120};
	l[1] = (layer_view){.active = 1, .bps = 300000, .width = 320, .height = 240};
	l[2] = (layer_view){.active = 1, .bps = 800000, .width = 640, .height = 480};
}

static void test_pick(void)
{
	layer_view l[3];
	int disp;
	three(l);
	/* The estimate decides without a hint. */
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 0, 0, &disp), 2);
	CHECK_EQ_INT(disp, 2);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 600000, 0, 0, &disp), 1);
	CHECK_EQ_INT(disp, 2);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 200000, 0, 0, NULL), 0);
	/* Nothing fits: the smallest layer still goes out. */
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 10000, 0, 0, NULL), 0);
	/* Moving up needs a quarter of headroom; staying does not. */
	CHECK_EQ_INT(layersel_pick(l, 3, 1, 900000, 0, 0, NULL), 1);
	CHECK_EQ_INT(layersel_pick(l, 3, 2, 900000, 0, 0, NULL), 2);
	CHECK_EQ_INT(layersel_pick(l, 3, 1, 1000000, 0, 0, NULL), 2);
	CHECK_EQ_INT(layersel_pick(l, 3, 0, 360000, 0, 0, NULL), 0);
	CHECK_EQ_INT(layersel_pick(l, 3, 0, 375000, 0, 0, NULL), 1);
	/* The display: a 300x225 tile needs the 320 layer, not the 640 one, however wide the
	 * link; a 1280x720 one wants the largest there is; 90 % of a size counts as covering. */
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 300, 225, &disp), 1);
	CHECK_EQ_INT(disp, 1);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 1280, 720, &disp), 2);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 352, 264, NULL), 1);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 360, 270, NULL), 2);
	/* A hidden tile (1x1) gets the smallest. */
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 1, 1, NULL), 0);
	/* Held by the estimate below the display: disp says what the display wants. */
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 200000, 640, 480, &disp), 0);
	CHECK_EQ_INT(disp, 2);
	/* The sender stopped the top layer (its own estimate is low): skip it. */
	l[2].active = 0;
	CHECK_EQ_INT(layersel_pick(l, 3, 2, 5000000, 640, 480, &disp), 1);
	CHECK_EQ_INT(disp, 1);
	l[0].active = l[1].active = 0;
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 0, 0, &disp), -1);
	CHECK_EQ_INT(disp, -1);
	/* Order by size, not by index (an offer may list the full layer first); unknown
	 * sizes fall back to the index. */
	l[0] = (layer_view){.active = 1, .bps = 800000, .width = 640, .height = 480};
	l[1] = (layer_view){.active = 1, .bps = 300000, .width = 320, .height = 240};
	l[2] = (layer_view){.active = 1, .bps = 100000, .width = 160, .height = 120};
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 500000, 0, 0, NULL), 1);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 150000, 0, 0, NULL), 2);
	CHECK_EQ_INT(layersel_pick(l, 3, -1, 5000000, 0, 0, NULL), 0);
	CHECK(layersel_smaller(l, 2, 0));
	l[0].width = l[0].height = 0;
	CHECK(layersel_smaller(l, 0, 2));
}

static void test_hysteresis(void)
{
	layer_view l[3];
	layersel s;
	three(l);
	layersel_init(&s);
	int64_t t = 10000000;
	/* The first choice is taken at once. */
	CHECK_EQ_INT(layersel_update(&s, l, 3, 0, t), 1);
	CHECK_EQ_INT(s.target, 0);
	/* Up only after the better choice held LAYERSEL_UP_HOLD_US. */
	CHECK_EQ_INT(layersel_update(&s, l, 3, 2, t + 100000), 0);
	CHECK_EQ_INT(layersel_update(&s, l, 3, 2, t + 100000 + LAYERSEL_UP_HOLD_US - 1), 0);
	CHECK_EQ_INT(s.target, 0);
	CHECK_EQ_INT(layersel_update(&s, l, 3, 2, t + 100000 + LAYERSEL_UP_HOLD_US), 1);
	CHECK_EQ_INT(s.target, 2);
	t += 10000000;
	/* A flap (down for less than the down hold, then back) changes nothing. */
	CHECK_EQ_INT(layersel_update(&s, l, 3, 0, t), 0);
	CHECK_EQ_INT(layersel_update(&s, l, 3, 0, t + LAYERSEL_DOWN_HOLD_US / 2), 0);
	CHECK_EQ_INT(layersel_update(&s, l, 3, 2, t + LAYERSEL_DOWN_HOLD_US / 2 + 1), 0);
	CHECK_EQ_INT(s.target, 2);
	/* A lasting fall moves down after the down hold. */
	CHECK_EQ_INT(layersel_update(&s, l, 3, 1, t + 1000000), 0);
	CHECK_EQ_INT(layersel_update(&s, l, 3, 1, t + 1000000 + LAYERSEL_DOWN_HOLD_US), 1);
	CHECK_EQ_INT(s.target, 1);
	int64_t down = t + 1000000 + LAYERSEL_DOWN_HOLD_US;
	/* Right after a fall, no move up, however long the better choice holds... */
	for (int64_t u = down + 100000; u < down + LAYERSEL_UP_AFTER_DOWN_US; u += 100000)
		CHECK_EQ_INT(layersel_update(&s, l, 3, 2, u), 0);
	CHECK_EQ_INT(s.target, 1);
	/* ...and then it does. */
	CHECK_EQ_INT(layersel_update(&s, l, 3, 2, down + LAYERSEL_UP_AFTER_DOWN_US + 100000), 1);
	CHECK_EQ_INT(s.target, 2);
	/* The target layer went off: the next choice is taken at once. */
	l[2].active = 0;
	t = down + 20000000;
	CHECK_EQ_INT(layersel_update(&s, l, 3, 1, t), 1);
	CHECK_EQ_INT(s.target, 1);
	/* Bad picks are ignored. */
	CHECK_EQ_INT(layersel_update(&s, l, 3, -1, t), 0);
	CHECK_EQ_INT(layersel_update(&s, l, 3, 3, t), 0);
	CHECK_EQ_INT(s.target, 1);
}

static void test_gate(void)
{
	layersel s;
	layersel_init(&s);
	/* Nothing chosen: everything waits. */
	CHECK_EQ_INT(layersel_gate(&s, 0, 1), LAYERSEL_DROP);
	s.target = 1;
	CHECK_EQ_INT(layersel_gate(&s, 0, 1), LAYERSEL_DROP);
	CHECK_EQ_INT(layersel_gate(&s, 1, 0), LAYERSEL_DROP); /* not a keyframe */
	CHECK_EQ_INT(layersel_gate(&s, 1, 1), LAYERSEL_SWITCH);
	CHECK_EQ_INT(s.current, 1);
	CHECK_EQ_INT(layersel_gate(&s, 1, 0), LAYERSEL_FORWARD);
	CHECK_EQ_INT(layersel_gate(&s, 1, 1), LAYERSEL_FORWARD); /* its own keyframes pass */
	CHECK_EQ_INT(layersel_gate(&s, 2, 1), LAYERSEL_DROP);
	/* A new target: the current layer flows until the target's keyframe. */
	s.target = 2;
	CHECK_EQ_INT(layersel_gate(&s, 1, 0), LAYERSEL_FORWARD);
	CHECK_EQ_INT(layersel_gate(&s, 2, 0), LAYERSEL_DROP);
	CHECK_EQ_INT(layersel_gate(&s, 2, 1), LAYERSEL_SWITCH);
	CHECK_EQ_INT(layersel_gate(&s, 1, 0), LAYERSEL_DROP);
	CHECK_EQ_INT(layersel_gate(&s, 1, 1), LAYERSEL_DROP);
	CHECK_EQ_INT(layersel_gate(&s, -1, 1), LAYERSEL_DROP);
	CHECK_EQ_INT(s.switches, 2);
}

/* What a slot sends: forward.c's rewriting on layer switches, packet by packet. */
typedef struct out_state {
	layersel sel;
	vp8mung mung;
	uint32_t cur_ssrc;
	uint16_t seq_offset, last_seq;
	uint32_t ts_offset, last_ts;
	int64_t last_us;
	int started;
	int sent;
	uint16_t prev_pid;
	uint8_t prev_tl0;
	int have_prev;
	int failures;
} out_state;

static void slot_packet(out_state *o, int layer, uint32_t ssrc, uint16_t seq, uint32_t ts,
                        uint8_t *payload, size_t len, int64_t now)
{
	int key = vp8_is_keyframe(payload, len);
	enum layersel_verdict v = layersel_gate(&o->sel, layer, key);
	if (v == LAYERSEL_DROP)
		return;
	if (v == LAYERSEL_SWITCH && o->cur_ssrc && o->cur_ssrc != ssrc)
		vp8mung_switch(&o->mung);
	if (o->cur_ssrc != ssrc) {
		if (!o->started) {
			o->started = 1;
			o->last_seq = 65530; /* the slot is about to wrap */
			o->last_ts = 0xffffffffu - 3000;
			o->last_us = now;
		}
		layer_join j =
		    layer_join_offsets(o->last_seq, o->last_ts, now - o->last_us, 90000, seq, ts);
		o->seq_offset = j.seq_offset;
		o->ts_offset = j.ts_offset;
		o->cur_ssrc = ssrc;
	}
	uint16_t out_seq = (uint16_t)(seq + o->seq_offset);
	uint32_t out_ts = ts + o->ts_offset;
	if (o->sent) {
		/* One packet per frame here: sequence +1, timestamp forward by 1..9000 ticks. */
		if (out_seq != (uint16_t)(o->last_seq + 1))
			o->failures++;
		uint32_t dts = out_ts - o->last_ts;
		if (dts == 0 || dts > 9000)
			o->failures++;
	}
	vp8mung_apply(&o->mung, payload, len);
	vp8_desc d;
	CHECK_EQ_INT(vp8_parse(payload, len, &d), 0);
	if (o->have_prev) {
		if (d.picture_id != (uint16_t)((o->prev_pid + 1) & 0x7fff))
			o->failures++;
		/* Every frame here is on temporal layer 0: TL0PICIDX steps by one. */
		if (d.tl0picidx != (uint8_t)(o->prev_tl0 + 1))
			o->failures++;
	}
	o->prev_pid = d.picture_id;
	o->prev_tl0 = d.tl0picidx;
	o->have_prev = 1;
	o->last_seq = out_seq;
	o->last_ts = out_ts;
	o->last_us = now;
	o->sent++;
}

static void test_switch_rewriting(void)
{
	out_state o;
	memset(&o, 0, sizeof o);
	layersel_init(&o.sel);
	vp8mung_init(&o.mung);
	/* Three layers with unrelated sequence numbers, timestamps and picture ids, chosen to
	 * wrap during the run. */
	uint32_t ssrc[3] = {111, 222, 333};
	uint16_t seq[3] = {65500, 100, 65535};
	uint32_t ts[3] = {0xffffff00u, 5, 0x7fffffffu};
	uint16_t pid[3] = {32760, 5, 32700};
	uint8_t tl0[3] = {250, 0, 128};
	int64_t now = 5000000;
	int keyframe_every = 7;
	o.sel.target = 0;
	for (int frame = 0; frame < 300; frame++, now += 33333) {
		/* The selection moves: up to 2, down to 1, up to 2, down to 0, ... */
		if (frame == 40)
			o.sel.target = 2;
		else if (frame == 100)
			o.sel.target = 1;
		else if (frame == 160)
			o.sel.target = 2;
		else if (frame == 220)
			o.sel.target = 0;
		for (int l = 0; l < 3; l++) {
			uint8_t b[64];
			int key = frame % keyframe_every == l;
			size_t n = vp8_payload(b, pid[l], tl0[l], key, 160 << l, 120 << l);
			slot_packet(&o, l, ssrc[l], seq[l], ts[l], b, n, now);
			seq[l]++;
			ts[l] += 3000;
			pid[l] = (uint16_t)((pid[l] + 1) & 0x7fff);
			tl0[l]++;
		}
	}
	CHECK_EQ_INT(o.failures, 0);
	CHECK_EQ_INT(o.sel.switches, 5);
	CHECK_EQ_INT(o.sel.current, 0);
	/* Every frame of the current layer went out, except those waiting for a keyframe. */
	CHECK(o.sent > 300 - 5 * keyframe_every);
	/* The slot's sequence numbers and timestamps wrapped on the way. */
	CHECK(o.last_seq < 65530);
	CHECK(o.last_ts < 0xffffffffu - 3000);
	CHECK_EQ_INT(o.mung.switches, 4);
}

static void test_join(void)
{
	/* Sequence 65535 continues with 0; the timestamp wraps past 2^32. */
	layer_join j = layer_join_offsets(65535, 0xfffffff0u, 33333, 90000, 1234, 777);
	CHECK_EQ_INT((uint16_t)(1234 + j.seq_offset), 0);
	CHECK_EQ_INT((uint32_t)(777 + j.ts_offset), (uint32_t)(0xfffffff0u + 2999));
	/* No time passed: the timestamp still moves by one tick. */
	j = layer_join_offsets(10, 100, 0, 90000, 65535, 0xffffffffu);
	CHECK_EQ_INT((uint16_t)(65535 + j.seq_offset), 11);
	CHECK_EQ_INT((uint32_t)(0xffffffffu + j.ts_offset), 101);
	/* Audio clock, and a clock going backwards counts as no time. */
	j = layer_join_offsets(0, 0, 20000, 48000, 0, 0);
	CHECK_EQ_INT(j.ts_offset, 960);
	j = layer_join_offsets(0, 0, -5, 48000, 0, 0);
	CHECK_EQ_INT(j.ts_offset, 1);
}

int main(void)
{
	test_meter();
	test_pick();
	test_hysteresis();
	test_gate();
	test_switch_rewriting();
	test_join();
	return check_done("layersel");
}
