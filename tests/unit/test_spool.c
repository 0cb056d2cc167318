/* The record spool's file format and writer: frames round-trip, the checksum catches damage,
 * a torn tail is cut off, damage in the middle is skipped without losing the frames after it,
 * replay keeps file order, and the asynchronous writer appends, syncs, empties and closes. */
#include "check.h"
#include "store/spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1767225600123456LL

static store_record make(int i)
{
	store_record r;
	memset(&r, 0, sizeof r);
	r.kind = (enum store_record_kind)(i % 7 == 5   ? STORE_SURVEY
	                                  : i % 7 == 6 ? STORE_AUDIT
	                                               : (i % 5));
	snprintf(r.visit, sizeof r.visit, "11111111-1111-4111-8111-%012d", i);
	snprintf(r.leg, sizeof r.leg, "22222222-2222-4222-8222-%012d", i);
	snprintf(r.kiosk_id, sizeof r.kiosk_id, "33333333-3333-4333-8333-333333333333");
	snprintf(r.department, sizeof r.department, "hoken");
	snprintf(r.note, sizeof r.note, "メモ %d: O'Brien \"quoted\"; DROP TABLE legs; --", i);
	snprintf(r.audit_id, sizeof r.audit_id, "44444444-4444-4444-8444-%012d", i);
	snprintf(r.action, sizeof r.action, "accept");
	snprintf(r.detail, sizeof r.detail, "{\"n\": %d}", i);
	r.rating = 1 + i % 5;
	r.at_us = T0 + i;
	return r;
}

static int same(const store_record *a, const store_record *b)
{
	return a->kind == b->kind && a->at_us == b->at_us && a->rating == b->rating &&
	       strcmp(a->visit, b->visit) == 0 && strcmp(a->leg, b->leg) == 0 &&
	       strcmp(a->kiosk_id, b->kiosk_id) == 0 && strcmp(a->department, b->department) == 0 &&
	       strcmp(a->note, b->note) == 0 && strcmp(a->audit_id, b->audit_id) == 0 &&
	       strcmp(a->action, b->action) == 0 && strcmp(a->detail, b->detail) == 0 &&
	       strcmp(a->onestop_menu, b->onestop_menu) == 0;
}

struct seen {
	int n;
	int in_order; /* every record matched make(expected[i]) */
	const int *expected;
};

static int on_record(void *user, const store_record *r)
{
	struct seen *s = user;
	store_record want = make(s->expected ? s->expected[s->n] : s->n);
	if (!same(r, &want))
		s->in_order = 0;
	s->n++;
	return 0;
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

static void test_crc(void)
{
	/* The standard check value of CRC-32/ISO-HDLC. */
	CHECK_EQ_INT(spool_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
	CHECK_EQ_INT(
	    spool_crc32(spool_crc32(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5),
	    0xCBF43926u);
}

static void test_frames(void)
{
	uint8_t buf[SPOOL_FRAME_MAX];
	store_record back;
	for (int i = 0; i < 14; i++) {
		store_record r = make(i);
		int n = spool_encode(&r, buf, sizeof buf);
		CHECK(n > SPOOL_HEADER);
		CHECK_EQ_INT(spool_decode(buf, (size_t)n, &back), n);
		CHECK(same(&r, &back));
		/* Every prefix is torn, never an error and never a record. */
		for (int k = 0; k < n; k += 7)
			CHECK_EQ_INT(spool_decode(buf, (size_t)k, &back), 0);
		/* Any flipped byte is caught. */
		for (int k = 0; k < n; k += 3) {
			buf[k] ^= 0x20;
			CHECK(spool_decode(buf, (size_t)n, &back) <= 0);
			buf[k] ^= 0x20;
		}
	}
	/* A full-size record fits; a record too big for the buffer or malformed is refused. */
	store_record big = make(6);
	memset(big.detail, 'x', sizeof big.detail - 1);
	memset(big.note, 'y', sizeof big.note - 1);
	int n = spool_encode(&big, buf, sizeof buf);
	CHECK(n > 1500);
	CHECK_EQ_INT(spool_decode(buf, (size_t)n, &back), n);
	CHECK(same(&big, &back));
	CHECK_EQ_INT(spool_encode(&big, buf, 100), -1);
	store_record bad = make(1);
	bad.at_us = 0;
	CHECK_EQ_INT(spool_encode(&bad, buf, sizeof buf), -1);
	bad = make(1);
	bad.kind = STORE_CLOSE_INTERRUPTED;
	n = spool_encode(&bad, buf, sizeof buf);
	CHECK(n < 0 || spool_decode(buf, (size_t)n, &back) == -1);
	/* A huge length field is an error at once, not a wait for more bytes. */
	memcpy(buf, "MDGS\xff\xff\xff\x7f\0\0\0\0", 12);
	CHECK_EQ_INT(spool_decode(buf, 12, &back), -1);
	CHECK_EQ_INT(spool_decode((const uint8_t *)"XDGS", 4, &back), -1);
}

/* Writes frames for make(0..n-1) to a buffer; offs[i] is where frame i starts. */
static size_t frames(int n, uint8_t *out, size_t cap, size_t *offs)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		store_record r = make(i);
		offs[i] = len;
		int k = spool_encode(&r, out + len, cap - len);
		if (k < 0)
			return 0;
		len += (size_t)k;
	}
	offs[n] = len;
	return len;
}

static void test_load(const char *dir)
{
	char path[512], damaged[600];
	snprintf(path, sizeof path, "%s/load.spool", dir);
	snprintf(damaged, sizeof damaged, "%s.damaged", path);
	static uint8_t buf[64 * SPOOL_FRAME_MAX];
	size_t offs[65];
	size_t len = frames(10, buf, sizeof buf, offs);
	CHECK(len > 0);

	/* Missing file: empty. */
	struct seen s = {0, 1, NULL};
	spool_load_stats st;
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 0);

	/* Whole file: everything, in order, untouched. */
	write_file(path, buf, len);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.bytes, (long long)len);
	CHECK_EQ_INT(file_size(path), (long long)len);

	/* A crash mid-write: half of frame 9 is there. Cut off, nine kept. */
	write_file(path, buf, offs[9] + (offs[10] - offs[9]) / 2);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 9);
	CHECK(s.in_order);
	CHECK(st.torn > 0);
	CHECK_EQ_INT(st.damaged, 0);
	CHECK_EQ_INT(file_size(path), (long long)offs[9]);
	CHECK(access(damaged, F_OK) != 0);

	/* A torn last frame whose bytes are all there but garbage (zeros after a crash). */
	memcpy(buf + len, buf + offs[9], offs[10] - offs[9]);
	memset(buf + len + SPOOL_HEADER, 0, 20);
	write_file(path, buf, len + (offs[10] - offs[9]));
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(st.torn > 0);
	CHECK_EQ_INT(file_size(path), (long long)len);

	/* Damage in frame 4's payload: frames 0-3 and 5-9 survive in order, the original is kept
	 * aside, and the spool is rewritten without the bad frame. */
	buf[offs[4] + SPOOL_HEADER + 20] ^= 0x01;
	write_file(path, buf, len);
	buf[offs[4] + SPOOL_HEADER + 20] ^= 0x01;
	static const int expect[] = {0, 1, 2, 3, 5, 6, 7, 8, 9};
	s = (struct seen){0, 1, expect};
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 9);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.damaged, (long long)(offs[5] - offs[4]));
	CHECK_EQ_INT(file_size(damaged), (long long)len);
	CHECK_EQ_INT(file_size(path), (long long)(len - (offs[5] - offs[4])));
	s = (struct seen){0, 1, expect};
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 9);
	CHECK_EQ_INT(st.damaged, 0);
	unlink(damaged);

	/* Garbage only: nothing delivered, never a crash. */
	uint8_t junk[5000];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	memcpy(junk + 100, "MDGS", 4);
	write_file(path, junk, sizeof junk);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 0);
	CHECK_EQ_INT(file_size(path), 0);
	unlink(damaged);
	unlink(path);
}

static void run_idle(uv_loop_t *loop, spool *sp)
{
	for (int i = 0; i < 2000 && !spool_idle(sp); i++)
		uv_run(loop, UV_RUN_ONCE);
}

static void test_writer(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/sub/dir/records.spool", dir);
	uv_loop_t loop;
	uv_loop_init(&loop);
	spool *sp = spool_open(&loop, path);
	CHECK(sp != NULL);
	for (int i = 0; i < 100; i++) {
		store_record r = make(i);
		CHECK_EQ_INT(spool_append(sp, &r), 0);
	}
	store_record bad = make(0);
	bad.visit[0] = '\0';
	bad.kind = STORE_VISIT_STARTED;
	CHECK_EQ_INT(spool_append(sp, &bad), -1);
	run_idle(&loop, sp);
	CHECK(spool_idle(sp));
	CHECK_EQ_INT(spool_records_synced(sp), 100);
	CHECK_EQ_INT(spool_file_bytes(sp), file_size(path));

	struct seen s = {0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 100);
	CHECK(s.in_order);

	/* Settled: the file is emptied; appends afterwards land in the empty file. */
	spool_settled(sp);
	run_idle(&loop, sp);
	CHECK_EQ_INT(file_size(path), 0);
	for (int i = 0; i < 3; i++) {
		store_record r = make(i);
		CHECK_EQ_INT(spool_append(sp, &r), 0);
	}
	/* Settled while the first write runs: nothing of it stays. */
	spool_settled(sp);
	store_record r3 = make(0);
	CHECK_EQ_INT(spool_append(sp, &r3), 0);
	run_idle(&loop, sp);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 1);
	CHECK(s.in_order);

	/* Close with a write running and more queued: everything reaches the file. */
	for (int i = 1; i < 20; i++) {
		store_record r = make(i);
		CHECK_EQ_INT(spool_append(sp, &r), 0);
	}
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 20);
	CHECK(s.in_order);

	/* Close when idle with records queued (appended without a loop turn): written now. */
	sp = spool_open(&loop, path);
	CHECK(sp != NULL);
	run_idle(&loop, sp);
	store_record r20 = make(20);
	CHECK_EQ_INT(spool_append(sp, &r20), 0);
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 21);
	CHECK(s.in_order);
	spool_close(NULL);

	/* A path that cannot be a directory: refused, not a crash. */
	char bad_path[600];
	snprintf(bad_path, sizeof bad_path, "%s/x", path);
	CHECK(spool_open(&loop, bad_path) == NULL);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/madoguchi-spool-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_crc();
	test_frames();
	test_load(dir);
	test_writer(dir);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done("spool");
}
