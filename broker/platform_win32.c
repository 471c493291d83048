/* platform_win32.c - platform.h for Windows (mingw-w64).  Everything the core
 * relays is a SOCKET (see DESIGN.md); handles that are not sockets, like our
 * own stdin/stdout for --link-stdio, are bridged to a socket pair by
 * plugins/common/win32_bridge.c.  Paths are UTF-8 in the core and UTF-16
 * toward Windows. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "broker/errfmt.h"
#include "broker/platform.h"
#include "plugins/common/win32_bridge.h"

/* ------------------------------------------------------------ strings */

/* UTF-8 -> malloc'd UTF-16 (NULL on error, errno set). */
static wchar_t *widen(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0) {
		errno = EINVAL;
		return NULL;
	}
	w = malloc((size_t)n * sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
	return w;
}

/* UTF-8 -> malloc'd UTF-16 with '/' turned into '\' (Win32 path calls want backslashes). */
static wchar_t *widen_path(const char *s)
{
	wchar_t *w = widen(s);

	for (wchar_t *p = w; p && *p; p++)
		if (*p == L'/')
			*p = L'\\';
	return w;
}

/* UTF-16 -> UTF-8 into buf (truncated). */
static void narrow(const wchar_t *w, char *buf, size_t len)
{
	if (len == 0)
		return;
	if (WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)len, NULL, NULL) <= 0)
		buf[0] = '\0';
	buf[len - 1] = '\0';
}

/* The system's text for a Win32 error code, without the trailing CR LF. */
static void win_strerror(DWORD code, char *buf, size_t len)
{
	wchar_t wmsg[512];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code,
	                         MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), wmsg, sizeof(wmsg) / sizeof(wmsg[0]), NULL);

	if (n == 0) {
		snprintf(buf, len, "Windows error %lu", (unsigned long)code);
		return;
	}
	while (n > 0 && (wmsg[n - 1] == L'\r' || wmsg[n - 1] == L'\n' || wmsg[n - 1] == L' ' || wmsg[n - 1] == L'.'))
		wmsg[--n] = 0;
	narrow(wmsg, buf, len);
	if (len > 40)
		snprintf(buf + strlen(buf), len - strlen(buf), " (error %lu)", (unsigned long)code);
}

/* Win32 (GetLastError) and winsock codes as errno values. */
static int win_to_errno(DWORD e)
{
	switch (e) {
	case 0: return 0;
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_MOD_NOT_FOUND:
	case ERROR_INVALID_DRIVE: return ENOENT;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION: return EACCES;
	case ERROR_WRITE_PROTECT: return EROFS;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS: return EEXIST;
	case ERROR_LOCK_VIOLATION: return EWOULDBLOCK;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY: return ENOMEM;
	case ERROR_DIRECTORY: return ENOTDIR;
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL: return ENOSPC;
	case ERROR_FILENAME_EXCED_RANGE: return ENAMETOOLONG;
	case ERROR_BROKEN_PIPE:
	case ERROR_NO_DATA: return EPIPE;
	case WSAEWOULDBLOCK: return EAGAIN;
	case WSAEINTR: return EINTR;
	case WSAEBADF:
	case WSAENOTSOCK: return EBADF;
	case WSAEACCES: return EACCES;
	case WSAEINVAL: return EINVAL;
	case WSAEMFILE: return EMFILE;
	case WSAEINPROGRESS:
	case WSAEALREADY: return EINPROGRESS;
	case WSAEMSGSIZE: return EMSGSIZE;
	case WSAEPROTONOSUPPORT:
	case WSAEAFNOSUPPORT:
	case WSAEPFNOSUPPORT: return EAFNOSUPPORT;
	case WSAEOPNOTSUPP: return EOPNOTSUPP;
	case WSAEADDRINUSE: return EADDRINUSE;
	case WSAEADDRNOTAVAIL: return EADDRNOTAVAIL;
	case WSAENETDOWN: return ENETDOWN;
	case WSAENETUNREACH: return ENETUNREACH;
	case WSAENETRESET:
	case WSAECONNABORTED: return ECONNABORTED;
	case WSAECONNRESET: return ECONNRESET;
	case WSAENOBUFS: return ENOBUFS;
	case WSAEISCONN: return EISCONN;
	case WSAENOTCONN:
	case WSAESHUTDOWN: return ENOTCONN;
	case WSAETIMEDOUT: return ETIMEDOUT;
	case WSAECONNREFUSED: return ECONNREFUSED;
	case WSAEHOSTUNREACH: return EHOSTUNREACH;
	default: return EIO;
	}
}

static int last_errno(void)
{
	return win_to_errno(GetLastError());
}

/* ------------------------------------------------------------ DLLs */

void *platform_dl_open(const char *path, char *err, size_t errlen)
{
	wchar_t *w = widen_path(path);
	HMODULE h;
	char msg[512];

	if (!w) {
		errfmt(err, errlen, -ENOEXEC, "%s: bad file name", path);
		return NULL;
	}
	/* The DLL's own directory is searched for its dependencies, not ours. */
	h = LoadLibraryExW(w, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
	free(w);
	if (!h) {
		win_strerror(GetLastError(), msg, sizeof(msg));
		errfmt(err, errlen, -ENOEXEC, "%s: cannot load: %s", path, msg);
	}
	return h;
}

void *platform_dl_sym(void *handle, const char *name)
{
	FARPROC f = GetProcAddress((HMODULE)handle, name);
	void *p;

	/* A function pointer as a data pointer: same size on Windows. */
	memcpy(&p, &f, sizeof(p));
	return p;
}

void platform_dl_close(void *handle)
{
	if (handle)
		FreeLibrary((HMODULE)handle);
}

const char *platform_plugin_suffix(void)
{
	return ".dll";
}

/* ------------------------------------------------------------ sockets */

int platform_fd_prepare(broker_fd fd)
{
	u_long on = 1;

	if (ioctlsocket((SOCKET)fd, FIONBIO, &on) != 0)
		return -win_to_errno((DWORD)WSAGetLastError());
	/* Not inherited by the processes we start (exec:). */
	SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
	return 0;
}

void platform_fd_close(broker_fd fd)
{
	if (fd != BROKER_FD_NONE)
		closesocket((SOCKET)fd);
}

int platform_shutdown_write(broker_fd fd)
{
	return shutdown((SOCKET)fd, SD_SEND) != 0 ? -win_to_errno((DWORD)WSAGetLastError()) : 0;
}

void platform_fd_abort(broker_fd fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd == BROKER_FD_NONE)
		return;
	setsockopt((SOCKET)fd, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
	closesocket((SOCKET)fd);
}

ssize_t platform_read_iov(broker_fd fd, struct evbuffer_iovec *vec, int nvec)
{
	WSABUF bufs[4];
	DWORD got = 0, flags = 0;

	if (nvec > 4)
		nvec = 4;
	for (int i = 0; i < nvec; i++) {
		bufs[i].buf = vec[i].iov_base;
		bufs[i].len = (ULONG)vec[i].iov_len;
	}
	if (WSARecv((SOCKET)fd, bufs, (DWORD)nvec, &got, &flags, NULL, NULL) != 0) {
		int e = WSAGetLastError();
		/* A datagram larger than the buffer: what fit is delivered, like recv on POSIX. */
		if (e == WSAEMSGSIZE)
			return (ssize_t)got;
		return -win_to_errno((DWORD)e);
	}
	return (ssize_t)got;
}

ssize_t platform_write_buffer(broker_fd fd, struct evbuffer *buf, size_t max)
{
	/* libevent sends chain by chain with WSASend on Windows. */
	int n = evbuffer_write_atmost(buf, (evutil_socket_t)fd, (ev_ssize_t)max);

	if (n < 0) {
		int e = WSAGetLastError();
		return (e == WSAEWOULDBLOCK || e == WSAEINTR) ? -EAGAIN : -win_to_errno((DWORD)e);
	}
	return n;
}

ssize_t platform_send_datagram(broker_fd fd, const void *buf, size_t len)
{
	int n = send((SOCKET)fd, buf, (int)len, 0);

	if (n == SOCKET_ERROR)
		return -win_to_errno((DWORD)WSAGetLastError());
	return n;
}

int platform_errno(void)
{
	/* WSAGetLastError is the thread's last Win32 error; a CRT-only failure leaves errno. */
	DWORD e = (DWORD)WSAGetLastError();

	return e ? win_to_errno(e) : errno;
}

/* ------------------------------------------------------------ files */

bool platform_is_sep(char c)
{
	return c == '/' || c == '\\';
}

bool platform_path_absolute(const char *path)
{
	/* "C:\x" or "C:/x"; "\\server\share" and "\\?\..."; not "C:x" (relative to C:'s own cwd). */
	if (((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) && path[1] == ':')
		return platform_is_sep(path[2]);
	return platform_is_sep(path[0]) && platform_is_sep(path[1]);
}

char *platform_path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool sep = dl > 0 && !platform_is_sep(dir[dl - 1]);
	char *s = malloc(dl + sep + nl + 1);

	if (!s)
		return NULL;
	memcpy(s, dir, dl);
	if (sep)
		s[dl] = PLATFORM_DIR_SEP[0];
	memcpy(s + dl + sep, name, nl + 1);
	return s;
}

int platform_mkdir(const char *path, int mode)
{
	wchar_t *w = widen_path(path);
	int rc = 0;

	(void)mode;
	if (!w)
		return -errno;
	if (!CreateDirectoryW(w, NULL))
		rc = -last_errno();
	free(w);
	return rc;
}

int platform_mkdir_p(const char *path, int mode)
{
	size_t len = strlen(path);
	char *buf;
	int rc = 0;

	if (len == 0 || len >= 32768)
		return -ENAMETOOLONG;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p && rc == 0; p++) {
		if (!platform_is_sep(*p) || p[-1] == ':')
			continue;   /* not "C:" itself */
		char c = *p;
		*p = '\0';
		rc = platform_mkdir(buf, mode);
		if (rc == -EEXIST || rc == -EACCES)   /* EACCES: e.g. C:\Users exists but is not ours */
			rc = 0;
		*p = c;
	}
	if (rc == 0) {
		rc = platform_mkdir(buf, mode);
		if (rc == -EEXIST)
			rc = 0;
	}
	free(buf);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int platform_list_dir(const char *dir, const char *suffix, int (*fn)(void *arg, const char *path), void *arg)
{
	size_t dlen = strlen(dir), slen = strlen(suffix);
	char *pattern = malloc(dlen + slen + 3);
	wchar_t *wpat;
	WIN32_FIND_DATAW fd;
	HANDLE h;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!pattern)
		return -ENOMEM;
	sprintf(pattern, "%s\\*%s", dir, suffix);
	wpat = widen_path(pattern);
	free(pattern);
	if (!wpat)
		return -errno;
	h = FindFirstFileW(wpat, &fd);
	free(wpat);
	if (h == INVALID_HANDLE_VALUE) {
		DWORD e = GetLastError();
		/* An existing directory without matches is an empty list. */
		if (e == ERROR_FILE_NOT_FOUND) {
			DWORD attr;
			wchar_t *wd = widen_path(dir);
			attr = wd ? GetFileAttributesW(wd) : INVALID_FILE_ATTRIBUTES;
			free(wd);
			if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY))
				return 0;
		}
		return -win_to_errno(e);
	}
	do {
		char name[MAX_PATH * 3];
		size_t len;

		if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
			continue;
		narrow(fd.cFileName, name, sizeof(name));
		len = strlen(name);
		/* FindFirstFile also matches 8.3 names and is case-blind: check the real suffix. */
		if (len <= slen || _stricmp(name + len - slen, suffix) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n] = malloc(dlen + len + 2);
		if (!names[n]) {
			rc = -ENOMEM;
			break;
		}
		sprintf(names[n++], "%s\\%s", dir, name);
	} while (FindNextFileW(h, &fd));
	FindClose(h);
	/* Sorted, so plugins load in the same order on every start. */
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = fn(arg, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

int platform_check_writable(const char *path, bool dir)
{
	wchar_t *w = widen_path(path);
	DWORD attr;

	if (!w)
		return 0;
	attr = GetFileAttributesW(w);
	free(w);
	if (attr == INVALID_FILE_ATTRIBUTES)
		return 0;   /* nothing there yet: sqlite creates it */
	/* The read-only attribute means nothing on directories; ACLs are left to sqlite's errors. */
	if (!dir && (attr & FILE_ATTRIBUTE_READONLY))
		return -EACCES;
	return 0;
}

struct platform_lock {
	HANDLE h;
};

int platform_lock_file(const char *path, struct platform_lock **out)
{
	struct platform_lock *l;
	OVERLAPPED ov;
	wchar_t *w = widen_path(path);
	HANDLE h;

	*out = NULL;
	if (!w)
		return -errno;
	h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
	                OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE)
		return -last_errno();
	memset(&ov, 0, sizeof(ov));
	/* One byte, exclusive, fail at once: the process that holds it is the one brokerd. */
	if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) {
		DWORD e = GetLastError();
		CloseHandle(h);
		return e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING ? -EWOULDBLOCK : -win_to_errno(e);
	}
	l = malloc(sizeof(*l));
	if (!l) {
		CloseHandle(h);
		return -ENOMEM;
	}
	l->h = h;
	*out = l;
	return 0;
}

void platform_unlock_file(struct platform_lock *l)
{
	if (!l)
		return;
	/* Closing the handle releases the lock. */
	CloseHandle(l->h);
	free(l);
}

/*
 * A security descriptor that lets only the current user (and SYSTEM) in,
 * protected from inheriting the directory's ACL.  LocalFree it.
 */
static PSECURITY_DESCRIPTOR owner_only_sd(void)
{
	HANDLE tok = NULL;
	BYTE buf[256];
	DWORD len = 0;
	wchar_t *sid = NULL, sddl[256];
	PSECURITY_DESCRIPTOR sd = NULL;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return NULL;
	if (GetTokenInformation(tok, TokenUser, buf, sizeof(buf), &len) &&
	    ConvertSidToStringSidW(((TOKEN_USER *)buf)->User.Sid, &sid)) {
		_snwprintf(sddl, sizeof(sddl) / sizeof(sddl[0]), L"D:P(A;;FA;;;%ls)(A;;FA;;;SY)", sid);
		sddl[sizeof(sddl) / sizeof(sddl[0]) - 1] = 0;
		if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
			sd = NULL;
		LocalFree(sid);
	}
	CloseHandle(tok);
	return sd;
}

int platform_private_file_create(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
	wchar_t *w = widen_path(path);
	char msg[256];
	DWORD put = 0;
	HANDLE h;
	int e;

	if (!w)
		return errfmt(err, errlen, -errno, "%s: cannot create: %s", path, strerror(errno));
	/* Owner-only DACL (the POSIX 0600).  Without one (no token?) the file
	 * inherits %LOCALAPPDATA%'s ACL, which is private to the user too. */
	sa.lpSecurityDescriptor = owner_only_sd();
	h = CreateFileW(w, GENERIC_WRITE, 0, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
	e = (int)GetLastError();
	if (sa.lpSecurityDescriptor)
		LocalFree(sa.lpSecurityDescriptor);
	if (h == INVALID_HANDLE_VALUE) {
		free(w);
		win_strerror((DWORD)e, msg, sizeof(msg));
		return errfmt(err, errlen, -win_to_errno((DWORD)e), "%s: cannot create: %s", path, msg);
	}
	if (!WriteFile(h, data, (DWORD)len, &put, NULL) || put != len || !FlushFileBuffers(h)) {
		e = (int)GetLastError();
		CloseHandle(h);
		DeleteFileW(w);
		free(w);
		win_strerror((DWORD)e, msg, sizeof(msg));
		return errfmt(err, errlen, -(win_to_errno((DWORD)e) ?: EIO), "%s: cannot write: %s", path, msg);
	}
	CloseHandle(h);
	free(w);
	return 0;
}

int platform_state_file_private(const char *path, bool create)
{
	/* The state dir is %LOCALAPPDATA%\broker: the user's own profile already keeps others out. */
	(void)path;
	(void)create;
	return 0;
}

int platform_private_file_read(const char *path, void *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
	wchar_t *w = widen_path(path);
	char msg[256];
	DWORD got = 0;
	HANDLE h;
	int e;

	if (!w)
		return errfmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		e = (int)GetLastError();
		win_strerror((DWORD)e, msg, sizeof(msg));
		return errfmt(err, errlen, -win_to_errno((DWORD)e), "%s: %s", path, msg);
	}
	/* No mode-bit check: the DACL set at creation is the control here (and wine enforces none). */
	if (GetFileType(h) != FILE_TYPE_DISK) {
		CloseHandle(h);
		return errfmt(err, errlen, -EINVAL, "%s: not a regular file", path);
	}
	if (!ReadFile(h, buf, (DWORD)cap, &got, NULL)) {
		e = (int)GetLastError();
		CloseHandle(h);
		win_strerror((DWORD)e, msg, sizeof(msg));
		return errfmt(err, errlen, -win_to_errno((DWORD)e), "%s: %s", path, msg);
	}
	CloseHandle(h);
	*n = got;
	return 0;
}

/* ------------------------------------------------------------ process */

void platform_tune_allocator(void)
{
	/* The Windows heap has no trim threshold to tune. */
}

int platform_event_threads(void)
{
	static int started;
	WSADATA wsa;

	if (!started) {
		if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
			return -ENOSYS;
		started = 1;
	}
	return evthread_use_windows_threads() == 0 ? 0 : -ENOSYS;
}

struct platform_signals {
	struct event *intr, *term, *brk;
	struct event *console;   /* activated from the console handler's thread */
	void (*cb)(enum platform_signal sig, void *arg);
	void *arg;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct platform_signals *s = arg;

	(void)what;
	s->cb(sig == SIGINT ? PLATFORM_SIGNAL_INT : PLATFORM_SIGNAL_TERM, s->arg);
}

/*
 * Console close, logoff and shutdown.  The C runtime turns only Ctrl-C and
 * Ctrl-Break into signals; these three arrive on a thread the system starts
 * for a handler registered with SetConsoleCtrlHandler, and the process is
 * ended as soon as the handler returns (or after a few seconds).  So the
 * handler posts TERM to the loop (event_active is thread-safe once
 * platform_event_threads ran) and waits until the loop has shut down
 * (platform_signals_stop sets console_done), never touching core state.
 */
static CRITICAL_SECTION console_lock;
static INIT_ONCE console_once = INIT_ONCE_STATIC_INIT;
static struct platform_signals *console_target;   /* under console_lock */
static HANDLE console_done;                        /* manual reset; set when the loop is done */
/* How long the handler holds the process open for the clean shutdown.  Windows
 * allows about 5 s after a close and 5-20 s at logoff/shutdown before it ends
 * the process anyway; the drain timeout may be cut short by that. */
#define CONSOLE_WAIT_MS 20000

static BOOL CALLBACK console_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
	(void)once;
	(void)param;
	(void)ctx;
	InitializeCriticalSection(&console_lock);
	console_done = CreateEventW(NULL, TRUE, FALSE, NULL);
	return console_done != NULL;
}

static BOOL WINAPI on_console_event(DWORD type)
{
	bool posted = false;

	/* Ctrl-C and Ctrl-Break: the C runtime's handler raises SIGINT/SIGBREAK. */
	if (type != CTRL_CLOSE_EVENT && type != CTRL_LOGOFF_EVENT && type != CTRL_SHUTDOWN_EVENT)
		return FALSE;
	EnterCriticalSection(&console_lock);
	if (console_target) {
		event_active(console_target->console, 0, 0);
		posted = true;
	}
	LeaveCriticalSection(&console_lock);
	if (!posted)
		return FALSE;   /* not running (any more): the default handler ends the process */
	WaitForSingleObject(console_done, CONSOLE_WAIT_MS);
	return TRUE;
}

static void on_console(evutil_socket_t fd, short what, void *arg)
{
	struct platform_signals *s = arg;

	(void)fd;
	(void)what;
	s->cb(PLATFORM_SIGNAL_TERM, s->arg);
}

/* The C runtime turns Ctrl-C into SIGINT and Ctrl-Break into SIGBREAK; libevent
 * delivers both on the loop.  Console close/logoff/shutdown come through
 * on_console_event.  There is no reload signal (brokerctl reload). */
int platform_signals_start(struct event_base *base, void (*cb)(enum platform_signal sig, void *arg), void *arg,
                           struct platform_signals **out)
{
	struct platform_signals *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cb = cb;
	s->arg = arg;
	s->intr = evsignal_new(base, SIGINT, on_signal, s);
	s->term = evsignal_new(base, SIGTERM, on_signal, s);
	s->brk = evsignal_new(base, SIGBREAK, on_signal, s);
	s->console = event_new(base, EVUTIL_INVALID_SOCKET, 0, on_console, s);
	if (!s->intr || !s->term || !s->brk || !s->console || !InitOnceExecuteOnce(&console_once, console_init, NULL, NULL)) {
		platform_signals_stop(s);
		return -ENOMEM;
	}
	event_add(s->intr, NULL);
	event_add(s->term, NULL);
	event_add(s->brk, NULL);
	EnterCriticalSection(&console_lock);
	console_target = s;
	ResetEvent(console_done);
	LeaveCriticalSection(&console_lock);
	/* Without a console (a service, a logon task) nothing is ever delivered; no harm. */
	SetConsoleCtrlHandler(on_console_event, TRUE);
	*out = s;
	return 0;
}

void platform_signals_stop(struct platform_signals *s)
{
	if (!s)
		return;
	if (s->console && console_done) {
		EnterCriticalSection(&console_lock);
		if (console_target == s) {
			console_target = NULL;
			SetConsoleCtrlHandler(on_console_event, FALSE);
			/* A handler waiting for our shutdown may let the process end now. */
			SetEvent(console_done);
		}
		LeaveCriticalSection(&console_lock);
	}
	if (s->console)
		event_free(s->console);
	if (s->intr)
		event_free(s->intr);
	if (s->term)
		event_free(s->term);
	if (s->brk)
		event_free(s->brk);
	free(s);
}

void platform_hostname(char *buf, size_t len)
{
	wchar_t w[MAX_COMPUTERNAME_LENGTH + 1];
	DWORD n = sizeof(w) / sizeof(w[0]);

	if (len > 1 && GetComputerNameW(w, &n))
		narrow(w, buf, len);
}

int platform_stdio_stream(struct broker_stream_desc *out, char *err, size_t errlen)
{
	HANDLE in = GetStdHandle(STD_INPUT_HANDLE), o = GetStdHandle(STD_OUTPUT_HANDLE);
	evutil_socket_t sock = EVUTIL_INVALID_SOCKET;
	int rc;

	memset(out, 0, sizeof(*out));
	if (in == NULL || in == INVALID_HANDLE_VALUE || o == NULL || o == INVALID_HANDLE_VALUE)
		return errfmt(err, errlen, -EBADF, "no standard input or output to link over");
	/* Two threads move bytes between the handles and a socket pair; stdout is
	 * closed when the link's socket ends, so the process at the other end sees EOF. */
	rc = win32_bridge_handle(in, o, 0, &sock, err, errlen);
	if (rc < 0)
		return rc;
	out->rfd = (broker_fd)sock;
	out->wfd = (broker_fd)sock;
	out->flags = 0;
	out->peer = "stdio";
	return 0;
}

int platform_path_resolve(const char *path, char *out, size_t outlen)
{
	DWORD n;

	if (!path || !*path)
		return -EINVAL;
	n = GetFullPathNameA(path, (DWORD)outlen, out, NULL);
	if (n == 0)
		return -EINVAL;
	if (n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

void platform_sock_peer(broker_fd fd, struct platform_peer *out)
{
	/* Nothing here vouches for a peer: carriers reach us as bridged sockets, whatever they are. */
	(void)fd;
	memset(out, 0, sizeof(*out));
	out->uid = -1;
}

long platform_euid(void)
{
	return -1;
}

int platform_unix_path_private(const char *path, char *why, size_t whylen)
{
	return errfmt(why, whylen, -ENOSYS, "%s: cannot check a Unix socket's owner here", path);
}

int platform_unix_listen(const char *path, broker_fd *out, char *err, size_t errlen)
{
	(void)out;
	return errfmt(err, errlen, -ENOTSUP, "%s: Unix socket listeners are not built for Windows; use tcp://127.0.0.1:PORT",
	              path);
}
