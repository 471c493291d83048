/* test_forwarder_api.c - gvproxy expose requests as routes (broker/forwarder_api_map.c). */
#include "config.h"

#include <string.h>

#include "broker/forwarder_api.h"
#include "tests/unit/tap.h"

static void test_protocol(void)
{
	is_str(fwd_protocol(NULL), "tcp", "no protocol is tcp, as gvproxy defaults it");
	is_str(fwd_protocol(""), "tcp", "an empty protocol is tcp");
	is_str(fwd_protocol("unix"), "unix", "unix is known");
	is_str(fwd_protocol("npipe"), "npipe", "npipe is known");
	is_str(fwd_protocol("udp"), "udp", "udp is known");
	ok(fwd_protocol("TCP") == NULL, "protocols compare exactly (gvproxy's are lower case)");
	ok(fwd_protocol("sctp") == NULL, "sctp is unknown");
}

static void test_name(void)
{
	char name[FWD_NAME_MAX], long_local[300];

	fwd_route_name("tcp", "127.0.0.1:8080", name);
	is_str(name, "fwd-tcp-127.0.0.1_8080", "tcp name");
	fwd_route_name("tcp", ":8080", name);
	is_str(name, "fwd-tcp-_8080", "empty host");
	fwd_route_name("tcp", "[::1]:8080", name);
	is_str(name, "fwd-tcp-___1__8080", "IPv6");
	memset(long_local, 'a', sizeof(long_local) - 1);
	long_local[0] = '/';
	long_local[sizeof(long_local) - 1] = '\0';
	fwd_route_name("unix", long_local, name);
	ok(strlen(name) == 64, "a long local is cut to 64 characters (%zu): %s", strlen(name), name);
	long_local[100] = 'b';
	{
		char other[FWD_NAME_MAX];
		fwd_route_name("unix", long_local, other);
		ok(strcmp(name, other) != 0, "two long locals that differ past the cut get different names");
	}
}

static void test_translate(void)
{
	struct fwd_route r;
	char why[512];

	is_int(fwd_translate("tcp", "127.0.0.1:8080", "127.0.0.1:80", &r, why, sizeof(why)), 0, "tcp expose");
	is_str(r.listen, "tcp://127.0.0.1:8080", "tcp listen");
	is_str(r.connect, "peer:tcp://127.0.0.1:80", "tcp connect on the peer");
	is_int(fwd_translate("tcp", ":8080", "192.168.127.2:8080", &r, why, sizeof(why)), 0, "empty local host");
	is_str(r.listen, "tcp://0.0.0.0:8080", "':8080' listens on every address, as Go's net.Listen");
	is_int(fwd_translate("tcp", "[::1]:8080", "[fd00::2]:80", &r, why, sizeof(why)), 0, "IPv6 both sides");
	is_str(r.listen, "tcp://[::1]:8080", "IPv6 listen in brackets");
	is_str(r.connect, "peer:tcp://[fd00::2]:80", "IPv6 connect in brackets");
	is_int(fwd_translate("tcp", "127.0.0.1:8080", ":80", &r, why, sizeof(why)), 400, "a remote without host");
	like(why, "names no host", "why: %s", why);
	is_int(fwd_translate("tcp", "8080", "127.0.0.1:80", &r, why, sizeof(why)), 400, "a local without ':'");
	like(why, "missing port", "why: %s", why);
	is_int(fwd_translate("tcp", "127.0.0.1:0", "127.0.0.1:80", &r, why, sizeof(why)), 400, "port 0");
	is_int(fwd_translate("tcp", "127.0.0.1:99999", "127.0.0.1:80", &r, why, sizeof(why)), 400, "port 99999");
	is_int(fwd_translate("tcp", "127.0.0.1:80?x=1", "127.0.0.1:80", &r, why, sizeof(why)), 400,
	       "a '?' cannot smuggle URL parameters");
	is_int(fwd_translate("tcp", "127.0.0.1:8080", "127.0.0.1:80/x", &r, why, sizeof(why)), 400, "a path in remote");
	is_int(fwd_translate("udp", "127.0.0.1:5353", "127.0.0.1:53", &r, why, sizeof(why)), 500, "udp: not served");
	is_int(fwd_translate("unix", "/run/app.sock", "tcp://127.0.0.1:80", &r, why, sizeof(why)), 0, "unix to tcp");
	is_str(r.listen, "unix:///run/app.sock", "unix listen");
	is_str(r.connect, "peer:tcp://127.0.0.1:80", "unix's remote tcp://");
	is_int(fwd_translate("unix", "/run/app.sock", "unix:///var/run/docker.sock", &r, why, sizeof(why)), 0,
	       "unix to unix");
	is_str(r.connect, "peer:unix:///var/run/docker.sock", "unix's remote unix:///");
	is_int(fwd_translate("unix", "/run/app.sock", "ssh-tunnel://u@h/run/x.sock?key=k", &r, why, sizeof(why)), 500,
	       "ssh-tunnel: not implemented");
	like(why, "remote protocol for unix forwarder is not implemented: ssh-tunnel", "gvproxy's words: %s", why);
	is_int(fwd_translate("unix", "relative.sock", "tcp://127.0.0.1:80", &r, why, sizeof(why)), 400,
	       "a relative socket path");
	is_int(fwd_translate("npipe", "npipe:////./pipe/app", "tcp://127.0.0.1:80", &r, why, sizeof(why)), 0, "npipe");
	is_str(r.listen, "npipe:////./pipe/app", "npipe listen as given");
	is_int(fwd_translate("npipe", "\\\\.\\pipe\\app", "tcp://127.0.0.1:80", &r, why, sizeof(why)), 400,
	       "npipe wants gvproxy's URL form");
}

static void test_url_check(void)
{
	char why[256];

	is_int(forwarder_api_url_check("unix:///tmp/network.sock", why, sizeof(why)), 0, "unix path");
	is_int(forwarder_api_url_check("tcp://127.0.0.1:9000", why, sizeof(why)), 0, "tcp loopback");
	is_int(forwarder_api_url_check("tcp://[::1]:9000", why, sizeof(why)), 0, "tcp IPv6 loopback");
	is_int(forwarder_api_url_check("tcp://:9000", why, sizeof(why)), 0, "tcp without host is 127.0.0.1");
	ok(forwarder_api_url_check("tcp://0.0.0.0:9000", why, sizeof(why)) < 0, "tcp on every address is refused");
	like(why, "loopback only", "why: %s", why);
	ok(forwarder_api_url_check("unix://relative.sock", why, sizeof(why)) < 0, "a relative path is refused");
	ok(forwarder_api_url_check("http://127.0.0.1:9000", why, sizeof(why)) < 0, "another scheme is refused");
}

int main(void)
{
	plan(48);
	test_protocol();
	test_name();
	test_translate();
	test_url_check();
	return done_testing();
}
