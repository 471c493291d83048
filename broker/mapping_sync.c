/* mapping_sync.c - mappings across the link.  The exporting side sends its
 * complete set when the link comes up, then deltas since the generation the
 * peer acknowledged; changes are batched for a few milliseconds so a burst
 * (a resync of thousands of ports) travels as one message.  The receiving
 * side applies a delta only on top of the exact generation it holds, and
 * asks for the full set otherwise, so a reconnect re-syncs exactly. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/link.h"
#include "broker/log.h"
#include "broker/mapping_internal.h"
#include "broker/peer.h"
#include "broker/store.h"
#include "proto/link.pb-c.h"

#define TAG "mapping"
#define BATCH_MS 5

/* ------------------------------------------------------------ export */

static void sync_send(struct mapping_table *mt);

static void sync_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	sync_send(arg);
}

int mapping_sync_init(struct mapping_table *mt)
{
	mt->sync_timer = evtimer_new(mt->b->base, sync_timer_cb, mt);
	return mt->sync_timer ? 0 : -ENOMEM;
}

static void tombstones_drop(struct mapping_table *mt, uint64_t upto)
{
	struct mapping_tombstone **pp = &mt->tombstones;

	while (*pp) {
		struct mapping_tombstone *t = *pp;
		if (t->gen <= upto) {
			*pp = t->next;
			free(t->source);
			free(t->owner);
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

void mapping_sync_fini(struct mapping_table *mt)
{
	if (mt->sync_timer)
		event_free(mt->sync_timer);
	mt->sync_timer = NULL;
	tombstones_drop(mt, UINT64_MAX);
}

static void schedule(struct mapping_table *mt)
{
	struct timeval tv = { 0, BATCH_MS * 1000 };

	if (!evtimer_pending(mt->sync_timer, NULL))
		evtimer_add(mt->sync_timer, &tv);
}

void mapping_sync_changed(struct mapping_table *mt, struct mapping_group *g, struct mapping *m, bool exported)
{
	mt->generation++;
	if (exported) {
		m->gen = mt->generation;
	} else {
		struct mapping_tombstone *t = calloc(1, sizeof(*t));
		if (t && (t->source = strdup(g->source)) && (t->owner = strdup(g->owner))) {
			t->gen = mt->generation;
			t->proto = m->proto;
			snprintf(t->host_ip, sizeof(t->host_ip), "%s", m->host_ip);
			t->host_port = m->host_port;
			t->next = mt->tombstones;
			mt->tombstones = t;
		} else {
			/* Cannot remember the removal: make the next sync a full one. */
			if (t) {
				free(t->source);
				free(t);
			}
			mt->peer_has_full = false;
		}
	}
	schedule(mt);
}

/* Growable arrays for building a MappingSync. */
struct sync_msg {
	Broker__Link__MappingSync msg;
	Broker__Link__Mapping *ups;
	Broker__Link__Mapping **up_ptrs;
	Broker__Link__MappingKey *rms;
	Broker__Link__MappingKey **rm_ptrs;
	size_t nup, nrm;
};

static int count_export(struct mapping_table *mt, bool full, size_t *nup, size_t *nrm)
{
	*nup = *nrm = 0;
	for (struct mapping_group *g = mt->head; g; g = g->next)
		if (g->origin == MAPPING_LOCAL)
			for (struct mapping *m = g->maps; m; m = m->next)
				if (!m->conflict && (full || m->gen > mt->acked))
					(*nup)++;
	if (!full)
		for (struct mapping_tombstone *t = mt->tombstones; t; t = t->next)
			if (t->gen > mt->acked)
				(*nrm)++;
	return 0;
}

static int build_msg(struct mapping_table *mt, bool full, struct sync_msg *sm)
{
	size_t nup, nrm;

	memset(sm, 0, sizeof(*sm));
	broker__link__mapping_sync__init(&sm->msg);
	count_export(mt, full, &nup, &nrm);
	sm->ups = calloc(nup ? nup : 1, sizeof(*sm->ups));
	sm->up_ptrs = calloc(nup ? nup : 1, sizeof(*sm->up_ptrs));
	sm->rms = calloc(nrm ? nrm : 1, sizeof(*sm->rms));
	sm->rm_ptrs = calloc(nrm ? nrm : 1, sizeof(*sm->rm_ptrs));
	if (!sm->ups || !sm->up_ptrs || !sm->rms || !sm->rm_ptrs)
		return -ENOMEM;
	for (struct mapping_group *g = mt->head; g; g = g->next) {
		if (g->origin != MAPPING_LOCAL)
			continue;
		for (struct mapping *m = g->maps; m; m = m->next) {
			if (m->conflict || (!full && m->gen <= mt->acked))
				continue;
			Broker__Link__Mapping *pm = &sm->ups[sm->nup];
			broker__link__mapping__init(pm);
			pm->source = g->source;
			pm->owner = g->owner;
			pm->description = g->description;
			pm->proto = (uint32_t)m->proto;
			pm->host_ip = m->host_ip;
			pm->host_port = m->host_port;
			pm->n_connect = m->nconnect;
			pm->connect = m->connect;
			sm->up_ptrs[sm->nup++] = pm;
		}
	}
	for (struct mapping_tombstone *t = full ? NULL : mt->tombstones; t; t = t->next) {
		if (t->gen <= mt->acked)
			continue;
		Broker__Link__MappingKey *k = &sm->rms[sm->nrm];
		broker__link__mapping_key__init(k);
		k->source = t->source;
		k->owner = t->owner;
		k->proto = (uint32_t)t->proto;
		k->host_ip = t->host_ip;
		k->host_port = t->host_port;
		sm->rm_ptrs[sm->nrm++] = k;
	}
	sm->msg.epoch = mt->epoch;
	sm->msg.generation = mt->generation;
	sm->msg.base_generation = full ? 0 : mt->acked;
	sm->msg.full = full;
	sm->msg.n_upsert = sm->nup;
	sm->msg.upsert = sm->up_ptrs;
	sm->msg.n_remove = sm->nrm;
	sm->msg.remove = sm->rm_ptrs;
	return 0;
}

static void sync_msg_free(struct sync_msg *sm)
{
	free(sm->ups);
	free(sm->up_ptrs);
	free(sm->rms);
	free(sm->rm_ptrs);
}

static void on_sync_reply(void *arg, int err, Broker__Rpc__Status status, const char *errtext, const uint8_t *body,
                          size_t len)
{
	struct mapping_table *mt = arg;
	Broker__Link__MappingSyncReply *rep;

	mt->in_flight = false;
	if (err) {
		/* The link died: the next link gets a full set. */
		mt->peer_has_full = false;
		return;
	}
	if (status != BROKER__RPC__STATUS__OK) {
		log_warn(TAG, "the peer refused our mappings: %s", errtext && *errtext ? errtext : "no reason given");
		mt->peer_has_full = false;
		return;
	}
	rep = broker__link__mapping_sync_reply__unpack(NULL, len, body);
	if (!rep) {
		log_warn(TAG, "mapping sync reply does not decode; sending the full set next");
		mt->peer_has_full = false;
		schedule(mt);
		return;
	}
	if (rep->need_full) {
		log_info(TAG, "the peer asks for the full set (it holds generation %llu)",
		         (unsigned long long)rep->generation);
		mt->peer_has_full = false;
		mt->dirty = true;
	} else {
		mt->acked = rep->generation;
		mt->peer_has_full = true;
		tombstones_drop(mt, mt->acked);
	}
	broker__link__mapping_sync_reply__free_unpacked(rep, NULL);
	if (mt->dirty || mt->acked < mt->generation) {
		mt->dirty = false;
		sync_send(mt);
	}
}

static void sync_send(struct mapping_table *mt)
{
	struct link *l = peer_default_link(mt->b->peer);
	struct sync_msg sm;
	uint8_t *buf = NULL;
	size_t len;
	bool full;
	int rc;

	if (!l)
		return;
	if (mt->in_flight) {
		mt->dirty = true;
		return;
	}
	if (l != mt->sync_link) {
		mt->sync_link = l;
		mt->peer_has_full = false;
	}
	full = !mt->peer_has_full;
	if (!full && mt->acked == mt->generation)
		return;
	rc = build_msg(mt, full, &sm);
	if (rc == 0)
		rc = rpc_pack_message(&sm.msg.base, &buf, &len);
	if (rc == 0)
		rc = link_call(l, "mapping", "sync", buf, len, on_sync_reply, mt);
	if (rc == 0) {
		mt->in_flight = true;
		log_debug(TAG, "sent %s sync: generation %llu, %zu upserts, %zu removals", full ? "full" : "delta",
		          (unsigned long long)mt->generation, sm.nup, sm.nrm);
	} else {
		log_warn(TAG, "cannot send mappings to the peer: %s", strerror(-rc));
	}
	free(buf);
	sync_msg_free(&sm);
}

void mappings_link_up(struct mapping_table *mt, struct link *l)
{
	mt->sync_link = l;
	mt->peer_has_full = false;
	mt->in_flight = false;
	sync_send(mt);
}

void mappings_link_down(struct mapping_table *mt)
{
	mt->sync_link = NULL;
	mt->peer_has_full = false;
	mt->in_flight = false;
	for (struct mapping_group *g = mt->head; g; g = g->next)
		if (g->origin == MAPPING_PEER)
			for (struct mapping *m = g->maps; m; m = m->next)
				if (m->route || m->udp)
					mapping_set_state(mt, g, m, "waiting for the link (refusing on %s)", m->listen);
}

uint64_t mappings_generation(struct mapping_table *mt)
{
	return mt->generation;
}

/* ------------------------------------------------------------ import */

/* Where the peer's set stands, as held (and stored) here. */
struct import_state {
	char epoch[48];
	uint64_t generation;
};

static struct mapping *peer_find(struct mapping_group *g, enum broker_proto proto, const char *ip, uint16_t port)
{
	for (struct mapping *m = g->maps; m; m = m->next)
		if (m->proto == proto && m->host_port == port && !strcmp(m->host_ip, ip))
			return m;
	return NULL;
}

static void peer_remove(struct mapping_table *mt, struct mapping_group *g, struct mapping *m)
{
	struct mapping **pp = &g->maps;

	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (*pp)
		*pp = m->next;
	mapping_serve_stop(mt, m);
	mapping_emit(mt, g, m, "mapping.remove");
	mapping_free(m);
}

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

/* Apply one upsert; returns the mapping now in place (new or unchanged), NULL if refused. */
static struct mapping *apply_upsert(struct mapping_table *mt, const char *peer, const Broker__Link__Mapping *pm,
                                    uint64_t mark, bool *changed)
{
	struct mapping_group *g;
	struct mapping *m;

	*changed = false;
	if (pm->proto > BROKER_PROTO_UDP || pm->host_port == 0 || pm->host_port > 65535 || pm->n_connect == 0 ||
	    pm->n_connect > 16 || !pm->owner[0] || strlen(pm->host_ip) >= sizeof(m->host_ip)) {
		log_warn(TAG, "peer %s sent an invalid mapping (%s/%s port %u); ignored", peer, pm->source, pm->owner,
		         pm->host_port);
		return NULL;
	}
	g = group_get(mt, MAPPING_PEER, pm->source, pm->owner, peer);
	if (!g)
		return NULL;
	g->touched = mark;
	if (strcmp(g->description, pm->description)) {
		char *d = strdup(pm->description);
		if (d) {
			free(g->description);
			g->description = d;
		}
	}
	m = peer_find(g, (enum broker_proto)pm->proto, pm->host_ip, (uint16_t)pm->host_port);
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
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->connect = calloc(pm->n_connect, sizeof(*m->connect)))) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < pm->n_connect; i++)
		if ((m->connect[m->nconnect] = strdup(pm->connect[i])))
			m->nconnect++;
	m->group = g;
	m->proto = (enum broker_proto)pm->proto;
	snprintf(m->host_ip, sizeof(m->host_ip), "%s", pm->host_ip);
	m->host_port = (uint16_t)pm->host_port;
	m->gen = mark;
	m->seq = ++mt->seq;
	m->next = g->maps;
	g->maps = m;
	*changed = true;
	mapping_serve_index(mt, m);
	mapping_serve_start(mt, g, m);
	mapping_emit(mt, g, m, "mapping.add");
	return m;
}

static void apply_remove(struct mapping_table *mt, const char *peer, const Broker__Link__MappingKey *k)
{
	struct mapping_group *g = group_find(mt, MAPPING_PEER, k->source, k->owner);
	struct mapping *m;

	if (!g || strcmp(g->peer, peer))
		return;
	m = peer_find(g, (enum broker_proto)k->proto, k->host_ip, (uint16_t)k->host_port);
	if (m) {
		store_peer(mt, g, m, false);
		peer_remove(mt, g, m);
	}
	if (!g->maps)
		group_unlink_free(mt, g);
}

Broker__Rpc__Status mapping_rpc_sync(void *ctx, const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len,
                                     char *err, size_t errlen)
{
	struct link *l = ctx;
	struct peer_manager *pm = link_rpc_context(l);
	struct broker *b = peer_broker(pm);
	struct mapping_table *mt = b->mappings;
	Broker__Link__MappingSync *req = broker__link__mapping_sync__unpack(NULL, len, body);
	Broker__Link__MappingSyncReply rep = BROKER__LINK__MAPPING_SYNC_REPLY__INIT;
	struct import_state cur = { "", 0 };
	struct link_stats st;
	uint64_t mark = ++mt->resync_mark;
	size_t changed = 0;

	if (!req) {
		errfmt(err, errlen, -EINVAL, "mapping sync does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	link_get_stats(l, &st);
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
	if (req->full)
		store_mapping_delete_peer(b->store, st.peer_id);
	/*
	 * Removals first: a delta may hold both a removal and an upsert of one
	 * key (removed and added again within one batch), and the peer's set
	 * has it.  Upserting first would drop it, and a new owner of a port
	 * would briefly conflict with the one it replaces.
	 */
	if (!req->full) {
		for (size_t i = 0; i < req->n_remove; i++) {
			apply_remove(mt, st.peer_id, req->remove[i]);
			changed++;
		}
	}
	for (size_t i = 0; i < req->n_upsert; i++) {
		bool ch;
		struct mapping *m = apply_upsert(mt, st.peer_id, req->upsert[i], mark, &ch);
		if (m && (ch || req->full))
			store_peer(mt, m->group, m, true);
		changed += ch;
	}
	if (req->full) {
		/* Whatever the peer no longer lists goes. */
		for (struct mapping_group *g = mt->head, *next; g; g = next) {
			next = g->next;
			if (g->origin != MAPPING_PEER || strcmp(g->peer, st.peer_id))
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
	}
	store_sync_put(b->store, st.peer_id, req->epoch, req->generation);
	store_commit(b->store);
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
