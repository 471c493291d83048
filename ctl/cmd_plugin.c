/* cmd_plugin.c - brokerctl plugin list|help|load|unload. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"

static json_t *plugin_json(const Broker__Control__Plugin *p, bool with_options)
{
	json_t *kinds = json_array(), *schemes = json_array();
	json_t *j;

	for (size_t i = 0; i < p->n_kinds; i++)
		json_array_append_new(kinds, json_string(p->kinds[i]));
	for (size_t i = 0; i < p->n_schemes; i++)
		json_array_append_new(schemes, json_string(p->schemes[i]));
	j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "name", p->name, "version", p->version,
	              "description", p->description, "path", p->path, "kinds", kinds, "schemes", schemes,
	              "state", p->state);
	if (j && with_options) {
		json_t *opts = json_array();

		for (size_t i = 0; i < p->n_options; i++) {
			const Broker__Control__PluginOption *o = p->options[i];

			json_array_append_new(opts, json_pack("{s:s, s:s, s:s?, s:s, s:s?}", "name", o->name, "type",
			                                      o->type, "default",
			                                      o->default_value[0] ? o->default_value : NULL, "help",
			                                      o->help, "value", o->value[0] ? o->value : NULL));
		}
		json_object_set_new(j, "options", opts);
		json_t *params = json_array();
		for (size_t i = 0; i < p->n_url_params; i++) {
			const Broker__Control__PluginUrlParam *u = p->url_params[i];

			json_array_append_new(params, json_pack("{s:s, s:s, s:s?, s:s}", "key", u->key, "where", u->where,
			                                        "scheme", u->scheme[0] ? u->scheme : NULL, "help", u->help));
		}
		json_object_set_new(j, "url_params", params);
	}
	return j;
}

int cmd_plugin_list(struct session *s)
{
	Broker__Control__PluginListReply *pl;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "plugin", "list", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(pl, broker__control__plugin_list_reply__unpack, rep, len);
	if (s->o->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < pl->n_plugins; i++)
			json_array_append_new(a, plugin_json(pl->plugins[i], false));
		print_json(a);
	} else if (pl->n_plugins == 0) {
		printf("no plugins loaded\n");
	} else {
		struct table t = { .ncols = 6 };

		table_row(&t, "NAME", "VERSION", "KINDS", "SCHEMES", "STATE", "PATH");
		for (size_t i = 0; i < pl->n_plugins; i++) {
			const Broker__Control__Plugin *p = pl->plugins[i];
			char kinds[128], schemes[256];

			join(kinds, sizeof(kinds), p->kinds, p->n_kinds);
			join(schemes, sizeof(schemes), p->schemes, p->n_schemes);
			table_row(&t, p->name, p->version, kinds, schemes, p->state, p->path);
		}
		table_print(&t);
	}
	broker__control__plugin_list_reply__free_unpacked(pl, NULL);
	return 0;
}

static void print_plugin(const Broker__Control__Plugin *p, bool with_options)
{
	char kinds[128], schemes[256];

	join(kinds, sizeof(kinds), p->kinds, p->n_kinds);
	join(schemes, sizeof(schemes), p->schemes, p->n_schemes);
	printf("%s %s - %s\n", p->name, p->version, p->description[0] ? p->description : "(no description)");
	printf("  path     %s\n  kinds    %s\n  schemes  %s\n  state    %s\n", p->path, kinds, schemes, p->state);
	if (!with_options)
		return;
	if (p->n_url_params) {
		printf("\nURL parameters:\n");
		for (size_t i = 0; i < p->n_url_params; i++) {
			const Broker__Control__PluginUrlParam *u = p->url_params[i];

			printf("  ?%s= (%s%s%s%s)\n", u->key, u->where, u->scheme[0] ? "; " : "", u->scheme,
			       u->scheme[0] ? ": only" : "");
			if (u->help[0])
				printf("      %s\n", u->help);
		}
	}
	if (p->n_options == 0) {
		printf("\nno options\n");
		return;
	}
	printf("\noptions:\n");
	for (size_t i = 0; i < p->n_options; i++) {
		const Broker__Control__PluginOption *o = p->options[i];

		printf("  %s (%s)", o->name, o->type);
		if (o->default_value[0])
			printf(", default %s", o->default_value);
		if (o->value[0])
			printf(", now %s", o->value);
		printf("\n");
		if (o->help[0])
			printf("      %s\n", o->help);
	}
}

static int cmd_plugin_one(struct session *s, const char *method, const ProtobufCMessage *req, const char *verb)
{
	Broker__Control__PluginReply *pr;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "plugin", method, req, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(pr, broker__control__plugin_reply__unpack, rep, len);
	if (s->o->json) {
		print_json(pr->plugin ? plugin_json(pr->plugin, true) : json_object());
	} else if (pr->plugin) {
		if (verb)
			printf("%s %s %s from %s\n", verb, pr->plugin->name, pr->plugin->version, pr->plugin->path);
		else
			print_plugin(pr->plugin, true);
	}
	broker__control__plugin_reply__free_unpacked(pr, NULL);
	return 0;
}

int cmd_plugin_load(struct session *s, const char *path)
{
	Broker__Control__PluginLoadRequest req = BROKER__CONTROL__PLUGIN_LOAD_REQUEST__INIT;
	/* The broker opens the file from its own working directory: send what this one means. */
	char *abs = ctl_absolute_path(path);
	int rc;

	req.path = (char *)(abs ? abs : path);
	rc = cmd_plugin_one(s, "load", &req.base, "loaded");
	free(abs);
	return rc;
}

int cmd_plugin_help(struct session *s, const char *name)
{
	Broker__Control__PluginNameRequest req = BROKER__CONTROL__PLUGIN_NAME_REQUEST__INIT;

	req.name = (char *)name;
	return cmd_plugin_one(s, "help", &req.base, NULL);
}

int cmd_plugin_unload(struct session *s, const char *name)
{
	Broker__Control__PluginNameRequest req = BROKER__CONTROL__PLUGIN_NAME_REQUEST__INIT;
	char done[300];

	req.name = (char *)name;
	snprintf(done, sizeof(done), "plugin %s unloaded", name);
	return cmd_simple(s, "plugin", "unload", &req.base, done);
}
