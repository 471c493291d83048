/*
 * plugins/common/httpc.c - a small HTTP/1.1 client on libevent (see httpc.h).
 *
 * The response is parsed from the bufferevent's input buffer as it arrives:
 * the head line by line (bounded by max_header_bytes), then the body by its
 * framing, handing each piece to on_body without collecting it.
 *
 * Reentrancy: the user may call httpc_free from any callback.  Every libevent
 * callback of ours runs inside enter()/leave(); httpc_free only marks the
 * client dead while a callback is running, and leave() frees it.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "httpc.h"

#define HTTPC_MAX_HEADERS 128
#define HTTPC_CHUNK_LINE_MAX 1024       /* "ffff;ext=..." */
#define HTTPC_DEFAULT_HEADER_MAX (64u * 1024)
#define HTTPC_DEFAULT_CONNECT_MS 10000
#define HTTPC_DEFAULT_RESPONSE_MS 30000

enum httpc_phase {
	PH_IDLE,            /* nothing sent yet */
	PH_HEAD_STATUS,     /* waiting for the status line */
	PH_HEAD_FIELDS,     /* reading header lines */
	PH_BODY_LENGTH,     /* Content-Length bytes left */
	PH_CHUNK_SIZE,      /* a chunk-size line */
	PH_CHUNK_DATA,      /* chunk bytes left */
	PH_CHUNK_CRLF,      /* the CRLF after a chunk */
	PH_TRAILERS,        /* trailer lines after the last chunk */
	PH_BODY_EOF,        /* body until the connection closes */
	PH_DONE,            /* on_end, on_error or an abort happened */
};

struct httpc {
	struct event_base *base;
	struct httpc_callbacks cb;
	void *arg;
	struct httpc_opts opts;

	struct bufferevent *bev;
	struct event *timer;            /* connect / response / idle timeout, and deferred errors */
	int connecting;                 /* waiting for BEV_EVENT_CONNECTED */
	int requested;
	int head_request;               /* HEAD: no body whatever the headers say */
	int pending_err;                /* a failure to report from the timer */
	char pending_reason[512];

	enum httpc_phase phase;
	size_t head_bytes;              /* bytes of the current head consumed */
	unsigned long long body_bytes;  /* decoded body bytes delivered */
	unsigned long long left;        /* PH_BODY_LENGTH / PH_CHUNK_DATA */

	/* the current head */
	int status, minor;
	char *reason;
	size_t nheaders;
	struct httpc_header headers[HTTPC_MAX_HEADERS];

	int busy;                       /* depth of our libevent callbacks */
	int dead;                       /* httpc_free was called while busy */
};

static void finish_error(struct httpc *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------- lifetime */

static void head_clear(struct httpc *c)
{
	size_t i;

	for (i = 0; i < c->nheaders; i++) {
		free((char *)c->headers[i].name);
		free((char *)c->headers[i].value);
	}
	c->nheaders = 0;
	free(c->reason);
	c->reason = NULL;
	c->head_bytes = 0;
}

static void release(struct httpc *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->timer) {
		event_free(c->timer);
		c->timer = NULL;
	}
	head_clear(c);
}

static void enter(struct httpc *c)
{
	c->busy++;
}

/* Returns 1 when c was freed (the caller must not touch it). */
static int leave(struct httpc *c)
{
	if (--c->busy == 0 && c->dead) {
		release(c);
		free(c);
		return 1;
	}
	return 0;
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	c->phase = PH_DONE;
	if (c->busy) {
		/* close now, free once the callback that called us returns */
		c->dead = 1;
		if (c->bev) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
		if (c->timer)
			event_del(c->timer);
		return;
	}
	release(c);
	free(c);
}

/* Stop the request: no more callbacks, connection closed. */
static void shut(struct httpc *c)
{
	c->phase = PH_DONE;
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->timer)
		event_del(c->timer);
}

static void finish_error(struct httpc *c, int err, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	if (c->phase == PH_DONE || c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	shut(c);
	if (c->cb.on_error)
		c->cb.on_error(c, err, reason, c->arg);
}

static void finish_ok(struct httpc *c)
{
	shut(c);
	if (c->cb.on_end)
		c->cb.on_end(c, c->arg);
}

/* ------------------------------------------------------------- timer */

static void arm(struct httpc *c, long ms)
{
	struct timeval tv;

	if (ms < 0) {
		event_del(c->timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(c->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpc *c = arg;

	(void)fd;
	(void)what;
	enter(c);
	if (c->pending_err) {
		int e = c->pending_err;

		c->pending_err = 0;
		finish_error(c, e, "%s", c->pending_reason);
	} else if (c->connecting) {
		finish_error(c, -ETIMEDOUT, "connect timed out after %ld ms", c->opts.connect_timeout_ms);
	} else if (c->phase == PH_HEAD_STATUS || c->phase == PH_HEAD_FIELDS || c->phase == PH_IDLE) {
		finish_error(c, -ETIMEDOUT, "no response within %ld ms", c->opts.response_timeout_ms);
	} else if (c->phase != PH_DONE) {
		finish_error(c, -ETIMEDOUT, "nothing received for %ld ms", c->opts.idle_timeout_ms);
	}
	leave(c);
}

/* Report err from the loop (never from inside an httpc_* call). */
static void defer_error(struct httpc *c, int err, const char *reason)
{
	c->pending_err = err;
	snprintf(c->pending_reason, sizeof(c->pending_reason), "%s", reason);
	arm(c, 0);
}

/* ------------------------------------------------------------- parsing */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* "HTTP/1.1 200 OK" */
static int parse_status(struct httpc *c, const char *line)
{
	const char *p = line;
	int code = 0, i;

	if (strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return -1;
	c->minor = p[7] - '0';
	p += 9;
	for (i = 0; i < 3; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		code = code * 10 + (p[i] - '0');
	}
	if (p[3] != '\0' && p[3] != ' ')
		return -1;
	if (code < 100)
		return -1;
	c->status = code;
	c->reason = strdup(p[3] ? p + 4 : "");
	return c->reason ? 0 : -1;
}

static int add_header(struct httpc *c, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len), *v, *end = line + len;
	size_t i;
	char *name, *value;

	if (!colon || colon == line)
		return -EPROTO;
	for (i = 0; line + i < colon; i++)
		if (is_blank(line[i]) || (unsigned char)line[i] < 0x21 || (unsigned char)line[i] > 0x7e)
			return -EPROTO;
	if (c->nheaders >= HTTPC_MAX_HEADERS)
		return -E2BIG;
	for (v = colon + 1; v < end && is_blank(*v); v++)
		;
	while (end > v && is_blank(end[-1]))
		end--;
	name = strndup(line, (size_t)(colon - line));
	value = strndup(v, (size_t)(end - v));
	if (!name || !value) {
		free(name);
		free(value);
		return -ENOMEM;
	}
	c->headers[c->nheaders].name = name;
	c->headers[c->nheaders].value = value;
	c->nheaders++;
	return 0;
}

const char *httpc_header(const struct httpc_response *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Does a comma-separated list's last element equal tok (case-insensitive)? */
static int last_token_is(const char *list, const char *tok)
{
	const char *p = strrchr(list, ',');
	size_t n = strlen(tok);

	p = p ? p + 1 : list;
	while (is_blank(*p))
		p++;
	if (strncasecmp(p, tok, n) != 0)
		return 0;
	for (p += n; *p; p++)
		if (!is_blank(*p))
			return 0;
	return 1;
}

/* Head complete: decide the body framing and call on_response. */
static void head_done(struct httpc *c)
{
	struct httpc_response r;
	const char *te = NULL, *cl = NULL;
	long long len = -1;
	size_t i;
	int rc;

	if (c->status >= 100 && c->status < 200) {
		if (c->status == 101) {
			finish_error(c, -EPROTO, "server switched protocols (101), which is not supported");
			return;
		}
		head_clear(c);          /* interim response: the real one follows */
		c->phase = PH_HEAD_STATUS;
		return;
	}
	for (i = 0; i < c->nheaders; i++) {
		const char *n = c->headers[i].name, *v = c->headers[i].value;

		if (strcasecmp(n, "Transfer-Encoding") == 0) {
			te = v;
		} else if (strcasecmp(n, "Content-Length") == 0) {
			long long x = 0;
			const char *p = v;

			if (!*p) {
				finish_error(c, -EPROTO, "empty Content-Length");
				return;
			}
			for (; *p; p++) {
				if (*p < '0' || *p > '9' || x > (LLONG_MAX - 9) / 10) {
					finish_error(c, -EPROTO, "bad Content-Length \"%.40s\"", v);
					return;
				}
				x = x * 10 + (*p - '0');
			}
			if (cl && x != len) {
				finish_error(c, -EPROTO, "conflicting Content-Length headers");
				return;
			}
			cl = v;
			len = x;
		}
	}
	memset(&r, 0, sizeof(r));
	r.status = c->status;
	r.minor_version = c->minor;
	r.reason = c->reason;
	r.nheaders = c->nheaders;
	r.headers = c->headers;
	r.content_length = -1;
	if (c->head_request || c->status == 204 || c->status == 304) {
		c->phase = PH_DONE; /* decided below */
	} else if (te) {
		if (!last_token_is(te, "chunked")) {
			finish_error(c, -EPROTO, "unsupported Transfer-Encoding \"%.60s\"", te);
			return;
		}
		r.chunked = 1;
		c->phase = PH_CHUNK_SIZE;
	} else if (cl) {
		r.content_length = len;
		c->left = (unsigned long long)len;
		c->phase = PH_BODY_LENGTH;
	} else {
		c->phase = PH_BODY_EOF;
	}
	if (c->opts.max_body_bytes && r.content_length >= 0 &&
	    (unsigned long long)r.content_length > c->opts.max_body_bytes) {
		finish_error(c, -EFBIG, "response body of %lld bytes exceeds the limit of %llu bytes",
		             r.content_length, c->opts.max_body_bytes);
		return;
	}
	arm(c, c->opts.idle_timeout_ms > 0 ? c->opts.idle_timeout_ms : -1);
	{
		enum httpc_phase next = c->phase;

		c->phase = PH_HEAD_FIELDS;  /* not PH_DONE: the callback may free or abort */
		rc = c->cb.on_response ? c->cb.on_response(c, &r, c->arg) : 0;
		if (c->dead || c->phase == PH_DONE)
			return;
		if (rc < 0) {
			shut(c);
			return;
		}
		c->phase = next;
	}
	head_clear(c);
	if (c->phase == PH_DONE || (c->phase == PH_BODY_LENGTH && c->left == 0)) {
		c->phase = PH_HEAD_FIELDS;
		finish_ok(c);
	}
}

/* Read one line of the head; 1: got one in *line (free it), 0: need more, <0: failed. */
static int head_line(struct httpc *c, struct evbuffer *in, char **line, size_t *len)
{
	size_t max = c->opts.max_header_bytes;
	struct evbuffer_ptr eol;
	size_t eol_len = 0;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if (c->head_bytes + evbuffer_get_length(in) > max) {
			finish_error(c, -EFBIG, "response head exceeds %zu bytes", max);
			return -1;
		}
		return 0;
	}
	if (c->head_bytes + (size_t)eol.pos + eol_len > max) {
		finish_error(c, -EFBIG, "response head exceeds %zu bytes", max);
		return -1;
	}
	c->head_bytes += (size_t)eol.pos + eol_len;
	*line = evbuffer_readln(in, len, EVBUFFER_EOL_CRLF);
	if (!*line) {
		finish_error(c, -ENOMEM, "out of memory");
		return -1;
	}
	if (strlen(*line) != *len) {
		free(*line);
		finish_error(c, -EPROTO, "NUL byte in the response head");
		return -1;
	}
	return 1;
}

/* Hand up to want bytes of in to on_body; returns bytes consumed, or -1 when c stopped. */
static long long deliver(struct httpc *c, struct evbuffer *in, unsigned long long want)
{
	unsigned long long done = 0;

	while (done < want && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;
		int rc = 0;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = v.iov_len;
		if (n > want - done)
			n = (size_t)(want - done);
		if (c->opts.max_body_bytes && c->body_bytes + n > c->opts.max_body_bytes) {
			finish_error(c, -EFBIG, "response body exceeds the limit of %llu bytes",
			             c->opts.max_body_bytes);
			return -1;
		}
		c->body_bytes += n;
		if (c->cb.on_body)
			rc = c->cb.on_body(c, v.iov_base, n, c->arg);
		if (c->dead || c->phase == PH_DONE)
			return -1;
		if (rc < 0) {
			shut(c);
			return -1;
		}
		evbuffer_drain(in, n);
		done += n;
	}
	return (long long)done;
}

static int parse_chunk_size(const char *line, unsigned long long *size)
{
	unsigned long long x = 0;
	const char *p = line;
	int digits = 0;

	for (; *p; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (x >> 56)
			return -1;      /* absurd size: refuse instead of overflowing */
		x = x * 16 + (unsigned)d;
		digits++;
	}
	while (is_blank(*p))
		p++;
	if (!digits || (*p && *p != ';'))
		return -1;
	*size = x;
	return 0;
}

static void process(struct httpc *c)
{
	struct evbuffer *in;

	while (c->bev && !c->dead && c->phase != PH_DONE) {
		char *line = NULL;
		size_t len = 0;
		int r;

		in = bufferevent_get_input(c->bev);
		switch (c->phase) {
		case PH_IDLE:
			if (evbuffer_get_length(in))
				finish_error(c, -EPROTO, "data received before the request was sent");
			return;
		case PH_HEAD_STATUS:
		case PH_HEAD_FIELDS:
			r = head_line(c, in, &line, &len);
			if (r <= 0)
				return;
			if (c->phase == PH_HEAD_STATUS) {
				if (parse_status(c, line) < 0) {
					finish_error(c, -EPROTO, "bad status line \"%.60s\"", line);
					free(line);
					return;
				}
				c->phase = PH_HEAD_FIELDS;
			} else if (len == 0) {
				free(line);
				head_done(c);
				continue;
			} else {
				int e = add_header(c, line, len);

				if (e < 0) {
					if (e == -E2BIG)
						finish_error(c, -EFBIG, "more than %d header lines", HTTPC_MAX_HEADERS);
					else if (e == -ENOMEM)
						finish_error(c, e, "out of memory");
					else
						finish_error(c, -EPROTO, "bad header line \"%.60s\"", line);
					free(line);
					return;
				}
			}
			free(line);
			break;
		case PH_BODY_LENGTH:
		case PH_CHUNK_DATA: {
			long long n = deliver(c, in, c->left);

			if (n < 0)
				return;
			c->left -= (unsigned long long)n;
			if (c->left > 0)
				return;         /* need more */
			if (c->phase == PH_BODY_LENGTH) {
				finish_ok(c);
				return;
			}
			c->phase = PH_CHUNK_CRLF;
			break;
		}
		case PH_BODY_EOF:
			if (deliver(c, in, ULLONG_MAX) < 0)
				return;
			return;
		case PH_CHUNK_CRLF:
		case PH_CHUNK_SIZE:
		case PH_TRAILERS: {
			struct evbuffer_ptr eol;
			size_t eol_len = 0;

			eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
			if (eol.pos < 0) {
				if (evbuffer_get_length(in) > HTTPC_CHUNK_LINE_MAX ||
				    (c->phase == PH_TRAILERS &&
				     c->head_bytes + evbuffer_get_length(in) > c->opts.max_header_bytes))
					finish_error(c, -EPROTO, "chunk framing line too long");
				return;
			}
			if ((size_t)eol.pos > HTTPC_CHUNK_LINE_MAX && c->phase != PH_TRAILERS) {
				finish_error(c, -EPROTO, "chunk framing line too long");
				return;
			}
			c->head_bytes += (size_t)eol.pos + eol_len;
			if (c->phase == PH_TRAILERS && c->head_bytes > c->opts.max_header_bytes) {
				finish_error(c, -EFBIG, "trailers exceed %zu bytes", c->opts.max_header_bytes);
				return;
			}
			line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
			if (!line) {
				finish_error(c, -ENOMEM, "out of memory");
				return;
			}
			if (c->phase == PH_CHUNK_CRLF) {
				if (len != 0) {
					finish_error(c, -EPROTO, "missing CRLF after a chunk");
					free(line);
					return;
				}
				c->phase = PH_CHUNK_SIZE;
			} else if (c->phase == PH_CHUNK_SIZE) {
				unsigned long long size;

				if (parse_chunk_size(line, &size) < 0) {
					finish_error(c, -EPROTO, "bad chunk size line \"%.40s\"", line);
					free(line);
					return;
				}
				if (size == 0) {
					c->head_bytes = 0;
					c->phase = PH_TRAILERS;
				} else {
					c->left = size;
					c->phase = PH_CHUNK_DATA;
				}
			} else if (len == 0) {
				free(line);
				finish_ok(c);
				return;
			}
			free(line);
			break;
		}
		case PH_DONE:
			return;
		}
	}
}

/* ------------------------------------------------------------- events */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct httpc *c = arg;

	(void)bev;
	enter(c);
	if (c->phase != PH_DONE && c->opts.idle_timeout_ms > 0 && c->phase >= PH_BODY_LENGTH)
		arm(c, c->opts.idle_timeout_ms);
	process(c);
	leave(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct httpc *c = arg;
	int e;

	enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		c->connecting = 0;
		arm(c, c->opts.response_timeout_ms);
		goto out;
	}
	if (what & BEV_EVENT_ERROR) {
		int dnserr = bufferevent_socket_get_dns_error(bev);
		evutil_socket_t fd = bufferevent_getfd(bev);
		socklen_t elen = sizeof(e);

		e = 0;
		if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			e = 0;
		if (e == 0)
			e = EVUTIL_SOCKET_ERROR();
		if (dnserr) {
			finish_error(c, -EHOSTUNREACH, "cannot resolve the host: %s",
			             evutil_gai_strerror(dnserr));
			goto out;
		}
		if (e == 0)
			e = c->connecting ? ECONNREFUSED : EIO;
		finish_error(c, -e, "%s: %s", c->connecting ? "connect" : "connection", strerror(e));
		goto out;
	}
	if (what & BEV_EVENT_EOF) {
		process(c);     /* whatever is still buffered */
		if (c->dead || c->phase == PH_DONE)
			goto out;
		if (c->phase == PH_BODY_EOF) {
			finish_ok(c);
		} else if (c->phase == PH_HEAD_STATUS && c->head_bytes == 0 &&
		           evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
			finish_error(c, -ECONNRESET, "connection closed before a response");
		} else if (c->phase == PH_HEAD_STATUS || c->phase == PH_HEAD_FIELDS) {
			finish_error(c, -ECONNRESET, "connection closed inside the response head");
		} else {
			finish_error(c, -ECONNRESET,
			             "connection closed inside the response body (after %llu bytes)",
			             c->body_bytes);
		}
	}
out:
	leave(c);
}

/* ------------------------------------------------------------- API */

struct httpc *httpc_new(struct event_base *base, const struct httpc_callbacks *cb, void *arg,
                        const struct httpc_opts *opts)
{
	struct httpc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base = base;
	if (cb)
		c->cb = *cb;
	c->arg = arg;
	if (opts)
		c->opts = *opts;
	if (!c->opts.max_header_bytes)
		c->opts.max_header_bytes = HTTPC_DEFAULT_HEADER_MAX;
	if (!c->opts.connect_timeout_ms)
		c->opts.connect_timeout_ms = HTTPC_DEFAULT_CONNECT_MS;
	if (!c->opts.response_timeout_ms)
		c->opts.response_timeout_ms = HTTPC_DEFAULT_RESPONSE_MS;
	c->timer = evtimer_new(base, timer_cb, c);
	if (!c->timer) {
		free(c);
		return NULL;
	}
	return c;
}

int httpc_attach(struct httpc *c, struct bufferevent *bev)
{
	if (!bev)
		return -EINVAL;
	if (c->bev || c->pending_err)
		return -EALREADY;
	c->bev = bev;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	arm(c, c->opts.response_timeout_ms);
	return 0;
}

int httpc_connect_unix(struct httpc *c, const char *path)
{
	struct sockaddr_un sun;
	socklen_t slen;
	size_t n;
	int fd, r;

	if (c->bev || c->pending_err)
		return -EALREADY;
	if (!path || !*path)
		return -EINVAL;
	n = strlen(path);
	if (n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
#ifdef __linux__
	if (path[0] == '@') {
		sun.sun_path[0] = '\0';
		slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
#endif
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		char why[300];

		snprintf(why, sizeof(why), "socket: %s", strerror(e));
		defer_error(c, -e, why);
		return 0;
	}
	/* A unix connect is decided at once: it works, or fails (EAGAIN: backlog full). */
	r = connect(fd, (struct sockaddr *)&sun, slen);
	if (r < 0 && errno != EINPROGRESS) {
		int e = errno;
		char why[300];

		close(fd);
		snprintf(why, sizeof(why), "connect %.200s: %s", path, strerror(e));
		defer_error(c, -e, why);
		return 0;
	}
	c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		return -ENOMEM;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->connecting = 0;
	arm(c, c->opts.response_timeout_ms);
	return 0;
}

int httpc_connect_tcp(struct httpc *c, const char *hostname, uint16_t port)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char lit[300];
	int r;

	if (c->bev || c->pending_err)
		return -EALREADY;
	if (!hostname || !*hostname || port == 0)
		return -EINVAL;
	c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return -ENOMEM;
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->connecting = 1;
	arm(c, c->opts.connect_timeout_ms);
	/* numeric: "1.2.3.4", "::1" or "[::1]" */
	if (strchr(hostname, ':') && hostname[0] != '[')
		snprintf(lit, sizeof(lit), "[%s]:%u", hostname, (unsigned)port);
	else
		snprintf(lit, sizeof(lit), "%s:%u", hostname, (unsigned)port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(lit, (struct sockaddr *)&ss, &sslen) == 0) {
		r = bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, sslen);
	} else if (c->opts.dns) {
		r = bufferevent_socket_connect_hostname(c->bev, c->opts.dns, AF_UNSPEC, hostname, port);
	} else {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->connecting = 0;
		event_del(c->timer);
		return -EINVAL;     /* a name, and no resolver given */
	}
	if (r < 0) {
		int e = errno ? errno : ECONNREFUSED;
		char why[400];

		bufferevent_free(c->bev);
		c->bev = NULL;
		c->connecting = 0;
		snprintf(why, sizeof(why), "connect %.300s: %s", lit, strerror(e));
		defer_error(c, -e, why);
	}
	return 0;
}

static int has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

int httpc_request(struct httpc *c, const char *method, const char *target, const char *host_header,
                  const char *const *extra_headers, const void *body, size_t bodylen)
{
	struct evbuffer *out;
	size_t i;

	if (c->requested)
		return -EALREADY;
	if (c->phase == PH_DONE)
		return -ENOTCONN;
	if (!method || !*method || !target || target[0] == '\0' || strpbrk(method, " \r\n") ||
	    strpbrk(target, " \r\n") || has_crlf(host_header))
		return -EINVAL;
	for (i = 0; extra_headers && extra_headers[i]; i++)
		if (has_crlf(extra_headers[i]) || !strchr(extra_headers[i], ':'))
			return -EINVAL;
	c->requested = 1;
	c->head_request = strcmp(method, "HEAD") == 0;
	c->phase = PH_HEAD_STATUS;
	if (!c->bev)
		return 0;       /* a deferred connect error will be reported */
	out = bufferevent_get_output(c->bev);
	if (evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method,
	                        target, host_header ? host_header : "localhost") < 0)
		return -ENOMEM;
	for (i = 0; extra_headers && extra_headers[i]; i++)
		if (evbuffer_add_printf(out, "%s\r\n", extra_headers[i]) < 0)
			return -ENOMEM;
	if (body && evbuffer_add_printf(out, "Content-Length: %zu\r\n", bodylen) < 0)
		return -ENOMEM;
	if (evbuffer_add(out, "\r\n", 2) < 0)
		return -ENOMEM;
	if (body && bodylen && evbuffer_add(out, body, bodylen) < 0)
		return -ENOMEM;
	return 0;
}
