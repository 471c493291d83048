/* mapping.c - the table of published ports.  Local mappings come from
 * watchers and `brokerctl mapping add`; the core deduplicates them, settles
 * port conflicts (first come wins), and exports the winners to the peer.
 * Peer mappings arrive over the link and become listeners here
 * (mapping_serve.c).  Sync is by generation: a full set when the link comes
 * up, deltas after that (mapping_sync.c). */
#include <config.h>

#include <event2/util.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "broker/broker.h"
#include "broker/display.h"
#include "broker/errfmt.h"
#include "broker/log.h"
#include "broker/mapping_internal.h"
#include "broker/store.h"
#include "broker/url.h"

#define TAG "mapping"
#define NBUCKETS 4096

/* ------------------------------------------------------------ names */

int mapping_proto_parse(const char *s, enum broker_proto *out)
{
	if (!strcmp(s, "tcp") || !strcmp(s, "TCP"))
		*out = BROKER_PROTO_TCP;
	else if (!strcmp(s, "udp") || !strcmp(s, "UDP"))
		*out = BROKER_PROTO_UDP;
	else
		return -EINVAL;
	return 0;
}

const char *mapping_proto_name(enum broker_proto p)
{
	return p == BROKER_PROTO_UDP ? "udp" : "tcp";
}

/* ------------------------------------------------------------ table */

static bool source_yields(const struct mapping_table *mt, const char *source);
static void on_yield_timer(evutil_socket_t fd, short what, void *arg);

static uint32_t hash_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return (h ^ 0xff) * 16777619u;
}

static size_t group_bucket(enum mapping_origin origin, const char *source, const char *owner)
{
	uint32_t h = 2166136261u ^ (uint32_t)origin;

	h = hash_str(h, source);
	h = hash_str(h, owner);
	return h & (NBUCKETS - 1);
}

int mappings_create(struct broker *b, struct mapping_table **out)
{
	struct mapping_table *mt = calloc(1, sizeof(*mt));
	uint8_t raw[8];

	if (!mt || !(mt->groups = calloc(NBUCKETS, sizeof(*mt->groups)))) {
		free(mt);
		return -ENOMEM;
	}
	mt->b = b;
	/* A new epoch each start: the peer then knows our generations restarted. */
	FILE *f = fopen("/dev/urandom", "rb");
	if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw))
		memset(raw, 0, sizeof(raw));
	if (f)
		fclose(f);
	snprintf(mt->epoch, sizeof(mt->epoch), "%lx-%02x%02x%02x%02x%02x%02x%02x%02x", (unsigned long)time(NULL),
	         raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
	if (mapping_sync_init(mt) < 0) {
		free(mt->groups);
		free(mt);
		return -ENOMEM;
	}
	/* NULL without a loop (unit tests): yielding mappings then wait for their next report. */
	mt->yield_timer = b->base ? evtimer_new(b->base, on_yield_timer, mt) : NULL;
	*out = mt;
	return 0;
}

struct mapping_group *group_find(struct mapping_table *mt, enum mapping_origin origin, const char *source,
                                 const char *owner)
{
	for (struct mapping_group *g = mt->groups[group_bucket(origin, source, owner)]; g; g = g->hnext)
		if (g->origin == origin && !strcmp(g->source, source) && !strcmp(g->owner, owner))
			return g;
	return NULL;
}

struct mapping_group *group_get(struct mapping_table *mt, enum mapping_origin origin, const char *source,
                                const char *owner, const char *peer)
{
	struct mapping_group *g = group_find(mt, origin, source, owner);
	size_t b;

	if (g)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g || !(g->source = strdup(source)) || !(g->owner = strdup(owner)) ||
	    !(g->peer = strdup(peer ? peer : "")) || !(g->description = strdup(""))) {
		if (g) {
			free(g->source);
			free(g->owner);
			free(g->peer);
		}
		free(g);
		return NULL;
	}
	g->origin = origin;
	g->yields = origin == MAPPING_LOCAL && source_yields(mt, source);
	b = group_bucket(origin, source, owner);
	g->hnext = mt->groups[b];
	mt->groups[b] = g;
	/* Keep a list in creation order so listings and conflict winners are stable. */
	g->prev = mt->tail;
	if (mt->tail)
		mt->tail->next = g;
	else
		mt->head = g;
	mt->tail = g;
	return g;
}

void mapping_free(struct mapping *m)
{
	free(m->targets);
	for (size_t i = 0; i < m->nconnect; i++)
		free(m->connect[i]);
	free(m->connect);
	free(m);
}

void group_unlink_free(struct mapping_table *mt, struct mapping_group *g)
{
	struct mapping_group **pp = &mt->groups[group_bucket(g->origin, g->source, g->owner)];

	while (*pp && *pp != g)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = g->hnext;
	if (g->prev)
		g->prev->next = g->next;
	else
		mt->head = g->next;
	if (g->next)
		g->next->prev = g->prev;
	else
		mt->tail = g->prev;
	while (g->maps) {
		struct mapping *m = g->maps;
		g->maps = m->next;
		mapping_free(m);
	}
	free(g->source);
	free(g->owner);
	free(g->peer);
	free(g->description);
	free(g);
}

/* ------------------------------------------------------------ validation */

/* Normalise and check one reported mapping into *out (owned copies). */
static int mapping_from_report(const struct broker_mapping *in, struct mapping *out, char *err, size_t errlen)
{
	unsigned char addr[16];
	const char *ip = in->host_ip && *in->host_ip ? in->host_ip : "0.0.0.0";

	memset(out, 0, sizeof(*out));
	if (in->proto != BROKER_PROTO_TCP && in->proto != BROKER_PROTO_UDP)
		return errfmt(err, errlen, -EINVAL, "unknown protocol %d", (int)in->proto);
	if (in->host_port == 0)
		return errfmt(err, errlen, -EINVAL, "host port 0 is not a port");
	if (evutil_inet_pton(AF_INET, ip, addr) != 1 && evutil_inet_pton(AF_INET6, ip, addr) != 1)
		return errfmt(err, errlen, -EINVAL, "host ip '%.64s' is not an IPv4 or IPv6 address", ip);
	if (in->nconnect == 0 || in->nconnect > 16 || !in->connect)
		return errfmt(err, errlen, -EINVAL, "needs 1 to 16 connect addresses (has %zu)", in->nconnect);
	out->proto = in->proto;
	snprintf(out->host_ip, sizeof(out->host_ip), "%s", ip);
	out->host_port = in->host_port;
	out->connect = calloc(in->nconnect, sizeof(*out->connect));
	if (!out->connect)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < in->nconnect; i++) {
		char host[256], why[256];
		unsigned port;
		if (!in->connect[i] || url_split_host_port(in->connect[i], NULL, host, sizeof(host), &port, why,
		                                           sizeof(why)) < 0 || port == 0 || !host[0]) {
			errfmt(err, errlen, -EINVAL, "connect address '%.128s' is not HOST:PORT",
			       in->connect[i] ? in->connect[i] : "(null)");
			goto fail;
		}
		if (!(out->connect[out->nconnect++] = strdup(in->connect[i]))) {
			errfmt(err, errlen, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	for (size_t i = 0; i < out->nconnect; i++)
		free(out->connect[i]);
	free(out->connect);
	out->connect = NULL;
	return -EINVAL;
}

static bool same_endpoint(const struct mapping *a, const struct mapping *b)
{
	return a->proto == b->proto && a->host_port == b->host_port && !strcmp(a->host_ip, b->host_ip);
}

bool mapping_same_target(const struct mapping *a, const struct mapping *b)
{
	if (a->nconnect != b->nconnect)
		return false;
	for (size_t i = 0; i < a->nconnect; i++)
		if (strcmp(a->connect[i], b->connect[i]))
			return false;
	return true;
}

static bool is_v6(const char *ip)
{
	return strchr(ip, ':') != NULL;
}

/* Two local mappings want the same port if protocol, port and address family overlap. */
static bool overlaps(const struct mapping *a, const struct mapping *b)
{
	if (a->proto != b->proto || a->host_port != b->host_port || is_v6(a->host_ip) != is_v6(b->host_ip))
		return false;
	return !strcmp(a->host_ip, b->host_ip) || !strcmp(a->host_ip, "0.0.0.0") || !strcmp(b->host_ip, "0.0.0.0") ||
	       !strcmp(a->host_ip, "::") || !strcmp(b->host_ip, "::");
}

/* ------------------------------------------------------------ local conflicts */

size_t mapping_port_bucket(enum broker_proto proto, uint16_t port)
{
	return ((size_t)proto * 65536u + port) & (PORT_BUCKETS - 1);
}

static size_t port_bucket(enum broker_proto proto, uint16_t port)
{
	return mapping_port_bucket(proto, port);
}

static void port_index_add(struct mapping_table *mt, struct mapping *m)
{
	size_t b = port_bucket(m->proto, m->host_port);

	m->pnext = mt->ports[b];
	mt->ports[b] = m;
	if (mapping_targets_add(mt, m) < 0)
		log_warn(TAG, "out of memory indexing %s port %u: the peer cannot open it", mapping_proto_name(m->proto),
		         m->host_port);
}

static void port_index_remove(struct mapping_table *mt, struct mapping *m)
{
	struct mapping **pp = &mt->ports[port_bucket(m->proto, m->host_port)];

	while (*pp && *pp != m)
		pp = &(*pp)->pnext;
	if (*pp)
		*pp = m->pnext;
	mapping_targets_remove(mt, m);
}

/* Who, among active local mappings of other owners, holds what m wants? */
/*
 * Who, among active local mappings of other owners, holds what m wants?  A
 * yielding source's mapping never holds against another source's: the
 * other watcher knows the port's owner better (docker-proxy's listener is a
 * container's port).
 */
static struct mapping_group *conflict_holder(struct mapping_table *mt, struct mapping_group *self,
                                             const struct mapping *m)
{
	for (struct mapping *o = mt->ports[port_bucket(m->proto, m->host_port)]; o; o = o->pnext)
		if (o->group != self && !o->conflict && overlaps(o, m) &&
		    !(o->group->yields && !self->yields))
			return o->group;
	return NULL;
}

/* A yielding mapping on m's port gives it up: no longer exported, listed or announced. */
static void shadow_yielding(struct mapping_table *mt, struct mapping_group *g, const struct mapping *m)
{
	char id[80];

	for (struct mapping *o = mt->ports[port_bucket(m->proto, m->host_port)]; o; o = o->pnext) {
		if (o->group == g || !o->group->yields || o->conflict || !overlaps(o, m))
			continue;
		log_debug(TAG, "%s/%s %s port %u: ignored while %s/%s reports it", o->group->source, o->group->owner,
		          mapping_proto_name(o->proto), o->host_port, g->source,
		          display_short_id(id, sizeof(id), g->owner));
		o->conflict = true;
		o->shadowed = true;
		mapping_sync_changed(mt, o->group, o, false);
		if (o->exported_once)
			mapping_emit(mt, o->group, o, "mapping.remove");
		/* Should it come back, it comes back as new. */
		o->exported_once = false;
	}
}

static void set_local_state(struct mapping_table *mt, struct mapping_group *g, struct mapping *m)
{
	struct mapping_group *holder = conflict_holder(mt, g, m);
	bool was = m->conflict;
	char state[sizeof(m->state)], holder_id[80];

	m->conflict = holder != NULL;
	m->shadowed = holder && g->yields && !holder->yields;
	if (m->shadowed) {
		/* Not a conflict anyone needs to see: the port is the other watcher's. */
		display_short_id(holder_id, sizeof(holder_id), holder->owner);
		snprintf(m->state, sizeof(m->state), "ignored: %s/%s reports this port", holder->source, holder_id);
		log_debug(TAG, "%s/%s %s port %u: ignored while %s/%s reports it", g->source, g->owner,
		          mapping_proto_name(m->proto), m->host_port, holder->source, holder_id);
		return;
	}
	if (!m->conflict)
		shadow_yielding(mt, g, m);
	if (holder)
		snprintf(state, sizeof(state), "conflict: %s/%s port %u is taken by %s/%s%s%s",
		         mapping_proto_name(m->proto), m->host_ip, m->host_port, holder->source,
		         display_short_id(holder_id, sizeof(holder_id), holder->owner), holder->description[0] ? " " : "",
		         holder->description);
	else
		snprintf(state, sizeof(state), "exported");
	if (!m->exported_once) {
		/* New: announced as what it is. */
		m->exported_once = true;
		memcpy(m->state, state, sizeof(state));
		mapping_sync_changed(mt, g, m, !m->conflict);
		mapping_emit(mt, g, m, m->conflict ? "mapping.conflict" : "mapping.add");
	} else if (was != m->conflict) {
		/* A conflict settled (or began): the same mapping, in a new state. */
		mapping_sync_changed(mt, g, m, !m->conflict);
		mapping_set_state(mt, g, m, "%s", state);
	}
}

#define YIELD_GRACE_MS 3000

/*
 * After a removal, a mapping that lost a conflict may now win it (earliest
 * first).  A yielding one waits: when a container stops, its docker-proxy
 * listener goes a moment after its watcher's mapping, and taking the port
 * over in between would open and close it on the peer for nothing.
 */
static void recheck_conflicts(struct mapping_table *mt, const struct mapping *freed)
{
	for (;;) {
		struct mapping *best = NULL;
		for (struct mapping *m = mt->ports[port_bucket(freed->proto, freed->host_port)]; m; m = m->pnext) {
			if (!m->conflict || !overlaps(m, freed) || conflict_holder(mt, m->group, m))
				continue;
			if (m->shadowed) {
				struct timeval tv = { YIELD_GRACE_MS / 1000, (YIELD_GRACE_MS % 1000) * 1000 };
				if (mt->yield_timer && !evtimer_pending(mt->yield_timer, NULL))
					evtimer_add(mt->yield_timer, &tv);
				continue;
			}
			if (!best || m->seq < best->seq)
				best = m;
		}
		if (!best)
			return;
		set_local_state(mt, best->group, best);
	}
}

/* The grace is over: yielding mappings still reported take free ports over. */
static void on_yield_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mapping_table *mt = arg;

	for (struct mapping_group *g = mt->head; g; g = g->next)
		if (g->origin == MAPPING_LOCAL && g->yields)
			for (struct mapping *m = g->maps; m; m = m->next)
				if (m->shadowed && !conflict_holder(mt, g, m)) {
					m->shadowed = false;
					set_local_state(mt, g, m);
				}
}

void mappings_source_yields(struct mapping_table *mt, const char *source)
{
	for (size_t i = 0; i < sizeof(mt->yielding) / sizeof(mt->yielding[0]); i++) {
		if (!strcmp(mt->yielding[i], source))
			return;
		if (!mt->yielding[i][0]) {
			snprintf(mt->yielding[i], sizeof(mt->yielding[i]), "%s", source);
			/* Groups reported before this call learn it too. */
			for (struct mapping_group *g = mt->head; g; g = g->next)
				if (g->origin == MAPPING_LOCAL && !strcmp(g->source, source))
					g->yields = true;
			return;
		}
	}
}

static bool source_yields(const struct mapping_table *mt, const char *source)
{
	for (size_t i = 0; i < sizeof(mt->yielding) / sizeof(mt->yielding[0]) && mt->yielding[i][0]; i++)
		if (!strcmp(mt->yielding[i], source))
			return true;
	return false;
}

static void store_local(struct mapping_table *mt, struct mapping_group *g, const struct mapping *m, bool put)
{
	char connect[1024] = "";
	size_t off = 0;

	/* Only manual mappings outlive a restart: watchers report theirs again. */
	if (strcmp(g->source, MAPPING_SOURCE_MANUAL) != 0)
		return;
	for (size_t i = 0; i < m->nconnect && off < sizeof(connect); i++)
		off += (size_t)snprintf(connect + off, sizeof(connect) - off, "%s%s", i ? " " : "", m->connect[i]);
	struct store_mapping sm = {
		.origin = MAPPING_LOCAL, .source = g->source, .owner = g->owner, .description = g->description,
		.proto = m->proto, .host_ip = m->host_ip, .host_port = m->host_port, .connect = connect,
	};
	if (put)
		store_mapping_put(mt->b->store, &sm);
	else
		store_mapping_delete(mt->b->store, &sm);
}

static void local_remove_one(struct mapping_table *mt, struct mapping_group *g, struct mapping *m)
{
	struct mapping **pp = &g->maps;

	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (*pp)
		*pp = m->next;
	port_index_remove(mt, m);
	if (!m->conflict)
		mapping_sync_changed(mt, g, m, false);
	if (!m->shadowed)
		mapping_emit(mt, g, m, "mapping.remove");
	store_local(mt, g, m, false);
	if (!m->conflict)
		recheck_conflicts(mt, m);
	mapping_free(m);
}

int mappings_set(struct mapping_table *mt, const char *source, const char *owner, const char *description,
                 const struct broker_mapping *in, size_t n, char *err, size_t errlen)
{
	struct mapping_group *g;
	struct mapping *fresh = NULL, **tail = &fresh;
	int bad = 0;
	char why[256];

	if (!owner || !*owner || strlen(owner) > 256)
		return errfmt(err, errlen, -EINVAL, "%s: owner id must be 1-256 characters", source);
	if (n > 4096)
		return errfmt(err, errlen, -E2BIG, "%s/%s: %zu mappings for one owner (at most 4096)", source, owner, n);
	/* Validate everything first: a bad entry is dropped, the rest still applies. */
	for (size_t i = 0; i < n; i++) {
		struct mapping tmp, *m;
		if (mapping_from_report(&in[i], &tmp, why, sizeof(why)) < 0) {
			log_warn(TAG, "%s/%s: ignoring mapping %zu: %s", source, owner, i, why);
			if (!bad++)
				errfmt(err, errlen, -EINVAL, "%s/%s: %s", source, owner, why);
			continue;
		}
		bool dup = false;
		for (struct mapping *f = fresh; f; f = f->next)
			dup = dup || same_endpoint(f, &tmp);
		if (dup) {
			for (size_t k = 0; k < tmp.nconnect; k++)
				free(tmp.connect[k]);
			free(tmp.connect);
			continue;
		}
		m = malloc(sizeof(*m));
		if (!m) {
			bad++;
			break;
		}
		*m = tmp;
		*tail = m;
		tail = &m->next;
	}
	g = group_find(mt, MAPPING_LOCAL, source, owner);
	if (!g && !fresh)
		return bad ? -EINVAL : 0;
	if (!g && !(g = group_get(mt, MAPPING_LOCAL, source, owner, NULL))) {
		while (fresh) {
			struct mapping *m = fresh;
			fresh = m->next;
			mapping_free(m);
		}
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	g->touched = mt->resync_mark;
	if (description && strcmp(description, g->description)) {
		char *d = strdup(description);
		if (d) {
			free(g->description);
			g->description = d;
		}
	}
	/* Remove what is no longer reported (or changed target), keep what is unchanged. */
	for (struct mapping *m = g->maps, *next; m; m = next) {
		next = m->next;
		bool keep = false;
		for (struct mapping *f = fresh; f; f = f->next)
			if (same_endpoint(f, m) && mapping_same_target(f, m))
				keep = true;
		if (!keep)
			local_remove_one(mt, g, m);
	}
	while (fresh) {
		struct mapping *f = fresh, *m;
		fresh = f->next;
		for (m = g->maps; m && !same_endpoint(m, f); m = m->next)
			;
		if (m) {
			mapping_free(f);
			continue;
		}
		f->next = g->maps;
		g->maps = f;
		f->group = g;
		f->seq = ++mt->seq;
		port_index_add(mt, f);
		store_local(mt, g, f, true);
		set_local_state(mt, g, f);
	}
	if (!g->maps)
		group_unlink_free(mt, g);
	return bad ? -EINVAL : 0;
}

int mappings_remove_owner(struct mapping_table *mt, const char *source, const char *owner)
{
	struct mapping_group *g = group_find(mt, MAPPING_LOCAL, source, owner);

	if (!g)
		return -ENOENT;
	while (g->maps)
		local_remove_one(mt, g, g->maps);
	group_unlink_free(mt, g);
	return 0;
}

int mappings_resync_begin(struct mapping_table *mt, const char *source)
{
	/* Owners set from now on carry the new mark; commit drops the others of this source. */
	mt->resync_mark++;
	log_debug(TAG, "%s: resync begins", source);
	return 0;
}

int mappings_resync_commit(struct mapping_table *mt, const char *source)
{
	size_t dropped = 0;

	for (struct mapping_group *g = mt->head, *next; g; g = next) {
		next = g->next;
		if (g->origin != MAPPING_LOCAL || strcmp(g->source, source) || g->touched == mt->resync_mark)
			continue;
		while (g->maps)
			local_remove_one(mt, g, g->maps);
		group_unlink_free(mt, g);
		dropped++;
	}
	log_debug(TAG, "%s: resync done, %zu stale owner(s) removed", source, dropped);
	return 0;
}

void mappings_drop_source(struct mapping_table *mt, const char *source)
{
	for (struct mapping_group *g = mt->head, *next; g; g = next) {
		next = g->next;
		if (g->origin == MAPPING_LOCAL && !strcmp(g->source, source)) {
			while (g->maps)
				local_remove_one(mt, g, g->maps);
			group_unlink_free(mt, g);
		}
	}
}

/* ------------------------------------------------------------ restore */

static int restore_local(void *arg, const struct store_mapping *sm)
{
	struct mapping_table *mt = arg;
	const char *addrs[16];
	char copy[1024];
	size_t n = 0;
	char *save = NULL;
	char err[256];

	snprintf(copy, sizeof(copy), "%s", sm->connect);
	for (char *t = strtok_r(copy, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
		addrs[n++] = t;
	struct broker_mapping bm = {
		.proto = (enum broker_proto)sm->proto, .host_ip = sm->host_ip, .host_port = (uint16_t)sm->host_port,
		.nconnect = n, .connect = addrs,
	};
	struct mapping_group *g = group_find(mt, MAPPING_LOCAL, sm->source, sm->owner);
	/* Several rows per owner: add to what is there instead of replacing it. */
	size_t have = 0;
	for (struct mapping *m = g ? g->maps : NULL; m; m = m->next)
		have++;
	struct broker_mapping *all = calloc(have + 1, sizeof(*all));
	const char ***conn = calloc(have + 1, sizeof(*conn));
	if (!all || !conn) {
		free(all);
		free(conn);
		return 0;
	}
	size_t i = 0;
	for (struct mapping *m = g ? g->maps : NULL; m; m = m->next, i++) {
		all[i].proto = m->proto;
		all[i].host_ip = m->host_ip;
		all[i].host_port = m->host_port;
		all[i].nconnect = m->nconnect;
		all[i].connect = (const char *const *)m->connect;
	}
	all[i++] = bm;
	if (mappings_set(mt, sm->source, sm->owner, sm->description, all, i, err, sizeof(err)) < 0)
		log_warn(TAG, "stored mapping %s/%s: %s", sm->source, sm->owner, err);
	free(all);
	free(conn);
	return 0;
}

int mappings_restore(struct mapping_table *mt)
{
	store_mapping_foreach(mt->b->store, MAPPING_LOCAL, restore_local, mt);
	return mapping_serve_restore(mt);
}

/* ------------------------------------------------------------ listing */

void mapping_info_fill(const struct mapping_group *g, const struct mapping *m, struct mapping_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->origin = g->origin;
	mi->source = g->source;
	mi->owner = g->owner;
	mi->description = g->description;
	mi->proto = m->proto;
	mi->host_ip = m->host_ip;
	mi->host_port = m->host_port;
	mi->nconnect = m->nconnect;
	mi->connect = (const char *const *)m->connect;
	mi->state = m->state;
	mi->listen = m->listen;
	mapping_serve_counters(m, &mi->counters);
}

int mappings_foreach(struct mapping_table *mt, int (*fn)(void *arg, const struct mapping_info *mi), void *arg)
{
	for (struct mapping_group *g = mt->head; g; g = g->next)
		for (struct mapping *m = g->maps; m; m = m->next) {
			struct mapping_info mi;
			int rc;
			if (m->shadowed)
				continue;
			mapping_info_fill(g, m, &mi);
			if ((rc = fn(arg, &mi)))
				return rc;
		}
	return 0;
}

size_t mappings_count(struct mapping_table *mt, enum mapping_origin origin)
{
	size_t n = 0;

	for (struct mapping_group *g = mt->head; g; g = g->next)
		if (g->origin == origin)
			for (struct mapping *m = g->maps; m; m = m->next)
				n += !m->shadowed;
	return n;
}

void mappings_set_listener(struct mapping_table *mt, mapping_event_fn fn, void *arg)
{
	mt->on_event = fn;
	mt->on_event_arg = arg;
}

void mapping_emit(struct mapping_table *mt, const struct mapping_group *g, const struct mapping *m, const char *kind)
{
	struct mapping_info mi;

	if (!mt->on_event)
		return;
	mapping_info_fill(g, m, &mi);
	mt->on_event(mt->on_event_arg, kind, &mi);
}

void mapping_set_state(struct mapping_table *mt, const struct mapping_group *g, struct mapping *m, const char *fmt, ...)
{
	char state[sizeof(m->state)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	if (!strcmp(state, m->state))
		return;
	memcpy(m->state, state, sizeof(state));
	mapping_emit(mt, g, m, "mapping.state");
}

void mappings_destroy(struct mapping_table *mt)
{
	if (!mt)
		return;
	mt->destroying = true;
	mapping_sync_fini(mt);
	if (mt->yield_timer)
		event_free(mt->yield_timer);
	while (mt->head) {
		struct mapping_group *g = mt->head;
		if (g->origin == MAPPING_PEER)
			for (struct mapping *m = g->maps; m; m = m->next)
				mapping_serve_stop(mt, m);
		group_unlink_free(mt, g);
	}
	mapping_index_fini(mt);
	free(mt->groups);
	free(mt);
}
