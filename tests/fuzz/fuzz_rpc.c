/* fuzz_rpc.c - libFuzzer target: rpc_dispatch on arbitrary bytes with a
 * small method table (echo, a failing method with and without a reason,
 * and one that decodes a link RoutesSync body and answers it the way the
 * peer service does).  Also runs rpc_unpack_reply on the same bytes.
 *
 * Invariants: dispatch returns 0 with a reply envelope that decodes, is a
 * reply, and echoes the request's call_id (0 when the request did not
 * decode), or returns -EINVAL with no reply exactly when the input is a
 * reply envelope. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/link.pb-c.h"
#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Broker__Rpc__Status m_echo(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                  char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	if (len) {
		*reply = malloc(len);
		if (!*reply)
			return BROKER__RPC__STATUS__ERROR;
		memcpy(*reply, body, len);
	}
	*reply_len = len;
	return BROKER__RPC__STATUS__OK;
}

static Broker__Rpc__Status m_fail(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                  char *err, size_t errlen)
{
	(void)ctx;
	/* A reply body on failure must be dropped by the dispatcher, not leaked. */
	*reply = malloc(4);
	*reply_len = *reply ? 4 : 0;
	if (*reply)
		memset(*reply, 'x', 4);
	/* A long reason is cut, never overflowed. */
	snprintf(err, errlen, "failed on %zu bytes: %.*s%0400d", len, (int)(len < 64 ? len : 64),
	         (const char *)body, 0);
	return BROKER__RPC__STATUS__ERROR;
}

static Broker__Rpc__Status m_fail_silent(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	(void)ctx;
	(void)body;
	(void)len;
	(void)reply;
	(void)reply_len;
	(void)err;
	(void)errlen;
	return BROKER__RPC__STATUS__NOT_FOUND;
}

/* Shaped like peer.routes_sync: decode the request, answer one result per route. */
static Broker__Rpc__Status m_routes_sync(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	Broker__Link__RoutesSync *req = broker__link__routes_sync__unpack(NULL, len, body);
	Broker__Link__RoutesSyncReply rep = BROKER__LINK__ROUTES_SYNC_REPLY__INIT;
	Broker__Link__RouteResult *res, **ptrs;
	Broker__Rpc__Status st = BROKER__RPC__STATUS__OK;

	(void)ctx;
	if (!req) {
		snprintf(err, errlen, "routes_sync body does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	res = calloc(req->n_routes ? req->n_routes : 1, sizeof(*res));
	ptrs = calloc(req->n_routes ? req->n_routes : 1, sizeof(*ptrs));
	if (!res || !ptrs) {
		st = BROKER__RPC__STATUS__ERROR;
		goto out;
	}
	for (size_t i = 0; i < req->n_routes; i++) {
		broker__link__route_result__init(&res[i]);
		res[i].name = req->routes[i]->name;
		res[i].ok = req->routes[i]->max_connections != 0;
		res[i].state = req->routes[i]->listen;
		ptrs[i] = &res[i];
	}
	rep.generation = req->generation;
	rep.n_results = req->n_routes;
	rep.results = ptrs;
	if (rpc_pack_message(&rep.base, reply, reply_len) < 0)
		st = BROKER__RPC__STATUS__ERROR;
	else {
		/* The reply must decode back to the same generation and count. */
		Broker__Link__RoutesSyncReply *back = broker__link__routes_sync_reply__unpack(NULL, *reply_len, *reply);
		if (!back || back->generation != req->generation || back->n_results != req->n_routes)
			abort();
		broker__link__routes_sync_reply__free_unpacked(back, NULL);
	}
out:
	free(ptrs);
	free(res);
	broker__link__routes_sync__free_unpacked(req, NULL);
	return st;
}

static const struct rpc_method table[] = {
	{ "t", "echo", m_echo },
	{ "t", "fail", m_fail },
	{ "t", "silent", m_fail_silent },
	{ "peer", "routes_sync", m_routes_sync },
	{ "t", "nohandler", NULL },
	{ NULL, NULL, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_counters counters = { 0 };
	Broker__Rpc__Envelope *req, *rep;
	uint8_t *out = NULL, *body = NULL;
	size_t out_len = 0, body_len = 0;
	Broker__Rpc__Status st;
	char err[256];
	int rc;

	req = broker__rpc__envelope__unpack(NULL, size, data);
	rc = rpc_dispatch(table, NULL, &counters, data, size, &out, &out_len);
	if (req && req->is_reply) {
		if (rc != -EINVAL || out)
			abort();
	} else {
		if (rc != 0 || !out)
			abort();
		rep = broker__rpc__envelope__unpack(NULL, out_len, out);
		if (!rep || !rep->is_reply)
			abort();
		if (rep->call_id != (req ? req->call_id : 0))
			abort();
		if ((rep->status == BROKER__RPC__STATUS__OK) != (rep->error[0] == '\0'))
			abort();
		/* The caller's side of the same exchange. */
		if (rpc_unpack_reply(out, out_len, rep->call_id, &st, &body, &body_len, err, sizeof(err)) != 0)
			abort();
		if (st != rep->status || body_len != rep->body.len)
			abort();
		free(body);
		body = NULL;
		broker__rpc__envelope__free_unpacked(rep, NULL);
	}
	if (counters.requests != 1)
		abort();
	free(out);
	if (req)
		broker__rpc__envelope__free_unpacked(req, NULL);

	/* The raw bytes as a reply to call 1 (what a client does with whatever came back). */
	rpc_unpack_reply(data, size, 1, &st, &body, &body_len, err, sizeof(err));
	free(body);
	/* Dispatch without counters, and to an empty table. */
	rpc_dispatch(NULL, NULL, NULL, data, size, &out, &out_len);
	free(out);
	return 0;
}
