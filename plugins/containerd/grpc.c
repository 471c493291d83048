/*
 * plugins/containerd/grpc.c - gRPC over HTTP/2 on a unix socket, driven by
 * nghttp2 in memory mode (nghttp2_session_mem_recv / mem_send) and two plain
 * libevent events on a non-blocking socket.  See grpc.h for ownership.
 *
 * A request is HEADERS (:method POST, :scheme http, :path, :authority,
 * content-type application/grpc, te trailers, optionally
 * containerd-namespace and grpc-timeout) then one DATA frame holding the
 * 5-byte message prefix (flag 0, big-endian length) and the message, with
 * END_STREAM.  Response DATA is reassembled into messages by the same
 * prefix; grpc-status and grpc-message come in the trailers (or in the only
 * HEADERS of a "trailers-only" answer).
 *
 * Reentrancy: user callbacks run from inside nghttp2.  A callback that frees
 * the connection only marks it; the memory goes once the outermost frame
 * (read handler, write handler, deadline timer) leaves.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "grpc.h"

#define GC_READ_CHUNK 65536
#define GC_OUT_HIGH (1024 * 1024)         /* stop producing frames above this */
#define GC_STREAM_WINDOW (1 << 20)
#define GC_CONN_WINDOW (16 << 20)

struct gc_call {
	struct gc_conn *conn;
	struct gc_call *next, **pprev;
	int32_t stream_id;
	struct gc_call_callbacks cb;
	void *arg;
	uint8_t *req;
	size_t reqlen, reqoff;
	struct evbuffer *in;            /* a partial response message */
	size_t max_msg;
	int grpc_status;                /* -1: not seen */
	int http_status;
	char grpc_message[200];
	int local_status;               /* -1, or a local reason to end the call */
	char local_message[200];
	int finished;                   /* on_done ran or the caller cancelled: no more callbacks */
	struct event *deadline;
};

struct gc_conn {
	struct event_base *base;
	int fd;
	int connected;
	struct event *rev, *wev;
	struct event *fev;              /* deferred flush after a call was started or cancelled */
	nghttp2_session *s;
	struct evbuffer *out;
	struct gc_conn_callbacks cb;
	void *arg;
	struct gc_call *calls;
	int depth;                      /* nested entries from the loop */
	int freed;                      /* the owner freed it while depth > 0 */
	int failed;                     /* on_close reported */
};

static void conn_release(struct gc_conn *c);
static void conn_flush(struct gc_conn *c);

/* ------------------------------------------------------------- entering / leaving */

static void enter(struct gc_conn *c)
{
	c->depth++;
}

/* Leave a loop entry; 1 when the connection is gone (do not touch it). */
static int leave(struct gc_conn *c)
{
	if (--c->depth > 0)
		return 0;
	if (c->freed) {
		conn_release(c);
		return 1;
	}
	return 0;
}

static void conn_fail(struct gc_conn *c, int err, const char *reason)
{
	if (c->failed || c->freed)
		return;
	c->failed = 1;
	if (c->rev)
		event_del(c->rev);
	if (c->wev)
		event_del(c->wev);
	if (c->cb.on_close)
		c->cb.on_close(c, err, reason, c->arg);
}

/* ------------------------------------------------------------- calls */

static void call_unlink(struct gc_call *call)
{
	if (call->pprev) {
		*call->pprev = call->next;
		if (call->next)
			call->next->pprev = call->pprev;
		call->pprev = NULL;
		call->next = NULL;
	}
}

static void call_free(struct gc_call *call)
{
	call_unlink(call);
	if (call->deadline)
		event_free(call->deadline);
	if (call->in)
		evbuffer_free(call->in);
	free(call->req);
	free(call);
}

/* Run on_done once. */
static void call_finish(struct gc_call *call, int status, const char *message)
{
	if (call->finished)
		return;
	call->finished = 1;
	if (call->deadline)
		event_del(call->deadline);
	if (call->cb.on_done)
		call->cb.on_done(call, status, message, call->arg);
}

/* End a call from our side with a local status (reported when the stream closes). */
static void call_abort(struct gc_call *call, int status, const char *message)
{
	if (call->local_status < 0) {
		call->local_status = status;
		snprintf(call->local_message, sizeof(call->local_message), "%s", message);
	}
	if (call->stream_id > 0 && !call->conn->failed && !call->conn->freed)
		nghttp2_submit_rst_stream(call->conn->s, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gc_call *call = arg;
	struct gc_conn *c = call->conn;

	(void)fd;
	(void)what;
	enter(c);
	call_abort(call, GC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
	/* report now: the server may never answer the reset */
	call_finish(call, GC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
	if (!c->freed)
		conn_flush(c);
	leave(c);
}

/* Split call->in into messages. */
static void call_deliver(struct gc_call *call)
{
	for (;;) {
		unsigned char hdr[5];
		size_t have = evbuffer_get_length(call->in);
		uint32_t n;
		int r;

		if (call->finished || have < 5)
			return;
		evbuffer_copyout(call->in, hdr, 5);
		n = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
		if (hdr[0] != 0) {
			evbuffer_drain(call->in, have);
			call_abort(call, GC_STATUS_INTERNAL, "compressed or unknown message flag (not asked for)");
			return;
		}
		if (n > call->max_msg) {
			char what[96];

			snprintf(what, sizeof(what), "a message of %u bytes exceeds the limit of %zu", n, call->max_msg);
			evbuffer_drain(call->in, have);
			call_abort(call, GC_STATUS_RESOURCE_EXHAUSTED, what);
			return;
		}
		if (have < 5 + (size_t)n)
			return;
		r = call->cb.on_message ? call->cb.on_message(call, evbuffer_pullup(call->in, 5 + (ev_ssize_t)n) + 5,
		                                              n, call->arg)
		                        : 0;
		if (call->conn->freed)
			return;
		evbuffer_drain(call->in, 5 + (size_t)n);
		if (r < 0) {
			call_abort(call, GC_STATUS_CANCELLED, "cancelled by the receiver");
			return;
		}
	}
}

/* ------------------------------------------------------------- nghttp2 callbacks */

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user_data)
{
	struct gc_call *call = nghttp2_session_get_stream_user_data(s, stream_id);

	(void)flags;
	(void)user_data;
	if (!call || call->finished || call->local_status >= 0)
		return 0;
	if (evbuffer_add(call->in, data, len) < 0) {
		call_abort(call, GC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return 0;
	}
	call_deliver(call);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct gc_call *call;
	char v[16];

	(void)flags;
	(void)user_data;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	call = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (!call)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		snprintf(v, sizeof(v), "%.*s", (int)(valuelen < 15 ? valuelen : 15), (const char *)value);
		call->http_status = atoi(v);
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		snprintf(v, sizeof(v), "%.*s", (int)(valuelen < 15 ? valuelen : 15), (const char *)value);
		call->grpc_status = (v[0] >= '0' && v[0] <= '9') ? atoi(v) : GC_STATUS_UNKNOWN;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		size_t i, k = 0;

		/* percent-encoded; kept as sent, printable ASCII only */
		for (i = 0; i < valuelen && k + 1 < sizeof(call->grpc_message); i++)
			call->grpc_message[k++] = (value[i] >= 0x20 && value[i] < 0x7f) ? (char)value[i] : '?';
		call->grpc_message[k] = '\0';
	}
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user_data)
{
	struct gc_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
	char msg[240];
	int status;

	(void)user_data;
	if (!call)
		return 0;
	nghttp2_session_set_stream_user_data(s, stream_id, NULL);
	call->stream_id = -1;
	if (!call->finished) {
		if (call->local_status >= 0) {
			status = call->local_status;
			snprintf(msg, sizeof(msg), "%s", call->local_message);
		} else if (call->grpc_status >= 0) {
			status = call->grpc_status;
			snprintf(msg, sizeof(msg), "%s", call->grpc_message);
			if (status == 0 && evbuffer_get_length(call->in)) {
				status = GC_STATUS_INTERNAL;
				snprintf(msg, sizeof(msg), "truncated message at the end of the stream");
			}
		} else if (error_code) {
			status = GC_STATUS_UNAVAILABLE;
			snprintf(msg, sizeof(msg), "stream reset by the server (HTTP/2 error %u)", error_code);
		} else {
			status = GC_STATUS_UNKNOWN;
			snprintf(msg, sizeof(msg), "no grpc-status in the answer (HTTP status %d)", call->http_status);
		}
		call_finish(call, status, msg);
	}
	call_free(call);
	return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct gc_call *call = source->ptr;
	size_t n = call->reqlen - call->reqoff;

	(void)s;
	(void)stream_id;
	(void)user_data;
	if (n > length)
		n = length;
	memcpy(buf, call->req + call->reqoff, n);
	call->reqoff += n;
	if (call->reqoff == call->reqlen)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ------------------------------------------------------------- socket I/O */

static void conn_flush(struct gc_conn *c)
{
	if (c->failed || c->freed)
		return;
	while (evbuffer_get_length(c->out) < GC_OUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->s, &data);

		if (c->freed)
			return;
		if (n < 0) {
			conn_fail(c, -EPROTO, nghttp2_strerror((int)n));
			return;
		}
		if (n == 0)
			break;
		evbuffer_add(c->out, data, (size_t)n);
	}
	if (!c->connected)
		return;
	while (evbuffer_get_length(c->out)) {
		int n = evbuffer_write(c->out, c->fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_fail(c, -errno, strerror(errno));
			return;
		}
		if (n == 0)
			break;
	}
	if (evbuffer_get_length(c->out) || nghttp2_session_want_write(c->s))
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
	if (!nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s) &&
	    !evbuffer_get_length(c->out))
		conn_fail(c, -ECONNRESET, "the server ended the HTTP/2 session (GOAWAY)");
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gc_conn *c = arg;
	uint8_t buf[GC_READ_CHUNK];
	ssize_t n;

	(void)what;
	enter(c);
	n = read(fd, buf, sizeof(buf));
	if (n == 0) {
		conn_fail(c, -ECONNRESET, "the server closed the connection");
	} else if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_fail(c, -errno, strerror(errno));
	} else {
		ssize_t r = nghttp2_session_mem_recv(c->s, buf, (size_t)n);

		if (!c->freed && r < 0)
			conn_fail(c, -EPROTO, nghttp2_strerror((int)r));
		else
			conn_flush(c);
	}
	leave(c);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gc_conn *c = arg;

	(void)fd;
	(void)what;
	enter(c);
	conn_flush(c);
	leave(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gc_conn *c = arg;

	(void)what;
	enter(c);
	if (!c->connected) {
		int e = 0;
		socklen_t l = sizeof(e);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
			e = errno;
		if (e) {
			conn_fail(c, -e, strerror(e));
			leave(c);
			return;
		}
		c->connected = 1;
		event_add(c->rev, NULL);
	}
	conn_flush(c);
	leave(c);
}

/* ------------------------------------------------------------- API */

int gc_conn_new(struct event_base *base, const char *path, const struct gc_conn_callbacks *cb, void *arg,
                struct gc_conn **out, char *err, size_t errlen)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_settings_entry iv[2] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GC_STREAM_WINDOW },
	};
	struct sockaddr_un sa;
	struct gc_conn *c;
	int r;

	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->base = base;
	c->cb = *cb;
	c->arg = arg;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		free(c);
		return r;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		c->connected = 1;
	} else if (errno != EINPROGRESS) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		close(c->fd);
		free(c);
		return r;
	}
	c->out = evbuffer_new();
	c->rev = event_new(base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(base, c->fd, EV_WRITE, write_cb, c);
	c->fev = event_new(base, -1, 0, flush_cb, c);
	if (!c->out || !c->rev || !c->wev || !c->fev || nghttp2_session_callbacks_new(&cbs) != 0)
		goto nomem;
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	r = nghttp2_session_client_new(&c->s, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (r != 0)
		goto nomem;
	if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
	    nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, GC_CONN_WINDOW) != 0)
		goto nomem;
	if (c->connected)
		event_add(c->rev, NULL);
	event_add(c->wev, NULL);        /* connect completion, then the preface */
	*out = c;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	c->depth = 0;
	conn_release(c);
	return -ENOMEM;
}

static void conn_release(struct gc_conn *c)
{
	struct gc_call *call;

	while ((call = c->calls)) {
		if (call->stream_id > 0 && c->s)
			nghttp2_session_set_stream_user_data(c->s, call->stream_id, NULL);
		call_free(call);
	}
	if (c->s)
		nghttp2_session_del(c->s);
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->fev)
		event_free(c->fev);
	if (c->out)
		evbuffer_free(c->out);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

void gc_conn_free(struct gc_conn *c)
{
	struct gc_call *call;

	if (!c || c->freed)
		return;
	c->freed = 1;
	for (call = c->calls; call; call = call->next) {
		call->finished = 1;
		if (call->deadline)
			event_del(call->deadline);
	}
	if (c->rev)
		event_del(c->rev);
	if (c->wev)
		event_del(c->wev);
	if (c->fev)
		event_del(c->fev);
	if (c->depth == 0)
		conn_release(c);
}

int gc_call_start(struct gc_conn *c, const char *path, const char *ns, const uint8_t *msg, size_t len,
                  size_t max_msg, long timeout_ms, const struct gc_call_callbacks *cb, void *arg,
                  struct gc_call **out)
{
	nghttp2_data_provider prd;
	nghttp2_nv nv[8];
	char tmo[24];
	size_t n = 0;
	struct gc_call *call;
	int32_t id;

#define NV(k, v)                                                                                   \
	do {                                                                                       \
		nv[n].name = (uint8_t *)(k);                                                       \
		nv[n].namelen = strlen(k);                                                         \
		nv[n].value = (uint8_t *)(v);                                                      \
		nv[n].valuelen = strlen(v);                                                        \
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;                                                \
		n++;                                                                               \
	} while (0)

	*out = NULL;
	if (c->failed || c->freed)
		return -ENOTCONN;
	if (len > 0xffffffffu)
		return -EMSGSIZE;
	call = calloc(1, sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->conn = c;
	call->cb = *cb;
	call->arg = arg;
	call->max_msg = max_msg;
	call->grpc_status = -1;
	call->local_status = -1;
	call->reqlen = 5 + len;
	call->req = malloc(call->reqlen);
	call->in = evbuffer_new();
	if (!call->req || !call->in) {
		call_free(call);
		return -ENOMEM;
	}
	call->req[0] = 0;
	call->req[1] = (uint8_t)(len >> 24);
	call->req[2] = (uint8_t)(len >> 16);
	call->req[3] = (uint8_t)(len >> 8);
	call->req[4] = (uint8_t)len;
	if (len)
		memcpy(call->req + 5, msg, len);
	if (timeout_ms > 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		call->deadline = evtimer_new(c->base, deadline_cb, call);
		if (!call->deadline) {
			call_free(call);
			return -ENOMEM;
		}
		evtimer_add(call->deadline, &tv);
		snprintf(tmo, sizeof(tmo), "%ldm", timeout_ms);
	}
	NV(":method", "POST");
	NV(":scheme", "http");
	NV(":path", path);
	NV(":authority", "localhost");
	NV("content-type", "application/grpc");
	NV("te", "trailers");
	if (ns)
		NV("containerd-namespace", ns);
	if (timeout_ms > 0)
		NV("grpc-timeout", tmo);
#undef NV
	prd.source.ptr = call;
	prd.read_callback = read_body;
	id = nghttp2_submit_request(c->s, NULL, nv, n, &prd, call);
	if (id < 0) {
		call_free(call);
		return -EIO;
	}
	call->stream_id = id;
	call->next = c->calls;
	if (c->calls)
		c->calls->pprev = &call->next;
	c->calls = call;
	call->pprev = &c->calls;
	*out = call;
	if (c->depth == 0)
		event_active(c->fev, 0, 1);     /* never fail (and call back) inside the caller */
	return 0;
}

void gc_call_cancel(struct gc_call *call)
{
	struct gc_conn *c;

	if (!call)
		return;
	c = call->conn;
	call->finished = 1;
	if (call->deadline)
		event_del(call->deadline);
	if (c->freed || c->failed)
		return;
	if (call->stream_id > 0) {
		nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
		if (c->depth == 0)
			event_active(c->fev, 0, 1);
	}
}
