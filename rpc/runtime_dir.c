/* runtime_dir.c - the default runtime and state dirs, and the control socket URL (POSIX). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc/runtime_dir.h"
#include "broker/errfmt.h"

char *runtime_dir_default(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *dir = NULL;

	/* A relative XDG_RUNTIME_DIR is invalid per the XDG spec; ignore it. */
	if (xdg && xdg[0] == '/') {
		if (asprintf(&dir, "%s/broker", xdg) < 0)
			return NULL;
		return dir;
	}
	if (geteuid() == 0)
		return strdup("/run/broker");
	if (asprintf(&dir, "/tmp/broker-%lu", (unsigned long)geteuid()) < 0)
		return NULL;
	return dir;
}

/* An empty environment variable counts as unset, as most tools treat it. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static const char *home_dir(void)
{
	const char *h = env("HOME");
	struct passwd *pw;

	if (h)
		return h;
	pw = getpwuid(geteuid());
	return pw && pw->pw_dir ? pw->pw_dir : NULL;
}

static char *join(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s", a, b) < 0)
		return NULL;
	return s;
}

char *runtime_dir_state_default(void)
{
	const char *x, *h;

	if (geteuid() == 0)
		return strdup("/var/lib/broker");
	/* XDG base directories must be absolute; a relative one is ignored (the spec says so). */
	x = env("XDG_STATE_HOME");
	if (x && x[0] == '/')
		return join(x, "/broker");
	h = home_dir();
	if (h)
		return join(h, "/.local/state/broker");
	return strdup("/var/lib/broker");
}

bool runtime_dir_is_path(void)
{
	return true;
}

char *runtime_dir_resolve(const char *dir)
{
	char cwd[PATH_MAX], *out;

	if (dir[0] == '/')
		return strdup(dir);
	while (dir[0] == '.' && dir[1] == '/')
		dir += 2;
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (!dir[0])
		return strdup(cwd);
	if (asprintf(&out, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", dir) < 0)
		return NULL;
	return out;
}

const char *runtime_dir_plugin_default(const char *configured)
{
	return configured;
}

const char *runtime_dir_config_default(const char *configured)
{
	return configured;
}

char *runtime_dir_ctl_url(const char *dir)
{
	char *url = NULL;

	if (asprintf(&url, "ipc://%s/%s", dir, RUNTIME_CTL_SOCKET) < 0)
		return NULL;
	return url;
}

char *runtime_dir_events_url(const char *dir)
{
	char *url = NULL;

	if (asprintf(&url, "ipc://%s/%s", dir, RUNTIME_EVENTS_SOCKET) < 0)
		return NULL;
	return url;
}

const char *ipc_url_form(void)
{
	return "ipc:///absolute/path";
}

char *ipc_url_local_name(const char *url, bool *bad_form)
{
	*bad_form = strncmp(url, "ipc://", 6) != 0 || url[6] != '/';
	return *bad_form ? NULL : strdup(url + 6);
}

int ipc_local_name_check(const char *name)
{
	struct stat st;

	return stat(name, &st) == 0 ? 0 : -errno;
}

int ipc_local_owner_check(const char *name, char *err, size_t errlen)
{
	uid_t me = geteuid();
	struct stat dst, sst;
	char *dir = strdup(name), *slash;
	int rc = 0;

	if (!dir)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (lstat(dir, &dst) < 0 || lstat(name, &sst) < 0) {
		rc = errfmt(err, errlen, -errno, "%s: %s", name, strerror(errno));
	} else if (S_ISLNK(dst.st_mode) || !S_ISDIR(dst.st_mode)) {
		rc = errfmt(err, errlen, -EPERM,
		            "refusing %s: its directory %s is a symbolic link (or not a directory); whoever made it "
		            "could answer in the broker's place",
		            name, dir);
	} else if (dst.st_uid != me && dst.st_uid != 0 && me != 0) {
		rc = errfmt(err, errlen, -EPERM,
		            "refusing %s: its directory belongs to uid %lu, not to you (uid %lu) or root; another user may "
		            "have made it to receive your commands (pass --runtime-dir, or remove %s as root)",
		            name, (unsigned long)dst.st_uid, (unsigned long)me, dir);
	} else if (dst.st_mode & 022) {
		rc = errfmt(err, errlen, -EPERM,
		            "refusing %s: others can write to its directory %s (mode %04o) and could have replaced the "
		            "socket; the directory of a broker's control socket is 0700",
		            name, dir, (unsigned)(dst.st_mode & 07777));
	} else if (!S_ISSOCK(sst.st_mode)) {
		rc = errfmt(err, errlen, -EPERM, "refusing %s: it is not a socket", name);
	} else if (sst.st_uid != me && sst.st_uid != 0 && !(me == 0 && sst.st_uid == dst.st_uid)) {
		rc = errfmt(err, errlen, -EPERM,
		            "refusing %s: it belongs to uid %lu, not to you (uid %lu) or root; another user's process would "
		            "receive your commands",
		            name, (unsigned long)sst.st_uid, (unsigned long)me);
	}
	free(dir);
	return rc;
}

bool ipc_refused_means_absent(void)
{
	return false;
}
