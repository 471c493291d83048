# Unit test for the shared plugin blocks of plugins/common/ (compiled in,
# driven through the fake host of fake_host.c with no plugin around them).
check_PROGRAMS += %reldir%/test_plugin_common
TESTS += %reldir%/test_plugin_common
%canon_reldir%_test_plugin_common_SOURCES = %reldir%/test_plugin_common.c %reldir%/fake_host.c \
	plugins/common/sock_listen.c plugins/common/spawn_capture.c plugins/common/seen_twice.c \
	plugins/common/ctab.c plugins/common/portmap.c
%canon_reldir%_test_plugin_common_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_plugin_common_LDADD = $(LIBEVENT_LIBS)
