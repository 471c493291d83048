/*
 * bad_abi.c - a plugin built for a future ABI major version.  The loader
 * must refuse it with a log line naming the file and both versions, and
 * keep running.
 */
#include "config.h"

#include <broker/plugin.h>

static const struct broker_host *host;

static const struct broker_plugin bad_abi_plugin = {
	.struct_size = sizeof(struct broker_plugin),
	.abi_major = BROKER_ABI_MAJOR + 1,
	.abi_minor = 0,
	.name = "bad_abi",
	.version = "1.0",
	.description = "test plugin: claims the next ABI major version",
	/* Otherwise valid, so the major version is the only reason to refuse it. */
	.kinds = BROKER_KIND_WATCHER,
};

BROKER_PLUGIN_DEFINE(bad_abi_plugin, host)
