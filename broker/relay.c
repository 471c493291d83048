/* relay.c - the direction logic shared by every kind of end: forward input
 * to the other end, stop reading when the other end's output is over the
 * high mark, propagate half-close once output is flushed, finish when both
 * directions are closed. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "broker/log.h"
#include "broker/relay.h"

struct relay {
	struct relay_end *end[2];
	struct route_counters *counters;
	relay_done_fn done;
	void *done_arg;
	int busy;           /* >0 while inside a callback chain: defer destruction */
	bool finished;
	bool aborted;
};

static struct relay_end *other(struct relay_end *e)
{
	return e->relay->end[1 - e->index];
}

struct evbuffer *relay_end_sink(struct relay_end *e)
{
	return other(e)->out;
}

static void relay_destroy(struct relay *r)
{
	if (r->done)
		r->done(r->done_arg, r, r->aborted);
	for (int i = 0; i < 2; i++)
		r->end[i]->ops->destroy(r->end[i], r->aborted);
	free(r);
}

void relay_hold(struct relay *r)
{
	r->busy++;
}

/* Destroy when finished and no callback of ours is on the stack. */
void relay_release(struct relay *r)
{
	if (--r->busy == 0 && r->finished)
		relay_destroy(r);
}

bool relay_finished(const struct relay *r)
{
	return r->finished;
}

static void relay_check_finished(struct relay *r)
{
	if (r->end[0]->eof_in && r->end[1]->eof_in && r->end[0]->shut_out && r->end[1]->shut_out)
		r->finished = true;
}

size_t relay_end_pending(const struct relay_end *e)
{
	return evbuffer_get_length(e->out) + e->piped;
}

/* Reading from e may go on only while the other end is not backed up. */
static void update_reading(struct relay_end *e)
{
	struct relay_end *o = other(e);
	bool want = !e->eof_in && !o->shut_out && !o->pipe_full && relay_end_pending(o) < RELAY_HIGH_MARK;

	if (want != e->reading) {
		e->reading = want;
		e->ops->set_reading(e, want);
	}
}

void relay_end_input(struct relay_end *e, size_t n)
{
	struct relay *r = e->relay;
	struct relay_end *o = other(e);

	r->busy++;
	if (r->counters) {
		if (e->index == 0)
			r->counters->bytes_in += n;
		else
			r->counters->bytes_out += n;
	}
	o->ops->kick(o);
	if (!r->finished)
		update_reading(e);
	relay_release(r);
}

static void maybe_shutdown(struct relay_end *o)
{
	/* o gets no more input once the other end hit EOF; close o's write side after flushing. */
	if (!o->shut_out && other(o)->eof_in && relay_end_pending(o) == 0) {
		o->shut_out = true;
		o->ops->shutdown_write(o);
		relay_check_finished(o->relay);
	}
}

void relay_end_eof(struct relay_end *e)
{
	struct relay *r = e->relay;

	r->busy++;
	e->eof_in = true;
	update_reading(e);
	maybe_shutdown(other(e));
	relay_release(r);
}

void relay_end_drained(struct relay_end *e)
{
	struct relay *r = e->relay;

	r->busy++;
	maybe_shutdown(e);
	if (!r->finished && other(e)->ops->sink_drained)
		other(e)->ops->sink_drained(other(e));
	/* A pipe that drained some has room again: no need to wait for the low mark. */
	if (!r->finished && (relay_end_pending(e) < RELAY_LOW_MARK || e->piped > 0))
		update_reading(other(e));
	relay_release(r);
}

void relay_end_blocked(struct relay_end *e)
{
	struct relay *r = e->relay;

	r->busy++;
	other(e)->pipe_full = true;
	update_reading(e);
	relay_release(r);
}

void relay_end_error(struct relay_end *e, int err)
{
	struct relay *r = e->relay;

	if (r->finished)
		return;
	log_debug("relay", "%s side failed: %s; resetting the other side",
	          e->index == 0 ? "client" : "target", strerror(-err));
	if (r->counters)
		r->counters->errors++;
	r->aborted = true;
	r->finished = true;
	r->busy++;
	relay_release(r);
}

void relay_abort(struct relay *r)
{
	if (r->finished)
		return;
	r->aborted = true;
	r->finished = true;
	r->busy++;
	relay_release(r);
}

void relay_close(struct relay *r)
{
	if (r->finished)
		return;
	r->finished = true;
	r->busy++;
	relay_release(r);
}

struct relay *relay_new(struct relay_end *client, struct relay_end *target, struct route_counters *counters,
                        relay_done_fn done, void *arg)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (!r) {
		client->ops->destroy(client, true);
		target->ops->destroy(target, true);
		return NULL;
	}
	r->end[0] = client;
	r->end[1] = target;
	r->counters = counters;
	r->done = done;
	r->done_arg = arg;
	for (int i = 0; i < 2; i++) {
		r->end[i]->relay = r;
		r->end[i]->index = i;
	}
	r->busy++;
	update_reading(client);
	update_reading(target);
	relay_release(r);
	return r;
}

struct relay *relay_new_fds(struct event_base *base, const struct broker_stream_desc *client,
                            const struct broker_stream_desc *target, struct route_counters *counters,
                            relay_done_fn done, void *arg)
{
	return relay_new_fds_spliced(base, client, target, NULL, counters, done, arg);
}

struct relay *relay_new_fds_spliced(struct event_base *base, const struct broker_stream_desc *client,
                                    const struct broker_stream_desc *target, struct relay_pipe_pool *pipes,
                                    struct route_counters *counters, relay_done_fn done, void *arg)
{
	struct relay_end *a = relay_fd_end_new(base, client);
	struct relay_end *b = relay_fd_end_new(base, target);

	if (!a || !b) {
		if (a)
			a->ops->destroy(a, true);
		if (b)
			b->ops->destroy(b, true);
		return NULL;
	}
	if (pipes)
		relay_fd_ends_splice(a, b, pipes);
	return relay_new(a, b, counters, done, arg);
}

void relay_dgram_send(struct evbuffer *buf, relay_dgram_send_fn send_fn, void *arg)
{
	uint8_t hdr[RELAY_DGRAM_HEADER];

	while (evbuffer_copyout(buf, hdr, sizeof(hdr)) == sizeof(hdr)) {
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(buf) < len + sizeof(hdr))
			break;
		uint8_t *p = evbuffer_pullup(buf, (ev_ssize_t)(len + sizeof(hdr)));
		if (send_fn(arg, p + sizeof(hdr), len) == -EAGAIN)
			break;
		/* Any other failure loses this datagram only, as UDP may. */
		evbuffer_drain(buf, len + sizeof(hdr));
	}
}
