/* ctl_server.c - NNG REP endpoint for the control RPC, dispatching on the libevent loop. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "rpc/ctl_server.h"
#include "rpc/ipc_peer.h"
#include "rpc/ipc_watchdog.h"
#include "rpc/runtime_dir.h"
#include "broker/errfmt.h"
#include "broker/log.h"

#define TAG "ctl"
/* Enough contexts that clients slow to read their reply, or calls waiting for
 * the peer (a deferred reply holds its context), do not hold up the others. */
#define CTL_NCTX 8
/* Room for the envelope fields around a body of RPC_MAX_MESSAGE. */
#define CTL_RECV_MAX (RPC_MAX_MESSAGE + 4096u)

enum work_state { WORK_RECV, WORK_QUEUED, WORK_DEFERRED, WORK_SEND };

struct ctl_work {
	struct ctl_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum work_state state;
	nng_msg *msg;             /* the request while queued for the loop (and while deferred) */
	struct rpc_deferred *deferred;  /* the call answers later (loop thread only) */
	struct ctl_work *next;    /* queue link, under srv->lock */
};

struct ctl_server {
	struct event_base *base;
	const struct rpc_method *table;
	const struct rpc_deferrable_method *deferrables;  /* may answer later; NULL: none */
	void *ctx;
	nng_socket sock;
	bool sock_open;
	nng_listener listener;
	struct event *wake;       /* activated from NNG threads; runs on the loop */
	char *path;               /* the socket file, removed on stop */

	pthread_mutex_t lock;     /* guards head/tail */
	struct ctl_work *head, *tail;
	atomic_bool stopping;

	struct ctl_work work[CTL_NCTX];
	int nwork;

	struct rpc_counters counters;   /* loop thread only */
	atomic_uint_fast64_t rejected_peers;

	/* The listener, watched and replaced when NNG wedges it (ipc_watchdog.h). */
	char *url;
	struct ipc_watchdog *wd;
};

/* ---------------------------------------------------------------- NNG threads */

static void ctl_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ctl_server *srv = arg;

	if (ev != NNG_PIPE_EV_ADD_PRE)
		return;
	ipc_watchdog_pipe_added(srv->wd);
	ipc_peer_admit(p, &srv->rejected_peers, TAG, "a control");
}

static void ctl_work_cb(void *arg)
{
	struct ctl_work *w = arg;
	struct ctl_server *srv = w->srv;
	int rv = nng_aio_result(w->aio);

	switch (w->state) {
	case WORK_RECV:
		if (rv != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&srv->stopping))
				return;
			/* A transient failure on one pipe: keep this context serving. */
			nng_ctx_recv(w->ctx, w->aio);
			return;
		}
		w->msg = nng_aio_get_msg(w->aio);
		nng_aio_set_msg(w->aio, NULL);
		w->state = WORK_QUEUED;
		w->next = NULL;
		pthread_mutex_lock(&srv->lock);
		if (srv->tail)
			srv->tail->next = w;
		else
			srv->head = w;
		srv->tail = w;
		pthread_mutex_unlock(&srv->lock);
		/* Needs a thread-enabled base (evthread_use_pthreads before event_base_new). */
		event_active(srv->wake, EV_READ, 0);
		return;
	case WORK_SEND:
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg *m = nng_aio_get_msg(w->aio);

			nng_aio_set_msg(w->aio, NULL);
			if (m)
				nng_msg_free(m);
			if (rv == NNG_ECLOSED || atomic_load(&srv->stopping))
				return;
		}
		w->state = WORK_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	case WORK_QUEUED:
	case WORK_DEFERRED:
		/* No operation is outstanding while queued or deferred; nothing to do. */
		return;
	}
}

/* ---------------------------------------------------------------- loop thread */

/* Send out (taken) as the reply on w's context; the request message carries it. */
static void ctl_send(struct ctl_work *w, uint8_t *out, size_t out_len)
{
	nng_msg *msg = w->msg;

	w->msg = NULL;
	nng_msg_clear(msg);
	if (nng_msg_append(msg, out, out_len) != 0) {
		free(out);
		nng_msg_free(msg);
		log_warn(TAG, "out of memory for a %zu-byte reply", out_len);
		w->state = WORK_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	free(out);
	nng_aio_set_msg(w->aio, msg);
	w->state = WORK_SEND;
	nng_ctx_send(w->ctx, w->aio);
}

/* A deferred call's reply (rpc_deferred_reply, on the loop thread). */
static void ctl_send_deferred(void *arg, struct rpc_deferred *d, uint8_t *buf, size_t len)
{
	struct ctl_work *w = arg;

	if (w->deferred != d || w->state != WORK_DEFERRED) {
		free(buf);
		return;
	}
	w->deferred = NULL;
	ctl_send(w, buf, len);
}

static void ctl_reply(struct ctl_work *w)
{
	struct ctl_server *srv = w->srv;
	nng_msg *msg = w->msg;
	uint8_t *out = NULL;
	size_t out_len = 0;
	struct rpc_deferred *pending = NULL;
	int rc;

	rc = rpc_dispatch_deferrable(srv->table, srv->deferrables, srv->ctx, &srv->counters, nng_msg_body(msg),
	                             nng_msg_len(msg), &out, &out_len, ctl_send_deferred, w, &pending);
	if (rc == 0 && pending) {
		/* The method answers later (it waits for the peer); the context waits with it. */
		w->deferred = pending;
		w->state = WORK_DEFERRED;
		return;
	}
	if (rc < 0 || !out) {
		/* A reply envelope (or no memory): nothing to answer; wait for the next request,
		 * which also discards this one on the REP context. */
		if (rc != -EINVAL)
			log_warn(TAG, "could not build a reply: %s", strerror(-rc));
		w->msg = NULL;
		nng_msg_free(msg);
		w->state = WORK_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	ctl_send(w, out, out_len);
}

static void ctl_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_server *srv = arg;
	struct ctl_work *list;

	pthread_mutex_lock(&srv->lock);
	list = srv->head;
	srv->head = srv->tail = NULL;
	pthread_mutex_unlock(&srv->lock);

	while (list) {
		struct ctl_work *w = list;

		list = w->next;
		w->next = NULL;
		if (atomic_load(&srv->stopping)) {
			nng_msg_free(w->msg);
			w->msg = NULL;
			continue;
		}
		ctl_reply(w);
	}
}

/* ---------------------------------------------------------------- start / stop */

static int probe_open(nng_socket *s)
{
	return nng_req0_open(s);
}

static const struct ipc_listen_words listen_words = {
	.kind = "control", .doing = "listening", .tag = TAG, .make_parent = true, .probe_open = probe_open,
};

int ctl_server_start(struct event_base *base, const char *url, const struct rpc_method *table,
                     void *ctx, struct ctl_server **out, char *err, size_t errlen)
{
	struct ctl_server *srv;
	bool bad_form;
	int rc, rv;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	srv->base = base;
	srv->table = table;
	srv->ctx = ctx;
	pthread_mutex_init(&srv->lock, NULL);
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->rejected_peers, 0);
	srv->path = ipc_url_local_name(url, &bad_form);
	if (!srv->path) {
		if (bad_form)
			rc = errfmt(err, errlen, -EINVAL, "control URL %s: expected %s", url, ipc_url_form());
		else
			rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = ipc_listen_prepare(url, srv->path, &listen_words, err, errlen);
	if (rc < 0)
		goto fail;

	srv->wake = event_new(base, -1, 0, ctl_wake_cb, srv);
	if (!srv->wake) {
		rc = errfmt(err, errlen, -ENOMEM, "cannot create the control event");
		goto fail;
	}

	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot open control socket: %s", nng_strerror(rv));
		goto fail;
	}
	srv->sock_open = true;
	if ((rc = ipc_watchdog_new(srv->sock, url, srv->path, &listen_words, &srv->wd, err, errlen)) < 0)
		goto fail;
	/* NNG drops larger messages (closing that pipe) before they are buffered whole. */
	if ((rv = nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, CTL_RECV_MAX)) != 0 ||
	    (rv = nng_pipe_notify(srv->sock, NNG_PIPE_EV_ADD_PRE, ctl_pipe_cb, srv)) != 0) {
		rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot configure control socket: %s", nng_strerror(rv));
		goto fail;
	}
	for (int i = 0; i < CTL_NCTX; i++) {
		struct ctl_work *w = &srv->work[i];

		w->srv = srv;
		if ((rv = nng_ctx_open(&w->ctx, srv->sock)) != 0) {
			rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot open control context: %s", nng_strerror(rv));
			goto fail;
		}
		if ((rv = nng_aio_alloc(&w->aio, ctl_work_cb, w)) != 0) {
			nng_ctx_close(w->ctx);
			rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot allocate control aio: %s", nng_strerror(rv));
			goto fail;
		}
		srv->nwork++;
	}
	srv->url = strdup(url);
	if (!srv->url) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	{
		nng_listener listener;

		rc = ipc_listener_open(srv->sock, srv->url, srv->path, &listen_words, &listener, err, errlen);
		if (rc < 0)
			goto fail;
		/* No watchdog is no reason to refuse control: say so and serve. */
		if (ipc_watchdog_run(srv->wd, listener, err, errlen) < 0)
			log_warn(TAG, "%s", err);
	}
	for (int i = 0; i < srv->nwork; i++) {
		srv->work[i].state = WORK_RECV;
		nng_ctx_recv(srv->work[i].ctx, srv->work[i].aio);
	}
	*out = srv;
	return 0;

fail:
	/* Nothing was listening yet, so the socket file (if any) is not ours to remove. */
	free(srv->path);
	srv->path = NULL;
	ctl_server_stop(srv);
	return rc;
}

void ctl_server_stop(struct ctl_server *srv)
{
	struct ctl_work *list;

	if (!srv)
		return;
	atomic_store(&srv->stopping, true);
	ipc_watchdog_stop(srv->wd);
	/*
	 * Closing the socket aborts every context's aio with NNG_ECLOSED; nng_fini
	 * is left to the process (other NNG users, like a test's client, may still
	 * run).  NNG 1.5 can hang in nng_close: then the aios are still NNG's and
	 * are left alone (the broker is exiting).
	 */
	if (srv->sock_open && !ipc_close_bounded(srv->sock, IPC_WATCHDOG_STOP_MS, TAG, "control")) {
		if (srv->path)
			ipc_listen_cleanup(srv->path, TAG);
		return;
	}
	ipc_watchdog_free(srv->wd);
	for (int i = 0; i < srv->nwork; i++) {
		nng_aio_stop(srv->work[i].aio);
		nng_aio_free(srv->work[i].aio);
		srv->work[i].aio = NULL;
		/* A call still waiting answers into nothing; its holder frees it. */
		if (srv->work[i].deferred) {
			rpc_deferred_detach(srv->work[i].deferred);
			srv->work[i].deferred = NULL;
			nng_msg_free(srv->work[i].msg);
			srv->work[i].msg = NULL;
		}
	}
	pthread_mutex_lock(&srv->lock);
	list = srv->head;
	srv->head = srv->tail = NULL;
	pthread_mutex_unlock(&srv->lock);
	for (; list; list = list->next) {
		nng_msg_free(list->msg);
		list->msg = NULL;
	}
	if (srv->wake)
		event_free(srv->wake);
	if (srv->path) {
		/* NNG usually removes it on close; make sure, so brokerctl says "not running". */
		ipc_listen_cleanup(srv->path, TAG);
		free(srv->path);
	}
	free(srv->url);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

const struct rpc_counters *ctl_server_counters(const struct ctl_server *srv)
{
	return &srv->counters;
}

uint64_t ctl_server_listener_restarts(const struct ctl_server *srv)
{
	return ipc_watchdog_restarts(srv->wd);
}

uint64_t ctl_server_rejected_peers(const struct ctl_server *srv)
{
	return atomic_load(&((struct ctl_server *)srv)->rejected_peers);
}

void ctl_server_set_deferrables(struct ctl_server *srv, const struct rpc_deferrable_method *table)
{
	srv->deferrables = table;
}
