/* ipc_watchdog.c - the listener watchdog of ipc_watchdog.h: a thread that
 * probes, and replaces a wedged listener, plus a bounded nng_close. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/ipc_watchdog.h"
#include "broker/errfmt.h"
#include "broker/log.h"

struct ipc_watchdog {
	/* Set at start, read-only after. */
	nng_socket sock;
	char *url, *name;
	const struct ipc_listen_words *w;
	nng_listener listener;         /* the thread's own after start */
	atomic_uint_fast64_t pipes_added;
	atomic_uint_fast64_t restarts;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;                 /* under lock */
	bool done;                     /* under lock: the thread left its loop */
	int refs;                      /* under lock: the owner and the thread */
};

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void wd_unref(struct ipc_watchdog *wd)
{
	bool last;

	pthread_mutex_lock(&wd->lock);
	last = --wd->refs == 0;
	pthread_mutex_unlock(&wd->lock);
	if (!last)
		return;
	pthread_cond_destroy(&wd->cond);
	pthread_mutex_destroy(&wd->lock);
	free(wd->url);
	free(wd->name);
	free(wd);
}

static bool wd_stopping(struct ipc_watchdog *wd)
{
	bool s;

	pthread_mutex_lock(&wd->lock);
	s = wd->stopping;
	pthread_mutex_unlock(&wd->lock);
	return s;
}

/* The last probe got no pipe through: replace the listener. */
static void wd_restart(struct ipc_watchdog *wd)
{
	char err[256];

	nng_listener_close(wd->listener);
	atomic_fetch_add(&wd->restarts, 1);
	if (wd_stopping(wd))
		return;
	if (ipc_listener_open(wd->sock, wd->url, wd->name, wd->w, &wd->listener, err, sizeof(err)) < 0)
		log_error(wd->w->tag, "%s listener stopped accepting and could not be restarted: %s", wd->w->kind, err);
	else
		log_warn(wd->w->tag,
		         "%s listener stopped accepting (a client closed mid-handshake; NNG 1.5 bug); restarted it",
		         wd->w->kind);
}

static void *wd_main(void *arg)
{
	struct ipc_watchdog *wd = arg;
	nng_socket probe;
	bool probe_open = false;
	uint64_t mark = 0;

	pthread_mutex_lock(&wd->lock);
	while (!wd->stopping) {
		struct timespec ts;

		deadline_in(&ts, IPC_WATCHDOG_MS);
		pthread_cond_timedwait(&wd->cond, &wd->lock, &ts);
		if (wd->stopping)
			break;
		pthread_mutex_unlock(&wd->lock);
		if (probe_open) {
			bool wedged = atomic_load(&wd->pipes_added) == mark;

			/* May block (NNG 1.5.2): only this thread waits. */
			nng_close(probe);
			probe_open = false;
			if (wedged)
				wd_restart(wd);
		}
		if (!wd_stopping(wd) && wd->w->probe_open(&probe) == 0) {
			probe_open = true;
			mark = atomic_load(&wd->pipes_added);
			/* Non-blocking: judged at the next tick. */
			if (nng_dial(probe, wd->url, NULL, NNG_FLAG_NONBLOCK) != 0) {
				nng_close(probe);
				probe_open = false;
			}
		}
		pthread_mutex_lock(&wd->lock);
	}
	wd->done = true;
	pthread_cond_broadcast(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
	if (probe_open)
		nng_close(probe);
	wd_unref(wd);
	return NULL;
}

int ipc_watchdog_new(nng_socket sock, const char *url, const char *name, const struct ipc_listen_words *words,
                     struct ipc_watchdog **out, char *err, size_t errlen)
{
	struct ipc_watchdog *wd = calloc(1, sizeof(*wd));

	*out = NULL;
	if (!wd || !(wd->url = strdup(url)) || !(wd->name = strdup(name))) {
		if (wd)
			free(wd->url);
		free(wd);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	wd->sock = sock;
	wd->w = words;
	atomic_init(&wd->pipes_added, 0);
	atomic_init(&wd->restarts, 0);
	pthread_mutex_init(&wd->lock, NULL);
	pthread_cond_init(&wd->cond, NULL);
	wd->refs = 1;
	wd->done = true;   /* no thread yet */
	*out = wd;
	return 0;
}

int ipc_watchdog_run(struct ipc_watchdog *wd, nng_listener listener, char *err, size_t errlen)
{
	pthread_t t;

	wd->listener = listener;
	pthread_mutex_lock(&wd->lock);
	wd->refs++;
	wd->done = false;
	pthread_mutex_unlock(&wd->lock);
	if (pthread_create(&t, NULL, wd_main, wd) != 0) {
		pthread_mutex_lock(&wd->lock);
		wd->refs--;
		wd->done = true;
		pthread_mutex_unlock(&wd->lock);
		return errfmt(err, errlen, -EAGAIN, "cannot start a thread for the %s listener watchdog", wd->w->kind);
	}
	pthread_detach(t);
	return 0;
}

void ipc_watchdog_pipe_added(struct ipc_watchdog *wd)
{
	if (wd)
		atomic_fetch_add(&wd->pipes_added, 1);
}

uint64_t ipc_watchdog_restarts(const struct ipc_watchdog *wd)
{
	return wd ? atomic_load(&((struct ipc_watchdog *)wd)->restarts) : 0;
}

void ipc_watchdog_stop(struct ipc_watchdog *wd)
{
	struct timespec ts;
	bool done;

	if (!wd)
		return;
	deadline_in(&ts, IPC_WATCHDOG_STOP_MS);
	pthread_mutex_lock(&wd->lock);
	wd->stopping = true;
	pthread_cond_broadcast(&wd->cond);
	while (!wd->done)
		if (pthread_cond_timedwait(&wd->cond, &wd->lock, &ts) == ETIMEDOUT)
			break;
	done = wd->done;
	pthread_mutex_unlock(&wd->lock);
	if (!done)
		log_warn(wd->w->tag, "the %s listener watchdog is stuck in NNG (nng_close; an NNG 1.5 bug); "
		                     "not waiting for it", wd->w->kind);
}

void ipc_watchdog_free(struct ipc_watchdog *wd)
{
	if (wd)
		wd_unref(wd);
}

/* ------------------------------------------------------------ bounded close */

struct closer {
	nng_socket sock;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int refs;
};

static void closer_unref(struct closer *c)
{
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
}

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	nng_close(c->sock);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	closer_unref(c);
	return NULL;
}

bool ipc_close_bounded(nng_socket sock, int ms, const char *tag, const char *what)
{
	struct closer *c = calloc(1, sizeof(*c));
	struct timespec ts;
	pthread_t t;
	bool done;

	if (!c) {
		nng_close(sock);   /* no memory for a thread's state: close here, as before */
		return true;
	}
	c->sock = sock;
	c->refs = 2;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pthread_create(&t, NULL, closer_main, c) != 0) {
		c->refs = 1;
		closer_unref(c);
		nng_close(sock);
		return true;
	}
	pthread_detach(t);
	deadline_in(&ts, ms);
	pthread_mutex_lock(&c->lock);
	while (!c->done)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	done = c->done;
	pthread_mutex_unlock(&c->lock);
	if (!done)
		log_warn(tag, "closing the %s socket is stuck in NNG (an NNG 1.5 bug); going on without it", what);
	closer_unref(c);
	return done;
}
