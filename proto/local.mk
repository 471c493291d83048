# Generated protobuf-c code, built before anything that includes it.
PROTO_FILES = %reldir%/rpc.proto %reldir%/control.proto %reldir%/link.proto
PROTO_C = $(PROTO_FILES:.proto=.pb-c.c)
PROTO_H = $(PROTO_FILES:.proto=.pb-c.h)
BUILT_SOURCES += $(PROTO_C) $(PROTO_H)
CLEANFILES += $(PROTO_C) $(PROTO_H)
EXTRA_DIST += $(PROTO_FILES)

%reldir%/%.pb-c.c %reldir%/%.pb-c.h: $(srcdir)/%reldir%/%.proto
	$(AM_V_GEN)$(MKDIR_P) $(builddir)/%reldir% && \
	$(PROTOC_C) --proto_path=$(srcdir) --c_out=$(builddir) $(srcdir)/%reldir%/$*.proto
