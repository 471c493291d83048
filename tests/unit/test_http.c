/* test_http.c - /health, /ready, /metrics over a real loopback socket, with fake routes. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "broker/broker.h"
#include "broker/http.h"
#include "broker/log.h"
#include "broker/plugins.h"
#include "broker/route.h"
#include "broker/peer.h"
#include "broker/link.h"
#include "broker/mapping.h"
#include "rpc/ctl_server.h"
#include "tests/unit/tap.h"

/*
 * Stand-ins for the modules http.c reads from, so this test depends on
 * http.c alone.  The opaque handles are never dereferenced by http.c.
 */
static struct route_info fake_routes[2] = {
	{ .name = "docker", .counters = { 5, 2, 1, 100, 200, 3 } },
	{ .name = "we\"ird\\na\nme", .counters = { 1, 0, 0, 7, 8, 0 } },
};
static struct rpc_counters fake_rpc = { 11, 2, 4 };

int routes_foreach(struct route_table *rt, int (*fn)(void *arg, const struct route_info *ri), void *arg)
{
	for (size_t i = 0; i < 2; i++) {
		int r = fn(arg, &fake_routes[i]);
		if (r)
			return r;
	}
	return 0;
}

size_t routes_count(struct route_table *rt)
{
	return 2;
}

uint64_t routes_active_connections(struct route_table *rt)
{
	return 2;
}

size_t plugins_count(struct plugin_registry *reg)
{
	return 3;
}

const struct rpc_counters *ctl_server_counters(const struct ctl_server *srv)
{
	return &fake_rpc;
}

/* No link and no mappings in this test: b->peer and b->mappings stay NULL. */
int peer_foreach(struct peer_manager *pm, int (*fn)(void *arg, const struct peer_link_info *li), void *arg)
{
	return 0;
}

void link_get_stats(const struct link *l, struct link_stats *st)
{
	memset(st, 0, sizeof(*st));
}

enum link_state link_state(const struct link *l)
{
	return LINK_CLOSED;
}

size_t mappings_count(struct mapping_table *mt, enum mapping_origin origin)
{
	return 0;
}

struct fetch {
	struct event_base *base;
	int code;
	char body[8192];
	char ctype[128];
};

static void on_done(struct evhttp_request *req, void *arg)
{
	struct fetch *f = arg;

	f->code = req ? evhttp_request_get_response_code(req) : -1;
	if (req) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (n >= sizeof(f->body))
			n = sizeof(f->body) - 1;
		evbuffer_remove(in, f->body, n);
		f->body[n] = '\0';
		const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
		snprintf(f->ctype, sizeof(f->ctype), "%s", ct ? ct : "");
	}
	event_base_loopbreak(f->base);
}

static void get(struct event_base *base, unsigned port, enum evhttp_cmd_type cmd, const char *path,
                struct fetch *f)
{
	struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", (ev_uint16_t)port);
	struct evhttp_request *req;

	memset(f, 0, sizeof(*f));
	f->base = base;
	f->code = -2;
	evhttp_connection_set_timeout(c, 5);
	req = evhttp_request_new(on_done, f);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	evhttp_make_request(c, req, cmd, path);
	event_base_dispatch(base);
	evhttp_connection_free(c);
}

static void test_render(struct broker *b)
{
	char *m = http_render_metrics(b);

	ok(m != NULL, "metrics render");
	if (!m)
		return;
	like(m, "# HELP broker_route_connections_total ", "HELP line");
	like(m, "# TYPE broker_route_connections_total counter\n", "TYPE counter line");
	like(m, "# TYPE broker_route_connections_active gauge\n", "TYPE gauge line");
	like(m, "broker_route_connections_total{route=\"docker\"} 5\n", "connections total");
	like(m, "broker_route_connections_active{route=\"docker\"} 2\n", "connections active");
	like(m, "broker_route_connections_refused_total{route=\"docker\"} 1\n", "refused");
	like(m, "broker_route_bytes_total{route=\"docker\",direction=\"in\"} 100\n", "bytes in");
	like(m, "broker_route_bytes_total{route=\"docker\",direction=\"out\"} 200\n", "bytes out");
	like(m, "broker_route_errors_total{route=\"docker\"} 3\n", "errors");
	like(m, "broker_route_connections_total{route=\"we\\\"ird\\\\na\\nme\"} 1\n", "label value escaped");
	like(m, "broker_plugins_loaded 3\n", "plugins loaded");
	like(m, "broker_rpc_requests_total 11\n", "rpc requests");
	like(m, "broker_rpc_errors_total 2\n", "rpc errors");
	like(m, "broker_rpc_malformed_total 4\n", "rpc malformed");
	like(m, "# TYPE broker_uptime_seconds gauge\nbroker_uptime_seconds ", "uptime");
	/* Families must not be split: the second route's total follows the first's directly. */
	like(m, "{route=\"docker\"} 5\nbroker_route_connections_total{route=", "samples of a family are grouped");
	free(m);

	/* No ctl server yet: counters read as zero rather than crashing. */
	struct ctl_server *saved = b->ctl;
	b->ctl = NULL;
	m = http_render_metrics(b);
	like(m, "broker_rpc_requests_total 0\n", "no ctl server: rpc counters zero");
	free(m);
	b->ctl = saved;
}

static void test_server(struct broker *b)
{
	struct http_server *h;
	struct fetch f;
	char err[256];
	unsigned port;

	is_int(http_start(b, "127.0.0.1:0", &h, err, sizeof(err)), 0, "http starts on port 0");
	port = http_port(h);
	ok(port > 0, "bound port known (%u)", port);

	get(b->base, port, EVHTTP_REQ_GET, "/health", &f);
	is_int(f.code, 200, "/health 200");
	like(f.body, "\"status\":\"ok\"", "/health status");
	like(f.body, "\"routes\":2", "/health routes");
	like(f.body, "\"conns_active\":2", "/health active");
	like(f.body, "\"uptime_s\":", "/health uptime");
	like(f.ctype, "application/json", "/health is JSON");

	b->ready = false;
	get(b->base, port, EVHTTP_REQ_GET, "/ready", &f);
	is_int(f.code, 503, "/ready 503 before ready");
	b->ready = true;
	get(b->base, port, EVHTTP_REQ_GET, "/ready", &f);
	is_int(f.code, 200, "/ready 200 once ready");

	get(b->base, port, EVHTTP_REQ_GET, "/metrics", &f);
	is_int(f.code, 200, "/metrics 200");
	like(f.ctype, "text/plain; version=0.0.4", "/metrics content type");
	like(f.body, "broker_route_bytes_total{route=\"docker\",direction=\"out\"} 200", "/metrics body");

	get(b->base, port, EVHTTP_REQ_GET, "/metrics?x=1", &f);
	is_int(f.code, 200, "query string ignored");
	get(b->base, port, EVHTTP_REQ_GET, "/nope", &f);
	is_int(f.code, 404, "unknown path 404");
	get(b->base, port, EVHTTP_REQ_POST, "/health", &f);
	is_int(f.code, 405, "POST 405");
	get(b->base, port, EVHTTP_REQ_DELETE, "/metrics", &f);
	is_int(f.code, 405, "DELETE 405");
	http_stop(h);

	struct http_server *h2;
	is_int(http_start(b, "127.0.0.1:0", &h, err, sizeof(err)), 0, "second server");
	char taken[64];
	snprintf(taken, sizeof(taken), "127.0.0.1:%u", http_port(h));
	ok(http_start(b, taken, &h2, err, sizeof(err)) < 0, "port in use refused");
	like(err, "taken", "port in use explained");
	http_stop(h);
	ok(http_start(b, "localhost", &h2, err, sizeof(err)) < 0, "bad listen refused");
	like(err, "missing port", "bad listen explained");
	is_int(http_start(b, ":0", &h, err, sizeof(err)), 0, "':0' binds the default loopback host");
	http_stop(h);
}

int main(void)
{
	struct broker b;

	plan(41);
	tap_init_sockets();
	/* Keep the TAP stream readable: the server logs where it listens. */
	log_configure(BROKER_LOG_WARN, LOG_FORMAT_TEXT);
	memset(&b, 0, sizeof(b));
	b.base = event_base_new();
	b.routes = (struct route_table *)&fake_routes;
	b.plugins = (struct plugin_registry *)&fake_routes;
	b.ctl = (struct ctl_server *)&fake_rpc;
	b.started = time(NULL) - 5;
	test_render(&b);
	test_server(&b);
	event_base_free(b.base);
	return done_testing();
}
