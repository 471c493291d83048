/* ctl_service.h - the control services (status, route, plugin, broker) as an RPC method table. */
#ifndef BROKER_CTL_SERVICE_H
#define BROKER_CTL_SERVICE_H

#include "rpc/rpc.h"

/* Dispatch table for ctl_server_start; ctx is the struct broker *. */
extern const struct rpc_method ctl_methods[];
/* Methods that may answer later (route add waits for the peer): ctl_server_set_deferrables. */
extern const struct rpc_deferrable_method ctl_deferrable_methods[];

#endif
