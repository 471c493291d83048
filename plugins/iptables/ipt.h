/*
 * plugins/iptables/ipt.h - internal interface between the iptables
 * watcher's runs and reports (iptables.c) and its parsing of iptables-save
 * output (ipt_parse.c, pure: no loop, no host calls but the log callback).
 */
#ifndef BROKER_PLUGINS_IPTABLES_IPT_H
#define BROKER_PLUGINS_IPTABLES_IPT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"
#include "plugins/common/seen_twice.h"

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
	struct seen_twice_mark mark;            /* runs with exactly these items; reported */
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

/* The user chains one dump declares (":NAME POLICY [p:b]" lines). */
struct ipt_chainset {
	char **names;
	size_t n;
};

/* How the parser explains what it skipped. */
typedef void (*ipt_log_fn)(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct ipt_parse_ctx {
	const char *chains;             /* the chains= option: comma-separated fnmatch globs */
	const char *command;            /* the dump command, for messages */
	ipt_log_fn log;
	void *log_arg;
};

/* 1 when chain matches one of the comma-separated globs in chains. */
int ipt_chain_watched(const char *chains, const char *chain);

/*
 * Split line into tokens in place; "..." groups (with \" and \\ escapes),
 * as iptables-save quotes comments.  Returns the count, or -EINVAL when
 * there are too many or a quote is open.
 */
int ipt_tokenize(char *line, char **tok, int max);

/*
 * One "-A ..." line (tokenized).  1: a rule in *r; 0: not ours (other
 * chain, no port, a target that is not DNAT, REDIRECT or a declared chain);
 * -EINVAL: ours but unusable (*why says why).
 */
int ipt_parse_rule(const char *chains, int v6, char **tok, int n, const struct ipt_chainset *cs,
                   struct ipt_rule *r, const char **why);

/*
 * Parse one iptables-save output into owners (sorted by id, each with its
 * sorted unique items; mark and rep zero).  0, -EINVAL when the
 * output is not a complete nat table dump (logged), -ENOMEM (logged).
 * *out is malloc'd.
 */
int ipt_parse_save(const struct ipt_parse_ctx *ctx, int v6, const char *buf, size_t len,
                   struct ipt_owner **out, size_t *nout);

int ipt_item_cmp(const struct ipt_item *a, const struct ipt_item *b);

/* qsort/bsearch order of owners: by id. */
int ipt_owner_cmp(const void *a, const void *b);

#endif
