/* test_platform_posix.c - test_platform.h for Linux and other POSIX systems. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/thread.h>

#include "tests/unit/test_platform.h"

int tp_setenv(const char *name, const char *value)
{
	return setenv(name, value, 1) < 0 ? -errno : 0;
}

int tp_unsetenv(const char *name)
{
	return unsetenv(name) < 0 ? -errno : 0;
}

char *tp_mkdtemp(const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	char *p = NULL;

	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	if (asprintf(&p, "%s/%s-XXXXXX", tmp, prefix) < 0)
		return NULL;
	if (!mkdtemp(p)) {
		int e = errno;
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		chmod(p, 0700);
	return remove(p);
}

static int open_up(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

void tp_rm_rf(const char *dir)
{
	/* Directories made read-only by a test first get their write bit back. */
	chmod(dir, 0700);
	nftw(dir, open_up, 16, FTW_PHYS);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tp_sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool tp_is_root(void)
{
	return geteuid() == 0;
}

int tp_event_threads(void)
{
	return evthread_use_pthreads() == 0 ? 0 : -1;
}

const char *const tp_abs_dirs[3] = { "/e1", "/e2/x", "/e3" };

void tp_user_dirs_fixture(struct tp_user_dirs *want)
{
	setenv("XDG_RUNTIME_DIR", "/xdg/run", 1);
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	want->runtime = "/xdg/run/broker";
	want->state = "/xdg/state/broker";
	want->ctl_url = "ipc:///xdg/run/broker/ctl.sock";
}

void tp_runtime_dir(const char *tmpdir, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, leaf);
}

const char *tp_skip_file_modes(void)
{
	return NULL;
}

const char *tp_skip_readonly_dir(void)
{
	return NULL;
}

const char *tp_skip_other_user(void)
{
	return geteuid() == 0 ? NULL : "not root: cannot act as another uid";
}

const char *tp_skip_unix_sockets(void)
{
	return NULL;
}

const char *tp_skip_xdg(void)
{
	return NULL;
}

const char *tp_skip_dial_after_orphan(void)
{
	return NULL;
}

const char *tp_skip_nng_fini(void)
{
	return NULL;
}

int tp_file_mode(const char *path)
{
	struct stat sb;

	return stat(path, &sb) < 0 ? -errno : (int)(sb.st_mode & 0777);
}

int tp_chmod(const char *path, int mode)
{
	return chmod(path, (mode_t)mode) < 0 ? -errno : 0;
}

int tp_nobody(long *uid, long *gid)
{
	struct passwd *pw = getpwnam("nobody");

	if (!pw)
		return -ENOENT;
	*uid = (long)pw->pw_uid;
	*gid = (long)pw->pw_gid;
	return 0;
}

int tp_chown(const char *path, long uid, long gid)
{
	return chown(path, (uid_t)uid, (gid_t)gid) < 0 ? -errno : 0;
}

/* Become uid/gid in a child; false when that failed. */
static bool become(long uid, long gid)
{
	return uid == -1 || (setgid((gid_t)gid) == 0 && setuid((uid_t)uid) == 0);
}

int tp_run_as(long uid, long gid, void (*fn)(void *arg, void *out, size_t len), void *arg, void *out, size_t len)
{
	int p[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	memset(out, 0, len);
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		char *buf = calloc(1, len ? len : 1);
		close(p[0]);
		if (!buf || !become(uid, gid))
			_exit(3);
		fn(arg, buf, len);
		if (write(p[1], buf, len) != (ssize_t)len)
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	while (got < len && (n = read(p[0], (char *)out + got, len - got)) > 0)
		got += (size_t)n;
	close(p[0]);
	waitpid(pid, &status, 0);
	return got == len && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int tp_unix_bind_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int tp_unix_probe_as(const char *path, long uid, long gid, const void *hello, size_t hello_len, size_t reply_len)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct timeval tv = { .tv_sec = 2 };
		unsigned char buf[256];
		size_t got = 0;
		ssize_t n;
		int fd;

		if (!become(uid, gid))
			_exit(10);
		if (reply_len > sizeof(buf))
			_exit(13);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			_exit(errno == EACCES ? 1 : 11);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (write(fd, hello, hello_len) != (ssize_t)hello_len)
			_exit(12);
		while (got < reply_len && (n = read(fd, buf + got, reply_len - got)) > 0)
			got += (size_t)n;
		if (got < reply_len)
			_exit(2);   /* closed during the handshake: also a refusal */
		n = read(fd, buf, 1);
		_exit(n == 0 ? 2 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) <= 2 ? WEXITSTATUS(status) : -1;
}

int tp_ipc_connect_close(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", name);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
