/* rpc.h - protobuf RPC envelope and method dispatch, shared by the control
 * RPC (NNG) and, later, the link between brokers. */
#ifndef BROKER_RPC_H
#define BROKER_RPC_H

#include <stddef.h>
#include <stdint.h>
#include "proto/rpc.pb-c.h"

/* Requests and replies above this size are refused (BAD_REQUEST) unread. */
#define RPC_MAX_MESSAGE (4u * 1024 * 1024)

/*
 * A method handler.  body/len is the request body (protobuf of the method's
 * request type, possibly empty).  On success it sets *reply to a packed
 * reply body (malloc'd, may be NULL with *reply_len 0) and returns
 * BROKER__RPC__STATUS__OK; on failure it writes a one-line reason into err
 * and returns another status.
 */
typedef Broker__Rpc__Status (*rpc_handler_fn)(void *ctx, const uint8_t *body, size_t len,
                                              uint8_t **reply, size_t *reply_len,
                                              char *err, size_t errlen);

/*
 * A method that may answer later, when something it waits for happens (the
 * peer broker's answer).  Called like a handler, with d: to answer later it
 * calls rpc_defer(d) and returns BROKER__RPC__STATUS__OK with no reply, and
 * then calls rpc_deferred_reply(d, ...) exactly once.  d is NULL on
 * transports that cannot wait (rpc_dispatch): then it answers at once.
 */
struct rpc_deferred;
typedef Broker__Rpc__Status (*rpc_deferrable_fn)(void *ctx, struct rpc_deferred *d, const uint8_t *body,
                                                 size_t len, uint8_t **reply, size_t *reply_len, char *err,
                                                 size_t errlen);

struct rpc_method {
	const char *service;
	const char *method;
	rpc_handler_fn handler;
};

/* A table of such methods, ending with { NULL }, beside a transport's ordinary table. */
struct rpc_deferrable_method {
	const char *service;
	const char *method;
	rpc_deferrable_fn handler;
};

/* Counters a dispatcher keeps (shown in status and /metrics). */
struct rpc_counters {
	uint64_t requests;
	uint64_t errors;       /* replies with status != OK */
	uint64_t malformed;    /* undecodable or oversized input */
};

/*
 * Decode one request envelope, run the matching method from table
 * (terminated by a {NULL} entry), and produce a packed reply envelope in
 * *out (malloc'd).  Always produces a reply, even for garbage input
 * (status BAD_REQUEST, call_id 0), unless the input is not a request at all
 * (is_reply set), in which case it returns -EINVAL and *out is NULL.
 */
int rpc_dispatch(const struct rpc_method *table, void *ctx, struct rpc_counters *counters,
                 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);

/*
 * The same, on a transport that can send a reply later, with the methods
 * of deferrables too (looked up first): send(arg, d, buf,
 * len) is how a deferred reply goes out (it takes buf).  When the method
 * deferred, *out is NULL, *pending the call to answer, and 0 is returned;
 * the transport keeps *pending until send runs, and calls
 * rpc_deferred_detach(*pending) if it goes away first.
 */
typedef void (*rpc_send_fn)(void *arg, struct rpc_deferred *d, uint8_t *buf, size_t len);
int rpc_dispatch_deferrable(const struct rpc_method *table, const struct rpc_deferrable_method *deferrables,
                            void *ctx, struct rpc_counters *counters, const uint8_t *in, size_t in_len,
                            uint8_t **out, size_t *out_len, rpc_send_fn send, void *send_arg,
                            struct rpc_deferred **pending);
/* Inside a deferrable method: answer later. */
void rpc_defer(struct rpc_deferred *d);
/* The reply of a deferred call (body borrowed); frees d.  Sends nothing if the transport went away. */
void rpc_deferred_reply(struct rpc_deferred *d, Broker__Rpc__Status status, const char *error, const uint8_t *body,
                        size_t body_len);
/* The transport is going away: a later rpc_deferred_reply only frees d. */
void rpc_deferred_detach(struct rpc_deferred *d);

/* Build a packed request envelope. */
int rpc_pack_request(uint64_t call_id, const char *service, const char *method,
                     const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len);

/*
 * Decode a reply envelope for call_id.  Returns 0 and fills status, error
 * (copied into err) and the body (malloc'd copy) or a negative error if the
 * bytes are not a reply to that call.
 */
int rpc_unpack_reply(const uint8_t *in, size_t in_len, uint64_t call_id, Broker__Rpc__Status *status,
                     uint8_t **body, size_t *body_len, char *err, size_t errlen);

/* Pack any protobuf-c message into a malloc'd buffer. */
int rpc_pack_message(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len);

#endif
