/* rpc.c - protobuf RPC envelope: pack, unpack and dispatch to a method table. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "broker/errfmt.h"

/* Reasons are one line; longer handler text is cut rather than sent whole. */
#define RPC_ERR_MAX 512

int rpc_pack_message(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	/* malloc(0) may return NULL; an empty message is still a valid buffer. */
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	*out = buf;
	*out_len = len;
	return 0;
}

static const struct rpc_method *rpc_lookup(const struct rpc_method *table, const char *service,
                                           const char *method)
{
	for (const struct rpc_method *m = table; m && m->service; m++)
		if (strcmp(m->service, service) == 0 && strcmp(m->method, method) == 0)
			return m;
	return NULL;
}

/* Build the reply envelope; the body is borrowed. */
static int rpc_pack_reply(uint64_t call_id, Broker__Rpc__Status status, const char *error,
                          const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len)
{
	Broker__Rpc__Envelope env = BROKER__RPC__ENVELOPE__INIT;

	env.call_id = call_id;
	env.is_reply = 1;
	env.status = status;
	env.error = (char *)(error ? error : "");
	env.body.data = (uint8_t *)body;
	env.body.len = body ? body_len : 0;
	return rpc_pack_message(&env.base, out, out_len);
}

static const char *status_text(Broker__Rpc__Status st)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&broker__rpc__status__descriptor, st);

	return v ? v->name : "unknown status";
}

struct rpc_deferred {
	uint64_t call_id;
	char what[128];               /* "service.method", for the default error text */
	struct rpc_counters *counters;
	rpc_send_fn send;
	void *send_arg;
	bool deferred;                /* the method called rpc_defer */
	bool detached;                /* the transport went away */
};

void rpc_defer(struct rpc_deferred *d)
{
	d->deferred = true;
}

void rpc_deferred_detach(struct rpc_deferred *d)
{
	if (d)
		d->detached = true;
}

void rpc_deferred_reply(struct rpc_deferred *d, Broker__Rpc__Status status, const char *error, const uint8_t *body,
                        size_t body_len)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	char err[RPC_ERR_MAX];

	if (!d)
		return;
	if (d->detached) {
		free(d);
		return;
	}
	if (status != BROKER__RPC__STATUS__OK) {
		d->counters->errors++;
		body = NULL;
		body_len = 0;
		snprintf(err, sizeof(err), "%s", error && *error ? error : "");
		if (!err[0])
			snprintf(err, sizeof(err), "%s failed (%s)", d->what, status_text(status));
	} else {
		err[0] = '\0';
	}
	if (rpc_pack_reply(d->call_id, status, err, body, body_len, &out, &out_len) == 0)
		d->send(d->send_arg, d, out, out_len);
	free(d);
}

static int dispatch(const struct rpc_method *table, const struct rpc_deferrable_method *deferrables, void *ctx,
                    struct rpc_counters *counters, const uint8_t *in, size_t in_len, uint8_t **out,
                    size_t *out_len, rpc_send_fn send, void *send_arg, struct rpc_deferred **pending);

int rpc_dispatch(const struct rpc_method *table, void *ctx, struct rpc_counters *counters,
                 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	return dispatch(table, NULL, ctx, counters, in, in_len, out, out_len, NULL, NULL, NULL);
}

int rpc_dispatch_deferrable(const struct rpc_method *table, const struct rpc_deferrable_method *deferrables,
                            void *ctx, struct rpc_counters *counters, const uint8_t *in, size_t in_len,
                            uint8_t **out, size_t *out_len, rpc_send_fn send, void *send_arg,
                            struct rpc_deferred **pending)
{
	*pending = NULL;
	return dispatch(table, deferrables, ctx, counters, in, in_len, out, out_len, send, send_arg, pending);
}

static const struct rpc_deferrable_method *deferrable_lookup(const struct rpc_deferrable_method *table,
                                                             const char *service, const char *method)
{
	for (const struct rpc_deferrable_method *m = table; m && m->service; m++)
		if (strcmp(m->service, service) == 0 && strcmp(m->method, method) == 0)
			return m;
	return NULL;
}

static int dispatch(const struct rpc_method *table, const struct rpc_deferrable_method *deferrables, void *ctx,
                    struct rpc_counters *counters, const uint8_t *in, size_t in_len, uint8_t **out,
                    size_t *out_len, rpc_send_fn send, void *send_arg, struct rpc_deferred **pending)
{
	const struct rpc_deferrable_method *dm;
	struct rpc_counters scratch = { 0 };
	Broker__Rpc__Envelope *req;
	const struct rpc_method *m;
	Broker__Rpc__Status st;
	char err[RPC_ERR_MAX];
	uint8_t *body = NULL;
	size_t body_len = 0;
	uint64_t call_id;
	int rc;

	if (!counters)
		counters = &scratch;
	*out = NULL;
	*out_len = 0;
	counters->requests++;

	/* Refuse before unpacking: protobuf-c copies every field it decodes. */
	if (in_len > RPC_MAX_MESSAGE) {
		counters->malformed++;
		counters->errors++;
		snprintf(err, sizeof(err), "request of %zu bytes exceeds the %u-byte limit", in_len,
		         RPC_MAX_MESSAGE);
		return rpc_pack_reply(0, BROKER__RPC__STATUS__BAD_REQUEST, err, NULL, 0, out, out_len);
	}
	req = broker__rpc__envelope__unpack(NULL, in_len, in);
	if (!req) {
		counters->malformed++;
		counters->errors++;
		return rpc_pack_reply(0, BROKER__RPC__STATUS__BAD_REQUEST,
		                      "request is not an RPC envelope (protobuf decode failed)", NULL, 0,
		                      out, out_len);
	}
	if (req->is_reply) {
		/* Answering a reply could make two peers bounce messages forever. */
		counters->malformed++;
		broker__rpc__envelope__free_unpacked(req, NULL);
		return -EINVAL;
	}
	call_id = req->call_id;
	dm = deferrable_lookup(deferrables, req->service ? req->service : "", req->method ? req->method : "");
	m = dm ? NULL : rpc_lookup(table, req->service ? req->service : "", req->method ? req->method : "");
	if (!dm && (!m || !m->handler)) {
		counters->errors++;
		snprintf(err, sizeof(err), "no such method %s.%s", req->service ? req->service : "",
		         req->method ? req->method : "");
		broker__rpc__envelope__free_unpacked(req, NULL);
		return rpc_pack_reply(call_id, BROKER__RPC__STATUS__NOT_FOUND, err, NULL, 0, out, out_len);
	}

	err[0] = '\0';
	if (dm) {
		struct rpc_deferred *d = NULL;

		/* Only a transport that can send later offers to wait. */
		if (send && !(d = calloc(1, sizeof(*d)))) {
			broker__rpc__envelope__free_unpacked(req, NULL);
			counters->errors++;
			return rpc_pack_reply(call_id, BROKER__RPC__STATUS__ERROR, "out of memory", NULL, 0, out, out_len);
		}
		if (d) {
			d->call_id = call_id;
			d->counters = counters;
			d->send = send;
			d->send_arg = send_arg;
			snprintf(d->what, sizeof(d->what), "%s.%s", dm->service, dm->method);
		}
		st = dm->handler(ctx, d, req->body.data, req->body.len, &body, &body_len, err, sizeof(err));
		if (d && d->deferred) {
			broker__rpc__envelope__free_unpacked(req, NULL);
			free(body);
			*pending = d;
			return 0;
		}
		free(d);
	} else {
		st = m->handler(ctx, req->body.data, req->body.len, &body, &body_len, err, sizeof(err));
	}
	broker__rpc__envelope__free_unpacked(req, NULL);
	const char *service = dm ? dm->service : m->service, *method = dm ? dm->method : m->method;
	if (st != BROKER__RPC__STATUS__OK) {
		counters->errors++;
		free(body);
		body = NULL;
		body_len = 0;
		if (!err[0])
			snprintf(err, sizeof(err), "%s.%s failed (%s)", service, method, status_text(st));
	} else if (body_len > RPC_MAX_MESSAGE) {
		counters->errors++;
		free(body);
		body = NULL;
		body_len = 0;
		st = BROKER__RPC__STATUS__ERROR;
		snprintf(err, sizeof(err), "%s.%s: reply exceeds the %u-byte limit", service, method, RPC_MAX_MESSAGE);
	} else {
		err[0] = '\0';
	}
	rc = rpc_pack_reply(call_id, st, err, body, body_len, out, out_len);
	free(body);
	return rc;
}

int rpc_pack_request(uint64_t call_id, const char *service, const char *method,
                     const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len)
{
	Broker__Rpc__Envelope env = BROKER__RPC__ENVELOPE__INIT;

	if (!service || !method || (body_len && !body))
		return -EINVAL;
	if (body_len > RPC_MAX_MESSAGE)
		return -EMSGSIZE;
	env.call_id = call_id;
	env.service = (char *)service;
	env.method = (char *)method;
	env.body.data = (uint8_t *)body;
	env.body.len = body_len;
	return rpc_pack_message(&env.base, out, out_len);
}

int rpc_unpack_reply(const uint8_t *in, size_t in_len, uint64_t call_id, Broker__Rpc__Status *status,
                     uint8_t **body, size_t *body_len, char *err, size_t errlen)
{
	Broker__Rpc__Envelope *env;
	int rc = 0;

	*body = NULL;
	*body_len = 0;
	if (err && errlen)
		err[0] = '\0';
	if (in_len > RPC_MAX_MESSAGE + 1024u)
		return errfmt(err, errlen, -EMSGSIZE, "reply of %zu bytes exceeds the %u-byte limit", in_len,
		              RPC_MAX_MESSAGE);
	env = broker__rpc__envelope__unpack(NULL, in_len, in);
	if (!env)
		return errfmt(err, errlen, -EBADMSG, "reply is not an RPC envelope (protobuf decode failed)");
	if (!env->is_reply) {
		rc = errfmt(err, errlen, -EBADMSG, "expected a reply, got a request");
		goto out;
	}
	/* call_id 0 is what the server sends when it could not read our call_id. */
	if (env->call_id != call_id && env->call_id != 0) {
		rc = errfmt(err, errlen, -EBADMSG, "reply is for call %llu, expected %llu",
		            (unsigned long long)env->call_id, (unsigned long long)call_id);
		goto out;
	}
	*status = env->status;
	if (env->error && env->error[0])
		errfmt(err, errlen, 0, "%s", env->error);
	if (env->body.len) {
		*body = malloc(env->body.len);
		if (!*body) {
			rc = errfmt(err, errlen, -ENOMEM, "out of memory reading the reply");
			goto out;
		}
		memcpy(*body, env->body.data, env->body.len);
		*body_len = env->body.len;
	}
out:
	broker__rpc__envelope__free_unpacked(env, NULL);
	return rc;
}
