/* test_platform_win32.c - test_platform.h for Windows (mingw-w64, run under
 * wine in CI).  Paths are UTF-8 here and UTF-16 toward Windows. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>
#include <event2/thread.h>

#include "tests/unit/test_platform.h"

static wchar_t *widen(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0)
		return NULL;
	w = malloc((size_t)n * sizeof(*w));
	if (w)
		MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
	for (wchar_t *p = w; p && *p; p++)
		if (*p == L'/')
			*p = L'\\';
	return w;
}

static char *narrow(const wchar_t *w)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s;

	if (n <= 0)
		return NULL;
	s = malloc((size_t)n);
	if (s)
		WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	return s;
}

int tp_setenv(const char *name, const char *value)
{
	/* _putenv_s updates the C runtime's narrow and wide copies (getenv, _wgetenv). */
	return _putenv_s(name, value) == 0 ? 0 : -EINVAL;
}

int tp_unsetenv(const char *name)
{
	/* An empty value removes the variable. */
	return _putenv_s(name, "") == 0 ? 0 : -EINVAL;
}

char *tp_mkdtemp(const char *prefix)
{
	static unsigned counter;
	wchar_t wtmp[MAX_PATH];
	DWORD n = GetTempPathW(MAX_PATH, wtmp);
	char *tmp, *p = NULL;

	if (n == 0 || n >= MAX_PATH) {
		errno = ENOENT;
		return NULL;
	}
	tmp = narrow(wtmp);
	if (!tmp) {
		errno = ENOMEM;
		return NULL;
	}
	/* GetTempPath ends with a backslash. */
	for (int tries = 0; tries < 100; tries++) {
		wchar_t *w;
		BOOL made;

		free(p);
		p = NULL;
		if (asprintf(&p, "%s%s-%lu-%u", tmp, prefix, (unsigned long)GetCurrentProcessId(),
		             counter++ + (unsigned)GetTickCount() % 100000u) < 0)
			break;
		w = widen(p);
		made = w && CreateDirectoryW(w, NULL);
		free(w);
		if (made) {
			free(tmp);
			return p;
		}
		if (GetLastError() != ERROR_ALREADY_EXISTS)
			break;
	}
	free(tmp);
	free(p);
	errno = EIO;
	return NULL;
}

static void rm_tree(const wchar_t *dir)
{
	size_t len = wcslen(dir);
	wchar_t *pat = malloc((len + 3) * sizeof(wchar_t));
	WIN32_FIND_DATAW fd;
	HANDLE h;

	if (!pat)
		return;
	swprintf(pat, len + 3, L"%ls\\*", dir);
	h = FindFirstFileW(pat, &fd);
	free(pat);
	if (h != INVALID_HANDLE_VALUE) {
		do {
			size_t n;
			wchar_t *child;

			if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
				continue;
			n = len + wcslen(fd.cFileName) + 2;
			child = malloc(n * sizeof(wchar_t));
			if (!child)
				continue;
			swprintf(child, n, L"%ls\\%ls", dir, fd.cFileName);
			SetFileAttributesW(child, FILE_ATTRIBUTE_NORMAL);
			if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
				rm_tree(child);
			else
				DeleteFileW(child);
			free(child);
		} while (FindNextFileW(h, &fd));
		FindClose(h);
	}
	SetFileAttributesW(dir, FILE_ATTRIBUTE_NORMAL);
	RemoveDirectoryW(dir);
}

void tp_rm_rf(const char *dir)
{
	wchar_t *w = widen(dir);

	if (w)
		rm_tree(w);
	free(w);
}

void tp_sleep_ms(unsigned ms)
{
	Sleep(ms);
}

bool tp_is_root(void)
{
	/* An administrator still meets read-only attributes: nothing to drop. */
	return false;
}

int tp_event_threads(void)
{
	WSADATA wsa;

	if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
		return -1;
	return evthread_use_windows_threads() == 0 ? 0 : -1;
}

const char *const tp_abs_dirs[3] = { "C:\\e1", "D:/e2/x", "\\\\server\\share\\e3" };

void tp_user_dirs_fixture(struct tp_user_dirs *want)
{
	static char runtime[160], ctl[200];
	wchar_t wuser[257];
	DWORD n = sizeof(wuser) / sizeof(wuser[0]);
	char user[128] = "user";

	_putenv_s("LOCALAPPDATA", "C:\\xdg\\state");
	/* brokerd's rule: the user name with anything outside [A-Za-z0-9._-] as '_'. */
	if (GetUserNameW(wuser, &n)) {
		size_t j = 0;
		for (size_t i = 0; wuser[i] && j < sizeof(user) - 1; i++) {
			wchar_t c = wuser[i];
			user[j++] = (c < 128 && (isalnum((int)c) || c == '-' || c == '_' || c == '.')) ? (char)c : '_';
		}
		user[j] = '\0';
		if (j == 0)
			strcpy(user, "user");
	}
	snprintf(runtime, sizeof(runtime), "broker-%s", user);
	snprintf(ctl, sizeof(ctl), "ipc://broker-%s-ctl", user);
	want->runtime = runtime;
	want->state = "C:\\xdg\\state\\broker";
	want->ctl_url = ctl;
}

void tp_runtime_dir(const char *tmpdir, const char *leaf, char *buf, size_t len)
{
	/* A pipe-name prefix: \\.\pipe\broker-test-LEAF-PID-ctl. */
	(void)tmpdir;
	snprintf(buf, len, "broker-test-%s-%lu", leaf, (unsigned long)GetCurrentProcessId());
}

const char *tp_skip_file_modes(void)
{
	return "Windows has no POSIX mode bits (ACLs instead)";
}

const char *tp_skip_readonly_dir(void)
{
	return "Windows ignores a directory's read-only attribute when creating files in it";
}

const char *tp_skip_other_user(void)
{
	return "no fork/setuid on Windows: cannot act as another user";
}

const char *tp_skip_unix_sockets(void)
{
	return "the control endpoint is a named pipe on Windows: no socket file, no AF_UNIX (wine has none)";
}

const char *tp_skip_xdg(void)
{
	return "no XDG base directories on Windows";
}

const char *tp_skip_dial_after_orphan(void)
{
	return "NNG 1.5 keeps the pipe instance of a client that left mid-handshake open, so the stopped "
	       "server's pipe name stays busy in this process and a dial would wait forever";
}

const char *tp_skip_nng_fini(void)
{
	return "nng_fini() hangs under wine";
}

int tp_file_mode(const char *path)
{
	(void)path;
	return -ENOSYS;
}

int tp_chmod(const char *path, int mode)
{
	/* Only what Windows has: the owner's write bit as the read-only attribute. */
	wchar_t *w = widen(path);
	DWORD attr;
	int rc = 0;

	if (!w)
		return -ENOMEM;
	attr = GetFileAttributesW(w);
	if (attr == INVALID_FILE_ATTRIBUTES)
		rc = -ENOENT;
	else if (!(attr & FILE_ATTRIBUTE_DIRECTORY) &&
	         !SetFileAttributesW(w, (mode & 0200) ? (attr & ~(DWORD)FILE_ATTRIBUTE_READONLY)
	                                              : (attr | FILE_ATTRIBUTE_READONLY)))
		rc = -EACCES;
	free(w);
	return rc;
}

int tp_nobody(long *uid, long *gid)
{
	(void)uid;
	(void)gid;
	return -ENOENT;
}

int tp_chown(const char *path, long uid, long gid)
{
	(void)path;
	(void)uid;
	(void)gid;
	return -ENOSYS;
}

int tp_run_as(long uid, long gid, void (*fn)(void *arg, void *out, size_t len), void *arg, void *out, size_t len)
{
	(void)gid;
	if (uid != -1)
		return -ENOSYS;
	memset(out, 0, len);
	fn(arg, out, len);
	return 0;
}

int tp_unix_bind_stale(const char *path)
{
	(void)path;
	return -ENOSYS;
}

int tp_unix_probe_as(const char *path, long uid, long gid, const void *hello, size_t hello_len, size_t reply_len)
{
	(void)path;
	(void)uid;
	(void)gid;
	(void)hello;
	(void)hello_len;
	(void)reply_len;
	return -ENOSYS;
}

int tp_ipc_connect_close(const char *name)
{
	wchar_t *w = widen(name);
	HANDLE h;

	if (!w)
		return -ENOMEM;
	/* \\.\pipe\NAME: open one instance and close it before NNG's handshake. */
	h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE)
		return GetLastError() == ERROR_FILE_NOT_FOUND ? -ENOENT : -EIO;
	CloseHandle(h);
	return 0;
}
