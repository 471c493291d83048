/* config.c - brokerd settings: flag > environment > JSON file > built-in default. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/config_internal.h"
#include "broker/errfmt.h"
#include "broker/forwarder_api.h"
#include "broker/peer_policy.h"
#include "broker/platform.h"
#include "broker/url.h"
#include "rpc/runtime_dir.h"

const struct setting_desc config_settings[S_COUNT] = {
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
	[S_FORWARDER_API] = { "forwarder-api", "BROKER_FORWARDER_API", "forwarder_api", "URL",
	                      "serve gvproxy's port-forwarder HTTP API on unix:///PATH (0600, our uid) or "
	                      "tcp://127.0.0.1:PORT" },
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
	[S_MAPPING_PORTS] = { "mapping-ports", "BROKER_MAPPING_PORTS", "mapping_ports", "RANGES",
	                      "serve the peer's ports (mappings, routes) only in these, e.g. 8000-8999,3000" },
	[S_PEER_MAX_ROUTES] = { "peer-max-routes", "BROKER_PEER_MAX_ROUTES", "peer_max_routes", "N",
	                        "routes one peer may have listening here" },
};

const struct list_desc config_lists[L_COUNT] = {
	[L_PLUGIN_DIRS] = { "plugin-dir", "BROKER_PLUGIN_DIR", "plugin_dirs", "DIR",
	                    "load plugins from DIR (repeatable; env: '" PLATFORM_PATH_LIST_SEP "'-separated)",
	                    PLATFORM_PATH_LIST_SEP },
	[L_LINK_LISTEN] = { "link-listen", "BROKER_LINK_LISTEN", "link_listen", "URL",
	                    "accept links from a peer broker on URL (repeatable)", NULL },
	[L_LINK_CONNECT] = { "link-connect", "BROKER_LINK_CONNECT", "link_connect", "URL",
	                     "link to a peer broker at URL, reconnecting with backoff (repeatable)", NULL },
	[L_WATCH] = { "watch", "BROKER_WATCH", "watch", "NAME[,KEY=VALUE...]",
	              "run watcher plugin NAME with these options (repeatable)", NULL },
	[L_PEER_ALLOW_CONNECT] = { "peer-allow-connect", "BROKER_PEER_ALLOW_CONNECT", "peer_allow_connect", "PATTERN",
	                           "the peer's streams may reach endpoints matching PATTERN (repeatable; env: one per line)",
	                           "\n" },
	[L_PEER_ALLOW_LISTEN] = { "peer-allow-listen", "BROKER_PEER_ALLOW_LISTEN", "peer_allow_listen", "PATTERN",
	                          "the peer may have this broker listen on endpoints matching PATTERN (repeatable)",
	                          "\n" },
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "http-listen", required_argument, NULL, OPT_HTTP_LISTEN },
	{ "forwarder-api", required_argument, NULL, OPT_FORWARDER_API },
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
	{ "peer-allow-connect", required_argument, NULL, OPT_PEER_ALLOW_CONNECT },
	{ "peer-allow-listen", required_argument, NULL, OPT_PEER_ALLOW_LISTEN },
	{ "peer-max-routes", required_argument, NULL, OPT_PEER_MAX_ROUTES },
	{ "mapping-ports", required_argument, NULL, OPT_MAPPING_PORTS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
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
int config_list_add(struct layer *l, int which, const char *v, const char *what, char *err, size_t errlen)
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
	const char *sep = config_lists[which].env_sep;

	if (!sep)
		return config_list_add(l, which, copy, config_lists[which].env, err, errlen);
	for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
		int rc = config_list_add(l, which, t, config_lists[which].env, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ flags */

/* The fixed options followed by one per limit (config_limits.c). */
static const struct option *all_options(void)
{
	static struct option opts[sizeof(long_options) / sizeof(long_options[0]) + CONFIG_MAX_LIMITS];
	size_t n = 0;

	if (opts[0].name)
		return opts;
	for (; long_options[n].name; n++)
		opts[n] = long_options[n];
	for (size_t i = 0; i < config_limit_count && i < CONFIG_MAX_LIMITS - 1; i++, n++) {
		opts[n].name = config_limit_descs[i].flag;
		opts[n].has_arg = required_argument;
		opts[n].flag = NULL;
		opts[n].val = OPT_LIMIT_BASE + (int)i;
	}
	return opts;
}

static int parse_flags(struct flags *f, int argc, char **argv, char *err, size_t errlen)
{
	const struct option *options = all_options();
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
	while ((c = getopt_long(argc, argv, "+:c:hV", options, &idx)) != -1) {
		switch (c) {
		case OPT_CONFIG: f->config = optarg; break;
		case OPT_RUNTIME_DIR: f->l.val[S_RUNTIME_DIR] = optarg; break;
		case OPT_STATE_DIR: f->l.val[S_STATE_DIR] = optarg; break;
		case OPT_LOG_LEVEL: f->l.val[S_LOG_LEVEL] = optarg; break;
		case OPT_LOG_FORMAT: f->l.val[S_LOG_FORMAT] = optarg; break;
		case OPT_HTTP_LISTEN: f->l.val[S_HTTP_LISTEN] = optarg; break;
		case OPT_FORWARDER_API: f->l.val[S_FORWARDER_API] = optarg; break;
		case OPT_DRAIN_TIMEOUT: f->l.val[S_DRAIN_TIMEOUT] = optarg; break;
		case OPT_LINK_SECRET: f->l.val[S_LINK_SECRET] = optarg; break;
		case OPT_LINK_KEEPALIVE: f->l.val[S_LINK_KEEPALIVE] = optarg; break;
		case OPT_LINK_TIMEOUT: f->l.val[S_LINK_TIMEOUT] = optarg; break;
		case OPT_LINK_BACKOFF_MAX: f->l.val[S_LINK_BACKOFF_MAX] = optarg; break;
		case OPT_LINK_STDIO: f->l.val[S_LINK_STDIO] = "true"; break;
		case OPT_PARENT_PID: f->l.val[S_PARENT_PID] = optarg; break;
		case OPT_MAPPING_BIND: f->l.val[S_MAPPING_BIND] = optarg; break;
		case OPT_MAPPING_PRIVILEGED: f->l.val[S_MAPPING_PRIVILEGED] = "true"; break;
		case OPT_MAPPING_PORTS: f->l.val[S_MAPPING_PORTS] = optarg; break;
		case OPT_PEER_MAX_ROUTES: f->l.val[S_PEER_MAX_ROUTES] = optarg; break;
		case OPT_PLUGIN_DIR:
		case OPT_LINK_LISTEN:
		case OPT_LINK_CONNECT:
		case OPT_WATCH:
		case OPT_PEER_ALLOW_CONNECT:
		case OPT_PEER_ALLOW_LISTEN: {
			int which = c == OPT_PLUGIN_DIR ? L_PLUGIN_DIRS : c == OPT_LINK_LISTEN ? L_LINK_LISTEN :
			            c == OPT_LINK_CONNECT ? L_LINK_CONNECT : c == OPT_WATCH ? L_WATCH :
			            c == OPT_PEER_ALLOW_CONNECT ? L_PEER_ALLOW_CONNECT : L_PEER_ALLOW_LISTEN;
			char what[64];
			snprintf(what, sizeof(what), "--%s", config_lists[which].flag);
			int rc = config_list_add(&f->l, which, optarg, what, err, errlen);
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
			if (c >= OPT_LIMIT_BASE && (size_t)(c - OPT_LIMIT_BASE) < config_limit_count) {
				f->l.limit[c - OPT_LIMIT_BASE] = optarg;
				break;
			}
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
		l->val[i] = env(config_settings[i].env);
	for (size_t i = 0; i < config_limit_count && i < CONFIG_MAX_LIMITS; i++)
		l->limit[i] = env(config_limit_descs[i].env);
	for (int i = 0; i < L_COUNT; i++) {
		v = env(config_lists[i].env);
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

/* ------------------------------------------------------------ resolve */

/* The highest layer that sets s, and a label naming it for error messages. */
static const char *pick(int s, const struct layer *fl, const struct layer *el, const struct layer *ff,
                        const char *path, char *label, size_t labellen)
{
	if (fl->val[s]) {
		snprintf(label, labellen, "--%s", config_settings[s].flag);
		return fl->val[s];
	}
	if (el->val[s]) {
		snprintf(label, labellen, "%s", config_settings[s].env);
		return el->val[s];
	}
	if (ff && ff->val[s]) {
		snprintf(label, labellen, "%s: %s", path, config_settings[s].key);
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
		json_t *opts, *given;

		if (!spec)
			return errfmt(err, errlen, -ENOMEM, "out of memory");
		if (!name || !*name) {
			free(spec);
			return errfmt(err, errlen, -EINVAL, "--watch: '%s' names no plugin (use NAME[,KEY=VALUE...])",
			              l->list[L_WATCH][i]);
		}
		if ((!cfg->plugin_options && !(cfg->plugin_options = json_object())) ||
		    (!cfg->watch_options && !(cfg->watch_options = json_object())))
			goto nomem;
		opts = json_object_get(cfg->plugin_options, name);
		if (!opts) {
			opts = json_object();
			if (!opts || json_object_set_new(cfg->plugin_options, name, opts) < 0)
				goto nomem;
		}
		given = json_object_get(cfg->watch_options, name);
		if (!given) {
			given = json_object();
			if (!given || json_object_set_new(cfg->watch_options, name, given) < 0)
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
			if (json_object_set_new(opts, kv, json_string(eq + 1)) < 0 ||
			    json_object_set_new(given, kv, json_string(eq + 1)) < 0)
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

/* --peer-allow-connect / --peer-allow-listen: checked here so a typo fails at start, naming its layer. */
static int resolve_patterns(struct broker_config *cfg, const struct flags *f, const struct layer *el,
                            const struct layer *ff, const char *path, char *err, size_t errlen)
{
	static const int which[2] = { L_PEER_ALLOW_CONNECT, L_PEER_ALLOW_LISTEN };
	char **dst[2] = { cfg->peer_allow_connect, cfg->peer_allow_listen };
	size_t *n[2] = { &cfg->n_peer_allow_connect, &cfg->n_peer_allow_listen };

	for (int k = 0; k < 2; k++) {
		const struct layer *l = pick_list(which[k], &f->l, el, ff);
		const struct list_desc *d = &config_lists[which[k]];
		char why[512];

		for (size_t i = 0; l && i < l->n[which[k]]; i++) {
			if (peer_policy_pattern_check(l->list[which[k]][i], why, sizeof(why)) < 0) {
				if (l == &f->l)
					return errfmt(err, errlen, -EINVAL, "--%s: %s", d->flag, why);
				if (l == el)
					return errfmt(err, errlen, -EINVAL, "%s: %s", d->env, why);
				return errfmt(err, errlen, -EINVAL, "%s: %s: %s", path, d->key, why);
			}
		}
		if (copy_list(l, which[k], dst[k], n[k], err, errlen) < 0)
			return -ENOMEM;
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
		              s == S_PARENT_PID ? "process id" : s == S_PEER_MAX_ROUTES ? "number" : "number of seconds",
		              min, max);
	return 0;
}

/* Every limit: the highest layer that sets it, else its default. */
static int resolve_limits(struct broker_config *cfg, const struct flags *f, const struct layer *el,
                          const struct layer *ff, const char *path, char *err, size_t errlen)
{
	config_limits_defaults(&cfg->limits);
	for (size_t i = 0; i < config_limit_count && i < CONFIG_MAX_LIMITS; i++) {
		const struct limit_desc *d = &config_limit_descs[i];
		char label[PATH_MAX + 64];
		const char *v = NULL;
		int rc;

		if (f->l.limit[i]) {
			snprintf(label, sizeof(label), "--%s", d->flag);
			v = f->l.limit[i];
		} else if (el->limit[i]) {
			snprintf(label, sizeof(label), "%s", d->env);
			v = el->limit[i];
		} else if (ff && ff->limit[i]) {
			snprintf(label, sizeof(label), "%s: %s", path, d->key);
			v = ff->limit[i];
		}
		if (v && (rc = config_limit_set(&cfg->limits, i, v, label, err, errlen)) < 0)
			return rc;
	}
	return 0;
}

/*
 * A directory or file setting as an absolute path, so it means the same
 * whatever the broker's working directory is later: relative values from
 * flags and the environment are taken from the working directory, relative
 * values from a config file from that file's directory.  malloc'd; NULL when
 * out of memory or the working directory cannot be read.
 */
static char *absolute_path(const char *v, const char *file_path)
{
	char cwd[PATH_MAX], *base, *out;
	size_t cut;

	/* "/x" counts as absolute on Windows too (rooted on the current drive). */
	if (platform_path_absolute(v) || platform_is_sep(v[0]))
		return strdup(v);
	while (v[0] == '.' && platform_is_sep(v[1]))
		v += 2;
	if (file_path) {
		base = absolute_path(file_path, NULL);
		if (!base)
			return NULL;
		for (cut = strlen(base); cut > 0 && !platform_is_sep(base[cut - 1]); cut--)
			;
		base[cut > 1 ? cut - 1 : cut] = '\0';   /* the file's directory ("/" stays "/") */
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		base = strdup(cwd);
		if (!base)
			return NULL;
	}
	out = v[0] ? platform_path_join(base, v) : strdup(base);
	free(base);
	return out;
}

/* v, from the file layer ff or not, as absolute_path says. */
static char *setting_path(const char *v, const struct layer *ff, int s, const char *path)
{
	return absolute_path(v, ff && v == ff->val[s] ? path : NULL);
}

static int resolve(struct broker_config *cfg, const struct flags *f, const struct layer *el,
                   const struct file_layer *file, const char *path, char *err, size_t errlen)
{
	const struct layer *ff = file ? &file->l : NULL;
	char label[PATH_MAX + 64];
	const char *v;
	int rc;

	/* Windows' runtime dir is a pipe name prefix, not a path: kept as given. */
	v = pick(S_RUNTIME_DIR, &f->l, el, ff, path, label, sizeof(label));
	if (!v)
		cfg->runtime_dir = config_default_runtime_dir();
	else if (ff && v == ff->val[S_RUNTIME_DIR] && runtime_dir_is_path())
		cfg->runtime_dir = setting_path(v, ff, S_RUNTIME_DIR, path);
	else
		cfg->runtime_dir = runtime_dir_resolve(v);
	v = pick(S_STATE_DIR, &f->l, el, ff, path, label, sizeof(label));
	cfg->state_dir = v ? setting_path(v, ff, S_STATE_DIR, path) : config_default_state_dir();
	if (!cfg->runtime_dir || !cfg->state_dir)
		return errfmt(err, errlen, -ENOMEM, "out of memory (or the working directory cannot be read)");

	const struct layer *dl = pick_list(L_PLUGIN_DIRS, &f->l, el, ff);
	if (dl) {
		for (size_t i = 0; i < dl->n[L_PLUGIN_DIRS]; i++)
			if (!(cfg->plugin_dirs[cfg->n_plugin_dirs++] =
			              absolute_path(dl->list[L_PLUGIN_DIRS][i], dl == ff ? path : NULL)))
				return errfmt(err, errlen, -ENOMEM, "out of memory (or the working directory cannot be read)");
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
	cfg->link_secret = v ? setting_path(v, ff, S_LINK_SECRET, path) : platform_path_join(cfg->state_dir, "link.secret");
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
	const struct layer *wl = pick_list(L_WATCH, &f->l, el, ff);
	if (wl) {
		if (wl == &f->l)
			snprintf(label, sizeof(label), "--%s", config_lists[L_WATCH].flag);
		else if (wl == el)
			snprintf(label, sizeof(label), "%s", config_lists[L_WATCH].env);
		else
			snprintf(label, sizeof(label), "%s: %s", path, config_lists[L_WATCH].key);
		if (!(cfg->watch_from = strdup(label)))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	if ((rc = resolve_watch(cfg, wl, err, errlen)) < 0)
		return rc;
	if ((rc = resolve_patterns(cfg, f, el, ff, path, err, errlen)) < 0)
		return rc;
	v = pick(S_MAPPING_PORTS, &f->l, el, ff, path, label, sizeof(label));
	if (v && *v) {
		struct peer_port_range r[PEER_POLICY_MAX_RANGES];
		size_t n;
		char why[256];
		if ((rc = peer_policy_parse_ports(v, r, PEER_POLICY_MAX_RANGES, &n, why, sizeof(why))) < 0)
			return errfmt(err, errlen, rc, "%s: %s", label, why);
		if (!(cfg->mapping_ports = strdup(v)))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	if ((rc = resolve_number(S_LINK_KEEPALIVE, f, el, ff, path, 1, 3600, DEFAULT_LINK_KEEPALIVE,
	                         &cfg->link_keepalive_s, err, errlen)) < 0 ||
	    (rc = resolve_number(S_LINK_TIMEOUT, f, el, ff, path, 1, 86400, DEFAULT_LINK_TIMEOUT,
	                         &cfg->link_timeout_s, err, errlen)) < 0 ||
	    (rc = resolve_number(S_LINK_BACKOFF_MAX, f, el, ff, path, 1, 3600, DEFAULT_LINK_BACKOFF_MAX,
	                         &cfg->link_backoff_max_s, err, errlen)) < 0 ||
	    (rc = resolve_number(S_PARENT_PID, f, el, ff, path, 1, INT_MAX, 0, &cfg->parent_pid, err, errlen)) < 0 ||
	    (rc = resolve_number(S_PEER_MAX_ROUTES, f, el, ff, path, 0, MAX_PEER_MAX_ROUTES, DEFAULT_PEER_MAX_ROUTES,
	                         &cfg->peer_max_routes, err, errlen)) < 0)
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

	v = pick(S_FORWARDER_API, &f->l, el, ff, path, label, sizeof(label));
	if (v && strcmp(v, "off") != 0) {
		char why[256];
		if ((rc = forwarder_api_url_check(v, why, sizeof(why))) < 0)
			return errfmt(err, errlen, rc, "%s: %s", label, why);
		if (!(cfg->forwarder_api = strdup(v)))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	}

	if ((rc = resolve_limits(cfg, f, el, ff, path, err, errlen)) < 0)
		return rc;
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
	config_limits_defaults(&cfg->limits);
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
	rc = config_read_file(path, explicit, &file, err, errlen);
	if (rc < 0)
		goto out;
	have_file = rc == 0;
	cfg->config_file_explicit = explicit;
	if (have_file && !(cfg->config_file = absolute_path(path, NULL))) {
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
	config_file_layer_free(&file);
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

int config_reload(struct broker_config *cfg, int argc, char **argv, char notes[][CONFIG_RESTART_NOTE],
                  size_t max_notes, size_t *n_notes, char *err, size_t errlen)
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
	char none[1][CONFIG_RESTART_NOTE];
	size_t n = config_keep_restart_settings(&fresh, cfg, notes ? notes : none, notes ? max_notes : 0);
	if (n_notes)
		*n_notes = n;
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
	for (size_t i = 0; i < cfg->n_peer_allow_connect; i++)
		free(cfg->peer_allow_connect[i]);
	for (size_t i = 0; i < cfg->n_peer_allow_listen; i++)
		free(cfg->peer_allow_listen[i]);
	free(cfg->mapping_ports);
	for (size_t i = 0; i < cfg->n_watch; i++)
		free(cfg->watch[i]);
	free(cfg->http_listen);
	free(cfg->forwarder_api);
	for (size_t i = 0; i < cfg->n_routes; i++) {
		free(cfg->routes[i].name);
		free(cfg->routes[i].listen);
		free(cfg->routes[i].connect);
	}
	free(cfg->routes);
	json_decref(cfg->plugin_options);
	json_decref(cfg->watch_options);
	free(cfg->watch_from);
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = BROKER_LOG_INFO;
	cfg->drain_timeout_s = DEFAULT_DRAIN_TIMEOUT;
	cfg->link_keepalive_s = DEFAULT_LINK_KEEPALIVE;
	cfg->link_timeout_s = DEFAULT_LINK_TIMEOUT;
	cfg->link_backoff_max_s = DEFAULT_LINK_BACKOFF_MAX;
	config_limits_defaults(&cfg->limits);
	cfg->peer_max_routes = DEFAULT_PEER_MAX_ROUTES;
}
