/* ctl_service.c - the control services brokerctl talks to: broker, route, plugin. */
/* Angle brackets on purpose: "config.h" would find broker/config.h (this
 * directory is searched first for quoted includes), not autoconf's. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/ctl_service.h"
#include "broker/ctl_internal.h"
#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/platform.h"
#include "broker/plugins.h"
#include "broker/peer.h"
#include "broker/link.h"
#include "broker/mapping.h"
#include "broker/events.h"
#include "broker/route.h"
#include "proto/control.pb-c.h"
#include "rpc/rpc.h"
#include "rpc/ctl_server.h"

#define OK BROKER__RPC__STATUS__OK

static Broker__Rpc__Status status_from_errno(int rc)
{
	switch (rc) {
	case -EEXIST: return BROKER__RPC__STATUS__EXISTS;
	case -ENOENT: return BROKER__RPC__STATUS__NOT_FOUND;
	case -EACCES:
	case -EPERM: return BROKER__RPC__STATUS__DENIED;
	default: return BROKER__RPC__STATUS__ERROR;
	}
}

/* Make sure a failed call always carries a reason. */
Broker__Rpc__Status ctl_fail(int rc, char *err, size_t errlen, const char *what)
{
	if (err && errlen && !err[0])
		snprintf(err, errlen, "%s: %s", what, strerror(rc < 0 ? -rc : rc));
	return status_from_errno(rc);
}

Broker__Rpc__Status ctl_bad_body(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "request body is not a valid %s message", what);
	return BROKER__RPC__STATUS__BAD_REQUEST;
}

Broker__Rpc__Status ctl_pack_reply(const ProtobufCMessage *msg, uint8_t **reply, size_t *reply_len,
                                      char *err, size_t errlen)
{
	if (rpc_pack_message(msg, reply, reply_len) < 0) {
		snprintf(err, errlen, "out of memory building the reply");
		return BROKER__RPC__STATUS__ERROR;
	}
	return OK;
}

/* protobuf-c wants non-NULL strings; "" is the proto3 default. */
static char *s(const char *v)
{
	return (char *)(v ? v : "");
}

/* ------------------------------------------------------------------ broker.* */

static Broker__Rpc__Status broker_status(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__StatusReply st = BROKER__CONTROL__STATUS_REPLY__INIT;

	st.version = (char *)PACKAGE_VERSION;
	st.pid = (int64_t)getpid();
	st.uptime_s = b->started ? (int64_t)(time(NULL) - b->started) : 0;
	st.runtime_dir = s(b->cfg.runtime_dir);
	st.state_dir = s(b->cfg.state_dir);
	st.http_listen = s(b->cfg.http_listen);
	st.config_file = s(b->cfg.config_file);
	st.n_plugin_dirs = b->cfg.n_plugin_dirs;
	st.plugin_dirs = b->cfg.plugin_dirs;
	st.routes = b->routes ? (uint32_t)routes_count(b->routes) : 0;
	st.plugins = b->plugins ? (uint32_t)plugins_count(b->plugins) : 0;
	st.conns_active = b->routes ? routes_active_connections(b->routes) : 0;
	st.ready = b->ready;
	if (b->ctl) {
		const struct rpc_counters *c = ctl_server_counters(b->ctl);

		st.rpc_requests = c->requests;
		st.rpc_errors = c->errors;
	}
	return ctl_pack_reply(&st.base, reply, reply_len, err, errlen);
}

static Broker__Rpc__Status broker_reload_m(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                           size_t *reply_len, char *err, size_t errlen)
{
	char notes[CONFIG_RESTART_MAX][CONFIG_RESTART_NOTE];
	char *lines[CONFIG_RESTART_MAX];
	size_t n = 0;
	Broker__Control__ReloadReply rr = BROKER__CONTROL__RELOAD_REPLY__INIT;
	int rc = broker_reload(ctx, notes, CONFIG_RESTART_MAX, &n, err, errlen);

	if (rc < 0)
		return ctl_fail(rc, err, errlen, "reload");
	for (size_t i = 0; i < n; i++)
		lines[i] = notes[i];
	rr.n_needs_restart = n;
	rr.needs_restart = lines;
	return ctl_pack_reply(&rr.base, reply, reply_len, err, errlen);
}

static Broker__Rpc__Status broker_shutdown_m(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                             size_t *reply_len, char *err, size_t errlen)
{
	/* The broker defers leaving the loop, so this reply still goes out. */
	broker_shutdown(ctx, "brokerctl shutdown");
	return OK;
}

/* ------------------------------------------------------------------ route.* */

static void route_msg_free(Broker__Control__Route *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->listen);
	free(r->connect);
	free(r->state);
	free(r->listen_address);
	free(r->owner);
	free(r);
}

static Broker__Control__Route *route_msg_new(const struct route_info *ri)
{
	Broker__Control__Route *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	broker__control__route__init(r);
	r->name = strdup(s(ri->name));
	r->listen = strdup(s(ri->listen));
	r->connect = strdup(s(ri->connect));
	r->state = strdup(s(ri->state));
	r->listen_address = strdup(s(ri->listen_address));
	r->owner = strdup(s(ri->owner));
	if (!r->name || !r->listen || !r->connect || !r->state || !r->listen_address || !r->owner) {
		route_msg_free(r);
		return NULL;
	}
	r->max_connections = ri->max_connections > 0 ? (uint32_t)ri->max_connections : 0;
	r->persistent = ri->persistent;
	r->conns_total = ri->counters.conns_total;
	r->conns_active = ri->counters.conns_active;
	r->conns_refused = ri->counters.conns_refused;
	r->bytes_in = ri->counters.bytes_in;
	r->bytes_out = ri->counters.bytes_out;
	r->errors = ri->counters.errors;
	return r;
}

struct route_collect {
	const char *only;               /* collect just this name, or all if NULL */
	Broker__Control__Route **v;
	size_t n, cap;
	int rc;
};

static int route_collect_cb(void *arg, const struct route_info *ri)
{
	struct route_collect *rc = arg;
	Broker__Control__Route *r;

	if (rc->only && (strcmp(rc->only, s(ri->name)) != 0 || ri->owner))
		return 0;
	if (rc->n == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 8;
		Broker__Control__Route **v = realloc(rc->v, cap * sizeof(*v));

		if (!v) {
			rc->rc = -ENOMEM;
			return 1;
		}
		rc->v = v;
		rc->cap = cap;
	}
	r = route_msg_new(ri);
	if (!r) {
		rc->rc = -ENOMEM;
		return 1;
	}
	rc->v[rc->n++] = r;
	return rc->only ? 1 : 0;
}

static void route_collect_free(struct route_collect *rc)
{
	for (size_t i = 0; i < rc->n; i++)
		route_msg_free(rc->v[i]);
	free(rc->v);
}

static Broker__Rpc__Status route_list(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                      size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__RouteListReply rep = BROKER__CONTROL__ROUTE_LIST_REPLY__INIT;
	struct route_collect rc = { 0 };
	Broker__Rpc__Status st;

	if (b->routes)
		routes_foreach(b->routes, route_collect_cb, &rc);
	if (rc.rc < 0) {
		route_collect_free(&rc);
		return ctl_fail(rc.rc, err, errlen, "route list");
	}
	rep.n_routes = rc.n;
	rep.routes = rc.v;
	st = ctl_pack_reply(&rep.base, reply, reply_len, err, errlen);
	route_collect_free(&rc);
	return st;
}

/* The reply of route add: the route as it is now, and why it waits, if it does. */
static Broker__Rpc__Status route_add_reply(struct broker *b, const char *name, const char *waiting, uint8_t **reply,
                                           size_t *reply_len, char *err, size_t errlen)
{
	Broker__Control__RouteAddReply rep = BROKER__CONTROL__ROUTE_ADD_REPLY__INIT;
	struct route_collect rc = { 0 };
	Broker__Rpc__Status st;

	rc.only = name;
	routes_foreach(b->routes, route_collect_cb, &rc);
	rep.route = rc.n ? rc.v[0] : NULL;
	rep.waiting = s(waiting);
	st = ctl_pack_reply(&rep.base, reply, reply_len, err, errlen);
	route_collect_free(&rc);
	return st;
}

/* A route add waiting for the peer's answer. */
struct route_add_wait {
	struct broker *b;
	struct rpc_deferred *d;
	char name[80];
};

static void route_add_settled(void *arg, enum route_peer_outcome outcome, const char *text)
{
	struct route_add_wait *w = arg;
	uint8_t *reply = NULL;
	size_t reply_len = 0;
	char err[1200] = "";
	Broker__Rpc__Status st;

	switch (outcome) {
	case ROUTE_PEER_REFUSED:
		snprintf(err, sizeof(err), "route add %s: %s (nothing was stored)", w->name, text);
		rpc_deferred_reply(w->d, BROKER__RPC__STATUS__DENIED, err, NULL, 0);
		break;
	case ROUTE_PEER_GONE:
		snprintf(err, sizeof(err), "route add %s: %s", w->name, text);
		rpc_deferred_reply(w->d, BROKER__RPC__STATUS__UNAVAILABLE, err, NULL, 0);
		break;
	default:
		st = route_add_reply(w->b, w->name, outcome == ROUTE_PEER_LISTENING ? "" : text, &reply, &reply_len, err,
		                     sizeof(err));
		rpc_deferred_reply(w->d, st, err, reply, reply_len);
		free(reply);
		break;
	}
	free(w);
}

#define ROUTE_ADD_WAIT_DEFAULT_MS 5000
#define ROUTE_ADD_WAIT_MAX_MS 60000

static Broker__Rpc__Status route_add(void *ctx, struct rpc_deferred *d, const uint8_t *body, size_t len,
                                     uint8_t **reply, size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__RouteAddRequest *req = broker__control__route_add_request__unpack(NULL, len, body);
	Broker__Control__Route *r;
	enum route_peer_outcome outcome;
	struct route_add_wait *w = NULL;
	char waiting[1024] = "";   /* the reason, on failure; why it waits, when it does */
	int wait_ms, ret;

	if (!req)
		return ctl_bad_body(err, errlen, "RouteAddRequest");
	r = req->route;
	if (!r || !r->name || !r->name[0]) {
		broker__control__route_add_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "route add: a route needs a name");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	if (!b->routes) {
		broker__control__route_add_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "route add: the broker is not ready for routes yet");
		return BROKER__RPC__STATUS__UNAVAILABLE;
	}
	if (r->max_connections > (uint32_t)INT32_MAX) {
		broker__control__route_add_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "route add %s: max_connections %u is too large", r->name, r->max_connections);
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	/* The client says how long it waits; answer before that. */
	wait_ms = req->wait_ms ? (int)(req->wait_ms < ROUTE_ADD_WAIT_MAX_MS ? req->wait_ms : ROUTE_ADD_WAIT_MAX_MS)
	                       : ROUTE_ADD_WAIT_DEFAULT_MS;
	if (d && !(w = calloc(1, sizeof(*w)))) {
		broker__control__route_add_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "route add: out of memory");
		return BROKER__RPC__STATUS__ERROR;
	}
	if (w) {
		w->b = b;
		w->d = d;
		snprintf(w->name, sizeof(w->name), "%s", r->name);
	}
	/* Without a way to answer later (d NULL), do not wait: the state says where it stands. */
	ret = routes_add_waiting(b->routes, r->name, s(r->listen), s(r->connect), (int)r->max_connections, wait_ms,
	                         w ? route_add_settled : NULL, w, &outcome, waiting, sizeof(waiting));
	if (ret == 1) {
		broker__control__route_add_request__free_unpacked(req, NULL);
		rpc_defer(d);
		return OK;
	}
	free(w);
	if (ret < 0) {
		broker__control__route_add_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "%s", waiting);
		return ctl_fail(ret, err, errlen, "route add");
	}
	ret = route_add_reply(b, r->name, outcome == ROUTE_PEER_LISTENING ? "" : waiting, reply, reply_len, err, errlen);
	broker__control__route_add_request__free_unpacked(req, NULL);
	return ret;
}

static Broker__Rpc__Status route_remove(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                        size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__RouteRemoveRequest *req = broker__control__route_remove_request__unpack(NULL, len, body);
	int ret;

	if (!req)
		return ctl_bad_body(err, errlen, "RouteRemoveRequest");
	if (!req->name || !req->name[0]) {
		broker__control__route_remove_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "route remove: which route? (give its name)");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	ret = b->routes ? routes_remove(b->routes, req->name, err, errlen)
	                : errfmt(err, errlen, -ENOENT, "no route named %s", req->name);
	if (ret == -ENOENT && !err[0])
		snprintf(err, errlen, "no route named %s (brokerctl route list shows them)", req->name);
	broker__control__route_remove_request__free_unpacked(req, NULL);
	return ret < 0 ? ctl_fail(ret, err, errlen, "route remove") : OK;
}

/* ------------------------------------------------------------------ plugin.* */

static const char *option_type_name(enum broker_option_type t)
{
	switch (t) {
	case BROKER_OPT_STRING: return "string";
	case BROKER_OPT_INT: return "int";
	case BROKER_OPT_BOOL: return "bool";
	case BROKER_OPT_PATH: return "path";
	default: return "unknown";
	}
}

/* Strings in the message are borrowed from the plugin; only the arrays are ours. */
static void plugin_msg_free(Broker__Control__Plugin *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_options; i++)
		free(m->options[i]);
	free(m->options);
	for (size_t i = 0; i < m->n_url_params; i++)
		free(m->url_params[i]);
	free(m->url_params);
	free(m->kinds);
	free(m->schemes);
	free(m);
}

static Broker__Control__Plugin *plugin_msg_new(struct plugin *p, bool with_options)
{
	const struct broker_plugin *d = plugin_desc(p);
	Broker__Control__Plugin *m = calloc(1, sizeof(*m));
	size_t n;

	if (!m)
		return NULL;
	broker__control__plugin__init(m);
	m->name = s(d ? d->name : NULL);
	m->version = s(d ? d->version : NULL);
	m->description = s(d ? d->description : NULL);
	m->path = s(plugin_path(p));
	m->state = s(plugin_status(p));
	if (!d)
		return m;

	m->kinds = calloc(2, sizeof(*m->kinds));
	if (!m->kinds)
		goto nomem;
	if (d->kinds & BROKER_KIND_ENDPOINT)
		m->kinds[m->n_kinds++] = (char *)"endpoint";
	if (d->kinds & BROKER_KIND_WATCHER)
		m->kinds[m->n_kinds++] = (char *)"watcher";

	for (n = 0; d->schemes && d->schemes[n]; n++)
		;
	if (n) {
		m->schemes = calloc(n, sizeof(*m->schemes));
		if (!m->schemes)
			goto nomem;
		for (size_t i = 0; i < n; i++)
			m->schemes[i] = (char *)d->schemes[i];
		m->n_schemes = n;
	}

	if (!with_options)
		return m;
	for (n = 0; d->options && d->options[n].type != BROKER_OPT_END; n++)
		;
	if (n) {
		m->options = calloc(n, sizeof(*m->options));
		if (!m->options)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			const struct broker_option *o = &d->options[i];
			Broker__Control__PluginOption *po = malloc(sizeof(*po));

			if (!po)
				goto nomem;
			broker__control__plugin_option__init(po);
			po->name = s(o->name);
			po->type = (char *)option_type_name(o->type);
			po->default_value = s(o->default_value);
			po->help = s(o->help);
			po->value = s(plugin_option_text(p, o->name));
			m->options[m->n_options++] = po;
		}
	}
	for (n = 0; d->url_params && d->url_params[n].key; n++)
		;
	if (n) {
		m->url_params = calloc(n, sizeof(*m->url_params));
		if (!m->url_params)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			const struct broker_url_param_decl *u = &d->url_params[i];
			Broker__Control__PluginUrlParam *pu = malloc(sizeof(*pu));

			if (!pu)
				goto nomem;
			broker__control__plugin_url_param__init(pu);
			pu->key = s(u->key);
			pu->where = (char *)((u->where & BROKER_PARAM_LISTEN) && (u->where & BROKER_PARAM_CONNECT)
			                             ? "listen, connect"
			                     : (u->where & BROKER_PARAM_LISTEN) ? "listen"
			                                                         : "connect");
			pu->scheme = s(u->scheme);
			pu->help = s(u->help);
			m->url_params[m->n_url_params++] = pu;
		}
	}
	return m;
nomem:
	plugin_msg_free(m);
	return NULL;
}

struct plugin_collect {
	Broker__Control__Plugin **v;
	size_t n, cap;
	int rc;
};

static int plugin_collect_cb(void *arg, struct plugin *p)
{
	struct plugin_collect *pc = arg;
	Broker__Control__Plugin *m;

	if (pc->n == pc->cap) {
		size_t cap = pc->cap ? pc->cap * 2 : 8;
		Broker__Control__Plugin **v = realloc(pc->v, cap * sizeof(*v));

		if (!v) {
			pc->rc = -ENOMEM;
			return 1;
		}
		pc->v = v;
		pc->cap = cap;
	}
	m = plugin_msg_new(p, false);
	if (!m) {
		pc->rc = -ENOMEM;
		return 1;
	}
	pc->v[pc->n++] = m;
	return 0;
}

static Broker__Rpc__Status plugin_list(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                       size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__PluginListReply rep = BROKER__CONTROL__PLUGIN_LIST_REPLY__INIT;
	struct plugin_collect pc = { 0 };
	Broker__Rpc__Status st;

	if (b->plugins)
		plugins_foreach(b->plugins, plugin_collect_cb, &pc);
	if (pc.rc < 0)
		st = ctl_fail(pc.rc, err, errlen, "plugin list");
	else {
		rep.n_plugins = pc.n;
		rep.plugins = pc.v;
		st = ctl_pack_reply(&rep.base, reply, reply_len, err, errlen);
	}
	for (size_t i = 0; i < pc.n; i++)
		plugin_msg_free(pc.v[i]);
	free(pc.v);
	return st;
}

static Broker__Rpc__Status plugin_reply(struct plugin *p, uint8_t **reply, size_t *reply_len, char *err,
                                        size_t errlen)
{
	Broker__Control__PluginReply rep = BROKER__CONTROL__PLUGIN_REPLY__INIT;
	Broker__Rpc__Status st;

	rep.plugin = plugin_msg_new(p, true);
	if (!rep.plugin) {
		snprintf(err, errlen, "out of memory building the reply");
		return BROKER__RPC__STATUS__ERROR;
	}
	st = ctl_pack_reply(&rep.base, reply, reply_len, err, errlen);
	plugin_msg_free(rep.plugin);
	return st;
}

static Broker__Rpc__Status plugin_help(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                       size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__PluginNameRequest *req = broker__control__plugin_name_request__unpack(NULL, len, body);
	struct plugin *p;
	Broker__Rpc__Status st;

	if (!req)
		return ctl_bad_body(err, errlen, "PluginNameRequest");
	p = b->plugins && req->name ? plugins_find(b->plugins, req->name) : NULL;
	if (!p) {
		snprintf(err, errlen, "no plugin named %s is loaded (brokerctl plugin list shows them)", s(req->name));
		st = BROKER__RPC__STATUS__NOT_FOUND;
	} else {
		st = plugin_reply(p, reply, reply_len, err, errlen);
	}
	broker__control__plugin_name_request__free_unpacked(req, NULL);
	return st;
}

static Broker__Rpc__Status plugin_load(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                       size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__PluginLoadRequest *req = broker__control__plugin_load_request__unpack(NULL, len, body);
	struct plugin *p = NULL;
	Broker__Rpc__Status st;
	int rc;

	if (!req)
		return ctl_bad_body(err, errlen, "PluginLoadRequest");
	if (!req->path || !req->path[0]) {
		broker__control__plugin_load_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "plugin load: which file? (give a path)");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	if (!b->plugins) {
		broker__control__plugin_load_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "plugin load: the broker is not ready for plugins yet");
		return BROKER__RPC__STATUS__UNAVAILABLE;
	}
	if (!platform_path_absolute(req->path)) {
		/* dlopen would search its library path, or the broker's working directory: not what was meant. */
		snprintf(err, errlen, "%s: a relative path; give the plugin file's absolute path (the broker opens it, "
		         "not brokerctl, and its working directory is not yours)", req->path);
		broker__control__plugin_load_request__free_unpacked(req, NULL);
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	rc = plugins_load_path(b->plugins, req->path, &p, err, errlen);
	if (rc < 0)
		st = ctl_fail(rc, err, errlen, req->path);
	else
		st = plugin_reply(p, reply, reply_len, err, errlen);
	broker__control__plugin_load_request__free_unpacked(req, NULL);
	return st;
}

static Broker__Rpc__Status plugin_unload(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	Broker__Control__PluginNameRequest *req = broker__control__plugin_name_request__unpack(NULL, len, body);
	int rc;

	if (!req)
		return ctl_bad_body(err, errlen, "PluginNameRequest");
	if (!req->name || !req->name[0]) {
		broker__control__plugin_name_request__free_unpacked(req, NULL);
		snprintf(err, errlen, "plugin unload: which plugin? (give its name)");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	rc = b->plugins ? plugins_unload(b->plugins, req->name, err, errlen)
	                : errfmt(err, errlen, -ENOENT, "no plugin named %s is loaded", req->name);
	if (rc == -ENOENT && !err[0])
		snprintf(err, errlen, "no plugin named %s is loaded (brokerctl plugin list shows them)", req->name);
	broker__control__plugin_name_request__free_unpacked(req, NULL);
	return rc < 0 ? ctl_fail(rc, err, errlen, "plugin unload") : OK;
}

/* ------------------------------------------------------------ link */

struct link_collect {
	Broker__Control__LinkInfo **items;
	size_t n, cap;
};

static int link_collect_cb(void *arg, const struct peer_link_info *li)
{
	struct link_collect *lc = arg;
	Broker__Control__LinkInfo *m;

	if (lc->n == lc->cap) {
		size_t cap = lc->cap ? lc->cap * 2 : 8;
		Broker__Control__LinkInfo **ni = realloc(lc->items, cap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		lc->items = ni;
		lc->cap = cap;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	broker__control__link_info__init(m);
	lc->items[lc->n++] = m;
	m->carrier = s(li->carrier);
	m->role = s(li->role);
	m->state = s(li->state);
	m->last_error = s(li->last_error);
	m->reconnects = li->reconnects;
	m->is_default = li->is_default;
	m->rtt_us = -1;
	if (li->link) {
		struct link_stats st;
		link_get_stats(li->link, &st);
		m->peer_id = s(st.peer_id);
		m->peer_host = s(st.peer_host);
		m->peer_software = s(st.peer_software);
		m->authenticated = st.authenticated;
		m->uptime_s = st.up_since ? (int64_t)(time(NULL) - st.up_since) : 0;
		m->rtt_us = st.rtt_us;
		m->bytes_sent = st.bytes_sent;
		m->bytes_received = st.bytes_received;
		m->streams_open = st.streams_open;
		m->streams_total = st.streams_total;
		m->protocol_errors = st.protocol_errors;
		m->opens_refused = st.opens_refused;
		m->listens_refused = st.listens_refused;
		m->refused_by_peer = st.refused_by_peer;
		m->encrypted = st.encrypted;
	} else {
		m->peer_id = s("");
		m->peer_host = s("");
		m->peer_software = s("");
	}
	return 0;
}

static Broker__Rpc__Status link_status_m(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                         size_t *reply_len, char *err, size_t errlen)
{
	struct broker *b = ctx;
	struct link_collect lc = { 0 };
	Broker__Control__LinkStatusReply rep = BROKER__CONTROL__LINK_STATUS_REPLY__INIT;
	Broker__Rpc__Status st;
	int rc = peer_foreach(b->peer, link_collect_cb, &lc);

	if (rc < 0)
		st = ctl_fail(rc, err, errlen, "link status");
	else {
		rep.n_links = lc.n;
		rep.links = lc.items;
		st = ctl_pack_reply(&rep.base, reply, reply_len, err, errlen);
	}
	for (size_t i = 0; i < lc.n; i++) {
		free(lc.items[i]);   /* its strings are borrowed from the links */
	}
	free(lc.items);
	return st;
}

const struct rpc_method ctl_methods[] = {
	{ "mapping", "list", ctl_mapping_list },
	{ "mapping", "add", ctl_mapping_add },
	{ "mapping", "remove", ctl_mapping_remove },
	{ "link", "status", link_status_m },
	{ "broker", "status", broker_status },
	{ "broker", "reload", broker_reload_m },
	{ "broker", "shutdown", broker_shutdown_m },
	{ "route", "list", route_list },
	{ "route", "remove", route_remove },
	{ "plugin", "list", plugin_list },
	{ "plugin", "help", plugin_help },
	{ "plugin", "load", plugin_load },
	{ "plugin", "unload", plugin_unload },
	{ NULL, NULL, NULL },
};

const struct rpc_deferrable_method ctl_deferrable_methods[] = {
	{ "route", "add", route_add },
	{ NULL, NULL, NULL },
};
