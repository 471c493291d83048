/* peer.h - the links to the peer broker: open them from the configured
 * carriers (listen, connect with backoff, our own stdio), authenticate, and
 * keep the peer's listeners for our `peer:` routes in sync. */
#ifndef BROKER_PEER_H
#define BROKER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/rpc.pb-c.h"

struct broker;
struct link;
struct peer_manager;

int peer_create(struct broker *b, struct peer_manager **out);
/* Load (or create) the secret, open every configured carrier.  <0: a carrier could not even start. */
int peer_start(struct peer_manager *pm);
/* Close every link and carrier (shutdown). */
void peer_stop(struct peer_manager *pm);
void peer_destroy(struct peer_manager *pm);

/* The link `peer:` routes use: the first link that is up, or NULL. */
struct link *peer_default_link(struct peer_manager *pm);

/* The up link to the peer with broker id `owner` (NULL: the default link), or NULL. */
struct link *peer_link_for(struct peer_manager *pm, const char *owner);

/* A route that listens on the peer was added or removed: resync the peer's listeners. */
void peer_routes_changed(struct peer_manager *pm);

/* Byte streams open on all links (the shutdown drain waits for them; UDP flows it does not). */
uint64_t peer_streams_open(struct peer_manager *pm);

struct broker *peer_broker(const struct peer_manager *pm);

/* The stable id this broker presents in HELLO. */
const char *peer_broker_id(const struct peer_manager *pm);

/*
 * peer.route_counters (peer_report.c).  The listening side sends, at most
 * once per PEER_REPORT_INTERVAL_MS per link, the counters of the routes it
 * holds for owner (the link's peer) that changed, at most
 * PEER_REPORT_MAX_ROUTES per report; the owner's handler applies them.
 */
#define PEER_REPORT_INTERVAL_MS 1000
#define PEER_REPORT_MAX_ROUTES 128
void peer_report_send(struct broker *b, struct link *l, const char *owner);
Broker__Rpc__Status peer_rpc_route_counters(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                            size_t *reply_len, char *err, size_t errlen);

/* Is l the link to our parent (--link-stdio), trusted as if "*" were allowed? */
bool peer_link_is_parent(struct peer_manager *pm, const struct link *l);

/*
 * peer.check_connect (peer_check.c): would the peer let our streams reach
 * target (an endpoint URL on the peer)?  Asked of the default link; the
 * peer answers from its policy (DESIGN.md "Trust between brokers")
 * without connecting anything.  Returns 1: asked, fn runs exactly once
 * later with rc 0 (allowed), -EPERM (refused: why is the peer's reason),
 * -ENOTSUP (the peer is older and cannot tell), or another -errno (no
 * answer: why); 0: no link is up, nothing asked; -ENOMEM.
 */
typedef void (*peer_check_fn)(void *arg, int rc, const char *why);
int peer_check_connect(struct peer_manager *pm, const char *target, peer_check_fn fn, void *arg);
Broker__Rpc__Status peer_rpc_check_connect(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                           size_t *reply_len, char *err, size_t errlen);

struct peer_link_info {
	const char *carrier;
	const char *role;         /* listen, connect, stdio, accepted */
	const char *state;
	const char *last_error;
	uint64_t reconnects;
	bool is_default;
	struct link *link;        /* NULL when not connected */
};
int peer_foreach(struct peer_manager *pm, int (*fn)(void *arg, const struct peer_link_info *li), void *arg);

#endif
