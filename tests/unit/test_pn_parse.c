/*
 * tests/unit/test_pn_parse.c - the procnet watcher's decoding, compiled in:
 * lines of /proc/net/{tcp,udp}{,6} and whole tables (plugins/procnet/
 * pn_proc.c), and sock_diag answers (pn_nl_sock in pn_netlink.c, with the
 * scan functions it calls stubbed here).  TAP.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

#include "plugins/procnet/procnet.h"
#include "tests/unit/tap.h"

/* What pn_netlink.c calls in procnet.c; unused by pn_nl_sock. */
const struct broker_host *pn_host;
void pn_cur_add(struct pn_state *st, const struct pn_sock *s) { (void)st; (void)s; }
void pn_sock_normalize(struct pn_sock *s) { (void)s; }
void pn_scan_next(struct pn_state *st) { (void)st; }
void pn_scan_abort(struct pn_state *st, const char *why, int err) { (void)st; (void)why; (void)err; }

static char logbuf[8192];
static size_t loglen;
static int warnings;

static void test_log(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	if (level <= BROKER_LOG_WARN)
		warnings++;
	va_start(ap, fmt);
	if (loglen < sizeof(logbuf) - 2)
		loglen += (size_t)vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
	va_end(ap);
	if (loglen > sizeof(logbuf) - 2)
		loglen = sizeof(logbuf) - 2;
	logbuf[loglen++] = '\n';
	logbuf[loglen] = '\0';
}

static struct pn_sock added[16];
static int nadded;

static void add(void *arg, struct pn_sock *s)
{
	(void)arg;
	if (nadded < 16)
		added[nadded] = *s;
	nadded++;
}

static void addr_is(const struct pn_sock *s, const char *want, const char *what)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(s->family, s->addr, a, sizeof(a));
	ok(strcmp(a, want) == 0, "%s: address %s", what, a);
}

static void test_lines(void)
{
	struct pn_sock s;
	int r;

	r = pn_proc_line("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0",
	                 AF_INET, BROKER_PROTO_TCP, &s);
	ok(r == 1 && s.port == 8080 && s.uid == 1000 && s.family == AF_INET && s.proto == BROKER_PROTO_TCP &&
	   s.v6only == 0, "a listening TCP socket (port %u, uid %u)", s.port, s.uid);
	addr_is(&s, "127.0.0.1", "v4 words are native-endian");
	r = pn_proc_line("   1: 0100007F:1F90 0100007F:A2B4 01 00000000:00000000 00:00000000 00000000  1000 0 1",
	                 AF_INET, BROKER_PROTO_TCP, &s);
	ok(r == 0, "an established TCP socket is not reported");
	r = pn_proc_line("   0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0 0 1",
	                 AF_INET6, BROKER_PROTO_UDP, &s);
	ok(r == 1 && s.port == 53 && s.family == AF_INET6 && s.v6only == -1,
	   "an unconnected UDP6 socket (v6only unknown from /proc)");
	r = pn_proc_line("   0: 00000000:0035 0100007F:0035 07 00000000:00000000 00:00000000 00000000 0 0 1",
	                 AF_INET, BROKER_PROTO_UDP, &s);
	ok(r == 0, "a connected UDP socket is not reported");
	r = pn_proc_line("   0: 00000000:0000 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
	                 AF_INET, BROKER_PROTO_TCP, &s);
	ok(r == 0, "port 0 is not reported");

	static const char *const bad[] = {
		"",
		"sl local_address rem_address st",
		"   0: 0100007F:1F90",
		"   0: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 1000 0 1",
		"   0: 0100007F:1F9 00000000:0000 0A 0:0 0:0 0 1000 0 1",
		"   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 x 0 1",
		"   0 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 1000 0 1",
		"   0: 0100007F:1F90 00000000:0000 0A",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(pn_proc_line(bad[i], AF_INET, BROKER_PROTO_TCP, &s) == -EINVAL, "malformed: \"%s\"", bad[i]);
}

static void test_table(void)
{
	char dir[] = "/tmp/test_pn_parse.XXXXXX", path[64];
	FILE *f;
	int r;

	if (!mkdtemp(dir)) {
		skip(4, "no temp dir");
		return;
	}
	snprintf(path, sizeof(path), "%s/tcp", dir);
	f = fopen(path, "w");
	fputs("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	      "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
	      "   1: garbage\n"
	      "   2: also garbage\n"
	      "   3: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 2 1\n",
	      f);
	fclose(f);
	nadded = 0;
	loglen = 0;
	r = pn_proc_read(path, AF_INET, BROKER_PROTO_TCP, add, test_log, NULL);
	ok(r == 0 && nadded == 2 && added[0].port == 22 && added[1].port == 3306 && added[1].uid == 998,
	   "a table: the header skipped, two listeners (%d)", nadded);
	ok(strstr(logbuf, ":3: cannot parse \"   1: garbage") && strstr(logbuf, "tcp: 2 malformed lines skipped") &&
	   warnings == 0, "malformed lines: the first quoted, all counted, at debug");
	snprintf(path, sizeof(path), "%s/tcp6", dir);
	ok(pn_proc_read(path, AF_INET6, BROKER_PROTO_TCP, add, test_log, NULL) == 0,
	   "a missing IPv6 table is no IPv6, not an error");
	snprintf(path, sizeof(path), "%s/udp", dir);
	ok(pn_proc_read(path, AF_INET, BROKER_PROTO_UDP, add, test_log, NULL) == -ENOENT,
	   "a missing IPv4 table: -ENOENT");
	snprintf(path, sizeof(path), "%s/tcp", dir);
	unlink(path);
	rmdir(dir);
}

/* One sock_diag answer: nlmsghdr + inet_diag_msg (+ an INET_DIAG_SKV6ONLY attribute). */
struct diag_msg {
	struct nlmsghdr nh;
	struct inet_diag_msg m;
	struct rtattr a;
	uint8_t v6only;
	uint8_t pad[3];
};

static void diag_fill(struct diag_msg *d, int family, int state, uint16_t sport, int with_v6only, int v6only)
{
	memset(d, 0, sizeof(*d));
	d->nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	d->nh.nlmsg_len = NLMSG_LENGTH(sizeof(d->m));
	d->m.idiag_family = (uint8_t)family;
	d->m.idiag_state = (uint8_t)state;
	d->m.id.idiag_sport = htons(sport);
	d->m.idiag_uid = 1234;
	if (family == AF_INET)
		d->m.id.idiag_src[0] = htonl(0x7f000001);
	if (with_v6only) {
		d->a.rta_type = INET_DIAG_SKV6ONLY;
		d->a.rta_len = RTA_LENGTH(1);
		d->v6only = (uint8_t)v6only;
		d->nh.nlmsg_len = NLMSG_LENGTH(sizeof(d->m)) + RTA_ALIGN(d->a.rta_len);
	}
}

static void test_netlink(void)
{
	struct pn_dump tcp4 = { AF_INET, BROKER_PROTO_TCP, "tcp", 0 };
	struct pn_dump tcp6 = { AF_INET6, BROKER_PROTO_TCP, "tcp6", 0 };
	struct pn_dump udp4 = { AF_INET, BROKER_PROTO_UDP, "udp", 0 };
	struct diag_msg d;
	struct pn_sock s;

	diag_fill(&d, AF_INET, PN_TCP_LISTEN, 8080, 0, 0);
	ok(pn_nl_sock(&tcp4, &d.nh, &s) == 1 && s.port == 8080 && s.uid == 1234 && s.proto == BROKER_PROTO_TCP,
	   "a listening TCP socket");
	addr_is(&s, "127.0.0.1", "sock_diag");
	diag_fill(&d, AF_INET, PN_TCP_ESTABLISHED, 8080, 0, 0);
	ok(pn_nl_sock(&tcp4, &d.nh, &s) == 0, "an established one is not reported");
	diag_fill(&d, AF_INET6, PN_TCP_LISTEN, 8080, 1, 1);
	ok(pn_nl_sock(&tcp6, &d.nh, &s) == 1 && s.v6only == 1, "INET_DIAG_SKV6ONLY 1: v6-only");
	diag_fill(&d, AF_INET6, PN_TCP_LISTEN, 8080, 1, 0);
	ok(pn_nl_sock(&tcp6, &d.nh, &s) == 1 && s.v6only == 0, "INET_DIAG_SKV6ONLY 0: dual-stack");
	diag_fill(&d, AF_INET6, PN_TCP_LISTEN, 8080, 0, 0);
	ok(pn_nl_sock(&tcp6, &d.nh, &s) == 1 && s.v6only == -1, "no attribute: unknown");
	diag_fill(&d, AF_INET6, PN_TCP_LISTEN, 8080, 0, 0);
	ok(pn_nl_sock(&tcp4, &d.nh, &s) == 0, "another family than the dump's: ignored");
	diag_fill(&d, AF_INET, PN_TCP_CLOSE, 53, 0, 0);
	ok(pn_nl_sock(&udp4, &d.nh, &s) == 1 && s.proto == BROKER_PROTO_UDP, "an unconnected UDP socket");
	d.m.id.idiag_dport = htons(53);
	ok(pn_nl_sock(&udp4, &d.nh, &s) == 0, "a connected UDP socket is not reported");
	diag_fill(&d, AF_INET, PN_TCP_LISTEN, 8080, 0, 0);
	d.nh.nlmsg_len = NLMSG_LENGTH(sizeof(d.m)) - 1;
	ok(pn_nl_sock(&tcp4, &d.nh, &s) == 0, "a message too short for inet_diag_msg: ignored");
}

int main(void)
{
	plan(28);
	test_lines();
	test_table();
	test_netlink();
	return done_testing();
}
