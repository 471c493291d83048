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
struct relay_pipe_pool;
struct platform_pipe;

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
	size_t piped;             /* bytes waiting for this end in a kernel pipe (spliced relays) */
	bool pipe_full;           /* that pipe refused more: the other end waits until this end drains it */
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
/* The same, spliced when both descriptors allow it and pipes is not NULL (see below). */
struct relay *relay_new_fds_spliced(struct event_base *base, const struct broker_stream_desc *client,
                                    const struct broker_stream_desc *target, struct relay_pipe_pool *pipes,
                                    struct route_counters *counters, relay_done_fn done, void *arg);
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
/* Bytes waiting to be written to e: its buffer plus its pipe. */
size_t relay_end_pending(const struct relay_end *e);
/* e's input found the pipe toward the other end full (other(e)->pipe_full
 * is set): stop reading e until the other end drains some of it. */
void relay_end_blocked(struct relay_end *e);
/* e failed (-errno): abort the relay. */
void relay_end_error(struct relay_end *e, int err);

/*
 * Hand the whole datagrams queued in buf (relay.h framing) to send_fn, one
 * call each, until it returns -EAGAIN (kept for later); other failures drop
 * that datagram only.
 */
typedef ssize_t (*relay_dgram_send_fn)(void *arg, const uint8_t *data, size_t len);
void relay_dgram_send(struct evbuffer *buf, relay_dgram_send_fn send_fn, void *arg);

/*
 * Spliced relays (Linux): when both ends are plain unix or tcp stream
 * sockets, each direction moves its bytes socket -> pipe -> socket with
 * splice(2) and never copies them to user space.  The pipes come from a
 * pool: a direction holds one only while bytes are in it, and at most
 * max_idle emptied pipes (two descriptors each) are kept for reuse.
 * Backpressure, half-close and the byte counters work as on the buffer path.
 */
#define RELAY_PIPE_SIZE (256 * 1024)
#define RELAY_PIPE_MAX_IDLE 32
struct relay_pipe_stats {
	uint64_t opened;    /* pipes ever created */
	size_t in_use;      /* held by a relay direction now */
	size_t idle;        /* kept in the pool */
};
struct relay_pipe_pool *relay_pipe_pool_new(size_t max_idle, size_t pipe_size);
void relay_pipe_pool_free(struct relay_pipe_pool *pool);   /* after every relay using it is gone */
int relay_pipe_get(struct relay_pipe_pool *pool, struct platform_pipe *out);
/* holds_bytes: the pipe is not empty (a cut relay): close it rather than pool it. */
void relay_pipe_put(struct relay_pipe_pool *pool, struct platform_pipe *p, bool holds_bytes);
void relay_pipe_pool_stats(const struct relay_pipe_pool *pool, struct relay_pipe_stats *out);
/*
 * Both ends plain stream sockets splice can move (platform_splice_usable)
 * and pool not NULL: make a and b (from relay_fd_end_new) splice to each
 * other.  Returns true if they will; false leaves them on the buffer path.
 */
bool relay_fd_ends_splice(struct relay_end *a, struct relay_end *b, struct relay_pipe_pool *pool);

/* Build ends (used by relay_new_fds; link ends come later). */
struct relay_end *relay_fd_end_new(struct event_base *base, const struct broker_stream_desc *desc);
struct relay *relay_new(struct relay_end *client, struct relay_end *target, struct route_counters *counters,
                        relay_done_fn done, void *arg);

#endif
