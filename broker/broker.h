/* broker.h - the daemon's context: everything the loop owns, passed explicitly. */
#ifndef BROKER_BROKER_H
#define BROKER_BROKER_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "broker/config.h"

struct event_base;
struct event;
struct store;
struct plugin_registry;
struct route_table;
struct ctl_server;
struct http_server;
struct forwarder_api;
struct peer_manager;
struct peer_policy;
struct mapping_table;
struct event_pub;
struct pid_watch;
struct platform_signals;
struct service;

struct broker {
	struct event_base *base;
	struct broker_config cfg;
	int argc;               /* kept for config_reload */
	char **argv;

	struct store *store;
	struct plugin_registry *plugins;
	struct route_table *routes;
	struct ctl_server *ctl;
	struct http_server *http;
	struct forwarder_api *fwdapi;     /* --forwarder-api; NULL when off */
	struct peer_manager *peer;
	struct peer_policy *policy;       /* what the peer may do here; rebuilt on reload */
	struct mapping_table *mappings;
	struct event_pub *events;         /* RUNTIME/events.sock; NULL if it could not open */
	struct pid_watch *parent_watch;   /* --parent-pid */

	struct platform_signals *signals; /* SIGTERM/SIGINT/SIGHUP or their Windows kin */
	struct service *service;          /* what the service manager hears (service.h) */
	struct event *drain_timer;

	char *db_path;          /* STATE/broker.db */
	char *ctl_url;          /* ipc://RUNTIME/ctl.sock */
	time_t started;
	bool ready;             /* plugins started and routes applied: /ready is 200 */
	bool stopping;
	struct timeval stopping_since;   /* monotonic (event_gettime_monotonic) */
	int exit_code;
};

/*
 * --check-config: load the plugins as the daemon would (option tables,
 * init) and check what refers to them, the config routes' schemes and the
 * link secret; open nothing else.  Each problem is one line on out; <0 if
 * there was any.
 */
int broker_check_config(struct broker *b, FILE *out);

/* Build everything (no sockets yet besides the store).  Logs and returns <0 on failure. */
int broker_init(struct broker *b, int argc, char **argv);
/* Start plugins, restore routes, open ctl/http; then run the loop until shutdown. */
int broker_run(struct broker *b);
void broker_fini(struct broker *b);

/*
 * SIGHUP and `brokerctl reload`: re-read the config file, reload plugins,
 * re-apply routes.  Settings only a restart applies stay as they run; each
 * one the file changed is logged and, when notes is given, described there
 * (at most max_notes, the count in *n_notes).
 */
int broker_reload(struct broker *b, char notes[][CONFIG_RESTART_NOTE], size_t max_notes, size_t *n_notes, char *err,
                  size_t errlen);
/* SIGTERM and `brokerctl shutdown`: stop accepting, drain streams (bounded), leave the loop. */
void broker_shutdown(struct broker *b, const char *why);

#endif
