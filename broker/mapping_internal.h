/* mapping_internal.h - shared by mapping.c (the table), mapping_sync.c (the
 * link protocol) and mapping_serve.c (peer mappings as listeners here). */
#ifndef BROKER_MAPPING_INTERNAL_H
#define BROKER_MAPPING_INTERNAL_H

#include "broker/mapping.h"
#include "broker/printf_attr.h"
#include "rpc/rpc.h"

#define MAPPING_SOURCE_MANUAL "manual"
#define PORT_BUCKETS 4096
#define TARGET_BUCKETS 4096

struct route;
struct udp_forward;
struct event;
struct mapping;

/* One connect address of a local mapping, indexed: the peer may open it (mapping_targets.c). */
struct mapping_target {
	struct mapping_target *next;
	struct mapping *m;
	size_t i;                     /* m->connect[i] */
};

struct mapping_slot;

struct mapping {
	struct mapping *next;         /* in its group */
	struct mapping *pnext;        /* local side: in the port index */
	struct mapping_group *group;
	enum broker_proto proto;
	char host_ip[64];
	uint16_t host_port;
	char **connect;
	size_t nconnect;
	char state[1024];
	uint64_t seq;                 /* arrival order: the first comer wins a conflict */
	/* local side */
	struct mapping_target *targets;   /* nconnect entries in the target index */
	bool conflict;
	bool shadowed;                /* a yielding source's, under another watcher's mapping: hidden */
	bool exported_once;
	uint64_t gen;                 /* export generation of its last change */
	/* peer side (mapping_serve.c, mapping_index.c) */
	char listen[160];
	struct route *route;
	struct udp_forward *udp;
	struct mapping **prevp;       /* what points at us in the group's list: O(1) unlink */
	struct mapping *knext;        /* key index chain */
	struct mapping_slot *slot;    /* the address it serves, or waits for (a conflict) */
	struct mapping *wnext, **wprevp;  /* in the slot's waiting list */
};

/* One address served here for the peer's mappings: who holds it, who waits (first come, first served). */
struct mapping_slot {
	struct mapping_slot *hnext;
	enum broker_proto proto;
	struct mapping *served;
	struct mapping *waiting, **wtail;
	int busy;                     /* a hand-over loop is using it: not freed yet */
	char url[];                   /* "tcp://127.0.0.1:8080" */
};

/* All mappings of one owner from one source (and, for peer mappings, one peer). */
struct mapping_group {
	struct mapping_group *hnext;  /* hash chain */
	struct mapping_group *next, *prev;
	enum mapping_origin origin;
	bool yields;                  /* its source yields ports to other watchers (BROKER_WATCHER_YIELDS) */
	char *source, *owner, *description, *peer;
	struct mapping *maps;
	uint64_t touched;             /* resync mark */
};

/* A removed export, kept until the peer acknowledges a generation past it. */
struct mapping_tombstone {
	struct mapping_tombstone *next;
	uint64_t gen;
	char *source, *owner;
	enum broker_proto proto;
	char host_ip[64];
	uint16_t host_port;
};

struct mapping_table {
	struct broker *b;
	struct mapping_group **groups;
	struct mapping_group *head, *tail;
	struct mapping *ports[PORT_BUCKETS];   /* local mappings by protocol and port */
	/* peer side (mapping_index.c): mappings by key, addresses by URL; both grow */
	struct mapping **keys;
	size_t nkey_buckets, nkeys;
	struct mapping_slot **slots;
	size_t nslot_buckets, nslots;
	bool destroying;              /* no conflict hand-overs while tearing down */
	struct mapping_target *target_index[TARGET_BUCKETS];  /* local mappings by connect address */
	uint64_t seq;
	uint64_t resync_mark;
	mapping_event_fn on_event;
	void *on_event_arg;
	char yielding[8][65];         /* sources that yield (mappings_source_yields) */
	struct event *yield_timer;    /* a port a yielding mapping could take over again */

	/* export (mapping_sync.c) */
	char epoch[48];
	uint64_t generation;          /* of our export set */
	uint64_t acked;               /* generation the peer holds */
	bool peer_has_full;           /* acked refers to this link's full sync */
	bool in_flight, dirty;
	struct link *sync_link;
	struct event *sync_timer;
	struct mapping_tombstone *tombstones;
};

struct mapping_group *group_find(struct mapping_table *mt, enum mapping_origin origin, const char *source,
                                 const char *owner);
struct mapping_group *group_get(struct mapping_table *mt, enum mapping_origin origin, const char *source,
                                const char *owner, const char *peer);
void group_unlink_free(struct mapping_table *mt, struct mapping_group *g);
void mapping_free(struct mapping *m);
bool mapping_same_target(const struct mapping *a, const struct mapping *b);
void mapping_info_fill(const struct mapping_group *g, const struct mapping *m, struct mapping_info *mi);
void mapping_emit(struct mapping_table *mt, const struct mapping_group *g, const struct mapping *m, const char *kind);
/* Set an announced mapping's state; a change is published as mapping.state. */
void mapping_set_state(struct mapping_table *mt, const struct mapping_group *g, struct mapping *m, const char *fmt, ...)
	BROKER_PRINTF(4, 5);

/* mapping_targets.c: index a local mapping's connect addresses (after it joined its group) or drop them. */
int mapping_targets_add(struct mapping_table *mt, struct mapping *m);
void mapping_targets_remove(struct mapping_table *mt, struct mapping *m);

/* mapping_sync.c */
int mapping_sync_init(struct mapping_table *mt);
void mapping_sync_fini(struct mapping_table *mt);
/* m's exported state changed (exported: now part of the set, or not). */
void mapping_sync_changed(struct mapping_table *mt, struct mapping_group *g, struct mapping *m, bool exported);
Broker__Rpc__Status mapping_rpc_sync(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                     char *err, size_t errlen);

size_t mapping_port_bucket(enum broker_proto proto, uint16_t port);

/* mapping_serve.c */
int mapping_serve_restore(struct mapping_table *mt);
/* Open (or re-open) the listener for a peer mapping and set its state. */
void mapping_serve_start(struct mapping_table *mt, struct mapping_group *g, struct mapping *m);
void mapping_serve_stop(struct mapping_table *mt, struct mapping *m);
void mapping_serve_counters(const struct mapping *m, struct route_counters *out);

/* mapping_index.c: peer mappings by key, O(1) unlinking, listen slots. */
struct mapping *mapping_peer_find(struct mapping_table *mt, struct mapping_group *g, enum broker_proto proto,
                                  const char *ip, uint16_t port);
/* Put a new peer mapping into g and the key index (before mapping_serve_start). */
int mapping_peer_add(struct mapping_table *mt, struct mapping_group *g, struct mapping *m);
/* Take m out of its group and the key index (after mapping_serve_stop; m is not freed). */
void mapping_peer_del(struct mapping_table *mt, struct mapping *m);
void mapping_peer_link(struct mapping_group *g, struct mapping *m);
/* The slot for an address (created when missing); NULL when out of memory. */
struct mapping_slot *mapping_slot_get(struct mapping_table *mt, enum broker_proto proto, const char *url);
/* m serves s / m waits for s (at the back of the line). */
void mapping_slot_hold(struct mapping_slot *s, struct mapping *m);
void mapping_slot_wait(struct mapping_slot *s, struct mapping *m);
/* m no longer serves or waits; returns the slot it had (NULL: none). */
struct mapping_slot *mapping_slot_leave(struct mapping *m);
/* The first waiting mapping, taken out of the line; NULL when nobody waits. */
struct mapping *mapping_slot_next(struct mapping_slot *s);
/* Free s when nobody serves it, waits for it or walks it (busy). */
void mapping_slot_release(struct mapping_table *mt, struct mapping_slot *s);
void mapping_index_fini(struct mapping_table *mt);

#endif
