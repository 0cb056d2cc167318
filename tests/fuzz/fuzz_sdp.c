/* Fuzz target for sdp.c: parse arbitrary bytes as an offer; when that succeeds, build an
 * answer with plausible server parameters, check it is NUL-terminated at the returned
 * length, and parse it back: an answer that keeps at least one m-line is itself a valid
 * description, so failing to re-parse it is a bug worth a crash. */
#include "sfu/sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP_SERVER                                                                          \
	"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:" \
	"89:AB:CD:EF"

static void params_for(const sdp_offer *o, const uint8_t *data, size_t size,
		       sdp_answer_params *p)
{
	memset(p, 0, sizeof *p);
	p->ice_ufrag = "fzUf";
	p->ice_pwd = "fuzzpasswordfuzzpassword";
	p->fingerprint = FP_SERVER;
	p->setup = size % 3 == 0 ? SDP_SETUP_NONE : SDP_SETUP_PASSIVE;
	snprintf(p->candidates[0].ip, sizeof p->candidates[0].ip, "192.0.2.1");
	p->candidates[0].port = 50000;
	snprintf(p->candidates[1].ip, sizeof p->candidates[1].ip, "2001:db8::1");
	p->candidates[1].port = 443;
	p->candidates[1].tcp = 1;
	p->n_candidates = 2;
	/* Which m-lines the server sends on depends on the input, to reach every direction. */
	for (int i = 0; i < o->n_media; i++) {
		uint8_t b = size ? data[(size_t)i * 7 % size] : 0;
		if (b & 1) {
			p->media[i].send_ssrc = 0x10000u + (uint32_t)i;
			p->media[i].send_rtx_ssrc = (b & 2) ? 0x20000u + (uint32_t)i : 0;
			snprintf(p->media[i].msid_stream, sizeof p->media[i].msid_stream, "s%d", i);
			if (b & 4)
				snprintf(p->media[i].msid_track, sizeof p->media[i].msid_track, "t%d", i);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sdp_offer offer, back;
	static sdp_answer_params p;
	static char answer[32768];
	char err[96];
	if (sdp_parse_offer((const char *)data, size, &offer, err, sizeof err) != 0) {
		if (!memchr(err, '\0', sizeof err) || !err[0])
			abort(); /* every failure must leave a reason */
		return 0;
	}
	params_for(&offer, data, size, &p);
	int n = sdp_build_answer(&offer, &p, answer, sizeof answer);
	if (n < 0 || strlen(answer) != (size_t)n)
		abort();
	/* A cramped buffer must fail cleanly, never overrun. */
	char small[64];
	if (sdp_build_answer(&offer, &p, small, sizeof small) != -1 || small[0])
		abort();
	int accepted = 0;
	for (int i = 0; i < offer.n_media; i++)
		accepted += sdp_media_accepted(&offer.media[i]);
	if (accepted && sdp_parse_offer(answer, (size_t)n, &back, err, sizeof err) != 0) {
		fprintf(stderr, "answer does not re-parse: %s\n%s", err, answer);
		abort();
	}
	return 0;
}
