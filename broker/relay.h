/* relay.h - move bytes between two ends of a connection, both ways, with
 * backpressure and half-close.  An end is anything that can produce and
 * consume bytes: a socket or pipe pair (relay_fd.c) or, later, a stream
 * inside the link to the peer broker. */
#ifndef BROKER_RELAY_H
#define BROKER_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "broker/counters.h"
#include "broker/plugin.h"

struct event_base;
struct evbuffer;
struct relay;

/* Bytes read from one end per call, and the backpressure marks on an end's output. */
#define RELAY_READ_CHUNK (64 * 1024)
/*
 * What one read reserves.  libevent allocates a chain as its header plus the
 * data, rounded up to a power of two: asking for a little under 64 KiB keeps
 * each chain at 64 KiB instead of 128 KiB, which halves the memory touched
 * per byte and stops glibc from trimming and re-growing the heap.
 */
#define RELAY_READ_RESERVE (RELAY_READ_CHUNK - 256)
#define RELAY_HIGH_MARK (256 * 1024)
#define RELAY_LOW_MARK (64 * 1024)

/*
 * Datagram ends (UDP) keep message boundaries inside the byte-oriented
 * buffers: each message is stored as a 2-byte big-endian length and its
 * bytes.  Link streams opened as datagram streams carry one message per
 * DATA frame.
 */
#define RELAY_DGRAM_HEADER 2
#define RELAY_DGRAM_MAX 65535

struct relay_end;

struct relay_end_ops {
	/* Start or stop producing input (reading the source). */
	void (*set_reading)(struct relay_end *e, bool on);
	/* e->out has new bytes: write what can be written now, arm for the rest. */
	void (*kick)(struct relay_end *e);
	/* e->out is empty and no more bytes will come: half-close this end. */
	void (*shutdown_write)(struct relay_end *e);
	/* Release the end; abort: make the far side see a reset, not a clean end. */
	void (*destroy)(struct relay_end *e, bool abort);
	/* Optional: the other end wrote out some of what this end produced (credit-based ends grant more). */
	void (*sink_drained)(struct relay_end *e);
};

struct relay_end {
	const struct relay_end_ops *ops;
	struct relay *relay;
	int index;                /* 0: the accepted side, 1: the target side */
	struct evbuffer *out;     /* bytes waiting to be written to this end */
	bool eof_in;              /* this end will produce no more input */
	bool shut_out;            /* this end's write side is closed */
	bool reading;
};

/* Called once when the relay is finished (both directions closed, or aborted). */
typedef void (*relay_done_fn)(void *arg, struct relay *r, bool aborted);

/*
 * Relay between two streams.  Takes ownership of both descriptors (even on
 * failure).  counters (may be NULL) receive bytes_in (client -> target),
 * bytes_out and errors; they must outlive the relay.
 */
struct relay *relay_new_fds(struct event_base *base, const struct broker_stream_desc *client,
                            const struct broker_stream_desc *target, struct route_counters *counters,
                            relay_done_fn done, void *arg);
/* Reset both sides now (route removed, drain timeout); done runs with aborted=true. */
void relay_abort(struct relay *r);
/* End both sides cleanly now (the far target refused): clients see an ordinary close. */
void relay_close(struct relay *r);

/* ---- for end implementations ---- */

/*
 * An end's event callback wraps its work in relay_hold/relay_release so the
 * relay (and the end) outlive the callback even if it finishes the relay;
 * after any relay_end_* call it checks relay_finished before going on.
 */
void relay_hold(struct relay *r);
void relay_release(struct relay *r);
bool relay_finished(const struct relay *r);

/* The buffer an end appends its input to (the other end's out). */
struct evbuffer *relay_end_sink(struct relay_end *e);
/* e appended n bytes to its sink. */
void relay_end_input(struct relay_end *e, size_t n);
/* e reached the end of its input. */
void relay_end_eof(struct relay_end *e);
/* e wrote some of e->out (check backpressure / pending half-close). */
void relay_end_drained(struct relay_end *e);
/* e failed (-errno): abort the relay. */
void relay_end_error(struct relay_end *e, int err);

/*
 * Hand the whole datagrams queued in buf (relay.h framing) to send_fn, one
 * call each, until it returns -EAGAIN (kept for later); other failures drop
 * that datagram only.
 */
typedef ssize_t (*relay_dgram_send_fn)(void *arg, const uint8_t *data, size_t len);
void relay_dgram_send(struct evbuffer *buf, relay_dgram_send_fn send_fn, void *arg);

/* Build ends (used by relay_new_fds; link ends come later). */
struct relay_end *relay_fd_end_new(struct event_base *base, const struct broker_stream_desc *desc);
struct relay *relay_new(struct relay_end *client, struct relay_end *target, struct route_counters *counters,
                        relay_done_fn done, void *arg);

#endif
