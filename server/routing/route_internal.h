/* Private to server/routing: the state behind route.h, shared by its files:
 *   route.c            objects, lookups, queues and rings, the action queue, departments
 *   route_access.c     the read-only accessors
 *   route_visit.c      the life of visits, legs and itinerary steps, room membership
 *   route_reconcile.c  deriving media, rings, positions, rooms and views after each event
 *   route_tick.c       timers: resume expiry, ring timeouts, no-answer, business hours
 *   route_call.c       sessions, presence and the 1:1 call (call, accept, hangup, end)
 *   route_room.c       transfer, invite, control, share, survey
 *   route_onestop.c    menus, one-stop calls and the coordinators' requests */
#ifndef MDG_ROUTING_ROUTE_INTERNAL_H
#define MDG_ROUTING_ROUTE_INTERNAL_H

#include "routing/route.h"

#include <stddef.h>

struct route_leg;
struct route_visit;

struct route_dept {
	char id[ROUTE_ID_MAX];
	int admin_open; /* the flag set by route_department_add / set_open */
	int open;       /* admin_open and business hours, as of the latest evaluation */
	enum route_ring_strategy ring;
	int64_t ring_timeout_us;
	int has_hours;
	route_interval hours[7][ROUTE_MAX_HOURS];
	int n_hours[7];
	/* Waiting legs, head first: priority legs, then ordinary ones. */
	struct route_leg **queue;
	int n_queue, cap_queue;
	/* The last ROUTE_WAIT_SAMPLES answer waits, as a ring. */
	int64_t waits_ms[ROUTE_WAIT_SAMPLES];
	int n_waits, next_wait;
	/* Set when the queue's membership or order changed; reconciliation emits QUEUE. */
	int queue_dirty;
	/* What the last DEPARTMENTS action (or the addition) reported. */
	int rep_open, rep_available, rep_queued;
	/* Removed from the directory while running (route_department_retire): closed for good,
	 * kept so that the legs, steps and menus that point here stay valid. */
	int retired;
	int rep_staffed, rep_estimate_s; /* as last announced (DEPARTMENTS) */
};

struct route_session {
	uint32_t sid;
	enum route_role role;
	char ident[ROUTE_ID_MAX];
	char depts[ROUTE_MAX_STAFF_DEPTS][ROUTE_ID_MAX];
	int n_depts;
	unsigned flags;
	int available;
	int suspended;
	int64_t suspended_us;
	/* Longest-idle ordering: when the desk last joined, became available or left a call. */
	int64_t idle_since_us;
	/* A kiosk's current visit, or the visit a desk is serving (with its answered leg). */
	struct route_visit *visit;
	struct route_leg *leg;
	/* The room a coordinator joined (never the same session as a desk's visit). */
	struct route_visit *room;
	int watching;
	uint64_t share_seq; /* nonzero while sharing: larger = started more recently */
	/* What the last MEDIA action for this session said (all zero before the first). */
	uint32_t media_primary;
	uint32_t media_extra[ROUTE_MAX_EXTRA];
	int media_n_extra;
	uint32_t media_document;
	/* A kiosk's last ended visits, which it may still rate. */
	char ended[ROUTE_SURVEY_KEEP][ROUTE_UUID_LEN];
	int ended_rated[ROUTE_SURVEY_KEEP];
	int next_ended;
};

enum route_leg_state { ROUTE_LEG_WAITING, ROUTE_LEG_ANSWERED, ROUTE_LEG_ENDED };

struct route_leg {
	char id[ROUTE_UUID_LEN];
	struct route_visit *visit;
	struct route_dept *dept;
	char procedure[ROUTE_ID_MAX];
	enum route_leg_state state;
	int priority; /* queued ahead of ordinary legs */
	/* A booked call (route_call_booked): the ident of the desk that rings first, alone,
	 * until preferred_until_us; "" = none or the preference is over. */
	char preferred[ROUTE_ID_MAX];
	int64_t preferred_until_us;
	int step; /* index of its itinerary step */
	int64_t queued_us;
	uint64_t answer_seq; /* order of answering within the visit (room order) */
	uint32_t staff;      /* the answering desk, 0 while waiting */
	char staff_ident[ROUTE_ID_MAX];
	/* Desks ringing for this leg now, in the order they started ringing. */
	uint32_t *ringing;
	int n_ringing, cap_ringing;
	/* Longest-idle: when the current ring started, the desks rung in this round, and the
	 * desk whose ring timed out last (not rung again first when a round restarts). */
	int64_t ring_started_us;
	uint32_t *tried;
	int n_tried, cap_tried;
	uint32_t last_timed_out;
	/* What the last QUEUED action to the kiosk said (0 before the first). */
	int rep_position, rep_estimate_s;
	struct route_leg *next; /* the visit's legs in creation order */
};

struct route_step {
	struct route_dept *dept;
	struct route_leg *leg; /* its latest leg; NULL while pending or skipped unreached */
	int skipped;           /* passed over before it got a leg */
	uint32_t desk;         /* the desk of its latest answered leg */
};

struct route_visit {
	char id[ROUTE_UUID_LEN];
	uint32_t kiosk;
	char kiosk_ident[ROUTE_ID_MAX];
	int64_t started_us;
	int onestop;
	char menu[ROUTE_ID_MAX];
	struct route_leg *legs; /* all legs, oldest first; ended ones kept for the record */
	struct route_leg *last;
	uint64_t answers; /* answer_seq counter */
	/* The itinerary: non-pending steps first, then the pending ones. */
	struct route_step steps[ROUTE_MAX_STEPS];
	int n_steps;
	/* Coordinators in the room, in join order. */
	uint32_t coords[ROUTE_MAX_PARTIES];
	int n_coords;
	/* Guests (interpreters) in the room, in join order, and their record legs. */
	uint32_t guests[ROUTE_MAX_PARTIES];
	char guest_legs[ROUTE_MAX_PARTIES][ROUTE_UUID_LEN];
	int n_guests;
	/* What the last CONNECTED said, and the last VISIT view sent to watchers. */
	uint32_t rep_parties[ROUTE_MAX_PARTIES];
	int rep_n_parties;
	route_visit_view rep_view;
};

struct route_menu {
	char id[ROUTE_ID_MAX];
	struct route_dept *depts[ROUTE_MAX_STEPS];
	int n;
};

struct route {
	route_config cfg;
	struct route_dept **depts;
	int n_depts, cap_depts;
	struct route_session **sessions; /* in join order */
	int n_sessions, cap_sessions;
	/* sessions[i]->sid, side by side: route_session_find scans these few kilobytes instead
	 * of following a pointer per session (reconciliation looks parties up for every
	 * session after every event: at 500 sessions that was most of a transfer's cost). */
	uint32_t *session_sids;
	int cap_session_sids;
	struct route_visit **visits; /* visits not yet ended, oldest first */
	int n_visits, cap_visits;
	struct route_menu **menus;
	int n_menus, cap_menus;
	/* Pending actions, packed: each is a struct route_qhdr and its kind's payload
	 * (route_action_size bytes), at 8-byte aligned offsets in acts[act_head .. act_tail). */
	unsigned char *acts;
	size_t act_head, act_tail, cap_acts;
	int n_acts;
	uint64_t lost_acts;
	uint64_t share_counter;
	int64_t now_us;       /* the latest now_us seen, for route_next_deadline */
	route_action scratch; /* filled and discarded when the action queue cannot grow */
};

/* ---- route.c: objects, lookups, queues, rings, actions ---- */

/* Grows *arr (elements of size elem) so that it holds at least need elements. */
int route_grow(void **arr, int *cap, int need, size_t elem);
/* Copies src into dst (cap bytes); returns -1 when it does not fit (src NULL counts as ""). */
int route_copy_id(char *dst, size_t cap, const char *src);
int route_id_ok(const char *id);          /* non-empty and fits ROUTE_ID_MAX */
int route_optional_id_ok(const char *id); /* NULL, or fits ROUTE_ID_MAX */

struct route_dept *route_dept_find(const route *r, const char *id);
struct route_session *route_session_find(const route *r, uint32_t sid);
struct route_visit *route_visit_find(const route *r, const char *id);
int route_session_in_dept(const struct route_session *s, const char *dept);
/* A desk that could ring for a waiting leg of dept now. */
int route_desk_free_in(const struct route_session *s, const char *dept);
/* Desks of the department that are available and connected, busy or not. */
int route_dept_present(const route *r, const struct route_dept *d);
/* The wait a visit queued now would be told (route_department_info.estimated_wait_s). */
int route_dept_estimate_s(const route *r, const struct route_dept *d);
/* Free desks of the department (the departments event's "available"). */
int route_dept_available(const route *r, const struct route_dept *d);
/* Is the department open at now_us (admin flag and business hours)? In route_tick.c. */
int route_dept_open_at(const route *r, const struct route_dept *d, int64_t now_us);

/* The zeroed payload of an action of the given kind (the route_act_* struct of its kind,
 * e.g. route_act_media for MEDIA) stamped with now_us, already on the queue; or a scratch
 * payload when the queue cannot grow (then counted as lost), so callers can fill it without
 * checking. Valid until the next emit. For RECORD use route_emit_rec. */
void *route_emit(route *r, enum route_action_kind kind, uint32_t to, int64_t now_us);
/* A zeroed RECORD of the given record kind (only LEG_ENDED gets room for a note). */
route_act_record *route_emit_rec(route *r, enum route_record_kind kind, int64_t now_us);
/* A RECORD with the visit's and (if not NULL) the leg's fields filled in. */
route_act_record *route_emit_record(route *r, enum route_record_kind kind,
                                    const struct route_leg *leg, const struct route_visit *v,
                                    int64_t now_us);
/* RECORD AUDIT by staff session s about visit v (leg and department optional). */
void route_emit_audit(route *r, const struct route_session *s, const struct route_visit *v,
                      const struct route_leg *leg, const char *action, int64_t now_us);
void route_emit_ended(route *r, uint32_t to, const struct route_visit *v, const char *reason,
                      int64_t now_us);

/* Queue membership. route_enqueue puts a waiting leg at the tail of its department's
 * queue, or behind the last priority leg when leg->priority; it returns -1 (nothing
 * changed) when the queue cannot grow. route_dequeue is a no-op for a leg not queued. */
int route_enqueue(struct route_leg *leg);
void route_dequeue(struct route_leg *leg);
int route_ring_has(const struct route_leg *leg, uint32_t sid);
void route_ring_remove(struct route_leg *leg, uint32_t sid);
/* Cancels every ring of a leg with RING_CANCELLED reason to each connected ringing desk. */
void route_ring_cancel_all(route *r, struct route_leg *leg, const char *reason, int64_t now_us);

struct route_leg *route_leg_alloc(route *r, struct route_dept *d, const char *procedure);
void route_leg_free(struct route_leg *leg);
void route_visit_free(struct route_visit *v);

/* ---- route_visit.c: visits, legs, steps, rooms ---- */

/* The room: the kiosk, then the desks of answered legs in answer order, then the
 * coordinators. Returns the count. */
int route_visit_parties(const struct route_visit *v, uint32_t out[ROUTE_MAX_PARTIES]);
/* The first leg in creation order that has not ended, or NULL. */
struct route_leg *route_visit_current_leg(const struct route_visit *v);
/* The visit's waiting leg, or NULL. */
struct route_leg *route_visit_waiting_leg(const struct route_visit *v);
int route_visit_open_legs(const struct route_visit *v);
int route_visit_has_pending(const struct route_visit *v);
int route_visit_first_pending(const struct route_visit *v);
int route_visit_coord_index(const struct route_visit *v, uint32_t sid);
/* Inserts a pending step for d before the first pending step; returns its index or -1
 * when the itinerary is full. */
int route_visit_insert_step(struct route_visit *v, struct route_dept *d);
/* Moves step i to just before the first pending step; returns its new index. */
int route_visit_move_step_next(struct route_visit *v, int i);

/* Allocates a visit (not yet registered) for kiosk s; NULL when out of memory. */
struct route_visit *route_visit_alloc(route *r, const struct route_session *s, int64_t now_us);
/* Registers a visit in r->visits (which must have room: grow it first). */
void route_visit_register(route *r, struct route_visit *v);
/* Removes a visit from the route and frees it with its legs. */
void route_visit_destroy(route *r, struct route_visit *v);

/* Links an allocated, already queued leg to the visit as step i's leg. */
void route_visit_attach_leg(struct route_visit *v, int i, struct route_leg *leg, int64_t now_us);
/* Gives step i a waiting leg (queued, LEG_QUEUED record with via). Returns 0, or -1 when
 * out of memory (nothing changed). */
int route_visit_queue_step(route *r, struct route_visit *v, int i, int priority,
                           const char *procedure, const char *via, int64_t now_us);
/* Ends one open leg: a waiting one leaves its queue and its desks get RING_CANCELLED
 * "cancelled"; an answered one frees its desk (no ENDED: the caller decides). Emits
 * LEG_ENDED with reason; procedure (if not empty) replaces the leg's procedure. */
void route_leg_finish(route *r, struct route_leg *leg, const char *reason, const char *procedure,
                      const char *note, int64_t now_us);
/* Ends a visit and every leg still open in it: desks, coordinators and the kiosk get
 * ENDED visit_reason; answered legs end answered_reason, a waiting one waiting_reason;
 * pending steps are skipped; watchers get the last VISIT. The visit is freed. */
void route_visit_end(route *r, struct route_visit *v, const char *visit_reason,
                     const char *answered_reason, const char *waiting_reason, const char *procedure,
                     const char *note, int64_t now_us);
/* After legs ended: if the visit has no open leg, queues its next pending step (skipping
 * closed departments) or, with nothing pending and no coordinator in the room, ends it
 * with reason_if_done ("closed" if a closed department was skipped just now). */
void route_visit_settle(route *r, struct route_visit *v, const char *reason_if_done,
                        int64_t now_us);
/* The desk serving a leg of v dropped: its leg ends "dropped" and, unless the visit
 * already waits, the resident is requeued at the head for the same step. */
void route_visit_desk_dropped(route *r, struct route_session *desk, int64_t now_us);
/* A coordinator leaves the room of v (no checks). */
void route_visit_coord_leave(route *r, struct route_visit *v, struct route_session *s,
                             int64_t now_us);
void route_visit_build_view(const struct route_visit *v, route_visit_view *out);

/* ---- route_reconcile.c ---- */

/* Brings the derived outputs up to date after an event: ends waiting legs of closed
 * departments nobody can answer, then CONNECTED for rooms whose parties changed, MEDIA for
 * every session whose feeds changed, rings (RINGING / RING_CANCELLED) for every waiting
 * leg, QUEUED positions, QUEUE for changed departments, VISIT for changed one-stop visits,
 * then one DEPARTMENTS if availability changed. */
void route_reconcile(route *r, int64_t now_us);
/* CONNECTED to every party of v if its party list changed and holds two or more. */
void route_announce_room(route *r, struct route_visit *v, int64_t now_us);
void route_emit_ringing(route *r, const struct route_leg *leg, uint32_t desk, int64_t now_us);
void route_emit_queued(route *r, struct route_leg *leg, int position, int est, int64_t now_us);
/* Feeds of session s now (see ROUTE_ACT_MEDIA). Returns n_extra. */
int route_media_wanted(const route *r, const struct route_session *s, uint32_t *primary,
                       uint32_t extra[ROUTE_MAX_EXTRA], uint32_t *document);
int route_estimate_s(const struct route_dept *d, int position);
/* Longest-idle: is there a desk other than current that could ring for leg now? */
int route_idle_alternative(const route *r, const struct route_leg *leg, uint32_t current);

/* ---- route_call.c ---- */

/* Starts a visit for kiosk s over depts[0..n) (procedure for its first leg, menu NULL for
 * a plain call): closed leading departments are skipped (unavailable if all are). */
int route_start_visit(route *r, struct route_session *s, struct route_dept *const *depts, int n,
                      const char *procedure, const char *menu, int64_t now_us,
                      char visit_out[ROUTE_UUID_LEN]);
/* Is a desk preferred by leg present (available, connected, of its department)? */
int route_preferred_present(const route *r, const struct route_leg *leg);

/* Unlinks and frees a session, with the consequences of its departure (see
 * route_session_leave), without reconciling. */
void route_session_remove(route *r, struct route_session *s, int64_t now_us);

/* route_guest.c: take guest i out of v's room, recording reason; no reconcile. */
void route_guest_remove_at(route *r, struct route_visit *v, int i, const char *reason,
                           int64_t now_us);

#endif
