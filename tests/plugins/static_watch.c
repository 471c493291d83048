/* static_watch.c - a test watcher: reports the mappings listed in a JSON file
 * and reports them again (as a full resync) on every reload.  Used by the
 * mapping tests and the mapping benchmark to drive the core without a
 * container engine.
 *
 *   brokerd --watch static_watch,file=/path/ports.json
 *   (static_yield: the same, yielding ports to other watchers like procnet)
 *   ports.json: {"OWNER": {"description": "web",
 *                          "ports": [{"proto": "tcp", "host_ip": "0.0.0.0",
 *                                     "host_port": 8080, "connect": ["127.0.0.1:80"]}]}}
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "broker/plugin.h"

static const struct broker_host *host;

struct state {
	struct broker_plugin_handle *h;
};

static int report(struct state *st, char *err, size_t errlen)
{
	const char *path = host->option_string(st->h, "file");
	json_error_t jerr;
	json_t *root, *entry;
	const char *owner;

	root = json_load_file(path, 0, &jerr);
	if (!root || !json_is_object(root)) {
		snprintf(err, errlen, "%s:%d: %s", path, jerr.line, root ? "top level must be an object" : jerr.text);
		json_decref(root);
		return -EINVAL;
	}
	host->resync_begin(st->h);
	json_object_foreach(root, owner, entry) {
		json_t *ports = json_object_get(entry, "ports");
		size_t n = json_array_size(ports), i;
		struct broker_mapping *m = calloc(n ? n : 1, sizeof(*m));
		const char **addrs = calloc(n * 16 + 1, sizeof(*addrs));
		json_t *p;

		if (!m || !addrs) {
			free(m);
			free(addrs);
			break;
		}
		json_array_foreach(ports, i, p) {
			json_t *c = json_object_get(p, "connect");
			const char *proto = json_string_value(json_object_get(p, "proto"));
			size_t k;
			json_t *a;
			m[i].proto = proto && !strcmp(proto, "udp") ? BROKER_PROTO_UDP : BROKER_PROTO_TCP;
			m[i].host_ip = json_string_value(json_object_get(p, "host_ip"));
			m[i].host_port = (uint16_t)json_integer_value(json_object_get(p, "host_port"));
			m[i].connect = &addrs[i * 16];
			json_array_foreach(c, k, a) {
				if (k < 16)
					addrs[i * 16 + m[i].nconnect++] = json_string_value(a);
			}
		}
		host->mapping_set(st->h, owner, json_string_value(json_object_get(entry, "description")), m, n);
		free(m);
		free(addrs);
	}
	host->resync_commit(st->h);
	json_decref(root);
	return 0;
}

static int sw_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->h = h;
	*state = st;
	return 0;
}

static int sw_start(void *state, char *err, size_t errlen)
{
	return report(state, err, errlen);
}

static int sw_reload(void *state, char *err, size_t errlen)
{
	return report(state, err, errlen);
}

static int sw_resync(void *state)
{
	char err[256];

	return report(state, err, sizeof(err));
}

static void sw_fini(void *state)
{
	free(state);
}

static const struct broker_option sw_options[] = {
	{ BROKER_OPT_PATH, "file", NULL, "JSON file of owners and their ports", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

/*
 * Built twice: static_watch, and with STATIC_WATCH_YIELDS static_yield, a
 * watcher that yields ports to other watchers as procnet does
 * (BROKER_WATCHER_YIELDS), so the core's handling can be driven exactly.
 */
#ifdef STATIC_WATCH_YIELDS
#define SW_NAME "static_yield"
#define SW_FLAGS BROKER_WATCHER_YIELDS
#else
#define SW_NAME "static_watch"
#define SW_FLAGS 0
#endif

static const struct broker_plugin sw_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = SW_NAME,
	.version = "1.0",
	.description = "test watcher: mappings from a JSON file, re-read on reload",
	.kinds = BROKER_KIND_WATCHER,
	.watcher_flags = SW_FLAGS,
	.options = sw_options,
	.init = sw_init,
	.start = sw_start,
	.reload = sw_reload,
	.fini = sw_fini,
	.resync = sw_resync,
};

BROKER_PLUGIN_DEFINE(sw_plugin, host)
