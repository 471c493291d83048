/* config_limits.c - the caps against hostile peers and clients, as one
 * table: name, where it is set, default, range and what it bounds.  The
 * defaults are sized for a host with a few hundred forwarded ports and a
 * busy Docker client; brokerd(8) LIMITS explains each. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config_internal.h"
#include "broker/config_limits.h"
#include "broker/errfmt.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define AT(field) offsetof(struct broker_limits, field)

const struct limit_desc config_limit_descs[] = {
	{ "link-max-handshakes", "BROKER_LINK_MAX_HANDSHAKES", "link_max_handshakes", LIMIT_COUNT, 16, 1, 100000,
	  AT(link_handshakes), "accepted links still in the handshake; more are closed at once" },
	{ "link-max-streams", "BROKER_LINK_MAX_STREAMS", "link_max_streams", LIMIT_COUNT, 1024, 1, 1000000,
	  AT(link_streams), "open streams per link; the peer's OPEN beyond it gets OPEN_ERR" },
	{ "link-max-pending-connects", "BROKER_LINK_MAX_PENDING_CONNECTS", "link_max_pending_connects", LIMIT_COUNT,
	  256, 1, 100000, AT(link_pending_connects), "the peer's OPENs still connecting here, per link" },
	{ "link-max-output", "BROKER_LINK_MAX_OUTPUT", "link_max_output", LIMIT_BYTES, 32 * MIB, 1 * MIB, 4 * GIB,
	  AT(link_output), "bytes queued for a peer that does not read before the link is dropped" },
	{ "link-rpc-timeout", "BROKER_LINK_RPC_TIMEOUT", "link_rpc_timeout", LIMIT_SECONDS, 30, 1, 86400,
	  AT(link_rpc_timeout_s), "a call to the peer (route or mapping sync) not answered in time fails" },
	{ "mapping-max-per-peer", "BROKER_MAPPING_MAX_PER_PEER", "mapping_max_per_peer", LIMIT_COUNT, 1024, 0,
	  1000000, AT(mapping_per_peer), "mappings (listeners) held for one peer; more are ignored" },
	{ "mapping-max-sync-entries", "BROKER_MAPPING_MAX_SYNC_ENTRIES", "mapping_max_sync_entries", LIMIT_COUNT,
	  16384, 1, 1000000, AT(mapping_sync_entries), "entries in one mapping sync from the peer; larger is refused" },
	{ "http-max-connections", "BROKER_HTTP_MAX_CONNECTIONS", "http_max_connections", LIMIT_COUNT, 64, 1, 100000,
	  AT(http_connections), "open connections to --http-listen; more wait until one closes" },
	{ "http-max-header-size", "BROKER_HTTP_MAX_HEADER_SIZE", "http_max_header_size", LIMIT_BYTES, 8 * KIB,
	  1 * KIB, 1 * MIB, AT(http_header_size), "request line and headers of one HTTP request" },
	{ "http-max-body-size", "BROKER_HTTP_MAX_BODY_SIZE", "http_max_body_size", LIMIT_BYTES, 4 * KIB, 0, 1 * MIB,
	  AT(http_body_size), "body of one HTTP request (the endpoints take none)" },
};

const size_t config_limit_count = sizeof(config_limit_descs) / sizeof(config_limit_descs[0]);
_Static_assert(sizeof(config_limit_descs) / sizeof(config_limit_descs[0]) < CONFIG_MAX_LIMITS,
               "raise CONFIG_MAX_LIMITS (config_internal.h)");

static void put(struct broker_limits *lim, const struct limit_desc *d, long long v)
{
	char *p = (char *)lim + d->offset;

	if (d->unit == LIMIT_BYTES)
		*(size_t *)(void *)p = (size_t)v;
	else
		*(int *)(void *)p = (int)v;
}

static long long get(const struct broker_limits *lim, const struct limit_desc *d)
{
	const char *p = (const char *)lim + d->offset;

	if (d->unit == LIMIT_BYTES)
		return (long long)*(const size_t *)(const void *)p;
	return *(const int *)(const void *)p;
}

void config_limits_defaults(struct broker_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	for (size_t i = 0; i < config_limit_count; i++)
		put(lim, &config_limit_descs[i], config_limit_descs[i].def);
}

int config_limit_by_key(const char *key)
{
	for (size_t i = 0; i < config_limit_count; i++)
		if (strcmp(config_limit_descs[i].key, key) == 0)
			return (int)i;
	return -1;
}

static void size_text(long long v, char *buf, size_t len)
{
	if (v >= GIB && v % GIB == 0)
		snprintf(buf, len, "%lldG", v / GIB);
	else if (v >= MIB && v % MIB == 0)
		snprintf(buf, len, "%lldM", v / MIB);
	else if (v >= KIB && v % KIB == 0)
		snprintf(buf, len, "%lldK", v / KIB);
	else
		snprintf(buf, len, "%lld", v);
}

static void value_text(const struct limit_desc *d, long long v, char *buf, size_t len)
{
	if (d->unit == LIMIT_BYTES)
		size_text(v, buf, len);
	else
		snprintf(buf, len, "%lld", v);
}

void config_limit_text(const struct broker_limits *lim, size_t i, char *buf, size_t len)
{
	value_text(&config_limit_descs[i], get(lim, &config_limit_descs[i]), buf, len);
}

int config_limit_set(struct broker_limits *lim, size_t i, const char *value, const char *label, char *err,
                     size_t errlen)
{
	const struct limit_desc *d = &config_limit_descs[i];
	char lo[32], hi[32];
	long long v, mult = 1;
	char *end;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (d->unit == LIMIT_BYTES && end != value) {
		if (*end == 'K' || *end == 'k')
			mult = KIB, end++;
		else if (*end == 'M' || *end == 'm')
			mult = MIB, end++;
		else if (*end == 'G' || *end == 'g')
			mult = GIB, end++;
	}
	if (errno || end == value || *end || v < 0 || v > d->max / mult || v * mult < d->min ||
	    v * mult > d->max) {
		value_text(d, d->min, lo, sizeof(lo));
		value_text(d, d->max, hi, sizeof(hi));
		return errfmt(err, errlen, -EINVAL, "%s: '%s' is not a %s in %s..%s", label, value,
		              d->unit == LIMIT_BYTES     ? "size (bytes, or with K, M, G)"
		              : d->unit == LIMIT_SECONDS ? "number of seconds"
		                                         : "count",
		              lo, hi);
	}
	put(lim, d, v * mult);
	return 0;
}

void config_limits_help(FILE *out, void (*line)(FILE *out, const char *flag, const char *metavar, const char *help,
                                                const char *envname, const char *key, const char *def))
{
	for (size_t i = 0; i < config_limit_count; i++) {
		const struct limit_desc *d = &config_limit_descs[i];
		char def[32];

		value_text(d, d->def, def, sizeof(def));
		line(out, d->flag, d->unit == LIMIT_BYTES ? "SIZE" : d->unit == LIMIT_SECONDS ? "SECONDS" : "N", d->help,
		     d->env, d->key, def);
	}
}
