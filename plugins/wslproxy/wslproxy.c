/*
 * plugins/wslproxy/wslproxy.c - watcher plugin: Rancher Desktop's port
 * mapping socket.  Rancher Desktop's guest agent dials a unix socket
 * (/run/wsl-proxy.sock), writes one JSON PortMapping object and closes; this
 * plugin listens there in wsl-proxy's place and turns each object into
 * mappings added or removed, so the agent can point at brokerd unchanged.
 *
 * Each binding is reported under the owner "PROTO/HOSTPORT" ("tcp/8080"):
 * an add replaces what that port had (all bindings of the port in the object:
 * 0.0.0.0 and :: together), a remove drops the port whatever its HostIp, as
 * wsl-proxy keys its listeners by port.  The core persists the mappings, so
 * they outlive a restart of brokerd like those of the other watchers.
 *
 * Bounds: max_bytes per object (the connection is closed with a message past
 * it), max_conns connections at once (more are closed at accept, one warning
 * a second), timeout_ms from accept to a complete object.  Nothing is sent
 * back: the agent does not read a reply.
 *
 * Parsing is wp_parse.c's.  Linux only (a guest-side plugin).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/event.h>

#include "broker/plugin.h"
#include "plugins/wslproxy/wslproxy.h"

#define WP_BACKLOG 64
#define WP_ACCEPTS_PER_WAKE 64
#define WP_PAUSE_MS 100             /* accept failing (EMFILE...): retry after this */

static const struct broker_host *host;

struct wp_conn;

struct wp_state {
	struct broker_plugin_handle *h;
	struct event_base *base;
	/* options */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	mode_t mode;
	char upstream[INET6_ADDRSTRLEN];
	size_t max_bytes;
	size_t max_conns;
	long timeout_ms;
	/* listener */
	int lfd;
	struct event *lev;
	struct event *pause;
	dev_t dev;
	ino_t ino;
	/* clients */
	struct wp_conn *conns;
	size_t nconns;
	time_t full_logged;             /* last "too many connections" warning */
	unsigned long full_dropped;     /* closed since that warning */
};

struct wp_conn {
	struct wp_state *st;
	struct wp_conn *next, **pprev;
	int fd;
	struct event *ev;
	struct timespec deadline;
	char who[48];                   /* "pid 1234 uid 0" for messages */
	char *buf;
	size_t len, cap;
};

/* ------------------------------------------------------------- options */

static int read_options(struct broker_plugin_handle *h, struct wp_state *st, char *err, size_t errlen)
{
	const char *path = host->option_string(h, "socket");
	const char *mode = host->option_string(h, "mode");
	const char *up = host->option_string(h, "upstream");
	unsigned char a[16];
	char *end;
	long m;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(st->path)) {
		snprintf(err, errlen, "socket=%s: give an absolute path shorter than %zu bytes", path ? path : "",
		         sizeof(st->path));
		return -EINVAL;
	}
	m = strtol(mode ? mode : "", &end, 8);
	if (!mode || !*mode || *end || m < 0 || m > 0777) {
		snprintf(err, errlen, "mode=%s: give octal permission bits such as 0600 or 0660", mode ? mode : "");
		return -EINVAL;
	}
	if (!up || (inet_pton(AF_INET, up, a) != 1 && inet_pton(AF_INET6, up, a) != 1)) {
		snprintf(err, errlen, "upstream=%s: give an IP address such as %s (wsl-proxy's default)",
		         up ? up : "", WP_UPSTREAM_DEFAULT);
		return -EINVAL;
	}
	snprintf(st->path, sizeof(st->path), "%s", path);
	st->mode = (mode_t)m;
	snprintf(st->upstream, sizeof(st->upstream), "%s", up);
	st->max_bytes = (size_t)host->option_int(h, "max_bytes");
	st->max_conns = (size_t)host->option_int(h, "max_conns");
	st->timeout_ms = (long)host->option_int(h, "timeout_ms");
	return 0;
}

/* ------------------------------------------------------------- one object */

struct log_ctx {
	struct wp_state *st;
	const char *who;
};

static void parse_log(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	struct log_ctx *lc = arg;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	host->log(lc->st->h, level, "client %s: %s", lc->who, msg);
}

static void describe_connect(const struct portmap_binding *b, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < b->nconnect && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? "," : "", b->connect[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* Report r: each port's bindings as one owner, set or removed. */
static void apply(struct wp_state *st, const char *who, struct wp_request *r)
{
	struct portmap_binding *group = calloc(r->n ? r->n : 1, sizeof(*group));
	char *done = calloc(r->n ? r->n : 1, 1);
	char owner[32], desc[64], ips[256], conn[256];

	if (!group || !done) {
		host->log(st->h, BROKER_LOG_ERROR, "client %s: out of memory; nothing mapped", who);
		free(group);
		free(done);
		return;
	}
	if (r->n == 0)
		host->log(st->h, BROKER_LOG_INFO, "client %s: no usable bindings in the object; nothing to %s", who,
		          r->remove ? "remove" : "map");
	for (size_t i = 0; i < r->n; i++) {
		size_t k = 0, off = 0;

		if (done[i])
			continue;
		for (size_t j = i; j < r->n; j++) {
			if (done[j] || r->b[j].proto != r->b[i].proto || r->b[j].host_port != r->b[i].host_port)
				continue;
			done[j] = 1;
			/* the same HostIp twice: the last one wins, as a second listen would not happen */
			size_t x;
			for (x = 0; x < k && strcmp(group[x].host_ip, r->b[j].host_ip); x++)
				;
			group[x] = r->b[j];
			if (x == k)
				k++;
		}
		wp_owner(&group[0], owner, sizeof(owner));
		if (r->remove) {
			host->mapping_remove(st->h, owner);
			host->log(st->h, BROKER_LOG_INFO, "client %s: %s removed", who, owner);
			continue;
		}
		ips[0] = '\0';
		for (size_t x = 0; x < k && off < sizeof(ips); x++) {
			int w = snprintf(ips + off, sizeof(ips) - off, "%s%s", x ? "," : "", group[x].host_ip);
			if (w < 0)
				break;
			off += (size_t)w;
		}
		describe_connect(&group[0], conn, sizeof(conn));
		if (group[0].container_port)
			snprintf(desc, sizeof(desc), "wsl-proxy %u/%s", (unsigned)group[0].container_port,
			         group[0].proto == BROKER_PROTO_UDP ? "udp" : "tcp");
		else
			snprintf(desc, sizeof(desc), "wsl-proxy");
		if (portmap_report(host, st->h, owner, desc, group, k) < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "client %s: %s: out of memory; not mapped", who, owner);
			continue;
		}
		host->log(st->h, BROKER_LOG_INFO, "client %s: %s on %s -> %s", who, owner, ips, conn);
	}
	free(group);
	free(done);
}

/* ------------------------------------------------------------- connections */

static void conn_free(struct wp_conn *c)
{
	if (c->next)
		c->next->pprev = c->pprev;
	*c->pprev = c->next;
	c->st->nconns--;
	if (c->ev)
		event_free(c->ev);
	close(c->fd);
	free(c->buf);
	free(c);
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* 1: the object was complete and handled (or refused); 0: read more. */
static int try_parse(struct wp_conn *c, int at_eof)
{
	struct wp_state *st = c->st;
	struct log_ctx lc = { st, c->who };
	struct wp_request r;
	char err[256];
	int rc;

	rc = wp_parse(c->buf, c->len, st->upstream, &r, parse_log, &lc, err, sizeof(err));
	if (rc == -EAGAIN && !at_eof)
		return 0;
	if (rc == -EAGAIN) {
		host->log(st->h, BROKER_LOG_ERROR,
		          "client %s: connection closed after %zu bytes, before a complete JSON object; nothing mapped"
		          " (send one whole PortMapping object per connection)", c->who, c->len);
		return 1;
	}
	if (rc < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "client %s: bad PortMapping object: %s; nothing mapped or removed",
		          c->who, err);
		return 1;
	}
	apply(st, c->who, &r);
	wp_request_free(&r);
	return 1;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wp_conn *c = arg;
	struct wp_state *st = c->st;
	long left;

	if (what & EV_TIMEOUT) {
		host->log(st->h, BROKER_LOG_ERROR,
		          "client %s: no complete PortMapping object within %ld ms (%zu bytes); closed, nothing mapped"
		          " (raise timeout_ms for a slow client)", c->who, st->timeout_ms, c->len);
		conn_free(c);
		return;
	}
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n;

		/* Checked before growing: max_bytes may have shrunk on reload. */
		if (c->len > st->max_bytes) {
			host->log(st->h, BROKER_LOG_ERROR,
			          "client %s: object larger than max_bytes=%zu; closed, nothing mapped"
			          " (raise max_bytes if the agent really sends that much)", c->who, st->max_bytes);
			conn_free(c);
			return;
		}
		if (c->len == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 4096;
			char *nb;
			if (ncap > st->max_bytes + 1)
				ncap = st->max_bytes + 1;
			nb = realloc(c->buf, ncap);
			if (!nb) {
				host->log(st->h, BROKER_LOG_ERROR, "client %s: out of memory; closed, nothing mapped", c->who);
				conn_free(c);
				return;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		n = recv(fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "client %s: read: %s; nothing mapped", c->who, strerror(errno));
			conn_free(c);
			return;
		}
		if (n == 0) {
			try_parse(c, 1);
			conn_free(c);
			return;
		}
		/* Only a '}' can complete an object: parse again only then. */
		int closes = memchr(c->buf + c->len, '}', (size_t)n) != NULL;
		c->len += (size_t)n;
		if (closes && try_parse(c, 0)) {
			conn_free(c);
			return;
		}
	}
	left = ms_left(&c->deadline);
	struct timeval tv = { left > 0 ? left / 1000 : 0, left > 0 ? (left % 1000) * 1000 : 0 };
	event_add(c->ev, &tv);
}

static void note_full(struct wp_state *st)
{
	time_t now = time(NULL);

	st->full_dropped++;
	if (now == st->full_logged)
		return;
	host->log(st->h, BROKER_LOG_WARN,
	          "%lu connection(s) closed at accept: max_conns=%zu are already open (raise max_conns if the agent"
	          " needs more)", st->full_dropped, st->max_conns);
	st->full_logged = now;
	st->full_dropped = 0;
}

static void conn_new(struct wp_state *st, int fd)
{
	struct wp_conn *c = calloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	long ms = st->timeout_ms;

	if (!c) {
		close(fd);
		host->log(st->h, BROKER_LOG_ERROR, "out of memory for a client; closed");
		return;
	}
	c->st = st;
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		snprintf(c->who, sizeof(c->who), "pid %ld uid %ld", (long)cred.pid, (long)cred.uid);
	else
		snprintf(c->who, sizeof(c->who), "(credentials unknown)");
	c->ev = event_new(st->base, fd, EV_READ, conn_cb, c);
	if (!c->ev) {
		close(fd);
		free(c);
		host->log(st->h, BROKER_LOG_ERROR, "out of memory for a client; closed");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += ms / 1000;
	c->deadline.tv_nsec += (ms % 1000) * 1000000;
	if (c->deadline.tv_nsec >= 1000000000) {
		c->deadline.tv_sec++;
		c->deadline.tv_nsec -= 1000000000;
	}
	c->next = st->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &st->conns;
	st->conns = c;
	st->nconns++;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(c->ev, &tv);
	host->log(st->h, BROKER_LOG_DEBUG, "client %s connected", c->who);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wp_state *st = arg;

	(void)fd;
	(void)what;
	if (st->lev)
		event_add(st->lev, NULL);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct wp_state *st = arg;

	(void)what;
	for (int i = 0; i < WP_ACCEPTS_PER_WAKE; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
				return;
			/* EMFILE and friends leave the socket readable: stay off the loop a while. */
			host->log(st->h, BROKER_LOG_WARN, "accept on %s: %s; retrying in %d ms", st->path,
			          strerror(errno), WP_PAUSE_MS);
			event_del(st->lev);
			struct timeval tv = { 0, WP_PAUSE_MS * 1000 };
			event_add(st->pause, &tv);
			return;
		}
		if (st->nconns >= st->max_conns) {
			close(fd);
			note_full(st);
			continue;
		}
		conn_new(st, fd);
	}
}

/* ------------------------------------------------------------- listener */

/* Nothing but a stale socket may stand at the path; remove that. */
static int clear_path(struct wp_state *st, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat sb;
	int fd, r, e;

	if (lstat(st->path, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot check %s: %s", st->path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another socket=", st->path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	if (r == 0) {
		snprintf(err, errlen,
		         "%s is live (another process listens there, wsl-proxy perhaps); stop it or choose another socket=",
		         st->path);
		return -EADDRINUSE;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		snprintf(err, errlen, "cannot tell whether %s is in use: %s", st->path, strerror(e));
		return -e;
	}
	if (unlink(st->path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s", st->path, strerror(errno));
		return -errno;
	}
	host->log(st->h, BROKER_LOG_INFO, "removed stale socket %s", st->path);
	return 0;
}

static int listen_start(struct wp_state *st, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	mode_t old;
	int fd, r;

	memcpy(sun.sun_path, st->path, strlen(st->path) + 1);
	if ((r = clear_path(st, &sun, err, errlen)) < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	/* Owner-only until the mode is set: nobody can connect before listen() anyway. */
	old = umask(0177);
	r = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot bind %s: %s (does its directory exist and is it writable?)", st->path,
		         strerror(errno));
		close(fd);
		return r;
	}
	if (chmod(st->path, st->mode) < 0 || listen(fd, WP_BACKLOG) < 0 || stat(st->path, &sb) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot set up %s: %s", st->path, strerror(errno));
		unlink(st->path);
		close(fd);
		return r;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->lfd = fd;
	st->lev = event_new(st->base, fd, EV_READ | EV_PERSIST, accept_cb, st);
	st->pause = evtimer_new(st->base, resume_cb, st);
	if (!st->lev || !st->pause || event_add(st->lev, NULL) < 0) {
		snprintf(err, errlen, "out of memory for the listener event");
		return -ENOMEM;     /* listen_stop cleans up */
	}
	host->log(st->h, BROKER_LOG_INFO,
	          "listening for Rancher Desktop port mappings on %s (mode %04o); unmatched bindings connect to %s",
	          st->path, (unsigned)st->mode, st->upstream);
	return 0;
}

static void listen_stop(struct wp_state *st)
{
	struct stat sb;

	while (st->conns)
		conn_free(st->conns);
	if (st->lev)
		event_free(st->lev);
	if (st->pause)
		event_free(st->pause);
	st->lev = st->pause = NULL;
	if (st->lfd >= 0) {
		/* Remove the file only if it is still ours (not replaced meanwhile). */
		if (stat(st->path, &sb) == 0 && sb.st_dev == st->dev && sb.st_ino == st->ino)
			unlink(st->path);
		close(st->lfd);
	}
	st->lfd = -1;
}

/* ------------------------------------------------------------- lifecycle */

static int wp_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct wp_state *st = calloc(1, sizeof(*st));
	int r;

	if (!st)
		return -ENOMEM;
	st->h = h;
	st->lfd = -1;
	if ((r = read_options(h, st, err, errlen)) < 0) {
		free(st);
		return r;
	}
	*state = st;
	return 0;
}

static int wp_start(void *state, char *err, size_t errlen)
{
	struct wp_state *st = state;
	int r;

	st->base = host->event_base(st->h);
	if ((r = listen_start(st, err, errlen)) < 0)
		listen_stop(st);
	return r;
}

static int wp_reload(void *state, char *err, size_t errlen)
{
	struct wp_state *st = state;
	struct wp_state fresh = { .h = st->h };
	int r;

	if ((r = read_options(st->h, &fresh, err, errlen)) < 0)
		return r;
	st->max_bytes = fresh.max_bytes;
	st->max_conns = fresh.max_conns;
	st->timeout_ms = fresh.timeout_ms;
	memcpy(st->upstream, fresh.upstream, sizeof(st->upstream));
	if (!strcmp(st->path, fresh.path) && st->mode == fresh.mode)
		return 0;
	listen_stop(st);
	memcpy(st->path, fresh.path, sizeof(st->path));
	st->mode = fresh.mode;
	if ((r = listen_start(st, err, errlen)) < 0)
		listen_stop(st);
	return r;
}

static void wp_stop(void *state)
{
	listen_stop(state);
}

static void wp_fini(void *state)
{
	free(state);
}

static const struct broker_option wp_options[] = {
	{ BROKER_OPT_PATH, "socket", "/run/wsl-proxy.sock",
	  "the unix socket Rancher Desktop's guest agent sends PortMapping objects to", 0, 0 },
	{ BROKER_OPT_STRING, "mode", "0600", "permission bits of the socket file, octal", 0, 0 },
	{ BROKER_OPT_STRING, "upstream", WP_UPSTREAM_DEFAULT,
	  "where a binding connects (upstream:HostPort) when connectAddrs has no address for its protocol", 0, 0 },
	{ BROKER_OPT_INT, "max_bytes", "65536", "largest object accepted, in bytes", 64, 16777216 },
	{ BROKER_OPT_INT, "max_conns", "16", "connections open at once; more are closed at accept", 1, 4096 },
	{ BROKER_OPT_INT, "timeout_ms", "5000", "time a client has from connect to a complete object", 100,
	  600000 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin wp_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "wslproxy",
	.version = "1.0",
	.description = "Rancher Desktop's port-mapping socket (/run/wsl-proxy.sock): PortMapping objects to mappings",
	.kinds = BROKER_KIND_WATCHER,
	.options = wp_options,
	.init = wp_init,
	.start = wp_start,
	.reload = wp_reload,
	.stop = wp_stop,
	.fini = wp_fini,
};

BROKER_PLUGIN_DEFINE(wp_plugin, host)
