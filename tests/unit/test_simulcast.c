/* Simulcast through the real forwarder (server/sfu/forward.c): a source whose camera sends
 * three layers (160x120, 320x240, 640x480) feeds one receiver slot; the receiver's packets
 * leave the real media socket SRTP-protected and are read back here from a UDP socket and
 * unprotected. The slot follows its display hint (`view`) and its downlink share, asks the
 * source for a keyframe on the layer it moves to (PLI on that layer's SSRC), switches only
 * at that keyframe, and the receiver sees one stream: one SSRC, sequence numbers by one
 * across the 65535 wrap, timestamps moving forward across the 2^32 wrap, VP8 picture ids and
 * TL0PICIDX by one. A receiver held below its display by its estimate asks the prober
 * (sfu_bwe_probe_request, counted in simulcast_probe_requests). The REMB to the source
 * follows what its most demanding receiver's display needs, not the narrowest downlink. */
#include "check.h"
#include "srtp_pair.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct sim {
	int64_t now_us;
} sim;

static int64_t sim_clock(void *user)
{
	return ((sim *)user)->now_us;
}

static const uint32_t layer_ssrc[3] = {0x1000, 0x2000, 0x3000};
static const size_t layer_bytes[3] = {200, 600, 1200}; /* ~50, ~150, ~300 kbit/s at 30 fps */

typedef struct source_state {
	uint16_t seq[3];
	uint32_t ts[3];
	uint16_t pid[3];
	uint8_t tl0[3];
	int frames[3];
} source_state;

/* One frame of layer l as one packet: VP8 descriptor (15-bit picture id, TL0PICIDX), then
 * a key or inter frame header, then filler whose first byte names the layer. */
static size_t build_packet(uint8_t *b, const source_state *st, int l, int key)
{
	size_t n = 0;
	b[n++] = 0x80;
	b[n++] = 0x80 | 96;
	b[n++] = (uint8_t)(st->seq[l] >> 8);
	b[n++] = (uint8_t)st->seq[l];
	for (int i = 3; i >= 0; i--)
		b[n++] = (uint8_t)(st->ts[l] >> (8 * i));
	for (int i = 3; i >= 0; i--)
		b[n++] = (uint8_t)(layer_ssrc[l] >> (8 * i));
	b[n++] = 0x90;
	b[n++] = 0xc0;
	b[n++] = (uint8_t)(0x80 | st->pid[l] >> 8);
	b[n++] = (uint8_t)st->pid[l];
	b[n++] = st->tl0[l];
	int w = 160 << l, h = 120 << l;
	uint8_t frame[10] = {
	    key ? 0x00 : 0x01, 0, 0, 0x9d, 0x01, 0x2a, (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)h,
	    (uint8_t)(h >> 8)};
	memcpy(b + n, frame, sizeof frame);
	n += sizeof frame;
	b[n++] = (uint8_t)l;
	while (n < 12 + layer_bytes[l])
		b[n++] = 0x55;
	return n;
}

typedef struct rx_state {
	int fd;
	secure *dec;
	uint32_t out_ssrc;
	int got;
	int by_layer[3];
	int last_layer;
	int layer_changes;
	uint16_t last_seq;
	uint32_t last_ts;
	uint16_t last_pid;
	uint8_t last_tl0;
	int seq_breaks, ts_breaks, pid_breaks, tl0_breaks, ssrc_breaks, wrapped_seq, wrapped_ts;
} rx_state;

static void drain(rx_state *r)
{
	uint8_t buf[2048];
	for (;;) {
		ssize_t n = recv(r->fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n <= 0)
			return;
		size_t len = (size_t)n;
		if (rtp_is_rtcp(buf, len))
			continue;
		if (secure_unprotect_rtp(r->dec, buf, &len) != 0) {
			r->ssrc_breaks++;
			continue;
		}
		rtp_hdr h;
		if (rtp_parse(buf, len, &h) != 0)
			continue;
		if (h.ssrc != r->out_ssrc)
			r->ssrc_breaks++;
		vp8_desc d;
		if (vp8_parse(buf + h.header_len, h.payload_len, &d) != 0)
			continue;
		int layer = buf[h.header_len + d.header_len + 10];
		if (layer >= 0 && layer < 3)
			r->by_layer[layer]++;
		if (r->got) {
			if (h.seq != (uint16_t)(r->last_seq + 1))
				r->seq_breaks++;
			uint32_t dts = h.timestamp - r->last_ts;
			if (dts == 0 || dts > 9000)
				r->ts_breaks++;
			if (d.picture_id != ((r->last_pid + 1) & 0x7fff))
				r->pid_breaks++;
			if (d.tl0picidx != (uint8_t)(r->last_tl0 + 1))
				r->tl0_breaks++;
			if (h.seq < r->last_seq)
				r->wrapped_seq = 1;
			if (h.timestamp < r->last_ts)
				r->wrapped_ts = 1;
			if (layer != r->last_layer)
				r->layer_changes++;
		}
		r->last_layer = layer;
		r->last_seq = h.seq;
		r->last_ts = h.timestamp;
		r->last_pid = d.picture_id;
		r->last_tl0 = d.tl0picidx;
		r->got++;
	}
}

typedef struct world {
	uv_loop_t loop;
	sim clock;
	sfu *s;
	struct sfu_peer *src, *rcv;
	source_state st;
	rx_state rx;
	uint64_t pli_before;
} world;

/* Runs `ms` of 30 fps video on all three layers; the source answers a keyframe request on a
 * layer with a keyframe on that layer at its next frame, as a browser does. */
static void run(world *w, int ms)
{
	for (int t = 0; t < ms; t += 33) {
		for (int l = 0; l < 3; l++) {
			in_track *tr = &w->src->in[l];
			/* Each layer starts with a keyframe, as a browser's encoder does. */
			int key = tr->keyframe_asked_us != 0 || w->st.frames[l]++ == 0;
			uint8_t pkt[1500];
			size_t n = build_packet(pkt, &w->st, l, key);
			rtp_hdr h;
			CHECK_EQ_INT(rtp_parse(pkt, n, &h), 0);
			fwd_rtp(w->src, tr, pkt, &h, w->clock.now_us);
			w->st.seq[l]++;
			w->st.ts[l] += 3000;
			w->st.pid[l] = (uint16_t)((w->st.pid[l] + 1) & 0x7fff);
			w->st.tl0[l]++;
		}
		w->clock.now_us += 33000;
		sfu_tick(w->s);
		drain(&w->rx);
	}
	drain(&w->rx);
}

static int setup(world *w)
{
	memset(w, 0, sizeof *w);
	uv_loop_init(&w->loop);
	w->clock.now_us = 1000000;
	sfu_config cfg = {.bind_ip = "127.0.0.1",
	                  .port = 0,
	                  .ips = {"127.0.0.1"},
	                  .n_ips = 1,
	                  .clock_us = sim_clock,
	                  .clock_user = &w->clock,
	                  .simulcast = 1};
	w->s = sfu_new(&w->loop, &cfg);
	CHECK(w->s != NULL);
	if (!w->s)
		return -1;
	w->src = sfu_peer_new(w->s, "src");
	w->rcv = sfu_peer_new(w->s, "rcv");
	struct sfu_peer *src = w->src, *rcv = w->rcv;

	/* The source: a simulcast camera in three layers whose SSRCs were learned. */
	for (int l = 0; l < 3; l++) {
		in_track *t = &src->in[l];
		*t = (in_track){.role = SFU_ROLE_CAMERA,
		                .kind = SDP_KIND_VIDEO,
		                .ssrc = layer_ssrc[l],
		                .pt = 96,
		                .rtx_pt = -1,
		                .layer = l,
		                .n_layers = 3};
		snprintf(t->rid, sizeof t->rid, "%c", "qhf"[l]);
		nack_gen_init(&t->nack);
		rxstats_init(&t->rx, 90000);
	}
	src->n_in = 3;
	/* Streams start near the wraps, in different places. */
	w->st = (source_state){.seq = {65000, 100, 30000},
	                       .ts = {0xfff00000u, 77, 0x80000000u},
	                       .pid = {32700, 10, 5000},
	                       .tl0 = {200, 0, 90}};

	/* The receiver: one video slot, SRTP with fixed keys, its address a socket of ours. */
	fwd_slot *sl = &rcv->out[0];
	*sl = (fwd_slot){.role = SFU_ROLE_CAMERA,
	                 .kind = SDP_KIND_VIDEO,
	                 .out_ssrc = 0xabcd,
	                 .pt = 100,
	                 .clock_rate = 90000,
	                 .wait_keyframe = 1};
	snprintf(sl->mid, sizeof sl->mid, "1");
	vp8mung_init(&sl->mung);
	layersel_init(&sl->sel);
	/* The slot already sent a stream that ended just before the 16-bit and 32-bit wraps. */
	sl->started = 1;
	sl->last_seq = 65500;
	sl->last_ts = 0xffff0000u;
	sl->last_send_us = w->clock.now_us;
	rcv->n_out = 1;
	srtp_pair(&rcv->srtp, &w->rx.dec);
	w->rx.out_ssrc = 0xabcd;
	w->rx.fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	int rcvbuf = 4 << 20;
	setsockopt(w->rx.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	CHECK_EQ_INT(bind(w->rx.fd, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ_INT(getsockname(w->rx.fd, (struct sockaddr *)&a, &alen), 0);
	memcpy(&rcv->addrs[0].sa, &a, sizeof a);
	rcv->n_addrs = 1;
	rcv->selected = 0;
	CHECK(rcv->srtp && w->rx.dec);
	sfu_peer_set_feeds(rcv, src, NULL, NULL, 0);
	CHECK_EQ_INT(src->in[0].n_sinks, 1);
	CHECK_EQ_INT(src->in[2].n_sinks, 1);
	return 0;
}

static void teardown(world *w)
{
	close(w->rx.fd);
	secure_free(w->rx.dec);
	sfu_free(w->s);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	uv_loop_close(&w->loop);
}

static void test_switches(void)
{
	world w;
	if (setup(&w) != 0)
		return;
	fwd_slot *sl = &w.rcv->out[0];
	const sfu_stats *st = sfu_get_stats(w.s);

	/* No hint, a 1 Mbit/s estimate: the full layer, from its first keyframe. */
	run(&w, 3000);
	CHECK_EQ_INT(sl->sel.current, 2);
	CHECK(w.rx.got > 50);
	CHECK_EQ_INT(w.rx.by_layer[0] + w.rx.by_layer[1], 0);
	CHECK(w.rx.wrapped_seq); /* 65500 + ~80 packets */

	/* The page shows the slot at 300x225: the 320 layer is enough. The slot asks for its
	 * keyframe (PLI on the 320 layer's SSRC) and switches there. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "1", 300, 225), 0);
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "nope", 300, 225), -1);
	int before = w.rx.by_layer[1];
	uint64_t pli = st->pli_sent;
	run(&w, 2000);
	CHECK_EQ_INT(sl->sel.current, 1);
	CHECK(st->pli_sent > pli);
	CHECK(w.rx.by_layer[1] > before + 30);

	/* A 1x1 (hidden) tile: the smallest layer. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "1", 1, 1), 0);
	run(&w, 2000);
	CHECK_EQ_INT(sl->sel.current, 0);

	/* A large tile again, but a 120 kbit/s downlink: the estimate holds the slot on the
	 * smallest layer and the prober is asked for more. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "1", 640, 480), 0);
	bwe_init(&w.rcv->bwe, 120000);
	w.rcv->bwe_ready = 1;
	uint64_t probes = st->simulcast_probe_requests;
	run(&w, 4000);
	CHECK_EQ_INT(sl->sel.current, 0);
	/* At most once a second. */
	CHECK(st->simulcast_probe_requests - probes >= 2 &&
	      st->simulcast_probe_requests - probes <= 5);
	CHECK(sl->probe_target_bps > 120000);

	/* The link allows more: up to the full layer (after the up hold). */
	bwe_init(&w.rcv->bwe, 2000000);
	run(&w, 6000);
	CHECK_EQ_INT(sl->sel.current, 2);

	/* One stream throughout. */
	CHECK_EQ_INT(w.rx.ssrc_breaks, 0);
	CHECK_EQ_INT(w.rx.seq_breaks, 0);
	CHECK_EQ_INT(w.rx.ts_breaks, 0);
	CHECK_EQ_INT(w.rx.pid_breaks, 0);
	CHECK_EQ_INT(w.rx.tl0_breaks, 0);
	CHECK(w.rx.wrapped_ts);
	CHECK_EQ_INT(w.rx.layer_changes, 3);
	CHECK_EQ_INT(st->simulcast_switches, 3);
	CHECK(sl->sel.switches >= 4);
	teardown(&w);
}

static void test_remb_follows_most_demanding(void)
{
	world w;
	if (setup(&w) != 0)
		return;
	/* A second receiver on a narrow line: for an ordinary camera its share would cap the
	 * source; for a simulcast camera the receivers' displays decide. */
	struct sfu_peer *narrow = sfu_peer_new(w.s, "narrow");
	narrow->out[0] = (fwd_slot){.role = SFU_ROLE_CAMERA,
	                            .kind = SDP_KIND_VIDEO,
	                            .out_ssrc = 0x77,
	                            .pt = 96,
	                            .clock_rate = 90000};
	snprintf(narrow->out[0].mid, sizeof narrow->out[0].mid, "1");
	layersel_init(&narrow->out[0].sel);
	narrow->n_out = 1;
	sfu_peer_set_feeds(narrow, w.src, NULL, NULL, 0);
	w.rcv->out[0].started = narrow->out[0].started = 1;
	bwe_init(&w.rcv->bwe, 3000000);
	w.rcv->bwe_ready = 1;
	bwe_init(&narrow->bwe, 400000);
	narrow->bwe_ready = 1;
	/* No display sizes yet: no cap (the sender's own estimate governs its uplink). */
	CHECK(fb_remb_cap_bps(w.src) >= 10000000);
	/* Both show it small: the two small layers (~50 + ~150 kbit/s) with headroom. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "1", 300, 225), 0);
	CHECK_EQ_INT(sfu_peer_set_view(narrow, "1", 1, 1), 0);
	run(&w, 2000);
	uint64_t cap = fb_remb_cap_bps(w.src);
	CHECK(cap >= 250000 && cap <= 400000);
	/* One shows it at 640x480: all three layers (~500 kbit/s) with headroom, whatever the
	 * narrow receiver's share. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "1", 640, 480), 0);
	cap = fb_remb_cap_bps(w.src);
	CHECK(cap >= 600000 && cap <= 800000);
	/* Larger than any layer sent: no cap, so the sender may add a larger one. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "1", 1280, 720), 0);
	CHECK(fb_remb_cap_bps(w.src) >= 10000000);
	/* Without simulcast the narrowest receiver decides, as before. */
	for (int l = 0; l < 3; l++)
		w.src->in[l].n_layers = 0;
	cap = fb_remb_cap_bps(w.src);
	CHECK(cap <= 400000 + 64000);
	CHECK(cap >= 400000);
	teardown(&w);
}

/* A receiver with two video slots of the same estimate: one shown large, one in a small
 * tile. The tile claims only its covering layer (with a quarter of headroom), so the large
 * slot's share is the rest, not half; without display hints both get half. */
static void test_share_follows_displays(void)
{
	world w;
	if (setup(&w) != 0)
		return;
	run(&w, 2000); /* the layers' rates are measured */
	fwd_slot *big = &w.rcv->out[0], *tile = &w.rcv->out[1];
	*tile = (fwd_slot){.role = SFU_ROLE_SLOT,
	                   .kind = SDP_KIND_VIDEO,
	                   .out_ssrc = 0x99,
	                   .pt = 100,
	                   .clock_rate = 90000,
	                   .started = 1,
	                   .source = w.src,
	                   .source_role = SFU_ROLE_CAMERA};
	snprintf(tile->mid, sizeof tile->mid, "4");
	w.rcv->n_out = 2;
	bwe_init(&w.rcv->bwe, 700000);
	w.rcv->bwe_ready = 1;
	int open = 0;
	/* No hints: an equal split. */
	CHECK_EQ_INT(fb_slot_share_bps(w.rcv, big, w.clock.now_us, &open), 350000);
	CHECK_EQ_INT(open, 2);
	/* The tile at 160x120 claims the smallest layer (~55 kbit/s measured, +25 %). */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "4", 160, 120), 0);
	uint64_t share = fb_slot_share_bps(w.rcv, big, w.clock.now_us, &open);
	CHECK(share > 600000 && share < 660000);
	CHECK_EQ_INT(open, 1);
	/* The tile itself still gets at least the equal split. */
	CHECK(fb_slot_share_bps(w.rcv, tile, w.clock.now_us, NULL) >= 350000);
	/* A tile as large as the big slot claims more than half: the equal split again. */
	CHECK_EQ_INT(sfu_peer_set_view(w.rcv, "4", 640, 480), 0);
	CHECK_EQ_INT(fb_slot_share_bps(w.rcv, big, w.clock.now_us, NULL), 350000);
	w.rcv->n_out = 1;
	teardown(&w);
}

int main(void)
{
	test_switches();
	test_remb_follows_most_demanding();
	test_share_follows_displays();
	return check_done("simulcast");
}
