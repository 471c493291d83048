# RPC envelope, dispatch and the NNG control binding.
noinst_LTLIBRARIES += %reldir%/librpc.la
# Where the control socket and the event feed live and who may connect:
# Unix sockets (runtime_dir.c, ipc_peer.c) or named pipes (*_win32.c).
# (The unit tests list these variables too.)
if PLATFORM_WINDOWS
RUNTIME_DIR_SOURCES = %reldir%/runtime_dir_win32.c
IPC_PEER_SOURCES = %reldir%/ipc_peer_win32.c
else
RUNTIME_DIR_SOURCES = %reldir%/runtime_dir.c
IPC_PEER_SOURCES = %reldir%/ipc_peer.c
endif
# errfmt.c and display.c are here too because brokerctl links only librpc; see the note in
# the report: broker/local.mk should then drop it from libbroker.
%canon_reldir%_librpc_la_SOURCES = \
	%reldir%/rpc.c %reldir%/rpc.h \
	%reldir%/ctl_server.c %reldir%/ctl_server.h \
	%reldir%/ctl_client.c %reldir%/ctl_client.h \
	%reldir%/ipc_peer.h %reldir%/ipc_listen.c %reldir%/ipc_watchdog.c %reldir%/ipc_watchdog.h \
	%reldir%/event_pub.c %reldir%/event_pub.h \
	%reldir%/runtime_dir.h \
	$(RUNTIME_DIR_SOURCES) $(IPC_PEER_SOURCES) \
	broker/errfmt.c broker/errfmt.h \
	broker/display.c broker/display.h \
	broker/text_escape.c broker/text_escape.h
nodist_%canon_reldir%_librpc_la_SOURCES = $(PROTO_C) $(PROTO_H)
%canon_reldir%_librpc_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_librpc_la_LIBADD = $(PROTOBUF_C_LIBS) $(NNG_LIBS) $(LIBEVENT_LIBS)
