# Unit test for the tcp and unix endpoint plugins: loads the built plugins
# with dlopen (from $top_builddir/plugins/*/.libs, exported by
# AM_TESTS_ENVIRONMENT) and drives them through the fake host table of
# fake_host.c, which the plugin unit tests (endpoints, exec, docker,
# kubernetes, procnet, iptables) all link.
noinst_HEADERS += %reldir%/fake_host.h
check_PROGRAMS += %reldir%/test_endpoints
TESTS += %reldir%/test_endpoints
# test_platform_posix.c: the privileged-port refusal is checked as user
# 'nobody' when the test runs as root (tp_run_as).
%canon_reldir%_test_endpoints_SOURCES = %reldir%/test_endpoints.c %reldir%/fake_host.c $(TEST_PLATFORM_SOURCES)
%canon_reldir%_test_endpoints_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_endpoints_LDADD = $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)
