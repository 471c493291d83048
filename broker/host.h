/* host.h - the struct broker_host services table handed to every plugin. */
#ifndef BROKER_HOST_H
#define BROKER_HOST_H

#include "broker/plugin.h"

extern const struct broker_host broker_host_table;

#endif
