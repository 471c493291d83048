/*
 * plugins/containerd/containerd.h - internal interface of the containerd
 * watcher: its view of the containers, the event answers, the event stream
 * and the lifecycle (containerd.c), its calls (ctrd_requests.c) and its
 * resync (ctrd_resync.c).  The decoding of containerd's messages is ctrd.h,
 * the gRPC client grpc.h.
 */
#ifndef BROKER_PLUGINS_CONTAINERD_H
#define BROKER_PLUGINS_CONTAINERD_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"
#include "plugins/common/ctab.h"
#include "plugins/common/portmap.h"
#include "plugins/containerd/ctrd.h"
#include "plugins/containerd/grpc.h"

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

/* The host table (set when the core loads the plugin). */
extern const struct broker_host *ct_host;

/* containerd.c: log lines, the view, the event answers and stream, the connection. */
void ct_plog(void *arg, enum broker_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct ct_container *ct_find(struct ct_state *st, const char *ns, const char *id);
struct ct_container *ct_find_or_add(struct ct_state *st, const char *ns, const char *id);
void ct_gone(struct ct_state *st, struct ct_container *ct);            /* the task is gone */
void ct_set_ports(struct ct_state *st, struct ct_container *ct, const char *label, size_t len);
void ct_report_all(struct ct_state *st);
void ct_get_done(struct ct_state *st, struct ct_req *q, int status, const char *message);
void ct_task_get_done(struct ct_state *st, struct ct_req *q, int status, const char *message);
void ct_handle_event(struct ct_state *st, const uint8_t *buf, size_t len);
void ct_teardown(struct ct_state *st);                                  /* drop all, retry later */

/* ctrd_requests.c: calls. */
extern const struct gc_call_callbacks ct_call_cbs;
struct ct_req *ct_req_new(struct ct_state *st, enum ct_req_kind kind, const char *ns, const char *id);
void ct_req_free(struct ct_req *q);
int ct_req_send(struct ct_req *q);                                      /* 0 or -errno */
void ct_pump(struct ct_state *st);                                      /* start queued Gets */
void ct_queue_get(struct ct_state *st, enum ct_req_kind kind, struct ct_container *ct);

/* ctrd_resync.c: the resync. */
void ct_resync_start(struct ct_state *st);
void ct_list_done(struct ct_state *st, struct ct_req *q, int status, const char *message);
void ct_seen_clear(struct ct_state *st);

#endif
