/* link_stream.c - streams multiplexed on a link: OPEN/OPEN_OK/OPEN_ERR,
 * DATA under per-stream credit (WINDOW), half-close (FIN), reset (RST), and
 * round-robin scheduling of busy streams onto the link's output.
 *
 * A stream is a relay end: the relay moves bytes between it and a local
 * socket exactly as it does between two sockets. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/endpoint.h"
#include "broker/errfmt.h"
#include "broker/link_internal.h"
#include "broker/log.h"
#include "proto/link.pb-c.h"

#define TAG "link"

struct link_stream {
	struct relay_end base;        /* first: a relay_end * is a link_stream * */
	struct link *link;            /* NULL once the link is gone */
	struct link_stream *hnext;    /* hash chain */
	struct link_stream *rnext, *rprev;  /* ready list: data queued and credit to send it */
	bool in_ready;
	uint32_t deficit;             /* bytes left of its turn (deficit round robin) */
	bool mid_turn;                /* at the front to finish a turn the cap cut short */
	uint32_t id;
	uint32_t send_credit;         /* bytes we may still send */
	uint32_t recv_allowed;        /* bytes the peer may still send */
	uint64_t delivered;           /* bytes received and handed towards the local side */
	uint64_t granted;             /* of those, consumed bytes already returned as credit */
	uint32_t window;              /* receive window we grant; grows while the consumer keeps up */
	bool fin_sent, fin_recv, rst_seen;
	bool incoming;                /* the peer opened it */
	bool datagram;                /* one datagram per DATA frame (relay.h framing inside) */
	bool connecting;              /* incoming OPEN: counted in link->npending_connects */
	struct evbuffer *pending;     /* incoming OPEN: data received while connecting the target */
	struct connector *connector;  /* incoming OPEN: connecting the target */
	struct relay *relay;
	struct route_counters *counters;
	char *route;
};

/* ------------------------------------------------------------ table */

static size_t bucket_of(const struct link *l, uint32_t id)
{
	return (id * 2654435761u) & (l->nbuckets - 1);
}

void link_streams_init(struct link *l)
{
	l->nbuckets = 64;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
}

static struct link_stream *stream_find(const struct link *l, uint32_t id)
{
	if (!l->buckets)
		return NULL;
	for (struct link_stream *s = l->buckets[bucket_of(l, id)]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static void table_grow(struct link *l)
{
	size_t old = l->nbuckets;
	struct link_stream **nb = calloc(old * 2, sizeof(*nb));

	if (!nb)
		return;   /* keep the longer chains; still correct */
	struct link_stream **ob = l->buckets;
	l->buckets = nb;
	l->nbuckets = old * 2;
	for (size_t i = 0; i < old; i++) {
		struct link_stream *s = ob[i], *next;
		for (; s; s = next) {
			next = s->hnext;
			size_t b = bucket_of(l, s->id);
			s->hnext = nb[b];
			nb[b] = s;
		}
	}
	free(ob);
}

static int table_insert(struct link *l, struct link_stream *s)
{
	if (!l->buckets)
		return -ENOMEM;
	if (l->nstreams >= l->nbuckets)
		table_grow(l);
	size_t b = bucket_of(l, s->id);
	s->hnext = l->buckets[b];
	l->buckets[b] = s;
	l->nstreams++;
	l->stats.streams_total++;
	return 0;
}

static void table_remove(struct link *l, struct link_stream *s)
{
	struct link_stream **pp = &l->buckets[bucket_of(l, s->id)];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = s->hnext;
		l->nstreams--;
		l->ndatagram -= s->datagram;
	}
}

static void ready_remove(struct link *l, struct link_stream *s)
{
	if (!s->in_ready)
		return;
	if (s->rprev)
		s->rprev->rnext = s->rnext;
	else
		l->ready_head = s->rnext;
	if (s->rnext)
		s->rnext->rprev = s->rprev;
	else
		l->ready_tail = s->rprev;
	s->rnext = s->rprev = NULL;
	s->in_ready = false;
}

static void ready_push(struct link *l, struct link_stream *s)
{
	if (s->in_ready)
		return;
	s->rnext = NULL;
	s->rprev = l->ready_tail;
	s->in_ready = true;
	if (l->ready_tail)
		l->ready_tail->rnext = s;
	else
		l->ready_head = s;
	l->ready_tail = s;
}

/* s takes the next turn: an idle stream's short message, or a turn the cap cut short. */
static void ready_push_front(struct link *l, struct link_stream *s)
{
	if (s->in_ready)
		return;
	s->rprev = NULL;
	s->rnext = l->ready_head;
	s->in_ready = true;
	if (l->ready_head)
		l->ready_head->rprev = s;
	else
		l->ready_tail = s;
	l->ready_head = s;
}

static struct link_stream *ready_pop(struct link *l)
{
	struct link_stream *s = l->ready_head;

	if (s)
		ready_remove(l, s);
	return s;
}

bool link_streams_runnable(const struct link *l)
{
	return l->state == LINK_UP && l->ready_head != NULL;
}

/* ------------------------------------------------------------ relay end ops */

static void stream_set_reading(struct relay_end *e, bool on)
{
	/* Nothing to pause: the peer can only send what our credit allows. */
}

/*
 * The length of the next DATA frame s can send now (false: none).  A
 * datagram is never split, so it waits for credit for all of it (WINDOW
 * makes the stream runnable again); a byte stream's frame ends where its
 * first buffer chain ends when that is short of the limits, because whole
 * chains move between evbuffers without copying.
 */
static bool stream_next_frame(struct link_stream *s, size_t *len)
{
	size_t n = evbuffer_get_length(s->base.out);

	if (s->datagram) {
		uint8_t hdr[RELAY_DGRAM_HEADER];
		if (evbuffer_copyout(s->base.out, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return false;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (n > s->send_credit || evbuffer_get_length(s->base.out) < n + sizeof(hdr))
			return false;
		*len = n;
		return true;
	}
	struct evbuffer_iovec first;
	if (evbuffer_peek(s->base.out, -1, NULL, &first, 1) >= 1 && first.iov_len > 0 && first.iov_len < n)
		n = first.iov_len;
	if (n > s->send_credit)
		n = s->send_credit;
	if (n > LINK_MAX_DATA)
		n = LINK_MAX_DATA;
	*len = n;
	return n > 0;
}

/*
 * Deficit round robin: each turn adds LINK_QUANTUM to the stream's
 * allowance, and it sends whole frames while the next one fits in it, so
 * every busy stream gets the same bytes per round whatever its frame sizes
 * (a frame ends at a buffer chain, often a little under 64 KiB); what is
 * left over carries to its next turn, and a stream that runs out of data
 * forgets it.  Then it goes to the back of the queue if it can still send,
 * or stays at the front when the LINK_DATA_AHEAD cap cut its turn short
 * (stream_kick puts an idle stream with a short message at the front).
 * Stops while LINK_DATA_AHEAD bytes wait in the link's output (link_flush
 * calls again once they are written).
 */
void link_streams_pump(struct link *l)
{
	struct link_stream *s;

	if (l->state != LINK_UP)
		return;
	while (evbuffer_get_length(l->out) < LINK_DATA_AHEAD && (s = ready_pop(l)) != NULL) {
		size_t sent = 0, n;
		bool more;

		if (!s->mid_turn)
			s->deficit += LINK_QUANTUM;
		s->mid_turn = false;
		while ((more = stream_next_frame(s, &n)) && n + s->datagram <= s->deficit &&
		       evbuffer_get_length(l->out) < LINK_DATA_AHEAD) {
			if (s->datagram)
				evbuffer_drain(s->base.out, RELAY_DGRAM_HEADER);
			link_send_buffer(l, LINK_DATA, s->id, s->base.out, n);
			s->send_credit -= (uint32_t)n;
			s->deficit -= (uint32_t)(n + s->datagram);   /* empty datagrams still use a turn */
			sent += n + s->datagram;
		}
		if (!more) {
			s->deficit = 0;
		} else if (n + s->datagram <= s->deficit) {
			s->mid_turn = true;   /* the cap stopped it mid-turn: it goes on first */
			ready_push_front(l, s);
		} else {
			ready_push(l, s);
		}
		if (sent == 0)
			continue;
		/* Tell the relay: it resumes the local reader and sends FIN once all is framed. */
		struct relay *r = s->relay;
		relay_hold(r);
		relay_end_drained(&s->base);
		relay_release(r);
		if (l->state != LINK_UP)
			return;
	}
}

static void stream_kick(struct relay_end *e)
{
	struct link_stream *s = (struct link_stream *)e;
	struct link *l = s->link;

	if (!l || l->state != LINK_UP)
		return;
	size_t queued = evbuffer_get_length(e->out);
	if (s->send_credit > 0 && queued > 0) {
		/*
		 * A stream that was not waiting and now has a short message (a
		 * request, a keystroke, a ping) goes next, ahead of the bulk
		 * streams' turns, and now; once it has more than that it waits its
		 * turn at the back like any other.
		 */
		if (queued <= LINK_SPARSE_MAX) {
			ready_push_front(l, s);
			link_flush(l);
			return;
		}
		ready_push(l, s);
	}
	/* Bulk: frame and write once the other sockets ready now were read too. */
	link_flush_soon(l);
}

static void stream_shutdown_write(struct relay_end *e)
{
	struct link_stream *s = (struct link_stream *)e;

	if (!s->link || s->fin_sent)
		return;
	s->fin_sent = true;
	link_send(s->link, LINK_FIN, s->id, NULL, 0);
	link_flush(s->link);
}

static void stream_sink_drained(struct relay_end *e)
{
	struct link_stream *s = (struct link_stream *)e;
	struct link *l = s->link;
	uint64_t consumed, grant;
	uint8_t buf[4];

	if (!l || !s->relay || s->fin_recv)
		return;
	size_t backlog = evbuffer_get_length(relay_end_sink(e));
	consumed = s->delivered - backlog;
	grant = consumed - s->granted;
	/* Grant in quarters of the window: the sender rarely waits, and WINDOW frames stay few. */
	if (grant < s->window / 4)
		return;
	s->granted = consumed;
	/*
	 * The local consumer drained everything: the window, not the consumer,
	 * is what limits this stream, so let it grow (up to LINK_MAX_WINDOW).
	 * A slow consumer leaves a backlog and the window stays where it is, so
	 * memory per stream stays bounded by its window.
	 */
	if (backlog == 0 && s->window < LINK_MAX_WINDOW) {
		grant += s->window;
		s->window *= 2;
	}
	s->recv_allowed += (uint32_t)grant;
	buf[0] = (uint8_t)grant;
	buf[1] = (uint8_t)(grant >> 8);
	buf[2] = (uint8_t)(grant >> 16);
	buf[3] = (uint8_t)(grant >> 24);
	link_send(l, LINK_WINDOW, s->id, buf, sizeof(buf));
	link_flush(l);
}

/* The incoming OPEN's target connected, failed or was cancelled. */
static void stream_connect_done(struct link_stream *s)
{
	if (s->connecting && s->link)
		s->link->npending_connects--;
	s->connecting = false;
}

static void stream_free(struct link_stream *s)
{
	if (s->pending)
		evbuffer_free(s->pending);
	if (s->base.out)
		evbuffer_free(s->base.out);
	free(s->route);
	free(s);
}

/* Forget the stream on its link (if any). */
static void stream_detach(struct link_stream *s)
{
	struct link *l = s->link;

	if (!l)
		return;
	stream_connect_done(s);
	ready_remove(l, s);
	table_remove(l, s);
	s->link = NULL;
}

static void stream_destroy(struct relay_end *e, bool abort)
{
	struct link_stream *s = (struct link_stream *)e;
	struct link *l = s->link;
	bool rst = l && abort && !s->rst_seen && l->state == LINK_UP;

	/*
	 * Off the ready list first: the flush below pumps, and pumping this
	 * stream now would hand its relay (being destroyed) back to it.
	 */
	stream_detach(s);
	if (rst) {
		link_send(l, LINK_RST, s->id, NULL, 0);
		link_flush(l);
	}
	stream_free(s);
}

static const struct relay_end_ops stream_ops = {
	.set_reading = stream_set_reading,
	.kick = stream_kick,
	.shutdown_write = stream_shutdown_write,
	.destroy = stream_destroy,
	.sink_drained = stream_sink_drained,
};

static struct link_stream *stream_new(struct link *l, uint32_t id)
{
	struct link_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &stream_ops;
	s->base.out = evbuffer_new();
	s->link = l;
	s->id = id;
	s->send_credit = LINK_INITIAL_WINDOW;
	s->recv_allowed = LINK_INITIAL_WINDOW;
	s->window = LINK_INITIAL_WINDOW;
	if (!s->base.out || table_insert(l, s) < 0) {
		stream_free(s);
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------ opening */

static uint32_t next_id(struct link *l)
{
	uint32_t id;

	/* Ids only grow; after 2^31 streams they wrap and skip ids still in use. */
	do {
		id = l->next_stream_id;
		l->next_stream_id += 2;
		if (l->next_stream_id < 3)
			l->next_stream_id = l->p.dialer ? 1 : 2;
	} while (stream_find(l, id));
	return id;
}

int link_open_stream(struct link *l, const char *target, const char *route, uint64_t route_id,
                     const struct broker_stream_desc *client, struct route_counters *counters, relay_done_fn done,
                     void *arg, struct relay **out, char *err, size_t errlen)
{
	struct relay_end *local;

	if (l->state != LINK_UP) {
		stream_desc_discard(client);
		return errfmt(err, errlen, -ENOTCONN, "the link to the peer is down");
	}
	local = relay_fd_end_new(l->p.base, client);
	if (!local)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	return link_open_stream_end(l, target, route, route_id, client->peer, local,
	                            (client->flags & BROKER_STREAM_DATAGRAM) != 0, counters, done, arg, out, err, errlen);
}

int link_open_stream_end(struct link *l, const char *target, const char *route, uint64_t route_id, const char *client,
                         struct relay_end *local, bool datagram, struct route_counters *counters, relay_done_fn done,
                         void *arg, struct relay **out, char *err, size_t errlen)
{
	Broker__Link__Open open = BROKER__LINK__OPEN__INIT;
	struct link_stream *s;
	uint8_t *buf;
	size_t len;

	if (l->state != LINK_UP) {
		local->ops->destroy(local, true);
		return errfmt(err, errlen, -ENOTCONN, "the link to the peer is down");
	}
	if (l->nstreams >= (size_t)l->p.max_streams) {
		local->ops->destroy(local, true);
		l->stats.refused_by_limit++;
		return errfmt(err, errlen, -EMFILE, "the link carries %zu streams already (limit %d, --link-max-streams)",
		              l->nstreams, l->p.max_streams);
	}
	s = stream_new(l, next_id(l));
	if (!s) {
		local->ops->destroy(local, true);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	s->counters = counters;
	s->datagram = datagram;
	l->ndatagram += datagram;
	s->route = route ? strdup(route) : NULL;
	/* A route of the peer is named by its id alone: the peer knows where it leads. */
	open.target = (char *)(route_id || !target ? "" : target);
	open.route_id = route_id;
	open.route = (char *)(route ? route : "");
	open.client = (char *)(client ? client : "");
	open.datagram = datagram;
	if (rpc_pack_message(&open.base, &buf, &len) < 0) {
		stream_detach(s);
		stream_free(s);
		local->ops->destroy(local, true);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	link_send(l, LINK_OPEN, s->id, buf, len);
	free(buf);
	/* Data may follow OPEN at once: the peer buffers it (within the window) while it connects. */
	s->relay = relay_new(local, &s->base, counters, done, arg);
	if (!s->relay)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	link_flush(l);
	if (out)
		*out = s->relay;
	return 0;
}

static void send_open_err(struct link *l, uint32_t id, int errnum, const char *reason)
{
	Broker__Link__OpenError oe = BROKER__LINK__OPEN_ERROR__INIT;
	uint8_t *buf;
	size_t len;

	oe.errno_value = errnum < 0 ? -errnum : errnum;
	oe.reason = (char *)reason;
	if (rpc_pack_message(&oe.base, &buf, &len) == 0) {
		link_send(l, LINK_OPEN_ERR, id, buf, len);
		free(buf);
	}
	link_flush(l);
}

static void incoming_relay_done(void *arg, struct relay *r, bool aborted)
{
	/* The stream end is destroyed by the relay; nothing else to release. */
}

static void incoming_connected(void *arg, int err, const char *reason, const struct broker_stream_desc *desc)
{
	struct link_stream *s = arg;
	struct link *l = s->link;
	struct relay_end *local;
	struct relay *r;

	s->connector = NULL;
	stream_connect_done(s);
	if (err) {
		link_log_limited(l, BROKER_LOG_INFO, "stream %u: %s", s->id, reason ? reason : strerror(-err));
		send_open_err(l, s->id, err, reason ? reason : strerror(-err));
		stream_detach(s);
		stream_free(s);
		return;
	}
	local = relay_fd_end_new(l->p.base, desc);
	if (!local) {
		send_open_err(l, s->id, -ENOMEM, "out of memory");
		stream_detach(s);
		stream_free(s);
		return;
	}
	link_send(l, LINK_OPEN_OK, s->id, NULL, 0);
	r = relay_new(&s->base, local, NULL, incoming_relay_done, s);
	if (!r)
		return;   /* relay_new destroyed both ends; the stream's destroy sent RST */
	s->relay = r;
	relay_hold(r);
	size_t n = evbuffer_get_length(s->pending);
	evbuffer_add_buffer(local->out, s->pending);
	evbuffer_free(s->pending);
	s->pending = NULL;
	if (n)
		relay_end_input(&s->base, n);
	if (!relay_finished(r) && s->fin_recv)
		relay_end_eof(&s->base);
	relay_release(r);   /* may free s; l lives until its reaper runs */
	link_flush(l);
}

/* Refuse an OPEN with a reason the opener logs; the link stays up. */
static void refuse_open(struct link *l, uint32_t id, const Broker__Link__Open *open, int rc, const char *why)
{
	if (rc == -EPERM || rc == -EACCES)
		l->stats.opens_refused++;
	log_warn(TAG, "%s: stream %u: refused the peer's OPEN (its route %s, client %s): %s", l->carrier, id,
	         open->route[0] ? open->route : "-", open->client[0] ? open->client : "-", why);
	send_open_err(l, id, rc, why);
}

static void on_open(struct link *l, uint32_t id, const uint8_t *payload, size_t len)
{
	Broker__Link__Open *open;
	struct link_stream *s;
	char err[512], target[1024];
	int rc;

	if ((id & 1) == (l->p.dialer ? 1u : 0u) || id <= l->peer_max_id) {
		link_protocol_error(l, "OPEN with stream id %u (the peer must use new %s ids)", id,
		                    l->p.dialer ? "even" : "odd");
		return;
	}
	l->peer_max_id = id;
	/* The caps come first: a refused OPEN costs no allocation and no connect. */
	if (l->nstreams >= (size_t)l->p.max_streams || l->npending_connects >= (size_t)l->p.max_pending_connects) {
		char why[160];
		bool streams = l->nstreams >= (size_t)l->p.max_streams;
		if (streams)
			snprintf(why, sizeof(why), "too many streams on this link (%zu; limit %d, --link-max-streams)",
			         l->nstreams, l->p.max_streams);
		else
			snprintf(why, sizeof(why),
			         "too many connects in progress on this link (%zu; limit %d, --link-max-pending-connects)",
			         l->npending_connects, l->p.max_pending_connects);
		l->stats.refused_by_limit++;
		link_log_limited(l, BROKER_LOG_WARN, "stream %u refused: %s", id, why);
		send_open_err(l, id, streams ? -EMFILE : -EAGAIN, why);
		return;
	}
	open = broker__link__open__unpack(NULL, len, payload);
	if (!open) {
		link_protocol_error(l, "OPEN for stream %u does not decode", id);
		return;
	}
	/* What the peer may reach is this broker's decision, made before anything is connected. */
	struct link_open_request req = {
		.target = open->target, .route = open->route, .client = open->client,
		.route_id = open->route_id, .datagram = open->datagram,
	};
	err[0] = '\0';
	rc = l->p.cb.open_check ? l->p.cb.open_check(l->p.cb_arg, l, &req, target, sizeof(target), err, sizeof(err))
	                        : errfmt(err, sizeof(err), -EPERM, "this broker accepts no streams from its peer");
	if (rc < 0) {
		refuse_open(l, id, open, rc, err[0] ? err : strerror(-rc));
		broker__link__open__free_unpacked(open, NULL);
		return;
	}
	s = stream_new(l, id);
	if (s) {
		s->incoming = true;
		s->datagram = open->datagram;
		l->ndatagram += s->datagram;
		s->pending = evbuffer_new();
	}
	if (!s || !s->pending) {
		if (s) {
			stream_detach(s);
			stream_free(s);
		}
		send_open_err(l, id, -ENOMEM, "out of memory");
		broker__link__open__free_unpacked(open, NULL);
		return;
	}
	log_debug(TAG, "%s: stream %u: open %s for route %s (client %s)", l->carrier, id, target, open->route,
	          open->client);
	s->connecting = true;
	l->npending_connects++;
	if (endpoint_connect(l->p.plugins, target, incoming_connected, s, &s->connector, err, sizeof(err)) < 0) {
		link_log_limited(l, BROKER_LOG_INFO, "stream %u: %s", id, err);
		send_open_err(l, id, -EINVAL, err);
		stream_detach(s);
		stream_free(s);
	}
	broker__link__open__free_unpacked(open, NULL);
}

/* ------------------------------------------------------------ incoming frames */

static void on_open_result(struct link *l, struct link_stream *s, uint8_t type, const uint8_t *payload, size_t len)
{
	Broker__Link__OpenError *oe;

	if (s->incoming) {
		link_protocol_error(l, "%s for stream %u, which we did not open", link_frame_type_name(type), s->id);
		return;
	}
	if (type == LINK_OPEN_OK)
		return;
	oe = broker__link__open_error__unpack(NULL, len, payload);
	if (oe && (oe->errno_value == EPERM || oe->errno_value == EACCES)) {
		l->stats.refused_by_peer++;
		log_warn(TAG, "route %s: the peer refused the stream: %s", s->route ? s->route : "?",
		         oe->reason && *oe->reason ? oe->reason : "(no reason given)");
	} else {
		log_warn(TAG, "route %s: the peer could not connect: %s", s->route ? s->route : "?",
		         oe && oe->reason ? oe->reason : "(no reason given)");
	}
	if (oe)
		broker__link__open_error__free_unpacked(oe, NULL);
	if (s->counters)
		s->counters->errors++;
	/* The target is simply not there: the client sees a clean close, as with a local route. */
	s->rst_seen = true;
	relay_close(s->relay);
}

static void on_data(struct link *l, struct link_stream *s, size_t len)
{
	struct evbuffer *sink;

	if (s->fin_recv) {
		evbuffer_drain(l->in, len);
		link_protocol_error(l, "DATA after FIN on stream %u", s->id);
		return;
	}
	if (len > s->recv_allowed) {
		evbuffer_drain(l->in, len);
		link_protocol_error(l, "stream %u: %zu bytes of DATA beyond its window (%u)", s->id, len,
		                    s->recv_allowed);
		return;
	}
	s->recv_allowed -= (uint32_t)len;
	sink = s->relay ? relay_end_sink(&s->base) : s->pending;
	if (s->datagram) {
		/* Keep the boundary: length in front, as relay.h describes. */
		uint8_t hdr[RELAY_DGRAM_HEADER] = { (uint8_t)(len >> 8), (uint8_t)len };
		evbuffer_add(sink, hdr, sizeof(hdr));
		len += sizeof(hdr);
		evbuffer_remove_buffer(l->in, sink, len - sizeof(hdr));
	} else {
		evbuffer_remove_buffer(l->in, sink, len);
	}
	s->delivered += len;
	if (!s->relay)
		return;
	struct relay *r = s->relay;
	relay_hold(r);
	relay_end_input(&s->base, len);
	relay_release(r);
}

static void on_window(struct link *l, struct link_stream *s, const uint8_t *p)
{
	uint32_t add = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	if ((uint64_t)s->send_credit + add > 0x7fffffffu) {
		link_protocol_error(l, "stream %u: WINDOW overflows the credit", s->id);
		return;
	}
	s->send_credit += add;
	if (s->relay && evbuffer_get_length(s->base.out) > 0)
		ready_push(l, s);
}

static void on_fin(struct link *l, struct link_stream *s)
{
	if (s->fin_recv) {
		link_protocol_error(l, "second FIN on stream %u", s->id);
		return;
	}
	s->fin_recv = true;
	if (s->relay) {
		struct relay *r = s->relay;
		relay_hold(r);
		relay_end_eof(&s->base);
		relay_release(r);
	}
}

static void on_rst(struct link *l, struct link_stream *s)
{
	s->rst_seen = true;
	if (s->relay) {
		struct relay *r = s->relay;
		relay_hold(r);
		relay_end_error(&s->base, -ECONNRESET);
		relay_release(r);
		return;
	}
	/* Still connecting the target for an incoming OPEN. */
	connector_cancel(s->connector);
	s->connector = NULL;
	stream_connect_done(s);
	stream_detach(s);
	stream_free(s);
}

/* Was id ever opened on this link (and is now closed), as opposed to never seen? */
static bool id_was_used(const struct link *l, uint32_t id)
{
	bool ours = (id & 1) == (l->p.dialer ? 1u : 0u);

	return ours ? id < l->next_stream_id : id <= l->peer_max_id;
}

void link_stream_frame(struct link *l, const struct link_frame_header *h)
{
	struct link_stream *s;
	uint8_t *payload = NULL;

	if (h->type == LINK_DATA) {
		s = stream_find(l, h->stream);
		if (s) {
			on_data(l, s, h->length);
			return;
		}
		evbuffer_drain(l->in, h->length);
		goto unknown;
	}
	if (h->length) {
		payload = malloc(h->length);
		if (!payload) {
			evbuffer_drain(l->in, h->length);
			link_protocol_error(l, "out of memory");
			return;
		}
		evbuffer_remove(l->in, payload, h->length);
	}
	if (h->type == LINK_OPEN) {
		on_open(l, h->stream, payload, h->length);
		free(payload);
		return;
	}
	s = stream_find(l, h->stream);
	if (!s) {
		free(payload);
		goto unknown;
	}
	switch (h->type) {
	case LINK_OPEN_OK:
	case LINK_OPEN_ERR:
		on_open_result(l, s, h->type, payload, h->length);
		break;
	case LINK_WINDOW:
		on_window(l, s, payload);
		break;
	case LINK_FIN:
		on_fin(l, s);
		break;
	case LINK_RST:
		on_rst(l, s);
		break;
	}
	free(payload);
	return;
unknown:
	/* Frames racing a close are normal; frames for streams that never existed are not. */
	if (id_was_used(l, h->stream)) {
		log_debug(TAG, "%s: %s for closed stream %u ignored", l->carrier, link_frame_type_name(h->type),
		          h->stream);
		return;
	}
	l->stats.protocol_errors++;
	link_log_limited(l, BROKER_LOG_WARN, "%s for unknown stream %u from peer %s; resetting it",
	                 link_frame_type_name(h->type), h->stream, l->peer_id);
	if (h->type != LINK_RST) {
		link_send(l, LINK_RST, h->stream, "unknown stream", 14);
		link_flush(l);
	}
}

/* ------------------------------------------------------------ teardown */

void link_streams_reset_all(struct link *l)
{
	for (size_t b = 0; l->buckets && b < l->nbuckets; b++) {
		while (l->buckets[b]) {
			struct link_stream *s = l->buckets[b];
			stream_detach(s);
			if (s->relay) {
				struct relay *r = s->relay;
				relay_hold(r);
				relay_end_error(&s->base, -ECONNRESET);
				relay_release(r);   /* destroys s unless a caller holds the relay */
			} else {
				/* Still connecting the target for an incoming OPEN: stop that. */
				if (s->connector) {
					connector_cancel(s->connector);
					s->connector = NULL;
				}
				stream_free(s);
			}
		}
	}
	l->ready_head = l->ready_tail = NULL;
}

void link_streams_free(struct link *l)
{
	free(l->buckets);
	l->buckets = NULL;
}
