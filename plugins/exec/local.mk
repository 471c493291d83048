# Endpoint plugin: run a command, its stdin/stdout are the stream (exec:COMMAND ARGS...).
plugin_LTLIBRARIES += %reldir%/exec.la
%canon_reldir%_exec_la_SOURCES = %reldir%/exec.c
%canon_reldir%_exec_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_exec_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_exec_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
