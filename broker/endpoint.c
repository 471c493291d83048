/* endpoint.c - listen on and connect to URLs through the plugin serving the
 * scheme, and the host callbacks through which plugins hand streams back. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/endpoint.h"
#include "broker/errfmt.h"
#include "broker/log.h"
#include "broker/platform.h"
#include "broker/plugins_internal.h"
#include "broker/url.h"

#define TAG "endpoint"

struct broker_accept_sink {
	struct listener *listener;
};

struct listener {
	struct plugin_resource res;    /* first: released on plugin unload */
	struct broker_accept_sink sink;
	struct plugin *plugin;
	struct url url;
	void *plugin_listener;
	listener_accept_fn on_accept;
	listener_lost_fn on_lost;
	listener_dropped_fn on_dropped;
	void *arg;
	char address[512];
};

struct broker_connect_req {
	struct connector *connector;
};

struct connector {
	struct plugin_resource res;    /* first */
	struct broker_connect_req req;
	struct plugin *plugin;
	struct url url;
	void *pending;
	connector_done_fn done;
	void *arg;
};

void stream_desc_discard(const struct broker_stream_desc *desc)
{
	if (desc->wfd != desc->rfd)
		platform_fd_close(desc->wfd);
	platform_fd_close(desc->rfd);
	if (desc->on_close)
		desc->on_close(desc->close_arg);
}

static bool param_applies(const struct broker_url_param_decl *d, const char *scheme)
{
	return !d->scheme || !strcmp(d->scheme, scheme);
}

/* "mode, group, backlog": what the plugin takes on scheme for this direction. */
static void param_names(const struct plugin *p, const char *scheme, uint32_t where, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const struct broker_url_param_decl *d = p->desc.url_params; d->key && off < len; d++)
		if (param_applies(d, scheme) && (d->where & where))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", d->key);
}

/*
 * The plugin declares its URL parameters (ABI 1.1): refuse any other, and
 * any used where it does not apply, so a typo (?mod=0660) never turns into
 * a silent default.  Plugins built for ABI 1.0 check their own.
 */
static int check_params(const struct plugin *p, const struct url *u, bool listen, const char *text, char *err,
                        size_t errlen)
{
	uint32_t where = listen ? BROKER_PARAM_LISTEN : BROKER_PARAM_CONNECT;
	char names[256];

	if (!p->desc.url_params)
		return 0;
	for (size_t i = 0; i < u->pub.nparams; i++) {
		const char *key = u->pub.params[i].key;
		const struct broker_url_param_decl *d;

		for (d = p->desc.url_params; d->key; d++)
			if (param_applies(d, u->pub.scheme) && !strcmp(d->key, key))
				break;
		if (d->key && !(d->where & where))
			return errfmt(err, errlen, -EINVAL, "%s: parameter '%s' applies when %s, not when %s", text, key,
			              listen ? "connecting" : "listening", listen ? "listening" : "connecting");
		if (d->key)
			continue;
		param_names(p, u->pub.scheme, where, names, sizeof(names));
		if (names[0])
			return errfmt(err, errlen, -EINVAL, "%s: unknown parameter '%s' (%s takes %s when %s)", text, key,
			              u->pub.scheme, names, listen ? "listening" : "connecting");
		return errfmt(err, errlen, -EINVAL,
		              "%s: unknown parameter '%s' (%s takes none when %s; a literal '?' in the address is "
		              "written %%3F)",
		              text, key, u->pub.scheme, listen ? "listening" : "connecting");
	}
	return 0;
}

/* Parse url and find the started plugin serving its scheme. */
static int resolve(struct plugin_registry *reg, const char *text, bool listen, struct url *u, struct plugin **out,
                   char *err, size_t errlen)
{
	char schemes[256];
	int rc = url_parse(text, u, err, errlen);

	if (rc < 0)
		return rc;
	if (u->is_peer) {
		url_free(u);
		return errfmt(err, errlen, -EINVAL, "%s: peer: addresses need a link to another broker", text);
	}
	*out = plugins_for_scheme(reg, u->pub.scheme);
	if (!*out) {
		plugins_schemes_text(reg, schemes, sizeof(schemes));
		rc = errfmt(err, errlen, -EPROTONOSUPPORT, "%s: no plugin serves scheme '%s' (loaded: %s)", text,
		            u->pub.scheme, schemes);
		url_free(u);
		return rc;
	}
	/* (A plugin that cannot do this at all says so itself, below.) */
	if ((listen ? (*out)->desc.listen != NULL : (*out)->desc.connect != NULL) &&
	    (rc = check_params(*out, u, listen, text, err, errlen)) < 0) {
		url_free(u);
		return rc;
	}
	return 0;
}

int endpoint_check(struct plugin_registry *reg, const char *text, bool listen, char *err, size_t errlen)
{
	struct plugin *p;
	struct url u;
	int rc = url_parse(text, &u, err, errlen);

	if (rc < 0)
		return rc;
	if (u.is_peer) {
		/* The peer's plugins decide; nothing to check here. */
		url_free(&u);
		return 0;
	}
	p = plugins_for_scheme_loaded(reg, u.pub.scheme);
	if (!p)
		rc = errfmt(err, errlen, -EPROTONOSUPPORT, "%s: no plugin serves scheme '%s'", text, u.pub.scheme);
	else if (listen ? !p->desc.listen : !p->desc.connect)
		rc = errfmt(err, errlen, -EOPNOTSUPP, "%s: plugin %s cannot %s", text, p->desc.name,
		            listen ? "listen" : "connect");
	else
		rc = check_params(p, &u, listen, text, err, errlen);
	url_free(&u);
	return rc;
}

static void listener_release(struct plugin_resource *res)
{
	struct listener *l = (struct listener *)res;
	listener_lost_fn lost = l->on_lost;
	void *arg = l->arg;

	if (l->plugin->desc.unlisten)
		l->plugin->desc.unlisten(l->plugin->state, l->plugin_listener);
	url_free(&l->url);
	free(l);
	if (lost)
		lost(arg, "its plugin was unloaded");
}

/*
 * A plugin describes the address it resolved ("tcp://127.0.0.1:38211" for
 * port 0); the parameters that shaped the listener (?netns=ns1,
 * ?mode=0660) belong to what users see too.
 */
static void describe_keep_query(char *address, size_t len, const char *url)
{
	const char *q = strchr(url, '?');
	size_t n = strlen(address);

	if (q && !strchr(address, '?') && n + strlen(q) < len)
		memcpy(address + n, q, strlen(q) + 1);
}

int endpoint_listen(struct plugin_registry *reg, const char *url, listener_accept_fn on_accept,
                    listener_lost_fn on_lost, void *arg, struct listener **out, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	char why[512] = "";
	int rc;

	if (!l)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	rc = resolve(reg, url, true, &l->url, &l->plugin, err, errlen);
	if (rc < 0) {
		free(l);
		return rc;
	}
	if (!l->plugin->desc.listen) {
		rc = errfmt(err, errlen, -EOPNOTSUPP, "%s: plugin %s cannot listen", url, l->plugin->desc.name);
		goto fail;
	}
	l->sink.listener = l;
	l->on_accept = on_accept;
	l->on_lost = on_lost;
	l->arg = arg;
	l->res.release = listener_release;
	l->res.calls_plugin = true;
	rc = l->plugin->desc.listen(l->plugin->state, &l->url.pub, &l->sink, &l->plugin_listener, why,
	                            sizeof(why));
	if (rc < 0) {
		errfmt(err, errlen, rc, "%s: %s", url, why[0] ? why : strerror(-rc));
		goto fail;
	}
	if (!l->plugin->desc.describe ||
	    l->plugin->desc.describe(l->plugin->state, l->plugin_listener, l->address, sizeof(l->address)) < 0)
		snprintf(l->address, sizeof(l->address), "%s", url);
	else
		describe_keep_query(l->address, sizeof(l->address), url);
	plugin_track(l->plugin, &l->res);
	*out = l;
	return 0;
fail:
	url_free(&l->url);
	free(l);
	return rc;
}

void listener_close(struct listener *l)
{
	if (!l)
		return;
	plugin_untrack(l->plugin, &l->res);
	l->on_lost = NULL;
	listener_release(&l->res);
}

const char *listener_address(const struct listener *l)
{
	return l->address;
}

void endpoint_host_accepted(struct broker_accept_sink *sink, const struct broker_stream_desc *desc)
{
	struct listener *l = sink->listener;

	l->on_accept(l->arg, desc);
}

void listener_set_on_dropped(struct listener *l, listener_dropped_fn fn)
{
	if (l)
		l->on_dropped = fn;
}

void endpoint_host_accept_dropped(struct broker_accept_sink *sink, unsigned count, const char *reason)
{
	struct listener *l = sink->listener;

	if (count == 0)
		return;
	if (l->on_dropped)
		l->on_dropped(l->arg, count, reason ? reason : "no reason given");
	else
		log_warn(TAG, "%s: %u client%s dropped before becoming a stream: %s", l->address, count,
		         count == 1 ? "" : "s", reason ? reason : "no reason given");
}

static void connector_free(struct connector *c)
{
	url_free(&c->url);
	free(c);
}

static void connector_release(struct plugin_resource *res)
{
	struct connector *c = (struct connector *)res;
	connector_done_fn done = c->done;
	void *arg = c->arg;

	if (c->plugin->desc.connect_cancel)
		c->plugin->desc.connect_cancel(c->plugin->state, c->pending);
	connector_free(c);
	done(arg, -ECONNABORTED, "its plugin was unloaded", NULL);
}

int endpoint_connect(struct plugin_registry *reg, const char *url, connector_done_fn done, void *arg,
                     struct connector **out, char *err, size_t errlen)
{
	struct connector *c = calloc(1, sizeof(*c));
	char why[512] = "";
	int rc;

	if (!c)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	rc = resolve(reg, url, false, &c->url, &c->plugin, err, errlen);
	if (rc < 0) {
		free(c);
		return rc;
	}
	if (!c->plugin->desc.connect) {
		rc = errfmt(err, errlen, -EOPNOTSUPP, "%s: plugin %s cannot connect", url, c->plugin->desc.name);
		connector_free(c);
		return rc;
	}
	c->req.connector = c;
	c->done = done;
	c->arg = arg;
	c->res.release = connector_release;
	c->res.calls_plugin = true;
	rc = c->plugin->desc.connect(c->plugin->state, &c->url.pub, &c->req, &c->pending, why, sizeof(why));
	if (rc < 0) {
		errfmt(err, errlen, rc, "%s: %s", url, why[0] ? why : strerror(-rc));
		connector_free(c);
		return rc;
	}
	/*
	 * Tracked after connect returns (it never calls back from inside), so on
	 * unload connect_cancel runs before anything the plugin made during connect
	 * (resources are released newest first).
	 */
	plugin_track(c->plugin, &c->res);
	if (out)
		*out = c;
	return 0;
}

void connector_cancel(struct connector *c)
{
	if (!c)
		return;
	plugin_untrack(c->plugin, &c->res);
	if (c->plugin->desc.connect_cancel)
		c->plugin->desc.connect_cancel(c->plugin->state, c->pending);
	connector_free(c);
}

void endpoint_host_connected(struct broker_connect_req *req, const struct broker_stream_desc *desc)
{
	struct connector *c = req->connector;
	connector_done_fn done = c->done;
	void *arg = c->arg;

	plugin_untrack(c->plugin, &c->res);
	connector_free(c);
	done(arg, 0, NULL, desc);
}

void endpoint_host_connect_failed(struct broker_connect_req *req, int error, const char *reason)
{
	struct connector *c = req->connector;
	connector_done_fn done = c->done;
	void *arg = c->arg;
	char text[512];

	snprintf(text, sizeof(text), "%s: %s", c->url.pub.text,
	         reason && *reason ? reason : strerror(error < 0 ? -error : error));
	plugin_untrack(c->plugin, &c->res);
	connector_free(c);
	done(arg, error < 0 ? error : -error, text, NULL);
}

