/* VP8 picture id / TL0PICIDX continuity across source switches. Offsets are kept modulo
 * 2^15 (picture id) and 2^8 (TL0PICIDX); a 7-bit id takes the low 7 bits of the mapped
 * value, which stays consistent because 128 divides 32768. */
#include "rtp/vp8mung.h"

#include "rtp/rtp.h"

#include <string.h>

#define PID15_MASK 0x7fff
#define PID7_MASK  0x7f

void vp8mung_init(vp8mung *m)
{
	memset(m, 0, sizeof *m);
}

void vp8mung_switch(vp8mung *m)
{
	if (!m)
		return;
	m->pid_pending = 1;
	m->tl0_pending = 1;
	m->switches++;
}

/* True when a is newer than b in a sequence space of `mask + 1` values. */
static int newer(uint32_t a, uint32_t b, uint32_t mask)
{
	uint32_t d = (a - b) & mask;
	return d != 0 && d <= mask / 2;
}

static int map_pid(vp8mung *m, uint8_t *payload, const vp8_desc *d)
{
	uint32_t mask = d->picture_id_15bit ? PID15_MASK : PID7_MASK;
	if (m->pid_pending) {
		/* A first source passes through; a later one continues from the last id sent. */
		uint32_t want = m->have_pid ? (uint32_t)m->last_pid + 1 : d->picture_id;
		m->pid_offset = (uint16_t)((want - d->picture_id) & PID15_MASK);
		m->pid_pending = 0;
	}
	uint16_t out = (uint16_t)((d->picture_id + m->pid_offset) & mask);
	if (!m->have_pid || m->last_pid_15bit != d->picture_id_15bit ||
	    newer(out, m->last_pid, mask)) {
		m->last_pid = out;
		m->last_pid_15bit = d->picture_id_15bit;
		m->have_pid = 1;
	}
	if (out == d->picture_id)
		return 0;
	uint8_t *p = payload + d->picture_id_offset;
	if (d->picture_id_15bit) {
		p[0] = (uint8_t)(0x80 | (out >> 8));
		p[1] = (uint8_t)out;
	} else {
		p[0] = (uint8_t)(p[0] & 0x80) | (uint8_t)out;
	}
	return 1;
}

static int map_tl0(vp8mung *m, uint8_t *payload, const vp8_desc *d)
{
	if (m->tl0_pending) {
		uint8_t want = m->have_tl0 ? (uint8_t)(m->last_tl0 + 1) : d->tl0picidx;
		m->tl0_offset = (uint8_t)(want - d->tl0picidx);
		m->tl0_pending = 0;
	}
	uint8_t out = (uint8_t)(d->tl0picidx + m->tl0_offset);
	if (!m->have_tl0 || newer(out, m->last_tl0, 0xff)) {
		m->last_tl0 = out;
		m->have_tl0 = 1;
	}
	if (out == d->tl0picidx)
		return 0;
	payload[d->tl0picidx_offset] = out;
	return 1;
}

int vp8mung_apply(vp8mung *m, uint8_t *payload, size_t len)
{
	vp8_desc d;
	if (!m || vp8_parse(payload, len, &d) < 0)
		return -1;
	int changed = 0;
	if (d.has_picture_id)
		changed |= map_pid(m, payload, &d);
	if (d.has_tl0picidx)
		changed |= map_tl0(m, payload, &d);
	if (changed)
		m->rewritten++;
	return 0;
}
