/* Private to server/routing: the state behind route.h, shared by route.c (objects, the
 * action queue, reconciliation, accessors) and route_call.c (the call lifecycle events). */
#ifndef MDG_ROUTING_ROUTE_INTERNAL_H
#define MDG_ROUTING_ROUTE_INTERNAL_H

#include "routing/route.h"

#include <stddef.h>

struct route_leg;
struct route_visit;

struct route_dept {
	char id[ROUTE_ID_MAX];
	int open;
	/* Waiting legs, head first. */
	struct route_leg **queue;
	int n_queue, cap_queue;
	/* The last ROUTE_WAIT_SAMPLES answer waits, as a ring. */
	int64_t waits_ms[ROUTE_WAIT_SAMPLES];
	int n_waits, next_wait;
	/* Set when the queue's membership or order changed; reconciliation emits QUEUE. */
	int queue_dirty;
	/* What the last DEPARTMENTS action (or the addition) reported. */
	int rep_open, rep_available, rep_queued;
};

struct route_session {
	uint32_t sid;
	enum route_role role;
	char ident[ROUTE_ID_MAX];
	char depts[ROUTE_MAX_STAFF_DEPTS][ROUTE_ID_MAX];
	int n_depts;
	unsigned flags;
	int available;
	/* A kiosk's current visit, or the visit a desk is serving (with its leg). */
	struct route_visit *visit;
	struct route_leg *leg;
	/* What the last MEDIA action for this session said (all zero before the first). */
	uint32_t media_primary;
	uint32_t media_extra[ROUTE_MAX_EXTRA];
	int media_n_extra;
};

enum route_leg_state { ROUTE_LEG_WAITING, ROUTE_LEG_ANSWERED, ROUTE_LEG_ENDED };

struct route_leg {
	char id[ROUTE_UUID_LEN];
	struct route_visit *visit;
	struct route_dept *dept;
	char procedure[ROUTE_ID_MAX];
	enum route_leg_state state;
	int64_t queued_us;
	uint32_t staff; /* the answering desk, 0 while waiting */
	char staff_ident[ROUTE_ID_MAX];
	/* Desks ringing for this leg now, in the order they started ringing. */
	uint32_t *ringing;
	int n_ringing, cap_ringing;
	/* What the last QUEUED action to the kiosk said (0 before the first). */
	int rep_position, rep_estimate_s;
	struct route_leg *next; /* the visit's legs in creation order */
};

struct route_visit {
	char id[ROUTE_UUID_LEN];
	uint32_t kiosk;
	char kiosk_ident[ROUTE_ID_MAX];
	int64_t started_us;
	struct route_leg *legs; /* all legs, oldest first; ended ones kept for the record */
	struct route_leg *last;
};

struct route {
	route_config cfg;
	struct route_dept **depts;
	int n_depts, cap_depts;
	struct route_session **sessions; /* in join order */
	int n_sessions, cap_sessions;
	struct route_visit **visits; /* visits not yet ended */
	int n_visits, cap_visits;
	route_action *acts; /* pending actions are acts[act_head .. act_tail) */
	int act_head, act_tail, cap_acts;
	uint64_t lost_acts;
	route_action scratch; /* filled and discarded when the action queue cannot grow */
};

/* Grows *arr (elements of size elem) so that it holds at least need elements. */
int route_grow(void **arr, int *cap, int need, size_t elem);
/* Copies src into dst (cap bytes); returns -1 when it does not fit (src NULL counts as ""). */
int route_copy_id(char *dst, size_t cap, const char *src);

struct route_dept *route_dept_find(const route *r, const char *id);
struct route_session *route_session_find(const route *r, uint32_t sid);
struct route_visit *route_visit_find(const route *r, const char *id);
int route_session_in_dept(const struct route_session *s, const char *dept);

/* A zeroed action of the given kind stamped with now_us, already on the queue; or a
 * scratch action when the queue cannot grow (then counted as lost), so callers can fill
 * it without checking. */
route_action *route_emit(route *r, enum route_action_kind kind, uint32_t to, int64_t now_us);
route_action *route_emit_record(route *r, enum route_record_kind kind, const struct route_leg *leg,
                                const struct route_visit *v, int64_t now_us);

/* The room: the kiosk, then the desks of answered legs. Returns the count. */
int route_visit_parties(const struct route_visit *v, uint32_t out[ROUTE_MAX_PARTIES]);
struct route_leg *route_visit_current_leg(const struct route_visit *v);

/* Queue membership. route_enqueue puts a waiting leg at the head or the tail of its
 * department's queue; it returns -1 (nothing changed) when the queue cannot grow.
 * route_dequeue is a no-op for a leg not in its department's queue. */
int route_enqueue(struct route_leg *leg, int at_head);
void route_dequeue(struct route_leg *leg);
int route_ring_has(const struct route_leg *leg, uint32_t sid);
void route_ring_remove(struct route_leg *leg, uint32_t sid);
/* Cancels every ring of a leg with RING_CANCELLED reason to each ringing desk. */
void route_ring_cancel_all(route *r, struct route_leg *leg, const char *reason, int64_t now_us);

/* Removes a visit from the route and frees it with its legs. */
void route_visit_destroy(route *r, struct route_visit *v);
struct route_leg *route_leg_alloc(route *r, struct route_dept *d, const char *procedure);
void route_leg_free(struct route_leg *leg);

/* Brings the derived outputs up to date after an event: MEDIA for every session whose
 * feeds changed, rings (RINGING / RING_CANCELLED) for every waiting leg, QUEUED positions,
 * QUEUE for changed departments, then one DEPARTMENTS if availability changed. */
void route_reconcile(route *r, int64_t now_us);

#endif
