/* VP8 picture id / TL0PICIDX rewriting tests: pass-through of the first source, switches
 * that continue the ids, several packets per picture, late packets, 7- and 15-bit wrap,
 * TL0PICIDX wrap, width changes between sources, malformed descriptors, and seeded random
 * runs (arbitrary bytes never crash; random switch streams stay continuous). */
#include "check.h"
#include "rtp/rtp.h"
#include "rtp/vp8mung.h"

#include <stdint.h>
#include <string.h>

static vp8mung m;

/* Builds a payload: X set, I (7- or 15-bit id), L when tl0 >= 0, then four frame bytes. */
static size_t make(uint8_t *p, int pid, int wide, int tl0)
{
	size_t n = 0;
	p[n++] = 0x90;
	p[n++] = (uint8_t)(0x80 | (tl0 >= 0 ? 0x40 : 0));
	if (wide) {
		p[n++] = (uint8_t)(0x80 | ((pid >> 8) & 0x7f));
		p[n++] = (uint8_t)pid;
	} else {
		p[n++] = (uint8_t)(pid & 0x7f);
	}
	if (tl0 >= 0)
		p[n++] = (uint8_t)tl0;
	memcpy(p + n, "\x11\x22\x33\x44", 4);
	return n + 4;
}

/* Applies the rewrite and returns the picture id out (or -1); *tl0 gets TL0PICIDX out. */
static int run(int pid, int wide, int tl0_in, int *tl0_out)
{
	uint8_t p[16];
	size_t n = make(p, pid, wide, tl0_in);
	if (vp8mung_apply(&m, p, n) != 0)
		return -1;
	vp8_desc d;
	if (vp8_parse(p, n, &d) != 0 || !d.has_picture_id || d.picture_id_15bit != wide)
		return -2;
	if (memcmp(p + n - 4, "\x11\x22\x33\x44", 4) != 0 || p[0] != 0x90)
		return -3;
	if (tl0_out)
		*tl0_out = d.has_tl0picidx ? d.tl0picidx : -1;
	return d.picture_id;
}

static void test_switches(void)
{
	int tl0;
	vp8mung_init(&m);
	/* The first source passes through unchanged, packets of one picture share an id. */
	CHECK_EQ_INT(run(100, 1, 7, &tl0), 100);
	CHECK_EQ_INT(tl0, 7);
	CHECK_EQ_INT(run(100, 1, 7, &tl0), 100);
	CHECK_EQ_INT(run(101, 1, 8, &tl0), 101);
	CHECK_EQ_INT(m.rewritten, 0);
	/* A new source continues from the last id and TL0PICIDX sent. */
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(5000, 1, 200, &tl0), 102);
	CHECK_EQ_INT(tl0, 9);
	CHECK_EQ_INT(run(5000, 1, 200, &tl0), 102);
	CHECK_EQ_INT(run(5001, 1, 200, &tl0), 103);
	CHECK_EQ_INT(run(5002, 1, 201, &tl0), 104);
	CHECK_EQ_INT(tl0, 10);
	/* A late packet of an older picture maps by the same offset and does not move the
	 * "last sent" mark back. */
	CHECK_EQ_INT(run(5001, 1, 200, &tl0), 103);
	CHECK_EQ_INT(tl0, 9);
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(42, 1, 0, &tl0), 105);
	CHECK_EQ_INT(tl0, 11);
	/* Switching back to the first source: a new offset again. */
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(102, 1, 9, &tl0), 106);
	CHECK_EQ_INT(tl0, 12);
	CHECK_EQ_INT(m.switches, 3);
}

static void test_wrap(void)
{
	int tl0;
	vp8mung_init(&m);
	CHECK_EQ_INT(run(32766, 1, 254, &tl0), 32766);
	CHECK_EQ_INT(run(32767, 1, 255, &tl0), 32767);
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(10, 1, 3, &tl0), 0);
	CHECK_EQ_INT(tl0, 0);
	CHECK_EQ_INT(run(11, 1, 4, &tl0), 1);
	CHECK_EQ_INT(tl0, 1);
	/* The new source wraps by itself: the output wraps with it. */
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(32767, 1, 255, &tl0), 2);
	CHECK_EQ_INT(tl0, 2);
	CHECK_EQ_INT(run(0, 1, 0, &tl0), 3);
	CHECK_EQ_INT(tl0, 3);

	/* 7-bit ids wrap at 128. */
	vp8mung_init(&m);
	CHECK_EQ_INT(run(126, 0, -1, NULL), 126);
	CHECK_EQ_INT(run(127, 0, -1, NULL), 127);
	CHECK_EQ_INT(run(0, 0, -1, NULL), 0);
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(50, 0, -1, &tl0), 1);
	CHECK_EQ_INT(tl0, -1);
	CHECK_EQ_INT(run(127, 0, -1, NULL), 78);
	CHECK_EQ_INT(run(0, 0, -1, NULL), 79);
}

static void test_widths(void)
{
	vp8mung_init(&m);
	CHECK_EQ_INT(run(300, 1, -1, NULL), 300);
	/* 15 then 7 bits: the low 7 bits continue (301 & 127 = 45). */
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(10, 0, -1, NULL), 45);
	CHECK_EQ_INT(run(11, 0, -1, NULL), 46);
	/* 7 then 15 bits: continues from the last 7-bit value. */
	vp8mung_switch(&m);
	CHECK_EQ_INT(run(9000, 1, -1, NULL), 47);
	CHECK_EQ_INT(run(9001, 1, -1, NULL), 48);
}

static void test_missing_fields(void)
{
	int tl0;
	uint8_t p[16], q[16];
	vp8mung_init(&m);
	CHECK_EQ_INT(run(20, 1, 5, &tl0), 20);
	vp8mung_switch(&m);
	/* A packet without X: nothing to rewrite; the pending switch waits for an id. */
	const uint8_t plain[] = {0x10, 1, 2, 3};
	memcpy(p, plain, sizeof plain);
	CHECK_EQ_INT(vp8mung_apply(&m, p, sizeof plain), 0);
	CHECK(memcmp(p, plain, sizeof plain) == 0);
	/* TL0PICIDX without a picture id, then a picture id without TL0PICIDX. */
	p[0] = 0x90;
	p[1] = 0x40;
	p[2] = 77;
	p[3] = 0xaa;
	CHECK_EQ_INT(vp8mung_apply(&m, p, 4), 0);
	CHECK_EQ_INT(p[2], 6);
	CHECK_EQ_INT(p[3], 0xaa);
	CHECK_EQ_INT(run(1000, 1, -1, NULL), 21);
	/* Truncated descriptors are refused and left untouched. */
	size_t n = make(q, 1234, 1, 9);
	for (size_t k = 0; k < 5; k++) {
		memcpy(p, q, n);
		CHECK_EQ_INT(vp8mung_apply(&m, p, k), -1);
		CHECK(memcmp(p, q, n) == 0);
	}
	CHECK_EQ_INT(vp8mung_apply(&m, NULL, 0), -1);
	CHECK_EQ_INT(vp8mung_apply(NULL, q, n), -1);
	vp8mung_switch(NULL);
}

static uint64_t rng_state = 0x3c6ef372fe94f82bull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Arbitrary bytes: never crash, refusals leave the buffer alone, accepted packets keep
 * their layout and everything but the two rewritten fields. */
static void test_random_bytes(void)
{
	uint8_t p[12], q[12];
	int bad = 0;
	vp8mung_init(&m);
	for (int op = 0; op < 200000 && !bad; op++) {
		size_t n = rnd() % sizeof p;
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)rnd();
		if (rnd() % 2 && n > 0)
			p[0] |= 0x80;
		memcpy(q, p, n);
		vp8_desc a, b;
		int pa = vp8_parse(q, n, &a);
		if (rnd() % 20 == 0)
			vp8mung_switch(&m);
		int rc = vp8mung_apply(&m, p, n);
		if ((rc < 0) != (pa < 0))
			bad = 1;
		if (rc < 0 && memcmp(p, q, n) != 0)
			bad = 2;
		if (rc == 0) {
			if (vp8_parse(p, n, &b) != 0 || b.header_len != a.header_len ||
			    b.picture_id_15bit != a.picture_id_15bit ||
			    b.has_tl0picidx != a.has_tl0picidx)
				bad = 3;
			for (size_t i = 0; i < n; i++) {
				int field =
				    (a.has_picture_id &&
				     (i == a.picture_id_offset ||
				      (a.picture_id_15bit && i == a.picture_id_offset + 1))) ||
				    (a.has_tl0picidx && i == a.tl0picidx_offset);
				if (!field && p[i] != q[i])
					bad = 4;
			}
		}
		if (bad)
			fprintf(stderr, "random bytes: op %d failed invariant %d\n", op, bad);
	}
	CHECK_EQ_INT(bad, 0);
}

/* Several sources each counting pictures on their own; the slot switches between them at
 * random. Every new picture out must be the previous picture out + 1 (15-bit), and every
 * new TL0PICIDX out the previous + 1. */
static void test_random_switches(void)
{
	int pid[4], tl0[4];
	int bad = 0, cur = 0, last_pid = -1, last_tl0 = -1;
	for (int k = 0; k < 4; k++) {
		pid[k] = (int)(rnd() % 32768);
		tl0[k] = (int)(rnd() % 256);
	}
	vp8mung_init(&m);
	for (int op = 0; op < 200000 && !bad; op++) {
		if (rnd() % 50 == 0) {
			int next = (int)(rnd() % 4);
			if (next != cur) {
				cur = next;
				vp8mung_switch(&m);
			}
		}
		/* Every source keeps advancing (its camera runs) whether forwarded or not. */
		for (int k = 0; k < 4; k++) {
			pid[k] = (pid[k] + 1) % 32768;
			tl0[k] = (tl0[k] + 1) % 256;
		}
		int t_out;
		int packets = 1 + (int)(rnd() % 3);
		for (int i = 0; i < packets; i++) {
			int out = run(pid[cur], 1, tl0[cur], &t_out);
			if (last_pid >= 0 && out != (last_pid + 1) % 32768)
				bad = 1;
			if (last_tl0 >= 0 && t_out != (last_tl0 + 1) % 256)
				bad = 2;
			if (i == packets - 1) {
				last_pid = out;
				last_tl0 = t_out;
			} else if (bad == 0) {
				/* Later packets of the same picture must get the same id. */
				int again = run(pid[cur], 1, tl0[cur], &t_out);
				if (again != out)
					bad = 3;
			}
			if (bad)
				break;
		}
		if (bad)
			fprintf(stderr, "random switches: op %d failed invariant %d\n", op, bad);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(m.switches > 1000);
}

int main(void)
{
	test_switches();
	test_wrap();
	test_widths();
	test_missing_fields();
	test_random_bytes();
	test_random_switches();
	return check_done("vp8mung");
}
