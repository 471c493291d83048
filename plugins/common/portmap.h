/*
 * plugins/common/portmap.h - the published ports of one container, as the
 * container watchers (docker, containerd) keep them, and their report to the
 * core as one host->mapping_set.  Compiled into each plugin that uses it
 * (add plugins/common/portmap.c to the plugin's _SOURCES); it includes
 * nothing from the broker core but the plugin ABI header.
 *
 *   portmap_report(host, h, owner, description, ports, n)
 *     builds the struct broker_mapping array (with its connect pointers) for
 *     ports[0..n) and calls host->mapping_set(h, owner, description, ...,
 *     n) once (n == 0 removes what owner had).  Returns 0 once mapping_set
 *     was called (its result is not looked at), or -ENOMEM when the array
 *     could not be built: then nothing is reported and the caller logs.
 */
#ifndef BROKER_PLUGINS_COMMON_PORTMAP_H
#define BROKER_PLUGINS_COMMON_PORTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"

#define PORTMAP_ADDR_MAX 64         /* "[ffff:...:ffff]:65535" */
#define PORTMAP_CONNECT_MAX 3       /* guest addresses per binding */

/* One published binding of a container, ready to report. */
struct portmap_binding {
	enum broker_proto proto;
	char host_ip[PORTMAP_ADDR_MAX];
	uint16_t host_port;
	uint16_t container_port;
	size_t nconnect;                /* 1..PORTMAP_CONNECT_MAX */
	char connect[PORTMAP_CONNECT_MAX][PORTMAP_ADDR_MAX];
};

int portmap_report(const struct broker_host *host, struct broker_plugin_handle *h, const char *owner,
                   const char *description, const struct portmap_binding *ports, size_t n);

#endif /* BROKER_PLUGINS_COMMON_PORTMAP_H */
