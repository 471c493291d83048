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
 * This file: the view of the containers, the answers to the Gets events
 * ask for, the event stream, the connection and the plugin's lifecycle;
 * the calls are ctrd_requests.c, the resync ctrd_resync.c (containerd.h).
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
#include "plugins/containerd/containerd.h"

const struct broker_host *ct_host;

/* ------------------------------------------------------------- logging */

void ct_plog(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	struct ct_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	ct_host->vlog(st->h, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- view */

struct ct_container *ct_find(struct ct_state *st, const char *ns, const char *id)
{
	char owner[CTAB_OWNER_MAX];

	snprintf(owner, sizeof(owner), "%s/%s", ns, id);
	return (struct ct_container *)ctab_find(&st->containers, owner);
}

struct ct_container *ct_find_or_add(struct ct_state *st, const char *ns, const char *id)
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
void ct_gone(struct ct_state *st, struct ct_container *ct)
{
	ct->alive = 0;
	ctab_gone(&st->containers, &ct->e);
}

/* Replace ct's ports with the label's (NULL: no label); errors leave no ports. */
void ct_set_ports(struct ct_state *st, struct ct_container *ct, const char *label, size_t len)
{
	struct ct_map *maps = NULL;
	struct portmap_binding *b = NULL;
	size_t n = 0, skipped = 0, i;
	char err[256];

	if (label) {
		if (ct_parse_ports(label, len, ct->e.owner, &maps, &n, &skipped, ct_plog, st, err, sizeof(err)) < 0) {
			ct_host->log(st->h, BROKER_LOG_ERROR, "container %s: %s; no mapping", ct->e.owner, err);
			maps = NULL;
			n = 0;
		}
	}
	if (n && !(b = calloc(n, sizeof(*b)))) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "container %s: out of memory; no mapping", ct->e.owner);
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

void ct_report_all(struct ct_state *st)
{
	ctab_report_all(&st->containers, alive_with_ports);
}

/* ------------------------------------------------------------- event answers */

void ct_get_done(struct ct_state *st, struct ct_req *q, int status, const char *message)
{
	struct ct_container *ct = ct_find(st, q->ns, q->id);
	char id[CT_ID_MAX + 1], name[CT_NAME_MAX], err[256];
	char *ports = NULL;
	size_t plen = 0;

	if (!ct || ct->e.epoch != q->epoch) {
		ct_host->log(st->h, BROKER_LOG_DEBUG, "%s/%s: newer event arrived; answer dropped", q->ns, q->id);
		return;
	}
	if (status == CT_GRPC_NOT_FOUND) {
		ct_host->log(st->h, BROKER_LOG_DEBUG, "container %s/%s is gone", q->ns, q->id);
		ct_gone(st, ct);
		return;
	}
	if (status != CT_GRPC_OK || q->nmsg != 1) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "Containers.Get %s/%s: %s (status %d); no mapping", q->ns, q->id,
		          status ? message : "no answer", status);
		ct_gone(st, ct);
		return;
	}
	if (ct_parse_container_get(q->msg, q->msglen, id, sizeof(id), &ports, &plen, name, sizeof(name), err,
	                           sizeof(err)) < 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "Containers.Get %s/%s: %s; no mapping", q->ns, q->id, err);
		ct_gone(st, ct);
		return;
	}
	if (strcmp(id, q->id) != 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "Containers.Get %s/%s: the answer is about %s; no mapping", q->ns,
		          q->id, id);
		free(ports);
		ct_gone(st, ct);
		return;
	}
	if (name[0])
		snprintf(ct->e.name, sizeof(ct->e.name), "%s", name);
	ct_set_ports(st, ct, ports, plen);
	free(ports);
	if (st->resync_left < 0 && (ct->e.nmaps || ct->e.reported))
		ctab_report(&st->containers, &ct->e);
}

void ct_task_get_done(struct ct_state *st, struct ct_req *q, int status, const char *message)
{
	struct ct_container *ct = ct_find(st, q->ns, q->id);
	char id[CT_ID_MAX + 1], err[256];
	int ts = CT_TASK_UNKNOWN;

	if (!ct || ct->e.epoch != q->epoch)
		return;
	if (status == CT_GRPC_NOT_FOUND) {
		ct_host->log(st->h, BROKER_LOG_DEBUG, "task %s/%s is gone", q->ns, q->id);
		ct_gone(st, ct);
		return;
	}
	if (status != CT_GRPC_OK || q->nmsg != 1) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "Tasks.Get %s/%s: %s (status %d); resyncing", q->ns, q->id,
		          status ? message : "no answer", status);
		ct_teardown(st);
		return;
	}
	if (ct_parse_task_get(q->msg, q->msglen, &ts, id, sizeof(id), err, sizeof(err)) < 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "Tasks.Get %s/%s: %s; mapping removed", q->ns, q->id, err);
		ct_gone(st, ct);
		return;
	}
	if (!ct_task_alive(ts)) {
		ct_host->log(st->h, BROKER_LOG_DEBUG, "task %s/%s exited (status %d)", q->ns, q->id, ts);
		ct_gone(st, ct);
		return;
	}
	/* still (or again) running: an exit we do not act on; fetch the labels if we have none */
	ct->alive = 1;
	if (!ct->e.reported && !ct->e.nmaps) {
		ct->e.epoch++;
		ct_queue_get(st, R_CT_GET, ct);
	}
}

/* ------------------------------------------------------------- events */

void ct_handle_event(struct ct_state *st, const uint8_t *buf, size_t len)
{
	struct ct_container *ct;
	struct ct_event ev;
	char err[256];
	int rc;

	rc = ct_parse_envelope(buf, len, &ev, err, sizeof(err));
	if (rc < 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "event: %s; ignored", err);
		return;
	}
	if (rc > 0)
		return;
	if (st->ns && strcmp(ev.ns, st->ns) != 0) {
		ct_event_clear(&ev);
		return;
	}
	ct_host->log(st->h, BROKER_LOG_DEBUG, "event %d %s/%s", (int)ev.kind, ev.ns, ev.id);
	ct = ct_find(st, ev.ns, ev.id);
	switch (ev.kind) {
	case CT_EV_TASK_START:
		if (!ct && !(ct = ct_find_or_add(st, ev.ns, ev.id)))
			break;
		ct->e.epoch++;
		ct->alive = 1;
		ct->touched_gen = st->gen;
		ct_queue_get(st, R_CT_GET, ct);
		break;
	case CT_EV_CONTAINER_UPDATE:
		if (!ct || !ct->alive) {
			ct_host->log(st->h, BROKER_LOG_DEBUG, "update of %s/%s, which has no running task; ignored",
			          ev.ns, ev.id);
			break;
		}
		ct->e.epoch++;
		ct->touched_gen = st->gen;
		if (ev.name[0])
			snprintf(ct->e.name, sizeof(ct->e.name), "%s", ev.name);
		ct_set_ports(st, ct, ev.ports, ev.ports_len);
		if (st->resync_left < 0 && (ct->e.nmaps || ct->e.reported))
			ctab_report(&st->containers, &ct->e);
		break;
	case CT_EV_TASK_EXIT:
		if (!ev.init_process)
			break;          /* an exec'd process */
		if (!ct) {
			ct_host->log(st->h, BROKER_LOG_DEBUG, "exit of unknown container %s/%s; nothing to remove",
			          ev.ns, ev.id);
			break;
		}
		ct->e.epoch++;
		ct->touched_gen = st->gen;
		ct_queue_get(st, R_TASK_GET, ct);
		break;
	case CT_EV_TASK_DELETE:
	case CT_EV_CONTAINER_DELETE:
		if ((ev.kind == CT_EV_TASK_DELETE && !ev.init_process) || !ct)
			break;
		ct->e.epoch++;
		ct_gone(st, ct);
		if (st->resync_left < 0)
			ctab_free(&st->containers, &ct->e);
		else
			ct->touched_gen = st->gen;      /* dead: the resync must not bring it back */
		break;
	}
	ct_event_clear(&ev);
}

/* ------------------------------------------------------------- connection */

static void drop_all(struct ct_state *st)
{
	while (st->reqs)
		ct_req_free(st->reqs);
	st->queue = NULL;
	st->queue_tail = &st->queue;
	st->ninflight = 0;
	st->resync_left = -1;
	ct_seen_clear(st);
	gc_conn_free(st->conn);
	st->conn = NULL;
}

void ct_teardown(struct ct_state *st)
{
	drop_all(st);
	if (!st->started)
		return;
	st->failures++;
	if (st->recheck)
		ct_host->timer_arm(st->recheck, -1);
	ct_host->timer_arm(st->retry, st->backoff_ms);
	ct_host->log(st->h, BROKER_LOG_DEBUG, "reconnecting to %s in %ld ms", st->socket, st->backoff_ms);
	st->backoff_ms *= 2;
	if (st->backoff_ms > CT_BACKOFF_MAX_MS)
		st->backoff_ms = CT_BACKOFF_MAX_MS;
}

static void on_close(struct gc_conn *c, int err, const char *reason, void *arg)
{
	struct ct_state *st = arg;

	(void)c;
	(void)err;
	ct_host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "containerd at %s: %s", st->socket,
	          reason);
	ct_teardown(st);
}

static const struct gc_conn_callbacks ct_conn_cbs = { .on_close = on_close };

static void connect_all(struct ct_state *st)
{
	struct ct_req *q;
	char err[256];
	int r;

	drop_all(st);
	r = gc_conn_new(ct_host->event_base(st->h), st->socket, &ct_conn_cbs, st, &st->conn, err, sizeof(err));
	if (r < 0) {
		ct_host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "containerd at %s: %s",
		          st->socket, err);
		ct_teardown(st);
		return;
	}
	q = ct_req_new(st, R_SUBSCRIBE, NULL, NULL);
	if (!q || (r = ct_req_send(q)) < 0) {
		ct_host->log(st->h, BROKER_LOG_ERROR, "Events.Subscribe: cannot send the request");
		ct_teardown(st);
		return;
	}
	ct_resync_start(st);
	if (st->conn)
		ct_host->timer_arm(st->recheck, CT_RECHECK_MS);
}

static void retry_cb(void *arg)
{
	connect_all(arg);
}

static void recheck_cb(void *arg)
{
	struct ct_state *st = arg;

	if (st->conn)
		ct_resync_start(st);
}

/* ------------------------------------------------------------- plugin */

static int ct_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	const char *sock = ct_host->option_string(h, "socket");
	const char *ns = ct_host->option_string(h, "namespace");
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
	ctab_init(&st->containers, ct_host, h, sizeof(struct ct_container), CT_CONTAINERS_MAX, describe);
	*state = st;
	return 0;
}

static int ct_start(void *state, char *err, size_t errlen)
{
	struct ct_state *st = state;

	st->retry = ct_host->timer_new(st->h, retry_cb, st);
	st->recheck = ct_host->timer_new(st->h, recheck_cb, st);
	if (!st->retry || !st->recheck) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->started = 1;
	ct_host->log(st->h, BROKER_LOG_INFO, "watching containerd at %s, namespace %s", st->socket,
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
	ct_report_all(state);
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

BROKER_PLUGIN_DEFINE(ct_plugin, ct_host)
