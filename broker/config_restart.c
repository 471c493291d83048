/* config_restart.c - settings a reload cannot apply: keep them in effect and say which. */
#include <config.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker/config.h"

/*
 * These are read once at start: the control socket and database are open
 * in the old directories, plugins were loaded from the old dirs, the HTTP
 * server and the link carriers listen or dial where they did, the secret
 * was read, the parent is watched.  A reload keeps their running values (so
 * status shows what is in effect) and names every one whose file value
 * differs.  Everything else applies on reload (broker.conf(5) RELOAD).
 */
enum restart_type { R_STRING, R_LIST, R_BOOL, R_INT };

struct restart_setting {
	const char *key;
	enum restart_type type;
	size_t off;       /* the value (or the list's array) */
	size_t count_off; /* R_LIST: the size_t count */
};

#define STR(k, f) { k, R_STRING, offsetof(struct broker_config, f), 0 }
#define LIST(k, f, n) { k, R_LIST, offsetof(struct broker_config, f), offsetof(struct broker_config, n) }
static const struct restart_setting restart_settings[] = {
	STR("runtime_dir", runtime_dir),
	STR("state_dir", state_dir),
	LIST("plugin_dirs", plugin_dirs, n_plugin_dirs),
	STR("http_listen", http_listen),
	STR("forwarder_api", forwarder_api),
	LIST("link_listen", link_listen, n_link_listen),
	LIST("link_connect", link_connect, n_link_connect),
	{ "link_stdio", R_BOOL, offsetof(struct broker_config, link_stdio), 0 },
	STR("link_secret", link_secret),
	{ "parent_pid", R_INT, offsetof(struct broker_config, parent_pid), 0 },
};
#undef STR
#undef LIST

#define AT(cfg, off, type) ((type *)(void *)((char *)(cfg) + (off)))

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool same(const struct restart_setting *s, struct broker_config *a, struct broker_config *b)
{
	switch (s->type) {
	case R_STRING: return same_str(*AT(a, s->off, char *), *AT(b, s->off, char *));
	case R_BOOL: return *AT(a, s->off, bool) == *AT(b, s->off, bool);
	case R_INT: return *AT(a, s->off, int) == *AT(b, s->off, int);
	case R_LIST: {
		size_t n = *AT(a, s->count_off, size_t);
		if (n != *AT(b, s->count_off, size_t))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!same_str(AT(a, s->off, char *)[i], AT(b, s->off, char *)[i]))
				return false;
		return true;
	}
	}
	return true;
}

/* The value as a user wrote it: "none" for an unset one, lists joined with ", ". */
static void show(const struct restart_setting *s, struct broker_config *c, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	switch (s->type) {
	case R_STRING: snprintf(buf, len, "%s", *AT(c, s->off, char *) ? *AT(c, s->off, char *) : "none"); return;
	case R_BOOL: snprintf(buf, len, "%s", *AT(c, s->off, bool) ? "true" : "false"); return;
	case R_INT: snprintf(buf, len, "%d", *AT(c, s->off, int)); return;
	case R_LIST: {
		size_t n = *AT(c, s->count_off, size_t);
		if (n == 0)
			snprintf(buf, len, "none");
		for (size_t i = 0; i < n && used < len; i++) {
			int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", AT(c, s->off, char *)[i]);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		return;
	}
	}
}

static void swap_values(const struct restart_setting *s, struct broker_config *a, struct broker_config *b)
{
	switch (s->type) {
	case R_STRING: {
		char *t = *AT(a, s->off, char *);
		*AT(a, s->off, char *) = *AT(b, s->off, char *);
		*AT(b, s->off, char *) = t;
		return;
	}
	case R_BOOL: {
		bool t = *AT(a, s->off, bool);
		*AT(a, s->off, bool) = *AT(b, s->off, bool);
		*AT(b, s->off, bool) = t;
		return;
	}
	case R_INT: {
		int t = *AT(a, s->off, int);
		*AT(a, s->off, int) = *AT(b, s->off, int);
		*AT(b, s->off, int) = t;
		return;
	}
	case R_LIST: {
		char *t[CONFIG_MAX_LIST];
		size_t tn = *AT(a, s->count_off, size_t);
		memcpy(t, AT(a, s->off, char *), sizeof(t));
		memcpy(AT(a, s->off, char *), AT(b, s->off, char *), sizeof(t));
		memcpy(AT(b, s->off, char *), t, sizeof(t));
		*AT(a, s->count_off, size_t) = *AT(b, s->count_off, size_t);
		*AT(b, s->count_off, size_t) = tn;
		return;
	}
	}
}

size_t config_keep_restart_settings(struct broker_config *fresh, struct broker_config *running,
                                    char notes[][CONFIG_RESTART_NOTE], size_t max_notes)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(restart_settings) / sizeof(restart_settings[0]); i++) {
		const struct restart_setting *s = &restart_settings[i];
		char now[200], wanted[200]; /* with the text and a key, within CONFIG_RESTART_NOTE */

		if (same(s, fresh, running))
			continue;
		show(s, running, now, sizeof(now));
		show(s, fresh, wanted, sizeof(wanted));
		if (n < max_notes)
			snprintf(notes[n], CONFIG_RESTART_NOTE, "%s: needs a restart; %s stays in effect (configured now: %s)",
			         s->key, now, wanted);
		n++;
		swap_values(s, fresh, running);
	}
	return n < max_notes ? n : max_notes;
}
