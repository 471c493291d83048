/* link_internal.h - what link.c (carrier, frames, handshake, RPC) and
 * link_stream.c (multiplexed streams, credit) share. */
#ifndef BROKER_LINK_INTERNAL_H
#define BROKER_LINK_INTERNAL_H

#include "broker/printf_attr.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include "broker/link.h"
#include "broker/link_frame.h"
#include "broker/log.h"

/*
 * Scheduling of stream DATA onto the carrier (link_flush, link_streams_pump).
 * A DATA frame is framed into the link's output only while less than
 * LINK_DATA_AHEAD bytes wait there: the streams' data waits in their own
 * buffers, not in the output, so a control frame (WINDOW, PONG, RST, OPEN,
 * an RPC) queued now waits behind at most one DATA frame and the rest of
 * the one before, plus the carrier's own buffer (LINK_CARRIER_BUFFER on
 * sockets).  Runnable streams take turns of LINK_QUANTUM bytes (deficit
 * round robin: whole frames, the rest carried to the next turn), except
 * that a stream which had nothing queued and now has at most
 * LINK_SPARSE_MAX bytes (a request, a keystroke, a ping) takes the next
 * turn instead of the last, and is flushed at once.  LINK_FLUSH_ROUNDS
 * bounds one flush's pump/write rounds before it yields to the loop (the
 * write event picks up the rest).  The carrier is read up to
 * LINK_READS_PER_EVENT chunks per wakeup (it carries every stream, so it
 * gets more per turn of the loop than one local socket does).
 */
#define LINK_DATA_AHEAD (16 * 1024)
#define LINK_QUANTUM (64 * 1024)
#define LINK_SPARSE_MAX (16 * 1024)
#define LINK_FLUSH_ROUNDS 16
#define LINK_READS_PER_EVENT 16
/*
 * SO_SNDBUF and SO_RCVBUF of a socket carrier (the kernel doubles them):
 * room for a write of a frame or two, and a frame written behind bulk data
 * reaches the peer well within a millisecond at 500 MB/s.
 */
#define LINK_CARRIER_BUFFER (64 * 1024)
/*
 * Input: at most LINK_INPUT_FRAMES frames are handled per loop turn, and
 * nothing more is read from the carrier while whole frames wait to be
 * handled, so a peer flooding small frames gets the loop in slices and
 * waits on its carrier rather than in our memory.
 */
#define LINK_INPUT_FRAMES 128

struct link_stream;
struct link_call;

struct link {
	struct link_params p;
	char *carrier;
	char *broker_id;
	broker_fd rfd, wfd;
	uint32_t carrier_flags;
	void (*carrier_on_close)(void *);
	void *carrier_close_arg;
	struct event *rev, *wev;
	struct event *keepalive;      /* PING + dead-peer check */
	struct event *reaper;         /* runs down() from the loop after close */
	struct event *flush_ev;       /* link_flush_soon: runs once the loop's other ready callbacks ran */
	bool flush_pending;
	struct evbuffer *in, *out;
	enum link_state state;
	bool reading;
	bool closing;
	bool flushing;                /* inside link_flush: nested calls only ask for another round */
	bool flush_again;
	char close_reason[256];
	int busy;                     /* callback depth: free only at 0 */

	/* handshake */
	uint8_t nonce[32], peer_nonce[32];
	bool hello_received, auth_ok, auth_sent;
	bool auth_accepted;           /* the peer confirmed our proof (AUTH_OK) */
	uint32_t version;
	char *peer_id, *peer_host, *peer_software;
	bool peer_wants_auth;
	uint8_t *hello_sent;          /* our HELLO payload, for the transcript */
	size_t hello_sent_len;
	uint8_t transcript[32];       /* of both HELLOs (link_transcript), once the peer's arrived */

	/* record layer (link_crypto.c): NULL for a plaintext link */
	struct link_crypto *crypto;
	struct evbuffer *wire_in;     /* sealed bytes read, not yet opened */
	struct evbuffer *wire_out;    /* bytes ready for the carrier: sealed records, or the plaintext handshake */

	/* streams */
	struct link_stream **buckets;
	size_t nbuckets, nstreams;
	size_t ndatagram;             /* of nstreams: UDP flows, which never end by themselves */
	uint32_t next_stream_id;      /* ours: odd for the dialer, even for the acceptor */
	uint32_t peer_max_id;         /* highest id the peer opened */
	struct link_stream *ready_head, *ready_tail;  /* streams with data and credit */

	/* RPC */
	uint64_t next_call_id;
	struct link_call *calls;
	struct event *rpc_timer;      /* fails calls past their deadline */

	/* bounds (link_params max_*) */
	bool overflowed;              /* output passed max_output: frames are dropped, the link goes */
	struct event *overflow_ev;    /* shuts the link from the loop, never inside a caller */
	struct event *resume;         /* handles input left over when a turn's budget ran out */
	bool input_backlog;           /* whole frames wait in `in`: read no more until they are handled */
	size_t npending_connects;     /* the peer's OPENs still connecting */
	uint64_t refusal_logged_us;   /* link_warn_limited: at most one line a second ... */
	uint64_t refusals_unlogged;   /* ... with the count of those not logged */

	/* keepalive */
	uint64_t last_rx_us;
	uint64_t ping_sent_us;
	int64_t rtt_us;
	int64_t up_since;

	struct link_stats stats;
};

uint64_t link_now_us(void);

/* Queue a frame (header + payload bytes or a buffer moved in); link_flush sends it. */
void link_send(struct link *l, uint8_t type, uint32_t stream, const void *payload, size_t len);
void link_send_buffer(struct link *l, uint8_t type, uint32_t stream, struct evbuffer *from, size_t len);
/*
 * Move output: frame DATA from runnable streams (within LINK_DATA_AHEAD)
 * and write to the carrier, until it pushes back or nothing is left; arm
 * the write event for the rest.  Call it after queueing a frame, granting
 * credit or adding stream data.  Safe to call from inside itself.
 */
void link_flush(struct link *l);
/*
 * link_flush once the callbacks ready in this turn of the loop have run:
 * local sockets that became readable together are framed and written in
 * one pump and one write instead of one each.
 */
void link_flush_soon(struct link *l);
void link_protocol_error(struct link *l, const char *fmt, ...) BROKER_PRINTF(2, 3);
/* A warning the peer can provoke at will: at most one a second per link (with how many were not logged). */
void link_log_limited(struct link *l, enum broker_log_level level, const char *fmt, ...) BROKER_PRINTF(3, 4);

/* link_stream.c */
void link_streams_init(struct link *l);
/* One stream-level frame from the peer (type OPEN..RST); payload is the rest of l->in up to len. */
void link_stream_frame(struct link *l, const struct link_frame_header *h);
/* Frame DATA from runnable streams into the link's output while under LINK_DATA_AHEAD. */
void link_streams_pump(struct link *l);
/* Is a stream waiting with data and credit? */
bool link_streams_runnable(const struct link *l);
/* The link died: reset every stream. */
void link_streams_reset_all(struct link *l);
void link_streams_free(struct link *l);

#endif
