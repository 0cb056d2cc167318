/* RFC 2198 redundant audio payloads (see red.h). The parser walks the block headers one by
 * one and checks each step against the bytes that remain, so no block it returns reaches
 * outside the payload. */
#include "rtp/red.h"

#include <string.h>

#define RED_MAX_OFFSET 0x3fff /* 14-bit timestamp offset */
#define RED_MAX_LEN    0x3ff  /* 10-bit block length */

int red_parse(const uint8_t *payload, size_t len, red_packet *out)
{
	if (!payload || len == 0)
		return RED_ERR_EMPTY;
	size_t pos = 0, data = 0;
	int n = 0;
	/* Redundant block headers (F = 1), then the one-byte primary header (F = 0). */
	for (;;) {
		if (pos >= len)
			return RED_ERR_HEADER;
		if (n == RED_MAX_BLOCKS)
			return RED_ERR_TOO_MANY;
		red_block *b = &out->block[n++];
		b->pt = payload[pos] & 0x7f;
		if (!(payload[pos] & 0x80)) {
			b->ts_offset = 0;
			pos += 1;
			break;
		}
		if (len - pos < 4)
			return RED_ERR_HEADER;
		uint32_t word = (uint32_t)payload[pos + 1] << 16 | (uint32_t)payload[pos + 2] << 8 |
		                payload[pos + 3];
		b->ts_offset = (uint16_t)(word >> 10);
		b->len = word & RED_MAX_LEN;
		data += b->len;
		pos += 4;
	}
	if (data > len - pos)
		return RED_ERR_LENGTH;
	out->n = n;
	out->header_len = pos;
	size_t off = pos;
	for (int i = 0; i < n - 1; i++) {
		out->block[i].off = off;
		off += out->block[i].len;
	}
	out->block[n - 1].off = off;
	out->block[n - 1].len = len - off;
	return 0;
}

int red_build(int n, const uint8_t *pts, const uint16_t *ts_offsets, const uint8_t *const *data,
              const size_t *lens, uint8_t *out, size_t cap)
{
	if (n < 1 || n > RED_MAX_BLOCKS)
		return RED_ERR_BLOCK;
	size_t total = 4 * (size_t)(n - 1) + 1;
	for (int i = 0; i < n; i++) {
		if (pts[i] > 0x7f ||
		    (i < n - 1 && (ts_offsets[i] > RED_MAX_OFFSET || lens[i] > RED_MAX_LEN)))
			return RED_ERR_BLOCK;
		total += lens[i];
	}
	if (total > cap || total > 0x7fffffff)
		return RED_ERR_SPACE;
	size_t pos = 0;
	for (int i = 0; i < n - 1; i++) {
		uint32_t word = (uint32_t)ts_offsets[i] << 10 | (uint32_t)lens[i];
		out[pos++] = (uint8_t)(0x80 | pts[i]);
		out[pos++] = (uint8_t)(word >> 16);
		out[pos++] = (uint8_t)(word >> 8);
		out[pos++] = (uint8_t)word;
	}
	out[pos++] = pts[n - 1];
	for (int i = 0; i < n; i++) {
		/* The blocks may come from the same buffer as out only if the caller says so;
		 * memmove keeps an overlapping copy correct all the same. */
		if (lens[i])
			memmove(out + pos, data[i], lens[i]);
		pos += lens[i];
	}
	return (int)pos;
}

int red_rewrite(const uint8_t *payload, const red_packet *rp, uint8_t from_pt, uint8_t to_pt,
                uint8_t *out, size_t cap)
{
	if (rp->n < 1 || rp->n > RED_MAX_BLOCKS)
		return RED_ERR_BLOCK;
	if (rp->block[rp->n - 1].pt != from_pt)
		return RED_ERR_FOREIGN_PT;
	uint8_t pts[RED_MAX_BLOCKS];
	uint16_t offs[RED_MAX_BLOCKS];
	const uint8_t *data[RED_MAX_BLOCKS];
	size_t lens[RED_MAX_BLOCKS];
	int k = 0;
	for (int i = 0; i < rp->n; i++) {
		const red_block *b = &rp->block[i];
		if (b->pt != from_pt)
			continue;
		pts[k] = to_pt;
		offs[k] = b->ts_offset;
		data[k] = payload + b->off;
		lens[k] = b->len;
		k++;
	}
	return red_build(k, pts, offs, data, lens, out, cap);
}

int red_for_receiver(const uint8_t *payload, const red_packet *rp, uint8_t src_pt, int red_pt,
                     uint8_t dst_pt, uint8_t *out, size_t cap, uint8_t *pt_out)
{
	if (rp->n < 1 || rp->n > RED_MAX_BLOCKS)
		return RED_ERR_BLOCK;
	const red_block *primary = &rp->block[rp->n - 1];
	if (primary->pt != src_pt)
		return RED_ERR_FOREIGN_PT;
	if (red_pt >= 0 && red_pt < 128) {
		int n = red_rewrite(payload, rp, src_pt, dst_pt, out, cap);
		if (n >= 0)
			*pt_out = (uint8_t)red_pt;
		return n;
	}
	if (primary->len == 0)
		return RED_ERR_EMPTY;
	if (primary->len > cap || primary->len > 0x7fffffff)
		return RED_ERR_SPACE;
	memcpy(out, payload + primary->off, primary->len);
	*pt_out = dst_pt;
	return (int)primary->len;
}

const char *red_strerror(int err)
{
	switch (err) {
	case RED_ERR_EMPTY:
		return "empty RED payload";
	case RED_ERR_HEADER:
		return "RED block headers run past the payload";
	case RED_ERR_LENGTH:
		return "RED block lengths run past the payload";
	case RED_ERR_TOO_MANY:
		return "too many RED blocks";
	case RED_ERR_SPACE:
		return "no room for the RED payload";
	case RED_ERR_FOREIGN_PT:
		return "RED primary block of another payload type";
	case RED_ERR_BLOCK:
		return "RED block out of range";
	default:
		return "unknown RED error";
	}
}
