/*
 * plugins/common/curlev.c - libcurl's multi-socket API driven by a libevent
 * event_base (see curlev.h).
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and
 * when to call it back (CURLMOPT_TIMERFUNCTION); each socket event and the
 * timer call curl_multi_socket_action, and finished transfers are read with
 * curl_multi_info_read.  libcurl forbids adding or removing a transfer from
 * inside its own callbacks, and our callbacks (the plugin's) run there: so
 * starting a request and freeing one while libcurl is on the stack only
 * marks it, and a zero-delay "kick" event does the rest from the loop.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "plugins/common/curlev.h"

#define CURLEV_HEAD_MAX (64 * 1024)
#define CURLEV_CONNECT_MS 10000
#define CURLEV_RESPONSE_MS 30000

enum q_state { Q_QUEUED, Q_ACTIVE, Q_DONE };

struct curlev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;            /* libcurl's own timeout */
	struct event *kick;             /* start queued requests, free dead ones */
	int in_curl;                    /* libcurl is on the stack */
	struct curlev_req *reqs;        /* every request not yet freed */
};

/* One socket libcurl asked us to watch. */
struct curlev_sock {
	struct curlev *cv;
	struct event *ev;
};

struct curlev_req {
	struct curlev *cv;
	struct curlev_req *next;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	struct curlev_callbacks cb;
	void *arg;
	enum q_state state;
	int dead;                       /* freed by the plugin: no callback, free at the next kick */
	int quiet;                      /* a callback aborted: no more callbacks */
	/* limits and timeouts */
	size_t max_head;
	unsigned long long max_body;
	long response_ms, idle_ms;
	struct event *timer;            /* response, then idle timeout */
	/* the response */
	int status;
	char reason[128];
	long long content_length;
	size_t head_bytes;
	int head_done;
	unsigned long long body_bytes;
	/* our own failure (a limit), reported instead of libcurl's */
	int err;
	char why[256];
	char where[300];                /* the socket path or the URL, for connect errors */
	char errbuf[CURL_ERROR_SIZE];
};

static void check_done(struct curlev *cv);

/* ------------------------------------------------------------- requests */

static void req_unlink(struct curlev_req *q)
{
	struct curlev_req **pp;

	for (pp = &q->cv->reqs; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			return;
		}
}

/* Take q out of the multi (never with libcurl on the stack). */
static void req_detach(struct curlev_req *q)
{
	if (q->state == Q_ACTIVE)
		curl_multi_remove_handle(q->cv->multi, q->easy);
	q->state = Q_DONE;
	if (q->timer)
		evtimer_del(q->timer);
}

static void req_destroy(struct curlev_req *q)
{
	req_detach(q);
	req_unlink(q);
	if (q->easy)
		curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->headers);
	curl_slist_free_all(q->connect_to);
	if (q->timer)
		event_free(q->timer);
	free(q);
}

static void arm(struct curlev_req *q, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms > 0)
		evtimer_add(q->timer, &tv);
	else
		evtimer_del(q->timer);
}

/* The request ends here: detach it, then tell the plugin (unless it is gone or quiet). */
static void finish(struct curlev_req *q, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(struct curlev_req *q, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	req_detach(q);
	if (q->dead || q->quiet)
		return;
	q->quiet = 1;
	if (!fmt) {
		if (q->cb.on_end)
			q->cb.on_end(q, q->arg);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (q->cb.on_error)
		q->cb.on_error(q, err, why, q->arg);
}

/* A limit was passed inside a libcurl callback: remember it; the transfer then fails. */
static void fail_later(struct curlev_req *q, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_later(struct curlev_req *q, int err, const char *fmt, ...)
{
	va_list ap;

	q->err = err;
	va_start(ap, fmt);
	vsnprintf(q->why, sizeof(q->why), fmt, ap);
	va_end(ap);
}

static void on_req_timer(evutil_socket_t fd, short what, void *arg)
{
	struct curlev_req *q = arg;

	(void)fd;
	(void)what;
	if (!q->head_done)
		finish(q, -ETIMEDOUT, "no response within %ld ms", q->response_ms);
	else
		finish(q, -ETIMEDOUT, "nothing received for %ld ms", q->idle_ms);
}

/* ------------------------------------------------------------- libcurl's callbacks */

/* "HTTP/1.1 200 OK" */
static void status_line(struct curlev_req *q, const char *line, size_t len)
{
	const char *p = memchr(line, ' ', len), *end = line + len;
	size_t n;

	q->status = 0;
	q->reason[0] = '\0';
	q->content_length = -1;
	q->head_bytes = 0;
	if (!p)
		return;
	while (p < end && *p == ' ')
		p++;
	while (p < end && *p >= '0' && *p <= '9')
		q->status = q->status * 10 + (*p++ - '0');
	while (p < end && *p == ' ')
		p++;
	n = (size_t)(end - p);
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	snprintf(q->reason, sizeof(q->reason), "%.*s", (int)(n < sizeof(q->reason) ? n : sizeof(q->reason) - 1), p);
}

/* The final head is complete: check the announced length, then tell the plugin.  0, or -1 to stop. */
static int head_end(struct curlev_req *q)
{
	struct curlev_response r;

	if (q->status >= 100 && q->status < 200 && q->status != 101)
		return 0;               /* an interim head; the real one follows */
	if (q->status == 101) {
		fail_later(q, -EPROTO, "server switched protocols (101), which is not supported");
		return -1;
	}
	if (q->max_body && q->content_length >= 0 && (unsigned long long)q->content_length > q->max_body) {
		fail_later(q, -EFBIG, "response body of %lld bytes exceeds the limit of %llu bytes",
		           q->content_length, q->max_body);
		return -1;
	}
	q->head_done = 1;
	arm(q, q->idle_ms);
	r.status = q->status;
	r.reason = q->reason;
	r.content_length = q->content_length;
	if (q->cb.on_response && q->cb.on_response(q, &r, q->arg) < 0) {
		q->quiet = 1;
		return -1;
	}
	return 0;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct curlev_req *q = arg;
	size_t len = size * nitems;

	if (q->dead || q->quiet || q->err)
		return 0;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		status_line(q, buf, len);
		q->head_done = 0;
	} else if (q->head_done) {
		/* a trailer after a chunked body: counted, not looked at */
		q->head_bytes += len;
		if (q->head_bytes > q->max_head) {
			fail_later(q, -EFBIG, "trailers exceed %zu bytes", q->max_head);
			return 0;
		}
		return len;
	}
	q->head_bytes += len;
	if (q->head_bytes > q->max_head) {
		fail_later(q, -EFBIG, "response head exceeds %zu bytes", q->max_head);
		return 0;
	}
	if (len > 15 && strncasecmp(buf, "Content-Length:", 15) == 0) {
		char *end;
		long long v = strtoll(buf + 15, &end, 10);

		q->content_length = end != buf + 15 && v >= 0 ? v : -1;
	}
	if ((len == 2 && buf[0] == '\r' && buf[1] == '\n') || (len == 1 && buf[0] == '\n')) {
		if (head_end(q) < 0)
			return 0;
	}
	return len;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct curlev_req *q = arg;
	size_t len = size * nmemb;

	if (q->dead || q->quiet || q->err)
		return 0;
	q->body_bytes += len;
	if (q->max_body && q->body_bytes > q->max_body) {
		fail_later(q, -EFBIG, "response body exceeds the limit of %llu bytes", q->max_body);
		return 0;
	}
	arm(q, q->idle_ms);
	if (q->cb.on_body && q->cb.on_body(q, data, len, q->arg) < 0) {
		q->quiet = 1;
		return 0;
	}
	return len;
}

/* ------------------------------------------------------------- the multi handle on the loop */

static void socket_action(struct curlev *cv, curl_socket_t fd, int action)
{
	int running = 0;

	cv->in_curl++;
	curl_multi_socket_action(cv->multi, fd, action, &running);
	cv->in_curl--;
	check_done(cv);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	socket_action(arg, fd, action);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int multi_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curlev *cv = userp;
	struct curlev_sock *cs = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			event_free(cs->ev);
			free(cs);
		}
		return 0;
	}
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return -1;
		cs->cv = cv;
		curl_multi_assign(cv->multi, s, cs);
	}
	if (cs->ev)
		event_free(cs->ev);
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	cs->ev = event_new(cv->base, s, kind, on_socket, cv);
	return cs->ev && event_add(cs->ev, NULL) == 0 ? 0 : -1;
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlev *cv = userp;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(cv->timer);
	return evtimer_add(cv->timer, &tv);
}

/* libcurl's result of a finished transfer, in our words. */
static void report_result(struct curlev_req *q, CURLcode rc)
{
	long oserr = 0;

	if (q->err) {
		finish(q, q->err, "%s", q->why);
		return;
	}
	if (rc == CURLE_OK) {
		if (!q->head_done)
			finish(q, -ECONNRESET, "connection closed before a response");
		else
			finish(q, 0, NULL);
		return;
	}
	curl_easy_getinfo(q->easy, CURLINFO_OS_ERRNO, &oserr);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		finish(q, oserr ? -(int)oserr : -ECONNREFUSED, "connect %s: %s", q->where,
		       oserr ? strerror((int)oserr) : q->errbuf);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		finish(q, -EHOSTUNREACH, "cannot resolve the host: %s", q->errbuf);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		finish(q, -ETIMEDOUT, "%s", q->errbuf[0] ? q->errbuf : "timed out");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		finish(q, CURLEV_ETLSVERIFY, "%s", q->errbuf);
		break;
	case CURLE_GOT_NOTHING:
		finish(q, -ECONNRESET, "connection closed before a response");
		break;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
		if (q->head_done)
			finish(q, -ECONNRESET, "connection closed inside the response body (after %llu bytes)",
			       q->body_bytes);
		else
			finish(q, -ECONNRESET, "connection closed inside the response head");
		break;
	default:
		finish(q, -EPROTO, "%s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc));
		break;
	}
}

/* Every finished transfer: report it (libcurl is not on the stack here). */
static void check_done(struct curlev *cv)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(cv->multi, &left)) != NULL) {
		struct curlev_req *q = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		if (q && q->state == Q_ACTIVE)
			report_result(q, m->data.result);
	}
}

/* Start what was queued, free what was freed while libcurl was on the stack. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct curlev *cv = arg;
	struct curlev_req *q, *next;

	(void)fd;
	(void)what;
	for (q = cv->reqs; q; q = next) {
		next = q->next;
		if (q->dead) {
			req_destroy(q);
		} else if (q->state == Q_QUEUED) {
			if (curl_multi_add_handle(cv->multi, q->easy) != CURLM_OK) {
				q->state = Q_DONE;
				finish(q, -ENOMEM, "cannot start the request");
				next = cv->reqs;        /* the plugin may have freed anything */
				continue;
			}
			q->state = Q_ACTIVE;
			arm(q, q->response_ms);
		}
	}
}

/* ------------------------------------------------------------- API */

struct curlev *curlev_new(struct event_base *base, char *err, size_t errlen)
{
	struct curlev *cv = calloc(1, sizeof(*cv));

	if (!cv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialize libcurl");
		free(cv);
		return NULL;
	}
	cv->base = base;
	cv->multi = curl_multi_init();
	cv->timer = evtimer_new(base, on_timeout, cv);
	cv->kick = event_new(base, -1, 0, on_kick, cv);
	if (!cv->multi || !cv->timer || !cv->kick) {
		snprintf(err, errlen, "out of memory");
		curlev_free(cv);
		return NULL;
	}
	curl_multi_setopt(cv->multi, CURLMOPT_SOCKETFUNCTION, multi_socket_cb);
	curl_multi_setopt(cv->multi, CURLMOPT_SOCKETDATA, cv);
	curl_multi_setopt(cv->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(cv->multi, CURLMOPT_TIMERDATA, cv);
	return cv;
}

void curlev_free(struct curlev *cv)
{
	if (!cv)
		return;
	while (cv->reqs)
		req_destroy(cv->reqs);
	if (cv->multi)
		curl_multi_cleanup(cv->multi);
	if (cv->timer)
		event_free(cv->timer);
	if (cv->kick)
		event_free(cv->kick);
	free(cv);
	curl_global_cleanup();
}

static int has_crlf(const char *s)
{
	return s && (strchr(s, '\r') || strchr(s, '\n'));
}

static void blob(CURL *e, CURLoption opt, const void *data, size_t len)
{
	struct curl_blob b = { (void *)data, len, CURL_BLOB_COPY };

	curl_easy_setopt(e, opt, &b);
}

/* The transfer's options from opts.  0 or -ENOMEM. */
static int req_setup(struct curlev_req *q, const struct curlev_opts *o)
{
	CURL *e = q->easy;
	size_t i;

	for (i = 0; o->headers && o->headers[i]; i++) {
		struct curl_slist *l = curl_slist_append(q->headers, o->headers[i]);

		if (!l)
			return -ENOMEM;
		q->headers = l;
	}
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_PROXY, "");            /* no proxy from the environment */
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);      /* one connection per request */
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	                 (long)CURLEV_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	if (o->unix_socket && o->unix_socket[0] == '@')
		curl_easy_setopt(e, CURLOPT_ABSTRACT_UNIX_SOCKET, o->unix_socket + 1);
	else if (o->unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (o->ca_pem) {
		blob(e, CURLOPT_CAINFO_BLOB, o->ca_pem, o->ca_len);
	}
	if (o->cert_pem) {
		blob(e, CURLOPT_SSLCERT_BLOB, o->cert_pem, o->cert_len);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (o->key_pem) {
		blob(e, CURLOPT_SSLKEY_BLOB, o->key_pem, o->key_len);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (o->connect_to) {
		struct curl_slist *l = curl_slist_append(NULL, o->connect_to);

		if (!l)
			return -ENOMEM;
		q->connect_to = l;
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, l);
	}
	return 0;
}

int curlev_start(struct curlev *cv, const struct curlev_opts *opts, const struct curlev_callbacks *cb,
                 void *arg, struct curlev_req **qp)
{
	struct curlev_req *q;
	size_t i;

	if (!opts->url || has_crlf(opts->url) || has_crlf(opts->unix_socket))
		return -EINVAL;
	for (i = 0; opts->headers && opts->headers[i]; i++)
		if (has_crlf(opts->headers[i]))
			return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cv = cv;
	q->cb = *cb;
	q->arg = arg;
	q->state = Q_QUEUED;
	q->content_length = -1;
	q->max_head = opts->max_header_bytes ? opts->max_header_bytes : CURLEV_HEAD_MAX;
	q->max_body = opts->max_body_bytes;
	q->response_ms = opts->response_timeout_ms ? opts->response_timeout_ms : CURLEV_RESPONSE_MS;
	q->idle_ms = opts->idle_timeout_ms;
	snprintf(q->where, sizeof(q->where), "%s", opts->unix_socket ? opts->unix_socket : opts->url);
	q->easy = curl_easy_init();
	q->timer = evtimer_new(cv->base, on_req_timer, q);
	q->next = cv->reqs;
	cv->reqs = q;
	if (!q->easy || !q->timer || req_setup(q, opts) < 0) {
		req_destroy(q);
		return -ENOMEM;
	}
	event_active(cv->kick, EV_TIMEOUT, 0);
	*qp = q;
	return 0;
}

void curlev_req_free(struct curlev_req *q)
{
	if (!q)
		return;
	if (q->cv->in_curl) {
		q->dead = 1;
		event_active(q->cv->kick, EV_TIMEOUT, 0);
		return;
	}
	req_destroy(q);
}
