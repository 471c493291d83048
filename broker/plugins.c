/* plugins.c - load plugins, check their ABI and options, run their lifecycle,
 * find them by name or scheme, and release what they registered on unload. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/host.h"
#include "broker/log.h"
#include "broker/mapping.h"
#include "broker/platform.h"
#include "broker/plugins.h"
#include "broker/plugins_internal.h"

struct plugin_registry {
	struct broker *broker;
	struct plugin *head, *tail;
	size_t count;
	bool started;
	plugins_report_fn report;     /* NULL: the log */
	void *report_arg;
	size_t problems;              /* reported so far */
	char **refused;               /* names of plugins refused at load (their reason was reported) */
	size_t n_refused;
};

static struct plugin_registry *registry_of(const struct plugin *p)
{
	return p->reg;
}

struct broker *plugin_broker(const struct plugin *p)
{
	return registry_of(p)->broker;
}

struct broker *plugins_broker(const struct plugin_registry *reg)
{
	return reg->broker;
}

void plugins_set_reporter(struct plugin_registry *reg, plugins_report_fn fn, void *arg)
{
	reg->report = fn;
	reg->report_arg = arg;
}

size_t plugins_problems(const struct plugin_registry *reg)
{
	return reg->problems;
}

void plugins_report(struct plugin_registry *reg, const char *fmt, ...)
{
	char what[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	reg->problems++;
	if (reg->report)
		reg->report(reg->report_arg, what);
	else
		log_error("plugins", "%s", what);
}

bool plugins_was_refused(const struct plugin_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n_refused; i++)
		if (!strcmp(reg->refused[i], name))
			return true;
	return false;
}

static void note_refused(struct plugin_registry *reg, const char *name)
{
	char **n;

	if (!name || plugins_was_refused(reg, name) || !(n = realloc(reg->refused, (reg->n_refused + 1) * sizeof(*n))))
		return;
	reg->refused = n;
	if ((n[reg->n_refused] = strdup(name)))
		reg->n_refused++;
}

int plugins_create(struct broker *b, struct plugin_registry **out)
{
	struct plugin_registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return -ENOMEM;
	reg->broker = b;
	*out = reg;
	return 0;
}

const struct broker_plugin *plugin_desc(const struct plugin *p)
{
	return &p->desc;
}

void *plugin_state(const struct plugin *p)
{
	return p->state;
}

const char *plugin_path(const struct plugin *p)
{
	return p->path;
}

const char *plugin_status(const struct plugin *p)
{
	return p->status;
}

const char *plugin_name(const struct plugin *p)
{
	return p->desc.name;
}

size_t plugins_count(struct plugin_registry *reg)
{
	return reg->count;
}

int plugins_foreach(struct plugin_registry *reg, int (*fn)(void *arg, struct plugin *p), void *arg)
{
	for (struct plugin *p = reg->head; p; p = p->next) {
		int rc = fn(arg, p);
		if (rc)
			return rc;
	}
	return 0;
}

struct plugin *plugins_find(struct plugin_registry *reg, const char *name)
{
	for (struct plugin *p = reg->head; p; p = p->next)
		if (strcmp(p->desc.name, name) == 0)
			return p;
	return NULL;
}

static bool plugin_serves(const struct plugin *p, const char *scheme)
{
	if (!(p->desc.kinds & BROKER_KIND_ENDPOINT) || !p->desc.schemes)
		return false;
	for (const char *const *s = p->desc.schemes; *s; s++)
		if (strcmp(*s, scheme) == 0)
			return true;
	return false;
}

struct plugin *plugins_for_scheme(struct plugin_registry *reg, const char *scheme)
{
	for (struct plugin *p = reg->head; p; p = p->next)
		if (p->started && plugin_serves(p, scheme))
			return p;
	return NULL;
}

struct plugin *plugins_for_scheme_loaded(struct plugin_registry *reg, const char *scheme)
{
	for (struct plugin *p = reg->head; p; p = p->next)
		if (plugin_serves(p, scheme))
			return p;
	return NULL;
}

int plugins_schemes_text(struct plugin_registry *reg, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (struct plugin *p = reg->head; p; p = p->next) {
		if (!p->started || !(p->desc.kinds & BROKER_KIND_ENDPOINT) || !p->desc.schemes)
			continue;
		for (const char *const *s = p->desc.schemes; *s && off < len; s++)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", *s);
	}
	if (off == 0)
		snprintf(buf, len, "none");
	return 0;
}

/* ---------------------------------------------------------- load */

static bool valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* Check what the plugin describes before trusting any of it. */
static int plugin_validate(struct plugin_registry *reg, struct plugin *p, const struct broker_plugin *raw,
                           char *err, size_t errlen)
{
	size_t header = offsetof(struct broker_plugin, options);

	if (raw->struct_size < header)
		return errfmt(err, errlen, -EINVAL, "plugin table too small (%u bytes; at least %zu expected)",
		              raw->struct_size, header);
	if (raw->abi_major != BROKER_ABI_MAJOR)
		return errfmt(err, errlen, -EPROTO, "plugin ABI major %u, this broker speaks %u (rebuild the plugin)",
		              raw->abi_major, BROKER_ABI_MAJOR);
	/* Copy what the plugin knows; fields appended after it was built stay zero. */
	memset(&p->desc, 0, sizeof(p->desc));
	memcpy(&p->desc, raw, raw->struct_size < sizeof(p->desc) ? raw->struct_size : sizeof(p->desc));
	if (!valid_name(p->desc.name))
		return errfmt(err, errlen, -EINVAL, "plugin name '%s' is not [a-z0-9_-]{1,64}",
		              p->desc.name ? p->desc.name : "(null)");
	if (plugins_find(reg, p->desc.name))
		return errfmt(err, errlen, -EEXIST, "a plugin named '%s' is already loaded (from %s)", p->desc.name,
		              plugins_find(reg, p->desc.name)->path);
	if (!p->desc.kinds || (p->desc.kinds & ~(uint32_t)(BROKER_KIND_ENDPOINT | BROKER_KIND_WATCHER)))
		return errfmt(err, errlen, -EINVAL, "plugin '%s' declares no known kind (kinds=0x%x)", p->desc.name,
		              p->desc.kinds);
	if (p->desc.kinds & BROKER_KIND_ENDPOINT) {
		if (!p->desc.schemes || !p->desc.schemes[0])
			return errfmt(err, errlen, -EINVAL, "endpoint plugin '%s' serves no URL scheme", p->desc.name);
		if (!p->desc.listen && !p->desc.connect)
			return errfmt(err, errlen, -EINVAL, "endpoint plugin '%s' has neither listen nor connect",
			              p->desc.name);
		for (const char *const *s = p->desc.schemes; *s; s++)
			for (struct plugin *q = reg->head; q; q = q->next)
				if (plugin_serves(q, *s))
					return errfmt(err, errlen, -EEXIST, "scheme '%s' is already served by plugin '%s'",
					              *s, q->desc.name);
	}
	return 0;
}

static void plugin_free(struct plugin *p)
{
	post_queue_free(p->posts);
	plugin_free_options(p);
	platform_dl_close(p->dl);
	free(p->path);
	free(p);
}

static void plugin_stop(struct plugin *p);

static bool watch_enabled(const struct plugin *p)
{
	const struct broker_config *cfg = &p->reg->broker->cfg;

	for (size_t i = 0; i < cfg->n_watch; i++)
		if (!strcmp(cfg->watch[i], p->desc.name))
			return true;
	return false;
}

static int plugin_start(struct plugin *p)
{
	char err[200] = "";
	int rc = 0;

	/* A watcher runs only when asked for: it reads APIs and publishes ports. */
	if ((p->desc.kinds & BROKER_KIND_WATCHER) && !(p->desc.kinds & BROKER_KIND_ENDPOINT) && !watch_enabled(p)) {
		snprintf(p->status, sizeof(p->status), "loaded (watcher off; enable with --watch %s)", p->desc.name);
		return 0;
	}
	/* Before start: its first reports already yield to other watchers'. */
	if ((p->desc.kinds & BROKER_KIND_WATCHER) && (p->desc.watcher_flags & BROKER_WATCHER_YIELDS) &&
	    p->reg->broker->mappings)
		mappings_source_yields(p->reg->broker->mappings, p->desc.name);
	if (p->desc.start)
		rc = p->desc.start(p->state, err, sizeof(err));
	if (rc < 0) {
		snprintf(p->status, sizeof(p->status), "failed: %s", err[0] ? err : strerror(-rc));
		log_error(p->desc.name, "start failed: %s", err[0] ? err : strerror(-rc));
		return rc;
	}
	p->started = true;
	snprintf(p->status, sizeof(p->status), (p->desc.kinds & BROKER_KIND_WATCHER) ? "watching" : "started");
	return 0;
}

int plugins_load_path(struct plugin_registry *reg, const char *path, struct plugin **out, char *err,
                      size_t errlen)
{
	struct plugin *p = calloc(1, sizeof(*p));
	broker_plugin_entry_fn entry;
	const struct broker_plugin *raw;
	char why[512] = "";
	int rc;

	if (!p || !(p->path = strdup(path))) {
		free(p);
		return errfmt(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	p->reg = reg;
	p->posts = post_queue_new(reg->broker->base);
	p->dl = platform_dl_open(path, why, sizeof(why));
	if (!p->dl) {
		rc = errfmt(err, errlen, -ENOEXEC, "%s: cannot load: %s", path, why);
		goto fail;
	}
	/* Casting through uintptr_t: ISO C has no object-to-function pointer conversion. */
	entry = (broker_plugin_entry_fn)(uintptr_t)platform_dl_sym(p->dl, BROKER_PLUGIN_ENTRY);
	if (!entry) {
		rc = errfmt(err, errlen, -ENOEXEC, "%s: not a broker plugin (no %s symbol)", path, BROKER_PLUGIN_ENTRY);
		goto fail;
	}
	raw = entry(&broker_host_table);
	if (!raw) {
		rc = errfmt(err, errlen, -EINVAL, "%s: %s returned no plugin table", path, BROKER_PLUGIN_ENTRY);
		goto fail;
	}
	rc = plugin_validate(reg, p, raw, why, sizeof(why));
	if (rc < 0) {
		errfmt(err, errlen, rc, "%s: %s", path, why);
		if (valid_name(p->desc.name))
			note_refused(reg, p->desc.name);
		goto fail;
	}
	rc = plugin_apply_options(p, why, sizeof(why));
	if (rc < 0) {
		/* The value's place in the configuration says more than the plugin file. */
		errfmt(err, errlen, rc, "plugin %s: %s", p->desc.name, why);
		note_refused(reg, p->desc.name);
		goto fail;
	}
	if (p->desc.init) {
		rc = p->desc.init((struct broker_plugin_handle *)p, &p->state, why, sizeof(why));
		if (rc < 0) {
			errfmt(err, errlen, rc, "%s: plugin %s: init failed: %s", path, p->desc.name,
			       why[0] ? why : strerror(-rc));
			note_refused(reg, p->desc.name);
			goto fail;
		}
	}
	p->inited = true;
	snprintf(p->status, sizeof(p->status), "loaded");
	if (reg->tail)
		reg->tail->next = p;
	else
		reg->head = p;
	p->prev = reg->tail;
	reg->tail = p;
	reg->count++;
	if (reg->started)
		plugin_start(p);
	log_info(p->desc.name, "loaded %s %s from %s", p->desc.name, p->desc.version ? p->desc.version : "",
	         path);
	if (out)
		*out = p;
	return 0;
fail:
	plugin_free(p);
	return rc;
}

static int load_one(void *arg, const char *path)
{
	struct plugin_registry *reg = arg;
	char err[768];

	/* A bad plugin is reported and skipped: the broker keeps running with the rest. */
	if (plugins_load_path(reg, path, NULL, err, sizeof(err)) < 0)
		plugins_report(reg, "refused %s", err);
	return 0;
}

int plugins_load_dirs(struct plugin_registry *reg)
{
	struct broker_config *cfg = &reg->broker->cfg;

	for (size_t i = 0; i < cfg->n_plugin_dirs; i++) {
		int rc = platform_list_dir(cfg->plugin_dirs[i], platform_plugin_suffix(), load_one, reg);
		if (rc < 0)
			plugins_report(reg, "plugin dir %s: %s (check --plugin-dir / BROKER_PLUGIN_DIR)",
			               cfg->plugin_dirs[i], strerror(-rc));
	}
	return 0;
}

int plugins_start_all(struct plugin_registry *reg)
{
	reg->started = true;
	for (struct plugin *p = reg->head; p; p = p->next)
		if (!p->started)
			plugin_start(p);
	return 0;
}

int plugins_reload_all(struct plugin_registry *reg)
{
	int failures = 0;

	for (struct plugin *p = reg->head; p; p = p->next) {
		char err[512] = "";
		bool is_watcher = (p->desc.kinds & BROKER_KIND_WATCHER) && !(p->desc.kinds & BROKER_KIND_ENDPOINT);
		if (is_watcher && p->started && !watch_enabled(p)) {
			log_info(p->desc.name, "no longer in --watch / \"watch\": stopping");
			plugin_stop(p);
			snprintf(p->status, sizeof(p->status), "loaded (watcher off; enable with --watch %s)", p->desc.name);
		}
		if (plugin_apply_options(p, err, sizeof(err)) < 0) {
			plugins_report(reg, "plugin %s: reload: keeping the old options: %s", p->desc.name, err);
			failures++;
			continue;
		}
		if (p->started && p->desc.reload && p->desc.reload(p->state, err, sizeof(err)) < 0) {
			log_error(p->desc.name, "reload failed: %s", err);
			failures++;
		}
		if (is_watcher && !p->started && reg->started && watch_enabled(p))
			plugin_start(p);
	}
	/* The new file may name plugins or watchers that are not here. */
	if (plugins_check_config(reg) < 0)
		failures++;
	return failures ? -EINVAL : 0;
}

/* Release what the plugin registered, newest first; calls_plugin: only what calls back into it. */
static void plugin_release_resources(struct plugin *p, bool calls_plugin)
{
	struct plugin_resource *r = p->resources, *next;

	for (; r; r = next) {
		next = r->next;
		if (calls_plugin && !r->calls_plugin)
			continue;
		plugin_untrack(p, r);
		r->release(r);
		/* A release may untrack others (a listener closing its pending connects): start over. */
		next = p->resources;
	}
}

static void plugin_stop(struct plugin *p)
{
	/*
	 * First what calls back into the plugin (listeners, pending connects),
	 * while its state is intact; then its stop(), which may free its own
	 * timers; then whatever it left registered.
	 */
	plugin_release_resources(p, true);
	if (p->started && p->desc.stop)
		p->desc.stop(p->state);
	/* A watcher's ports go with it. */
	if (p->started && (p->desc.kinds & BROKER_KIND_WATCHER) && p->reg->broker->mappings)
		mappings_drop_source(p->reg->broker->mappings, p->desc.name);
	p->started = false;
	plugin_release_resources(p, false);
}

static void plugin_remove(struct plugin_registry *reg, struct plugin *p)
{
	plugin_stop(p);
	if (p->inited && p->desc.fini)
		p->desc.fini(p->state);
	if (p->prev)
		p->prev->next = p->next;
	else
		reg->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		reg->tail = p->prev;
	reg->count--;
	plugin_free(p);
}

int plugins_unload(struct plugin_registry *reg, const char *name, char *err, size_t errlen)
{
	struct plugin *p = plugins_find(reg, name);

	if (!p)
		return errfmt(err, errlen, -ENOENT, "no plugin named '%s' is loaded", name);
	log_info(name, "unloading");
	plugin_remove(reg, p);
	return 0;
}

void plugins_stop_all(struct plugin_registry *reg)
{
	/* Newest first, the reverse of start. */
	for (struct plugin *p = reg->tail; p; p = p->prev)
		plugin_stop(p);
	reg->started = false;
}

void plugins_destroy(struct plugin_registry *reg)
{
	if (!reg)
		return;
	while (reg->tail)
		plugin_remove(reg, reg->tail);
	for (size_t i = 0; i < reg->n_refused; i++)
		free(reg->refused[i]);
	free(reg->refused);
	free(reg);
}

void plugin_track(struct plugin *p, struct plugin_resource *r)
{
	r->prev = NULL;
	r->next = p->resources;
	if (p->resources)
		p->resources->prev = r;
	p->resources = r;
}

void plugin_untrack(struct plugin *p, struct plugin_resource *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (p->resources == r)
		p->resources = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}
