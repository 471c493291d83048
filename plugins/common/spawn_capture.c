/*
 * plugins/common/spawn_capture.c - run a command, capture its output, reap
 * it, all from loop events (see spawn_capture.h).  Used by the iptables
 * watcher for iptables-save.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "broker/plugin.h"
#include "plugins/common/spawn_capture.h"

extern char **environ;

struct spawn_capture {
	const struct broker_host *host;
	struct broker_plugin_handle *h;
	struct spawn_opts o;
	char name[160];
	pid_t pid;
	int outfd, errfd;
	struct event *out_ev, *err_ev, *deadline_ev, *reap_ev;
	char *buf;
	size_t len, cap;
	char err[SPAWN_ERR_MAX];
	size_t errlen;
	int killed;                     /* SPAWN_KILLED_TIMEOUT / SPAWN_KILLED_OUTPUT */
	int reaped, status, status_known;
	int reap_polls;
};

static void free_event(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void close_pipes(struct spawn_capture *sc)
{
	free_event(&sc->out_ev);
	free_event(&sc->err_ev);
	close_fd(&sc->outfd);
	close_fd(&sc->errfd);
}

static void sc_free(struct spawn_capture *sc)
{
	close_pipes(sc);
	free_event(&sc->deadline_ev);
	free_event(&sc->reap_ev);
	free(sc->buf);
	free(sc);
}

static void kill_child(struct spawn_capture *sc)
{
	if (sc->pid > 0 && !sc->reaped && kill(-sc->pid, SIGKILL) < 0)
		(void)kill(sc->pid, SIGKILL);
}

/* Reaped, pipes closed: tell the plugin, then free. */
static void finish(struct spawn_capture *sc)
{
	struct spawn_result res;

	while (sc->errlen > 0 && (sc->err[sc->errlen - 1] == '\n' || sc->err[sc->errlen - 1] == '\r'))
		sc->errlen--;
	sc->err[sc->errlen] = '\0';
	for (size_t i = 0; i < sc->errlen; i++)
		if (sc->err[i] == '\n' || sc->err[i] == '\r')
			sc->err[i] = ' ';
	if (sc->buf)
		sc->buf[sc->len] = '\0';
	memset(&res, 0, sizeof(res));
	res.out = sc->buf ? sc->buf : "";
	res.outlen = sc->len;
	res.err = sc->err;
	res.killed = sc->killed;
	res.status_known = sc->status_known;
	res.status = sc->status;
	sc->o.done(sc->o.arg, &res);
	sc_free(sc);
}

/* Reap once both pipes are closed; poll with WNOHANG until it exits. */
static void check(struct spawn_capture *sc)
{
	pid_t w;
	int status = 0;

	if (sc->outfd >= 0 || sc->errfd >= 0)
		return;
	if (!sc->reaped) {
		do
			w = waitpid(sc->pid, &status, WNOHANG);
		while (w < 0 && errno == EINTR);
		if (w == sc->pid) {
			sc->reaped = 1;
			sc->status = status;
			sc->status_known = 1;
		} else if (w < 0) {
			sc->reaped = 1;  /* ECHILD: someone else reaped it; judge by the output */
		} else {
			struct timeval tv = { 0, SPAWN_REAP_POLL_MS * 1000 };

			if (++sc->reap_polls > SPAWN_REAP_AFTER_KILL && sc->killed) {
				sc->host->log(sc->h, BROKER_LOG_ERROR, "%s[%d] does not die after SIGKILL; "
				              "leaving it", sc->name, (int)sc->pid);
				sc->reaped = 1;
			} else {
				if (sc->reap_ev)
					event_add(sc->reap_ev, &tv);
				return;
			}
		}
	}
	finish(sc);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	check(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_capture *sc = arg;

	(void)fd;
	(void)what;
	if (sc->reaped)
		return;
	if (!sc->killed)
		sc->killed = SPAWN_KILLED_TIMEOUT;
	kill_child(sc);
	close_pipes(sc);
	check(sc);
}

/* Room for 64 KiB more of stdout, within max_output.  0, -EFBIG or -ENOMEM. */
static int out_room(struct spawn_capture *sc)
{
	size_t cap = sc->cap ? sc->cap * 2 : 131072;
	char *nb;

	if (sc->cap - sc->len >= 65536)
		return 0;
	if (cap > sc->o.max_output + 65536)
		cap = sc->o.max_output + 65536;
	if (cap <= sc->len + 1)
		return -EFBIG;
	nb = realloc(sc->buf, cap);
	if (!nb)
		return -ENOMEM;
	sc->buf = nb;
	sc->cap = cap;
	return 0;
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_capture *sc = arg;
	int rounds;

	(void)what;
	for (rounds = 0; rounds < 16; rounds++) {
		ssize_t n;

		if (out_room(sc) < 0)
			goto overflow;
		n = read(fd, sc->buf + sc->len, sc->cap - sc->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			free_event(&sc->out_ev);
			close_fd(&sc->outfd);
			check(sc);
			return;
		}
		sc->len += (size_t)n;
		if (sc->len > sc->o.max_output)
			goto overflow;
	}
	return;
overflow:
	sc->killed = SPAWN_KILLED_OUTPUT;
	kill_child(sc);
	close_pipes(sc);
	check(sc);
}

static void on_err(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_capture *sc = arg;
	char buf[1024];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		free_event(&sc->err_ev);
		close_fd(&sc->errfd);
		check(sc);
		return;
	}
	if (sc->errlen < sizeof(sc->err) - 1) {
		size_t k = sizeof(sc->err) - 1 - sc->errlen;

		if (k > (size_t)n)
			k = (size_t)n;
		memcpy(sc->err + sc->errlen, buf, k);
		sc->errlen += k;
	}
}

static int pipe_nb(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return -e;
	}
	return 0;
}

/* posix_spawnp argv with stdout/stderr on the pipes' write ends.  0 or a positive errno. */
static int spawn_child(pid_t *pid, char *const argv[], int out, int err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	int e;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                         POSIX_SPAWN_SETPGROUP);
	e = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return e;
}

/* Watch the running child on the loop.  0, or -ENOMEM. */
static int watch(struct spawn_capture *sc)
{
	struct event_base *base = sc->host->event_base(sc->h);
	struct timeval tv = { sc->o.timeout_ms / 1000, (sc->o.timeout_ms % 1000) * 1000 };

	sc->out_ev = event_new(base, sc->outfd, EV_READ | EV_PERSIST, on_out, sc);
	sc->err_ev = event_new(base, sc->errfd, EV_READ | EV_PERSIST, on_err, sc);
	sc->deadline_ev = evtimer_new(base, on_deadline, sc);
	sc->reap_ev = evtimer_new(base, on_reap, sc);
	if (!sc->out_ev || !sc->err_ev || !sc->deadline_ev || !sc->reap_ev ||
	    event_add(sc->out_ev, NULL) < 0 || event_add(sc->err_ev, NULL) < 0 ||
	    event_add(sc->deadline_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

int spawn_capture_start(const struct broker_host *host, struct broker_plugin_handle *h,
                        char *const argv[], const struct spawn_opts *opts,
                        struct spawn_capture **scp, char *err, size_t errlen)
{
	struct spawn_capture *sc = calloc(1, sizeof(*sc));
	int out[2] = { -1, -1 }, er[2] = { -1, -1 }, e;

	if (!sc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sc->host = host;
	sc->h = h;
	sc->o = *opts;
	snprintf(sc->name, sizeof(sc->name), "%s", opts->name);
	sc->o.name = sc->name;
	sc->outfd = sc->errfd = -1;
	if ((e = pipe_nb(out)) < 0 || (e = pipe_nb(er)) < 0) {
		close_fd(&out[0]);
		close_fd(&out[1]);
		snprintf(err, errlen, "cannot create pipes: %s", strerror(-e));
		free(sc);
		return e;
	}
	e = spawn_child(&sc->pid, argv, out[1], er[1]);
	close(out[1]);
	close(er[1]);
	sc->outfd = out[0];
	sc->errfd = er[0];
	if (e != 0) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
		sc->pid = 0;
		sc_free(sc);
		return -e;
	}
	if (watch(sc) < 0) {
		/* Cannot watch it: kill it; SIGKILL cannot be ignored, so the wait is short. */
		spawn_capture_abort(sc);
		snprintf(err, errlen, "cannot watch the child on the loop (out of memory?)");
		return -ENOMEM;
	}
	*scp = sc;
	return 0;
}

void spawn_capture_abort(struct spawn_capture *sc)
{
	if (!sc)
		return;
	if (sc->pid > 0 && !sc->reaped) {
		kill_child(sc);
		while (waitpid(sc->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	sc_free(sc);
}

pid_t spawn_capture_pid(const struct spawn_capture *sc)
{
	return sc->pid;
}

int spawn_capture_failed(const struct spawn_result *res, const struct spawn_opts *opts,
                         char *what, size_t len)
{
	const char *sep = res->err[0] ? ": " : "";

	what[0] = '\0';
	if (res->killed == SPAWN_KILLED_TIMEOUT)
		snprintf(what, len, "still running after %ld ms; killed", opts->timeout_ms);
	else if (res->killed == SPAWN_KILLED_OUTPUT)
		snprintf(what, len, "printed more than %zu bytes; killed", opts->max_output);
	else if (res->status_known && WIFEXITED(res->status) && WEXITSTATUS(res->status) == 127 &&
	         res->outlen == 0)
		snprintf(what, len, "cannot run it (exit 127: not installed?)%s%.100s", sep, res->err);
	else if (res->status_known && WIFEXITED(res->status) && WEXITSTATUS(res->status) != 0)
		snprintf(what, len, "exit status %d%s%.100s", WEXITSTATUS(res->status), sep, res->err);
	else if (res->status_known && WIFSIGNALED(res->status))
		snprintf(what, len, "killed by signal %d", WTERMSIG(res->status));
	else if (!res->status_known && res->outlen == 0)
		snprintf(what, len, "reaped elsewhere and printed nothing; result unknown");
	return what[0] != '\0';
}
