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

check_PROGRAMS += %reldir%/test_config
TESTS += %reldir%/test_config
%canon_reldir%_test_config_SOURCES = %reldir%/test_config.c broker/config.c broker/url.c \
	broker/errfmt.c broker/log.c
%canon_reldir%_test_config_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_config_LDADD = $(JANSSON_LIBS) $(LIBEVENT_LIBS)

check_PROGRAMS += %reldir%/test_store
TESTS += %reldir%/test_store
%canon_reldir%_test_store_SOURCES = %reldir%/test_store.c broker/store.c broker/errfmt.c broker/log.c
%canon_reldir%_test_store_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_store_LDADD = $(SQLITE3_LIBS) $(LIBEVENT_LIBS)
