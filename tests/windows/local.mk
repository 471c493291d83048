# Windows test programs (cross-built) and scripts run under wine by
# scripts/test-windows: each tests/windows/*.sh exits 0 pass, 1 fail, 77 skip.
if PLATFORM_WINDOWS
noinst_PROGRAMS += %reldir%/pipeclient %reldir%/plugin_probe %reldir%/pipe_semantics
%canon_reldir%_pipeclient_SOURCES = %reldir%/pipeclient.c
%canon_reldir%_pipeclient_LDADD = -ladvapi32
%canon_reldir%_pipe_semantics_SOURCES = %reldir%/pipe_semantics.c
%canon_reldir%_plugin_probe_SOURCES = %reldir%/plugin_probe.c
%canon_reldir%_plugin_probe_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_plugin_probe_LDADD = $(LIBEVENT_LIBS) -lws2_32
endif
EXTRA_DIST += %reldir%/autostart.sh %reldir%/e2e.sh %reldir%/hvsock.sh %reldir%/link_tcp.sh %reldir%/npipe_burst.sh %reldir%/npipe_names.sh %reldir%/setup_docker.sh %reldir%/zip.sh %reldir%/wine_lib.sh %reldir%/tap_lib.sh \
	%reldir%/pipeclient.c %reldir%/pipe_semantics.c %reldir%/plugin_probe.c
