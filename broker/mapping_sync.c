/* mapping_sync.c - mappings across the link.  The exporting side sends its
 * complete set when the link comes up, then deltas since the generation the
 * peer acknowledged; changes are batched for a few milliseconds so a burst
 * (a resync of thousands of ports) travels as one message.  The receiving
 * side (mapping_import.c) applies a delta only on top of the exact
 * generation it holds, and asks for the full set otherwise, so a reconnect
 * re-syncs exactly. */
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
	if (err == -ETIMEDOUT) {
		/* No answer in time (the reply, if it comes, is ignored): start over with the full set. */
		log_warn(TAG, "mapping sync: %s; sending the full set again", errtext);
		mt->peer_has_full = false;
		schedule(mt);
		return;
	}
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
