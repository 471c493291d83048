# The daemon: core convenience library (linked by brokerd and the tests) + main.
pkginclude_HEADERS += %reldir%/plugin.h

noinst_LTLIBRARIES += %reldir%/libbroker.la
# The OS layer (platform.h, platform_pidwatch.h): one implementation per OS.
# Windows also compiles in the handle<->socket bridge (stdio carrier).
if PLATFORM_WINDOWS
BROKER_PLATFORM_SOURCES = %reldir%/platform_win32.c %reldir%/platform_splice_none.c \
	plugins/common/win32_bridge.c plugins/common/win32_bridge.h
BROKER_PIDWATCH_SOURCES = %reldir%/platform_pidwatch_win32.c
else
if PLATFORM_LINUX
BROKER_PLATFORM_SOURCES = %reldir%/platform_posix.c %reldir%/platform_splice_linux.c
else
BROKER_PLATFORM_SOURCES = %reldir%/platform_posix.c %reldir%/platform_splice_none.c
endif
BROKER_PIDWATCH_SOURCES = %reldir%/platform_pidwatch.c
endif
# The service manager (platform_notify.h): systemd's sd_notify, or nothing.
if HAVE_LIBSYSTEMD
BROKER_NOTIFY_SOURCES = %reldir%/platform_notify_systemd.c
else
BROKER_NOTIFY_SOURCES = %reldir%/platform_notify_none.c
endif
%canon_reldir%_libbroker_la_SOURCES = \
	%reldir%/broker.c %reldir%/broker.h \
	%reldir%/config.c %reldir%/config.h %reldir%/config_internal.h \
	%reldir%/config_file.c %reldir%/config_help.c %reldir%/config_restart.c %reldir%/config_limits.c %reldir%/config_limits.h \
	%reldir%/counters.h \
	%reldir%/ctl_service.c %reldir%/ctl_service.h %reldir%/ctl_internal.h %reldir%/ctl_mapping.c \
	%reldir%/endpoint.c %reldir%/endpoint.h \
	%reldir%/errfmt.h \
	%reldir%/events.c %reldir%/events.h \
	%reldir%/host.c %reldir%/host.h \
	%reldir%/http.c %reldir%/http.h %reldir%/http_conns.c %reldir%/http_conns.h \
	%reldir%/forwarder_api.c %reldir%/forwarder_api.h %reldir%/forwarder_api_map.c \
	%reldir%/link.c %reldir%/link.h %reldir%/link_internal.h \
	%reldir%/link_auth.c %reldir%/link_auth.h \
	%reldir%/link_crypto.c %reldir%/link_crypto.h \
	%reldir%/link_frame.c %reldir%/link_frame.h \
	%reldir%/link_stream.c \
	%reldir%/log.c %reldir%/log.h \
	%reldir%/mapping.c %reldir%/mapping.h %reldir%/mapping_internal.h \
	%reldir%/mapping_import.c %reldir%/mapping_index.c %reldir%/mapping_serve.c %reldir%/mapping_sync.c \
	%reldir%/mapping_targets.c \
	%reldir%/peer.c %reldir%/peer.h %reldir%/peer_report.c %reldir%/peer_check.c \
	%reldir%/peer_auth.c %reldir%/peer_auth.h \
	%reldir%/peer_policy.c %reldir%/peer_policy.h \
	%reldir%/platform.h %reldir%/platform_net.h %reldir%/platform_splice.h $(BROKER_PLATFORM_SOURCES) \
	$(BROKER_PIDWATCH_SOURCES) %reldir%/platform_pidwatch.h %reldir%/printf_attr.h \
	%reldir%/plugins.c %reldir%/plugins.h %reldir%/plugins_internal.h %reldir%/plugins_options.c \
	%reldir%/relay.c %reldir%/relay.h %reldir%/relay_fd.c %reldir%/relay_pipes.c \
	%reldir%/route.c %reldir%/route.h \
	%reldir%/service.c %reldir%/service.h %reldir%/platform_notify.h $(BROKER_NOTIFY_SOURCES) \
	%reldir%/store.c %reldir%/store.h \
	%reldir%/udp_forward.c %reldir%/udp_forward.h \
	%reldir%/url.c %reldir%/url.h
%canon_reldir%_libbroker_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(PROTOBUF_C_CFLAGS) \
	$(SQLITE3_CFLAGS) $(JANSSON_CFLAGS) $(NNG_CFLAGS) $(SODIUM_CFLAGS) $(LIBSYSTEMD_CFLAGS) \
	-DBROKER_PLUGINDIR='"$(plugindir)"' -DBROKER_SYSCONFDIR='"$(sysconfdir)"'
%canon_reldir%_libbroker_la_LIBADD = rpc/librpc.la $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS) $(SQLITE3_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) $(LIBSYSTEMD_LIBS)

sbin_PROGRAMS += %reldir%/brokerd
%canon_reldir%_brokerd_SOURCES = %reldir%/main.c
%canon_reldir%_brokerd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_brokerd_LDADD = %reldir%/libbroker.la
# brokerd exports nothing to plugins (they get the host table), so no -export-dynamic.
