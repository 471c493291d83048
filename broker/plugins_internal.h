/* plugins_internal.h - the loaded-plugin record, shared by plugins.c, host.c and endpoint.c. */
#ifndef BROKER_PLUGINS_INTERNAL_H
#define BROKER_PLUGINS_INTERNAL_H

#include <stdbool.h>
#include "broker/plugin.h"
#include "broker/plugins.h"
#include "broker/printf_attr.h"

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
	struct post_queue *posts;    /* work its threads posted (host->post), dropped at unload */
};

static inline struct plugin *plugin_from_handle(struct broker_plugin_handle *h)
{
	return (struct plugin *)h;
}

struct broker *plugin_broker(const struct plugin *p);

/* host.c: the per-plugin queue behind host->post. */
struct post_queue;
struct event_base;
struct post_queue *post_queue_new(struct event_base *base);
void post_queue_free(struct post_queue *q);
struct broker *plugins_broker(const struct plugin_registry *reg);
const char *plugin_name(const struct plugin *p);
const struct broker_option *plugin_option_decl(const struct plugin *p, const char *name);
/* plugins_options.c: the values in effect from the configuration, checked against the table. */
int plugin_apply_options(struct plugin *p, char *err, size_t errlen);
void plugin_free_options(struct plugin *p);
/* plugins.c: report one problem (counted); was a plugin of this name refused at load? */
void plugins_report(struct plugin_registry *reg, const char *fmt, ...) BROKER_PRINTF(2, 3);
bool plugins_was_refused(const struct plugin_registry *reg, const char *name);
/* "unix, tcp" - the schemes of started endpoint plugins, for error messages. */
int plugins_schemes_text(struct plugin_registry *reg, char *buf, size_t len);

#endif
