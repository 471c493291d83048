/* udp_forward.h - UDP for peer mappings: a socket on this host whose flows
 * (one per client address) are carried on the link as datagram streams to
 * the guest address, with idle timeouts and a bound on flows. */
#ifndef BROKER_UDP_FORWARD_H
#define BROKER_UDP_FORWARD_H

#include <stddef.h>
#include "broker/counters.h"

struct broker;
struct udp_forward;

#define UDP_FLOW_IDLE_MS 60000
#define UDP_MAX_FLOWS 1024

/* listen: "udp://IP:PORT"; target: "HOST:PORT" on the peer; owner: the peer's broker id. */
int udp_forward_start(struct broker *b, const char *listen, const char *target, const char *owner,
                      struct udp_forward **out, char *err, size_t errlen);
void udp_forward_stop(struct udp_forward *u);
void udp_forward_counters(const struct udp_forward *u, struct route_counters *out);

#endif
