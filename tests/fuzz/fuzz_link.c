/* fuzz_link.c - libFuzzer target: a real struct link (broker/link.c,
 * link_stream.c, link_auth.c, relay*.c, endpoint.c, plugins.c) over a
 * socketpair, with the fuzzer input written as the peer broker's bytes.
 *
 * Input: one mode byte, then the peer's bytes.
 *   bit 0  our link is the dialer (odd stream ids) rather than the acceptor
 *   bit 1  the harness first sends a valid HELLO (and, with bit 2, a valid
 *          AUTH), so the fuzz bytes reach the streams and RPC
 *   bit 2  our link requires authentication
 *   bit 3  the harness's HELLO asks our link for an AUTH proof
 *   bit 4  once the link is up, open two outgoing streams (one whose client
 *          has already half-closed) and make one RPC call on the peer
 *   bit 5  write the peer's bytes in small pieces (sizes from the data),
 *          running the loop between pieces
 *   bit 6  half-close the peer's side of the carrier after the last byte
 *   bit 7  an encrypted link (both sides require auth and seal; with bit 1
 *          the harness completes the handshake and then seals the fuzz
 *          bytes into records of sizes taken from the data, so they reach
 *          the frame layer through the record layer; with bit 5 as well,
 *          the bytes go unsealed and hit the record layer itself; with
 *          bit 4 the harness offers AES-256-GCM, so both AEADs are fuzzed)
 *
 * OPEN targets resolve through a registry holding the stub plugin
 * (stub_plugin.c, scheme "fz": fz:echo, fz:hold, fz:close, fz:refuse; any
 * other URL fails).  The loop runs without sleeping until the input is
 * written and nothing moves for a few passes, or the link is down; then the
 * link is closed and everything freed, so LeakSanitizer sees each input's
 * leaks.  Invariants: down() runs exactly once, up() at most once, every
 * link_call reply runs exactly once, every outgoing stream's relay finishes
 * exactly once.  Timers (keepalive, dead peer) are set far out: they depend
 * on the clock, which would make runs irreproducible.
 *
 * The stub plugin is found at $FUZZ_STUB_PLUGIN or next to the binary
 * (fuzz_stub_plugin.so).  FUZZ_LOG_LEVEL=debug shows the link's log. */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "broker/link_crypto.h"
#include "broker/link_internal.h"
#include "broker/log.h"
#include "broker/plugins.h"
#include "proto/link.pb-c.h"
#include "rpc/rpc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define M_DIALER 0x01
#define M_HELLO 0x02
#define M_REQUIRE_AUTH 0x04
#define M_PEER_WANTS_AUTH 0x08
#define M_OPEN 0x10
#define M_CHUNKS 0x20
#define M_SHUT 0x40
#define M_CRYPT 0x80

static const uint8_t secret[] = "fuzzing-secret-0123456789abcdef";
static char stub_path[PATH_MAX];

struct run {
	struct event_base *base;
	struct link *link;
	int ups, downs;
	int replies, calls;
	int relays_done, relays;
	struct route_counters counters;
	int clients[2];             /* our ends of the outgoing streams' clients */
	int nclients;
	bool want_open;             /* up() ran: open streams from the loop */
	bool open_on_up;            /* mode bit 4 */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *env = getenv("FUZZ_STUB_PLUGIN");
	const char *lvl = getenv("FUZZ_LOG_LEVEL");
	enum broker_log_level level = BROKER_LOG_ERROR;

	(void)argc;
	signal(SIGPIPE, SIG_IGN);
	if (lvl)
		log_level_parse(lvl, &level);
	log_configure(level, LOG_FORMAT_TEXT);
	if (link_auth_init() < 0) {
		fprintf(stderr, "fuzz_link: libsodium does not initialise\n");
		exit(1);
	}
	if (env) {
		snprintf(stub_path, sizeof(stub_path), "%s", env);
	} else {
		const char *self = (*argv)[0];
		const char *slash = strrchr(self, '/');
		snprintf(stub_path, sizeof(stub_path), "%.*sfuzz_stub_plugin.so", slash ? (int)(slash - self + 1) : 0,
		         self);
	}
	/* Keep it loaded for the whole run: each input's registry then only bumps a reference. */
	if (!dlopen(stub_path, RTLD_NOW)) {
		fprintf(stderr, "fuzz_link: cannot load the stub plugin: %s (set FUZZ_STUB_PLUGIN)\n", dlerror());
		exit(1);
	}
	return 0;
}

/* ------------------------------------------------------------ link callbacks */

static void on_up(void *arg, struct link *l)
{
	struct run *r = arg;

	(void)l;
	r->ups++;
	r->want_open = true;
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

static void on_reply(void *arg, int err, Broker__Rpc__Status status, const char *errtext, const uint8_t *body,
                     size_t len)
{
	struct run *r = arg;

	(void)err;
	(void)status;
	(void)errtext;
	/* Touch every byte so ASan checks the body is what it says. */
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += body[i];
	r->replies++;
}

static void on_relay_done(void *arg, struct relay *rl, bool aborted)
{
	struct run *r = arg;

	(void)rl;
	(void)aborted;
	r->relays_done++;
}

/*
 * The policy the peer's OPENs meet: route id 7 leads to fz:echo, targets of
 * the stub's scheme are allowed, anything else is refused (EPERM), so both
 * the allowed and the refused path run.
 */
static int on_open_check(void *arg, struct link *l, const struct link_open_request *req, char *target, size_t len,
                         char *why, size_t whylen)
{
	(void)arg;
	(void)l;
	if (req->route_id == 7) {
		snprintf(target, len, "fz:echo");
		return 0;
	}
	if (!req->route_id && !strncmp(req->target, "fz:", 3)) {
		snprintf(target, len, "%s", req->target);
		return 0;
	}
	snprintf(why, whylen, "refused by the fuzz policy");
	return -EPERM;
}

/* What our link serves to the peer: shaped like the peer service. */
static Broker__Rpc__Status m_routes_sync(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	struct link *l = ctx;
	struct link_stats st;
	Broker__Link__RoutesSync *req = broker__link__routes_sync__unpack(NULL, len, body);
	Broker__Link__RoutesSyncReply rep = BROKER__LINK__ROUTES_SYNC_REPLY__INIT;
	Broker__Rpc__Status status = BROKER__RPC__STATUS__OK;

	if (!req) {
		snprintf(err, errlen, "routes_sync body does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	link_get_stats(l, &st);
	if (!st.peer_id)
		abort();
	rep.generation = req->generation;
	if (rpc_pack_message(&rep.base, reply, reply_len) < 0)
		status = BROKER__RPC__STATUS__ERROR;
	broker__link__routes_sync__free_unpacked(req, NULL);
	return status;
}

static Broker__Rpc__Status m_close(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                   char *err, size_t errlen)
{
	(void)body;
	(void)len;
	(void)reply;
	(void)reply_len;
	/* A handler that closes the link it was called on (a shutdown request does this). */
	link_close(ctx, "closed by an RPC handler");
	snprintf(err, errlen, "closing");
	return BROKER__RPC__STATUS__UNAVAILABLE;
}

static const struct rpc_method methods[] = {
	{ "peer", "routes_sync", m_routes_sync },
	{ "t", "close", m_close },
	{ NULL, NULL, NULL },
};

/* ------------------------------------------------------------ the fake peer */

static void put_frame(uint8_t **buf, size_t *len, uint8_t type, uint32_t stream, const uint8_t *payload, size_t n)
{
	struct link_frame_header h = { .length = (uint32_t)n, .stream = stream, .type = type };

	*buf = realloc(*buf, *len + LINK_HEADER_SIZE + n);
	if (!*buf)
		abort();
	link_frame_encode(&h, *buf + *len);
	if (n)
		memcpy(*buf + *len + LINK_HEADER_SIZE, payload, n);
	*len += LINK_HEADER_SIZE + n;
}

static void put_message(uint8_t **buf, size_t *len, uint8_t type, const ProtobufCMessage *m)
{
	uint8_t *p;
	size_t n;

	if (rpc_pack_message(m, &p, &n) < 0)
		abort();
	put_frame(buf, len, type, 0, p, n);
	free(p);
}

/* HELLO (and AUTH) as a well-behaved peer would send them to l; with M_CRYPT, the peer's record keys into pc. */
static void peer_greeting(struct link *l, uint8_t mode, uint8_t **buf, size_t *len, struct link_crypto *pc)
{
	Broker__Link__Hello hello = BROKER__LINK__HELLO__INIT;
	uint8_t nonce[32], th[LINK_TRANSCRIPT_SIZE], *hp;
	size_t hn;
	bool peer_dials = !(mode & M_DIALER);

	memset(nonce, 0x5a, sizeof(nonce));
	hello.version_min = LINK_VERSION_MIN;
	hello.version_max = LINK_VERSION_MAX;
	hello.side = peer_dials ? "dialer" : "acceptor";
	hello.broker_id = "fuzz-peer";
	hello.hostname = "fuzzhost";
	hello.software = "fuzz";
	hello.nonce.data = nonce;
	hello.nonce.len = sizeof(nonce);
	hello.auth_required = (mode & (M_PEER_WANTS_AUTH | M_CRYPT)) != 0;
	hello.encrypt = (mode & M_CRYPT) != 0;
	/* Both AEADs get fuzzed: AES-256-GCM offered when bit 4 is set (and this machine has it). */
	hello.aes256gcm = (mode & M_CRYPT) && (mode & M_OPEN) && link_crypto_aes_available();
	if (rpc_pack_message(&hello.base, &hp, &hn) < 0)
		abort();
	put_frame(buf, len, LINK_HELLO, 0, hp, hn);
	/* The transcript both sides compute: the dialer's HELLO first. */
	if (peer_dials)
		link_transcript(hp, hn, l->hello_sent, l->hello_sent_len, th);
	else
		link_transcript(l->hello_sent, l->hello_sent_len, hp, hn, th);
	free(hp);
	if (mode & (M_REQUIRE_AUTH | M_CRYPT)) {
		Broker__Link__Auth auth = BROKER__LINK__AUTH__INIT;
		uint8_t proof[LINK_PROOF_SIZE];

		link_auth_proof(secret, sizeof(secret) - 1, peer_dials, th, proof);
		auth.proof.data = proof;
		auth.proof.len = sizeof(proof);
		put_message(buf, len, LINK_AUTH, &auth.base);
	}
	/* Our link sent its proof on seeing the HELLO above; accept it. */
	if (mode & (M_PEER_WANTS_AUTH | M_CRYPT))
		put_frame(buf, len, LINK_AUTH_OK, 0, NULL, 0);
	if (mode & M_CRYPT)
		link_crypto_keys(secret, sizeof(secret) - 1, peer_dials ? nonce : l->nonce, peer_dials ? l->nonce : nonce,
		                 th, peer_dials, hello.aes256gcm ? LINK_AEAD_AES256GCM : LINK_AEAD_CHACHA20POLY1305, pc);
}

/* The fuzz bytes as the peer would seal them: records of 1..4096 bytes, sizes from the data. */
static uint8_t *seal_input(struct link_crypto *pc, const uint8_t *data, size_t size, size_t *out_len)
{
	struct evbuffer *plain = evbuffer_new(), *wire = evbuffer_new();
	uint8_t *out;

	if (!plain || !wire)
		abort();
	for (size_t off = 0; off < size;) {
		size_t n = ((size_t)data[off] << 4 | (off + 1 < size ? data[off + 1] >> 4 : 0)) % 4096 + 1;
		if (n > size - off)
			n = size - off;
		evbuffer_add(plain, data + off, n);
		if (link_crypto_seal(&pc->tx, plain, n, wire) < 0)
			abort();
		off += n;
	}
	*out_len = evbuffer_get_length(wire);
	out = malloc(*out_len + 1);
	if (!out)
		abort();
	evbuffer_remove(wire, out, *out_len);
	evbuffer_free(plain);
	evbuffer_free(wire);
	return out;
}

/* ------------------------------------------------------------ I/O helpers */

static size_t drain(int fd)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total;
}

static size_t feed(int fd, const uint8_t *p, size_t n)
{
	ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	return w > 0 ? (size_t)w : 0;
}

static void open_streams(struct run *r)
{
	static const char *const targets[] = { "fz:echo", "fz:hold" };
	char err[256];

	for (int i = 0; i < 2; i++) {
		int sv[2];
		struct broker_stream_desc desc = { .flags = BROKER_STREAM_SOCKET, .peer = "fuzz-client" };

		if (!r->link || link_state(r->link) != LINK_UP)
			return;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		desc.rfd = desc.wfd = sv[0];
		/* Bytes to relay, and for the second stream an EOF right behind them. */
		(void)!send(sv[1], "client says hello\n", 18, MSG_NOSIGNAL);
		if (i == 1)
			shutdown(sv[1], SHUT_WR);
		if (link_open_stream(r->link, targets[i], "fuzz-route", (uint64_t)i, &desc, &r->counters, on_relay_done, r,
		                     NULL, err, sizeof(err)) == 0)
			r->relays++;
		r->clients[r->nclients++] = sv[1];
	}
	if (r->link && link_call(r->link, "peer", "routes_sync", (const uint8_t *)"\x08\x01", 2, on_reply, r) == 0)
		r->calls++;
}

/* One pass: feed, drain, run what is ready.  Returns whether anything visible moved. */
static bool pass(struct run *r, int peer, const uint8_t **p, size_t *left, size_t piece)
{
	bool moved = false;

	if (*left && peer >= 0) {
		size_t w = feed(peer, *p, *left < piece ? *left : piece);
		*p += w;
		*left -= w;
		moved = w > 0;
	}
	if (drain(peer))
		moved = true;
	for (int i = 0; i < r->nclients; i++)
		if (drain(r->clients[i]))
			moved = true;
	event_base_loop(r->base, EVLOOP_NONBLOCK);
	if (r->want_open) {
		r->want_open = false;
		if (r->link && r->nclients == 0 && r->open_on_up)
			open_streams(r);
		moved = true;
	}
	return moved;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { .clients = { -1, -1 } };
	struct broker *b;
	struct plugin_registry *reg;
	struct broker_stream_desc carrier = { .flags = BROKER_STREAM_SOCKET, .peer = "fuzz-peer" };
	struct link_params lp = { 0 };
	uint8_t mode, *greet = NULL, *sealed = NULL;
	struct link_crypto peer_crypto = { 0 };
	size_t greet_len = 0, left, piece = SIZE_MAX;
	const uint8_t *p;
	char err[512];
	int sv[2], idle = 0;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;

	r.base = event_base_new();
	b = calloc(1, sizeof(*b));
	if (!r.base || !b)
		abort();
	b->base = r.base;
	if (plugins_create(b, &reg) < 0)
		abort();
	b->plugins = reg;
	if (plugins_load_path(reg, stub_path, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_link: %s\n", err);
		abort();
	}
	plugins_start_all(reg);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	carrier.rfd = carrier.wfd = sv[0];
	lp.base = r.base;
	lp.plugins = reg;
	lp.dialer = (mode & M_DIALER) != 0;
	lp.require_auth = (mode & (M_REQUIRE_AUTH | M_CRYPT)) != 0;
	lp.encrypt = (mode & M_CRYPT) != 0;
	lp.secret = secret;
	lp.secret_len = sizeof(secret) - 1;
	lp.broker_id = "fuzz-us";
	lp.carrier = "fuzz://carrier";
	lp.keepalive_ms = 3600 * 1000;
	lp.timeout_ms = 3600 * 1000;
	lp.handshake_timeout_ms = 3600 * 1000;
	lp.rpc_methods = methods;
	lp.rpc_ctx = &r;
	lp.cb.up = on_up;
	lp.cb.down = on_down;
	lp.cb.open_check = on_open_check;
	lp.cb_arg = &r;
	r.open_on_up = (mode & M_OPEN) != 0;
	if (link_new(&lp, &carrier, &r.link) < 0)
		abort();

	/* A valid greeting first (if asked), run until the link settles, then the fuzz bytes. */
	if (mode & M_HELLO) {
		peer_greeting(r.link, mode, &greet, &greet_len, &peer_crypto);
		p = greet;
		left = greet_len;
		for (int i = 0; i < 50 && r.downs == 0; i++)
			if (!pass(&r, sv[1], &p, &left, SIZE_MAX) && left == 0 && ++idle >= 3)
				break;
		free(greet);
		idle = 0;
	}
	if (mode & M_CHUNKS)
		piece = 1;
	p = data;
	left = size;
	if ((mode & (M_CRYPT | M_HELLO)) == (M_CRYPT | M_HELLO) && !(mode & M_CHUNKS) && size > 0) {
		sealed = seal_input(&peer_crypto, data, size, &left);
		p = sealed;
	}
	for (int i = 0; i < 2000 && r.downs == 0; i++) {
		if (mode & M_CHUNKS && left) {
			/* Piece sizes come from the data itself: 1..64 bytes, often splitting headers. */
			piece = (size_t)(p[0] & 0x3f) + 1;
		}
		bool moved = pass(&r, sv[1], &p, &left, piece);
		if (left == 0 && (mode & M_SHUT) && sv[1] >= 0) {
			shutdown(sv[1], SHUT_WR);
			mode &= (uint8_t)~M_SHUT;
			moved = true;
		}
		if (moved || left)
			idle = 0;
		else if (++idle >= 4)
			break;
	}

	/* Tear down: close the link if it still lives; down() must follow from the loop. */
	if (r.link)
		link_close(r.link, "fuzz input done");
	for (int i = 0; i < 50 && r.downs == 0; i++)
		pass(&r, sv[1], &p, &left, 0);
	if (r.downs != 1 || r.ups > 1)
		abort();
	for (int i = 0; i < 4; i++)
		event_base_loop(r.base, EVLOOP_NONBLOCK);
	if (r.replies != r.calls || r.relays_done != r.relays)
		abort();

	free(sealed);
	close(sv[1]);
	for (int i = 0; i < r.nclients; i++)
		close(r.clients[i]);
	plugins_stop_all(reg);
	plugins_destroy(reg);
	event_base_free(r.base);
	free(b);
	return 0;
}
