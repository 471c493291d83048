/*
 * plugins/kubernetes/kubernetes.c - watcher plugin: NodePort and
 * LoadBalancer services from the Kubernetes API server become mappings.
 *
 *   --watch kubernetes[,kubeconfig=PATH][,api_port_mapping=false][,listen_addr=127.0.0.1]
 *
 * Protocol: GET /api/v1/services (the list: a full resync, remember
 * metadata.resourceVersion), then GET /api/v1/services?watch=1&
 * resourceVersion=RV&allowWatchBookmarks=true, a chunked stream of one JSON
 * event per line.  A watch that ends or drops resumes from the last
 * resourceVersion seen; 410 Gone (HTTP status or an ERROR event carrying a
 * Status with code 410) relists from scratch; other failures retry with a
 * bounded exponential backoff.  See README.md.
 *
 * TLS: the handshake runs on a bufferevent_openssl (server verified against
 * the kubeconfig's CA, client certificate and key when given); once it is
 * done the bufferevent is handed to the shared HTTP client (httpc_attach).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <jansson.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "broker/plugin.h"
#include "plugins/common/httpc.h"
#include "plugins/kubernetes/kubeconfig.h"
#include "plugins/kubernetes/service.h"

static const struct broker_host *host;

#define KUBE_LIST_MAX (64ull << 20)      /* bytes of a ServiceList */
#define KUBE_EVENT_MAX (4u << 20)        /* bytes of one watch event line */
#define KUBE_MAX_SERVICES 10000          /* services with mappings tracked */
#define KUBE_BACKOFF_MIN_MS 500
#define KUBE_BACKOFF_MAX_MS 30000
#define KUBE_HANDSHAKE_MS 10000
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
	SSL_CTX *ssl_ctx;
	char api_connect[300];
	struct evdns_base *dns;

	struct broker_timer *timer;       /* next list / watch */
	struct broker_timer *hs_timer;    /* TLS handshake timeout */
	enum kube_next next;
	long backoff_ms;

	enum kube_phase phase;
	struct bufferevent *tls_bev;      /* handshaking, before httpc owns it */
	struct httpc *http;
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

static const struct broker_option kube_options[] = {
	{ BROKER_OPT_PATH, "kubeconfig", "/etc/rancher/k3s/k3s.yaml",
	  "kubeconfig with the API server, its CA and a client certificate or token (current-context)", 0, 0 },
	{ BROKER_OPT_BOOL, "api_port_mapping", "true",
	  "also forward the API server's port (on 127.0.0.1 of the host) to the server in the kubeconfig", 0, 0 },
	{ BROKER_OPT_STRING, "listen_addr", "0.0.0.0",
	  "host address for service ports: 0.0.0.0 or 127.0.0.1", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static void kube_note(void *arg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kube_note(void *arg, int level, const char *fmt, ...)
{
	struct kube_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	host->vlog(st->h, (enum broker_log_level)level, fmt, ap);
	va_end(ap);
}

/* A failure that may repeat every backoff step: warn once, then debug. */
static void kube_fail_log(struct kube_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kube_fail_log(struct kube_state *st, const char *fmt, ...)
{
	char msg[sizeof(st->last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, st->last_err) == 0) {
		host->log(st->h, BROKER_LOG_DEBUG, "%s (again)", msg);
		return;
	}
	snprintf(st->last_err, sizeof(st->last_err), "%s", msg);
	host->log(st->h, BROKER_LOG_WARN, "%s", msg);
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
	return host->mapping_set(st->h, e->uid, e->desc, bm, e->n);
}

static void report_api(struct kube_state *st)
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
	host->mapping_set(st->h, KUBE_API_OWNER, "kubernetes API server", &m, 1);
}

static void report_all(struct kube_state *st)
{
	size_t i;

	host->resync_begin(st->h);
	report_api(st);
	for (i = 0; i < st->nsvcs; i++)
		report(st, st->svcs[i]);
	host->resync_commit(st->h);
}

/* A service from a watch event: add, change or remove its mappings. */
static void service_event(struct kube_state *st, const json_t *obj, const char *what)
{
	struct k8s_service *s = &st->conv;
	struct svc_entry **slot, *e;
	char err[300];

	if (k8s_service_convert(obj, s, kube_note, st, err, sizeof(err)) < 0) {
		if (!s->uid[0]) {
			host->log(st->h, BROKER_LOG_ERROR, "%s event: %s; ignored", what, err);
			return;
		}
		host->log(st->h, BROKER_LOG_ERROR, "%s event: %s; treating it as having no ports", what, err);
		s->n = 0;
	}
	slot = svc_find(st, s->uid);
	if (s->n == 0) {
		if (slot) {
			host->log(st->h, BROKER_LOG_INFO, "service %s (%s): type %s, no ports to forward: removed",
			          (*slot)->desc, s->uid, s->type);
			free(*slot);
			*slot = st->svcs[--st->nsvcs];
			host->mapping_remove(st->h, s->uid);
		} else {
			host->log(st->h, BROKER_LOG_DEBUG, "service %s (%s): type %s, nothing to forward", s->desc,
			          s->uid, s->type);
		}
		return;
	}
	if (slot && svc_same(*slot, s))
		return;
	if (!slot && st->nsvcs >= KUBE_MAX_SERVICES) {
		host->log(st->h, BROKER_LOG_ERROR, "service %s (%s): more than %d services, ignored", s->desc,
		          s->uid, KUBE_MAX_SERVICES);
		return;
	}
	e = svc_entry_new(s);
	if (!e) {
		host->log(st->h, BROKER_LOG_ERROR, "service %s: out of memory", s->desc);
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
				host->log(st->h, BROKER_LOG_ERROR, "service %s: out of memory", s->desc);
				return;
			}
			st->svcs = v;
			st->capsvcs = cap;
		}
		st->svcs[st->nsvcs++] = e;
	}
	host->log(st->h, BROKER_LOG_INFO, "service %s (%s): %s, %zu port mapping(s)", e->desc, e->uid, s->type,
	          e->n);
	report(st, e);
}

static void service_deleted(struct kube_state *st, const json_t *obj)
{
	const json_t *uid = json_object_get(json_object_get(obj, "metadata"), "uid");
	struct svc_entry **slot;

	if (!json_is_string(uid)) {
		host->log(st->h, BROKER_LOG_ERROR, "DELETED event without metadata.uid; ignored");
		return;
	}
	slot = svc_find(st, json_string_value(uid));
	if (!slot) {
		host->log(st->h, BROKER_LOG_DEBUG, "DELETED event for service %.128s, which has no mappings",
		          json_string_value(uid));
		return;
	}
	host->log(st->h, BROKER_LOG_INFO, "service %s (%s): deleted", (*slot)->desc, (*slot)->uid);
	host->mapping_remove(st->h, (*slot)->uid);
	free(*slot);
	*slot = st->svcs[--st->nsvcs];
}

/* ------------------------------------------------------------- connection */

static void conn_close(struct kube_state *st)
{
	if (st->tls_bev) {
		bufferevent_free(st->tls_bev);
		st->tls_bev = NULL;
	}
	if (st->hs_timer)
		host->timer_arm(st->hs_timer, -1);
	httpc_free(st->http);
	st->http = NULL;
	st->phase = KP_IDLE;
	if (st->buf)
		evbuffer_drain(st->buf, evbuffer_get_length(st->buf));
}

static void schedule(struct kube_state *st, enum kube_next next, long ms)
{
	st->next = next;
	host->timer_arm(st->timer, ms);
}

/* After a failure: wait (growing) and then do next. */
static void retry(struct kube_state *st, enum kube_next next)
{
	conn_close(st);
	st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : KUBE_BACKOFF_MIN_MS;
	if (st->backoff_ms > KUBE_BACKOFF_MAX_MS)
		st->backoff_ms = KUBE_BACKOFF_MAX_MS;
	host->log(st->h, BROKER_LOG_DEBUG, "retrying %s in %ld ms", next == KN_LIST ? "the list" : "the watch",
	          st->backoff_ms);
	schedule(st, next, st->backoff_ms);
}

static void relist_now(struct kube_state *st)
{
	conn_close(st);
	st->rv[0] = '\0';
	schedule(st, KN_LIST, 0);
}

static int is_numeric_host(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown TLS error");
	ERR_clear_error();
}

static SSL_CTX *tls_ctx_new(const struct kubeconfig *kc, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char why[256];
	BIO *b = NULL;
	X509 *x;
	EVP_PKEY *pk;
	int n = 0;

	if (!ctx) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "TLS: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (kc->insecure_skip_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (kc->ca_pem) {
			X509_STORE *store = SSL_CTX_get_cert_store(ctx);

			b = BIO_new_mem_buf(kc->ca_pem, (int)kc->ca_len);
			while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
				if (X509_STORE_add_cert(store, x) == 1)
					n++;
				X509_free(x);
			}
			ERR_clear_error();
			BIO_free(b);
			b = NULL;
			if (n == 0) {
				snprintf(err, errlen, "certificate authority: no PEM certificate in it");
				goto fail;
			}
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			ssl_reason(why, sizeof(why));
			snprintf(err, errlen, "system CA certificates: %s", why);
			goto fail;
		}
	}
	if (kc->cert_pem) {
		b = BIO_new_mem_buf(kc->cert_pem, (int)kc->cert_len);
		x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
			X509_free(x);
			ssl_reason(why, sizeof(why));
			snprintf(err, errlen, "client certificate: %s", why);
			goto fail;
		}
		X509_free(x);
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
				X509_free(x);
		ERR_clear_error();
		BIO_free(b);
		b = BIO_new_mem_buf(kc->key_pem, (int)kc->key_len);
		pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		if (!pk || SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			EVP_PKEY_free(pk);
			ssl_reason(why, sizeof(why));
			snprintf(err, errlen, "client key: %s", why);
			goto fail;
		}
		EVP_PKEY_free(pk);
		BIO_free(b);
		b = NULL;
	}
	return ctx;
fail:
	BIO_free(b);
	SSL_CTX_free(ctx);
	return NULL;
}

/* (Re)read the kubeconfig and rebuild the TLS context. */
static int load_config(struct kube_state *st)
{
	struct kubeconfig kc;
	char err[600];
	SSL_CTX *ctx = NULL;

	if (kubeconfig_load(st->kubeconfig_path, &kc, err, sizeof(err)) < 0) {
		kube_fail_log(st, "kubeconfig %s: %s", st->kubeconfig_path, err);
		return -EINVAL;
	}
	if (kc.https) {
		ctx = tls_ctx_new(&kc, err, sizeof(err));
		if (!ctx) {
			kube_fail_log(st, "kubeconfig %s: %s", st->kubeconfig_path, err);
			kubeconfig_clear(&kc);
			return -EINVAL;
		}
	}
	if (kc.insecure_skip_verify && (!st->kc_loaded || !st->kc.insecure_skip_verify))
		host->log(st->h, BROKER_LOG_WARN, "kubeconfig %s: insecure-skip-tls-verify is set: the API "
		          "server's certificate is not checked", st->kubeconfig_path);
	if (!st->kc_loaded || strcmp(st->kc.server, kc.server) != 0)
		host->log(st->h, BROKER_LOG_INFO, "API server %s (context %s, %s)", kc.server, kc.context,
		          kc.cert_pem ? "client certificate" : kc.token ? "bearer token" : "no credentials");
	if (st->kc_loaded)
		kubeconfig_clear(&st->kc);
	SSL_CTX_free(st->ssl_ctx);
	st->kc = kc;
	st->kc_loaded = 1;
	st->ssl_ctx = ctx;
	if (!strcmp(kc.host, "localhost"))
		snprintf(st->api_connect, sizeof(st->api_connect), "127.0.0.1:%u", kc.port);
	else if (strchr(kc.host, ':'))
		snprintf(st->api_connect, sizeof(st->api_connect), "[%s]:%u", kc.host, kc.port);
	else
		snprintf(st->api_connect, sizeof(st->api_connect), "%s:%u", kc.host, kc.port);
	if (!is_numeric_host(kc.host) && !st->dns) {
		st->dns = evdns_base_new(host->event_base(st->h), EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (!st->dns) {
			kube_fail_log(st, "cannot set up DNS to resolve %s", kc.host);
			return -EINVAL;
		}
	}
	return 0;
}

static int on_response(struct httpc *c, const struct httpc_response *r, void *arg);
static int on_body(struct httpc *c, const char *data, size_t len, void *arg);
static void on_end(struct httpc *c, void *arg);
static void on_error(struct httpc *c, int err, const char *reason, void *arg);

static const struct httpc_callbacks kube_http_cb = {
	.on_response = on_response,
	.on_body = on_body,
	.on_end = on_end,
	.on_error = on_error,
};

/* Send the list or watch request on st->http (connected or connecting). */
static void send_request(struct kube_state *st)
{
	char target[512], hosthdr[300], auth[16 + 8192];
	const char *hdrs[4];
	size_t nh = 0;
	int r;

	if (st->phase == KP_LIST)
		snprintf(target, sizeof(target), "%s/api/v1/services", st->kc.path_prefix);
	else
		snprintf(target, sizeof(target), "%s/api/v1/services?watch=1&resourceVersion=%s"
		         "&allowWatchBookmarks=true&timeoutSeconds=%d", st->kc.path_prefix, st->rv,
		         KUBE_WATCH_TIMEOUT_S);
	if (strchr(st->kc.host, ':'))
		snprintf(hosthdr, sizeof(hosthdr), "[%s]:%u", st->kc.host, st->kc.port);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s:%u", st->kc.host, st->kc.port);
	hdrs[nh++] = "Accept: application/json";
	hdrs[nh++] = "User-Agent: brokerd-kubernetes/" PACKAGE_VERSION;
	if (st->kc.token) {
		if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", st->kc.token) >= sizeof(auth)) {
			kube_fail_log(st, "kubeconfig %s: token longer than 8 KiB", st->kubeconfig_path);
			retry(st, KN_LIST);
			return;
		}
		hdrs[nh++] = auth;
	}
	hdrs[nh] = NULL;
	r = httpc_request(st->http, "GET", target, hosthdr, hdrs, NULL, 0);
	if (st->kc.token)
		memset(auth, 0, sizeof(auth));
	if (r < 0) {
		kube_fail_log(st, "request %s: %s", target, strerror(-r));
		retry(st, KN_LIST);
		return;
	}
	host->log(st->h, BROKER_LOG_DEBUG, "GET %s", target);
}

static struct httpc *http_new(struct kube_state *st)
{
	struct httpc_opts o;

	memset(&o, 0, sizeof(o));
	o.max_body_bytes = st->phase == KP_LIST ? KUBE_LIST_MAX : 0;
	o.idle_timeout_ms = st->phase == KP_WATCH ? KUBE_WATCH_IDLE_MS : 30000;
	o.dns = st->dns;
	return httpc_new(host->event_base(st->h), &kube_http_cb, st, &o);
}

static void tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct kube_state *st = arg;
	char why[300];
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long vr;
	int r;

	host->timer_arm(st->hs_timer, -1);
	if (what & BEV_EVENT_CONNECTED) {
		st->tls_bev = NULL;
		st->http = http_new(st);
		if (!st->http) {
			bufferevent_free(bev);
			kube_fail_log(st, "out of memory");
			retry(st, KN_LIST);
			return;
		}
		r = httpc_attach(st->http, bev);
		if (r < 0) {
			bufferevent_free(bev);
			kube_fail_log(st, "httpc_attach: %s", strerror(-r));
			retry(st, KN_LIST);
			return;
		}
		send_request(st);
		return;
	}
	vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (vr != X509_V_OK) {
		snprintf(why, sizeof(why), "server certificate not trusted: %s "
		         "(check certificate-authority-data in the kubeconfig)", X509_verify_cert_error_string(vr));
	} else if (bufferevent_get_openssl_error(bev)) {
		ERR_error_string_n(bufferevent_get_openssl_error(bev), why, sizeof(why));
		while (bufferevent_get_openssl_error(bev))
			;
	} else if (bufferevent_socket_get_dns_error(bev)) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", st->kc.host,
		         evutil_gai_strerror(bufferevent_socket_get_dns_error(bev)));
	} else {
		int e = EVUTIL_SOCKET_ERROR();

		snprintf(why, sizeof(why), "%s", e ? strerror(e) : "connection closed during the TLS handshake");
	}
	kube_fail_log(st, "API server %s: %s", st->kc.server, why);
	retry(st, st->phase == KP_WATCH && st->rv[0] ? KN_WATCH : KN_LIST);
}

static void hs_timeout(void *arg)
{
	struct kube_state *st = arg;

	kube_fail_log(st, "API server %s: no TLS handshake within %d s", st->kc.server, KUBE_HANDSHAKE_MS / 1000);
	retry(st, st->phase == KP_WATCH && st->rv[0] ? KN_WATCH : KN_LIST);
}

/* Open a connection for st->phase and send its request. */
static void connect_api(struct kube_state *st)
{
	struct event_base *base = host->event_base(st->h);
	struct sockaddr_storage ss;
	char lit[300];
	int sslen = sizeof(ss), r;
	SSL *ssl;

	if (st->buf)
		evbuffer_drain(st->buf, evbuffer_get_length(st->buf));
	st->status = 0;
	if (!st->kc.https) {
		st->http = http_new(st);
		if (!st->http) {
			retry(st, KN_LIST);
			return;
		}
		r = httpc_connect_tcp(st->http, st->kc.host, (uint16_t)st->kc.port);
		if (r < 0) {
			kube_fail_log(st, "API server %s: %s", st->kc.server, strerror(-r));
			retry(st, KN_LIST);
			return;
		}
		send_request(st);
		return;
	}
	ssl = SSL_new(st->ssl_ctx);
	if (!ssl) {
		kube_fail_log(st, "TLS: out of memory");
		retry(st, KN_LIST);
		return;
	}
	if (st->kc.tls_server_name || !is_numeric_host(st->kc.host)) {
		const char *name = st->kc.tls_server_name ? st->kc.tls_server_name : st->kc.host;

		SSL_set_tlsext_host_name(ssl, name);
		SSL_set1_host(ssl, name);
	} else {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), st->kc.host);
	}
	st->tls_bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                             BEV_OPT_CLOSE_ON_FREE);
	if (!st->tls_bev) {
		SSL_free(ssl);
		kube_fail_log(st, "TLS: cannot create a connection");
		retry(st, KN_LIST);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(st->tls_bev, 1);
	bufferevent_setcb(st->tls_bev, NULL, NULL, tls_event, st);
	bufferevent_enable(st->tls_bev, EV_READ | EV_WRITE);
	if (strchr(st->kc.host, ':'))
		snprintf(lit, sizeof(lit), "[%s]:%u", st->kc.host, st->kc.port);
	else
		snprintf(lit, sizeof(lit), "%s:%u", st->kc.host, st->kc.port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(lit, (struct sockaddr *)&ss, &sslen) == 0)
		r = bufferevent_socket_connect(st->tls_bev, (struct sockaddr *)&ss, sslen);
	else
		r = bufferevent_socket_connect_hostname(st->tls_bev, st->dns, AF_UNSPEC, st->kc.host,
		                                        (int)st->kc.port);
	if (r < 0) {
		int e = EVUTIL_SOCKET_ERROR();

		kube_fail_log(st, "API server %s: connect: %s", st->kc.server, strerror(e ? e : ECONNREFUSED));
		retry(st, KN_LIST);
		return;
	}
	host->timer_arm(st->hs_timer, KUBE_HANDSHAKE_MS);
}

/* ------------------------------------------------------------- list */

static void list_done(struct kube_state *st)
{
	struct svc_entry **old = st->svcs, **v = NULL;
	size_t nold = st->nsvcs, n = 0, cap = 0, i, nitems;
	const char *rv;
	json_error_t jerr;
	json_t *doc, *items;
	size_t len = evbuffer_get_length(st->buf);
	const char *body = (const char *)evbuffer_pullup(st->buf, -1);

	doc = json_loadb(body ? body : "", len, 0, &jerr);
	evbuffer_drain(st->buf, len);
	if (!doc) {
		kube_fail_log(st, "service list: bad JSON at byte %d: %s", jerr.position, jerr.text);
		retry(st, KN_LIST);
		return;
	}
	items = json_object_get(doc, "items");
	rv = k8s_resource_version(doc);
	if (!json_is_object(doc) || !(json_is_array(items) || json_is_null(items)) || !rv) {
		kube_fail_log(st, "service list: not a ServiceList (no items array or no metadata.resourceVersion)");
		json_decref(doc);
		retry(st, KN_LIST);
		return;
	}
	snprintf(st->rv, sizeof(st->rv), "%s", rv);
	nitems = json_array_size(items);
	for (i = 0; i < nitems; i++) {
		struct k8s_service *s = &st->conv;
		struct svc_entry *e;
		char err[300];
		size_t j;

		if (k8s_service_convert(json_array_get(items, i), s, kube_note, st, err, sizeof(err)) < 0) {
			host->log(st->h, BROKER_LOG_ERROR, "service list item %zu: %s; ignored", i, err);
			continue;
		}
		if (s->n == 0)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(v[j]->uid, s->uid) == 0)
				break;
		if (j < n) {
			host->log(st->h, BROKER_LOG_ERROR, "service list item %zu: uid %s listed twice; ignored", i,
			          s->uid);
			continue;
		}
		if (n >= KUBE_MAX_SERVICES) {
			host->log(st->h, BROKER_LOG_ERROR, "service list: more than %d services with ports, the rest "
			          "are ignored", KUBE_MAX_SERVICES);
			break;
		}
		e = svc_entry_new(s);
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct svc_entry **nv = e ? realloc(v, ncap * sizeof(*nv)) : NULL;

			if (!nv) {
				free(e);
				host->log(st->h, BROKER_LOG_ERROR, "service list: out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!e) {
			host->log(st->h, BROKER_LOG_ERROR, "service list: out of memory");
			break;
		}
		v[n++] = e;
	}
	host->log(st->h, BROKER_LOG_INFO, "listed %zu service(s), %zu with ports to forward (resourceVersion %s)",
	          nitems, n, st->rv);
	json_decref(doc);
	st->svcs = v;
	st->nsvcs = n;
	st->capsvcs = cap;
	svcs_clear(old, nold);
	free(old);
	report_all(st);
	st->backoff_ms = 0;
	st->last_err[0] = '\0';
	conn_close(st);
	schedule(st, KN_WATCH, 0);
}

/* ------------------------------------------------------------- watch */

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
		host->log(st->h, BROKER_LOG_ERROR, "watch event: bad JSON at byte %d: %s; relisting", jerr.position,
		          jerr.text);
		return -1;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		host->log(st->h, BROKER_LOG_ERROR, "watch event without a type string and an object; relisting");
		json_decref(ev);
		return -1;
	}
	st->events++;
	if (!strcmp(type, "ERROR")) {
		const json_t *code = json_object_get(obj, "code");
		const char *msg = json_string_value(json_object_get(obj, "message"));

		if (json_is_integer(code) && json_integer_value(code) == 410) {
			host->log(st->h, BROKER_LOG_INFO, "watch: resourceVersion %s is gone (410): relisting", st->rv);
			ret = 1;
		} else {
			host->log(st->h, BROKER_LOG_WARN, "watch: ERROR event (code %lld: %.200s); relisting",
			          json_is_integer(code) ? (long long)json_integer_value(code) : 0LL,
			          msg ? msg : "no message");
			ret = -1;
		}
		json_decref(ev);
		return ret;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		service_event(st, obj, type);
	else if (!strcmp(type, "DELETED"))
		service_deleted(st, obj);
	else if (strcmp(type, "BOOKMARK") != 0)
		host->log(st->h, BROKER_LOG_WARN, "watch: unknown event type '%.40s'; ignored", type);
	rv = k8s_resource_version(obj);
	if (rv)
		snprintf(st->rv, sizeof(st->rv), "%s", rv);
	else if (strcmp(type, "BOOKMARK") == 0)
		host->log(st->h, BROKER_LOG_WARN, "watch: BOOKMARK without a valid resourceVersion; ignored");
	json_decref(ev);
	return 0;
}

/* ------------------------------------------------------------- HTTP callbacks */

static int on_response(struct httpc *c, const struct httpc_response *r, void *arg)
{
	struct kube_state *st = arg;

	(void)c;
	st->status = r->status;
	if (r->status == 200)
		return 0;
	if (st->phase == KP_WATCH && r->status == 410) {
		host->log(st->h, BROKER_LOG_INFO, "watch: resourceVersion %s is gone (HTTP 410): relisting", st->rv);
		relist_now(st);
		return -1;
	}
	kube_fail_log(st, "API server %s: GET services%s: HTTP %d %.80s%s", st->kc.server,
	              st->phase == KP_WATCH ? " (watch)" : "", r->status, r->reason ? r->reason : "",
	              r->status == 401 || r->status == 403 ?
	              " (the kubeconfig's credentials are refused or may not list services)" : "");
	retry(st, KN_LIST);
	return -1;
}

static int on_body(struct httpc *c, const char *data, size_t len, void *arg)
{
	struct kube_state *st = arg;
	struct evbuffer_ptr p;

	(void)c;
	if (evbuffer_add(st->buf, data, len) < 0) {
		kube_fail_log(st, "out of memory");
		retry(st, KN_LIST);
		return -1;
	}
	if (st->phase != KP_WATCH)
		return 0;
	for (;;) {
		const char *line;
		int r;

		p = evbuffer_search(st->buf, "\n", 1, NULL);
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
			retry(st, KN_LIST);
			return -1;
		}
		if (st->backoff_ms && st->events)
			st->backoff_ms = 0;
	}
	if (evbuffer_get_length(st->buf) > KUBE_EVENT_MAX)
		goto huge;
	return 0;
huge:
	host->log(st->h, BROKER_LOG_ERROR, "watch event larger than %u bytes; relisting", KUBE_EVENT_MAX);
	retry(st, KN_LIST);
	return -1;
}

/* A watch that ended or dropped: resume from the last resourceVersion. */
static void watch_ended(struct kube_state *st, const char *how)
{
	int progress = st->events > 0 || time(NULL) - st->watch_started >= 5;

	if (evbuffer_get_length(st->buf))
		host->log(st->h, BROKER_LOG_DEBUG, "watch: %zu bytes of an unfinished event dropped",
		          evbuffer_get_length(st->buf));
	host->log(st->h, progress ? BROKER_LOG_INFO : BROKER_LOG_WARN, "watch %s after %lu event(s); resuming "
	          "from resourceVersion %s", how, st->events, st->rv);
	if (progress) {
		conn_close(st);
		st->backoff_ms = 0;
		schedule(st, KN_WATCH, 0);
	} else {
		retry(st, KN_WATCH);
	}
}

static void on_end(struct httpc *c, void *arg)
{
	struct kube_state *st = arg;

	(void)c;
	if (st->phase == KP_LIST) {
		list_done(st);
		return;
	}
	watch_ended(st, "ended");
}

static void on_error(struct httpc *c, int err, const char *reason, void *arg)
{
	struct kube_state *st = arg;

	(void)c;
	if (st->phase == KP_WATCH && st->status == 200) {
		char how[400];

		snprintf(how, sizeof(how), "dropped (%s)", reason);
		watch_ended(st, how);
		return;
	}
	kube_fail_log(st, "API server %s: %s%s", st->kc.server, reason,
	              err == -EFBIG ? " (service list too large)" : "");
	retry(st, st->phase == KP_WATCH && st->rv[0] ? KN_WATCH : KN_LIST);
}

/* ------------------------------------------------------------- timer */

static void kube_timer(void *arg)
{
	struct kube_state *st = arg;

	conn_close(st);
	if (st->next == KN_LIST || !st->rv[0] || !st->kc_loaded) {
		if (load_config(st) < 0) {
			retry(st, KN_LIST);
			return;
		}
		if (st->api_mapping)
			report_api(st);
		st->phase = KP_LIST;
	} else {
		st->phase = KP_WATCH;
		st->events = 0;
		st->watch_started = time(NULL);
	}
	connect_api(st);
}

/* ------------------------------------------------------------- plugin */

static int kube_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct kube_state *st;
	const char *path = host->option_string(h, "kubeconfig");
	const char *la = host->option_string(h, "listen_addr");

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
	st->api_mapping = host->option_bool(h, "api_port_mapping");
	snprintf(st->listen_addr, sizeof(st->listen_addr), "%s", la);
	*state = st;
	return 0;
}

static int kube_start(void *state, char *err, size_t errlen)
{
	struct kube_state *st = state;

	st->timer = host->timer_new(st->h, kube_timer, st);
	st->hs_timer = host->timer_new(st->h, hs_timeout, st);
	if (!st->timer || !st->hs_timer) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->running = 1;
	st->backoff_ms = 0;
	host->log(st->h, BROKER_LOG_INFO, "watching services via %s (service ports on %s%s)", st->kubeconfig_path,
	          st->listen_addr, st->api_mapping ? ", API port on 127.0.0.1" : "");
	schedule(st, KN_LIST, 0);
	return 0;
}

static void kube_stop(void *state)
{
	struct kube_state *st = state;

	/*
	 * The timers are core-tracked: the core releases them when it stops
	 * the plugin (before calling stop), so they are only forgotten here.
	 */
	st->timer = st->hs_timer = NULL;
	conn_close(st);
	if (st->dns) {
		evdns_base_free(st->dns, 0);
		st->dns = NULL;
	}
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
	SSL_CTX_free(st->ssl_ctx);
	evbuffer_free(st->buf);
	free(st->kubeconfig_path);
	free(st);
}

static int kube_resync(void *state)
{
	struct kube_state *st = state;

	report_all(st);
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

BROKER_PLUGIN_DEFINE(kube_plugin, host)
