# Benchmark, not a test: `make bench` runs tests/bench/run (a brokerd local
# route vs a direct connection vs socat), tests/bench/link (two linked
# brokers vs direct vs two chained socats), tests/bench/link-load (the
# link with many streams and ping-pong beside bulk, vs two splice(2) relay
# hops and two socats) and tests/bench/speed (the local route and the link
# against direct, splice(2) relays of 1 and 2 hops and socat, with issue
# 12's targets); `make bench-local`, `make bench-link`, `make
# bench-link-load` and `make bench-speed` run one each.  bench is built by `make` so the scripts
# can run right away; `make check` never runs them.
noinst_PROGRAMS += %reldir%/bench
%canon_reldir%_bench_SOURCES = %reldir%/bench.c
%canon_reldir%_bench_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_bench_LDADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/run %reldir%/link %reldir%/link-load %reldir%/speed %reldir%/bench_lib.sh

.PHONY: bench bench-local bench-link bench-link-load bench-speed
# One after the other (never in parallel under make -j: they would skew
# each other); each runs even when one before it fails.
bench: all
	st=0; \
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/run || st=$$?; \
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/link || st=$$?; \
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/link-load || st=$$?; \
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/speed || st=$$?; \
	exit $$st
bench-local: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/run
bench-link: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/link
bench-link-load: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/link-load
bench-speed: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/speed

# The reference relay for tests/bench/link-load (and the speed work after
# it): two hops of splice(2) through pipes, nothing copied to user space.
noinst_PROGRAMS += %reldir%/splicerelay
%canon_reldir%_splicerelay_SOURCES = %reldir%/splicerelay.c
