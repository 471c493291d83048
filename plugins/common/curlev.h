/*
 * plugins/common/curlev.h - HTTP requests with libcurl's multi-socket API on
 * the plugin's libevent event_base (the pattern of curl's hiperfifo.c
 * example), for the watchers that talk to local APIs: the Docker Engine API
 * over a unix socket, a Kubernetes API server over TLS.  Compiled into each
 * plugin that uses it (add plugins/common/curlev.c to the plugin's _SOURCES
 * and $(LIBCURL_LIBS) to its LIBADD); it includes nothing from the broker
 * core.
 *
 * libcurl brings the protocol: TLS (the server checked against a CA from
 * memory, a client certificate and key from memory), unix sockets, name
 * resolution off the loop, chunked bodies.  This block adds what the
 * watchers need on top: one callback per response head, the body as it
 * arrives (a long-lived chunked stream is delivered piece by piece, never
 * buffered), limits on the head and the body, timeouts for the response and
 * for silence, and errors as a negative errno with one line of text.
 *
 *   struct curlev *cv = curlev_new(base, err, errlen);      one per plugin
 *   curlev_start(cv, &opts, &callbacks, arg, &req)          one per request
 *   ... callbacks run from the event loop ...
 *   curlev_req_free(req)      always, once done with it (also from inside
 *                             any callback, and for any other request)
 *   curlev_free(cv)           after every request was freed
 *
 * Callbacks never run from inside a curlev_* call: the transfer starts from
 * a later loop event.  For one request the order is on_response (once, for
 * the final status line and headers; 1xx heads are skipped), on_body (zero
 * or more times, with the decoded body as it arrives), then exactly one of
 * on_end (the body is complete) or on_error.  on_error can also come first
 * (no response).  A callback that returns < 0 aborts the request: no
 * further callback runs for it (not even on_error).
 */
#ifndef BROKER_PLUGINS_COMMON_CURLEV_H
#define BROKER_PLUGINS_COMMON_CURLEV_H

#include <stddef.h>

struct event_base;
struct curlev;
struct curlev_req;

/* on_error's err when the server's certificate did not verify (reason: libcurl's text). */
#define CURLEV_ETLSVERIFY (-EKEYREJECTED)

struct curlev_response {
	int status;                        /* 200 */
	const char *reason;                /* "OK" (may be "") */
	long long content_length;          /* -1: not given */
};

struct curlev_callbacks {
	/* The final status line and headers arrived.  r is valid only during the call. */
	int (*on_response)(struct curlev_req *q, const struct curlev_response *r, void *arg);
	/* A piece of the (decoded) body.  May be NULL: the body is discarded. */
	int (*on_body)(struct curlev_req *q, const char *data, size_t len, void *arg);
	/* The body is complete (also for an empty body). */
	void (*on_end)(struct curlev_req *q, void *arg);
	/*
	 * err is a negative errno (-ECONNREFUSED and the like from connect,
	 * -ETIMEDOUT, -EPROTO, -EFBIG for a limit, -ECONNRESET for a
	 * connection that ended early, CURLEV_ETLSVERIFY); reason is one line.
	 */
	void (*on_error)(struct curlev_req *q, int err, const char *reason, void *arg);
};

struct curlev_opts {
	const char *url;                   /* http://docker/containers/json, https://10.0.0.1:6443/api/v1/services */
	const char *unix_socket;           /* NULL: TCP; a leading '@': a Linux abstract socket */
	const char *const *headers;        /* NULL-terminated "Name: value" lines, or NULL */
	/* TLS (https:// only); PEM blobs in memory, NULL: none / the system's CAs */
	const void *ca_pem;
	size_t ca_len;
	const void *cert_pem;              /* client certificate (its chain may follow) */
	size_t cert_len;
	const void *key_pem;               /* its private key */
	size_t key_len;
	int insecure;                      /* 1: do not verify the server at all */
	const char *connect_to;            /* "NAME:PORT:HOST:PORT": the URL names NAME (its TLS name and
	                                      the one checked), the connection goes to HOST; NULL: none */
	/* limits; 0 picks the default */
	size_t max_header_bytes;           /* the final head; 0: 64 KiB */
	unsigned long long max_body_bytes; /* total decoded body; 0: unlimited */
	long connect_timeout_ms;           /* 0: 10 s */
	long response_timeout_ms;          /* from the start until the head; 0: 30 s; < 0: none */
	long idle_timeout_ms;              /* no body byte for this long; <= 0: none */
};

/* A client on base (curl_global_init on the first one).  NULL with err set. */
struct curlev *curlev_new(struct event_base *base, char *err, size_t errlen);

/* Free cv; every request must have been freed before. */
void curlev_free(struct curlev *cv);

/*
 * Start one GET request.  0 with *qp set, or -EINVAL (a CR or LF in a
 * header, no URL) / -ENOMEM with nothing started and no callback to come.
 */
int curlev_start(struct curlev *cv, const struct curlev_opts *opts, const struct curlev_callbacks *cb,
                 void *arg, struct curlev_req **qp);

/* Stop the request if it runs and free it; no callback runs afterwards.  NULL is fine. */
void curlev_req_free(struct curlev_req *q);

#endif
