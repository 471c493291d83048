/* link.h - one framed, multiplexed connection to the peer broker over any
 * byte-stream carrier (unix, tcp, vsock, a child's stdio, our own stdio).
 * See broker-link(7) for the protocol. */
#ifndef BROKER_LINK_H
#define BROKER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "broker/counters.h"
#include "broker/plugin.h"
#include "broker/relay.h"
#include "rpc/rpc.h"

struct event_base;
struct plugin_registry;
struct link;

enum link_state {
	LINK_HANDSHAKE = 0,   /* HELLO/AUTH under way */
	LINK_UP,              /* streams and RPC flow */
	LINK_CLOSED,          /* carrier closed; the link is about to be freed */
};

/* What the peer asked for in an OPEN (see link_callbacks.open_check). */
struct link_open_request {
	const char *target;        /* an endpoint URL on this side; "" when route_id is set */
	const char *route;         /* the route's name on the opener's side, for logs */
	const char *client;        /* who connected there, for logs */
	uint64_t route_id;         /* one of our routes (the id we sent in PeerRoute); 0: none */
	bool datagram;
};

struct link_callbacks {
	/* Handshake done: the peer is who it says (if auth was required). */
	void (*up)(void *arg, struct link *l);
	/* The link is gone (why: one line).  Every stream was reset; l is freed after return. */
	void (*down)(void *arg, struct link *l, const char *why);
	/*
	 * The peer opens a stream: may it, and to what?  Write the endpoint URL
	 * to connect into target and return 0, or return -errno with one line
	 * in why, which goes back in OPEN_ERR (-EPERM: refused by this broker's
	 * policy; counted in opens_refused).  NULL refuses every OPEN.
	 */
	int (*open_check)(void *arg, struct link *l, const struct link_open_request *req, char *target,
	                  size_t targetlen, char *why, size_t whylen);
};

struct link_params {
	struct event_base *base;
	struct plugin_registry *plugins;   /* resolves OPEN targets */
	bool dialer;                       /* we opened the carrier: our stream ids are odd */
	bool require_auth;                 /* the peer must prove it knows the secret */
	bool encrypt;                      /* seal every frame after the handshake; needs require_auth */
	const uint8_t *secret;             /* NULL: we cannot prove anything */
	size_t secret_len;
	const char *secret_error;          /* secret NULL: why ("...: readable by others; run chmod 600 ...") */
	const char *broker_id;
	const char *carrier;               /* the carrier's URL, for logs and status */
	int keepalive_ms;                  /* PING interval */
	int timeout_ms;                    /* no frame for this long: the peer is dead */
	int handshake_timeout_ms;
	/* Bounds against a hostile peer (brokerd(8) LIMITS); 0 takes the built-in default. */
	int max_streams;                   /* streams open at once, either direction */
	int max_pending_connects;          /* the peer's OPENs still connecting their target */
	size_t max_output;                 /* queued output past this: the peer is not reading; drop the link */
	int rpc_timeout_ms;                /* link_call not answered by then: reply -ETIMEDOUT */
	const struct rpc_method *rpc_methods;  /* what the peer may call on us; ctx is the link */
	void *rpc_ctx;                     /* returned by link_rpc_context() */
	struct link_callbacks cb;
	void *cb_arg;
};

struct link_stats {
	enum link_state state;
	const char *carrier;
	const char *peer_id;
	const char *peer_host;
	const char *peer_software;
	bool dialer;
	bool authenticated;
	bool encrypted;             /* frames travel in sealed records (link_crypto.h) */
	uint32_t version;
	int64_t up_since;           /* unix seconds, 0 before up */
	int64_t rtt_us;             /* last PING round trip; -1 unknown */
	uint64_t bytes_sent, bytes_received;   /* carrier bytes including framing */
	uint64_t frames_sent, frames_received;
	uint64_t streams_open;
	uint64_t datagram_streams_open;   /* of streams_open: UDP flows */
	uint64_t streams_total;
	uint64_t protocol_errors;
	uint64_t refused_by_limit;        /* OPENs refused by max_streams / max_pending_connects */
	uint64_t opens_refused;     /* the peer's OPENs this broker's policy refused */
	uint64_t listens_refused;   /* the peer's listen requests this broker's policy refused */
	uint64_t refused_by_peer;   /* our OPENs and listen requests the peer's policy refused */
};

/*
 * Start a link over a connected carrier (ownership of its fds passes to the
 * link, even on failure).  Sends HELLO at once.  Returns 0 or -errno.
 */
int link_new(const struct link_params *p, const struct broker_stream_desc *carrier, struct link **out);

/* Say GOAWAY (why), reset every stream, close the carrier; down() runs later from the loop. */
void link_close(struct link *l, const char *why);

enum link_state link_state(const struct link *l);
void link_get_stats(const struct link *l, struct link_stats *st);

/* Count a refusal seen outside the link (listen requests, in peer.c). */
enum link_refusal { LINK_REFUSED_LISTEN, LINK_REFUSED_BY_PEER };
void link_count_refusal(struct link *l, enum link_refusal what);

/*
 * Relay a local stream (ownership passes) to the peer: to route_id, one of
 * the peer's routes (it gave us the id in PeerRoute), or, when route_id is
 * 0, to `target`, an endpoint URL on the peer that its policy must allow.
 * Data may flow before the peer answers OPEN_OK; if it answers OPEN_ERR
 * the client sees a clean close and counters->errors grows.
 */
int link_open_stream(struct link *l, const char *target, const char *route, uint64_t route_id,
                     const struct broker_stream_desc *client, struct route_counters *counters, relay_done_fn done,
                     void *arg, struct relay **out, char *err, size_t errlen);

/* The same with a ready relay end as the local side (UDP flows); datagram: one message per DATA frame. */
int link_open_stream_end(struct link *l, const char *target, const char *route, uint64_t route_id, const char *client,
                         struct relay_end *local, bool datagram, struct route_counters *counters, relay_done_fn done,
                         void *arg, struct relay **out, char *err, size_t errlen);

/*
 * Call a method on the peer.  reply runs exactly once: with err 0 and the
 * peer's status, -ETIMEDOUT when no answer came within rpc_timeout_ms, or
 * -ECONNRESET if the link dies first.
 */
typedef void (*link_reply_fn)(void *arg, int err, Broker__Rpc__Status status, const char *errtext,
                              const uint8_t *body, size_t len);
int link_call(struct link *l, const char *service, const char *method, const uint8_t *body, size_t len,
              link_reply_fn reply, void *arg);

/* Link-RPC handlers get the struct link * as their ctx; this is params.rpc_ctx. */
void *link_rpc_context(const struct link *l);

#endif
