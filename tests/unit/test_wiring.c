/* Wiring at the right grain (server/sfu/forward.c): sfu_peer_set_feeds rewires only the
 * receiver whose feeds changed (fwd_wire_peer), and the result must be exactly what
 * rewiring the whole process (fwd_rewire) gives. Random feed changes among eight peers (one
 * of them a two-layer simulcast camera) are checked against the full rewire after each
 * one: the same sinks on every track, every slot on its source's tracks once, none left on
 * a former source; a slot whose source changed waits for a keyframe, one whose source
 * stayed keeps its state. Also: a freed source leaves no sink behind. */
#include "check.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>

#define N_PEERS 8

typedef struct snapshot {
	int n[N_PEERS][SDP_MAX_MEDIA];
	fwd_sink sinks[N_PEERS][SDP_MAX_MEDIA][TRACK_MAX_SINKS];
} snapshot;

static struct sfu_peer *peers[N_PEERS];

static int peer_index(const struct sfu_peer *p)
{
	for (int i = 0; i < N_PEERS; i++)
		if (peers[i] == p)
			return i;
	return -1;
}

static int sink_cmp(const void *a, const void *b)
{
	const fwd_sink *x = a, *y = b;
	int dx = peer_index(x->peer) - peer_index(y->peer);
	return dx ? dx : x->slot - y->slot;
}

static void take(snapshot *s)
{
	memset(s, 0, sizeof *s);
	for (int p = 0; p < N_PEERS; p++) {
		if (!peers[p])
			continue;
		for (int t = 0; t < peers[p]->n_in; t++) {
			in_track *tr = &peers[p]->in[t];
			s->n[p][t] = tr->n_sinks;
			memcpy(s->sinks[p][t], tr->sinks, sizeof tr->sinks[0] * (size_t)tr->n_sinks);
			qsort(s->sinks[p][t], (size_t)tr->n_sinks, sizeof(fwd_sink), sink_cmp);
		}
	}
}

static int same(const snapshot *a, const snapshot *b)
{
	for (int p = 0; p < N_PEERS; p++)
		for (int t = 0; t < SDP_MAX_MEDIA; t++) {
			if (a->n[p][t] != b->n[p][t])
				return 0;
			for (int k = 0; k < a->n[p][t]; k++)
				if (a->sinks[p][t][k].peer != b->sinks[p][t][k].peer ||
				    a->sinks[p][t][k].slot != b->sinks[p][t][k].slot)
					return 0;
		}
	return 1;
}

static void add_in(struct sfu_peer *p, enum sfu_role role, enum sdp_kind kind, int layer,
                   int n_layers)
{
	in_track *t = &p->in[p->n_in];
	*t = (in_track){.mline = role == SFU_ROLE_MIC ? 0 : role == SFU_ROLE_CAMERA ? 1 : 2,
	                .role = role,
	                .kind = kind,
	                .ssrc = 0x1000u * (uint32_t)(p->n_in + 1),
	                .layer = layer,
	                .n_layers = n_layers};
	p->n_in++;
}

static void add_out(struct sfu_peer *p, enum sfu_role role, enum sdp_kind kind)
{
	fwd_slot *sl = &p->out[p->n_out];
	*sl = (fwd_slot){.role = role, .kind = kind, .clock_rate = kind == SDP_KIND_AUDIO ? 48000 : 90000};
	snprintf(sl->mid, sizeof sl->mid, "%d", p->n_out);
	vp8mung_init(&sl->mung);
	layersel_init(&sl->sel);
	p->n_out++;
}

/* Mic, camera (two simulcast layers for peer 0), document; and receive slots: mic, camera,
 * document, two extra parties (an audio and a video slot each). */
static void build(sfu *s, int i)
{
	char label[8];
	snprintf(label, sizeof label, "p%d", i);
	struct sfu_peer *p = sfu_peer_new(s, label);
	peers[i] = p;
	add_in(p, SFU_ROLE_MIC, SDP_KIND_AUDIO, 0, 0);
	if (i == 0) {
		add_in(p, SFU_ROLE_CAMERA, SDP_KIND_VIDEO, 0, 2);
		add_in(p, SFU_ROLE_CAMERA, SDP_KIND_VIDEO, 1, 2);
	} else {
		add_in(p, SFU_ROLE_CAMERA, SDP_KIND_VIDEO, 0, 0);
	}
	add_in(p, SFU_ROLE_DOCUMENT, SDP_KIND_VIDEO, 0, 0);
	add_out(p, SFU_ROLE_MIC, SDP_KIND_AUDIO);
	add_out(p, SFU_ROLE_CAMERA, SDP_KIND_VIDEO);
	add_out(p, SFU_ROLE_DOCUMENT, SDP_KIND_VIDEO);
	for (int k = 0; k < 2; k++) {
		add_out(p, SFU_ROLE_SLOT, SDP_KIND_AUDIO);
		add_out(p, SFU_ROLE_SLOT, SDP_KIND_VIDEO);
	}
}

/* A random source for dst, sometimes nobody; never dst itself nor one already in *used
 * (routing never feeds one receiver the same party twice, which keeps every track's sinks
 * within TRACK_MAX_SINKS here). */
static struct sfu_peer *pick(unsigned *seed, int dst, unsigned *used)
{
	int k = (int)(rand_r(seed) % (N_PEERS + 2)) - 2;
	if (k < 0 || k == dst || !peers[k] || (used && (*used & 1u << k)))
		return NULL;
	if (used)
		*used |= 1u << k;
	return peers[k];
}

/* Every slot of every peer appears on its source's tracks of its role: once on each layer
 * of a simulcast camera, once on the one track otherwise. */
static void check_slots_on_sources(void)
{
	for (int d = 0; d < N_PEERS; d++) {
		struct sfu_peer *dst = peers[d];
		if (!dst)
			continue;
		for (int i = 0; i < dst->n_out; i++) {
			const fwd_slot *sl = &dst->out[i];
			for (int p = 0; p < N_PEERS; p++) {
				if (!peers[p])
					continue;
				for (int t = 0; t < peers[p]->n_in; t++) {
					const in_track *tr = &peers[p]->in[t];
					int n = 0;
					for (int k = 0; k < tr->n_sinks; k++)
						n += tr->sinks[k].peer == dst && tr->sinks[k].slot == i;
					int want = sl->source == peers[p] && tr->role == sl->source_role &&
					           tr->kind == sl->kind;
					CHECK_EQ_INT(n, want);
				}
			}
		}
	}
}

int main(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .ips = {"127.0.0.1"}, .n_ips = 1};
	sfu *s = sfu_new(&loop, &cfg);
	CHECK(s != NULL);
	if (!s)
		return check_done("wiring");
	for (int i = 0; i < N_PEERS; i++)
		build(s, i);
	fwd_rewire(s);

	unsigned seed = 12345;
	int mismatches = 0, changed_waiting = 0, kept_state = 0;
	for (int round = 0; round < 400; round++) {
		int d = (int)(rand_r(&seed) % N_PEERS);
		struct sfu_peer *dst = peers[d];
		/* Mark each slot's state, to see which ones the change restarts. */
		struct sfu_peer *before[SDP_MAX_MEDIA];
		for (int i = 0; i < dst->n_out; i++) {
			before[i] = dst->out[i].source;
			dst->out[i].wait_keyframe = 0;
			dst->out[i].cur_ssrc = 0x5151;
		}
		unsigned used = 0;
		struct sfu_peer *primary = pick(&seed, d, &used), *extras[2];
		int n_extras = (int)(rand_r(&seed) % 3);
		for (int k = 0; k < n_extras; k++)
			extras[k] = pick(&seed, d, &used);
		sfu_peer_set_feeds(dst, primary, pick(&seed, d, NULL), extras, n_extras);
		for (int i = 0; i < dst->n_out; i++) {
			const fwd_slot *sl = &dst->out[i];
			if (sl->source != before[i]) {
				changed_waiting += sl->kind != SDP_KIND_VIDEO || sl->wait_keyframe;
				CHECK(sl->cur_ssrc == 0);
				CHECK(sl->kind != SDP_KIND_VIDEO || sl->wait_keyframe);
			} else {
				kept_state += sl->cur_ssrc == 0x5151;
				CHECK(sl->cur_ssrc == 0x5151);
			}
		}
		check_slots_on_sources();
		snapshot inc, full;
		take(&inc);
		fwd_rewire(s);
		take(&full);
		if (!same(&inc, &full))
			mismatches++;
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK(changed_waiting > 100);
	CHECK(kept_state > 100);

	/* Peer 0 (the simulcast camera) feeds someone, then goes: nobody keeps a sink on a
	 * freed peer's tracks, and its receivers' slots point nowhere. */
	sfu_peer_set_feeds(peers[1], peers[0], NULL, NULL, 0);
	CHECK_EQ_INT(peers[0]->in[1].n_sinks >= 1, 1);
	CHECK_EQ_INT(peers[0]->in[2].n_sinks >= 1, 1);
	sfu_peer_free(peers[0]);
	peers[0] = NULL;
	check_slots_on_sources();
	CHECK(peers[1]->out[1].source == NULL);

	for (int i = 1; i < N_PEERS; i++)
		sfu_peer_free(peers[i]);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	printf("wiring: %d rounds, slots restarted %d, kept %d\n", 400, changed_waiting, kept_state);
	return check_done("wiring");
}
