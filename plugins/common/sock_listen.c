/*
 * plugins/common/sock_listen.c - the accept side of a bound, listening
 * socket, shared by the tcp, unix, vsock and hvsock plugins (see
 * sock_listen.h): evconnlistener registration, the hand-off of accepted
 * sockets to the core, and the pause after accept errors.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/types.h>
#include <sys/socket.h>
#endif

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/sock_listen.h"

struct sock_listener {
	const struct broker_host *host;
	struct broker_plugin_handle *h;
	struct broker_accept_sink *sink;
	struct evconnlistener *lev;
	struct event *resume;           /* re-enables accepting after an error burst */
	int in_error_burst;
	sock_listen_peer_fn peer;
	sock_listen_error_fn error_text;
	char scheme[16];
	char where[300];
};

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct sock_listener *sl = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(sl->lev);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct sock_listener *sl = arg;
	struct broker_stream_desc desc;
	char peer[160];

	(void)lev;
	if (sl->in_error_burst) {
		sl->host->log(sl->h, BROKER_LOG_INFO, "%s: accepting connections again", sl->where);
		sl->in_error_burst = 0;
	}
	sl->peer(fd, sa, salen, peer, sizeof(peer));
	memset(&desc, 0, sizeof(desc));
	desc.rfd = (broker_fd)fd;
	desc.wfd = (broker_fd)fd;
	desc.flags = BROKER_STREAM_SOCKET;
	desc.peer = peer;
	sl->host->accepted(sl->sink, &desc);
}

/*
 * accept() failed with something that is not "try again" (EMFILE, ENFILE,
 * ENOBUFS...).  The listening socket stays readable, so keep it off the loop
 * for a moment instead of spinning; log once per burst of failures.
 */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct sock_listener *sl = arg;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, SOCK_LISTEN_PAUSE_MS * 1000 };
	char why[128];

	evconnlistener_disable(lev);
	if (!sl->in_error_burst) {
		if (sl->error_text)
			sl->error_text(e, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", strerror(e));
		sl->host->log(sl->h, BROKER_LOG_WARN,
		              "%s: accept failed: %s; pausing accepts for %d ms at a time until it recovers",
		              sl->where, why, SOCK_LISTEN_PAUSE_MS);
		sl->in_error_burst = 1;
	}
	evtimer_add(sl->resume, &tv);
}

int sock_listen_start(const struct broker_host *host, struct broker_plugin_handle *h,
                      struct broker_accept_sink *sink, evutil_socket_t fd,
                      const struct sock_listen_opts *opts, struct sock_listener **slp,
                      char *err, size_t errlen)
{
	struct event_base *base = host->event_base(h);
	struct sock_listener *sl = calloc(1, sizeof(*sl));

	if (!sl) {
		evutil_closesocket(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sl->host = host;
	sl->h = h;
	sl->sink = sink;
	sl->peer = opts->peer;
	sl->error_text = opts->error_text;
	snprintf(sl->scheme, sizeof(sl->scheme), "%s", opts->scheme);
	snprintf(sl->where, sizeof(sl->where), "%s", opts->where);
	sl->resume = evtimer_new(base, on_resume, sl);
	sl->lev = evconnlistener_new(base, on_accept, sl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	                             0, fd);
	if (!sl->resume || !sl->lev) {
		if (sl->lev)
			evconnlistener_free(sl->lev);   /* closes fd */
		else
			evutil_closesocket(fd);
		if (sl->resume)
			event_free(sl->resume);
		free(sl);
		snprintf(err, errlen, "cannot register the listener with the event loop");
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(sl->lev, on_accept_error);
	*slp = sl;
	return 0;
}

void sock_listen_stop(struct sock_listener *sl)
{
	if (!sl)
		return;
	evconnlistener_free(sl->lev);
	event_free(sl->resume);
	free(sl);
}

int sock_listen_describe(const struct sock_listener *sl, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s://%s", sl->scheme, sl->where);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

const char *sock_listen_where(const struct sock_listener *sl)
{
	return sl->where;
}

void sock_listen_unlisten(void *state, void *listener)
{
	(void)state;
	sock_listen_stop(listener);
}

int sock_listen_describe_cb(void *state, void *listener, char *buf, size_t buflen)
{
	(void)state;
	return sock_listen_describe(listener, buf, buflen);
}

int sock_listen_backlog(const struct broker_host *host, struct broker_plugin_handle *h,
                        const struct broker_url *url, int dflt, int *backlog, char *err,
                        size_t errlen)
{
	const char *s = host->url_param(url, "backlog");
	long long v = host->option_int(h, "backlog");
	char *end;

	if (s) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || *end || errno) {
			snprintf(err, errlen, "bad backlog \"%s\" (a number from 1 to 65535)", s);
			return -EINVAL;
		}
	}
	if (v <= 0)
		v = dflt;
	if (v > 65535) {
		snprintf(err, errlen, "backlog %lld too large (at most 65535)", v);
		return -EINVAL;
	}
	*backlog = (int)v;
	return 0;
}
