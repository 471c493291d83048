# linkpeer: a hand-rolled link peer (garbage, huge frames, bad HELLO versions,
# DATA for unknown streams; floods, big syncs and oversized pre-auth frames
# in linkpeer_bounds.c) plus the sequential and never-reading stream clients
# the link integration tests use.  No dependencies beyond libc.
# Included from tests/local.mk:  include %reldir%/tools/linkpeer.mk
check_PROGRAMS += %reldir%/linkpeer
%canon_reldir%_linkpeer_SOURCES = %reldir%/linkpeer.c %reldir%/linkpeer.h %reldir%/linkpeer_bounds.c
EXTRA_DIST += %reldir%/linkpeer.c %reldir%/linkpeer.h %reldir%/linkpeer_bounds.c
