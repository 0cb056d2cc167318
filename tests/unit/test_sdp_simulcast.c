/* Simulcast in SDP (RFC 8853, RFC 8851): the offer real Chromium 156 makes for the pages'
 * transceivers with the camera in three layers (tests/fixtures/chromium-156-simulcast-offer.sdp,
 * captured by tests/fixtures/capture-simulcast-offer.mjs), parsed and answered, alone and
 * through a real media plane with the pages' role map; the rules for which rids count; and
 * offers without simulcast answered exactly as before. */
#include "check.h"
#include "sdp_text.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>

#define SIM_FIXTURE   "tests/fixtures/chromium-156-simulcast-offer.sdp"
#define PLAIN_FIXTURE "tests/fixtures/chromium-156-offer.sdp"
#define FF_FIXTURE    "tests/fixtures/firefox-153-offer.sdp"
#define RID_URI  "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define RRID_URI "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

static void params(sdp_answer_params *p)
{
	memset(p, 0, sizeof *p);
	p->ice_ufrag = "srvU";
	p->ice_pwd = "abcdefghijklmnopqrstuvwx";
	p->fingerprint = SERVER_FP;
	p->setup = SDP_SETUP_PASSIVE;
	snprintf(p->candidates[0].ip, sizeof p->candidates[0].ip, "127.0.0.1");
	p->candidates[0].port = 40000;
	p->n_candidates = 1;
}

/* The extmap id of uri in an SDP section, 0 when absent. */
static int extmap_id(const char *sec, const char *uri)
{
	for (const char *p = sec; (p = strstr(p, "a=extmap:")) != NULL; p++) {
		int id = atoi(p + 9);
		const char *sp = strchr(p, ' ');
		const char *eol = strstr(p, "\r\n");
		if (sp && eol && sp < eol && (size_t)(eol - sp - 1) == strlen(uri) &&
		    strncmp(sp + 1, uri, strlen(uri)) == 0)
			return id;
	}
	return 0;
}

static void test_chromium_simulcast(void)
{
	size_t len = 0;
	char *sdp = check_read_file(SIM_FIXTURE, &len);
	CHECK(sdp != NULL);
	if (!sdp)
		return;
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128], sec[8192];
	CHECK_EQ_INT(sdp_parse_offer(sdp, len, o, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(o->n_media, 5);
	const sdp_media *cam = &o->media[1];
	CHECK_EQ_INT(cam->kind, SDP_KIND_VIDEO);
	CHECK_EQ_INT(cam->n_rids, 3);
	CHECK_EQ_STR(cam->rids[0], "q");
	CHECK_EQ_STR(cam->rids[1], "h");
	CHECK_EQ_STR(cam->rids[2], "f");
	CHECK_EQ_INT(cam->ext_rid, extmap_id(section(sdp, 1, sec, sizeof sec), RID_URI));
	CHECK_EQ_INT(cam->ext_rrid, extmap_id(sec, RRID_URI));
	CHECK(cam->ext_rid > 0 && cam->ext_rrid > 0);
	CHECK_EQ_INT(cam->n_ssrc, 0); /* Chromium names no SSRCs for simulcast */
	CHECK(cam->pt_vp8 >= 0 && cam->pt_vp8_rtx >= 0);
	/* The other video m-lines are not simulcast, though they offer the rid extensions. */
	CHECK_EQ_INT(o->media[2].n_rids, 0);
	CHECK_EQ_INT(o->media[4].n_rids, 0);
	CHECK_EQ_INT(o->media[0].n_rids, 0);

	/* Answered with simulcast on the camera only. */
	sdp_answer_params p;
	params(&p);
	p.media[1].send_ssrc = 1234;
	p.media[1].simulcast = 1;
	char *ans = malloc(32768);
	CHECK(sdp_build_answer(o, &p, ans, 32768) > 0);
	section(ans, 1, sec, sizeof sec);
	CHECK(has_line(sec, "a=rid:q recv"));
	CHECK(has_line(sec, "a=rid:h recv"));
	CHECK(has_line(sec, "a=rid:f recv"));
	CHECK(has_line(sec, "a=simulcast:recv q;h;f"));
	CHECK_EQ_INT(extmap_id(sec, RID_URI), cam->ext_rid);
	CHECK_EQ_INT(extmap_id(sec, RRID_URI), cam->ext_rrid);
	CHECK(has_line(sec, "a=sendrecv"));
	for (int i = 0; i < 5; i++) {
		if (i == 1)
			continue;
		section(ans, i, sec, sizeof sec);
		CHECK(!strstr(sec, "a=rid") && !strstr(sec, "a=simulcast") &&
		      !strstr(sec, RID_URI));
	}
	/* Without the flag (e.g. a document m-line) the same m-line is answered plainly. */
	p.media[1].simulcast = 0;
	CHECK(sdp_build_answer(o, &p, ans, 32768) > 0);
	CHECK(!strstr(ans, "a=simulcast") && !strstr(ans, "a=rid:") && !strstr(ans, RID_URI));
	/* The answer parses back (as an offer would: recv rids are not send layers). */
	p.media[1].simulcast = 1;
	CHECK(sdp_build_answer(o, &p, ans, 32768) > 0);
	sdp_offer *back = calloc(1, sizeof *back);
	CHECK_EQ_INT(sdp_parse_offer(ans, strlen(ans), back, err, sizeof err), 0);
	CHECK_EQ_INT(back->media[1].n_rids, 0);
	free(back);
	free(ans);
	free(o);
	free(sdp);
}

/* Simulcast off (the default sfu_config): the same Chromium offer is answered without
 * a=simulcast, a=rid or the rid extensions on any m-line, so Chromium sends the camera as one
 * stream, and the camera is one track as before simulcast. */
static void test_chromium_simulcast_off(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .n_ips = 1};
	cfg.ips[0] = "127.0.0.1";
	sfu *s = sfu_new(&loop, &cfg);
	size_t len = 0;
	char *sdp = check_read_file(SIM_FIXTURE, &len);
	CHECK(s != NULL && sdp != NULL);
	if (s && sdp) {
		sdp_offer *o = calloc(1, sizeof *o);
		char err[128] = "";
		CHECK_EQ_INT(sdp_parse_offer(sdp, len, o, err, sizeof err), 0);
		CHECK_EQ_INT(o->media[1].n_rids, 3); /* the offer does carry the layers */
		sfu_peer *peer = sfu_peer_new(s, "chromium-off");
		sfu_track_role roles[5];
		static const enum sfu_role order[5] = {
		    SFU_ROLE_MIC, SFU_ROLE_CAMERA, SFU_ROLE_DOCUMENT, SFU_ROLE_SLOT, SFU_ROLE_SLOT};
		for (int i = 0; i < 5; i++) {
			snprintf(roles[i].mid, sizeof roles[i].mid, "%s", o->media[i].mid);
			roles[i].role = order[i];
		}
		char *answer = NULL;
		CHECK_EQ_INT(sfu_peer_offer(peer, sdp, len, roles, 5, &answer, err, sizeof err), 0);
		CHECK_EQ_STR(err, "");
		CHECK_EQ_INT(peer->n_in, 3); /* mic, camera (one stream), document */
		for (int i = 0; i < peer->n_in; i++)
			CHECK_EQ_INT(peer->in[i].n_layers, 0);
		CHECK(answer != NULL);
		if (answer) {
			CHECK(strstr(answer, "m=video") != NULL);
			CHECK(!strstr(answer, "a=simulcast"));
			CHECK(!strstr(answer, "a=rid:"));
			CHECK(!strstr(answer, RID_URI) && !strstr(answer, RRID_URI));
		}
		free(answer);
		free(o);
		sfu_peer_free(peer);
	}
	free(sdp);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* The fixture through a real media plane with the pages' role map: the camera becomes three
 * layer tracks (SSRCs unknown until the rid extension names them), the document one track,
 * and only the camera is answered with simulcast. An ICE restart (the same offer again)
 * keeps the layers. */
static void test_chromium_simulcast_peer(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .n_ips = 1, .simulcast = 1};
	cfg.ips[0] = "127.0.0.1";
	sfu *s = sfu_new(&loop, &cfg);
	size_t len = 0;
	char *sdp = check_read_file(SIM_FIXTURE, &len);
	CHECK(s != NULL && sdp != NULL);
	if (s && sdp) {
		sdp_offer *o = calloc(1, sizeof *o);
		char err[128] = "";
		CHECK_EQ_INT(sdp_parse_offer(sdp, len, o, err, sizeof err), 0);
		sfu_peer *peer = sfu_peer_new(s, "chromium");
		sfu_track_role roles[5];
		static const enum sfu_role order[5] = {
		    SFU_ROLE_MIC, SFU_ROLE_CAMERA, SFU_ROLE_DOCUMENT, SFU_ROLE_SLOT, SFU_ROLE_SLOT};
		for (int i = 0; i < 5; i++) {
			snprintf(roles[i].mid, sizeof roles[i].mid, "%s", o->media[i].mid);
			roles[i].role = order[i];
		}
		char *answer = NULL;
		CHECK_EQ_INT(sfu_peer_offer(peer, sdp, len, roles, 5, &answer, err, sizeof err), 0);
		CHECK_EQ_STR(err, "");
		CHECK_EQ_INT(peer->n_in, 5); /* mic, three camera layers, document */
		CHECK_EQ_INT(peer->n_out, 5);
		int layers = 0;
		for (int i = 0; i < peer->n_in; i++) {
			in_track *t = &peer->in[i];
			if (t->role == SFU_ROLE_CAMERA) {
				CHECK_EQ_INT(t->n_layers, 3);
				CHECK_EQ_INT(t->layer, layers);
				CHECK_EQ_STR(t->rid, o->media[1].rids[layers]);
				CHECK_EQ_INT(t->ssrc, 0);
				CHECK_EQ_INT(t->rtx_ssrc, 0);
				CHECK_EQ_INT(t->pt, o->media[1].pt_vp8);
				layers++;
			} else {
				CHECK_EQ_INT(t->n_layers, 0);
			}
		}
		CHECK_EQ_INT(layers, 3);
		CHECK_EQ_INT(peer->ext_rid, o->media[1].ext_rid);
		CHECK_EQ_INT(peer->ext_rrid, o->media[1].ext_rrid);
		char sec[8192];
		if (answer) {
			CHECK(has_line(section(answer, 1, sec, sizeof sec),
			               "a=simulcast:recv q;h;f"));
			CHECK(!strstr(section(answer, 2, sec, sizeof sec), "a=simulcast"));
		}
		free(answer);
		answer = NULL;
		/* A view hint for a slot, and for something that is not one. */
		CHECK_EQ_INT(sfu_peer_set_view(peer, o->media[4].mid, 320, 240), 0);
		CHECK_EQ_INT(sfu_peer_set_view(peer, "zz", 320, 240), -1);
		free(o);
		sfu_peer_free(peer);
	}
	free(sdp);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	secure_global_shutdown();
}

#define SESSION                                                                                    \
	"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"                                      \
	"a=group:BUNDLE 0\r\n"                                                                     \
	"a=fingerprint:sha-256 "                                                                   \
	"99:9A:E3:39:BB:22:B1:AC:17:1F:8D:2E:6F:3F:DE:DD:D4:4C:65:18:90:9A:A1:FC:14:B5:AF:73:99:"  \
	"1A:9D:16\r\n"                                                                             \
	"a=ice-ufrag:SeSs\r\na=ice-pwd:sessionpasswordsessionpw\r\na=setup:actpass\r\n"            \
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=rtcp-mux\r\na=mid:0\r\n"       \
	"a=sendrecv\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"

#define RID_EXT "a=extmap:10 " RID_URI "\r\na=extmap:11 " RRID_URI "\r\n"

/* Parses text and returns the first m-line's rids joined by ',' into out. */
static const char *rids_of(const char *text, char *out, size_t cap)
{
	static sdp_offer o;
	char err[128];
	out[0] = '\0';
	if (sdp_parse_offer(text, strlen(text), &o, err, sizeof err) != 0) {
		snprintf(out, cap, "error: %.100s", err);
		return out;
	}
	size_t n = 0;
	for (int i = 0; i < o.media[0].n_rids; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", o.media[0].rids[i]);
	return out;
}

static void test_rid_rules(void)
{
	char r[128];
	/* Three declared, listed layers. */
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:a send\r\na=rid:b send\r\na=rid:c send\r\n"
	                                     "a=simulcast:send a;b;c\r\n",
	                     r, sizeof r),
	             "a,b,c");
	/* The order is a=simulcast's; the first alternative of a stream; paused ones and rids
	 * not declared for sending are left out; more than three are cut. */
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:a send\r\na=rid:b send\r\na=rid:c send\r\n"
	                                     "a=rid:d send\r\na=rid:e send\r\na=rid:x recv\r\n"
	                                     "a=simulcast:send c,a;~b;x;a;d;e\r\n",
	                     r, sizeof r),
	             "c,a,d");
	/* One layer left is no simulcast. */
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:a send\r\na=rid:b send\r\n"
	                                     "a=simulcast:send a;~b\r\n",
	                     r, sizeof r),
	             "");
	/* Without the rid extension the layers could not be told apart. */
	CHECK_EQ_STR(rids_of(SESSION "a=rid:a send\r\na=rid:b send\r\na=simulcast:send a;b\r\n", r,
	                     sizeof r),
	             "");
	/* No a=simulcast, or only recv: nothing. */
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:a send\r\na=rid:b send\r\n", r, sizeof r), "");
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:a recv\r\na=rid:b recv\r\n"
	                                     "a=simulcast:recv a;b\r\n",
	                     r, sizeof r),
	             "");
	/* Rids outside the grammar or too long are ignored, not fatal. */
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:a\"b send\r\na=rid:ok send\r\n"
	                                     "a=rid:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa send\r\n"
	                                     "a=rid:b-2 send\r\na=simulcast:send ok;b-2;a\"b\r\n",
	                     r, sizeof r),
	             "ok,b-2");
	CHECK_EQ_STR(rids_of(SESSION RID_EXT "a=rid:\r\na=rid: send\r\na=simulcast:\r\n"
	                                     "a=simulcast:send\r\na=simulcast:send ;;,;~\r\n",
	                     r, sizeof r),
	             "");
}

/* Offers without simulcast give the same answer as before: no rid lines, no extensions
 * beyond the ones answered before. */
static void test_plain_offers_unchanged(void)
{
	const char *files[] = {PLAIN_FIXTURE, FF_FIXTURE};
	for (int f = 0; f < 2; f++) {
		size_t len = 0;
		char *sdp = check_read_file(files[f], &len);
		CHECK(sdp != NULL);
		if (!sdp)
			continue;
		sdp_offer *o = calloc(1, sizeof *o);
		char err[128];
		CHECK_EQ_INT(sdp_parse_offer(sdp, len, o, err, sizeof err), 0);
		sdp_answer_params p;
		params(&p);
		for (int i = 0; i < o->n_media; i++) {
			CHECK_EQ_INT(o->media[i].n_rids, 0);
			p.media[i].simulcast = 1; /* asked for, but nothing is offered */
		}
		char *ans = malloc(32768);
		CHECK(sdp_build_answer(o, &p, ans, 32768) > 0);
		CHECK(!strstr(ans, "a=rid") && !strstr(ans, "a=simulcast") &&
		      !strstr(ans, RID_URI) && !strstr(ans, RRID_URI));
		free(ans);
		free(o);
		free(sdp);
	}
}

int main(void)
{
	test_chromium_simulcast();
	test_chromium_simulcast_off();
	test_chromium_simulcast_peer();
	test_rid_rules();
	test_plain_offers_unchanged();
	return check_done("sdp_simulcast");
}
