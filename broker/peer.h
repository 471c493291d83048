/* peer.h - the links to the peer broker: open them from the configured
 * carriers (listen, connect with backoff, our own stdio), authenticate, and
 * keep the peer's listeners for our `peer:` routes in sync. */
#ifndef BROKER_PEER_H
#define BROKER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
