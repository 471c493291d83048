/* fuzz_preauth.c - libFuzzer target: what an unauthenticated client can do
 * to a link that requires authentication (a tcp listener, say).  A real
 * struct link (broker/link.c and friends) over a socketpair; the input is
 * the client's bytes, optionally after a valid HELLO (mode bit 0) so the
 * fuzz bytes reach AUTH handling, written in pieces (bit 1) with the loop
 * running in between.  The client never knows the secret.
 *
 * Invariants (abort on violation):
 *   - the link never comes up, and no RPC method and no stream ever runs;
 *   - the link never holds more input than one handshake frame
 *     (LINK_HEADER_SIZE + LINK_MAX_HANDSHAKE) plus one read;
 *   - its output holds only its own HELLO, GOAWAY and, at most, one AUTH
 *     (it answers the client's HELLO), never an answer to anything else;
 *   - down() runs exactly once (at the latest when the harness closes it).
 * Timers are far out, so runs are reproducible. */
#include <config.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "broker/broker.h"
#include "broker/link_auth.h"
#include "broker/link_internal.h"
#include "broker/log.h"
#include "broker/plugins.h"
#include "proto/link.pb-c.h"
#include "rpc/rpc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define M_HELLO 0x01
#define M_CHUNKS 0x02
#define M_DIALER 0x04

/* Everything the link may hold while a client is unauthenticated. */
#define INPUT_BOUND (LINK_HEADER_SIZE + LINK_MAX_HANDSHAKE + RELAY_READ_RESERVE)
/* Our HELLO, an AUTH for the client's HELLO, a GOAWAY: each well under this. */
#define OUTPUT_BOUND (3 * (LINK_HEADER_SIZE + 1024))

static const uint8_t secret[] = "the-secret-the-client-never-sees";

struct run {
	struct link *link;
	int ups, downs;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *lvl = getenv("FUZZ_LOG_LEVEL");
	enum broker_log_level level = BROKER_LOG_ERROR;

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	if (lvl)
		log_level_parse(lvl, &level);
	log_configure(level, LOG_FORMAT_TEXT);
	if (link_auth_init() < 0) {
		fprintf(stderr, "fuzz_preauth: libsodium does not initialise\n");
		exit(1);
	}
	return 0;
}

static void on_up(void *arg, struct link *l)
{
	(void)arg;
	(void)l;
	abort();   /* authenticated without the secret */
}

static void on_down(void *arg, struct link *l, const char *why)
{
	struct run *r = arg;

	(void)l;
	if (!why)
		abort();
	r->downs++;
	r->link = NULL;
}

static Broker__Rpc__Status m_any(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                 char *err, size_t errlen)
{
	(void)ctx;
	(void)body;
	(void)len;
	(void)reply;
	(void)reply_len;
	(void)err;
	(void)errlen;
	abort();   /* an RPC ran before authentication */
}

static const struct rpc_method methods[] = {
	{ "peer", "routes_sync", m_any },
	{ "mapping", "sync", m_any },
	{ NULL, NULL, NULL },
};

static void check(const struct run *r)
{
	if (!r->link)
		return;
	if (link_state(r->link) == LINK_UP || r->link->nstreams != 0)
		abort();
	if (evbuffer_get_length(r->link->in) > INPUT_BOUND)
		abort();
	if (evbuffer_get_length(r->link->out) > OUTPUT_BOUND)
		abort();
}

static void hello(uint8_t **buf, size_t *len, bool dialer)
{
	Broker__Link__Hello h = BROKER__LINK__HELLO__INIT;
	struct link_frame_header fh = { .type = LINK_HELLO };
	uint8_t nonce[32], *p;
	size_t n;

	memset(nonce, 0x33, sizeof(nonce));
	h.version_min = 1;
	h.version_max = 1;
	h.side = dialer ? "dialer" : "acceptor";
	h.broker_id = "intruder";
	h.hostname = "elsewhere";
	h.software = "fuzz";
	h.nonce.data = nonce;
	h.nonce.len = sizeof(nonce);
	h.auth_required = true;
	if (rpc_pack_message(&h.base, &p, &n) < 0)
		abort();
	*buf = malloc(LINK_HEADER_SIZE + n);
	if (!*buf)
		abort();
	fh.length = (uint32_t)n;
	link_frame_encode(&fh, *buf);
	memcpy(*buf + LINK_HEADER_SIZE, p, n);
	*len = LINK_HEADER_SIZE + n;
	free(p);
}

static void drain_peer(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Write p[0..n) in pieces (sizes from the data when chunked), running the loop between them. */
static void feed(struct run *r, struct event_base *base, int fd, const uint8_t *p, size_t n, bool chunks)
{
	size_t i = 0;

	while (n > 0 && r->link) {
		size_t piece = n;
		if (chunks)
			piece = 1 + p[i++ % n] % 97;
		if (piece > n)
			piece = n;
		ssize_t w = send(fd, p, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w <= 0) {
			/* The link stopped reading (closed) or the socket is full: let the loop run. */
			event_base_loop(base, EVLOOP_NONBLOCK);
			check(r);
			drain_peer(fd);
			if (w < 0 && !r->link)
				break;
			continue;
		}
		p += w;
		n -= (size_t)w;
		event_base_loop(base, EVLOOP_NONBLOCK);
		check(r);
		drain_peer(fd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	struct event_base *base;
	struct broker_stream_desc carrier = { .flags = BROKER_STREAM_SOCKET, .peer = "intruder" };
	struct link_params lp = { 0 };
	uint8_t mode, *greet = NULL;
	size_t greet_len = 0;
	int sv[2];

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;

	base = event_base_new();
	if (!base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	carrier.rfd = carrier.wfd = sv[0];
	lp.base = base;
	lp.dialer = (mode & M_DIALER) != 0;
	lp.require_auth = true;
	lp.secret = secret;
	lp.secret_len = sizeof(secret) - 1;
	lp.broker_id = "fuzz-us";
	lp.carrier = "fuzz://tcp";
	lp.keepalive_ms = 3600 * 1000;
	lp.timeout_ms = 3600 * 1000;
	lp.handshake_timeout_ms = 3600 * 1000;
	lp.rpc_methods = methods;
	lp.cb.up = on_up;
	lp.cb.down = on_down;
	lp.cb_arg = &r;
	if (link_new(&lp, &carrier, &r.link) < 0)
		abort();
	check(&r);
	if (mode & M_HELLO) {
		hello(&greet, &greet_len, !(mode & M_DIALER));
		feed(&r, base, sv[1], greet, greet_len, false);
		free(greet);
	}
	feed(&r, base, sv[1], data, size, (mode & M_CHUNKS) != 0);
	for (int i = 0; i < 8 && r.link; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		check(&r);
		drain_peer(sv[1]);
	}
	if (r.link)
		link_close(r.link, "fuzz input done");
	for (int i = 0; i < 8 && r.downs == 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (r.downs != 1)
		abort();
	close(sv[1]);
	event_base_free(base);
	return 0;
}
