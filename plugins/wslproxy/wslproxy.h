/*
 * plugins/wslproxy/wslproxy.h - internal interface between the wslproxy
 * watcher's socket side (wslproxy.c) and its parsing of Rancher Desktop's
 * PortMapping objects (wp_parse.c, pure: no sockets, no broker core).
 *
 * The object, as Rancher Desktop's guest agent encodes it (one per
 * connection, then it closes; no reply is read):
 *   {"remove":false,
 *    "ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},
 *    "connectAddrs":[{"network":"tcp","addr":"10.4.0.5:80"}]}
 * See README.md for what each field means here.
 */
#ifndef BROKER_PLUGINS_WSLPROXY_H
#define BROKER_PLUGINS_WSLPROXY_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"
#include "plugins/common/portmap.h"

#define WP_BINDINGS_MAX 1024        /* bindings one object may carry */
#define WP_UPSTREAM_DEFAULT "192.168.143.1"   /* wsl-proxy's -upstreamAddress default */

/* What one PortMapping object asks for. */
struct wp_request {
	int remove;                     /* "remove": true */
	size_t n;
	struct portmap_binding *b;      /* malloc'd (free with wp_request_free) */
	size_t nskipped;                /* bindings refused and logged (bad port, address, protocol) */
};

/* Logging callback the parser uses to explain what it skipped. */
typedef void (*wp_log_fn)(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Parse one PortMapping object (doc, len bytes; what follows the first JSON
 * value is ignored, as Go's json.Decoder does).  upstream is the address a
 * binding connects to when connectAddrs has nothing for its protocol
 * (upstream:HostPort, as wsl-proxy forwards).  Bindings with a bad port,
 * address or protocol are skipped and logged through log; the rest apply.
 * Returns 0 (r filled, r->n may be 0), -EAGAIN (the value is incomplete:
 * read more), or -EBADMSG with the reason in err (not JSON, not an object,
 * a field of the wrong type, too many bindings): nothing of it applies.
 */
int wp_parse(const char *doc, size_t len, const char *upstream, struct wp_request *r, wp_log_fn log,
             void *log_arg, char *err, size_t errlen);

void wp_request_free(struct wp_request *r);

/* The owner a binding is reported under: "tcp/8080". */
void wp_owner(const struct portmap_binding *b, char *buf, size_t len);

#endif /* BROKER_PLUGINS_WSLPROXY_H */
