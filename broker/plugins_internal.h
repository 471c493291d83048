/* plugins_internal.h - the loaded-plugin record, shared by plugins.c, host.c and endpoint.c. */
#ifndef BROKER_PLUGINS_INTERNAL_H
#define BROKER_PLUGINS_INTERNAL_H

#include <stdbool.h>
#include "broker/plugin.h"
#include "broker/plugins.h"

/* struct broker_plugin_handle, as plugins see it, is this record. */
struct plugin {
	struct plugin_registry *reg;
	struct plugin *next, *prev;
	char *path;
	void *dl;
	struct broker_plugin desc;   /* the plugin's table, zero-filled past its struct_size */
	void *state;
	bool inited, started;
	char status[256];
	size_t n_options;
	char **option_values;        /* parallel to desc.options; NULL: unset */
	struct plugin_resource *resources;
};

static inline struct plugin *plugin_from_handle(struct broker_plugin_handle *h)
{
	return (struct plugin *)h;
}

struct broker *plugin_broker(const struct plugin *p);
struct broker *plugins_broker(const struct plugin_registry *reg);
const char *plugin_name(const struct plugin *p);
const struct broker_option *plugin_option_decl(const struct plugin *p, const char *name);
/* "unix, tcp" - the schemes of started endpoint plugins, for error messages. */
int plugins_schemes_text(struct plugin_registry *reg, char *buf, size_t len);

#endif
