# Endpoint plugin: run a command, its stdin/stdout are the stream (exec:COMMAND ARGS...).
# Windows: CreateProcess, a job object, the child's pipes bridged to a socket.
plugin_LTLIBRARIES += %reldir%/exec.la
if PLATFORM_WINDOWS
%canon_reldir%_exec_la_SOURCES = %reldir%/exec_win32.c %reldir%/exec_args.c %reldir%/exec_args.h \
	plugins/common/win32_bridge.c plugins/common/win32_bridge.h
else
%canon_reldir%_exec_la_SOURCES = %reldir%/exec.c %reldir%/exec_args.c %reldir%/exec_args.h
endif
%canon_reldir%_exec_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_exec_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_exec_la_LIBADD = $(PLUGIN_PLATFORM_LIBADD) $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
