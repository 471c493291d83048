# Watcher plugin: published ports of Docker containers (Docker Engine API on its unix socket).
# plugins/common/curlev.c (libcurl on the loop), portmap.c and ctab.c are compiled in
# (no shared library between plugins).
plugin_LTLIBRARIES += %reldir%/docker.la
%canon_reldir%_docker_la_SOURCES = %reldir%/docker.c %reldir%/docker_parse.c %reldir%/docker.h \
	plugins/common/curlev.c plugins/common/curlev.h plugins/common/portmap.c plugins/common/portmap.h \
	plugins/common/ctab.c plugins/common/ctab.h
%canon_reldir%_docker_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(LIBCURL_CFLAGS)
# -z nodelete: libcurl (and the TLS library under it) must stay mapped once
# loaded; the core dlclose()s plugins when it stops them.
%canon_reldir%_docker_la_LDFLAGS = $(PLUGIN_LDFLAGS) -Wl,-z,nodelete
%canon_reldir%_docker_la_LIBADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(LIBCURL_LIBS)
EXTRA_DIST += %reldir%/README.md
