/* PostgreSQL persistence: the only module that speaks SQL. Asynchronous on the server's
 * libuv loop (libpq non-blocking API watched by uv_poll); every query parameterised.
 * The synchronous entry points (migrate, admin) are for the command line only. */
#ifndef MDG_STORE_STORE_H
#define MDG_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define STORE_ID_MAX    64
#define STORE_NAME_MAX  128
#define STORE_MAX_DEPTS 16

/* ---- command line (synchronous) ---- */

/* Applies pending migrations in order inside transactions. Idempotent. Prints what it did
 * to stdout. Returns 0 or -1 (message on stderr). */
int store_migrate(const char *conninfo);

/* `madoguchi admin ...`: argv[0] is the object (branch, department, procedure, kiosk, user),
 * argv[1] the verb (add, list, ...). Returns a process exit code; prints errors to stderr. */
int store_admin_main(const char *conninfo, int argc, char **argv);

/* The two credential-creating admin commands as functions, for tests and tools. Both return 0
 * or -1 (message on stderr). kiosk_add writes the new token (shown to nobody else; only its
 * SHA-256 is stored) into token_out, which needs at least STORE_TOKEN_MAX bytes.
 * user_add takes departments and flags comma-separated (flags may be NULL). */
#define STORE_TOKEN_MAX 48
int store_admin_kiosk_add(const char *conninfo, const char *branch, const char *name,
                          char *token_out, size_t cap);
int store_admin_user_add(const char *conninfo, const char *username, const char *name,
                         const char *departments, const char *flags, const char *password);

/* ---- the server (asynchronous) ---- */

typedef struct store store;

/* Connects in the background and reconnects on failure; never blocks on the network.
 * spool_path: the on-disk record spool (created with its directory if missing; NULL keeps
 * records in memory only, for tools and tests). Records left in the spool by an earlier run
 * are loaded here and replayed before any new record; after that replay the store closes
 * visits a crash left open as `interrupted` (single-node: see store.c). Records are encrypted
 * in the spool (AES-256-GCM, spool.h) under the key in spool_path + ".key", made (mode 0600)
 * on first use. Returns NULL (logged) when the spool cannot be opened, or when it holds
 * encrypted records that its key file, missing or another, does not open. */
store *store_new(uv_loop_t *loop, const char *conninfo, const char *spool_path);
/* The same with the spool's key file elsewhere (config key spool-key): spool_key NULL or ""
 * means spool_path + ".key". */
store *store_new_with_key(uv_loop_t *loop, const char *conninfo, const char *spool_path,
                          const char *spool_key);
/* Closes the connection and its handles; pending callbacks get err = -1 before it returns.
 * Records still queued are written before close if the connection is up (bounded wait is the
 * caller's business: call store_flush first). */
void store_free(store *s);
int store_is_up(const store *s);
/* Records waiting to be written. */
int store_pending(const store *s);

/* Calls cb(user, 0) once every record written before this call is in the database (at once
 * when none is pending), or cb(user, -1) from store_free if that comes first. Returns 0 or -1.
 * A caller bounds the wait with its own timer. */
typedef void (*store_flush_cb)(void *user, int err);
int store_flush(store *s, store_flush_cb cb, void *user);

typedef struct store_kiosk {
	char id[STORE_ID_MAX]; /* kiosk id (uuid) */
	char name[STORE_NAME_MAX];
	char branch_id[STORE_ID_MAX];
	char branch_name[STORE_NAME_MAX];
	char tenant[STORE_ID_MAX]; /* its branch's tenant (migration 11) */
} store_kiosk;

typedef struct store_staff {
	char id[STORE_ID_MAX]; /* staff id (uuid) */
	char username[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
	char departments[STORE_MAX_DEPTS][STORE_ID_MAX];
	int n_departments;
	int coordinator, analyst, admin;
	/* Grows whenever the password changes or the account is disabled (migration 3): a live
	 * session keeps the value it logged in with, for store_staff_alive. */
	long long cred_version;
	char tenant[STORE_ID_MAX]; /* migration 11; "" from store_staff_directory */
} store_staff;

/* err: 0 found; 1 not found or wrong credentials; -1 database unavailable. */
typedef void (*store_kiosk_cb)(void *user, int err, const store_kiosk *k);
typedef void (*store_staff_cb)(void *user, int err, const store_staff *s);

/* Looks the kiosk up by the SHA-256 of its token; revoked kiosks are not found. */
int store_auth_kiosk(store *s, const char *token, store_kiosk_cb cb, void *user);
/* Checks the password against the stored slow hash off the loop (uv_queue_work). */
int store_auth_staff(store *s, const char *username, const char *password, store_staff_cb cb,
                     void *user);

/* ---- revocation that reaches the running server ----
 *
 * The database announces (LISTEN/NOTIFY on the channel madoguchi_identity, sent by triggers
 * of migration 3) every kiosk revoked or deleted and every staff member disabled, deleted, or
 * whose password or cred_version changed, whoever made the change. Asynchronous on the
 * server's loop; the one-shot callbacks below run exactly once (err -1 from store_free at the
 * latest) and may queue new store operations, but must not call store_free. */

typedef enum store_ident_kind { STORE_IDENT_KIOSK, STORE_IDENT_STAFF } store_ident_kind;
/* cb(user, kind, id): that kiosk was revoked, or that staff member was disabled or had its
 * password changed. cb(user, kind, NULL) after every (re)connection: changes may have been
 * missed while the connection was down, so every live identity must be re-checked. The store
 * makes that call twice per connection, (STORE_IDENT_KIOSK, NULL) then (STORE_IDENT_STAFF,
 * NULL), once it is listening again (so nothing falls between the re-check and the notices),
 * the first connection included. A staff password check still running when a notice for
 * that person arrives answers err 1, and one running across a reconnection err -1, so no
 * login slips through with credentials checked before the change. */
typedef void (*store_ident_cb)(void *user, store_ident_kind kind, const char *id);
/* One listener per store; a second call replaces it, cb NULL removes it. */
void store_on_identity_change(store *s, store_ident_cb cb, void *user);
/* err 0: still good (kiosk not revoked; staff not disabled and cred_version unchanged),
 * 1: revoked (or no such kiosk or staff member any more), -1: unavailable (the database is
 * down or did not answer within the query timeout: keep the session and re-check on the next
 * (kind, NULL) call). */
typedef void (*store_alive_cb)(void *user, int err);
/* Both return 0 (cb will be called) or -1 (bad arguments: an id that is not a uuid). */
int store_kiosk_alive(store *s, const char *kiosk_id, store_alive_cb cb, void *user);
int store_staff_alive(store *s, const char *staff_id, long long cred_version, store_alive_cb cb,
                      void *user);
/* POST /api/logout: revokes that login token. err 0 revoked, 1 unknown/expired token (or
 * already revoked), -1 unavailable. Returns 0 or -1 (bad arguments). */
int store_logout(store *s, const char *token, store_alive_cb cb, void *user);

typedef struct store_procedure {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
} store_procedure;

/* One business-hours interval of a weekday (0 = Sunday), minutes since local midnight. */
typedef struct store_hours {
	int weekday;
	int open_min;
	int close_min;
} store_hours;

typedef struct store_tenant {
	char id[STORE_ID_MAX];
	char hostname[256]; /* lower case, no port; "" = none */
} store_tenant;

typedef struct store_department {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
	store_procedure *procedures;
	int n_procedures;
	char ring_strategy[16]; /* "all" or "longest-idle"; "" = all */
	int ring_timeout_s;     /* longest-idle; 0 = routing's default */
	store_hours *hours;     /* none = always open */
	int n_hours;
	int closed; /* departments.open is false: closed by hand whatever the hours say */
	char tenant[STORE_ID_MAX]; /* migration 11 */
} store_department;

typedef struct store_menu {
	char id[STORE_ID_MAX];
	char name[STORE_NAME_MAX];
	char (*steps)[STORE_ID_MAX]; /* department ids in order */
	int n_steps;
	char tenant[STORE_ID_MAX]; /* migration 11 */
} store_menu;

typedef struct store_directory {
	store_department *departments;
	int n_departments;
	store_menu *menus; /* one-stop menus */
	int n_menus;
	struct store_tenant *tenants; /* migration 11: every tenant and its host name */
	int n_tenants;
} store_directory;

typedef void (*store_directory_cb)(void *user, int err, const store_directory *d);
/* Loads departments and their procedures (ordered by sort key, then id). The directory
 * passed to cb is freed after cb returns: copy what you keep. */
int store_load_directory(store *s, store_directory_cb cb, void *user);

/* Call records. Times are wall-clock microseconds since the epoch. Ids are UUID strings.
 * Fire and forget: records are written in order and none is lost: each is appended to the
 * on-disk spool (fsync'd) before PostgreSQL is asked, and the spool is replayed at start-up
 * and whenever the connection returns. Every record's SQL is idempotent. */
enum store_record_kind {
	STORE_VISIT_STARTED, /* visit, kiosk_id, onestop_menu (optional), at */
	STORE_LEG_QUEUED,    /* leg, visit, department, procedure, at */
	STORE_LEG_ANSWERED,  /* leg, staff_id, at */
	STORE_LEG_ENDED,     /* leg, outcome or reason, procedure, note, at */
	STORE_VISIT_ENDED,   /* visit, reason, at */
	STORE_SURVEY,        /* visit, rating (1..5), at; a second survey for a visit is ignored */
	STORE_AUDIT,         /* audit_id, staff_id, action, visit, leg (both optional),
	                      * detail (JSON object text or empty), at */
	/* Queued by the store itself at start-up, after the spool: closes the visits and legs a
	 * crash left open as `interrupted`. store_write refuses it. */
	STORE_CLOSE_INTERRUPTED,
	/* A guest (interpreter) joined a visit: a leg of kind guest. leg, visit, department, at.
	 * It ends with STORE_LEG_ENDED like any leg (migration 9). */
	STORE_GUEST_JOINED,
	/* Queued by the store when this node takes the active/standby lease over (lease.c):
	 * closes every visit and leg still open, whichever node ran it, as `interrupted`.
	 * store_write refuses it and the spool never holds it. */
	STORE_CLOSE_TAKEOVER,
};

#define STORE_DETAIL_MAX 1024

typedef struct store_record {
	enum store_record_kind kind;
	char visit[37];
	char leg[37];
	char kiosk_id[STORE_ID_MAX];
	char department[STORE_ID_MAX];
	char procedure[STORE_ID_MAX]; /* empty = none */
	char staff_id[STORE_ID_MAX];
	char outcome[32]; /* completed / referred / incomplete / cancelled / ... */
	char note[512];
	int64_t at_us;
	int rating;                      /* STORE_SURVEY: 1..5 */
	char audit_id[37];               /* STORE_AUDIT: a fresh uuid, so a replay inserts once */
	char action[32];                 /* STORE_AUDIT: accept, transfer, patch, end, ... */
	char detail[STORE_DETAIL_MAX];   /* STORE_AUDIT: a JSON object as text; empty = none */
	char onestop_menu[STORE_ID_MAX]; /* STORE_VISIT_STARTED: the one-stop menu; empty = none */
} store_record;

int store_write(store *s, const store_record *r);

/* ---- live directory changes (issue 11, "changes without restart") ----
 *
 * Migration 6's triggers announce every change to the directory (branches, departments,
 * procedures, hours, one-stop menus and their steps, kiosks, staff and their departments) on
 * the channel madoguchi_directory, whoever made it, at the commit of its transaction. The
 * store LISTENs on it after every connect, like the identity channel. */

/* cb(user, table): a transaction that changed `table` committed (one call per table and
 * transaction; a notice naming no known table still calls, with the text as given). cb(user,
 * NULL) once the store is listening again after every (re)connection, the first one
 * included: notices sent while the connection was down are lost, so read everything again.
 * Runs on the loop; may queue store operations, must not call store_free. One listener per
 * store; a second call replaces it, cb NULL removes it. */
typedef void (*store_directory_change_cb)(void *user, const char *table);
void store_on_directory_change(store *s, store_directory_change_cb cb, void *user);
/* A staff member's departments and flags as the directory has them now (for a logged-in
 * clerk whose rows changed): cb gets err 0 with id, departments and the flags filled in (the
 * rest zero), 1 when the member is gone or disabled, -1 when the database is unavailable.
 * Returns 0 (cb will be called) or -1 (staff_id not a uuid). */
int store_staff_directory(store *s, const char *staff_id, store_staff_cb cb, void *user);
/* ---- Kiosk self-test (PROTOCOL.md, "Kiosk health"; server/store/health.c) ---- */

/* Saves one self-test result of kiosk_id (a uuid): it becomes the kiosk's last result
 * (kiosk_health_last, unless a newer one is there) and a row of the month-long history
 * (kiosk_health), whose rows older than a month are deleted in the same statement.
 * health_json is the HEALTH object's text, at its "at" (RFC 3339), the states its audio and
 * video states. Asynchronous and never blocking: with PostgreSQL down the result is simply not
 * saved; every failure is logged once. cb (NULL allowed) gets 0 or -1. Returns 0, or -1 when
 * the arguments are unusable or memory is short (cb is then not called). */
typedef void (*store_health_cb)(void *user, int err);
int store_health_save(store *s, const char *kiosk_id, const char *at, const char *audio_state,
                      const char *video_state, const char *health_json, store_health_cb cb,
                      void *user);
/* ---- kiosk staff mode: a PIN per kiosk (kiosk_pin.c, migration 7) ---- */

#define STORE_KIOSK_PIN_MIN 4
#define STORE_KIOSK_PIN_MAX 8
/* 1 when pin is STORE_KIOSK_PIN_MIN to _MAX decimal digits, else 0. */
int store_kiosk_pin_valid(const char *pin);
/* err 0: hash is the kiosk's PIN hash (valid during the call only); 1: no PIN is set, or the
 * kiosk is revoked or unknown; -1: database unavailable. Called exactly once. */
typedef void (*store_kiosk_pin_cb)(void *user, int err, const char *hash);
/* Returns 0 (cb will be called) or -1 (bad arguments). */
int store_kiosk_pin_hash(store *s, const char *kiosk_id, store_kiosk_pin_cb cb, void *user);
/* 0 when pin matches hash, 1 when it does not (or is not a PIN), -1 when hash is malformed.
 * Costs about a millisecond (a PIN hash has few iterations; see kiosk_pin.c). */
int store_kiosk_pin_verify(const char *pin, const char *hash);
/* ---- the status board (status.c; migration 5: kiosks.last_seen) ---- */

typedef struct store_kiosk_entry {
	store_kiosk k;
	int64_t last_seen_us; /* wall-clock microseconds; 0 = never seen */
} store_kiosk_entry;

/* err 0: every kiosk not revoked, ordered by branch (sort, id) and kiosk name; the array is
 * freed after cb returns. err -1: the database is unavailable (kiosks NULL, n 0). */
typedef void (*store_kiosks_cb)(void *user, int err, const store_kiosk_entry *kiosks, int n);
int store_kiosk_list(store *s, store_kiosks_cb cb, void *user);
/* Fire and forget: the kiosk's session started or ended at at_us (kept when later than what
 * the row has). Lost, with a log line, when the database is unavailable. Returns 0 or -1
 * (bad arguments: an id that is not a uuid). */
int store_kiosk_seen(store *s, const char *kiosk_id, int64_t at_us);

/* ---- bookings (予約相談; bookings.c, migration 8) ---- */

#define STORE_BOOKING_NAME_MAX 128 /* the resident's name, NUL included (optional) */

/* One booking. Times come back as ISO 8601 in the site's time zone (site_settings.time_zone,
 * default Asia/Tokyo) with its offset, and as wall-clock microseconds. */
typedef struct store_booking {
	char id[STORE_ID_MAX];
	char department[STORE_ID_MAX];
	char branch[STORE_ID_MAX];
	char starts_at[40];
	int64_t starts_us;
	int minutes;
	char procedure[STORE_ID_MAX];      /* "" = none */
	char name[STORE_BOOKING_NAME_MAX]; /* "" = none; personal data: never log it */
	char created_by[STORE_ID_MAX];     /* the staff id, "" when the member was deleted */
	char state[16];                    /* booked | cancelled | done | missed */
} store_booking;

/* err 0: booked, id filled; 1: the clerk already has a booking (booked or done) overlapping
 * [starts_at, starts_at + minutes); 2: no such branch; -1: the database is unavailable or
 * refused (e.g. a department that no longer exists). */
typedef void (*store_booking_id_cb)(void *user, int err, const char *id);
/* b's department, branch, starts_at (ISO 8601 as validated by the caller: with an offset or
 * Z, or without, then read in the site's time zone), minutes, procedure, name and
 * created_by are used. Returns 0 (cb will be called) or -1 (bad arguments). */
int store_booking_add(store *s, const store_booking *b, store_booking_id_cb cb, void *user);

/* err 0: cancelled; 1: no such booking; 2: the booking's department is not among
 * departments[0..n) (the caller's); 3: not booked any more (cancelled, done or missed);
 * -1: database unavailable. department is the booking's (valid during the call; NULL for 1
 * and -1). */
typedef void (*store_booking_cancel_cb)(void *user, int err, const char *department);
int store_booking_cancel(store *s, const char *id, const char *const *departments, int n,
                         store_booking_cancel_cb cb, void *user);

/* err 0 with the bookings (ordered by start) or -1 (list NULL). The array is freed after cb
 * returns. */
typedef void (*store_bookings_cb)(void *user, int err, const store_booking *list, int n);
/* The bookings of one local date (YYYY-MM-DD in the site's time zone) among departments
 * [0..n) (the caller's), narrowed to department and branch when they are not NULL or "". */
int store_bookings_list(store *s, const char *date, const char *department, const char *branch,
                        const char *const *departments, int n, store_bookings_cb cb, void *user);
/* The sweep: marks `missed` every booking still booked 15 minutes after its start, then
 * lists the bookings of today (site time zone) in every branch, the just-missed ones with
 * their new state. *missed gets how many were marked. */
typedef void (*store_bookings_sweep_cb)(void *user, int err, const store_booking *list, int n,
                                        int missed);
int store_bookings_sweep(store *s, store_bookings_sweep_cb cb, void *user);
/* Fire and forget: the booking was called and started visit_id (state done). Logged when
 * it fails. Returns 0 or -1 (bad arguments). */
int store_booking_done(store *s, const char *id, const char *visit_id);

/* ---- active/standby: two nodes sharing one database (lease.c, migration 10) ----
 *
 * One node at a time holds the lease (a row renewed every second on its own connection) and
 * serves; the other waits as a standby and claims the lease once it has expired. The active
 * node stops (cb with active 0) before the row can expire without a renewal, so two nodes
 * never both think they are active. Everything is asynchronous on the loop. */

typedef struct store_lease store_lease;
/* active 1: this node now holds the lease; 0: it no longer does (not renewed in time, or
 * another node holds it). Runs on the loop; must not call store_lease_free. */
typedef void (*store_lease_cb)(void *user, int active);
/* node: this node's name (unique among the nodes, at most 63 bytes). Starts as a standby
 * and claims at once. NULL on bad arguments or out of memory. */
store_lease *store_lease_new(uv_loop_t *loop, const char *conninfo, const char *node,
                             store_lease_cb cb, void *user);
int store_lease_active(const store_lease *l);
/* The node the last answer named as holder ("" before the first answer). */
const char *store_lease_holder(const store_lease *l);
/* At a clean stop: gives up the lease (the row expires now, so the standby takes over at
 * once) and claims nothing more; done(user) runs once it is done or failed (at once when this
 * node was not active). Returns 0, or -1 when already releasing. cb is not called for it. */
typedef void (*store_lease_done_cb)(void *user);
int store_lease_release(store_lease *l, store_lease_done_cb done, void *user);
/* NULL allowed. A release still in flight is abandoned (done is not called). */
void store_lease_free(store_lease *l);

/* This node's name for its records: stamped on the visits it starts, and the start-up
 * close of visits left open then closes only this node's (the other node's may be live).
 * Call right after store_new*, before the loop runs; "" (the default) = a single node. */
void store_set_node(store *s, const char *node);
/* After taking the lease over: queues STORE_CLOSE_TAKEOVER behind the records already
 * queued. Returns 0 or -1. */
int store_close_takeover(store *s);

#endif
