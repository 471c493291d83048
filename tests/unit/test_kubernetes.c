/*
 * tests/unit/test_kubernetes.c - the kubernetes watcher: its kubeconfig
 * reader (the YAML subset on libyaml) and kubeconfig extraction, the
 * Service -> mapping conversion (all compiled in), and the plugin itself
 * (dlopen, fake_host.h) against tests/tools/k8s_replay.py serving
 * tests/fixtures/kubernetes/; TAP.
 *
 * The replay part is skipped (with a reason) when python3 or openssl is
 * missing or the plugin was not built.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "tests/unit/fake_host.h"
#include "plugins/kubernetes/kubeconfig.h"
#include "plugins/kubernetes/service.h"
#include "tests/unit/tap.h"

/* ------------------------------------------------------------- YAML / kubeconfig */

static int yaml_err(const char *text, const char *want)
{
	struct kyaml_node *root = NULL;
	char err[256] = "";
	int r = kyaml_parse(text, strlen(text), &root, err, sizeof(err));

	kyaml_free(root);
	if (r == 0) {
		diag("accepted: %s", text);
		return 0;
	}
	if (!strstr(err, want)) {
		diag("error '%s' lacks '%s'", err, want);
		return 0;
	}
	return 1;
}

static int kc_err(const char *text, const char *want)
{
	struct kubeconfig kc;
	char err[300] = "";
	int r = kubeconfig_parse(text, strlen(text), "/nonexistent", &kc, err, sizeof(err));

	if (r == 0) {
		kubeconfig_clear(&kc);
		diag("accepted kubeconfig");
		return 0;
	}
	if (!strstr(err, want)) {
		diag("error '%s' lacks '%s'", err, want);
		return 0;
	}
	return 1;
}

/* base64 of "CA" "CERT" "KEY" */
#define K3S_STYLE \
	"apiVersion: v1\n" \
	"clusters:\n" \
	"- cluster:\n" \
	"    certificate-authority-data: Q0E=\n" \
	"    server: https://127.0.0.1:6443\n" \
	"  name: default\n" \
	"contexts:\n" \
	"- context:\n" \
	"    cluster: default\n" \
	"    user: default\n" \
	"  name: default\n" \
	"current-context: default\n" \
	"kind: Config\n" \
	"preferences: {}\n" \
	"users:\n" \
	"- name: default\n" \
	"  user:\n" \
	"    client-certificate-data: Q0VSVA==\n" \
	"    client-key-data: S0VZ\n"

static void test_yaml(void)
{
	struct kubeconfig kc;
	struct kyaml_node *root;
	char err[300];
	int r;
	char *big, *deep;
	size_t i, off;

	r = kubeconfig_parse(K3S_STYLE, strlen(K3S_STYLE), NULL, &kc, err, sizeof(err));
	ok(r == 0, "k3s-style kubeconfig parses (%s)", r ? err : "ok");
	if (r == 0) {
		ok(kc.https && !strcmp(kc.host, "127.0.0.1") && kc.port == 6443 && !strcmp(kc.path_prefix, ""),
		   "server https://127.0.0.1:6443");
		ok(kc.ca_len == 2 && !memcmp(kc.ca_pem, "CA", 2), "certificate-authority-data decoded");
		ok(kc.cert_len == 4 && !memcmp(kc.cert_pem, "CERT", 4) && kc.key_len == 3 && !kc.token,
		   "client certificate and key decoded");
		kubeconfig_clear(&kc);
	} else {
		ok(0, "server");
		ok(0, "ca");
		ok(0, "cert");
	}

	/* Indented sequences, quotes, comments, CRLF, ---, token, two contexts. */
	{
		const char *t =
			"--- # a kubeconfig\r\n"
			"apiVersion: \"v1\"\r\n"
			"kind: Config\r\n"
			"# comment line\r\n"
			"clusters:\r\n"
			"  - name: 'other'\r\n"
			"    cluster:\r\n"
			"      server: https://10.0.0.1\r\n"
			"  - name: \"lab\"\r\n"
			"    cluster: # trailing comment\r\n"
			"      server: \"https://[::1]:16443/k8s/\"\r\n"
			"      insecure-skip-tls-verify: true\r\n"
			"contexts:\r\n"
			"  - name: a\r\n"
			"    context: {cluster: other}\r\n";

		ok(yaml_err(t, "line 15: flow collections"), "non-empty flow mapping refused with its line");
	}
	{
		const char *t =
			"--- # a kubeconfig\r\n"
			"apiVersion: \"v1\"\r\n"
			"clusters:\r\n"
			"  - name: 'other'\r\n"
			"    cluster:\r\n"
			"      server: https://10.0.0.1\r\n"
			"  - name: \"lab\"\r\n"
			"    cluster: # trailing comment\r\n"
			"      server: \"https://[::1]:16443/k8s/\"\r\n"
			"      insecure-skip-tls-verify: true\r\n"
			"contexts:\r\n"
			"  - name: a\r\n"
			"    context:\r\n"
			"      cluster: other\r\n"
			"  - name: b\r\n"
			"    context:\r\n"
			"      cluster: lab\r\n"
			"      user: 'it''s me'\r\n"
			"current-context: b   # the lab\r\n"
			"users:\r\n"
			"- name: it's me\r\n"
			"  user:\r\n"
			"    token: \"abc\\u0041.def\"\r\n"
			"...\r\n";

		r = kubeconfig_parse(t, strlen(t), NULL, &kc, err, sizeof(err));
		ok(r == 0, "indented sequences, quotes, comments, CRLF, ---/... (%s)", r ? err : "ok");
		if (r == 0) {
			ok(!strcmp(kc.host, "::1") && kc.port == 16443 && !strcmp(kc.path_prefix, "/k8s") &&
			   kc.insecure_skip_verify && !strcmp(kc.context, "b"), "current-context b: [::1]:16443/k8s");
			ok(kc.token && !strcmp(kc.token, "abcA.def") && !kc.cert_pem, "token with a \\u escape");
			kubeconfig_clear(&kc);
		} else {
			ok(0, "server");
			ok(0, "token");
		}
	}
	/* No current-context but exactly one context; tokenFile relative to basedir. */
	{
		char dir[] = "/tmp/kube-test.XXXXXX", path[300];
		FILE *f;
		const char *t = "clusters:\n- name: c\n  cluster:\n    server: http://localhost:8080\n"
		                "contexts:\n- name: only\n  context:\n    cluster: c\n    user: u\n"
		                "users:\n- name: u\n  user:\n    tokenFile: tok\n";

		if (mkdtemp(dir)) {
			snprintf(path, sizeof(path), "%s/tok", dir);
			f = fopen(path, "w");
			fputs("secret-token\n", f);
			fclose(f);
			r = kubeconfig_parse(t, strlen(t), dir, &kc, err, sizeof(err));
			ok(r == 0 && !kc.https && kc.port == 8080 && kc.token && !strcmp(kc.token, "secret-token"),
			   "single context, http, tokenFile (%s)", r ? err : "ok");
			if (r == 0)
				kubeconfig_clear(&kc);
			unlink(path);
			rmdir(dir);
		} else {
			ok(0, "mkdtemp");
		}
	}

	/* Hostile YAML: every refusal names its line. */
	ok(yaml_err("a: 1\n\tb: 2\n", "line 2: tab in indentation"), "tab in indentation");
	ok(yaml_err("a: &x 1\n", "line 1: anchors"), "anchor");
	ok(yaml_err("a: 1\nb: *x\n", "line 2: aliases"), "alias");
	ok(yaml_err("a: !!str 1\n", "line 1: tags"), "tag");
	ok(yaml_err("a: |\n  text\n", "line 1: block scalars"), "block scalar");
	ok(yaml_err("a: [1, 2]\n", "line 1: flow collections"), "flow sequence");
	ok(yaml_err("a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a'"), "duplicate key");
	ok(yaml_err("a: one\n  two\n", "line 2: unexpected indentation"), "multi-line plain scalar");
	ok(yaml_err("a: \"open\n", "line 1: unterminated double-quoted"), "unterminated quote");
	ok(yaml_err("a: \"bad \\q escape\"\n", "line 1: unsupported escape"), "bad escape");
	ok(yaml_err("a: b: c\n", "line 1: ':' in a plain value"), "a: b: c");
	ok(yaml_err("a: - x\n", "line 1: a sequence cannot start"), "sequence after a key");
	ok(yaml_err("a:\n    b: 1\n  c: 2\n", "line 3: unexpected indentation"), "bad dedent");
	ok(yaml_err("a: 1\n---\nb: 2\n", "line 2: more than one document"), "two documents");
	ok(yaml_err("just a line\nanother\n", "line 2: unexpected content"), "two bare scalars");
	ok(yaml_err("a: 1\n- b\n", "line 2: expected 'key: value'"), "sequence item inside a mapping");
	ok(yaml_err("a: \"x\" y\n", "line 1: unexpected text after a quoted"), "text after a quoted string");
	ok(yaml_err("%YAML 1.2\na: 1\n", "line 1: directives"), "directive");
	ok(yaml_err("? a\n: b\n", "line 1: complex keys"), "complex key");
	ok(yaml_err("a: @x\n", "line 1: a plain value cannot start with '@'"), "reserved indicator");
	ok(yaml_err("a: \xff\n", "line 1: not valid UTF-8"), "not UTF-8");
	ok(yaml_err("a: 'x\n  y'\n", "line 1: unterminated single-quoted"), "multi-line quoted string");
	{
		struct kyaml_node *rt = NULL;
		const struct kyaml_node *b;
		const char *t = "a: 1\n  \t\nb: ~\nc: \"\"\nd: {}\n";

		r = kyaml_parse(t, strlen(t), &rt, err, sizeof(err));
		b = kyaml_get(rt, "b");
		ok(r == 0 && b && b->type == KYAML_NULL && kyaml_get(rt, "c")->type == KYAML_SCALAR &&
		   kyaml_get(rt, "c")->quoted && kyaml_get(rt, "d")->type == KYAML_MAP && kyaml_get(rt, "d")->n == 0,
		   "a blank line with a tab, ~ as null, \"\" as a string, {} (%s)", r ? err : "ok");
		kyaml_free(rt);
	}
	{
		const char t[] = "a: 1\nb: \0\n";
		struct kyaml_node *rt = NULL;

		r = kyaml_parse(t, sizeof(t) - 1, &rt, err, sizeof(err));
		ok(r < 0 && strstr(err, "NUL"), "NUL byte refused (%s)", err);
		kyaml_free(rt);
	}
	deep = malloc(64 * 80);
	off = 0;
	for (i = 0; i < 40; i++)
		off += (size_t)sprintf(deep + off, "%*sk%zu:\n", (int)(i * 2), "", i);
	ok(yaml_err(deep, "nested deeper than"), "40 levels of nesting refused");
	free(deep);
	big = malloc(KYAML_MAX_INPUT + 16);
	memset(big, 'a', KYAML_MAX_INPUT + 10);
	big[KYAML_MAX_INPUT + 10] = '\0';
	root = NULL;
	r = kyaml_parse(big, KYAML_MAX_INPUT + 10, &root, err, sizeof(err));
	ok(r < 0 && strstr(err, "larger than"), "input over 4 MiB refused");
	kyaml_free(root);
	/* Many nodes: 120000 list items. */
	big = realloc(big, 120000 * 4 + 8);
	for (i = 0, off = 0; i < 120000; i++)
		off += (size_t)sprintf(big + off, "- 1\n");
	root = NULL;
	r = kyaml_parse(big, off, &root, err, sizeof(err));
	ok(r < 0 && strstr(err, "more than"), "more than %d nodes refused (%s)", KYAML_MAX_NODES, err);
	kyaml_free(root);
	free(big);
	root = NULL;
	ok(kyaml_parse("# only a comment\n", 17, &root, err, sizeof(err)) == 0 && root == NULL,
	   "empty document: no root");

	/* Hostile kubeconfigs. */
	ok(kc_err("- a\n- b\n", "expected a mapping"), "top level is a list");
	ok(kc_err("current-context: x\ncontexts: []\n", "contexts has no entry named 'x'"), "unknown context");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n",
	          "no 'clusters' list"), "no clusters");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: ftp://h\n", "line 9: server 'ftp://h'"), "server scheme");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: https://h:70000\n", "bad port"), "server port 70000");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: https://u:p@h\n", "credentials in the URL"), "userinfo in URL");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: 'https://h:'\n", "bad port"), "server with an empty port");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: https://h/?a=1\n", "query or fragment"), "server with a query");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: https://h\n    certificate-authority-data: Q0=E\n", "not valid base64"),
	   "base64 padding in the middle");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server:\n      nested: 1\n", "line 10: cluster.server: expected a string"),
	   "server is a mapping");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: https://h\n    certificate-authority-data: '!!notbase64'\n",
	          "line 10: cluster.certificate-authority-data: not valid base64"), "bad base64");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nclusters:\n"
	          "- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n"
	          "    client-certificate-data: Q0VSVA==\n", "client certificate but no client key"),
	   "certificate without key");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nclusters:\n"
	          "- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n    exec:\n"
	          "      command: aws\n      args:\n      - eks\n", "exec and auth-provider"), "exec credentials");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nclusters:\n"
	          "- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n"
	          "    client-certificate: missing.pem\n    client-key: missing.key\n",
	          "client-certificate /nonexistent/missing.pem: No such file"), "missing certificate file");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nclusters:\n"
	          "- name: c\n  cluster:\n    server: https://h\nusers:\n- name: u\n  user:\n"
	          "    token: \"a b\"\n", "token contains a blank"), "token with a blank (header injection)");
	ok(kc_err("current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\nclusters:\n- name: c\n"
	          "  cluster:\n    server: https://h\n    proxy-url: http://p\n", "proxy-url is not supported"),
	   "proxy-url");
}

/* ------------------------------------------------------------- conversion */

static char notes[1 << 14];

static void note(void *arg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(void *arg, int level, const char *fmt, ...)
{
	size_t n = strlen(notes);
	va_list ap;

	(void)arg;
	(void)level;
	va_start(ap, fmt);
	if (n + 300 < sizeof(notes)) {
		vsnprintf(notes + n, sizeof(notes) - n - 1, fmt, ap);
		strcat(notes, "\n");
	}
	va_end(ap);
}

/* "tcp:30080>127.0.0.1:30080,...;" for svc */
static const char *svc_str(const struct k8s_service *s)
{
	static char buf[8192];
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < s->n && off + 80 < sizeof(buf); i++) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s:%u>%s%s%s;",
		                        s->m[i].proto == BROKER_PROTO_UDP ? "udp" : "tcp", s->m[i].host_port,
		                        s->m[i].connect[0], s->m[i].nconnect > 1 ? "," : "",
		                        s->m[i].nconnect > 1 ? s->m[i].connect[1] : "");
	}
	return buf;
}

static int conv(const char *json, struct k8s_service *s, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	int r;

	if (!o) {
		diag("bad test JSON: %s", je.text);
		return -999;
	}
	r = k8s_service_convert(o, s, note, NULL, err, errlen);
	json_decref(o);
	return r;
}

static void test_convert(const char *fixtures)
{
	static struct k8s_service s;
	char path[600], err[300];
	json_error_t je;
	json_t *list, *items;
	size_t i;
	const char *want[] = {
		/* kubernetes */ "", /* web */ "tcp:30080>127.0.0.1:30080;", /* dns */ "udp:30053>127.0.0.1:30053;",
		/* traefik */ "tcp:8088>127.0.0.1:31088,127.0.0.1:8088;tcp:31088>127.0.0.1:31088;"
		"tcp:8443>127.0.0.1:31443,127.0.0.1:8443;tcp:31443>127.0.0.1:31443;",
		/* sctp-svc */ "tcp:30133>127.0.0.1:30133;", /* no-uid */ "ERR", /* bad-ports */ "",
		/* lb-no-nodeport */ "tcp:9090>127.0.0.1:9090;", /* external */ "",
	};
	int r;

	snprintf(path, sizeof(path), "%s/servicelist1.json", fixtures);
	list = json_load_file(path, 0, &je);
	items = json_object_get(list, "items");
	ok(json_array_size(items) == sizeof(want) / sizeof(want[0]), "fixture servicelist1.json loads (%s)",
	   list ? "ok" : je.text);
	for (i = 0; i < json_array_size(items) && i < sizeof(want) / sizeof(want[0]); i++) {
		notes[0] = '\0';
		r = k8s_service_convert(json_array_get(items, i), &s, note, NULL, err, sizeof(err));
		if (!strcmp(want[i], "ERR"))
			ok(r < 0 && strstr(err, "uid"), "item %zu refused: %s", i, err);
		else
			ok(r == 0 && !strcmp(svc_str(&s), want[i]), "item %zu (%s): '%s'", i, s.desc, svc_str(&s));
		if (i == 4)
			ok(strstr(notes, "SCTP, not forwarded") != NULL, "SCTP port skipped with a note");
		if (i == 6)
			ok(strstr(notes, "port 'a': nodePort is not a port number") &&
			   strstr(notes, "port 'b' has no nodePort") && strstr(notes, "port 'c': nodePort is not") &&
			   strstr(notes, "port 'd' has an unknown protocol") && strstr(notes, "ports[4] is not an object") &&
			   strstr(notes, "port 'e': nodePort is not") && strstr(notes, "port 'f' has an unknown protocol"),
			   "bad ports each skipped with a note");
	}
	json_decref(list);

	ok(conv("[1,2]", &s, err, sizeof(err)) < 0 && strstr(err, "not a JSON object"), "array refused");
	ok(conv("{\"metadata\":[]}", &s, err, sizeof(err)) < 0 && strstr(err, "no metadata"), "metadata array");
	ok(conv("{\"metadata\":{\"uid\":5,\"name\":\"a\"}}", &s, err, sizeof(err)) < 0, "uid a number");
	ok(conv("{\"metadata\":{\"uid\":\"a/b\",\"name\":\"a\"}}", &s, err, sizeof(err)) < 0, "uid with a slash");
	ok(conv("{\"metadata\":{\"uid\":\"\",\"name\":\"a\"}}", &s, err, sizeof(err)) < 0, "empty uid");
	{
		char j[400], u[200];

		memset(u, 'a', 150);
		u[150] = '\0';
		snprintf(j, sizeof(j), "{\"metadata\":{\"uid\":\"%s\",\"name\":\"a\"}}", u);
		ok(conv(j, &s, err, sizeof(err)) < 0, "uid of 150 characters");
	}
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\\nb\"}}", &s, err, sizeof(err)) < 0 &&
	   strstr(err, "metadata.name"), "name with a newline");
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\",\"namespace\":7}}", &s, err, sizeof(err)) < 0,
	   "namespace a number");
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\"},\"spec\":{\"type\":1}}", &s, err, sizeof(err)) < 0 &&
	   !strcmp(s.uid, "u1"), "spec.type a number: refused, uid known");
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\"},\"spec\":{\"type\":\"NodePort\",\"ports\":{}}}", &s,
	        err, sizeof(err)) < 0 && strstr(err, "spec.ports"), "spec.ports an object");
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\"},\"spec\":{\"type\":\"NodePort\"}}", &s, err,
	        sizeof(err)) == 0 && s.n == 0 && !strcmp(s.desc, "default/a"), "NodePort without ports: nothing");
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\"},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":"
	        "[{\"port\":0,\"nodePort\":30001},{\"port\":70000,\"nodePort\":30002},{\"port\":-1},"
	        "{\"port\":443,\"nodePort\":65536},{\"port\":444,\"nodePort\":null}]}}", &s, err, sizeof(err)) == 0 &&
	   s.n == 0, "LoadBalancer ports 0, 70000, -1, nodePort 65536 / null: nothing (%s)", svc_str(&s));
	ok(conv("{\"metadata\":{\"uid\":\"u1\",\"name\":\"a\"},\"spec\":{\"type\":\"NodePort\",\"ports\":"
	        "[{\"port\":80,\"nodePort\":30001},{\"port\":81,\"nodePort\":30001},{\"port\":82,\"nodePort\":30001,"
	        "\"protocol\":\"UDP\"}]}}", &s, err, sizeof(err)) == 0 &&
	   !strcmp(svc_str(&s), "tcp:30001>127.0.0.1:30001;udp:30001>127.0.0.1:30001;"),
	   "a nodePort listed twice: one mapping per protocol");
	{
		/* 100 LoadBalancer ports = 200 mappings: capped at K8S_MAX_MAPPINGS. */
		char *j = malloc(100 * 64 + 200);
		size_t off = (size_t)sprintf(j, "{\"metadata\":{\"uid\":\"u2\",\"name\":\"many\"},\"spec\":"
		                             "{\"type\":\"LoadBalancer\",\"ports\":[");

		for (i = 0; i < 100; i++)
			off += (size_t)sprintf(j + off, "%s{\"port\":%zu,\"nodePort\":%zu}", i ? "," : "", 2000 + i,
			                       31000 + i);
		strcpy(j + off, "]}}");
		notes[0] = '\0';
		ok(conv(j, &s, err, sizeof(err)) == 0 && s.n == K8S_MAX_MAPPINGS &&
		   strstr(notes, "more than 128 port mappings"), "200 mappings capped at %d with an error",
		   K8S_MAX_MAPPINGS);
		free(j);
	}
}

/* ------------------------------------------------------------- plugin */

/* Some owner's mappings contain spec ("tcp:127.0.0.1:30080>127.0.0.1:30080;", fake_host.h's spec form). */
static int has_port(const char *spec)
{
	int i;

	for (i = 0; i < fh.nowners; i++)
		if (strstr(fh.owners[i].spec, spec))
			return 1;
	return 0;
}

struct state_goal {
	const char *const *want, *const *gone;
};

static int state_reached(void *arg)
{
	const struct state_goal *g = arg;
	int i;

	for (i = 0; g->want && g->want[i]; i++)
		if (!has_port(g->want[i]))
			return 0;
	for (i = 0; g->gone && g->gone[i]; i++)
		if (has_port(g->gone[i]))
			return 0;
	return 1;
}

/* Run the loop until every spec in want[] is mapped and none in gone[] is, or ms pass. */
static int run_until_state(struct event_base *base, const char *const *want, const char *const *gone, int ms)
{
	struct state_goal g = { want, gone };

	if (fh_run_until(base, state_reached, &g, ms))
		return 1;
	for (int i = 0; i < fh.nowners; i++)
		diag("owner %s (%s): %s", fh.owners[i].owner, fh.owners[i].desc, fh.owners[i].spec);
	return 0;
}

/* 0; -2 when init refuses; -1 otherwise. */
static int load(const char *path, struct event_base *base, struct fh_plugin *L, const char *o1, const char *o2)
{
	const char *opts[] = { o1, o2, NULL };
	char err[300] = "";

	if (fh_open(L, path, base) < 0)
		return -1;
	if (fh_init(L, opts, err, sizeof(err)) < 0) {
		diag("init: %s", err);
		return -2;
	}
	if (fh_start(L, err, sizeof(err)) < 0) {
		diag("start: %s", err);
		return -1;
	}
	return 0;
}

static pid_t replay_start(const char *script, const char *dir, const char *scenario, const char *auth)
{
	char ready[400];
	pid_t pid;
	int i;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	unlink(ready);
	pid = fork();
	if (pid == 0) {
		execlp("python3", "python3", script, "serve", "--dir", dir, "--scenario", scenario, "--auth", auth,
		       "--ready", ready, "--lifetime", "120", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 300; i++) {
		if (access(ready, F_OK) == 0)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(100000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void replay_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

static void gate(const char *dir, const char *name)
{
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/gate.%s", dir, name);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
}

static int file_has(const char *path, const char *needle)
{
	char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, needle) != NULL;
}

struct file_goal {
	const char *path, *needle;
};

static int file_reached(void *arg)
{
	const struct file_goal *g = arg;

	return file_has(g->path, g->needle);
}

static int run_until_file(struct event_base *base, const char *path, const char *needle, int ms)
{
	struct file_goal g = { path, needle };

	return fh_run_until(base, file_reached, &g, ms);
}

#define N_REPLAY 25

static void test_replay(const char *so, const char *script, const char *fixtures)
{
	char dir[] = "/tmp/kube-replay.XXXXXX", scen[600], opt[500], reqlog[500], cmd[700];
	struct event_base *base;
	struct fh_plugin L;
	pid_t pid;
	int r;

	if (access(so, R_OK) != 0 || system("command -v python3 >/dev/null && command -v openssl >/dev/null") != 0 ||
	    !mkdtemp(dir)) {
		skip(N_REPLAY, "plugin not built or python3/openssl missing");
		return;
	}
	base = fh_base_new();
	snprintf(scen, sizeof(scen), "%s/scenario.json", fixtures);
	snprintf(reqlog, sizeof(reqlog), "%s/requests.log", dir);
	pid = replay_start(script, dir, scen, "cert");
	if (pid < 0) {
		skip(N_REPLAY, "the replay server did not start");
		goto out;
	}
	snprintf(opt, sizeof(opt), "kubeconfig=%s/kubeconfig", dir);
	r = load(so, base, &L, opt, "listen_addr=127.0.0.1");
	ok(r == 0, "plugin loads and starts");
	{
		const char *want[] = { "tcp:127.0.0.1:30080>127.0.0.1:30080;", "udp:127.0.0.1:30053>",
			"tcp:127.0.0.1:8088>127.0.0.1:31088,127.0.0.1:8088;", "tcp:127.0.0.1:31443>",
			"tcp:127.0.0.1:30133>", "tcp:127.0.0.1:9090>127.0.0.1:9090;", "tcp:127.0.0.1:30081>", NULL };
		const char *gone[] = { ":30140>", ":30142>", ":30143>", ":70000", NULL };

		ok(run_until_state(base, want, gone, 15000), "list + first event: NodePort, UDP, LoadBalancer, "
		   "no-nodePort LoadBalancer mapped; hostile items not");
	}
	ok(fh.commits == 1, "the list was one resync (%d)", fh.commits);
	{
		struct fh_owner *api = fh_owner("kubernetes:api-server");

		ok(api && !strncmp(api->spec, "tcp:127.0.0.1:", 14), "API server port mapped on 127.0.0.1 (%s)",
		   api ? api->spec : "none");
	}
	ok(fh_owner("5f0c7f6e-8a6e-4a52-9d6b-3c1f0d2e7a01") &&
	   !strcmp(fh_owner("5f0c7f6e-8a6e-4a52-9d6b-3c1f0d2e7a01")->desc, "default/web"),
	   "owner is metadata.uid, description namespace/name");
	gate(dir, "g1");
	{
		const char *want[] = { "tcp:127.0.0.1:30082>127.0.0.1:30082;", NULL };
		const char *gone[] = { ":30080>", ":30053>", ":30133>", ":30199>", NULL };

		ok(run_until_state(base, want, gone, 10000), "MODIFIED moves web to 30082; DELETED and a type "
		   "change remove; DELETED of an unknown uid changes nothing");
	}
	ok(fh_wait_log(base, "zero", 5000) && !has_port(":0>"), "a service with port 0 gives no mapping");
	gate(dir, "g2");
	{
		const char *want[] = { "tcp:127.0.0.1:30083>", "tcp:127.0.0.1:30090>", NULL };
		const char *gone[] = { ":3009>", NULL };

		ok(run_until_state(base, want, gone, 10000), "event split over chunks applied; watch dropped "
		   "mid-event resumes from the last resourceVersion (1008)");
	}
	ok(file_has(reqlog, "resourceVersion=1008&allowWatchBookmarks=true"), "resume asked for 1008");
	gate(dir, "g3");
	{
		const char *want[] = { "tcp:127.0.0.1:30091>", "tcp:127.0.0.1:30082>", "tcp:127.0.0.1:30081>",
			"tcp:127.0.0.1:9090>", NULL };
		const char *gone[] = { ":8088>", ":31088>", ":8443>", ":31443>", ":30090>", ":30083>", NULL };

		ok(run_until_state(base, want, gone, 10000), "410 ERROR event: relist resyncs (gone services "
		   "removed, new ones added)");
	}
	ok(fh.commits == 2, "relist was a second resync (%d)", fh.commits);
	ok(strstr(fh.log, "is gone (410)") != NULL, "410 logged");
	gate(dir, "g4");
	{
		const char *want[] = { "tcp:127.0.0.1:30095>", "tcp:127.0.0.1:30082>", NULL };
		const char *gone[] = { ":30091>", ":30081>", ":9090>", NULL };

		ok(run_until_state(base, want, gone, 20000), "truncated event, HTTP 410 and a huge event: each "
		   "relists; the final state is the last list");
	}
	ok(strstr(fh.log, "watch event: bad JSON") != NULL, "truncated event logged");
	ok(strstr(fh.log, "is gone (HTTP 410)") != NULL, "HTTP 410 logged");
	ok(fh_wait_log(base, "larger than 4194304 bytes", 5000), "huge event logged");
	ok(run_until_file(base, reqlog, "STEP 10", 10000) && fh.commits == 5, "relisted after it (%d resyncs)",
	   fh.commits);
	fh_run_for(base, 300);
	ok(!file_has(reqlog, "MISMATCH"), "every request matched the scenario");
	{
		int before = fh.commits;

		L.p->resync(L.state);
		ok(fh.commits == before + 1 && has_port(":30095>") && fh_owner("kubernetes:api-server"),
		   "resync() reports the same snapshot");
	}
	fh_close(&L);
	replay_stop(pid);

	/* Wrong CA: the server is not trusted, nothing is mapped beyond the API port. */
	snprintf(opt, sizeof(opt), "kubeconfig=%s/kubeconfig-badca", dir);
	pid = replay_start(script, dir, scen, "cert");
	r = load(so, base, &L, opt, NULL);
	ok(r == 0 && fh_wait_log(base, "server certificate not trusted", 10000),
	   "a kubeconfig with another CA: 'server certificate not trusted' logged");
	fh_close(&L);
	replay_stop(pid);

	/* Bearer token instead of a client certificate (the server then requires the token). */
	unlink(reqlog);
	snprintf(opt, sizeof(opt), "kubeconfig=%s/kubeconfig", dir);
	pid = replay_start(script, dir, scen, "token");
	r = load(so, base, &L, opt, NULL);
	{
		const char *want[] = { "tcp:0.0.0.0:30080>127.0.0.1:30080;", NULL };

		ok(r == 0 && run_until_state(base, want, NULL, 10000), "bearer token: list served, service mapped "
		   "on listen_addr 0.0.0.0 (the default)");
	}
	ok(run_until_file(base, reqlog, "STEP 1", 5000) && !file_has(reqlog, "UNAUTHORIZED"), "the token was accepted");
	fh_close(&L);
	replay_stop(pid);

	/* Missing kubeconfig: logged, retried, no crash; bad listen_addr refused at init. */
	r = load(so, base, &L, "kubeconfig=/nonexistent/k3s.yaml", NULL);
	ok(r == 0 && fh_wait_log(base, "kubeconfig /nonexistent/k3s.yaml: No such file", 3000),
	   "missing kubeconfig logged and retried");
	fh_close(&L);
	r = load(so, base, &L, "listen_addr=10.0.0.1", NULL);
	ok(r == -2, "listen_addr 10.0.0.1 refused at init");
	fh_close(&L);
out:
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (!getenv("KEEP_T"))
		(void)!system(cmd);
	fh_base_free(base);
}

int main(int argc, char **argv)
{
	const char *src = getenv("top_srcdir"), *bld = getenv("top_builddir");
	char fixtures[400], so[400], script[400];

	(void)argc;
	(void)argv;
	if (!src)
		src = TOP_SRCDIR;
	if (!bld)
		bld = TOP_BUILDDIR;
	snprintf(fixtures, sizeof(fixtures), "%s/tests/fixtures/kubernetes", src);
	snprintf(so, sizeof(so), "%s/plugins/kubernetes/.libs/kubernetes.so", bld);
	snprintf(script, sizeof(script), "%s/tests/tools/k8s_replay.py", src);
	signal(SIGPIPE, SIG_IGN);
	plan(103);
	test_yaml();
	test_convert(fixtures);
	test_replay(so, script, fixtures);
	return done_testing();
}
