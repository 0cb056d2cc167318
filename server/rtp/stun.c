/* STUN (RFC 5389) for an ICE-lite agent: a strict parser, MESSAGE-INTEGRITY (HMAC-SHA1)
 * and FINGERPRINT (CRC-32) checks, and builders for Binding requests and responses.
 *
 * Both checks cover the message "as if" its header length ended just after the attribute
 * being checked (RFC 5389 sections 15.4 and 15.5). Instead of copying the message to patch
 * the length field, the digests are fed a patched copy of the 20-byte header followed by
 * the untouched rest of the buffer, so nothing is allocated by this module. */
#include "rtp/stun.h"

#include "rtp/bytes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define ATTR_MAPPED_ADDRESS     0x0001
#define ATTR_USERNAME           0x0006
#define ATTR_MESSAGE_INTEGRITY  0x0008
#define ATTR_ERROR_CODE         0x0009
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY           0x0024
#define ATTR_USE_CANDIDATE      0x0025
#define ATTR_SOFTWARE           0x8022
#define ATTR_FINGERPRINT        0x8028
#define ATTR_ICE_CONTROLLED     0x8029
#define ATTR_ICE_CONTROLLING    0x802A

#define MI_LEN          20 /* HMAC-SHA1 output */
#define FINGERPRINT_XOR 0x5354554eu
#define USERNAME_MAX    513 /* RFC 5389 section 15.3 */

/* CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), the one RFC 5389 names. */
/* clang-format off */
static const uint32_t crc_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
	0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
	0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
	0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
	0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
	0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
	0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
	0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
	0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
	0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
	0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
	0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
	0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
	0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
	0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
	0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
	0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
	0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
	0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
	0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
	0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
	0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};
/* clang-format on */

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

/* CRC over buf[0..end) with the header's length field replaced by body_len. */
static uint32_t stun_crc(const uint8_t *buf, size_t end, uint16_t body_len)
{
	uint8_t hdr[STUN_HEADER_LEN];
	memcpy(hdr, buf, STUN_HEADER_LEN);
	wr16(hdr + 2, body_len);
	uint32_t crc = crc32_update(0xffffffffu, hdr, sizeof hdr);
	crc = crc32_update(crc, buf + STUN_HEADER_LEN, end - STUN_HEADER_LEN);
	return crc ^ 0xffffffffu;
}

/* HMAC-SHA1 (RFC 2104) over buf[0..end) with the header length replaced by body_len.
 * Built on the EVP digest interface because OpenSSL 3 deprecates the incremental HMAC_CTX
 * calls and the one-shot HMAC() would need the patched message in one contiguous buffer. */
static int stun_hmac(const uint8_t *buf, size_t end, uint16_t body_len, const uint8_t *key,
                     size_t key_len, uint8_t mac[MI_LEN])
{
	uint8_t k[64] = {0}, pad[64], inner[EVP_MAX_MD_SIZE], hdr[STUN_HEADER_LEN];
	unsigned int n = 0;
	int ok = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	if (key_len > sizeof k) {
		if (!EVP_Digest(key, key_len, k, &n, EVP_sha1(), NULL))
			goto out;
	} else if (key_len) {
		memcpy(k, key, key_len);
	}
	memcpy(hdr, buf, STUN_HEADER_LEN);
	wr16(hdr + 2, body_len);
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = k[i] ^ 0x36;
	if (!EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, pad, sizeof pad) ||
	    !EVP_DigestUpdate(ctx, hdr, sizeof hdr) ||
	    !EVP_DigestUpdate(ctx, buf + STUN_HEADER_LEN, end - STUN_HEADER_LEN) ||
	    !EVP_DigestFinal_ex(ctx, inner, &n))
		goto out;
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = k[i] ^ 0x5c;
	if (!EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, pad, sizeof pad) ||
	    !EVP_DigestUpdate(ctx, inner, n) || !EVP_DigestFinal_ex(ctx, mac, &n) || n != MI_LEN)
		goto out;
	ok = 1;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(pad, sizeof pad);
	return ok ? 0 : -1;
}

int stun_is_stun(const uint8_t *buf, size_t len)
{
	return buf && len >= STUN_HEADER_LEN && buf[0] < 4 && rd32(buf + 4) == STUN_MAGIC_COOKIE;
}

/* Decodes an XOR-MAPPED-ADDRESS value; the port and address are masked with the cookie
 * and, for IPv6, the transaction id (RFC 5389 section 15.2). */
static int parse_xor_mapped(const uint8_t *v, size_t n, const uint8_t *hdr, stun_msg *out)
{
	if (n < 4)
		return STUN_ERR_ATTR;
	uint16_t port = rd16(v + 2) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	memset(&out->xor_mapped, 0, sizeof out->xor_mapped);
	if (v[1] == 0x01 && n == 8) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->xor_mapped;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		uint32_t a = rd32(v + 4) ^ STUN_MAGIC_COOKIE;
		sin->sin_addr.s_addr = htonl(a);
	} else if (v[1] == 0x02 && n == 20) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->xor_mapped;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		/* Bytes 4..19 of the header are the cookie followed by the transaction id. */
		for (int i = 0; i < 16; i++)
			sin6->sin6_addr.s6_addr[i] = v[4 + i] ^ hdr[4 + i];
	} else {
		return STUN_ERR_ATTR;
	}
	out->has_xor_mapped = 1;
	return 0;
}

/* Interprets one attribute the ICE agent cares about; others are skipped. */
static int parse_attr(uint16_t type, const uint8_t *v, size_t n, const uint8_t *buf, stun_msg *out)
{
	switch (type) {
	case ATTR_USERNAME:
		if (n > USERNAME_MAX)
			return STUN_ERR_ATTR;
		if (!out->username) {
			out->username = v;
			out->username_len = n;
		}
		return 0;
	case ATTR_PRIORITY:
		if (n != 4)
			return STUN_ERR_ATTR;
		out->has_priority = 1;
		out->priority = rd32(v);
		return 0;
	case ATTR_USE_CANDIDATE:
		if (n != 0)
			return STUN_ERR_ATTR;
		out->use_candidate = 1;
		return 0;
	case ATTR_ICE_CONTROLLED:
	case ATTR_ICE_CONTROLLING:
		if (n != 8)
			return STUN_ERR_ATTR;
		if (type == ATTR_ICE_CONTROLLED)
			out->ice_controlled = 1;
		else
			out->ice_controlling = 1;
		out->tiebreaker = ((uint64_t)rd32(v) << 32) | rd32(v + 4);
		return 0;
	case ATTR_ERROR_CODE: {
		if (n < 4)
			return STUN_ERR_ATTR;
		unsigned cls = v[2] & 0x07, num = v[3];
		if (cls < 3 || cls > 6 || num > 99)
			return STUN_ERR_ATTR;
		out->has_error_code = 1;
		out->error_code = (uint16_t)(cls * 100 + num);
		return 0;
	}
	case ATTR_XOR_MAPPED_ADDRESS:
		if (out->has_xor_mapped)
			return 0;
		return parse_xor_mapped(v, n, buf, out);
	default:
		return 0;
	}
}

int stun_parse(const uint8_t *buf, size_t len, stun_msg *out)
{
	if (!buf || !out)
		return STUN_ERR_SHORT;
	memset(out, 0, sizeof *out);
	if (len < STUN_HEADER_LEN)
		return STUN_ERR_SHORT;
	if ((buf[0] & 0xc0) != 0 || rd32(buf + 4) != STUN_MAGIC_COOKIE)
		return STUN_ERR_NOT_STUN;
	uint16_t body = rd16(buf + 2);
	/* A datagram carries exactly one message, so trailing bytes are as wrong as missing ones.
	 */
	if ((body & 3) != 0 || (size_t)STUN_HEADER_LEN + body != len)
		return STUN_ERR_LENGTH;
	out->type = rd16(buf);
	out->length = body;
	memcpy(out->txid, buf + 8, 12);

	size_t off = STUN_HEADER_LEN;
	while (off < len) {
		if (len - off < 4)
			return STUN_ERR_SHORT;
		uint16_t type = rd16(buf + off);
		size_t n = rd16(buf + off + 2);
		size_t padded = (n + 3) & ~(size_t)3;
		if (padded > len - off - 4)
			return STUN_ERR_SHORT;
		const uint8_t *v = buf + off + 4;
		/* FINGERPRINT must be the last attribute; after MESSAGE-INTEGRITY only it may
		 * follow, and anything else there is ignored (RFC 5389 section 15.4). */
		if (out->has_fingerprint)
			return STUN_ERR_ATTR;
		if (type == ATTR_FINGERPRINT) {
			if (n != 4)
				return STUN_ERR_ATTR;
			out->has_fingerprint = 1;
			out->fingerprint_offset = off;
		} else if (type == ATTR_MESSAGE_INTEGRITY && !out->has_integrity) {
			if (n != MI_LEN)
				return STUN_ERR_ATTR;
			out->has_integrity = 1;
			out->integrity_offset = off;
		} else if (!out->has_integrity) {
			int rc = parse_attr(type, v, n, buf, out);
			if (rc < 0)
				return rc;
		}
		off += 4 + padded;
	}
	return 0;
}

int stun_check_integrity(const uint8_t *buf, size_t len, const stun_msg *m, const uint8_t *key,
                         size_t key_len)
{
	uint8_t mac[MI_LEN];
	if (!buf || !m || !m->has_integrity || m->integrity_offset < STUN_HEADER_LEN ||
	    m->integrity_offset > len || len - m->integrity_offset < 4 + MI_LEN ||
	    (!key && key_len))
		return STUN_ERR_INTEGRITY;
	size_t end = m->integrity_offset;
	uint16_t body = (uint16_t)(end + 4 + MI_LEN - STUN_HEADER_LEN);
	if (stun_hmac(buf, end, body, key, key_len, mac) < 0)
		return STUN_ERR_INTEGRITY;
	if (CRYPTO_memcmp(mac, buf + end + 4, MI_LEN) != 0)
		return STUN_ERR_INTEGRITY;
	return 0;
}

int stun_check_fingerprint(const uint8_t *buf, size_t len, const stun_msg *m)
{
	if (!buf || !m || !m->has_fingerprint || m->fingerprint_offset < STUN_HEADER_LEN ||
	    m->fingerprint_offset > len || len - m->fingerprint_offset < 8)
		return STUN_ERR_FINGERPRINT;
	size_t end = m->fingerprint_offset;
	uint16_t body = (uint16_t)(end + 8 - STUN_HEADER_LEN);
	uint32_t crc = stun_crc(buf, end, body) ^ FINGERPRINT_XOR;
	return crc == rd32(buf + end + 4) ? 0 : STUN_ERR_FINGERPRINT;
}

/* A small cursor for the builders: every write checks the remaining space once. */
typedef struct stun_writer {
	uint8_t *buf;
	size_t cap;
	size_t off;
	int overflow;
} stun_writer;

static uint8_t *put_attr(stun_writer *w, uint16_t type, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;
	if (w->overflow || w->cap - w->off < 4 + padded) {
		w->overflow = 1;
		return NULL;
	}
	uint8_t *p = w->buf + w->off;
	wr16(p, type);
	wr16(p + 2, (uint16_t)n);
	memset(p + 4, 0, padded);
	w->off += 4 + padded;
	return p + 4;
}

static void put_header(stun_writer *w, uint16_t type, const uint8_t txid[12])
{
	if (w->cap < STUN_HEADER_LEN) {
		w->overflow = 1;
		return;
	}
	wr16(w->buf, type);
	wr16(w->buf + 2, 0);
	wr32(w->buf + 4, STUN_MAGIC_COOKIE);
	memcpy(w->buf + 8, txid, 12);
	w->off = STUN_HEADER_LEN;
}

/* Appends MESSAGE-INTEGRITY (when a key is given) and FINGERPRINT, fixing the header
 * length before each digest as the RFC requires. Returns the final length. */
static ssize_t finish(stun_writer *w, const uint8_t *key, size_t key_len)
{
	if (key) {
		size_t at = w->off;
		uint8_t *v = put_attr(w, ATTR_MESSAGE_INTEGRITY, MI_LEN);
		if (!v)
			return STUN_ERR_SPACE;
		uint16_t body = (uint16_t)(w->off - STUN_HEADER_LEN);
		if (stun_hmac(w->buf, at, body, key, key_len, v) < 0)
			return STUN_ERR_INTEGRITY;
	}
	size_t at = w->off;
	uint8_t *v = put_attr(w, ATTR_FINGERPRINT, 4);
	if (!v)
		return STUN_ERR_SPACE;
	uint16_t body = (uint16_t)(w->off - STUN_HEADER_LEN);
	wr16(w->buf + 2, body);
	wr32(v, stun_crc(w->buf, at, body) ^ FINGERPRINT_XOR);
	return (ssize_t)w->off;
}

ssize_t stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t txid[12],
                                   const struct sockaddr *mapped, const uint8_t *key,
                                   size_t key_len)
{
	stun_writer w = {out, out ? cap : 0, 0, 0};
	if (!txid || !mapped)
		return STUN_ERR_ATTR;
	put_header(&w, STUN_BINDING_SUCCESS, txid);
	if (w.overflow)
		return STUN_ERR_SPACE;
	uint16_t xport = (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	if (mapped->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)mapped;
		uint8_t *v = put_attr(&w, ATTR_XOR_MAPPED_ADDRESS, 8);
		if (!v)
			return STUN_ERR_SPACE;
		v[1] = 0x01;
		wr16(v + 2, ntohs(sin->sin_port) ^ xport);
		wr32(v + 4, ntohl(sin->sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
	} else if (mapped->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)mapped;
		uint8_t *v = put_attr(&w, ATTR_XOR_MAPPED_ADDRESS, 20);
		if (!v)
			return STUN_ERR_SPACE;
		v[1] = 0x02;
		wr16(v + 2, ntohs(sin6->sin6_port) ^ xport);
		for (int i = 0; i < 16; i++)
			v[4 + i] = sin6->sin6_addr.s6_addr[i] ^ out[4 + i];
	} else {
		return STUN_ERR_ATTR;
	}
	return finish(&w, key, key_len);
}

ssize_t stun_build_binding_request(uint8_t *out, size_t cap, const uint8_t txid[12],
                                   const char *username, uint32_t priority, int use_candidate,
                                   uint64_t tiebreaker, const uint8_t *key, size_t key_len)
{
	stun_writer w = {out, out ? cap : 0, 0, 0};
	if (!txid)
		return STUN_ERR_ATTR;
	put_header(&w, STUN_BINDING_REQUEST, txid);
	if (username) {
		size_t n = strlen(username);
		if (n > USERNAME_MAX)
			return STUN_ERR_ATTR;
		uint8_t *v = put_attr(&w, ATTR_USERNAME, n);
		if (v)
			memcpy(v, username, n);
	}
	uint8_t *v = put_attr(&w, ATTR_PRIORITY, 4);
	if (v)
		wr32(v, priority);
	v = put_attr(&w, ATTR_ICE_CONTROLLING, 8);
	if (v) {
		wr32(v, (uint32_t)(tiebreaker >> 32));
		wr32(v + 4, (uint32_t)tiebreaker);
	}
	if (use_candidate)
		put_attr(&w, ATTR_USE_CANDIDATE, 0);
	if (w.overflow)
		return STUN_ERR_SPACE;
	return finish(&w, key, key_len);
}

const char *stun_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case STUN_ERR_SHORT:
		return "truncated message or attribute";
	case STUN_ERR_NOT_STUN:
		return "not a STUN message";
	case STUN_ERR_LENGTH:
		return "bad message length";
	case STUN_ERR_ATTR:
		return "malformed attribute";
	case STUN_ERR_INTEGRITY:
		return "MESSAGE-INTEGRITY missing or wrong";
	case STUN_ERR_FINGERPRINT:
		return "FINGERPRINT missing or wrong";
	case STUN_ERR_SPACE:
		return "output buffer too small";
	default:
		return "unknown STUN error";
	}
}
