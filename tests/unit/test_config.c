/* test_config.c - flag > env > file > default precedence, validation messages, reload. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/platform.h"
#include "rpc/runtime_dir.h"
#include "tests/unit/tap.h"
#include "tests/unit/test_platform.h"

static char *tmpdir;
static char cfgfile[512];

static const char *const env_vars[] = {
	"BROKER_CONFIG",     "BROKER_RUNTIME_DIR", "BROKER_STATE_DIR",   "BROKER_PLUGIN_DIR",
	"LOG_LEVEL",         "BROKER_LOG_FORMAT",  "BROKER_HTTP_LISTEN", "BROKER_DRAIN_TIMEOUT",
	"BROKER_LINK_MAX_STREAMS", "BROKER_LINK_MAX_OUTPUT", "BROKER_HTTP_MAX_CONNECTIONS",
	"BROKER_PEER_ALLOW_CONNECT", "BROKER_PEER_ALLOW_LISTEN", "BROKER_PEER_MAX_ROUTES", "BROKER_MAPPING_PORTS",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		tp_unsetenv(env_vars[i]);
}

static void write_file(const char *text)
{
	FILE *f = fopen(cfgfile, "w");

	if (!f) {
		perror(cfgfile);
		exit(99);
	}
	fputs(text, f);
	fclose(f);
}

/* argv as getopt wants it: mutable and NULL-terminated.  Up to 15 args. */
struct args {
	char *v[16];
	int c;
};

static struct args mkargs(const char *first, ...)
{
	struct args a = { { "brokerd" }, 1 };
	va_list ap;

	va_start(ap, first);
	for (const char *s = first; s && a.c < 15; s = va_arg(ap, const char *))
		a.v[a.c++] = (char *)s;
	va_end(ap);
	a.v[a.c] = NULL;
	return a;
}

#define LOAD(cfg, err, ...)                                                    \
	({                                                                         \
		struct args a_ = mkargs(__VA_ARGS__, (const char *)NULL);             \
		config_load(cfg, a_.c, a_.v, err, sizeof(err));                       \
	})

static const char *full_file =
	"{\n"
	"  \"runtime_dir\": \"/file/rt\",\n"
	"  \"state_dir\": \"/file/st\",\n"
	"  \"plugin_dirs\": [\"/f1\", \"/f2\"],\n"
	"  \"log_level\": \"debug\",\n"
	"  \"log_format\": \"json\",\n"
	"  \"http_listen\": \"127.0.0.1:9000\",\n"
	"  \"drain_timeout\": 3,\n"
	"  \"routes\": [{\"name\": \"docker\", \"listen\": \"tcp://127.0.0.1:2375\",\n"
	"               \"connect\": \"unix:///var/run/docker.sock\", \"max_connections\": 8}],\n"
	"  \"plugins\": {\"tcp\": {\"nodelay\": true, \"backlog\": 128, \"name\": \"x\", \"ratio\": 0.5}}\n"
	"}\n";

static void test_defaults(void)
{
	struct broker_config cfg;
	char err[512];
	char *rt, *st;

	clear_env();
	/* An explicit config that sets nothing, so a stray system file cannot interfere. */
	write_file("{}\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "empty config file loads");
	rt = config_default_runtime_dir();
	st = config_default_state_dir();
	is_str(cfg.runtime_dir, rt, "runtime dir defaults");
	is_str(cfg.state_dir, st, "state dir defaults");
	if (tp_is_root()) {
		is_str(rt, "/run/broker", "root runtime default is /run/broker");
		is_str(st, "/var/lib/broker", "root state default is /var/lib/broker");
	} else {
		struct tp_user_dirs want;
		tp_user_dirs_fixture(&want);
		free(rt);
		free(st);
		rt = config_default_runtime_dir();
		st = config_default_state_dir();
		is_str(rt, want.runtime, "user runtime default (XDG_RUNTIME_DIR; Windows: the user's pipe prefix)");
		is_str(st, want.state, "user state default (XDG_STATE_HOME; Windows: LOCALAPPDATA)");
	}
	free(rt);
	free(st);
	is_int(cfg.n_plugin_dirs, 1, "one default plugin dir");
	is_str(cfg.plugin_dirs[0], runtime_dir_plugin_default(BROKER_PLUGINDIR),
	       "plugin dir defaults to BROKER_PLUGINDIR (Windows: plugins beside the .exe)");
	{
		/* The secret's default path is joined with this OS's separator. */
		char *want = platform_path_join(cfg.state_dir, "link.secret");
		is_str(cfg.link_secret, want, "link secret defaults to STATE_DIR" PLATFORM_DIR_SEP "link.secret");
		free(want);
	}
	is_int(cfg.log_level, BROKER_LOG_INFO, "log level defaults to info");
	is_int(cfg.log_format, LOG_FORMAT_TEXT, "log format defaults to text");
	ok(cfg.http_listen == NULL, "http off by default");
	is_int(cfg.drain_timeout_s, 10, "drain timeout defaults to 10 s");
	is_int(cfg.n_routes, 0, "no routes");
	ok(cfg.plugin_options == NULL, "no plugin options");
	ok(cfg.config_file_explicit, "--config is explicit");
	is_str(cfg.config_file, cfgfile, "config_file names the file read");
	config_free(&cfg);
}

static void test_precedence(void)
{
	struct broker_config cfg;
	char err[512];

	clear_env();
	write_file(full_file);

	/* File layer only. */
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "full file loads");
	is_str(cfg.runtime_dir, "/file/rt", "file: runtime_dir");
	is_str(cfg.state_dir, "/file/st", "file: state_dir");
	ok(cfg.n_plugin_dirs == 2 && strcmp(cfg.plugin_dirs[1], "/f2") == 0, "file: plugin_dirs");
	is_int(cfg.log_level, BROKER_LOG_DEBUG, "file: log_level");
	is_int(cfg.log_format, LOG_FORMAT_JSON, "file: log_format");
	is_str(cfg.http_listen, "127.0.0.1:9000", "file: http_listen");
	is_int(cfg.drain_timeout_s, 3, "file: drain_timeout");
	is_int(cfg.n_routes, 1, "file: one route");
	if (cfg.n_routes == 1) {
		is_str(cfg.routes[0].name, "docker", "route name");
		is_str(cfg.routes[0].connect, "unix:///var/run/docker.sock", "route connect");
		is_int(cfg.routes[0].max_connections, 8, "route max_connections");
	}
	json_t *tcp = json_object_get(cfg.plugin_options, "tcp");
	ok(json_is_true(json_object_get(tcp, "nodelay")), "plugin bool option kept");
	is_int(json_integer_value(json_object_get(tcp, "backlog")), 128, "plugin int option kept");
	is_str(json_string_value(json_object_get(tcp, "name")), "x", "plugin string option kept");
	config_free(&cfg);

	/* Env over file. */
	char dirs[256];
	snprintf(dirs, sizeof(dirs), "%s" PLATFORM_PATH_LIST_SEP "%s" PLATFORM_PATH_LIST_SEP "%s", tp_abs_dirs[0],
	         tp_abs_dirs[1], tp_abs_dirs[2]);
	tp_setenv("BROKER_RUNTIME_DIR", "/env/rt");
	tp_setenv("LOG_LEVEL", "warn");
	tp_setenv("BROKER_PLUGIN_DIR", dirs);
	tp_setenv("BROKER_DRAIN_TIMEOUT", "7");
	tp_setenv("BROKER_HTTP_LISTEN", ":9101");
	tp_setenv("BROKER_STATE_DIR", "");   /* empty counts as unset (Windows removes it: the same) */
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "file + env loads");
	is_str(cfg.runtime_dir, "/env/rt", "env beats file: runtime_dir");
	is_str(cfg.state_dir, "/file/st", "empty env var falls through to file");
	is_int(cfg.log_level, BROKER_LOG_WARN, "env beats file: LOG_LEVEL");
	ok(cfg.n_plugin_dirs == 3 && strcmp(cfg.plugin_dirs[0], tp_abs_dirs[0]) == 0 &&
	           strcmp(cfg.plugin_dirs[1], tp_abs_dirs[1]) == 0 && strcmp(cfg.plugin_dirs[2], tp_abs_dirs[2]) == 0,
	   "env beats file: plugin dirs %s split on '" PLATFORM_PATH_LIST_SEP "'", dirs);
	is_int(cfg.drain_timeout_s, 7, "env beats file: drain timeout");
	is_str(cfg.http_listen, ":9101", "env beats file: http_listen");
	is_int(cfg.log_format, LOG_FORMAT_JSON, "file still gives log_format");
	config_free(&cfg);

	/* Flags over env. */
	is_int(LOAD(&cfg, err, "--config", cfgfile, "--runtime-dir", "/flag/rt", "--log-level", "error",
	            "--plugin-dir", "/p1", "--plugin-dir", "/p2", "--drain-timeout", "0", "--http-listen", "off"),
	       0, "file + env + flags loads");
	is_str(cfg.runtime_dir, "/flag/rt", "flag beats env: runtime_dir");
	is_int(cfg.log_level, BROKER_LOG_ERROR, "flag beats env: log level");
	ok(cfg.n_plugin_dirs == 2 && strcmp(cfg.plugin_dirs[0], "/p1") == 0 && strcmp(cfg.plugin_dirs[1], "/p2") == 0,
	   "--plugin-dir repeatable, beats env");
	is_int(cfg.drain_timeout_s, 0, "flag beats env: drain timeout 0");
	ok(cfg.http_listen == NULL, "--http-listen off turns the server off");
	is_str(cfg.state_dir, "/file/st", "unflagged setting still from file");
	config_free(&cfg);

	/* BROKER_CONFIG names the file when --config is absent. */
	clear_env();
	tp_setenv("BROKER_CONFIG", cfgfile);
	is_int(LOAD(&cfg, err, "--check-config"), 0, "BROKER_CONFIG is read");
	is_str(cfg.state_dir, "/file/st", "file from BROKER_CONFIG applied");
	ok(cfg.check_config, "--check-config noted");
	ok(cfg.config_file_explicit, "BROKER_CONFIG counts as explicit");
	config_free(&cfg);
	clear_env();
}

/* The reason from the last bad_file(), for checks beyond a substring. */
static char last_err[512];

/* Load with the given file text and flags; expect failure whose reason contains want. */
static void bad_file(const char *text, const char *want, const char *what)
{
	struct broker_config cfg;
	char err[512] = "";
	int rc;

	write_file(text);
	rc = LOAD(&cfg, err, "--config", cfgfile);
	ok(rc < 0, "refused: %s", what);
	like(err, want, "reason for %s", what);
	like(err, cfgfile, "reason names the file (%s)", what);
	if (rc == 0)
		config_free(&cfg);
	snprintf(last_err, sizeof(last_err), "%s", err);
}

static void test_bad_values(void)
{
	struct broker_config cfg;
	char err[512];

	clear_env();
	write_file("{}\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile, "--log-level", "loud"), -EINVAL, "bad --log-level refused");
	is_str(err, "--log-level: unknown level 'loud' (use error, warn, info, debug, trace)",
	       "bad flag level message");
	tp_setenv("LOG_LEVEL", "loud");
	ok(LOAD(&cfg, err, "--config", cfgfile) < 0, "bad LOG_LEVEL refused");
	like(err, "LOG_LEVEL: unknown level 'loud'", "bad env names the variable");
	is_int(LOAD(&cfg, err, "--config", cfgfile, "--log-level", "info"), 0, "flag overrides a bad env value");
	config_free(&cfg);
	clear_env();

	ok(LOAD(&cfg, err, "--config", cfgfile, "--log-format", "xml") < 0, "bad --log-format refused");
	like(err, "--log-format: unknown format 'xml'", "bad format named");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--drain-timeout", "soon") < 0, "bad --drain-timeout refused");
	like(err, "--drain-timeout: 'soon' is not a number of seconds", "bad drain named");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--drain-timeout", "-1") < 0, "negative drain refused");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--http-listen", "localhost") < 0, "http listen without port refused");
	like(err, "--http-listen: localhost: missing port", "http listen reason");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--http-listen", "1.2.3.4:99999") < 0, "http port out of range refused");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--bogus") < 0, "unknown flag refused");
	is_str(err, "unknown option '--bogus' (see --help)", "unknown flag named");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--state-dir") < 0, "missing flag value refused");
	is_str(err, "--state-dir: missing value (see --help)", "missing value named");
	ok(LOAD(&cfg, err, "--config", cfgfile, "extra") < 0, "positional argument refused");
	like(err, "unexpected argument 'extra'", "positional named");

	char missing[300];
	snprintf(missing, sizeof(missing), "%s" PLATFORM_DIR_SEP "nope.json", tmpdir);
	ok(LOAD(&cfg, err, "--config", missing) < 0, "explicit missing config refused");
	like(err, missing, "missing config named");
	like(err, "No such file", "missing config cause");

	bad_file("{\n  \"state_dir\": \"/x\",\n  \"log_level\" \"debug\"\n}\n", ":3:", "syntax error gives line 3");
	{
		/* jansson's column is where the bad token ends; just check FILE:LINE:COLUMN: is there. */
		char *p = strstr(last_err, ".json:3:");
		int col = 0;
		ok(p && sscanf(p, ".json:3:%d:", &col) == 1 && col > 0, "syntax error gives a column (%d)", col);
	}
	bad_file("{\"state_dir\": \"/x\", \"colour\": \"blue\"}", "unknown key \"colour\"", "unknown key");
	bad_file("{\"state_dir\": 5}", "state_dir: must be a string, not an integer", "wrong type");
	bad_file("[1]", "top level must be a JSON object", "array at top");
	bad_file("{\"a\": 1, \"a\": 2}", "duplicate", "duplicate key");
	bad_file("{\"log_level\": \"loud\"}", ": log_level: unknown level 'loud'", "bad file level");
	bad_file("{\"drain_timeout\": \"5\"}", "drain_timeout: must be an integer", "drain as string");
	bad_file("{\"plugin_dirs\": \"/x\"}", "plugin_dirs: must be an array", "plugin_dirs not array");
	bad_file("{\"routes\": {}}", "routes: must be an array", "routes not array");
	bad_file("{\"routes\": [{\"name\": \"a\", \"listen\": \"unix:///a\"}]}", "routes[0]: missing \"connect\"",
	         "route without connect");
	bad_file("{\"routes\": [{\"name\": \"a\", \"listen\": \"/a\", \"connect\": \"unix:///b\"}]}",
	         "routes[0].listen: /a: missing scheme", "route with bad URL");
	bad_file("{\"routes\": [{\"name\": \"a\", \"listen\": \"unix:///a\", \"connect\": \"unix:///b\", \"limit\": 1}]}",
	         "routes[0]: unknown key \"limit\"", "route with unknown key");
	bad_file("{\"routes\": [{\"name\": \"a\", \"listen\": \"unix:///a\", \"connect\": \"unix:///b\", "
	         "\"max_connections\": -1}]}",
	         "routes[0].max_connections: must be an integer >= 0", "negative max_connections");
	bad_file("{\"routes\": [{\"name\": \"a\", \"listen\": \"unix:///a\", \"connect\": \"unix:///b\"},"
	         " {\"name\": \"a\", \"listen\": \"unix:///c\", \"connect\": \"unix:///d\"}]}",
	         "routes[1]: name \"a\" already used by routes[0]", "duplicate route name");
	bad_file("{\"plugins\": {\"tcp\": {\"deep\": {\"x\": 1}}}}",
	         "plugins.tcp.deep: must be a string, number or boolean, not an object", "nested plugin option");
	bad_file("{\"plugins\": {\"tcp\": 1}}", "plugins.tcp: must be an object", "plugin options not object");

	/* --help and --version work even with a broken config. */
	write_file("{ broken");
	is_int(LOAD(&cfg, err, "--config", cfgfile, "--help"), 0, "--help ignores a broken config");
	ok(cfg.show_help, "show_help set");
	config_free(&cfg);
	is_int(LOAD(&cfg, err, "--config", cfgfile, "-V"), 0, "-V ignores a broken config");
	ok(cfg.show_version, "show_version set");
	config_free(&cfg);
}

static void test_reload(void)
{
	struct broker_config cfg;
	char err[512];
	struct args a = mkargs("--config", cfgfile, "--log-level", "error", (const char *)NULL);

	clear_env();
	write_file("{\"state_dir\": \"/one\", \"log_level\": \"debug\", \"routes\": []}");
	is_int(config_load(&cfg, a.c, a.v, err, sizeof(err)), 0, "load before reload");
	is_str(cfg.state_dir, "/one", "state dir from file");

	write_file("{\"state_dir\": \"/two\", \"log_level\": \"trace\", \"drain_timeout\": 2,"
	           " \"routes\": [{\"name\": \"r\", \"listen\": \"unix:///r\", \"connect\": \"tcp://127.0.0.1:1\"}]}");
	char notes[CONFIG_RESTART_MAX][CONFIG_RESTART_NOTE];
	size_t n_notes = 99;
	is_int(config_reload(&cfg, a.c, a.v, notes, CONFIG_RESTART_MAX, &n_notes, err, sizeof(err)), 0, "reload");
	/* state_dir (and link_secret, which defaults into it) need a restart: kept, and named. */
	is_str(cfg.state_dir, "/one", "reload keeps the state dir in effect (it needs a restart)");
	is_int((int)n_notes, 2, "two settings named as needing a restart (state_dir, and link_secret in it)");
	is_str(n_notes ? notes[0] : "", "state_dir: needs a restart; /one stays in effect (configured now: /two)",
	       "the note names the setting, the value in effect and the configured one");
	is_int(cfg.drain_timeout_s, 2, "reload picks up a newly set key");
	is_int(cfg.log_level, BROKER_LOG_ERROR, "flag keeps precedence over the reloaded file");
	is_int(cfg.n_routes, 1, "reload picks up routes");

	write_file("{\"state_dir\": ");
	ok(config_reload(&cfg, a.c, a.v, NULL, 0, NULL, err, sizeof(err)) < 0, "reload of a broken file fails");
	like(err, cfgfile, "reload error names the file");
	is_str(cfg.state_dir, "/one", "failed reload keeps the running config");
	is_int(cfg.n_routes, 1, "failed reload keeps the routes");
	config_free(&cfg);
}

/* The whole of a small file, malloc'd (NULL when unreadable). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
	if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* The caps of config_limits.c: defaults, each layer, sizes with units, range errors. */
static void test_limits(void)
{
	struct broker_config cfg;
	char err[512], text[32];

	clear_env();
	write_file("{}\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "limits: empty file loads");
	is_int(cfg.limits.link_handshakes, 16, "link_max_handshakes defaults to 16");
	is_int(cfg.limits.link_streams, 1024, "link_max_streams defaults to 1024");
	is_int(cfg.limits.link_pending_connects, 256, "link_max_pending_connects defaults to 256");
	ok(cfg.limits.link_output == 32u * 1024 * 1024, "link_max_output defaults to 32 MiB");
	is_int(cfg.limits.link_rpc_timeout_s, 30, "link_rpc_timeout defaults to 30 s");
	is_int(cfg.limits.mapping_per_peer, 1024, "mapping_max_per_peer defaults to 1024");
	is_int(cfg.limits.mapping_sync_entries, 16384, "mapping_max_sync_entries defaults to 16384");
	is_int(cfg.limits.http_connections, 64, "http_max_connections defaults to 64");
	ok(cfg.limits.http_header_size == 8192, "http_max_header_size defaults to 8K");
	ok(cfg.limits.http_body_size == 4096, "http_max_body_size defaults to 4K");
	config_free(&cfg);

	write_file("{\"link_max_streams\": 100, \"link_max_output\": \"2M\", \"http_max_connections\": 5,\n"
	           " \"mapping_max_per_peer\": 0}\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "limits from the file load");
	is_int(cfg.limits.link_streams, 100, "file: link_max_streams");
	ok(cfg.limits.link_output == 2u * 1024 * 1024, "file: a size as \"2M\"");
	is_int(cfg.limits.mapping_per_peer, 0, "file: mapping_max_per_peer 0 (accept none)");
	config_free(&cfg);

	tp_setenv("BROKER_LINK_MAX_STREAMS", "200");
	tp_setenv("BROKER_LINK_MAX_OUTPUT", "4194304");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "limits from env load");
	is_int(cfg.limits.link_streams, 200, "env beats the file");
	ok(cfg.limits.link_output == 4u * 1024 * 1024, "env: a size in bytes");
	is_int(cfg.limits.http_connections, 5, "the file still sets what env does not");
	config_free(&cfg);
	is_int(LOAD(&cfg, err, "--config", cfgfile, "--link-max-streams", "300", "--link-max-output", "1G"), 0,
	       "limits from flags load");
	is_int(cfg.limits.link_streams, 300, "flag beats env");
	ok(cfg.limits.link_output == 1024u * 1024 * 1024, "flag: a size in G");
	config_limit_text(&cfg.limits, 3, text, sizeof(text));
	is_str(text, "1G", "a size prints with its unit");
	config_free(&cfg);
	clear_env();

	ok(LOAD(&cfg, err, "--config", cfgfile, "--link-max-output", "100K") < 0, "a size below the minimum fails");
	is_str(err, "--link-max-output: '100K' is not a size (bytes, or with K, M, G) in 1M..4G",
	       "the error names the flag, the value and the range");
	config_free(&cfg);
	ok(LOAD(&cfg, err, "--config", cfgfile, "--link-max-streams", "0") < 0, "a count below the minimum fails");
	is_str(err, "--link-max-streams: '0' is not a count in 1..1000000", "count range in the error");
	config_free(&cfg);
	ok(LOAD(&cfg, err, "--config", cfgfile, "--link-rpc-timeout", "3x") < 0, "junk after a number fails");
	is_str(err, "--link-rpc-timeout: '3x' is not a number of seconds in 1..86400", "seconds range in the error");
	config_free(&cfg);
	tp_setenv("BROKER_HTTP_MAX_CONNECTIONS", "-1");
	ok(LOAD(&cfg, err, "--config", cfgfile) < 0, "a negative env value fails");
	is_str(err, "BROKER_HTTP_MAX_CONNECTIONS: '-1' is not a count in 1..100000", "the error names the variable");
	config_free(&cfg);
	clear_env();
	write_file("{\"link_max_streams\": \"many\"}\n");
	ok(LOAD(&cfg, err, "--config", cfgfile) < 0, "a string count in the file fails");
	ok(strstr(err, "link_max_streams: must be an integer, not a string") != NULL, "file type error: %s", err);
	config_free(&cfg);
	write_file("{\"link_max_output\": 1024}\n");
	ok(LOAD(&cfg, err, "--config", cfgfile) < 0, "a file size below the minimum fails");
	ok(strstr(err, "link_max_output: '1024' is not a size") != NULL, "file range error: %s", err);
	config_free(&cfg);
}

/* --peer-allow-connect, --peer-allow-listen, --peer-max-routes, --mapping-ports: every layer and its errors. */
static void test_peer_settings(void)
{
	struct broker_config cfg;
	char err[512];

	clear_env();
	write_file("{}\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "no peer settings: loads");
	ok(cfg.n_peer_allow_connect == 0 && cfg.n_peer_allow_listen == 0, "the peer is allowed nothing by default");
	ok(cfg.peer_max_routes == 64 && cfg.mapping_ports == NULL, "64 routes per peer, any port, by default");
	config_free(&cfg);

	is_int(LOAD(&cfg, err, "--config", cfgfile, "--peer-allow-connect", "unix:///var/run/docker.sock",
	            "--peer-allow-connect", "tcp://127.0.0.1:*", "--peer-allow-listen", "*", "--peer-max-routes", "3",
	            "--mapping-ports", "8000-8999,3000"),
	       0, "peer settings from flags");
	ok(cfg.n_peer_allow_connect == 2 && !strcmp(cfg.peer_allow_connect[1], "tcp://127.0.0.1:*") &&
	       cfg.n_peer_allow_listen == 1 && cfg.peer_max_routes == 3 && !strcmp(cfg.mapping_ports, "8000-8999,3000"),
	   "flags: two connect patterns, one listen pattern, the cap, the ranges");
	config_free(&cfg);

	tp_setenv("BROKER_PEER_ALLOW_CONNECT", "unix:///a.sock\nexec:docker system dial-stdio\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "connect patterns from the environment");
	ok(cfg.n_peer_allow_connect == 2 && !strcmp(cfg.peer_allow_connect[1], "exec:docker system dial-stdio"),
	   "the variable holds one pattern per line, spaces kept");
	config_free(&cfg);
	is_int(LOAD(&cfg, err, "--config", cfgfile, "--peer-allow-connect", "tcp://h:1"), 0, "a flag over the variable");
	ok(cfg.n_peer_allow_connect == 1, "the flag's list replaces the variable's");
	config_free(&cfg);
	clear_env();

	write_file("{\"peer_allow_listen\": [\"tcp://127.0.0.1:*\"], \"peer_max_routes\": 5, "
	           "\"mapping_ports\": \"2000-2999\"}\n");
	is_int(LOAD(&cfg, err, "--config", cfgfile), 0, "peer settings from the file");
	ok(cfg.n_peer_allow_listen == 1 && cfg.peer_max_routes == 5 && !strcmp(cfg.mapping_ports, "2000-2999"),
	   "file: listen pattern, cap and ranges");
	config_free(&cfg);

	write_file("{}\n");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--peer-allow-connect", "127.0.0.1:80") < 0, "a pattern without scheme");
	like(err, "--peer-allow-connect: pattern 127.0.0.1:80: ", "names the flag and the pattern");
	tp_setenv("BROKER_PEER_ALLOW_LISTEN", "peer:tcp://x:1");
	ok(LOAD(&cfg, err, "--config", cfgfile) < 0, "a peer: pattern in the environment refused");
	like(err, "BROKER_PEER_ALLOW_LISTEN: pattern peer:tcp://x:1", "names the variable");
	clear_env();
	bad_file("{\"peer_allow_connect\": [\"\"]}", "peer_allow_connect[0]: must be a non-empty string",
	         "empty pattern in the file");
	bad_file("{\"peer_allow_connect\": [\"nope\"]}", "peer_allow_connect: pattern nope", "bad file pattern");
	write_file("{}\n");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--mapping-ports", "9-1") < 0, "a backwards port range");
	like(err, "--mapping-ports: '9-1'", "names the flag and the text");
	ok(LOAD(&cfg, err, "--config", cfgfile, "--peer-max-routes", "lots") < 0, "a cap that is not a number");
	like(err, "--peer-max-routes: 'lots' is not a number in 0..4096", "says the range");
}

static void test_help(void)
{
	char *text = NULL;
	char path[600];
	FILE *f;
	const char *const want[] = {
		"--config",        "BROKER_CONFIG",       "--runtime-dir",  "BROKER_RUNTIME_DIR", "--state-dir",
		"BROKER_STATE_DIR", "--plugin-dir",       "BROKER_PLUGIN_DIR", "--log-level",     "LOG_LEVEL",
		"--log-format",    "BROKER_LOG_FORMAT",   "--http-listen",  "BROKER_HTTP_LISTEN", "--drain-timeout",
		"BROKER_DRAIN_TIMEOUT", "--check-config", "--version",      "--help",
		"--peer-allow-connect", "BROKER_PEER_ALLOW_CONNECT", "--peer-allow-listen", "BROKER_PEER_ALLOW_LISTEN",
		"--peer-max-routes", "default 64", "--mapping-ports", "BROKER_MAPPING_PORTS",
		runtime_dir_plugin_default(BROKER_PLUGINDIR), "default info", "default 10",
		"'" PLATFORM_PATH_LIST_SEP "'-separated",
		"--link-max-handshakes", "BROKER_LINK_MAX_STREAMS", "--link-max-output", "default 32M",
		"--mapping-max-per-peer", "--mapping-max-sync-entries", "--http-max-header-size", "default 8K",
		"--link-rpc-timeout", "--http-max-connections", "--http-max-body-size", "--link-max-pending-connects",
	};

	/* A file rather than open_memstream, which Windows lacks. */
	snprintf(path, sizeof(path), "%s" PLATFORM_DIR_SEP "help.txt", tmpdir);
	f = fopen(path, "w");
	if (f) {
		config_print_help(f, "brokerd");
		fclose(f);
		text = slurp(path);
	}
	remove(path);
	ok(text != NULL, "--help text written");
	if (!text)
		return;
	int missing = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!strstr(text, want[i])) {
			diag("help lacks '%s'", want[i]);
			missing++;
		}
	}
	is_int(missing, 0, "--help lists every option, env var, default and the plugin dir separator");
	free(text);
}

int main(void)
{
	plan(200);
	tmpdir = tp_mkdtemp("broker-test-config");
	if (!tmpdir) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(cfgfile, sizeof(cfgfile), "%s" PLATFORM_DIR_SEP "brokerd.json", tmpdir);
	test_defaults();
	test_precedence();
	test_bad_values();
	test_reload();
	test_limits();
	test_peer_settings();
	test_help();
	tp_rm_rf(tmpdir);
	free(tmpdir);
	return done_testing();
}
