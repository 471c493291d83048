/*
 * plugins/kubernetes/kube.h - internal interface of the kubernetes watcher:
 * the services table, its reports and the plugin's lifecycle
 * (kubernetes.c), the list and watch requests (kube_watch.c) and the TLS
 * material from the kubeconfig (kube_tls.c).
 */
#ifndef BROKER_PLUGINS_KUBERNETES_KUBE_H
#define BROKER_PLUGINS_KUBERNETES_KUBE_H

#include <stddef.h>
#include <time.h>

#include "broker/plugin.h"
#include "plugins/common/curlev.h"
#include "plugins/kubernetes/kubeconfig.h"
#include "plugins/kubernetes/service.h"

struct evbuffer;
typedef struct json_t json_t;

#define KUBE_LIST_MAX (64ull << 20)      /* bytes of a ServiceList */
#define KUBE_EVENT_MAX (4u << 20)        /* bytes of one watch event line */
#define KUBE_MAX_SERVICES 10000          /* services with mappings tracked */
#define KUBE_BACKOFF_MIN_MS 500
#define KUBE_BACKOFF_MAX_MS 30000
#define KUBE_CONNECT_MS 10000            /* TCP and TLS handshake */
#define KUBE_WATCH_TIMEOUT_S 600         /* asked of the server; it ends the watch */
#define KUBE_WATCH_IDLE_MS ((KUBE_WATCH_TIMEOUT_S + 120) * 1000L)
#define KUBE_API_OWNER "kubernetes:api-server"   /* ':' never appears in a uid */

/* One service with mappings. */
struct svc_entry {
	char uid[K8S_UID_MAX + 1];
	char desc[2 * K8S_NAME_MAX + 2];
	size_t n;
	struct k8s_mapping m[];
};

enum kube_phase { KP_IDLE, KP_LIST, KP_WATCH };
enum kube_next { KN_LIST, KN_WATCH };

struct kube_state {
	struct broker_plugin_handle *h;
	char *kubeconfig_path;
	int api_mapping;
	char listen_addr[16];

	struct kubeconfig kc;
	int kc_loaded;
	char api_connect[300];            /* the API server as a connect address */
	char origin[320];                 /* scheme://NAME:PORT the requests go to */
	char connect_to[600];             /* "NAME:PORT:HOST:PORT" with tls-server-name, else "" */
	char host_header[320];            /* "Host: HOST:PORT" */
	struct curlev *curl;

	struct broker_timer *timer;       /* next list / watch */
	enum kube_next next;
	long backoff_ms;

	enum kube_phase phase;
	struct curlev_req *http;
	int status;
	struct evbuffer *buf;             /* list body, or the partial watch line */
	char rv[K8S_RV_MAX + 1];
	unsigned long events;             /* in the current watch */
	time_t watch_started;

	struct svc_entry **svcs;
	size_t nsvcs, capsvcs;
	struct k8s_service conv;          /* scratch for one conversion */
	char last_err[512];               /* repeated failures log at debug */
	int running;
};

/* The host table (set when the core loads the plugin). */
extern const struct broker_host *kube_host;

/* kubernetes.c: logs, the services table and its reports. */
void kube_note(void *arg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kube_fail_log(struct kube_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kube_report_api(struct kube_state *st);
void kube_report_all(struct kube_state *st);
/* A list answer: its services (with ports) replace the table, reported as one resync. */
void kube_services_listed(struct kube_state *st, const json_t *items);
void kube_service_event(struct kube_state *st, const json_t *obj, const char *what);
void kube_service_deleted(struct kube_state *st, const json_t *obj);

/* kube_watch.c: the list and watch requests, retries and backoff. */
void kube_conn_close(struct kube_state *st);
void kube_schedule(struct kube_state *st, enum kube_next next, long ms);
void kube_retry(struct kube_state *st, enum kube_next next);
void kube_request(struct kube_state *st);     /* the list or watch of st->phase */

/* kube_tls.c: the kubeconfig's certificates and keys. */
/* Check the CA bundle, client certificate and key parse (and match).  0, or -EINVAL with err. */
int kube_tls_check(const struct kubeconfig *kc, char *err, size_t errlen);
/* The TLS part of a request's options (pointers into kc). */
void kube_tls_opts(const struct kube_state *st, struct curlev_opts *o);
/* The log line for a server certificate that did not verify (libcurl's reason in). */
void kube_tls_untrusted(const char *reason, char *buf, size_t len);

#endif
