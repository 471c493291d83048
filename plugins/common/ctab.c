/*
 * plugins/common/ctab.c - the container table of the docker and containerd
 * watchers (see ctab.h).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/plugin.h"
#include "plugins/common/ctab.h"

void ctab_init(struct ctab *t, const struct broker_host *host, struct broker_plugin_handle *h,
               size_t entry_size, size_t max, ctab_describe_fn describe)
{
	memset(t, 0, sizeof(*t));
	t->host = host;
	t->h = h;
	t->entry_size = entry_size < sizeof(struct ctab_entry) ? sizeof(struct ctab_entry) : entry_size;
	t->max = max;
	t->describe = describe;
}

struct ctab_entry *ctab_find(const struct ctab *t, const char *owner)
{
	struct ctab_entry *e;

	for (e = t->head; e; e = e->next)
		if (strcmp(e->owner, owner) == 0)
			return e;
	return NULL;
}

struct ctab_entry *ctab_add(struct ctab *t, const char *owner, const char *label)
{
	struct ctab_entry *e = ctab_find(t, owner);

	if (e)
		return e;
	if (t->n >= t->max) {
		t->host->log(t->h, BROKER_LOG_ERROR, "more than %zu containers; %s is ignored", t->max, label);
		return NULL;
	}
	e = calloc(1, t->entry_size);
	if (!e)
		return NULL;
	snprintf(e->owner, sizeof(e->owner), "%s", owner);
	snprintf(e->label, sizeof(e->label), "%s", label);
	e->next = t->head;
	t->head = e;
	t->n++;
	return e;
}

void ctab_free(struct ctab *t, struct ctab_entry *e)
{
	struct ctab_entry **pp;

	for (pp = &t->head; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			t->n--;
			break;
		}
	free(e->maps);
	free(e);
}

void ctab_clear(struct ctab *t)
{
	while (t->head)
		ctab_free(t, t->head);
}

void ctab_set_maps(struct ctab_entry *e, struct portmap_binding *maps, size_t n)
{
	free(e->maps);
	e->maps = maps;
	e->nmaps = n;
}

void ctab_report(struct ctab *t, struct ctab_entry *e)
{
	char desc[CTAB_NAME_MAX + 2 * CTAB_OWNER_MAX + 64];

	t->describe(e, desc, sizeof(desc));
	if (portmap_report(t->host, t->h, e->owner, desc, e->maps, e->nmaps) < 0) {
		t->host->log(t->h, BROKER_LOG_ERROR, "container %s: out of memory", e->label);
		return;
	}
	e->reported = e->nmaps > 0;
}

void ctab_gone(struct ctab *t, struct ctab_entry *e)
{
	if (e->reported)
		t->host->mapping_remove(t->h, e->owner);
	e->reported = 0;
	ctab_set_maps(e, NULL, 0);
}

int ctab_report_all(struct ctab *t, int (*wanted)(const struct ctab_entry *e))
{
	struct ctab_entry *e;
	size_t n = 0, m = 0;
	int r;

	r = t->host->resync_begin(t->h);
	if (r < 0)
		return r;
	for (e = t->head; e; e = e->next) {
		if (wanted ? !wanted(e) : !e->nmaps) {
			e->reported = 0;        /* the commit removes what it had */
			continue;
		}
		ctab_report(t, e);
		n++;
		m += e->nmaps;
	}
	r = t->host->resync_commit(t->h);
	t->host->log(t->h, BROKER_LOG_DEBUG, "resync: %zu containers with %zu published ports", n, m);
	return r;
}
