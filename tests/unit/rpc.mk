# RPC envelope/dispatch and the NNG control server and client, end to end.
check_PROGRAMS += %reldir%/test_rpc
TESTS += %reldir%/test_rpc
%canon_reldir%_test_rpc_SOURCES = %reldir%/test_rpc.c \
	rpc/rpc.c rpc/ctl_server.c $(IPC_PEER_SOURCES) rpc/ctl_client.c $(RUNTIME_DIR_SOURCES) \
	broker/log.c broker/errfmt.c
nodist_%canon_reldir%_test_rpc_SOURCES = $(PROTO_C) $(PROTO_H)
%canon_reldir%_test_rpc_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(LIBEVENT_THREADS_CFLAGS) $(JANSSON_CFLAGS)
# The test wakes its loop from NNG threads, so libevent needs its pthreads glue.
%canon_reldir%_test_rpc_LDADD = $(PROTOBUF_C_LIBS) $(NNG_LIBS) $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS) \
	$(JANSSON_LIBS)

# The event feed (NNG PUB) against a real SUB socket.
check_PROGRAMS += %reldir%/test_event_pub
TESTS += %reldir%/test_event_pub
%canon_reldir%_test_event_pub_SOURCES = %reldir%/test_event_pub.c \
	rpc/event_pub.c $(IPC_PEER_SOURCES) $(RUNTIME_DIR_SOURCES) broker/log.c broker/errfmt.c
nodist_%canon_reldir%_test_event_pub_SOURCES = $(PROTO_C) $(PROTO_H)
%canon_reldir%_test_event_pub_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_event_pub_LDADD = $(PROTOBUF_C_LIBS) $(NNG_LIBS) $(LIBEVENT_LIBS)
