/* plugins.h - the plugin registry: load, start, look up by name or scheme, unload. */
#ifndef BROKER_PLUGINS_H
#define BROKER_PLUGINS_H

#include <stdbool.h>
#include "broker/plugin.h"

struct broker;
struct plugin;   /* == struct broker_plugin_handle */

int plugins_create(struct broker *b, struct plugin_registry **out);
void plugins_destroy(struct plugin_registry *reg);

/*
 * Where problems go (refused plugins, unreadable plugin dirs, options and
 * names in the configuration that do not match a plugin): the log by
 * default; --check-config prints them.
 */
typedef void (*plugins_report_fn)(void *arg, const char *what);
void plugins_set_reporter(struct plugin_registry *reg, plugins_report_fn fn, void *arg);
/* How many problems were reported so far. */
size_t plugins_problems(const struct plugin_registry *reg);

/* Load every *.so (*.dll) in the configured plugin dirs; a bad plugin is reported and skipped. */
int plugins_load_dirs(struct plugin_registry *reg);
/*
 * After loading: report "plugins" entries and watch names that match no
 * loaded plugin (a plugin refused at load was reported already).  -EINVAL
 * when there was something to report.
 */
int plugins_check_config(struct plugin_registry *reg);
/*
 * Load one plugin file and init+start it (if the registry is started).
 * Errors name the file and the exact reason: "…/x.so: ABI major 2, this broker speaks 1".
 */
int plugins_load_path(struct plugin_registry *reg, const char *path, struct plugin **out,
                      char *err, size_t errlen);
/* Stop, fini, release everything it registered (listeners, timers), dlclose. */
int plugins_unload(struct plugin_registry *reg, const char *name, char *err, size_t errlen);
/* Start all loaded plugins (after the store is open and before routes apply). */
int plugins_start_all(struct plugin_registry *reg);
int plugins_reload_all(struct plugin_registry *reg);
void plugins_stop_all(struct plugin_registry *reg);

struct plugin *plugins_find(struct plugin_registry *reg, const char *name);
struct plugin *plugins_for_scheme(struct plugin_registry *reg, const char *scheme);
/* The same among loaded plugins, started or not (--check-config starts none). */
struct plugin *plugins_for_scheme_loaded(struct plugin_registry *reg, const char *scheme);
size_t plugins_count(struct plugin_registry *reg);
/* Iterate in load order; stop when fn returns non-zero. */
int plugins_foreach(struct plugin_registry *reg, int (*fn)(void *arg, struct plugin *p), void *arg);

const struct broker_plugin *plugin_desc(const struct plugin *p);
void *plugin_state(const struct plugin *p);
const char *plugin_path(const struct plugin *p);
const char *plugin_status(const struct plugin *p);       /* "started", "failed: …" */
/* The value in effect for an option (default applied), as text; NULL if unset. */
const char *plugin_option_text(const struct plugin *p, const char *name);

/* Listeners and pending connects are tracked per plugin so unload can release them. */
struct plugin_resource {
	struct plugin_resource *next, *prev;
	void (*release)(struct plugin_resource *r);  /* called on unload */
	bool calls_plugin;   /* release calls the plugin (unlisten, connect_cancel): done before its stop() */
};
void plugin_track(struct plugin *p, struct plugin_resource *r);
void plugin_untrack(struct plugin *p, struct plugin_resource *r);

#endif
