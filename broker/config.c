/* config.c - brokerd settings: flag > environment > JSON file > built-in default. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/errfmt.h"
#include "broker/platform.h"
#include "broker/url.h"
#include "rpc/runtime_dir.h"

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
	S_DRAIN_TIMEOUT,
	S_LINK_SECRET,
	S_LINK_KEEPALIVE,
	S_LINK_TIMEOUT,
	S_LINK_BACKOFF_MAX,
	S_LINK_STDIO,
	S_PARENT_PID,
	S_MAPPING_BIND,
	S_MAPPING_PRIVILEGED,
	S_COUNT
};

/* Settings that are lists (a flag given several times, an array in the file). */
enum list_setting {
	L_PLUGIN_DIRS,
	L_LINK_LISTEN,
	L_LINK_CONNECT,
	L_WATCH,
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
};

struct setting_desc {
	const char *flag;   /* without "--" */
	const char *env;
	const char *key;    /* JSON key */
	const char *metavar;
	const char *help;
};

static const struct setting_desc settings[S_COUNT] = {
	[S_RUNTIME_DIR] = { "runtime-dir", "BROKER_RUNTIME_DIR", "runtime_dir", "DIR",
	                    "control socket DIR/ctl.sock lives here" },
	[S_STATE_DIR] = { "state-dir", "BROKER_STATE_DIR", "state_dir", "DIR",
	                  "sqlite state DIR/broker.db lives here" },
	[S_LOG_LEVEL] = { "log-level", "LOG_LEVEL", "log_level", "LEVEL",
	                  "error, warn, info, debug or trace" },
	[S_LOG_FORMAT] = { "log-format", "BROKER_LOG_FORMAT", "log_format", "FORMAT",
	                   "text or json (one JSON object per line)" },
	[S_HTTP_LISTEN] = { "http-listen", "BROKER_HTTP_LISTEN", "http_listen", "ADDR:PORT",
	                    "serve /health, /ready, /metrics (host defaults to 127.0.0.1; \"off\" disables)" },
	[S_DRAIN_TIMEOUT] = { "drain-timeout", "BROKER_DRAIN_TIMEOUT", "drain_timeout", "SECONDS",
	                      "on SIGTERM, how long live connections may finish" },
	[S_LINK_SECRET] = { "link-secret", "BROKER_LINK_SECRET", "link_secret", "FILE",
	                    "shared secret for link authentication (created 0600 if absent)" },
	[S_LINK_KEEPALIVE] = { "link-keepalive", "BROKER_LINK_KEEPALIVE", "link_keepalive", "SECONDS",
	                       "PING the peer this often" },
	[S_LINK_TIMEOUT] = { "link-timeout", "BROKER_LINK_TIMEOUT", "link_timeout", "SECONDS",
	                     "declare the peer dead after this long without a frame" },
	[S_LINK_BACKOFF_MAX] = { "link-backoff-max", "BROKER_LINK_BACKOFF_MAX", "link_backoff_max", "SECONDS",
	                         "longest wait between reconnect attempts (backoff doubles from 0.1 s)" },
	[S_LINK_STDIO] = { "link-stdio", "BROKER_LINK_STDIO", "link_stdio", NULL,
	                   "use stdin/stdout as the link to the peer; exit when it closes" },
	[S_PARENT_PID] = { "parent-pid", "BROKER_PARENT_PID", "parent_pid", "PID",
	                   "exit when process PID exits" },
	[S_MAPPING_BIND] = { "mapping-bind", "BROKER_MAPPING_BIND", "mapping_bind", "POLICY",
	                     "serve the peer's ports on loopback (0.0.0.0 -> 127.0.0.1) or as-given" },
	[S_MAPPING_PRIVILEGED] = { "mapping-allow-privileged", "BROKER_MAPPING_ALLOW_PRIVILEGED",
	                           "mapping_allow_privileged", NULL, "serve the peer's ports below 1024 too" },
};

struct list_desc {
	const char *flag;
	const char *env;    /* plugin dirs: PLATFORM_PATH_LIST_SEP-separated; link URLs: one URL */
	const char *key;
	const char *metavar;
	const char *help;
	const char *env_sep;  /* NULL: the variable holds a single entry */
};

static const struct list_desc lists[L_COUNT] = {
	[L_PLUGIN_DIRS] = { "plugin-dir", "BROKER_PLUGIN_DIR", "plugin_dirs", "DIR",
	                    "load plugins from DIR (repeatable; env: '" PLATFORM_PATH_LIST_SEP "'-separated)",
	                    PLATFORM_PATH_LIST_SEP },
	[L_LINK_LISTEN] = { "link-listen", "BROKER_LINK_LISTEN", "link_listen", "URL",
	                    "accept links from a peer broker on URL (repeatable)", NULL },
	[L_LINK_CONNECT] = { "link-connect", "BROKER_LINK_CONNECT", "link_connect", "URL",
	                     "link to a peer broker at URL, reconnecting with backoff (repeatable)", NULL },
	[L_WATCH] = { "watch", "BROKER_WATCH", "watch", "NAME[,KEY=VALUE...]",
	              "run watcher plugin NAME with these options (repeatable)", NULL },
};

#define CONFIG_ENV "BROKER_CONFIG"
#define DEFAULT_LINK_KEEPALIVE 5
#define DEFAULT_LINK_TIMEOUT 15
#define DEFAULT_LINK_BACKOFF_MAX 30

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "http-listen", required_argument, NULL, OPT_HTTP_LISTEN },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "link-listen", required_argument, NULL, OPT_LINK_LISTEN },
	{ "link-connect", required_argument, NULL, OPT_LINK_CONNECT },
	{ "link-secret", required_argument, NULL, OPT_LINK_SECRET },
	{ "link-keepalive", required_argument, NULL, OPT_LINK_KEEPALIVE },
	{ "link-timeout", required_argument, NULL, OPT_LINK_TIMEOUT },
	{ "link-backoff-max", required_argument, NULL, OPT_LINK_BACKOFF_MAX },
	{ "link-stdio", no_argument, NULL, OPT_LINK_STDIO },
	{ "parent-pid", required_argument, NULL, OPT_PARENT_PID },
	{ "mapping-bind", required_argument, NULL, OPT_MAPPING_BIND },
	{ "mapping-allow-privileged", no_argument, NULL, OPT_MAPPING_PRIVILEGED },
	{ "watch", required_argument, NULL, OPT_WATCH },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* One layer's values.  Strings point into argv / environ or are owned (file layer). */
struct layer {
	const char *val[S_COUNT];
	const char *list[L_COUNT][CONFIG_MAX_LIST];
	size_t n[L_COUNT];
};

struct flags {
	struct layer l;
	const char *config;
	bool check_config, show_version, show_help;
};

/* ------------------------------------------------------------ helpers */

/* An empty environment variable counts as unset, as most tools treat it. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

char *config_default_runtime_dir(void)
{
	/* One rule for brokerd and brokerctl, so both always find the same socket. */
	return runtime_dir_default();
}

char *config_default_state_dir(void)
{
	/* Per OS, next to the runtime dir's rule (rpc/runtime_dir*.c). */
	return runtime_dir_state_default();
}

/* Append one entry to a layer's list; what names the source for the error. */
static int list_add(struct layer *l, int which, const char *v, const char *what, char *err, size_t errlen)
{
	if (l->n[which] == CONFIG_MAX_LIST)
		return errfmt(err, errlen, -E2BIG, "%s: at most %d entries", what, CONFIG_MAX_LIST);
	l->list[which][l->n[which]++] = v;
	return 0;
}

/* Split a separated list (BROKER_PLUGIN_DIR) into a layer; pieces point into copy. */
static int split_list(char *copy, struct layer *l, int which, char *err, size_t errlen)
{
	char *save = NULL;
	const char *sep = lists[which].env_sep;

	if (!sep)
		return list_add(l, which, copy, lists[which].env, err, errlen);
	for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
		int rc = list_add(l, which, t, lists[which].env, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ flags */

static int parse_flags(struct flags *f, int argc, char **argv, char *err, size_t errlen)
{
	int c, idx;

	memset(f, 0, sizeof(*f));
	if (argc < 1 || !argv)
		return 0;
	/*
	 * getopt keeps its position in globals; optind = 0 makes glibc start
	 * over, which config_reload and the tests need.  '+' stops at the first
	 * non-option instead of permuting argv (we re-parse the same argv on
	 * reload), ':' reports a missing argument apart from an unknown option.
	 */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:hV", long_options, &idx)) != -1) {
		switch (c) {
		case OPT_CONFIG: f->config = optarg; break;
		case OPT_RUNTIME_DIR: f->l.val[S_RUNTIME_DIR] = optarg; break;
		case OPT_STATE_DIR: f->l.val[S_STATE_DIR] = optarg; break;
		case OPT_LOG_LEVEL: f->l.val[S_LOG_LEVEL] = optarg; break;
		case OPT_LOG_FORMAT: f->l.val[S_LOG_FORMAT] = optarg; break;
		case OPT_HTTP_LISTEN: f->l.val[S_HTTP_LISTEN] = optarg; break;
		case OPT_DRAIN_TIMEOUT: f->l.val[S_DRAIN_TIMEOUT] = optarg; break;
		case OPT_LINK_SECRET: f->l.val[S_LINK_SECRET] = optarg; break;
		case OPT_LINK_KEEPALIVE: f->l.val[S_LINK_KEEPALIVE] = optarg; break;
		case OPT_LINK_TIMEOUT: f->l.val[S_LINK_TIMEOUT] = optarg; break;
		case OPT_LINK_BACKOFF_MAX: f->l.val[S_LINK_BACKOFF_MAX] = optarg; break;
		case OPT_LINK_STDIO: f->l.val[S_LINK_STDIO] = "true"; break;
		case OPT_PARENT_PID: f->l.val[S_PARENT_PID] = optarg; break;
		case OPT_MAPPING_BIND: f->l.val[S_MAPPING_BIND] = optarg; break;
		case OPT_MAPPING_PRIVILEGED: f->l.val[S_MAPPING_PRIVILEGED] = "true"; break;
		case OPT_PLUGIN_DIR:
		case OPT_LINK_LISTEN:
		case OPT_LINK_CONNECT:
		case OPT_WATCH: {
			int which = c == OPT_PLUGIN_DIR ? L_PLUGIN_DIRS : c == OPT_LINK_LISTEN ? L_LINK_LISTEN :
			            c == OPT_LINK_CONNECT ? L_LINK_CONNECT : L_WATCH;
			char what[64];
			snprintf(what, sizeof(what), "--%s", lists[which].flag);
			int rc = list_add(&f->l, which, optarg, what, err, errlen);
			if (rc < 0)
				return rc;
			break;
		}
		case OPT_CHECK_CONFIG: f->check_config = true; break;
		case OPT_VERSION: f->show_version = true; break;
		case OPT_HELP: f->show_help = true; break;
		case ':':
			return errfmt(err, errlen, -EINVAL, "%s: missing value (see --help)", argv[optind - 1]);
		default:
			if (optopt)
				return errfmt(err, errlen, -EINVAL, "unknown option '-%c' (see --help)", optopt);
			return errfmt(err, errlen, -EINVAL, "unknown option '%s' (see --help)",
			              argv[optind - 1]);
		}
	}
	if (optind < argc)
		return errfmt(err, errlen, -EINVAL, "unexpected argument '%s' (brokerd takes only options; see --help)",
		              argv[optind]);
	return 0;
}

static int read_env(struct layer *l, char *copies[L_COUNT], char *err, size_t errlen)
{
	const char *v;

	memset(l, 0, sizeof(*l));
	for (int i = 0; i < S_COUNT; i++)
		l->val[i] = env(settings[i].env);
	for (int i = 0; i < L_COUNT; i++) {
		v = env(lists[i].env);
		if (!v)
			continue;
		copies[i] = strdup(v);
		if (!copies[i])
			return errfmt(err, errlen, -ENOMEM, "out of memory");
		int rc = split_list(copies[i], l, i, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ file */

struct file_layer {
	json_t *root;        /* owns every string the layer points to */
	struct layer l;
	struct config_route *routes;
	size_t n_routes;
	json_t *plugins;     /* borrowed from root */
	char num_text[S_COUNT][32]; /* integer and boolean keys as text, for the common resolver */
};

static void file_layer_free(struct file_layer *fl)
{
	for (size_t i = 0; i < fl->n_routes; i++) {
		free(fl->routes[i].name);
		free(fl->routes[i].listen);
		free(fl->routes[i].connect);
	}
	free(fl->routes);
	json_decref(fl->root);
	memset(fl, 0, sizeof(*fl));
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static int parse_route(const char *path, size_t i, json_t *o, struct config_route *r, char *err,
                       size_t errlen)
{
	static const char *const required[] = { "name", "listen", "connect" };
	char *dst[3] = { NULL, NULL, NULL };
	const char *key;
	json_t *v;
	struct url u;
	int rc;

	if (!json_is_object(o))
		return errfmt(err, errlen, -EINVAL, "%s: routes[%zu]: must be an object, not %s", path, i,
		              json_type_name(o));
	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") && strcmp(key, "listen") && strcmp(key, "connect") &&
		    strcmp(key, "max_connections"))
			return errfmt(err, errlen, -EINVAL,
			              "%s: routes[%zu]: unknown key \"%s\" (known: name, listen, connect, max_connections)",
			              path, i, key);
	}
	for (size_t k = 0; k < 3; k++) {
		v = json_object_get(o, required[k]);
		if (!v)
			return errfmt(err, errlen, -EINVAL, "%s: routes[%zu]: missing \"%s\"", path, i,
			              required[k]);
		if (!json_is_string(v) || !*json_string_value(v))
			return errfmt(err, errlen, -EINVAL, "%s: routes[%zu].%s: must be a non-empty string",
			              path, i, required[k]);
		dst[k] = (char *)json_string_value(v);
	}
	for (size_t k = 1; k < 3; k++) {
		char why[256];
		rc = url_parse(dst[k], &u, why, sizeof(why));
		if (rc < 0)
			return errfmt(err, errlen, rc, "%s: routes[%zu].%s: %s", path, i, required[k], why);
		url_free(&u);
	}
	v = json_object_get(o, "max_connections");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX))
		return errfmt(err, errlen, -EINVAL,
		              "%s: routes[%zu].max_connections: must be an integer >= 0 (0: unlimited)", path, i);
	r->max_connections = v ? (int)json_integer_value(v) : 0;
	r->name = strdup(dst[0]);
	r->listen = strdup(dst[1]);
	r->connect = strdup(dst[2]);
	if (!r->name || !r->listen || !r->connect)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int parse_routes(const char *path, json_t *arr, struct file_layer *fl, char *err, size_t errlen)
{
	size_t n;
	int rc;

	if (!json_is_array(arr))
		return errfmt(err, errlen, -EINVAL, "%s: routes: must be an array of objects, not %s", path,
		              json_type_name(arr));
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	fl->routes = calloc(n, sizeof(*fl->routes));
	if (!fl->routes)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		/* Count first so file_layer_free releases a half-parsed entry. */
		fl->n_routes = i + 1;
		rc = parse_route(path, i, json_array_get(arr, i), &fl->routes[i], err, errlen);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(fl->routes[j].name, fl->routes[i].name) == 0)
				return errfmt(err, errlen, -EINVAL,
				              "%s: routes[%zu]: name \"%s\" already used by routes[%zu]", path, i,
				              fl->routes[i].name, j);
	}
	return 0;
}

static int parse_plugins(const char *path, json_t *obj, char *err, size_t errlen)
{
	const char *name, *key;
	json_t *opts, *v;

	if (!json_is_object(obj))
		return errfmt(err, errlen, -EINVAL,
		              "%s: plugins: must be an object {\"NAME\": {options}}, not %s", path,
		              json_type_name(obj));
	json_object_foreach(obj, name, opts) {
		if (!json_is_object(opts))
			return errfmt(err, errlen, -EINVAL, "%s: plugins.%s: must be an object of options, not %s",
			              path, name, json_type_name(opts));
		json_object_foreach(opts, key, v) {
			if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
				return errfmt(err, errlen, -EINVAL,
				              "%s: plugins.%s.%s: must be a string, number or boolean, not %s", path,
				              name, key, json_type_name(v));
		}
	}
	return 0;
}

static int key_setting(const char *key)
{
	for (int i = 0; i < S_COUNT; i++)
		if (strcmp(settings[i].key, key) == 0)
			return i;
	return -1;
}

static int key_list(const char *key)
{
	for (int i = 0; i < L_COUNT; i++)
		if (strcmp(lists[i].key, key) == 0)
			return i;
	return -1;
}

static bool setting_is_number(int s)
{
	return s == S_DRAIN_TIMEOUT || s == S_LINK_KEEPALIVE || s == S_LINK_TIMEOUT || s == S_LINK_BACKOFF_MAX ||
	       s == S_PARENT_PID;
}

/*
 * Read and validate the file.  path NULL: nothing to read.  Validation
 * errors name the file and the key path; jansson keeps no positions for
 * parsed values, so only syntax errors carry line and column.
 */
static int read_file(const char *path, bool explicit, struct file_layer *fl, char *err, size_t errlen)
{
	json_error_t jerr;
	const char *key;
	json_t *v;
	FILE *fp;
	int rc, s;

	memset(fl, 0, sizeof(*fl));
	fp = fopen(path, "r");
	if (!fp) {
		if (errno == ENOENT && !explicit)
			return 1;
		return errfmt(err, errlen, -errno, "%s: cannot read config file: %s%s", path, strerror(errno),
		              errno == ENOENT ? " (check --config / " CONFIG_ENV ")" : "");
	}
	fl->root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
	fclose(fp);
	if (!fl->root)
		return errfmt(err, errlen, -EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(fl->root))
		return errfmt(err, errlen, -EINVAL, "%s: the top level must be a JSON object, not %s", path,
		              json_type_name(fl->root));

	json_object_foreach(fl->root, key, v) {
		s = key_setting(key);
		if (s >= 0) {
			if (s == S_HTTP_LISTEN && json_is_null(v)) {
				/* null: explicitly off, which is also the default. */
			} else if (setting_is_number(s)) {
				if (!json_is_integer(v))
					return errfmt(err, errlen, -EINVAL, "%s: %s: must be an integer, not %s", path,
					              key, json_type_name(v));
				/* Keep validation in one place: the resolver parses the text form. */
				snprintf(fl->num_text[s], sizeof(fl->num_text[s]), "%lld",
				         (long long)json_integer_value(v));
				fl->l.val[s] = fl->num_text[s];
			} else if (s == S_LINK_STDIO || s == S_MAPPING_PRIVILEGED) {
				if (!json_is_boolean(v))
					return errfmt(err, errlen, -EINVAL, "%s: %s: must be true or false, not %s", path,
					              key, json_type_name(v));
				fl->l.val[s] = json_is_true(v) ? "true" : "false";
			} else if (!json_is_string(v)) {
				return errfmt(err, errlen, -EINVAL, "%s: %s: must be a string, not %s", path, key,
				              json_type_name(v));
			} else {
				fl->l.val[s] = json_string_value(v);
			}
		} else if ((s = key_list(key)) >= 0) {
			size_t i;
			json_t *d;
			char what[PATH_MAX + 64];
			if (!json_is_array(v))
				return errfmt(err, errlen, -EINVAL, "%s: %s: must be an array of strings, not %s",
				              path, key, json_type_name(v));
			snprintf(what, sizeof(what), "%s: %s", path, key);
			json_array_foreach(v, i, d) {
				if (!json_is_string(d) || !*json_string_value(d))
					return errfmt(err, errlen, -EINVAL, "%s: %s[%zu]: must be a non-empty string",
					              path, key, i);
				rc = list_add(&fl->l, s, json_string_value(d), what, err, errlen);
				if (rc < 0)
					return rc;
			}
		} else if (strcmp(key, "routes") == 0) {
			rc = parse_routes(path, v, fl, err, errlen);
			if (rc < 0)
				return rc;
		} else if (strcmp(key, "plugins") == 0) {
			rc = parse_plugins(path, v, err, errlen);
			if (rc < 0)
				return rc;
			fl->plugins = v;
		} else {
			return errfmt(err, errlen, -EINVAL,
			              "%s: unknown key \"%s\" (known: runtime_dir, state_dir, plugin_dirs, log_level, "
			              "log_format, http_listen, drain_timeout, link_listen, link_connect, link_stdio, "
			              "link_secret, link_keepalive, link_timeout, link_backoff_max, parent_pid, "
			              "mapping_bind, mapping_allow_privileged, watch, routes, plugins)",
			              path, key);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ resolve */

/* The highest layer that sets s, and a label naming it for error messages. */
static const char *pick(int s, const struct layer *fl, const struct layer *el, const struct layer *ff,
                        const char *path, char *label, size_t labellen)
{
	if (fl->val[s]) {
		snprintf(label, labellen, "--%s", settings[s].flag);
		return fl->val[s];
	}
	if (el->val[s]) {
		snprintf(label, labellen, "%s", settings[s].env);
		return el->val[s];
	}
	if (ff && ff->val[s]) {
		snprintf(label, labellen, "%s: %s", path, settings[s].key);
		return ff->val[s];
	}
	label[0] = '\0';
	return NULL;
}

static int parse_number(const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* The highest layer that has entries for list `which` (lists do not merge across layers). */
static const struct layer *pick_list(int which, const struct layer *fl, const struct layer *el,
                                     const struct layer *ff)
{
	if (fl->n[which])
		return fl;
	if (el->n[which])
		return el;
	if (ff && ff->n[which])
		return ff;
	return NULL;
}

static int copy_list(const struct layer *l, int which, char **dst, size_t *n, char *err, size_t errlen)
{
	for (size_t i = 0; l && i < l->n[which]; i++)
		if (!(dst[(*n)++] = strdup(l->list[which][i])))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

/* A boolean setting ("true"/"1"/"false"/"0"); false when unset. */
static int resolve_bool(int s, const struct flags *f, const struct layer *el, const struct layer *ff, const char *path,
                        bool *out, char *err, size_t errlen)
{
	char label[PATH_MAX + 64];
	const char *v = pick(s, &f->l, el, ff, path, label, sizeof(label));

	if (v && strcmp(v, "true") && strcmp(v, "1") && strcmp(v, "false") && strcmp(v, "0"))
		return errfmt(err, errlen, -EINVAL, "%s: '%s' is not true or false", label, v);
	*out = v && (!strcmp(v, "true") || !strcmp(v, "1"));
	return 0;
}

/*
 * --watch NAME[,KEY=VALUE...]: NAME joins cfg->watch and each KEY=VALUE
 * becomes an option of plugin NAME, over the file's "plugins" entry.
 */
static int resolve_watch(struct broker_config *cfg, const struct layer *l, char *err, size_t errlen)
{
	for (size_t i = 0; l && i < l->n[L_WATCH]; i++) {
		char *spec = strdup(l->list[L_WATCH][i]), *save = NULL;
		char *name = spec ? strtok_r(spec, ",", &save) : NULL;
		json_t *opts;

		if (!spec)
			return errfmt(err, errlen, -ENOMEM, "out of memory");
		if (!name || !*name) {
			free(spec);
			return errfmt(err, errlen, -EINVAL, "--watch: '%s' names no plugin (use NAME[,KEY=VALUE...])",
			              l->list[L_WATCH][i]);
		}
		if (!cfg->plugin_options && !(cfg->plugin_options = json_object()))
			goto nomem;
		opts = json_object_get(cfg->plugin_options, name);
		if (!opts) {
			opts = json_object();
			if (!opts || json_object_set_new(cfg->plugin_options, name, opts) < 0)
				goto nomem;
		}
		for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (!eq || eq == kv) {
				errfmt(err, errlen, -EINVAL, "--watch %s: '%s' is not KEY=VALUE", name, kv);
				free(spec);
				return -EINVAL;
			}
			*eq = '\0';
			if (json_object_set_new(opts, kv, json_string(eq + 1)) < 0)
				goto nomem;
		}
		if (cfg->n_watch == CONFIG_MAX_LIST || !(cfg->watch[cfg->n_watch++] = strdup(name)))
			goto nomem;
		free(spec);
		continue;
nomem:
		free(spec);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	return 0;
}

/* An integer setting: default when unset; label names the layer in errors. */
static int resolve_number(int s, const struct flags *f, const struct layer *el, const struct layer *ff,
                          const char *path, long min, long max, int def, int *out, char *err, size_t errlen)
{
	char label[PATH_MAX + 64];
	const char *v = pick(s, &f->l, el, ff, path, label, sizeof(label));

	*out = def;
	if (v && parse_number(v, min, max, out) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: '%s' is not a %s in %ld..%ld", label, v,
		              s == S_PARENT_PID ? "process id" : "number of seconds", min, max);
	return 0;
}

static int resolve(struct broker_config *cfg, const struct flags *f, const struct layer *el,
                   const struct file_layer *file, const char *path, char *err, size_t errlen)
{
	const struct layer *ff = file ? &file->l : NULL;
	char label[PATH_MAX + 64];
	const char *v;
	int rc;

	v = pick(S_RUNTIME_DIR, &f->l, el, ff, path, label, sizeof(label));
	cfg->runtime_dir = v ? strdup(v) : config_default_runtime_dir();
	v = pick(S_STATE_DIR, &f->l, el, ff, path, label, sizeof(label));
	cfg->state_dir = v ? strdup(v) : config_default_state_dir();
	if (!cfg->runtime_dir || !cfg->state_dir)
		return errfmt(err, errlen, -ENOMEM, "out of memory");

	const struct layer *dl = pick_list(L_PLUGIN_DIRS, &f->l, el, ff);
	if (dl) {
		if (copy_list(dl, L_PLUGIN_DIRS, cfg->plugin_dirs, &cfg->n_plugin_dirs, err, errlen) < 0)
			return -ENOMEM;
	} else {
		if (!(cfg->plugin_dirs[cfg->n_plugin_dirs++] = strdup(runtime_dir_plugin_default(BROKER_PLUGINDIR))))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	if (copy_list(pick_list(L_LINK_LISTEN, &f->l, el, ff), L_LINK_LISTEN, cfg->link_listen, &cfg->n_link_listen,
	              err, errlen) < 0 ||
	    copy_list(pick_list(L_LINK_CONNECT, &f->l, el, ff), L_LINK_CONNECT, cfg->link_connect,
	              &cfg->n_link_connect, err, errlen) < 0)
		return -ENOMEM;

	v = pick(S_LINK_SECRET, &f->l, el, ff, path, label, sizeof(label));
	cfg->link_secret = v ? strdup(v) : platform_path_join(cfg->state_dir, "link.secret");
	if (!cfg->link_secret)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	if ((rc = resolve_bool(S_LINK_STDIO, f, el, ff, path, &cfg->link_stdio, err, errlen)) < 0 ||
	    (rc = resolve_bool(S_MAPPING_PRIVILEGED, f, el, ff, path, &cfg->mapping_allow_privileged, err, errlen)) < 0)
		return rc;
	v = pick(S_MAPPING_BIND, &f->l, el, ff, path, label, sizeof(label));
	cfg->mapping_bind = 0;
	if (v && !strcmp(v, "as-given"))
		cfg->mapping_bind = 1;
	else if (v && strcmp(v, "loopback"))
		return errfmt(err, errlen, -EINVAL, "%s: '%s' is not a bind policy (use loopback or as-given)", label, v);
	if ((rc = resolve_watch(cfg, pick_list(L_WATCH, &f->l, el, ff), err, errlen)) < 0)
		return rc;
	if ((rc = resolve_number(S_LINK_KEEPALIVE, f, el, ff, path, 1, 3600, DEFAULT_LINK_KEEPALIVE,
	                         &cfg->link_keepalive_s, err, errlen)) < 0 ||
	    (rc = resolve_number(S_LINK_TIMEOUT, f, el, ff, path, 1, 86400, DEFAULT_LINK_TIMEOUT,
	                         &cfg->link_timeout_s, err, errlen)) < 0 ||
	    (rc = resolve_number(S_LINK_BACKOFF_MAX, f, el, ff, path, 1, 3600, DEFAULT_LINK_BACKOFF_MAX,
	                         &cfg->link_backoff_max_s, err, errlen)) < 0 ||
	    (rc = resolve_number(S_PARENT_PID, f, el, ff, path, 1, INT_MAX, 0, &cfg->parent_pid, err, errlen)) < 0)
		return rc;

	cfg->log_level = BROKER_LOG_INFO;
	v = pick(S_LOG_LEVEL, &f->l, el, ff, path, label, sizeof(label));
	if (v && log_level_parse(v, &cfg->log_level) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: unknown level '%s' (use error, warn, info, debug, trace)",
		              label, v);

	cfg->log_format = LOG_FORMAT_TEXT;
	v = pick(S_LOG_FORMAT, &f->l, el, ff, path, label, sizeof(label));
	if (v && log_format_parse(v, &cfg->log_format) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: unknown format '%s' (use text or json)", label, v);

	v = pick(S_HTTP_LISTEN, &f->l, el, ff, path, label, sizeof(label));
	if (v && strcmp(v, "off") != 0) {
		char host[256], why[256];
		unsigned port;
		rc = url_split_host_port(v, "127.0.0.1", host, sizeof(host), &port, why, sizeof(why));
		if (rc < 0)
			return errfmt(err, errlen, rc, "%s: %s", label, why);
		if (!(cfg->http_listen = strdup(v)))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	}

	return resolve_number(S_DRAIN_TIMEOUT, f, el, ff, path, 0, MAX_DRAIN_TIMEOUT, DEFAULT_DRAIN_TIMEOUT,
	                      &cfg->drain_timeout_s, err, errlen);
}

/* Build a complete config into cfg (zeroed first); on error cfg holds partial state to free. */
static int build(struct broker_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct flags f;
	struct layer el;
	struct file_layer file;
	char *env_copies[L_COUNT] = { NULL };
	const char *path;
	bool explicit;
	int rc, have_file = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = BROKER_LOG_INFO;
	cfg->drain_timeout_s = DEFAULT_DRAIN_TIMEOUT;
	memset(&file, 0, sizeof(file));

	rc = parse_flags(&f, argc, argv, err, errlen);
	if (rc < 0)
		return rc;
	cfg->check_config = f.check_config;
	cfg->show_version = f.show_version;
	cfg->show_help = f.show_help;
	/* --help and --version must work even when the config is broken. */
	if (f.show_help || f.show_version)
		return 0;

	rc = read_env(&el, env_copies, err, errlen);
	if (rc < 0)
		goto out;

	path = f.config ? f.config : env(CONFIG_ENV);
	explicit = path != NULL;
	if (!path)
		path = runtime_dir_config_default(DEFAULT_CONFIG_FILE);
	rc = read_file(path, explicit, &file, err, errlen);
	if (rc < 0)
		goto out;
	have_file = rc == 0;
	cfg->config_file_explicit = explicit;
	if (have_file && !(cfg->config_file = strdup(path))) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}

	/* A copy: --watch options are merged into it over the file's. */
	if (have_file && file.plugins && !(cfg->plugin_options = json_deep_copy(file.plugins))) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	rc = resolve(cfg, &f, &el, have_file ? &file : NULL, path, err, errlen);
	if (rc < 0)
		goto out;

	if (have_file) {
		/* Hand the parsed routes over instead of copying them. */
		cfg->routes = file.routes;
		cfg->n_routes = file.n_routes;
		file.routes = NULL;
		file.n_routes = 0;
	}
	rc = 0;
out:
	file_layer_free(&file);
	for (int i = 0; i < L_COUNT; i++)
		free(env_copies[i]);
	return rc;
}

int config_load(struct broker_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int rc = build(cfg, argc, argv, err, errlen);

	if (rc < 0)
		config_free(cfg);
	return rc;
}

int config_reload(struct broker_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct broker_config fresh;
	int rc;

	/*
	 * Flags and environment do not change under a running process, so
	 * rebuilding every layer re-reads exactly the file.  Building aside
	 * and swapping keeps the running config intact when the new file is
	 * broken.
	 */
	rc = build(&fresh, argc, argv, err, errlen);
	if (rc < 0) {
		config_free(&fresh);
		return rc;
	}
	config_free(cfg);
	*cfg = fresh;
	return 0;
}

void config_free(struct broker_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->config_file);
	free(cfg->runtime_dir);
	free(cfg->state_dir);
	for (size_t i = 0; i < cfg->n_plugin_dirs; i++)
		free(cfg->plugin_dirs[i]);
	for (size_t i = 0; i < cfg->n_link_listen; i++)
		free(cfg->link_listen[i]);
	for (size_t i = 0; i < cfg->n_link_connect; i++)
		free(cfg->link_connect[i]);
	free(cfg->link_secret);
	for (size_t i = 0; i < cfg->n_watch; i++)
		free(cfg->watch[i]);
	free(cfg->http_listen);
	for (size_t i = 0; i < cfg->n_routes; i++) {
		free(cfg->routes[i].name);
		free(cfg->routes[i].listen);
		free(cfg->routes[i].connect);
	}
	free(cfg->routes);
	json_decref(cfg->plugin_options);
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = BROKER_LOG_INFO;
	cfg->drain_timeout_s = DEFAULT_DRAIN_TIMEOUT;
	cfg->link_keepalive_s = DEFAULT_LINK_KEEPALIVE;
	cfg->link_timeout_s = DEFAULT_LINK_TIMEOUT;
	cfg->link_backoff_max_s = DEFAULT_LINK_BACKOFF_MAX;
}

/* ------------------------------------------------------------ help */

static void help_line(FILE *out, const char *flag, const char *metavar, const char *help,
                      const char *envname, const char *key, const char *def)
{
	char left[64];

	snprintf(left, sizeof(left), "--%s%s%s", flag, metavar ? " " : "", metavar ? metavar : "");
	fprintf(out, "  %-26s %s\n", left, help);
	if (envname || key || def) {
		fprintf(out, "  %-26s", "");
		if (envname)
			fprintf(out, " env %s", envname);
		if (key)
			fprintf(out, "%s file key \"%s\"", envname ? "," : "", key);
		if (def)
			fprintf(out, "%s default %s", envname || key ? ";" : "", def);
		fputc('\n', out);
	}
}

void config_print_help(FILE *out, const char *argv0)
{
	char *rt = config_default_runtime_dir(), *st = config_default_state_dir();
	char drain[32];

	snprintf(drain, sizeof(drain), "%d", DEFAULT_DRAIN_TIMEOUT);
	fprintf(out,
	        "Usage: %s [OPTION]...\n"
	        "Relay sockets and ports between a host and its guests; see brokerd(8).\n"
	        "\n"
	        "Each setting is taken from, highest first: the flag, the environment variable,\n"
	        "the key in the JSON config file, the built-in default.\n"
	        "\n",
	        argv0 ? argv0 : "brokerd");
	help_line(out, "config", "FILE", "JSON config file (see broker.conf(5)); absent default is fine",
	          CONFIG_ENV, NULL, runtime_dir_config_default(DEFAULT_CONFIG_FILE));
	help_line(out, settings[S_RUNTIME_DIR].flag, "DIR", settings[S_RUNTIME_DIR].help,
	          settings[S_RUNTIME_DIR].env, settings[S_RUNTIME_DIR].key, rt ? rt : "?");
	help_line(out, settings[S_STATE_DIR].flag, "DIR", settings[S_STATE_DIR].help,
	          settings[S_STATE_DIR].env, settings[S_STATE_DIR].key, st ? st : "?");
	help_line(out, lists[L_PLUGIN_DIRS].flag, "DIR", lists[L_PLUGIN_DIRS].help, lists[L_PLUGIN_DIRS].env,
	          lists[L_PLUGIN_DIRS].key, runtime_dir_plugin_default(BROKER_PLUGINDIR));
	help_line(out, settings[S_LOG_LEVEL].flag, "LEVEL", settings[S_LOG_LEVEL].help,
	          settings[S_LOG_LEVEL].env, settings[S_LOG_LEVEL].key, "info");
	help_line(out, settings[S_LOG_FORMAT].flag, "FORMAT", settings[S_LOG_FORMAT].help,
	          settings[S_LOG_FORMAT].env, settings[S_LOG_FORMAT].key, "text");
	help_line(out, settings[S_HTTP_LISTEN].flag, "ADDR:PORT", settings[S_HTTP_LISTEN].help,
	          settings[S_HTTP_LISTEN].env, settings[S_HTTP_LISTEN].key, "off");
	help_line(out, settings[S_DRAIN_TIMEOUT].flag, "SECONDS", settings[S_DRAIN_TIMEOUT].help,
	          settings[S_DRAIN_TIMEOUT].env, settings[S_DRAIN_TIMEOUT].key, drain);
	fprintf(out, "\nLink to a peer broker (see broker-link(7)):\n");
	for (int i = L_LINK_LISTEN; i <= L_LINK_CONNECT; i++)
		help_line(out, lists[i].flag, lists[i].metavar, lists[i].help, lists[i].env, lists[i].key, NULL);
	for (int i = S_LINK_SECRET; i <= S_PARENT_PID; i++) {
		char def[PATH_MAX + 32];
		const char *d = NULL;
		if (i == S_LINK_SECRET) {
			snprintf(def, sizeof(def), "%s" PLATFORM_DIR_SEP "link.secret", st ? st : "STATE_DIR");
			d = def;
		} else if (i == S_LINK_KEEPALIVE || i == S_LINK_TIMEOUT || i == S_LINK_BACKOFF_MAX) {
			snprintf(def, sizeof(def), "%d", i == S_LINK_KEEPALIVE ? DEFAULT_LINK_KEEPALIVE :
			         i == S_LINK_TIMEOUT ? DEFAULT_LINK_TIMEOUT : DEFAULT_LINK_BACKOFF_MAX);
			d = def;
		}
		help_line(out, settings[i].flag, settings[i].metavar, settings[i].help, settings[i].env,
		          settings[i].key, d);
	}
	fprintf(out, "\nPort forwarding (see brokerd(8) MAPPINGS):\n");
	help_line(out, lists[L_WATCH].flag, lists[L_WATCH].metavar, lists[L_WATCH].help, lists[L_WATCH].env,
	          lists[L_WATCH].key, NULL);
	help_line(out, settings[S_MAPPING_BIND].flag, settings[S_MAPPING_BIND].metavar, settings[S_MAPPING_BIND].help,
	          settings[S_MAPPING_BIND].env, settings[S_MAPPING_BIND].key, "loopback");
	help_line(out, settings[S_MAPPING_PRIVILEGED].flag, NULL, settings[S_MAPPING_PRIVILEGED].help,
	          settings[S_MAPPING_PRIVILEGED].env, settings[S_MAPPING_PRIVILEGED].key, "false");
	fputc('\n', out);
	help_line(out, "check-config", NULL, "validate flags, environment and config file, then exit",
	          NULL, NULL, NULL);
	help_line(out, "version", NULL, "print the version and exit", NULL, NULL, NULL);
	help_line(out, "help", NULL, "print this help and exit", NULL, NULL, NULL);
	fprintf(out,
	        "\n"
	        "The config file may also hold \"routes\": [{\"name\", \"listen\", \"connect\",\n"
	        "\"max_connections\"}] and \"plugins\": {\"NAME\": {\"option\": value}}.\n");
	free(rt);
	free(st);
}
