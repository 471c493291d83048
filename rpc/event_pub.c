/* event_pub.c - NNG PUB socket for the event feed (brokerctl watch, scripts). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "rpc/event_pub.h"
#include "rpc/ipc_peer.h"
#include "rpc/ipc_watchdog.h"
#include "rpc/runtime_dir.h"
#include "broker/errfmt.h"
#include "broker/log.h"

#define TAG "events"

struct event_pub {
	nng_socket sock;
	nng_listener listener;
	char *url;
	char *path;
	atomic_uint_fast64_t sent, dropped, rejected;
	struct ipc_watchdog *wd;   /* keeps the listener accepting (ipc_watchdog.h) */
};

char *event_pub_url(const char *runtime_dir)
{
	return runtime_dir_events_url(runtime_dir);
}

static void pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct event_pub *p = arg;

	if (ev != NNG_PIPE_EV_ADD_PRE)
		return;
	ipc_watchdog_pipe_added(p->wd);
	ipc_peer_admit(pipe, &p->rejected, TAG, "an event feed");
}


static int probe_open(nng_socket *s)
{
	return nng_sub0_open(s);
}

static const struct ipc_listen_words listen_words = {
	.kind = "event", .doing = "publishing events", .tag = TAG, .make_parent = false, .probe_open = probe_open,
};

int event_pub_start(const char *url, struct event_pub **out, char *err, size_t errlen)
{
	struct event_pub *p;
	bool bad_form = false;
	int rc, rv;

	*out = NULL;
	free(ipc_url_local_name(url, &bad_form));
	if (bad_form)
		return errfmt(err, errlen, -EINVAL, "event URL %s: expected %s", url, ipc_url_form());
	p = calloc(1, sizeof(*p));
	if (!p)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	atomic_init(&p->sent, 0);
	atomic_init(&p->dropped, 0);
	atomic_init(&p->rejected, 0);
	p->url = strdup(url);
	p->path = ipc_url_local_name(url, &bad_form);
	if (!p->url || !p->path) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = ipc_listen_prepare(url, p->path, &listen_words, err, errlen)) < 0)
		goto fail;
	if ((rv = nng_pub0_open(&p->sock)) != 0) {
		rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot open event socket: %s", nng_strerror(rv));
		goto fail;
	}
	if ((rc = ipc_watchdog_new(p->sock, p->url, p->path, &listen_words, &p->wd, err, errlen)) < 0) {
		nng_close(p->sock);
		goto fail;
	}
	/* Room per subscriber before NNG drops for it; not fatal if refused. */
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, EVENT_PUB_QUEUE);
	if ((rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, p)) != 0) {
		nng_close(p->sock);
		rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot configure event socket: %s", nng_strerror(rv));
		goto fail;
	}
	{
		nng_listener listener;

		if ((rc = ipc_listener_open(p->sock, p->url, p->path, &listen_words, &listener, err, errlen)) < 0) {
			nng_close(p->sock);
			goto fail;
		}
		if (ipc_watchdog_run(p->wd, listener, err, errlen) < 0)
			log_warn(TAG, "no watchdog for the event listener: %s", err);
	}
	*out = p;
	return 0;

fail:
	/* Nothing listened yet: a file at path (if any) is not ours to remove. */
	ipc_watchdog_free(p->wd);
	free(p->url);
	free(p->path);
	free(p);
	return rc;
}

void event_pub_stop(struct event_pub *p)
{
	if (!p)
		return;
	ipc_watchdog_stop(p->wd);
	if (!ipc_close_bounded(p->sock, IPC_WATCHDOG_STOP_MS, TAG, "event")) {
		/* NNG 1.5 hangs in nng_close: leave the socket's memory to it (the broker is exiting). */
		ipc_listen_cleanup(p->path, TAG);
		return;
	}
	ipc_watchdog_free(p->wd);
	/* NNG usually removes it on close; make sure, so watchers say "not running". */
	ipc_listen_cleanup(p->path, TAG);
	free(p->url);
	free(p->path);
	free(p);
}

void event_pub_send(struct event_pub *p, const char *kind, const uint8_t *body, size_t len)
{
	nng_msg *m = NULL;

	if (!p)
		return;
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, kind, strlen(kind) + 1) != 0 ||
	    (len && nng_msg_append(m, body, len) != 0)) {
		if (m)
			nng_msg_free(m);
		atomic_fetch_add(&p->dropped, 1);
		return;
	}
	if (nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);   /* a failed send leaves the message with us */
		atomic_fetch_add(&p->dropped, 1);
		return;
	}
	atomic_fetch_add(&p->sent, 1);
}

void event_pub_publish(struct event_pub *p, const Broker__Control__Event *ev)
{
	size_t len;
	uint8_t *buf;

	if (!p)
		return;
	len = broker__control__event__get_packed_size(ev);
	buf = malloc(len ? len : 1);
	if (!buf) {
		atomic_fetch_add(&p->dropped, 1);
		return;
	}
	broker__control__event__pack(ev, buf);
	event_pub_send(p, ev->kind ? ev->kind : "", buf, len);
	free(buf);
}

uint64_t event_pub_sent(const struct event_pub *p)
{
	return p ? atomic_load(&((struct event_pub *)p)->sent) : 0;
}

uint64_t event_pub_dropped(const struct event_pub *p)
{
	return p ? atomic_load(&((struct event_pub *)p)->dropped) : 0;
}

uint64_t event_pub_rejected_peers(const struct event_pub *p)
{
	return p ? atomic_load(&((struct event_pub *)p)->rejected) : 0;
}

uint64_t event_pub_listener_restarts(const struct event_pub *p)
{
	return p ? ipc_watchdog_restarts(p->wd) : 0;
}
