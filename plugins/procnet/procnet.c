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
 * Netlink dumps are read non-blocking from an event on the loop
 * (pn_netlink.c); the /proc/net tables are read by pn_proc.c.
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
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "broker/plugin.h"
#include "plugins/common/seen_twice.h"
#include "procnet.h"

const struct broker_host *pn_host;

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
void pn_cur_add(struct pn_state *st, const struct pn_sock *s)
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
void pn_sock_normalize(struct pn_sock *s)
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
	r = pn_host->mapping_set(st->h, b.owner, b.desc, &b.m, 1);
	if (r < 0)
		pn_host->log(st->h, BROKER_LOG_WARN, "%s: mapping refused: %s", b.owner, strerror(-r));
	else
		pn_host->log(st->h, BROKER_LOG_DEBUG, "%s: reported (%s)", b.owner, b.desc);
}

static void report_remove(struct pn_state *st, const struct pn_sock *s)
{
	char owner[INET6_ADDRSTRLEN + 24];

	sock_owner(s, owner, sizeof(owner));
	pn_host->mapping_remove(st->h, owner);
	pn_host->log(st->h, BROKER_LOG_DEBUG, "%s: gone", owner);
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

	r = pn_host->resync_begin(st->h);
	if (r < 0)
		return r;
	seen_twice_report_all(&sock_ops, st, st->tab, st->ntab);
	return pn_host->resync_commit(st->h);
}

/* A complete scan is in st->cur: merge it into the table and report changes. */
static void scan_apply(struct pn_state *st)
{
	struct pn_sock *nt = st->cur;
	size_t i, n = 0;
	int first;

	if (st->truncated)
		pn_host->log(st->h, BROKER_LOG_WARN, "more than %d sockets: the rest are ignored "
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
	pn_host->log(st->h, BROKER_LOG_TRACE, "scan %d done: %zu sockets", st->seen.scans, n);
	if (first && report_all(st) < 0)
		pn_host->log(st->h, BROKER_LOG_WARN, "cannot report the first snapshot");
}

/* ------------------------------------------------------------- scans */

/* pn_log_fn for pn_proc_read: arg is the state. */
static void scan_log(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	struct pn_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	pn_host->vlog(st->h, level, fmt, ap);
	va_end(ap);
}

static void proc_add(void *arg, struct pn_sock *s)
{
	pn_sock_normalize(s);
	pn_cur_add(arg, s);
}

/* Read the whole /proc/net table of dump d (pn_proc.c).  0, or -errno. */
static int scan_proc(struct pn_state *st, const struct pn_dump *d)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/%s", st->proc_dir, d->procfile);
	return pn_proc_read(path, d->family, d->proto, proc_add, scan_log, st);
}

static void scan_reset(struct pn_state *st)
{
	free(st->cur);
	st->cur = NULL;
	st->ncur = st->capcur = 0;
	st->truncated = 0;
	st->scanning = 0;
}

void pn_scan_abort(struct pn_state *st, const char *why, int err)
{
	if (err != st->last_error)
		pn_host->log(st->h, BROKER_LOG_WARN, "scan failed: %s: %s (nothing changed; retrying)",
		          why, strerror(err));
	st->last_error = err;
	scan_reset(st);
	/* A fresh socket next time: a half-read dump must not leak into the next scan. */
	pn_nl_close(st);
}

/* Run dumps from st->dump on: /proc ones at once, a netlink one until its answer. */
void pn_scan_next(struct pn_state *st)
{
	int r;

	while (st->dump < 4) {
		struct pn_dump *d = &st->dumps[st->dump];

		if (st->method == PN_PROC || d->use_proc) {
			r = scan_proc(st, d);
			if (r < 0) {
				char why[320];

				snprintf(why, sizeof(why), "cannot read %s/%s", st->proc_dir, d->procfile);
				pn_scan_abort(st, why, -r);
				return;
			}
			st->dump++;
			continue;
		}
		if (st->nl < 0 && (r = pn_nl_open(st)) < 0) {
			if (st->method == PN_AUTO) {
				pn_nl_failed(st, -r);
				return;
			}
			pn_scan_abort(st, "cannot open a NETLINK_SOCK_DIAG socket", -r);
			return;
		}
		r = pn_nl_request(st, d);
		if (r < 0) {
			pn_nl_failed(st, -r);
			return;
		}
		return;  /* on_nl_read goes on */
	}
	if (st->last_error)
		pn_host->log(st->h, BROKER_LOG_INFO, "scanning works again");
	st->last_error = 0;
	st->scanning = 0;
	scan_apply(st);
}

static void on_timer(void *arg)
{
	struct pn_state *st = arg;

	if (st->scanning)
		pn_scan_abort(st, "the netlink dump did not finish within one interval", ETIMEDOUT);
	pn_host->timer_arm(st->timer, st->interval_ms);
	scan_reset(st);
	st->scanning = 1;
	st->dump = 0;
	pn_scan_next(st);
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
	iv = pn_host->option_int(h, "interval_ms");
	if (iv < 100 || iv > 3600000) {
		snprintf(err, errlen, "interval_ms=%lld: must be 100..3600000", iv);
		free(st);
		return -EINVAL;
	}
	st->interval_ms = (long)iv;
	m = pn_host->option_string(h, "method");
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
	dir = pn_host->option_string(h, "proc_dir");
	if (!dir || !*dir)
		dir = "/proc/net";
	if (strlen(dir) >= sizeof(st->proc_dir)) {
		snprintf(err, errlen, "proc_dir: path too long");
		free(st);
		return -EINVAL;
	}
	snprintf(st->proc_dir, sizeof(st->proc_dir), "%s", dir);
	if ((r = parse_ranges("include", pn_host->option_string(h, "include"), st->inc, &st->ninc,
	                      err, errlen)) < 0 ||
	    (r = parse_ranges("exclude", pn_host->option_string(h, "exclude"), st->exc, &st->nexc,
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
	st->timer = pn_host->timer_new(st->h, on_timer, st);
	if (!st->timer) {
		snprintf(err, errlen, "cannot create a timer (out of memory?)");
		return -ENOMEM;
	}
	st->started = 1;
	pn_host->log(st->h, BROKER_LOG_INFO, "watching listening sockets every %ld ms (method %s)",
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
	pn_nl_close(st);
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
	/* docker-proxy, a host-network container: another watcher knows their owner better. */
	.watcher_flags = BROKER_WATCHER_YIELDS,
};

BROKER_PLUGIN_DEFINE(pn_plugin, pn_host)
