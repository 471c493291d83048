/* rpc/rpc.c: to be written */
