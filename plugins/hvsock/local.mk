# Endpoint plugin: Hyper-V sockets (hvsock://VMID:PORT).  Windows only.
if PLATFORM_WINDOWS
plugin_LTLIBRARIES += %reldir%/hvsock.la
%canon_reldir%_hvsock_la_SOURCES = %reldir%/hvsock.c plugins/common/sock_connect.c plugins/common/sock_connect.h \
	plugins/common/sock_listen.c plugins/common/sock_listen.h
%canon_reldir%_hvsock_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_hvsock_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_hvsock_la_LIBADD = $(PLUGIN_PLATFORM_LIBADD) $(LIBEVENT_LIBS) -lws2_32
endif
EXTRA_DIST += %reldir%/README.md %reldir%/hvsock.c
