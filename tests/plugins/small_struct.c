/*
 * small_struct.c - a plugin as if built against an older minor ABI whose
 * struct broker_plugin ended before the endpoint fields.  struct_size says
 * so; the loader must copy only that much and zero-fill the rest, so the
 * plugin loads as a watcher with no schemes, endpoint callbacks or resync.
 *
 * To prove the loader honours struct_size, the fields past it are not left
 * zero here: they hold values the core must never see (a scheme name and
 * callbacks that abort).  A loader that copied the whole struct would list
 * the scheme "small-struct-leak" or crash when it calls them.
 */
#include "config.h"

#include <stdlib.h>

#include <broker/plugin.h>

static const struct broker_host *host;

static int small_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	host->log(h, BROKER_LOG_INFO, "small_struct: init with struct_size %zu",
	          offsetof(struct broker_plugin, schemes));
	*state = NULL;
	return 0;
}

static int poison_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                         void **listener, char *err, size_t errlen)
{
	abort();
}

static int poison_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                          void **pending, char *err, size_t errlen)
{
	abort();
}

static int poison_resync(void *state)
{
	abort();
}

static const char *const poison_schemes[] = { "small-struct-leak", NULL };

static const struct broker_plugin small_plugin = {
	.struct_size = offsetof(struct broker_plugin, schemes),
	.abi_major = BROKER_ABI_MAJOR,
	.abi_minor = 0,
	.name = "small_struct",
	.version = "1.0",
	.description = "test plugin: struct from an older minor version",
	/* A watcher: the only kind whose required fields all lie before schemes. */
	.kinds = BROKER_KIND_WATCHER,
	.init = small_init,
	/* Past struct_size: invisible to a correct loader. */
	.schemes = poison_schemes,
	.listen = poison_listen,
	.connect = poison_connect,
	.resync = poison_resync,
};

BROKER_PLUGIN_DEFINE(small_plugin, host)
