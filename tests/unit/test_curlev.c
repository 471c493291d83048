/*
 * tests/unit/test_curlev.c - plugins/common/curlev.c (libcurl on a libevent
 * loop), compiled in, against a small HTTP server in this program on a unix
 * socket that answers each request with a canned scenario: bodies with a
 * Content-Length and chunked (with a trailer and an interim 100 head), the
 * head and body limits, the response and idle timeouts, a connection that
 * dies in the body, a missing socket, callbacks that abort or free
 * requests.  TAP.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "plugins/common/curlev.h"
#include "tests/unit/fake_host.h"
#include "tests/unit/tap.h"

/* ------------------------------------------------------------- the server */

/* What the server does with the next request. */
static const char *scenario;       /* bytes to send back ("" : nothing) */
static size_t scenario_len;
static int scenario_close;         /* close after sending */
static int requests;               /* requests seen */
static char last_request[2048];

struct conn {
	struct bufferevent *bev;
	int answered;
};

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	size_t n;

	if (p.pos < 0 || c->answered)
		return;
	n = (size_t)p.pos + 4 < sizeof(last_request) ? (size_t)p.pos + 4 : sizeof(last_request) - 1;
	evbuffer_remove(in, last_request, n);
	last_request[n] = '\0';
	c->answered = 1;
	requests++;
	bufferevent_write(bev, scenario, scenario_len);
	if (scenario_close) {
		bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
		bufferevent_disable(bev, EV_READ);
	}
}

static void conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->answered && scenario_close && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		bufferevent_free(bev);
		free(c);
	}
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	bufferevent_free(bev);
	free(arg);
}

static void on_conn(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));

	(void)l;
	(void)sa;
	(void)len;
	c->bev = bufferevent_socket_new(arg, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void serve(const char *bytes, size_t len, int close_after)
{
	scenario = bytes;
	scenario_len = len;
	scenario_close = close_after;
}

#define SERVE(s, close_after) serve((s), sizeof(s) - 1, (close_after))

/* ------------------------------------------------------------- a request */

struct result {
	int responses, bodies, ends, errors;
	int status;
	char reason[64];
	long long clen;
	size_t body_len;
	char body[256];
	int err;
	char why[300];
	int abort_in;                   /* 1: on_response returns -1; 2: on_body frees itself */
	struct curlev_req *self, *other;
};

static int r_response(struct curlev_req *q, const struct curlev_response *r, void *arg)
{
	struct result *x = arg;

	(void)q;
	x->responses++;
	x->status = r->status;
	snprintf(x->reason, sizeof(x->reason), "%s", r->reason);
	x->clen = r->content_length;
	if (x->other) {
		curlev_req_free(x->other);      /* another request, freed from inside a callback */
		x->other = NULL;
	}
	return x->abort_in == 1 ? -1 : 0;
}

static int r_body(struct curlev_req *q, const char *data, size_t len, void *arg)
{
	struct result *x = arg;

	x->bodies++;
	if (x->body_len + len < sizeof(x->body))
		memcpy(x->body + x->body_len, data, len);
	x->body_len += len;
	x->body[x->body_len < sizeof(x->body) ? x->body_len : sizeof(x->body) - 1] = '\0';
	if (x->abort_in == 2) {
		curlev_req_free(q);             /* itself, from inside its own callback */
		x->self = NULL;
		return -1;
	}
	return 0;
}

static void r_end(struct curlev_req *q, void *arg)
{
	struct result *x = arg;

	(void)q;
	x->ends++;
}

static void r_error(struct curlev_req *q, int err, const char *why, void *arg)
{
	struct result *x = arg;

	(void)q;
	x->errors++;
	x->err = err;
	snprintf(x->why, sizeof(x->why), "%s", why);
}

static const struct curlev_callbacks cbs = { r_response, r_body, r_end, r_error };

static char sock_path[108];

static int finished(void *arg)
{
	const struct result *x = arg;

	return x->ends + x->errors > 0;
}

/* One GET against the server; runs the loop until it ends (5 s at most), then 100 ms more. */
static int get(struct curlev *cv, struct event_base *base, struct curlev_opts *o, struct result *x)
{
	int r, early;

	o->url = "http://test/path";
	if (!o->unix_socket)
		o->unix_socket = sock_path;
	r = curlev_start(cv, o, &cbs, x, &x->self);
	if (r < 0)
		return r;
	early = x->responses + x->ends + x->errors;
	fh_run_until(base, finished, x, 5000);
	fh_run_for(base, 100);
	if (x->self)
		curlev_req_free(x->self);
	return early ? -EALREADY : 0;
}

static void test_bodies(struct curlev *cv, struct event_base *base)
{
	static const char clen[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	static const char chunked[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created Here\r\n"
	                              "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n";
	struct curlev_opts o;
	struct result x;
	int r;

	SERVE(clen, 1);
	memset(&o, 0, sizeof(o));
	memset(&x, 0, sizeof(x));
	r = get(cv, base, &o, &x);
	ok(r == 0, "no callback from inside curlev_start");
	ok(x.responses == 1 && x.status == 200 && !strcmp(x.reason, "OK") && x.clen == 5,
	   "on_response: 200 OK, Content-Length 5 (%d %s %lld)", x.status, x.reason, x.clen);
	ok(x.ends == 1 && x.errors == 0 && !strcmp(x.body, "hello"), "the body, then on_end (\"%s\")", x.body);
	ok(strstr(last_request, "GET /path HTTP/1.1\r\n") && strstr(last_request, "Host: test\r\n"),
	   "the request line and Host header");

	SERVE(chunked, 1);
	memset(&x, 0, sizeof(x));
	{
		const char *hdrs[] = { "X-One: 1", NULL };

		o.headers = hdrs;
		get(cv, base, &o, &x);
		o.headers = NULL;
	}
	ok(x.responses == 1 && x.status == 201 && !strcmp(x.reason, "Created Here") && x.clen == -1,
	   "a 100 head is skipped; 201 with its reason, no length (%d \"%s\")", x.status, x.reason);
	ok(x.ends == 1 && !strcmp(x.body, "abcdefg") && x.errors == 0, "a chunked body with a trailer (\"%s\")",
	   x.body);
	ok(strstr(last_request, "X-One: 1\r\n") != NULL, "extra headers are sent");
}

static void test_limits(struct curlev *cv, struct event_base *base)
{
	static const char big_head[] = "HTTP/1.1 200 OK\r\nX-Pad: 0123456789012345678901234567890123456789\r\n"
	                               "Content-Length: 0\r\n\r\n";
	static const char big_len[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	static const char big_chunks[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                                 "8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n";
	static const char big_trailer[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                                  "2\r\nok\r\n0\r\nX-Trailer-Pad: 0123456789\r\n\r\n";
	struct curlev_opts o;
	struct result x;

	memset(&o, 0, sizeof(o));
	o.max_header_bytes = 48;
	SERVE(big_head, 1);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.errors == 1 && x.err == -EFBIG && !strcmp(x.why, "response head exceeds 48 bytes") && !x.responses,
	   "head over the limit: \"%s\"", x.why);
	o.max_header_bytes = 0;
	o.max_body_bytes = 10;
	SERVE(big_len, 0);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.errors == 1 && x.err == -EFBIG &&
	   !strcmp(x.why, "response body of 100 bytes exceeds the limit of 10 bytes") && !x.responses,
	   "an announced body over the limit: \"%s\"", x.why);
	SERVE(big_chunks, 1);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.errors == 1 && x.err == -EFBIG && !strcmp(x.why, "response body exceeds the limit of 10 bytes") &&
	   x.body_len <= 10, "a chunked body over the limit: \"%s\" (%zu bytes delivered)", x.why, x.body_len);
	/* The head (47 bytes) fits in 48; the trailer after the body does not. */
	o.max_body_bytes = 0;
	o.max_header_bytes = 48;
	SERVE(big_trailer, 1);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.responses == 1 && x.errors == 1 && x.err == -EFBIG && !strcmp(x.why, "trailers exceed 48 bytes"),
	   "trailers are bounded too: \"%s\"", x.why);
}

static void test_failures(struct curlev *cv, struct event_base *base)
{
	static const char head_only[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly part";
	struct curlev_opts o;
	struct result x;

	memset(&o, 0, sizeof(o));
	o.response_timeout_ms = 300;
	SERVE("", 0);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.errors == 1 && x.err == -ETIMEDOUT && !strcmp(x.why, "no response within 300 ms"),
	   "no answer: \"%s\"", x.why);
	o.idle_timeout_ms = 300;
	SERVE(head_only, 0);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.responses == 1 && x.errors == 1 && x.err == -ETIMEDOUT && !strcmp(x.why, "nothing received for 300 ms") &&
	   !strcmp(x.body, "abc"), "silence in the body: \"%s\"", x.why);
	memset(&o, 0, sizeof(o));
	SERVE(cut, 1);
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.errors == 1 && x.err == -ECONNRESET && strstr(x.why, "connection closed inside the response body"),
	   "a connection closed in the body: \"%s\"", x.why);
	o.unix_socket = "/nonexistent/docker.sock";
	memset(&x, 0, sizeof(x));
	get(cv, base, &o, &x);
	ok(x.errors == 1 && x.err == -ENOENT &&
	   !strcmp(x.why, "connect /nonexistent/docker.sock: No such file or directory"),
	   "a missing socket: %d \"%s\"", x.err, x.why);
	o.unix_socket = NULL;
	{
		const char *bad[] = { "X-Evil: a\r\nX-Injected: b", NULL };
		struct curlev_req *q = NULL;

		o.headers = bad;
		ok(curlev_start(cv, &o, &cbs, &x, &q) == -EINVAL && !q, "a header with CR LF is refused");
		o.headers = NULL;
	}
}

static void test_callbacks(struct curlev *cv, struct event_base *base)
{
	static const char clen[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	static const char slow[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	struct curlev_opts o;
	struct result x, y;

	memset(&o, 0, sizeof(o));
	SERVE(clen, 1);
	memset(&x, 0, sizeof(x));
	x.abort_in = 1;
	get(cv, base, &o, &x);
	ok(x.responses == 1 && x.bodies == 0 && x.ends == 0 && x.errors == 0,
	   "on_response returning -1: nothing more is called");
	memset(&x, 0, sizeof(x));
	x.abort_in = 2;
	curlev_start(cv, &(struct curlev_opts){ .url = "http://test/a", .unix_socket = sock_path }, &cbs, &x, &x.self);
	fh_run_for(base, 500);
	ok(x.bodies == 1 && x.ends == 0 && x.errors == 0 && !x.self,
	   "a request freed from inside its own on_body: nothing more is called");
	/* y is started, then freed from inside x's on_response while its answer is pending. */
	SERVE(slow, 0);
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	curlev_start(cv, &(struct curlev_opts){ .url = "http://test/y", .unix_socket = sock_path }, &cbs, &y, &y.self);
	fh_run_for(base, 300);
	x.other = y.self;
	SERVE(clen, 1);
	get(cv, base, &o, &x);
	fh_run_for(base, 200);
	ok(x.ends == 1 && y.responses == 1 && y.ends == 0 && y.errors == 0,
	   "another request freed from inside a callback: it stops quietly");
}

int main(void)
{
	struct event_base *base = fh_base_new();
	struct evconnlistener *l;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct curlev *cv;
	char err[256] = "";

	plan(20);
	snprintf(sock_path, sizeof(sock_path), "/tmp/test_curlev.%d.sock", (int)getpid());
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	unlink(sock_path);
	l = evconnlistener_new_bind(base, on_conn, base, LEV_OPT_CLOSE_ON_FREE, 16, (struct sockaddr *)&sun,
	                            sizeof(sun));
	cv = curlev_new(base, err, sizeof(err));
	if (!l || !cv) {
		diag("setup: %s", l ? err : "cannot listen");
		return 1;
	}
	test_bodies(cv, base);
	test_limits(cv, base);
	test_failures(cv, base);
	test_callbacks(cv, base);
	ok(requests >= 13, "the server saw every request (%d)", requests);
	curlev_free(cv);
	evconnlistener_free(l);
	unlink(sock_path);
	fh_base_free(base);
	return done_testing();
}
