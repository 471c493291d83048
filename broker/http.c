/* http.c - /health, /ready and /metrics over evhttp on the broker's loop.
 * evbuffer_add_printf is libevent's (Microsoft's printf on Windows): no %zu. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "broker/broker.h"
#include "broker/platform_net.h"
#include "broker/errfmt.h"
#include "broker/http.h"
#include "broker/http_conns.h"
#include "broker/link.h"
#include "broker/mapping.h"
#include "broker/peer.h"
#include "broker/log.h"
#include "broker/plugins.h"
#include "broker/route.h"
#include "broker/url.h"
#include "rpc/ctl_server.h"

#define TAG "http"
#define DEFAULT_HOST "127.0.0.1"
/* When the broker's limits are unset (unit tests): the defaults of config_limits.c. */
#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_MAX_HEADERS (8 * 1024)
#define DEFAULT_MAX_BODY (4 * 1024)

struct http_server {
	struct broker *b;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	unsigned port;              /* the bound port (differs from the asked one for port 0) */
	struct http_conns *conns;   /* the connection limit (http_conns.c) */
};

/* ------------------------------------------------------------ metrics */

struct route_snap {
	char *name;
	struct route_counters c;
};

struct snap {
	struct route_snap *v;
	size_t n, cap;
	int oom;
};

/*
 * Prometheus wants every sample of one metric family together, so copy the
 * routes once and emit family by family (names are only valid inside the
 * routes_foreach callback).
 */
static int snap_route(void *arg, const struct route_info *ri)
{
	struct snap *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct route_snap *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			s->oom = 1;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].name = strdup(ri->name ? ri->name : "");
	if (!s->v[s->n].name) {
		s->oom = 1;
		return 1;
	}
	s->v[s->n].c = ri->counters;
	s->n++;
	return 0;
}

/* Label values escape backslash, double quote and newline (text format 0.0.4). */
static void put_label(struct evbuffer *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			evbuffer_add_printf(f, "%s", "\\\\");
		else if (*s == '"')
			evbuffer_add_printf(f, "%s", "\\\"");
		else if (*s == '\n')
			evbuffer_add_printf(f, "%s", "\\n");
		else
			evbuffer_add(f, s, 1);
	}
}

static void family(struct evbuffer *f, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum field { F_TOTAL, F_ACTIVE, F_REFUSED, F_ERRORS };

static uint64_t field_value(const struct route_counters *c, enum field fld)
{
	switch (fld) {
	case F_TOTAL: return c->conns_total;
	case F_ACTIVE: return c->conns_active;
	case F_REFUSED: return c->conns_refused;
	case F_ERRORS: return c->errors;
	}
	return 0;
}

static void route_family(struct evbuffer *f, const struct snap *s, const char *name, const char *type,
                         const char *help, enum field fld)
{
	family(f, name, type, help);
	for (size_t i = 0; i < s->n; i++) {
		evbuffer_add_printf(f, "%s{route=\"", name);
		put_label(f, s->v[i].name);
		evbuffer_add_printf(f, "\"} %llu\n", (unsigned long long)field_value(&s->v[i].c, fld));
	}
}

/* One sample per link, labelled by carrier and role. */
struct link_metric_ctx {
	struct evbuffer *f;
	const char *name;
	int which;
};

static int link_metric_cb(void *arg, const struct peer_link_info *li)
{
	struct link_metric_ctx *c = arg;
	struct link_stats st;
	uint64_t v;

	if (c->which == 7) {
		v = li->reconnects;
		goto out;
	}
	if (!li->link)
		return 0;
	link_get_stats(li->link, &st);
	switch (c->which) {
	case 0: v = link_state(li->link) == LINK_UP; break;
	case 1: v = st.bytes_sent; break;
	case 2: v = st.bytes_received; break;
	case 3: v = st.streams_open; break;
	case 4: v = st.streams_total; break;
	case 5: v = st.protocol_errors; break;
	case 8: v = st.opens_refused; break;
	case 9: v = st.listens_refused; break;
	case 10: v = st.refused_by_peer; break;
	default: v = st.rtt_us > 0 ? (uint64_t)st.rtt_us : 0; break;
	}
out:
	evbuffer_add_printf(c->f, "%s{carrier=\"", c->name);
	put_label(c->f, li->carrier);
	evbuffer_add_printf(c->f, "\",role=\"%s\"} %llu\n", li->role, (unsigned long long)v);
	return 0;
}

static void link_metrics(struct evbuffer *f, struct peer_manager *pm)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "broker_link_up", "gauge", "1 while the link is up (handshake done)." },
		{ "broker_link_bytes_sent_total", "counter", "Bytes written to the link's carrier, framing included." },
		{ "broker_link_bytes_received_total", "counter", "Bytes read from the link's carrier." },
		{ "broker_link_streams_open", "gauge", "Streams open on the link." },
		{ "broker_link_streams_total", "counter", "Streams opened on the link." },
		{ "broker_link_protocol_errors_total", "counter", "Protocol errors seen on the link." },
		{ "broker_link_rtt_microseconds", "gauge", "Last PING round trip." },
		{ "broker_link_reconnects_total", "counter", "Times a dialed carrier was dialed again." },
		{ "broker_link_peer_opens_refused_total", "counter", "The peer's OPENs this broker's policy refused." },
		{ "broker_link_peer_listens_refused_total", "counter",
		  "The peer's listen requests this broker's policy refused." },
		{ "broker_link_refused_by_peer_total", "counter", "Our OPENs and listen requests the peer refused." },
	};
	for (int i = 0; i < (int)(sizeof(m) / sizeof(m[0])); i++) {
		struct link_metric_ctx c = { f, m[i].name, i };
		family(f, m[i].name, m[i].type, m[i].help);
		peer_foreach(pm, link_metric_cb, &c);
	}
}

char *http_render_metrics(struct broker *b)
{
	struct snap s = { 0 };
	const struct rpc_counters *rc = NULL;
	struct rpc_counters zero = { 0 };
	char *text = NULL;
	struct evbuffer *f;

	if (b->routes)
		routes_foreach(b->routes, snap_route, &s);
	/* An evbuffer rather than open_memstream: the same code builds for Windows. */
	f = evbuffer_new();
	if (!f || s.oom)
		goto out;

	route_family(f, &s, "broker_route_connections_total", "counter",
	             "Connections accepted on the route.", F_TOTAL);
	route_family(f, &s, "broker_route_connections_active", "gauge",
	             "Connections currently relayed by the route.", F_ACTIVE);
	route_family(f, &s, "broker_route_connections_refused_total", "counter",
	             "Connections refused because the route was at its connection limit.", F_REFUSED);
	family(f, "broker_route_bytes_total", "counter",
	       "Bytes relayed: in is client to target, out is target to client.");
	for (size_t i = 0; i < s.n; i++) {
		evbuffer_add_printf(f, "%s", "broker_route_bytes_total{route=\"");
		put_label(f, s.v[i].name);
		evbuffer_add_printf(f, "\",direction=\"in\"} %llu\n", (unsigned long long)s.v[i].c.bytes_in);
		evbuffer_add_printf(f, "%s", "broker_route_bytes_total{route=\"");
		put_label(f, s.v[i].name);
		evbuffer_add_printf(f, "\",direction=\"out\"} %llu\n", (unsigned long long)s.v[i].c.bytes_out);
	}
	route_family(f, &s, "broker_route_errors_total", "counter",
	             "Connect failures, resets and I/O errors on the route.", F_ERRORS);

	family(f, "broker_plugins_loaded", "gauge", "Plugins currently loaded.");
	evbuffer_add_printf(f, "broker_plugins_loaded %llu\n",
	                    (unsigned long long)(b->plugins ? plugins_count(b->plugins) : 0));

	if (b->ctl)
		rc = ctl_server_counters(b->ctl);
	if (!rc)
		rc = &zero;
	family(f, "broker_rpc_requests_total", "counter", "Control RPC requests received.");
	evbuffer_add_printf(f, "broker_rpc_requests_total %llu\n", (unsigned long long)rc->requests);
	family(f, "broker_rpc_errors_total", "counter", "Control RPC replies with a non-OK status.");
	evbuffer_add_printf(f, "broker_rpc_errors_total %llu\n", (unsigned long long)rc->errors);
	family(f, "broker_rpc_malformed_total", "counter",
	       "Control RPC messages dropped as undecodable or oversized.");
	evbuffer_add_printf(f, "broker_rpc_malformed_total %llu\n", (unsigned long long)rc->malformed);

	if (b->peer)
		link_metrics(f, b->peer);
	if (b->mappings) {
		family(f, "broker_mappings", "gauge",
		       "Published ports: origin local (found here, sent to the peer) or peer (served here).");
		evbuffer_add_printf(f, "broker_mappings{origin=\"local\"} %llu\n",
		                    (unsigned long long)mappings_count(b->mappings, MAPPING_LOCAL));
		evbuffer_add_printf(f, "broker_mappings{origin=\"peer\"} %llu\n",
		                    (unsigned long long)mappings_count(b->mappings, MAPPING_PEER));
	}

	family(f, "broker_ready", "gauge", "1 once plugins are started and routes applied.");
	evbuffer_add_printf(f, "broker_ready %d\n", b->ready ? 1 : 0);
	family(f, "broker_uptime_seconds", "gauge", "Seconds since brokerd started.");
	evbuffer_add_printf(f, "broker_uptime_seconds %lld\n",
	        b->started ? (long long)(time(NULL) - b->started) : 0LL);
out:
	if (f && !s.oom) {
		size_t n = evbuffer_get_length(f);
		text = malloc(n + 1);
		if (text) {
			evbuffer_remove(f, text, n);
			text[n] = '\0';
		}
	}
	if (f)
		evbuffer_free(f);
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].name);
	free(s.v);
	if (s.oom) {
		free(text);
		text = NULL;
	}
	return text;
}

/* ------------------------------------------------------------ handlers */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                  const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	if (!buf) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(buf, body, strlen(body));
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

static void serve_health(struct http_server *h, struct evhttp_request *req)
{
	struct broker *b = h->b;
	char body[256];

	snprintf(body, sizeof(body), "{\"status\":\"ok\",\"uptime_s\":%lld,\"routes\":%zu,\"conns_active\":%llu}\n",
	         b->started ? (long long)(time(NULL) - b->started) : 0LL,
	         b->routes ? routes_count(b->routes) : (size_t)0,
	         (unsigned long long)(b->routes ? routes_active_connections(b->routes) : 0));
	reply(req, HTTP_OK, "OK", "application/json", body);
}

static void serve_ready(struct http_server *h, struct evhttp_request *req)
{
	if (h->b->ready)
		reply(req, HTTP_OK, "OK", "application/json", "{\"ready\":true}\n");
	else
		reply(req, 503, "Service Unavailable", "application/json", "{\"ready\":false}\n");
}

static void serve_metrics(struct http_server *h, struct evhttp_request *req)
{
	char *text = http_render_metrics(h->b);

	if (!text) {
		log_error(TAG, "/metrics: out of memory while rendering");
		reply(req, HTTP_INTERNAL, "Internal Server Error", "text/plain; charset=utf-8",
		      "out of memory\n");
		return;
	}
	reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", text);
	free(text);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_server *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (!path)
		path = "";
	if (strcmp(path, "/health") && strcmp(path, "/ready") && strcmp(path, "/metrics")) {
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8",
		      "not found: try /health, /ready or /metrics\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", "only GET and HEAD\n");
		return;
	}
	if (strcmp(path, "/health") == 0)
		serve_health(h, req);
	else if (strcmp(path, "/ready") == 0)
		serve_ready(h, req);
	else
		serve_metrics(h, req);
}

/* ------------------------------------------------------------ server */

int http_start(struct broker *b, const char *listen, struct http_server **out, char *err, size_t errlen)
{
	struct http_server *h;
	char host[256], why[256];
	unsigned port;
	int rc;

	*out = NULL;
	rc = url_split_host_port(listen, DEFAULT_HOST, host, sizeof(host), &port, why, sizeof(why));
	if (rc < 0)
		return errfmt(err, errlen, rc, "--http-listen %s", why);
	h = calloc(1, sizeof(*h));
	if (!h)
		return errfmt(err, errlen, -ENOMEM, "--http-listen %s: out of memory", listen);
	h->b = b;
	h->http = evhttp_new(b->base);
	if (!h->http) {
		free(h);
		return errfmt(err, errlen, -ENOMEM, "--http-listen %s: cannot create the HTTP server", listen);
	}
	/*
	 * Let every method through to our handler: libevent would answer
	 * methods outside its allowed set with 501, but the right answer for
	 * a known path is 405 with an Allow header.
	 */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	                                     EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(h->http, 30);
	evhttp_set_gencb(h->http, on_request, h);
	{
		const struct broker_limits *lim = &b->cfg.limits;
		bool unset = lim->http_connections == 0;   /* a broker without a loaded config (unit tests) */
		/* A header line without end and a huge Content-Length are refused, never buffered. */
		evhttp_set_max_headers_size(h->http, unset ? DEFAULT_MAX_HEADERS : (ev_ssize_t)lim->http_header_size);
		evhttp_set_max_body_size(h->http, unset ? DEFAULT_MAX_BODY : (ev_ssize_t)lim->http_body_size);
		if (http_conns_new(b->base, h->http, unset ? DEFAULT_MAX_CONNECTIONS : lim->http_connections,
		                   (unset ? DEFAULT_MAX_HEADERS + DEFAULT_MAX_BODY
		                          : lim->http_header_size + lim->http_body_size) + 16 * 1024,
		                   "http", &h->conns) < 0) {
			evhttp_free(h->http);
			free(h);
			return errfmt(err, errlen, -ENOMEM, "--http-listen %s: out of memory", listen);
		}
	}

	errno = 0;
	h->sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (!h->sock) {
		int e = net_last_errno() ? net_last_errno() : EADDRNOTAVAIL;
		evhttp_free(h->http);
		http_conns_free(h->conns);
		free(h);
		return errfmt(err, errlen, -e, "--http-listen %s: cannot listen on %s port %u: %s%s", listen,
		              host, port, strerror(e),
		              e == EADDRINUSE ? " (the port is taken; pick another)"
		              : e == EACCES   ? " (ports below 1024 need privileges; try 8080)"
		                              : "");
	}

	http_conns_set_listener(h->conns, evhttp_bound_socket_get_listener(h->sock));
	/* Report the port actually bound (port 0 asks the kernel to choose). */
	struct sockaddr_storage ss;
	ev_socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(h->sock);
	h->port = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	/* The caller logs the startup line; this one shows the port the kernel chose for :0. */
	log_debug(TAG, "serving /health /ready /metrics on http://%s%s%s:%u", strchr(host, ':') ? "[" : "",
	         host, strchr(host, ':') ? "]" : "", h->port);
	*out = h;
	return 0;
}

unsigned http_port(const struct http_server *h)
{
	return h ? h->port : 0;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	evhttp_free(h->http);
	http_conns_free(h->conns);
	free(h);
}
