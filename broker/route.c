/* route.c - routes: a listener on one endpoint; each accepted stream is
 * connected to the other endpoint and handed to a relay. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <time.h>

#include "broker/broker.h"
#include "broker/endpoint.h"
#include "broker/errfmt.h"
#include "broker/events.h"
#include "broker/link.h"
#include "broker/link_auth.h"
#include "broker/log.h"
#include "broker/peer.h"
#include "broker/relay.h"
#include "broker/route.h"
#include "broker/store.h"
#include "broker/url.h"

struct route;

/* One accepted client: connecting to the target, then relaying. */
struct route_conn {
	struct route_conn *next, *prev;
	struct route *route;
	struct broker_stream_desc client;   /* valid while connecting */
	struct connector *connector;        /* while connecting */
	struct relay *relay;                /* once connected */
};

struct route {
	struct route *next, *prev;
	struct route_table *rt;
	char *name, *listen, *connect;
	char *owner;               /* remote route: the peer broker that asked for it; NULL: ours */
	bool listen_on_peer;       /* listen is peer:URL: the peer listens for us */
	bool connect_on_peer;      /* connect is peer:URL: streams go over the link */
	const char *connect_target; /* connect without "peer:" */
	int max_connections;
	uint64_t id;               /* ours on the peer: the id we send; remote: the owner's id */
	bool persistent;
	bool from_config;
	bool internal;             /* a mapping's listener: shown by mapping list, not route list */
	struct listener *listener;
	char state[1024];
	struct route_counters counters;
	struct route_conn *conns;
	/* listen_on_peer: the peer's counters for its listener (peer.route_counters) */
	uint64_t peer_incarnation;
	struct route_counters peer_last;   /* as last reported for peer_incarnation */
	struct route_counters peer_base;   /* totals of earlier incarnations */
	/* owner set (we listen for the peer): what the owner last heard */
	uint64_t incarnation;
	struct route_counters reported;
	/* route add waits for the peer's answer (routes_add_waiting) */
	route_peer_wait_fn waiter;
	void *waiter_arg;
	struct event *wait_timer;
	int waiter_wait_ms;
};

/* A peer's route the user removed here (route rm OWNER/NAME): its syncs do not reopen it. */
struct route_block {
	struct route_block *next;
	char *owner, *name;
	bool seen;                 /* in the sync being applied */
};

struct route_table {
	struct broker *broker;
	struct route *head;
	size_t count;
	bool accepting;
	uint64_t next_id;          /* ids of our routes that listen on the peer */
	struct route_block *blocked;
	struct relay_pipe_pool *pipes;   /* spliced relays' pipes; NULL: buffers only (BROKER_SPLICE=off) */
};

#define TAG "route"

int routes_create(struct broker *b, struct route_table **out)
{
	struct route_table *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return -ENOMEM;
	rt->broker = b;
	rt->accepting = true;
	/* BROKER_SPLICE=off keeps every local route on the buffer path (for comparison, or a kernel whose splice misbehaves). */
	const char *splice = getenv("BROKER_SPLICE");
	if (!splice || strcmp(splice, "off") != 0) {
		rt->pipes = relay_pipe_pool_new(RELAY_PIPE_MAX_IDLE, RELAY_PIPE_SIZE);
		if (!rt->pipes) {
			free(rt);
			return -ENOMEM;
		}
	}
	/* Ids differ across restarts too, so a stale one from before never names a new route. */
	rt->next_id = (uint64_t)time(NULL) << 20;
	*out = rt;
	return 0;
}

/* owner NULL: our own routes; else the remote routes that peer asked for. */
static struct route *route_find_owned(struct route_table *rt, const char *owner, const char *name)
{
	for (struct route *r = rt->head; r; r = r->next)
		if (strcmp(r->name, name) == 0 && (owner ? r->owner && !strcmp(r->owner, owner) : !r->owner))
			return r;
	return NULL;
}

static struct route *route_find(struct route_table *rt, const char *name)
{
	return route_find_owned(rt, NULL, name);
}

static void conn_unlink(struct route_conn *c)
{
	struct route *r = c->route;

	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->counters.conns_active--;
}

static void conn_relay_done(void *arg, struct relay *relay, bool aborted)
{
	struct route_conn *c = arg;

	conn_unlink(c);
	free(c);
}

static void conn_connected(void *arg, int err, const char *reason, const struct broker_stream_desc *desc)
{
	struct route_conn *c = arg;
	struct route *r = c->route;

	c->connector = NULL;
	if (err) {
		/* The client sees a clean close: the target is simply not there. */
		log_warn(TAG, "%s: %s", r->name, reason ? reason : strerror(-err));
		r->counters.errors++;
		stream_desc_discard(&c->client);
		conn_unlink(c);
		free(c);
		return;
	}
	c->relay = relay_new_fds_spliced(r->rt->broker->base, &c->client, desc, r->rt->pipes, &r->counters,
	                                 conn_relay_done, c);
	if (!c->relay) {
		log_error(TAG, "%s: cannot relay: out of memory", r->name);
		r->counters.errors++;
		conn_unlink(c);
		free(c);
	}
}

static void route_on_accept(void *arg, const struct broker_stream_desc *desc)
{
	struct route *r = arg;
	struct route_conn *c;
	char err[512];

	if (!r->rt->accepting ||
	    (r->max_connections > 0 && r->counters.conns_active >= (uint64_t)r->max_connections)) {
		r->counters.conns_refused++;
		log_debug(TAG, "%s: refusing %s: %d connections open (limit)", r->name,
		          desc->peer ? desc->peer : "client", r->max_connections);
		stream_desc_discard(desc);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r->counters.errors++;
		stream_desc_discard(desc);
		return;
	}
	c->route = r;
	c->client = *desc;
	c->client.peer = NULL;   /* not owned past this call */
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	r->counters.conns_total++;
	r->counters.conns_active++;
	if (r->connect_on_peer) {
		struct link *l = peer_link_for(r->rt->broker->peer, r->owner);
		if (!l) {
			/* Refuse at once rather than hold the client: it can retry when the link is back. */
			log_warn(TAG, "%s: refusing %s: the link to the peer is down", r->name,
			         desc->peer ? desc->peer : "client");
			r->counters.errors++;
			stream_desc_discard(&c->client);
			conn_unlink(c);
			free(c);
			return;
		}
		/* A peer's route leads to where its owner says: we name it by the owner's id. */
		if (link_open_stream(l, r->connect_target, r->name, r->owner ? r->id : 0, desc, &r->counters,
		                     conn_relay_done, c, &c->relay, err, sizeof(err)) < 0) {
			log_warn(TAG, "%s: %s", r->name, err);
			r->counters.errors++;
			conn_unlink(c);
			free(c);
		}
		return;
	}
	if (endpoint_connect(r->rt->broker->plugins, r->connect, conn_connected, c, &c->connector, err,
	                     sizeof(err)) < 0) {
		log_warn(TAG, "%s: %s", r->name, err);
		r->counters.errors++;
		stream_desc_discard(&c->client);
		conn_unlink(c);
		free(c);
	}
}

/* Clients the plugin accepted but could not hand over: counted, so none vanishes unseen. */
static void route_on_dropped(void *arg, unsigned count, const char *reason)
{
	struct route *r = arg;

	r->counters.conns_total += count;
	r->counters.errors += count;
	log_info(TAG, "%s: %u client%s dropped before becoming a stream: %s", r->name, count, count == 1 ? "" : "s",
	         reason);
}

static void route_on_lost(void *arg, const char *why)
{
	struct route *r = arg;

	r->listener = NULL;
	snprintf(r->state, sizeof(r->state), "down: %s", why);
	log_warn(TAG, "%s: listener closed: %s", r->name, why);
}

static void route_abort_conns(struct route *r)
{
	struct route_conn *c, *next;

	/* Never called from inside a relay callback, so each abort completes here. */
	for (c = r->conns; c; c = next) {
		next = c->next;
		if (c->relay) {
			relay_abort(c->relay);   /* conn_relay_done unlinks and frees */
		} else {
			connector_cancel(c->connector);
			stream_desc_discard(&c->client);
			conn_unlink(c);
			free(c);
		}
	}
}

/* Settle a waiting route add once; the waiter is cleared first, so it never runs twice. */
static void route_settle(struct route *r, enum route_peer_outcome outcome, const char *text)
{
	route_peer_wait_fn fn = r->waiter;

	if (!fn)
		return;
	r->waiter = NULL;
	if (r->wait_timer) {
		event_free(r->wait_timer);
		r->wait_timer = NULL;
	}
	fn(r->waiter_arg, outcome, text);
}

static void route_free(struct route *r)
{
	route_settle(r, ROUTE_PEER_GONE, "the route was removed before the peer answered");
	listener_close(r->listener);
	route_abort_conns(r);
	free(r->name);
	free(r->listen);
	free(r->connect);
	free(r->owner);
	free(r);
}

static int check_name(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64)
		return errfmt(err, errlen, -EINVAL, "route name must be 1-64 characters");
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return errfmt(err, errlen, -EINVAL, "route name '%s': use letters, digits, '-', '_' or '.'",
			              name);
	return 0;
}

/* Validate both URLs up front so a typo fails at add time, not at first connection. */
static int check_urls(const char *listen, const char *connect, bool *listen_peer, bool *connect_peer, char *err,
                      size_t errlen)
{
	struct url u;
	int rc;

	if ((rc = url_parse(listen, &u, err, errlen)) < 0)
		return rc;
	*listen_peer = u.is_peer;
	url_free(&u);
	if ((rc = url_parse(connect, &u, err, errlen)) < 0)
		return rc;
	*connect_peer = u.is_peer;
	url_free(&u);
	if (*listen_peer && *connect_peer)
		return errfmt(err, errlen, -EINVAL, "listen and connect are both on the peer; define the route there");
	return 0;
}

static bool link_configured(const struct broker_config *cfg)
{
	return cfg->n_link_listen || cfg->n_link_connect || cfg->link_stdio;
}

static void route_link(struct route_table *rt, struct route *r)
{
	r->next = rt->head;
	if (rt->head)
		rt->head->prev = r;
	rt->head = r;
	rt->count++;
}

static struct route *route_alloc(struct route_table *rt, const char *name, const char *listen, const char *connect,
                                 const char *owner, int max_connections)
{
	struct route *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->rt = rt;
	r->max_connections = max_connections;
	if (!(r->name = strdup(name)) || !(r->listen = strdup(listen)) || !(r->connect = strdup(connect)) ||
	    (owner && !(r->owner = strdup(owner)))) {
		route_free(r);
		return NULL;
	}
	r->connect_target = strncmp(r->connect, "peer:", 5) == 0 ? r->connect + 5 : r->connect;
	/* The owner tells a re-made listener (counters from zero) from the same one reporting again. */
	if (owner)
		link_auth_nonce((uint8_t *)&r->incarnation, sizeof(r->incarnation));
	return r;
}

static int route_open(struct route_table *rt, const char *name, const char *listen, const char *connect,
                      int max_connections, bool persistent, bool from_config, char *err, size_t errlen)
{
	struct route *r;
	bool listen_peer, connect_peer;
	int rc;

	if ((rc = check_name(name, err, errlen)) < 0)
		return rc;
	if (route_find(rt, name))
		return errfmt(err, errlen, -EEXIST, "route '%s' exists (remove it first, or pick another name)", name);
	if (max_connections < 0)
		return errfmt(err, errlen, -EINVAL, "max connections must be 0 (unlimited) or more");
	if ((rc = check_urls(listen, connect, &listen_peer, &connect_peer, err, errlen)) < 0)
		return rc;
	if ((listen_peer || connect_peer) && !link_configured(&rt->broker->cfg))
		return errfmt(err, errlen, -ENOTCONN,
		              "%s is on the peer, but no link to a peer broker is configured (start brokerd with "
		              "--link-connect URL, --link-listen URL or --link-stdio)",
		              listen_peer ? listen : connect);
	/* The connect side opens per client: check now what can be (scheme, parameters). */
	if (!connect_peer && (rc = endpoint_check(rt->broker->plugins, connect, false, err, errlen)) < 0)
		return rc;
	r = route_alloc(rt, name, listen, connect, NULL, max_connections);
	if (!r)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	r->persistent = persistent;
	r->from_config = from_config;
	r->listen_on_peer = listen_peer;
	r->connect_on_peer = connect_peer;
	if (listen_peer) {
		/* The peer listens for us once the link is up (peer.c keeps it in sync). */
		r->id = ++rt->next_id;
		snprintf(r->state, sizeof(r->state), "%s", peer_default_link(rt->broker->peer)
		                                                 ? "asking the peer"
		                                                 : "waiting for the link to the peer");
		route_link(rt, r);
		log_info(TAG, "%s: %s (on the peer) -> %s", name, listen, connect);
		peer_routes_changed(rt->broker->peer);
		return 0;
	}
	rc = endpoint_listen(rt->broker->plugins, listen, route_on_accept, route_on_lost, r, &r->listener, err,
	                     errlen);
	if (rc < 0) {
		route_free(r);
		return rc;
	}
	listener_set_on_dropped(r->listener, route_on_dropped);
	snprintf(r->state, sizeof(r->state), "listening");
	route_link(rt, r);
	log_info(TAG, "%s: listening on %s -> %s", name, listener_address(r->listener), connect);
	return 0;
}

static void route_close(struct route_table *rt, struct route *r)
{
	bool resync = r->listen_on_peer;

	if (r->prev)
		r->prev->next = r->next;
	else
		rt->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	rt->count--;
	route_free(r);
	if (resync)
		peer_routes_changed(rt->broker->peer);
}

int routes_add(struct route_table *rt, const char *name, const char *listen, const char *connect,
               int max_connections, bool persist, char *err, size_t errlen)
{
	int rc = route_open(rt, name, listen, connect, max_connections, persist, false, err, errlen);
	struct store_route sr = { name, listen, connect, max_connections, 0 };

	if (rc < 0)
		return rc;
	if (persist) {
		rc = store_route_insert(rt->broker->store, &sr, err, errlen);
		if (rc < 0) {
			/* Not stored means not added: the user would lose it at restart without knowing. */
			route_close(rt, route_find(rt, name));
			return rc;
		}
	}
	events_text(rt->broker, "route.add", "route %s: %s -> %s", name, listen, connect);
	return 0;
}

/* The peer refused a route being added: unstore and close it, then tell the waiter why. */
static void route_settle_refused(struct route_table *rt, struct route *r, const char *reason)
{
	route_peer_wait_fn fn = r->waiter;
	void *arg = r->waiter_arg;
	char name[80];

	r->waiter = NULL;
	if (r->wait_timer) {
		event_free(r->wait_timer);
		r->wait_timer = NULL;
	}
	snprintf(name, sizeof(name), "%s", r->name);
	log_warn(TAG, "%s: %s; not added", name, reason);
	if (r->persistent) {
		char err[512];
		if (store_route_delete(rt->broker->store, name, err, sizeof(err)) < 0)
			log_error(TAG, "%s: cannot unstore it: %s", name, err);
	}
	route_close(rt, r);
	events_text(rt->broker, "route.remove", "route %s removed: %s", name, reason);
	fn(arg, ROUTE_PEER_REFUSED, reason);
}

const char *route_peer_outcome_name(enum route_peer_outcome o)
{
	switch (o) {
	case ROUTE_PEER_LISTENING: return "listening";
	case ROUTE_PEER_REFUSED: return "refused";
	case ROUTE_PEER_LINK_DOWN: return "link down";
	case ROUTE_PEER_NO_ANSWER: return "no answer";
	case ROUTE_PEER_GONE: return "removed";
	}
	return "?";
}

static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct route *r = arg;
	char text[128];

	snprintf(text, sizeof(text), "the peer did not answer within %.1f s; its answer will show in the route's state",
	         (double)r->waiter_wait_ms / 1000);
	route_settle(r, ROUTE_PEER_NO_ANSWER, text);
}

int routes_add_waiting(struct route_table *rt, const char *name, const char *listen, const char *connect,
                       int max_connections, int wait_ms, route_peer_wait_fn fn, void *arg,
                       enum route_peer_outcome *outcome, char *err, size_t errlen)
{
	struct route *r;
	int rc = routes_add(rt, name, listen, connect, max_connections, true, err, errlen);

	if (rc < 0)
		return rc;
	*outcome = ROUTE_PEER_LISTENING;
	err[0] = '\0';
	r = route_find(rt, name);
	if (!r || !r->listen_on_peer)
		return 0;
	if (!peer_default_link(rt->broker->peer)) {
		/* Say it plainly: stored, but nothing listens until a link comes up. */
		*outcome = ROUTE_PEER_LINK_DOWN;
		snprintf(err, errlen, "the link to the peer is down; the peer is asked when it comes up");
		return 0;
	}
	if (!fn) {
		/* Nobody can wait (a transport without deferred replies): the state will tell. */
		*outcome = ROUTE_PEER_NO_ANSWER;
		snprintf(err, errlen, "the peer was asked; brokerctl route list shows its answer");
		return 0;
	}
	/* routes_add sent the peer our set: its reply settles this route. */
	struct timeval tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };
	r->wait_timer = evtimer_new(rt->broker->base, on_wait_timeout, r);
	if (!r->wait_timer) {
		*outcome = ROUTE_PEER_NO_ANSWER;
		snprintf(err, errlen, "out of memory to wait for the peer's answer");
		return 0;
	}
	r->waiter = fn;
	r->waiter_arg = arg;
	r->waiter_wait_ms = wait_ms;
	evtimer_add(r->wait_timer, &tv);
	return 1;
}

static void block_add(struct route_table *rt, const char *owner, const char *name)
{
	struct route_block *b = calloc(1, sizeof(*b));

	if (!b || !(b->owner = strdup(owner)) || !(b->name = strdup(name))) {
		if (b)
			free(b->owner);
		free(b);
		return;
	}
	b->next = rt->blocked;
	rt->blocked = b;
}

static struct route_block *block_find(struct route_table *rt, const char *owner, const char *name)
{
	for (struct route_block *b = rt->blocked; b; b = b->next)
		if (!strcmp(b->owner, owner) && !strcmp(b->name, name))
			return b;
	return NULL;
}

/* OWNER/NAME, or NAME held by exactly one peer: the remote route the user means. */
static int find_remote(struct route_table *rt, const char *spec, struct route **out, char *err, size_t errlen)
{
	const char *slash = strrchr(spec, '/');
	struct route *found = NULL;
	char owners[512] = "";
	size_t n = 0, off = 0;

	for (struct route *r = rt->head; r; r = r->next) {
		if (!r->owner || r->internal)
			continue;
		if (slash ? (strlen(r->owner) == (size_t)(slash - spec) && !strncmp(r->owner, spec, (size_t)(slash - spec)) &&
		             !strcmp(r->name, slash + 1))
		          : !strcmp(r->name, spec)) {
			found = r;
			n++;
			if (off < sizeof(owners))
				off += (size_t)snprintf(owners + off, sizeof(owners) - off, "%s%s", n > 1 ? ", " : "", r->owner);
		}
	}
	if (n == 0)
		return errfmt(err, errlen, -ENOENT, "no route named '%s' (brokerctl route list shows them)", spec);
	if (n > 1)
		return errfmt(err, errlen, -EEXIST, "several peers hold a route named '%s' here (%s): name one as "
		              "PEER/%s", spec, owners, spec);
	*out = found;
	return 0;
}

int routes_remove(struct route_table *rt, const char *name, char *err, size_t errlen)
{
	struct route *r = route_find(rt, name);
	int rc;

	if (!r) {
		/* Not ours: a listener a peer set up here, which the user may close too. */
		if ((rc = find_remote(rt, name, &r, err, errlen)) < 0)
			return rc;
		log_info(TAG, "%s (for peer %s): removed by the user; the peer's syncs will not reopen it", r->name,
		         r->owner);
		events_text(rt->broker, "route.remove", "route %s/%s removed", r->owner, r->name);
		block_add(rt, r->owner, r->name);
		route_close(rt, r);
		return 0;
	}
	if (r->from_config)
		return errfmt(err, errlen, -EPERM,
		              "route '%s' comes from the config file; remove it there and reload", name);
	if (r->persistent && (rc = store_route_delete(rt->broker->store, name, err, errlen)) < 0 && rc != -ENOENT)
		return rc;
	log_info(TAG, "%s: removed", name);
	route_close(rt, r);
	events_text(rt->broker, "route.remove", "route %s removed", name);
	return 0;
}

static int restore_one(void *arg, const struct store_route *sr)
{
	struct route_table *rt = arg;
	char err[768];

	/* A stored route that cannot listen now stays stored and is shown as down. */
	if (route_open(rt, sr->name, sr->listen, sr->connect, sr->max_connections, true, false, err,
	               sizeof(err)) < 0) {
		log_error(TAG, "%s: cannot restore: %s", sr->name, err);
		struct route *r = route_alloc(rt, sr->name, sr->listen, sr->connect, NULL, sr->max_connections);
		if (r) {
			r->persistent = true;
			snprintf(r->state, sizeof(r->state), "down: %s", err);
			route_link(rt, r);
		}
	}
	return 0;
}

int routes_restore(struct route_table *rt)
{
	return store_route_foreach(rt->broker->store, restore_one, rt);
}

int routes_apply_config(struct route_table *rt)
{
	struct broker_config *cfg = &rt->broker->cfg;
	struct route *r, *next;
	int failures = 0;

	/* Config routes are re-applied from scratch; unchanged ones keep their listener. */
	for (r = rt->head; r; r = next) {
		next = r->next;
		if (!r->from_config)
			continue;
		bool keep = false;
		for (size_t i = 0; i < cfg->n_routes; i++) {
			struct config_route *cr = &cfg->routes[i];
			if (!strcmp(cr->name, r->name) && !strcmp(cr->listen, r->listen) &&
			    !strcmp(cr->connect, r->connect) && cr->max_connections == r->max_connections)
				keep = true;
		}
		if (!keep) {
			log_info(TAG, "%s: no longer in the config file; closing", r->name);
			route_close(rt, r);
		}
	}
	for (size_t i = 0; i < cfg->n_routes; i++) {
		struct config_route *cr = &cfg->routes[i];
		char err[768];
		r = route_find(rt, cr->name);
		if (r && r->from_config)
			continue;
		if (route_open(rt, cr->name, cr->listen, cr->connect, cr->max_connections, false, true, err,
		               sizeof(err)) < 0) {
			log_error(TAG, "config route %s: %s", cr->name, err);
			failures++;
		}
	}
	return failures ? -EINVAL : 0;
}

static void counters_add(struct route_counters *to, const struct route_counters *c)
{
	to->conns_total += c->conns_total;
	to->conns_active += c->conns_active;
	to->conns_refused += c->conns_refused;
	to->bytes_in += c->bytes_in;
	to->bytes_out += c->bytes_out;
	to->errors += c->errors;
}

/* Ours, plus what the peer counted for a route whose listener it holds. */
static void route_total_counters(const struct route *r, struct route_counters *out)
{
	*out = r->counters;
	if (!r->listen_on_peer)
		return;
	counters_add(out, &r->peer_base);
	counters_add(out, &r->peer_last);
}

int routes_foreach(struct route_table *rt, int (*fn)(void *arg, const struct route_info *ri), void *arg)
{
	for (struct route *r = rt->head; r; r = r->next) {
		if (r->internal)
			continue;
		struct route_info ri = {
			.name = r->name,
			.listen = r->listen,
			.connect = r->connect,
			.max_connections = r->max_connections,
			.persistent = r->persistent,
			.state = r->state,
			.listen_address = r->listener ? listener_address(r->listener) : r->listen,
			.owner = r->owner,
			.id = r->owner ? 0 : r->id,
		};
		route_total_counters(r, &ri.counters);
		int rc = fn(arg, &ri);
		if (rc)
			return rc;
	}
	return 0;
}

size_t routes_count(struct route_table *rt)
{
	size_t n = 0;

	for (struct route *r = rt->head; r; r = r->next)
		n += !r->internal;
	return n;
}

uint64_t routes_active_connections(struct route_table *rt)
{
	uint64_t n = 0;

	for (struct route *r = rt->head; r; r = r->next)
		n += r->counters.conns_active;
	return n;
}

void routes_stop_accepting(struct route_table *rt)
{
	rt->accepting = false;
	for (struct route *r = rt->head; r; r = r->next) {
		listener_close(r->listener);
		r->listener = NULL;
		snprintf(r->state, sizeof(r->state), "down: shutting down");
	}
}

void routes_abort_all(struct route_table *rt)
{
	for (struct route *r = rt->head; r; r = r->next)
		route_abort_conns(r);
}

void routes_destroy(struct route_table *rt)
{
	if (!rt)
		return;
	while (rt->head)
		route_close(rt, rt->head);
	while (rt->blocked) {
		struct route_block *b = rt->blocked;
		rt->blocked = b->next;
		free(b->owner);
		free(b->name);
		free(b);
	}
	relay_pipe_pool_free(rt->pipes);
	free(rt);
}

/* ------------------------------------------------------------ peer routes */

int routes_foreach_peer_listen(struct route_table *rt, int (*fn)(void *arg, const struct route_info *ri), void *arg)
{
	for (struct route *r = rt->head; r; r = r->next) {
		if (!r->listen_on_peer)
			continue;
		struct route_info ri = {
			.name = r->name,
			.listen = r->listen + 5,   /* without "peer:" */
			.connect = r->connect,
			.max_connections = r->max_connections,
			.state = r->state,
			.id = r->id,
		};
		int rc = fn(arg, &ri);
		if (rc)
			return rc;
	}
	return 0;
}

void routes_peer_answer(struct route_table *rt, const char *name, bool ok, const char *state, const char *why)
{
	struct route *r = route_find(rt, name);
	char reason[1100];

	if (!r || !r->listen_on_peer)
		return;
	if (ok || !r->waiter) {
		snprintf(r->state, sizeof(r->state), "%s", state);
		route_settle(r, ROUTE_PEER_LISTENING, state);
		return;
	}
	/* A route add waiting for this answer: refused means not added, so nothing stays stored. */
	snprintf(reason, sizeof(reason), "the peer refused: %s", why);
	route_settle_refused(rt, r, reason);
}

void routes_peer_unanswered(struct route_table *rt, enum route_peer_outcome outcome, const char *why)
{
	for (struct route *r = rt->head, *next; r; r = next) {
		next = r->next;
		if (!r->listen_on_peer || !r->waiter)
			continue;
		if (outcome == ROUTE_PEER_REFUSED)
			route_settle_refused(rt, r, why);
		else
			route_settle(r, outcome, why);
	}
}

void routes_peer_down(struct route_table *rt)
{
	for (struct route *r = rt->head; r; r = r->next)
		if (r->listen_on_peer) {
			snprintf(r->state, sizeof(r->state), "waiting for the link to the peer");
			/* Its streams went with the link; the totals stay (the peer reports them again, or anew). */
			r->peer_last.conns_active = 0;
			route_settle(r, ROUTE_PEER_LINK_DOWN,
			             "the link to the peer went down before it answered; the peer is asked when it is back");
		}
}

int routes_peer_open(struct route_table *rt, uint64_t id, char *connect, size_t len, char *why, size_t whylen)
{
	for (struct route *r = rt->head; r; r = r->next)
		if (!r->owner && r->listen_on_peer && r->id == id) {
			if ((size_t)snprintf(connect, len, "%s", r->connect) >= len)
				return errfmt(why, whylen, -ENAMETOOLONG, "route %s: connect URL too long", r->name);
			return 0;
		}
	return errfmt(why, whylen, -ENOENT, "no route with id %llu here (it was removed or replaced)",
	              (unsigned long long)id);
}

static size_t owner_count(struct route_table *rt, const char *owner)
{
	size_t n = 0;

	for (struct route *r = rt->head; r; r = r->next)
		n += !r->internal && r->owner && !strcmp(r->owner, owner);
	return n;
}

void routes_drop_owner(struct route_table *rt, const char *owner)
{
	struct route *r, *next;

	for (r = rt->head; r; r = next) {
		next = r->next;
		if (r->internal || !r->owner || strcmp(r->owner, owner))
			continue;
		log_info(TAG, "%s (for peer %s): the link to the peer is gone; closing", r->name, owner);
		route_close(rt, r);
	}
}

/* Open one route the peer asks for, if the policy and the per-peer cap allow it. */
static void sync_one(struct route_table *rt, const struct remote_sync *rs, const struct remote_route *want)
{
	char err[768], connect[1024];
	struct route *r;
	int rc;

	if (!want->id)
		rc = errfmt(err, sizeof(err), -EINVAL, "the peer gave no id for route %s", want->name);
	else if (check_name(want->name, err, sizeof(err)) < 0)
		rc = -EINVAL;
	else if (block_find(rt, rs->owner, want->name))
		rc = errfmt(err, sizeof(err), -EPERM, "refused: the user of this broker removed route %s/%s (brokerctl "
		            "route rm); remove the route on the peer and add it again to ask anew", rs->owner, want->name);
	else if (owner_count(rt, rs->owner) >= rs->max_routes)
		rc = errfmt(err, sizeof(err), -EPERM, "refused: this broker holds at most %zu routes for one peer "
		            "(--peer-max-routes)", rs->max_routes);
	else
		rc = rs->check ? rs->check(rs->arg, want, err, sizeof(err))
		               : errfmt(err, sizeof(err), -EPERM, "refused: this broker listens for no peer");
	if (rc == 0 && (size_t)snprintf(connect, sizeof(connect), "peer:%s", want->connect) >= sizeof(connect))
		rc = errfmt(err, sizeof(err), -ENAMETOOLONG, "connect URL too long");
	if (rc == 0 && !(r = route_alloc(rt, want->name, want->listen, connect, rs->owner, want->max_connections)))
		rc = errfmt(err, sizeof(err), -ENOMEM, "out of memory");
	if (rc == 0) {
		r->connect_on_peer = true;
		r->id = want->id;
		rc = endpoint_listen(rt->broker->plugins, want->listen, route_on_accept, route_on_lost, r, &r->listener,
		                     err, sizeof(err));
		if (rc < 0)
			route_free(r);
		else
			listener_set_on_dropped(r->listener, route_on_dropped);
	}
	if (rc < 0) {
		log_warn(TAG, "%s (for peer %s): %s", want->name, rs->owner, err);
		rs->result(rs->arg, want->name, rc, err);
		return;
	}
	snprintf(r->state, sizeof(r->state), "listening on %s for peer %s", listener_address(r->listener), rs->owner);
	route_link(rt, r);
	log_info(TAG, "%s (for peer %s): listening on %s -> peer:%s", want->name, rs->owner,
	         listener_address(r->listener), want->connect);
	/* The owner names us itself: the state it gets says where, not for whom. */
	snprintf(err, sizeof(err), "listening on %s", listener_address(r->listener));
	rs->result(rs->arg, want->name, 0, err);
}

int routes_sync_remote(struct route_table *rt, const struct remote_sync *rs)
{
	struct route *r, *next;

	/* Close what the peer no longer wants, or wants differently. */
	for (r = rt->head; r; r = next) {
		next = r->next;
		/* Mapping listeners (internal) belong to the mapping table, not to this sync. */
		if (r->internal || !r->owner || strcmp(r->owner, rs->owner))
			continue;
		bool keep = false;
		for (size_t i = 0; i < rs->n; i++)
			if (!strcmp(rs->set[i].name, r->name) && !strcmp(rs->set[i].listen, r->listen) &&
			    !strcmp(rs->set[i].connect, r->connect_target) && rs->set[i].id == r->id &&
			    rs->set[i].max_connections == r->max_connections)
				keep = r->listener != NULL;
		if (!keep) {
			log_info(TAG, "%s (for peer %s): closing", r->name, rs->owner);
			route_close(rt, r);
		}
	}
	/* A removal the user made holds only while the peer still asks for the route. */
	for (struct route_block **pp = &rt->blocked, *b; (b = *pp) != NULL;) {
		bool wanted = false;
		for (size_t i = 0; !strcmp(b->owner, rs->owner) && i < rs->n; i++)
			wanted = wanted || !strcmp(rs->set[i].name, b->name);
		if (strcmp(b->owner, rs->owner) || wanted) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		free(b->owner);
		free(b->name);
		free(b);
	}
	for (size_t i = 0; i < rs->n; i++) {
		r = route_find_owned(rt, rs->owner, rs->set[i].name);
		if (r && !r->internal) {
			char now[600];
			/* The owner names us itself: the state it gets says where, not for whom. */
			snprintf(now, sizeof(now), "listening on %s", r->listener ? listener_address(r->listener) : r->listen);
			rs->result(rs->arg, rs->set[i].name, 0, now);
			continue;
		}
		sync_one(rt, rs, &rs->set[i]);
	}
	return 0;
}

/* ------------------------------------------------------------ counters across the link */

static bool counters_equal(const struct route_counters *a, const struct route_counters *b)
{
	return a->conns_total == b->conns_total && a->conns_active == b->conns_active &&
	       a->conns_refused == b->conns_refused && a->bytes_in == b->bytes_in && a->bytes_out == b->bytes_out &&
	       a->errors == b->errors;
}

int routes_report_changed(struct route_table *rt, const char *owner, size_t max, route_report_fn fn, void *arg)
{
	size_t n = 0;

	for (struct route *r = rt->head; r && n < max; r = r->next) {
		if (r->internal || !r->owner || strcmp(r->owner, owner) || counters_equal(&r->counters, &r->reported))
			continue;
		int rc = fn(arg, r->name, r->incarnation, &r->counters);
		if (rc < 0)
			return rc;
		r->reported = r->counters;
		n++;
	}
	return (int)n;
}

void routes_report_reset(struct route_table *rt, const char *owner)
{
	for (struct route *r = rt->head; r; r = r->next)
		if (!r->internal && r->owner && !strcmp(r->owner, owner)) {
			memset(&r->reported, 0, sizeof(r->reported));
			/* Differs from every real report, so the next round sends it even at all zeros. */
			r->reported.conns_total = UINT64_MAX;
		}
}

int routes_set_peer_counters(struct route_table *rt, const char *name, uint64_t incarnation,
                             const struct route_counters *c, struct route_counters *total)
{
	struct route *r = route_find(rt, name);

	if (!r || !r->listen_on_peer)
		return -ENOENT;
	if (r->peer_incarnation == incarnation && counters_equal(&r->peer_last, c))
		return 0;
	if (r->peer_incarnation != incarnation) {
		/* A new listener on the peer: what the old one counted stays in the totals. */
		r->peer_last.conns_active = 0;
		counters_add(&r->peer_base, &r->peer_last);
		r->peer_incarnation = incarnation;
	}
	r->peer_last = *c;
	route_total_counters(r, total);
	return 1;
}

/* ------------------------------------------------------------ internal routes */

int routes_add_internal(struct route_table *rt, const char *name, const char *owner, const char *listen,
                        const char *connect, struct route **out, char *err, size_t errlen)
{
	struct route *r = route_alloc(rt, name, listen, connect, owner, 0);
	int rc;

	if (!r)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	r->internal = true;
	r->connect_on_peer = strncmp(connect, "peer:", 5) == 0;
	rc = endpoint_listen(rt->broker->plugins, listen, route_on_accept, route_on_lost, r, &r->listener, err, errlen);
	if (rc < 0) {
		route_free(r);
		return rc;
	}
	listener_set_on_dropped(r->listener, route_on_dropped);
	snprintf(r->state, sizeof(r->state), "listening on %s", listener_address(r->listener));
	route_link(rt, r);
	*out = r;
	return 0;
}

void routes_remove_internal(struct route_table *rt, struct route *r)
{
	if (r)
		route_close(rt, r);
}

const char *route_listen_address(const struct route *r)
{
	return r->listener ? listener_address(r->listener) : r->listen;
}

void route_get_counters(const struct route *r, struct route_counters *out)
{
	*out = r->counters;
}
