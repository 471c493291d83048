/*
 * plugins/common/portmap.c - report a container's published ports as one
 * host->mapping_set, shared by the docker and containerd watchers (see
 * portmap.h).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include "broker/plugin.h"
#include "plugins/common/portmap.h"

int portmap_report(const struct broker_host *host, struct broker_plugin_handle *h, const char *owner,
                   const char *description, const struct portmap_binding *ports, size_t n)
{
	struct broker_mapping *bm = NULL;
	const char **ptrs = NULL;
	size_t i, j, k = 0;

	if (n) {
		bm = calloc(n, sizeof(*bm));
		ptrs = calloc(n * PORTMAP_CONNECT_MAX, sizeof(*ptrs));
		if (!bm || !ptrs) {
			free(bm);
			free(ptrs);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		const struct portmap_binding *m = &ports[i];

		bm[i].proto = m->proto;
		bm[i].host_ip = m->host_ip;
		bm[i].host_port = m->host_port;
		bm[i].nconnect = m->nconnect;
		bm[i].connect = &ptrs[k];
		for (j = 0; j < m->nconnect; j++)
			ptrs[k++] = m->connect[j];
	}
	host->mapping_set(h, owner, description, bm, n);
	free(bm);
	free(ptrs);
	return 0;
}
