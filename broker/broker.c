/* broker.c - bring the daemon up and down: store, plugins, routes, control
 * RPC, HTTP, signals, and the bounded drain on shutdown. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "broker/broker.h"
#include "broker/ctl_service.h"
#include "broker/endpoint.h"
#include "broker/errfmt.h"
#include "broker/events.h"
#include "broker/forwarder_api.h"
#include "broker/http.h"
#include "broker/link_auth.h"
#include "broker/log.h"
#include "broker/mapping.h"
#include "broker/peer.h"
#include "broker/peer_policy.h"
#include "broker/platform.h"
#include "broker/platform_pidwatch.h"
#include "broker/plugins.h"
#include "broker/route.h"
#include "broker/service.h"
#include "broker/store.h"
#include "rpc/ctl_server.h"
#include "rpc/runtime_dir.h"

#define TAG "brokerd"

int broker_init(struct broker *b, int argc, char **argv)
{
	char err[1024];
	int rc;

	b->argc = argc;
	b->argv = argv;
	b->started = time(NULL);
	platform_tune_allocator();
	if (platform_event_threads() < 0) {
		log_error(TAG, "libevent has no thread support; cannot take work from plugin threads");
		return -ENOSYS;
	}
	log_capture_libevent();
	b->base = event_base_new();
	if (!b->base) {
		log_error(TAG, "cannot create the event loop");
		return -ENOMEM;
	}
	b->db_path = platform_path_join(b->cfg.state_dir, "broker.db");
	b->ctl_url = runtime_dir_ctl_url(b->cfg.runtime_dir);
	if (!b->db_path || !b->ctl_url)
		return -ENOMEM;

	rc = peer_policy_new(&b->cfg, &b->policy, err, sizeof(err));
	if (rc < 0) {
		log_error(TAG, "%s", err);
		return rc;
	}
	rc = store_open(b->db_path, &b->store, err, sizeof(err));
	if (rc < 0) {
		log_error(TAG, "state: %s", err);
		return rc;
	}
	if ((rc = plugins_create(b, &b->plugins)) < 0 || (rc = routes_create(b, &b->routes)) < 0 ||
	    (rc = peer_create(b, &b->peer)) < 0 || (rc = mappings_create(b, &b->mappings)) < 0) {
		log_error(TAG, "out of memory");
		return rc;
	}
	plugins_load_dirs(b->plugins);
	/* What --check-config reports, the daemon says at start too. */
	plugins_check_config(b->plugins);
	return 0;
}

static void print_problem(void *arg, const char *what)
{
	fprintf(arg, "brokerd: %s\n", what);
}

/* Config routes: their schemes are served, by plugins that can listen or connect. */
static size_t check_config_routes(struct broker *b, FILE *out)
{
	size_t problems = 0;

	for (size_t i = 0; i < b->cfg.n_routes; i++) {
		const struct config_route *r = &b->cfg.routes[i];
		char err[768];

		if (endpoint_check(b->plugins, r->listen, true, err, sizeof(err)) < 0 ||
		    endpoint_check(b->plugins, r->connect, false, err, sizeof(err)) < 0) {
			fprintf(out, "brokerd: %s: routes[%zu] (%s): %s\n", b->cfg.config_file, i, r->name, err);
			problems++;
		}
	}
	return problems;
}

/* The secret is read only when a link needs it; a bad one fails every authenticated link. */
static size_t check_link_secret(struct broker *b, FILE *out)
{
	const struct broker_config *cfg = &b->cfg;
	char err[768];

	if (cfg->n_link_listen == 0 && cfg->n_link_connect == 0 && !cfg->link_stdio)
		return 0;
	if (link_secret_check(cfg->link_secret, err, sizeof(err)) == 0)
		return 0;
	fprintf(out, "brokerd: link secret: %s\n", err);
	return 1;
}

int broker_check_config(struct broker *b, FILE *out)
{
	size_t problems;
	int rc;

	/* Load the plugins as the daemon would (their option tables, their init), open nothing else. */
	if (platform_event_threads() < 0 || !(b->base = event_base_new()) || (rc = plugins_create(b, &b->plugins)) < 0) {
		fprintf(out, "brokerd: cannot set up the check: out of memory\n");
		return -ENOMEM;
	}
	plugins_set_reporter(b->plugins, print_problem, out);
	plugins_load_dirs(b->plugins);
	plugins_check_config(b->plugins);
	problems = plugins_problems(b->plugins);
	problems += check_config_routes(b, out);
	problems += check_link_secret(b, out);
	plugins_destroy(b->plugins);
	b->plugins = NULL;
	event_base_free(b->base);
	b->base = NULL;
	if (problems) {
		fprintf(out, "brokerd: %zu problem%s in the configuration (%s)\n", problems, problems == 1 ? "" : "s",
		        b->cfg.config_file ? b->cfg.config_file : "no config file");
		return -EINVAL;
	}
	return 0;
}

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	uint64_t active = routes_active_connections(b->routes) + peer_streams_open(b->peer);
	struct timeval now, waited;

	/* Milliseconds, not whole seconds: --drain-timeout 2 waits 2 s, not
	 * whatever is left of the current second plus one. */
	event_gettime_monotonic(b->base, &now);
	evutil_timersub(&now, &b->stopping_since, &waited);

	if (active == 0) {
		peer_stop(b->peer);
		event_base_loopexit(b->base, NULL);
		return;
	}
	if (waited.tv_sec >= b->cfg.drain_timeout_s) {
		log_warn(TAG, "drain timeout (%d s): resetting %llu open connection(s)", b->cfg.drain_timeout_s,
		         (unsigned long long)active);
		routes_abort_all(b->routes);
		peer_stop(b->peer);
		event_base_loopexit(b->base, NULL);
		return;
	}
	struct timeval tv = { 0, 100 * 1000 };
	evtimer_add(b->drain_timer, &tv);
}

void broker_shutdown(struct broker *b, const char *why)
{
	struct timeval now = { 0, 0 };

	if (b->stopping)
		return;
	b->stopping = true;
	b->ready = false;
	event_gettime_monotonic(b->base, &b->stopping_since);
	log_info(TAG, "shutting down (%s): no new connections; draining %llu open one(s) for up to %d s", why,
	         (unsigned long long)routes_active_connections(b->routes), b->cfg.drain_timeout_s);
	{
		char status[192];

		snprintf(status, sizeof(status), "stopping (%s): draining %llu connection(s)", why,
		         (unsigned long long)(routes_active_connections(b->routes) + peer_streams_open(b->peer)));
		service_stopping(b->service, status);
	}
	routes_stop_accepting(b->routes);
	/* Checked from the loop, so an RPC asking for shutdown still gets its reply. */
	evtimer_add(b->drain_timer, &now);
}

int broker_reload(struct broker *b, char notes[][CONFIG_RESTART_NOTE], size_t max_notes, size_t *n_notes, char *err,
                  size_t errlen)
{
	struct peer_policy *policy = NULL;
	char mine[CONFIG_RESTART_MAX][CONFIG_RESTART_NOTE];
	size_t n = 0;
	int rc;

	service_reloading(b->service);
	rc = config_reload(&b->cfg, b->argc, b->argv, notes ? notes : mine, notes ? max_notes : CONFIG_RESTART_MAX, &n,
	                   err, errlen);
	if (n_notes)
		*n_notes = rc < 0 ? 0 : n;
	if (rc < 0) {
		log_error(TAG, "reload: keeping the running configuration: %s", err);
		service_ready(b->service);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		log_warn(TAG, "reload: %s", (notes ? notes : mine)[i]);
	/* New patterns apply to the next OPEN and the next listen request; what is open stays. */
	if (peer_policy_new(&b->cfg, &policy, err, errlen) < 0) {
		log_error(TAG, "reload: keeping the peer policy in effect: %s", err);
	} else {
		peer_policy_set_name(policy, peer_broker_id(b->peer));
		peer_policy_free(b->policy);
		b->policy = policy;
	}
	log_configure(b->cfg.log_level, b->cfg.log_format);
	int failures = plugins_reload_all(b->plugins) < 0;
	failures += routes_apply_config(b->routes) < 0;
	log_info(TAG, "reloaded configuration%s", failures ? " (with errors, see above)" : "");
	service_ready(b->service);
	if (failures)
		return errfmt(err, errlen, -EINVAL, "reloaded with errors (see the broker's log)");
	return 0;
}

static void on_signal(enum platform_signal sig, void *arg)
{
	struct broker *b = arg;
	char err[1024];

	if (sig == PLATFORM_SIGNAL_RELOAD) {
		log_info(TAG, "SIGHUP: reloading");
		broker_reload(b, NULL, 0, NULL, err, sizeof(err));
		return;
	}
	broker_shutdown(b, sig == PLATFORM_SIGNAL_TERM ? "SIGTERM" : "SIGINT");
}

static void on_parent_gone(void *arg)
{
	struct broker *b = arg;

	log_info(TAG, "parent process %d exited", b->cfg.parent_pid);
	broker_shutdown(b, "parent exited");
}

struct link_count {
	size_t carriers, up;
};

static int count_link(void *arg, const struct peer_link_info *li)
{
	struct link_count *lc = arg;

	lc->carriers++;
	lc->up += li->link && !strcmp(li->state, "up");
	return 0;
}

/* The service manager's status line: "2 routes, link up, 3 mappings". */
static void status_line(void *arg, char *buf, size_t len)
{
	struct broker *b = arg;
	struct link_count lc = { 0, 0 };
	size_t routes = routes_count(b->routes);
	size_t mappings = mappings_count(b->mappings, MAPPING_LOCAL) + mappings_count(b->mappings, MAPPING_PEER);
	char link[48];

	peer_foreach(b->peer, count_link, &lc);
	if (lc.carriers == 0)
		snprintf(link, sizeof(link), "no link");
	else if (lc.up > 1)
		snprintf(link, sizeof(link), "%zu links up", lc.up);
	else
		snprintf(link, sizeof(link), "link %s", lc.up ? "up" : "down");
	snprintf(buf, len, "%zu route%s, %s, %zu mapping%s", routes, routes == 1 ? "" : "s", link, mappings,
	         mappings == 1 ? "" : "s");
}

int broker_run(struct broker *b)
{
	char err[1024];
	int rc;

	b->drain_timer = evtimer_new(b->base, drain_check, b);
	if (!b->drain_timer || platform_signals_start(b->base, on_signal, b, &b->signals) < 0 ||
	    service_create(b->base, status_line, b, &b->service) < 0)
		return -ENOMEM;

	if (b->cfg.parent_pid > 0) {
		/* Watch first: a broker spawned for a parent must never outlive it, even if start-up fails later. */
		rc = pid_watch_start(b->base, b->cfg.parent_pid, on_parent_gone, b, &b->parent_watch, err, sizeof(err));
		if (rc < 0) {
			log_error(TAG, "--parent-pid: %s", err);
			return rc;
		}
		log_info(TAG, "will exit when process %d exits", b->cfg.parent_pid);
	}
	rc = ctl_server_start(b->base, b->ctl_url, ctl_methods, b, &b->ctl, err, sizeof(err));
	if (rc < 0) {
		log_error(TAG, "control socket: %s", err);
		return rc;
	}
	ctl_server_set_deferrables(b->ctl, ctl_deferrable_methods);
	events_start(b);
	plugins_start_all(b->plugins);
	routes_restore(b->routes);
	routes_apply_config(b->routes);
	mappings_restore(b->mappings);
	rc = peer_start(b->peer);
	if (rc < 0) {
		log_error(TAG, "cannot start the link to the peer (see above)");
		return rc;
	}
	if (b->cfg.http_listen) {
		rc = http_start(b, b->cfg.http_listen, &b->http, err, sizeof(err));
		if (rc < 0) {
			log_error(TAG, "http: %s", err);
			return rc;
		}
		log_info(TAG, "http: /health /ready /metrics on http://%s", b->cfg.http_listen);
	}
	if (b->cfg.forwarder_api) {
		rc = forwarder_api_start(b, b->cfg.forwarder_api, &b->fwdapi, err, sizeof(err));
		if (rc < 0) {
			log_error(TAG, "forwarder API: %s", err);
			return rc;
		}
		log_info(TAG, "forwarder API (gvproxy's /services/forwarder/*) on %s", b->cfg.forwarder_api);
	}
	log_info(TAG, "control: %s", b->ctl_url);
	log_info(TAG, "state: %s", b->db_path);
	/* Each route said its own state when it opened (route.c): a count is enough here. */
	log_info(TAG, "plugins: %zu loaded; routes: %zu", plugins_count(b->plugins), routes_count(b->routes));
	b->ready = true;
	/* Plugins started, stored and configured routes listening, mappings restored. */
	service_ready(b->service);

	if (event_base_dispatch(b->base) < 0) {
		log_error(TAG, "event loop failed");
		return -EIO;
	}
	log_info(TAG, "stopped");
	return 0;
}

void broker_fini(struct broker *b)
{
	if (b->peer && b->base) {
		/* Close links and let their deferred teardown run before anything is freed. */
		peer_stop(b->peer);
		event_base_loop(b->base, EVLOOP_NONBLOCK);
	}
	peer_destroy(b->peer);
	b->peer = NULL;
	pid_watch_stop(b->parent_watch);
	if (b->http)
		http_stop(b->http);
	/* After the links: an expose waiting for the peer's answer has had it (or the link's loss). */
	forwarder_api_stop(b->fwdapi);
	b->fwdapi = NULL;
	if (b->ctl)
		ctl_server_stop(b->ctl);
	events_stop(b);
	mappings_destroy(b->mappings);
	b->mappings = NULL;   /* watchers stopped below must not drop into a freed table */
	routes_destroy(b->routes);
	if (b->plugins) {
		plugins_stop_all(b->plugins);
		/*
		 * libevent finishes some frees (bufferevents a plugin closed in stop)
		 * from the loop: let that run while the plugin's code is still mapped.
		 */
		event_base_loop(b->base, EVLOOP_NONBLOCK);
		event_base_loop(b->base, EVLOOP_NONBLOCK);
		plugins_destroy(b->plugins);
	}
	store_close(b->store);
	peer_policy_free(b->policy);
	platform_signals_stop(b->signals);
	service_destroy(b->service);
	b->service = NULL;
	if (b->drain_timer)
		event_free(b->drain_timer);
	if (b->base)
		event_base_free(b->base);
	free(b->db_path);
	free(b->ctl_url);
	config_free(&b->cfg);
}
