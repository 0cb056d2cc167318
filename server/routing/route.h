/* The counter domain as a pure state machine: departments, desks and their presence,
 * queues, visits and legs, transfers, three-way rooms, one-stop itineraries, coordinators,
 * business hours, timeouts and reconnects. Events go in with the current time; actions
 * come out on a queue that the shell (signal) drains and executes against the sfu and the
 * store. Nothing here does I/O, reads a clock or draws random numbers: identifiers come
 * from a caller-supplied generator and timers are driven by route_tick, so the same events
 * with the same times always give the same actions.
 *
 * Vocabulary (shared/PROTOCOL.md): a session is one connected client, named by a nonzero
 * uint32_t sid that the shell assigns. A kiosk session starts a visit with `call`; a visit
 * has one leg per department served. A leg waits in its department's queue while desks of
 * the department ring, until one desk accepts it; it is then answered, until the desk
 * ends, transfers or drops it. A visit has at most one waiting leg at a time (so it is in
 * at most one queue) and any number of answered legs (three-way after `invite`).
 *
 * The room of a visit is its kiosk, the desks of its answered legs (in answer order) and
 * the coordinators who joined it (in join order). Media flows only inside a room, and only
 * when it holds someone besides the kiosk: a kiosk that waits in a queue, rings, or is
 * between two legs of an itinerary sends nothing anywhere and receives nothing, unless a
 * coordinator has joined its room (a coordinator who joins is a party by choice and stays
 * through the moves, which is the point of joining).
 *
 * Every visit has an itinerary: a list of steps, one per department it is to visit or has
 * visited (a plain call has one step; transfer, invite and patch insert steps; a one-stop
 * menu supplies several). Steps are ordered: done/skipped/active/queued steps first, then
 * the pending ones. When a leg ends and the visit has no open leg left (none answered,
 * none waiting), the next pending step is queued; when there is none, the visit ends with
 * reason "completed" unless a coordinator is in the room (then it lasts until the
 * coordinator leaves or finishes it). For a plain visit this is exactly "the visit ends
 * when its desk ends the leg".
 *
 * Queue order: a fresh call goes to the tail. A leg that continues a visit already in
 * progress (transfer, invite, the next itinerary step, a patch, the requeue after a desk
 * dropped) is a priority leg: it goes ahead of every ordinary leg, behind the priority
 * legs already waiting (first come, first served among them).
 *
 * Ownership: a route owns copies of every string it is given; actions are copied out by
 * value. Single-threaded: one route belongs to one loop. */
#ifndef MDG_ROUTING_ROUTE_H
#define MDG_ROUTING_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#define ROUTE_UUID_LEN               37  /* 36 characters and a NUL */
#define ROUTE_ID_MAX                 64  /* department / procedure / identity ids, NUL included */
#define ROUTE_NOTE_MAX               512 /* a clerk's note, NUL included */
#define ROUTE_REASON_MAX             32  /* outcome and reason words, NUL included */
#define ROUTE_MAX_STAFF_DEPTS        16  /* departments one staff member may belong to */
#define ROUTE_MAX_PARTIES            8   /* sessions in one room (kiosk, desks, coordinators) */
#define ROUTE_MAX_EXTRA              4   /* extra receive slots per session (three-way and up) */
#define ROUTE_WAIT_SAMPLES           20  /* answer waits kept per department for the estimate */
#define ROUTE_DEFAULT_WAIT_S         60  /* the estimate's mean wait before any call was answered */
#define ROUTE_MAX_STEPS              24  /* steps in one visit's itinerary, done ones included */
#define ROUTE_MAX_HOURS              4   /* business-hour intervals per weekday */
#define ROUTE_DEFAULT_NO_ANSWER_S    300 /* a leg nobody answers ends after this */
#define ROUTE_DEFAULT_RESUME_S       30  /* a suspended session may resume within this */
#define ROUTE_DEFAULT_RING_TIMEOUT_S 20  /* longest-idle: one desk rings this long */
#define ROUTE_SURVEY_KEEP            4   /* ended visits a kiosk may still rate */

/* Errors map 1:1 to the protocol's error codes; route_strerror gives the code's name. */
enum route_err {
	ROUTE_OK = 0,
	ROUTE_ERR_BAD_REQUEST = -1, /* missing, malformed or too long argument */
	ROUTE_ERR_FORBIDDEN = -2,   /* the session's role may not do this */
	ROUTE_ERR_NOT_FOUND = -3,   /* unknown department, visit, menu or session */
	ROUTE_ERR_CONFLICT = -4,    /* already in a visit, already taken, desk busy, sid in use */
	ROUTE_ERR_UNAVAILABLE = -5, /* department closed */
	ROUTE_ERR_INTERNAL = -6,    /* out of memory; state is unchanged */
};

/* "bad_request", "forbidden", "not_found", "conflict", "unavailable", "internal";
 * "ok" for 0 and "internal" for anything unknown. Never NULL. */
const char *route_strerror(int err);

typedef struct route route;

/* Time: every event takes now_us, int64 microseconds, and stamps it on its actions (at_us).
 * Pass wall-clock time (clock_wall_us) so RECORD.at_us can go to the store as is and
 * business hours can be evaluated; waits and timeouts only use differences, so a clock
 * step merely skews one wait. now_us should not go backwards between calls. */

typedef struct route_config {
	void *user; /* passed back to new_id */
	/* Writes a fresh unique id (e.g. a UUID v4 from base/rand) as a NUL-terminated string
	 * of at most 36 characters into out. Required: route_new fails without it. Tests use a
	 * counter. Used for visit and leg ids. */
	void (*new_id)(void *user, char out[ROUTE_UUID_LEN]);
	/* A waiting leg nobody answers within this time ends with reason "no_answer" (checked
	 * by route_tick). 0 = ROUTE_DEFAULT_NO_ANSWER_S; negative = never. */
	int64_t no_answer_us;
	/* A suspended session not resumed within this time leaves (route_tick).
	 * 0 = ROUTE_DEFAULT_RESUME_S. */
	int64_t resume_us;
	/* Local time = UTC + tz_offset_s, for business hours (Japan: 32400). */
	int tz_offset_s;
} route_config;

/* Returns NULL when cfg or cfg->new_id is NULL, or when out of memory. */
route *route_new(const route_config *cfg);
/* Frees everything, including actions not yet drained. NULL allowed. */
void route_free(route *r);

/* ---- timers ---- */

/* Runs every timer due at now_us, in this order: suspended sessions whose resume window
 * passed leave (as route_session_leave); longest-idle rings that timed out move to the
 * next desk; waiting legs older than no_answer_us end with "no_answer"; departments whose
 * business hours opened or closed are re-announced (DEPARTMENTS). Call it at
 * route_next_deadline (or simply every 250 ms); calling it early is harmless. */
void route_tick(route *r, int64_t now_us);
/* The earliest now_us at which route_tick has something to do, or -1 when nothing is
 * pending. Business-hour boundaries count from the latest now_us the route has seen.
 * Changes after every event call: re-arm the shell's timer after draining. */
int64_t route_next_deadline(const route *r);

/* ---- departments (added by the shell at start-up, from the store's directory) ---- */

/* Adds a department, ringing every available desk, with no business hours (always open
 * as far as hours go). Errors: bad_request (empty or too long id), conflict (id exists).
 * Emits nothing: the shell builds its first departments list from the accessors. */
int route_department_add(route *r, const char *id, int open);
/* Opens or closes a department by hand (admin). A department is open when this flag is
 * set and, if it has business hours, now_us falls inside them. A closed department refuses
 * new calls, transfers, invites and patches with unavailable; an itinerary step of a
 * closed department is skipped. Visits already waiting stay queued and keep ringing while
 * some desk of the department is available (present, not necessarily free); once none is,
 * their waiting legs end with reason "closed" (a plain visit then ends "closed", a one-stop
 * visit moves on). Emits DEPARTMENTS when the effective open state changes. Errors:
 * not_found. */
int route_department_set_open(route *r, const char *id, int open, int64_t now_us);

enum route_ring_strategy {
	ROUTE_RING_ALL = 0, /* every free desk of the department rings (default) */
	/* One free desk at a time, the one idle longest (since it joined, became available
	 * or left its last call) first; after ring_timeout_us the ring is cancelled
	 * ("cancelled") and the next longest-idle desk rings; when every free desk has had
	 * its turn, the round starts again. A lone free desk keeps ringing. With several
	 * waiting legs, each rings a different desk, head of the queue first. */
	ROUTE_RING_LONGEST_IDLE = 1,
};

/* One business-hours interval: [open_min, close_min) in minutes since local midnight,
 * 0 <= open_min < close_min <= 1440. */
typedef struct route_interval {
	int open_min;
	int close_min;
} route_interval;

typedef struct route_department_config {
	enum route_ring_strategy ring;
	int64_t ring_timeout_us; /* longest-idle only; 0 = ROUTE_DEFAULT_RING_TIMEOUT_S */
	/* 0: no business hours (open whenever the admin flag is). Else
	 * hours[wday][0..n_hours[wday]) are the open intervals of each local weekday, 0 = Sunday ..
	 * 6 = Saturday; a day with no interval is closed all day. */
	int has_hours;
	route_interval hours[7][ROUTE_MAX_HOURS];
	int n_hours[7];
} route_department_config;

/* Sets a department's ring strategy and business hours (at start-up or later; rings
 * already under way are re-derived). Emits DEPARTMENTS if the open state changes.
 * Errors: not_found, bad_request (strategy, timeout < 0, interval out of range, n_hours
 * out of 0..ROUTE_MAX_HOURS). */
int route_department_configure(route *r, const char *id, const route_department_config *cfg,
                               int64_t now_us);

/* One-stop menus (operators' configuration, from the store at start-up): an id and the
 * departments in order. Errors: bad_request (bad id, n < 1 or > ROUTE_MAX_STEPS),
 * not_found (a department not added yet), conflict (menu id exists). Emits nothing. */
int route_onestop_menu_add(route *r, const char *id, const char *const *departments, int n);

/* ---- live directory changes (the operator changed the directory while running) ----
 *
 * Departments are never freed while the route lives: visits, their itinerary steps and the
 * menus point at them. A department the directory no longer has is retired instead: it is
 * closed for good (new calls, transfers, invites and patches get unavailable; pending
 * itinerary steps for it are skipped), while visits already answered there go on until
 * their desks end them, and visits still waiting keep ringing while a desk of the
 * department is present, then end "closed" as at any closing. route_department_add with
 * the id of a retired department brings it back (open as given, its configuration kept
 * until the shell configures it again) instead of answering conflict. */

/* Retires a department (see above); retiring twice is a no-op. Emits what the closing
 * implies (DEPARTMENTS, and ENDED/RECORD for waiting legs nobody can answer). Errors:
 * not_found. */
int route_department_retire(route *r, const char *id, int64_t now_us);
/* Replaces a one-stop menu's departments, or adds the menu when it does not exist. Visits
 * that already started from it keep the itinerary they started with. Errors as
 * route_onestop_menu_add (never conflict); on error the menu is unchanged. */
int route_onestop_menu_replace(route *r, const char *id, const char *const *departments, int n);
/* Removes a one-stop menu: later calls for it get not_found; visits that started from it go
 * on. Errors: not_found, bad_request. */
int route_onestop_menu_remove(route *r, const char *id);
/* A logged-in staff member's departments or flags changed in the directory. The session
 * keeps its call, its room and its presence; rings follow the new departments at once (rings
 * for departments it left are cancelled, waiting visits of its new ones ring it when it is a
 * free desk) and the new departments' desks get QUEUE. Without the coordinator flag it stops
 * watching; a coordinator already in a room stays there until it leaves. Errors: not_found,
 * forbidden (not staff), bad_request (as route_session_join's departments). */
int route_session_set_staff(route *r, uint32_t sid, const char *const *departments, int n,
                            unsigned flags, int64_t now_us);

/* ---- sessions ---- */

enum route_role {
	ROUTE_ROLE_NONE = 0, /* returned by accessors for an unknown sid */
	ROUTE_ROLE_KIOSK = 1,
	ROUTE_ROLE_STAFF = 2,
	ROUTE_ROLE_GUEST = 3, /* an interpreter who came in by a guest code (route_guest.c) */
};

/* Staff flags. COORDINATOR allows watch, onestop, patch, join, leave and finish. */
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
/* The session is gone for good (WebSocket closed and not resumed, or suspended and
 * expired). A kiosk's visit ends with reason dropped. A ringing desk just stops ringing
 * (no action to it). A desk in a call ends its leg with reason dropped and, unless the
 * visit already waits in a queue, the resident goes back to the head of that department's
 * queue as a new leg, ringing the department again. A coordinator leaves the room it
 * joined (see route_room_leave) and stops watching. Errors: not_found. */
int route_session_leave(route *r, uint32_t sid, int64_t now_us);
/* The session's WebSocket closed; it may come back with hello resume within resume_us.
 * The shell keeps the sid reserved. Meanwhile the session keeps its visit, its queue
 * place, its room and its media wiring (its peers keep naming it as a feed; they just
 * receive nothing from it). A suspended desk does not ring and does not count as
 * available: its rings are dropped silently. Actions addressed to a suspended session may
 * be dropped by the shell: route_session_resume re-emits what it needs. Suspending twice is
 * a no-op. Errors: not_found. Emits only what availability changes (rings, DEPARTMENTS). */
int route_session_suspend(route *r, uint32_t sid, int64_t now_us);
/* hello with resume arrived in time; the shell maps the new connection to the old sid.
 * Re-emits the session's current state to it, in this order: MEDIA (always, even if
 * unchanged; the shell re-wires once the new offer is negotiated), then CONNECTED if it is
 * in a room with others, or QUEUED if its visit waits (kiosk), then VISIT for every
 * one-stop visit (watching coordinator); then the reconciliation rings it again for every
 * waiting visit it may answer (RINGING) and re-announces availability (DEPARTMENTS).
 * Errors: not_found (unknown sid), conflict (not suspended). */
int route_session_resume(route *r, uint32_t sid, int64_t now_us);

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
/* Kiosk `call` with `onestop`: starts a one-stop visit following the menu's itinerary.
 * Leading departments that are closed are skipped; the first open one is queued.
 * VISIT_STARTED carries the menu id in `onestop` and the first queued department.
 * Errors: as route_call, not_found for an unknown menu, unavailable when every department
 * of the menu is closed. */
int route_call_onestop(route *r, uint32_t sid, const char *menu, int64_t now_us,
                       char visit_out[ROUTE_UUID_LEN]);
/* Kiosk `call` for a booking (PROTOCOL.md, "Bookings"): as route_call, but the leg is a
 * priority leg (ahead of every ordinary leg, behind priority legs already waiting) and it
 * prefers one desk: the staff session(s) whose ident equals desk_ident. While the
 * preference holds, only the preferred desk rings for this leg (as soon as it is free); the
 * preference holds for the department's ring timeout (ring_timeout_us, ROUTE_DEFAULT_RING_
 * TIMEOUT_S by default) from the call, and only while a preferred desk is present (available
 * and connected, free or busy in a call): when none is, or once the timeout passed, the leg
 * rings the department by its ring strategy, the preferred desk included. desk_ident NULL or
 * "" gives a plain priority call. Errors: as route_call, bad_request for a too long
 * desk_ident. */
int route_call_booked(route *r, uint32_t sid, const char *department, const char *procedure,
                      const char *desk_ident, int64_t now_us, char visit_out[ROUTE_UUID_LEN]);

/* Staff `accept`: the desk answers a visit that is ringing it. The other desks ringing for
 * it get RING_CANCELLED reason "taken"; this desk's rings for other visits are cancelled
 * too (reason "taken": the desk itself is taken). Every party of the room gets CONNECTED.
 * Errors: not_found (unknown sid or visit), forbidden (not staff, or not a member of the
 * department of the visit's waiting leg), conflict (the visit was taken already, or this
 * desk is in a call or a room, or it is not ringing for the visit: away). */
int route_accept(route *r, uint32_t sid, const char *visit, int64_t now_us);

/* Kiosk `hangup`: cancels a waiting visit (ended, reason "cancelled") or leaves the
 * current one (open legs end: answered ones "completed", a waiting one "cancelled"; the
 * visit ends "completed" when the room held anyone besides the kiosk, else "cancelled").
 * Every party gets ENDED. A kiosk that is in no visit gets 0 and nothing happens, so a
 * double tap is harmless. Errors: not_found (unknown sid), forbidden (not a kiosk). */
int route_hangup(route *r, uint32_t sid, int64_t now_us);

/* Staff `end`: the desk serving the visit ends its own leg with outcome "completed",
 * "referred" or "incomplete", an optional procedure id (overrides the one chosen at call
 * time in the record) and an optional note (at most ROUTE_NOTE_MAX-1 bytes). If the visit
 * then has nothing left (no open leg, no pending step, no coordinator in the room) it ends
 * with reason "completed": every party gets ENDED, media is unwired, records LEG_ENDED and
 * VISIT_ENDED. Otherwise only this desk gets ENDED ("completed"), the others get CONNECTED
 * with the new room, and a one-stop visit with no open leg queues its next step.
 * Errors: forbidden (not staff, or not a desk serving the visit), bad_request (bad
 * outcome, long procedure or note), not_found (unknown sid or visit). */
int route_end(route *r, uint32_t sid, const char *visit, const char *outcome, const char *procedure,
              const char *note, int64_t now_us);

/* Staff `transfer`: the desk's leg ends with reason "transferred" (this desk gets ENDED
 * "completed"), and the visit gets a priority leg in department (a step inserted after the
 * current ones). Other desks in a three-way stay. AUDIT "transferred".
 * Errors: not_found (sid, visit or department), forbidden (not a desk serving the visit),
 * bad_request (bad ids), unavailable (department closed), conflict (the visit already
 * waits in a queue, or the itinerary is full). */
int route_transfer(route *r, uint32_t sid, const char *visit, const char *department,
                   int64_t now_us);
/* Staff `invite`: a priority leg in department is queued for the visit (desks ring with
 * the visit's id); the inviting desk stays. When a desk accepts, it joins the room
 * (three-way): the kiosk receives it on its first extra slot. AUDIT "invited". Errors: as
 * route_transfer, plus conflict when the room is full. */
int route_invite(route *r, uint32_t sid, const char *visit, const char *department, int64_t now_us);
/* Staff `control`: relays a volume (0.0..1.0, or negative for none) and/or a mic setting
 * (0 off, 1 on, negative for none) to the visit's kiosk as CONTROL. The sender must be a
 * desk serving the visit or a coordinator in its room. Errors: not_found (sid, visit, or
 * target is not the visit's kiosk), forbidden (not in the room), bad_request (neither
 * given, or volume out of range). */
int route_control(route *r, uint32_t sid, const char *visit, uint32_t target, double volume,
                  int mic, int64_t now_us);
/* Any session's `share`: starts (nonzero) or stops forwarding its document track. Every
 * other party of its room receives on its document slot the party that started sharing
 * most recently (MEDIA.document); nobody else. Setting the current value is a no-op.
 * Errors: not_found. */
int route_share(route *r, uint32_t sid, int active, int64_t now_us);
/* Kiosk `survey`: a rating 1..5 for one of its last ROUTE_SURVEY_KEEP ended visits, once.
 * Emits RECORD SURVEY (visit, rating). Errors: forbidden (not a kiosk), bad_request
 * (rating), not_found (not an ended visit of this kiosk session), conflict (already rated,
 * or the visit has not ended yet). */
int route_survey(route *r, uint32_t sid, const char *visit, int rating, int64_t now_us);

/* ---- coordinators (staff with ROUTE_FLAG_COORDINATOR; others get forbidden) ---- */

/* `watch`: from now on the session gets VISIT for every change of every one-stop visit
 * (and one with ended = 1 when it ends). The reply's list comes from route_watch_list.
 * Watching twice is a no-op. Errors: not_found, forbidden. */
int route_watch(route *r, uint32_t sid, int64_t now_us);
/* `onestop`: replaces the visit's pending steps with departments[0..n) (n may be 0), and
 * marks the visit one-stop. It takes effect when the visit has no open leg any more (to
 * move now, use patch). AUDIT "itinerary". Errors: not_found (sid, visit, a department),
 * forbidden, bad_request (bad ids, too many steps). */
int route_onestop_set(route *r, uint32_t sid, const char *visit, const char *const *departments,
                      int n, int64_t now_us);
/* `patch`: moves the resident now. Every desk in the room leaves (its leg ends "patched",
 * it gets ENDED "completed"), a waiting leg is withdrawn (ends "patched", its desks get
 * RING_CANCELLED "cancelled"), and department (or, when NULL or "", the next pending
 * step) gets a priority leg. A department that is a pending step uses that step; another
 * gets a new step. AUDIT "patched". Errors: not_found (sid, visit, department), forbidden,
 * unavailable (department closed), conflict (no department given and no pending step, or
 * the itinerary is full). */
int route_patch(route *r, uint32_t sid, const char *visit, const char *department, int64_t now_us);
/* `join`: the coordinator enters the room with its own media: every party gets
 * CONNECTED; the kiosk receives the coordinator as an extra (as primary while no desk is
 * in the room); the coordinator receives the kiosk as primary and the desks as extras.
 * While joined it does not ring as a desk. AUDIT "joined". Errors: not_found, forbidden,
 * conflict (already in a room, or the room is full). */
int route_room_join(route *r, uint32_t sid, const char *visit, int64_t now_us);
/* `leave`: the coordinator leaves the room (MEDIA unwires it, the others get CONNECTED).
 * If the visit then has nothing left it ends "completed". AUDIT "left". Errors:
 * not_found, forbidden (not a coordinator), conflict (not in that room). */
int route_room_leave(route *r, uint32_t sid, const char *visit, int64_t now_us);
/* `finish`: ends the whole visit with reason "completed": answered legs end "completed",
 * a waiting leg "cancelled", pending steps are skipped; every party gets ENDED. AUDIT
 * "finished" (emitted before the visit's end records). Errors: not_found, forbidden. */
int route_finish(route *r, uint32_t sid, const char *visit, int64_t now_us);

/* ---- actions ---- */

enum route_action_kind {
	/* Notifications: send the protocol event of the same name to session `to`. */
	/* visit, leg, department, kiosk, waited_ms, procedure, onestop. The leg id lets the
	 * shell keep a "rung" record (desk `to`, at_us) if it wants one per ring. */
	ROUTE_ACT_RINGING,
	ROUTE_ACT_RING_CANCELLED, /* visit, reason ("taken" | "cancelled") */
	/* visit, department, position (1-based), estimated_wait_s: sent to the waiting kiosk
	 * whenever either value changes, while nobody else is in its room. The estimate is
	 * position times the mean of the department's last ROUTE_WAIT_SAMPLES answer waits
	 * (ROUTE_DEFAULT_WAIT_S before any), rounded to seconds. */
	ROUTE_ACT_QUEUED,
	/* visit, parties[n_parties] (kiosk first, then desks in answer order, then
	 * coordinators): sent to every party whenever the room's party list changes while it
	 * holds at least two parties. */
	ROUTE_ACT_CONNECTED,
	/* visit, reason ("completed" | "cancelled" | "no_answer" | "closed" | "dropped"): the
	 * visit ended for everyone, or (reason "completed") this desk's part of it ended. */
	ROUTE_ACT_ENDED,
	/* department's waiting list changed: send `queue` to its desks (route_queue_list and
	 * route_department_staff give the contents and the recipients). `to` is 0. */
	ROUTE_ACT_QUEUE,
	/* Some department's open flag, available desk count or queued count changed: re-send
	 * the `departments` event to every session (route_department_at gives the values).
	 * At most one per event call, after the other actions. `to` is 0. */
	ROUTE_ACT_DEPARTMENTS,
	/* The complete, declarative set of sessions feeding session `to`'s receivers now:
	 * `primary` feeds mic/camera (0 = nothing), extra[n_extra] feed the slot m-lines in
	 * order, `document` feeds the document m-line (0 = nothing). Rewire accordingly (and
	 * request keyframes for new sources). Emitted only when the set changes (and on
	 * resume). Kiosk: primary = the first desk in the room (a coordinator while no desk
	 * is there), extras = the other desks, then coordinators. Desk or coordinator:
	 * primary = the kiosk, extras = the other desks, then the other coordinators. */
	ROUTE_ACT_MEDIA,
	/* A call record for the store (route_act_record: its record kind, visit, leg,
	 * department, procedure, kiosk, kiosk_ident, staff, staff_ident, reason, note,
	 * waited_ms, via, onestop, rating, menu; and at_us). `to` is 0. */
	ROUTE_ACT_RECORD,
	/* Send `control` to kiosk `to`: visit, from (the sender's sid), has_volume/volume, mic
	 * (-1 = not given, 0 = off, 1 = on). */
	ROUTE_ACT_CONTROL,
	/* Send `visit` to watching coordinator `to`: the snapshot in `visit.view` (taken when
	 * the action was made, so it is valid even after the visit ended; view.ended says so). */
	ROUTE_ACT_VISIT,
};

enum route_record_kind {
	ROUTE_REC_VISIT_STARTED, /* visit, kiosk, department and procedure of the first call,
	                          * onestop (the menu id, "" for a plain call) */
	/* visit, leg, department, procedure, kiosk; via = why the leg was queued: "" (call
	 * or requeue after a desk dropped), "transfer", "invite", "onestop" (the next
	 * itinerary step), "patch". */
	ROUTE_REC_LEG_QUEUED,
	ROUTE_REC_LEG_ANSWERED, /* visit, leg, department, staff, waited_ms (queue to answer) */
	/* visit, leg, department, procedure, staff (0 if never answered), reason = the outcome
	 * or "cancelled" | "dropped" | "no_answer" | "closed" | "transferred" | "patched", note */
	ROUTE_REC_LEG_ENDED,
	ROUTE_REC_VISIT_ENDED, /* visit, kiosk, reason */
	ROUTE_REC_SURVEY,      /* visit, kiosk, rating */
	/* A staff action that the leg records do not already attribute: staff/staff_ident (the
	 * actor), visit, leg (the leg it created, if any), department (its target, if any),
	 * reason = "transferred" | "invited" | "patched" | "itinerary" | "joined" | "left" |
	 * "finished". (accept and end are attributed by LEG_ANSWERED and LEG_ENDED.) */
	ROUTE_REC_AUDIT,
	/* A guest's time in the visit (a leg of kind guest): GUEST_JOINED with visit, leg (a
	 * fresh id), department (of the visit's current leg); GUEST_LEFT with leg, reason
	 * ("left" | the visit's end reason). */
	ROUTE_REC_GUEST_JOINED,
	ROUTE_REC_GUEST_LEFT,
};

enum route_step_state {
	ROUTE_STEP_PENDING, /* not reached yet */
	ROUTE_STEP_QUEUED,  /* its leg waits in the department's queue */
	ROUTE_STEP_ACTIVE,  /* a desk of the department answered its leg */
	ROUTE_STEP_DONE,    /* its leg was answered and has ended */
	ROUTE_STEP_SKIPPED, /* passed over: closed, not answered, withdrawn or never reached */
};
/* "pending", "queued", "active", "done", "skipped" (the protocol's words); "?" else. */
const char *route_step_state_name(enum route_step_state st);

typedef struct route_step_info {
	char department[ROUTE_ID_MAX];
	enum route_step_state state;
	uint32_t desk; /* the desk of its (latest) answered leg, 0 = none */
} route_step_info;

/* A visit as coordinators see it (the protocol's VISIT). */
typedef struct route_visit_view {
	char visit[ROUTE_UUID_LEN];
	uint32_t kiosk;
	int64_t started_us;
	int onestop;             /* 1 for a one-stop visit */
	char menu[ROUTE_ID_MAX]; /* the menu it started from, "" if none */
	route_step_info steps[ROUTE_MAX_STEPS];
	int n_steps;
	uint32_t coordinators[ROUTE_MAX_PARTIES]; /* coordinators in the room */
	int n_coordinators;
	int ended;                     /* 1 in the last VISIT of an ended visit */
	char reason[ROUTE_REASON_MAX]; /* its ENDED reason when ended */
} route_visit_view;

/* One action: a common header (kind, to, at_us) and the fields of its own kind only, in
 * the member of the union named after the kind. Routing queues each action in just the
 * bytes of its kind (route_action_size), so that a MEDIA action costs tens of bytes, not
 * the size of the largest kind. Fields not listed for a kind are zero / empty. */

/* RINGING */
typedef struct route_act_ringing {
	char visit[ROUTE_UUID_LEN];
	char leg[ROUTE_UUID_LEN];
	char department[ROUTE_ID_MAX];
	char procedure[ROUTE_ID_MAX]; /* "" = none */
	uint32_t kiosk;               /* the kiosk's sid */
	int onestop;                  /* part of a one-stop visit */
	int64_t waited_ms;            /* how long the visit has waited */
} route_act_ringing;

/* RING_CANCELLED and ENDED */
typedef struct route_act_reason {
	char visit[ROUTE_UUID_LEN];
	char reason[ROUTE_REASON_MAX];
} route_act_reason;

/* QUEUED */
typedef struct route_act_queued {
	char visit[ROUTE_UUID_LEN];
	char department[ROUTE_ID_MAX];
	int position;
	int estimated_wait_s;
} route_act_queued;

/* CONNECTED */
typedef struct route_act_connected {
	char visit[ROUTE_UUID_LEN];
	uint32_t parties[ROUTE_MAX_PARTIES];
	int n_parties;
} route_act_connected;

/* QUEUE */
typedef struct route_act_queue {
	char department[ROUTE_ID_MAX];
} route_act_queue;

/* MEDIA */
typedef struct route_act_media {
	uint32_t primary;  /* 0 = nothing */
	uint32_t document; /* the feed of the document slot, 0 = nobody */
	uint32_t extra[ROUTE_MAX_EXTRA];
	int n_extra;
} route_act_media;

/* RECORD: which fields each record kind sets is listed at enum route_record_kind. `note`
 * comes last and is queued only for LEG_ENDED (the one kind that has a note): the others
 * arrive with it empty. */
typedef struct route_act_record {
	enum route_record_kind kind;
	uint32_t kiosk;    /* the kiosk's sid */
	uint32_t staff;    /* the desk's (AUDIT: the actor's) sid */
	int onestop;       /* part of a one-stop visit */
	int rating;        /* SURVEY: 1..5 */
	int64_t waited_ms; /* LEG_ANSWERED: queue to answer */
	char visit[ROUTE_UUID_LEN];
	char leg[ROUTE_UUID_LEN];
	char department[ROUTE_ID_MAX];
	char procedure[ROUTE_ID_MAX];
	char kiosk_ident[ROUTE_ID_MAX]; /* the ident given at join */
	char staff_ident[ROUTE_ID_MAX];
	char reason[ROUTE_REASON_MAX]; /* the outcome or reason */
	char via[ROUTE_REASON_MAX];    /* LEG_QUEUED */
	char menu[ROUTE_ID_MAX];       /* VISIT_STARTED: the one-stop menu, "" if none */
	char note[ROUTE_NOTE_MAX];     /* LEG_ENDED; keep last */
} route_act_record;

/* CONTROL */
typedef struct route_act_control {
	char visit[ROUTE_UUID_LEN];
	uint32_t from; /* the sender */
	int has_volume;
	double volume; /* 0.0..1.0 when has_volume */
	int mic;       /* -1 not given, 0 off, 1 on */
} route_act_control;

/* VISIT: the snapshot taken when the action was made (view.visit names the visit). */
typedef struct route_act_visit {
	route_visit_view view;
} route_act_visit;

typedef struct route_action {
	enum route_action_kind kind;
	uint32_t to;   /* notifications, MEDIA, CONTROL and VISIT: the session concerned; else 0 */
	int64_t at_us; /* every action: the now_us of the event that made it */
	union {
		route_act_ringing ringing;
		route_act_reason ring_cancelled;
		route_act_queued queued;
		route_act_connected connected;
		route_act_reason ended;
		route_act_queue queue;
		/* DEPARTMENTS has no fields. */
		route_act_media media;
		route_act_record record;
		route_act_control control;
		route_act_visit visit;
	};
} route_action;

/* The bytes routing queues for an action of this kind (and record kind, for RECORD): the
 * header and that kind's member of the union. */
size_t route_action_size(enum route_action_kind kind, enum route_record_kind record);

/* Copies the oldest pending action into *out and removes it. Returns 1, or 0 when there is
 * none. Only the header and the action's own member are written (a RECORD other than
 * LEG_ENDED gets an empty note); the rest of *out keeps what it held. Drain after every
 * event call, in order: later actions assume earlier ones ran. */
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
/* 1 while the session is suspended (between route_session_suspend and resume). */
int route_session_suspended(const route *r, uint32_t sid);
/* The id of the visit the session is in: a kiosk's current visit (waiting or connected),
 * the visit a desk is serving, or the room a coordinator joined. NULL when none. Valid
 * until the next event call. */
const char *route_session_visit(const route *r, uint32_t sid);
/* The department of the leg a desk is serving (for labelling parties), NULL when none. */
const char *route_session_department(const route *r, uint32_t sid);

typedef struct route_department_info {
	char id[ROUTE_ID_MAX];
	int open;      /* the admin flag and business hours, as of the latest event or tick */
	int available; /* staff sessions of the department that are available, connected and
	                * not in a call or room */
	int queued;    /* visits waiting in its queue */
	int retired;   /* 1 once route_department_retire took it out of the directory */
	/* Desks that could answer at all: staff sessions of the department that are available
	 * and connected, free or busy in a call. 0 means nobody is there to answer. */
	int staffed;
	/* What a visit queued now would be told it waits (its queued event's estimate): 0 while
	 * a desk is free, else route_estimate_s for the place after the last in the queue. */
	int estimated_wait_s;
} route_department_info;

int route_department_count(const route *r);
/* The i-th department in order of addition. Returns 0 or not_found (i out of range). */
int route_department_at(const route *r, int i, route_department_info *out);
/* The same by id. Returns 0 or not_found. */
int route_department_get(const route *r, const char *id, route_department_info *out);

typedef struct route_queue_entry {
	char visit[ROUTE_UUID_LEN];
	uint32_t kiosk;
	int64_t waited_ms; /* at now_us, since this leg was queued */
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
	char department[ROUTE_ID_MAX]; /* of its first open leg */
	char procedure[ROUTE_ID_MAX];
	int connected;                       /* 1 when a desk has answered its first open leg */
	uint32_t parties[ROUTE_MAX_PARTIES]; /* as in CONNECTED (only the kiosk while waiting) */
	int n_parties;
	int64_t started_us;
	int onestop; /* 1 for a one-stop visit */
	int waiting; /* 1 while one of its legs waits in a queue */
} route_visit_info;

/* Returns 0 or not_found (unknown or ended visit). */
int route_visit_get(const route *r, const char *visit, route_visit_info *out);
/* The coordinators' snapshot of a live visit. Returns 0 or not_found. */
int route_visit_view_get(const route *r, const char *visit, route_visit_view *out);
/* Fills out[0..cap) with every live one-stop visit, oldest first (the `watch` reply).
 * Returns the total (may exceed cap; out may be NULL with cap 0). */
int route_watch_list(const route *r, route_visit_view *out, int cap);

/* ---- the status board's view (PROTOCOL.md, "Status board"; read-only) ---- */

enum route_kiosk_state {
	ROUTE_KIOSK_IDLE = 0, /* no visit (also for an unknown sid or a staff session) */
	ROUTE_KIOSK_QUEUED,   /* its visit waits in a queue and no desk rings for it */
	ROUTE_KIOSK_RINGING,  /* its visit waits and at least one desk rings for it */
	ROUTE_KIOSK_IN_CALL,  /* someone else is in its visit's room (a desk or a coordinator) */
};
/* A kiosk session's state. A visit between two itinerary steps with nobody in the room and
 * no leg waiting counts as queued (it is about to be). */
enum route_kiosk_state route_kiosk_state(const route *r, uint32_t sid);

enum route_desk_presence {
	ROUTE_DESK_AWAY = 0,  /* away, suspended, or not staff */
	ROUTE_DESK_AVAILABLE, /* available and free: it would ring */
	ROUTE_DESK_BUSY,      /* serving a leg or in a coordinator's room */
};
/* A staff session's presence as the board shows it. */
enum route_desk_presence route_desk_presence(const route *r, uint32_t sid);

/* How long the visit that has waited longest in the department's queue has waited at now_us
 * (not always the head's: priority legs go first), 0 when none waits; not_found for an
 * unknown department. */
int64_t route_department_longest_wait_ms(const route *r, const char *department, int64_t now_us);

/* ---- guests (interpreters; route_guest.c) ----
 * A guest is a session of role ROUTE_ROLE_GUEST that the shell admitted by a one-time code.
 * It is a room party after the coordinators: the kiosk and the desks receive it in an extra
 * slot, it receives the kiosk as primary and the desks as extras. It never keeps a visit
 * alive: when the visit ends it gets ENDED and leaves the room. */

/* May session sid invite a guest into visit? 0 when it is the desk of an answered leg of
 * the visit. Errors: not_found (sid or visit), forbidden (not that clerk). */
int route_guest_may_invite(const route *r, uint32_t sid, const char *visit);
/* The guest enters the visit's room (RECORD GUEST_JOINED, CONNECTED, MEDIA). Errors:
 * not_found (sid, or the visit ended), forbidden (not a guest), conflict (already in a room,
 * the room is full, or no desk serves the visit any more). */
int route_guest_enter(route *r, uint32_t sid, const char *visit, int64_t now_us);
/* The guest leaves its room (hangup): RECORD GUEST_LEFT reason "left"; others get
 * CONNECTED and MEDIA. Errors: not_found, forbidden (not a guest), conflict (in no room). */
int route_guest_leave(route *r, uint32_t sid, int64_t now_us);

#endif
