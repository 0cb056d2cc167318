/* Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
 * extensions-01, section 3.1): recording arrivals, building RTPFB FMT 15 packets and
 * parsing them back.
 *
 * Layout after the 12-byte feedback header: base sequence number (16), packet status count
 * (16), reference time (24, signed, 64 ms units), feedback packet count (8), packet status
 * chunks, then one receive delta per received packet, padded to a word with zeros. */
#include "rtp/twcc.h"

#include "rtp/bytes.h"

#include <string.h>

#define TWCC_HDR_LEN   20
#define TWCC_MAX_PKT   1200  /* keep one feedback inside a conservative MTU */
#define TICK_US        250   /* receive delta unit */
#define REF_TICK_US    64000 /* reference time unit */
#define VECTOR_SYMBOLS 7     /* a two-bit status vector chunk holds seven symbols */
#define RUN_MAX        8191  /* 13-bit run length */

enum { SYM_NOT_RECEIVED = 0, SYM_SMALL = 1, SYM_LARGE = 2, SYM_RESERVED = 3 };

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t *slot(twcc_rec *r, uint16_t seq)
{
	return &r->arrival_us[seq % TWCC_WINDOW];
}

static void clear_window(twcc_rec *r)
{
	for (size_t i = 0; i < TWCC_WINDOW; i++)
		r->arrival_us[i] = -1;
	r->pending = 0;
}

void twcc_rec_init(twcc_rec *r)
{
	memset(r, 0, sizeof *r);
	clear_window(r);
}

void twcc_rec_add(twcc_rec *r, uint16_t seq, int64_t arrival_us)
{
	if (!r || arrival_us < 0)
		return;
	if (!r->started) {
		r->started = 1;
		r->base_seq = seq;
		r->max_seq = seq;
	}
	uint16_t ahead = (uint16_t)(seq - r->base_seq);
	if (ahead >= 0x8000)
		return; /* older than base: already reported (as lost, if it was missing) */
	if (ahead >= TWCC_WINDOW) {
		uint16_t past_max = (uint16_t)(seq - r->max_seq);
		if (r->pending == 0 || past_max >= TWCC_WINDOW) {
			/* A discontinuity: start over at seq rather than report a huge loss. */
			clear_window(r);
			r->base_seq = seq;
			r->max_seq = seq;
		} else {
			/* Traffic outran the builder: drop the oldest unreported entries. */
			uint16_t new_base = (uint16_t)(seq - TWCC_WINDOW + 1);
			for (uint16_t s = r->base_seq; s != new_base; s++) {
				int64_t *a = slot(r, s);
				if (*a >= 0)
					r->pending--;
				*a = -1;
			}
			r->base_seq = new_base;
		}
	}
	int64_t *a = slot(r, seq);
	if (*a >= 0)
		return; /* a duplicate keeps its first arrival */
	*a = arrival_us;
	r->pending++;
	uint16_t past_max = (uint16_t)(seq - r->max_seq);
	if (past_max != 0 && past_max < 0x8000)
		r->max_seq = seq;
}

/* Bytes of a packet holding n symbols and delta_bytes of deltas: chunks never exceed
 * ceil(n / 7) because every chunk but the last covers at least seven symbols. */
static size_t packet_size(size_t n, size_t delta_bytes)
{
	size_t chunks = (n + VECTOR_SYMBOLS - 1) / VECTOR_SYMBOLS;
	return (TWCC_HDR_LEN + 2 * chunks + delta_bytes + 3) & ~(size_t)3;
}

/* Writes run-length chunks for runs of seven or more equal symbols and two-bit status
 * vector chunks otherwise. Returns the offset after the chunks. */
static size_t write_chunks(uint8_t *out, size_t off, const uint8_t *sym, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t run = 1;
		while (i + run < n && run < RUN_MAX && sym[i + run] == sym[i])
			run++;
		uint16_t chunk;
		if (run >= VECTOR_SYMBOLS) {
			chunk = (uint16_t)((sym[i] << 13) | run);
			i += run;
		} else {
			chunk = 0xc000;
			for (size_t j = 0; j < VECTOR_SYMBOLS && i + j < n; j++)
				chunk |= (uint16_t)(sym[i + j] << (2 * (VECTOR_SYMBOLS - 1 - j)));
			i += VECTOR_SYMBOLS;
		}
		wr16(out + off, chunk);
		off += 2;
	}
	return off;
}

int twcc_rec_build(twcc_rec *r, uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *out, size_t cap)
{
	if (!r || !r->started || r->pending <= 0)
		return 0;
	size_t limit = cap < TWCC_MAX_PKT ? cap : TWCC_MAX_PKT;
	if (!out || limit < TWCC_HDR_LEN + 4)
		return -1;
	size_t span = (size_t)(uint16_t)(r->max_seq - r->base_seq) + 1;
	if (span > TWCC_WINDOW)
		span = TWCC_WINDOW;

	/* The reference time is the first received packet's arrival, floored to 64 ms. */
	int64_t first = -1;
	for (size_t i = 0; i < span && first < 0; i++)
		first = *slot(r, (uint16_t)(r->base_seq + i));
	if (first < 0)
		return 0;
	int64_t ref = floor_div(first, REF_TICK_US);

	/* Choose the symbols. Each delta is taken from the quantized previous arrival, so the
	 * rounding error stays below half a tick instead of accumulating. */
	uint8_t sym[TWCC_WINDOW];
	int16_t delta[TWCC_WINDOW];
	int64_t prev = ref * REF_TICK_US;
	size_t n = 0, delta_bytes = 0;
	int received = 0;
	for (size_t i = 0; i < span; i++) {
		int64_t t = *slot(r, (uint16_t)(r->base_seq + i));
		uint8_t s = SYM_NOT_RECEIVED;
		int64_t d = 0;
		if (t >= 0) {
			d = floor_div(t - prev + TICK_US / 2, TICK_US);
			if (d >= 0 && d <= 255)
				s = SYM_SMALL;
			else if (d >= INT16_MIN && d <= INT16_MAX)
				s = SYM_LARGE;
			else
				break; /* too far apart: the rest goes in the next feedback */
		}
		if (packet_size(i + 1, delta_bytes + s) > limit)
			break;
		sym[i] = s;
		delta[i] = (int16_t)d;
		delta_bytes += s;
		n = i + 1;
		if (s != SYM_NOT_RECEIVED) {
			prev += d * TICK_US;
			received++;
		}
	}
	if (n == 0)
		return -1;

	out[0] = 0x80 | 15;
	out[1] = 205;
	wr32(out + 4, sender_ssrc);
	wr32(out + 8, media_ssrc);
	wr16(out + 12, r->base_seq);
	wr16(out + 14, (uint16_t)n);
	uint32_t ref24 = (uint32_t)ref & 0xffffffu;
	out[16] = (uint8_t)(ref24 >> 16);
	out[17] = (uint8_t)(ref24 >> 8);
	out[18] = (uint8_t)ref24;
	out[19] = r->fb_count;
	size_t off = write_chunks(out, TWCC_HDR_LEN, sym, n);
	for (size_t i = 0; i < n; i++) {
		if (sym[i] == SYM_SMALL) {
			out[off++] = (uint8_t)delta[i];
		} else if (sym[i] == SYM_LARGE) {
			wr16(out + off, (uint16_t)delta[i]);
			off += 2;
		}
	}
	/* Zero padding inside the length, without the P bit: receivers stop after the last
	 * delta they expect. */
	while (off % 4)
		out[off++] = 0;
	wr16(out + 2, (uint16_t)(off / 4 - 1));

	for (size_t i = 0; i < n; i++)
		*slot(r, (uint16_t)(r->base_seq + i)) = -1;
	r->base_seq = (uint16_t)(r->base_seq + n);
	r->pending -= received;
	r->fb_count++;
	return (int)off;
}

/* Symbols in one chunk: a run, or 14 one-bit or 7 two-bit symbols. */
static size_t chunk_symbols(uint16_t chunk)
{
	if (!(chunk & 0x8000))
		return chunk & 0x1fff;
	return (chunk & 0x4000) ? 7 : 14;
}

static uint8_t chunk_symbol(uint16_t chunk, size_t j)
{
	if (!(chunk & 0x8000))
		return (chunk >> 13) & 0x03;
	if (chunk & 0x4000)
		return (chunk >> (2 * (6 - j))) & 0x03;
	return (chunk >> (13 - j)) & 0x01;
}

/* Walks the chunks for count symbols. With fn NULL only validates and returns the offset
 * where the deltas start in *delta_off; otherwise also reads the deltas and reports each. */
static int walk(const uint8_t *p, size_t end, uint16_t base, size_t count, size_t *delta_off,
                void (*fn)(void *user, uint16_t seq, int received, int64_t delta_us), void *user)
{
	size_t off = TWCC_HDR_LEN, seen = 0, dbytes = 0, doff = *delta_off;
	while (seen < count) {
		if (end - off < 2)
			return -1;
		uint16_t chunk = rd16(p + off);
		off += 2;
		size_t k = chunk_symbols(chunk);
		for (size_t j = 0; j < k && seen < count; j++, seen++) {
			uint8_t s = chunk_symbol(chunk, j);
			if (s == SYM_RESERVED)
				return -1;
			dbytes += s;
			if (!fn)
				continue;
			int64_t d = 0;
			if (s == SYM_SMALL)
				d = p[doff];
			else if (s == SYM_LARGE)
				d = (int16_t)rd16(p + doff);
			doff += s;
			fn(user, (uint16_t)(base + seen), s != SYM_NOT_RECEIVED, d * TICK_US);
		}
	}
	if (!fn) {
		if (dbytes > end - off)
			return -1;
		*delta_off = off;
	}
	return 0;
}

int twcc_parse(const uint8_t *pkt, size_t len, twcc_fb *fb,
               void (*fn)(void *user, uint16_t seq, int received, int64_t delta_us), void *user)
{
	if (!pkt || len < TWCC_HDR_LEN)
		return -1;
	if ((pkt[0] >> 6) != 2 || (pkt[0] & 0x1f) != 15 || pkt[1] != 205)
		return -1;
	size_t end = ((size_t)rd16(pkt + 2) + 1) * 4;
	if (end > len || end < TWCC_HDR_LEN)
		return -1;
	if (pkt[0] & 0x20) {
		uint8_t pad = pkt[end - 1];
		if (pad == 0 || pad > end - TWCC_HDR_LEN)
			return -1;
		end -= pad;
	}
	uint16_t base = rd16(pkt + 12);
	uint16_t count = rd16(pkt + 14);
	uint32_t ref = ((uint32_t)pkt[16] << 16) | ((uint32_t)pkt[17] << 8) | pkt[18];
	/* Validate everything before the first callback, so fn never sees half a packet. */
	size_t delta_off = 0;
	if (walk(pkt, end, base, count, &delta_off, NULL, NULL) < 0)
		return -1;
	if (fb) {
		fb->base_seq = base;
		fb->status_count = count;
		fb->reference_time = (ref & 0x800000u) ? (int32_t)ref - 0x1000000 : (int32_t)ref;
		fb->fb_count = pkt[19];
	}
	if (fn)
		walk(pkt, end, base, count, &delta_off, fn, user);
	return 0;
}
