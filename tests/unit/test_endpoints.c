/*
 * tests/unit/test_endpoints.c - drive the tcp and unix endpoint plugins
 * directly through dlopen and the fake host (fake_host.h); prints TAP.
 *
 * Plugin paths: argv[1] (tcp) and argv[2] (unix), or $TCP_PLUGIN /
 * $UNIX_PLUGIN, or $top_builddir/plugins/{tcp,unix}/.libs/{tcp,unix}.so.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "tests/unit/fake_host.h"
#include "tests/unit/test_platform.h"
#include "tests/unit/tap.h"

/* Loop iterations in ms: ~ms/5 when idle (the fake host's 5 ms tick), far more if something spins. */
static int count_iterations(struct event_base *base, int ms)
{
	long long end = fh_now_ms() + ms;
	int n = 0;

	while (fh_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
		n++;
	}
	return n;
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
static void tcp_roundtrip(struct fh_plugin *L, struct event_base *base, const char *addr,
                          const char *want_prefix)
{
	struct broker_url u;
	struct broker_accept_sink sink = { 0 };
	struct broker_connect_req req = { .rfd = -1 };
	void *lis = NULL, *pend = NULL;
	char err[256] = "", desc[128] = "";
	int r;

	fh_url(&u, "tcp", addr, NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
	ok(r == 0, "tcp listen %s (%s)", addr, r ? err : "ok");
	if (r < 0)
		return;
	r = L->p->describe(L->state, lis, desc, sizeof(desc));
	ok(r == 0 && strncmp(desc, want_prefix, strlen(want_prefix)) == 0 &&
	   strcmp(desc + strlen(want_prefix), "0") != 0 && atoi(desc + strlen(want_prefix)) > 0,
	   "describe reports the real port: %s", desc);

	fh_url(&u, "tcp", desc + strlen("tcp://"), NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect %s starts without reporting from inside connect", desc);
	fh_wait_int(base, &req.calls, 1, 3000);
	fh_wait_int(base, &sink.n, 1, 3000);
	ok(req.calls == 1 && req.ok && req.rfd >= 0, "connected reported once (peer %s)", req.peer);
	ok(sink.n == 1 && strncmp(sink.peer[0], "tcp:", 4) == 0 && sink.flags == BROKER_STREAM_SOCKET,
	   "accept delivered, peer \"%s\"", sink.n ? sink.peer[0] : "");
	if (req.ok && sink.n == 1) {
		ok(has_nodelay(req.rfd) && has_nodelay(sink.fds[0]), "TCP_NODELAY on both ends");
		ok(pass_bytes(req.rfd, sink.fds[0], "hello") && pass_bytes(sink.fds[0], req.rfd, "world"),
		   "bytes pass both ways");
	}
	fh_run_for(base, 50);
	ok(req.calls == 1, "no second report");
	if (req.rfd >= 0)
		close(req.rfd);
	fh_sink_close(&sink);
	L->p->unlisten(L->state, lis);
}

/* listen on tcp://127.0.0.1:1 through the plugin; run as an ordinary user
 * (tp_run_as: arg is the parent's, out the child's answer to copy back). */
struct priv_try {
	struct fh_plugin *L;
	int r;
	char err[256];
};

static void try_privileged(void *arg, void *out, size_t len)
{
	struct priv_try *pt = arg, *res = out;
	struct broker_accept_sink sink = { 0 };
	struct broker_url u;
	void *lis = NULL;

	(void)len;
	fh_url(&u, "tcp", "127.0.0.1:1", NULL, 0);
	res->r = pt->L->p->listen(pt->L->state, &u, &sink, &lis, res->err, sizeof(res->err));
	if (res->r == 0)
		pt->L->p->unlisten(pt->L->state, lis);
}

static void test_tcp(struct fh_plugin *L, struct event_base *base)
{
	struct broker_url u;
	struct broker_url_param prm;
	struct broker_accept_sink sink = { 0 };
	struct broker_connect_req req = { .rfd = -1 };
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
			skip(1, "tcp IPv6 [::1] listen/connect: ::1 is not available here");
	}

	/* Connection refused. */
	port = closed_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	fh_url(&u, "tcp", addr, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect to closed port defers its result");
	fh_wait_int(base, &req.calls, 1, 3000);
	ok(req.calls == 1 && !req.ok && req.error == -ECONNREFUSED && strstr(req.reason, addr),
	   "closed port -> connect_failed ECONNREFUSED: calls %d ok %d error %d \"%s\"", req.calls,
	   req.ok, req.error, req.reason);

	/* Host name: goes through the resolver, tries every address in order. */
	fh_url(&u, "tcp", ":0", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
	ok(r == 0 && L->p->describe(L->state, lis, desc, sizeof(desc)) == 0, "listen for name test");
	snprintf(addr, sizeof(addr), "localhost:%s", strrchr(desc, ':') + 1);
	memset(&req, 0, sizeof(req));
	fh_url(&u, "tcp", addr, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect %s defers its result (%s)", addr, err);
	fh_wait_int(base, &req.calls, 1, 5000);
	ok(req.calls == 1 && req.ok, "connect by name %s: %s", addr, req.ok ? req.peer : req.reason);
	if (req.ok)
		close(req.rfd);

	/* Cancel: the plugin must never report after connect_cancel. */
	memset(&req, 0, sizeof(req));
	fh_url(&u, "tcp", desc + strlen("tcp://"), NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	L->p->connect_cancel(L->state, pend);
	fh_run_for(base, 200);
	ok(r == 0 && req.calls == 0, "connect_cancel: no report afterwards");
	memset(&req, 0, sizeof(req));
	fh_url(&u, "tcp", "localhost:1", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	if (r == 0)
		L->p->connect_cancel(L->state, pend);
	fh_run_for(base, 200);
	ok(r == 0 && req.calls == 0, "connect_cancel of a name lookup: no report afterwards");

	/* A listener takes an address: no name lookup that could block the loop
	 * (an unresolvable name would wait for the resolver's timeouts). */
	fh_url(&u, "tcp", "name.invalid:0", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "cannot listen on host name \"name.invalid\"") &&
	   strstr(err, "tcp://127.0.0.1:0"),
	   "listen on a host name is refused without a lookup: \"%s\"", err);
	if (r == 0)
		L->p->unlisten(L->state, lis2);
	fh_url(&u, "tcp", "LocalHost:0", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	{
		char d2[128] = "";

		ok(r == 0 && L->p->describe(L->state, lis2, d2, sizeof(d2)) == 0 &&
		   !strncmp(d2, "tcp://127.0.0.1:", 16),
		   "listen on localhost is 127.0.0.1: %s %s", d2, r < 0 ? err : "");
		if (r == 0)
			L->p->unlisten(L->state, lis2);
	}

	/* Same port twice. */
	fh_url(&u, "tcp", desc + strlen("tcp://"), NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EADDRINUSE && strstr(err, "already in use") && strstr(err, desc + 6),
	   "second listen on %s: \"%s\"", desc + 6, err);
	fh_sink_close(&sink);
	L->p->unlisten(L->state, lis);

	/* Privileged port, as an ordinary user: as root, in a child that became
	 * 'nobody' (the plugin is already loaded in it). */
	{
		struct priv_try pt = { L, 0, "" }, res;
		long uid = -1, gid = -1;

		if (geteuid() == 0 && tp_nobody(&uid, &gid) < 0) {
			ok(0, "port 1 as non-root: running as root and there is no user 'nobody' to drop to");
		} else if (tp_run_as(uid, gid, try_privileged, &pt, &res, sizeof(res)) < 0) {
			ok(0, "port 1 as non-root: the child as uid %ld did not report", uid);
		} else {
			ok(res.r == -EACCES && strstr(res.err, "CAP_NET_BIND_SERVICE"), "port 1 as %s: \"%s\"",
			   uid == -1 ? "non-root" : "nobody", res.err);
		}
	}

	/* Address not on this machine (TEST-NET-1, never assigned locally). */
	fh_url(&u, "tcp", "192.0.2.1:0", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EADDRNOTAVAIL && strstr(err, "not available"), "foreign address: \"%s\"", err);
	if (r == 0)
		L->p->unlisten(L->state, lis2);

	/* Bad addresses and parameters. */
	fh_url(&u, "tcp", "127.0.0.1", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "port"), "missing port: \"%s\"", err);
	fh_url(&u, "tcp", "::1:80", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "brackets"), "unbracketed IPv6: \"%s\"", err);
	fh_url(&u, "tcp", "127.0.0.1:70000", NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == -EINVAL, "port 70000 refused right away: \"%s\"", err);
	prm.key = "backlog";
	prm.value = "lots";
	fh_url(&u, "tcp", ":0", &prm, 1);
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
static void test_accept_pause(struct fh_plugin *L, struct event_base *base)
{
	struct broker_url u;
	struct broker_accept_sink sink = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit old, lim;
	void *lis = NULL;
	char err[256] = "", desc[128] = "";
	int dups[256], ndup = 0, client, iters, warns, i;

	fh_url(&u, "tcp", ":0", NULL, 0);
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
		skip(1, "accept pauses on EMFILE: cannot lower RLIMIT_NOFILE");
		goto out;
	}
	while (ndup < 256 && (dups[ndup] = dup(0)) >= 0)
		ndup++;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)atoi(strrchr(desc, ':') + 1));
	warns = fh.warnings;
	if (connect(client, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		ok(0, "connect for EMFILE test: %s", strerror(errno));
	} else {
		iters = count_iterations(base, 300);
		ok(iters < 200 && sink.n == 0, "EMFILE: loop stays idle (%d iterations in 300 ms)", iters);
		ok(fh.warnings - warns == 1, "EMFILE: logged once per burst (%d lines)", fh.warnings - warns);
	}
	for (i = 0; i < ndup; i++)
		close(dups[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	fh_wait_int(base, &sink.n, 1, 2000);
	ok(sink.n == 1, "accepting resumes once descriptors are free");
out:
	if (client >= 0)
		close(client);
	fh_sink_close(&sink);
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

static void test_unix(struct fh_plugin *L, struct event_base *base, const char *dir)
{
	struct broker_url u;
	struct broker_url_param prm[2];
	struct broker_accept_sink sink = { 0 };
	struct broker_connect_req req = { .rfd = -1 };
	void *lis = NULL, *lis2 = NULL, *pend = NULL;
	char err[256] = "", path[256], other[256], desc[300], longp[200];
	struct stat sb;
	int r, fd;

	snprintf(path, sizeof(path), "%s/a.sock", dir);
	prm[0].key = "mode";
	prm[0].value = "0640";
	fh_url(&u, "unix", path, prm, 1);
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

	fh_url(&u, "unix", path, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "unix connect defers its result even when it succeeds at once");
	fh_wait_int(base, &req.calls, 1, 3000);
	fh_wait_int(base, &sink.n, 1, 3000);
	ok(req.calls == 1 && req.ok, "connected (%s)", req.ok ? req.peer : req.reason);
	ok(sink.n == 1 && strncmp(sink.peer[0], "unix:uid=", 9) == 0 && strstr(sink.peer[0], "pid="),
	   "accept delivered, peer \"%s\"", sink.n ? sink.peer[0] : "");
	if (req.ok && sink.n == 1)
		ok(pass_bytes(req.rfd, sink.fds[0], "ping") && pass_bytes(sink.fds[0], req.rfd, "pong"),
		   "bytes pass both ways");
	if (req.ok)
		close(req.rfd);
	fh_sink_close(&sink);

	/* Live socket is not stolen. */
	fh_url(&u, "unix", path, NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r < 0 && strstr(err, "live") && strstr(err, path), "live socket refused: \"%s\"", err);

	/* Cancel. */
	memset(&req, 0, sizeof(req));
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	L->p->connect_cancel(L->state, pend);
	fh_run_for(base, 100);
	ok(r == 0 && req.calls == 0, "unix connect_cancel: no report afterwards");
	fh_sink_close(&sink);

	L->p->unlisten(L->state, lis);
	ok(access(path, F_OK) < 0 && errno == ENOENT, "unlisten removed the socket file");

	/* Stale socket is replaced; default mode is 0600. */
	make_stale(path);
	memset(&req, 0, sizeof(req));
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	fh_wait_int(base, &req.calls, 1, 3000);
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
	fh_url(&u, "unix", other, NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r < 0 && strstr(err, "not a socket") && access(other, F_OK) == 0,
	   "regular file refused and kept: \"%s\"", err);

	/* Unknown group, bad mode. */
	prm[0].key = "group";
	prm[0].value = "no-such-group-xyz";
	fh_url(&u, "unix", path, prm, 1);
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
		fh_url(&u, "unix", path, prm, 2);
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
	fh_url(&u, "unix", other, NULL, 0);
	memset(&req, 0, sizeof(req));
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == 0 && req.calls == 0, "connect to missing path defers its result");
	fh_wait_int(base, &req.calls, 1, 3000);
	ok(req.calls == 1 && req.error == -ENOENT && strstr(req.reason, other),
	   "missing path: \"%s\"", req.reason);

	/* Address checks. */
	fh_url(&u, "unix", "relative.sock", NULL, 0);
	r = L->p->listen(L->state, &u, &sink, &lis2, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "absolute"), "relative path: \"%s\"", err);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	fh_url(&u, "unix", longp, NULL, 0);
	r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
	ok(r == -ENAMETOOLONG && strstr(err, "too long"), "long path: \"%s\"", err);

#ifdef __linux__
	{
		char name[64];

		snprintf(name, sizeof(name), "@broker-test-%d", (int)getpid());
		fh_url(&u, "unix", name, NULL, 0);
		r = L->p->listen(L->state, &u, &sink, &lis, err, sizeof(err));
		ok(r == 0, "abstract listen %s (%s)", name, r ? err : "ok");
		if (r == 0) {
			memset(&req, 0, sizeof(req));
			r = L->p->connect(L->state, &u, &req, &pend, err, sizeof(err));
			fh_wait_int(base, &req.calls, 1, 3000);
			fh_wait_int(base, &sink.n, 1, 3000);
			ok(req.ok && sink.n == 1, "abstract connect + accept");
			if (req.ok)
				close(req.rfd);
			fh_sink_close(&sink);
			L->p->unlisten(L->state, lis);
		}
	}
#endif
}

/* ------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	struct event_base *base;
	struct fh_plugin L;
	char b1[1024], b2[1024], err[256], dir[] = "/tmp/broker-test-endpoints-XXXXXX";
	const char *tcp = fh_plugin_path(argc, argv, 1, "TCP_PLUGIN", "tcp", b1, sizeof(b1));
	const char *unx = fh_plugin_path(argc, argv, 2, "UNIX_PLUGIN", "unix", b2, sizeof(b2));

	plan(62);
	base = fh_base_new();

	if (ok(fh_load(&L, tcp, base, NULL, err, sizeof(err)) == 0, "load %s", tcp)) {
		test_tcp(&L, base);
		test_accept_pause(&L, base);
	}
	fh_close(&L);

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
	} else if (ok(fh_load(&L, unx, base, NULL, err, sizeof(err)) == 0, "load %s", unx)) {
		test_unix(&L, base, dir);
	}
	fh_close(&L);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", dir);
	}

	fh_base_free(base);
	return done_testing();
}
