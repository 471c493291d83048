/* sys_win32.c - brokerctl's OS calls on Windows (see brokerctl.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <io.h>
#include <windows.h>

#include "ctl/brokerctl.h"

void ctl_catch_stop_signals(void (*handler)(int sig))
{
	/* The C runtime raises SIGINT for Ctrl-C and SIGBREAK for Ctrl-Break. */
	signal(SIGINT, handler);
	signal(SIGTERM, handler);
	signal(SIGBREAK, handler);
}

char *ctl_absolute_path(const char *path)
{
	bool drive = ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) && path[1] == ':';

	if ((drive && (path[2] == '\\' || path[2] == '/')) || ((path[0] == '\\' || path[0] == '/') &&
	                                                       (path[1] == '\\' || path[1] == '/')))
		return NULL;
	if (_access(path, 0) != 0)
		return NULL;
	return _fullpath(NULL, path, 0);
}

int ctl_docker_endpoint(const char *runtime_dir, const char *name, char *url, size_t len, bool *needs_context)
{
	/* docker_engine is the pipe the docker CLI dials when nothing else is set. */
	bool dflt = strcmp(name, "docker") == 0;
	int n = dflt ? snprintf(url, len, "npipe:////./pipe/docker_engine")
	             : snprintf(url, len, "npipe:////./pipe/docker_engine_%s", name);

	(void)runtime_dir;
	*needs_context = !dflt;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Wait for an overlapped operation on h until deadline (GetTickCount64): 0, -ETIMEDOUT or -EIO. */
static int finish_io(HANDLE h, OVERLAPPED *ov, BOOL started, DWORD *n, ULONGLONG deadline)
{
	ULONGLONG now = GetTickCount64();

	if (!started && GetLastError() != ERROR_IO_PENDING)
		return GetLastError() == ERROR_BROKEN_PIPE ? (*n = 0, 0) : -EIO;
	if (WaitForSingleObject(ov->hEvent, now >= deadline ? 0 : (DWORD)(deadline - now)) != WAIT_OBJECT_0) {
		CancelIo(h);
		GetOverlappedResult(h, ov, n, TRUE);
		return -ETIMEDOUT;
	}
	if (!GetOverlappedResult(h, ov, n, FALSE))
		return GetLastError() == ERROR_BROKEN_PIPE ? (*n = 0, 0) : -EIO;
	return 0;
}

int ctl_endpoint_exchange(const char *url, const char *request, char *reply, size_t cap, size_t *got,
                          int timeout_ms, char *err, size_t errlen)
{
	char path[300];
	ULONGLONG deadline = GetTickCount64() + (ULONGLONG)timeout_ms;
	OVERLAPPED ov;
	HANDLE h, ev;
	DWORD n = 0;
	int r = 0;

	*got = 0;
	if (strncmp(url, "npipe://", 8) != 0 || strlen(url + 8) >= sizeof(path)) {
		snprintf(err, errlen, "%s: not an npipe:// pipe this brokerctl can reach", url);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s", url + 8);
	for (char *c = path; *c; c++)
		if (*c == '/')
			*c = '\\';
	h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		snprintf(err, errlen, "%s: cannot open the pipe (error %lu)", path, (unsigned long)GetLastError());
		return -ENOENT;
	}
	if (!(ev = CreateEventA(NULL, TRUE, FALSE, NULL))) {
		CloseHandle(h);
		snprintf(err, errlen, "out of resources");
		return -ENOMEM;
	}
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = ev;
	r = finish_io(h, &ov, WriteFile(h, request, (DWORD)strlen(request), NULL, &ov), &n, deadline);
	while (r == 0 && *got < cap) {
		memset(&ov, 0, sizeof(ov));
		ov.hEvent = ev;
		ResetEvent(ev);
		r = finish_io(h, &ov, ReadFile(h, reply + *got, (DWORD)(cap - *got), NULL, &ov), &n, deadline);
		if (r < 0 || n == 0)
			break;
		*got += n;
	}
	if (r == -ETIMEDOUT)
		snprintf(err, errlen, "%s: no answer within %d ms", path, timeout_ms);
	else if (r < 0)
		snprintf(err, errlen, "%s: pipe I/O failed (error %lu)", path, (unsigned long)GetLastError());
	CloseHandle(ev);
	CloseHandle(h);
	return r;
}

bool ctl_program_on_path(const char *program)
{
	char buf[MAX_PATH];

	return SearchPathA(NULL, program, ".exe", sizeof(buf), buf, NULL) > 0;
}

int ctl_run(char *const argv[], char *out, size_t cap, int timeout_ms)
{
	/* Not needed: Windows' docker CLI finds the default pipe by itself (see ctl_docker_endpoint). */
	(void)argv;
	(void)timeout_ms;
	if (cap)
		out[0] = '\0';
	return -ENOSYS;
}
