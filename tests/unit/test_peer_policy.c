/* test_peer_policy.c - what a peer may reach and open here (broker/peer_policy.c):
 * the '*' glob, pattern syntax, port ranges, exec: and abstract sockets,
 * resolved paths (symlinks, "..") and this broker's own directories, the
 * bind and port rules for the peer's listeners. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/config.h"
#include "broker/mapping.h"
#include "broker/peer_policy.h"
#include "tests/unit/tap.h"
#include "tests/unit/test_platform.h"

static void test_glob(void)
{
	ok(peer_policy_glob("abc", "abc"), "literal matches itself");
	ok(!peer_policy_glob("abc", "abcd"), "literal does not match a longer text");
	ok(!peer_policy_glob("abcd", "abc"), "literal does not match a shorter text");
	ok(peer_policy_glob("*", ""), "* matches the empty text");
	ok(peer_policy_glob("a*c", "abbbc"), "* in the middle");
	ok(peer_policy_glob("a*c", "ac"), "* matches nothing");
	ok(!peer_policy_glob("a*c", "abcd"), "the text must end where the pattern ends");
	ok(peer_policy_glob("/run/*/x.sock", "/run/a/b/x.sock"), "* crosses '/'");
	ok(peer_policy_glob("127.0.0.1:*", "127.0.0.1:8080"), "port wildcard");
	ok(!peer_policy_glob("127.0.0.1:*", "127.0.0.10:8080"), "a host prefix is not the host");
	ok(peer_policy_glob("a*b*c", "aXbYbZc"), "backtracking over two stars");
	ok(!peer_policy_glob("a?c", "abc"), "? is a literal, not a wildcard");
	ok(peer_policy_glob("a?c", "a?c"), "? matches itself");
}

static void test_patterns_and_ports(void)
{
	struct peer_port_range r[8];
	size_t n;
	char err[256];

	is_int(peer_policy_pattern_check("*", err, sizeof(err)), 0, "\"*\" is a pattern");
	is_int(peer_policy_pattern_check("tcp://127.0.0.1:*", err, sizeof(err)), 0, "a URL with '*' is a pattern");
	is_int(peer_policy_pattern_check("", err, sizeof(err)), -EINVAL, "empty pattern refused");
	is_int(peer_policy_pattern_check("127.0.0.1:80", err, sizeof(err)), -EINVAL, "a pattern needs a scheme");
	like(err, "missing scheme", "and says so");
	is_int(peer_policy_pattern_check("peer:tcp://x:1", err, sizeof(err)), -EINVAL, "peer: in a pattern refused");

	is_int(peer_policy_parse_ports("8000-8999,3000", r, 8, &n, err, sizeof(err)), 0, "ranges parse");
	is_int((int)n, 2, "two ranges");
	ok(r[0].lo == 8000 && r[0].hi == 8999 && r[1].lo == 3000 && r[1].hi == 3000, "bounds as written");
	is_int(peer_policy_parse_ports("9-1", r, 8, &n, err, sizeof(err)), -EINVAL, "low above high refused");
	is_int(peer_policy_parse_ports("0-10", r, 8, &n, err, sizeof(err)), -EINVAL, "port 0 refused");
	is_int(peer_policy_parse_ports("1-70000", r, 8, &n, err, sizeof(err)), -EINVAL, "port above 65535 refused");
	is_int(peer_policy_parse_ports("80,x", r, 8, &n, err, sizeof(err)), -EINVAL, "garbage refused");
	is_int(peer_policy_parse_ports("1,2,3", r, 2, &n, err, sizeof(err)), -E2BIG, "too many ranges refused");

	ok(peer_policy_is_loopback("127.0.0.1") && peer_policy_is_loopback("127.3.4.5"), "127/8 is loopback");
	ok(peer_policy_is_loopback("::1") && peer_policy_is_loopback("localhost"), "::1 and localhost are loopback");
	ok(peer_policy_is_loopback("::ffff:127.0.0.1"), "v4-mapped 127.0.0.1 is loopback");
	ok(!peer_policy_is_loopback("0.0.0.0") && !peer_policy_is_loopback("::"), "wildcards are not loopback");
	ok(!peer_policy_is_loopback("10.0.0.1") && !peer_policy_is_loopback("evil.example"),
	   "other addresses and names are not loopback");
}

/* A policy over a config that has only what the test sets. */
static struct peer_policy *policy(char **conn, size_t nconn, char **lis, size_t nlis, const char *rt,
                                  const char *st, int bind, bool priv, const char *ports)
{
	struct broker_config cfg;
	struct peer_policy *p = NULL;
	char err[512];

	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < nconn; i++)
		cfg.peer_allow_connect[i] = conn[i];
	cfg.n_peer_allow_connect = nconn;
	for (size_t i = 0; i < nlis; i++)
		cfg.peer_allow_listen[i] = lis[i];
	cfg.n_peer_allow_listen = nlis;
	cfg.runtime_dir = (char *)rt;
	cfg.state_dir = (char *)st;
	cfg.mapping_bind = bind;
	cfg.mapping_allow_privileged = priv;
	cfg.mapping_ports = (char *)ports;
	if (peer_policy_new(&cfg, &p, err, sizeof(err)) < 0)
		diag("peer_policy_new: %s", err);
	peer_policy_set_name(p, "host-1");
	return p;
}

static void test_connect(void)
{
	char *none[1] = { NULL };
	char *star[] = { "*" };
	char *exact[] = { "exec:/bin/echo hi", "tcp://127.0.0.1:*", "unix://@good*", "tcp://10.0.0.1:80?netns=*" };
	char *execglob[] = { "exec:*", "exec:/bin/echo*" };
	struct peer_policy *p;
	char out[1024], why[1024];

	p = policy(none, 0, none, 0, "/nonexistent-rt", "/nonexistent-st", 0, false, NULL);
	ok(p != NULL, "empty policy builds");
	is_int(peer_policy_connect(p, "tcp://127.0.0.1:22", false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "empty policy: a tcp target is refused");
	like(why, "matches no --peer-allow-connect pattern of broker host-1", "the reason names the setting and broker");
	like(why, "--peer-allow-connect 'tcp://127.0.0.1:22'", "and how to allow it");
	is_int(peer_policy_connect(p, "tcp://127.0.0.1:22", true, out, sizeof(out), why, sizeof(why)), 0,
	       "trusted (our --link-stdio parent): allowed as if by '*'");
	is_int(peer_policy_connect(p, "exec:/bin/echo hi", true, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "trusted parent: exec: still refused");
	is_int(peer_policy_connect(p, "peer:tcp://127.0.0.1:1", true, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "a chain to a third broker is refused");
	is_int(peer_policy_connect(p, "not a url", true, out, sizeof(out), why, sizeof(why)), -EINVAL,
	       "garbage is -EINVAL");
	peer_policy_free(p);

	p = policy(star, 1, none, 0, "/nonexistent-rt", "/nonexistent-st", 0, false, NULL);
	is_int(peer_policy_connect(p, "tcp://10.1.2.3:443?netns=x", false, out, sizeof(out), why, sizeof(why)), 0,
	       "'*' allows any non-exec target, parameters too");
	is_str(out, "tcp://10.1.2.3:443?netns=x", "the target is connected as given");
	is_int(peer_policy_connect(p, "exec:/bin/sh -c 'id > /tmp/x'", false, out, sizeof(out), why, sizeof(why)),
	       -EPERM, "'*' never matches exec:");
	like(why, "wildcards never match exec:", "and says so");
	peer_policy_free(p);

	p = policy(execglob, 2, none, 0, "/nonexistent-rt", "/nonexistent-st", 0, false, NULL);
	is_int(peer_policy_connect(p, "exec:/bin/echo hi", false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "'exec:*' and 'exec:/bin/echo*' do not allow exec:/bin/echo hi");
	peer_policy_free(p);

	p = policy(exact, 4, none, 0, "/nonexistent-rt", "/nonexistent-st", 0, false, NULL);
	is_int(peer_policy_connect(p, "exec:/bin/echo hi", false, out, sizeof(out), why, sizeof(why)), 0,
	       "a pattern naming the command exactly allows it");
	is_int(peer_policy_connect(p, "exec:/bin/echo hi there", false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "a longer command is another command");
	is_int(peer_policy_connect(p, "tcp://127.0.0.1:8080", false, out, sizeof(out), why, sizeof(why)), 0,
	       "tcp://127.0.0.1:* allows a port");
	is_int(peer_policy_connect(p, "tcp://127.0.0.1:8080?netns=/proc/1/ns/net", false, out, sizeof(out), why,
	                           sizeof(why)),
	       -EPERM, "a parameter the pattern does not name is refused");
	is_int(peer_policy_connect(p, "tcp://10.0.0.1:80?netns=blue", false, out, sizeof(out), why, sizeof(why)), 0,
	       "a parameter the pattern names matches its value glob");
	is_int(peer_policy_connect(p, "tcp://10.0.0.1:80", false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "a pattern's parameter must be there");
	is_int(peer_policy_connect(p, "unix://@goodname", false, out, sizeof(out), why, sizeof(why)), 0,
	       "unix://@good* allows an abstract socket");
	is_int(peer_policy_connect(p, "udp://127.0.0.1:53", false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "schemes compare exactly (udp is not tcp)");
	peer_policy_free(p);
}

static void test_paths(void)
{
	const char *why_skip = tp_skip_unix_sockets();
	char *dir, rt[512], st[512], pub[512], lnk[512], pat[600], pat2[600], target[900];
	char out[1024], why[1024];
	struct peer_policy *p;

	if (why_skip) {
		skip(12, why_skip);
		return;
	}
	dir = tp_mkdtemp("peerpol");
	if (!dir) {
		ok(0, "cannot create a temp dir: %s", strerror(errno));
		return;
	}
	snprintf(rt, sizeof(rt), "%s/rt", dir);
	snprintf(st, sizeof(st), "%s/st", dir);
	snprintf(pub, sizeof(pub), "%s/pub", dir);
	snprintf(lnk, sizeof(lnk), "%s/lnk", dir);
	mkdir(rt, 0700);
	mkdir(st, 0700);
	mkdir(pub, 0755);
	ok(symlink(rt, lnk) == 0, "a symlink to the runtime dir");
	snprintf(pat, sizeof(pat), "unix://%s/*", dir);
	snprintf(pat2, sizeof(pat2), "unix://*");
	{
		char *conn[] = { pat, pat2, "*" };
		char *lis[] = { pat };
		p = policy(conn, 3, lis, 1, rt, st, 0, false, NULL);
	}
	snprintf(target, sizeof(target), "unix://%s/ctl.sock", rt);
	is_int(peer_policy_connect(p, target, false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "the runtime dir's ctl.sock is refused even by '*'");
	like(why, "inside the runtime directory", "and the reason says where it is");
	snprintf(target, sizeof(target), "unix://%s/pub/../rt/ctl.sock", dir);
	is_int(peer_policy_connect(p, target, false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "'..' into the runtime dir is refused");
	snprintf(target, sizeof(target), "unix://%s/lnk/ctl.sock", dir);
	is_int(peer_policy_connect(p, target, false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "a symlink into the runtime dir is refused");
	snprintf(target, sizeof(target), "unix://%s/broker.db", st);
	is_int(peer_policy_connect(p, target, true, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "the state dir is refused even for a trusted parent");
	like(why, "inside the state directory", "and the reason names it");
	snprintf(target, sizeof(target), "unix://%s/pub/../pub/x.sock", dir);
	is_int(peer_policy_connect(p, target, false, out, sizeof(out), why, sizeof(why)), 0,
	       "a path outside our dirs is allowed by its pattern");
	{
		char want[900];
		snprintf(want, sizeof(want), "unix://%s/pub/x.sock", dir);
		is_str(out, want, "and connected at its resolved path");
	}
	peer_policy_free(p);

	{
		char *conn[] = { pat2 };
		p = policy(conn, 1, conn, 1, rt, st, 0, false, NULL);
	}
	is_int(peer_policy_connect(p, "unix://@/tmp/.X11-unix/X0", false, out, sizeof(out), why, sizeof(why)), -EPERM,
	       "unix://* does not reach abstract sockets");
	snprintf(target, sizeof(target), "unix://%s/evil.sock?mode=0666", pub);
	is_int(peer_policy_listen(p, target, false, why, sizeof(why)), -EPERM,
	       "listen: a parameter the pattern does not name (mode=0666) is refused");
	snprintf(target, sizeof(target), "unix://%s/evil.sock", st);
	is_int(peer_policy_listen(p, target, false, why, sizeof(why)), -EPERM, "listen in the state dir is refused");
	peer_policy_free(p);
	tp_rm_rf(dir);
	free(dir);
}

static void test_listen(void)
{
	char *lis[] = { "tcp://*", "unix://@ab*" };
	char why[1024];
	struct peer_policy *p;

	p = policy(lis, 0, lis, 2, "/nonexistent-rt", "/nonexistent-st", MAPPING_BIND_LOOPBACK, false, NULL);
	is_int(peer_policy_listen(p, "tcp://127.0.0.1:8080", false, why, sizeof(why)), 0, "loopback port allowed");
	is_int(peer_policy_listen(p, "tcp://0.0.0.0:17010", false, why, sizeof(why)), -EPERM, "0.0.0.0 refused");
	like(why, "--mapping-bind as-given", "the reason names the setting");
	is_int(peer_policy_listen(p, "tcp://[::]:17010", false, why, sizeof(why)), -EPERM, ":: refused");
	is_int(peer_policy_listen(p, "tcp://127.0.0.1:23", false, why, sizeof(why)), -EPERM, "port 23 refused");
	like(why, "below 1024", "because it is below 1024");
	is_int(peer_policy_listen(p, "tcp://127.0.0.1:0", false, why, sizeof(why)), 0, "port 0 (any free) allowed");
	is_int(peer_policy_listen(p, "exec:/bin/sh", true, why, sizeof(why)), -EPERM, "exec: listen refused");
	is_int(peer_policy_listen(p, "unix://@abc", false, why, sizeof(why)), 0, "abstract listen by an '@' pattern");
	is_int(peer_policy_listen(p, "unix:///tmp/x.sock", false, why, sizeof(why)), -EPERM, "no pattern, no listen");
	is_int(peer_policy_listen(p, "unix:///tmp/x.sock", true, why, sizeof(why)), 0, "a trusted parent may");
	peer_policy_free(p);

	p = policy(lis, 0, lis, 1, "/nonexistent-rt", "/nonexistent-st", MAPPING_BIND_AS_GIVEN, true, "8000-8999");
	is_int(peer_policy_listen(p, "tcp://0.0.0.0:8080", false, why, sizeof(why)), 0, "as-given: 0.0.0.0 allowed");
	is_int(peer_policy_listen(p, "tcp://0.0.0.0:9000", false, why, sizeof(why)), -EPERM,
	       "--mapping-ports: a port outside the ranges refused");
	like(why, "outside the --mapping-ports ranges", "and says so");
	is_int(peer_policy_port(p, 8500, why, sizeof(why)), 0, "port inside the range allowed");
	is_int(peer_policy_listen(p, "tcp://127.0.0.1:0", false, why, sizeof(why)), -EPERM,
	       "with ranges, port 0 is refused too");
	peer_policy_free(p);
}

int main(void)
{
	plan(81);
	test_glob();
	test_patterns_and_ports();
	test_connect();
	test_paths();
	test_listen();
	return done_testing();
}
