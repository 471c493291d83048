/*
 * plugins/kubernetes/kubernetes.c - watcher plugin: NodePort and
 * LoadBalancer services from the Kubernetes API server become mappings.
 *
 *   --watch kubernetes[,kubeconfig=PATH][,api_port_mapping=false][,listen_addr=127.0.0.1]
 *
 * This file: the plugin's options and lifecycle, the kubeconfig (re)load
 * before each list, and the table of services with mappings and its
 * reports.  The list and watch requests are kube_watch.c, the TLS material
 * kube_tls.c, the kubeconfig's YAML kyaml.c and kubeconfig.c, a Service's
 * ports service.c.  See README.md.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "broker/plugin.h"
#include "plugins/kubernetes/kube.h"

const struct broker_host *kube_host;

static const struct broker_option kube_options[] = {
	{ BROKER_OPT_PATH, "kubeconfig", "/etc/rancher/k3s/k3s.yaml",
	  "kubeconfig with the API server, its CA and a client certificate or token (current-context)", 0, 0 },
	{ BROKER_OPT_BOOL, "api_port_mapping", "true",
	  "also forward the API server's port (on 127.0.0.1 of the host) to the server in the kubeconfig", 0, 0 },
	{ BROKER_OPT_STRING, "listen_addr", "0.0.0.0",
	  "host address for service ports: 0.0.0.0 or 127.0.0.1", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

void kube_note(void *arg, int level, const char *fmt, ...)
{
	struct kube_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	kube_host->vlog(st->h, (enum broker_log_level)level, fmt, ap);
	va_end(ap);
}

/* A failure that may repeat every backoff step: warn once, then debug. */
void kube_fail_log(struct kube_state *st, const char *fmt, ...)
{
	char msg[sizeof(st->last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, st->last_err) == 0) {
		kube_host->log(st->h, BROKER_LOG_DEBUG, "%s (again)", msg);
		return;
	}
	snprintf(st->last_err, sizeof(st->last_err), "%s", msg);
	kube_host->log(st->h, BROKER_LOG_WARN, "%s", msg);
}

/* ------------------------------------------------------------- services table */

static struct svc_entry **svc_find(struct kube_state *st, const char *uid)
{
	size_t i;

	for (i = 0; i < st->nsvcs; i++)
		if (strcmp(st->svcs[i]->uid, uid) == 0)
			return &st->svcs[i];
	return NULL;
}

static void svcs_clear(struct svc_entry **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

static struct svc_entry *svc_entry_new(const struct k8s_service *s)
{
	struct svc_entry *e = malloc(sizeof(*e) + s->n * sizeof(e->m[0]));

	if (!e)
		return NULL;
	memcpy(e->uid, s->uid, sizeof(e->uid));
	memcpy(e->desc, s->desc, sizeof(e->desc));
	e->n = s->n;
	memcpy(e->m, s->m, s->n * sizeof(e->m[0]));
	return e;
}

static int svc_same(const struct svc_entry *e, const struct k8s_service *s)
{
	return e->n == s->n && strcmp(e->desc, s->desc) == 0 && memcmp(e->m, s->m, s->n * sizeof(e->m[0])) == 0;
}

static int report(struct kube_state *st, const struct svc_entry *e)
{
	struct broker_mapping bm[K8S_MAX_MAPPINGS];
	const char *ptrs[K8S_MAX_MAPPINGS][2];

	k8s_mappings_view(e->m, e->n, st->listen_addr, bm, ptrs);
	return kube_host->mapping_set(st->h, e->uid, e->desc, bm, e->n);
}

void kube_report_api(struct kube_state *st)
{
	struct broker_mapping m;
	const char *c[1];

	if (!st->api_mapping || !st->kc_loaded)
		return;
	c[0] = st->api_connect;
	m.proto = BROKER_PROTO_TCP;
	m.host_ip = "127.0.0.1";
	m.host_port = (uint16_t)st->kc.port;
	m.nconnect = 1;
	m.connect = c;
	kube_host->mapping_set(st->h, KUBE_API_OWNER, "kubernetes API server", &m, 1);
}

void kube_report_all(struct kube_state *st)
{
	size_t i;

	kube_host->resync_begin(st->h);
	kube_report_api(st);
	for (i = 0; i < st->nsvcs; i++)
		report(st, st->svcs[i]);
	kube_host->resync_commit(st->h);
}

/* A service from a watch event: add, change or remove its mappings. */
void kube_service_event(struct kube_state *st, const json_t *obj, const char *what)
{
	struct k8s_service *s = &st->conv;
	struct svc_entry **slot, *e;
	char err[300];

	if (k8s_service_convert(obj, s, kube_note, st, err, sizeof(err)) < 0) {
		if (!s->uid[0]) {
			kube_host->log(st->h, BROKER_LOG_ERROR, "%s event: %s; ignored", what, err);
			return;
		}
		kube_host->log(st->h, BROKER_LOG_ERROR, "%s event: %s; treating it as having no ports", what, err);
		s->n = 0;
	}
	slot = svc_find(st, s->uid);
	if (s->n == 0) {
		if (slot) {
			kube_host->log(st->h, BROKER_LOG_INFO, "service %s (%s): type %s, no ports to forward: removed",
			          (*slot)->desc, s->uid, s->type);
			free(*slot);
			*slot = st->svcs[--st->nsvcs];
			kube_host->mapping_remove(st->h, s->uid);
		} else {
			kube_host->log(st->h, BROKER_LOG_DEBUG, "service %s (%s): type %s, nothing to forward", s->desc,
			          s->uid, s->type);
		}
		return;
	}
	if (slot && svc_same(*slot, s))
		return;
	if (!slot && st->nsvcs >= KUBE_MAX_SERVICES) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "service %s (%s): more than %d services, ignored", s->desc,
		          s->uid, KUBE_MAX_SERVICES);
		return;
	}
	e = svc_entry_new(s);
	if (!e) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "service %s: out of memory", s->desc);
		return;
	}
	if (slot) {
		free(*slot);
		*slot = e;
	} else {
		if (st->nsvcs == st->capsvcs) {
			size_t cap = st->capsvcs ? st->capsvcs * 2 : 16;
			struct svc_entry **v = realloc(st->svcs, cap * sizeof(*v));

			if (!v) {
				free(e);
				kube_host->log(st->h, BROKER_LOG_ERROR, "service %s: out of memory", s->desc);
				return;
			}
			st->svcs = v;
			st->capsvcs = cap;
		}
		st->svcs[st->nsvcs++] = e;
	}
	kube_host->log(st->h, BROKER_LOG_INFO, "service %s (%s): %s, %zu port mapping(s)", e->desc, e->uid, s->type,
	          e->n);
	report(st, e);
}

void kube_service_deleted(struct kube_state *st, const json_t *obj)
{
	const json_t *uid = json_object_get(json_object_get(obj, "metadata"), "uid");
	struct svc_entry **slot;

	if (!json_is_string(uid)) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "DELETED event without metadata.uid; ignored");
		return;
	}
	slot = svc_find(st, json_string_value(uid));
	if (!slot) {
		kube_host->log(st->h, BROKER_LOG_DEBUG, "DELETED event for service %.128s, which has no mappings",
		          json_string_value(uid));
		return;
	}
	kube_host->log(st->h, BROKER_LOG_INFO, "service %s (%s): deleted", (*slot)->desc, (*slot)->uid);
	kube_host->mapping_remove(st->h, (*slot)->uid);
	free(*slot);
	*slot = st->svcs[--st->nsvcs];
}

/* ------------------------------------------------------------- kubeconfig */

static int is_numeric_host(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* "HOST:PORT", with brackets around an IPv6 address. */
static void host_port(const char *h, unsigned port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(h, ':') ? "[%s]:%u" : "%s:%u", h, port);
}

/* Where the requests go: origin, Host header and, with tls-server-name, libcurl's connect-to. */
static void set_endpoint(struct kube_state *st)
{
	const struct kubeconfig *kc = &st->kc;
	char hp[300], name[300];

	host_port(kc->host, kc->port, hp, sizeof(hp));
	snprintf(st->host_header, sizeof(st->host_header), "Host: %s", hp);
	st->connect_to[0] = '\0';
	if (kc->https && kc->tls_server_name) {
		/* the URL names the certificate's name; the connection goes to the server */
		host_port(kc->tls_server_name, kc->port, name, sizeof(name));
		snprintf(st->origin, sizeof(st->origin), "https://%s", name);
		snprintf(st->connect_to, sizeof(st->connect_to), "%s:%u:%s:%u", kc->tls_server_name, kc->port,
		         kc->host, kc->port);
	} else {
		snprintf(st->origin, sizeof(st->origin), "%s://%s", kc->https ? "https" : "http", hp);
	}
	if (!strcmp(kc->host, "localhost"))
		snprintf(st->api_connect, sizeof(st->api_connect), "127.0.0.1:%u", kc->port);
	else
		snprintf(st->api_connect, sizeof(st->api_connect), "%s", hp);
}

/* (Re)read the kubeconfig and check its TLS material. */
static int load_config(struct kube_state *st)
{
	struct kubeconfig kc;
	char err[600];

	if (kubeconfig_load(st->kubeconfig_path, &kc, err, sizeof(err)) < 0) {
		kube_fail_log(st, "kubeconfig %s: %s", st->kubeconfig_path, err);
		return -EINVAL;
	}
	if (kube_tls_check(&kc, err, sizeof(err)) < 0) {
		kube_fail_log(st, "kubeconfig %s: %s", st->kubeconfig_path, err);
		kubeconfig_clear(&kc);
		return -EINVAL;
	}
	if (kc.tls_server_name && (strchr(kc.tls_server_name, ':') || is_numeric_host(kc.tls_server_name))) {
		kube_fail_log(st, "kubeconfig %s: tls-server-name '%s' must be a DNS name", st->kubeconfig_path,
		              kc.tls_server_name);
		kubeconfig_clear(&kc);
		return -EINVAL;
	}
	if (kc.insecure_skip_verify && (!st->kc_loaded || !st->kc.insecure_skip_verify))
		kube_host->log(st->h, BROKER_LOG_WARN, "kubeconfig %s: insecure-skip-tls-verify is set: the API "
		               "server's certificate is not checked", st->kubeconfig_path);
	if (!st->kc_loaded || strcmp(st->kc.server, kc.server) != 0)
		kube_host->log(st->h, BROKER_LOG_INFO, "API server %s (context %s, %s)", kc.server, kc.context,
		               kc.cert_pem ? "client certificate" : kc.token ? "bearer token" : "no credentials");
	if (st->kc_loaded)
		kubeconfig_clear(&st->kc);
	st->kc = kc;
	st->kc_loaded = 1;
	set_endpoint(st);
	return 0;
}

/* ------------------------------------------------------------- list */

/* One item of a list: 1 added to v, 0 skipped (logged), -ENOSPC or -ENOMEM: stop (logged). */
static int listed_one(struct kube_state *st, const json_t *item, size_t i, struct svc_entry ***v, size_t *n,
                      size_t *cap)
{
	struct k8s_service *s = &st->conv;
	struct svc_entry *e;
	char err[300];
	size_t j;

	if (k8s_service_convert(item, s, kube_note, st, err, sizeof(err)) < 0) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "service list item %zu: %s; ignored", i, err);
		return 0;
	}
	if (s->n == 0)
		return 0;
	for (j = 0; j < *n; j++)
		if (strcmp((*v)[j]->uid, s->uid) == 0)
			break;
	if (j < *n) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "service list item %zu: uid %s listed twice; ignored", i,
		               s->uid);
		return 0;
	}
	if (*n >= KUBE_MAX_SERVICES) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "service list: more than %d services with ports, the rest "
		               "are ignored", KUBE_MAX_SERVICES);
		return -ENOSPC;
	}
	e = svc_entry_new(s);
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct svc_entry **nv = e ? realloc(*v, ncap * sizeof(*nv)) : NULL;

		if (!nv) {
			free(e);
			kube_host->log(st->h, BROKER_LOG_ERROR, "service list: out of memory");
			return -ENOMEM;
		}
		*v = nv;
		*cap = ncap;
	}
	if (!e) {
		kube_host->log(st->h, BROKER_LOG_ERROR, "service list: out of memory");
		return -ENOMEM;
	}
	(*v)[(*n)++] = e;
	return 1;
}

void kube_services_listed(struct kube_state *st, const json_t *items)
{
	struct svc_entry **old = st->svcs, **v = NULL;
	size_t nold = st->nsvcs, n = 0, cap = 0, i, nitems = json_array_size(items);

	for (i = 0; i < nitems; i++)
		if (listed_one(st, json_array_get(items, i), i, &v, &n, &cap) < 0)
			break;
	kube_host->log(st->h, BROKER_LOG_INFO, "listed %zu service(s), %zu with ports to forward "
	               "(resourceVersion %s)", nitems, n, st->rv);
	st->svcs = v;
	st->nsvcs = n;
	st->capsvcs = cap;
	svcs_clear(old, nold);
	free(old);
	kube_report_all(st);
}

/* ------------------------------------------------------------- timer */

static void kube_timer(void *arg)
{
	struct kube_state *st = arg;

	kube_conn_close(st);
	if (st->next == KN_LIST || !st->rv[0] || !st->kc_loaded) {
		if (load_config(st) < 0) {
			kube_retry(st, KN_LIST);
			return;
		}
		if (st->api_mapping)
			kube_report_api(st);
		st->phase = KP_LIST;
	} else {
		st->phase = KP_WATCH;
		st->events = 0;
		st->watch_started = time(NULL);
	}
	kube_request(st);
}

/* ------------------------------------------------------------- plugin */

static int kube_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct kube_state *st;
	const char *path = kube_host->option_string(h, "kubeconfig");
	const char *la = kube_host->option_string(h, "listen_addr");

	if (!path || !*path) {
		snprintf(err, errlen, "kubeconfig: empty path");
		return -EINVAL;
	}
	if (!la || (strcmp(la, "0.0.0.0") != 0 && strcmp(la, "127.0.0.1") != 0)) {
		snprintf(err, errlen, "listen_addr '%s': use 0.0.0.0 or 127.0.0.1", la ? la : "");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	st->kubeconfig_path = strdup(path);
	st->buf = evbuffer_new();
	if (!st->kubeconfig_path || !st->buf) {
		free(st->kubeconfig_path);
		if (st->buf)
			evbuffer_free(st->buf);
		free(st);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->api_mapping = kube_host->option_bool(h, "api_port_mapping");
	snprintf(st->listen_addr, sizeof(st->listen_addr), "%s", la);
	*state = st;
	return 0;
}

static int kube_start(void *state, char *err, size_t errlen)
{
	struct kube_state *st = state;

	st->timer = kube_host->timer_new(st->h, kube_timer, st);
	if (!st->timer) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->curl = curlev_new(kube_host->event_base(st->h), err, errlen);
	if (!st->curl)
		return -ENOMEM;
	st->running = 1;
	st->backoff_ms = 0;
	kube_host->log(st->h, BROKER_LOG_INFO, "watching services via %s (service ports on %s%s)", st->kubeconfig_path,
	          st->listen_addr, st->api_mapping ? ", API port on 127.0.0.1" : "");
	kube_schedule(st, KN_LIST, 0);
	return 0;
}

static void kube_stop(void *state)
{
	struct kube_state *st = state;

	/*
	 * The timers are core-tracked: the core releases them when it stops
	 * the plugin (before calling stop), so they are only forgotten here.
	 */
	st->timer = NULL;
	kube_conn_close(st);
	curlev_free(st->curl);
	st->curl = NULL;
	st->running = 0;
}

static void kube_fini(void *state)
{
	struct kube_state *st = state;

	if (!st)
		return;
	svcs_clear(st->svcs, st->nsvcs);
	free(st->svcs);
	if (st->kc_loaded)
		kubeconfig_clear(&st->kc);
	evbuffer_free(st->buf);
	free(st->kubeconfig_path);
	free(st);
}

static int kube_resync(void *state)
{
	struct kube_state *st = state;

	kube_report_all(st);
	return 0;
}

static const struct broker_plugin kube_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "kubernetes",
	.version = PACKAGE_VERSION,
	.description = "watch NodePort and LoadBalancer services on a Kubernetes API server",
	.kinds = BROKER_KIND_WATCHER,
	.options = kube_options,
	.init = kube_init,
	.start = kube_start,
	.stop = kube_stop,
	.fini = kube_fini,
	.resync = kube_resync,
};

BROKER_PLUGIN_DEFINE(kube_plugin, kube_host)
