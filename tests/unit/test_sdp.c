/* Tests for sdp.c: real Chromium 156 and Firefox 153 offers, the client's five-m-line offer,
 * the answers built for them (checked line by line and re-parsed), offers that must be
 * refused, and the Firefox offer negotiated by a real media plane (sfu_peer_offer). */
#include "check.h"
#include "sdp_text.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>

#define FIXTURE    "tests/fixtures/chromium-156-offer.sdp"
#define FF_FIXTURE "tests/fixtures/firefox-153-offer.sdp"
#define FP                                                                                         \
	"99:9A:E3:39:BB:22:B1:AC:17:1F:8D:2E:6F:3F:DE:DD:D4:4C:65:18:90:9A:A1:FC:14:B5:AF:73:"     \
	"99:1A:9D:16"
#define TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

static void default_params(sdp_answer_params *p)
{
	memset(p, 0, sizeof *p);
	p->ice_ufrag = "srvU";
	p->ice_pwd = "abcdefghijklmnopqrstuvwx";
	p->fingerprint = SERVER_FP;
	p->setup = SDP_SETUP_PASSIVE;
	snprintf(p->candidates[0].ip, sizeof p->candidates[0].ip, "127.0.0.1");
	p->candidates[0].port = 40000;
	snprintf(p->candidates[1].ip, sizeof p->candidates[1].ip, "127.0.0.1");
	p->candidates[1].port = 40001;
	p->candidates[1].tcp = 1;
	p->n_candidates = 2;
}

static void test_fixture(void)
{
	size_t len = 0;
	char *sdp = check_read_file(FIXTURE, &len);
	CHECK(sdp != NULL);
	if (!sdp)
		return;
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128];
	CHECK_EQ_INT(sdp_parse_offer(sdp, len, o, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(o->n_media, 2);
	CHECK_EQ_INT(o->n_bundle, 2);
	CHECK_EQ_STR(o->bundle_mids[0], "0");
	CHECK_EQ_STR(o->bundle_mids[1], "1");
	CHECK_EQ_STR(o->ice_ufrag, "CZ1V");
	CHECK_EQ_STR(o->ice_pwd, "xw/Vr7OUJRJT30PyTAkabgCX");
	CHECK_EQ_INT(o->setup, SDP_SETUP_ACTPASS);
	CHECK_EQ_INT(o->ice_lite, 0);
	CHECK_EQ_INT(o->has_fingerprint, 1);
	CHECK_EQ_INT(o->fingerprint[0], 0x99);
	CHECK_EQ_INT(o->fingerprint[1], 0x9A);
	CHECK_EQ_INT(o->fingerprint[2], 0xE3);
	CHECK_EQ_INT(o->fingerprint[31], 0x16);

	const sdp_media *a = &o->media[0], *v = &o->media[1];
	CHECK_EQ_INT(a->kind, SDP_KIND_AUDIO);
	CHECK_EQ_STR(a->mid, "0");
	CHECK_EQ_STR(a->proto, "UDP/TLS/RTP/SAVPF");
	CHECK_EQ_INT(a->dir, SDP_SENDRECV);
	CHECK_EQ_INT(a->rejected, 0);
	CHECK_EQ_INT(a->pt_opus, 111);
	CHECK_EQ_INT(a->pt_vp8, -1);
	CHECK_EQ_STR(a->opus_fmtp, "minptime=10;useinbandfec=1");
	CHECK_EQ_INT(a->pt_red, 63); /* red/48000/2 with fmtp 111/111 */
	CHECK_EQ_INT(a->fb_twcc, 1);
	CHECK_EQ_INT(a->fb_nack, 0);
	CHECK_EQ_INT(a->ext_audio_level, 1);
	CHECK_EQ_INT(a->ext_abs_send_time, 2);
	CHECK_EQ_INT(a->ext_twcc, 3);
	CHECK_EQ_INT(a->ext_mid, 4);
	CHECK_EQ_INT(a->rtcp_mux, 1);
	CHECK_EQ_INT(a->rtcp_rsize, 1);
	CHECK_EQ_INT(a->n_ssrc, 1);
	CHECK_EQ_INT(a->ssrc[0], 4124807876u);
	CHECK_EQ_INT(a->rtx_ssrc, 0);
	CHECK_EQ_STR(a->ice_ufrag, "CZ1V");
	CHECK(sdp_media_accepted(a));

	CHECK_EQ_INT(v->kind, SDP_KIND_VIDEO);
	CHECK_EQ_STR(v->mid, "1");
	CHECK_EQ_INT(v->pt_vp8, 96);
	CHECK_EQ_INT(v->pt_vp8_rtx, 97);
	CHECK_EQ_INT(v->pt_opus, -1);
	CHECK_EQ_INT(v->pt_red, -1); /* red/90000 is video RED, not ours */
	CHECK(v->fb_nack && v->fb_pli && v->fb_fir && v->fb_twcc && v->fb_remb);
	CHECK_EQ_INT(v->ext_mid, 4);
	CHECK_EQ_INT(v->ext_twcc, 3);
	CHECK_EQ_INT(v->ext_toffset, 14);
	CHECK_EQ_INT(v->ext_audio_level, 0);
	CHECK_EQ_INT(v->n_ssrc, 2);
	CHECK_EQ_INT(v->ssrc[0], 747268101u);
	CHECK_EQ_INT(v->ssrc[1], 717924545u);
	CHECK_EQ_INT(v->rtx_ssrc, 717924545u);

	/* Answer: the server sends audio and video back on both m-lines. */
	sdp_answer_params p;
	default_params(&p);
	p.media[0].send_ssrc = 1001;
	snprintf(p.media[0].msid_stream, sizeof p.media[0].msid_stream, "mdg");
	snprintf(p.media[0].msid_track, sizeof p.media[0].msid_track, "a0");
	snprintf(p.media[0].cname, sizeof p.media[0].cname, "srv");
	p.media[1].send_ssrc = 2002;
	p.media[1].send_rtx_ssrc = 2003;
	snprintf(p.media[1].msid_stream, sizeof p.media[1].msid_stream, "mdg");
	snprintf(p.media[1].msid_track, sizeof p.media[1].msid_track, "v1");
	snprintf(p.media[1].cname, sizeof p.media[1].cname, "srv");
	char ans[8192], sec[4096];
	int n = sdp_build_answer(o, &p, ans, sizeof ans);
	CHECK(n > 0);
	CHECK_EQ_INT(strlen(ans), n);
	CHECK(strncmp(ans, "v=0\r\no=- ", 9) == 0);
	CHECK(has_line(ans, "a=ice-lite"));
	CHECK(has_line(ans, "a=group:BUNDLE 0 1"));
	CHECK(has_line(ans, "s=-"));
	CHECK(has_line(ans, "t=0 0"));
	CHECK(strstr(ans, "\n\n") == NULL && strstr(ans + n - 2, "\r\n") != NULL);

	section(ans, 0, sec, sizeof sec);
	/* RED before Opus: Chromium sends RED only when the answer prefers it. */
	CHECK(has_line(sec, "m=audio 40000 UDP/TLS/RTP/SAVPF 63 111"));
	CHECK(has_line(sec, "c=IN IP4 127.0.0.1"));
	CHECK(has_line(sec, "a=ice-ufrag:srvU"));
	CHECK(has_line(sec, "a=ice-pwd:abcdefghijklmnopqrstuvwx"));
	CHECK(has_line(sec, "a=fingerprint:sha-256 " SERVER_FP));
	CHECK(has_line(sec, "a=setup:passive"));
	CHECK(has_line(sec, "a=mid:0"));
	CHECK(has_line(sec, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
	CHECK(has_line(sec, "a=extmap:3 " TWCC_URI));
	CHECK(has_line(sec, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"));
	CHECK(has_line(sec, "a=sendrecv"));
	CHECK(has_line(sec, "a=rtcp-mux"));
	CHECK(has_line(sec, "a=rtcp-rsize"));
	CHECK(has_line(sec, "a=rtpmap:111 opus/48000/2"));
	CHECK(has_line(sec, "a=fmtp:111 minptime=10;useinbandfec=1"));
	CHECK(has_line(sec, "a=rtcp-fb:111 transport-cc"));
	CHECK(has_line(sec, "a=rtpmap:63 red/48000/2"));
	CHECK(has_line(sec, "a=fmtp:63 111/111"));
	CHECK(!strstr(sec, "a=rtcp-fb:63"));
	CHECK(!strstr(sec, "G722") && !strstr(sec, "telephone-event") && !strstr(sec, "CN/"));
	CHECK(has_line(sec, "a=msid:mdg a0"));
	CHECK(has_line(sec, "a=ssrc:1001 cname:srv"));
	CHECK(has_line(sec, "a=ssrc:1001 msid:mdg a0"));
	CHECK(has_line(sec, "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"));
	CHECK(has_line(sec,
	               "a=candidate:2 1 tcp 1671430143 127.0.0.1 40001 typ host tcptype passive"));
	CHECK(has_line(sec, "a=end-of-candidates"));

	section(ans, 1, sec, sizeof sec);
	CHECK(has_line(sec, "m=video 40000 UDP/TLS/RTP/SAVPF 96 97"));
	CHECK(has_line(sec, "a=mid:1"));
	CHECK(has_line(sec, "a=rtpmap:96 VP8/90000"));
	CHECK(has_line(sec, "a=rtcp-fb:96 goog-remb"));
	CHECK(has_line(sec, "a=rtcp-fb:96 transport-cc"));
	CHECK(has_line(sec, "a=rtcp-fb:96 ccm fir"));
	CHECK(has_line(sec, "a=rtcp-fb:96 nack"));
	CHECK(has_line(sec, "a=rtcp-fb:96 nack pli"));
	CHECK(has_line(sec, "a=rtpmap:97 rtx/90000"));
	CHECK(has_line(sec, "a=fmtp:97 apt=96"));
	CHECK(!strstr(sec, "H264") && !strstr(sec, "toffset") && !strstr(sec, "audio-level"));
	CHECK(
	    has_line(sec, "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"));
	CHECK(has_line(sec, "a=ssrc-group:FID 2002 2003"));
	CHECK(has_line(sec, "a=ssrc:2002 msid:mdg v1"));
	CHECK(has_line(sec, "a=ssrc:2003 cname:srv"));
	CHECK(has_line(sec, "a=end-of-candidates"));

	/* The answer is itself valid SDP for the parser. */
	sdp_offer *back = calloc(1, sizeof *back);
	CHECK_EQ_INT(sdp_parse_offer(ans, (size_t)n, back, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(back->ice_lite, 1);
	CHECK_EQ_INT(back->setup, SDP_SETUP_PASSIVE);
	CHECK_EQ_STR(back->ice_ufrag, "srvU");
	CHECK_EQ_INT(back->fingerprint[1], 0x23);
	CHECK_EQ_INT(back->n_media, 2);
	CHECK_EQ_INT(back->media[0].pt_opus, 111);
	CHECK_EQ_INT(back->media[0].ssrc[0], 1001);
	CHECK_EQ_STR(back->media[0].opus_fmtp, "minptime=10;useinbandfec=1");
	CHECK_EQ_INT(back->media[0].pt_red, 63);
	CHECK_EQ_INT(back->media[1].pt_vp8_rtx, 97);
	CHECK_EQ_INT(back->media[1].ssrc[0], 2002);
	CHECK_EQ_INT(back->media[1].rtx_ssrc, 2003);
	CHECK_EQ_INT(back->media[1].fb_remb, 1);
	CHECK_EQ_INT(back->media[1].ext_twcc, 3);

	/* RED turned off (audio-red false clears pt_red before the answer): plain Opus. */
	{
		sdp_offer *plain = malloc(sizeof *plain);
		memcpy(plain, o, sizeof *plain);
		plain->media[0].pt_red = -1;
		CHECK(sdp_build_answer(plain, &p, ans, sizeof ans) > 0);
		section(ans, 0, sec, sizeof sec);
		CHECK(has_line(sec, "m=audio 40000 UDP/TLS/RTP/SAVPF 111"));
		CHECK(has_line(sec, "a=fmtp:111 minptime=10;useinbandfec=1"));
		CHECK(!strstr(sec, "red/") && !strstr(sec, "rtpmap:63") && !strstr(sec, "fmtp:63"));
		free(plain);
	}

	/* Without server streams both m-lines become receive-only and carry no ssrc. */
	default_params(&p);
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(ans, "a=recvonly") && !has_line(ans, "a=sendrecv"));
	CHECK(!strstr(ans, "a=ssrc") && !strstr(ans, "a=msid:"));

	/* Too small a buffer fails cleanly. */
	CHECK_EQ_INT(sdp_build_answer(o, &p, ans, 100), -1);
	CHECK_EQ_STR(ans, "");
	/* Parameters that would corrupt the answer are refused. */
	p.candidates[0].ip[3] = ' ';
	CHECK_EQ_INT(sdp_build_answer(o, &p, ans, sizeof ans), -1);
	default_params(&p);
	p.ice_pwd = "short";
	CHECK_EQ_INT(sdp_build_answer(o, &p, ans, sizeof ans), -1);
	default_params(&p);
	p.media[0].send_ssrc = 5;
	snprintf(p.media[0].msid_track, sizeof p.media[0].msid_track, "a b");
	CHECK_EQ_INT(sdp_build_answer(o, &p, ans, sizeof ans), -1);

	/* The same offer with LF line ends parses identically. */
	char *lf = malloc(len + 1);
	size_t m = 0;
	for (size_t i = 0; i < len; i++)
		if (sdp[i] != '\r')
			lf[m++] = sdp[i];
	sdp_offer *o2 = calloc(1, sizeof *o2);
	CHECK_EQ_INT(sdp_parse_offer(lf, m, o2, err, sizeof err), 0);
	CHECK(memcmp(o, o2, sizeof *o) == 0);
	free(lf);
	free(o2);
	free(back);
	free(o);
	free(sdp);
}

#define SESSION                                                                                    \
	"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"                                      \
	"a=group:BUNDLE 0 1 2 3 4\r\n"                                                             \
	"a=fingerprint:sha-256 " FP "\r\n"                                                         \
	"a=ice-ufrag:SeSs\r\na=ice-pwd:sessionpasswordsessionpw\r\na=setup:actpass\r\n"
#define MEDIA_COMMON "c=IN IP4 0.0.0.0\r\na=rtcp-mux\r\n"
#define AUDIO_CODECS                                                                               \
	"a=rtpmap:111 OPUS/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"                   \
	"a=rtcp-fb:111 transport-cc\r\na=rtpmap:0 PCMU/8000\r\n"
#define VIDEO_CODECS                                                                               \
	"a=rtpmap:96 vp8/90000\r\na=rtcp-fb:* nack\r\na=rtcp-fb:96 nack pli\r\n"                   \
	"a=rtcp-fb:96 ccm fir\r\na=fmtp:97 apt=96\r\na=rtpmap:97 rtx/90000\r\n"

static const char client_offer[] = SESSION
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n" MEDIA_COMMON "a=mid:0\r\na=sendrecv\r\n"
    "a=ice-ufrag:MeDi\r\na=ice-pwd:mediapasswordmediapass\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" AUDIO_CODECS "a=ssrc:11 cname:x\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON "a=mid:1\r\na=sendrecv\r\n"
    "a=extmap:3/sendrecv " TWCC_URI "\r\n" VIDEO_CODECS
    "a=ssrc:22 cname:x\r\na=ssrc:23 cname:x\r\na=ssrc-group:FID 22 23\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON "a=mid:2\r\na=sendrecv\r\n" VIDEO_CODECS
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n" MEDIA_COMMON "a=mid:3\r\na=recvonly\r\n" AUDIO_CODECS
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON "a=mid:4\r\na=recvonly\r\n" VIDEO_CODECS;

static void test_client_offer(void)
{
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128], ans[16384], sec[4096];
	CHECK_EQ_INT(sdp_parse_offer(client_offer, strlen(client_offer), o, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(o->n_media, 5);
	CHECK_EQ_STR(o->ice_ufrag, "MeDi"); /* media level of the first m-line wins */
	CHECK_EQ_STR(o->ice_pwd, "mediapasswordmediapass");
	CHECK_EQ_STR(o->media[0].ice_ufrag, "MeDi");
	CHECK_EQ_STR(o->media[1].ice_ufrag, "SeSs");
	CHECK_EQ_STR(o->media[1].ice_pwd, "sessionpasswordsessionpw");
	CHECK_EQ_INT(o->media[0].pt_opus, 111);
	CHECK_EQ_INT(o->media[0].ext_mid, 4);
	CHECK_EQ_INT(o->media[1].ext_twcc, 3);
	CHECK_EQ_INT(o->media[1].fb_nack, 1);
	CHECK_EQ_INT(o->media[1].fb_pli, 1);
	CHECK_EQ_INT(o->media[1].fb_remb, 0);
	CHECK_EQ_INT(o->media[1].pt_vp8_rtx, 97);
	CHECK_EQ_INT(o->media[1].n_ssrc, 2);
	CHECK_EQ_INT(o->media[1].ssrc[0], 22);
	CHECK_EQ_INT(o->media[1].rtx_ssrc, 23);
	CHECK_EQ_INT(o->media[2].n_ssrc, 0);
	CHECK_EQ_INT(o->media[3].dir, SDP_RECVONLY);
	CHECK_EQ_INT(o->media[4].dir, SDP_RECVONLY);
	for (int i = 0; i < 5; i++)
		CHECK(sdp_media_accepted(&o->media[i]));

	sdp_answer_params p;
	default_params(&p);
	p.setup = SDP_SETUP_NONE; /* derived from actpass: passive */
	p.media[3].send_ssrc = 3333;
	p.media[4].send_ssrc = 4444;
	p.media[4].send_rtx_ssrc = 4445;
	int n = sdp_build_answer(o, &p, ans, sizeof ans);
	CHECK(n > 0);
	CHECK(has_line(ans, "a=group:BUNDLE 0 1 2 3 4"));
	const char *dirs[5] = {"a=recvonly", "a=recvonly", "a=recvonly", "a=sendonly",
	                       "a=sendonly"};
	for (int i = 0; i < 5; i++) {
		section(ans, i, sec, sizeof sec);
		CHECK(has_line(sec, dirs[i]));
		CHECK(has_line(sec, "a=setup:passive"));
		CHECK(has_line(sec, "a=end-of-candidates"));
		CHECK_EQ_INT(strstr(sec, "a=ssrc:") != NULL, i >= 3);
	}
	section(ans, 0, sec, sizeof sec);
	CHECK(has_line(sec, "a=rtpmap:111 opus/48000/2"));
	CHECK(has_line(sec, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"));
	section(ans, 1, sec, sizeof sec);
	CHECK(has_line(sec, "a=extmap:3 " TWCC_URI));
	CHECK(has_line(sec, "a=rtcp-fb:96 nack"));
	CHECK(!strstr(sec, "goog-remb"));
	CHECK(!has_line(sec, "a=rtcp-rsize"));
	section(ans, 3, sec, sizeof sec);
	CHECK(has_line(sec, "a=ssrc:3333 cname:madoguchi"));
	CHECK(has_line(sec, "a=msid:- mdg-3333"));
	section(ans, 4, sec, sizeof sec);
	CHECK(has_line(sec, "a=ssrc-group:FID 4444 4445"));
	CHECK(has_line(sec, "a=ssrc:4445 msid:- mdg-4444"));

	/* Nothing to send on the slots: recvonly offers become inactive. */
	default_params(&p);
	p.media[0].send_ssrc = 77;
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(section(ans, 0, sec, sizeof sec), "a=sendrecv"));
	CHECK(has_line(section(ans, 3, sec, sizeof sec), "a=inactive"));
	CHECK(has_line(section(ans, 4, sec, sizeof sec), "a=inactive"));

	/* sendonly and inactive offers. */
	o->media[0].dir = SDP_SENDONLY;
	o->media[1].dir = SDP_INACTIVE;
	p.media[1].send_ssrc = 78;
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(section(ans, 0, sec, sizeof sec), "a=recvonly"));
	CHECK(!strstr(sec, "a=ssrc:77"));
	CHECK(has_line(section(ans, 1, sec, sizeof sec), "a=inactive"));

	/* The offerer insisting on passive makes the server active. */
	o->setup = SDP_SETUP_PASSIVE;
	p.setup = SDP_SETUP_NONE;
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(ans, "a=setup:active"));
	free(o);
}

/* Firefox 153 with the pages' five transceivers under max-bundle: every m-line but the first
 * has port 0 and a=bundle-only (RFC 8843 section 6), and the payload types, extension ids
 * and SSRC names differ from Chromium's. */
static void test_firefox_offer(void)
{
	size_t len = 0;
	char *sdp = check_read_file(FF_FIXTURE, &len);
	CHECK(sdp != NULL);
	if (!sdp)
		return;
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128];
	CHECK_EQ_INT(sdp_parse_offer(sdp, len, o, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(o->n_media, 5);
	CHECK_EQ_INT(o->n_bundle, 5);
	CHECK_EQ_STR(o->ice_ufrag, "373d9741");
	CHECK_EQ_STR(o->ice_pwd, "d145a7e35d38f9904755fbbad9dff6f9");
	/* The fingerprint is at session level, a=setup at media level. */
	CHECK_EQ_INT(o->has_fingerprint, 1);
	CHECK_EQ_INT(o->fingerprint[0], 0xB8);
	CHECK_EQ_INT(o->fingerprint[31], 0xB4);
	CHECK_EQ_INT(o->setup, SDP_SETUP_ACTPASS);
	static const char *const mids[5] = {"0", "1", "2", "3", "4"};
	static const enum sdp_dir dirs[5] = {SDP_SENDRECV, SDP_SENDRECV, SDP_SENDRECV, SDP_RECVONLY,
	                                     SDP_RECVONLY};
	for (int i = 0; i < 5; i++) {
		const sdp_media *m = &o->media[i];
		CHECK_EQ_STR(m->mid, mids[i]);
		CHECK_EQ_INT(m->bundle_only, i > 0);
		CHECK_EQ_INT(m->rejected, 0);
		CHECK_EQ_INT(m->dir, dirs[i]);
		CHECK_EQ_INT(m->extmap_allow_mixed, 1);
		CHECK_EQ_INT(m->ext_mid, 3);
		CHECK_EQ_INT(m->ext_twcc, 7);
		CHECK_EQ_STR(m->ice_ufrag, "373d9741");
		CHECK(sdp_media_accepted(m));
	}
	const sdp_media *a = &o->media[0], *v = &o->media[1];
	CHECK_EQ_INT(a->pt_opus, 109);
	CHECK_EQ_STR(a->opus_fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
	CHECK_EQ_INT(a->pt_red, -1); /* Firefox 153 offers no audio RED */
	CHECK_EQ_INT(o->media[3].pt_red, -1);
	CHECK_EQ_INT(a->ext_audio_level, 1);
	CHECK_EQ_INT(a->fb_twcc, 1);
	CHECK_EQ_INT(a->n_ssrc, 1);
	CHECK_EQ_INT(a->ssrc[0], 2481247096u);
	CHECK_EQ_INT(v->pt_vp8, 120);
	CHECK_EQ_INT(v->pt_vp8_rtx, 124); /* apt=120, not 125 (VP9's) or 119 (red's) */
	CHECK(v->fb_nack && v->fb_pli && v->fb_fir && v->fb_twcc && v->fb_remb);
	CHECK_EQ_INT(v->ext_abs_send_time, 4);
	CHECK_EQ_INT(v->ext_toffset, 5);
	CHECK_EQ_INT(v->ext_audio_level, 0);
	CHECK_EQ_INT(v->rtcp_rsize, 1);
	CHECK_EQ_INT(v->ssrc[0], 1132447435u);
	CHECK_EQ_INT(v->rtx_ssrc, 1670854963u);
	CHECK_EQ_INT(o->media[2].ssrc[0], 147475798u);
	CHECK_EQ_INT(o->media[2].rtx_ssrc, 2099703005u);
	CHECK_EQ_INT(o->media[3].pt_opus, 109);
	CHECK_EQ_INT(o->media[4].pt_vp8, 120);

	sdp_answer_params p;
	default_params(&p);
	for (int i = 0; i < 5; i++)
		p.media[i].send_ssrc = 500u + (uint32_t)i;
	p.media[1].send_rtx_ssrc = 601;
	p.media[4].send_rtx_ssrc = 604;
	char ans[16384], sec[4096];
	int n = sdp_build_answer(o, &p, ans, sizeof ans);
	CHECK(n > 0);
	CHECK(has_line(ans, "a=group:BUNDLE 0 1 2 3 4"));
	/* An answer never carries bundle-only (RFC 8843 section 6); every kept m-line has the
	 * server's port, which both browsers take as accepted. */
	CHECK(!strstr(ans, "bundle-only"));
	CHECK(!strstr(ans, "m=audio 0 ") && !strstr(ans, "m=video 0 "));
	const char *answer_dirs[5] = {"a=sendrecv", "a=sendrecv", "a=sendrecv", "a=sendonly",
	                              "a=sendonly"};
	for (int i = 0; i < 5; i++) {
		section(ans, i, sec, sizeof sec);
		char want[64];
		snprintf(want, sizeof want, "a=mid:%d", i);
		CHECK(has_line(sec, want));
		CHECK(has_line(sec, answer_dirs[i]));
		CHECK(has_line(sec, "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid"));
		CHECK(has_line(sec, "a=extmap:7 " TWCC_URI));
		CHECK(has_line(sec, "a=setup:passive"));
		CHECK(has_line(sec, "a=end-of-candidates"));
		snprintf(want, sizeof want, "a=ssrc:%u cname:madoguchi", 500u + (unsigned)i);
		CHECK(has_line(sec, want));
		CHECK(!strstr(sec, "VP9") && !strstr(sec, "AV1") && !strstr(sec, "red/") &&
		      !strstr(sec, "ulpfec") && !strstr(sec, "telephone-event") &&
		      !strstr(sec, "G722") && !strstr(sec, "playout-delay"));
	}
	section(ans, 0, sec, sizeof sec);
	CHECK(has_line(sec, "m=audio 40000 UDP/TLS/RTP/SAVPF 109"));
	CHECK(has_line(sec, "a=rtpmap:109 opus/48000/2"));
	/* The server's own Opus parameters: FEC on, mono (no stereo=1 echoed back). */
	CHECK(has_line(sec, "a=fmtp:109 minptime=10;useinbandfec=1"));
	CHECK(!strstr(sec, "stereo"));
	CHECK(has_line(sec, "a=rtcp-fb:109 transport-cc"));
	CHECK(has_line(sec, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
	section(ans, 1, sec, sizeof sec);
	CHECK(has_line(sec, "m=video 40000 UDP/TLS/RTP/SAVPF 120 124"));
	CHECK(has_line(sec, "a=rtpmap:124 rtx/90000"));
	CHECK(has_line(sec, "a=fmtp:124 apt=120"));
	CHECK(has_line(sec, "a=rtcp-fb:120 nack pli"));
	CHECK(has_line(sec, "a=ssrc-group:FID 501 601"));
	section(ans, 4, sec, sizeof sec);
	CHECK(has_line(sec, "m=video 40000 UDP/TLS/RTP/SAVPF 120 124"));
	CHECK(has_line(sec, "a=ssrc-group:FID 504 604"));

	/* The answer parses back with all five m-lines live. */
	sdp_offer *back = calloc(1, sizeof *back);
	CHECK_EQ_INT(sdp_parse_offer(ans, (size_t)n, back, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(back->n_media, 5);
	for (int i = 0; i < 5; i++)
		CHECK(sdp_media_accepted(&back->media[i]));
	free(back);
	free(o);
	free(sdp);
}

/* Port 0 means bundled only together with a=bundle-only and a mid in the BUNDLE group. */
static void test_bundle_only(void)
{
	static const char offer[] =
	    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	    "a=group:BUNDLE 0 1 2\r\n"
	    "a=fingerprint:sha-256 " FP "\r\n"
	    "a=ice-ufrag:SeSs\r\na=ice-pwd:sessionpasswordsessionpw\r\na=setup:actpass\r\n"
	    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" MEDIA_COMMON "a=mid:0\r\n" AUDIO_CODECS
	    /* bundled: port 0, bundle-only, mid in the group */
	    "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON
	    "a=mid:1\r\na=bundle-only\r\n" VIDEO_CODECS
	    /* disabled: port 0 without bundle-only */
	    "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON "a=mid:2\r\n" VIDEO_CODECS
	    /* disabled: bundle-only, but its mid is not in the group */
	    "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON
	    "a=mid:3\r\na=bundle-only\r\n" VIDEO_CODECS
	    /* disabled: bundle-only without a mid */
	    "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\n" MEDIA_COMMON "a=bundle-only\r\n" VIDEO_CODECS;
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128], ans[16384];
	CHECK_EQ_INT(sdp_parse_offer(offer, sizeof offer - 1, o, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(o->n_media, 5);
	static const int rejected[5] = {0, 0, 1, 1, 1};
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(o->media[i].rejected, rejected[i]);
		CHECK_EQ_INT(sdp_media_accepted(&o->media[i]), !rejected[i]);
	}
	CHECK_EQ_INT(o->media[1].bundle_only, 1);
	CHECK_EQ_INT(o->media[1].extmap_allow_mixed, 0);
	sdp_answer_params p;
	default_params(&p);
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(ans, "a=group:BUNDLE 0 1"));
	CHECK(has_line(ans, "m=video 40000 UDP/TLS/RTP/SAVPF 96 97"));
	CHECK(has_line(ans, "m=video 0 UDP/TLS/RTP/SAVPF 96"));

	/* A bundle-only m-line must meet the same requirements as any live one. */
	static const char no_mux[] =
	    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	    "a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\n"
	    "a=fingerprint:sha-256 " FP "\r\n"
	    "a=ice-ufrag:SeSs\r\na=ice-pwd:sessionpasswordsessionpw\r\n"
	    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" MEDIA_COMMON "a=mid:0\r\n" AUDIO_CODECS
	    "m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=bundle-only\r\n"
	    "a=rtpmap:96 VP8/90000\r\n";
	CHECK_EQ_INT(sdp_parse_offer(no_mux, sizeof no_mux - 1, o, err, sizeof err), -1);
	CHECK(strstr(err, "m-line 1: no rtcp-mux") != NULL);
	/* Session-level extmap-allow-mixed applies to every m-line. */
	CHECK_EQ_INT(o->media[0].extmap_allow_mixed, 1);
	free(o);
}

/* The Firefox offer through a real media plane with the pages' role map: before bundle-only
 * was understood, only the microphone was negotiated. */
static void test_firefox_peer(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .n_ips = 1};
	cfg.ips[0] = "127.0.0.1";
	sfu *s = sfu_new(&loop, &cfg);
	size_t len = 0;
	char *sdp = check_read_file(FF_FIXTURE, &len);
	CHECK(s != NULL && sdp != NULL);
	if (s && sdp) {
		sfu_peer *peer = sfu_peer_new(s, "firefox");
		sfu_track_role roles[] = {{"0", SFU_ROLE_MIC},
		                          {"1", SFU_ROLE_CAMERA},
		                          {"2", SFU_ROLE_DOCUMENT},
		                          {"3", SFU_ROLE_SLOT},
		                          {"4", SFU_ROLE_SLOT}};
		char *answer = NULL, err[128] = "";
		CHECK_EQ_INT(sfu_peer_offer(peer, sdp, len, roles, 5, &answer, err, sizeof err), 0);
		CHECK_EQ_STR(err, "");
		/* Mic, camera and document are received; all five m-lines are sent on. */
		CHECK_EQ_INT(peer->n_in, 3);
		CHECK_EQ_INT(peer->n_out, 5);
		CHECK_EQ_INT(peer->in[1].ssrc, 1132447435u);
		CHECK_EQ_INT(peer->in[1].rtx_ssrc, 1670854963u);
		CHECK_EQ_INT(peer->in[1].pt, 120);
		CHECK_EQ_INT(peer->in[1].rtx_pt, 124);
		CHECK_EQ_INT(peer->ext_mid, 3);
		CHECK_EQ_INT(peer->ext_twcc, 7);
		CHECK_EQ_INT(peer->ext_audio_level, 1);
		for (int i = 0; i < peer->n_out; i++)
			CHECK(peer->out[i].out_ssrc != 0);
		CHECK(peer->out[1].rtx_ssrc != 0 && peer->out[1].rtx_pt == 124);
		if (answer) {
			CHECK(has_line(answer, "a=group:BUNDLE 0 1 2 3 4"));
			CHECK(!strstr(answer, "m=video 0 ") && !strstr(answer, "m=audio 0 "));
		}
		free(answer);
		sfu_peer_free(peer);
	}
	free(sdp);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	secure_global_shutdown();
}

static void test_rejected_lines(void)
{
	static const char offer[] = SESSION
	    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" MEDIA_COMMON "a=mid:0\r\n" AUDIO_CODECS
	    "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\n" MEDIA_COMMON "a=mid:1\r\n"
	    "a=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n"
	    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
	    "a=mid:2\r\na=sctp-port:5000\r\n"
	    "m=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\n" MEDIA_COMMON "a=mid:3\r\na=rtpmap:0 PCMU/8000\r\n"
	    "m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n";
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128], ans[8192], sec[2048];
	CHECK_EQ_INT(sdp_parse_offer(offer, sizeof offer - 1, o, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(o->n_media, 5);
	CHECK_EQ_INT(o->media[1].pt_vp8, -1);
	CHECK_EQ_INT(o->media[2].kind, SDP_KIND_OTHER);
	CHECK_EQ_INT(o->media[4].rejected, 1);
	CHECK(sdp_media_accepted(&o->media[0]));
	for (int i = 1; i < 5; i++)
		CHECK(!sdp_media_accepted(&o->media[i]));
	sdp_answer_params p;
	default_params(&p);
	p.media[1].send_ssrc = 9; /* ignored: the line is rejected */
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(ans, "a=group:BUNDLE 0"));
	CHECK(has_line(ans, "m=video 0 UDP/TLS/RTP/SAVPF 102"));
	CHECK(has_line(ans, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel"));
	CHECK(has_line(ans, "m=audio 0 UDP/TLS/RTP/SAVPF 0"));
	CHECK(has_line(ans, "m=video 0 UDP/TLS/RTP/SAVPF 96"));
	section(ans, 1, sec, sizeof sec);
	CHECK(has_line(sec, "a=mid:1"));
	CHECK(has_line(sec, "c=IN IP4 0.0.0.0"));
	CHECK(!strstr(sec, "a=ice-ufrag") && !strstr(sec, "a=candidate") && !strstr(sec, "ssrc"));
	CHECK(has_line(section(ans, 2, sec, sizeof sec), "a=mid:2"));
	CHECK(!strstr(section(ans, 4, sec, sizeof sec), "a=mid"));
	/* The answer parses back with the same lines rejected. */
	sdp_offer *back = calloc(1, sizeof *back);
	CHECK_EQ_INT(sdp_parse_offer(ans, strlen(ans), back, err, sizeof err), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(back->n_media, 5);
	CHECK_EQ_INT(back->media[1].rejected, 1);
	CHECK_EQ_INT(back->media[2].rejected, 1);
	CHECK(sdp_media_accepted(&back->media[0]));
	/* IPv6 first candidate. */
	snprintf(p.candidates[0].ip, sizeof p.candidates[0].ip, "::1");
	CHECK(sdp_build_answer(o, &p, ans, sizeof ans) > 0);
	CHECK(has_line(ans, "c=IN IP6 ::1"));
	CHECK(has_line(ans, "a=candidate:1 1 udp 2130706431 ::1 40000 typ host"));
	free(back);
	free(o);
}

/* The RED payload type parsed from an audio m-line whose RED lines are red (the session is
 * the client offer's, with only mid 0 live). */
static int red_pt_of(const char *red)
{
	static char text[2048];
	snprintf(text, sizeof text,
	         "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
	         "a=fingerprint:sha-256 " FP "\r\n"
	         "a=ice-ufrag:SeSs\r\na=ice-pwd:sessionpasswordsessionpw\r\na=setup:actpass\r\n"
	         "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0\r\n" MEDIA_COMMON "a=mid:0\r\n" AUDIO_CODECS
	         "%s",
	         red);
	static sdp_offer o;
	char err[128];
	if (sdp_parse_offer(text, strlen(text), &o, err, sizeof err) != 0)
		return -100;
	return o.media[0].pt_red;
}

/* Which RED offers the server takes: red/48000/2 whose fmtp names only the chosen Opus, two
 * to 32 times. Anything else is answered with plain Opus. */
static void test_red_offers(void)
{
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n"), 63);
	CHECK_EQ_INT(red_pt_of("a=fmtp:63 111/111\r\na=rtpmap:63 RED/48000/2\r\n"), 63);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111/111\r\n"), 63);
	CHECK_EQ_INT(red_pt_of(""), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\n"), -1); /* no fmtp */
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 111\r\n"), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/0\r\n"), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/\r\n"), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 111//111\r\n"), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/90000\r\na=fmtp:63 111/111\r\n"), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/1\r\na=fmtp:63 111/111\r\n"), -1);
	CHECK_EQ_INT(red_pt_of("a=rtpmap:63 red/48000/2\r\na=fmtp:63 999/999\r\n"), -1);
	static char many[512];
	char *w = many + snprintf(many, sizeof many, "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111");
	for (int i = 0; i < 32; i++)
		w += sprintf(w, "/111");
	sprintf(w, "\r\n");
	CHECK_EQ_INT(red_pt_of(many), -1); /* 33 names: more than libwebrtc accepts */
}

/* Parses text and expects failure with a reason containing want. */
static void expect_reject(const char *text, size_t len, const char *want, int line)
{
	static sdp_offer o;
	char err[128] = "unset";
	int r = sdp_parse_offer(text, len, &o, err, sizeof err);
	if (r != -1 || !strstr(err, want))
		fprintf(stderr, "line %d: r=%d err='%s', want '%s'\n", line, r, err, want);
	CHECK_EQ_INT(r, -1);
	CHECK(strstr(err, want) != NULL);
}

#define REJECT(text, want) expect_reject((text), sizeof(text) - 1, (want), __LINE__)

#define OK_MEDIA "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" MEDIA_COMMON AUDIO_CODECS

static void test_malformed(void)
{
	REJECT("", "empty");
	REJECT("\r\n\r\n", "empty");
	REJECT("v=1\r\n", "version");
	REJECT("o=- 1 2 IN IP4 127.0.0.1\r\nv=0\r\n", "version");
	REJECT("v=0\r\ngarbage\r\n", "line 2");
	REJECT(SESSION, "no m-line");
	REJECT(SESSION OK_MEDIA, "no mid");
	REJECT(SESSION OK_MEDIA "a=mid:9\r\n", "not bundled");
	REJECT(SESSION "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" AUDIO_CODECS, "rtcp-mux");
	REJECT(SESSION "m=audio 9 RTP/AVP 0\r\na=mid:0\r\na=rtcp-mux\r\n", "unsupported protocol");
	REJECT(SESSION "m=audio 70000 UDP/TLS/RTP/SAVPF 111\r\n", "bad port");
	REJECT(SESSION "m=audio 99999999999999999999999 UDP/TLS/RTP/SAVPF 111\r\n", "bad port");
	REJECT(SESSION "m=audio 9\r\n", "malformed");
	REJECT(SESSION "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", "format");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=ssrc:4294967296 cname:x\r\n", "ssrc");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=ssrc-group:FID 1\r\n", "ssrc-group");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=rtpmap:128 opus/48000/2\r\n", "rtpmap");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=extmap:0 urn:x\r\n", "extmap");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=setup:sideways\r\n", "setup");
	REJECT(SESSION OK_MEDIA "a=mid:0123456789012345678901234567890123\r\n", "bad mid");
	REJECT(SESSION OK_MEDIA "a=mid:a b\r\n", "bad mid");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\n" OK_MEDIA "a=mid:0\r\n", "duplicate mid");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=ice-ufrag:bad\x01ufrag\r\n", "ice-ufrag");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=ice-ufrag:abc\r\n", "ice-ufrag");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=ice-pwd:abcdefghijklmnopqrstu\r\n", "ice-pwd");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\na=fingerprint:sha-256 99:9A\r\n", "fingerprint");
	REJECT(
	    "v=0\r\na=group:BUNDLE 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
	    "a=fingerprint:sha-1 "
	    "99:9A:E3:39:BB:22:B1:AC:17:1F:8D:2E:6F:3F:DE:DD:D4:4C:65:18\r\n" OK_MEDIA
	    "a=mid:0\r\n",
	    "no sha-256 fingerprint");
	REJECT("v=0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 " FP "\r\n" OK_MEDIA "a=mid:0\r\n",
	       "no ice-ufrag");
	REJECT("v=0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 " FP
	       "\r\na=ice-ufrag:abcd\r\n" OK_MEDIA "a=mid:0\r\n",
	       "no ice-pwd");
	REJECT(SESSION OK_MEDIA "a=mid:0\r\0\n", "NUL");

	/* Seventeen m-lines exceed SDP_MAX_MEDIA. */
	char many[4096];
	size_t len = (size_t)snprintf(many, sizeof many, "%s", SESSION);
	for (int i = 0; i < SDP_MAX_MEDIA + 1; i++)
		len += (size_t)snprintf(many + len, sizeof many - len, "m=audio 0 RTP/AVP 0\r\n");
	expect_reject(many, len, "m-lines", __LINE__);

	/* An unknown overlong attribute is harmless; the bytes past len are never read. */
	char *big = malloc(70000);
	len = (size_t)snprintf(big, 70000, "%s%sa=mid:0\r\na=x-junk:", SESSION, OK_MEDIA);
	memset(big + len, 'z', 60000);
	len += 60000;
	memcpy(big + len, "\r\n", 2);
	len += 2;
	sdp_offer *o = calloc(1, sizeof *o);
	char err[128];
	CHECK_EQ_INT(sdp_parse_offer(big, len, o, err, sizeof err), 0);
	/* Truncated right after "a=mid:0" without a line end: still parses. */
	len = strlen(SESSION OK_MEDIA "a=mid:0");
	CHECK_EQ_INT(sdp_parse_offer(big, len, o, err, sizeof err), 0);
	CHECK_EQ_STR(o->media[0].mid, "0");
	/* A NULL err buffer is allowed. */
	CHECK_EQ_INT(sdp_parse_offer("v=0", 3, o, NULL, 0), -1);
	/* Non-UTF-8 in an unused attribute is ignored; in an echoed fmtp it is dropped. */
	static const char odd[] = SESSION "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" MEDIA_COMMON
	                                  "a=mid:0\r\na=x-\xff\xfe:\x80\r\na=rtpmap:111 "
	                                  "opus/48000/2\r\na=fmtp:111 a=\xc3\x28\r\n";
	CHECK_EQ_INT(sdp_parse_offer(odd, sizeof odd - 1, o, err, sizeof err), 0);
	CHECK_EQ_INT(o->media[0].pt_opus, 111);
	CHECK_EQ_STR(o->media[0].opus_fmtp, "");
	free(o);
	free(big);
}

int main(void)
{
	test_fixture();
	test_client_offer();
	test_firefox_offer();
	test_red_offers();
	test_bundle_only();
	test_rejected_lines();
	test_malformed();
	test_firefox_peer();
	return check_done("sdp");
}
