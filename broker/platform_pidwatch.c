/*
 * platform_pidwatch.c - see platform_pidwatch.h.
 *
 * pidfd_open(2) (Linux 5.3) gives a descriptor that becomes readable when
 * the process exits, for any process we may see, child or not.  Where the
 * syscall is missing (older kernels, seccomp filters, other systems) a
 * 500 ms timer checks kill(pid, 0) for ESRCH instead.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <event2/event.h>

#include "broker/errfmt.h"
#include "broker/platform_pidwatch.h"

#define PID_WATCH_POLL_MS 500

struct pid_watch {
	struct event *ev;        /* EV_READ on pidfd, or the poll timer */
	int pidfd;               /* -1 when polling */
	int pid;
	int fired;
	void (*gone)(void *arg);
	void *arg;
};

/* A pidfd for pid, or -1 with errno set (ENOSYS when there is no such call). */
static int open_pidfd(int pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
	long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0u);

	if (fd < 0)
		return -1;
	return (int)fd;
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void fire(struct pid_watch *w)
{
	if (w->fired)
		return;
	w->fired = 1;
	event_del(w->ev);
	w->gone(w->arg);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fire(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pid_watch *w = arg;

	(void)fd;
	(void)what;
	if (kill((pid_t)w->pid, 0) == -1 && errno == ESRCH)
		fire(w);
}

int pid_watch_start(struct event_base *base, int pid, void (*gone)(void *arg), void *arg,
                    struct pid_watch **out, char *err, size_t errlen)
{
	struct pid_watch *w;
	struct timeval tv = { PID_WATCH_POLL_MS / 1000, (PID_WATCH_POLL_MS % 1000) * 1000 };
	int fd;

	*out = NULL;
	if (pid <= 0)
		return errfmt(err, errlen, -EINVAL, "bad process id %d (a number above 0)", pid);
	if (!base || !gone)
		return errfmt(err, errlen, -EINVAL, "pid_watch_start needs an event base and a callback");
	fd = open_pidfd(pid);
	if (fd < 0 && errno == ESRCH)
		return errfmt(err, errlen, -ESRCH, "process %d does not exist", pid);
	if (fd < 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return errfmt(err, errlen, -ESRCH, "process %d does not exist", pid);

	w = calloc(1, sizeof(*w));
	if (!w) {
		if (fd >= 0)
			close(fd);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	w->pidfd = fd;
	w->pid = pid;
	w->gone = gone;
	w->arg = arg;
	if (fd >= 0) {
		evutil_make_socket_closeonexec(fd);
		w->ev = event_new(base, fd, EV_READ, on_pidfd, w);
		if (w->ev && event_add(w->ev, NULL) == 0)
			goto done;
	} else {
		w->ev = event_new(base, -1, EV_PERSIST, on_poll, w);
		if (w->ev && event_add(w->ev, &tv) == 0)
			goto done;
	}
	pid_watch_stop(w);
	return errfmt(err, errlen, -ENOMEM, "cannot add the process watch to the event loop");
done:
	*out = w;
	return 0;
}

void pid_watch_stop(struct pid_watch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->pidfd >= 0)
		close(w->pidfd);
	free(w);
}

int pid_watch_uses_pidfd(const struct pid_watch *w)
{
	return w && w->pidfd >= 0;
}
