# Unit test for the exec and vsock endpoint plugins (loaded with dlopen from
# $top_builddir/plugins/*/.libs, driven through a fake host table) and for
# broker/platform_pidwatch.c (compiled in, like the other unit tests do).
check_PROGRAMS += %reldir%/test_exec
TESTS += %reldir%/test_exec
%canon_reldir%_test_exec_SOURCES = %reldir%/test_exec.c %reldir%/fake_host.c broker/platform_pidwatch.c broker/errfmt.c
%canon_reldir%_test_exec_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_exec_LDADD = $(LIBEVENT_LIBS)
