/*
 * tests/unit/test_wp_parse.c - the wslproxy watcher's parsing of Rancher
 * Desktop PortMapping objects (plugins/wslproxy/wp_parse.c, compiled in).
 * Fixtures: $top_srcdir/tests/unit/wslproxy, written from Rancher Desktop's
 * source: the PortMapping type (src/go/guestagent/pkg/types/portmapping.go),
 * what the agent sends (pkg/tracker/apitracker.go: "connectAddrs" null;
 * main.go: the Kubernetes API port on 127.0.0.1), and what wsl-proxy does
 * with it (src/go/networking/pkg/portproxy/server.go).  TAP.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/wslproxy/wslproxy.h"
#include "tests/unit/tap.h"

static char fixdir[512];
static char logbuf[8192];
static size_t loglen;

static void test_log(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	(void)level;
	va_start(ap, fmt);
	if (loglen < sizeof(logbuf) - 2)
		loglen += (size_t)vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
	va_end(ap);
	if (loglen > sizeof(logbuf) - 2)
		loglen = sizeof(logbuf) - 2;
	logbuf[loglen++] = '\n';
	logbuf[loglen] = '\0';
}

static char *read_fixture(const char *name, size_t *len)
{
	char path[700];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", fixdir, name);
	f = fopen(path, "rb");
	if (!f) {
		diag("cannot open %s", path);
		*len = 0;
		return calloc(1, 1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct wp_request req;
static char err[256];

/* Parse a fixture (or text when name is NULL) with upstream "192.168.143.1". */
static int parse_doc(const char *name, const char *text)
{
	size_t len;
	char *doc = name ? read_fixture(name, &len) : strdup(text);
	int rc;

	if (!name)
		len = strlen(doc);
	loglen = 0;
	logbuf[0] = '\0';
	err[0] = '\0';
	wp_request_free(&req);
	rc = wp_parse(doc, len, WP_UPSTREAM_DEFAULT, &req, test_log, NULL, err, sizeof(err));
	free(doc);
	return rc;
}

/* Binding i as "PROTO HOSTIP:HOSTPORT -> C1,C2". */
static const char *show(size_t i)
{
	static char buf[512];
	const struct portmap_binding *b = &req.b[i];
	size_t off;

	if (i >= req.n)
		return "(none)";
	off = (size_t)snprintf(buf, sizeof(buf), "%s %s:%u ->", b->proto == BROKER_PROTO_UDP ? "udp" : "tcp",
	                       b->host_ip, (unsigned)b->host_port);
	for (size_t k = 0; k < b->nconnect && off < sizeof(buf); k++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", k ? "," : " ", b->connect[k]);
	return buf;
}

/* Is there a binding shown as want (order of "ports" keys is not fixed)? */
static int has(const char *want)
{
	for (size_t i = 0; i < req.n; i++)
		if (!strcmp(show(i), want))
			return 1;
	return 0;
}

int main(void)
{
	const char *src = getenv("top_srcdir");
	char owner[32];
	int rc;

	plan(59);
	snprintf(fixdir, sizeof(fixdir), "%s/tests/unit/wslproxy", src ? src : ".");

	/* --- the example: one tcp binding, connectAddrs given */
	rc = parse_doc("add_tcp.json", NULL);
	is_int(rc, 0, "add_tcp: parses");
	is_int(req.remove, 0, "add_tcp: an add");
	is_int((int)req.n, 1, "add_tcp: one binding");
	is_str(show(0), "tcp 0.0.0.0:8080 -> 10.4.0.5:80", "add_tcp: 0.0.0.0:8080 connects to connectAddrs 10.4.0.5:80");
	is_int((int)req.b[0].container_port, 80, "add_tcp: container port from the key 80/tcp");
	wp_owner(&req.b[0], owner, sizeof(owner));
	is_str(owner, "tcp/8080", "add_tcp: owner tcp/8080");

	/* --- what the agent sends today: connectAddrs null, 0.0.0.0 and :: of one port */
	rc = parse_doc("agent_add.json", NULL);
	is_int(rc, 0, "agent_add: parses (connectAddrs null)");
	is_int((int)req.n, 2, "agent_add: two bindings");
	ok(has("tcp 0.0.0.0:8080 -> 192.168.143.1:8080"), "agent_add: 0.0.0.0:8080 -> upstream:HostPort (wsl-proxy's forward)");
	ok(has("tcp :::8080 -> 192.168.143.1:8080"), "agent_add: [::]:8080 -> upstream:HostPort");
	is_str(logbuf, "", "agent_add: nothing logged");

	/* --- udp: the udp connectAddr is picked, not the tcp one */
	rc = parse_doc("add_udp.json", NULL);
	is_int(rc, 0, "add_udp: parses");
	is_int((int)req.n, 1, "add_udp: one binding");
	is_str(show(0), "udp 127.0.0.1:5353 -> 10.4.0.5:53", "add_udp: udp binding -> the udp connectAddr");
	wp_owner(&req.b[0], owner, sizeof(owner));
	is_str(owner, "udp/5353", "add_udp: owner udp/5353");

	/* --- several keys and bindings: each connects to the connectAddr of its port */
	rc = parse_doc("multi.json", NULL);
	is_int(rc, 0, "multi: parses");
	is_int((int)req.n, 4, "multi: four bindings");
	ok(has("tcp 0.0.0.0:8080 -> 10.4.0.5:80"), "multi: 80/tcp 0.0.0.0:8080 -> 10.4.0.5:80 (%s)", show(0));
	ok(has("tcp :::8080 -> 10.4.0.5:80"), "multi: 80/tcp [::]:8080 -> 10.4.0.5:80");
	ok(has("tcp 127.0.0.1:8443 -> 10.4.0.5:443"), "multi: 443/tcp 127.0.0.1:8443 -> 10.4.0.5:443");
	ok(has("udp 0.0.0.0:5353 -> 10.4.0.5:53"), "multi: 53/udp 0.0.0.0:5353 -> 10.4.0.5:53");

	/* --- remove */
	rc = parse_doc("remove.json", NULL);
	is_int(rc, 0, "remove: parses");
	is_int(req.remove, 1, "remove: \"remove\":true is a removal");
	is_int((int)req.n, 2, "remove: both bindings named");
	ok(req.n == 2 && req.b[0].host_port == 8080 && req.b[1].host_port == 8080, "remove: of port 8080");

	/* --- empty HostIp: every address; a key without "/proto" is tcp */
	rc = parse_doc("empty_hostip.json", NULL);
	is_int(rc, 0, "empty_hostip: parses");
	is_str(show(0), "tcp 0.0.0.0:6443 -> 192.168.143.1:6443", "empty_hostip: \"\" is 0.0.0.0, key \"6443\" is tcp");

	/* --- bad JSON: one clear error, nothing */
	rc = parse_doc("bad_json.json", NULL);
	is_int(rc, -EBADMSG, "bad_json: refused");
	like(err, "not JSON: ", "bad_json: error says not JSON (%s)", err);
	like(err, "column 75", "bad_json: error names the column");
	is_int((int)req.n, 0, "bad_json: no bindings");
	rc = parse_doc("truncated.json", NULL);
	is_int(rc, -EAGAIN, "truncated: incomplete (read more / closed early)");
	rc = parse_doc(NULL, "{\"ports\":{},\"remove\":tr");
	is_int(rc, -EAGAIN, "a literal cut short at the end: incomplete, not an error (%s)", err);
	rc = parse_doc(NULL, "[1,2]");
	is_int(rc, -EBADMSG, "array at top level: refused");
	is_str(err, "a PortMapping must be a JSON object, not an array", "array at top level: message");

	/* --- wrong types fail the whole object, as Go's decoder does */
	rc = parse_doc("wrong_types.json", NULL);
	is_int(rc, -EBADMSG, "wrong_types: HostPort as a number refused");
	is_str(err, "ports[\"80/tcp\"][0].\"HostPort\" must be a string, not an integer", "wrong_types: message names the field");
	is_int((int)req.n, 0, "wrong_types: no bindings");
	rc = parse_doc(NULL, "{\"remove\":\"yes\",\"ports\":{}}");
	is_str(err, "\"remove\" must be true or false, not a string", "remove as a string: refused (%d)", rc);
	rc = parse_doc(NULL, "{\"ports\":[]}");
	like(err, "\"ports\" must be an object", "ports as an array: refused (%d)", rc);
	rc = parse_doc(NULL, "{\"ports\":{\"80/tcp\":{\"HostPort\":\"80\"}}}");
	like(err, "ports[\"80/tcp\"] must be an array of bindings, not an object", "a binding list as an object: refused (%d)", rc);
	rc = parse_doc(NULL, "{\"ports\":{},\"connectAddrs\":{\"network\":\"tcp\"}}");
	is_str(err, "\"connectAddrs\" must be an array, not an object", "connectAddrs as an object: refused (%d)", rc);
	rc = parse_doc(NULL, "{\"ports\":{\"80/tcp\":[{\"HostPort\":\"80\"}]},\"connectAddrs\":[{\"network\":\"tcp\",\"addr\":5}]}");
	is_int(rc, -EBADMSG, "connectAddrs addr as a number: refused");
	is_int((int)req.n, 0, "connectAddrs addr as a number: no bindings");

	/* --- bindings that do not parse are skipped, the others apply (wsl-proxy's "continue") */
	rc = parse_doc("skipped.json", NULL);
	is_int(rc, 0, "skipped: parses");
	is_int((int)req.n, 1, "skipped: only 8082 left");
	is_str(show(0), "tcp 0.0.0.0:8082 -> 192.168.143.1:8082", "skipped: bad connectAddrs ignored, upstream used");
	is_int((int)req.nskipped, 7, "skipped: seven bindings skipped (abc, 0, 70000, range, localhost, empty, sctp)");
	like(logbuf, "HostPort \"abc\" is not a port number 1-65535; skipped", "skipped: abc logged");
	like(logbuf, "HostIp \"localhost\" is not an IP address; skipped", "skipped: localhost logged");
	like(logbuf, "network \"unix\" is not tcp or udp", "skipped: unix connectAddr logged");
	like(logbuf, "addr \"fd00::5:80\" is not IP:PORT or [IPv6]:PORT", "skipped: unbracketed IPv6 logged");
	like(logbuf, "1 more skipped", "skipped: logs capped, the rest counted");

	/* --- Go's field matching is case-insensitive; what follows the object is ignored */
	rc = parse_doc(NULL, "{\"Remove\":true,\"Ports\":{\"80/TCP\":[{\"hostip\":\"::1\",\"hostport\":\"81\"}]}}\n{junk");
	is_int(rc, 0, "case-insensitive names, trailing junk: parses");
	is_int(req.remove, 1, "case-insensitive: Remove read");
	is_str(show(0), "tcp ::1:81 -> 192.168.143.1:81", "case-insensitive: hostip/hostport, 80/TCP");
	rc = parse_doc(NULL, "{\"ports\":{\"80/tcp\":[{\"HostPort\":\"81\"}]},\"connectAddrs\":[{\"network\":\"tcp6\",\"addr\":\"[FD00::5]:80\"}]}");
	is_str(show(0), "tcp 0.0.0.0:81 -> [fd00::5]:80", "IPv6 connectAddr normalized (%d)", rc);

	/* --- bounded: more bindings than WP_BINDINGS_MAX refuse the object */
	{
		size_t cap = 64 + (WP_BINDINGS_MAX + 1) * 40, off;
		char *big = malloc(cap);
		off = (size_t)snprintf(big, cap, "{\"ports\":{\"80/tcp\":[");
		for (int i = 0; i <= WP_BINDINGS_MAX; i++)
			off += (size_t)snprintf(big + off, cap - off, "%s{\"HostPort\":\"%d\"}", i ? "," : "", 1000 + i);
		snprintf(big + off, cap - off, "]}}");
		rc = parse_doc(NULL, big);
		free(big);
		is_int(rc, -EBADMSG, "%d bindings: refused", WP_BINDINGS_MAX + 1);
		like(err, "more than 1024 bindings in one object", "too many bindings: message (%s)", err);
	}
	wp_request_free(&req);
	return done_testing();
}
