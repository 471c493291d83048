# Endpoint plugin: Windows named pipes (npipe:////./pipe/NAME).  Windows only.
if PLATFORM_WINDOWS
plugin_LTLIBRARIES += %reldir%/npipe.la
%canon_reldir%_npipe_la_SOURCES = %reldir%/npipe.c %reldir%/npipe_listen.c %reldir%/npipe.h \
	plugins/common/win32_bridge.c plugins/common/win32_bridge.h
%canon_reldir%_npipe_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_npipe_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_npipe_la_LIBADD = $(PLUGIN_PLATFORM_LIBADD) $(LIBEVENT_LIBS) -lws2_32 -ladvapi32
endif
EXTRA_DIST += %reldir%/README.md %reldir%/npipe.c %reldir%/npipe_listen.c %reldir%/npipe.h
