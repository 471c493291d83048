/* peer_policy.h - what a peer broker may do here (DESIGN.md "Trust between
 * brokers"): which endpoints its OPENs may reach, which listeners it may
 * ask for, and the port policy shared with the peer's mappings.
 *
 * A pattern (--peer-allow-connect, --peer-allow-listen) is either "*"
 * (anything but exec: and this broker's own directories) or an endpoint
 * URL in which '*' in the address or in a query value matches any run of
 * characters, '/' included; nothing else is special.  Schemes compare
 * exactly.  A target's query must have the pattern's keys, no more and no
 * fewer.  A Unix socket address that starts with '@' (an abstract socket)
 * is matched only by a pattern whose address starts with '@' too.  exec:
 * targets are never matched by a wildcard: only a pattern equal to the
 * whole target URL allows one.  Unix paths are resolved (symlinks, "..")
 * before they are matched, in targets and in patterns alike, and a path in
 * this broker's runtime or state directory is refused whatever the
 * patterns say. */
#ifndef BROKER_PEER_POLICY_H
#define BROKER_PEER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_config;
struct peer_policy;

#define PEER_POLICY_MAX_RANGES 64

/* Build the policy from cfg (patterns, directories, mapping bind/port rules).  0 or -errno with err. */
int peer_policy_new(const struct broker_config *cfg, struct peer_policy **out, char *err, size_t errlen);
void peer_policy_free(struct peer_policy *p);

/* The broker id named in refusal texts, so the other side knows which broker to configure. */
void peer_policy_set_name(struct peer_policy *p, const char *broker_id);

/*
 * May the peer open a stream to target here?  trusted: the peer is our
 * parent (--link-stdio), as if "*" were allowed.  0: yes, and the endpoint
 * to connect (Unix paths resolved) is in out.  -EPERM: no, why says so in
 * one line meant for both brokers' logs.  -EINVAL: target is not a URL.
 */
int peer_policy_connect(const struct peer_policy *p, const char *target, bool trusted, char *out, size_t outlen,
                        char *why, size_t whylen);

/* May the peer have this broker listen on url (a route it owns)?  0, -EPERM or -EINVAL with why. */
int peer_policy_listen(const struct peer_policy *p, const char *url, bool trusted, char *why, size_t whylen);

/*
 * The port rules for listeners the peer asks for (mappings and routes):
 * below 1024 only with --mapping-allow-privileged, and inside
 * --mapping-ports when that is set.  0 or -EPERM with why.
 */
int peer_policy_port(const struct peer_policy *p, unsigned port, char *why, size_t whylen);

/* Is host a loopback address ("127.x.y.z", "::1", "localhost")? */
bool peer_policy_is_loopback(const char *host);

/* --- pure helpers (unit tests and the fuzzer call them directly) --- */

/* Does text match pattern, where '*' matches any run of characters and nothing else is special? */
bool peer_policy_glob(const char *pattern, const char *text);

/* Is pattern well formed ("*" or an endpoint URL)?  0 or -EINVAL with err. */
int peer_policy_pattern_check(const char *pattern, char *err, size_t errlen);

/* "8000-8999,3000" into ranges (lo <= hi, 1..65535).  0 or -EINVAL with err. */
struct peer_port_range {
	uint16_t lo, hi;
};
int peer_policy_parse_ports(const char *text, struct peer_port_range *out, size_t max, size_t *n, char *err,
                            size_t errlen);

#endif
