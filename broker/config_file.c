/* config_file.c - the JSON config file layer: parse, check every key and
 * type, name the file, key path (and line/column for syntax errors). */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config_internal.h"
#include "broker/errfmt.h"
#include "broker/url.h"

/* ------------------------------------------------------------ file */



void config_file_layer_free(struct file_layer *fl)
{
	for (size_t i = 0; i < fl->n_routes; i++) {
		free(fl->routes[i].name);
		free(fl->routes[i].listen);
		free(fl->routes[i].connect);
	}
	free(fl->routes);
	json_decref(fl->root);
	memset(fl, 0, sizeof(*fl));
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static int parse_route(const char *path, size_t i, json_t *o, struct config_route *r, char *err,
                       size_t errlen)
{
	static const char *const required[] = { "name", "listen", "connect" };
	char *dst[3] = { NULL, NULL, NULL };
	const char *key;
	json_t *v;
	struct url u;
	int rc;

	if (!json_is_object(o))
		return errfmt(err, errlen, -EINVAL, "%s: routes[%zu]: must be an object, not %s", path, i,
		              json_type_name(o));
	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") && strcmp(key, "listen") && strcmp(key, "connect") &&
		    strcmp(key, "max_connections"))
			return errfmt(err, errlen, -EINVAL,
			              "%s: routes[%zu]: unknown key \"%s\" (known: name, listen, connect, max_connections)",
			              path, i, key);
	}
	for (size_t k = 0; k < 3; k++) {
		v = json_object_get(o, required[k]);
		if (!v)
			return errfmt(err, errlen, -EINVAL, "%s: routes[%zu]: missing \"%s\"", path, i,
			              required[k]);
		if (!json_is_string(v) || !*json_string_value(v))
			return errfmt(err, errlen, -EINVAL, "%s: routes[%zu].%s: must be a non-empty string",
			              path, i, required[k]);
		dst[k] = (char *)json_string_value(v);
	}
	for (size_t k = 1; k < 3; k++) {
		char why[256];
		rc = url_parse(dst[k], &u, why, sizeof(why));
		if (rc < 0)
			return errfmt(err, errlen, rc, "%s: routes[%zu].%s: %s", path, i, required[k], why);
		url_free(&u);
	}
	v = json_object_get(o, "max_connections");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX))
		return errfmt(err, errlen, -EINVAL,
		              "%s: routes[%zu].max_connections: must be an integer >= 0 (0: unlimited)", path, i);
	r->max_connections = v ? (int)json_integer_value(v) : 0;
	r->name = strdup(dst[0]);
	r->listen = strdup(dst[1]);
	r->connect = strdup(dst[2]);
	if (!r->name || !r->listen || !r->connect)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int parse_routes(const char *path, json_t *arr, struct file_layer *fl, char *err, size_t errlen)
{
	size_t n;
	int rc;

	if (!json_is_array(arr))
		return errfmt(err, errlen, -EINVAL, "%s: routes: must be an array of objects, not %s", path,
		              json_type_name(arr));
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	fl->routes = calloc(n, sizeof(*fl->routes));
	if (!fl->routes)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		/* Count first so file_layer_free releases a half-parsed entry. */
		fl->n_routes = i + 1;
		rc = parse_route(path, i, json_array_get(arr, i), &fl->routes[i], err, errlen);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(fl->routes[j].name, fl->routes[i].name) == 0)
				return errfmt(err, errlen, -EINVAL,
				              "%s: routes[%zu]: name \"%s\" already used by routes[%zu]", path, i,
				              fl->routes[i].name, j);
	}
	return 0;
}

static int parse_plugins(const char *path, json_t *obj, char *err, size_t errlen)
{
	const char *name, *key;
	json_t *opts, *v;

	if (!json_is_object(obj))
		return errfmt(err, errlen, -EINVAL,
		              "%s: plugins: must be an object {\"NAME\": {options}}, not %s", path,
		              json_type_name(obj));
	json_object_foreach(obj, name, opts) {
		if (!json_is_object(opts))
			return errfmt(err, errlen, -EINVAL, "%s: plugins.%s: must be an object of options, not %s",
			              path, name, json_type_name(opts));
		json_object_foreach(opts, key, v) {
			if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
				return errfmt(err, errlen, -EINVAL,
				              "%s: plugins.%s.%s: must be a string, number or boolean, not %s", path,
				              name, key, json_type_name(v));
		}
	}
	return 0;
}

static int key_setting(const char *key)
{
	for (int i = 0; i < S_COUNT; i++)
		if (strcmp(config_settings[i].key, key) == 0)
			return i;
	return -1;
}

static int key_list(const char *key)
{
	for (int i = 0; i < L_COUNT; i++)
		if (strcmp(config_lists[i].key, key) == 0)
			return i;
	return -1;
}

static bool setting_is_number(int s)
{
	return s == S_DRAIN_TIMEOUT || s == S_LINK_KEEPALIVE || s == S_LINK_TIMEOUT || s == S_LINK_BACKOFF_MAX ||
	       s == S_PARENT_PID || s == S_PEER_MAX_ROUTES;
}

/*
 * Read and validate the file.  path NULL: nothing to read.  Validation
 * errors name the file and the key path; jansson keeps no positions for
 * parsed values, so only syntax errors carry line and column.
 */
int config_read_file(const char *path, bool explicit, struct file_layer *fl, char *err, size_t errlen)
{
	json_error_t jerr;
	const char *key;
	json_t *v;
	FILE *fp;
	int rc, s;

	memset(fl, 0, sizeof(*fl));
	fp = fopen(path, "r");
	if (!fp) {
		if (errno == ENOENT && !explicit)
			return 1;
		return errfmt(err, errlen, -errno, "%s: cannot read config file: %s%s", path, strerror(errno),
		              errno == ENOENT ? " (check --config / " CONFIG_ENV ")" : "");
	}
	fl->root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
	fclose(fp);
	if (!fl->root)
		return errfmt(err, errlen, -EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(fl->root))
		return errfmt(err, errlen, -EINVAL, "%s: the top level must be a JSON object, not %s", path,
		              json_type_name(fl->root));

	json_object_foreach(fl->root, key, v) {
		s = key_setting(key);
		if (s >= 0) {
			if ((s == S_HTTP_LISTEN || s == S_FORWARDER_API) && json_is_null(v)) {
				/* null: explicitly off, which is also the default. */
			} else if (setting_is_number(s)) {
				if (!json_is_integer(v))
					return errfmt(err, errlen, -EINVAL, "%s: %s: must be an integer, not %s", path,
					              key, json_type_name(v));
				/* Keep validation in one place: the resolver parses the text form. */
				snprintf(fl->num_text[s], sizeof(fl->num_text[s]), "%lld",
				         (long long)json_integer_value(v));
				fl->l.val[s] = fl->num_text[s];
			} else if (s == S_LINK_STDIO || s == S_MAPPING_PRIVILEGED) {
				if (!json_is_boolean(v))
					return errfmt(err, errlen, -EINVAL, "%s: %s: must be true or false, not %s", path,
					              key, json_type_name(v));
				fl->l.val[s] = json_is_true(v) ? "true" : "false";
			} else if (!json_is_string(v)) {
				return errfmt(err, errlen, -EINVAL, "%s: %s: must be a string, not %s", path, key,
				              json_type_name(v));
			} else {
				fl->l.val[s] = json_string_value(v);
			}
		} else if ((s = config_limit_by_key(key)) >= 0 && s < CONFIG_MAX_LIMITS) {
			/* A count or seconds as an integer; a size also as "32M". */
			if (json_is_integer(v))
				snprintf(fl->limit_text[s], sizeof(fl->limit_text[s]), "%lld",
				         (long long)json_integer_value(v));
			else if (json_is_string(v) && config_limit_descs[s].unit == LIMIT_BYTES)
				snprintf(fl->limit_text[s], sizeof(fl->limit_text[s]), "%s", json_string_value(v));
			else
				return errfmt(err, errlen, -EINVAL, "%s: %s: must be an integer%s, not %s", path, key,
				              config_limit_descs[s].unit == LIMIT_BYTES ? " or a size such as \"32M\"" : "",
				              json_type_name(v));
			fl->l.limit[s] = fl->limit_text[s];
		} else if ((s = key_list(key)) >= 0) {
			size_t i;
			json_t *d;
			char what[PATH_MAX + 64];
			if (!json_is_array(v))
				return errfmt(err, errlen, -EINVAL, "%s: %s: must be an array of strings, not %s",
				              path, key, json_type_name(v));
			snprintf(what, sizeof(what), "%s: %s", path, key);
			json_array_foreach(v, i, d) {
				if (!json_is_string(d) || !*json_string_value(d))
					return errfmt(err, errlen, -EINVAL, "%s: %s[%zu]: must be a non-empty string",
					              path, key, i);
				rc = config_list_add(&fl->l, s, json_string_value(d), what, err, errlen);
				if (rc < 0)
					return rc;
			}
		} else if (strcmp(key, "routes") == 0) {
			rc = parse_routes(path, v, fl, err, errlen);
			if (rc < 0)
				return rc;
		} else if (strcmp(key, "plugins") == 0) {
			rc = parse_plugins(path, v, err, errlen);
			if (rc < 0)
				return rc;
			fl->plugins = v;
		} else {
			return errfmt(err, errlen, -EINVAL,
			              "%s: unknown key \"%s\" (known: runtime_dir, state_dir, plugin_dirs, log_level, "
			              "log_format, http_listen, forwarder_api, drain_timeout, link_listen, link_connect, link_stdio, "
			              "link_secret, link_keepalive, link_timeout, link_backoff_max, parent_pid, "
			              "mapping_bind, mapping_allow_privileged, mapping_ports, peer_allow_connect, "
			              "peer_allow_listen, peer_max_routes, watch, routes, plugins, and the limits "
			              "link_max_*, link_rpc_timeout, mapping_max_*, http_max_*)",
			              path, key);
		}
	}
	return 0;
}
