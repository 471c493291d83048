/* config.h - brokerd settings from flags, environment, JSON file and defaults. */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "broker/config_limits.h"
#include "broker/log.h"

/*
 * Precedence, highest first: command-line flag > environment variable >
 * config file key > built-in default.  Each setting has all four:
 *
 *   flag               env                   JSON key
 *   --config FILE      BROKER_CONFIG         (n/a)
 *   --runtime-dir DIR  BROKER_RUNTIME_DIR    "runtime_dir"
 *   --state-dir DIR    BROKER_STATE_DIR      "state_dir"
 *   --plugin-dir DIR   BROKER_PLUGIN_DIR     "plugin_dirs" (array; env: ':'-separated)
 *   --log-level L      LOG_LEVEL             "log_level"
 *   --log-format F     BROKER_LOG_FORMAT     "log_format"
 *   --http-listen A    BROKER_HTTP_LISTEN    "http_listen"
 *   --forwarder-api U  BROKER_FORWARDER_API  "forwarder_api" (unix:///PATH or tcp://LOOPBACK:PORT)
 *   --drain-timeout S  BROKER_DRAIN_TIMEOUT  "drain_timeout" (seconds)
 *   --link-listen URL  BROKER_LINK_LISTEN    "link_listen" (array; env: one URL)
 *   --link-connect URL BROKER_LINK_CONNECT   "link_connect" (array; env: one URL)
 *   --link-stdio       BROKER_LINK_STDIO     "link_stdio" (boolean)
 *   --link-secret FILE BROKER_LINK_SECRET    "link_secret"
 *   --link-keepalive S, --link-timeout S, --link-backoff-max S, --parent-pid PID (same pattern)
 *   --peer-allow-connect P  BROKER_PEER_ALLOW_CONNECT  "peer_allow_connect" (array; env: one per line)
 *   --peer-allow-listen P   BROKER_PEER_ALLOW_LISTEN   "peer_allow_listen" (array; env: one per line)
 *   --peer-max-routes N, --mapping-ports RANGES, --mapping-bind, --mapping-allow-privileged (same pattern)
 *   the caps in config_limits.c (--link-max-streams N, ...; same pattern)
 *
 * The file may also hold "routes": [{"name","listen","connect","max_connections"}]
 * (applied at start and on reload, not stored) and "plugins": {"NAME": {options}}.
 */
#define CONFIG_MAX_LIST 16
#define CONFIG_MAX_PLUGIN_DIRS CONFIG_MAX_LIST

struct config_route {
	char *name;
	char *listen;
	char *connect;
	int max_connections;   /* 0: unlimited */
};

struct broker_config {
	char *config_file;      /* NULL: default path, which may be absent */
	bool config_file_explicit;
	char *runtime_dir;
	char *state_dir;
	char *plugin_dirs[CONFIG_MAX_PLUGIN_DIRS];
	size_t n_plugin_dirs;
	enum broker_log_level log_level;
	enum log_format log_format;
	char *http_listen;      /* NULL: no HTTP server */
	char *forwarder_api;    /* NULL: no forwarder API (forwarder_api.h) */
	int drain_timeout_s;    /* SIGTERM: how long live streams may drain */

	/* The link to a peer broker (see link.h / peer.h). */
	char *link_listen[CONFIG_MAX_LIST];
	size_t n_link_listen;
	char *link_connect[CONFIG_MAX_LIST];
	size_t n_link_connect;
	bool link_stdio;
	char *link_secret;      /* default STATE/link.secret */
	int link_keepalive_s;
	int link_timeout_s;
	int link_backoff_max_s;
	int parent_pid;         /* 0: none */

	/* What the peer may do here (peer_policy.h); empty lists allow nothing. */
	char *peer_allow_connect[CONFIG_MAX_LIST];
	size_t n_peer_allow_connect;
	char *peer_allow_listen[CONFIG_MAX_LIST];
	size_t n_peer_allow_listen;
	int peer_max_routes;    /* routes one peer may have listening here */

	/* Port forwarding (mapping.h). */
	int mapping_bind;       /* enum mapping_bind: 0 loopback, 1 as given */
	bool mapping_allow_privileged;
	char *mapping_ports;    /* "8000-8999,3000": ports the peer's listeners may use; NULL: any */
	char *watch[CONFIG_MAX_LIST];   /* watcher plugins to start (names; options go to plugin_options) */
	size_t n_watch;
	json_t *watch_options;  /* name -> {KEY: VALUE} given in watch entries (to name them in errors) */
	char *watch_from;       /* where the watch entries came from: "--watch", "BROKER_WATCH", "FILE: watch" */

	/* Caps against hostile peers and clients (config_limits.c). */
	struct broker_limits limits;

	bool check_config;
	bool show_version;
	bool show_help;

	struct config_route *routes;
	size_t n_routes;
	json_t *plugin_options; /* object: plugin name -> object of options; owned, may be NULL */
};

/*
 * Fill cfg from argv, envp-style environment (getenv) and the config file.
 * Returns 0, or a negative error with a one-line reason in err
 * ("--log-level: unknown level 'loud' (use error, warn, info, debug, trace)").
 */
int config_load(struct broker_config *cfg, int argc, char **argv, char *err, size_t errlen);

/*
 * Re-read only the file layer (SIGHUP); flags and env keep precedence.
 * Settings only a restart applies (config_restart.c) keep their running
 * values; one line per such setting the new configuration changes goes to
 * notes (at most max_notes; notes may be NULL), and their count to *n_notes.
 */
#define CONFIG_RESTART_NOTE 512
#define CONFIG_RESTART_MAX 16
int config_reload(struct broker_config *cfg, int argc, char **argv, char notes[][CONFIG_RESTART_NOTE],
                  size_t max_notes, size_t *n_notes, char *err, size_t errlen);

/* The reload's half of that: swap the running values of restart-only settings into fresh. */
size_t config_keep_restart_settings(struct broker_config *fresh, struct broker_config *running,
                                    char notes[][CONFIG_RESTART_NOTE], size_t max_notes);

void config_free(struct broker_config *cfg);

/* The text printed by --help. */
void config_print_help(FILE *out, const char *argv0);

/* Defaults that depend on the user: $XDG_RUNTIME_DIR/broker or /run/broker for root ... */
char *config_default_runtime_dir(void);
char *config_default_state_dir(void);

#endif
