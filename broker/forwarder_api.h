/* forwarder_api.h - gvisor-tap-vsock's (gvproxy's) port-forwarder HTTP API,
 * served by the host broker (--forwarder-api URL):
 *
 *   POST /services/forwarder/expose    {"local","remote","protocol"}
 *   POST /services/forwarder/unexpose  {"local","protocol"}
 *   GET  /services/forwarder/all       [{"local","remote","protocol"}, ...]
 *
 * An expose is a stored route "fwd-PROTOCOL-LOCAL" from local here to
 * peer: + remote, the same as `brokerctl route add`; what was asked is kept
 * beside it (the store's key-value area) so `all` answers with the request's
 * own strings.  200 on success, 400 for a request that cannot be right, 500
 * when it cannot be done now; error bodies are one plain-text line, as
 * gvproxy's http.Error writes them.  forwarder_api.c serves it;
 * forwarder_api_map.c turns a request into a route (no I/O). */
#ifndef BROKER_FORWARDER_API_H
#define BROKER_FORWARDER_API_H

#include <stddef.h>

struct broker;
struct forwarder_api;

/* Is url a place the API may listen: unix:///ABSOLUTE/PATH or tcp://LOOPBACK:PORT?  0 or -EINVAL with why. */
int forwarder_api_url_check(const char *url, char *why, size_t whylen);

/* Listen on url (checked as above).  0 or -errno with err. */
int forwarder_api_start(struct broker *b, const char *url, struct forwarder_api **out, char *err, size_t errlen);
/* Close the listener (and remove the socket file); run after the links are gone.  NULL is fine. */
void forwarder_api_stop(struct forwarder_api *fa);

/* ---- forwarder_api_map.c: requests to routes (pure; unit tests call these) ---- */

#define FWD_NAME_MAX 65
#define FWD_URL_MAX 1100
#define FWD_FIELD_MAX 512      /* longest local or remote accepted */

/* The route a request becomes. */
struct fwd_route {
	char name[FWD_NAME_MAX];       /* fwd-tcp-127.0.0.1_8080 */
	char listen[FWD_URL_MAX];      /* tcp://127.0.0.1:8080 */
	char connect[FWD_URL_MAX];     /* peer:tcp://127.0.0.1:80 */
};

/* "tcp", "udp", "unix", "npipe" (NULL or "" mean tcp, as in gvproxy); NULL if unknown. */
const char *fwd_protocol(const char *protocol);

/* The route name for (protocol, local): deterministic, [A-Za-z0-9._-], at most 64 characters. */
void fwd_route_name(const char *protocol, const char *local, char name[FWD_NAME_MAX]);

/*
 * Translate an expose.  protocol is fwd_protocol's.  0: out is filled;
 * otherwise the HTTP status to answer (400: the request is wrong; 500: it
 * is well formed but cannot be served, e.g. udp) with why.  A local
 * without a host (":8080") listens on every address, as Go's net.Listen
 * does for gvproxy; a remote without a host is refused (gvproxy fills in
 * the caller's address, which a Unix socket client has none of).
 */
int fwd_translate(const char *protocol, const char *local, const char *remote, struct fwd_route *out, char *why,
                  size_t whylen);

#endif
