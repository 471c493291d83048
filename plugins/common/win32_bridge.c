/*
 * plugins/common/win32_bridge.c - relay a Windows HANDLE pair through one end
 * of a socket pair with two byte-moving threads (see win32_bridge.h).
 *
 * Each direction runs on its own thread:
 *
 *   in:  ReadFile(rd) -> send(sock)      EOF -> shutdown(SD_SEND)
 *   out: recv(sock)   -> WriteFile(wr)   EOF -> zero-byte message, or close wr
 *
 * Socket I/O is always overlapped (sockets from socket() are overlapped);
 * pipe I/O is overlapped when the handle was opened that way.  Every wait
 * also waits on the bridge's abort event, so an abort (a broken socket, a
 * duplex pipe whose client went away, stop_all) ends both threads promptly.
 * Synchronous pipe handles (stdio, anonymous pipes) are interrupted with
 * CancelSynchronousIo.
 *
 * The last thread to finish closes everything, unregisters the bridge and
 * calls on_exit.  Each thread holds a reference on the module its code lives
 * in (GetModuleHandleEx + FreeLibraryAndExitThread), so a plugin DLL is never
 * unmapped under a bridge thread.
 */
#ifdef _WIN32

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <event2/util.h>

#include "win32_bridge.h"

#define BRIDGE_BUF (64 * 1024)

struct bridge {
	struct bridge *prev, *next;     /* registry (reg_lock) */
	HANDLE rd, wr;
	unsigned flags;
	SOCKET s;                       /* our end of the pair */
	HANDLE abort_ev;                /* manual reset: stop both directions */
	HANDLE th_in, th_out;           /* for CancelSynchronousIo */
	volatile LONG refs;             /* threads still running */
	volatile LONG aborted;          /* both directions stop */
	volatile LONG hard;             /* ...and the core sees a reset (SO_LINGER 0) */
	volatile LONG wr_closed;
	void (*on_exit)(void *arg);
	void *arg;
	char name[128];
};

static SRWLOCK reg_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE reg_cv = CONDITION_VARIABLE_INIT;
static struct bridge *reg_head;
static int reg_count;

enum io_result { IO_OK = 1, IO_EOF = 0, IO_ERROR = -1, IO_ABORTED = -2, IO_BROKEN = -3 };

static int valid(HANDLE h)
{
	return h != NULL && h != INVALID_HANDLE_VALUE;
}

/* ------------------------------------------------------------- aborting */

/* Stop both directions; hard: close the socket with a reset. */
static void bridge_abort(struct bridge *b, int hard)
{
	if (hard)
		InterlockedExchange(&b->hard, 1);
	if (InterlockedExchange(&b->aborted, 1))
		return;
	SetEvent(b->abort_ev);
	if (!(b->flags & WIN32_BRIDGE_OVERLAPPED)) {
		/* Blocking ReadFile/WriteFile do not see the event. */
		if (b->th_in)
			CancelSynchronousIo(b->th_in);
		if (b->th_out)
			CancelSynchronousIo(b->th_out);
	}
}

/* Wait for an overlapped operation or the abort event; cancel it on abort. */
static int wait_io(struct bridge *b, HANDLE h, OVERLAPPED *ov)
{
	HANDLE evs[2] = { ov->hEvent, b->abort_ev };
	DWORD w = WaitForMultipleObjects(2, evs, FALSE, INFINITE);

	if (w == WAIT_OBJECT_0)
		return 0;
	CancelIoEx(h, ov);
	return 1;  /* aborted: the caller still collects the result */
}

/* ------------------------------------------------------------- pipe side */

static int is_eof_error(DWORD e)
{
	return e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF || e == ERROR_PIPE_NOT_CONNECTED ||
	       e == ERROR_NO_DATA;
}

/* One read from the pipe: IO_OK with *got > 0, IO_EOF (a zero-byte read: a
 * zero-byte message or end of file), IO_BROKEN, IO_ERROR or IO_ABORTED. */
static int pipe_read(struct bridge *b, OVERLAPPED *ov, char *buf, DWORD len, DWORD *got)
{
	DWORD e = 0;
	BOOL ok;
	int ab = 0;

	*got = 0;
	if (b->aborted)
		return IO_ABORTED;
	if (b->flags & WIN32_BRIDGE_OVERLAPPED) {
		ResetEvent(ov->hEvent);
		ok = ReadFile(b->rd, buf, len, NULL, ov);
		if (ok || (e = GetLastError()) == ERROR_IO_PENDING || e == ERROR_MORE_DATA) {
			if (!ok && e == ERROR_IO_PENDING)
				ab = wait_io(b, b->rd, ov);
			ok = GetOverlappedResult(b->rd, ov, got, TRUE);
			if (!ok)
				e = GetLastError();
		}
	} else {
		ok = ReadFile(b->rd, buf, len, got, NULL);
		if (!ok)
			e = GetLastError();
	}
	if (!ok) {
		if (e == ERROR_MORE_DATA)   /* a longer message: the rest comes next read */
			return *got > 0 ? IO_OK : IO_ERROR;
		if (ab || b->aborted || e == ERROR_OPERATION_ABORTED)
			return IO_ABORTED;
		return is_eof_error(e) ? IO_BROKEN : IO_ERROR;
	}
	return *got > 0 ? IO_OK : IO_EOF;
}

/* Write all of buf (len 0: one zero-byte message).  IO_OK, IO_ERROR or IO_ABORTED. */
static int pipe_write(struct bridge *b, OVERLAPPED *ov, const char *buf, DWORD len)
{
	DWORD done = 0, n;
	BOOL ok;

	do {
		n = 0;
		if (b->aborted)
			return IO_ABORTED;
		if (b->flags & WIN32_BRIDGE_OVERLAPPED) {
			ResetEvent(ov->hEvent);
			ok = WriteFile(b->wr, buf + done, len - done, NULL, ov);
			if (ok || GetLastError() == ERROR_IO_PENDING) {
				int ab = ok ? 0 : wait_io(b, b->wr, ov);

				ok = GetOverlappedResult(b->wr, ov, &n, TRUE);
				if (ab && !ok)
					return IO_ABORTED;
			}
		} else {
			ok = WriteFile(b->wr, buf + done, len - done, &n, NULL);
		}
		if (!ok)
			return b->aborted || GetLastError() == ERROR_OPERATION_ABORTED ? IO_ABORTED : IO_ERROR;
		done += n;
	} while (done < len);
	return IO_OK;
}

/* ------------------------------------------------------------- socket side */

static int sock_recv(struct bridge *b, WSAOVERLAPPED *ov, char *buf, DWORD len, DWORD *got)
{
	WSABUF wb;
	DWORD flags = 0;
	int r;

	*got = 0;
	if (b->aborted)
		return IO_ABORTED;
	wb.buf = buf;
	wb.len = len;
	WSAResetEvent(ov->hEvent);
	r = WSARecv(b->s, &wb, 1, NULL, &flags, ov, NULL);
	if (r == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING)
		return WSAGetLastError() == WSAEDISCON ? IO_EOF : IO_ERROR;
	if (r == SOCKET_ERROR && wait_io(b, (HANDLE)b->s, ov)) {
		if (!WSAGetOverlappedResult(b->s, ov, got, TRUE, &flags))
			return IO_ABORTED;
	} else if (!WSAGetOverlappedResult(b->s, ov, got, TRUE, &flags)) {
		return b->aborted ? IO_ABORTED : IO_ERROR;
	}
	return *got > 0 ? IO_OK : IO_EOF;
}

static int sock_send_all(struct bridge *b, WSAOVERLAPPED *ov, const char *buf, DWORD len)
{
	DWORD done = 0, n, flags;
	WSABUF wb;
	int r;

	while (done < len) {
		if (b->aborted)
			return IO_ABORTED;
		wb.buf = (char *)buf + done;
		wb.len = len - done;
		n = 0;
		flags = 0;
		WSAResetEvent(ov->hEvent);
		r = WSASend(b->s, &wb, 1, NULL, 0, ov, NULL);
		if (r == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING)
			return IO_ERROR;
		if (r == SOCKET_ERROR && wait_io(b, (HANDLE)b->s, ov)) {
			if (!WSAGetOverlappedResult(b->s, ov, &n, TRUE, &flags))
				return IO_ABORTED;
		} else if (!WSAGetOverlappedResult(b->s, ov, &n, TRUE, &flags)) {
			return b->aborted ? IO_ABORTED : IO_ERROR;
		}
		done += n;
	}
	return IO_OK;
}

/* ------------------------------------------------------------- ending */

static void close_wr(struct bridge *b)
{
	if (InterlockedExchange(&b->wr_closed, 1))
		return;
	if (!(b->flags & (WIN32_BRIDGE_SAME | WIN32_BRIDGE_KEEP_HANDLES)) && valid(b->wr))
		CloseHandle(b->wr);
}

/* Called by each thread as it ends; the last one tears the bridge down. */
static void bridge_release(struct bridge *b)
{
	if (InterlockedDecrement(&b->refs) > 0)
		return;
	/* Off the list first: stop_all must not touch the thread handles below. */
	AcquireSRWLockExclusive(&reg_lock);
	if (b->prev)
		b->prev->next = b->next;
	else
		reg_head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	ReleaseSRWLockExclusive(&reg_lock);

	if (b->hard) {
		/* Let the core see a reset rather than a clean end. */
		struct linger lg = { 1, 0 };

		setsockopt(b->s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
	}
	closesocket(b->s);
	if (!(b->flags & WIN32_BRIDGE_KEEP_HANDLES)) {
		if (valid(b->rd))
			CloseHandle(b->rd);
		if (!(b->flags & WIN32_BRIDGE_SAME))
			close_wr(b);
	}
	CloseHandle(b->abort_ev);
	if (b->th_in)
		CloseHandle(b->th_in);
	if (b->th_out)
		CloseHandle(b->th_out);
	if (b->on_exit)
		b->on_exit(b->arg);
	HeapFree(GetProcessHeap(), 0, b);

	/* Counted until on_exit returned: stop_all waits for it too. */
	AcquireSRWLockExclusive(&reg_lock);
	reg_count--;
	WakeAllConditionVariable(&reg_cv);
	ReleaseSRWLockExclusive(&reg_lock);
}

/* Pin the module this code lives in while a thread runs it. */
static HMODULE pin_module(void)
{
	HMODULE m = NULL;

	if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCWSTR)(void *)pin_module, &m))
		return NULL;
	if (m == GetModuleHandleW(NULL)) {
		/* The executable: nothing to pin (and nothing to free later). */
		FreeLibrary(m);
		return NULL;
	}
	return m;
}

static void thread_exit(HMODULE m)
{
	if (m)
		FreeLibraryAndExitThread(m, 0);
	ExitThread(0);
}

/* ------------------------------------------------------------- threads */

/* pipe -> socket */
static DWORD WINAPI thread_in(LPVOID arg)
{
	struct bridge *b = arg;
	HMODULE mod = pin_module();
	OVERLAPPED pov;
	WSAOVERLAPPED sov;
	char *buf = HeapAlloc(GetProcessHeap(), 0, BRIDGE_BUF);
	DWORD got;
	int r = IO_ERROR;

	memset(&pov, 0, sizeof(pov));
	memset(&sov, 0, sizeof(sov));
	pov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	sov.hEvent = WSACreateEvent();
	if (!buf || !pov.hEvent || sov.hEvent == WSA_INVALID_EVENT) {
		bridge_abort(b, 1);
		goto out;
	}
	for (;;) {
		r = pipe_read(b, &pov, buf, BRIDGE_BUF, &got);
		if (r != IO_OK)
			break;
		r = sock_send_all(b, &sov, buf, got);
		if (r != IO_OK) {
			/* The core's end is gone: nothing more can flow either way. */
			bridge_abort(b, 1);
			r = IO_ABORTED;
			break;
		}
	}
	if (r != IO_ABORTED) {
		/* What was read is sent: now the end of file. */
		shutdown(b->s, SD_SEND);
		/* A duplex pipe half-closes only with a zero-byte message: a broken
		 * one means its client is gone altogether, so stop the other way too
		 * (gracefully: the core still reads what was sent, then EOF). */
		if ((b->flags & WIN32_BRIDGE_SAME) && r != IO_EOF)
			bridge_abort(b, 0);
	}
out:
	if (pov.hEvent)
		CloseHandle(pov.hEvent);
	if (sov.hEvent != WSA_INVALID_EVENT && sov.hEvent)
		WSACloseEvent(sov.hEvent);
	if (buf)
		HeapFree(GetProcessHeap(), 0, buf);
	bridge_release(b);
	thread_exit(mod);
	return 0;
}

/* socket -> pipe */
static DWORD WINAPI thread_out(LPVOID arg)
{
	struct bridge *b = arg;
	HMODULE mod = pin_module();
	OVERLAPPED pov;
	WSAOVERLAPPED sov;
	char *buf = HeapAlloc(GetProcessHeap(), 0, BRIDGE_BUF);
	DWORD got;
	int r;

	memset(&pov, 0, sizeof(pov));
	memset(&sov, 0, sizeof(sov));
	pov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	sov.hEvent = WSACreateEvent();
	if (!buf || !pov.hEvent || sov.hEvent == WSA_INVALID_EVENT) {
		bridge_abort(b, 1);
		goto out;
	}
	for (;;) {
		r = sock_recv(b, &sov, buf, BRIDGE_BUF, &got);
		if (r != IO_OK)
			break;
		r = pipe_write(b, &pov, buf, got);
		if (r != IO_OK) {
			if (r != IO_ABORTED) {
				/* The reader went away.  Like EPIPE: the core's next
				 * write to us fails; a duplex pipe's client is gone. */
				shutdown(b->s, SD_RECEIVE);
				if (b->flags & WIN32_BRIDGE_SAME)
					bridge_abort(b, 1);
			}
			r = IO_ABORTED;
			break;
		}
	}
	if (r == IO_EOF) {
		/* Half-close toward the pipe. */
		if (b->flags & WIN32_BRIDGE_MESSAGE)
			(void)pipe_write(b, &pov, "", 0);
		else
			close_wr(b);
	} else if (r == IO_ERROR) {
		/* The socket broke (the core reset the stream). */
		bridge_abort(b, 1);
	}
out:
	if (pov.hEvent)
		CloseHandle(pov.hEvent);
	if (sov.hEvent != WSA_INVALID_EVENT && sov.hEvent)
		WSACloseEvent(sov.hEvent);
	if (buf)
		HeapFree(GetProcessHeap(), 0, buf);
	bridge_release(b);
	thread_exit(mod);
	return 0;
}

/* ------------------------------------------------------------- start */

int win32_bridge_start(const struct win32_bridge_opts *o, evutil_socket_t *sock_out,
                       char *err, size_t errlen)
{
	struct bridge *b;
	evutil_socket_t sv[2];
	int one = 1, have_rd = valid(o->rd), have_wr = valid(o->wr);

	if (!have_rd && !have_wr) {
		snprintf(err, errlen, "bridge: no handles");
		return -EINVAL;
	}
	if (evutil_socketpair(AF_INET, SOCK_STREAM, 0, sv) < 0) {
		snprintf(err, errlen, "cannot create a socket pair (error %d)", EVUTIL_SOCKET_ERROR());
		return -EIO;
	}
	b = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(*b));
	if (!b || !(b->abort_ev = CreateEventW(NULL, TRUE, FALSE, NULL))) {
		if (b)
			HeapFree(GetProcessHeap(), 0, b);
		evutil_closesocket(sv[0]);
		evutil_closesocket(sv[1]);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
	setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
	b->rd = have_rd ? o->rd : NULL;
	b->wr = have_wr ? o->wr : NULL;
	b->flags = o->flags;
	b->s = (SOCKET)sv[1];
	b->on_exit = o->on_exit;
	b->arg = o->arg;
	snprintf(b->name, sizeof(b->name), "%s", o->name ? o->name : "bridge");
	/* Both threads hold a reference until they are both created. */
	b->refs = 2;

	AcquireSRWLockExclusive(&reg_lock);
	b->next = reg_head;
	if (reg_head)
		reg_head->prev = b;
	reg_head = b;
	reg_count++;
	ReleaseSRWLockExclusive(&reg_lock);

	/* A missing direction is simply "done": no thread for it. */
	if (!have_wr) {
		shutdown(b->s, SD_RECEIVE);
		b->refs--;
	}
	if (!have_rd) {
		shutdown(b->s, SD_SEND);
		b->refs--;
	}
	/* Create suspended so both thread handles exist before either can abort. */
	if (have_rd)
		b->th_in = CreateThread(NULL, 0, thread_in, b, CREATE_SUSPENDED, NULL);
	if (have_wr)
		b->th_out = CreateThread(NULL, 0, thread_out, b, CREATE_SUSPENDED, NULL);
	if ((have_rd && !b->th_in) || (have_wr && !b->th_out)) {
		DWORD e = GetLastError();

		/* Nothing ran yet: undo by hand; the handles stay the caller's. */
		if (b->th_in) {
			TerminateThread(b->th_in, 0);
			CloseHandle(b->th_in);
		}
		if (b->th_out) {
			TerminateThread(b->th_out, 0);
			CloseHandle(b->th_out);
		}
		AcquireSRWLockExclusive(&reg_lock);
		if (b->prev)
			b->prev->next = b->next;
		else
			reg_head = b->next;
		if (b->next)
			b->next->prev = b->prev;
		reg_count--;
		ReleaseSRWLockExclusive(&reg_lock);
		CloseHandle(b->abort_ev);
		HeapFree(GetProcessHeap(), 0, b);
		evutil_closesocket(sv[0]);
		evutil_closesocket(sv[1]);
		snprintf(err, errlen, "cannot start bridge threads (error %lu)", (unsigned long)e);
		return -ENOMEM;
	}
	if (b->th_in)
		ResumeThread(b->th_in);
	if (b->th_out)
		ResumeThread(b->th_out);
	*sock_out = sv[0];
	return 0;
}

int win32_bridge_handle(HANDLE rd, HANDLE wr, unsigned flags, evutil_socket_t *sock_out,
                        char *err, size_t errlen)
{
	struct win32_bridge_opts o;

	memset(&o, 0, sizeof(o));
	o.rd = rd;
	o.wr = wr;
	o.flags = flags;
	return win32_bridge_start(&o, sock_out, err, errlen);
}

int win32_bridge_stop_all(unsigned long timeout_ms)
{
	ULONGLONG deadline = GetTickCount64() + timeout_ms;
	struct bridge *b;
	int left;

	AcquireSRWLockExclusive(&reg_lock);
	for (;;) {
		for (b = reg_head; b; b = b->next) {
			if (!b->aborted)
				bridge_abort(b, 1);
			else if (!(b->flags & WIN32_BRIDGE_OVERLAPPED)) {
				/* A blocking call may have started after the first cancel. */
				if (b->th_in)
					CancelSynchronousIo(b->th_in);
				if (b->th_out)
					CancelSynchronousIo(b->th_out);
			}
		}
		left = reg_count;
		if (left == 0 || GetTickCount64() >= deadline)
			break;
		SleepConditionVariableSRW(&reg_cv, &reg_lock, 50, 0);
	}
	ReleaseSRWLockExclusive(&reg_lock);
	return left;
}

int win32_bridge_count(void)
{
	int n;

	AcquireSRWLockShared(&reg_lock);
	n = reg_count;
	ReleaseSRWLockShared(&reg_lock);
	return n;
}

#endif /* _WIN32 */
