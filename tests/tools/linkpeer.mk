# linkpeer: a hand-rolled link peer (garbage, huge frames, bad HELLO versions,
# DATA for unknown streams) plus the sequential and never-reading stream
# clients the link integration tests use.  No dependencies beyond libc.
# Included from tests/local.mk:  include %reldir%/tools/linkpeer.mk
check_PROGRAMS += %reldir%/linkpeer
%canon_reldir%_linkpeer_SOURCES = %reldir%/linkpeer.c
EXTRA_DIST += %reldir%/linkpeer.c
