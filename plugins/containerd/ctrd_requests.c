/*
 * plugins/containerd/ctrd_requests.c - the containerd watcher's calls (see
 * containerd.h): each request's life (new, sent, queued behind at most
 * CT_PARALLEL Gets, freed), the encoding of its message and the answers
 * coming back from the gRPC client (grpc.c), handed to the resync
 * (ctrd_resync.c), the event answers and the event stream (containerd.c).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/containerd/containerd.h"

/* ------------------------------------------------------------- requests */

void ct_req_free(struct ct_req *q)
{
	struct ct_req **pp;

	for (pp = &q->st->reqs; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	if (q->call)
		gc_call_cancel(q->call);
	free(q->msg);
	free(q);
}

struct ct_req *ct_req_new(struct ct_state *st, enum ct_req_kind kind, const char *ns, const char *id)
{
	struct ct_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->st = st;
	q->kind = kind;
	q->gen = st->gen;
	if (ns)
		snprintf(q->ns, sizeof(q->ns), "%s", ns);
	if (id)
		snprintf(q->id, sizeof(q->id), "%s", id);
	q->next = st->reqs;
	st->reqs = q;
	return q;
}

/* Send q; 0 or -errno. */
int ct_req_send(struct ct_req *q)
{
	struct ct_state *st = q->st;
	const char *path = NULL;
	uint8_t *msg = NULL;
	size_t len = 0;
	char filt[8][160];
	const char *fp[8];
	size_t nf = 0, i;
	long tmo = CT_CALL_TIMEOUT_MS;
	int r = -EINVAL;

	switch (q->kind) {
	case R_SUBSCRIBE: {
		static const char *const topics[] = { "/tasks/start", "/tasks/exit", "/tasks/delete",
			                              "/containers/update", "/containers/delete" };

		for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
			if (st->ns)
				snprintf(filt[nf], sizeof(filt[nf]), "namespace==\"%s\",topic==\"%s\"", st->ns, topics[i]);
			else
				snprintf(filt[nf], sizeof(filt[nf]), "topic==\"%s\"", topics[i]);
			fp[nf] = filt[nf];
			nf++;
		}
		r = ct_encode_subscribe(fp, nf, &msg, &len);
		path = P_SUBSCRIBE;
		tmo = 0;
		break;
	}
	case R_NS_LIST:
		r = ct_encode_namespace_list(&msg, &len);
		path = P_NS_LIST;
		break;
	case R_CT_LIST:
		fp[0] = "labels.\"" CT_PORTS_LABEL "\"";
		r = ct_encode_container_list(fp, 1, &msg, &len);
		path = P_CT_LIST;
		break;
	case R_TASK_LIST:
		r = ct_encode_task_list(&msg, &len);
		path = P_TASK_LIST;
		break;
	case R_CT_GET:
		r = ct_encode_container_get(q->id, &msg, &len);
		path = P_CT_GET;
		break;
	case R_TASK_GET:
		r = ct_encode_task_get(q->id, &msg, &len);
		path = P_TASK_GET;
		break;
	}
	if (r < 0)
		return r;
	r = gc_call_start(st->conn, path, q->ns[0] ? q->ns : NULL, msg, len, CT_MSG_MAX, tmo, &ct_call_cbs, q,
	                  &q->call);
	free(msg);
	return r;
}

/* Start queued Gets, at most CT_PARALLEL at a time. */
void ct_pump(struct ct_state *st)
{
	while (st->queue && st->ninflight < CT_PARALLEL) {
		struct ct_req *q = st->queue;
		int r;

		st->queue = q->qnext;
		if (!st->queue)
			st->queue_tail = &st->queue;
		st->ninflight++;
		r = ct_req_send(q);
		if (r < 0) {
			ct_host->log(st->h, BROKER_LOG_ERROR, "%s/%s: cannot send the request: %s", q->ns, q->id,
			          strerror(-r));
			ct_teardown(st);
			return;
		}
	}
}

void ct_queue_get(struct ct_state *st, enum ct_req_kind kind, struct ct_container *ct)
{
	struct ct_req *q = ct_req_new(st, kind, ct->ns, ct->id);

	if (!q) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "%s: out of memory", ct->e.owner);
		return;
	}
	q->epoch = ct->e.epoch;
	*st->queue_tail = q;
	st->queue_tail = &q->qnext;
	ct_pump(st);
}

/* ------------------------------------------------------------- call callbacks */

static int on_message(struct gc_call *call, const uint8_t *msg, size_t len, void *arg)
{
	struct ct_req *q = arg;

	(void)call;
	if (q->kind == R_SUBSCRIBE) {
		ct_handle_event(q->st, msg, len);
		return 0;
	}
	if (q->nmsg++ > 0)
		return -1;      /* a unary call answers once */
	q->msg = malloc(len ? len : 1);
	if (!q->msg)
		return -1;
	memcpy(q->msg, msg, len);
	q->msglen = len;
	return 0;
}

static void on_done(struct gc_call *call, int status, const char *message, void *arg)
{
	struct ct_req *q = arg;
	struct ct_state *st = q->st;

	(void)call;
	q->call = NULL;         /* the call is over: nothing to cancel */
	switch (q->kind) {
	case R_SUBSCRIBE:
		ct_host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN,
		          "the event stream ended (status %d: %s); reconnecting", status, message);
		ct_teardown(st);
		return;
	case R_NS_LIST:
	case R_CT_LIST:
	case R_TASK_LIST:
		ct_list_done(st, q, status, message);
		break;
	case R_CT_GET:
	case R_TASK_GET:
		st->ninflight--;
		if (q->kind == R_CT_GET)
			ct_get_done(st, q, status, message);
		else
			ct_task_get_done(st, q, status, message);
		break;
	}
	if (!st->conn)
		return;         /* teardown freed every request, q included */
	ct_req_free(q);
	ct_pump(st);
}

const struct gc_call_callbacks ct_call_cbs = {
	.on_message = on_message,
	.on_done = on_done,
};

