/*
 * plugins/exec/exec_win32.c - the Windows backend of the exec endpoint
 * plugin: run a command and use its stdin/stdout as the byte stream.
 *
 *   connect: exec:COMMAND ARG...   (e.g. exec:wsl.exe -d Ubuntu -e brokerd --link-stdio)
 *
 * Same plugin name, scheme, options and word splitting as the POSIX backend
 * (exec.c; the splitting is exec_args.c): whitespace separates words, '...'
 * and "..." group, a backslash escapes the next character (inside "..."
 * only \" and \\).  The words are re-quoted into a Windows command line
 * (the rules CommandLineToArgvW and the C runtime parse) and started with
 * CreateProcessW, which searches PATH and appends ".exe".
 *
 * The child gets pipes as stdin, stdout and stderr and inherits nothing
 * else (PROC_THREAD_ATTRIBUTE_HANDLE_LIST).  It starts suspended, joins a
 * job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and then runs: when the
 * broker exits or dies, Windows closes the job and kills the child and
 * everything it started (no orphaned relays).  Our ends of stdin/stdout are
 * overlapped named-pipe ends bridged to a socket (plugins/common/win32_bridge.c);
 * the core sees a BROKER_STREAM_SOCKET.  stderr is read by a thread and
 * logged line by line on the loop thread ("exec[PID]: ...").
 *
 * When the core closes the stream (on_close), the bridge closes the child's
 * stdin; a child still running kill_grace_ms later is terminated with its
 * job.  A waiter thread per child posts its exit to the loop, where it is
 * logged.  stop terminates every job after one grace period and joins the
 * threads.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>

#include <event2/event.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/exec/exec_args.h"
#include "plugins/common/win32_bridge.h"

static const struct broker_host *host;

#define EXEC_LINE_MAX 1024
#define EXEC_PEER_MAX 256
#define EXEC_PIPE_BUF 65536

struct exec_state;

struct exec_child {
	struct exec_state *st;          /* NULL once stop detached it */
	struct broker_plugin_handle *h;
	struct exec_child *prev, *next;
	volatile LONG refs;             /* list + posted items + threads */
	DWORD pid;
	char *cmd;
	HANDLE process, job;
	HANDLE err_rd;                  /* stderr read end (thread) */
	HANDLE err_thread, wait_thread;
	struct event *kill_ev;
	struct event *done_ev;          /* reports connected from a later loop turn */
	struct broker_connect_req *req;
	evutil_socket_t sock;           /* until handed to the core */
	int owned;                      /* the core holds the stream */
	int exited;
	DWORD status;
	char peer[EXEC_PEER_MAX];
	/* stderr thread only */
	size_t linelen;
	char line[EXEC_LINE_MAX];
};

struct exec_state {
	struct broker_plugin_handle *h;
	struct exec_child *children;
};

struct exec_line {
	struct exec_child *c;
	char text[EXEC_LINE_MAX + 1];
};

#define EXEC_NOSOCK ((evutil_socket_t)-1)

/* ------------------------------------------------------------- argv */

/*
 * Quote argv into one command line that CommandLineToArgvW (and the C
 * runtime) split back into the same words: a word with no space, tab or
 * quote goes as is; otherwise it is wrapped in "...", each " gets a
 * backslash, and backslashes before a " (or the closing one) are doubled.
 */
static char *argv_join(char **argv)
{
	size_t cap = 1, i, o = 0;
	char *out;

	for (i = 0; argv[i]; i++)
		cap += 2 * strlen(argv[i]) + 3;
	out = malloc(cap);
	if (!out)
		return NULL;
	for (i = 0; argv[i]; i++) {
		const char *a = argv[i];
		size_t bs = 0;

		if (i)
			out[o++] = ' ';
		if (*a && !strpbrk(a, " \t\n\v\"")) {
			memcpy(out + o, a, strlen(a));
			o += strlen(a);
			continue;
		}
		out[o++] = '"';
		for (; *a; a++) {
			if (*a == '\\') {
				bs++;
				out[o++] = '\\';
				continue;
			}
			if (*a == '"') {
				while (bs--)
					out[o++] = '\\';
				out[o++] = '\\';
			}
			bs = 0;
			out[o++] = *a;
		}
		while (bs--)
			out[o++] = '\\';
		out[o++] = '"';
	}
	out[o] = '\0';
	return out;
}

static WCHAR *to_wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	WCHAR *w = n > 0 ? malloc((size_t)n * sizeof(WCHAR)) : NULL;

	if (w && !MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n)) {
		free(w);
		w = NULL;
	}
	return w;
}

/* ------------------------------------------------------------- child lifetime */

static long grace_ms(struct broker_plugin_handle *h)
{
	long long ms = host->option_int(h, "kill_grace_ms");

	return ms < 0 ? 0 : (long)ms;
}

static void child_unref(struct exec_child *c)
{
	if (InterlockedDecrement(&c->refs) > 0)
		return;
	if (c->kill_ev)
		event_free(c->kill_ev);
	if (c->done_ev)
		event_free(c->done_ev);
	if (c->sock != EXEC_NOSOCK)
		evutil_closesocket(c->sock);
	if (c->err_thread)
		CloseHandle(c->err_thread);
	if (c->wait_thread)
		CloseHandle(c->wait_thread);
	if (c->err_rd)
		CloseHandle(c->err_rd);
	if (c->process)
		CloseHandle(c->process);
	if (c->job)
		CloseHandle(c->job);  /* KILL_ON_JOB_CLOSE: nothing of it survives */
	free(c->cmd);
	free(c);
}

static void child_unlink(struct exec_child *c)
{
	if (!c->st)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->st->children = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->st = NULL;
}

/* Drop the list's reference once nothing on the loop needs c any more. */
static void child_maybe_done(struct exec_child *c)
{
	if (!c->st || !c->exited || c->owned || c->req)
		return;
	child_unlink(c);
	child_unref(c);
}

/* ------------------------------------------------------------- stderr and exit (threads -> loop) */

static void on_line(void *arg)
{
	struct exec_line *ln = arg;

	int level = BROKER_LOG_INFO;
	size_t off = 0;

	exec_log_line_parse(ln->text, strlen(ln->text), &level, &off);
	if (ln->c->st)
		host->log(ln->c->h, (enum broker_log_level)level, "exec[%lu]: %s", (unsigned long)ln->c->pid,
		          ln->text + off);
	child_unref(ln->c);
	free(ln);
}

static void post_line(struct exec_child *c)
{
	struct exec_line *ln = malloc(sizeof(*ln));
	size_t n = c->linelen;

	while (n > 0 && c->line[n - 1] == '\r')
		n--;
	c->linelen = 0;
	if (!ln)
		return;
	ln->c = c;
	memcpy(ln->text, c->line, n);
	ln->text[n] = '\0';
	InterlockedIncrement(&c->refs);
	if (host->post(c->h, on_line, ln) < 0) {
		InterlockedDecrement(&c->refs);  /* the thread still holds one */
		free(ln);
	}
}

static DWORD WINAPI stderr_thread(LPVOID arg)
{
	struct exec_child *c = arg;
	char buf[4096];
	DWORD n, i;

	while (ReadFile(c->err_rd, buf, sizeof(buf), &n, NULL) && n > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				post_line(c);
				continue;
			}
			if (c->linelen == sizeof(c->line))
				post_line(c);
			c->line[c->linelen++] = buf[i];
		}
	}
	if (c->linelen)
		post_line(c);
	child_unref(c);
	return 0;
}

static void on_exited(void *arg)
{
	struct exec_child *c = arg;

	c->exited = 1;
	if (c->kill_ev)
		event_del(c->kill_ev);
	if (c->st)
		host->log(c->h, BROKER_LOG_INFO, "exec[%lu] exited with status %lu", (unsigned long)c->pid,
		          (unsigned long)c->status);
	child_maybe_done(c);
	child_unref(c);
}

static DWORD WINAPI wait_thread(LPVOID arg)
{
	struct exec_child *c = arg;

	WaitForSingleObject(c->process, INFINITE);
	GetExitCodeProcess(c->process, &c->status);
	/* The post's reference is this thread's. */
	if (host->post(c->h, on_exited, c) < 0)
		child_unref(c);
	return 0;
}

/* ------------------------------------------------------------- stream */

static void on_kill_grace(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *c = arg;

	(void)fd;
	(void)what;
	if (c->exited)
		return;
	host->log(c->h, BROKER_LOG_INFO, "exec[%lu] still running after %ld ms: terminating its job",
	          (unsigned long)c->pid, grace_ms(c->h));
	TerminateJobObject(c->job, 1);
}

/* The core closed the stream: the bridge closes stdin; terminate after the grace period. */
static void on_stream_close(void *arg)
{
	struct exec_child *c = arg;
	long ms;

	c->owned = 0;
	if (!c->st) {
		child_unref(c);  /* the core's reference; stop already handled the rest */
		return;
	}
	if (!c->exited) {
		ms = grace_ms(c->h);
		host->log(c->h, BROKER_LOG_DEBUG, "exec[%lu]: stream closed, stopping %s", (unsigned long)c->pid,
		          c->cmd);
		if (ms == 0) {
			on_kill_grace(-1, 0, c);
		} else {
			struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

			event_add(c->kill_ev, &tv);
		}
	}
	child_maybe_done(c);
	child_unref(c);
}

static void on_started(evutil_socket_t fd, short what, void *arg)
{
	struct exec_child *c = arg;
	struct broker_connect_req *req = c->req;
	struct broker_stream_desc desc;

	(void)fd;
	(void)what;
	c->req = NULL;
	memset(&desc, 0, sizeof(desc));
	desc.rfd = (broker_fd)c->sock;
	desc.wfd = (broker_fd)c->sock;
	desc.flags = BROKER_STREAM_SOCKET;
	desc.peer = c->peer;
	desc.on_close = on_stream_close;
	desc.close_arg = c;
	c->sock = EXEC_NOSOCK;
	c->owned = 1;
	InterlockedIncrement(&c->refs);  /* the core's, until on_close */
	host->log(c->h, BROKER_LOG_DEBUG, "started %s", c->peer);
	host->connected(req, &desc);
}

/* ------------------------------------------------------------- connect */

/*
 * A pipe whose our end is overlapped (a uniquely named pipe; CreatePipe
 * cannot make overlapped ends) and whose child end is inheritable.
 * inbound: we read (the child's stdout); else we write (its stdin).
 */
static int child_pipe(int inbound, HANDLE *ours, HANDLE *theirs)
{
	static volatile LONG serial;
	WCHAR name[96];
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };

	swprintf(name, 96, L"\\\\.\\pipe\\broker-exec-%lu-%ld-%lu", (unsigned long)GetCurrentProcessId(),
	         (long)InterlockedIncrement(&serial), (unsigned long)GetTickCount());
	*ours = CreateNamedPipeW(name, (inbound ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) |
	                         FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
	                         PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
	                         1, EXEC_PIPE_BUF, EXEC_PIPE_BUF, 0, NULL);
	if (*ours == INVALID_HANDLE_VALUE)
		return -1;
	*theirs = CreateFileW(name, inbound ? GENERIC_WRITE : GENERIC_READ, 0, &sa, OPEN_EXISTING, 0, NULL);
	if (*theirs == INVALID_HANDLE_VALUE) {
		CloseHandle(*ours);
		*ours = INVALID_HANDLE_VALUE;
		return -1;
	}
	return 0;
}

static void close_h(HANDLE *h)
{
	if (*h && *h != INVALID_HANDLE_VALUE)
		CloseHandle(*h);
	*h = INVALID_HANDLE_VALUE;
}

static int spawn_error(DWORD e, const char *cmd, char *err, size_t errlen)
{
	switch (e) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		snprintf(err, errlen, "exec: %s: No such file or directory", cmd);
		return -ENOENT;
	case ERROR_ACCESS_DENIED:
		snprintf(err, errlen, "exec: %s: Permission denied", cmd);
		return -EACCES;
	case ERROR_BAD_EXE_FORMAT:
		snprintf(err, errlen, "exec: %s: not a Windows program", cmd);
		return -ENOEXEC;
	default:
		snprintf(err, errlen, "exec: %s: CreateProcess failed (error %lu)", cmd, (unsigned long)e);
		return -EIO;
	}
}

/*
 * The child's environment block (UTF-16, double-NUL terminated): only the
 * variables that pass EXEC_ENV_BASE_WIN32, the "env" option and ?env=
 * (names compared ignoring case, as Windows does).  Entries that start with
 * '=' (the per-drive current directories) pass: they are not settings.
 */
static WCHAR *child_env_block(struct exec_state *st, const struct broker_url *url, char *err, size_t errlen)
{
	const char *opt = host->option_string(st->h, "env");
	const char *q = host->url_param(url, "env");
	WCHAR *all, *out, *o;
	size_t total = 0;

	if (exec_env_list_check(q, "?env=", err, errlen) < 0)
		return NULL;
	all = GetEnvironmentStringsW();
	if (!all) {
		snprintf(err, errlen, "cannot read the environment (error %lu)", GetLastError());
		return NULL;
	}
	for (const WCHAR *e = all; *e; e += wcslen(e) + 1)
		total += wcslen(e) + 1;
	out = calloc(total + 2, sizeof(*out));
	if (!out) {
		FreeEnvironmentStringsW(all);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o = out;
	for (const WCHAR *e = all; *e; e += wcslen(e) + 1) {
		char name[256];
		size_t n = 0;
		int keep = e[0] == L'=';

		for (; !keep && e[n] && e[n] != L'=' && n < sizeof(name) - 1; n++)
			name[n] = e[n] < 0x80 ? (char)e[n] : '?';
		if (!keep && e[n] == L'=' && exec_env_passes(name, n, EXEC_ENV_BASE_WIN32, opt, q, 1))
			keep = 1;
		if (keep) {
			size_t len = wcslen(e) + 1;
			memcpy(o, e, len * sizeof(*o));
			o += len;
		}
	}
	*o = L'\0';
	FreeEnvironmentStringsW(all);
	return out;
}

static int exec_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                        void **pending, char *err, size_t errlen)
{
	struct exec_state *st = state;
	struct event_base *base = host->event_base(st->h);
	struct exec_child *c = NULL;
	char **argv = NULL, *line = NULL;
	WCHAR *wline = NULL, *wenv = NULL;
	HANDLE in_ours = INVALID_HANDLE_VALUE, in_theirs = INVALID_HANDLE_VALUE;
	HANDLE out_ours = INVALID_HANDLE_VALUE, out_theirs = INVALID_HANDLE_VALUE;
	HANDLE err_ours = INVALID_HANDLE_VALUE, err_theirs = INVALID_HANDLE_VALUE;
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION jl;
	STARTUPINFOEXW si;
	PROCESS_INFORMATION pi;
	LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
	SIZE_T asize = 0;
	HANDLE inherit[3];
	struct win32_bridge_opts o;
	int r;

	memset(&pi, 0, sizeof(pi));
	r = exec_argv_split(url->address ? url->address : "", &argv, err, errlen);
	if (r < 0)
		return r;
	wenv = child_env_block(st, url, err, errlen);
	if (!wenv) {
		exec_argv_free(argv);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	line = argv_join(argv);
	wline = line ? to_wide(line) : NULL;
	if (!c || !wline || !(c->cmd = _strdup(argv[0]))) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	c->sock = EXEC_NOSOCK;
	c->h = st->h;
	if (child_pipe(0, &in_ours, &in_theirs) < 0 || child_pipe(1, &out_ours, &out_theirs) < 0 ||
	    !CreatePipe(&err_ours, &err_theirs, &sa, 0)) {
		snprintf(err, errlen, "cannot create pipes for %s (error %lu)", c->cmd, GetLastError());
		r = -EMFILE;
		goto fail;
	}
	SetHandleInformation(err_ours, HANDLE_FLAG_INHERIT, 0);

	c->job = CreateJobObjectW(NULL, NULL);
	memset(&jl, 0, sizeof(jl));
	jl.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
	if (!c->job || !SetInformationJobObject(c->job, JobObjectExtendedLimitInformation, &jl, sizeof(jl))) {
		snprintf(err, errlen, "cannot create a job object for %s (error %lu)", c->cmd, GetLastError());
		r = -EIO;
		goto fail;
	}

	/* Inherit exactly the three pipe ends. */
	InitializeProcThreadAttributeList(NULL, 1, 0, &asize);
	attrs = malloc(asize);
	inherit[0] = in_theirs;
	inherit[1] = out_theirs;
	inherit[2] = err_theirs;
	memset(&si, 0, sizeof(si));
	si.StartupInfo.cb = sizeof(si);
	si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
	si.StartupInfo.hStdInput = in_theirs;
	si.StartupInfo.hStdOutput = out_theirs;
	si.StartupInfo.hStdError = err_theirs;
	if (attrs && InitializeProcThreadAttributeList(attrs, 1, 0, &asize) &&
	    UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit, sizeof(inherit),
	                              NULL, NULL))
		si.lpAttributeList = attrs;
	if (!CreateProcessW(NULL, wline, NULL, NULL, TRUE,
	                    CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT |
	                    (si.lpAttributeList ? EXTENDED_STARTUPINFO_PRESENT : 0),
	                    wenv, NULL, &si.StartupInfo, &pi)) {
		r = spawn_error(GetLastError(), c->cmd, err, errlen);
		goto fail;
	}
	c->process = pi.hProcess;
	c->pid = pi.dwProcessId;
	if (!AssignProcessToJobObject(c->job, pi.hProcess)) {
		/* Without the job the child could outlive us: do not run it. */
		snprintf(err, errlen, "exec: %s: cannot put it in a job object (error %lu)", c->cmd, GetLastError());
		TerminateProcess(pi.hProcess, 1);
		CloseHandle(pi.hThread);
		r = -EIO;
		goto fail;
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	close_h(&in_theirs);
	close_h(&out_theirs);
	close_h(&err_theirs);
	snprintf(c->peer, sizeof(c->peer), "exec:pid=%lu %s", (unsigned long)c->pid, url->address);

	memset(&o, 0, sizeof(o));
	o.rd = out_ours;
	o.wr = in_ours;
	o.flags = WIN32_BRIDGE_OVERLAPPED;
	o.name = c->cmd;
	r = win32_bridge_start(&o, &c->sock, err, errlen);
	if (r < 0) {
		TerminateJobObject(c->job, 1);
		goto fail;
	}
	in_ours = out_ours = INVALID_HANDLE_VALUE;  /* the bridge's now */
	c->err_rd = err_ours;
	err_ours = INVALID_HANDLE_VALUE;

	/* References: the list (dropped when done) + each thread. */
	c->refs = 3;
	c->st = st;
	c->req = req;
	c->next = st->children;
	if (st->children)
		st->children->prev = c;
	st->children = c;
	c->kill_ev = evtimer_new(base, on_kill_grace, c);
	c->done_ev = evtimer_new(base, on_started, c);
	c->err_thread = CreateThread(NULL, 0, stderr_thread, c, 0, NULL);
	c->wait_thread = CreateThread(NULL, 0, wait_thread, c, 0, NULL);
	if (!c->err_thread)
		child_unref(c);
	if (!c->wait_thread) {
		/* No reaper: nobody would report the exit.  Never happens short of exhaustion. */
		c->exited = 1;
		child_unref(c);
	}
	if (!c->kill_ev || !c->done_ev) {
		snprintf(err, errlen, "cannot watch %s on the event loop (out of memory?)", c->cmd);
		c->req = NULL;
		TerminateJobObject(c->job, 1);
		evutil_closesocket(c->sock);
		c->sock = EXEC_NOSOCK;
		c->exited = 1;
		child_maybe_done(c);
		free(attrs);
		free(line);
		free(wline);
		free(wenv);
		exec_argv_free(argv);
		return -ENOMEM;
	}
	{
		struct timeval now = { 0, 0 };

		event_add(c->done_ev, &now);  /* connected is reported from a later loop turn */
	}
	host->log(st->h, BROKER_LOG_DEBUG, "exec[%lu]: spawned %s (job object)", (unsigned long)c->pid, line);
	if (attrs && si.lpAttributeList)
		DeleteProcThreadAttributeList(attrs);
	free(attrs);
	free(line);
	free(wline);
	free(wenv);
	exec_argv_free(argv);
	*pending = c;
	return 0;
fail:
	close_h(&in_ours);
	close_h(&in_theirs);
	close_h(&out_ours);
	close_h(&out_theirs);
	close_h(&err_ours);
	close_h(&err_theirs);
	if (attrs && si.lpAttributeList)
		DeleteProcThreadAttributeList(attrs);
	free(attrs);
	free(line);
	free(wline);
	free(wenv);
	exec_argv_free(argv);
	if (c) {
		if (c->process)
			CloseHandle(c->process);
		if (c->job)
			CloseHandle(c->job);
		free(c->cmd);
		free(c);
	}
	return r;
}

static void exec_connect_cancel(void *state, void *pending)
{
	struct exec_child *c = pending;

	(void)state;
	if (!c || !c->req)
		return;
	c->req = NULL;
	event_del(c->done_ev);
	if (c->sock != EXEC_NOSOCK) {
		evutil_closesocket(c->sock);  /* the bridge closes the child's stdin */
		c->sock = EXEC_NOSOCK;
	}
	TerminateJobObject(c->job, 1);
	child_maybe_done(c);
}

static int exec_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                       void **listener, char *err, size_t errlen)
{
	(void)state;
	(void)url;
	(void)sink;
	(void)listener;
	return exec_listen_refused("npipe://", err, errlen);
}

/* ------------------------------------------------------------- lifecycle */

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

/*
 * Close every child's stdin (abort the bridges), give them one grace period
 * to exit, terminate the jobs of the rest, and join the threads.  Children
 * whose stream the core still holds are detached: on_close only drops the
 * core's reference.
 */
static void exec_stop(void *state)
{
	struct exec_state *st = state;
	struct exec_child *c, *next;
	ULONGLONG deadline;

	if (!st)
		return;
	win32_bridge_stop_all(2000);
	deadline = GetTickCount64() + (ULONGLONG)grace_ms(st->h);
	for (c = st->children; c; c = c->next) {
		ULONGLONG now = GetTickCount64();

		if (WaitForSingleObject(c->process, now < deadline ? (DWORD)(deadline - now) : 0) != WAIT_OBJECT_0) {
			host->log(st->h, BROKER_LOG_INFO, "exec[%lu] still running at stop: terminating its job",
			          (unsigned long)c->pid);
			TerminateJobObject(c->job, 1);
		}
	}
	for (c = st->children; c; c = next) {
		next = c->next;
		if (c->wait_thread)
			WaitForSingleObject(c->wait_thread, 5000);
		if (c->err_thread)
			WaitForSingleObject(c->err_thread, 5000);
		c->req = NULL;
		if (c->done_ev)
			event_del(c->done_ev);
		if (c->kill_ev)
			event_del(c->kill_ev);
		c->st = NULL;
		c->prev = c->next = NULL;
		child_unref(c);  /* the list's; posted items and the core hold their own */
	}
	st->children = NULL;
}

static void exec_fini(void *state)
{
	exec_stop(state);
	free(state);
}

static const struct broker_option exec_options[] = {
	{ BROKER_OPT_INT, "kill_grace_ms", "2000",
	  "after the stream closes (the child's stdin is closed), wait this long before terminating "
	  "the child's job object", 0, 600000 },
	{ BROKER_OPT_STRING, "env", "",
	  "environment variables every child gets besides SystemRoot, PATH, TEMP, USERPROFILE, APPDATA, "
	  "LOCALAPPDATA, WSLENV and the other Windows basics (NAME,NAME...; NAME* a prefix; * all); ?env= adds more",
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
