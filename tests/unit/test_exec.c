/*
 * tests/unit/test_exec.c - drive the exec and vsock endpoint plugins through
 * dlopen and a fake host table, and test broker/platform_pidwatch.c; TAP.
 *
 * Plugin paths: argv[1] (exec) and argv[2] (vsock), or $EXEC_PLUGIN /
 * $VSOCK_PLUGIN, or $top_builddir/plugins/{exec,vsock}/.libs/NAME.so.
 */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker/plugin.h"
#include "broker/platform_pidwatch.h"
#include "tests/unit/tap.h"

/* ------------------------------------------------------------- fake core */

struct broker_plugin_handle {
	const struct broker_plugin *p;
	struct event_base *base;
};

struct broker_accept_sink {
	int n;
	int fd;
	char peer[128];
};

struct broker_connect_req {
	int calls;       /* connected + connect_failed calls */
	int ok;
	int rfd, wfd;
	uint32_t flags;
	void (*on_close)(void *);
	void *close_arg;
	int error;
	char reason[512];
	char peer[256];
};

struct broker_timer {
	struct event *ev;
	broker_timer_fn fn;
	void *arg;
};

/* Every log line, newline-separated, so tests can look for one. */
static char logbuf[1 << 16];
static size_t loglen;
/* Option overrides: "name=value" */
static const char *opt_over[4];

static void f_vlog(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt,
                   va_list ap)
{
	char line[1200];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "# [%s] L%d: %s\n", h->p->name, (int)level, line);
	if (loglen + strlen(line) + 2 < sizeof(logbuf))
		loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", line);
}

static void f_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void f_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	f_vlog(h, level, fmt, ap);
	va_end(ap);
}

static struct event_base *f_event_base(struct broker_plugin_handle *h)
{
	return h->base;
}

static const char *f_option_string(struct broker_plugin_handle *h, const char *name)
{
	const struct broker_option *o;
	size_t i, n = strlen(name);

	for (i = 0; i < sizeof(opt_over) / sizeof(opt_over[0]); i++)
		if (opt_over[i] && strncmp(opt_over[i], name, n) == 0 && opt_over[i][n] == '=')
			return opt_over[i] + n + 1;
	for (o = h->p->options; o && o->type != BROKER_OPT_END; o++)
		if (strcmp(o->name, name) == 0)
			return o->default_value;
	return NULL;
}

static long long f_option_int(struct broker_plugin_handle *h, const char *name)
{
	const char *s = f_option_string(h, name);

	return s ? strtoll(s, NULL, 0) : 0;
}

static int f_option_bool(struct broker_plugin_handle *h, const char *name)
{
	const char *s = f_option_string(h, name);

	return s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static const char *f_url_param(const struct broker_url *url, const char *key)
{
	size_t i;

	for (i = 0; i < url->nparams; i++)
		if (strcmp(url->params[i].key, key) == 0)
			return url->params[i].value;
	return NULL;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

static struct broker_timer *f_timer_new(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg)
{
	struct broker_timer *t = calloc(1, sizeof(*t));

	t->fn = fn;
	t->arg = arg;
	t->ev = evtimer_new(h->base, timer_cb, t);
	return t;
}

static int f_timer_arm(struct broker_timer *t, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		return evtimer_del(t->ev);
	return evtimer_add(t->ev, &tv);
}

static void f_timer_free(struct broker_timer *t)
{
	event_free(t->ev);
	free(t);
}

static int f_post(struct broker_plugin_handle *h, broker_post_fn fn, void *arg)
{
	(void)h;
	(void)fn;
	(void)arg;
	return -ENOSYS;
}

static void f_accepted(struct broker_accept_sink *sink, const struct broker_stream_desc *desc)
{
	if (sink->n++) {
		close(desc->rfd);
		return;
	}
	sink->fd = desc->rfd;
	snprintf(sink->peer, sizeof(sink->peer), "%s", desc->peer ? desc->peer : "");
}

static void f_connected(struct broker_connect_req *req, const struct broker_stream_desc *desc)
{
	req->calls++;
	req->ok = 1;
	req->rfd = desc->rfd;
	req->wfd = desc->wfd;
	req->flags = desc->flags;
	req->on_close = desc->on_close;
	req->close_arg = desc->close_arg;
	snprintf(req->peer, sizeof(req->peer), "%s", desc->peer ? desc->peer : "");
}

static void f_connect_failed(struct broker_connect_req *req, int error, const char *reason)
{
	req->calls++;
	req->ok = 0;
	req->error = error;
	snprintf(req->reason, sizeof(req->reason), "%s", reason ? reason : "");
}

static const struct broker_host fake_host = {
	.struct_size = sizeof(struct broker_host),
	.abi_major = BROKER_ABI_MAJOR,
	.abi_minor = BROKER_ABI_MINOR,
	.log = f_log,
	.vlog = f_vlog,
	.event_base = f_event_base,
	.option_string = f_option_string,
	.option_int = f_option_int,
	.option_bool = f_option_bool,
	.url_param = f_url_param,
	.timer_new = f_timer_new,
	.timer_arm = f_timer_arm,
	.timer_free = f_timer_free,
	.post = f_post,
	.accepted = f_accepted,
	.connected = f_connected,
	.connect_failed = f_connect_failed,
};

/* ------------------------------------------------------------- helpers */

struct loaded {
	void *dl;
	const struct broker_plugin *p;
	struct broker_plugin_handle h;
	void *state;
};

static int load(const char *path, struct event_base *base, struct loaded *L)
{
	broker_plugin_entry_fn entry;
	char err[256] = "";

	memset(L, 0, sizeof(*L));
	L->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!L->dl) {
		diag("dlopen %s: %s", path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(L->dl, BROKER_PLUGIN_ENTRY);
	if (!entry)
		return -1;
	L->p = entry(&fake_host);
	L->h.p = L->p;
	L->h.base = base;
	if (L->p->init && L->p->init(&L->h, &L->state, err, sizeof(err)) < 0) {
		diag("init: %s", err);
		return -1;
	}
	if (L->p->start && L->p->start(L->state, err, sizeof(err)) < 0) {
		diag("start: %s", err);
		return -1;
	}
	return 0;
}

static void unload(struct loaded *L)
{
	if (L->p && L->p->stop)
		L->p->stop(L->state);
	if (L->p && L->p->fini)
		L->p->fini(L->state);
	if (L->dl)
		dlclose(L->dl);
	memset(L, 0, sizeof(*L));
}

static void url_set(struct broker_url *u, const char *scheme, const char *address)
{
	memset(u, 0, sizeof(*u));
	u->text = address;
	u->scheme = scheme;
	u->address = address;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until *flag >= want or ms pass.  A 5 ms tick keeps it waking. */
static int run_until(struct event_base *base, const int *flag, int want, int ms)
{
	long long end = now_ms() + ms;

	while (*flag < want && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return *flag >= want;
}

/* Run the loop until the log contains needle or ms pass. */
static int run_until_logged(struct event_base *base, const char *needle, int ms)
{
	long long end = now_ms() + ms;

	while (!strstr(logbuf, needle) && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return strstr(logbuf, needle) != NULL;
}

static void run_for(struct event_base *base, int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

/* Read until n bytes, EOF or ms pass (the loop is not needed: the child writes on its own). */
static ssize_t read_some(int fd, char *buf, size_t n, int ms)
{
	size_t got = 0;
	long long end = now_ms() + ms;

	while (got < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long long left = end - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		r = read(fd, buf + got, n - got);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got))
			break;
	}
	return (ssize_t)got;
}

/* 1 when the next read on fd is EOF within ms. */
static int reaches_eof(int fd, int ms)
{
	char buf[256];
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
			return 0;
		r = read(fd, buf, sizeof(buf));
		if (r == 0)
			return 1;
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return 0;
	}
	return 0;
}

static int peer_pid(const struct broker_connect_req *req)
{
	const char *p = strstr(req->peer, "pid=");

	return p ? atoi(p + 4) : -1;
}

static int proc_gone(int pid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return pid > 0 && stat(path, &sb) < 0 && errno == ENOENT;
}

/* Start a connect and wait for its report.  Returns the connect() result. */
static int do_connect(struct loaded *L, struct event_base *base, const char *address,
                      struct broker_connect_req *req, char *err, size_t errlen)
{
	struct broker_url u;
	void *pending = NULL;
	int r;

	memset(req, 0, sizeof(*req));
	req->rfd = req->wfd = -1;
	url_set(&u, "exec", address);
	err[0] = '\0';
	r = L->p->connect(L->state, &u, req, &pending, err, errlen);
	if (r == 0) {
		if (req->calls != 0)
			diag("connect reported from inside connect()");
		run_until(base, &req->calls, 1, 5000);
	}
	return r;
}

static void close_stream(struct broker_connect_req *req)
{
	if (req->rfd >= 0)
		close(req->rfd);
	if (req->wfd >= 0 && req->wfd != req->rfd)
		close(req->wfd);
	req->rfd = req->wfd = -1;
	if (req->on_close)
		req->on_close(req->close_arg);
	req->on_close = NULL;
}

/* ------------------------------------------------------------- exec tests */

static void test_exec_errors(struct loaded *L)
{
	struct broker_connect_req req;
	struct broker_url u;
	void *pending = NULL, *listener = NULL;
	char err[256] = "";
	int r;

	url_set(&u, "exec", "cat");
	r = L->p->listen ? L->p->listen(L->state, &u, NULL, &listener, err, sizeof(err)) : -EOPNOTSUPP;
	is_int(r, -EOPNOTSUPP, "listen on exec: is refused");
	like(err, "only connect", "listen reason says exec only connects");

	memset(&req, 0, sizeof(req));
	url_set(&u, "exec", "   ");
	err[0] = '\0';
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "empty command is refused");
	like(err, "empty command", "reason names the empty command");

	url_set(&u, "exec", "sh -c 'echo");
	err[0] = '\0';
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "unterminated quote is refused");
	like(err, "unterminated '", "reason names the quote");
	is_int(req.calls, 0, "no report for refused connects");
}

static void test_exec_cat(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256], buf[64] = "", want[64];
	int r, pid;

	r = do_connect(L, base, "cat", &req, err, sizeof(err));
	is_int(r, 0, "connect exec:cat starts");
	if (!ok(req.calls == 1 && req.ok, "exec:cat connected (%s)", req.reason))
		return;
	is_int(req.flags, BROKER_STREAM_PIPES, "stream is a pipe pair");
	ok(req.rfd >= 0 && req.wfd >= 0 && req.rfd != req.wfd, "separate read and write ends");
	like(req.peer, "exec:pid=", "peer names the pid");
	like(req.peer, " cat", "peer names the command");
	ok(req.on_close != NULL, "on_close is set");
	pid = peer_pid(&req);
	ok(write(req.wfd, "hello\n", 6) == 6, "write to cat's stdin");
	ok(read_some(req.rfd, buf, sizeof(buf) - 1, 3000) == 6 && memcmp(buf, "hello\n", 6) == 0,
	   "cat echoes the bytes back");
	close(req.wfd);
	req.wfd = -1;
	ok(reaches_eof(req.rfd, 3000), "closing stdin makes cat exit: stdout reaches EOF");
	snprintf(want, sizeof(want), "exec[%d] exited with status 0", pid);
	ok(run_until_logged(base, want, 3000), "exit status is logged: %s", want);
	close_stream(&req);
	run_for(base, 20);
	ok(proc_gone(pid), "cat was reaped (/proc/%d gone)", pid);
}

static void test_exec_missing(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256];
	int r;

	r = do_connect(L, base, "broker-no-such-program-h6 --flag", &req, err, sizeof(err));
	is_int(r, 0, "connect to a missing program starts (the exec fails in the child)");
	ok(req.calls == 1 && !req.ok, "missing program gives connect_failed");
	is_int(req.error, -ENOENT, "error is -ENOENT");
	is_str(req.reason, "exec: broker-no-such-program-h6: No such file or directory",
	       "reason names the program");
	run_for(base, 150);
}

static void test_exec_stderr(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256], want[64], buf[16];
	int pid;

	do_connect(L, base, "sh -c 'echo oops >&2; printf tail >&2; cat'", &req, err, sizeof(err));
	if (!ok(req.ok, "exec:sh with stderr output connected (%s)", req.reason))
		return;
	pid = peer_pid(&req);
	snprintf(want, sizeof(want), "exec[%d]: oops\n", pid);
	ok(run_until_logged(base, want, 3000), "stderr line is logged with its tag: exec[%d]: oops", pid);
	ok(!strstr(logbuf, "tail\n"), "a partial line waits for its end");
	ok(write(req.wfd, "x\n", 2) == 2 && read_some(req.rfd, buf, sizeof(buf), 3000) == 2,
	   "stdout still carries the stream");
	close_stream(&req);
	snprintf(want, sizeof(want), "exec[%d]: tail\n", pid);
	ok(run_until_logged(base, want, 3000), "the partial line is flushed at EOF");
	snprintf(want, sizeof(want), "exec[%d] ", pid);
	run_until_logged(base, want, 3000);
	run_for(base, 20);
	ok(proc_gone(pid), "child reaped after on_close");
}

static void test_exec_quoting(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256], buf[128];
	ssize_t n;

	do_connect(L, base, "sh -c \"echo a b\"", &req, err, sizeof(err));
	if (ok(req.ok, "exec:sh -c \"echo a b\" connected (%s)", req.reason)) {
		memset(buf, 0, sizeof(buf));
		n = read_some(req.rfd, buf, sizeof(buf) - 1, 3000);
		is_str(n > 0 ? buf : "", "a b\n", "\"echo a b\" is one argument (3 args in all)");
		close_stream(&req);
	}
	do_connect(L, base, "sh -c 'printf \"%s|\" \"$0\" \"$@\"; echo' zero \"a b\" 'c d' e\\ f \"\" "
	           "\"q\\\"x\" 'C:\\dir'", &req, err, sizeof(err));
	if (ok(req.ok, "quoting example connected (%s)", req.reason)) {
		memset(buf, 0, sizeof(buf));
		n = read_some(req.rfd, buf, sizeof(buf) - 1, 3000);
		is_str(n > 0 ? buf : "", "zero|a b|c d|e f||q\"x|C:\\dir|\n",
		       "quotes group, backslash escapes, empty \"\" is an argument");
		close_stream(&req);
	}
	run_for(base, 50);
}

static void test_exec_kill(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256], want[64], buf[16];
	long long t0, dt;
	int pid;

	opt_over[0] = "kill_grace_ms=400";
	do_connect(L, base, "sh -c 'trap \"\" TERM; echo ready; sleep 60'", &req, err, sizeof(err));
	if (!ok(req.ok, "child ignoring SIGTERM connected (%s)", req.reason)) {
		opt_over[0] = NULL;
		return;
	}
	pid = peer_pid(&req);
	ok(read_some(req.rfd, buf, sizeof(buf), 3000) == 6, "child is ready (trap set)");
	t0 = now_ms();
	close_stream(&req);
	snprintf(want, sizeof(want), "exec[%d] killed by signal %d", pid, SIGKILL);
	ok(run_until_logged(base, want, 3000), "on_close escalates to SIGKILL: %s", want);
	dt = now_ms() - t0;
	ok(dt >= 350 && dt < 1500, "SIGKILL came after the grace period (%lld ms, grace 400)", dt);
	run_for(base, 20);
	ok(proc_gone(pid), "no zombie left (/proc/%d gone)", pid);
	opt_over[0] = NULL;
}

static void test_exec_cancel(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req;
	struct broker_url u;
	void *pending = NULL;
	char err[256] = "", want[64];
	const char *p;
	size_t mark = loglen;
	int r, pid = -1;

	memset(&req, 0, sizeof(req));
	url_set(&u, "exec", "sleep 60");
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, 0, "connect exec:sleep 60");
	if (r < 0)
		return;
	p = strstr(logbuf + mark, "exec[");
	if (p)
		pid = atoi(p + 5);
	L->p->connect_cancel(L->state, pending);
	snprintf(want, sizeof(want), "exec[%d] killed by signal %d", pid, SIGTERM);
	ok(run_until_logged(base, want, 3000), "connect_cancel terminates the child: %s", want);
	run_for(base, 100);
	is_int(req.calls, 0, "no report after connect_cancel");
	ok(proc_gone(pid), "cancelled child reaped (/proc/%d gone)", pid);
}

/* stop kills and reaps children whose streams are still open. */
static void test_exec_stop(struct loaded *L, struct event_base *base)
{
	struct broker_connect_req req[3];
	const char *cmds[3] = { "sleep 60", "sh -c 'trap \"\" TERM; echo ready; sleep 60'", "cat" };
	char err[256], buf[16];
	int pids[3], i, n = 0;
	long long t0, dt;

	opt_over[0] = "kill_grace_ms=300";
	for (i = 0; i < 3; i++) {
		do_connect(L, base, cmds[i], &req[i], err, sizeof(err));
		pids[i] = req[i].ok ? peer_pid(&req[i]) : -1;
		n += req[i].ok;
	}
	is_int(n, 3, "three children running before stop");
	read_some(req[1].rfd, buf, sizeof(buf), 3000);
	t0 = now_ms();
	L->p->stop(L->state);
	dt = now_ms() - t0;
	ok(dt < 2000, "stop returned in %lld ms (grace 300)", dt);
	for (i = 0; i < 3; i++)
		ok(proc_gone(pids[i]), "stop killed and reaped %s (/proc/%d gone)", cmds[i], pids[i]);
	/* The core closes those streams later; on_close after stop only frees. */
	for (i = 0; i < 3; i++)
		close_stream(&req[i]);
	ok(1, "on_close after stop is harmless");
	/* unload() calls stop again: it must be a no-op now. */
	opt_over[0] = NULL;
}

/* ------------------------------------------------------------- pid_watch */

static void on_gone(void *arg)
{
	(*(int *)arg)++;
}

static void test_pid_watch(struct event_base *base)
{
	struct pid_watch *w = NULL;
	char err[256] = "";
	int fired = 0, status, r;
	long long t0;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		struct timespec ts = { 0, 300 * 1000000L };

		nanosleep(&ts, NULL);
		_exit(0);
	}
	t0 = now_ms();
	r = pid_watch_start(base, (int)pid, on_gone, &fired, &w, err, sizeof(err));
	is_int(r, 0, "pid_watch_start on a live child (%s)", err);
	diag("pid_watch uses %s", pid_watch_uses_pidfd(w) ? "a pidfd" : "kill(pid, 0) polling");
	is_int(fired, 0, "gone is not called from inside pid_watch_start");
	r = run_until(base, &fired, 1, 3000);
	t0 = now_ms() - t0;
	ok(r && t0 >= 200, "gone fires when the process exits (after %lld ms; it sleeps 300)", t0);
	run_for(base, 50);
	is_int(fired, 1, "gone fires once");
	pid_watch_stop(w);
	waitpid(pid, &status, 0);

	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	w = NULL;
	r = pid_watch_start(base, (int)pid, on_gone, &fired, &w, err, sizeof(err));
	is_int(r, -ESRCH, "pid_watch_start on a pid that does not exist gives -ESRCH");
	like(err, "does not exist", "reason says the process does not exist");
	ok(w == NULL, "no watch is returned");
	pid_watch_stop(NULL);
}

/* ------------------------------------------------------------- vsock */

static void test_vsock(struct loaded *L, struct event_base *base)
{
	struct broker_accept_sink sink;
	struct broker_connect_req req;
	struct broker_url u;
	void *listener = NULL, *pending = NULL;
	char err[256] = "", desc[64] = "";
	int r;

	memset(&sink, 0, sizeof(sink));
	url_set(&u, "vsock", "5000");
	r = L->p->listen(L->state, &u, &sink, &listener, err, sizeof(err));
	is_int(r, -EINVAL, "vsock://5000 (no CID) is refused");
	like(err, "vsock://CID:PORT", "reason shows the form");
	memset(&req, 0, sizeof(req));
	url_set(&u, "vsock", "any:5000");
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "connect to CID any is refused");
	url_set(&u, "vsock", "host:x");
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "bad port is refused");

	url_set(&u, "vsock", "any:5000");
	err[0] = '\0';
	r = L->p->listen(L->state, &u, &sink, &listener, err, sizeof(err));
	if (r < 0 && strstr(err, "vsock is not available on this machine")) {
		skip(4, "no AF_VSOCK here: listen says so");
		return;
	}
	if (r == -EADDRINUSE) {
		skip(4, "vsock port 5000 is in use on this machine");
		return;
	}
	if (!ok(r == 0, "listen on vsock://any:5000 (%s)", err)) {
		skip(3, "listen failed");
		return;
	}
	ok(L->p->describe(L->state, listener, desc, sizeof(desc)) == 0 &&
	   strcmp(desc, "vsock://any:5000") == 0, "describe gives vsock://any:5000 (%s)", desc);
	memset(&req, 0, sizeof(req));
	url_set(&u, "vsock", "local:5000");
	opt_over[0] = "connect_timeout_ms=1500";
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	if (r == 0 && !run_until(base, &req.calls, 1, 3000)) {
		L->p->connect_cancel(L->state, pending);
		snprintf(req.reason, sizeof(req.reason), "no report within 3 s");
	}
	opt_over[0] = NULL;
	if (r == 0 && req.ok) {
		run_until(base, &sink.n, 1, 3000);
		ok(sink.n == 1, "vsock loopback: connection accepted (peer %s)", sink.peer);
		like(req.peer, "vsock:1:5000", "connected peer is vsock:1:5000");
		if (sink.n)
			close(sink.fd);
		close(req.rfd);
	} else {
		skip(2, "no vsock loopback on this machine (connect to vsock://local:5000 failed)");
		diag("vsock loopback: %s", r ? err : req.reason);
	}
	L->p->unlisten(L->state, listener);
}

/* ------------------------------------------------------------- main */

static const char *plugin_path(int argc, char **argv, int i, const char *env, const char *name,
                               char *buf, size_t len)
{
	const char *top = getenv("top_builddir");

	if (argc > i)
		return argv[i];
	if (getenv(env))
		return getenv(env);
	snprintf(buf, len, "%s/plugins/%s/.libs/%s.so", top ? top : ".", name, name);
	return buf;
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct event *tk;
	struct timeval tv = { 0, 5000 };
	struct loaded L;
	char b1[1024], b2[1024];
	const char *execp = plugin_path(argc, argv, 1, "EXEC_PLUGIN", "exec", b1, sizeof(b1));
	const char *vsockp = plugin_path(argc, argv, 2, "VSOCK_PLUGIN", "vsock", b2, sizeof(b2));

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	tk = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(tk, &tv);

	if (ok(load(execp, base, &L) == 0, "load %s", execp)) {
		test_exec_errors(&L);
		test_exec_cat(&L, base);
		test_exec_missing(&L, base);
		test_exec_stderr(&L, base);
		test_exec_quoting(&L, base);
		test_exec_kill(&L, base);
		test_exec_cancel(&L, base);
		test_exec_stop(&L, base);
	}
	unload(&L);

	test_pid_watch(base);

	if (ok(load(vsockp, base, &L) == 0, "load %s", vsockp))
		test_vsock(&L, base);
	unload(&L);

	event_free(tk);
	event_base_free(base);
	return done_testing();
}
