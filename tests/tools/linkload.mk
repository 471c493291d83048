# linkload: many concurrent streams through a route with both ends in one
# process, every byte checked (the link concurrency, soak and latency tests)
# and the same as a load generator for tests/bench/link-load.  Built by
# `make` (not only `make check`) so the benchmark can run right away.
# Included from tests/local.mk:  include %reldir%/tools/linkload.mk
noinst_PROGRAMS += %reldir%/linkload
%canon_reldir%_linkload_SOURCES = %reldir%/linkload.c %reldir%/linkload_cmd.h %reldir%/linkload.h \
	%reldir%/linkload_flows.c %reldir%/linkload_ping.c %reldir%/linkload_soak.c %reldir%/linkload_util.c
%canon_reldir%_linkload_CFLAGS = $(AM_CFLAGS) -pthread
%canon_reldir%_linkload_LDADD = -lpthread -lm
