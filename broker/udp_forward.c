/* udp_forward.c - UDP for peer mappings.  One socket per mapping on this
 * host; each client address is a flow, carried on the link as a datagram
 * stream to the guest address.  Flows end after UDP_FLOW_IDLE_MS without
 * traffic, and at most UDP_MAX_FLOWS live at once (the least recently used
 * goes first), so a scan of source ports cannot exhaust the broker. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/platform.h"
#include "broker/platform_net.h"
#include "broker/link.h"
#include "broker/log.h"
#include "broker/peer.h"
#include "broker/platform.h"
#include "broker/relay.h"
#include "broker/udp_forward.h"
#include "broker/url.h"

#define TAG "udp"

struct udp_flow {
	struct relay_end base;        /* first */
	struct udp_forward *u;        /* NULL once the forwarder is gone */
	struct udp_flow *next, *prev; /* most recently used first */
	struct sockaddr_storage addr;
	ev_socklen_t alen;
	struct relay *relay;
	uint64_t last_us;
};

struct udp_forward {
	struct broker *b;
	evutil_socket_t fd;
	struct event *rev;
	struct event *sweep;
	char *target;                 /* "udp://HOST:PORT" on the peer */
	char *owner;
	char *name;
	struct udp_flow *flows;
	size_t nflows;
	struct route_counters counters;
	uint64_t dropped;
};

static uint64_t now_us(void)
{
	struct timeval tv;

	evutil_gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void flow_unlink(struct udp_flow *f)
{
	struct udp_forward *u = f->u;

	if (!u)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		u->flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	u->nflows--;
	u->counters.conns_active--;
	f->u = NULL;
}

static void flow_touch(struct udp_flow *f)
{
	struct udp_forward *u = f->u;

	f->last_us = now_us();
	if (!u || u->flows == f)
		return;
	/* Move to the front: the tail is the least recently used. */
	if (f->prev)
		f->prev->next = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = NULL;
	f->next = u->flows;
	if (u->flows)
		u->flows->prev = f;
	u->flows = f;
}

/* ---- the flow as a relay end: input comes from the shared socket, output goes back with sendto ---- */

static void flow_set_reading(struct relay_end *e, bool on)
{
	/* Datagrams that arrive while the link is backed up are dropped (counted), as UDP may. */
}

static ssize_t flow_send(void *arg, const uint8_t *data, size_t len)
{
	struct udp_flow *f = arg;

	if (f->u)
		sendto(f->u->fd, (const void *)data, len, 0, (struct sockaddr *)&f->addr, f->alen);
	return (ssize_t)len;   /* a datagram the socket refuses is lost, as UDP may */
}

static void flow_kick(struct relay_end *e)
{
	struct udp_flow *f = (struct udp_flow *)e;

	relay_dgram_send(e->out, flow_send, f);
	flow_touch(f);
	relay_end_drained(e);
}

static void flow_shutdown_write(struct relay_end *e)
{
}

static void flow_destroy(struct relay_end *e, bool abort)
{
	struct udp_flow *f = (struct udp_flow *)e;

	flow_unlink(f);
	evbuffer_free(e->out);
	free(f);
}

static const struct relay_end_ops flow_ops = {
	.set_reading = flow_set_reading,
	.kick = flow_kick,
	.shutdown_write = flow_shutdown_write,
	.destroy = flow_destroy,
};

static void flow_done(void *arg, struct relay *r, bool aborted)
{
}

static struct udp_flow *flow_find(struct udp_forward *u, const struct sockaddr_storage *ss, ev_socklen_t len)
{
	for (struct udp_flow *f = u->flows; f; f = f->next)
		if (f->alen == len && !memcmp(&f->addr, ss, (size_t)len))
			return f;
	return NULL;
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "udp:[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		evutil_inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "udp:%s:%u", ip, ntohs(s4->sin_port));
	}
}

static struct udp_flow *flow_open(struct udp_forward *u, const struct sockaddr_storage *ss, ev_socklen_t len)
{
	struct link *l = peer_link_for(u->b->peer, u->owner);
	struct udp_flow *f;
	char client[80], err[256];

	if (!l)
		return NULL;   /* refuse while the link is down: the datagram is dropped */
	if (u->nflows >= UDP_MAX_FLOWS) {
		struct udp_flow *lru = u->flows;
		while (lru && lru->next)
			lru = lru->next;
		if (lru && lru->relay) {
			log_debug(TAG, "%s: %zu flows open; closing the least recently used", u->name, u->nflows);
			relay_abort(lru->relay);
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->base.out = evbuffer_new())) {
		free(f);
		return NULL;
	}
	f->base.ops = &flow_ops;
	f->u = u;
	memcpy(&f->addr, ss, (size_t)len);
	f->alen = len;
	f->last_us = now_us();
	f->next = u->flows;
	if (u->flows)
		u->flows->prev = f;
	u->flows = f;
	u->nflows++;
	u->counters.conns_total++;
	u->counters.conns_active++;
	sockaddr_text(ss, client, sizeof(client));
	if (link_open_stream_end(l, u->target, u->name, 0, client, &f->base, true, &u->counters, flow_done, f, &f->relay, err,
	                         sizeof(err)) < 0) {
		/* The end was destroyed (and unlinked) by the failed open. */
		u->counters.errors++;
		log_warn(TAG, "%s: %s", u->name, err);
		return NULL;
	}
	return f;
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
	struct udp_forward *u = arg;

	for (int i = 0; i < 32; i++) {
		uint8_t buf[RELAY_DGRAM_MAX + RELAY_DGRAM_HEADER];
		struct sockaddr_storage ss;
		ev_socklen_t len = sizeof(ss);
		ssize_t n = recvfrom(fd, (void *)(buf + RELAY_DGRAM_HEADER), RELAY_DGRAM_MAX, 0, (struct sockaddr *)&ss, &len);
		struct udp_flow *f;

		if (n < 0)
			return;
		f = flow_find(u, &ss, len);
		if (!f)
			f = flow_open(u, &ss, len);
		if (!f || !f->relay || !f->base.reading) {
			u->dropped++;
			continue;
		}
		buf[0] = (uint8_t)(n >> 8);
		buf[1] = (uint8_t)n;
		relay_hold(f->relay);
		evbuffer_add(relay_end_sink(&f->base), buf, (size_t)n + RELAY_DGRAM_HEADER);
		flow_touch(f);
		relay_end_input(&f->base, (size_t)n + RELAY_DGRAM_HEADER);
		relay_release(f->relay);
	}
}

/* Close idle flows; the RST tells the guest to close its socket too. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct udp_forward *u = arg;
	uint64_t limit = now_us() - (uint64_t)UDP_FLOW_IDLE_MS * 1000u;

	for (struct udp_flow *f = u->flows, *next; f; f = next) {
		next = f->next;
		if (f->last_us < limit && f->relay)
			relay_abort(f->relay);
	}
}

int udp_forward_start(struct broker *b, const char *listen, const char *target, const char *owner,
                      struct udp_forward **out, char *err, size_t errlen)
{
	struct udp_forward *u;
	struct url url;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	char host[128];
	unsigned port;
	int one = 1, rc;
	struct timeval tv = { 1, 0 };

	rc = url_parse(listen, &url, err, errlen);
	if (rc < 0)
		return rc;
	rc = url_split_host_port(url.pub.address, "127.0.0.1", host, sizeof(host), &port, err, errlen);
	url_free(&url);
	if (rc < 0)
		return rc;
	char hp[160];
	snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sl) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: not a numeric address", listen);
	u = calloc(1, sizeof(*u));
	if (!u)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	u->b = b;
	u->fd = socket(ss.ss_family, SOCK_DGRAM, IPPROTO_UDP);
	if (u->fd == (evutil_socket_t)EVUTIL_INVALID_SOCKET) {
		int e = platform_errno();
		rc = errfmt(err, errlen, -e, "%s: %s", listen, strerror(e));
		free(u);
		return rc;
	}
	evutil_make_socket_nonblocking(u->fd);
	evutil_make_socket_closeonexec(u->fd);
	if (ss.ss_family == AF_INET6)
		setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, (const void *)&one, sizeof(one));
	if (bind(u->fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0) {
		int e = platform_errno();
		rc = errfmt(err, errlen, -e, "%s: %s%s", listen, strerror(e),
		            e == EADDRINUSE ? " (another program holds this UDP port)" : "");
		evutil_closesocket(u->fd);
		free(u);
		return rc;
	}
	u->target = malloc(strlen(target) + 8);
	u->owner = strdup(owner ? owner : "");
	u->name = strdup(listen);
	u->rev = event_new(b->base, u->fd, EV_READ | EV_PERSIST, on_datagram, u);
	u->sweep = event_new(b->base, -1, EV_PERSIST, on_sweep, u);
	if (!u->target || !u->owner || !u->name || !u->rev || !u->sweep) {
		udp_forward_stop(u);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	sprintf(u->target, "udp://%s", target);
	event_add(u->rev, NULL);
	event_add(u->sweep, &tv);
	*out = u;
	return 0;
}

void udp_forward_stop(struct udp_forward *u)
{
	if (!u)
		return;
	while (u->flows) {
		struct udp_flow *f = u->flows;
		if (f->relay) {
			relay_abort(f->relay);   /* destroys f, which unlinks it */
			if (u->flows == f)
				flow_unlink(f);   /* a relay busy further up the stack frees it later */
		} else {
			flow_unlink(f);
		}
	}
	if (u->rev)
		event_free(u->rev);
	if (u->sweep)
		event_free(u->sweep);
	if (u->fd >= 0)
		evutil_closesocket(u->fd);
	free(u->target);
	free(u->owner);
	free(u->name);
	free(u);
}

void udp_forward_counters(const struct udp_forward *u, struct route_counters *out)
{
	*out = u->counters;
}
