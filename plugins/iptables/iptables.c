/*
 * plugins/iptables/iptables.c - watcher plugin: DNAT rules in the nat table
 * of the broker's network namespace become mappings.
 *
 * Every interval_ms the plugin runs `COMMAND -t nat` (iptables-save) and
 * `COMMAND6 -t nat` (ip6tables-save) one after the other, never blocking the
 * loop (plugins/common/spawn_capture.c): the child is spawned with
 * posix_spawnp in its own process group, its stdout and stderr are read
 * through non-blocking pipes from libevent events, it is reaped with
 * waitpid(WNOHANG) once both reach EOF, and it is killed (SIGKILL to the
 * group) when it runs longer than timeout_ms or prints more than max_output
 * bytes.  A run that fails changes nothing.
 *
 * In the chains named by `chains` (comma-separated fnmatch globs) it takes
 *   -A CHAIN [-d ADDR[/32]] -p tcp|udp [-m tcp] --dport N -j DNAT --to-destination ADDR[:PORT]
 *   -A CHAIN ... --dport N -j REDIRECT --to-ports M        (-> 127.0.0.1:M)
 *   -A CHAIN ... --dport N -j SOME-USER-CHAIN              (a node port: -> 127.0.0.1:N)
 * and ignores, with a debug log, what it cannot parse.
 *
 * Rules are grouped per owner "CHAIN:PROTO:DPORT" (IPv6 rules:
 * "CHAIN:PROTO:DPORT:v6").  An owner is reported once the same set of
 * rules was seen in two consecutive successful runs, and removed after the
 * first successful run that lacks it.
 *
 * Linux only.
 */
#include <config.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "broker/plugin.h"
#include "plugins/common/spawn_capture.h"

static const struct broker_host *host;

#define IPT_LINE_MAX 8192           /* longer lines are skipped */
#define IPT_TOKENS_MAX 256
#define IPT_ITEMS_MAX 8             /* mappings per owner */
#define IPT_OWNERS_MAX 4096         /* owners per family */
#define IPT_CHAINS_MAX 16384        /* declared chains remembered per run */
#define IPT_ID_MAX 160
#define IPT_ADDR_MAX 64             /* INET6_ADDRSTRLEN + room */
#define IPT_CONNECT_MAX 80

struct ipt_item {
	char host_ip[IPT_ADDR_MAX];
	char connect[IPT_CONNECT_MAX];
};

/* One owner "CHAIN:PROTO:DPORT[:v6]" and the rules found for it. */
struct ipt_owner {
	char id[IPT_ID_MAX];
	uint8_t proto;
	uint16_t dport;
	size_t nitems;
	struct ipt_item items[IPT_ITEMS_MAX];   /* sorted, unique */
	int seen;                               /* consecutive runs with exactly these items */
	int reported;
	size_t nrep;
	struct ipt_item rep[IPT_ITEMS_MAX];     /* what was reported */
};

/* One rule as parsed, before grouping. */
struct ipt_rule {
	char id[IPT_ID_MAX];
	uint8_t proto;
	uint16_t dport;
	struct ipt_item item;
};

struct ipt_family {
	int v6;
	char *command;                  /* NULL: not run */
	struct ipt_owner *owners;       /* sorted by id */
	size_t nowners;
	char last_error[160];           /* to log a repeating failure once */
};

struct ipt_state {
	struct broker_plugin_handle *h;
	struct broker_timer *timer;
	long interval_ms, timeout_ms;
	size_t max_output;
	char *chains;                   /* comma-separated globs (owned copy) */
	struct ipt_family fam[2];
	int started;
	struct spawn_capture *run;      /* the dump being run, NULL when none */
	int run_fam;                    /* its family */
	int rounds;                     /* complete rounds (both families tried) */
	int synced;                     /* the first full snapshot was reported */
};

static void run_next(struct ipt_state *st, int fam);
static void run_done(void *arg, const struct spawn_result *res);

/* ------------------------------------------------------------- chains */

static int chain_watched(const struct ipt_state *st, const char *chain)
{
	const char *p = st->chains;

	while (*p) {
		char pat[128];
		size_t n = strcspn(p, ",");

		if (n > 0 && n < sizeof(pat)) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (fnmatch(pat, chain, 0) == 0)
				return 1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* ------------------------------------------------------------- parsing */

/*
 * Split line into tokens in place; "..." groups (with \" and \\ escapes),
 * as iptables-save quotes comments.  Returns the count, or -1 when there
 * are too many or a quote is open.
 */
static int tokenize(char *line, char **tok, int max)
{
	char *p = line, *o;
	int n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n' || *p == '\r')
			break;
		if (n == max)
			return -1;
		tok[n++] = o = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					*o++ = *p;
				}
				if (*p != '"')
					return -1;
				p++;
			} else {
				*o++ = *p++;
			}
		}
		if (*p)
			p++;
		*o = '\0';
	}
	return n;
}

/* "1".."65535" exactly; anything else (0, 70000, 80:90, 8x) is -1. */
static long parse_port(const char *s)
{
	long v = 0;
	int i;

	if (!s || !*s)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

/*
 * -d value: "127.0.0.1/32", "10.0.0.5", "::1/128".  A single host gives its
 * address in out; a network (or junk) gives the wildcard.
 */
static void parse_dest(const char *s, int v6, char *out, size_t len)
{
	char a[IPT_ADDR_MAX];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	snprintf(out, len, "%s", v6 ? "::" : "0.0.0.0");
	if (n == 0 || n >= sizeof(a))
		return;
	if (slash && strcmp(slash + 1, v6 ? "128" : "32") != 0)
		return;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, bin) != 1)
		return;
	inet_ntop(v6 ? AF_INET6 : AF_INET, bin, out, (socklen_t)len);
}

/*
 * --to-destination: v4 "A.B.C.D[:PORT]", v6 "[ADDR]:PORT" or "ADDR".  No
 * ranges.  Writes "A.B.C.D:PORT" / "[ADDR]:PORT" (PORT defaults to dport).
 * 0, or -1 when it cannot be used.
 */
static int parse_to_dest(const char *s, int v6, long dport, char *out, size_t len)
{
	char a[IPT_ADDR_MAX], norm[IPT_ADDR_MAX];
	unsigned char bin[16];
	const char *port = NULL;
	size_t n;
	long p = dport;

	if (v6) {
		if (*s == '[') {
			const char *close = strchr(s, ']');

			if (!close)
				return -1;
			n = (size_t)(close - s - 1);
			s++;
			if (close[1] == ':')
				port = close + 2;
			else if (close[1])
				return -1;
		} else {
			n = strlen(s);
		}
	} else {
		const char *colon = strchr(s, ':');

		n = colon ? (size_t)(colon - s) : strlen(s);
		if (colon)
			port = colon + 1;
	}
	if (n == 0 || n >= sizeof(a))
		return -1;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, bin) != 1)
		return -1;
	if (port && (p = parse_port(port)) < 0)
		return -1;
	inet_ntop(v6 ? AF_INET6 : AF_INET, bin, norm, sizeof(norm));
	n = (size_t)snprintf(out, len, v6 ? "[%s]:%ld" : "%s:%ld", norm, p);
	return n < len ? 0 : -1;
}

struct ipt_chainset {
	char **names;
	size_t n;
};

static int chain_declared(const struct ipt_chainset *cs, const char *name)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * One "-A ..." line (tokenized).  1: a rule in *r; 0: not ours (other
 * chain, no port); -1: ours but unusable (why says why).
 */
static int parse_rule(const struct ipt_state *st, int v6, char **tok, int n,
                      const struct ipt_chainset *cs, struct ipt_rule *r, const char **why)
{
	const char *chain, *proto = NULL, *dst = NULL, *dport = NULL, *target = NULL;
	const char *todest = NULL, *toports = NULL;
	int i, neg = 0, negdport = 0;
	long port;

	memset(r, 0, sizeof(*r));
	*why = NULL;
	if (n < 2 || strcmp(tok[0], "-A") != 0)
		return 0;
	chain = tok[1];
	if (!chain_watched(st, chain))
		return 0;
	for (i = 2; i < n; i++) {
		const char *o = tok[i], *v = i + 1 < n ? tok[i + 1] : NULL;

		if (strcmp(o, "!") == 0) {
			neg = 1;
			continue;
		}
		if (strcmp(o, "-p") == 0 || strcmp(o, "--protocol") == 0) {
			if (!v) {
				*why = "-p without a value";
				return -1;
			}
			if (neg) {
				*why = "negated protocol";
				return -1;
			}
			proto = v;
			i++;
		} else if (strcmp(o, "-d") == 0 || strcmp(o, "--destination") == 0) {
			if (!v) {
				*why = "-d without a value";
				return -1;
			}
			dst = neg ? NULL : v;  /* ! -d X: any other address, so the wildcard */
			i++;
		} else if (strcmp(o, "--dport") == 0 || strcmp(o, "--destination-port") == 0) {
			if (!v) {
				*why = "--dport without a value";
				return -1;
			}
			dport = v;
			negdport = neg;
			i++;
		} else if (strcmp(o, "-j") == 0 || strcmp(o, "--jump") == 0) {
			if (!v) {
				*why = "-j without a target";
				return -1;
			}
			target = v;
			i++;
		} else if (strcmp(o, "--to-destination") == 0) {
			if (!v) {
				*why = "--to-destination without a value";
				return -1;
			}
			if (!todest)
				todest = v;
			i++;
		} else if (strcmp(o, "--to-ports") == 0) {
			if (!v) {
				*why = "--to-ports without a value";
				return -1;
			}
			toports = v;
			i++;
		} else if (o[0] == '-' && v && v[0] != '-' && strcmp(v, "!") != 0) {
			i++;  /* some other option and its value (-m tcp, -i docker0, --comment x) */
		}
		neg = 0;
	}
	if (!target)
		return 0;  /* counters only */
	if (!dport) {
		if (strcmp(target, "DNAT") == 0) {
			*why = "DNAT without --dport";
			return -1;
		}
		return 0;  /* -j RETURN and the like */
	}
	if (negdport) {
		*why = "negated --dport";
		return -1;
	}
	if (!proto || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
	               strcmp(proto, "6") != 0 && strcmp(proto, "17") != 0)) {
		*why = "protocol is not tcp or udp";
		return -1;
	}
	port = parse_port(dport);
	if (port < 0) {
		*why = "--dport is not a port 1-65535 (ranges are not supported)";
		return -1;
	}
	r->proto = strcmp(proto, "udp") == 0 || strcmp(proto, "17") == 0 ? BROKER_PROTO_UDP :
	           BROKER_PROTO_TCP;
	r->dport = (uint16_t)port;
	if (dst)
		parse_dest(dst, v6, r->item.host_ip, sizeof(r->item.host_ip));
	else
		snprintf(r->item.host_ip, sizeof(r->item.host_ip), "%s", v6 ? "::" : "0.0.0.0");
	if (strcmp(target, "DNAT") == 0) {
		if (!todest) {
			*why = "DNAT without --to-destination";
			return -1;
		}
		if (parse_to_dest(todest, v6, port, r->item.connect, sizeof(r->item.connect)) < 0) {
			*why = "--to-destination is not ADDR[:PORT] with a port 1-65535";
			return -1;
		}
	} else if (strcmp(target, "REDIRECT") == 0) {
		long tp = toports ? parse_port(toports) : port;

		if (tp < 0) {
			*why = "--to-ports is not a port 1-65535";
			return -1;
		}
		snprintf(r->item.connect, sizeof(r->item.connect), v6 ? "[::1]:%ld" : "127.0.0.1:%ld",
		         tp);
	} else if (chain_declared(cs, target)) {
		/* a node port (KUBE-NODEPORTS -> KUBE-EXT-...): the guest itself answers on it */
		snprintf(r->item.connect, sizeof(r->item.connect), v6 ? "[::1]:%ld" : "127.0.0.1:%ld",
		         port);
	} else {
		return 0;  /* ACCEPT, MARK, RETURN ... */
	}
	snprintf(r->id, sizeof(r->id), "%s:%s:%ld%s", chain,
	         r->proto == BROKER_PROTO_UDP ? "udp" : "tcp", port, v6 ? ":v6" : "");
	return 1;
}

static int item_cmp(const struct ipt_item *a, const struct ipt_item *b)
{
	int c = strcmp(a->host_ip, b->host_ip);

	return c ? c : strcmp(a->connect, b->connect);
}

static int rule_cmp(const void *a, const void *b)
{
	const struct ipt_rule *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : item_cmp(&x->item, &y->item);
}

static int owner_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ipt_owner *)a)->id, ((const struct ipt_owner *)b)->id);
}

/*
 * Parse one iptables-save output into owners (sorted by id).  0, or
 * -EINVAL when the output is not a complete nat table dump.
 */
static int parse_save(struct ipt_state *st, int v6, const char *buf, size_t len,
                      struct ipt_owner **out, size_t *nout)
{
	struct ipt_chainset cs = { NULL, 0 };
	struct ipt_rule *rules = NULL;
	struct ipt_owner *owners = NULL;
	size_t nrules = 0, caprules = 0, nown = 0, i;
	const char *p = buf, *end = buf + len;
	char *line = malloc(IPT_LINE_MAX + 1);
	char *tok[IPT_TOKENS_MAX];
	int in_nat = 0, committed = 0, lineno = 0, skipped = 0, rc = 0, capped = 0;

	*out = NULL;
	*nout = 0;
	cs.names = calloc(IPT_CHAINS_MAX, sizeof(*cs.names));
	if (!line || !cs.names) {
		rc = -ENOMEM;
		goto done;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *why;
		struct ipt_rule r;
		int nt, k;

		lineno++;
		if (n > IPT_LINE_MAX) {
			host->log(st->h, BROKER_LOG_DEBUG, "line %d: %zu bytes long, skipped", lineno, n);
			skipped++;
			p += n + (nl ? 1 : 0);
			continue;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n)) {
			skipped++;
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (line[0] == '*') {
			in_nat = strcmp(line, "*nat") == 0;
			continue;
		}
		if (strcmp(line, "COMMIT") == 0) {
			if (in_nat)
				committed = 1;
			in_nat = 0;
			continue;
		}
		if (!in_nat)
			continue;
		if (line[0] == ':') {
			size_t cn = strcspn(line + 1, " ");

			if (cs.n < IPT_CHAINS_MAX && cn > 0 && (cs.names[cs.n] = strndup(line + 1, cn)))
				cs.n++;
			continue;
		}
		nt = tokenize(line, tok, IPT_TOKENS_MAX);
		if (nt < 0) {
			host->log(st->h, BROKER_LOG_DEBUG, "line %d: cannot split into words, skipped",
			          lineno);
			skipped++;
			continue;
		}
		k = parse_rule(st, v6, tok, nt, &cs, &r, &why);
		if (k < 0) {
			host->log(st->h, BROKER_LOG_DEBUG, "line %d (%s): %s; skipped", lineno,
			          nt > 1 ? tok[1] : "?", why);
			skipped++;
			continue;
		}
		if (k == 0)
			continue;
		if (nrules == caprules) {
			size_t cap = caprules ? caprules * 2 : 32;
			struct ipt_rule *nr;

			if (caprules >= IPT_OWNERS_MAX * IPT_ITEMS_MAX) {
				capped = 1;
				continue;
			}
			nr = realloc(rules, cap * sizeof(*nr));
			if (!nr) {
				rc = -ENOMEM;
				goto done;
			}
			rules = nr;
			caprules = cap;
		}
		rules[nrules++] = r;
	}
	if (len > 0 && !committed) {
		host->log(st->h, BROKER_LOG_WARN, "%s: output has no complete *nat table "
		          "(truncated?); ignored", st->fam[v6].command);
		rc = -EINVAL;
		goto done;
	}
	if (skipped)
		host->log(st->h, BROKER_LOG_DEBUG, "%s: %d lines skipped", st->fam[v6].command, skipped);
	if (nrules)
		qsort(rules, nrules, sizeof(*rules), rule_cmp);
	owners = calloc(nrules ? nrules : 1, sizeof(*owners));
	if (!owners) {
		rc = -ENOMEM;
		goto done;
	}
	for (i = 0; i < nrules; i++) {
		struct ipt_owner *o = nown ? &owners[nown - 1] : NULL;

		if (!o || strcmp(o->id, rules[i].id) != 0) {
			if (nown == IPT_OWNERS_MAX) {
				capped = 1;
				break;
			}
			o = &owners[nown++];
			snprintf(o->id, sizeof(o->id), "%s", rules[i].id);
			o->proto = rules[i].proto;
			o->dport = rules[i].dport;
		}
		if (o->nitems && item_cmp(&o->items[o->nitems - 1], &rules[i].item) == 0)
			continue;
		if (o->nitems == IPT_ITEMS_MAX) {
			capped = 1;
			continue;
		}
		o->items[o->nitems++] = rules[i].item;
	}
	if (capped)
		host->log(st->h, BROKER_LOG_WARN, "%s: more than %d ports or %d rules per port; "
		          "the rest are ignored (narrow chains=)", st->fam[v6].command, IPT_OWNERS_MAX,
		          IPT_ITEMS_MAX);
	*out = owners;
	*nout = nown;
	owners = NULL;
done:
	if (rc == -ENOMEM)
		host->log(st->h, BROKER_LOG_ERROR, "out of memory parsing iptables output");
	for (i = 0; cs.names && i < cs.n; i++)
		free(cs.names[i]);
	free(cs.names);
	free(rules);
	free(owners);
	free(line);
	return rc;
}

/* ------------------------------------------------------------- reporting */

static void report_set(struct ipt_state *st, struct ipt_owner *o)
{
	struct broker_mapping m[IPT_ITEMS_MAX];
	const char *conn[IPT_ITEMS_MAX];
	char desc[IPT_ID_MAX + IPT_CONNECT_MAX + 64];
	size_t i;
	int r;

	for (i = 0; i < o->nrep; i++) {
		conn[i] = o->rep[i].connect;
		m[i].proto = (enum broker_proto)o->proto;
		m[i].host_ip = o->rep[i].host_ip;
		m[i].host_port = o->dport;
		m[i].nconnect = 1;
		m[i].connect = &conn[i];
	}
	snprintf(desc, sizeof(desc), "iptables nat rule %s -> %s%s", o->id,
	         o->nrep ? o->rep[0].connect : "?", o->nrep > 1 ? " ..." : "");
	r = host->mapping_set(st->h, o->id, desc, m, o->nrep);
	if (r < 0)
		host->log(st->h, BROKER_LOG_WARN, "%s: mapping refused: %s", o->id, strerror(-r));
	else
		host->log(st->h, BROKER_LOG_DEBUG, "%s: reported (%s)", o->id, desc);
}

static int report_all(struct ipt_state *st)
{
	size_t f, i;
	int r = host->resync_begin(st->h);

	if (r < 0)
		return r;
	for (f = 0; f < 2; f++)
		for (i = 0; i < st->fam[f].nowners; i++)
			if (st->fam[f].owners[i].reported)
				report_set(st, &st->fam[f].owners[i]);
	return host->resync_commit(st->h);
}

static int items_equal(const struct ipt_item *a, size_t na, const struct ipt_item *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (item_cmp(&a[i], &b[i]) != 0)
			return 0;
	return 1;
}

/* A successful run of family f found nt (sorted): merge and report changes. */
static void apply(struct ipt_state *st, struct ipt_family *f, struct ipt_owner *nt, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < f->nowners; i++) {
		struct ipt_owner *old = &f->owners[i];
		int c = 1;

		while (j < n && (c = owner_cmp(&nt[j], old)) < 0)
			j++;
		if (j < n && c == 0) {
			struct ipt_owner *o = &nt[j];

			o->seen = items_equal(o->items, o->nitems, old->items, old->nitems) ?
			          (old->seen + 1 > 2 ? 2 : old->seen + 1) : 1;
			o->reported = old->reported;
			o->nrep = old->nrep;
			memcpy(o->rep, old->rep, sizeof(o->rep));
		} else if (old->reported && st->synced) {
			host->mapping_remove(st->h, old->id);
			host->log(st->h, BROKER_LOG_DEBUG, "%s: gone", old->id);
		}
	}
	free(f->owners);
	f->owners = nt;
	f->nowners = n;
	for (j = 0; j < n; j++) {
		struct ipt_owner *o = &nt[j];

		if (o->seen == 0)
			o->seen = 1;
		if (o->seen < 2 || (o->reported && items_equal(o->items, o->nitems, o->rep, o->nrep)))
			continue;
		/* confirmed and new or changed */
		o->reported = 1;
		o->nrep = o->nitems;
		memcpy(o->rep, o->items, sizeof(o->rep));
		if (st->synced)
			report_set(st, o);
	}
}

/* ------------------------------------------------------------- running the command */

/* Log a failure of family f: the first time as a warning, repeats at debug. */
static void fam_failed(struct ipt_state *st, struct ipt_family *f, const char *what)
{
	int repeat = strcmp(f->last_error, what) == 0;

	host->log(st->h, repeat ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "%s -t nat: %s%s",
	          f->command, what, repeat ? "" : " (nothing changed; retrying every interval)");
	snprintf(f->last_error, sizeof(f->last_error), "%s", what);
}

static void run_opts(struct ipt_state *st, int fam, struct spawn_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->name = st->fam[fam].command;
	o->timeout_ms = st->timeout_ms;
	o->max_output = st->max_output;
	o->done = run_done;
	o->arg = st;
}

/* The child of family st->run_fam is reaped and its pipes are closed: judge and apply the run. */
static void run_done(void *arg, const struct spawn_result *res)
{
	struct ipt_state *st = arg;
	int fam = st->run_fam;
	struct ipt_family *f = &st->fam[fam];
	struct spawn_opts o;
	char what[160];

	st->run = NULL;     /* spawn_capture frees it when this returns */
	run_opts(st, fam, &o);
	if (spawn_capture_failed(res, &o, what, sizeof(what))) {
		fam_failed(st, f, what);
	} else {
		struct ipt_owner *owners;
		size_t n;

		if (parse_save(st, f->v6, res->out, res->outlen, &owners, &n) == 0) {
			if (f->last_error[0])
				host->log(st->h, BROKER_LOG_INFO, "%s -t nat works again", f->command);
			f->last_error[0] = '\0';
			apply(st, f, owners, n);
		} else {
			snprintf(f->last_error, sizeof(f->last_error), "bad output");
		}
	}
	run_next(st, fam + 1);
}

/* Split a command into words on blanks (no quoting); argv gets "-t" "nat" appended. */
static char **make_argv(const char *command)
{
	size_t n = 0, len = strlen(command);
	char **argv = calloc(len / 2 + 4, sizeof(*argv));
	char *copy = strdup(command), *save = NULL, *w;

	if (!argv || !copy) {
		free(argv);
		free(copy);
		return NULL;
	}
	for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	if (n == 0) {
		free(argv);
		free(copy);
		return NULL;
	}
	argv[n++] = (char *)"-t";
	argv[n++] = (char *)"nat";
	argv[n] = NULL;
	return argv;
}

/* Start the command of family fam.  0, or -errno (logged). */
static int run_start(struct ipt_state *st, int fam)
{
	struct ipt_family *f = &st->fam[fam];
	char **argv = make_argv(f->command);
	struct spawn_opts o;
	char what[300];
	int r;

	if (!argv)
		return -ENOMEM;
	run_opts(st, fam, &o);
	st->run_fam = fam;
	r = spawn_capture_start(host, st->h, argv, &o, &st->run, what, sizeof(what));
	free(argv[0]);
	free(argv);
	if (r < 0) {
		st->run = NULL;
		fam_failed(st, f, what);
		return r;
	}
	host->log(st->h, BROKER_LOG_TRACE, "%s[%d] -t nat started", f->command,
	          (int)spawn_capture_pid(st->run));
	return 0;
}

/* Run the families from fam on; after the last one, the round is complete. */
static void run_next(struct ipt_state *st, int fam)
{
	for (; fam < 2; fam++) {
		if (!st->fam[fam].command)
			continue;
		if (run_start(st, fam) == 0)
			return;  /* run_done continues */
	}
	st->rounds++;
	host->log(st->h, BROKER_LOG_TRACE, "round %d done", st->rounds);
	if (!st->synced && st->rounds >= 2) {
		st->synced = 1;
		if (report_all(st) < 0)
			host->log(st->h, BROKER_LOG_WARN, "cannot report the first snapshot");
	}
}

static void on_timer(void *arg)
{
	struct ipt_state *st = arg;

	host->timer_arm(st->timer, st->interval_ms);
	if (st->run) {
		host->log(st->h, BROKER_LOG_DEBUG, "previous run still going; skipping this interval");
		return;
	}
	run_next(st, 0);
}

/* ------------------------------------------------------------- lifecycle */

static void ipt_free(struct ipt_state *st)
{
	int i;

	for (i = 0; i < 2; i++) {
		free(st->fam[i].command);
		free(st->fam[i].owners);
	}
	free(st->chains);
	free(st);
}

static int ipt_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct ipt_state *st = calloc(1, sizeof(*st));
	const char *c4, *c6, *ch;
	long long v;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	st->fam[1].v6 = 1;
	v = host->option_int(h, "interval_ms");
	if (v < 500 || v > 3600000) {
		snprintf(err, errlen, "interval_ms=%lld: must be 500..3600000", v);
		goto bad;
	}
	st->interval_ms = (long)v;
	v = host->option_int(h, "timeout_ms");
	if (v < 100 || v > 600000) {
		snprintf(err, errlen, "timeout_ms=%lld: must be 100..600000", v);
		goto bad;
	}
	st->timeout_ms = (long)v;
	v = host->option_int(h, "max_output");
	if (v < 4096 || v > (1LL << 30)) {
		snprintf(err, errlen, "max_output=%lld: must be 4096..1073741824 bytes", v);
		goto bad;
	}
	st->max_output = (size_t)v;
	c4 = host->option_string(h, "command");
	c6 = host->option_string(h, "command6");
	ch = host->option_string(h, "chains");
	if (!ch || !*ch) {
		snprintf(err, errlen, "chains: empty (write globs such as KUBE-NODEPORTS,CNI-DN-*)");
		goto bad;
	}
	if ((c4 && strspn(c4, " \t") != strlen(c4) && !(st->fam[0].command = strdup(c4))) ||
	    (c6 && strspn(c6, " \t") != strlen(c6) && !(st->fam[1].command = strdup(c6))) ||
	    !(st->chains = strdup(ch))) {
		snprintf(err, errlen, "out of memory");
		ipt_free(st);
		return -ENOMEM;
	}
	if (!st->fam[0].command && !st->fam[1].command) {
		snprintf(err, errlen, "command and command6 are both empty: nothing to run");
		goto bad;
	}
	*state = st;
	return 0;
bad:
	ipt_free(st);
	return -EINVAL;
}

static int ipt_start(void *state, char *err, size_t errlen)
{
	struct ipt_state *st = state;

	if (st->started)
		return 0;
	st->timer = host->timer_new(st->h, on_timer, st);
	if (!st->timer) {
		snprintf(err, errlen, "cannot create a timer (out of memory?)");
		return -ENOMEM;
	}
	st->started = 1;
	host->log(st->h, BROKER_LOG_INFO, "watching nat chains %s every %ld ms (%s%s%s)", st->chains,
	          st->interval_ms, st->fam[0].command ? st->fam[0].command : "",
	          st->fam[0].command && st->fam[1].command ? ", " : "",
	          st->fam[1].command ? st->fam[1].command : "");
	on_timer(st);
	return 0;
}

static void ipt_stop(void *state)
{
	struct ipt_state *st = state;
	int i;

	if (!st || !st->started)
		return;
	/* The core frees host timers itself when a plugin stops (before or after
	 * this call): only forget it here, never touch it. */
	st->timer = NULL;
	/* The loop is stopping: kill and reap now (SIGKILL cannot be ignored). */
	spawn_capture_abort(st->run);
	st->run = NULL;
	for (i = 0; i < 2; i++) {
		free(st->fam[i].owners);
		st->fam[i].owners = NULL;
		st->fam[i].nowners = 0;
		st->fam[i].last_error[0] = '\0';
	}
	st->rounds = 0;
	st->synced = 0;
	st->started = 0;
}

static void ipt_fini(void *state)
{
	if (!state)
		return;
	ipt_stop(state);
	ipt_free(state);
}

static int ipt_resync(void *state)
{
	struct ipt_state *st = state;

	if (!st->synced)
		return 0;  /* the first snapshot comes after two runs */
	return report_all(st);
}

static const struct broker_option ipt_options[] = {
	{ BROKER_OPT_INT, "interval_ms", "3000", "run iptables-save every this many milliseconds",
	  500, 3600000 },
	{ BROKER_OPT_STRING, "chains", "KUBE-NODEPORTS,CNI-DN-*,DOCKER",
	  "nat chains to read, comma-separated globs", 0, 0 },
	{ BROKER_OPT_STRING, "command", "iptables-save",
	  "IPv4 dump command (words split on blanks, \"-t nat\" appended; empty: skip IPv4)", 0, 0 },
	{ BROKER_OPT_STRING, "command6", "ip6tables-save",
	  "IPv6 dump command (empty: skip IPv6)", 0, 0 },
	{ BROKER_OPT_INT, "timeout_ms", "5000", "kill a dump that runs longer", 100, 600000 },
	{ BROKER_OPT_INT, "max_output", "33554432", "kill a dump that prints more bytes", 4096,
	  1073741824 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin ipt_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "iptables",
	.version = PACKAGE_VERSION,
	.description = "watch DNAT rules in the nat table (iptables-save, polled)",
	.kinds = BROKER_KIND_WATCHER,
	.options = ipt_options,
	.init = ipt_init,
	.start = ipt_start,
	.stop = ipt_stop,
	.fini = ipt_fini,
	.resync = ipt_resync,
};

BROKER_PLUGIN_DEFINE(ipt_plugin, host)
