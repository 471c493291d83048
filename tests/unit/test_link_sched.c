/* test_link_sched.c - the link's scheduler, byte by byte.
 *
 * A real struct link (broker/link.c, link_stream.c, relay*.c) runs over a
 * socketpair; its streams are opened with link_open_stream and fed from
 * local socketpairs the test writes into; the test is the peer broker on
 * the carrier's other end, parsing every frame the link sends and granting
 * credit.  Positions are counted in DATA bytes on the wire, never in time,
 * so every check is exact on a loaded machine:
 *
 *  - round robin: while 8 bulk streams all have data, none gets ahead of
 *    another by more than a few quanta;
 *  - credit: a stream the peer gives no WINDOW stops at exactly its
 *    initial window, the others go on, and a WINDOW of W lets exactly W
 *    more through;
 *  - control first: with the carrier full, a PONG and an OPEN queued now
 *    go out before any DATA framed after them (the DATA already queued is
 *    capped at LINK_DATA_AHEAD plus one frame);
 *  - an idle stream with a short message (a ping) goes before the bulk
 *    streams' next turns;
 *  - RST: no DATA is framed for a reset stream afterwards, and a stream
 *    aborted on our side while it waits for its turn is torn down and
 *    answered with RST without the pump touching it;
 *  - FIN comes after a stream's last DATA, and once every stream ended
 *    nothing is left scheduled;
 *  - a PING behind several chunks of input is answered within one turn of
 *    the loop (the carrier is read more than one chunk per wakeup).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "broker/link_auth.h"
#include "broker/link_internal.h"
#include "broker/log.h"
#include "proto/link.pb-c.h"
#include "rpc/rpc.h"
#include "tap.h"

#define NB 8                        /* bulk streams: they send until the test ends them */
#define NS 64                       /* stream ids we track (ours are odd and small) */
#define SPIN_MAX 200000
#define SPIN_SECONDS 20             /* a bound for a check that cannot be met (it then fails) */

struct client {
	int fd;                         /* our end; the link relays the other */
	uint32_t id;                    /* its stream id on the link */
	uint64_t target, written;
	bool shut;
	bool hold;                      /* do not half-close at the target (more may come) */
	struct relay *relay;            /* its relay inside the link's broker side */
};

struct peer {
	int fd;                         /* the peer's end of the carrier */
	uint8_t *buf;
	size_t len, cap;
	bool reading;                   /* false: the carrier fills up */
	uint64_t data_total;            /* DATA payload bytes parsed so far, all streams */
	uint64_t data[NS];
	bool no_grant[NS];              /* give this stream no WINDOW */
	bool fin[NS], data_after_fin[NS], rst[NS];
	uint64_t open_pos[NS];          /* data_total when its OPEN arrived (+1; 0: not yet) */
	uint64_t last_pos[NS];          /* data_total after its last DATA frame */
	int pongs;
	uint64_t pong_pos;
	uint64_t lead_max;              /* largest spread between the bulk streams while all were busy */
	bool measure_lead;
	uint32_t run_id;                /* the stream of the current run of DATA frames */
	uint64_t run, run_max;          /* its bytes; the longest run while measuring */
	bool waited;                    /* a peer write had to let the link run */
};

static uint32_t stalled_id, ping_id, late_id, reset_id;
static uint64_t reset_pos;
static struct event_base *base;
static struct link *lk;
static struct peer pr;
static struct client cl[NB + 3];
static int nclients;
static bool up, down;
static uint8_t pattern[64 * 1024];

static void on_up(void *arg, struct link *l)
{
	(void)arg;
	(void)l;
	up = true;
}

static void on_down(void *arg, struct link *l, const char *why)
{
	(void)arg;
	(void)l;
	diag("link down: %s", why);
	down = true;
	lk = NULL;
}

static void relay_done(void *arg, struct relay *r, bool aborted)
{
	(void)arg;
	(void)r;
	(void)aborted;
}

/* ------------------------------------------------------------ the peer */

static void peer_write(const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(pr.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			printf("Bail out! peer write: %s\n", strerror(errno));
			exit(1);
		}
		pr.waited = true;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
}

static void peer_frame(uint8_t type, uint32_t stream, const void *payload, size_t n)
{
	struct link_frame_header h = { .length = (uint32_t)n, .stream = stream, .type = type };
	uint8_t hdr[LINK_HEADER_SIZE];

	link_frame_encode(&h, hdr);
	peer_write(hdr, sizeof(hdr));
	if (n)
		peer_write(payload, n);
}

static void peer_window(uint32_t stream, uint32_t add)
{
	uint8_t w[4] = { (uint8_t)add, (uint8_t)(add >> 8), (uint8_t)(add >> 16), (uint8_t)(add >> 24) };

	peer_frame(LINK_WINDOW, stream, w, sizeof(w));
}

/* Bulk streams still sending, for the round-robin spread. */
static void peer_track_lead(void)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (int i = 0; i < NB; i++) {
		if (cl[i].id == stalled_id)
			continue;   /* held back on purpose (no credit) */
		lo = pr.data[cl[i].id] < lo ? pr.data[cl[i].id] : lo;
		hi = pr.data[cl[i].id] > hi ? pr.data[cl[i].id] : hi;
	}
	if (hi - lo > pr.lead_max) {
		pr.lead_max = hi - lo;
		if (getenv("SCHED_DEBUG"))
			diag("spread %llu at %llu", (unsigned long long)(hi - lo), (unsigned long long)pr.data_total);
	}
}

/* Parse every whole frame in pr.buf. */
static void peer_parse(void)
{
	size_t off = 0;

	while (pr.len - off >= LINK_HEADER_SIZE) {
		struct link_frame_header h;

		link_frame_decode(pr.buf + off, &h);
		if (pr.len - off < LINK_HEADER_SIZE + h.length)
			break;
		uint32_t id = h.stream < NS ? h.stream : 0;
		switch (h.type) {
		case LINK_DATA:
			pr.data_total += h.length;
			pr.data[id] += h.length;
			pr.last_pos[id] = pr.data_total;
			if (pr.fin[id])
				pr.data_after_fin[id] = true;
			if (!pr.no_grant[id] && h.length)
				peer_window(h.stream, h.length);
			if (pr.measure_lead)
				peer_track_lead();
			pr.run = h.stream == pr.run_id ? pr.run + h.length : h.length;
			pr.run_id = h.stream;
			if (pr.measure_lead && pr.run > pr.run_max)
				pr.run_max = pr.run;
			break;
		case LINK_OPEN:
			pr.open_pos[id] = pr.data_total + 1;
			break;
		case LINK_FIN:
			pr.fin[id] = true;
			break;
		case LINK_RST:
			pr.rst[id] = true;
			break;
		case LINK_PONG:
			pr.pongs++;
			pr.pong_pos = pr.data_total;
			break;
		}
		off += LINK_HEADER_SIZE + h.length;
	}
	memmove(pr.buf, pr.buf + off, pr.len - off);
	pr.len -= off;
}

static void peer_read(void)
{
	for (;;) {
		if (pr.cap - pr.len < 65536) {
			pr.cap = pr.cap ? pr.cap * 2 : 1 << 20;
			pr.buf = realloc(pr.buf, pr.cap);
			if (!pr.buf)
				exit(1);
		}
		ssize_t n = recv(pr.fd, pr.buf + pr.len, pr.cap - pr.len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		pr.len += (size_t)n;
		peer_parse();
	}
}

/* Bytes the link wrote that the peer has not read yet. */
static size_t peer_unread(void)
{
	int n = 0;

	ioctl(pr.fd, FIONREAD, &n);
	return (size_t)n + pr.len;
}

/* ------------------------------------------------------------ clients and the loop */

static int client_open(uint64_t target)
{
	struct client *c = &cl[nclients];
	struct broker_stream_desc desc = { .flags = BROKER_STREAM_SOCKET, .peer = "test-client" };
	static struct route_counters counters[NB + 3];
	char err[256];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	desc.rfd = desc.wfd = sv[0];
	c->fd = sv[1];
	/* Room for megabytes: a bulk stream's source never runs dry between two turns of the loop. */
	int big = 8 * 1024 * 1024;
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	c->target = target;
	c->id = lk->next_stream_id;   /* the id link_open_stream is about to use */
	if (link_open_stream(lk, "test:target", "sched", 0, &desc, &counters[nclients], relay_done, NULL, &c->relay, err,
	                     sizeof(err)) < 0) {
		printf("Bail out! link_open_stream: %s\n", err);
		exit(1);
	}
	return nclients++;
}

/* Keep each client's socket full until it wrote its target, then half-close it. */
static void clients_top_up(void)
{
	for (int i = 0; i < nclients; i++) {
		struct client *c = &cl[i];
		while (c->fd >= 0 && c->written < c->target) {
			size_t n = c->target - c->written < sizeof(pattern) ? (size_t)(c->target - c->written)
			                                                     : sizeof(pattern);
			ssize_t w = send(c->fd, pattern, n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w <= 0)
				break;
			c->written += (uint64_t)w;
		}
		if (c->fd >= 0 && !c->shut && !c->hold && c->written >= c->target) {
			shutdown(c->fd, SHUT_WR);
			c->shut = true;
		}
		/* Drain whatever comes back (nothing does: the peer sends no DATA). */
		char junk[4096];
		while (c->fd >= 0 && recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
	}
}

/* One turn: clients write, the link runs, the peer reads (if it does). */
static void turn(void)
{
	clients_top_up();
	event_base_loop(base, EVLOOP_NONBLOCK);
	if (pr.reading)
		peer_read();
}

/* Run turns until nothing moves for a few of them: with the peer not reading, the carrier is full. */
static void settle(void)
{
	size_t last = SIZE_MAX, same = 0;

	time_t end = time(NULL) + SPIN_SECONDS;

	for (int i = 0; i < SPIN_MAX && same < 20 && time(NULL) < end; i++) {
		turn();
		size_t now = peer_unread() + evbuffer_get_length(lk->out);
		same = now == last ? same + 1 : 0;
		last = now;
	}
}

static bool until(bool (*cond)(void))
{
	time_t end = time(NULL) + SPIN_SECONDS;

	for (int i = 0; i < SPIN_MAX && !down && time(NULL) < end; i++) {
		if (cond())
			return true;
		turn();
	}
	return cond();
}

/* ------------------------------------------------------------ conditions */


static bool link_is_up(void)
{
	return up;
}

static bool stalled_at_window(void)
{
	if (pr.data[stalled_id] < LINK_INITIAL_WINDOW)
		return false;
	/* The others keep going: each moved well past the stalled one. */
	for (int i = 0; i < NB; i++)
		if (cl[i].id != stalled_id && pr.data[cl[i].id] < 2 * LINK_INITIAL_WINDOW)
			return false;
	return true;
}

static bool stalled_moved_w(void)
{
	return pr.data[stalled_id] >= LINK_INITIAL_WINDOW + 100000;
}

static bool ping_seen(void)
{
	return pr.data[ping_id] >= 1 && pr.pongs >= 1 && pr.open_pos[late_id] != 0;
}

static bool bulk_done(void)
{
	for (int i = 0; i < NB; i++)
		if (cl[i].id != reset_id && !pr.fin[cl[i].id])
			return false;
	return true;
}

static uint32_t aborted_id;

static bool aborted_rst(void)
{
	return pr.rst[aborted_id];
}

static bool streams_gone(void)
{
	struct link_stats st;

	link_get_stats(lk, &st);
	return st.streams_open == 0;
}

/* ------------------------------------------------------------ main */

int main(void)
{
	struct broker_stream_desc carrier = { .flags = BROKER_STREAM_SOCKET, .peer = "test-peer" };
	struct link_params lp = { 0 };
	Broker__Link__Hello hello = BROKER__LINK__HELLO__INIT;
	uint8_t nonce[32], *msg;
	size_t msg_len;
	int sv[2];

	plan(19);
	signal(SIGPIPE, SIG_IGN);
	log_configure(BROKER_LOG_ERROR, LOG_FORMAT_TEXT);
	if (link_auth_init() < 0) {
		printf("Bail out! libsodium does not initialise\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	base = event_base_new();
	if (!base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	pr.fd = sv[1];
	pr.reading = true;
	carrier.rfd = carrier.wfd = sv[0];
	lp.base = base;
	lp.dialer = true;
	lp.broker_id = "sched-test";
	lp.carrier = "test://carrier";
	lp.keepalive_ms = 3600 * 1000;
	lp.timeout_ms = 3600 * 1000;
	lp.handshake_timeout_ms = 3600 * 1000;
	lp.cb.up = on_up;
	lp.cb.down = on_down;
	if (link_new(&lp, &carrier, &lk) < 0)
		return 1;

	memset(nonce, 0x5a, sizeof(nonce));
	hello.version_min = LINK_VERSION_MIN;
	hello.version_max = LINK_VERSION_MAX;
	hello.side = "acceptor";
	hello.broker_id = "peer";
	hello.hostname = "peerhost";
	hello.software = "test";
	hello.nonce.data = nonce;
	hello.nonce.len = sizeof(nonce);
	if (rpc_pack_message(&hello.base, &msg, &msg_len) < 0)
		return 1;
	peer_frame(LINK_HELLO, 0, msg, msg_len);
	free(msg);
	ok(until(link_is_up), "the link comes up against the test peer");

	/* ---- round robin and credit: 8 bulk streams, one of which gets no WINDOW ---- */
	for (int i = 0; i < NB; i++) {
		client_open(UINT64_MAX);
		cl[i].hold = true;
	}
	stalled_id = cl[NB - 1].id;
	pr.no_grant[stalled_id] = true;
	pr.measure_lead = true;
	ok(until(stalled_at_window), "the others go on while a stream without credit waits");
	is_int(pr.data[stalled_id], LINK_INITIAL_WINDOW,
	       "the stream without credit sent exactly its initial window, %u bytes", LINK_INITIAL_WINDOW);
	pr.no_grant[stalled_id] = false;
	peer_window(stalled_id, 100000);
	pr.no_grant[stalled_id] = true;   /* only the 100000: count what it sends for them */
	until(stalled_moved_w);
	for (int i = 0; i < 200; i++)
		turn();
	is_int(pr.data[stalled_id], LINK_INITIAL_WINDOW + 100000, "a WINDOW of 100000 lets exactly 100000 more through");
	pr.no_grant[stalled_id] = false;
	peer_window(stalled_id, 4 * 1024 * 1024);
	diag("largest spread between the bulk streams while all were sending: %llu bytes; longest run of one "
	     "stream's DATA: %llu bytes", (unsigned long long)pr.lead_max, (unsigned long long)pr.run_max);
	ok(pr.lead_max <= 2 * LINK_QUANTUM,
	   "round robin: no bulk stream got more than 2 quanta ahead of another (spread %llu, quantum %u)",
	   (unsigned long long)pr.lead_max, LINK_QUANTUM);
	pr.measure_lead = false;

	/* ---- control frames and a ping with the carrier full ---- */
	int ping = client_open(0);
	cl[ping].hold = true;   /* opened now (its OPEN goes out), nothing to say yet */
	ping_id = cl[ping].id;
	for (int i = 0; i < 50; i++)
		turn();
	ok(pr.open_pos[ping_id] != 0, "the ping stream is open");
	pr.reading = false;
	settle();
	size_t queued = evbuffer_get_length(lk->out);
	int sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);
	getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
	diag("carrier full: %zu bytes in the link's output, %zu unread by the peer, SO_SNDBUF %d", queued,
	     peer_unread(), sndbuf);
	ok(queued <= LINK_DATA_AHEAD + LINK_MAX_DATA + LINK_HEADER_SIZE,
	   "DATA queued in the link's output stays within LINK_DATA_AHEAD + one frame (%zu bytes)", queued);
	ok(sndbuf > 0 && sndbuf <= 2 * LINK_CARRIER_BUFFER, "the carrier's send buffer is %d bytes (at most 2 x %d)",
	   sndbuf, LINK_CARRIER_BUFFER);
	/* Everything framed from here on must come after the PONG, the OPEN and the ping. */
	uint64_t ahead = pr.data_total + peer_unread() + evbuffer_get_length(lk->out);
	uint64_t now64 = 42;
	peer_frame(LINK_PING, 0, &now64, sizeof(now64));
	int late = client_open(0);
	cl[late].hold = true;
	late_id = cl[late].id;
	cl[ping].target = 1;   /* one byte: a ping */
	for (int i = 0; i < 50; i++)
		turn();
	/* The peer resets a busy stream: nothing may be framed for it afterwards. */
	reset_id = cl[0].id;
	reset_pos = pr.data_total + peer_unread() + evbuffer_get_length(lk->out);
	peer_frame(LINK_RST, reset_id, NULL, 0);
	for (int i = 0; i < 50; i++)
		turn();
	pr.reading = true;
	ok(until(ping_seen), "the ping's DATA, the PONG and the new stream's OPEN arrive");
	ok(pr.pong_pos <= ahead, "PONG: no DATA framed after the PING arrived went before it (%llu <= %llu)",
	   (unsigned long long)pr.pong_pos, (unsigned long long)ahead);
	ok(pr.open_pos[late_id] - 1 <= ahead, "OPEN: no DATA framed after it went before it (%llu <= %llu)",
	   (unsigned long long)(pr.open_pos[late_id] - 1), (unsigned long long)ahead);
	ok(pr.last_pos[ping_id] - 1 <= ahead,
	   "the ping's byte went before the bulk streams' next turns (%llu DATA bytes before it, %llu queued when "
	   "it came)",
	   (unsigned long long)(pr.last_pos[ping_id] - 1), (unsigned long long)ahead);
	/* ---- the end: FIN after the last DATA, nothing left scheduled ---- */
	for (int i = 0; i < nclients; i++) {
		cl[i].target = cl[i].written;
		cl[i].hold = false;
	}
	ok(until(bulk_done), "every bulk stream but the reset one sent FIN");
	ok(pr.last_pos[reset_id] <= reset_pos,
	   "RST: no DATA was framed for the reset stream afterwards (last at %llu, %llu queued when reset)",
	   (unsigned long long)pr.last_pos[reset_id], (unsigned long long)reset_pos);
	bool order = true, whole = true;
	for (int i = 1; i < NB; i++) {
		order = order && !pr.data_after_fin[cl[i].id];
		whole = whole && pr.data[cl[i].id] == cl[i].written;
		if (pr.data[cl[i].id] != cl[i].written)
			diag("stream %u: %llu bytes written, %llu arrived", cl[i].id, (unsigned long long)cl[i].written,
			     (unsigned long long)pr.data[cl[i].id]);
	}
	ok(order && whole, "each stream's FIN came after all its DATA, every byte written arrived");
	/* The peer ends its side of each stream; they close and leave nothing scheduled. */
	for (int i = 0; i < nclients; i++)
		if (cl[i].id != reset_id)
			peer_frame(LINK_FIN, cl[i].id, NULL, 0);
	for (int i = 0; i < nclients; i++)
		if (cl[i].fd >= 0 && !cl[i].shut) {
			shutdown(cl[i].fd, SHUT_WR);
			cl[i].shut = true;
		}
	ok(until(streams_gone) && lk->ready_head == NULL && !link_streams_runnable(lk),
	   "once every stream ended none is open and none is scheduled");

	/*
	 * ---- a stream aborted here while it waits for its turn ----
	 * (the route is removed, a drain times out, its local socket fails).
	 * Its DATA waits in its buffer, the carrier has just been drained: the
	 * RST's flush pumps, and must not pump the dying stream (it did, and
	 * released its relay a second time: a crash under the soak).
	 */
	int ab = client_open(UINT64_MAX);
	cl[ab].hold = true;
	aborted_id = cl[ab].id;
	pr.reading = false;
	for (int i = 0; i < 20; i++)
		turn();
	settle();
	pr.reading = true;
	peer_read();   /* room in the carrier again; the link has not run since */
	relay_abort(cl[ab].relay);
	cl[ab].target = cl[ab].written;
	cl[ab].hold = false;
	ok(until(aborted_rst) && !down && lk->ready_head == NULL,
	   "a stream aborted while its data waits: RST sent, nothing left scheduled, the link up");
	close(cl[ab].fd);
	cl[ab].fd = -1;

	/* ---- a PING behind several chunks of input: answered in one turn of the loop ---- */
	int big = 4 * 1024 * 1024;
	if (setsockopt(pr.fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(pr.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	static uint8_t filler[LINK_MAX_DATA];
	size_t chunks = 0, room = 0;
	socklen_t rl = sizeof(big);
	getsockopt(pr.fd, SOL_SOCKET, SO_SNDBUF, &big, &rl);
	room = (size_t)big / 2;   /* what the peer can queue without blocking, with margin */
	if (room > 12 * (LINK_MAX_DATA + LINK_HEADER_SIZE) + 64)
		room = 12 * (LINK_MAX_DATA + LINK_HEADER_SIZE) + 64;
	int before = pr.pongs;
	pr.waited = false;
	/* DATA for a closed stream is read and dropped: it only takes the link's time. */
	while ((chunks + 1) * (LINK_MAX_DATA + LINK_HEADER_SIZE) < room && chunks < 12) {
		peer_frame(LINK_DATA, cl[1].id, filler, sizeof(filler));
		chunks++;
	}
	peer_frame(LINK_PING, 0, &now64, sizeof(now64));
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	peer_read();
	diag("PING behind %zu chunks of %u bytes (peer send buffer %d)", chunks, LINK_MAX_DATA, big);
	ok(chunks >= 2 && !pr.waited && pr.pongs == before + 1,
	   "a PING behind %zu chunks of input is answered in one turn of the loop", chunks);
	ok(!down, "the link stayed up");

	link_close(lk, "test over");
	for (int i = 0; i < 10 && !down; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	for (int i = 0; i < nclients; i++)
		close(cl[i].fd);
	close(pr.fd);
	free(pr.buf);
	event_base_free(base);
	return done_testing();
}
