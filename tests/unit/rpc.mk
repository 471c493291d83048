# test_rpc is portable: tests/unit/local.mk.

# The event feed (NNG PUB) against a real SUB socket.
check_PROGRAMS += %reldir%/test_event_pub
TESTS += %reldir%/test_event_pub
%canon_reldir%_test_event_pub_SOURCES = %reldir%/test_event_pub.c \
	rpc/event_pub.c $(IPC_PEER_SOURCES) rpc/ipc_listen.c rpc/ipc_watchdog.c $(RUNTIME_DIR_SOURCES) broker/log.c broker/display.c broker/text_escape.c broker/errfmt.c
nodist_%canon_reldir%_test_event_pub_SOURCES = $(PROTO_C) $(PROTO_H)
%canon_reldir%_test_event_pub_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_event_pub_LDADD = $(PROTOBUF_C_LIBS) $(NNG_LIBS) $(LIBEVENT_LIBS)

# What people see: timestamps and short ids (broker/display.c, in librpc).
check_PROGRAMS += %reldir%/test_display
TESTS += %reldir%/test_display
%canon_reldir%_test_display_SOURCES = %reldir%/test_display.c broker/display.c
