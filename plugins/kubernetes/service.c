/*
 * plugins/kubernetes/service.c - Service object -> port mappings (see
 * service.h for the rules).  Everything read from the object is checked for
 * type and range; a port that cannot be used is skipped with a note, so a
 * hostile or odd object never yields a wrong mapping.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "plugins/kubernetes/service.h"

#define K8S_PORTS_MAX 1000   /* ports looked at per service */

static int cerr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A printable token: no blanks, controls, '/' (unless allowed) or quotes. */
static int token_ok(const char *s, size_t max, int uid)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (n >= max)
			return 0;
		if (uid) {
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '_' || c == '.'))
				return 0;
		} else if (c <= 0x20 || c >= 0x7f || c == '/' || c == '"' || c == '\\') {
			return 0;
		}
	}
	return n > 0;
}

const char *k8s_resource_version(const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *rv = json_object_get(meta, "resourceVersion");
	const char *s;

	if (!json_is_string(rv))
		return NULL;
	s = json_string_value(rv);
	if (!token_ok(s, K8S_RV_MAX, 1))
		return NULL;
	return s;
}

/* A port number field: 1..65535 -> the value; absent -> 0; anything else -> -1. */
static long port_field(const json_t *p, const char *key)
{
	const json_t *v = json_object_get(p, key);
	json_int_t n;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	if (n == 0 && strcmp(key, "nodePort") == 0)
		return 0;   /* "nodePort": 0 means none allocated */
	if (n < 1 || n > 65535)
		return -1;
	return (long)n;
}

static void add_mapping(struct k8s_service *svc, enum broker_proto proto, long host_port, long c1, long c2,
                        k8s_note_fn note, void *arg)
{
	struct k8s_mapping *m;
	size_t i;

	for (i = 0; i < svc->n; i++)
		if (svc->m[i].proto == proto && svc->m[i].host_port == host_port)
			return;   /* the first one wins (same port listed twice) */
	if (svc->n >= K8S_MAX_MAPPINGS) {
		if (note)
			note(arg, BROKER_LOG_ERROR, "service %s: more than %d port mappings, the rest are ignored",
			     svc->desc, K8S_MAX_MAPPINGS);
		return;
	}
	m = &svc->m[svc->n++];
	m->proto = proto;
	m->host_port = (uint16_t)host_port;
	m->nconnect = 1;
	snprintf(m->connect[0], sizeof(m->connect[0]), "127.0.0.1:%u", (unsigned)(uint16_t)c1);
	if (c2 > 0 && c2 != c1) {
		snprintf(m->connect[1], sizeof(m->connect[1]), "127.0.0.1:%u", (unsigned)(uint16_t)c2);
		m->nconnect = 2;
	}
}

/* One entry of spec.ports into svc's mappings; skipped (with a note) when unusable. */
static void convert_port(struct k8s_service *svc, const json_t *p, size_t i, int lb, k8s_note_fn note,
                         void *arg)
{
	const json_t *proto;
	enum broker_proto bp;
	long port, node;
	char label[80];
	const char *pn;

	if (!json_is_object(p)) {
		if (note)
			note(arg, BROKER_LOG_WARN, "service %s: ports[%zu] is not an object, skipped", svc->desc, i);
		return;
	}
	pn = json_string_value(json_object_get(p, "name"));
	if (pn && token_ok(pn, 63, 0))
		snprintf(label, sizeof(label), "port '%s'", pn);
	else
		snprintf(label, sizeof(label), "ports[%zu]", i);
	proto = json_object_get(p, "protocol");
	if (!proto || (json_is_string(proto) && strcmp(json_string_value(proto), "TCP") == 0)) {
		bp = BROKER_PROTO_TCP;
	} else if (json_is_string(proto) && strcmp(json_string_value(proto), "UDP") == 0) {
		bp = BROKER_PROTO_UDP;
	} else if (json_is_string(proto) && strcmp(json_string_value(proto), "SCTP") == 0) {
		if (note)
			note(arg, BROKER_LOG_DEBUG, "service %s: %s is SCTP, not forwarded", svc->desc, label);
		return;
	} else {
		if (note)
			note(arg, BROKER_LOG_WARN, "service %s: %s has an unknown protocol, skipped", svc->desc, label);
		return;
	}
	port = port_field(p, "port");
	node = port_field(p, "nodePort");
	if (node < 0) {
		if (note)
			note(arg, BROKER_LOG_WARN, "service %s: %s: nodePort is not a port number (1-65535), "
			     "skipped", svc->desc, label);
		return;
	}
	if (!lb) {
		if (node == 0) {
			if (note)
				note(arg, BROKER_LOG_WARN, "service %s: %s has no nodePort, skipped", svc->desc, label);
			return;
		}
		add_mapping(svc, bp, node, node, 0, note, arg);
		return;
	}
	if (port <= 0) {
		if (note)
			note(arg, BROKER_LOG_WARN, "service %s: %s: port is %s, skipped", svc->desc, label,
			     port == 0 ? "missing" : "not a port number (1-65535)");
		return;
	}
	if (node > 0) {
		add_mapping(svc, bp, port, node, port, note, arg);
		add_mapping(svc, bp, node, node, 0, note, arg);
	} else {
		add_mapping(svc, bp, port, port, 0, note, arg);
	}
}

/* metadata: uid, namespace/name, resourceVersion into svc.  0, or <0 with err. */
static int convert_meta(const json_t *obj, struct k8s_service *svc, char *err, size_t errlen)
{
	const json_t *meta, *uid, *ns, *name;
	const char *rv;

	if (!json_is_object(obj))
		return cerr(err, errlen, "service is not a JSON object");
	meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta))
		return cerr(err, errlen, "service has no metadata object");
	uid = json_object_get(meta, "uid");
	if (!json_is_string(uid) || !token_ok(json_string_value(uid), K8S_UID_MAX, 1))
		return cerr(err, errlen, "service has no valid metadata.uid");
	ns = json_object_get(meta, "namespace");
	name = json_object_get(meta, "name");
	if (!json_is_string(name) || !token_ok(json_string_value(name), K8S_NAME_MAX, 0))
		return cerr(err, errlen, "service %s has no valid metadata.name", json_string_value(uid));
	if (ns && (!json_is_string(ns) || !token_ok(json_string_value(ns), K8S_NAME_MAX, 0)))
		return cerr(err, errlen, "service %s has an invalid metadata.namespace", json_string_value(uid));
	snprintf(svc->uid, sizeof(svc->uid), "%s", json_string_value(uid));
	snprintf(svc->desc, sizeof(svc->desc), "%s/%s", ns ? json_string_value(ns) : "default",
	         json_string_value(name));
	rv = k8s_resource_version(obj);
	if (rv)
		snprintf(svc->rv, sizeof(svc->rv), "%s", rv);
	return 0;
}

int k8s_service_convert(const json_t *obj, struct k8s_service *svc, k8s_note_fn note, void *arg,
                        char *err, size_t errlen)
{
	const json_t *spec, *type, *ports;
	const char *t;
	size_t i, nports;
	int lb, r;

	memset(svc, 0, offsetof(struct k8s_service, m));
	r = convert_meta(obj, svc, err, errlen);
	if (r < 0)
		return r;
	spec = json_object_get(obj, "spec");
	if (spec && !json_is_object(spec))
		return cerr(err, errlen, "service %s: spec is not an object", svc->desc);
	type = json_object_get(spec, "type");
	if (type && !json_is_string(type))
		return cerr(err, errlen, "service %s: spec.type is not a string", svc->desc);
	t = type ? json_string_value(type) : "ClusterIP";
	snprintf(svc->type, sizeof(svc->type), "%s", t);
	if (strcmp(t, "NodePort") != 0 && strcmp(t, "LoadBalancer") != 0)
		return 0;
	lb = strcmp(t, "LoadBalancer") == 0;
	ports = json_object_get(spec, "ports");
	if (!ports)
		return 0;
	if (!json_is_array(ports))
		return cerr(err, errlen, "service %s: spec.ports is not an array", svc->desc);
	nports = json_array_size(ports);
	if (nports > K8S_PORTS_MAX) {
		if (note)
			note(arg, BROKER_LOG_ERROR, "service %s: %zu ports, only the first %d are looked at",
			     svc->desc, nports, K8S_PORTS_MAX);
		nports = K8S_PORTS_MAX;
	}
	for (i = 0; i < nports; i++)
		convert_port(svc, json_array_get(ports, i), i, lb, note, arg);
	return 0;
}

void k8s_mappings_view(const struct k8s_mapping *m, size_t n, const char *host_ip, struct broker_mapping *out,
                       const char *ptrs[][2])
{
	size_t i;

	for (i = 0; i < n; i++) {
		ptrs[i][0] = m[i].connect[0];
		ptrs[i][1] = m[i].connect[1];
		out[i].proto = m[i].proto;
		out[i].host_ip = host_ip;
		out[i].host_port = m[i].host_port;
		out[i].nconnect = m[i].nconnect;
		out[i].connect = ptrs[i];
	}
}
