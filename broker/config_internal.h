/* config_internal.h - what config.c (layers and resolution), config_file.c
 * (the JSON file) and config_help.c (--help) share. */
#ifndef BROKER_CONFIG_INTERNAL_H
#define BROKER_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <jansson.h>

#include "broker/config.h"

#ifndef BROKER_SYSCONFDIR
#define BROKER_SYSCONFDIR "/etc"
#endif
#ifndef BROKER_PLUGINDIR
#define BROKER_PLUGINDIR "/usr/lib/broker/plugins"
#endif

#define DEFAULT_CONFIG_FILE BROKER_SYSCONFDIR "/broker/brokerd.json"
#define DEFAULT_DRAIN_TIMEOUT 10
#define MAX_DRAIN_TIMEOUT 86400

/* The settings that have all four layers; lists (plugin dirs, link URLs) are below. */
enum setting {
	S_RUNTIME_DIR,
	S_STATE_DIR,
	S_LOG_LEVEL,
	S_LOG_FORMAT,
	S_HTTP_LISTEN,
	S_FORWARDER_API,
	S_DRAIN_TIMEOUT,
	S_LINK_SECRET,
	S_LINK_KEEPALIVE,
	S_LINK_TIMEOUT,
	S_LINK_BACKOFF_MAX,
	S_LINK_STDIO,
	S_PARENT_PID,
	S_MAPPING_BIND,
	S_MAPPING_PRIVILEGED,
	S_MAPPING_PORTS,
	S_PEER_MAX_ROUTES,
	S_COUNT
};

/* Settings that are lists (a flag given several times, an array in the file). */
enum list_setting {
	L_PLUGIN_DIRS,
	L_LINK_LISTEN,
	L_LINK_CONNECT,
	L_WATCH,
	L_PEER_ALLOW_CONNECT,
	L_PEER_ALLOW_LISTEN,
	L_COUNT
};

enum {
	OPT_CONFIG = 'c',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_RUNTIME_DIR = 256,
	OPT_STATE_DIR,
	OPT_PLUGIN_DIR,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_HTTP_LISTEN,
	OPT_FORWARDER_API,
	OPT_DRAIN_TIMEOUT,
	OPT_CHECK_CONFIG,
	OPT_LINK_LISTEN,
	OPT_LINK_CONNECT,
	OPT_LINK_SECRET,
	OPT_LINK_KEEPALIVE,
	OPT_LINK_TIMEOUT,
	OPT_LINK_BACKOFF_MAX,
	OPT_LINK_STDIO,
	OPT_PARENT_PID,
	OPT_MAPPING_BIND,
	OPT_MAPPING_PRIVILEGED,
	OPT_WATCH,
	OPT_PEER_ALLOW_CONNECT,
	OPT_PEER_ALLOW_LISTEN,
	OPT_PEER_MAX_ROUTES,
	OPT_MAPPING_PORTS,
};

struct setting_desc {
	const char *flag;   /* without "--" */
	const char *env;
	const char *key;    /* JSON key */
	const char *metavar;
	const char *help;
};

extern const struct setting_desc config_settings[S_COUNT];

struct list_desc {
	const char *flag;
	const char *env;    /* plugin dirs: PLATFORM_PATH_LIST_SEP-separated; link URLs: one URL */
	const char *key;
	const char *metavar;
	const char *help;
	const char *env_sep;  /* NULL: the variable holds a single entry */
};

extern const struct list_desc config_lists[L_COUNT];

#define CONFIG_ENV "BROKER_CONFIG"
#define DEFAULT_LINK_KEEPALIVE 5
#define DEFAULT_LINK_TIMEOUT 15
#define DEFAULT_LINK_BACKOFF_MAX 30
#define DEFAULT_PEER_MAX_ROUTES 64
#define MAX_PEER_MAX_ROUTES 4096


/* Room for the limits of config_limits.c in a layer (checked at start). */
#define CONFIG_MAX_LIMITS 24
/* getopt values of the limits: OPT_LIMIT_BASE + index in config_limit_descs. */
#define OPT_LIMIT_BASE 1000

/* One layer's values.  Strings point into argv / environ or are owned (file layer). */
struct layer {
	const char *val[S_COUNT];
	const char *limit[CONFIG_MAX_LIMITS];
	const char *list[L_COUNT][CONFIG_MAX_LIST];
	size_t n[L_COUNT];
};

struct flags {
	struct layer l;
	const char *config;
	bool check_config, show_version, show_help;
};

struct file_layer {
	json_t *root;        /* owns every string the layer points to */
	struct layer l;
	struct config_route *routes;
	size_t n_routes;
	json_t *plugins;     /* borrowed from root */
	char num_text[S_COUNT][32]; /* integer and boolean keys as text, for the common resolver */
	char limit_text[CONFIG_MAX_LIMITS][32];
};

/* config.c */
int config_list_add(struct layer *l, int which, const char *v, const char *what, char *err, size_t errlen);

/* config_file.c: read and check the file; 1 when it is absent and not asked for. */
int config_read_file(const char *path, bool explicit, struct file_layer *fl, char *err, size_t errlen);
void config_file_layer_free(struct file_layer *fl);

#endif
