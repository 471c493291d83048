/* route.h - routes: accept on one endpoint, connect to another, relay bytes. */
#ifndef BROKER_ROUTE_H
#define BROKER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include "broker/counters.h"

struct broker;
struct route_table;

struct route_info {
	const char *name;
	const char *listen;
	const char *connect;
	int max_connections;          /* 0: unlimited */
	bool persistent;              /* stored in sqlite; false: from the config file */
	const char *state;            /* "listening", "down: <reason>" */
	const char *listen_address;   /* effective address */
	struct route_counters counters;
};

int routes_create(struct broker *b, struct route_table **out);
void routes_destroy(struct route_table *rt);

/*
 * Add a route and start listening.  persist: store it so it comes back
 * after a restart.  Errors (reason in err): -EEXIST "name taken",
 * -EINVAL bad URL or name, listener errors from the plugin.  Nothing is
 * stored when the listener cannot open.
 */
int routes_add(struct route_table *rt, const char *name, const char *listen, const char *connect,
               int max_connections, bool persist, char *err, size_t errlen);
/* Stop listening, reset live connections, forget (and unstore) the route.  -ENOENT if absent. */
int routes_remove(struct route_table *rt, const char *name, char *err, size_t errlen);
/* Re-open routes stored in sqlite (at start). */
int routes_restore(struct route_table *rt);
/* Replace the config-file routes with cfg's (start and reload). */
int routes_apply_config(struct route_table *rt);
int routes_foreach(struct route_table *rt, int (*fn)(void *arg, const struct route_info *ri), void *arg);
size_t routes_count(struct route_table *rt);
uint64_t routes_active_connections(struct route_table *rt);
/* Shutdown: close every listener; live connections keep relaying. */
void routes_stop_accepting(struct route_table *rt);
/* Reset every live connection (after the drain timeout). */
void routes_abort_all(struct route_table *rt);

#endif
