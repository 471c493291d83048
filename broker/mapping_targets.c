/* mapping_targets.c - the guest side of the mappings this broker reported:
 * an index of their connect addresses, so an OPEN from the peer for one of
 * them is allowed in O(1) while everything else goes through the policy. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mapping_internal.h"
#include "broker/url.h"

static size_t target_bucket(enum broker_proto proto, const char *addr)
{
	uint32_t h = 2166136261u ^ (uint32_t)proto;

	for (; *addr; addr++)
		h = (h ^ (uint8_t)*addr) * 16777619u;
	return h & (TARGET_BUCKETS - 1);
}

int mapping_targets_add(struct mapping_table *mt, struct mapping *m)
{
	m->targets = calloc(m->nconnect ? m->nconnect : 1, sizeof(*m->targets));
	if (!m->targets)
		return -ENOMEM;
	for (size_t i = 0; i < m->nconnect; i++) {
		struct mapping_target *t = &m->targets[i];
		size_t b = target_bucket(m->proto, m->connect[i]);
		t->m = m;
		t->i = i;
		t->next = mt->target_index[b];
		mt->target_index[b] = t;
	}
	return 0;
}

void mapping_targets_remove(struct mapping_table *mt, struct mapping *m)
{
	if (!m->targets)
		return;
	for (size_t i = 0; i < m->nconnect; i++) {
		struct mapping_target **pp = &mt->target_index[target_bucket(m->proto, m->connect[i])];
		while (*pp && *pp != &m->targets[i])
			pp = &(*pp)->next;
		if (*pp)
			*pp = m->targets[i].next;
	}
	free(m->targets);
	m->targets = NULL;
}

bool mappings_reported_target(struct mapping_table *mt, const char *target)
{
	enum broker_proto proto;
	struct url u;
	bool found = false;

	if (!mt || url_parse(target, &u, NULL, 0) < 0)
		return false;
	/* Exactly what the peer's listener opens: scheme://HOST:PORT, nothing more. */
	if (u.is_peer || u.pub.nparams > 0 || mapping_proto_parse(u.pub.scheme, &proto) < 0)
		goto out;
	for (struct mapping_target *t = mt->target_index[target_bucket(proto, u.pub.address)]; t && !found; t = t->next)
		found = t->m->proto == proto && !t->m->conflict && !strcmp(t->m->connect[t->i], u.pub.address);
out:
	url_free(&u);
	return found;
}
