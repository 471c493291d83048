/* mapping_serve.c - the peer's mappings served here: each becomes a
 * listener on this host that forwards through the link to the guest
 * address.  Bind policy: loopback by default (0.0.0.0 becomes 127.0.0.1,
 * :: becomes ::1), as given on request; ports below 1024 only when allowed.
 * Listeners are restored from sqlite at start, so they exist (and refuse)
 * before the link is up. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/util.h>

#include "broker/broker.h"
#include "broker/display.h"
#include "broker/log.h"
#include "broker/mapping_internal.h"
#include "broker/peer_policy.h"
#include "broker/route.h"
#include "broker/store.h"
#include "broker/udp_forward.h"

#define TAG "mapping"

static bool is_v6(const char *ip)
{
	return strchr(ip, ':') != NULL;
}

/* The address this host listens on for m, by the bind policy. */
static void listen_ip(const struct broker *b, const struct mapping *m, char *out, size_t len)
{
	if (b->cfg.mapping_bind == MAPPING_BIND_AS_GIVEN)
		snprintf(out, len, "%s", m->host_ip);
	else
		snprintf(out, len, "%s", is_v6(m->host_ip) ? "::1" : "127.0.0.1");
}

void mapping_serve_start(struct mapping_table *mt, struct mapping_group *g, struct mapping *m)
{
	struct broker *b = mt->b;
	char ip[64], url[160], connect[320], name[256], err[768];
	struct mapping_slot *slot;
	int rc;

	unsigned char raw[16];
	/* host_ip comes from the peer: only an address may become part of a listen URL. */
	if (evutil_inet_pton(AF_INET, m->host_ip, raw) != 1 && evutil_inet_pton(AF_INET6, m->host_ip, raw) != 1) {
		snprintf(m->state, sizeof(m->state), "refused: host ip '%.64s' is not an IPv4 or IPv6 address",
		         m->host_ip);
		m->listen[0] = '\0';
		log_warn(TAG, "%s/%s port %u: %s", g->source, g->owner, m->host_port, m->state);
		return;
	}
	listen_ip(b, m, ip, sizeof(ip));
	snprintf(url, sizeof(url), "%s://%s%s%s:%u", mapping_proto_name(m->proto), is_v6(ip) ? "[" : "", ip,
	         is_v6(ip) ? "]" : "", m->host_port);
	snprintf(m->listen, sizeof(m->listen), "%s", url);
	if (peer_policy_port(b->policy, m->host_port, err, sizeof(err)) < 0) {
		snprintf(m->state, sizeof(m->state), "refused: %s", err);
		m->listen[0] = '\0';
		log_info(TAG, "%s/%s %s: %s", g->source, g->owner, url, m->state);
		return;
	}
	/* One listener per address: a later mapping for it waits in line (O(1), however many there are). */
	slot = mapping_slot_get(mt, m->proto, url);
	if (!slot) {
		snprintf(m->state, sizeof(m->state), "down: out of memory");
		m->listen[0] = '\0';
		return;
	}
	if (slot->served && slot->served != m) {
		const struct mapping *other = slot->served;
		char id[80];
		snprintf(m->state, sizeof(m->state), "conflict: %s is already served for %s/%s", url, other->group->source,
		         display_short_id(id, sizeof(id), other->group->owner));
		m->listen[0] = '\0';
		mapping_slot_wait(slot, m);
		return;
	}
	snprintf(connect, sizeof(connect), "peer:%s://%s", mapping_proto_name(m->proto), m->connect[0]);
	snprintf(name, sizeof(name), "map:%s", url);
	if (m->proto == BROKER_PROTO_UDP)
		rc = udp_forward_start(b, url, m->connect[0], g->peer, &m->udp, err, sizeof(err));
	else
		rc = routes_add_internal(b->routes, name, g->peer, url, connect, &m->route, err, sizeof(err));
	if (rc < 0) {
		snprintf(m->state, sizeof(m->state), "down: %s", err);
		log_warn(TAG, "%s/%s: cannot listen: %s", g->source, g->owner, err);
		m->listen[0] = '\0';
		mapping_slot_release(mt, slot);   /* unless others wait for it (a hand-over is trying them) */
		return;
	}
	mapping_slot_hold(slot, m);
	if (m->route)
		snprintf(m->listen, sizeof(m->listen), "%s", route_listen_address(m->route));
	snprintf(m->state, sizeof(m->state), "listening on %s", m->listen);
	log_info(TAG, "%s/%s%s%s: listening on %s -> peer %s", g->source, g->owner, g->description[0] ? " " : "",
	         g->description, m->listen, m->connect[0]);
}

/* The address is free: give it to the first mapping waiting that can take it. */
static void serve_hand_over(struct mapping_table *mt, struct mapping_slot *slot)
{
	struct mapping *next;

	slot->busy++;
	while (!mt->destroying && !slot->served && (next = mapping_slot_next(slot)) != NULL) {
		char was[sizeof(next->state)];
		memcpy(was, next->state, sizeof(was));
		mapping_serve_start(mt, next->group, next);
		if (strcmp(was, next->state))
			mapping_emit(mt, next->group, next, "mapping.state");
	}
	slot->busy--;
	mapping_slot_release(mt, slot);
}

void mapping_serve_stop(struct mapping_table *mt, struct mapping *m)
{
	struct mapping_slot *slot;

	if (m->route) {
		routes_remove_internal(mt->b->routes, m->route);
		m->route = NULL;
	}
	if (m->udp) {
		udp_forward_stop(m->udp);
		m->udp = NULL;
	}
	m->listen[0] = '\0';
	slot = mapping_slot_leave(m);
	if (slot)
		serve_hand_over(mt, slot);
}

void mapping_serve_counters(const struct mapping *m, struct route_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (m->route)
		route_get_counters(m->route, out);
	else if (m->udp)
		udp_forward_counters(m->udp, out);
}

static int restore_peer(void *arg, const struct store_mapping *sm)
{
	struct mapping_table *mt = arg;
	struct mapping_group *g = group_get(mt, MAPPING_PEER, sm->source, sm->owner, sm->peer);
	struct mapping *m;
	char copy[1024], *save = NULL;

	if (!g)
		return -ENOMEM;
	if (sm->description && !g->description[0]) {
		char *d = strdup(sm->description);
		if (d) {
			free(g->description);
			g->description = d;
		}
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->connect = calloc(16, sizeof(*m->connect)))) {
		free(m);
		return -ENOMEM;
	}
	snprintf(copy, sizeof(copy), "%s", sm->connect);
	for (char *t = strtok_r(copy, " ", &save); t && m->nconnect < 16; t = strtok_r(NULL, " ", &save))
		if ((m->connect[m->nconnect] = strdup(t)))
			m->nconnect++;
	if (m->nconnect == 0) {
		mapping_free(m);
		return 0;
	}
	m->proto = sm->proto == BROKER_PROTO_UDP ? BROKER_PROTO_UDP : BROKER_PROTO_TCP;
	snprintf(m->host_ip, sizeof(m->host_ip), "%s", sm->host_ip);
	m->host_port = (uint16_t)sm->host_port;
	m->seq = ++mt->seq;
	if (mapping_peer_find(mt, g, m->proto, m->host_ip, m->host_port) || mapping_peer_add(mt, g, m) < 0) {
		mapping_free(m);   /* a duplicate row, or no memory */
		return 0;
	}
	mapping_serve_start(mt, g, m);
	return 0;
}

int mapping_serve_restore(struct mapping_table *mt)
{
	int rc = store_mapping_foreach(mt->b->store, MAPPING_PEER, restore_peer, mt);
	size_t n = mappings_count(mt, MAPPING_PEER);

	if (n) {
		log_info(TAG, "restored %zu mapping(s) from the peer's last sync; they refuse until the link is up", n);
		mappings_link_down(mt);   /* the link is not up yet: say so in their state */
	}
	return rc;
}
