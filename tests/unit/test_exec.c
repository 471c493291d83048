/*
 * tests/unit/test_exec.c - drive the exec and vsock endpoint plugins through
 * dlopen and the fake host (fake_host.h), and test broker/platform_pidwatch.c; TAP.
 *
 * Plugin paths: argv[1] (exec) and argv[2] (vsock), or $EXEC_PLUGIN /
 * $VSOCK_PLUGIN, or $top_builddir/plugins/{exec,vsock}/.libs/NAME.so.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/vm_sockets.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker/platform_pidwatch.h"
#include "tests/unit/fake_host.h"
#include "tests/unit/tap.h"

/* ------------------------------------------------------------- helpers */

/* Read until n bytes, EOF or ms pass (the loop is not needed: the child writes on its own). */
static ssize_t read_some(int fd, char *buf, size_t n, int ms)
{
	size_t got = 0;
	long long end = fh_now_ms() + ms;

	while (got < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long long left = end - fh_now_ms();
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
	long long end = fh_now_ms() + ms;

	while (fh_now_ms() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, (int)(end - fh_now_ms())) <= 0)
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
static int do_connect(struct fh_plugin *L, struct event_base *base, const char *address,
                      struct broker_connect_req *req, char *err, size_t errlen)
{
	struct broker_url u;
	void *pending = NULL;
	int r;

	memset(req, 0, sizeof(*req));
	req->rfd = req->wfd = -1;
	fh_url(&u, "exec", address, NULL, 0);
	err[0] = '\0';
	r = L->p->connect(L->state, &u, req, &pending, err, errlen);
	if (r == 0) {
		if (req->calls != 0)
			diag("connect reported from inside connect()");
		fh_wait_int(base, &req->calls, 1, 5000);
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

static void test_exec_errors(struct fh_plugin *L)
{
	struct broker_connect_req req;
	struct broker_url u;
	void *pending = NULL, *listener = NULL;
	char err[256] = "";
	int r;

	fh_url(&u, "exec", "cat", NULL, 0);
	r = L->p->listen ? L->p->listen(L->state, &u, NULL, &listener, err, sizeof(err)) : -EOPNOTSUPP;
	is_int(r, -EOPNOTSUPP, "listen on exec: is refused");
	like(err, "only connect", "listen reason says exec only connects");

	memset(&req, 0, sizeof(req));
	fh_url(&u, "exec", "   ", NULL, 0);
	err[0] = '\0';
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "empty command is refused");
	like(err, "empty command", "reason names the empty command");

	fh_url(&u, "exec", "sh -c 'echo", NULL, 0);
	err[0] = '\0';
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "unterminated quote is refused");
	like(err, "unterminated '", "reason names the quote");
	is_int(req.calls, 0, "no report for refused connects");
}

static void test_exec_cat(struct fh_plugin *L, struct event_base *base)
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
	ok(fh_wait_log(base, want, 3000), "exit status is logged: %s", want);
	close_stream(&req);
	fh_run_for(base, 20);
	ok(proc_gone(pid), "cat was reaped (/proc/%d gone)", pid);
}

static void test_exec_missing(struct fh_plugin *L, struct event_base *base)
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
	fh_run_for(base, 150);
}

static void test_exec_stderr(struct fh_plugin *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256], want[64], buf[16];
	int pid;

	int warnings = fh.warnings;

	/* The second line is a child broker's own log line: one timestamp and one level (its) when relayed. */
	do_connect(L, base,
	           "sh -c 'echo oops >&2; echo \"2026-12-03T17:27:56.545Z warn  [link] gone\" >&2; printf tail >&2; cat'",
	           &req, err, sizeof(err));
	if (!ok(req.ok, "exec:sh with stderr output connected (%s)", req.reason))
		return;
	pid = peer_pid(&req);
	snprintf(want, sizeof(want), "exec[%d]: oops\n", pid);
	ok(fh_wait_log(base, want, 3000), "stderr line is logged with its tag: exec[%d]: oops", pid);
	snprintf(want, sizeof(want), "exec[%d]: [link] gone\n", pid);
	ok(fh_wait_log(base, want, 3000), "a child broker's log line loses its own timestamp and level: %s", want);
	is_int(fh.warnings - warnings, 1, "and is logged at the child's level (warn)");
	ok(!strstr(fh.log, "tail\n"), "a partial line waits for its end");
	ok(write(req.wfd, "x\n", 2) == 2 && read_some(req.rfd, buf, sizeof(buf), 3000) == 2,
	   "stdout still carries the stream");
	close_stream(&req);
	snprintf(want, sizeof(want), "exec[%d]: tail\n", pid);
	ok(fh_wait_log(base, want, 3000), "the partial line is flushed at EOF");
	snprintf(want, sizeof(want), "exec[%d] ", pid);
	fh_wait_log(base, want, 3000);
	fh_run_for(base, 20);
	ok(proc_gone(pid), "child reaped after on_close");
}

static void test_exec_quoting(struct fh_plugin *L, struct event_base *base)
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
	fh_run_for(base, 50);
}

/* Run `env` through exec: and return what it printed (in buf). */
static int child_env_text(struct fh_plugin *L, struct event_base *base, const char *address,
                          const struct broker_url_param *params, size_t nparams, char *buf, size_t len)
{
	struct broker_connect_req req;
	struct broker_url u;
	void *pending = NULL;
	char err[256] = "";
	size_t got = 0;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.rfd = req.wfd = -1;
	fh_url(&u, "exec", address, params, nparams);
	if (L->p->connect(L->state, &u, &req, &pending, err, sizeof(err)) != 0) {
		snprintf(buf, len, "connect refused: %s", err);
		return -1;
	}
	fh_wait_int(base, &req.calls, 1, 5000);
	if (!req.ok) {
		snprintf(buf, len, "connect failed: %s", req.reason);
		return -1;
	}
	while (got < len - 1 && (n = read_some(req.rfd, buf + got, len - 1 - got, 3000)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close_stream(&req);
	fh_run_for(base, 50);
	return 0;
}

/* The child's environment: the documented base list, plus the env option and ?env=. */
static void test_exec_env(struct fh_plugin *L, struct event_base *base)
{
	static char buf[16384];
	struct broker_url_param p_env = { "env", "BROKER_TEST_EXTRA,BROKER_TEST_PFX_*" };
	struct broker_url_param p_bad = { "env", "A=B" };
	struct broker_url_param p_all = { "env", "*" };

	setenv("BROKER_TEST_SECRET", "s3cret-token", 1);
	setenv("BROKER_TEST_EXTRA", "extra-value", 1);
	setenv("BROKER_TEST_PFX_ONE", "pfx-value", 1);
	setenv("LC_TESTING", "lc-value", 1);
	child_env_text(L, base, "env", NULL, 0, buf, sizeof(buf));
	ok(!strstr(buf, "BROKER_TEST_SECRET"), "a variable of ours that is not listed does not reach the child");
	ok(strstr(buf, "\nPATH=") || !strncmp(buf, "PATH=", 5), "PATH does");
	ok(strstr(buf, "LC_TESTING=lc-value") != NULL, "LC_* do");
	ok(!strstr(buf, "BROKER_TEST_EXTRA"), "BROKER_TEST_EXTRA does not, unnamed");
	child_env_text(L, base, "env", &p_env, 1, buf, sizeof(buf));
	ok(strstr(buf, "BROKER_TEST_EXTRA=extra-value") != NULL, "?env=NAME passes that variable");
	ok(strstr(buf, "BROKER_TEST_PFX_ONE=pfx-value") != NULL, "?env=PREFIX* passes those variables");
	ok(!strstr(buf, "BROKER_TEST_SECRET"), "and no other");
	fh_option(L, "env", "BROKER_TEST_SECRET");
	child_env_text(L, base, "env", NULL, 0, buf, sizeof(buf));
	ok(strstr(buf, "BROKER_TEST_SECRET=s3cret-token") != NULL, "the env option passes its names to every child");
	fh_option(L, "env", NULL);
	child_env_text(L, base, "env", &p_all, 1, buf, sizeof(buf));
	ok(strstr(buf, "BROKER_TEST_SECRET=s3cret-token") != NULL, "?env=* passes the whole environment");
	child_env_text(L, base, "env", &p_bad, 1, buf, sizeof(buf));
	like(buf, "connect refused: ?env= \"A=B\": a list of variable names", "?env= with a value is refused");
	unsetenv("BROKER_TEST_SECRET");
	unsetenv("BROKER_TEST_EXTRA");
	unsetenv("BROKER_TEST_PFX_ONE");
	unsetenv("LC_TESTING");
}

static void test_exec_kill(struct fh_plugin *L, struct event_base *base)
{
	struct broker_connect_req req;
	char err[256], want[64], buf[16];
	long long t0, dt;
	int pid;

	fh_option(L, "kill_grace_ms", "400");
	do_connect(L, base, "sh -c 'trap \"\" TERM; echo ready; sleep 60'", &req, err, sizeof(err));
	if (!ok(req.ok, "child ignoring SIGTERM connected (%s)", req.reason)) {
		fh_option(L, "kill_grace_ms", NULL);
		return;
	}
	pid = peer_pid(&req);
	ok(read_some(req.rfd, buf, sizeof(buf), 3000) == 6, "child is ready (trap set)");
	t0 = fh_now_ms();
	close_stream(&req);
	snprintf(want, sizeof(want), "exec[%d] killed by signal %d", pid, SIGKILL);
	ok(fh_wait_log(base, want, 3000), "on_close escalates to SIGKILL: %s", want);
	dt = fh_now_ms() - t0;
	ok(dt >= 350 && dt < 1500, "SIGKILL came after the grace period (%lld ms, grace 400)", dt);
	fh_run_for(base, 20);
	ok(proc_gone(pid), "no zombie left (/proc/%d gone)", pid);
	fh_option(L, "kill_grace_ms", NULL);
}

static void test_exec_cancel(struct fh_plugin *L, struct event_base *base)
{
	struct broker_connect_req req;
	struct broker_url u;
	void *pending = NULL;
	char err[256] = "", want[64];
	const char *p;
	size_t mark = fh.loglen;
	int r, pid = -1;

	memset(&req, 0, sizeof(req));
	fh_url(&u, "exec", "sleep 60", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, 0, "connect exec:sleep 60");
	if (r < 0)
		return;
	p = strstr(fh.log + mark, "exec[");
	if (p)
		pid = atoi(p + 5);
	L->p->connect_cancel(L->state, pending);
	snprintf(want, sizeof(want), "exec[%d] killed by signal %d", pid, SIGTERM);
	ok(fh_wait_log(base, want, 3000), "connect_cancel terminates the child: %s", want);
	fh_run_for(base, 100);
	is_int(req.calls, 0, "no report after connect_cancel");
	ok(proc_gone(pid), "cancelled child reaped (/proc/%d gone)", pid);
}

/* stop kills and reaps children whose streams are still open. */
static void test_exec_stop(struct fh_plugin *L, struct event_base *base)
{
	struct broker_connect_req req[3];
	const char *cmds[3] = { "sleep 60", "sh -c 'trap \"\" TERM; echo ready; sleep 60'", "cat" };
	char err[256], buf[16];
	int pids[3], i, n = 0;
	long long t0, dt;

	fh_option(L, "kill_grace_ms", "300");
	for (i = 0; i < 3; i++) {
		do_connect(L, base, cmds[i], &req[i], err, sizeof(err));
		pids[i] = req[i].ok ? peer_pid(&req[i]) : -1;
		n += req[i].ok;
	}
	is_int(n, 3, "three children running before stop");
	read_some(req[1].rfd, buf, sizeof(buf), 3000);
	t0 = fh_now_ms();
	L->p->stop(L->state);
	dt = fh_now_ms() - t0;
	ok(dt < 2000, "stop returned in %lld ms (grace 300)", dt);
	for (i = 0; i < 3; i++)
		ok(proc_gone(pids[i]), "stop killed and reaped %s (/proc/%d gone)", cmds[i], pids[i]);
	/* The core closes those streams later; on_close after stop only frees. */
	for (i = 0; i < 3; i++)
		close_stream(&req[i]);
	ok(1, "on_close after stop is harmless");
	/* unload() calls stop again: it must be a no-op now. */
	fh_option(L, "kill_grace_ms", NULL);
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
	t0 = fh_now_ms();
	r = pid_watch_start(base, (int)pid, on_gone, &fired, &w, err, sizeof(err));
	is_int(r, 0, "pid_watch_start on a live child (%s)", err);
	diag("pid_watch uses %s", pid_watch_uses_pidfd(w) ? "a pidfd" : "kill(pid, 0) polling");
	is_int(fired, 0, "gone is not called from inside pid_watch_start");
	r = fh_wait_int(base, &fired, 1, 3000);
	t0 = fh_now_ms() - t0;
	ok(r && t0 >= 200, "gone fires when the process exits (after %lld ms; it sleeps 300)", t0);
	fh_run_for(base, 50);
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

/* Can this machine connect to itself over vsock (CID 1, vsock_loopback)?
 * Raw sockets, no plugin: listen on PORT, connect to 1:PORT within 3 s.
 * false with the reason (the expected-skip text) in why. */
static bool vsock_loopback_works(unsigned port, char *why, size_t len)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	struct pollfd p;
	int l, c, e = 0;
	socklen_t el = sizeof(e);
	bool up = false;

	l = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
		snprintf(why, len, "no vsock loopback on this machine (probe listen on port %u: %s)", port,
		         strerror(errno));
		if (l >= 0)
			close(l);
		return false;
	}
	c = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.svm_cid = 1;   /* VMADDR_CID_LOCAL */
	if (c >= 0 && (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS)) {
		p.fd = c;
		p.events = POLLOUT;
		if (poll(&p, 1, 3000) == 1 && getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
			up = true;
		else if (!e)
			e = ETIMEDOUT;
	} else {
		e = errno;
	}
	if (!up)
		snprintf(why, len, "no vsock loopback on this machine (probe connect to 1:%u: %s)", port, strerror(e));
	if (c >= 0)
		close(c);
	close(l);
	return up;
}

static void test_vsock(struct fh_plugin *L, struct event_base *base)
{
	struct broker_accept_sink sink;
	struct broker_connect_req req;
	struct broker_url u;
	void *listener = NULL, *pending = NULL;
	char err[256] = "", desc[64] = "", any[32], local[32], want[48], peer[48], why[200];
	unsigned port;
	int r;

	memset(&sink, 0, sizeof(sink));
	fh_url(&u, "vsock", "5000", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &listener, err, sizeof(err));
	is_int(r, -EINVAL, "vsock://5000 (no CID) is refused");
	like(err, "vsock://CID:PORT", "reason shows the form");
	memset(&req, 0, sizeof(req));
	fh_url(&u, "vsock", "any:5000", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "connect to CID any is refused");
	fh_url(&u, "vsock", "host:x", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	is_int(r, -EINVAL, "bad port is refused");

	/* A port of this run's own (other runs may test at the same time). */
	port = 20000 + (unsigned)getpid() % 30000;
	snprintf(any, sizeof(any), "any:%u", port);
	snprintf(local, sizeof(local), "local:%u", port);
	snprintf(want, sizeof(want), "vsock://any:%u", port);
	snprintf(peer, sizeof(peer), "vsock:1:%u", port);
	fh_url(&u, "vsock", any, NULL, 0);
	err[0] = '\0';
	r = L->p->listen(L->state, &u, &sink, &listener, err, sizeof(err));
	if (r < 0 && strstr(err, "vsock is not available on this machine")) {
		skip(4, "no vsock loopback on this machine (no AF_VSOCK: listen says so)");
		return;
	}
	if (!ok(r == 0, "listen on %s (%s)", want, err)) {
		skip(3, "listen failed");
		return;
	}
	ok(L->p->describe(L->state, listener, desc, sizeof(desc)) == 0 &&
	   strcmp(desc, want) == 0, "describe gives %s (%s)", want, desc);
	/* Whether this machine has vsock loopback at all, asked of the kernel
	 * directly: only then is the plugin's failure to connect a skip. */
	if (!vsock_loopback_works(port + 1, why, sizeof(why))) {
		skip(2, why);
		L->p->unlisten(L->state, listener);
		return;
	}
	memset(&req, 0, sizeof(req));
	fh_url(&u, "vsock", local, NULL, 0);
	fh_option(L, "connect_timeout_ms", "1500");
	r = L->p->connect(L->state, &u, &req, &pending, err, sizeof(err));
	if (r == 0 && !fh_wait_int(base, &req.calls, 1, 3000)) {
		L->p->connect_cancel(L->state, pending);
		snprintf(req.reason, sizeof(req.reason), "no report within 3 s");
	}
	fh_option(L, "connect_timeout_ms", NULL);
	fh_wait_int(base, &sink.n, 1, 3000);
	ok(r == 0 && req.ok && sink.n == 1, "vsock loopback: connection accepted (peer %s; %s)",
	   sink.n ? sink.peer[0] : "none", r ? err : req.reason);
	like(req.peer, peer, "connected peer is %s", peer);
	if (sink.n)
		close(sink.fds[0]);
	if (r == 0 && req.ok)
		close(req.rfd);
	L->p->unlisten(L->state, listener);
}

/* ------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	struct event_base *base;
	struct fh_plugin L;
	char b1[1024], b2[1024], err[256];
	const char *execp = fh_plugin_path(argc, argv, 1, "EXEC_PLUGIN", "exec", b1, sizeof(b1));
	const char *vsockp = fh_plugin_path(argc, argv, 2, "VSOCK_PLUGIN", "vsock", b2, sizeof(b2));

	plan(77);
	signal(SIGPIPE, SIG_IGN);
	base = fh_base_new();

	if (ok(fh_load(&L, execp, base, NULL, err, sizeof(err)) == 0, "load %s", execp)) {
		test_exec_errors(&L);
		test_exec_cat(&L, base);
		test_exec_missing(&L, base);
		test_exec_stderr(&L, base);
		test_exec_quoting(&L, base);
		test_exec_env(&L, base);
		test_exec_kill(&L, base);
		test_exec_cancel(&L, base);
		test_exec_stop(&L, base);
	}
	fh_close(&L);

	test_pid_watch(base);

	if (ok(fh_load(&L, vsockp, base, NULL, err, sizeof(err)) == 0, "load %s", vsockp))
		test_vsock(&L, base);
	fh_close(&L);

	fh_base_free(base);
	return done_testing();
}
