/*
 * no_symbol.c - a shared object that exports no broker_plugin_entry: the
 * entry point is misspelled, as an author might do by hand instead of using
 * BROKER_PLUGIN_DEFINE.  The loader must refuse it ("no symbol
 * broker_plugin_entry") and keep running.
 */
#include "config.h"

#include <stddef.h>

#include <broker/plugin.h>

static const struct broker_plugin no_symbol_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "no_symbol",
	.version = "1.0",
	.description = "test plugin: exports the wrong entry name",
};

BROKER_EXPORT const struct broker_plugin *broker_plugin_entri(const struct broker_host *h);

BROKER_EXPORT const struct broker_plugin *broker_plugin_entri(const struct broker_host *h)
{
	(void)h;
	return &no_symbol_plugin;
}
