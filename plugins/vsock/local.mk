# Endpoint plugin: AF_VSOCK sockets between a VM and its host (vsock://CID:PORT).
plugin_LTLIBRARIES += %reldir%/vsock.la
%canon_reldir%_vsock_la_SOURCES = %reldir%/vsock.c plugins/common/sock_connect.c plugins/common/sock_connect.h \
	plugins/common/sock_listen.c plugins/common/sock_listen.h
%canon_reldir%_vsock_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_vsock_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_vsock_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
