/*
 * plugins/exec/exec.c - endpoint plugin that runs a command and uses its
 * stdin/stdout as the byte stream.
 *
 *   connect: exec:COMMAND ARG...   (listen is not supported)
 *
 * The address is split into argv with simple shell-like quoting (no shell is
 * involved): whitespace separates words, '...' and "..." group, a backslash
 * escapes the next character (inside "..." only \" and \\ are escapes).
 *
 * The child gets three pipes as stdin, stdout and stderr, nothing else open,
 * a minimal environment (EXEC_ENV_BASE_POSIX, plus the names in the "env"
 * option and the URL's ?env=: the broker's own variables may hold secrets),
 * default signal dispositions and an empty signal mask, its own process
 * group, and PR_SET_PDEATHSIG(SIGKILL) so it dies if the broker dies hard.
 * A failed exec is reported through a close-on-exec status pipe, so the
 * connect fails with "exec: PROGRAM: No such file or directory" rather than
 * an empty stream.  Success is reported from the loop once that pipe closes.
 *
 * The child's stderr is logged line by line ("exec[PID]: ...").  When the
 * core closes the stream (on_close), the child's process group gets SIGTERM,
 * then SIGKILL after kill_grace_ms.  Children are reaped through a pidfd
 * event (pidfd_open), or a periodic waitpid(WNOHANG) where pidfds are
 * missing; SIGCHLD is left to the core.  stop kills and reaps every child
 * still running, blocking for at most one grace period.
 *
 * POSIX only (Linux for the pidfd and PDEATHSIG parts).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <event2/event.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/exec/exec_args.h"

static const struct broker_host *host;

#define EXEC_LINE_MAX 1024          /* longer stderr lines are logged in pieces */
#define EXEC_REAP_POLL_MS 100       /* waitpid(WNOHANG) period without pidfds */
#define EXEC_PEER_MAX 256
#define EXEC_STOP_POLL_MS 10

struct exec_state;

/*
 * One child process.  It lives from connect until it is reaped and the core
 * no longer holds its stream (or until stop).
 */
struct exec_child {
	struct exec_state *st;          /* NULL once stop detached it */
	struct exec_child *prev, *next;
	pid_t pid;
	char *cmd;                      /* argv[0], for messages */

	/* connecting (req != NULL): the plugin still owns the stream ends */
	struct broker_connect_req *req;
	int rfd, wfd;                   /* child's stdout read end, stdin write end */
	int statusfd;                   /* close-on-exec pipe: EOF = exec worked, 4 bytes = errno */
	struct event *status_ev;
	char peer[EXEC_PEER_MAX];

	int owned;                      /* the core holds the stream; on_close pending */
	int exec_failed;

	/* exit */
	int pidfd;                      /* -1: poll with waitpid */
	struct event *exit_ev;          /* EV_READ on pidfd, or the poll timer */
	struct event *kill_ev;          /* SIGKILL after the grace period */
	int reaped;
	int terminating;

	/* stderr */
	int errfd;
	struct event *err_ev;
	size_t linelen;
	char line[EXEC_LINE_MAX];
};

struct exec_state {
	struct broker_plugin_handle *h;
	struct exec_child *children;
};

static void child_release(struct exec_child *c);

/* ------------------------------------------------------------- child side */

/*
 * In the forked child: only async-signal-safe calls from here on.  fds[0..2]
 * become stdin/stdout/stderr; statusfd stays open (close-on-exec) to report
 * a failed exec.  Never returns.
 */
extern char **environ;

static void __attribute__((noreturn))
child_exec(char **argv, char **envp, const int fds[3], int statusfd, pid_t parent, int maxfd)
{
	struct sigaction sa;
	sigset_t none;
	int moved[3], i, e;

	/* Lift the three ends above 2 first so dup2 cannot clobber one with another. */
	for (i = 0; i < 3; i++) {
		moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (moved[i] < 0)
			goto fail;
	}
	for (i = 0; i < 3; i++)
		if (dup2(moved[i], i) < 0)
			goto fail;
	if (statusfd < 3) {
		statusfd = fcntl(statusfd, F_DUPFD_CLOEXEC, 3);
		if (statusfd < 0)
			goto fail;
	}
	/* Close everything else (all of it is close-on-exec, but not for a failed exec). */
#if defined(__linux__) && defined(SYS_close_range)
	if (statusfd > 3)
		(void)syscall(SYS_close_range, 3u, (unsigned)statusfd - 1, 0u);
	if (syscall(SYS_close_range, (unsigned)statusfd + 1, ~0u, 0u) < 0)
#endif
	{
		for (i = 3; i < maxfd; i++)
			if (i != statusfd)
				(void)close(i);
	}

	setpgid(0, 0);
#ifdef __linux__
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	/* The broker may have died before prctl: then we were reparented already. */
	if (getppid() != parent)
		_exit(127);
#else
	(void)parent;
#endif
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)sigaction(i, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* The PATH search below uses the child's own (filtered) PATH. */
	environ = envp;
	execvp(argv[0], argv);
fail:
	e = errno;
	while (write(statusfd, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* ------------------------------------------------------------- helpers */

static long grace_ms(struct exec_state *st)
{
	long long ms = host->option_int(st->h, "kill_grace_ms");

	return ms < 0 ? 0 : (long)ms;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void free_event(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

static void log_status(struct exec_child *c, int status)
{
	enum broker_log_level lvl = c->exec_failed ? BROKER_LOG_DEBUG : BROKER_LOG_INFO;

	if (!c->st)
		return;
	if (WIFEXITED(status))
		host->log(c->st->h, lvl, "exec[%d] exited with status %d", (int)c->pid,
		          WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		host->log(c->st->h, lvl, "exec[%d] killed by signal %d", (int)c->pid, WTERMSIG(status));
}

/* Signal the child's process group (it has one from the moment fork returned). */
static void signal_child(struct exec_child *c, int sig)
{
	if (kill(-c->pid, sig) < 0)
		(void)kill(c->pid, sig);
}

/* ------------------------------------------------------------- stderr */

static void log_line(struct exec_child *c)
{
	size_t n = c->linelen;

	int level = BROKER_LOG_INFO;
	size_t off = 0;

	while (n > 0 && c->line[n - 1] == '\r')
		n--;
	exec_log_line_parse(c->line, n, &level, &off);
	if (c->st)
		host->log(c->st->h, (enum broker_log_level)level, "exec[%d]: %.*s", (int)c->pid, (int)(n - off),
		          c->line + off);
	c->linelen = 0;
}

static void take_stderr(struct exec_child *c, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			log_line(c);
			continue;
		}
		if (c->linelen == sizeof(c->line))
			log_line(c);
		c->line[c->linelen++] = buf[i];
	}
}

/* Read what stderr has; at EOF or error flush the partial line and close it.  1: still open. */
static int drain_stderr(struct exec_child *c)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(c->errfd, buf, sizeof(buf));
		if (n > 0) {
			take_stderr(c, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		break;
	}
	if (c->linelen)
		log_line(c);
	free_event(&c->err_ev);
	close_fd(&c->errfd);
	return 0;
}

/*
 * Last read before the child record goes: what is in the pipe now is logged,
 * including a partial line, even if a grandchild still holds stderr open.
 */
static void finish_stderr(struct exec_child *c)
{
	if (c->errfd >= 0 && drain_stderr(c) && c->linelen)
		log_line(c);
}

static void on_stderr(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_stderr(arg);
}

/* ------------------------------------------------------------- reaping */

/* waitpid(WNOHANG); on exit log it and mark the child reaped.  1: reaped now. */
static int try_reap(struct exec_child *c, int flags)
{
	int status = 0;
	pid_t r;

	if (c->reaped)
		return 0;
	do
		r = waitpid(c->pid, &status, flags);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	c->reaped = 1;
	if (r < 0) {
		if (c->st)
			host->log(c->st->h, BROKER_LOG_DEBUG, "exec[%d]: reaped elsewhere (%s)",
			          (int)c->pid, strerror(errno));
	} else {
		log_status(c, status);
	}
	free_event(&c->exit_ev);
	free_event(&c->kill_ev);
	close_fd(&c->pidfd);
	return 1;
}

static void on_exit_event(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *c = arg;

	(void)fd;
	(void)what;
	if (try_reap(c, WNOHANG))
		child_release(c);
}

static void on_kill_grace(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *c = arg;

	(void)fd;
	(void)what;
	if (c->reaped)
		return;
	if (c->st)
		host->log(c->st->h, BROKER_LOG_INFO, "exec[%d] still running after %ld ms: SIGKILL",
		          (int)c->pid, grace_ms(c->st));
	signal_child(c, SIGKILL);
}

/* SIGTERM to the child's process group now, SIGKILL after the grace period. */
static void terminate(struct exec_child *c)
{
	long ms;

	if (c->reaped || c->terminating)
		return;
	c->terminating = 1;
	signal_child(c, SIGTERM);
	ms = grace_ms(c->st);
	if (ms == 0) {
		on_kill_grace(-1, 0, c);
		return;
	}
	if (c->kill_ev) {
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		event_add(c->kill_ev, &tv);
	}
}

/* ------------------------------------------------------------- lifecycle of a child */

static void child_free(struct exec_child *c)
{
	if (c->st) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->st->children = c->next;
		if (c->next)
			c->next->prev = c->prev;
	}
	free_event(&c->status_ev);
	free_event(&c->exit_ev);
	free_event(&c->kill_ev);
	free_event(&c->err_ev);
	close_fd(&c->statusfd);
	close_fd(&c->rfd);
	close_fd(&c->wfd);
	close_fd(&c->pidfd);
	close_fd(&c->errfd);
	free(c->cmd);
	free(c);
}

/* Free c once it is reaped and nobody holds its stream; stderr gets a last read. */
static void child_release(struct exec_child *c)
{
	if (!c->reaped || c->owned || c->req)
		return;
	finish_stderr(c);
	child_free(c);
}

/* The core closed the stream (desc.on_close). */
static void on_stream_close(void *arg)
{
	struct exec_child *c = arg;

	c->owned = 0;
	if (!c->st) {
		/* stop already killed and reaped it, and the state may be gone. */
		child_free(c);
		return;
	}
	if (!c->reaped) {
		host->log(c->st->h, BROKER_LOG_DEBUG, "exec[%d]: stream closed, stopping %s",
		          (int)c->pid, c->cmd);
		terminate(c);
		return;
	}
	child_release(c);
}

/* The status pipe closed (exec worked) or carried an errno (it did not). */
static void on_status(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *c = arg;
	struct broker_connect_req *req = c->req;
	struct broker_stream_desc desc;
	int e = 0;
	ssize_t n;

	(void)what;
	n = read(fd, &e, sizeof(e));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	free_event(&c->status_ev);
	close_fd(&c->statusfd);
	c->req = NULL;
	if (n != 0) {
		char reason[320];

		if (n != (ssize_t)sizeof(e) || e <= 0)
			e = n < 0 ? errno : EIO;
		snprintf(reason, sizeof(reason), "exec: %s: %s", c->cmd, strerror(e));
		c->exec_failed = 1;
		close_fd(&c->rfd);
		close_fd(&c->wfd);
		host->connect_failed(req, -e, reason);
		child_release(c);
		return;
	}
	memset(&desc, 0, sizeof(desc));
	desc.rfd = c->rfd;
	desc.wfd = c->wfd;
	desc.flags = BROKER_STREAM_PIPES;
	desc.peer = c->peer;
	desc.on_close = on_stream_close;
	desc.close_arg = c;
	c->rfd = -1;
	c->wfd = -1;
	c->owned = 1;
	host->log(c->st->h, BROKER_LOG_DEBUG, "started %s", c->peer);
	host->connected(req, &desc);
}

/* ------------------------------------------------------------- connect */

static int make_pipe(int p[2])
{
	if (pipe(p) < 0)
		return -errno;
	if (evutil_make_socket_closeonexec(p[0]) < 0 || evutil_make_socket_closeonexec(p[1]) < 0) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		return -e;
	}
	return 0;
}

static int open_pidfd(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
	long fd = syscall(SYS_pidfd_open, pid, 0u);

	if (fd >= 0) {
		evutil_make_socket_closeonexec((int)fd);
		return (int)fd;
	}
#else
	(void)pid;
#endif
	return -1;
}

/*
 * The child's environment: pointers into ours (they stay valid in the forked
 * child), only the variables that pass the lists.  Free the array only.
 */
static char **child_env(struct exec_state *st, const struct broker_url *url, char *err, size_t errlen)
{
	const char *opt = host->option_string(st->h, "env");
	const char *q = host->url_param(url, "env");
	size_t n = 0, k = 0;
	char **envp;

	if (exec_env_list_check(q, "?env=", err, errlen) < 0)
		return NULL;
	while (environ && environ[n])
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	if (!envp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(environ[i], "=");
		if (environ[i][len] == '=' && exec_env_passes(environ[i], len, EXEC_ENV_BASE_POSIX, opt, q, 0))
			envp[k++] = environ[i];
	}
	return envp;
}

static int exec_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                        void **pending, char *err, size_t errlen)
{
	struct exec_state *st = state;
	struct event_base *base = host->event_base(st->h);
	struct exec_child *c;
	struct rlimit rl;
	char **argv = NULL, **envp = NULL;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, status[2] = { -1, -1 };
	int fds[3], r, maxfd = 1024;
	pid_t parent = getpid(), pid;

	r = exec_argv_split(url->address ? url->address : "", &argv, err, errlen);
	if (r < 0)
		return r;
	envp = child_env(st, url, err, errlen);
	if (!envp) {
		exec_argv_free(argv);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->cmd = strdup(argv[0]))) {
		free(c);
		free(envp);
		exec_argv_free(argv);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->rfd = c->wfd = c->statusfd = c->pidfd = c->errfd = -1;
	c->st = st;
	c->req = req;
	if ((r = make_pipe(in)) < 0 || (r = make_pipe(out)) < 0 || (r = make_pipe(er)) < 0 ||
	    (r = make_pipe(status)) < 0) {
		snprintf(err, errlen, "cannot create pipes for %s: %s", c->cmd, strerror(-r));
		goto fail;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		maxfd = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	fds[0] = in[0];
	fds[1] = out[1];
	fds[2] = er[1];

	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot start %s: fork: %s", c->cmd, strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child_exec(argv, envp, fds, status[1], parent, maxfd);

	/* parent */
	(void)setpgid(pid, pid);  /* also done by the child; whichever runs first wins */
	c->pid = pid;
	exec_argv_free(argv);
	argv = NULL;
	free(envp);
	envp = NULL;
	close(in[0]);
	close(out[1]);
	close(er[1]);
	close(status[1]);
	c->wfd = in[1];
	c->rfd = out[0];
	c->errfd = er[0];
	c->statusfd = status[0];
	snprintf(c->peer, sizeof(c->peer), "exec:pid=%d %s", (int)pid, url->address);

	/* From here on the child exists: failures kill it and let the reaper finish. */
	c->next = st->children;
	if (st->children)
		st->children->prev = c;
	st->children = c;

	c->pidfd = open_pidfd(pid);
	if (c->pidfd >= 0) {
		c->exit_ev = event_new(base, c->pidfd, EV_READ | EV_PERSIST, on_exit_event, c);
		if (c->exit_ev && event_add(c->exit_ev, NULL) < 0)
			free_event(&c->exit_ev);
	} else {
		struct timeval tv = { 0, EXEC_REAP_POLL_MS * 1000 };

		c->exit_ev = event_new(base, -1, EV_PERSIST, on_exit_event, c);
		if (c->exit_ev && event_add(c->exit_ev, &tv) < 0)
			free_event(&c->exit_ev);
	}
	c->kill_ev = evtimer_new(base, on_kill_grace, c);
	evutil_make_socket_nonblocking(c->errfd);
	c->err_ev = event_new(base, c->errfd, EV_READ | EV_PERSIST, on_stderr, c);
	evutil_make_socket_nonblocking(c->statusfd);
	c->status_ev = event_new(base, c->statusfd, EV_READ | EV_PERSIST, on_status, c);
	if (!c->exit_ev || !c->kill_ev || !c->err_ev || !c->status_ev ||
	    event_add(c->err_ev, NULL) < 0 || event_add(c->status_ev, NULL) < 0) {
		snprintf(err, errlen, "cannot watch %s on the event loop (out of memory?)", c->cmd);
		c->req = NULL;
		free_event(&c->status_ev);
		close_fd(&c->rfd);
		close_fd(&c->wfd);
		(void)kill(pid, SIGKILL);
		/* Blocking is fine: SIGKILL cannot be ignored. */
		try_reap(c, 0);
		child_release(c);
		return -ENOMEM;
	}
	host->log(st->h, BROKER_LOG_DEBUG, "exec[%d]: spawned %s (%s)", (int)pid, url->address,
	          c->pidfd >= 0 ? "pidfd" : "waitpid polling");
	*pending = c;
	return 0;
fail:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&er[0]);
	close_fd(&er[1]);
	close_fd(&status[0]);
	close_fd(&status[1]);
	exec_argv_free(argv);
	free(envp);
	free(c->cmd);
	free(c);
	return r;
}

static void exec_connect_cancel(void *state, void *pending)
{
	struct exec_child *c = pending;

	(void)state;
	if (!c || !c->req)
		return;
	c->req = NULL;
	free_event(&c->status_ev);
	close_fd(&c->statusfd);
	close_fd(&c->rfd);
	close_fd(&c->wfd);
	terminate(c);
	child_release(c);
}

static int exec_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                       void **listener, char *err, size_t errlen)
{
	(void)state;
	(void)url;
	(void)sink;
	(void)listener;
	return exec_listen_refused("unix://", err, errlen);
}

/* ------------------------------------------------------------- plugin lifecycle */

static int exec_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct exec_state *st;

	if (exec_env_list_check(host->option_string(h, "env"), "option env", err, errlen) < 0)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	*state = st;
	return 0;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Kill and reap every child: SIGTERM to all, wait up to one grace period
 * (blocking: the loop is stopping), SIGKILL to the rest, blocking waitpid.
 * Children whose stream the core still holds are detached: their on_close
 * only frees them.
 */
static void exec_stop(void *state)
{
	struct exec_state *st = state;
	struct exec_child *c, *next;
	long long deadline;
	int running;

	if (!st)
		return;
	for (c = st->children; c; c = c->next) {
		if (c->req) {
			/* Still connecting: the core's request dies with the plugin. */
			c->req = NULL;
			free_event(&c->status_ev);
			close_fd(&c->statusfd);
			close_fd(&c->rfd);
			close_fd(&c->wfd);
		}
		if (!c->reaped && !c->terminating) {
			c->terminating = 1;
			signal_child(c, SIGTERM);
		}
	}
	deadline = mono_ms() + grace_ms(st);
	do {
		running = 0;
		for (c = st->children; c; c = c->next)
			if (!c->reaped && !try_reap(c, WNOHANG))
				running++;
		if (running && mono_ms() < deadline) {
			struct timespec ts = { 0, EXEC_STOP_POLL_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
	} while (running && mono_ms() < deadline);
	for (c = st->children; c; c = next) {
		next = c->next;
		if (!c->reaped) {
			host->log(st->h, BROKER_LOG_INFO, "exec[%d] still running at stop: SIGKILL",
			          (int)c->pid);
			signal_child(c, SIGKILL);
			try_reap(c, 0);
		}
		finish_stderr(c);
		if (c->owned) {
			/* Nothing of it may stay on the loop: the base can be gone by on_close. */
			free_event(&c->exit_ev);
			free_event(&c->kill_ev);
			free_event(&c->err_ev);
			close_fd(&c->errfd);
			close_fd(&c->pidfd);
			c->st = NULL;
			c->prev = c->next = NULL;
		} else {
			c->st = NULL;  /* unlinking is done here, wholesale */
			child_free(c);
		}
	}
	st->children = NULL;
}

static void exec_fini(void *state)
{
	exec_stop(state);
	free(state);
}

/* ------------------------------------------------------------- plugin */

static const struct broker_option exec_options[] = {
	{ BROKER_OPT_INT, "kill_grace_ms", "2000",
	  "after the stream closes, wait this long after SIGTERM before SIGKILL", 0, 600000 },
	{ BROKER_OPT_STRING, "env", "",
	  "environment variables every child gets besides PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, "
	  "TZ, TMPDIR and XDG_RUNTIME_DIR (NAME,NAME...; NAME* a prefix; * all); ?env= adds more per URL",
	  0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const exec_schemes[] = { "exec", NULL };

/* No URL parameters: a '?' in a command is written %3F. */
static const struct broker_url_param_decl exec_params[] = {
	{ "env", BROKER_PARAM_CONNECT, NULL,
	  "more variables passed to the child, beyond the env option (NAME,NAME...; NAME* a prefix)" },
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin exec_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "exec",
	.version = PACKAGE_VERSION,
	.description = EXEC_DESCRIPTION,
	.kinds = BROKER_KIND_ENDPOINT,
	.options = exec_options,
	.init = exec_init,
	.stop = exec_stop,
	.fini = exec_fini,
	.schemes = exec_schemes,
	.url_params = exec_params,
	.listen = exec_listen,
	.connect = exec_connect,
	.connect_cancel = exec_connect_cancel,
};

BROKER_PLUGIN_DEFINE(exec_plugin, host)
