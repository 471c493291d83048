# Benchmark, not a test: `make bench` (or tests/bench/run) compares a brokerd
# route with a direct connection and with socat.  bench is built by `make`
# so the script can run right away; `make check` never runs it.
noinst_PROGRAMS += %reldir%/bench
%canon_reldir%_bench_SOURCES = %reldir%/bench.c
%canon_reldir%_bench_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_bench_LDADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/run

.PHONY: bench
bench: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/run
