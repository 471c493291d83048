/*
 * plugins/npipe/npipe.c - endpoint plugin for Windows named pipes.
 *
 *   listen:  npipe:////./pipe/NAME   (Docker's form; also \\.\pipe\NAME or NAME)
 *            ?mode=message|byte       (default message: a zero-byte message is half-close)
 *            ?sddl=current-user|service-system-admin|everyone|RAW-SDDL
 *            ?instances=N            (instances kept waiting for clients, default 4)
 *   connect: npipe:////./pipe/NAME   ?mode=auto|message|byte (auto: follow the server)
 *
 * Each listener has one accept thread.  It keeps `instances` pipe instances
 * waiting in overlapped ConnectNamedPipe (so a burst of clients never sees
 * ERROR_PIPE_BUSY), bridges each connected instance to a socket pair
 * (plugins/common/win32_bridge.c) and posts the socket to the loop, where
 * host->accepted() runs.  Connecting happens on a short-lived thread
 * (CreateFileW, retrying ERROR_PIPE_BUSY with WaitNamedPipeW up to
 * connect_timeout_ms); its result is posted to the loop the same way.
 * Threads never touch core state; everything they hand over is a socket.
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

static const struct broker_host *host;

#define NPIPE_PREFIX_W L"\\\\.\\pipe\\"
#define NPIPE_PATH_MAX 256
#define NPIPE_BUF 65536
#define NPIPE_MAX_INSTANCES 62          /* WaitForMultipleObjects: 64 incl. the stop event */
#define NPIPE_RETRY_MS 1000             /* re-create a failed instance after this */
#define NPIPE_WAIT_SLICE_MS 200         /* connect: re-check cancellation this often */
#define NPIPE_NOSOCK ((evutil_socket_t)-1)

struct npipe_state {
	struct broker_plugin_handle *h;
	struct npipe_pending *pending;  /* connects in flight (loop thread) */
};

struct npipe_inst {
	HANDLE pipe;
	OVERLAPPED ov;
	int waiting;                    /* ConnectNamedPipe outstanding */
};

struct npipe_listener {
	struct npipe_state *st;
	struct broker_accept_sink *sink;
	volatile LONG refs;             /* the owner + one per posted accept */
	int closed;                     /* unlisten ran (loop thread) */
	char path[NPIPE_PATH_MAX];      /* \\.\pipe\NAME */
	char url[NPIPE_PATH_MAX + 16];  /* npipe:////./pipe/NAME */
	WCHAR wpath[NPIPE_PATH_MAX];
	int message;
	int ninst;
	char *sddl;
	SECURITY_ATTRIBUTES sa;
	PSECURITY_DESCRIPTOR sd;        /* LocalFree */
	HANDLE stop_ev;
	HANDLE thread;
	struct npipe_inst inst[NPIPE_MAX_INSTANCES];
	volatile LONG accepted, failed;
};

struct npipe_accept_item {
	struct npipe_listener *l;
	evutil_socket_t sock;
	char peer[64];
};

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

static void close_sock_hard(evutil_socket_t s)
{
	struct linger lg = { 1, 0 };

	setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
	evutil_closesocket(s);
}

/*
 * Normalize "//./pipe/NAME", "\\.\pipe\NAME", "./pipe/NAME", "/./pipe/NAME"
 * or a bare "NAME" to "\\.\pipe\NAME".  Remote pipes are refused.
 */
static int pipe_path(const char *address, char *out, size_t outlen, WCHAR *wout, size_t wlen,
                     char *err, size_t errlen)
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
static void pipe_url(const char *path, char *out, size_t outlen)
{
	size_t i, o = 0;
	const char *pre = "npipe://";

	for (i = 0; pre[i] && o + 1 < outlen; i++)
		out[o++] = pre[i];
	for (i = 0; path[i] && o + 1 < outlen; i++)
		out[o++] = path[i] == '\\' ? '/' : path[i];
	out[o] = '\0';
}

static const char *win_strerror(DWORD e, char *buf, size_t len)
{
	DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
	                         MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), buf, (DWORD)len, NULL);

	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
		buf[--n] = '\0';
	if (n == 0)
		snprintf(buf, len, "Windows error %lu", (unsigned long)e);
	return buf;
}

static int mode_param(const struct broker_url *url, int *mode, int for_listen, char *err, size_t errlen)
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
static char *sddl_for(const char *preset, int *warn, char *err, size_t errlen)
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
		*warn = 1;
		out = _strdup("D:P(A;;GA;;;WD)");
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

/* ------------------------------------------------------------- listen */

static void listener_unref(struct npipe_listener *l)
{
	int i;

	if (InterlockedDecrement(&l->refs) > 0)
		return;
	for (i = 0; i < l->ninst; i++) {
		if (l->inst[i].pipe && l->inst[i].pipe != INVALID_HANDLE_VALUE)
			CloseHandle(l->inst[i].pipe);
		if (l->inst[i].ov.hEvent)
			CloseHandle(l->inst[i].ov.hEvent);
	}
	if (l->stop_ev)
		CloseHandle(l->stop_ev);
	if (l->thread)
		CloseHandle(l->thread);
	if (l->sd)
		LocalFree(l->sd);
	free(l->sddl);
	free(l);
}

static HANDLE create_instance(struct npipe_listener *l, int first)
{
	DWORD open = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
	DWORD mode = (l->message ? PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE : PIPE_TYPE_BYTE | PIPE_READMODE_BYTE) |
	             PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;

	return CreateNamedPipeW(l->wpath, open, mode, PIPE_UNLIMITED_INSTANCES, NPIPE_BUF, NPIPE_BUF, 0, &l->sa);
}

/* Start waiting for a client on slot i (creating its instance if needed).  0 or -1. */
static int arm_instance(struct npipe_listener *l, int i)
{
	struct npipe_inst *in = &l->inst[i];
	DWORD e;

	if (!in->pipe || in->pipe == INVALID_HANDLE_VALUE) {
		in->pipe = create_instance(l, 0);
		if (in->pipe == INVALID_HANDLE_VALUE) {
			in->pipe = NULL;
			return -1;
		}
	}
	ResetEvent(in->ov.hEvent);
	if (ConnectNamedPipe(in->pipe, &in->ov)) {
		SetEvent(in->ov.hEvent);
	} else {
		e = GetLastError();
		if (e == ERROR_PIPE_CONNECTED) {
			SetEvent(in->ov.hEvent);  /* a client came between create and connect */
		} else if (e != ERROR_IO_PENDING) {
			CloseHandle(in->pipe);
			in->pipe = NULL;
			return -1;
		}
	}
	in->waiting = 1;
	return 0;
}

static void on_accepted(void *arg)
{
	struct npipe_accept_item *it = arg;
	struct npipe_listener *l = it->l;
	struct broker_stream_desc desc;

	if (l->closed) {
		close_sock_hard(it->sock);
	} else {
		memset(&desc, 0, sizeof(desc));
		desc.rfd = (broker_fd)it->sock;
		desc.wfd = (broker_fd)it->sock;
		desc.flags = BROKER_STREAM_SOCKET;
		desc.peer = it->peer;
		host->accepted(l->sink, &desc);
	}
	listener_unref(l);
	free(it);
}

/* A client connected on pipe: bridge it and post the socket to the loop. */
static void hand_off(struct npipe_listener *l, HANDLE pipe)
{
	struct npipe_accept_item *it;
	struct win32_bridge_opts o;
	ULONG pid = 0;
	char err[256];

	it = calloc(1, sizeof(*it));
	memset(&o, 0, sizeof(o));
	o.rd = o.wr = pipe;
	o.flags = WIN32_BRIDGE_SAME | WIN32_BRIDGE_OVERLAPPED | (l->message ? WIN32_BRIDGE_MESSAGE : 0);
	o.name = l->path;
	if (!it || win32_bridge_start(&o, &it->sock, err, sizeof(err)) < 0) {
		/* Drop this client. */
		InterlockedIncrement(&l->failed);
		free(it);
		CloseHandle(pipe);
		return;
	}
	/* the bridge owns the pipe now */
	if (GetNamedPipeClientProcessId(o.rd, &pid) && pid)
		snprintf(it->peer, sizeof(it->peer), "npipe:pid=%lu", (unsigned long)pid);
	else
		snprintf(it->peer, sizeof(it->peer), "npipe:client");
	it->l = l;
	InterlockedIncrement(&l->refs);
	InterlockedIncrement(&l->accepted);
	if (host->post(l->st->h, on_accepted, it) < 0) {
		InterlockedDecrement(&l->refs);  /* the owner still holds one: never 0 here */
		close_sock_hard(it->sock);
		free(it);
	}
}

static DWORD WINAPI accept_thread(LPVOID arg)
{
	struct npipe_listener *l = arg;
	HANDLE evs[NPIPE_MAX_INSTANCES + 1];
	int slot[NPIPE_MAX_INSTANCES];
	int i, n, broken;
	DWORD w, got;

	for (;;) {
		/* (Re)arm every idle slot; remember the ones that could not be. */
		broken = 0;
		for (i = 0; i < l->ninst; i++)
			if (!l->inst[i].waiting && arm_instance(l, i) < 0)
				broken++;
		evs[0] = l->stop_ev;
		for (i = 0, n = 0; i < l->ninst; i++) {
			if (!l->inst[i].waiting)
				continue;
			evs[1 + n] = l->inst[i].ov.hEvent;
			slot[n++] = i;
		}
		w = WaitForMultipleObjects((DWORD)(1 + n), evs, FALSE, broken ? NPIPE_RETRY_MS : INFINITE);
		if (w == WAIT_OBJECT_0 || w == WAIT_FAILED)
			break;
		if (w == WAIT_TIMEOUT)
			continue;
		i = slot[w - WAIT_OBJECT_0 - 1];
		l->inst[i].waiting = 0;
		if (GetOverlappedResult(l->inst[i].pipe, &l->inst[i].ov, &got, FALSE) ||
		    GetLastError() == ERROR_PIPE_CONNECTED) {
			HANDLE pipe = l->inst[i].pipe;

			/* A fresh instance waits before the slow part (the socket pair). */
			l->inst[i].pipe = NULL;
			arm_instance(l, i);
			hand_off(l, pipe);
		} else {
			/* The client went away before we saw it: reuse the instance. */
			DisconnectNamedPipe(l->inst[i].pipe);
		}
	}
	/* Stop: cancel every outstanding wait and collect it before the handles go. */
	for (i = 0; i < l->ninst; i++) {
		struct npipe_inst *in = &l->inst[i];

		if (in->waiting) {
			CancelIoEx(in->pipe, &in->ov);
			GetOverlappedResult(in->pipe, &in->ov, &got, TRUE);
			in->waiting = 0;
		}
		if (in->pipe) {
			CloseHandle(in->pipe);
			in->pipe = NULL;
		}
	}
	return 0;
}

static int listen_error(DWORD e, const struct npipe_listener *l, char *err, size_t errlen)
{
	char why[200];

	switch (e) {
	case ERROR_ACCESS_DENIED:
		snprintf(err, errlen, "%s: pipe exists (another process serves it) or access denied", l->path);
		return -EADDRINUSE;
	case ERROR_PIPE_BUSY:
		snprintf(err, errlen, "%s: pipe exists (another process serves it)", l->path);
		return -EADDRINUSE;
	case ERROR_INVALID_NAME:
	case ERROR_BAD_PATHNAME:
		snprintf(err, errlen, "%s: bad pipe name", l->path);
		return -EINVAL;
	default:
		snprintf(err, errlen, "%s: cannot create the pipe: %s", l->path, win_strerror(e, why, sizeof(why)));
		return -EIO;
	}
}

static int npipe_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                        void **listener, char *err, size_t errlen)
{
	struct npipe_state *st = state;
	struct npipe_listener *l;
	const char *inst = host->url_param(url, "instances");
	long long ninst = host->option_int(st->h, "instances");
	int mode, warn, r, i;

	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->st = st;
	l->sink = sink;
	l->refs = 1;
	r = pipe_path(url->address, l->path, sizeof(l->path), l->wpath, NPIPE_PATH_MAX, err, errlen);
	if (r < 0)
		goto fail;
	pipe_url(l->path, l->url, sizeof(l->url));
	if ((r = mode_param(url, &mode, 1, err, errlen)) < 0)
		goto fail;
	l->message = mode == 1;
	if (inst) {
		char *end;

		ninst = strtoll(inst, &end, 10);
		if (end == inst || *end) {
			snprintf(err, errlen, "bad instances \"%s\" (a number from 1 to %d)", inst, NPIPE_MAX_INSTANCES);
			r = -EINVAL;
			goto fail;
		}
	}
	if (ninst < 1 || ninst > NPIPE_MAX_INSTANCES) {
		snprintf(err, errlen, "instances %lld out of range (1 to %d)", ninst, NPIPE_MAX_INSTANCES);
		r = -EINVAL;
		goto fail;
	}
	l->ninst = (int)ninst;

	/* Security descriptor. */
	{
		const char *want = host->url_param(url, "sddl");

		if (!want)
			want = host->option_string(st->h, "sddl");
		l->sddl = sddl_for(want, &warn, err, errlen);
		if (!l->sddl) {
			r = -EINVAL;
			goto fail;
		}
		if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(l->sddl, SDDL_REVISION_1, &l->sd, NULL)) {
			snprintf(err, errlen, "bad sddl \"%s\" (error %lu; see Microsoft's SDDL reference)",
			         l->sddl, GetLastError());
			r = -EINVAL;
			goto fail;
		}
		if (warn)
			host->log(st->h, BROKER_LOG_WARN, "%s: sddl=everyone: every local user can connect", l->path);
		l->sa.nLength = sizeof(l->sa);
		l->sa.lpSecurityDescriptor = l->sd;
		l->sa.bInheritHandle = FALSE;
	}

	/*
	 * FILE_FLAG_FIRST_PIPE_INSTANCE makes the first instance fail if the
	 * name is taken; ask first too (wine does not enforce the flag), so
	 * two brokers never serve one name by turns.
	 */
	if (WaitNamedPipeW(l->wpath, 1) || GetLastError() == ERROR_SEM_TIMEOUT) {
		r = listen_error(ERROR_PIPE_BUSY, l, err, errlen);
		goto fail;
	}
	for (i = 0; i < l->ninst; i++) {
		l->inst[i].ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
		l->inst[i].pipe = create_instance(l, i == 0);
		if (!l->inst[i].ov.hEvent || l->inst[i].pipe == INVALID_HANDLE_VALUE) {
			DWORD e = GetLastError();

			l->inst[i].pipe = NULL;
			r = listen_error(e, l, err, errlen);
			goto fail;
		}
	}
	l->stop_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!l->stop_ev || !(l->thread = CreateThread(NULL, 0, accept_thread, l, 0, NULL))) {
		snprintf(err, errlen, "cannot start the accept thread (error %lu)", GetLastError());
		r = -ENOMEM;
		goto fail;
	}
	host->log(st->h, BROKER_LOG_INFO, "listening on %s (%s mode, %d instances, sddl %s)", l->path,
	          l->message ? "message" : "byte", l->ninst, l->sddl);
	*listener = l;
	return 0;
fail:
	listener_unref(l);
	return r;
}

static void npipe_unlisten(void *state, void *listener)
{
	struct npipe_listener *l = listener;

	(void)state;
	if (!l)
		return;
	SetEvent(l->stop_ev);
	WaitForSingleObject(l->thread, INFINITE);
	l->closed = 1;  /* accepts already posted are dropped */
	host->log(l->st->h, BROKER_LOG_DEBUG, "%s: closed (%ld accepted)", l->path, (long)l->accepted);
	listener_unref(l);
}

static int npipe_describe(void *state, void *listener, char *buf, size_t buflen)
{
	struct npipe_listener *l = listener;
	int n;

	(void)state;
	n = snprintf(buf, buflen, "%s", l->url);
	return n < 0 || (size_t)n >= buflen ? -ENOSPC : 0;
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
		close_sock_hard(p->sock);
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
		         "%s: all pipe instances stayed busy for %ld ms (the server is overloaded or stuck)",
		         p->path, p->timeout_ms);
		p->error = -ETIMEDOUT;
		break;
	default:
		snprintf(p->reason, sizeof(p->reason), "%s: %s", p->path, win_strerror(e, why, sizeof(why)));
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

			if (p->timeout_ms > 0 && now >= deadline) {
				connect_fail(p, -ETIMEDOUT, ERROR_PIPE_BUSY);
				goto post;
			}
			slice = NPIPE_WAIT_SLICE_MS;
			if (p->timeout_ms > 0 && deadline - now < slice)
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
		close_sock_hard(p->sock);
		p->sock = NPIPE_NOSOCK;
	}
	return 0;
}

static int npipe_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                         void **pending, char *err, size_t errlen)
{
	struct npipe_state *st = state;
	struct npipe_pending *p;
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
	p->timeout_ms = (long)host->option_int(st->h, "connect_timeout_ms");
	if ((r = pipe_path(url->address, p->path, sizeof(p->path), p->wpath, NPIPE_PATH_MAX, err, errlen)) < 0 ||
	    (r = mode_param(url, &p->mode, 0, err, errlen)) < 0) {
		free(p);
		return r;
	}
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
	  "connect: keep retrying a busy pipe (ERROR_PIPE_BUSY) this long (0: no limit)", 0, 86400000 },
	{ BROKER_OPT_INT, "instances", "4",
	  "listen: pipe instances kept waiting for clients; ?instances=N overrides", 1, NPIPE_MAX_INSTANCES },
	{ BROKER_OPT_STRING, "sddl", "current-user",
	  "listen: default security descriptor: current-user, service-system-admin, everyone or an SDDL "
	  "string; ?sddl= overrides", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const npipe_schemes[] = { "npipe", NULL };

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
	.listen = npipe_listen,
	.unlisten = npipe_unlisten,
	.describe = npipe_describe,
	.connect = npipe_connect,
	.connect_cancel = npipe_connect_cancel,
};

BROKER_PLUGIN_DEFINE(npipe_plugin, host)
