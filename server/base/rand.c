#include "base/rand.h"

#include <openssl/rand.h>
#include <stdio.h>

int rand_fill(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

uint32_t rand_u32(void)
{
	uint32_t v = 0;
	if (rand_fill(&v, sizeof v) != 0)
		return 0;
	return v;
}

int rand_hex(char *out, size_t nbytes)
{
	unsigned char b[64];
	if (nbytes > sizeof b || rand_fill(b, nbytes) != 0)
		return -1;
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * nbytes] = '\0';
	return 0;
}

int rand_uuid(char out[RAND_UUID_LEN])
{
	unsigned char b[16];
	if (rand_fill(b, sizeof b) != 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, RAND_UUID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
	return 0;
}

int rand_token(char *out, size_t nbytes)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char b[96];
	if (nbytes > sizeof b || rand_fill(b, nbytes) != 0)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < nbytes; i++) {
		acc = (acc << 8) | b[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alphabet[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return 0;
}
