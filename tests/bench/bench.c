/*
 * bench.c - load generator and target server for tests/bench/run.
 *
 *   bench server PATH [tcp:HOST:PORT] sink/echo server on a Unix socket (and,
 *                                     given, on a loopback TCP port too)
 *   bench throughput ADDR BYTES SECS  one-way client->server bytes, MB/s
 *   bench rtt ADDR COUNT SECS         1-byte ping-pong, p50/p99 in us
 *   bench cps ADDR COUNT SECS         connect + 1 round trip + close, per second
 *   bench hold ADDR N SECS            open N connections (each proven with one
 *                                     round trip), print "held=N", keep them
 *                                     until stdin closes or SECS pass
 *   bench free-port                   print a TCP port free on 127.0.0.1
 *
 * ADDR is a Unix socket path, or tcp:HOST:PORT (numeric host; TCP_NODELAY
 * is set on client sockets so small writes are not held back).
 *
 * The server reads the first byte of each connection to learn its mode:
 * 'S' sink (discard until EOF, then reply with the 8-byte count received)
 * or 'E' echo.  The same server sits behind every path (direct, broker,
 * socat), so only the path in between differs.  Every client loop is
 * bounded by a count and a deadline; socket timeouts keep a stuck path from
 * hanging the run.  Results are printed as key=value for the script.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define CHUNK (256 * 1024)
#define IO_TIMEOUT_S 10
#define ECHO_HIGH (1024 * 1024)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "tcp:HOST:PORT" (HOST numeric, [v6] allowed) -> a resolved address. */
static int tcp_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	char host[128];
	const char *hp = addr + 4, *colon = strrchr(hp, ':');
	size_t hl;

	if (strncmp(addr, "tcp:", 4) || !colon)
		return -EINVAL;
	hl = (size_t)(colon - hp);
	if (hl > 1 && hp[0] == '[' && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hp, hl);
	host[hl] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int is_tcp(const char *addr)
{
	return strncmp(addr, "tcp:", 4) == 0;
}

static void set_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

/* ------------------------------------------------------------ server */

struct srv_conn {
	int fd;
	char mode;              /* 0 until the first byte arrives */
	int eof;
	uint64_t count;
	struct event *rev, *wev;
	struct evbuffer *out;
};

struct server {
	struct event_base *base;
	char *buf;
};

static struct server srv;

static void srv_conn_free(struct srv_conn *c)
{
	event_free(c->rev);
	event_free(c->wev);
	evbuffer_free(c->out);
	close(c->fd);
	free(c);
}

/* Flush what we can; returns 0, 1 when the connection was freed. */
static int srv_flush(struct srv_conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write(c->out, c->fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			srv_conn_free(c);
			return 1;
		}
	}
	if (evbuffer_get_length(c->out) > 0) {
		event_add(c->wev, NULL);
		/* Backpressure: a client that does not read stops being read. */
		if (evbuffer_get_length(c->out) > ECHO_HIGH)
			event_del(c->rev);
		return 0;
	}
	event_del(c->wev);
	if (c->eof) {
		srv_conn_free(c);
		return 1;
	}
	event_add(c->rev, NULL);
	return 0;
}

static void srv_on_write(evutil_socket_t fd, short what, void *arg)
{
	srv_flush(arg);
}

static void srv_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct srv_conn *c = arg;
	ssize_t n = read(fd, srv.buf, CHUNK);
	char *p = srv.buf;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		srv_conn_free(c);
		return;
	}
	if (n == 0) {
		c->eof = 1;
		event_del(c->rev);
		if (c->mode == 'S') {
			uint64_t le = c->count;

			evbuffer_add(c->out, &le, sizeof(le));
		}
		srv_flush(c);
		return;
	}
	if (!c->mode) {
		c->mode = p[0];
		p++;
		n--;
	}
	if (c->mode == 'S') {
		c->count += (uint64_t)n;
	} else if (n > 0) {
		evbuffer_add(c->out, p, (size_t)n);
		srv_flush(c);
	}
}

static void srv_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct srv_conn *c;

		if (fd < 0)
			return;
		if (arg)  /* the TCP listener */
			set_nodelay(fd);
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->out = evbuffer_new();
		c->rev = event_new(srv.base, fd, EV_READ | EV_PERSIST, srv_on_read, c);
		c->wev = event_new(srv.base, fd, EV_WRITE | EV_PERSIST, srv_on_write, c);
		if (!c->out || !c->rev || !c->wev) {
			fprintf(stderr, "bench server: out of memory\n");
			exit(1);
		}
		event_add(c->rev, NULL);
	}
}

static void srv_on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(srv.base);
}

/* A second, TCP listener for the direct-over-TCP baseline. */
static int tcp_listen(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (tcp_addr(addr, &ss, &len) < 0) {
		fprintf(stderr, "bench server: %s: want tcp:HOST:PORT with a numeric host\n", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
		fprintf(stderr, "bench server: %s: %s\n", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int run_server(const char *path, const char *tcp)
{
	struct sockaddr_un sun;
	struct event *lev, *tev = NULL, *sigterm, *sigint;
	int lfd, tfd = -1;

	signal(SIGPIPE, SIG_IGN);
	if (unix_addr(path, &sun) < 0) {
		fprintf(stderr, "bench server: %s: path too long\n", path);
		return 1;
	}
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 4096) < 0) {
		fprintf(stderr, "bench server: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (tcp && (tfd = tcp_listen(tcp)) < 0)
		return 1;
	srv.buf = malloc(CHUNK);
	srv.base = event_base_new();
	if (!srv.buf || !srv.base)
		return 1;
	lev = event_new(srv.base, lfd, EV_READ | EV_PERSIST, srv_on_accept, NULL);
	if (tfd >= 0) {
		/* A non-NULL argument tells srv_on_accept to set TCP_NODELAY. */
		tev = event_new(srv.base, tfd, EV_READ | EV_PERSIST, srv_on_accept, &srv);
		event_add(tev, NULL);
	}
	sigterm = evsignal_new(srv.base, SIGTERM, srv_on_signal, NULL);
	sigint = evsignal_new(srv.base, SIGINT, srv_on_signal, NULL);
	event_add(lev, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_base_dispatch(srv.base);
	/* Connections still open at exit are reclaimed by the kernel. */
	event_free(lev);
	if (tev)
		event_free(tev);
	if (tfd >= 0)
		close(tfd);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(srv.base);
	close(lfd);
	unlink(path);
	free(srv.buf);
	return 0;
}

/* ------------------------------------------------------------ clients */

/* ADDR: a Unix socket path or tcp:HOST:PORT. */
static int dial(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int fd, r;

	if (is_tcp(addr)) {
		r = tcp_addr(addr, &ss, &len);
	} else {
		r = unix_addr(addr, (struct sockaddr_un *)&ss);
		len = sizeof(struct sockaddr_un);
	}
	if (r < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A path that drops connections must not hang the run: bound connect too. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (ss.ss_family != AF_UNIX)
		set_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;  /* the path closed before the reply */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int run_throughput(const char *path, uint64_t bytes, double secs)
{
	char *buf = malloc(CHUNK);
	uint64_t sent = 0, got = 0;
	double t0, t1, deadline;
	int fd, r;

	if (!buf)
		return 1;
	memset(buf, 'x', CHUNK);
	fd = dial(path);
	if (fd < 0) {
		fprintf(stderr, "throughput: connect %s: %s\n", path, strerror(-fd));
		return 1;
	}
	t0 = now_s();
	deadline = t0 + secs;
	r = write_all(fd, "S", 1);
	/* Check the clock every 16 chunks: cheap, and bounds the run. */
	for (unsigned i = 0; r == 0 && sent < bytes; i++) {
		size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;

		if ((i & 15) == 0 && now_s() > deadline)
			break;
		r = write_all(fd, buf, n);
		if (r == 0)
			sent += n;
	}
	if (r == 0 && shutdown(fd, SHUT_WR) < 0)
		r = -errno;
	/* The time counts until the server confirms it received everything. */
	if (r == 0)
		r = read_all(fd, &got, sizeof(got));
	t1 = now_s();
	close(fd);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "throughput: %s: %s after %" PRIu64 " bytes\n", path, strerror(-r), sent);
		return 1;
	}
	if (got != sent) {
		fprintf(stderr, "throughput: %s: server got %" PRIu64 " of %" PRIu64 " bytes\n", path, got, sent);
		return 1;
	}
	printf("bytes=%" PRIu64 "\nseconds=%.3f\nmbps=%.1f\n", sent, t1 - t0, (double)sent / 1e6 / (t1 - t0));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_rtt(const char *path, long count, double secs)
{
	double *rtt = calloc((size_t)count, sizeof(double));
	double deadline = now_s() + secs;
	long n = 0;
	char c = 'p';
	int fd, r;

	if (!rtt)
		return 1;
	fd = dial(path);
	if (fd < 0) {
		fprintf(stderr, "rtt: connect %s: %s\n", path, strerror(-fd));
		return 1;
	}
	/* The first exchange also carries the mode byte; it is warm-up, not timed. */
	r = write_all(fd, "Ep", 2);
	if (r == 0)
		r = read_all(fd, &c, 1);
	while (r == 0 && n < count) {
		double t = now_s();

		if (t > deadline)
			break;
		r = write_all(fd, &c, 1);
		if (r == 0)
			r = read_all(fd, &c, 1);
		rtt[n++] = (now_s() - t) * 1e6;
	}
	close(fd);
	if (r < 0 || n == 0) {
		fprintf(stderr, "rtt: %s: %s after %ld round trips\n", path, strerror(-r), n);
		return 1;
	}
	qsort(rtt, (size_t)n, sizeof(double), cmp_double);
	printf("n=%ld\np50_us=%.1f\np99_us=%.1f\n", n, rtt[n / 2], rtt[(n * 99) / 100]);
	free(rtt);
	return 0;
}

static int run_cps(const char *path, long count, double secs)
{
	double t0 = now_s(), deadline = t0 + secs, t1;
	long n = 0;
	int r = 0;

	while (n < count && now_s() < deadline) {
		char c;
		int fd = dial(path);

		if (fd < 0) {
			r = fd;
			break;
		}
		r = write_all(fd, "Ex", 2);
		if (r == 0)
			r = read_all(fd, &c, 1);
		close(fd);
		if (r < 0)
			break;
		n++;
	}
	t1 = now_s();
	if (r < 0) {
		fprintf(stderr, "cps: %s: %s after %ld connections\n", path, strerror(-r), n);
		return 1;
	}
	printf("n=%ld\nseconds=%.3f\ncps=%.0f\n", n, t1 - t0, (double)n / (t1 - t0));
	return 0;
}

static int run_hold(const char *path, long count, double secs)
{
	int *fds = malloc((size_t)count * sizeof(int));
	double deadline = now_s() + secs;
	long n = 0;
	int r = 0;

	if (!fds)
		return 1;
	/* Open all first, then prove each end to end: a relay may connect lazily. */
	for (; n < count && now_s() < deadline; n++) {
		fds[n] = dial(path);
		if (fds[n] < 0) {
			r = fds[n];
			break;
		}
		r = write_all(fds[n], "Eh", 2);
		if (r < 0) {
			n++;
			break;
		}
	}
	for (long i = 0; r == 0 && i < n; i++) {
		char c;

		r = read_all(fds[i], &c, 1);
	}
	if (r < 0) {
		fprintf(stderr, "hold: %s: %s at connection %ld\n", path, strerror(-r), n);
	} else {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		char b[64];

		printf("held=%ld\n", n);
		fflush(stdout);
		/* Idle until the script closes our stdin (or the deadline passes). */
		while (now_s() < deadline) {
			int left_ms = (int)((deadline - now_s()) * 1000) + 1;

			if (poll(&pfd, 1, left_ms) > 0 && read(0, b, sizeof(b)) <= 0)
				break;
		}
	}
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return r < 0 ? 1 : 0;
}

/* A port the kernel picks on 127.0.0.1; free now, not reserved. */
static int run_free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		fprintf(stderr, "free-port: %s\n", strerror(errno));
		return 1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: bench server PATH [tcp:HOST:PORT]\n"
	        "       bench throughput ADDR BYTES SECS\n"
	        "       bench rtt ADDR COUNT SECS\n"
	        "       bench cps ADDR COUNT SECS\n"
	        "       bench hold ADDR N SECS\n"
	        "       bench free-port\n"
	        "ADDR: a Unix socket path or tcp:HOST:PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd, *path;
	double secs;

	if (argc == 2 && !strcmp(argv[1], "free-port"))
		return run_free_port();
	if (argc < 3)
		usage();
	cmd = argv[1];
	path = argv[2];
	if (!strcmp(cmd, "server") && argc <= 4)
		return run_server(path, argc == 4 ? argv[3] : NULL);
	if (argc != 5)
		usage();
	signal(SIGPIPE, SIG_IGN);
	secs = atof(argv[4]);
	if (!strcmp(cmd, "throughput"))
		return run_throughput(path, strtoull(argv[3], NULL, 10), secs);
	if (!strcmp(cmd, "rtt"))
		return run_rtt(path, atol(argv[3]), secs);
	if (!strcmp(cmd, "cps"))
		return run_cps(path, atol(argv[3]), secs);
	if (!strcmp(cmd, "hold"))
		return run_hold(path, atol(argv[3]), secs);
	usage();
	return 2;
}
