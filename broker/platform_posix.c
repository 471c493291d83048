/* platform_posix.c - platform.h for Linux and other POSIX systems. */
#include <config.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#if defined(__linux__)
#include <linux/vm_sockets.h>
#endif
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "broker/errfmt.h"
#include "broker/platform.h"

void *platform_dl_open(const char *path, char *err, size_t errlen)
{
	/* RTLD_LOCAL: plugins never see each other's symbols; RTLD_NOW: fail at load, not mid-call. */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		errfmt(err, errlen, -ENOEXEC, "%s", dlerror());
	return h;
}

void *platform_dl_sym(void *handle, const char *name)
{
	return dlsym(handle, name);
}

void platform_dl_close(void *handle)
{
	if (handle)
		dlclose(handle);
}

const char *platform_plugin_suffix(void)
{
	return ".so";
}

int platform_fd_prepare(broker_fd fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

void platform_fd_close(broker_fd fd)
{
	if (fd >= 0)
		close(fd);
}

int platform_shutdown_write(broker_fd fd)
{
	return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

void platform_fd_abort(broker_fd fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	/* Fails harmlessly (ENOTSOCK) on pipes, which have no reset. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

ssize_t platform_read_iov(broker_fd fd, struct evbuffer_iovec *vec, int nvec)
{
	struct iovec iov[4];
	ssize_t n;

	if (nvec > 4)
		nvec = 4;
	for (int i = 0; i < nvec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
	}
	do {
		n = readv(fd, iov, nvec);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

ssize_t platform_write_buffer(broker_fd fd, struct evbuffer *buf, size_t max)
{
	/* evbuffer_write_atmost uses writev on POSIX, which suits sockets and pipes alike. */
	int n = evbuffer_write_atmost(buf, fd, (ev_ssize_t)max);

	if (n < 0)
		return (errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN : -errno;
	return n;
}

ssize_t platform_send_datagram(broker_fd fd, const void *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

int platform_errno(void)
{
	return errno;
}

int platform_mkdir_p(const char *path, int mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int platform_list_dir(const char *dir, const char *suffix, int (*fn)(void *arg, const char *path), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, slen = strlen(suffix);
	int rc = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= slen || strcmp(de->d_name + len - slen, suffix) != 0)
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
		names[n] = malloc(strlen(dir) + len + 2);
		if (!names[n]) {
			rc = -ENOMEM;
			break;
		}
		sprintf(names[n++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
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

void platform_tune_allocator(void)
{
#if defined(__GLIBC__)
	/* Keep freed buffer memory for reuse instead of returning it after every burst. */
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
#endif
}

int platform_event_threads(void)
{
	return evthread_use_pthreads() == 0 ? 0 : -ENOSYS;
}

struct platform_signals {
	struct event *term, *intr, *hup;
	void (*cb)(enum platform_signal sig, void *arg);
	void *arg;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct platform_signals *s = arg;

	(void)what;
	s->cb(sig == SIGHUP ? PLATFORM_SIGNAL_RELOAD : sig == SIGTERM ? PLATFORM_SIGNAL_TERM : PLATFORM_SIGNAL_INT,
	      s->arg);
}

int platform_signals_start(struct event_base *base, void (*cb)(enum platform_signal sig, void *arg), void *arg,
                           struct platform_signals **out)
{
	struct platform_signals *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cb = cb;
	s->arg = arg;
	signal(SIGPIPE, SIG_IGN);
	s->term = evsignal_new(base, SIGTERM, on_signal, s);
	s->intr = evsignal_new(base, SIGINT, on_signal, s);
	s->hup = evsignal_new(base, SIGHUP, on_signal, s);
	if (!s->term || !s->intr || !s->hup) {
		platform_signals_stop(s);
		return -ENOMEM;
	}
	event_add(s->term, NULL);
	event_add(s->intr, NULL);
	event_add(s->hup, NULL);
	*out = s;
	return 0;
}

void platform_signals_stop(struct platform_signals *s)
{
	if (!s)
		return;
	if (s->term)
		event_free(s->term);
	if (s->intr)
		event_free(s->intr);
	if (s->hup)
		event_free(s->hup);
	free(s);
}

void platform_hostname(char *buf, size_t len)
{
	if (len > 1)
		gethostname(buf, len - 1);
}

int platform_stdio_stream(struct broker_stream_desc *out, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	out->rfd = 0;
	out->wfd = 1;
	out->flags = BROKER_STREAM_PIPES;
	out->peer = "stdio";
	return 0;
}

bool platform_is_sep(char c)
{
	return c == '/';
}

bool platform_path_absolute(const char *path)
{
	return path[0] == '/';
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
	return mkdir(path, (mode_t)mode) < 0 ? -errno : 0;
}

int platform_check_writable(const char *path, bool dir)
{
	if (!dir && access(path, F_OK) < 0)
		return 0;   /* nothing there yet: sqlite creates it */
	return access(path, dir ? W_OK | X_OK : R_OK | W_OK) < 0 ? -errno : 0;
}

struct platform_lock {
	int fd;
};

int platform_lock_file(const char *path, struct platform_lock **out)
{
	struct platform_lock *l;
	int fd, e;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
	}
	l = malloc(sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->fd = fd;
	*out = l;
	return 0;
}

void platform_unlock_file(struct platform_lock *l)
{
	if (!l)
		return;
	/* Closing the descriptor releases the flock. */
	close(l->fd);
	free(l);
}

int platform_private_file_create(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return errfmt(err, errlen, -errno, "%s: cannot create: %s", path, strerror(errno));
	errno = 0;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(path);
		return errfmt(err, errlen, -e, "%s: cannot write: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

int platform_state_file_private(const char *path, bool create)
{
	struct stat st;
	int fd = -1;

	if (create)
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT && !create ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int platform_private_file_read(const char *path, void *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errfmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errfmt(err, errlen, -EINVAL, "%s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return errfmt(err, errlen, -EACCES, "%s: readable by others (mode %03o); run chmod 600 %s", path,
		              (unsigned)(st.st_mode & 0777), path);
	}
	got = read(fd, buf, cap);
	close(fd);
	if (got < 0)
		return errfmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	*n = (size_t)got;
	return 0;
}

int platform_path_resolve(const char *path, char *out, size_t outlen)
{
	char buf[PATH_MAX], dir[PATH_MAX];
	const char *slash, *base;
	size_t n;

	if (!path || !*path)
		return -EINVAL;
	if (realpath(path, buf)) {
		if (strlen(buf) >= outlen)
			return -ENAMETOOLONG;
		memcpy(out, buf, strlen(buf) + 1);
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	/* Not there (yet): resolve the directory, keep the name. */
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -ENOENT;
	n = slash ? (size_t)(slash - path) : 0;
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	if (slash && n == 0)
		strcpy(dir, "/");
	else if (!slash)
		strcpy(dir, ".");
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (!realpath(dir, buf))
		return -errno;
	n = strlen(buf);
	if (n + 1 + strlen(base) + 1 > outlen)
		return -ENAMETOOLONG;
	snprintf(out, outlen, "%s%s%s", buf, n > 0 && buf[n - 1] == '/' ? "" : "/", base);
	return 0;
}

void platform_sock_peer(broker_fd fd, struct platform_peer *out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(out, 0, sizeof(*out));
	out->uid = -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	switch (ss.ss_family) {
	case AF_INET:
	case AF_INET6:
		out->kind = PLATFORM_PEER_INET;
		return;
	case AF_UNIX: {
		out->kind = PLATFORM_PEER_UNIX;
#if defined(SO_PEERCRED)
		struct ucred uc;
		socklen_t ul = sizeof(uc);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0)
			out->uid = (long)uc.uid;
#endif
		return;
	}
#if defined(AF_VSOCK)
	case AF_VSOCK: {
		struct sockaddr_vm vm;
		socklen_t vl = sizeof(vm);
		out->kind = PLATFORM_PEER_VSOCK;
		out->cid = (unsigned long)-1;
		if (getpeername(fd, (struct sockaddr *)&vm, &vl) == 0)
			out->cid = vm.svm_cid;
		return;
	}
#endif
	default:
		return;
	}
}

long platform_euid(void)
{
	return (long)geteuid();
}

int platform_unix_path_private(const char *path, char *why, size_t whylen)
{
	char real[PATH_MAX], *slash;
	struct stat st;
	uid_t me = geteuid();

	if (realpath(path, real) == NULL || stat(real, &st) < 0)
		return errfmt(why, whylen, -errno, "%s: %s", path, strerror(errno));
	if (st.st_uid != me && st.st_uid != 0)
		return errfmt(why, whylen, -EPERM, "%s is owned by uid %ld, not by us (uid %ld) or root", real,
		              (long)st.st_uid, (long)me);
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (stat(real, &st) < 0)
		return errfmt(why, whylen, -errno, "%s: %s", real, strerror(errno));
	if (st.st_uid != me && st.st_uid != 0)
		return errfmt(why, whylen, -EPERM, "its directory %s is owned by uid %ld, not by us (uid %ld) or root",
		              real, (long)st.st_uid, (long)me);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return errfmt(why, whylen, -EPERM, "its directory %s is writable by %s (mode %04o)", real,
		              st.st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st.st_mode & 07777));
	return 0;
}

int platform_unix_listen(const char *path, broker_fd *out, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (path[0] != '/')
		return errfmt(err, errlen, -EINVAL, "%s: a Unix socket path must be absolute", path);
	if (strlen(path) >= sizeof(sa.sun_path))
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: longer than a Unix socket path may be (%zu bytes)", path,
		              sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe;
		if (!S_ISSOCK(st.st_mode))
			return errfmt(err, errlen, -EEXIST, "%s exists and is not a socket; remove it or pick another path",
			              path);
		/* Someone accepting there is alive: never steal a live socket. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return errfmt(err, errlen, -errno, "socket: %s", strerror(errno));
		rc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		close(probe);
		if (rc == 0)
			return errfmt(err, errlen, -EADDRINUSE, "%s: another process is listening there", path);
		if (unlink(path) < 0 && errno != ENOENT)
			return errfmt(err, errlen, -errno, "cannot remove the stale socket %s: %s", path, strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errfmt(err, errlen, -errno, "socket: %s", strerror(errno));
	/* The umask makes the file 0600 at bind: no window in which others could connect. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		if (rc == 0)
			unlink(path);
		return errfmt(err, errlen, -e, "cannot listen on %s: %s", path, strerror(e));
	}
	*out = fd;
	return 0;
}
