# brokerctl integration tests: mapping list|add|rm and watch (the event feed)
# against a real brokerd.  Included from tests/local.mk:
#   include %reldir%/integration/ctl.mk
%canon_reldir%_ctl_scripts = \
	%reldir%/ctl_mapping.sh \
	%reldir%/ctl_watch.sh
TESTS += $(%canon_reldir%_ctl_scripts)
EXTRA_DIST += $(%canon_reldir%_ctl_scripts)
