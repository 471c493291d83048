# Benchmark, not a test: `make bench` runs tests/bench/run (a brokerd local
# route vs a direct connection vs socat) and then tests/bench/link (two linked
# brokers vs direct vs two chained socats); `make bench-local` and
# `make bench-link` run one each.  bench is built by `make` so the scripts
# can run right away; `make check` never runs them.
noinst_PROGRAMS += %reldir%/bench
%canon_reldir%_bench_SOURCES = %reldir%/bench.c
%canon_reldir%_bench_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_bench_LDADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/run %reldir%/link %reldir%/bench_lib.sh

.PHONY: bench bench-local bench-link
# One after the other (never in parallel under make -j: they would skew
# each other); both run even when the first fails.
bench: all
	st=0; \
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/run || st=$$?; \
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/link || st=$$?; \
	exit $$st
bench-local: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/run
bench-link: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/link
