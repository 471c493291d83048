/* brokerctl - steer a running brokerd over its control RPC: argument parsing and dispatch. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"

#ifdef _WIN32
#define SETUP_DOCKER_LOCAL "npipe:////./pipe/docker_engine (docker_engine_NAME)"
#define SETUP_DOCKER_CONTEXT ""
#else
#define SETUP_DOCKER_LOCAL "RUNTIME_DIR/NAME.sock"
#define SETUP_DOCKER_CONTEXT ",\n                                 and a docker context named broker for it"
#endif

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: brokerctl [--runtime-dir DIR] [--json] [--timeout SECONDS] COMMAND\n"
	        "\n"
	        "commands:\n"
	        "  status                         show the broker's state\n"
	        "  route list                     list routes with their counters\n"
	        "  route add NAME --listen URL --connect URL [--max-connections N]\n"
	        "                                 add a route (stored; survives restarts)\n"
	        "  route rm NAME                  remove a route (OWNER/NAME: a peer's route held here)\n"
	        "  mapping list                   list published ports (found by watchers or added by hand)\n"
	        "  mapping add PORT --connect HOST:PORT [--connect HOST:PORT ...] [--proto tcp|udp]\n"
	        "              [--host-ip IP] [--owner ID] [--description TEXT]\n"
	        "                                 publish a port by hand (stored; survives restarts)\n"
	        "  mapping rm OWNER               remove a mapping added by hand\n"
	        "  plugin list                    list loaded plugins\n"
	        "  plugin help NAME               show a plugin's options\n"
	        "  plugin load PATH               load a plugin file\n"
	        "  plugin unload NAME             unload a plugin\n"
	        "  link status                    show the links to the peer broker\n"
	        "  setup docker [--socket PATH] [--name NAME] [--remove]\n"
	        "                                 make the docker CLI here reach the dockerd on the peer:\n"
	        "                                 a stored route from %s\n"
	        "                                 to peer:unix://PATH (default /var/run/docker.sock)%s;\n"
	        "                                 the peer broker needs --peer-allow-connect unix://PATH.\n"
	        "                                 --name NAME (default docker) for a second one; --remove\n"
	        "                                 undoes it\n"
	        "  watch [--count N] [TOPIC ...]  print the broker's events as they happen (TOPIC: a\n"
	        "                                 prefix such as mapping. link. route.; default all)\n"
	        "  reload                         re-read the config file and re-apply routes; names the\n"
	        "                                 changed settings that only a restart applies\n"
	        "  shutdown                       stop the broker (live streams drain first)\n"
	        "  autostart enable -- PROGRAM [ARGS...] | disable | status\n"
	        "                                 Windows: run brokerd at your logon (a Task Scheduler\n"
	        "                                 task named broker); elsewhere systemd's unit does it\n"
	        "  completion bash|zsh            print the shell completion script (make install puts it\n"
	        "                                 where bash-completion and zsh find it)\n"
	        "\n"
	        "options:\n"
	        "  --runtime-dir DIR   where brokerd's ctl.sock is (env BROKER_RUNTIME_DIR)\n"
	        "  --json              print JSON for scripts\n"
	        "  --timeout SECONDS   how long to wait to connect, and for an answer (default %d)\n"
	        "                      (watch: for the next event; default forever)\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n",
	        SETUP_DOCKER_LOCAL, SETUP_DOCKER_CONTEXT, DEFAULT_TIMEOUT_MS / 1000);
}

/* --opt VALUE or --opt=VALUE; returns the value or NULL (usage error printed). */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc) {
		die(EXIT_USAGE, "%s needs a value (see brokerctl --help)", name);
		return NULL;
	}
	return argv[++*i];
}

static bool is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);

	return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* Every command but watch (topics) and autostart (a command line) takes at most 4 words. */
static bool args_full(const struct opts *o)
{
	if (o->nargs == MAX_ARGS)
		return true;
	return o->nargs == 4 && strcmp(o->args[0], "watch") != 0 && strcmp(o->args[0], "autostart") != 0;
}

/* Options that only take a string: where each one's value goes. */
static const char **string_opt(struct opts *o, const char *a, const char **name)
{
	static const char *const names[] = { "--listen", "--proto", "--host-ip", "--owner", "--description",
		                             "--socket", "--name" };
	const char **slots[] = { &o->listen, &o->proto, &o->host_ip, &o->owner, &o->description, &o->socket,
		                 &o->name };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (is_opt(a, names[i])) {
			*name = names[i];
			return slots[i];
		}
	return NULL;
}

/* Returns -1 to continue, or an exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *v, *name, **slot;
	char *end;

	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->max_connections = -1;
	o->count = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("brokerctl %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--remove") == 0) {
			o->remove = true;
		} else if (is_opt(a, "--runtime-dir")) {
			if (!(v = opt_value(argc, argv, &i, "--runtime-dir")))
				return EXIT_USAGE;
			if (!v[0])
				return die(EXIT_USAGE, "--runtime-dir: empty directory name");
			o->runtime_dir = v;
		} else if (is_opt(a, "--timeout")) {
			double s;

			if (!(v = opt_value(argc, argv, &i, "--timeout")))
				return EXIT_USAGE;
			errno = 0;
			s = strtod(v, &end);
			if (errno || end == v || *end || !(s > 0) || s > 86400)
				return die(EXIT_USAGE, "--timeout: '%s' is not a number of seconds between 0 and 86400", v);
			o->timeout_ms = (int)(s * 1000 + 0.999);  /* round up: never wait less than asked */
			o->timeout_given = true;
		} else if ((slot = string_opt(o, a, &name))) {
			if (!(*slot = opt_value(argc, argv, &i, name)))
				return EXIT_USAGE;
		} else if (is_opt(a, "--connect")) {
			if (!(o->connect = opt_value(argc, argv, &i, "--connect")))
				return EXIT_USAGE;
			if (o->nconnects < MAX_CONNECT)
				o->connects[o->nconnects] = o->connect;
			o->nconnects++;
		} else if (is_opt(a, "--max-connections")) {
			if (!(v = opt_value(argc, argv, &i, "--max-connections")))
				return EXIT_USAGE;
			errno = 0;
			o->max_connections = strtol(v, &end, 10);
			if (errno || end == v || *end || o->max_connections < 0 || o->max_connections > INT_MAX)
				return die(EXIT_USAGE, "--max-connections: '%s' is not a count (0 means unlimited)", v);
		} else if (is_opt(a, "--count")) {
			if (!(v = opt_value(argc, argv, &i, "--count")))
				return EXIT_USAGE;
			errno = 0;
			o->count = strtol(v, &end, 10);
			if (errno || end == v || *end || o->count < 1 || o->count > INT_MAX)
				return die(EXIT_USAGE, "--count: '%s' is not a number of events (1 or more)", v);
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (args_full(o))
					return die(EXIT_USAGE, "too many arguments (see brokerctl --help)");
				o->args[o->nargs++] = argv[i];
			}
		} else if (a[0] == '-' && a[1]) {
			return die(EXIT_USAGE, "unknown option %s (see brokerctl --help)", a);
		} else {
			if (args_full(o))
				return die(EXIT_USAGE, "too many arguments (see brokerctl --help)");
			o->args[o->nargs++] = a;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ usage checks */

static const char *operand_name(const char *cmd)
{
	if (strncmp(cmd, "plugin load", 11) == 0)
		return "PATH";
	if (strncmp(cmd, "mapping add", 11) == 0)
		return "PORT";
	if (strncmp(cmd, "mapping rm", 10) == 0)
		return "OWNER";
	return "NAME";
}

/* Usage checks: only what the broker cannot know better (URLs are its business). */
static int check_usage(const struct opts *o, const char *cmd, int want_args)
{
	bool route_add = strcmp(cmd, "route add") == 0;
	bool mapping_add = strcmp(cmd, "mapping add") == 0;
	bool is_new = strncmp(cmd, "mapping ", 8) == 0 || strcmp(cmd, "watch") == 0;

	if (want_args >= 0 && o->nargs != want_args) {
		if (o->nargs < want_args)
			return die(EXIT_USAGE, "%s: missing %s (see brokerctl --help)", cmd, operand_name(cmd));
		return die(EXIT_USAGE, "%s: unexpected argument '%s' (see brokerctl --help)", cmd, o->args[want_args]);
	}
	if (!is_new && !route_add && (o->listen || o->connect || o->max_connections >= 0))
		return die(EXIT_USAGE, "%s: --listen, --connect and --max-connections only go with route add", cmd);
	if (route_add && (!o->listen || !o->connect))
		return die(EXIT_USAGE, "route add: needs --listen URL and --connect URL");
	if (is_new && (o->listen || o->max_connections >= 0))
		return die(EXIT_USAGE, "%s: --listen and --max-connections only go with route add", cmd);
	if (is_new && !mapping_add && o->connect)
		return die(EXIT_USAGE, "%s: --connect only goes with route add and mapping add", cmd);
	if (!mapping_add && (o->proto || o->host_ip || o->owner || o->description))
		return die(EXIT_USAGE, "%s: --proto, --host-ip, --owner and --description only go with mapping add", cmd);
	if (mapping_add && !o->connect)
		return die(EXIT_USAGE, "mapping add: needs --connect HOST:PORT (repeat it for more addresses)");
	if (mapping_add && o->nconnects > MAX_CONNECT)
		return die(EXIT_USAGE, "mapping add: at most %d --connect addresses (got %d)", MAX_CONNECT, o->nconnects);
	if (strcmp(cmd, "setup docker") != 0 && (o->socket || o->name || o->remove))
		return die(EXIT_USAGE, "%s: --socket, --name and --remove only go with setup docker", cmd);
	if (strcmp(cmd, "setup docker") == 0 && o->json)
		return die(EXIT_USAGE, "setup docker: --json is not supported (it prints what it did for a person)");
	if (strcmp(cmd, "watch") != 0 && o->count >= 0)
		return die(EXIT_USAGE, "%s: --count only goes with watch", cmd);
	return -1;
}

/* ------------------------------------------------------------------ main */

static const char *const route_subs[] = { "list", "add", "rm", NULL };
static const char *const plugin_subs[] = { "list", "help", "load", "unload", NULL };
static const char *const mapping_subs[] = { "list", "add", "rm", NULL };

/* The subcommand table and its "use ..." text for a command with subcommands, else NULL. */
static const char *const *subcommands(const char *cmd, const char **names)
{
	if (strcmp(cmd, "route") == 0) {
		*names = "list, add, rm";
		return route_subs;
	}
	if (strcmp(cmd, "plugin") == 0) {
		*names = "list, help, load, unload";
		return plugin_subs;
	}
	if (strcmp(cmd, "mapping") == 0) {
		*names = "list, add, rm";
		return mapping_subs;
	}
	return NULL;
}

static int dispatch(struct session *s, const char *cmd, const char *sub, const char *operand)
{
	if (strcmp(cmd, "status") == 0)
		return cmd_status(s);
	if (strcmp(cmd, "link") == 0)
		return cmd_link_status(s);
	if (strcmp(cmd, "setup") == 0)
		return cmd_setup_docker(s);
	if (strcmp(cmd, "reload") == 0)
		return cmd_reload(s);
	if (strcmp(cmd, "shutdown") == 0)
		return cmd_simple(s, "broker", "shutdown", NULL, "brokerd is shutting down");
	if (strcmp(cmd, "route") == 0) {
		if (strcmp(sub, "list") == 0)
			return cmd_route_list(s);
		if (strcmp(sub, "add") == 0)
			return cmd_route_add(s, operand);
		return cmd_route_rm(s, operand);
	}
	if (strcmp(cmd, "mapping") == 0) {
		if (strcmp(sub, "list") == 0)
			return cmd_mapping_list(s);
		if (strcmp(sub, "add") == 0)
			return cmd_mapping_add(s, (uint32_t)strtoul(operand, NULL, 10));
		return cmd_mapping_rm(s, operand);
	}
	if (strcmp(sub, "list") == 0)
		return cmd_plugin_list(s);
	if (strcmp(sub, "load") == 0)
		return cmd_plugin_load(s, operand);
	if (strcmp(sub, "help") == 0)
		return cmd_plugin_help(s, operand);
	return cmd_plugin_unload(s, operand);
}

/* PORT of mapping add: digits only; its range is the broker's to judge. */
static int check_port(const char *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || errno || *end || n > UINT32_MAX)
		return die(EXIT_USAGE, "mapping add: PORT '%s' is not a port number (1-65535)", v);
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct session s = { .o = &o };
	char what[256];
	const char *cmd, *sub, *names = NULL;
	const char *const *subs;
	int rc, want;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.nargs == 0)
		return die(EXIT_USAGE, "missing command (see brokerctl --help)");

	/* Work out the command and how many words it takes before connecting. */
	cmd = o.args[0];
	if (strcmp(cmd, "autostart") == 0)
		return cmd_autostart(&o);   /* the OS's business, not the broker's */
	if (strcmp(cmd, "completion") == 0)
		return cmd_completion(&o);
	sub = o.nargs > 1 ? o.args[1] : NULL;
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0 || strcmp(cmd, "shutdown") == 0) {
		snprintf(what, sizeof(what), "%s", cmd);
		want = 1;
	} else if (strcmp(cmd, "watch") == 0) {
		snprintf(what, sizeof(what), "watch");
		want = -1;   /* any number of topics */
	} else if (strcmp(cmd, "link") == 0) {
		if (!sub || strcmp(sub, "status") != 0)
			return die(EXIT_USAGE, "link: %s (use: link status)", sub ? "unknown subcommand" : "missing subcommand");
		snprintf(what, sizeof(what), "link status");
		want = 2;
	} else if (strcmp(cmd, "setup") == 0) {
		if (!sub || strcmp(sub, "docker") != 0)
			return die(EXIT_USAGE, "setup: %s (use: setup docker)", sub ? "unknown subcommand" : "missing subcommand");
		snprintf(what, sizeof(what), "setup docker");
		want = 2;
	} else if ((subs = subcommands(cmd, &names))) {
		bool found = false;

		if (!sub)
			return die(EXIT_USAGE, "%s: missing subcommand (%s)", cmd, names);
		if (subs != plugin_subs && strcmp(sub, "remove") == 0)
			sub = "rm";
		for (int i = 0; subs[i]; i++)
			found = found || strcmp(subs[i], sub) == 0;
		if (!found)
			return die(EXIT_USAGE, "%s: unknown subcommand '%s' (use %s)", cmd, sub, names);
		snprintf(what, sizeof(what), "%s %s", cmd, sub);
		want = strcmp(sub, "list") == 0 ? 2 : 3;
	} else {
		return die(EXIT_USAGE, "unknown command '%s' (see brokerctl --help)", cmd);
	}
	rc = check_usage(&o, what, want);
	if (rc >= 0)
		return rc;
	if (want == 3 && !o.args[2][0])
		return die(EXIT_USAGE, "%s: empty %s", what, operand_name(what));
	if (strcmp(what, "mapping add") == 0 && (rc = check_port(o.args[2])) >= 0)
		return rc;
	if (want == 3 && strcmp(what, "plugin load") != 0) {
		/* Say which thing failed: "route add docker: name taken". */
		size_t l = strlen(what);

		snprintf(what + l, sizeof(what) - l, " %s", o.args[2]);
	}
	s.what = what;

	if (want < 0)
		return cmd_watch(&o, o.args + 1, o.nargs - 1);
	if ((rc = session_open(&s)))
		return rc;
	rc = dispatch(&s, cmd, sub, want == 3 ? o.args[2] : NULL);
	session_close(&s);
	return rc;
}
