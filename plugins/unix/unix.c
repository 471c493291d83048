/* stub: to be written */
#include "broker/plugin.h"
static const struct broker_host *host;
static const struct broker_plugin desc = { BROKER_PLUGIN_HEADER, .name = "unix" };
BROKER_PLUGIN_DEFINE(desc, host)
