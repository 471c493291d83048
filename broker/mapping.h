/* mapping.h - published ports: the ones our watchers find (exported to the
 * peer) and the ones the peer's watchers found (served here as listeners). */
#ifndef BROKER_MAPPING_H
#define BROKER_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "broker/counters.h"
#include "broker/plugin.h"

struct broker;
struct link;
struct mapping_table;

enum mapping_origin { MAPPING_LOCAL = 0, MAPPING_PEER = 1 };

/* A read-only view for listings, metrics and events. */
struct mapping_info {
	enum mapping_origin origin;
	const char *source;
	const char *owner;
	const char *description;
	enum broker_proto proto;
	const char *host_ip;
	uint16_t host_port;
	size_t nconnect;
	const char *const *connect;
	const char *state;
	const char *listen;           /* peer mappings: the address listened on ("" if none) */
	struct route_counters counters;
};

/* Host-side policy (brokerd --mapping-bind, --mapping-allow-privileged). */
enum mapping_bind { MAPPING_BIND_LOOPBACK = 0, MAPPING_BIND_AS_GIVEN = 1 };

int mappings_create(struct broker *b, struct mapping_table **out);
void mappings_destroy(struct mapping_table *mt);
/* Restore persisted peer mappings and open their listeners (before the link is up). */
int mappings_restore(struct mapping_table *mt);

/* ---- local side: what watchers (and `brokerctl mapping add`) report ---- */

int mappings_set(struct mapping_table *mt, const char *source, const char *owner, const char *description,
                 const struct broker_mapping *m, size_t n, char *err, size_t errlen);
int mappings_remove_owner(struct mapping_table *mt, const char *source, const char *owner);
int mappings_resync_begin(struct mapping_table *mt, const char *source);
int mappings_resync_commit(struct mapping_table *mt, const char *source);
/* A watcher plugin went away: its mappings go with it. */
void mappings_drop_source(struct mapping_table *mt, const char *source);
/*
 * source's mappings yield to other sources' on the same port (procnet:
 * BROKER_WATCHER_YIELDS): not exported, listed or announced while one is
 * there, and taken over again a few seconds after it goes, if still reported.
 */
void mappings_source_yields(struct mapping_table *mt, const char *source);

/* ---- the link ---- */

/* The default link came up: send our complete set. */
void mappings_link_up(struct mapping_table *mt, struct link *l);
/* The link went down: peer mappings stay listening (and refuse) until it is back. */
void mappings_link_down(struct mapping_table *mt);

/*
 * Is target (an endpoint URL, tcp://HOST:PORT or udp://HOST:PORT) the
 * guest side of a mapping we reported to the peer?  Then the peer may
 * open it (DESIGN.md "Trust between brokers").
 */
bool mappings_reported_target(struct mapping_table *mt, const char *target);

/* ---- listing ---- */

int mappings_foreach(struct mapping_table *mt, int (*fn)(void *arg, const struct mapping_info *mi), void *arg);
size_t mappings_count(struct mapping_table *mt, enum mapping_origin origin);
uint64_t mappings_generation(struct mapping_table *mt);

/* Called for every change (events feed); may be NULL. */
typedef void (*mapping_event_fn)(void *arg, const char *kind, const struct mapping_info *mi);
void mappings_set_listener(struct mapping_table *mt, mapping_event_fn fn, void *arg);

/* Parse "udp"/"tcp". */
int mapping_proto_parse(const char *s, enum broker_proto *out);
const char *mapping_proto_name(enum broker_proto p);

#endif
