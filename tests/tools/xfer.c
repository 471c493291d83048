/*
 * xfer - socket helper for the broker integration tests.
 *
 * Servers (run in the background; each exits after --lifetime seconds):
 *   xfer serve-echo ADDR                 echo every byte; half-close after EOF
 *   xfer serve-sink ADDR                 read to EOF, reply "COUNT SHA256HEX\n"
 *   xfer serve-delayed-reply ADDR SECS   read to EOF, wait SECS, echo it all back
 * Clients:
 *   xfer send ADDR BYTES                 send BYTES pseudo-random bytes, half-close,
 *                                        read the whole reply, print checksums
 *   xfer concurrent ADDR N BYTES         N parallel echo round trips, all checked
 *   xfer limit-probe ADDR N              open N connections one by one, each
 *                                        pinged; print accepted/rejected/stalled
 *   xfer garbage PATH BYTES              random bytes (or bad NNG frames) on a
 *                                        Unix socket
 *   xfer wait-connect ADDR SECS          retry connecting until it works
 *   xfer free-port [--ipv6]              print a free loopback TCP port
 *
 * ADDR: unix:PATH, unix:///PATH, tcp:HOST:PORT, tcp://HOST:PORT, [v6] in brackets.
 * Options (anywhere after the command):
 *   --ready FILE     servers: write the bound address to FILE once listening
 *   --lifetime S     servers: exit after S seconds (default 600)
 *   --lifetime-ms MS servers: exit after MS milliseconds instead (the timer
 *                    starts before the socket listens: a short-lived listener;
 *                    "lifetime timer started at NS" on stderr gives the start
 *                    in nanoseconds of CLOCK_REALTIME, date +%s%N's clock, so a
 *                    test can bound how long the socket listened)
 *   --timeout S      clients: give up after S seconds in total (default 120)
 *   --io-timeout S   fail when no byte moves for S seconds (default 30)
 *   --expect echo|sink|empty|any   send: what the reply must be (default any)
 *   --seed N         pseudo-random stream seed (default 1)
 *   --count K        garbage: connections to make (default 1)
 *   --nng            garbage: speak the NNG IPC handshake, then send a bad frame
 *   --oversize       garbage: with --nng, announce a 1 TiB frame
 *   --wait-ms MS     limit-probe: how long to wait for each echo (default 2000)
 *   --hold S         limit-probe: keep the connections open S seconds
 * Exit status: 0 success, 1 failure (with a message on stderr), 2 usage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CHUNK (64 * 1024)
#define DELAYED_MAX (512u * 1024 * 1024)

struct opts {
	const char *ready;
	const char *expect;
	unsigned lifetime;
	unsigned lifetime_ms;
	unsigned timeout;
	unsigned io_timeout;
	uint64_t seed;
	unsigned count;
	unsigned wait_ms;
	unsigned hold;
	int nng;
	int oversize;
	int ipv6;
};

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
	char text[300];
};

struct server {
	int lfd;
	int mode;
	unsigned delay;
	unsigned io_timeout;
};

enum { MODE_ECHO, MODE_SINK, MODE_DELAYED };

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("xfer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void) __attribute__((noreturn));
static void
usage(void)
{
	fputs("usage: xfer serve-echo|serve-sink ADDR | serve-delayed-reply ADDR SECS |\n"
	      "       send ADDR BYTES | concurrent ADDR N BYTES | limit-probe ADDR N |\n"
	      "       garbage PATH BYTES | wait-connect ADDR SECS | free-port [--ipv6]\n"
	      "       (see the comment at the top of tests/tools/xfer.c for options)\n", stderr);
	exit(2);
}

static void
on_alarm(int sig)
{
	static const char msg[] = "xfer: overall time limit reached, giving up\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing else to do */
	}
	_exit(1);
}

static void
on_lifetime(int sig)
{
	(void)sig;
	_exit(0);
}

static uint64_t
parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		die("%s: not a number: '%s'", what, s);
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024ull * 1024 * 1024, end++;
	if (*end)
		die("%s: not a number: '%s'", what, s);
	return (uint64_t)v * mult;
}

/* --- addresses ----------------------------------------------------------- */

static void
parse_addr(const char *s, struct addr *a)
{
	char host[256], port[16];
	const char *rest, *colon;
	struct addrinfo hints, *res;
	int rc;
	size_t n;

	memset(a, 0, sizeof *a);
	snprintf(a->text, sizeof a->text, "%s", s);
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
		const char *q;

		rest = s + 5;
		if (strncmp(rest, "//", 2) == 0)
			rest += 2;
		q = strchr(rest, '?');
		n = q ? (size_t)(q - rest) : strlen(rest);
		if (n == 0 || n >= sizeof sun->sun_path)
			die("%s: bad or too long Unix socket path", s);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, rest, n);
		a->len = (socklen_t)sizeof *sun;
		a->family = AF_UNIX;
		return;
	}
	if (strncmp(s, "tcp:", 4) != 0)
		die("%s: address must start with unix: or tcp:", s);
	rest = s + 4;
	if (strncmp(rest, "//", 2) == 0)
		rest += 2;
	if (*rest == '[') {
		const char *close = strchr(rest, ']');
		if (!close || close[1] != ':')
			die("%s: bad IPv6 address (want tcp:[::1]:PORT)", s);
		n = (size_t)(close - rest - 1);
		colon = close + 1;
		if (n >= sizeof host)
			die("%s: host too long", s);
		memcpy(host, rest + 1, n);
		host[n] = 0;
	} else {
		colon = strrchr(rest, ':');
		if (!colon)
			die("%s: missing port (want tcp:HOST:PORT)", s);
		n = (size_t)(colon - rest);
		if (n >= sizeof host)
			die("%s: host too long", s);
		memcpy(host, rest, n);
		host[n] = 0;
	}
	snprintf(port, sizeof port, "%s", colon + 1);
	{
		char *slash = strchr(port, '/');
		if (slash)
			*slash = 0;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("%s: %s", s, gai_strerror(rc));
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
}

static void
set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) < 0)
		die("fcntl: %s", strerror(errno));
}

static void
set_io_timeout(int fd, unsigned secs)
{
	struct timeval tv = { .tv_sec = secs, .tv_usec = 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Returns a connected blocking socket, or -1 with errno set. */
static int
try_connect(const struct addr *a)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, saved;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (a->family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int
connect_or_die(const struct addr *a)
{
	int fd = try_connect(a);

	if (fd < 0)
		die("connect %s: %s", a->text, strerror(errno));
	return fd;
}

static void
write_ready(const char *file, const char *text)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%s\n", text);
	if (fclose(f) != 0 || rename(tmp, file) != 0)
		die("%s: %s", file, strerror(errno));
}

static int
listen_on(struct addr *a, const char *ready)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	char text[400];

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (a->family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&a->ss)->sun_path;
		struct stat st;

		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
		snprintf(text, sizeof text, "unix:%s", path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	}
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) < 0)
		die("bind %s: %s", a->text, strerror(errno));
	if (listen(fd, 1024) < 0)
		die("listen %s: %s", a->text, strerror(errno));
	if (a->family != AF_UNIX) {
		char host[INET6_ADDRSTRLEN];
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		unsigned port;

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			die("getsockname: %s", strerror(errno));
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
			port = ntohs(s6->sin6_port);
			snprintf(text, sizeof text, "tcp:[%s]:%u", host, port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
			port = ntohs(s4->sin_port);
			snprintf(text, sizeof text, "tcp:%s:%u", host, port);
		}
	}
	if (ready)
		write_ready(ready, text);
	return fd;
}

/* --- pseudo-random stream and checksums ---------------------------------- */

struct prng {
	uint64_t s;
};

static void
prng_init(struct prng *p, uint64_t seed)
{
	p->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	if (p->s == 0)
		p->s = 1;
}

/* xorshift64*: fills whole 8-byte words; the stream is the same whatever the
 * buffer sizes, because callers always ask for multiples of 8 except at the end. */
static void
prng_fill(struct prng *p, unsigned char *buf, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint64_t x = p->s;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p->s = x;
		x *= 0x2545F4914F6CDD1Dull;
		for (int k = 0; k < 8 && i < n; k++, i++)
			buf[i] = (unsigned char)(x >> (8 * k));
	}
}

struct digest {
	EVP_MD_CTX *ctx;
	uint64_t bytes;
};

static void
digest_init(struct digest *d)
{
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
		die("sha256 init failed");
	d->bytes = 0;
}

static void
digest_add(struct digest *d, const void *buf, size_t n)
{
	if (n && EVP_DigestUpdate(d->ctx, buf, n) != 1)
		die("sha256 update failed");
	d->bytes += n;
}

static void
digest_hex(struct digest *d, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (EVP_DigestFinal_ex(d->ctx, md, &len) != 1)
		die("sha256 final failed");
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
	for (unsigned i = 0; i < len && i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = 0;
}

/* --- servers -------------------------------------------------------------- */

static int
write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct conn_arg {
	int fd;
	const struct server *srv;
};

static void *
serve_conn(void *p)
{
	struct conn_arg *ca = p;
	int fd = ca->fd;
	const struct server *srv = ca->srv;
	unsigned char *buf = malloc(CHUNK);
	unsigned char *all = NULL;
	size_t all_len = 0, all_cap = 0;
	struct digest d;
	ssize_t r;

	free(ca);
	if (!buf)
		die("out of memory");
	set_io_timeout(fd, srv->io_timeout);
	if (srv->mode == MODE_SINK)
		digest_init(&d);
	for (;;) {
		r = recv(fd, buf, CHUNK, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "xfer: server read: %s\n", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (srv->mode == MODE_ECHO) {
			if (write_all(fd, buf, (size_t)r) < 0) {
				fprintf(stderr, "xfer: echo write: %s\n", strerror(errno));
				goto out;
			}
		} else if (srv->mode == MODE_SINK) {
			digest_add(&d, buf, (size_t)r);
		} else {
			if (all_len + (size_t)r > DELAYED_MAX) {
				fprintf(stderr, "xfer: delayed-reply: more than %u bytes\n", DELAYED_MAX);
				goto out;
			}
			if (all_len + (size_t)r > all_cap) {
				size_t cap = all_cap ? all_cap * 2 : CHUNK;
				while (cap < all_len + (size_t)r)
					cap *= 2;
				all = realloc(all, cap);
				if (!all)
					die("out of memory");
				all_cap = cap;
			}
			memcpy(all + all_len, buf, (size_t)r);
			all_len += (size_t)r;
		}
	}
	if (srv->mode == MODE_SINK) {
		char hex[65], line[128];
		uint64_t n = d.bytes;
		digest_hex(&d, hex);
		snprintf(line, sizeof line, "%" PRIu64 " %s\n", n, hex);
		if (write_all(fd, line, strlen(line)) < 0)
			fprintf(stderr, "xfer: sink reply: %s\n", strerror(errno));
	} else if (srv->mode == MODE_DELAYED) {
		if (srv->delay)
			sleep(srv->delay);
		if (all_len && write_all(fd, all, all_len) < 0)
			fprintf(stderr, "xfer: delayed reply: %s\n", strerror(errno));
	}
	shutdown(fd, SHUT_WR);
	/* Wait (bounded by SO_RCVTIMEO) for the peer to close, so our close
	 * never turns into a reset that could eat the reply. */
	while ((r = recv(fd, buf, CHUNK, 0)) > 0 || (r < 0 && errno == EINTR))
		;
out:
	if (srv->mode == MODE_SINK && d.ctx)
		EVP_MD_CTX_free(d.ctx);
	free(all);
	free(buf);
	close(fd);
	return NULL;
}

static int
serve(int argc, char **argv, const struct opts *o, int mode)
{
	struct server srv = { .mode = mode, .io_timeout = o->io_timeout };
	struct addr a;
	pthread_attr_t attr;

	if (argc < 1 || (mode == MODE_DELAYED && argc < 2))
		usage();
	parse_addr(argv[0], &a);
	if (mode == MODE_DELAYED)
		srv.delay = (unsigned)parse_u64(argv[1], "SECS");
	signal(SIGALRM, on_lifetime);
	if (o->lifetime_ms) {
		struct itimerval it = { .it_value = { .tv_sec = o->lifetime_ms / 1000,
		                                      .tv_usec = (o->lifetime_ms % 1000) * 1000 } };
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		fprintf(stderr, "lifetime timer started at %lld%09ld\n", (long long)now.tv_sec, now.tv_nsec);
		setitimer(ITIMER_REAL, &it, NULL);
	} else {
		alarm(o->lifetime);
	}
	srv.lfd = listen_on(&a, o->ready);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		pthread_t t;
		struct conn_arg *ca;
		int fd = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			die("accept: %s", strerror(errno));
		}
		ca = malloc(sizeof *ca);
		if (!ca)
			die("out of memory");
		ca->fd = fd;
		ca->srv = &srv;
		if (pthread_create(&t, &attr, serve_conn, ca) != 0)
			die("pthread_create failed");
	}
}

/* --- clients -------------------------------------------------------------- */

/* One client connection: streams pseudo-random bytes out while reading back. */
struct flow {
	int fd;
	int done;      /* 1: EOF seen (or failed) */
	int failed;
	int wr_closed;
	uint64_t want;  /* bytes asked for: a flow cut short must not pass */
	uint64_t to_send;
	struct prng rng;
	unsigned char pend[CHUNK];
	size_t pend_off, pend_len;
	struct digest tx, rx;
	char reply_head[256];
	size_t reply_head_len;
	char err[200];
	struct timespec last;
};

static void
now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static double
since(const struct timespec *t)
{
	struct timespec n;

	now(&n);
	return (double)(n.tv_sec - t->tv_sec) + (double)(n.tv_nsec - t->tv_nsec) / 1e9;
}

static void
flow_init(struct flow *f, int fd, uint64_t bytes, uint64_t seed)
{
	memset(f, 0, sizeof *f);
	f->fd = fd;
	f->want = bytes;
	f->to_send = bytes;
	prng_init(&f->rng, seed);
	digest_init(&f->tx);
	digest_init(&f->rx);
	set_nonblock(fd, 1);
	now(&f->last);
}

static void
flow_fail(struct flow *f, const char *what, int err)
{
	if (!f->failed)
		snprintf(f->err, sizeof f->err, "%s: %s (sent %" PRIu64 ", received %" PRIu64 ")",
			 what, err ? strerror(err) : "unexpected", f->tx.bytes, f->rx.bytes);
	f->failed = 1;
	f->done = 1;
}

static short
flow_events(const struct flow *f)
{
	short ev = 0;

	if (f->done)
		return 0;
	ev |= POLLIN;
	if (!f->wr_closed)
		ev |= POLLOUT;
	return ev;
}

static void
flow_step(struct flow *f, short revents)
{
	unsigned char buf[CHUNK];
	ssize_t r;

	if (f->done)
		return;
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		for (int i = 0; i < 16; i++) {
			r = recv(f->fd, buf, sizeof buf, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				flow_fail(f, "read", errno);
				return;
			}
			now(&f->last);
			if (r == 0) {
				f->done = 1;
				return;
			}
			if (f->reply_head_len < sizeof f->reply_head - 1) {
				size_t n = sizeof f->reply_head - 1 - f->reply_head_len;
				if (n > (size_t)r)
					n = (size_t)r;
				memcpy(f->reply_head + f->reply_head_len, buf, n);
				f->reply_head_len += n;
				f->reply_head[f->reply_head_len] = 0;
			}
			digest_add(&f->rx, buf, (size_t)r);
		}
	}
	if (!f->wr_closed && (revents & (POLLOUT | POLLERR))) {
		for (int i = 0; i < 16; i++) {
			if (f->pend_off == f->pend_len) {
				size_t n = f->to_send > CHUNK ? CHUNK : (size_t)f->to_send;
				if (n == 0) {
					if (shutdown(f->fd, SHUT_WR) < 0) {
						flow_fail(f, "shutdown", errno);
						return;
					}
					f->wr_closed = 1;
					break;
				}
				prng_fill(&f->rng, f->pend, n);
				f->pend_off = 0;
				f->pend_len = n;
				f->to_send -= n;
			}
			r = send(f->fd, f->pend + f->pend_off, f->pend_len - f->pend_off, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				flow_fail(f, "write", errno);
				return;
			}
			digest_add(&f->tx, f->pend + f->pend_off, (size_t)r);
			f->pend_off += (size_t)r;
			now(&f->last);
		}
	}
}

/* Runs flows until all are done; returns when done or on idle timeout. */
static void
run_flows(struct flow *fl, size_t n, unsigned io_timeout)
{
	struct pollfd *pfd = calloc(n, sizeof *pfd);
	size_t *idx = calloc(n, sizeof *idx);

	if (!pfd || !idx)
		die("out of memory");
	for (;;) {
		size_t k = 0;
		int r;

		for (size_t i = 0; i < n; i++) {
			if (fl[i].done)
				continue;
			if (since(&fl[i].last) > io_timeout) {
				char what[64];
				snprintf(what, sizeof what, "no progress for %u s", io_timeout);
				flow_fail(&fl[i], what, ETIMEDOUT);
				continue;
			}
			pfd[k].fd = fl[i].fd;
			pfd[k].events = flow_events(&fl[i]);
			pfd[k].revents = 0;
			idx[k++] = i;
		}
		if (k == 0)
			break;
		r = poll(pfd, k, 500);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (size_t j = 0; r > 0 && j < k; j++)
			if (pfd[j].revents)
				flow_step(&fl[idx[j]], pfd[j].revents);
	}
	free(pfd);
	free(idx);
}

/* Checks a finished flow against the expectation; returns 0 or fills f->err. */
static int
flow_check(struct flow *f, const char *expect, char tx_hex[65], char rx_hex[65])
{
	digest_hex(&f->tx, tx_hex);
	digest_hex(&f->rx, rx_hex);
	if (f->failed)
		return -1;
	/* echo and sink judge a whole transfer: the peer ending the stream
	 * before all BYTES went out (both sides agreeing on a shorter one)
	 * is a failure, not a smaller success. */
	if ((strcmp(expect, "echo") == 0 || strcmp(expect, "sink") == 0) &&
	    (f->tx.bytes != f->want || !f->wr_closed)) {
		snprintf(f->err, sizeof f->err,
			 "stream cut short: sent %" PRIu64 " of %" PRIu64 " bytes before the peer ended it"
			 " (received %" PRIu64 ")", f->tx.bytes, f->want, f->rx.bytes);
		return -1;
	}
	if (strcmp(expect, "echo") == 0) {
		if (f->rx.bytes != f->tx.bytes || strcmp(tx_hex, rx_hex) != 0) {
			snprintf(f->err, sizeof f->err,
				 "echo mismatch: sent %" PRIu64 " bytes sha256=%.16s…, received %" PRIu64
				 " bytes sha256=%.16s…", f->tx.bytes, tx_hex, f->rx.bytes, rx_hex);
			return -1;
		}
	} else if (strcmp(expect, "sink") == 0) {
		char want[128];
		snprintf(want, sizeof want, "%" PRIu64 " %s\n", f->tx.bytes, tx_hex);
		if (strcmp(f->reply_head, want) != 0) {
			for (size_t i = 0; i < f->reply_head_len; i++)
				if (f->reply_head[i] < 0x20 || f->reply_head[i] > 0x7e)
					f->reply_head[i] = '?';
			snprintf(f->err, sizeof f->err, "sink mismatch: sent %" PRIu64
				 " bytes sha256=%s, sink replied '%.100s'", f->tx.bytes, tx_hex,
				 f->reply_head);
			return -1;
		}
	} else if (strcmp(expect, "empty") == 0) {
		if (f->rx.bytes != 0) {
			snprintf(f->err, sizeof f->err, "expected a clean close with no data, got %" PRIu64
				 " bytes", f->rx.bytes);
			return -1;
		}
	} else if (strcmp(expect, "any") != 0) {
		die("--expect: want echo, sink, empty or any, not '%s'", expect);
	}
	return 0;
}

static int
cmd_send(int argc, char **argv, const struct opts *o)
{
	struct addr a;
	struct flow *f;
	char tx_hex[65], rx_hex[65];
	struct timespec t0;
	double secs;

	if (argc < 2)
		usage();
	parse_addr(argv[0], &a);
	f = malloc(sizeof *f);
	if (!f)
		die("out of memory");
	now(&t0);
	flow_init(f, connect_or_die(&a), parse_u64(argv[1], "BYTES"), o->seed);
	run_flows(f, 1, o->io_timeout);
	secs = since(&t0);
	if (flow_check(f, o->expect, tx_hex, rx_hex) < 0)
		die("%s: %s", a.text, f->err);
	printf("sent %" PRIu64 " sha256=%s received %" PRIu64 " sha256=%s in %.2f s\n",
	       f->tx.bytes, tx_hex, f->rx.bytes, rx_hex, secs);
	close(f->fd);
	free(f);
	return 0;
}

static int
cmd_concurrent(int argc, char **argv, const struct opts *o)
{
	struct addr a;
	struct flow *fl;
	size_t n, ok = 0, shown = 0;
	uint64_t bytes;
	char tx_hex[65], rx_hex[65];

	if (argc < 3)
		usage();
	parse_addr(argv[0], &a);
	n = (size_t)parse_u64(argv[1], "N");
	bytes = parse_u64(argv[2], "BYTES");
	if (n == 0)
		usage();
	fl = calloc(n, sizeof *fl);
	if (!fl)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		int fd = try_connect(&a);
		if (fd < 0) {
			int e = errno;
			memset(&fl[i], 0, sizeof fl[i]);
			digest_init(&fl[i].tx);
			digest_init(&fl[i].rx);
			fl[i].fd = -1;
			flow_fail(&fl[i], "connect", e);
			continue;
		}
		flow_init(&fl[i], fd, bytes, o->seed + i);
	}
	run_flows(fl, n, o->io_timeout);
	for (size_t i = 0; i < n; i++) {
		if (flow_check(&fl[i], o->expect[0] && strcmp(o->expect, "any") ? o->expect : "echo",
			       tx_hex, rx_hex) == 0)
			ok++;
		else if (shown++ < 5)
			fprintf(stderr, "xfer: connection %zu: %s\n", i, fl[i].err);
		if (fl[i].fd >= 0)
			close(fl[i].fd);
	}
	free(fl);
	printf("concurrent: %zu/%zu round trips of %" PRIu64 " bytes ok\n", ok, n, bytes);
	if (ok != n)
		die("%zu of %zu connections failed", n - ok, n);
	return 0;
}

static int
cmd_limit_probe(int argc, char **argv, const struct opts *o)
{
	struct addr a;
	size_t n, acc = 0, rej = 0, stall = 0;
	int *fds;

	if (argc < 2)
		usage();
	parse_addr(argv[0], &a);
	n = (size_t)parse_u64(argv[1], "N");
	fds = calloc(n ? n : 1, sizeof *fds);
	if (!fds)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		struct pollfd p;
		char c = 'x', back;
		ssize_t r;

		fds[i] = try_connect(&a);
		if (fds[i] < 0) {
			printf("conn %zu: rejected (connect: %s)\n", i, strerror(errno));
			rej++;
			continue;
		}
		if (send(fds[i], &c, 1, MSG_NOSIGNAL) != 1) {
			printf("conn %zu: rejected (write: %s)\n", i, strerror(errno));
			rej++;
			continue;
		}
		p.fd = fds[i];
		p.events = POLLIN;
		r = poll(&p, 1, (int)o->wait_ms);
		if (r == 0) {
			printf("conn %zu: stalled (no echo, no close in %u ms)\n", i, o->wait_ms);
			stall++;
			continue;
		}
		r = recv(fds[i], &back, 1, 0);
		if (r == 1 && back == c) {
			printf("conn %zu: accepted\n", i);
			acc++;
		} else {
			printf("conn %zu: rejected (%s)\n", i, r == 0 ? "closed" : strerror(errno));
			rej++;
		}
	}
	printf("accepted=%zu rejected=%zu stalled=%zu\n", acc, rej, stall);
	fflush(stdout);
	if (o->hold)
		sleep(o->hold);
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static int
cmd_garbage(int argc, char **argv, const struct opts *o)
{
	struct addr a;
	uint64_t bytes, total = 0;
	unsigned char *buf;
	struct prng rng;
	char path[300];

	if (argc < 2)
		usage();
	if (strncmp(argv[0], "unix:", 5) == 0)
		snprintf(path, sizeof path, "%s", argv[0]);
	else
		snprintf(path, sizeof path, "unix:%s", argv[0]);
	parse_addr(path, &a);
	bytes = parse_u64(argv[1], "BYTES");
	buf = malloc(bytes + 16);
	if (!buf)
		die("out of memory");
	prng_init(&rng, o->seed);
	for (unsigned k = 0; k < (o->count ? o->count : 1); k++) {
		int fd = connect_or_die(&a);
		size_t len = 0;

		set_io_timeout(fd, 2);
		if (o->nng) {
			/* SP over IPC: 8-byte hello (REQ0 = 0x30), then frames of
			 * {0x01, be64 length, payload}; a REQ payload starts with the
			 * 32-bit request id (high bit set). */
			static const unsigned char hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
			unsigned char peer[8];
			uint32_t id = 0x80000001u + k;

			if (write_all(fd, hello, sizeof hello) < 0 || recv(fd, peer, sizeof peer, MSG_WAITALL) != 8)
				die("%s: no NNG handshake from the daemon", a.text);
			buf[0] = 1;
			put_be64(buf + 1, o->oversize ? (1ull << 40) : bytes + 4);
			buf[9] = (unsigned char)(id >> 24);
			buf[10] = (unsigned char)(id >> 16);
			buf[11] = (unsigned char)(id >> 8);
			buf[12] = (unsigned char)id;
			prng_fill(&rng, buf + 13, bytes);
			len = 13 + bytes;
		} else {
			prng_fill(&rng, buf, bytes);
			len = bytes;
		}
		if (write_all(fd, buf, len) == 0)
			total += len;
		if (o->nng) {
			/* Give the daemon a moment to answer or drop us. */
			struct timeval tv = { .tv_sec = 0, .tv_usec = 300 * 1000 };
			unsigned char junk[512];

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			while (recv(fd, junk, sizeof junk, 0) > 0)
				;
		}
		close(fd);
	}
	free(buf);
	printf("garbage: %u connection(s), %" PRIu64 " bytes written to %s\n",
	       o->count ? o->count : 1, total, a.text);
	return 0;
}

static int
cmd_wait_connect(int argc, char **argv)
{
	struct addr a;
	struct timespec t0;
	double limit;

	if (argc < 2)
		usage();
	parse_addr(argv[0], &a);
	limit = (double)parse_u64(argv[1], "SECS");
	now(&t0);
	for (;;) {
		int fd = try_connect(&a);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (since(&t0) > limit)
			die("connect %s: %s (gave up after %.0f s)", a.text, strerror(errno), limit);
		usleep(50 * 1000);
	}
}

static int
cmd_free_port(const struct opts *o)
{
	struct addr a;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd;

	parse_addr(o->ipv6 ? "tcp:[::1]:0" : "tcp:127.0.0.1:0", &a);
	fd = socket(a.family, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a.ss, a.len) < 0)
		die("bind %s: %s", a.text, strerror(errno));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname: %s", strerror(errno));
	printf("%u\n", ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
						: ntohs(((struct sockaddr_in *)&ss)->sin_port));
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = {
		.expect = "any", .lifetime = 600, .timeout = 120, .io_timeout = 30,
		.seed = 1, .count = 1, .wait_ms = 2000,
	};
	char *pos[64];
	int npos = 0;
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL() (v ? (i++, v) : (usage(), ""))
		if (strcmp(a, "--ready") == 0)
			o.ready = VAL();
		else if (strcmp(a, "--expect") == 0)
			o.expect = VAL();
		else if (strcmp(a, "--lifetime") == 0)
			o.lifetime = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--lifetime-ms") == 0)
			o.lifetime_ms = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--timeout") == 0)
			o.timeout = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--io-timeout") == 0)
			o.io_timeout = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--seed") == 0)
			o.seed = parse_u64(VAL(), a);
		else if (strcmp(a, "--count") == 0)
			o.count = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--wait-ms") == 0)
			o.wait_ms = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--hold") == 0)
			o.hold = (unsigned)parse_u64(VAL(), a);
		else if (strcmp(a, "--nng") == 0)
			o.nng = 1;
		else if (strcmp(a, "--oversize") == 0)
			o.oversize = 1;
		else if (strcmp(a, "--ipv6") == 0)
			o.ipv6 = 1;
		else if (strncmp(a, "--", 2) == 0)
			usage();
		else if (npos < (int)(sizeof pos / sizeof pos[0]))
			pos[npos++] = argv[i];
		else
			usage();
#undef VAL
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strncmp(cmd, "serve-", 6) == 0) {
		if (strcmp(cmd, "serve-echo") == 0)
			return serve(npos, pos, &o, MODE_ECHO);
		if (strcmp(cmd, "serve-sink") == 0)
			return serve(npos, pos, &o, MODE_SINK);
		if (strcmp(cmd, "serve-delayed-reply") == 0)
			return serve(npos, pos, &o, MODE_DELAYED);
		usage();
	}
	signal(SIGALRM, on_alarm);
	alarm(o.timeout);
	if (strcmp(cmd, "send") == 0)
		return cmd_send(npos, pos, &o);
	if (strcmp(cmd, "concurrent") == 0)
		return cmd_concurrent(npos, pos, &o);
	if (strcmp(cmd, "limit-probe") == 0)
		return cmd_limit_probe(npos, pos, &o);
	if (strcmp(cmd, "garbage") == 0)
		return cmd_garbage(npos, pos, &o);
	if (strcmp(cmd, "wait-connect") == 0)
		return cmd_wait_connect(npos, pos);
	if (strcmp(cmd, "free-port") == 0)
		return cmd_free_port(&o);
	usage();
}
