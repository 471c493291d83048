/* test_peer_auth.c - which links must prove the shared secret
 * (broker/peer_auth.c): the carrier URL's link options, and the decision
 * from the role, the scheme and what the kernel says about the peer, for
 * every carrier broker-link(7) lists. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/peer_auth.h"
#include "tests/unit/tap.h"

static void test_opts(void)
{
	struct carrier_opts o;
	char err[512];

	is_int(carrier_opts_parse("unix:///run/x.sock", PEER_AUTH_LISTEN, &o, err, sizeof(err)), 0, "unix URL");
	is_str(o.scheme, "unix", "scheme");
	ok(!o.auth_required && !o.abstract, "no ?auth, not abstract");
	is_str(o.plugin_url, "unix:///run/x.sock", "the plugin gets the URL as written");
	carrier_opts_free(&o);

	is_int(carrier_opts_parse("unix:///run/x.sock?mode=0660&auth=required&group=docker", PEER_AUTH_LISTEN, &o, err,
	                          sizeof(err)),
	       0, "?auth=required parses");
	ok(o.auth_required, "and forces the secret");
	is_str(o.plugin_url, "unix:///run/x.sock?mode=0660&group=docker", "the plugin does not see ?auth");
	carrier_opts_free(&o);

	is_int(carrier_opts_parse("unix://@brk", PEER_AUTH_CONNECT, &o, err, sizeof(err)), 0, "abstract URL");
	ok(o.abstract, "abstract noted");
	carrier_opts_free(&o);

	is_int(carrier_opts_parse("tcp://0.0.0.0:7070?auth=none", PEER_AUTH_LISTEN, &o, err, sizeof(err)), -EINVAL,
	       "?auth=none refused");
	like(err, "follows from the carrier", "with the reason");
	is_int(carrier_opts_parse("unix:///x?auth=optional", PEER_AUTH_LISTEN, &o, err, sizeof(err)), -EINVAL,
	       "?auth=optional refused");
	is_int(carrier_opts_parse("peer:tcp://h:1", PEER_AUTH_CONNECT, &o, err, sizeof(err)), -EINVAL,
	       "a peer: carrier refused");
	is_int(carrier_opts_parse("exec:wsl.exe -d Ubuntu -e brokerd --link-stdio", PEER_AUTH_CONNECT, &o, err,
	                          sizeof(err)),
	       0, "exec: carrier");
	is_str(o.plugin_url, "exec:wsl.exe -d Ubuntu -e brokerd --link-stdio", "exec URL untouched");
	carrier_opts_free(&o);
}

/* The decision for one set of facts. */
static bool decide(enum peer_auth_role role, const char *url, enum platform_peer_kind kind, long uid,
                   unsigned long cid, int path_private, char *why, size_t whylen)
{
	struct carrier_opts o;
	struct carrier_facts f;
	char err[256];
	bool r;

	if (carrier_opts_parse(url, role, &o, err, sizeof(err)) < 0) {
		diag("%s: %s", url, err);
		return false;
	}
	memset(&f, 0, sizeof(f));
	f.role = role;
	f.opts = &o;
	f.peer.kind = kind;
	f.peer.uid = uid;
	f.peer.cid = cid;
	f.our_uid = 1000;
	f.path_private = path_private;
	f.path_why = path_private ? "its directory /tmp is writable by others (mode 1777)" : "";
	r = peer_auth_required(&f, why, whylen);
	carrier_opts_free(&o);
	return r;
}

static void test_decisions(void)
{
	char why[512];
	const enum peer_auth_role L = PEER_AUTH_LISTEN, C = PEER_AUTH_CONNECT;
	const enum platform_peer_kind U = PLATFORM_PEER_UNIX, V = PLATFORM_PEER_VSOCK, O = PLATFORM_PEER_OTHER;

	ok(!decide(PEER_AUTH_STDIO, "stdio", O, -1, 0, 0, why, sizeof(why)), "stdio: no secret");
	ok(!decide(C, "exec:wsl.exe -e brokerd --link-stdio", O, -1, 0, 0, why, sizeof(why)), "exec dial: no secret");
	ok(decide(C, "exec:x?auth=required", O, -1, 0, 0, why, sizeof(why)), "?auth=required: secret even for exec");
	ok(decide(L, "tcp://127.0.0.1:7070", PLATFORM_PEER_INET, -1, 0, 0, why, sizeof(why)), "tcp listen: secret");
	ok(decide(C, "tcp://10.0.0.1:7070", PLATFORM_PEER_INET, -1, 0, 0, why, sizeof(why)), "tcp dial: secret");

	ok(!decide(L, "unix:///run/b/link.sock", U, 1000, 0, 0, why, sizeof(why)), "unix listen, peer is us: none");
	ok(!decide(L, "unix://@brk", U, 0, 0, 0, why, sizeof(why)), "abstract listen, peer is root: none");
	ok(decide(L, "unix://@brk", U, 65534, 0, 0, why, sizeof(why)), "abstract listen, peer is another uid: secret");
	like(why, "uid 65534, not as us (uid 1000) or root", "the reason names both uids");
	ok(decide(L, "unix:///run/b/link.sock?mode=0666", U, 1001, 0, 0, why, sizeof(why)),
	   "0666 listener, peer is another uid: secret");
	ok(decide(L, "unix:///run/b/link.sock", U, -1, 0, 0, why, sizeof(why)), "unix peer unknown: secret");
	ok(decide(L, "unix:///run/b/link.sock", O, -1, 0, 0, why, sizeof(why)), "not a unix socket after all: secret");

	ok(!decide(C, "unix:///run/b/link.sock", U, 0, 0, 0, why, sizeof(why)), "unix dial, root's private socket: none");
	ok(decide(C, "unix:///tmp/link.sock", U, 1000, 0, -EPERM, why, sizeof(why)),
	   "unix dial into a directory others can write: secret");
	like(why, "writable by others", "the reason is the directory's");
	ok(decide(C, "unix:///run/b/link.sock", U, 65534, 0, 0, why, sizeof(why)),
	   "unix dial, socket served by another uid: secret");
	like(why, "the process serving the socket runs as uid 65534", "the reason names the server's uid");
	ok(!decide(C, "unix://@brk", U, 1000, 0, -EPERM, why, sizeof(why)), "abstract dial served by us: none");
	ok(decide(C, "unix://@brk", U, 4242, 0, 0, why, sizeof(why)), "abstract dial served by another uid: secret");

	ok(!decide(L, "vsock://any:5000", V, -1, 2, 0, why, sizeof(why)), "vsock listen, peer is the host (CID 2): none");
	ok(decide(L, "vsock://any:5000", V, -1, 3, 0, why, sizeof(why)), "vsock listen, peer is a VM (CID 3): secret");
	ok(decide(L, "vsock://any:5000", V, -1, 1, 0, why, sizeof(why)), "vsock listen, local loopback (CID 1): secret");
	like(why, "not the host", "the reason says so");
	ok(!decide(C, "vsock://2:5000", V, -1, 2, 0, why, sizeof(why)), "vsock dial: none");
	ok(decide(L, "hvsock://any:5000", O, -1, 0, 0, why, sizeof(why)), "hvsock listen: secret");
	ok(!decide(C, "hvsock://vm:5000", O, -1, 0, 0, why, sizeof(why)), "hvsock dial: none");
	ok(decide(L, "npipe:////./pipe/brk", O, -1, 0, 0, why, sizeof(why)), "anything else: secret");
}

int main(void)
{
	plan(42);
	test_opts();
	test_decisions();
	return done_testing();
}
