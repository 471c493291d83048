/* relay_fd.c - a relay end over a socket or a pipe pair: reads straight into
 * the other end's evbuffer (64 KiB reserve + readv, not bufferevent's 4 KiB
 * reads) and writes with evbuffer_write_atmost.  Two socket ends can instead
 * splice to each other (relay_fd_ends_splice): each direction then moves
 * socket -> pipe -> socket in the kernel, with a pipe borrowed from a pool
 * for as long as bytes are in it. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "broker/log.h"
#include "broker/platform.h"
#include "broker/platform_splice.h"
#include "broker/relay.h"

struct fd_end {
	struct relay_end base;    /* first: a relay_end * is a fd_end * */
	broker_fd rfd, wfd;
	uint32_t flags;
	struct event *rev, *wev;
	void (*on_close)(void *);
	void *close_arg;
	/* Spliced ends only (partner set): */
	struct fd_end *partner;          /* the other end, whose socket this end's input is spliced to */
	struct relay_pipe_pool *pool;
	struct platform_pipe pipe;       /* holds base.piped bytes waiting for this end's socket */
	bool has_pipe;
	uint64_t spliced;                /* bytes read from this end by splice */
};

/*
 * Read until the socket is drained, the other side is backed up, or a few
 * chunks went by: fewer trips through epoll per megabyte, while one busy
 * connection still cannot starve the others.
 */
#define READS_PER_EVENT 4

static void fd_end_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fd_end *fe = arg;
	struct relay_end *e = &fe->base;
	struct relay *r = e->relay;

	relay_hold(r);
	for (int i = 0; i < READS_PER_EVENT && e->reading && !relay_finished(r); i++) {
		struct evbuffer *sink = relay_end_sink(e);
		struct evbuffer_iovec vec[2];
		size_t asked = 0;
		int nvec = evbuffer_reserve_space(sink, RELAY_READ_RESERVE, vec, 2);
		ssize_t n;

		if (nvec < 0) {
			relay_end_error(e, -ENOMEM);
			break;
		}
		for (int v = 0; v < nvec; v++)
			asked += vec[v].iov_len;
		n = platform_read_iov(fe->rfd, vec, nvec);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			relay_end_error(e, (int)n);
			break;
		}
		if (n == 0) {
			relay_end_eof(e);
			break;
		}
		/* Trim the reserved vectors to what readv filled, then commit. */
		size_t left = (size_t)n;
		for (int v = 0; v < nvec; v++) {
			if (vec[v].iov_len > left)
				vec[v].iov_len = left;
			left -= vec[v].iov_len;
		}
		evbuffer_commit_space(sink, vec, nvec);
		relay_end_input(e, (size_t)n);
		/* A short read means the socket is empty: skip the EAGAIN round trip. */
		if ((size_t)n < asked)
			break;
	}
	relay_release(r);
}

/* An emptied pipe goes back to the pool: idle connections hold none. */
static void fd_end_pipe_release(struct fd_end *fe)
{
	if (fe->has_pipe && fe->base.piped == 0) {
		relay_pipe_put(fe->pool, &fe->pipe, false);
		fe->has_pipe = false;
	}
}

/*
 * Spliced input: socket -> the pipe toward the partner, which the partner's
 * kick writes on at once.  splice says EAGAIN both when the socket is empty
 * and when the pipe is full (a pipe slot holds one socket buffer however
 * small, so a pipe can be full below its size in bytes): a pipe that still
 * holds bytes counts as full, and reading waits until the partner drains it.
 */
static void fd_end_splice_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fd_end *fe = arg;
	struct relay_end *e = &fe->base;
	struct fd_end *to = fe->partner;
	struct relay_end *o = &to->base;
	struct relay *r = e->relay;

	relay_hold(r);
	for (int i = 0; i < READS_PER_EVENT && e->reading && !relay_finished(r); i++) {
		ssize_t n;
		int rc;

		if (!to->has_pipe) {
			rc = relay_pipe_get(to->pool, &to->pipe);
			if (rc < 0) {
				relay_end_error(e, rc);
				break;
			}
			to->has_pipe = true;
		}
		if (o->piped >= to->pipe.size) {
			relay_end_blocked(e);
			break;
		}
		size_t room = to->pipe.size - o->piped;
		n = platform_splice_in(fe->rfd, &to->pipe, room);
		if (n == -EAGAIN) {
			if (o->piped > 0)
				relay_end_blocked(e);
			break;
		}
		if (n < 0) {
			relay_end_error(e, (int)n);
			break;
		}
		if (n == 0) {
			relay_end_eof(e);
			break;
		}
		o->piped += (size_t)n;
		fe->spliced += (uint64_t)n;
		relay_end_input(e, (size_t)n);
		/*
		 * Short: the socket is most likely empty (or the pipe's slots ran
		 * out).  Skip the EAGAIN round trip, as the buffer path does: the
		 * read event is level-triggered, so bytes still there wake us again.
		 */
		if ((size_t)n < room)
			break;
	}
	if (!relay_finished(r))
		fd_end_pipe_release(to);
	relay_release(r);
}

/* Spliced output: the pipe toward this end -> its socket. */
static int fd_end_splice_flush(struct fd_end *fe)
{
	struct relay_end *e = &fe->base;
	bool moved = false;

	while (e->piped > 0) {
		ssize_t n = platform_splice_out(&fe->pipe, fe->wfd, e->piped);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			relay_end_error(e, n < 0 ? (int)n : -EIO);
			return -1;
		}
		e->piped -= (size_t)n;
		moved = true;
	}
	if (moved)
		e->pipe_full = false;
	fd_end_pipe_release(fe);
	return 0;
}

/* After writing: wait for writability while output remains, and tell the relay. */
static void fd_end_wrote(struct fd_end *fe)
{
	struct relay_end *e = &fe->base;

	if (relay_finished(e->relay))
		return;
	if (relay_end_pending(e) > 0)
		event_add(fe->wev, NULL);
	else
		event_del(fe->wev);
	relay_end_drained(e);
}

/* One datagram per read, stored with its length in front (see relay.h). */
static void dgram_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fd_end *fe = arg;
	struct relay_end *e = &fe->base;
	struct relay *r = e->relay;

	relay_hold(r);
	for (int i = 0; i < 16 && e->reading && !relay_finished(r); i++) {
		uint8_t buf[RELAY_DGRAM_MAX + RELAY_DGRAM_HEADER];
		struct evbuffer_iovec v = { buf + RELAY_DGRAM_HEADER, RELAY_DGRAM_MAX };
		ssize_t n = platform_read_iov(fe->rfd, &v, 1);

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			/* ECONNREFUSED from an ICMP port unreachable: the target is not there (yet); UDP shrugs. */
			if (n == -ECONNREFUSED)
				continue;
			relay_end_error(e, (int)n);
			break;
		}
		buf[0] = (uint8_t)(n >> 8);
		buf[1] = (uint8_t)n;
		evbuffer_add(relay_end_sink(e), buf, (size_t)n + RELAY_DGRAM_HEADER);
		relay_end_input(e, (size_t)n + RELAY_DGRAM_HEADER);
	}
	relay_release(r);
}

/* Send whole datagrams from e->out; a datagram the socket cannot take now waits. */
static ssize_t dgram_send(void *arg, const uint8_t *data, size_t len)
{
	struct fd_end *fe = arg;

	return platform_send_datagram(fe->wfd, data, len);
}

static void dgram_flush(struct fd_end *fe)
{
	relay_dgram_send(fe->base.out, dgram_send, fe);
	fd_end_wrote(fe);
}

static void fd_end_flush(struct fd_end *fe)
{
	if (fe->flags & BROKER_STREAM_DATAGRAM) {
		dgram_flush(fe);
		return;
	}

	struct relay_end *e = &fe->base;

	if (e->piped > 0 && fd_end_splice_flush(fe) < 0)
		return;
	while (evbuffer_get_length(e->out) > 0) {
		ssize_t n = platform_write_buffer(fe->wfd, e->out, RELAY_READ_CHUNK * 4);
		if (n == -EAGAIN || n == 0)
			break;
		if (n < 0) {
			relay_end_error(e, (int)n);
			return;
		}
	}
	fd_end_wrote(fe);
}

static void fd_end_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fd_end *fe = arg;
	struct relay *r = fe->base.relay;

	relay_hold(r);
	fd_end_flush(fe);
	relay_release(r);
}

static void fd_end_set_reading(struct relay_end *e, bool on)
{
	struct fd_end *fe = (struct fd_end *)e;

	if (on)
		event_add(fe->rev, NULL);
	else
		event_del(fe->rev);
}

static void fd_end_kick(struct relay_end *e)
{
	/* Write through at once: saves a loop iteration per chunk on the hot path. */
	fd_end_flush((struct fd_end *)e);
}

static void fd_end_shutdown_write(struct relay_end *e)
{
	struct fd_end *fe = (struct fd_end *)e;

	event_del(fe->wev);
	if (fe->flags & BROKER_STREAM_DATAGRAM)
		return;   /* nothing to half-close: flows end by idle timeout */
	if (fe->flags & BROKER_STREAM_PIPES) {
		platform_fd_close(fe->wfd);
		fe->wfd = BROKER_FD_NONE;
	} else {
		platform_shutdown_write(fe->wfd);
	}
}

static void fd_end_destroy(struct relay_end *e, bool abort)
{
	struct fd_end *fe = (struct fd_end *)e;

	if (fe->partner && e->index == 0)
		log_debug("relay", "spliced: %llu bytes client -> target, %llu bytes target -> client",
		          (unsigned long long)fe->spliced, (unsigned long long)fe->partner->spliced);
	if (fe->partner)
		fe->partner->partner = NULL;
	if (fe->has_pipe)
		relay_pipe_put(fe->pool, &fe->pipe, e->piped > 0);
	if (fe->rev)
		event_free(fe->rev);
	if (fe->wev)
		event_free(fe->wev);
	if (fe->wfd != fe->rfd && fe->wfd != BROKER_FD_NONE)
		platform_fd_close(fe->wfd);
	if (fe->rfd != BROKER_FD_NONE) {
		if (abort)
			platform_fd_abort(fe->rfd);
		else
			platform_fd_close(fe->rfd);
	}
	if (e->out)
		evbuffer_free(e->out);
	if (fe->on_close)
		fe->on_close(fe->close_arg);
	free(fe);
}

static const struct relay_end_ops fd_end_ops = {
	.set_reading = fd_end_set_reading,
	.kick = fd_end_kick,
	.shutdown_write = fd_end_shutdown_write,
	.destroy = fd_end_destroy,
};

struct relay_end *relay_fd_end_new(struct event_base *base, const struct broker_stream_desc *desc)
{
	struct fd_end *fe = calloc(1, sizeof(*fe));

	if (!fe) {
		platform_fd_close(desc->rfd);
		if (desc->wfd != desc->rfd)
			platform_fd_close(desc->wfd);
		if (desc->on_close)
			desc->on_close(desc->close_arg);
		return NULL;
	}
	fe->base.ops = &fd_end_ops;
	fe->rfd = desc->rfd;
	fe->wfd = desc->wfd;
	fe->flags = desc->flags;
	fe->on_close = desc->on_close;
	fe->close_arg = desc->close_arg;
	fe->base.out = evbuffer_new();
	fe->rev = event_new(base, fe->rfd, EV_READ | EV_PERSIST,
	                    (desc->flags & BROKER_STREAM_DATAGRAM) ? dgram_read_cb : fd_end_read_cb, fe);
	fe->wev = event_new(base, fe->wfd, EV_WRITE | EV_PERSIST, fd_end_write_cb, fe);
	if (!fe->base.out || !fe->rev || !fe->wev || platform_fd_prepare(fe->rfd) < 0 ||
	    (fe->wfd != fe->rfd && platform_fd_prepare(fe->wfd) < 0)) {
		fd_end_destroy(&fe->base, true);
		return NULL;
	}
	return &fe->base;
}

bool relay_fd_ends_splice(struct relay_end *a, struct relay_end *b, struct relay_pipe_pool *pool)
{
	struct fd_end *fa = (struct fd_end *)a, *fb = (struct fd_end *)b;
	struct fd_end *ends[2] = { fa, fb };

	if (a->ops != &fd_end_ops || b->ops != &fd_end_ops)
		return false;
	for (int i = 0; i < 2; i++)
		if (ends[i]->flags & (BROKER_STREAM_PIPES | BROKER_STREAM_DATAGRAM) || ends[i]->rfd != ends[i]->wfd ||
		    !platform_splice_usable(ends[i]->rfd))
			return false;
	for (int i = 0; i < 2; i++) {
		ends[i]->partner = ends[1 - i];
		ends[i]->pool = pool;
		/* Same event, same fd, same loop: only the callback changes (not yet added: relay_new arms it). */
		event_assign(ends[i]->rev, event_get_base(ends[i]->rev), ends[i]->rfd, EV_READ | EV_PERSIST,
		             fd_end_splice_read_cb, ends[i]);
	}
	return true;
}
