/*
 * platform_pidwatch.h - call back when a process exits.
 *
 * Watches any process by pid (not only our own children) without touching
 * SIGCHLD: on Linux a pidfd (pidfd_open) read event, elsewhere or when
 * pidfds are unavailable a 500 ms timer probing kill(pid, 0).  Used for
 * `brokerd --parent-pid PID`.
 */
#ifndef BROKER_PLATFORM_PIDWATCH_H
#define BROKER_PLATFORM_PIDWATCH_H

#include <stddef.h>

struct event_base;
struct pid_watch;

/*
 * Start watching pid.  gone(arg) is called once, from the loop (never from
 * inside pid_watch_start), after the process has exited; a zombie counts as
 * exited with a pidfd but not with the fallback probe.  Returns 0 with *out
 * set, or -ESRCH ("process PID does not exist"), -EINVAL, -ENOMEM with a
 * one-line reason in err.  The watch stays allocated after it fired: the
 * caller frees it with pid_watch_stop.
 */
int pid_watch_start(struct event_base *base, int pid, void (*gone)(void *arg), void *arg,
                    struct pid_watch **out, char *err, size_t errlen);

/* Stop watching (gone is not called afterwards) and free w.  NULL is a no-op. */
void pid_watch_stop(struct pid_watch *w);

/* 1 when w uses a pidfd, 0 when it polls (for logs and tests). */
int pid_watch_uses_pidfd(const struct pid_watch *w);

#endif
