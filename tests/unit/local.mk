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

# test_config and test_store exercise POSIX defaults, modes and fork (Linux only for now).
if !PLATFORM_WINDOWS
check_PROGRAMS += %reldir%/test_config
TESTS += %reldir%/test_config
%canon_reldir%_test_config_SOURCES = %reldir%/test_config.c broker/config.c broker/url.c $(RUNTIME_DIR_SOURCES) \
	broker/errfmt.c broker/log.c
%canon_reldir%_test_config_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_config_LDADD = $(JANSSON_LIBS) $(LIBEVENT_LIBS)

check_PROGRAMS += %reldir%/test_store
TESTS += %reldir%/test_store
%canon_reldir%_test_store_SOURCES = %reldir%/test_store.c broker/store.c broker/errfmt.c broker/log.c \
	$(BROKER_PLATFORM_SOURCES)
%canon_reldir%_test_store_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_store_LDADD = $(SQLITE3_LIBS) $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)
endif

# http.c against stand-in routes/plugins/ctl counters defined in the test.
check_PROGRAMS += %reldir%/test_http
TESTS += %reldir%/test_http
%canon_reldir%_test_http_SOURCES = %reldir%/test_http.c broker/http.c broker/url.c broker/errfmt.c \
	broker/log.c
%canon_reldir%_test_http_CFLAGS = $(UNIT_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS)
%canon_reldir%_test_http_LDADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS)
