/* stub_plugin.c - an endpoint plugin for fuzz_link: scheme "fz", connect
 * only, no sockets to the outside.  The address picks the behaviour:
 *   fz:now    refuse from inside connect (OPEN_ERR at once)
 *   fz:refuse refuse later (connect_failed from the loop)
 *   fz:echo   connect to a socketpair whose far end echoes, and half-closes
 *             after reading EOF
 *   fz:close  connect to a socketpair whose far end is closed at once
 *   fz:hold   connect to a socketpair whose far end never reads
 * Anything else is refused from inside connect.  Everything is released by
 * stop (the harness stops the registry after each input). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "broker/plugin.h"

static const struct broker_host *host;

enum mode { M_REFUSE, M_ECHO, M_CLOSE, M_HOLD };

struct stub;

struct pend {
	struct pend *next;
	struct stub *st;
	struct event *ev;
	struct broker_connect_req *req;
	enum mode mode;
};

struct conn {
	struct conn *next;
	int fd;
	struct event *ev;
};

struct stub {
	struct broker_plugin_handle *h;
	struct pend *pends;
	struct conn *conns;
};

static void unlink_pend(struct stub *st, struct pend *p)
{
	for (struct pend **pp = &st->pends; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	event_free(p->ev);
}

static void conn_close(struct stub *st, struct conn *c)
{
	for (struct conn **pp = &st->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->ev)
		event_free(c->ev);
	close(c->fd);
	free(c);
}

static void echo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	(void)what;
	if (n > 0) {
		/* Whatever does not fit right now is dropped: the harness does not check content. */
		(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		return;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		shutdown(fd, SHUT_WR);
		event_del(c->ev);
	}
}

static void pend_fire(evutil_socket_t fd, short what, void *arg)
{
	struct pend *p = arg;
	struct stub *st = p->st;
	struct broker_stream_desc desc = { .flags = BROKER_STREAM_SOCKET, .peer = "stub" };
	struct broker_connect_req *req = p->req;
	enum mode mode = p->mode;
	int sv[2];

	(void)fd;
	(void)what;
	unlink_pend(st, p);
	free(p);
	if (mode == M_REFUSE) {
		host->connect_failed(req, -ECONNREFUSED, "stub refuses");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		host->connect_failed(req, -errno, "socketpair failed");
		return;
	}
	if (mode == M_CLOSE) {
		close(sv[1]);
	} else {
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(sv[0]);
			close(sv[1]);
			host->connect_failed(req, -ENOMEM, "out of memory");
			return;
		}
		c->fd = sv[1];
		if (mode == M_ECHO) {
			c->ev = event_new(host->event_base(st->h), sv[1], EV_READ | EV_PERSIST, echo_cb, c);
			if (c->ev)
				event_add(c->ev, NULL);
		}
		c->next = st->conns;
		st->conns = c;
	}
	desc.rfd = desc.wfd = sv[0];
	host->connected(req, &desc);
}

static int stub_connect(void *state, const struct broker_url *url, struct broker_connect_req *req, void **pending,
                        char *err, size_t errlen)
{
	struct stub *st = state;
	struct pend *p;
	enum mode mode;
	struct timeval now = { 0, 0 };

	if (!strcmp(url->address, "refuse"))
		mode = M_REFUSE;
	else if (!strcmp(url->address, "echo"))
		mode = M_ECHO;
	else if (!strcmp(url->address, "close"))
		mode = M_CLOSE;
	else if (!strcmp(url->address, "hold"))
		mode = M_HOLD;
	else {
		strncpy(err, "no such stub target", errlen - 1);
		err[errlen - 1] = '\0';
		return -ECONNREFUSED;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->st = st;
	p->req = req;
	p->mode = mode;
	p->ev = evtimer_new(host->event_base(st->h), pend_fire, p);
	if (!p->ev) {
		free(p);
		return -ENOMEM;
	}
	event_add(p->ev, &now);
	p->next = st->pends;
	st->pends = p;
	*pending = p;
	return 0;
}

static void stub_connect_cancel(void *state, void *pending)
{
	struct pend *p = pending;

	unlink_pend(state, p);
	free(p);
}

static int stub_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct stub *st = calloc(1, sizeof(*st));

	(void)err;
	(void)errlen;
	if (!st)
		return -ENOMEM;
	st->h = h;
	*state = st;
	return 0;
}

static void stub_stop(void *state)
{
	struct stub *st = state;

	while (st->pends) {
		struct pend *p = st->pends;
		unlink_pend(st, p);
		free(p);
	}
	while (st->conns)
		conn_close(st, st->conns);
}

static void stub_fini(void *state)
{
	free(state);
}

static const char *const schemes[] = { "fz", NULL };

static const struct broker_plugin stub_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "fz",
	.version = "0",
	.description = "fuzzing stub endpoint",
	.kinds = BROKER_KIND_ENDPOINT,
	.init = stub_init,
	.stop = stub_stop,
	.fini = stub_fini,
	.schemes = schemes,
	.connect = stub_connect,
	.connect_cancel = stub_connect_cancel,
};

BROKER_PLUGIN_DEFINE(stub_plugin, host)
