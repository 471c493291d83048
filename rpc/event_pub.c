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
#include "rpc/runtime_dir.h"
#include "broker/errfmt.h"
#include "broker/log.h"

#define TAG "events"
#define WATCHDOG_MS 1000

struct event_pub {
	nng_socket sock;
	nng_listener listener;
	char *url;
	char *path;
	atomic_uint_fast64_t sent, dropped, rejected, pipes_added;
	atomic_uint_fast64_t restarts_a;   /* listeners the watchdog replaced */

	/* Watchdog thread (see watchdog_main). */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;       /* under lock */
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
	atomic_fetch_add(&p->pipes_added, 1);
	ipc_peer_admit(pipe, &p->rejected, TAG, "an event feed");
}


static int probe_open(nng_socket *s)
{
	return nng_sub0_open(s);
}

static const struct ipc_listen_words listen_words = {
	.kind = "event", .doing = "publishing events", .tag = TAG, .make_parent = false, .probe_open = probe_open,
};

static int listener_open(struct event_pub *p, char *err, size_t errlen)
{
	return ipc_listener_open(p->sock, p->url, p->path, &listen_words, &p->listener, err, errlen);
}

/*
 * NNG 1.5.2's ipc listener stops accepting for good when a peer closes
 * before the SP handshake ends (see ctl_server.c).  Once a second we dial
 * ourselves; when no pipe arrived by the next tick, replace the listener.
 * Runs on its own thread because closing a listener blocks (not allowed in
 * an NNG callback) and the feed has no event loop of its own.
 */
static void *watchdog_main(void *arg)
{
	struct event_pub *p = arg;
	nng_socket probe;
	bool probe_open = false;
	uint64_t mark = 0;
	char err[256];

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WATCHDOG_MS / 1000;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		if (p->stopping)
			break;
		pthread_mutex_unlock(&p->lock);
		if (probe_open) {
			bool wedged = atomic_load(&p->pipes_added) == mark;

			nng_close(probe);
			probe_open = false;
			pthread_mutex_lock(&p->lock);
			if (p->stopping)
				wedged = false;   /* the feed is closing: nothing to restart */
			pthread_mutex_unlock(&p->lock);
			if (wedged) {
				nng_listener_close(p->listener);
				atomic_fetch_add(&p->restarts_a, 1);
				if (listener_open(p, err, sizeof(err)) < 0)
					log_error(TAG, "event listener stopped accepting and could not be restarted: %s", err);
				else
					log_warn(TAG, "event listener stopped accepting (a client closed mid-handshake; "
					              "NNG 1.5 bug); restarted it");
			}
		}
		if (nng_sub0_open(&probe) == 0) {
			probe_open = true;
			mark = atomic_load(&p->pipes_added);
			if (nng_dial(probe, p->url, NULL, NNG_FLAG_NONBLOCK) != 0) {
				nng_close(probe);
				probe_open = false;
			}
		}
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	if (probe_open)
		nng_close(probe);
	return NULL;
}

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
	atomic_init(&p->pipes_added, 0);
	atomic_init(&p->restarts_a, 0);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
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
	/* Room per subscriber before NNG drops for it; not fatal if refused. */
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, EVENT_PUB_QUEUE);
	if ((rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, p)) != 0) {
		nng_close(p->sock);
		rc = errfmt(err, errlen, -ipc_nng_errno(rv), "cannot configure event socket: %s", nng_strerror(rv));
		goto fail;
	}
	if ((rc = listener_open(p, err, errlen)) < 0) {
		nng_close(p->sock);
		goto fail;
	}
	if (pthread_create(&p->thread, NULL, watchdog_main, p) == 0)
		p->thread_started = true;
	else
		log_warn(TAG, "no watchdog for the event listener: cannot start a thread");
	*out = p;
	return 0;

fail:
	/* Nothing listened yet: a file at path (if any) is not ours to remove. */
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->url);
	free(p->path);
	free(p);
	return rc;
}

void event_pub_stop(struct event_pub *p)
{
	if (!p)
		return;
	if (p->thread_started) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		/*
		 * Close the feed before joining: NNG 1.5.2 can block closing the
		 * watchdog's probe for good while its pipe is still negotiating
		 * with this socket (seen as brokerd hanging at exit after
		 * "stopped"); closing this end first ends that negotiation.
		 */
		nng_close(p->sock);
		pthread_join(p->thread, NULL);
	} else {
		nng_close(p->sock);
	}
	/* NNG usually removes it on close; make sure, so watchers say "not running". */
	ipc_listen_cleanup(p->path, TAG);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
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
	return p ? atomic_load(&((struct event_pub *)p)->restarts_a) : 0;
}
