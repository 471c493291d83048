/*
 * tests/unit/test_containerd.c - the containerd watcher's decoding
 * (plugins/containerd/ctrd_parse.c, compiled in): nerdctl/ports labels from
 * the fixtures in tests/unit/containerd/ (well-formed, hostile ports and
 * types, truncated, not an array, a huge label, too many entries), event
 * envelopes built with the generated protobuf-c code (every topic, an Any
 * with an unknown or mismatched type_url, bad ids, truncated and garbage
 * bytes), and the Containers/Tasks/Namespaces answers.  Then the plugin
 * itself, loaded with dlopen through the fake host of fake_host.c,
 * against sockets that are not containerd: a missing socket, a server that
 * answers garbage instead of HTTP/2, one that closes at once; and bad
 * options.  It must log, back off, report nothing and unload cleanly.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "plugins/containerd/containers.pb-c.h"
#include "plugins/containerd/ctrd.h"
#include "plugins/containerd/events.pb-c.h"
#include "plugins/containerd/events_service.pb-c.h"
#include "plugins/containerd/namespaces.pb-c.h"
#include "plugins/containerd/tasks.pb-c.h"
#include "tests/unit/fake_host.h"
#include "tests/unit/tap.h"

static char logbuf[1 << 16];
static size_t loglen;
static int nlog;

static void tlog(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void tlog(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)arg;
	(void)level;
	nlog++;
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
	va_end(ap);
	if (n > 0 && loglen + (size_t)n + 1 < sizeof(logbuf)) {
		loglen += (size_t)n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

static void log_reset(void)
{
	loglen = 0;
	logbuf[0] = '\0';
	nlog = 0;
}

static char *slurp(const char *name, size_t *len)
{
	const char *srcdir = getenv("top_srcdir");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/unit/containerd/%s", srcdir ? srcdir : ".", name);
	f = fopen(path, "rb");
	if (!f) {
		diag("cannot open %s", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return buf;
}

/* Parse a fixture; returns the parser's result, maps in *maps. */
static int parse_fixture(const char *name, struct ct_map **maps, size_t *n, size_t *skipped, char *err,
                         size_t errlen)
{
	size_t len = 0;
	char *doc = slurp(name, &len);
	int r;

	if (!doc)
		return -ENOENT;
	log_reset();
	r = ct_parse_ports(doc, len, "default/web", maps, n, skipped, tlog, NULL, err, errlen);
	free(doc);
	return r;
}

static void test_ports(void)
{
	struct ct_map *m = NULL;
	size_t n = 0, sk = 0;
	char err[256] = "";
	int r;

	r = parse_fixture("ports_ok.json", &m, &n, &sk, err, sizeof(err));
	is_int(r, 0, "ports_ok: parsed");
	is_int((int)n, 4, "ports_ok: 4 ports (duplicate dropped, sctp ignored)");
	is_int((int)sk, 0, "ports_ok: nothing refused");
	if (n == 4) {
		is_str(m[0].host_ip, "0.0.0.0", "0.0.0.0 binding keeps its host ip");
		is_int(m[0].host_port, 8080, "host port 8080");
		is_int(m[0].container_port, 80, "container port 80");
		is_str(m[0].connect, "127.0.0.1:8080", "0.0.0.0 connects to 127.0.0.1 in the guest");
		ok(m[1].proto == BROKER_PROTO_UDP, "udp binding");
		is_str(m[1].host_ip, "::", ":: binding");
		is_str(m[1].connect, "[::1]:5353", ":: connects to [::1]");
		is_str(m[2].connect, "127.0.0.1:9000", "127.0.0.1 binding connects there");
		ok(m[3].proto == BROKER_PROTO_TCP && m[3].host_port == 6000 && strcmp(m[3].host_ip, "0.0.0.0") == 0,
		   "an entry with only HostPort: tcp on 0.0.0.0");
	}
	free(m);

	r = parse_fixture("ports_hostile.json", &m, &n, &sk, err, sizeof(err));
	is_int(r, 0, "ports_hostile: the label parses");
	is_int((int)n, 1, "ports_hostile: only the one valid entry survives");
	is_int((int)sk, 18, "ports_hostile: 18 entries refused");
	ok(n == 1 && m[0].host_port == 8443 && strcmp(m[0].host_ip, "0.0.0.0") == 0 && m[0].proto == BROKER_PROTO_TCP,
	   "the survivor is 8443/tcp on 0.0.0.0 (Protocol \"TCP\", HostIP \"\")");
	ok(nlog >= 18, "every refused entry was logged (%d lines)", nlog);
	like(logbuf, "HostPort is not an integer 1-65535", "port 0 / 70000 / string / float: logged");
	like(logbuf, "HostIP \"not-an-ip\" is not an address", "bad HostIP: logged");
	like(logbuf, "Protocol is not tcp or udp", "icmp: logged");
	like(logbuf, "is not an object", "non-object entries: logged");
	free(m);

	r = parse_fixture("ports_truncated.json", &m, &n, &sk, err, sizeof(err));
	is_int(r, -EBADMSG, "ports_truncated: refused");
	like(err, "not valid JSON", "truncated: the reason says so");
	ok(m == NULL && n == 0, "truncated: no ports");

	r = parse_fixture("ports_object.json", &m, &n, &sk, err, sizeof(err));
	is_int(r, -EBADMSG, "ports_object: an object instead of an array is refused");
	like(err, "not a JSON array", "object: reason");

	r = parse_fixture("ports_string.json", &m, &n, &sk, err, sizeof(err));
	is_int(r, -EBADMSG, "ports_string: a JSON string is refused");

	r = ct_parse_ports("", 0, "x", &m, &n, &sk, tlog, NULL, err, sizeof(err));
	is_int(r, -EBADMSG, "empty label refused");

	{
		/* 2 MiB of whitespace around a valid array: over the limit before parsing */
		size_t big = 2u * 1024 * 1024;
		char *s = malloc(big + 32);

		memset(s, ' ', big);
		memcpy(s + big, "[{\"HostPort\":1234}]", 19);
		r = ct_parse_ports(s, big + 19, "x", &m, &n, &sk, tlog, NULL, err, sizeof(err));
		is_int(r, -EBADMSG, "a 2 MiB label is refused");
		like(err, "longer than", "huge label: reason");
		free(s);
	}
	{
		/* 5000 distinct entries: capped at CT_MAPS_MAX */
		size_t cap = 5000 * 40 + 16, k = 0;
		char *s = malloc(cap);
		int i;

		s[k++] = '[';
		for (i = 0; i < 5000; i++)
			k += (size_t)snprintf(s + k, cap - k, "%s{\"HostPort\":%d}", i ? "," : "", 1 + i);
		s[k++] = ']';
		log_reset();
		r = ct_parse_ports(s, k, "x", &m, &n, &sk, tlog, NULL, err, sizeof(err));
		is_int(r, 0, "5000 entries parse");
		is_int((int)n, CT_MAPS_MAX, "capped at %d ports", CT_MAPS_MAX);
		like(logbuf, "more than 4096 published ports", "the cap is logged");
		free(m);
		free(s);
	}
}

/* ------------------------------------------------------------- envelopes */

struct packed {
	uint8_t *p;
	size_t n;
};

static struct packed pack_msg(const ProtobufCMessage *m)
{
	struct packed r;

	r.n = protobuf_c_message_get_packed_size(m);
	r.p = malloc(r.n ? r.n : 1);
	protobuf_c_message_pack(m, r.p);
	return r;
}

/* An envelope with the given topic, namespace, type url and payload. */
static struct packed envelope(const char *ns, const char *topic, const char *type_url, struct packed payload)
{
	Containerd__Services__Events__V1__Envelope e = CONTAINERD__SERVICES__EVENTS__V1__ENVELOPE__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	struct packed r;

	e.namespace_ = (char *)ns;
	e.topic = (char *)topic;
	any.type_url = (char *)type_url;
	any.value.data = payload.p;
	any.value.len = payload.n;
	e.event = &any;
	r = pack_msg(&e.base);
	free(payload.p);
	return r;
}

static struct packed task_start(const char *id)
{
	Containerd__Events__TaskStart m = CONTAINERD__EVENTS__TASK_START__INIT;

	m.container_id = (char *)id;
	m.pid = 42;
	return pack_msg(&m.base);
}

static struct packed task_exit(const char *cid, const char *id)
{
	Containerd__Events__TaskExit m = CONTAINERD__EVENTS__TASK_EXIT__INIT;

	m.container_id = (char *)cid;
	m.id = (char *)id;
	m.exit_status = 137;
	return pack_msg(&m.base);
}

static struct packed task_delete(const char *cid, const char *id)
{
	Containerd__Events__TaskDelete m = CONTAINERD__EVENTS__TASK_DELETE__INIT;

	m.container_id = (char *)cid;
	m.id = (char *)id;
	return pack_msg(&m.base);
}

static struct packed container_update(const char *id, const char *ports, const char *name)
{
	Containerd__Events__ContainerUpdate m = CONTAINERD__EVENTS__CONTAINER_UPDATE__INIT;
	Containerd__Events__ContainerUpdate__LabelsEntry e[3] = {
		CONTAINERD__EVENTS__CONTAINER_UPDATE__LABELS_ENTRY__INIT,
		CONTAINERD__EVENTS__CONTAINER_UPDATE__LABELS_ENTRY__INIT,
		CONTAINERD__EVENTS__CONTAINER_UPDATE__LABELS_ENTRY__INIT,
	};
	Containerd__Events__ContainerUpdate__LabelsEntry *ep[3];
	size_t n = 0;

	m.id = (char *)id;
	e[n].key = (char *)"io.example/other";
	e[n].value = (char *)"x";
	ep[n] = &e[n];
	n++;
	if (ports) {
		e[n].key = (char *)CT_PORTS_LABEL;
		e[n].value = (char *)ports;
		ep[n] = &e[n];
		n++;
	}
	if (name) {
		e[n].key = (char *)CT_NAME_LABEL;
		e[n].value = (char *)name;
		ep[n] = &e[n];
		n++;
	}
	m.n_labels = n;
	m.labels = ep;
	return pack_msg(&m.base);
}

static int decode(struct packed p, struct ct_event *ev, char *err, size_t errlen)
{
	int r = ct_parse_envelope(p.p, p.n, ev, err, errlen);

	free(p.p);
	return r;
}

static void test_envelopes(void)
{
	struct ct_event ev;
	struct packed p;
	char err[256];
	int r;

	r = decode(envelope("default", "/tasks/start", "containerd.events.TaskStart", task_start("web1")), &ev, err,
	           sizeof(err));
	is_int(r, 0, "TaskStart decodes");
	ok(ev.kind == CT_EV_TASK_START && strcmp(ev.ns, "default") == 0 && strcmp(ev.id, "web1") == 0,
	   "TaskStart: namespace and container id");
	ct_event_clear(&ev);

	r = decode(envelope("k8s.io", "/tasks/start", "types.containerd.io/containerd.events.TaskStart",
	                    task_start("abc-1.2_3")),
	           &ev, err, sizeof(err));
	is_int(r, 0, "a type URL with a host prefix is accepted");
	ct_event_clear(&ev);

	r = decode(envelope("default", "/tasks/start", "example.com/evil.Payload", task_start("web1")), &ev, err,
	           sizeof(err));
	is_int(r, -EBADMSG, "an Any with an unknown type_url is refused");
	like(err, "carries type \"example.com/evil.Payload\"", "unknown type_url: reason");

	r = decode(envelope("default", "/tasks/start", "containerd.events.TaskExit", task_exit("web1", "web1")), &ev,
	           err, sizeof(err));
	is_int(r, -EBADMSG, "a payload type that does not match its topic is refused");

	r = decode(envelope("default", "/images/create", "containerd.events.ImageCreate", task_start("x")), &ev, err,
	           sizeof(err));
	is_int(r, 1, "an unused topic is ignored");

	r = decode(envelope("default", "/tasks/exit", "containerd.events.TaskExit", task_exit("web1", "web1")), &ev,
	           err, sizeof(err));
	ok(r == 0 && ev.kind == CT_EV_TASK_EXIT && ev.init_process, "TaskExit of the init process");
	ct_event_clear(&ev);
	r = decode(envelope("default", "/tasks/exit", "containerd.events.TaskExit", task_exit("web1", "exec-7")), &ev,
	           err, sizeof(err));
	ok(r == 0 && !ev.init_process, "TaskExit of an exec'd process is not the task's exit");
	ct_event_clear(&ev);

	r = decode(envelope("default", "/tasks/delete", "containerd.events.TaskDelete", task_delete("web1", "")), &ev,
	           err, sizeof(err));
	ok(r == 0 && ev.kind == CT_EV_TASK_DELETE && ev.init_process, "TaskDelete with an empty id: the task");
	ct_event_clear(&ev);

	r = decode(envelope("default", "/containers/update", "containerd.events.ContainerUpdate",
	                    container_update("web1", "[{\"HostPort\":8080}]", "web\x01name")),
	           &ev, err, sizeof(err));
	ok(r == 0 && ev.kind == CT_EV_CONTAINER_UPDATE && ev.has_labels && ev.ports &&
	   strcmp(ev.ports, "[{\"HostPort\":8080}]") == 0, "ContainerUpdate carries the ports label");
	is_str(ev.name, "web?name", "the name label is kept printable");
	ct_event_clear(&ev);
	r = decode(envelope("default", "/containers/update", "containerd.events.ContainerUpdate",
	                    container_update("web1", NULL, NULL)),
	           &ev, err, sizeof(err));
	ok(r == 0 && ev.has_labels && !ev.ports, "ContainerUpdate without the label: no ports");
	ct_event_clear(&ev);

	r = decode(envelope("../etc", "/tasks/start", "containerd.events.TaskStart", task_start("web1")), &ev, err,
	           sizeof(err));
	is_int(r, -EBADMSG, "a namespace that is not an identifier is refused");
	r = decode(envelope("default", "/tasks/start", "containerd.events.TaskStart", task_start("a/b")), &ev, err,
	           sizeof(err));
	is_int(r, -EBADMSG, "a container id with a slash is refused");
	like(err, "not a containerd identifier", "bad id: reason");
	{
		char longid[100];

		memset(longid, 'a', 99);
		longid[99] = '\0';
		r = decode(envelope("default", "/tasks/start", "containerd.events.TaskStart", task_start(longid)), &ev,
		           err, sizeof(err));
		is_int(r, -EBADMSG, "a 99-character container id is refused");
	}
	r = decode(envelope("default", "/tasks/start", "containerd.events.TaskStart", task_start("")), &ev, err,
	           sizeof(err));
	is_int(r, -EBADMSG, "an empty container id is refused");

	/* truncated envelope, garbage payload, no payload */
	p = envelope("default", "/tasks/start", "containerd.events.TaskStart", task_start("web1"));
	r = ct_parse_envelope(p.p, p.n - 3, &ev, err, sizeof(err));
	is_int(r, -EBADMSG, "a truncated envelope is refused");
	free(p.p);
	{
		struct packed g;

		g.n = 16;
		g.p = malloc(g.n);
		memset(g.p, 0xff, g.n);
		r = decode(envelope("default", "/tasks/start", "containerd.events.TaskStart", g), &ev, err, sizeof(err));
		is_int(r, -EBADMSG, "a garbage payload is refused");
		like(err, "does not decode", "garbage payload: reason");
	}
	{
		Containerd__Services__Events__V1__Envelope e = CONTAINERD__SERVICES__EVENTS__V1__ENVELOPE__INIT;

		e.namespace_ = (char *)"default";
		e.topic = (char *)"/tasks/exit";
		r = decode(pack_msg(&e.base), &ev, err, sizeof(err));
		is_int(r, -EBADMSG, "an envelope without a payload is refused");
	}
	{
		uint8_t junk[64];

		memset(junk, 0xa5, sizeof(junk));
		r = ct_parse_envelope(junk, sizeof(junk), &ev, err, sizeof(err));
		ok(r < 0 || r == 1, "random bytes as an envelope: refused or ignored, no crash");
		if (r == 0)
			ct_event_clear(&ev);
	}
}

/* ------------------------------------------------------------- answers */

static int ncts, ntasks;
static char seen_ports[256];

static void ct_cb(void *arg, const char *id, const char *ports, size_t len, const char *name)
{
	(void)arg;
	(void)name;
	ncts++;
	if (strcmp(id, "web") == 0 && ports)
		snprintf(seen_ports, sizeof(seen_ports), "%.*s", (int)len, ports);
}

static int task_status_web = -1;

static void task_cb(void *arg, const char *id, int status)
{
	(void)arg;
	ntasks++;
	if (strcmp(id, "web") == 0)
		task_status_web = status;
}

static void test_answers(void)
{
	Containerd__Services__Containers__V1__Container c[3] = {
		CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT,
		CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT,
		CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT,
	};
	Containerd__Services__Containers__V1__Container *cp[3] = { &c[0], &c[1], &c[2] };
	Containerd__Services__Containers__V1__Container__LabelsEntry le =
		CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
	Containerd__Services__Containers__V1__Container__LabelsEntry *lep = &le;
	Containerd__Services__Containers__V1__ListContainersResponse lr =
		CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_RESPONSE__INIT;
	Containerd__Services__Containers__V1__GetContainerResponse gr =
		CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_RESPONSE__INIT;
	Containerd__V1__Types__Process pr[3] = {
		CONTAINERD__V1__TYPES__PROCESS__INIT,
		CONTAINERD__V1__TYPES__PROCESS__INIT,
		CONTAINERD__V1__TYPES__PROCESS__INIT,
	};
	Containerd__V1__Types__Process *pp[3] = { &pr[0], &pr[1], &pr[2] };
	Containerd__Services__Tasks__V1__ListTasksResponse tr = CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_RESPONSE__INIT;
	Containerd__Services__Tasks__V1__GetResponse tg = CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
	struct packed p;
	char id[CT_ID_MAX + 1], name[CT_NAME_MAX], err[256];
	char *ports = NULL;
	size_t plen = 0;
	int r, status = -1;

	le.key = (char *)CT_PORTS_LABEL;
	le.value = (char *)"[{\"HostPort\":8080}]";
	c[0].id = (char *)"web";
	c[0].n_labels = 1;
	c[0].labels = &lep;
	c[1].id = (char *)"bad id!";
	c[2].id = (char *)"plain";
	lr.n_containers = 3;
	lr.containers = cp;
	p = pack_msg(&lr.base);
	log_reset();
	r = ct_parse_container_list(p.p, p.n, ct_cb, NULL, tlog, NULL, err, sizeof(err));
	is_int(r, 2, "Containers.List: two valid containers");
	is_str(seen_ports, "[{\"HostPort\":8080}]", "Containers.List: the label of web");
	like(logbuf, "entry 1 has no valid id", "Containers.List: the invalid id is logged");
	r = ct_parse_container_list(p.p, p.n / 2, ct_cb, NULL, tlog, NULL, err, sizeof(err));
	is_int(r, -EBADMSG, "Containers.List: truncated answer refused");
	free(p.p);

	gr.container = &c[0];
	p = pack_msg(&gr.base);
	r = ct_parse_container_get(p.p, p.n, id, sizeof(id), &ports, &plen, name, sizeof(name), err, sizeof(err));
	ok(r == 0 && strcmp(id, "web") == 0 && ports && plen == strlen(le.value), "Containers.Get: id and label");
	free(ports);
	free(p.p);
	gr.container = NULL;
	p = pack_msg(&gr.base);
	r = ct_parse_container_get(p.p, p.n, id, sizeof(id), &ports, &plen, name, sizeof(name), err, sizeof(err));
	is_int(r, -EBADMSG, "Containers.Get without a container is refused");
	free(p.p);

	/* containerd 1.6 fills only id in Tasks.List */
	pr[0].id = (char *)"web";
	pr[0].status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
	pr[1].container_id = (char *)"web";
	pr[1].id = (char *)"exec-1";
	pr[1].status = CONTAINERD__V1__TYPES__STATUS__STOPPED;
	pr[2].id = (char *)"x/y";
	tr.n_tasks = 3;
	tr.tasks = pp;
	p = pack_msg(&tr.base);
	r = ct_parse_task_list(p.p, p.n, task_cb, NULL, err, sizeof(err));
	is_int(r, 1, "Tasks.List: one init process with a valid id");
	is_int(task_status_web, CT_TASK_RUNNING, "Tasks.List: web is running (exec entry ignored)");
	free(p.p);

	tg.process = &pr[0];
	pr[0].status = CONTAINERD__V1__TYPES__STATUS__STOPPED;
	p = pack_msg(&tg.base);
	r = ct_parse_task_get(p.p, p.n, &status, id, sizeof(id), err, sizeof(err));
	ok(r == 0 && status == CT_TASK_STOPPED && strcmp(id, "web") == 0, "Tasks.Get: stopped");
	ok(!ct_task_alive(status) && ct_task_alive(CT_TASK_RUNNING) && ct_task_alive(CT_TASK_PAUSED) &&
	   !ct_task_alive(CT_TASK_CREATED) && !ct_task_alive(CT_TASK_UNKNOWN),
	   "running/paused count as alive; created/stopped/unknown do not");
	free(p.p);

}

static void ns_cb(void *arg, const char *name)
{
	int *n = arg;

	if (strcmp(name, "default") == 0)
		(*n)++;
	else
		*n += 100;
}

static void test_namespaces(void)
{
	Containerd__Services__Namespaces__V1__Namespace ns[3] = {
		CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT,
		CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT,
		CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT,
	};
	Containerd__Services__Namespaces__V1__Namespace *nsp[3] = { &ns[0], &ns[1], &ns[2] };
	Containerd__Services__Namespaces__V1__ListNamespacesResponse nr =
		CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_RESPONSE__INIT;
	struct packed p;
	char err[128];
	int n = 0, r;

	ns[0].name = (char *)"default";
	ns[1].name = (char *)"..";
	ns[2].name = (char *)"";
	nr.n_namespaces = 3;
	nr.namespaces = nsp;
	p = pack_msg(&nr.base);
	r = ct_parse_namespaces(p.p, p.n, ns_cb, &n, err, sizeof(err));
	ok(r == 1 && n == 1, "Namespaces.List: only valid names are listed");
	free(p.p);
}

static void test_requests(void)
{
	const char *f[2] = { "topic==\"/tasks/start\"", "topic==\"/tasks/exit\"" };
	Containerd__Services__Events__V1__SubscribeRequest *s;
	uint8_t *b = NULL;
	size_t n = 0;

	ok(ct_encode_subscribe(f, 2, &b, &n) == 0, "SubscribeRequest encodes");
	s = containerd__services__events__v1__subscribe_request__unpack(NULL, n, b);
	ok(s && s->n_filters == 2 && strcmp(s->filters[1], f[1]) == 0, "SubscribeRequest round-trips its filters");
	if (s)
		containerd__services__events__v1__subscribe_request__free_unpacked(s, NULL);
	free(b);
	ok(ct_encode_task_list(&b, &n) == 0 && n == 0, "an empty ListTasksRequest packs to 0 bytes");
	free(b);
	ok(ct_valid_id("k8s.io") && ct_valid_id("a-b_c.d") && !ct_valid_id("-a") && !ct_valid_id("a..b") &&
	   !ct_valid_id("a.") && !ct_valid_id(""), "containerd identifier rules");
}

/* ------------------------------------------------------------- the plugin against non-containerd servers */

enum fake_mode { FAKE_GARBAGE, FAKE_CLOSE };

struct fake {
	int lfd;
	enum fake_mode mode;
	int accepted;
	int conns[64];
	int nconns;
	struct event *ev;
};

static void fake_accept(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	int c = accept(fd, NULL, NULL);

	(void)what;
	if (c < 0)
		return;
	f->accepted++;
	if (f->mode == FAKE_CLOSE || f->nconns >= 64) {
		close(c);
		return;
	}
	/* an HTTP/1.1 answer where a SETTINGS frame belongs */
	if (write(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 47) < 0)
		diag("fake server: write failed");
	f->conns[f->nconns++] = c;
}

static int fake_listen(struct fake *f, struct event_base *base, const char *path, enum fake_mode mode)
{
	struct sockaddr_un sa;

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f->lfd, 16) < 0)
		return -1;
	f->ev = event_new(base, f->lfd, EV_READ | EV_PERSIST, fake_accept, f);
	return event_add(f->ev, NULL);
}

static void fake_close(struct fake *f, const char *path)
{
	int i;

	for (i = 0; i < f->nconns; i++)
		close(f->conns[i]);
	if (f->ev)
		event_free(f->ev);
	if (f->lfd >= 0)
		close(f->lfd);
	unlink(path);
}

static void test_plugin(const char *so)
{
	struct event_base *base = fh_base_new();
	struct fh_plugin P;
	struct fake f;
	char err[256], path[108], opt[160];
	const char *opts[3];
	int r;

	if (fh_open(&P, so, base) < 0) {
		skip(12, "containerd plugin not loadable");
		fh_close(&P);
		fh_base_free(base);
		return;
	}
	ok(P.p->kinds == BROKER_KIND_WATCHER && strcmp(P.p->name, "containerd") == 0,
	   "the plugin is the containerd watcher");

	opts[0] = "namespace=../x";
	opts[1] = NULL;
	r = fh_up(&P, opts, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "namespace"), "namespace=../x is refused at init (%s)", err);
	opts[0] = "socket=";
	r = fh_up(&P, opts, err, sizeof(err));
	ok(r == -EINVAL, "an empty socket option is refused at init");

	/* a socket that does not exist: logs, backs off, reports nothing */
	snprintf(path, sizeof(path), "/tmp/test_containerd.%d.sock", (int)getpid());
	unlink(path);
	snprintf(opt, sizeof(opt), "socket=%s", path);
	opts[0] = opt;
	opts[1] = "namespace=all";
	opts[2] = NULL;
	r = fh_up(&P, opts, err, sizeof(err));
	is_int(r, 0, "loads with a missing socket");
	ok(fh_wait_log(base, "in 800 ms", 3000), "missing socket: reconnects with a growing backoff");
	like(fh.log, "No such file or directory", "missing socket: the reason is logged");
	ok(fh.sets == 0 && fh.commits == 0, "missing socket: nothing reported");
	fh_down(&P);

	/* a server that is not HTTP/2 */
	if (fake_listen(&f, base, path, FAKE_GARBAGE) < 0) {
		skip(5, "cannot listen on a unix socket");
		fh_close(&P);
		fh_base_free(base);
		return;
	}
	opts[1] = NULL;
	r = fh_up(&P, opts, err, sizeof(err));
	is_int(r, 0, "loads against a server that answers HTTP/1.1");
	ok(fh_wait_log(base, "in 800 ms", 3000) && f.accepted >= 2, "garbage answer: the connection is dropped and retried (%d connects)",
	   f.accepted);
	ok(fh.sets == 0 && fh.commits == 0, "garbage answer: nothing reported");
	fh_down(&P);
	fake_close(&f, path);

	/* a server that closes at once; unload while a retry is pending */
	fake_listen(&f, base, path, FAKE_CLOSE);
	r = fh_up(&P, opts, err, sizeof(err));
	is_int(r, 0, "loads against a server that closes at once");
	ok(fh_wait_log(base, "in 400 ms", 3000) && (strstr(fh.log, "closed the connection") || strstr(fh.log, "reset by peer")),
	   "closing server: logged, retried");
	fh_run_for(base, 300);
	ok(fh.sets == 0 && fh.commits == 0, "closing server: nothing reported");
	fh_down(&P);
	fake_close(&f, path);
	fh_run_for(base, 50);
	fh_close(&P);
	fh_base_free(base);
}

int main(int argc, char **argv)
{
	char buf[1024];

	plan(84);
	fh_echo_level = BROKER_LOG_WARN;   /* FH_VERBOSE=1 shows every line */
	test_ports();
	test_envelopes();
	test_answers();
	test_namespaces();
	test_requests();
	test_plugin(fh_plugin_path(argc, argv, 1, "CONTAINERD_PLUGIN", "containerd", buf, sizeof(buf)));
	return done_testing();
}
