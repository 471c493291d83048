/*
 * plugins/npipe/npipe.c - endpoint plugin for Windows named pipes.
 *
 *   listen:  npipe:////./pipe/NAME   (Docker's form; also \\.\pipe\NAME or NAME)
 *            ?mode=message|byte       (default message: a zero-byte message is half-close)
 *            ?sddl=current-user|service-system-admin|everyone|RAW-SDDL
 *            ?instances=N            (instances kept waiting for clients, default 4)
 *            ?max_instances=N        (the most a burst grows that pool to, default 32)
 *   connect: npipe:////./pipe/NAME   ?mode=auto|message|byte (auto: follow the server)
 *            ?connect_timeout_ms=N   (wait at most this long for a busy pipe; default 10000)
 *
 * Listening (npipe_listen.c): one accept thread per listener keeps a pool of
 * instances waiting in overlapped ConnectNamedPipe, bridges each client to a
 * socket pair (plugins/common/win32_bridge.c) and posts the socket to the
 * loop, where host->accepted() runs.  Connecting (here) happens on a
 * short-lived thread: CreateFileW, retrying ERROR_PIPE_BUSY with
 * WaitNamedPipeW for at most the busy timeout; its result is posted to the
 * loop the same way.  Threads never touch core state; everything they hand
 * over is a socket.
 *
 * Windows only.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>
#include <sddl.h>

#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/win32_bridge.h"
#include "plugins/npipe/npipe.h"

const struct broker_host *npipe_host;
#define host npipe_host

#define NPIPE_WAIT_SLICE_MS 200         /* connect: re-check cancellation this often */
#define NPIPE_CONNECT_TIMEOUT_MAX 86400000
#define NPIPE_NOSOCK ((evutil_socket_t)-1)

struct npipe_pending {
	struct npipe_state *st;         /* NULL once stop detached it */
	struct broker_plugin_handle *h; /* for post, from the thread */
	struct npipe_pending *prev, *next;
	struct broker_connect_req *req;
	int cancelled;                  /* loop thread only */
	volatile LONG stop;             /* tells the thread to give up */
	HANDLE thread;
	char path[NPIPE_PATH_MAX];
	WCHAR wpath[NPIPE_PATH_MAX];
	int mode;                       /* 0 auto, 1 message, 2 byte */
	long timeout_ms;
	/* result, written by the thread before it posts */
	int error;                      /* negative errno, 0: sock is valid */
	evutil_socket_t sock;
	char peer[64];
	char reason[320];
};

/* ------------------------------------------------------------- helpers */

void npipe_close_sock_hard(evutil_socket_t s)
{
	struct linger lg = { 1, 0 };

	setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
	evutil_closesocket(s);
}

/*
 * Normalize "//./pipe/NAME", "\\.\pipe\NAME", "./pipe/NAME", "/./pipe/NAME"
 * or a bare "NAME" to "\\.\pipe\NAME".  Remote pipes are refused.
 */
int npipe_path(const char *address, char *out, size_t outlen, WCHAR *wout, size_t wlen, char *err,
               size_t errlen)
{
	char tmp[NPIPE_PATH_MAX];
	const char *name;
	size_t n = strlen(address), i;

	if (n >= sizeof(tmp)) {
		snprintf(err, errlen, "pipe name too long (%zu bytes; at most %d)", n, NPIPE_PATH_MAX - 10);
		return -ENAMETOOLONG;
	}
	for (i = 0; i <= n; i++)
		tmp[i] = address[i] == '/' ? '\\' : address[i];
	if (strncmp(tmp, "\\\\", 2) == 0) {
		if (strncmp(tmp, "\\\\.\\", 4) != 0) {
			snprintf(err, errlen, "\"%s\" names a pipe on another machine; only local pipes "
			         "(//./pipe/NAME) are served", address);
			return -EINVAL;
		}
		name = tmp + 4;
	} else if (strncmp(tmp, "\\.\\", 3) == 0) {
		name = tmp + 3;
	} else if (strncmp(tmp, ".\\", 2) == 0) {
		name = tmp + 2;
	} else {
		name = tmp;
	}
	if (_strnicmp(name, "pipe\\", 5) == 0)
		name += 5;
	else if (name != tmp) {
		snprintf(err, errlen, "\"%s\" is not a pipe path (write npipe:////./pipe/NAME)", address);
		return -EINVAL;
	}
	if (!*name) {
		snprintf(err, errlen, "empty pipe name (write npipe:////./pipe/NAME)");
		return -EINVAL;
	}
	/* One name under \\.\pipe\, nothing that walks elsewhere or names a stream or device. */
	if (strchr(name, '\\') || strchr(name, ':') || strstr(name, "..")) {
		snprintf(err, errlen, "pipe name \"%s\" may not contain '\\', '/', ':' or '..' (write npipe:////./pipe/NAME)",
		         name);
		return -EINVAL;
	}
	if (snprintf(out, outlen, "\\\\.\\pipe\\%s", name) >= (int)outlen) {
		snprintf(err, errlen, "pipe name too long");
		return -ENAMETOOLONG;
	}
	if (!MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, out, -1, wout, (int)wlen)) {
		snprintf(err, errlen, "pipe name \"%s\" is not valid UTF-8", name);
		return -EINVAL;
	}
	return 0;
}

/* "npipe:////./pipe/NAME" from "\\.\pipe\NAME". */
void npipe_url(const char *path, char *out, size_t outlen)
{
	size_t i, o = 0;
	const char *pre = "npipe://";

	for (i = 0; pre[i] && o + 1 < outlen; i++)
		out[o++] = pre[i];
	for (i = 0; path[i] && o + 1 < outlen; i++)
		out[o++] = path[i] == '\\' ? '/' : path[i];
	out[o] = '\0';
}

const char *npipe_strerror(DWORD e, char *buf, size_t len)
{
	DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
	                         MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), buf, (DWORD)len, NULL);

	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
		buf[--n] = '\0';
	if (n == 0)
		snprintf(buf, len, "Windows error %lu", (unsigned long)e);
	return buf;
}

int npipe_mode_param(const struct broker_url *url, int *mode, int for_listen, char *err, size_t errlen)
{
	const char *m = host->url_param(url, "mode");

	*mode = for_listen ? 1 : 0;
	if (!m)
		return 0;
	if (strcmp(m, "message") == 0)
		*mode = 1;
	else if (strcmp(m, "byte") == 0)
		*mode = 2;
	else if (strcmp(m, "auto") == 0 && !for_listen)
		*mode = 0;
	else {
		snprintf(err, errlen, "bad mode \"%s\" (message or byte%s)", m, for_listen ? "" : " or auto");
		return -EINVAL;
	}
	return 0;
}

int npipe_int_param(struct npipe_state *st, const struct broker_url *url, const char *key, long long min,
                    long long max, long long *out, char *err, size_t errlen)
{
	const char *v = host->url_param(url, key);
	char *end;

	if (!v) {
		*out = host->option_int(st->h, key);
		return 0;
	}
	*out = strtoll(v, &end, 10);
	if (end == v || *end || *out < min || *out > max) {
		snprintf(err, errlen, "bad %s \"%s\" (a number from %lld to %lld)", key, v, min, max);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------- security */

/* The current user's SID as a string ("S-1-5-21-..."); LocalFree it. */
static char *user_sid(char *err, size_t errlen)
{
	HANDLE tok = NULL;
	DWORD len = 0;
	TOKEN_USER *tu = NULL;
	char *s = NULL;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
		snprintf(err, errlen, "cannot open the process token (error %lu)", GetLastError());
		return NULL;
	}
	GetTokenInformation(tok, TokenUser, NULL, 0, &len);
	tu = len ? malloc(len) : NULL;
	if (!tu || !GetTokenInformation(tok, TokenUser, tu, len, &len) ||
	    !ConvertSidToStringSidA(tu->User.Sid, &s)) {
		snprintf(err, errlen, "cannot read the current user's SID (error %lu)", GetLastError());
		s = NULL;
	}
	free(tu);
	CloseHandle(tok);
	return s;
}

/* The SDDL for ?sddl= (malloc'd); *warn set for "everyone". */
char *npipe_sddl_for(const char *preset, int *warn, char *err, size_t errlen)
{
	char *out = NULL;

	*warn = 0;
	if (!preset || !*preset || strcmp(preset, "current-user") == 0) {
		char *sid = user_sid(err, errlen);
		size_t n;

		if (!sid)
			return NULL;
		n = strlen(sid) + 64;
		out = malloc(n);
		if (out)
			snprintf(out, n, "D:P(A;;GA;;;%s)(A;;GA;;;SY)", sid);
		LocalFree(sid);
	} else if (strcmp(preset, "service-system-admin") == 0) {
		out = _strdup("D:(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;LA)(A;ID;FA;;;LS)");
	} else if (strcmp(preset, "everyone") == 0) {
		/*
		 * Everyone may read and write, and nothing else: not
		 * FILE_CREATE_PIPE_INSTANCE (0x4, which GENERIC_WRITE includes), so
		 * nobody else can add an instance of our pipe and take clients in our
		 * place.  Clients opening with GENERIC_WRITE are not asked for it.
		 * 0x12019b: FILE_GENERIC_READ | FILE_GENERIC_WRITE without 0x4.  We
		 * (and SYSTEM) keep full control, to create our own instances.
		 */
		char *sid = user_sid(err, errlen);
		size_t n;

		if (!sid)
			return NULL;
		*warn = 1;
		n = strlen(sid) + 80;
		out = malloc(n);
		if (out)
			snprintf(out, n, "D:P(A;;GA;;;%s)(A;;GA;;;SY)(A;;0x0012019b;;;WD)", sid);
		LocalFree(sid);
	} else if (strncmp(preset, "D:", 2) == 0 || strncmp(preset, "O:", 2) == 0 ||
	           strncmp(preset, "G:", 2) == 0 || strncmp(preset, "S:", 2) == 0) {
		out = _strdup(preset);
	} else {
		snprintf(err, errlen, "unknown sddl \"%s\" (current-user, service-system-admin, everyone, "
		         "or an SDDL string such as D:P(A;;GA;;;SY))", preset);
		return NULL;
	}
	if (!out)
		snprintf(err, errlen, "out of memory");
	return out;
}

/* ------------------------------------------------------------- connect */

static void pending_unlink(struct npipe_pending *p)
{
	if (!p->st)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		p->st->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void pending_free(struct npipe_pending *p)
{
	if (p->thread) {
		WaitForSingleObject(p->thread, INFINITE);  /* it has posted: it is ending */
		CloseHandle(p->thread);
	}
	if (p->sock != NPIPE_NOSOCK)
		npipe_close_sock_hard(p->sock);
	free(p);
}

/* The connect thread's result, on the loop thread. */
static void on_connect_done(void *arg)
{
	struct npipe_pending *p = arg;
	struct broker_stream_desc desc;

	if (!p->st || p->cancelled) {
		pending_unlink(p);
		pending_free(p);
		return;
	}
	pending_unlink(p);
	if (p->error) {
		host->connect_failed(p->req, p->error, p->reason);
	} else {
		memset(&desc, 0, sizeof(desc));
		desc.rfd = (broker_fd)p->sock;
		desc.wfd = (broker_fd)p->sock;
		desc.flags = BROKER_STREAM_SOCKET;
		desc.peer = p->peer;
		p->sock = NPIPE_NOSOCK;
		host->connected(p->req, &desc);
	}
	pending_free(p);
}

static void connect_fail(struct npipe_pending *p, int error, DWORD e)
{
	char why[200];

	p->error = error;
	switch (e) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		snprintf(p->reason, sizeof(p->reason), "%s: no such pipe (is its server running?)", p->path);
		p->error = -ENOENT;
		break;
	case ERROR_ACCESS_DENIED:
		snprintf(p->reason, sizeof(p->reason),
		         "%s: access denied (the pipe's security descriptor does not admit this user)", p->path);
		p->error = -EACCES;
		break;
	case ERROR_PIPE_BUSY:
	case ERROR_SEM_TIMEOUT:
		snprintf(p->reason, sizeof(p->reason),
		         "%s: all pipe instances stayed busy for %ld ms (its server is overloaded or stuck; "
		         "?connect_timeout_ms= or the npipe option connect_timeout_ms waits longer)",
		         p->path, p->timeout_ms);
		p->error = -ETIMEDOUT;
		break;
	default:
		snprintf(p->reason, sizeof(p->reason), "%s: %s", p->path, npipe_strerror(e, why, sizeof(why)));
		if (!p->error)
			p->error = -EIO;
		break;
	}
}

static DWORD WINAPI connect_thread(LPVOID arg)
{
	struct npipe_pending *p = arg;
	ULONGLONG deadline = GetTickCount64() + (ULONGLONG)p->timeout_ms;
	HANDLE h = INVALID_HANDLE_VALUE;
	DWORD e, flags = 0, rmode;
	char err[256];

	for (;;) {
		if (p->stop) {
			p->error = -ECANCELED;
			goto post;
		}
		h = CreateFileW(p->wpath, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
		                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
		if (h != INVALID_HANDLE_VALUE)
			break;
		e = GetLastError();
		if (e != ERROR_PIPE_BUSY) {
			connect_fail(p, -EIO, e);
			goto post;
		}
		{
			ULONGLONG now = GetTickCount64();
			DWORD slice;

			/* Bounded: 0 fails at the first ERROR_PIPE_BUSY. */
			if (now >= deadline) {
				connect_fail(p, -ETIMEDOUT, ERROR_PIPE_BUSY);
				goto post;
			}
			slice = NPIPE_WAIT_SLICE_MS;
			if (deadline - now < slice)
				slice = (DWORD)(deadline - now);
			if (!WaitNamedPipeW(p->wpath, slice) && GetLastError() == ERROR_FILE_NOT_FOUND) {
				connect_fail(p, -ENOENT, ERROR_FILE_NOT_FOUND);
				goto post;
			}
		}
	}
	/* Follow the server's pipe type unless ?mode= says otherwise. */
	GetNamedPipeInfo(h, &flags, NULL, NULL, NULL);
	if (p->mode == 1 || (p->mode == 0 && (flags & PIPE_TYPE_MESSAGE))) {
		rmode = PIPE_READMODE_MESSAGE;
		if (!SetNamedPipeHandleState(h, &rmode, NULL, NULL)) {
			e = GetLastError();
			snprintf(p->reason, sizeof(p->reason), "%s: cannot read in message mode (error %lu%s)",
			         p->path, (unsigned long)e, (flags & PIPE_TYPE_MESSAGE) ? "" :
			         "; the server's pipe is in byte mode: use ?mode=byte");
			p->error = -EPROTO;
			CloseHandle(h);
			goto post;
		}
		p->mode = 1;
	} else {
		p->mode = 2;
	}
	{
		struct win32_bridge_opts o;
		ULONG pid = 0;

		memset(&o, 0, sizeof(o));
		o.rd = o.wr = h;
		o.flags = WIN32_BRIDGE_SAME | WIN32_BRIDGE_OVERLAPPED | (p->mode == 1 ? WIN32_BRIDGE_MESSAGE : 0);
		o.name = p->path;
		if (win32_bridge_start(&o, &p->sock, err, sizeof(err)) < 0) {
			snprintf(p->reason, sizeof(p->reason), "%s: %s", p->path, err);
			p->error = -ENOMEM;
			CloseHandle(h);
			goto post;
		}
		if (GetNamedPipeServerProcessId(h, &pid) && pid)
			snprintf(p->peer, sizeof(p->peer), "npipe:server-pid=%lu", (unsigned long)pid);
		else
			snprintf(p->peer, sizeof(p->peer), "npipe:server");
	}
post:
	/* Exactly one post per pending; if even that fails, the loop never hears of it. */
	if (host->post(p->h, on_connect_done, p) < 0 && p->sock != NPIPE_NOSOCK) {
		npipe_close_sock_hard(p->sock);
		p->sock = NPIPE_NOSOCK;
	}
	return 0;
}

static int npipe_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                         void **pending, char *err, size_t errlen)
{
	struct npipe_state *st = state;
	struct npipe_pending *p;
	long long tmo;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->sock = NPIPE_NOSOCK;
	p->st = st;
	p->h = st->h;
	p->req = req;
	if ((r = npipe_path(url->address, p->path, sizeof(p->path), p->wpath, NPIPE_PATH_MAX, err, errlen)) < 0 ||
	    (r = npipe_mode_param(url, &p->mode, 0, err, errlen)) < 0 ||
	    (r = npipe_int_param(st, url, "connect_timeout_ms", 0, NPIPE_CONNECT_TIMEOUT_MAX, &tmo, err, errlen)) < 0) {
		free(p);
		return r;
	}
	p->timeout_ms = (long)tmo;
	p->next = st->pending;
	if (st->pending)
		st->pending->prev = p;
	st->pending = p;
	p->thread = CreateThread(NULL, 0, connect_thread, p, 0, NULL);
	if (!p->thread) {
		pending_unlink(p);
		free(p);
		snprintf(err, errlen, "cannot start a connect thread (error %lu)", GetLastError());
		return -ENOMEM;
	}
	*pending = p;
	return 0;
}

static void npipe_connect_cancel(void *state, void *pending)
{
	struct npipe_pending *p = pending;

	(void)state;
	if (!p)
		return;
	/* The thread still posts once; on_connect_done then only frees. */
	p->cancelled = 1;
	InterlockedExchange(&p->stop, 1);
}

/* ------------------------------------------------------------- lifecycle */

static int npipe_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct npipe_state *st = calloc(1, sizeof(*st));

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	*state = st;
	return 0;
}

static void npipe_stop(void *state)
{
	struct npipe_state *st = state;
	struct npipe_pending *p, *next;
	int left;

	if (!st)
		return;
	/* Connects in flight: stop their threads; their posts only free them. */
	for (p = st->pending; p; p = next) {
		next = p->next;
		p->cancelled = 1;
		InterlockedExchange(&p->stop, 1);
		if (p->thread)
			WaitForSingleObject(p->thread, 5000);
		p->st = NULL;
		p->prev = p->next = NULL;
	}
	st->pending = NULL;
	left = win32_bridge_stop_all(5000);
	if (left)
		host->log(st->h, BROKER_LOG_WARN, "%d pipe bridges did not stop in 5 s", left);
}

static void npipe_fini(void *state)
{
	npipe_stop(state);
	free(state);
}

static const struct broker_option npipe_options[] = {
	{ BROKER_OPT_INT, "connect_timeout_ms", "10000",
	  "connect: wait at most this long for a busy pipe (ERROR_PIPE_BUSY), then fail (0: do not wait); "
	  "?connect_timeout_ms=N overrides", 0, NPIPE_CONNECT_TIMEOUT_MAX },
	{ BROKER_OPT_INT, "instances", "4",
	  "listen: pipe instances kept waiting for clients; ?instances=N overrides", 1, NPIPE_MAX_INSTANCES },
	{ BROKER_OPT_INT, "max_instances", "32",
	  "listen: when every waiting instance is taken at once, the pool doubles up to this many "
	  "(and shrinks back after 30 s idle); ?max_instances=N overrides", 1, NPIPE_MAX_INSTANCES },
	{ BROKER_OPT_STRING, "sddl", "current-user",
	  "listen: default security descriptor: current-user, service-system-admin, everyone or an SDDL "
	  "string; ?sddl= overrides", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const npipe_schemes[] = { "npipe", NULL };

static const struct broker_url_param_decl npipe_params[] = {
	{ "mode", BROKER_PARAM_LISTEN | BROKER_PARAM_CONNECT, NULL,
	  "message or byte (connecting: also auto); listening default message" },
	{ "sddl", BROKER_PARAM_LISTEN, NULL, "who may connect: current-user, service-system-admin, everyone or SDDL" },
	{ "instances", BROKER_PARAM_LISTEN, NULL, "pipe instances kept waiting for clients (default: option instances)" },
	{ "max_instances", BROKER_PARAM_LISTEN, NULL,
	  "the most a burst of clients grows the instance pool to (default: option max_instances)" },
	{ "connect_timeout_ms", BROKER_PARAM_CONNECT, NULL,
	  "wait at most this long for a busy pipe (default: option connect_timeout_ms)" },
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin npipe_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "npipe",
	.version = PACKAGE_VERSION,
	.description = "Windows named pipes (npipe:////./pipe/NAME)",
	.kinds = BROKER_KIND_ENDPOINT,
	.options = npipe_options,
	.init = npipe_init,
	.stop = npipe_stop,
	.fini = npipe_fini,
	.schemes = npipe_schemes,
	.url_params = npipe_params,
	.listen = npipe_listen,
	.unlisten = npipe_unlisten,
	.describe = npipe_describe,
	.connect = npipe_connect,
	.connect_cancel = npipe_connect_cancel,
};

BROKER_PLUGIN_DEFINE(npipe_plugin, npipe_host)
