/*
 * linkload_ping.c - 1-byte ping-pong through one route, alone or while
 * --bulk streams run through a second route over the same link.
 *
 * The ping client and the echo server are threads of their own doing
 * blocking I/O, so the round trips measure the path, not this process's
 * bulk loop.  The bulk streams (the stream engine, main thread) send in
 * --dirs directions without end; the pings start once every bulk flow has
 * moved data, and the bulk streams stop after the last ping (every byte they
 * moved is checked).  --count round trips or --secs seconds, whichever comes
 * first; the first exchange (which also opens the stream) is not counted.
 * --max-ms judges each round trip less the time the processes on its path
 * (--watch-pid brokers, the ping and echo threads) waited for a CPU during
 * it (/proc/.../schedstat), so a loaded machine does not fail it while a
 * stall with idle brokers does; p50/p99 are on the clock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linkload.h"
#include "linkload_cmd.h"

#define PING_IO_MS 30000       /* one round trip may hang this long before the run fails */
#define PING_START_MAX_US 5000000u

struct ping {
	const struct ll_opts *o;
	int lfd;
	atomic_int go, done;
	uint64_t t_start;          /* when the bulk loop began */
	double *rtt;               /* us */
	long n;
	double first;              /* us: the first round trip, which also opens the stream */
	double worst, worst_wall;  /* us: the longest round trip less the CPU waits in it, and on the clock */
	atomic_int echo_tid;       /* the echo thread, watched like the brokers */
	char err[400];
};

/* Wait (bounded) for fd to become readable; 0, or -ETIMEDOUT. */
static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -ETIMEDOUT;
}

static void *echo_main(void *arg)
{
	struct ping *p = arg;
	char buf[64];
	int fd;

	atomic_store(&p->echo_tid, (int)syscall(SYS_gettid));
	if (wait_in(p->lfd, PING_IO_MS + 30000) < 0)
		return NULL;
	fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	ll_set_nonblock(fd, false);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write(fd, buf, (size_t)n) != n)
			break;
	}
	close(fd);
	return NULL;
}

/* The summed run-queue delay (us) in the schedstat files fds (see ll_run_watch). */
static uint64_t waits(const int *fds, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		char buf[128];
		unsigned long long run, wait;
		ssize_t k = fds[i] >= 0 ? pread(fds[i], buf, sizeof(buf) - 1, 0) : -1;
		if (k <= 0)
			continue;
		buf[k] = 0;
		if (sscanf(buf, "%llu %llu", &run, &wait) == 2)
			sum += wait / 1000;
	}
	return sum;
}

static void *ping_main(void *arg)
{
	struct ping *p = arg;
	const struct ll_opts *o = p->o;
	uint64_t deadline;
	char c = 'p', path[64];
	int fd, wfd[10], nw = 0;

	while (!atomic_load(&p->go) || !atomic_load(&p->echo_tid))
		usleep(1000);
	/*
	 * A round trip is judged less the time the processes on its path (the
	 * brokers, this thread, the echo thread) were runnable with no CPU.
	 */
	wfd[nw++] = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", atomic_load(&p->echo_tid));
	wfd[nw++] = open(path, O_RDONLY | O_CLOEXEC);
	for (unsigned i = 0; i < o->nwatch && nw < 10; i++) {
		snprintf(path, sizeof(path), "/proc/%d/schedstat", o->watch[i]);
		wfd[nw++] = open(path, O_RDONLY | O_CLOEXEC);
	}
	fd = ll_connect(&o->connect);
	if (fd < 0) {
		snprintf(p->err, sizeof(p->err), "connect %s: %s", o->connect.text, strerror(-fd));
		goto out;
	}
	ll_set_nonblock(fd, false);
	deadline = ll_now_us() + (uint64_t)(o->secs > 0 ? o->secs : 60) * 1000000u;
	for (long i = -1; i < o->count && ll_now_us() < deadline; i++) {
		uint64_t w0 = waits(wfd, nw), t = ll_now_us();
		if (write(fd, &c, 1) != 1) {
			snprintf(p->err, sizeof(p->err), "write: %s after %ld round trips", strerror(errno), p->n);
			break;
		}
		if (wait_in(fd, PING_IO_MS) < 0 || read(fd, &c, 1) != 1) {
			snprintf(p->err, sizeof(p->err), "no answer within %d ms after %ld round trips", PING_IO_MS, p->n);
			break;
		}
		uint64_t wall = ll_now_us() - t, stolen = waits(wfd, nw) - w0;
		double eff = (double)(wall > stolen ? wall - stolen : 0);
		if (i >= 0)
			p->rtt[p->n++] = (double)wall;
		else
			p->first = eff;
		if (eff > p->worst) {
			p->worst = eff;
			p->worst_wall = (double)wall;
		}
	}
	close(fd);
	for (int i = 0; i < nw; i++)
		if (wfd[i] >= 0)
			close(wfd[i]);
out:
	atomic_store(&p->done, 1);
	return NULL;
}

/* Bulk loop tick: start the pings once every bulk flow moves, stop the bulk after the last ping. */
static bool bulk_tick(struct ll_run *r, void *arg)
{
	struct ping *p = arg;
	bool flowing = true;

	for (unsigned i = 0; i < r->n; i++) {
		if (r->s[i].up.size && r->s[i].up.recvd == 0)
			flowing = false;
		if (r->s[i].down.size && r->s[i].down.recvd == 0)
			flowing = false;
	}
	if (flowing || ll_now_us() - p->t_start > PING_START_MAX_US)
		atomic_store(&p->go, 1);
	if (atomic_load(&p->done) && !r->stop)
		ll_run_stop(r);
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int ll_cmd_ping(const struct ll_opts *o)
{
	struct ping p = { .o = o };
	pthread_t te, tp;
	struct ll_run r;
	int bulk_lfd = -1, bad = 0, rc = 0;
	bool up = strcmp(o->dirs, "down") != 0, down = strcmp(o->dirs, "up") != 0;
	uint64_t moved = 0;
	char why[400];

	p.rtt = calloc((size_t)o->count + 1, sizeof(*p.rtt));
	if (!p.rtt)
		ll_die("out of memory");
	p.lfd = ll_listen(&o->listen);
	ll_set_nonblock(p.lfd, false);
	if (pthread_create(&te, NULL, echo_main, &p) || pthread_create(&tp, NULL, ping_main, &p))
		ll_die("pthread_create failed");
	if (o->bulk) {
		bulk_lfd = ll_listen(&o->bulk_listen);
		ll_run_init(&r, o->bulk, bulk_lfd, o->seed);
		r.verify = o->verify;
		for (unsigned i = 0; i < o->nwatch; i++)
			ll_run_watch(&r, o->watch[i]);
		for (unsigned i = 0; i < o->bulk; i++) {
			ll_stream_setup(&r, i, up ? LL_ENDLESS : 0, down ? LL_ENDLESS : 0);
			int e = ll_stream_connect(&r, i, &o->bulk_connect);
			if (e < 0)
				ll_die("connect %s: %s", o->bulk_connect.text, strerror(-e));
		}
		p.t_start = ll_now_us();
		rc = ll_run_loop(&r, ll_now_us() + (uint64_t)o->timeout * 1000000u, bulk_tick, &p);
		for (unsigned i = 0; i < o->bulk; i++) {
			moved += r.s[i].up.recvd + r.s[i].down.recvd;
			if (rc == -ETIMEDOUT && !(r.s[i].client.done && r.s[i].server.done)) {
				ll_stream_state(&r.s[i], why, sizeof(why));
				printf("FAIL ping: bulk stream not finished within %u s: %s\n", o->timeout, why);
				bad = 1;
			} else if (ll_stream_verdict(&r.s[i], why, sizeof(why)) < 0) {
				printf("FAIL ping: bulk stream %u: %s\n", i, why);
				bad = 1;
			}
		}
		if (rc == -ETIMEDOUT)
			atomic_store(&p.done, 1);
	} else {
		atomic_store(&p.go, 1);
	}
	pthread_join(tp, NULL);
	shutdown(p.lfd, SHUT_RDWR);
	pthread_join(te, NULL);
	close(p.lfd);
	if (p.err[0]) {
		printf("FAIL ping: %s\n", p.err);
		bad = 1;
	}
	if (o->max_ms && p.first > o->max_ms * 1000.0) {
		printf("FAIL ping: the first round trip (opening the stream) took %.1f ms (limit %u ms)\n",
		       p.first / 1000, o->max_ms);
		bad = 1;
	}
	if (p.n == 0) {
		printf("FAIL ping: no round trip measured after the first (%.1f ms)\n", p.first / 1000);
		bad = 1;
	} else {
		qsort(p.rtt, (size_t)p.n, sizeof(double), cmp_double);
		double p50 = p.rtt[p.n / 2], p99 = p.rtt[(p.n * 99) / 100], max = p.rtt[p.n - 1];
		if (o->max_ms && p.worst > o->max_ms * 1000.0) {
			printf("FAIL ping: a round trip took %.1f ms, %.1f ms less the CPU waits in it (limit %u ms)",
			       p.worst_wall / 1000, p.worst / 1000, o->max_ms);
			bad = 1;
		} else {
			printf("ok ping:");
		}
		printf(" %ld round trips", p.n);
		if (o->bulk)
			printf(" beside %u bulk streams (%s, %.0f MiB moved, every byte checked)", o->bulk, o->dirs,
			       (double)moved / (1024 * 1024));
		printf(": p50 %.0f us, p99 %.0f us, max %.0f us (%.0f us less CPU waits)\n", p50, p99, max, p.worst);
		printf("n=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f\n", p.n, p50, p99, max);
	}
	if (o->bulk) {
		ll_run_free(&r);
		close(bulk_lfd);
	}
	free(p.rtt);
	return bad;
}
