# Watcher plugin: containerd containers' nerdctl/ports while their task runs,
# from containerd's gRPC API (HTTP/2 via libnghttp2, protobuf-c messages
# generated from this folder's .proto files).  Linux only; needs libnghttp2
# (configure requires it on Linux).
# plugins/common/portmap.c and ctab.c (the container table and its reports, shared with docker) are compiled in.
CTRD_PROTO = %reldir%/wkt.proto %reldir%/events_service.proto %reldir%/events.proto \
	%reldir%/containers.proto %reldir%/task_types.proto %reldir%/tasks.proto %reldir%/namespaces.proto
CTRD_PROTO_C = $(CTRD_PROTO:.proto=.pb-c.c)
CTRD_PROTO_H = $(CTRD_PROTO:.proto=.pb-c.h)
EXTRA_DIST += $(CTRD_PROTO) %reldir%/README.md

%reldir%/%.pb-c.c %reldir%/%.pb-c.h: $(srcdir)/%reldir%/%.proto
	$(AM_V_GEN)$(MKDIR_P) $(builddir)/%reldir% && \
	$(PROTOC_C) --proto_path=$(srcdir) --c_out=$(builddir) $(srcdir)/%reldir%/$*.proto

if !PLATFORM_WINDOWS
BUILT_SOURCES += $(CTRD_PROTO_C) $(CTRD_PROTO_H)
CLEANFILES += $(CTRD_PROTO_C) $(CTRD_PROTO_H)
plugin_LTLIBRARIES += %reldir%/containerd.la
%canon_reldir%_containerd_la_SOURCES = %reldir%/containerd.c %reldir%/containerd.h %reldir%/ctrd_requests.c \
	%reldir%/ctrd_resync.c %reldir%/ctrd_parse.c %reldir%/ctrd.h \
	%reldir%/grpc.c %reldir%/grpc.h plugins/common/portmap.c plugins/common/portmap.h \
	plugins/common/ctab.c plugins/common/ctab.h
nodist_%canon_reldir%_containerd_la_SOURCES = $(CTRD_PROTO_C) $(CTRD_PROTO_H)
%canon_reldir%_containerd_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(NGHTTP2_CFLAGS)
%canon_reldir%_containerd_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_containerd_la_LIBADD = $(NGHTTP2_LIBS) $(PROTOBUF_C_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS)
endif
