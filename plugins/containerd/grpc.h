/*
 * plugins/containerd/grpc.h - a small gRPC client: HTTP/2 (nghttp2) over a
 * unix socket on a libevent loop, unary and server-streaming calls, gRPC's
 * length-prefixed message framing, no compression, no TLS.
 *
 * Ownership: the caller owns the connection (gc_conn_free).  A call lives
 * until its on_done ran (exactly once) or the caller cancelled it; after
 * either, the call pointer must not be used.  on_close reports that the
 * connection died; no call callback runs after it, and the caller then frees
 * the connection.  Every callback may free the connection (it is released
 * once the callback returns).
 */
#ifndef BROKER_PLUGINS_CONTAINERD_GRPC_H
#define BROKER_PLUGINS_CONTAINERD_GRPC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct gc_conn;
struct gc_call;

/* Status codes produced locally (the rest come from the server's grpc-status). */
#define GC_STATUS_CANCELLED 1
#define GC_STATUS_UNKNOWN 2
#define GC_STATUS_DEADLINE_EXCEEDED 4
#define GC_STATUS_RESOURCE_EXHAUSTED 8
#define GC_STATUS_INTERNAL 13
#define GC_STATUS_UNAVAILABLE 14

struct gc_conn_callbacks {
	void (*on_close)(struct gc_conn *c, int err, const char *reason, void *arg);
};

struct gc_call_callbacks {
	/* One complete response message; return -1 to cancel the call (on_done still runs). */
	int (*on_message)(struct gc_call *call, const uint8_t *msg, size_t len, void *arg);
	/* The call ended: status 0 is OK; message is the server's grpc-message or a local reason. */
	void (*on_done)(struct gc_call *call, int status, const char *message, void *arg);
};

/* Start connecting to the unix socket at path; 0 or -errno (reason in err). */
int gc_conn_new(struct event_base *base, const char *path, const struct gc_conn_callbacks *cb, void *arg,
                struct gc_conn **out, char *err, size_t errlen);
void gc_conn_free(struct gc_conn *c);

/*
 * Start a call: POST path (/package.Service/Method) with one request message,
 * the containerd-namespace header when ns is not NULL, responses up to
 * max_msg bytes each (larger: the call ends with RESOURCE_EXHAUSTED), and a
 * deadline of timeout_ms (0: none, for streams).  0 or -errno.
 */
int gc_call_start(struct gc_conn *c, const char *path, const char *ns, const uint8_t *msg, size_t len,
                  size_t max_msg, long timeout_ms, const struct gc_call_callbacks *cb, void *arg,
                  struct gc_call **out);
/* Cancel a call: no callback of it runs any more. */
void gc_call_cancel(struct gc_call *call);

#endif /* BROKER_PLUGINS_CONTAINERD_GRPC_H */
