/* The record spool's file format and writer: frames round-trip, the checksum catches damage,
 * a torn tail is cut off, damage in the middle is skipped without losing the frames after it,
 * replay keeps file order, and the asynchronous writer appends, syncs, empties and closes.
 * Encryption: no record text reaches the file, a tampered frame is counted as damage and kept
 * aside, a wrong or missing key stops the load without losing or touching anything, spools
 * from before encryption still replay, and the key file and the spool are their owner's
 * alone. */
#include "check.h"
#include "store/spool.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1767225600123456LL

/* The key the tests write under; other_key is "the wrong key". */
static spool_key key = {{1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                         17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}};
static spool_key other_key = {{9}};

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
		int n = spool_encode(&key, &r, buf, sizeof buf);
		CHECK(n > SPOOL_HEADER);
		CHECK_EQ_INT(spool_decode(&key, buf, (size_t)n, &back), n);
		CHECK(same(&r, &back));
		/* Every prefix is torn, never an error and never a record. */
		for (int k = 0; k < n; k += 7)
			CHECK_EQ_INT(spool_decode(&key, buf, (size_t)k, &back), 0);
		/* Any flipped byte is caught. */
		for (int k = 0; k < n; k += 3) {
			buf[k] ^= 0x20;
			CHECK(spool_decode(&key, buf, (size_t)n, &back) <= 0);
			buf[k] ^= 0x20;
		}
	}
	/* A full-size record fits; a record too big for the buffer or malformed is refused. */
	store_record big = make(6);
	memset(big.detail, 'x', sizeof big.detail - 1);
	memset(big.note, 'y', sizeof big.note - 1);
	int n = spool_encode(&key, &big, buf, sizeof buf);
	CHECK(n > 1500);
	CHECK_EQ_INT(spool_decode(&key, buf, (size_t)n, &back), n);
	CHECK(same(&big, &back));
	CHECK_EQ_INT(spool_encode(&key, &big, buf, 100), -1);
	store_record bad = make(1);
	bad.at_us = 0;
	CHECK_EQ_INT(spool_encode(&key, &bad, buf, sizeof buf), -1);
	bad = make(1);
	bad.kind = STORE_CLOSE_INTERRUPTED;
	n = spool_encode(&key, &bad, buf, sizeof buf);
	CHECK(n < 0 || spool_decode(&key, buf, (size_t)n, &back) == -1);
	/* A huge length field is an error at once, not a wait for more bytes. */
	memcpy(buf, "MDGS\xff\xff\xff\x7f\0\0\0\0", 12);
	CHECK_EQ_INT(spool_decode(&key, buf, 12, &back), -1);
	CHECK_EQ_INT(spool_decode(&key, (const uint8_t *)"XDGS", 4, &back), -1);
}

/* Writes frames for make(0..n-1) to a buffer, encrypted under k (NULL: the format before
 * encryption); offs[i] is where frame i starts. */
static size_t frames_with(const spool_key *k, int n, uint8_t *out, size_t cap, size_t *offs)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		store_record r = make(i);
		offs[i] = len;
		int f = spool_encode(k, &r, out + len, cap - len);
		if (f < 0)
			return 0;
		len += (size_t)f;
	}
	offs[n] = len;
	return len;
}

static size_t frames(int n, uint8_t *out, size_t cap, size_t *offs)
{
	return frames_with(&key, n, out, cap, offs);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 0);

	/* Whole file: everything, in order, untouched. */
	write_file(path, buf, len);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.bytes, (long long)len);
	CHECK_EQ_INT(file_size(path), (long long)len);

	/* A crash mid-write: half of frame 9 is there. Cut off, nine kept. */
	write_file(path, buf, offs[9] + (offs[10] - offs[9]) / 2);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 9);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.damaged, (long long)(offs[5] - offs[4]));
	CHECK_EQ_INT(file_size(damaged), (long long)len);
	CHECK_EQ_INT(file_size(path), (long long)(len - (offs[5] - offs[4])));
	s = (struct seen){0, 1, expect};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
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
	spool *sp = spool_open(&loop, path, &key);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, NULL), 0);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, NULL), 0);
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
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 20);
	CHECK(s.in_order);

	/* Close when idle with records queued (appended without a loop turn): written now. */
	sp = spool_open(&loop, path, &key);
	CHECK(sp != NULL);
	run_idle(&loop, sp);
	store_record r20 = make(20);
	CHECK_EQ_INT(spool_append(sp, &r20), 0);
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 21);
	CHECK(s.in_order);
	spool_close(NULL);

	/* A path that cannot be a directory: refused, not a crash. */
	char bad_path[600];
	snprintf(bad_path, sizeof bad_path, "%s/x", path);
	CHECK(spool_open(&loop, bad_path, &key) == NULL);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	unlink(path);
}

/* ---- encryption ---- */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recomputes the checksum of the frame at p after its payload was changed, as someone who
 * knows the format (but not the key) would, so that only the tag can catch the change. */
static void fix_crc(uint8_t *p)
{
	uint32_t plen = get_le32(p + 4);
	uint32_t crc = spool_crc32(spool_crc32(0, p + 4, 4), p + SPOOL_HEADER, plen);
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(crc >> (8 * i));
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static int mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static int same_file(const char *path, const uint8_t *p, size_t n)
{
	size_t len = 0;
	char *got = check_read_file(path, &len);
	int same = got && len == n && memcmp(got, p, n) == 0;
	free(got);
	return same;
}

/* What the writer puts on disk tells nothing of the records: no note, name, id or code. */
static void test_sealed(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/sealed.spool", dir);
	uv_loop_t loop;
	uv_loop_init(&loop);
	spool *sp = spool_open(&loop, path, &key);
	CHECK(sp != NULL);
	for (int i = 0; i < 10; i++) {
		store_record r = make(i);
		CHECK_EQ_INT(spool_append(sp, &r), 0);
	}
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);

	size_t len = 0;
	uint8_t *bytes = (uint8_t *)check_read_file(path, &len);
	CHECK(bytes != NULL && len > 10 * 100);
	store_record r3 = make(3);
	CHECK(!contains(bytes, len, "メモ"));
	CHECK(!contains(bytes, len, "O'Brien"));
	CHECK(!contains(bytes, len, "DROP TABLE"));
	CHECK(!contains(bytes, len, "hoken"));
	CHECK(!contains(bytes, len, "accept"));
	CHECK(!contains(bytes, len, r3.visit));
	CHECK(!contains(bytes, len, "33333333-3333"));
	/* Every frame is of the encrypted version. */
	int n = 0;
	for (size_t pos = 0; bytes && pos + SPOOL_HEADER < len; n++) {
		CHECK_EQ_INT(bytes[pos + SPOOL_HEADER], 2);
		pos += SPOOL_HEADER + get_le32(bytes + pos + 4);
	}
	CHECK_EQ_INT(n, 10);
	free(bytes);
	struct seen s = {0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, NULL), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(s.in_order);

	/* A fresh nonce each time: the same record twice gives two different frames. */
	uint8_t a[SPOOL_FRAME_MAX], b[SPOOL_FRAME_MAX];
	int na = spool_encode(&key, &r3, a, sizeof a), nb = spool_encode(&key, &r3, b, sizeof b);
	CHECK(na > 0 && na == nb && memcmp(a, b, (size_t)na) != 0);
	unlink(path);
}

/* A frame whose ciphertext, nonce or tag was changed, and its checksum fixed, does not open;
 * in a spool it is counted as damage and kept aside, and the others replay. */
static void test_tampered(const char *dir)
{
	char path[512], damaged[600], damaged1[600];
	snprintf(path, sizeof path, "%s/tampered.spool", dir);
	snprintf(damaged, sizeof damaged, "%s.damaged", path);
	snprintf(damaged1, sizeof damaged1, "%s.damaged.1", path);
	static uint8_t buf[16 * SPOOL_FRAME_MAX];
	size_t offs[17];
	size_t len = frames(10, buf, sizeof buf, offs);
	CHECK(len > 0);
	store_record back;
	uint8_t *f4 = buf + offs[4];
	int n4 = (int)(offs[5] - offs[4]);
	/* nonce, ciphertext (first and last byte), tag */
	const int where[] = {SPOOL_HEADER + 1, SPOOL_HEADER + 13, n4 - SPOOL_TAG_LEN - 1, n4 - 1};
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		f4[where[i]] ^= 0x04;
		CHECK(spool_decode(&key, f4, (size_t)n4, &back) == -1); /* the checksum */
		fix_crc(f4);
		CHECK_EQ_INT(spool_decode(&key, f4, (size_t)n4, &back), SPOOL_ERR_KEY);
		f4[where[i]] ^= 0x04;
		fix_crc(f4);
		CHECK_EQ_INT(spool_decode(&key, f4, (size_t)n4, &back), n4);
	}
	/* Passing a sealed frame off as the old plain format does not work either. */
	f4[SPOOL_HEADER] = 1;
	fix_crc(f4);
	CHECK_EQ_INT(spool_decode(&key, f4, (size_t)n4, &back), -1);
	f4[SPOOL_HEADER] = 2;
	fix_crc(f4);

	f4[SPOOL_HEADER + 20] ^= 0x01;
	fix_crc(f4);
	write_file(path, buf, len);
	static const int expect[] = {0, 1, 2, 3, 5, 6, 7, 8, 9};
	struct seen s = {0, 1, expect};
	spool_load_stats st;
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 9);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.unauthenticated, 1);
	CHECK_EQ_INT(st.damaged, n4);
	CHECK_EQ_INT(st.torn, 0);
	CHECK(same_file(damaged, buf, len));
	CHECK_EQ_INT(file_size(path), (long long)(len - (size_t)n4));
	s = (struct seen){0, 1, expect};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 9);
	CHECK_EQ_INT(st.damaged, 0);

	/* More damage later: the first copy kept aside is not overwritten. */
	write_file(path, buf, len);
	s = (struct seen){0, 1, expect};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(st.unauthenticated, 1);
	CHECK(same_file(damaged, buf, len));
	CHECK(same_file(damaged1, buf, len));
	unlink(damaged);
	unlink(damaged1);
	unlink(path);
}

/* The wrong key, or none, opens nothing: the load fails without delivering or touching
 * anything. The format before encryption still replays, alone or mixed with the new one. */
static void test_wrong_key(const char *dir)
{
	char path[512], damaged[600];
	snprintf(path, sizeof path, "%s/key.spool", dir);
	snprintf(damaged, sizeof damaged, "%s.damaged", path);
	static uint8_t buf[16 * SPOOL_FRAME_MAX];
	size_t offs[17];
	size_t len = frames(10, buf, sizeof buf, offs);
	write_file(path, buf, len);
	struct seen s = {0, 1, NULL};
	spool_load_stats st;
	CHECK_EQ_INT(spool_load(path, &other_key, on_record, &s, &st), SPOOL_ERR_KEY);
	CHECK_EQ_INT(st.unauthenticated, 10);
	CHECK_EQ_INT(spool_load(path, NULL, on_record, &s, &st), SPOOL_ERR_KEY);
	CHECK_EQ_INT(s.n, 0);
	CHECK(same_file(path, buf, len));
	CHECK(access(damaged, F_OK) != 0);
	/* Even with a torn tail: nothing is cut while the key is wrong. */
	write_file(path, buf, len - 10);
	CHECK_EQ_INT(spool_load(path, &other_key, on_record, &s, &st), SPOOL_ERR_KEY);
	CHECK_EQ_INT(file_size(path), (long long)(len - 10));
	write_file(path, buf, len);
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(s.in_order);

	/* A spool written before encryption, then one half old and half new. */
	size_t plain_offs[17];
	size_t plain_len = frames_with(NULL, 10, buf, sizeof buf, plain_offs);
	CHECK(plain_len > 0 && buf[SPOOL_HEADER] == 1);
	write_file(path, buf, plain_len);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.plain, 10);
	CHECK_EQ_INT(file_size(path), (long long)plain_len);
	size_t half = plain_offs[5];
	for (int i = 5; i < 10; i++) {
		store_record r = make(i);
		int n = spool_encode(&key, &r, buf + half, sizeof buf - half);
		CHECK(n > 0);
		half += (size_t)n;
	}
	write_file(path, buf, half);
	s = (struct seen){0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, &st), 0);
	CHECK_EQ_INT(s.n, 10);
	CHECK(s.in_order);
	CHECK_EQ_INT(st.plain, 5);
	CHECK_EQ_INT(spool_load(path, NULL, on_record, &s, &st), SPOOL_ERR_KEY);
	unlink(path);
}

static void test_key_file(const char *dir)
{
	char path[600], sub[512];
	snprintf(sub, sizeof sub, "%s/keys/sub", dir);
	snprintf(path, sizeof path, "%s/spool.key", sub);
	spool_key k, k2;
	CHECK_EQ_INT(spool_key_load(path, 0, &k), 1);
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ_INT(spool_key_load(path, 1, &k), 0);
	CHECK_EQ_INT(mode_of(path), 0600);
	CHECK_EQ_INT(mode_of(sub), 0700);
	CHECK_EQ_INT(file_size(path), 65);
	CHECK_EQ_INT(spool_key_load(path, 0, &k2), 0);
	CHECK(memcmp(k.bytes, k2.bytes, sizeof k.bytes) == 0);
	CHECK_EQ_INT(spool_key_load(path, 1, &k2), 0); /* exists: read, not replaced */
	CHECK(memcmp(k.bytes, k2.bytes, sizeof k.bytes) == 0);
	CHECK(memcmp(k.bytes, key.bytes, sizeof k.bytes) != 0);

	/* Refused: readable by others, malformed, not a file. */
	CHECK_EQ_INT(chmod(path, 0640), 0);
	CHECK_EQ_INT(spool_key_load(path, 1, &k2), -1);
	CHECK_EQ_INT(chmod(path, 0600), 0);
	write_file(path, (const uint8_t *)"not hex\n", 8);
	CHECK_EQ_INT(spool_key_load(path, 1, &k2), -1);
	char text[80];
	memset(text, 'a', sizeof text);
	write_file(path, (const uint8_t *)text, 63);
	CHECK_EQ_INT(spool_key_load(path, 0, &k2), -1);
	write_file(path, (const uint8_t *)text, 66);
	CHECK_EQ_INT(spool_key_load(path, 0, &k2), -1);
	write_file(path, (const uint8_t *)text, 64);
	CHECK_EQ_INT(spool_key_load(path, 0, &k2), 0);
	CHECK_EQ_INT(k2.bytes[0], 0xaa);
	CHECK_EQ_INT(spool_key_load(sub, 1, &k2), -1);
	CHECK_EQ_INT(spool_key_load("", 1, &k2), -1);
	spool_key_wipe(&k);
	CHECK_EQ_INT(k.bytes[5], 0);
	unlink(path);
}

/* The spool is its owner's alone: new files 0600 in new 0700 directories, whatever the
 * umask, and an existing file others could read is tightened. */
static void test_modes(const char *dir)
{
	char path[512], d1[512], d2[512];
	snprintf(d1, sizeof d1, "%s/m", dir);
	snprintf(d2, sizeof d2, "%s/m/a", dir);
	snprintf(path, sizeof path, "%s/m/a/records.spool", dir);
	mode_t old = umask(0);
	uv_loop_t loop;
	uv_loop_init(&loop);
	spool *sp = spool_open(&loop, path, &key);
	CHECK(sp != NULL);
	spool_close(sp);
	CHECK_EQ_INT(mode_of(path), 0600);
	CHECK_EQ_INT(mode_of(d1), 0700);
	CHECK_EQ_INT(mode_of(d2), 0700);

	CHECK_EQ_INT(chmod(path, 0644), 0);
	struct seen s = {0, 1, NULL};
	CHECK_EQ_INT(spool_load(path, &key, on_record, &s, NULL), 0);
	CHECK_EQ_INT(mode_of(path), 0600);
	CHECK_EQ_INT(chmod(path, 0604), 0);
	sp = spool_open(&loop, path, &key);
	CHECK(sp != NULL);
	CHECK_EQ_INT(mode_of(path), 0600);
	spool_close(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	umask(old);
	unlink(path);
}

/* store_new: a missing or wrong key with encrypted records stops the start and touches
 * nothing; the right key replays them; an old plain spool replays and gets a new key. */
static void test_store_keys(const char *dir)
{
	const char *nodb = "host=/nonexistent-madoguchi-dir dbname=x";
	char path[512], keypath[600], away[600], other[600];
	snprintf(path, sizeof path, "%s/st/records.spool", dir);
	snprintf(keypath, sizeof keypath, "%s.key", path);
	snprintf(away, sizeof away, "%s/key.away", dir);
	snprintf(other, sizeof other, "%s/other.key", dir);
	spool_key k;
	CHECK_EQ_INT(spool_key_load(keypath, 1, &k), 0);
	static uint8_t buf[16 * SPOOL_FRAME_MAX];
	size_t offs[17];
	size_t len = frames_with(&k, 10, buf, sizeof buf, offs);
	write_file(path, buf, len);
	uv_loop_t loop;
	uv_loop_init(&loop);

	CHECK_EQ_INT(rename(keypath, away), 0);
	CHECK(store_new(&loop, nodb, path) == NULL);
	CHECK(access(keypath, F_OK) != 0); /* no new key that would never open them */
	CHECK(same_file(path, buf, len));
	spool_key wrong;
	CHECK_EQ_INT(spool_key_load(keypath, 1, &wrong), 0);
	CHECK(store_new(&loop, nodb, path) == NULL);
	CHECK(same_file(path, buf, len));
	CHECK_EQ_INT(rename(away, keypath), 0);
	store *s = store_new(&loop, nodb, path);
	CHECK(s != NULL);
	CHECK_EQ_INT(store_pending(s), 11); /* ten replayed and the crash recovery */
	store_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);

	/* A spool from before encryption, and no key yet; the key elsewhere this time. */
	size_t plain = frames_with(NULL, 10, buf, sizeof buf, offs);
	write_file(path, buf, plain);
	s = store_new_with_key(&loop, nodb, path, other);
	CHECK(s != NULL);
	CHECK_EQ_INT(store_pending(s), 11);
	CHECK_EQ_INT(mode_of(other), 0600);
	/* What is written from now on is encrypted under that key. */
	store_record r = make(3);
	CHECK_EQ_INT(store_write(s, &r), 0);
	store_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&loop), 0);
	spool_key ok;
	CHECK_EQ_INT(spool_key_load(other, 0, &ok), 0);
	size_t got = 0;
	uint8_t *bytes = (uint8_t *)check_read_file(path, &got);
	CHECK(bytes && got > plain && bytes[plain + SPOOL_HEADER] == 2);
	store_record back;
	CHECK(bytes && spool_decode(&ok, bytes + plain, got - plain, &back) > 0 && same(&back, &r));
	free(bytes);
	spool_key_wipe(&ok);
	spool_key_wipe(&k);
	spool_key_wipe(&wrong);
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
	test_sealed(dir);
	test_tampered(dir);
	test_wrong_key(dir);
	test_key_file(dir);
	test_modes(dir);
	test_store_keys(dir);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done("spool");
}
