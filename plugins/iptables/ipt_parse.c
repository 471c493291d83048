/*
 * plugins/iptables/ipt_parse.c - iptables-save output into owners: the
 * *nat table's declared chains and its "-A" rules, grouped per owner
 * "CHAIN:PROTO:DPORT[:v6]" (see ipt.h and iptables.c for what is taken).
 *
 * Everything here distrusts its input: over-long lines, NUL bytes, open
 * quotes, ports 0 or above 65535, ranges and addresses that do not parse
 * are skipped with a debug log line, never guessed at; a dump without a
 * complete *nat table is refused whole.
 */
#include <config.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ipt.h"

/* ------------------------------------------------------------- chains */

int ipt_chain_watched(const char *chains, const char *chain)
{
	const char *p = chains;

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

static int chain_declared(const struct ipt_chainset *cs, const char *name)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->names[i], name) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------- words and values */

int ipt_tokenize(char *line, char **tok, int max)
{
	char *p = line, *o;
	int n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n' || *p == '\r')
			break;
		if (n == max)
			return -EINVAL;
		tok[n++] = o = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					*o++ = *p;
				}
				if (*p != '"')
					return -EINVAL;
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
 * 0, or -EINVAL when it cannot be used.
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
				return -EINVAL;
			n = (size_t)(close - s - 1);
			s++;
			if (close[1] == ':')
				port = close + 2;
			else if (close[1])
				return -EINVAL;
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
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, bin) != 1)
		return -EINVAL;
	if (port && (p = parse_port(port)) < 0)
		return -EINVAL;
	inet_ntop(v6 ? AF_INET6 : AF_INET, bin, norm, sizeof(norm));
	n = (size_t)snprintf(out, len, v6 ? "[%s]:%ld" : "%s:%ld", norm, p);
	return n < len ? 0 : -1;
}

/* ------------------------------------------------------------- one rule */

/* The options of one rule that matter here (pointers into its tokens). */
struct rule_args {
	const char *proto, *dst, *dport, *target, *todest, *toports;
	int negdport;
};

/* The value of option tok[i], or NULL with *why set.  Advances *i past it. */
static const char *option_value(char **tok, int n, int *i, const char *why_missing, const char **why)
{
	if (*i + 1 >= n) {
		*why = why_missing;
		return NULL;
	}
	return tok[++*i];
}

/* Collect the options of tok[2..n).  0, or -EINVAL with *why. */
static int rule_args(char **tok, int n, struct rule_args *a, const char **why)
{
	int i, neg = 0;

	memset(a, 0, sizeof(*a));
	for (i = 2; i < n; i++) {
		const char *o = tok[i], *v = i + 1 < n ? tok[i + 1] : NULL;

		if (strcmp(o, "!") == 0) {
			neg = 1;
			continue;
		}
		if (strcmp(o, "-p") == 0 || strcmp(o, "--protocol") == 0) {
			if (!(a->proto = option_value(tok, n, &i, "-p without a value", why)))
				return -EINVAL;
			if (neg) {
				*why = "negated protocol";
				return -EINVAL;
			}
		} else if (strcmp(o, "-d") == 0 || strcmp(o, "--destination") == 0) {
			if (!(v = option_value(tok, n, &i, "-d without a value", why)))
				return -EINVAL;
			a->dst = neg ? NULL : v;  /* ! -d X: any other address, so the wildcard */
		} else if (strcmp(o, "--dport") == 0 || strcmp(o, "--destination-port") == 0) {
			if (!(a->dport = option_value(tok, n, &i, "--dport without a value", why)))
				return -EINVAL;
			a->negdport = neg;
		} else if (strcmp(o, "-j") == 0 || strcmp(o, "--jump") == 0) {
			if (!(a->target = option_value(tok, n, &i, "-j without a target", why)))
				return -EINVAL;
		} else if (strcmp(o, "--to-destination") == 0) {
			if (!(v = option_value(tok, n, &i, "--to-destination without a value", why)))
				return -EINVAL;
			if (!a->todest)
				a->todest = v;
		} else if (strcmp(o, "--to-ports") == 0) {
			if (!(a->toports = option_value(tok, n, &i, "--to-ports without a value", why)))
				return -EINVAL;
		} else if (o[0] == '-' && v && v[0] != '-' && strcmp(v, "!") != 0) {
			i++;  /* some other option and its value (-m tcp, -i docker0, --comment x) */
		}
		neg = 0;
	}
	return 0;
}

/* Where the rule's target sends port: r->item.connect.  1, 0 (not a target we take), -EINVAL with *why. */
static int rule_connect(const struct rule_args *a, int v6, long port, const struct ipt_chainset *cs,
                        struct ipt_rule *r, const char **why)
{
	if (strcmp(a->target, "DNAT") == 0) {
		if (!a->todest) {
			*why = "DNAT without --to-destination";
			return -EINVAL;
		}
		if (parse_to_dest(a->todest, v6, port, r->item.connect, sizeof(r->item.connect)) < 0) {
			*why = "--to-destination is not ADDR[:PORT] with a port 1-65535";
			return -EINVAL;
		}
	} else if (strcmp(a->target, "REDIRECT") == 0) {
		long tp = a->toports ? parse_port(a->toports) : port;

		if (tp < 0) {
			*why = "--to-ports is not a port 1-65535";
			return -EINVAL;
		}
		snprintf(r->item.connect, sizeof(r->item.connect), v6 ? "[::1]:%ld" : "127.0.0.1:%ld",
		         tp);
	} else if (chain_declared(cs, a->target)) {
		/* a node port (KUBE-NODEPORTS -> KUBE-EXT-...): the guest itself answers on it */
		snprintf(r->item.connect, sizeof(r->item.connect), v6 ? "[::1]:%ld" : "127.0.0.1:%ld",
		         port);
	} else {
		return 0;  /* ACCEPT, MARK, RETURN ... */
	}
	return 1;
}

int ipt_parse_rule(const char *chains, int v6, char **tok, int n, const struct ipt_chainset *cs,
                   struct ipt_rule *r, const char **why)
{
	struct rule_args a;
	long port;
	int k;

	memset(r, 0, sizeof(*r));
	*why = NULL;
	if (n < 2 || strcmp(tok[0], "-A") != 0)
		return 0;
	if (!ipt_chain_watched(chains, tok[1]))
		return 0;
	if (rule_args(tok, n, &a, why) < 0)
		return -EINVAL;
	if (!a.target)
		return 0;  /* counters only */
	if (!a.dport) {
		if (strcmp(a.target, "DNAT") == 0) {
			*why = "DNAT without --dport";
			return -EINVAL;
		}
		return 0;  /* -j RETURN and the like */
	}
	if (a.negdport) {
		*why = "negated --dport";
		return -EINVAL;
	}
	if (!a.proto || (strcmp(a.proto, "tcp") != 0 && strcmp(a.proto, "udp") != 0 &&
	                 strcmp(a.proto, "6") != 0 && strcmp(a.proto, "17") != 0)) {
		*why = "protocol is not tcp or udp";
		return -EINVAL;
	}
	port = parse_port(a.dport);
	if (port < 0) {
		*why = "--dport is not a port 1-65535 (ranges are not supported)";
		return -EINVAL;
	}
	r->proto = strcmp(a.proto, "udp") == 0 || strcmp(a.proto, "17") == 0 ? BROKER_PROTO_UDP :
	           BROKER_PROTO_TCP;
	r->dport = (uint16_t)port;
	if (a.dst)
		parse_dest(a.dst, v6, r->item.host_ip, sizeof(r->item.host_ip));
	else
		snprintf(r->item.host_ip, sizeof(r->item.host_ip), "%s", v6 ? "::" : "0.0.0.0");
	k = rule_connect(&a, v6, port, cs, r, why);
	if (k <= 0)
		return k;
	snprintf(r->id, sizeof(r->id), "%s:%s:%ld%s", tok[1],
	         r->proto == BROKER_PROTO_UDP ? "udp" : "tcp", port, v6 ? ":v6" : "");
	return 1;
}

/* ------------------------------------------------------------- a whole dump */

int ipt_item_cmp(const struct ipt_item *a, const struct ipt_item *b)
{
	int c = strcmp(a->host_ip, b->host_ip);

	return c ? c : strcmp(a->connect, b->connect);
}

static int rule_cmp(const void *a, const void *b)
{
	const struct ipt_rule *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : ipt_item_cmp(&x->item, &y->item);
}

int ipt_owner_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ipt_owner *)a)->id, ((const struct ipt_owner *)b)->id);
}

/* What a dump has given so far. */
struct save_scan {
	const struct ipt_parse_ctx *ctx;
	int v6;
	struct ipt_chainset cs;
	struct ipt_rule *rules;
	size_t nrules, caprules;
	int in_nat, committed, lineno, skipped, capped;
};

static int rules_add(struct save_scan *sv, const struct ipt_rule *r)
{
	if (sv->nrules == sv->caprules) {
		size_t cap = sv->caprules ? sv->caprules * 2 : 32;
		struct ipt_rule *nr;

		if (sv->caprules >= IPT_OWNERS_MAX * IPT_ITEMS_MAX) {
			sv->capped = 1;
			return 0;
		}
		nr = realloc(sv->rules, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		sv->rules = nr;
		sv->caprules = cap;
	}
	sv->rules[sv->nrules++] = *r;
	return 0;
}

/* One line (NUL-terminated, no newline) of the dump.  0 or -ENOMEM. */
static int save_line(struct save_scan *sv, char *line)
{
	char *tok[IPT_TOKENS_MAX];
	const char *why;
	struct ipt_rule r;
	int nt, k;

	if (line[0] == '#' || line[0] == '\0')
		return 0;
	if (line[0] == '*') {
		sv->in_nat = strcmp(line, "*nat") == 0;
		return 0;
	}
	if (strcmp(line, "COMMIT") == 0) {
		if (sv->in_nat)
			sv->committed = 1;
		sv->in_nat = 0;
		return 0;
	}
	if (!sv->in_nat)
		return 0;
	if (line[0] == ':') {
		size_t cn = strcspn(line + 1, " ");

		if (sv->cs.n < IPT_CHAINS_MAX && cn > 0 && (sv->cs.names[sv->cs.n] = strndup(line + 1, cn)))
			sv->cs.n++;
		return 0;
	}
	nt = ipt_tokenize(line, tok, IPT_TOKENS_MAX);
	if (nt < 0) {
		sv->ctx->log(sv->ctx->log_arg, BROKER_LOG_DEBUG, "line %d: cannot split into words, skipped",
		             sv->lineno);
		sv->skipped++;
		return 0;
	}
	k = ipt_parse_rule(sv->ctx->chains, sv->v6, tok, nt, &sv->cs, &r, &why);
	if (k < 0) {
		sv->ctx->log(sv->ctx->log_arg, BROKER_LOG_DEBUG, "line %d (%s): %s; skipped", sv->lineno,
		             nt > 1 ? tok[1] : "?", why);
		sv->skipped++;
		return 0;
	}
	return k == 0 ? 0 : rules_add(sv, &r);
}

/* Every line of buf into sv.  0 or -ENOMEM. */
static int save_lines(struct save_scan *sv, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	char *line = malloc(IPT_LINE_MAX + 1);
	int rc = 0;

	if (!line)
		return -ENOMEM;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		sv->lineno++;
		if (n > IPT_LINE_MAX) {
			sv->ctx->log(sv->ctx->log_arg, BROKER_LOG_DEBUG, "line %d: %zu bytes long, skipped",
			             sv->lineno, n);
			sv->skipped++;
			p += n + (nl ? 1 : 0);
			continue;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n)) {
			sv->skipped++;
			continue;
		}
		rc = save_line(sv, line);
	}
	free(line);
	return rc;
}

/* The sorted rules grouped per owner into owners (room for nrules).  The count. */
static size_t group_rules(struct save_scan *sv, struct ipt_owner *owners)
{
	size_t nown = 0, i;

	for (i = 0; i < sv->nrules; i++) {
		struct ipt_owner *o = nown ? &owners[nown - 1] : NULL;

		if (!o || strcmp(o->id, sv->rules[i].id) != 0) {
			if (nown == IPT_OWNERS_MAX) {
				sv->capped = 1;
				break;
			}
			o = &owners[nown++];
			snprintf(o->id, sizeof(o->id), "%s", sv->rules[i].id);
			o->proto = sv->rules[i].proto;
			o->dport = sv->rules[i].dport;
		}
		if (o->nitems && ipt_item_cmp(&o->items[o->nitems - 1], &sv->rules[i].item) == 0)
			continue;
		if (o->nitems == IPT_ITEMS_MAX) {
			sv->capped = 1;
			continue;
		}
		o->items[o->nitems++] = sv->rules[i].item;
	}
	return nown;
}

int ipt_parse_save(const struct ipt_parse_ctx *ctx, int v6, const char *buf, size_t len,
                   struct ipt_owner **out, size_t *nout)
{
	struct save_scan sv;
	struct ipt_owner *owners = NULL;
	size_t i;
	int rc;

	*out = NULL;
	*nout = 0;
	memset(&sv, 0, sizeof(sv));
	sv.ctx = ctx;
	sv.v6 = v6;
	sv.cs.names = calloc(IPT_CHAINS_MAX, sizeof(*sv.cs.names));
	rc = sv.cs.names ? save_lines(&sv, buf, len) : -ENOMEM;
	if (rc < 0)
		goto done;
	if (len > 0 && !sv.committed) {
		ctx->log(ctx->log_arg, BROKER_LOG_WARN, "%s: output has no complete *nat table "
		         "(truncated?); ignored", ctx->command);
		rc = -EINVAL;
		goto done;
	}
	if (sv.skipped)
		ctx->log(ctx->log_arg, BROKER_LOG_DEBUG, "%s: %d lines skipped", ctx->command, sv.skipped);
	if (sv.nrules)
		qsort(sv.rules, sv.nrules, sizeof(*sv.rules), rule_cmp);
	owners = calloc(sv.nrules ? sv.nrules : 1, sizeof(*owners));
	if (!owners) {
		rc = -ENOMEM;
		goto done;
	}
	*nout = group_rules(&sv, owners);
	if (sv.capped)
		ctx->log(ctx->log_arg, BROKER_LOG_WARN, "%s: more than %d ports or %d rules per port; "
		         "the rest are ignored (narrow chains=)", ctx->command, IPT_OWNERS_MAX,
		         IPT_ITEMS_MAX);
	*out = owners;
	owners = NULL;
done:
	if (rc == -ENOMEM)
		ctx->log(ctx->log_arg, BROKER_LOG_ERROR, "out of memory parsing iptables output");
	for (i = 0; sv.cs.names && i < sv.cs.n; i++)
		free(sv.cs.names[i]);
	free(sv.cs.names);
	free(sv.rules);
	free(owners);
	return rc;
}
