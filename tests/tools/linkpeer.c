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
 *   linkpeer open ADDR TARGET       HELLO exchange, then OPEN stream 1 for TARGET
 *                                   (--route-id N: for the broker's route N, no
 *                                   target); prints "open: OK" or "open: refused
 *                                   errno E: REASON"; with --send TEXT, sends it,
 *                                   half-closes and prints what comes back
 *   linkpeer routes ADDR NAME=URL...  HELLO exchange, then a peer.routes_sync
 *                                   asking the broker to listen on each URL;
 *                                   prints "route NAME ok=0|1 refused=0|1: STATE"
 *   linkpeer mapsync ADDR [udp/]IP:PORT=HOST:PORT...  HELLO exchange, then a
 *                                   full mapping.sync; prints the reply
 * open, routes and mapsync end with a PING ("link still up: PING answered"),
 * answer the broker's PINGs and RPCs, and keep the link for --hold-ms.
 *   linkpeer mitm LISTEN TARGET     a man in the middle of a tcp link: accept
 *                                   on LISTEN, dial TARGET, pass bytes both
 *                                   ways; --flip-at N flips byte N of what the
 *                                   dialer sends, --record FILE keeps every
 *                                   byte seen, --ready FILE says it listens
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
 * ADDR: unix:PATH, unix:///PATH, unix:@NAME (abstract), tcp:HOST:PORT, tcp://HOST:PORT.
 * Options:
 *   --vmin N --vmax N   hello: versions announced (default: the version this
 *                       tree speaks, LINK_V below)
 *   --route-id N        open: name the broker's route N instead of a target
 *   --send TEXT         open: send TEXT on the stream, print the answer
 *   --hold-ms MS        open, routes, mapsync: keep the link MS ms (default 0)
 *   --flip-at N         mitm: flip the low bit of byte N (from 0) dialer -> target
 *   --record FILE       mitm: append every byte passed, both ways, to FILE
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
#include <stddef.h>
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
	uint64_t route_id;
	const char *send;
	unsigned hold_ms;
	uint64_t flip_at;
	const char *record;
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
	      "       open ADDR TARGET | routes ADDR NAME=URL... | mapsync ADDR SPEC... | mitm LISTEN TARGET |\n"
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
		socklen_t sl = sizeof sun;
		if (rest[0] == '@') {
			/* Linux abstract name, as brokerd writes it: unix:@name. */
			sun.sun_path[0] = '\0';
			sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(rest));
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || (fd = connect_within(fd, (struct sockaddr *)&sun, sl, ms)) == -2)
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
		                         "WINDOW", "FIN", "RST", "PING", "PONG", "GOAWAY", "AUTH_OK" };
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
			if (send_hello(r.fd, LINK_V, LINK_V) < 0)
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

		if (send_hello(r.fd, LINK_V, LINK_V) < 0)
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

/* ---- a well-behaved link, then requests a hostile guest would make ---- */

/* Protobuf by hand: field `num` of message p[0..len) as a varint or bytes; -1 if absent or bad. */
struct pbf {
	unsigned num, wt;
	uint64_t v;
	const unsigned char *d;
	size_t n;
};

static int pb_next(const unsigned char *p, size_t len, size_t *i, struct pbf *f)
{
	uint64_t key = 0, v = 0;
	unsigned shift = 0;

	if (*i >= len)
		return 0;
	do {
		if (*i >= len || shift > 63)
			return -1;
		key |= (uint64_t)(p[*i] & 0x7f) << shift;
		shift += 7;
	} while (p[(*i)++] & 0x80);
	f->num = (unsigned)(key >> 3);
	f->wt = (unsigned)(key & 7);
	if (f->wt != 0 && f->wt != 2)
		return -1;
	shift = 0;
	do {
		if (*i >= len || shift > 63)
			return -1;
		v |= (uint64_t)(p[*i] & 0x7f) << shift;
		shift += 7;
	} while (p[(*i)++] & 0x80);
	f->v = v;
	f->d = NULL;
	f->n = 0;
	if (f->wt == 2) {
		if (v > len - *i)
			return -1;
		f->d = p + *i;
		f->n = (size_t)v;
		*i += (size_t)v;
	}
	return 1;
}

/* Print untrusted text safely (the broker's reasons). */
static void print_text(const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		putchar(d[i] >= 0x20 && d[i] < 0x7f ? d[i] : '?');
}

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void buf_put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory");
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void buf_varint(struct buf *b, unsigned field, uint64_t v)
{
	unsigned char t[24];
	size_t n = put_varint(t, (uint64_t)field << 3);
	n += put_varint(t + n, v);
	buf_put(b, t, n);
}

static void buf_bytes(struct buf *b, unsigned field, const void *d, size_t len)
{
	unsigned char t[24];
	size_t n = put_varint(t, (uint64_t)field << 3 | 2);
	n += put_varint(t + n, len);
	buf_put(b, t, n);
	buf_put(b, d, len);
}

static void buf_str(struct buf *b, unsigned field, const char *s)
{
	buf_bytes(b, field, s, strlen(s));
}

/* Answer what a live link needs: PING with PONG, an RPC request with an empty OK reply. */
static void answer(int fd, const struct frame *f)
{
	if (f->type == F_PING) {
		send_frame(fd, F_PONG, 0, f->payload, f->len);
	} else if (f->type == F_RPC) {
		size_t i = 0;
		struct pbf pf;
		uint64_t call = 0;
		int is_reply = 0;
		while (pb_next(f->payload, f->len, &i, &pf) > 0) {
			if (pf.num == 1 && pf.wt == 0)
				call = pf.v;
			if (pf.num == 4 && pf.wt == 0)
				is_reply = pf.v != 0;
		}
		if (!is_reply) {
			struct buf b = { 0 };
			buf_varint(&b, 1, call);
			buf_varint(&b, 4, 1);
			send_frame(fd, F_RPC, 0, b.p, b.n);
			free(b.p);
		}
	}
}

/* Frames until `want` on `stream` (returned, payload kept) or the peer closes / ms pass (-1). */
static int wait_frame(struct reader *r, unsigned ms, uint8_t want, uint32_t stream, struct frame *out)
{
	double end = now_s() + ms / 1000.0;
	struct frame f;

	for (;;) {
		while (reader_frame(r, &f)) {
			if (f.type == F_GOAWAY) {
				printf("recv GOAWAY: ");
				print_text(f.payload, f.len);
				printf("\n");
			}
			answer(r->fd, &f);
			if (f.type == want && f.stream == stream) {
				*out = f;
				return 0;
			}
			/* An RST or OPEN_ERR for the stream we wait on ends the wait too. */
			if (stream && f.stream == stream && (f.type == F_RST || f.type == F_OPEN_ERR)) {
				*out = f;
				return 0;
			}
			free(f.payload);
		}
		if (r->eof) {
			printf("%s by peer\n", r->eof == 2 ? "reset" : "closed");
			return -1;
		}
		double left = end - now_s();
		if (left <= 0)
			return -1;
		reader_fill(r, (int)(left * 1000) + 1);
	}
}

/* Dial, exchange HELLO (the broker must not require authentication), and let it go up. */
static void session_start(struct reader *r, const char *addr, const struct opts *o)
{
	struct frame hello = { 0 };

	srand((unsigned)(time(NULL) ^ getpid()));
	r->fd = dial(addr);
	if (send_hello(r->fd, o->vmin, o->vmax) < 0)
		die("send HELLO: %s", strerror(errno));
	if (wait_frame(r, o->wait_ms, F_HELLO, 0, &hello) < 0)
		die("no HELLO from the broker");
	int auth = hello_auth_required(hello.payload, hello.len);
	free(hello.payload);
	if (auth != 0) {
		printf("the broker requires authentication (auth_required=%d)\n", auth);
		exit(4);
	}
}

/* The link survived everything: PING, PONG.  Then hold it while answering. */
static int session_end(struct reader *r, const struct opts *o)
{
	uint64_t v = 0x6c696e6b70656572ull;
	struct frame f;
	int rc = 1;

	if (send_frame(r->fd, F_PING, 0, &v, sizeof v) == 0 && wait_frame(r, o->wait_ms, F_PONG, 0, &f) == 0) {
		free(f.payload);
		printf("link still up: PING answered\n");
		rc = 0;
	}
	if (rc == 0 && o->hold_ms) {
		wait_frame(r, o->hold_ms, 0xff, 0, &f);
		printf("held the link for %u ms\n", o->hold_ms);
	}
	close(r->fd);
	free(r->buf);
	return rc;
}

static int do_open(struct reader *r, const char *target, const struct opts *o)
{
	struct buf b = { 0 };
	struct frame f;

	buf_str(&b, 1, o->route_id ? "" : target);
	buf_str(&b, 2, "linkpeer");
	buf_str(&b, 3, "linkpeer-client");
	if (o->route_id)
		buf_varint(&b, 5, o->route_id);
	if (send_frame(r->fd, F_OPEN, 1, b.p, b.n) < 0)
		die("send OPEN: %s", strerror(errno));
	free(b.p);
	if (o->send) {
		/* Data right behind the OPEN, as brokers send it. */
		send_frame(r->fd, F_DATA, 1, o->send, strlen(o->send));
		send_frame(r->fd, F_FIN, 1, NULL, 0);
	}
	if (wait_frame(r, o->wait_ms, F_OPEN_OK, 1, &f) < 0) {
		printf("open: no answer\n");
		return 1;
	}
	if (f.type == F_OPEN_ERR) {
		size_t i = 0;
		struct pbf pf;
		uint64_t e = 0;
		printf("open: refused");
		while (pb_next(f.payload, f.len, &i, &pf) > 0)
			if (pf.num == 1 && pf.wt == 0)
				e = pf.v;
		printf(" errno %" PRIu64 ": ", e);
		i = 0;
		while (pb_next(f.payload, f.len, &i, &pf) > 0)
			if (pf.num == 2 && pf.wt == 2)
				print_text(pf.d, pf.n);
		printf("\n");
		free(f.payload);
		return 0;
	}
	if (f.type == F_RST) {
		printf("open: reset\n");
		free(f.payload);
		return 0;
	}
	free(f.payload);
	printf("open: OK\n");
	if (o->send) {
		/* What the target answers, until its FIN. */
		for (;;) {
			if (wait_frame(r, o->wait_ms, F_FIN, 1, &f) < 0)
				break;
			if (f.type == F_FIN) {
				free(f.payload);
				printf("recv FIN stream 1\n");
				break;
			}
			free(f.payload);
			break;
		}
	}
	return 0;
}

/* NAME=URL ... as a peer.routes_sync, and the broker's verdict on each. */
static int do_routes(struct reader *r, int argc, char **argv, const struct opts *o)
{
	struct buf msg = { 0 }, env = { 0 };
	struct frame f;
	size_t i = 0;
	struct pbf pf;

	buf_varint(&msg, 1, 1);
	for (int k = 0; k < argc; k++) {
		struct buf rt = { 0 };
		char *eq = strchr(argv[k], '=');
		if (!eq)
			die("%s: want NAME=URL", argv[k]);
		buf_bytes(&rt, 1, argv[k], (size_t)(eq - argv[k]));
		buf_str(&rt, 2, eq + 1);
		buf_str(&rt, 3, "tcp://127.0.0.1:9");
		buf_varint(&rt, 5, (uint64_t)k + 1);
		buf_bytes(&msg, 2, rt.p, rt.n);
		free(rt.p);
	}
	buf_varint(&env, 1, 77);
	buf_str(&env, 2, "peer");
	buf_str(&env, 3, "routes_sync");
	buf_bytes(&env, 7, msg.p, msg.n);
	send_frame(r->fd, F_RPC, 0, env.p, env.n);
	free(msg.p);
	free(env.p);
	/* The reply: an RPC frame whose envelope has call id 77. */
	for (;;) {
		if (wait_frame(r, o->wait_ms, F_RPC, 0, &f) < 0) {
			printf("routes: no reply\n");
			return 1;
		}
		uint64_t call = 0;
		const unsigned char *body = NULL;
		size_t blen = 0;
		i = 0;
		while (pb_next(f.payload, f.len, &i, &pf) > 0) {
			if (pf.num == 1 && pf.wt == 0)
				call = pf.v;
			if (pf.num == 6 && pf.wt == 2) {
				printf("routes: error: ");
				print_text(pf.d, pf.n);
				printf("\n");
			}
			if (pf.num == 7 && pf.wt == 2)
				body = pf.d, blen = pf.n;
		}
		if (call != 77) {
			free(f.payload);
			continue;
		}
		i = 0;
		while (body && pb_next(body, blen, &i, &pf) > 0) {
			size_t j = 0;
			struct pbf rf;
			int ok = 0, refused = 0;
			const unsigned char *name = NULL, *state = NULL;
			size_t nn = 0, sn = 0;
			if (pf.num != 2 || pf.wt != 2)
				continue;
			while (pb_next(pf.d, pf.n, &j, &rf) > 0) {
				if (rf.num == 1 && rf.wt == 2)
					name = rf.d, nn = rf.n;
				if (rf.num == 2 && rf.wt == 0)
					ok = rf.v != 0;
				if (rf.num == 3 && rf.wt == 2)
					state = rf.d, sn = rf.n;
				if (rf.num == 4 && rf.wt == 0)
					refused = rf.v != 0;
			}
			printf("route ");
			print_text(name ? name : (const unsigned char *)"", nn);
			printf(" ok=%d refused=%d: ", ok, refused);
			print_text(state ? state : (const unsigned char *)"", sn);
			printf("\n");
		}
		free(f.payload);
		return 0;
	}
}

/* [udp/]IP:PORT=HOST:PORT ... as one full mapping.sync. */
static int do_mapsync(struct reader *r, int argc, char **argv, const struct opts *o)
{
	struct buf msg = { 0 }, env = { 0 };
	struct frame f;

	buf_str(&msg, 1, "linkpeer-epoch");
	buf_varint(&msg, 2, 1);
	buf_varint(&msg, 4, 1);
	for (int k = 0; k < argc; k++) {
		struct buf m = { 0 };
		char spec[512], *eq, *colon, *hp = spec;
		unsigned udp = 0;
		snprintf(spec, sizeof spec, "%s", argv[k]);
		if (!strncmp(hp, "udp/", 4))
			udp = 1, hp += 4;
		eq = strchr(hp, '=');
		colon = NULL;
		for (char *c = hp; eq && c < eq; c++)
			if (*c == ':')
				colon = c;
		if (!eq || !colon)
			die("%s: want [udp/]IP:PORT=HOST:PORT", argv[k]);
		*eq = *colon = 0;
		buf_str(&m, 1, "linkpeer");
		buf_str(&m, 2, argv[k]);
		buf_varint(&m, 4, udp);
		buf_str(&m, 5, hp);
		buf_varint(&m, 6, num(colon + 1, "PORT"));
		buf_str(&m, 7, eq + 1);
		buf_bytes(&msg, 5, m.p, m.n);
		free(m.p);
	}
	buf_varint(&env, 1, 78);
	buf_str(&env, 2, "mapping");
	buf_str(&env, 3, "sync");
	buf_bytes(&env, 7, msg.p, msg.n);
	send_frame(r->fd, F_RPC, 0, env.p, env.n);
	free(msg.p);
	free(env.p);
	for (;;) {
		size_t i = 0;
		struct pbf pf;
		uint64_t call = 0, status = 0;
		if (wait_frame(r, o->wait_ms, F_RPC, 0, &f) < 0) {
			printf("mapsync: no reply\n");
			return 1;
		}
		while (pb_next(f.payload, f.len, &i, &pf) > 0) {
			if (pf.num == 1 && pf.wt == 0)
				call = pf.v;
			if (pf.num == 5 && pf.wt == 0)
				status = pf.v;
		}
		free(f.payload);
		if (call == 78) {
			printf("mapsync: reply status %" PRIu64 "\n", status);
			return 0;
		}
	}
}

static int peer_cmd(const char *cmd, int argc, char **argv, const struct opts *o)
{
	struct reader r = { 0 };
	int rc;

	if (argc < 2 && !(argc == 1 && !strcmp(cmd, "open") && o->route_id))
		usage();
	session_start(&r, argv[0], o);
	/* Let the broker finish its side of the handshake. */
	usleep(100 * 1000);
	if (!strcmp(cmd, "open"))
		rc = do_open(&r, argc > 1 ? argv[1] : "", o);
	else if (!strcmp(cmd, "routes"))
		rc = do_routes(&r, argc - 1, argv + 1, o);
	else
		rc = do_mapsync(&r, argc - 1, argv + 1, o);
	if (rc)
		return rc;
	return session_end(&r, o);
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

/* ---- a man in the middle on a tcp link ---- */

/* Listen on LISTEN (tcp:HOST:PORT), and for each connection dial TARGET and
 * pass bytes both ways; with --flip-at N, flip the low bit of byte N of
 * what the dialer sends (in every connection); with --record FILE, append
 * every byte seen both ways to FILE.  Ends after --timeout. */
static int cmd_mitm(int argc, char **argv, const struct opts *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *res;
	char host[256];
	const char *rest, *colon;
	FILE *rec = NULL;
	int lfd, one = 1;

	if (argc < 2 || strncmp(argv[0], "tcp:", 4))
		usage();
	rest = argv[0] + 4;
	if (!strncmp(rest, "//", 2))
		rest += 2;
	colon = strrchr(rest, ':');
	if (!colon || (size_t)(colon - rest) >= sizeof host)
		die("%s: want tcp:HOST:PORT", argv[0]);
	snprintf(host, sizeof host, "%.*s", (int)(colon - rest), rest);
	if (getaddrinfo(host, colon + 1, &hints, &res))
		die("%s: cannot resolve", argv[0]);
	lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, res->ai_addr, res->ai_addrlen) < 0 || listen(lfd, 8) < 0)
		die("listen %s: %s", argv[0], strerror(errno));
	freeaddrinfo(res);
	if (o->record && !(rec = fopen(o->record, "ab")))
		die("%s: %s", o->record, strerror(errno));
	if (o->ready) {
		FILE *f = fopen(o->ready, "w");
		if (f) {
			fprintf(f, "%s\n", argv[0]);
			fclose(f);
		}
	}
	for (unsigned conn = 0;; conn++) {
		int c = accept(lfd, NULL, NULL), s;
		uint64_t c2s = 0;
		int flipped = 0;

		if (c < 0)
			die("accept: %s", strerror(errno));
		s = dial(argv[1]);
		for (;;) {
			struct pollfd p[2] = { { .fd = c, .events = POLLIN }, { .fd = s, .events = POLLIN } };
			unsigned char buf[65536];
			ssize_t n;
			int from;

			if (poll(p, 2, -1) < 0 && errno != EINTR)
				break;
			from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;
			n = recv(from ? s : c, buf, sizeof buf, 0);
			if (n <= 0)
				break;
			if (from == 0) {
				if (o->flip_at && !flipped && c2s + (uint64_t)n > o->flip_at) {
					buf[o->flip_at - c2s] ^= 1;
					flipped = 1;
					printf("connection %u: flipped byte %" PRIu64 " on its way to %s\n", conn, o->flip_at, argv[1]);
				}
				c2s += (uint64_t)n;
			}
			if (rec)
				fwrite(buf, 1, (size_t)n, rec), fflush(rec);
			if (write_all(from ? c : s, buf, (size_t)n) < 0)
				break;
		}
		close(c);
		close(s);
	}
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
	struct opts o = { .vmin = LINK_V, .vmax = LINK_V, .stream = 1, .wait_ms = 5000, .seed = 1, .timeout = 120 };
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
		else if (!strcmp(a, "--route-id"))
			o.route_id = num(VAL(), a);
		else if (!strcmp(a, "--send"))
			o.send = VAL();
		else if (!strcmp(a, "--hold-ms"))
			o.hold_ms = (unsigned)num(VAL(), a);
		else if (!strcmp(a, "--flip-at"))
			o.flip_at = num(VAL(), a);
		else if (!strcmp(a, "--record"))
			o.record = VAL();
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
	if (!strcmp(argv[1], "mitm"))
		return cmd_mitm(npos, pos, &o);
	if (!strcmp(argv[1], "open") || !strcmp(argv[1], "routes") || !strcmp(argv[1], "mapsync"))
		return peer_cmd(argv[1], npos, pos, &o);
	int rc = bounds_cmd(argv[1], npos, pos);
	if (rc >= 0)
		return rc;
	return link_cmd(argv[1], npos, pos, &o);
}
