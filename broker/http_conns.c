/* http_conns.c - the connection cap of an evhttp server (see http_conns.h). */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "broker/http_conns.h"
#include "broker/log.h"

/*
 * Open connections.  libevent 2.1 has no connection limit and tells no one
 * when a server connection goes, so: each connection's bufferevent is made
 * here (evhttp_set_bevcb) and we keep a reference to it; evhttp_connection_free
 * calls bufferevent_free, which clears its callbacks, and a sweep (at every
 * new connection, once a second, ten times a second while clients wait)
 * finds those, closes them for good and
 * counts them out.  Until then a freed one reads at most its high-water
 * mark.  At the limit the listener stops accepting (further clients wait in
 * the kernel's queue) and resumes when one closes.
 */
struct http_conn {
	struct http_conn *next;
	struct bufferevent *bev;
};

struct http_conns {
	int n, max;
	size_t read_high;             /* headers + body + slack: evhttp reads a body whole */
	bool paused;
	time_t logged;                /* the limit is logged at most once a minute */
	uint64_t pauses;
	struct evconnlistener *lev;
	struct http_conn *list;
	struct event *sweep;
	const char *name;             /* log tag */
};


/* Count out the connections evhttp has freed; resume accepting below the limit. */
static void conns_sweep(struct http_conns *c)
{
	for (struct http_conn **pp = &c->list; *pp;) {
		struct http_conn *hc = *pp;
		bufferevent_data_cb r, w;
		bufferevent_event_cb e;
		void *arg;

		bufferevent_getcb(hc->bev, &r, &w, &e, &arg);
		if (r || w || e) {
			pp = &hc->next;
			continue;
		}
		*pp = hc->next;
		bufferevent_disable(hc->bev, EV_READ | EV_WRITE);
		bufferevent_decref(hc->bev);   /* the last reference: closes the socket */
		free(hc);
		c->n--;
	}
	if (c->paused && c->n < c->max) {
		struct timeval second = { 1, 0 };
		c->paused = false;
		evconnlistener_enable(c->lev);
		event_add(c->sweep, &second);
	}
	if (!c->list)
		event_del(c->sweep);
}

static void conns_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	conns_sweep(arg);
}

static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
	struct http_conns *c = arg;
	struct http_conn *hc;
	struct timeval second = { 1, 0 };

	conns_sweep(c);
	hc = calloc(1, sizeof(*hc));
	if (!hc || !(hc->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE))) {
		free(hc);
		return NULL;   /* evhttp makes its own, uncounted: only when out of memory */
	}
	bufferevent_incref(hc->bev);
	bufferevent_setwatermark(hc->bev, EV_READ, 0, c->read_high);
	hc->next = c->list;
	c->list = hc;
	c->n++;
	if (!evtimer_pending(c->sweep, NULL))
		event_add(c->sweep, &second);
	if (c->n >= c->max && !c->paused) {
		/* Look often while clients wait: they get in as soon as a slot frees. */
		struct timeval soon = { 0, 100 * 1000 };
		c->paused = true;
		evconnlistener_disable(c->lev);
		event_add(c->sweep, &soon);
		c->pauses++;
		if (time(NULL) - c->logged >= 60) {
			c->logged = time(NULL);
			log_warn(c->name, "%d connections open (limit, --http-max-connections): not accepting more until one "
			              "closes (%llu time(s) so far)",
			         c->max, (unsigned long long)c->pauses);
		}
	}
	return hc->bev;
}

void http_conns_free(struct http_conns *c)
{
	if (!c)
		return;
	/* evhttp_free freed every connection: all of them are swept now. */
	c->paused = false;
	conns_sweep(c);
	if (c->sweep)
		event_free(c->sweep);
	free(c);
}

int http_conns_new(struct event_base *base, struct evhttp *http, int max, size_t read_high, const char *name,
                   struct http_conns **out)
{
	struct http_conns *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || !(c->sweep = event_new(base, -1, EV_PERSIST, conns_sweep_cb, c))) {
		free(c);
		return -ENOMEM;
	}
	c->max = max;
	c->read_high = read_high;
	c->name = name;
	evhttp_set_bevcb(http, conn_new, c);
	*out = c;
	return 0;
}

void http_conns_set_listener(struct http_conns *c, struct evconnlistener *lev)
{
	c->lev = lev;
}
