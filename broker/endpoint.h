/* endpoint.h - the core's side of endpoint plugins: listen on and connect to URLs. */
#ifndef BROKER_ENDPOINT_H
#define BROKER_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include "broker/plugin.h"

struct plugin_registry;
struct listener;
struct connector;

/* desc is only valid during the call; the callee takes ownership of its fds. */
typedef void (*listener_accept_fn)(void *arg, const struct broker_stream_desc *desc);
/* Called when the plugin that served the listener is unloaded (listener is already closed). */
typedef void (*listener_lost_fn)(void *arg, const char *why);
/* count clients reached the listener but never became streams (reason: one line). */
typedef void (*listener_dropped_fn)(void *arg, unsigned count, const char *reason);
/* err == 0: desc is a connected stream (callee owns it); else reason says why. */
typedef void (*connector_done_fn)(void *arg, int err, const char *reason,
                                  const struct broker_stream_desc *desc);

/*
 * Listen on url through the plugin serving its scheme.  Errors:
 * -EPROTONOSUPPORT "no plugin serves scheme 'foo' (loaded: unix, tcp)", or
 * whatever the plugin says ("address already in use").
 */
int endpoint_listen(struct plugin_registry *reg, const char *url, listener_accept_fn on_accept,
                    listener_lost_fn on_lost, void *arg, struct listener **out, char *err, size_t errlen);
void listener_close(struct listener *l);
/*
 * Check what can be checked of url without opening anything: it parses, a
 * loaded plugin serves its scheme and can listen (or connect).  A peer: URL
 * is the peer's to check.  For --check-config.
 */
int endpoint_check(struct plugin_registry *reg, const char *url, bool listen, char *err, size_t errlen);
/* Who hears of dropped clients (host->accept_dropped); unset: they are logged here. */
void listener_set_on_dropped(struct listener *l, listener_dropped_fn fn);
/* Effective address (port 0 resolved), or the URL as given. */
const char *listener_address(const struct listener *l);

/* Connect to url; done is called exactly once, later, unless connector_cancel runs first. */
int endpoint_connect(struct plugin_registry *reg, const char *url, connector_done_fn done, void *arg,
                     struct connector **out, char *err, size_t errlen);
void connector_cancel(struct connector *c);

/* Close a stream's descriptors that nobody will relay, and run its on_close. */
void stream_desc_discard(const struct broker_stream_desc *desc);

/* The host-table entries plugins call (struct broker_host.accepted ...). */
void endpoint_host_accepted(struct broker_accept_sink *sink, const struct broker_stream_desc *desc);
void endpoint_host_connected(struct broker_connect_req *req, const struct broker_stream_desc *desc);
void endpoint_host_connect_failed(struct broker_connect_req *req, int error, const char *reason);
void endpoint_host_accept_dropped(struct broker_accept_sink *sink, unsigned count, const char *reason);

#endif
