/* mapping_index.c - the indexes that keep work on the peer's mappings
 * proportional to what a sync changes, never to how many mappings there
 * are: a hash of peer mappings by their key (group, protocol, host ip,
 * port), O(1) unlinking from their group, and the listen slots (one per
 * address served here: who holds it, who waits for it).  A peer can send
 * thousands of mappings on one port with different host addresses; a scan
 * of the port's list per mapping made one sync of 30,000 stall the loop for
 * 15 s. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mapping_internal.h"

#define INITIAL_BUCKETS 256

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t key_hash(const struct mapping_group *g, enum broker_proto proto, const char *ip, uint16_t port)
{
	uint32_t h = 2166136261u;

	h = fnv(h, &g, sizeof(g));
	h = fnv(h, &proto, sizeof(proto));
	h = fnv(h, &port, sizeof(port));
	return fnv(h, ip, strlen(ip));
}

static uint32_t slot_hash(enum broker_proto proto, const char *url)
{
	uint32_t h = 2166136261u;

	h = fnv(h, &proto, sizeof(proto));
	return fnv(h, url, strlen(url));
}

/* ------------------------------------------------------------ group lists */

void mapping_peer_link(struct mapping_group *g, struct mapping *m)
{
	m->next = g->maps;
	if (g->maps)
		g->maps->prevp = &m->next;
	g->maps = m;
	m->prevp = &g->maps;
}

static void group_unlink(struct mapping *m)
{
	if (!m->prevp)
		return;
	*m->prevp = m->next;
	if (m->next)
		m->next->prevp = m->prevp;
	m->next = NULL;
	m->prevp = NULL;
}

/* ------------------------------------------------------------ keys */

/* Double the buckets when the table is fuller than one entry per bucket. */
static int keys_grow(struct mapping_table *mt)
{
	size_t n = mt->nkey_buckets ? mt->nkey_buckets * 2 : INITIAL_BUCKETS;
	struct mapping **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < mt->nkey_buckets; i++) {
		for (struct mapping *m = mt->keys[i], *next; m; m = next) {
			next = m->knext;
			size_t b = key_hash(m->group, m->proto, m->host_ip, m->host_port) & (n - 1);
			m->knext = nb[b];
			nb[b] = m;
		}
	}
	free(mt->keys);
	mt->keys = nb;
	mt->nkey_buckets = n;
	return 0;
}

struct mapping *mapping_peer_find(struct mapping_table *mt, struct mapping_group *g, enum broker_proto proto,
                                  const char *ip, uint16_t port)
{
	if (!mt->nkey_buckets)
		return NULL;
	for (struct mapping *m = mt->keys[key_hash(g, proto, ip, port) & (mt->nkey_buckets - 1)]; m; m = m->knext)
		if (m->group == g && m->proto == proto && m->host_port == port && !strcmp(m->host_ip, ip))
			return m;
	return NULL;
}

int mapping_peer_add(struct mapping_table *mt, struct mapping_group *g, struct mapping *m)
{
	size_t b;

	if (mt->nkeys >= mt->nkey_buckets && keys_grow(mt) < 0 && !mt->nkey_buckets)
		return -ENOMEM;   /* a failed grow keeps the old table: longer chains, still correct */
	m->group = g;
	b = key_hash(g, m->proto, m->host_ip, m->host_port) & (mt->nkey_buckets - 1);
	m->knext = mt->keys[b];
	mt->keys[b] = m;
	mt->nkeys++;
	mapping_peer_link(g, m);
	return 0;
}

void mapping_peer_del(struct mapping_table *mt, struct mapping *m)
{
	if (mt->nkey_buckets) {
		struct mapping **pp =
			&mt->keys[key_hash(m->group, m->proto, m->host_ip, m->host_port) & (mt->nkey_buckets - 1)];
		while (*pp && *pp != m)
			pp = &(*pp)->knext;
		if (*pp) {
			*pp = m->knext;
			mt->nkeys--;
		}
	}
	m->knext = NULL;
	group_unlink(m);
}

/* ------------------------------------------------------------ listen slots */

static int slots_grow(struct mapping_table *mt)
{
	size_t n = mt->nslot_buckets ? mt->nslot_buckets * 2 : INITIAL_BUCKETS;
	struct mapping_slot **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < mt->nslot_buckets; i++) {
		for (struct mapping_slot *s = mt->slots[i], *next; s; s = next) {
			next = s->hnext;
			size_t b = slot_hash(s->proto, s->url) & (n - 1);
			s->hnext = nb[b];
			nb[b] = s;
		}
	}
	free(mt->slots);
	mt->slots = nb;
	mt->nslot_buckets = n;
	return 0;
}

struct mapping_slot *mapping_slot_get(struct mapping_table *mt, enum broker_proto proto, const char *url)
{
	struct mapping_slot *s;
	size_t b;

	if (mt->nslot_buckets)
		for (s = mt->slots[slot_hash(proto, url) & (mt->nslot_buckets - 1)]; s; s = s->hnext)
			if (s->proto == proto && !strcmp(s->url, url))
				return s;
	if (mt->nslots >= mt->nslot_buckets && slots_grow(mt) < 0 && !mt->nslot_buckets)
		return NULL;
	s = calloc(1, sizeof(*s) + strlen(url) + 1);
	if (!s)
		return NULL;
	s->proto = proto;
	memcpy(s->url, url, strlen(url) + 1);
	s->wtail = &s->waiting;
	b = slot_hash(proto, url) & (mt->nslot_buckets - 1);
	s->hnext = mt->slots[b];
	mt->slots[b] = s;
	mt->nslots++;
	return s;
}

void mapping_slot_release(struct mapping_table *mt, struct mapping_slot *s)
{
	struct mapping_slot **pp;

	if (!s || s->served || s->waiting || s->busy)
		return;
	pp = &mt->slots[slot_hash(s->proto, s->url) & (mt->nslot_buckets - 1)];
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = s->hnext;
		mt->nslots--;
	}
	free(s);
}

static void slot_unwait(struct mapping_slot *s, struct mapping *m)
{
	*m->wprevp = m->wnext;
	if (m->wnext)
		m->wnext->wprevp = m->wprevp;
	else
		s->wtail = m->wprevp;
	m->wnext = NULL;
	m->wprevp = NULL;
}

void mapping_slot_wait(struct mapping_slot *s, struct mapping *m)
{
	if (m->slot)
		return;
	m->slot = s;
	m->wnext = NULL;
	m->wprevp = s->wtail;
	*s->wtail = m;
	s->wtail = &m->wnext;
}

void mapping_slot_hold(struct mapping_slot *s, struct mapping *m)
{
	if (m->slot == s && m->wprevp)
		slot_unwait(s, m);
	m->slot = s;
	s->served = m;
}

struct mapping_slot *mapping_slot_leave(struct mapping *m)
{
	struct mapping_slot *s = m->slot;

	if (!s)
		return NULL;
	m->slot = NULL;
	if (s->served == m)
		s->served = NULL;
	else if (m->wprevp)
		slot_unwait(s, m);
	return s;
}

struct mapping *mapping_slot_next(struct mapping_slot *s)
{
	struct mapping *m = s->waiting;

	if (m) {
		slot_unwait(s, m);
		m->slot = NULL;
	}
	return m;
}

void mapping_index_fini(struct mapping_table *mt)
{
	for (size_t i = 0; i < mt->nslot_buckets; i++)
		while (mt->slots[i]) {
			struct mapping_slot *s = mt->slots[i];
			mt->slots[i] = s->hnext;
			free(s);
		}
	free(mt->slots);
	free(mt->keys);
	mt->slots = NULL;
	mt->keys = NULL;
	mt->nslot_buckets = mt->nkey_buckets = 0;
}
