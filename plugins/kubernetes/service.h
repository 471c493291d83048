/*
 * plugins/kubernetes/service.h - a Kubernetes Service object (JSON) to the
 * port mappings the watcher reports.
 *
 * NodePort:      one mapping per port: host_port = nodePort,
 *                connect = 127.0.0.1:nodePort.
 * LoadBalancer:  per port, host_port = port (where k3s's ServiceLB exposes
 *                it on the node, and where Rancher Desktop users reach it),
 *                connect = 127.0.0.1:nodePort then 127.0.0.1:port; plus
 *                host_port = nodePort (connect 127.0.0.1:nodePort) when a
 *                nodePort is allocated and differs from port.
 * Other types:   no mappings (the caller removes the owner).
 *
 * No dependency on the plugin host: the unit test compiles this file in.
 */
#ifndef BROKER_KUBERNETES_SERVICE_H
#define BROKER_KUBERNETES_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "broker/plugin.h"

#define K8S_UID_MAX 128
#define K8S_NAME_MAX 253
#define K8S_RV_MAX 64
#define K8S_MAX_MAPPINGS 128

struct k8s_mapping {
	enum broker_proto proto;
	uint16_t host_port;
	size_t nconnect;
	char connect[2][24];     /* "127.0.0.1:65535" */
};

struct k8s_service {
	char uid[K8S_UID_MAX + 1];
	char desc[2 * K8S_NAME_MAX + 2];   /* namespace/name */
	char rv[K8S_RV_MAX + 1];           /* metadata.resourceVersion, "" if absent */
	char type[32];                     /* spec.type ("ClusterIP" when absent) */
	size_t n;
	struct k8s_mapping m[K8S_MAX_MAPPINGS];
};

/* Where the conversion reports skipped ports and other oddities. */
typedef void (*k8s_note_fn)(void *arg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Convert one Service object.  Returns 0 with *svc filled (svc->n == 0:
 * nothing to forward), or -EINVAL when the object cannot be used at all (no
 * uid, wrong types in metadata); err says why.  Ports that cannot be used
 * (port 0 or 70000, SCTP, no nodePort) are skipped and reported via note
 * (level: enum broker_log_level).
 */
int k8s_service_convert(const json_t *obj, struct k8s_service *svc, k8s_note_fn note, void *arg,
                        char *err, size_t errlen);

/* Fill broker_mapping views of n mappings (host_ip given) into out[n], using ptrs[n]. */
void k8s_mappings_view(const struct k8s_mapping *m, size_t n, const char *host_ip, struct broker_mapping *out,
                       const char *ptrs[][2]);

/* metadata.resourceVersion of any object, or NULL (also on wrong types / too long). */
const char *k8s_resource_version(const json_t *obj);

#endif
