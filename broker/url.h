/* url.h - split an endpoint URL (scheme, address, ?key=value options). */
#ifndef BROKER_URL_H
#define BROKER_URL_H

#include <stdbool.h>
#include "broker/plugin.h"

/*
 * A parsed endpoint URL.  `pub` is what plugins see.  A leading "peer:"
 * (route sides that live on the other broker) is stripped and noted in
 * is_peer.  Accepted forms:
 *   scheme://address[?query]     unix:///run/x.sock  tcp://127.0.0.1:80  tcp://[::1]:80
 *   scheme:address[?query]       exec:docker system dial-stdio   (no "//")
 * The scheme is [a-z][a-z0-9+.-]*, lower-cased.  Query values and the
 * address are percent-decoded.  A query key may appear once.
 */
struct url {
	struct broker_url pub;
	bool is_peer;
	char *storage;                       /* owns every string in pub */
	struct broker_url_param *params;     /* owned */
};

int url_parse(const char *text, struct url *out, char *err, size_t errlen);
void url_free(struct url *u);
const char *url_param(const struct broker_url *u, const char *key);

/*
 * text without the query parameter key (as written; malloc'd, NULL on out of
 * memory): "tcp://h:1?auth=none&x=1" -> "tcp://h:1?x=1".  For parameters the
 * core itself reads (a link carrier's ?auth=) before the plugin sees the URL.
 */
char *url_without_param(const char *text, const char *key);

/*
 * Split "host:port" / "[v6]:port" / ":port" / "port".  host is written
 * without brackets; an empty host yields default_host.  Port 0..65535.
 */
int url_split_host_port(const char *address, const char *default_host, char *host, size_t hostlen,
                        unsigned *port, char *err, size_t errlen);

#endif
