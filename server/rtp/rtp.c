/* RTP header parsing and in-place rewriting (RFC 3550), header extensions (RFC 8285) and
 * the VP8 payload descriptor (RFC 7741). Every read is bounds-checked against the length
 * the caller gives; nothing here allocates. */
#include "rtp/rtp.h"

#include "rtp/bytes.h"

#include <string.h>

#define RTP_FIXED_LEN     12
#define EXT_ONE_BYTE      0xBEDE
#define EXT_TWO_BYTE_MASK 0xFFF0
#define EXT_TWO_BYTE      0x1000

int rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	return buf && len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}

int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr *h)
{
	if (!buf || !h)
		return RTP_ERR_SHORT;
	memset(h, 0, sizeof *h);
	if (len < RTP_FIXED_LEN)
		return RTP_ERR_SHORT;
	if ((buf[0] >> 6) != 2)
		return RTP_ERR_VERSION;
	h->csrc_count = buf[0] & 0x0f;
	h->marker = buf[1] >> 7;
	h->payload_type = buf[1] & 0x7f;
	h->seq = rd16(buf + 2);
	h->timestamp = rd32(buf + 4);
	h->ssrc = rd32(buf + 8);
	size_t off = RTP_FIXED_LEN + 4u * h->csrc_count;
	if (off > len)
		return RTP_ERR_SHORT;
	if (buf[0] & 0x10) {
		if (len - off < 4)
			return RTP_ERR_EXT;
		h->has_ext = 1;
		h->ext_profile = rd16(buf + off);
		h->ext_len = 4u * rd16(buf + off + 2);
		h->ext_offset = off + 4;
		if (h->ext_len > len - h->ext_offset)
			return RTP_ERR_EXT;
		off = h->ext_offset + h->ext_len;
	}
	h->header_len = off;
	if (buf[0] & 0x20) {
		/* The last byte counts the padding including itself, so zero is invalid. */
		uint8_t pad = buf[len - 1];
		if (pad == 0 || pad > len - off)
			return RTP_ERR_PADDING;
		h->padding_len = pad;
	}
	h->payload_len = len - off - h->padding_len;
	return 0;
}

/* Walks the extension block: one-byte elements (RFC 8285 section 4.2) carry a 4-bit id and
 * a 4-bit length-minus-one, id 15 ends the walk; two-byte elements (section 4.3) carry an
 * 8-bit id and an 8-bit length. A zero byte in the id position is padding in both forms. */
uint8_t *rtp_ext_find(uint8_t *buf, const rtp_hdr *h, uint8_t id, size_t *len)
{
	if (!buf || !h || !h->has_ext || id == 0)
		return NULL;
	int one_byte = h->ext_profile == EXT_ONE_BYTE;
	if (!one_byte && (h->ext_profile & EXT_TWO_BYTE_MASK) != EXT_TWO_BYTE)
		return NULL;
	if (one_byte && id > 14)
		return NULL;
	uint8_t *p = buf + h->ext_offset;
	size_t n = h->ext_len, i = 0;
	while (i < n) {
		if (p[i] == 0) {
			i++;
			continue;
		}
		uint8_t eid;
		size_t elen;
		if (one_byte) {
			eid = p[i] >> 4;
			elen = (size_t)(p[i] & 0x0f) + 1;
			if (eid == 15)
				return NULL;
			i += 1;
		} else {
			if (n - i < 2)
				return NULL;
			eid = p[i];
			elen = p[i + 1];
			i += 2;
		}
		if (elen > n - i)
			return NULL;
		if (eid == id) {
			if (len)
				*len = elen;
			return p + i;
		}
		i += elen;
	}
	return NULL;
}

void rtp_set_seq(uint8_t *buf, uint16_t seq)
{
	wr16(buf + 2, seq);
}

void rtp_set_timestamp(uint8_t *buf, uint32_t ts)
{
	wr32(buf + 4, ts);
}

void rtp_set_ssrc(uint8_t *buf, uint32_t ssrc)
{
	wr32(buf + 8, ssrc);
}

void rtp_set_payload_type(uint8_t *buf, uint8_t pt)
{
	buf[1] = (uint8_t)((buf[1] & 0x80) | (pt & 0x7f));
}

size_t rtp_put_ext_block(uint8_t *pkt, const uint8_t *ext, size_t len)
{
	if (len == 0)
		return 12;
	size_t padded = (len + 3) & ~(size_t)3;
	pkt[0] |= 0x10;
	pkt[12] = 0xBE;
	pkt[13] = 0xDE;
	pkt[14] = (uint8_t)((padded / 4) >> 8);
	pkt[15] = (uint8_t)(padded / 4);
	memcpy(pkt + 16, ext, len);
	memset(pkt + 16 + len, 0, padded - len);
	return 16 + padded;
}

int rtp_get_twcc_seq(uint8_t *buf, const rtp_hdr *h, uint8_t id, uint16_t *seq)
{
	size_t n = 0;
	uint8_t *p = rtp_ext_find(buf, h, id, &n);
	if (!p || n != 2)
		return -1;
	if (seq)
		*seq = rd16(p);
	return 0;
}

int rtp_set_twcc_seq(uint8_t *buf, const rtp_hdr *h, uint8_t id, uint16_t seq)
{
	size_t n = 0;
	uint8_t *p = rtp_ext_find(buf, h, id, &n);
	if (!p || n != 2)
		return -1;
	wr16(p, seq);
	return 0;
}

/* RFC 7741 section 4.2: |X|R|N|S|R|PID| then, when X, |I|L|T|K|RSV|, then the picture id
 * (7 bits, or 15 when its first bit M is set), TL0PICIDX, and a TID/Y/KEYIDX byte. */
int vp8_parse(const uint8_t *payload, size_t len, vp8_desc *d)
{
	if (!payload || !d)
		return RTP_ERR_SHORT;
	memset(d, 0, sizeof *d);
	if (len < 1)
		return RTP_ERR_SHORT;
	size_t off = 1;
	d->start_of_partition = (payload[0] >> 4) & 1;
	d->partition_id = payload[0] & 0x07;
	if (payload[0] & 0x80) {
		if (len < 2)
			return RTP_ERR_SHORT;
		uint8_t x = payload[1];
		off = 2;
		if (x & 0x80) {
			if (off >= len)
				return RTP_ERR_SHORT;
			d->has_picture_id = 1;
			d->picture_id_offset = off;
			if (payload[off] & 0x80) {
				if (len - off < 2)
					return RTP_ERR_SHORT;
				d->picture_id_15bit = 1;
				d->picture_id =
				    (uint16_t)(((payload[off] & 0x7f) << 8) | payload[off + 1]);
				off += 2;
			} else {
				d->picture_id = payload[off] & 0x7f;
				off += 1;
			}
		}
		if (x & 0x40) {
			if (off >= len)
				return RTP_ERR_SHORT;
			d->has_tl0picidx = 1;
			d->tl0picidx_offset = off;
			d->tl0picidx = payload[off];
			off += 1;
		}
		if (x & 0x30) {
			if (off >= len)
				return RTP_ERR_SHORT;
			off += 1;
		}
	}
	d->header_len = off;
	return 0;
}

/* The VP8 frame tag (RFC 6386 section 9.1) starts the first partition: bit 0 of its first
 * byte is 0 for key frames, which also carry the start code 9d 01 2a after the tag. */
int vp8_is_keyframe(const uint8_t *payload, size_t len)
{
	vp8_desc d;
	if (vp8_parse(payload, len, &d) < 0)
		return 0;
	if (!d.start_of_partition || d.partition_id != 0)
		return 0;
	const uint8_t *f = payload + d.header_len;
	size_t n = len - d.header_len;
	if (n < 10)
		return 0;
	return (f[0] & 0x01) == 0 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a;
}

/* An IDR slice or a parameter set means a decoder can start here. Checks single NAL units,
 * STAP-A aggregates (RFC 6184 section 5.7.1) and the first fragment of an FU-A. */
int h264_is_keyframe(const uint8_t *payload, size_t len)
{
	if (!payload || len < 1)
		return 0;
	uint8_t type = payload[0] & 0x1f;
	if (type == 5 || type == 7)
		return 1;
	if (type == 24) {
		size_t off = 1;
		while (len - off >= 2) {
			size_t n = rd16(payload + off);
			off += 2;
			if (n == 0 || n > len - off)
				return 0;
			uint8_t t = payload[off] & 0x1f;
			if (t == 5 || t == 7)
				return 1;
			off += n;
		}
		return 0;
	}
	if (type == 28 && len >= 2) {
		uint8_t t = payload[1] & 0x1f;
		return (payload[1] & 0x80) && (t == 5 || t == 7);
	}
	return 0;
}

const char *rtp_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case RTP_ERR_SHORT:
		return "packet shorter than its header";
	case RTP_ERR_VERSION:
		return "RTP version is not 2";
	case RTP_ERR_EXT:
		return "header extension overruns the packet";
	case RTP_ERR_PADDING:
		return "bad padding length";
	default:
		return "unknown RTP error";
	}
}

/* RFC 4588 section 4: the RTX payload starts with the original sequence number (OSN). */
int rtx_wrap(const uint8_t *pkt, size_t len, uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq,
             uint8_t *out, size_t cap)
{
	rtp_hdr h;
	int rc = rtp_parse(pkt, len, &h);
	if (rc < 0)
		return rc;
	if (!out)
		return RTX_ERR_SPACE;
	size_t n = h.header_len + 2 + h.payload_len;
	if (n > cap || n > INT32_MAX)
		return RTX_ERR_SPACE;
	/* Payload first, then header and OSN: this order also works in place (out == pkt). */
	memmove(out + h.header_len + 2, pkt + h.header_len, h.payload_len);
	memmove(out, pkt, h.header_len);
	out[0] &= (uint8_t)~0x20;
	wr16(out + h.header_len, h.seq);
	rtp_set_payload_type(out, rtx_pt);
	rtp_set_ssrc(out, rtx_ssrc);
	rtp_set_seq(out, rtx_seq);
	return (int)n;
}

int rtx_unwrap(uint8_t *pkt, size_t *len, uint8_t orig_pt, uint32_t orig_ssrc)
{
	if (!len)
		return RTP_ERR_SHORT;
	rtp_hdr h;
	int rc = rtp_parse(pkt, *len, &h);
	if (rc < 0)
		return rc;
	if (h.payload_len == 0 && h.padding_len > 0)
		return RTX_ERR_PROBE;
	if (h.payload_len < 2)
		return RTP_ERR_SHORT;
	uint16_t osn = rd16(pkt + h.header_len);
	memmove(pkt + h.header_len, pkt + h.header_len + 2, *len - h.header_len - 2);
	*len -= 2;
	rtp_set_seq(pkt, osn);
	rtp_set_payload_type(pkt, orig_pt);
	rtp_set_ssrc(pkt, orig_ssrc);
	return 0;
}

const char *rtx_strerror(int err)
{
	switch (err) {
	case RTX_ERR_SPACE:
		return "RTX output buffer too small";
	case RTX_ERR_PROBE:
		return "padding-only RTX packet";
	default:
		return rtp_strerror(err);
	}
}
