/* config_limits.h - the numeric caps that bound what a peer or a client can
 * make this broker hold (memory, descriptors, time): one typed table, so
 * each cap gets its flag, environment variable, config key, default, range
 * and help line from one place (see config_limits.c and brokerd(8) LIMITS). */
#ifndef BROKER_CONFIG_LIMITS_H
#define BROKER_CONFIG_LIMITS_H

#include <stddef.h>
#include <stdio.h>

struct broker_limits {
	int link_handshakes;          /* accepted links still in HELLO/AUTH */
	int link_streams;             /* open streams per link */
	int link_pending_connects;    /* the peer's OPENs still connecting, per link */
	size_t link_output;           /* bytes queued for the carrier before the link is dropped */
	int link_rpc_timeout_s;       /* an RPC on the link not answered in this time fails */
	int mapping_per_peer;         /* mappings held from one peer */
	int mapping_sync_entries;     /* upserts + removals in one mapping sync message */
	int http_connections;         /* --http-listen: open connections */
	size_t http_header_size;      /* --http-listen: request line + headers */
	size_t http_body_size;        /* --http-listen: request body */
};

enum limit_unit { LIMIT_COUNT, LIMIT_BYTES, LIMIT_SECONDS };

struct limit_desc {
	const char *flag;    /* without "--" */
	const char *env;
	const char *key;     /* JSON key */
	enum limit_unit unit;
	long long def, min, max;
	size_t offset;       /* in struct broker_limits */
	const char *help;
};

extern const struct limit_desc config_limit_descs[];
extern const size_t config_limit_count;

void config_limits_defaults(struct broker_limits *lim);
/* Index of the limit with this JSON key, or -1. */
int config_limit_by_key(const char *key);
/*
 * Parse a value for limit i ("64", "32M", "1G" for sizes) and store it in
 * lim.  label names where the value came from, for the error.  0 or
 * -EINVAL with err ("--link-max-output: '3X' is not a size in 1M..4G").
 */
int config_limit_set(struct broker_limits *lim, size_t i, const char *value, const char *label, char *err,
                     size_t errlen);
/* The value of limit i in lim, as text ("16", "32M"). */
void config_limit_text(const struct broker_limits *lim, size_t i, char *buf, size_t len);
/* --help: one entry per limit. */
void config_limits_help(FILE *out, void (*line)(FILE *out, const char *flag, const char *metavar, const char *help,
                                                const char *envname, const char *key, const char *def));

#endif
