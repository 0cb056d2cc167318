/* SRTP/SRTCP for one peer on libsrtp2 2.5: two sessions keyed from DTLS-SRTP, inbound with the
 * peer's key and outbound with ours. Wildcard SSRC policies let every stream of the peer share
 * the keys without us registering SSRCs as they appear.
 *
 * The inbound wildcard clones a libsrtp stream for every new SSRC whose first packet
 * authenticates, so the SSRCs given one are listed here and capped: a packet on a further
 * new SSRC is refused before libsrtp sees it. Only a peer holding the keys gets that far,
 * so the cap protects the server's memory, not the peer's media. */
#include "sfu/secure.h"
#include "sfu/srtp_gcm.h"

#include <arpa/inet.h>
#include <limits.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(SECURE_MAX_TRAILER >= SRTP_MAX_TRAILER_LEN,
               "callers must leave at least what srtp_protect may write");

/* Packet-loss reordering on a video stream at high bitrate easily exceeds the default window
 * of 128 packets; a wider window costs a few bytes per stream. */
#define SECURE_REPLAY_WINDOW 1024

/* The one piece of global mutable state in the project: libsrtp2 keeps process-wide crypto
 * kernel tables that srtp_init() fills and srtp_shutdown() empties, so the flag that makes the
 * call idempotent has to be process-wide too. It is only touched from the main thread. */
static int secure_initialised;

/* Which AES-GCM does the work: ours on OpenSSL (srtp_gcm.h) or libsrtp2's own (NSS on Debian,
 * about three times the CPU; MADOGUCHI_SRTP_GCM=libsrtp keeps it, for comparison). */
static const char *gcm_impl = "libsrtp";

int secure_global_init(void)
{
	if (secure_initialised)
		return 0;
	if (srtp_init() != srtp_err_status_ok)
		return -1;
	const char *want = getenv("MADOGUCHI_SRTP_GCM");
	if (!(want && strcmp(want, "libsrtp") == 0) && srtp_gcm_install() == 0)
		gcm_impl = "openssl";
	secure_initialised = 1;
	return 0;
}

const char *secure_gcm_impl(void)
{
	return gcm_impl;
}

void secure_global_shutdown(void)
{
	if (!secure_initialised)
		return;
	srtp_shutdown();
	secure_initialised = 0;
}

struct secure {
	srtp_t inbound;
	srtp_t outbound;
	/* The SSRCs libsrtp has an inbound stream for, as the packets carry them (network byte
	 * order, which is also how libsrtp keys its streams). */
	uint32_t in_ssrcs[SECURE_MAX_INBOUND_SSRCS];
	int n_in;
};

static int create_session(srtp_t *session, enum dtls_profile profile, srtp_ssrc_type_t dir,
                          const uint8_t key[16], const uint8_t *salt, size_t salt_len)
{
	srtp_policy_t policy;
	uint8_t master[16 + 14];
	srtp_err_status_t st;

	memset(&policy, 0, sizeof(policy));
	if (profile == DTLS_SRTP_AES128_CM_SHA1_80) {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
	} else if (profile == DTLS_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
	} else
		return -1;
	/* libsrtp2 takes the master key and salt as one buffer. */
	memcpy(master, key, 16);
	memcpy(master + 16, salt, salt_len);
	policy.ssrc.type = dir;
	policy.key = master;
	policy.window_size = SECURE_REPLAY_WINDOW;
	/* The forwarder answers NACKs by resending identical packets from its cache, which
	 * libsrtp would otherwise refuse as a replay of our own sequence number. */
	policy.allow_repeat_tx = 1;
	policy.next = NULL;
	st = srtp_create(session, &policy);
	/* srtp_create derives the session keys; the master key is not needed afterwards. */
	memset(master, 0, sizeof(master));
	if (st != srtp_err_status_ok) {
		*session = NULL;
		return -1;
	}
	return 0;
}

secure *secure_new(const dtls_srtp_keys *keys)
{
	secure *s;
	size_t want;

	if (!keys)
		return NULL;
	want = keys->profile == DTLS_SRTP_AES128_CM_SHA1_80  ? 14
	       : keys->profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12
	                                                     : 0;
	if (want == 0 || keys->salt_len != want)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (create_session(&s->inbound, keys->profile, ssrc_any_inbound, keys->remote_key,
	                   keys->remote_salt, want) < 0 ||
	    create_session(&s->outbound, keys->profile, ssrc_any_outbound, keys->local_key,
	                   keys->local_salt, want) < 0) {
		secure_free(s);
		return NULL;
	}
	return s;
}

void secure_free(secure *s)
{
	if (!s)
		return;
	if (s->inbound)
		srtp_dealloc(s->inbound);
	if (s->outbound)
		srtp_dealloc(s->outbound);
	free(s);
}

/* libsrtp2 counts in int; refuse lengths it cannot represent once the trailer is added, and
 * packets too short to hold the fixed header it is about to read. */
static int length_ok(const void *buf, const size_t *len, size_t min)
{
	return buf && len && *len >= min && *len <= (size_t)INT_MAX - SECURE_MAX_TRAILER;
}

static int inbound_known(const secure *s, uint32_t wire_ssrc)
{
	for (int i = 0; i < s->n_in; i++)
		if (s->in_ssrcs[i] == wire_ssrc)
			return 1;
	return 0;
}

/* Unprotects one packet whose SSRC sits at byte ssrc_at, keeping the list of inbound SSRCs
 * in step with libsrtp's streams. */
static int unprotect(secure *s, uint8_t *buf, size_t *len, size_t ssrc_at, int rtcp)
{
	uint32_t ssrc;
	memcpy(&ssrc, buf + ssrc_at, sizeof ssrc);
	int known = inbound_known(s, ssrc);
	if (!known && s->n_in >= SECURE_MAX_INBOUND_SSRCS)
		return SECURE_ERR_SSRC_LIMIT;
	int n = (int)*len;
	srtp_err_status_t st =
	    rtcp ? srtp_unprotect_rtcp(s->inbound, buf, &n) : srtp_unprotect(s->inbound, buf, &n);
	if (st != srtp_err_status_ok) {
		/* libsrtp adds the stream once the packet authenticates; should a later step
		 * fail, the stream must not stay behind uncounted. */
		if (!known)
			srtp_remove_stream(s->inbound, ssrc);
		return SECURE_ERR;
	}
	if (!known)
		s->in_ssrcs[s->n_in++] = ssrc;
	*len = (size_t)n;
	return 0;
}

int secure_unprotect_rtp(secure *s, void *buf, size_t *len)
{
	if (!s || !length_ok(buf, len, 12))
		return SECURE_ERR;
	return unprotect(s, buf, len, 8, 0);
}

int secure_unprotect_rtcp(secure *s, void *buf, size_t *len)
{
	if (!s || !length_ok(buf, len, 8))
		return SECURE_ERR;
	return unprotect(s, buf, len, 4, 1);
}

int secure_inbound_ssrcs(const secure *s)
{
	return s ? s->n_in : 0;
}

void secure_retain(secure *s, const uint32_t *keep, int n, const uint32_t *gone, int n_gone)
{
	if (!s)
		return;
	int k = 0;
	for (int i = 0; i < s->n_in; i++) {
		int kept = 0;
		for (int j = 0; j < n && !kept; j++)
			kept = htonl(keep[j]) == s->in_ssrcs[i];
		if (kept)
			s->in_ssrcs[k++] = s->in_ssrcs[i];
		else
			srtp_remove_stream(s->inbound, s->in_ssrcs[i]);
	}
	s->n_in = k;
	/* Outbound streams exist only for SSRCs we sent on; for the others libsrtp answers
	 * that there is no such stream, which is fine. */
	for (int i = 0; i < n_gone; i++)
		srtp_remove_stream(s->outbound, htonl(gone[i]));
}

int secure_protect_rtp(secure *s, void *buf, size_t *len)
{
	int n;

	if (!s || !length_ok(buf, len, 12))
		return -1;
	n = (int)*len;
	if (srtp_protect(s->outbound, buf, &n) != srtp_err_status_ok)
		return -1;
	*len = (size_t)n;
	return 0;
}

int secure_protect_rtcp(secure *s, void *buf, size_t *len)
{
	int n;

	if (!s || !length_ok(buf, len, 8))
		return -1;
	n = (int)*len;
	if (srtp_protect_rtcp(s->outbound, buf, &n) != srtp_err_status_ok)
		return -1;
	*len = (size_t)n;
	return 0;
}
