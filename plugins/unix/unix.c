/*
 * plugins/unix/unix.c - endpoint plugin for Unix domain stream sockets.
 *
 *   listen:  unix:///abs/path?mode=0660&group=NAME   unix://@name (Linux abstract)
 *   connect: unix:///abs/path                         unix://@name
 *
 * Listening never steals a live socket: an existing socket file is probed
 * with a connect; if something answers we refuse, if nothing does the stale
 * file is removed.  The socket is created owner-only (umask 0177), then
 * chowned to ?group= and chmodded to ?mode= (default 0600) before listen(),
 * so it is never more open than asked.  unlisten removes the file only if it
 * is still the one we created (same device and inode).  Accepting is
 * plugins/common/sock_listen.c (shared with tcp, vsock, hvsock).
 *
 * Connect is non-blocking; completion is always reported from a later event.
 * A full listen queue (EAGAIN) is retried until connect_timeout_ms.
 *
 * POSIX only for now.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/sock_listen.h"

static const struct broker_host *host;

#define UNIX_DEFAULT_MODE 0600
#define UNIX_RETRY_MIN_MS 5
#define UNIX_RETRY_MAX_MS 100

/* A parsed address: a filesystem path or (Linux) an abstract name. */
struct unix_addr {
	struct sockaddr_un sun;
	socklen_t len;
	int abstract;
	char text[sizeof(((struct sockaddr_un *)0)->sun_path) + 2]; /* "/path" or "@name" */
};

struct unix_listener {
	struct sock_listener *sl;       /* the accepting side (plugins/common/sock_listen.c) */
	struct unix_addr addr;
	dev_t dev;                      /* identity of the file we created */
	ino_t ino;
};

struct unix_pending {
	struct broker_plugin_handle *h;
	struct broker_connect_req *req;
	struct unix_addr addr;
	int fd;
	struct event *wev;              /* EV_WRITE while connecting */
	struct event *retry;            /* listen queue full: try again */
	struct event *timeout;
	struct event *done;             /* zero-delay event that reports the result */
	int retry_ms;
	int error;                      /* 0: success is reported by done */
	char reason[320];
};

/* ------------------------------------------------------------- helpers */

static int parse_addr(const char *address, struct unix_addr *a, char *err, size_t errlen)
{
	const char *p = address ? address : "";
	size_t n, max = sizeof(a->sun.sun_path);

	memset(a, 0, sizeof(*a));
	a->sun.sun_family = AF_UNIX;
	if (p[0] == '@') {
#ifdef __linux__
		n = strlen(p + 1);
		if (n == 0 || n > max - 1) {
			snprintf(err, errlen, "abstract socket name must be 1 to %zu bytes", max - 1);
			return -EINVAL;
		}
		a->abstract = 1;
		memcpy(a->sun.sun_path + 1, p + 1, n);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		snprintf(a->text, sizeof(a->text), "@%s", p + 1);
		return 0;
#else
		snprintf(err, errlen, "abstract sockets (unix://@name) exist only on Linux");
		return -EAFNOSUPPORT;
#endif
	}
	if (p[0] != '/') {
		snprintf(err, errlen, "socket path must be absolute, got \"%s\" (write unix:///full/path.sock)",
		         p);
		return -EINVAL;
	}
	n = strlen(p);
	if (n >= max) {
		snprintf(err, errlen, "socket path too long (%zu bytes; Unix sockets allow at most %zu)",
		         n, max - 1);
		return -ENAMETOOLONG;
	}
	memcpy(a->sun.sun_path, p, n);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	snprintf(a->text, sizeof(a->text), "%s", p);
	return 0;
}

/* A non-blocking, close-on-exec AF_UNIX stream socket, or -errno. */
static int new_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), e;

	if (fd < 0)
		return -errno;
	if (evutil_make_socket_nonblocking(fd) < 0 || evutil_make_socket_closeonexec(fd) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* ------------------------------------------------------------- lifecycle */

/* The plugin keeps nothing but its handle: that is its state. */
static int unix_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	*state = h;
	return 0;
}

/* ------------------------------------------------------------- listen */

/* "unix:uid=1000 pid=42" for an accepted socket (sock_listen_peer_fn). */
static void peer_text(evutil_socket_t fd, const struct sockaddr *sa, int salen, char *buf,
                      size_t len)
{
#if defined(SO_PEERCRED)
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == 0) {
		snprintf(buf, len, "unix:uid=%u pid=%d", (unsigned)uc.uid, (int)uc.pid);
		return;
	}
#else
	uid_t uid;
	gid_t gid;

	if (getpeereid(fd, &uid, &gid) == 0) {
		snprintf(buf, len, "unix:uid=%u", (unsigned)uid);
		return;
	}
#endif
	(void)sa;
	(void)salen;
	snprintf(buf, len, "unix:unknown");
}

/*
 * Is something listening on a.text?  1: live, 0: stale (refused or gone),
 * negative errno: cannot tell.
 */
static int probe_live(const struct unix_addr *a)
{
	int fd = new_socket(), r, e;

	if (fd < 0)
		return fd;
	r = connect(fd, (const struct sockaddr *)&a->sun, a->len);
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS)
		return 1;
	if (e == ECONNREFUSED || e == ENOENT)
		return 0;
	return -e;
}

/* Make sure nothing but a stale socket stands at the path; remove that. */
static int clear_path(struct broker_plugin_handle *h, const struct unix_addr *a, char *err, size_t errlen)
{
	struct stat sb;
	int live;

	if (lstat(a->text, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot check %s: %s", a->text, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another path",
		         a->text);
		return -EEXIST;
	}
	live = probe_live(a);
	if (live > 0) {
		snprintf(err, errlen, "socket is live (another process listens on %s); refusing to steal it",
		         a->text);
		return -EADDRINUSE;
	}
	if (live < 0) {
		snprintf(err, errlen, "cannot tell whether %s is in use: %s", a->text, strerror(-live));
		return live;
	}
	if (unlink(a->text) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s", a->text, strerror(errno));
		return -errno;
	}
	host->log(h, BROKER_LOG_INFO, "removed stale socket %s", a->text);
	return 0;
}

static int parse_mode(const char *s, mode_t *mode, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	if (!s) {
		*mode = UNIX_DEFAULT_MODE;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 8);
	if (!*s || *end || errno || v > 0777 || s[0] == '-' || s[0] == '+') {
		snprintf(err, errlen, "bad mode \"%s\" (octal permission bits such as 0660)", s);
		return -EINVAL;
	}
	*mode = (mode_t)v;
	return 0;
}

static int lookup_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long v;
	int r;

	r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r == 0 && res) {
		*gid = res->gr_gid;
		return 0;
	}
	/* A numeric gid is accepted too. */
	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name && !*end && !errno) {
		*gid = (gid_t)v;
		return 0;
	}
	if (r != 0)
		snprintf(err, errlen, "cannot look up group \"%s\": %s", name, strerror(r));
	else
		snprintf(err, errlen, "unknown group \"%s\" (?group= must name an existing group)", name);
	return -ENOENT;
}

static int bind_error(const struct unix_addr *a, int e, char *err, size_t errlen)
{
	switch (e) {
	case EACCES:
		snprintf(err, errlen, "permission denied creating %s (check the directory's permissions)",
		         a->text);
		break;
	case ENOENT:
		snprintf(err, errlen, "directory of %s does not exist", a->text);
		break;
	case EADDRINUSE:
		snprintf(err, errlen, "address already in use: %s", a->text);
		break;
	default:
		snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(e));
		break;
	}
	return -e;
}

/*
 * The socket file just bound: remember its identity, give it to gid (-1:
 * keep) and set its mode.  0, or -errno with err.
 */
static int own_file(struct unix_listener *l, gid_t gid, const char *group_s, mode_t mode, char *err,
                    size_t errlen)
{
	struct stat sb;
	int e;

	if (lstat(l->addr.text, &sb) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot stat %s after bind: %s", l->addr.text, strerror(e));
		return -e;
	}
	l->dev = sb.st_dev;
	l->ino = sb.st_ino;
	if (gid != (gid_t)-1 && chown(l->addr.text, (uid_t)-1, gid) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot give %s to group \"%s\": %s%s", l->addr.text, group_s, strerror(e),
		         e == EPERM ? " (you must be root or a member of that group)" : "");
		return -e;
	}
	if (chmod(l->addr.text, mode) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot set mode %04o on %s: %s", (unsigned)mode, l->addr.text, strerror(e));
		return -e;
	}
	return 0;
}

static int unix_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                       void **listener, char *err, size_t errlen)
{
	struct broker_plugin_handle *h = state;
	struct unix_listener *l;
	struct sock_listen_opts o;
	const char *mode_s = host->url_param(url, "mode");
	const char *group_s = host->url_param(url, "group");
	mode_t mode, old_umask;
	gid_t gid = (gid_t)-1;
	int fd, r;

	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = parse_addr(url->address, &l->addr, err, errlen);
	if (r < 0)
		goto fail_free;
	r = parse_mode(mode_s, &mode, err, errlen);
	if (r < 0)
		goto fail_free;
	if (group_s) {
		r = lookup_group(group_s, &gid, err, errlen);
		if (r < 0)
			goto fail_free;
	}
	if (l->addr.abstract && (mode_s || group_s)) {
		snprintf(err, errlen, "mode and group do not apply to abstract sockets (unix://@name)");
		r = -EINVAL;
		goto fail_free;
	}
	if (!l->addr.abstract) {
		r = clear_path(h, &l->addr, err, errlen);
		if (r < 0)
			goto fail_free;
	}

	fd = new_socket();
	if (fd < 0) {
		r = fd;
		snprintf(err, errlen, "cannot create a socket: %s", strerror(-r));
		goto fail_free;
	}
	/* Owner-only while we adjust group and mode; nobody can connect before listen(). */
	old_umask = umask(0177);
	r = bind(fd, (const struct sockaddr *)&l->addr.sun, l->addr.len);
	umask(old_umask);
	if (r < 0) {
		r = bind_error(&l->addr, errno, err, errlen);
		goto fail_close;
	}
	if (!l->addr.abstract && (r = own_file(l, gid, group_s, mode, err, errlen)) < 0)
		goto fail_unlink;
	if (listen(fd, (int)(host->option_int(h, "backlog") > 0 ? host->option_int(h, "backlog") : 511)) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", l->addr.text, strerror(errno));
		goto fail_unlink;
	}
	memset(&o, 0, sizeof(o));
	o.scheme = "unix";          /* "unix:///path" or "unix://@name" */
	o.where = l->addr.text;
	o.peer = peer_text;
	r = sock_listen_start(host, h, sink, fd, &o, &l->sl, err, errlen);
	fd = -1;                    /* sock_listen owns it now, and closed it on failure */
	if (r < 0)
		goto fail_unlink;
	host->log(h, BROKER_LOG_DEBUG, "listening on %s (mode %04o)", l->addr.text, (unsigned)mode);
	*listener = l;
	return 0;

fail_unlink:
	if (!l->addr.abstract)
		unlink(l->addr.text);
fail_close:
	if (fd >= 0)
		close(fd);
fail_free:
	free(l);
	return r;
}

static void unix_unlisten(void *state, void *listener)
{
	struct unix_listener *l = listener;
	struct stat sb;

	(void)state;
	if (!l)
		return;
	/* Remove the file only if it is still ours (not replaced by someone else). */
	if (!l->addr.abstract && lstat(l->addr.text, &sb) == 0 && sb.st_dev == l->dev &&
	    sb.st_ino == l->ino)
		unlink(l->addr.text);
	sock_listen_stop(l->sl);
	free(l);
}

static int unix_describe(void *state, void *listener, char *buf, size_t buflen)
{
	struct unix_listener *l = listener;

	(void)state;
	return sock_listen_describe(l->sl, buf, buflen);
}

/* ------------------------------------------------------------- connect */

static void pending_free(struct unix_pending *p)
{
	if (p->wev)
		event_free(p->wev);
	if (p->retry)
		event_free(p->retry);
	if (p->timeout)
		event_free(p->timeout);
	if (p->done)
		event_free(p->done);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void connect_reason(struct unix_pending *p, int e)
{
	const char *t = p->addr.text;

	p->error = -e;
	switch (e) {
	case ENOENT:
		snprintf(p->reason, sizeof(p->reason), "no such socket: %s", t);
		break;
	case ECONNREFUSED:
		snprintf(p->reason, sizeof(p->reason), "connection refused: nothing listens on %s", t);
		break;
	case EACCES:
	case EPERM:
		snprintf(p->reason, sizeof(p->reason), "permission denied: %s", t);
		break;
	case ENOTDIR:
		snprintf(p->reason, sizeof(p->reason), "not a directory in path: %s", t);
		break;
	case ETIMEDOUT:
		snprintf(p->reason, sizeof(p->reason), "timed out connecting to %s", t);
		break;
	default:
		snprintf(p->reason, sizeof(p->reason), "cannot connect to %s: %s", t, strerror(e));
		break;
	}
}

/* Schedule the report (result already in p->error / p->fd) for a later iteration. */
static void report_later(struct unix_pending *p)
{
	if (p->wev) {
		event_free(p->wev);
		p->wev = NULL;
	}
	event_del(p->retry);
	event_del(p->timeout);
	event_active(p->done, EV_TIMEOUT, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct unix_pending *p = arg;
	struct broker_stream_desc desc;
	char peer[sizeof(p->addr.text) + 8];

	(void)fd;
	(void)what;
	if (p->error) {
		host->connect_failed(p->req, p->error, p->reason);
		pending_free(p);
		return;
	}
	snprintf(peer, sizeof(peer), "unix:%s", p->addr.text);
	memset(&desc, 0, sizeof(desc));
	desc.rfd = p->fd;
	desc.wfd = p->fd;
	desc.flags = BROKER_STREAM_SOCKET;
	desc.peer = peer;
	p->fd = -1;     /* the core owns it now */
	host->connected(p->req, &desc);
	pending_free(p);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct unix_pending *p = arg;

	(void)fd;
	(void)what;
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	connect_reason(p, ETIMEDOUT);
	report_later(p);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct unix_pending *p = arg;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr) {
		close(p->fd);
		p->fd = -1;
		connect_reason(p, soerr);
	}
	report_later(p);
}

static void attempt(struct unix_pending *p);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	attempt(arg);
}

/* One connect attempt.  Never reports directly: everything goes through done or wev. */
static void attempt(struct unix_pending *p)
{
	int e;

	p->fd = new_socket();
	if (p->fd < 0) {
		connect_reason(p, -p->fd);
		p->fd = -1;
		report_later(p);
		return;
	}
	if (connect(p->fd, (const struct sockaddr *)&p->addr.sun, p->addr.len) == 0) {
		report_later(p);
		return;
	}
	e = errno;
	if (e == EINPROGRESS || e == EINTR) {
		p->wev = event_new(host->event_base(p->h), p->fd, EV_WRITE, on_writable, p);
		if (p->wev && event_add(p->wev, NULL) == 0)
			return;
		e = ENOMEM;
	}
	close(p->fd);
	p->fd = -1;
	if (e == EAGAIN) {
		/* Linux: the listener's queue is full.  Back off and try again until the timeout. */
		struct timeval tv = { 0, p->retry_ms * 1000 };

		evtimer_add(p->retry, &tv);
		if (p->retry_ms < UNIX_RETRY_MAX_MS)
			p->retry_ms *= 2;
		return;
	}
	connect_reason(p, e);
	report_later(p);
}

static int unix_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                        void **pending, char *err, size_t errlen)
{
	struct broker_plugin_handle *h = state;
	struct event_base *base = host->event_base(h);
	struct unix_pending *p;
	long long ms;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->h = h;
	p->req = req;
	p->fd = -1;
	p->retry_ms = UNIX_RETRY_MIN_MS;
	r = parse_addr(url->address, &p->addr, err, errlen);
	if (r < 0) {
		free(p);
		return r;
	}
	p->done = evtimer_new(base, on_done, p);
	p->retry = evtimer_new(base, on_retry, p);
	p->timeout = evtimer_new(base, on_timeout, p);
	if (!p->done || !p->retry || !p->timeout) {
		pending_free(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ms = host->option_int(h, "connect_timeout_ms");
	if (ms > 0) {
		struct timeval tv = { (long)(ms / 1000), (long)(ms % 1000) * 1000 };

		evtimer_add(p->timeout, &tv);
	}
	*pending = p;
	attempt(p);
	return 0;
}

static void unix_connect_cancel(void *state, void *pending)
{
	(void)state;
	if (pending)
		pending_free(pending);
}

/* ------------------------------------------------------------- plugin */

static const struct broker_option unix_options[] = {
	{ BROKER_OPT_INT, "connect_timeout_ms", "10000",
	  "give up connecting after this many milliseconds (0: no limit)", 0, 86400000 },
	{ BROKER_OPT_INT, "backlog", "511", "listen backlog (pending connections the kernel queues)",
	  1, 65535 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const unix_schemes[] = { "unix", NULL };

static const struct broker_url_param_decl unix_params[] = {
	{ "mode", BROKER_PARAM_LISTEN, NULL, "permission bits of the socket file, octal (default 0600)" },
	{ "group", BROKER_PARAM_LISTEN, NULL, "group of the socket file (a name or a number)" },
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin unix_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "unix",
	.version = PACKAGE_VERSION,
	.description = "Unix domain socket endpoints (unix:///path?mode=0660&group=NAME)",
	.kinds = BROKER_KIND_ENDPOINT,
	.options = unix_options,
	.init = unix_init,
	.schemes = unix_schemes,
	.url_params = unix_params,
	.listen = unix_listen,
	.unlisten = unix_unlisten,
	.describe = unix_describe,
	.connect = unix_connect,
	.connect_cancel = unix_connect_cancel,
};

BROKER_PLUGIN_DEFINE(unix_plugin, host)
