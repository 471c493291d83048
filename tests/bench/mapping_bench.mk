# Mapping benchmark, not a test: `make bench-mapping` (or
# top_builddir=BUILD sh tests/bench/mapping_bench) measures mapping
# propagation latency and the sync of 10000 mappings between two real
# brokers driven by the static_watch test plugin.  mapping_probe (from
# mapping_bench.c) does the timing; the script needs the check programs
# (xfer, static_watch.so) too.  Included from tests/local.mk:
#   include %reldir%/bench/mapping_bench.mk
noinst_PROGRAMS += %reldir%/mapping_probe
%canon_reldir%_mapping_probe_SOURCES = %reldir%/mapping_bench.c
EXTRA_DIST += %reldir%/mapping_bench

.PHONY: bench-mapping
bench-mapping: all $(check_PROGRAMS) $(check_LTLIBRARIES)
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/mapping_bench
