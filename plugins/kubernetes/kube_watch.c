/*
 * plugins/kubernetes/kube_watch.c - the kubernetes watcher's requests (see
 * kube.h): GET /api/v1/services (the list), then GET /api/v1/services?
 * watch=1&resourceVersion=RV&allowWatchBookmarks=true, a chunked stream of
 * one JSON event per line, read as it arrives.  A watch that ends or drops
 * resumes from the last resourceVersion seen; 410 Gone (HTTP status or an
 * ERROR event carrying a Status with code 410) relists from scratch; other
 * failures retry with a bounded exponential backoff.
 *
 * HTTP and TLS are libcurl on the plugin's event_base
 * (plugins/common/curlev.c), one connection per request.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "plugins/kubernetes/kube.h"

/* ------------------------------------------------------------- retries */

void kube_conn_close(struct kube_state *st)
{
	curlev_req_free(st->http);
	st->http = NULL;
	st->phase = KP_IDLE;
	if (st->buf)
		evbuffer_drain(st->buf, evbuffer_get_length(st->buf));
}

void kube_schedule(struct kube_state *st, enum kube_next next, long ms)
{
	st->next = next;
	kube_host->timer_arm(st->timer, ms);
}

/* After a failure: wait (growing) and then do next. */
void kube_retry(struct kube_state *st, enum kube_next next)
{
	kube_conn_close(st);
	st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : KUBE_BACKOFF_MIN_MS;
	if (st->backoff_ms > KUBE_BACKOFF_MAX_MS)
		st->backoff_ms = KUBE_BACKOFF_MAX_MS;
	kube_host->log(st->h, BROKER_LOG_DEBUG, "retrying %s in %ld ms", next == KN_LIST ? "the list" : "the watch",
	          st->backoff_ms);
	kube_schedule(st, next, st->backoff_ms);
}

static void relist_now(struct kube_state *st)
{
	kube_conn_close(st);
	st->rv[0] = '\0';
	kube_schedule(st, KN_LIST, 0);
}

/* ------------------------------------------------------------- list */

static void list_done(struct kube_state *st)
{
	json_error_t jerr;
	json_t *doc, *items;
	const char *rv;
	size_t len = evbuffer_get_length(st->buf);
	const char *body = (const char *)evbuffer_pullup(st->buf, -1);

	doc = json_loadb(body ? body : "", len, 0, &jerr);
	evbuffer_drain(st->buf, len);
	if (!doc) {
		kube_fail_log(st, "service list: bad JSON at byte %d: %s", jerr.position, jerr.text);
		kube_retry(st, KN_LIST);
		return;
	}
	items = json_object_get(doc, "items");
	rv = k8s_resource_version(doc);
	if (!json_is_object(doc) || !(json_is_array(items) || json_is_null(items)) || !rv) {
		kube_fail_log(st, "service list: not a ServiceList (no items array or no metadata.resourceVersion)");
		json_decref(doc);
		kube_retry(st, KN_LIST);
		return;
	}
	snprintf(st->rv, sizeof(st->rv), "%s", rv);
	kube_services_listed(st, items);
	json_decref(doc);
	st->backoff_ms = 0;
	st->last_err[0] = '\0';
	kube_conn_close(st);
	kube_schedule(st, KN_WATCH, 0);
}

/* ------------------------------------------------------------- watch */

/* An ERROR event: 1 to relist now (410), -1 to relist after a backoff. */
static int watch_error(struct kube_state *st, const json_t *obj)
{
	const json_t *code = json_object_get(obj, "code");
	const char *msg = json_string_value(json_object_get(obj, "message"));

	if (json_is_integer(code) && json_integer_value(code) == 410) {
		kube_host->log(st->h, BROKER_LOG_INFO, "watch: resourceVersion %s is gone (410): relisting", st->rv);
		return 1;
	}
	kube_host->log(st->h, BROKER_LOG_WARN, "watch: ERROR event (code %lld: %.200s); relisting",
	          json_is_integer(code) ? (long long)json_integer_value(code) : 0LL, msg ? msg : "no message");
	return -1;
}

/* One watch event line.  0: go on; 1: stop, relist now; -1: stop, relist after a backoff. */
static int watch_line(struct kube_state *st, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *ev, *obj;
	const char *type, *rv;
	int ret = 0;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return 0;
	ev = json_loadb(line, len, 0, &jerr);
	if (!ev) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "watch event: bad JSON at byte %d: %s; relisting", jerr.position,
		          jerr.text);
		return -1;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "watch event without a type string and an object; relisting");
		json_decref(ev);
		return -1;
	}
	st->events++;
	if (!strcmp(type, "ERROR")) {
		ret = watch_error(st, obj);
		json_decref(ev);
		return ret;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		kube_service_event(st, obj, type);
	else if (!strcmp(type, "DELETED"))
		kube_service_deleted(st, obj);
	else if (strcmp(type, "BOOKMARK") != 0)
		kube_host->log(st->h, BROKER_LOG_WARN, "watch: unknown event type '%.40s'; ignored", type);
	rv = k8s_resource_version(obj);
	if (rv)
		snprintf(st->rv, sizeof(st->rv), "%s", rv);
	else if (strcmp(type, "BOOKMARK") == 0)
		kube_host->log(st->h, BROKER_LOG_WARN, "watch: BOOKMARK without a valid resourceVersion; ignored");
	json_decref(ev);
	return 0;
}

/* A watch that ended or dropped: resume from the last resourceVersion. */
static void watch_ended(struct kube_state *st, const char *how)
{
	int progress = st->events > 0 || time(NULL) - st->watch_started >= 5;

	if (evbuffer_get_length(st->buf))
		kube_host->log(st->h, BROKER_LOG_DEBUG, "watch: %zu bytes of an unfinished event dropped",
		          evbuffer_get_length(st->buf));
	kube_host->log(st->h, progress ? BROKER_LOG_INFO : BROKER_LOG_WARN, "watch %s after %lu event(s); resuming "
	          "from resourceVersion %s", how, st->events, st->rv);
	if (progress) {
		kube_conn_close(st);
		st->backoff_ms = 0;
		kube_schedule(st, KN_WATCH, 0);
	} else {
		kube_retry(st, KN_WATCH);
	}
}

/* Every complete line buffered so far.  0, or -1 when the stream must stop (handled). */
static int watch_lines(struct kube_state *st)
{
	for (;;) {
		struct evbuffer_ptr p = evbuffer_search(st->buf, "\n", 1, NULL);
		const char *line;
		int r;

		if (p.pos < 0)
			break;
		if ((size_t)p.pos > KUBE_EVENT_MAX)
			goto huge;
		line = (const char *)evbuffer_pullup(st->buf, p.pos + 1);
		r = watch_line(st, line, (size_t)p.pos);
		evbuffer_drain(st->buf, (size_t)p.pos + 1);
		if (r > 0) {
			relist_now(st);
			return -1;
		}
		if (r < 0) {
			kube_retry(st, KN_LIST);
			return -1;
		}
		if (st->backoff_ms && st->events)
			st->backoff_ms = 0;
	}
	if (evbuffer_get_length(st->buf) > KUBE_EVENT_MAX)
		goto huge;
	return 0;
huge:
	kube_host->log(st->h, BROKER_LOG_ERROR, "watch event larger than %u bytes; relisting", KUBE_EVENT_MAX);
	kube_retry(st, KN_LIST);
	return -1;
}

/* ------------------------------------------------------------- HTTP callbacks */

static int on_response(struct curlev_req *q, const struct curlev_response *r, void *arg)
{
	struct kube_state *st = arg;

	(void)q;
	st->status = r->status;
	if (r->status == 200)
		return 0;
	if (st->phase == KP_WATCH && r->status == 410) {
		kube_host->log(st->h, BROKER_LOG_INFO, "watch: resourceVersion %s is gone (HTTP 410): relisting", st->rv);
		relist_now(st);
		return -1;
	}
	kube_fail_log(st, "API server %s: GET services%s: HTTP %d %.80s%s", st->kc.server,
	              st->phase == KP_WATCH ? " (watch)" : "", r->status, r->reason,
	              r->status == 401 || r->status == 403 ?
	              " (the kubeconfig's credentials are refused or may not list services)" : "");
	kube_retry(st, KN_LIST);
	return -1;
}

static int on_body(struct curlev_req *q, const char *data, size_t len, void *arg)
{
	struct kube_state *st = arg;

	(void)q;
	if (evbuffer_add(st->buf, data, len) < 0) {
		kube_fail_log(st, "out of memory");
		kube_retry(st, KN_LIST);
		return -1;
	}
	if (st->phase != KP_WATCH)
		return 0;
	return watch_lines(st);
}

static void on_end(struct curlev_req *q, void *arg)
{
	struct kube_state *st = arg;

	(void)q;
	if (st->phase == KP_LIST) {
		list_done(st);
		return;
	}
	watch_ended(st, "ended");
}

static void on_error(struct curlev_req *q, int err, const char *reason, void *arg)
{
	struct kube_state *st = arg;
	char why[600];

	(void)q;
	if (st->phase == KP_WATCH && st->status == 200) {
		char how[400];

		snprintf(how, sizeof(how), "dropped (%s)", reason);
		watch_ended(st, how);
		return;
	}
	if (err == CURLEV_ETLSVERIFY)
		kube_tls_untrusted(reason, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s%s", reason, err == -EFBIG ? " (service list too large)" : "");
	kube_fail_log(st, "API server %s: %s", st->kc.server, why);
	kube_retry(st, st->phase == KP_WATCH && st->rv[0] ? KN_WATCH : KN_LIST);
}

static const struct curlev_callbacks kube_http_cb = {
	.on_response = on_response,
	.on_body = on_body,
	.on_end = on_end,
	.on_error = on_error,
};

/* ------------------------------------------------------------- requests */

void kube_request(struct kube_state *st)
{
	char url[1024], auth[16 + 8192];
	const char *hdrs[5];
	struct curlev_opts o;
	size_t nh = 0;
	int r;

	if (st->buf)
		evbuffer_drain(st->buf, evbuffer_get_length(st->buf));
	st->status = 0;
	if (st->phase == KP_LIST)
		snprintf(url, sizeof(url), "%s%s/api/v1/services", st->origin, st->kc.path_prefix);
	else
		snprintf(url, sizeof(url), "%s%s/api/v1/services?watch=1&resourceVersion=%s"
		         "&allowWatchBookmarks=true&timeoutSeconds=%d", st->origin, st->kc.path_prefix, st->rv,
		         KUBE_WATCH_TIMEOUT_S);
	hdrs[nh++] = st->host_header;
	hdrs[nh++] = "Accept: application/json";
	hdrs[nh++] = "User-Agent: brokerd-kubernetes/" PACKAGE_VERSION;
	if (st->kc.token) {
		if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", st->kc.token) >= sizeof(auth)) {
			kube_fail_log(st, "kubeconfig %s: token longer than 8 KiB", st->kubeconfig_path);
			kube_retry(st, KN_LIST);
			return;
		}
		hdrs[nh++] = auth;
	}
	hdrs[nh] = NULL;
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.headers = hdrs;
	o.max_body_bytes = st->phase == KP_LIST ? KUBE_LIST_MAX : 0;
	o.connect_timeout_ms = KUBE_CONNECT_MS;
	o.idle_timeout_ms = st->phase == KP_WATCH ? KUBE_WATCH_IDLE_MS : 30000;
	if (st->kc.https)
		kube_tls_opts(st, &o);
	r = curlev_start(st->curl, &o, &kube_http_cb, st, &st->http);
	if (st->kc.token)
		memset(auth, 0, sizeof(auth));
	if (r < 0) {
		kube_fail_log(st, "API server %s: request: %s", st->kc.server, strerror(-r));
		kube_retry(st, KN_LIST);
		return;
	}
	kube_host->log(st->h, BROKER_LOG_DEBUG, "GET %s", url + strlen(st->origin));
}
