/*
 * plugins/procnet/procnet.c - watcher plugin: every listening TCP socket and
 * every unconnected UDP socket in the broker's network namespace becomes a
 * mapping.
 *
 * Every interval_ms the plugin scans the namespace: through netlink
 * sock_diag (NETLINK_SOCK_DIAG, one inet_diag_req_v2 dump per family and
 * protocol: TCP in state LISTEN, UDP in state CLOSE with no peer), or by
 * parsing /proc/net/{tcp,tcp6,udp,udp6} where netlink is unavailable
 * (method=auto falls back per dump; method=netlink|proc forces one).
 * Netlink dumps are read non-blocking from an event on the loop.
 *
 * A socket must be present in two consecutive complete scans before it is
 * reported, so listeners that live shorter than one interval never are;
 * it is removed after the first complete scan it is missing from.  A scan
 * that fails or does not finish within one interval changes nothing.
 *
 * Owner ids are "PROTO/ADDR:PORT" ("tcp/0.0.0.0:8080", "udp/[::]:5353").
 *
 * Linux only.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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

#include <event2/event.h>

#include "broker/plugin.h"
#include "plugins/common/seen_twice.h"

static const struct broker_host *host;

#define PN_MAX_SOCKETS 16384      /* distinct sockets kept per scan */
#define PN_MAX_RANGES 64          /* include/exclude ranges */
#define PN_PROC_MAX (64u << 20)   /* bytes read from one /proc/net file */
#define PN_NL_BUF 65536
#define PN_TCP_LISTEN 10
#define PN_TCP_CLOSE 7
#define PN_TCP_ESTABLISHED 1

enum pn_method { PN_AUTO, PN_NETLINK, PN_PROC };

/* One socket found by a scan; the key is (proto, family, addr, port). */
struct pn_sock {
	uint8_t proto;                  /* BROKER_PROTO_TCP / _UDP */
	uint8_t family;                 /* AF_INET / AF_INET6 */
	uint16_t port;
	uint8_t addr[16];               /* v4 in the first 4 bytes */
	/* not part of the key */
	int v6only;                     /* -1 unknown (proc), 0, 1 */
	unsigned uid;
	struct seen_twice_mark mark;    /* consecutive scans it was in; reported */
};

struct pn_range {
	unsigned lo, hi;
};

/* The four dumps of one scan. */
struct pn_dump {
	uint8_t family, proto;
	const char *procfile;           /* under proc_dir */
	int use_proc;                   /* netlink refused this dump (auto) */
};

struct pn_state {
	struct broker_plugin_handle *h;
	struct broker_timer *timer;
	long interval_ms;
	enum pn_method method;
	char proc_dir[256];
	struct pn_range inc[PN_MAX_RANGES], exc[PN_MAX_RANGES];
	size_t ninc, nexc;

	int started;
	int nl;                         /* netlink socket, -1 when none */
	struct event *nl_ev;
	unsigned nl_gen;                /* bumped when the socket closes */
	uint32_t nl_seq;

	/* the scan in progress */
	int scanning;
	size_t dump;                    /* index into dumps */
	struct pn_sock *cur;
	size_t ncur, capcur;
	int truncated;                  /* more than PN_MAX_SOCKETS seen */

	/* what the last complete scans found (sorted by key) */
	struct pn_sock *tab;
	size_t ntab;
	struct seen_twice seen;         /* complete scans so far; the first snapshot reported */
	int last_error;                 /* to log a repeating failure once */

	struct pn_dump dumps[4];
};

/* ------------------------------------------------------------- options */

/* "1024-65535,80" -> ranges.  0: ok; -EINVAL with err set. */
static int parse_ranges(const char *name, const char *s, struct pn_range *r, size_t *n,
                        char *err, size_t errlen)
{
	const char *p = s;

	*n = 0;
	if (!s)
		return 0;
	while (*p) {
		char *end;
		unsigned long lo, hi;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p < '0' || *p > '9')
			goto bad;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				goto bad;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		while (*p == ' ')
			p++;
		if (*p && *p != ',')
			goto bad;
		if (lo < 1 || hi > 65535 || lo > hi) {
			snprintf(err, errlen, "%s: range %lu-%lu is not within 1-65535 (write LOW-HIGH)",
			         name, lo, hi);
			return -EINVAL;
		}
		if (*n == PN_MAX_RANGES) {
			snprintf(err, errlen, "%s: more than %d ranges", name, PN_MAX_RANGES);
			return -EINVAL;
		}
		r[*n].lo = (unsigned)lo;
		r[*n].hi = (unsigned)hi;
		(*n)++;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: cannot parse \"%s\" (write ports and ranges: 1024-65535,80)",
	         name, s);
	return -EINVAL;
}

static int in_ranges(const struct pn_range *r, size_t n, unsigned port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return 1;
	return 0;
}

static int port_wanted(const struct pn_state *st, unsigned port)
{
	if (port == 0 || port > 65535)
		return 0;
	if (st->ninc && !in_ranges(st->inc, st->ninc, port))
		return 0;
	return !in_ranges(st->exc, st->nexc, port);
}

/* ------------------------------------------------------------- socket set */

static int sock_cmp(const void *a, const void *b)
{
	const struct pn_sock *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Add one socket to the scan in progress (filters applied here). */
static void cur_add(struct pn_state *st, const struct pn_sock *s)
{
	if (!port_wanted(st, s->port))
		return;
	if (st->ncur == st->capcur) {
		size_t cap = st->capcur ? st->capcur * 2 : 64;
		struct pn_sock *n;

		if (st->ncur >= PN_MAX_SOCKETS) {
			st->truncated = 1;
			return;
		}
		n = realloc(st->cur, cap * sizeof(*n));
		if (!n) {
			st->truncated = 1;
			return;
		}
		st->cur = n;
		st->capcur = cap;
	}
	st->cur[st->ncur++] = *s;
}

/* v4-mapped v6 addresses (::ffff:a.b.c.d) count as the v4 address. */
static void sock_normalize(struct pn_sock *s)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (s->family == AF_INET6 && memcmp(s->addr, mapped, 12) == 0) {
		memmove(s->addr, s->addr + 12, 4);
		memset(s->addr + 4, 0, 12);
		s->family = AF_INET;
		s->v6only = -1;
	}
}

/* ------------------------------------------------------------- mappings */

static int addr_is_zero(const struct pn_sock *s)
{
	static const uint8_t zero[16];

	return memcmp(s->addr, zero, s->family == AF_INET ? 4 : 16) == 0;
}

static int addr_is_loopback(const struct pn_sock *s)
{
	static const uint8_t v6lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

	if (s->family == AF_INET)
		return s->addr[0] == 127;
	return memcmp(s->addr, v6lo, 16) == 0;
}

static void addr_text(const struct pn_sock *s, char *buf, size_t len)
{
	if (!inet_ntop(s->family, s->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* "tcp/0.0.0.0:8080", "udp/[::1]:53" */
static void sock_owner(const struct pn_sock *s, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_text(s, a, sizeof(a));
	snprintf(buf, len, s->family == AF_INET6 ? "%s/[%s]:%u" : "%s/%s:%u",
	         s->proto == BROKER_PROTO_UDP ? "udp" : "tcp", a, (unsigned)s->port);
}

struct pn_mapping_buf {
	struct broker_mapping m;
	const char *connect[2];
	char c0[INET6_ADDRSTRLEN + 16], c1[INET6_ADDRSTRLEN + 16];
	char desc[160];
	char owner[INET6_ADDRSTRLEN + 24];
};

/*
 * The mapping for one socket: wildcard binds map to 0.0.0.0 / :: and are
 * reached on loopback; loopback binds map to 127.0.0.1 / ::1; a bind to one
 * other address maps to the wildcard and is reached on that address.
 */
static void sock_mapping(const struct pn_sock *s, struct pn_mapping_buf *b)
{
	char a[INET6_ADDRSTRLEN];
	unsigned port = s->port;

	memset(b, 0, sizeof(*b));
	addr_text(s, a, sizeof(a));
	sock_owner(s, b->owner, sizeof(b->owner));
	b->m.proto = (enum broker_proto)s->proto;
	b->m.host_port = s->port;
	b->m.connect = b->connect;
	b->connect[0] = b->c0;
	b->connect[1] = b->c1;
	b->m.nconnect = 1;
	if (s->family == AF_INET) {
		if (addr_is_zero(s)) {
			b->m.host_ip = "0.0.0.0";
			snprintf(b->c0, sizeof(b->c0), "127.0.0.1:%u", port);
		} else {
			b->m.host_ip = addr_is_loopback(s) ? "127.0.0.1" : "0.0.0.0";
			snprintf(b->c0, sizeof(b->c0), "%s:%u", a, port);
		}
	} else if (addr_is_zero(s)) {
		b->m.host_ip = "::";
		if (s->v6only == 0) {
			/* dual-stack: either loopback reaches it */
			snprintf(b->c0, sizeof(b->c0), "127.0.0.1:%u", port);
			snprintf(b->c1, sizeof(b->c1), "[::1]:%u", port);
			b->m.nconnect = 2;
		} else {
			/* v6-only (or unknown, from /proc: then IPv4 loopback second) */
			snprintf(b->c0, sizeof(b->c0), "[::1]:%u", port);
			snprintf(b->c1, sizeof(b->c1), "127.0.0.1:%u", port);
			b->m.nconnect = s->v6only == 1 ? 1 : 2;
		}
	} else {
		b->m.host_ip = addr_is_loopback(s) ? "::1" : "::";
		snprintf(b->c0, sizeof(b->c0), "[%s]:%u", a, port);
	}
	snprintf(b->desc, sizeof(b->desc), "%s %s on %s%s%s:%u (uid %u)",
	         s->proto == BROKER_PROTO_UDP ? "udp" : "tcp",
	         s->proto == BROKER_PROTO_UDP ? "socket" : "listener",
	         s->family == AF_INET6 ? "[" : "", a, s->family == AF_INET6 ? "]" : "", port, s->uid);
}

static void report_set(struct pn_state *st, const struct pn_sock *s)
{
	struct pn_mapping_buf b;
	int r;

	sock_mapping(s, &b);
	r = host->mapping_set(st->h, b.owner, b.desc, &b.m, 1);
	if (r < 0)
		host->log(st->h, BROKER_LOG_WARN, "%s: mapping refused: %s", b.owner, strerror(-r));
	else
		host->log(st->h, BROKER_LOG_DEBUG, "%s: reported (%s)", b.owner, b.desc);
}

static void report_remove(struct pn_state *st, const struct pn_sock *s)
{
	char owner[INET6_ADDRSTRLEN + 24];

	sock_owner(s, owner, sizeof(owner));
	host->mapping_remove(st->h, owner);
	host->log(st->h, BROKER_LOG_DEBUG, "%s: gone", owner);
}

static void sock_report(void *ctx, void *e)
{
	report_set(ctx, e);
}

static void sock_gone(void *ctx, const void *old)
{
	report_remove(ctx, old);
}

/* A socket is confirmed once it is in two consecutive scans (same key, same socket). */
static const struct seen_twice_ops sock_ops = {
	.size = sizeof(struct pn_sock),
	.mark = offsetof(struct pn_sock, mark),
	.cmp = sock_cmp,
	.report = sock_report,
	.gone = sock_gone,
};

/* Report every confirmed socket as one snapshot. */
static int report_all(struct pn_state *st)
{
	int r;

	r = host->resync_begin(st->h);
	if (r < 0)
		return r;
	seen_twice_report_all(&sock_ops, st, st->tab, st->ntab);
	return host->resync_commit(st->h);
}

/* A complete scan is in st->cur: merge it into the table and report changes. */
static void scan_apply(struct pn_state *st)
{
	struct pn_sock *nt = st->cur;
	size_t i, n = 0;
	int first;

	if (st->truncated)
		host->log(st->h, BROKER_LOG_WARN, "more than %d sockets: the rest are ignored "
		          "(narrow them with include=/exclude=)", PN_MAX_SOCKETS);
	if (st->ncur)
		qsort(st->cur, st->ncur, sizeof(*st->cur), sock_cmp);
	/* dedupe (SO_REUSEPORT groups show one socket per member) */
	for (i = 0; i < st->ncur; i++) {
		if (n && sock_cmp(&nt[n - 1], &st->cur[i]) == 0)
			continue;
		nt[n++] = st->cur[i];
	}
	/* carry over what the old table knew; report what vanished and what is confirmed */
	seen_twice_merge(&sock_ops, st, st->seen.synced, st->tab, st->ntab, nt, n);
	free(st->tab);
	st->tab = nt;
	st->ntab = n;
	st->cur = NULL;
	st->ncur = st->capcur = 0;
	/* The first scan that can confirm anything reports the whole view, so
	 * owners left over from an earlier run are dropped. */
	first = seen_twice_scan_done(&st->seen);
	host->log(st->h, BROKER_LOG_TRACE, "scan %d done: %zu sockets", st->seen.scans, n);
	if (first && report_all(st) < 0)
		host->log(st->h, BROKER_LOG_WARN, "cannot report the first snapshot");
}

/* ------------------------------------------------------------- /proc/net */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly n hex digits at *p into *v; advances *p. */
static int hex_n(const char **p, int n, uint32_t *v)
{
	uint32_t x = 0;
	int i, d;

	for (i = 0; i < n; i++) {
		d = hexval((unsigned char)(*p)[i]);
		if (d < 0)
			return -1;
		x = x << 4 | (uint32_t)d;
	}
	*p += n;
	*v = x;
	return 0;
}

/*
 * "0100007F:0035" (v4) or 32 hex digits ":" port (v6).  The kernel prints
 * each 32-bit word of the address as a native-endian number.
 */
static int parse_proc_addr(const char **pp, int family, uint8_t *addr, unsigned *port)
{
	const char *p = *pp;
	int words = family == AF_INET ? 1 : 4, i;
	uint32_t w, prt;

	for (i = 0; i < words; i++) {
		if (hex_n(&p, 8, &w) < 0)
			return -1;
		memcpy(addr + 4 * i, &w, 4);
	}
	if (*p++ != ':' || hex_n(&p, 4, &prt) < 0)
		return -1;
	if (*p != ' ' && *p != '\t')
		return -1;
	*port = prt;
	*pp = p;
	return 0;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * One line of /proc/net/{tcp,udp}{,6}.  1: a socket we report, in *s;
 * 0: a socket we do not (connected, not listening); -1: malformed.
 */
static int parse_proc_line(const char *line, int family, int proto, struct pn_sock *s)
{
	const char *p = skip_ws(line);
	unsigned lport, rport;
	uint8_t raddr[16];
	uint32_t state;
	char *end;
	unsigned long uid;
	static const uint8_t zero[16];

	memset(s, 0, sizeof(*s));
	/* "sl:" */
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != ':')
		return -1;
	p = skip_ws(p);
	if (parse_proc_addr(&p, family, s->addr, &lport) < 0)
		return -1;
	p = skip_ws(p);
	if (parse_proc_addr(&p, family, raddr, &rport) < 0)
		return -1;
	p = skip_ws(p);
	if (hex_n(&p, 2, &state) < 0 || (*p != ' ' && *p != '\t'))
		return -1;
	/* tx:rx tr:when retrnsmt uid */
	p = skip_ws(p);
	p = strchr(p, ' ');
	if (!p)
		return -1;
	p = skip_ws(p);
	p = strchr(p, ' ');
	if (!p)
		return -1;
	p = skip_ws(p);
	p = strchr(p, ' ');
	if (!p)
		return -1;
	p = skip_ws(p);
	if (*p < '0' || *p > '9')
		return -1;
	uid = strtoul(p, &end, 10);
	if (end == p || (*end != ' ' && *end != '\t'))
		return -1;
	s->family = (uint8_t)family;
	s->proto = (uint8_t)proto;
	s->port = (uint16_t)lport;
	s->uid = (unsigned)uid;
	s->v6only = family == AF_INET6 ? -1 : 0;
	if (proto == BROKER_PROTO_TCP)
		return state == PN_TCP_LISTEN && lport != 0 ? 1 : 0;
	/* UDP: unconnected means state CLOSE and no peer */
	if (state != PN_TCP_CLOSE || rport != 0 ||
	    memcmp(raddr, zero, family == AF_INET ? 4 : 16) != 0 || lport == 0)
		return 0;
	return 1;
}

/* Read a whole /proc/net file.  0, or -errno. */
static int scan_proc(struct pn_state *st, const struct pn_dump *d)
{
	char path[320];
	FILE *f;
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t len;
	int lineno = 0, bad = 0, e;

	snprintf(path, sizeof(path), "%s/%s", st->proc_dir, d->procfile);
	f = fopen(path, "re");
	if (!f) {
		e = errno;
		/* No IPv6 in this kernel: no tcp6/udp6, nothing to find there. */
		if (e == ENOENT && d->family == AF_INET6)
			return 0;
		return -e;  /* scan_abort logs it, once while it repeats */
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct pn_sock s;
		int r;

		total += (size_t)len;
		if (total > PN_PROC_MAX) {
			host->log(st->h, BROKER_LOG_WARN, "%s: larger than %u bytes; the rest is ignored",
			          path, PN_PROC_MAX);
			break;
		}
		if (lineno++ == 0)
			continue;  /* header */
		r = parse_proc_line(line, d->family, d->proto, &s);
		if (r < 0) {
			if (!bad++)
				host->log(st->h, BROKER_LOG_DEBUG, "%s:%d: cannot parse \"%.80s\"", path,
				          lineno, line);
			continue;
		}
		if (r == 1) {
			sock_normalize(&s);
			cur_add(st, &s);
		}
	}
	free(line);
	fclose(f);
	if (bad)
		host->log(st->h, BROKER_LOG_DEBUG, "%s: %d malformed lines skipped", path, bad);
	return 0;
}

/* ------------------------------------------------------------- netlink */

static void nl_close(struct pn_state *st)
{
	if (st->nl_ev) {
		event_free(st->nl_ev);
		st->nl_ev = NULL;
	}
	if (st->nl >= 0) {
		close(st->nl);
		st->nl = -1;
	}
	st->nl_gen++;
}

static void on_nl_read(evutil_socket_t fd, short what, void *arg);

static int nl_open(struct pn_state *st)
{
	struct sockaddr_nl sa;

	st->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (st->nl < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (bind(st->nl, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		nl_close(st);
		return -e;
	}
	st->nl_ev = event_new(host->event_base(st->h), st->nl, EV_READ | EV_PERSIST, on_nl_read, st);
	if (!st->nl_ev || event_add(st->nl_ev, NULL) < 0) {
		nl_close(st);
		return -ENOMEM;
	}
	return 0;
}

static int nl_request(struct pn_state *st, const struct pn_dump *d)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl sa;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++st->nl_seq;
	req.r.sdiag_family = d->family;
	req.r.sdiag_protocol = d->proto == BROKER_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	req.r.idiag_states = d->proto == BROKER_PROTO_UDP ? 1u << PN_TCP_CLOSE : 1u << PN_TCP_LISTEN;
	do
		n = sendto(st->nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(req) ? 0 : -EIO;
}

/* One inet_diag_msg of the dump in progress. */
static void nl_take(struct pn_state *st, const struct pn_dump *d, const struct nlmsghdr *nh)
{
	const struct inet_diag_msg *m = NLMSG_DATA(nh);
	const struct rtattr *a;
	static const uint8_t zero[16];
	struct pn_sock s;
	int alen;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	if (m->idiag_family != d->family)
		return;
	memset(&s, 0, sizeof(s));
	s.family = m->idiag_family;
	s.proto = d->proto;
	s.port = ntohs(m->id.idiag_sport);
	s.uid = m->idiag_uid;
	memcpy(s.addr, m->id.idiag_src, s.family == AF_INET ? 4 : 16);
	s.v6only = s.family == AF_INET6 ? -1 : 0;
	if (d->proto == BROKER_PROTO_TCP && m->idiag_state != PN_TCP_LISTEN)
		return;
	if (d->proto == BROKER_PROTO_UDP &&
	    (m->idiag_state != PN_TCP_CLOSE || m->id.idiag_dport != 0 ||
	     memcmp(m->id.idiag_dst, zero, s.family == AF_INET ? 4 : 16) != 0))
		return;
	alen = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			s.v6only = *(const uint8_t *)RTA_DATA(a) ? 1 : 0;
	sock_normalize(&s);
	cur_add(st, &s);
}

static void scan_next(struct pn_state *st);
static void scan_abort(struct pn_state *st, const char *why, int err);

/* A netlink dump failed with -err: fall back to /proc (auto) or give up on this scan. */
static void nl_failed(struct pn_state *st, int err)
{
	struct pn_dump *d = &st->dumps[st->dump];

	if (st->method == PN_AUTO) {
		host->log(st->h, BROKER_LOG_INFO, "sock_diag %s%s: %s; reading %s/%s instead",
		          d->proto == BROKER_PROTO_UDP ? "udp" : "tcp", d->family == AF_INET6 ? "6" : "",
		          strerror(err), st->proc_dir, d->procfile);
		d->use_proc = 1;
		scan_next(st);
		return;
	}
	scan_abort(st, "netlink sock_diag failed", err);
}

static void on_nl_read(evutil_socket_t fd, short what, void *arg)
{
	struct pn_state *st = arg;
	static char buf[PN_NL_BUF] __attribute__((aligned(8)));
	unsigned gen = st->nl_gen;
	int rounds;

	(void)what;
	/* Bounded: at most 64 datagrams per wake-up, the rest on the next one. */
	for (rounds = 0; rounds < 64; rounds++) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		struct nlmsghdr *nh;
		ssize_t n;
		int len;

		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			if (st->scanning)
				nl_failed(st, errno);
			return;
		}
		if (n == 0)
			return;
		if (!st->scanning || from.nl_pid != 0)
			continue;  /* a late answer to an aborted scan, or not the kernel */
		len = (int)n;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != st->nl_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				st->dump++;
				scan_next(st);
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);
				int code = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0 ?
				           -e->error : EIO;

				nl_failed(st, code);
				break;
			}
			if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				nl_take(st, &st->dumps[st->dump], nh);
		}
		/* The socket was closed (scan aborted) or the scan ended: stop here. */
		if (st->nl_gen != gen || !st->scanning)
			return;
	}
}

/* ------------------------------------------------------------- scans */

static void scan_reset(struct pn_state *st)
{
	free(st->cur);
	st->cur = NULL;
	st->ncur = st->capcur = 0;
	st->truncated = 0;
	st->scanning = 0;
}

static void scan_abort(struct pn_state *st, const char *why, int err)
{
	if (err != st->last_error)
		host->log(st->h, BROKER_LOG_WARN, "scan failed: %s: %s (nothing changed; retrying)",
		          why, strerror(err));
	st->last_error = err;
	scan_reset(st);
	/* A fresh socket next time: a half-read dump must not leak into the next scan. */
	nl_close(st);
}

/* Run dumps from st->dump on: /proc ones at once, a netlink one until its answer. */
static void scan_next(struct pn_state *st)
{
	int r;

	while (st->dump < 4) {
		struct pn_dump *d = &st->dumps[st->dump];

		if (st->method == PN_PROC || d->use_proc) {
			r = scan_proc(st, d);
			if (r < 0) {
				char why[320];

				snprintf(why, sizeof(why), "cannot read %s/%s", st->proc_dir, d->procfile);
				scan_abort(st, why, -r);
				return;
			}
			st->dump++;
			continue;
		}
		if (st->nl < 0 && (r = nl_open(st)) < 0) {
			if (st->method == PN_AUTO) {
				nl_failed(st, -r);
				return;
			}
			scan_abort(st, "cannot open a NETLINK_SOCK_DIAG socket", -r);
			return;
		}
		r = nl_request(st, d);
		if (r < 0) {
			nl_failed(st, -r);
			return;
		}
		return;  /* on_nl_read goes on */
	}
	if (st->last_error)
		host->log(st->h, BROKER_LOG_INFO, "scanning works again");
	st->last_error = 0;
	st->scanning = 0;
	scan_apply(st);
}

static void on_timer(void *arg)
{
	struct pn_state *st = arg;

	if (st->scanning)
		scan_abort(st, "the netlink dump did not finish within one interval", ETIMEDOUT);
	host->timer_arm(st->timer, st->interval_ms);
	scan_reset(st);
	st->scanning = 1;
	st->dump = 0;
	scan_next(st);
}

/* ------------------------------------------------------------- lifecycle */

static int pn_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct pn_state *st;
	const char *m, *dir;
	long long iv;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	st->nl = -1;
	iv = host->option_int(h, "interval_ms");
	if (iv < 100 || iv > 3600000) {
		snprintf(err, errlen, "interval_ms=%lld: must be 100..3600000", iv);
		free(st);
		return -EINVAL;
	}
	st->interval_ms = (long)iv;
	m = host->option_string(h, "method");
	if (!m || strcmp(m, "auto") == 0) {
		st->method = PN_AUTO;
	} else if (strcmp(m, "netlink") == 0) {
		st->method = PN_NETLINK;
	} else if (strcmp(m, "proc") == 0) {
		st->method = PN_PROC;
	} else {
		snprintf(err, errlen, "method=%s: write auto, netlink or proc", m);
		free(st);
		return -EINVAL;
	}
	dir = host->option_string(h, "proc_dir");
	if (!dir || !*dir)
		dir = "/proc/net";
	if (strlen(dir) >= sizeof(st->proc_dir)) {
		snprintf(err, errlen, "proc_dir: path too long");
		free(st);
		return -EINVAL;
	}
	snprintf(st->proc_dir, sizeof(st->proc_dir), "%s", dir);
	if ((r = parse_ranges("include", host->option_string(h, "include"), st->inc, &st->ninc,
	                      err, errlen)) < 0 ||
	    (r = parse_ranges("exclude", host->option_string(h, "exclude"), st->exc, &st->nexc,
	                      err, errlen)) < 0) {
		free(st);
		return r;
	}
	st->dumps[0] = (struct pn_dump){ AF_INET, BROKER_PROTO_TCP, "tcp", 0 };
	st->dumps[1] = (struct pn_dump){ AF_INET6, BROKER_PROTO_TCP, "tcp6", 0 };
	st->dumps[2] = (struct pn_dump){ AF_INET, BROKER_PROTO_UDP, "udp", 0 };
	st->dumps[3] = (struct pn_dump){ AF_INET6, BROKER_PROTO_UDP, "udp6", 0 };
	*state = st;
	return 0;
}

static int pn_start(void *state, char *err, size_t errlen)
{
	struct pn_state *st = state;

	if (st->started)
		return 0;
	st->timer = host->timer_new(st->h, on_timer, st);
	if (!st->timer) {
		snprintf(err, errlen, "cannot create a timer (out of memory?)");
		return -ENOMEM;
	}
	st->started = 1;
	host->log(st->h, BROKER_LOG_INFO, "watching listening sockets every %ld ms (method %s)",
	          st->interval_ms,
	          st->method == PN_AUTO ? "auto" : st->method == PN_NETLINK ? "netlink" : "proc");
	/* First scan right away; the next after interval_ms. */
	on_timer(st);
	return 0;
}

static void pn_stop(void *state)
{
	struct pn_state *st = state;
	size_t i;

	if (!st || !st->started)
		return;
	/* The core frees host timers itself when a plugin stops (before or after
	 * this call): only forget it here, never touch it. */
	st->timer = NULL;
	nl_close(st);
	scan_reset(st);
	free(st->tab);
	st->tab = NULL;
	st->ntab = 0;
	memset(&st->seen, 0, sizeof(st->seen));
	st->last_error = 0;
	for (i = 0; i < 4; i++)
		st->dumps[i].use_proc = 0;
	st->started = 0;
}

static void pn_fini(void *state)
{
	pn_stop(state);
	free(state);
}

static int pn_resync(void *state)
{
	struct pn_state *st = state;

	if (!st->seen.synced)
		return 0;  /* the first snapshot comes after two scans */
	return report_all(st);
}

static const struct broker_option pn_options[] = {
	{ BROKER_OPT_INT, "interval_ms", "1000", "scan every this many milliseconds", 100, 3600000 },
	{ BROKER_OPT_STRING, "include", "",
	  "only these ports, e.g. 1024-65535,80 (empty: all)", 0, 0 },
	{ BROKER_OPT_STRING, "exclude", "",
	  "never these ports, e.g. the broker's own TCP control/link ports", 0, 0 },
	{ BROKER_OPT_STRING, "method", "auto",
	  "auto (netlink sock_diag, /proc/net where it fails), netlink or proc", 0, 0 },
	{ BROKER_OPT_PATH, "proc_dir", "/proc/net", "where the tcp, tcp6, udp, udp6 tables are", 0, 0 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin pn_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "procnet",
	.version = PACKAGE_VERSION,
	.description = "watch listening TCP and unconnected UDP sockets (netlink sock_diag, /proc/net)",
	.kinds = BROKER_KIND_WATCHER,
	.options = pn_options,
	.init = pn_init,
	.start = pn_start,
	.stop = pn_stop,
	.fini = pn_fini,
	.resync = pn_resync,
};

BROKER_PLUGIN_DEFINE(pn_plugin, host)
