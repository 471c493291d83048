# Mapping integration tests: a guest brokerd reporting ports with the
# static_watch test plugin (tests/plugins/static_watch.c), linked over unix
# to a host brokerd that serves them; helpers in mapping_lib.sh.  They need
# tests/tools/udpecho (tests/tools/udpecho.mk).  Included from tests/local.mk:
#   include %reldir%/integration/mapping.mk
%canon_reldir%_mapping_scripts = \
	%reldir%/mapping_core.sh \
	%reldir%/mapping_restart.sh \
	%reldir%/watch_events.sh \
	%reldir%/mapping_manual.sh \
	%reldir%/mapping_yield.sh \
	%reldir%/mapping_bounds.sh
TESTS += $(%canon_reldir%_mapping_scripts)
EXTRA_DIST += %reldir%/mapping_lib.sh $(%canon_reldir%_mapping_scripts)
