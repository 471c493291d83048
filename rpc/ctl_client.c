/* rpc/ctl_client.c: to be written */
