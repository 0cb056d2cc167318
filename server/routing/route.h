/* The counter domain as a pure state machine: departments, desks and their presence,
 * queues, visits and legs. Events go in with the current time; actions come out on a queue
 * that the shell (signal) drains and executes against the sfu and the store. Nothing here
 * does I/O, reads a clock or draws random numbers: identifiers come from a caller-supplied
 * generator, so the same events with the same times always give the same actions.
 *
 * Vocabulary (shared/PROTOCOL.md): a session is one connected client, named by a nonzero
 * uint32_t sid that the shell assigns. A kiosk session starts a visit with `call`; a visit
 * has one leg per department served; a leg waits in its department's queue (FIFO) while
 * every available desk of the department rings, until one desk accepts it. The room of a
 * visit is the kiosk plus the desks of its answered legs.
 *
 * This is the 1:1 slice. Transfer, invite (three-way), one-stop itineraries, coordinators,
 * ring strategies, business hours, no-answer timeouts (a later route_tick and timer
 * action) and resume within 30 s (a later "session suspended" event, distinct from leave)
 * extend it: the action structure already carries lists of parties and extra media slots,
 * and new events or action kinds will be added without changing the ones below.
 *
 * Ownership: a route owns copies of every string it is given; actions are copied out by
 * value. Single-threaded: one route belongs to one loop. */
#ifndef MDG_ROUTING_ROUTE_H
#define MDG_ROUTING_ROUTE_H

#include <stdint.h>

#define ROUTE_UUID_LEN        37  /* 36 characters and a NUL */
#define ROUTE_ID_MAX          64  /* department / procedure / identity ids, NUL included */
#define ROUTE_NOTE_MAX        512 /* a clerk's note, NUL included */
#define ROUTE_REASON_MAX      32  /* outcome and reason words, NUL included */
#define ROUTE_MAX_STAFF_DEPTS 16  /* departments one staff member may belong to */
#define ROUTE_MAX_PARTIES     8   /* sessions in one room (kiosk, desks, coordinator) */
#define ROUTE_MAX_EXTRA       4   /* extra receive slots per session (three-way and up) */
#define ROUTE_WAIT_SAMPLES    20  /* answer waits kept per department for the estimate */
#define ROUTE_DEFAULT_WAIT_S  60  /* the estimate's mean wait before any call was answered */

/* Errors map 1:1 to the protocol's error codes; route_strerror gives the code's name. */
enum route_err {
	ROUTE_OK = 0,
	ROUTE_ERR_BAD_REQUEST = -1, /* missing, malformed or too long argument */
	ROUTE_ERR_FORBIDDEN = -2,   /* the session's role may not do this */
	ROUTE_ERR_NOT_FOUND = -3,   /* unknown department, visit or session */
	ROUTE_ERR_CONFLICT = -4,    /* already in a visit, already taken, desk busy, sid in use */
	ROUTE_ERR_UNAVAILABLE = -5, /* department closed */
	ROUTE_ERR_INTERNAL = -6,    /* out of memory; state is unchanged */
};

/* "bad_request", "forbidden", "not_found", "conflict", "unavailable", "internal";
 * "ok" for 0 and "internal" for anything unknown. Never NULL. */
const char *route_strerror(int err);

typedef struct route route;

/* Time: every event takes now_us, int64 microseconds, and stamps it on its actions (at_us).
 * Pass wall-clock time (clock_wall_us) so RECORD.at_us can go to the store as is; only
 * differences are used for waits, so a clock step merely skews one wait. */

typedef struct route_config {
	void *user; /* passed back to new_id */
	/* Writes a fresh unique id (e.g. a UUID v4 from base/rand) as a NUL-terminated string
	 * of at most 36 characters into out. Required: route_new fails without it. Tests use a
	 * counter. Used for visit and leg ids. */
	void (*new_id)(void *user, char out[ROUTE_UUID_LEN]);
} route_config;

/* Returns NULL when cfg or cfg->new_id is NULL, or when out of memory. */
route *route_new(const route_config *cfg);
/* Frees everything, including actions not yet drained. NULL allowed. */
void route_free(route *r);

/* ---- departments (added by the shell at start-up, from the store's directory) ---- */

/* Adds a department. Errors: bad_request (empty or too long id), conflict (id exists).
 * Emits nothing: the shell builds its first departments list from the accessors. */
int route_department_add(route *r, const char *id, int open);
/* Opens or closes a department (admin, later business hours). A closed department refuses
 * new calls with unavailable; visits already waiting stay queued and keep ringing. Emits
 * DEPARTMENTS when the flag changes. Errors: not_found. */
int route_department_set_open(route *r, const char *id, int open, int64_t now_us);

/* ---- sessions ---- */

enum route_role {
	ROUTE_ROLE_NONE = 0, /* returned by accessors for an unknown sid */
	ROUTE_ROLE_KIOSK = 1,
	ROUTE_ROLE_STAFF = 2,
};

/* Staff flags, stored for later issues (coordinator pages and the like). */
#define ROUTE_FLAG_COORDINATOR 0x1u
#define ROUTE_FLAG_ANALYST     0x2u
#define ROUTE_FLAG_ADMIN       0x4u

typedef struct route_session_info {
	enum route_role role;
	/* The kiosk's or staff member's durable id (the store's id), copied into RECORD actions
	 * so the shell can write records even after the session is gone. NULL or "" allowed. */
	const char *ident;
	/* Staff only: the departments the member belongs to (at most ROUTE_MAX_STAFF_DEPTS).
	 * Ids not (yet) known to the route are kept but never ring. Ignored for kiosks. */
	const char *const *departments;
	int n_departments;
	unsigned flags; /* ROUTE_FLAG_*; staff only */
	int available;  /* staff only: initial presence, nonzero = available */
} route_session_info;

/* A session authenticated (after a successful hello; send the hello reply before draining
 * the actions). An available desk immediately rings for every visit waiting in its
 * departments (RINGING, then DEPARTMENTS). Errors: bad_request (sid 0, bad role, too many
 * or too long department ids, ident too long), conflict (sid already joined). */
int route_session_join(route *r, uint32_t sid, const route_session_info *info, int64_t now_us);
/* The session is gone for good (WebSocket closed and not resumed). A kiosk's visit ends with
 * reason dropped. A ringing desk just stops ringing (no action to it). A desk in a call ends
 * its leg with reason dropped and the resident goes back to the head of the department's
 * queue as a new leg, ringing the department again. Errors: not_found. */
int route_session_leave(route *r, uint32_t sid, int64_t now_us);

/* ---- requests (one per protocol request; errors are the reply's error code) ---- */

/* Staff `presence`: available (nonzero) or away. Going away cancels this desk's rings
 * (RING_CANCELLED reason "cancelled") but not its current call; becoming available rings it
 * for every waiting visit of its departments unless it is in a call. Errors: not_found
 * (unknown sid), forbidden (a kiosk). Setting the current value again is a no-op. */
int route_presence(route *r, uint32_t sid, int available, int64_t now_us);

/* Kiosk `call`: starts a visit for department, with an optional procedure id (NULL or "").
 * Writes the new visit id into visit_out (may be NULL) for the reply. Errors: not_found
 * (unknown sid or department), forbidden (not a kiosk), bad_request (NULL/long ids),
 * unavailable (department closed), conflict (the kiosk is already in a visit). */
int route_call(route *r, uint32_t sid, const char *department, const char *procedure,
               int64_t now_us, char visit_out[ROUTE_UUID_LEN]);

/* Staff `accept`: the desk answers a visit that is ringing it. The other desks ringing for
 * it get RING_CANCELLED reason "taken"; this desk's rings for other visits are cancelled
 * too (reason "taken": the desk itself is taken). Errors: not_found (unknown sid or visit),
 * forbidden (not staff, or not a member of the visit's department), conflict (the visit was
 * taken already, or this desk is in a call, or it is not ringing for the visit: away). */
int route_accept(route *r, uint32_t sid, const char *visit, int64_t now_us);

/* Kiosk `hangup`: cancels a waiting visit (ended, reason "cancelled") or leaves the
 * current call (the leg ends "completed", the visit ends "completed", the desk gets ENDED).
 * The kiosk also gets ENDED. A kiosk that is in no visit gets 0 and nothing happens, so
 * a double tap is harmless. Errors: not_found (unknown sid), forbidden (not a kiosk). */
int route_hangup(route *r, uint32_t sid, int64_t now_us);

/* Staff `end`: the desk serving the visit ends its leg with outcome "completed",
 * "referred" or "incomplete", an optional procedure id (overrides the one chosen at call
 * time in the record) and an optional note (at most ROUTE_NOTE_MAX-1 bytes). A plain visit
 * then ends with reason "completed": both sides get ENDED and their media is unwired.
 * Errors: forbidden (not staff, or not the desk serving the visit), bad_request (bad
 * outcome, long procedure or note), not_found (unknown sid or visit). */
int route_end(route *r, uint32_t sid, const char *visit, const char *outcome, const char *procedure,
              const char *note, int64_t now_us);

/* ---- actions ---- */

enum route_action_kind {
	/* Notifications: send the protocol event of the same name to session `to`. */
	ROUTE_ACT_RINGING,        /* visit, department, kiosk, waited_ms, procedure, onestop */
	ROUTE_ACT_RING_CANCELLED, /* visit, reason ("taken" | "cancelled") */
	/* visit, department, position (1-based), estimated_wait_s: sent to the waiting kiosk
	 * whenever either value changes. The estimate is position times the mean of the
	 * department's last ROUTE_WAIT_SAMPLES answer waits (ROUTE_DEFAULT_WAIT_S before
	 * any), rounded to seconds. */
	ROUTE_ACT_QUEUED,
	ROUTE_ACT_CONNECTED, /* visit, parties[n_parties] (kiosk first, then desks) */
	ROUTE_ACT_ENDED,     /* visit, reason ("completed" | "cancelled" | "dropped") */
	/* department's waiting list changed: send `queue` to its desks (route_queue_list and
	 * route_department_staff give the contents and the recipients). `to` is 0. */
	ROUTE_ACT_QUEUE,
	/* Some department's open flag, available desk count or queued count changed: re-send
	 * the `departments` event to every session (route_department_at gives the values).
	 * At most one per event call, after the other actions. `to` is 0. */
	ROUTE_ACT_DEPARTMENTS,
	/* The complete, declarative set of sessions feeding session `to`'s receivers now:
	 * `primary` feeds mic/camera (0 = nothing), extra[n_extra] feed the slot m-lines in
	 * order. Rewire accordingly (and request keyframes for new sources). Emitted only when
	 * the set changes. Privacy: a kiosk feeds only parties of its answered leg(s). */
	ROUTE_ACT_MEDIA,
	/* A call record for the store (record, visit, leg, department, procedure, kiosk,
	 * kiosk_ident, staff, staff_ident, reason, note, waited_ms, at_us). `to` is 0. */
	ROUTE_ACT_RECORD,
};

enum route_record_kind {
	ROUTE_REC_VISIT_STARTED, /* visit, kiosk, department and procedure of the first call */
	ROUTE_REC_LEG_QUEUED,    /* visit, leg, department, procedure, kiosk */
	ROUTE_REC_LEG_ANSWERED,  /* visit, leg, department, staff, waited_ms (queue to answer) */
	ROUTE_REC_LEG_ENDED,     /* visit, leg, department, procedure, staff (0 if never
	                          * answered), reason = outcome or "cancelled" | "dropped", note */
	ROUTE_REC_VISIT_ENDED,   /* visit, kiosk, reason */
};

/* One action, by value. Fields not listed for a kind are zero / empty. */
typedef struct route_action {
	enum route_action_kind kind;
	uint32_t to; /* notifications and MEDIA: the session concerned; else 0 */
	char visit[ROUTE_UUID_LEN];
	char leg[ROUTE_UUID_LEN];
	char department[ROUTE_ID_MAX];
	char procedure[ROUTE_ID_MAX];   /* "" = none */
	uint32_t kiosk;                 /* RINGING and RECORD: the kiosk's sid */
	uint32_t staff;                 /* RECORD: the desk's sid */
	char kiosk_ident[ROUTE_ID_MAX]; /* RECORD: the ident given at join */
	char staff_ident[ROUTE_ID_MAX];
	int64_t waited_ms;             /* RINGING: how long the visit has waited; LEG_ANSWERED */
	int onestop;                   /* RINGING: part of a one-stop visit (always 0 for now) */
	int position;                  /* QUEUED */
	int estimated_wait_s;          /* QUEUED */
	char reason[ROUTE_REASON_MAX]; /* RING_CANCELLED, ENDED, RECORD (outcome or reason) */
	uint32_t parties[ROUTE_MAX_PARTIES]; /* CONNECTED */
	int n_parties;
	uint32_t primary; /* MEDIA */
	uint32_t extra[ROUTE_MAX_EXTRA];
	int n_extra;
	enum route_record_kind record; /* RECORD */
	char note[ROUTE_NOTE_MAX];     /* RECORD LEG_ENDED */
	int64_t at_us;                 /* every action: the now_us of the event that made it */
} route_action;

/* Copies the oldest pending action into *out and removes it. Returns 1, or 0 when there is
 * none. Drain after every event call, in order: later actions assume earlier ones ran. */
int route_next_action(route *r, route_action *out);
/* Actions waiting to be drained. */
int route_pending_actions(const route *r);
/* Actions lost because the queue could not grow (out of memory); should stay 0. */
uint64_t route_lost_actions(const route *r);

/* ---- accessors (for building replies and events; all read-only) ---- */

/* ROUTE_ROLE_NONE for an unknown sid. */
enum route_role route_session_role(const route *r, uint32_t sid);
/* Staff presence: 1 available, 0 away or not staff. */
int route_session_available(const route *r, uint32_t sid);
/* The id of the visit the session is in: a kiosk's current visit (waiting or connected),
 * or the visit a desk is serving. NULL when none. Valid until the next event call. */
const char *route_session_visit(const route *r, uint32_t sid);

typedef struct route_department_info {
	char id[ROUTE_ID_MAX];
	int open;
	int available; /* staff sessions of the department that are available and not in a call */
	int queued;    /* visits waiting in its queue */
} route_department_info;

int route_department_count(const route *r);
/* The i-th department in order of addition. Returns 0 or not_found (i out of range). */
int route_department_at(const route *r, int i, route_department_info *out);
/* The same by id. Returns 0 or not_found. */
int route_department_get(const route *r, const char *id, route_department_info *out);

typedef struct route_queue_entry {
	char visit[ROUTE_UUID_LEN];
	uint32_t kiosk;
	int64_t waited_ms; /* at now_us */
	char procedure[ROUTE_ID_MAX];
} route_queue_entry;

/* Fills out[0..cap) with a department's waiting visits, head first. Returns the total
 * number waiting (may exceed cap; out may be NULL with cap 0), or not_found. */
int route_queue_list(const route *r, const char *department, int64_t now_us, route_queue_entry *out,
                     int cap);
/* Fills out[0..cap) with the sids of every staff session (available or not) belonging to
 * the department, in join order: the recipients of `queue`. Returns the total count or
 * not_found. */
int route_department_staff(const route *r, const char *department, uint32_t *out, int cap);

typedef struct route_visit_info {
	char id[ROUTE_UUID_LEN];
	uint32_t kiosk;
	char department[ROUTE_ID_MAX]; /* of its current leg */
	char procedure[ROUTE_ID_MAX];
	int connected;                       /* 1 when a desk has answered the current leg */
	uint32_t parties[ROUTE_MAX_PARTIES]; /* as in CONNECTED (only the kiosk while waiting) */
	int n_parties;
	int64_t started_us;
} route_visit_info;

/* Returns 0 or not_found (unknown or ended visit). */
int route_visit_get(const route *r, const char *visit, route_visit_info *out);

#endif
