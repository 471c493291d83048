/*
 * plugins/docker/docker_parse.c - turn Docker Engine API documents into
 * mappings: the container list, a container's inspect document
 * (NetworkSettings.Ports) and /events lines.
 *
 * Everything here distrusts its input: wrong types, out-of-range ports,
 * addresses that do not parse and ids that are not hex are refused with a
 * logged reason, never guessed at.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "docker.h"

int dk_valid_id(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')) || n >= DK_ID_MAX)
			return 0;
	return n >= 12;
}

/* Copy s into dst (size n) keeping printable ASCII only. */
static void copy_printable(char *dst, size_t n, const char *s)
{
	size_t i = 0;

	for (; s && *s && i + 1 < n; s++)
		dst[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	dst[i] = '\0';
}

static void json_reason(char *err, size_t errlen, const json_error_t *je)
{
	snprintf(err, errlen, "not valid JSON (line %d column %d: %s)", je->line, je->column, je->text);
}

int dk_parse_list(const char *doc, size_t len, size_t max_ids, void (*each)(void *arg, const char *id),
                  void *arg, dk_log_fn log, void *log_arg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *item;
	size_t i;
	int n = 0;

	root = json_loadb(doc, len, 0, &je);
	if (!root) {
		json_reason(err, errlen, &je);
		return -EBADMSG;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "container list is not a JSON array");
		json_decref(root);
		return -EBADMSG;
	}
	json_array_foreach(root, i, item) {
		json_t *id = json_object_get(item, "Id"), *state = json_object_get(item, "State");

		if (!json_is_object(item) || !json_is_string(id) || !dk_valid_id(json_string_value(id))) {
			log(log_arg, BROKER_LOG_ERROR, "container list: entry %zu has no valid \"Id\"; skipped", i);
			continue;
		}
		if (state && (!json_is_string(state) || strcmp(json_string_value(state), "running") != 0))
			continue;       /* we asked for running ones; a stray one is not ours */
		if ((size_t)n >= max_ids) {
			log(log_arg, BROKER_LOG_ERROR,
			    "container list: more than %zu containers; the rest are ignored", max_ids);
			break;
		}
		each(arg, json_string_value(id));
		n++;
	}
	json_decref(root);
	return n;
}

/* "80/tcp" -> 80, TCP; -EINVAL when malformed, 1 for a protocol we skip (sctp). */
static int parse_port_key(const char *key, uint16_t *port, enum broker_proto *proto)
{
	unsigned long v = 0;
	const char *p = key;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	if (*p == '\0' || strcmp(p, "/tcp") == 0)
		*proto = BROKER_PROTO_TCP;
	else if (strcmp(p, "/udp") == 0)
		*proto = BROKER_PROTO_UDP;
	else if (strcmp(p, "/sctp") == 0)
		return 1;
	else
		return -EINVAL;
	return 0;
}

/* "8080" -> 8080; -1 unless 1..65535 in plain decimal. */
static int parse_host_port(const char *s)
{
	long v = 0;
	const char *p = s;

	if (!*p || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return (v >= 1 && v <= 65535) ? (int)v : -1;
}

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

static void fmt_addr(char *dst, const char *ip, int fam, unsigned port)
{
	if (fam == 6)
		snprintf(dst, DK_ADDR_MAX, "[%.46s]:%u", ip, port);
	else
		snprintf(dst, DK_ADDR_MAX, "%.46s:%u", ip, port);
}

/* The container's addresses: NetworkSettings.IPAddress, else the first network's. */
static void container_ips(json_t *ns, char *ip4, char *ip6)
{
	json_t *nets = json_object_get(ns, "Networks"), *net;
	json_t *a4 = json_object_get(ns, "IPAddress"), *a6 = json_object_get(ns, "GlobalIPv6Address");
	const char *key;
	char tmp[INET6_ADDRSTRLEN];

	ip4[0] = ip6[0] = '\0';
	if (json_is_string(a4) && parse_ip(json_string_value(a4), tmp, sizeof(tmp)) == 4)
		strcpy(ip4, tmp);
	if (json_is_string(a6) && parse_ip(json_string_value(a6), tmp, sizeof(tmp)) == 6)
		strcpy(ip6, tmp);
	if (!json_is_object(nets))
		return;
	json_object_foreach(nets, key, net) {
		a4 = json_object_get(net, "IPAddress");
		a6 = json_object_get(net, "GlobalIPv6Address");
		if (!ip4[0] && json_is_string(a4) && parse_ip(json_string_value(a4), tmp, sizeof(tmp)) == 4)
			strcpy(ip4, tmp);
		if (!ip6[0] && json_is_string(a6) && parse_ip(json_string_value(a6), tmp, sizeof(tmp)) == 6)
			strcpy(ip6, tmp);
	}
}

/* Fill m's connect list: the published address and the container's, in the preferred order. */
static void build_connect(struct portmap_binding *m, int fam, enum dk_prefer prefer, const char *ip4,
                          const char *ip6)
{
	char pub[DK_ADDR_MAX], ctr[2][DK_ADDR_MAX];
	size_t nctr = 0, i;

	if (fam == 4 && strcmp(m->host_ip, "0.0.0.0") == 0)
		fmt_addr(pub, "127.0.0.1", 4, m->host_port);
	else if (fam == 6 && strcmp(m->host_ip, "::") == 0)
		fmt_addr(pub, "::1", 6, m->host_port);
	else
		fmt_addr(pub, m->host_ip, fam, m->host_port);
	if (fam == 6 && ip6[0])
		fmt_addr(ctr[nctr++], ip6, 6, m->container_port);
	if (ip4[0])
		fmt_addr(ctr[nctr++], ip4, 4, m->container_port);
	m->nconnect = 0;
	if (prefer == DK_PREFER_PUBLISHED)
		strcpy(m->connect[m->nconnect++], pub);
	for (i = 0; i < nctr && m->nconnect < DK_CONNECT_MAX; i++)
		strcpy(m->connect[m->nconnect++], ctr[i]);
	if (prefer == DK_PREFER_CONTAINER && m->nconnect < DK_CONNECT_MAX)
		strcpy(m->connect[m->nconnect++], pub);
}

static int add_binding(struct dk_inspect_result *r, const char *key, size_t idx, json_t *b,
                       uint16_t cport, enum broker_proto proto, enum dk_prefer prefer, const char *ip4,
                       const char *ip6, dk_log_fn log, void *log_arg)
{
	json_t *jip = json_object_get(b, "HostIp"), *jport = json_object_get(b, "HostPort");
	const char *ipstr = "0.0.0.0";
	char ip[INET6_ADDRSTRLEN];
	struct portmap_binding *m;
	size_t i;
	int fam, hp;

	if (!json_is_object(b)) {
		log(log_arg, BROKER_LOG_ERROR, "container %.12s: Ports[\"%s\"][%zu] is not an object; skipped",
		    r->id, key, idx);
		return -EINVAL;
	}
	if (jip && !json_is_null(jip)) {
		if (!json_is_string(jip)) {
			log(log_arg, BROKER_LOG_ERROR,
			    "container %.12s: Ports[\"%s\"][%zu].HostIp is not a string; skipped", r->id, key, idx);
			return -EINVAL;
		}
		if (json_string_value(jip)[0])
			ipstr = json_string_value(jip);
	}
	fam = parse_ip(ipstr, ip, sizeof(ip));
	if (!fam) {
		log(log_arg, BROKER_LOG_ERROR, "container %.12s: Ports[\"%s\"][%zu].HostIp \"%.60s\" is not an address; skipped",
		    r->id, key, idx, ipstr);
		return -EINVAL;
	}
	if (!json_is_string(jport)) {
		log(log_arg, BROKER_LOG_ERROR,
		    "container %.12s: Ports[\"%s\"][%zu].HostPort is missing or not a string; skipped", r->id,
		    key, idx);
		return -EINVAL;
	}
	hp = parse_host_port(json_string_value(jport));
	if (hp < 0) {
		log(log_arg, BROKER_LOG_ERROR,
		    "container %.12s: Ports[\"%s\"][%zu].HostPort \"%.20s\" is not a port 1-65535; skipped",
		    r->id, key, idx, json_string_value(jport));
		return -EINVAL;
	}
	for (i = 0; i < r->nmaps; i++)
		if (r->maps[i].proto == proto && r->maps[i].host_port == hp && strcmp(r->maps[i].host_ip, ip) == 0)
			return 0;       /* the same binding twice */
	if (r->nmaps >= DK_MAPS_MAX) {
		log(log_arg, BROKER_LOG_ERROR, "container %.12s: more than %d published ports; the rest are ignored",
		    r->id, DK_MAPS_MAX);
		return -EINVAL;
	}
	if (r->nmaps % 16 == 0) {
		struct portmap_binding *n = realloc(r->maps, (r->nmaps + 16) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->maps = n;
	}
	m = &r->maps[r->nmaps++];
	memset(m, 0, sizeof(*m));
	m->proto = proto;
	snprintf(m->host_ip, sizeof(m->host_ip), "%s", ip);
	m->host_port = (uint16_t)hp;
	m->container_port = cport;
	build_connect(m, fam, prefer, ip4, ip6);
	return 0;
}

int dk_parse_inspect(const char *doc, size_t len, enum dk_prefer prefer, struct dk_inspect_result *r,
                     dk_log_fn log, void *log_arg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *id, *name, *state, *running, *ns, *ports, *val;
	const char *key;
	char ip4[INET6_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	int rc = -EBADMSG;

	memset(r, 0, sizeof(*r));
	root = json_loadb(doc, len, 0, &je);
	if (!root) {
		json_reason(err, errlen, &je);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "inspect document is not a JSON object");
		goto out;
	}
	id = json_object_get(root, "Id");
	if (!json_is_string(id) || !dk_valid_id(json_string_value(id))) {
		snprintf(err, errlen, "inspect document has no valid \"Id\"");
		goto out;
	}
	snprintf(r->id, sizeof(r->id), "%s", json_string_value(id));
	name = json_object_get(root, "Name");
	if (json_is_string(name)) {
		const char *s = json_string_value(name);

		copy_printable(r->name, sizeof(r->name), s[0] == '/' ? s + 1 : s);
	}
	state = json_object_get(root, "State");
	running = json_object_get(state, "Running");
	if (!json_is_object(state) || !json_is_boolean(running)) {
		snprintf(err, errlen, "inspect document has no boolean \"State.Running\"");
		goto out;
	}
	r->running = json_is_true(running);
	ns = json_object_get(root, "NetworkSettings");
	if (ns && !json_is_null(ns) && !json_is_object(ns)) {
		snprintf(err, errlen, "\"NetworkSettings\" is not an object");
		goto out;
	}
	ports = json_object_get(ns, "Ports");
	if (ports && !json_is_null(ports) && !json_is_object(ports)) {
		snprintf(err, errlen, "\"NetworkSettings.Ports\" is not an object");
		goto out;
	}
	rc = 0;
	if (!r->running || !json_is_object(ports))
		goto out;
	container_ips(ns, ip4, ip6);
	json_object_foreach(ports, key, val) {
		enum broker_proto proto;
		uint16_t cport;
		json_t *b;
		size_t i;
		int k;

		k = parse_port_key(key, &cport, &proto);
		if (k < 0) {
			log(log_arg, BROKER_LOG_ERROR,
			    "container %.12s: port key \"%.40s\" is not PORT/tcp or PORT/udp with PORT 1-65535; skipped",
			    r->id, key);
			r->nskipped++;
			continue;
		}
		if (k > 0 || json_is_null(val))
			continue;       /* sctp, or exposed but not published */
		if (!json_is_array(val)) {
			log(log_arg, BROKER_LOG_ERROR, "container %.12s: Ports[\"%.40s\"] is not an array; skipped",
			    r->id, key);
			r->nskipped++;
			continue;
		}
		json_array_foreach(val, i, b) {
			int e = add_binding(r, key, i, b, cport, proto, prefer, ip4, ip6, log, log_arg);

			if (e == -ENOMEM) {
				snprintf(err, errlen, "out of memory");
				rc = -ENOMEM;
				goto out;
			}
			if (e < 0)
				r->nskipped++;
		}
	}
out:
	if (rc < 0) {
		free(r->maps);
		r->maps = NULL;
		r->nmaps = 0;
	}
	json_decref(root);
	return rc;
}

int dk_parse_event(const char *line, size_t len, struct dk_event *ev, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *type, *action, *actor, *id, *name;
	int rc = -EBADMSG;

	memset(ev, 0, sizeof(*ev));
	root = json_loadb(line, len, 0, &je);
	if (!root) {
		json_reason(err, errlen, &je);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "event is not a JSON object");
		goto out;
	}
	type = json_object_get(root, "Type");
	if (type && (!json_is_string(type) || strcmp(json_string_value(type), "container") != 0)) {
		rc = 1;
		goto out;
	}
	action = json_object_get(root, "Action");
	if (!action)
		action = json_object_get(root, "status");
	actor = json_object_get(root, "Actor");
	id = json_object_get(actor, "ID");
	if (!id)
		id = json_object_get(root, "id");
	if (!json_is_string(action)) {
		snprintf(err, errlen, "event has no string \"Action\"");
		goto out;
	}
	if (!json_is_string(id) || !dk_valid_id(json_string_value(id))) {
		snprintf(err, errlen, "event has no valid container id");
		goto out;
	}
	snprintf(ev->id, sizeof(ev->id), "%s", json_string_value(id));
	copy_printable(ev->action, sizeof(ev->action), json_string_value(action));
	name = json_object_get(json_object_get(actor, "Attributes"), "name");
	if (json_is_string(name))
		copy_printable(ev->name, sizeof(ev->name), json_string_value(name));
	rc = 0;
out:
	json_decref(root);
	return rc;
}
