# Watcher plugin: published ports of Docker containers (Docker Engine API on its unix socket).
# plugins/common/httpc.c, portmap.c and ctab.c are compiled in (no shared library between plugins).
plugin_LTLIBRARIES += %reldir%/docker.la
%canon_reldir%_docker_la_SOURCES = %reldir%/docker.c %reldir%/docker_parse.c %reldir%/docker.h \
	plugins/common/httpc.c plugins/common/httpc.h plugins/common/portmap.c plugins/common/portmap.h \
	plugins/common/ctab.c plugins/common/ctab.h
%canon_reldir%_docker_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_docker_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_docker_la_LIBADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS)
EXTRA_DIST += %reldir%/README.md
