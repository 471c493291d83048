/*
 * plugins/common/ctab.h - the container table of the container watchers
 * (docker, containerd): what each known container publishes, whether the
 * core has it, and the epoch that lets a late answer be recognised.
 * Compiled into each plugin that uses it (add plugins/common/ctab.c and
 * plugins/common/portmap.c to the plugin's _SOURCES).
 *
 * A plugin's container struct begins with a struct ctab_entry (so a
 * pointer to one is a pointer to the other) and adds its own fields; the
 * table allocates entry_size bytes, zeroed, per container.  The owner is
 * both the key and the mapping owner (docker: the id; containerd: "NS/ID");
 * the label names the container in log lines (docker: the short id).
 *
 *   ctab_init(t, host, h, entry_size, max, describe)
 *   ctab_find(t, owner)              the entry, or NULL
 *   ctab_add(t, owner, label)        find, or add an empty entry; NULL (logged
 *                                    once per call) past max or out of memory
 *   ctab_free(t, e) / ctab_clear(t)  forget one / all (nothing is reported)
 *   ctab_set_maps(e, maps, n)        replace e's ports (takes the malloc'd array)
 *   ctab_report(t, e)                mapping_set of e's ports (n == 0 removes);
 *                                    e->reported says whether some are in force
 *   ctab_gone(t, e)                  the container stopped: mapping_remove once,
 *                                    forget its ports
 *   ctab_report_all(t, wanted)       one resync: every entry wanted() (NULL: with
 *                                    ports) is reported, the others are dropped
 *                                    by the commit; logs the count at debug
 */
#ifndef BROKER_PLUGINS_COMMON_CTAB_H
#define BROKER_PLUGINS_COMMON_CTAB_H

#include <stddef.h>

#include "plugins/common/portmap.h"

struct broker_host;
struct broker_plugin_handle;

#define CTAB_OWNER_MAX 160
#define CTAB_NAME_MAX 128

struct ctab_entry {
	struct ctab_entry *next;
	char owner[CTAB_OWNER_MAX];
	char label[CTAB_OWNER_MAX];
	char name[CTAB_NAME_MAX];       /* the container's name, "" when not known */
	unsigned epoch;                 /* bumped by each event about it */
	int reported;                   /* mapping_set with n > 0 is in force */
	size_t nmaps;
	struct portmap_binding *maps;
};

/* The description of e's mappings: "docker container web (0123456789ab)". */
typedef void (*ctab_describe_fn)(const struct ctab_entry *e, char *buf, size_t len);

struct ctab {
	const struct broker_host *host;
	struct broker_plugin_handle *h;
	size_t entry_size;
	size_t max;
	ctab_describe_fn describe;
	struct ctab_entry *head;
	size_t n;
};

void ctab_init(struct ctab *t, const struct broker_host *host, struct broker_plugin_handle *h,
               size_t entry_size, size_t max, ctab_describe_fn describe);
struct ctab_entry *ctab_find(const struct ctab *t, const char *owner);
struct ctab_entry *ctab_add(struct ctab *t, const char *owner, const char *label);
void ctab_free(struct ctab *t, struct ctab_entry *e);
void ctab_clear(struct ctab *t);
void ctab_set_maps(struct ctab_entry *e, struct portmap_binding *maps, size_t n);
void ctab_report(struct ctab *t, struct ctab_entry *e);
void ctab_gone(struct ctab *t, struct ctab_entry *e);
int ctab_report_all(struct ctab *t, int (*wanted)(const struct ctab_entry *e));

#endif
