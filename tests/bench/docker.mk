# Benchmark, not a test: tests/bench/docker_propagation times how long a
# port published with `docker run -p` in a guest (private dockerd in a
# network namespace, guest brokerd with --watch docker) takes to open on the
# host broker, and to close after `docker rm -f`.  Needs root and docker.io;
# exits 77 otherwise.  `make bench-docker` runs it; neither `make bench` nor
# `make check` does.  portwait (the sub-millisecond port poller it uses) is
# built by `make`.
# Included from tests/local.mk:  include %reldir%/bench/docker.mk
noinst_PROGRAMS += %reldir%/portwait
%canon_reldir%_portwait_SOURCES = %reldir%/portwait.c
EXTRA_DIST += %reldir%/docker_propagation

.PHONY: bench-docker
bench-docker: all
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/%reldir%/docker_propagation
