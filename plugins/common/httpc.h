/*
 * plugins/common/httpc.h - a small HTTP/1.1 client on libevent, for watcher
 * plugins that talk to local APIs (the Docker Engine API over a unix socket,
 * a Kubernetes API server over TCP).  Compiled into each plugin that uses it
 * (add plugins/common/httpc.c to the plugin's _SOURCES); it includes nothing
 * from the broker core.
 *
 * One struct httpc is one connection carrying one request ("Connection:
 * close"); make a new one per request.  Usage:
 *
 *   struct httpc *c = httpc_new(base, &callbacks, arg, &opts);
 *   httpc_connect_unix(c, "/var/run/docker.sock");   (or httpc_connect_tcp,
 *                                                    or httpc_attach a bev)
 *   httpc_request(c, "GET", "/containers/json", NULL, NULL, 0);
 *   ... callbacks run from the event loop ...
 *   httpc_free(c);        (allowed from inside any callback)
 *
 * Callbacks never run from inside an httpc_* call: a connect that fails at
 * once is reported from the loop.  For one request the order is
 * on_response (once, after the status line and headers), on_body (zero or
 * more times, with the decoded body as it arrives: chunked framing is
 * removed, nothing is buffered beyond one read), then exactly one of on_end
 * (the body is complete) or on_error.  on_error can also come first (no
 * response).  After on_end or on_error no callback runs again.  A callback
 * that returns < 0 aborts the request: no further callback runs (not even
 * on_error) and the connection is closed.
 *
 * Responses accepted: HTTP/1.0 and 1.1; 1xx interim responses are skipped;
 * the body is framed by Transfer-Encoding: chunked (with trailers),
 * Content-Length, or the end of the connection; HEAD, 204 and 304 have none.
 * Limits (httpc_opts): header block size, total body size, chunk-size line;
 * exceeding one is an error (-EFBIG / -EPROTO) with a reason.
 *
 * TLS: httpc_attach() takes any bufferevent that is connected or connecting,
 * e.g. one from bufferevent_openssl_socket_new(); httpc itself never links
 * against a TLS library.
 */
#ifndef BROKER_PLUGINS_COMMON_HTTPC_H
#define BROKER_PLUGINS_COMMON_HTTPC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bufferevent;
struct evdns_base;
struct httpc;

struct httpc_header {
	const char *name;   /* as received; compare with strcasecmp */
	const char *value;  /* leading and trailing blanks removed */
};

struct httpc_response {
	int status;                        /* 200 */
	int minor_version;                 /* 1 for HTTP/1.1 */
	const char *reason;                /* "OK" */
	size_t nheaders;
	const struct httpc_header *headers;
	int chunked;                       /* Transfer-Encoding: chunked */
	long long content_length;          /* -1: not given (or chunked) */
};

struct httpc_callbacks {
	/* Status line and headers received.  Valid only during the call. */
	int (*on_response)(struct httpc *c, const struct httpc_response *r, void *arg);
	/* A piece of the (decoded) body.  May be NULL: the body is discarded. */
	int (*on_body)(struct httpc *c, const char *data, size_t len, void *arg);
	/* The body is complete (also for an empty body). */
	void (*on_end)(struct httpc *c, void *arg);
	/* err is a negative errno (-ECONNREFUSED, -ETIMEDOUT, -EPROTO, -EFBIG,
	 * -ECONNRESET for a connection that ended early); reason is one line. */
	void (*on_error)(struct httpc *c, int err, const char *reason, void *arg);
};

struct httpc_opts {
	size_t max_header_bytes;   /* status line + headers; 0: 64 KiB */
	unsigned long long max_body_bytes; /* total decoded body; 0: unlimited */
	long connect_timeout_ms;   /* until connected; 0: 10 s; < 0: none */
	long response_timeout_ms;  /* from the request until the headers; 0: 30 s; < 0: none */
	long idle_timeout_ms;      /* no byte received for this long while in the body; <= 0: none */
	struct evdns_base *dns;    /* for httpc_connect_tcp to a name; NULL: numeric hosts only */
};

/* A client on base; opts may be NULL (defaults).  NULL when out of memory. */
struct httpc *httpc_new(struct event_base *base, const struct httpc_callbacks *cb, void *arg,
                        const struct httpc_opts *opts);

/*
 * Connect to a unix socket path (Linux: a leading '@' names an abstract
 * socket), to host:port (a numeric IPv4/IPv6 address, or a name when
 * opts->dns is set), or take over bev (connected or connecting; httpc frees
 * it).  Returns 0 or -errno for bad arguments (-ENAMETOOLONG, -EINVAL,
 * -EALREADY); a failure to connect is reported later through on_error.
 */
int httpc_connect_unix(struct httpc *c, const char *path);
int httpc_connect_tcp(struct httpc *c, const char *host, uint16_t port);
int httpc_attach(struct httpc *c, struct bufferevent *bev);

/*
 * Send one request.  host_header: the Host value (NULL: "localhost").
 * extra_headers: NULL-terminated "Name: value" strings (NULL: none); httpc
 * adds Host, Connection: close, and Content-Length when body != NULL.
 * The request is queued at once (before the connection is up).  Returns 0 or
 * -EINVAL (a CR or LF in a header or the target), -EALREADY, -ENOMEM.
 */
int httpc_request(struct httpc *c, const char *method, const char *target, const char *host_header,
                  const char *const *extra_headers, const void *body, size_t bodylen);

/* Value of the first header named name (case-insensitive), or NULL. */
const char *httpc_header(const struct httpc_response *r, const char *name);

/* Close the connection and free everything; no callback runs afterwards.
 * Safe from inside a callback of c and with NULL. */
void httpc_free(struct httpc *c);

#endif /* BROKER_PLUGINS_COMMON_HTTPC_H */
