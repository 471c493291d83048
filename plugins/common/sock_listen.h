/*
 * plugins/common/sock_listen.h - the accept side of a listening socket an
 * endpoint plugin has already bound (tcp, unix, vsock, hvsock).  Compiled
 * into each plugin that uses it (add plugins/common/sock_listen.c to the
 * plugin's _SOURCES); it includes nothing from the broker core but the
 * plugin ABI header.
 *
 *   sock_listen_start(host, h, sink, fd, &opts, &sl, err, errlen)
 *     -> 0: fd is registered on the plugin's event_base; every accepted
 *           socket is handed to host->accepted(sink, desc) with the peer
 *           text opts.peer() writes.  *sl is the listener.
 *     -> < 0: fd is closed; err says why.
 *   sock_listen_stop(sl)       stop accepting, close fd, free (sl may be NULL)
 *   sock_listen_describe(sl, buf, len)   "SCHEME://WHERE", or -ENOSPC
 *   sock_listen_unlisten, sock_listen_describe_cb: the same with the plugin
 *                              table's signatures, for a plugin whose listener
 *                              is the struct sock_listener itself
 *   sock_listen_where(sl)      WHERE, for the plugin's own messages
 *   sock_listen_backlog(host, h, url, dflt, &backlog, err, errlen)
 *                              ?backlog=N, else the plugin's "backlog"
 *                              option, else dflt; 1..65535 or -EINVAL
 *
 * An accept that fails with something other than "try again" (EMFILE,
 * ENFILE, ENOBUFS...) leaves the socket readable, so the listener is kept
 * off the loop for SOCK_LISTEN_PAUSE_MS at a time until accepts work again,
 * with one warning per burst and one note when it recovers.
 */
#ifndef BROKER_PLUGINS_COMMON_SOCK_LISTEN_H
#define BROKER_PLUGINS_COMMON_SOCK_LISTEN_H

#include <stddef.h>

#include <event2/util.h>

struct sockaddr;
struct broker_host;
struct broker_plugin_handle;
struct broker_accept_sink;
struct broker_url;
struct sock_listener;

#define SOCK_LISTEN_PAUSE_MS 100

/*
 * The stream's peer text (into buf, len bytes) for the socket fd accepted
 * from sa (salen bytes): "tcp:127.0.0.1:40000".  May also set socket
 * options on fd (TCP_NODELAY).
 */
typedef void (*sock_listen_peer_fn)(evutil_socket_t fd, const struct sockaddr *sa, int salen,
                                    char *buf, size_t len);

/* The text of accept()'s socket error e (errno; a Winsock code on Windows). */
typedef void (*sock_listen_error_fn)(int e, char *buf, size_t len);

struct sock_listen_opts {
	const char *scheme;             /* "tcp": describe gives "tcp://WHERE" */
	const char *where;              /* the bound address for logs, "127.0.0.1:8080" */
	sock_listen_peer_fn peer;
	sock_listen_error_fn error_text;  /* NULL: strerror(e) */
};

int sock_listen_start(const struct broker_host *host, struct broker_plugin_handle *h,
                      struct broker_accept_sink *sink, evutil_socket_t fd,
                      const struct sock_listen_opts *opts, struct sock_listener **slp,
                      char *err, size_t errlen);

void sock_listen_stop(struct sock_listener *sl);

int sock_listen_describe(const struct sock_listener *sl, char *buf, size_t len);

const char *sock_listen_where(const struct sock_listener *sl);

/* struct broker_plugin's .unlisten and .describe when the listener is a struct sock_listener. */
void sock_listen_unlisten(void *state, void *listener);
int sock_listen_describe_cb(void *state, void *listener, char *buf, size_t buflen);

int sock_listen_backlog(const struct broker_host *host, struct broker_plugin_handle *h,
                        const struct broker_url *url, int dflt, int *backlog, char *err,
                        size_t errlen);

#endif
