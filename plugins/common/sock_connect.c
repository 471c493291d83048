/*
 * plugins/common/sock_connect.c - the deferred, non-blocking connect of an
 * already-created socket, shared by the vsock and hvsock plugins (see
 * sock_connect.h).  Every outcome goes through the done event or the
 * writability event, so host->connected / host->connect_failed never run
 * from inside sock_connect_start.
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
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/sock_connect.h"

struct sock_connect {
	const struct broker_host *host;
	struct broker_connect_req *req;
	evutil_socket_t fd;
	struct event *wev;              /* EV_WRITE while connecting */
	struct event *timeout;
	struct event *done;             /* zero-delay event that reports a failure */
	struct sock_connect_opts o;     /* its strings point at the copies below */
	int error;
	char name[16];
	char where[128];
	char peer[160];
	char reason[320];
};

static void sc_free(struct sock_connect *sc)
{
	if (sc->wev)
		event_free(sc->wev);
	if (sc->timeout)
		event_free(sc->timeout);
	if (sc->done)
		event_free(sc->done);
	if (sc->fd != (evutil_socket_t)EVUTIL_INVALID_SOCKET)
		evutil_closesocket(sc->fd);
	free(sc);
}

/* Report error/reason (already set) from the done event: always a later loop iteration. */
static void fail_later(struct sock_connect *sc)
{
	if (sc->wev) {
		event_free(sc->wev);
		sc->wev = NULL;
	}
	event_del(sc->timeout);
	event_active(sc->done, EV_TIMEOUT, 0);
}

/* The connect failed with socket error e, or (e == 0) timed out. */
static void fail_with(struct sock_connect *sc, int e)
{
	sc->error = sc->o.why(sc->where, e, sc->o.timeout_ms, sc->reason, sizeof(sc->reason));
	fail_later(sc);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct sock_connect *sc = arg;

	(void)fd;
	(void)what;
	sc->host->connect_failed(sc->req, sc->error, sc->reason);
	sc_free(sc);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fail_with(arg, 0);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct sock_connect *sc = arg;
	struct broker_stream_desc desc;
	int soerr = 0;
	ev_socklen_t len = sizeof(soerr);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, (void *)&soerr, &len) < 0)
		soerr = EVUTIL_SOCKET_ERROR();
	event_free(sc->wev);
	sc->wev = NULL;
	if (soerr != 0) {
		fail_with(sc, soerr);
		return;
	}
	memset(&desc, 0, sizeof(desc));
	desc.rfd = (broker_fd)sc->fd;
	desc.wfd = (broker_fd)sc->fd;
	desc.flags = sc->o.flags;
	desc.peer = sc->peer;
	sc->fd = EVUTIL_INVALID_SOCKET;  /* the core owns it now */
	sc->host->connected(sc->req, &desc);
	sc_free(sc);
}

/* A non-blocking connect() that has started and will finish later. */
static int in_progress(int e)
{
#ifdef _WIN32
	return e == WSAEWOULDBLOCK || e == WSAEINPROGRESS;
#else
	return e == EINPROGRESS || e == EINTR;
#endif
}

int sock_connect_start(const struct broker_host *host, struct event_base *base,
                       struct broker_connect_req *req, evutil_socket_t fd,
                       const struct sockaddr *addr, int addrlen, const struct sock_connect_opts *opts,
                       struct sock_connect **scp, char *err, size_t errlen)
{
	struct sock_connect *sc = calloc(1, sizeof(*sc));

	if (!sc) {
		evutil_closesocket(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sc->host = host;
	sc->req = req;
	sc->fd = fd;
	sc->o = *opts;
	snprintf(sc->name, sizeof(sc->name), "%s", opts->name);
	snprintf(sc->where, sizeof(sc->where), "%s", opts->where);
	snprintf(sc->peer, sizeof(sc->peer), "%s", opts->peer);
	sc->o.name = sc->name;
	sc->o.where = sc->where;
	sc->o.peer = sc->peer;
	sc->done = evtimer_new(base, on_done, sc);
	sc->timeout = evtimer_new(base, on_timeout, sc);
	if (!sc->done || !sc->timeout) {
		sc_free(sc);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (opts->timeout_ms > 0) {
		struct timeval tv = { (long)(opts->timeout_ms / 1000), (long)(opts->timeout_ms % 1000) * 1000 };

		evtimer_add(sc->timeout, &tv);
	}
	*scp = sc;
	if (connect(fd, addr, addrlen) < 0) {
		int e = EVUTIL_SOCKET_ERROR();

		if (!in_progress(e)) {
			fail_with(sc, e);  /* reported from the done event */
			return 0;
		}
	}
	/* In progress or already connected: writability tells which. */
	sc->wev = event_new(base, fd, EV_WRITE, on_writable, sc);
	if (!sc->wev || event_add(sc->wev, NULL) < 0) {
		sc->error = -ENOMEM;
		snprintf(sc->reason, sizeof(sc->reason), "cannot watch the %s connect on the event loop",
		         sc->name);
		fail_later(sc);
	}
	return 0;
}

void sock_connect_cancel(struct sock_connect *sc)
{
	if (sc)
		sc_free(sc);
}

void sock_connect_cancel_cb(void *state, void *pending)
{
	(void)state;
	sock_connect_cancel(pending);
}
