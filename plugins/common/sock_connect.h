/*
 * plugins/common/sock_connect.h - the deferred, non-blocking connect of a
 * socket an endpoint plugin has already created (vsock, hvsock).  Compiled
 * into each plugin that uses it (add plugins/common/sock_connect.c to the
 * plugin's _SOURCES); it includes nothing from the broker core but the
 * plugin ABI header.
 *
 *   sock_connect_start(host, base, req, fd, addr, addrlen, &opts, &sc, err, errlen)
 *     -> 0: *sc is the connect's pending handle (give it to the core); the
 *           outcome is reported exactly once, always from a later loop
 *           event, through host->connected(req, desc) or
 *           host->connect_failed(req, error, reason), and sc is freed then.
 *     -> < 0: nothing was started (out of memory) and fd is closed; err says
 *           why.  Nothing is reported.
 *   sock_connect_cancel(sc)   the core cancelled: nothing is reported, the
 *                             socket is closed (sc may be NULL).
 *
 * fd must be non-blocking; it belongs to sock_connect from the call on.  The
 * connect watches writability and reads SO_ERROR; connect_timeout_ms (the
 * opts' timeout_ms, 0: none) bounds it.  Failure reasons come from the
 * plugin's own why() so each keeps its messages.
 */
#ifndef BROKER_PLUGINS_COMMON_SOCK_CONNECT_H
#define BROKER_PLUGINS_COMMON_SOCK_CONNECT_H

#include <stddef.h>

#include <event2/util.h>

struct event_base;
struct sockaddr;
struct broker_host;
struct broker_connect_req;
struct sock_connect;

/*
 * The negative errno and the reason (into reason, len bytes) for a connect
 * to where that failed with socket error e (errno; a Winsock code on
 * Windows), or, e == 0, that ran out of its timeout_ms.
 */
typedef int (*sock_connect_why_fn)(const char *where, int e, long long timeout_ms, char *reason,
                                   size_t len);

struct sock_connect_opts {
	const char *name;          /* "vsock": "cannot watch the vsock connect on the event loop" */
	const char *where;         /* the address for messages, "2:5000" */
	const char *peer;          /* the stream's peer text once connected, "vsock:2:5000" */
	unsigned flags;            /* the stream's flags, BROKER_STREAM_SOCKET */
	long long timeout_ms;      /* give up after this long; <= 0: never */
	sock_connect_why_fn why;
};

int sock_connect_start(const struct broker_host *host, struct event_base *base,
                       struct broker_connect_req *req, evutil_socket_t fd,
                       const struct sockaddr *addr, int addrlen, const struct sock_connect_opts *opts,
                       struct sock_connect **scp, char *err, size_t errlen);

void sock_connect_cancel(struct sock_connect *sc);

/* struct broker_plugin's .connect_cancel when the pending handle is a struct sock_connect. */
void sock_connect_cancel_cb(void *state, void *pending);

#endif
