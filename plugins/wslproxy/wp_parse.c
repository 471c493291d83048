/*
 * plugins/wslproxy/wp_parse.c - one Rancher Desktop PortMapping object to
 * the bindings it adds or removes.  Pure: jansson and inet_pton only, so the
 * unit test compiles it in (tests/unit/test_wp_parse.c).
 *
 * The rules follow what Rancher Desktop's wsl-proxy does with the object
 * (src/go/networking/pkg/portproxy/server.go in rancher-desktop): a field of
 * the wrong JSON type fails the whole decode (Go's json.Decoder), so nothing
 * applies; a binding whose HostPort does not parse, or a protocol other than
 * tcp/udp, is skipped with a message and the others still apply.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "plugins/wslproxy/wslproxy.h"

#define WP_ADDRS_MAX 64             /* connectAddrs entries looked at */
#define WP_SKIP_LOGS 8              /* skipped bindings named per object; the rest counted */

struct wp_addr {
	enum broker_proto proto;
	uint16_t port;
	char text[PORTMAP_ADDR_MAX];    /* normalized "10.4.0.5:80", "[fd00::5]:80" */
};

struct wp_ctx {
	wp_log_fn log;
	void *log_arg;
	size_t skip_logged;
	char *err;
	size_t errlen;
};

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

/* Go matches field names exactly first, then case-insensitively. */
static json_t *field(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name), *x;
	const char *k;

	if (v)
		return v;
	json_object_foreach(obj, k, x) {
		if (!strcasecmp(k, name))
			return x;
	}
	return NULL;
}

/* A string field: absent or null is "" (Go's zero value); another type fails. */
static int string_field(struct wp_ctx *c, json_t *obj, const char *name, const char *where, const char **out)
{
	json_t *v = field(obj, name);

	*out = "";
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(c->err, c->errlen, "%s\"%s\" must be a string, not %s", where, name, type_name(v));
		return -EBADMSG;
	}
	*out = json_string_value(v);
	return 0;
}

static void skipped(struct wp_ctx *c, struct wp_request *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void skipped(struct wp_ctx *c, struct wp_request *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	r->nskipped++;
	if (c->skip_logged++ >= WP_SKIP_LOGS || !c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_arg, BROKER_LOG_WARN, "%s; skipped", msg);
}

/* A port as strconv.ParseUint(s, 10, 16) takes it: digits only, then 1..65535. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -ERANGE;
	}
	if (v == 0)
		return -ERANGE;
	*port = (uint16_t)v;
	return 0;
}

/* "tcp", "tcp4", "tcp6", "udp"... (any case) -> proto; -1 for anything else. */
static int proto_of(const char *s, int allow_family)
{
	char low[8];
	size_t i;

	for (i = 0; s[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	if (s[i])
		return -1;
	low[i] = '\0';
	if (!strcmp(low, "tcp") || (allow_family && (!strcmp(low, "tcp4") || !strcmp(low, "tcp6"))))
		return BROKER_PROTO_TCP;
	if (!strcmp(low, "udp") || (allow_family && (!strcmp(low, "udp4") || !strcmp(low, "udp6"))))
		return BROKER_PROTO_UDP;
	return -1;
}

/* An IP address written as Go's net.ParseIP takes it (no brackets); normalized into out. */
static int parse_ip(const char *s, char *out, size_t len, int *v6)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1) {
		*v6 = 0;
		return inet_ntop(AF_INET, a, out, (socklen_t)len) ? 0 : -EINVAL;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*v6 = 1;
		return inet_ntop(AF_INET6, a, out, (socklen_t)len) ? 0 : -EINVAL;
	}
	return -EINVAL;
}

/* "10.4.0.5:80" or "[fd00::5]:80" -> normalized text and port. */
static int parse_hostport(const char *s, struct wp_addr *a)
{
	char host[INET6_ADDRSTRLEN + 2], ip[INET6_ADDRSTRLEN];
	const char *colon, *h = s;
	size_t hl;
	int v6;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;     /* an IPv6 address needs its brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (parse_ip(host, ip, sizeof(ip), &v6) < 0 || (s[0] == '[') != v6)
		return -EINVAL;
	if (parse_port(colon + 1, &a->port) < 0)
		return -EINVAL;
	snprintf(a->text, sizeof(a->text), v6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)a->port);
	return 0;
}

static int parse_connect_addrs(struct wp_ctx *c, struct wp_request *r, json_t *root, struct wp_addr *addrs,
                               size_t *naddrs)
{
	json_t *arr = field(root, "connectAddrs"), *e;
	size_t i;

	*naddrs = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		snprintf(c->err, c->errlen, "\"connectAddrs\" must be an array, not %s", type_name(arr));
		return -EBADMSG;
	}
	json_array_foreach(arr, i, e) {
		const char *network, *addr;
		char where[48];
		int proto;

		if (!json_is_object(e)) {
			snprintf(c->err, c->errlen, "connectAddrs[%zu] must be an object, not %s", i, type_name(e));
			return -EBADMSG;
		}
		snprintf(where, sizeof(where), "connectAddrs[%zu].", i);
		if (string_field(c, e, "network", where, &network) < 0 ||
		    string_field(c, e, "addr", where, &addr) < 0)
			return -EBADMSG;
		if (*naddrs >= WP_ADDRS_MAX)
			continue;
		proto = proto_of(network, 1);
		if (proto < 0) {
			skipped(c, r, "connectAddrs[%zu]: network \"%.16s\" is not tcp or udp", i, network);
			r->nskipped--;      /* an address, not a binding */
			continue;
		}
		addrs[*naddrs].proto = (enum broker_proto)proto;
		if (parse_hostport(addr, &addrs[*naddrs]) < 0) {
			skipped(c, r, "connectAddrs[%zu]: addr \"%.64s\" is not IP:PORT or [IPv6]:PORT", i, addr);
			r->nskipped--;
			continue;
		}
		(*naddrs)++;
	}
	return 0;
}

/*
 * Where a binding's connections go: the connectAddrs of its protocol whose
 * port is the port key's (the container port), else every connectAddr of its
 * protocol, else upstream:HostPort as wsl-proxy forwards (at most
 * PORTMAP_CONNECT_MAX).
 */
static void pick_connect(struct portmap_binding *b, const struct wp_addr *addrs, size_t naddrs,
                         const char *upstream)
{
	int same_port = 0;

	for (size_t i = 0; i < naddrs; i++)
		if (addrs[i].proto == b->proto && b->container_port && addrs[i].port == b->container_port)
			same_port = 1;
	b->nconnect = 0;
	for (size_t i = 0; i < naddrs && b->nconnect < PORTMAP_CONNECT_MAX; i++) {
		if (addrs[i].proto != b->proto || (same_port && addrs[i].port != b->container_port))
			continue;
		snprintf(b->connect[b->nconnect++], PORTMAP_ADDR_MAX, "%s", addrs[i].text);
	}
	if (b->nconnect == 0) {
		snprintf(b->connect[0], PORTMAP_ADDR_MAX, strchr(upstream, ':') ? "[%s]:%u" : "%s:%u", upstream,
		         (unsigned)b->host_port);
		b->nconnect = 1;
	}
}

/* "80/tcp" -> container port 80, proto "tcp"; "80" and "80/" are tcp (nat.Port.Proto). */
static void split_port_key(const char *key, uint16_t *cport, char *proto, size_t plen)
{
	const char *slash = strchr(key, '/');
	char num[8];
	size_t nl = slash ? (size_t)(slash - key) : strlen(key);

	snprintf(proto, plen, "%s", slash && slash[1] ? slash + 1 : "tcp");
	*cport = 0;
	if (nl && nl < sizeof(num)) {
		memcpy(num, key, nl);
		num[nl] = '\0';
		if (parse_port(num, cport) < 0)
			*cport = 0;     /* a range ("8000-8010") or junk: matters only for connectAddrs */
	}
}

static int parse_bindings(struct wp_ctx *c, struct wp_request *r, const char *key, json_t *arr,
                          const struct wp_addr *addrs, size_t naddrs, const char *upstream)
{
	char proto_s[32];
	uint16_t cport;
	json_t *e;
	size_t i;
	int proto;

	if (json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		snprintf(c->err, c->errlen, "ports[\"%.32s\"] must be an array of bindings, not %s", key,
		         type_name(arr));
		return -EBADMSG;
	}
	split_port_key(key, &cport, proto_s, sizeof(proto_s));
	proto = proto_of(proto_s, 0);
	json_array_foreach(arr, i, e) {
		struct portmap_binding *b;
		const char *hip, *hport;
		char where[80];
		int v6;

		if (!json_is_object(e)) {
			snprintf(c->err, c->errlen, "ports[\"%.32s\"][%zu] must be an object, not %s", key, i,
			         type_name(e));
			return -EBADMSG;
		}
		snprintf(where, sizeof(where), "ports[\"%.32s\"][%zu].", key, i);
		if (string_field(c, e, "HostIp", where, &hip) < 0 || string_field(c, e, "HostPort", where, &hport) < 0)
			return -EBADMSG;
		if (r->n + r->nskipped >= WP_BINDINGS_MAX) {
			snprintf(c->err, c->errlen, "more than %d bindings in one object", WP_BINDINGS_MAX);
			return -EBADMSG;
		}
		if (proto < 0) {
			skipped(c, r, "ports[\"%.32s\"]: protocol \"%.16s\" is not tcp or udp", key, proto_s);
			continue;
		}
		b = &r->b[r->n];
		memset(b, 0, sizeof(*b));
		b->proto = (enum broker_proto)proto;
		b->container_port = cport;
		if (parse_port(hport, &b->host_port) < 0) {
			skipped(c, r, "ports[\"%.32s\"][%zu]: HostPort \"%.16s\" is not a port number 1-65535", key, i,
			        hport);
			continue;
		}
		if (!*hip) {
			snprintf(b->host_ip, sizeof(b->host_ip), "0.0.0.0");   /* Go listens on every address */
		} else if (parse_ip(hip, b->host_ip, sizeof(b->host_ip), &v6) < 0) {
			skipped(c, r, "ports[\"%.32s\"][%zu]: HostIp \"%.64s\" is not an IP address", key, i, hip);
			continue;
		}
		pick_connect(b, addrs, naddrs, upstream);
		r->n++;
	}
	return 0;
}

int wp_parse(const char *doc, size_t len, const char *upstream, struct wp_request *r, wp_log_fn log,
             void *log_arg, char *err, size_t errlen)
{
	struct wp_ctx c = { .log = log, .log_arg = log_arg, .err = err, .errlen = errlen };
	struct wp_addr addrs[WP_ADDRS_MAX];
	size_t naddrs;
	json_error_t jerr;
	json_t *root, *v, *ports;
	const char *key;
	int rc = -EBADMSG;

	memset(r, 0, sizeof(*r));
	root = json_loadb(doc, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!root) {
		/* The end of what came so far (a literal cut short: "tr") may just be early. */
		if (json_error_code(&jerr) == json_error_premature_end_of_input || (size_t)jerr.position >= len)
			return -EAGAIN;
		snprintf(err, errlen, "not JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a PortMapping must be a JSON object, not %s", type_name(root));
		goto out;
	}
	v = field(root, "remove");
	if (v && !json_is_null(v) && !json_is_boolean(v)) {
		snprintf(err, errlen, "\"remove\" must be true or false, not %s", type_name(v));
		goto out;
	}
	r->remove = v && json_is_true(v);
	ports = field(root, "ports");
	if (ports && !json_is_null(ports) && !json_is_object(ports)) {
		snprintf(err, errlen, "\"ports\" must be an object such as {\"80/tcp\":[...]}, not %s",
		         type_name(ports));
		goto out;
	}
	if (parse_connect_addrs(&c, r, root, addrs, &naddrs) < 0)
		goto out;
	r->b = calloc(WP_BINDINGS_MAX, sizeof(*r->b));
	if (!r->b) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (ports && json_is_object(ports)) {
		json_object_foreach(ports, key, v) {
			if (parse_bindings(&c, r, key, v, addrs, naddrs, upstream) < 0)
				goto out;
		}
	}
	if (c.skip_logged > WP_SKIP_LOGS && log)
		log(log_arg, BROKER_LOG_WARN, "%zu more skipped", c.skip_logged - WP_SKIP_LOGS);
	json_decref(root);
	return 0;
out:
	json_decref(root);
	wp_request_free(r);
	return rc;
}

void wp_request_free(struct wp_request *r)
{
	free(r->b);
	r->b = NULL;
	r->n = 0;
}

void wp_owner(const struct portmap_binding *b, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%u", b->proto == BROKER_PROTO_UDP ? "udp" : "tcp", (unsigned)b->host_port);
}
