# Watcher plugin: Rancher Desktop's port-mapping socket (wsl-proxy's PortMapping objects). Linux only.
# plugins/common/portmap.c is compiled in (no shared library between plugins).
plugin_LTLIBRARIES += %reldir%/wslproxy.la
%canon_reldir%_wslproxy_la_SOURCES = %reldir%/wslproxy.c %reldir%/wp_parse.c %reldir%/wslproxy.h \
	plugins/common/portmap.c plugins/common/portmap.h
%canon_reldir%_wslproxy_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_wslproxy_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_wslproxy_la_LIBADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS)
EXTRA_DIST += %reldir%/README.md
