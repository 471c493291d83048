/*
 * plugins/common/seen_twice.c - the "seen in two scans" debounce of the
 * polling watchers (see seen_twice.h).
 */
#include <config.h>

#include <stddef.h>

#include "plugins/common/seen_twice.h"

static void *entry(const struct seen_twice_ops *ops, const void *tab, size_t i)
{
	return (char *)tab + i * ops->size;
}

static struct seen_twice_mark *mark_of(const struct seen_twice_ops *ops, const void *e)
{
	return (struct seen_twice_mark *)(void *)((char *)e + ops->mark);
}

void seen_twice_merge(const struct seen_twice_ops *ops, void *ctx, int synced, const void *old,
                      size_t nold, void *cur, size_t ncur)
{
	size_t i, j = 0;

	/* Both tables are sorted: walk them together. */
	for (i = 0; i < nold; i++) {
		const void *o = entry(ops, old, i);
		const struct seen_twice_mark *om = mark_of(ops, o);
		int c = 1;

		while (j < ncur && (c = ops->cmp(entry(ops, cur, j), o)) < 0)
			j++;
		if (j < ncur && c == 0) {
			void *e = entry(ops, cur, j);
			struct seen_twice_mark *m = mark_of(ops, e);

			m->seen = !ops->same || ops->same(e, o) ? (om->seen + 1 > 2 ? 2 : om->seen + 1) : 1;
			m->reported = om->reported;
			if (ops->carry)
				ops->carry(e, o);
		} else if (om->reported && synced) {
			ops->gone(ctx, o);
		}
	}
	for (j = 0; j < ncur; j++) {
		void *e = entry(ops, cur, j);
		struct seen_twice_mark *m = mark_of(ops, e);

		if (m->seen == 0)
			m->seen = 1;
		if (m->seen < 2 || (m->reported && !(ops->changed && ops->changed(e))))
			continue;
		/* confirmed, and new or changed */
		if (ops->confirm)
			ops->confirm(ctx, e);
		m->reported = 1;
		if (synced)
			ops->report(ctx, e);
	}
}

int seen_twice_scan_done(struct seen_twice *t)
{
	t->scans++;
	if (t->synced || t->scans < 2)
		return 0;
	t->synced = 1;
	return 1;
}

void seen_twice_report_all(const struct seen_twice_ops *ops, void *ctx, void *tab, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (mark_of(ops, entry(ops, tab, i))->reported)
			ops->report(ctx, entry(ops, tab, i));
}
