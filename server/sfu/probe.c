/* Probes of the kiosk self-test (see probe.h). The sfu keeps every probe in a list: sfu_tick
 * ends those whose time is up, and sfu_free cancels the rest. A probe is attached to at most
 * one peer (p->probe) until its time is up or the peer goes. */
#include "sfu/probe.h"

#include "base/log.h"
#include "rtp/red.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct sfu_probe {
	struct sfu *sfu;
	struct sfu_probe *next; /* in sfu->probes */
	struct sfu_peer *peer;  /* NULL once detached */
	int64_t started_us, end_us;
	sfu_probe_cb cb;
	void *user;
	mcheck_audio *audio;
	mcheck_video *video;
	/* Expected and received packets of the mic and camera at the start, for the loss. */
	uint64_t expected0, received0;
	int camera_sent; /* the camera track delivered packets on this connection */
	int layer;       /* the simulcast layer decoded (0 without simulcast) */
	/* Decoding runs in the thread pool, one work at a time: every PROBE_BATCH_US the
	 * complete video frames so far (batch) go to the decoder (vdec, touched only by the
	 * work), so that little is left to decode when the time is up (final). */
	uv_work_t work;
	int in_pool;
	int final;
	int cancelled;
	int analyze_failed;
	int64_t batch_us;
	mcheck_video *batch;
	mcheck_video_dec *vdec;
	sfu_health result;
};

#define PROBE_BATCH_US 1000000

static int camera_sent(const struct sfu_peer *p)
{
	const in_track *t =
	    fwd_track_by_role((struct sfu_peer *)p, SFU_ROLE_CAMERA, SDP_KIND_VIDEO);
	return t && t->rx.received > 0;
}

static void probe_counts(const struct sfu_peer *p, uint64_t *expected, uint64_t *received)
{
	*expected = *received = 0;
	for (int i = 0; i < p->n_in; i++) {
		const in_track *t = &p->in[i];
		if ((t->role != SFU_ROLE_MIC && t->role != SFU_ROLE_CAMERA) || !t->rx.started)
			continue;
		uint64_t highest = (uint64_t)t->rx.cycles + t->rx.max_seq;
		*expected += highest >= t->rx.base_seq ? highest - t->rx.base_seq + 1 : 0;
		*received += t->rx.received;
	}
}

/* The camera track the self-test decodes: of a simulcast camera, the largest layer sending
 * now (what a clerk on a good line sees), or the first while none is (a check at
 * connection, before the sender started its layers). The pages' kiosks send one stream, so
 * this matters only for a kiosk page of another make: through Chromium's simulcast encoder,
 * a canvas repeating one picture still decoded as changing on either layer, so such a
 * camera's frozen picture may be reported as live. */
static in_track *probe_camera(struct sfu_peer *p, int64_t now_us, int *layer)
{
	in_track *first = fwd_track_by_role(p, SFU_ROLE_CAMERA, SDP_KIND_VIDEO), *best = first;
	*layer = 0;
	for (int i = 0; first && first->n_layers && i < p->n_in; i++) {
		in_track *t = &p->in[i];
		if (t->mline == first->mline && t->n_layers && t->ssrc && t->layer > *layer &&
		    layer_meter_view(&t->meter, now_us).active) {
			best = t;
			*layer = t->layer;
		}
	}
	return best;
}

sfu_probe *sfu_probe_start(sfu_peer *p, int64_t duration_us, sfu_probe_cb cb, void *user)
{
	if (p->probe)
		return NULL;
	struct sfu_probe *pr = calloc(1, sizeof *pr);
	if (!pr || !(pr->audio = mcheck_audio_new()) || !(pr->video = mcheck_video_new())) {
		if (pr) {
			mcheck_audio_free(pr->audio);
			free(pr);
		}
		return NULL;
	}
	struct sfu *s = p->sfu;
	int64_t now = sfu_now(s);
	pr->sfu = s;
	pr->peer = p;
	pr->started_us = now;
	pr->batch_us = now;
	pr->end_us = now + duration_us;
	pr->cb = cb;
	pr->user = user;
	pr->work.data = pr;
	probe_counts(p, &pr->expected0, &pr->received0);
	pr->camera_sent = camera_sent(p);
	pr->next = s->probes;
	s->probes = pr;
	p->probe = pr;
	/* The decoder can only begin at a key frame: ask for one now rather than wait for the
	 * sender's next (Chromium sends them only when asked or after loss). */
	fb_request_keyframe(p, probe_camera(p, now, &pr->layer), now);
	return pr;
}

void probe_on_rtp(struct sfu_peer *p, const in_track *t, const uint8_t *pkt, const rtp_hdr *h)
{
	struct sfu_probe *pr = p->probe;
	if (!pr || h->payload_len == 0)
		return;
	const uint8_t *payload = pkt + h->header_len;
	if (t->role == SFU_ROLE_MIC && t->kind == SDP_KIND_AUDIO) {
		/* A RED packet (RFC 2198): its primary block is the frame the decoder wants. */
		red_packet red;
		if (t->red_pt > 0 && h->payload_type == t->red_pt) {
			if (red_parse(payload, h->payload_len, &red) == 0 &&
			    red.block[red.n - 1].len)
				mcheck_audio_push(pr->audio, payload + red.block[red.n - 1].off,
				                  red.block[red.n - 1].len);
			return;
		}
		mcheck_audio_push(pr->audio, payload, h->payload_len);
	} else if (t->role == SFU_ROLE_CAMERA && t->kind == SDP_KIND_VIDEO && t->layer == pr->layer) {
		/* A simulcast camera: one layer only (one decoder, one stream). */
		mcheck_video_push(pr->video, payload, h->payload_len, h->seq, h->timestamp,
		                  h->marker);
	}
}

static void detach(struct sfu_probe *pr)
{
	if (pr->peer && pr->peer->probe == pr)
		pr->peer->probe = NULL;
	pr->peer = NULL;
}

void probe_detach_peer(struct sfu_peer *p)
{
	if (p->probe)
		detach(p->probe);
}

static void unlink_probe(struct sfu_probe *pr)
{
	for (struct sfu_probe **pp = &pr->sfu->probes; *pp; pp = &(*pp)->next)
		if (*pp == pr) {
			*pp = pr->next;
			break;
		}
}

static void probe_destroy(struct sfu_probe *pr)
{
	mcheck_audio_free(pr->audio);
	mcheck_video_free(pr->video);
	mcheck_video_free(pr->batch);
	mcheck_video_dec_free(pr->vdec);
	free(pr);
}

static double thread_cpu_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The thread-pool thread this runs on yields to the media loop: a kiosk self-test decodes
 * seconds of video, and when many kiosks start at once (the morning, a server restart) the
 * decoding must take the CPU the loop leaves, not a share of the loop's (with the process
 * on one core, four busy pool threads left the loop a fifth of it, and the media socket
 * overflowed). Nice 10 (a tenth of the loop's weight when they contend, never starved:
 * the pool also hashes passwords and writes the spool, which must still progress), once per
 * thread: an unprivileged process cannot raise it back, and the pool's other work is
 * background work as well. */
static void yield_to_loop(void)
{
	static _Thread_local int done;
	if (done)
		return;
	done = 1;
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
}

/* In the thread pool: only the probe's batch, decoder and result are touched, and at the
 * final step (when the loop no longer pushes) its buffers. */
static void on_work(uv_work_t *w)
{
	struct sfu_probe *pr = w->data;
	yield_to_loop();
	double t0 = thread_cpu_s();
	if (pr->batch && !pr->vdec && !pr->analyze_failed && !(pr->vdec = mcheck_video_dec_new()))
		pr->analyze_failed = 1;
	if (pr->batch && pr->vdec)
		mcheck_video_dec_feed(pr->vdec, pr->batch);
	/* Only the figures stay: the encoded media goes as soon as it is decoded. */
	mcheck_video_free(pr->batch);
	pr->batch = NULL;
	if (pr->final) {
		if (mcheck_audio_analyze(pr->audio, &pr->result.audio) != 0)
			pr->analyze_failed = 1;
		mcheck_video_dec_result(pr->vdec, pr->video, &pr->result.video);
		mcheck_video_dec_free(pr->vdec);
		mcheck_audio_free(pr->audio);
		mcheck_video_free(pr->video);
		pr->vdec = NULL;
		pr->audio = NULL;
		pr->video = NULL;
	}
	pr->result.cpu_s += thread_cpu_s() - t0;
}

static void on_work_done(uv_work_t *w, int status)
{
	struct sfu_probe *pr = w->data;
	if (pr->cancelled) {
		probe_destroy(pr);
		return;
	}
	pr->in_pool = 0;
	if (!pr->final)
		return; /* a batch: the next tick goes on */
	unlink_probe(pr);
	if (status != 0 || pr->analyze_failed)
		LOG_ERROR("sfu", "self-test analysis failed status=%d", status);
	/* A camera that sent pictures on this connection and then stopped (a capture that hung,
	 * a canvas nobody redraws: browsers send no frame while the picture does not change) is
	 * what a receiver sees as a frozen picture, not a missing camera. */
	mcheck_video_result *v = &pr->result.video;
	if (v->state == MCHECK_MISSING && (pr->camera_sent || v->packets > 0)) {
		v->state = MCHECK_FROZEN;
		pr->result.video_stalled = 1;
	}
	pr->cb(pr->user, &pr->result);
	probe_destroy(pr);
}

static void queue(struct sfu_probe *pr)
{
	pr->in_pool = 1;
	if (uv_queue_work(pr->sfu->loop, &pr->work, on_work, on_work_done) != 0) {
		/* Cannot happen with a valid loop; decode here rather than lose the result. */
		on_work(&pr->work);
		on_work_done(&pr->work, 0);
	}
}

static void finish(struct sfu_probe *pr, int64_t now)
{
	struct sfu_peer *p = pr->peer;
	sfu_health *r = &pr->result;
	r->duration_us = now - pr->started_us;
	if (p)
		pr->camera_sent |= camera_sent(p);
	if (p && p->srtp) {
		const sfu_addr *path = ice_dest(p);
		r->has_net = 1;
		r->tcp = path && path->tcp;
		r->rtt_us = p->rtt_us;
		uint64_t expected, received;
		probe_counts(p, &expected, &received);
		if (expected > pr->expected0) {
			double e = (double)(expected - pr->expected0);
			double got =
			    received > pr->received0 ? (double)(received - pr->received0) : 0;
			r->loss = got >= e ? 0 : (e - got) / e;
		}
	}
	detach(pr);
	pr->final = 1;
	pr->batch =
	    mcheck_video_take(pr->video); /* NULL (out of memory): the last frames are lost */
	queue(pr);
}

void probe_tick(struct sfu *s, int64_t now_us)
{
	/* finish never calls back synchronously unless uv_queue_work fails, and then the
	 * callback may start probes (prepended): restart the walk after each. */
	int again = 1;
	while (again) {
		again = 0;
		for (struct sfu_probe *pr = s->probes; pr; pr = pr->next) {
			if (pr->in_pool || pr->final)
				continue;
			if (now_us >= pr->end_us) {
				finish(pr, now_us);
				again = 1;
				break;
			}
			if (now_us - pr->batch_us >= PROBE_BATCH_US) {
				pr->batch_us = now_us;
				if ((pr->batch = mcheck_video_take(pr->video)))
					queue(pr);
			}
		}
	}
}

void sfu_probe_cancel(sfu_probe *pr)
{
	if (!pr)
		return;
	detach(pr);
	unlink_probe(pr);
	if (pr->in_pool)
		pr->cancelled = 1; /* on_work_done frees it */
	else
		probe_destroy(pr);
}

void probe_cancel_all(struct sfu *s)
{
	while (s->probes)
		sfu_probe_cancel(s->probes);
}
