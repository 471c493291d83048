/*
 * plugins/npipe/npipe_listen.c - listening on a named pipe: a pool of
 * instances waiting in overlapped ConnectNamedPipe, one accept thread per
 * listener, and the hand-off of each client to the core.
 *
 * The pool starts at `instances` waiting instances.  Whenever every waiting
 * instance was taken before the thread got round to them (a burst), the
 * pool doubles, up to `max_instances` (at most NPIPE_MAX_INSTANCES: one
 * WaitForMultipleObjects); after NPIPE_SHRINK_MS without a client it shrinks
 * back.  Each wake serves every instance a client took, not only the first
 * one WaitForMultipleObjects names, and a fresh instance is armed before the
 * slow part (the socket pair), so clients are never left waiting (or told
 * ERROR_PIPE_BUSY) while an instance sits idle.
 *
 * What ConnectNamedPipe may answer on an overlapped handle (documented, and
 * shown under wine by tests/windows/pipe_semantics.c):
 *   ERROR_IO_PENDING      waiting; the event is set when a client connects;
 *   ERROR_PIPE_CONNECTED  a client connected between CreateNamedPipe and
 *                         this call.  It IS connected, and no completion
 *                         follows: the OVERLAPPED keeps STATUS_PENDING, so
 *                         GetOverlappedResult says ERROR_IO_INCOMPLETE.  The
 *                         client is handed over right here.  (Before issue
 *                         15 the code set the event and later took that
 *                         ERROR_IO_INCOMPLETE for "client gone", called
 *                         DisconnectNamedPipe, and the client's first
 *                         ReadFile failed with ERROR_PIPE_NOT_CONNECTED.)
 *   ERROR_NO_DATA         a client connected and closed again before this
 *                         call: DisconnectNamedPipe, wait again, and report
 *                         the client as dropped.
 * Every client that reached an instance becomes a stream (host->accepted)
 * or is reported with its reason (host->accept_dropped: the core logs it
 * and counts it against the route).  The thread never touches core state
 * nor calls the host, except host->post.
 *
 * Windows only.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>
#include <sddl.h>

#include "plugins/common/win32_bridge.h"
#include "plugins/npipe/npipe.h"

#define host npipe_host

#define NPIPE_RETRY_MS 1000             /* re-create a failed instance after this */
#define NPIPE_SHRINK_MS 30000           /* a grown pool goes back to `instances` after this idle */

struct npipe_inst {
	HANDLE pipe;
	OVERLAPPED ov;                  /* ov.hEvent lives as long as the listener */
	int waiting;                    /* ConnectNamedPipe outstanding */
};

struct npipe_listener {
	struct npipe_state *st;
	struct broker_accept_sink *sink;
	volatile LONG refs;             /* the owner + one per posted item */
	int closed;                     /* unlisten ran (loop thread) */
	char path[NPIPE_PATH_MAX];      /* \\.\pipe\NAME */
	char url[NPIPE_PATH_MAX + 16];  /* npipe:////./pipe/NAME */
	WCHAR wpath[NPIPE_PATH_MAX];
	int message;
	int min_inst, max_inst;         /* the pool's bounds */
	int ninst;                      /* slots in use (accept thread) */
	ULONGLONG last_client;          /* GetTickCount64 of the last client (accept thread) */
	char *sddl;
	SECURITY_ATTRIBUTES sa;
	PSECURITY_DESCRIPTOR sd;        /* LocalFree */
	HANDLE stop_ev;
	HANDLE thread;
	struct npipe_inst inst[NPIPE_MAX_INSTANCES];
	volatile LONG accepted;         /* handed to the core */
	volatile LONG dropped;          /* reported through accept_dropped */
	volatile LONG gone_pending;     /* closed before accept, not yet reported */
	volatile LONG report_posted;    /* an on_gone is queued */
};

struct npipe_accept_item {
	struct npipe_listener *l;
	evutil_socket_t sock;
	char peer[64];
};

/* A line for the log (and, with drop > 0, that many dropped clients). */
struct npipe_note {
	struct npipe_listener *l;
	enum broker_log_level level;
	unsigned drop;
	char text[320];
};

/* ------------------------------------------------------------- lifetime */

static void listener_unref(struct npipe_listener *l)
{
	int i;

	if (InterlockedDecrement(&l->refs) > 0)
		return;
	for (i = 0; i < NPIPE_MAX_INSTANCES; i++) {
		if (l->inst[i].pipe)
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

/* ------------------------------------------------------------- to the loop */

static void on_note(void *arg)
{
	struct npipe_note *n = arg;
	struct npipe_listener *l = n->l;

	if (!l->closed) {
		if (n->drop && BROKER_HOST_HAS(host, accept_dropped)) {
			host->accept_dropped(l->sink, n->drop, n->text);
			if (n->level <= BROKER_LOG_WARN)
				host->log(l->st->h, n->level, "%s: %s", l->path, n->text);
		} else {
			host->log(l->st->h, n->drop ? BROKER_LOG_WARN : n->level, "%s: %s%s", l->path,
			          n->drop ? "client dropped: " : "", n->text);
		}
	}
	listener_unref(l);
	free(n);
}

/* From the accept thread: log a line on the loop; drop > 0 also reports dropped clients. */
static void note(struct npipe_listener *l, enum broker_log_level level, unsigned drop, const char *fmt, ...)
{
	struct npipe_note *n = calloc(1, sizeof(*n));
	va_list ap;

	if (drop)
		InterlockedExchangeAdd(&l->dropped, (LONG)drop);
	if (!n)
		return;
	n->l = l;
	n->level = level;
	n->drop = drop;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
	InterlockedIncrement(&l->refs);
	if (host->post(l->st->h, on_note, n) < 0) {
		InterlockedDecrement(&l->refs);  /* the owner still holds one: never 0 here */
		free(n);
	}
}

/* Clients that left before they were accepted, reported in batches (a flood posts one item at a time). */
static void on_gone(void *arg)
{
	struct npipe_listener *l = arg;
	LONG n;

	InterlockedExchange(&l->report_posted, 0);
	n = InterlockedExchange(&l->gone_pending, 0);
	if (n > 0 && !l->closed) {
		const char *why = "the client closed the pipe before it was accepted";

		if (BROKER_HOST_HAS(host, accept_dropped))
			host->accept_dropped(l->sink, (unsigned)n, why);
		else
			host->log(l->st->h, BROKER_LOG_INFO, "%s: %ld client(s) dropped: %s", l->path, (long)n, why);
	}
	listener_unref(l);
}

static void client_gone(struct npipe_listener *l)
{
	InterlockedIncrement(&l->dropped);
	InterlockedIncrement(&l->gone_pending);
	if (InterlockedExchange(&l->report_posted, 1))
		return;
	InterlockedIncrement(&l->refs);
	if (host->post(l->st->h, on_gone, l) < 0) {
		InterlockedExchange(&l->report_posted, 0);
		InterlockedDecrement(&l->refs);
	}
}

static void on_accepted(void *arg)
{
	struct npipe_accept_item *it = arg;
	struct npipe_listener *l = it->l;
	struct broker_stream_desc desc;

	if (l->closed) {
		npipe_close_sock_hard(it->sock);
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

/* A client is connected on pipe: bridge it to a socket and post that to the loop. */
static void hand_off(struct npipe_listener *l, HANDLE pipe)
{
	struct npipe_accept_item *it = calloc(1, sizeof(*it));
	struct win32_bridge_opts o;
	ULONG pid = 0;
	char err[256];

	if (!it) {
		CloseHandle(pipe);
		note(l, BROKER_LOG_WARN, 1, "out of memory");
		return;
	}
	/* Before the bridge owns (and may already close) the handle. */
	if (GetNamedPipeClientProcessId(pipe, &pid) && pid)
		snprintf(it->peer, sizeof(it->peer), "npipe:pid=%lu", (unsigned long)pid);
	else
		snprintf(it->peer, sizeof(it->peer), "npipe:client");
	memset(&o, 0, sizeof(o));
	o.rd = o.wr = pipe;
	o.flags = WIN32_BRIDGE_SAME | WIN32_BRIDGE_OVERLAPPED | (l->message ? WIN32_BRIDGE_MESSAGE : 0);
	o.name = l->path;
	if (win32_bridge_start(&o, &it->sock, err, sizeof(err)) < 0) {
		CloseHandle(pipe);  /* the client reads ERROR_BROKEN_PIPE */
		note(l, BROKER_LOG_WARN, 1, "cannot bridge %s: %s", it->peer, err);
		free(it);
		return;
	}
	it->l = l;
	InterlockedIncrement(&l->refs);
	InterlockedIncrement(&l->accepted);
	if (host->post(l->st->h, on_accepted, it) < 0) {
		InterlockedDecrement(&l->refs);
		npipe_close_sock_hard(it->sock);
		free(it);
	}
}

/* ------------------------------------------------------------- instances */

static HANDLE create_instance(struct npipe_listener *l, int first)
{
	DWORD open = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
	DWORD mode = (l->message ? PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE : PIPE_TYPE_BYTE | PIPE_READMODE_BYTE) |
	             PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;

	return CreateNamedPipeW(l->wpath, open, mode, PIPE_UNLIMITED_INSTANCES, NPIPE_BUF, NPIPE_BUF, 0, &l->sa);
}

/*
 * Make slot i wait for a client.  Clients that are already there (see the
 * file comment) are handed over or reported on the way.  0 waiting, -1 the
 * instance could not be made (logged; retried after NPIPE_RETRY_MS).
 */
static int arm_slot(struct npipe_listener *l, int i)
{
	struct npipe_inst *in = &l->inst[i];
	HANDLE ev = in->ov.hEvent;
	char why[200];
	DWORD e;

	for (;;) {
		if (!in->pipe) {
			in->pipe = create_instance(l, 0);
			if (in->pipe == INVALID_HANDLE_VALUE) {
				e = GetLastError();
				in->pipe = NULL;
				note(l, BROKER_LOG_WARN, 0, "cannot create a pipe instance: %s (retrying in %d ms)",
				     npipe_strerror(e, why, sizeof(why)), NPIPE_RETRY_MS);
				return -1;
			}
		}
		memset(&in->ov, 0, sizeof(in->ov));
		in->ov.hEvent = ev;
		ResetEvent(ev);
		e = ConnectNamedPipe(in->pipe, &in->ov) ? ERROR_PIPE_CONNECTED : GetLastError();
		switch (e) {
		case ERROR_IO_PENDING:
			in->waiting = 1;
			return 0;
		case ERROR_PIPE_CONNECTED: {
			/* Connected already, and no completion will come for it. */
			HANDLE pipe = in->pipe;

			l->last_client = GetTickCount64();
			in->pipe = NULL;
			hand_off(l, pipe);
			continue;
		}
		case ERROR_NO_DATA:
			/* Connected and closed before we got to it: free the instance for the next. */
			l->last_client = GetTickCount64();
			client_gone(l);
			DisconnectNamedPipe(in->pipe);
			continue;
		default:
			note(l, BROKER_LOG_WARN, 0, "waiting for clients failed: %s (the instance is re-made in %d ms)",
			     npipe_strerror(e, why, sizeof(why)), NPIPE_RETRY_MS);
			CloseHandle(in->pipe);
			in->pipe = NULL;
			return -1;
		}
	}
}

/* Slot i's event is set: a client connected (or the wait ended otherwise).  Returns 1 if the slot was taken. */
static int complete_slot(struct npipe_listener *l, int i)
{
	struct npipe_inst *in = &l->inst[i];
	char why[200];
	DWORD got, e;

	e = GetOverlappedResult(in->pipe, &in->ov, &got, FALSE) ? 0 : GetLastError();
	switch (e) {
	case 0:
	case ERROR_PIPE_CONNECTED: {
		HANDLE pipe = in->pipe;

		l->last_client = GetTickCount64();
		in->waiting = 0;
		in->pipe = NULL;
		arm_slot(l, i);  /* a fresh instance waits before the slow part */
		hand_off(l, pipe);
		return 1;
	}
	case ERROR_IO_INCOMPLETE:
		/* Still waiting after all (only its completion sets the event): keep waiting, without spinning. */
		ResetEvent(in->ov.hEvent);
		if (HasOverlappedIoCompleted(&in->ov))
			SetEvent(in->ov.hEvent);
		return 0;
	case ERROR_NO_DATA:
	case ERROR_BROKEN_PIPE:
	case ERROR_PIPE_NOT_CONNECTED:
		l->last_client = GetTickCount64();
		client_gone(l);
		in->waiting = 0;
		DisconnectNamedPipe(in->pipe);
		arm_slot(l, i);
		return 1;
	default:
		note(l, BROKER_LOG_WARN, 0, "waiting for clients failed: %s (the instance is re-made)",
		     npipe_strerror(e, why, sizeof(why)));
		in->waiting = 0;
		CloseHandle(in->pipe);
		in->pipe = NULL;
		return 1;
	}
}

/* Stop waiting on slot i and close its instance; a client that connected meanwhile is still served. */
static void retire_slot(struct npipe_listener *l, int i, int serve)
{
	struct npipe_inst *in = &l->inst[i];
	DWORD got;

	if (in->waiting) {
		CancelIoEx(in->pipe, &in->ov);
		if (GetOverlappedResult(in->pipe, &in->ov, &got, TRUE) && serve) {
			hand_off(l, in->pipe);
			in->pipe = NULL;
		}
		in->waiting = 0;
	}
	if (in->pipe) {
		CloseHandle(in->pipe);
		in->pipe = NULL;
	}
}

static int slot_event(struct npipe_listener *l, int i)
{
	if (!l->inst[i].ov.hEvent)
		l->inst[i].ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	return l->inst[i].ov.hEvent ? 0 : -1;
}

static void grow(struct npipe_listener *l)
{
	int want = l->ninst * 2 > l->max_inst ? l->max_inst : l->ninst * 2, n = l->ninst;

	while (n < want && slot_event(l, n) == 0)
		n++;
	if (n == l->ninst)
		return;
	l->ninst = n;
	note(l, BROKER_LOG_DEBUG, 0, "busy: %d instances wait for clients now (max_instances %d)", n, l->max_inst);
}

static void shrink(struct npipe_listener *l)
{
	while (l->ninst > l->min_inst)
		retire_slot(l, --l->ninst, 1);
	note(l, BROKER_LOG_DEBUG, 0, "idle: back to %d waiting instances", l->ninst);
}

static DWORD WINAPI accept_thread(LPVOID arg)
{
	struct npipe_listener *l = arg;
	HANDLE evs[NPIPE_MAX_INSTANCES + 1];
	int slot[NPIPE_MAX_INSTANCES];
	int i, k, n, broken, taken;
	DWORD w, wait_ms;

	l->last_client = GetTickCount64();
	for (;;) {
		/* (Re)arm every idle slot; count the ones that could not be. */
		broken = 0;
		for (i = 0; i < l->ninst; i++)
			if (!l->inst[i].waiting && arm_slot(l, i) < 0)
				broken++;
		evs[0] = l->stop_ev;
		for (i = 0, n = 0; i < l->ninst; i++) {
			if (!l->inst[i].waiting)
				continue;
			evs[1 + n] = l->inst[i].ov.hEvent;
			slot[n++] = i;
		}
		wait_ms = broken ? NPIPE_RETRY_MS : l->ninst > l->min_inst ? NPIPE_SHRINK_MS : INFINITE;
		w = WaitForMultipleObjects((DWORD)(1 + n), evs, FALSE, wait_ms);
		if (w == WAIT_OBJECT_0 || w == WAIT_FAILED)
			break;
		if (w == WAIT_TIMEOUT) {
			if (l->ninst > l->min_inst && GetTickCount64() - l->last_client >= NPIPE_SHRINK_MS)
				shrink(l);
			continue;
		}
		/* Serve every instance a client took, not only the first one named. */
		taken = 0;
		for (k = (int)(w - WAIT_OBJECT_0) - 1; k < n; k++)
			if (WaitForSingleObject(evs[1 + k], 0) == WAIT_OBJECT_0)
				taken += complete_slot(l, slot[k]);
		/* Every waiting instance was taken before we got to them: a burst. */
		if (n > 0 && taken >= n && l->ninst < l->max_inst)
			grow(l);
	}
	/* Stop: cancel every outstanding wait and collect it before the handles go. */
	for (i = 0; i < l->ninst; i++)
		retire_slot(l, i, 0);
	return 0;
}

/* ------------------------------------------------------------- listen */

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
		snprintf(err, errlen, "%s: cannot create the pipe: %s", l->path, npipe_strerror(e, why, sizeof(why)));
		return -EIO;
	}
}

static int listen_security(struct npipe_listener *l, const struct broker_url *url, char *err, size_t errlen)
{
	const char *want = host->url_param(url, "sddl");
	int warn;

	if (!want)
		want = host->option_string(l->st->h, "sddl");
	l->sddl = npipe_sddl_for(want, &warn, err, errlen);
	if (!l->sddl)
		return -EINVAL;
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(l->sddl, SDDL_REVISION_1, &l->sd, NULL)) {
		snprintf(err, errlen, "bad sddl \"%s\" (error %lu; see Microsoft's SDDL reference)", l->sddl,
		         GetLastError());
		return -EINVAL;
	}
	if (warn)
		host->log(l->st->h, BROKER_LOG_WARN, "%s: sddl=everyone: every local user can connect", l->path);
	l->sa.nLength = sizeof(l->sa);
	l->sa.lpSecurityDescriptor = l->sd;
	l->sa.bInheritHandle = FALSE;
	return 0;
}

int npipe_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink, void **listener,
                 char *err, size_t errlen)
{
	struct npipe_state *st = state;
	struct npipe_listener *l;
	long long lo, hi;
	int mode, r, i;

	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->st = st;
	l->sink = sink;
	l->refs = 1;
	r = npipe_path(url->address, l->path, sizeof(l->path), l->wpath, NPIPE_PATH_MAX, err, errlen);
	if (r < 0)
		goto fail;
	npipe_url(l->path, l->url, sizeof(l->url));
	if ((r = npipe_mode_param(url, &mode, 1, err, errlen)) < 0)
		goto fail;
	l->message = mode == 1;
	if ((r = npipe_int_param(st, url, "instances", 1, NPIPE_MAX_INSTANCES, &lo, err, errlen)) < 0 ||
	    (r = npipe_int_param(st, url, "max_instances", 1, NPIPE_MAX_INSTANCES, &hi, err, errlen)) < 0)
		goto fail;
	/* A pool never below what was asked to wait. */
	l->min_inst = l->ninst = (int)lo;
	l->max_inst = hi < lo ? (int)lo : (int)hi;
	if ((r = listen_security(l, url, err, errlen)) < 0)
		goto fail;

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
		l->inst[i].pipe = slot_event(l, i) == 0 ? create_instance(l, i == 0) : INVALID_HANDLE_VALUE;
		if (l->inst[i].pipe == INVALID_HANDLE_VALUE) {
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
	host->log(st->h, BROKER_LOG_INFO, "listening on %s (%s mode, %d to %d instances, sddl %s)", l->path,
	          l->message ? "message" : "byte", l->min_inst, l->max_inst, l->sddl);
	*listener = l;
	return 0;
fail:
	listener_unref(l);
	return r;
}

void npipe_unlisten(void *state, void *listener)
{
	struct npipe_listener *l = listener;

	(void)state;
	if (!l)
		return;
	SetEvent(l->stop_ev);
	WaitForSingleObject(l->thread, INFINITE);
	l->closed = 1;  /* accepts already posted are dropped */
	host->log(l->st->h, BROKER_LOG_DEBUG, "%s: closed (%ld accepted, %ld dropped)", l->path, (long)l->accepted,
	          (long)l->dropped);
	listener_unref(l);
}

int npipe_describe(void *state, void *listener, char *buf, size_t buflen)
{
	struct npipe_listener *l = listener;
	int n;

	(void)state;
	n = snprintf(buf, buflen, "%s", l->url);
	return n < 0 || (size_t)n >= buflen ? -ENOSPC : 0;
}
