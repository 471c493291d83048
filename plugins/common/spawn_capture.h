/*
 * plugins/common/spawn_capture.h - run a command and capture what it
 * prints, without ever blocking the loop (POSIX).  Compiled into each
 * plugin that uses it (add plugins/common/spawn_capture.c to the plugin's
 * _SOURCES); it includes nothing from the broker core but the plugin ABI
 * header.
 *
 * The child is started with posix_spawnp in its own process group, stdin
 * from /dev/null, SIGPIPE/SIGCHLD/SIGTERM/SIGINT/SIGHUP at their defaults
 * and no signal blocked.  Its stdout is read in full (up to max_output
 * bytes) and its stderr in part (the first SPAWN_ERR_MAX - 1 bytes) from
 * non-blocking pipes; once both reach EOF it is reaped with
 * waitpid(WNOHANG), polled every SPAWN_REAP_POLL_MS.  It is killed (SIGKILL
 * to its group) when it runs longer than timeout_ms or prints more than
 * max_output bytes.
 *
 *   spawn_capture_start(host, h, argv, &opts, &sc, err, errlen)
 *     -> 0: running; opts.done(opts.arg, &result) is called exactly once,
 *           from a later loop event, and sc is freed after it returns.
 *     -> < 0: nothing runs; err says why ("cannot run iptables-save: No
 *           such file or directory", "cannot create pipes: ...").
 *   spawn_capture_abort(sc)   the plugin stops: SIGKILL, reap (SIGKILL
 *                             cannot be ignored, so the wait is short),
 *                             free; done is not called.  sc may be NULL.
 *   spawn_capture_pid(sc)     the child's pid, for log lines.
 *   spawn_capture_failed(&result, &opts, what, len)
 *                             1 and a one-line reason when the run did not
 *                             succeed (killed, exit status != 0, a signal,
 *                             not installed), else 0.
 */
#ifndef BROKER_PLUGINS_COMMON_SPAWN_CAPTURE_H
#define BROKER_PLUGINS_COMMON_SPAWN_CAPTURE_H

#include <stddef.h>
#include <sys/types.h>

struct broker_host;
struct broker_plugin_handle;
struct spawn_capture;

#define SPAWN_ERR_MAX 512              /* stderr kept for messages */
#define SPAWN_REAP_POLL_MS 10
#define SPAWN_REAP_AFTER_KILL 300      /* polls after SIGKILL before giving up on a child */

#define SPAWN_KILLED_TIMEOUT 1
#define SPAWN_KILLED_OUTPUT 2

struct spawn_result {
	const char *out;                /* stdout, NUL-terminated ("" when none) */
	size_t outlen;
	const char *err;                /* stderr's start, line breaks as blanks, trailing ones cut */
	int killed;                     /* 0, SPAWN_KILLED_TIMEOUT or SPAWN_KILLED_OUTPUT */
	int status_known;               /* 0: reaped elsewhere, or it would not die */
	int status;                     /* waitpid() status when known */
};

typedef void (*spawn_done_fn)(void *arg, const struct spawn_result *res);

struct spawn_opts {
	const char *name;               /* the command for log lines: "iptables-save" */
	long timeout_ms;                /* kill it after this long (> 0) */
	size_t max_output;              /* kill it when stdout passes this many bytes */
	spawn_done_fn done;
	void *arg;
};

int spawn_capture_start(const struct broker_host *host, struct broker_plugin_handle *h,
                        char *const argv[], const struct spawn_opts *opts,
                        struct spawn_capture **scp, char *err, size_t errlen);

void spawn_capture_abort(struct spawn_capture *sc);

pid_t spawn_capture_pid(const struct spawn_capture *sc);

int spawn_capture_failed(const struct spawn_result *res, const struct spawn_opts *opts,
                         char *what, size_t len);

#endif
