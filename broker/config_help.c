/* config_help.c - the text of brokerd --help. */
#include <config.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker/config_internal.h"
#include "broker/platform.h"
#include "rpc/runtime_dir.h"

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
	help_line(out, config_settings[S_RUNTIME_DIR].flag, "DIR", config_settings[S_RUNTIME_DIR].help,
	          config_settings[S_RUNTIME_DIR].env, config_settings[S_RUNTIME_DIR].key, rt ? rt : "?");
	help_line(out, config_settings[S_STATE_DIR].flag, "DIR", config_settings[S_STATE_DIR].help,
	          config_settings[S_STATE_DIR].env, config_settings[S_STATE_DIR].key, st ? st : "?");
	help_line(out, config_lists[L_PLUGIN_DIRS].flag, "DIR", config_lists[L_PLUGIN_DIRS].help, config_lists[L_PLUGIN_DIRS].env,
	          config_lists[L_PLUGIN_DIRS].key, runtime_dir_plugin_default(BROKER_PLUGINDIR));
	help_line(out, config_settings[S_LOG_LEVEL].flag, "LEVEL", config_settings[S_LOG_LEVEL].help,
	          config_settings[S_LOG_LEVEL].env, config_settings[S_LOG_LEVEL].key, "info");
	help_line(out, config_settings[S_LOG_FORMAT].flag, "FORMAT", config_settings[S_LOG_FORMAT].help,
	          config_settings[S_LOG_FORMAT].env, config_settings[S_LOG_FORMAT].key, "text");
	help_line(out, config_settings[S_HTTP_LISTEN].flag, "ADDR:PORT", config_settings[S_HTTP_LISTEN].help,
	          config_settings[S_HTTP_LISTEN].env, config_settings[S_HTTP_LISTEN].key, "off");
	help_line(out, config_settings[S_FORWARDER_API].flag, "URL", config_settings[S_FORWARDER_API].help,
	          config_settings[S_FORWARDER_API].env, config_settings[S_FORWARDER_API].key, "off");
	help_line(out, config_settings[S_DRAIN_TIMEOUT].flag, "SECONDS", config_settings[S_DRAIN_TIMEOUT].help,
	          config_settings[S_DRAIN_TIMEOUT].env, config_settings[S_DRAIN_TIMEOUT].key, drain);
	fprintf(out, "\nLink to a peer broker (see broker-link(7)):\n");
	for (int i = L_LINK_LISTEN; i <= L_LINK_CONNECT; i++)
		help_line(out, config_lists[i].flag, config_lists[i].metavar, config_lists[i].help, config_lists[i].env, config_lists[i].key, NULL);
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
		help_line(out, config_settings[i].flag, config_settings[i].metavar, config_settings[i].help, config_settings[i].env,
		          config_settings[i].key, d);
	}
	fprintf(out, "\nWhat the peer may do here (see brokerd(8) SECURITY; patterns: \"*\" or a URL with '*'):\n");
	for (int i = L_PEER_ALLOW_CONNECT; i <= L_PEER_ALLOW_LISTEN; i++)
		help_line(out, config_lists[i].flag, config_lists[i].metavar, config_lists[i].help, config_lists[i].env,
		          config_lists[i].key, "none");
	{
		char def[32];
		snprintf(def, sizeof(def), "%d", DEFAULT_PEER_MAX_ROUTES);
		help_line(out, config_settings[S_PEER_MAX_ROUTES].flag, config_settings[S_PEER_MAX_ROUTES].metavar,
		          config_settings[S_PEER_MAX_ROUTES].help, config_settings[S_PEER_MAX_ROUTES].env,
		          config_settings[S_PEER_MAX_ROUTES].key, def);
	}
	fprintf(out, "\nPort forwarding (see brokerd(8) MAPPINGS):\n");
	help_line(out, config_lists[L_WATCH].flag, config_lists[L_WATCH].metavar, config_lists[L_WATCH].help, config_lists[L_WATCH].env,
	          config_lists[L_WATCH].key, NULL);
	help_line(out, config_settings[S_MAPPING_BIND].flag, config_settings[S_MAPPING_BIND].metavar, config_settings[S_MAPPING_BIND].help,
	          config_settings[S_MAPPING_BIND].env, config_settings[S_MAPPING_BIND].key, "loopback");
	help_line(out, config_settings[S_MAPPING_PRIVILEGED].flag, NULL, config_settings[S_MAPPING_PRIVILEGED].help,
	          config_settings[S_MAPPING_PRIVILEGED].env, config_settings[S_MAPPING_PRIVILEGED].key, "false");
	help_line(out, config_settings[S_MAPPING_PORTS].flag, config_settings[S_MAPPING_PORTS].metavar,
	          config_settings[S_MAPPING_PORTS].help, config_settings[S_MAPPING_PORTS].env,
	          config_settings[S_MAPPING_PORTS].key, "all");
	fprintf(out, "\nLimits against hostile peers and clients (see brokerd(8) LIMITS):\n");
	config_limits_help(out, help_line);
	fputc('\n', out);
	help_line(out, "check-config", NULL,
	          "check flags, environment, config file, plugin options and names; report every problem, then exit",
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
