/* The ICE credentials in the server's answers (ice.c, issue 9): RFC 8839 section 5.4 asks
 * for at least 24 random bits in the ufrag and 128 in the password. The answers of many
 * negotiations are read as a browser reads them: every ufrag and password is made of
 * ice-chars (ALPHA / DIGIT / "+" / "/"), long enough for its share of entropy at six bits a
 * character, never repeated, and every one of the 64 characters is in use (hex, four bits a
 * character, would leave most of them out). The password in the answer is the one STUN
 * checks are verified with. */
#include "check.h"
#include "sfu/sfu_internal.h"

#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/fixtures/chromium-156-offer.sdp"
#define ROUNDS  400

static const char ice_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Every value of attribute `name` in the SDP; returns 0 unless all are equal (the BUNDLE
 * shares one set of credentials), else -1. */
static int attr_all(const char *sdp, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	int n = 0;
	for (const char *p = strstr(sdp, name); p; p = strstr(p + 1, name)) {
		const char *v = p + strlen(name);
		size_t len = strcspn(v, "\r\n");
		if (len >= cap)
			return -1;
		if (n++ == 0) {
			memcpy(out, v, len);
			out[len] = '\0';
		} else if (strlen(out) != len || memcmp(out, v, len) != 0) {
			return -1;
		}
	}
	return n > 0 ? 0 : -1;
}

static int all_ice_chars(const char *s, int counts[64])
{
	for (; *s; s++) {
		const char *at = strchr(ice_chars, *s);
		if (!at)
			return 0;
		counts[at - ice_chars]++;
	}
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int main(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .n_ips = 1};
	cfg.ips[0] = "127.0.0.1";
	sfu *s = sfu_new(&loop, &cfg);
	CHECK(s != NULL);
	size_t len;
	char *offer = check_read_file(FIXTURE, &len);
	CHECK(offer != NULL);
	if (!s || !offer)
		return check_done("ice_cred");
	sfu_peer *a = sfu_peer_new(s, "a"), *b = sfu_peer_new(s, "b");
	sfu_track_role roles[] = {{"0", SFU_ROLE_MIC}, {"1", SFU_ROLE_CAMERA}};

	static char ufrags[2 * ROUNDS][64], pwds[2 * ROUNDS][64];
	int ufrag_counts[64] = {0}, pwd_counts[64] = {0};
	int bad_alphabet = 0, bad_length = 0, mismatch = 0;
	for (int i = 0; i < 2 * ROUNDS; i++) {
		sfu_peer *p = i % 2 ? b : a;
		char *answer = NULL, err[128] = "";
		int rc = sfu_peer_offer(p, offer, len, roles, 2, &answer, err, sizeof err);
		CHECK_EQ_INT(rc, 0);
		if (rc != 0)
			break;
		CHECK_EQ_INT(attr_all(answer, "a=ice-ufrag:", ufrags[i], sizeof ufrags[i]), 0);
		CHECK_EQ_INT(attr_all(answer, "a=ice-pwd:", pwds[i], sizeof pwds[i]), 0);
		free(answer);
		bad_alphabet += !all_ice_chars(ufrags[i], ufrag_counts);
		bad_alphabet += !all_ice_chars(pwds[i], pwd_counts);
		/* At six bits an ice-char: 24 bits need 4, 128 bits need 22. */
		bad_length += strlen(ufrags[i]) * 6 < 48 || strlen(pwds[i]) * 6 < 144;
		mismatch += strcmp(p->ufrag, ufrags[i]) != 0 || strcmp(p->pwd, pwds[i]) != 0;
	}
	CHECK_EQ_INT(bad_alphabet, 0);
	CHECK_EQ_INT(bad_length, 0);
	CHECK_EQ_INT(mismatch, 0);
	CHECK_EQ_INT(strlen(pwds[0]), ICE_PWD_CHARS);
	CHECK_EQ_INT(strlen(ufrags[0]), ICE_UFRAG_CHARS);
	/* The two live peers never share a ufrag: STUN finds its peer by it. */
	CHECK(strcmp(a->ufrag, b->ufrag) != 0);

	/* All 64 characters in use, none far off its share: 2 * ROUNDS * 24 password characters
	 * give each about 300. */
	int expected = 2 * ROUNDS * ICE_PWD_CHARS / 64, unused = 0, skewed = 0;
	for (int c = 0; c < 64; c++) {
		unused += pwd_counts[c] == 0 || ufrag_counts[c] == 0;
		skewed += pwd_counts[c] < expected / 2 || pwd_counts[c] > expected * 2;
	}
	CHECK_EQ_INT(unused, 0);
	CHECK_EQ_INT(skewed, 0);

	/* No credential repeats. */
	qsort(ufrags, 2 * ROUNDS, sizeof ufrags[0], cmp_str);
	qsort(pwds, 2 * ROUNDS, sizeof pwds[0], cmp_str);
	int repeats = 0;
	for (int i = 1; i < 2 * ROUNDS; i++)
		repeats +=
		    strcmp(ufrags[i - 1], ufrags[i]) == 0 || strcmp(pwds[i - 1], pwds[i]) == 0;
	CHECK_EQ_INT(repeats, 0);

	free(offer);
	sfu_peer_free(a);
	sfu_peer_free(b);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	secure_global_shutdown();
	return check_done("ice_cred");
}
