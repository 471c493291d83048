/*
 * plugins/containerd/ctrd_resync.c - the containerd watcher's resync (see
 * containerd.h): list the namespaces (namespace=all), then per namespace
 * Containers.List (those with the nerdctl/ports label) and Tasks.List,
 * collect what they say, and replace the view with it as one resync: a
 * container counts while its init task runs.  Events that arrived while the
 * lists were in flight win over them.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/containerd/containerd.h"

/* ------------------------------------------------------------- resync */

static struct ct_seen *seen_get(struct ct_state *st, const char *ns, const char *id)
{
	size_t i;

	for (i = 0; i < st->nseen; i++)
		if (strcmp(st->seen[i].id, id) == 0 && strcmp(st->seen[i].ns, ns) == 0)
			return &st->seen[i];
	if (st->nseen >= CT_CONTAINERS_MAX * 2)
		return NULL;
	if (st->nseen == st->seencap) {
		size_t cap = st->seencap ? st->seencap * 2 : 64;
		struct ct_seen *n = realloc(st->seen, cap * sizeof(*n));

		if (!n)
			return NULL;
		st->seen = n;
		st->seencap = cap;
	}
	memset(&st->seen[st->nseen], 0, sizeof(st->seen[0]));
	snprintf(st->seen[st->nseen].ns, sizeof(st->seen[0].ns), "%s", ns);
	snprintf(st->seen[st->nseen].id, sizeof(st->seen[0].id), "%s", id);
	st->seen[st->nseen].status = -1;
	return &st->seen[st->nseen++];
}

void ct_seen_clear(struct ct_state *st)
{
	size_t i;

	for (i = 0; i < st->nseen; i++)
		free(st->seen[i].ports);
	free(st->seen);
	st->seen = NULL;
	st->nseen = st->seencap = 0;
}

/* Every list answered: rebuild the view (events during the resync win), report it all. */
static void ct_resync_finish(struct ct_state *st)
{
	struct ct_container *ct, *next;
	size_t i;

	st->resync_left = -1;
	for (i = 0; i < st->nseen; i++) {
		struct ct_seen *s = &st->seen[i];

		if (!s->has_ct || !ct_task_alive(s->status))
			continue;
		ct = ct_find(st, s->ns, s->id);
		if (ct && ct->touched_gen == st->gen)
			continue;
		if (!ct && !(ct = ct_find_or_add(st, s->ns, s->id)))
			continue;
		ct->alive = 1;
		ct->touched_gen = st->gen;      /* confirmed */
		snprintf(ct->e.name, sizeof(ct->e.name), "%s", s->name);
		ct_set_ports(st, ct, s->ports, s->ports_len);
	}
	for (ct = (struct ct_container *)st->containers.head; ct; ct = next) {
		next = (struct ct_container *)ct->e.next;
		if (ct->touched_gen != st->gen || !ct->alive)
			ctab_free(&st->containers, &ct->e);
	}
	ct_seen_clear(st);
	ct_report_all(st);
	if (st->failures)
		ct_host->log(st->h, BROKER_LOG_INFO, "connected to containerd at %s again; resynced", st->socket);
	st->failures = 0;
	st->backoff_ms = CT_BACKOFF_MIN_MS;
}

static void list_namespace(struct ct_state *st, const char *ns)
{
	struct ct_req *a = ct_req_new(st, R_CT_LIST, ns, NULL), *b = ct_req_new(st, R_TASK_LIST, ns, NULL);

	if (!a || !b || ct_req_send(a) < 0 || ct_req_send(b) < 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "namespace %s: cannot send the list requests", ns);
		ct_teardown(st);
		return;
	}
	st->resync_left += 2;
}

void ct_resync_start(struct ct_state *st)
{
	struct ct_req *q, *next;

	/* a resync in flight is superseded */
	for (q = st->reqs; q; q = next) {
		next = q->next;
		if (q->kind == R_NS_LIST || q->kind == R_CT_LIST || q->kind == R_TASK_LIST)
			ct_req_free(q);
	}
	ct_seen_clear(st);
	st->gen++;
	st->resync_left = 0;
	if (!st->ns) {
		q = ct_req_new(st, R_NS_LIST, NULL, NULL);
		if (!q || ct_req_send(q) < 0) {
			ct_host->log(st->h, BROKER_LOG_ERROR, "cannot send Namespaces.List");
			ct_teardown(st);
			return;
		}
		st->resync_left = 1;
		return;
	}
	list_namespace(st, st->ns);
}

static void ns_each(void *arg, const char *name)
{
	struct ct_state *st = arg;

	if (st->resync_left < 0 || !st->conn)
		return;
	list_namespace(st, name);
}

static void ct_each(void *arg, const char *id, const char *ports, size_t ports_len, const char *name)
{
	struct ct_req *q = arg;
	struct ct_seen *s = seen_get(q->st, q->ns, id);

	if (!s)
		return;
	s->has_ct = 1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	free(s->ports);
	s->ports = NULL;
	s->ports_len = 0;
	if (ports && (s->ports = malloc(ports_len + 1))) {
		memcpy(s->ports, ports, ports_len + 1);
		s->ports_len = ports_len;
	}
}

static void task_each(void *arg, const char *id, int status)
{
	struct ct_req *q = arg;
	struct ct_seen *s = seen_get(q->st, q->ns, id);

	if (s)
		s->status = status;
}

/* A list call of the running resync ended. */
void ct_list_done(struct ct_state *st, struct ct_req *q, int status, const char *message)
{
	static const char *const names[] = { [R_NS_LIST] = "Namespaces.List", [R_CT_LIST] = "Containers.List",
		                             [R_TASK_LIST] = "Tasks.List" };
	char err[256];
	int n = 0;

	if (q->gen != st->gen || st->resync_left <= 0)
		return;
	if (status != CT_GRPC_OK || q->nmsg != 1) {
		ct_host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_ERROR, "%s %s: %s (status %d)",
		          names[q->kind], q->ns, status ? message : "no answer", status);
		ct_teardown(st);
		return;
	}
	switch (q->kind) {
	case R_NS_LIST:
		n = ct_parse_namespaces(q->msg, q->msglen, ns_each, st, err, sizeof(err));
		if (n > CT_NAMESPACES_MAX)
			ct_host->log(st->h, BROKER_LOG_WARN, "%d namespaces", n);
		break;
	case R_CT_LIST:
		n = ct_parse_container_list(q->msg, q->msglen, ct_each, q, ct_plog, st, err, sizeof(err));
		break;
	case R_TASK_LIST:
		n = ct_parse_task_list(q->msg, q->msglen, task_each, q, err, sizeof(err));
		break;
	default:
		break;
	}
	if (n < 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "%s %s: %s", names[q->kind], q->ns, err);
		ct_teardown(st);
		return;
	}
	if (!st->conn)
		return;         /* torn down meanwhile */
	ct_host->log(st->h, BROKER_LOG_DEBUG, "%s %s: %d entries", names[q->kind], q->ns, n);
	if (--st->resync_left == 0)
		ct_resync_finish(st);
}

