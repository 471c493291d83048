/* peer.c - links to the peer broker: carriers from the configuration
 * (listen, connect with backoff and jitter, our own stdio), the auth policy
 * per carrier, and the sync of routes that listen on the peer. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "broker/broker.h"
#include "broker/endpoint.h"
#include "broker/errfmt.h"
#include "broker/events.h"
#include "broker/link.h"
#include "broker/link_auth.h"
#include "broker/log.h"
#include "broker/mapping_internal.h"
#include "broker/peer.h"
#include "broker/peer_auth.h"
#include "broker/peer_policy.h"
#include "broker/platform.h"
#include "broker/route.h"
#include "broker/store.h"
#include "broker/url.h"
#include "proto/link.pb-c.h"

#define TAG "peer"
#define BACKOFF_MIN_MS 100

enum carrier_role { ROLE_LISTEN, ROLE_CONNECT, ROLE_STDIO };

struct carrier {
	struct carrier *next;
	struct peer_manager *pm;
	enum carrier_role role;
	char *url;
	struct carrier_opts opts;      /* the link's options; opts.plugin_url goes to the plugin */
	char auth_why[600];            /* why the last link on it needed the secret (or not), as logged */
	struct listener *listener;     /* ROLE_LISTEN */
	struct connector *connector;   /* ROLE_CONNECT while dialing */
	struct event *retry;           /* ROLE_CONNECT backoff timer */
	int backoff_ms;
	uint64_t reconnects;
	char last_error[256];
	char state[64];
};

/* One live link and the carrier it came from. */
struct peer_link {
	struct peer_link *next;
	struct peer_manager *pm;
	struct carrier *carrier;
	struct link *link;
	uint64_t sync_generation;      /* of the last routes_sync we sent on it */
	bool was_up;                   /* link.up was published: link.down follows */
};

struct peer_manager {
	struct broker *b;
	struct carrier *carriers;
	struct peer_link *links;
	uint8_t *secret;
	size_t secret_len;
	char secret_error[1024];       /* why there is no secret, for every later message */
	char broker_id[80];
	uint64_t generation;
	bool stopping;
	struct event *report;          /* PEER_REPORT_INTERVAL_MS: route counters to their owners */
	uint64_t handshakes_refused;   /* accepted carriers closed by --link-max-handshakes */
	time_t handshake_refusal_logged;
};

static const struct rpc_method link_methods[];

struct broker *peer_broker(const struct peer_manager *pm)
{
	return pm->b;
}

const char *peer_broker_id(const struct peer_manager *pm)
{
	return pm->broker_id;
}

/* ------------------------------------------------------------ identity */

/* A stable id: generated once, kept in the store, so the peer can tell restarts from strangers. */
static int load_broker_id(struct peer_manager *pm)
{
	void *val = NULL;
	size_t len = 0;
	char host[64] = "broker";
	uint8_t raw[6];
	int rc;

	rc = store_kv_get(pm->b->store, "core", "broker_id", &val, &len);
	if (rc == 0 && len > 0 && len < sizeof(pm->broker_id)) {
		memcpy(pm->broker_id, val, len);
		pm->broker_id[len] = '\0';
		free(val);
		return 0;
	}
	free(val);
	platform_hostname(host, sizeof(host));
	link_auth_nonce(raw, sizeof(raw));
	snprintf(pm->broker_id, sizeof(pm->broker_id), "%s-%02x%02x%02x%02x%02x%02x", host, raw[0], raw[1], raw[2],
	         raw[3], raw[4], raw[5]);
	rc = store_kv_set(pm->b->store, "core", "broker_id", pm->broker_id, strlen(pm->broker_id));
	if (rc < 0)
		log_warn(TAG, "cannot store the broker id (%s); it will change at the next start", strerror(-rc));
	return 0;
}

int peer_create(struct broker *b, struct peer_manager **out)
{
	struct peer_manager *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return -ENOMEM;
	pm->b = b;
	*out = pm;
	return 0;
}

/* ------------------------------------------------------------ links */

struct link *peer_link_for(struct peer_manager *pm, const char *owner)
{
	if (!pm)
		return NULL;
	for (struct peer_link *pl = pm->links; pl; pl = pl->next) {
		struct link_stats st;
		if (link_state(pl->link) != LINK_UP)
			continue;
		if (!owner)
			return pl->link;
		link_get_stats(pl->link, &st);
		if (strcmp(st.peer_id, owner) == 0)
			return pl->link;
	}
	return NULL;
}

struct link *peer_default_link(struct peer_manager *pm)
{
	return peer_link_for(pm, NULL);
}

static void carrier_schedule_retry(struct carrier *c);

/* Keep the newest reason, cut to fit: status shows one line. */
static void carrier_error(struct carrier *c, const char *why)
{
	size_t n = strlen(why);

	if (n >= sizeof(c->last_error))
		n = sizeof(c->last_error) - 1;
	memcpy(c->last_error, why, n);
	c->last_error[n] = '\0';
}

/* ---- routes that listen on the peer ---- */

struct sync_build {
	Broker__Link__PeerRoute *routes;
	Broker__Link__PeerRoute **ptrs;
	size_t n, cap;
};

static int collect_route(void *arg, const struct route_info *ri)
{
	struct sync_build *sb = arg;

	if (sb->n == sb->cap) {
		size_t cap = sb->cap ? sb->cap * 2 : 8;
		Broker__Link__PeerRoute *nr = realloc(sb->routes, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		sb->routes = nr;
		sb->cap = cap;
	}
	Broker__Link__PeerRoute *pr = &sb->routes[sb->n++];
	broker__link__peer_route__init(pr);
	pr->name = (char *)ri->name;
	pr->listen = (char *)ri->listen;
	pr->connect = (char *)ri->connect;
	pr->max_connections = (uint32_t)ri->max_connections;
	pr->id = ri->id;
	return 0;
}

/* A route sync in flight: the reply is shown with the id of the peer that gave it. */
struct sync_call {
	struct peer_manager *pm;
	char peer_id[128];
};

static void on_sync_reply(void *arg, int err, Broker__Rpc__Status status, const char *errtext, const uint8_t *body,
                          size_t len)
{
	struct sync_call *sc = arg;
	struct peer_manager *pm = sc->pm;
	Broker__Link__RoutesSyncReply *rep;

	if (err == -ETIMEDOUT) {
		/* The peer is alive (or it would be dropped) but slow or hostile: the next change syncs again. */
		log_warn(TAG, "route sync: %s", errtext);
		goto out;
	}
	if (err || status != BROKER__RPC__STATUS__OK) {
		char why[600];
		/* A route add waiting for this answer hears why there is none. */
		if (err == -ECONNRESET) {
			routes_peer_unanswered(pm->b->routes, ROUTE_PEER_LINK_DOWN,
			                       "the link to the peer went down before it answered; the peer is asked when it "
			                       "is back");
			goto out;
		}
		if (err) {
			/* No answer came (a timeout, no memory): what the peer thinks is unknown. */
			snprintf(why, sizeof(why), "no answer from the peer: %s", errtext && *errtext ? errtext : strerror(-err));
			log_warn(TAG, "route sync: %s", why);
			routes_peer_unanswered(pm->b->routes, ROUTE_PEER_NO_ANSWER, why);
			goto out;
		}
		snprintf(why, sizeof(why), "the peer refused the route sync: %s", errtext && *errtext ? errtext : "no reason");
		log_warn(TAG, "%s", why);
		routes_peer_unanswered(pm->b->routes, ROUTE_PEER_REFUSED, why);
		goto out;
	}
	rep = broker__link__routes_sync_reply__unpack(NULL, len, body);
	if (!rep) {
		log_warn(TAG, "route sync reply does not decode");
		routes_peer_unanswered(pm->b->routes, ROUTE_PEER_REFUSED, "the peer's answer does not decode");
		goto out;
	}
	/* An older reply would describe a set we have since replaced. */
	if (rep->generation == pm->generation) {
		for (size_t i = 0; i < rep->n_results; i++) {
			Broker__Link__RouteResult *rr = rep->results[i];
			char state[512];
			if (rr->ok)
				snprintf(state, sizeof(state), "%s (peer %s)", rr->state, sc->peer_id);
			else
				snprintf(state, sizeof(state), "down: peer %s: %s", sc->peer_id, rr->state);
			routes_peer_answer(pm->b->routes, rr->name, rr->ok, state, rr->state);
			if (rr->refused) {
				struct link *l = peer_default_link(pm);
				if (l)
					link_count_refusal(l, LINK_REFUSED_BY_PEER);
				log_warn(TAG, "route %s: the peer refused to listen for it: %s", rr->name, rr->state);
			} else if (!rr->ok) {
				log_warn(TAG, "route %s: the peer cannot listen for it: %s", rr->name, rr->state);
			}
		}
	}
	broker__link__routes_sync_reply__free_unpacked(rep, NULL);
out:
	free(sc);
}

static void sync_routes_on(struct peer_manager *pm, struct link *l)
{
	Broker__Link__RoutesSync msg = BROKER__LINK__ROUTES_SYNC__INIT;
	struct sync_build sb = { 0 };
	struct sync_call *sc;
	struct link_stats st;
	uint8_t *buf;
	size_t len;
	int rc;

	if (routes_foreach_peer_listen(pm->b->routes, collect_route, &sb) < 0)
		goto out;
	sb.ptrs = calloc(sb.n ? sb.n : 1, sizeof(*sb.ptrs));
	if (!sb.ptrs)
		goto out;
	for (size_t i = 0; i < sb.n; i++)
		sb.ptrs[i] = &sb.routes[i];
	msg.generation = ++pm->generation;
	msg.n_routes = sb.n;
	msg.routes = sb.ptrs;
	if (!(sc = calloc(1, sizeof(*sc))))
		goto out;
	sc->pm = pm;
	link_get_stats(l, &st);
	snprintf(sc->peer_id, sizeof(sc->peer_id), "%s", st.peer_id ? st.peer_id : "?");
	if (rpc_pack_message(&msg.base, &buf, &len) < 0) {
		free(sc);
		goto out;
	}
	rc = link_call(l, "peer", "routes_sync", buf, len, on_sync_reply, sc);
	free(buf);
	if (rc < 0)
		log_warn(TAG, "cannot send the route sync: %s", strerror(-rc));
out:
	free(sb.ptrs);
	free(sb.routes);
}

void peer_routes_changed(struct peer_manager *pm)
{
	struct link *l;

	if (!pm || pm->stopping)
		return;
	l = peer_default_link(pm);
	if (l)
		sync_routes_on(pm, l);
}

/* peer.routes_sync handler: the peer tells us which listeners it wants from us. */
struct sync_results {
	struct peer_manager *pm;
	struct link *link;
	Broker__Link__RouteResult *results;
	Broker__Link__RouteResult **ptrs;
	char **states;
	size_t n;
};

static void sync_result(void *arg, const char *name, int rc, const char *state)
{
	struct sync_results *sr = arg;
	Broker__Link__RouteResult *rr = &sr->results[sr->n];

	broker__link__route_result__init(rr);
	rr->name = (char *)name;
	rr->ok = rc == 0;
	rr->refused = rc == -EPERM;
	if (rr->refused)
		link_count_refusal(sr->link, LINK_REFUSED_LISTEN);
	sr->states[sr->n] = strdup(state);
	rr->state = sr->states[sr->n] ? sr->states[sr->n] : "";
	sr->ptrs[sr->n] = rr;
	sr->n++;
}

static struct peer_link *peer_link_of(struct peer_manager *pm, const struct link *l)
{
	for (struct peer_link *pl = pm->links; pl; pl = pl->next)
		if (pl->link == l)
			return pl;
	return NULL;
}

/* Our parent spawned us with --link-stdio and chose our command line: it is trusted (DESIGN.md). */
static bool link_trusted(struct peer_manager *pm, const struct link *l)
{
	struct peer_link *pl = peer_link_of(pm, l);

	return pl && pl->carrier->role == ROLE_STDIO;
}

bool peer_link_is_parent(struct peer_manager *pm, const struct link *l)
{
	return link_trusted(pm, l);
}

static int check_listen(void *arg, const struct remote_route *want, char *why, size_t whylen)
{
	struct sync_results *sr = arg;

	return peer_policy_listen(sr->pm->b->policy, want->listen, link_trusted(sr->pm, sr->link), why, whylen);
}

static Broker__Rpc__Status rpc_routes_sync(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                           size_t *reply_len, char *err, size_t errlen)
{
	struct link *l = ctx;
	struct peer_manager *pm = link_rpc_context(l);
	Broker__Link__RoutesSync *req = broker__link__routes_sync__unpack(NULL, len, body);
	Broker__Link__RoutesSyncReply rep = BROKER__LINK__ROUTES_SYNC_REPLY__INIT;
	struct remote_route *set = NULL;
	struct sync_results sr = { .pm = pm, .link = l };
	struct link_stats st;
	Broker__Rpc__Status status = BROKER__RPC__STATUS__OK;

	if (!req) {
		errfmt(err, errlen, -EINVAL, "routes_sync body does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	link_get_stats(l, &st);
	size_t n = req->n_routes;
	set = calloc(n ? n : 1, sizeof(*set));
	sr.results = calloc(n ? n : 1, sizeof(*sr.results));
	sr.ptrs = calloc(n ? n : 1, sizeof(*sr.ptrs));
	sr.states = calloc(n ? n : 1, sizeof(*sr.states));
	if (!set || !sr.results || !sr.ptrs || !sr.states) {
		errfmt(err, errlen, -ENOMEM, "out of memory");
		status = BROKER__RPC__STATUS__ERROR;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		set[i].name = req->routes[i]->name;
		set[i].listen = req->routes[i]->listen;
		set[i].connect = req->routes[i]->connect;
		set[i].max_connections = (int)req->routes[i]->max_connections;
		set[i].id = req->routes[i]->id;
	}
	struct remote_sync rs = {
		.owner = st.peer_id, .set = set, .n = n, .max_routes = (size_t)pm->b->cfg.peer_max_routes,
		.check = check_listen, .result = sync_result, .arg = &sr,
	};
	routes_sync_remote(pm->b->routes, &rs);
	rep.generation = req->generation;
	rep.n_results = sr.n;
	rep.results = sr.ptrs;
	if (rpc_pack_message(&rep.base, reply, reply_len) < 0) {
		errfmt(err, errlen, -ENOMEM, "out of memory");
		status = BROKER__RPC__STATUS__ERROR;
	}
out:
	for (size_t i = 0; sr.states && i < sr.n; i++)
		free(sr.states[i]);
	free(sr.states);
	free(sr.ptrs);
	free(sr.results);
	free(set);
	broker__link__routes_sync__free_unpacked(req, NULL);
	return status;
}

static const struct rpc_method link_methods[] = {
	{ "peer", "routes_sync", rpc_routes_sync },
	{ "peer", "route_counters", peer_rpc_route_counters },
	{ "peer", "check_connect", peer_rpc_check_connect },
	{ "mapping", "sync", mapping_rpc_sync },
	{ NULL, NULL, NULL },
};

/* ---- link lifecycle ---- */

/*
 * The peer opens a stream here.  It reaches our own route by the id we
 * gave it, the guest side of a mapping we reported, or a target our
 * policy allows (DESIGN.md "Trust between brokers"); nothing else.
 */
static int on_link_open(void *arg, struct link *l, const struct link_open_request *req, char *target, size_t len,
                        char *why, size_t whylen)
{
	struct peer_link *pl = arg;
	struct broker *b = pl->pm->b;

	if (req->route_id)
		return routes_peer_open(b->routes, req->route_id, target, len, why, whylen);
	if (!req->target || !*req->target)
		return errfmt(why, whylen, -EINVAL, "the OPEN names neither a route id nor a target");
	if (mappings_reported_target(b->mappings, req->target)) {
		if ((size_t)snprintf(target, len, "%s", req->target) >= len)
			return errfmt(why, whylen, -ENAMETOOLONG, "target too long");
		return 0;
	}
	return peer_policy_connect(b->policy, req->target, pl->carrier->role == ROLE_STDIO, target, len, why, whylen);
}

static void on_link_up(void *arg, struct link *l)
{
	struct peer_link *pl = arg;
	struct carrier *c = pl->carrier;

	c->backoff_ms = 0;
	c->last_error[0] = '\0';
	{
		struct link_stats st;
		link_get_stats(l, &st);
		events_text(pl->pm->b, "link.up", "link %s up: peer %s (%s)", c->url, st.peer_id, st.peer_host);
		pl->was_up = true;
		/* The peer hears every route we hold for it anew on this link. */
		routes_report_reset(pl->pm->b->routes, st.peer_id);
	}
	if (c->role != ROLE_LISTEN)
		snprintf(c->state, sizeof(c->state), "up");
	/* Reconcile: the peer gets our complete set of listen-on-peer routes and mappings. */
	if (peer_default_link(pl->pm) == l) {
		sync_routes_on(pl->pm, l);
		mappings_link_up(pl->pm->b->mappings, l);
	}
}

static void on_link_down(void *arg, struct link *l, const char *why)
{
	struct peer_link *pl = arg;
	struct peer_manager *pm = pl->pm;
	struct carrier *c = pl->carrier;
	struct peer_link **pp = &pm->links;
	struct link_stats st;

	/* Every link.up gets its link.down; a handshake that failed was never up. */
	link_get_stats(l, &st);
	if (pl->was_up)
		events_text(pm->b, "link.down", "link %s down: peer %s (%s): %s", c->url, st.peer_id, st.peer_host,
		            why && *why ? why : "closed");
	while (*pp && *pp != pl)
		pp = &(*pp)->next;
	if (*pp)
		*pp = pl->next;
	free(pl);
	carrier_error(c, why);
	/* What the peer set up here goes with its link (unless another link to it is still up). */
	link_get_stats(l, &st);
	if (st.peer_id[0] && !peer_link_for(pm, st.peer_id))
		routes_drop_owner(pm->b->routes, st.peer_id);
	if (!peer_default_link(pm)) {
		routes_peer_down(pm->b->routes);
		mappings_link_down(pm->b->mappings);
	} else {
		sync_routes_on(pm, peer_default_link(pm));
		mappings_link_up(pm->b->mappings, peer_default_link(pm));
	}
	if (pm->stopping)
		return;
	switch (c->role) {
	case ROLE_CONNECT:
		snprintf(c->state, sizeof(c->state), "backoff");
		carrier_schedule_retry(c);
		break;
	case ROLE_STDIO:
		/* Our stdin/stdout was the only way to the peer: nothing left to do. */
		snprintf(c->state, sizeof(c->state), "down");
		broker_shutdown(pm->b, "the stdio link closed");
		break;
	case ROLE_LISTEN:
		break;
	}
}

static enum peer_auth_role auth_role(const struct carrier *c)
{
	return c->role == ROLE_LISTEN ? PEER_AUTH_LISTEN : c->role == ROLE_STDIO ? PEER_AUTH_STDIO : PEER_AUTH_CONNECT;
}

static int start_link(struct peer_manager *pm, struct carrier *c, const struct broker_stream_desc *desc, bool dialer)
{
	struct broker_config *cfg = &pm->b->cfg;
	struct carrier_facts facts;
	char path_why[512], why[600];
	bool require_auth;

	/* Who may skip the secret is decided per link, from what the kernel says about this carrier. */
	carrier_facts_get(&facts, auth_role(c), &c->opts, desc->rfd, path_why, sizeof(path_why));
	/* Without a usable secret the handshake itself says so, with the secret file's problem. */
	require_auth = peer_auth_required(&facts, why, sizeof(why));
	/* Said once per change at info (a dialer retries), so the user sees why a link wants the secret. */
	if (strcmp(why, c->auth_why)) {
		snprintf(c->auth_why, sizeof(c->auth_why), "%s", why);
		log_info(TAG, "%s: %s: %s", c->url, require_auth ? "the peer must prove the shared secret" : "no secret needed",
		         why);
	} else {
		log_debug(TAG, "%s: %s: %s", c->url, require_auth ? "the peer must prove the shared secret" : "no secret needed",
		          why);
	}

	struct peer_link *pl = calloc(1, sizeof(*pl));
	struct link_params p = {
		.base = pm->b->base,
		.plugins = pm->b->plugins,
		.dialer = dialer,
		.require_auth = require_auth,
		.encrypt = c->opts.encrypt,
		.secret = pm->secret,
		.secret_len = pm->secret_len,
		.secret_error = pm->secret_error,
		.broker_id = pm->broker_id,
		.carrier = c->url,
		.keepalive_ms = cfg->link_keepalive_s * 1000,
		.timeout_ms = cfg->link_timeout_s * 1000,
		.max_streams = cfg->limits.link_streams,
		.max_pending_connects = cfg->limits.link_pending_connects,
		.max_output = cfg->limits.link_output,
		.rpc_timeout_ms = cfg->limits.link_rpc_timeout_s * 1000,
		.rpc_methods = link_methods,
		.rpc_ctx = pm,
		.cb = { on_link_up, on_link_down, on_link_open },
	};
	int rc;

	if (!pl) {
		stream_desc_discard(desc);
		return -ENOMEM;
	}
	pl->pm = pm;
	pl->carrier = c;
	p.cb_arg = pl;
	rc = link_new(&p, desc, &pl->link);
	if (rc < 0) {
		free(pl);
		return rc;
	}
	pl->next = pm->links;
	pm->links = pl;
	snprintf(c->state, sizeof(c->state), c->role == ROLE_LISTEN ? "listening" : "handshake");
	return 0;
}

/* ---- carriers ---- */

/* Accepted links still in HELLO/AUTH: whoever can reach a listener can make these. */
static size_t handshakes_pending(const struct peer_manager *pm)
{
	size_t n = 0;

	for (const struct peer_link *pl = pm->links; pl; pl = pl->next)
		if (pl->carrier->role == ROLE_LISTEN && link_state(pl->link) == LINK_HANDSHAKE)
			n++;
	return n;
}

static void on_link_accept(void *arg, const struct broker_stream_desc *desc)
{
	struct carrier *c = arg;
	struct peer_manager *pm = c->pm;
	int max = pm->b->cfg.limits.link_handshakes;

	if (handshakes_pending(pm) >= (size_t)max) {
		/* Refuse before any buffer exists; say so at most once a second. */
		time_t now = time(NULL);
		pm->handshakes_refused++;
		if (now != pm->handshake_refusal_logged) {
			log_warn(TAG, "%s: link from %s refused: %d links are still in the handshake (limit, "
			              "--link-max-handshakes); %llu refused so far",
			         c->url, desc->peer ? desc->peer : "a peer", max, (unsigned long long)pm->handshakes_refused);
			pm->handshake_refusal_logged = now;
		}
		stream_desc_discard(desc);
		return;
	}
	log_info(TAG, "%s: link from %s", c->url, desc->peer ? desc->peer : "a peer");
	int rc = start_link(c->pm, c, desc, false);
	if (rc == -ENOMEM)
		log_error(TAG, "%s: cannot start a link: out of memory", c->url);
}

static void on_listener_lost(void *arg, const char *why)
{
	struct carrier *c = arg;

	c->listener = NULL;
	snprintf(c->state, sizeof(c->state), "down");
	snprintf(c->last_error, sizeof(c->last_error), "listener closed: %s", why);
}

static void carrier_dial(struct carrier *c);

static void on_dialed(void *arg, int err, const char *reason, const struct broker_stream_desc *desc)
{
	struct carrier *c = arg;

	c->connector = NULL;
	if (err) {
		carrier_error(c, reason ? reason : strerror(-err));
		log_info(TAG, "%s: cannot reach the peer: %s", c->url, c->last_error);
		carrier_schedule_retry(c);
		return;
	}
	int rc = start_link(c->pm, c, desc, true);
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(c->last_error, sizeof(c->last_error), "out of memory");
		carrier_schedule_retry(c);
	}
}

static void carrier_dial(struct carrier *c)
{
	char err[512];

	snprintf(c->state, sizeof(c->state), "connecting");
	if (endpoint_connect(c->pm->b->plugins, c->opts.plugin_url, on_dialed, c, &c->connector, err, sizeof(err)) < 0) {
		carrier_error(c, err);
		log_warn(TAG, "%s", err);
		carrier_schedule_retry(c);
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct carrier *c = arg;

	c->reconnects++;
	carrier_dial(c);
}

/* Every PEER_REPORT_INTERVAL_MS: each up link's peer hears the counters of its routes we listen for. */
static void on_report_tick(evutil_socket_t fd, short what, void *arg)
{
	struct peer_manager *pm = arg;

	(void)fd;
	(void)what;
	for (struct peer_link *pl = pm->links; pl; pl = pl->next) {
		struct link_stats st;
		if (link_state(pl->link) != LINK_UP)
			continue;
		link_get_stats(pl->link, &st);
		if (peer_link_for(pm, st.peer_id) == pl->link)
			peer_report_send(pm->b, pl->link, st.peer_id);
	}
}

/* Exponential backoff with full jitter, so a fleet of dialers does not retry in lockstep. */
static void carrier_schedule_retry(struct carrier *c)
{
	int max_ms = c->pm->b->cfg.link_backoff_max_s * 1000;
	uint32_t r;
	struct timeval tv;

	if (c->pm->stopping)
		return;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (c->backoff_ms > max_ms)
		c->backoff_ms = max_ms;
	link_auth_nonce((uint8_t *)&r, sizeof(r));
	int wait = c->backoff_ms / 2 + (int)(r % (uint32_t)(c->backoff_ms / 2 + 1));
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	snprintf(c->state, sizeof(c->state), "backoff");
	event_add(c->retry, &tv);
}

/* A carrier from the configuration; NULL with err when its URL is refused or out of memory. */
static struct carrier *carrier_add(struct peer_manager *pm, enum carrier_role role, const char *url, char *err,
                                   size_t errlen)
{
	struct carrier *c = calloc(1, sizeof(*c));

	if (!c || !(c->url = strdup(url))) {
		free(c);
		errfmt(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	c->pm = pm;
	c->role = role;
	if (carrier_opts_parse(url, role == ROLE_LISTEN ? PEER_AUTH_LISTEN : role == ROLE_STDIO ? PEER_AUTH_STDIO
	                                                                                        : PEER_AUTH_CONNECT,
	                       &c->opts, err, errlen) < 0) {
		free(c->url);
		carrier_opts_free(&c->opts);
		free(c);
		return NULL;
	}
	c->retry = evtimer_new(pm->b->base, on_retry, c);
	c->next = pm->carriers;
	pm->carriers = c;
	return c;
}

int peer_start(struct peer_manager *pm)
{
	struct broker_config *cfg = &pm->b->cfg;
	char err[1024];
	int rc;

	if (cfg->n_link_listen == 0 && cfg->n_link_connect == 0 && !cfg->link_stdio)
		return 0;
	if (link_auth_init() < 0) {
		log_error(TAG, "cannot initialise libsodium");
		return -EIO;
	}
	load_broker_id(pm);
	peer_policy_set_name(pm->b->policy, pm->broker_id);
	pm->report = event_new(pm->b->base, -1, EV_PERSIST, on_report_tick, pm);
	if (pm->report) {
		struct timeval tv = { PEER_REPORT_INTERVAL_MS / 1000, (PEER_REPORT_INTERVAL_MS % 1000) * 1000 };
		event_add(pm->report, &tv);
	}
	rc = link_secret_load(cfg->link_secret, true, &pm->secret, &pm->secret_len, err, sizeof(err));
	if (rc < 0) {
		/* Private carriers still work; carriers that need auth will refuse, saying why. */
		snprintf(pm->secret_error, sizeof(pm->secret_error), "%s", err);
		log_error(TAG, "link secret: %s; links that require authentication will fail", err);
	}
	for (size_t i = 0; i < cfg->n_link_listen; i++) {
		struct carrier *c = carrier_add(pm, ROLE_LISTEN, cfg->link_listen[i], err, sizeof(err));
		if (!c) {
			log_error(TAG, "--link-listen %s", err);
			return -EINVAL;
		}
		rc = endpoint_listen(pm->b->plugins, c->opts.plugin_url, on_link_accept, on_listener_lost, c, &c->listener, err,
		                     sizeof(err));
		if (rc < 0) {
			log_error(TAG, "link listener %s", err);
			carrier_error(c, err);
			snprintf(c->state, sizeof(c->state), "down");
			return rc;
		}
		snprintf(c->state, sizeof(c->state), "listening");
		log_info(TAG, "accepting links on %s (%s)", listener_address(c->listener),
		         peer_auth_describe(PEER_AUTH_LISTEN, &c->opts));
	}
	for (size_t i = 0; i < cfg->n_link_connect; i++) {
		struct carrier *c = carrier_add(pm, ROLE_CONNECT, cfg->link_connect[i], err, sizeof(err));
		if (!c) {
			log_error(TAG, "--link-connect %s", err);
			return -EINVAL;
		}
		log_info(TAG, "linking to %s (%s)", c->url, peer_auth_describe(PEER_AUTH_CONNECT, &c->opts));
		carrier_dial(c);
	}
	if (cfg->link_stdio) {
		struct carrier *c = carrier_add(pm, ROLE_STDIO, "stdio", err, sizeof(err));
		struct broker_stream_desc desc;
		char why[256];
		if (!c)
			return -ENOMEM;
		log_info(TAG, "link over stdin/stdout");
		rc = platform_stdio_stream(&desc, why, sizeof(why));
		if (rc < 0) {
			log_error(TAG, "--link-stdio: %s", why);
			return rc;
		}
		rc = start_link(pm, c, &desc, false);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint64_t peer_streams_open(struct peer_manager *pm)
{
	uint64_t n = 0;

	for (struct peer_link *pl = pm ? pm->links : NULL; pl; pl = pl->next) {
		struct link_stats st;
		link_get_stats(pl->link, &st);
		/* UDP flows only end by idle timeout: shutdown does not wait for them. */
		n += st.streams_open - st.datagram_streams_open;
	}
	return n;
}

int peer_foreach(struct peer_manager *pm, int (*fn)(void *arg, const struct peer_link_info *li), void *arg)
{
	struct link *def = peer_default_link(pm);
	int rc;

	for (struct carrier *c = pm->carriers; c; c = c->next) {
		bool any = false;
		for (struct peer_link *pl = pm->links; pl; pl = pl->next) {
			if (pl->carrier != c)
				continue;
			struct peer_link_info li = {
				.carrier = c->url,
				.role = c->role == ROLE_LISTEN ? "accepted" : c->role == ROLE_STDIO ? "stdio" : "connect",
				.state = link_state(pl->link) == LINK_UP ? "up" : "handshake",
				.last_error = c->last_error,
				.reconnects = c->reconnects,
				.is_default = pl->link == def,
				.link = pl->link,
			};
			any = true;
			if ((rc = fn(arg, &li)))
				return rc;
		}
		if (any && c->role != ROLE_LISTEN)
			continue;
		struct peer_link_info li = {
			.carrier = c->url,
			.role = c->role == ROLE_LISTEN ? "listen" : c->role == ROLE_STDIO ? "stdio" : "connect",
			.state = c->state,
			.last_error = c->last_error,
			.reconnects = c->reconnects,
		};
		if ((rc = fn(arg, &li)))
			return rc;
	}
	return 0;
}

void peer_stop(struct peer_manager *pm)
{
	if (!pm)
		return;
	pm->stopping = true;
	if (pm->report)
		event_del(pm->report);
	for (struct carrier *c = pm->carriers; c; c = c->next) {
		listener_close(c->listener);
		c->listener = NULL;
		connector_cancel(c->connector);
		c->connector = NULL;
		if (c->retry)
			event_del(c->retry);
	}
	for (struct peer_link *pl = pm->links; pl; pl = pl->next)
		link_close(pl->link, "the broker is shutting down");
}

void peer_destroy(struct peer_manager *pm)
{
	if (!pm)
		return;
	while (pm->carriers) {
		struct carrier *c = pm->carriers;
		pm->carriers = c->next;
		listener_close(c->listener);
		connector_cancel(c->connector);
		if (c->retry)
			event_free(c->retry);
		free(c->url);
		carrier_opts_free(&c->opts);
		free(c);
	}
	/* Links closed by peer_stop are freed by their reaper before the loop ends. */
	while (pm->links) {
		struct peer_link *pl = pm->links;
		pm->links = pl->next;
		free(pl);
	}
	if (pm->report)
		event_free(pm->report);
	if (pm->secret) {
		memset(pm->secret, 0, pm->secret_len);
		free(pm->secret);
	}
	free(pm);
}
