/* link.c - the link's carrier I/O, frame parsing, HELLO/AUTH handshake,
 * keepalive and RPC.  Streams live in link_stream.c. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/util.h>

#include "broker/errfmt.h"
#include "broker/link_auth.h"
#include "broker/link_crypto.h"
#include "broker/link_internal.h"
#include "broker/log.h"
#include "broker/platform.h"
#include "proto/link.pb-c.h"

#define TAG "link"

struct link_call {
	struct link_call *next;
	uint64_t id;
	uint64_t deadline_us;         /* link_now_us() after which it fails with -ETIMEDOUT */
	link_reply_fn reply;
	void *arg;
};

/* Defaults for link_params bounds left at 0 (brokerd passes its settings). */
#define DEFAULT_MAX_STREAMS 1024
#define DEFAULT_MAX_PENDING_CONNECTS 256
#define DEFAULT_MAX_OUTPUT (32u * 1024 * 1024)
#define DEFAULT_RPC_TIMEOUT_MS 30000
/* HELLO strings: ours are far shorter; longer ones are refused, not stored. */
#define HELLO_ID_MAX 128
#define HELLO_TEXT_MAX 256

uint64_t link_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

enum link_state link_state(const struct link *l)
{
	return l->state;
}

void *link_rpc_context(const struct link *l)
{
	return l->p.rpc_ctx;
}

void link_count_refusal(struct link *l, enum link_refusal what)
{
	if (what == LINK_REFUSED_LISTEN)
		l->stats.listens_refused++;
	else
		l->stats.refused_by_peer++;
}

/* ------------------------------------------------------------ teardown */

static void link_free(struct link *l)
{
	while (l->calls) {
		struct link_call *c = l->calls;
		l->calls = c->next;
		free(c);
	}
	link_streams_free(l);
	if (l->rev)
		event_free(l->rev);
	if (l->wev)
		event_free(l->wev);
	if (l->keepalive)
		event_free(l->keepalive);
	if (l->reaper)
		event_free(l->reaper);
	if (l->flush_ev)
		event_free(l->flush_ev);
	if (l->rpc_timer)
		event_free(l->rpc_timer);
	if (l->overflow_ev)
		event_free(l->overflow_ev);
	if (l->resume)
		event_free(l->resume);
	if (l->in)
		evbuffer_free(l->in);
	if (l->out)
		evbuffer_free(l->out);
	if (l->wire_in)
		evbuffer_free(l->wire_in);
	if (l->wire_out)
		evbuffer_free(l->wire_out);
	if (l->crypto) {
		link_crypto_wipe(l->crypto);
		free(l->crypto);
	}
	free(l->hello_sent);
	free(l->carrier);
	free(l->broker_id);
	free(l->peer_id);
	free(l->peer_host);
	free(l->peer_software);
	free(l);
}

static void link_close_carrier(struct link *l)
{
	if (l->wfd != l->rfd && l->wfd != BROKER_FD_NONE)
		platform_fd_close(l->wfd);
	if (l->rfd != BROKER_FD_NONE)
		platform_fd_close(l->rfd);
	l->rfd = l->wfd = BROKER_FD_NONE;
	if (l->carrier_on_close) {
		l->carrier_on_close(l->carrier_close_arg);
		l->carrier_on_close = NULL;
	}
}

/* Runs from the loop after link_close, so no caller has the link on its stack. */
static void link_reap(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	if (l->busy > 0) {
		struct timeval now = { 0, 0 };
		event_add(l->reaper, &now);
		return;
	}
	if (l->p.cb.down)
		l->p.cb.down(l->p.cb_arg, l, l->close_reason);
	link_free(l);
}

static void link_fail_calls(struct link *l)
{
	while (l->calls) {
		struct link_call *c = l->calls;
		l->calls = c->next;
		c->reply(c->arg, -ECONNRESET, BROKER__RPC__STATUS__UNAVAILABLE, "link closed", NULL, 0);
		free(c);
	}
}

static void link_write_once(struct link *l);

static void link_shutdown(struct link *l, const char *why, bool say_goaway)
{
	struct timeval now = { 0, 0 };

	if (l->state == LINK_CLOSED)
		return;
	snprintf(l->close_reason, sizeof(l->close_reason), "%s", why);
	if (say_goaway && l->wfd != BROKER_FD_NONE) {
		/* Best effort: one non-blocking attempt so the peer can log why. */
		link_send(l, LINK_GOAWAY, 0, why, strlen(why));
		link_write_once(l);
	}
	l->state = LINK_CLOSED;
	event_del(l->rev);
	event_del(l->wev);
	event_del(l->keepalive);
	event_del(l->flush_ev);
	event_del(l->rpc_timer);
	event_del(l->overflow_ev);
	event_del(l->resume);
	l->busy++;
	link_streams_reset_all(l);
	link_fail_calls(l);
	l->busy--;
	link_close_carrier(l);
	event_add(l->reaper, &now);
}

void link_close(struct link *l, const char *why)
{
	if (l->state == LINK_CLOSED)
		return;
	log_info(TAG, "%s: closing: %s", l->carrier, why);
	link_shutdown(l, why, true);
}

void link_protocol_error(struct link *l, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	l->stats.protocol_errors++;
	log_warn(TAG, "%s: protocol error from peer %s: %s; dropping the link", l->carrier,
	         l->peer_id ? l->peer_id : "(before HELLO)", why);
	link_shutdown(l, why, true);
}

void link_log_limited(struct link *l, enum broker_log_level level, const char *fmt, ...)
{
	uint64_t now = link_now_us();
	char why[300];
	va_list ap;

	/* A flood of bad frames must not become a flood of log lines. */
	if (l->refusal_logged_us && now - l->refusal_logged_us < 1000000) {
		l->refusals_unlogged++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (l->refusals_unlogged)
		log_write(level, TAG, "%s: %s (and %llu more lines like it in the last second, not logged)",
		          l->carrier, why, (unsigned long long)l->refusals_unlogged);
	else
		log_write(level, TAG, "%s: %s", l->carrier, why);
	l->refusal_logged_us = now;
	l->refusals_unlogged = 0;
}

/* ------------------------------------------------------------ output */

static bool link_process_input(struct link *l);

static bool tx_sealed(const struct link *l)
{
	return l->crypto && l->crypto->tx_on;
}

/*
 * The bytes the carrier gets next: wire_out while it holds anything (the
 * plaintext handshake moved there at the switch, or sealed records), else
 * a plaintext link's output, else a few records sealed from it.  Sealing
 * only once wire_out is empty leaves the queue in l->out, where the stream
 * pump measures it, so backpressure works the same sealed or not.
 */
static struct evbuffer *link_next_output(struct link *l, int *rc)
{
	*rc = 0;
	if (evbuffer_get_length(l->wire_out) > 0)
		return l->wire_out;
	if (!tx_sealed(l))
		return l->out;
	for (int i = 0; i < 4 && evbuffer_get_length(l->out) > 0; i++)
		if ((*rc = link_crypto_seal(&l->crypto->tx, l->out, LINK_RECORD_MAX, l->wire_out)) < 0)
			return NULL;
	return l->wire_out;
}

/* One non-blocking write of what is queued (a GOAWAY on the way out), sealed if the link is. */
static void link_write_once(struct link *l)
{
	for (int i = 0; tx_sealed(l) && i < 16 && evbuffer_get_length(l->out) > 0; i++)
		if (link_crypto_seal(&l->crypto->tx, l->out, LINK_RECORD_MAX, l->wire_out) < 0)
			break;
	if (evbuffer_get_length(l->wire_out) > 0)
		platform_write_buffer(l->wfd, l->wire_out, evbuffer_get_length(l->wire_out));
	if (!tx_sealed(l) && evbuffer_get_length(l->wire_out) == 0)
		platform_write_buffer(l->wfd, l->out, evbuffer_get_length(l->out));
}

/* Where bytes read from the carrier go: sealed records wait in wire_in to be opened. */
static struct evbuffer *link_read_target(struct link *l)
{
	return l->crypto && l->crypto->rx_on ? l->wire_in : l->in;
}

/*
 * On a sealed link, open the complete records read so far into l->in.
 * 0, or <0 and the link is shut: a record out of bounds is a protocol
 * error, one that does not verify drops the link as tampered with.
 */
static int link_open_records(struct link *l)
{
	char why[200];
	int rc;

	if (!l->crypto || !l->crypto->rx_on)
		return 0;
	rc = link_crypto_open(&l->crypto->rx, l->wire_in, l->in, why, sizeof(why));
	if (rc == -EBADMSG) {
		l->stats.protocol_errors++;
		log_warn(TAG, "%s: integrity check failed on the link from peer %s: %s; dropping the link", l->carrier,
		         l->peer_id ? l->peer_id : "?", why);
		link_shutdown(l, "integrity check failed (a sealed record does not verify)", true);
		return rc;
	}
	if (rc < 0) {
		link_protocol_error(l, "%s", why);
		return rc;
	}
	return 0;
}

/* After a failed write: take whatever the peer sent last (a GOAWAY) so its reason is kept. */
static void link_drain_goaway(struct link *l)
{
	for (int i = 0; i < 4 && l->state != LINK_CLOSED; i++) {
		struct evbuffer_iovec vec[2];
		struct evbuffer *into = link_read_target(l);
		int nvec = evbuffer_reserve_space(into, RELAY_READ_RESERVE, vec, 2);
		ssize_t n;

		if (nvec < 0)
			return;
		n = platform_read_iov(l->rfd, vec, nvec);
		if (n <= 0)
			return;
		size_t left = (size_t)n;
		for (int v = 0; v < nvec; v++) {
			if (vec[v].iov_len > left)
				vec[v].iov_len = left;
			left -= vec[v].iov_len;
		}
		evbuffer_commit_space(into, vec, nvec);
		l->stats.bytes_received += (uint64_t)n;
		if (link_open_records(l) < 0)
			return;
		link_process_input(l);
	}
}

/* Write the output until it is empty (0), the carrier is full (-EAGAIN) or fails (the link is shut). */
static int link_write_out(struct link *l)
{
	for (;;) {
		int rc;
		struct evbuffer *b = link_next_output(l, &rc);
		if (!b) {
			link_shutdown(l, "out of memory sealing a record", false);
			return rc;
		}
		if (evbuffer_get_length(b) == 0)
			return 0;
		ssize_t n = platform_write_buffer(l->wfd, b, 4 * LINK_MAX_DATA);
		if (n == -EAGAIN || n == 0)
			return -EAGAIN;
		if (n < 0) {
			char why[128];
			/* The peer may have said why it hung up: read that before blaming the write. */
			link_drain_goaway(l);
			if (l->state == LINK_CLOSED)
				return -EPIPE;
			snprintf(why, sizeof(why), "carrier write failed: %s", strerror((int)-n));
			log_warn(TAG, "%s: %s", l->carrier, why);
			link_shutdown(l, why, false);
			return (int)n;
		}
		l->stats.bytes_sent += (uint64_t)n;
	}
}

/*
 * The one place the link's output moves.  Each round frames DATA from the
 * runnable streams (only while little is queued: link_streams_pump) and
 * writes; it goes round again while the carrier takes everything and a
 * stream is still runnable.  A drained output therefore always resumes the
 * streams, and frames queued by callbacks inside the pump are sent by the
 * same call.  After LINK_FLUSH_ROUNDS it yields to the loop: the write
 * event, armed while anything is left, continues.
 */
void link_flush(struct link *l)
{
	if (l->state == LINK_CLOSED)
		return;
	if (l->flushing) {
		l->flush_again = true;
		return;
	}
	l->flushing = true;
	l->busy++;
	for (int round = 0; round < LINK_FLUSH_ROUNDS; round++) {
		l->flush_again = false;
		link_streams_pump(l);
		if (l->state == LINK_CLOSED || link_write_out(l) < 0)
			break;
		if (!l->flush_again && !link_streams_runnable(l))
			break;
	}
	l->flushing = false;
	if (l->state != LINK_CLOSED) {
		if (evbuffer_get_length(l->out) > 0 || evbuffer_get_length(l->wire_out) > 0 || link_streams_runnable(l))
			event_add(l->wev, NULL);
		else
			event_del(l->wev);
	}
	l->busy--;
}

static void link_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	l->flush_pending = false;
	l->busy++;
	link_flush(l);
	l->busy--;
}

void link_flush_soon(struct link *l)
{
	if (l->state == LINK_CLOSED || l->flush_pending)
		return;
	if (l->flushing) {
		l->flush_again = true;
		return;
	}
	l->flush_pending = true;
	event_active(l->flush_ev, EV_TIMEOUT, 0);
}

/*
 * The hard limit on queued output: DATA is held back by the pump (the
 * scheduler never queues much of it), so what grows here is what the peer
 * provokes (PONG, RST, OPEN_ERR, RPC replies) while it never reads.  Past
 * max_output the frame is dropped and the link is shut from the loop, so
 * no caller loses the link (or its streams) under its feet.
 */
static bool link_output_full(struct link *l, size_t len)
{
	if (l->overflowed)
		return true;
	if (evbuffer_get_length(l->out) + LINK_HEADER_SIZE + len <= l->p.max_output)
		return false;
	l->overflowed = true;
	event_active(l->overflow_ev, EV_TIMEOUT, 0);
	return true;
}

static void link_overflow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	char why[200];

	if (l->state == LINK_CLOSED)
		return;
	snprintf(why, sizeof(why), "the peer does not read: %zu bytes queued for it (limit %zu, --link-max-output)",
	         evbuffer_get_length(l->out), l->p.max_output);
	l->stats.protocol_errors++;
	log_warn(TAG, "%s: %s; dropping the link", l->carrier, why);
	link_shutdown(l, why, false);
}

static void link_put_header(struct link *l, uint8_t type, uint32_t stream, size_t len)
{
	struct link_frame_header h = { .length = (uint32_t)len, .stream = stream, .type = type };
	uint8_t hdr[LINK_HEADER_SIZE];

	link_frame_encode(&h, hdr);
	evbuffer_add(l->out, hdr, sizeof(hdr));
	l->stats.frames_sent++;
}

void link_send(struct link *l, uint8_t type, uint32_t stream, const void *payload, size_t len)
{
	if (l->state == LINK_CLOSED || link_output_full(l, len))
		return;
	link_put_header(l, type, stream, len);
	if (len)
		evbuffer_add(l->out, payload, len);
}

void link_send_buffer(struct link *l, uint8_t type, uint32_t stream, struct evbuffer *from, size_t len)
{
	if (l->state == LINK_CLOSED)
		return;
	if (link_output_full(l, len)) {
		evbuffer_drain(from, len);   /* the link is going: the bytes would never be sent */
		return;
	}
	link_put_header(l, type, stream, len);
	evbuffer_remove_buffer(from, l->out, len);
}

static void link_send_message(struct link *l, uint8_t type, const ProtobufCMessage *msg)
{
	uint8_t *buf;
	size_t len;

	if (rpc_pack_message(msg, &buf, &len) < 0) {
		link_shutdown(l, "out of memory", false);
		return;
	}
	link_send(l, type, 0, buf, len);
	free(buf);
}

static void link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	l->busy++;
	link_flush(l);
	l->busy--;
}

/* ------------------------------------------------------------ handshake */

static void link_send_hello(struct link *l)
{
	Broker__Link__Hello hello = BROKER__LINK__HELLO__INIT;
	char host[256] = "";
	uint8_t *buf;
	size_t len;

	gethostname(host, sizeof(host) - 1);
	hello.version_min = LINK_VERSION_MIN;
	hello.version_max = LINK_VERSION_MAX;
	hello.side = l->p.dialer ? "dialer" : "acceptor";
	hello.broker_id = l->broker_id;
	hello.hostname = host;
	hello.software = "brokerd " PACKAGE_VERSION;
	hello.nonce.data = l->nonce;
	hello.nonce.len = sizeof(l->nonce);
	hello.auth_required = l->p.require_auth;
	hello.encrypt = l->p.encrypt;
	hello.aes256gcm = l->p.encrypt && link_crypto_aes_available();
	/* Kept as sent: the transcript covers these exact bytes. */
	if (rpc_pack_message(&hello.base, &buf, &len) < 0) {
		link_shutdown(l, "out of memory", false);
		return;
	}
	link_send(l, LINK_HELLO, 0, buf, len);
	l->hello_sent = buf;
	l->hello_sent_len = len;
}

/*
 * After our AUTH_OK (the last plaintext frame we send), everything we send
 * is sealed; what is queued up to here goes out plain first.
 */
static void link_seal_tx(struct link *l)
{
	if (!l->crypto || l->crypto->tx_on)
		return;
	evbuffer_add_buffer(l->wire_out, l->out);
	l->crypto->tx_on = true;
}

/* After the peer's AUTH_OK, every byte it sends is sealed: the rest of l->in too. */
static void link_seal_rx(struct link *l)
{
	if (!l->crypto || l->crypto->rx_on)
		return;
	evbuffer_add_buffer(l->wire_in, l->in);
	l->crypto->rx_on = true;
	link_open_records(l);
}

static void link_maybe_up(struct link *l)
{
	/* Up only when both directions are settled: our check of the peer, and the peer's check of us. */
	if (l->state != LINK_HANDSHAKE || !l->hello_received || (l->p.require_auth && !l->auth_ok) ||
	    (l->peer_wants_auth && !l->auth_accepted))
		return;
	l->state = LINK_UP;
	l->up_since = time(NULL);
	log_info(TAG, "%s: up: peer %s (%s, %s), protocol %u%s%s%s%s", l->carrier, l->peer_id, l->peer_host,
	         l->peer_software, l->version, l->p.require_auth ? ", authenticated" : "",
	         l->crypto ? ", encrypted (" : "", l->crypto ? link_aead_name(l->crypto->tx.aead) : "",
	         l->crypto ? ")" : "");
	if (l->p.cb.up)
		l->p.cb.up(l->p.cb_arg, l);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void link_on_hello(struct link *l, const uint8_t *payload, size_t len)
{
	Broker__Link__Hello *hello;
	uint32_t common;

	if (l->hello_received) {
		link_protocol_error(l, "second HELLO");
		return;
	}
	hello = broker__link__hello__unpack(NULL, len, payload);
	if (!hello) {
		link_protocol_error(l, "HELLO does not decode (not a broker, or a corrupt frame)");
		return;
	}
	common = hello->version_max < LINK_VERSION_MAX ? hello->version_max : LINK_VERSION_MAX;
	if (hello->version_min > LINK_VERSION_MAX || common < LINK_VERSION_MIN || common < hello->version_min) {
		char why[160];
		snprintf(why, sizeof(why), "protocol version mismatch: peer speaks %u..%u, we speak %u..%u",
		         hello->version_min, hello->version_max, LINK_VERSION_MIN, LINK_VERSION_MAX);
		broker__link__hello__free_unpacked(hello, NULL);
		l->stats.protocol_errors++;
		log_warn(TAG, "%s: %s; dropping the link (upgrade the older broker)", l->carrier, why);
		link_shutdown(l, why, true);
		return;
	}
	if (hello->nonce.len != sizeof(l->peer_nonce)) {
		size_t got = hello->nonce.len;
		broker__link__hello__free_unpacked(hello, NULL);
		link_protocol_error(l, "HELLO nonce of %zu bytes (expected %zu)", got, sizeof(l->peer_nonce));
		return;
	}
	if ((strcmp(hello->side, "dialer") == 0) == l->p.dialer) {
		broker__link__hello__free_unpacked(hello, NULL);
		link_protocol_error(l, "both ends claim to be the %s", l->p.dialer ? "dialer" : "acceptor");
		return;
	}
	if (strlen(hello->broker_id) > HELLO_ID_MAX || strlen(hello->hostname) > HELLO_TEXT_MAX ||
	    strlen(hello->software) > HELLO_TEXT_MAX) {
		broker__link__hello__free_unpacked(hello, NULL);
		link_protocol_error(l, "HELLO with a broker id over %d or a hostname or software over %d bytes",
		                    HELLO_ID_MAX, HELLO_TEXT_MAX);
		return;
	}
	for (const char *c = hello->broker_id; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			broker__link__hello__free_unpacked(hello, NULL);
			link_protocol_error(l, "HELLO with control characters in the broker id");
			return;
		}
	}
	/* Both ends seal a tcp link, or neither: no silent downgrade, no half-sealed link. */
	if (hello->encrypt != l->p.encrypt) {
		char why[300];
		snprintf(why, sizeof(why), "encryption mismatch: %s; both ends of a tcp link must agree (give both "
		         "?encrypt=off, or neither)", l->p.encrypt ? "we seal this link and the peer does not (it runs with "
		         "?encrypt=off, or is not on tcp)" : "the peer seals this link and we do not (we run with "
		         "?encrypt=off, or are not on tcp)");
		broker__link__hello__free_unpacked(hello, NULL);
		log_warn(TAG, "%s: %s; dropping the link", l->carrier, why);
		link_shutdown(l, why, true);
		return;
	}
	if (hello->encrypt && (!hello->auth_required || !l->p.require_auth)) {
		broker__link__hello__free_unpacked(hello, NULL);
		link_protocol_error(l, "HELLO asks for encryption without authentication both ways");
		return;
	}
	l->version = common;
	memcpy(l->peer_nonce, hello->nonce.data, sizeof(l->peer_nonce));
	l->peer_id = dup_or_empty(hello->broker_id);
	l->peer_host = dup_or_empty(hello->hostname);
	l->peer_software = dup_or_empty(hello->software);
	l->peer_wants_auth = hello->auth_required;
	l->hello_received = true;
	/* AES-256-GCM when both have the hardware for it (the transcript binds what each offered). */
	enum link_aead aead = hello->aes256gcm && l->p.encrypt && link_crypto_aes_available() ? LINK_AEAD_AES256GCM
	                                                                                      : LINK_AEAD_CHACHA20POLY1305;
	broker__link__hello__free_unpacked(hello, NULL);
	/* The transcript: both HELLOs as sent, the dialer's first. */
	if (l->p.dialer)
		link_transcript(l->hello_sent, l->hello_sent_len, payload, len, l->transcript);
	else
		link_transcript(payload, len, l->hello_sent, l->hello_sent_len, l->transcript);
	if (l->peer_wants_auth) {
		Broker__Link__Auth auth = BROKER__LINK__AUTH__INIT;
		uint8_t proof[LINK_PROOF_SIZE];

		if (!l->p.secret) {
			char why[1200];
			/* The reason the secret is missing, every time: the start-up warning scrolled away long ago. */
			snprintf(why, sizeof(why), "peer requires authentication and we have no secret: %s",
			         l->p.secret_error && *l->p.secret_error ? l->p.secret_error : "none given (pass --link-secret)");
			log_warn(TAG, "%s: peer %s: %s", l->carrier, l->peer_id, why);
			link_shutdown(l, why, true);
			return;
		}
		link_auth_proof(l->p.secret, l->p.secret_len, l->p.dialer, l->transcript, proof);
		auth.proof.data = proof;
		auth.proof.len = sizeof(proof);
		link_send_message(l, LINK_AUTH, &auth.base);
		l->auth_sent = true;
		link_flush(l);
	}
	if (l->p.encrypt) {
		/* Both sides required auth (checked above), so the peer wanted our proof: we have the secret. */
		if (!l->p.secret || !(l->crypto = calloc(1, sizeof(*l->crypto)))) {
			link_shutdown(l, l->p.secret ? "out of memory" : "cannot seal the link: we have no secret", true);
			return;
		}
		link_crypto_keys(l->p.secret, l->p.secret_len, l->p.dialer ? l->nonce : l->peer_nonce,
		                 l->p.dialer ? l->peer_nonce : l->nonce, l->transcript, l->p.dialer, aead, l->crypto);
	}
	link_maybe_up(l);
}

static void link_on_auth(struct link *l, const uint8_t *payload, size_t len)
{
	Broker__Link__Auth *auth;
	bool ok;

	if (!l->p.require_auth || l->auth_ok || !l->hello_received) {
		link_protocol_error(l, "unexpected AUTH");
		return;
	}
	auth = broker__link__auth__unpack(NULL, len, payload);
	if (!auth) {
		link_protocol_error(l, "AUTH does not decode");
		return;
	}
	ok = l->p.secret && link_auth_verify(l->p.secret, l->p.secret_len, !l->p.dialer, l->transcript,
	                                     auth->proof.data, auth->proof.len);
	broker__link__auth__free_unpacked(auth, NULL);
	if (!ok && !l->p.secret) {
		char why[1200];
		snprintf(why, sizeof(why), "cannot check the peer's proof: we have no secret: %s",
		         l->p.secret_error && *l->p.secret_error ? l->p.secret_error : "none given (pass --link-secret)");
		log_warn(TAG, "%s: peer %s (%s): %s; dropping the link", l->carrier, l->peer_id, l->peer_host, why);
		link_shutdown(l, why, true);
		return;
	}
	if (!ok) {
		l->stats.protocol_errors++;
		log_warn(TAG, "%s: authentication failed for peer %s (%s): wrong secret; dropping the link",
		         l->carrier, l->peer_id, l->peer_host);
		link_shutdown(l, "authentication failed (wrong secret)", true);
		return;
	}
	l->auth_ok = true;
	/* Tell the prover, so it goes up only once it is accepted (and backs off when not). */
	link_send(l, LINK_AUTH_OK, 0, NULL, 0);
	link_seal_tx(l);
	link_flush(l);
	link_maybe_up(l);
}

/* ------------------------------------------------------------ RPC */

static void link_on_rpc(struct link *l, const uint8_t *payload, size_t len)
{
	Broker__Rpc__Envelope *env = broker__rpc__envelope__unpack(NULL, len, payload);
	uint8_t *reply = NULL;
	size_t reply_len = 0;

	if (!env) {
		link_protocol_error(l, "RPC envelope does not decode");
		return;
	}
	if (env->is_reply) {
		struct link_call **pp = &l->calls;
		while (*pp && (*pp)->id != env->call_id)
			pp = &(*pp)->next;
		if (*pp) {
			struct link_call *c = *pp;
			*pp = c->next;
			c->reply(c->arg, 0, env->status, env->error, env->body.data, env->body.len);
			free(c);
		} else {
			link_log_limited(l, BROKER_LOG_WARN, "RPC reply for unknown call %llu ignored",
			                 (unsigned long long)env->call_id);
		}
		broker__rpc__envelope__free_unpacked(env, NULL);
		return;
	}
	broker__rpc__envelope__free_unpacked(env, NULL);
	if (!l->p.rpc_methods)
		return;
	if (rpc_dispatch(l->p.rpc_methods, l, NULL, payload, len, &reply, &reply_len) == 0 && reply) {
		link_send(l, LINK_RPC, 0, reply, reply_len);
		link_flush(l);
	}
	free(reply);
}

/* Fail every call past its deadline; re-arm for the earliest one left. */
static void link_rpc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	uint64_t now = link_now_us(), next = 0;
	struct link_call **pp = &l->calls;
	char why[128];

	snprintf(why, sizeof(why), "the peer did not answer within %d s (--link-rpc-timeout)",
	         l->p.rpc_timeout_ms / 1000);
	l->busy++;
	while (*pp && l->state != LINK_CLOSED) {
		struct link_call *c = *pp;
		if (c->deadline_us > now) {
			if (!next || c->deadline_us < next)
				next = c->deadline_us;
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		log_warn(TAG, "%s: RPC call %llu: %s", l->carrier, (unsigned long long)c->id, why);
		c->reply(c->arg, -ETIMEDOUT, BROKER__RPC__STATUS__UNAVAILABLE, why, NULL, 0);
		free(c);
		pp = &l->calls;   /* the reply may have made or failed calls */
	}
	l->busy--;
	if (next && l->state != LINK_CLOSED) {
		uint64_t wait = next - now;
		struct timeval tv = { (long)(wait / 1000000), (long)(wait % 1000000) };
		event_add(l->rpc_timer, &tv);
	}
}

int link_call(struct link *l, const char *service, const char *method, const uint8_t *body, size_t len,
              link_reply_fn reply, void *arg)
{
	struct link_call *c;
	uint8_t *req;
	size_t req_len;
	int rc;

	if (l->state != LINK_UP)
		return -ENOTCONN;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->id = ++l->next_call_id;
	rc = rpc_pack_request(c->id, service, method, body, len, &req, &req_len);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->reply = reply;
	c->arg = arg;
	c->deadline_us = link_now_us() + (uint64_t)l->p.rpc_timeout_ms * 1000;
	c->next = l->calls;
	l->calls = c;
	if (!evtimer_pending(l->rpc_timer, NULL)) {
		struct timeval tv = { l->p.rpc_timeout_ms / 1000, (l->p.rpc_timeout_ms % 1000) * 1000 };
		event_add(l->rpc_timer, &tv);
	}
	link_send(l, LINK_RPC, 0, req, req_len);
	free(req);
	link_flush(l);
	return 0;
}

/* ------------------------------------------------------------ input */

static void link_on_ping(struct link *l, const uint8_t *payload, size_t len)
{
	link_send(l, LINK_PONG, 0, payload, len);
	link_flush(l);
}

static void link_on_pong(struct link *l, const uint8_t *payload, size_t len)
{
	uint64_t sent;

	if (len != sizeof(sent))
		return;
	memcpy(&sent, payload, sizeof(sent));
	if (sent == l->ping_sent_us)
		l->rtt_us = (int64_t)(link_now_us() - sent);
}

/* Handle one link-level frame whose payload has been copied out. */
static void link_on_control(struct link *l, const struct link_frame_header *h, const uint8_t *payload)
{
	if (h->type == LINK_GOAWAY) {
		char why[300];
		snprintf(why, sizeof(why), "peer closed the link: %.*s", (int)h->length, (const char *)payload);
		log_info(TAG, "%s: %s", l->carrier, why);
		link_shutdown(l, why, false);
		return;
	}
	if (!l->hello_received && h->type != LINK_HELLO) {
		link_protocol_error(l, "%s before HELLO", link_frame_type_name(h->type));
		return;
	}
	switch (h->type) {
	case LINK_HELLO:
		link_on_hello(l, payload, h->length);
		return;
	case LINK_AUTH:
		link_on_auth(l, payload, h->length);
		return;
	case LINK_AUTH_OK:
		if (!l->auth_sent || l->auth_accepted) {
			link_protocol_error(l, "unexpected AUTH_OK");
			return;
		}
		l->auth_accepted = true;
		/* The peer's last plaintext frame: what follows it is sealed, in this very read too. */
		link_seal_rx(l);
		if (l->state == LINK_CLOSED)
			return;
		link_maybe_up(l);
		return;
	}
	if (l->state != LINK_UP) {
		link_protocol_error(l, "%s before the handshake finished", link_frame_type_name(h->type));
		return;
	}
	switch (h->type) {
	case LINK_RPC:
		link_on_rpc(l, payload, h->length);
		break;
	case LINK_PING:
		link_on_ping(l, payload, h->length);
		break;
	case LINK_PONG:
		link_on_pong(l, payload, h->length);
		break;
	}
}

/*
 * Parse and handle the complete frames in l->in, at most LINK_INPUT_FRAMES
 * of them: a flood of small frames (PINGs, RPCs) must not hold the loop, so
 * the control socket and the other links get their turn.  Returns true when
 * the budget ran out with input left (link_read_cb schedules the rest).
 */
static bool link_process_input(struct link *l)
{
	int budget = LINK_INPUT_FRAMES;

	while (l->state != LINK_CLOSED) {
		uint8_t hdr[LINK_HEADER_SIZE];
		struct link_frame_header h;
		char why[160];

		if (evbuffer_copyout(l->in, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return false;
		if (budget-- == 0)
			return true;
		link_frame_decode(hdr, &h);
		if (link_frame_check(&h, why, sizeof(why)) < 0 ||
		    (l->state != LINK_UP && link_frame_check_handshake(&h, why, sizeof(why)) < 0)) {
			/* Judged on the header alone: nothing of the payload is held. */
			link_protocol_error(l, "%s", why);
			return false;
		}
		if (evbuffer_get_length(l->in) < sizeof(hdr) + h.length)
			return false;
		evbuffer_drain(l->in, sizeof(hdr));
		l->stats.frames_received++;
		l->last_rx_us = link_now_us();
		if (h.stream != 0) {
			if (l->state != LINK_UP) {
				link_protocol_error(l, "%s before the handshake finished", link_frame_type_name(h.type));
				return false;
			}
			/* The stream code consumes exactly h.length bytes from l->in. */
			link_stream_frame(l, &h);
			continue;
		}
		uint8_t *payload = NULL;
		if (h.length) {
			payload = malloc(h.length);
			if (!payload) {
				link_shutdown(l, "out of memory", false);
				return false;
			}
			evbuffer_remove(l->in, payload, h.length);
		}
		link_on_control(l, &h, payload);
		free(payload);
	}
	return false;
}

/* Handle what input waits (a budget's worth), schedule the rest, move output. */
static void link_input_turn(struct link *l)
{
	l->input_backlog = link_process_input(l) && l->state != LINK_CLOSED;
	if (l->input_backlog)
		event_active(l->resume, EV_TIMEOUT, 0);
	link_flush(l);
}

static void link_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	l->busy++;
	link_input_turn(l);
	l->busy--;
}

/*
 * Read up to LINK_READS_PER_EVENT chunks, handling the frames of each before
 * the next read (so WINDOWs and local writes go out early), and stop at a
 * short read: the carrier is empty.
 */
static void link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	l->busy++;
	/* Whole frames not handled yet: read no more, so the sender waits on the carrier, not in our memory. */
	if (l->input_backlog) {
		link_input_turn(l);
		goto out;
	}
	for (int i = 0; i < LINK_READS_PER_EVENT && l->state != LINK_CLOSED; i++) {
		struct evbuffer_iovec vec[2];
		size_t asked = 0, left;
		/* Asked each time: the peer's AUTH_OK switches the link to sealed records mid-loop. */
		struct evbuffer *into = link_read_target(l);
		int nvec = evbuffer_reserve_space(into, RELAY_READ_RESERVE, vec, 2);
		ssize_t n;

		if (nvec < 0) {
			link_shutdown(l, "out of memory", false);
			break;
		}
		for (int v = 0; v < nvec; v++)
			asked += vec[v].iov_len;
		n = platform_read_iov(l->rfd, vec, nvec);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			char why[160];
			if (n == 0)
				snprintf(why, sizeof(why), "carrier closed by the peer");
			else
				snprintf(why, sizeof(why), "carrier read failed: %s", strerror((int)-n));
			log_info(TAG, "%s: %s", l->carrier, why);
			link_shutdown(l, why, false);
			break;
		}
		left = (size_t)n;
		for (int v = 0; v < nvec; v++) {
			if (vec[v].iov_len > left)
				vec[v].iov_len = left;
			left -= vec[v].iov_len;
		}
		evbuffer_commit_space(into, vec, nvec);
		l->stats.bytes_received += (uint64_t)n;
		if (link_open_records(l) < 0)
			break;
		link_input_turn(l);
		if (l->input_backlog || (size_t)n < asked)
			break;
	}
out:
	l->busy--;
}

static void link_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	uint64_t now = link_now_us();
	uint64_t silent = now - l->last_rx_us;

	if (l->state == LINK_HANDSHAKE && silent >= (uint64_t)l->p.handshake_timeout_ms * 1000) {
		log_warn(TAG, "%s: no handshake within %d ms; dropping the link", l->carrier, l->p.handshake_timeout_ms);
		link_shutdown(l, "handshake timeout", true);
		return;
	}
	if (silent >= (uint64_t)l->p.timeout_ms * 1000) {
		char why[128];
		snprintf(why, sizeof(why), "peer silent for %llu ms (timeout %d ms)",
		         (unsigned long long)(silent / 1000), l->p.timeout_ms);
		log_warn(TAG, "%s: %s; dropping the link", l->carrier, why);
		link_shutdown(l, why, true);
		return;
	}
	if (l->state == LINK_UP) {
		l->ping_sent_us = now;
		link_send(l, LINK_PING, 0, &now, sizeof(now));
		link_flush(l);
	}
}

int link_new(const struct link_params *p, const struct broker_stream_desc *carrier, struct link **out)
{
	struct link *l = calloc(1, sizeof(*l));
	struct timeval ka;

	if (!l) {
		platform_fd_close(carrier->rfd);
		if (carrier->wfd != carrier->rfd)
			platform_fd_close(carrier->wfd);
		if (carrier->on_close)
			carrier->on_close(carrier->close_arg);
		return -ENOMEM;
	}
	l->p = *p;
	l->rfd = carrier->rfd;
	l->wfd = carrier->wfd;
	l->carrier_flags = carrier->flags;
	l->carrier_on_close = carrier->on_close;
	l->carrier_close_arg = carrier->close_arg;
	l->carrier = strdup(p->carrier ? p->carrier : "link");
	l->broker_id = strdup(p->broker_id ? p->broker_id : "");
	l->p.carrier = l->carrier;
	l->p.broker_id = l->broker_id;
	if (l->p.keepalive_ms <= 0)
		l->p.keepalive_ms = 5000;
	if (l->p.timeout_ms <= 0)
		l->p.timeout_ms = 3 * l->p.keepalive_ms;
	if (l->p.handshake_timeout_ms <= 0)
		l->p.handshake_timeout_ms = 10000;
	if (l->p.max_streams <= 0)
		l->p.max_streams = DEFAULT_MAX_STREAMS;
	if (l->p.max_pending_connects <= 0)
		l->p.max_pending_connects = DEFAULT_MAX_PENDING_CONNECTS;
	if (l->p.max_output == 0)
		l->p.max_output = DEFAULT_MAX_OUTPUT;
	if (l->p.rpc_timeout_ms <= 0)
		l->p.rpc_timeout_ms = DEFAULT_RPC_TIMEOUT_MS;
	l->rtt_us = -1;
	l->next_stream_id = p->dialer ? 1 : 2;
	l->last_rx_us = link_now_us();
	l->in = evbuffer_new();
	l->out = evbuffer_new();
	l->wire_in = evbuffer_new();
	l->wire_out = evbuffer_new();
	l->rev = event_new(p->base, l->rfd, EV_READ | EV_PERSIST, link_read_cb, l);
	l->wev = event_new(p->base, l->wfd, EV_WRITE | EV_PERSIST, link_write_cb, l);
	l->keepalive = event_new(p->base, -1, EV_PERSIST, link_keepalive_cb, l);
	l->reaper = evtimer_new(p->base, link_reap, l);
	l->flush_ev = event_new(p->base, -1, 0, link_flush_cb, l);
	l->rpc_timer = evtimer_new(p->base, link_rpc_timer_cb, l);
	l->overflow_ev = event_new(p->base, -1, 0, link_overflow_cb, l);
	l->resume = event_new(p->base, -1, 0, link_resume_cb, l);
	if (!l->carrier || !l->broker_id || !l->in || !l->out || !l->wire_in || !l->wire_out || !l->rev || !l->wev ||
	    !l->keepalive || !l->reaper || !l->flush_ev || !l->rpc_timer || !l->overflow_ev || !l->resume ||
	    platform_fd_prepare(l->rfd) < 0 || (l->wfd != l->rfd && platform_fd_prepare(l->wfd) < 0)) {
		link_close_carrier(l);
		link_free(l);
		return -ENOMEM;
	}
	if (carrier->flags & BROKER_STREAM_SOCKET) {
		/* Room for a write to move several frames, not so much that frames queue for long (link_internal.h). */
		int sz = LINK_CARRIER_BUFFER;
		setsockopt(l->rfd, SOL_SOCKET, SO_SNDBUF, (const void *)&sz, sizeof(sz));
		setsockopt(l->rfd, SOL_SOCKET, SO_RCVBUF, (const void *)&sz, sizeof(sz));
	}
	link_streams_init(l);
	link_auth_nonce(l->nonce, sizeof(l->nonce));
	link_send_hello(l);
	link_flush(l);
	event_add(l->rev, NULL);
	/* Check often enough that the timeout is honoured to within a fraction of itself. */
	int tick = l->p.keepalive_ms;
	if (l->p.handshake_timeout_ms < tick)
		tick = l->p.handshake_timeout_ms;
	if (l->p.timeout_ms / 3 < tick)
		tick = l->p.timeout_ms / 3 > 0 ? l->p.timeout_ms / 3 : 1;
	ka.tv_sec = tick / 1000;
	ka.tv_usec = (tick % 1000) * 1000;
	event_add(l->keepalive, &ka);
	*out = l;
	return 0;
}

void link_get_stats(const struct link *l, struct link_stats *st)
{
	*st = l->stats;
	st->state = l->state;
	st->carrier = l->carrier;
	st->peer_id = l->peer_id ? l->peer_id : "";
	st->peer_host = l->peer_host ? l->peer_host : "";
	st->peer_software = l->peer_software ? l->peer_software : "";
	st->dialer = l->p.dialer;
	st->authenticated = l->p.require_auth && l->auth_ok;
	st->encrypted = l->crypto && l->crypto->tx_on && l->crypto->rx_on;
	st->version = l->version;
	st->up_since = l->state == LINK_UP ? l->up_since : 0;
	st->rtt_us = l->rtt_us;
	st->streams_open = l->nstreams;
	st->datagram_streams_open = l->ndatagram;
}
