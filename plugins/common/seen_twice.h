/*
 * plugins/common/seen_twice.h - the "seen in two scans" debounce of the
 * polling watchers (iptables, procnet).  Compiled into each plugin that
 * uses it (add plugins/common/seen_twice.c to the plugin's _SOURCES).
 *
 * A watcher that polls keeps a table of what its last complete scan found,
 * sorted by key.  An entry is reported once it was found, with the same
 * content, in two consecutive complete scans (so things that live shorter
 * than one interval never are), and removed after the first complete scan
 * it is missing from.  Nothing is reported before the second complete
 * scan: that one reports the whole view as one snapshot (resync), so
 * owners left over from an earlier run of the broker are dropped.
 *
 * The entries are the plugin's own structs; each holds a struct
 * seen_twice_mark at ops->mark.  A scan's new table replaces the old one
 * after seen_twice_merge(ops, ctx, synced, old, nold, cur, ncur), which
 *   - carries each key's count over from old (restarting it when the
 *     content differs: ops->same) and lets ops->carry copy the rest;
 *   - calls ops->gone(ctx, old) for a reported entry that is gone (once
 *     synced);
 *   - for an entry seen twice that is new, or whose content changed since
 *     it was reported (ops->changed), calls ops->confirm(ctx, e), marks it
 *     reported and calls ops->report(ctx, e) (once synced).
 * seen_twice_scan_done(&t) counts complete scans and says (once) when the
 * first snapshot is due; seen_twice_report_all(ops, ctx, tab, n) calls
 * ops->report for every reported entry of one table (for that snapshot and
 * for a resync the core asks for).
 */
#ifndef BROKER_PLUGINS_COMMON_SEEN_TWICE_H
#define BROKER_PLUGINS_COMMON_SEEN_TWICE_H

#include <stddef.h>

struct seen_twice_mark {
	int seen;                       /* consecutive scans with this content, capped at 2 */
	int reported;                   /* the core has it */
};

struct seen_twice_ops {
	size_t size;                    /* bytes of one entry */
	size_t mark;                    /* offsetof(entry, its struct seen_twice_mark) */
	int (*cmp)(const void *a, const void *b);                /* the key order of the tables */
	int (*same)(const void *cur, const void *old);           /* NULL: the key says it all */
	void (*carry)(void *cur, const void *old);               /* NULL: nothing more to keep */
	int (*changed)(const void *e);                           /* NULL: reported is final */
	void (*confirm)(void *ctx, void *e);                     /* NULL: nothing to remember */
	void (*report)(void *ctx, void *e);
	void (*gone)(void *ctx, const void *old);
};

/* The scan counter of one watcher. */
struct seen_twice {
	int scans;                      /* complete scans so far */
	int synced;                     /* the first snapshot was reported */
};

void seen_twice_merge(const struct seen_twice_ops *ops, void *ctx, int synced, const void *old,
                      size_t nold, void *cur, size_t ncur);

/* One more complete scan.  1 exactly once: when the first snapshot is due (synced is set). */
int seen_twice_scan_done(struct seen_twice *t);

void seen_twice_report_all(const struct seen_twice_ops *ops, void *ctx, void *tab, size_t n);

#endif
