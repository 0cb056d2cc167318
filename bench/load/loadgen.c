/* loadgen: N one-to-one calls of synthetic peers (bench/synth: real STUN, DTLS, SRTP, Opus and
 * VP8 replayed from a loop encoded once) against a running Madoguchi over the real protocol,
 * in processes of their own. Reports delivery, one-way latency percentiles, loss per call,
 * and, given the server's pid, its CPU per forwarded packet and its RSS.
 *
 *   loadgen --url ws://127.0.0.1:8080/ws --calls 50 [--seconds 20] [--warmup 3]
 *           [--procs 1] [--kbps 1000] [--departments 8] [--server-pid PID]
 *           [--fixture tests/fixtures/chromium-156-offer.sdp] [--janus 1 --bind-ip IP]
 *           [--switch-every SECONDS [--switch-calls K] [--spares S]]
 *
 * --janus 1: the server is Janus with its VideoRoom plugin, on its WebSocket transport
 * (subprotocol janus-protocol); each call is a room with two publishers, each subscribed to
 * the other (load_janus.c). --bind-ip: the peers' address (Janus ignores loopback
 * candidates, so the bench runs it in a network namespace behind a veth pair).
 *
 * --switch-every S (Madoguchi only): during the window each of the first K calls
 * (--switch-calls, default all) is transferred to another department's desk every S seconds
 * (staggered), and the report gives how long each kiosk waited for the new clerk's keyframe
 * (load_switch.c). The desks to switch to are S spare desks per department (--spares,
 * default 1 when switching): desks N.. of the seed, so it must hold N + D*S desks.
 *
 * The database must hold the bench's kiosks, desks and departments (bench/capacity/seed.sql,
 * which bench/capacity/run.sh applies). Each worker process (--procs) takes the calls of
 * whole departments, so that every ring reaches one of its own desks. The last line is
 * RESULT {json} for scripts. */
#include "base/clock.h"
#include "base/log.h"
#include "load.h"
#include "sfu/secure.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 8

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --url ws://HOST:PORT/PATH --calls N [--seconds S] "
	                "[--warmup S] [--procs P<=8] [--kbps K] [--departments D] "
	                "[--server-pid PID] [--fixture FILE] [--janus 0|1] [--bind-ip IP] "
	                "[--switch-every S [--switch-calls K] [--spares S]]\n");
	exit(2);
}

static int parse_url(load_opts *o, const char *url)
{
	static char host[256], path[256];
	if (strncmp(url, "ws://", 5) != 0)
		return -1;
	const char *h = url + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
	if (!colon || !slash || colon > slash || (size_t)(colon - h) >= sizeof host)
		return -1;
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = 0;
	o->port = atoi(colon + 1);
	snprintf(path, sizeof path, "%s", slash);
	o->host = host;
	o->path = path;
	return o->port > 0 ? 0 : -1;
}

/* utime + stime of a process in seconds; -1 when unreadable. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	/* After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime. */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_rss_kib(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int read_all(int fd, void *data, size_t len)
{
	char *p = data;
	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Which sides never received media (the first few in detail), when setup gives up. */
static void report_stuck(load_call *calls, int n, int w, int64_t wait_us)
{
	int stuck = 0;
	for (int i = 0; i < 2 * n; i++) {
		load_side *s = calls[i / 2].side[i % 2];
		const synth_stats *st = synth_peer_stats(s->peer);
		const synth_stats *rx = synth_peer_stats(load_rx_peer(s));
		if (rx->rtp_received >= 20 || stuck++ >= 6)
			continue;
		fprintf(stderr, "  call %d %s: stun %llu/%llu dtls %llu sent %llu received %llu\n",
		        calls[i / 2].index, s->desk ? "desk" : "kiosk",
		        (unsigned long long)st->stun_responses, (unsigned long long)st->stun_checks,
		        (unsigned long long)st->dtls_handshakes,
		        (unsigned long long)(st->audio_sent + st->video_sent),
		        (unsigned long long)rx->rtp_received);
	}
	fprintf(stderr, "load: worker %d: %d of %d sides received no media within %lld s\n", w,
	        stuck, 2 * n, (long long)(wait_us / 1000000));
}

/* One worker: its calls, set up, measured when the parent says 'G', ended on 'Q'. */
static int worker(const load_opts *o, int w, int ctl, int res)
{
	log_set_level(LOG_LEVEL_WARN);
	FILE *f = fopen(o->fixture, "rb");
	char *buf = malloc(65536);
	size_t tlen = f && buf ? fread(buf, 1, 65535, f) : 0;
	if (f)
		fclose(f);
	synth_template *tmpl = tlen ? synth_template_new(buf, tlen) : NULL;
	free(buf);
	dtls_ctx *dtls = dtls_ctx_new();
	if (secure_global_init() != 0) {
		fprintf(stderr, "load: cannot initialise libsrtp\n");
		return 1;
	}
	if (!tmpl || !dtls) {
		fprintf(stderr, "load: cannot read %s (run from the repository root)\n",
		        o->fixture);
		return 1;
	}
	int spares = o->switch_every > 0 ? o->spares * o->departments : 0;
	load_call *calls = calloc((size_t)(o->calls + spares), sizeof *calls);
	int n = 0, total;
	for (int i = 0; i < o->calls + spares; i++) {
		if ((i % o->departments) % o->procs != w)
			continue;
		load_call *c = &calls[n++];
		c->index = i;
		for (int k = i < o->calls ? 0 : 1; k < 2; k++) { /* spare desks: no kiosk */
			c->side[k] = calloc(1, sizeof(load_side));
			c->side[k]->call = c;
			c->side[k]->desk = k;
		}
	}
	total = n;
	n = 0;
	while (n < total && calls[n].side[0])
		n++;
	char status = 'R';
	if ((o->janus ? load_janus_setup(o, calls, n, tmpl, dtls)
	              : load_mado_setup(o, calls, n, total, tmpl, dtls)) != 0) {
		status = 'F';
	} else {
		for (int i = 0; i < n; i++) {
			load_side *k = calls[i].side[0], *d = calls[i].side[1];
			k->serving = d->serving = &calls[i];
			k->partner = d;
			d->partner = k;
		}
		load_switch_init(o, calls, n, total);
		int64_t wait_us = 30000000 + (int64_t)n * 200000;
		load_pump(calls, total, clock_mono_us() + wait_us, load_all_flowing, -1);
		if (!load_all_flowing(calls, n)) {
			report_stuck(calls, n, w, wait_us);
			status = 'F';
		}
	}
	write_all(res, &status, 1);
	if (status == 'F')
		return 1;
	int c;
	while ((c = load_pump(calls, total, INT64_MAX, NULL, ctl)) != 'G')
		if (c < 0)
			return 1;
	load_measure_start(calls, n, total);
	load_pump(calls, total, clock_mono_us() + (int64_t)o->seconds * 1000000, NULL, -1);
	load_measure_stop();
	/* Switches still under way finish (or time out), then a second's grace for what was
	 * sent in the window and is still on its way. */
	load_pump(calls, total, clock_mono_us() + LOAD_SW_TIMEOUT_US + 100000, load_switch_settled,
	          -1);
	load_pump(calls, total, clock_mono_us() + 1000000, NULL, -1);
	load_result *r = calloc(1, sizeof *r);
	load_measure_end(calls, n, total, r);
	write_all(res, r, sizeof *r);
	free(r);
	while ((c = load_pump(calls, total, INT64_MAX, NULL, ctl)) != 'Q' && c >= 0)
		;
	for (int i = 0; i < total; i++)
		for (int k = 0; k < 2; k++) {
			if (!calls[i].side[k])
				continue;
			synth_peer_free(calls[i].side[k]->peer);
			synth_peer_free(calls[i].side[k]->sub);
			ws_free(calls[i].side[k]->w);
			free(calls[i].side[k]);
		}
	free(calls);
	dtls_ctx_free(dtls);
	synth_template_free(tmpl);
	secure_global_shutdown();
	return 0;
}

/* A switch-time histogram's percentile, ms (the bucket's upper edge). */
static double switch_ms(const uint32_t *h, double q)
{
	uint64_t total = 0, acc = 0;
	for (int b = 0; b < LOAD_SW_BUCKETS; b++)
		total += h[b];
	uint64_t want = (uint64_t)((double)total * q);
	for (int b = 0; b < LOAD_SW_BUCKETS; b++)
		if ((acc += h[b]) > want)
			return b + 1;
	return LOAD_SW_BUCKETS;
}

/* kinds: 1 audio, 2 video, 3 both. */
static double percentile_ms(const uint64_t (*h)[LOAD_HIST + 1], int kinds, double q)
{
	uint64_t total = 0, acc = 0;
	for (int k = 0; k < 2; k++)
		for (int b = 0; b <= LOAD_HIST && (kinds >> k & 1); b++)
			total += h[k][b];
	uint64_t want = (uint64_t)((double)total * q);
	for (int b = 0; b <= LOAD_HIST; b++) {
		acc += (kinds & 1 ? h[0][b] : 0) + (kinds & 2 ? h[1][b] : 0);
		if (acc > want)
			return (b + 1) * LOAD_BUCKET_US / 1000.0;
	}
	return (LOAD_HIST + 1) * LOAD_BUCKET_US / 1000.0;
}

int main(int argc, char **argv)
{
	load_opts o = {.seconds = 20,
	               .warmup = 3,
	               .procs = 1,
	               .video_kbps = 1000,
	               .departments = 8,
	               .fixture = "tests/fixtures/chromium-156-offer.sdp"};
	const char *url = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--url"))
			url = v;
		else if (!strcmp(a, "--calls"))
			o.calls = atoi(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atoi(v);
		else if (!strcmp(a, "--warmup"))
			o.warmup = atoi(v);
		else if (!strcmp(a, "--procs"))
			o.procs = atoi(v);
		else if (!strcmp(a, "--kbps"))
			o.video_kbps = atoi(v);
		else if (!strcmp(a, "--departments"))
			o.departments = atoi(v);
		else if (!strcmp(a, "--server-pid"))
			o.server_pid = atoi(v);
		else if (!strcmp(a, "--fixture"))
			o.fixture = v;
		else if (!strcmp(a, "--janus"))
			o.janus = atoi(v);
		else if (!strcmp(a, "--bind-ip"))
			o.bind_ip = v;
		else if (!strcmp(a, "--switch-every"))
			o.switch_every = atof(v);
		else if (!strcmp(a, "--switch-calls"))
			o.switch_calls = atoi(v);
		else if (!strcmp(a, "--spares"))
			o.spares = atoi(v);
		else
			usage();
	}
	if (!url || parse_url(&o, url) != 0 || o.calls < 1 || o.seconds < 1 || o.procs < 1 ||
	    o.procs > MAX_PROCS || o.departments < 1 || o.warmup < 0 || o.switch_every < 0 ||
	    o.switch_calls < 0 || o.spares < 0 || (o.switch_every > 0 && o.janus))
		usage();
	if (o.switch_every > 0 && (o.switch_calls == 0 || o.switch_calls > o.calls))
		o.switch_calls = o.calls;
	if (o.switch_every > 0 && o.spares == 0)
		o.spares = 1;
	if (o.procs > o.departments)
		o.procs = o.departments;
	/* Two sockets per side: raise the descriptor limit to what the system allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	int ctl[MAX_PROCS], res[MAX_PROCS];
	pid_t pids[MAX_PROCS];
	for (int w = 0; w < o.procs; w++) {
		int a[2], b[2];
		if (pipe(a) != 0 || pipe(b) != 0)
			return 1;
		pids[w] = fork();
		if (pids[w] == 0) {
			close(a[1]);
			close(b[0]);
			_exit(worker(&o, w, a[0], b[1]));
		}
		close(a[0]);
		close(b[1]);
		ctl[w] = a[1];
		res[w] = b[0];
	}
	int ok = 1;
	for (int w = 0; w < o.procs; w++) {
		char c = 0;
		if (read_all(res[w], &c, 1) != 0 || c != 'R')
			ok = 0;
	}
	if (!ok) {
		fprintf(stderr, "load: setup failed\n");
		for (int w = 0; w < o.procs; w++)
			kill(pids[w], SIGTERM);
		while (wait(NULL) > 0)
			;
		printf("RESULT {\"calls\":%d,\"failed\":true}\n", o.calls);
		return 1;
	}
	fprintf(stderr, "load: %d calls up, media flowing; measuring for %d s\n", o.calls,
	        o.seconds);
	sleep((unsigned)o.warmup);
	double scpu0 = o.server_pid ? proc_cpu_s(o.server_pid) : -1;
	int64_t t0 = clock_mono_us();
	for (int w = 0; w < o.procs; w++)
		write_all(ctl[w], "G", 1);
	/* The server's CPU over the same window as the workers' (they add a grace second for
	 * packets in flight, which the server's figure must not include). */
	int64_t t_end = t0 + (int64_t)o.seconds * 1000000;
	while (clock_mono_us() < t_end)
		usleep((useconds_t)(t_end - clock_mono_us() > 100000 ? 100000
		                                                     : t_end - clock_mono_us()));
	double span = (double)(clock_mono_us() - t0) / 1e6;
	double scpu = o.server_pid ? proc_cpu_s(o.server_pid) - scpu0 : -1;
	long rss = o.server_pid ? proc_rss_kib(o.server_pid) : -1;
	load_result sum = {0}, *r = calloc(1, sizeof *r);
	for (int w = 0; w < o.procs; w++) {
		if (read_all(res[w], r, sizeof *r) != 0) {
			ok = 0;
			continue;
		}
		sum.calls += r->calls;
		sum.calls_lossy += r->calls_lossy;
		sum.worst_loss = r->worst_loss > sum.worst_loss ? r->worst_loss : sum.worst_loss;
		sum.sent += r->sent;
		sum.received += r->received;
		sum.matched += r->matched;
		sum.unmatched += r->unmatched;
		sum.nacks_sent += r->nacks_sent;
		sum.plis_sent += r->plis_sent;
		sum.keyframe_requests += r->keyframe_requests;
		sum.srtp_failures += r->srtp_failures;
		sum.cpu_s += r->cpu_s;
		for (int k = 0; k < 2; k++)
			for (int b = 0; b <= LOAD_HIST; b++)
				sum.hist[k][b] += r->hist[k][b];
		load_switch_result *a = &sum.sw, *b = &r->sw;
		a->started += b->started;
		a->done += b->done;
		a->failed += b->failed;
		a->skipped += b->skipped;
		a->with_request += b->with_request;
		a->max_us = b->max_us > a->max_us ? b->max_us : a->max_us;
		for (int k = 0; k < 3; k++)
			for (int i = 0; i < LOAD_SW_BUCKETS; i++)
				a->hist[k][i] += b->hist[k][i];
	}
	free(r);
	for (int w = 0; w < o.procs; w++)
		write_all(ctl[w], "Q", 1);
	while (wait(NULL) > 0)
		;
	double delivered = sum.sent ? (double)sum.received / (double)sum.sent : 0;
	double p50 = percentile_ms(sum.hist, 3, 0.50);
	double p90 = percentile_ms(sum.hist, 3, 0.90);
	double p99 = percentile_ms(sum.hist, 3, 0.99);
	double p999 = percentile_ms(sum.hist, 3, 0.999);
	double fwd_pps = (double)sum.received / span;
	double us_fwd = scpu >= 0 && sum.received ? scpu * 1e6 / (double)sum.received : -1;
	printf("calls=%d procs=%d seconds=%.1f video_kbps=%d\n", o.calls, o.procs, span,
	       o.video_kbps);
	printf("delivered=%.5f (%llu of %llu media packets) lossy_calls=%u worst_call_loss=%.5f\n",
	       delivered, (unsigned long long)sum.received, (unsigned long long)sum.sent,
	       sum.calls_lossy, sum.worst_loss);
	printf("one-way latency ms: p50=%.1f p90=%.1f p99=%.1f p99.9=%.1f (%llu packets matched, "
	       "%llu not)\n",
	       p50, p90, p99, p999, (unsigned long long)sum.matched,
	       (unsigned long long)sum.unmatched);
	printf("  audio p50=%.1f p99=%.1f; video p50=%.1f p99=%.1f\n",
	       percentile_ms(sum.hist, 1, 0.5), percentile_ms(sum.hist, 1, 0.99),
	       percentile_ms(sum.hist, 2, 0.5), percentile_ms(sum.hist, 2, 0.99));
	printf("receivers: nacks=%llu plis=%llu; senders: keyframe requests=%llu; srtp "
	       "failures=%llu\n",
	       (unsigned long long)sum.nacks_sent, (unsigned long long)sum.plis_sent,
	       (unsigned long long)sum.keyframe_requests, (unsigned long long)sum.srtp_failures);
	printf("forwarded=%.0f pkt/s; server cpu=%.1f%% of a core, %.2f us per forwarded packet, "
	       "rss=%ld KiB\n",
	       fwd_pps, scpu >= 0 ? 100 * scpu / span : -1, us_fwd, rss);
	printf("generator cpu=%.1f%% of a core (%d process%s), %.2f us per packet received\n",
	       100 * sum.cpu_s / span, o.procs, o.procs > 1 ? "es" : "",
	       sum.received ? sum.cpu_s * 1e6 / (double)sum.received : -1);
	char sw[256] = "";
	if (o.switch_every > 0) {
		const load_switch_result *x = &sum.sw;
		double k50 = switch_ms(x->hist[2], 0.5), k95 = switch_ms(x->hist[2], 0.95);
		double kmax = x->max_us / 1000.0;
		printf("switches: %u calls, one every %.1f s each: %u started, %u showed the new "
		       "clerk's keyframe, %u failed (none within %d s), %u skipped (no idle desk)\n",
		       o.switch_calls, o.switch_every, x->started, x->done, x->failed,
		       LOAD_SW_TIMEOUT_US / 1000000, x->skipped);
		printf("  transfer sent -> new clerk's keyframe at the kiosk ms: p50=%.0f p95=%.0f "
		       "max=%.1f\n",
		       x->done ? k50 : -1, x->done ? k95 : -1, kmax);
		printf("  transfer sent -> new desk rang p50=%.0f p95=%.0f; -> first packet of the new "
		       "desk p50=%.0f p95=%.0f; new desks asked for a keyframe in %u of %u\n",
		       switch_ms(x->hist[0], 0.5), switch_ms(x->hist[0], 0.95),
		       switch_ms(x->hist[1], 0.5), switch_ms(x->hist[1], 0.95), x->with_request,
		       x->done);
		snprintf(sw, sizeof sw,
		         ",\"switches\":%u,\"switch_shown\":%u,\"switch_failed\":%u,"
		         "\"switch_p50_ms\":%.0f,\"switch_p95_ms\":%.0f,\"switch_max_ms\":%.1f",
		         x->started, x->done, x->failed, x->done ? k50 : -1, x->done ? k95 : -1, kmax);
	}
	printf("RESULT {\"calls\":%d,\"delivered\":%.5f,\"lossy_calls\":%u,\"worst_loss\":%.5f,"
	       "\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"fwd_pps\":%.0f,\"server_cpu_pct\":%.1f,"
	       "\"us_per_fwd_packet\":%.2f,\"server_rss_kib\":%ld,\"gen_cpu_pct\":%.1f%s}\n",
	       o.calls, delivered, sum.calls_lossy, sum.worst_loss, p50, p99, fwd_pps,
	       scpu >= 0 ? 100 * scpu / span : -1, us_fwd, rss, 100 * sum.cpu_s / span, sw);
	return ok ? 0 : 1;
}
