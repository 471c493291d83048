# Unit test for the shared plugin blocks of plugins/common/ (compiled in,
# driven through the fake host of fake_host.c with no plugin around them).
check_PROGRAMS += %reldir%/test_plugin_common
TESTS += %reldir%/test_plugin_common
%canon_reldir%_test_plugin_common_SOURCES = %reldir%/test_plugin_common.c %reldir%/fake_host.c \
	plugins/common/sock_listen.c plugins/common/spawn_capture.c plugins/common/seen_twice.c \
	plugins/common/ctab.c plugins/common/portmap.c
%canon_reldir%_test_plugin_common_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_plugin_common_LDADD = $(LIBEVENT_LIBS)
# plugins/common/curlev.c (libcurl on the loop) against an HTTP server in the
# test program on a unix socket.
check_PROGRAMS += %reldir%/test_curlev
TESTS += %reldir%/test_curlev
%canon_reldir%_test_curlev_SOURCES = %reldir%/test_curlev.c %reldir%/fake_host.c plugins/common/curlev.c
%canon_reldir%_test_curlev_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBCURL_CFLAGS)
%canon_reldir%_test_curlev_LDADD = $(LIBEVENT_LIBS) $(LIBCURL_LIBS)
