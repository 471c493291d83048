/* ctl_service.h - the control services (status, route, plugin, broker) as an RPC method table. */
#ifndef BROKER_CTL_SERVICE_H
#define BROKER_CTL_SERVICE_H

#include "rpc/rpc.h"

/* Dispatch table for ctl_server_start; ctx is the struct broker *. */
extern const struct rpc_method ctl_methods[];

#endif
