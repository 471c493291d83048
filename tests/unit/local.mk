# Unit tests: standalone TAP-style programs.  Each lists the few core
# sources it exercises instead of linking all of libbroker, so a test
# depends only on the modules it is about.
noinst_HEADERS += %reldir%/tap.h

UNIT_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE3_CFLAGS) \
	-DBROKER_PLUGINDIR='"$(plugindir)"' -DBROKER_SYSCONFDIR='"$(sysconfdir)"'

check_PROGRAMS += %reldir%/test_url
TESTS += %reldir%/test_url
%canon_reldir%_test_url_SOURCES = %reldir%/test_url.c broker/url.c broker/errfmt.c
%canon_reldir%_test_url_CFLAGS = $(UNIT_CFLAGS)

check_PROGRAMS += %reldir%/test_text_escape
TESTS += %reldir%/test_text_escape
%canon_reldir%_test_text_escape_SOURCES = %reldir%/test_text_escape.c broker/text_escape.c
%canon_reldir%_test_text_escape_CFLAGS = $(UNIT_CFLAGS)

# The OS services the portable tests use instead of setenv/mkdtemp/fork/chmod
# (test_platform.h), one implementation per OS.
if PLATFORM_WINDOWS
TEST_PLATFORM_SOURCES = %reldir%/test_platform.h %reldir%/test_platform_win32.c
else
TEST_PLATFORM_SOURCES = %reldir%/test_platform.h %reldir%/test_platform_posix.c
endif

# test_config, test_store and test_rpc run on both; what one OS cannot check
# (mode bits, another uid, socket files, XDG dirs) is skipped with the reason.
check_PROGRAMS += %reldir%/test_config
TESTS += %reldir%/test_config
%canon_reldir%_test_config_SOURCES = %reldir%/test_config.c broker/config.c broker/config_file.c broker/config_help.c broker/config_restart.c broker/config_limits.c broker/url.c broker/forwarder_api_map.c \
	broker/peer_policy.c $(RUNTIME_DIR_SOURCES) \
	broker/errfmt.c broker/log.c broker/display.c broker/text_escape.c $(BROKER_PLATFORM_SOURCES) $(TEST_PLATFORM_SOURCES)
%canon_reldir%_test_config_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_config_LDADD = $(JANSSON_LIBS) $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)

check_PROGRAMS += %reldir%/test_store
TESTS += %reldir%/test_store
%canon_reldir%_test_store_SOURCES = %reldir%/test_store.c broker/store.c broker/errfmt.c broker/log.c broker/display.c broker/text_escape.c \
	$(BROKER_PLATFORM_SOURCES) $(TEST_PLATFORM_SOURCES)
%canon_reldir%_test_store_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_store_LDADD = $(SQLITE3_LIBS) $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)

# RPC envelope/dispatch and the NNG control server and client, end to end
# (ipc:// is a Unix socket on POSIX, a named pipe on Windows).
check_PROGRAMS += %reldir%/test_rpc
TESTS += %reldir%/test_rpc
%canon_reldir%_test_rpc_SOURCES = %reldir%/test_rpc.c \
	rpc/rpc.c rpc/ctl_server.c $(IPC_PEER_SOURCES) rpc/ipc_listen.c rpc/ipc_watchdog.c rpc/ctl_client.c $(RUNTIME_DIR_SOURCES) \
	broker/log.c broker/display.c broker/text_escape.c broker/errfmt.c $(TEST_PLATFORM_SOURCES)
nodist_%canon_reldir%_test_rpc_SOURCES = $(PROTO_C) $(PROTO_H)
%canon_reldir%_test_rpc_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(LIBEVENT_THREADS_CFLAGS) $(JANSSON_CFLAGS)
# The test wakes its loop from NNG threads, so libevent needs its threads glue.
%canon_reldir%_test_rpc_LDADD = $(PROTOBUF_C_LIBS) $(NNG_LIBS) $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS) \
	$(JANSSON_LIBS)

# http.c against stand-in routes/plugins/ctl counters defined in the test.
check_PROGRAMS += %reldir%/test_http
TESTS += %reldir%/test_http
%canon_reldir%_test_http_SOURCES = %reldir%/test_http.c broker/http.c broker/http_conns.c broker/url.c broker/errfmt.c \
	broker/log.c broker/display.c broker/text_escape.c
%canon_reldir%_test_http_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS)
%canon_reldir%_test_http_LDADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS)

# The link's scheduler at the wire level: a real struct link over a
# socketpair with the test as the peer (round robin, credit, control frames
# and short messages first, RST, FIN order, reads per wakeup).  The link
# pulls in endpoints, plugins and the relay, so it links libbroker whole.
if !PLATFORM_WINDOWS
check_PROGRAMS += %reldir%/test_link_sched
TESTS += %reldir%/test_link_sched
%canon_reldir%_test_link_sched_SOURCES = %reldir%/test_link_sched.c
%canon_reldir%_test_link_sched_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS) $(SODIUM_CFLAGS)
%canon_reldir%_test_link_sched_LDADD = broker/libbroker.la $(PROTOBUF_C_LIBS)
endif
