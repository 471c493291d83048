/* mapping_import.c - the peer's mappings arriving here (mapping.sync on
 * the link): check each one, apply the delta or the full set, store it, and
 * serve each mapping as a listener (mapping_serve.c).
 *
 * The peer is not trusted to be reasonable: a sync bigger than
 * --mapping-max-sync-entries is refused before it is decoded, at most
 * --mapping-max-per-peer mappings are held for one peer, host addresses
 * must be numeric and connect addresses HOST:PORT, and every lookup is
 * indexed (mapping_index.c), so one message costs time in proportion to its
 * size. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/util.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/link.h"
#include "broker/log.h"
#include "broker/mapping_internal.h"
#include "broker/peer.h"
#include "broker/platform_net.h"
#include "broker/printf_attr.h"
#include "broker/store.h"
#include "broker/url.h"
#include "proto/link.pb-c.h"

#define TAG "mapping"

/* Where the peer's set stands, as held (and stored) here. */
struct import_state {
	char epoch[48];
	uint64_t generation;
};

/* What one sync refused, for one summary line instead of a line per entry. */
struct import_tally {
	size_t invalid, over_cap;
	char first_invalid[200];
};

static void store_peer(struct mapping_table *mt, const struct mapping_group *g, const struct mapping *m, bool put)
{
	char connect[1024] = "";
	size_t off = 0;

	for (size_t i = 0; i < m->nconnect && off < sizeof(connect); i++)
		off += (size_t)snprintf(connect + off, sizeof(connect) - off, "%s%s", i ? " " : "", m->connect[i]);
	struct store_mapping sm = {
		.origin = MAPPING_PEER, .peer = g->peer, .source = g->source, .owner = g->owner,
		.description = g->description, .proto = m->proto, .host_ip = m->host_ip, .host_port = m->host_port,
		.connect = connect,
	};
	if (put)
		store_mapping_put(mt->b->store, &sm);
	else
		store_mapping_delete(mt->b->store, &sm);
}

static void peer_remove(struct mapping_table *mt, struct mapping_group *g, struct mapping *m)
{
	mapping_serve_stop(mt, m);
	mapping_peer_del(mt, m);
	mapping_emit(mt, g, m, "mapping.remove");
	mapping_free(m);
}

/* This peer's mappings held here. */
static size_t peer_count(struct mapping_table *mt, const char *peer)
{
	size_t n = 0;

	for (struct mapping_group *g = mt->head; g; g = g->next)
		if (g->origin == MAPPING_PEER && !strcmp(g->peer, peer))
			for (struct mapping *m = g->maps; m; m = m->next)
				n++;
	return n;
}

static bool numeric_ip(const char *ip)
{
	unsigned char addr[16];

	return evutil_inet_pton(AF_INET, ip, addr) == 1 || evutil_inet_pton(AF_INET6, ip, addr) == 1;
}

/* NULL when pm may be applied, else why not. */
static const char *upsert_invalid(const Broker__Link__Mapping *pm)
{
	if (pm->proto > BROKER_PROTO_UDP)
		return "unknown protocol";
	if (pm->host_port == 0 || pm->host_port > 65535)
		return "host port out of range";
	if (!pm->owner[0] || !pm->source[0])
		return "no source or owner";
	if (strlen(pm->host_ip) >= sizeof(((struct mapping *)0)->host_ip) || !numeric_ip(pm->host_ip))
		return "host ip is not an IPv4 or IPv6 address";
	if (pm->n_connect == 0 || pm->n_connect > 16)
		return "needs 1 to 16 connect addresses";
	for (size_t i = 0; i < pm->n_connect; i++) {
		char host[256], why[256];
		unsigned port;
		if (url_split_host_port(pm->connect[i], NULL, host, sizeof(host), &port, why, sizeof(why)) < 0 ||
		    port == 0 || !host[0] || strpbrk(pm->connect[i], "?#/ "))
			return "a connect address is not HOST:PORT";
	}
	return NULL;
}

static void tally_invalid(struct import_tally *t, const Broker__Link__Mapping *pm, const char *why)
{
	if (!t->invalid++)
		snprintf(t->first_invalid, sizeof(t->first_invalid), "%.40s/%.40s port %u: %s", pm->source, pm->owner,
		         pm->host_port, why);
}

/*
 * Apply one upsert; returns the mapping now in place (new or unchanged),
 * NULL if refused.  *room: how many new mappings this peer may still add.
 */
static struct mapping *apply_upsert(struct mapping_table *mt, const char *peer, const Broker__Link__Mapping *pm,
                                    uint64_t mark, size_t *room, struct import_tally *t, bool *changed)
{
	const char *why = upsert_invalid(pm);
	struct mapping_group *g;
	struct mapping *m;

	*changed = false;
	if (why) {
		tally_invalid(t, pm, why);
		return NULL;
	}
	g = group_find(mt, MAPPING_PEER, pm->source, pm->owner);
	m = g ? mapping_peer_find(mt, g, (enum broker_proto)pm->proto, pm->host_ip, (uint16_t)pm->host_port) : NULL;
	if (!m && *room == 0) {
		t->over_cap++;
		return NULL;
	}
	if (!g && !(g = group_get(mt, MAPPING_PEER, pm->source, pm->owner, peer)))
		return NULL;
	g->touched = mark;
	if (strcmp(g->description, pm->description)) {
		char *d = strdup(pm->description);
		if (d) {
			free(g->description);
			g->description = d;
		}
	}
	if (m) {
		bool same = m->nconnect == pm->n_connect;
		for (size_t i = 0; same && i < m->nconnect; i++)
			same = !strcmp(m->connect[i], pm->connect[i]);
		if (same) {
			m->gen = mark;
			/* Back after the link was down: it forwards again. */
			if (m->route || m->udp)
				mapping_set_state(mt, g, m, "listening on %s", m->listen);
			return m;
		}
		peer_remove(mt, g, m);
		(*room)++;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->connect = calloc(pm->n_connect, sizeof(*m->connect)))) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < pm->n_connect; i++)
		if ((m->connect[m->nconnect] = strdup(pm->connect[i])))
			m->nconnect++;
	m->proto = (enum broker_proto)pm->proto;
	snprintf(m->host_ip, sizeof(m->host_ip), "%s", pm->host_ip);
	m->host_port = (uint16_t)pm->host_port;
	m->gen = mark;
	m->seq = ++mt->seq;
	if (mapping_peer_add(mt, g, m) < 0) {
		mapping_free(m);
		return NULL;
	}
	(*room)--;
	*changed = true;
	mapping_serve_start(mt, g, m);
	mapping_emit(mt, g, m, "mapping.add");
	return m;
}

static bool apply_remove(struct mapping_table *mt, const char *peer, const Broker__Link__MappingKey *k)
{
	struct mapping_group *g = group_find(mt, MAPPING_PEER, k->source, k->owner);
	struct mapping *m;

	if (!g || strcmp(g->peer, peer))
		return false;
	m = mapping_peer_find(mt, g, (enum broker_proto)k->proto, k->host_ip, (uint16_t)k->host_port);
	if (m) {
		store_peer(mt, g, m, false);
		peer_remove(mt, g, m);
	}
	if (!g->maps)
		group_unlink_free(mt, g);
	return m != NULL;
}

/*
 * Count the upserts and removals of an encoded MappingSync without decoding
 * it (decoding is what costs memory): its top-level fields 5 and 6.
 * -EINVAL when the wire format does not parse (the decoder will say so).
 */
static int count_entries(const uint8_t *p, size_t len, size_t *n)
{
	const uint8_t *end = p + len;

	*n = 0;
	while (p < end) {
		uint64_t key = 0, v = 0;
		unsigned shift = 0;

		do {
			if (p >= end || shift > 63)
				return -EINVAL;
			key |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
		} while (*p++ & 0x80);
		switch (key & 7) {
		case 0:
		case 2:
			shift = 0;
			do {
				if (p >= end || shift > 63)
					return -EINVAL;
				v |= (uint64_t)(*p & 0x7f) << shift;
				shift += 7;
			} while (*p++ & 0x80);
			if ((key & 7) == 2) {
				if (v > (uint64_t)(end - p))
					return -EINVAL;
				p += v;
				if ((key >> 3) == 5 || (key >> 3) == 6)
					(*n)++;
			}
			break;
		case 1:
			if (end - p < 8)
				return -EINVAL;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return -EINVAL;
			p += 4;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* A warning the peer can provoke with every message: at most one a second. */
static void warn_limited(const char *fmt, ...) BROKER_PRINTF(1, 2);
static void warn_limited(const char *fmt, ...)
{
	static time_t last;
	static unsigned long suppressed;
	time_t now = time(NULL);
	char text[512];
	va_list ap;

	if (now == last) {
		suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (suppressed)
		log_warn(TAG, "%s (and %lu more warnings like it, not logged)", text, suppressed);
	else
		log_warn(TAG, "%s", text);
	last = now;
	suppressed = 0;
}

/* Full set: whatever the peer no longer lists goes (first, so what it lists fits the cap). */
static size_t drop_unlisted(struct mapping_table *mt, const char *peer, const Broker__Link__MappingSync *req,
                            uint64_t mark)
{
	size_t changed = 0;

	for (size_t i = 0; i < req->n_upsert; i++) {
		const Broker__Link__Mapping *pm = req->upsert[i];
		struct mapping_group *g = group_find(mt, MAPPING_PEER, pm->source, pm->owner);
		struct mapping *m = g ? mapping_peer_find(mt, g, (enum broker_proto)pm->proto, pm->host_ip,
		                                          (uint16_t)pm->host_port)
		                      : NULL;
		if (m)
			m->gen = mark;
	}
	for (struct mapping_group *g = mt->head, *next; g; g = next) {
		next = g->next;
		if (g->origin != MAPPING_PEER || strcmp(g->peer, peer))
			continue;
		for (struct mapping *m = g->maps, *mn; m; m = mn) {
			mn = m->next;
			if (m->gen != mark) {
				peer_remove(mt, g, m);
				changed++;
			}
		}
		if (!g->maps)
			group_unlink_free(mt, g);
	}
	return changed;
}

Broker__Rpc__Status mapping_rpc_sync(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                     char *err, size_t errlen)
{
	struct link *l = ctx;
	struct peer_manager *pm = link_rpc_context(l);
	struct broker *b = peer_broker(pm);
	struct mapping_table *mt = b->mappings;
	const struct broker_limits *lim = &b->cfg.limits;
	Broker__Link__MappingSync *req;
	Broker__Link__MappingSyncReply rep = BROKER__LINK__MAPPING_SYNC_REPLY__INIT;
	struct import_state cur = { "", 0 };
	struct import_tally tally = { 0 };
	struct link_stats st;
	uint64_t mark = ++mt->resync_mark;
	size_t changed = 0, entries, held, room;

	link_get_stats(l, &st);
	if (count_entries(body, len, &entries) == 0 && entries > (size_t)lim->mapping_sync_entries) {
		warn_limited("peer %s: a mapping sync of %zu entries refused (limit %d, --mapping-max-sync-entries)",
		             st.peer_id, entries, lim->mapping_sync_entries);
		errfmt(err, errlen, -E2BIG,
		       "mapping sync of %zu entries is over the limit of %d here (--mapping-max-sync-entries on %s)", entries,
		       lim->mapping_sync_entries, peer_broker_id(pm));
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	req = broker__link__mapping_sync__unpack(NULL, len, body);
	if (!req) {
		errfmt(err, errlen, -EINVAL, "mapping sync does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	store_sync_get(b->store, st.peer_id, cur.epoch, sizeof(cur.epoch), &cur.generation);
	if (!req->full && (strcmp(req->epoch, cur.epoch) || req->base_generation != cur.generation)) {
		rep.need_full = true;
		rep.generation = cur.generation;
		broker__link__mapping_sync__free_unpacked(req, NULL);
		return rpc_pack_message(&rep.base, reply, reply_len) < 0 ? BROKER__RPC__STATUS__ERROR
		                                                          : BROKER__RPC__STATUS__OK;
	}
	/* One transaction for the whole batch: one fsync, and all or nothing on disk. */
	store_begin(b->store);
	if (req->full) {
		store_mapping_delete_peer(b->store, st.peer_id);
		changed += drop_unlisted(mt, st.peer_id, req, mark);
	} else {
		/* Removals first: a mapping removed and added again since base_generation is in both. */
		for (size_t i = 0; i < req->n_remove; i++)
			changed += apply_remove(mt, st.peer_id, req->remove[i]);
	}
	held = peer_count(mt, st.peer_id);
	room = held < (size_t)lim->mapping_per_peer ? (size_t)lim->mapping_per_peer - held : 0;
	for (size_t i = 0; i < req->n_upsert; i++) {
		bool ch;
		struct mapping *m = apply_upsert(mt, st.peer_id, req->upsert[i], mark, &room, &tally, &ch);
		if (m && (ch || req->full))
			store_peer(mt, m->group, m, true);
		changed += ch;
	}
	store_sync_put(b->store, st.peer_id, req->epoch, req->generation);
	store_commit(b->store);
	if (tally.invalid)
		warn_limited("peer %s sent %zu invalid mapping(s), ignored; the first: %s", st.peer_id, tally.invalid,
		             tally.first_invalid);
	if (tally.over_cap)
		warn_limited("peer %s: %zu mapping(s) ignored: it holds %d here already (limit, --mapping-max-per-peer)",
		             st.peer_id, tally.over_cap, lim->mapping_per_peer);
	log_debug(TAG, "peer %s: %s sync to generation %llu: %zu upserts, %zu removals, %zu changes", st.peer_id,
	          req->full ? "full" : "delta", (unsigned long long)req->generation, req->n_upsert, req->n_remove,
	          changed);
	rep.generation = req->generation;
	broker__link__mapping_sync__free_unpacked(req, NULL);
	if (rpc_pack_message(&rep.base, reply, reply_len) < 0) {
		errfmt(err, errlen, -ENOMEM, "out of memory");
		return BROKER__RPC__STATUS__ERROR;
	}
	return BROKER__RPC__STATUS__OK;
}
