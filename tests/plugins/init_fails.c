/*
 * init_fails.c - a plugin whose init refuses its configuration.  Option "x"
 * has no default, so unless the config file sets plugins.init_fails.x, init
 * returns -EINVAL with the reason below; the loader must log the plugin
 * name and that reason, skip the plugin and keep running.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <broker/plugin.h>

static const struct broker_host *host;

static int fails_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	if (!host->option_string(h, "x")) {
		snprintf(err, errlen, "example failure: option x is required");
		return -EINVAL;
	}
	*state = NULL;
	return 0;
}

static const struct broker_option fails_options[] = {
	{ BROKER_OPT_STRING, "x", NULL, "required; init fails while it is unset", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin fails_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "init_fails",
	.version = "1.0",
	.description = "test plugin: init fails unless option x is set",
	/* A kind is required: the loader checks it before init. */
	.kinds = BROKER_KIND_WATCHER,
	.options = fails_options,
	.init = fails_init,
};

BROKER_PLUGIN_DEFINE(fails_plugin, host)
