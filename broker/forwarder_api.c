/* forwarder_api.c - gvproxy's port-forwarder HTTP API over evhttp on the
 * broker's loop (see forwarder_api.h).  The shapes follow
 * gvisor-tap-vsock's pkg/services/forwarder/ports.go (PortsForwarder.Mux)
 * and pkg/types/handshake.go (ExposeRequest, UnexposeRequest); the limits
 * are the /metrics server's (--http-max-*).  evbuffer_add_printf is
 * libevent's (Microsoft's printf on Windows): no %zu. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/forwarder_api.h"
#include "broker/http_conns.h"
#include "broker/log.h"
#include "broker/peer.h"
#include "broker/platform.h"
#include "broker/platform_net.h"
#include "broker/route.h"
#include "broker/store.h"
#include "broker/url.h"

#define TAG "forwarder-api"
#define KV_AREA "forwarder-api"     /* the store's key-value area: route name -> the request as given */
#define PATH_ALL "/services/forwarder/all"
#define PATH_EXPOSE "/services/forwarder/expose"
#define PATH_UNEXPOSE "/services/forwarder/unexpose"
#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_MAX_HEADERS (8 * 1024)
#define DEFAULT_MAX_BODY (4 * 1024)

struct forwarder_api {
	struct broker *b;
	struct evhttp *http;
	struct http_conns *conns;
	char *unix_path;              /* removed at stop; NULL for tcp */
	unsigned long long refused;   /* connections from another uid */
};

/* An expose waiting for the peer's word on its target. */
struct pending_expose {
	struct forwarder_api *fa;
	struct evhttp_request *req;
	char name[FWD_NAME_MAX];
	char local[FWD_FIELD_MAX + 1];
	char target[FWD_URL_MAX];
};

/* ------------------------------------------------------------ replies */

static const char *reason_of(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	default: return "Internal Server Error";
	}
}

/* As Go's http.Error: one line of text, a newline, no sniffing. */
static void reply_text(struct evhttp_request *req, int code, const char *text)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (!buf) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply(req, code, reason_of(code), buf);
	evbuffer_free(buf);
}

/* 200, no body (libevent would label it text/html otherwise). */
static void reply_ok(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* ------------------------------------------------------------ requests */

/* The body as a JSON object, or 400 with why.  evhttp refused bodies over --http-max-body-size already. */
static json_t *read_object(struct evhttp_request *req, char *why, size_t whylen)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	unsigned char *data = n ? evbuffer_pullup(in, (ev_ssize_t)n) : NULL;
	json_error_t jerr;
	json_t *o;

	if (!n) {
		snprintf(why, whylen, "empty body: send a JSON object, e.g. {\"local\":\"127.0.0.1:8080\",\"remote\":\"127.0.0.1:80\"}");
		return NULL;
	}
	if (!data) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	o = json_loadb((const char *)data, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(why, whylen, "bad JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		snprintf(why, whylen, "the body must be a JSON object with \"local\", \"remote\" and \"protocol\", not %s",
		         json_is_array(o) ? "an array" : "a JSON scalar");
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A string member: NULL when absent or null; *bad set with why when it is there but not a usable string. */
static const char *member(json_t *o, const char *key, bool *bad, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		snprintf(why, whylen, "\"%s\" must be a string", key);
		return NULL;
	}
	s = json_string_value(v);
	if (strlen(s) > FWD_FIELD_MAX || json_string_length(v) != strlen(s)) {
		*bad = true;
		snprintf(why, whylen, "\"%s\" is longer than %d bytes or holds a NUL", key, FWD_FIELD_MAX);
		return NULL;
	}
	return s;
}

struct fields {
	const char *local, *remote, *protocol;
};

/* local (and remote when want_remote) present, protocol known; 400 text in why otherwise. */
static int read_fields(json_t *o, bool want_remote, struct fields *f, char *why, size_t whylen)
{
	bool bad = false;
	const char *proto = NULL;

	f->local = member(o, "local", &bad, why, whylen);
	if (!bad)
		f->remote = member(o, "remote", &bad, why, whylen);
	if (!bad)
		proto = member(o, "protocol", &bad, why, whylen);
	if (bad)
		return -EINVAL;
	if (!f->local || !*f->local)
		return errfmt(why, whylen, -EINVAL, "missing \"local\": the address to listen on here, e.g. 127.0.0.1:8080");
	if (want_remote && (!f->remote || !*f->remote))
		return errfmt(why, whylen, -EINVAL,
		              "missing \"remote\": the address to reach in the guest, e.g. 127.0.0.1:80");
	f->protocol = fwd_protocol(proto);
	if (!f->protocol)
		return errfmt(why, whylen, -EINVAL, "unknown protocol %s (use tcp, udp, unix or npipe)", proto);
	return 0;
}

/* What was exposed under name, as asked; NULL when nothing is. */
static json_t *stored_request(struct forwarder_api *fa, const char *name)
{
	void *v = NULL;
	size_t n = 0;
	json_t *o;

	if (store_kv_get(fa->b->store, KV_AREA, name, &v, &n) < 0)
		return NULL;
	o = json_loadb(v, n, 0, NULL);
	free(v);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

struct route_probe {
	const char *name;
	bool found;
};

static int probe_route(void *arg, const struct route_info *ri)
{
	struct route_probe *p = arg;

	if (!ri->owner && !strcmp(ri->name, p->name)) {
		p->found = true;
		return 1;
	}
	return 0;
}

static bool route_exists(struct forwarder_api *fa, const char *name)
{
	struct route_probe p = { name, false };

	routes_foreach(fa->b->routes, probe_route, &p);
	return p.found;
}

/* Undo an expose: the route and what we kept beside it. */
static void unexpose_name(struct forwarder_api *fa, const char *name)
{
	char err[512];

	if (routes_remove(fa->b->routes, name, err, sizeof(err)) < 0 && route_exists(fa, name))
		log_warn(TAG, "%s: %s", name, err);
	store_kv_delete(fa->b->store, KV_AREA, name);
}

static void on_peer_verdict(void *arg, int rc, const char *why)
{
	struct pending_expose *pe = arg;
	char text[2048];

	if (rc == -EPERM) {
		/* The guest decides what its side may reach: an expose it refuses is not kept. */
		log_warn(TAG, "expose %s: the peer refuses %s: %s; not exposed", pe->local, pe->target, why);
		unexpose_name(pe->fa, pe->name);
		/* The peer's reason names the flag that would allow it. */
		snprintf(text, sizeof(text), "the peer refuses to connect to %s: %s; not exposed", pe->target, why);
		reply_text(pe->req, 500, text);
	} else {
		if (rc < 0)
			log_info(TAG, "expose %s: exposed; the peer's policy could not be checked ahead: %s", pe->local, why);
		reply_ok(pe->req);
	}
	free(pe);
}

static void serve_expose(struct forwarder_api *fa, struct evhttp_request *req, json_t *o)
{
	struct fields f = { 0 };
	struct fwd_route r;
	char why[1024], err[512];
	json_t *kept;
	char *text;
	int st;

	if (read_fields(o, true, &f, why, sizeof(why)) < 0) {
		reply_text(req, 400, why);
		return;
	}
	st = fwd_translate(f.protocol, f.local, f.remote, &r, why, sizeof(why));
	if (st) {
		reply_text(req, st, why);
		return;
	}
	kept = stored_request(fa, r.name);
	if (kept && route_exists(fa, r.name)) {
		const char *was = json_string_value(json_object_get(kept, "local"));
		if (was && strcmp(was, f.local))
			snprintf(why, sizeof(why), "%s %s and the exposed %s share the route name %s; unexpose %s first",
			         f.protocol, f.local, was, r.name, was);
		else
			snprintf(why, sizeof(why), "proxy already running for %s on %s", f.protocol, f.local);
		json_decref(kept);
		reply_text(req, 500, why);
		return;
	}
	json_decref(kept);
	if (routes_add(fa->b->routes, r.name, r.listen, r.connect, 0, true, err, sizeof(err)) < 0) {
		log_warn(TAG, "expose %s %s -> %s: %s", f.protocol, f.local, f.remote, err);
		reply_text(req, 500, err);
		return;
	}
	kept = json_pack("{s:s, s:s, s:s}", "local", f.local, "remote", f.remote, "protocol", f.protocol);
	text = kept ? json_dumps(kept, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(kept);
	if (!text || store_kv_set(fa->b->store, KV_AREA, r.name, text, strlen(text)) < 0) {
		/* Kept beside the route or not at all: `all` and unexpose need it. */
		free(text);
		unexpose_name(fa, r.name);
		reply_text(req, 500, "cannot store the exposed port (see the broker's log)");
		return;
	}
	free(text);
	log_info(TAG, "exposed %s %s -> peer %s (route %s)", f.protocol, f.local, f.remote, r.name);

	struct pending_expose *pe = calloc(1, sizeof(*pe));
	int rc = pe ? peer_check_connect(fa->b->peer, r.connect + 5, on_peer_verdict, pe) : -ENOMEM;
	if (rc == 1) {
		pe->fa = fa;
		pe->req = req;
		snprintf(pe->name, sizeof(pe->name), "%s", r.name);
		snprintf(pe->local, sizeof(pe->local), "%s", f.local);
		snprintf(pe->target, sizeof(pe->target), "%s", r.connect + 5);
		return;   /* answered in on_peer_verdict */
	}
	free(pe);
	if (rc == 0)
		log_info(TAG, "expose %s: the link to the peer is down; connections wait for it", f.local);
	reply_ok(req);
}

static void serve_unexpose(struct forwarder_api *fa, struct evhttp_request *req, json_t *o)
{
	struct fields f = { 0 };
	char name[FWD_NAME_MAX], why[1024];
	json_t *kept;
	const char *was;

	if (read_fields(o, false, &f, why, sizeof(why)) < 0) {
		reply_text(req, 400, why);
		return;
	}
	fwd_route_name(f.protocol, f.local, name);
	kept = stored_request(fa, name);
	was = kept ? json_string_value(json_object_get(kept, "local")) : NULL;
	if (!was || strcmp(was, f.local) || !route_exists(fa, name)) {
		snprintf(why, sizeof(why), "proxy not found: nothing is exposed for %s on %s (GET %s lists what is)",
		         f.protocol, f.local, PATH_ALL);
		json_decref(kept);
		reply_text(req, 500, why);
		return;
	}
	json_decref(kept);
	unexpose_name(fa, name);
	log_info(TAG, "unexposed %s %s (route %s)", f.protocol, f.local, name);
	reply_ok(req);
}

/* ---- all ---- */

struct list_build {
	struct forwarder_api *fa;
	json_t **v;
	size_t n, cap;
	bool oom;
};

static int list_route(void *arg, const struct route_info *ri)
{
	struct list_build *lb = arg;
	json_t *o, *e;

	if (ri->owner || strncmp(ri->name, "fwd-", 4) != 0)
		return 0;
	o = stored_request(lb->fa, ri->name);
	if (!o)
		return 0;   /* a route someone named fwd-* by hand */
	/* gvproxy's proxy struct, field by field, in its order. */
	e = json_pack("{s:O?, s:O?, s:O?}", "local", json_object_get(o, "local"), "remote",
	              json_object_get(o, "remote"), "protocol", json_object_get(o, "protocol"));
	json_decref(o);
	if (lb->n == lb->cap) {
		size_t cap = lb->cap ? lb->cap * 2 : 16;
		json_t **v = realloc(lb->v, cap * sizeof(*v));
		if (!v) {
			json_decref(e);
			lb->oom = true;
			return 1;
		}
		lb->v = v;
		lb->cap = cap;
	}
	if (!e) {
		lb->oom = true;
		return 1;
	}
	lb->v[lb->n++] = e;
	return 0;
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* gvproxy sorts by local, then protocol. */
static int by_local(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(str_of(x, "local"), str_of(y, "local"));

	return c ? c : strcmp(str_of(x, "protocol"), str_of(y, "protocol"));
}

static void serve_all(struct forwarder_api *fa, struct evhttp_request *req)
{
	struct list_build lb = { .fa = fa };
	json_t *arr = json_array();
	struct evbuffer *buf = evbuffer_new();
	char *text = NULL;

	routes_foreach(fa->b->routes, list_route, &lb);
	if (lb.n)
		qsort(lb.v, lb.n, sizeof(*lb.v), by_local);
	for (size_t i = 0; i < lb.n; i++)
		if (arr && json_array_append_new(arr, lb.v[i]) == 0)
			lb.v[i] = NULL;
	for (size_t i = 0; i < lb.n; i++)
		json_decref(lb.v[i]);
	free(lb.v);
	if (arr && !lb.oom)
		text = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(arr);
	if (!text || !buf) {
		free(text);
		if (buf)
			evbuffer_free(buf);
		reply_text(req, 500, "out of memory while listing");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	/* json.Encoder ends its value with a newline. */
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

/* ---- dispatch ---- */

/* Only our uid and root, as on the control socket (rpc/ipc_peer.c); the 0600 mode is the first fence. */
static bool peer_admitted(struct forwarder_api *fa, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	struct platform_peer p;

	if (!fa->unix_path)
		return true;
	if (!bev)
		return false;
	platform_sock_peer((broker_fd)bufferevent_getfd(bev), &p);
	if (p.kind == PLATFORM_PEER_UNIX && (p.uid == platform_euid() || p.uid == 0))
		return true;
	fa->refused++;
	log_warn(TAG, "refused a request from uid %ld on %s (only uid %ld and root may use it; %llu refused so far)",
	         p.uid, fa->unix_path, platform_euid(), fa->refused);
	return false;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct forwarder_api *fa = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	bool expose;
	char why[512];
	json_t *o;

	if (!peer_admitted(fa, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_text(req, 403, "forbidden: this socket serves only the user brokerd runs as");
		return;
	}
	if (!path)
		path = "";
	if (!strcmp(path, PATH_ALL)) {
		serve_all(fa, req);   /* any method, as gvproxy's mux */
		return;
	}
	expose = !strcmp(path, PATH_EXPOSE);
	if (!expose && strcmp(path, PATH_UNEXPOSE) != 0) {
		reply_text(req, 404, "404 page not found");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply_text(req, 400, "post only");
		return;
	}
	o = read_object(req, why, sizeof(why));
	if (!o) {
		reply_text(req, 400, why);
		return;
	}
	if (expose)
		serve_expose(fa, req, o);
	else
		serve_unexpose(fa, req, o);
	json_decref(o);
}

/* ------------------------------------------------------------ server */

int forwarder_api_start(struct broker *b, const char *url, struct forwarder_api **out, char *err, size_t errlen)
{
	const struct broker_limits *lim = &b->cfg.limits;
	bool unset = lim->http_connections == 0;   /* a broker without a loaded config (unit tests) */
	struct evhttp_bound_socket *sock = NULL;
	struct forwarder_api *fa;
	char why[512];
	int rc;

	*out = NULL;
	if ((rc = forwarder_api_url_check(url, why, sizeof(why))) < 0)
		return errfmt(err, errlen, rc, "--forwarder-api %s", why);
	fa = calloc(1, sizeof(*fa));
	if (!fa || !(fa->http = evhttp_new(b->base))) {
		free(fa);
		return errfmt(err, errlen, -ENOMEM, "--forwarder-api %s: out of memory", url);
	}
	fa->b = b;
	/* Every method reaches on_request, which answers as gvproxy does ("post only"). */
	evhttp_set_allowed_methods(fa->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(fa->http, 30);
	evhttp_set_max_headers_size(fa->http, unset ? DEFAULT_MAX_HEADERS : (ev_ssize_t)lim->http_header_size);
	evhttp_set_max_body_size(fa->http, unset ? DEFAULT_MAX_BODY : (ev_ssize_t)lim->http_body_size);
	evhttp_set_gencb(fa->http, on_request, fa);
	if (http_conns_new(b->base, fa->http, unset ? DEFAULT_MAX_CONNECTIONS : lim->http_connections,
	                   (unset ? DEFAULT_MAX_HEADERS + DEFAULT_MAX_BODY : lim->http_header_size + lim->http_body_size) +
	                           16 * 1024,
	                   TAG, &fa->conns) < 0) {
		rc = errfmt(err, errlen, -ENOMEM, "--forwarder-api %s: out of memory", url);
		goto fail;
	}
	if (!strncmp(url, "unix://", 7)) {
		broker_fd fd;
		if ((rc = platform_unix_listen(url + 7, &fd, why, sizeof(why))) < 0) {
			rc = errfmt(err, errlen, rc, "--forwarder-api %s", why);
			goto fail;
		}
		if (!(fa->unix_path = strdup(url + 7)) ||
		    !(sock = evhttp_accept_socket_with_handle(fa->http, (evutil_socket_t)fd))) {
			platform_fd_close(fd);
			remove(url + 7);
			rc = errfmt(err, errlen, -ENOMEM, "--forwarder-api %s: cannot serve the socket", url);
			goto fail;
		}
	} else {
		char host[256];
		unsigned port;
		url_split_host_port(url + 6, "127.0.0.1", host, sizeof(host), &port, why, sizeof(why));
		sock = evhttp_bind_socket_with_handle(fa->http, host, (ev_uint16_t)port);
		if (!sock) {
			int e = net_last_errno() ? net_last_errno() : EADDRNOTAVAIL;
			rc = errfmt(err, errlen, -e, "--forwarder-api %s: cannot listen: %s%s", url, strerror(e),
			            e == EADDRINUSE ? " (the port is taken; pick another)" : "");
			goto fail;
		}
	}
	http_conns_set_listener(fa->conns, evhttp_bound_socket_get_listener(sock));
	*out = fa;
	return 0;
fail:
	evhttp_free(fa->http);
	http_conns_free(fa->conns);
	free(fa->unix_path);
	free(fa);
	return rc;
}

void forwarder_api_stop(struct forwarder_api *fa)
{
	if (!fa)
		return;
	evhttp_free(fa->http);
	http_conns_free(fa->conns);
	if (fa->unix_path && remove(fa->unix_path) < 0 && errno != ENOENT)
		log_warn(TAG, "cannot remove %s: %s", fa->unix_path, strerror(errno));
	free(fa->unix_path);
	free(fa);
}
