/*
 * plugins/containerd/ctrd.h - internal interface of the containerd watcher:
 * the connection logic (containerd.c), the gRPC client (grpc.c) and the
 * decoding of containerd's messages and the nerdctl/ports label
 * (ctrd_parse.c, which the unit test links directly).
 */
#ifndef BROKER_PLUGINS_CONTAINERD_CTRD_H
#define BROKER_PLUGINS_CONTAINERD_CTRD_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"

#define CT_ID_MAX 76                /* containerd identifiers: at most 76 characters */
#define CT_NAME_MAX 128
#define CT_ADDR_MAX 64              /* "[ffff:...:ffff]:65535" */
#define CT_MAPS_MAX 4096            /* published ports kept per container */
#define CT_LABEL_MAX (1024 * 1024)  /* a nerdctl/ports label longer than this is refused */
#define CT_PORTS_LABEL "nerdctl/ports"
#define CT_NAME_LABEL "nerdctl/name"

/* gRPC status codes the watcher tells apart. */
#define CT_GRPC_OK 0
#define CT_GRPC_NOT_FOUND 5
#define CT_GRPC_RESOURCE_EXHAUSTED 8
#define CT_GRPC_INTERNAL 13
#define CT_GRPC_UNAVAILABLE 14

/* containerd.v1.types.Status */
enum ct_task_status {
	CT_TASK_UNKNOWN = 0,
	CT_TASK_CREATED = 1,
	CT_TASK_RUNNING = 2,
	CT_TASK_STOPPED = 3,
	CT_TASK_PAUSED = 4,
	CT_TASK_PAUSING = 5,
};

/* 1 when the task's ports stay published (running, paused or pausing). */
int ct_task_alive(int status);

/* One published port of a container, ready to report. */
struct ct_map {
	enum broker_proto proto;
	char host_ip[CT_ADDR_MAX];
	uint16_t host_port;
	uint16_t container_port;
	char connect[CT_ADDR_MAX];
};

typedef void (*ct_log_fn)(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 1 when s is a containerd identifier (namespace, container id): [A-Za-z0-9]+([._-][A-Za-z0-9]+)*, <= 76. */
int ct_valid_id(const char *s);

/*
 * Parse a nerdctl/ports label (a JSON array of {"HostPort": 8080,
 * "ContainerPort": 80, "Protocol": "tcp", "HostIP": "0.0.0.0"}) into *maps
 * (malloc'd, free()).  Entries with a bad port, protocol or address are
 * skipped and logged (counted in *nskipped); returns 0, or -EBADMSG with a
 * reason when the label as a whole is unusable (not JSON, not an array, too
 * long), -ENOMEM.  who names the container in log lines.
 */
int ct_parse_ports(const char *label, size_t len, const char *who, struct ct_map **maps, size_t *nmaps,
                   size_t *nskipped, ct_log_fn log, void *log_arg, char *err, size_t errlen);

/* What one Envelope from Events.Subscribe says. */
enum ct_event_kind {
	CT_EV_TASK_START = 1,
	CT_EV_TASK_EXIT,
	CT_EV_TASK_DELETE,
	CT_EV_CONTAINER_UPDATE,
	CT_EV_CONTAINER_DELETE,
};

struct ct_event {
	enum ct_event_kind kind;
	char ns[CT_ID_MAX + 1];
	char id[CT_ID_MAX + 1];         /* the container */
	int init_process;               /* task exit/delete: it is the task's init process */
	int has_labels;                 /* container update */
	char *ports;                    /* container update: the nerdctl/ports label or NULL (malloc'd) */
	size_t ports_len;
	char name[CT_NAME_MAX];         /* container update: nerdctl/name, printable */
};

/*
 * Decode one Envelope.  Returns 0 (ev filled; ct_event_clear it), 1 (a topic
 * or payload type the watcher does not use: ignore), or -EBADMSG with a
 * reason (undecodable, payload type not matching the topic, invalid ids).
 */
int ct_parse_envelope(const uint8_t *buf, size_t len, struct ct_event *ev, char *err, size_t errlen);
void ct_event_clear(struct ct_event *ev);

/* Containers.Get answer: the container's id, its ports label (malloc'd or NULL) and name. */
int ct_parse_container_get(const uint8_t *buf, size_t len, char *id, size_t idlen, char **ports,
                           size_t *ports_len, char *name, size_t namelen, char *err, size_t errlen);

/* Containers.List answer: each(arg, id, ports label or NULL, label length, name) per valid container. */
typedef void (*ct_container_fn)(void *arg, const char *id, const char *ports, size_t ports_len,
                                const char *name);
int ct_parse_container_list(const uint8_t *buf, size_t len, ct_container_fn each, void *arg,
                            ct_log_fn log, void *log_arg, char *err, size_t errlen);

/* Tasks.Get answer: the process status (enum ct_task_status) and its container id. */
int ct_parse_task_get(const uint8_t *buf, size_t len, int *status, char *id, size_t idlen, char *err,
                      size_t errlen);

/* Tasks.List answer: each(arg, container id, status) per init process with a valid id. */
typedef void (*ct_task_fn)(void *arg, const char *id, int status);
int ct_parse_task_list(const uint8_t *buf, size_t len, ct_task_fn each, void *arg, char *err,
                       size_t errlen);

/* Namespaces.List answer: each(arg, name) per valid name. */
typedef void (*ct_ns_fn)(void *arg, const char *name);
int ct_parse_namespaces(const uint8_t *buf, size_t len, ct_ns_fn each, void *arg, char *err,
                        size_t errlen);

/*
 * Request encoders: a malloc'd buffer with the packed message in *out, its
 * length in *len; 0 or -ENOMEM.  filters may be NULL when nfilters is 0.
 */
int ct_encode_subscribe(const char *const *filters, size_t nfilters, uint8_t **out, size_t *len);
int ct_encode_container_get(const char *id, uint8_t **out, size_t *len);
int ct_encode_container_list(const char *const *filters, size_t nfilters, uint8_t **out, size_t *len);
int ct_encode_task_get(const char *id, uint8_t **out, size_t *len);
int ct_encode_task_list(uint8_t **out, size_t *len);
int ct_encode_namespace_list(uint8_t **out, size_t *len);

#endif /* BROKER_PLUGINS_CONTAINERD_CTRD_H */
