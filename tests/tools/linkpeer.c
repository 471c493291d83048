/*
 * linkpeer - a hostile or minimal peer for the broker link, and two
 * stream clients the link tests need that xfer does not provide.
 *
 * Link peer (speaks the frame format of broker/link_frame.h and hand-encodes
 * the Hello message of proto/link.proto, so it needs no generated code):
 *   linkpeer garbage ADDR BYTES     random bytes, then report what came back
 *   linkpeer huge ADDR              a DATA header announcing 0xFFFFFFF0 bytes
 *   linkpeer hello ADDR             a HELLO (--vmin/--vmax), report the answer
 *   linkpeer unknown-stream ADDR    HELLO exchange, then DATA for a stream that
 *                                   was never opened; expect RST back
 * Every link command prints one line per frame received ("recv HELLO ...",
 * "recv GOAWAY: reason", "recv RST stream 1: reason") and how the connection
 * ended ("closed by peer", "reset by peer" or "still open after N ms").
 *
 * Floods and oversized input for the bounds tests: see linkpeer_bounds.c.
 *
 * Stream clients:
 *   linkpeer seq ADDR N BYTES       N echo round trips in a row, one connection
 *                                   each (connect, send, half-close, read back)
 *   linkpeer hog ADDR SECS          connect, write without ever reading for SECS
 *                                   seconds (a consumer that never reads)
 *
 * ADDR: unix:PATH, unix:///PATH, tcp:HOST:PORT, tcp://HOST:PORT.
 * Options:
 *   --vmin N --vmax N   hello: versions announced (default 1 1)
 *   --after-hello       huge, garbage: send a valid HELLO first
 *   --stream ID         unknown-stream: the stream id to use (default 1)
 *   --wait-ms MS        link commands: how long to wait for the answer (5000)
 *   --seed N            garbage: pseudo-random seed (default 1)
 *   --ready FILE        hog: write "blocked BYTES" to FILE once writes block
 *   --timeout S         overall limit (default 120)
 * Exit status: 0 done (read the output), 1 failure, 2 usage,
 *   3 (link commands) the connection was still open when the wait ended.
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
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/linkpeer.h"

struct opts {
	unsigned vmin, vmax;
	int after_hello;
	uint32_t stream;
	unsigned wait_ms;
	uint64_t seed;
	const char *ready;
	unsigned timeout;
};

void die(const char *fmt, ...)
{
	va_list ap;

	fputs("linkpeer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fputs("usage: linkpeer garbage ADDR BYTES | huge ADDR | hello ADDR | unknown-stream ADDR |\n"
	      "       seq ADDR N BYTES | hog ADDR SECS  (options: see tests/tools/linkpeer.c)\n",
	      stderr);
	bounds_usage();
	exit(2);
}

static void on_alarm(int sig)
{
	static const char msg[] = "linkpeer: overall time limit reached\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0) {
	}
	_exit(1);
}

uint64_t num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		die("%s: not a number: '%s'", what, s);
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024 * 1024 * 1024, end++;
	if (*end)
		die("%s: not a number: '%s'", what, s);
	return (uint64_t)v * mult;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- connecting ---- */

int dial(const char *addr)
{
	return dial_timeout(addr, 0);
}

/* Bound a blocking connect (SO_SNDTIMEO): -1 when it did not complete within ms. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 }, none = { 0, 0 };

	if (ms > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, sa, len) < 0) {
		if (ms > 0 && (errno == EINPROGRESS || errno == EAGAIN || errno == EWOULDBLOCK)) {
			close(fd);
			return -1;
		}
		return -2;
	}
	if (ms > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
	return fd;
}

int dial_timeout(const char *addr, int ms)
{
	const char *rest;
	int fd;

	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		rest = addr + 5;
		if (strncmp(rest, "//", 2) == 0)
			rest += 2;
		if (strlen(rest) == 0 || strlen(rest) >= sizeof sun.sun_path)
			die("%s: bad Unix socket path", addr);
		memcpy(sun.sun_path, rest, strlen(rest));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || (fd = connect_within(fd, (struct sockaddr *)&sun, sizeof sun, ms)) == -2)
			die("connect %s: %s", addr, strerror(errno));
		return fd;
	}
	if (strncmp(addr, "tcp:", 4) == 0) {
		char host[256];
		const char *colon;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res;
		size_t n;
		int one = 1, rc;

		rest = addr + 4;
		if (strncmp(rest, "//", 2) == 0)
			rest += 2;
		colon = strrchr(rest, ':');
		if (!colon)
			die("%s: want tcp:HOST:PORT", addr);
		n = (size_t)(colon - rest);
		if (*rest == '[' && n >= 2 && rest[n - 1] == ']')
			rest++, n -= 2;
		if (n >= sizeof host)
			die("%s: host too long", addr);
		memcpy(host, rest, n);
		host[n] = 0;
		rc = getaddrinfo(host, colon + 1, &hints, &res);
		if (rc)
			die("%s: %s", addr, gai_strerror(rc));
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || (fd = connect_within(fd, res->ai_addr, res->ai_addrlen, ms)) == -2)
			die("connect %s: %s", addr, strerror(errno));
		freeaddrinfo(res);
		if (fd >= 0)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		return fd;
	}
	die("%s: address must start with unix: or tcp:", addr);
}

int write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- frames ---- */

void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void header(unsigned char h[HDR], uint32_t len, uint32_t stream, uint8_t type)
{
	put32(h, len);
	put32(h + 4, stream);
	h[8] = type;
	h[9] = 0;
	h[10] = h[11] = 0;
}

int send_frame(int fd, uint8_t type, uint32_t stream, const void *payload, size_t len)
{
	unsigned char h[HDR];

	header(h, (uint32_t)len, stream, type);
	if (write_all(fd, h, HDR) < 0)
		return -1;
	return len ? write_all(fd, payload, len) : 0;
}

const char *type_name(unsigned t)
{
	static const char *const n[] = { "?", "HELLO", "AUTH", "RPC", "OPEN", "OPEN_OK", "OPEN_ERR", "DATA",
		                         "WINDOW", "FIN", "RST", "PING", "PONG", "GOAWAY" };
	return t < sizeof n / sizeof n[0] ? n[t] : "unknown";
}

/* ---- protobuf by hand: the Hello message ---- */

size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		p[n++] = (unsigned char)(b | (v ? 0x80 : 0));
	} while (v);
	return n;
}

size_t put_bytes(unsigned char *p, unsigned field, const void *data, size_t len)
{
	size_t n = put_varint(p, (uint64_t)field << 3 | 2);
	n += put_varint(p + n, len);
	memcpy(p + n, data, len);
	return n + len;
}

static int send_hello(int fd, unsigned vmin, unsigned vmax)
{
	unsigned char buf[512], nonce[32];
	size_t n = 0;
	const char *side = "dialer", *id = "linkpeer-test", *sw = "linkpeer (tests/tools)";

	for (size_t i = 0; i < sizeof nonce; i++)
		nonce[i] = (unsigned char)(rand() & 0xff);
	n += put_varint(buf + n, 1 << 3 | 0);
	n += put_varint(buf + n, vmin);
	n += put_varint(buf + n, 2 << 3 | 0);
	n += put_varint(buf + n, vmax);
	n += put_bytes(buf + n, 3, side, strlen(side));
	n += put_bytes(buf + n, 4, id, strlen(id));
	n += put_bytes(buf + n, 5, "localhost", 9);
	n += put_bytes(buf + n, 6, sw, strlen(sw));
	n += put_bytes(buf + n, 7, nonce, sizeof nonce);
	/* field 8 auth_required = false: the default, so not encoded */
	return send_frame(fd, F_HELLO, 0, buf, n);
}

/* Pull field 8 (auth_required) out of a Hello; -1 if it does not parse. */
int hello_auth_required(const unsigned char *p, size_t len)
{
	size_t i = 0;
	int auth = 0;

	while (i < len) {
		uint64_t key = 0, v = 0;
		unsigned shift = 0;
		do {
			if (i >= len || shift > 63)
				return -1;
			key |= (uint64_t)(p[i] & 0x7f) << shift;
			shift += 7;
		} while (p[i++] & 0x80);
		switch (key & 7) {
		case 0:
		case 2:
			shift = 0;
			v = 0;
			do {
				if (i >= len || shift > 63)
					return -1;
				v |= (uint64_t)(p[i] & 0x7f) << shift;
				shift += 7;
			} while (p[i++] & 0x80);
			if ((key & 7) == 2) {
				if (v > len - i)
					return -1;
				i += v;
			} else if (key >> 3 == 8) {
				auth = v != 0;
			}
			break;
		default:
			return -1;
		}
	}
	return auth;
}

/* ---- reading frames ---- */


/* Read what is there, waiting at most ms; returns 0 data/eof, -1 timeout. */
int reader_fill(struct reader *r, int ms)
{
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	ssize_t n;

	if (r->eof)
		return 0;
	if (poll(&p, 1, ms) <= 0)
		return -1;
	if (r->cap - r->len < 65536) {
		r->cap = r->cap ? r->cap * 2 : 131072;
		r->buf = realloc(r->buf, r->cap);
		if (!r->buf)
			die("out of memory");
	}
	n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
	if (n == 0)
		r->eof = 1;
	else if (n < 0)
		r->eof = errno == ECONNRESET ? 2 : 1;
	else
		r->len += (size_t)n;
	return 0;
}


/* Take one complete frame out of the reader (payload malloc'd), or 0 if none yet. */
int reader_frame(struct reader *r, struct frame *f)
{
	if (r->len < HDR)
		return 0;
	f->len = get32(r->buf);
	f->stream = get32(r->buf + 4);
	f->type = r->buf[8];
	if (f->len > 64u * 1024 * 1024)
		die("the broker sent a frame announcing %u bytes", f->len);
	if (r->len < HDR + (size_t)f->len)
		return 0;
	f->payload = malloc(f->len + 1);
	if (!f->payload)
		die("out of memory");
	memcpy(f->payload, r->buf + HDR, f->len);
	f->payload[f->len] = 0;
	memmove(r->buf, r->buf + HDR + f->len, r->len - HDR - f->len);
	r->len -= HDR + f->len;
	return 1;
}

void print_frame(const struct frame *f)
{
	if (f->type == F_GOAWAY || f->type == F_RST || f->type == F_OPEN_ERR) {
		for (uint32_t i = 0; i < f->len; i++)
			if (f->payload[i] < 0x20 || f->payload[i] > 0x7e)
				f->payload[i] = '?';
		printf("recv %s stream %" PRIu32 ": %s\n", type_name(f->type), f->stream, (char *)f->payload);
	} else if (f->type == F_HELLO) {
		printf("recv HELLO stream 0 len %" PRIu32 " auth_required=%d\n", f->len,
		       hello_auth_required(f->payload, f->len));
	} else {
		printf("recv %s stream %" PRIu32 " len %" PRIu32 "\n", type_name(f->type), f->stream, f->len);
	}
}

/*
 * Print frames until the peer closes, `want` (a frame type; 0: none) arrives
 * on `want_stream`, or ms pass.  Returns 0 closed, 1 want seen, 3 timeout.
 */
int drain(struct reader *r, unsigned ms, uint8_t want, uint32_t want_stream, struct frame *hello_out)
{
	double end = now_s() + ms / 1000.0;
	struct frame f;

	for (;;) {
		while (reader_frame(r, &f)) {
			print_frame(&f);
			if (hello_out && f.type == F_HELLO && !hello_out->payload) {
				*hello_out = f;
			} else {
				free(f.payload);
			}
			if (want && f.type == want && f.stream == want_stream)
				return 1;
		}
		if (r->eof) {
			if (r->len)
				printf("%zu trailing bytes that are not a whole frame\n", r->len);
			printf("%s by peer\n", r->eof == 2 ? "reset" : "closed");
			return 0;
		}
		double left = end - now_s();
		if (left <= 0 || reader_fill(r, (int)(left * 1000) + 1) < 0) {
			if (now_s() >= end) {
				printf("still open after %u ms\n", ms);
				return 3;
			}
		}
	}
}

static int link_cmd(const char *cmd, int argc, char **argv, const struct opts *o)
{
	struct reader r = { 0 };
	int rc;

	if (argc < 1)
		usage();
	srand((unsigned)(time(NULL) ^ getpid()));
	r.fd = dial(argv[0]);
	if (strcmp(cmd, "hello") == 0) {
		if (send_hello(r.fd, o->vmin, o->vmax) < 0)
			die("send HELLO: %s", strerror(errno));
		rc = drain(&r, o->wait_ms, 0, 0, NULL);
	} else if (strcmp(cmd, "huge") == 0 || strcmp(cmd, "garbage") == 0) {
		if (o->after_hello) {
			struct frame hello = { 0 };
			if (send_hello(r.fd, 1, 1) < 0)
				die("send HELLO: %s", strerror(errno));
			if (drain(&r, o->wait_ms, F_HELLO, 0, &hello) != 1)
				die("no HELLO from the broker");
			free(hello.payload);
		}
		if (cmd[0] == 'h') {
			unsigned char h[HDR];
			header(h, 0xFFFFFFF0u, 1, F_DATA);
			if (write_all(r.fd, h, HDR) < 0)
				die("send header: %s", strerror(errno));
			printf("sent a DATA header announcing %u bytes\n", 0xFFFFFFF0u);
		} else {
			size_t n;
			unsigned char *b;
			uint64_t s = o->seed * 0x9E3779B97F4A7C15ull + 1;
			if (argc < 2)
				usage();
			n = (size_t)num(argv[1], "BYTES");
			b = malloc(n + 1);
			if (!b)
				die("out of memory");
			for (size_t i = 0; i < n; i++) {
				s ^= s << 13;
				s ^= s >> 7;
				s ^= s << 17;
				b[i] = (unsigned char)(s >> 24);
			}
			/* Never start with a plausible header: make the type byte invalid. */
			if (n > 8)
				b[8] = 0xEE;
			if (write_all(r.fd, b, n) < 0)
				printf("write stopped early: %s\n", strerror(errno));
			else
				printf("sent %zu random bytes\n", n);
			free(b);
		}
		rc = drain(&r, o->wait_ms, 0, 0, NULL);
	} else if (strcmp(cmd, "unknown-stream") == 0) {
		struct frame hello = { 0 };
		int auth;

		if (send_hello(r.fd, 1, 1) < 0)
			die("send HELLO: %s", strerror(errno));
		if (drain(&r, o->wait_ms, F_HELLO, 0, &hello) != 1)
			die("no HELLO from the broker");
		auth = hello_auth_required(hello.payload, hello.len);
		free(hello.payload);
		if (auth != 0)
			die("the broker requires authentication on this carrier (auth_required=%d)", auth);
		/* Give the broker a moment to finish its side of the handshake. */
		usleep(100 * 1000);
		if (send_frame(r.fd, F_DATA, o->stream, "hello", 5) < 0)
			die("send DATA: %s", strerror(errno));
		printf("sent DATA on stream %" PRIu32 "\n", o->stream);
		rc = drain(&r, o->wait_ms, F_RST, o->stream, NULL);
		if (rc == 1) {
			/* The link must survive that: a PING still gets its PONG. */
			uint64_t v = 0x6c696e6b70656572ull;
			if (send_frame(r.fd, F_PING, 0, &v, sizeof v) < 0)
				die("send PING: %s", strerror(errno));
			if (drain(&r, o->wait_ms, F_PONG, 0, NULL) == 1)
				printf("link still up: PING answered\n");
			rc = 0;
		}
	} else {
		usage();
	}
	close(r.fd);
	free(r.buf);
	return rc;
}

/* ---- stream clients ---- */

static int cmd_seq(int argc, char **argv)
{
	uint64_t n, bytes;
	unsigned char *out, *in;
	double t0 = now_s();

	if (argc < 3)
		usage();
	n = num(argv[1], "N");
	bytes = num(argv[2], "BYTES");
	out = malloc(bytes + 1);
	in = malloc(bytes + 1);
	if (!out || !in)
		die("out of memory");
	for (uint64_t i = 0; i < n; i++) {
		int fd = dial(argv[0]);
		size_t got = 0;
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		for (uint64_t k = 0; k < bytes; k++)
			out[k] = (unsigned char)(i * 31 + k * 7);
		if (write_all(fd, out, bytes) < 0)
			die("connection %" PRIu64 ": write: %s", i, strerror(errno));
		shutdown(fd, SHUT_WR);
		for (;;) {
			ssize_t r = recv(fd, in + got, bytes + 1 - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				die("connection %" PRIu64 " of %" PRIu64 ": read: %s (got %zu of %" PRIu64 " bytes)", i,
				    n, strerror(errno), got, bytes);
			if (r == 0)
				break;
			got += (size_t)r;
			if (got > bytes)
				die("connection %" PRIu64 ": more bytes back than sent", i);
		}
		if (got != bytes || memcmp(in, out, bytes) != 0)
			die("connection %" PRIu64 " of %" PRIu64 ": echo mismatch (%zu of %" PRIu64 " bytes back)", i,
			    n, got, bytes);
		close(fd);
	}
	printf("seq: %" PRIu64 "/%" PRIu64 " connections of %" PRIu64 " bytes ok in %.2f s\n", n, n, bytes,
	       now_s() - t0);
	free(out);
	free(in);
	return 0;
}

static int cmd_hog(int argc, char **argv, const struct opts *o)
{
	static unsigned char buf[65536];
	uint64_t secs, total = 0;
	double t0 = now_s(), last_progress;
	int fd, readied = 0;

	if (argc < 2)
		usage();
	secs = num(argv[1], "SECS");
	fd = dial(argv[0]);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	memset(buf, 'h', sizeof buf);
	last_progress = now_s();
	while (now_s() - t0 < (double)secs) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		poll(&p, 1, 100);
		w = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
		if (w > 0) {
			total += (uint64_t)w;
			last_progress = now_s();
		} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			printf("hog: write failed after %" PRIu64 " bytes: %s\n", total, strerror(errno));
			return 1;
		}
		/* Blocked for half a second: every buffer on the way is full. */
		if (!readied && total > 0 && now_s() - last_progress > 0.5) {
			readied = 1;
			if (o->ready) {
				FILE *f = fopen(o->ready, "w");
				if (f) {
					fprintf(f, "blocked %" PRIu64 "\n", total);
					fclose(f);
				}
			}
		}
	}
	printf("hog: wrote %" PRIu64 " bytes in %.1f s and never read; connection still open\n", total,
	       now_s() - t0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .vmin = 1, .vmax = 1, .stream = 1, .wait_ms = 5000, .seed = 1, .timeout = 120 };
	char *pos[16];
	int npos = 0;

	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL() (v ? (i++, v) : (usage(), ""))
		if (!strcmp(a, "--vmin"))
			o.vmin = (unsigned)num(VAL(), a);
		else if (!strcmp(a, "--vmax"))
			o.vmax = (unsigned)num(VAL(), a);
		else if (!strcmp(a, "--after-hello"))
			o.after_hello = 1;
		else if (!strcmp(a, "--stream"))
			o.stream = (uint32_t)num(VAL(), a);
		else if (!strcmp(a, "--wait-ms"))
			o.wait_ms = (unsigned)num(VAL(), a);
		else if (!strcmp(a, "--seed"))
			o.seed = num(VAL(), a);
		else if (!strcmp(a, "--ready"))
			o.ready = VAL();
		else if (!strcmp(a, "--timeout"))
			o.timeout = (unsigned)num(VAL(), a);
		else if (bounds_option(a, v, &i))
			;
		else if (!strncmp(a, "--", 2))
			usage();
		else if (npos < (int)(sizeof pos / sizeof pos[0]))
			pos[npos++] = argv[i];
		else
			usage();
#undef VAL
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(o.timeout);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "seq"))
		return cmd_seq(npos, pos);
	if (!strcmp(argv[1], "hog"))
		return cmd_hog(npos, pos, &o);
	int rc = bounds_cmd(argv[1], npos, pos);
	if (rc >= 0)
		return rc;
	return link_cmd(argv[1], npos, pos, &o);
}
