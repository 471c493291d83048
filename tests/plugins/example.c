/*
 * example.c - the minimal endpoint plugin shown in broker-plugin(7).
 *
 * Scheme "echo": connecting to echo:ANYTHING yields a stream whose other
 * end sends back every byte it receives.  The plugin makes a socketpair,
 * hands one end to the core and runs an echo on the other end with a
 * libevent bufferevent on the broker's own loop.  Keep this file and the
 * EXAMPLES section of man/broker-plugin.7 in sync.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <broker/plugin.h>

static const struct broker_host *host;

struct echo_session {
	struct echo_state *st;
	struct bufferevent *bev;
	int eof;                        /* the client half-closed */
	struct echo_session *next, *prev;
};

struct echo_pending {
	struct echo_state *st;
	struct broker_connect_req *req;
	struct event *ev;               /* delivers the stream on the next loop turn */
	int fd;                         /* our end for the core */
};

struct echo_state {
	struct broker_plugin_handle *h;
	struct echo_session *sessions;  /* live echoes, freed by stop */
	long long nsessions, max_sessions;
	size_t high_mark;               /* stop reading while this much is unsent */
};

static void session_free(struct echo_session *s)
{
	struct echo_state *st = s->st;

	if (s->prev)
		s->prev->next = s->next;
	else
		st->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	st->nsessions--;
	bufferevent_free(s->bev);       /* closes the fd: BEV_OPT_CLOSE_ON_FREE */
	free(s);
}

static void echo_read(struct bufferevent *bev, void *arg)
{
	struct echo_session *s = arg;

	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
	/* A client that sends but never reads must not make us buffer forever. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) > s->st->high_mark)
		bufferevent_disable(bev, EV_READ);
}

/* Called when the output buffer has drained completely. */
static void echo_written(struct bufferevent *bev, void *arg)
{
	struct echo_session *s = arg;

	if (s->eof) {
		/* Everything the client sent has been echoed; closing tells it so. */
		session_free(s);
		return;
	}
	bufferevent_enable(bev, EV_READ);
}

static void echo_event(struct bufferevent *bev, short what, void *arg)
{
	struct echo_session *s = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		s->eof = 1;
		/* Half-close: keep writing out what is still queued, then close. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			session_free(s);
		return;
	}
	session_free(s);
}

/* Runs on the next loop turn: the ABI forbids reporting from inside connect. */
static void echo_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct echo_pending *p = arg;
	struct broker_stream_desc desc = {
		.rfd = p->fd,
		.wfd = p->fd,
		.flags = BROKER_STREAM_SOCKET,
		.peer = "echo",
	};

	(void)fd;                        /* a pure event: no descriptor, no flags to read */
	(void)what;
	event_free(p->ev);
	host->connected(p->req, &desc);  /* the core now owns p->fd */
	free(p);
}

static int echo_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct echo_state *st = calloc(1, sizeof(*st));

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	st->max_sessions = host->option_int(h, "max_sessions");
	st->high_mark = (size_t)host->option_int(h, "buffer_kib") * 1024;
	*state = st;
	return 0;
}

static int echo_reload(void *state, char *err, size_t errlen)
{
	struct echo_state *st = state;

	/* Live sessions keep running; the new limits apply from now on.  Nothing here can fail. */
	(void)err;
	(void)errlen;
	st->max_sessions = host->option_int(st->h, "max_sessions");
	st->high_mark = (size_t)host->option_int(st->h, "buffer_kib") * 1024;
	return 0;
}

static void echo_stop(void *state)
{
	struct echo_state *st = state;

	while (st->sessions)
		session_free(st->sessions);
}

static void echo_fini(void *state)
{
	free(state);
}

static int echo_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                        void **pending, char *err, size_t errlen)
{
	struct echo_state *st = state;
	struct event_base *base = host->event_base(st->h);
	struct echo_session *s = NULL;
	struct echo_pending *p = NULL;
	int sv[2], r;

	if (st->nsessions >= st->max_sessions) {
		snprintf(err, errlen, "%lld echo sessions already open (raise option max_sessions)",
		         st->nsessions);
		return -EMFILE;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return r;
	}
	s = calloc(1, sizeof(*s));
	p = calloc(1, sizeof(*p));
	if (!s || !p)
		goto nomem;
	s->st = st;
	s->bev = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev)
		goto nomem;
	sv[1] = -1;                      /* owned by the bufferevent now */
	p->st = st;
	p->req = req;
	p->fd = sv[0];
	/*
	 * Our own event, not a host timer: on unload the core releases its
	 * timers before it cancels pending connects, and connect_cancel must
	 * still be able to free this.
	 */
	p->ev = event_new(base, -1, 0, echo_deliver, p);
	if (!p->ev)
		goto nomem;

	bufferevent_setcb(s->bev, echo_read, echo_written, echo_event, s);
	bufferevent_enable(s->bev, EV_READ);
	s->next = st->sessions;
	if (st->sessions)
		st->sessions->prev = s;
	st->sessions = s;
	st->nsessions++;

	event_active(p->ev, EV_TIMEOUT, 1);
	*pending = p;
	host->log(st->h, BROKER_LOG_DEBUG, "echo session for %s", url->text);
	return 0;

nomem:
	snprintf(err, errlen, "out of memory");
	if (s && s->bev)
		bufferevent_free(s->bev);
	free(s);
	free(p);
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return -ENOMEM;
}

static void echo_connect_cancel(void *state, void *pending)
{
	struct echo_pending *p = pending;

	(void)state;
	/* The echo end sees EOF and frees itself. */
	event_free(p->ev);
	close(p->fd);
	free(p);
}

static const struct broker_option echo_options[] = {
	{ BROKER_OPT_INT, "max_sessions", "64", "echo sessions open at once", 1, 65536 },
	{ BROKER_OPT_INT, "buffer_kib", "256", "unsent bytes per session before reading pauses", 4, 65536 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const echo_schemes[] = { "echo", NULL };

/* echo: takes no URL parameters; the core refuses echo:x?anything for us. */
static const struct broker_url_param_decl echo_params[] = {
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin echo_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "echo",
	.version = "1.0",
	.description = "echo:ANY connects to an echo service inside the broker",
	.kinds = BROKER_KIND_ENDPOINT,
	.options = echo_options,
	.init = echo_init,
	.reload = echo_reload,
	.stop = echo_stop,
	.fini = echo_fini,
	.schemes = echo_schemes,
	.url_params = echo_params,
	.connect = echo_connect,
	.connect_cancel = echo_connect_cancel,
};

BROKER_PLUGIN_DEFINE(echo_plugin, host)
