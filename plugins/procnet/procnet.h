/*
 * plugins/procnet/procnet.h - internal interface of the procnet watcher:
 * the scans and reports (procnet.c), the netlink sock_diag dumps
 * (pn_netlink.c) and the /proc/net tables (pn_proc.c).
 */
#ifndef BROKER_PLUGINS_PROCNET_H
#define BROKER_PLUGINS_PROCNET_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"
#include "plugins/common/seen_twice.h"

struct event;
struct nlmsghdr;

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

/* The host table (set when the core loads the plugin). */
extern const struct broker_host *pn_host;

/* procnet.c: the scan in progress. */
void pn_cur_add(struct pn_state *st, const struct pn_sock *s);   /* filters applied here */
void pn_sock_normalize(struct pn_sock *s);                       /* ::ffff:a.b.c.d counts as v4 */
void pn_scan_next(struct pn_state *st);                          /* run dumps from st->dump on */
void pn_scan_abort(struct pn_state *st, const char *why, int err);

/* pn_netlink.c: NETLINK_SOCK_DIAG dumps, read non-blocking from an event on the loop. */
int pn_nl_open(struct pn_state *st);                             /* 0 or -errno */
void pn_nl_close(struct pn_state *st);
int pn_nl_request(struct pn_state *st, const struct pn_dump *d); /* 0 or -errno */
void pn_nl_failed(struct pn_state *st, int err);                 /* fall back to /proc, or abort */
/*
 * One SOCK_DIAG_BY_FAMILY message of dump d into *s (pure).  1: a socket we
 * report (listening TCP, unconnected UDP); 0: not one (or too short).
 */
int pn_nl_sock(const struct pn_dump *d, const struct nlmsghdr *nh, struct pn_sock *s);

/* pn_proc.c: the /proc/net/{tcp,tcp6,udp,udp6} tables (pure but for reading the file). */
typedef void (*pn_log_fn)(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * One line of /proc/net/{tcp,udp}{,6}.  1: a socket we report, in *s;
 * 0: a socket we do not (connected, not listening); -EINVAL: malformed.
 */
int pn_proc_line(const char *line, int family, int proto, struct pn_sock *s);
/*
 * Read the whole table at path (of family and proto): add(arg, s) for each
 * socket we report.  Malformed lines are skipped and logged at debug, a
 * file over PN_PROC_MAX is cut there with a warning.  0, or -errno when it
 * cannot be opened (a missing IPv6 table is 0: no IPv6 in this kernel).
 */
int pn_proc_read(const char *path, int family, int proto, void (*add)(void *arg, struct pn_sock *s),
                 pn_log_fn log, void *arg);

#endif
