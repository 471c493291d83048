/* peer_auth.h - which links must prove the shared secret (DESIGN.md "Trust
 * between brokers": authentication on every carrier someone else could
 * reach), decided per link from what the kernel says about the carrier,
 * and the link options a carrier URL carries (?auth=, ?encrypt=).  broker-link(7)
 * "Authentication" states the rules. */
#ifndef BROKER_PEER_AUTH_H
#define BROKER_PEER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/platform.h"

enum peer_auth_role { PEER_AUTH_LISTEN, PEER_AUTH_CONNECT, PEER_AUTH_STDIO };

/* A carrier URL, split into what the link uses and what its plugin gets. */
struct carrier_opts {
	char scheme[32];
	bool auth_required;       /* ?auth=required: every peer proves the secret */
	bool encrypt;             /* tcp, unless ?encrypt=off: seal every frame after the handshake */
	bool abstract;            /* unix://@name */
	char *address;            /* the endpoint's address (a Unix path for the dial check) */
	char *plugin_url;         /* the URL without the link's own parameters */
};

/*
 * Parse a --link-listen / --link-connect URL.  The link's parameters are
 * taken out of the URL the plugin sees.  ?auth=none and ?auth=optional are
 * refused: whether a peer must prove the secret follows from the carrier.
 * ?encrypt=off (tcp only) is the documented opt-in to a plaintext link.
 * 0 or -errno with err.
 */
int carrier_opts_parse(const char *url, enum peer_auth_role role, struct carrier_opts *o, char *err, size_t errlen);
void carrier_opts_free(struct carrier_opts *o);

/* What is known about one connected carrier. */
struct carrier_facts {
	enum peer_auth_role role;
	const struct carrier_opts *opts;
	struct platform_peer peer;     /* from the socket (platform_sock_peer) */
	long our_uid;                  /* platform_euid() */
	int path_private;              /* unix dial: platform_unix_path_private() (0: private) */
	const char *path_why;          /* its reason when not */
};

/* Fill the facts of a carrier whose read side is fd (a socket or not). */
void carrier_facts_get(struct carrier_facts *f, enum peer_auth_role role, const struct carrier_opts *o,
                       broker_fd fd, char *path_why, size_t path_why_len);

/* Must the peer on this carrier prove the secret?  why: one line saying why (or why not). */
bool peer_auth_required(const struct carrier_facts *f, char *why, size_t whylen);

/* For the startup log: what a carrier asks of its peers ("authentication required from ..."). */
const char *peer_auth_describe(enum peer_auth_role role, const struct carrier_opts *o);

#endif
