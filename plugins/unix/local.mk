# Endpoint plugin: Unix domain sockets (unix:///path?mode=0660&group=NAME).
plugin_LTLIBRARIES += %reldir%/unix.la
%canon_reldir%_unix_la_SOURCES = %reldir%/unix.c plugins/common/sock_listen.c plugins/common/sock_listen.h
%canon_reldir%_unix_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_unix_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_unix_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
