/* runtime_dir_win32.c - runtime_dir.h on Windows: the control RPC and the
 * event feed are named pipes \\.\pipe\PREFIX-ctl and \\.\pipe\PREFIX-events
 * (NNG ipc://PREFIX-ctl), PREFIX = --runtime-dir, default broker-USER;
 * state in %LOCALAPPDATA%\broker; plugins and brokerd.json next to the .exe. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>

#include "rpc/runtime_dir.h"

/* UTF-16 -> malloc'd UTF-8. */
static char *narrow_dup(const wchar_t *w)
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

char *runtime_dir_default(void)
{
	wchar_t wuser[257];
	DWORD n = sizeof(wuser) / sizeof(wuser[0]);
	char user[128] = "user", *dir = NULL;

	if (GetUserNameW(wuser, &n)) {
		/* A pipe name takes anything but '\'; keep it to a portable, log-friendly set. */
		size_t j = 0;
		for (size_t i = 0; wuser[i] && j < sizeof(user) - 1; i++) {
			wchar_t c = wuser[i];
			user[j++] = (c < 128 && (isalnum((int)c) || c == '-' || c == '_' || c == '.')) ? (char)c : '_';
		}
		user[j] = '\0';
		if (j == 0)
			strcpy(user, "user");
	}
	if (asprintf(&dir, "broker-%s", user) < 0)
		return NULL;
	return dir;
}

char *runtime_dir_state_default(void)
{
	const wchar_t *base = _wgetenv(L"LOCALAPPDATA");
	char *b, *dir = NULL;

	if (!base || !*base)
		base = _wgetenv(L"APPDATA");
	if (!base || !*base)
		return strdup("C:\\ProgramData\\broker");
	b = narrow_dup(base);
	if (!b)
		return NULL;
	if (asprintf(&dir, "%s\\broker", b) < 0)
		dir = NULL;
	free(b);
	return dir;
}

/* DIR\NAME next to the running executable, computed once. */
static const char *beside_exe(char *buf, size_t len, const char *name, const char *fallback)
{
	wchar_t w[MAX_PATH];
	DWORD n = GetModuleFileNameW(NULL, w, MAX_PATH);
	char *exe, *slash;

	if (buf[0])
		return buf;
	if (n == 0 || n >= MAX_PATH || !(exe = narrow_dup(w)))
		return fallback;
	slash = strrchr(exe, '\\');
	if (slash)
		*slash = '\0';
	snprintf(buf, len, "%s\\%s", exe, name);
	free(exe);
	return buf;
}

bool runtime_dir_is_path(void)
{
	return false;
}

char *runtime_dir_resolve(const char *dir)
{
	return strdup(dir);   /* a pipe name prefix: nothing to resolve */
}

const char *runtime_dir_plugin_default(const char *configured)
{
	static char buf[MAX_PATH * 3];

	return beside_exe(buf, sizeof(buf), "plugins", configured);
}

const char *runtime_dir_config_default(const char *configured)
{
	static char buf[MAX_PATH * 3];

	return beside_exe(buf, sizeof(buf), "brokerd.json", configured);
}

char *runtime_dir_ctl_url(const char *dir)
{
	char *url = NULL;

	if (asprintf(&url, "ipc://%s-ctl", dir) < 0)
		return NULL;
	return url;
}

char *runtime_dir_events_url(const char *dir)
{
	char *url = NULL;

	if (asprintf(&url, "ipc://%s-events", dir) < 0)
		return NULL;
	return url;
}

const char *ipc_url_form(void)
{
	return "ipc://PIPE-NAME";
}

char *ipc_url_local_name(const char *url, bool *bad_form)
{
	const char *name = url + 6;
	char *s = NULL;

	*bad_form = strncmp(url, "ipc://", 6) != 0 || !*name || strpbrk(name, "\\/") != NULL;
	if (*bad_form)
		return NULL;
	if (asprintf(&s, "\\\\.\\pipe\\%s", name) < 0)
		return NULL;
	return s;
}

int ipc_local_name_check(const char *name)
{
	/* Pipes come and go with their instances: the dial's error decides (NNG_ENOENT: not running). */
	(void)name;
	return 0;
}

int ipc_local_owner_check(const char *name, char *err, size_t errlen)
{
	/* No file to look at: the pipe is brokerd's, made with a current-user security descriptor. */
	(void)name;
	(void)err;
	(void)errlen;
	return 0;
}

bool ipc_refused_means_absent(void)
{
	return true;
}
