/*
 * tests/unit/test_endpoints.c - drive the tcp and unix endpoint plugins
 * directly through dlopen and a fake host table; prints TAP.
 *
 * Plugin paths: argv[1] (tcp) and argv[2] (unix), or $TCP_PLUGIN /
 * $UNIX_PLUGIN, or $top_builddir/plugins/{tcp,unix}/.libs/{tcp,unix}.so.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker/plugin.h"

/* ------------------------------------------------------------- fake core */

struct broker_plugin_handle {
	const struct broker_plugin *p;
	struct event_base *base;
};

#define MAXACC 16
struct broker_accept_sink {
	int n;
	int fds[MAXACC];
	char peer[MAXACC][128];
	uint32_t flags;
};

struct broker_connect_req {
	int calls;       /* connected + connect_failed calls */
	int ok;
	int fd;
	int error;
	char reason[512];
	char peer[256];
};

struct broker_timer {
	struct event *ev;
	broker_timer_fn fn;
	void *arg;
};

struct tap {
	int n, failed, skipped;
};

static struct tap T;
static int warn_lines;   /* WARN-or-worse log lines seen */

static void ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	T.n++;
	if (!cond)
		T.failed++;
	printf("%sok %d - ", cond ? "" : "not ", T.n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void skip(const char *what, const char *why)
{
	T.n++;
	T.skipped++;
	printf("ok %d - %s # SKIP %s\n", T.n, what, why);
	fflush(stdout);
}

static void f_vlog(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt,
                   va_list ap)
{
	if (level <= BROKER_LOG_WARN)
		warn_lines++;
	fprintf(stderr, "# [%s] L%d: ", h->p->name, (int)level);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

static void f_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void f_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	f_vlog(h, level, fmt, ap);
	va_end(ap);
}

static struct event_base *f_event_base(struct broker_plugin_handle *h)
{
	return h->base;
}

static const struct broker_option *find_opt(struct broker_plugin_handle *h, const char *name)
{
	const struct broker_option *o;

	for (o = h->p->options; o && o->type != BROKER_OPT_END; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static const char *f_option_string(struct broker_plugin_handle *h, const char *name)
{
	const struct broker_option *o = find_opt(h, name);

	return o ? o->default_value : NULL;
}

static long long f_option_int(struct broker_plugin_handle *h, const char *name)
{
	const char *s = f_option_string(h, name);

	return s ? strtoll(s, NULL, 0) : 0;
}

static int f_option_bool(struct broker_plugin_handle *h, const char *name)
{
	const char *s = f_option_string(h, name);

	return s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static const char *f_url_param(const struct broker_url *url, const char *key)
{
	size_t i;

	for (i = 0; i < url->nparams; i++)
		if (strcmp(url->params[i].key, key) == 0)
			return url->params[i].value;
	return NULL;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

static struct broker_timer *f_timer_new(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg)
{
	struct broker_timer *t = calloc(1, sizeof(*t));

	t->fn = fn;
	t->arg = arg;
	t->ev = evtimer_new(h->base, timer_cb, t);
	return t;
}

static int f_timer_arm(struct broker_timer *t, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		return evtimer_del(t->ev);
	return evtimer_add(t->ev, &tv);
}

static void f_timer_free(struct broker_timer *t)
{
	event_free(t->ev);
	free(t);
}

static int f_post(struct broker_plugin_handle *h, broker_post_fn fn, void *arg)
{
	(void)h;
	(void)fn;
	(void)arg;
	return -ENOSYS;
}

static void f_accepted(struct broker_accept_sink *sink, const struct broker_stream_desc *desc)
{
	if (sink->n >= MAXACC) {
		close(desc->rfd);
		return;
	}
	sink->fds[sink->n] = desc->rfd;
	snprintf(sink->peer[sink->n], sizeof(sink->peer[0]), "%s", desc->peer ? desc->peer : "");
	sink->flags = desc->flags;
	sink->n++;
}

static void f_connected(struct broker_connect_req *req, const struct broker_stream_desc *desc)
{
	req->calls++;
	req->ok = 1;
	req->fd = desc->rfd;
	snprintf(req->peer, sizeof(req->peer), "%s", desc->peer ? desc->peer : "");
}

static void f_connect_failed(struct broker_connect_req *req, int error, const char *reason)
{
	req->calls++;
	req->ok = 0;
	req->error = error;
	snprintf(req->reason, sizeof(req->reason), "%s", reason ? reason : "");
}

static const struct broker_host fake_host = {
	.struct_size = sizeof(struct broker_host),
	.abi_major = BROKER_ABI_MAJOR,
	.abi_minor = BROKER_ABI_MINOR,
	.log = f_log,
	.vlog = f_vlog,
	.event_base = f_event_base,
	.option_string = f_option_string,
	.option_int = f_option_int,
	.option_bool = f_option_bool,
	.url_param = f_url_param,
	.timer_new = f_timer_new,
	.timer_arm = f_timer_arm,
	.timer_free = f_timer_free,
	.post = f_post,
	.accepted = f_accepted,
	.connected = f_connected,
	.connect_failed = f_connect_failed,
};

/* ------------------------------------------------------------- helpers */

struct loaded {
	void *dl;
	const struct broker_plugin *p;
	struct broker_plugin_handle h;
	void *state;
};

static int load(const char *path, struct event_base *base, struct loaded *L)
{
	broker_plugin_entry_fn entry;
	char err[256] = "";

	memset(L, 0, sizeof(*L));
	L->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!L->dl) {
		fprintf(stderr, "# dlopen %s: %s\n", path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(L->dl, BROKER_PLUGIN_ENTRY);
	if (!entry)
		return -1;
	L->p = entry(&fake_host);
	L->h.p = L->p;
	L->h.base = base;
	if (L->p->init && L->p->init(&L->h, &L->state, err, sizeof(err)) < 0) {
		fprintf(stderr, "# init: %s\n", err);
		return -1;
	}
	if (L->p->start && L->p->start(L->state, err, sizeof(err)) < 0) {
		fprintf(stderr, "# start: %s\n", err);
		return -1;
	}
	return 0;
}

static void unload(struct loaded *L)
{
	if (L->p && L->p->stop)
		L->p->stop(L->state);
	if (L->p && L->p->fini)
		L->p->fini(L->state);
	if (L->dl)
		dlclose(L->dl);
}

static void url_set(struct broker_url *u, const char *scheme, const char *address,
                    const struct broker_url_param *params, size_t nparams)
{
	memset(u, 0, sizeof(*u));
	u->text = address;
	u->scheme = scheme;
	u->address = address;
	u->params = params;
	u->nparams = nparams;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static long long now_ms(void)
{
	struct timeval tv;

	evutil_gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Run the loop until *flag >= want or ms pass.  A 5 ms tick keeps it waking. */
static int run_until(struct event_base *base, const int *flag, int want, int ms)
{
	long long end = now_ms() + ms;

	while (*flag < want && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return *flag >= want;
}

/* Loop iterations in ms: ~ms/5 when idle, far more if something spins. */
static int count_iterations(struct event_base *base, int ms)
{
	long long end = now_ms() + ms;
	int n = 0;

	while (now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
		n++;
	}
	return n;
}

static void run_for(struct event_base *base, int ms)
{
	int never = 0;

	run_until(base, &never, 1, ms);
}

/* Write msg on a, read it back on b. */
static int pass_bytes(int a, int b, const char *msg)
{
	char buf[64];
	size_t len = strlen(msg);
	struct pollfd pfd = { .fd = b, .events = POLLIN };
	ssize_t n;

	if (write(a, msg, len) != (ssize_t)len)
		return 0;
	if (poll(&pfd, 1, 2000) != 1)
		return 0;
	n = read(b, buf, sizeof(buf));
	return n == (ssize_t)len && memcmp(buf, msg, len) == 0;
}

static int has_nodelay(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l) == 0 && v;
}

static void close_sink(struct broker_accept_sink *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		close(s->fds[i]);
	memset(s, 0, sizeof(*s));
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound then closed). */
static int closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t l = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &l);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* ------------------------------------------------------------- tcp */

/* Listen on addr, connect to the described address, pass bytes both ways. */
static void tcp_roundtrip(struct loaded *L, struct event_base *base, const char *addr,
                          const char *want_prefix)
{
	struct broker_url u;
	struct broker_accept_sink sink = { 0 };
	struct broker_connect_req req = { .fd = -1 };
	void *lis = NULL, *pend = NULL;
	char err[256] = "", desc[128] = "";
	int r;

	url_set(&u, "tcp", addr, NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
	ok(r == 0, "tcp listen %s (%s)", addr, r ? err : "ok");
	if (r < 0)
		return;
	r = L->p->describe(L->state, lis, desc, sizeof(desc));
	ok(r == 0 && strncmp(desc, want_prefix, strlen(want_prefix)) == 0 &&
	   strcmp(desc + strlen(want_prefix), "0") != 0 && atoi(desc + strlen(want_prefix)) > 0,
	   "describe reports the real port: %s", desc);

	url_set(&u, "tcp", desc + strlen("tcp://"), NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect %s starts without reporting from inside connect", desc);
	run_until(base, &req.calls, 1, 3000);
	run_until(base, &sink.n, 1, 3000);
	ok(req.calls == 1 && req.ok && req.fd >= 0, "connected reported once (peer %s)", req.peer);
	ok(sink.n == 1 && strncmp(sink.peer[0], "tcp:", 4) == 0 && sink.flags == BROKER_STREAM_SOCKET,
	   "accept delivered, peer \"%s\"", sink.n ? sink.peer[0] : "");
	if (req.ok && sink.n == 1) {
		ok(has_nodelay(req.fd) && has_nodelay(sink.fds[0]), "TCP_NODELAY on both ends");
		ok(pass_bytes(req.fd, sink.fds[0], "hello") && pass_bytes(sink.fds[0], req.fd, "world"),
		   "bytes pass both ways");
	}
	run_for(base, 50);
	ok(req.calls == 1, "no second report");
	if (req.fd >= 0)
		close(req.fd);
	close_sink(&sink);
	L->p->unlisten(L->state, lis);
}

static void test_tcp(struct loaded *L, struct event_base *base)
{
	struct broker_url u;
	struct broker_url_param prm;
	struct broker_accept_sink sink = { 0 };
	struct broker_connect_req req = { .fd = -1 };
	void *lis = NULL, *lis2 = NULL, *pend = NULL;
	char err[256] = "", addr[64], desc[128];
	int r, port;

	tcp_roundtrip(L, base, ":0", "tcp://127.0.0.1:");

	/* IPv6 loopback, if this machine has it. */
	{
		int fd = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		int have6 = fd >= 0 && bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;

		if (fd >= 0)
			close(fd);
		if (have6)
			tcp_roundtrip(L, base, "[::1]:0", "tcp://[::1]:");
		else
			skip("tcp IPv6 [::1] listen/connect", "::1 is not available here");
	}

	/* Connection refused. */
	port = closed_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	url_set(&u, "tcp", addr, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect to closed port defers its result");
	run_until(base, &req.calls, 1, 3000);
	ok(req.calls == 1 && !req.ok && req.error == -ECONNREFUSED && strstr(req.reason, addr),
	   "closed port -> connect_failed ECONNREFUSED: calls %d ok %d error %d \"%s\"", req.calls,
	   req.ok, req.error, req.reason);

	/* Host name: goes through the resolver, tries every address in order. */
	url_set(&u, "tcp", ":0", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
	ok(r == 0 && L->p->describe(L->state, lis, desc, sizeof(desc)) == 0, "listen for name test");
	snprintf(addr, sizeof(addr), "localhost:%s", strrchr(desc, ':') + 1);
	memset(&req, 0, sizeof(req));
	url_set(&u, "tcp", addr, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect %s defers its result (%s)", addr, err);
	run_until(base, &req.calls, 1, 5000);
	ok(req.calls == 1 && req.ok, "connect by name %s: %s", addr, req.ok ? req.peer : req.reason);
	if (req.ok)
		close(req.fd);

	/* Cancel: the plugin must never report after connect_cancel. */
	memset(&req, 0, sizeof(req));
	url_set(&u, "tcp", desc + strlen("tcp://"), NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	L->p->connect_cancel(L->state, pend);
	run_for(base, 200);
	ok(r == 0 && req.calls == 0, "connect_cancel: no report afterwards");
	memset(&req, 0, sizeof(req));
	url_set(&u, "tcp", "localhost:1", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	if (r == 0)
		L->p->connect_cancel(L->state, pend);
	run_for(base, 200);
	ok(r == 0 && req.calls == 0, "connect_cancel of a name lookup: no report afterwards");

	/* Same port twice. */
	url_set(&u, "tcp", desc + strlen("tcp://"), NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EADDRINUSE && strstr(err, "already in use") && strstr(err, desc + 6),
	   "second listen on %s: \"%s\"", desc + 6, err);
	close_sink(&sink);
	L->p->unlisten(L->state, lis);

	/* Privileged port. */
	if (geteuid() != 0) {
		url_set(&u, "tcp", "127.0.0.1:1", NULL, 0);
		r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
		ok(r == -EACCES && strstr(err, "CAP_NET_BIND_SERVICE"), "port 1 as non-root: \"%s\"", err);
		if (r == 0)
			L->p->unlisten(L->state, lis2);
	} else {
		skip("privileged port refused", "running as root");
	}

	/* Address not on this machine (TEST-NET-1, never assigned locally). */
	url_set(&u, "tcp", "192.0.2.1:0", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EADDRNOTAVAIL && strstr(err, "not available"), "foreign address: \"%s\"", err);
	if (r == 0)
		L->p->unlisten(L->state, lis2);

	/* Bad addresses and parameters. */
	url_set(&u, "tcp", "127.0.0.1", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "port"), "missing port: \"%s\"", err);
	url_set(&u, "tcp", "::1:80", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "brackets"), "unbracketed IPv6: \"%s\"", err);
	url_set(&u, "tcp", "127.0.0.1:70000", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == -EINVAL, "port 70000 refused right away: \"%s\"", err);
	prm.key = "backlog";
	prm.value = "lots";
	url_set(&u, "tcp", ":0", &prm, 1);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "backlog"), "?backlog=lots: \"%s\"", err);
	prm.value = "16";
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == 0, "?backlog=16 accepted");
	if (r == 0)
		L->p->unlisten(L->state, lis2);
}

/*
 * Out of descriptors: accept fails with EMFILE while a connection waits.
 * The plugin must pause accepting (not spin), log once, and recover.
 */
static void test_accept_pause(struct loaded *L, struct event_base *base)
{
	struct broker_url u;
	struct broker_accept_sink sink = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit old, lim;
	void *lis = NULL;
	char err[256] = "", desc[128] = "";
	int dups[256], ndup = 0, client, iters, warns, i;

	url_set(&u, "tcp", ":0", NULL, 0);
	if (L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err)) < 0 ||
	    L->p->describe(L->state, lis, desc, sizeof(desc)) < 0) {
		ok(0, "listen for EMFILE test: %s", err);
		return;
	}
	client = socket(AF_INET, SOCK_STREAM, 0);
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = 64;
	if (client < 0 || setrlimit(RLIMIT_NOFILE, &lim) < 0) {
		skip("accept pauses on EMFILE", "cannot lower RLIMIT_NOFILE");
		goto out;
	}
	while (ndup < 256 && (dups[ndup] = dup(0)) >= 0)
		ndup++;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)atoi(strrchr(desc, ':') + 1));
	warns = warn_lines;
	if (connect(client, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		ok(0, "connect for EMFILE test: %s", strerror(errno));
	} else {
		iters = count_iterations(base, 300);
		ok(iters < 200 && sink.n == 0, "EMFILE: loop stays idle (%d iterations in 300 ms)", iters);
		ok(warn_lines - warns == 1, "EMFILE: logged once per burst (%d lines)", warn_lines - warns);
	}
	for (i = 0; i < ndup; i++)
		close(dups[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	run_until(base, &sink.n, 1, 2000);
	ok(sink.n == 1, "accepting resumes once descriptors are free");
out:
	if (client >= 0)
		close(client);
	close_sink(&sink);
	L->p->unlisten(L->state, lis);
}

/* ------------------------------------------------------------- unix */

static void make_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);    /* leaves the file behind with nobody listening */
}

static void test_unix(struct loaded *L, struct event_base *base, const char *dir)
{
	struct broker_url u;
	struct broker_url_param prm[2];
	struct broker_accept_sink sink = { 0 };
	struct broker_connect_req req = { .fd = -1 };
	void *lis = NULL, *lis2 = NULL, *pend = NULL;
	char err[256] = "", path[256], other[256], desc[300], longp[200];
	struct stat sb;
	int r, fd;

	snprintf(path, sizeof(path), "%s/a.sock", dir);
	prm[0].key = "mode";
	prm[0].value = "0640";
	url_set(&u, "unix", path, prm, 1);
	r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
	ok(r == 0, "unix listen %s?mode=0640 (%s)", path, r ? err : "ok");
	if (r < 0)
		return;
	memset(&sb, 0, sizeof(sb));
	r = stat(path, &sb);
	ok(r == 0 && S_ISSOCK(sb.st_mode) && (sb.st_mode & 07777) == 0640,
	   "socket file has mode 0640 (got %04o)", (unsigned)(sb.st_mode & 07777));
	ok(L->p->describe(L->state, lis, desc, sizeof(desc)) == 0 && strncmp(desc, "unix://", 7) == 0 &&
	   strcmp(desc + 7, path) == 0, "describe: %s", desc);

	url_set(&u, "unix", path, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "unix connect defers its result even when it succeeds at once");
	run_until(base, &req.calls, 1, 3000);
	run_until(base, &sink.n, 1, 3000);
	ok(req.calls == 1 && req.ok, "connected (%s)", req.ok ? req.peer : req.reason);
	ok(sink.n == 1 && strncmp(sink.peer[0], "unix:uid=", 9) == 0 && strstr(sink.peer[0], "pid="),
	   "accept delivered, peer \"%s\"", sink.n ? sink.peer[0] : "");
	if (req.ok && sink.n == 1)
		ok(pass_bytes(req.fd, sink.fds[0], "ping") && pass_bytes(sink.fds[0], req.fd, "pong"),
		   "bytes pass both ways");
	if (req.ok)
		close(req.fd);
	close_sink(&sink);

	/* Live socket is not stolen. */
	url_set(&u, "unix", path, NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r < 0 && strstr(err, "live") && strstr(err, path), "live socket refused: \"%s\"", err);

	/* Cancel. */
	memset(&req, 0, sizeof(req));
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	L->p->connect_cancel(L->state, pend);
	run_for(base, 100);
	ok(r == 0 && req.calls == 0, "unix connect_cancel: no report afterwards");
	close_sink(&sink);

	L->p->unlisten(L->state, lis);
	ok(access(path, F_OK) < 0 && errno == ENOENT, "unlisten removed the socket file");

	/* Stale socket is replaced; default mode is 0600. */
	make_stale(path);
	memset(&req, 0, sizeof(req));
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	run_until(base, &req.calls, 1, 3000);
	ok(req.calls == 1 && req.error == -ECONNREFUSED && strstr(req.reason, "nothing listens") &&
	   strstr(req.reason, path), "connect to stale socket: \"%s\"", req.reason);
	r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
	ok(r == 0, "stale socket replaced (%s)", r ? err : "ok");
	memset(&sb, 0, sizeof(sb));
	stat(path, &sb);
	ok((sb.st_mode & 07777) == 0600, "default mode 0600 (got %04o)",
	   (unsigned)(sb.st_mode & 07777));
	if (r == 0) {
		/* Someone replaced the file: unlisten must not remove theirs. */
		unlink(path);
		make_stale(path);
		L->p->unlisten(L->state, lis);
		ok(access(path, F_OK) == 0, "unlisten leaves a file that is no longer ours");
		unlink(path);
	}

	/* Not a socket. */
	snprintf(other, sizeof(other), "%s/plain", dir);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	close(fd);
	url_set(&u, "unix", other, NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r < 0 && strstr(err, "not a socket") && access(other, F_OK) == 0,
	   "regular file refused and kept: \"%s\"", err);

	/* Unknown group, bad mode. */
	prm[0].key = "group";
	prm[0].value = "no-such-group-xyz";
	url_set(&u, "unix", path, prm, 1);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r < 0 && strstr(err, "no-such-group-xyz"), "unknown group: \"%s\"", err);
	prm[0].key = "mode";
	prm[0].value = "0999";
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "mode"), "bad mode: \"%s\"", err);

	/* Group that exists (our own), mode 0660. */
	{
		char gid[32];

		snprintf(gid, sizeof(gid), "%u", (unsigned)getegid());
		prm[0].key = "group";
		prm[0].value = gid;
		prm[1].key = "mode";
		prm[1].value = "0660";
		url_set(&u, "unix", path, prm, 2);
		r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
		memset(&sb, 0, sizeof(sb));
		stat(path, &sb);
		ok(r == 0 && sb.st_gid == getegid() && (sb.st_mode & 07777) == 0660,
		   "group=%s mode=0660 (got %04o; %s)", gid, (unsigned)(sb.st_mode & 07777),
		   r ? err : "ok");
		if (r == 0)
			L->p->unlisten(L->state, lis2);
	}

	/* Connect errors name the path. */
	snprintf(other, sizeof(other), "%s/missing.sock", dir);
	url_set(&u, "unix", other, NULL, 0);
	memset(&req, 0, sizeof(req));
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect to missing path defers its result");
	run_until(base, &req.calls, 1, 3000);
	ok(req.calls == 1 && req.error == -ENOENT && strstr(req.reason, other),
	   "missing path: \"%s\"", req.reason);

	/* Address checks. */
	url_set(&u, "unix", "relative.sock", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "absolute"), "relative path: \"%s\"", err);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	url_set(&u, "unix", longp, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == -ENAMETOOLONG && strstr(err, "too long"), "long path: \"%s\"", err);

#ifdef __linux__
	{
		char name[64];

		snprintf(name, sizeof(name), "@broker-test-%d", (int)getpid());
		url_set(&u, "unix", name, NULL, 0);
		r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
		ok(r == 0, "abstract listen %s (%s)", name, r ? err : "ok");
		if (r == 0) {
			memset(&req, 0, sizeof(req));
			r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
			run_until(base, &req.calls, 1, 3000);
			run_until(base, &sink.n, 1, 3000);
			ok(req.ok && sink.n == 1, "abstract connect + accept");
			if (req.ok)
				close(req.fd);
			close_sink(&sink);
			L->p->unlisten(L->state, lis);
		}
	}
#endif
}

/* ------------------------------------------------------------- main */

static const char *plugin_path(int argc, char **argv, int i, const char *env, const char *name,
                               char *buf, size_t len)
{
	const char *top = getenv("top_builddir");

	if (argc > i)
		return argv[i];
	if (getenv(env))
		return getenv(env);
	snprintf(buf, len, "%s/plugins/%s/.libs/%s.so", top ? top : ".", name, name);
	return buf;
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct event *tk;
	struct timeval tv = { 0, 5000 };
	struct loaded L;
	char b1[1024], b2[1024], dir[] = "/tmp/broker-test-endpoints-XXXXXX";
	const char *tcp = plugin_path(argc, argv, 1, "TCP_PLUGIN", "tcp", b1, sizeof(b1));
	const char *unx = plugin_path(argc, argv, 2, "UNIX_PLUGIN", "unix", b2, sizeof(b2));

	base = event_base_new();
	tk = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(tk, &tv);

	if (load(tcp, base, &L) == 0) {
		ok(1, "load %s", tcp);
		test_tcp(&L, base);
		test_accept_pause(&L, base);
	} else {
		ok(0, "load %s", tcp);
	}
	unload(&L);

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
	} else if (load(unx, base, &L) == 0) {
		ok(1, "load %s", unx);
		test_unix(&L, base, dir);
	} else {
		ok(0, "load %s", unx);
	}
	unload(&L);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", dir);
	}

	event_free(tk);
	event_base_free(base);
	printf("1..%d\n", T.n);
	return T.failed ? 1 : 0;
}
