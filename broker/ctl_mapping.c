/* ctl_mapping.c - the control service's mapping methods: list, add (a
 * mapping by hand: exported, so the peer listens and forwards here), remove. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/ctl_internal.h"
#include "broker/display.h"
#include "broker/errfmt.h"
#include "broker/events.h"
#include "broker/mapping.h"
#include "broker/route.h"
#include "broker/url.h"
#include "proto/control.pb-c.h"

#define OK BROKER__RPC__STATUS__OK

struct mapping_collect {
	Broker__Control__MappingInfo **items;
	size_t n, cap;
};

static int mapping_collect_cb(void *arg, const struct mapping_info *mi)
{
	struct mapping_collect *mc = arg;
	Broker__Control__MappingInfo *m;

	if (mc->n == mc->cap) {
		size_t cap = mc->cap ? mc->cap * 2 : 32;
		Broker__Control__MappingInfo **ni = realloc(mc->items, cap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		mc->items = ni;
		mc->cap = cap;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	mc->items[mc->n++] = m;
	mapping_info_msg(mi, m);
	return 0;
}

Broker__Rpc__Status ctl_mapping_list(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                          size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	struct mapping_collect mc = { 0 };
	Broker__Control__MappingListReply rep = BROKER__CONTROL__MAPPING_LIST_REPLY__INIT;
	Broker__Rpc__Status st;
	int rc = mappings_foreach(b->mappings, mapping_collect_cb, &mc);

	if (rc < 0) {
		st = ctl_fail(rc, err, errlen, "mapping list");
	} else {
		rep.n_mappings = mc.n;
		rep.mappings = mc.items;
		rep.generation = mappings_generation(b->mappings);
		st = ctl_pack_reply(&rep.base, reply, reply_len, err, errlen);
	}
	for (size_t i = 0; i < mc.n; i++)
		free(mc.items[i]);   /* strings are borrowed from the table */
	free(mc.items);
	return st;
}

/* Is port served here, on a loopback or wildcard address, for the peer (its mapping or its route)? */
struct served_here {
	enum broker_proto proto;
	unsigned port;
	char what[200];
};

static bool listen_url_port(const char *url, unsigned *port, char *host, size_t hostlen)
{
	struct url u;
	bool ok;

	if (!url || !*url || url_parse(url, &u, NULL, 0) < 0)
		return false;
	ok = url_split_host_port(u.pub.address, "127.0.0.1", host, hostlen, port, NULL, 0) == 0;
	url_free(&u);
	return ok;
}

static bool local_host(const char *h)
{
	return !strcmp(h, "127.0.0.1") || !strcmp(h, "::1") || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") ||
	       !strcmp(h, "localhost");
}

static int find_peer_mapping(void *arg, const struct mapping_info *mi)
{
	struct served_here *sh = arg;
	char host[128], id[80];
	unsigned port;

	if (mi->origin != MAPPING_PEER || mi->proto != sh->proto || !listen_url_port(mi->listen, &port, host, sizeof(host)) ||
	    port != sh->port)
		return 0;
	snprintf(sh->what, sizeof(sh->what), "the peer's mapping %s/%s", mi->source,
	         display_short_id(id, sizeof(id), mi->owner));
	return 1;
}

static int find_peer_route(void *arg, const struct route_info *ri)
{
	struct served_here *sh = arg;
	char host[128];
	unsigned port;

	if (!ri->owner || sh->proto != BROKER_PROTO_TCP ||
	    !listen_url_port(ri->listen_address, &port, host, sizeof(host)) || port != sh->port)
		return 0;
	snprintf(sh->what, sizeof(sh->what), "the peer's route %s", ri->name);
	return 1;
}

/*
 * A manual mapping is exported: the peer listens on its port and forwards
 * each connection through the link to the connect addresses, connected from
 * here.  Refuse what cannot work: no link to export it over, or a connect
 * address that is itself a listener this broker serves for the peer, which
 * would send every connection back to the peer and round again.
 */
static int check_direction(struct broker *b, const struct broker_mapping *m, char *err, size_t errlen)
{
	const struct broker_config *cfg = &b->cfg;

	if (!cfg->n_link_listen && !cfg->n_link_connect && !cfg->link_stdio)
		return errfmt(err, errlen, -ENOTCONN,
		              "a mapping is served by the peer broker (it listens on port %u and forwards here), but no link "
		              "to a peer broker is configured (start brokerd with --link-connect URL, --link-listen URL or "
		              "--link-stdio)",
		              m->host_port);
	for (size_t i = 0; i < m->nconnect; i++) {
		struct served_here sh = { .proto = m->proto };
		char host[256];

		if (url_split_host_port(m->connect[i], NULL, host, sizeof(host), &sh.port, NULL, 0) < 0 || !local_host(host))
			continue;
		if (mappings_foreach(b->mappings, find_peer_mapping, &sh) || routes_foreach(b->routes, find_peer_route, &sh))
			return errfmt(err, errlen, -ELOOP,
			              "%s is where this broker serves %s: the peer would forward port %u back to itself (run "
			              "mapping add on the side where the service runs, with its address there)",
			              m->connect[i], sh.what, m->host_port);
	}
	return 0;
}

Broker__Rpc__Status ctl_mapping_add(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__MappingAddRequest *req = broker__control__mapping_add_request__unpack(NULL, len, body);
	struct broker_mapping m = { 0 };
	char owner[300];
	int rc;

	if (!req)
		return ctl_bad_body(err, errlen, "MappingAddRequest");
	if (mapping_proto_parse(req->proto[0] ? req->proto : "tcp", &m.proto) < 0) {
		snprintf(err, errlen, "unknown protocol '%s' (use tcp or udp)", req->proto);
		broker__control__mapping_add_request__free_unpacked(req, NULL);
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	if (req->host_port == 0 || req->host_port > 65535) {
		snprintf(err, errlen, "port %u is not 1..65535", req->host_port);
		broker__control__mapping_add_request__free_unpacked(req, NULL);
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	m.host_ip = req->host_ip;
	m.host_port = (uint16_t)req->host_port;
	m.nconnect = req->n_connect;
	m.connect = (const char *const *)req->connect;
	if (req->owner[0])
		snprintf(owner, sizeof(owner), "%s", req->owner);
	else
		snprintf(owner, sizeof(owner), "%s-%u", mapping_proto_name(m.proto), m.host_port);
	if ((rc = check_direction(b, &m, err, errlen)) < 0) {
		broker__control__mapping_add_request__free_unpacked(req, NULL);
		return ctl_fail(rc, err, errlen, "mapping add");
	}
	rc = mappings_set(b->mappings, "manual", owner, req->description, &m, 1, err, errlen);
	broker__control__mapping_add_request__free_unpacked(req, NULL);
	return rc < 0 ? ctl_fail(rc, err, errlen, "mapping add") : OK;
}

Broker__Rpc__Status ctl_mapping_remove(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                            size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__MappingRemoveRequest *req = broker__control__mapping_remove_request__unpack(NULL, len, body);
	int rc;

	if (!req)
		return ctl_bad_body(err, errlen, "MappingRemoveRequest");
	rc = mappings_remove_owner(b->mappings, "manual", req->owner);
	if (rc == -ENOENT)
		snprintf(err, errlen, "no manual mapping with owner '%s' (watchers' mappings go when their source does)",
		         req->owner);
	broker__control__mapping_remove_request__free_unpacked(req, NULL);
	return rc < 0 ? ctl_fail(rc, err, errlen, "mapping rm") : OK;
}

