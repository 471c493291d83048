/*
 * platform_pidwatch_win32.c - platform_pidwatch.h on Windows.
 *
 * OpenProcess(SYNCHRONIZE) gives a handle that is signaled when the process
 * exits; RegisterWaitForSingleObject waits for it on a thread-pool thread,
 * whose callback only activates an event made for the watch (libevent is
 * thread-enabled: platform_event_threads), so gone() runs on the loop.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include <winsock2.h>
#include <windows.h>

#include <event2/event.h>

#include "broker/errfmt.h"
#include "broker/platform_pidwatch.h"

struct pid_watch {
	struct event *ev;        /* activated from the wait thread */
	HANDLE process;
	HANDLE wait;             /* RegisterWaitForSingleObject */
	int pid;
	int fired;
	void (*gone)(void *arg);
	void *arg;
};

static void on_gone(evutil_socket_t fd, short what, void *arg)
{
	struct pid_watch *w = arg;

	(void)fd;
	(void)what;
	if (w->fired)
		return;
	w->fired = 1;
	w->gone(w->arg);
}

/* Thread pool: only hand over to the loop. */
static void CALLBACK on_signaled(PVOID arg, BOOLEAN timed_out)
{
	struct pid_watch *w = arg;

	(void)timed_out;
	event_active(w->ev, EV_TIMEOUT, 0);
}

int pid_watch_start(struct event_base *base, int pid, void (*gone)(void *arg), void *arg,
                    struct pid_watch **out, char *err, size_t errlen)
{
	struct pid_watch *w;
	HANDLE h;

	*out = NULL;
	if (pid <= 0)
		return errfmt(err, errlen, -EINVAL, "bad process id %d (a number above 0)", pid);
	if (!base || !gone)
		return errfmt(err, errlen, -EINVAL, "pid_watch_start needs an event base and a callback");
	h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
	if (!h) {
		DWORD e = GetLastError();
		if (e == ERROR_INVALID_PARAMETER)
			return errfmt(err, errlen, -ESRCH, "process %d does not exist", pid);
		return errfmt(err, errlen, e == ERROR_ACCESS_DENIED ? -EPERM : -EINVAL,
		              "cannot watch process %d (OpenProcess: error %lu)", pid, (unsigned long)e);
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		CloseHandle(h);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	w->process = h;
	w->pid = pid;
	w->gone = gone;
	w->arg = arg;
	w->ev = event_new(base, -1, 0, on_gone, w);
	if (!w->ev) {
		pid_watch_stop(w);
		return errfmt(err, errlen, -ENOMEM, "cannot add the process watch to the event loop");
	}
	if (!RegisterWaitForSingleObject(&w->wait, h, on_signaled, w, INFINITE, WT_EXECUTEONLYONCE)) {
		w->wait = NULL;
		pid_watch_stop(w);
		return errfmt(err, errlen, -ENOMEM, "cannot wait for process %d (error %lu)", pid,
		              (unsigned long)GetLastError());
	}
	*out = w;
	return 0;
}

void pid_watch_stop(struct pid_watch *w)
{
	if (!w)
		return;
	/* INVALID_HANDLE_VALUE: wait for a running callback, so it never sees a freed watch. */
	if (w->wait)
		UnregisterWaitEx(w->wait, INVALID_HANDLE_VALUE);
	if (w->ev)
		event_free(w->ev);
	if (w->process)
		CloseHandle(w->process);
	free(w);
}

int pid_watch_uses_pidfd(const struct pid_watch *w)
{
	/* Event-driven like a pidfd: a process handle wait, never a poll. */
	return w != NULL;
}
