/* plugins_options.c - plugin options from the configuration, checked against
 * each plugin's declared table, and the configuration's references to
 * plugins ("plugins" entries, --watch names) checked against what loaded.
 * Every error names where the value was written: a file key or a --watch
 * entry, so --check-config and the daemon's start say the same thing. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/plugins.h"
#include "broker/plugins_internal.h"

static size_t option_count(const struct broker_option *opts)
{
	size_t n = 0;

	while (opts && opts[n].type != BROKER_OPT_END)
		n++;
	return n;
}

const char *plugin_option_text(const struct plugin *p, const char *name)
{
	for (size_t i = 0; i < p->n_options; i++)
		if (strcmp(p->desc.options[i].name, name) == 0)
			return p->option_values[i];
	return NULL;
}

const struct broker_option *plugin_option_decl(const struct plugin *p, const char *name)
{
	for (size_t i = 0; i < p->n_options; i++)
		if (strcmp(p->desc.options[i].name, name) == 0)
			return &p->desc.options[i];
	return NULL;
}

/* Check one textual value against its declared type. */
static int option_check(const struct broker_option *o, const char *value, char *err, size_t errlen)
{
	char *end;
	long long v;

	switch (o->type) {
	case BROKER_OPT_INT:
		errno = 0;
		v = strtoll(value, &end, 0);
		if (errno || end == value || *end)
			return errfmt(err, errlen, -EINVAL, "'%s' is not an integer", value);
		if (o->min != o->max && (v < o->min || v > o->max))
			return errfmt(err, errlen, -ERANGE, "%lld is outside %lld..%lld", v, o->min, o->max);
		return 0;
	case BROKER_OPT_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "false") || !strcmp(value, "1") ||
		    !strcmp(value, "0") || !strcmp(value, "yes") || !strcmp(value, "no"))
			return 0;
		return errfmt(err, errlen, -EINVAL, "'%s' is not a boolean (true or false)", value);
	default:
		return 0;
	}
}

/* Where option key of plugin name was written: "--watch procnet,bogus=1" or "FILE: plugins.unix.x". */
static void option_origin(const struct broker_config *cfg, const char *name, const char *key, char *buf,
                          size_t len)
{
	json_t *given = cfg->watch_options ? json_object_get(json_object_get(cfg->watch_options, name), key) : NULL;

	if (given && json_is_string(given)) {
		const char *from = cfg->watch_from ? cfg->watch_from : "--watch";
		/* A flag reads best as it was typed; a variable or file entry by its name. */
		if (from[0] == '-')
			snprintf(buf, len, "%s %s,%s=%s", from, name, key, json_string_value(given));
		else
			snprintf(buf, len, "%s: %s,%s=%s", from, name, key, json_string_value(given));
	} else {
		snprintf(buf, len, "%s: plugins.%s.%s", cfg->config_file ? cfg->config_file : "config", name, key);
	}
}

/* "a, b, c" - the options a plugin declares, for "unknown option" errors. */
static void option_names(const struct plugin *p, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_options && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", p->desc.options[i].name);
	if (!off)
		snprintf(buf, len, "no options");
}

/* Fill option values: config file "plugins": {NAME: {...}} (and --watch options) over declared defaults. */
int plugin_apply_options(struct plugin *p, char *err, size_t errlen)
{
	const struct broker_config *cfg = &plugin_broker(p)->cfg;
	json_t *mine = NULL;
	const char *key;
	json_t *val;
	char **values;
	char where[1024], why[256];

	p->n_options = option_count(p->desc.options);
	values = calloc(p->n_options + 1, sizeof(*values));
	if (!values)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_options; i++)
		if (p->desc.options[i].default_value && !(values[i] = strdup(p->desc.options[i].default_value)))
			goto nomem;

	if (cfg->plugin_options)
		mine = json_object_get(cfg->plugin_options, p->desc.name);
	if (mine && !json_is_object(mine)) {
		errfmt(err, errlen, -EINVAL, "config \"plugins\": \"%s\" must be an object", p->desc.name);
		goto fail;
	}
	json_object_foreach(mine, key, val) {
		size_t i;
		char text[64];
		const char *s = text;

		option_origin(cfg, p->desc.name, key, where, sizeof(where));
		for (i = 0; i < p->n_options; i++)
			if (strcmp(p->desc.options[i].name, key) == 0)
				break;
		if (i == p->n_options) {
			char names[512];
			option_names(p, names, sizeof(names));
			errfmt(err, errlen, -EINVAL, "%s: unknown option (plugin %s has %s; see brokerctl plugin help %s)",
			       where, p->desc.name, names, p->desc.name);
			goto fail;
		}
		if (json_is_string(val))
			s = json_string_value(val);
		else if (json_is_integer(val))
			snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(val));
		else if (json_is_boolean(val))
			snprintf(text, sizeof(text), "%s", json_is_true(val) ? "true" : "false");
		else {
			errfmt(err, errlen, -EINVAL, "%s: must be a string, integer or boolean", where);
			goto fail;
		}
		if (option_check(&p->desc.options[i], s, why, sizeof(why)) < 0) {
			errfmt(err, errlen, -EINVAL, "%s: %s", where, why);
			goto fail;
		}
		free(values[i]);
		if (!(values[i] = strdup(s)))
			goto nomem;
	}
	for (size_t i = 0; i < p->n_options; i++)
		if (values[i] && option_check(&p->desc.options[i], values[i], why, sizeof(why)) < 0) {
			/* A default the plugin itself declared wrong. */
			errfmt(err, errlen, -EINVAL, "the plugin's default for option %s: %s", p->desc.options[i].name, why);
			goto fail;
		}
	if (p->option_values) {
		for (size_t i = 0; i < p->n_options; i++)
			free(p->option_values[i]);
		free(p->option_values);
	}
	p->option_values = values;
	return 0;
nomem:
	errfmt(err, errlen, -ENOMEM, "out of memory");
fail:
	for (size_t i = 0; i < p->n_options; i++)
		free(values[i]);
	free(values);
	return -EINVAL;
}

void plugin_free_options(struct plugin *p)
{
	if (!p->option_values)
		return;
	for (size_t i = 0; i < p->n_options; i++)
		free(p->option_values[i]);
	free(p->option_values);
	p->option_values = NULL;
}

/* ------------------------------------------------------------ names */

struct name_list {
	char buf[1024];
	size_t off;
	uint32_t kinds;   /* only plugins of these kinds */
};

static int add_name(void *arg, struct plugin *p)
{
	struct name_list *nl = arg;

	if ((p->desc.kinds & nl->kinds) && nl->off < sizeof(nl->buf))
		nl->off += (size_t)snprintf(nl->buf + nl->off, sizeof(nl->buf) - nl->off, "%s%s", nl->off ? ", " : "",
		                            p->desc.name);
	return 0;
}

static const char *loaded_names(struct plugin_registry *reg, uint32_t kinds, struct name_list *nl)
{
	nl->off = 0;
	nl->kinds = kinds;
	snprintf(nl->buf, sizeof(nl->buf), "none");
	plugins_foreach(reg, add_name, nl);
	return nl->buf;
}

int plugins_check_config(struct plugin_registry *reg)
{
	const struct broker_config *cfg = &plugins_broker(reg)->cfg;
	const char *name;
	json_t *opts;
	struct name_list nl;
	size_t problems = 0;

	/* "plugins": {"NAME": ...} for a plugin that is not here would otherwise be ignored. */
	json_object_foreach(cfg->plugin_options, name, opts) {
		if (plugins_find(reg, name) || plugins_was_refused(reg, name))
			continue;
		/* --watch NAME entries are reported below, once. */
		if (cfg->watch_options && json_object_get(cfg->watch_options, name))
			continue;
		plugins_report(reg, "%s: plugins.%s: no plugin named '%s' is loaded (loaded: %s; check the name and "
		                    "--plugin-dir)",
		               cfg->config_file ? cfg->config_file : "config", name, name,
		               loaded_names(reg, BROKER_KIND_ENDPOINT | BROKER_KIND_WATCHER, &nl));
		problems++;
	}
	for (size_t i = 0; i < cfg->n_watch; i++) {
		struct plugin *p = plugins_find(reg, cfg->watch[i]);
		const char *from = cfg->watch_from ? cfg->watch_from : "--watch";
		const char *sep = from[0] == '-' ? " " : ": ";

		if (!p && plugins_was_refused(reg, cfg->watch[i]))
			continue;   /* its refusal was reported with the reason */
		if (!p) {
			plugins_report(reg, "%s%s%s: no watcher plugin named '%s' is loaded (watchers: %s; check the name "
			                    "and --plugin-dir)",
			               from, sep, cfg->watch[i], cfg->watch[i], loaded_names(reg, BROKER_KIND_WATCHER, &nl));
			problems++;
		} else if (!(p->desc.kinds & BROKER_KIND_WATCHER)) {
			plugins_report(reg, "%s%s%s: plugin '%s' is not a watcher (watchers: %s)", from, sep, cfg->watch[i],
			               cfg->watch[i], loaded_names(reg, BROKER_KIND_WATCHER, &nl));
			problems++;
		}
	}
	return problems ? -EINVAL : 0;
}
