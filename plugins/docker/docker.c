/*
 * plugins/docker/docker.c - watcher plugin: published ports of running
 * Docker containers, from the Docker Engine API on its unix socket.
 *
 *   brokerd --watch docker[,socket=/var/run/docker.sock][,prefer=published|container]
 *
 * On start (and after every reconnect) it opens the event stream
 *   GET /events?filters={"type":["container"],"event":["start","stop","die"]}
 * first, then lists running containers (GET /containers/json), inspects each
 * (GET /containers/{id}/json) and reports the complete view as one resync
 * (resync_begin, mapping_set per container, resync_commit).  Opening the
 * stream before listing means no start or stop between the two is missed.
 *
 * Events: start -> inspect -> mapping_set(id, name, ports); stop/die ->
 * mapping_remove(id) if the container was reported.  Every event bumps the
 * container's epoch, and an inspect answer issued under an older epoch is
 * dropped, so a slow inspect cannot resurrect a container that died while it
 * was in flight.  An event for a container that was never seen only causes
 * an inspect; a 404 or a stopped state reports nothing.
 *
 * When the stream ends or fails (dockerd restarting), everything in flight
 * is dropped and the plugin reconnects after 0.2 s, doubling up to 10 s, and
 * resyncs in full; the last reported view stays in place meanwhile (the
 * resync's commit removes what went away), so a dockerd restart does not
 * make every host port flap.
 *
 * Connect addresses (see README.md): for a binding on 0.0.0.0 or :: the
 * first address is 127.0.0.1:HOSTPORT or [::1]:HOSTPORT inside the guest,
 * then the container's IP:containerPort.  Documents are limited to 16 MiB.
 *
 * HTTP is libcurl on the plugin's event_base (plugins/common/curlev.c): one
 * connection per request over the unix socket, the event stream read as it
 * arrives.  Linux/POSIX only (unix sockets).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "broker/plugin.h"
#include "plugins/common/ctab.h"
#include "plugins/common/curlev.h"
#include "plugins/common/portmap.h"
#include "docker.h"

static const struct broker_host *host;

#define DK_DOC_MAX (16ull * 1024 * 1024)  /* list / inspect document limit */
#define DK_EVENT_LINE_MAX (1024 * 1024)   /* one /events line */
#define DK_CONTAINERS_MAX 10000
#define DK_INSPECT_PARALLEL 8
#define DK_BACKOFF_MIN_MS 200
#define DK_BACKOFF_MAX_MS 10000
#define DK_EVENTS_PATH                                                                         \
	"/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22start%22%2C" \
	"%22stop%22%2C%22die%22%5D%7D"

struct dk_state;

/* What we know about one container: its entry in the table (owner: the id) and more. */
struct dk_container {
	struct ctab_entry e;
	unsigned seen_gen;      /* last list generation that confirmed it */
};

enum dk_req_kind { DK_REQ_EVENTS, DK_REQ_LIST, DK_REQ_INSPECT };

/* One HTTP request in flight or queued (inspects). */
struct dk_req {
	struct dk_state *st;
	struct dk_req *next;            /* in st->queue or st->inflight */
	enum dk_req_kind kind;
	struct curlev_req *c;
	int status;
	struct evbuffer *body;          /* list / inspect document */
	char id[DK_ID_MAX + 1];         /* inspect */
	unsigned epoch;                 /* inspect: the container's epoch when asked */
	int resync;                     /* inspect: part of the running resync */
};

struct dk_state {
	struct broker_plugin_handle *h;
	char *socket;
	enum dk_prefer prefer;
	int started;
	struct curlev *curl;            /* libcurl on our event_base (plugins/common/curlev.c) */

	struct broker_timer *retry;
	long backoff_ms;
	int failures;                   /* since the last good resync (quiets the log) */

	struct dk_req *events;
	struct evbuffer *evline;        /* partial /events line */
	int evskip;                     /* dropping an over-long line */
	struct dk_req *list;
	struct dk_req *queue, **queue_tail;
	struct dk_req *inflight;
	int ninflight;
	unsigned gen;                   /* list generation */
	int resync_left;                /* inspects the running resync still waits for; -1: none */

	struct ctab containers;          /* of struct dk_container */
};

static void teardown(struct dk_state *st);
static void connect_all(struct dk_state *st);

/* ------------------------------------------------------------- logging */

static void plog(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void plog(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	struct dk_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	host->vlog(st->h, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- view */

static struct dk_container *find(struct dk_state *st, const char *id)
{
	return (struct dk_container *)ctab_find(&st->containers, id);
}

static struct dk_container *find_or_add(struct dk_state *st, const char *id)
{
	char label[13];

	snprintf(label, sizeof(label), "%.12s", id);
	return (struct dk_container *)ctab_add(&st->containers, id, label);
}

static void describe(const struct ctab_entry *e, char *buf, size_t len)
{
	/* The owner is the id and the source says docker: the name is what is left to say. */
	snprintf(buf, len, "%s", e->name[0] ? e->name : "?");
}

static int report_all(struct dk_state *st)
{
	return ctab_report_all(&st->containers, NULL);
}

/* ------------------------------------------------------------- requests */

static void req_free(struct dk_req *q)
{
	if (!q)
		return;
	curlev_req_free(q->c);
	if (q->body)
		evbuffer_free(q->body);
	free(q);
}

static const struct curlev_callbacks dk_callbacks;

static struct dk_req *req_new(struct dk_state *st, enum dk_req_kind kind)
{
	struct dk_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->st = st;
	q->kind = kind;
	if (kind != DK_REQ_EVENTS && !(q->body = evbuffer_new())) {
		free(q);
		return NULL;
	}
	return q;
}

/* Connect q and send GET path (Host: docker); 0 or -errno (q is not freed). */
static int req_start(struct dk_req *q, const char *path)
{
	struct curlev_opts o;
	char url[sizeof(DK_EVENTS_PATH) + DK_ID_MAX + 64];

	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "http://docker%s", path);
	o.url = url;
	o.unix_socket = q->st->socket;
	o.response_timeout_ms = 30000;
	if (q->kind != DK_REQ_EVENTS) {        /* the event stream is limited per line instead */
		o.max_body_bytes = DK_DOC_MAX;
		o.idle_timeout_ms = 30000;
	}
	return curlev_start(q->st->curl, &o, &dk_callbacks, q, &q->c);
}

static void pump(struct dk_state *st)
{
	while (st->queue && st->ninflight < DK_INSPECT_PARALLEL) {
		struct dk_req *q = st->queue;
		char path[DK_ID_MAX + 32];
		int r;

		st->queue = q->next;
		if (!st->queue)
			st->queue_tail = &st->queue;
		q->next = st->inflight;
		st->inflight = q;
		st->ninflight++;
		snprintf(path, sizeof(path), "/containers/%s/json", q->id);
		r = req_start(q, path);
		if (r < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "inspect %.12s: %s", q->id, strerror(-r));
			teardown(st);
			return;
		}
	}
}

static void queue_inspect(struct dk_state *st, struct dk_container *ct, int resync)
{
	struct dk_req *q = req_new(st, DK_REQ_INSPECT);

	if (!q) {
		host->log(st->h, BROKER_LOG_ERROR, "inspect %.12s: out of memory", ct->e.owner);
		return;
	}
	snprintf(q->id, sizeof(q->id), "%.*s", DK_ID_MAX, ct->e.owner);
	q->epoch = ct->e.epoch;
	q->resync = resync;
	if (resync)
		st->resync_left++;
	*st->queue_tail = q;
	st->queue_tail = &q->next;
}

/* All inspects of the resync answered: forget what the list did not confirm, report all. */
static void resync_finish(struct dk_state *st)
{
	struct dk_container *ct, *next;

	st->resync_left = -1;
	for (ct = (struct dk_container *)st->containers.head; ct; ct = next) {
		next = (struct dk_container *)ct->e.next;
		if (ct->seen_gen != st->gen)
			ctab_free(&st->containers, &ct->e);  /* the commit below removes its mappings */
	}
	report_all(st);
	if (st->failures)
		host->log(st->h, BROKER_LOG_INFO, "connected to dockerd at %s again; resynced", st->socket);
	st->failures = 0;
	st->backoff_ms = DK_BACKOFF_MIN_MS;
}

static void inspect_done(struct dk_state *st, struct dk_req *q)
{
	struct dk_container *ct = find(st, q->id);
	struct dk_inspect_result r;
	char err[256];
	size_t len;
	int rc;

	if (!ct || ct->e.epoch != q->epoch) {
		host->log(st->h, BROKER_LOG_DEBUG, "inspect %.12s: newer event arrived; answer dropped", q->id);
		return;
	}
	if (q->status == 404) {
		host->log(st->h, BROKER_LOG_DEBUG, "container %.12s is gone", q->id);
		ctab_gone(&st->containers, &ct->e);
		return;
	}
	if (q->status != 200) {
		host->log(st->h, BROKER_LOG_ERROR, "inspect %.12s: HTTP status %d; no mapping", q->id, q->status);
		ctab_gone(&st->containers, &ct->e);
		return;
	}
	len = evbuffer_get_length(q->body);
	rc = dk_parse_inspect((const char *)evbuffer_pullup(q->body, -1), len, st->prefer, &r, plog, st,
	                      err, sizeof(err));
	if (rc < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "inspect %.12s: %s; no mapping", q->id, err);
		ctab_gone(&st->containers, &ct->e);
		return;
	}
	if (strcmp(r.id, q->id) != 0) {
		host->log(st->h, BROKER_LOG_ERROR, "inspect %.12s: answer is about container %.12s; no mapping",
		          q->id, r.id);
		free(r.maps);
		ctab_gone(&st->containers, &ct->e);
		return;
	}
	if (r.name[0])
		snprintf(ct->e.name, sizeof(ct->e.name), "%s", r.name);
	if (!r.running) {
		free(r.maps);
		ctab_gone(&st->containers, &ct->e);
		return;
	}
	ctab_set_maps(&ct->e, r.maps, r.nmaps);
	/* during a resync the commit reports everything; outside one, report now */
	if (st->resync_left < 0 && (ct->e.nmaps || ct->e.reported))
		ctab_report(&st->containers, &ct->e);
}

static void list_each(void *arg, const char *id)
{
	struct dk_state *st = arg;
	struct dk_container *ct = find_or_add(st, id);

	if (!ct)
		return;
	ct->seen_gen = st->gen;
	queue_inspect(st, ct, 1);
}

static void list_done(struct dk_state *st, struct dk_req *q)
{
	char err[256];
	int n;

	if (q->status != 200) {
		host->log(st->h, BROKER_LOG_ERROR, "list containers: HTTP status %d", q->status);
		teardown(st);
		return;
	}
	st->resync_left = 0;
	n = dk_parse_list((const char *)evbuffer_pullup(q->body, -1), evbuffer_get_length(q->body),
	                  DK_CONTAINERS_MAX, list_each, st, plog, st, err, sizeof(err));
	if (n < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "list containers: %s", err);
		st->resync_left = -1;
		teardown(st);
		return;
	}
	host->log(st->h, BROKER_LOG_DEBUG, "%d running containers", n);
	if (st->resync_left == 0)
		resync_finish(st);
	else
		pump(st);
}

static void handle_event(struct dk_state *st, const char *line, size_t len)
{
	struct dk_container *ct;
	struct dk_event ev;
	char err[256];
	int rc;

	if (len == 0)
		return;
	rc = dk_parse_event(line, len, &ev, err, sizeof(err));
	if (rc < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "event: %s; ignored", err);
		return;
	}
	if (rc > 0)
		return;
	host->log(st->h, BROKER_LOG_DEBUG, "event %s %.12s %s", ev.action, ev.id, ev.name);
	if (strcmp(ev.action, "start") == 0) {
		ct = find_or_add(st, ev.id);
		if (!ct)
			return;
		ct->e.epoch++;
		ct->seen_gen = st->gen;
		if (ev.name[0])
			snprintf(ct->e.name, sizeof(ct->e.name), "%s", ev.name);
		queue_inspect(st, ct, 0);
		pump(st);
	} else if (strcmp(ev.action, "die") == 0 || strcmp(ev.action, "stop") == 0) {
		ct = find(st, ev.id);
		if (!ct) {
			host->log(st->h, BROKER_LOG_DEBUG, "event %s for unknown container %.12s; nothing to remove",
			          ev.action, ev.id);
			return;
		}
		ct->e.epoch++;
		ctab_gone(&st->containers, &ct->e);
		if (st->resync_left < 0)
			ctab_free(&st->containers, &ct->e);
		else
			ct->seen_gen = st->gen - 1; /* not running: the resync drops it */
	}
}

static void events_data(struct dk_state *st, const char *data, size_t len)
{
	struct evbuffer *b = st->evline;

	evbuffer_add(b, data, len);
	for (;;) {
		struct evbuffer_ptr eol = evbuffer_search_eol(b, NULL, NULL, EVBUFFER_EOL_LF);
		size_t n;

		if (eol.pos < 0) {
			if (evbuffer_get_length(b) > DK_EVENT_LINE_MAX) {
				if (!st->evskip)
					host->log(st->h, BROKER_LOG_ERROR,
					          "event longer than %d bytes; skipped", DK_EVENT_LINE_MAX);
				st->evskip = 1;
				evbuffer_drain(b, evbuffer_get_length(b));
			}
			return;
		}
		n = (size_t)eol.pos;
		if (st->evskip || n > DK_EVENT_LINE_MAX) {
			if (!st->evskip)
				host->log(st->h, BROKER_LOG_ERROR, "event longer than %d bytes; skipped",
				          DK_EVENT_LINE_MAX);
			st->evskip = 0;
		} else {
			handle_event(st, (const char *)evbuffer_pullup(b, (ev_ssize_t)n), n);
			if (!st->events)
				return;         /* torn down meanwhile */
		}
		evbuffer_drain(b, n + 1);
	}
}

/* ------------------------------------------------------------- HTTP callbacks */

static int on_response(struct curlev_req *c, const struct curlev_response *r, void *arg)
{
	struct dk_req *q = arg;
	struct dk_state *st = q->st;

	(void)c;
	q->status = r->status;
	if (q->kind != DK_REQ_EVENTS)
		return 0;
	if (r->status != 200) {
		host->log(st->h, BROKER_LOG_ERROR, "events: HTTP status %d from dockerd", r->status);
		teardown(st);
		return -1;
	}
	/* stream open: now list, so nothing between the two is missed */
	st->gen++;
	st->list = req_new(st, DK_REQ_LIST);
	if (!st->list || req_start(st->list, "/containers/json") < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "list containers: cannot start the request");
		teardown(st);
		return -1;
	}
	return 0;
}

static int on_body(struct curlev_req *c, const char *data, size_t len, void *arg)
{
	struct dk_req *q = arg;

	(void)c;
	if (q->kind == DK_REQ_EVENTS) {
		events_data(q->st, data, len);
		return 0;
	}
	return evbuffer_add(q->body, data, len) < 0 ? -1 : 0;
}

static void unlink_inflight(struct dk_state *st, struct dk_req *q)
{
	struct dk_req **pp;

	for (pp = &st->inflight; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			st->ninflight--;
			return;
		}
}

static void on_end(struct curlev_req *c, void *arg)
{
	struct dk_req *q = arg;
	struct dk_state *st = q->st;

	(void)c;
	switch (q->kind) {
	case DK_REQ_EVENTS:
		host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN,
		          "dockerd closed the event stream; reconnecting");
		teardown(st);
		return;
	case DK_REQ_LIST:
		st->list = NULL;
		list_done(st, q);
		req_free(q);
		return;
	case DK_REQ_INSPECT: {
		int resync = q->resync;

		unlink_inflight(st, q);
		inspect_done(st, q);
		req_free(q);
		if (resync && st->resync_left > 0 && --st->resync_left == 0)
			resync_finish(st);
		pump(st);
		return;
	}
	}
}

static void on_error(struct curlev_req *c, int err, const char *reason, void *arg)
{
	struct dk_req *q = arg;
	struct dk_state *st = q->st;
	const char *what = q->kind == DK_REQ_EVENTS ? "events" : q->kind == DK_REQ_LIST ? "list containers" : "inspect";

	(void)c;
	(void)err;
	host->log(st->h, st->failures ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "%s %.12s: dockerd at %s: %s",
	          what, q->kind == DK_REQ_INSPECT ? q->id : "", st->socket, reason);
	if (q->kind == DK_REQ_INSPECT && err == -EFBIG) {
		/* a hostile document: drop this container only */
		struct dk_container *ct = find(st, q->id);
		int resync = q->resync;

		unlink_inflight(st, q);
		if (ct && ct->e.epoch == q->epoch)
			ctab_gone(&st->containers, &ct->e);
		req_free(q);
		if (resync && st->resync_left > 0 && --st->resync_left == 0)
			resync_finish(st);
		pump(st);
		return;
	}
	teardown(st);
}

static const struct curlev_callbacks dk_callbacks = {
	.on_response = on_response,
	.on_body = on_body,
	.on_end = on_end,
	.on_error = on_error,
};

/* ------------------------------------------------------------- connection */

static void drop_requests(struct dk_state *st)
{
	struct dk_req *q;

	req_free(st->events);
	st->events = NULL;
	req_free(st->list);
	st->list = NULL;
	while ((q = st->inflight)) {
		st->inflight = q->next;
		req_free(q);
	}
	st->ninflight = 0;
	while ((q = st->queue)) {
		st->queue = q->next;
		req_free(q);
	}
	st->queue_tail = &st->queue;
	st->resync_left = -1;
	if (st->evline)
		evbuffer_drain(st->evline, evbuffer_get_length(st->evline));
	st->evskip = 0;
}

/* Drop everything in flight and try again after the backoff. */
static void teardown(struct dk_state *st)
{
	drop_requests(st);
	if (!st->started)
		return;
	st->failures++;
	host->timer_arm(st->retry, st->backoff_ms);
	host->log(st->h, BROKER_LOG_DEBUG, "reconnecting to %s in %ld ms", st->socket, st->backoff_ms);
	st->backoff_ms *= 2;
	if (st->backoff_ms > DK_BACKOFF_MAX_MS)
		st->backoff_ms = DK_BACKOFF_MAX_MS;
}

static void connect_all(struct dk_state *st)
{
	int r;

	drop_requests(st);
	st->events = req_new(st, DK_REQ_EVENTS);
	if (!st->events) {
		teardown(st);
		return;
	}
	r = req_start(st->events, DK_EVENTS_PATH);
	if (r < 0) {
		host->log(st->h, BROKER_LOG_ERROR, "events: %s: %s", st->socket, strerror(-r));
		teardown(st);
	}
}

static void retry_cb(void *arg)
{
	connect_all(arg);
}

/* ------------------------------------------------------------- plugin */

static int dk_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct dk_state *st;
	const char *sock = host->option_string(h, "socket");
	const char *prefer = host->option_string(h, "prefer");

	if (!sock || !*sock) {
		snprintf(err, errlen, "option socket is empty (the Docker Engine API socket path)");
		return -EINVAL;
	}
	if (strlen(sock) >= 108) {
		snprintf(err, errlen, "socket path \"%.60s...\" is too long for a unix socket", sock);
		return -ENAMETOOLONG;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!prefer || !*prefer || strcmp(prefer, "published") == 0) {
		st->prefer = DK_PREFER_PUBLISHED;
	} else if (strcmp(prefer, "container") == 0) {
		st->prefer = DK_PREFER_CONTAINER;
	} else {
		snprintf(err, errlen, "option prefer=\"%.40s\": use published or container", prefer);
		free(st);
		return -EINVAL;
	}
	st->h = h;
	st->socket = strdup(sock);
	if (!st->socket) {
		snprintf(err, errlen, "out of memory");
		free(st);
		return -ENOMEM;
	}
	st->queue_tail = &st->queue;
	st->resync_left = -1;
	st->backoff_ms = DK_BACKOFF_MIN_MS;
	ctab_init(&st->containers, host, h, sizeof(struct dk_container), DK_CONTAINERS_MAX, describe);
	*state = st;
	return 0;
}

static int dk_start(void *state, char *err, size_t errlen)
{
	struct dk_state *st = state;

	st->evline = evbuffer_new();
	st->retry = host->timer_new(st->h, retry_cb, st);
	if (!st->evline || !st->retry) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->curl = curlev_new(host->event_base(st->h), err, errlen);
	if (!st->curl)
		return -ENOMEM;
	st->started = 1;
	host->log(st->h, BROKER_LOG_INFO, "watching dockerd at %s", st->socket);
	connect_all(st);
	return 0;
}

static void dk_stop(void *state)
{
	struct dk_state *st = state;

	st->started = 0;
	drop_requests(st);
	curlev_free(st->curl);
	st->curl = NULL;
	/* the core has already released our timer (it frees plugin timers before stop) */
	st->retry = NULL;
	if (st->evline) {
		evbuffer_free(st->evline);
		st->evline = NULL;
	}
}

static void dk_fini(void *state)
{
	struct dk_state *st = state;

	if (!st)
		return;
	dk_stop(st);
	ctab_clear(&st->containers);
	free(st->socket);
	free(st);
}

static int dk_resync(void *state)
{
	return report_all(state);
}

static const struct broker_option dk_options[] = {
	{ BROKER_OPT_PATH, "socket", "/var/run/docker.sock", "the Docker Engine API unix socket", 0, 0 },
	{ BROKER_OPT_STRING, "prefer", "published",
	  "first connect address: published (127.0.0.1:HOSTPORT in the guest, via docker's proxy) or "
	  "container (the container's IP:PORT)", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin dk_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "docker",
	.version = PACKAGE_VERSION,
	.description = "watch Docker containers' published ports (Docker Engine API on its unix socket)",
	.kinds = BROKER_KIND_WATCHER,
	.options = dk_options,
	.init = dk_init,
	.start = dk_start,
	.stop = dk_stop,
	.fini = dk_fini,
	.resync = dk_resync,
};

BROKER_PLUGIN_DEFINE(dk_plugin, host)
