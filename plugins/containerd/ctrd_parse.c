/*
 * plugins/containerd/ctrd_parse.c - decode what containerd sends (event
 * envelopes, Containers.Get/List, Tasks.Get/List, Namespaces.List answers,
 * all protobuf through the protobuf-c code generated from this folder's
 * .proto files), encode the few requests, and turn a nerdctl/ports label
 * into mappings.
 *
 * Everything here distrusts its input: a payload whose type does not match
 * its topic, ids that are not containerd identifiers, labels that are not the
 * JSON nerdctl writes, ports outside 1..65535 and addresses that do not
 * parse are refused with a reason, never guessed at.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plugins/containerd/containers.pb-c.h"
#include "plugins/containerd/events.pb-c.h"
#include "plugins/containerd/events_service.pb-c.h"
#include "plugins/containerd/namespaces.pb-c.h"
#include "plugins/containerd/tasks.pb-c.h"
#include "ctrd.h"

int ct_task_alive(int status)
{
	return status == CT_TASK_RUNNING || status == CT_TASK_PAUSED || status == CT_TASK_PAUSING;
}

static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int ct_valid_id(const char *s)
{
	size_t n;

	if (!s || !alnum(s[0]))
		return 0;
	for (n = 0; s[n]; n++) {
		if (n >= CT_ID_MAX)
			return 0;
		if (alnum(s[n]))
			continue;
		if ((s[n] == '.' || s[n] == '_' || s[n] == '-') && alnum(s[n + 1]))
			continue;
		return 0;
	}
	return 1;
}

static void copy_printable(char *dst, size_t n, const char *s, size_t len)
{
	size_t i = 0, k;

	for (k = 0; s && k < len && s[k] && i + 1 < n; k++)
		dst[i++] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
	dst[i] = '\0';
}

/* ------------------------------------------------------------- nerdctl/ports */

/* 4 or 6 for a valid address literal (normalized into out), 0 otherwise. */
static int parse_ip(const char *s, char *out, size_t outlen)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, s, buf) == 1) {
		inet_ntop(AF_INET, buf, out, (socklen_t)outlen);
		return 4;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		inet_ntop(AF_INET6, buf, out, (socklen_t)outlen);
		return 6;
	}
	return 0;
}

/* A JSON integer in [lo, 65535], else -1. */
static int json_port(json_t *v, int lo)
{
	json_int_t n;

	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	return (n >= lo && n <= 65535) ? (int)n : -1;
}

/* Validate one entry into m; 0 ok, 1 skip quietly (sctp), -1 skip with a log line. */
static int port_entry(json_t *e, size_t idx, const char *who, struct ct_map *m, ct_log_fn log, void *log_arg)
{
	json_t *jhp = json_object_get(e, "HostPort"), *jcp = json_object_get(e, "ContainerPort");
	json_t *jproto = json_object_get(e, "Protocol"), *jip = json_object_get(e, "HostIP");
	const char *ipstr = "0.0.0.0", *proto = "tcp";
	char ip[INET6_ADDRSTRLEN];
	int hp, cp, fam;

	if (!json_is_object(e)) {
		log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu] is not an object; skipped", who, CT_PORTS_LABEL, idx);
		return -EINVAL;
	}
	hp = json_port(jhp, 1);
	if (hp < 0) {
		log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu].HostPort is not an integer 1-65535; skipped", who,
		    CT_PORTS_LABEL, idx);
		return -EINVAL;
	}
	cp = jcp ? json_port(jcp, 0) : 0;
	if (cp < 0) {
		log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu].ContainerPort is not an integer 0-65535; skipped", who,
		    CT_PORTS_LABEL, idx);
		return -EINVAL;
	}
	if (jproto && !json_is_null(jproto)) {
		if (!json_is_string(jproto)) {
			log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu].Protocol is not a string; skipped", who,
			    CT_PORTS_LABEL, idx);
			return -EINVAL;
		}
		if (json_string_value(jproto)[0])
			proto = json_string_value(jproto);
	}
	if (strcasecmp(proto, "tcp") == 0) {
		m->proto = BROKER_PROTO_TCP;
	} else if (strcasecmp(proto, "udp") == 0) {
		m->proto = BROKER_PROTO_UDP;
	} else if (strcasecmp(proto, "sctp") == 0) {
		return 1;
	} else {
		log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu].Protocol is not tcp or udp; skipped", who,
		    CT_PORTS_LABEL, idx);
		return -EINVAL;
	}
	if (jip && !json_is_null(jip)) {
		if (!json_is_string(jip)) {
			log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu].HostIP is not a string; skipped", who,
			    CT_PORTS_LABEL, idx);
			return -EINVAL;
		}
		if (json_string_value(jip)[0])
			ipstr = json_string_value(jip);
	}
	fam = parse_ip(ipstr, ip, sizeof(ip));
	if (!fam) {
		log(log_arg, BROKER_LOG_ERROR, "%s: %s[%zu].HostIP \"%.60s\" is not an address; skipped", who,
		    CT_PORTS_LABEL, idx, ipstr);
		return -EINVAL;
	}
	snprintf(m->host_ip, sizeof(m->host_ip), "%s", ip);
	m->host_port = (uint16_t)hp;
	m->container_port = (uint16_t)cp;
	/* the published port as a client inside the guest reaches it */
	if (fam == 4)
		snprintf(m->connect, sizeof(m->connect), "%s:%d", strcmp(ip, "0.0.0.0") == 0 ? "127.0.0.1" : ip, hp);
	else
		snprintf(m->connect, sizeof(m->connect), "[%s]:%d", strcmp(ip, "::") == 0 ? "::1" : ip, hp);
	return 0;
}

int ct_parse_ports(const char *label, size_t len, const char *who, struct ct_map **maps, size_t *nmaps,
                   size_t *nskipped, ct_log_fn log, void *log_arg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *e;
	struct ct_map *out = NULL, m;
	size_t i, n = 0, k;
	int rc = 0;

	*maps = NULL;
	*nmaps = 0;
	*nskipped = 0;
	if (len > CT_LABEL_MAX) {
		snprintf(err, errlen, "%s label of %zu bytes is longer than %d", CT_PORTS_LABEL, len, CT_LABEL_MAX);
		return -EBADMSG;
	}
	root = json_loadb(label, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "%s label is not valid JSON (column %d: %s)", CT_PORTS_LABEL, je.column, je.text);
		return -EBADMSG;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "%s label is not a JSON array", CT_PORTS_LABEL);
		json_decref(root);
		return -EBADMSG;
	}
	json_array_foreach(root, i, e) {
		int r;

		memset(&m, 0, sizeof(m));
		r = port_entry(e, i, who, &m, log, log_arg);
		if (r != 0) {
			if (r < 0)
				(*nskipped)++;
			continue;
		}
		for (k = 0; k < n; k++)
			if (out[k].proto == m.proto && out[k].host_port == m.host_port &&
			    strcmp(out[k].host_ip, m.host_ip) == 0)
				break;
		if (k < n)
			continue;       /* the same binding twice */
		if (n >= CT_MAPS_MAX) {
			log(log_arg, BROKER_LOG_ERROR, "%s: more than %d published ports; the rest are ignored", who,
			    CT_MAPS_MAX);
			(*nskipped)++;
			break;
		}
		if (n % 16 == 0) {
			struct ct_map *grown = realloc(out, (n + 16) * sizeof(*grown));

			if (!grown) {
				snprintf(err, errlen, "out of memory");
				rc = -ENOMEM;
				break;
			}
			out = grown;
		}
		out[n++] = m;
	}
	json_decref(root);
	if (rc < 0) {
		free(out);
		return rc;
	}
	*maps = out;
	*nmaps = n;
	return 0;
}

/* ------------------------------------------------------------- envelopes */

/* The message name of a type URL: "containerd.events.TaskStart" or ".../containerd.events.TaskStart". */
static const char *type_name(const char *url)
{
	const char *slash = strrchr(url, '/');

	return slash ? slash + 1 : url;
}

/* labels of a map field -> the ports label (copied) and the name. */
#define FIND_LABELS(entries, n, ev)                                                                \
	do {                                                                                       \
		size_t li_;                                                                        \
		for (li_ = 0; li_ < (n); li_++) {                                                  \
			const char *k_ = (entries)[li_]->key, *v_ = (entries)[li_]->value;         \
			if (!k_ || !v_)                                                            \
				continue;                                                          \
			if (strcmp(k_, CT_PORTS_LABEL) == 0) {                                     \
				free((ev)->ports);                                                 \
				(ev)->ports_len = strlen(v_);                                      \
				(ev)->ports = strdup(v_);                                          \
				if (!(ev)->ports)                                                  \
					(ev)->ports_len = 0;                                       \
			} else if (strcmp(k_, CT_NAME_LABEL) == 0) {                               \
				copy_printable((ev)->name, sizeof((ev)->name), v_, strlen(v_));    \
			}                                                                          \
		}                                                                                  \
	} while (0)

void ct_event_clear(struct ct_event *ev)
{
	free(ev->ports);
	memset(ev, 0, sizeof(*ev));
}

static int set_id(char *dst, const char *s, const char *what, char *err, size_t errlen)
{
	if (!ct_valid_id(s)) {
		char shown[48];

		copy_printable(shown, sizeof(shown), s ? s : "", s ? strlen(s) : 0);
		snprintf(err, errlen, "%s \"%s\" is not a containerd identifier", what, shown);
		return -EBADMSG;
	}
	snprintf(dst, CT_ID_MAX + 1, "%s", s);
	return 0;
}

/* Is the process id of a task exit/delete the init process of container cid? */
static int is_init(const char *id, const char *cid)
{
	return !id || !id[0] || strcmp(id, cid) == 0;
}

/* The events subscribed to: topic, kind, payload type. */
static const struct {
	const char *topic;
	enum ct_event_kind kind;
	const char *type;
} event_topics[] = {
	{ "/tasks/start", CT_EV_TASK_START, "containerd.events.TaskStart" },
	{ "/tasks/exit", CT_EV_TASK_EXIT, "containerd.events.TaskExit" },
	{ "/tasks/delete", CT_EV_TASK_DELETE, "containerd.events.TaskDelete" },
	{ "/containers/update", CT_EV_CONTAINER_UPDATE, "containerd.events.ContainerUpdate" },
	{ "/containers/delete", CT_EV_CONTAINER_DELETE, "containerd.events.ContainerDelete" },
};

/*
 * The payload (vl bytes at v) of an event of kind ev->kind into ev.  The
 * result of set_id (0 or -EBADMSG with err), or 1 when it does not decode.
 */
static int event_payload(struct ct_event *ev, const uint8_t *v, size_t vl, char *err, size_t errlen)
{
	int rc = 1;

	switch (ev->kind) {
	case CT_EV_TASK_START: {
		Containerd__Events__TaskStart *m = containerd__events__task_start__unpack(NULL, vl, v);

		if (!m)
			break;
		rc = set_id(ev->id, m->container_id, "container id", err, errlen);
		containerd__events__task_start__free_unpacked(m, NULL);
		break;
	}
	case CT_EV_TASK_EXIT: {
		Containerd__Events__TaskExit *m = containerd__events__task_exit__unpack(NULL, vl, v);

		if (!m)
			break;
		rc = set_id(ev->id, m->container_id, "container id", err, errlen);
		ev->init_process = rc == 0 && is_init(m->id, m->container_id);
		containerd__events__task_exit__free_unpacked(m, NULL);
		break;
	}
	case CT_EV_TASK_DELETE: {
		Containerd__Events__TaskDelete *m = containerd__events__task_delete__unpack(NULL, vl, v);

		if (!m)
			break;
		rc = set_id(ev->id, m->container_id, "container id", err, errlen);
		ev->init_process = rc == 0 && is_init(m->id, m->container_id);
		containerd__events__task_delete__free_unpacked(m, NULL);
		break;
	}
	case CT_EV_CONTAINER_UPDATE: {
		Containerd__Events__ContainerUpdate *m = containerd__events__container_update__unpack(NULL, vl, v);

		if (!m)
			break;
		rc = set_id(ev->id, m->id, "container id", err, errlen);
		ev->has_labels = 1;
		if (rc == 0)
			FIND_LABELS(m->labels, m->n_labels, ev);
		containerd__events__container_update__free_unpacked(m, NULL);
		break;
	}
	case CT_EV_CONTAINER_DELETE: {
		Containerd__Events__ContainerDelete *m = containerd__events__container_delete__unpack(NULL, vl, v);

		if (!m)
			break;
		rc = set_id(ev->id, m->id, "container id", err, errlen);
		containerd__events__container_delete__free_unpacked(m, NULL);
		break;
	}
	}
	return rc;
}

int ct_parse_envelope(const uint8_t *buf, size_t len, struct ct_event *ev, char *err, size_t errlen)
{
	Containerd__Services__Events__V1__Envelope *env;
	const char *topic, *want = NULL, *tn;
	size_t i;
	int rc = -EBADMSG;

	memset(ev, 0, sizeof(*ev));
	env = containerd__services__events__v1__envelope__unpack(NULL, len, buf);
	if (!env) {
		snprintf(err, errlen, "event envelope does not decode");
		return -EBADMSG;
	}
	topic = env->topic ? env->topic : "";
	for (i = 0; i < sizeof(event_topics) / sizeof(event_topics[0]) && !want; i++) {
		if (strcmp(topic, event_topics[i].topic) == 0) {
			ev->kind = event_topics[i].kind;
			want = event_topics[i].type;
		}
	}
	if (!want) {
		rc = 1;
		goto out;
	}
	if (!env->event || !env->event->type_url) {
		snprintf(err, errlen, "event %s has no payload", topic);
		goto out;
	}
	tn = type_name(env->event->type_url);
	if (strcmp(tn, want) != 0) {
		char shown[64];

		copy_printable(shown, sizeof(shown), env->event->type_url, strlen(env->event->type_url));
		snprintf(err, errlen, "event %s carries type \"%s\", not %s", topic, shown, want);
		goto out;
	}
	if (set_id(ev->ns, env->namespace_, "namespace", err, errlen) < 0)
		goto out;
	rc = event_payload(ev, env->event->value.data, env->event->value.len, err, errlen);
	if (rc == 1) {
		snprintf(err, errlen, "event %s: payload does not decode as %s", topic, want);
		rc = -EBADMSG;
	}
out:
	containerd__services__events__v1__envelope__free_unpacked(env, NULL);
	if (rc != 0)
		ct_event_clear(ev);
	return rc;
}

/* ------------------------------------------------------------- answers */

int ct_parse_container_get(const uint8_t *buf, size_t len, char *id, size_t idlen, char **ports,
                           size_t *ports_len, char *name, size_t namelen, char *err, size_t errlen)
{
	Containerd__Services__Containers__V1__GetContainerResponse *r;
	struct ct_event tmp;
	int rc = -EBADMSG;

	*ports = NULL;
	*ports_len = 0;
	name[0] = '\0';
	r = containerd__services__containers__v1__get_container_response__unpack(NULL, len, buf);
	if (!r) {
		snprintf(err, errlen, "Containers.Get answer does not decode");
		return -EBADMSG;
	}
	if (!r->container || !ct_valid_id(r->container->id)) {
		snprintf(err, errlen, "Containers.Get answer has no valid container");
		goto out;
	}
	snprintf(id, idlen, "%s", r->container->id);
	memset(&tmp, 0, sizeof(tmp));
	FIND_LABELS(r->container->labels, r->container->n_labels, &tmp);
	*ports = tmp.ports;
	*ports_len = tmp.ports_len;
	snprintf(name, namelen, "%s", tmp.name);
	rc = 0;
out:
	containerd__services__containers__v1__get_container_response__free_unpacked(r, NULL);
	return rc;
}

int ct_parse_container_list(const uint8_t *buf, size_t len, ct_container_fn each, void *arg,
                            ct_log_fn log, void *log_arg, char *err, size_t errlen)
{
	Containerd__Services__Containers__V1__ListContainersResponse *r;
	size_t i;
	int n = 0;

	r = containerd__services__containers__v1__list_containers_response__unpack(NULL, len, buf);
	if (!r) {
		snprintf(err, errlen, "Containers.List answer does not decode");
		return -EBADMSG;
	}
	for (i = 0; i < r->n_containers; i++) {
		Containerd__Services__Containers__V1__Container *c = r->containers[i];
		struct ct_event tmp;

		if (!c || !ct_valid_id(c->id)) {
			log(log_arg, BROKER_LOG_ERROR, "Containers.List: entry %zu has no valid id; skipped", i);
			continue;
		}
		memset(&tmp, 0, sizeof(tmp));
		FIND_LABELS(c->labels, c->n_labels, &tmp);
		each(arg, c->id, tmp.ports, tmp.ports_len, tmp.name);
		free(tmp.ports);
		n++;
	}
	containerd__services__containers__v1__list_containers_response__free_unpacked(r, NULL);
	return n;
}

int ct_parse_task_get(const uint8_t *buf, size_t len, int *status, char *id, size_t idlen, char *err,
                      size_t errlen)
{
	Containerd__Services__Tasks__V1__GetResponse *r;
	int rc = -EBADMSG;

	r = containerd__services__tasks__v1__get_response__unpack(NULL, len, buf);
	if (!r) {
		snprintf(err, errlen, "Tasks.Get answer does not decode");
		return -EBADMSG;
	}
	if (!r->process) {
		snprintf(err, errlen, "Tasks.Get answer has no process");
		goto out;
	}
	*status = (int)r->process->status;
	/* containerd 1.6 leaves container_id empty and puts the container id in id */
	snprintf(id, idlen, "%s", r->process->container_id && r->process->container_id[0] ? r->process->container_id
	                          : r->process->id ? r->process->id : "");
	rc = 0;
out:
	containerd__services__tasks__v1__get_response__free_unpacked(r, NULL);
	return rc;
}

int ct_parse_task_list(const uint8_t *buf, size_t len, ct_task_fn each, void *arg, char *err,
                       size_t errlen)
{
	Containerd__Services__Tasks__V1__ListTasksResponse *r;
	size_t i;
	int n = 0;

	r = containerd__services__tasks__v1__list_tasks_response__unpack(NULL, len, buf);
	if (!r) {
		snprintf(err, errlen, "Tasks.List answer does not decode");
		return -EBADMSG;
	}
	for (i = 0; i < r->n_tasks; i++) {
		Containerd__V1__Types__Process *p = r->tasks[i];

		const char *cid;

		if (!p)
			continue;
		/* containerd fills only id (the container id for a task's init process) in Tasks.List */
		cid = p->container_id && p->container_id[0] ? p->container_id : p->id;
		if (!ct_valid_id(cid) || !is_init(p->id, cid))
			continue;
		each(arg, cid, (int)p->status);
		n++;
	}
	containerd__services__tasks__v1__list_tasks_response__free_unpacked(r, NULL);
	return n;
}

int ct_parse_namespaces(const uint8_t *buf, size_t len, ct_ns_fn each, void *arg, char *err,
                        size_t errlen)
{
	Containerd__Services__Namespaces__V1__ListNamespacesResponse *r;
	size_t i;
	int n = 0;

	r = containerd__services__namespaces__v1__list_namespaces_response__unpack(NULL, len, buf);
	if (!r) {
		snprintf(err, errlen, "Namespaces.List answer does not decode");
		return -EBADMSG;
	}
	for (i = 0; i < r->n_namespaces; i++)
		if (r->namespaces[i] && ct_valid_id(r->namespaces[i]->name)) {
			each(arg, r->namespaces[i]->name);
			n++;
		}
	containerd__services__namespaces__v1__list_namespaces_response__free_unpacked(r, NULL);
	return n;
}

/* ------------------------------------------------------------- requests */

static int pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	*out = malloc(n ? n : 1);
	if (!*out)
		return -ENOMEM;
	*len = protobuf_c_message_pack(m, *out);
	return 0;
}

int ct_encode_subscribe(const char *const *filters, size_t nfilters, uint8_t **out, size_t *len)
{
	Containerd__Services__Events__V1__SubscribeRequest r = CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;

	r.n_filters = nfilters;
	r.filters = (char **)filters;
	return pack(&r.base, out, len);
}

int ct_encode_container_get(const char *id, uint8_t **out, size_t *len)
{
	Containerd__Services__Containers__V1__GetContainerRequest r =
		CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;

	r.id = (char *)id;
	return pack(&r.base, out, len);
}

int ct_encode_container_list(const char *const *filters, size_t nfilters, uint8_t **out, size_t *len)
{
	Containerd__Services__Containers__V1__ListContainersRequest r =
		CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;

	r.n_filters = nfilters;
	r.filters = (char **)filters;
	return pack(&r.base, out, len);
}

int ct_encode_task_get(const char *id, uint8_t **out, size_t *len)
{
	Containerd__Services__Tasks__V1__GetRequest r = CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;

	r.container_id = (char *)id;
	return pack(&r.base, out, len);
}

int ct_encode_task_list(uint8_t **out, size_t *len)
{
	Containerd__Services__Tasks__V1__ListTasksRequest r = CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;

	return pack(&r.base, out, len);
}

int ct_encode_namespace_list(uint8_t **out, size_t *len)
{
	Containerd__Services__Namespaces__V1__ListNamespacesRequest r =
		CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;

	return pack(&r.base, out, len);
}
