/* http_conns.h - a cap on the connections an evhttp server holds open
 * (libevent 2.1 has none), shared by /metrics (http.c) and the forwarder
 * API (forwarder_api.c). */
#ifndef BROKER_HTTP_CONNS_H
#define BROKER_HTTP_CONNS_H

#include <stddef.h>

struct event_base;
struct evhttp;
struct evconnlistener;
struct http_conns;

/*
 * Count http's connections (installs its bufferevent callback): at max
 * open ones the listener stops accepting until one closes; each reads at
 * most read_high bytes ahead.  name tags the log line ("http",
 * "forwarder-api").  0 or -ENOMEM.
 */
int http_conns_new(struct event_base *base, struct evhttp *http, int max, size_t read_high, const char *name,
                   struct http_conns **out);
/* The listener to pause at the limit (once bound). */
void http_conns_set_listener(struct http_conns *c, struct evconnlistener *lev);
/* After evhttp_free: release what is left.  NULL is fine. */
void http_conns_free(struct http_conns *c);

#endif
