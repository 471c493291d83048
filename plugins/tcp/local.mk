# Endpoint plugin: TCP over IPv4 and IPv6 (tcp://HOST:PORT).
plugin_LTLIBRARIES += %reldir%/tcp.la
%canon_reldir%_tcp_la_SOURCES = %reldir%/tcp.c %reldir%/netns.c %reldir%/netns.h \
	plugins/common/sock_listen.c plugins/common/sock_listen.h
%canon_reldir%_tcp_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_tcp_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_tcp_la_LIBADD = $(PLUGIN_PLATFORM_LIBADD) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
