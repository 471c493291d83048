# Watcher plugin: listening TCP and unconnected UDP sockets (netlink sock_diag, /proc/net). Linux only.
plugin_LTLIBRARIES += %reldir%/procnet.la
%canon_reldir%_procnet_la_SOURCES = %reldir%/procnet.c %reldir%/procnet.h %reldir%/pn_netlink.c %reldir%/pn_proc.c \
	plugins/common/seen_twice.c plugins/common/seen_twice.h
%canon_reldir%_procnet_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_procnet_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_procnet_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
