/* route.h - routes: accept on one endpoint, connect to another, relay bytes. */
#ifndef BROKER_ROUTE_H
#define BROKER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
	const char *owner;            /* remote route: the peer that asked for it; NULL: ours */
	uint64_t id;                  /* ours, listening on the peer: the id its OPENs name; else 0 */
	struct route_counters counters;
};

int routes_create(struct broker *b, struct route_table **out);
void routes_destroy(struct route_table *rt);

/*
 * Add a route and start listening.  persist: store it so it comes back
 * after a restart.  Errors (reason in err): -EEXIST "name taken",
 * -EINVAL bad URL or name, listener errors from the plugin.  Nothing is
 * stored when the listener cannot open.  Names are [A-Za-z0-9._-]: '/' is
 * kept for OWNER/NAME, the routes a peer holds here.
 */
int routes_add(struct route_table *rt, const char *name, const char *listen, const char *connect,
               int max_connections, bool persist, char *err, size_t errlen);
/* What became of a route that listens on the peer, once it was added. */
enum route_peer_outcome {
	ROUTE_PEER_LISTENING,   /* the peer listens for it (or the route listens here) */
	ROUTE_PEER_REFUSED,     /* the peer refused: the route was removed and unstored */
	ROUTE_PEER_LINK_DOWN,   /* no link is up: stored; the peer is asked when one comes up */
	ROUTE_PEER_NO_ANSWER,   /* the peer did not answer in time: stored; its answer updates the state */
	ROUTE_PEER_GONE,        /* removed (or the broker stopped) before the answer */
};
/* text: the peer's state or reason, "the link to the peer is down: ...", ... */
typedef void (*route_peer_wait_fn)(void *arg, enum route_peer_outcome outcome, const char *text);

/*
 * routes_add, waiting for the peer when the route listens there and a link
 * is up.  Returns <0 (refused here: err), 0 (settled now: *outcome is
 * LISTENING or LINK_DOWN, text in err), or 1 (the peer was asked: fn is
 * called exactly once, within wait_ms).  No link configured at all refuses
 * a peer: route with -ENOTCONN.
 */
int routes_add_waiting(struct route_table *rt, const char *name, const char *listen, const char *connect,
                       int max_connections, int wait_ms, route_peer_wait_fn fn, void *arg,
                       enum route_peer_outcome *outcome, char *err, size_t errlen);
const char *route_peer_outcome_name(enum route_peer_outcome o);

/*
 * Stop listening, reset live connections, forget (and unstore) the route.
 * name may be OWNER/NAME, or the NAME of the one route a peer holds here
 * when none of ours has it: that listener closes, and the peer's syncs do
 * not reopen it until the peer drops the route from its set.  -ENOENT if
 * absent.
 */
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

/* ---- routes across the link (peer.c) ---- */

/* Our routes whose listen is peer:URL (ri->listen is the URL without "peer:"). */
int routes_foreach_peer_listen(struct route_table *rt, int (*fn)(void *arg, const struct route_info *ri), void *arg);
/*
 * The peer's answer for route name (from a route sync reply): its state as
 * shown ("listening on ... (peer ID)", "down: peer ID: why"), and the peer's
 * reason when it refused.  A route add waiting for it is settled.
 */
void routes_peer_answer(struct route_table *rt, const char *name, bool ok, const char *state, const char *why);
/* A route sync got no usable answer (why): routes waiting for one are settled so (REFUSED removes them). */
void routes_peer_unanswered(struct route_table *rt, enum route_peer_outcome outcome, const char *why);
/* The link went down: our peer-listen routes wait for it again. */
void routes_peer_down(struct route_table *rt);

/*
 * Counters across the link (peer.route_counters).  On the listening side:
 * routes_report_changed calls fn for at most max routes held for owner whose
 * counters changed since they were last reported (and marks them reported,
 * unless fn fails); routes_report_reset makes every one of them due again (a
 * new link).  Returns how many were reported, or fn's error.  On the owning
 * side: routes_set_peer_counters takes the peer's counters for our route
 * `name` whose listener it holds (incarnation: which listener; a new one
 * starts from zero and the old totals are kept); *total is what route list
 * shows now.  1 changed, 0 the same, -ENOENT no such route of ours.
 */
typedef int (*route_report_fn)(void *arg, const char *name, uint64_t incarnation, const struct route_counters *c);
int routes_report_changed(struct route_table *rt, const char *owner, size_t max, route_report_fn fn, void *arg);
void routes_report_reset(struct route_table *rt, const char *owner);
int routes_set_peer_counters(struct route_table *rt, const char *name, uint64_t incarnation,
                             const struct route_counters *c, struct route_counters *total);

/*
 * The peer opens a stream to our route `id` (one that listens on the
 * peer): the endpoint it leads to, into connect.  0, or -ENOENT with why.
 */
int routes_peer_open(struct route_table *rt, uint64_t id, char *connect, size_t len, char *why, size_t whylen);

/* A route the peer asks us to listen for; connect is an endpoint on the peer. */
struct remote_route {
	const char *name;
	const char *listen;
	const char *connect;
	int max_connections;
	uint64_t id;                  /* the peer's id for it, named in our OPENs */
};
/* rc 0: listening (state says where); -EPERM: refused by policy; else it could not listen. */
typedef void (*remote_result_fn)(void *arg, const char *name, int rc, const char *state);
struct remote_sync {
	const char *owner;            /* the peer's broker id */
	const struct remote_route *set;
	size_t n;
	size_t max_routes;            /* routes this peer may hold here (--peer-max-routes) */
	/* May the peer have us listen on want->listen?  0 or -EPERM with why. */
	int (*check)(void *arg, const struct remote_route *want, char *why, size_t whylen);
	remote_result_fn result;
	void *arg;
};
/* Make the routes held for rs->owner exactly rs->set, as far as the policy allows; report each outcome. */
int routes_sync_remote(struct route_table *rt, const struct remote_sync *rs);
/* The link to owner is gone: close every route it holds here. */
void routes_drop_owner(struct route_table *rt, const char *owner);

/* ---- listeners for peer mappings (mapping_serve.c): not listed, not stored ---- */

struct route;
int routes_add_internal(struct route_table *rt, const char *name, const char *owner, const char *listen,
                        const char *connect, struct route **out, char *err, size_t errlen);
void routes_remove_internal(struct route_table *rt, struct route *r);
const char *route_listen_address(const struct route *r);
void route_get_counters(const struct route *r, struct route_counters *out);

#endif
