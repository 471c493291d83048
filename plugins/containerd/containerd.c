/*
 * plugins/containerd/containerd.c - watcher plugin: ports published by
 * containerd containers (nerdctl's "nerdctl/ports" label) while their task
 * runs, from containerd's gRPC API on its unix socket.
 *
 *   brokerd --watch containerd[,socket=/run/k3s/containerd/containerd.sock][,namespace=default|all|NS]
 *
 * On start (and after every reconnect) it opens Events.Subscribe, filtered
 * to /tasks/start, /tasks/exit, /tasks/delete, /containers/update and
 * /containers/delete (and to the namespace unless namespace=all), then lists
 * namespaces (namespace=all), and per namespace Containers.List (those with
 * the label) and Tasks.List, and reports the complete view as one resync:
 * a container counts while its init task is running, paused or pausing.
 * containerd sends no response headers before the first event, so the
 * subscription may not be in force when the lists are answered; a second
 * resync 2 s later closes that window.
 *
 * Events:
 *   /tasks/start       -> Containers.Get (labels) -> mapping_set
 *   /containers/update -> the labels in the event, for a container whose task runs
 *   /tasks/exit        -> Tasks.Get: NotFound or not running -> mapping_remove;
 *                         still running -> kept (an exec exit is ignored)
 *   /tasks/delete, /containers/delete -> mapping_remove
 * Each event bumps the container's epoch and answers asked under an older
 * epoch are dropped, so a slow Get never resurrects a stopped container.
 * Events that arrive while a resync is in flight win over the lists.
 *
 * When the stream or the connection fails (containerd restarting), every
 * call is dropped and it reconnects after 0.2 s, doubling up to 10 s, then
 * resyncs; the last reported view stays meanwhile.  Owners are "NS/ID".
 *
 * Linux only (unix sockets); needs libnghttp2 and protobuf-c.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/plugin.h"
#include "plugins/common/ctab.h"
#include "plugins/common/portmap.h"
#include "ctrd.h"
#include "grpc.h"

static const struct broker_host *host;

#define CT_MSG_MAX (16u * 1024 * 1024)    /* one gRPC message */
#define CT_CONTAINERS_MAX 10000
#define CT_NAMESPACES_MAX 256
#define CT_PARALLEL 8
#define CT_CALL_TIMEOUT_MS 30000
#define CT_BACKOFF_MIN_MS 200
#define CT_BACKOFF_MAX_MS 10000
#define CT_RECHECK_MS 2000

#define P_SUBSCRIBE "/containerd.services.events.v1.Events/Subscribe"
#define P_CT_GET "/containerd.services.containers.v1.Containers/Get"
#define P_CT_LIST "/containerd.services.containers.v1.Containers/List"
#define P_TASK_GET "/containerd.services.tasks.v1.Tasks/Get"
#define P_TASK_LIST "/containerd.services.tasks.v1.Tasks/List"
#define P_NS_LIST "/containerd.services.namespaces.v1.Namespaces/List"

struct ct_state;

/* One container: its entry in the table (owner "NS/ID"; maps: the label's ports, one connect address each). */
struct ct_container {
	struct ctab_entry e;
	char ns[CT_ID_MAX + 1];
	char id[CT_ID_MAX + 1];
	unsigned touched_gen;           /* an event about it arrived during resync generation N */
	int alive;                      /* its task runs (as far as events told) */
};

enum ct_req_kind { R_SUBSCRIBE, R_NS_LIST, R_CT_LIST, R_TASK_LIST, R_CT_GET, R_TASK_GET };

struct ct_req {
	struct ct_state *st;
	struct ct_req *next;            /* in st->reqs (every live request) */
	struct ct_req *qnext;           /* in st->queue (not yet started) */
	enum ct_req_kind kind;
	struct gc_call *call;
	char ns[CT_ID_MAX + 1];
	char id[CT_ID_MAX + 1];
	unsigned epoch;
	unsigned gen;                   /* resync generation (lists) */
	uint8_t *msg;                   /* the answer of a unary call */
	size_t msglen;
	int nmsg;
};

/* One container or task seen by the lists of the running resync. */
struct ct_seen {
	char ns[CT_ID_MAX + 1];
	char id[CT_ID_MAX + 1];
	char name[CT_NAME_MAX];
	char *ports;
	size_t ports_len;
	int has_ct;
	int status;                     /* -1: no task */
};

struct ct_state {
	struct broker_plugin_handle *h;
	char *socket;
	char *ns;                       /* NULL: all namespaces */
	int started;

	struct gc_conn *conn;
	struct broker_timer *retry, *recheck;
	long backoff_ms;
	int failures;

	struct ct_req *reqs;
	struct ct_req *queue, **queue_tail;
	int ninflight;

	unsigned gen;                   /* resync generation */
	int resync_left;                /* list calls the running resync waits for; -1: none */
	struct ct_seen *seen;
	size_t nseen, seencap;

	struct ctab containers;          /* of struct ct_container */
};

static void teardown(struct ct_state *st);
static void resync_start(struct ct_state *st);

/* ------------------------------------------------------------- logging */

static void plog(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void plog(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	struct ct_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	host->vlog(st->h, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- view */

static struct ct_container *find(struct ct_state *st, const char *ns, const char *id)
{
	char owner[CTAB_OWNER_MAX];

	snprintf(owner, sizeof(owner), "%s/%s", ns, id);
	return (struct ct_container *)ctab_find(&st->containers, owner);
}

static struct ct_container *find_or_add(struct ct_state *st, const char *ns, const char *id)
{
	struct ct_container *ct;
	char owner[CTAB_OWNER_MAX];

	snprintf(owner, sizeof(owner), "%s/%s", ns, id);
	ct = (struct ct_container *)ctab_add(&st->containers, owner, owner);
	if (ct && !ct->id[0]) {
		snprintf(ct->ns, sizeof(ct->ns), "%s", ns);
		snprintf(ct->id, sizeof(ct->id), "%s", id);
	}
	return ct;
}

static void describe(const struct ctab_entry *e, char *buf, size_t len)
{
	const struct ct_container *ct = (const struct ct_container *)e;

	/* The owner is NAMESPACE/ID and the source says containerd: a name is what is left to say. */
	snprintf(buf, len, "%s", e->name[0] && strcmp(e->name, ct->id) ? e->name : "");
}

/* The task is gone: report the removal once and forget the ports. */
static void gone(struct ct_state *st, struct ct_container *ct)
{
	ct->alive = 0;
	ctab_gone(&st->containers, &ct->e);
}

/* Replace ct's ports with the label's (NULL: no label); errors leave no ports. */
static void set_ports(struct ct_state *st, struct ct_container *ct, const char *label, size_t len)
{
	struct ct_map *maps = NULL;
	struct portmap_binding *b = NULL;
	size_t n = 0, skipped = 0, i;
	char err[256];

	if (label) {
		if (ct_parse_ports(label, len, ct->e.owner, &maps, &n, &skipped, plog, st, err, sizeof(err)) < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "container %s: %s; no mapping", ct->e.owner, err);
			maps = NULL;
			n = 0;
		}
	}
	if (n && !(b = calloc(n, sizeof(*b)))) {
		host->log(st->h, BROKER_LOG_ERROR, "container %s: out of memory; no mapping", ct->e.owner);
		n = 0;
	}
	for (i = 0; i < n; i++) {
		b[i].proto = maps[i].proto;
		snprintf(b[i].host_ip, sizeof(b[i].host_ip), "%s", maps[i].host_ip);
		b[i].host_port = maps[i].host_port;
		b[i].container_port = maps[i].container_port;
		b[i].nconnect = 1;
		snprintf(b[i].connect[0], sizeof(b[i].connect[0]), "%s", maps[i].connect);
	}
	free(maps);
	ctab_set_maps(&ct->e, b, n);
}

static int alive_with_ports(const struct ctab_entry *e)
{
	return ((const struct ct_container *)e)->alive && e->nmaps;
}

static void report_all(struct ct_state *st)
{
	ctab_report_all(&st->containers, alive_with_ports);
}

/* ------------------------------------------------------------- requests */

static const struct gc_call_callbacks ct_call_cbs;

static void req_free(struct ct_req *q)
{
	struct ct_req **pp;

	for (pp = &q->st->reqs; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	if (q->call)
		gc_call_cancel(q->call);
	free(q->msg);
	free(q);
}

static struct ct_req *req_new(struct ct_state *st, enum ct_req_kind kind, const char *ns, const char *id)
{
	struct ct_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->st = st;
	q->kind = kind;
	q->gen = st->gen;
	if (ns)
		snprintf(q->ns, sizeof(q->ns), "%s", ns);
	if (id)
		snprintf(q->id, sizeof(q->id), "%s", id);
	q->next = st->reqs;
	st->reqs = q;
	return q;
}

/* Send q; 0 or -errno. */
static int req_send(struct ct_req *q)
{
	struct ct_state *st = q->st;
	const char *path = NULL;
	uint8_t *msg = NULL;
	size_t len = 0;
	char filt[8][160];
	const char *fp[8];
	size_t nf = 0, i;
	long tmo = CT_CALL_TIMEOUT_MS;
	int r = -EINVAL;

	switch (q->kind) {
	case R_SUBSCRIBE: {
		static const char *const topics[] = { "/tasks/start", "/tasks/exit", "/tasks/delete",
			                              "/containers/update", "/containers/delete" };

		for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
			if (st->ns)
				snprintf(filt[nf], sizeof(filt[nf]), "namespace==\"%s\",topic==\"%s\"", st->ns, topics[i]);
			else
				snprintf(filt[nf], sizeof(filt[nf]), "topic==\"%s\"", topics[i]);
			fp[nf] = filt[nf];
			nf++;
		}
		r = ct_encode_subscribe(fp, nf, &msg, &len);
		path = P_SUBSCRIBE;
		tmo = 0;
		break;
	}
	case R_NS_LIST:
		r = ct_encode_namespace_list(&msg, &len);
		path = P_NS_LIST;
		break;
	case R_CT_LIST:
		fp[0] = "labels.\"" CT_PORTS_LABEL "\"";
		r = ct_encode_container_list(fp, 1, &msg, &len);
		path = P_CT_LIST;
		break;
	case R_TASK_LIST:
		r = ct_encode_task_list(&msg, &len);
		path = P_TASK_LIST;
		break;
	case R_CT_GET:
		r = ct_encode_container_get(q->id, &msg, &len);
		path = P_CT_GET;
		break;
	case R_TASK_GET:
		r = ct_encode_task_get(q->id, &msg, &len);
		path = P_TASK_GET;
		break;
	}
	if (r < 0)
		return r;
	r = gc_call_start(st->conn, path, q->ns[0] ? q->ns : NULL, msg, len, CT_MSG_MAX, tmo, &ct_call_cbs, q,
	                  &q->call);
	free(msg);
	return r;
}

/* Start queued Gets, at most CT_PARALLEL at a time. */
static void pump(struct ct_state *st)
{
	while (st->queue && st->ninflight < CT_PARALLEL) {
		struct ct_req *q = st->queue;
		int r;

		st->queue = q->qnext;
		if (!st->queue)
			st->queue_tail = &st->queue;
		st->ninflight++;
		r = req_send(q);
		if (r < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "%s/%s: cannot send the request: %s", q->ns, q->id,
			          strerror(-r));
			teardown(st);
			return;
		}
	}
}

static void queue_get(struct ct_state *st, enum ct_req_kind kind, struct ct_container *ct)
{
	struct ct_req *q = req_new(st, kind, ct->ns, ct->id);

	if (!q) {
		host->log(st->h, BROKER_LOG_ERROR, "%s: out of memory", ct->e.owner);
		return;
	}
	q->epoch = ct->e.epoch;
	*st->queue_tail = q;
	st->queue_tail = &q->qnext;
	pump(st);
}

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

static void seen_clear(struct ct_state *st)
{
	size_t i;

	for (i = 0; i < st->nseen; i++)
		free(st->seen[i].ports);
	free(st->seen);
	st->seen = NULL;
	st->nseen = st->seencap = 0;
}

/* Every list answered: rebuild the view (events during the resync win), report it all. */
static void resync_finish(struct ct_state *st)
{
	struct ct_container *ct, *next;
	size_t i;

	st->resync_left = -1;
	for (i = 0; i < st->nseen; i++) {
		struct ct_seen *s = &st->seen[i];

		if (!s->has_ct || !ct_task_alive(s->status))
			continue;
		ct = find(st, s->ns, s->id);
		if (ct && ct->touched_gen == st->gen)
			continue;
		if (!ct && !(ct = find_or_add(st, s->ns, s->id)))
			continue;
		ct->alive = 1;
		ct->touched_gen = st->gen;      /* confirmed */
		snprintf(ct->e.name, sizeof(ct->e.name), "%s", s->name);
		set_ports(st, ct, s->ports, s->ports_len);
	}
	for (ct = (struct ct_container *)st->containers.head; ct; ct = next) {
		next = (struct ct_container *)ct->e.next;
		if (ct->touched_gen != st->gen || !ct->alive)
			ctab_free(&st->containers, &ct->e);
	}
	seen_clear(st);
	report_all(st);
	if (st->failures)
		host->log(st->h, BROKER_LOG_INFO, "connected to containerd at %s again; resynced", st->socket);
	st->failures = 0;
	st->backoff_ms = CT_BACKOFF_MIN_MS;
}

static void list_namespace(struct ct_state *st, const char *ns)
{
	struct ct_req *a = req_new(st, R_CT_LIST, ns, NULL), *b = req_new(st, R_TASK_LIST, ns, NULL);

	if (!a || !b || req_send(a) < 0 || req_send(b) < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "namespace %s: cannot send the list requests", ns);
		teardown(st);
		return;
	}
	st->resync_left += 2;
}

static void resync_start(struct ct_state *st)
{
	struct ct_req *q, *next;

	/* a resync in flight is superseded */
	for (q = st->reqs; q; q = next) {
		next = q->next;
		if (q->kind == R_NS_LIST || q->kind == R_CT_LIST || q->kind == R_TASK_LIST)
			req_free(q);
	}
	seen_clear(st);
	st->gen++;
	st->resync_left = 0;
	if (!st->ns) {
		q = req_new(st, R_NS_LIST, NULL, NULL);
		if (!q || req_send(q) < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "cannot send Namespaces.List");
			teardown(st);
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
static void list_done(struct ct_state *st, struct ct_req *q, int status, const char *message)
{
	static const char *const names[] = { [R_NS_LIST] = "Namespaces.List", [R_CT_LIST] = "Containers.List",
		                             [R_TASK_LIST] = "Tasks.List" };
	char err[256];
	int n = 0;

	if (q->gen != st->gen || st->resync_left <= 0)
		return;
	if (status != CT_GRPC_OK || q->nmsg != 1) {
		host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_ERROR, "%s %s: %s (status %d)",
		          names[q->kind], q->ns, status ? message : "no answer", status);
		teardown(st);
		return;
	}
	switch (q->kind) {
	case R_NS_LIST:
		n = ct_parse_namespaces(q->msg, q->msglen, ns_each, st, err, sizeof(err));
		if (n > CT_NAMESPACES_MAX)
			host->log(st->h, BROKER_LOG_WARN, "%d namespaces", n);
		break;
	case R_CT_LIST:
		n = ct_parse_container_list(q->msg, q->msglen, ct_each, q, plog, st, err, sizeof(err));
		break;
	case R_TASK_LIST:
		n = ct_parse_task_list(q->msg, q->msglen, task_each, q, err, sizeof(err));
		break;
	default:
		break;
	}
	if (n < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "%s %s: %s", names[q->kind], q->ns, err);
		teardown(st);
		return;
	}
	if (!st->conn)
		return;         /* torn down meanwhile */
	host->log(st->h, BROKER_LOG_DEBUG, "%s %s: %d entries", names[q->kind], q->ns, n);
	if (--st->resync_left == 0)
		resync_finish(st);
}

/* ------------------------------------------------------------- event answers */

static void ct_get_done(struct ct_state *st, struct ct_req *q, int status, const char *message)
{
	struct ct_container *ct = find(st, q->ns, q->id);
	char id[CT_ID_MAX + 1], name[CT_NAME_MAX], err[256];
	char *ports = NULL;
	size_t plen = 0;

	if (!ct || ct->e.epoch != q->epoch) {
		host->log(st->h, BROKER_LOG_DEBUG, "%s/%s: newer event arrived; answer dropped", q->ns, q->id);
		return;
	}
	if (status == CT_GRPC_NOT_FOUND) {
		host->log(st->h, BROKER_LOG_DEBUG, "container %s/%s is gone", q->ns, q->id);
		gone(st, ct);
		return;
	}
	if (status != CT_GRPC_OK || q->nmsg != 1) {
		host->log(st->h, BROKER_LOG_ERROR, "Containers.Get %s/%s: %s (status %d); no mapping", q->ns, q->id,
		          status ? message : "no answer", status);
		gone(st, ct);
		return;
	}
	if (ct_parse_container_get(q->msg, q->msglen, id, sizeof(id), &ports, &plen, name, sizeof(name), err,
	                           sizeof(err)) < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "Containers.Get %s/%s: %s; no mapping", q->ns, q->id, err);
		gone(st, ct);
		return;
	}
	if (strcmp(id, q->id) != 0) {
		host->log(st->h, BROKER_LOG_ERROR, "Containers.Get %s/%s: the answer is about %s; no mapping", q->ns,
		          q->id, id);
		free(ports);
		gone(st, ct);
		return;
	}
	if (name[0])
		snprintf(ct->e.name, sizeof(ct->e.name), "%s", name);
	set_ports(st, ct, ports, plen);
	free(ports);
	if (st->resync_left < 0 && (ct->e.nmaps || ct->e.reported))
		ctab_report(&st->containers, &ct->e);
}

static void task_get_done(struct ct_state *st, struct ct_req *q, int status, const char *message)
{
	struct ct_container *ct = find(st, q->ns, q->id);
	char id[CT_ID_MAX + 1], err[256];
	int ts = CT_TASK_UNKNOWN;

	if (!ct || ct->e.epoch != q->epoch)
		return;
	if (status == CT_GRPC_NOT_FOUND) {
		host->log(st->h, BROKER_LOG_DEBUG, "task %s/%s is gone", q->ns, q->id);
		gone(st, ct);
		return;
	}
	if (status != CT_GRPC_OK || q->nmsg != 1) {
		host->log(st->h, BROKER_LOG_ERROR, "Tasks.Get %s/%s: %s (status %d); resyncing", q->ns, q->id,
		          status ? message : "no answer", status);
		teardown(st);
		return;
	}
	if (ct_parse_task_get(q->msg, q->msglen, &ts, id, sizeof(id), err, sizeof(err)) < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "Tasks.Get %s/%s: %s; mapping removed", q->ns, q->id, err);
		gone(st, ct);
		return;
	}
	if (!ct_task_alive(ts)) {
		host->log(st->h, BROKER_LOG_DEBUG, "task %s/%s exited (status %d)", q->ns, q->id, ts);
		gone(st, ct);
		return;
	}
	/* still (or again) running: an exit we do not act on; fetch the labels if we have none */
	ct->alive = 1;
	if (!ct->e.reported && !ct->e.nmaps) {
		ct->e.epoch++;
		queue_get(st, R_CT_GET, ct);
	}
}

/* ------------------------------------------------------------- events */

static void handle_event(struct ct_state *st, const uint8_t *buf, size_t len)
{
	struct ct_container *ct;
	struct ct_event ev;
	char err[256];
	int rc;

	rc = ct_parse_envelope(buf, len, &ev, err, sizeof(err));
	if (rc < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "event: %s; ignored", err);
		return;
	}
	if (rc > 0)
		return;
	if (st->ns && strcmp(ev.ns, st->ns) != 0) {
		ct_event_clear(&ev);
		return;
	}
	host->log(st->h, BROKER_LOG_DEBUG, "event %d %s/%s", (int)ev.kind, ev.ns, ev.id);
	ct = find(st, ev.ns, ev.id);
	switch (ev.kind) {
	case CT_EV_TASK_START:
		if (!ct && !(ct = find_or_add(st, ev.ns, ev.id)))
			break;
		ct->e.epoch++;
		ct->alive = 1;
		ct->touched_gen = st->gen;
		queue_get(st, R_CT_GET, ct);
		break;
	case CT_EV_CONTAINER_UPDATE:
		if (!ct || !ct->alive) {
			host->log(st->h, BROKER_LOG_DEBUG, "update of %s/%s, which has no running task; ignored",
			          ev.ns, ev.id);
			break;
		}
		ct->e.epoch++;
		ct->touched_gen = st->gen;
		if (ev.name[0])
			snprintf(ct->e.name, sizeof(ct->e.name), "%s", ev.name);
		set_ports(st, ct, ev.ports, ev.ports_len);
		if (st->resync_left < 0 && (ct->e.nmaps || ct->e.reported))
			ctab_report(&st->containers, &ct->e);
		break;
	case CT_EV_TASK_EXIT:
		if (!ev.init_process)
			break;          /* an exec'd process */
		if (!ct) {
			host->log(st->h, BROKER_LOG_DEBUG, "exit of unknown container %s/%s; nothing to remove",
			          ev.ns, ev.id);
			break;
		}
		ct->e.epoch++;
		ct->touched_gen = st->gen;
		queue_get(st, R_TASK_GET, ct);
		break;
	case CT_EV_TASK_DELETE:
	case CT_EV_CONTAINER_DELETE:
		if ((ev.kind == CT_EV_TASK_DELETE && !ev.init_process) || !ct)
			break;
		ct->e.epoch++;
		gone(st, ct);
		if (st->resync_left < 0)
			ctab_free(&st->containers, &ct->e);
		else
			ct->touched_gen = st->gen;      /* dead: the resync must not bring it back */
		break;
	}
	ct_event_clear(&ev);
}

/* ------------------------------------------------------------- call callbacks */

static int on_message(struct gc_call *call, const uint8_t *msg, size_t len, void *arg)
{
	struct ct_req *q = arg;

	(void)call;
	if (q->kind == R_SUBSCRIBE) {
		handle_event(q->st, msg, len);
		return 0;
	}
	if (q->nmsg++ > 0)
		return -1;      /* a unary call answers once */
	q->msg = malloc(len ? len : 1);
	if (!q->msg)
		return -1;
	memcpy(q->msg, msg, len);
	q->msglen = len;
	return 0;
}

static void on_done(struct gc_call *call, int status, const char *message, void *arg)
{
	struct ct_req *q = arg;
	struct ct_state *st = q->st;

	(void)call;
	q->call = NULL;         /* the call is over: nothing to cancel */
	switch (q->kind) {
	case R_SUBSCRIBE:
		host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN,
		          "the event stream ended (status %d: %s); reconnecting", status, message);
		teardown(st);
		return;
	case R_NS_LIST:
	case R_CT_LIST:
	case R_TASK_LIST:
		list_done(st, q, status, message);
		break;
	case R_CT_GET:
	case R_TASK_GET:
		st->ninflight--;
		if (q->kind == R_CT_GET)
			ct_get_done(st, q, status, message);
		else
			task_get_done(st, q, status, message);
		break;
	}
	if (!st->conn)
		return;         /* teardown freed every request, q included */
	req_free(q);
	pump(st);
}

static const struct gc_call_callbacks ct_call_cbs = {
	.on_message = on_message,
	.on_done = on_done,
};

/* ------------------------------------------------------------- connection */

static void drop_all(struct ct_state *st)
{
	while (st->reqs)
		req_free(st->reqs);
	st->queue = NULL;
	st->queue_tail = &st->queue;
	st->ninflight = 0;
	st->resync_left = -1;
	seen_clear(st);
	gc_conn_free(st->conn);
	st->conn = NULL;
}

static void teardown(struct ct_state *st)
{
	drop_all(st);
	if (!st->started)
		return;
	st->failures++;
	if (st->recheck)
		host->timer_arm(st->recheck, -1);
	host->timer_arm(st->retry, st->backoff_ms);
	host->log(st->h, BROKER_LOG_DEBUG, "reconnecting to %s in %ld ms", st->socket, st->backoff_ms);
	st->backoff_ms *= 2;
	if (st->backoff_ms > CT_BACKOFF_MAX_MS)
		st->backoff_ms = CT_BACKOFF_MAX_MS;
}

static void on_close(struct gc_conn *c, int err, const char *reason, void *arg)
{
	struct ct_state *st = arg;

	(void)c;
	(void)err;
	host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "containerd at %s: %s", st->socket,
	          reason);
	teardown(st);
}

static const struct gc_conn_callbacks ct_conn_cbs = { .on_close = on_close };

static void connect_all(struct ct_state *st)
{
	struct ct_req *q;
	char err[256];
	int r;

	drop_all(st);
	r = gc_conn_new(host->event_base(st->h), st->socket, &ct_conn_cbs, st, &st->conn, err, sizeof(err));
	if (r < 0) {
		host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "containerd at %s: %s",
		          st->socket, err);
		teardown(st);
		return;
	}
	q = req_new(st, R_SUBSCRIBE, NULL, NULL);
	if (!q || (r = req_send(q)) < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "Events.Subscribe: cannot send the request");
		teardown(st);
		return;
	}
	resync_start(st);
	if (st->conn)
		host->timer_arm(st->recheck, CT_RECHECK_MS);
}

static void retry_cb(void *arg)
{
	connect_all(arg);
}

static void recheck_cb(void *arg)
{
	struct ct_state *st = arg;

	if (st->conn)
		resync_start(st);
}

/* ------------------------------------------------------------- plugin */

static int ct_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	const char *sock = host->option_string(h, "socket");
	const char *ns = host->option_string(h, "namespace");
	struct ct_state *st;

	if (!sock || !*sock) {
		snprintf(err, errlen, "option socket is empty (containerd's gRPC socket path)");
		return -EINVAL;
	}
	if (strlen(sock) >= 108) {
		snprintf(err, errlen, "socket path \"%.60s...\" is too long for a unix socket", sock);
		return -ENAMETOOLONG;
	}
	if (!ns || !*ns)
		ns = "default";
	if (strcmp(ns, "all") != 0 && !ct_valid_id(ns)) {
		snprintf(err, errlen, "option namespace=\"%.40s\": not a containerd namespace name (or \"all\")", ns);
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st || !(st->socket = strdup(sock)) || (strcmp(ns, "all") != 0 && !(st->ns = strdup(ns)))) {
		if (st)
			free(st->socket);
		free(st);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	st->queue_tail = &st->queue;
	st->resync_left = -1;
	st->backoff_ms = CT_BACKOFF_MIN_MS;
	ctab_init(&st->containers, host, h, sizeof(struct ct_container), CT_CONTAINERS_MAX, describe);
	*state = st;
	return 0;
}

static int ct_start(void *state, char *err, size_t errlen)
{
	struct ct_state *st = state;

	st->retry = host->timer_new(st->h, retry_cb, st);
	st->recheck = host->timer_new(st->h, recheck_cb, st);
	if (!st->retry || !st->recheck) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->started = 1;
	host->log(st->h, BROKER_LOG_INFO, "watching containerd at %s, namespace %s", st->socket,
	          st->ns ? st->ns : "all");
	connect_all(st);
	return 0;
}

static void ct_stop(void *state)
{
	struct ct_state *st = state;

	st->started = 0;
	/* the core has released our timers already (it frees plugin timers before stop) */
	st->retry = NULL;
	st->recheck = NULL;
	drop_all(st);
}

static void ct_fini(void *state)
{
	struct ct_state *st = state;

	if (!st)
		return;
	st->started = 0;
	st->retry = st->recheck = NULL;
	drop_all(st);
	ctab_clear(&st->containers);
	free(st->socket);
	free(st->ns);
	free(st);
}

static int ct_resync(void *state)
{
	report_all(state);
	return 0;
}

static const struct broker_option ct_options[] = {
	{ BROKER_OPT_PATH, "socket", "/run/k3s/containerd/containerd.sock", "containerd's gRPC unix socket", 0, 0 },
	{ BROKER_OPT_STRING, "namespace", "default",
	  "the containerd namespace to watch (nerdctl uses default, k3s/CRI k8s.io), or all", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin ct_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "containerd",
	.version = PACKAGE_VERSION,
	.description = "watch containerd containers' nerdctl/ports while their task runs (containerd gRPC API)",
	.kinds = BROKER_KIND_WATCHER,
	.options = ct_options,
	.init = ct_init,
	.start = ct_start,
	.stop = ct_stop,
	.fini = ct_fini,
	.resync = ct_resync,
};

BROKER_PLUGIN_DEFINE(ct_plugin, host)
