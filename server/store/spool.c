/* The on-disk record spool (format in spool.h).
 *
 * Writing: the loop never waits for the disk. Appends go to a pending buffer; one file
 * operation at a time runs on libuv's thread pool (write, then fdatasync, or ftruncate), and
 * what arrived meanwhile is written as the next batch, so a burst of records costs one
 * fdatasync, not one each. The price is a window of about one fdatasync (a millisecond or so)
 * in which a record exists only in memory; PostgreSQL usually confirms it within that window
 * anyway, and a record confirmed by either one is safe.
 *
 * A failed or short write may leave part of a frame in the file: the file is cut back to the
 * last complete batch before anything else is written, so frames stay contiguous. */
#include "store/spool.h"

#include "base/log.h"
#include "base/rand.h"
#include "store/sql.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_MAGIC    "MDGS"
#define VERSION_PLAIN  1
#define VERSION_SEALED 2
#define N_STRINGS      12
/* kind, at_us, rating and twelve empty strings */
#define BODY_MIN   (1 + 8 + 4 + 2 * N_STRINGS)
#define SEAL_EXTRA (SPOOL_NONCE_LEN + SPOOL_TAG_LEN)

/* ---- the format ---- */

uint32_t spool_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The string fields in their serialised order, with their capacities. */
struct field {
	char *s;
	size_t cap;
};

static void fields_of(store_record *r, struct field f[N_STRINGS])
{
	struct field all[N_STRINGS] = {
	    {r->visit, sizeof r->visit},         {r->leg, sizeof r->leg},
	    {r->kiosk_id, sizeof r->kiosk_id},   {r->department, sizeof r->department},
	    {r->procedure, sizeof r->procedure}, {r->staff_id, sizeof r->staff_id},
	    {r->outcome, sizeof r->outcome},     {r->note, sizeof r->note},
	    {r->audit_id, sizeof r->audit_id},   {r->action, sizeof r->action},
	    {r->detail, sizeof r->detail},       {r->onestop_menu, sizeof r->onestop_menu},
	};
	memcpy(f, all, sizeof all);
}

/* The record's body; its length, or -1. */
static int body_encode(const store_record *r, uint8_t *out, size_t cap)
{
	if (!r || store_sql_record_check(r) != 0)
		return -1;
	store_record copy = *r;
	struct field f[N_STRINGS];
	fields_of(&copy, f);
	size_t len = 1 + 8 + 4;
	for (int i = 0; i < N_STRINGS; i++)
		len += 2 + strlen(f[i].s);
	if (len > cap)
		return -1;
	uint8_t *p = out;
	*p++ = (uint8_t)r->kind;
	uint64_t at = (uint64_t)r->at_us;
	put32(p, (uint32_t)at);
	put32(p + 4, (uint32_t)(at >> 32));
	put32(p + 8, (uint32_t)r->rating);
	p += 12;
	for (int i = 0; i < N_STRINGS; i++) {
		size_t n = strlen(f[i].s);
		p[0] = (uint8_t)n;
		p[1] = (uint8_t)(n >> 8);
		memcpy(p + 2, f[i].s, n);
		p += 2 + n;
	}
	OPENSSL_cleanse(&copy, sizeof copy);
	return (int)len;
}

static int body_decode(const uint8_t *p, size_t n, store_record *r)
{
	const uint8_t *end = p + n;
	if (n < BODY_MIN)
		return -1;
	memset(r, 0, sizeof *r);
	r->kind = (enum store_record_kind)p[0];
	r->at_us = (int64_t)((uint64_t)get32(p + 1) | (uint64_t)get32(p + 5) << 32);
	r->rating = (int)get32(p + 9);
	p += 13;
	struct field f[N_STRINGS];
	fields_of(r, f);
	for (int i = 0; i < N_STRINGS; i++) {
		if (end - p < 2)
			return -1;
		size_t len = (size_t)p[0] | (size_t)p[1] << 8;
		if (len >= f[i].cap || (size_t)(end - p - 2) < len || memchr(p + 2, '\0', len))
			return -1;
		memcpy(f[i].s, p + 2, len);
		f[i].s[len] = '\0';
		p += 2 + len;
	}
	if (p != end || r->kind == STORE_CLOSE_INTERRUPTED || r->kind == STORE_CLOSE_TAKEOVER ||
	    store_sql_record_check(r) != 0)
		return -1;
	return 0;
}

/* What the tag also vouches for: that this is a spool frame of this version. */
static void frame_aad(uint8_t aad[5], uint8_t version)
{
	memcpy(aad, SPOOL_MAGIC, 4);
	aad[4] = version;
}

int spool_encode(const spool_key *key, const store_record *r, uint8_t *out, size_t cap)
{
	uint8_t body[SPOOL_FRAME_MAX];
	if (!out)
		return -1;
	int n = body_encode(r, body, sizeof body);
	size_t plen = 1 + (key ? SEAL_EXTRA : 0) + (size_t)(n > 0 ? n : 0);
	int rc = n > 0 && SPOOL_HEADER + plen <= cap ? 0 : -1;
	uint8_t *p = out + SPOOL_HEADER;
	if (rc == 0 && !key) {
		p[0] = VERSION_PLAIN;
		memcpy(p + 1, body, (size_t)n);
	} else if (rc == 0) {
		uint8_t aad[5];
		p[0] = VERSION_SEALED;
		frame_aad(aad, VERSION_SEALED);
		uint8_t *nonce = p + 1, *sealed = nonce + SPOOL_NONCE_LEN, *tag = sealed + n;
		if (rand_fill(nonce, SPOOL_NONCE_LEN) != 0 ||
		    spool_seal(key, nonce, aad, sizeof aad, body, (size_t)n, sealed, tag) != 0)
			rc = -1;
	}
	if (n > 0)
		OPENSSL_cleanse(body, (size_t)n);
	if (rc != 0)
		return -1;
	memcpy(out, SPOOL_MAGIC, 4);
	put32(out + 4, (uint32_t)plen);
	put32(out + 8, spool_crc32(spool_crc32(0, out + 4, 4), p, plen));
	return (int)(SPOOL_HEADER + plen);
}

/* The frame's length when its magic, length and checksum hold (whatever is inside), 0 when
 * buf holds only its beginning, -1 when this is not a frame. */
static int frame_check(const uint8_t *buf, size_t len)
{
	if (memcmp(buf, SPOOL_MAGIC, len < 4 ? len : 4) != 0)
		return -1;
	if (len < SPOOL_HEADER)
		return 0;
	uint32_t plen = get32(buf + 4);
	if (plen < 1 + BODY_MIN || plen > SPOOL_FRAME_MAX - SPOOL_HEADER)
		return -1;
	if (len < SPOOL_HEADER + (size_t)plen)
		return 0;
	if (get32(buf + 8) != spool_crc32(spool_crc32(0, buf + 4, 4), buf + SPOOL_HEADER, plen))
		return -1;
	return (int)(SPOOL_HEADER + plen);
}

int spool_decode(const spool_key *key, const uint8_t *buf, size_t len, store_record *r)
{
	int n = frame_check(buf, len);
	if (n <= 0)
		return n;
	const uint8_t *p = buf + SPOOL_HEADER;
	size_t plen = (size_t)n - SPOOL_HEADER;
	if (p[0] == VERSION_PLAIN)
		return body_decode(p + 1, plen - 1, r) == 0 ? n : -1;
	if (p[0] != VERSION_SEALED || plen < 1 + SEAL_EXTRA + BODY_MIN)
		return -1;
	if (!key)
		return SPOOL_ERR_KEY;
	uint8_t body[SPOOL_FRAME_MAX], aad[5];
	size_t bn = plen - 1 - SEAL_EXTRA;
	const uint8_t *nonce = p + 1, *sealed = nonce + SPOOL_NONCE_LEN, *tag = sealed + bn;
	frame_aad(aad, VERSION_SEALED);
	if (spool_unseal(key, nonce, aad, sizeof aad, sealed, bn, tag, body) != 0)
		return SPOOL_ERR_KEY;
	int rc = body_decode(body, bn, r) == 0 ? n : -1;
	OPENSSL_cleanse(body, bn);
	return rc;
}

/* ---- loading ---- */

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	size_t cap = 0;
	int rc = 0;
	for (;;) {
		if (*len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *n = realloc(*out, ncap);
			if (!n) {
				rc = -1;
				break;
			}
			*out = n;
			cap = ncap;
		}
		size_t got = fread(*out + *len, 1, cap - *len, f);
		*len += got;
		if (got == 0) {
			rc = ferror(f) ? -1 : 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Where the damaged original goes: PATH.damaged, or PATH.damaged.N when earlier damage is
 * still kept there (an earlier copy is never overwritten). */
static int aside_path(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s.damaged", path);
	for (int i = 1; access(out, F_OK) == 0; i++) {
		if (i > 9999)
			return -1;
		snprintf(out, cap, "%s.damaged.%d", path, i);
	}
	return 0;
}

/* Replaces the file with the good frames only (write aside, fsync, rename), after keeping
 * the damaged original beside it. */
static int rewrite(const char *path, const uint8_t *buf, const size_t *offs, const int *lens, int n,
                   char *aside, size_t aside_cap)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (aside_path(path, aside, aside_cap) != 0 || rename(path, aside) != 0)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (write(fd, buf + offs[i], (size_t)lens[i]) != lens[i]) {
			close(fd);
			return -1;
		}
	if (fdatasync(fd) != 0 || close(fd) != 0)
		return -1;
	return rename(tmp, path);
}

/* Where the good frames are, and what is wrong with the rest. */
struct scan {
	size_t *offs;
	int *lens;
	int n, sealed;
	size_t good_end;
};

static void scan(const spool_key *key, const uint8_t *buf, size_t len, struct scan *sc,
                 spool_load_stats *st)
{
	size_t pos = 0;
	store_record r;
	while (pos < len) {
		int n = spool_decode(key, buf + pos, len - pos, &r);
		if (n > 0) {
			sc->offs[sc->n] = pos;
			sc->lens[sc->n] = n;
			sc->n++;
			if (buf[pos + SPOOL_HEADER] == VERSION_SEALED)
				sc->sealed++;
			else
				st->plain++;
			pos += (size_t)n;
			sc->good_end = pos;
			continue;
		}
		if (n == SPOOL_ERR_KEY) {
			/* Intact but not authentic: damage, but the next frame is right after it.
			 */
			n = frame_check(buf + pos, len - pos);
			st->unauthenticated++;
			st->damaged += n;
			pos += (size_t)n;
			continue;
		}
		/* Not a frame here: a torn tail if no intact frame follows, damage otherwise. */
		size_t next = pos + 1;
		while (next < len) {
			const uint8_t *m = memchr(buf + next, 'M', len - next);
			if (!m) {
				next = len;
				break;
			}
			next = (size_t)(m - buf);
			if (frame_check(buf + next, len - next) > 0)
				break;
			next++;
		}
		if (next >= len) {
			st->torn = (long long)(len - pos);
			break;
		}
		st->damaged += (long long)(next - pos);
		pos = next;
	}
	OPENSSL_cleanse(&r, sizeof r);
}

/* The spool holds what clerks wrote: only its owner may read it, whoever created it. */
static void tighten(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077) && chmod(path, 0600) == 0)
		LOG_WARN("spool",
		         "the spool could be read by others; made it 0600 path=%s was=%04o", path,
		         (unsigned)(st.st_mode & 07777));
}

int spool_load(const char *path, const spool_key *key, spool_record_cb cb, void *user,
               spool_load_stats *st)
{
	spool_load_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	uint8_t *buf;
	size_t len;
	if (!path || !cb)
		return -1;
	tighten(path);
	if (read_all(path, &buf, &len) != 0)
		return -1;
	size_t most = len / (SPOOL_HEADER + 1 + BODY_MIN) + 1;
	struct scan sc = {calloc(most, sizeof *sc.offs), calloc(most, sizeof *sc.lens), 0, 0, 0};
	int rc = sc.offs && sc.lens ? 0 : -1;
	if (rc == 0)
		scan(key, buf, len, &sc, st);
	/* Nothing encrypted opens: the wrong key, or none. Dropping it all as damage would lose
	 * every record; the operator must bring the right key (the caller says how). */
	if (rc == 0 && st->unauthenticated > 0 && sc.sealed == 0)
		rc = SPOOL_ERR_KEY;
	store_record r;
	for (int i = 0; rc == 0 && i < sc.n; i++) {
		if (spool_decode(key, buf + sc.offs[i], (size_t)sc.lens[i], &r) <= 0 ||
		    cb(user, &r) != 0)
			rc = -1;
		else
			st->records++;
	}
	OPENSSL_cleanse(&r, sizeof r);
	char aside[4200] = "";
	if (rc == 0 && st->damaged > 0) {
		if (rewrite(path, buf, sc.offs, sc.lens, sc.n, aside, sizeof aside) != 0) {
			LOG_ERROR("spool", "cannot repair the spool path=%s err=\"%s\"", path,
			          strerror(errno));
			rc = -1;
		}
	} else if (rc == 0 && st->torn > 0 && truncate(path, (off_t)sc.good_end) != 0) {
		LOG_ERROR("spool", "cannot cut the torn tail path=%s err=\"%s\"", path,
		          strerror(errno));
		rc = -1;
	}
	if (rc == 0 && st->damaged > 0)
		LOG_ERROR("spool",
		          "damaged frames skipped path=%s bytes=%lld unauthenticated=%d "
		          "kept_records=%d copy=%s",
		          path, st->damaged, st->unauthenticated, st->records, aside);
	if (rc == 0 && st->torn > 0)
		LOG_WARN("spool", "torn last frame cut off path=%s bytes=%lld", path, st->torn);
	for (int i = 0; rc == 0 && i < sc.n; i++)
		st->bytes += sc.lens[i];
	free(sc.offs);
	free(sc.lens);
	if (buf)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

/* ---- the writer ---- */

enum spool_op { OP_NONE, OP_WRITE, OP_SYNC, OP_TRUNCATE };

struct buffer {
	uint8_t *data;
	size_t len, cap;
	unsigned records;
};

struct spool {
	uv_loop_t *loop;
	char *path;
	uv_file fd;
	uv_fs_t req;
	enum spool_op op;       /* the operation running on the thread pool */
	struct buffer pending;  /* frames appended since the batch in flight was taken */
	struct buffer inflight; /* the batch being written and synced */
	size_t inflight_done;   /* bytes of inflight already written */
	int need_sync;          /* inflight is written but not yet synced */
	int settle;             /* spool_settled was called: drop inflight, empty the file */
	long long file_bytes;   /* complete, synced batches in the file */
	long long truncate_to;  /* -1: nothing to cut; else the size to cut the file to */
	int failed;             /* the last operation failed: wait for a poke */
	int closing;
	int sealed; /* records are encrypted under key (always, but in tests) */
	spool_key key;
	unsigned failures;
	unsigned long long synced;
};

static void pump(spool *sp);
static void close_now(spool *sp);

static int buffer_add(struct buffer *b, const uint8_t *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 16384;
		while (ncap < b->len + n)
			ncap *= 2;
		uint8_t *d = realloc(b->data, ncap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static void buffer_clear(struct buffer *b)
{
	b->len = 0;
	b->records = 0;
}

int spool_mkdirs(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

spool *spool_open(uv_loop_t *loop, const char *path, const spool_key *key)
{
	if (!loop || !path || !*path)
		return NULL;
	if (spool_mkdirs(path) != 0) {
		LOG_ERROR("spool", "cannot create the spool directory path=%s err=\"%s\"", path,
		          strerror(errno));
		return NULL;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		LOG_ERROR("spool", "cannot open the spool path=%s err=\"%s\"", path,
		          strerror(errno));
		return NULL;
	}
	spool *sp = calloc(1, sizeof *sp);
	struct stat stt;
	if (!sp || !(sp->path = strdup(path)) || fstat(fd, &stt) != 0) {
		if (sp)
			free(sp->path);
		free(sp);
		close(fd);
		return NULL;
	}
	if ((stt.st_mode & 077) && fchmod(fd, 0600) == 0)
		LOG_WARN("spool",
		         "the spool could be read by others; made it 0600 path=%s was=%04o", path,
		         (unsigned)(stt.st_mode & 07777));
	sp->loop = loop;
	sp->fd = fd;
	if (key) {
		sp->key = *key;
		sp->sealed = 1;
	}
	sp->file_bytes = (long long)stt.st_size;
	sp->truncate_to = -1;
	sp->req.data = sp;
	return sp;
}

static void finish_close(spool *sp)
{
	spool_key_wipe(&sp->key);
	close(sp->fd);
	free(sp->pending.data);
	free(sp->inflight.data);
	free(sp->path);
	free(sp);
}

static void op_failed(spool *sp, const char *what, ssize_t result)
{
	sp->failures++;
	sp->failed = 1;
	/* The first failure and then ever more rarely, so a full disk does not flood the log. */
	if ((sp->failures & (sp->failures - 1)) == 0)
		LOG_ERROR("spool", "%s failed path=%s err=\"%s\" attempts=%u", what, sp->path,
		          uv_strerror((int)result), sp->failures);
}

static void on_fs(uv_fs_t *req)
{
	spool *sp = req->data;
	ssize_t result = req->result;
	enum spool_op op = sp->op;
	uv_fs_req_cleanup(req);
	sp->op = OP_NONE;
	if (op == OP_WRITE && result < 0) {
		/* Part of a frame may be in the file: cut back before writing again. */
		op_failed(sp, "write", result);
		sp->inflight_done = 0;
		sp->truncate_to = sp->file_bytes;
	} else if (op == OP_WRITE) {
		sp->inflight_done += (size_t)result;
		sp->need_sync = sp->inflight_done == sp->inflight.len;
	} else if (op == OP_SYNC && result < 0) {
		op_failed(sp, "fdatasync", result);
	} else if (op == OP_SYNC) {
		sp->file_bytes += (long long)sp->inflight.len;
		sp->synced += sp->inflight.records;
		buffer_clear(&sp->inflight);
		sp->inflight_done = 0;
		sp->need_sync = 0;
		sp->failed = 0;
	} else if (op == OP_TRUNCATE && result < 0) {
		op_failed(sp, "ftruncate", result);
	} else if (op == OP_TRUNCATE) {
		sp->file_bytes = sp->truncate_to;
		sp->truncate_to = -1;
		sp->failed = 0;
	}
	if (sp->closing && sp->failed)
		close_now(sp); /* one last synchronous attempt */
	else if (!sp->failed)
		pump(sp);
}

/* Starts the next file operation if none is running. Order matters: a settle first (the
 * batch in flight is confirmed: drop it and empty the file), then a wanted cut (also the
 * repair after a failed write), then the batch in flight (its write, then its sync), then
 * the next batch. */
static void pump(spool *sp)
{
	if (sp->op != OP_NONE)
		return;
	if (sp->settle) {
		sp->settle = 0;
		if (sp->file_bytes > 0 || sp->truncate_to >= 0 || sp->inflight_done > 0)
			sp->truncate_to = 0;
		buffer_clear(&sp->inflight);
		sp->inflight_done = 0;
		sp->need_sync = 0;
	}
	int rc;
	if (sp->truncate_to >= 0) {
		sp->op = OP_TRUNCATE;
		rc = uv_fs_ftruncate(sp->loop, &sp->req, sp->fd, sp->truncate_to, on_fs);
	} else if (sp->need_sync) {
		sp->op = OP_SYNC;
		rc = uv_fs_fdatasync(sp->loop, &sp->req, sp->fd, on_fs);
	} else {
		if (sp->inflight.len == 0 && sp->pending.len > 0) {
			struct buffer t = sp->inflight;
			sp->inflight = sp->pending;
			sp->pending = t;
			buffer_clear(&sp->pending);
			sp->inflight_done = 0;
		}
		if (sp->inflight.len == 0) {
			if (sp->closing)
				finish_close(sp);
			return;
		}
		uv_buf_t b = uv_buf_init((char *)sp->inflight.data + sp->inflight_done,
		                         (unsigned)(sp->inflight.len - sp->inflight_done));
		sp->op = OP_WRITE;
		rc = uv_fs_write(sp->loop, &sp->req, sp->fd, &b, 1, -1, on_fs);
	}
	if (rc != 0) {
		sp->op = OP_NONE;
		op_failed(sp, "queueing a file operation", rc);
		if (sp->closing)
			close_now(sp);
	}
}

int spool_append(spool *sp, const store_record *r)
{
	uint8_t frame[SPOOL_FRAME_MAX];
	if (!sp || sp->closing)
		return -1;
	int n = spool_encode(sp->sealed ? &sp->key : NULL, r, frame, sizeof frame);
	if (n < 0 || buffer_add(&sp->pending, frame, (size_t)n) != 0)
		return -1;
	sp->pending.records++;
	if (!sp->failed)
		pump(sp);
	return 0;
}

void spool_settled(spool *sp)
{
	if (!sp || sp->closing)
		return;
	buffer_clear(&sp->pending);
	if (sp->file_bytes > 0 || sp->op != OP_NONE || sp->inflight.len > 0 || sp->truncate_to >= 0)
		sp->settle = 1;
	if (!sp->failed)
		pump(sp);
}

void spool_poke(spool *sp)
{
	if (sp && sp->failed && sp->op == OP_NONE) {
		sp->failed = 0;
		pump(sp);
	}
}

int spool_idle(const spool *sp)
{
	return !sp || (sp->op == OP_NONE && !sp->settle && sp->truncate_to < 0 && !sp->need_sync &&
	               sp->inflight.len == 0 && sp->pending.len == 0);
}

long long spool_file_bytes(const spool *sp)
{
	return sp ? sp->file_bytes : 0;
}

unsigned long long spool_records_synced(const spool *sp)
{
	return sp ? sp->synced : 0;
}

static int write_all(int fd, const uint8_t *p, size_t left)
{
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

/* At shutdown with nothing running: the rest goes out synchronously, in order. */
static void close_now(spool *sp)
{
	if (sp->settle) {
		buffer_clear(&sp->inflight);
		sp->inflight_done = 0;
		sp->need_sync = 0;
		sp->truncate_to = 0;
	}
	int ok = 1;
	if (sp->truncate_to >= 0 && ftruncate(sp->fd, sp->truncate_to) != 0)
		ok = 0;
	size_t rest = sp->inflight.len - sp->inflight_done;
	int dirty = rest > 0 || sp->need_sync || sp->pending.len > 0;
	if (ok && rest > 0 && write_all(sp->fd, sp->inflight.data + sp->inflight_done, rest) != 0)
		ok = 0;
	if (ok && sp->pending.len > 0 && write_all(sp->fd, sp->pending.data, sp->pending.len) != 0)
		ok = 0;
	if (ok && dirty && fdatasync(sp->fd) != 0)
		ok = 0;
	if (!ok)
		LOG_ERROR("spool", "records may be lost at close path=%s err=\"%s\" unsynced=%u",
		          sp->path, strerror(errno), sp->inflight.records + sp->pending.records);
	finish_close(sp);
}

void spool_close(spool *sp)
{
	if (!sp)
		return;
	sp->closing = 1;
	if (sp->op == OP_NONE)
		close_now(sp);
	/* else on_fs pumps on, and pump frees when nothing is left. */
}
