/* The on-disk record spool: every call record is appended here (and fsync'd) before PostgreSQL
 * confirms it, so neither a database outage nor a crash of the server loses it. Internal to
 * server/store.
 *
 * File format: a sequence of frames, nothing else (no header, so appending never rewrites
 * anything):
 *
 *   magic "MDGS" (4 bytes) | payload length (u32 LE) | CRC-32 of length+payload (u32 LE) |
 *   payload, version 2 (written since records are encrypted):
 *            version 2 (u8) | nonce (12 random bytes) | AES-256-GCM(body) | tag (16 bytes),
 *            with "MDGS" and the version byte as additional authenticated data
 *   payload, version 1 (the format before; still read, never written):
 *            version 1 (u8) | body
 *   body:    kind (u8) | at_us (i64 LE) | rating (i32 LE) |
 *            12 strings, each a u16 LE length then the bytes, in the order visit, leg,
 *            kiosk_id, department, procedure, staff_id, outcome, note, audit_id, action,
 *            detail, onestop_menu
 *
 * Why encrypt: records carry clerks' notes about residents' affairs, and the spool is a
 * plain file that backups, copies for a bug report and the disk's free blocks keep. The key
 * lives in its own file (spool_key_load; the store's default is the spool's path + ".key").
 *
 * A crash mid-write leaves a torn last frame: it is detected (short, or failing its checksum
 * at the end of the file) and cut off. Damage anywhere else (a frame failing its checksum with
 * good frames after it) is skipped by scanning for the next frame that checks out, and so is
 * an intact frame whose tag does not verify (tampered with); the damaged file is kept beside
 * the spool as PATH.damaged (or PATH.damaged.N when that exists) for inspection. When no
 * encrypted frame opens at all, the key is wrong or missing: the load fails and leaves the
 * file untouched, since dropping everything as damage would lose every record in it. */
#ifndef MDG_STORE_SPOOL_H
#define MDG_STORE_SPOOL_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SPOOL_HEADER    12
#define SPOOL_FRAME_MAX (SPOOL_HEADER + sizeof(store_record) + 64)

#define SPOOL_KEY_LEN   32
#define SPOOL_NONCE_LEN 12
#define SPOOL_TAG_LEN   16
/* spool_decode: an intact frame (its checksum holds) that this key cannot open: tampered
 * with, or written under another key. spool_load: encrypted records and no key opens any. */
#define SPOOL_ERR_KEY (-2)

typedef struct spool_key {
	uint8_t bytes[SPOOL_KEY_LEN];
} spool_key;

/* ---- the key (spool_key.c) ---- */

/* Reads the key file at path (64 hex digits): 0 with *out filled; 1 when it does not exist and
 * create is 0; -1 (logged) when it cannot be read, is malformed, or may be read by group or
 * others. With create, a missing key file is made: 32 bytes from the CSPRNG, mode 0600, its
 * directory (0700) too if missing, fsync'd. */
int spool_key_load(const char *path, int create, spool_key *out);
void spool_key_wipe(spool_key *k);
/* AES-256-GCM of n bytes from in to out (the same length). 0, or -1 (for unseal: the tag does
 * not verify; out is then wiped). */
int spool_seal(const spool_key *k, const uint8_t nonce[SPOOL_NONCE_LEN], const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
               uint8_t tag[SPOOL_TAG_LEN]);
int spool_unseal(const spool_key *k, const uint8_t nonce[SPOOL_NONCE_LEN], const uint8_t *aad,
                 size_t aad_len, const uint8_t *in, size_t n, const uint8_t tag[SPOOL_TAG_LEN],
                 uint8_t *out);
/* Creates the directories leading to path (mode 0700). 0 or -1 (errno set). */
int spool_mkdirs(const char *path);

/* ---- the format (pure, but for the random nonce) ---- */

/* CRC-32 (IEEE 802.3, reflected): start with crc 0; chain calls to continue. */
uint32_t spool_crc32(uint32_t crc, const uint8_t *p, size_t n);
/* Writes r as one frame, encrypted under key (version 2); key NULL writes the format before
 * encryption (version 1), which only tests of the upgrade want. Returns the frame's length, or
 * -1 if it does not fit in cap, r is malformed or the CSPRNG fails. */
int spool_encode(const spool_key *key, const store_record *r, uint8_t *out, size_t cap);
/* Decodes the frame at the start of buf. Returns its length (> 0) with *r filled, 0 when buf
 * holds only the beginning of a frame (torn), -1 when the bytes are not a valid frame,
 * SPOOL_ERR_KEY for an intact encrypted frame that key (NULL: none) does not open. */
int spool_decode(const spool_key *key, const uint8_t *buf, size_t len, store_record *r);

/* ---- loading at start-up (synchronous) ---- */

typedef struct spool_load_stats {
	int records;         /* good records delivered */
	int plain;           /* of which in the format before encryption */
	int unauthenticated; /* intact encrypted frames that did not open (also in damaged) */
	long long bytes;     /* the spool's size after repair */
	long long torn;      /* bytes of a torn last frame cut off */
	long long damaged;   /* bytes skipped elsewhere (then PATH.damaged holds the original) */
} spool_load_stats;

typedef int (*spool_record_cb)(void *user, const store_record *r);

/* Reads the spool at path (a missing file is an empty spool), calls cb for every good record
 * in file order (a non-zero return stops and fails the load), and repairs the file so that it
 * holds exactly those records. A file others may read is first made 0600. Returns 0;
 * SPOOL_ERR_KEY, with nothing delivered and the file untouched, when it holds encrypted
 * records and key (NULL: none) opens none of them; or -1 when the file cannot be read or
 * repaired. */
int spool_load(const char *path, const spool_key *key, spool_record_cb cb, void *user,
               spool_load_stats *st);

/* ---- the writer (asynchronous, on the loop's thread pool) ---- */

typedef struct spool spool;

/* Opens path for appending, creating it (0600) and its directory (0700) if missing; records
 * are encrypted under key (copied; NULL writes the old plain format, for tests only). Call
 * spool_load first: the writer trusts the file to end on a frame boundary. Returns NULL
 * (logged) on failure. */
spool *spool_open(uv_loop_t *loop, const char *path, const spool_key *key);
/* Queues r for the file. Frames are written and fdatasync'd in order, in batches: what
 * arrives while one batch is being written goes out in the next. Returns 0 or -1. */
int spool_append(spool *sp, const store_record *r);
/* Everything appended so far is in the database: the file is emptied (records not yet
 * written are dropped) at the next opportunity. */
void spool_settled(spool *sp);
/* Retries after a failed write; the store calls it from its tick. */
void spool_poke(spool *sp);
/* 1 when no write is queued or running. */
int spool_idle(const spool *sp);
/* Bytes in the file (written and synced). */
long long spool_file_bytes(const spool *sp);
/* Records written to the file and synced since open. */
unsigned long long spool_records_synced(const spool *sp);
/* Finishes: when idle, writes what is queued (or empties the file) synchronously, closes and
 * frees at once; otherwise the running write finishes the job from its callback, so the
 * caller must keep running the loop (it does anyway, to close its handles). NULL is fine. */
void spool_close(spool *sp);

#endif
