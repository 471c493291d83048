/*
 * linkpeer_bounds.c - the hostile peer's floods and oversized input, for
 * the tests of what a peer or an unauthenticated client can make a broker
 * hold (brokerd(8) LIMITS).  The broker under test accepts links on ADDR
 * without authentication (a 0600 unix socket), except for preauth, which
 * never gets that far.
 *
 *   linkpeer preauth ADDR        --clients N connections each send a header
 *                                announcing --len BYTES (default 16M) of
 *                                --type rpc|data|hello before any HELLO, then
 *                                the bytes (only --partial BYTES of them when
 *                                given: a handshake that never completes);
 *                                prints per client how many the broker took
 *                                before it hung up, holds the rest open for
 *                                --hold SECS; with --raw TEXT (\r and \n
 *                                understood) TEXT goes first instead of a frame
 *                                header: an HTTP request line and headers
 *   linkpeer flood ADDR KIND     after the handshake, frames that each make
 *                                the broker answer, never reading an answer:
 *                                KIND ping (PONG), rst (DATA for unknown
 *                                streams: RST), rpc (calls of an unknown
 *                                method: error replies); for --secs SECS or
 *                                until the broker drops the link
 *   linkpeer open-flood ADDR TARGET N
 *                                N OPENs of TARGET, each followed by --data
 *                                BYTES; then reads the answers for --hold SECS
 *                                and prints how many OPEN_OK, OPEN_ERR (with
 *                                each distinct reason) and RST came back
 *   linkpeer sync ADDR N         one mapping.sync (full) of N mappings:
 *                                --port P puts them all on port P (with
 *                                --distinct-ip each has its own host_ip),
 *                                else ports 20000, 20001, ...; --host-ip IP
 *                                for all of them (no check: any text); --desc TEXT,
 *                                --connect HOST:PORT (127.0.0.1:9); prints
 *                                the reply and how long it took; --hold SECS
 *   linkpeer peer ADDR           a linked peer that answers PINGs, never
 *                                answers the broker's RPC calls, refuses every
 *                                OPEN with --open-err TEXT and at the end says
 *                                --goaway TEXT; for --hold SECS
 *   linkpeer deaf tcp:HOST:PORT SECS
 *                                a TCP listener that never accepts (backlog
 *                                0): connects to it stay pending; prints
 *                                "listening" and exits after SECS
 * Every command's HELLO carries --id TEXT and --hostname TEXT when given
 * (terminal escapes and newlines included: the broker must not pass them
 * raw into its logs or brokerctl's output).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/tools/linkpeer.h"

static struct {
	unsigned clients;
	uint64_t len;
	int64_t partial;
	const char *type;
	unsigned hold, secs;
	uint64_t data;
	long port;
	int distinct_ip;
	const char *desc, *connect, *id, *hostname, *open_err, *goaway, *host_ip, *raw;
} bo = { .clients = 1, .len = 16u << 20, .type = "rpc", .partial = -1, .secs = 10, .port = -1, .connect = "127.0.0.1:9",
         .id = "linkpeer-bounds", .hostname = "localhost" };

void bounds_usage(void)
{
	fputs("       preauth ADDR | flood ADDR ping|rst|rpc | open-flood ADDR TARGET N | sync ADDR N |\n"
	      "       peer ADDR | deaf tcp:HOST:PORT SECS  (options: see tests/tools/linkpeer_bounds.c)\n",
	      stderr);
}

int bounds_option(const char *a, const char *v, int *i)
{
	static const char *const with_value[] = { "--clients", "--len", "--type", "--hold", "--secs", "--data",
		                                  "--port", "--desc", "--connect", "--id", "--hostname",
		                                  "--open-err", "--goaway", "--partial", "--host-ip", "--raw" };
	size_t k;

	if (!strcmp(a, "--distinct-ip")) {
		bo.distinct_ip = 1;
		return 1;
	}
	for (k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
		if (!strcmp(a, with_value[k]))
			break;
	if (k == sizeof with_value / sizeof with_value[0])
		return 0;
	if (!v)
		die("%s needs a value", a);
	(*i)++;
	if (!strcmp(a, "--clients"))
		bo.clients = (unsigned)num(v, a);
	else if (!strcmp(a, "--len"))
		bo.len = num(v, a);
	else if (!strcmp(a, "--partial"))
		bo.partial = (int64_t)num(v, a);
	else if (!strcmp(a, "--type"))
		bo.type = v;
	else if (!strcmp(a, "--hold"))
		bo.hold = (unsigned)num(v, a);
	else if (!strcmp(a, "--secs"))
		bo.secs = (unsigned)num(v, a);
	else if (!strcmp(a, "--data"))
		bo.data = num(v, a);
	else if (!strcmp(a, "--port"))
		bo.port = (long)num(v, a);
	else if (!strcmp(a, "--desc"))
		bo.desc = v;
	else if (!strcmp(a, "--connect"))
		bo.connect = v;
	else if (!strcmp(a, "--id"))
		bo.id = v;
	else if (!strcmp(a, "--hostname"))
		bo.hostname = v;
	else if (!strcmp(a, "--open-err"))
		bo.open_err = v;
	else if (!strcmp(a, "--host-ip"))
		bo.host_ip = v;
	else if (!strcmp(a, "--raw"))
		bo.raw = v;
	else
		bo.goaway = v;
	return 1;
}

/* ---- protobuf by hand ---- */

struct pb {
	unsigned char *p;
	size_t len, cap;
};

static void pb_room(struct pb *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	b->cap = (b->len + n) * 2 + 256;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		die("out of memory");
}

static void pb_varint(struct pb *b, unsigned field, uint64_t v)
{
	pb_room(b, 24);
	b->len += put_varint(b->p + b->len, (uint64_t)field << 3);
	b->len += put_varint(b->p + b->len, v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *data, size_t n)
{
	pb_room(b, n + 24);
	b->len += put_bytes(b->p + b->len, field, data, n);
}

static void pb_str(struct pb *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* One top-level field of a message: 1 found (value in *v or bytes at *d,*dn), 0 end, -1 bad. */
static int pb_next(const unsigned char **p, const unsigned char *end, unsigned *field, uint64_t *v,
                   const unsigned char **d, size_t *dn)
{
	uint64_t key = 0, x = 0;
	unsigned shift = 0;

	if (*p >= end)
		return 0;
	do {
		if (*p >= end || shift > 63)
			return -1;
		key |= (uint64_t)(**p & 0x7f) << shift;
		shift += 7;
	} while (*(*p)++ & 0x80);
	shift = 0;
	if ((key & 7) != 0 && (key & 7) != 2)
		return -1;
	do {
		if (*p >= end || shift > 63)
			return -1;
		x |= (uint64_t)(**p & 0x7f) << shift;
		shift += 7;
	} while (*(*p)++ & 0x80);
	*field = (unsigned)(key >> 3);
	*v = x;
	*d = NULL;
	*dn = 0;
	if ((key & 7) == 2) {
		if (x > (uint64_t)(end - *p))
			return -1;
		*d = *p;
		*dn = (size_t)x;
		*p += x;
	}
	return 1;
}

/* ---- the handshake ---- */

static void hello(int fd)
{
	struct pb b = { 0 };
	unsigned char nonce[32];

	for (size_t i = 0; i < sizeof nonce; i++)
		nonce[i] = (unsigned char)(rand() & 0xff);
	pb_varint(&b, 1, LINK_V);
	pb_varint(&b, 2, LINK_V);
	pb_str(&b, 3, "dialer");
	pb_str(&b, 4, bo.id);
	pb_str(&b, 5, bo.hostname);
	pb_str(&b, 6, "linkpeer (tests/tools, bounds)");
	pb_bytes(&b, 7, nonce, sizeof nonce);
	if (send_frame(fd, F_HELLO, 0, b.p, b.len) < 0)
		die("send HELLO: %s", strerror(errno));
	free(b.p);
}

/* HELLO both ways; dies when the broker wants authentication. */
static void handshake(struct reader *r, const char *addr)
{
	struct frame f = { 0 };
	int auth;

	r->fd = dial(addr);
	hello(r->fd);
	if (drain(r, 5000, F_HELLO, 0, &f) != 1)
		die("no HELLO from the broker");
	auth = hello_auth_required(f.payload, f.len);
	free(f.payload);
	if (auth != 0)
		die("the broker requires authentication on %s (auth_required=%d)", addr, auth);
	/* Let the broker finish its side (it goes up on our HELLO). */
	usleep(100 * 1000);
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- preauth: big headers before any HELLO ---- */

static int cmd_preauth(int argc, char **argv)
{
	unsigned n = bo.clients;
	int *fd = calloc(n, sizeof *fd);
	uint64_t *sent = calloc(n, sizeof *sent);
	int *gone = calloc(n, sizeof *gone);
	static unsigned char zeros[65536];
	unsigned char h[HDR];
	uint8_t type;
	uint32_t stream = 0;
	unsigned dropped = 0, full = 0;
	uint64_t min_taken = UINT64_MAX, max_taken = 0;
	double t0 = now_s();

	if (argc < 1 || !fd || !sent || !gone)
		die("preauth ADDR (--clients N --len BYTES --type rpc|data|hello)");
	if (!strcmp(bo.type, "rpc"))
		type = F_RPC;
	else if (!strcmp(bo.type, "hello"))
		type = F_HELLO;
	else if (!strcmp(bo.type, "data"))
		type = F_DATA, stream = 1;
	else
		die("--type: rpc, data or hello");
	if (!bo.raw && bo.len > 0xffffffffu)
		die("--len: at most 4G-1 in a frame header");
	uint64_t goal = bo.partial >= 0 && (uint64_t)bo.partial < bo.len ? (uint64_t)bo.partial : bo.len;
	header(h, (uint32_t)bo.len, stream, type);
	char raw[1024];
	size_t rawlen = 0;
	for (const char *c = bo.raw; c && *c && rawlen < sizeof raw; c++) {
		if (c[0] == '\\' && (c[1] == 'r' || c[1] == 'n')) {
			raw[rawlen++] = c[1] == 'r' ? '\r' : '\n';
			c++;
		} else {
			raw[rawlen++] = *c;
		}
	}
	unsigned waiting = 0;
	for (unsigned i = 0; i < n; i++) {
		/* A connect the broker does not accept within 2 s waits in its queue: count it apart. */
		fd[i] = dial_timeout(argv[0], 2000);
		if (fd[i] < 0) {
			waiting++;
			gone[i] = 2;
			continue;
		}
		if (bo.raw ? write_all(fd[i], raw, rawlen) < 0 : write_all(fd[i], h, HDR) < 0)
			gone[i] = 1;
		nonblock(fd[i]);
	}
	/* Write the announced bytes round-robin until each is done or refused. */
	for (;;) {
		unsigned busy = 0;
		for (unsigned i = 0; i < n; i++) {
			if (gone[i] || sent[i] >= goal)
				continue;
			size_t want = goal - sent[i] < sizeof zeros ? (size_t)(goal - sent[i]) : sizeof zeros;
			ssize_t w = send(fd[i], zeros, want, MSG_NOSIGNAL);
			if (w > 0)
				sent[i] += (uint64_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				gone[i] = 1;
			if (!gone[i] && sent[i] < goal)
				busy++;
		}
		if (!busy || now_s() - t0 > 60)
			break;
		if (busy) {
			/* Everything blocked: wait a little for room (or for the broker to hang up). */
			struct pollfd p[64];
			unsigned k = 0;
			for (unsigned i = 0; i < n && k < 64; i++)
				if (!gone[i] && sent[i] < goal)
					p[k++] = (struct pollfd){ .fd = fd[i], .events = POLLOUT };
			poll(p, k, 50);
		}
	}
	/* Has the broker hung up on the ones that still look open?  Read what it sent (its HELLO) to see. */
	usleep(300 * 1000);
	for (unsigned i = 0; i < n; i++) {
		char c[4096];
		ssize_t got = -1;
		while (!gone[i] && (got = recv(fd[i], c, sizeof c, 0)) != 0) {
			if (got < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					gone[i] = 1;
				if (errno != EINTR)
					break;
			}
		}
		if (got == 0 && !gone[i])
			gone[i] = 1;
		if (gone[i] == 1)
			dropped++;
		if (sent[i] >= goal && !gone[i])
			full++;
		if (gone[i] == 2)
			continue;
		if (sent[i] < min_taken)
			min_taken = sent[i];
		if (sent[i] > max_taken)
			max_taken = sent[i];
	}
	if (min_taken == UINT64_MAX)
		min_taken = 0;
	printf("preauth: %u clients announced %" PRIu64 " bytes of %s; the broker took %" PRIu64 "..%" PRIu64
	       " bytes each; %u dropped, %u took all %" PRIu64 " sent and are still open, %u not accepted in 2 s\n",
	       n, bo.len, bo.raw ? "raw bytes after --raw" : type_name(type), min_taken, max_taken, dropped, full, goal,
	       waiting);
	if (bo.hold) {
		printf("holding %u open connections for %u s\n", full, bo.hold);
		sleep(bo.hold);
	}
	for (unsigned i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(fd);
	free(sent);
	free(gone);
	return 0;
}

/* ---- flood: provoke answers, never read them ---- */

static size_t flood_frame(const char *kind, unsigned char *out, uint32_t seq)
{
	unsigned char payload[128];
	size_t n = 0;
	uint32_t stream = 0;
	uint8_t type;

	if (!strcmp(kind, "ping")) {
		type = F_PING;
		memset(payload, 'p', 8);
		n = 8;
	} else if (!strcmp(kind, "rst")) {
		/* Never-opened odd ids far above anything used: each earns an RST. */
		type = F_DATA;
		stream = 0x40000001u + 2 * (seq % 0x10000000u);
		payload[0] = 'x';
		n = 1;
	} else if (!strcmp(kind, "rpc")) {
		struct pb b = { 0 };
		type = F_RPC;
		pb_varint(&b, 1, seq + 1);
		pb_str(&b, 2, "linkpeer");
		pb_str(&b, 3, "nosuchmethod");
		memcpy(payload, b.p, b.len);
		n = b.len;
		free(b.p);
	} else {
		die("flood KIND: ping, rst or rpc");
	}
	header(out, (uint32_t)n, stream, type);
	memcpy(out + HDR, payload, n);
	return HDR + n;
}

static int cmd_flood(int argc, char **argv)
{
	struct reader r = { 0 };
	unsigned char *batch = malloc(1 << 20);
	size_t blen = 0, off = 0;
	uint64_t total = 0, frames = 0;
	uint32_t seq = 0;
	double t0;
	int dropped = 0;

	if (argc < 2 || !batch)
		die("flood ADDR ping|rst|rpc (--secs S)");
	handshake(&r, argv[0]);
	nonblock(r.fd);
	t0 = now_s();
	while (now_s() - t0 < bo.secs) {
		if (off == blen) {
			/* A fresh batch of frames (new stream ids / call ids each time). */
			blen = 0;
			off = 0;
			while (blen + 256 < (1 << 20)) {
				blen += flood_frame(argv[1], batch + blen, seq++);
				frames++;
			}
		}
		ssize_t w = send(r.fd, batch + off, blen - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			total += (uint64_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			struct pollfd p = { .fd = r.fd, .events = POLLOUT };
			poll(&p, 1, 100);
			continue;
		}
		dropped = 1;
		printf("flood %s: the broker dropped the link after %" PRIu64 " bytes in %.1f s (%s)\n", argv[1], total,
		       now_s() - t0, w < 0 ? strerror(errno) : "closed");
		break;
	}
	if (!dropped)
		printf("flood %s: sent %" PRIu64 " bytes in %.1f s without reading; the link is still open\n", argv[1],
		       total, now_s() - t0);
	close(r.fd);
	free(r.buf);
	free(batch);
	return 0;
}

/* ---- reading answers while holding the link ---- */

struct tally {
	unsigned ok, err, rst;
	char reasons[8][200];
	unsigned nreasons;
	int closed;
};

/* The OpenError's reason (field 2), printable. */
static void reason_of(const struct frame *f, char *out, size_t outlen)
{
	const unsigned char *p = f->payload, *end = p + f->len, *d;
	unsigned field;
	uint64_t v;
	size_t dn;

	snprintf(out, outlen, "(none)");
	while (pb_next(&p, end, &field, &v, &d, &dn) == 1)
		if (field == 2 && d) {
			size_t k = dn < outlen - 1 ? dn : outlen - 1;
			for (size_t i = 0; i < k; i++)
				out[i] = d[i] < 0x20 || d[i] > 0x7e ? '?' : (char)d[i];
			out[k] = 0;
		}
}

/* Read and answer for ms: PONG to PING, OPEN_ERR to OPEN (peer), a PING of our own each second. */
static void hold(struct reader *r, unsigned ms, struct tally *t)
{
	double end = now_s() + ms / 1000.0, ping = now_s() + 1;
	struct frame f;

	while (!r->eof && now_s() < end) {
		reader_fill(r, 100);
		while (reader_frame(r, &f)) {
			if (f.type == F_PING) {
				send_frame(r->fd, F_PONG, 0, f.payload, f.len);
			} else if (f.type == F_OPEN_OK) {
				t->ok++;
			} else if (f.type == F_RST) {
				t->rst++;
			} else if (f.type == F_OPEN_ERR) {
				char why[200];
				t->err++;
				reason_of(&f, why, sizeof why);
				unsigned k;
				for (k = 0; k < t->nreasons; k++)
					if (!strcmp(t->reasons[k], why))
						break;
				if (k == t->nreasons && k < 8)
					snprintf(t->reasons[t->nreasons++], sizeof t->reasons[0], "%s", why);
			} else if (f.type == F_OPEN && bo.open_err) {
				struct pb b = { 0 };
				pb_varint(&b, 1, 111);
				pb_str(&b, 2, bo.open_err);
				send_frame(r->fd, F_OPEN_ERR, f.stream, b.p, b.len);
				free(b.p);
				printf("refused OPEN on stream %" PRIu32 "\n", f.stream);
			} else if (f.type == F_GOAWAY) {
				print_frame(&f);
			}
			free(f.payload);
		}
		if (now_s() >= ping) {
			uint64_t v = 0x6c696e6b70656572ull;
			send_frame(r->fd, F_PING, 0, &v, sizeof v);
			ping = now_s() + 1;
		}
	}
	t->closed = r->eof;
}

static void goodbye(struct reader *r)
{
	if (bo.goaway)
		send_frame(r->fd, F_GOAWAY, 0, bo.goaway, strlen(bo.goaway));
	close(r->fd);
	free(r->buf);
}

/* ---- open-flood ---- */

static int cmd_open_flood(int argc, char **argv)
{
	struct reader r = { 0 };
	struct tally t = { 0 };
	unsigned char *data = NULL;
	uint64_t n;

	if (argc < 3)
		die("open-flood ADDR TARGET N (--data BYTES --hold SECS)");
	n = num(argv[2], "N");
	if (bo.data > 256 * 1024)
		die("--data: at most the initial window, 256K");
	if (bo.data && !(data = calloc(1, bo.data)))
		die("out of memory");
	handshake(&r, argv[0]);
	for (uint64_t i = 0; i < n; i++) {
		struct pb b = { 0 };
		uint32_t id = (uint32_t)(2 * i + 1);
		pb_str(&b, 1, argv[1]);
		pb_str(&b, 2, "linkpeer-flood");
		pb_str(&b, 3, "linkpeer");
		if (send_frame(r.fd, F_OPEN, id, b.p, b.len) < 0)
			die("send OPEN %" PRIu64 ": %s", i, strerror(errno));
		free(b.p);
		for (uint64_t off = 0; off < bo.data; off += 65536) {
			size_t k = bo.data - off < 65536 ? (size_t)(bo.data - off) : 65536;
			if (send_frame(r.fd, F_DATA, id, data, k) < 0)
				die("send DATA %" PRIu64 ": %s", i, strerror(errno));
		}
		/* Take answers as we go, so neither side's buffers fill with them. */
		if (i % 64 == 63)
			hold(&r, 1, &t);
	}
	printf("sent %" PRIu64 " OPENs of %s with %" PRIu64 " bytes each\n", n, argv[1], bo.data);
	hold(&r, bo.hold * 1000 + 500, &t);
	printf("open-flood: %u OPEN_OK, %u OPEN_ERR, %u RST%s\n", t.ok, t.err, t.rst,
	       t.closed ? "; the broker closed the link" : "");
	for (unsigned k = 0; k < t.nreasons; k++)
		printf("OPEN_ERR reason: %s\n", t.reasons[k]);
	goodbye(&r);
	free(data);
	return 0;
}

/* ---- sync: one big mapping.sync ---- */

static int cmd_sync(int argc, char **argv)
{
	struct reader r = { 0 };
	struct tally t = { 0 };
	struct pb ms = { 0 }, env = { 0 };
	struct frame f;
	uint64_t n;
	double t0;
	int got = 0;

	if (argc < 2)
		die("sync ADDR N (--port P --distinct-ip --desc TEXT --connect HOST:PORT --hold SECS)");
	n = num(argv[1], "N");
	pb_str(&ms, 1, "linkpeer-epoch");
	pb_varint(&ms, 2, 1);
	pb_varint(&ms, 4, 1);
	for (uint64_t i = 0; i < n; i++) {
		struct pb m = { 0 };
		char ip[32];
		unsigned port = bo.port >= 0 ? (unsigned)bo.port : 20000 + (unsigned)(i % 40000);
		if (bo.host_ip)
			snprintf(ip, sizeof ip, "%s", bo.host_ip);
		else if (bo.distinct_ip)
			snprintf(ip, sizeof ip, "127.%u.%u.%u", (unsigned)(i >> 16 & 255) + 1, (unsigned)(i >> 8 & 255),
			         (unsigned)(i & 255));
		else
			snprintf(ip, sizeof ip, "127.0.0.1");
		pb_str(&m, 1, "linkpeer");
		pb_str(&m, 2, "owner");
		if (bo.desc)
			pb_str(&m, 3, bo.desc);
		pb_str(&m, 5, ip);
		pb_varint(&m, 6, port);
		pb_str(&m, 7, bo.connect);
		pb_bytes(&ms, 5, m.p, m.len);
		free(m.p);
	}
	pb_varint(&env, 1, 4242);
	pb_str(&env, 2, "mapping");
	pb_str(&env, 3, "sync");
	pb_bytes(&env, 7, ms.p, ms.len);
	handshake(&r, argv[0]);
	t0 = now_s();
	if (send_frame(r.fd, F_RPC, 0, env.p, env.len) < 0)
		die("send the sync: %s", strerror(errno));
	printf("sent a mapping sync of %" PRIu64 " mappings (%zu bytes)\n", n, env.len);
	/* Wait for the reply to call 4242, answering PINGs meanwhile. */
	while (!got && !r.eof && now_s() - t0 < 120) {
		reader_fill(&r, 100);
		while (!got && reader_frame(&r, &f)) {
			const unsigned char *p = f.payload, *end = p + f.len, *d, *err = NULL;
			unsigned field, is_reply = 0, status = 0;
			uint64_t v, call = 0;
			size_t dn, errn = 0;
			if (f.type == F_PING)
				send_frame(r.fd, F_PONG, 0, f.payload, f.len);
			if (f.type == F_RPC) {
				while (pb_next(&p, end, &field, &v, &d, &dn) == 1) {
					if (field == 1)
						call = v;
					else if (field == 4)
						is_reply = (unsigned)v;
					else if (field == 5)
						status = (unsigned)v;
					else if (field == 6)
						err = d, errn = dn;
				}
				if (is_reply && call == 4242) {
					got = 1;
					printf("sync reply after %.2f s: status %u%s%.*s\n", now_s() - t0, status,
					       errn ? ": " : "", (int)errn, err ? (const char *)err : "");
				}
			}
			free(f.payload);
		}
	}
	if (!got)
		printf("no sync reply after %.1f s%s\n", now_s() - t0, r.eof ? " (the broker closed the link)" : "");
	if (bo.hold)
		hold(&r, bo.hold * 1000, &t);
	goodbye(&r);
	free(ms.p);
	free(env.p);
	return 0;
}

/* ---- peer: a quiet, refusing peer ---- */

static int cmd_peer(int argc, char **argv)
{
	struct reader r = { 0 };
	struct tally t = { 0 };

	if (argc < 1)
		die("peer ADDR (--open-err TEXT --goaway TEXT --hold SECS)");
	handshake(&r, argv[0]);
	printf("linked as %s\n", bo.id);
	hold(&r, bo.hold * 1000, &t);
	printf("peer: done%s\n", t.closed ? "; the broker closed the link" : "");
	goodbye(&r);
	return 0;
}

/* ---- deaf: a target whose connects never complete ---- */

static int cmd_deaf(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char host[64];
	const char *a, *colon;
	int fd, one = 1;

	if (argc < 2 || strncmp(argv[0], "tcp:", 4))
		die("deaf tcp:HOST:PORT SECS");
	a = argv[0] + 4;
	if (!strncmp(a, "//", 2))
		a += 2;
	colon = strrchr(a, ':');
	if (!colon || (size_t)(colon - a) >= sizeof host)
		die("deaf: want tcp:HOST:PORT");
	memcpy(host, a, (size_t)(colon - a));
	host[colon - a] = 0;
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		die("deaf: %s is not an IPv4 address", host);
	sin.sin_port = htons((uint16_t)num(colon + 1, "PORT"));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 0) < 0)
		die("deaf: listen on %s: %s", argv[0], strerror(errno));
	printf("listening on %s; never accepting\n", argv[0]);
	sleep((unsigned)num(argv[1], "SECS"));
	close(fd);
	return 0;
}

int bounds_cmd(const char *cmd, int argc, char **argv)
{
	if (!strcmp(cmd, "deaf"))
		return cmd_deaf(argc, argv);
	if (!strcmp(cmd, "preauth"))
		return cmd_preauth(argc, argv);
	if (!strcmp(cmd, "flood"))
		return cmd_flood(argc, argv);
	if (!strcmp(cmd, "open-flood"))
		return cmd_open_flood(argc, argv);
	if (!strcmp(cmd, "sync"))
		return cmd_sync(argc, argv);
	if (!strcmp(cmd, "peer"))
		return cmd_peer(argc, argv);
	return -1;
}
