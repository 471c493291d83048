/* test_url.c - endpoint URL parsing and host:port splitting. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/url.h"
#include "tests/unit/tap.h"

static void test_forms(void)
{
	struct url u;
	char err[256];

	is_int(url_parse("unix:///run/x.sock", &u, err, sizeof(err)), 0, "unix URL parses");
	is_str(u.pub.scheme, "unix", "unix scheme");
	is_str(u.pub.address, "/run/x.sock", "unix address keeps its leading slash");
	is_int(u.pub.nparams, 0, "no params");
	ok(!u.is_peer, "not a peer URL");
	url_free(&u);

	is_int(url_parse("tcp://127.0.0.1:8080", &u, err, sizeof(err)), 0, "tcp URL parses");
	is_str(u.pub.address, "127.0.0.1:8080", "tcp address");
	url_free(&u);

	is_int(url_parse("tcp://[::1]:80", &u, err, sizeof(err)), 0, "tcp v6 URL parses");
	is_str(u.pub.address, "[::1]:80", "v6 address keeps brackets");
	url_free(&u);

	is_int(url_parse("exec:docker system dial-stdio", &u, err, sizeof(err)), 0, "exec URL parses");
	is_str(u.pub.scheme, "exec", "exec scheme");
	is_str(u.pub.address, "docker system dial-stdio", "exec address without //");
	url_free(&u);

	is_int(url_parse("npipe:////./pipe/docker_engine", &u, err, sizeof(err)), 0, "npipe parses");
	is_str(u.pub.address, "//./pipe/docker_engine", "npipe address");
	url_free(&u);

	is_int(url_parse("peer:unix:///var/run/docker.sock", &u, err, sizeof(err)), 0, "peer URL parses");
	ok(u.is_peer, "peer: noted");
	is_str(u.pub.scheme, "unix", "peer: stripped from scheme");
	is_str(u.pub.text, "unix:///var/run/docker.sock", "plugins see the URL without peer:");
	url_free(&u);

	is_int(url_parse("TCP://localhost:1", &u, err, sizeof(err)), 0, "upper-case scheme parses");
	is_str(u.pub.scheme, "tcp", "scheme lower-cased");
	url_free(&u);

	is_int(url_parse("vsock+x.y-z://2:5000", &u, err, sizeof(err)), 0, "scheme with + . -");
	is_str(u.pub.scheme, "vsock+x.y-z", "scheme chars kept");
	url_free(&u);
}

static void test_query(void)
{
	struct url u;
	char err[256];

	is_int(url_parse("unix:///run/a%20b.sock?mode=0660&group=docker&flag", &u, err, sizeof(err)), 0,
	       "URL with query parses");
	is_str(u.pub.address, "/run/a b.sock", "address percent-decoded");
	is_int(u.pub.nparams, 3, "three params");
	is_str(url_param(&u.pub, "mode"), "0660", "mode param");
	is_str(url_param(&u.pub, "group"), "docker", "group param");
	is_str(url_param(&u.pub, "flag"), "", "key without value is empty");
	ok(url_param(&u.pub, "absent") == NULL, "absent param is NULL");
	url_free(&u);

	is_int(url_parse("npipe:////./pipe/x?sddl=D%3AP%28A%3B%3BGA%3B%3B%3BWD%29", &u, err, sizeof(err)), 0,
	       "encoded value parses");
	is_str(url_param(&u.pub, "sddl"), "D:P(A;;GA;;;WD)", "value percent-decoded");
	url_free(&u);

	is_int(url_parse("unix:///x?a=1&&b=2&", &u, err, sizeof(err)), 0, "empty query pieces tolerated");
	is_int(u.pub.nparams, 2, "two params from a=1&&b=2&");
	url_free(&u);

	is_int(url_parse("unix:///x?a=1&a=2", &u, err, sizeof(err)), -EINVAL, "duplicate key refused");
	like(err, "'a' given twice", "duplicate key named");
	is_int(url_parse("unix:///x?=1", &u, err, sizeof(err)), -EINVAL, "empty key refused");
	is_int(url_parse("unix:///x?a=%zz", &u, err, sizeof(err)), -EINVAL, "bad escape refused");
	like(err, "percent-escape", "bad escape explained");
	is_int(url_parse("unix:///x%2", &u, err, sizeof(err)), -EINVAL, "truncated escape refused");
	is_int(url_parse("unix:///x%00y", &u, err, sizeof(err)), -EINVAL, "%%00 refused");
}

static void test_bad(void)
{
	struct url u;
	char err[256];

	is_int(url_parse("", &u, err, sizeof(err)), -EINVAL, "empty URL refused");
	is_int(url_parse("/run/x.sock", &u, err, sizeof(err)), -EINVAL, "path without scheme refused");
	like(err, "missing scheme", "missing scheme explained");
	is_int(url_parse("1tcp://x:1", &u, err, sizeof(err)), -EINVAL, "scheme starting with digit refused");
	is_int(url_parse("tcp://", &u, err, sizeof(err)), -EINVAL, "empty address refused");
	like(err, "missing address", "empty address explained");
	is_int(url_parse("unix:", &u, err, sizeof(err)), -EINVAL, "scheme only refused");
	is_int(url_parse("tcp://?a=1", &u, err, sizeof(err)), -EINVAL, "query without address refused");
	ok(u.storage == NULL && u.params == NULL, "nothing left allocated on error");
	url_free(&u);
}

static void test_host_port(void)
{
	char host[64], err[256];
	unsigned port = 1;

	is_int(url_split_host_port("127.0.0.1:8080", "x", host, sizeof(host), &port, err, sizeof(err)), 0,
	       "v4 host:port");
	is_str(host, "127.0.0.1", "v4 host");
	is_int(port, 8080, "v4 port");

	is_int(url_split_host_port("[::1]:9", "x", host, sizeof(host), &port, err, sizeof(err)), 0, "[v6]:port");
	is_str(host, "::1", "v6 host without brackets");
	is_int(port, 9, "v6 port");

	is_int(url_split_host_port(":7", "127.0.0.1", host, sizeof(host), &port, err, sizeof(err)), 0, ":port");
	is_str(host, "127.0.0.1", ":port takes the default host");
	is_int(port, 7, ":port port");

	is_int(url_split_host_port("9100", "127.0.0.1", host, sizeof(host), &port, err, sizeof(err)), 0,
	       "bare port");
	is_str(host, "127.0.0.1", "bare port takes the default host");
	is_int(port, 9100, "bare port value");

	is_int(url_split_host_port("localhost:0", NULL, host, sizeof(host), &port, err, sizeof(err)), 0,
	       "port 0 allowed");
	is_int(port, 0, "port 0");
	is_int(url_split_host_port("h:65535", NULL, host, sizeof(host), &port, err, sizeof(err)), 0,
	       "port 65535 allowed");

	ok(url_split_host_port("h:65536", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0,
	   "port 65536 refused");
	like(err, "out of range", "range explained");
	ok(url_split_host_port("h:http", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0,
	   "named port refused");
	ok(url_split_host_port("h:", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0, "empty port refused");
	like(err, "missing port", "empty port explained");
	ok(url_split_host_port("localhost", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0,
	   "host without port refused");
	ok(url_split_host_port("::1:80", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0,
	   "bare v6 refused");
	like(err, "brackets", "bare v6 explained");
	ok(url_split_host_port("[::1]", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0,
	   "[v6] without port refused");
	ok(url_split_host_port("[::1:80", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0,
	   "unclosed bracket refused");
	ok(url_split_host_port("", NULL, host, sizeof(host), &port, err, sizeof(err)) < 0, "empty refused");
	char tiny[4];
	ok(url_split_host_port("longhost:1", NULL, tiny, sizeof(tiny), &port, err, sizeof(err)) < 0,
	   "host longer than buffer refused");
}

/* A carrier's ?auth= is the core's: the plugin gets the URL without it. */
static void test_without_param(void)
{
	static const char *const cases[][2] = {
		{ "tcp://h:1?auth=none", "tcp://h:1" },
		{ "tcp://h:1?auth=none&backlog=5", "tcp://h:1?backlog=5" },
		{ "unix:///x?mode=0660&auth=required", "unix:///x?mode=0660" },
		{ "tcp://h:1?authx=1&auth", "tcp://h:1?authx=1" },
		{ "tcp://h:1", "tcp://h:1" },
		{ "tcp://h:1?x=%26&auth=none&y=2", "tcp://h:1?x=%26&y=2" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = url_without_param(cases[i][0], "auth");
		is_str(s, cases[i][1], "without auth: %s", cases[i][0]);
		free(s);
	}
}

int main(void)
{
	plan(82);
	test_forms();
	test_query();
	test_bad();
	test_host_port();
	test_without_param();
	return done_testing();
}
