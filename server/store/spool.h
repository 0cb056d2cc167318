/* The on-disk record spool: every call record is appended here (and fsync'd) before PostgreSQL
 * confirms it, so neither a database outage nor a crash of the server loses it. Internal to
 * server/store.
 *
 * File format: a sequence of frames, nothing else (no header, so appending never rewrites
 * anything):
 *
 *   magic "MDGS" (4 bytes) | payload length (u32 LE) | CRC-32 of length+payload (u32 LE) |
 *   payload: version 1 (u8) | kind (u8) | at_us (i64 LE) | rating (i32 LE) |
 *            12 strings, each a u16 LE length then the bytes, in the order visit, leg,
 *            kiosk_id, department, procedure, staff_id, outcome, note, audit_id, action,
 *            detail, onestop_menu
 *
 * A crash mid-write leaves a torn last frame: it is detected (short, or failing its checksum
 * at the end of the file) and cut off. Damage anywhere else (a frame failing its checksum with
 * good frames after it) is skipped by scanning for the next frame that checks out; the
 * damaged file is kept beside the spool as PATH.damaged for inspection. */
#ifndef MDG_STORE_SPOOL_H
#define MDG_STORE_SPOOL_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SPOOL_HEADER    12
#define SPOOL_FRAME_MAX (SPOOL_HEADER + sizeof(store_record) + 64)

/* ---- the format (pure) ---- */

/* CRC-32 (IEEE 802.3, reflected): start with crc 0; chain calls to continue. */
uint32_t spool_crc32(uint32_t crc, const uint8_t *p, size_t n);
/* Writes r as one frame. Returns the frame's length, or -1 if it does not fit in cap or r
 * is malformed. */
int spool_encode(const store_record *r, uint8_t *out, size_t cap);
/* Decodes the frame at the start of buf. Returns its length (> 0) with *r filled, 0 when buf
 * holds only the beginning of a frame (torn), -1 when the bytes are not a valid frame. */
int spool_decode(const uint8_t *buf, size_t len, store_record *r);

/* ---- loading at start-up (synchronous) ---- */

typedef struct spool_load_stats {
	int records;       /* good records delivered */
	long long bytes;   /* the spool's size after repair */
	long long torn;    /* bytes of a torn last frame cut off */
	long long damaged; /* bytes skipped elsewhere (then PATH.damaged holds the original) */
} spool_load_stats;

typedef int (*spool_record_cb)(void *user, const store_record *r);

/* Reads the spool at path (a missing file is an empty spool), calls cb for every good record
 * in file order (a non-zero return stops and fails the load), and repairs the file so that it
 * holds exactly those records. Returns 0, or -1 when the file cannot be read or repaired. */
int spool_load(const char *path, spool_record_cb cb, void *user, spool_load_stats *st);

/* ---- the writer (asynchronous, on the loop's thread pool) ---- */

typedef struct spool spool;

/* Opens path for appending, creating it and its directory if missing. Call spool_load first:
 * the writer trusts the file to end on a frame boundary. Returns NULL (logged) on failure. */
spool *spool_open(uv_loop_t *loop, const char *path);
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
