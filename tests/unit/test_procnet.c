/*
 * tests/unit/test_procnet.c - the procnet watcher plugin through dlopen and
 * the fake host of fake_host.h; TAP.
 *
 *  - option errors
 *  - /proc/net parsing from fixture files (method=proc, proc_dir=FIXTURES),
 *    hostile lines included; two-scan confirmation, removal, short-lived
 *    sockets never reported, exclude
 *  - real sockets of this process found by netlink sock_diag, by /proc/net
 *    and by auto, and removed when closed
 *
 * Plugin path: argv[1], $PROCNET_PLUGIN, or $top_builddir/plugins/procnet/.libs/procnet.so.
 */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tests/unit/fake_host.h"
#include "tests/unit/tap.h"

static char fixdir[256];
static struct fh_plugin P;   /* opened once in main, brought up by each test */

/* Write name in the fixture dir atomically (the plugin may read at any time). */
static void fix_write(const char *name, const char *text)
{
	char path[320], tmp[340];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixdir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		diag("cannot write %s", tmp);
		return;
	}
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

#define HDR4 "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define HDR6 "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define TAIL " 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n"

/* 0.0.0.0:8080, 127.0.0.1:5432, 10.213.1.2:9000 listening; the rest must be ignored. */
static const char tcp_base[] =
	HDR4
	"   0: 00000000:1F90 00000000:0000 0A" TAIL
	"   1: 0100007F:1538 00000000:0000 0A" TAIL
	"   2: 0201D50A:2328 00000000:0000 0A" TAIL
	/* an established connection */
	"   3: 0100007F:1538 0100007F:D431 01" TAIL
	/* listening on port 0 (not possible, but hostile) */
	"   4: 0100007F:0000 00000000:0000 0A" TAIL
	/* a five-digit hex port: 70000 */
	"   5: 0100007F:11170 00000000:0000 0A" TAIL
	/* truncated */
	"   6: 0100007F:1F9\n"
	"   7: 0100007F:1F91 00000000:0000\n"
	"   8: 0100007F:1F92 00000000:0000 0A 00000000:00000000\n"
	/* not hex */
	"   9: 0100007G:1F93 00000000:0000 0A" TAIL
	"garbage\n"
	"\n";

static const char tcp6_base[] =
	HDR6
	/* [::]:8443 */
	"   0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A" TAIL
	/* [::1]:6000 */
	"   1: 00000000000000000000000001000000:1770 00000000000000000000000000000000:0000 0A" TAIL
	/* [::ffff:127.0.0.1]:7000 counts as 127.0.0.1:7000 */
	"   2: 0000000000000000FFFF00000100007F:1B58 00000000000000000000000000000000:0000 0A" TAIL
	/* v4 width in a v6 file: malformed */
	"   3: 0100007F:1B59 00000000:0000 0A" TAIL;

static const char udp_base[] =
	HDR4
	/* 0.0.0.0:53 unconnected */
	"   0: 00000000:0035 00000000:0000 07" TAIL
	/* connected (state 01) */
	"   1: 0100007F:A000 0100007F:0035 01" TAIL
	/* state 07 but with a peer port: not ours */
	"   2: 0100007F:A001 0100007F:0035 07" TAIL
	/* port 0 */
	"   3: 00000000:0000 00000000:0000 07" TAIL;

static void test_options(struct event_base *base)
{
	static const char *const bad[][3] = {
		{ "interval_ms=50", NULL, NULL },
		{ "include=abc", NULL, NULL },
		{ "include=0-10", NULL, NULL },
		{ "include=70000", NULL, NULL },
		{ "exclude=10-5", NULL, NULL },
		{ "include=80,", "exclude=1-2-3", NULL },
		{ "method=magic", NULL, NULL },
	};
	static const char *const want[] = { "interval_ms", "include", "include", "include",
	                                    "exclude", "exclude", "method" };
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = fh_up(&P, bad[i], err, sizeof(err));

		ok(r == -EINVAL && strstr(err, want[i]), "%s%s%s refused: %s", bad[i][0],
		   bad[i][1] ? " " : "", bad[i][1] ? bad[i][1] : "", err);
		if (r == 0)
			fh_down(&P);
	}
	{
		const char *const good[] = { "include= 80 , 1024-65535,", "exclude=", NULL };

		is_int(fh_up(&P, good, err, sizeof(err)), 0, "spaces and a trailing comma are fine");
		fh_down(&P);
	}
}

static void test_fixtures(struct event_base *base)
{
	char diropt[300];
	const char *opts[] = { "method=proc", diropt, "interval_ms=100", NULL };
	char err[256];
	char huge[300000];
	size_t i;

	snprintf(diropt, sizeof(diropt), "proc_dir=%s", fixdir);
	/* a huge line in front of the udp table */
	for (i = 0; i < sizeof(huge) - 2; i++)
		huge[i] = "0123456789ABCDEF: "[i % 18];
	huge[sizeof(huge) - 2] = '\n';
	huge[sizeof(huge) - 1] = '\0';
	{
		size_t n = strlen(udp_base) + sizeof(huge) + 1;
		char *udp = malloc(n);

		snprintf(udp, n, "%s%s", huge, udp_base);
		/* the header is the first line: put the huge line after it */
		snprintf(udp, n, "%s%s%s", HDR4, huge, udp_base + strlen(HDR4));
		fix_write("udp", udp);
		free(udp);
	}
	fix_write("tcp", tcp_base);
	fix_write("tcp6", tcp6_base);
	fix_write("udp6", HDR6);

	if (!ok(fh_up(&P, opts, err, sizeof(err)) == 0, "load method=proc: %s", err))
		return;
	ok(fh_wait_log(base, "scan 1 done", 2000), "first scan");
	is_int(fh.sets + fh.begins, 0, "nothing reported after one scan");
	ok(fh_wait_log(base, "scan 2 done", 2000), "second scan");
	is_int(fh.begins, 1, "second scan: one snapshot (resync_begin)");
	is_int(fh.commits, 1, "... and resync_commit");
	is_int(fh.nowners, 7, "seven sockets reported");
	is_str(fh_text("tcp/0.0.0.0:8080"), "tcp 0.0.0.0:8080 -> 127.0.0.1:8080", "wildcard v4");
	is_str(fh_text("tcp/127.0.0.1:5432"), "tcp 127.0.0.1:5432 -> 127.0.0.1:5432", "loopback v4");
	is_str(fh_text("tcp/10.213.1.2:9000"), "tcp 0.0.0.0:9000 -> 10.213.1.2:9000",
	       "one address: reached on it");
	is_str(fh_text("tcp/[::]:8443"), "tcp :::8443 -> [::1]:8443 127.0.0.1:8443", "wildcard v6");
	is_str(fh_text("tcp/[::1]:6000"), "tcp ::1:6000 -> [::1]:6000", "loopback v6");
	is_str(fh_text("tcp/127.0.0.1:7000"), "tcp 127.0.0.1:7000 -> 127.0.0.1:7000",
	       "v4-mapped v6 counts as v4");
	is_str(fh_text("udp/0.0.0.0:53"), "udp 0.0.0.0:53 -> 127.0.0.1:53", "unconnected udp");
	like(fh.log, "malformed lines skipped", "malformed lines logged");
	{
		struct fh_owner *o = fh_owner("tcp/0.0.0.0:8080");

		like(o ? o->desc : NULL, "uid 1000", "description names the uid");
	}

	/* 8080 goes, 8081 comes: removal after one scan, report after two */
	fix_write("tcp", HDR4
	          "   1: 0100007F:1538 00000000:0000 0A" TAIL
	          "   2: 0201D50A:2328 00000000:0000 0A" TAIL
	          "   3: 00000000:1F91 00000000:0000 0A" TAIL);
	ok(fh_wait_log(base, "scan 3 done", 2000), "third scan");
	ok(!fh_owner("tcp/0.0.0.0:8080"), "gone listener removed after one scan");
	is_int(fh.removes, 1, "one mapping_remove");
	ok(!fh_owner("tcp/0.0.0.0:8081"), "new listener not reported after one scan");
	ok(fh_wait_log(base, "scan 4 done", 2000), "fourth scan");
	is_str(fh_text("tcp/0.0.0.0:8081"), "tcp 0.0.0.0:8081 -> 127.0.0.1:8081",
	       "new listener reported after two scans");

	/* a listener present in one scan only is never reported */
	fix_write("tcp", HDR4
	          "   1: 0100007F:1538 00000000:0000 0A" TAIL
	          "   2: 0201D50A:2328 00000000:0000 0A" TAIL
	          "   3: 00000000:1F91 00000000:0000 0A" TAIL
	          "   4: 00000000:1F92 00000000:0000 0A" TAIL);
	ok(fh_wait_log(base, "scan 5 done", 2000), "fifth scan");
	fix_write("tcp", HDR4
	          "   1: 0100007F:1538 00000000:0000 0A" TAIL
	          "   2: 0201D50A:2328 00000000:0000 0A" TAIL
	          "   3: 00000000:1F91 00000000:0000 0A" TAIL);
	ok(fh_wait_log(base, "scan 7 done", 2000), "seventh scan");
	ok(!fh_owner("tcp/0.0.0.0:8082") && !strstr(fh.log, "tcp/0.0.0.0:8082: reported"),
	   "a listener seen in one scan never reported");

	/* a missing table makes the scan fail and changes nothing */
	{
		char path[320];
		int n = fh.nowners, removes = fh.removes;

		snprintf(path, sizeof(path), "%s/tcp", fixdir);
		unlink(path);
		ok(fh_wait_log(base, "scan failed", 2000), "missing /proc/net/tcp: scan failed logged");
		fh_run_for(base, 250);
		ok(fh.nowners == n && fh.removes == removes, "a failed scan removes nothing");
		fix_write("tcp", tcp_base);
		ok(fh_wait_log(base, "scanning works again", 2000), "recovery logged");
	}

	/* resync reports the same view again */
	{
		int n = fh.nowners, begins = fh.begins;

		is_int(P.p->resync(P.state), 0, "resync returns 0");
		ok(fh.begins == begins + 1 && fh.nowners == n, "resync: a snapshot with the same owners");
	}
	fh_down(&P);

	/* exclude and include */
	{
		const char *o2[] = { "method=proc", diropt, "interval_ms=100", "exclude=5432,8000-8999",
		                     "include=1-9999", NULL };

		if (ok(fh_up(&P, o2, err, sizeof(err)) == 0, "load with include/exclude")) {
			ok(fh_wait_log(base, "scan 2 done", 2000), "two scans");
			ok(!fh_owner("tcp/127.0.0.1:5432") && !fh_owner("tcp/0.0.0.0:8080") &&
			   !fh_owner("tcp/[::]:8443"), "excluded ports not reported");
			ok(fh_owner("tcp/10.213.1.2:9000") && fh_owner("udp/0.0.0.0:53") &&
			   fh_owner("tcp/[::1]:6000"), "included ports reported");
			fh_down(&P);
		}
	}
}

/*
 * A socket of family/type bound to loopback port 0 (v6only + 10: to the
 * IPv6 wildcard); its port in *port.  -1 on failure.
 */
static int bound_socket(int family, int type, int v6only, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = v6only >= 10 ? in6addr_any : in6addr_loopback;
		v6only %= 10;
		sl = sizeof(*a);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (type == SOCK_STREAM && listen(fd, 4) < 0)) {
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	                                  ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* netlink knows IPV6_V6ONLY: a dual-stack [::] listener is reached on 127.0.0.1 too. */
static void test_v6_wildcard(struct event_base *base)
{
	unsigned pd = 0, p6 = 0;
	int dual = bound_socket(AF_INET6, SOCK_STREAM, 10, &pd);
	int only = bound_socket(AF_INET6, SOCK_STREAM, 11, &p6);
	char inc[64], od[64], o6[64], want[128];
	const char *opts[] = { "method=netlink", inc, "interval_ms=100", NULL };
	char err[256];

	if (dual < 0 || only < 0) {
		skip(2, "no IPv6 wildcard listeners here");
		goto out;
	}
	snprintf(inc, sizeof(inc), "include=%u,%u", pd, p6);
	snprintf(od, sizeof(od), "tcp/[::]:%u", pd);
	snprintf(o6, sizeof(o6), "tcp/[::]:%u", p6);
	if (fh_up(&P, opts, err, sizeof(err)) < 0) {
		skip(2, "not loaded");
		goto out;
	}
	fh_wait_owner(base, od, 1, 3000);
	fh_wait_owner(base, o6, 1, 1000);
	snprintf(want, sizeof(want), "tcp :::%u -> 127.0.0.1:%u [::1]:%u", pd, pd, pd);
	is_str(fh_text(od), want, "netlink: dual-stack [::] listener");
	snprintf(want, sizeof(want), "tcp :::%u -> [::1]:%u", p6, p6);
	is_str(fh_text(o6), want, "netlink: v6-only [::] listener");
	fh_down(&P);
out:
	if (dual >= 0)
		close(dual);
	if (only >= 0)
		close(only);
}

static void test_live(struct event_base *base, const char *method)
{
	unsigned tp = 0, up = 0, cp = 0, t6 = 0;
	int tfd = bound_socket(AF_INET, SOCK_STREAM, 0, &tp);
	int ufd = bound_socket(AF_INET, SOCK_DGRAM, 0, &up);
	int cfd = bound_socket(AF_INET, SOCK_DGRAM, 0, &cp);
	int t6fd = bound_socket(AF_INET6, SOCK_STREAM, 1, &t6);
	char mopt[64], inc[128], otcp[64], oudp[64], oconn[64], o6[64];
	const char *opts[] = { mopt, inc, "interval_ms=100", NULL };
	struct sockaddr_in to;
	char err[256];

	if (tfd < 0 || ufd < 0 || cfd < 0) {
		skip(6, "cannot open loopback sockets");
		goto out;
	}
	/* a connected UDP socket is not a server */
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)up);
	connect(cfd, (struct sockaddr *)&to, sizeof(to));
	snprintf(mopt, sizeof(mopt), "method=%s", method);
	snprintf(inc, sizeof(inc), "include=%u,%u,%u,%u", tp, up, cp, t6 ? t6 : tp);
	snprintf(otcp, sizeof(otcp), "tcp/127.0.0.1:%u", tp);
	snprintf(oudp, sizeof(oudp), "udp/127.0.0.1:%u", up);
	snprintf(oconn, sizeof(oconn), "udp/127.0.0.1:%u", cp);
	snprintf(o6, sizeof(o6), "tcp/[::1]:%u", t6);
	if (!ok(fh_up(&P, opts, err, sizeof(err)) == 0, "%s: load: %s", method, err)) {
		skip(5, "not loaded");
		goto out;
	}
	ok(fh_wait_owner(base, otcp, 1, 3000), "%s: tcp listener %s found", method, otcp);
	ok(fh_wait_owner(base, oudp, 1, 1000), "%s: udp socket %s found", method, oudp);
	if (t6fd >= 0)
		ok(fh_wait_owner(base, o6, 1, 1000), "%s: v6-only listener %s found (%s)", method, o6,
		   fh_text(o6) ? fh_text(o6) : "-");
	else
		skip(1, "no IPv6 loopback");
	ok(!fh_owner(oconn), "%s: connected udp socket not reported", method);
	close(tfd);
	tfd = -1;
	ok(fh_wait_owner(base, otcp, 0, 3000), "%s: closed listener removed", method);
	if (strcmp(method, "netlink") == 0) {
		ok(!strstr(fh.log, "instead") && !strstr(fh.log, "scan failed"),
		   "netlink: no fallback, no failed scan");
	} else {
		ok(1, "%s: (netlink-only check)", method);
	}
	fh_down(&P);
	/* After fh_down: it loads its own instance into the same slot. */
	if (strcmp(method, "netlink") == 0)
		test_v6_wildcard(base);
out:
	if (tfd >= 0)
		close(tfd);
	if (ufd >= 0)
		close(ufd);
	if (cfd >= 0)
		close(cfd);
	if (t6fd >= 0)
		close(t6fd);
}

int main(int argc, char **argv)
{
	struct event_base *base;
	char b[1024];
	const char *path = fh_plugin_path(argc, argv, 1, "PROCNET_PLUGIN", "procnet", b, sizeof(b));
	const char *tmp = getenv("TMPDIR");

	plan(67);
	signal(SIGPIPE, SIG_IGN);
	snprintf(fixdir, sizeof(fixdir), "%s/test_procnet.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fixdir)) {
		printf("Bail out! cannot create a temp dir %s: %s\n", fixdir, strerror(errno));
		return 1;
	}
	fh_echo_level = BROKER_LOG_WARN;   /* FH_VERBOSE=1 shows every line */
	base = fh_base_new();
	if (ok(fh_open(&P, path, base) == 0, "load %s", path)) {
		is_int(P.p->kinds, BROKER_KIND_WATCHER, "a watcher");
		test_options(base);
		test_fixtures(base);
		test_live(base, "netlink");
		test_live(base, "proc");
		test_live(base, "auto");
	}
	{
		static const char *const names[] = { "tcp", "tcp6", "udp", "udp6" };
		char p[320];
		size_t i;

		for (i = 0; i < 4; i++) {
			snprintf(p, sizeof(p), "%s/%s", fixdir, names[i]);
			unlink(p);
		}
		rmdir(fixdir);
	}
	fh_close(&P);
	fh_base_free(base);
	return done_testing();
}
