# Unit test for the containerd watcher's decoding: plugins/containerd/ctrd_parse.c
# and the protobuf-c code generated from plugins/containerd/*.proto are
# compiled in; nerdctl/ports fixtures in tests/unit/containerd/.  It also
# dlopens the built plugin ($top_builddir/plugins/containerd/.libs) through
# the fake host of fake_host.c.
if !PLATFORM_WINDOWS
check_PROGRAMS += %reldir%/test_containerd
TESTS += %reldir%/test_containerd
%canon_reldir%_test_containerd_SOURCES = %reldir%/test_containerd.c %reldir%/fake_host.c plugins/containerd/ctrd_parse.c
nodist_%canon_reldir%_test_containerd_SOURCES = $(CTRD_PROTO_C) $(CTRD_PROTO_H)
%canon_reldir%_test_containerd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(PROTOBUF_C_CFLAGS)
%canon_reldir%_test_containerd_LDADD = $(PROTOBUF_C_LIBS) $(JANSSON_LIBS) $(LIBEVENT_LIBS)
endif
EXTRA_DIST += %reldir%/containerd/ports_ok.json %reldir%/containerd/ports_hostile.json \
	%reldir%/containerd/ports_truncated.json %reldir%/containerd/ports_object.json \
	%reldir%/containerd/ports_string.json
