/* peer_report.c - peer.route_counters: the broker that listens for a route
 * its peer owns (a `peer:` listen side) reports that route's connections,
 * bytes and errors back to the owner, which shows them in route list,
 * /metrics and its event feed ("route.counters").  See link.proto.
 *
 * Sender: peer.c calls peer_report_send for every up link once per
 * PEER_REPORT_INTERVAL_MS; only routes whose counters changed since the last
 * report on that link go, at most PEER_REPORT_MAX_ROUTES per report (the
 * rest in the next).  Receiver: only the default link's peer listens for our
 * routes, so reports from any other link are ignored; each entry touches
 * only a route of ours whose listener is on the peer. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/events.h"
#include "broker/link.h"
#include "broker/log.h"
#include "broker/peer.h"
#include "broker/route.h"
#include "proto/link.pb-c.h"

#define TAG "peer"

struct report_build {
	Broker__Link__RouteCounters items[PEER_REPORT_MAX_ROUTES];
	Broker__Link__RouteCounters *ptrs[PEER_REPORT_MAX_ROUTES];
	size_t n;
};

static int collect(void *arg, const char *name, uint64_t incarnation, const struct route_counters *c)
{
	struct report_build *rb = arg;
	Broker__Link__RouteCounters *rc;

	if (rb->n >= PEER_REPORT_MAX_ROUTES)
		return -ENOSPC;
	rc = &rb->items[rb->n];
	broker__link__route_counters__init(rc);
	rc->name = (char *)name;   /* the route outlives this function */
	rc->incarnation = incarnation;
	rc->conns_total = c->conns_total;
	rc->conns_active = c->conns_active;
	rc->conns_refused = c->conns_refused;
	rc->bytes_in = c->bytes_in;
	rc->bytes_out = c->bytes_out;
	rc->errors = c->errors;
	rb->ptrs[rb->n] = rc;
	rb->n++;
	return 0;
}

static void on_report_reply(void *arg, int err, Broker__Rpc__Status status, const char *errtext, const uint8_t *body,
                            size_t len)
{
	(void)arg;
	(void)body;
	(void)len;
	/* An older peer does not know the method: it just shows no counters. */
	if (!err && status != BROKER__RPC__STATUS__OK)
		log_debug(TAG, "route counters refused by the peer: %s", errtext && *errtext ? errtext : "no reason");
}

void peer_report_send(struct broker *b, struct link *l, const char *owner)
{
	Broker__Link__RouteCountersReport msg = BROKER__LINK__ROUTE_COUNTERS_REPORT__INIT;
	struct report_build *rb = calloc(1, sizeof(*rb));
	uint8_t *buf = NULL;
	size_t len;
	int n;

	if (!rb)
		return;
	n = routes_report_changed(b->routes, owner, PEER_REPORT_MAX_ROUTES, collect, rb);
	if (n > 0) {
		msg.n_routes = rb->n;
		msg.routes = rb->ptrs;
		if (rpc_pack_message(&msg.base, &buf, &len) < 0 ||
		    link_call(l, "peer", "route_counters", buf, len, on_report_reply, NULL) < 0) {
			/* Marked reported but never sent: send them all next time. */
			routes_report_reset(b->routes, owner);
		}
	}
	free(buf);
	free(rb);
}

Broker__Rpc__Status peer_rpc_route_counters(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                            size_t *reply_len, char *err, size_t errlen)
{
	struct link *l = ctx;
	struct peer_manager *pm = link_rpc_context(l);
	struct broker *b = peer_broker(pm);
	Broker__Link__RouteCountersReport *req = broker__link__route_counters_report__unpack(NULL, len, body);
	struct link_stats st;

	*reply = NULL;
	*reply_len = 0;
	if (!req) {
		errfmt(err, errlen, -EINVAL, "route_counters body does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	link_get_stats(l, &st);
	/* Our peer: routes go to the default link's broker, and no one else may speak for them. */
	if (peer_default_link(pm) != l) {
		broker__link__route_counters_report__free_unpacked(req, NULL);
		return BROKER__RPC__STATUS__OK;
	}
	for (size_t i = 0; i < req->n_routes && i < PEER_REPORT_MAX_ROUTES; i++) {
		const Broker__Link__RouteCounters *rc = req->routes[i];
		struct route_counters c = {
			.conns_total = rc->conns_total,
			.conns_active = rc->conns_active,
			.conns_refused = rc->conns_refused,
			.bytes_in = rc->bytes_in,
			.bytes_out = rc->bytes_out,
			.errors = rc->errors,
		}, t;

		if (routes_set_peer_counters(b->routes, rc->name, rc->incarnation, &c, &t) != 1)
			continue;
		events_text(b, "route.counters",
		            "route %s: %llu connections (%llu open), %llu bytes in, %llu bytes out, %llu errors "
		            "(listener on peer %s)",
		            rc->name, (unsigned long long)t.conns_total, (unsigned long long)t.conns_active,
		            (unsigned long long)t.bytes_in, (unsigned long long)t.bytes_out,
		            (unsigned long long)t.errors, st.peer_id);
	}
	broker__link__route_counters_report__free_unpacked(req, NULL);
	return BROKER__RPC__STATUS__OK;
}
