/* rpc/ctl_server.c: to be written */
